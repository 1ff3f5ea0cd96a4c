// SPDX-License-Identifier: GPL-2.0-or-later
// barlab: unaligned
pattern:
    stp     x3, x4, [x0, #4]
    ret
