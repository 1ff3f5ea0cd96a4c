# SPDX-License-Identifier: GPL-2.0-or-later
"""The full stack's L2 boot (`barlab fullstack`, docs/fullstack.md), in
one run, best of RUNS each:
  - no devices: Debian's qemu-system-aarch64 in L1 boots L2 with nothing
    passed through: the baseline,
  - device, prefetchable, any: the same with barlab-nic and barlab-gpu
    passed through by vfio-pci under that policy, L2 loading barlab_nic
    (its write-combining self-test runs at probe).
Printed per variant: L2 boot-to-ready as L1 sees it (VMM start to L2's
"ready" line, 0.1 s resolution) and as L2's own uptime, both as ratios
to the baseline; and the self-test's time as the driver measures it
(ktime around the 255 NOPs and the wait for the completion), as a ratio
to the self-test under any."""

import glob
import os
import re

from .. import core
from .runs import Failed, barlab, env_count, scratch, tail

NAME = "fullstack-boot"
WALL = re.compile(r"^fullstack: l2-boot 1 end=[a-z-]* ready=([0-9.]+) ", re.M)
UPTIME = re.compile(r"^l2: barlab-l1: ready ([0-9.]+)$", re.M)
SELFTEST = re.compile(r"^fullstack: result wc .* us=([0-9]+) ", re.M)


def measure(console):
    """(wall, uptime, self-test us or None) from an L1 console, or None
    without the two times."""
    text = console.replace("\r", "")
    wall, up, st = WALL.search(text), UPTIME.search(text), SELFTEST.search(text)
    if not wall or not up:
        return None
    return float(wall.group(1)), float(up.group(1)), int(st.group(1)) if st else None


def run():
    runs = env_count(NAME, "RUNS", 3)
    with scratch() as tmp:
        def best(name, *args):
            found = []
            for i in range(1, runs + 1):
                out = os.path.join(tmp, "%s-%d" % (name, i))
                if barlab("fullstack", "--out", out, "--no-picture", *args,
                          log=out + ".log") != 0:
                    raise Failed(NAME, "the %s run failed:" % name,
                                 [tail(out + ".log", 30).rstrip("\n")])
                text = "".join(open(p, errors="replace").read()
                               for p in sorted(glob.glob(os.path.join(out, "*", "console.log"))))
                m = measure(text)
                if m:
                    found.append(m)
            if not found:
                raise Failed(NAME, "no L2 ready time in the %s runs (see %s)" % (name, tmp))
            return min(found, key=lambda m: m[0])

        base_wall, base_up, _ = best("no-devices", "--policy", "any", "--no-devices",
                                     "--steps", "")
        policies = core.facts("defaults")["fullstack_policies"]
        got = {p: best(p, "--policy", p, "--steps", "wc") for p in policies}

    print("L2 boot to ready under Debian's qemu-system-aarch64 with KVM in L1 (best of %d):"
          % runs)
    print("  %-14s %-20s %-20s %s" % ("", "VMM start to ready", "L2 uptime at ready",
                                       "WC self-test"))
    print("  %-14s %6.2f s  1.00x       %6.2f s  1.00x" % ("no devices", base_wall, base_up))
    any_st = got["any"][2]
    for p in policies:
        wall, up, st = got[p]
        if st is None:
            shown = "-"
        else:
            shown = "%6d us  %.2fx" % (st, st / any_st if any_st else 0)
        print("  %-14s %6.2f s  %.2fx       %6.2f s  %.2fx       %s"
              % (p, wall, wall / base_wall, up, up / base_up, shown))
    print("  (device, prefetchable, any: barlab-nic and barlab-gpu passed through by")
    print("  vfio-pci under that policy; self-test ratios against the one under any)")
