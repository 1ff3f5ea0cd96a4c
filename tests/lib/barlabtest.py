# SPDX-License-Identifier: GPL-2.0-or-later
"""The base of barlab's Python tests, in the manner of QEMU's
tests/functional: a test class per scenario, assertions that say what
went wrong, TAP on stdout for meson (`protocol: 'tap'`).

    class MatrixTest(barlabtest.BarlabTest):
        def test_quick(self):
            r = self.barlab("matrix", "--quick", "--out", self.scratch("m"))
            with self.check("matrix-quick-exit"):
                self.assertStatus(r, 0)

    if __name__ == "__main__":
        barlabtest.main()

Each check() is one TAP line (a unittest subtest), so a scenario with
many checks reports each of them; a test method without checks is one
line.  Skips are TAP's '# SKIP'."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

BARLAB = ROOT / "scripts" / "barlab"


class Result:
    """What a command did: STATUS, OUT and ERR (text), ARGV."""

    def __init__(self, argv, status, out, err):
        self.argv, self.status, self.out, self.err = argv, status, out, err

    def tail(self, n=12):
        lines = ["    out: " + x for x in self.out.splitlines()[-n:]]
        lines += ["    err: " + x for x in self.err.splitlines()[-n:]]
        return "\n".join(lines)


class BarlabTest(unittest.TestCase):
    """Runs commands with a timeout, keeps scratch files per test class."""

    # Seconds one command may run; BARLAB_TEST_TIMEOUT overrides it for
    # the cli suite's short commands.
    timeout = 600
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls._scratch = Path(tempfile.mkdtemp(prefix="barlab-test-"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls._scratch, ignore_errors=True)

    def scratch(self, *parts):
        """A path below this class's scratch directory (not created)."""
        return self._scratch.joinpath(*parts)

    def run_cmd(self, argv, timeout=None, env=None, cwd=None, stdin=None):
        """Run ARGV; a command that outlives TIMEOUT is killed and gets
        status 124 and a line on its stderr, so a hang fails one check."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        argv = [str(a) for a in argv]
        limit = timeout or self.timeout
        try:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  input=stdin, env=full_env, cwd=cwd,
                                  timeout=limit, check=False,
                                  start_new_session=True)
            return Result(argv, proc.returncode, proc.stdout.decode(errors="replace"),
                          proc.stderr.decode(errors="replace"))
        except subprocess.TimeoutExpired as e:
            return Result(argv, 124, (e.stdout or b"").decode(errors="replace"),
                          (e.stderr or b"").decode(errors="replace")
                          + "\ntest: stopped after %d s: %s\n" % (limit, " ".join(argv)))

    def barlab(self, *args, **kw):
        """scripts/barlab ARGS."""
        return self.run_cmd([str(BARLAB)] + [str(a) for a in args], **kw)

    def check(self, name):
        """One named check: its assertions are one TAP line."""
        return self.subTest(name)

    def assertStatus(self, result, want):
        if result.status != want:
            self.fail("%s: exit %d, wanted %d\n%s" % (" ".join(result.argv[-4:]),
                                                      result.status, want, result.tail()))

    def assertOutput(self, result, *patterns, stream="out"):
        """Each ERE-like PATTERN (Python re) matches a line of the output."""
        text = getattr(result, stream)
        for pat in patterns:
            if not re.search(pat, text, re.M):
                self.fail("no '%s' in the %s\n%s" % (pat, "output" if stream == "out"
                                                     else "errors", result.tail()))

    def assertError(self, result, pattern):
        """A failure: non-zero, nothing on stdout, 'barlab: error: ...PATTERN'."""
        if result.status == 0:
            self.fail("exit 0 on bad input\n%s" % result.tail())
        if result.out:
            self.fail("wrote to stdout on error\n%s" % result.tail())
        if not re.search("^barlab: error: .*" + pattern, result.err, re.M):
            self.fail("message lacks '%s'\n%s" % (pattern, result.tail()))

    def assertUsage(self, result, cmd, pattern):
        """A usage mistake of CMD: exit 2, nothing on stdout, exactly the two
        lines 'barlab: error: ...PATTERN...' and "see 'barlab CMD --help'"."""
        see = "see 'barlab %s--help'" % (cmd + " " if cmd else "")
        lines = result.err.splitlines()
        if result.status != 2:
            self.fail("exit %d, wanted 2\n%s" % (result.status, result.tail()))
        if result.out:
            self.fail("wrote to stdout on a usage mistake\n%s" % result.tail())
        if len(lines) != 2:
            self.fail("not two lines on stderr\n%s" % result.tail())
        if not re.search("^barlab: error: .*" + pattern, lines[0]):
            self.fail("message lacks '%s'\n%s" % (pattern, result.tail()))
        if lines[1] != see:
            self.fail('no "%s"\n%s' % (see, result.tail()))

    def assertFileLines(self, path, *patterns):
        try:
            text = Path(path).read_text(errors="replace")
        except OSError as e:
            self.fail("cannot read %s: %s" % (path, e))
        for pat in patterns:
            if not re.search(pat, text, re.M):
                self.fail("no line matching '%s' in %s:\n%s" % (pat, path, text[-2000:]))


class TapResult(unittest.TestResult):
    """TAP version 13: 'ok N - name' for each test and each subtest."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.n = 0
        self.failed_count = 0
        self._had_sub = set()

    def _line(self, ok, name, why=None, directive=""):
        self.n += 1
        self.stream.write("%s %d - %s%s\n" % ("ok" if ok else "not ok", self.n, name,
                                              directive))
        if why:
            for line in why.rstrip("\n").splitlines():
                self.stream.write("# %s\n" % line)
        if not ok:
            self.failed_count += 1
        self.stream.flush()

    @staticmethod
    def _name(test):
        method = getattr(test, "_testMethodName", None)
        if method is None:          # setUpClass or a module fixture failed
            return str(test)
        return "%s.%s" % (type(test).__name__, method)

    def _why(self, err):
        exc = err[1]
        if isinstance(exc, AssertionError):
            return str(exc)
        return "".join(traceback.format_exception(*err))

    def _check_name(self, test, subtest):
        """The name a check (a subtest of TEST) was given."""
        self._had_sub.add(test.id())
        name = subtest._subDescription().strip("[]() ")
        return name.replace("<subtest>", "").strip() or self._name(test)

    def addSubTest(self, test, subtest, err):
        name = self._check_name(test, subtest)
        self._line(err is None, name, None if err is None else self._why(err))

    def addSuccess(self, test):
        if test.id() not in self._had_sub:
            self._line(True, self._name(test))

    def addFailure(self, test, err):
        self._line(False, self._name(test), self._why(err))

    def addError(self, test, err):
        self._line(False, self._name(test), self._why(err))

    def addSkip(self, test, reason):
        if isinstance(test, unittest.case._SubTest):   # a check that skipped itself
            name = self._check_name(test.test_case, test)
        else:
            name = self._name(test)
        self._line(True, name, directive=" # SKIP %s" % reason)

    def addExpectedFailure(self, test, err):
        self._line(True, self._name(test), directive=" # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        self._line(False, self._name(test), "unexpected success")


def main():
    """Run the calling module's tests; TAP on stdout; exit 1 on a failure."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
    if len(sys.argv) > 1:      # test names to run, as unittest takes them
        suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:],
                                                              sys.modules["__main__"])
    sys.stdout.write("TAP version 13\n")
    result = TapResult(sys.stdout)
    suite.run(result)
    sys.stdout.write("1..%d\n" % result.n)
    sys.exit(1 if result.failed_count else 0)
