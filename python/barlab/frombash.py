# SPDX-License-Identifier: GPL-2.0-or-later
"""The way back from the bash functions still in scripts/lib (those
barlab.fullstack_bash calls) to the Python modules that replaced theirs
(apt, kernel, kernelseries): `python3 -m barlab.frombash FUNCTION
ARG...`, which the one-line functions of scripts/lib/{apt,kernel,
initramfs}.sh run.  A SPEC argument is a --kernel-patches spec, '' for
barlab's own series.  A function that
finds nothing (an artifact not built) exits 1 silently, as the bash
functions did; a failure is 'barlab: error: ...', exit 1.  This module
goes with the last bash caller."""

import json
import os
import sys

from . import apt, kernel, kernelseries
from .cli import guarded


def _spec(spec):
    return spec or None


def _describe(cmd, spec):
    """The series SPEC of command CMD: its JSON, the spec that names it
    from anywhere (an absolute directory), its sha256 and declared policy,
    a line each."""
    desc = kernelseries.use(cmd, spec)
    absolute = ("+" if desc["mode"] == "on-top" else "") + desc["dir"]
    return "\n".join([json.dumps(desc), absolute, desc["sha256"], desc["policy"] or ""])


def _papt(state, prog, *args):
    sys.stdout.flush()
    argv = apt.papt_argv(state, prog, *args)
    os.execvp(argv[0], argv)


FUNCTIONS = {
    "apt_install": apt.install,
    "papt": _papt,
    "papt_update": apt.papt_update,
    "kernel_describe": _describe,
    "kernel_series_label": lambda spec: kernelseries.label(_spec(spec)),
    "kernel_series_policy": lambda cmd, spec, policy: kernelseries.check_policy(
        cmd, spec, policy) and None,
    "kernel_build": lambda spec: kernel.build(_spec(spec)) and None,
    "kernel_build_dir": lambda spec: kernel.build_dir(_spec(spec)) or False,
    "kernel_key": lambda spec: kernel.key(_spec(spec)),
    "kernel_chosen": lambda: kernel.chosen() or False,
}


def main(argv):
    if not argv or argv[0] not in FUNCTIONS:
        print("usage: python3 -m barlab.frombash %s ARG..." % "|".join(FUNCTIONS),
              file=sys.stderr)
        return 2
    return guarded(lambda a: _call(FUNCTIONS[a[0]], a[1:]), argv)


def _call(function, args):
    result = function(*args)
    if result is False:
        return 1
    if result is not None:
        print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
