#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A user's instruction sequence in the matrix (pattern=file:,
# docs/scenarios.md "Your instruction sequence"), end to end under nested
# KVM with the quick matrix's setup:
#   example   target-tests/scenarios/examples/my-stp.scn: its unaligned STP
#             ends the VM under policy device (stage 2 Device-nGnRE) and
#             arrives at barlab-gpu under any, one 16-byte write (marked ~:
#             the oracle predicts no shape for a user's pattern); under a
#             stage-1 Device mapping it faults at EL1 under both;
#   refused   a file that does not assemble: one error line with the
#             assembler's message and the file's line; a missing file: one
#             line naming the scenario file and line; --payload beside
#             pattern=file: likewise; none writes a report (nor leaves a
#             run directory);
#   timeout   a pattern that never returns: that cell's run ends at the
#             VMM's timeout and the cell says so, the next pattern of the
#             group still runs;
#   unknown   a file without a '// barlab:' line under a Device type: the
#             oracle says "~" (it does not know whether it faults).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
MT=${BARLAB_MT:?set BARLAB_MT to barlab-mt}
EXAMPLE=$ROOT/target-tests/scenarios/examples

# cell REPORT POLICY S1 PATTERN-FILE: "match status observed-text" of the
# report's cell (the first touch).
cell() {
    python3 - "$@" <<'PY'
import json, sys
path, policy, s1, pfile = sys.argv[1:]
for r in json.load(open(path))["cells"]:
    c = r["cell"]
    if (c["policy"], c["s1"], c.get("pattern_file", c["pattern"])) == (policy, s1, pfile):
        print(r["match"], r["observed"]["status"], r["observed_text"], "|", r["note"] or r["why"])
        break
else:
    print("no such cell")
PY
}

# The example: four cells, as predicted.
run "$BARLAB" matrix --scenarios "$EXAMPLE/my-stp.scn" --out "$HARNESS_TMP/example"
expect example-as-predicted 0 "^matrix: 4 cells, 4 as predicted"
cp "$HARNESS_TMP/out" "$HARNESS_TMP/example.out"
expect_line example-table-marks-the-unknown-shape "$HARNESS_TMP/example.out" \
    "^Normal-NC +file:my-stp\.S +✓ VM killed \(EFAULT\) +~ complete 1x16B"
R=$HARNESS_TMP/example/report.json
run cell "$R" device 0x44 my-stp.S
expect example-device-normal-nc-vm-dies 0 "^True vm-killed VM killed \(EFAULT\)"
run cell "$R" any 0x44 my-stp.S
expect example-any-normal-nc-arrives 0 "^True ok complete 1x16B \| the oracle does not predict"
run cell "$R" device 0x04 my-stp.S
expect example-device-s1-device-el1-fault 0 "^True fault-el1 EL1 fault fsc=0x21"
run cell "$R" any 0x04 my-stp.S
expect example-any-s1-device-el1-fault 0 "^True fault-el1 EL1 fault fsc=0x21"

# A file that does not assemble, and a missing one: one line, no report.
mkdir -p "$HARNESS_TMP/files"
sed 's/stp    x3/stpx   x3/' "$EXAMPLE/my-stp.S" >"$HARNESS_TMP/files/broken.S"
printf 'cpu=max policy=any bar=pref s1=normal-NC pattern=file:broken.S touch=first\n' \
    >"$HARNESS_TMP/files/broken.scn"
printf '# a comment\ncpu=max policy=any bar=pref s1=normal-NC pattern=str8,file:gone.S\n' \
    >"$HARNESS_TMP/files/gone.scn"
# refused NAME SCN ERE [OPTION...]: the matrix refuses SCN with one
# error line matching ERE, and leaves no report and no run directory
# behind.
refused() {
    local out=$HARNESS_TMP/files/out-$1
    run "$BARLAB" matrix --scenarios "$HARNESS_TMP/files/$2" --out "$out" "${@:4}"
    if [ "$(status)" != 1 ]; then
        bad "$1" "exit $(status), wanted 1"
    elif [ "$(grep -c '^barlab: error:' "$HARNESS_TMP/err")" != 1 ]; then
        bad "$1" "not one error line"
    elif ! grep -qE "^barlab: error: $3" "$HARNESS_TMP/err"; then
        bad "$1" "no error line matching '$3'"
    elif [ -e "$out" ] || compgen -G "$HARNESS_TMP/files/.out-$1*" >/dev/null; then
        bad "$1" "it left files behind: $(ls -a "$HARNESS_TMP/files" | tr '\n' ' ')"
    else
        ok "$1"
    fi
}
refused does-not-assemble broken.scn \
    "matrix: .*/files/broken\.S:4: Error: unknown mnemonic .stpx' -- .stpx x3,x4,\[x13\]'$"
refused missing-file gone.scn \
    ".*/files/gone\.scn:2: pattern file 'gone\.S' \(.*/files/gone\.S, relative to the scenario file\): No such file or directory$"
# --payload too: two payloads for one run.
cp "$EXAMPLE/my-stp.S" "$EXAMPLE/my-stp.scn" "$HARNESS_TMP/files/"
refused payload-and-file my-stp.scn "matrix: --payload .* and pattern=file: in the scenarios both replace" \
    --payload "$(dirname "$("$BARLAB" path payloads)")/matrix.elf"

# A pattern that never returns: its cell is a timeout, bounded by the
# VMM's; str8 in the same group still runs.
printf 'pattern:\n    b       pattern\n' >"$HARNESS_TMP/files/loop.S"
printf 'cpu=max policy=any bar=pref s1=normal-NC pattern=file:loop.S,str8 touch=first\n' \
    >"$HARNESS_TMP/files/loop.scn"
run "$BARLAB" matrix --scenarios "$HARNESS_TMP/files/loop.scn" --out "$HARNESS_TMP/loop"
expect loop-differs 1 "^MISMATCH max/any/Normal-NC/file:loop\.S/first: the pattern did not return before the run's timeout \(outcome=timeout after=[0-9]+s"
R=$HARNESS_TMP/loop/report.json
run cell "$R" any 0x44 loop.S
expect loop-cell-is-a-timeout 0 "^False vmm-timeout timeout"
run cell "$R" any 0x44 str8
expect loop-next-pattern-runs 0 "^True ok ok 1x8B"

# No declaration under a Device type: the oracle does not know.
printf 'cpu=max policy=device,any bar=pref s1=normal-NC pattern=file:loop.S touch=first\n' \
    >"$HARNESS_TMP/files/unknown.scn"
run "$MT" oracle "$HARNESS_TMP/files/unknown.scn"
expect unknown-is-tilde-under-device 0 \
    "^Normal-NC +file:loop\.S +pref +~ fault or not .* IMPDEF: ok ~ "

harness_summary
