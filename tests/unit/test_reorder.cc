// SPDX-License-Identifier: GPL-2.0-or-later
// GoogleTest for hw/memtype/reorder.c: the reorder model, seeded, reorders
// only where the Arm rules permit, deterministically per seed.
#include <gtest/gtest.h>

#include <random>

#include "check.h"
#include "reorder.h"
#include "txn_collector.h"

namespace {

MtTxn make_txn(uint64_t addr, uint32_t size, uint8_t attr, uint64_t seq,
               uint32_t epoch = 0, bool write = true)
{
    MtTxn t = {};
    t.addr = addr;
    t.size = size;
    t.attr = attr;
    t.flags = write ? MT_TXN_WRITE : 0;
    t.naccesses = 1;
    t.seq_first = t.seq_last = seq;
    t.epoch_first = t.epoch_last = epoch;
    return t;
}

std::vector<uint64_t> run(uint64_t seed, uint8_t attr, unsigned n, bool same_addr)
{
    MtReorder r;
    Collector c;
    uint8_t d[8] = { 0 };
    std::vector<uint64_t> order;

    EXPECT_EQ(mt_reorder_init(&r, seed, 8, Collector::emit, &c), 0);
    for (unsigned i = 0; i < n; i++) {
        MtTxn t = make_txn(same_addr ? 0 : i * 8 % 2048, 8, attr, i);
        mt_reorder_push(&r, &t, d);
    }
    mt_reorder_drain(&r);
    for (const auto &o : c.out) {
        order.push_back(o.txn.seq_first);
    }
    EXPECT_EQ(order.size(), n);
    return order;
}

bool in_order(const std::vector<uint64_t> &v)
{
    return std::is_sorted(v.begin(), v.end());
}

TEST(Reorder, SameSeedSameOrder)
{
    EXPECT_EQ(run(42, 0x44, 200, false), run(42, 0x44, 200, false));
}

// A burst's order depends on its seed and the burst alone: bursts before it (another
// cell, another shard of the matrix) change nothing.
TEST(Reorder, BurstOrderOwesNothingToEarlierBursts)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        MtReorder fresh, used;
        Collector a, b;
        uint8_t d[8] = { 0 };

        ASSERT_EQ(mt_reorder_init(&fresh, seed, 8, Collector::emit, &a), 0);
        ASSERT_EQ(mt_reorder_init(&used, seed, 8, Collector::emit, &b), 0);
        for (unsigned i = 0; i < 3 + seed % 7; i++) {
            MtTxn t = make_txn(0x800 + i * 8, 8, 0x44, i);
            mt_reorder_push(&used, &t, d);
        }
        mt_reorder_drain(&used);
        b.out.clear();
        for (unsigned i = 0; i < 12; i++) {
            MtTxn t = make_txn(i * 8, 8, 0x44, 100 + i, 1);
            mt_reorder_push(&fresh, &t, d);
            mt_reorder_push(&used, &t, d);
        }
        mt_reorder_drain(&fresh);
        mt_reorder_drain(&used);
        ASSERT_EQ(a.out.size(), b.out.size());
        for (size_t k = 0; k < a.out.size(); k++) {
            EXPECT_EQ(a.out[k].txn.seq_first, b.out[k].txn.seq_first) << "seed " << seed;
        }
    }
}

TEST(Reorder, NormalNCIsReordered)
{
    EXPECT_FALSE(in_order(run(1, 0x44, 200, false)));
    EXPECT_NE(run(1, 0x44, 200, false), run(2, 0x44, 200, false));
}

TEST(Reorder, DeviceGREIsReordered)
{
    EXPECT_FALSE(in_order(run(3, 0x0c, 200, false)));
}

TEST(Reorder, NonReorderingTypesKeepProgramOrder)
{
    for (uint8_t attr : { 0x00, 0x04 }) {
        for (uint64_t seed = 0; seed < 20; seed++) {
            EXPECT_TRUE(in_order(run(seed, attr, 100, false))) << int(attr);
        }
    }
}

TEST(Reorder, SameAddressKeepsProgramOrder)
{
    for (uint64_t seed = 0; seed < 20; seed++) {
        EXPECT_TRUE(in_order(run(seed, 0x44, 100, true)));
    }
}

TEST(Reorder, NothingCrossesABarrierEpoch)
{
    MtReorder r;
    Collector c;
    uint8_t d[8] = { 0 };

    ASSERT_EQ(mt_reorder_init(&r, 7, 16, Collector::emit, &c), 0);
    for (unsigned i = 0; i < 64; i++) {
        MtTxn t = make_txn(i * 8, 8, 0x44, i, i / 8);
        mt_reorder_push(&r, &t, d);
    }
    mt_reorder_drain(&r);
    ASSERT_EQ(c.out.size(), 64u);
    for (size_t i = 1; i < c.out.size(); i++) {
        EXPECT_LE(c.out[i - 1].txn.epoch_first, c.out[i].txn.epoch_first);
    }
}

