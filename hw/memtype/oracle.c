/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The expectation oracle: see oracle.h. */
#include "oracle.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../barlab/barlab-gpu.h"
#include "gather.h"
#include "patterns.h"
#include "rules.h"
#include "speculate.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The register each instruction transfers, as the matrix payload
 * (matrix-patterns.S) writes it: loads into x12, stores from x3 (bursts
 * from x3 up, one register each).
 */
#define LOAD_OP(op) ((op) == MT_OP_LDR || (op) == MT_OP_LDP || (op) == MT_OP_LDNP || \
                     (op) == MT_OP_LDAR || (op) == MT_OP_LDXR)
#define INSN_RT(o, s, e, off, r) \
    { .op = MT_OP_##o, .size = s, .esize = e, .offset = off, .rt = r }
#define INSN(o, s, e, off) INSN_RT(o, s, e, off, LOAD_OP(MT_OP_##o) ? 12 : 3)
/* A 64-byte descriptor at @off as eight STR X, from x3 up. */
#define DESCRIPTOR(off) \
    INSN_RT(STR, 8, 8, (off), 3), INSN_RT(STR, 8, 8, (off) + 8, 4), \
    INSN_RT(STR, 8, 8, (off) + 16, 5), INSN_RT(STR, 8, 8, (off) + 24, 6), \
    INSN_RT(STR, 8, 8, (off) + 32, 7), INSN_RT(STR, 8, 8, (off) + 40, 8), \
    INSN_RT(STR, 8, 8, (off) + 48, 9), INSN_RT(STR, 8, 8, (off) + 56, 10)

/*
 * What each instruction is (MtOpInfo).  isv: ESR_ELx.ISV can be 1 for a
 * Data Abort on it, the ISS encoding for a Data Abort: "loads and stores of
 * a single general-purpose register ..., including those with Acquire/
 * Release semantics, but excluding Load Exclusive or Store Exclusive and
 * excluding those with writeback"; not pairs, SIMD, DC ZVA or atomics.
 */
static const MtOpInfo op_table[MT_OP__COUNT] = {
    /*                    name        kind               read   write  isv    acqrel lse */
    [MT_OP_STR]     = { "STR",      MT_OPK_PLAIN,     false, true,  true,  false, false },
    [MT_OP_LDR]     = { "LDR",      MT_OPK_PLAIN,     true,  false, true,  false, false },
    [MT_OP_STP]     = { "STP",      MT_OPK_PLAIN,     false, true,  false, false, false },
    [MT_OP_LDP]     = { "LDP",      MT_OPK_PLAIN,     true,  false, false, false, false },
    [MT_OP_ST1]     = { "ST1",      MT_OPK_PLAIN,     false, true,  false, false, false },
    [MT_OP_DCZVA]   = { "DC ZVA",   MT_OPK_ZVA,       false, true,  false, false, false },
    [MT_OP_DMB]     = { "DMB",      MT_OPK_BARRIER,   false, false, false, false, false },
    [MT_OP_LDNP]    = { "LDNP",     MT_OPK_PLAIN,     true,  false, false, false, false },
    [MT_OP_LDXR]    = { "LDXR",     MT_OPK_EXCLUSIVE, true,  false, false, false, false },
    [MT_OP_STXR]    = { "STXR",     MT_OPK_EXCLUSIVE, false, true,  false, false, false },
    [MT_OP_CAS]     = { "CAS",      MT_OPK_ATOMIC,    true,  true,  false, false, true },
    [MT_OP_LDADD]   = { "LDADD",    MT_OPK_ATOMIC,    true,  true,  false, false, true },
    [MT_OP_SWP]     = { "SWP",      MT_OPK_ATOMIC,    true,  true,  false, false, true },
    [MT_OP_LDAR]    = { "LDAR",     MT_OPK_PLAIN,     true,  false, true,  true,  false },
    [MT_OP_STLR]    = { "STLR",     MT_OPK_PLAIN,     false, true,  true,  true,  false },
    [MT_OP_PRFM]    = { "PRFM",     MT_OPK_HINT,      false, false, false, false, false },
    [MT_OP_DCCVAC]  = { "DC CVAC",  MT_OPK_CMO,       false, false, false, false, false },
    [MT_OP_DCCIVAC] = { "DC CIVAC", MT_OPK_CMO,       false, false, false, false, false },
    [MT_OP_DSB]     = { "DSB",      MT_OPK_BARRIER,   false, false, false, false, false },
};

/* The pattern's index in the table and its target: patterns.h says both. */
#define PATTERN_INDEX(name, target) PAT_##name,
#define PATTERN_TARGET(name, target) PAT_TARGET_##name = MT_TARGET_##target,
enum { MT_PATTERNS(PATTERN_INDEX) PAT__COUNT };
enum { MT_PATTERNS(PATTERN_TARGET) };
/* An entry at its place in patterns.h's order: NAME, its title and instructions. */
#define PATTERN(name, ...) [PAT_##name] = { #name, __VA_ARGS__, PAT_TARGET_##name }

/*
 * The access patterns.  Offsets are within one 64-byte line of the BAR;
 * "unaligned" ones sit where memcpy()/memset() tails put them.
 */
static const MtPattern patterns[PAT__COUNT] = {
    PATTERN(str8, "aligned 8-byte store (STR X)", 1, { INSN(STR, 8, 8, 0) }),
    PATTERN(str8_unaligned, "unaligned 8-byte store (STR X at +4)", 1,
      { INSN(STR, 8, 8, 4) }),
    PATTERN(ldr8, "aligned 8-byte load (LDR X)", 1, { INSN(LDR, 8, 8, 0) }),
    PATTERN(ldr8_unaligned, "unaligned 8-byte load (LDR X at +4)", 1,
      { INSN(LDR, 8, 8, 4) }),
    PATTERN(stp16, "16-byte store pair (STP X, X), 16-byte aligned", 1,
      { INSN(STP, 16, 8, 0) }),
    PATTERN(stp16_unaligned, "16-byte store pair at +4, as memcpy tails emit", 1,
      { INSN(STP, 16, 8, 4) }),
    PATTERN(burst64_str, "64-byte burst: eight STR X", 8,
      { INSN(STR, 8, 8, 0), INSN(STR, 8, 8, 8), INSN(STR, 8, 8, 16),
        INSN(STR, 8, 8, 24), INSN(STR, 8, 8, 32), INSN(STR, 8, 8, 40),
        INSN(STR, 8, 8, 48), INSN(STR, 8, 8, 56) }),
    PATTERN(burst64_stp, "64-byte burst: four STP X, X", 4,
      { INSN(STP, 16, 8, 0), INSN(STP, 16, 8, 16), INSN(STP, 16, 8, 32),
        INSN(STP, 16, 8, 48) }),
    PATTERN(burst64_st1, "64-byte burst: ST1 {v0.2d-v3.2d}", 1,
      { INSN(ST1, 64, 8, 0) }),
    PATTERN(dczva, "DC ZVA of a 64-byte block", 1, { INSN(DCZVA, 64, 64, 0) }),
    PATTERN(burst64_str_dmb, "eight STR X with a DMB after the fourth", 9,
      { INSN(STR, 8, 8, 0), INSN(STR, 8, 8, 8), INSN(STR, 8, 8, 16),
        INSN(STR, 8, 8, 24), INSN(DMB, 0, 1, 0), INSN(STR, 8, 8, 32),
        INSN(STR, 8, 8, 40), INSN(STR, 8, 8, 48), INSN(STR, 8, 8, 56) }),
    PATTERN(memcpy_unaligned,
      "memcpy of 32 bytes to dst+3, as compilers inline it: two STP X, X at +3 and +19", 2,
      { INSN(STP, 16, 8, 3), INSN(STP, 16, 8, 19) }),
    PATTERN(memset_unaligned,
      "memset of 30 bytes at +2, glibc's 16-31-byte path: overlapping STP X, X at +2 and +16", 2,
      { INSN(STP, 16, 8, 2), INSN(STP, 16, 8, 16) }),
    /* Aligned pairs load as two elements (B2.2.1: each register single-copy atomic). */
    PATTERN(ldp16, "16-byte load pair (LDP X, X), 16-byte aligned", 1, { INSN(LDP, 16, 8, 0) }),
    PATTERN(ldnp16, "16-byte non-temporal load pair (LDNP X, X), 16-byte aligned", 1,
      { INSN(LDNP, 16, 8, 0) }),
    /* B2.9: exclusives outside Inner/Outer Write-Back memory are IMPLEMENTATION DEFINED. */
    PATTERN(ldxr_stxr, "exclusive pair: LDXR X, then STXR W, X of the same aligned doubleword", 2,
      { INSN(LDXR, 8, 8, 0), INSN(STXR, 8, 8, 0) }),
    /* B2.2: LSE atomics outside Inner/Outer Write-Back memory are IMPLEMENTATION DEFINED. */
    PATTERN(cas8, "compare and swap of an aligned doubleword (CAS X, X)", 1, { INSN(CAS, 8, 8, 0) }),
    PATTERN(ldadd8, "atomic add to an aligned doubleword (LDADD X, X)", 1,
      { INSN(LDADD, 8, 8, 0) }),
    PATTERN(swp8, "atomic swap of an aligned doubleword (SWP X, X)", 1, { INSN(SWP, 8, 8, 0) }),
    /* B2.3: acquire/release order, but are single accesses like STR/LDR. */
    PATTERN(stlr_ldar, "store-release (STLR X) then load-acquire (LDAR X) of the next doubleword", 2,
      { INSN(STLR, 8, 8, 0), INSN(LDAR, 8, 8, 8) }),
    /*
     * B2.5.2: unaligned, so it faults on any Device type; on Normal it
     * completes in two pieces, one per 4 KiB page (a stage-2 page each).
     * Offset 0xfc: the payload runs it in the slot whose end is a page end.
     */
    PATTERN(str8_pagecross, "unaligned 8-byte store across a 4 KiB page boundary (STR X at page end - 4)",
      1, { INSN(STR, 8, 8, 0xfc) }),
    /* C6.2 PRFM: a hint; no fault, no access the model makes. */
    PATTERN(prfm, "prefetch for load (PRFM PLDL1KEEP) of the slot", 1, { INSN(PRFM, 64, 64, 0) }),
    /* D7.4: cache maintenance by VA does not fault on alignment and is not a barrier. */
    PATTERN(str8_dccvac, "aligned STR X, then DC CVAC of its line", 2,
      { INSN(STR, 8, 8, 0), INSN(DCCVAC, 64, 64, 0) }),
    PATTERN(str8_dccivac, "aligned STR X, then DC CIVAC of its line", 2,
      { INSN(STR, 8, 8, 0), INSN(DCCIVAC, 64, 64, 0) }),
    /*
     * Driver idioms on barlab-nic's push page (docs/rules.md, "Ordering"):
     * a 64-byte descriptor into slot 0 (0x40) as eight STR X, then the
     * 4-byte DOORBELL at 0, with nothing, DMB OSHST (dma_wmb(), writel()'s
     * __iowmb()) or DSB ST (wmb()) between them.
     */
    PATTERN(db_nobarrier, "descriptor (8 STR X to slot 0), then STR W to DOORBELL, no barrier", 9,
      { DESCRIPTOR(0x40), INSN(STR, 4, 4, 0) }),
    PATTERN(db_dmb_oshst, "descriptor, DMB OSHST, then the DOORBELL", 10,
      { DESCRIPTOR(0x40), INSN(DMB, 0, 1, 0), INSN(STR, 4, 4, 0) }),
    PATTERN(db_dsb, "descriptor, DSB ST, then the DOORBELL", 10,
      { DESCRIPTOR(0x40), INSN(DSB, 0, 1, 0), INSN(STR, 4, 4, 0) }),
    /* A BlueFlame-style copy (__iowrite64_copy()) over the page's control line, DOORBELL included. */
    PATTERN(bf_copy64_db, "64-byte copy (8 STR X) over the control line, DOORBELL included", 8,
      { DESCRIPTOR(0), }),
    /* Message passing: data into slot 0, then a flag: the head of slot 1, which rings the device. */
    PATTERN(mp_flag, "data (STR X to slot 0 + 16), then the flag (STR X to the head of slot 1), no barrier", 2,
      { INSN(STR, 8, 8, 0x50), INSN(STR, 8, 8, 0x80) }),
    /* A read next to a read-to-clear register, then the register itself (LDR W into w12). */
    PATTERN(rc_read_spec, "LDR W of the register line's first word, then LDR W of the read-to-clear one at +8", 2,
      { INSN(LDR, 4, 4, 0), INSN(LDR, 4, 4, 8) }),
};

/*
 * The windows the patterns run in.  nic-push: each 4 KiB push page of
 * barlab-nic as barlab_nic_declare() (hw/barlab/nic.c) declares it with
 * push-status-rc=on, the matrix's setting: DOORBELL alone (X2), DOORBELL
 * and every slot's first 8 bytes ordered (X3), SLOT_DOORBELL both,
 * STATUS read-to-clear (X1).
 * gpu-scratch: barlab-gpu's BAR0 scratch window, plain storage.
 * gpu-regs: barlab-gpu's BAR0 event queues (barlab-gpu.h), one a trial:
 * EVENTS read-to-clear (X1).
 */
#define PUSH_SLOTS 64
static const MtWindow windows[] = {
    { "gpu-vram", "gpu", GPU_VRAM_BAR, 0, 0, 1, 0, 0, { { 0 } } },
    { "gpu-scratch", "gpu", GPU_REGS_BAR, GPU_SCRATCH_BASE, GPU_SCRATCH_SIZE, 1,
      GPU_SCRATCH_BASE % 4096, 0, { { 0 } } },
    { "nic-push", "nic", 2, 0, 0, 1, 0, 4, {
        { 0, 8, MT_EXPECT_NO_GATHER, "DOORBELL", 0, 0 },
        { 0, 8, MT_EXPECT_ORDERED, "DOORBELL or descriptor head", 64, PUSH_SLOTS },
        { 0x10, 0x14, MT_EXPECT_NO_GATHER | MT_EXPECT_ORDERED, "SLOT_DOORBELL", 0, 0 },
        { 8, 12, MT_EXPECT_NO_SPEC_READ, "STATUS (read to clear)", 0, 0 } } },
    { "gpu-regs", "gpu", GPU_REGS_BAR, GPU_EVQ_BASE, GPU_EVQ_STRIDE, GPU_EVQ_COUNT,
      GPU_EVQ_BASE % 4096, 1, {
        { GPU_EVQ_EVENTS, GPU_EVQ_EVENTS + 4, MT_EXPECT_NO_SPEC_READ, "EVENTS (read to clear)",
          0, 0 } } },
};
enum { WIN_GPU_VRAM, WIN_GPU_SCRATCH, WIN_NIC_PUSH, WIN_GPU_REGS };

/*
 * What QEMU 10.0 gives each model (target/arm/tcg/cpu64.c, cpu64.c): max
 * has FEAT_XS (ID_AA64ISAR1.XS) and FEAT_MTE2 (ID_AA64PFR1.MTE, shown to a
 * guest only with -M virt,mte=on), so their MAIR encodings are defined;
 * Neoverse N1 is Armv8.2 (LSE, no XS, no MTE); Cortex-A57 is Armv8.0 (no
 * LSE).  Stage-1 shareability under FWB: QEMU's combine_cacheattrs()
 * combines stage 1's SH field, for every model.
 */
static const MtCpu cpus[] = {
    { "max", .fwb = true, .dic = true, .vhe = true, .lse = true,      /* also NV2 */
      .mair_features = MT_FEAT_XS | MT_FEAT_MTE2, .s1_share = MT_S1SH_FIELD, .agree = true },
    { "neoverse-n1", .fwb = false, .dic = false, .vhe = true, .lse = true,
      .mair_features = 0, .s1_share = MT_S1SH_FIELD, .agree = true },
    { "cortex-a57", .fwb = false, .dic = false, .vhe = false, .lse = false,
      .mair_features = 0, .s1_share = MT_S1SH_FIELD },
};

/* The CPU model every command defaults to. */
#define DEFAULT_CPU 0

/* The guest's stage-1 SH field for the BAR: matrix.c maps it Inner Shareable. */
#define GUEST_S1_SH 3
/* KVM maps device memory Inner Shareable at stage 2 (KVM_PTE_LEAF_ATTR_LO_S2_SH_IS). */
#define KVM_S2_SH 3

static const char *const outcome_names[MT_OUT__COUNT] = {
    "complete", "no-access", "stxr-fails", "abort-0x35", "undefined", "prefetch-read",
};

static const char *const policy_names[MT_POLICY__COUNT] = {
    "device", "prefetchable", "any", "cacheable",
};
/* The policy every command defaults to: what Linux 6.9+ does. */
#define DEFAULT_POLICY MT_POLICY_ANY
/* The policies `barlab fullstack` runs by default: those of upstream Linux's history and the RFC. */
#define FULLSTACK_POLICIES (1u << MT_POLICY_DEVICE | 1u << MT_POLICY_PREFETCHABLE | \
                            1u << MT_POLICY_ANY)


