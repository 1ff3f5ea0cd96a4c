# SPDX-License-Identifier: GPL-2.0-or-later
"""What `barlab fullstack` puts into L1 beside barlab's initramfs: the
stock VMM (Debian's arm64 qemu-system-aarch64 and the shared objects it
loads, from the packages' dependency closure), the L2 kernel and initrd,
and for --run the user's program with its shared objects and modules.

L1 gets them as an extra initramfs: the base L1 initramfs, then an
uncompressed cpio of the VMM tree and the L2 kernel and initrd, then the
run script (the kernel unpacks concatenated archives in order; an
uncompressed one must start 4-byte aligned).  Uncompressed because L1
unpacks it under TCG: 0.44 s of guest time for 64 MiB, against 1.0-1.4 s
for the same as gzip -1 (24 MiB) or zstd -3 (23 MiB).

Layout below BUILD/fullstack:
  vmm/root/, vmm/stamp       qemu-system-aarch64 and the shared objects
                             it loads (the stamp: the closure's key),
                             vmm/lists: the apt lists it was resolved from
  overlay.cpio, overlay.stamp   vmm/root + /lib/barlab/fullstack/{Image,initrd.gz}

`python3 -m barlab.fullstack_vmm tree DIR DEB...` is the logged step
that unpacks the packages and keeps what the VMM loads."""

import glob
import inspect
import os
import re
import shutil
import subprocess
import sys

from . import apt, cache, initramfs, kernel, l1
from .common import ROOT, build_dir, die, msg, run_step

VMM_PACKAGE = "qemu-system-arm"
VMM_BINARY = "usr/bin/qemu-system-aarch64"
# The walker reads ELF headers with the cross binutils.
HOST_PACKAGES = ("binutils-aarch64-linux-gnu",)
# Where the walker looks for a DT_NEEDED name, in order.
LIBDIRS = ("lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib", "usr/lib")


# The trees in the cache were keyed when _closure reached apt through the
# bash libraries: its source is hashed as it read then (this one call), so
# that they stay valid.
_KEYED_AS = ("apt.papt_argv(initramfs.ARM64_APT,", "fullstack_bash.papt_argv(")


def recipe():
    """The text the VMM tree's keys hash beside the packages: how the tree
    is made, that is the package, the binary, where the walker looks and
    the source of the functions that resolve, unpack and walk.  Any change
    to them rebuilds the tree."""
    parts = ["vmm-tree", VMM_PACKAGE, VMM_BINARY, " ".join(LIBDIRS)]
    parts += [inspect.getsource(f).replace(*_KEYED_AS)
              for f in (_closure, _readelf, needed, listing, vmm_tree)]
    return "\n".join(parts)


def fullstack_dir():
    return build_dir() / "fullstack"


def _sha(text):
    """16 hex digits of TEXT's sha256, as `sha256sum | cut -c1-16`."""
    return cache.text_hash(text)


def _readelf(cross, flag, path):
    proc = subprocess.run([cross + "readelf", flag, path], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True, check=False)
    return proc.stdout


def needed(stage, elfs, dest, cross):
    """Copy each ELF (a path relative to STAGE) with its program
    interpreter and its DT_NEEDED closure into DEST, symbolic links as
    they are.  Nothing else is needed at run time: `-M virt -kernel`
    loads no firmware, and -display none with -nodefaults loads none of
    QEMU's UI or audio modules.  Returns None, or why not (one line)."""
    seen = set()
    queue = list(elfs)
    while queue:
        f = queue.pop(0)
        if f in seen:
            continue
        seen.add(f)
        p = f
        while not os.path.lexists(os.path.join(dest, p)):   # the file, then its links' targets
            os.makedirs(os.path.join(dest, os.path.dirname(p)), exist_ok=True)
            try:
                shutil.copy2(os.path.join(stage, p), os.path.join(dest, p),
                             follow_symlinks=False)
            except OSError as e:
                return "cannot copy %s: %s" % (p, e.strerror)
            if not os.path.islink(os.path.join(dest, p)):
                break
            t = os.readlink(os.path.join(dest, p))
            p = t[1:] if t.startswith("/") else os.path.join(os.path.dirname(p), t)
        queue += re.findall(r"Requesting program interpreter: /(.*)\]",
                            _readelf(cross, "-lW", os.path.join(stage, f)))
        dynamic = _readelf(cross, "-dW", os.path.join(stage, f))
        for n in re.findall(r"\(NEEDED\).*\[(.*)\]", dynamic):
            found = [d + "/" + n for d in LIBDIRS if os.path.exists(os.path.join(stage, d, n))]
            if not found:
                return "%s needs %s, which no package of the closure has" % (f, n)
            queue.append(found[0])
    return None


