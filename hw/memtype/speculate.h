/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The speculative read model: which reads the PE may issue on its own
 * around a read the program made, so that a device register with read
 * side effects in a Normal mapping shows its hazard.
 *
 * The Arm ARM permits speculative data reads of Normal memory at any time
 * and forbids them for every Device type (B2.10.1, B2.10.2).  The model
 * makes one seeded choice per program read of a Normal type: nothing, the
 * rest of the read's line (the bytes of the line the read did not ask
 * for), the next line, or both.  It never leaves the read's 4 KiB page
 * (the translation, and so the memory type, is known only for that page)
 * nor the region.  The choice is a function of its seed and the read's
 * address alone: the same seed and the same reads always give the same
 * speculative reads, whatever the port saw before.  No allocation.
 */
#ifndef BARLAB_SPECULATE_H
#define BARLAB_SPECULATE_H

#include <stdbool.h>
#include <stdint.h>

#include "txn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_SPEC_PAGE_SIZE 4096
#define MT_SPEC_MAX_READS 3     /* before and after the read, next line */

typedef struct {
    uint64_t seed;
    unsigned line_size;
    uint64_t region_size;
    bool unsafe;            /* set after init: read every type
                               speculatively (to test the checker) */
    uint64_t issued;        /* speculative reads issued */
} MtSpeculate;

/* One speculative read: bytes [addr, addr + size) of the region. */
typedef struct {
    uint64_t addr;
    uint32_t size;
} MtSpecRead;

/*
 * @line_size a power of two from 8 to MT_SPEC_PAGE_SIZE; @region_size the
 * bytes of the region.  Returns 0, or -1 for bad arguments.
 */
int mt_spec_init(MtSpeculate *s, uint64_t seed, unsigned line_size,
                 uint64_t region_size);

/*
 * The speculative reads the PE issues with the program read @a (none for
 * a write, an untyped access or a type that forbids speculation), in
 * address order, into @out; returns how many.
 */
unsigned mt_spec_reads(MtSpeculate *s, const MtAccess *a,
                       MtSpecRead out[MT_SPEC_MAX_READS]);

/*
 * The transaction that carries the speculative read @r beside the program
 * read @a, into @t: @a's type, sequence and epoch, @r's bytes, marked
 * MT_TXN_SPECULATIVE.
 */
void mt_spec_txn(const MtAccess *a, const MtSpecRead *r, MtTxn *t);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_SPECULATE_H */
