# SPDX-License-Identifier: GPL-2.0-or-later
"""The L1 host kernel: Debian's linux-source-6.12 with the series in
kernel-patches/ (or a user's, barlab.kernelseries) applied by git am,
configured as allnoconfig plus kernel-patches/l1.config, cross-built for
arm64 with ccache, cached by its inputs.

Layout below the cache:
  downloads/linux-source-6.12_VERSION_all.deb
  src/linux.version           the VERSION in use (chosen once; remove the
                              file to move to a newer Debian upload)
  src/linux-VERSION/          one git tree: tag "debian" is the pristine
                              source, HEAD that plus the series; its
                              .barlab-build/ is the build directory (a
                              subdirectory, so compile commands use
                              relative paths and ccache hits anywhere)
  src/linux-VERSION-user/     a clone of it for users' series, so that
                              building one leaves barlab's tree and build
                              as they are
  kernel/VERSION-KEY/         Image, System.map, config for one state of
                              the inputs (KEY), a stamp

A SERIES argument is None (barlab's own), a --kernel-patches spec ("DIR"
or "+DIR") or its description (kernelseries.use)."""

import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import apt, kernelseries
from .cache import text_hash, tree_hash
from .common import ROOT, cache_dir, die, logs_dir, msg, run_step, tool_env

PACKAGE = "linux-source-6.12"
CROSS = "aarch64-linux-gnu-"
# Files a first build of the current l1.config compiles (the stamp's
# "compiled" line), for the progress estimate.
FILES = 1050

HOST_PACKAGES = ["gcc-aarch64-linux-gnu", "make", "bc", "bison", "flex", "libssl-dev",
                 "libelf-dev", "cpio", "kmod", "git", "ccache", "xz-utils"]

# Fixed build identity, so that the same inputs give the same Image and
# init/version.o is a ccache hit.
MAKE_ENV = [("KBUILD_BUILD_USER", "barlab"), ("KBUILD_BUILD_HOST", "barlab"),
            ("KBUILD_BUILD_TIMESTAMP", "Thu Jan  1 00:00:00 UTC 1970")]

# The recipe's identity in the key: the sum the recipe had when it was
# scripts/lib/kernel.sh, so that the kernels built by it stay valid.  Give
# it a new value when a change here changes what is built.
RECIPE = {"scripts/lib/kernel.sh":
          "eb30f430c81f0fc9adc40de666a064f5270ca8bc0e4bddca0074db8aa6ec2506"}

_series = kernelseries.of


def _inputs(desc):
    patches = []
    if not desc or desc["mode"] != "instead":
        patches = ["kernel-patches/series"] + sorted(
            os.path.relpath(p, ROOT) for p in glob.glob(str(ROOT / "kernel-patches" / "*.patch")))
    return patches + ["kernel-patches/l1.config"]


def key(series=None):
    """The cache key of the kernel of SERIES, from the repository alone."""
    desc = _series(series)
    text = "%s\n%s\n" % (tree_hash(*_inputs(desc), fixed=RECIPE),
                         " ".join("%s=%s" % kv for kv in MAKE_ENV))
    if desc:
        text += "series %s %s\n" % (desc["mode"], desc["sha256"])
    return text_hash(text)


def _series_hash(desc):
    """The series alone (what the source tree depends on)."""
    patches = [p for p in _inputs(desc) if p.endswith((".patch", "/series"))]
    if not desc:
        return tree_hash(*patches)
    text = tree_hash(*patches) + "\n" if patches else ""
    return text_hash(text + "series %s %s\n" % (desc["mode"], desc["sha256"]))


def _tree(version, desc):
    return cache_dir() / "src" / ("linux-%s%s" % (version, "-user" if desc else ""))


def chosen():
    """The Debian source version in use, or None before the first fetch."""
    try:
        return (cache_dir() / "src" / "linux.version").read_text().rstrip("\n")
    except OSError:
        return None


def _out(desc):
    ver = chosen()
    return cache_dir() / "kernel" / ("%s-%s" % (ver, key(desc))) if ver else None


