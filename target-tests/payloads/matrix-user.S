/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A user's instruction sequence as the matrix payload's pattern "user"
 * (pattern=file:FILE in a scenario file, docs/scenarios.md): FILE is
 * copied to user.S beside this file's object and included here, after
 * the entry every pattern has (matrix-entry.h), so that the matrix runs
 * it exactly as it runs the built-in patterns (matrix-patterns.S):
 *
 *   x0  the pattern's 256-byte slot in the BAR     x3..x10  the data:
 *   x1  the priming address, 0 on first touch               tag + 1 .. + 8
 *   x2  the tag                                    x30      the return
 *
 * FILE defines the label `pattern`, which is entered with the page of
 * the slot already dropped from the TLB (and primed again for a TLB hit)
 * and returns with `ret`.  It may change x0-x17 and v0-v31; it must
 * leave x18-x30 and sp alone and call nothing: when an access faults,
 * the EL1 handler resumes at x30, here after the call, skipping the
 * rest.  Its code stays in .text, between matrix_user_begin and
 * matrix_user_end, where the handler looks for it.  What it leaves in
 * x0 is not looked at: the cell's status is 0.
 */
#include "matrix-entry.h"

    .arch_extension lse
    .text
    .balign 16
    .global matrix_user, matrix_user_begin, matrix_user_end
    .type   matrix_user, %function
matrix_user_begin:
matrix_user:
    stp     x29, x30, [sp, #-16]!
    data
    touch
    bl      pattern
    ldp     x29, x30, [sp], #16
    mov     x0, xzr
    ret

    /* The user's own macros and labels must not meet ours. */
    .purgem data
    .purgem touch

#include "user.S"

    .text
matrix_user_end:
