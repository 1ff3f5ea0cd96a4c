// SPDX-License-Identifier: GPL-2.0-or-later
// GoogleTest for hw/memtype/gather.c: the write-gathering buffer model,
// its flush triggers, and randomized streams checked for data integrity,
// geometry and the checker's verdict.
#include <gtest/gtest.h>

#include <random>

#include "check.h"
#include "gather.h"
#include "txn_collector.h"

namespace {

const uint8_t NORMAL_NC = 0x44, DEVICE_nGnRE = 0x04, DEVICE_GRE = 0x0c;

class GatherTest : public ::testing::Test {
protected:
    MtGather g;
    Collector c;
    uint64_t seq = 0;
    uint32_t epoch = 0;

    void SetUp() override
    {
        ASSERT_EQ(mt_gather_init(&g, 4, 64, 1000, Collector::emit, &c), 0);
    }

    void write(uint64_t addr, uint32_t size, uint8_t attr, uint8_t fill,
               uint64_t time = 0)
    {
        std::vector<uint8_t> d(size, fill);
        MtAccess a = {};
        a.addr = addr;
        a.size = size;
        a.flags = MT_TXN_WRITE;
        a.attr = attr;
        a.seq = seq++;
        a.epoch = epoch;
        a.time_ns = time;
        mt_gather_access(&g, &a, d.data());
    }

    std::vector<uint8_t> read(uint64_t addr, uint32_t size, uint8_t attr)
    {
        std::vector<uint8_t> d(size, 0xee);
        MtAccess a = {};
        a.addr = addr;
        a.size = size;
        a.attr = attr;
        a.seq = seq++;
        a.epoch = epoch;
        mt_gather_access(&g, &a, d.data());
        return d;
    }
};

TEST_F(GatherTest, EightStoresToNormalNCArriveAsOneLine)
{
    for (int i = 0; i < 8; i++) {
        write(i * 8, 8, NORMAL_NC, 0x10 + i);
    }
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].txn.addr, 0u);
    EXPECT_EQ(c.out[0].txn.size, 64u);
    EXPECT_EQ(c.out[0].txn.naccesses, 8);
    EXPECT_EQ(c.out[0].txn.reason, MT_FLUSH_COMPLETE);
    EXPECT_EQ(c.out[0].txn.seq_first, 0u);
    EXPECT_EQ(c.out[0].txn.seq_last, 7u);
    for (int i = 0; i < 64; i++) {
        EXPECT_EQ(c.out[0].data[i], 0x10 + i / 8);
    }
}

TEST_F(GatherTest, DeviceGREGathersToo)
{
    for (int i = 0; i < 8; i++) {
        write(64 + i * 8, 8, DEVICE_GRE, i);
    }
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].txn.size, 64u);
}

TEST_F(GatherTest, EightStoresToDeviceArriveOneByOne)
{
    for (int i = 0; i < 8; i++) {
        write(i * 8, 8, DEVICE_nGnRE, i);
    }
    ASSERT_EQ(c.out.size(), 8u);
    for (int i = 0; i < 8; i++) {
        EXPECT_EQ(c.out[i].txn.addr, i * 8u);
        EXPECT_EQ(c.out[i].txn.size, 8u);
        EXPECT_EQ(c.out[i].txn.naccesses, 1);
        EXPECT_EQ(c.out[i].txn.reason, MT_FLUSH_NONE);
    }
}

TEST_F(GatherTest, BarrierSplitsTheBurst)
{
    for (int i = 0; i < 4; i++) {
        write(i * 8, 8, NORMAL_NC, i);
    }
    mt_gather_flush(&g, MT_FLUSH_BARRIER, 0);
    epoch++;
    for (int i = 4; i < 8; i++) {
        write(i * 8, 8, NORMAL_NC, i);
    }
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[0].txn.size, 32u);
    EXPECT_EQ(c.out[0].txn.reason, MT_FLUSH_BARRIER);
    EXPECT_EQ(c.out[1].txn.addr, 32u);
    EXPECT_EQ(c.out[1].txn.size, 32u);
    EXPECT_EQ(c.out[1].txn.reason, MT_FLUSH_STOP);
    EXPECT_EQ(c.out[1].txn.epoch_first, 1u);
}

