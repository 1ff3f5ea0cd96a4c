# SPDX-License-Identifier: GPL-2.0-or-later
"""`barlab fullstack`: the whole stack.  A stock VMM from Debian's arm64
packages (qemu-system-aarch64 from bookworm's qemu-system-arm) runs in
L1 with KVM and passes barlab-nic and barlab-gpu through with -device
vfio-pci to a full L2 Linux (barlab's kernel Image, the L1 initramfs as
its root), which loads guest-drivers/ and runs the NIC's write-combining
self-test, a ping through slirp, fbdraw and fbdraw --odd through sysfs
resource2_wc and /dev/fb0.  One L1 boot per vfio-pci policy.  The guest
side is target-tests/fullstack; docs/fullstack.md explains the results.

This module owns the command (its options, the runs, each run's results
and summary files, the table); barlab.fullstack_vmm what goes into L1,
barlab.fullstack_nic and barlab.fullstack_user what the devices saw and
the user's program.  Also here: examples_build() and module_build(DIR)
(`barlab build examples`, `barlab build module DIR`).

Below BUILD/fullstack: runs/POLICY/ (the default --out), examples/ (the
--run examples), modules/NAME/ (`barlab build module DIR`: DIR built
against barlab's kernel: src/, the .ko files, stamp).

`python3 -m barlab.fullstack policies ...` runs the policies of one
command inside its report directory (barlab.output)."""

import glob
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

from . import (apt, cache, core, fullstack_nic, fullstack_user, fullstack_vmm, initramfs,
               kernel, kernelseries, l1, output, setup)
from . import cli
from .cli import Command, check_seconds, check_word, opt_value
from .common import ROOT, Fatal, UsageError, die, logs_dir, msg, run_step

# The --odd runs come before the drawing, so that when they kill the VM
# the last L2 still draws the picture the host checks.
STEPS = ("wc", "ping", "odd-res", "odd-fb0", "draw-res", "draw-fb0")
WIDTH, HEIGHT = 640, 480
# How long a --run program may run in L2 (--run-timeout).
RUN_TIMEOUT = 60
# Files of a run directory an earlier run left that would pass for this run's.
RUN_FILES = ("results", "summary", "console.log", "timing", "fullstack.png", "picture.txt",
             "l0-slirp.pcap", "devices.json", "nic.trace", "gpu.trace", "guest-errors.log",
             "run-console.txt", "user.log")
# Results outcomes that say a step could not run (vm-death and sigbus are results).
NOT_RUN = re.compile(r"^[^ ]+ (timeout|died|not-run|failed)", re.M)


def l2_timeout():
    """Seconds each L2 boot has (FULLSTACK_L2_TIMEOUT, default 120)."""
    return int(os.environ.get("FULLSTACK_L2_TIMEOUT") or 120)


def run_timeout_default():
    """Seconds the whole L1 run has (FULLSTACK_TIMEOUT, default 600)."""
    return os.environ.get("FULLSTACK_TIMEOUT") or "600"


def fullstack_dir():
    return fullstack_vmm.fullstack_dir()


