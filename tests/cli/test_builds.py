#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The build commands without building: QEMU's cache key is the sha256
of the inputs' `sha256sum` lines (what the CI caches and the cached
builds were keyed with) and follows exactly the inputs; fuzz's devices
come from barlab-fuzz's table and its options are checked before
anything is built; agree's report summary keeps the first
disagreements and counts the rest."""

import contextlib
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest   # noqa: E402  pylint: disable=wrong-import-position
from barlabtest import ROOT   # noqa: E402  pylint: disable=wrong-import-position
from barlab import agree, fuzz, qemu, upstream   # noqa: E402  pylint: disable=wrong-import-position


def shell_key(root):
    """The key as `find | sort | sha256sum` computes it, with configure's
    arguments: an implementation apart from barlab.cache's."""
    inner = subprocess.run(
        ["bash", "-c", 'cd "$1" && { find hw/barlab hw/memtype/*.[ch] tests/qtest '
         'hw/qemu-patches hw/qemu-config -type f -print0 2>/dev/null | sort -z | '
         'xargs -0 -r sha256sum; } | sha256sum | cut -c1-16', "key", str(root)],
        stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    text = inner + "\n" + "".join(a + "\n" for a in qemu.CONFIGURE_ARGS)
    outer = subprocess.run(["sha256sum"], input=text, stdout=subprocess.PIPE, text=True,
                           check=True).stdout[:16]
    return inner, outer


class CacheKeyTest(barlabtest.BarlabTest):
    timeout = 120

    def copy_tree(self):
        dest = self.scratch("tree")
        files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"],
                               stdout=subprocess.PIPE, check=True).stdout.split(b"\0")
        for name in filter(None, files):
            src = ROOT / name.decode()
            if src.is_file():
                (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name.decode())
        return dest

    def test_qemu_key(self):
        inner, outer = shell_key(ROOT)
        r = self.barlab("cache-key", "qemu")
        with self.check("cache-key-qemu-is-sha256sum-of-inputs"):
            self.assertStatus(r, 0)
            self.assertEqual(r.out.strip(), outer)
        r = self.barlab("path", "qemu")
        with self.check("path-qemu-keyed-by-inputs"):
            if r.status != 0:
                self.skipTest("barlab's QEMU for these inputs is not built yet")
            self.assertRegex(r.out.strip(), r"/qemu/[^/]*-%s/qemu-system-aarch64$" % inner)

        tree = self.copy_tree()
        copy = self.run_cmd([tree / "scripts" / "barlab", "cache-key", "qemu"])
        with self.check("cache-key-qemu-same-in-a-copy"):
            self.assertStatus(copy, 0)
            self.assertEqual(copy.out.strip(), outer)
        with open(tree / "docs" / "architecture.md", "a") as f:
            f.write("\nnot an input\n")
        r = self.run_cmd([tree / "scripts" / "barlab", "cache-key", "qemu"])
        with self.check("cache-key-qemu-ignores-docs"):
            self.assertEqual(r.out.strip(), outer)
        for name in ("hw/qemu-config/aarch64-softmmu.mak", "tests/qtest/meson.build"):
            with open(tree / name, "a") as f:
                f.write("\n")
            r = self.run_cmd([tree / "scripts" / "barlab", "cache-key", "qemu"])
            with self.check("cache-key-qemu-follows %s" % name):
                self.assertStatus(r, 0)
                self.assertNotEqual(r.out.strip(), outer)
                self.assertEqual(r.out.strip(), shell_key(tree)[1])
            outer = r.out.strip()