def _du_k(path):
    return subprocess.run(["du", "-sk", str(path)], stdout=subprocess.PIPE, text=True,
                          check=False).stdout.split("\t")[0].strip()


def listing(root):
    """'N files, K KiB:' and the files below ROOT, one './PATH' a line."""
    files = sorted("./" + os.path.relpath(os.path.join(d, n), root)
                   for d, _dirs, names in os.walk(root) for n in names
                   if os.path.isfile(os.path.join(d, n)) and not os.path.islink(os.path.join(d, n)))
    return ["%d files, %s KiB:" % (len(files), _du_k(root))] + files


def vmm_tree(directory, debs, cross):
    """Unpack the packages DEBS into DIRECTORY/stage and copy what the VMM
    binary loads into DIRECTORY/root; prints the files kept.  Status."""
    stage, root = os.path.join(directory, "stage"), os.path.join(directory, "root")
    for d in (stage, root):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    for deb in debs:
        if subprocess.call(["dpkg-deb", "-x", deb, stage]) != 0:
            return 1
    if not os.access(os.path.join(stage, VMM_BINARY), os.X_OK):
        print("no %s in %s" % (VMM_BINARY, VMM_PACKAGE))
        return 1
    why = needed(stage, [VMM_BINARY], root, cross)
    if why:
        print(why)
        return 1
    shutil.rmtree(stage)
    print("\n".join(listing(root)))
    return 0


def _closure():
    """'PACKAGE VERSION' of each package of the VMM's dependency closure,
    as apt resolves it against an empty dpkg status (the private arm64
    apt state never installs anything), Recommends left out:
    qemu-system-gui, firmware, block modules, ..."""
    proc = subprocess.run(apt.papt_argv(initramfs.ARM64_APT,
        "apt-get", "-s", "-q", "--no-install-recommends", "install", VMM_PACKAGE),
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, check=False)
    return [m.group(1) + " " + m.group(2)
            for m in re.finditer(r"^Inst ([^ ]*) \(([^ ]*) .*", proc.stdout, re.M)]


