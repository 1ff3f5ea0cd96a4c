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
assert by[("0x01", "0x5", False)]["combined"] == "reserved"
' "$TMP/out" 2>>"$TMP/err"; then ok explain-table; else bad explain-table "table incomplete or wrong"; fi

run "$MT" explain 0x1ff 0x1
expect_error explain-bad-s1 "unknown stage-1 attribute '0x1ff'"
run "$MT" explain 0x44 0x10
expect_error explain-bad-s2 "unknown stage-2 MemAttr '0x10'"
run "$MT" explain 0x44
expect_error explain-missing-arg "needs S1ATTR and S2ATTR"

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
[ "$(status)" = 2 ] && ok usage-error || bad usage-error "exit $(status), wanted 2"

run "$BARLAB" --help
expect barlab-help 0 "check \[SUITE" "explain S1 S2"
run "$BARLAB" check --list
expect check-list 0 "^unit$" "^cli$" "^qemu$" "^nic$" "^l1$" "^matrix$" "^fullstack$"
run "$BARLAB" check nosuchsuite
expect_error check-unknown-suite "unknown suite 'nosuchsuite'"
run env BARLAB_CACHE="$HARNESS_TMP/empty-cache" "$BARLAB" path kernel
expect_error path-not-built "kernel is not built for this tree"
run "$BARLAB" path nosuchartifact
expect_error path-unknown "unknown artifact 'nosuchartifact'"
run "$BARLAB" matrix --frobnicate
expect_error matrix-bad-option "unknown option '--frobnicate'"
run "$BARLAB" matrix --scenarios "$HARNESS_TMP/no-such.scn"
expect_error matrix-no-scenarios "no scenario file"
run "$BARLAB" boot --cpu
expect_error boot-option-needs-value "needs a CPU model"
run "$BARLAB" fullstack --help
expect fullstack-help 0 "usage: scripts/barlab fullstack"
run "$BARLAB" fullstack --policy sometimes
expect_error fullstack-bad-policy "sometimes"
run "$BARLAB" path barlab-mt
expect path-barlab-mt 0 "barlab-mt$"

harness_summary
