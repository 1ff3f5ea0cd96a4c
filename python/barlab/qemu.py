# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab's QEMU: qemu-system-aarch64 built from Debian's qemu source
package with barlab's device models (hw/barlab, the core they compile,
the qtests) and patches (hw/qemu-patches) on top, cached by its inputs;
the sanitizer build beside it; the meson QEMU's configure needs (Debian's
backport); and Debian's own stock QEMU, the benchmarks' baseline.

Layout below the cache (common.cache_dir()):
  downloads/                  the source package, as apt fetched it
  src/qemu-VERSION/           dpkg-source -x of it (Debian patches applied)
  src/qemu.version            the VERSION in use
  qemu/VERSION-work/src       one persistent tree: pristine + overlay,
                              synced by content so unchanged files keep
                              their mtimes and ninja rebuilds only changes
  qemu/VERSION-work/build     its build directory (ccache in ccache/)
  qemu/VERSION-KEY/           the binaries for one state of the inputs
                              (INPUTS; KEY), plus a stamp
  qemu/VERSION-asan,          the sanitizer variant's work tree and
  qemu/VERSION-asan-KEY/      binaries
  qemu-stock/KEY/             Debian's stock QEMU with its closure

Run as a module ('python3 -m barlab.qemu'), it serves the steps that run
as processes of their own."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from . import cache
from .apt import codename, host_arch, papt_argv, papt_deb, papt_root, papt_update
from .apt import install as apt_install
from .common import ROOT, Fatal, cache_dir, die, logs_dir, msg, run_step, tool_env

DEBIAN_SUITE = os.environ.get("QEMU_DEBIAN_SUITE") or "trixie"
SRC_APT = "src-" + DEBIAN_SUITE
# QEMU 10 needs meson >= 1.5; bookworm has 1.0.  Debian's backport is
# fetched into the cache and run from there (meson()).
MESON_SUITE = "bookworm-backports"

# The firmware and option ROMs that stock machines load (efi-virtio.rom
# for virtio-net-pci, vgabios for bochs-display, UEFI), found on the
# --firmwarepath below.
FIRMWARE_PACKAGES = ["ipxe-qemu", "seabios", "qemu-system-data", "qemu-efi-aarch64"]

# Debian packages the build needs.
BUILD_DEPS = [
    "dpkg-dev", "patch", "rsync", "ccache", "gcc", "pkg-config", "ninja-build", "python3-venv",
    "libglib2.0-dev", "zlib1g-dev", "libpixman-1-dev", "libfdt-dev", "libslirp-dev",
    "libpng-dev",
]

# configure options: everything not asked for is off, so the binary does
# not depend on which -dev packages happen to be on the machine.
CONFIGURE_ARGS = [
    "--python=/usr/bin/python3",
    "--cc=ccache gcc",
    "--target-list=aarch64-softmmu",
    "--without-default-features",
    "--without-default-devices",
    "--with-devices-aarch64=barlab",
    "--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu",
    "--disable-download",
    "--disable-install-blobs",
    "--disable-containers",
    "--disable-docs",
    "--disable-user",
    "--disable-tools",
    "--disable-guest-agent",
    "--disable-gtk",
    "--disable-sdl",
    "--disable-vnc",
    "--enable-tcg",
    "--enable-slirp",
    "--enable-pixman",
    "--enable-fdt=system",
    "--enable-png",
]

# The sanitizer variant (`build qemu --sanitize`): ASan and UBSan, with a
# UBSan report fatal as in upstream QEMU's CI, in its own work tree
# ("asan") and binaries (VERSION-asan-KEY), so the normal build is neither
# rebuilt nor disturbed.
SANITIZE_ARGS = [
    "--enable-asan",
    "--enable-ubsan",
    "--extra-cflags=-fno-sanitize-recover=undefined -fno-omit-frame-pointer",
]

