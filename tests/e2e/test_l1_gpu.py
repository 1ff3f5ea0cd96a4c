#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab-gpu under Linux in L1: the barlab_gpu fbdev driver refuses bad
modes, unloads cleanly, and survives an unbind while /dev/fb0 is open;
/dev/fb0 appears; fbdraw draws the test image through the VRAM's
write-combining mappings (sysfs resource2_wc, then /dev/fb0 after
clearing it with write(2)) and reads it back; the --odd run of
odd-sized memcpy/memset completes; and a QMP screendump of the result
matches the image tests/lib/fbimage.py computes."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import devtest  # noqa: E402

WIDTH, HEIGHT = 640, 480
STEPS = ("bad-width-rejected", "vram-overflow-rejected", "module-loads", "fb0-appears",
         "remove-and-reload", "unbind-while-open", "resource2-wc-draw", "fb0-write-clears",
         "fb0-draw", "odd-sizes")

# What L1 runs: one "l1-gpu: NAME ok|failed" line per step.
SCRIPT = r'''
mod=/lib/modules/barlab/barlab_gpu.ko
bdf=$(bl_find $BL_GPU)
step() {
    name=$1
    shift
    if "$@"; then echo "l1-gpu: $name ok"; else echo "l1-gpu: $name failed"; fi
}
no_fb() { [ ! -e /dev/fb0 ]; }
has_fb() {
    [ -c /dev/fb0 ] && grep -q '^0 barlab_gpu$' /proc/fb &&
        [ "$(bl_driver $bdf)" = barlab_gpu ]
}
rejected() { no_fb && dmesg | grep -q "barlab_gpu .*$1"; }
reload() { rmmod barlab_gpu && no_fb && insmod $mod && has_fb; }
# Unbind while /dev/fb0 is open: fb0 goes at once, the fb_info at close.
unbind_open() {
    exec 3</dev/fb0
    echo $bdf >/sys/bus/pci/drivers/barlab_gpu/unbind && no_fb
    gone=$?
    exec 3<&-
    [ $gone = 0 ] && reload
}

insmod $mod width=5000
step bad-width-rejected rejected "each side must be"
rmmod barlab_gpu
insmod $mod width=4096 height=4096
step vram-overflow-rejected rejected "device rejected mode"
rmmod barlab_gpu
step module-loads insmod $mod
step fb0-appears has_fb
step remove-and-reload reload
step unbind-while-open unbind_open
dmesg | grep barlab_gpu
step resource2-wc-draw fbdraw --width %(w)d --height %(h)d \
    --resource /sys/bus/pci/devices/$bdf/resource2_wc
step fb0-write-clears dd if=/dev/zero of=/dev/fb0 bs=%(row)d count=%(h)d
step fb0-draw fbdraw
step odd-sizes fbdraw --odd
bl_screendump fbdraw
''' % {"w": WIDTH, "h": HEIGHT, "row": WIDTH * 4}


class GpuDriverTest(devtest.L1Test):

    def test_gpu(self):
        r = self.l1("l1", SCRIPT, "--bind", "none", "--timeout", "900")
        console = self.console("l1")
        ran = re.search("^l1-gpu: fb0-appears", console, re.M)
        if not self.checkSteps("l1", ran, r, STEPS, "^l1-gpu: %s ok", "L1 did not run the script"):
            return
        with self.check("odd-sizes-all-reported"):
            n = len(re.findall(r"^odd .*: ok$", console, re.M))
            self.assertEqual(n, 2144, "odd-sized copies reported ok")
        r = self.run_cmd([sys.executable, barlabtest.ROOT / "tests" / "lib" / "fbimage.py",
                          "check", self.scratch("l1", "fbdraw.png"), WIDTH, HEIGHT])
        with self.check("screendump-matches"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "matches the 640x480 test image")


if __name__ == "__main__":
    barlabtest.main()
