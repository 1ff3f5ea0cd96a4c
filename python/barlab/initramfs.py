# SPDX-License-Identifier: GPL-2.0-or-later
"""The L1 host's initramfs: Debian's arm64 busybox-static, the guest
drivers built against the L1 kernel, the VMM, the tools and payloads,
and target-tests/l1 (/init and its shell library); and l1_builds, what
an L1 boot needs (QEMU, kernel, initramfs), built side by side when cold.

Arm64 packages come from the machine's own Debian mirror through a
private apt state (barlab.apt, APT::Architecture=arm64), so the host's
dpkg never learns about arm64.

Layout:
  CACHE/apt/arm64-SUITE/          the private apt state and .debs
  BUILD/l1/src/                   a copy of the repo parts built here
  BUILD/l1/rootfs/                the tree that becomes the initramfs
  BUILD/l1/initramfs.cpio.gz, stamp (the inputs' key)
A user's kernel series has an initramfs of its own (BUILD/l1-series-SHA:
its modules are built against that kernel), so that barlab's stays built.
A SERIES argument is as in barlab.kernel."""

import fcntl
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from . import apt, kernel, kernelseries, payloads, qemu, regmaps
from .cache import text_hash, tree_hash
from .common import ROOT, Fatal, build_dir, cache_dir, die, msg, run_step

ARM64_SUITE = os.environ.get("ARM64_SUITE") or "bookworm"
ARM64_APT = "arm64-" + ARM64_SUITE
PACKAGES = ["busybox-static"]
# Host packages: the cross compiler, and for the static arm64 programs
# (fbdraw, barlab-vmm) the cross libc and kernel uAPI headers, which
# gcc-aarch64-linux-gnu only recommends.
HOST_PACKAGES = ["cpio", "rsync", "gzip", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross",
                 "linux-libc-dev-arm64-cross"]

# The repo parts inside the initramfs, and what the payloads include:
# the devices' register maps and PCI IDs and the C core's list of
# patterns; a part that does not exist is skipped.
PARTS = ["guest-drivers", "hw/barlab/barlab-gpu.h", "hw/barlab/nic-regs.h",
         "hw/memtype/patterns.h", "target-tests/l1", "target-tests/payloads", "target-tests/vmm"]

# /lib/barlab/pci-ids.sh, which l1.sh sources: the devices' PCI IDs as
# their headers define them.
PCI_IDS = """\
# barlab-nic's and barlab-gpu's PCI IDs (hw/barlab), written by barlab.initramfs.
BL_NIC=%(nic)s
BL_GPU=%(gpu)s
"""

# The parts with a Makefile whose static arm64 programs go to /usr/bin.
TOOLS = ["guest-drivers/tools", "target-tests/vmm"]

# The recipe's identity in the key: the sum the recipe had when it was
# scripts/lib/initramfs.sh, so that the initramfs built by it stays
# valid.  Give it a new value when a change here changes what is built.
RECIPE = {"scripts/lib/initramfs.sh":
          "abe2f8e54a32fab50bdadca355045a0ca9c62a16e44c66d08294195752561703",
          "python/barlab/initramfs.py": "2 /lib/barlab/pci-ids.sh"}

_series = kernelseries.of


def arm64_update():
    """The private arm64 apt state, its lists at most a day old."""
    apt.papt_update(ARM64_APT, "arm64", "deb:" + ARM64_SUITE)


def arm64_deb(pkg):
    """Download PKG (arm64, or all); the .deb's path."""
    return apt.papt_deb(ARM64_APT, pkg)


def _dir(desc):
    return build_dir() / ("l1-series-%s" % desc["sha256"][:12] if desc else "l1")


def _parts():
    return [p for p in PARTS if (ROOT / p).exists()]


def key(series=None):
    """The cache key of the initramfs of SERIES, from the repository alone."""
    desc = _series(series)
    return text_hash("%s\n%s\n%s\n" % (tree_hash(*_parts(), fixed=RECIPE), kernel.key(desc),
                                       " ".join(PACKAGES)))


def path(series=None):
    """The initramfs built for the current inputs, or None."""
    d = _dir(_series(series))
    try:
        if (d / "stamp").read_text().rstrip("\n") == key(series) and \
                (d / "initramfs.cpio.gz").is_file():
            return d / "initramfs.cpio.gz"
    except OSError:
        pass
    return None


