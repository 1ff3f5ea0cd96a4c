/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The seeded reorder model: sits between the gather buffer and the device
 * and, where the Arm rules permit it, delivers transactions out of program
 * order, so that drivers relying on an order the architecture does not
 * promise show their bug.
 *
 * Writes wait in a window.  When the window is full one of them leaves,
 * chosen by a seeded PRNG among those allowed to overtake every older
 * waiting transaction: both types Reordering, no byte in common, same
 * barrier epoch.  A read (the CPU waits for it), an access without a
 * memory type (DMA, qtest), a barrier or a stop drains the window in a
 * permitted random order first.  The PRNG restarts from its seed and the
 * address of the first write whenever the window fills from empty, so
 * the order of a burst depends on its seed and the burst alone, not on
 * what the port saw before (a run of one cell, or of a shard of the
 * matrix, reorders its writes as the whole matrix does).  The same seed
 * and input always give the same output.
 */
#ifndef BARLAB_REORDER_H
#define BARLAB_REORDER_H

#include <stdint.h>

#include "gather.h"
#include "txn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_REORDER_MAX_WINDOW 16

typedef struct {
    MtTxn txn;
    uint8_t data[MT_GATHER_MAX_LINE_SIZE];
} MtReorderSlot;

typedef struct {
    uint64_t seed;
    uint64_t rng;
    unsigned window;
    unsigned npending;
    MtEmitFn emit;
    void *opaque;
    bool unsafe;            /* set after init: reorder anything, across
                               types, bytes and barriers (to test the
                               checker) */
    uint64_t reordered;     /* transactions that overtook an older one */
    MtReorderSlot pending[MT_REORDER_MAX_WINDOW];
} MtReorder;

/* @window 1..MT_REORDER_MAX_WINDOW.  Returns 0, or -1 for bad arguments. */
int mt_reorder_init(MtReorder *r, uint64_t seed, unsigned window,
                    MtEmitFn emit, void *opaque);

/* Takes one transaction (an MtEmitFn: the gather buffer can emit here). */
void mt_reorder_push(void *reorder, const MtTxn *t, uint8_t *data);

/* Deliver everything waiting, in a permitted random order. */
void mt_reorder_drain(MtReorder *r);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_REORDER_H */
