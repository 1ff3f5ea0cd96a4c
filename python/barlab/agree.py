# SPDX-License-Identifier: GPL-2.0-or-later
"""The end-to-end agreement test (docs/agreement.md): boot the agree
payload on QEMU's virt board at EL2, then compare its UART log and the
device trace with hw/memtype's predictions (barlab-agree).

Environment:
  BARLAB_QEMU            qemu-system-aarch64 to use (default: barlab's build)
  BARLAB_AGREE_DEVICE    auto (default): barlab-gpu if this QEMU has it,
                         else pci-testdev; or gpu, or testdev
  BARLAB_AGREE_GPU_OPTS  extra barlab-gpu properties, e.g. port-mode=exact
  BARLAB_AGREE_SMP       vCPUs (default 2: with one, TCG translates in
                         serial mode, which changes Device alignment checks)
  BARLAB_AGREE_TIMEOUT   seconds before QEMU is killed (default 300)
  BARLAB_AGREE_TOOL      barlab-agree (default: the core build's)"""

import os
import subprocess
import sys
import time
from pathlib import Path

from . import core, machine, payloads
from . import qemu as barlab_qemu
from .common import build_dir, die, msg


def _device(qemu):
    want = os.environ.get("BARLAB_AGREE_DEVICE") or "auto"
    if want in ("gpu", "testdev"):
        return want
    if want != "auto":
        die("BARLAB_AGREE_DEVICE must be auto, gpu or testdev, not '%s'" % want)
    proc = subprocess.run([str(qemu)] + machine.device_help(), stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, check=False)
    return "gpu" if b'"barlab-gpu"' in proc.stdout else "testdev"


def _tail(title, path):
    """The last 20 lines of PATH, indented, on stderr."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return
    if not data:
        return
    msg("%s (%s), last lines:" % (title, path))
    for line in data.decode(errors="replace").splitlines()[-20:]:
        sys.stderr.write("    %s\n" % line)
    sys.stderr.flush()


def _ms():
    return time.monotonic_ns() // 1000000


def _secs(ms):
    return "%d.%d" % (ms // 1000, ms % 1000 // 100)


def _summary(report):
    """The lines of barlab-agree's REPORT to print: the disagreement lines
    can number thousands: the first few, then the classes and the figure;
    the file has everything."""
    out = []
    n = 0
    told = False
    with open(report, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("disagree:"):
                n += 1
                if n <= 10:
                    out.append(line)
                continue
            if line.startswith("reserved:"):
                continue
            if n > 10 and not told:
                out.append("... %d more disagreements in %s" % (n - 10, report))
                told = True
            out.append(line)
    return out


def run(cpu, out=None, qemu=None):
    """Run the agreement payload on -cpu CPU with its console log
    (console.log), QEMU's own messages (qemu.log), the device trace
    (trace.bin) and the full barlab-agree report (agree.txt) in OUT
    (default BUILD/agree/CPU).  Prints the disagreement classes and the
    agreement figure; returns barlab-agree's status (0 when every cell
    agrees), or non-zero if QEMU failed (124: timed out)."""
    smp = os.environ.get("BARLAB_AGREE_SMP") or "2"
    limit = int(os.environ.get("BARLAB_AGREE_TIMEOUT") or 300)
    tool = os.environ.get("BARLAB_AGREE_TOOL") or str(core.tool_path("barlab-agree"))
    if not cpu:
        die("agree_run: usage: agree_run CPU [OUTDIR [QEMU]]")
    out = Path(out or build_dir() / "agree" / cpu)
    qemu = qemu or os.environ.get("BARLAB_QEMU") or barlab_qemu.binary()
    if not qemu:
        die("agree: no QEMU: pass its path, set BARLAB_QEMU, or build it first")
    if not (os.path.isfile(qemu) and os.access(qemu, os.X_OK)):
        die("agree: %s is not an executable" % qemu)
    if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
        die("agree: %s is not built (scripts/barlab build)" % tool)
    payload = payloads.find("agree")
    if payload is None:
        msg(payloads.not_built("agree"))
        die("agree: the agree payload is not built")

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError:
        die("agree: cannot create %s" % out)
    for name in ("console.log", "qemu.log", "trace.bin", "agree.txt"):
        try:
            (out / name).unlink()
        except FileNotFoundError:
            pass
    device = _device(qemu)
    if device == "gpu":
        opts = os.environ.get("BARLAB_AGREE_GPU_OPTS")
        devargs = ["-device", "barlab-gpu,trace=%s%s" % (out / "trace.bin",
                                                         "," + opts if opts else "")]
        checkargs = [str(out / "console.log"), str(out / "trace.bin")]
    else:
        # Same layout as barlab-gpu's VRAM: BAR2, 64-bit prefetchable, 16 MiB.
        # It has no memory-type trace: check the faults only.
        msg("agree: this QEMU has no barlab-gpu: using pci-testdev, faults only (--no-trace)")
        devargs = ["-device", "pci-testdev,membar=16M",
                   "-append", "vendor=0x1b36 device=0x0005 bar=2"]
        checkargs = ["--no-trace", str(out / "console.log")]

    msg("agree: -cpu %s -smp %s, %s, output in %s" % (cpu, smp, device, out))
    argv = ([str(qemu)] + machine.virt(cpu, smp=smp, memory="256M") +
            ["-monitor", "none", "-serial", "file:%s" % (out / "console.log"),
             "-kernel", str(payload)] + devargs)
    t0 = _ms()
    with open(out / "qemu.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            rc = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            rc = 124
    t1 = _ms()
    if rc != 0:
        if rc == 124:
            msg("agree: QEMU timed out after %ds (-cpu %s)" % (limit, cpu))
        else:
            msg("agree: QEMU failed with exit status %d (-cpu %s)"
                % (rc if rc > 0 else 128 - rc, cpu))
        _tail("QEMU said", out / "qemu.log")
        _tail("console", out / "console.log")
        return rc if rc > 0 else 128 - rc
    if device == "gpu" and not (out / "trace.bin").is_file():
        _tail("QEMU said", out / "qemu.log")
        die("agree: QEMU exited but wrote no device trace (%s)" % (out / "trace.bin"))

    with open(out / "agree.txt", "wb") as report:
        arc = subprocess.call([tool] + checkargs, stdout=report, stdin=subprocess.DEVNULL)
    t2 = _ms()
    if arc >= 2 or arc < 0:
        sys.stderr.write((out / "agree.txt").read_text(errors="replace"))
        _tail("console", out / "console.log")
        msg("agree: barlab-agree could not read this run (exit %d)" % arc)
        return arc if arc > 0 else 128 - arc
    sys.stdout.write("".join(line + "\n" for line in _summary(out / "agree.txt")))
    sys.stdout.flush()
    msg("agree: -cpu %s: QEMU %s s, barlab-agree %s s wall" % (cpu, _secs(t1 - t0),
                                                                _secs(t2 - t1)))
    return arc


def main(argv):
    """python3 -m barlab.agree CPU [OUTDIR [QEMU]] (agree_run)."""
    return run(*(a or None for a in argv[:3])) if argv else run("")


if __name__ == "__main__":
    from .cli import main as cli_main   # pylint: disable=import-outside-toplevel
    sys.exit(cli_main(sys.argv[1:], serve=main))
