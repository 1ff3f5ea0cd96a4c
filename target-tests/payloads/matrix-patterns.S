/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The matrix payload's access patterns, one function each, in assembly so
 * that the accesses are exactly those of the oracle's pattern table
 * (hw/memtype/oracle.c), offsets relative to the pattern's slot:
 *
 *   u64 matrix_NAME(u64 slot, u64 prime, u64 tag)
 *
 *   x0  the slot; returns the   x3..x10  the data: tag + 1 .. tag + 8
 *       status (STXR's, else 0) x11..x14 scratch
 *   x1  the priming address,    v0..v3   the data again (burst64_st1)
 *       0 on first touch
 *   x2  the tag
 *
 * The registers are the oracle's (its INSN() rt, the ESR.SRT a stage-2
 * abort reports): single loads into x12, stores from x3 (bursts from x3
 * up).  The LSE atomics need FEAT_LSE; on a CPU without it they are
 * UNDEFINED, which the EL1 handler reports like any other exception.
 *
 * Each function first computes its data and addresses, then drops the
 * slot's page from the TLB (TLBI VAE1, DSB, ISB) and, for a TLB hit,
 * primes it again with an aligned 8-byte load from @prime in the same
 * page; the pattern follows with nothing in between that could exit to a
 * hypervisor.  The NEON moves of burst64_st1 come before the TLBI, so a
 * lazy FP/SIMD trap to L1 KVM cannot land between the prime and the ST1.
 *
 * The functions are leaves and leave x30 alone: when an access faults,
 * the EL1 handler resumes at x30, which skips the rest of the pattern.
 * It recognises them by matrix_patterns_begin/end.
 */

#include "matrix-entry.h"

.macro pattern name
    .balign 16
    .global matrix_\name
    .type   matrix_\name, %function
matrix_\name:
    data
.endm

/* Four STR X of \a..\d to [x0, #\off] and the next 24 bytes. */
.macro str4 off, a, b, c, d
    str     \a, [x0, #\off]
    str     \b, [x0, #\off + 8]
    str     \c, [x0, #\off + 16]
    str     \d, [x0, #\off + 24]
.endm

/* Return 0: the pattern completed with nothing to say. */
.macro done
    mov     x0, xzr
    ret
.endm

    .arch_extension lse
    .text
    .balign 16
    .global matrix_patterns_begin, matrix_patterns_end
matrix_patterns_begin:

pattern str8
    touch
    str     x3, [x0]
    done

pattern str8_unaligned
    add     x13, x0, #4
    touch
    str     x3, [x13]
    done

pattern ldr8
    touch
    ldr     x12, [x0]
    done

pattern ldr8_unaligned
    add     x13, x0, #4
    touch
    ldr     x12, [x13]
    done

pattern stp16
    touch
    stp     x3, x4, [x0]
    done

pattern stp16_unaligned
    add     x13, x0, #4
    touch
    stp     x3, x4, [x13]
    done

pattern burst64_str
    touch
    str4    0, x3, x4, x5, x6
    str4    32, x7, x8, x9, x10
    done

pattern burst64_stp
    touch
    stp     x3, x4, [x0]
    stp     x5, x6, [x0, #16]
    stp     x7, x8, [x0, #32]
    stp     x9, x10, [x0, #48]
    done

pattern burst64_st1
    mov     v0.d[0], x3
    mov     v0.d[1], x4
    mov     v1.d[0], x5
    mov     v1.d[1], x6
    mov     v2.d[0], x7
    mov     v2.d[1], x8
    mov     v3.d[0], x9
    mov     v3.d[1], x10
    touch
    st1     {v0.2d, v1.2d, v2.2d, v3.2d}, [x0]
    done

pattern dczva
    touch
    dc      zva, x0
    done

pattern burst64_str_dmb
    touch
    str4    0, x3, x4, x5, x6
    dmb     sy
    str4    32, x7, x8, x9, x10
    done

pattern memcpy_unaligned
    add     x13, x0, #3
    add     x14, x0, #19
    touch
    stp     x3, x4, [x13]
    stp     x5, x6, [x14]
    done

/* memset would store one value twice; distinct data shows which store the overlap kept. */
pattern memset_unaligned
    add     x13, x0, #2
    touch
    stp     x3, x4, [x13]
    stp     x5, x6, [x0, #16]
    done

pattern ldp16
    touch
    ldp     x12, x13, [x0]
    done

pattern ldnp16
    touch
    ldnp    x12, x13, [x0]
    done

/* The Store-Exclusive's status (0: it stored) is the pattern's. */
pattern ldxr_stxr
    touch
    ldxr    x12, [x0]
    stxr    w11, x3, [x0]
    mov     x0, x11
    ret

/* Compare with x12 (the slot holds something else: the CAS reads only, unless it matches). */
pattern cas8
    mov     x12, x2
    touch
    cas     x12, x3, [x0]
    done

pattern ldadd8
    touch
    ldadd   x3, x12, [x0]
    done

pattern swp8
    touch
    swp     x3, x12, [x0]
    done

pattern stlr_ldar
    add     x13, x0, #8
    touch
    stlr    x3, [x0]
    ldar    x12, [x13]
    done

/*
 * The slot is the page's priming slot: the store covers its last 4 bytes
 * and the first 4 of the next page.  Both pages leave the TLB; a TLB hit
 * primes both (each at its priming slot).
 */
pattern str8_pagecross
    add     x13, x0, #0xfc
    add     x14, x13, #8
    lsr     x11, x13, #12
    tlbi    vae1, x11
    lsr     x11, x14, #12
    tlbi    vae1, x11
    dsb     ish
    isb
    cbz     x1, 1f
    ldr     x12, [x1]
    add     x11, x1, #0x1000
    ldr     x12, [x11]
1:
    str     x3, [x13]
    done

pattern prfm
    touch
    prfm    pldl1keep, [x0]
    done

pattern str8_dccvac
    touch
    str     x3, [x0]
    dc      cvac, x0
    done

pattern str8_dccivac
    touch
    str     x3, [x0]
    dc      civac, x0
    done

/*
 * The register patterns: x0 is the window (a push page of barlab-nic, or
 * barlab-gpu's EVENTS line), offsets as in the oracle's table.
 */

/* A 64-byte descriptor as eight STR X of x3..x10 at [x0, #\off]. */
.macro descriptor off
    str4    \off, x3, x4, x5, x6
    str4    \off + 32, x7, x8, x9, x10
.endm

pattern db_nobarrier
    touch
    descriptor 0x40
    str     w3, [x0]
    done

pattern db_dmb_oshst
    touch
    descriptor 0x40
    dmb     oshst
    str     w3, [x0]
    done

pattern db_dsb
    touch
    descriptor 0x40
    dsb     st
    str     w3, [x0]
    done

pattern bf_copy64_db
    touch
    descriptor 0
    done

pattern mp_flag
    touch
    str     x3, [x0, #0x50]
    str     x3, [x0, #0x80]
    done

pattern rc_read_spec
    touch
    ldr     w12, [x0]
    ldr     w12, [x0, #8]
    done

matrix_patterns_end:
