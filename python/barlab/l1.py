# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab's L1 host, booted: barlab's QEMU (TCG, EL2, GICv3, SMMUv3) with
barlab-nic on libslirp and barlab-gpu, the L1 kernel and initramfs, and
optionally a script run inside L1 (command boot).  The guest side is
target-tests/l1.

The guest's console speaks the "barlab-l1:" protocol; its /init
(target-tests/l1/init) prints:

    barlab-l1: screendump NAME   take a QMP screendump to OUT/NAME.png
                                 once the guest's script has ended
    barlab-l1: devices NAME      write barlab's devices, their settable
                                 properties (port mode, ...) and their
                                 counters to OUT/NAME.json once the script
                                 ended: {"barlab-nic": {"properties":
                                 {"port-mode": ...}, "counters":
                                 {"tx-stale": 0, ...}}, ...}
    barlab-l1: exit N            the script ended with status N

On "exit N" the runner takes the screendumps and device snapshots asked
for, quits QEMU and returns N.  If QEMU ends without saying so, or the
timeout expires, it prints the console's last lines and returns 125
(QEMU died) or 124 (timeout).  A QMP socket is at OUT/qmp.sock while QEMU
runs."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import core, initramfs, kernel, kernelseries, machine, output, qemu, qmp, setup
from .cli import Command, check_seconds, check_word, opt_value
from .common import Fatal, UsageError, build_dir, msg

USAGE_BOOT = """\
usage: scripts/barlab boot [options] [-- QEMU-ARGS...]
boot the L1 host on barlab's QEMU with barlab-nic and barlab-gpu, run a script in it
The exit status is the script's (124: timeout, 125: QEMU or the guest
died before the script ended).
  --cpu CPU           QEMU CPU model ('barlab-mt cpus'; max: FWB,
                      neoverse-n1: no FWB)
  --policy P          vfio-pci's stage-2 policy ('barlab-mt policies')
  --kernel-patches [+]DIR
                      boot the kernel of the git format-patch series in
                      DIR instead of kernel-patches/ (+DIR: on top of it),
                      built first (docs/kernel-patches.md)
  --kvm-mode M        kvm-arm.mode: nvhe (the kernel at EL1 under a small
                      hypervisor, on any CPU) or protected (pKVM); default:
                      VHE where the CPU has it (not cortex-a57)
  --inject-align      KVM injects stage-2 alignment faults into guests
  --bind vfio|none    bind barlab's devices to vfio-pci (default) or not
  --run SCRIPT        run SCRIPT (busybox sh) inside L1 as /run.sh; it may
                      source /lib/barlab/l1.sh (target-tests/l1/l1.sh)
  --out DIR           console.log, device traces, screendumps (default: a
                      new directory under build/runs); a new or empty
                      directory, or an earlier boot's; written when the
                      run ends, so an interrupted run leaves DIR as it was
  --timeout S         wall-clock limit in seconds (default 300)
  --echo              copy the console to stderr while it runs
  --initrd-extra CPIO add CPIO to L1's initramfs (after barlab's, before
                      the script)
  --no-devices        boot without barlab-nic and barlab-gpu
  --device-props DEV,PROP=VALUE[,...]
                      more properties for barlab's device DEV (nic or gpu),
                      e.g. nic,port-mode=reorder:7; repeat to add more
  --qemu PATH         another qemu-system-aarch64 (e.g. Debian's)
"""

EXIT_RE = re.compile(rb"^barlab-l1: exit (\d+)")
DUMP_RE = re.compile(rb"^barlab-l1: screendump ([A-Za-z0-9_.-]+)\s*$")
DEVICES_RE = re.compile(rb"^barlab-l1: devices ([A-Za-z0-9_.-]+)\s*$")
# The QOM property types a snapshot reads: numbers, flags and strings.
SCALAR_TYPES = {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32",
                "int64", "bool", "str", "string", "size"}
# Console lines shown when a run fails.
TAIL = 30
PROPS_RE = re.compile(r"^[a-z][a-z0-9-]*=[^,\s]*(,[a-z][a-z0-9-]*=[^,\s]*)*$")


def default_timeout():
    return int(os.environ.get("L1_TIMEOUT") or 300)


# --- the kernel's patch series ------------------------------------------------

