#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The full stack under each vfio-pci policy (`barlab fullstack`, see
# docs/fullstack.md): Debian's qemu-system-aarch64 in L1 passes
# barlab-nic and barlab-gpu through to an L2 Linux with guest-drivers/.
#   device        stage 2 Device-nGnRE for every BAR: the NIC driver's
#                 write-combining self-test says "not supported"; the
#                 first unaligned store of fbdraw --odd (glibc memcpy)
#                 through resource2_wc, and again through /dev/fb0, takes
#                 a stage-2 alignment fault L1 KVM does not handle
#                 ("Unsupported FSC ... xFSC=0x21"): KVM_RUN fails, QEMU
#                 stops the VM, and a new L2 boots for the next step;
#   device with --inject-align (kernel patch 0004): the same fault reaches
#                 L2 as an alignment fault: fbdraw gets SIGBUS, the VM
#                 lives on;
#   any           stage 2 Normal-NC for every BAR: "supported", and both
#                 --odd runs complete, all 2144 operations read back;
#   prefetchable  like any for the prefetchable BARs (the NIC's push page,
#                 the GPU's VRAM), Device-nGnRE for the others (the GPU's
#                 registers): the same results as any.
# Under each: ping through L0's slirp, fbdraw's picture through both
# mappings, read back in L2 and seen in barlab's screendump, no "Cannot
# reset device" from QEMU's vfio-pci (both devices have FLR); barlab-nic's
# port reorders as in fullstack-doorbell.sh, where the same driver without
# its doorbell barrier breaks, and its checker and counters see nothing
# wrong: no rule broken, no stale doorbell, no late push copy.
#
# FULLSTACK_POLICIES="device any" FULLSTACK_INJECT=0: a subset (the quick
# check); the default is all three policies and the injection run.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
POLICIES=${FULLSTACK_POLICIES:-device prefetchable any}
INJECT=${FULLSTACK_INJECT:-1}
NIC_PORT=reorder:${FULLSTACK_DOORBELL_SEED:-7}

# fullstack NAME OPTION...: `barlab fullstack --out $HARNESS_TMP/NAME
# OPTION...`; PASS NAME-ran if it printed its table and exited 0.
fullstack() {
    local name=$1
    shift
    run "$BARLAB" fullstack --out "$HARNESS_TMP/$name" "$@"
    expect "$name-ran" 0 '^policy +S2 '
}

# expect_common NAME DIR POLICY: what every run shares: L1 ran the
# policy, the VMM is Debian's, both devices went through vfio-pci, the
# ping went through L0's slirp, both draws read back right and the
# screendump shows the test image.
expect_common() {
    local n=$1 d=$2 p=$3
    tr -d '\r' <"$d/console.log" >"$d/console.txt" 2>/dev/null
    expect_line "$n-l1-policy" "$d/console.txt" "^barlab-l1: policy $p\$"
    expect_line "$n-debian-vmm" "$d/summary" '^vmm QEMU emulator version [0-9.]+ \(Debian '
    expect_line "$n-vfio-pci" "$d/console.txt" \
        '^barlab-l1: device 1234:ba02 .* bound to vfio-pci$' \
        '^barlab-l1: device 1234:ba01 .* bound to vfio-pci$'
    expect_line "$n-ping-through-slirp" "$d/results" '^ping ok replies=[1-9]/3 tx=[1-9][0-9]* rx=[1-9]'
    expect_line "$n-frames-reach-l0" "$d/summary" '^l0-frames ([6-9]|[1-9][0-9]+)$'
    expect_line "$n-draw-resource2-wc" "$d/results" '^draw-res ok '
    expect_line "$n-draw-fb0" "$d/results" '^draw-fb0 ok '
    expect_line "$n-screendump-matches" "$d/summary" '^picture matches$'
    # Both devices have FLR: QEMU's vfio-pci in L1 can reset them.
    expect_no_line "$n-vfio-can-reset" "$d/console.txt" 'no available reset mechanism'
    expect_line "$n-nic-nothing-reported" "$d/results" \
        '^nic ok port=[^ ]+ seed=[^ ]+ violations=0 tx-stale=0 tx-late=0 '
}

# expect_odd NAME DIR WHAT ERE: PASS NAME-odd-res-WHAT and NAME-odd-fb0-WHAT
# if both fbdraw --odd runs (resource2_wc, /dev/fb0) ended as ERE says.
expect_odd() {
    local s
    for s in odd-res odd-fb0; do
        expect_line "$1-$s-$3" "$2/results" "^$s $4"
    done
}

args=()
for p in $POLICIES; do
    args+=(--policy "$p")
done
fullstack policies "${args[@]}" --device-props "nic,port-mode=$NIC_PORT,gather-timeout-ns=10000000"
for p in $POLICIES; do
    d=$HARNESS_TMP/policies/$p
    expect_common "$p" "$d" "$p"
    expect_line "$p-nic-port-reorders" "$d/results" "^nic ok port=$NIC_PORT "
    case $p in
    device)
        expect_line device-wc-not-supported "$d/results" '^wc not-supported inline=0 '
        expect_odd device "$d" ends-the-vm \
            'vm-death qemu=kvm_run_failed_Bad_address .*l1-kvm=EC=0x24_xFSC=0x21_'
        expect_line device-l2-booted-again "$d/summary" '^boots 3$'
        expect_line device-stage2 "$d/summary" '^s2 nic-bar2 Device-nGnRE$' \
            '^s2 gpu-bar0 Device-nGnRE$' '^s2 gpu-bar2 Device-nGnRE$'
        ;;
    any|prefetchable)
        expect_line "$p-wc-supported" "$d/results" '^wc supported inline=[1-9]'
        expect_odd "$p" "$d" completes 'ok ops-ok=2144 '
        expect_line "$p-one-l2-boot" "$d/summary" '^boots 1$'
        expect_no_line "$p-no-kvm-complaint" "$d/console.txt" 'Unsupported FSC'
        if [ "$p" = any ]; then regs=Normal-NC; else regs=Device-nGnRE; fi
        expect_line "$p-stage2" "$d/summary" '^s2 nic-bar2 Normal-NC$' \
            "^s2 gpu-bar0 $regs\$" '^s2 gpu-bar2 Normal-NC$'
        ;;
    esac
done

if [ "$INJECT" = 1 ]; then
    fullstack inject --policy device --inject-align
    d=$HARNESS_TMP/inject/device
    expect_common inject "$d" device
    expect_line inject-l1-reports-it "$d/console.txt" '^barlab-l1: inject-align Y$'
    expect_line inject-wc-not-supported "$d/results" '^wc not-supported inline=0 '
    expect_odd inject "$d" sigbus 'sigbus fault=DABT_\(lower_EL\),_ESR_0x[0-9a-f]*,_alignment_fault '
    expect_line inject-one-l2-boot "$d/summary" '^boots 1$'
    expect_no_line inject-no-kvm-complaint "$d/console.txt" 'Unsupported FSC'
fi

harness_summary
