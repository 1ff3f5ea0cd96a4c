#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The QEMU and kernel patch series as upstream would receive them: one
# numbered series each with a cover letter, one author, every patch clean
# under its project's checkpatch.pl (scripts/series.py says what exactly).
# QEMU_SRC and KERNEL_SRC: the unpacked source trees (scripts/barlab
# check series unpacks them).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
exec /usr/bin/python3 "$ROOT/scripts/series.py" --root "$ROOT" \
    --qemu-src "$QEMU_SRC" --kernel-src "$KERNEL_SRC"
