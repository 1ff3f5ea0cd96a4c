#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The command line as a user meets it: explain, oracle, model, trace and
# the entry point itself, with good and bad input.  Prints PASS/FAIL per
# test and a summary line for scripts/barlab (tests/lib/harness.sh).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=$ROOT/scripts/barlab
MT=${BARLAB_MT:?set BARLAB_MT to the barlab-mt binary}
TMP=$HARNESS_TMP

run "$MT" explain 0x44 0x1
expect explain-device-wins 0 "combined +Device-nGnRE" "C1 .*Device at either stage beats Normal" \
    "unaligned access +no: stage-2 alignment fault \(EL2\)" "DC ZVA +no: stage-2"

run "$MT" explain 0x44 0x5 --fwb
expect explain-fwb-nc 0 "combined +Normal-NC" "F2" "unaligned access +yes"

run "$MT" explain device-nGnRnE device-GRE
expect explain-stronger-device 0 "combined +Device-nGnRnE" "C2" "stage-1 alignment fault \(EL1\)"

run "$MT" explain 0x44 0x1 --json
if [ "$(status)" = 0 ] && python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["combined"] == "Device-nGnRE" and o["combined_mair"] == "0x04", o
assert o["unaligned_fault"] == "stage2-el2" and o["rule"] == "C1", o
assert o["permits"]["gather"] is False and o["permits"]["early_ack"] is True, o
' "$TMP/out" 2>>"$TMP/err"; then ok explain-json; else bad explain-json "bad JSON object"; fi

run "$MT" explain --table --json
if [ "$(status)" = 0 ] && python3 -c '
import json, sys
cells = [json.loads(l) for l in open(sys.argv[1])]
assert len(cells) == 256 * 16 * 2, len(cells)
keys = {(c["s1"], c["s2"], c["fwb"]) for c in cells}
assert len(keys) == len(cells)
by = {(c["s1"], c["s2"], c["fwb"]): c for c in cells}
assert by[("0xff", "0x5", False)]["combined"] == "Normal-NC"
assert by[("0x04", "0x5", True)]["combined"] == "Device-nGnRE"
assert by[("0x44", "0x1", True)]["unaligned_fault"] == "stage2-el2"
assert by[("0x02", "0x5", False)]["combined"] == "reserved"
assert by[("0x01", "0x5", False)]["s1_type"] == "Device-nGnRnE(XS=0)"
' "$TMP/out" 2>>"$TMP/err"; then ok explain-table; else bad explain-table "table incomplete or wrong"; fi

run "$MT" explain 0x1ff 0x1
expect_error explain-bad-s1 "unknown stage-1 attribute '0x1ff'"
run "$MT" explain 0x44 0x10
expect_error explain-bad-s2 "unknown stage-2 MemAttr '0x10'"
run "$MT" explain 0x44
expect_error explain-missing-arg "needs S1ATTR and S2ATTR"
# The CPU decides which MAIR encodings exist (FEAT_XS, FEAT_MTE2 on max).
run "$MT" explain 0xf0 0x5
expect explain-cpu-max-mte2 0 "Tagged Normal-WB" "combined +Normal-NC"
run "$MT" explain 0xf0 0x5 --cpu neoverse-n1
expect explain-cpu-n1-reserved 0 "stage 1   0xf0  reserved"
run "$MT" explain 0x44 0x1 --fwb --cpu neoverse-n1
expect_error explain-fwb-needs-s2fwb "neoverse-n1 has no FEAT_S2FWB"
run "$MT" explain 0x44 0x6 --fwb --s1-share osh
expect explain-s1-share-osh 0 "Normal-WB  \(MAIR 0xff, OSH\)" "passes on Outer Shareable"
run "$MT" explain 0x44 0x6 --fwb
expect explain-s1-share-field 0 "Normal-WB  \(MAIR 0xff, ISH\)" "passes on its SH field"
run "$MT" explain 0x44 0x6 --fwb --s1-share inner
expect_error explain-bad-s1-share "takes cpu, field or osh, not 'inner'"
run "$MT" oracle "$ROOT/target-tests/scenarios/matrix-quick.scn" --cpu cortex-a99
expect_error oracle-bad-cpu "unknown CPU model 'cortex-a99'"
run "$MT" model cas8 normal-NC normal-NC --cpu cortex-a57
expect model-cpu-no-lse 0 "UNDEFINED on -cpu cortex-a57" "0 transactions"
run "$MT" cpus --json
if [ "$(status)" = 0 ] && python3 -c '
import json, sys
cpus = {c["name"]: c for c in map(json.loads, open(sys.argv[1]))}
assert cpus["max"]["fwb"] and cpus["max"]["xs"] and cpus["max"]["mte2"], cpus
assert not cpus["neoverse-n1"]["xs"] and cpus["neoverse-n1"]["lse"], cpus
assert not cpus["cortex-a57"]["lse"] and not cpus["cortex-a57"]["vhe"], cpus
' "$TMP/out" 2>>"$TMP/err"; then ok cpus-json; else bad cpus-json "bad CPU table"; fi

