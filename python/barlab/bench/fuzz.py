# SPDX-License-Identifier: GPL-2.0-or-later
"""The fuzzer at length: barlab-fuzz on each device, on the sanitizer
build of barlab's QEMU (ASan and UBSan), with a baseline run of the same
inputs on the plain build first.  Prints per device the inputs per
second of both, their ratio (what the sanitizers cost), the counters the
inputs reached, and the failures (crashes, hangs, sanitizer reports);
reproducers are kept in OUT/LABEL-DEVICE.  Exit status 1 if any run
failed."""

import os
import re
import subprocess

from ..common import UsageError, build_dir
from .runs import load

DEVICES = ("nic", "gpu")
DEFAULTS = {"inputs": 1000000, "baseline": 20000, "seed": 1, "jobs": 2}
SANITIZER_ENV = {
    "ASAN_OPTIONS": "halt_on_error=1:abort_on_error=1:print_summary=1:detect_leaks=0",
    "UBSAN_OPTIONS": "halt_on_error=1:abort_on_error=1:print_summary=1:print_stacktrace=1",
}
RATE = re.compile(r"^barlab-fuzz: .* s: ([0-9]+) inputs/s,", re.M)


def parse(args, cmd="bench"):
    """{inputs, baseline, seed, jobs} from '--inputs N --baseline N --seed
    S --jobs J' (the defaults for those not given); usage mistakes as
    UsageError(CMD, 'fuzz: ...')."""
    opts = dict(DEFAULTS)
    i = 0
    while i < len(args):
        opt = args[i]
        if opt not in ("--inputs", "--baseline", "--seed", "--jobs"):
            if opt.startswith("-"):
                raise UsageError(cmd, "fuzz takes --inputs, --baseline, --seed and --jobs, "
                                      "not '%s'" % opt)
            raise UsageError(cmd, "fuzz: '%s' is not a number" % opt)
        if i + 1 >= len(args):
            raise UsageError(cmd, "fuzz: %s needs a value" % opt)
        value = args[i + 1]
        if opt == "--seed":
            ok = value.isdigit() and len(value) <= 18
            want = "a whole number"
        elif opt == "--jobs":
            ok = value.isdigit() and len(value) <= 2 and 1 <= int(value) <= 64
            want = "1 to 64"
        else:
            ok = value.isdigit() and len(value) <= 15 and int(value) > 0
            want = "a positive whole number"
        if not ok:
            raise UsageError(cmd, "fuzz: %s takes %s, not '%s'" % (opt, want, value))
        opts[opt[2:]] = int(value)
        i += 2
    return opts


def run_one(out, label, qemu, device, inputs, seed, jobs):
    """One barlab-fuzz run; its log in OUT/LABEL-DEVICE.log, its summary
    lines printed.  (exit status, inputs/s or None)."""
    log = os.path.join(out, "%s-%s.log" % (label, device))
    repro = os.path.join(out, "%s-%s" % (label, device))
    os.makedirs(repro, exist_ok=True)
    env = dict(os.environ, QTEST_QEMU_BINARY=str(qemu), **SANITIZER_ENV)
    fuzzer = os.path.join(os.path.dirname(str(qemu)), "barlab-fuzz")
    with open(log, "wb") as f:
        rc = subprocess.call([fuzzer, device, "--inputs", str(inputs), "--seed", str(seed),
                              "--jobs", str(jobs), "--out", repro], stdout=f,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    with open(log, errors="replace") as f:
        text = f.read()
    for line in text.splitlines():
        if line.startswith("barlab-fuzz: "):
            print("  %s: %s" % (label, line[len("barlab-fuzz: "):]), flush=True)
    rate = RATE.search(text)
    return rc, int(rate.group(1)) if rate else None


def run(plain, sanitized, opts, out=None):
    """The benchmark on the PLAIN and SANITIZED QEMUs (barlab-fuzz beside
    each); its exit status."""
    out = str(out or build_dir() / "bench-fuzz")
    os.makedirs(out, exist_ok=True)
    failed = 0
    print("bench fuzz: seed %d, %d inputs per device on the plain build, %d on the sanitizer "
          "build, %d processes each; %d CPUs, load: %s"
          % (opts["seed"], opts["baseline"], opts["inputs"], opts["jobs"], os.cpu_count(),
             load()), flush=True)
    for dev in DEVICES:
        print("%s:" % dev, flush=True)
        rc_p, p = run_one(out, "plain", plain, dev, opts["baseline"], opts["seed"], opts["jobs"])
        rc_s, s = run_one(out, "sanitized", sanitized, dev, opts["inputs"], opts["seed"],
                          opts["jobs"])
        failed |= rc_p != 0 or rc_s != 0
        if p is not None and s:
            print("  %s: sanitizer build %d inputs/s, plain %d inputs/s: plain/sanitizer %.2f"
                  % (dev, s, p, p / s))
    print("bench fuzz: load at the end: %s" % load())
    return 1 if failed else 0