/*
 * What KVM installs: KVM_PGTABLE_PROT_DEVICE gives MT_S2_DEVICE_nGnRE
 * (0b0001, both forms) and KVM_PGTABLE_PROT_NORMAL_NC gives
 * MT_S2_NORMAL_NC / MT_S2_FWB_NORMAL_NC (0b0101, both forms).
 */
#define KVM_S2_DEVICE_nGnRE 0x1
#define KVM_S2_NORMAL_NC 0x5

/*
 * A cacheable mapping (KVM_PGTABLE_PROT without DEVICE or NORMAL_NC):
 * MT_S2_FWB_NORMAL (0b0110, force Write-Back) with FWB, MT_S2_NORMAL
 * (0b1111, Write-Back, combined with stage 1) without.
 */
#define KVM_S2_FWB_NORMAL 0x6
#define KVM_S2_NORMAL 0xf

unsigned mt_pattern_count(void)
{
    return ARRAY_SIZE(patterns);
}

const MtPattern *mt_pattern_at(unsigned i)
{
    return i < ARRAY_SIZE(patterns) ? &patterns[i] : NULL;
}

/* What `barlab-mt patterns` prints for MtPattern.target. */
const char *mt_target_name(unsigned target)
{
    static const char *const names[] = {
        [MT_TARGET_BAR] = "bar",
        [MT_TARGET_PUSH] = "push",
        [MT_TARGET_RC] = "rc",
    };

    return target < ARRAY_SIZE(names) ? names[target] : "?";
}

