#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# barlab's QEMU as a user meets it: the stock machine and devices still
# work, barlab-gpu is there, and bad device options get one clear error.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
QEMU=${QEMU:?set QEMU to barlab\'s qemu-system-aarch64}

qmp_quit='{"execute":"qmp_capabilities"}
{"execute":"quit"}'

# A stock arm64 machine with stock devices starts and quits over QMP.
run timeout 60 "$QEMU" -M virt,virtualization=on,gic-version=3,iommu=smmuv3 \
    -cpu max -display none -nodefaults -S -qmp stdio \
    -device bochs-display,romfile= -device virtio-net-pci,netdev=n0,romfile= \
    -netdev user,id=n0 \
    <<<"$qmp_quit"
expect stock-machine 0 '"return": \{\}'

# The same with the option ROMs those devices load by default (iPXE's
# efi-*.rom, SeaBIOS's vgabios), found on barlab's firmware path, and
# UEFI from Debian's qemu-efi-aarch64.
run timeout 60 "$QEMU" -M virt -cpu max -display none -nodefaults -S -qmp stdio \
    -device bochs-display -device virtio-net-pci,netdev=n0 -netdev user,id=n0 \
    -device e1000e,netdev=n1 -netdev user,id=n1 \
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd \
    <<<"$qmp_quit"
expect stock-machine-roms 0 '"return": \{\}'

run "$QEMU" -device help
expect device-listed 0 'name "barlab-gpu", bus PCI'

run timeout 60 "$QEMU" -M virt -display none -nodefaults -S -qmp stdio \
    -device barlab-gpu,port-mode=exact <<<"$qmp_quit"
expect gpu-starts 0 '"return": \{\}'

bad_option() {
    local name=$1 opt=$2 msg=$3
    run timeout 60 "$QEMU" -M virt -display none -nodefaults -S -device "barlab-gpu,$opt"
    if [ "$(status)" != 0 ] && grep -q -- "$msg" "$HARNESS_TMP/err" &&
        [ "$(grep -c . "$HARNESS_TMP/err")" -eq 1 ]; then
        ok "$name"
    else
        bad "$name" "wanted one error line with '$msg'"
    fi
}
bad_option bad-vram-size vram-size=3M "vram-size must be a power of two"
bad_option bad-port-mode port-mode=fast "port-mode must be exact, gather or reorder"
bad_option bad-gather-geometry gather-line-size=48 "gather-line-size a power of two"
bad_option bad-trace-path trace=/nonexistent/dir/t.bltrace "trace:"

harness_summary
