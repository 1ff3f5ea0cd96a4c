# SPDX-License-Identifier: GPL-2.0-or-later
"""`barlab setup`: the Debian packages barlab needs.  (Still done by
scripts/lib/setup.sh through the bridge.)"""

from . import bashlib


def run():
    if bashlib.run("cmd_setup >&2", capture=False) != 0:
        bashlib.die_failed("setup")