/*
 * pattern=file: runs a user's instructions, which the oracle does not
 * see: no instructions here, what the file declares in the scenario.
 */
static const MtPattern user_pattern = {
    "user", "a user's instruction sequence (pattern=file:)", 0, { { 0 } }, MT_TARGET_BAR,
};

const MtPattern *mt_pattern_user(void)
{
    return &user_pattern;
}

static const char *const user_kind_names[] = {
    "aligned", "unaligned", "dczva", "exclusive", "atomic",
};

unsigned mt_user_kind_parse(const char *name)
{
    for (unsigned i = 0; i < ARRAY_SIZE(user_kind_names); i++) {
        if (!strcmp(name, user_kind_names[i])) {
            return 1u << i;
        }
    }
    return 0;
}

const char *mt_user_kind_name(unsigned bit)
{
    for (unsigned i = 0; i < ARRAY_SIZE(user_kind_names); i++) {
        if (bit == 1u << i) {
            return user_kind_names[i];
        }
    }
    return "?";
}

const MtPattern *mt_pattern_find(const char *name)
{
    for (unsigned i = 0; i < ARRAY_SIZE(patterns); i++) {
        if (!strcmp(patterns[i].name, name)) {
            return &patterns[i];
        }
    }
    return NULL;
}

const MtCpu *mt_cpu_find(const char *name)
{
    for (unsigned i = 0; i < ARRAY_SIZE(cpus); i++) {
        if (!strcmp(cpus[i].name, name)) {
            return &cpus[i];
        }
    }
    return NULL;
}

