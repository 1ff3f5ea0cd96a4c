#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Soak: the quick matrix many times in a row, then the fullstack suite,
# each run bounded by a timeout.  Reports hangs (a run stopped by its
# timeout), failed runs (non-zero exit) and differing results (a quick
# matrix whose cells' observed outcomes differ from the first run's).
# The goal is 0, 0 and 0: a test bed whose verdicts flake is no judge.
#
# Usage: bench/soak.sh [--matrix N] [--fullstack N] [--timeout S] [--keep DIR]
#   --matrix N      quick matrix runs (default 100)
#   --fullstack N   fullstack suite runs (default 10)
#   --timeout S     limit of one run in seconds (default 300)
#   --keep DIR      keep every run's output below DIR (default: a
#                   temporary directory, removed at the end)
# Exit status 1 if any run hung, failed or differed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BARLAB=$ROOT/scripts/barlab
matrix_runs=100 fullstack_runs=10 limit=300 keep=

die() { echo "bench soak: $*" >&2; exit 2; }
count() { [[ $2 =~ ^[0-9]+$ ]] || die "$1 takes a whole number, not '$2'"; }
while [ $# -gt 0 ]; do
    case $1 in
    -h|--help) sed -n '4,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    --matrix) [ $# -ge 2 ] || die "--matrix needs a count"; count "$1" "$2"; matrix_runs=$2; shift 2 ;;
    --fullstack) [ $# -ge 2 ] || die "--fullstack needs a count"; count "$1" "$2"; fullstack_runs=$2; shift 2 ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs seconds"; count "$1" "$2"; limit=$2; shift 2 ;;
    --keep) [ $# -ge 2 ] || die "--keep needs a directory"; keep=$2; shift 2 ;;
    *) die "unknown argument '$1' (see bench/soak.sh --help)" ;;
    esac
done
if [ -n "$keep" ]; then
    mkdir -p "$keep"
    tmp=$(mktemp -d "$keep/soak-XXXXXX")
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
fi

# outcomes REPORT: one line per cell, what was observed (not how long it
# took), for comparing runs.  What the port's seed decides is compared: whether
# the cell is as predicted, its status, and the checker's finding (found
# or clean, which rules).  How often a rule fired in the 16 trials and how
# a gathered burst was split are timing: an asynchronous exit to L1 between
# two stores is a barrier on the PE, which may drain a burst or end a
# reordering window early, as it would on hardware.  Those go to
# REPORT.detail and are counted as permitted variations, not differences.
outcomes() {
    python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
with open(sys.argv[1] + ".detail", "w") as detail:
    for c in r["cells"]:
        k = c["cell"]
        key = [k["cpu"], k["policy"], k.get("bar"), k["s1"], k["pattern"], k["touch"]]
        obs = c.get("observed", {})
        v = c.get("verdict") or {}
        print(json.dumps(key + [c.get("match"), obs.get("status"),
                                v.get("state"), v.get("seen")], sort_keys=True))
        print(json.dumps(key + [c.get("observed_text"), v.get("hits"),
                                v.get("trials")], sort_keys=True), file=detail)
PY
}

# one KIND I CMD...: run CMD with the timeout; sets $rc (124: hung).
one() {
    local kind=$1 i=$2 s e
    shift 2
    s=$(date +%s.%N)
    rc=0
    timeout -k 10 "$limit" "$@" >"$tmp/$kind-$i.log" 2>&1 || rc=$?
    e=$(date +%s.%N)
    secs=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.1f", e - s }')
}

"$BARLAB" build initramfs >/dev/null 2>&1 || die "the builds failed: run 'scripts/barlab build initramfs'"
load=$(cut -d' ' -f1 /proc/loadavg)
echo "soak: $matrix_runs quick matrix runs, $fullstack_runs fullstack suite runs, ${limit} s a run, load $load at the start"

m_hang=0 m_fail=0 m_diff=0 m_vary=0 m_total=0
for i in $(seq 1 "$matrix_runs"); do
    out=$tmp/matrix-$i
    one matrix "$i" "$BARLAB" matrix --quick --out "$out"
    m_total=$(awk -v a="$m_total" -v b="$secs" 'BEGIN { print a + b }')
    if [ "$rc" = 124 ]; then
        m_hang=$((m_hang + 1)); echo "  matrix run $i: hung (stopped after $limit s)"
        continue
    fi
    [ "$rc" = 0 ] || { m_fail=$((m_fail + 1)); echo "  matrix run $i: exit $rc (see $tmp/matrix-$i.log)"; }
    [ -f "$out/report.json" ] || { echo "  matrix run $i: no report"; continue; }
    outcomes "$out/report.json" >"$out/outcomes"
    if [ ! -f "$tmp/first.outcomes" ]; then
        cp "$out/outcomes" "$tmp/first.outcomes"
        cp "$out/report.json.detail" "$tmp/first.detail"
    elif ! cmp -s "$tmp/first.outcomes" "$out/outcomes"; then
        m_diff=$((m_diff + 1))
        echo "  matrix run $i: differs from the first run:"
        { diff "$tmp/first.outcomes" "$out/outcomes" || true; } | sed -n '1,6s/^/    /p'
    elif ! cmp -s "$tmp/first.detail" "$out/report.json.detail"; then
        m_vary=$((m_vary + 1))
        echo "  matrix run $i: same outcomes, timing varied in $({ diff "$tmp/first.detail" "$out/report.json.detail" || true; } | grep -c '^>') cells (hit counts or burst splits)"
    fi
    [ -n "$keep" ] || rm -rf "$tmp/matrix-$i"
done

f_hang=0 f_fail=0 f_total=0
for i in $(seq 1 "$fullstack_runs"); do
    one fullstack "$i" "$BARLAB" check fullstack
    f_total=$(awk -v a="$f_total" -v b="$secs" 'BEGIN { print a + b }')
    if [ "$rc" = 124 ]; then
        f_hang=$((f_hang + 1)); echo "  fullstack run $i: hung (stopped after $limit s)"
    elif [ "$rc" != 0 ] || ! tail -n 3 "$tmp/fullstack-$i.log" | grep -q ' 0 failed'; then
        f_fail=$((f_fail + 1)); echo "  fullstack run $i: failed (exit $rc, see $tmp/fullstack-$i.log)"
        tail -n 3 "$tmp/fullstack-$i.log" | sed 's/^/    /'
    fi
done

load=$(cut -d' ' -f1 /proc/loadavg)
awk -v n="$matrix_runs" -v t="$m_total" -v h="$m_hang" -v f="$m_fail" -v d="$m_diff" -v v="$m_vary" \
    -v fn="$fullstack_runs" -v ft="$f_total" -v fh="$f_hang" -v ff="$f_fail" -v l="$load" 'BEGIN {
    printf "soak results (load %s at the end):\n", l
    if (n) printf "  quick matrix    %4d runs, %.1f s a run: %d hung, %d failed, %d differing (%d with permitted timing variation)\n", n, t / n, h, f, d, v
    if (fn) printf "  fullstack suite %4d runs, %.1f s a run: %d hung, %d failed\n", fn, ft / fn, fh, ff
}'
[ $((m_hang + m_fail + m_diff + f_hang + f_fail)) = 0 ]
