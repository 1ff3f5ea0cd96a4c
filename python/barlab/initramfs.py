# SPDX-License-Identifier: GPL-2.0-or-later
"""The L1 initramfs: busybox, the guest drivers and tools, barlab's VMM
and payloads.  (Still built by scripts/lib/initramfs.sh through the
bridge.)"""

from pathlib import Path

from . import bashlib


def _use(series):
    return 'kernel_patches_use build "$1"; ' if series else ""


def build(series=None):
    if bashlib.run(_use(series) + "initramfs_build >&2", series or "", capture=False) != 0:
        bashlib.die_failed("building the initramfs")
    return path(series)


def path(series=None):
    if bashlib.status(_use(series) + "initramfs_path", series or "") != 0:
        return None
    return Path(bashlib.run(_use(series) + "initramfs_path", series or ""))


def key(series=None):
    """The initramfs's cache key (`cache-key initramfs`)."""
    return bashlib.run(_use(series) + "_initramfs_key", series or "")


def l1_builds(series=None):
    """QEMU, the kernel and the initramfs, side by side when cold."""
    if bashlib.run(_use(series) + "l1_builds >&2", series or "", capture=False) != 0:
        bashlib.die_failed("building the L1 host")
