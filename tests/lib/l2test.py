# SPDX-License-Identifier: GPL-2.0-or-later
"""What the matrix and full-stack tests (tests/e2e/test_l2_*.py,
tests/e2e/test_fullstack_*.py) share beyond barlabtest: an L1 boot that
runs a shell script, its console, barlab-mt, the report-directory checks
(a digest of a tree, a run interrupted once it got far enough, the
processes it leaves) and the shape of a device trace."""

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import barlabtest


def mt_path():
    """barlab-mt: $BARLAB_MT, or the one `barlab build` made."""
    if os.environ.get("BARLAB_MT"):
        return Path(os.environ["BARLAB_MT"])
    from barlab import core
    return core.mt_path()


def mt(*args):
    """barlab-mt's stdout for ARGS; a failure raises."""
    return subprocess.run([str(mt_path())] + [str(a) for a in args], stdout=subprocess.PIPE,
                          text=True, check=True).stdout


def tree_sums(top):
    """A digest per file below TOP, to tell whether anything in it changed."""
    top = Path(top)
    sums = {}
    for path in sorted(top.rglob("*")):
        if path.is_file():
            sums[str(path.relative_to(top))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def processes_of(pattern):
    """The ids of the processes whose command line contains PATTERN."""
    proc = subprocess.run(["pgrep", "-f", str(pattern)], stdout=subprocess.PIPE, text=True,
                          check=False)
    return [int(p) for p in proc.stdout.split()]


def end_processes(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def interrupt_when(proc, cond, limit=300):
    """Wait until COND() holds (the run under test got that far; at most
    LIMIT s) or PROC ended, give it two seconds more, SIGTERM it; its exit
    status as a shell reports it (128 + the signal when it was killed)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if cond():
                break
        except OSError:
            pass
        time.sleep(0.5)
    time.sleep(2)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    status = proc.wait()
    time.sleep(1)
    return 128 - status if status < 0 else status


def trace_shape(json_path, lo, hi):
    """"SIZExACCESSES ..." of the transactions at [LO, HI) in a trace
    dumped with `barlab-mt trace FILE --json`."""
    recs = [json.loads(line) for line in open(json_path)]
    return " ".join("%dx%d" % (r["size"], r["n"]) for r in recs
                    if r.get("type") == "txn" and lo <= r["addr"] < hi)


class L2Test(barlabtest.BarlabTest):
    """A BarlabTest whose commands boot L1: no command of its own is cut
    short before an hour (the boots set their own timeouts)."""

    timeout = 3600

    def boot_l1(self, name, text, *args):
        """Boot L1 and run the shell text TEXT in it (as /run.sh, with
        /lib/barlab/l1.sh sourced first); the run's directory is
        scratch(NAME) (console.log, traces, screendumps)."""
        script = self.scratch(name + ".sh")
        script.write_text(". /lib/barlab/l1.sh\n%s\n" % text)
        return self.barlab("boot", "--out", self.scratch(name), "--run", script, *args)

    def console(self, name):
        """The console of boot NAME, without carriage returns."""
        path = self.scratch(name, "console.log")
        try:
            return path.read_text(errors="replace").replace("\r", "")
        except OSError:
            return ""

    @staticmethod
    def run_text(console, run):
        """The lines of run RUN on a console ("RUN: " stripped)."""
        prefix = run + ": "
        return "\n".join(line[len(prefix):] for line in console.splitlines()
                         if line.startswith(prefix))

    def assertRun(self, console, run, code, *patterns):
        """Run RUN exited CODE and printed a line matching each pattern."""
        text = self.run_text(console, run)
        for pat in ["^exit %d$" % code] + list(patterns):
            if not re.search(pat, text, re.M):
                self.fail("no '%s' in the output of run %s:\n%s" % (pat, run, text[-2000:]))

    def assertText(self, text, *patterns, what="the output"):
        for pat in patterns:
            if not re.search(pat, text, re.M):
                self.fail("no line matching '%s' in %s:\n%s" % (pat, what, text[-2000:]))

    def assertNoLine(self, text, pattern, what="the output"):
        hits = [line for line in text.splitlines() if re.search(pattern, line)]
        if hits:
            self.fail("a line of %s matches '%s':\n%s" % (what, pattern, "\n".join(hits[:12])))

    def assertNoFileLine(self, path, pattern):
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            return
        self.assertNoLine(text, pattern, what=str(path))

    def assertError(self, result, pattern):
        """Non-zero, nothing on stdout, "barlab: error: ...PATTERN"."""
        if result.status == 0:
            self.fail("exit 0 on bad input\n" + result.tail())
        if result.out:
            self.fail("wrote to stdout on error\n" + result.tail())
        if not re.search("^barlab: error: .*" + pattern, result.err, re.M):
            self.fail("message lacks '%s'\n%s" % (pattern, result.tail()))

    def start(self, name, *args):
        """scripts/barlab ARGS in the background, its output in
        scratch(NAME.out) and scratch(NAME.err)."""
        out = open(self.scratch(name + ".out"), "wb")
        err = open(self.scratch(name + ".err"), "wb")
        with out, err:
            return subprocess.Popen([str(barlabtest.BARLAB)] + [str(a) for a in args],
                                    stdout=out, stderr=err)

    def assertInterruptedKeeps(self, status, report, before, staging):
        """A run killed by SIGTERM left REPORT as BEFORE (tree_sums), its
        STAGING directory gone and no process of it running."""
        left = processes_of(staging)
        end_processes(left)
        why = []
        if status != 143:
            why.append("exit %d" % status)
        if tree_sums(report) != before:
            why.append("the report changed")
        if Path(staging).exists():
            why.append("the staging directory is left")
        if left:
            why.append("processes of the run are left: %s" % left)
        if why:
            self.fail(", ".join(why))


def patterns(*targets):
    """barlab-mt's patterns on TARGETS (bar, push, rc), in its order."""
    return [f[0] for f in (line.split() for line in mt("patterns").splitlines())
            if len(f) > 1 and f[1] in targets]


def stage2_types(policies, cpu="max"):
    """{policy: {"DEVICE-barN": stage-2 type}} for the BARs the full stack
    passes through, as the oracle predicts KVM maps them (barlab-mt oracle:
    the stage-2 attribute of a prefetchable and a non-prefetchable BAR
    under each policy and the device and BAR a cell lands on; barlab-mt
    explain: the attribute's name)."""
    bar, push = patterns("bar")[0], patterns("push")[0]
    scn = ("cpu={cpu} bar=pref policy={p} s1=normal-NC pattern={bar},{push} touch=first\n"
           "cpu={cpu} bar=nonpref policy={p} s1=normal-NC pattern={bar} touch=first\n").format(
               cpu=cpu, p=",".join(policies), bar=bar, push=push)
    cells = [json.loads(line) for line in subprocess.run(
        [str(mt_path()), "oracle", "/dev/stdin", "--json"], input=scn, stdout=subprocess.PIPE,
        text=True, check=True).stdout.splitlines()]
    names, types = {}, {}
    for c in cells:
        if c["s2"] not in names:
            names[c["s2"]] = json.loads(mt("explain", c["s1"], c["s2"], "--json"))["s2_type"]
        types.setdefault(c["policy"], {})["%s-bar%d" % (c["device"], c["device_bar"])] = \
            names[c["s2"]]
    return types
