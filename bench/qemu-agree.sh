#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What barlab's port costs a guest: wall time of the agreement payload
# (16384 cells on -cpu max) touching
#   - barlab-gpu's VRAM, port in gather mode, trace on with the checker's
#     verdict in every record (what barlab runs),
#   - the same with the port reordering and speculating (reorder+speculate),
#   - barlab-gpu's VRAM, port in exact mode, trace off,
#   - a RAM-backed BAR of the same size (bochs-display's VRAM: BAR0,
#     prefetchable, 16 MiB; barlab's QEMU builds no ivshmem): the baseline,
# measured in one run, each the best of RUNS, printed with ratios.
# Usage: bench/qemu-agree.sh QEMU PAYLOAD [RUNS]
set -euo pipefail
qemu=${1:?usage: bench/qemu-agree.sh QEMU PAYLOAD [RUNS]}
payload=${2:?usage: bench/qemu-agree.sh QEMU PAYLOAD [RUNS]}
runs=${3:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# best_ms ARGS...: the fastest of $runs boots of the payload, in ms.
best_ms() {
    local best= t0 t1 i
    for ((i = 0; i < runs; i++)); do
        rm -f "$tmp/trace"
        t0=$(date +%s%N)
        timeout 300 "$qemu" -M virt,virtualization=on,gic-version=3 -cpu max \
            -smp 2 -m 256M -nodefaults -display none -monitor none \
            -serial "file:$tmp/console" -kernel "$payload" "$@" >"$tmp/qemu" 2>&1 ||
            { echo "bench: QEMU failed: $*" >&2; tail -n 5 "$tmp/console" "$tmp/qemu" >&2; exit 1; }
        grep -q '^agree-end' "$tmp/console" ||
            { echo "bench: the payload did not finish: $*" >&2; exit 1; }
        t1=$(( ($(date +%s%N) - t0) / 1000000 ))
        if [ -z "$best" ] || [ "$t1" -lt "$best" ]; then best=$t1; fi
    done
    echo "$best"
}

ram=$(best_ms -device bochs-display,vgamem=16M -append "vendor=0x1234 device=0x1111 bar=0")
exact=$(best_ms -device barlab-gpu,port-mode=exact)
traced=$(best_ms -device "barlab-gpu,trace=$tmp/trace")
modelled=$(best_ms -device "barlab-gpu,port-mode=reorder+speculate:1,trace=$tmp/trace")

echo "bench qemu-agree: agreement payload, -cpu max, best of $runs"
printf '  %-44s %7d ms   %5.2fx\n' "RAM-backed BAR (bochs-display VRAM): baseline" "$ram" 1
for row in "barlab-gpu, port exact, no trace:$exact" \
    "barlab-gpu, port gather, trace+verdicts on:$traced" \
    "barlab-gpu, reorder+speculate, trace on:$modelled"; do
    printf '  %-44s %7d ms   %5.2fx\n' "${row%:*}" "${row##*:}" \
        "$(echo "${row##*:} / $ram" | bc -l)"
done
