#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The full stack's L2 boot (`barlab fullstack`, docs/fullstack.md), in one
# run, best of RUNS each:
#   - no devices: Debian's qemu-system-aarch64 in L1 boots L2 with nothing
#     passed through: the baseline,
#   - device, prefetchable, any: the same with barlab-nic and barlab-gpu
#     passed through by vfio-pci under that policy, L2 loading barlab_nic
#     (its write-combining self-test runs at probe).
# Printed per variant: L2 boot-to-ready as L1 sees it (VMM start to L2's
# "ready" line, 0.1 s resolution) and as L2's own uptime, both as ratios
# to the baseline; and the self-test's time as the driver measures it
# (ktime around the 255 NOPs and the wait for the completion), as a ratio
# to the self-test under any.
# Usage: bench/fullstack-boot.sh      (RUNS=3 in env)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
runs=${RUNS:-3}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench fullstack-boot: RUNS must be a positive number" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# best NAME FULLSTACK-ARGS...: "WALL UPTIME SELFTEST" of the run with the
# best wall-clock boot-to-ready among RUNS runs (SELFTEST in us, - if none).
best() {
    local name=$1 i out line
    shift
    for i in $(seq "$runs"); do
        out=$tmp/$name-$i
        "$BARLAB" fullstack --out "$out" --no-picture "$@" >"$out.log" 2>&1 ||
            { echo "bench fullstack-boot: the $name run failed:" >&2; tail -n 30 "$out.log" >&2; exit 1; }
        line=$(tr -d '\r' <"$out"/*/console.log)
        printf '%s %s %s\n' \
            "$(sed -n 's/^fullstack: l2-boot 1 end=[a-z-]* ready=\([0-9.]*\) .*/\1/p' <<<"$line")" \
            "$(sed -n 's/^l2: barlab-l1: ready \([0-9.]*\)$/\1/p' <<<"$line" | head -n 1)" \
            "$(sed -n 's/^fullstack: result wc .* us=\([0-9]*\) .*/\1/p' <<<"$line")"
    done | awk 'NF >= 2 && (best == "" || $1 < b) { b = $1; best = $0 }
        END { if (best == "") exit 1; split(best, f); print f[1], f[2], (f[3] == "" ? "-" : f[3]) }' ||
        { echo "bench fullstack-boot: no L2 ready time in the $name runs (see $tmp)" >&2; exit 1; }
}

read -r base_wall base_up _ < <(best no-devices --policy any --no-devices --steps "")
declare -A wall up selftest
for p in device prefetchable any; do
    read -r "wall[$p]" "up[$p]" "selftest[$p]" < <(best "$p" --policy "$p" --steps wc)
done

printf 'L2 boot to ready under Debian'"'"'s qemu-system-aarch64 with KVM in L1 (best of %d):\n' "$runs"
printf '  %-14s %-20s %-20s %s\n' "" "VMM start to ready" "L2 uptime at ready" "WC self-test"
printf '  %-14s %6.2f s  1.00x       %6.2f s  1.00x\n' "no devices" "$base_wall" "$base_up"
for p in device prefetchable any; do
    awk -v n="$p" -v w="${wall[$p]}" -v u="${up[$p]}" -v bw="$base_wall" -v bu="$base_up" \
        -v t="${selftest[$p]}" -v ta="${selftest[any]}" 'BEGIN {
        st = (t == "-") ? "-" : sprintf("%6d us  %.2fx", t, (ta == "-" || ta == 0) ? 0 : t / ta)
        printf "  %-14s %6.2f s  %.2fx       %6.2f s  %.2fx       %s\n", n, w, w / bw, u, u / bu, st
    }'
done
echo "  (device, prefetchable, any: barlab-nic and barlab-gpu passed through by"
echo "  vfio-pci under that policy; self-test ratios against the one under any)"
