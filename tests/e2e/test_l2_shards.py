#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`barlab matrix --shard K/N` and `barlab matrix merge` on the quick
matrix, for real: the three shards, merged, give the report of the
unsharded run, cell for cell (outcome, expectation, verdict, the
transactions' shapes; JUnit identical), and no shard boots a CPU model
twice.  Then the report directory under fire: a matrix run and a boot
killed while L1 runs leave the previous report exactly as it was, and
their QEMU ends with them."""

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import l2test  # noqa: E402

N = 3
FIELDS = ("match", "expected_text", "observed_text", "why", "note")


def key(r):
    c = r["cell"]
    return (c["cpu"], c["policy"], c["s1"], c["pattern"], c["touch"])


def shape(r):
    return [(t["off"], t["size"], t["op"], t["s1"], t["s2"]) for t in r["txns"]]


def same_verdict(x, y):
    """The driver idioms: the same rules seen in the same number of
    trials; in how many of them a rule broke, and how a later trial's
    stores were gathered, depend on timing too (the gather timeout drains
    the reorder window, an exit to L1 drains the gather buffer), for an
    idiom that can break a rule and for one that cannot alike."""
    vx, vy = x.get("verdict") or {}, y.get("verdict") or {}
    return bool(vx.get("trials")) and all(vx.get(k) == vy.get(k)
                                          for k in ("state", "seen", "trials"))


def compare(a, b):
    """Cell for cell: (same, [permitted differences]); raises
    AssertionError where a cell differs in a way the architecture does
    not let it.  A cell marked ~ (a burst cut by an exit to L1) may differ
    only in that way."""
    assert [key(r) for r in a["cells"]] == [key(r) for r in b["cells"]], \
        "cells or their order differ"
    assert a["scenarios"] == b["scenarios"] and b["merged_shards"] == N
    same, permitted = 0, []
    for x, y in zip(a["cells"], b["cells"]):
        if all(x[f] == y[f] for f in FIELDS) and shape(x) == shape(y):
            same += 1
        elif x["match"] and y["match"] and (x["note"] or y["note"] or same_verdict(x, y)):
            permitted.append("permitted difference %s: %s / %s" % (key(x), x["observed_text"],
                                                                    y["observed_text"]))
        else:
            raise AssertionError("cell %s differs: %s against %s" % (
                key(x), {f: x[f] for f in FIELDS}, {f: y[f] for f in FIELDS}))
    return same, permitted


class ShardsTest(l2test.L2Test):

    def matrix(self, name, *options):
        """`barlab matrix --quick OPTION... --out scratch(NAME)`; a run that
        completed exits 0 (as predicted) or 1 (a cell differs)."""
        r = self.barlab("matrix", "--quick", *options, "--out", self.scratch(name))
        with self.check(name + "-ran"):
            self.assertLessEqual(r.status, 1, "exit %d\n%s" % (r.status, r.tail()))
            self.assertTrue(self.scratch(name, "report.json").is_file(), "no report")
        return r

    def test_1_shards(self):
        self.matrix("whole")
        for k in range(1, N + 1):
            r = self.matrix("shard%d" % k, "--shard", "%d/%d" % (k, N))
            # One L1 boot per CPU model the shard needs.
            with self.check("shard%d-boots-each-cpu-once" % k):
                cpus = re.findall(r"^barlab: matrix: L1 on -cpu ([^ ]*) \.\.\.$", r.err, re.M)
                self.assertEqual(len(cpus), len(set(cpus)), "a CPU model booted twice: %s"
                                 % cpus)
        r = self.barlab("matrix", "merge", *[self.scratch("shard%d" % k)
                                             for k in range(1, N + 1)],
                        "--out", self.scratch("merged"))
        with self.check("merge-ran"):
            self.assertLessEqual(r.status, 1, "exit %d\n%s" % (r.status, r.tail()))

        permitted = None
        with self.check("merged-equals-unsharded"):
            a, b = (json.loads(self.scratch(d, "report.json").read_text())
                    for d in ("whole", "merged"))
            same, permitted = compare(a, b)
            for line in permitted:
                print("#     " + line)
            print("#     cells %d same %d permitted %d passed %d/%d" % (
                len(a["cells"]), same, len(permitted), a["passed"], b["passed"]))
        junit = [self.scratch(d, "junit.xml") for d in ("whole", "merged")]
        same_junit = all(p.is_file() for p in junit) and \
            junit[0].read_bytes() == junit[1].read_bytes()
        if same_junit or not permitted:
            with self.check("merged-junit-identical"):
                self.assertTrue(same_junit, "junit.xml differs")
        else:
            with self.check("merged-junit-identical-but-permitted"):
                pass

        # Killed while L1 runs: the report that was there stays, byte for
        # byte.
        whole = self.scratch("whole")
        staging = self.scratch(".whole.barlab-run")
        before = l2test.tree_sums(whole)
        proc = self.start("killed", "matrix", "--quick", "--out", whole)
        status = l2test.interrupt_when(
            proc, lambda: (staging / "max" / "console.log").stat().st_size > 0)
        with self.check("interrupted-run-keeps-report"):
            self.assertEqual(status, 143, "exit %d" % status)
            self.assertEqual(l2test.tree_sums(whole), before, "the report changed")
            self.assertFalse(staging.exists(), "the staging directory is left")
        with self.check("interrupted-run-ends-qemu"):
            left = l2test.processes_of(staging)
            l2test.end_processes(left)
            self.assertFalse(left, "a process of the killed run is still running")

    def test_2_boot(self):
        # boot --out works the same way: a finished boot replaces the
        # earlier boot's report, a boot killed while its script runs leaves
        # it.
        quick, sleep = self.scratch("quick.sh"), self.scratch("sleep.sh")
        quick.write_text('echo "boot-script $1"\n')
        sleep.write_text("echo boot-script sleeping\nsleep 600\n")
        boot = self.scratch("boot")
        r = self.barlab("boot", "--run", quick, "--out", boot)
        with self.check("boot-writes-report"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "^boot-script")
        with self.check("boot-report-has-manifest"):
            self.assertFileLines(boot / ".barlab-manifest", r"^console\.log$")
        before = l2test.tree_sums(boot)
        staging = self.scratch(".boot.barlab-run")
        proc = self.start("boot-killed", "boot", "--run", sleep, "--out", boot)
        status = l2test.interrupt_when(
            proc, lambda: "boot-script sleeping" in (staging / "console.log").read_text(
                errors="replace"))
        with self.check("boot-interrupted-keeps-report"):
            self.assertInterruptedKeeps(status, boot, before, staging)


if __name__ == "__main__":
    barlabtest.main()
