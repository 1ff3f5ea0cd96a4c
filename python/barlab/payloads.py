# SPDX-License-Identifier: GPL-2.0-or-later
"""The bare-metal aarch64 payloads (target-tests/payloads): built with
Debian's cross toolchain into BUILD/payloads (make rebuilds only what
changed) and found there.  The matrix payload with a user's pattern file
is barlab.userpattern's."""

import os
import sys
from pathlib import Path

from . import qemu
from .common import ROOT, Fatal, build_dir, run_step

SRC = ROOT / "target-tests" / "payloads"

# Debian packages the payload build needs.
PACKAGES = ["gcc-aarch64-linux-gnu", "binutils-aarch64-linux-gnu", "make"]


def out_dir():
    """The output directory, absolute (make runs in SRC)."""
    return Path(os.path.abspath(build_dir() / "payloads"))


def build():
    """Install the cross toolchain if missing, then build every payload;
    a warm call runs make, which finds nothing to do."""
    qemu.apt_install(*PACKAGES)
    run_step("payloads-build", ["make", "-C", str(SRC), "O=%s" % out_dir(),
                                "-j%d" % len(os.sched_getaffinity(0))],
             fatal="building the payloads failed (target-tests/payloads)")


def find(name):
    """The ELF of payload NAME, or None if it is not built."""
    elf = out_dir() / ("%s.elf" % name)
    return elf if elf.is_file() else None


def not_built(name):
    """What to say when payload NAME is not built."""
    return "payload '%s' is not built (%s); run payloads_build" % (
        name, out_dir() / ("%s.elf" % name))


def path(name):
    """The ELF of payload NAME (for QEMU -kernel); Fatal if it is not
    built."""
    elf = find(name)
    if elf is None:
        raise Fatal(not_built(name))
    return elf


def main(argv):
    """python3 -m barlab.payloads build | path NAME."""
    if argv == ["build"]:
        build()
    elif len(argv) == 2 and argv[0] == "path":
        elf = find(argv[1])
        if elf is None:
            print("barlab: %s" % not_built(argv[1]), file=sys.stderr)
            return 1
        print(elf)
    else:
        raise SystemExit("usage: python3 -m barlab.payloads build | path NAME")
    return 0


if __name__ == "__main__":
    from .cli import main as cli_main   # pylint: disable=import-outside-toplevel
    sys.exit(cli_main(sys.argv[1:], serve=main))
