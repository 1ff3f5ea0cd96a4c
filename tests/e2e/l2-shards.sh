#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `barlab matrix --shard K/N` and `barlab matrix merge` on the quick
# matrix, for real: the three shards, merged, give the report of the
# unsharded run, cell for cell (outcome, expectation, verdict, the
# transactions' shapes; JUnit identical), and no shard boots a CPU model
# twice.  Then the report directory under fire: a matrix run and a boot
# killed while L1 runs leave the previous report exactly as it was, and
# their QEMU ends with them.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
T=$HARNESS_TMP
N=3

# matrix NAME OPTION...: `barlab matrix --quick OPTION... --out $T/NAME`;
# a run that completed exits 0 (as predicted) or 1 (a cell differs).
matrix() {
    local name=$1
    shift
    run "$BARLAB" matrix --quick "$@" --out "$T/$name"
    cp "$HARNESS_TMP/err" "$T/$name.err"
    if [ "$(status)" -le 1 ] && [ -f "$T/$name/report.json" ]; then
        ok "$name-ran"
    else
        bad "$name-ran" "exit $(status), no report"
    fi
}

matrix whole
for k in $(seq "$N"); do
    matrix "shard$k" --shard "$k/$N"
    # One L1 boot per CPU model the shard needs.
    if [ -z "$(sed -n 's/^barlab: matrix: L1 on -cpu \([^ ]*\) \.\.\.$/\1/p' "$T/shard$k.err" | sort | uniq -d)" ]; then
        ok "shard$k-boots-each-cpu-once"
    else
        bad "shard$k-boots-each-cpu-once" "a CPU model booted twice"
    fi
done
run "$BARLAB" matrix merge $(for k in $(seq "$N"); do echo "$T/shard$k"; done) --out "$T/merged"
[ "$(status)" -le 1 ] && ok merge-ran || bad merge-ran "exit $(status)"

# Cell for cell.  A cell the architecture lets differ between two runs
# (marked ~: a burst cut by an exit to L1) may differ only in that way.
run python3 - "$T/whole/report.json" "$T/merged/report.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def key(r):
    c = r["cell"]
    return (c["cpu"], c["policy"], c["s1"], c["pattern"], c["touch"])
def shape(r):
    return [(t["off"], t["size"], t["op"], t["s1"], t["s2"]) for t in r["txns"]]
# The driver idioms: the same rules seen in the same number of trials; in
# how many of them a rule broke, and how a later trial's stores were
# gathered, depend on timing too (the gather timeout drains the reorder
# window, an exit to L1 drains the gather buffer), for an idiom that can
# break a rule and for one that cannot alike.
def same_verdict(x, y):
    vx, vy = x.get("verdict") or {}, y.get("verdict") or {}
    return bool(vx.get("trials")) and all(vx.get(k) == vy.get(k) for k in ("state", "seen", "trials"))
assert [key(r) for r in a["cells"]] == [key(r) for r in b["cells"]], "cells or their order differ"
assert a["scenarios"] == b["scenarios"] and b["merged_shards"] == 3
same = permitted = 0
for x, y in zip(a["cells"], b["cells"]):
    fields = ("match", "expected_text", "observed_text", "why", "note")
    if all(x[f] == y[f] for f in fields) and shape(x) == shape(y):
        same += 1
    elif x["match"] and y["match"] and (x["note"] or y["note"] or same_verdict(x, y)):
        permitted += 1
        print("permitted difference %s: %s / %s" % (key(x), x["observed_text"], y["observed_text"]))
    else:
        raise SystemExit("cell %s differs: %s against %s" % (key(x), {f: x[f] for f in fields},
                                                             {f: y[f] for f in fields}))
print("cells %d same %d permitted %d passed %d/%d" % (len(a["cells"]), same, permitted, a["passed"], b["passed"]))
PY
expect merged-equals-unsharded 0 "^cells [0-9]+ same"
grep '^permitted\|^cells' "$HARNESS_TMP/out" | sed 's/^/    /'
if cmp -s "$T/whole/junit.xml" "$T/merged/junit.xml"; then
    ok merged-junit-identical
elif ! grep -q '^permitted' "$HARNESS_TMP/out"; then
    bad merged-junit-identical "junit.xml differs"
else
    ok merged-junit-identical-but-permitted
fi

# Killed while L1 runs: the report that was there stays, byte for byte.
before=$(tree_sums "$T/whole")
"$BARLAB" matrix --quick --out "$T/whole" >"$T/killed.out" 2>"$T/killed.err" &
interrupt_when $! test -s "$T/.whole.barlab-run/max/console.log"
rc=$interrupted_status
if [ "$rc" = 143 ] && [ "$(tree_sums "$T/whole")" = "$before" ] && [ ! -e "$T/.whole.barlab-run" ]; then
    ok interrupted-run-keeps-report
else
    bad interrupted-run-keeps-report "exit $rc, the report changed or the staging directory is left"
    tail -n 5 "$T/killed.err" | sed 's/^/    /'
fi
if pgrep -f "$T/.whole.barlab-run" >/dev/null; then
    bad interrupted-run-ends-qemu "a process of the killed run is still running"
    for p in $(pgrep -f "$T/.whole.barlab-run"); do kill "$p"; done
else
    ok interrupted-run-ends-qemu
fi

# boot --out works the same way: a finished boot replaces the earlier
# boot's report, a boot killed while its script runs leaves it.
printf 'echo "boot-script $1"\n' >"$T/quick.sh"
printf 'echo boot-script sleeping\nsleep 600\n' >"$T/sleep.sh"
run "$BARLAB" boot --run "$T/quick.sh" --out "$T/boot"
expect boot-writes-report 0 "^boot-script"
check boot-report-has-manifest grep -qx console.log "$T/boot/.barlab-manifest"
before=$(tree_sums "$T/boot")
"$BARLAB" boot --run "$T/sleep.sh" --out "$T/boot" >"$T/boot-killed.out" 2>"$T/boot-killed.err" &
interrupt_when $! grep -q "boot-script sleeping" "$T/.boot.barlab-run/console.log"
rc=$interrupted_status
if [ "$rc" = 143 ] && [ "$(tree_sums "$T/boot")" = "$before" ] && [ ! -e "$T/.boot.barlab-run" ] &&
    ! pgrep -f "$T/.boot.barlab-run" >/dev/null; then
    ok boot-interrupted-keeps-report
else
    bad boot-interrupted-keeps-report "exit $rc, the report changed, or the run's files or QEMU are left"
    for p in $(pgrep -f "$T/.boot.barlab-run"); do kill "$p"; done
fi

harness_summary