def vmm_build():
    """The VMM tree for the current Debian packages, unless it exists;
    downloads with apt, verified against the signed index."""
    d = fullstack_dir() / "vmm"
    apt.install(*HOST_PACKAGES)
    initramfs.arm64_update()
    root = str(apt.papt_root(initramfs.ARM64_APT))
    # Resolving takes apt 2.4 s: only when the package lists changed.
    ls = subprocess.run(["ls", "-l", "--time-style=+%s", os.path.join(root, "state", "lists")],
                        stdout=subprocess.PIPE, text=True, check=False).stdout
    lists = _sha(ls + recipe())
    if _read(d / "lists") == lists and (d / "stamp").is_file():
        return
    closure = _closure()
    if not closure:
        die("apt cannot resolve %s for arm64 (private apt state %s)" % (VMM_PACKAGE, root))
    key = _sha("\n".join(closure) + "\n" + recipe())
    if _read(d / "stamp") == key:
        (d / "lists").write_text(lists + "\n")
        return
    run_step("fullstack-vmm-download", apt.papt_argv(
        initramfs.ARM64_APT, "apt-get", "-q", "-y", "--no-install-recommends", "install",
        "--download-only", VMM_PACKAGE),
        fatal="downloading %s and its dependencies (arm64) failed" % VMM_PACKAGE)
    debs = []
    for line in closure:
        pkg, ver = line.split(" ", 1)
        found = sorted(glob.glob("%s/cache/archives/%s_%s_*.deb"
                                 % (glob.escape(root), glob.escape(pkg),
                                    glob.escape(ver.replace(":", "%3a")))))
        if not found:
            die("apt downloaded the closure, but %s %s is not in %s/cache/archives"
                % (pkg, ver, root))
        debs.append(found[0])
    d.mkdir(parents=True, exist_ok=True)
    (d / "stamp").unlink(missing_ok=True)
    run_step("fullstack-vmm-tree",
             module_argv("barlab.fullstack_vmm", "tree", d, kernel.CROSS, *debs),
             fatal="building the VMM tree from %d packages failed" % len(debs))
    (d / "stamp").write_text(key + "\n")
    (d / "lists").write_text(lists + "\n")
    version = [line.split(" ", 1)[1] for line in closure if line.split(" ", 1)[0] == VMM_PACKAGE]
    msg("fullstack: %s %s: %d packages resolved, %s KiB kept"
        % (VMM_PACKAGE, "".join(version), len(debs), _du_k(d / "root")))


def _read(path):
    try:
        return path.read_text().rstrip("\n")
    except OSError:
        return None


def module_argv(module, *args):
    """The command line that runs main(ARGS) of barlab's MODULE (a step or
    a job of its own)."""
    return [sys.executable, "-P", "-c",
            "import sys, importlib; sys.path.insert(0, sys.argv[1]); "
            "sys.exit(importlib.import_module(sys.argv[2]).main(sys.argv[3:]))",
            str(ROOT / "python"), module] + [str(a) for a in args]


def cpio(directory):
    """DIRECTORY as a reproducible newc archive, owned by root (bytes)."""
    names = ["."]
    for d, dirs, files in os.walk(directory):
        rel = os.path.relpath(d, directory)
        for n in dirs + files:
            names.append("./" + os.path.normpath(os.path.join(rel, n)))
    names.sort(key=os.fsencode)
    proc = subprocess.run(["cpio", "--null", "--reproducible", "-o", "-H", "newc", "-R", "0:0",
                           "--quiet"], cwd=directory, stdout=subprocess.PIPE, check=False,
                          input=b"".join(os.fsencode(n) + b"\0" for n in names))
    if proc.returncode != 0:
        raise OSError("cpio of %s failed" % directory)
    return proc.stdout


def overlay_build(series=None):
    """The L1 overlay cpio (VMM, L2 kernel, L2 initrd) for the current
    inputs, unless it exists; its path."""
    d = fullstack_dir()
    base = initramfs.path(series)
    if base is None:
        die("fullstack: the L1 initramfs is not built")
    image = kernel.image(series)
    if image is None:
        die("fullstack: the kernel is not built")
    stamps = "".join(_text(p) for p in (d / "vmm" / "stamp", base.parent / "stamp"))
    key = _sha(stamps + "%s\n%s\n" % (image, cache.tree_hash("target-tests/fullstack")))
    if _read(d / "overlay.stamp") == key:
        return d / "overlay.cpio"
    tree = d / "overlay"
    shutil.rmtree(tree, ignore_errors=True)
    (d / "overlay.stamp").unlink(missing_ok=True)
    lib = tree / "lib" / "barlab" / "fullstack"
    lib.mkdir(parents=True)
    shutil.copytree(d / "vmm" / "root", tree, symlinks=True, dirs_exist_ok=True)
    # L2 runs the L1 kernel and initramfs: the same drivers and tools,
    # built for that kernel; /init runs l2-run.sh as /run.sh.
    shutil.copyfile(image, lib / "Image")
    l1.initrd(base, "", ROOT / "target-tests" / "fullstack" / "l2-run.sh", lib / "initrd.gz")
    try:
        (d / "overlay.cpio.tmp").write_bytes(cpio(tree))
    except OSError:
        die("fullstack: packing the overlay failed")
    os.replace(d / "overlay.cpio.tmp", d / "overlay.cpio")
    (d / "overlay.stamp").write_text(key + "\n")
    return d / "overlay.cpio"


