#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A missing barrier before a doorbell, found in L2 Linux (`barlab
fullstack`, see docs/fullstack.md): barlab_nic loaded with doorbell_wmb=0
writes a TX descriptor into its push slot and rings the slot's doorbell
with no wmb() between the two; barlab-nic's port reorders where the
memory type permits (port-mode=reorder:SEED).
  device   stage 2 Device-nGnRE: the stores reach the device one by one,
           in program order.  The bug stays hidden: the checker reports
           nothing, no doorbell finds its slot stale, the ping goes
           through slirp.
  any      stage 2 Normal-NC: the doorbell overtakes the descriptor.  The
           checker reports rule X3 for the descriptor (a 64-byte write to
           slot 0 or 1) that arrived after the slot doorbell (a 4-byte
           write at 0x10), the device counts stale doorbells and logs
           guest errors.
The driver with its barrier (the default) under the same port mode is
checked by test_fullstack_policies.py, under every policy it runs.

What the device saw comes from the device: its counters over QMP and its
push port's trace with the checker's verdicts (the results file's "nic"
line).

The port: SEED is one under which the doorbell overtakes the copy in slot
0, the first frame's (the order of a burst depends on its seed and the
address of its first write alone: hw/memtype/reorder.h; seeds 1, 4, 6, 7,
8 do it in slot 0, 10 in slot 1, 2, 3, 5 in neither).  The gather timeout
is 10 ms rather than 100 us: the timeout drains the reorder window too,
and on a loaded host 100 us of virtual time can pass between the copy and
the doorbell of nested L2 code (the doorbell then cannot overtake: 1 run
in 3 missed it on 2 busy cores)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import l2test  # noqa: E402

SEED = os.environ.get("FULLSTACK_DOORBELL_SEED", "7")
PORT = "port-mode=reorder:%s,gather-timeout-ns=10000000" % SEED


class FullstackDoorbellTest(l2test.L2Test):

    def test_doorbell(self):
        d = self.scratch("doorbell")
        types = l2test.stage2_types(["device", "any"])
        r = self.barlab("fullstack", "--out", d, "--policy", "device", "--policy", "any",
                        "--steps", "wc ping", "--no-picture", "--device-props", "nic," + PORT,
                        "--nic-param", "doorbell_wmb=0")
        with self.check("doorbell-ran"):
            self.assertStatus(r, 0)
            self.assertOutput(r, r"^policy +S2 .* NIC checker ", r"^device .* ok ",
                              r"^any .* X3:[1-9]")
        with self.check("doorbell-finding"):
            self.assertStatus(r, 0)
            self.assertOutput(r, r"^any: [1-9][0-9]* transaction\(s\) broke a rule; first X3: "
                              r"W@0x[48]0\+64 \(accesses [0-9.]+\) reached the device after "
                              r"access [0-9]+ \(W@0x10\+4\); port reorder:%s seed %s; "
                              r"tx-stale [1-9]" % (SEED, SEED))
        for p in ("device", "any"):
            with self.check(p + "-driver-without-barrier"):
                self.assertFileLines(d / p / "summary", r"^nic-params doorbell_wmb=0$")

        # device: the missing barrier is hidden, traffic works.
        with self.check("device-nothing-reported"):
            self.assertFileLines(d / "device" / "results", r"^nic ok port=reorder:%s seed=%s "
                                 r"violations=0 tx-stale=0 tx-late=0 " % (SEED, SEED))
        with self.check("device-stage2"):
            self.assertFileLines(d / "device" / "summary",
                                 "^s2 nic-bar2 %s$" % types["device"]["nic-bar2"])
        with self.check("device-ping-through-slirp"):
            self.assertFileLines(d / "device" / "results",
                                 r"^ping ok replies=3/3 tx=[1-9][0-9]* rx=[1-9]")

        # any: the doorbell overtakes the descriptor, and the device shows it.
        with self.check("any-stage2"):
            self.assertFileLines(d / "any" / "summary",
                                 "^s2 nic-bar2 %s$" % types["any"]["nic-bar2"])
        with self.check("any-x3-doorbell-overtook-descriptor"):
            self.assertFileLines(d / "any" / "results",
                                 r"^nic broken port=reorder:%s seed=%s violations=[1-9][0-9]* "
                                 r"X3=[1-9][0-9]* .*first-rule=X3 first-access=W@0x[48]0\+64 "
                                 r"first-seq=[0-9]+\.\.[0-9]+ first-after=[0-9]+:W@0x10\+4$"
                                 % (SEED, SEED))
        with self.check("any-only-x3"):
            self.assertFileLines(d / "any" / "results",
                                 r"^nic broken [^ ]* [^ ]* violations=([0-9]+) X3=\1 tx-stale=")
        with self.check("any-stale-doorbells"):
            self.assertFileLines(d / "any" / "results", r"^nic broken .* tx-stale=[1-9][0-9]* "
                                 r"tx-late=[0-9]+ errors=[1-9]")
        with self.check("any-guest-error-logged"):
            self.assertFileLines(d / "any" / "guest-errors.log",
                                 r"^barlab-nic: slot [01] rang with [0-9]+ of its 64 bytes "
                                 r"written since it last rang: the doorbell overtook the "
                                 r"descriptor")


if __name__ == "__main__":
    barlabtest.main()
