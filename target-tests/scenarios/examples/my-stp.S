// SPDX-License-Identifier: GPL-2.0-or-later
// barlab: unaligned
pattern: add    x13, x0, #4
         stp    x3, x4, [x13]
         ret