TEST_F(GatherTest, EpochChangeWithoutFlushStillSplits)
{
    write(0, 8, NORMAL_NC, 1);
    epoch++;
    write(8, 8, NORMAL_NC, 2);
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[0].txn.reason, MT_FLUSH_BARRIER);
}

TEST_F(GatherTest, HolesGiveOneTransactionPerRun)
{
    write(0, 8, NORMAL_NC, 1);
    write(16, 4, NORMAL_NC, 2);
    write(20, 4, NORMAL_NC, 3);
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[0].txn.addr, 0u);
    EXPECT_EQ(c.out[0].txn.size, 8u);
    EXPECT_EQ(c.out[0].txn.naccesses, 1);
    EXPECT_EQ(c.out[1].txn.addr, 16u);
    EXPECT_EQ(c.out[1].txn.size, 8u);
    EXPECT_EQ(c.out[1].txn.naccesses, 2);
}

TEST_F(GatherTest, SameAddressMergesAndLastWriteWins)
{
    write(8, 8, NORMAL_NC, 1);
    write(8, 8, NORMAL_NC, 2);
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].txn.naccesses, 2);
    EXPECT_EQ(c.out[0].data[0], 2);
}

TEST_F(GatherTest, OldestLineIsEvicted)
{
    MtGather small;
    ASSERT_EQ(mt_gather_init(&small, 2, 64, 0, Collector::emit, &c), 0);
    for (uint64_t line = 0; line < 3; line++) {
        MtAccess a = {};
        uint8_t d[8] = { 0 };
        a.addr = line * 64;
        a.size = 8;
        a.flags = MT_TXN_WRITE;
        a.attr = NORMAL_NC;
        a.seq = line;
        mt_gather_access(&small, &a, d);
    }
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].txn.addr, 0u);
    EXPECT_EQ(c.out[0].txn.reason, MT_FLUSH_EVICT);
    EXPECT_EQ(small.counts[MT_FLUSH_EVICT], 1u);
}

TEST_F(GatherTest, ReadFlushesThenSeesTheData)
{
    write(0, 8, NORMAL_NC, 0x5a);
    std::vector<uint8_t> d = read(0, 8, NORMAL_NC);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[0].txn.reason, MT_FLUSH_READ);
    EXPECT_FALSE(c.out[1].txn.flags & MT_TXN_WRITE);
    EXPECT_EQ(d[0], 0x5a);
}

TEST_F(GatherTest, NonGatheringAccessFlushesFirst)
{
    write(0, 8, NORMAL_NC, 1);
    write(128, 4, DEVICE_nGnRE, 2);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[0].txn.addr, 0u);
    EXPECT_EQ(c.out[0].txn.reason, MT_FLUSH_NONGATHER);
    EXPECT_EQ(c.out[1].txn.addr, 128u);
}

TEST_F(GatherTest, OtherTypeOnTheSameLineFlushesIt)
{
    write(0, 8, NORMAL_NC, 1);
    write(8, 8, DEVICE_GRE, 2);
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[0].txn.reason, MT_FLUSH_ATTR);
    EXPECT_EQ(c.out[1].txn.attr, DEVICE_GRE);
}

TEST_F(GatherTest, TimeoutFlushesOldLines)
{
    write(0, 8, NORMAL_NC, 1, 100);
    write(64, 8, NORMAL_NC, 2, 900);
    mt_gather_tick(&g, 1099);
    EXPECT_EQ(c.out.size(), 0u);
    mt_gather_tick(&g, 1100);
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].txn.reason, MT_FLUSH_TIMEOUT);
    EXPECT_EQ(c.out[0].txn.addr, 0u);
}

