# SPDX-License-Identifier: GPL-2.0-or-later
"""The bridge to the part of the host side still written in bash
(scripts/lib): run a snippet with scripts/lib/barlab.sh sourced.  Each
Python module that still reaches through here says so; the bridge goes
when the last of them is Python."""

import subprocess

from .common import ROOT, Fatal

LIBRARY = ROOT / "scripts" / "lib" / "barlab.sh"


def _argv(snippet, args):
    # The library is sourced as "$1" (not "$0", which would make it run
    # its main), then shifted away: ARGS are "$@".
    return (["bash", "-c", 'f=$1; shift; . "$f" && ' + snippet, "barlab", str(LIBRARY)]
            + [str(a) for a in args])


def run(snippet, *args, capture=True):
    """Run SNIPPET (bash, with the libraries loaded and ARGS as "$@").
    With CAPTURE, return its stdout without the final newline and raise
    Fatal on failure; without, return its exit status (its stdout and
    stderr are the caller's)."""
    argv = _argv(snippet, args)
    if not capture:
        return subprocess.call(argv, stdin=subprocess.DEVNULL)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          text=True, check=False)
    if proc.returncode != 0:
        raise Fatal("%s failed (exit %d)" % (snippet.split()[0], proc.returncode))
    return proc.stdout.rstrip("\n")


def status(snippet, *args):
    """SNIPPET's exit status, its stdout and stderr discarded."""
    argv = _argv(snippet, args)
    return subprocess.call(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def die_failed(what):
    """The bash side has shown why; end the command as it would have."""
    raise Fatal("%s failed" % what)
