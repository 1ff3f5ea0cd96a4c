# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab's QEMU: Debian's source package with hw/qemu-patches, barlab's
devices and hw/qemu-config, built with ccache and cached by its inputs;
the sanitizer build beside it.  (Still built by scripts/lib/qemu.sh
through the bridge.)"""

from pathlib import Path

from . import bashlib


def _prefix(sanitize):
    return "qemu_sanitize; " if sanitize else ""


def build(qtests=False, sanitize=False):
    """Build QEMU (with QTESTS: and barlab's qtests) unless built; return
    the path of its qemu-system-aarch64."""
    if bashlib.run(_prefix(sanitize) + "qemu_build %s >&2" % ("--qtests" if qtests else ""),
                   capture=False) != 0:
        bashlib.die_failed("building QEMU")
    return binary(sanitize)


def binary(sanitize=False):
    """The qemu-system-aarch64 built for this tree, or None."""
    if bashlib.status(_prefix(sanitize) + "qemu_binary_path") != 0:
        return None
    return Path(bashlib.run(_prefix(sanitize) + "qemu_binary_path"))
