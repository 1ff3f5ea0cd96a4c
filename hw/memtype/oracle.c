/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The expectation oracle: see oracle.h. */
#include "oracle.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gather.h"
#include "rules.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define INSN(o, s, e, off) { .op = MT_OP_##o, .size = s, .esize = e, .offset = off }

/*
 * The access patterns.  Offsets are within one 64-byte line of the BAR;
 * "unaligned" ones sit where memcpy()/memset() tails put them.
 */
static const MtPattern patterns[] = {
    { "str8", "aligned 8-byte store (STR X)", 1, { INSN(STR, 8, 8, 0) } },
    { "str8_unaligned", "unaligned 8-byte store (STR X at +4)", 1,
      { INSN(STR, 8, 8, 4) } },
    { "ldr8", "aligned 8-byte load (LDR X)", 1, { INSN(LDR, 8, 8, 0) } },
    { "ldr8_unaligned", "unaligned 8-byte load (LDR X at +4)", 1,
      { INSN(LDR, 8, 8, 4) } },
    { "stp16", "16-byte store pair (STP X, X), 16-byte aligned", 1,
      { INSN(STP, 16, 8, 0) } },
    { "stp16_unaligned", "16-byte store pair at +4, as memcpy tails emit", 1,
      { INSN(STP, 16, 8, 4) } },
    { "burst64_str", "64-byte burst: eight STR X", 8,
      { INSN(STR, 8, 8, 0), INSN(STR, 8, 8, 8), INSN(STR, 8, 8, 16),
        INSN(STR, 8, 8, 24), INSN(STR, 8, 8, 32), INSN(STR, 8, 8, 40),
        INSN(STR, 8, 8, 48), INSN(STR, 8, 8, 56) } },
    { "burst64_stp", "64-byte burst: four STP X, X", 4,
      { INSN(STP, 16, 8, 0), INSN(STP, 16, 8, 16), INSN(STP, 16, 8, 32),
        INSN(STP, 16, 8, 48) } },
    { "burst64_st1", "64-byte burst: ST1 {v0.2d-v3.2d}", 1,
      { INSN(ST1, 64, 8, 0) } },
    { "dczva", "DC ZVA of a 64-byte block", 1, { INSN(DCZVA, 64, 64, 0) } },
    { "burst64_str_dmb", "eight STR X with a DMB after the fourth", 9,
      { INSN(STR, 8, 8, 0), INSN(STR, 8, 8, 8), INSN(STR, 8, 8, 16),
        INSN(STR, 8, 8, 24), INSN(DMB, 0, 1, 0), INSN(STR, 8, 8, 32),
        INSN(STR, 8, 8, 40), INSN(STR, 8, 8, 48), INSN(STR, 8, 8, 56) } },
    { "memcpy_unaligned",
      "memcpy of 32 bytes to dst+3, as compilers inline it: two STP X, X at +3 and +19", 2,
      { INSN(STP, 16, 8, 3), INSN(STP, 16, 8, 19) } },
    { "memset_unaligned",
      "memset of 30 bytes at +2, glibc's 16-31-byte path: overlapping STP X, X at +2 and +16", 2,
      { INSN(STP, 16, 8, 2), INSN(STP, 16, 8, 16) } },
};

/* What QEMU 10.0 gives each model (target/arm/tcg/cpu64.c, cpu64.c). */
static const MtCpu cpus[] = {
    { "max", .fwb = true, .dic = true, .vhe = true },   /* also NV2 */
    { "neoverse-n1", .fwb = false, .dic = false, .vhe = true },
    { "cortex-a57", .fwb = false, .dic = false, .vhe = false },
};

static const char *const policy_names[MT_POLICY__COUNT] = {
    "device", "prefetchable", "any", "cacheable",
};

static const char *const op_names[] = { "STR", "LDR", "STP", "LDP", "ST1", "DC ZVA", "DMB" };

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
    return op < ARRAY_SIZE(op_names) ? op_names[op] : "?";
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
    if (in->op == MT_OP_DCZVA) {
        return MT_ACCESS_DCZVA;
    }
    return in->offset % in->esize ? MT_ACCESS_UNALIGNED : MT_ACCESS_ALIGNED;
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