# The sanitizer build's run-time options: a report is fatal.  The core's
# tests are checked for leaks too; QEMU's leaks at exit are not looked for
# (QEMU does not free everything when it quits).
ASAN_CORE_OPTIONS = "halt_on_error=1:abort_on_error=1:print_summary=1"
ASAN_OPTIONS = ASAN_CORE_OPTIONS + ":detect_leaks=0"
UBSAN_OPTIONS = "halt_on_error=1:abort_on_error=1:print_summary=1:print_stacktrace=1"

# Debian's own QEMU, the benchmarks' baseline.
STOCK_SUITE = "bookworm-backports"
STOCK_APT = "host-" + STOCK_SUITE
STOCK_PACKAGES = ["qemu-system-arm", "qemu-system-common", "qemu-system-data"]

# The repo's inputs to the build: the device models, the core they compile
# (its C files only), the qtests, the core patches and the device config.
INPUTS = ["hw/barlab", "hw/memtype/*.[ch]", "tests/qtest", "hw/qemu-patches", "hw/qemu-config"]


# --- Debian's packages ---------------------------------------------------------
# The private apt states and the machine's apt (barlab.apt's functions of
# the same names); every call into them is here.

def meson_apt():
    return "%s-%s" % (host_arch(), MESON_SUITE)


# --- the cache key -------------------------------------------------------------

def _inputs():
    found = []
    for pattern in INPUTS:
        found.extend(sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern)))
    return found


def key():
    """The cache key of the repo's QEMU additions (also when absent)."""
    inputs = _inputs()
    return cache.tree_hash(*inputs) if inputs else cache.text_hash(b"")


def ci_key():
    """`cache-key qemu`: the key with the configure arguments, from the
    repository alone."""
    return cache.text_hash(key() + "\n" + "".join(a + "\n" for a in CONFIGURE_ARGS))


def recipe(ver, sanitize=False):
    """What a finished build's stamp says."""
    text = "qemu %s\nconfigure %s\n" % (ver, " ".join(CONFIGURE_ARGS))
    if sanitize:
        text += "sanitize %s\n" % " ".join(SANITIZE_ARGS)
    return text


def _entry(ver, k, sanitize):
    return cache.Entry("qemu", "%s-%s%s" % (ver, "asan-" if sanitize else "", k),
                       recipe(ver, sanitize))


def _version():
    try:
        return (cache_dir() / "src" / "qemu.version").read_text().strip()
    except OSError:
        return None


def qtest_targets():
    """barlab's qtests, as ninja targets of the QEMU build: the names
    tests/qtest/meson.build lists."""
    try:
        text = (ROOT / "tests" / "qtest" / "meson.build").read_text()
    except OSError:
        return []
    return ["tests/qtest/barlab/" + t
            for t in re.findall(r"'([a-z0-9-]*-(?:test|fuzz))'", text)]


def binary(sanitize=False):
    """The qemu-system-aarch64 built for this tree, or None."""
    ver = _version()
    if not ver:
        return None
    entry = _entry(ver, key(), sanitize)
    exe = entry.path / "qemu-system-aarch64"
    if not entry.complete() or not os.access(exe, os.X_OK):
        return None
    return exe


def _have(with_qtests, sanitize):
    exe = binary(sanitize)
    if exe is None:
        return False
    return not with_qtests or all(os.access(exe.parent / t.rsplit("/", 1)[1], os.X_OK)
                                  for t in qtest_targets())


# --- the source ----------------------------------------------------------------

def source_uris():
    """The files of the qemu source package the private source state
    offers now, (NAME, SIZE) each (refreshes the lists)."""
    papt_update(SRC_APT, host_arch(), "deb-src:" + DEBIAN_SUITE)
    out = subprocess.run(papt_argv(SRC_APT, "apt-get", "source", "--print-uris",
                                   "qemu/" + DEBIAN_SUITE),
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                         check=False)
    if out.returncode != 0:
        raise Fatal("cannot find the qemu source package in Debian %s" % DEBIAN_SUITE)
    return [tuple(line.split()[1:3]) for line in out.stdout.splitlines()
            if line.startswith("'") and len(line.split()) >= 3]