unsigned mt_cpu_count(void)
{
    return ARRAY_SIZE(cpus);
}

const MtCpu *mt_cpu_at(unsigned i)
{
    return i < ARRAY_SIZE(cpus) ? &cpus[i] : NULL;
}

const MtCpu *mt_cpu_default(void)
{
    return &cpus[DEFAULT_CPU];
}

unsigned mt_policy_default(void)
{
    return DEFAULT_POLICY;
}

bool mt_policy_fullstack(unsigned policy)
{
    return policy < MT_POLICY__COUNT && (FULLSTACK_POLICIES >> policy & 1);
}

const char *mt_policy_name(unsigned policy)
{
    return policy < MT_POLICY__COUNT ? policy_names[policy] : "?";
}

int mt_policy_parse(const char *name, uint8_t *policy)
{
    for (unsigned i = 0; i < MT_POLICY__COUNT; i++) {
        if (!strcasecmp(name, policy_names[i])) {
            *policy = i;
            return 0;
        }
    }
    return -1;
}

const char *mt_op_name(unsigned op)
{
    return op < MT_OP__COUNT ? op_table[op].name : "?";
}

const MtOpInfo *mt_op_info(unsigned op)
{
    return op < MT_OP__COUNT ? &op_table[op] : NULL;
}

const char *mt_outcome_name(unsigned outcome)
{
    return outcome < MT_OUT__COUNT ? outcome_names[outcome] : "?";
}

uint8_t mt_policy_s2_attr(unsigned policy, bool bar_prefetchable, bool fwb)
{
    /* KVM's device and Normal-NC encodings coincide in both forms. */
    switch (policy) {
    case MT_POLICY_CACHEABLE:
        if (bar_prefetchable) {
            return fwb ? KVM_S2_FWB_NORMAL : KVM_S2_NORMAL;
        }
        return KVM_S2_NORMAL_NC;
    case MT_POLICY_ANY:
        return KVM_S2_NORMAL_NC;
    case MT_POLICY_PREFETCHABLE:
        return bar_prefetchable ? KVM_S2_NORMAL_NC : KVM_S2_DEVICE_nGnRE;
    default:
        return KVM_S2_DEVICE_nGnRE;
    }
}

/*
 * Linux 6.17 kvm_arch_prepare_memory_region(): a cacheable VM_PFNMAP VMA
 * needs FEAT_S2FWB (no D-cache maintenance through a kernel mapping the
 * PFN may not have) and CTR_EL0.DIC (no I-cache maintenance either);
 * without both the memory slot is refused with EINVAL.
 */
bool mt_policy_refused(unsigned policy, bool bar_prefetchable, const MtCpu *cpu)
{
    return policy == MT_POLICY_CACHEABLE && bar_prefetchable &&
           !(cpu->fwb && cpu->dic);
}

