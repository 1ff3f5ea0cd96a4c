/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The transaction checker: see check.h. */
#include "check.h"

#include <string.h>

#include "memtype.h"

_Static_assert(MT_RULE__COUNT <= 32, "verdicts are a 32-bit mask");

#define BIT(rule) (UINT32_C(1) << (rule))

void mt_check_init(MtChecker *c, const MtExpect *expect, unsigned nexpect)
{
    memset(c, 0, sizeof(*c));
    c->expect = expect;
    c->nexpect = nexpect;
}

static bool overlap(const MtTxn *a, const MtTxn *b)
{
    return a->addr < b->addr + b->size && b->addr < a->addr + a->size;
}

/* Rules about the transaction alone, given its decoded type. */
static uint32_t check_type(const MtTxn *t, const MtAttrs *type)
{
    MtPermits p = mt_permits(type);
    uint32_t v = 0;

    if (t->naccesses > 1 && !p.gather) {
        v |= BIT(MT_RULE_V_GATHER);
    }
    if (type->kind == MT_KIND_DEVICE) {
        if (t->flags & (MT_TXN_UNALIGNED | MT_TXN_DCZVA)) {
            v |= BIT(MT_RULE_V_ALIGN);
        }
        if (t->flags & MT_TXN_SPECULATIVE) {
            v |= BIT(MT_RULE_V_SPEC_DEVICE);
        }
    }
    return v;
}

/* Does [addr, end) touch one of @e's repeats of [lo, hi)? */
static bool touches(const MtExpect *e, uint64_t addr, uint64_t end)
{
    uint64_t k;

    if (end <= e->lo) {
        return false;
    }
    if (e->repeat <= 1 || !e->stride) {
        return addr < e->hi;
    }
    /* The last repeat starting at or before addr, then those up to end. */
    k = addr < e->lo ? 0 : (addr - e->lo) / e->stride;
    for (; k < e->repeat && e->lo + k * e->stride < end; k++) {
        if (addr < e->hi + k * e->stride) {
            return true;
        }
    }
    return false;
}

/* Does @t touch a region the device declared with @flag? */
static bool in_expect(const MtChecker *c, const MtTxn *t, unsigned flag)
{
    for (unsigned i = 0; i < c->nexpect; i++) {
        const MtExpect *e = &c->expect[i];

        if ((e->flags & flag) && touches(e, t->addr, t->addr + t->size)) {
            return true;
        }
    }
    return false;
}

static uint32_t check_expectations(const MtChecker *c, const MtTxn *t)
{
    uint32_t v = 0;

    if ((t->flags & MT_TXN_SPECULATIVE) &&
        in_expect(c, t, MT_EXPECT_NO_SPEC_READ)) {
        v |= BIT(MT_RULE_X_NO_SPEC);
    }
    if (t->naccesses > 1 && in_expect(c, t, MT_EXPECT_NO_GATHER)) {
        v |= BIT(MT_RULE_X_NO_GATHER);
    }
    return v;
}


/* Remember the earliest program-later access that overtook the judged txn. */
static void note_overtaker(uint64_t *seq, uint64_t overtaker)
{
    if (overtaker < *seq) {
        *seq = overtaker;
    }
}

/*
 * A doorbell that arrived before @t although the program wrote it after
 * @t: legal for the memory type perhaps, but the device already acted.
 */
static uint32_t check_doorbells(const MtChecker *c, const MtTxn *t,
                                uint64_t *seq)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < c->count; i++) {
        const MtTxn *r = &c->recent[i];

        if ((r->flags & MT_TXN_WRITE) && r->seq_first > t->seq_last &&
            in_expect(c, r, MT_EXPECT_ORDERED)) {
            v = BIT(MT_RULE_X_ORDERED);
            note_overtaker(seq, r->seq_first);
        }
    }
    return v;
}

/* Rules about @t arriving after the transactions already seen. */
static uint32_t check_order(const MtChecker *c, const MtTxn *t, bool t_reorders,
                            uint64_t *seq)
{
    uint32_t v = 0;

    if (!c->count || t->seq_first >= c->max_seq) {
        return 0;   /* in program order: the common case */
    }
    for (unsigned i = 0; i < c->count; i++) {
        const MtTxn *r = &c->recent[i];
        uint32_t rv = 0;

        if (r->seq_last <= t->seq_first) {
            continue;   /* r holds nothing program-later than t */
        }
        if (overlap(r, t)) {
            rv |= BIT(MT_RULE_V_SAME_ADDR);
        } else if (!t_reorders || !mt_attr_permits(r->attr).reorder) {
            rv |= BIT(MT_RULE_V_REORDER);
        }
        if (r->epoch_last > t->epoch_first) {
            rv |= BIT(MT_RULE_V_BARRIER);
        }
        if (rv) {
            note_overtaker(seq, r->seq_last);
        }
        v |= rv;
    }
    return v;
}

/* Rules for a transaction some CPU access made, with a memory type. */
static uint32_t check_typed(const MtChecker *c, const MtTxn *t, uint64_t *seq)
{
    MtAttrs type;
    uint32_t v = 0;

    if (mt_decode_mair(t->attr, MT_FEAT_XS | MT_FEAT_MTE2, &type) != MT_OK) {
        v |= BIT(MT_RULE_V_RESERVED);
    } else {
        v |= check_type(t, &type);
    }
    if (t->epoch_first != t->epoch_last) {
        v |= BIT(MT_RULE_V_BARRIER);
    }
    return v | check_order(c, t, mt_permits(&type).reorder, seq);
}

uint32_t mt_check_judge(MtChecker *c, MtTxn *t)
{
    uint64_t seq = MT_SEQ_NONE;
    uint32_t v = check_expectations(c, t);

    /* Untyped (DMA, qtest): only the device's own expectations apply. */
    if (!(t->flags & MT_TXN_UNTYPED)) {
        v |= check_typed(c, t, &seq);
    }
    if ((t->flags & MT_TXN_WRITE) && c->count && t->seq_first < c->max_seq) {
        v |= check_doorbells(c, t, &seq);
    }
    t->verdict = v;
    t->verdict_seq = seq;
    if (t->seq_last > c->max_seq) {
        c->max_seq = t->seq_last;
    }
    c->recent[c->head] = *t;
    c->head = (c->head + 1) % MT_CHECK_WINDOW;
    if (c->count < MT_CHECK_WINDOW) {
        c->count++;
    }
    c->checked++;
    if (v) {
        c->judged_bad++;
        for (unsigned r = 0; r < MT_RULE__COUNT; r++) {
            c->violations[r] += v >> r & 1;
        }
    }
    return v;
}

uint32_t mt_check_txn(MtChecker *c, const MtTxn *t)
{
    MtTxn judged = *t;

    return mt_check_judge(c, &judged);
}