def fetch():
    """Make sure an extracted source tree exists; its version.  The
    version is chosen once (whatever the suite has then) and recorded;
    remove src/qemu.version to move to a newer one."""
    dl = cache_dir() / "downloads"
    src = cache_dir() / "src"
    ver = _version()
    if ver and (src / ("qemu-" + ver)).is_dir():
        return ver
    dl.mkdir(parents=True, exist_ok=True)
    src.mkdir(parents=True, exist_ok=True)
    if not ver:
        dscs = [n for n, _ in source_uris() if n.startswith("qemu_") and n.endswith(".dsc")]
        if not dscs:
            die("no qemu .dsc in Debian %s" % DEBIAN_SUITE)
        ver = dscs[0][len("qemu_"):-len(".dsc")]
    dsc = dl / ("qemu_%s.dsc" % ver)
    if not dsc.is_file():
        # apt checks every file against the signed Sources index.
        papt_update(SRC_APT, host_arch(), "deb-src:" + DEBIAN_SUITE)
        run_step("qemu-download", papt_argv(SRC_APT, "apt-get", "source", "--download-only",
                                            "qemu/" + DEBIAN_SUITE),
                 cwd=dl, fatal="downloading the qemu source package failed")
    if not dsc.is_file():
        die("%s is missing after download (is %s still in %s?)" % (dsc, ver, DEBIAN_SUITE))
    # dpkg-source checks the tarballs against the .dsc's checksums and
    # applies Debian's patches.
    tmp = src / ("qemu-%s.tmp" % ver)
    shutil.rmtree(tmp, ignore_errors=True)
    run_step("qemu-unpack", ["dpkg-source", "--require-strong-checksums", "-x", str(dsc),
                             str(tmp)], fatal="unpacking %s failed" % dsc)
    os.rename(tmp, src / ("qemu-" + ver))
    (src / "qemu.version").write_text(ver + "\n")
    return ver


def source_path():
    """The unpacked QEMU source tree if there is one, else None (nothing
    is fetched)."""
    ver = _version()
    path = cache_dir() / "src" / ("qemu-%s" % ver) if ver else None
    return path if path and path.is_dir() else None


def source_dir():
    """The unpacked QEMU source tree (Debian's patches applied), fetched
    and unpacked if it is not there."""
    return cache_dir() / "src" / ("qemu-" + fetch())


def meson():
    """The directory of the meson QEMU's configure runs: Debian's
    MESON_SUITE package unpacked into the cache."""
    papt_update(meson_apt(), host_arch(), "deb:" + MESON_SUITE)
    deb = papt_deb(meson_apt(), "meson")
    tooldir = cache_dir() / "tools" / deb.name[:-len(".deb")]
    if not (tooldir / ".done").is_file():
        shutil.rmtree(tooldir, ignore_errors=True)
        tooldir.mkdir(parents=True)
        if subprocess.call(["dpkg-deb", "-x", str(deb), str(tooldir)]) != 0 or \
                not (tooldir / "usr" / "bin" / "meson").is_file():
            die("no usr/bin/meson in %s" % deb)
        (tooldir / ".done").touch()
    return tooldir


def _meson_path(tooldir):
    return str(tooldir / "usr" / "lib" / "python3" / "dist-packages")


# --- the tree: Debian's source with barlab's overlay and patches ---------------

def _edit(path, edit, check):
    """Replace PATH (it may be a hard link into the pristine tree) by
    EDIT(its lines); fail unless the result has the line CHECK."""
    lines = path.read_text().splitlines(keepends=True)
    lines = edit(lines)
    new = path.with_name(path.name + ".barlab-new")
    new.write_text("".join(lines))
    os.rename(new, path)
    if check not in (l.rstrip("\n") for l in lines):
        stage = str(path).split("/stage/", 1)[-1]
        raise Fatal("could not edit QEMU's %s" % stage)


def _append(line):
    def edit(lines):
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        return lines + [line + "\n"]
    return edit


def _after(pattern, line):
    def edit(lines):
        out = []
        for l in lines:
            out.append(l)
            if l.rstrip("\n") == pattern:
                out.append(line + "\n")
        return out
    return edit


