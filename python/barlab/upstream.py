# SPDX-License-Identifier: GPL-2.0-or-later
"""`barlab check upstream`: upstream QEMU's own tests against barlab's
patched QEMU, so that a barlab patch that changes upstream behaviour is
caught: the qtest-aarch64 suite (every qtest the configured devices have)
and the quick functional tests, both run by meson in a build tree of
barlab's QEMU.  Not part of a plain `check`: it builds the upstream
qtests too.  The tests run in a QEMU work tree of their own ("upstream":
the same sources, patches and configure options as barlab's binary,
built with the same ccache), so that a long run does not hold up
barlab's own builds."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from . import qemu
from .common import ROOT, die, logs_dir, run_step

SUITES = ["qtest-aarch64", "func-quick"]

# Tests that cannot run here, each with the reason.
#   bios-tables-test: boots QEMU's own EDK2 images (pc-bios/edk2-*.fd.bz2),
#   which Debian's source package leaves out.
SKIP = ["bios-tables-test"]


def wanted(listed):
    """The tests of `meson test --list` output LISTED to run: their names
    without the project and suites, but those in SKIP."""
    names = []
    for line in listed.splitlines():
        t = line.rsplit(" / ", 1)[-1]
        if t and t.split("/", 1)[-1] not in SKIP:
            names.append(t)
    return names


def meson_test(build, suite):
    """meson's test runner on the tests of SUITE but those in SKIP; its
    exit status."""
    meson = str(Path(build) / "pyvenv" / "bin" / "meson")
    # Our own package was on the path only to start this step.
    env = dict(os.environ)
    env["PYTHONPATH"] = ":".join(p for p in env.get("PYTHONPATH", "").split(":")
                                 if p and p != str(ROOT / "python"))
    listed = subprocess.run([meson, "test", "-C", str(build), "--list", "--suite", suite],
                            stdout=subprocess.PIPE, text=True, env=env, check=False).stdout
    names = wanted(listed)
    if not names:
        print("no tests in suite %s" % suite, flush=True)
        return 1
    return subprocess.call([meson, "test", "-C", str(build), "--num-processes",
                            str(len(os.sched_getaffinity(0))), "--print-errorlogs"] + names,
                           env=env)


def link_firmware(build):
    """QEMU run from its build tree looks for firmware below
    BUILD/qemu-bundle instead of the configured firmware path: link each
    directory of that path there, so upstream's tests find the option ROMs
    as barlab's installed binary does."""
    for arg in qemu.CONFIGURE_ARGS:
        if not arg.startswith("--firmwarepath="):
            continue
        for d in arg.split("=", 1)[1].split(":"):
            link = Path(str(build) + "/qemu-bundle" + d)
            if not os.path.isdir(d) or link.is_dir():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink():
                link.unlink()
            link.symlink_to(d)


def count(log, suite):
    """meson's "Ok: / Fail: / Skipped:" summary of LOG: (passed, failed,
    skipped), with its line printed; "Expected Fail" counts as passed.
    None (and the log's tail) if it has no summary."""
    ok = skipped = None
    failed = 0
    try:
        lines = Path(log).read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        f = line.split()
        if not f:
            continue
        if f[0] == "Ok:" and len(f) > 1:
            ok = int(f[1])
        if f[0] in ("Fail:", "Timeout:") or f[:2] == ["Unexpected", "Pass:"]:
            failed += int(f[-1])
        if f[0] == "Skipped:" and len(f) > 1:
            skipped = int(f[1])
    if ok is None:
        print("upstream: %s printed no summary (log %s):" % (suite, log))
        for line in lines[-20:]:
            print("    %s" % line)
        return None
    skipped = skipped or 0
    print("upstream: %-17s %4d passed, %d failed, %d skipped" % (suite, ok, failed, skipped))
    for line in lines:
        if re.match(r"^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT) ", line):
            print("    %s" % line)
    return ok, failed, skipped


def run():
    """Build the upstream work tree and run SUITES in it; (passed, failed,
    skipped), each suite's line printed (a suite without a summary counts
    as one failure)."""
    totals = [0, 0, 0]
    with qemu.lock("upstream"):
        tree = qemu.tree_build("upstream")
        build = tree.build_dir
        # The functional tests' TAP runner (tests/upstream/pycotap.py:
        # Debian has no pycotap) goes into the build tree's venv, which
        # meson's test environment keeps on the path.
        proc = subprocess.run([str(build / "pyvenv" / "bin" / "python3"), "-c",
                               'import sysconfig; print(sysconfig.get_path("purelib"))'],
                              stdout=subprocess.PIPE, text=True, check=False)
        if proc.returncode != 0:
            die("check upstream: no Python venv in %s" % build)
        shutil.copy(ROOT / "tests" / "upstream" / "pycotap.py",
                    Path(proc.stdout.strip()) / "pycotap.py")
        try:
            link_firmware(build)
        except OSError:
            die("check upstream: cannot link the firmware into %s" % build)
        env = tree.env()
        env["PYTHONPATH"] = env["PYTHONPATH"] + ":" + str(ROOT / "python")
        for suite in SUITES:
            run_step("upstream-" + suite,
                     [sys.executable, "-P", "-m", "barlab.upstream", "meson-test", str(build),
                      suite], progress="ninja", env=env)
            counted = count(logs_dir() / ("upstream-%s.log" % suite), suite)
            if counted is None:
                totals[1] += 1
            else:
                totals = [a + b for a, b in zip(totals, counted)]
    sys.stdout.flush()
    return tuple(totals)


def main(argv):
    """python3 -m barlab.upstream meson-test BUILD SUITE (run's step)."""
    if argv[:1] == ["meson-test"] and len(argv) == 3:
        return meson_test(argv[1], argv[2])
    print("usage: python3 -m barlab.upstream meson-test BUILD SUITE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    from .cli import main as cli_main   # pylint: disable=import-outside-toplevel
    sys.exit(cli_main(sys.argv[1:], serve=main))
