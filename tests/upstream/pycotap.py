# SPDX-License-Identifier: GPL-2.0-or-later
"""The part of pycotap's interface that QEMU's functional tests use.

QEMU's tests/functional/qemu_test runs each test file with
pycotap.TAPTestRunner so that meson reads TAP.  Debian does not package
pycotap, so `barlab check upstream` puts this module into the QEMU build
tree's venv: a unittest runner that prints one TAP line per test (plan
first, "ok N name", "not ok N name", "ok N name # SKIP why"), the tests'
messages and output to stderr.
"""

import enum
import sys
import unittest


class LogMode(enum.Enum):
    LogToError = "error"
    LogToDiagnostics = "diagnostics"
    LogToYAML = "yaml"
    LogToAttachment = "attachment"


class _TAPResult(unittest.TestResult):
    def __init__(self, stream):
        super().__init__(stream, None, 0)
        self.tap = stream
        self.n = 0

    def _line(self, ok, test, note=""):
        self.n += 1
        self.tap.write("%s %d %s%s\n" % ("ok" if ok else "not ok", self.n,
                                         test.id(), note))
        self.tap.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        sys.stderr.write(self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        sys.stderr.write(self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP %s" % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " # unexpected success")


class TAPTestRunner:
    def __init__(self, message_log=LogMode.LogToError,
                 test_output_log=LogMode.LogToError):
        self.message_log = message_log
        self.test_output_log = test_output_log

    def run(self, test):
        sys.stdout.write("1..%d\n" % test.countTestCases())
        result = _TAPResult(sys.stdout)
        test(result)
        return result
