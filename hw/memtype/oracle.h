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

#include "check.h"
#include "gather.h"
#include "memtype.h"
#include "portmode.h"

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
    MT_OP_LDNP,             /* load pair, non-temporal hint */
    MT_OP_LDXR, MT_OP_STXR, /* exclusives */
    MT_OP_CAS, MT_OP_LDADD, MT_OP_SWP,  /* FEAT_LSE atomics */
    MT_OP_LDAR, MT_OP_STLR, /* load-acquire, store-release */
    MT_OP_PRFM,             /* prefetch hint (PLDL1KEEP) */
    MT_OP_DCCVAC, MT_OP_DCCIVAC,        /* data cache clean (and invalidate) by VA */
    MT_OP_DSB,              /* a barrier that also waits: no access, ends gathering */
    MT_OP__COUNT,
} MtOp;

/* What an instruction does, the one table the oracle reads (oracle.c). */
typedef enum {
    MT_OPK_PLAIN,           /* loads and stores, single or pair or vector */
    MT_OPK_ZVA,             /* DC ZVA */
    MT_OPK_BARRIER,
    MT_OPK_EXCLUSIVE,       /* LDXR/STXR */
    MT_OPK_ATOMIC,          /* CAS, LDADD, SWP: a read and a write */
    MT_OPK_HINT,            /* PRFM: may read, never faults */
    MT_OPK_CMO,             /* DC CVAC/CIVAC by VA */
} MtOpKind;

typedef struct {
    const char *name;       /* "STR", "DC CVAC", ... */
    uint8_t kind;           /* MtOpKind */
    bool read, write;       /* the accesses it makes to the location */
    bool isv;               /* a Data Abort on it can carry the instruction
                               syndrome: a single general-purpose register,
                               no writeback, not exclusive or atomic */
    bool acqrel;            /* ESR.AR: acquire or release semantics */
    bool lse;               /* needs FEAT_LSE */
} MtOpInfo;

const MtOpInfo *mt_op_info(unsigned op);

/*
 * One instruction: @size bytes at @offset in elements of @esize bytes.
 * @rt: the register it transfers (ESR.SRT when the syndrome is valid); the
 * matrix payload (target-tests/payloads/matrix-patterns.S) uses exactly it.
 */
typedef struct {
    uint8_t op;             /* MtOp */
    uint8_t size;
    uint8_t esize;
    uint16_t offset;
    uint8_t rt;
} MtInsn;

#define MT_PATTERN_MAX_INSNS 12

/*
 * What a pattern's offsets are relative to (MtPattern.target), and so
 * which device and BAR a cell runs on (mt_window()).
 */
typedef enum {
    MT_TARGET_BAR,          /* barlab-gpu: the VRAM BAR (bar=pref) or BAR0's
                               scratch window (bar=nonpref); nothing declared */
    MT_TARGET_PUSH,         /* a push page of barlab-nic (BAR2, bar=pref only):
                               DOORBELL at 0, descriptor slots from 0x40 */
    MT_TARGET_RC,           /* the line of a read-to-clear register at +8:
                               barlab-nic's push-page STATUS (bar=pref,
                               push-status-rc=on), barlab-gpu's BAR0 EVENTS
                               (bar=nonpref) */
} MtTarget;

typedef struct {
    const char *name;
    const char *title;
    unsigned ninsns;
    MtInsn insns[MT_PATTERN_MAX_INSNS];
    uint8_t target;         /* MtTarget */
} MtPattern;

/*
 * Where a cell's pattern runs: a device, its BAR, the offset of the
 * window's first byte in its 4 KiB page, and what the device declares
 * about the window's bytes (the checker's table, offsets relative to the
 * window).  The declarations are the devices' (hw/barlab/nic.c
 * barlab_nic_declare(), hw/barlab/gpu.c): the oracle judges with the
 * same facts the port's checker does.
 */