class Series:
    """The kernel patch series L1 boots: barlab's (SPEC None) or a user's
    (--kernel-patches SPEC), as barlab.kernelseries describes it."""

    def __init__(self, spec=None, desc=None):
        self.spec = spec
        self.desc = desc

    @classmethod
    def use(cls, cmd, spec):
        """The user's series SPEC; a mistake in it is a usage error of CMD."""
        return cls(spec, kernelseries.use(cmd, spec))

    @property
    def policy(self):
        return (self.desc or {}).get("policy") or ""

    def check_policy(self, cmd, policy):
        """A usage mistake unless the kernel can run POLICY (a series
        without the run-time knob runs the one it declares)."""
        kernelseries.check_policy(cmd, self.desc, policy)

    def build(self):
        """Build the kernel of the user's series, if one was given; before
        a command opens its output directory, so that a series that does
        not apply leaves nothing behind."""
        if self.spec:
            kernel.build(self.spec)

    def label(self):
        """The series that builds the kernel, for messages."""
        return kernelseries.label(self.desc)

    def json(self):
        """The series as report.json names it."""
        return json.loads(kernelseries.as_json(self.desc))


# --- options ------------------------------------------------------------------

class Options:
    """What one L1 boot runs (usage_boot's options)."""

    def __init__(self):
        self.cpu, self.policy, self.inject, self.bind = None, "", False, "vfio"
        self.script = self.out = self.initrd_extra = self.kvm_mode = self.qemu = ""
        self.timeout, self.echo, self.devices = default_timeout(), False, True
        self.extra, self.nic_props, self.gpu_props = [], "", ""
        self.series = Series()


def device_props(cmd, spec, opts=None):
    """Check DEV,PROP=VALUE[,...] and add it to OPTS's properties of DEV.
    A port mode is checked here, by the core's parser; QEMU checks the
    other values itself."""
    dev, _, props = spec.partition(",")
    if "," not in spec or not PROPS_RE.match(props):
        raise UsageError(cmd, "--device-props must be DEV,PROP=VALUE[,...], not '%s'" % spec)
    check_word(cmd, "--device-props device", dev, ("nic", "gpu"))
    for p in props.split(","):
        if p.startswith("port-mode="):
            core.check_port_mode(cmd, "--device-props", p[len("port-mode="):])
    if opts:
        if dev == "nic":
            opts.nic_props += "," + props
        else:
            opts.gpu_props += "," + props


def parse(cmd, args, series=None):
    """The options of a boot (USAGE_BOOT) as Options; a mistake is a usage
    error of CMD.  Builds and starts nothing."""
    o = Options()
    o.series = series or Series()
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            o.extra = list(args[i + 1:])
            break
        if a in ("--inject-align", "--echo", "--no-devices"):
            o.inject |= a == "--inject-align"
            o.echo |= a == "--echo"
            o.devices &= a != "--no-devices"
            i += 1
            continue
        if a not in ("--cpu", "--policy", "--kernel-patches", "--kvm-mode", "--bind", "--run",
                     "--out", "--timeout", "--initrd-extra", "--qemu", "--device-props"):
            raise UsageError(cmd, "unknown option '%s'" % a)
        v = opt_value(cmd, args, i)
        i += 2
        if a == "--kernel-patches":
            o.series = Series.use(cmd, v)
        elif a == "--device-props":
            device_props(cmd, v, o)
        else:
            setattr(o, {"--cpu": "cpu", "--policy": "policy", "--kvm-mode": "kvm_mode",
                        "--bind": "bind", "--run": "script", "--out": "out",
                        "--timeout": "timeout", "--initrd-extra": "initrd_extra",
                        "--qemu": "qemu"}[a], v)
    if o.cpu is None:
        o.cpu = core.facts("defaults")["cpu"]
    core.check_cpu(cmd, o.cpu)
    if o.policy:
        core.check_policy(cmd, o.policy)
        o.series.check_policy(cmd, o.policy)
    check_word(cmd, "--bind", o.bind, ("vfio", "none"))
    if o.kvm_mode:
        check_word(cmd, "--kvm-mode", o.kvm_mode, ("nvhe", "protected"))
    if o.script and not os.path.isfile(o.script):
        raise UsageError(cmd, "no such script: %s" % o.script)
    if o.initrd_extra and not os.path.isfile(o.initrd_extra):
        raise UsageError(cmd, "no such cpio: %s" % o.initrd_extra)
    o.timeout = check_seconds(cmd, "--timeout", str(o.timeout))
    if o.qemu and not os.access(o.qemu, os.X_OK):
        raise UsageError(cmd, "no QEMU at %s" % o.qemu)
    return o


# --- the boot -----------------------------------------------------------------

def initrd(base, extra, script, out):
    """BASE, then the cpio EXTRA (may be empty: none; uncompressed is fine,
    it is 4-byte aligned here), then SCRIPT (may be empty) as /run.sh, in
    OUT: the kernel unpacks concatenated cpio archives in order."""
    with open(out, "wb") as f:
        with open(base, "rb") as b:
            shutil.copyfileobj(b, f)
        if extra:
            f.write(b"\0" * ((4 - f.tell() % 4) % 4))
            with open(extra, "rb") as e:
                shutil.copyfileobj(e, f)
        if script:
            with tempfile.TemporaryDirectory() as tmp:
                shutil.copyfile(script, os.path.join(tmp, "run.sh"))
                os.chmod(os.path.join(tmp, "run.sh"), 0o755)
                f.flush()
                cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "-R", "0:0", "--quiet"],
                                        cwd=tmp, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                gz = subprocess.Popen(["gzip", "-n", "-1"], stdin=cpio.stdout, stdout=f)
                cpio.stdout.close()
                cpio.communicate(b"run.sh\n")
                if gz.wait() or cpio.returncode:
                    raise Fatal("cannot pack %s into %s" % (script, out))


