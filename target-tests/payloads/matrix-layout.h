/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The matrix payload's layout of the BAR under test, shared by the
 * payload (matrix.c) and the host side that places the groups of cells
 * (python/barlab/matrix.py reads these with barlab.regmaps).  Plain
 * constants, so that both can read them.
 */
#ifndef MATRIX_LAYOUT_H
#define MATRIX_LAYOUT_H

/* A group of cells: two 4 KiB pages, at a multiple of its size. */
#define MATRIX_GROUP_SIZE       0x2000
/* Each slot pattern's slot in a group (slot_of() in matrix.c). */
#define MATRIX_SLOT_SIZE        0x100

#endif
