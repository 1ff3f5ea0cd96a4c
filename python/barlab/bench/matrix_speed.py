# SPDX-License-Identifier: GPL-2.0-or-later
"""The matrix's speed, measured in one run against a baseline: an L1 boot
that runs nothing (QEMU start to power-off), then the quick and the full
matrix (L1 boots included, builds cached).  Prints each wall time, the
cost of one cell, and the ratio to the bare boot."""

import json
import os

from .runs import Failed, barlab, scratch, tail, timed

NAME = "matrix"


def run():
    with scratch() as tmp:
        log = os.path.join(tmp, "out")

        def wall(*args):
            secs, rc = timed(barlab, *args, log=log)
            if rc != 0:
                raise Failed(NAME, "'%s' failed" % " ".join(("scripts/barlab",) + args),
                             [tail(log, 10 ** 6).rstrip("\n")])
            return secs

        # Every build first, so that no timed command builds anything.
        for part in ("core", "qemu", "initramfs"):
            if barlab("build", part) != 0:
                raise Failed(NAME, "'barlab build %s' failed" % part)
        nothing = os.path.join(tmp, "nothing.sh")
        with open(nothing, "w") as f:
            f.write("true\n")
        boot = wall("boot", "--run", nothing, "--out", os.path.join(tmp, "boot"))
        sizes = {}
        for kind, args in (("quick", ("--quick",)), ("full", ())):
            out = os.path.join(tmp, kind)
            secs = wall("matrix", *args, "--out", out)
            with open(os.path.join(out, "oracle.jsonl")) as f:
                cells = sum(1 for line in f if line.strip())
            with open(os.path.join(out, "plan.json")) as f:
                boots = len(json.load(f)["cpus"])
            sizes[kind] = (secs, cells, boots)
    print("matrix speed (builds cached):")
    print("  %-34s %7.2f s  1.00x" % ("L1 boot, nothing run (baseline)", boot))
    for kind in ("quick", "full"):
        secs, cells, boots = sizes[kind]
        print("  %-34s %7.2f s  %.2fx  %d cells, %.0f ms a cell"
              % ("%s matrix (%d L1 boots)" % (kind, boots), secs, secs / boot, cells,
                 1000 * secs / cells))