def prepare(o):
    """Build what a boot runs: QEMU, the kernel and the initramfs."""
    initramfs.l1_builds(o.series.spec)
    if not o.qemu:
        o.qemu = str(qemu.binary() or "")
    if not os.access(o.qemu, os.X_OK):
        raise Fatal("boot: no QEMU at %s" % o.qemu)


def start(o):
    """Boot L1 once with options O into O.out as it is (the callers own
    it; a new directory under build/runs if empty); the script's status."""
    if not o.out:
        (build_dir() / "runs").mkdir(parents=True, exist_ok=True)
        o.out = tempfile.mkdtemp(prefix="l1-", dir=build_dir() / "runs")
    os.makedirs(o.out, exist_ok=True)
    out = Path(os.path.abspath(o.out))
    o.out = str(out)
    initrd(initramfs.path(o.series.spec), o.initrd_extra, o.script, out / "initrd.gz")
    append = "console=ttyAMA0 loglevel=4 panic=-1 barlab.bind=%s" % o.bind
    append += " kvm.inject_s2_alignment_fault=%s" % ("Y" if o.inject else "N")
    if o.policy and not o.series.policy:
        append += " vfio_pci_core.bar_memtype=%s" % o.policy
    if o.kvm_mode:
        append += " kvm-arm.mode=%s" % o.kvm_mode
    args = machine.l1_host(o.cpu) + ["-kernel", str(kernel.image(o.series.spec)),
                                     "-initrd", str(out / "initrd.gz"), "-append", append]
    if o.devices:
        args += ["-netdev", "user,id=n0",
                 "-device", "barlab-nic,netdev=n0,trace=%s/nic.trace%s" % (out, o.nic_props),
                 "-device", "barlab-gpu,trace=%s/gpu.trace,regs-trace=%s/gpu-regs.trace%s"
                 % (out, out, o.gpu_props)]
    return console_run(o.qemu, args + o.extra, out, o.timeout, o.echo)


def run(cmd, args, series=None):
    """Boot L1 once (options: USAGE_BOOT) into the --out directory as it
    is; the script's status."""
    o = parse(cmd, args, series)
    prepare(o)
    return start(o)


# --- the console protocol -------------------------------------------------------

def device_snapshot(mon):
    """barlab's devices (QOM types barlab-*), each as {"properties": its
    settable device properties, "counters": its read-only uint64 ones}."""
    devices = {}
    for parent in ("/machine/peripheral", "/machine/peripheral-anon"):
        for child in mon.cmd("qom-list", path=parent):
            m = re.fullmatch(r"child<(barlab-[a-z0-9-]+)>", child["type"])
            if not m:
                continue
            path = "%s/%s" % (parent, child["name"])
            if m.group(1) in devices:
                raise Fatal("two %s devices (%s): which one is meant?" % (m.group(1), path))
            settable = {p["name"] for p in mon.cmd("device-list-properties",
                                                   typename=m.group(1))}
            snap = {"properties": {}, "counters": {}}
            for prop in mon.cmd("qom-list", path=path):
                if prop["name"] in settable and prop["type"] in SCALAR_TYPES:
                    kind = "properties"
                elif prop["name"] not in settable and prop["type"] == "uint64":
                    kind = "counters"
                else:
                    continue
                snap[kind][prop["name"]] = mon.cmd("qom-get", path=path, property=prop["name"])
            devices[m.group(1)] = snap
    return devices


def tail(path, n=TAIL):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "    (no console output)"
    return "\n".join("    " + line for line in lines[-n:]) or "    (no console output)"


def _say(text):
    print("l1run: " + text, file=sys.stderr, flush=True)


def _take(qemu_proc, qmp_path, out, state, rc):
    """The screendumps and device snapshots the guest asked for, then quit
    QEMU; RC, or 125 if QMP failed."""
    try:
        with qmp.connect(qmp_path, 30) as mon:
            for name in state["dumps"]:
                png = out / (name + ".png")
                mon.cmd("screendump", filename=str(png), format="png")
                _say("screendump %s" % png)
            for name in state["devices"]:
                path = out / (name + ".json")
                with open(str(path) + ".tmp", "w") as f:
                    json.dump(device_snapshot(mon), f, indent=1, sort_keys=True)
                os.rename(str(path) + ".tmp", path)
            mon.cmd("quit")
    except Exception as e:  # pylint: disable=broad-except  # QMP's own errors too
        _say("QMP failed: %s" % e)
        rc = rc or 125
    try:
        qemu_proc.wait(30)
    except subprocess.TimeoutExpired:
        qemu_proc.kill()
        qemu_proc.wait()
    return rc


