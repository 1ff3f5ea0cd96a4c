#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A newcomer's first run: `scripts/barlab demo` with an empty barlab cache
# and build tree (every download, the QEMU and kernel builds, the
# initramfs, the quick matrix), then the same command again warm, in one
# run.  Prints the time of each long step, the cold total against the
# 20-minute goal, and the cold/warm ratio.  The Debian packages of the
# machine's own release are installed once first and not counted: on a
# fresh machine `barlab setup` adds their install time (printed too when
# it had anything to do).  Takes about 20 minutes on 2 cores.
# Usage: bench/cold-start.sh [KEEP-DIR]   (default: a temporary directory,
# removed afterwards; KEEP-DIR must not exist yet and is kept)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BARLAB=$ROOT/scripts/barlab

if [ $# -gt 0 ]; then
    [ ! -e "$1" ] || { echo "bench cold-start: $1 exists; name a new directory" >&2; exit 2; }
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
else
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
fi

t0=$(date +%s)
"$BARLAB" setup >"$dir/setup.log" 2>&1 || { cat "$dir/setup.log" >&2; exit 1; }
setup_s=$(($(date +%s) - t0))

export BARLAB_CACHE=$dir/cache BARLAB_BUILD=$dir/build
t0=$(date +%s)
"$BARLAB" demo >"$dir/cold.log" 2>&1 || { tail -n 30 "$dir/cold.log" >&2; exit 1; }
cold_s=$(($(date +%s) - t0))
t0=$(date +%s.%N)
"$BARLAB" demo >"$dir/warm.log" 2>&1 || { tail -n 30 "$dir/warm.log" >&2; exit 1; }
warm_s=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

# step_s NAME: the seconds run_step printed for step NAME in the cold run.
step_s() {
    sed -n "s/^barlab: $1 \.\.\. .*ok (\([0-9]*\)s)$/\1/p" "$dir/cold.log" | tail -n 1
}
printf 'cold start of scripts/barlab demo (%s, %d cores, %s):\n' "$(. /etc/os-release && echo "$PRETTY_NAME")" \
    "$(nproc)" "$(uptime | sed 's/.*load average: /load /')"
[ "$setup_s" -le 2 ] || printf '  %-34s %5d s (not counted below)\n' "setup (Debian packages)" "$setup_s"
for s in qemu-download qemu-unpack qemu-configure qemu-build kernel-download kernel-unpack \
    kernel-configure kernel-build l1-modules l1-tools payloads-build; do
    v=$(step_s "$s")
    [ -z "$v" ] || printf '  %-34s %5d s\n' "$s" "$v"
done
printf '  %-34s %5d s = %dm%02ds (goal: 20m00s)\n' "cold total, first command to report" \
    "$cold_s" $((cold_s / 60)) $((cold_s % 60))
printf '  %-34s %7s s\n' "warm (same command again)" "$warm_s"
awk -v c="$cold_s" -v w="$warm_s" 'BEGIN { printf "  %-34s %7.1fx\n", "cold / warm", c / w }'
steps=$(grep -o 'ninja ran \[[0-9]*/[0-9]*\]' "$dir/cold.log" | tail -n 1) || true
[ -z "$steps" ] || echo "  QEMU: ${steps#ninja ran }"
