/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The write-gathering buffer: a model of the write-combining buffer
 * between a PE and a peripheral.
 *
 * Writes of a Gathering type (Normal, Device-GRE) merge into lines of
 * line_size bytes with byte enables.  A line leaves the buffer as
 * transactions, one per contiguous run of written bytes, when it is
 * complete, evicted, or flushed by a barrier, a read of the device, an
 * access of a non-Gathering type, a write of another type to the line, a
 * virtual-time timeout, or a stop.  Every other access passes straight
 * through.  All state is in MtGather; no allocation.
 */
#ifndef BARLAB_GATHER_H
#define BARLAB_GATHER_H

#include <stdbool.h>
#include <stdint.h>

#include "txn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_GATHER_MAX_LINES 16
#define MT_GATHER_MAX_LINE_SIZE 256
/*
 * Accesses a line remembers before it is flushed: at least one per byte of
 * a 64-byte line, because QEMU delivers a DC ZVA (and unaligned pieces)
 * to an I/O region as byte writes.
 */
#define MT_GATHER_LOG 64

typedef struct {
    uint16_t lo, hi;        /* byte range [lo, hi) in the line */
    uint8_t flags;
    uint64_t seq;
    uint32_t epoch;
} MtGatherLogEntry;

typedef struct {
    bool valid;
    uint64_t base;
    uint8_t attr, s1_attr, s2_attr;
    uint64_t age;           /* allocation order, for eviction */
    uint64_t born_ns;
    unsigned nlog;
    MtGatherLogEntry log[MT_GATHER_LOG];
    uint64_t be[MT_GATHER_MAX_LINE_SIZE / 64];
    uint8_t data[MT_GATHER_MAX_LINE_SIZE];
} MtGatherLine;

typedef struct {
    unsigned nlines;
    unsigned line_size;
    uint64_t timeout_ns;    /* 0: no timeout */
    MtEmitFn emit;
    void *opaque;
    bool unsafe;            /* set after init: gather every type, breaking
                               rule T1 on purpose (to test the checker) */
    uint64_t next_age;
    uint64_t counts[MT_FLUSH__COUNT];   /* transactions emitted, by reason */
    MtGatherLine lines[MT_GATHER_MAX_LINES];
} MtGather;

/*
 * @nlines 1..MT_GATHER_MAX_LINES; @line_size a power of two from 8 to
 * MT_GATHER_MAX_LINE_SIZE.  Returns 0, or -1 for a bad geometry.
 */
int mt_gather_init(MtGather *g, unsigned nlines, unsigned line_size,
                   uint64_t timeout_ns, MtEmitFn emit, void *opaque);

/*
 * One CPU access.  A write passes @data (a->size bytes); a read gets @data
 * filled by the emit callback.  An access must not exceed
 * MT_GATHER_MAX_LINE_SIZE bytes.
 */
void mt_gather_access(MtGather *g, const MtAccess *a, uint8_t *data);

/* Emit every line (DMB/DSB: MT_FLUSH_BARRIER; reset, stop: MT_FLUSH_STOP). */
void mt_gather_flush(MtGather *g, MtFlushReason why, uint64_t now_ns);

/* Emit lines older than the timeout. */
void mt_gather_tick(MtGather *g, uint64_t now_ns);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_GATHER_H */
