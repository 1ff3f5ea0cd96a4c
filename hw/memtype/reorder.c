/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The seeded reorder model: see reorder.h. */
#include "reorder.h"

#include <stdbool.h>
#include <string.h>

#include "memtype.h"

/* splitmix64's finalizer: small, fast and good enough to pick among 16 slots. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t next_random(MtReorder *r)
{
    return mix(r->rng += UINT64_C(0x9e3779b97f4a7c15));
}

int mt_reorder_init(MtReorder *r, uint64_t seed, unsigned window,
                    MtEmitFn emit, void *opaque)
{
    if (window < 1 || window > MT_REORDER_MAX_WINDOW || !emit) {
        return -1;
    }
    memset(r, 0, sizeof(*r));
    r->seed = seed;
    r->rng = seed;
    r->window = window;
    r->emit = emit;
    r->opaque = opaque;
    return 0;
}

static bool overlap(const MtTxn *a, const MtTxn *b)
{
    return a->addr < b->addr + b->size && b->addr < a->addr + a->size;
}

/* May @late be delivered before @early, which is older in program order? */
static bool may_overtake(const MtReorder *r, const MtTxn *late,
                         const MtTxn *early)
{
    return r->unsafe ||
           (mt_attr_permits(late->attr).reorder &&
           mt_attr_permits(early->attr).reorder &&
           !overlap(late, early) &&
           late->epoch_first == early->epoch_last);
}

static bool eligible(const MtReorder *r, unsigned j)
{
    for (unsigned k = 0; k < j; k++) {
        if (!may_overtake(r, &r->pending[j].txn, &r->pending[k].txn)) {
            return false;
        }
    }
    return true;
}

/* Deliver one waiting transaction, chosen among the eligible ones. */
static void deliver_one(MtReorder *r)
{
    unsigned candidates[MT_REORDER_MAX_WINDOW], n = 0, pick;
    MtReorderSlot *s;

    for (unsigned j = 0; j < r->npending; j++) {
        if (eligible(r, j)) {
            candidates[n++] = j;
        }
    }
    /* The oldest is always eligible, so n >= 1. */
    pick = candidates[next_random(r) % n];
    if (pick) {
        r->reordered++;
    }
    s = &r->pending[pick];
    r->emit(r->opaque, &s->txn, s->data);
    memmove(&r->pending[pick], &r->pending[pick + 1],
            (r->npending - pick - 1) * sizeof(r->pending[0]));
    r->npending--;
}

void mt_reorder_drain(MtReorder *r)
{
    while (r->npending) {
        deliver_one(r);
    }
}

void mt_reorder_push(void *reorder, const MtTxn *t, uint8_t *data)
{
    MtReorder *r = reorder;
    MtReorderSlot *s;

    /*
     * Reads make the CPU wait; accesses without a memory type (DMA,
     * qtest) are not the CPU's to reorder; oversized writes have no slot.
     */
    if (!(t->flags & MT_TXN_WRITE) || (t->flags & MT_TXN_UNTYPED) ||
        t->size > sizeof(s->data)) {
        mt_reorder_drain(r);
        r->emit(r->opaque, t, data);
        return;
    }
    if (!r->unsafe && r->npending &&
        r->pending[r->npending - 1].txn.epoch_last != t->epoch_first) {
        mt_reorder_drain(r);
    }
    if (!r->npending) {
        /* A new burst: its order owes nothing to the bursts before it. */
        r->rng = r->seed ^ mix(t->addr + UINT64_C(0x9e3779b97f4a7c15));
    }
    s = &r->pending[r->npending++];
    s->txn = *t;
    memcpy(s->data, data, t->size);
    if (r->npending == r->window) {
        deliver_one(r);
    }
}