def modules_argv(directory, kdir):
    """The make command line that builds the Kbuild modules in DIRECTORY
    against the kernel build tree KDIR, the way guest-drivers/Makefile
    builds barlab's own (also `barlab build module DIR`)."""
    return ["make", "-C", str(directory), "-f", str(ROOT / "guest-drivers" / "Makefile"),
            "KDIR=%s" % kdir, "ARCH=arm64", "CROSS_COMPILE=%s" % kernel.CROSS,
            "CC=ccache %sgcc" % kernel.CROSS, "CCACHE_DIR=%s" % (cache_dir() / "ccache"),
            "-j%d" % os.cpu_count()]


def _tools(src, rootfs):
    """The static arm64 programs of the parts that have a Makefile: every
    ELF executable the build leaves in the part's directory goes to
    /usr/bin.  A build step: its output is the log; its exit status."""
    for d in TOOLS:
        if not (src / d / "Makefile").is_file():
            continue
        print("== %s" % d, flush=True)
        if subprocess.call(["make", "-C", str(src / d), "CROSS_COMPILE=%s" % kernel.CROSS,
                            "CC=%sgcc" % kernel.CROSS]) != 0:
            return 1
        for f in sorted((src / d).iterdir()):
            if not (f.is_file() and os.access(f, os.X_OK)):
                continue
            with open(f, "rb") as fh:
                if fh.read(4) != b"\x7fELF":
                    continue
            shutil.copy(f, rootfs / "usr" / "bin" / f.name)
            os.chmod(rootfs / "usr" / "bin" / f.name, 0o755)
            print("installed /usr/bin/%s" % f.name, flush=True)
    return 0


def _cpio(rootfs, out):
    """ROOTFS as a reproducible newc cpio, gzipped, in OUT."""
    names = []
    for dirpath, dirs, files in os.walk(rootfs):
        rel = os.path.relpath(dirpath, rootfs)
        rel = "." if rel == "." else "./" + rel
        names += [rel] + [rel + "/" + n for n in dirs if os.path.islink(os.path.join(dirpath, n))]
        names += [rel + "/" + n for n in files]
    data = b"".join(os.fsencode(n) + b"\0" for n in sorted(names, key=os.fsencode))
    with open(out + ".tmp", "wb") as gz_out:
        gz = subprocess.Popen(["gzip", "-n", "-6"], stdin=subprocess.PIPE, stdout=gz_out)
        cpio = subprocess.run(["cpio", "--null", "--reproducible", "-o", "-H", "newc",
                               "-R", "0:0", "--quiet"], input=data, cwd=rootfs,
                              stdout=gz.stdin, check=False)
        gz.stdin.close()
        if gz.wait() != 0 or cpio.returncode != 0:
            return 1
    os.rename(out + ".tmp", out)
    return 0


def _step(name, what, *args, fatal):
    return run_step(name, [sys.executable, "-P", "-m", __name__, what] + [str(a) for a in args],
                    env=kernel._env(), cwd=ROOT, fatal=fatal)   # pylint: disable=protected-access


def build(series=None):
    """Build the L1 initramfs for the current tree unless it exists (the
    kernel first: the modules need its build tree); its path."""
    desc = _series(series)
    if path(desc):
        return path(desc)
    # The key of the inputs as they are now, before the kernel build: a
    # tree edited while the kernel builds must not stamp this initramfs as
    # made for a kernel that was never built.
    k = key(desc)
    kernel.build(desc)
    d = _dir(desc)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path(desc):
            _build(desc, d, k)
    return d / "initramfs.cpio.gz"


