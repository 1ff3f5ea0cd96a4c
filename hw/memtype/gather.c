/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The write-gathering buffer model: see gather.h. */
#include "gather.h"

#include <string.h>

#include "memtype.h"

/* Mark bytes [lo, hi) written, a 64-bit word at a time. */
static void be_set_range(MtGatherLine *l, unsigned lo, unsigned hi)
{
    while (lo < hi) {
        unsigned w = lo / 64, bit = lo % 64;
        unsigned n = hi - lo < 64 - bit ? hi - lo : 64 - bit;

        l->be[w] |= (n == 64 ? UINT64_MAX : ((UINT64_C(1) << n) - 1)) << bit;
        lo += n;
    }
}

/* The first byte at or after @i whose enable bit is @set, or @end. */
static unsigned be_find(const MtGatherLine *l, unsigned i, unsigned end, bool set)
{
    while (i < end) {
        uint64_t word = l->be[i / 64] ^ (set ? 0 : UINT64_MAX);
        uint64_t rest = word >> (i % 64);

        if (rest) {
            i += __builtin_ctzll(rest);
            return i < end ? i : end;
        }
        i = (i / 64 + 1) * 64;
    }
    return end;
}

static bool line_complete(const MtGather *g, const MtGatherLine *l)
{
    for (unsigned w = 0; w < g->line_size / 64; w++) {
        if (l->be[w] != UINT64_MAX) {
            return false;
        }
    }
    if (g->line_size % 64) {
        return l->be[0] == (UINT64_C(1) << g->line_size) - 1;
    }
    return true;
}

int mt_gather_init(MtGather *g, unsigned nlines, unsigned line_size,
                   uint64_t timeout_ns, MtEmitFn emit, void *opaque)
{
    if (nlines < 1 || nlines > MT_GATHER_MAX_LINES || line_size < 8 ||
        line_size > MT_GATHER_MAX_LINE_SIZE || (line_size & (line_size - 1)) ||
        !emit) {
        return -1;
    }
    memset(g, 0, sizeof(*g));
    g->nlines = nlines;
    g->line_size = line_size;
    g->timeout_ns = timeout_ns;
    g->emit = emit;
    g->opaque = opaque;
    return 0;
}

/* One transaction per contiguous run of written bytes, then free the line. */
static void emit_line(MtGather *g, MtGatherLine *l, MtFlushReason why,
                      uint64_t now_ns)
{
    unsigned i = 0;

    /* Runs of written bytes: [lo, hi) */
    while ((i = be_find(l, i, g->line_size, true)) < g->line_size) {
        unsigned lo = i, hi = i = be_find(l, i, g->line_size, false);
        MtTxn t = {
            .attr = l->attr, .s1_attr = l->s1_attr, .s2_attr = l->s2_attr,
            .flags = MT_TXN_WRITE, .reason = why, .time_ns = now_ns,
            .seq_first = UINT64_MAX, .epoch_first = UINT32_MAX,
        };

        t.addr = l->base + lo;
        t.size = hi - lo;
        for (unsigned k = 0; k < l->nlog; k++) {
            const MtGatherLogEntry *e = &l->log[k];

            if (e->hi <= lo || e->lo >= hi) {
                continue;
            }
            t.naccesses++;
            t.flags |= e->flags;
            t.seq_first = e->seq < t.seq_first ? e->seq : t.seq_first;
            t.seq_last = e->seq > t.seq_last ? e->seq : t.seq_last;
            t.epoch_first = e->epoch < t.epoch_first ? e->epoch : t.epoch_first;
            t.epoch_last = e->epoch > t.epoch_last ? e->epoch : t.epoch_last;
        }
        g->counts[why]++;
        g->emit(g->opaque, &t, l->data + lo);
    }
    l->valid = false;
}

static MtGatherLine *oldest_line(MtGather *g)
{
    MtGatherLine *oldest = NULL;

    for (unsigned i = 0; i < g->nlines; i++) {
        MtGatherLine *l = &g->lines[i];

        if (l->valid && (!oldest || l->age < oldest->age)) {
            oldest = l;
        }
    }
    return oldest;
}

void mt_gather_flush(MtGather *g, MtFlushReason why, uint64_t now_ns)
{
    MtGatherLine *l;

    while ((l = oldest_line(g))) {
        emit_line(g, l, why, now_ns);
    }
}

