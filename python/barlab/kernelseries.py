# SPDX-License-Identifier: GPL-2.0-or-later
"""A kernel patch series for barlab's L1 kernel: barlab's own
(kernel-patches/) or a user's (--kernel-patches DIR), checked, named,
hashed and applied; how commands name it (label, json) and the policy a
kernel without the run-time knob runs (check_policy).

  python3 -m barlab.kernelseries describe SPEC [--barlab DIR]
      Check SPEC and print it as JSON: name, dir, mode, sha256, the
      declared fixed policy (or null) and the patches to apply, in order.
      SPEC is DIR (the user's series instead of barlab's) or +DIR (on top
      of barlab's series in DIR given by --barlab); mode is "instead",
      "on-top", or "barlab" for barlab's own.  A mistake is one line
      on stderr and exit status 2.
  python3 -m barlab.kernelseries apply TREE PATCH...
      git am each PATCH on TREE's HEAD in order ("applying NAME" on
      stderr).  A patch that does not apply: git am is aborted, and one
      line naming the patch and the failing hunk, then the hunk's lines,
      go to stdout; exit status 1.

A series directory holds `series` (one patch file name a line, in order;
blank lines and lines starting with # are skipped) and the patches
(`git format-patch` files).  A kernel without vfio-pci's run-time policy
declares its fixed behaviour in `series` with a line
"# barlab-policy: POLICY" (docs/kernel-patches.md).
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys

from .common import ROOT, Fatal, UsageError

BARLAB_SERIES = ROOT / "kernel-patches"

POLICY_RE = re.compile(r"^#\s*barlab-policy:\s*(\S+)\s*$")
# How many lines of a failing hunk the error shows.
HUNK_LINES = 12


class SeriesError(Exception):
    pass


def parse_spec(spec):
    """(mode, dir) of SPEC: "+DIR" is on top of barlab's series, "DIR"
    instead of it."""
    if spec.startswith("+"):
        return "on-top", spec[1:]
    return "instead", spec


def read_series(path):
    """(patch names, declared policy or None) of the series directory PATH."""
    if not os.path.isdir(path):
        raise SeriesError("%s is not a directory" % path)
    series = os.path.join(path, "series")
    try:
        with open(series) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise SeriesError("%s has no series file (one patch file name a line, in order)" % path)
    except OSError as e:
        raise SeriesError("cannot read %s: %s" % (series, e))
    names, policy = [], None
    for n, line in enumerate(lines, 1):
        m = POLICY_RE.match(line)
        if m:
            policy = m.group(1)
            continue
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "/" in line or line in (".", ".."):
            raise SeriesError("%s:%d: '%s' is not a file name in %s" % (series, n, line, path))
        if not os.path.isfile(os.path.join(path, line)):
            raise SeriesError("%s:%d names %s, which is not in %s" % (series, n, line, path))
        if line in names:
            raise SeriesError("%s:%d names %s a second time" % (series, n, line))
        names.append(line)
    if not names:
        raise SeriesError("%s names no patch" % series)
    return names, policy


def series_hash(mode, path, names):
    """sha256 over the mode, `series` and each patch's name and content."""
    h = hashlib.sha256()
    h.update(("mode %s\n" % mode).encode())
    for name in ["series"] + names:
        with open(os.path.join(path, name), "rb") as f:
            data = f.read()
        h.update(("%s %d\n" % (name, len(data))).encode())
        h.update(data)
    return h.hexdigest()


def describe(spec, barlab_dir):
    """SPEC as a dict (the module docstring), checked."""
    mode, path = parse_spec(spec)
    if not path:
        raise SeriesError("'%s' names no directory" % spec)
    names, policy = read_series(path)
    path = os.path.realpath(path)
    patches = [os.path.join(path, n) for n in names]
    if mode == "instead" and barlab_dir and path == os.path.realpath(barlab_dir):
        mode = "barlab"
    if mode == "on-top":
        if not barlab_dir:
            raise SeriesError("+DIR needs barlab's series (--barlab)")
        base, _ = read_series(barlab_dir)
        patches = [os.path.join(os.path.realpath(barlab_dir), n) for n in base] + patches
    return {"name": os.path.basename(path), "dir": path, "mode": mode,
            "sha256": series_hash(mode, path, names), "policy": policy, "patches": patches}


def git(tree, *args, check=True):
    return subprocess.run(["git", "-c", "user.name=barlab", "-c", "user.email=barlab@invalid",
                           "-C", tree] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=check)


