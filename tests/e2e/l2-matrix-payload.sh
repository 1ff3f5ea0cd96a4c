#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The matrix payload end to end: barlab-vmm in L1 runs matrix.elf as an L2
# guest with barlab-gpu's VRAM passed through, and a few cells of the
# matrix come out as the oracle says, on the console and in the device
# trace.  Each run below has its own 8 KiB group at base; where a
# pattern's bytes are, the payload says in its cell-begin record
# (barlab-vmm prints it), which is where the test looks.
#   any     stage-1 Normal-NC (0x44): all patterns complete, on first touch
#           and on a TLB hit; burst64_str arrives as one 64-byte write at
#           its slot, Normal-NC at both stages; a TLB-hit run primes the
#           priming slot of the pattern's page (both pages for the
#           page-crossing store) before every pattern; every cell's end
#           record says it completed;
#   device  the same code: the aligned STR completes, the unaligned one
#           takes a stage-2 alignment fault and L1 KVM fails KVM_RUN with
#           EFAULT (outcome kvm-run-efault); with --inject-align KVM
#           delivers it to the guest as an EL1 data abort with FSC 0x21,
#           and the next pattern runs;
#   every   policy: under stage-1 Device-nGnRE (0x04) the unaligned STR
#           takes an alignment fault at EL1 (FSC 0x21), and its end record
#           has the syndrome (EC 0x25, DFSC 0x21, WnR 1); the stage-2 fault
#           that ends the VM has KVM's ESR_EL2 as a record (EC 0x24, ISV 1,
#           SAS 3, SRT 3, WnR 1, DFSC 0x21).
#   idioms  the driver idioms (barlab-mt patterns, targets push and rc) on
#           barlab-nic's push pages, its port reordering and reading
#           speculatively: every verdict the port's checker gives a trial
#           is one the oracle says is possible for the cell; a doorbell
#           gathered into a 64-byte copy is always reported (X2), a
#           speculative read reaches the read-to-clear STATUS in some of
#           16 trials (X1); under Device-nGnRE nothing is reported.
#   bar0    barlab-gpu's register BAR (non-prefetchable), its scratch
#           window and event queues, BAR0's port speculating: under `any`
#           (stage 2 Normal-NC) the unaligned store completes, the burst
#           arrives as one 64-byte write and a speculative read reaches a
#           read-to-clear EVENTS in some of 16 trials (X1); under
#           `prefetchable` (the 2021 RFC) the same BAR stays Device-nGnRE:
#           the burst arrives as eight 8-byte writes, nothing is read
#           speculatively, and the unaligned store ends the VM; a group
#           outside the scratch window is refused.
# Bad arguments end the payload with "matrix error:".  Two L1 boots; the
# policy changes inside L1 between runs.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
. "$ROOT/tests/lib/l1.sh"
MT=${BARLAB_MT:?set BARLAB_MT to barlab-mt}

# The patterns on barlab-gpu's VRAM BAR; the driver idioms (targets push
# and rc) run on barlab-nic's push page below.
if ! PATTERNS=$("$MT" patterns | awk '$2 == "bar" { print $1 }') || [ -z "$PATTERNS" ]; then
    echo "FAIL patterns: barlab-mt patterns listed nothing"
    harness_summary
    exit 1
fi
ALL=$(echo $PATTERNS | tr ' ' ,)
IDIOMS=$("$MT" patterns | awk '$2 == "push" || $2 == "rc" { print $1 }' | paste -sd,)

# record BOOT RUN TYPE CELL KEY: field KEY of run RUN's first record of TYPE
# for CELL (barlab-vmm's "vmm: record {JSON}" lines), or nothing.
record() {
    l1_console "$1" | sed -n "s/^$2: vmm: record //p" | python3 -c '
import json, sys
t, cell, key = sys.argv[1:]
for line in sys.stdin:
    r = json.loads(line)
    if r["record"] == t and r.get("cell", cell) == cell:
        v = r[key]
        print(hex(v) if isinstance(v, int) and key in ("lo", "hi", "origin") else v)
        break
' "$3" "$4" "$5"
}

