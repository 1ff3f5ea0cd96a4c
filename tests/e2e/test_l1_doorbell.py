#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The missing doorbell barrier on "bare metal": barlab_nic in L1, where
there is no stage 2 and the push page is what ioremap_wc() makes it,
stage-1 Normal-NC.  barlab-nic's port reorders where the type permits
(port-mode=reorder:SEED, a seed under which the first frame's doorbell
overtakes its copy: the fullstack doorbell test says which).
  doorbell_wmb=0  the checker reports X3 (the descriptor arrived after
                  its slot doorbell) and the device counts stale
                  doorbells: the bug is the driver's, on any machine
                  that write-combines; Device-nGnRE at stage 2 only hid
                  it in VMs.
  default         the same port, the same traffic: nothing reported, no
                  stale doorbell, the ping goes through.
What the device saw comes from the device: the push port's trace with
the checker's verdicts, and the counters over QMP (bl_devices)."""

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import devtest  # noqa: E402

SEED = os.environ.get("L1_DOORBELL_SEED", "7")
PORT = "port-mode=reorder:%s,gather-timeout-ns=10000000" % SEED


def script(doorbell_wmb):
    """What L1 runs with barlab_nic's doorbell_wmb set to DOORBELL_WMB."""
    return r'''
bdf=$(bl_find $BL_NIC)
insmod /lib/modules/barlab/barlab_nic.ko doorbell_wmb=%d || echo "l1-doorbell: insmod failed"
ifc=$(ls /sys/bus/pci/devices/$bdf/net)
ip link set $ifc up && ip addr add 10.0.2.15/24 dev $ifc
if ping -c 3 -W 5 10.0.2.2 >/dev/null; then echo "l1-doorbell: ping ok"; else echo "l1-doorbell: ping failed"; fi
bl_devices devices
''' % doorbell_wmb


class DoorbellTest(devtest.L1Test):

    def run_driver(self, name, doorbell_wmb):
        r = self.l1(name, script(doorbell_wmb), "--bind", "none",
                    "--device-props", "nic," + PORT, "--timeout", "300")
        with self.check(name + "-ran"):
            self.assertStatus(r, 0)

    def verdicts(self, name):
        """"violations=N X3=N tx-stale=N first=OP@OFF+SIZE" of run NAME."""
        records = self.trace(self.scratch(name, "nic.trace"), strict=False)
        if records is None:
            return "unreadable trace %s" % self.scratch(name, "nic.trace")
        txns = devtest.txns(records)
        bad = [t for t in txns if t["verdict"]]
        x3 = sum("X3" in t["verdict"] for t in bad)
        try:
            devices = json.loads(self.scratch(name, "devices.json").read_text())
            stale = devices["barlab-nic"]["counters"]["tx-stale"]
        except (OSError, ValueError, KeyError):
            stale = "?"
        first = "%s@%#x+%d" % (bad[0]["op"], bad[0]["addr"], bad[0]["size"]) if bad else "-"
        return "violations=%d X3=%d tx-stale=%s first=%s" % (len(bad), x3, stale, first)

    def test_buggy(self):
        """doorbell_wmb=0: only X3, on a 64-byte copy to slot 0 or 1, and
        stale doorbells."""
        self.run_driver("buggy", 0)
        got = self.verdicts("buggy")
        with self.check("buggy-x3-and-stale-doorbells"):
            m = re.fullmatch(r"violations=([1-9][0-9]*) X3=([1-9][0-9]*) "
                             r"tx-stale=([1-9][0-9]*) first=W@0x[48]0\+64", got)
            if not m or m.group(1) != m.group(2):
                self.fail("wanted only X3 violations, on a 64-byte copy to slot 0 or 1, "
                          "and stale doorbells; got %s" % got)

    def test_correct(self):
        self.run_driver("correct", 1)
        with self.check("correct-ping"):
            self.assertConsole("correct", "^l1-doorbell: ping ok$")
        got = self.verdicts("correct")
        with self.check("correct-nothing-reported"):
            self.assertEqual(got, "violations=0 X3=0 tx-stale=0 first=-",
                             "the driver with its barrier broke a rule or rang a stale "
                             "doorbell")


if __name__ == "__main__":
    barlabtest.main()
