#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`barlab fullstack --out DIR` as a report directory: a run of one
policy keeps the other policies' results of an earlier run, a directory
with a user's file is refused, and a run killed while L1 runs leaves the
previous report byte for byte, its QEMU ended with it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import l2test  # noqa: E402


class FullstackOutputsTest(l2test.L2Test):

    def test_outputs(self):
        d = self.scratch("fs")
        r = self.barlab("fullstack", "--policy", "any", "--steps", "wc", "--no-picture",
                        "--out", d)
        with self.check("fullstack-writes-report"):
            self.assertStatus(r, 0)
            self.assertTrue((d / "any" / "results").is_file(), "no any/results")
            self.assertFileLines(d / ".barlab-manifest", r"^any/results$")
        any_sums = l2test.tree_sums(d / "any")
        r = self.barlab("fullstack", "--policy", "device", "--steps", "wc", "--no-picture",
                        "--out", d)
        with self.check("fullstack-keeps-other-policies"):
            self.assertStatus(r, 0)
            self.assertTrue((d / "device" / "results").is_file(), "no device/results")
            self.assertEqual(l2test.tree_sums(d / "any"), any_sums,
                             "the earlier policy's results changed")

        before = l2test.tree_sums(d)
        staging = self.scratch(".fs.barlab-run")
        proc = self.start("killed", "fullstack", "--policy", "any", "--steps", "wc",
                          "--no-picture", "--out", d)
        status = l2test.interrupt_when(
            proc, lambda: (staging / "any" / "console.log").stat().st_size > 0)
        with self.check("fullstack-interrupted-keeps-report"):
            self.assertInterruptedKeeps(status, d, before, staging)

        (d / "any" / "notes.txt").write_text("my notes\n")
        r = self.barlab("fullstack", "--policy", "any", "--out", d)
        with self.check("fullstack-refuses-foreign-file"):
            self.assertError(r, "holds any/notes.txt, which barlab did not write")
        with self.check("fullstack-foreign-file-kept"):
            self.assertFileLines(d / "any" / "notes.txt", "^my notes$")


if __name__ == "__main__":
    barlabtest.main()