# slot_off NAME BOOT RUN: where pattern NAME's offsets count from in RUN.
slot_off() { record "$2" "$3" cell-begin "$1" origin; }

# In L1: each run's output lines prefixed with "NAME: ", then "NAME: exit N".
read -r -d '' L1_LIB <<'EOF'
gpu=$(bl_find $BL_GPU) || bl_fail "no barlab-gpu"
nic=$(bl_find $BL_NIC) || bl_fail "no barlab-nic"
mx() { mxd "$gpu" "$@"; }
# mxd DEVICES NAME ARGS...: matrix.elf with DEVICES passed through.
mxd() {
    devs=$1
    name=$2
    shift 2
    barlab-vmm --timeout 60 --device "$devs" /lib/barlab/payloads/matrix.elf "$@" \
        >/tmp/vmm.out 2>&1
    rc=$?
    sed "s/^/$name: /" /tmp/vmm.out
    echo "$name: exit $rc"
}
EOF

# run_of BOOT RUN: make run RUN of boot BOOT what `expect` looks at: its
# lines without the "RUN: " prefix, and its exit status.
run_of() {
    l1_console "$1" | sed -n "s/^$2: //p" >"$HARNESS_TMP/out"
    : >"$HARNESS_TMP/err"
    sed -n 's/^exit //p' "$HARNESS_TMP/out" >"$HARNESS_TMP/status"
}

# trace_json BOOT: boot BOOT's barlab-gpu trace as JSON lines; its path.
trace_json() {
    local json=$HARNESS_TMP/$1.json
    [ -s "$json" ] || "$MT" trace "$HARNESS_TMP/$1/gpu.trace" --json >"$json" 2>"$HARNESS_TMP/err"
    echo "$json"
}

# expect_txn NAME BOOT ADDR SIZE ACCESSES S1 S2: exactly one transaction at
# [ADDR, ADDR + 256), a write of SIZE bytes at ADDR gathered from ACCESSES
# accesses, with those stage-1 and stage-2 attributes.
expect_txn() {
    run python3 - "$(trace_json "$2")" "$3" "$4" "$5" "$6" "$7" <<'PY'
import json, sys
path, addr, size, n, s1, s2 = sys.argv[1], *(int(a, 0) for a in sys.argv[2:])
txns = [r for r in map(json.loads, open(path))
        if r.get("type") == "txn" and addr <= r["addr"] < addr + 256]
for t in txns:
    print("addr %#x %s size %d n %d s1 %#x s2 %#x attr %#x flags %s" % (
        t["addr"], t["op"], t["size"], t["n"], t["s1"], t["s2"], t["attr"], t["flags"]))
# One write of SIZE bytes merging N accesses; where N > 1 an exit to L1
# between two stores may drain the gather buffer early (permitted, and '~'
# in the matrix): then contiguous writes that add up to the same and
# still gather.
ok = len(txns) >= 1 and all(t["op"] == "W" and (t["s1"], t["s2"]) == (s1, s2) and
                             "nostage2" not in t["flags"] for t in txns)
txns.sort(key=lambda t: t["addr"])
ok = ok and txns[0]["addr"] == addr and all(a["addr"] + a["size"] == b["addr"] for a, b in zip(txns, txns[1:]))
ok = ok and sum(t["size"] for t in txns) == size and sum(t["n"] for t in txns) == n
ok = ok and (len(txns) == 1 or (n > 1 and max(t["n"] for t in txns) > 1))
sys.exit(0 if ok else 1)
PY
    expect "$1" 0
}

# every_cell_ok: an ERE per pattern, "cell NAME ok".
every_cell_ok() {
    local p
    for p in $PATTERNS; do
        echo "^cell $p ok\$"
    done
}

