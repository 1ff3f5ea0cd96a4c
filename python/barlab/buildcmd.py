# SPDX-License-Identifier: GPL-2.0-or-later
"""The commands that build things and say where they are: build, path,
cache-key; the device-level runs on barlab's QEMU: agree, fuzz; and the
front of `bench fuzz` (both QEMUs built, then barlab.bench.fuzz)."""

import os
import re

from . import (agree, core, fullstack, fuzz, initramfs, kernel, kernelseries, payloads, qemu,
               setup)
from .cli import Command, check_word, opt_value
from .common import UsageError, build_dir, die, msg, or_list

USAGE_BUILD = """\
usage: scripts/barlab build [core|qemu|payloads|kernel|initramfs|examples] [--sanitize]
                            [--kernel-patches [+]DIR]
       scripts/barlab build module DIR
build one part (default: core), cached by its inputs
  core        the C core, its tests and the host tools (barlab-mt)
  qemu        barlab's QEMU 10.0.13 (Debian's source + hw/qemu-patches)
  payloads    the bare-metal aarch64 payloads
  kernel      the L1 host kernel (Debian's linux-source-6.12 + kernel-patches/)
  initramfs   the L1 initramfs (busybox, guest drivers, tools)
  examples    the example programs for 'fullstack --run'
              (target-tests/fullstack/examples); prints their paths
  module DIR  the out-of-tree Kbuild modules in DIR against barlab's kernel,
              for 'fullstack --module' (see 'barlab build module --help')
  --sanitize  core or qemu built with ASan and UBSan (a report is fatal),
              beside the normal build; qemu with its qtests and fuzzer
  --kernel-patches DIR
              kernel or initramfs: the kernel of the git format-patch
              series in DIR (its 'series' file names the patches in order)
              instead of kernel-patches/; +DIR: on top of kernel-patches/
              (docs/kernel-patches.md)
"""

USAGE_PATH = """\
usage: scripts/barlab path barlab-mt|qemu|kernel|initramfs|payloads [--sanitize]
                           [--kernel-patches [+]DIR]
print the path of a built artifact
Fails if the artifact is not built for this tree.
  --sanitize          barlab-mt or qemu of the sanitizer build
  --kernel-patches [+]DIR
                      the kernel or initramfs of a user's series
"""

USAGE_AGREE = """\
usage: scripts/barlab agree [CPU...]
the agreement test: every S1 x S2 x FWB cell on barlab-gpu against the core
A bare-metal payload touches barlab-gpu's VRAM under every cell; what the
device saw and where accesses faulted is compared with the core's
predictions.  CPU: QEMU CPU models barlab knows (default: %s).
Exits non-zero on any disagreement.
"""


def usage_agree():
    """agree's usage, with the default CPUs the C core names (when
    barlab-mt is built: help builds nothing)."""
    if os.access(core.mt_path(), os.X_OK):
        return USAGE_AGREE % " ".join(core.facts("defaults")["agree_cpus"])
    return USAGE_AGREE % "those 'barlab-mt defaults' names"

USAGE_FUZZ = """\
usage: scripts/barlab fuzz nic|gpu [--inputs N] [--seed S] [--out DIR]
                               [--jobs J]
fuzz a device over qtest on the sanitizer build of barlab's QEMU
Builds QEMU with ASan and UBSan ('build qemu --sanitize') and runs
tests/qtest/barlab-fuzz: N inputs (default 10000) generated from seed S
(default 1), the device reset by FLR between them, split among J
processes with a QEMU each (default 1; 2 uses both cores).  A crash, a
hang or a sanitizer report is shrunk and saved in DIR (default
build/fuzz/DEVICE) as a reproducer; docs/fuzzing.md says how to replay
it and keep it as a regression test.  Prints inputs/s and the device
counters the inputs reached; exits 1 on any failure.
"""

USAGE_CACHE_KEY = """\
usage: scripts/barlab cache-key qemu|kernel|initramfs [--kernel-patches [+]DIR]
print the cache key of a build, from the repository alone (for CI caches)
The key changes exactly when the build's inputs do; docs/ci.md shows how a
CI engine's cache uses it.
  --kernel-patches [+]DIR
                      the key of the kernel (and initramfs) of a user's
                      series (docs/kernel-patches.md)
"""

BUILD_TARGETS = "core qemu payloads kernel initramfs examples module".split()
PATH_ARTIFACTS = "barlab-mt qemu kernel initramfs payloads".split()
CACHE_KEYS = "qemu kernel initramfs".split()
# What a plain `fuzz` does: inputs, seed, processes.
FUZZ_INPUTS, FUZZ_SEED, FUZZ_JOBS = 10000, 1, 1


def kernel_patches_use(cmd, spec):
    """The user's kernel series SPEC (DIR, or +DIR on top of barlab's), as
    the build modules take it; a mistake in it is a usage error of CMD."""
    kernelseries.use(cmd, spec)
    return spec


def take_kernel_patches(cmd, args):
    """ARGS without --kernel-patches SPEC: (the rest, the series or None)."""
    rest, series = [], None
    i = 0
    while i < len(args):
        if args[i] == "--kernel-patches":
            series = kernel_patches_use(cmd, opt_value(cmd, args, i))
            i += 2
            continue
        rest.append(args[i])
        i += 1
    return rest, series


def take_options(cmd, args):
    """ARGS without --kernel-patches SPEC and --sanitize: (the rest, the
    series or None, whether --sanitize was there)."""
    rest, series = take_kernel_patches(cmd, args)
    return [a for a in rest if a != "--sanitize"], series, "--sanitize" in rest


def _print(path):
    print(path, flush=True)


