// SPDX-License-Identifier: GPL-2.0-or-later
// GoogleTest for hw/memtype/check.c: each rule the checker enforces, on a
// stream built to break it, and its legal twin.
#include <gtest/gtest.h>

#include "check.h"

namespace {

const uint8_t NORMAL_NC = 0x44, DEVICE_nGnRE = 0x04;

MtTxn txn(uint64_t addr, uint32_t size, uint8_t attr, uint64_t seq, uint32_t epoch = 0)
{
    MtTxn t = {};
    t.addr = addr;
    t.size = size;
    t.attr = attr;
    t.flags = MT_TXN_WRITE;
    t.naccesses = 1;
    t.seq_first = t.seq_last = seq;
    t.epoch_first = t.epoch_last = epoch;
    return t;
}

uint32_t bit(MtRule r)
{
    return 1u << r;
}

class CheckTest : public ::testing::Test {
protected:
    MtChecker c;
    void SetUp() override { mt_check_init(&c, nullptr, 0); }
};

TEST_F(CheckTest, InOrderSingleAccessesAreLegal)
{
    for (uint64_t i = 0; i < 10; i++) {
        MtTxn t = txn(i * 8, 8, DEVICE_nGnRE, i);
        EXPECT_EQ(mt_check_txn(&c, &t), 0u);
    }
    EXPECT_EQ(c.checked, 10u);
}

TEST_F(CheckTest, GatheringNeedsG)
{
    MtTxn t = txn(0, 64, DEVICE_nGnRE, 0);
    t.naccesses = 8;
    t.seq_last = 7;
    EXPECT_EQ(mt_check_txn(&c, &t), bit(MT_RULE_V_GATHER));
    t.attr = NORMAL_NC;
    EXPECT_EQ(mt_check_txn(&c, &t) & bit(MT_RULE_V_GATHER), 0u);
    EXPECT_EQ(c.violations[MT_RULE_V_GATHER], 1u);
}

TEST_F(CheckTest, ReorderingNeedsR)
{
    MtTxn late = txn(8, 8, DEVICE_nGnRE, 1), early = txn(0, 8, DEVICE_nGnRE, 0);
    mt_check_txn(&c, &late);
    EXPECT_EQ(mt_check_txn(&c, &early), bit(MT_RULE_V_REORDER));

    MtChecker ok;
    mt_check_init(&ok, nullptr, 0);
    late.attr = early.attr = NORMAL_NC;
    mt_check_txn(&ok, &late);
    EXPECT_EQ(mt_check_txn(&ok, &early), 0u);
}

TEST_F(CheckTest, SameAddressNeverReorders)
{
    MtTxn late = txn(0, 8, NORMAL_NC, 1), early = txn(4, 8, NORMAL_NC, 0);
    mt_check_txn(&c, &late);
    EXPECT_EQ(mt_check_txn(&c, &early), bit(MT_RULE_V_SAME_ADDR));
}

TEST_F(CheckTest, NothingCrossesABarrier)
{
    MtTxn late = txn(8, 8, NORMAL_NC, 1, 1), early = txn(0, 8, NORMAL_NC, 0, 0);
    mt_check_txn(&c, &late);
    EXPECT_EQ(mt_check_txn(&c, &early), bit(MT_RULE_V_BARRIER));

    MtTxn merged = txn(64, 16, NORMAL_NC, 2, 1);
    merged.naccesses = 2;
    merged.seq_last = 3;
    merged.epoch_last = 2;
    EXPECT_EQ(mt_check_txn(&c, &merged), bit(MT_RULE_V_BARRIER));
}

TEST_F(CheckTest, UnalignedOrDCZVAToDeviceShouldHaveFaulted)
{
    MtTxn t = txn(4, 8, DEVICE_nGnRE, 0);
    t.flags |= MT_TXN_UNALIGNED;
    EXPECT_EQ(mt_check_txn(&c, &t), bit(MT_RULE_V_ALIGN));
    t = txn(64, 64, DEVICE_nGnRE, 1);
    t.flags |= MT_TXN_DCZVA;
    EXPECT_EQ(mt_check_txn(&c, &t), bit(MT_RULE_V_ALIGN));
    t = txn(132, 8, NORMAL_NC, 2);
    t.flags |= MT_TXN_UNALIGNED;
    EXPECT_EQ(mt_check_txn(&c, &t), 0u);
}

TEST_F(CheckTest, NoSpeculativeReadsOfDevice)
{
    MtTxn t = txn(0, 8, DEVICE_nGnRE, 0);
    t.flags = MT_TXN_SPECULATIVE;
    EXPECT_EQ(mt_check_txn(&c, &t), bit(MT_RULE_V_SPEC_DEVICE));
    t = txn(8, 8, NORMAL_NC, 1);
    t.flags = MT_TXN_SPECULATIVE;
    EXPECT_EQ(mt_check_txn(&c, &t), 0u);
}

TEST_F(CheckTest, ReservedTypeIsFlagged)
{
    MtTxn t = txn(0, 8, 0x02, 0);
    EXPECT_EQ(mt_check_txn(&c, &t), bit(MT_RULE_V_RESERVED));
}

TEST(CheckExpect, DeviceExpectations)
{
    static const MtExpect expect[] = {
        { 0x00, 0x08, MT_EXPECT_NO_SPEC_READ, "status", 0, 0 },
        { 0x40, 0x48, MT_EXPECT_NO_GATHER, "doorbell", 0, 0 },
    };
    MtChecker c;
    mt_check_init(&c, expect, 2);

    MtTxn t = txn(0, 4, NORMAL_NC, 0);
    t.flags = MT_TXN_SPECULATIVE;
    EXPECT_EQ(mt_check_txn(&c, &t), bit(MT_RULE_X_NO_SPEC));
    t.addr = 8;
    t.seq_first = t.seq_last = 1;
    EXPECT_EQ(mt_check_txn(&c, &t), 0u);

    MtTxn g = txn(0x40, 16, NORMAL_NC, 2);
    g.naccesses = 2;
    g.seq_last = 3;
    EXPECT_EQ(mt_check_txn(&c, &g), bit(MT_RULE_X_NO_GATHER));
    MtTxn alone = txn(0x40, 8, NORMAL_NC, 4);
    EXPECT_EQ(mt_check_txn(&c, &alone), 0u);
    EXPECT_EQ(c.violations[MT_RULE_X_NO_GATHER], 1u);
}

TEST(CheckRules, EveryRuleHasAnIdTitleAndSource)
{
    for (unsigned r = 0; r < MT_RULE__COUNT; r++) {
        EXPECT_STRNE(mt_rule(r)->id, "?");
        EXPECT_GT(strlen(mt_rule(r)->title), 10u);
        EXPECT_GT(strlen(mt_rule(r)->source), 5u);
    }
    EXPECT_STREQ(mt_rule(MT_RULE__COUNT)->id, "?");
}

} // namespace

