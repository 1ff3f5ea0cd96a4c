# SPDX-License-Identifier: GPL-2.0-or-later
"""L1 host boot-to-ready wall time (QEMU start to the "barlab-l1: ready"
line: kernel boot, KVM at EL2, the devices bound to vfio-pci), in one
run, best of RUNS each:
  - stock:    Debian's qemu-system-aarch64 (bookworm-backports, run from
              barlab's cache, nothing installed), the same kernel and
              initramfs, no barlab devices: the baseline,
  - barlab-bare: barlab's QEMU, no barlab devices (the cost of the
              memory-type patches alone),
  - barlab:   barlab's QEMU with barlab-nic and barlab-gpu (traced).
Then the kernel build: the recorded time of the build that made the
current Image, and a warm `barlab build kernel` (nothing to do) now."""

import os
import subprocess

from .. import initramfs, kernel, qemu
from ..common import cache_dir
from .runs import Failed, barlab, env_count, scratch, tail, timed

NAME = "l1-boot"


def stamp_field(stamp, key):
    """The value of line 'KEY VALUE' in a build stamp, or None."""
    with open(stamp) as f:
        for line in f:
            words = line.split()
            if len(words) >= 2 and words[0] == key:
                return words[1]
    return None


def run():
    runs = env_count(NAME, "RUNS", 3)
    # Debian's own QEMU, unpacked into barlab's cache (barlab.qemu).
    stock = str(qemu.stock_build())
    kernel.build()
    initramfs.build()

    with scratch() as tmp:
        def best(name, *boot_args):
            times = []
            for i in range(1, runs + 1):
                out = os.path.join(tmp, "%s-%d" % (name, i))
                err = out + ".err"
                if barlab("boot", "--out", out, *boot_args, log=err) != 0:
                    raise Failed(NAME, "the %s boot failed:" % name, [tail(err, 10 ** 6)])
                times.append(float(stamp_field(os.path.join(out, "timing"), "ready")))
            return min(times)

        stock_t = best("stock", "--no-devices", "--qemu", stock)
        bare_t = best("barlab-bare", "--no-devices")
        full_t = best("barlab")
    ver = subprocess.run([stock, "--version"], stdout=subprocess.PIPE, text=True,
                         check=True).stdout.splitlines()[0]
    print("L1 boot to ready (best of %d):" % runs)
    print("  %-46s %6.2f s  1.00x" % ("stock (%s)" % ver, stock_t))
    print("  %-46s %6.2f s  %.2fx" % ("barlab QEMU, no devices", bare_t, bare_t / stock_t))
    print("  %-46s %6.2f s  %.2fx" % ("barlab QEMU, barlab-nic + barlab-gpu", full_t,
                                      full_t / stock_t))

    img = kernel.image()
    stamp = img.parent / "stamp"
    recorded = stamp_field(stamp, "seconds")
    compiled = stamp_field(stamp, "compiled")
    warm, _ = timed(kernel.build)
    shown = str(img)
    prefix = str(cache_dir()) + "/"
    if shown.startswith(prefix):
        shown = shown[len(prefix):]
    print("kernel build: %s s (%s files compiled) for the build that made %s;\n"
          "  warm (nothing to do) %.2f s: %.0fx faster"
          % (recorded, compiled or "?", shown, warm, float(recorded) / warm))
