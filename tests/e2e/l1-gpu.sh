#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# barlab-gpu under Linux in L1: the barlab_gpu fbdev driver refuses bad
# modes, unloads cleanly, and survives an unbind while /dev/fb0 is open;
# /dev/fb0 appears; fbdraw draws the test image through the VRAM's
# write-combining mappings (sysfs resource2_wc, then /dev/fb0 after
# clearing it with write(2)) and reads it back; the --odd run of
# odd-sized memcpy/memset completes; and a QMP screendump of the result
# matches the image tests/lib/fbimage.py computes.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
WIDTH=640
HEIGHT=480

# The script L1 runs: one "l1-gpu: NAME ok|failed" line per step.
cat >"$HARNESS_TMP/gpu.sh" <<EOF
. /lib/barlab/l1.sh
mod=/lib/modules/barlab/barlab_gpu.ko
bdf=\$(bl_find \$BL_GPU)
step() {
    name=\$1
    shift
    if "\$@"; then echo "l1-gpu: \$name ok"; else echo "l1-gpu: \$name failed"; fi
}
no_fb() { [ ! -e /dev/fb0 ]; }
has_fb() {
    [ -c /dev/fb0 ] && grep -q '^0 barlab_gpu\$' /proc/fb &&
        [ "\$(bl_driver \$bdf)" = barlab_gpu ]
}
rejected() { no_fb && dmesg | grep -q "barlab_gpu .*\$1"; }
reload() { rmmod barlab_gpu && no_fb && insmod \$mod && has_fb; }
# Unbind while /dev/fb0 is open: fb0 goes at once, the fb_info at close.
unbind_open() {
    exec 3</dev/fb0
    echo \$bdf >/sys/bus/pci/drivers/barlab_gpu/unbind && no_fb
    gone=\$?
    exec 3<&-
    [ \$gone = 0 ] && reload
}

insmod \$mod width=5000
step bad-width-rejected rejected "each side must be"
rmmod barlab_gpu
insmod \$mod width=4096 height=4096
step vram-overflow-rejected rejected "device rejected mode"
rmmod barlab_gpu
step module-loads insmod \$mod
step fb0-appears has_fb
step remove-and-reload reload
step unbind-while-open unbind_open
dmesg | grep barlab_gpu
step resource2-wc-draw fbdraw --width $WIDTH --height $HEIGHT \\
    --resource /sys/bus/pci/devices/\$bdf/resource2_wc
step fb0-write-clears dd if=/dev/zero of=/dev/fb0 bs=$((WIDTH * 4)) count=$HEIGHT
step fb0-draw fbdraw
step odd-sizes fbdraw --odd
bl_screendump fbdraw
EOF

OUT=$HARNESS_TMP/l1
run "$BARLAB" boot --bind none --timeout 900 --run "$HARNESS_TMP/gpu.sh" --out "$OUT"
L1_LOG=$HARNESS_TMP/console.log
{ tr -d '\r' <"$OUT/console.log"; } >"$L1_LOG" 2>/dev/null
if ! grep -q '^l1-gpu: fb0-appears' "$L1_LOG"; then
    bad l1-boot "L1 did not run the script (exit $(status))"
    harness_summary
    exit 0
fi
ok l1-boot
for step in bad-width-rejected vram-overflow-rejected module-loads \
    fb0-appears remove-and-reload unbind-while-open resource2-wc-draw \
    fb0-write-clears \
    fb0-draw odd-sizes; do
    if grep -q "^l1-gpu: $step ok" "$L1_LOG"; then ok "$step"
    else bad "$step" "no 'l1-gpu: $step ok' in L1's console"; fi
done

run grep -c '^odd .*: ok$' "$L1_LOG"
expect odd-sizes-all-reported 0 '^2144$'

run python3 "$ROOT/tests/lib/fbimage.py" check "$OUT/fbdraw.png" "$WIDTH" "$HEIGHT"
expect screendump-matches 0 'matches the 640x480 test image'

harness_summary