# barlab-nic for the driver idioms: its push port reorders and reads
# speculatively (seeded), STATUS read-to-clear as the oracle's window
# declares it, and room for four runs' push pages (each run's
# pattern k, trial t, at nic= + 4 KiB * (k * trials + t)).
NIC_PORT=reorder+speculate:7
NIC_PROPS="port-mode=$NIC_PORT,push-status-rc=on,push-size=512K"
# barlab-gpu's BAR0 groups: in its scratch window, where the oracle's
# window gpu-scratch says it is.
BAR0_GROUP=$(printf 'cpu=max bar=nonpref policy=any s1=normal-NC pattern=str8 touch=first\n' |
    "$MT" oracle /dev/stdin --json | python3 -c 'import json,sys; print(hex(json.load(sys.stdin)["window_base"]))')

# Boot 1: vfio-pci policy any, then device, then prefetchable.
l1 any "$L1_LIB
mx any44 mair=0x44 touch=first base=0x0 patterns=$ALL
mx any44-hit mair=0x44 touch=hit base=0x2000 patterns=$ALL
mx any04 mair=0x04 touch=first base=0x4000 patterns=str8_unaligned,str8
mx bar0-any44 mair=0x44 touch=first base=$BAR0_GROUP patterns=str8_unaligned,burst64_str,rc_read_spec bar=0 evq=0 trials=16
mxd "\$gpu,\$nic" idioms-any44 mair=0x44 touch=first base=0xc000 patterns=$IDIOMS nic=0x0 trials=2
mxd "\$gpu,\$nic" idioms-any0c mair=0x0c touch=first base=0xc000 patterns=$IDIOMS nic=0xc000 trials=1
mxd "\$gpu,\$nic" idioms-rc44 mair=0x44 touch=first base=0xc000 patterns=rc_read_spec nic=0x20000 trials=16
bl_policy device
mxd "\$gpu,\$nic" idioms-device44 mair=0x44 touch=first base=0xc000 patterns=$IDIOMS nic=0x12000 trials=2
mx device44 mair=0x44 touch=first base=0x6000 patterns=str8,str8_unaligned,stp16
mx device04 mair=0x04 touch=first base=0x8000 patterns=str8_unaligned
bl_policy prefetchable
mx prefetchable04 mair=0x04 touch=hit base=0xa000 patterns=str8_unaligned
mx bar0-pref44 mair=0x44 touch=first base=$(printf %#x $((BAR0_GROUP + 0x2000))) patterns=burst64_str,rc_read_spec,str8_unaligned bar=0 evq=16 trials=16
mx bar0-outside-scratch mair=0x44 touch=first base=0x0 patterns=str8 bar=0
mx unknown-pattern mair=0x44 touch=first base=0x0 patterns=str8,str9
mx base-not-a-group mair=0x44 touch=first base=0x1000 patterns=str8
" --policy any --timeout 600 --device-props "nic,$NIC_PROPS" --device-props "gpu,regs-port-mode=$NIC_PORT"
expect any-boot 0 "barlab-l1: exit 0"

mapfile -t all_ok < <(every_cell_ok)
run_of any any44
expect any44-all-patterns-complete 0 "${all_ok[@]}" "^matrix done$" "^vmm: outcome=ok "
burst=$(slot_off burst64_str any any44)
expect_txn any44-burst64_str-one-64-byte-write any "$burst" 64 8 0x44 0x5
n=0
for p in $PATTERNS; do
    [ "$(record any any44 cell-end "$p" result)" = completed ] && n=$((n + 1))
done
run test "$n" = "$(echo $PATTERNS | wc -w)"
expect any44-every-end-record-completed 0
run_of any any44-hit
expect any44-hit-all-patterns-complete 0 "${all_ok[@]}" "^matrix done$" "^vmm: outcome=ok "
expect_txn any44-hit-burst64_str-one-64-byte-write any "$(slot_off burst64_str any any44-hit)" 64 8 0x44 0x5
# One priming load per pattern in its page's slot 15, two for the store
# across the pages: 0x2f00 and 0x3f00 of the group at 0x2000.
run python3 - "$(trace_json any)" "$(echo $PATTERNS | wc -w)" <<'PY'
import json, sys
recs = [r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "txn"]
primes = [r for r in recs if r["addr"] in (0x2f00, 0x3f00)]
print(len(primes), "priming loads", sorted({(r["op"], r["size"]) for r in primes}))
sys.exit(0 if len(primes) == int(sys.argv[2]) + 1 and
         {(r["op"], r["size"]) for r in primes} == {("R", 8)} else 1)
PY
expect any44-hit-primes-each-page 0

# The driver idioms: every trial of every cell completes, and the port's
# checker judged each trial's transactions.  Whatever it reported the
# oracle says is possible for that cell under the port's mode, and where
# the oracle says a violation is certain (a doorbell gathered into the
# copy) it is there; under Device-nGnRE nothing is reported at all.
every_idiom_ok() {
    local p
    for p in $(echo "$IDIOMS" | tr , ' '); do
        echo "^cell $p ok\$"
    done
}
mapfile -t idioms_ok < <(every_idiom_ok)
for r in idioms-any44 idioms-any0c idioms-device44; do
    run_of any "$r"
    expect "$r-complete" 0 "${idioms_ok[@]}" "^matrix done$" "^vmm: outcome=ok "
done
run_of any idioms-rc44
expect idioms-rc44-complete 0 "^cell rc_read_spec ok$" "^matrix done$" "^vmm: outcome=ok "
printf 'cpu=max bar=pref policy=any,device s1=normal-NC,device-GRE pattern=%s touch=first port=%s\n' \
    "$IDIOMS" "$NIC_PORT" >"$HARNESS_TMP/idioms.scn"
"$MT" oracle "$HARNESS_TMP/idioms.scn" --json >"$HARNESS_TMP/idioms.jsonl" 2>"$HARNESS_TMP/err"
"$MT" trace "$HARNESS_TMP/any/nic.trace" --json >"$HARNESS_TMP/nic.json" 2>>"$HARNESS_TMP/err"
l1_console any >"$HARNESS_TMP/any.console"
run python3 - "$HARNESS_TMP/any.console" "$HARNESS_TMP/nic.json" "$HARNESS_TMP/idioms.jsonl" <<'PY'
import json, sys
console, trace, oracle = sys.argv[1:]
runs = {"idioms-any44": ("any", "0x44"), "idioms-any0c": ("any", "0xc"),
        "idioms-device44": ("device", "0x44"), "idioms-rc44": ("any", "0x44")}
pred = {}
for c in map(json.loads, open(oracle)):
    pred[(c["policy"], c["s1"], c["pattern"])] = set(c["violations_possible"])
# The windows of every trial: (run, pattern, lo, hi) from the cell-begin records.
wins = []
for line in open(console):
    run, sep, rest = line.partition(": vmm: record ")
    if run in runs and sep:
        r = json.loads(rest)
        if r["record"] == "cell-begin":
            wins.append((run, r["cell"], r["lo"], r["hi"]))
txns = [t for t in map(json.loads, open(trace)) if t.get("type") == "txn"]
bad = 0
seen = {}
hits = {}
for run, pat, lo, hi in wins:
    mine = [t for t in txns if lo <= t["addr"] < hi]
    got = set(v for t in mine for v in t["verdict"])
    policy, s1 = runs[run]
    possible = pred[(policy, "0x%02x" % int(s1, 16), pat)]
    seen.setdefault((run, pat), set()).update(got)
    h = hits.setdefault((run, pat), [0, 0])
    h[0] += bool(got)
    h[1] += 1
    print("%-16s %-13s %#07x %2d txns verdicts %-8s possible %s" % (
        run, pat, lo, len(mine), ",".join(sorted(got)) or "-", ",".join(sorted(possible)) or "-"))
    if not mine or not got <= possible:
        bad += 1
for (run, pat), got in seen.items():
    if pat == "bf_copy64_db" and runs[run][0] == "any" and "X2" not in got:
        print("%s %s: the gathered doorbell was not reported" % (run, pat))
        bad += 1
    if run == "idioms-rc44" and "X1" not in got:
        print("%s: no speculative read of STATUS in 16 trials" % run)
        bad += 1
    if runs[run][0] == "device" and got:
        print("%s %s: a verdict under Device-nGnRE" % (run, pat))
        bad += 1
for (run, pat), (n, trials) in hits.items():
    if n:
        print("%s %s: %s in %d of %d trials" % (run, pat, ",".join(sorted(seen[(run, pat)])), n, trials))
print(len(wins), "trial windows,", bad, "wrong")
sys.exit(1 if bad or len(wins) != 5 * 6 + 16 else 0)
PY
expect idioms-verdicts-as-the-oracle-predicts 0
sed 's/^/    /' "$HARNESS_TMP/out"

# barlab-gpu's register BAR: the same code under `any` and under the 2021
# RFC's `prefetchable`, told apart by what reached BAR0 (gpu-regs.trace).
run_of any bar0-any44
expect bar0-any44-complete 0 "^cell str8_unaligned ok$" "^cell burst64_str ok$" \
    "^cell rc_read_spec ok$" "^matrix done$" "^vmm: outcome=ok "
run_of any bar0-pref44
expect bar0-pref44-vm-dies-at-the-unaligned-store 2 "^cell burst64_str ok$" "^cell rc_read_spec ok$" \
    "^cell str8_unaligned begin$" \
    "^vmm: outcome=kvm-run-efault .*kvm=\"Unsupported FSC: EC=0x24 xFSC=0x21 "
run_of any bar0-outside-scratch
expect bar0-outside-scratch-error 1 "^matrix error: base=0x0: on BAR0 a group must lie in the scratch window"
"$MT" trace "$HARNESS_TMP/any/gpu-regs.trace" --json >"$HARNESS_TMP/regs.json" 2>"$HARNESS_TMP/err"
run python3 - "$HARNESS_TMP/any.console" "$HARNESS_TMP/regs.json" <<'PY'
import json, sys
console, trace = sys.argv[1:]
wins = {}
for line in open(console):
    run, sep, rest = line.partition(": vmm: record ")
    if run in ("bar0-any44", "bar0-pref44") and sep:
        r = json.loads(rest)
        if r["record"] == "cell-begin":
            wins.setdefault((run, r["cell"]), []).append((r["lo"], r["hi"], r["origin"]))
txns = [t for t in map(json.loads, open(trace)) if t.get("type") == "txn"]
def mine(run, cell):
    return [[t for t in txns if lo <= t["addr"] < hi] for lo, hi, _ in wins[(run, cell)]]
bad = 0
# Normal-NC gathers the eight stores (into one line, or pieces of it where
# an exit to L1 drained the buffer between two stores: permitted);
# Device-nGnRE delivers them one by one.
def gathered(got):
    return sum(s for s, _ in got) == 64 and sum(n for _, n in got) == 8 and max(n for _, n in got) > 1
for run, s2, shape_ok in (("bar0-any44", 5, gathered), ("bar0-pref44", 1, lambda got: got == [(8, 1)] * 8)):
    burst = mine(run, "burst64_str")[0]
    got = [(t["size"], t["n"]) for t in burst]
    print("%s burst64_str: %s, stage 2 %s" % (run, got, sorted({t["s2"] for t in burst})))
    if not got or not shape_ok(got) or {t["s2"] for t in burst} != {s2} or any(t["op"] != "W" for t in burst):
        bad += 1
    trials = mine(run, "rc_read_spec")
    hits = sum(any(t["verdict"] for t in ts) for ts in trials)
    verdicts = {v for ts in trials for t in ts for v in t["verdict"]}
    spec = sum("spec" in t["flags"].split("|") for ts in trials for t in ts)
    print("%s rc_read_spec: %d trials, X1 in %d, verdicts %s, %d speculative reads"
          % (run, len(trials), hits, sorted(verdicts), spec))
    if len(trials) != 16 or not verdicts <= {"X1"}:
        bad += 1
    if run == "bar0-any44" and not hits:
        print("no speculative read of EVENTS in 16 trials under Normal-NC")
        bad += 1
    if run == "bar0-pref44" and (hits or spec):
        print("a speculative read of the register BAR under Device-nGnRE")
        bad += 1
unaligned = mine("bar0-pref44", "str8_unaligned")[0]
if unaligned:
    print("the unaligned store that ended the VM reached BAR0: %s" % unaligned)
    bad += 1
sys.exit(1 if bad else 0)
PY
expect bar0-any-gathers-and-speculates-prefetchable-does-not 0
sed 's/^/    /' "$HARNESS_TMP/out"

# expect_el1_alignment_fault NAME RUN BASE: str8_unaligned of run RUN
# faulted at EL1 (FSC 0x21) at its address, and the run went on.
expect_el1_alignment_fault() {
    local far
    far=$(printf '%x' $(($(slot_off str8_unaligned any "$2") + 4)))
    run_of any "$2"
    expect "$1" 0 "^cell str8_unaligned fault ec=0x25 fsc=0x21 far=0x[0-9a-f]*$far\$" \
        "^matrix done$" "^vmm: outcome=ok "
    run echo "$(record any "$2" cell-end str8_unaligned ec) $(record any "$2" cell-end \
        str8_unaligned dfsc) $(record any "$2" cell-end str8_unaligned wnr)"
    expect "$1-syndrome" 0 "^37 33 1$"
}
expect_el1_alignment_fault any04-el1-alignment-fault any04
run_of any any04
expect any04-next-pattern-runs 0 "^cell str8 ok$"
expect_el1_alignment_fault device04-el1-alignment-fault device04
expect_el1_alignment_fault prefetchable04-el1-alignment-fault prefetchable04

run_of any device44
expect device44-vm-dies-at-the-unaligned-store 2 "^cell str8 ok$" \
    "^cell str8_unaligned begin$" \
    "^vmm: outcome=kvm-run-efault .*kvm=\"Unsupported FSC: EC=0x24 xFSC=0x21 "
if grep -qE "^cell str8_unaligned (ok|fault)|^cell stp16|^matrix done" "$HARNESS_TMP/out"; then
    bad device44-nothing-after-the-fault "the payload ran on after the stage-2 fault"
else
    ok device44-nothing-after-the-fault
fi
run echo $(for k in el ec isv sas srt sf wnr dfsc; do record any device44 kvm-run-efault x "$k"; done)
expect device44-efault-record-has-kvm-syndrome 0 "^2 36 1 3 3 1 1 33$"
d44=$(slot_off str8_unaligned any device44)
expect_trace_shape device44-unaligned-store-never-arrives "$(trace_json any)" \
    "$d44" $((d44 + 256)) ""

run_of any unknown-pattern
expect unknown-pattern-error 1 "^matrix error: unknown pattern 'str9'$" \
    "^vmm: outcome=guest-fail .*abort=\"unknown pattern 'str9'\""
run_of any base-not-a-group
expect base-not-a-group-error 1 "^matrix error: base=0x1000 is not an 8 KiB group"

# Boot 2: KVM injects the stage-2 alignment fault instead of failing KVM_RUN.
l1 inject "$L1_LIB
mx device44 mair=0x44 touch=first base=0x0 patterns=str8,str8_unaligned,stp16
" --policy device --inject-align --timeout 600
expect inject-boot 0 "barlab-l1: exit 0"
far=$(printf '%x' $(($(slot_off str8_unaligned inject device44) + 4)))
run_of inject device44
expect inject-device44-el1-fault-fsc-0x21 0 "^cell str8 ok$" \
    "^cell str8_unaligned fault ec=0x25 fsc=0x21 far=0x[0-9a-f]*$far\$" \
    "^cell stp16 ok$" "^matrix done$" "^vmm: outcome=ok "
# KVM builds the injected syndrome itself: EC 0x25, no ISV, WnR kept.
run echo $(for k in ec isv wnr dfsc; do record inject device44 cell-end str8_unaligned "$k"; done)
expect inject-device44-injected-syndrome 0 "^37 0 1 33$"
i44=$(slot_off str8_unaligned inject device44)
expect_trace_shape inject-device44-unaligned-store-never-arrives "$(trace_json inject)" \
    "$i44" $((i44 + 256)) ""

harness_summary