namespace {

TEST(CheckUntyped, OnlyDeviceExpectationsApply)
{
    static const MtExpect expect[] = {
        { 0x40, 0x48, MT_EXPECT_NO_GATHER, "doorbell", 0, 0 },
    };
    MtChecker c;
    mt_check_init(&c, expect, 1);

    MtTxn t = txn(0, 64, DEVICE_nGnRE, 5);
    t.flags |= MT_TXN_UNTYPED | MT_TXN_UNALIGNED;
    t.naccesses = 2;
    EXPECT_EQ(mt_check_txn(&c, &t), 0u);
    MtTxn d = txn(0x40, 16, 0x02, 1);
    d.flags |= MT_TXN_UNTYPED;
    d.naccesses = 2;
    EXPECT_EQ(mt_check_txn(&c, &d), bit(MT_RULE_X_NO_GATHER));
}

} // namespace

namespace {

// X3: a write the program made before the doorbell must not arrive after
// it, even where the memory type lets the two be reordered.
TEST(CheckOrdered, DoorbellMustNotOvertakeTheDescriptor)
{
    static const MtExpect expect[] = {
        { 0x00, 0x08, MT_EXPECT_ORDERED, "doorbell", 0, 0 },
    };
    MtChecker c;
    mt_check_init(&c, expect, 1);

    MtTxn desc = txn(0x40, 64, NORMAL_NC, 0), bell = txn(0x00, 8, NORMAL_NC, 1);
    desc.naccesses = 8;
    desc.seq_last = 7;
    bell.seq_first = bell.seq_last = 8;
    EXPECT_EQ(mt_check_txn(&c, &bell), 0u);
    EXPECT_EQ(mt_check_txn(&c, &desc), bit(MT_RULE_X_ORDERED));

    MtChecker in_order;
    mt_check_init(&in_order, expect, 1);
    EXPECT_EQ(mt_check_txn(&in_order, &desc), 0u);
    EXPECT_EQ(mt_check_txn(&in_order, &bell), 0u);

    // Two ordinary writes reordered, no doorbell involved: legal.
    MtChecker plain;
    mt_check_init(&plain, expect, 1);
    MtTxn a = txn(0x80, 8, NORMAL_NC, 3), b = txn(0x40, 8, NORMAL_NC, 2);
    EXPECT_EQ(mt_check_txn(&plain, &a), 0u);
    EXPECT_EQ(mt_check_txn(&plain, &b), 0u);
}

} // namespace

