#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The missing doorbell barrier on "bare metal": barlab_nic in L1, where
# there is no stage 2 and the push page is what ioremap_wc() makes it,
# stage-1 Normal-NC.  barlab-nic's port reorders where the type permits
# (port-mode=reorder:SEED, a seed under which the first frame's doorbell
# overtakes its copy: fullstack-doorbell.sh says which).
#   doorbell_wmb=0  the checker reports X3 (the descriptor arrived after
#                   its slot doorbell) and the device counts stale
#                   doorbells: the bug is the driver's, on any machine
#                   that write-combines; Device-nGnRE at stage 2 only
#                   hid it in VMs (fullstack-doorbell.sh).
#   default         the same port, the same traffic: nothing reported,
#                   no stale doorbell, the ping goes through.
# What the device saw comes from the device: the push port's trace with
# the checker's verdicts, and the counters over QMP (bl_devices).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
. "$ROOT/tests/lib/l1.sh"
MT=${BARLAB_MT:?set BARLAB_MT to barlab-mt}
SEED=${L1_DOORBELL_SEED:-7}
PORT="port-mode=reorder:$SEED,gather-timeout-ns=10000000"

# The script L1 runs with barlab_nic's doorbell_wmb set to $1.
script() {
    cat <<EOF
bdf=\$(bl_find \$BL_NIC)
insmod /lib/modules/barlab/barlab_nic.ko doorbell_wmb=$1 || echo "l1-doorbell: insmod failed"
ifc=\$(ls /sys/bus/pci/devices/\$bdf/net)
ip link set \$ifc up && ip addr add 10.0.2.15/24 dev \$ifc
if ping -c 3 -W 5 10.0.2.2 >/dev/null; then echo "l1-doorbell: ping ok"; else echo "l1-doorbell: ping failed"; fi
bl_devices devices
EOF
}

# verdicts NAME: "violations=N X3=N tx-stale=N first=OP@OFF+SIZE" of run NAME.
verdicts() {
    "$MT" trace "$HARNESS_TMP/$1/nic.trace" --json >"$HARNESS_TMP/$1.json" 2>"$HARNESS_TMP/$1.err" || {
        echo "unreadable trace: $(cat "$HARNESS_TMP/$1.err")"; return; }
    python3 - "$HARNESS_TMP/$1.json" "$HARNESS_TMP/$1/devices.json" <<'PY'
import json, sys
txns = [r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "txn"]
bad = [t for t in txns if t["verdict"]]
x3 = sum("X3" in t["verdict"] for t in bad)
try:
    stale = json.load(open(sys.argv[2]))["barlab-nic"]["counters"]["tx-stale"]
except (OSError, ValueError, KeyError):
    stale = "?"
first = "%s@%#x+%d" % (bad[0]["op"], bad[0]["addr"], bad[0]["size"]) if bad else "-"
print("violations=%d X3=%d tx-stale=%s first=%s" % (len(bad), x3, stale, first))
PY
}

l1 buggy "$(script 0)" --bind none --device-props "nic,$PORT" --timeout 300
expect buggy-ran 0
got=$(verdicts buggy)
if [[ $got =~ ^violations=([1-9][0-9]*)\ X3=([1-9][0-9]*)\ tx-stale=([1-9][0-9]*)\ first=W@0x[48]0\+64$ ]] &&
    [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
    ok buggy-x3-and-stale-doorbells
else
    echo "$got" >"$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
    bad buggy-x3-and-stale-doorbells "wanted only X3 violations, on a 64-byte copy to slot 0 or 1, and stale doorbells"
fi

l1 correct "$(script 1)" --bind none --device-props "nic,$PORT" --timeout 300
expect correct-ran 0
expect_console correct correct-ping '^l1-doorbell: ping ok$'
got=$(verdicts correct)
if [ "$got" = "violations=0 X3=0 tx-stale=0 first=-" ]; then ok correct-nothing-reported; else
    echo "$got" >"$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
    bad correct-nothing-reported "the driver with its barrier broke a rule or rang a stale doorbell"
fi
harness_summary