uint8_t mt_combine_rule(const MtAttrs *s1, uint8_t s2_attr, bool fwb)
{
    MtS2 s2;

    if (s1->kind == MT_KIND_RESERVED || mt_decode_s2(s2_attr, fwb, &s2) != MT_OK) {
        return MT_RULE_C_RESERVED;
    }
    switch (s2.op) {
    case MT_S2_FWB_NC:
        return MT_RULE_C_FWB_NC;
    case MT_S2_FWB_FORCE_WB:
        return MT_RULE_C_FWB_WB;
    case MT_S2_FWB_USE_S1:
        return MT_RULE_C_FWB_S1;
    case MT_S2_DEVICE:
        if (fwb) {
            return MT_RULE_C_FWB_DEVICE;
        }
        return s1->kind == MT_KIND_DEVICE ? MT_RULE_C_STRONGER_DEVICE
                                          : MT_RULE_C_DEVICE_WINS;
    default:
        return s1->kind == MT_KIND_DEVICE ? MT_RULE_C_DEVICE_WINS : MT_RULE_C_CACHE;
    }
}

MtAccessClass mt_insn_class(const MtInsn *in)
{
    switch (op_table[in->op].kind) {
    case MT_OPK_ZVA:
        return MT_ACCESS_DCZVA;
    case MT_OPK_HINT:
    case MT_OPK_CMO:
    case MT_OPK_BARRIER:
        /* No data access: nothing to be aligned (AArch64.DC(), PRFM). */
        return MT_ACCESS_ALIGNED;
    default:
        return in->offset % in->esize ? MT_ACCESS_UNALIGNED : MT_ACCESS_ALIGNED;
    }
}

static void record_txn(void *opaque, const MtTxn *t, uint8_t *data)
{
    MtPrediction *p = opaque;

    if (!(t->flags & MT_TXN_WRITE)) {
        memset(data, 0, t->size);
    }
    if (p->ntxns < MT_PREDICT_MAX_TXNS) {
        p->txns[p->ntxns++] = (MtShapeTxn) {
            .offset = t->addr, .size = t->size,
            .naccesses = t->naccesses, .write = t->flags & MT_TXN_WRITE,
        };
    }
}

/*
 * Where a pattern's element accesses go: the gather model, or, with the
 * port in exact mode (@g NULL), straight to @emit as one transaction each.
 */
typedef struct {
    MtGather *g;
    MtEmitFn emit;
    void *opaque;
} Feed;

static void feed_access(const Feed *f, const MtAccess *a, uint8_t *data)
{
    MtTxn t;

    if (f->g) {
        mt_gather_access(f->g, a, data);
        return;
    }
    mt_txn_from_access(a, &t);
    f->emit(f->opaque, &t, data);
}

/* The element accesses of one instruction, reads before writes (an atomic's order). */
static void run_insn(const MtInsn *in, unsigned i, const MtAccess *tmpl, uint64_t *seq,
                     uint32_t epoch, const Feed *f)
{
    const MtOpInfo *op = &op_table[in->op];
    MtAccessClass cls = mt_insn_class(in);
    uint8_t buf[MT_GATHER_MAX_LINE_SIZE] = { 0 };

    for (unsigned dir = 0; dir < 2; dir++) {
        bool store = dir == 1;

        if (store ? !op->write : !op->read) {
            continue;
        }
        for (unsigned e = 0; e < in->size / in->esize; e++) {
            MtAccess a = *tmpl;

            a.addr = tmpl->addr + in->offset + e * in->esize;
            a.size = in->esize;
            a.flags = (store ? MT_TXN_WRITE : 0) |
                      (cls == MT_ACCESS_UNALIGNED ? MT_TXN_UNALIGNED : 0) |
                      (cls == MT_ACCESS_DCZVA ? MT_TXN_DCZVA : 0);
            a.seq = (*seq)++;
            a.epoch = epoch;
            if (store) {
                memset(buf, (int)(0xa0 + i), a.size);
            }
            feed_access(f, &a, buf);
        }
    }
}

static void feed_pattern(const MtPattern *pat, unsigned ninsns, const MtAccess *tmpl,
                         const Feed *f)
{
    uint64_t seq = tmpl->seq;
    uint32_t epoch = tmpl->epoch;

    for (unsigned i = 0; i < ninsns && i < pat->ninsns; i++) {
        const MtInsn *in = &pat->insns[i];

        if (op_table[in->op].kind == MT_OPK_BARRIER) {
            if (f->g) {
                mt_gather_flush(f->g, MT_FLUSH_BARRIER, tmpl->time_ns);
            }
            epoch++;
            continue;
        }
        run_insn(in, i, tmpl, &seq, epoch, f);
    }
}

void mt_pattern_run(const MtPattern *pat, unsigned ninsns, const MtAccess *tmpl,
                    MtGather *g)
{
    const Feed f = { .g = g };

    feed_pattern(pat, ninsns, tmpl, &f);
}

/* Every transaction of a prediction, whole, for judging what may happen to it. */
typedef struct {
    MtPrediction *p;
    unsigned n;
    MtTxn t[MT_PREDICT_MAX_TXNS];
} Delivered;

static void deliver_txn(void *opaque, const MtTxn *t, uint8_t *data)
{
    Delivered *d = opaque;

    record_txn(d->p, t, data);
    if (d->n < MT_PREDICT_MAX_TXNS) {
        d->t[d->n++] = *t;
    }
}

/*
 * Run the accesses before the fault through the port's models as @s's
 * port mode has them: gathering unless port=exact.  Reordering and
 * speculation change what may happen, not this undisturbed shape.
 */