class FuzzTest(barlabtest.BarlabTest):
    timeout = 60

    def test_devices(self):
        named = set()
        for src in (ROOT / "tests" / "qtest").glob("barlab-fuzz-*.c"):
            named.update(re.findall(r'\.name = "([a-z0-9]+)"', src.read_text()))
        with self.check("fuzz-devices-from-the-table"):
            self.assertEqual(sorted(fuzz.devices()), sorted(named))
            self.assertTrue(named)

    def test_usage(self):
        devices = fuzz.devices()
        cases = [
            ([], "name a device: %s" % " or ".join([", ".join(devices[:-1]), devices[-1]])),
            (["sideways"], "unknown device 'sideways'"),
            ([devices[0], "--inputs", "0"], "--inputs must be a positive whole number, not '0'"),
            ([devices[0], "--inputs", "1234567890123456"], "--inputs must be a positive"),
            ([devices[0], "--seed", "x"], "--seed must be a whole number, not 'x'"),
            ([devices[0], "--jobs", "65"], "--jobs must be a whole number from 1 to 64"),
            ([devices[0], "--jobs"], "--jobs needs a value"),
            ([devices[0], "--frobnicate", "1"], "unknown argument '--frobnicate'"),
        ]
        for args, want in cases:
            cache = self.scratch("cold-cache")
            r = self.barlab("fuzz", *args, env={"BARLAB_CACHE": str(cache)})
            with self.check("fuzz-usage %s" % " ".join(args)):
                self.assertStatus(r, 2)
                self.assertEqual(r.out, "")
                lines = r.err.splitlines()
                self.assertEqual(len(lines), 2, r.err)
                self.assertTrue(lines[0].startswith("barlab: error: fuzz: " + want), lines[0])
                self.assertEqual(lines[1], "see 'barlab fuzz --help'")
                self.assertFalse(cache.exists(), "something was built")


class AgreeSummaryTest(barlabtest.BarlabTest):

    def test_summary(self):
        report = self.scratch("agree.txt")
        report.parent.mkdir(parents=True, exist_ok=True)
        lines = ["disagree: cell %d" % i for i in range(15)]
        lines += ["reserved: cell r", "class: late-fault 15", "agreement: 100/115 cells"]
        report.write_text("\n".join(lines) + "\n")
        out = agree._summary(report)   # pylint: disable=protected-access
        with self.check("agree-summary-first-ten"):
            self.assertEqual(out[:10], lines[:10])
        with self.check("agree-summary-counts-the-rest"):
            self.assertEqual(out[10], "... 5 more disagreements in %s" % report)
        with self.check("agree-summary-keeps-classes-drops-reserved"):
            self.assertEqual(out[11:], ["class: late-fault 15", "agreement: 100/115 cells"])


class UpstreamTest(barlabtest.BarlabTest):

    def test_wanted(self):
        listed = ("qemu:qtest+qtest-aarch64 / qtest-aarch64/bios-tables-test\n"
                  "qemu:qtest+qtest-aarch64 / qtest-aarch64/migration-test\n"
                  "qemu:func-quick+func-aarch64 / func-aarch64-version\n")
        with self.check("upstream-skips-listed-tests"):
            self.assertEqual(upstream.wanted(listed), ["qtest-aarch64/migration-test",
                                                       "func-aarch64-version"])

    def test_count(self):
        log = self.scratch("upstream.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(" 1/3 qemu:qtest / qtest-aarch64/a     OK        1.0s\n"
                       " 2/3 qemu:qtest / qtest-aarch64/b     FAIL      2.0s   exit status 1\n"
                       " 3/3 qemu:qtest / qtest-aarch64/c     TIMEOUT   60.0s\n\n"
                       "Ok:                 5\nExpected Fail:      1\nFail:               1\n"
                       "Unexpected Pass:    0\nSkipped:            2\nTimeout:            1\n")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            got = upstream.count(log, "qtest-aarch64")
        with self.check("upstream-counts-meson-summary"):
            self.assertEqual(got, (5, 2, 2))
        with self.check("upstream-names-failures"):
            lines = out.getvalue().splitlines()
            self.assertEqual(lines[0], "upstream: qtest-aarch64        5 passed, 2 failed, "
                             "2 skipped")
            self.assertEqual(len(lines), 3)
            self.assertIn("qtest-aarch64/b", lines[1])
            self.assertIn("TIMEOUT", lines[2])
        log.write_text("meson: build failed\n")
        with contextlib.redirect_stdout(io.StringIO()):
            got = upstream.count(log, "func-quick")
        with self.check("upstream-no-summary-is-none"):
            self.assertIsNone(got)


if __name__ == "__main__":
    barlabtest.main()
