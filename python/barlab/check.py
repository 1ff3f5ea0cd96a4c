# SPDX-License-Identifier: GPL-2.0-or-later
"""`barlab check`: the test suites.  tests/meson.build registers every
test with its suite; check sets up, builds the core and, per suite, what
the suite needs, runs it with `meson test` (one test at a time) and
counts its results from meson's JUnit file (BUILD/core/meson-logs/
testlog-SUITE.junit.xml): each TAP line and each GoogleTest case is one
test.  It prints a line per test, the failures with their diagnostics,
the time per suite and "N passed, N failed[, N skipped]"; it fails if a
test did."""

import json
import os
import re
import subprocess
import time
import xml.etree.ElementTree as ET

from . import core, initramfs, payloads, qemu, setup
from .cli import Command, check_word
from .common import UsageError, logs_dir, msg

# Suites in the order `check` runs them.
SUITES = "unit cli series qemu nic sanitize l1 matrix fullstack".split()
# Suites that run only when named (a CI job of their own).
EXTRA_SUITES = ["upstream"]
# The unit binaries' time limit in tests/unit/meson.build, which
# BARLAB_TEST_TIMEOUT replaces.
UNIT_TIMEOUT = 300


def usage():
    return """usage: scripts/barlab check [SUITE...]
       scripts/barlab check --list
set up, build and run the tests; ends with "N passed, N failed"
  SUITE               run only these suites: %s
                      (default: all; fullstack's quick subset)
                      or %s, only when named: upstream QEMU's
                      qtest-aarch64 and quick functional tests on barlab's QEMU
  --list              list the suites
A unit test binary or a cli test that runs longer than BARLAB_TEST_TIMEOUT
(default 300 s and 60 s) is stopped and counted as one failure; other
tests have their time limits in tests/meson.build.  Each suite is 'meson
test --suite SUITE' in BUILD/core; its JUnit file is
BUILD/core/meson-logs/testlog-SUITE.junit.xml (docs/ci.md).
""" % (", ".join(SUITES), ", ".join(EXTRA_SUITES))


class Totals:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def add(self, p, f, s=0):
        self.passed += p
        self.failed += f
        self.skipped += s


def sanitize_env():
    """The sanitizer builds' options for the core's tests (leaks checked
    too), from where the sanitizer runs define them."""
    return {"ASAN_OPTIONS": qemu.ASAN_CORE_OPTIONS, "UBSAN_OPTIONS": qemu.UBSAN_OPTIONS}


def suite_builds(suite, named):
    """Build what SUITE needs; return (the meson build tree to run it in,
    the environment of its tests)."""
    env = dict(os.environ)
    tree = core.build_path()
    # What was built, for the tests (tests/lib/runtest.py), which would
    # otherwise ask the package again each.
    if suite in ("qemu", "nic"):
        env["BARLAB_CHECK_QEMU"] = str(qemu.build(qtests=True))
        payloads.build()
        env["BARLAB_CHECK_PAYLOADS"] = str(payloads.path("gather").parent)
    elif suite == "sanitize":
        tree = core.build(sanitize=True)
        env["BARLAB_CHECK_QEMU_SANITIZE"] = str(qemu.build(qtests=True, sanitize=True))
        payloads.build()
        env["BARLAB_CHECK_PAYLOADS"] = str(payloads.path("gather").parent)
        env.update(sanitize_env())
    elif suite == "l1":
        initramfs.l1_builds()
        env["BARLAB_CHECK_QEMU"] = str(qemu.binary())
    elif suite == "fullstack" and not named:
        env.update(FULLSTACK_POLICIES="device any", FULLSTACK_INJECT="0")
    return tree, env


# --- meson's results ----------------------------------------------------------

def registered(tree):
    """The tests meson knows in TREE, by name: their suites and protocol."""
    with open(tree / "meson-info" / "intro-tests.json") as f:
        return {t["name"]: t for t in json.load(f)}


def junit_cases(path):
    """JUnit suite name -> [(case name, classname, outcome)], outcome one
    of 'passed', 'failed', 'skipped'."""
    cases = {}
    if not path.is_file():
        return cases
    for suite in ET.parse(path).getroot().iter("testsuite"):
        rows = cases.setdefault(suite.get("name"), [])
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                outcome = "failed"
            elif case.find("skipped") is not None:
                outcome = "skipped"
            else:
                outcome = "passed"
            rows.append((case.get("name"), case.get("classname"), outcome))
    return cases


def json_log(path):
    """meson's log of each test run: name, result, stdout, stderr."""
    runs = []
    if path.is_file():
        with open(path) as f:
            runs = [json.loads(line) for line in f if line.strip()]
    return runs


def short_name(run):
    """The test's own name from meson's 'project:suite / name'."""
    return run["name"].split(" / ", 1)[-1]


def results_of(run, project, gtest, cases):
    """The results of meson's RUN of a test: its GoogleTest cases (JUnit
    suites 'project.RUN.CASE'), its TAP lines (suite 'project.RUN'), or the test itself when it printed none (a crash, a
    time-out)."""
    if gtest:
        prefix = "%s.%s." % (project, run["name"])
        rows = [r for suite, found in cases.items() if suite.startswith(prefix) for r in found]
    else:
        rows = list(cases.get("%s.%s" % (project, run["name"]), []))
    return rows or [r for r in cases.get(project, []) if r[0] == run["name"]]


def indent(lines, n=20):
    return ["    " + line for line in lines[-n:]]