def failing_hunk(tree, patch):
    """Why PATCH does not apply to TREE: (where, lines) from git apply -v."""
    out = git(tree, "apply", "--check", "-v", patch, check=False).stdout.splitlines()
    where, hunk, searching = None, [], False
    for line in out:
        m = re.match(r"^error: patch failed: (\S+:\d+)$", line)
        if m:
            where = "the hunk at %s fails" % m.group(1)
            searching = False
            if hunk:
                break
            continue
        if line.startswith("error: while searching for:"):
            searching, hunk = True, []
            continue
        if searching:
            hunk.append(line)
            continue
        m = re.match(r"^error: (\S+): (No such file or directory|does not exist in index)$", line)
        if m and where is None:
            where = "%s does not exist in the tree" % m.group(1)
    if where is None:
        errors = [l[len("error: "):] for l in out if l.startswith("error: ")]
        where = errors[0] if errors else "git am failed where git apply did not"
    while hunk and not hunk[-1].strip():
        hunk.pop()
    if len(hunk) > HUNK_LINES:
        hunk = hunk[:HUNK_LINES] + ["... (%d more lines)" % (len(hunk) - HUNK_LINES)]
    return where, hunk


def apply(tree, patches, log=None):
    """git am PATCHES onto TREE, progress on LOG (default stderr); None, or
    the error's lines."""
    log = log or sys.stderr
    for n, patch in enumerate(patches):
        name = os.path.basename(patch)
        print("applying %s" % name, file=log, flush=True)
        am = git(tree, "am", "-q", patch, check=False)
        if am.returncode == 0:
            continue
        print(am.stdout, file=log, end="", flush=True)
        git(tree, "am", "--abort", check=False)
        where, hunk = failing_hunk(tree, patch)
        return (["%s: %s (after %d patch%s)" % (patch, where, n, "" if n == 1 else "es")]
                + (["  while searching for:"] + ["  | " + l for l in hunk] if hunk else []))
    return None


def use(cmd, spec):
    """The series of --kernel-patches SPEC for command CMD, described; a
    mistake in SPEC (or the policy it declares) is a usage error of CMD."""
    try:
        desc = describe(spec, str(BARLAB_SERIES))
    except SeriesError as e:
        raise UsageError(cmd, "--kernel-patches: %s" % e) from None
    if desc["policy"]:
        from .core import check_policy   # pylint: disable=import-outside-toplevel
        check_policy(cmd, desc["policy"], "barlab-policy in %s/series" % parse_spec(spec)[1])
    return desc


def of(series):
    """SERIES (None: barlab's own, a --kernel-patches spec, or a
    description) as a description, or None for barlab's own."""
    if series is None or isinstance(series, dict):
        return series
    try:
        return describe(series, str(BARLAB_SERIES))
    except SeriesError as e:
        raise Fatal("--kernel-patches: %s" % e) from None


def label(series=None):
    """The series that builds the kernel, for messages."""
    desc = of(series)
    if not desc:
        return "kernel-patches/"
    return "the series %s (%s of barlab's, sha256 %s)" % (
        desc["name"], desc["mode"].replace("-", " ", 1), desc["sha256"][:12])


def as_json(series=None):
    """The series as report.json names it."""
    desc = of(series) or describe(str(BARLAB_SERIES), str(BARLAB_SERIES))
    return json.dumps(desc)


def check_policy(cmd, series, policy):
    """POLICY, unless the kernel cannot run it (a series without the
    run-time knob runs the one it declares): a usage error of CMD."""
    desc = of(series)
    if desc and desc["policy"] and policy != desc["policy"]:
        raise UsageError(cmd, "policy %s is not available with the kernel series %s (no "
                         "run-time policy; its fixed behaviour is %s)"
                         % (policy, desc["name"], desc["policy"]))
    return policy


def main():
    ap = argparse.ArgumentParser(prog="python3 -m barlab.kernelseries",
                                 description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("describe")
    d.add_argument("spec")
    d.add_argument("--barlab")
    p = sub.add_parser("apply")
    p.add_argument("tree")
    p.add_argument("patches", nargs="+")
    a = ap.parse_args()
    if a.cmd == "describe":
        try:
            print(json.dumps(describe(a.spec, a.barlab)))
        except SeriesError as e:
            print(e, file=sys.stderr)
            return 2
        return 0
    err = apply(a.tree, a.patches)
    if err:
        print("\n".join(err))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
