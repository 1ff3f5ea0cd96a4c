# SPDX-License-Identifier: GPL-2.0-or-later
"""What the device and L1 tests (tests/e2e/test_qemu_*, test_nic_*,
test_l1_*) share on top of barlabtest: the built QEMU, payloads and
barlab-mt from the barlab package, the device traces as records, and L1
boots through `scripts/barlab boot`.

    class GatherTest(devtest.DeviceTest):
        def test_gather(self):
            r = self.run_cmd([self.qemu] + machine.virt(...) + [...])
            txns = self.trace(self.scratch("t.bltrace"))
            with self.check("normal-nc-burst-gathered"):
                self.assertShape(txns, 0x000, 0x100, "64x8")
"""

import json
import re
import sys

import barlabtest
from barlab import core, payloads, qemu


class NotBuilt(Exception):
    """What the test runs is not built (the check builds it first): the
    test class fails with this message rather than being skipped."""


def note(text):
    """TEXT as TAP comments (what the old tests printed for people)."""
    for line in str(text).splitlines() or [""]:
        sys.stdout.write("# %s\n" % line)
    sys.stdout.flush()


def txns(records):
    """The transactions among a trace's records."""
    return [r for r in records if r.get("type") == "txn"]


def shape(records, lo, hi):
    """"SIZExACCESSES ..." of the transactions at [LO, HI)."""
    return " ".join("%dx%d" % (r["size"], r["n"]) for r in txns(records)
                    if lo <= r["addr"] < hi)


def repeat(n, word):
    """WORD N times, space-separated (a trace shape of N alike)."""
    return " ".join([word] * n)


class DeviceTest(barlabtest.BarlabTest):
    """A test of barlab's QEMU and devices: self.qemu (the built
    qemu-system-aarch64), self.mt (barlab-mt), self.payload(NAME)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        binary = qemu.binary()
        if binary is None:
            raise NotBuilt("QEMU is not built: run 'scripts/barlab build qemu'")
        cls.qemu = binary
        cls.mt = core.mt_path()
        if not cls.mt.is_file():
            raise NotBuilt("barlab-mt is not built: run 'scripts/barlab build'")

    @staticmethod
    def payload(name):
        return payloads.path(name)

    def trace(self, path, strict=True):
        """The records of the device trace PATH (`barlab-mt trace --json`).
        One that cannot be read fails the current check, or without
        STRICT is None."""
        r = self.run_cmd([self.mt, "trace", path, "--json"])
        if r.status != 0:
            if not strict:
                return None
            self.fail("cannot read the trace %s:\n%s" % (path, r.tail()))
        return [json.loads(line) for line in r.out.splitlines() if line.strip()]

    def assertShape(self, records, lo, hi, want):
        got = shape(records, lo, hi)
        if got != want:
            self.fail("wrong transactions at %#x: got '%s', wanted '%s'" % (lo, got, want))


class L1Test(DeviceTest):
    """A test that boots barlab's L1 host (`scripts/barlab boot`) and runs
    a shell script in it; each run's directory (console.log, traces,
    screendumps) is scratch(NAME)."""

    # A boot's own --timeout is the limit; this only stops a hung barlab.
    timeout = 1800

    def l1(self, name, script, *options):
        """Boot L1 and run the shell text SCRIPT in it (as /run.sh, after
        /lib/barlab/l1.sh); OPTIONS are more `barlab boot` options."""
        path = self.scratch(name + ".sh")
        path.write_text(". /lib/barlab/l1.sh\n%s\n" % script)
        return self.barlab("boot", "--out", self.scratch(name), "--run", path, *options)

    def console(self, name):
        """The console of run NAME, without carriage returns."""
        try:
            return (self.scratch(name, "console.log").read_text(errors="replace")
                    .replace("\r", ""))
        except OSError:
            return ""

    def checkSteps(self, name, ran, result, steps, step_re, not_ran):
        """The check that L1 ran run NAME's script (RAN; NOT_RAN says what
        went wrong, with RESULT's exit and tail), then one check per STEP:
        a console line matching STEP_RE % STEP.  False if it did not run."""
        with self.check("l1-boot"):
            if not ran:
                self.fail("%s (exit %d)\n%s" % (not_ran, result.status, result.tail()))
        if not ran:
            return False
        for step in steps:
            with self.check(step):
                self.assertConsole(name, step_re % step)
        return True

    def assertConsole(self, name, *patterns):
        """Run NAME's console has a line matching each PATTERN."""
        text = self.console(name)
        for pat in patterns:
            if not re.search(pat, text, re.M):
                self.fail("no line matching '%s' on the L1 console:\n%s"
                          % (pat, "\n".join(text.splitlines()[-12:])))
