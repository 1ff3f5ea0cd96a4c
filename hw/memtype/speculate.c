/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The speculative read model: see speculate.h. */
#include "speculate.h"

#include <string.h>

#include "memtype.h"

enum {
    SPEC_REST_OF_LINE = 1u << 0,
    SPEC_NEXT_LINE = 1u << 1,
};

/*
 * splitmix64 of its seed and the address, as the reorder model: two bits
 * of choice per read.
 */
static uint64_t choose(const MtSpeculate *s, uint64_t addr)
{
    uint64_t z = s->seed ^ (addr * UINT64_C(0x9e3779b97f4a7c15) +
                            UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

int mt_spec_init(MtSpeculate *s, uint64_t seed, unsigned line_size,
                 uint64_t region_size)
{
    if (line_size < 8 || line_size > MT_SPEC_PAGE_SIZE ||
        (line_size & (line_size - 1)) || !region_size) {
        return -1;
    }
    memset(s, 0, sizeof(*s));
    s->seed = seed;
    s->line_size = line_size;
    s->region_size = region_size;
    return 0;
}

static unsigned add(MtSpeculate *s, MtSpecRead *out, unsigned n,
                    uint64_t lo, uint64_t hi)
{
    if (hi > s->region_size) {
        hi = s->region_size;
    }
    if (lo >= hi) {
        return n;
    }
    out[n] = (MtSpecRead) { lo, (uint32_t)(hi - lo) };
    s->issued++;
    return n + 1;
}

unsigned mt_spec_reads(MtSpeculate *s, const MtAccess *a,
                       MtSpecRead out[MT_SPEC_MAX_READS])
{
    uint64_t line, next, page_end, end = a->addr + a->size;
    unsigned choice, n = 0;

    if ((a->flags & (MT_TXN_WRITE | MT_TXN_UNTYPED)) ||
        (!s->unsafe && !mt_attr_permits(a->attr).speculative_read)) {
        return 0;
    }
    choice = choose(s, a->addr) & (SPEC_REST_OF_LINE | SPEC_NEXT_LINE);
    line = a->addr & ~(uint64_t)(s->line_size - 1);
    next = line + s->line_size;
    page_end = (a->addr & ~(uint64_t)(MT_SPEC_PAGE_SIZE - 1)) +
               MT_SPEC_PAGE_SIZE;
    if (choice & SPEC_REST_OF_LINE) {
        n = add(s, out, n, line, a->addr);
        /* A read that crosses into the next line fetched all it needs. */
        n = add(s, out, n, end, end < next ? next : end);
    }
    if ((choice & SPEC_NEXT_LINE) && end <= next && next < page_end) {
        n = add(s, out, n, next, next + s->line_size);
    }
    return n;
}

void mt_spec_txn(const MtAccess *a, const MtSpecRead *r, MtTxn *t)
{
    mt_txn_from_access(a, t);
    t->addr = r->addr;
    t->size = r->size;
    t->flags |= MT_TXN_SPECULATIVE;
}