void mt_pattern_run(const MtPattern *pat, unsigned ninsns, const MtAccess *tmpl,
                    MtGather *g)
{
    uint8_t buf[MT_GATHER_MAX_LINE_SIZE] = { 0 };
    uint64_t seq = tmpl->seq;
    uint32_t epoch = tmpl->epoch;

    for (unsigned i = 0; i < ninsns && i < pat->ninsns; i++) {
        const MtInsn *in = &pat->insns[i];
        bool store = in->op != MT_OP_LDR && in->op != MT_OP_LDP;
        MtAccessClass cls = mt_insn_class(in);

        if (in->op == MT_OP_DMB) {
            mt_gather_flush(g, MT_FLUSH_BARRIER, tmpl->time_ns);
            epoch++;
            continue;
        }
        for (unsigned e = 0; e < in->size / in->esize; e++) {
            MtAccess a = *tmpl;

            a.addr = tmpl->addr + in->offset + e * in->esize;
            a.size = in->esize;
            a.flags = (store ? MT_TXN_WRITE : 0) |
                      (cls == MT_ACCESS_UNALIGNED ? MT_TXN_UNALIGNED : 0) |
                      (cls == MT_ACCESS_DCZVA ? MT_TXN_DCZVA : 0);
            a.seq = seq++;
            a.epoch = epoch;
            if (store) {
                memset(buf, (int)(0xa0 + i), a.size);
            }
            mt_gather_access(g, &a, buf);
        }
    }
}

/* Run the accesses before the fault through the gather model. */
static void predict_shape(const MtScenario *s, MtPrediction *p, unsigned ninsns)
{
    MtGather g;
    MtAccess tmpl = {
        .attr = (uint8_t)p->combined_mair, .s1_attr = s->s1_attr,
        .s2_attr = p->s2_attr,
    };

    mt_gather_init(&g, 4, 64, 0, record_txn, p);
    mt_pattern_run(s->pattern, ninsns, &tmpl, &g);
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
}

int mt_predict(const MtScenario *s, MtPrediction *p)
{
    bool fwb = s->cpu->fwb;
    unsigned done;
    uint8_t mair;

    if (!s->pattern || s->policy >= MT_POLICY__COUNT) {
        return -1;
    }
    memset(p, 0, sizeof(*p));
    p->s2_attr = mt_policy_s2_attr(s->policy, s->bar_prefetchable, fwb);
    mt_decode_mair(s->s1_attr, 0, &p->s1);
    if (mt_policy_refused(s->policy, s->bar_prefetchable, s->cpu)) {
        p->refused = true;
        p->combined_mair = -1;
        p->combine_rule = p->outcome_rule = MT_RULE_K_CACHEABLE_PFNMAP;
        return 0;
    }
    mt_combine(&p->s1, p->s2_attr, 3 /* KVM maps ISH */, fwb, &p->combined);
    p->combined_mair = mt_encode_mair(&p->combined, &mair) == MT_OK ? mair : -1;
    p->combine_rule = mt_combine_rule(&p->s1, p->s2_attr, fwb);
    p->may_gather = mt_permits(&p->combined).gather;
    p->outcome_rule = p->may_gather ? MT_RULE_T_GATHER : MT_RULE_T_EXACT;

    for (done = 0; done < s->pattern->ninsns; done++) {
        const MtInsn *in = &s->pattern->insns[done];
        MtAccessClass cls = mt_insn_class(in);

        p->fault = mt_alignment_fault(&p->s1, p->s2_attr, fwb, cls);
        if (p->fault != MT_FAULT_NONE) {
            p->fault_insn = done;
            if (p->fault == MT_FAULT_UNPREDICTABLE) {
                p->outcome_rule = MT_RULE_C_RESERVED;
            } else if (cls == MT_ACCESS_DCZVA) {
                p->outcome_rule = MT_RULE_A_DCZVA;
            } else {
                p->outcome_rule = p->fault == MT_FAULT_S1_ALIGN ? MT_RULE_A_S1
                                                                 : MT_RULE_A_S2;
            }
            break;
        }
        if (cls != MT_ACCESS_ALIGNED) {
            p->outcome_rule = MT_RULE_A_NORMAL;
        }
    }
    if (p->combined_mair < 0) {
        p->outcome_rule = MT_RULE_C_RESERVED;
        return 0;
    }
    predict_shape(s, p, done);
    return 0;
}

char *mt_prediction_summary(const MtPrediction *p, char *buf, unsigned len)
{
    unsigned same = 1, gathered = 0;

    if (p->refused) {
        snprintf(buf, len, "refused by KVM");
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
    for (unsigned i = 0; i < p->ntxns; i++) {
        same += i && p->txns[i].size == p->txns[0].size;
        gathered += p->txns[i].naccesses > 1;
    }
    if (p->ntxns && same == p->ntxns) {
        snprintf(buf, len, "ok %ux%uB%s", p->ntxns, p->txns[0].size,
                 gathered ? " gathered" : "");
    } else {
        snprintf(buf, len, "ok %u txns%s", p->ntxns, gathered ? " gathered" : "");
    }
    return buf;
}