def run_build(args):
    args, series, sanitize = take_options("build", args)
    what = args[0] if args else "core"
    if what == "module":
        if len(args) != 2:
            raise UsageError("build module", "takes one directory")
        if sanitize:
            raise UsageError("build", "--sanitize is for core or qemu, not 'module'")
        setup.run()
        ko = fullstack.module_build(args[1])
        for p in sorted(ko.parent.glob("*.ko")):
            _print(p)
        return 0
    if len(args) > 1:
        raise UsageError("build", "one target at a time")
    check_word("build", "target", what, BUILD_TARGETS)
    if sanitize:
        if what == "core":
            core.build(sanitize=True)
        elif what == "qemu":
            _print(qemu.build(qtests=True, sanitize=True))
        else:
            raise UsageError("build", "--sanitize is for core or qemu, not '%s'" % what)
        return 0
    if what == "core":
        core.build()
    elif what == "qemu":
        qemu.build()
    elif what == "payloads":
        payloads.build()
    elif what == "kernel":
        _print(kernel.build(series))
    elif what == "initramfs":
        _print(initramfs.build(series))
    elif what == "examples":
        for p in fullstack.examples_build():
            _print(p)
    return 0


def run_path(args):
    args, series, sanitize = take_options("path", args)
    if len(args) != 1:
        raise UsageError("path", "takes one artifact name (%s)" % or_list(PATH_ARTIFACTS))
    what = args[0]
    check_word("path", "artifact", what, PATH_ARTIFACTS)
    if sanitize and what not in ("qemu", "barlab-mt"):
        raise UsageError("path", "--sanitize is for qemu or barlab-mt, not '%s'" % what)
    if what == "barlab-mt":
        mt = core.mt_path(sanitize)
        if not os.access(mt, os.X_OK):
            die("the sanitized barlab-mt is not built: run 'scripts/barlab build core --sanitize'"
                if sanitize else "barlab-mt is not built: run 'scripts/barlab build'")
        _print(mt)
    elif what == "qemu":
        exe = qemu.binary(sanitize)
        if exe is None:
            die("qemu is not built for this tree: run 'scripts/barlab build qemu%s'"
                % (" --sanitize" if sanitize else ""))
        _print(exe)
    elif what == "payloads":
        elf = payloads.find("agree")
        if elf is None:
            msg(payloads.not_built("agree"))
            die("the payloads are not built: run 'scripts/barlab build payloads'")
        _print(elf)
    elif what == "kernel":
        image = kernel.image(series)
        if image is None:
            die("the kernel is not built for this tree: run 'scripts/barlab build kernel'")
        _print(image)
    else:
        ramfs = initramfs.path(series)
        if ramfs is None:
            die("the initramfs is not built for this tree: run 'scripts/barlab build initramfs'")
        _print(ramfs)
    return 0


def run_cache_key(args):
    args, series = take_kernel_patches("cache-key", args)
    if len(args) != 1:
        raise UsageError("cache-key", "takes one build: qemu, kernel or initramfs")
    if args[0] == "qemu":
        _print(qemu.ci_key())
    elif args[0] == "kernel":
        _print(kernel.key(series))
    elif args[0] == "initramfs":
        _print(initramfs.key(series))
    else:
        raise UsageError("cache-key", "unknown build '%s' (qemu, kernel or initramfs)" % args[0])
    return 0


def run_agree(args):
    for cpu in args:
        if cpu.startswith("-"):
            raise UsageError("agree", "unknown option '%s'" % cpu)
        core.check_cpu("agree", cpu, "CPU model")
    setup.run()
    core.build()
    exe = qemu.build()
    payloads.build()
    rc = 0
    for cpu in args or core.facts("defaults")["agree_cpus"]:
        if agree.run(cpu, qemu=exe) != 0:
            rc = 1
    return rc


def _count(cmd, option, value, digits, low=1, high=None, what="a positive whole number"):
    if not re.fullmatch(r"[0-9]{1,%d}" % digits, value) or int(value) < low or \
            (high is not None and int(value) > high):
        raise UsageError(cmd, "%s must be %s, not '%s'" % (option, what, value))
    return int(value)


def run_fuzz(args):
    devices = fuzz.devices()
    if not args:
        raise UsageError("fuzz", "name a device: %s" % or_list(devices))
    dev = check_word("fuzz", "device", args[0], devices)
    inputs, seed, jobs = FUZZ_INPUTS, FUZZ_SEED, FUZZ_JOBS
    out = build_dir() / "fuzz" / dev
    args = args[1:]
    i = 0
    while i < len(args):
        opt = args[i]
        if opt == "--inputs":
            inputs = _count("fuzz", opt, opt_value("fuzz", args, i), 15)
        elif opt == "--seed":
            seed = _count("fuzz", opt, opt_value("fuzz", args, i), 18, low=0,
                          what="a whole number")
        elif opt == "--jobs":
            jobs = _count("fuzz", opt, opt_value("fuzz", args, i), 2, high=64,
                          what="a whole number from 1 to 64")
        elif opt == "--out":
            out = opt_value("fuzz", args, i)
        else:
            raise UsageError("fuzz", "unknown argument '%s'" % opt)
        i += 2
    setup.run()
    exe = qemu.build(qtests=True, sanitize=True)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError:
        die("fuzz: cannot create %s" % out)
    return fuzz.run(exe, dev, inputs, seed, out, jobs)




def _build_module(args):
    return run_build(["module"] + list(args))


COMMANDS = [
    Command("build", USAGE_BUILD, run_build,
            subs={"module": (fullstack.USAGE_MODULE, _build_module)}),
    Command("path", USAGE_PATH, run_path),
    Command("agree", usage_agree, run_agree),
    Command("fuzz", USAGE_FUZZ, run_fuzz),
    Command("cache-key", USAGE_CACHE_KEY, run_cache_key),
]

