#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The L1 host boots on barlab's QEMU with KVM at EL2 (VHE), binds
# barlab-nic and barlab-gpu to vfio-pci, and vfio-pci's stage-2 policy
# reads back as set, from the kernel command line and from sysfs; a bad
# value is refused with a message.  KVM's new tracepoint and parameter
# are there.  Bad options and a hung guest give clear errors.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
. "$ROOT/tests/lib/l1.sh"

l1 fwb '
for p in device prefetchable any cacheable; do
    bl_policy $p >/dev/null && echo "readback $p=$(bl_policy)"
done
if echo bogus >/sys/module/vfio_pci_core/parameters/bar_memtype; then
    echo "bogus accepted"
else
    echo "bogus rejected"
fi
dmesg | grep -o "bar_memtype: .*"
echo "readback after bogus=$(bl_policy)"
[ -d /sys/kernel/tracing/events/kvm/kvm_s2_map_device ] && echo "tracepoint kvm_s2_map_device"
bl_inject_align Y >/dev/null && echo "inject readback=$(bl_inject_align)"
'
expect "fwb-boot" 0 "barlab-l1: exit 0"
expect_console fwb kvm-vhe-at-el2 "^barlab-l1: kvm vhe$"
expect_console fwb default-policy-any "^barlab-l1: policy any$"
expect_console fwb devices-bound-to-vfio \
    "^barlab-l1: device 1234:ba02 .* bound to vfio-pci$" \
    "^barlab-l1: device 1234:ba01 .* bound to vfio-pci$"
expect_console fwb policy-readback-sysfs \
    "^readback device=device$" "^readback prefetchable=prefetchable$" "^readback any=any$" \
    "^readback cacheable=cacheable$"
expect_console fwb bad-policy-rejected "^bogus rejected$" \
    "bar_memtype: 'bogus' is not one of device, prefetchable, any, cacheable$" \
    "^readback after bogus=cacheable$"
expect_console fwb s2-tracepoint-present "^tracepoint kvm_s2_map_device$"
expect_console fwb inject-align-param "^inject readback=Y$"

l1 nofwb 'echo "cmdline $(cat /proc/cmdline)"' \
    --cpu neoverse-n1 --policy prefetchable --inject-align --bind none
expect "nofwb-boot" 0 "barlab-l1: exit 0"
expect_console nofwb nofwb-kvm-vhe "^barlab-l1: kvm vhe$"
expect_console nofwb policy-from-cmdline "^barlab-l1: policy prefetchable$"
expect_console nofwb inject-from-cmdline "^barlab-l1: inject-align Y$"
l1_console nofwb | grep -q 'bound to' && bad bind-none "devices were bound" || ok bind-none

run "$BARLAB" boot --policy bogus
expect_error boot-bad-policy "device, prefetchable, any or cacheable"
run "$BARLAB" boot --kvm-mode vhe
expect_error boot-bad-kvm-mode "nvhe or protected"
run "$BARLAB" boot --run "$HARNESS_TMP/no-such-script"
expect_error boot-missing-script "no such script"
printf 'while :; do sleep 1; done\n' >"$HARNESS_TMP/hang.sh"
run "$BARLAB" boot --timeout 5 --run "$HARNESS_TMP/hang.sh" --out "$HARNESS_TMP/hang"
if [ "$(status)" = 124 ] && grep -q "timeout after 5s" "$HARNESS_TMP/err" &&
    grep -q "last lines" "$HARNESS_TMP/err"; then
    ok boot-timeout-shows-console
else
    bad boot-timeout-shows-console "status $(status), wanted 124 and the console tail"
fi
harness_summary
