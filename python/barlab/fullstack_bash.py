# SPDX-License-Identifier: GPL-2.0-or-later
"""Every call `barlab fullstack` still makes into the bash libraries, in
one place: the private arm64 apt state and the host packages (apt.sh,
initramfs.sh) and the kernel series and the kernel's build tree
(kernel.sh).
Each function goes when its owner's module is Python; barlab.fullstack
and barlab.fullstack_vmm reach bash only through here.

SERIES is a --kernel-patches spec ("DIR" or "+DIR") or None; the snippet
runs with that series in use.  A bash function that fails has said why
(and, for a usage mistake, exited 2): the command ends with its status
(SystemExit), adding nothing."""

import subprocess

from . import bashlib


def argv(snippet, *args, series=None):
    """The command line that runs SNIPPET with the libraries loaded."""
    use = '{ [ -z "$1" ] || kernel_patches_use fullstack "$1"; } && shift && '
    return bashlib.argv(use + snippet, [series or ""] + list(args))


def call(snippet, *args, series=None):
    """SNIPPET's exit status; its stdout and stderr are ours."""
    return subprocess.call(argv(snippet, *args, series=series), stdin=subprocess.DEVNULL)


def must(snippet, *args, series=None):
    """SNIPPET, or end the command with its status."""
    rc = call(snippet, *args, series=series)
    if rc != 0:
        raise SystemExit(rc)


def value(snippet, *args, series=None):
    """SNIPPET's stdout without the final newline, or end the command."""
    proc = subprocess.run(argv(snippet, *args, series=series), stdout=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.returncode)
    return proc.stdout.rstrip("\n")


# --- the kernel series (kernel.sh) ---------------------------------------

def series_policy(series):
    """Check the --kernel-patches SERIES (a usage mistake of fullstack if
    it is wrong); the policy it is fixed to, or ''."""
    return value('printf "%s\\n" "$KERNEL_SERIES_POLICY"', series=series)


def series_label(series):
    """The series that builds the kernel, for messages and summaries."""
    return value("kernel_series_label", series=series)


def series_build(series):
    """Build the kernel of SERIES, if one is given."""
    must("kernel_series_build", series=series)


def kernel_for_modules(series):
    """Build the kernel; (its build tree, the text its modules' cache key
    hashes: the kernel's key, its source version and how modules are
    built)."""
    out = value('kernel_build >&2; kernel_build_dir; { _kernel_key; _kernel_chosen;'
                ' declare -f _initramfs_modules; }', series=series)
    kdir, _, key_text = out.partition("\n")
    return kdir, key_text + "\n"


def modules_argv(src, kdir, series):
    """The command line that builds the Kbuild modules in SRC against KDIR."""
    return argv('_initramfs_modules "$1" "$2"', src, kdir, series=series)


def cross_prefix():
    """The cross toolchain's prefix (aarch64-linux-gnu-)."""
    return value('printf "%s\\n" "$KERNEL_CROSS"')


# --- host packages and the private arm64 apt state (apt.sh) --------------

def install(packages):
    """Install the host PACKAGES that are missing."""
    must('apt_install "$@"', *packages)


def install_initramfs_packages():
    """The host packages the initramfs' cross builds need."""
    must('apt_install "${INITRAMFS_HOST_PACKAGES[@]}"')


def arm64_root():
    """Update the private arm64 apt state; its directory."""
    return value('arm64_update; papt_root "$ARM64_APT"')


def papt_argv(*args):
    """The command line of apt (ARGS) in the private arm64 state."""
    return argv('papt "$ARM64_APT" "$@"', *args)