static void predict_shape(const MtScenario *s, MtPrediction *p, unsigned ninsns,
                          Delivered *d)
{
    MtGather g;
    MtAccess tmpl = {
        .attr = (uint8_t)p->combined_mair, .s1_attr = s->s1_attr,
        .s2_attr = p->s2_attr,
    };
    Feed f = { .g = s->port.gather ? &g : NULL, .emit = deliver_txn, .opaque = d };

    d->p = p;
    d->n = 0;
    mt_gather_init(&g, 4, 64, 0, deliver_txn, d);
    feed_pattern(s->pattern, ninsns, &tmpl, &f);
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
}

/* Does [lo, hi) of the window touch a region @w declares with @flag? */
static bool window_declares(const MtWindow *w, int64_t lo, int64_t hi, unsigned flag)
{
    for (unsigned i = 0; i < w->nexpect; i++) {
        const MtExpect *e = &w->expect[i];
        uint64_t n = e->repeat > 1 ? e->repeat : 1;

        if (!(e->flags & flag)) {
            continue;
        }
        for (uint64_t k = 0; k < n; k++) {
            int64_t elo = (int64_t)(e->lo + k * e->stride);
            int64_t ehi = (int64_t)(e->hi + k * e->stride);

            if (lo < ehi && elo < hi) {
                return true;
            }
        }
    }
    return false;
}

#define SPEC_LINE 64            /* the port's gather-line-size, speculate.h's line */

/*
 * The device rules (X1-X3) the port's checker may report on the
 * transactions @d of @s, under its port mode and the combined type
 * (docs/rules.md, "Ordering"; the models are reorder.h and speculate.h).
 * A faithful port breaks no platform rule (V1-V7): none is possible.
 */
static uint32_t possible_violations(const MtScenario *s, const MtPrediction *p,
                                    const MtWindow *w, const Delivered *d)
{
    MtPermits perm = mt_permits(&p->combined);
    uint32_t v = 0;

    for (unsigned i = 0; i < d->n; i++) {
        const MtTxn *t = &d->t[i];
        int64_t lo = (int64_t)t->addr, hi = lo + t->size;

        /* X2: gathered with a register that must arrive alone. */
        if (t->naccesses > 1 && window_declares(w, lo, hi, MT_EXPECT_NO_GATHER)) {
            v |= 1u << MT_RULE_X_NO_GATHER;
        }
        /*
         * X1: a read of a Normal type may bring the rest of its line and
         * the next line with it, inside its 4 KiB page.
         */
        if (!(t->flags & MT_TXN_WRITE) && s->port.speculate && perm.speculative_read) {
            int64_t line = lo & ~(int64_t)(SPEC_LINE - 1);
            int64_t page_hi = MT_SPEC_PAGE_SIZE - (int64_t)w->page_offset;
            int64_t spec_hi = line + 2 * SPEC_LINE <= page_hi ? line + 2 * SPEC_LINE
                                                              : line + SPEC_LINE;

            if (window_declares(w, line, lo, MT_EXPECT_NO_SPEC_READ) ||
                window_declares(w, hi, spec_hi, MT_EXPECT_NO_SPEC_READ)) {
                v |= 1u << MT_RULE_X_NO_SPEC;
            }
        }
        /*
         * X3: an ordered write overtakes a program-earlier write: both of
         * a Reordering type, no byte in common, no barrier and no read
         * between them (a read drains the reorder window).
         */
        if (!(t->flags & MT_TXN_WRITE) || !s->port.reorder || !perm.reorder ||
            !window_declares(w, lo, hi, MT_EXPECT_ORDERED)) {
            continue;
        }
        for (unsigned j = i; j-- > 0;) {
            const MtTxn *e = &d->t[j];
            int64_t elo = (int64_t)e->addr, ehi = elo + e->size;

            if (!(e->flags & MT_TXN_WRITE) || e->epoch_last != t->epoch_first) {
                break;
            }
            if (e->seq_last < t->seq_first && (ehi <= lo || hi <= elo)) {
                v |= 1u << MT_RULE_X_ORDERED;
            }
        }
    }
    return v;
}

const MtWindow *mt_window(const MtScenario *s)
{
    switch (s->pattern->target) {
    case MT_TARGET_PUSH:
        return s->bar_prefetchable ? &windows[WIN_NIC_PUSH] : NULL;
    case MT_TARGET_RC:
        return &windows[s->bar_prefetchable ? WIN_NIC_PUSH : WIN_GPU_REGS];
    default:
        return &windows[s->bar_prefetchable ? WIN_GPU_VRAM : WIN_GPU_SCRATCH];
    }
}

void mt_scenario_defaults(MtScenario *s)
{
    char err[160];

    mt_port_mode_parse(MT_PORT_MODE_DEFAULT, 0, &s->port, err, sizeof(err));
    snprintf(s->port_spec, sizeof(s->port_spec), "%s", MT_PORT_MODE_DEFAULT);
    s->trials = 1;
}

static bool is_write_back(const MtAttrs *a)
{
    return a->kind == MT_KIND_NORMAL && a->inner.cache == MT_CACHE_WB &&
           a->outer.cache == MT_CACHE_WB;
}

/*
 * What the architecture leaves open for @in on the combined type: the
 * outcomes it permits (a mask), and the rule that says so.
 */
static uint8_t permitted_outcomes(const MtInsn *in, const MtAttrs *combined, uint8_t *rule)
{
    const unsigned complete = 1u << MT_OUT_COMPLETE;

    switch (op_table[in->op].kind) {
    case MT_OPK_EXCLUSIVE:
        /* B2.9: the monitors need not support non-Write-Back memory. */
        if (is_write_back(combined)) {
            return complete;
        }
        *rule = MT_RULE_I_EXCLUSIVE;
        return complete | 1u << MT_OUT_STXR_FAILS | 1u << MT_OUT_ABORT_EXCL;
    case MT_OPK_ATOMIC:
        /* B2.2: nor need atomics be supported there. */
        if (is_write_back(combined)) {
            return complete;
        }
        *rule = MT_RULE_I_ATOMIC;
        return complete | 1u << MT_OUT_ABORT_EXCL;
    case MT_OPK_HINT:
        /* A prefetch may read Normal memory, never Device (B2.10.2). */
        *rule = MT_RULE_I_PREFETCH;
        if (combined->kind == MT_KIND_NORMAL) {
            return 1u << MT_OUT_NO_ACCESS | 1u << MT_OUT_PREFETCH_READ;
        }
        return 1u << MT_OUT_NO_ACCESS;
    default:
        return complete;
    }
}

