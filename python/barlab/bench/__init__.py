# SPDX-License-Identifier: GPL-2.0-or-later
"""`barlab bench`: the benchmarks, each printing ratios against a
baseline measured in the same run.  This module is the command (its
options, the builds each benchmark needs, the order of the plain
`bench`); the modules beside it are the benchmarks."""

import subprocess

from .. import core, payloads, qemu, setup
from ..cli import Command
from ..common import UsageError, or_list
from . import (cold_start, fullstack_boot, fuzz, l1_boot, matrix_speed, nic_frames,
               qemu_agree, soak)
from .runs import Failed, env_count, report

USAGE = """\
usage: scripts/barlab bench
       scripts/barlab bench NAME [ARGS]
       scripts/barlab bench fuzz [--inputs N] [--baseline N] [--seed S]
                                 [--jobs J]
run the benchmarks, each against a baseline in the same run
  (none)      gather, qemu-agree, nic-frames, l1-boot, matrix and
              fullstack-boot, one after another (about an hour on 2 cores)
  NAME        only that one; RUNS=N in the environment: best of N (default 3)
  qemu-agree [RUNS]   the agreement payload on barlab-gpu against a RAM BAR
  nic-frames [FRAMES] barlab-nic's TX paths against e1000 (default 500000
              frames; CHECK_FRAMES=N in the environment for the pcap run)
  fuzz        barlab-fuzz on each device, N inputs (default 1000000) on the
              sanitizer build against a baseline of the plain build (default
              20000), seed S (default 1), J processes (default 2); reproducers
              and logs in build/bench-fuzz; not part of the plain 'bench':
              hours on 2 cores (docs/fuzzing.md)
  cold-start [KEEP-DIR]  'barlab demo' from an empty cache against the same
              warm (about 20 minutes; KEEP-DIR: a new directory to keep)
  soak [--matrix N] [--fullstack N] [--timeout S] [--keep DIR]
              the quick matrix N times (default 100), then the fullstack
              suite N times (default 10), each run limited to S seconds
              (default 300); reports hangs, failures and runs whose cells'
              outcomes differ from the first run's; exit 1 if any
"""

# The plain `bench`, in its order; cold-start, fuzz and soak run alone.
DEFAULT = ("gather", "qemu-agree", "nic-frames", "l1-boot", "matrix", "fullstack-boot")
NAMES = DEFAULT + ("cold-start", "fuzz", "soak")


def _positive(what, args):
    """The optional single positive number of ARGS, or None."""
    if len(args) > 1:
        raise UsageError("bench", "%s takes at most one argument" % what)
    if args and (not args[0].isdigit() or int(args[0]) == 0):
        raise UsageError("bench", "%s: '%s' is not a positive number" % (what, args[0]))
    return int(args[0]) if args else None


def gather():
    core.build()
    if subprocess.call([str(core.build_path() / "bench" / "bench_gather")]) != 0:
        raise Failed("gather", "bench_gather failed")


def agree(runs=None):
    qemu_bin = qemu.build()
    payloads.build()
    qemu_agree.run(qemu_bin, payloads.path("agree"), runs or env_count("qemu-agree", "RUNS", 3))


def nic(frames=None):
    qemu_bin = qemu.build()
    payloads.build()
    nic_frames.run(qemu_bin, payloads.path("nicbench").parent, frames or 500000)


def bench_fuzz(opts):
    setup.run()
    plain = qemu.build(qtests=True)
    sanitized = qemu.build(qtests=True, sanitize=True)
    if not plain or not sanitized:
        raise Failed("fuzz", "QEMU is built, but its binary is missing")
    return fuzz.run(plain, sanitized, opts)


def run(args):
    env_count(args[0] if args else "", "RUNS", 3)
    if not args:
        setup.run()
        gather()
        agree()
        nic()
        l1_boot.run()
        matrix_speed.run()
        fullstack_boot.run()
        return 0
    name, rest = args[0], args[1:]
    if name not in NAMES:
        raise UsageError("bench", "takes no arguments, or a benchmark: %s, not '%s'"
                         % (or_list(NAMES), name))
    # Every argument is checked before anything is built.
    if name == "fuzz":
        job = lambda opts=fuzz.parse(rest): bench_fuzz(opts)
    elif name == "soak":
        job = lambda opts=soak.parse(rest): soak.run(opts)
    elif name == "qemu-agree":
        job = lambda n=_positive(name, rest): agree(n)
    elif name == "nic-frames":
        job = lambda n=_positive(name, rest): nic(n)
    elif name == "cold-start":
        if len(rest) > 1 or (rest and rest[0].startswith("-")):
            raise UsageError("bench", "cold-start takes at most a directory to keep")
        job = lambda: cold_start.run(rest[0] if rest else None)
    else:
        if rest:
            raise UsageError("bench", "%s takes no arguments" % name)
        job = {"gather": gather, "l1-boot": l1_boot.run, "matrix": matrix_speed.run,
               "fullstack-boot": fullstack_boot.run}[name]
    return job() or 0


def main(args):
    try:
        return run(args)
    except Failed as e:
        return report(e)


COMMANDS = [Command("bench", USAGE, main)]
