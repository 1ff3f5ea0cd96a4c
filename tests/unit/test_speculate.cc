// SPDX-License-Identifier: GPL-2.0-or-later
// GoogleTest for hw/memtype/speculate.c: speculative reads only for Normal
// types, never for Device ones, never beyond the read's page or the
// region, deterministic per seed; and the checker's verdict on them.
#include <gtest/gtest.h>

#include <set>
#include <tuple>
#include <vector>

#include "check.h"
#include "speculate.h"

namespace {

const uint8_t NORMAL_NC = 0x44, NORMAL_WB = 0xff;
const uint8_t DEVICE_TYPES[] = { 0x00, 0x04, 0x08, 0x0c };

MtAccess read_at(uint64_t addr, uint32_t size, uint8_t attr, uint64_t seq = 1)
{
    MtAccess a = {};
    a.addr = addr;
    a.size = size;
    a.attr = attr;
    a.seq = seq;
    return a;
}

using Reads = std::vector<std::tuple<uint64_t, uint64_t, uint32_t>>;

// Every speculative read of @n reads at random places, with @seed.
Reads run(uint64_t seed, uint8_t attr, unsigned n, uint64_t region = 65536)
{
    MtSpeculate s;
    MtSpecRead out[MT_SPEC_MAX_READS];
    Reads got;

    EXPECT_EQ(mt_spec_init(&s, seed, 64, region), 0);
    for (unsigned i = 0; i < n; i++) {
        uint64_t addr = (i * 2654435761u) % region & ~UINT64_C(3);
        MtAccess a = read_at(addr, 4, attr, i);
        unsigned k = mt_spec_reads(&s, &a, out);
        for (unsigned j = 0; j < k; j++) {
            got.emplace_back(i, out[j].addr, out[j].size);
        }
    }
    return got;
}

TEST(Speculate, BadGeometryRejected)
{
    MtSpeculate s;
    EXPECT_EQ(mt_spec_init(&s, 1, 0, 4096), -1);
    EXPECT_EQ(mt_spec_init(&s, 1, 48, 4096), -1);
    EXPECT_EQ(mt_spec_init(&s, 1, 8192, 4096), -1);
    EXPECT_EQ(mt_spec_init(&s, 1, 64, 0), -1);
    EXPECT_EQ(mt_spec_init(&s, 1, 64, 4096), 0);
}

TEST(Speculate, SameSeedSameReads)
{
    EXPECT_EQ(run(7, NORMAL_NC, 500), run(7, NORMAL_NC, 500));
    EXPECT_NE(run(7, NORMAL_NC, 500), run(8, NORMAL_NC, 500));
}

TEST(Speculate, NormalTypesAreReadSpeculatively)
{
    EXPECT_FALSE(run(1, NORMAL_NC, 100).empty());
    EXPECT_FALSE(run(1, NORMAL_WB, 100).empty());
}

TEST(Speculate, NeverForADeviceType)
{
    for (uint8_t attr : DEVICE_TYPES) {
        for (uint64_t seed = 0; seed < 20; seed++) {
            EXPECT_TRUE(run(seed, attr, 200).empty()) << std::hex << +attr;
        }
    }
}

TEST(Speculate, NeverForWritesOrUntypedAccesses)
{
    MtSpeculate s;
    MtSpecRead out[MT_SPEC_MAX_READS];
    ASSERT_EQ(mt_spec_init(&s, 3, 64, 4096), 0);
    for (int i = 0; i < 100; i++) {
        MtAccess w = read_at(8, 4, NORMAL_NC), u = w;
        w.flags = MT_TXN_WRITE;
        u.flags = MT_TXN_UNTYPED;
        EXPECT_EQ(mt_spec_reads(&s, &w, out), 0u);
        EXPECT_EQ(mt_spec_reads(&s, &u, out), 0u);
    }
    EXPECT_EQ(s.issued, 0u);
}

// The rest of the line, and the next line: never the read's own bytes,
// never outside the read's 4 KiB page or the region.
TEST(Speculate, ShapesStayInThePageAndOffTheReadsBytes)
{
    MtSpeculate s;
    MtSpecRead out[MT_SPEC_MAX_READS];
    std::set<std::pair<uint64_t, uint32_t>> shapes;
    const uint64_t region = 3 * 4096;
    ASSERT_EQ(mt_spec_init(&s, 11, 64, region), 0);
    for (uint64_t addr = 0; addr < region; addr += 4) {
        for (int rep = 0; rep < 4; rep++) {
            MtAccess a = read_at(addr, 4, NORMAL_NC);
            unsigned n = mt_spec_reads(&s, &a, out);
            ASSERT_LE(n, (unsigned)MT_SPEC_MAX_READS);
            for (unsigned j = 0; j < n; j++) {
                uint64_t lo = out[j].addr, hi = lo + out[j].size;
                ASSERT_GT(out[j].size, 0u);
                ASSERT_LE(hi, region);
                ASSERT_EQ(lo / 4096, addr / 4096) << "left the page";
                ASSERT_EQ(lo / 64, (hi - 1) / 64) << "spans two lines";
                ASSERT_TRUE(hi <= addr || lo >= addr + 4) << "re-read bytes";
                ASSERT_LE(lo / 64, addr / 64 + 1) << "beyond the next line";
                if (j) {
                    ASSERT_GE(lo, out[j - 1].addr + out[j - 1].size);
                }
                if (addr % 64 == 8) {
                    shapes.insert({ lo - addr / 64 * 64, out[j].size });
                }
            }
        }
    }
    // A read at +8 of a line: [0, 8), [12, 64) and the next line are all
    // seen for some read.
    EXPECT_TRUE(shapes.count({ 0, 8 }));
    EXPECT_TRUE(shapes.count({ 12, 52 }));
    EXPECT_TRUE(shapes.count({ 64, 64 }));
}

// The last line of a page has no next line in the model.
TEST(Speculate, NoNextLineAcrossAPage)
{
    MtSpeculate s;
    MtSpecRead out[MT_SPEC_MAX_READS];
    ASSERT_EQ(mt_spec_init(&s, 5, 64, 8192), 0);
    for (int i = 0; i < 200; i++) {
        MtAccess a = read_at(4096 - 64, 64, NORMAL_NC);
        EXPECT_EQ(mt_spec_reads(&s, &a, out), 0u);
    }
}

// The checker: a speculative read of a read-sensitive register is X1, of a
// Device type V6; a plain read of either is legal.
TEST(Speculate, CheckerVerdicts)
{
    static const MtExpect rc = { 8, 12, MT_EXPECT_NO_SPEC_READ, "status", 0, 0 };
    MtChecker c;
    mt_check_init(&c, &rc, 1);

    MtAccess a = read_at(0, 8, NORMAL_NC, 1);
    MtTxn t;
    mt_txn_from_access(&a, &t);
    EXPECT_EQ(mt_check_judge(&c, &t), 0u);
    t.addr = 8;
    t.size = 4;
    EXPECT_EQ(mt_check_judge(&c, &t), 0u) << "the program's own read";
    t.flags |= MT_TXN_SPECULATIVE;
    EXPECT_EQ(mt_check_judge(&c, &t), 1u << MT_RULE_X_NO_SPEC);
    EXPECT_EQ(t.verdict, 1u << MT_RULE_X_NO_SPEC);
    EXPECT_EQ(t.verdict_seq, MT_SEQ_NONE);
    t.addr = 12;
    EXPECT_EQ(mt_check_judge(&c, &t), 0u) << "beside the register";
    t.attr = 0x04;
    EXPECT_EQ(mt_check_judge(&c, &t), 1u << MT_RULE_V_SPEC_DEVICE);
    EXPECT_EQ(c.violations[MT_RULE_X_NO_SPEC], 1u);
    EXPECT_EQ(c.violations[MT_RULE_V_SPEC_DEVICE], 1u);
    EXPECT_EQ(c.judged_bad, 2u);
}

}  // namespace

