#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The agreement test (docs/agreement.md): every stage-1 MAIR attribute x
# stage-2 MemAttr x FWB, first touch and TLB hit, on a CPU with FEAT_S2FWB
# and one without; the device trace and the fault stages must agree with
# hw/memtype in every cell.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
QEMU=${QEMU:?set QEMU to barlab\'s qemu-system-aarch64}
BARLAB_ROOT=$ROOT
for lib in common builds; do
    . "$ROOT/scripts/lib/$lib.sh"
done

for cpu in max neoverse-n1; do
    run agree_run "$cpu" "" "$QEMU"
    if [ "$(status)" = 0 ] &&
        grep -qE '^agreement: ([0-9]+)/\1 cells' "$HARNESS_TMP/out"; then
        ok "agreement-$cpu"
    else
        bad "agreement-$cpu" "disagreements (full report: $BARLAB_BUILD/agree/$cpu/agree.txt)"
    fi
done
harness_summary