namespace {

// The verdict a transaction carries: the rules, and the earliest
// program-later access that overtook it.
TEST(CheckVerdict, NamesTheAccessThatOvertook)
{
    static const MtExpect expect[] = {
        { 0x00, 0x08, MT_EXPECT_ORDERED, "doorbell", 0, 0 },
    };
    MtChecker c;
    mt_check_init(&c, expect, 1);

    MtTxn later = txn(0x80, 8, NORMAL_NC, 9), bell = txn(0x00, 8, NORMAL_NC, 6);
    MtTxn desc = txn(0x40, 8, NORMAL_NC, 5);
    EXPECT_EQ(mt_check_judge(&c, &later), 0u);
    EXPECT_EQ(later.verdict, 0u);
    EXPECT_EQ(later.verdict_seq, MT_SEQ_NONE);
    EXPECT_EQ(mt_check_judge(&c, &bell), 0u);
    EXPECT_EQ(mt_check_judge(&c, &desc), bit(MT_RULE_X_ORDERED));
    EXPECT_EQ(desc.verdict, bit(MT_RULE_X_ORDERED));
    EXPECT_EQ(desc.verdict_seq, 6u);
    EXPECT_EQ(c.judged_bad, 1u);

    // The same pair as Device-nGnRE: V2 too, and the earliest overtaker.
    MtChecker d;
    mt_check_init(&d, expect, 1);
    later.attr = bell.attr = desc.attr = DEVICE_nGnRE;
    mt_check_judge(&d, &later);
    mt_check_judge(&d, &bell);
    EXPECT_EQ(mt_check_judge(&d, &desc),
              bit(MT_RULE_X_ORDERED) | bit(MT_RULE_V_REORDER));
    EXPECT_EQ(desc.verdict_seq, 6u);
}

TEST(CheckVerdict, MaskAsRuleIds)
{
    char buf[MT_RULE_MASK_STR];
    EXPECT_STREQ(mt_rule_mask_str(0, ",", buf), "");
    EXPECT_STREQ(mt_rule_mask_str(bit(MT_RULE_X_ORDERED) |
                                  bit(MT_RULE_V_BARRIER), ",", buf), "V4,X3");
    EXPECT_STREQ(mt_rule_mask_str(UINT32_MAX, "", buf),
                 "C1C2C3F1F2F3F4R1A1A2A3A4T1T2V1V2V3V4V5V6V7X1X2X3K1I1I2I3I4U1S1");
}

} // namespace

namespace {

// A repeated declaration covers each repeat and nothing between them.
TEST(CheckExpect, RepeatsEveryStride)
{
    static const MtExpect expect[] = {
        { 0x08, 0x0c, MT_EXPECT_NO_SPEC_READ, "status", 0x1000, 3 },
    };
    MtChecker c;
    mt_check_init(&c, expect, 1);
    struct {
        uint64_t addr;
        uint32_t size;
        bool hit;
    } cases[] = {
        { 0x08, 4, true }, { 0x0c, 4, false }, { 0x00, 8, false },
        { 0x00, 64, true }, { 0x1008, 1, true }, { 0x100b, 1, true },
        { 0x100c, 64, false }, { 0x2000, 16, true }, { 0x3008, 4, false },
        { 0x0fc0, 64, false }, { 0x0ff0, 32, true },
    };
    for (const auto &k : cases) {
        MtTxn t = txn(k.addr, k.size, NORMAL_NC, 1);
        t.flags = MT_TXN_SPECULATIVE;
        EXPECT_EQ(mt_check_txn(&c, &t) == bit(MT_RULE_X_NO_SPEC), k.hit)
            << std::hex << k.addr << "+" << k.size;
    }
}

} // namespace