def console_run(binary, args, out, timeout, echo=False):
    """Run QEMU BINARY with ARGS, its serial console in OUT/console.log
    (and on stderr with ECHO), and follow the console protocol; the
    guest script's status, 124 or 125."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    console = out / "console.log"
    qmp_path = out / "qmp.sock"
    if os.path.lexists(qmp_path):
        qmp_path.unlink()
    cmd = [str(binary)] + list(args) + ["-serial", "stdio", "-monitor", "none",
                                        "-qmp", "unix:%s,server=on,wait=off" % qmp_path]
    (out / "qemu.cmdline").write_text(" ".join(cmd) + "\n")
    start_time = time.monotonic()
    state = {"exit": None, "dumps": [], "devices": [], "ready": None}
    ended = threading.Event()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except OSError as e:
        _say("cannot start %s: %s" % (binary, e))
        return 125

    def reader():
        with open(console, "wb") as log:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                if echo:
                    sys.stderr.buffer.write(line)
                    sys.stderr.flush()
                s = line.rstrip(b"\r\n")
                m = DUMP_RE.match(s)
                if m:
                    state["dumps"].append(m.group(1).decode())
                m = DEVICES_RE.match(s)
                if m:
                    state["devices"].append(m.group(1).decode())
                if s.startswith(b"barlab-l1: ready") and state["ready"] is None:
                    state["ready"] = time.monotonic() - start_time
                m = EXIT_RE.match(s)
                if m:
                    state["exit"] = int(m.group(1))
                    ended.set()
        ended.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        if not ended.wait(timeout):
            proc.kill()
            proc.wait()
            _say("timeout after %ds; console %s, last lines:\n%s" % (timeout, console,
                                                                     tail(console)))
            return 124
    finally:
        if proc.poll() is None and not ended.is_set():
            proc.kill()
    if state["exit"] is None:
        proc.wait()
        thread.join(5)
        _say("QEMU ended (status %s) before the guest reported an exit; console %s, last "
             "lines:\n%s" % (proc.returncode, console, tail(console)))
        return 125
    rc = state["exit"]
    asked = state["dumps"] + state["devices"]
    if not asked:
        # Nothing to take: the guest powers off by itself after its exit
        # line.  Asking QEMU to quit over QMP would race with that
        # power-off and fail a finished run on a busy machine.
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    elif proc.poll() is None:
        rc = _take(proc, qmp_path, out, state, rc)
    else:
        _say("QEMU ended before the screendumps or device snapshots %s could be taken"
             % ", ".join(asked))
        rc = rc or 125
    thread.join(5)
    (out / "timing").write_text("ready %.2f\nwall %.2f\n" % (state["ready"] or -1,
                                                              time.monotonic() - start_time))
    if rc:
        _say("the guest script ended with status %d; console %s, last lines:\n%s"
             % (rc, console, tail(console)))
    return rc


# --- command boot ----------------------------------------------------------------

def script_lines(console):
    """What `boot` shows of the console: the protocol's lines, and every
    line from the script's start ("barlab-l1: ready") on."""
    shown, script = [], False
    for line in console.read_text(errors="replace").split("\n"):
        script = script or line.startswith("barlab-l1: ready")
        if script or line.startswith("barlab-l1:"):
            shown.append(line.replace("\r", ""))
    return shown


def cmd_boot(args):
    """`barlab boot`: one boot into a staging directory that becomes --out
    when the run ends (output.py), then the L1 report and the script's
    output from the console."""
    o = parse("boot", args)
    if not o.out:
        o.out = str(build_dir() / "runs" / ("l1-%s-%d" % (time.strftime("%Y%m%d-%H%M%S"),
                                                          os.getpid())))
    o.series.build()
    with output.open_report("boot", "boot", o.out) as report:
        o.out = str(report.stage)
        setup.run()
        prepare(o)
        rc = start(o)
        if not (report.stage / "console.log").is_file():
            msg("boot: L1 did not start (exit %d)" % rc)
            return rc or 1
        if os.path.lexists(report.stage / "qmp.sock"):
            (report.stage / "qmp.sock").unlink()
        report.commit()
    console = report.dir / "console.log"
    if console.is_file():
        lines = script_lines(console)
        if lines and lines[-1] == "":
            lines.pop()
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
    msg("boot: L1 ran the kernel of %s" % o.series.label())
    msg("boot: console, traces and screendumps in %s" % report.dir)
    return rc


COMMANDS = [Command("boot", USAGE_BOOT, cmd_boot)]

