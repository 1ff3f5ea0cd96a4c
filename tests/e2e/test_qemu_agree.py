#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The agreement test (docs/agreement.md): every stage-1 MAIR attribute x
stage-2 MemAttr x FWB, first touch and TLB hit, on a CPU with FEAT_S2FWB
and one without; the device trace and the fault stages must agree with
hw/memtype in every cell (`scripts/barlab agree CPU`)."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
from barlab.common import build_dir  # noqa: E402


class AgreementTest(barlabtest.BarlabTest):

    def test_agreement(self):
        for cpu in ("max", "neoverse-n1"):
            r = self.barlab("agree", cpu)
            with self.check("agreement-" + cpu):
                if r.status != 0 or not re.search(r"^agreement: ([0-9]+)/\1 cells", r.out, re.M):
                    self.fail("disagreements (full report: %s)\n%s"
                              % (build_dir() / "agree" / cpu / "agree.txt", r.tail()))


if __name__ == "__main__":
    barlabtest.main()
