# SPDX-License-Identifier: GPL-2.0-or-later
"""`barlab setup`: install the Debian packages of the machine's own
release that barlab's builds and tests need, or, with --dry-run, say what
would be installed and what barlab fetches into its cache through private
apt states (barlab.apt).  Each module that needs host packages defines
them beside the step that needs them (HOST_PACKAGES); setup collects
them.  Also the cache keys of the builds for a CI engine's cache."""

import glob
import subprocess

from . import apt, fullstack_vmm, initramfs, kernel, payloads, qemu
from .cli import Command
from .common import UsageError, cache_dir, die, msg

# Packages the C core, its tests and the host tools need.
CORE_PACKAGES = ["gcc", "g++", "meson", "ninja-build", "pkg-config", "libgtest-dev", "ccache",
                 "python3"]
# Packages the tests need beyond the builds: YAML for the CI files, a
# headless browser that renders the matrix's HTML report.
TEST_PACKAGES = ["python3-yaml", "chromium"]

USAGE = """usage: scripts/barlab setup [--dry-run]
install the Debian packages barlab needs (idempotent)
  --dry-run           say what would be installed, install nothing
"""

def host_packages():
    """Every host package, once, in a stable order."""
    out = []
    for pkg in (CORE_PACKAGES + TEST_PACKAGES + qemu.BUILD_DEPS + qemu.FIRMWARE_PACKAGES
                + kernel.HOST_PACKAGES + payloads.PACKAGES + initramfs.HOST_PACKAGES
                + list(fullstack_vmm.HOST_PACKAGES)):
        if pkg not in out:
            out.append(pkg)
    return out


def run():
    """Install the host packages (idempotent; a warm call only asks dpkg)."""
    pkgs = host_packages()
    if not apt.missing(*pkgs):
        msg("setup: the %d Debian packages barlab needs are installed" % len(pkgs))
        return
    apt.install(*pkgs)


def _cached(pattern):
    return "cached" if glob.glob(pattern) else "to fetch"


def _row(what, where, state):
    print("  %-46s %-26s %s" % (what, where, state), flush=True)


def _inst_count(argv):
    """How many packages apt-get -s ARGV would install."""
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, check=False).stdout
    return sum(1 for line in out.splitlines() if line.startswith("Inst "))


def _simulate(*pkgs):
    return ["apt-get", "-s", "-q", "--no-install-recommends", "install"] + list(pkgs)


