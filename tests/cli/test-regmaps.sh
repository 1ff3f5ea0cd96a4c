#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The Linux drivers' register names (guest-drivers/barlab_nic.c,
# barlab_gpu.c) have the values the device headers give them
# (hw/barlab/nic-regs.h, barlab-gpu.h), and a driver defines no device
# fact the comparison does not know of: scripts/regmaps.py.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"

run /usr/bin/python3 "$ROOT/scripts/regmaps.py" --root "$ROOT"
expect regmaps-drivers 0 '^PASS regmap-barlab_nic\.c ' '^PASS regmap-barlab_gpu\.c '

# A driver that disagrees is named, with both values.
tmp=$HARNESS_TMP/root
mkdir -p "$tmp/guest-drivers" "$tmp/hw/barlab"
cp "$ROOT"/hw/barlab/nic-regs.h "$ROOT"/hw/barlab/barlab-gpu.h "$tmp/hw/barlab/"
cp "$ROOT"/guest-drivers/barlab_gpu.c "$tmp/guest-drivers/"
sed 's/^#define BLN_MAC_HI\t.*/#define BLN_MAC_HI\t\t0x088/' \
    "$ROOT/guest-drivers/barlab_nic.c" >"$tmp/guest-drivers/barlab_nic.c"
run /usr/bin/python3 "$ROOT/scripts/regmaps.py" --root "$tmp"
expect regmaps-mismatch 1 '^FAIL regmap-barlab_nic\.c' 'BLN_MAC_HI .* is 0x88, REG_MAC_HI .* is 0x84'

harness_summary
