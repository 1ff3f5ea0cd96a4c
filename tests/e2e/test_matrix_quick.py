#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The quick matrix under nested KVM (`barlab matrix --quick`): one
result per cell, as predicted or not.  The report stays in
BUILD/matrix-check (l2-report-browser.sh opens it), the log in
BUILD/logs/matrix-check.log."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest   # noqa: E402  pylint: disable=wrong-import-position
from barlab import common   # noqa: E402  pylint: disable=wrong-import-position


class QuickMatrixTest(barlabtest.BarlabTest):
    timeout = 7200

    def test_quick_matrix(self):
        out = common.build_dir() / "matrix-check"
        log = common.logs_dir() / "matrix-check.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        r = self.barlab("matrix", "--quick", "--out", out)
        log.write_text(r.out + r.err)
        report = out / "report.json"
        if r.status > 1 or not report.is_file():
            self.fail("the quick matrix did not finish (exit %d); log %s:\n%s"
                      % (r.status, log, "\n".join((r.out + r.err).splitlines()[-20:])))
        for result in json.loads(report.read_text())["cells"]:
            c = result["cell"]
            name = "cell %d %s/%s/%s/%s/%s" % (result["index"], c["cpu"], c["policy"], c["s1"],
                                              c["pattern"], c.get("touch", ""))
            with self.check(name):
                if not result["match"]:
                    self.fail("%s: expected %s, observed %s" % (
                        result["why"], result["expected_text"], result["observed_text"]))


if __name__ == "__main__":
    barlabtest.main()
