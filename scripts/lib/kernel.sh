# SPDX-License-Identifier: GPL-2.0-or-later
# The L1 kernel and its patch series: python/barlab/{kernel,kernelseries}.py,
# reached through barlab.frombash (apt.sh).  Sourced after apt.sh, never
# executed.  KERNEL_SERIES_SPEC names the user's series (--kernel-patches),
# empty for barlab's own.

# barlab.kernel's CROSS.
KERNEL_CROSS=aarch64-linux-gnu-
KERNEL_SERIES="" KERNEL_SERIES_SPEC="" KERNEL_SERIES_SHA="" KERNEL_SERIES_POLICY=""

# kernel_patches_use CMD SPEC: build and boot the kernel of the user's
# series SPEC; a mistake in SPEC is a usage error of CMD.
kernel_patches_use() {
    local out
    out=$(_barlab_py kernel_describe "$1" "$2") || exit
    { read -r KERNEL_SERIES; read -r KERNEL_SERIES_SPEC; read -r KERNEL_SERIES_SHA
        read -r KERNEL_SERIES_POLICY; } <<<"$out"
}

kernel_series_build() { [ -z "$KERNEL_SERIES" ] || kernel_build; }
kernel_series_label() { _barlab_py kernel_series_label "$KERNEL_SERIES_SPEC"; }

# kernel_series_policy CMD POLICY: fail unless the kernel can run POLICY.
kernel_series_policy() {
    [ -z "$KERNEL_SERIES_POLICY" ] || [ "$2" = "$KERNEL_SERIES_POLICY" ] ||
        _barlab_py kernel_series_policy "$1" "$KERNEL_SERIES_SPEC" "$2" || exit
}

kernel_build() { _barlab_py kernel_build "$KERNEL_SERIES_SPEC" || exit; }
kernel_build_dir() { _barlab_py kernel_build_dir "$KERNEL_SERIES_SPEC"; }
_kernel_key() { _barlab_py kernel_key "$KERNEL_SERIES_SPEC"; }
_kernel_chosen() { _barlab_py kernel_chosen; }
