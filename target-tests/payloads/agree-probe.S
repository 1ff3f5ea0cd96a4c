/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The accesses under test, in assembly so that the instruction sequence is
 * exact: nothing but the invalidation and the priming store may sit
 * between the start of a probe and the access under test.
 *
 *   x0  address under test      x2  priming address (TLB-hit probes)
 *   x1  value stored            x3  priming value
 *
 * "first" probes invalidate the EL1&0 TLB (this VMID, both stages) just
 * before the access, so it is translated by a fresh walk.  "hit" probes
 * invalidate, then make an aligned store to the same page, then the
 * access: it uses the TLB entry the priming store left, and no exception
 * comes in between (an exception return would not flush QEMU's TLB, but a
 * real hypervisor exit in a nested setup does, which hid QEMU's TLB-hit
 * bugs until now).  The exception handlers recognise these instructions
 * by the probe_insn_* labels and skip the one that faulted.
 */
.macro tlb_flush_el1
    tlbi    vmalle1
    dsb     nsh
    isb
.endm

    .text
    .balign 64
    .global probe_begin, probe_end
    .global probe_str_first, probe_str_hit, probe_zva_first, probe_zva_hit
    .global probe_insn_str_first, probe_insn_str_hit, probe_insn_str_prime
    .global probe_insn_zva_first, probe_insn_zva_hit, probe_insn_zva_prime
probe_begin:
probe_str_first:
    tlb_flush_el1
probe_insn_str_first:
    str     x1, [x0]
    ret

probe_str_hit:
    tlb_flush_el1
probe_insn_str_prime:
    str     x3, [x2]
probe_insn_str_hit:
    str     x1, [x0]
    ret

probe_zva_first:
    tlb_flush_el1
probe_insn_zva_first:
    dc      zva, x0
    ret

probe_zva_hit:
    tlb_flush_el1
probe_insn_zva_prime:
    str     x3, [x2]
probe_insn_zva_hit:
    dc      zva, x0
    ret
probe_end:
