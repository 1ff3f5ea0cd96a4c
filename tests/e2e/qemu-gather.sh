#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Write gathering through real TCG: the gather payload makes three bursts
# of eight 8-byte stores to barlab-gpu's VRAM (Normal-NC; Device-nGnRE;
# Normal-NC with a DMB after four) and the device trace must show one
# 64-byte transaction, eight 8-byte ones, and two 32-byte ones; with the
# port in exact mode, every store arrives alone.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
QEMU=${QEMU:?set QEMU to barlab\'s qemu-system-aarch64}
MT=${BARLAB_MT:?set BARLAB_MT to barlab-mt}
PAYLOAD=${PAYLOAD_DIR:?set PAYLOAD_DIR to the built payloads}/gather.elf

# boot NAME PORT-OPTS: run the payload, leave the trace as JSON in NAME.json
boot() {
    local trace=$HARNESS_TMP/$1.bltrace
    run timeout 120 "$QEMU" -M virt,virtualization=on,gic-version=3 -cpu max \
        -smp 2 -m 256M -nodefaults -display none -serial stdio \
        -kernel "$PAYLOAD" -device "barlab-gpu,trace=$trace$2"
    if [ "$(status)" != 0 ] || ! grep -q '^gather-done' "$HARNESS_TMP/out"; then
        bad "$1-boot" "the payload did not finish"
        return 1
    fi
    "$MT" trace "$trace" --json >"$HARNESS_TMP/$1.json"
}

# expect_shape NAME RUN LO HI WANT: run RUN's transactions at [LO, HI)
expect_shape() {
    expect_trace_shape "$1" "$HARNESS_TMP/$2.json" "$3" "$4" "$5"
}

if boot gather ""; then
    expect_shape normal-nc-burst-gathered gather 0x000 0x100 "64x8"
    expect_shape device-burst-one-by-one gather 0x100 0x200 "8x1 8x1 8x1 8x1 8x1 8x1 8x1 8x1"
    expect_shape dmb-splits-the-burst gather 0x200 0x300 "32x4 32x4"
fi
if boot exact ",port-mode=exact"; then
    expect_shape exact-mode-no-gathering exact 0x000 0x100 "8x1 8x1 8x1 8x1 8x1 8x1 8x1 8x1"
fi
harness_summary
