#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The memory types barlab's devices see when the guest drivers run in the
# L1 host (no stage 2: L1 is the hypervisor): barlab_nic's push page and
# barlab_gpu's VRAM (ioremap_wc) arrive as stage-1 Normal-NC, the register
# BARs of both (ioremap) as Device-nGnRE, and nothing went through a
# stage-2 translation.  Witnesses: the devices' port traces and QEMU's
# barlab_*_reg_* trace events.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
. "$ROOT/tests/lib/l1.sh"
MT=${BARLAB_MT:?set BARLAB_MT to barlab-mt}

out=$HARNESS_TMP/types
# QEMU's trace log goes beside the run's directory: barlab owns --out.
qlog=$HARNESS_TMP/qemu-trace.log
l1 types '
insmod /lib/modules/barlab/barlab_nic.ko || bl_fail "barlab_nic did not load"
insmod /lib/modules/barlab/barlab_gpu.ko || bl_fail "barlab_gpu did not load"
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0
ping -c 2 -W 2 10.0.2.2 >/dev/null || bl_fail "no ping"
fbdraw >/dev/null || bl_fail "fbdraw failed"
' --bind none -- -trace 'barlab_*_reg_*' -D "$qlog"
expect types-boot 0 "barlab-l1: exit 0"

# check_port NAME TRACE: every transaction at the port is stage-1
# Normal-NC (0x44) with no stage 2; there are some.
check_port() {
    if ! "$MT" trace "$2" --json >"$HARNESS_TMP/$1.json" 2>"$HARNESS_TMP/err"; then
        bad "$1" "cannot read $2"
        return
    fi
    run python3 - "$HARNESS_TMP/$1.json" <<'PY'
import json, sys
txns = [r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "txn"]
odd = [r for r in txns if r["s1"] != 0x44 or r["attr"] != 0x44 or "nostage2" not in r["flags"]]
print("%d transactions, %d not stage-1 Normal-NC without stage 2" % (len(txns), len(odd)))
for r in odd[:5]:
    print("  e.g. addr %#x s1 %#x attr %#x flags %s" % (r["addr"], r["s1"], r["attr"], r["flags"]))
sys.exit(0 if txns and not odd else 1)
PY
    expect "$1" 0 " 0 not stage-1 Normal-NC"
}
check_port nic-push-page-normal-nc "$HARNESS_TMP/types/nic.trace"
check_port gpu-vram-normal-nc "$HARNESS_TMP/types/gpu.trace"

# check_regs NAME DEV: every register access traced is typed, stage-1
# Device-nGnRE (0x04), no stage 2.
check_regs() {
    local all odd
    all=$(grep -c "^barlab_$2_reg_" "$qlog")
    odd=$(grep "^barlab_$2_reg_" "$qlog" |
        grep -vc 'typed 1 s1 0x04 attr 0x04 stage2 0$')
    if [ "${all:-0}" -gt 0 ] && [ "${odd:-0}" -eq 0 ]; then
        ok "$1"
    else
        grep "^barlab_$2_reg_" "$qlog" | grep -v 'typed 1 s1 0x04' |
            head -n 5 >"$HARNESS_TMP/out"
        bad "$1" "$all register accesses traced, $odd not stage-1 Device-nGnRE without stage 2"
    fi
}
check_regs nic-registers-device-ngnre nic
check_regs gpu-registers-device-ngnre gpu
harness_summary