USAGE = """usage: scripts/barlab fullstack [--policy P]... [--cpu CPU] [--inject-align]
                                [--out DIR] [--steps "S..."] [--no-devices]
                                [--no-picture] [--timeout S] [--echo]
                                [--device-props DEV,PROP=VALUE]...
                                [--nic-param NAME=VALUE]...
                                [--run PROG [--module FILE.ko]...
                                 [--run-timeout S] [-- ARG...]]
                                [--kernel-patches [+]DIR]
the whole stack: a stock VMM in L1 runs an L2 Linux with the devices and drivers
Boot L1 once per policy; in it, Debian's qemu-system-aarch64 (KVM) runs an
L2 Linux with barlab-nic and barlab-gpu passed through by vfio-pci.  L2
loads guest-drivers/ and runs the steps; a step that kills the VM is
reported, and a new L2 boots for the steps after it.
  --policy P        vfio-pci's stage-2 policy: device, prefetchable or any;
                    repeat for several (default: all three)
  --kernel-patches [+]DIR
                    L1 (and L2) run the kernel of the git format-patch
                    series in DIR instead of kernel-patches/ (+DIR: on top
                    of it); a series without the run-time policy runs its
                    declared one (docs/kernel-patches.md)
  --cpu CPU         L0's CPU model for L1 (max: FEAT_S2FWB, the default;
                    neoverse-n1: no FWB)
  --inject-align    L1 KVM injects stage-2 alignment faults into L2 (a
                    SIGBUS in L2) instead of failing KVM_RUN (VM death)
  --out DIR         results, console, screendump (default
                    build/fullstack/runs); one subdirectory per policy;
                    a new or empty directory, or an earlier fullstack
                    report (the policies not run now are kept); written
                    when the runs end, so an interrupt leaves DIR as it was
  --steps "S..."    the L2 steps (default: wc ping odd-res odd-fb0
                    draw-res draw-fb0):
                      wc        the NIC driver's write-combining self-test
                      ping      3 pings of slirp's gateway 10.0.2.2
                      odd-res   fbdraw --odd through sysfs resource2_wc
                      odd-fb0   fbdraw --odd through /dev/fb0
                      draw-res  fbdraw through sysfs resource2_wc
                      draw-fb0  fbdraw through /dev/fb0
  --no-devices      pass nothing through (with --steps "": a bare L2 boot)
  --no-picture      no screendump of what L2 drew
  --timeout S       limit for the whole L1 run (default 600; each L2
                    boot has 120 s)
  --echo            copy L1's console to stderr while it runs
  --device-props DEV,PROP=VALUE[,...]
                    more properties for barlab's device DEV (nic or gpu)
                    in L0, as for 'barlab boot', e.g.
                    nic,port-mode=reorder:7 (the port mode is checked
                    before anything runs)
  --nic-param NAME=VALUE
                    a parameter for L2's barlab_nic module, e.g.
                    doorbell_wmb=0 (guest-drivers/README.md); repeat for
                    more
  --run PROG        copy the aarch64 program PROG (static, or dynamic: with
                    the shared objects it loads, from the cross toolchain's
                    glibc) into L2 and run it there as the last step, "run"
                    (alone, unless --steps names others); its environment
                    names the mappings: BARLAB_RESOURCE2_WC (barlab-gpu's
                    VRAM, sysfs resource2_wc), BARLAB_RESOURCE0 (its
                    registers) and BARLAB_FB0 (/dev/fb0); no picture check
  --module FILE.ko  load FILE.ko in L2 before PROG (made with 'barlab build
                    module DIR'; its vermagic must be barlab's kernel's);
                    repeat for more, loaded in order
  --run-timeout S   PROG is killed after S seconds (default 60): outcome
                    timeout
  -- ARG...         everything after -- is PROG's arguments
Prints one row per policy: the self-test's verdict, each fbdraw run's
outcome (ok, mismatch, sigbus, vm-death, ...), the frames, what barlab-nic's
checker and counters saw (ok, or the rules broken and the stale doorbells),
the picture; then, for each policy where the NIC saw something, its first
broken rule with the access, the one that overtook it and the port's seed.
With --run: one row per policy with PROG's outcome (exit N, SIGBUS, vm-death,
timeout), its modules, what barlab-gpu's checker saw (transactions, gathered
ones, violations with the rules) and the trace's path; then the last lines
PROG printed on L2's console under each policy.  A PROG that is missing,
not executable or not for aarch64, or a module for another kernel, is
refused before anything runs.
"""

USAGE_MODULE = """usage: scripts/barlab build module DIR
build the out-of-tree Kbuild modules in DIR against barlab's L1/L2 kernel
DIR holds the sources and a Kbuild (or Makefile) with obj-m lines, as for
any out-of-tree module; it is copied and built with barlab's cross compiler
against the kernel's build tree (its headers, .config and Module.symvers),
which 'barlab build kernel' makes and caches.  The build is cached by DIR's
contents and the kernel; DIR is not written to.  Prints the path of each
.ko, ready for 'barlab fullstack --run PROG --module FILE.ko'.
"""