typedef struct {
    const char *name;       /* "gpu-vram", "gpu-scratch", "nic-push", "gpu-regs" */
    const char *device;     /* "gpu", "nic" */
    unsigned bar;
    uint32_t base;          /* the window's first byte in the BAR */
    uint32_t size;          /* bytes a test may touch from base; 0: the BAR's */
    uint32_t count;         /* 1, or that many such windows, size bytes apart
                               (barlab-gpu's event queues: one a trial) */
    uint32_t page_offset;
    unsigned nexpect;
    MtExpect expect[4];
} MtWindow;

typedef struct {
    const char *name;
    bool fwb;               /* advertises FEAT_S2FWB; KVM then sets HCR_EL2.FWB */
    bool dic;               /* CTR_EL0.DIC: no I-cache maintenance to PoU */
    bool vhe;               /* FEAT_VHE: KVM runs in VHE mode by default, else nVHE */
    bool lse;               /* FEAT_LSE: CAS, LDADD, SWP exist */
    unsigned mair_features; /* MT_FEAT_XS, MT_FEAT_MTE2: MAIR encodings defined */
    uint8_t s1_share;       /* MtS1Share this implementation passes to stage 2 */
    bool agree;             /* `barlab agree` runs it when given no CPU */
} MtCpu;

typedef enum { MT_TOUCH_FIRST, MT_TOUCH_HIT } MtTouch;

/*
 * A user's instruction sequence (pattern=file:FILE, docs/scenarios.md):
 * the oracle does not see its instructions, only what its file declares
 * it does (a "// barlab: KIND, KIND" line), a mask of these.  No
 * declaration (0): it may do any of them, or nothing.
 */
enum {
    MT_USER_ALIGNED = 1u << 0,      /* loads and stores aligned to their size */
    MT_USER_UNALIGNED = 1u << 1,    /* an unaligned load or store */
    MT_USER_DCZVA = 1u << 2,        /* DC ZVA */
    MT_USER_EXCLUSIVE = 1u << 3,    /* LDXR/STXR */
    MT_USER_ATOMIC = 1u << 4,       /* FEAT_LSE atomics */
    MT_USER__ALL = (1u << 5) - 1,
};

#define MT_PATTERN_FILE_MAX 128
#define MT_PATTERN_PATH_MAX 512

typedef struct {
    const MtCpu *cpu;
    uint8_t policy;         /* MtPolicy */
    bool bar_prefetchable;
    uint8_t s1_attr;        /* MAIR byte */
    uint8_t touch;          /* MtTouch: the oracle predicts the same for both */
    const MtPattern *pattern;
    uint8_t s1_share;       /* MtS1Share to assume; MT_S1SH_CPU: the CPU's */
    MtPortMode port;        /* the devices' port-mode (portmode.h) */
    char port_spec[48];     /* ... as the scenario file spelled it */
    uint8_t trials;         /* times the pattern runs in the cell, 1.. */
    /* pattern == mt_pattern_user(): the file, what it declares (MT_USER_*) */
    uint8_t pattern_kinds;
    char pattern_file[MT_PATTERN_FILE_MAX];     /* as the scenario wrote it */
    char pattern_path[MT_PATTERN_PATH_MAX];     /* relative to the scenario file */
} MtScenario;

#define MT_TRIALS_MAX 16

/*
 * The outcomes the architecture permits where it leaves them IMPLEMENTATION
 * DEFINED or CONSTRAINED UNPREDICTABLE (MtPrediction.permitted, a mask).
 */
typedef enum {
    MT_OUT_COMPLETE,        /* completes; the modelled accesses reach the device */
    MT_OUT_NO_ACCESS,       /* completes without an access to the device */
    MT_OUT_STXR_FAILS,      /* the Store-Exclusive fails (status 1), no write */
    MT_OUT_ABORT_EXCL,      /* Data Abort, DFSC 0x35: unsupported exclusive or atomic */
    MT_OUT_UNDEFINED,       /* the instruction does not exist on the CPU: EC 0x00 */
    MT_OUT_PREFETCH_READ,   /* a prefetch reads the line (Normal memory only) */
    MT_OUT__COUNT,
} MtOutcome;