def _overlay(stage):
    """Put barlab's device models, core and qtests into the QEMU tree and
    hook them into its build (meson, Kconfig, tracing)."""
    shutil.rmtree(stage / "hw" / "barlab", ignore_errors=True)
    shutil.rmtree(stage / "tests" / "qtest" / "barlab", ignore_errors=True)
    shutil.copytree(ROOT / "hw" / "barlab", stage / "hw" / "barlab", symlinks=True)
    if (ROOT / "hw" / "memtype").is_dir():
        (stage / "hw" / "barlab" / "memtype").mkdir(parents=True, exist_ok=True)
        for f in sorted(ROOT.glob("hw/memtype/*.[ch]")):
            shutil.copy(f, stage / "hw" / "barlab" / "memtype" / f.name)
    _edit(stage / "hw" / "meson.build", _append("subdir('barlab')"), "subdir('barlab')")
    if (ROOT / "hw" / "barlab" / "Kconfig").is_file():
        _edit(stage / "hw" / "Kconfig", _append("source barlab/Kconfig"),
              "source barlab/Kconfig")
    if (ROOT / "hw" / "barlab" / "trace-events").is_file():
        # trace_events_subdirs is a list literal: insert into it.
        _edit(stage / "meson.build", _after("trace_events_subdirs = [", "  'hw/barlab',"),
              "  'hw/barlab',")
    if (ROOT / "tests" / "qtest").is_dir():
        shutil.copytree(ROOT / "tests" / "qtest", stage / "tests" / "qtest" / "barlab",
                        symlinks=True)
        _edit(stage / "tests" / "qtest" / "meson.build", _append("subdir('barlab')"),
              "subdir('barlab')")


def stage(pristine, dest):
    """DEST = the QEMU tree this repo wants: a hard-link copy of PRISTINE
    without the firmware sources and packaging, plus the overlay (only if
    hw/barlab/meson.build exists), hw/qemu-config and
    hw/qemu-patches/*.patch but the cover letter, applied in order.  Files
    are replaced, never written through, so PRISTINE stays intact; the
    rsync only relinks what the previous overlay replaced."""
    pristine, dest = Path(pristine), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if subprocess.call(["rsync", "-a", "--delete", "--link-dest=%s" % pristine,
                        "--exclude=/roms", "--exclude=/debian", "--exclude=/.pc",
                        "%s/" % pristine, "%s/" % dest]) != 0:
        raise Fatal("rsync failed")
    if (ROOT / "hw" / "barlab" / "meson.build").is_file():
        _overlay(dest)
    mak = dest / "configs" / "devices" / "aarch64-softmmu" / "barlab.mak"
    if mak.exists() or mak.is_symlink():
        mak.unlink()
    shutil.copy(ROOT / "hw" / "qemu-config" / "aarch64-softmmu.mak", mak)
    for p in sorted((ROOT / "hw" / "qemu-patches").glob("*.patch")):
        # 0000-cover-letter.patch introduces the series and changes nothing.
        if not p.is_file() or p.name == "0000-cover-letter.patch":
            continue
        with open(p, "rb") as f:
            if subprocess.call(["patch", "-p1", "-d", str(dest), "--batch", "--forward",
                                "--no-backup-if-mismatch", "-r", "-"], stdin=f) != 0:
                raise Fatal("patch %s does not apply" % p.relative_to(ROOT))


def lock(tree="work"):
    """The lock on QEMU work tree TREE (work, asan, upstream), held while
    it is staged, built and its binaries copied out."""
    name = ".lock" if tree == "work" else ".lock-" + tree
    return cache.lock(cache_dir() / "qemu" / name, "the QEMU build tree")


def _self_argv(module, *args):
    return [sys.executable, "-P", "-m", module] + [str(a) for a in args]


