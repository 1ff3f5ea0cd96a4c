# SPDX-License-Identifier: GPL-2.0-or-later
# The L1 initramfs and l1_builds: python/barlab/initramfs.py, called
# through barlab.frombash (apt.sh) by the bash libraries still in
# scripts/lib.  Sourced after kernel.sh, never executed; goes with the
# last caller (scripts/lib/fullstack.sh reads the three names below;
# their values are barlab.initramfs's).

ARM64_APT=arm64-${ARM64_SUITE:-bookworm}
INITRAMFS_HOST_PACKAGES=(cpio rsync gzip gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    linux-libc-dev-arm64-cross)

arm64_update() { _barlab_py papt_update "$ARM64_APT" arm64 "deb:${ARM64_SUITE:-bookworm}"; }
initramfs_build() { _barlab_py initramfs_build "$KERNEL_SERIES_SPEC" || exit; }
initramfs_path() { _l1_or _l1_initramfs initramfs_path; }
_initramfs_key() { _barlab_py initramfs_key "$KERNEL_SERIES_SPEC"; }

# l1_builds: QEMU, the L1 kernel and the initramfs (side by side when
# cold); once per shell and its subshells (a matrix boots L1 per CPU),
# which then ask no more for the paths it found.
l1_builds() {
    local out
    [ -z "${_l1_builds_done:-}" ] || return 0
    out=$(_barlab_py l1_builds "$KERNEL_SERIES_SPEC") || exit
    { read -r _l1_image; read -r _l1_initramfs; read -r _l1_label; } <<<"$out"
    _l1_builds_done=1
}

# _l1_or VAR FUNCTION: what l1_builds found (VAR), or barlab.frombash's
# FUNCTION for the current series.
_l1_or() {
    if [ -n "${!1:-}" ]; then echo "${!1}"; else _barlab_py "$2" "$KERNEL_SERIES_SPEC"; fi
}

# _initramfs_modules DIR KDIR: the Kbuild modules in DIR built against the
# kernel build tree KDIR, the way guest-drivers/Makefile builds barlab's
# own (also `barlab build module DIR`).
_initramfs_modules() {
    local dir=$1 kdir=$2
    make -C "$dir" -f "$BARLAB_ROOT/guest-drivers/Makefile" KDIR="$kdir" ARCH=arm64 \
        CROSS_COMPILE=$KERNEL_CROSS "CC=ccache ${KERNEL_CROSS}gcc" \
        CCACHE_DIR="$BARLAB_CACHE/ccache" -j"$(nproc)"
}