/* The syndrome of a predicted Data Abort, as the EL that takes it sees it. */
typedef struct {
    uint8_t el;             /* 1: the guest, 2: the host (L1 KVM) */
    uint8_t ec;             /* 0x24 from a lower EL, 0x25 from the same EL */
    uint8_t dfsc;
    bool wnr;
    bool isv_permitted;     /* ISV=1 may be reported */
    bool isv_required;      /* ISV=1 must be reported */
    uint8_t sas, srt;       /* when ISV=1: log2(size), the register */
    bool sf, ar;            /* when ISV=1: 64-bit register, acquire/release */
} MtSyndrome;

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
    uint8_t outcome;        /* MtOutcome the model predicts (when no fault) */
    uint8_t permitted;      /* mask of 1 << MtOutcome the architecture permits;
                               more than one bit: IMPLEMENTATION DEFINED */
    uint8_t impdef_rule;    /* MtRule behind the permitted set, when it has several */
    MtSyndrome syndrome;    /* when fault is an alignment fault */
    bool mmio_isv0;         /* an instruction of the pattern would reach a VMM
                               as an ISV=0 stage-2 abort if the BAR were
                               trapped MMIO (KVM cannot emulate it) */
    unsigned mmio_isv0_insn;
    uint8_t share;          /* MtShare of the combined type */
    uint8_t fault;          /* MtFault of the first faulting instruction */
    unsigned fault_insn;
    uint8_t combine_rule;   /* MtRule */
    uint8_t outcome_rule;
    bool may_gather;        /* the type permits gathering */
    unsigned ntxns;         /* what barlab's port delivers (its gather
                               model, unless port=exact), in program order */
    MtShapeTxn txns[MT_PREDICT_MAX_TXNS];
    uint32_t violations_possible;   /* 1u << MtRule: the verdicts the port's
                                       checker may give the cell's
                                       transactions under its port mode */
    bool user;              /* a user's pattern: no shape (ntxns 0) */
    uint8_t faults_possible;    /* user: 1u << MtFault it may end in; one
                                   bit: fault is the prediction */
} MtPrediction;

unsigned mt_pattern_count(void);
const MtPattern *mt_pattern_at(unsigned i);
const MtPattern *mt_pattern_find(const char *name);
/* The pattern of pattern=file: (not in the table; "user" in the payload). */
const MtPattern *mt_pattern_user(void);
/* MT_USER_* by name ("unaligned"), 0 if none; the name of one bit. */
unsigned mt_user_kind_parse(const char *name);
const char *mt_user_kind_name(unsigned bit);
const char *mt_target_name(unsigned target);
const MtCpu *mt_cpu_find(const char *name);
const char *mt_outcome_name(unsigned outcome);
unsigned mt_cpu_count(void);
const MtCpu *mt_cpu_at(unsigned i);
const char *mt_policy_name(unsigned policy);
/* What a command runs when told no CPU model or policy: -cpu max, policy any. */
const MtCpu *mt_cpu_default(void);
unsigned mt_policy_default(void);
/* Does `barlab fullstack` run POLICY when given none? */
bool mt_policy_fullstack(unsigned policy);
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

/* Where @s runs, or NULL if its pattern cannot run on its BAR. */
const MtWindow *mt_window(const MtScenario *s);

/* The defaults of the keys a scenario may leave out: port=gather, trials=1. */
void mt_scenario_defaults(MtScenario *s);

int mt_predict(const MtScenario *s, MtPrediction *p);

/* "ok 1x64B gathered", "EL2 fault", ... into @buf; returns @buf. */
char *mt_prediction_summary(const MtPrediction *p, char *buf, unsigned len);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_ORACLE_H */
