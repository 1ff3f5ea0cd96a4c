#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The matrix must go red when a correct driver idiom is made buggy.  A copy
# of the payloads has the barrier before the doorbell taken out of
# db_dmb_oshst and db_dsb (they become db_nobarrier under their own
# names); the matrix runs both cells under `any` with a reordering port,
# once with barlab's payload and once with the mutated one (--payload).
# barlab's payload must pass; with the mutated one each cell must fail
# with the checker's X3, which the oracle says cannot happen there, and
# name the access that was overtaken.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
T=$HARNESS_TMP

# The payloads with what they include, at the same relative places.
mkdir -p "$T/src/target-tests" "$T/src/hw"
cp -r "$ROOT/target-tests/payloads" "$ROOT/target-tests/vmm" "$T/src/target-tests/"
cp -r "$ROOT/hw/barlab" "$T/src/hw/"
# Drop the barrier line of the two patterns, and nothing else.
run python3 - "$T/src/target-tests/payloads/matrix-patterns.S" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
removed = 0
for name, barrier in (("db_dmb_oshst", "dmb     oshst"), ("db_dsb", "dsb     st")):
    head = "pattern %s\n" % name
    start = text.index(head)
    end = text.index("done\n", start)
    body = text[start:end]
    lines = [l for l in body.split("\n") if l.strip() != barrier]
    removed += body.count("\n") - ("\n".join(lines)).count("\n")
    text = text[:start] + "\n".join(lines) + text[end:]
open(path, "w").write(text)
print("removed %d barrier lines" % removed)
PY
expect mutation-applied 0 '^removed 2 barrier lines$'
HARNESS_TIMEOUT=120 run make -C "$T/src/target-tests/payloads" O="$T/build" "$T/build/matrix.elf"
expect mutant-built 0

cat >"$T/idioms.scn" <<'EOF'
# The doorbell idioms with their barriers, under stage-2 Normal-NC and a
# reordering port: nothing to find, unless the barrier is gone.
cpu=max bar=pref policy=any s1=normal-NC pattern=db_dmb_oshst,db_dsb touch=first port=reorder+speculate:7 trials=16
EOF

# cells_state DIR: "PATTERN match|differs WHY" per cell of DIR's report.
cells_state() {
    python3 - "$1/report.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["cells"]:
    print(r["cell"]["pattern"], "match" if r["match"] else "differs", r["why"])
PY
}

HARNESS_TIMEOUT=300 run "$BARLAB" matrix --scenarios "$T/idioms.scn" --out "$T/correct"
expect correct-idioms-pass 0
state=$(cells_state "$T/correct" 2>&1)
if [ "$(grep -c ' match ' <<<"$state")" = 2 ]; then ok correct-idioms-clean; else
    bad correct-idioms-clean "$state"; fi

HARNESS_TIMEOUT=300 run "$BARLAB" matrix --scenarios "$T/idioms.scn" --payload "$T/build/matrix.elf" \
    --out "$T/mutant"
expect mutant-fails 1 '^MISMATCH .*reported X3, which the oracle says cannot happen here'
state=$(cells_state "$T/mutant" 2>&1)
for p in db_dmb_oshst db_dsb; do
    if grep -qE "^$p differs the checker reported X3, .*overtaken by access [0-9]+" <<<"$state"; then
        ok "mutant-$p-red"
    else
        bad "mutant-$p-red" "$(grep "^$p " <<<"$state")"
    fi
done
harness_summary