def _self_env(env=None):
    env = dict(env if env is not None else tool_env())
    pypath = str(ROOT / "python")
    env["PYTHONPATH"] = pypath + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class Tree:
    """A persistent QEMU work tree (cache/qemu/VERSION-NAME) made the
    current overlay and patches on Debian's source, configured and built,
    with the lock on it held (tree_build)."""

    def __init__(self, ver, name, tooldir, k):
        self.ver = ver
        self.work = cache_dir() / "qemu" / ("%s-%s" % (ver, name))
        self.meson = tooldir
        self.key = k

    @property
    def build_dir(self):
        return self.work / "build"

    def env(self):
        """The environment QEMU's build and test runs need: the meson from
        the cache on PYTHONPATH (QEMU's venv sees it)."""
        env = tool_env()
        env["PYTHONPATH"] = _meson_path(self.meson)
        return env


def tree_build(name="work", with_qtests=False, sanitize=False):
    """With the lock on work tree NAME held (the caller's), make it the
    current overlay and patches on Debian's source, configured and built;
    the Tree."""
    apt_install(*(BUILD_DEPS + FIRMWARE_PACKAGES))
    ver = fetch()
    tooldir = meson()
    tree = Tree(ver, name, tooldir, key())
    work = tree.work
    build_recipe = recipe(ver, sanitize) + "meson %s" % tooldir.name
    msg("building QEMU %s for tree key %s in %s" % (ver, tree.key, work))

    pristine = cache_dir() / "src" / ("qemu-" + ver)
    run_step("qemu-overlay", _self_argv("barlab.qemu", "stage", pristine, work / "stage"),
             env=_self_env(),
             fatal="could not put hw/barlab and hw/qemu-patches onto QEMU %s" % ver)
    (work / "src").mkdir(parents=True, exist_ok=True)
    run_step("qemu-sync", ["rsync", "-rlp", "--checksum", "--delete", "--exclude=__pycache__",
                           "--out-format=%i %n", "%s/" % (work / "stage"),
                           "%s/" % (work / "src")],
             fatal="could not sync the QEMU source tree %s" % (work / "src"))

    build = tree.build_dir
    try:
        old = (build / "barlab-recipe").read_text().rstrip("\n")
    except OSError:
        old = None
    if not (build / "build.ninja").is_file() or old != build_recipe:
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir(parents=True)
        env = tree.env()
        env["CCACHE_DIR"] = str(cache_dir() / "ccache")
        run_step("qemu-configure", [str(work / "src" / "configure")] + CONFIGURE_ARGS +
                 (SANITIZE_ARGS if sanitize else []), env=env, cwd=build,
                 fatal="QEMU configure failed (full log: %s)"
                 % (build / "meson-logs" / "meson-log.txt"))
        (build / "barlab-recipe").write_text(build_recipe + "\n")
    targets = qtest_targets() if with_qtests else []
    env = tree.env()
    env["CCACHE_DIR"] = str(cache_dir() / "ccache")
    env["CCACHE_MAXSIZE"] = os.environ.get("CCACHE_MAXSIZE") or "5G"
    # Regenerate first: ninja rejects a target that only the new meson
    # files define before it gets to regenerate them.
    run_step("qemu-build", ["sh", "-c", 'ninja -C "$1" build.ninja && b=$1 && shift && '
                            'ninja -C "$b" qemu-system-aarch64 "$@"', "sh", str(build)] + targets,
             progress="ninja", env=env, fatal="building qemu-system-aarch64 failed")
    return tree


def _ninja_steps():
    last = None
    try:
        with open(logs_dir() / "qemu-build.log", errors="replace") as f:
            for line in f:
                m = re.match(r"^\[[0-9]*/[0-9]*\]", line)
                if m:
                    last = m.group(0)
    except OSError:
        pass
    return last


def build(qtests=False, sanitize=False):
    """Build qemu-system-aarch64 (with QTESTS: and barlab's qtests) for the
    current hw/barlab, hw/qemu-patches and hw/qemu-config unless that
    build exists; its path."""
    with_qtests = qtests
    if _have(with_qtests, sanitize):
        return binary(sanitize)
    name = "asan" if sanitize else "work"
    with lock(name):
        if _have(with_qtests, sanitize):
            return binary(sanitize)
        tree = tree_build(name, with_qtests, sanitize)
        msg("ninja ran %s steps" % (_ninja_steps() or "no"))
        entry = _entry(tree.ver, tree.key, sanitize)
        if entry.complete():
            entry.stamp.unlink()     # built before, without the qtests

        def fill(tmp):
            shutil.copy2(tree.build_dir / "qemu-system-aarch64", tmp)
            for t in (qtest_targets() if with_qtests else []):
                shutil.copy2(tree.build_dir / t, tmp)
        art = entry.build(fill, "the QEMU binaries")
    msg("QEMU ready: %s/qemu-system-aarch64" % art)
    return art / "qemu-system-aarch64"


