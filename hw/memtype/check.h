/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The checker: judges each transaction that reaches a device against the
 * memory type it was made with (rules.h, MT_RULE_V_*) and against what the
 * device declared about its registers (MT_RULE_X_*).
 *
 * Ordering is judged against the last MT_CHECK_WINDOW transactions: a
 * transaction that arrives after one holding a program-later access is
 * reordered.  No allocation; the expectation table is the caller's.
 */
#ifndef BARLAB_CHECK_H
#define BARLAB_CHECK_H

#include <stdint.h>

#include "rules.h"
#include "txn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_CHECK_WINDOW 64

enum {
    MT_EXPECT_NO_SPEC_READ = 1u << 0,   /* reads have side effects */
    MT_EXPECT_NO_GATHER = 1u << 1,      /* must arrive as a lone access */
    MT_EXPECT_ORDERED = 1u << 2,        /* a doorbell: nothing program-earlier
                                           may arrive after it */
};

/*
 * A device's declaration about the bytes [lo, hi) of its region, and, with
 * @repeat > 1, about the same bytes @stride, 2 * @stride, ... up to
 * (@repeat - 1) * @stride further on (one entry for every push page).
 */
typedef struct {
    uint64_t lo, hi;
    unsigned flags;         /* MT_EXPECT_* */
    const char *name;
    uint64_t stride;        /* at least hi - lo when repeat > 1 */
    uint64_t repeat;        /* 0 or 1: once */
} MtExpect;

typedef struct {
    const MtExpect *expect;
    unsigned nexpect;
    unsigned head, count;
    uint64_t max_seq;       /* largest seq_last seen: nothing is older */
    MtTxn recent[MT_CHECK_WINDOW];
    uint64_t checked;
    uint64_t judged_bad;    /* transactions that broke at least one rule */
    uint64_t violations[MT_RULE__COUNT];    /* transactions, per rule */
} MtChecker;

void mt_check_init(MtChecker *c, const MtExpect *expect, unsigned nexpect);

/*
 * Judge @t, in arrival order: store the verdict in t->verdict (the rules
 * it breaks, a mask of 1u << MtRule; 0 when it is legal) and, for the
 * ordering rules (V2, V3, V4, X3), in t->verdict_seq the program-order
 * number of the earliest program-later access that reached the device
 * before it (MT_SEQ_NONE otherwise).  Returns t->verdict.
 */
uint32_t mt_check_judge(MtChecker *c, MtTxn *t);

/* The same verdict, for a caller that keeps only the mask. */
uint32_t mt_check_txn(MtChecker *c, const MtTxn *t);


#ifdef __cplusplus
}
#endif

#endif /* BARLAB_CHECK_H */