# --- options ---------------------------------------------------------------

def nic_params():
    """{NAME: TYPE} of the barlab_nic module's parameters, from its
    module_param() declarations."""
    text = (ROOT / "guest-drivers" / "barlab_nic.c").read_text()
    return dict(re.findall(r"^module_param\(([a-z0-9_]*), *([a-z0-9_]*),", text, re.M))


def check_nic_param(cmd, spec):
    """NAME=VALUE: NAME is a parameter of barlab_nic and VALUE one its
    type takes."""
    if "=" not in spec:
        raise UsageError(cmd, "--nic-param must be NAME=VALUE, not '%s'" % spec)
    name, value = spec.split("=", 1)
    params = nic_params()
    if name not in params:
        core.not_one_of(cmd, "barlab_nic parameter", name, list(params))
    kind = params[name]
    if kind == "bool":
        if not re.fullmatch(r"[01yYnN]", value):
            raise UsageError(cmd, "--nic-param %s must be 0 or 1 (or y, n), not '%s'"
                             % (name, value))
    elif kind in ("int", "uint", "long", "ulong", "short", "ushort", "byte"):
        if not re.fullmatch(r"-?[0-9]+", value):
            raise UsageError(cmd, "--nic-param %s must be a number, not '%s'" % (name, value))
    elif not re.fullmatch(r"[^,\s]*", value):
        raise UsageError(cmd, "--nic-param %s: no commas or spaces in '%s'" % (name, value))


def _absolute(path):
    """PATH made absolute the way `cd "$(dirname P)" && pwd` does."""
    return os.path.join(os.path.abspath(os.path.dirname(path) or "."), os.path.basename(path))


def reference_module(series):
    """A module barlab built against its kernel (for the vermagic a
    user's module must have)."""
    ko = initramfs.path(series).parent / "rootfs" / "lib" / "modules" / "barlab" / "barlab_nic.ko"
    if not ko.is_file():
        die("fullstack: no %s after the initramfs build" % ko)
    return ko


def cmd_fullstack(args):
    """`barlab fullstack ARGS` (USAGE): check everything, then one run per
    policy into the report directory, then the table."""
    start = time.time()
    policies, out, opts, prog, modules, run_args = [], "", [], "", [], []
    steps, series, fixed = None, None, ""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            for arg in args[i + 1:]:
                if "\n" in arg:
                    raise UsageError("fullstack", "a program argument may not hold a newline")
                run_args += ["--run-arg", arg]
            break
        if a in ("--inject-align", "--no-devices", "--no-picture", "--echo"):
            opts.append(a)
            i += 1
            continue
        if a not in ("--run", "--module", "--run-timeout", "--policy", "--kernel-patches",
                     "--out", "--cpu", "--timeout", "--steps", "--device-props", "--nic-param"):
            raise UsageError("fullstack", "unknown option '%s'" % a)
        v = opt_value("fullstack", args, i)
        i += 2
        if a == "--run":
            try:
                fullstack_user.check_program(v)
            except fullstack_user.Refused as e:
                raise UsageError("fullstack", "--run %s" % e) from None
            prog = _absolute(v)
        elif a == "--module":
            modules.append(v)
        elif a == "--run-timeout":
            check_seconds("fullstack", a, v)
            run_args += [a, v]
        elif a == "--policy":
            policies.append(core.check_policy("fullstack", v))
        elif a == "--kernel-patches":
            desc = kernelseries.use("fullstack", v)
            fixed = desc["policy"] or ""
            series = v
        elif a == "--out":
            out = v
        else:
            if a == "--cpu":
                core.check_cpu("fullstack", v)
            elif a == "--timeout":
                check_seconds("fullstack", a, v)
            elif a == "--steps":
                for s in v.split():
                    check_word("fullstack", "--steps", s, STEPS)
                steps = v
            elif a == "--device-props":
                l1.device_props("fullstack", v)
            elif a == "--nic-param":
                check_nic_param("fullstack", v)
            opts += [a, v]
    if not policies:
        policies = fixed.split() if fixed else list(core.facts("defaults")["fullstack_policies"])
    if series:
        for p in policies:
            kernelseries.check_policy("fullstack", desc, p)
    out = out or str(fullstack_dir() / "runs")
    if series:
        kernel.build(desc)
    if not prog:
        if modules or run_args:
            raise UsageError("fullstack",
                             "--module, --run-timeout and program arguments need --run PROG")
    else:
        # --run without --steps runs the program alone.
        if steps is None:
            steps = ""
            opts += ["--steps", ""]
        opts += ["--run", prog, "--no-picture"] + run_args
    if modules:
        # A module is checked against the kernel barlab built (after the
        # builds, before the report directory is touched).
        output.check("fullstack", "fullstack", out)
        setup.run()
        initramfs.l1_builds(series)
        for m in modules:
            try:
                fullstack_user.check_module(m, str(reference_module(series)))
            except fullstack_user.Refused as e:
                raise UsageError("fullstack", "--module %s" % e) from None
            opts += ["--module", _absolute(m)]
    job = fullstack_vmm.module_argv("barlab.fullstack", "policies", series or "", out,
                                    *policies, "--", *opts)
    rc, out = runs(out, policies, job)
    print("kernel series: %s" % kernelseries.label(series), flush=True)
    dirs = [os.path.join(out, p) for p in policies]
    if prog:
        fullstack_user.report(dirs)
        if not steps:
            sys.stdout.flush()
            msg("fullstack: %d s; results, consoles and traces in %s"
                % (int(time.time()) - int(start), out))
            return rc
    print(columns("policy", "S2 n2/g0/g2", "WC self-test", "odd res", "odd fb0", "draw res",
                  "draw fb0", "ping tx/rx", "NIC checker", "L0 fr", "picture", "boots",
                  "wall s"))
    for d in dirs:
        print(row(d))
    for d in dirs:
        line = nic_finding(d)
        if line:
            print(line)
    sys.stdout.flush()
    msg("fullstack: %d s; results, consoles and screendumps in %s"
        % (int(time.time()) - int(start), out))
    return rc


