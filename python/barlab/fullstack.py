# SPDX-License-Identifier: GPL-2.0-or-later
"""The full stack: a full L2 Linux with barlab's guest drivers under each
policy.  (Still run by scripts/lib/fullstack.sh through the bridge.)"""

from pathlib import Path

from . import bashlib


def examples_build():
    """Build the example programs for 'fullstack --run'; their paths."""
    return [Path(p) for p in bashlib.run("fullstack_examples_build").splitlines() if p]


def module_build(directory):
    """Build the Kbuild modules in DIRECTORY against barlab's kernel."""
    return Path(bashlib.run('module_build "$1"', directory).splitlines()[-1])
