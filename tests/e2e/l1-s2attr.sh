#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Kernel patches 0002 and 0003 in L1: the stage-2 memory type KVM installs
# for a vfio-pci BAR follows vfio-pci's policy, as the kvm_s2_map_device
# tracepoint and the stage-2 page-table dump say, with FEAT_S2FWB (-cpu
# max) and without (-cpu neoverse-n1).  An L2 guest (barlab-vmm, the
# matrix payload) stores to barlab-gpu's VRAM under each policy while the
# script reads its stage-2 dump.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
. "$ROOT/tests/lib/l1.sh"

# The guest lives for a fraction of a second: run it until the dump has
# been caught with the BAR's page in it (a few tries at most).
script='
gpu=$(bl_find 1234:ba01) || bl_fail "no barlab-gpu"
bl_trace_on kvm/kvm_s2_map_device || bl_fail "no tracepoint"
pats=str8$(printf ",str8%.0s" $(seq 40))
for p in device prefetchable any; do
    bl_policy $p >/dev/null
    caught=
    for try in 1 2 3 4 5; do
        barlab-vmm --device "$gpu" /lib/barlab/payloads/matrix.elf mair=0x44 \
            touch=first base=0x0 patterns=$pats >/tmp/vmm.out 2>&1 &
        for i in $(seq 300); do
            f=$(ls /sys/kernel/debug/kvm/*/stage2_page_tables 2>/dev/null | head -n 1)
            [ -n "$f" ] || continue
            line=$(grep "^0x0000000011000000-" "$f" 2>/dev/null | grep AF)
            if [ -n "$line" ]; then caught=$line; break; fi
        done
        wait
        [ -z "$caught" ] || break
    done
    echo "ptdump $p: ${caught:-not caught}"
done
grep -o "kvm_s2_map_device: ipa 0x11000000 .*" /sys/kernel/tracing/trace | sed "s/^/trace /"
'
for cpu in max neoverse-n1; do
    case $cpu in max) fwb=" \(FWB\)" ;; *) fwb="" ;; esac
    l1 "$cpu" "$script" --cpu "$cpu"
    expect "$cpu-boot" 0 "barlab-l1: exit 0"
    expect_console "$cpu" "$cpu-ptdump-follows-policy" \
        "^ptdump device: .* DEVICE/nGnRE$" "^ptdump prefetchable: .* NORMAL-NC$" \
        "^ptdump any: .* NORMAL-NC$"
    # One line per policy, in order: device, prefetchable, any.
    got=$(l1_console "$cpu" | sed -n 's/^trace kvm_s2_map_device: ipa 0x11000000 .* memattr \(0x[0-9a-f]\) \(.*\)$/\1 \2/p' |
        tr '\n' '|')
    want="0x1 Device-nGnRE${fwb//\\/}|0x5 Normal-NC${fwb//\\/}|0x5 Normal-NC${fwb//\\/}|"
    if [ "$got" = "$want" ]; then
        ok "$cpu-tracepoint-follows-policy"
    else
        echo "got '$got', wanted '$want'" >"$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
        bad "$cpu-tracepoint-follows-policy" "kvm_s2_map_device lines differ"
    fi
done
harness_summary
