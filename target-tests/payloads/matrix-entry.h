/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every pattern of the matrix payload does before its accesses
 * (matrix-patterns.S, and matrix-user.S for a user's file): the data
 * registers, then first touch or TLB hit.  Included by assembly files.
 */
#ifndef MATRIX_ENTRY_H
#define MATRIX_ENTRY_H

/* x3..x10 = x2 + 1 .. x2 + 8: every store's data names the cell and the store. */
.macro data
    add     x3, x2, #1
    add     x4, x2, #2
    add     x5, x2, #3
    add     x6, x2, #4
    add     x7, x2, #5
    add     x8, x2, #6
    add     x9, x2, #7
    add     x10, x2, #8
.endm

/* First touch: a fresh walk.  TLB hit: the entry the priming load left. */
.macro touch
    lsr     x11, x0, #12
    tlbi    vae1, x11
    dsb     ish
    isb
    cbz     x1, 1f
    ldr     x12, [x1]
1:
.endm

#endif /* MATRIX_ENTRY_H */
