# SPDX-License-Identifier: GPL-2.0-or-later
# The initramfs' host packages, the private arm64 apt state and the
# modules' build: python/barlab/initramfs.py, reached through
# barlab.frombash (apt.sh).  Sourced after kernel.sh, never executed; the
# names below are barlab.initramfs's.

ARM64_APT=arm64-${ARM64_SUITE:-bookworm}
INITRAMFS_HOST_PACKAGES=(cpio rsync gzip gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    linux-libc-dev-arm64-cross)

arm64_update() { _barlab_py papt_update "$ARM64_APT" arm64 "deb:${ARM64_SUITE:-bookworm}"; }

# _initramfs_modules DIR KDIR: the Kbuild modules in DIR built against the
# kernel build tree KDIR, the way guest-drivers/Makefile builds barlab's
# own (also `barlab build module DIR`).
_initramfs_modules() {
    local dir=$1 kdir=$2
    make -C "$dir" -f "$BARLAB_ROOT/guest-drivers/Makefile" KDIR="$kdir" ARCH=arm64 \
        CROSS_COMPILE=$KERNEL_CROSS "CC=ccache ${KERNEL_CROSS}gcc" \
        CCACHE_DIR="$BARLAB_CACHE/ccache" -j"$(nproc)"
}
