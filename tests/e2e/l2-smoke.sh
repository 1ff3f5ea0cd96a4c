#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# barlab-vmm in L1 runs the l2smoke payload as an L2 guest with barlab-gpu's
# VRAM passed through, once per vfio-pci stage-2 policy:
#   any     (stage 2 Normal-NC): under stage-1 Normal-NC (MAIR 0x44) the
#           aligned STR, the unaligned STR and the STP all complete, on
#           first touch and on a TLB hit;
#   device  (stage 2 Device-nGnRE): the aligned STR completes, then the
#           unaligned one takes a stage-2 alignment fault that L1 KVM does
#           not handle: KVM_RUN fails with EFAULT, outcome kvm-run-efault,
#           and dmesg says "Unsupported FSC";
#   both    under stage-1 Device-nGnRE (MAIR 0x04) the unaligned STR takes
#           an alignment fault at EL1, which the payload reports.
# Plus the VMM's other outcomes that need no special payload: guest-fail
# (a payload that aborts at EL1), internal-error (no such device), usage.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
. "$ROOT/tests/lib/l1.sh"

# In L1: each run's output lines prefixed with "NAME: ", then "NAME: exit N".
read -r -d '' L1_LIB <<'EOF'
gpu=$(bl_find $BL_GPU) || bl_fail "no barlab-gpu"
payloads=/lib/barlab/payloads
vmm() {
    name=$1
    shift
    barlab-vmm "$@" >/tmp/vmm.out 2>&1
    rc=$?
    sed "s/^/$name: /" /tmp/vmm.out
    echo "$name: exit $rc"
}
smoke() {
    name=$1
    shift
    vmm "$name" --timeout 120 --device "$gpu" $payloads/l2smoke.elf "$@"
}
EOF

# expect_run BOOT RUN EXIT ERE...: run RUN of boot BOOT exited EXIT and
# printed a line matching each ERE (after its "RUN: " prefix).
expect_run() {
    local boot=$1 name=$2 code=$3 pat
    shift 3
    for pat in "^exit $code\$" "$@"; do
        l1_console "$boot" | sed -n "s/^$name: //p" | grep -qE -- "$pat" ||
            { bad "$boot-$name" "no '$pat' in the output of run $name"; return; }
    done
    ok "$boot-$name"
}

# No FAIL lines and no report of the unaligned store: the VM died at it.
expect_no_line() {
    local boot=$1 test=$2 pat=$3
    if l1_console "$boot" | grep -qE -- "$pat"; then
        bad "$boot-$test" "a line matches '$pat'"
    else
        ok "$boot-$test"
    fi
}

l1 any "$L1_LIB
smoke mair44 mair=0x44
smoke mair44-hit mair=0x44 hit=1
smoke mair04 mair=0x04
vmm gather \$payloads/gather.elf
vmm nodevice --device 0000:00:1f.7 \$payloads/l2smoke.elf
vmm usage --timeout x \$payloads/l2smoke.elf
" --policy any --timeout 600
expect any-boot 0 "barlab-l1: exit 0"
for run_name in mair44 mair44-hit; do
    expect_run any $run_name 0 \
        "^PASS: acc=str .* result=completed" \
        "^PASS: acc=unal .* result=completed" \
        "^PASS: acc=stp .* result=completed" \
        "^vmm: bar .* 1234:ba01 .* prefetchable at ipa 0x[0-9a-f]+ \(memory slot\)$" \
        "^vmm: outcome=ok .*reports=3 failed=0 summary=0/3$"
done
expect_run any mair04 0 \
    "^PASS: acc=unal .* mair=0x04 .* result=el1-fault esr=0x[0-9a-f]+ far=0x[0-9a-f]+13 " \
    "^vmm: outcome=ok .*reports=3 failed=0"
expect_run any gather 1 "^FATAL: gather runs at EL2 only$" \
    "^vmm: outcome=guest-fail .*abort=\"gather runs at EL2 only\"$"
expect_run any nodevice 5 "barlab-vmm: error: .*0000:00:1f.7" "^vmm: outcome=internal-error$"
expect_run any usage 64 "--timeout wants a number"
expect_no_line any no-fail-reports ": FAIL: "

# KVM's kvm_guest_fault tracepoint shows the ESR_EL2 and FAR that
# userspace never sees: the last event before KVM_RUN failed.
l1 device "$L1_LIB
ev=/sys/kernel/tracing/events/kvm/kvm_guest_fault/enable
echo 1 >\$ev
smoke mair44 mair=0x44
echo 0 >\$ev
grep kvm_guest_fault /sys/kernel/tracing/trace | tail -n 1 | sed 's/^/trace: /'
dmesg | grep 'Unsupported FSC' | sed 's/^/dmesg: /'
smoke mair04 mair=0x04
" --policy device --timeout 600
expect device-boot 0 "barlab-l1: exit 0"
expect_run device mair44 2 \
    "^PASS: acc=str .* mair=0x44 .* result=completed" \
    "^vmm: outcome=kvm-run-efault vcpu=0 errno=14 .* pc=0x[0-9a-f]+ insn=0x[0-9a-f]+ kvm=\"Unsupported FSC: EC=0x24 xFSC=0x21 ESR_EL2=0x9[23][0-9a-f]{4}[26]1\" reports=1 failed=0$"
expect_no_line device vm-died-at-the-unaligned-store "^mair44: PASS: acc=unal"
expect_console device kvm-unsupported-fsc "^dmesg: .*Unsupported FSC: EC=0x24 xFSC=0x21"
expect_console device s2-alignment-fault-traced \
    "^trace: .*kvm_guest_fault: ipa 0x[0-9a-f]+, hsr 0x9[23][0-9a-f]{4}[26]1, hxfar 0x[0-9a-f]+13,"
expect_run device mair04 0 \
    "^PASS: acc=unal .* mair=0x04 .* result=el1-fault esr=0x[0-9a-f]+ far=0x[0-9a-f]+13 " \
    "^PASS: acc=stp .* result=completed" \
    "^vmm: outcome=ok .*reports=3 failed=0"

harness_summary