namespace {

// The choice for a read depends on its seed and the address alone: reads before it
// (another cell, another shard of the matrix) change nothing.
TEST(Speculate, ChoiceOwesNothingToEarlierReads)
{
    MtSpeculate fresh, used;
    MtSpecRead a_out[MT_SPEC_MAX_READS], b_out[MT_SPEC_MAX_READS];
    unsigned differ = 0;

    for (uint64_t addr = 0; addr < 4096; addr += 64) {
        ASSERT_EQ(mt_spec_init(&fresh, 7, 64, 1 << 20), 0);
        ASSERT_EQ(mt_spec_init(&used, 7, 64, 1 << 20), 0);
        for (uint64_t i = 0; i < addr / 64 % 5; i++) {
            MtAccess other = read_at(0x10000 + 64 * i, 4, 0x44);
            mt_spec_reads(&used, &other, b_out);
        }
        MtAccess a = read_at(addr + 8, 4, 0x44);
        unsigned na = mt_spec_reads(&fresh, &a, a_out);
        unsigned nb = mt_spec_reads(&used, &a, b_out);
        ASSERT_EQ(na, nb) << "addr " << addr;
        for (unsigned k = 0; k < na; k++) {
            EXPECT_EQ(a_out[k].addr, b_out[k].addr);
            EXPECT_EQ(a_out[k].size, b_out[k].size);
        }
        MtSpeculate other_seed;
        MtSpecRead c_out[MT_SPEC_MAX_READS];
        ASSERT_EQ(mt_spec_init(&other_seed, 8, 64, 1 << 20), 0);
        differ += mt_spec_reads(&other_seed, &a, c_out) != na;
    }
    EXPECT_GT(differ, 0u) << "the PRNG's seed chooses nothing";
}

TEST(SpeculateUnsafe, ReadsDeviceTypesSpeculatively)
{
    MtSpeculate s;
    MtSpecRead out[MT_SPEC_MAX_READS];
    unsigned n = 0;
    ASSERT_EQ(mt_spec_init(&s, 1, 64, 4096), 0);
    s.unsafe = true;
    for (int i = 0; i < 20; i++) {
        MtAccess a = read_at(64 * i + 8, 4, 0x04);
        n += mt_spec_reads(&s, &a, out);
    }
    EXPECT_GT(n, 0u);
}

}  // namespace