/* The syndrome of an Alignment fault on @in, at the EL that takes it. */
static void predict_syndrome(const MtInsn *in, MtFault fault, MtSyndrome *syn)
{
    const MtOpInfo *op = &op_table[in->op];

    memset(syn, 0, sizeof(*syn));
    syn->dfsc = 0x21;                   /* Alignment fault */
    /* WnR: 1 for a write; DC ZVA counts as one (ESR_ELx.WnR). */
    syn->wnr = op->write && !op->read;
    if (fault == MT_FAULT_S1_ALIGN) {
        /* The guest's own stage 1: to EL1 from EL1; ISV=1 is IMPLEMENTATION DEFINED there. */
        syn->el = 1;
        syn->ec = 0x25;
        syn->isv_permitted = op->isv;
    } else {
        /* A stage-2 fault: to EL2 from a lower EL, ISV=1 for the instructions that have one. */
        syn->el = 2;
        syn->ec = 0x24;
        syn->isv_permitted = syn->isv_required = op->isv;
    }
    if (syn->isv_permitted) {
        syn->sas = (uint8_t)(in->esize == 8 ? 3 : in->esize == 4 ? 2 : in->esize == 2 ? 1 : 0);
        syn->srt = in->rt;
        syn->sf = in->esize == 8;
        syn->ar = op->acqrel;
    }
}

/*
 * A user's pattern: each kind of access it may make (what its file
 * declares, else every kind) has its own alignment fault on the combined
 * type.  Declared kinds are all there, so a faulting one ends the pattern:
 * the faults they give are the possibilities (none if none faults).
 * Undeclared, any subset may be there, nothing included.  The outcomes
 * besides a fault: the exclusives' and atomics' IMPLEMENTATION DEFINED
 * ones where declared (UNDEFINED for the atomics without FEAT_LSE);
 * undeclared, every outcome.  The shape is never predicted.
 */
static void predict_user(const MtScenario *s, MtPrediction *p)
{
    static const struct {
        unsigned kind;
        MtAccessClass cls;
        MtInsn insn;            /* one of the kind, for its permitted outcomes */
    } kinds[] = {
        { MT_USER_ALIGNED, MT_ACCESS_ALIGNED, INSN(STR, 8, 8, 0) },
        { MT_USER_UNALIGNED, MT_ACCESS_UNALIGNED, INSN(STR, 8, 8, 4) },
        { MT_USER_DCZVA, MT_ACCESS_DCZVA, INSN(DCZVA, 64, 64, 0) },
        { MT_USER_EXCLUSIVE, MT_ACCESS_ALIGNED, INSN(LDXR, 8, 8, 0) },
        { MT_USER_ATOMIC, MT_ACCESS_ALIGNED, INSN(CAS, 8, 8, 0) },
    };
    bool declared = s->pattern_kinds != 0;
    unsigned may = declared ? s->pattern_kinds : MT_USER__ALL;
    /* Undeclared, it may also do nothing that faults. */
    uint8_t faults = declared ? 0 : 1u << MT_FAULT_NONE, permitted = 0, rule = MT_RULE__COUNT;

    p->user = true;
    for (unsigned i = 0; i < ARRAY_SIZE(kinds); i++) {
        MtFault f;

        if (!(may & kinds[i].kind)) {
            continue;
        }
        f = mt_alignment_fault(&p->s1, p->s2_attr, s->cpu->fwb, kinds[i].cls);
        if (f != MT_FAULT_NONE) {
            faults |= 1u << f;
        }
        if (kinds[i].kind == MT_USER_ATOMIC && !s->cpu->lse) {
            permitted |= 1u << MT_OUT_UNDEFINED;
            rule = MT_RULE_I_UNDEFINED;
        } else {
            permitted |= permitted_outcomes(&kinds[i].insn, &p->combined, &rule);
        }
    }
    if (!faults) {
        faults = 1u << MT_FAULT_NONE;
    }
    p->faults_possible = faults;
    p->permitted = declared ? permitted : (1u << MT_OUT__COUNT) - 1;
    if (!declared) {
        rule = MT_RULE__COUNT;
    }
    if (!(faults & (faults - 1))) {
        p->fault = (uint8_t)__builtin_ctz(faults);
    }
    if (p->fault == MT_FAULT_S1_ALIGN || p->fault == MT_FAULT_S2_ALIGN) {
        p->outcome_rule = p->fault == MT_FAULT_S1_ALIGN ? MT_RULE_A_S1 : MT_RULE_A_S2;
    } else if (p->permitted & (p->permitted - 1) && rule != MT_RULE__COUNT) {
        p->impdef_rule = p->outcome_rule = rule;
    }
    if (!(p->permitted & 1u << MT_OUT_COMPLETE)) {
        p->outcome = (uint8_t)__builtin_ctz(p->permitted);
    }
}