# --- the runs ----------------------------------------------------------------

def runs(out, policies, job):
    """Open the report directory OUT (the results of the policies not run
    now stay as the earlier run left them), run JOB (a command line; the
    staging directory is its last argument) and put what it wrote in
    OUT's place; (JOB's status, OUT as an absolute path).  An interrupt
    (INT, TERM, HUP) ends JOB and the command, leaving OUT as it was."""
    with output.open_report("fullstack", "fullstack", out) as report:
        if report.dir.is_dir():
            report.keep(*sorted(p for p in os.listdir(report.dir)
                                if p != output.MANIFEST and p not in policies))
        setup.run()
        # Not subprocess.call(), which kills JOB alone on an interrupt and
        # leaves its QEMU to init: the report ends JOB's whole tree.
        proc = subprocess.Popen(job + [str(report.stage)], stdin=subprocess.DEVNULL)
        rc = proc.wait()
        rc = 128 - rc if rc < 0 else rc
        report.commit()
    return rc, str(report.dir)


def run_policies(series, shown_out, policies, opts, stage):
    """Each policy's run into STAGE/POLICY (SHOWN_OUT: the --out the user
    named, for messages); the status of the last that failed."""
    rc = 0
    built = []
    for p in policies:
        msg("fullstack: policy %s ..." % p)
        try:
            r = run(series, p, os.path.join(stage, p), opts, built)
        except Fatal as e:
            print("barlab: error: %s" % e, file=sys.stderr, flush=True)
            r = 1
        except SystemExit as e:
            r = e.code if isinstance(e.code, int) else 1
        if r:
            rc = r
            msg("fullstack: the L1 run for policy %s failed (exit %d; console: %s/%s/console.log)"
                % (p, r, shown_out, p))
    return rc


