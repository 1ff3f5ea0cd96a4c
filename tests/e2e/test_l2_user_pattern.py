#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A user's instruction sequence in the matrix (pattern=file:,
docs/scenarios.md "Your instruction sequence"), end to end under nested
KVM with the quick matrix's setup:
  example   target-tests/scenarios/examples/my-stp.scn: its unaligned STP
            ends the VM under policy device (stage 2 Device-nGnRE) and
            arrives at barlab-gpu under any, one 16-byte write (marked ~:
            the oracle predicts no shape for a user's pattern); under a
            stage-1 Device mapping it faults at EL1 under both;
  refused   a file that does not assemble: one error line with the
            assembler's message and the file's line; a missing file: one
            line naming the scenario file and line; --payload beside
            pattern=file: likewise; none writes a report (nor leaves a run
            directory);
  timeout   a pattern that never returns: that cell's run ends at the
            VMM's timeout and the cell says so, the next pattern of the
            group still runs;
  unknown   a file without a '// barlab:' line under a Device type: the
            oracle says "~" (it does not know whether it faults)."""

import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import l2test  # noqa: E402

EXAMPLE = barlabtest.ROOT / "target-tests" / "scenarios" / "examples"

# The example's cells: check name, policy, stage-1 MAIR, what the cell
# says ("match status observed-text | note-or-why").
EXAMPLE_CELLS = (
    ("example-device-normal-nc-vm-dies", "device", "0x44",
     r"^True vm-killed VM killed \(EFAULT\)"),
    ("example-any-normal-nc-arrives", "any", "0x44",
     r"^True ok complete 1x16B \| the oracle does not predict"),
    ("example-device-s1-device-el1-fault", "device", "0x04", r"^True fault-el1 EL1 fault fsc=0x21"),
    ("example-any-s1-device-el1-fault", "any", "0x04", r"^True fault-el1 EL1 fault fsc=0x21"),
)


def cell(report, policy, s1, pfile):
    """"match status observed-text | note-or-why" of the report's cell
    (the first touch)."""
    try:
        cells = json.loads(Path(report).read_text())["cells"]
    except (OSError, ValueError) as e:
        return "no report: %s" % e
    for r in cells:
        c = r["cell"]
        if (c["policy"], c["s1"], c.get("pattern_file", c["pattern"])) == (policy, s1, pfile):
            return "%s %s %s | %s" % (r["match"], r["observed"]["status"], r["observed_text"],
                                      r["note"] or r["why"])
    return "no such cell"


class UserPatternTest(l2test.L2Test):

    def assertCell(self, report, policy, s1, pfile, pattern):
        got = cell(report, policy, s1, pfile)
        self.assertTrue(re.search(pattern, got), "cell %s/%s/%s is '%s', wanted '%s'" % (
            policy, s1, pfile, got, pattern))

    def refused(self, name, scn, pattern, *options):
        """The matrix refuses SCN with one error line matching PATTERN, and
        leaves no report and no run directory behind."""
        files = self.scratch("files")
        out = files / ("out-" + name)
        r = self.barlab("matrix", "--scenarios", files / scn, "--out", out, *options)
        with self.check(name):
            self.assertStatus(r, 1)
            errors = [line for line in r.err.splitlines() if line.startswith("barlab: error:")]
            self.assertEqual(len(errors), 1, "not one error line\n" + r.tail())
            self.assertOutput(r, "^barlab: error: " + pattern, stream="err")
            left = [p.name for p in files.iterdir() if p.name.startswith(".out-" + name)]
            self.assertFalse(out.exists() or left, "it left files behind: %s" % sorted(
                p.name for p in files.iterdir()))

    def test_example(self):
        # The example: four cells, as predicted.
        r = self.barlab("matrix", "--scenarios", EXAMPLE / "my-stp.scn",
                        "--out", self.scratch("example"))
        with self.check("example-as-predicted"):
            self.assertStatus(r, 0)
            self.assertOutput(r, r"^matrix: 4 cells, 4 as predicted")
        with self.check("example-table-marks-the-unknown-shape"):
            self.assertOutput(r, r"^Normal-NC +file:my-stp\.S +✓ VM killed \(EFAULT\) +~ "
                              r"complete 1x16B")
        rep = self.scratch("example", "report.json")
        for name, policy, s1, want in EXAMPLE_CELLS:
            with self.check(name):
                self.assertCell(rep, policy, s1, "my-stp.S", want)

    def test_refused(self):
        # A file that does not assemble, and a missing one: one line, no
        # report.
        files = self.scratch("files")
        files.mkdir(exist_ok=True)
        (files / "broken.S").write_text((EXAMPLE / "my-stp.S").read_text().replace(
            "stp    x3", "stpx   x3"))
        (files / "broken.scn").write_text("cpu=max policy=any bar=pref s1=normal-NC "
                                          "pattern=file:broken.S touch=first\n")
        (files / "gone.scn").write_text("# a comment\ncpu=max policy=any bar=pref "
                                        "s1=normal-NC pattern=str8,file:gone.S\n")
        self.refused("does-not-assemble", "broken.scn",
                     r"matrix: .*/files/broken\.S:4: Error: unknown mnemonic .stpx' -- "
                     r".stpx x3,x4,\[x13\]'$")
        self.refused("missing-file", "gone.scn",
                     r".*/files/gone\.scn:2: pattern file 'gone\.S' \(.*/files/gone\.S, "
                     r"relative to the scenario file\): No such file or directory$")
        # --payload too: two payloads for one run.
        for name in ("my-stp.S", "my-stp.scn"):
            shutil.copy(EXAMPLE / name, files / name)
        payloads = self.barlab("path", "payloads").out.strip()
        self.refused("payload-and-file", "my-stp.scn",
                     r"matrix: --payload .* and pattern=file: in the scenarios both replace",
                     "--payload", Path(payloads).parent / "matrix.elf")

    def test_timeout(self):
        # A pattern that never returns: its cell is a timeout, bounded by
        # the VMM's; str8 in the same group still runs.
        files = self.scratch("loopfiles")
        files.mkdir()
        (files / "loop.S").write_text("pattern:\n    b       pattern\n")
        (files / "loop.scn").write_text("cpu=max policy=any bar=pref s1=normal-NC "
                                        "pattern=file:loop.S,str8 touch=first\n")
        r = self.barlab("matrix", "--scenarios", files / "loop.scn", "--out", self.scratch("loop"))
        with self.check("loop-differs"):
            self.assertStatus(r, 1)
            self.assertOutput(r, r"^MISMATCH max/any/Normal-NC/file:loop\.S/first: the pattern "
                              r"did not return before the run's timeout \(outcome=timeout "
                              r"after=[0-9]+s")
        rep = self.scratch("loop", "report.json")
        with self.check("loop-cell-is-a-timeout"):
            self.assertCell(rep, "any", "0x44", "loop.S", r"^False vmm-timeout timeout")
        with self.check("loop-next-pattern-runs"):
            self.assertCell(rep, "any", "0x44", "str8", r"^True ok ok 1x8B")

        # No declaration under a Device type: the oracle does not know.
        (files / "unknown.scn").write_text("cpu=max policy=device,any bar=pref s1=normal-NC "
                                           "pattern=file:loop.S touch=first\n")
        r = self.run_cmd([l2test.mt_path(), "oracle", files / "unknown.scn"])
        with self.check("unknown-is-tilde-under-device"):
            self.assertStatus(r, 0)
            self.assertOutput(r, r"^Normal-NC +file:loop\.S +pref +~ fault or not .* "
                              r"IMPDEF: ok ~ ")


if __name__ == "__main__":
    barlabtest.main()