TEST_F(GatherTest, AccessAcrossLinesSplits)
{
    write(56, 16, NORMAL_NC, 7);
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[0].txn.addr, 56u);
    EXPECT_EQ(c.out[0].txn.size, 8u);
    EXPECT_EQ(c.out[1].txn.addr, 64u);
    EXPECT_EQ(c.out[1].txn.size, 8u);
    EXPECT_EQ(c.out[1].txn.seq_first, c.out[0].txn.seq_first);
}

TEST_F(GatherTest, FullLogFlushes)
{
    for (int i = 0; i < MT_GATHER_LOG + 1; i++) {
        write(0, 1, NORMAL_NC, i);
    }
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].txn.reason, MT_FLUSH_FULL);
    EXPECT_EQ(c.out[0].txn.naccesses, MT_GATHER_LOG);
}

TEST(GatherInit, RejectsBadGeometry)
{
    MtGather g;
    EXPECT_NE(mt_gather_init(&g, 0, 64, 0, Collector::emit, nullptr), 0);
    EXPECT_NE(mt_gather_init(&g, MT_GATHER_MAX_LINES + 1, 64, 0, Collector::emit, nullptr), 0);
    EXPECT_NE(mt_gather_init(&g, 4, 48, 0, Collector::emit, nullptr), 0);
    EXPECT_NE(mt_gather_init(&g, 4, 4, 0, Collector::emit, nullptr), 0);
    EXPECT_NE(mt_gather_init(&g, 4, 512, 0, Collector::emit, nullptr), 0);
    EXPECT_NE(mt_gather_init(&g, 4, 64, 0, nullptr, nullptr), 0);
    EXPECT_EQ(mt_gather_init(&g, 1, 8, 0, Collector::emit, nullptr), 0);
}

// Random streams: the device ends with what program order says, no
// transaction crosses a line or outgrows it, and the checker is content.
class GatherStream : public ::testing::TestWithParam<unsigned> {};

TEST_P(GatherStream, KeepsDataGeometryAndRules)
{
    static const uint8_t attrs[] = { 0x44, 0xff, 0x0c, 0x04, 0x00, 0x08 };
    std::mt19937_64 rng(GetParam());
    unsigned line_size = 8u << (rng() % 6);
    MtGather g;
    Collector c;
    MtChecker chk;
    std::vector<uint8_t> expect(4096, 0);
    uint64_t seq = 0;
    uint32_t epoch = 0;

    ASSERT_EQ(mt_gather_init(&g, 1 + rng() % MT_GATHER_MAX_LINES, line_size, 0,
                             Collector::emit, &c), 0);
    mt_check_init(&chk, nullptr, 0);
    for (int i = 0; i < 2000; i++) {
        unsigned kind = rng() % 10;
        if (kind == 0) {
            mt_gather_flush(&g, MT_FLUSH_BARRIER, 0);
            epoch++;
            continue;
        }
        MtAccess a = {};
        uint32_t size = 1u << (rng() % 4);
        a.addr = rng() % (1024 / size) * size;
        a.size = size;
        a.attr = attrs[rng() % sizeof(attrs)];
        a.seq = seq++;
        a.epoch = epoch;
        std::vector<uint8_t> d(size);
        if (kind < 8) {
            a.flags = MT_TXN_WRITE;
            for (auto &b : d) {
                b = rng();
            }
            std::memcpy(&expect[a.addr], d.data(), size);
        }
        mt_gather_access(&g, &a, d.data());
        if (kind >= 8) {
            ASSERT_EQ(0, std::memcmp(d.data(), &expect[a.addr], size)) << "read " << i;
        }
    }
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
    EXPECT_EQ(c.memory, expect);
    for (const auto &o : c.out) {
        EXPECT_LE(o.txn.size, line_size);
        EXPECT_EQ(o.txn.addr / line_size, (o.txn.addr + o.txn.size - 1) / line_size);
        EXPECT_EQ(mt_check_txn(&chk, &o.txn), 0u) << "txn at " << o.txn.addr;
    }
}

INSTANTIATE_TEST_SUITE_P(Seeds, GatherStream, ::testing::Range(1u, 21u));

} // namespace