void mt_gather_tick(MtGather *g, uint64_t now_ns)
{
    MtGatherLine *l;

    if (!g->timeout_ns) {
        return;
    }
    while ((l = oldest_line(g)) && now_ns - l->born_ns >= g->timeout_ns) {
        emit_line(g, l, MT_FLUSH_TIMEOUT, now_ns);
    }
}

static MtGatherLine *find_line(MtGather *g, uint64_t base)
{
    for (unsigned i = 0; i < g->nlines; i++) {
        if (g->lines[i].valid && g->lines[i].base == base) {
            return &g->lines[i];
        }
    }
    return NULL;
}

static MtGatherLine *alloc_line(MtGather *g, uint64_t base, const MtAccess *a)
{
    MtGatherLine *l = NULL;

    for (unsigned i = 0; i < g->nlines && !l; i++) {
        if (!g->lines[i].valid) {
            l = &g->lines[i];
        }
    }
    if (!l) {
        l = oldest_line(g);
        emit_line(g, l, MT_FLUSH_EVICT, a->time_ns);
    }
    l->valid = true;
    l->base = base;
    l->attr = a->attr;
    l->s1_attr = a->s1_attr;
    l->s2_attr = a->s2_attr;
    l->age = g->next_age++;
    l->born_ns = a->time_ns;
    l->nlog = 0;
    memset(l->be, 0, sizeof(l->be));
    return l;
}

/* Why @l cannot take @a, or MT_FLUSH_NONE if it can. */
static MtFlushReason line_conflict(const MtGatherLine *l, const MtAccess *a)
{
    if (l->attr != a->attr || l->s1_attr != a->s1_attr ||
        l->s2_attr != a->s2_attr) {
        return MT_FLUSH_ATTR;
    }
    if (l->nlog && l->log[0].epoch != a->epoch) {
        return MT_FLUSH_BARRIER;
    }
    if (l->nlog == MT_GATHER_LOG) {
        return MT_FLUSH_FULL;
    }
    return MT_FLUSH_NONE;
}

static void gather_write(MtGather *g, const MtAccess *a, const uint8_t *data)
{
    uint64_t pos = a->addr;
    uint32_t left = a->size;

    while (left) {
        uint64_t base = pos & ~(uint64_t)(g->line_size - 1);
        unsigned off = pos - base;
        unsigned n = g->line_size - off < left ? g->line_size - off : left;
        MtGatherLine *l = find_line(g, base);
        MtFlushReason why;

        if (l && (why = line_conflict(l, a)) != MT_FLUSH_NONE) {
            emit_line(g, l, why, a->time_ns);
            l = NULL;
        }
        if (!l) {
            l = alloc_line(g, base, a);
        }
        memcpy(l->data + off, data, n);
        be_set_range(l, off, off + n);
        l->log[l->nlog++] = (MtGatherLogEntry) {
            .lo = off, .hi = off + n, .flags = a->flags,
            .seq = a->seq, .epoch = a->epoch,
        };
        if (line_complete(g, l)) {
            emit_line(g, l, MT_FLUSH_COMPLETE, a->time_ns);
        }
        pos += n;
        data += n;
        left -= n;
    }
}

void mt_txn_from_access(const MtAccess *a, MtTxn *t)
{
    *t = (MtTxn) {
        .addr = a->addr, .size = a->size, .flags = a->flags,
        .attr = a->attr, .s1_attr = a->s1_attr, .s2_attr = a->s2_attr,
        .reason = MT_FLUSH_NONE, .naccesses = 1,
        .seq_first = a->seq, .seq_last = a->seq,
        .epoch_first = a->epoch, .epoch_last = a->epoch,
        .time_ns = a->time_ns,
    };
}

void mt_gather_access(MtGather *g, const MtAccess *a, uint8_t *data)
{
    bool write = a->flags & MT_TXN_WRITE;
    MtTxn t;

    if (write && !(a->flags & MT_TXN_UNTYPED) &&
        (g->unsafe || mt_attr_permits(a->attr).gather)) {
        gather_write(g, a, data);
        return;
    }
    mt_gather_flush(g, write ? MT_FLUSH_NONGATHER : MT_FLUSH_READ, a->time_ns);
    mt_txn_from_access(a, &t);
    g->counts[MT_FLUSH_NONE]++;
    g->emit(g->opaque, &t, data);
}
