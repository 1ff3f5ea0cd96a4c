# SPDX-License-Identifier: GPL-2.0-or-later
"""A user's instruction sequence in the matrix (pattern=file: in a scenario
file): the pattern file the oracle's cells name (barlab-mt oracle --json:
pattern_path), assembled with the matrix payload by make's 'user' target
(target-tests/payloads/Makefile), cached by the file's content.  A file
that does not assemble: one line with the assembler's message and the
file's line.

docs/scenarios.md, "Your instruction sequence", says what the file may
do; target-tests/payloads/matrix-user.S is how it is entered.
"""

import hashlib
import json
import os
import re
import subprocess

from . import payloads
from .common import ROOT


class UserPatternError(Exception):
    pass


def pattern_file(oracle):
    """The one pattern file of the oracle's cells (its path as the oracle
    found it), or None."""
    try:
        with open(oracle) as f:
            paths = {c["pattern_path"] for c in map(json.loads, filter(str.strip, f))
                     if "pattern_path" in c}
    except (OSError, ValueError) as e:
        raise UserPatternError("cannot read %s: %s" % (oracle, e))
    if len(paths) > 1:
        raise UserPatternError("the scenarios name %s: a matrix run takes one pattern file "
                               "(one payload)" % " and ".join(sorted(paths)))
    return paths.pop() if paths else None


# What the assembler (or its preprocessor) says about a line of user.S.
MESSAGE_RE = re.compile(r"^(?:.*/)?user\.S:(\d+):(?:\d+:)? *(.*)$")


def assembler_message(output, path):
    """The first message about the user's file in make's OUTPUT, as
    "PATH:LINE: MESSAGE", or None."""
    for line in output.splitlines():
        m = MESSAGE_RE.match(line)
        if m:
            return "%s:%s: %s" % (path, m.group(1), m.group(2))
    return None


def build(path, src, main_o, cache):
    """Assemble PATH into a matrix payload in CACHE/KEY; its ELF's path."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise UserPatternError("pattern file %s: %s" % (path, e.strerror))
    out = os.path.join(cache, hashlib.sha256(text).hexdigest()[:16])
    os.makedirs(out, exist_ok=True)
    user = os.path.join(out, "user.S")
    # Written only when new, so that make finds a warm build warm.
    if not os.path.exists(user):
        with open(user + ".tmp", "wb") as f:
            f.write(text)
        os.replace(user + ".tmp", user)
    r = subprocess.run(["make", "-s", "-C", src, "O=" + main_o, "USER_O=" + out, "user"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = r.stdout.decode("utf-8", "replace")
    if r.returncode:
        msg = assembler_message(output, path)
        if msg:
            raise UserPatternError(msg)
        raise UserPatternError("pattern file %s: the payload build failed: %s" % (
            path, " / ".join(output.strip().splitlines()[-3:])))
    return os.path.join(out, "matrix.elf")


def build_for(oracle):
    """The matrix payload with the pattern file that ORACLE's cells name,
    in BUILD/payloads-user/KEY; its ELF's path, or None when no cell names
    a file.  Needs the payloads built."""
    path = pattern_file(oracle)
    if not path:
        return None
    main_o = payloads.path("matrix").parent
    return build(path, str(ROOT / "target-tests" / "payloads"), str(main_o), str(main_o) + "-user")
