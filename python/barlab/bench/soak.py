# SPDX-License-Identifier: GPL-2.0-or-later
"""Soak: the quick matrix many times in a row, then the fullstack suite,
each run bounded by a timeout.  Reports hangs (a run stopped by its
timeout), failed runs (non-zero exit) and differing results (a quick
matrix whose cells' observed outcomes differ from the first run's).  The
goal is 0, 0 and 0: a test bed whose verdicts flake is no judge."""

import difflib
import json
import os
import shutil
import tempfile

from ..common import UsageError
from .runs import Failed, barlab, scratch, tail, timed

NAME = "soak"
OPTIONS = {"--matrix": ("matrix", "a count"), "--fullstack": ("fullstack", "a count"),
           "--timeout": ("timeout", "seconds"), "--keep": ("keep", "a directory")}


def parse(args, cmd="bench"):
    opts = {"matrix": 100, "fullstack": 10, "timeout": 300, "keep": None}
    i = 0
    while i < len(args):
        opt = args[i]
        if opt not in OPTIONS:
            raise UsageError(cmd, "soak: unknown argument '%s'" % opt)
        key, needs = OPTIONS[opt]
        if i + 1 >= len(args):
            raise UsageError(cmd, "soak: %s needs %s" % (opt, needs))
        value = args[i + 1]
        if key != "keep":
            if not value.isdigit():
                raise UsageError(cmd, "soak: %s takes a whole number, not '%s'" % (opt, value))
            value = int(value)
        opts[key] = value
        i += 2
    return opts


def outcomes(report):
    """(outcomes, detail) of a quick matrix's report.json: one line per
    cell, what was observed (not how long it took), for comparing runs.
    What the port's seed decides is compared: whether the cell is as
    predicted, its status, and the checker's finding (found or clean,
    which rules).  How often a rule fired in the 16 trials and how a
    gathered burst was split are timing: an asynchronous exit to L1
    between two stores is a barrier on the PE, which may drain a burst or
    end a reordering window early, as it would on hardware.  Those go to
    DETAIL and are counted as permitted variations, not differences."""
    with open(report) as f:
        r = json.load(f)
    seen, detail = [], []
    for c in r["cells"]:
        k = c["cell"]
        key = [k["cpu"], k["policy"], k.get("bar"), k["s1"], k["pattern"], k["touch"]]
        obs = c.get("observed", {})
        v = c.get("verdict") or {}
        seen.append(json.dumps(key + [c.get("match"), obs.get("status"), v.get("state"),
                                      v.get("seen")], sort_keys=True))
        detail.append(json.dumps(key + [c.get("observed_text"), v.get("hits"),
                                        v.get("trials")], sort_keys=True))
    return seen, detail


def diff_lines(a, b):
    """diff(1)'s normal output of A against B, lines without newlines."""
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        rng = lambda lo, hi: "%d" % hi if hi - lo <= 1 else "%d,%d" % (lo + 1, hi)
        left = rng(i1, i2) if i2 > i1 else "%d" % i1
        right = rng(j1, j2) if j2 > j1 else "%d" % j1
        out.append("%s%s%s" % (left, {"replace": "c", "delete": "d", "insert": "a"}[tag], right))
        out += ["< " + x for x in a[i1:i2]]
        if tag == "replace":
            out.append("---")
        out += ["> " + x for x in b[j1:j2]]
    return out


def run(opts):
    """The soak; its exit status (1 if any run hung, failed or differed)."""
    limit = opts["timeout"]
    if barlab("build", "initramfs") != 0:
        raise Failed(NAME, "the builds failed: run 'scripts/barlab build initramfs'", status=2)
    print("soak: %d quick matrix runs, %d fullstack suite runs, %d s a run, load %s at the start"
          % (opts["matrix"], opts["fullstack"], limit, open("/proc/loadavg").read().split()[0]),
          flush=True)
    keep = opts["keep"]
    if keep:
        os.makedirs(keep, exist_ok=True)
        keep = tempfile.mkdtemp(prefix="soak-", dir=keep)
    with scratch(keep) as tmp:
        m = soak_matrix(tmp, opts["matrix"], limit, bool(keep))
        f = soak_fullstack(tmp, opts["fullstack"], limit)
    load = open("/proc/loadavg").read().split()[0]
    print("soak results (load %s at the end):" % load)
    if opts["matrix"]:
        print("  quick matrix    %4d runs, %.1f s a run: %d hung, %d failed, %d differing "
              "(%d with permitted timing variation)"
              % (opts["matrix"], m["total"] / opts["matrix"], m["hung"], m["failed"],
                 m["differing"], m["varied"]))
    if opts["fullstack"]:
        print("  fullstack suite %4d runs, %.1f s a run: %d hung, %d failed"
              % (opts["fullstack"], f["total"] / opts["fullstack"], f["hung"], f["failed"]))
    bad = m["hung"] + m["failed"] + m["differing"] + f["hung"] + f["failed"]
    return 1 if bad else 0


def soak_matrix(tmp, runs, limit, keep):
    n = {"hung": 0, "failed": 0, "differing": 0, "varied": 0, "total": 0.0}
    first = None
    for i in range(1, runs + 1):
        out = os.path.join(tmp, "matrix-%d" % i)
        log = os.path.join(tmp, "matrix-%d.log" % i)
        secs, rc = timed(barlab, "matrix", "--quick", "--out", out, log=log, timeout=limit)
        n["total"] += round(secs, 1)
        if rc == 124:
            n["hung"] += 1
            print("  matrix run %d: hung (stopped after %d s)" % (i, limit), flush=True)
            continue
        if rc != 0:
            n["failed"] += 1
            print("  matrix run %d: exit %d (see %s)" % (i, rc, log), flush=True)
        report = os.path.join(out, "report.json")
        if not os.path.isfile(report):
            print("  matrix run %d: no report" % i, flush=True)
            continue
        seen, detail = outcomes(report)
        if first is None:
            first = (seen, detail)
        elif seen != first[0]:
            n["differing"] += 1
            print("  matrix run %d: differs from the first run:" % i)
            for line in diff_lines(first[0], seen)[:6]:
                print("    " + line)
        elif detail != first[1]:
            n["varied"] += 1
            cells = sum(1 for line in diff_lines(first[1], detail) if line.startswith(">"))
            print("  matrix run %d: same outcomes, timing varied in %d cells (hit counts or "
                  "burst splits)" % (i, cells))
        if keep:
            with open(os.path.join(out, "outcomes"), "w") as f:
                f.write("".join(line + "\n" for line in seen))
            with open(report + ".detail", "w") as f:
                f.write("".join(line + "\n" for line in detail))
        else:
            shutil.rmtree(out, ignore_errors=True)
    return n


def soak_fullstack(tmp, runs, limit):
    n = {"hung": 0, "failed": 0, "total": 0.0}
    for i in range(1, runs + 1):
        log = os.path.join(tmp, "fullstack-%d.log" % i)
        secs, rc = timed(barlab, "check", "fullstack", log=log, timeout=limit)
        n["total"] += round(secs, 1)
        last = tail(log, 3)
        if rc == 124:
            n["hung"] += 1
            print("  fullstack run %d: hung (stopped after %d s)" % (i, limit), flush=True)
        elif rc != 0 or " 0 failed" not in last:
            n["failed"] += 1
            print("  fullstack run %d: failed (exit %d, see %s)" % (i, rc, log))
            for line in last.splitlines():
                print("    " + line, flush=True)
    return n
