#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The matrix must go red when a correct driver idiom is made buggy.  A
copy of the payloads has the barrier before the doorbell taken out of
db_dmb_oshst and db_dsb (they become db_nobarrier under their own
names); the matrix runs both cells under `any` with a reordering port,
once with barlab's payload and once with the mutated one (--payload).
barlab's payload must pass; with the mutated one each cell must fail with
the checker's X3, which the oracle says cannot happen there, and name the
access that was overtaken."""

import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import l2test  # noqa: E402

ROOT = barlabtest.ROOT
BARRIERS = (("db_dmb_oshst", "dmb     oshst"), ("db_dsb", "dsb     st"))
IDIOMS = """\
# The doorbell idioms with their barriers, under stage-2 Normal-NC and a
# reordering port: nothing to find, unless the barrier is gone.
cpu=max bar=pref policy=any s1=normal-NC pattern=db_dmb_oshst,db_dsb touch=first \
port=reorder+speculate:7 trials=16
"""


def drop_barriers(path):
    """Drop the barrier line of the two patterns in PATH, and nothing
    else; how many lines went."""
    text = path.read_text()
    removed = 0
    for name, barrier in BARRIERS:
        start = text.index("pattern %s\n" % name)
        end = text.index("done\n", start)
        body = text[start:end]
        lines = [line for line in body.split("\n") if line.strip() != barrier]
        removed += body.count("\n") - "\n".join(lines).count("\n")
        text = text[:start] + "\n".join(lines) + text[end:]
    path.write_text(text)
    return removed


def cells_state(report):
    """{PATTERN: "match|differs WHY"} of a report directory's cells."""
    cells = json.loads((report / "report.json").read_text())["cells"]
    return {r["cell"]["pattern"]: "%s %s" % ("match" if r["match"] else "differs", r["why"])
            for r in cells}


class MutationTest(l2test.L2Test):

    def test_mutation(self):
        src = self.scratch("src")
        # The payloads with what they include, at the same relative places.
        for part in ("target-tests/payloads", "target-tests/vmm", "hw/barlab"):
            shutil.copytree(ROOT / part, src / part)
        # The payloads include the core's list of patterns.
        (src / "hw" / "memtype").mkdir(parents=True)
        shutil.copy(ROOT / "hw" / "memtype" / "patterns.h", src / "hw" / "memtype")
        with self.check("mutation-applied"):
            self.assertEqual(drop_barriers(src / "target-tests/payloads/matrix-patterns.S"), 2,
                             "not 2 barrier lines removed")
        build = self.scratch("build")
        r = self.run_cmd(["make", "-C", src / "target-tests/payloads", "O=%s" % build,
                          build / "matrix.elf"], timeout=120)
        with self.check("mutant-built"):
            self.assertStatus(r, 0)
        scn = self.scratch("idioms.scn")
        scn.write_text(IDIOMS)

        r = self.barlab("matrix", "--scenarios", scn, "--out", self.scratch("correct"),
                        timeout=900)
        with self.check("correct-idioms-pass"):
            self.assertStatus(r, 0)
        with self.check("correct-idioms-clean"):
            state = cells_state(self.scratch("correct"))
            self.assertEqual(sum(s.startswith("match ") for s in state.values()), 2, state)

        r = self.barlab("matrix", "--scenarios", scn, "--payload", build / "matrix.elf",
                        "--out", self.scratch("mutant"), timeout=900)
        with self.check("mutant-fails"):
            self.assertStatus(r, 1)
            self.assertOutput(r, r"^MISMATCH .*reported X3, which the oracle says cannot "
                              r"happen here")
        try:
            state = cells_state(self.scratch("mutant"))
        except (OSError, ValueError) as e:
            state = {"error": str(e)}
        for name, _ in BARRIERS:
            with self.check("mutant-%s-red" % name):
                self.assertTrue(re.match(r"differs the checker reported X3, .*overtaken by "
                                         r"access [0-9]+", state.get(name, "")),
                                "%s: %s" % (name, state.get(name, state)))


if __name__ == "__main__":
    barlabtest.main()