def tap_diagnostics(stdout):
    """The lines of a TAP stream worth showing: the failures with their
    comments, and what is not TAP (a script's notes)."""
    out, in_failure = [], False
    for line in stdout.splitlines():
        if re.match(r"ok \d+", line):
            in_failure = False
        elif line.startswith("not ok"):
            in_failure = True
            out.append("    " + line)
        elif line.startswith("#"):
            if in_failure:
                out.append("    " + line[1:].strip())
        elif not re.match(r"(1\.\.\d+|TAP version)", line) and line.strip():
            out.append(line)
    return out


def report_test(suite, run, info, rows, totals):
    """Print TEST's line (and its failures) and add it to TOTALS."""
    name = short_name(run)
    out = run.get("stdout") or ""
    err = run.get("stderr") or ""
    gtest = info.get("protocol") == "gtest"
    qtest = "qtest" in [s.split(":")[-1] for s in info.get("suite", [])]
    label = "unit" if gtest else "qtest" if qtest else suite
    p = sum(1 for r in rows if r[2] == "passed")
    f = sum(1 for r in rows if r[2] == "failed")
    s = sum(1 for r in rows if r[2] == "skipped")
    plan = re.search(r"^1\.\.(\d+)", out, re.M)
    if gtest:
        stopped = len(rows) == 1 and rows[0][0] == run["name"] and run["result"] != "OK"
    else:
        stopped = not rows or run["result"] not in ("OK", "SKIP") and (
            not plan or int(plan.group(1)) != len(rows) or f == 0)
    if run["result"] == "TIMEOUT" or stopped:
        why = ("did not end within its time limit (tests/meson.build)"
               if run["result"] == "TIMEOUT" else
               "crashed (exit %s) or printed no summary" % run.get("returncode"))
        print("%s: %s %s:" % (label, name, why))
        for line in indent((out + err).splitlines()):
            print(line)
        totals.add(0, 1)
        return
    if gtest:
        print("%s: %-16s %4d passed, %d failed, %d skipped" % (label, name, p, f, s))
        for r in rows:
            if r[2] == "failed":
                print("    [  FAILED  ] %s.%s" % (r[1], r[0]))
    else:
        # A script's failures and notes come before its line, a qtest's after.
        shown = tap_diagnostics(out)
        if shown and not qtest:
            print("\n".join(shown))
        print("%s: %-*s %4d passed, %d failed%s" % (label, 16 if qtest else 17, name, p, f,
                                                     ", %d skipped" % s if s else ""))
        if shown and qtest:
            print("\n".join(shown))
        said = [x for x in err.splitlines()      # without meson's own note
                if x.strip() and not x.startswith("(test program exited")]
        if f and said:
            print("\n".join(indent(["err: " + x for x in said], 12)))
    totals.add(p, f, s)


def run_suite(suite, named, totals):
    tree, env = suite_builds(suite, named)
    run_meson(tree, suite, env, totals)


def run_meson(tree, suite, env, totals):
    """`meson test --suite SUITE` in the build TREE, one test at a time,
    with ENV; print each test's line and add its results to TOTALS."""
    base = "testlog-%s" % suite
    logs = tree / "meson-logs"
    for old in (logs / (base + ".junit.xml"), logs / (base + ".json")):
        old.unlink(missing_ok=True)
    tests = registered(tree)
    for name, info in tests.items():      # a crashed binary's last XML is stale
        if info.get("protocol") == "gtest":
            (tree / ("%s.xml" % name)).unlink(missing_ok=True)
    argv = ["meson", "test", "-C", str(tree), "--suite", suite, "--no-rebuild",
            "--num-processes", "1", "--logbase", base]
    limit = env.get("BARLAB_TEST_TIMEOUT")
    if suite == "unit" and limit and limit.isdigit():
        argv += ["--timeout-multiplier", "%g" % (int(limit) / UNIT_TIMEOUT)]
    logs_dir().mkdir(parents=True, exist_ok=True)
    log = logs_dir() / ("check-%s.log" % suite)
    with open(log, "w") as f:
        rc = subprocess.call(argv, stdout=f, stderr=subprocess.STDOUT, env=env,
                             stdin=subprocess.DEVNULL)
    runs = json_log(logs / (base + ".json"))
    if not runs and rc != 0:
        print("%s: meson test failed (exit %d); log %s:" % (suite, rc, log))
        print("\n".join(indent(log.read_text(errors="replace").splitlines())))
        totals.add(0, 1)
        return
    cases = junit_cases(logs / (base + ".junit.xml"))
    for run in runs:
        info = tests.get(short_name(run), {})
        project = (info.get("suite") or ["barlab:"])[0].split(":", 1)[0]
        rows = results_of(run, project, info.get("protocol") == "gtest", cases)
        report_test(suite, run, info, rows, totals)


def run_upstream(totals):
    """Upstream QEMU's own suites on barlab's QEMU, run in its build tree."""
    from . import upstream   # pylint: disable=import-outside-toplevel
    totals.add(*upstream.run())


def run(args):
    if args and args[0] == "--list":
        if len(args) != 1:
            raise UsageError("check", "--list takes no suites")
        for s in SUITES:
            print(s)
        for s in EXTRA_SUITES:
            print("%s (only when named)" % s)
        return 0
    for a in args:
        check_word("check", "suite", a, SUITES + EXTRA_SUITES)
    suites = list(args) or SUITES
    named = bool(args)
    setup.run()
    core.build()
    totals = Totals()
    times = []
    for suite in suites:
        t0 = time.monotonic()
        if suite == "upstream":
            run_upstream(totals)
        else:
            run_suite(suite, named, totals)
        times.append("%s %ds" % (suite, time.monotonic() - t0))
    msg("check: time per suite (builds included): %s" % " ".join(times))
    print("%d passed, %d failed%s" % (totals.passed, totals.failed,
                                      ", %d skipped" % totals.skipped if totals.skipped
                                      else ""))
    return 1 if totals.failed else 0


COMMANDS = [Command("check", usage, run)]