def image(series=None):
    """The Image built for the current inputs, or None."""
    out = _out(_series(series))
    if out and (out / "stamp").is_file() and (out / "Image").is_file():
        return out / "Image"
    return None


def build_dir(series=None):
    """The kernel build directory (for out-of-tree modules); valid after
    build(), None before the first fetch."""
    ver = chosen()
    return _tree(ver, _series(series)) / ".barlab-build" if ver else None


def version():
    """The Debian version of linux-source-6.12 the machine's apt offers."""
    out = subprocess.run(["apt-cache", "policy", PACKAGE], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, check=False).stdout
    for line in out.splitlines():
        w = line.split()
        if len(w) >= 2 and w[0] == "Candidate:" and w[1] != "(none)":
            return w[1]
    return ""


def _git(*args, **kwargs):
    kwargs.setdefault("check", False)
    return subprocess.run(["git", "-c", "user.name=barlab", "-c", "user.email=barlab@invalid",
                           "-c", "advice.detachedHead=false"] + list(args), **kwargs)


def _unpack(deb, srcdir):
    """The source tarball of DEB, extracted into SRCDIR and committed as
    tag "debian" (a build step: its output is the log).  Debian's
    .gitignore ignores the whole top level, hence add -f."""
    shutil.rmtree(srcdir, ignore_errors=True)
    os.makedirs(srcdir)
    deb_tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    inner = subprocess.Popen(["tar", "-xO", "./usr/src/%s.tar.xz" % PACKAGE],
                             stdin=deb_tar.stdout, stdout=subprocess.PIPE)
    deb_tar.stdout.close()
    src = subprocess.run(["tar", "-xJ", "-C", srcdir, "--strip-components=1"],
                         stdin=inner.stdout, check=False)
    inner.stdout.close()
    if (inner.wait() or deb_tar.wait() or src.returncode
            or not os.path.isfile(os.path.join(srcdir, "Makefile"))):
        return 1
    for args in (["init", "-q"], ["add", "-f", "."],
                 ["commit", "-q", "-m", "Debian %s %s" % (PACKAGE, os.path.basename(deb))],
                 ["tag", "debian"]):
        if _git(*args, cwd=srcdir).returncode != 0:
            return 1
    return 0


def _step(name, what, *args, fatal=None, progress=None):
    """A build step that runs WHAT (a function of this module's __main__)
    with ARGS in a process of its own, its output in NAME's log."""
    return run_step(name, [sys.executable, "-P", "-m", __name__, what] + [str(a) for a in args],
                    env=_env(), cwd=ROOT, fatal=fatal, progress=progress)


def _env():
    env = tool_env()
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "python")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def fetch():
    """Make sure the source tree exists; its Debian version."""
    dl, src = cache_dir() / "downloads", cache_dir() / "src"
    ver = chosen()
    if ver and (src / ("linux-%s" % ver) / ".git").is_dir():
        return ver
    apt.update_once()
    ver = ver or version()
    if not ver:
        die("apt has no %s package (it is in bookworm-security, bookworm-backports and trixie)"
            % PACKAGE)
    dl.mkdir(parents=True, exist_ok=True)
    src.mkdir(parents=True, exist_ok=True)
    deb = dl / ("%s_%s_all.deb" % (PACKAGE, ver))
    if not deb.is_file():
        # apt checks the package against the signed index.
        run_step("kernel-download", ["apt-get", "download", "%s=%s" % (PACKAGE, ver)], cwd=dl,
                 fatal="downloading %s %s failed" % (PACKAGE, ver))
        if not deb.is_file():
            die("%s %s: no %s after download" % (PACKAGE, ver, deb))
    tree = src / ("linux-%s" % ver)
    _step("kernel-unpack", "unpack", deb, str(tree) + ".tmp",
          fatal="unpacking %s failed" % deb)
    shutil.rmtree(tree, ignore_errors=True)
    os.rename(str(tree) + ".tmp", tree)
    (src / "linux.version").write_text(ver + "\n")
    return ver


