# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab-fuzz, the structured fuzzer of barlab's devices over qtest
(tests/qtest/barlab-fuzz*.c, docs/fuzzing.md): the devices it knows and
one run of it on the sanitizer build of barlab's QEMU."""

import os
import re
import subprocess
from pathlib import Path

from . import qemu
from .common import ROOT


def devices():
    """The devices barlab-fuzz knows, in its order: the devices[] table of
    tests/qtest/barlab-fuzz.c (a device DEV is barlab_fuzz_DEV, defined
    in barlab-fuzz-DEV.c)."""
    text = (ROOT / "tests" / "qtest" / "barlab-fuzz.c").read_text()
    table = re.search(r"devices\[\]\s*=\s*\{([^}]*)\}", text)
    return re.findall(r"&barlab_fuzz_(\w+)", table.group(1)) if table else []


def env(qemu_binary):
    """The environment of barlab-fuzz beside QEMU_BINARY: the sanitizer
    options (a report is fatal) and QEMU for qtest."""
    out = dict(os.environ)
    out["ASAN_OPTIONS"] = qemu.ASAN_OPTIONS
    out["UBSAN_OPTIONS"] = qemu.UBSAN_OPTIONS
    out["QTEST_QEMU_BINARY"] = str(qemu_binary)
    return out


def argv(qemu_binary, device, inputs, seed, out, jobs=1):
    return [str(Path(qemu_binary).parent / "barlab-fuzz"), device, "--inputs", str(inputs),
            "--seed", str(seed), "--out", str(out), "--jobs", str(jobs)]


def run(qemu_binary, device, inputs, seed, out, jobs=1, stdout=None, stderr=None):
    """barlab-fuzz beside QEMU_BINARY (the sanitizer build) on DEVICE:
    INPUTS inputs from SEED in JOBS processes, reproducers in OUT; its
    exit status.  STDOUT, STDERR: where its output goes (default: ours)."""
    return subprocess.call(argv(qemu_binary, device, inputs, seed, out, jobs),
                           env=env(qemu_binary), stdin=subprocess.DEVNULL,
                           stdout=stdout, stderr=stderr)


def fuzz_run(qemu_binary, device, inputs, seed, out, jobs=1):
    """run() under the name the check front knows it by."""
    return run(qemu_binary, device, inputs, seed, out, jobs)


if __name__ == "__main__":
    # python3 -m barlab.fuzz QEMU DEVICE INPUTS SEED OUT [JOBS] (fuzz_run).
    import sys   # pylint: disable=import-outside-toplevel
    if len(sys.argv) not in (6, 7):
        print("usage: python3 -m barlab.fuzz QEMU DEVICE INPUTS SEED OUT [JOBS]", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(*sys.argv[1:]))