# --- Debian's own QEMU, the benchmarks' baseline --------------------------------

_LAUNCHER = """\
#!/bin/sh
# Debian's qemu-system-aarch64 run from barlab's cache (python/barlab/qemu.py).
root=$(dirname "$0")/root
LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \\
    exec "$root/usr/bin/qemu-system-aarch64" -L "$root/usr/share/qemu" "$@"
"""


def _stock_deb(root, pkg, ver):
    found = sorted((root / "debs").glob("%s_%s_*.deb" % (pkg, ver.replace(":", "%3a"))))
    return found[0] if found else None


def stock_build():
    """Debian's qemu-system-aarch64 from STOCK_SUITE, unpacked into the
    cache with the packages of its dependency closure that the machine
    does not have (apt resolves against the host's dpkg status, read
    only); the path of a launcher that runs it from there.  Nothing is
    installed on the machine."""
    code = codename()
    papt_update(STOCK_APT, host_arch(), "--host-status", "deb:" + code, "deb:%s-updates" % code,
                "deb:" + STOCK_SUITE)
    sim = subprocess.run(papt_argv(STOCK_APT, "apt-get", "-s", "-q", "--no-install-recommends",
                                   "install", *("%s/%s" % (p, STOCK_SUITE)
                                                for p in STOCK_PACKAGES)),
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                         check=False).stdout
    closure = [(m.group(1), m.group(3)) for m in
               (re.match(r"^Inst ([^ ]*) (\[[^]]*\] )?\(([^ ]*) ", line)
                for line in sim.splitlines()) if m]
    root = papt_root(STOCK_APT)
    if not closure:
        die("apt cannot resolve %s from %s (private apt state %s)"
            % (" ".join(STOCK_PACKAGES), STOCK_SUITE, root))
    text = "".join("%s %s\n" % pv for pv in closure)
    entry = cache.Entry("qemu-stock", cache.text_hash(text), text)

    def make(tmp):
        debs = []
        for pkg, ver in closure:
            deb = _stock_deb(root, pkg, ver)
            if deb is None:
                if subprocess.call(papt_argv(STOCK_APT, "apt-get", "-qq", "download",
                                             "%s=%s" % (pkg, ver)),
                                   cwd=root / "debs", stdout=sys.stderr) != 0:
                    die("downloading %s %s from %s failed" % (pkg, ver, STOCK_SUITE))
                deb = _stock_deb(root, pkg, ver)
            debs.append(deb)
        (tmp / "root").mkdir()
        for deb in debs:
            if subprocess.call(["dpkg-deb", "-x", str(deb), str(tmp / "root")]) != 0:
                die("unpacking %s failed" % deb)
        if not os.access(tmp / "root" / "usr" / "bin" / "qemu-system-aarch64", os.X_OK):
            die("no usr/bin/qemu-system-aarch64 in %s" % STOCK_PACKAGES[0])
        launcher = tmp / "qemu-system-aarch64"
        launcher.write_text(_LAUNCHER)
        launcher.chmod(0o755)
    return entry.build(make, "the stock QEMU") / "qemu-system-aarch64"


def main(argv):
    """python3 -m barlab.qemu stage PRISTINE STAGE (the overlay step)."""
    if len(argv) != 3 or argv[0] != "stage":
        raise SystemExit("usage: python3 -m barlab.qemu stage PRISTINE STAGE")
    stage(argv[1], argv[2])
    return 0


if __name__ == "__main__":
    from .cli import main as cli_main   # pylint: disable=import-outside-toplevel
    sys.exit(cli_main(sys.argv[1:], serve=main))