def _fetch_user(desc):
    """fetch(), and the clone for users' series."""
    ver = fetch()
    tree = _tree(ver, desc)
    if desc and not (tree / ".git").is_dir():
        tmp = str(tree) + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        if _git("clone", "-q", "--no-checkout", str(_tree(ver, None)), tmp).returncode != 0:
            die("cloning %s for the user's series failed" % _tree(ver, None))
        os.rename(tmp, tree)
    return ver


def _sha1(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def _apply(tree, desc, log):
    """TREE = tag debian + the series, unless it already is.  Progress goes
    to LOG; None, or why the series does not apply (the patch and its
    failing hunk, kernelseries.apply)."""
    want = _series_hash(desc)
    mark = tree / ".barlab-series"
    try:
        if mark.read_text().rstrip("\n") == want:
            return None
    except OSError:
        pass
    mark.unlink(missing_ok=True)
    patches = json.loads(kernelseries.as_json(desc))["patches"]
    _git("am", "--abort", cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Files the old series touched: content hash and mtime, so that those
    # the new series leaves as they were keep their mtime and make does not
    # rebuild what includes them (esr.h: nearly all).
    touched = _git("diff", "--name-only", "debian", "HEAD", "--", cwd=tree,
                   stdout=subprocess.PIPE, text=True).stdout.splitlines()
    kept = [(p, _sha1(tree / p), int(os.stat(tree / p).st_mtime))
            for p in touched if (tree / p).is_file()]
    _git("checkout", "-q", "-f", "--detach", "debian", cwd=tree, stdout=log, stderr=log)
    err = kernelseries.apply(str(tree), patches, log=log)
    # Also after a patch that did not apply: the next series starts from
    # these mtimes.
    for p, sha1, mtime in kept:
        if (tree / p).is_file() and _sha1(tree / p) == sha1:
            os.utime(tree / p, (mtime, mtime))
    if err:
        return "\n".join(err)
    mark.write_text(want + "\n")
    return None


def _make_argv(tree, *targets):
    return ["make", "-C", str(tree), "O=.barlab-build", "ARCH=arm64",
            "CROSS_COMPILE=%s" % CROSS, "CC=ccache %sgcc" % CROSS,
            "-j%d" % os.cpu_count()] + list(targets)


def _make_env():
    env = tool_env()
    env.update(MAKE_ENV)
    env["CCACHE_DIR"] = str(cache_dir() / "ccache")
    env.setdefault("CCACHE_MAXSIZE", "5G")
    return env


def _configure(tree):
    """allnoconfig + the fragment, and a check that every symbol the
    fragment sets, or leaves out, survived (a renamed or unmet symbol, or
    one that another selects, would otherwise go unseen).  A build step:
    its output is the log; its exit status."""
    frag = ROOT / "kernel-patches" / "l1.config"
    env = _make_env()
    for argv, cwd in ((_make_argv(tree, "allnoconfig"), None),
                      (["scripts/kconfig/merge_config.sh", "-m", "-O", ".barlab-build",
                        ".barlab-build/.config", str(frag)], tree),
                      (_make_argv(tree, "olddefconfig"), None)):
        sys.stdout.flush()
        if subprocess.call(argv, cwd=cwd, env=dict(env, ARCH="arm64")) != 0:
            return 1
    lost = fragment_lost(frag.read_text().splitlines(),
                         (tree / ".barlab-build" / ".config").read_text().splitlines())
    for line in lost:
        print("kernel-patches/l1.config: not in the final .config: %s" % line)
    return 1 if lost else 0


def fragment_lost(fragment, config):
    """The lines of the config FRAGMENT that the final CONFIG does not
    have, each with what it has instead."""
    lost = []
    for line in fragment:
        line = line.strip()
        if line.startswith("CONFIG_") and "=" in line:
            sym = line.split("=", 1)[0]
            if line not in config:
                got = [c for c in config if re.match(r"^(# )?%s[= ]" % sym, c)]
                lost.append("%s (got: %s)" % (line, "\n".join(got) or "unset"))
        elif re.match(r"^# CONFIG_\S+ is not set$", line):
            sym = line.split()[1]
            got = [c for c in config if re.match(r"^%s=[ym]" % sym, c)]
            if got:
                lost.append("%s (got: %s, selected by another option)"
                            % (line, "\n".join(c for c in config if c.startswith(sym + "="))))
    return lost


def _locked(path):
    """An exclusive lock on PATH; says so while another barlab has it."""
    f = open(path, "a")  # pylint: disable=consider-using-with
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        msg("waiting for another barlab to finish building the kernel")
        fcntl.flock(f, fcntl.LOCK_EX)
    return f


def _key_of_build(ver, desc):
    try:
        return (_tree(ver, desc) / ".barlab-build" / "barlab-key").read_text().rstrip("\n")
    except OSError:
        return None


def build(series=None):
    """Build Image for the current inputs unless that build exists; its
    path."""
    desc = _series(series)
    ready = image(desc)
    if ready and _key_of_build(chosen(), desc) == key(desc):
        return ready
    (cache_dir() / "kernel").mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir() / "kernel" / ".lock"):
        apt.install(*HOST_PACKAGES)
        ver = _fetch_user(desc)
        k = key(desc)
        tree = _tree(ver, desc)
        art = cache_dir() / "kernel" / ("%s-%s" % (ver, k))
        if (art / "stamp").is_file() and _key_of_build(ver, desc) == k:
            return art / "Image"
        _build(desc, ver, k, tree, art)
    return art / "Image"


def _build(desc, ver, k, tree, art):
    label = kernelseries.label(desc)
    msg("building Linux %s (Debian %s) with %s for key %s" % (ver, PACKAGE, label, k))
    start = time.monotonic()
    logs = logs_dir()
    logs.mkdir(parents=True, exist_ok=True)
    bdir = tree / ".barlab-build"
    # The build directory is for no key until the build ends: a series
    # that fails to apply leaves the tree as no finished build had it.
    (bdir / "barlab-key").unlink(missing_ok=True)
    with open(logs / "kernel-patch.log", "w") as log:
        err = _apply(tree, desc, log)
    if err is not None:
        die("%s does not apply to Debian %s %s: %s"
            % (label, PACKAGE, ver, err or "see %s/kernel-patch.log" % logs))
    bdir.mkdir(parents=True, exist_ok=True)
    cfg_hash = tree_hash("kernel-patches/l1.config")
    try:
        configured = (bdir / "barlab-config").read_text().rstrip("\n") == cfg_hash
    except OSError:
        configured = False
    if not configured:
        _step("kernel-configure", "configure", tree, fatal="configuring the kernel failed")
        (bdir / "barlab-config").write_text(cfg_hash + "\n")
    # A first build compiles about FILES files; an incremental one shows
    # how many it compiled so far.
    total = 0 if (bdir / "vmlinux").is_file() else FILES
    run_step("kernel-build", _make_argv(tree, "Image", "modules"), env=_make_env(),
             progress="kbuild:%d" % total, fatal="building the kernel failed")
    tmp = art.parent / (art.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copy(bdir / "arch" / "arm64" / "boot" / "Image", tmp)
    shutil.copy(bdir / "System.map", tmp)
    shutil.copy(bdir / ".config", tmp / "config")
    with open(logs / "kernel-build.log", "rb") as f:
        compiled = sum(1 for line in f if line.startswith(b"  CC "))
    (tmp / "stamp").write_text("linux %s\nkey %s\nseconds %d\ncompiled %d\nseries %s\n"
                               % (ver, k, time.monotonic() - start, compiled, label))
    shutil.rmtree(art, ignore_errors=True)
    os.rename(tmp, art)
    (bdir / "barlab-key").write_text(k + "\n")
    msg("kernel ready: %s/Image (%d s)" % (art, time.monotonic() - start))


def _main(argv):
    """The build steps that run in a process of their own."""
    if argv[:1] == ["unpack"] and len(argv) == 3:
        return _unpack(argv[1], argv[2])
    if argv[:1] == ["configure"] and len(argv) == 2:
        return _configure(Path(argv[1]))
    print("usage: python3 -m barlab.kernel unpack DEB DIR | configure TREE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
