#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab-vmm in L1 runs the l2smoke payload as an L2 guest with
barlab-gpu's VRAM passed through, once per vfio-pci stage-2 policy:
  any     (stage 2 Normal-NC): under stage-1 Normal-NC (MAIR 0x44) the
          aligned STR, the unaligned STR and the STP all complete, on
          first touch and on a TLB hit;
  device  (stage 2 Device-nGnRE): the aligned STR completes, then the
          unaligned one takes a stage-2 alignment fault that L1 KVM does
          not handle: KVM_RUN fails with EFAULT, outcome kvm-run-efault,
          and dmesg says "Unsupported FSC";
  both    under stage-1 Device-nGnRE (MAIR 0x04) the unaligned STR takes
          an alignment fault at EL1, which the payload reports.
Plus the VMM's other outcomes that need no special payload: guest-fail
(a payload that aborts at EL1), internal-error (no such device), usage."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import l2test  # noqa: E402

# In L1: each run's output lines prefixed with "NAME: ", then "NAME: exit N".
L1_LIB = r'''gpu=$(bl_find $BL_GPU) || bl_fail "no barlab-gpu"
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
'''


class L2SmokeTest(l2test.L2Test):

    def test_any(self):
        r = self.boot_l1("any", L1_LIB + r'''
smoke mair44 mair=0x44
smoke mair44-hit mair=0x44 hit=1
smoke mair04 mair=0x04
vmm gather $payloads/gather.elf
vmm nodevice --device 0000:00:1f.7 $payloads/l2smoke.elf
vmm usage --timeout x $payloads/l2smoke.elf
''', "--policy", "any", "--timeout", "600")
        with self.check("any-boot"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "barlab-l1: exit 0")
        con = self.console("any")
        for run in ("mair44", "mair44-hit"):
            with self.check("any-" + run):
                self.assertRun(con, run, 0,
                               r"^PASS: acc=str .* result=completed",
                               r"^PASS: acc=unal .* result=completed",
                               r"^PASS: acc=stp .* result=completed",
                               r"^vmm: bar .* 1234:ba01 .* prefetchable at ipa 0x[0-9a-f]+ "
                               r"\(memory slot\)$",
                               r"^vmm: outcome=ok .*reports=3 failed=0 summary=0/3$")
        with self.check("any-mair04"):
            self.assertRun(con, "mair04", 0,
                           r"^PASS: acc=unal .* mair=0x04 .* result=el1-fault esr=0x[0-9a-f]+ "
                           r"far=0x[0-9a-f]+13 ",
                           r"^vmm: outcome=ok .*reports=3 failed=0")
        with self.check("any-gather"):
            self.assertRun(con, "gather", 1, r"^FATAL: gather runs at EL2 only$",
                           r'^vmm: outcome=guest-fail .*abort="gather runs at EL2 only"$')
        with self.check("any-nodevice"):
            self.assertRun(con, "nodevice", 5, r"barlab-vmm: error: .*0000:00:1f.7",
                           r"^vmm: outcome=internal-error$")
        with self.check("any-usage"):
            self.assertRun(con, "usage", 64, r"--timeout wants a number")
        with self.check("any-no-fail-reports"):
            self.assertNoLine(con, r": FAIL: ", "the L1 console")

    def test_device(self):
        # KVM's kvm_guest_fault tracepoint shows the ESR_EL2 and FAR that
        # userspace never sees: the last event before KVM_RUN failed.
        r = self.boot_l1("device", L1_LIB + r'''
ev=/sys/kernel/tracing/events/kvm/kvm_guest_fault/enable
echo 1 >$ev
smoke mair44 mair=0x44
echo 0 >$ev
grep kvm_guest_fault /sys/kernel/tracing/trace | tail -n 1 | sed 's/^/trace: /'
dmesg | grep 'Unsupported FSC' | sed 's/^/dmesg: /'
smoke mair04 mair=0x04
''', "--policy", "device", "--timeout", "600")
        with self.check("device-boot"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "barlab-l1: exit 0")
        con = self.console("device")
        with self.check("device-mair44"):
            self.assertRun(con, "mair44", 2,
                           r"^PASS: acc=str .* mair=0x44 .* result=completed",
                           r"^vmm: outcome=kvm-run-efault vcpu=0 errno=14 .* pc=0x[0-9a-f]+ "
                           r'insn=0x[0-9a-f]+ kvm="Unsupported FSC: EC=0x24 xFSC=0x21 '
                           r'ESR_EL2=0x9[23][0-9a-f]{4}[26]1" reports=1 failed=0$')
        with self.check("device-vm-died-at-the-unaligned-store"):
            self.assertNoLine(con, r"^mair44: PASS: acc=unal", "the L1 console")
        with self.check("kvm-unsupported-fsc"):
            self.assertText(con, r"^dmesg: .*Unsupported FSC: EC=0x24 xFSC=0x21",
                            what="the L1 console")
        with self.check("s2-alignment-fault-traced"):
            self.assertText(con, r"^trace: .*kvm_guest_fault: ipa 0x[0-9a-f]+, "
                            r"hsr 0x9[23][0-9a-f]{4}[26]1, hxfar 0x[0-9a-f]+13,",
                            what="the L1 console")
        with self.check("device-mair04"):
            self.assertRun(con, "mair04", 0,
                           r"^PASS: acc=unal .* mair=0x04 .* result=el1-fault esr=0x[0-9a-f]+ "
                           r"far=0x[0-9a-f]+13 ",
                           r"^PASS: acc=stp .* result=completed",
                           r"^vmm: outcome=ok .*reports=3 failed=0")


if __name__ == "__main__":
    barlabtest.main()