def _text(path):
    try:
        return path.read_text()
    except OSError:
        return ""


# Where L2 finds a --run program (target-tests/fullstack/l2-run.sh reads
# the same directory).
RUN_DIR = "opt/barlab/run"


def run_sysroot():
    """Where a --run program's shared libraries come from: the cross
    toolchain's glibc, which it was linked against (libc6-arm64-cross,
    as Debian's arm64 libc6)."""
    return "/usr/" + kernel.CROSS.rstrip("-")


def user_cpio(out, prog, limit, modules, args):
    """The extra L1 initramfs of a --run, OUT/initrd-extra.cpio: the
    overlay, then /lib/barlab/fullstack/user.cpio.gz for L2's
    /opt/barlab/run (the program and the shared objects it loads, as
    needed() finds them in the cross toolchain's sysroot; the modules;
    the program's path, time limit, arguments and modules, one a line).
    Returns the lines of OUT/user.log (what L2 gets), or raises OSError
    saying why not."""
    root, stage, l1 = (os.path.join(out, n) for n in (".user-root", ".user-stage", ".user-l1"))
    name = os.path.basename(prog)
    run = os.path.join(root, RUN_DIR)
    for d in (root, stage, l1):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(stage, RUN_DIR, "bin"))
    os.makedirs(os.path.join(run, "modules"))
    os.makedirs(os.path.join(l1, "lib", "barlab", "fullstack"))
    shutil.copyfile(prog, os.path.join(stage, RUN_DIR, "bin", name))
    shutil.copymode(prog, os.path.join(stage, RUN_DIR, "bin", name))
    os.symlink(run_sysroot() + "/lib", os.path.join(stage, "lib"))
    why = needed(stage, [RUN_DIR + "/bin/" + name], root, kernel.CROSS)
    if why:
        raise OSError(why)

    def write(fname, lines):
        with open(os.path.join(run, fname), "w") as f:
            f.write("".join(line + "\n" for line in lines))
    write("program", ["/%s/bin/%s" % (RUN_DIR, name)])
    write("timeout", [str(limit)])
    write("args", args)
    for m in modules:
        shutil.copyfile(m, os.path.join(run, "modules", os.path.basename(m)))
    write("modules.list", ["/%s/modules/%s" % (RUN_DIR, os.path.basename(m)) for m in modules])
    gz = subprocess.run(["gzip", "-n", "-1"], input=cpio(root), stdout=subprocess.PIPE,
                        check=True).stdout
    with open(os.path.join(l1, "lib", "barlab", "fullstack", "user.cpio.gz"), "wb") as f:
        f.write(gz)
    # The overlay is whole 512-byte cpio blocks: the next archive is aligned.
    with open(os.path.join(out, "initrd-extra.cpio"), "wb") as f:
        with open(fullstack_dir() / "overlay.cpio", "rb") as o:
            shutil.copyfileobj(o, f)
        f.write(cpio(l1))
    lines = listing(root)
    for d in (root, stage, l1):
        shutil.rmtree(d)
    return lines


def main(argv):
    """tree DIR CROSS DEB...: the logged step of vmm_build()."""
    if len(argv) < 3 or argv[0] != "tree":
        print("usage: python3 -m barlab.fullstack_vmm tree DIR CROSS DEB...", file=sys.stderr)
        return 2
    return vmm_tree(argv[1], argv[3:], argv[2])
