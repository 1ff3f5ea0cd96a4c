#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# L1 host boot-to-ready wall time (QEMU start to the "barlab-l1: ready"
# line: kernel boot, KVM at EL2, the devices bound to vfio-pci), in one
# run, best of RUNS each:
#   - stock:    Debian's qemu-system-aarch64 (bookworm-backports, run from
#               barlab's cache, nothing installed), the same kernel and
#               initramfs, no barlab devices: the baseline,
#   - barlab-bare: barlab's QEMU, no barlab devices (the cost of the
#               memory-type patches alone),
#   - barlab:   barlab's QEMU with barlab-nic and barlab-gpu (traced).
# Then the kernel build: the recorded time of the build that made the
# current Image, and a warm `barlab build kernel` (nothing to do) now.
# Usage: bench/l1-boot.sh      (RUNS=3 in env)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BARLAB=$ROOT/scripts/barlab
runs=${RUNS:-3}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench l1-boot: RUNS must be a positive number" >&2; exit 2; }
. "$ROOT/scripts/lib/common.sh"
. "$ROOT/scripts/lib/apt.sh"
. "$ROOT/scripts/lib/kernel.sh"
. "$ROOT/scripts/lib/builds.sh"

stock=$(qemu_stock_build)
"$BARLAB" build kernel >/dev/null
"$BARLAB" build initramfs >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# best NAME BOOT-ARGS...: the best ready time of RUNS boots, in seconds.
best() {
    local name=$1 i t b=""
    shift
    for i in $(seq "$runs"); do
        "$BARLAB" boot --out "$tmp/$name-$i" "$@" >/dev/null 2>"$tmp/$name-$i.err" ||
            { echo "bench l1-boot: the $name boot failed:" >&2; cat "$tmp/$name-$i.err" >&2; exit 1; }
        t=$(awk '$1 == "ready" { print $2 }' "$tmp/$name-$i/timing")
        b=$(awk -v a="$t" -v b="$b" 'BEGIN { print (b == "" || a < b) ? a : b }')
    done
    echo "$b"
}

stock_t=$(best stock --no-devices --qemu "$stock")
bare_t=$(best barlab-bare --no-devices)
full_t=$(best barlab)
ver=$("$stock" --version | head -n 1)
printf 'L1 boot to ready (best of %d):\n' "$runs"
printf '  %-46s %6.2f s  1.00x\n' "stock ($ver)" "$stock_t"
awk -v s="$stock_t" -v b="$bare_t" -v f="$full_t" 'BEGIN {
    printf "  %-46s %6.2f s  %.2fx\n", "barlab QEMU, no devices", b, b / s
    printf "  %-46s %6.2f s  %.2fx\n", "barlab QEMU, barlab-nic + barlab-gpu", f, f / s
}'

img=$(kernel_image_path)
recorded=$(awk '$1 == "seconds" { print $2 }' "${img%/*}/stamp")
compiled=$(awk '$1 == "compiled" { print $2 }' "${img%/*}/stamp")
start=$(date +%s.%N)
"$BARLAB" build kernel >/dev/null
warm=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
printf 'kernel build: %s s (%s files compiled) for the build that made %s;\n  warm (nothing to do) %s s: %s\n' \
    "$recorded" "${compiled:-?}" "${img#"$BARLAB_CACHE"/}" "$warm" \
    "$(awk -v r="$recorded" -v w="$warm" 'BEGIN { printf "%.0fx faster", r / w }')"