def _build(desc, d, k):
    apt.install(*HOST_PACKAGES)
    arm64_update()
    src, rootfs = d / "src", d / "rootfs"
    src.mkdir(parents=True, exist_ok=True)
    for p in _parts():
        if (ROOT / p).is_dir():
            (src / p).mkdir(parents=True, exist_ok=True)
            subprocess.run(["rsync", "-a", "--delete", "--exclude=*.o", "%s/" % (ROOT / p),
                            "%s/" % (src / p)], check=True)
        else:
            (src / p).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / p, src / p)
    shutil.rmtree(rootfs, ignore_errors=True)
    for sub in ("bin", "sbin", "usr/bin", "usr/sbin", "lib/modules/barlab", "lib/barlab/payloads",
                "etc", "root", "proc", "sys", "dev", "tmp", "run"):
        (rootfs / sub).mkdir(parents=True, exist_ok=True)

    deb = arm64_deb("busybox-static")
    with open(rootfs / "bin" / "busybox", "wb") as out:
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        busybox = subprocess.run(["tar", "-xO", "./bin/busybox"], stdin=tar.stdout, stdout=out,
                                 check=False)
        tar.stdout.close()
        if tar.wait() != 0 or busybox.returncode != 0:
            die("no /bin/busybox in %s" % deb)
    os.chmod(rootfs / "bin" / "busybox", 0o755)
    os.symlink("busybox", rootfs / "bin" / "sh")   # /init's interpreter; /init adds the rest

    shutil.copy(src / "target-tests" / "l1" / "init", rootfs / "init")
    os.chmod(rootfs / "init", 0o755)
    shutil.copy(src / "target-tests" / "l1" / "l1.sh", rootfs / "lib" / "barlab" / "l1.sh")
    os.chmod(rootfs / "lib" / "barlab" / "l1.sh", 0o644)
    (rootfs / "lib" / "barlab" / "pci-ids.sh").write_text(PCI_IDS % {
        "nic": regmaps.pci_id("nic", src), "gpu": regmaps.pci_id("gpu", src)})
    if (src / "guest-drivers" / "Kbuild").is_file():
        run_step("l1-modules", modules_argv(src / "guest-drivers", kernel.build_dir(desc)),
                 fatal="building guest-drivers/ against the L1 kernel failed")
        for ko in sorted((src / "guest-drivers").glob("*.ko")):
            shutil.copy(ko, rootfs / "lib" / "modules" / "barlab" / ko.name)
            os.chmod(rootfs / "lib" / "modules" / "barlab" / ko.name, 0o644)
    _step("l1-tools", "tools", src, rootfs, fatal="building the L1 tools failed")
    payloads.build()
    try:
        elves = payloads.path("agree").parent
    except Fatal:
        die("the payloads are missing after their build")
    for elf in sorted(elves.glob("*.elf")):
        shutil.copy(elf, rootfs / "lib" / "barlab" / "payloads" / elf.name)

    out = d / "initramfs.cpio.gz"
    _step("l1-cpio", "cpio", rootfs, out, fatal="packing the initramfs failed")
    (d / "stamp").write_text(k + "\n")
    msg("initramfs ready: %s (%d KiB)" % (out, (os.stat(out).st_blocks + 1) // 2))


# What l1_builds found built in this process, by series.
_l1_done = {}


def l1_builds(series=None):
    """What an L1 boot needs: barlab's QEMU, the L1 kernel and the
    initramfs.  On a first run (neither QEMU nor the kernel built yet) the
    QEMU build and the kernel and initramfs builds run side by side: each
    leaves a core idle in its single-threaded phases (unpacking,
    configure, linking) that the other fills.  The callers have installed
    the host packages (setup), so the two install nothing at the same
    time.  Once they are there, a process does not check them again (a
    matrix boots L1 once per CPU).  The paths of QEMU, the kernel's Image
    and the initramfs."""
    desc = _series(series)
    done = desc["sha256"] if desc else ""
    if done not in _l1_done:
        if kernel.image(desc) or qemu.binary():
            binary = qemu.build()
            build(desc)
        else:
            msg("building QEMU and the L1 kernel side by side")
            _side_by_side(desc)
            binary = qemu.binary()
        built = (binary, kernel.image(desc), path(desc))
        if not all(built):
            die("the builds ended, but the tree changed while they ran: run the command again")
        _l1_done[done] = built
    return _l1_done[done]


def _side_by_side(desc):
    """QEMU and the kernel with its initramfs, in two threads, each step a
    whole line (BARLAB_STEP_LINES)."""
    lines = os.environ.get("BARLAB_STEP_LINES")
    os.environ["BARLAB_STEP_LINES"] = "1"
    errors = {}

    def run(name, work):
        try:
            work()
        except Fatal as e:
            print("barlab: error: %s" % e, file=sys.stderr, flush=True)
            errors[name] = e
        except Exception as e:   # pylint: disable=broad-except
            errors[name] = e
            raise

    threads = [threading.Thread(target=run, args=("qemu", qemu.build)),
               threading.Thread(target=run, args=("kernel", lambda: build(desc)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if lines is None:
        del os.environ["BARLAB_STEP_LINES"]
    if "qemu" in errors:
        die("building barlab's QEMU failed (see above)")
    if "kernel" in errors:
        die("building the L1 kernel or initramfs failed (see above)")


def _main(argv):
    """The build steps that run in a process of their own."""
    if argv[:1] == ["tools"] and len(argv) == 3:
        return _tools(Path(argv[1]), Path(argv[2]))
    if argv[:1] == ["cpio"] and len(argv) == 3:
        return _cpio(argv[1], argv[2])
    print("usage: python3 -m barlab.initramfs tools SRC ROOTFS | cpio ROOTFS OUT",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
