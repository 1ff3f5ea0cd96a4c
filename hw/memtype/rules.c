/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rule catalogue: see rules.h and docs/rules.md. */
#include "rules.h"

#include <stdio.h>

#include "txn.h"

static const MtRuleInfo rule_table[MT_RULE__COUNT] = {
    [MT_RULE_C_DEVICE_WINS] = { "C1",
        "Device at either stage beats Normal: the result is the Device type",
        "S2CombineS1MemAttrs()" },
    [MT_RULE_C_STRONGER_DEVICE] = { "C2",
        "Device at both stages: the stronger type wins (nGnRnE > nGnRE > nGRE > GRE)",
        "S2CombineS1Device()" },
    [MT_RULE_C_CACHE] = { "C3",
        "Normal at both stages: per domain NC beats WT beats WB; hints come from stage 1",
        "S2CombineS1AttrHints()" },
    [MT_RULE_C_FWB_DEVICE] = { "F1",
        "FWB, MemAttr[2]=0: Device of the stage-2 type, or the stronger stage-1 Device",
        "AArch64.S2ApplyFWBMemAttrs()" },
    [MT_RULE_C_FWB_NC] = { "F2",
        "FWB, MemAttr=0b101: Normal-NC, unless stage 1 is Device (then stage 1)",
        "AArch64.S2ApplyFWBMemAttrs()" },
    [MT_RULE_C_FWB_WB] = { "F3",
        "FWB, MemAttr=0b110: Normal Write-Back whatever stage 1 says",
        "AArch64.S2ApplyFWBMemAttrs()" },
    [MT_RULE_C_FWB_S1] = { "F4",
        "FWB, MemAttr=0b111: the stage-1 attributes",
        "AArch64.S2ApplyFWBMemAttrs()" },
    [MT_RULE_C_RESERVED] = { "R1",
        "A reserved or UNPREDICTABLE encoding: no prediction is made",
        "MAIR_ELx.Attr<n>; stage 2 MemAttr encodings" },
    [MT_RULE_A_S1] = { "A1",
        "Unaligned access to a stage-1 Device type: Alignment fault at stage 1, to EL1",
        "AArch64.S1HasAlignmentFault()" },
    [MT_RULE_A_S2] = { "A2",
        "Unaligned access to a stage-2 Device type: Alignment fault at stage 2, to EL2 "
        "(KVM before the fault-injection patch: KVM_RUN fails, the VM dies)",
        "AArch64.S2HasAlignmentFault()" },
    [MT_RULE_A_DCZVA] = { "A3",
        "DC ZVA to any Device type: Alignment fault, at the stage that says Device",
        "AArch64.S1HasAlignmentFault(), AArch64.S2HasAlignmentFault() (DCZero)" },
    [MT_RULE_A_NORMAL] = { "A4",
        "Normal memory: unaligned accesses and DC ZVA complete (SCTLR_ELx.A=0)",
        "B2.5.2 Alignment of data accesses" },
    [MT_RULE_T_EXACT] = { "T1",
        "Non-Gathering type: each access reaches the device as issued, in program order",
        "B2.10.2 Device memory: Gathering, Reordering" },
    [MT_RULE_T_GATHER] = { "T2",
        "Gathering type: writes may merge into larger transactions (the model gathers "
        "64-byte lines)",
        "B2.10.1 Normal memory; B2.10.2 Device memory: Gathering" },
    [MT_RULE_V_GATHER] = { "V1",
        "Accesses were merged into one transaction, but the type is non-Gathering",
        "B2.10.2 Device memory: Gathering" },
    [MT_RULE_V_REORDER] = { "V2",
        "Accesses arrived out of program order, but the type is non-Reordering",
        "B2.10.2 Device memory: Reordering" },
    [MT_RULE_V_SAME_ADDR] = { "V3",
        "Accesses to the same bytes arrived out of program order",
        "B2.3 Definition of the memory model: same-address ordering" },
    [MT_RULE_V_BARRIER] = { "V4",
        "Accesses were merged or reordered across a DMB/DSB",
        "B2.3.12 Memory barriers" },
    [MT_RULE_V_ALIGN] = { "V5",
        "An unaligned access to a Device type reached the device instead of faulting",
        "AArch64.S1HasAlignmentFault(), AArch64.S2HasAlignmentFault()" },
    [MT_RULE_V_SPEC_DEVICE] = { "V6",
        "A speculative read of a Device type",
        "B2.10.2 Device memory: no speculative data accesses" },
    [MT_RULE_V_RESERVED] = { "V7",
        "A transaction made with a reserved memory type",
        "MAIR_ELx.Attr<n>" },
    [MT_RULE_X_NO_SPEC] = { "X1",
        "The device declares this register read-sensitive: it was read speculatively",
        "device expectation (docs/specs)" },
    [MT_RULE_X_NO_GATHER] = { "X2",
        "The device expects this register written alone: it was gathered with others",
        "device expectation (docs/specs)" },
    [MT_RULE_X_ORDERED] = { "X3",
        "A write the program made before the doorbell arrived after it: the "
        "device may act on a stale descriptor",
        "device expectation (docs/specs); B2.3.12 Memory barriers" },
    [MT_RULE_K_CACHEABLE_PFNMAP] = { "K1",
        "A cacheable VMA of device memory: KVM maps it Normal Write-Back at stage 2 "
        "only with FEAT_S2FWB and CTR_EL0.DIC, and otherwise refuses the memory slot",
        "Linux 6.17 arch/arm64/kvm/mmu.c: kvm_arch_prepare_memory_region(), "
        "user_mem_abort(); kernel-patches/0005" },
    [MT_RULE_I_EXCLUSIVE] = { "I1",
        "Load/Store-Exclusive to memory that is not Inner and Outer Write-Back: "
        "IMPLEMENTATION DEFINED; it completes, the Store-Exclusive always fails, "
        "or a Data Abort with DFSC 0x35 (unsupported exclusive or atomic access)",
        "B2.9 Synchronization and semaphores (exclusives and memory types); "
        "ESR_ELx.DFSC 0b110101" },
    [MT_RULE_I_ATOMIC] = { "I2",
        "An LSE atomic to memory that is not Inner and Outer Write-Back: "
        "IMPLEMENTATION DEFINED; it completes as one read-modify-write, or a "
        "Data Abort with DFSC 0x35 (unsupported exclusive or atomic access)",
        "B2.2 Atomicity in the Arm architecture (atomic instructions and memory "
        "types); ESR_ELx.DFSC 0b110101" },
    [MT_RULE_I_PREFETCH] = { "I3",
        "PRFM is a hint: it never faults; it may read a Normal location "
        "speculatively, never a Device one",
        "C6.2 PRFM (immediate); B2.10.2 Device memory: no speculative data accesses" },
    [MT_RULE_I_CMO] = { "I4",
        "DC CVAC/CIVAC by VA: no Alignment fault on any memory type; a Device or "
        "Non-cacheable location holds no cached copy, so nothing reaches the device",
        "D7.4 Cache maintenance instructions; AArch64.DC()" },
    [MT_RULE_I_UNDEFINED] = { "U1",
        "The instruction is not implemented on this CPU (no FEAT_LSE): UNDEFINED, "
        "an exception with EC 0x00 at the guest's EL",
        "ID_AA64ISAR0_EL1.Atomic; C6.2 CAS, LDADD, SWP" },
    [MT_RULE_S_ISV] = { "S1",
        "A stage-2 Data Abort taken to EL2 carries the instruction syndrome (ISV=1: "
        "SAS, SRT, SF, AR) only for a load or store of one general-purpose register "
        "without writeback, not exclusive, not atomic; pairs, vectors, DC ZVA, "
        "exclusives and atomics give ISV=0, which a VMM cannot emulate; at EL1 "
        "ISV=1 is IMPLEMENTATION DEFINED",
        "ESR_ELx, ISS encoding for an exception from a Data Abort: ISV" },
};

const MtRuleInfo *mt_rule(unsigned rule)
{
    static const MtRuleInfo unknown = { "?", "unknown rule", "" };

    return rule < MT_RULE__COUNT ? &rule_table[rule] : &unknown;
}

char *mt_rule_mask_str(uint32_t mask, const char *sep, char *buf)
{
    size_t at = 0;

    buf[0] = '\0';
    for (unsigned r = 0; r < MT_RULE__COUNT; r++) {
        if (mask >> r & 1) {
            at += (size_t)snprintf(buf + at, MT_RULE_MASK_STR - at, "%s%s",
                                   at ? sep : "", rule_table[r].id);
        }
    }
    return buf;
}

const char *mt_flush_reason_name(unsigned reason)
{
    static const char *const names[MT_FLUSH__COUNT] = {
        "none", "complete", "evict", "barrier", "read", "nongather",
        "attr", "timeout", "full", "stop",
    };

    return reason < MT_FLUSH__COUNT ? names[reason] : "?";
}
