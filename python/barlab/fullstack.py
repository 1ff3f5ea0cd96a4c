# SPDX-License-Identifier: GPL-2.0-or-later
"""The full stack: a full L2 Linux with barlab's guest drivers under each
policy.  (Still run by scripts/lib/fullstack.sh through the bridge.)"""

import subprocess
from pathlib import Path

from . import bashlib


def examples_build():
    """Build the example programs for 'fullstack --run'; their paths."""
    return [Path(p) for p in bashlib.run("fullstack_examples_build").splitlines() if p]


def module_build(directory):
    """Build the Kbuild modules in DIRECTORY against barlab's kernel; the
    path of a .ko (all of them are beside it).  A mistake the bash side
    reports ends the command with its status."""
    proc = subprocess.run(bashlib.argv('module_build "$1"', directory), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.returncode)
    return Path(proc.stdout.splitlines()[-1])
