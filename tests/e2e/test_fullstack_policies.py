#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The full stack under each vfio-pci policy (`barlab fullstack`, see
docs/fullstack.md): Debian's qemu-system-aarch64 in L1 passes barlab-nic
and barlab-gpu through to an L2 Linux with guest-drivers/.  What each
policy maps at stage 2 for each BAR is the oracle's (barlab-mt); what
follows from it:
  prefetchable BARs Device-nGnRE (device): the NIC driver's
                write-combining self-test says "not supported"; the first
                unaligned store of fbdraw --odd (glibc memcpy) through
                resource2_wc, and again through /dev/fb0, takes a stage-2
                alignment fault L1 KVM does not handle ("Unsupported FSC
                ... xFSC=0x21"): KVM_RUN fails, QEMU stops the VM, and a
                new L2 boots for the next step;
  the same with --inject-align (kernel patch 0004): the fault reaches L2
                as an alignment fault: fbdraw gets SIGBUS, the VM lives on;
  prefetchable BARs Normal-NC (any, prefetchable): "supported", and both
                --odd runs complete, all 2144 operations read back; the
                GPU's registers are what the policy makes them.
Under each: ping through L0's slirp, fbdraw's picture through both
mappings, read back in L2 and seen in barlab's screendump, no "Cannot
reset device" from QEMU's vfio-pci (both devices have FLR); barlab-nic's
port reorders as in test_fullstack_doorbell.py, where the same driver
without its doorbell barrier breaks, and its checker and counters see
nothing wrong: no rule broken, no stale doorbell, no late push copy.

FULLSTACK_POLICIES="device any" FULLSTACK_INJECT=0: a subset (the quick
check); the default is all three policies and the injection run."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import l2test  # noqa: E402

POLICIES = os.environ.get("FULLSTACK_POLICIES", "device prefetchable any").split()
INJECT = os.environ.get("FULLSTACK_INJECT", "1") == "1"
NIC_PORT = "reorder:%s" % os.environ.get("FULLSTACK_DOORBELL_SEED", "7")
BARS = ("nic-bar2", "gpu-bar0", "gpu-bar2")


class FullstackPoliciesTest(l2test.L2Test):

    def fullstack(self, name, *options):
        """`barlab fullstack --out scratch(NAME) OPTION...`; NAME-ran if it
        printed its table and exited 0."""
        r = self.barlab("fullstack", "--out", self.scratch(name), *options)
        with self.check(name + "-ran"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "^policy +S2 ")
        return r

    def expect_lines(self, name, path, *patterns):
        with self.check(name):
            self.assertFileLines(path, *patterns)

    def expect_no_line(self, name, path, pattern):
        with self.check(name):
            self.assertNoFileLine(path, pattern)

    def expect_common(self, n, d, policy):
        """What every run shares: L1 ran the policy, the VMM is Debian's,
        both devices went through vfio-pci, the ping went through L0's
        slirp, both draws read back right and the screendump shows the
        test image."""
        console = d / "console.txt"
        try:
            console.write_text((d / "console.log").read_text(errors="replace").replace("\r", ""))
        except OSError:
            pass
        self.expect_lines(n + "-l1-policy", console, "^barlab-l1: policy %s$" % policy)
        self.expect_lines(n + "-debian-vmm", d / "summary",
                          r"^vmm QEMU emulator version [0-9.]+ \(Debian ")
        self.expect_lines(n + "-vfio-pci", console,
                          r"^barlab-l1: device 1234:ba02 .* bound to vfio-pci$",
                          r"^barlab-l1: device 1234:ba01 .* bound to vfio-pci$")
        self.expect_lines(n + "-ping-through-slirp", d / "results",
                          r"^ping ok replies=[1-9]/3 tx=[1-9][0-9]* rx=[1-9]")
        self.expect_lines(n + "-frames-reach-l0", d / "summary", r"^l0-frames ([6-9]|[1-9][0-9]+)$")
        self.expect_lines(n + "-draw-resource2-wc", d / "results", r"^draw-res ok ")
        self.expect_lines(n + "-draw-fb0", d / "results", r"^draw-fb0 ok ")
        self.expect_lines(n + "-screendump-matches", d / "summary", r"^picture matches$")
        # Both devices have FLR: QEMU's vfio-pci in L1 can reset them.
        self.expect_no_line(n + "-vfio-can-reset", console, "no available reset mechanism")
        self.expect_lines(n + "-nic-nothing-reported", d / "results",
                          r"^nic ok port=[^ ]+ seed=[^ ]+ violations=0 tx-stale=0 tx-late=0 ")

    def expect_odd(self, n, d, what, pattern):
        """Both fbdraw --odd runs (resource2_wc, /dev/fb0) ended as
        PATTERN says."""
        for s in ("odd-res", "odd-fb0"):
            self.expect_lines("%s-%s-%s" % (n, s, what), d / "results", "^%s %s" % (s, pattern))

    def test_policies(self):
        self.policies()
        if INJECT:
            self.inject()

    def policies(self):
        types = l2test.stage2_types(POLICIES)
        args = [a for p in POLICIES for a in ("--policy", p)]
        self.fullstack("policies", *args, "--device-props",
                       "nic,port-mode=%s,gather-timeout-ns=10000000" % NIC_PORT)
        for p in POLICIES:
            d = self.scratch("policies", p)
            self.expect_common(p, d, p)
            self.expect_lines(p + "-nic-port-reorders", d / "results",
                              "^nic ok port=%s " % NIC_PORT)
            # The prefetchable BARs (the NIC's push page, the GPU's VRAM)
            # decide what the write-combining test and the odd stores do.
            if types[p]["nic-bar2"].startswith("Device"):
                self.expect_lines(p + "-wc-not-supported", d / "results",
                                  r"^wc not-supported inline=0 ")
                self.expect_odd(p, d, "ends-the-vm", r"vm-death qemu=kvm_run_failed_Bad_address "
                                r".*l1-kvm=EC=0x24_xFSC=0x21_")
                self.expect_lines(p + "-l2-booted-again", d / "summary", r"^boots 3$")
            else:
                self.expect_lines(p + "-wc-supported", d / "results", r"^wc supported inline=[1-9]")
                self.expect_odd(p, d, "completes", r"ok ops-ok=2144 ")
                self.expect_lines(p + "-one-l2-boot", d / "summary", r"^boots 1$")
                self.expect_no_line(p + "-no-kvm-complaint", d / "console.txt", "Unsupported FSC")
            self.expect_lines(p + "-stage2", d / "summary",
                              *["^s2 %s %s$" % (b, types[p][b]) for b in BARS])

    def inject(self):
        self.fullstack("inject", "--policy", "device", "--inject-align")
        d = self.scratch("inject", "device")
        self.expect_common("inject", d, "device")
        self.expect_lines("inject-l1-reports-it", d / "console.txt", r"^barlab-l1: inject-align Y$")
        self.expect_lines("inject-wc-not-supported", d / "results", r"^wc not-supported inline=0 ")
        self.expect_odd("inject", d, "sigbus", r"sigbus fault=DABT_\(lower_EL\),_ESR_0x[0-9a-f]*,"
                        r"_alignment_fault ")
        self.expect_lines("inject-one-l2-boot", d / "summary", r"^boots 1$")
        self.expect_no_line("inject-no-kvm-complaint", d / "console.txt", "Unsupported FSC")


if __name__ == "__main__":
    barlabtest.main()