def dry_run():
    """What `setup` and the builds would install and fetch.  Installs
    nothing and writes nothing outside barlab's cache (the private apt
    states' package lists are refreshed there).  Where the machine's own
    package lists are missing, the host packages are resolved through a
    private state that reads the host's dpkg status."""
    release = apt.codename()
    pkgs = host_packages()
    missing = apt.missing(*pkgs)
    print("Debian packages of this machine's release (%s), installed with its apt by "
          "'barlab setup':" % release)
    print("  needed: %d; installed: %d; to install: %d%s"
          % (len(pkgs), len(pkgs) - len(missing), len(missing),
             " (%s)" % " ".join(missing) if missing else ""), flush=True)
    host_state = None
    if apt.lists_missing():
        print("  the machine's package lists are missing: setup runs 'apt-get update' first",
              flush=True)
        host_state = "host-" + release
        apt.papt_update(host_state, apt.host_arch(), *["deb:" + s for s in apt.machine_suites()],
                        host_status=True)
    if missing:
        argv = _simulate(*missing)
        n = _inst_count(apt.papt_argv(host_state, *argv) if host_state else argv)
        if n <= 0:
            die("setup --dry-run: apt cannot resolve: %s" % " ".join(missing))
        print("  with their dependencies: %d packages" % n)
    if host_state:
        out = apt.papt(host_state, "apt-cache", "policy", kernel.PACKAGE,
                       stdout=subprocess.PIPE, text=True).stdout
        v = "".join(line.split()[1] for line in out.splitlines()
                    if line.split()[:1] == ["Candidate:"])
    else:
        v = kernel.version()
    if not v or v == "(none)":
        die("setup --dry-run: no %s in the machine's suites" % kernel.PACKAGE)

    print("Fetched into %s (nothing installed; apt's own configuration is not touched):"
          % cache_dir())
    cache = str(cache_dir())
    _row("%s %s" % (kernel.PACKAGE, v), "the machine's suites",
         _cached("%s/downloads/%s_%s_all.deb" % (cache, kernel.PACKAGE, v)))
    src_suite, meson_apt, meson_suite = qemu.DEBIAN_SUITE, qemu.meson_apt(), qemu.MESON_SUITE
    stock_apt, stock_suite, stock_pkgs = qemu.STOCK_APT, qemu.STOCK_SUITE, qemu.STOCK_PACKAGES
    vmm = fullstack_vmm.VMM_PACKAGE
    uris = qemu.source_uris()
    v = next((name[len("qemu_"):-len(".dsc")] for name, _ in uris
              if name.startswith("qemu_") and name.endswith(".dsc")), "")
    if not v:
        die("setup --dry-run: no qemu source package in Debian %s" % src_suite)
    _row("qemu %s (source)" % v, "Debian %s" % src_suite, "%s (%d MB)"
         % (_cached("%s/downloads/qemu_%s.dsc" % (cache, v)),
            sum(int(size) for _, size in uris) // 1000000))
    apt.papt_update(meson_apt, apt.host_arch(), "deb:" + meson_suite)
    v = apt.papt_version(meson_apt, "meson")
    if not v:
        die("setup --dry-run: no meson in Debian %s" % meson_suite)
    _row("meson %s" % v, "Debian %s" % meson_suite,
         _cached("%s/tools/meson_%s_all" % (cache, v.replace(":", "%3a", 1))))
    initramfs.arm64_update()
    arm64 = "Debian %s, arm64" % initramfs.ARM64_SUITE
    for pkg in initramfs.PACKAGES:
        v = apt.papt_version(initramfs.ARM64_APT, pkg)
        if not v:
            die("setup --dry-run: no arm64 %s in Debian %s" % (pkg, initramfs.ARM64_SUITE))
        _row("%s %s" % (pkg, v), arm64,
             "cached" if apt.papt_debs(initramfs.ARM64_APT, pkg, v) else "to fetch")
    v = apt.papt_version(initramfs.ARM64_APT, vmm)
    n = _inst_count(apt.papt_argv(initramfs.ARM64_APT, *_simulate(vmm)))
    if not v or n <= 0:
        die("setup --dry-run: apt cannot resolve arm64 %s in Debian %s"
            % (vmm, initramfs.ARM64_SUITE))
    _row("%s %s" % (vmm, v), arm64, "%d packages, for the full stack's L1" % n)
    apt.papt_update(stock_apt, apt.host_arch(), "deb:" + release, "deb:%s-updates" % release,
                    "deb:" + stock_suite, host_status=True)
    out = apt.papt(stock_apt, "apt-cache", "madison", stock_pkgs[0], stdout=subprocess.PIPE,
                   stderr=subprocess.DEVNULL, text=True).stdout
    v = next((f[1] for f in (line.split("|") for line in out.splitlines())
              if len(f) > 2 and stock_suite + "/" in f[2]), "").strip()
    if not v:
        die("setup --dry-run: no %s in Debian %s" % (stock_pkgs[0], stock_suite))
    _row("%s %s" % (stock_pkgs[0], v), "Debian %s" % stock_suite,
         "the benchmarks' baseline (bench only)")


def cache_key(what, series=None):
    """The key of barlab's build WHAT (kernel, initramfs) from the
    repository's inputs and the build recipe alone, without network or
    cache, for a CI engine's cache (.github/workflows, .gitlab-ci.yml).
    The builds key their cache entries the same way, with the Debian
    source version chosen on first fetch added."""
    if what == "kernel":
        return kernel.key(series)
    if what == "initramfs":
        return initramfs.key(series)
    raise ValueError(what)


def _command(args):
    if args and args != ["--dry-run"]:
        raise UsageError("setup", "unknown argument '%s'" % args[0])
    if args:
        dry_run()
    else:
        run()
    return 0


COMMANDS = [Command("setup", USAGE, _command)]