TEST(Reorder, ReadDrainsTheWindowFirst)
{
    MtReorder r;
    Collector c;
    uint8_t d[8] = { 0 };

    ASSERT_EQ(mt_reorder_init(&r, 9, 16, Collector::emit, &c), 0);
    for (unsigned i = 0; i < 5; i++) {
        MtTxn t = make_txn(i * 8, 8, 0x44, i);
        mt_reorder_push(&r, &t, d);
    }
    EXPECT_EQ(c.out.size(), 0u);
    MtTxn rd = make_txn(512, 8, 0x44, 5, 0, false);
    mt_reorder_push(&r, &rd, d);
    ASSERT_EQ(c.out.size(), 6u);
    EXPECT_EQ(c.out[5].txn.seq_first, 5u);
}

TEST(Reorder, RejectsBadArguments)
{
    MtReorder r;
    EXPECT_NE(mt_reorder_init(&r, 0, 0, Collector::emit, nullptr), 0);
    EXPECT_NE(mt_reorder_init(&r, 0, MT_REORDER_MAX_WINDOW + 1, Collector::emit, nullptr), 0);
    EXPECT_NE(mt_reorder_init(&r, 0, 4, nullptr, nullptr), 0);
}

// Random mixed streams through gather then reorder: the checker finds
// nothing to object to, and R types do get reordered.
class ReorderStream : public ::testing::TestWithParam<unsigned> {};

TEST_P(ReorderStream, CheckerAcceptsEverything)
{
    static const uint8_t attrs[] = { 0x44, 0x0c, 0x04, 0x08, 0x00, 0xff };
    std::mt19937_64 rng(GetParam());
    MtReorder r;
    MtGather g;
    Collector c;
    MtChecker chk;
    uint64_t seq = 0;
    uint32_t epoch = 0;

    ASSERT_EQ(mt_reorder_init(&r, GetParam(), 2 + rng() % (MT_REORDER_MAX_WINDOW - 1),
                              Collector::emit, &c), 0);
    ASSERT_EQ(mt_gather_init(&g, 4, 64, 0, mt_reorder_push, &r), 0);
    mt_check_init(&chk, nullptr, 0);
    for (int i = 0; i < 3000; i++) {
        unsigned kind = rng() % 20;
        if (kind == 0) {
            mt_gather_flush(&g, MT_FLUSH_BARRIER, 0);
            mt_reorder_drain(&r);
            epoch++;
            continue;
        }
        MtAccess a = {};
        uint8_t d[8] = { 0 };
        a.size = 1u << (rng() % 4);
        a.addr = rng() % (2048 / a.size) * a.size;
        a.attr = attrs[rng() % sizeof(attrs)];
        a.flags = kind < 18 ? MT_TXN_WRITE : 0;
        a.seq = seq++;
        a.epoch = epoch;
        mt_gather_access(&g, &a, d);
    }
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
    mt_reorder_drain(&r);
    for (const auto &o : c.out) {
        EXPECT_EQ(mt_check_txn(&chk, &o.txn), 0u)
            << "seq " << o.txn.seq_first << " attr " << int(o.txn.attr);
    }
    EXPECT_GT(r.reordered, 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ReorderStream, ::testing::Range(1u, 21u));

} // namespace

namespace {

// unsafe: the model of a broken interconnect reorders what Arm forbids,
// and the checker catches every case.
TEST(ReorderUnsafe, BreaksTheRulesAndTheCheckerSeesIt)
{
    MtReorder r;
    Collector c;
    MtChecker chk;
    uint8_t d[8] = { 0 };
    bool swapped = false;

    for (uint64_t seed = 0; seed < 32 && !swapped; seed++) {
        c.out.clear();
        ASSERT_EQ(mt_reorder_init(&r, seed, 8, Collector::emit, &c), 0);
        r.unsafe = true;
        MtTxn a = make_txn(0, 8, 0x04, 0), b = make_txn(0, 8, 0x04, 1, 1);
        mt_reorder_push(&r, &a, d);
        mt_reorder_push(&r, &b, d);
        mt_reorder_drain(&r);
        ASSERT_EQ(c.out.size(), 2u);
        swapped = c.out[0].txn.seq_first == 1;
    }
    ASSERT_TRUE(swapped);
    mt_check_init(&chk, nullptr, 0);
    EXPECT_EQ(mt_check_txn(&chk, &c.out[0].txn), 0u);
    EXPECT_EQ(mt_check_txn(&chk, &c.out[1].txn),
              1u << MT_RULE_V_SAME_ADDR | 1u << MT_RULE_V_BARRIER);
}

} // namespace

namespace {

// An access without a memory type is delivered at once, after what waits.
TEST(Reorder, UntypedPassesStraightThrough)
{
    MtReorder r;
    Collector c;
    uint8_t d[8] = { 0 };

    ASSERT_EQ(mt_reorder_init(&r, 3, 8, Collector::emit, &c), 0);
    MtTxn a = make_txn(0, 8, 0x44, 0), b = make_txn(8, 8, 0x44, 1);
    MtTxn q = make_txn(16, 4, 0, 2);
    q.flags |= MT_TXN_UNTYPED;
    mt_reorder_push(&r, &a, d);
    mt_reorder_push(&r, &b, d);
    EXPECT_EQ(c.out.size(), 0u);
    mt_reorder_push(&r, &q, d);
    ASSERT_EQ(c.out.size(), 3u);
    EXPECT_EQ(c.out[2].txn.seq_first, 2u);
    EXPECT_EQ(r.npending, 0u);
}

} // namespace