run "$MT" oracle "$ROOT/target-tests/scenarios/default.scn"
expect oracle-default 0 "EL2 align fault" "EL1 align fault" "ok 1x64B gathered" "ok 8x8B" \
    "^  A2 " "^  C1 |^  F1 "

run "$MT" oracle "$ROOT/target-tests/scenarios/default.scn" --json
if [ "$(status)" = 0 ] && python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2 * 3 * 4 * 9, len(rows)
dev = [r for r in rows if r["policy"] == "device" and r["s1"] == "0x44" and r["pattern"] == "stp16_unaligned"]
assert dev and all(r["fault"] == "stage2-el2" for r in dev), dev
' "$TMP/out" 2>>"$TMP/err"; then ok oracle-json; else bad oracle-json "bad JSON rows"; fi

printf 'cpu=max policy=any bar=pref s1=0x44 pattern=str8\ncpu=max policy=any bar=pref s1=0x44 pattern=str8 speed=fast\n' >"$TMP/bad.scn"
run "$MT" oracle "$TMP/bad.scn"
expect_error oracle-bad-line "bad.scn:2: unknown key 'speed'"
run "$MT" oracle "$TMP/missing.scn"
expect_error oracle-missing-file "missing.scn: cannot open"

run "$MT" model burst64_str normal-NC normal-NC --trace "$TMP/t.bltrace"
expect model-gathers 0 "1 transaction, 0 breaking a rule" "64B   8 accesses"
run "$MT" trace "$TMP/t.bltrace"
expect trace-dump 0 "\+64" "attr=0x44"
run "$MT" trace "$TMP/t.bltrace" --json
if [ "$(status)" = 0 ] && python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1 and recs[0]["size"] == 64, recs
' "$TMP/out" 2>>"$TMP/err"; then ok trace-json; else bad trace-json "bad JSON records"; fi

run "$MT" model burst64_str device-nGnRE device-nGnRE
expect model-device-one-by-one 0 "8 transactions, 0 breaking a rule"
run "$MT" model stp16_unaligned normal-NC device-nGnRE
expect model-fault 0 "stage-2 alignment fault" "0 transactions"
run "$MT" model burst64_str normal-NC normal-NC --reorder 5
expect model-reorder 0 "0 breaking a rule"

size=$(stat -c %s "$TMP/t.bltrace")
head -c $((size - 3)) "$TMP/t.bltrace" >"$TMP/cut.bltrace"
run "$MT" trace "$TMP/cut.bltrace"
if [ "$(status)" != 0 ] && grep -q "^barlab: error: .*truncated" "$TMP/err"; then
    ok trace-truncated
else
    bad trace-truncated "a truncated trace was not reported as truncated"
fi
cp "$TMP/t.bltrace" "$TMP/flip.bltrace"
printf '\xff' | dd of="$TMP/flip.bltrace" bs=1 seek=40 conv=notrunc status=none
run "$MT" trace "$TMP/flip.bltrace"
if [ "$(status)" != 0 ] && grep -qiE "^barlab: error: .*(corrupt|crc)" "$TMP/err"; then
    ok trace-corrupt
else
    bad trace-corrupt "a corrupted trace was not reported"
fi
run "$MT" trace "$ROOT/README.md"
expect_error trace-not-a-trace "README.md"

run "$MT" patterns
expect patterns 0 "^str8 " "^dczva " "^burst64_st1 "
run "$MT" frobnicate
expect_usage() { :; }    # defined below; barlab-mt follows the same rule
[ "$(status)" = 2 ] && ok usage-error || bad usage-error "exit $(status), wanted 2"

# --- the entry point: help, usage mistakes, option values -------------------

# expect_usage NAME CMD PATTERN: exit 2, nothing on stdout, exactly the
# two lines "barlab: error: ...PATTERN..." and "see 'barlab CMD --help'".
expect_usage() {
    local name=$1 cmd=$2 pat=$3 see
    see="see 'barlab ${cmd:+$cmd }--help'"
    [ "$(status)" = 2 ] || { bad "$name" "exit $(status), wanted 2"; return; }
    [ ! -s "$TMP/out" ] || { bad "$name" "wrote to stdout on a usage mistake"; return; }
    [ "$(wc -l <"$TMP/err")" -eq 2 ] || { bad "$name" "not two lines on stderr"; return; }
    grep -q "^barlab: error: .*$pat" "$TMP/err" || { bad "$name" "message lacks '$pat'"; return; }
    [ "$(tail -n 1 "$TMP/err")" = "$see" ] || { bad "$name" "no \"$see\""; return; }
    ok "$name"
}

