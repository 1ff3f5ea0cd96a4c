#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs a test that does not find its own inputs, as meson registers it
(tests/meson.build): it finds them through the package (python/barlab),
building what is missing (cached), and prints TAP.

    runtest.py qtest [--sanitize] NAME    a barlab qtest beside QEMU
    runtest.py sanitize-agree CPU         the agreement test, sanitizer QEMU
    runtest.py sanitize-fuzz DEVICE       a fuzz run that reaches the depths
    runtest.py sanitize-replay            the fuzzer's saved reproducers"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

# pylint: disable=wrong-import-position
from barlab import common, fuzz, payloads, qemu   # noqa: E402

BARLAB = ROOT / "scripts" / "barlab"

# Where `check` says what it has built for the suite it runs, so that each
# test need not ask again: QEMU (normal, sanitizer build), the payloads.
CHECK_QEMU = {False: "BARLAB_CHECK_QEMU", True: "BARLAB_CHECK_QEMU_SANITIZE"}
CHECK_PAYLOADS = "BARLAB_CHECK_PAYLOADS"
FUZZ_CORPUS = ROOT / "tests" / "qtest" / "fuzz-corpus"

# The counters a fuzz run of each device must move: frames sent by both
# paths and received, completions, errors; VRAM accesses and valid modes.
FUZZ_DEPTHS = {"nic": "tx-frames tx-inline tx-fallback completions rx-frames errors",
               "gpu": "vram-accesses modes-valid"}


def qemu_with_qtests(sanitize=False, name="barlab-gpu-test"):
    """barlab's QEMU (the sanitizer build with SANITIZE) with its qtests:
    the one `check` built for this run (CHECK_QEMU), or the package's."""
    hint = os.environ.get(CHECK_QEMU[sanitize])
    if hint and (Path(hint).parent / name).is_file():
        return Path(hint)
    binary = qemu.binary(sanitize)
    if binary is None or not (binary.parent / name).is_file():
        binary = qemu.build(qtests=True, sanitize=sanitize)
    return binary


def sanitize_env():
    """The sanitizer QEMU's run-time options (a report is fatal), as the
    fuzz command sets them: QEMU's leaks at exit are not looked for."""
    return {"ASAN_OPTIONS": qemu.ASAN_OPTIONS, "UBSAN_OPTIONS": qemu.UBSAN_OPTIONS}


def tap(ok, name, diagnostics=(), notes=()):
    """One result (with DIAGNOSTICS as TAP comments), its plan, and NOTES
    worth showing either way (as lines of their own, which check shows)."""
    for line in notes:
        print("    " + line)
    print("%s 1 - %s" % ("ok" if ok else "not ok", name))
    for line in diagnostics:
        print("#     " + line)
    print("1..1")
    return 0 if ok else 1


def tail(path, n=20):
    try:
        return Path(path).read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []


def qtest(args):
    sanitize = args[0] == "--sanitize"
    name = args[-1]
    binary = qemu_with_qtests(sanitize, name)
    env = dict(os.environ, QTEST_QEMU_BINARY=str(binary))
    if sanitize:
        env.update(sanitize_env())
    sys.stdout.flush()
    os.execve(str(binary.parent / name), [name, "--tap"], env)


def sanitize_agree(cpu):
    binary = qemu_with_qtests(True)
    if not os.environ.get(CHECK_PAYLOADS):
        payloads.build()
    out = common.build_dir() / "agree-sanitize" / cpu
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "run.log", "w") as log:
        # barlab.agree.run as a process of its own: its output and the
        # sanitizer's options are this run's only.
        env = dict(os.environ, **sanitize_env())
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "python")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        rc = subprocess.call([sys.executable, "-P", "-m", "barlab.agree", cpu, str(out),
                              str(binary)], stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env)
    said = [line for line in tail(out / "qemu.log", 100000)
            if re.search(r"Sanitizer|runtime error:", line)]
    ok = rc == 0 and not said
    why = [] if ok else (["exit %d; log %s" % (rc, out / "run.log")] + tail(out / "run.log")
                         + said[:6])
    return tap(ok, "agree -cpu %s" % cpu, why)


def sanitize_fuzz(dev):
    binary = qemu_with_qtests(True)
    run_dir = common.build_dir() / "fuzz-check" / dev
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    inputs = os.environ.get("BARLAB_SANITIZE_FUZZ_INPUTS") or "3000"
    log = run_dir / "fuzz.log"
    with open(log, "w") as f:
        rc = fuzz.run(binary, dev, inputs, 1, run_dir, 2, stdout=f, stderr=subprocess.STDOUT)
    text = log.read_text(errors="replace")
    said = [line for line in text.splitlines() if line.startswith("barlab-fuzz: ")]
    missing = []
    for counter in FUZZ_DEPTHS[dev].split():
        m = re.search(r"counters reached:.* %s ([0-9]+)" % re.escape(counter), text)
        if not m or int(m.group(1)) == 0:
            missing.append(counter)
    ok = rc == 0 and not missing
    why = [] if ok else ["exit %d%s; log %s" % (
        rc, ", never reached: " + " ".join(missing) if missing else "", log)] + tail(log)
    return tap(ok, "fuzz %s" % dev, why, said)


def sanitize_replay():
    corpus = sorted(FUZZ_CORPUS.glob("*.qtest"))
    if not corpus:
        return tap(False, "replay", ["no reproducers in %s" % FUZZ_CORPUS.relative_to(ROOT)])
    binary = qemu_with_qtests(True, "barlab-fuzz")
    out = common.build_dir() / "fuzz-replay"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ, QTEST_QEMU_BINARY=str(binary), **sanitize_env())
    sys.stdout.flush()
    fuzz = binary.parent / "barlab-fuzz"
    os.execve(str(fuzz), [str(fuzz), "--tap", "--replay", "--out", str(out)]
              + [str(c) for c in corpus], env)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    kind, args = argv[1], argv[2:]
    try:
        if kind == "qtest":
            return qtest(args)
        if kind == "sanitize-agree":
            return sanitize_agree(*args)
        if kind == "sanitize-fuzz":
            return sanitize_fuzz(*args)
        if kind == "sanitize-replay":
            return sanitize_replay()
    except common.Fatal as e:
        print("Bail out! barlab: error: %s" % e)
        return 1
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
