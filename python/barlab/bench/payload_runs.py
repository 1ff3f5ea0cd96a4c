# SPDX-License-Identifier: GPL-2.0-or-later
"""One bare-metal payload under barlab's QEMU, timed: what the agreement
and NIC benchmarks measure, on the machine barlab.machine builds."""

import os
import subprocess
import time

from .. import machine
from .runs import Failed, tail


def qemu_argv(qemu, payload, console, smp, *extra):
    """QEMU on barlab's virt machine, headless, the payload as its kernel
    and its UART into CONSOLE."""
    return ([str(qemu)] + machine.virt("max", smp=smp, memory="256M")
            + ["-monitor", "none", "-serial", "file:%s" % console,
               "-kernel", str(payload)] + list(extra))


def run_ms(name, argv, errlog, timeout=300):
    """Run ARGV to its end with its output in ERRLOG; its wall time in ms.
    A timeout is exit status 124, as timeout(1) says it."""
    start = time.monotonic_ns()
    with open(errlog, "wb") as err:
        try:
            rc = subprocess.call(argv, stdout=err, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = 124
    if rc != 0:
        raise Failed(name, "QEMU exited with %d" % rc, status=rc if rc > 0 else 1)
    return (time.monotonic_ns() - start) // 1000000


def console_has(console, prefix):
    """Does a line of CONSOLE start with PREFIX?"""
    try:
        with open(console, errors="replace") as f:
            return any(line.startswith(prefix) for line in f)
    except OSError:
        return False


def fresh(path):
    """Empty the file at PATH (or create it)."""
    with open(path, "w"):
        pass


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def tails(*paths, n=5):
    return [line for p in paths for line in tail(p, n).splitlines()]
