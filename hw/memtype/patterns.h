/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The access patterns, in the order of the oracle's pattern table
 * (oracle.c): the one list of their names, where each runs and their
 * order.  The order is each slot pattern's 256-byte slot in the matrix
 * payload's group (target-tests/payloads/matrix.c, slot_of()), so a
 * new pattern goes at the end of its kind.
 *
 * X(NAME, TARGET): TARGET is what the pattern's offsets are relative to
 * (MtTarget without its MT_TARGET_ prefix): BAR, a slot of barlab-gpu's
 * BAR; PUSH, a barlab-nic push page; RC, a read-to-clear register line.
 * Plain preprocessor text: the freestanding payloads include it too.
 */
#ifndef MEMTYPE_PATTERNS_H
#define MEMTYPE_PATTERNS_H

#define MT_PATTERNS(X)                                                  \
    X(str8, BAR) X(str8_unaligned, BAR) X(ldr8, BAR)                    \
    X(ldr8_unaligned, BAR) X(stp16, BAR) X(stp16_unaligned, BAR)        \
    X(burst64_str, BAR) X(burst64_stp, BAR) X(burst64_st1, BAR)         \
    X(dczva, BAR) X(burst64_str_dmb, BAR) X(memcpy_unaligned, BAR)      \
    X(memset_unaligned, BAR) X(ldp16, BAR) X(ldnp16, BAR)               \
    X(ldxr_stxr, BAR) X(cas8, BAR) X(ldadd8, BAR) X(swp8, BAR)          \
    X(stlr_ldar, BAR) X(str8_pagecross, BAR) X(prfm, BAR)               \
    X(str8_dccvac, BAR) X(str8_dccivac, BAR)                            \
    X(db_nobarrier, PUSH) X(db_dmb_oshst, PUSH) X(db_dsb, PUSH)         \
    X(bf_copy64_db, PUSH) X(mp_flag, PUSH) X(rc_read_spec, RC)

#endif /* MEMTYPE_PATTERNS_H */
