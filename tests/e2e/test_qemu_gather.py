#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write gathering through real TCG: the gather payload makes three bursts
of eight 8-byte stores to barlab-gpu's VRAM (Normal-NC; Device-nGnRE;
Normal-NC with a DMB after four) and the device trace must show one
64-byte transaction, eight 8-byte ones, and two 32-byte ones; with the
port in exact mode, every store arrives alone."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import devtest  # noqa: E402
from barlab import machine  # noqa: E402


class GatherTest(devtest.DeviceTest):

    def boot(self, name, port_opts=""):
        """Run the payload with barlab-gpu's port as PORT_OPTS say; the
        trace's records, or None (and a failed NAME-boot) if it did not
        finish."""
        trace = self.scratch(name + ".bltrace")
        r = self.run_cmd([self.qemu] + machine.virt("max", smp=2, memory="256M") +
                         ["-serial", "stdio", "-kernel", self.payload("gather"),
                          "-device", "barlab-gpu,trace=%s%s" % (trace, port_opts)],
                         timeout=120)
        if r.status != 0 or "\ngather-done" not in "\n" + r.out:
            with self.check(name + "-boot"):
                self.fail("the payload did not finish\n" + r.tail())
            return None
        return self.trace(trace)

    def test_gather(self):
        records = self.boot("gather")
        if records is None:
            return
        with self.check("normal-nc-burst-gathered"):
            self.assertShape(records, 0x000, 0x100, "64x8")
        with self.check("device-burst-one-by-one"):
            self.assertShape(records, 0x100, 0x200, devtest.repeat(8, "8x1"))
        with self.check("dmb-splits-the-burst"):
            self.assertShape(records, 0x200, 0x300, "32x4 32x4")

    def test_exact(self):
        records = self.boot("exact", ",port-mode=exact")
        if records is None:
            return
        with self.check("exact-mode-no-gathering"):
            self.assertShape(records, 0x000, 0x100, devtest.repeat(8, "8x1"))


if __name__ == "__main__":
    barlabtest.main()
