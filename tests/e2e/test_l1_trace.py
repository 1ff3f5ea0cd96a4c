#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The memory types barlab's devices see when the guest drivers run in the
L1 host (no stage 2: L1 is the hypervisor): barlab_nic's push page and
barlab_gpu's VRAM (ioremap_wc) arrive as stage-1 Normal-NC, the register
BARs of both (ioremap) as Device-nGnRE, and nothing went through a
stage-2 translation.  Witnesses: the devices' port traces and QEMU's
barlab_*_reg_* trace events."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import devtest  # noqa: E402

SCRIPT = r'''
insmod /lib/modules/barlab/barlab_nic.ko || bl_fail "barlab_nic did not load"
insmod /lib/modules/barlab/barlab_gpu.ko || bl_fail "barlab_gpu did not load"
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0
ping -c 2 -W 2 10.0.2.2 >/dev/null || bl_fail "no ping"
fbdraw >/dev/null || bl_fail "fbdraw failed"
'''


class DriverMemoryTypesTest(devtest.L1Test):

    def test_types(self):
        # QEMU's trace log goes beside the run's directory: barlab owns --out.
        qlog = self.scratch("qemu-trace.log")
        r = self.l1("types", SCRIPT, "--bind", "none", "--",
                    "-trace", "barlab_*_reg_*", "-D", qlog)
        with self.check("types-boot"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "barlab-l1: exit 0")
        for name, dev in (("nic-push-page-normal-nc", "nic"), ("gpu-vram-normal-nc", "gpu")):
            with self.check(name):
                self.assertPortNormalNC(self.scratch("types", dev + ".trace"))
        try:
            log = qlog.read_text(errors="replace").splitlines()
        except OSError:
            log = []
        for name, dev in (("nic-registers-device-ngnre", "nic"),
                          ("gpu-registers-device-ngnre", "gpu")):
            with self.check(name):
                regs = [x for x in log if x.startswith("barlab_%s_reg_" % dev)]
                odd = [x for x in regs
                       if not re.search(r"typed 1 s1 0x04 attr 0x04 stage2 0$", x)]
                if not regs or odd:
                    self.fail("%d register accesses traced, %d not stage-1 Device-nGnRE "
                              "without stage 2\n%s" % (len(regs), len(odd), "\n".join(odd[:5])))

    def assertPortNormalNC(self, path):
        """Every transaction at the port is stage-1 Normal-NC (0x44) with no
        stage 2; there are some."""
        txns = devtest.txns(self.trace(path))
        odd = [r for r in txns
               if r["s1"] != 0x44 or r["attr"] != 0x44 or "nostage2" not in r["flags"]]
        if not txns or odd:
            self.fail("%d transactions, %d not stage-1 Normal-NC without stage 2\n%s"
                      % (len(txns), len(odd),
                         "\n".join("  e.g. addr %#x s1 %#x attr %#x flags %s"
                                   % (r["addr"], r["s1"], r["attr"], r["flags"])
                                   for r in odd[:5])))


if __name__ == "__main__":
    barlabtest.main()
