# SPDX-License-Identifier: GPL-2.0-or-later
"""A newcomer's first run: `scripts/barlab demo` with an empty barlab
cache and build tree (every download, the QEMU and kernel builds, the
initramfs, the quick matrix), then the same command again warm, in one
run.  Prints the time of each long step, the cold total against the
20-minute goal, and the cold/warm ratio.  The Debian packages of the
machine's own release are installed once first and not counted: on a
fresh machine `barlab setup` adds their install time (printed too when
it had anything to do).  Takes about 20 minutes on 2 cores."""

import os
import re

from .runs import Failed, barlab, scratch, tail, timed

NAME = "cold-start"
STEPS = ("qemu-download qemu-unpack qemu-configure qemu-build kernel-download kernel-unpack "
         "kernel-configure kernel-build l1-modules l1-tools payloads-build").split()


def os_name():
    with open("/etc/os-release") as f:
        for line in f:
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return "?"


def step_seconds(log, step):
    """The seconds run_step printed for STEP in LOG, or None."""
    found = re.findall(r"^barlab: %s \.\.\. .*ok \(([0-9]*)s\)$" % re.escape(step), log, re.M)
    return int(found[-1]) if found else None


def run(keep=None):
    """KEEP: a directory that does not exist yet, kept afterwards."""
    if keep:
        if os.path.lexists(keep):
            raise Failed(NAME, "%s exists; name a new directory" % keep, status=2)
        keep = os.path.abspath(keep)
    with scratch(keep) as work:
        def step(log, env=None):
            path = os.path.join(work, log)
            rc = barlab(*(("setup",) if log == "setup.log" else ("demo",)), log=path, env=env)
            if rc != 0:
                raise Failed(NAME, "'barlab %s' failed" % ("setup" if env is None else "demo"),
                             [tail(path, 10 ** 6 if env is None else 30).rstrip("\n")])

        setup_s, _ = timed(step, "setup.log")
        env = dict(os.environ, BARLAB_CACHE=os.path.join(work, "cache"),
                   BARLAB_BUILD=os.path.join(work, "build"))
        cold_s, _ = timed(step, "cold.log", env)
        warm_s, _ = timed(step, "warm.log", env)
        with open(os.path.join(work, "cold.log"), errors="replace") as f:
            cold = f.read()

    cold_s = int(cold_s)
    print("cold start of scripts/barlab demo (%s, %d cores, load %s):"
          % (os_name(), os.cpu_count(), ", ".join(open("/proc/loadavg").read().split()[:3])))
    if setup_s > 2:
        print("  %-34s %5d s (not counted below)" % ("setup (Debian packages)", setup_s))
    for s in STEPS:
        v = step_seconds(cold, s)
        if v is not None:
            print("  %-34s %5d s" % (s, v))
    print("  %-34s %5d s = %dm%02ds (goal: 20m00s)" % ("cold total, first command to report",
                                                       cold_s, cold_s // 60, cold_s % 60))
    print("  %-34s %7.1f s" % ("warm (same command again)", warm_s))
    print("  %-34s %7.1fx" % ("cold / warm", cold_s / float("%.1f" % warm_s)))
    ninja = re.findall(r"ninja ran \[[0-9]*/[0-9]*\]", cold)
    if ninja:
        print("  QEMU: " + ninja[-1][len("ninja ran "):])
