#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Kernel patches 0002, 0003, 0005 and 0006 in L1: the stage-2 memory type
# KVM installs for a vfio-pci BAR follows vfio-pci's policy, as the
# kvm_s2_map_device tracepoint and the stage-2 page-table dump say, with
# FEAT_S2FWB (-cpu max) and without (-cpu neoverse-n1), with KVM in VHE
# and in nVHE mode (-cpu cortex-a57; -cpu max with kvm-arm.mode=nvhe),
# and under protected KVM (kvm-arm.mode=protected: hVHE on max, nVHE on
# cortex-a57), where the guests' stage 2 is still built by the host.
# Under "cacheable" the BAR is Normal-WB at stage 2 where the CPU has FWB
# and CTR_EL0.DIC, and KVM refuses its memory slot where it has not.  An
# L2 guest (barlab-vmm, the matrix payload) stores to barlab-gpu's VRAM
# under each policy while the script reads its stage-2 dump.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
. "$ROOT/tests/lib/l1.sh"

# The guest lives for a fraction of a second: run it until the dump has
# been caught with the BAR's page in it (a few tries at most).  A VMM
# that cannot start (KVM refused the memory slot) is not retried.
script='
gpu=$(bl_find 1234:ba01) || bl_fail "no barlab-gpu"
bl_trace_on kvm/kvm_s2_map_device || bl_fail "no tracepoint"
pats=str8$(printf ",str8%.0s" $(seq 40))
for p in device prefetchable any cacheable; do
    bl_policy $p >/dev/null || bl_fail "cannot set the policy $p"
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
        ! grep -q "^vmm: outcome=memslot-refused" /tmp/vmm.out || break
    done
    echo "ptdump $p: ${caught:-not caught}"
    sed -n "s/^vmm: outcome=\([a-z-]*\).*/outcome $p: \1/p" /tmp/vmm.out | tail -n 1
    grep "^vmm: outcome=memslot-refused" /tmp/vmm.out | sed "s/^/refusal $p: /"
done
grep -o "kvm_s2_map_device: ipa 0x11000000 .*" /sys/kernel/tracing/trace | sed "s/^/trace /"
'

# NAME CPU KVM-MODE(or "") WANT-KVM: one L1 configuration.
while read -r -u 3 name cpu mode kvm; do
    opts=(--cpu "$cpu")
    [ "$mode" = - ] || opts+=(--kvm-mode "$mode")
    l1 "$name" "$script" "${opts[@]}"
    expect "$name-boot" 0 "barlab-l1: exit 0"
    expect_console "$name" "$name-kvm-$kvm" "^barlab-l1: kvm $kvm$"
    expect_console "$name" "$name-ptdump-follows-policy" \
        "^ptdump device: .* DEVICE/nGnRE$" "^ptdump prefetchable: .* NORMAL-NC$" \
        "^ptdump any: .* NORMAL-NC$"
    expect_console "$name" "$name-guests-ran" "^outcome device: ok$" \
        "^outcome prefetchable: ok$" "^outcome any: ok$"
    # One line per mapped policy, in order: device, prefetchable, any, and
    # cacheable where the CPU allows a cacheable mapping at all.
    case $cpu in
    max)
        fwb=" (FWB)"
        expect_console "$name" "$name-cpu-features" "^barlab-l1: cpu-features fwb dic$"
        expect_console "$name" "$name-cacheable-normal-wb" "^ptdump cacheable: .* NORMAL$" \
            "^outcome cacheable: ok$"
        extra="0x6 Normal-WB (FWB)|" ;;
    *)
        fwb=""
        expect_console "$name" "$name-cpu-features" "^barlab-l1: cpu-features none$"
        expect_console "$name" "$name-cacheable-refused" "^ptdump cacheable: not caught$" \
            "^outcome cacheable: memslot-refused$" \
            "^refusal cacheable: .* bar=0000:00:0[0-9a-f].0/BAR2 errno=22 .* cacheable-pfnmap=0$"
        extra="" ;;
    esac
    got=$(l1_console "$name" | sed -n 's/^trace kvm_s2_map_device: ipa 0x11000000 .* memattr \(0x[0-9a-f]\) \(.*\)$/\1 \2/p' |
        tr '\n' '|')
    want="0x1 Device-nGnRE$fwb|0x5 Normal-NC$fwb|0x5 Normal-NC$fwb|$extra"
    if [ "$got" = "$want" ]; then
        ok "$name-tracepoint-follows-policy"
    else
        echo "got '$got', wanted '$want'" >"$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
        bad "$name-tracepoint-follows-policy" "kvm_s2_map_device lines differ"
    fi
done 3<<'CONFIGS'
max max - vhe
neoverse-n1 neoverse-n1 - vhe
cortex-a57 cortex-a57 - nvhe
max-nvhe max nvhe nvhe
max-protected max protected protected-hvhe
cortex-a57-protected cortex-a57 protected protected-nvhe
CONFIGS
harness_summary
