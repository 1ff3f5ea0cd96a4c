// SPDX-License-Identifier: GPL-2.0-or-later
// GoogleTest for hw/memtype/oracle.c: barlab's story (the stage-2 policy
// decides whether unaligned stores, STP and DC ZVA fault, and whether
// bursts gather) and invariants over every S1 attribute and pattern.
#include <gtest/gtest.h>

#include <iterator>
#include <string>

#include "check.h"
#include "oracle.h"
#include "reorder.h"
#include "rules.h"
#include "speculate.h"

namespace {

// @pat on the named CPU; @kinds: what a user's pattern declares (MT_USER_*).
MtPrediction predict_pattern(const char *cpu, MtPolicy policy, bool pref, uint8_t s1,
                             const MtPattern *pat, unsigned kinds = 0)
{
    MtScenario s = {};
    MtPrediction p;
    s.cpu = mt_cpu_find(cpu);
    s.policy = policy;
    s.bar_prefetchable = pref;
    s.s1_attr = s1;
    s.pattern = pat;
    s.pattern_kinds = (uint8_t)kinds;
    EXPECT_NE(s.cpu, nullptr);
    EXPECT_NE(s.pattern, nullptr);
    EXPECT_EQ(mt_predict(&s, &p), 0);
    return p;
}

MtPrediction predict(const char *cpu, MtPolicy policy, bool pref, uint8_t s1,
                     const char *pattern)
{
    return predict_pattern(cpu, policy, pref, s1, mt_pattern_find(pattern));
}

const char *const cpus[] = { "max", "neoverse-n1" };

TEST(Oracle, DevicePolicyKillsTheVMOnUnalignedNormalNCStores)
{
    for (const char *cpu : cpus) {
        for (const char *pat : { "str8_unaligned", "stp16_unaligned", "dczva",
                                 "memcpy_unaligned", "memset_unaligned" }) {
            MtPrediction p = predict(cpu, MT_POLICY_DEVICE, true, 0x44, pat);
            EXPECT_EQ(p.fault, MT_FAULT_S2_ALIGN) << cpu << " " << pat;
            EXPECT_EQ(p.fault_insn, 0u) << cpu << " " << pat;
            EXPECT_EQ(p.combined_mair, 0x04);
            EXPECT_EQ(p.ntxns, 0u);
        }
        EXPECT_EQ(predict(cpu, MT_POLICY_DEVICE, true, 0x44, "dczva").outcome_rule,
                  MT_RULE_A_DCZVA);
        EXPECT_EQ(predict(cpu, MT_POLICY_DEVICE, true, 0x44, "str8_unaligned").outcome_rule,
                  MT_RULE_A_S2);
    }
}

TEST(Oracle, AnyPolicyLetsTheSameCodeComplete)
{
    for (const char *cpu : cpus) {
        for (const char *pat : { "str8_unaligned", "stp16_unaligned", "dczva",
                                 "memcpy_unaligned", "memset_unaligned" }) {
            MtPrediction p = predict(cpu, MT_POLICY_ANY, true, 0x44, pat);
            EXPECT_EQ(p.fault, MT_FAULT_NONE) << cpu << " " << pat;
            EXPECT_EQ(p.combined_mair, 0x44);
            EXPECT_GT(p.ntxns, 0u);
        }
    }
}

TEST(Oracle, BurstsGatherOnlyUnderNormalNCAtStage2)
{
    for (const char *pat : { "burst64_str", "burst64_stp", "burst64_st1" }) {
        MtPrediction any = predict("max", MT_POLICY_ANY, true, 0x44, pat);
        ASSERT_EQ(any.ntxns, 1u) << pat;
        EXPECT_EQ(any.txns[0].size, 64u);
        EXPECT_EQ(any.txns[0].naccesses, 8);
        EXPECT_TRUE(any.may_gather);

        MtPrediction dev = predict("max", MT_POLICY_DEVICE, true, 0x44, pat);
        EXPECT_EQ(dev.fault, MT_FAULT_NONE);
        ASSERT_EQ(dev.ntxns, 8u) << pat;
        for (unsigned i = 0; i < 8; i++) {
            EXPECT_EQ(dev.txns[i].size, 8u);
            EXPECT_EQ(dev.txns[i].offset, 8 * i);
            EXPECT_EQ(dev.txns[i].naccesses, 1);
        }
        EXPECT_FALSE(dev.may_gather);
    }
}

TEST(Oracle, ADmbSplitsTheBurst)
{
    MtPrediction any = predict("max", MT_POLICY_ANY, true, 0x44, "burst64_str_dmb");
    ASSERT_EQ(any.ntxns, 2u);
    for (unsigned i = 0; i < 2; i++) {
        EXPECT_EQ(any.txns[i].offset, 32 * i);
        EXPECT_EQ(any.txns[i].size, 32u);
        EXPECT_EQ(any.txns[i].naccesses, 4);
    }
    EXPECT_EQ(predict("max", MT_POLICY_DEVICE, true, 0x44, "burst64_str_dmb").ntxns, 8u);
}

// memcpy's two STP X, X at +3 and +19 and memset's overlapping pair at +2
// and +16 gather into one write of the bytes they cover under Normal-NC;
// their first STP is unaligned, so under a stage-1 Device type it faults
// at EL1 and nothing reaches the device.
TEST(Oracle, InlinedMemcpyAndMemsetGatherIntoOneWrite)
{
    const struct {
        const char *pat;
        uint32_t offset, size;
    } cases[] = { { "memcpy_unaligned", 3, 32 }, { "memset_unaligned", 2, 30 } };

    for (const auto &c : cases) {
        MtPrediction any = predict("max", MT_POLICY_ANY, true, 0x44, c.pat);
        ASSERT_EQ(any.ntxns, 1u) << c.pat;
        EXPECT_EQ(any.txns[0].offset, c.offset) << c.pat;
        EXPECT_EQ(any.txns[0].size, c.size) << c.pat;
        EXPECT_EQ(any.txns[0].naccesses, 4) << c.pat;
        EXPECT_TRUE(any.txns[0].write);
        EXPECT_EQ(any.outcome_rule, MT_RULE_A_NORMAL) << c.pat;
        EXPECT_TRUE(any.may_gather);

        for (uint8_t s1 : { 0x04, 0x0c }) {
            MtPrediction dev = predict("neoverse-n1", MT_POLICY_ANY, true, s1, c.pat);
            EXPECT_EQ(dev.fault, MT_FAULT_S1_ALIGN) << c.pat;
            EXPECT_EQ(dev.fault_insn, 0u);
            EXPECT_EQ(dev.ntxns, 0u);
        }
    }
}

TEST(Oracle, StageOneDeviceFaultsInTheGuestUnderEveryPolicy)
{
    for (const char *cpu : cpus) {
        for (int pol = 0; pol < MT_POLICY__COUNT; pol++) {
            for (uint8_t s1 : { 0x04, 0x0c }) {
                MtPrediction p = predict(cpu, MtPolicy(pol), true, s1, "str8_unaligned");
                if (p.refused) {
                    continue;   /* no guest runs at all */
                }
                EXPECT_EQ(p.fault, MT_FAULT_S1_ALIGN);
                EXPECT_EQ(p.outcome_rule, MT_RULE_A_S1);
                EXPECT_EQ(predict(cpu, MtPolicy(pol), true, s1, "dczva").fault,
                          MT_FAULT_S1_ALIGN);
            }
        }
    }
}

TEST(Oracle, PrefetchablePolicyFollowsTheBar)
{
    EXPECT_EQ(mt_policy_s2_attr(MT_POLICY_PREFETCHABLE, true, false), 0x5);
    EXPECT_EQ(mt_policy_s2_attr(MT_POLICY_PREFETCHABLE, false, false), 0x1);
    EXPECT_EQ(mt_policy_s2_attr(MT_POLICY_ANY, false, true), 0x5);
    EXPECT_EQ(mt_policy_s2_attr(MT_POLICY_DEVICE, true, true), 0x1);
    MtPrediction bar0 = predict("max", MT_POLICY_PREFETCHABLE, false, 0x44, "str8_unaligned");
    EXPECT_EQ(bar0.fault, MT_FAULT_S2_ALIGN);
    MtPrediction bar2 = predict("max", MT_POLICY_PREFETCHABLE, true, 0x44, "str8_unaligned");
    EXPECT_EQ(bar2.fault, MT_FAULT_NONE);
}

// Linux 6.17's cacheable PFNMAP: with FEAT_S2FWB and CTR_EL0.DIC (-cpu
// max) KVM maps the prefetchable BAR with the FWB "force Write-Back"
// encoding, so even a stage-1 Normal-NC or Device mapping becomes
// Normal-WB; without them (-cpu neoverse-n1, cortex-a57) the memory slot
// is refused.  A non-prefetchable BAR stays Normal-NC, as under "any".
TEST(Oracle, CacheablePolicyNeedsFWBAndDIC)
{
    MtPrediction p = predict("max", MT_POLICY_CACHEABLE, true, 0x44, "str8_unaligned");
    EXPECT_FALSE(p.refused);
    EXPECT_EQ(p.s2_attr, 0x6);
    EXPECT_EQ(p.combined_mair, 0xff);
    EXPECT_EQ(p.combine_rule, MT_RULE_C_FWB_WB);
    EXPECT_EQ(p.fault, MT_FAULT_NONE);
    p = predict("max", MT_POLICY_CACHEABLE, true, 0x04, "str8");
    EXPECT_EQ(p.combined_mair, 0xff);
    EXPECT_TRUE(p.may_gather);
    p = predict("max", MT_POLICY_CACHEABLE, true, 0x04, "str8_unaligned");
    EXPECT_EQ(p.fault, MT_FAULT_S1_ALIGN);  // checked on stage 1 alone
    for (const char *cpu : { "neoverse-n1", "cortex-a57" }) {
        p = predict(cpu, MT_POLICY_CACHEABLE, true, 0x44, "str8");
        EXPECT_TRUE(p.refused) << cpu;
        EXPECT_EQ(p.ntxns, 0u);
        EXPECT_EQ(p.outcome_rule, MT_RULE_K_CACHEABLE_PFNMAP);
        EXPECT_EQ(p.fault, MT_FAULT_NONE);
    }
    char buf[64];
    EXPECT_STREQ(mt_prediction_summary(&p, buf, sizeof(buf)), "refused by KVM");
    for (const char *cpu : { "max", "neoverse-n1" }) {
        p = predict(cpu, MT_POLICY_CACHEABLE, false, 0x44, "str8_unaligned");
        EXPECT_FALSE(p.refused) << cpu;
        EXPECT_EQ(p.s2_attr, 0x5) << cpu;
        EXPECT_EQ(p.fault, MT_FAULT_NONE);
    }
    EXPECT_FALSE(mt_policy_refused(MT_POLICY_ANY, true, mt_cpu_find("cortex-a57")));
    EXPECT_TRUE(mt_policy_refused(MT_POLICY_CACHEABLE, true, mt_cpu_find("cortex-a57")));
}

// Which CPU models have what (QEMU's models; the matrix labels and the
// cacheable policy read these).
TEST(OracleNames, CpuFeatures)
{
    const MtCpu *max = mt_cpu_find("max"), *n1 = mt_cpu_find("neoverse-n1"),
                *a57 = mt_cpu_find("cortex-a57");
    ASSERT_TRUE(max && n1 && a57);
    EXPECT_TRUE(max->fwb && max->dic && max->vhe);
    EXPECT_TRUE(!n1->fwb && !n1->dic && n1->vhe);
    EXPECT_TRUE(!a57->fwb && !a57->dic && !a57->vhe);
}

TEST(Oracle, AlignedStpCompletesOnDevice)
{
    MtPrediction p = predict("neoverse-n1", MT_POLICY_DEVICE, true, 0x04, "stp16");
    EXPECT_EQ(p.fault, MT_FAULT_NONE);
    ASSERT_EQ(p.ntxns, 2u);
    EXPECT_EQ(p.combine_rule, MT_RULE_C_STRONGER_DEVICE);
}

TEST(Oracle, CombineRuleNamesTheFWBCase)
{
    EXPECT_EQ(predict("max", MT_POLICY_ANY, true, 0x04, "str8").combine_rule,
              MT_RULE_C_FWB_NC);
    EXPECT_EQ(predict("neoverse-n1", MT_POLICY_ANY, true, 0x04, "str8").combine_rule,
              MT_RULE_C_DEVICE_WINS);
    EXPECT_EQ(predict("neoverse-n1", MT_POLICY_ANY, true, 0xff, "str8").combine_rule,
              MT_RULE_C_CACHE);
    EXPECT_EQ(predict("max", MT_POLICY_DEVICE, true, 0xff, "str8").combine_rule,
              MT_RULE_C_FWB_DEVICE);
}

TEST(Oracle, Summaries)
{
    char buf[64];
    MtPrediction p = predict("max", MT_POLICY_ANY, true, 0x44, "burst64_str");
    EXPECT_STREQ(mt_prediction_summary(&p, buf, sizeof(buf)), "ok 1x64B gathered");
    p = predict("max", MT_POLICY_DEVICE, true, 0x44, "burst64_stp");
    EXPECT_STREQ(mt_prediction_summary(&p, buf, sizeof(buf)), "ok 8x8B");
    p = predict("max", MT_POLICY_DEVICE, true, 0x44, "stp16_unaligned");
    EXPECT_STREQ(mt_prediction_summary(&p, buf, sizeof(buf)), "EL2 align fault");
    p = predict("max", MT_POLICY_ANY, true, 0x03, "str8");
    EXPECT_STREQ(mt_prediction_summary(&p, buf, sizeof(buf)), "UNPREDICTABLE");
    p = predict("max", MT_POLICY_ANY, true, 0x44, "ldxr_stxr");
    EXPECT_STREQ(mt_prediction_summary(&p, buf, sizeof(buf)), "IMPDEF: ok 2x8B");
    p = predict("max", MT_POLICY_CACHEABLE, true, 0x44, "ldxr_stxr");
    EXPECT_STREQ(mt_prediction_summary(&p, buf, sizeof(buf)), "ok 2x8B");
    p = predict("cortex-a57", MT_POLICY_ANY, true, 0x44, "swp8");
    EXPECT_STREQ(mt_prediction_summary(&p, buf, sizeof(buf)), "UNDEFINED insn");
}

// Every S1 byte x pattern x policy x CPU: predictions are self-consistent:
// reserved types predict nothing, completing patterns reach the device,
// only stage-1 Device faults at stage 1, and only Gathering types merge.
class OracleAll : public ::testing::TestWithParam<unsigned> {};

TEST_P(OracleAll, Consistent)
{
    uint8_t s1 = GetParam();
    for (const char *cpu : { "max", "neoverse-n1", "cortex-a57" }) {
        for (int pol = 0; pol < MT_POLICY__COUNT; pol++) {
            for (unsigned i = 0; i < mt_pattern_count(); i++) {
                const char *pat = mt_pattern_at(i)->name;
                // Doorbell patterns run on the push page, a prefetchable BAR.
                bool pref = pol != 0 || mt_pattern_at(i)->target == MT_TARGET_PUSH;
                MtPrediction p = predict(cpu, MtPolicy(pol), pref, s1, pat);
                MtAttrs a;
                bool reserved =
                    mt_decode_mair(s1, mt_cpu_find(cpu)->mair_features, &a) != MT_OK;

                if (reserved) {
                    EXPECT_EQ(p.combined_mair, -1);
                    EXPECT_EQ(p.ntxns, 0u);
                    continue;
                }
                if (p.refused) {
                    EXPECT_EQ(p.ntxns, 0u);
                    EXPECT_EQ(p.outcome_rule, MT_RULE_K_CACHEABLE_PFNMAP);
                    continue;
                }
                EXPECT_GE(p.combined_mair, 0);
                if (p.fault == MT_FAULT_NONE && p.outcome == MT_OUT_COMPLETE) {
                    EXPECT_GT(p.ntxns, 0u) << pat;
                }
                if (p.outcome != MT_OUT_COMPLETE) {
                    // No access (hints, or UNDEFINED before one), or more than
                    // one permitted outcome named with its rule.
                    EXPECT_TRUE(p.ntxns == 0u || p.outcome_rule == MT_RULE_I_CMO) << pat;
                }
                EXPECT_NE(p.permitted & (1u << p.outcome), 0u) << pat;
                if (p.fault == MT_FAULT_S1_ALIGN) {
                    EXPECT_EQ(a.kind, MT_KIND_DEVICE);
                }
                for (unsigned t = 0; t < p.ntxns; t++) {
                    EXPECT_LE(p.txns[t].size, 64u);
                    if (!p.may_gather) {
                        EXPECT_EQ(p.txns[t].naccesses, 1);
                    }
                }
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllS1, OracleAll, ::testing::Range(0u, 256u));

TEST(OracleNames, PoliciesAndPatterns)
{
    uint8_t pol;
    EXPECT_EQ(mt_policy_parse("prefetchable", &pol), 0);
    EXPECT_EQ(pol, MT_POLICY_PREFETCHABLE);
    EXPECT_EQ(mt_policy_parse("cacheable", &pol), 0);
    EXPECT_EQ(pol, MT_POLICY_CACHEABLE);
    EXPECT_STREQ(mt_policy_name(MT_POLICY_CACHEABLE), "cacheable");
    EXPECT_NE(mt_policy_parse("none", &pol), 0);
    EXPECT_EQ(mt_pattern_find("nope"), nullptr);
    EXPECT_EQ(mt_cpu_find("cortex-a53"), nullptr);
}

TEST(OracleCpu, FeatureEncodingsArePredictedWhereTheCpuHasThem)
{
    for (uint8_t s1 : { 0x40, 0xa0, 0xf0, 0x05 }) {
        MtPrediction max = predict("max", MT_POLICY_ANY, true, s1, "str8");
        EXPECT_GE(max.combined_mair, 0) << int(s1);
        EXPECT_EQ(max.ntxns, 1u) << int(s1);
        MtPrediction n1 = predict("neoverse-n1", MT_POLICY_ANY, true, s1, "str8");
        EXPECT_EQ(n1.combined_mair, -1) << int(s1);
        EXPECT_EQ(n1.outcome_rule, MT_RULE_C_RESERVED);
    }
    // 0x40 is Normal-NC with XS=0: over stage-2 Normal-NC it is Normal-NC.
    EXPECT_EQ(predict("max", MT_POLICY_ANY, true, 0x40, "str8").combined_mair, 0x44);
    // Device-nGnRE with XS=0 (0x05) faults like Device-nGnRE.
    EXPECT_EQ(predict("max", MT_POLICY_ANY, true, 0x05, "str8_unaligned").fault,
              MT_FAULT_S1_ALIGN);
    EXPECT_TRUE(mt_cpu_find("max")->lse && mt_cpu_find("neoverse-n1")->lse);
    EXPECT_FALSE(mt_cpu_find("cortex-a57")->lse);
}

// Exclusives and atomics outside Write-Back memory: the oracle names every
// permitted outcome and the rule; on Write-Back only completion.
TEST(OracleImpdef, ExclusivesAndAtomicsOnDeviceAndNormalNC)
{
    const unsigned complete = 1u << MT_OUT_COMPLETE, fails = 1u << MT_OUT_STXR_FAILS,
                   abort = 1u << MT_OUT_ABORT_EXCL;
    for (uint8_t s1 : { 0x04, 0x44 }) {
        for (MtPolicy pol : { MT_POLICY_DEVICE, MT_POLICY_ANY }) {
            MtPrediction x = predict("max", pol, true, s1, "ldxr_stxr");
            EXPECT_EQ(x.permitted, complete | fails | abort);
            EXPECT_EQ(x.outcome_rule, MT_RULE_I_EXCLUSIVE);
            EXPECT_EQ(x.outcome, MT_OUT_COMPLETE);
            ASSERT_GE(x.ntxns, 1u);
            EXPECT_FALSE(x.txns[0].write);
            for (const char *pat : { "cas8", "ldadd8", "swp8" }) {
                MtPrediction a = predict("neoverse-n1", pol, true, s1, pat);
                EXPECT_EQ(a.permitted, complete | abort) << pat;
                EXPECT_EQ(a.outcome_rule, MT_RULE_I_ATOMIC) << pat;
                EXPECT_TRUE(a.mmio_isv0) << pat;
            }
        }
    }
    // The cacheable policy with FWB forces Write-Back: the monitors must work.
    MtPrediction wb = predict("max", MT_POLICY_CACHEABLE, true, 0x44, "ldxr_stxr");
    EXPECT_EQ(wb.permitted, complete);
    MtPrediction wba = predict("max", MT_POLICY_CACHEABLE, true, 0xff, "cas8");
    EXPECT_EQ(wba.permitted, complete);
    // No FEAT_LSE on Cortex-A57: UNDEFINED, nothing reaches the device.
    MtPrediction u = predict("cortex-a57", MT_POLICY_ANY, true, 0x44, "cas8");
    EXPECT_EQ(u.outcome, MT_OUT_UNDEFINED);
    EXPECT_EQ(u.outcome_rule, MT_RULE_I_UNDEFINED);
    EXPECT_EQ(u.ntxns, 0u);
    EXPECT_EQ(predict("cortex-a57", MT_POLICY_ANY, true, 0x44, "ldxr_stxr").outcome,
              MT_OUT_COMPLETE);
}

TEST(OracleImpdef, PrefetchAndCacheMaintenance)
{
    MtPrediction nc = predict("max", MT_POLICY_ANY, true, 0x44, "prfm");
    EXPECT_EQ(nc.outcome, MT_OUT_NO_ACCESS);
    EXPECT_EQ(nc.permitted, (1u << MT_OUT_NO_ACCESS) | (1u << MT_OUT_PREFETCH_READ));
    EXPECT_EQ(nc.ntxns, 0u);
    // Never a speculative read of Device memory.
    MtPrediction dev = predict("max", MT_POLICY_DEVICE, true, 0x44, "prfm");
    EXPECT_EQ(dev.permitted, 1u << MT_OUT_NO_ACCESS);
    for (const char *pat : { "str8_dccvac", "str8_dccivac" }) {
        for (uint8_t s1 : { 0x04, 0x44 }) {
            MtPrediction p = predict("max", MT_POLICY_DEVICE, true, s1, pat);
            EXPECT_EQ(p.fault, MT_FAULT_NONE) << pat;
            EXPECT_EQ(p.outcome_rule, MT_RULE_I_CMO) << pat;
            ASSERT_EQ(p.ntxns, 1u) << pat;
            EXPECT_TRUE(p.txns[0].write);
        }
    }
}

TEST(OracleShapes, PairsAcquireReleaseAndPageCrossing)
{
    for (const char *pat : { "ldp16", "ldnp16" }) {
        MtPrediction p = predict("max", MT_POLICY_DEVICE, true, 0x04, pat);
        ASSERT_EQ(p.ntxns, 2u) << pat;
        EXPECT_FALSE(p.txns[0].write);
        EXPECT_EQ(p.txns[1].offset, 8u);
        EXPECT_TRUE(p.mmio_isv0) << pat;
    }
    MtPrediction rel = predict("max", MT_POLICY_ANY, true, 0x44, "stlr_ldar");
    ASSERT_EQ(rel.ntxns, 2u);
    EXPECT_TRUE(rel.txns[0].write);
    EXPECT_FALSE(rel.txns[1].write);
    EXPECT_FALSE(rel.mmio_isv0);
    // Across the page: two pieces on Normal-NC, a fault on any Device type.
    MtPrediction nc = predict("max", MT_POLICY_ANY, true, 0x44, "str8_pagecross");
    ASSERT_EQ(nc.ntxns, 2u);
    EXPECT_EQ(nc.txns[0].offset, 0xfcu);
    EXPECT_EQ(nc.txns[0].size, 4u);
    EXPECT_EQ(nc.txns[1].offset, 0x100u);
    EXPECT_EQ(predict("max", MT_POLICY_DEVICE, true, 0x44, "str8_pagecross").fault,
              MT_FAULT_S2_ALIGN);
    EXPECT_EQ(predict("max", MT_POLICY_ANY, true, 0x04, "str8_pagecross").fault,
              MT_FAULT_S1_ALIGN);
}

// The syndrome a VMM gets: ISV=1 with SAS/SRT/SF for a single-register
// access, ISV=0 for a pair, SIMD or DC ZVA; stage-1 faults go to EL1.
TEST(OracleSyndrome, StageTwoAlignmentFaults)
{
    MtPrediction s = predict("max", MT_POLICY_DEVICE, true, 0x44, "str8_unaligned");
    EXPECT_EQ(s.syndrome.el, 2);
    EXPECT_EQ(s.syndrome.ec, 0x24);
    EXPECT_EQ(s.syndrome.dfsc, 0x21);
    EXPECT_TRUE(s.syndrome.wnr);
    EXPECT_TRUE(s.syndrome.isv_required);
    EXPECT_EQ(s.syndrome.sas, 3);
    EXPECT_EQ(s.syndrome.srt, 3);
    EXPECT_TRUE(s.syndrome.sf);
    EXPECT_FALSE(s.mmio_isv0);

    MtPrediction l = predict("neoverse-n1", MT_POLICY_DEVICE, true, 0x44, "ldr8_unaligned");
    EXPECT_FALSE(l.syndrome.wnr);
    EXPECT_EQ(l.syndrome.srt, 12);

    for (const char *pat : { "stp16_unaligned", "dczva", "memcpy_unaligned" }) {
        MtPrediction p = predict("max", MT_POLICY_DEVICE, true, 0x44, pat);
        EXPECT_EQ(p.syndrome.el, 2) << pat;
        EXPECT_FALSE(p.syndrome.isv_permitted) << pat;
        EXPECT_TRUE(p.syndrome.wnr) << pat;
    }
    MtPrediction e1 = predict("max", MT_POLICY_ANY, true, 0x04, "str8_unaligned");
    EXPECT_EQ(e1.syndrome.el, 1);
    EXPECT_EQ(e1.syndrome.ec, 0x25);
    EXPECT_TRUE(e1.syndrome.isv_permitted);
    EXPECT_FALSE(e1.syndrome.isv_required);
    // The burst of STP would be ISV=0 if the BAR were trapped, though it completes.
    MtPrediction b = predict("max", MT_POLICY_ANY, true, 0x44, "burst64_stp");
    EXPECT_EQ(b.fault, MT_FAULT_NONE);
    EXPECT_TRUE(b.mmio_isv0);
    EXPECT_FALSE(predict("max", MT_POLICY_ANY, true, 0x44, "burst64_str").mmio_isv0);
}

// Stage 1 Normal-NC (SH=ISH in the guest) over FWB's force-Write-Back: the
// shareability passed on is the implementation's choice.
TEST(OracleShare, FwbForceWriteBackUsesTheChosenStageOneShareability)
{
    MtScenario s = {};
    MtPrediction p;
    s.cpu = mt_cpu_find("max");
    s.policy = MT_POLICY_CACHEABLE;
    s.bar_prefetchable = true;
    s.s1_attr = 0x44;
    s.pattern = mt_pattern_find("str8");
    ASSERT_EQ(mt_predict(&s, &p), 0);
    EXPECT_EQ(p.combined_mair, 0xff);
    EXPECT_EQ(p.share, MT_SH_ISH);      // the CPU's choice: the SH field
    s.s1_share = MT_S1SH_OSH;
    ASSERT_EQ(mt_predict(&s, &p), 0);
    EXPECT_EQ(p.share, MT_SH_OSH);
    s.s1_share = MT_S1SH__COUNT;
    EXPECT_NE(mt_predict(&s, &p), 0);
    // Without force-Write-Back the choice does not show.
    s.policy = MT_POLICY_ANY;
    for (uint8_t c : { MT_S1SH_FIELD, MT_S1SH_OSH }) {
        s.s1_share = c;
        ASSERT_EQ(mt_predict(&s, &p), 0);
        EXPECT_EQ(p.share, MT_SH_OSH);
    }
}

// --- What the port's checker may report on the driver idioms -----------------

MtScenario idiom(uint8_t policy, bool pref, uint8_t s1, const char *pattern, const char *port)
{
    MtScenario s = {};
    char err[160];
    s.cpu = mt_cpu_find("max");
    s.policy = policy;
    s.bar_prefetchable = pref;
    s.s1_attr = s1;
    s.pattern = mt_pattern_find(pattern);
    EXPECT_NE(s.pattern, nullptr) << pattern;
    EXPECT_EQ(mt_port_mode_parse(port, 0, &s.port, err, sizeof(err)), 0) << err;
    snprintf(s.port_spec, sizeof(s.port_spec), "%s", port);
    s.trials = 1;
    return s;
}

std::string possible(const MtScenario &s)
{
    MtPrediction p;
    char buf[MT_RULE_MASK_STR];
    EXPECT_EQ(mt_predict(&s, &p), 0);
    return mt_rule_mask_str(p.violations_possible, ",", buf);
}

TEST(OracleIdioms, TheStageTwoTypeHidesOrShowsTheMissingBarrier)
{
    struct {
        const char *pattern;
        const char *any_nc;     /* policy any, stage 1 Normal-NC */
    } cases[] = {
        { "db_nobarrier", "X3" }, { "db_dmb_oshst", "" }, { "db_dsb", "" },
        { "bf_copy64_db", "X2" }, { "mp_flag", "X3" }, { "rc_read_spec", "X1" },
    };
    for (auto &c : cases) {
        EXPECT_EQ(possible(idiom(MT_POLICY_ANY, true, 0x44, c.pattern, "reorder+speculate:1")),
                  c.any_nc) << c.pattern;
        /* Device-nGnRE at stage 2: no gathering, reordering or speculation. */
        EXPECT_EQ(possible(idiom(MT_POLICY_DEVICE, true, 0x44, c.pattern, "reorder+speculate:1")),
                  "") << c.pattern;
        /* The port in exact mode models nothing. */
        EXPECT_EQ(possible(idiom(MT_POLICY_ANY, true, 0x44, c.pattern, "exact")), "") << c.pattern;
    }
    /* Device-GRE gathers and reorders, but is never read speculatively. */
    EXPECT_EQ(possible(idiom(MT_POLICY_ANY, true, 0x0c, "db_nobarrier", "reorder:3")), "X3");
    EXPECT_EQ(possible(idiom(MT_POLICY_ANY, true, 0x0c, "rc_read_spec", "speculate:3")), "");
    /* Gathering alone merges the copy with its doorbell, and reorders nothing. */
    EXPECT_EQ(possible(idiom(MT_POLICY_ANY, true, 0x44, "bf_copy64_db", "gather")), "X2");
    EXPECT_EQ(possible(idiom(MT_POLICY_ANY, true, 0x44, "db_nobarrier", "gather")), "");
    /* BAR0: the RFC's policy keeps it Device, 6.9's makes it Normal-NC. */
    EXPECT_EQ(possible(idiom(MT_POLICY_PREFETCHABLE, false, 0x44, "rc_read_spec", "speculate:3")), "");
    EXPECT_EQ(possible(idiom(MT_POLICY_ANY, false, 0x44, "rc_read_spec", "speculate:3")), "X1");
    /* The plain patterns run where nothing is declared. */
    EXPECT_EQ(possible(idiom(MT_POLICY_ANY, true, 0x44, "burst64_str", "reorder+speculate:9")), "");
}

TEST(OracleIdioms, DoorbellPatternsNeedThePushPage)
{
    MtScenario s = idiom(MT_POLICY_ANY, false, 0x44, "db_nobarrier", "reorder:1");
    MtPrediction p;
    EXPECT_EQ(mt_window(&s), nullptr);
    EXPECT_EQ(mt_predict(&s, &p), -1);
    s.bar_prefetchable = true;
    ASSERT_NE(mt_window(&s), nullptr);
    EXPECT_STREQ(mt_window(&s)->device, "nic");
    EXPECT_EQ(mt_window(&s)->bar, 2u);
}

// The port's own models (gather, reorder, speculate) and its checker, as
// hw/barlab/port.c chains them, fed the pattern's accesses under many
// seeds: what they report must be what the oracle says is possible, no
// more (never a verdict it rules out) and no less (each possible rule for
// some seed).
struct Port {
    MtGather g;
    MtReorder r;
    MtSpeculate sp;
    MtChecker c;
    bool reorder, speculate;
    uint32_t seen = 0;
};

void port_judge(void *opaque, const MtTxn *txn, uint8_t *data)
{
    Port *p = static_cast<Port *>(opaque);
    MtTxn t = *txn;

    p->seen |= mt_check_judge(&p->c, &t);
    if (!(txn->flags & (MT_TXN_WRITE | MT_TXN_SPECULATIVE)) && p->speculate) {
        MtAccess a = {};
        MtSpecRead spec[MT_SPEC_MAX_READS];
        a.addr = txn->addr;
        a.size = txn->size;
        a.attr = txn->attr;
        a.seq = txn->seq_first;
        a.epoch = txn->epoch_first;
        unsigned n = mt_spec_reads(&p->sp, &a, spec);
        for (unsigned i = 0; i < n; i++) {
            MtTxn st;
            mt_spec_txn(&a, &spec[i], &st);
            p->seen |= mt_check_judge(&p->c, &st);
        }
    }
    (void)data;
}

uint32_t run_port(const MtScenario &s, const MtPrediction &pred, uint64_t seed)
{
    const MtWindow *w = mt_window(&s);
    MtExpect expect[std::size(MtWindow{}.expect)];
    Port *p = new Port();
    MtAccess tmpl = {};

    for (unsigned i = 0; i < w->nexpect; i++) {
        expect[i] = w->expect[i];
        expect[i].lo += w->page_offset;
        expect[i].hi += w->page_offset;
    }
    p->reorder = s.port.reorder;
    p->speculate = s.port.speculate;
    mt_check_init(&p->c, expect, w->nexpect);
    mt_reorder_init(&p->r, seed, 8, port_judge, p);
    mt_spec_init(&p->sp, seed ^ 0x5eed5bec, 64, 4096);
    mt_gather_init(&p->g, 4, 64, 0, p->reorder ? mt_reorder_push : port_judge,
                   p->reorder ? static_cast<void *>(&p->r) : static_cast<void *>(p));
    tmpl.attr = static_cast<uint8_t>(pred.combined_mair);
    tmpl.addr = w->page_offset;
    mt_pattern_run(s.pattern, s.pattern->ninsns, &tmpl, &p->g);
    mt_gather_flush(&p->g, MT_FLUSH_STOP, 0);
    if (p->reorder) {
        mt_reorder_drain(&p->r);
    }
    uint32_t seen = p->seen;
    delete p;
    return seen;
}

TEST(OracleIdioms, ThePortsModelsFindWhatIsPossibleAndNothingElse)
{
    const char *pats[] = { "db_nobarrier", "db_dmb_oshst", "db_dsb", "bf_copy64_db",
                           "mp_flag", "rc_read_spec" };
    const char *ports[] = { "gather", "reorder:0", "speculate:0", "reorder+speculate:0" };
    const uint8_t s1s[] = { 0x04, 0x0c, 0x44 };
    unsigned checked = 0;

    for (const char *pat : pats) {
        for (const char *port : ports) {
            for (uint8_t s1 : s1s) {
                for (uint8_t policy : { MT_POLICY_DEVICE, MT_POLICY_ANY }) {
                    for (bool pref : { true, false }) {
                        MtScenario s = idiom(policy, pref, s1, pat, port);
                        MtPrediction pred;
                        uint32_t seen = 0;
                        char a[MT_RULE_MASK_STR], b[MT_RULE_MASK_STR];

                        if (!mt_window(&s)) {
                            continue;
                        }
                        ASSERT_EQ(mt_predict(&s, &pred), 0);
                        for (uint64_t seed = 0; seed < 64; seed++) {
                            seen |= run_port(s, pred, seed);
                        }
                        EXPECT_EQ(seen, pred.violations_possible)
                            << pat << " " << port << " s1=" << int(s1) << " policy=" << int(policy)
                            << " pref=" << pref << ": the models saw "
                            << mt_rule_mask_str(seen, ",", a) << ", the oracle says "
                            << mt_rule_mask_str(pred.violations_possible, ",", b);
                        checked++;
                    }
                }
            }
        }
    }
    EXPECT_GT(checked, 100u);
}

// A user's pattern (pattern=file:): what its file declares, nothing more.
MtPrediction predict_user(const char *cpu, MtPolicy policy, uint8_t s1, unsigned kinds)
{
    return predict_pattern(cpu, policy, true, s1, mt_pattern_user(), kinds);
}

std::string summary(const MtPrediction &p)
{
    char buf[64];
    return mt_prediction_summary(&p, buf, sizeof(buf));
}

TEST(OracleUser, DeclaredUnalignedFaultsWhereTheTypeSaysAndNeverHasAShape)
{
    MtPrediction p = predict_user("max", MT_POLICY_DEVICE, 0x44, MT_USER_UNALIGNED);
    EXPECT_TRUE(p.user);
    EXPECT_EQ(p.faults_possible, 1u << MT_FAULT_S2_ALIGN);
    EXPECT_EQ(p.fault, MT_FAULT_S2_ALIGN);
    EXPECT_EQ(summary(p), "EL2 align fault");
    p = predict_user("max", MT_POLICY_ANY, 0x44, MT_USER_UNALIGNED | MT_USER_ALIGNED);
    EXPECT_EQ(p.faults_possible, 1u << MT_FAULT_NONE);
    EXPECT_EQ(p.ntxns, 0u);
    EXPECT_EQ(p.permitted, 1u << MT_OUT_COMPLETE);
    EXPECT_EQ(summary(p), "ok ~");
    p = predict_user("neoverse-n1", MT_POLICY_ANY, 0x04, MT_USER_DCZVA);
    EXPECT_EQ(p.fault, MT_FAULT_S1_ALIGN);
    EXPECT_EQ(summary(p), "EL1 align fault");
    /* Only aligned accesses: no fault even on Device. */
    p = predict_user("max", MT_POLICY_DEVICE, 0x04, MT_USER_ALIGNED);
    EXPECT_EQ(p.faults_possible, 1u << MT_FAULT_NONE);
}

TEST(OracleUser, UndeclaredIsUnknownWhereTheKindsDisagree)
{
    /* Device somewhere: aligned completes, unaligned faults: "~". */
    MtPrediction p = predict_user("max", MT_POLICY_DEVICE, 0x44, 0);
    EXPECT_EQ(p.faults_possible, 1u << MT_FAULT_NONE | 1u << MT_FAULT_S2_ALIGN);
    EXPECT_EQ(summary(p), "~ fault or not");
    p = predict_user("max", MT_POLICY_ANY, 0x04, 0);
    EXPECT_EQ(p.faults_possible, 1u << MT_FAULT_NONE | 1u << MT_FAULT_S1_ALIGN);
    /* Normal at both stages: no alignment fault whatever it does; any outcome besides. */
    p = predict_user("max", MT_POLICY_ANY, 0x44, 0);
    EXPECT_EQ(p.faults_possible, 1u << MT_FAULT_NONE);
    EXPECT_EQ(p.permitted, (1u << MT_OUT__COUNT) - 1);
    EXPECT_EQ(summary(p), "IMPDEF: ok ~");
}

TEST(OracleUser, ExclusivesAndAtomicsAsDeclared)
{
    MtPrediction p = predict_user("max", MT_POLICY_ANY, 0x44, MT_USER_EXCLUSIVE);
    EXPECT_EQ(p.permitted, 1u << MT_OUT_COMPLETE | 1u << MT_OUT_STXR_FAILS |
                           1u << MT_OUT_ABORT_EXCL);
    EXPECT_EQ(p.impdef_rule, MT_RULE_I_EXCLUSIVE);
    p = predict_user("cortex-a57", MT_POLICY_ANY, 0x44, MT_USER_ATOMIC);
    EXPECT_EQ(p.permitted, 1u << MT_OUT_UNDEFINED);
    EXPECT_EQ(p.outcome, MT_OUT_UNDEFINED);
    p = predict_user("max", MT_POLICY_CACHEABLE, 0xff, MT_USER_ATOMIC | MT_USER_EXCLUSIVE);
    EXPECT_EQ(p.permitted, 1u << MT_OUT_COMPLETE);
    EXPECT_EQ(mt_pattern_find("user"), nullptr);
}

} // namespace
