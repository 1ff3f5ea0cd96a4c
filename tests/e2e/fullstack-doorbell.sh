#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A missing barrier before a doorbell, found in L2 Linux (`barlab
# fullstack`, see docs/fullstack.md): barlab_nic loaded with
# doorbell_wmb=0 writes a TX descriptor into its push slot and rings the
# slot's doorbell with no wmb() between the two; barlab-nic's port
# reorders where the memory type permits (port-mode=reorder:SEED).
#   device   stage 2 Device-nGnRE: the stores reach the device one by
#            one, in program order.  The bug stays hidden: the checker
#            reports nothing, no doorbell finds its slot stale, the ping
#            goes through slirp.
#   any      stage 2 Normal-NC: the doorbell overtakes the descriptor.
#            The checker reports rule X3 for the descriptor (a 64-byte
#            write to slot 0 or 1) that arrived after the slot doorbell
#            (a 4-byte write at 0x10), the device counts stale doorbells
#            and logs guest errors.
# The driver with its barrier (the default) under the same port mode is
# checked by fullstack-policies.sh, under every policy it runs.
#
# What the device saw comes from the device: its counters over QMP and
# its push port's trace with the checker's verdicts (the results file's
# "nic" line, scripts/fullstack_nic.py).
#
# The port: SEED is one under which the doorbell overtakes the copy in
# slot 0, the first frame's (the order of a burst depends on its seed and
# the address of its first write alone: hw/memtype/reorder.h; seeds 1, 4,
# 6, 7, 8 do it in slot 0, 10 in slot 1, 2, 3, 5 in neither).  The
# gather timeout is 10 ms rather than 100 us: the timeout drains the
# reorder window too, and on a loaded host 100 us of virtual time can pass
# between the copy and the doorbell of nested L2 code (the doorbell then
# cannot overtake: 1 run in 3 missed it on 2 busy cores).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
SEED=${FULLSTACK_DOORBELL_SEED:-7}
PORT="port-mode=reorder:$SEED,gather-timeout-ns=10000000"
D=$HARNESS_TMP/doorbell

run "$BARLAB" fullstack --out "$D" --policy device --policy any --steps "wc ping" --no-picture \
    --device-props "nic,$PORT" --nic-param doorbell_wmb=0
expect doorbell-ran 0 '^policy +S2 .* NIC checker ' '^device .* ok ' '^any .* X3:[1-9]'
expect doorbell-finding 0 "^any: [1-9][0-9]* transaction\\(s\\) broke a rule; first X3: W@0x[48]0\\+64 \\(accesses [0-9.]+\\) reached the device after access [0-9]+ \\(W@0x10\\+4\\); port reorder:$SEED seed $SEED; tx-stale [1-9]"

for p in device any; do
    expect_line "$p-driver-without-barrier" "$D/$p/summary" '^nic-params doorbell_wmb=0$'
done

# device: the missing barrier is hidden, traffic works.
expect_line device-nothing-reported "$D/device/results" \
    "^nic ok port=reorder:$SEED seed=$SEED violations=0 tx-stale=0 tx-late=0 "
expect_line device-stage2 "$D/device/summary" '^s2 nic-bar2 Device-nGnRE$'
expect_line device-ping-through-slirp "$D/device/results" '^ping ok replies=3/3 tx=[1-9][0-9]* rx=[1-9]'

# any: the doorbell overtakes the descriptor, and the device shows it.
expect_line any-stage2 "$D/any/summary" '^s2 nic-bar2 Normal-NC$'
expect_line any-x3-doorbell-overtook-descriptor "$D/any/results" \
    "^nic broken port=reorder:$SEED seed=$SEED violations=[1-9][0-9]* X3=[1-9][0-9]* .*first-rule=X3 first-access=W@0x[48]0\\+64 first-seq=[0-9]+\\.\\.[0-9]+ first-after=[0-9]+:W@0x10\\+4$"
expect_line any-only-x3 "$D/any/results" '^nic broken [^ ]* [^ ]* violations=([0-9]+) X3=\1 tx-stale='
expect_line any-stale-doorbells "$D/any/results" '^nic broken .* tx-stale=[1-9][0-9]* tx-late=[0-9]+ errors=[1-9]'
expect_line any-guest-error-logged "$D/any/guest-errors.log" \
    '^barlab-nic: slot [01] rang with [0-9]+ of its 64 bytes written since it last rang: the doorbell overtook the descriptor'

harness_summary