def run(series, policy, out, opts, built):
    """One L1 boot with the full stack in it under POLICY, into OUT;
    writes OUT/results (one line per step: STEP OUTCOME KEY=VALUE...),
    OUT/summary and, with the picture, OUT/fullstack.png.  Returns the L1
    boot's status, or 1 if a step could not run (timeout, died, not-run,
    failed; vm-death and sigbus are results).  BUILT: empty until the L1
    builds were checked in this process."""
    cpu, inject, steps, devices = core.facts("defaults")["cpu"], [], " ".join(STEPS), True
    picture = True
    timeout, echo, props, nics = run_timeout_default(), [], [], []
    prog, modules, prog_args, limit = "", [], [], RUN_TIMEOUT
    i = 0
    while i < len(opts):
        a = opts[i]
        if a in ("--inject-align", "--no-devices", "--no-picture", "--echo"):
            if a == "--inject-align":
                inject = [a]
            elif a == "--no-devices":
                devices = False
            elif a == "--no-picture":
                picture = False
            else:
                echo = [a]
            i += 1
            continue
        v = opts[i + 1]
        i += 2
        if a == "--cpu":
            cpu = v
        elif a == "--steps":
            steps = v
        elif a == "--timeout":
            timeout = v
        elif a == "--device-props":
            props += [a, v]
        elif a == "--nic-param":
            nics.append(v)
        elif a == "--run":
            prog = v
        elif a == "--module":
            modules.append(v)
        elif a == "--run-timeout":
            limit = int(v)
        elif a == "--run-arg":
            prog_args.append(v)
    picture = picture and devices
    os.makedirs(out, exist_ok=True)
    for f in RUN_FILES:
        try:
            os.unlink(os.path.join(out, f))
        except FileNotFoundError:
            pass
    if not built:
        initramfs.l1_builds(series)
        built.append(True)
    fullstack_vmm.vmm_build()
    extra = fullstack_vmm.overlay_build(series)
    l2 = l2_timeout()
    if prog:
        if "run" not in steps.split():
            steps = steps + " run" if steps else "run"
        l2 += limit
        try:
            lines = fullstack_vmm.user_cpio(out, prog, limit, modules, prog_args)
        except (OSError, subprocess.CalledProcessError) as e:
            why = str(e.strerror if isinstance(e, OSError) and e.strerror else e)
            _write(os.path.join(out, "user.log"), [why])
            die("fullstack: packing %s for L2 failed: %s" % (prog, why))
        _write(os.path.join(out, "user.log"), lines)
        extra = os.path.join(out, "initrd-extra.cpio")
    script = os.path.join(out, "fullstack-run.sh")
    with open(script, "w") as f:
        f.write("# SPDX-License-Identifier: GPL-2.0-or-later\n")
        f.write('FS_STEPS="%s"\nFS_DEVICES=%d\nFS_PICTURE=%d\nFS_L2_TIMEOUT=%s\n'
                'FS_NIC_PARAMS="%s"\n' % (steps, devices, picture, l2, " ".join(nics)))
        f.write((ROOT / "target-tests" / "fullstack" / "l1-run.sh").read_text())
    # The overlay rides in L1's initramfs; a pcap of what reached L0's
    # slirp is the outside witness of L2's frames; the devices' guest
    # errors (a stale doorbell, a broken rule, ...) go to a log of their own.
    boot = (["--cpu", cpu, "--policy", policy] + inject
            + ["--out", out, "--timeout", timeout, "--run", script, "--initrd-extra", extra]
            + echo + props)
    if not devices:
        boot += ["--bind", "none"]
    rc = l1.run("boot", boot + [
        "--", "-object", "filter-dump,id=fullstack-pcap,netdev=n0,file=%s/l0-slirp.pcap" % out,
        "-d", "guest_errors", "-D", "%s/guest-errors.log" % out],
        l1.Series.use("fullstack", series) if series else None)
    for f in ("initrd.gz", "initrd-extra.cpio"):
        try:
            os.unlink(os.path.join(out, f))
        except FileNotFoundError:
            pass
    write_results(out, policy, bool(inject), devices, " ".join(nics),
                  kernelseries.label(series))
    mt = str(core.mt_path())
    if prog:
        tail = fullstack_user.console_tail(os.path.join(out, "console.log"), 20)
        _write(os.path.join(out, "run-console.txt"), tail)
        if devices:
            line = fullstack_user.device_line(
                mt, [os.path.join(out, "gpu.trace"), os.path.join(out, "gpu-regs.trace")])
            _append(os.path.join(out, "results"), line)
    if NOT_RUN.search(_read(os.path.join(out, "results"))):
        msg("fullstack: a step of L2 failed to run (see %s/results); L1's console ends:" % out)
        for line in _console(out)[-25:]:
            sys.stderr.write("    %s\n" % line)
        sys.stderr.flush()
        rc = rc or 1
    return rc


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _write(path, lines):
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))