run "$BARLAB" --help
expect barlab-help 0 "^  check +set up, build and run the tests" "^  explain +what a stage-1" \
    "^  matrix +the main job"
commands=$(sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' "$TMP/out")
[ "$(wc -w <<<"$commands")" -ge 15 ] && ok barlab-help-lists-commands ||
    bad barlab-help-lists-commands "only: $commands"

# Every command and subcommand answers --help and -h with its usage and
# does nothing else: no build, no download, no install, no run.  An
# empty build tree and cache stay empty; a command that did anything
# would need them (or fail without them).
for c in $commands "matrix merge"; do
    for h in --help -h; do
        # shellcheck disable=SC2086
        run env BARLAB_BUILD="$TMP/help-build" BARLAB_CACHE="$TMP/help-cache" "$BARLAB" $c $h
        if [ "$(status)" = 0 ] && head -n 1 "$TMP/out" | grep -q "^usage: scripts/barlab $c\b" &&
            [ ! -s "$TMP/err" ] && [ ! -e "$TMP/help-build" ] && [ ! -e "$TMP/help-cache" ]; then
            ok "help-only: $c $h"
        else
            bad "help-only: $c $h" "exit $(status), or no usage first, or stderr, or it built or cached something"
        fi
        rm -rf "$TMP/help-build" "$TMP/help-cache"
    done
done
# After other options (and their values) too; but not a QEMU argument after --.
run env BARLAB_BUILD="$TMP/help-build" "$BARLAB" boot --cpu max --timeout 5 --help
expect help-after-options 0 "^usage: scripts/barlab boot"
run "$BARLAB" boot --frobnicate -- -h
expect_usage boot-help-after-dashdash boot "unknown option '--frobnicate'"

run "$BARLAB"
expect_usage no-command "" "no command"
run "$BARLAB" frobnicate
expect_usage unknown-command "" "unknown command 'frobnicate'"
run "$BARLAB" check --list
expect check-list 0 "^unit$" "^cli$" "^qemu$" "^nic$" "^l1$" "^matrix$" "^fullstack$"
run "$BARLAB" check nosuchsuite
expect_usage check-unknown-suite check "unknown suite 'nosuchsuite'"
run "$BARLAB" check --list unit
expect_usage check-list-extra check "--list takes no suites"
run env BARLAB_CACHE="$HARNESS_TMP/empty-cache" "$BARLAB" path kernel
expect_error path-not-built "kernel is not built for this tree"
run "$BARLAB" path nosuchartifact
expect_usage path-unknown path "unknown artifact 'nosuchartifact'"
run "$BARLAB" build everything
expect_usage build-unknown build "unknown target 'everything'"
run "$BARLAB" build core qemu
expect_usage build-two build "one target at a time"
run "$BARLAB" bench now
expect_usage bench-args bench "takes no arguments"
run "$BARLAB" setup --frobnicate
expect_usage setup-bad-option setup "unknown argument '--frobnicate'"
run "$BARLAB" agree cortex-a99
expect_usage agree-bad-cpu agree "unknown CPU model 'cortex-a99' .max, neoverse-n1"
run "$BARLAB" explain 0x44
expect_usage explain-usage explain "needs S1ATTR and S2ATTR"
run "$BARLAB" patterns extra
expect_usage patterns-usage patterns "takes no arguments"
run "$BARLAB" matrix --frobnicate
expect_usage matrix-bad-option matrix "unknown option '--frobnicate'"
run "$BARLAB" demo --frobnicate
expect_usage demo-bad-option demo "unknown option '--frobnicate'"
run "$BARLAB" matrix --scenarios "$HARNESS_TMP/no-such.scn"
expect_usage matrix-no-scenarios matrix "no scenario file"
for spec in 0/3 4/3 x 1/0 3 -1/3 1/3/5; do
    run "$BARLAB" matrix --quick --shard "$spec"
    expect_usage "matrix-bad-shard $spec" matrix "--shard must be K/N with 1 <= K <= N, not '$spec'"
done
run "$BARLAB" matrix --shard
expect_usage matrix-shard-needs-value matrix "--shard needs a value"
run "$BARLAB" matrix merge
expect_usage merge-nothing "matrix merge" "needs the shards' report directories"
run "$BARLAB" matrix merge "$TMP"
expect_usage merge-not-a-report "matrix merge" "no report.json"
run "$BARLAB" boot --cpu
expect_usage boot-option-needs-value boot "--cpu needs a value"
# The CPU models come from barlab-mt's table; a bad one is refused before
# anything is built or booted.
run "$MT" cpus
expect mt-cpus 0 "^max " "^neoverse-n1 "
run env BARLAB_CACHE="$TMP/cold-cache" "$BARLAB" boot --cpu cortex-a99
expect_usage boot-bad-cpu boot "--cpu must be max, neoverse-n1.*, not 'cortex-a99'"
check boot-bad-cpu-built-nothing test ! -e "$TMP/cold-cache"
run "$BARLAB" boot --policy sometimes
expect_usage boot-bad-policy boot "--policy must be device, prefetchable, .*not 'sometimes'"
run "$BARLAB" boot --timeout soon
expect_usage boot-bad-timeout boot "--timeout must be a positive number of seconds, not 'soon'"
run "$BARLAB" boot --bind usb
expect_usage boot-bad-bind boot "--bind must be vfio or none"
run "$BARLAB" boot --run "$TMP/no-such-script"
expect_usage boot-no-script boot "no such script"
run "$BARLAB" fullstack --policy sometimes
expect_usage fullstack-bad-policy fullstack "--policy must be device, prefetchable, .*not 'sometimes'"
run "$BARLAB" fullstack --cpu a53
expect_usage fullstack-bad-cpu fullstack "--cpu must be"
run "$BARLAB" fullstack --timeout 0
expect_usage fullstack-bad-timeout fullstack "--timeout must be a positive number"
run "$BARLAB" fullstack --steps "wc dance"
expect_usage fullstack-bad-step fullstack "--steps must be wc, ping, .*not 'dance'"
# The port mode is parsed by the C core (barlab-mt port-mode), before
# anything is built or booted; so are barlab_nic's parameters and values.
run "$MT" port-mode reorder:0x10 --json
expect mt-port-mode 0 '^\{"gather":true,"reorder":true,"speculate":false,"seed":16\}$'
for mode in reorder:x gather:1 sideways "reorder:"; do
    run env BARLAB_CACHE="$TMP/cold-cache" "$BARLAB" fullstack --device-props "nic,port-mode=$mode"
    expect_usage "fullstack-bad-port-mode $mode" fullstack "--device-props: port-mode .*$mode"
done
check fullstack-bad-port-mode-built-nothing test ! -e "$TMP/cold-cache"
run "$BARLAB" boot --device-props nic,port-mode=reorder:seven
expect_usage boot-bad-port-mode boot "its seed must be a number from 0 to 2\^64-1, not 'seven'"
run "$BARLAB" fullstack --nic-param doorbell_wmb
expect_usage fullstack-nic-param-form fullstack "--nic-param must be NAME=VALUE, not 'doorbell_wmb'"
run "$BARLAB" fullstack --nic-param frobnicate=1
expect_usage fullstack-nic-param-unknown fullstack "unknown barlab_nic parameter 'frobnicate' .doorbell_wmb."
run "$BARLAB" fullstack --nic-param doorbell_wmb=maybe
expect_usage fullstack-nic-param-value fullstack "--nic-param doorbell_wmb must be 0 or 1 .*not 'maybe'"
run "$BARLAB" path barlab-mt
expect path-barlab-mt 0 "barlab-mt$"

# --- report directories ----------------------------------------------------

# A directory with a user's file in it is refused by every command that
# takes --out, before anything is built; the file and the directory stay
# as they were, and nothing is left beside them.
mkdir -p "$TMP/mine"
echo "my notes" >"$TMP/mine/notes.txt"
# out_refused NAME CMD...: CMD --out $TMP/mine was refused that way.
out_refused() {
    local name=$1
    shift
    run env BARLAB_CACHE="$TMP/cold-cache" "$BARLAB" "$@" --out "$TMP/mine"
    if [ "$(status)" = 2 ] && grep -q "not empty and not a barlab report" "$TMP/err" &&
        [ "$(cat "$TMP/mine/notes.txt")" = "my notes" ] && [ "$(ls -A "$TMP/mine")" = notes.txt ] &&
        [ -z "$(ls -A "$TMP" | grep barlab)" ] && [ ! -e "$TMP/cold-cache" ]; then
        ok "$name"
    else
        bad "$name" "exit $(status), or the directory changed, or something was built"
    fi
}
for c in "matrix --quick" "boot" "fullstack"; do
    # shellcheck disable=SC2086
    out_refused "out-refuses-user-dir: $c" $c
done
run "$BARLAB" matrix --out "$TMP/mine/notes.txt"
expect_usage out-not-a-directory matrix "exists and is not a directory"
run "$BARLAB" matrix --out "$HOME"
expect_usage out-home matrix "not empty and not a barlab report"

# The mechanism every --out goes through (barlab.output), driven the way
# the commands drive it: a report of two files, written while a child
# runs.
cat >"$TMP/report.py" <<EOF
import os, subprocess, sys
sys.path.insert(0, "$ROOT/python")
from barlab import cli, output

def report(argv):
    with output.open_report("test", os.environ.get("KIND", "matrix"), argv[0]) as r:
        (r.stage / "max").mkdir()
        (r.stage / "report.json").write_text(argv[1] + "\\n")
        (r.stage / "max" / "console.log").write_text("console " + argv[1] + "\\n")
        subprocess.call(["sleep", argv[2]])
        r.commit()

sys.exit(cli.guarded(report, sys.argv[1:]))
EOF
report() { python3 "$TMP/report.py" "$@" >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/status"; }
R=$TMP/reports/r
report "$R" first 0
if [ "$(status)" = 0 ] && [ "$(cat "$R/report.json")" = first ] &&
    [ "$(cat "$R/.barlab-manifest")" = "$(printf 'barlab-manifest 1 matrix\nmax/\nmax/console.log\nreport.json')" ]; then
    ok out-writes-manifest
else
    bad out-writes-manifest "no report or a wrong manifest"
fi
report "$R" second 0
check out-replaces-own-report [ "$(cat "$R/report.json")" = second ]
# Interrupted (TERM, INT) while the run's child runs: the previous report
# is intact, the staging directory is gone, the child has ended.  (A
# background job of a script starts with SIGINT ignored; Ctrl-C reaches a
# foreground barlab, which does not: the wrapper gives it back.)
for sig in TERM INT; do
    python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp("python3", sys.argv)' \
        "$TMP/report.py" "$R" "interrupted-$sig" 42 >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    for _ in $(seq 300); do [ -n "$(pgrep -f "sleep 42$")" ] && break; sleep 0.1; done
    kill -"$sig" "$pid"
    wait "$pid"
    echo $? >"$TMP/status"
    if [ "$(status)" -gt 128 ] && [ "$(cat "$R/report.json")" = second ] &&
        [ "$(cat "$R/max/console.log")" = "console second" ] && [ ! -e "$TMP/reports/.r.barlab-run" ] &&
        ! pgrep -f "sleep 42$" >/dev/null && grep -q "interrupted: nothing written" "$TMP/err"; then
        ok "out-interrupted-$sig-keeps-previous"
    else
        bad "out-interrupted-$sig-keeps-previous" "status $(status); report $(cat "$R/report.json"); staging or child left"
    fi
done
# kill -9 cannot be caught: the staging directory stays, DIR is intact,
# and the next run removes what the killed one left.
python3 "$TMP/report.py" "$R" killed 43 >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 300); do [ -f "$TMP/reports/.r.barlab-run/report.json" ] && break; sleep 0.1; done
orphan=$(pgrep -P "$pid")
kill -KILL "$pid"
wait "$pid" 2>/dev/null
[ -z "$orphan" ] || kill "$orphan" 2>/dev/null
check out-killed-keeps-previous [ "$(cat "$R/report.json")" = second ]
report "$R" third 0
check out-next-run-cleans-up [ "$(status)" = 0 ] && [ "$(cat "$R/report.json")" = third ] &&
    [ "$(ls -A "$TMP/reports")" = r ]
# A file of the user's in a report directory: refused, named, kept.
echo "mine" >"$R/max/mine.txt"
report "$R" fourth 0
if [ "$(status)" = 2 ] && grep -q "holds max/mine.txt, which barlab did not write" "$TMP/err" &&
    [ "$(cat "$R/report.json")" = third ] && [ -f "$R/max/mine.txt" ]; then
    ok out-refuses-unlisted-file
else
    bad out-refuses-unlisted-file "exit $(status)"
fi
rm "$R/max/mine.txt"
KIND=boot report "$R" fifth 0
check out-refuses-other-kind grep -q "holds another kind of barlab report (matrix), not a boot report" "$TMP/err"
# An empty directory the user made is taken.
mkdir "$TMP/reports/empty"
report "$TMP/reports/empty" new 0
check out-takes-empty-dir [ "$(cat "$TMP/reports/empty/report.json")" = new ]

# --- matrix shards -----------------------------------------------------------

# The planner's shares: every cell in exactly one shard, no shard boots a
# CPU model twice, the same split every time, N=1 is the whole matrix.
for scn in matrix-quick matrix; do
    "$MT" oracle "$ROOT/target-tests/scenarios/$scn.scn" --json >"$TMP/$scn.jsonl"
    "$MT" patterns >"$TMP/patterns.txt"
    for n in 1 2 3 5; do
        for k in $(seq "$n"); do
            env PYTHONPATH="$ROOT/python" python3 -m barlab.matrix plan "$TMP/$scn.jsonl" "$TMP/patterns.txt" \
                "$TMP/plan-$scn-$k-$n" --shard "$k/$n" --scenario-file "$ROOT/target-tests/scenarios/$scn.scn" \
                --version test >/dev/null 2>"$TMP/err" || echo "plan failed: $(cat "$TMP/err")"
        done
        run python3 - "$TMP" "$scn" "$n" <<'PY'
import json, os, sys
tmp, scn, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
total = sum(1 for l in open(os.path.join(tmp, scn + ".jsonl")) if l.strip())
seen, costs = [], []
for k in range(1, n + 1):
    p = json.load(open(os.path.join(tmp, "plan-%s-%d-%d" % (scn, k, n), "plan.json")))
    assert p["shard"] == {"k": k, "n": n}, p["shard"]
    assert p["total_cells"] == total
    seen += [c["index"] for c in p["cells"]]
    # One L1 script, so one boot, per CPU model of the shard.
    assert sorted(p["cpus"]) == sorted({g["cpu"] for g in p["groups"]}), p["cpus"]
    assert len(p["cpus"]) == len(set(p["cpus"]))
    assert n > len(p["all_cpus"]) or len(p["cpus"]) >= 1 or not p["groups"]
    if n >= len(p["all_cpus"]):
        assert len(p["cpus"]) <= 1, "shard %d/%d boots %s" % (k, n, p["cpus"])
    costs.append(sum(g["cost"] for g in p["groups"]))
assert sorted(seen) == list(range(total)), "cells missing or twice"
print("shard costs", costs)
PY
        expect "shards-cover-$scn-$n" 0 "shard costs"
    done
done
# Balanced: the shards that share a CPU model's groups differ in cost by
# less than two of its groups (for the full matrix in 5 shards).
run python3 -c '
import json, sys
plans = [json.load(open("%s/plan-matrix-%d-5/plan.json" % (sys.argv[1], k))) for k in range(1, 6)]
for cpu in plans[0]["all_cpus"]:
    c = [sum(g["cost"] for g in p["groups"]) for p in plans if p["cpus"] == [cpu]]
    big = max(g["cost"] for p in plans for g in p["groups"] if g["cpu"] == cpu)
    print("costs", cpu, c)
    assert len(c) >= 1 and max(c) - min(c) < 2 * big, (cpu, c, big)
' "$TMP"
expect shards-balanced 0 costs
cp "$TMP/plan-matrix-quick-2-3/plan.json" "$TMP/plan-a.json"
env PYTHONPATH="$ROOT/python" python3 -m barlab.matrix plan "$TMP/matrix-quick.jsonl" "$TMP/patterns.txt" "$TMP/plan-again" \
    --shard 2/3 --scenario-file "$ROOT/target-tests/scenarios/matrix-quick.scn" --version test >/dev/null 2>&1
check shards-deterministic cmp -s "$TMP/plan-a.json" "$TMP/plan-again/plan.json"
run env PYTHONPATH="$ROOT/python" python3 -m barlab.matrix plan "$TMP/matrix-quick.jsonl" "$TMP/patterns.txt" "$TMP/plan-x" \
    --shard 9/99
expect_error shards-more-than-groups "99 shards, but the scenarios make only"
# barlab-gpu's register BAR: each bar=nonpref group an 8 KiB group of its
# own in the scratch window the oracle names, run with bar=0 and only
# barlab-gpu, whose BAR0 boots with the cells' port mode; two port modes
# for BAR0 on one CPU model are refused.
run python3 - "$TMP/plan-matrix-1-1" "$TMP/matrix.jsonl" <<'PY'
import json, os, re, sys
plan = json.load(open(os.path.join(sys.argv[1], "plan.json")))
cells = [json.loads(l) for l in open(sys.argv[2])]
lo, size = next((c["window_base"], c["window_size"]) for c in cells if c["window"] == "gpu-scratch")
for cpu in plan["cpus"]:
    groups = [g for g in plan["groups"] if g["cpu"] == cpu and g["bar"] == "nonpref"]
    bases = [g["base"] for g in groups]
    assert groups and len(set(bases)) == len(bases), (cpu, bases)
    assert all(b % 8192 == 0 and lo <= b and b + 8192 <= lo + size for b in bases), (cpu, bases)
    script = open(os.path.join(sys.argv[1], "run-%s.sh" % cpu)).read()
    # A group's guests (more than one where a cell ends the VM) share its queues.
    lines = dict(re.findall(r"^mair=\S+ touch=\S+ base=(0x[0-9a-f]+) patterns=\S+ bar=0 "
                            r"evq=([0-9]+) trials=16$", script, re.M))
    assert len(lines) == len(groups), (cpu, len(lines), len(groups))
    # rc_read_spec's 16 trials a group, each on an event queue of its own.
    queues = next(c["window_count"] for c in cells if c["window"] == "gpu-regs")
    evqs = sorted(int(q) for q in lines.values())
    assert all(b - a >= 16 for a, b in zip(evqs, evqs[1:])) and evqs[-1] + 16 <= queues, evqs
    assert plan["gpu_props"][cpu] == "regs-port-mode=speculate:7", plan["gpu_props"]
print(len([g for g in plan["groups"] if g["bar"] == "nonpref"]), "bar=nonpref groups in the scratch window")
PY
expect plan-bar0-groups-in-scratch 0 "bar=nonpref groups in the scratch window"
printf '%s\n' 'cpu=max bar=nonpref policy=any s1=normal-NC pattern=str8 touch=first port=speculate:7' \
    'cpu=max bar=nonpref policy=any s1=normal-NC pattern=rc_read_spec touch=first port=speculate:8' \
    >"$TMP/bar0-ports.scn"
"$MT" oracle "$TMP/bar0-ports.scn" --json >"$TMP/bar0-ports.jsonl"
run env PYTHONPATH="$ROOT/python" python3 -m barlab.matrix plan "$TMP/bar0-ports.jsonl" "$TMP/patterns.txt" "$TMP/plan-bar0"
expect_error plan-bar0-one-port-mode "the bar=nonpref cells on -cpu max use port modes speculate:7 and speculate:8: barlab-gpu's BAR0 has one port mode"
# Under cacheable without FEAT_S2FWB and DIC, KVM refuses barlab-gpu's
# BAR2 and so the device: BAR0's cells cannot run, and the plan says why.
printf 'cpu=neoverse-n1 bar=nonpref policy=cacheable s1=normal-NC pattern=str8 touch=first\n' >"$TMP/bar0-refused.scn"
"$MT" oracle "$TMP/bar0-refused.scn" --json >"$TMP/bar0-refused.jsonl"
run env PYTHONPATH="$ROOT/python" python3 -m barlab.matrix plan "$TMP/bar0-refused.jsonl" "$TMP/patterns.txt" "$TMP/plan-bar0-refused"
expect_error plan-bar0-device-refused "bar=nonpref under cacheable on -cpu neoverse-n1: KVM refuses barlab-gpu's prefetchable BAR2"

# Merging: three shard reports (the shape `matrix --shard` writes, with
# the cells of an unsharded report) into the whole; the bad inputs.
run python3 - "$TMP" <<'PY'
import json, os, sys
tmp = sys.argv[1]
def cell(i, cpu):
    c = {"cpu": cpu, "policy": "any", "s1": "0x44", "pattern": "str8", "touch": "first" if i % 2 else "hit",
         "rules": ["C1", "A1"], "s2": "0x5", "index": i}
    return {"index": i, "cell": c, "observed": {"status": "ok"}, "txns": [], "match": i != 4,
            "expected_text": "ok 1x8B", "observed_text": "ok 1x8B" if i != 4 else "ok 2x4B",
            "why": "" if i != 4 else "transactions differ", "note": ""}
head = {"barlab": "abc123", "scenarios": {"file": "q.scn", "sha256": "11" * 32}, "total_cells": 6,
        "all_cpus": ["max", "neoverse-n1"], "patterns": ["str8"], "inject_align": False}
split = {1: [("max", 0), ("max", 1)], 2: [("max", 2), ("neoverse-n1", 3)], 3: [("neoverse-n1", 4), ("neoverse-n1", 5)]}
for k, cells in split.items():
    d = os.path.join(tmp, "shard%d" % k)
    os.makedirs(d)
    r = dict(head, shard={"k": k, "n": 3}, cells=[cell(i, cpu) for cpu, i in cells],
             s2_mappings={cpu: ["map %d" % k] for cpu, _ in cells})
    json.dump(r, open(os.path.join(d, "report.json"), "w"))
for name, change in (("other-scn", {"scenarios": {"file": "q.scn", "sha256": "22" * 32}}),
                     ("other-version", {"barlab": "def456"}), ("unsharded", {"shard": None})):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    r = json.load(open(os.path.join(tmp, "shard3", "report.json")))
    r.update(change)
    json.dump(r, open(os.path.join(d, "report.json"), "w"))
print("made")
PY
expect merge-inputs 0 made
run "$BARLAB" matrix merge "$TMP/shard3" "$TMP/shard1" "$TMP/shard2" --out "$TMP/merged"
if [ "$(status)" = 1 ] && grep -q "^MISMATCH neoverse-n1/any/Normal-NC/str8/hit: transactions differ" "$TMP/out" &&
    grep -q "^matrix: 6 cells, 5 as predicted" "$TMP/out" && python3 -c '
import json, sys
r = json.load(open(sys.argv[1] + "/report.json"))
assert [c["index"] for c in r["cells"]] == [0, 1, 2, 3, 4, 5], r["cells"]
assert r["shard"] is None and r["merged_shards"] == 3 and r["failed"] == 1
assert r["s2_mappings"]["neoverse-n1"] == ["map 2", "map 3"]
' "$TMP/merged" && [ -f "$TMP/merged/junit.xml" ] && [ -f "$TMP/merged/index.html" ] &&
    [ -f "$TMP/merged/.barlab-manifest" ]; then
    ok merge-combines-shards
else
    bad merge-combines-shards "exit $(status)"
fi
out_refused out-refuses-user-dir-merge matrix merge "$TMP/shard1" "$TMP/shard2" "$TMP/shard3"
run "$BARLAB" matrix merge "$TMP/shard1" "$TMP/shard3" --out "$TMP/merged2"
expect_error merge-missing-shard "shard 2/3 is missing"
check merge-refused-writes-nothing test ! -e "$TMP/merged2" -a ! -e "$TMP/.merged2.barlab-run"
run "$BARLAB" matrix merge "$TMP/shard1" "$TMP/shard2" "$TMP/shard3" "$TMP/shard1" --out "$TMP/merged2"
expect_error merge-duplicate-shard "shard 1/3 given twice: .*shard1 and .*shard1"
run "$BARLAB" matrix merge "$TMP/shard1" "$TMP/shard2" "$TMP/other-scn" --out "$TMP/merged2"
expect_error merge-other-scenarios "different scenario files"
run "$BARLAB" matrix merge "$TMP/shard1" "$TMP/shard2" "$TMP/other-version" --out "$TMP/merged2"
expect_error merge-other-version "different barlab versions .abc123 against def456."
run "$BARLAB" matrix merge "$TMP/shard1" "$TMP/unsharded" --out "$TMP/merged2"
expect_error merge-unsharded "not a shard's report"
run "$BARLAB" matrix merge "$TMP/shard1" "$TMP/shard2" "$TMP/shard3" --out "$TMP/shard1"
expect_usage merge-into-a-shard "matrix merge" "is one of the shards"

# --- timeouts -----------------------------------------------------------------

# A test that hangs fails alone, after HARNESS_TIMEOUT, and the script goes on.
cat >"$TMP/hang-test.sh" <<EOF
. "$ROOT/tests/lib/harness.sh"
run sleep 600
expect hangs 0
run true
expect after 0
harness_summary
EOF
start=$SECONDS
run env HARNESS_TIMEOUT=1 bash "$TMP/hang-test.sh"
if grep -q "^FAIL hangs: exit 124" "$TMP/out" && grep -q "stopped after 1 s: sleep 600" "$TMP/out" &&
    grep -q "^PASS after" "$TMP/out" && grep -q "^harness-summary 1 1$" "$TMP/out" &&
    [ $((SECONDS - start)) -lt 30 ]; then
    ok harness-timeout
else
    bad harness-timeout "the hang was not stopped and counted as one failure"
fi

# The unit suite: a test case that hangs is stopped after
# BARLAB_TEST_TIMEOUT, named and counted as failed, and the binary's other
# tests still count; a binary that hangs before any test is named too.
# Two stand-ins for GoogleTest binaries, run by the suite's own function.
unit=$TMP/unit-build/tests/unit
mkdir -p "$unit"
cat >"$unit/test_one_hangs" <<'EOF'
#!/usr/bin/env bash
echo "[ RUN      ] Quick.passes"
echo "[       OK ] Quick.passes (0 ms)"
case $1 in
*-*Slow.hangs*) ;;
*) echo "[ RUN      ] Slow.hangs"; exec sleep 600 ;;
esac
echo "[  PASSED  ] 1 test."
EOF
printf '#!/usr/bin/env bash\nexec sleep 600\n' >"$unit/test_all_hang"
chmod +x "$unit/test_one_hangs" "$unit/test_all_hang"
start=$SECONDS
run env BARLAB_TEST_TIMEOUT=2 bash -c '. "$1/scripts/lib/barlab.sh" && CORE_BUILD=$2 BARLAB_LOGS=$3 &&
    run_suite_unit && echo "totals $PASSED $FAILED"' _ "$ROOT" "$TMP/unit-build" "$TMP/unit-logs"
expect unit-test-timeout 0 \
    '^unit: test_one_hangs: Slow.hangs did not end within 2 s \(BARLAB_TEST_TIMEOUT\), counted as failed$' \
    '^unit: test_one_hangs +1 passed, 1 failed' \
    '^unit: test_all_hang did not end within 2 s \(BARLAB_TEST_TIMEOUT\):$' \
    '^totals 1 2$'
check unit-test-timeout-quick [ $((SECONDS - start)) -lt 60 ]

harness_summary
