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

/* Does @t touch a region the device declared with @flag? */
static bool in_expect(const MtChecker *c, const MtTxn *t, unsigned flag)
{
    for (unsigned i = 0; i < c->nexpect; i++) {
        const MtExpect *e = &c->expect[i];

        if ((e->flags & flag) && t->addr < e->hi && t->addr + t->size > e->lo) {
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


/*
 * A doorbell that arrived before @t although the program wrote it after
 * @t: legal for the memory type perhaps, but the device already acted.
 */
static uint32_t check_doorbells(const MtChecker *c, const MtTxn *t)
{
    for (unsigned i = 0; i < c->count; i++) {
        const MtTxn *r = &c->recent[i];

        if ((r->flags & MT_TXN_WRITE) && r->seq_first > t->seq_last &&
            in_expect(c, r, MT_EXPECT_ORDERED)) {
            return BIT(MT_RULE_X_ORDERED);
        }
    }
    return 0;
}

/* Rules about @t arriving after the transactions already seen. */
static uint32_t check_order(const MtChecker *c, const MtTxn *t, bool t_reorders)
{
    uint32_t v = 0;

    if (!c->count || t->seq_first >= c->max_seq) {
        return 0;   /* in program order: the common case */
    }
    for (unsigned i = 0; i < c->count; i++) {
        const MtTxn *r = &c->recent[i];

        if (r->seq_last <= t->seq_first) {
            continue;   /* r holds nothing program-later than t */
        }
        if (overlap(r, t)) {
            v |= BIT(MT_RULE_V_SAME_ADDR);
        } else if (!t_reorders || !mt_attr_permits(r->attr).reorder) {
            v |= BIT(MT_RULE_V_REORDER);
        }
        if (r->epoch_last > t->epoch_first) {
            v |= BIT(MT_RULE_V_BARRIER);
        }
    }
    return v;
}

/* Rules for a transaction some CPU access made, with a memory type. */
static uint32_t check_typed(const MtChecker *c, const MtTxn *t)
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
    return v | check_order(c, t, mt_permits(&type).reorder);
}

uint32_t mt_check_txn(MtChecker *c, const MtTxn *t)
{
    uint32_t v = check_expectations(c, t);

    /* Untyped (DMA, qtest): only the device's own expectations apply. */
    if (!(t->flags & MT_TXN_UNTYPED)) {
        v |= check_typed(c, t);
    }
    if ((t->flags & MT_TXN_WRITE) && c->count && t->seq_first < c->max_seq) {
        v |= check_doorbells(c, t);
    }
    if (t->seq_last > c->max_seq) {
        c->max_seq = t->seq_last;
    }
    c->recent[c->head] = *t;
    c->head = (c->head + 1) % MT_CHECK_WINDOW;
    if (c->count < MT_CHECK_WINDOW) {
        c->count++;
    }
    c->checked++;
    for (unsigned r = 0; r < MT_RULE__COUNT; r++) {
        c->violations[r] += v >> r & 1;
    }
    return v;
}
