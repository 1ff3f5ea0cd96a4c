# SPDX-License-Identifier: GPL-2.0-or-later
"""What the benchmarks share: how a benchmark fails ('bench NAME: WHY',
exit 1), its RUNS and counts from the environment, the best of RUNS
timed runs, scratch directories, barlab itself as a subprocess and the
load average each report quotes."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

from ..common import ROOT

BARLAB = ROOT / "scripts" / "barlab"


class Failed(Exception):
    """A benchmark could not measure: 'bench NAME: WHY' (and any lines
    after it), exit status 1, or STATUS."""

    def __init__(self, name, why, lines=(), status=1):
        super().__init__(why)
        head = "bench %s: %s" % (name, why) if name else "bench: %s" % why
        self.text = "\n".join([head] + list(lines))
        self.status = status


def report(failure):
    """Print FAILURE and return its exit status."""
    sys.stdout.flush()
    print(failure.text, file=sys.stderr, flush=True)
    return failure.status


def env_count(name, var, default, label=None):
    """The positive whole number in $VAR (DEFAULT if unset); a usage
    mistake (exit 2) otherwise."""
    value = os.environ.get(var, str(default))
    if not value.isdigit() or int(value) == 0 or value.startswith("0"):
        raise Failed(name, "%s must be a positive number" % (label or var), status=2)
    return int(value)


@contextmanager
def scratch(keep=None):
    """A directory for a benchmark's files: KEEP if given (kept), else a
    temporary one, removed at the end."""
    if keep:
        os.makedirs(keep, exist_ok=True)
        yield str(keep)
        return
    tmp = tempfile.mkdtemp()
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def best_of(runs, measure):
    """The smallest of RUNS calls of MEASURE()."""
    return min(measure() for _ in range(runs))


def timed(fn, *args, **kwargs):
    """(seconds FN(*ARGS) took, what it returned)."""
    start = time.monotonic()
    value = fn(*args, **kwargs)
    return time.monotonic() - start, value


def barlab(*args, log=None, env=None, timeout=None):
    """Run 'scripts/barlab ARGS' with its output in LOG (else discarded);
    its exit status, 124 if TIMEOUT seconds ran out."""
    out = open(log, "wb") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen([str(BARLAB)] + [str(a) for a in args], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=timeout is not None)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return 124
    finally:
        if log:
            out.close()


def _stop(proc):
    """End PROC's process group as timeout(1) -k 10 would: TERM, then KILL."""
    for sig, wait in ((15, 10), (9, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path, n):
    """The last N lines of the file at PATH ('' if it cannot be read)."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def load():
    """The load averages, '1.00 0.80 0.70'."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
