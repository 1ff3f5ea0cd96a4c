/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The expectation oracle: for a scenario (CPU with or without FWB, the
 * host's stage-2 policy for BARs, the BAR, the guest's stage-1 attribute
 * and an access pattern) predict what happens: the access completes, or
 * takes an alignment fault to the guest (EL1) or to the hypervisor (EL2),
 * and which transactions the device may see.
 */
#ifndef BARLAB_ORACLE_H
#define BARLAB_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

#include "gather.h"
#include "memtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the host maps a VFIO BAR at stage 2 (kernel-patches/, vfio-pci). */
typedef enum {
    MT_POLICY_DEVICE,       /* before Linux 6.9: every BAR Device-nGnRE */
    MT_POLICY_PREFETCHABLE, /* 2021 RFC: prefetchable BARs Normal-NC */
    MT_POLICY_ANY,          /* Linux 6.9+: every BAR Normal-NC */
    MT_POLICY_CACHEABLE,    /* Linux 6.17 cacheable PFNMAP: prefetchable BARs
                               Normal-WB with FWB and DIC, else refused */
    MT_POLICY__COUNT,
} MtPolicy;

typedef enum {
    MT_OP_STR, MT_OP_LDR, MT_OP_STP, MT_OP_LDP, MT_OP_ST1, MT_OP_DCZVA,
    MT_OP_DMB,              /* a barrier: no access, ends gathering */
} MtOp;

/* One instruction: @size bytes at @offset in elements of @esize bytes. */
typedef struct {
    uint8_t op;             /* MtOp */
    uint8_t size;
    uint8_t esize;
    uint16_t offset;
} MtInsn;

#define MT_PATTERN_MAX_INSNS 12

typedef struct {
    const char *name;
    const char *title;
    unsigned ninsns;
    MtInsn insns[MT_PATTERN_MAX_INSNS];
} MtPattern;

typedef struct {
    const char *name;
    bool fwb;               /* advertises FEAT_S2FWB; KVM then sets HCR_EL2.FWB */
    bool dic;               /* CTR_EL0.DIC: no I-cache maintenance to PoU */
    bool vhe;               /* FEAT_VHE: KVM runs in VHE mode by default, else nVHE */
} MtCpu;

typedef enum { MT_TOUCH_FIRST, MT_TOUCH_HIT } MtTouch;

typedef struct {
    const MtCpu *cpu;
    uint8_t policy;         /* MtPolicy */
    bool bar_prefetchable;
    uint8_t s1_attr;        /* MAIR byte */
    uint8_t touch;          /* MtTouch: the oracle predicts the same for both */
    const MtPattern *pattern;
} MtScenario;

#define MT_PREDICT_MAX_TXNS 16

typedef struct {
    uint32_t offset, size;
    uint16_t naccesses;
    bool write;
} MtShapeTxn;

typedef struct {
    uint8_t s2_attr;        /* what the host installs at stage 2 */
    MtAttrs s1, combined;
    int combined_mair;      /* -1 when reserved */
    bool refused;           /* KVM refuses the memory slot: the VM never runs */
    uint8_t fault;          /* MtFault of the first faulting instruction */
    unsigned fault_insn;
    uint8_t combine_rule;   /* MtRule */
    uint8_t outcome_rule;
    bool may_gather;        /* the type permits gathering */
    unsigned ntxns;         /* what barlab's gather model delivers */
    MtShapeTxn txns[MT_PREDICT_MAX_TXNS];
} MtPrediction;

unsigned mt_pattern_count(void);
const MtPattern *mt_pattern_at(unsigned i);
const MtPattern *mt_pattern_find(const char *name);
const MtCpu *mt_cpu_find(const char *name);
const char *mt_policy_name(unsigned policy);
int mt_policy_parse(const char *name, uint8_t *policy);
const char *mt_op_name(unsigned op);

/* The stage-2 MemAttr KVM installs for a BAR under @policy. */
uint8_t mt_policy_s2_attr(unsigned policy, bool bar_prefetchable, bool fwb);

/*
 * True if KVM refuses to map the BAR at all: a cacheable VMA of device
 * memory on a CPU without FEAT_S2FWB and CTR_EL0.DIC (Linux 6.17).
 */
bool mt_policy_refused(unsigned policy, bool bar_prefetchable, const MtCpu *cpu);

/* Aligned, unaligned (to its element size) or DC ZVA. */
MtAccessClass mt_insn_class(const MtInsn *in);

/*
 * Feed the element accesses of the first @ninsns instructions of @pat into
 * @g, each a copy of @tmpl with its address offset, size, flags and a
 * program-order number counting up from tmpl->seq.
 */
void mt_pattern_run(const MtPattern *pat, unsigned ninsns, const MtAccess *tmpl,
                    MtGather *g);

/* The rule (MtRule) that decides the combined type of @s1 and @s2_attr. */
uint8_t mt_combine_rule(const MtAttrs *s1, uint8_t s2_attr, bool fwb);

int mt_predict(const MtScenario *s, MtPrediction *p);

/* "ok 1x64B gathered", "EL2 fault", ... into @buf; returns @buf. */
char *mt_prediction_summary(const MtPrediction *p, char *buf, unsigned len);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_ORACLE_H */