def _append(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")


def _console(out):
    """L1's console, carriage returns removed, as lines."""
    return _read(os.path.join(out, "console.log")).replace("\r", "").splitlines()


def pcap_frames(path):
    """The number of frames in a pcap file, or '-'."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "-"
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    pos, n = 24, 0
    while pos + 16 <= len(data):
        pos += 16 + struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        n += 1
    return str(n)


def write_results(out, policy, inject, devices, nics, label):
    """OUT/results and OUT/summary from the console, and with the
    devices, the results line of what barlab-nic saw."""
    console = _console(out)
    lines = [line[len("fullstack: result "):] for line in console
             if line.startswith("fullstack: result ")]
    if devices:
        lines.append(fullstack_nic.nic_line(str(core.mt_path()),
                                            os.path.join(out, "devices.json"),
                                            os.path.join(out, "nic.trace")))
    _write(os.path.join(out, "results"), lines)
    picture = "-"
    png = os.path.join(out, "fullstack.png")
    if os.path.isfile(png):
        with open(os.path.join(out, "picture.txt"), "w") as f:
            ok = subprocess.call([sys.executable, str(ROOT / "tests" / "lib" / "fbimage.py"),
                                  "check", png, str(WIDTH), str(HEIGHT)],
                                 stdout=f, stderr=subprocess.STDOUT) == 0
        picture = "matches" if ok else "differs"
    wall = "\n".join(w[1] for w in (line.split() for line in
                                    _read(os.path.join(out, "timing")).splitlines())
                     if len(w) > 1 and w[0] == "wall")
    summary = ["policy %s" % policy, "inject-align %s" % ("Y" if inject else "N"),
               "nic-params %s" % (nics or "none"), "kernel-series %s" % label]
    summary += [m.group(1) + " " + line[m.end():] for line in console
                for m in [re.match(r"fullstack: (vmm|boots|s2|s2-fwb) ", line)] if m]
    summary += ["l2-boot %s %s %s %s" % m.groups() for line in console for m in [re.match(
        r"fullstack: l2-boot ([0-9]*) end=([^ ]*) ready=([^ ]*) wall=([^ ]*)", line)] if m]
    summary += ["picture %s" % picture,
                "l0-frames %s" % pcap_frames(os.path.join(out, "l0-slirp.pcap")),
                "wall %s" % (wall or "-")]
    _write(os.path.join(out, "summary"), summary)


# --- the table -------------------------------------------------------------

def _lines(d, name):
    return [line.split() for line in _read(os.path.join(d, name)).splitlines()]


def field(d, step, key=None):
    """A step's outcome in D/results, or the value of KEY; '' if none."""
    for w in _lines(d, "results"):
        if not w or w[0] != step:
            continue
        if key is None:
            return w[1] if len(w) > 1 else ""
        for kv in w[2:]:
            if kv.startswith(key + "="):
                return kv[len(key) + 1:]
    return ""


def summary_values(d, key, second=None):
    """The second word (with SECOND: the third, where the second is
    SECOND) of each line of D/summary that starts with KEY."""
    out = []
    for w in _lines(d, "summary"):
        if w and w[0] == key:
            if second is None:
                out.append(w[1] if len(w) > 1 else "")
            elif len(w) > 1 and w[1] == second:
                out.append(w[2] if len(w) > 2 else "")
    return "\n".join(out)


def columns(*values):
    """One line of the table."""
    return ("%-13s %-9s %-27s %-9s %-9s %-9s %-9s %-12s %-16s %-6s %-8s %-5s %s"
            % tuple(values))


def nic_cell(d):
    """What barlab-nic saw: ok, or each rule broken and the stale and
    late push copies, with their counts."""
    for w in _lines(d, "results"):
        if not w or w[0] != "nic":
            continue
        if len(w) < 2 or w[1] != "broken":
            return w[1] if len(w) > 1 else ""
        cell = []
        for kv in w[2:]:
            k, v = (kv.split("=") + [""])[:2]
            if re.fullmatch(r"[A-Z][0-9]+", k):
                cell.append("%s:%s" % (k, v))
            elif k in ("tx-stale", "tx-late") and _number(v) > 0:
                cell.append("%s:%s" % (k[3:], v))
        return " ".join(cell)
    return ""


def _number(text):
    try:
        return float(text)
    except ValueError:
        return 0


def nic_finding(d):
    """For a run where barlab-nic saw a rule broken, one line: the first
    transaction with a verdict, the access that overtook it, the port
    mode and seed, and the device's counters; else None."""
    found = [w for w in _lines(d, "results") if len(w) > 1 and w[:2] == ["nic", "broken"]]
    if not found:
        return None
    v = {}
    for kv in found[0][2:]:
        k, val = (kv.split("=") + [""])[:2]
        v[k] = val
    line = "%s transaction(s) broke a rule" % v.get("violations", "")
    if "first-rule" in v:
        line += "; first %s: %s (accesses %s)" % (v["first-rule"], v.get("first-access", ""),
                                                 v.get("first-seq", ""))
        after = v.get("first-after", "")
        if after:
            seq, _, acc = after.partition(":")
            acc = acc.split(":")[0]
            line += " reached the device after access %s%s" % (seq, " (%s)" % acc if acc else "")
    line += "; port %s seed %s; tx-stale %s, tx-late %s, device errors %s" % tuple(
        v.get(k, "") for k in ("port", "seed", "tx-stale", "tx-late", "errors"))
    return "%s: %s" % (summary_values(d, "policy"), line)


def row(d):
    """One table row for the run in D."""
    wc = field(d, "wc")
    if field(d, "wc", "inline"):
        wc = "%s %s/255 %sus" % (wc, field(d, "wc", "inline"), field(d, "wc", "us"))
    short = {"Device-nGnRE": "D", "Normal-NC": "NC", "unmapped": "-"}
    s2 = "/".join(short.get(x, x) for b in ("nic-bar2", "gpu-bar0", "gpu-bar2")
                  for x in summary_values(d, "s2", b).splitlines())
    ping = field(d, "ping")
    if ping:
        ping = "%s %s/%s" % (ping, field(d, "ping", "tx"), field(d, "ping", "rx"))
    cells = [summary_values(d, "policy"), s2, wc, field(d, "odd-res"), field(d, "odd-fb0"),
             field(d, "draw-res"), field(d, "draw-fb0"), ping]
    return columns(*[c or "-" for c in cells], nic_cell(d) or "-",
                   summary_values(d, "l0-frames"), summary_values(d, "picture"),
                   summary_values(d, "boots"), summary_values(d, "wall"))


# --- build examples, build module ------------------------------------------

def examples_build():
    """Build the example programs of --run (target-tests/fullstack/examples)
    for aarch64 Linux with the cross toolchain (dynamic, as a user's would
    be); their paths."""
    dest = fullstack_dir() / "examples"
    src = ROOT / "target-tests" / "fullstack" / "examples"
    apt.install(*initramfs.HOST_PACKAGES)
    run_step("fullstack-examples", ["make", "-C", str(src), "O=%s" % dest,
                                    "CROSS_COMPILE=%s" % kernel.CROSS],
             fatal="building target-tests/fullstack/examples failed (log: %s)"
             % (logs_dir() / "fullstack-examples.log"))
    listed = subprocess.run(["make", "-s", "-C", str(src), "O=%s" % dest, "list"],
                            stdout=subprocess.PIPE, text=True, check=True).stdout
    return [Path(p) for p in listed.splitlines() if p]


def _abs_tree_hash(directory):
    """hash_tree of an absolute DIRECTORY: its files named by their
    absolute paths."""
    names = sorted((os.path.join(d, n) for d, _dirs, files in os.walk(directory) for n in files
                    if not os.path.islink(os.path.join(d, n))), key=os.fsencode)
    lines = []
    for name in names:
        with open(name, "rb") as f:
            lines.append("%s  %s\n" % (hashlib.sha256(f.read()).hexdigest(), name))
    return cache.text_hash("".join(lines))


# What the modules' cache key hashes for how they are built (the make
# command of barlab.initramfs.modules_argv): the text the recipe had when it
# was bash (scripts/lib/initramfs.sh), so that the modules built by it stay
# valid.  Give it a new value when a change there changes what is built.
MODULES_RECIPE = ('_initramfs_modules () \n{ \n    local dir=$1 kdir=$2;\n'
                  '    make -C "$dir" -f "$BARLAB_ROOT/guest-drivers/Makefile" KDIR="$kdir"'
                  ' ARCH=arm64 CROSS_COMPILE=$KERNEL_CROSS "CC=ccache ${KERNEL_CROSS}gcc"'
                  ' CCACHE_DIR="$BARLAB_CACHE/ccache" -j"$(nproc)"\n}')


def modules_build(directory, series=None):
    """Build the out-of-tree Kbuild modules in DIRECTORY against barlab's
    kernel (of SERIES), cached by DIRECTORY's contents and the kernel;
    the paths of the .ko files."""
    if not os.path.isdir(directory):
        raise UsageError("build module", "%s: no such directory" % directory)
    if not any(os.path.isfile(os.path.join(directory, f)) for f in ("Kbuild", "Makefile")):
        raise UsageError("build module",
                         "%s has no Kbuild or Makefile with obj-m lines" % directory)
    directory = os.path.abspath(directory)
    name = os.path.basename(directory)
    kernel.build(series)
    kdir = kernel.build_dir(series)
    key_text = "%s\n%s\n%s\n" % (kernel.key(series), kernel.chosen(), MODULES_RECIPE)
    if not os.path.isfile(os.path.join(kdir, "Module.symvers")):
        die("build module: no Module.symvers in %s" % kdir)
    key = cache.text_hash(_abs_tree_hash(directory) + "\n" + key_text)
    dest = fullstack_dir() / "modules" / name
    if fullstack_vmm._read(dest / "stamp") != key:
        tmp = Path(str(dest) + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(directory, tmp / "src", symlinks=True)
        if run_step("module-%s" % name, initramfs.modules_argv(tmp / "src", kdir)):
            shutil.rmtree(tmp)
            die("build module: building %s against barlab's kernel failed (log: %s)"
                % (directory, logs_dir() / ("module-%s.log" % name)))
        kos = sorted(glob.glob(glob.escape(str(tmp / "src")) + "/*.ko"))
        if not kos:
            shutil.rmtree(tmp)
            die("build module: %s built no .ko (no obj-m in its Kbuild?)" % directory)
        for ko in kos:
            shutil.copy2(ko, tmp)
        (tmp / "stamp").write_text(key + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(tmp, dest)
    return sorted(dest.glob("*.ko"))


def module_build(directory, series=None):
    """Build the Kbuild modules in DIRECTORY against barlab's kernel; the
    path of the last .ko (modules_build() has them all)."""
    return modules_build(directory, series)[-1]


COMMANDS = [Command("fullstack", USAGE, cmd_fullstack)]


def _serve(argv):
    what, args = (argv[0], argv[1:]) if argv else ("", [])
    if what == "policies":
        # SERIES OUT POLICY... -- OPTION... STAGE
        series, shown, rest = args[0] or None, args[1], args[2:]
        sep = rest.index("--")
        return run_policies(series, shown, rest[:sep], rest[sep + 1:-1], rest[-1])
    print("usage: python3 -m barlab.fullstack policies SERIES OUT POLICY... -- OPTION... STAGE",
          file=sys.stderr)
    return 2


def main(argv):
    """The report directory's way in (see above), with barlab's
    conventions for errors."""
    return cli.main(argv, _serve)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
