#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The L1 host boots on barlab's QEMU with KVM at EL2 (VHE), binds
barlab-nic and barlab-gpu to vfio-pci, and vfio-pci's stage-2 policy
reads back as set, from the kernel command line and from sysfs; a bad
value is refused with a message.  KVM's new tracepoint and parameter
are there.  Bad options and a hung guest give clear errors."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import devtest  # noqa: E402

FWB_SCRIPT = r'''
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
'''


class FwbBootTest(devtest.L1Test):
    """The default boot (-cpu max, with FEAT_S2FWB): policy set from sysfs."""

    def test_fwb(self):
        r = self.l1("fwb", FWB_SCRIPT)
        with self.check("fwb-boot"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "barlab-l1: exit 0")
        for name, patterns in (
                ("kvm-vhe-at-el2", ["^barlab-l1: kvm vhe$"]),
                ("default-policy-any", ["^barlab-l1: policy any$"]),
                ("devices-bound-to-vfio",
                 ["^barlab-l1: device 1234:ba02 .* bound to vfio-pci$",
                  "^barlab-l1: device 1234:ba01 .* bound to vfio-pci$"]),
                ("policy-readback-sysfs",
                 ["^readback device=device$", "^readback prefetchable=prefetchable$",
                  "^readback any=any$", "^readback cacheable=cacheable$"]),
                ("bad-policy-rejected",
                 ["^bogus rejected$",
                  "bar_memtype: 'bogus' is not one of device, prefetchable, any, cacheable$",
                  "^readback after bogus=cacheable$"]),
                ("s2-tracepoint-present", ["^tracepoint kvm_s2_map_device$"]),
                ("inject-align-param", ["^inject readback=Y$"])):
            with self.check(name):
                self.assertConsole("fwb", *patterns)


class NoFwbBootTest(devtest.L1Test):
    """-cpu neoverse-n1 (no FEAT_S2FWB), the policy and the alignment
    injection from the kernel command line, no devices bound."""

    def test_nofwb(self):
        r = self.l1("nofwb", 'echo "cmdline $(cat /proc/cmdline)"', "--cpu", "neoverse-n1",
                    "--policy", "prefetchable", "--inject-align", "--bind", "none")
        with self.check("nofwb-boot"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "barlab-l1: exit 0")
        with self.check("nofwb-kvm-vhe"):
            self.assertConsole("nofwb", "^barlab-l1: kvm vhe$")
        with self.check("policy-from-cmdline"):
            self.assertConsole("nofwb", "^barlab-l1: policy prefetchable$")
        with self.check("inject-from-cmdline"):
            self.assertConsole("nofwb", "^barlab-l1: inject-align Y$")
        with self.check("bind-none"):
            self.assertNotIn("bound to", self.console("nofwb"), "devices were bound")


class BootErrorsTest(devtest.L1Test):
    """Bad options and a hung guest: one clear error each."""

    def assertError(self, r, pattern):
        """Non-zero, nothing on stdout, "barlab: error: ...PATTERN"."""
        self.assertNotEqual(r.status, 0, "exit 0 on bad input")
        self.assertEqual(r.out, "", "wrote to stdout on error")
        self.assertOutput(r, "^barlab: error: .*" + pattern, stream="err")

    def test_bad_options(self):
        with self.check("boot-bad-policy"):
            self.assertError(self.barlab("boot", "--policy", "bogus"),
                             "device, prefetchable, any or cacheable")
        with self.check("boot-bad-kvm-mode"):
            self.assertError(self.barlab("boot", "--kvm-mode", "vhe"), "nvhe or protected")
        with self.check("boot-missing-script"):
            self.assertError(self.barlab("boot", "--run", self.scratch("no-such-script")),
                             "no such script")

    def test_hung_guest(self):
        hang = self.scratch("hang.sh")
        hang.write_text("while :; do sleep 1; done\n")
        r = self.barlab("boot", "--timeout", "5", "--run", hang, "--out", self.scratch("hang"))
        with self.check("boot-timeout-shows-console"):
            self.assertStatus(r, 124)
            self.assertOutput(r, "timeout after 5s", "last lines", stream="err")


if __name__ == "__main__":
    barlabtest.main()
