# SPDX-License-Identifier: GPL-2.0-or-later
"""The bridge to the bash functions still in scripts/lib: run a snippet
with scripts/lib/barlab.sh sourced.  barlab.fullstack_bash (and
buildcmd's module usage) are the last callers; the bridge goes with
them."""

import subprocess

from .common import ROOT, Fatal

LIBRARY = ROOT / "scripts" / "lib" / "barlab.sh"


def argv(snippet, args):
    """The command line that runs SNIPPET with ARGS as "$@"."""
    # $0 is not the library: sourced as "$0", it would run its main.
    return ["bash", "-c", '. "$1" && shift && ' + snippet, "barlab", str(LIBRARY)] + [
        str(a) for a in args]


def run(snippet, *args, capture=True):
    """Run SNIPPET (bash, with the libraries loaded and ARGS as "$@").
    With CAPTURE, return its stdout without the final newline and raise
    Fatal on failure; without, return its exit status (its stdout and
    stderr are the caller's)."""
    cmd = argv(snippet, args)
    if not capture:
        return subprocess.call(cmd, stdin=subprocess.DEVNULL)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          text=True, check=False)
    if proc.returncode != 0:
        raise Fatal("%s failed (exit %d)" % (snippet.split()[0], proc.returncode))
    return proc.stdout.rstrip("\n")
