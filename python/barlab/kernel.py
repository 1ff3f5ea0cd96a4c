# SPDX-License-Identifier: GPL-2.0-or-later
"""The L1 host kernel: Debian's linux-source-6.12 with kernel-patches/ (or
a user's series), cross-built with ccache, cached by its inputs.  (Still
built by scripts/lib/kernel.sh through the bridge.)"""

from pathlib import Path

from . import bashlib


def _use(series):
    return 'kernel_patches_use build "$1"; ' if series else ""


def build(series=None):
    if bashlib.run(_use(series) + "kernel_build >&2", series or "", capture=False) != 0:
        bashlib.die_failed("building the kernel")
    return image(series)


def image(series=None):
    if bashlib.status(_use(series) + "kernel_image_path", series or "") != 0:
        return None
    return Path(bashlib.run(_use(series) + "kernel_image_path", series or ""))


def key(series=None):
    """The kernel's cache key (`cache-key kernel`)."""
    return bashlib.run(_use(series) + "_kernel_key", series or "")
