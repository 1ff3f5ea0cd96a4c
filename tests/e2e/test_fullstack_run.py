#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A user's program and module in the L2 Linux (`barlab fullstack --run
PROG --module FILE.ko`, docs/fullstack.md): the example blitter
(target-tests/fullstack/examples/blit.c, built by `barlab build
examples`, dynamic: glibc goes with it) copies odd sizes with glibc
memcpy and memset into barlab-gpu's VRAM through resource2_wc, after L2
loaded the example module built by `barlab build module`.  On -cpu max:
  device   stage 2 Device-nGnRE: glibc's first unaligned store kills the
           VM (KVM_RUN fails on the stage-2 alignment fault); with
           --inject-align it is a SIGBUS in L2 instead;
  any      stage 2 Normal-NC: blit completes, every copy reads back, the
           GPU's port gathered writes and its checker saw no rule broken.
A program that never ends is killed at --run-timeout and reported as
such.  Refused before anything runs, with one line and nothing written to
--out: an x86-64 program, a missing file, a file that is not executable,
a module whose vermagic is not barlab's kernel's, --module without --run.

FULLSTACK_INJECT=0 (the quick check) leaves out the --inject-align run."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import l2test  # noqa: E402

INJECT = os.environ.get("FULLSTACK_INJECT", "1") == "1"


def vermagic(path):
    return subprocess.run(["modinfo", "-F", "vermagic", str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True, check=False).stdout.strip()


def restamp(ko, out):
    """The same module, stamped for a kernel one minor release on."""
    data = Path(ko).read_bytes()
    at = data.index(b"vermagic=") + len(b"vermagic=")
    major, rest = data[at:].split(b".", 1)
    minor = rest.split(b".", 1)[0]
    new = b"%s.%d" % (major, int(minor) + 1)
    old = major + b"." + minor
    assert len(new) == len(old), "the release's length must not change"
    Path(out).write_bytes(data[:at] + new + data[at + len(old):])


def last_match(text, pattern):
    found = [line for line in text.splitlines() if re.search(pattern, line)]
    return found[-1] if found else ""


class FullstackRunTest(l2test.L2Test):

    def refused(self, name, pattern, *options):
        """Refused with one line, nothing built or written."""
        r = self.barlab("fullstack", "--policy", "any", "--out", self.scratch(name), *options)
        with self.check(name):
            self.assertError(r, pattern)
        with self.check(name + "-nothing-written"):
            self.assertFalse(self.scratch(name).exists() or
                             self.scratch("." + name + ".barlab-run").exists(),
                             "%s or its staging directory exists" % self.scratch(name))

    def test_run(self):
        r = self.barlab("build", "examples")
        blit = last_match(r.out, "/blit$")
        with self.check("build-examples"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "/blit$")
        r = self.barlab("build", "module",
                        barlabtest.ROOT / "target-tests/fullstack/examples/hello-module")
        ko = last_match(r.out, r"/hello_barlab\.ko$")
        with self.check("build-module"):
            self.assertStatus(r, 0)
            self.assertOutput(r, r"/hello_barlab\.ko$")
        with self.check("build-module-vermagic"):
            initramfs = self.barlab("path", "initramfs").out.strip()
            nic = Path(initramfs).parent / "rootfs/lib/modules/barlab/barlab_nic.ko"
            self.assertEqual(vermagic(ko), vermagic(nic))
            self.assertTrue(vermagic(ko), "no vermagic in %s" % ko)
        r = self.barlab("build", "module", self.scratch("no-such-dir"))
        with self.check("build-module-refuses-missing-dir"):
            self.assertError(r, "no such directory")

        # Refusals: one line, nothing built or written.
        self.refused("run-refuses-x86-64", "is a program for x86-64, not for aarch64",
                     "--run", "/bin/true")
        self.refused("run-refuses-missing-file", "no-such-prog: no such file",
                     "--run", self.scratch("no-such-prog"))
        noexec = self.scratch("blit-noexec")
        if blit:
            shutil.copy(blit, noexec)
            noexec.chmod(0o644)
        self.refused("run-refuses-not-executable", "is not executable", "--run", noexec)
        wrong = self.scratch("wrong_vermagic.ko")
        if ko:
            restamp(ko, wrong)
        self.refused("run-refuses-wrong-vermagic", "built for another kernel: vermagic",
                     "--run", blit, "--module", wrong)
        self.refused("run-refuses-module-without-run", "need --run PROG", "--module", ko)

        # device and any in one call, the module loaded before blit in each.
        d = self.scratch("fs")
        r = self.barlab("fullstack", "--policy", "device", "--policy", "any", "--cpu", "max",
                        "--out", d, "--run", blit, "--module", ko, "--", "--rounds", "2")
        with self.check("run-report"):
            self.assertStatus(r, 0)
            self.assertOutput(r, r"^policy +program +module +txns +gathered +violations +trace",
                              r"^device +vm-death +hello_barlab ",
                              r"^any +exit 0 +hello_barlab +[0-9]+ +[1-9][0-9]* +0 ")
        with self.check("run-files-for-l2"):
            self.assertFileLines(d / "any" / "user.log", r"^\./lib/libc\.so\.6$",
                                 r"^\./opt/barlab/run/bin/blit$",
                                 r"^\./opt/barlab/run/modules/hello_barlab\.ko$")
        with self.check("run-device-vm-death"):
            self.assertFileLines(d / "device" / "results",
                                 r"^run vm-death .*l1-kvm=EC=0x24_xFSC=0x21",
                                 r"^gpu ok txns=[0-9]+ gathered=0 violations=0$")
        with self.check("run-device-console-tail"):
            self.assertFileLines(d / "device" / "run-console.txt", r"^blit: gpu id 0x",
                                 r"^error: kvm run failed")
        with self.check("run-device-not-finished"):
            self.assertNoFileLine(d / "device" / "run-console.txt", "all copies read back right")
        with self.check("run-any-completes"):
            self.assertFileLines(d / "any" / "results", r"^run exit status=0 modules=hello_barlab ",
                                 r"^gpu ok txns=[0-9]+ gathered=[1-9][0-9]* violations=0$")
        with self.check("run-any-console-tail"):
            self.assertFileLines(d / "any" / "run-console.txt", r"^blit: memset 4093 bytes: done$",
                                 r"^blit: all copies read back right$")
        with self.check("run-args-two-rounds"):
            try:
                text = (d / "any" / "run-console.txt").read_text(errors="replace")
            except OSError:
                text = ""
            self.assertEqual(len(re.findall(r"^blit: memset 4093 bytes: done$", text, re.M)), 2)

        if INJECT:
            r = self.barlab("fullstack", "--policy", "device", "--cpu", "max", "--inject-align",
                            "--out", self.scratch("inject"), "--run", blit)
            with self.check("run-inject-sigbus"):
                self.assertStatus(r, 0)
                self.assertOutput(r, r"^device +SIGBUS ")
            with self.check("run-inject-fault"):
                self.assertFileLines(self.scratch("inject", "device", "results"),
                                     r"^run signal signal=BUS fault=")

        # A program that never ends: killed at --run-timeout, reported,
        # exit 1.
        self.scratch("spin.c").write_text("int main(void) { for (;;) ; }\n")
        self.run_cmd(["aarch64-linux-gnu-gcc", "-static", "-O0", "-o", self.scratch("spin"),
                      self.scratch("spin.c")])
        r = self.barlab("fullstack", "--policy", "any", "--out", self.scratch("spin-out"),
                        "--run", self.scratch("spin"), "--run-timeout", "5")
        with self.check("run-timeout-result"):
            self.assertFileLines(self.scratch("spin-out", "any", "results"),
                                 r"^run timeout limit=5 ")
        with self.check("run-timeout-exit-1"):
            self.assertStatus(r, 1)
        with self.check("run-timeout-row"):
            self.assertStatus(r, 1)
            self.assertOutput(r, r"^any +timeout 5s ")


if __name__ == "__main__":
    barlabtest.main()
