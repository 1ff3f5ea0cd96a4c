#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The Linux drivers' register names (guest-drivers/barlab_nic.c,
barlab_gpu.c) have the values the device headers give them
(hw/barlab/nic-regs.h, barlab-gpu.h), and a driver defines no device
fact the comparison does not know of (barlab.regmaps)."""

import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest   # noqa: E402  pylint: disable=wrong-import-position
from barlab import regmaps   # noqa: E402  pylint: disable=wrong-import-position

ROOT = barlabtest.ROOT


class RegmapsTest(barlabtest.BarlabTest):
    def test_regmaps(self):
        with self.check("regmaps-drivers"):
            got = regmaps.results(str(ROOT))
            self.assertEqual([name for name, _, _, _ in got],
                             ["regmap-barlab_nic.c", "regmap-barlab_gpu.c"])
            for name, problems, _, header in got:
                if problems:
                    self.fail("%s: %d names disagree with %s:\n%s"
                              % (name, len(problems), header, "\n".join(problems)))

        # A driver that disagrees is named, with both values.
        with self.check("regmaps-mismatch"):
            tmp = self.scratch("root")
            (tmp / "guest-drivers").mkdir(parents=True)
            (tmp / "hw" / "barlab").mkdir(parents=True)
            for h in ("nic-regs.h", "barlab-gpu.h"):
                shutil.copy(ROOT / "hw" / "barlab" / h, tmp / "hw" / "barlab")
            shutil.copy(ROOT / "guest-drivers" / "barlab_gpu.c", tmp / "guest-drivers")
            nic = (ROOT / "guest-drivers" / "barlab_nic.c").read_text()
            nic, n = re.subn(r"^#define BLN_MAC_HI\t.*$", "#define BLN_MAC_HI\t\t0x088", nic,
                             flags=re.M)
            self.assertEqual(n, 1, "no BLN_MAC_HI define to change")
            (tmp / "guest-drivers" / "barlab_nic.c").write_text(nic)
            got = {name: problems for name, problems, _, _ in regmaps.results(str(tmp))}
            self.assertEqual(got["regmap-barlab_gpu.c"], [])
            self.assertTrue(any(re.search(r"BLN_MAC_HI .* is 0x88, REG_MAC_HI .* is 0x84", p)
                                for p in got["regmap-barlab_nic.c"]),
                            got["regmap-barlab_nic.c"])

            # The host side's reading of the headers follows them.
            gpu = (tmp / "hw" / "barlab" / "barlab-gpu.h").read_text()
            gpu, n = re.subn(r"^#define GPU_DEVICE_ID\s.*$", "#define GPU_DEVICE_ID 0xbeef", gpu,
                             flags=re.M)
            self.assertEqual(n, 1, "no GPU_DEVICE_ID define to change")
            (tmp / "hw" / "barlab" / "barlab-gpu.h").write_text(gpu)
            self.assertEqual(regmaps.pci_id("gpu", tmp), "1234:beef")

        # What the host side reads: the IDs lspci and the L1 host's
        # /lib/barlab/pci-ids.sh print, and the push BAR limit.
        with self.check("regmaps-host-reads"):
            self.assertEqual(regmaps.pci_id("gpu"), "1234:ba01")
            self.assertEqual(regmaps.pci_id("nic"), "1234:ba02")
            self.assertEqual(regmaps.constant("hw/barlab/nic-regs.h", "PUSH_SIZE_MAX"), 16 << 20)
            self.assertEqual(regmaps.constant("target-tests/payloads/matrix-layout.h",
                                              "MATRIX_GROUP_SIZE"), 8192)


if __name__ == "__main__":
    barlabtest.main()