int mt_predict(const MtScenario *given, MtPrediction *p)
{
    MtScenario scen = *given, *s = &scen;
    const MtWindow *w;
    Delivered d;
    bool fwb = s->cpu->fwb;
    unsigned done;
    uint8_t mair, share_choice;

    if (!s->pattern || s->policy >= MT_POLICY__COUNT || s->s1_share >= MT_S1SH__COUNT) {
        return -1;
    }
    if (!s->port_spec[0]) {
        mt_scenario_defaults(s);    /* a caller that names no port mode */
    }
    w = mt_window(s);
    if (!w) {
        return -1;
    }
    memset(p, 0, sizeof(*p));
    p->s2_attr = mt_policy_s2_attr(s->policy, s->bar_prefetchable, fwb);
    mt_decode_mair(s->s1_attr, s->cpu->mair_features, &p->s1);
    p->outcome = MT_OUT_COMPLETE;
    p->permitted = 1u << MT_OUT_COMPLETE;
    if (mt_policy_refused(s->policy, s->bar_prefetchable, s->cpu)) {
        p->refused = true;
        p->combined_mair = -1;
        p->combine_rule = p->outcome_rule = MT_RULE_K_CACHEABLE_PFNMAP;
        return 0;
    }
    share_choice = s->s1_share != MT_S1SH_CPU ? s->s1_share : s->cpu->s1_share;
    mt_combine_share(&p->s1, GUEST_S1_SH, share_choice, p->s2_attr, KVM_S2_SH, fwb,
                     &p->combined);
    p->share = p->combined.share;
    p->combined_mair = mt_encode_mair(&p->combined, &mair) == MT_OK ? mair : -1;
    p->combine_rule = mt_combine_rule(&p->s1, p->s2_attr, fwb);
    p->may_gather = mt_permits(&p->combined).gather;
    p->outcome_rule = p->may_gather ? MT_RULE_T_GATHER : MT_RULE_T_EXACT;
    if (s->pattern == &user_pattern) {
        predict_user(s, p);
        return 0;
    }

    for (done = 0; done < s->pattern->ninsns; done++) {
        const MtInsn *in = &s->pattern->insns[done];
        const MtOpInfo *op = &op_table[in->op];
        MtAccessClass cls = mt_insn_class(in);
        uint8_t rule = MT_RULE__COUNT, permitted;

        if (op->lse && !s->cpu->lse) {
            /* Not on this CPU: UNDEFINED before any access. */
            p->outcome = MT_OUT_UNDEFINED;
            p->permitted = 1u << MT_OUT_UNDEFINED;
            p->outcome_rule = MT_RULE_I_UNDEFINED;
            p->fault_insn = done;
            break;
        }
        p->fault = mt_alignment_fault(&p->s1, p->s2_attr, fwb, cls);
        if (p->fault != MT_FAULT_NONE) {
            p->fault_insn = done;
            if (p->fault == MT_FAULT_UNPREDICTABLE) {
                p->outcome_rule = MT_RULE_C_RESERVED;
            } else {
                p->outcome_rule = cls == MT_ACCESS_DCZVA ? MT_RULE_A_DCZVA :
                                  p->fault == MT_FAULT_S1_ALIGN ? MT_RULE_A_S1 : MT_RULE_A_S2;
                predict_syndrome(in, p->fault, &p->syndrome);
            }
            break;
        }
        if (cls != MT_ACCESS_ALIGNED) {
            p->outcome_rule = MT_RULE_A_NORMAL;
        }
        if ((op->read || op->write) && !op->isv && !p->mmio_isv0) {
            p->mmio_isv0 = true;
            p->mmio_isv0_insn = done;
        }
        if (op->kind == MT_OPK_CMO) {
            p->outcome_rule = MT_RULE_I_CMO;
        }
        permitted = permitted_outcomes(in, &p->combined, &rule);
        if (permitted != 1u << MT_OUT_COMPLETE) {
            p->permitted = permitted;
            p->impdef_rule = rule;
            p->outcome_rule = rule;
            if (!(permitted & 1u << MT_OUT_COMPLETE)) {
                p->outcome = MT_OUT_NO_ACCESS;
            }
        }
    }
    if (p->combined_mair < 0) {
        p->outcome_rule = MT_RULE_C_RESERVED;
        return 0;
    }
    predict_shape(s, p, done, &d);
    p->violations_possible = possible_violations(s, p, w, &d);
    return 0;
}

char *mt_prediction_summary(const MtPrediction *p, char *buf, unsigned len)
{
    unsigned same = 1, gathered = 0;
    /* More than one permitted outcome: the model's is one of them. */
    const char *open = p->permitted & (p->permitted - 1) ? "IMPDEF: " : "";

    if (p->refused) {
        snprintf(buf, len, "refused by KVM");
        return buf;
    }
    if (p->user && p->faults_possible & (p->faults_possible - 1)) {
        snprintf(buf, len, "~ fault or not");
        return buf;
    }
    if (p->outcome == MT_OUT_UNDEFINED && !p->user) {
        snprintf(buf, len, "UNDEFINED insn");
        return buf;
    }
    switch (p->fault) {
    case MT_FAULT_S1_ALIGN:
        snprintf(buf, len, "EL1 align fault");
        return buf;
    case MT_FAULT_S2_ALIGN:
        snprintf(buf, len, "EL2 align fault");
        return buf;
    case MT_FAULT_UNPREDICTABLE:
        snprintf(buf, len, "UNPREDICTABLE");
        return buf;
    }
    if (p->combined_mair < 0) {
        snprintf(buf, len, "UNPREDICTABLE");
        return buf;
    }
    if (p->user) {
        snprintf(buf, len, "%sok ~", open);
        return buf;
    }
    for (unsigned i = 0; i < p->ntxns; i++) {
        same += i && p->txns[i].size == p->txns[0].size;
        gathered += p->txns[i].naccesses > 1;
    }
    if (!p->ntxns) {
        snprintf(buf, len, "%sok no access", open);
    } else if (same == p->ntxns) {
        snprintf(buf, len, "%sok %ux%uB%s", open, p->ntxns, p->txns[0].size,
                 gathered ? " gathered" : "");
    } else {
        snprintf(buf, len, "%sok %u txns%s", open, p->ntxns, gathered ? " gathered" : "");
    }
    return buf;
}
