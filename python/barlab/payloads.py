# SPDX-License-Identifier: GPL-2.0-or-later
"""The bare-metal aarch64 payloads (target-tests/payloads).  (Still built
by scripts/lib/payloads.sh through the bridge.)"""

from pathlib import Path

from . import bashlib


def build():
    if bashlib.run("payloads_build >&2", capture=False) != 0:
        bashlib.die_failed("building the payloads")


def path(name):
    """The ELF of payload NAME; Fatal if it is not built."""
    return Path(bashlib.run('payloads_path "$1"', name))
