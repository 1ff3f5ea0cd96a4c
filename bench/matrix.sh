#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The matrix's speed, measured in one run against a baseline: an L1 boot
# that runs nothing (QEMU start to power-off), then the quick and the full
# matrix (L1 boots included, builds cached).  Prints each wall time, the
# cost of one cell, and the ratio to the bare boot.
# Usage: bench/matrix.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BARLAB=$ROOT/scripts/barlab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# wall CMD...: seconds CMD took (fails with its output if CMD fails).
wall() {
    local s e
    s=$(date +%s.%N)
    "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; echo "bench matrix: '$*' failed" >&2; exit 1; }
    e=$(date +%s.%N)
    awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }'
}

# Every build first, so that no timed command builds anything.
for part in core qemu initramfs; do
    "$BARLAB" build "$part" >/dev/null 2>&1 || { echo "bench matrix: 'barlab build $part' failed" >&2; exit 1; }
done
printf 'true\n' >"$tmp/nothing.sh"
boot=$(wall "$BARLAB" boot --run "$tmp/nothing.sh" --out "$tmp/boot")
quick=$(wall "$BARLAB" matrix --quick --out "$tmp/quick")
qcells=$(grep -c . "$tmp/quick/oracle.jsonl")
full=$(wall "$BARLAB" matrix --out "$tmp/full")
fcells=$(grep -c . "$tmp/full/oracle.jsonl")
boots() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["cpus"]))' "$1/plan.json"; }
qboots=$(boots "$tmp/quick")
fboots=$(boots "$tmp/full")
printf 'matrix speed (builds cached):\n'
printf '  %-34s %7.2f s  1.00x\n' "L1 boot, nothing run (baseline)" "$boot"
awk -v b="$boot" -v q="$quick" -v qc="$qcells" -v qb="$qboots" -v f="$full" -v fc="$fcells" -v fb="$fboots" 'BEGIN {
    printf "  %-34s %7.2f s  %.2fx  %d cells, %.0f ms a cell\n", "quick matrix (" qb " L1 boots)", q, q / b, qc, 1000 * q / qc
    printf "  %-34s %7.2f s  %.2fx  %d cells, %.0f ms a cell\n", "full matrix (" fb " L1 boots)", f, f / b, fc, 1000 * f / fc
}'
