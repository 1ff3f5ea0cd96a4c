/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rules barlab cites: one entry per rule, with the Arm ARM section or
 * pseudocode function it comes from.  The oracle, the checker and
 * `barlab explain` name rules by these ids; docs/rules.md teaches them.
 */
#ifndef BARLAB_RULES_H
#define BARLAB_RULES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    /* combining stage 1 with stage 2 */
    MT_RULE_C_DEVICE_WINS,      /* Device beats Normal */
    MT_RULE_C_STRONGER_DEVICE,  /* between Device types the stronger wins */
    MT_RULE_C_CACHE,            /* NC beats WT beats WB */
    MT_RULE_C_FWB_DEVICE,       /* FWB: stage 2 forces Device */
    MT_RULE_C_FWB_NC,           /* FWB: Normal-NC unless stage 1 is Device */
    MT_RULE_C_FWB_WB,           /* FWB: force Write-Back */
    MT_RULE_C_FWB_S1,           /* FWB: use stage 1 */
    MT_RULE_C_RESERVED,         /* a reserved encoding: UNPREDICTABLE */
    /* faults */
    MT_RULE_A_S1,               /* alignment fault at stage 1 */
    MT_RULE_A_S2,               /* alignment fault at stage 2 */
    MT_RULE_A_DCZVA,            /* DC ZVA to Device faults */
    MT_RULE_A_NORMAL,           /* unaligned/DC ZVA to Normal is fine */
    /* what arrives at the device */
    MT_RULE_T_EXACT,            /* non-Gathering: accesses as in the program */
    MT_RULE_T_GATHER,           /* Gathering permitted */
    /* checker verdicts on transactions */
    MT_RULE_V_GATHER,           /* merged, but the type forbids gathering */
    MT_RULE_V_REORDER,          /* reordered, but the type forbids it */
    MT_RULE_V_SAME_ADDR,        /* same-address accesses out of order */
    MT_RULE_V_BARRIER,          /* merged or reordered across DMB/DSB */
    MT_RULE_V_ALIGN,            /* unaligned access to Device reached the device */
    MT_RULE_V_SPEC_DEVICE,      /* speculative read of Device memory */
    MT_RULE_V_RESERVED,         /* a transaction with a reserved type */
    MT_RULE_X_NO_SPEC,          /* device: register must not be read speculatively */
    MT_RULE_X_NO_GATHER,        /* device: register must arrive alone */
    MT_RULE_X_ORDERED,          /* device: doorbell overtook an earlier write */
    /* what the host kernel does */
    MT_RULE_K_CACHEABLE_PFNMAP, /* cacheable device VMA: needs FWB and DIC */
    /* instructions whose outcome the memory type leaves open, syndromes */
    MT_RULE_I_EXCLUSIVE,        /* exclusives to non-WB memory: IMPLEMENTATION DEFINED */
    MT_RULE_I_ATOMIC,           /* LSE atomics to non-WB memory: IMPLEMENTATION DEFINED */
    MT_RULE_I_PREFETCH,         /* PRFM: a hint, may read Normal, never Device */
    MT_RULE_I_CMO,              /* DC CVAC/CIVAC: no fault, no access to NC/Device */
    MT_RULE_I_UNDEFINED,        /* the instruction is not on this CPU */
    MT_RULE_S_ISV,              /* when a Data Abort carries the instruction syndrome */
    MT_RULE__COUNT,
} MtRule;

typedef struct {
    const char *id;         /* short, stable: "C1", "A2", "V3", ... */
    const char *title;      /* one line */
    const char *source;     /* Arm ARM section or pseudocode function */
} MtRuleInfo;

/* The rules a checker verdict can name (check.h): V1..V7, X1..X3. */
#define MT_RULE_VERDICT_FIRST MT_RULE_V_GATHER
#define MT_RULE_VERDICT_LAST MT_RULE_X_ORDERED
#define MT_RULE_VERDICT_MASK \
    ((UINT32_C(2) << MT_RULE_VERDICT_LAST) - (UINT32_C(1) << MT_RULE_VERDICT_FIRST))

const MtRuleInfo *mt_rule(unsigned rule);

/*
 * A verdict (a mask of 1u << MtRule) as rule ids in catalogue order joined
 * by @sep ("V4,X3"), or "" for 0, into @buf; MT_RULE_MASK_STR bytes hold
 * every mask.  Returns @buf.
 */
#define MT_RULE_MASK_STR 128
char *mt_rule_mask_str(uint32_t mask, const char *sep, char *buf);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_RULES_H */
