# SPDX-License-Identifier: GPL-2.0-or-later
# A small shell test harness shared by the bash tests: each test prints a
# TAP line, "ok N - name" or "not ok N - name: why" (with the output's
# last lines as TAP comments), and harness_summary prints the plan
# "1..N", so meson runs the scripts as they are (protocol 'tap',
# tests/meson.build).  Sourced, never executed.

HARNESS_TMP=$(mktemp -d)
trap 'rm -rf "$HARNESS_TMP"' EXIT
harness_passed=0
harness_failed=0
# TAP lines printed, and failures among them (a script may count a
# failure of its own in harness_failed; harness_summary reports it).
harness_n=0
harness_bad=0

# run CMD...: run CMD, keeping stdout, stderr and status in $HARNESS_TMP.
# With HARNESS_TIMEOUT set (seconds), CMD (a program, not a function) is
# stopped after that long: status 124 and a line on its stderr, so a hang
# fails one test.
run() {
    local status=0
    if [ -n "${HARNESS_TIMEOUT:-}" ] && [ "$(type -t "$1")" = file ]; then
        timeout -k 5 "$HARNESS_TIMEOUT" "$@" >"$HARNESS_TMP/out" 2>"$HARNESS_TMP/err" || status=$?
        [ "$status" != 124 ] || echo "harness: stopped after ${HARNESS_TIMEOUT} s: $*" >>"$HARNESS_TMP/err"
    else
        "$@" >"$HARNESS_TMP/out" 2>"$HARNESS_TMP/err" || status=$?
    fi
    echo "$status" >"$HARNESS_TMP/status"
}
status() { cat "$HARNESS_TMP/status"; }
ok() {
    harness_n=$((harness_n + 1))
    echo "ok $harness_n - $1"
    harness_passed=$((harness_passed + 1))
}
bad() {
    harness_n=$((harness_n + 1))
    echo "not ok $harness_n - $1: $2"
    sed 's/^/#     out: /' "$HARNESS_TMP/out" | tail -n 12
    sed 's/^/#     err: /' "$HARNESS_TMP/err" | tail -n 12
    harness_failed=$((harness_failed + 1))
    harness_bad=$((harness_bad + 1))
}
# check NAME COND-CMD... [-- WHY]: PASS if COND-CMD succeeds.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name" "check failed: $*"; fi
}
# expect NAME STATUS [ERE-in-stdout...]
expect() {
    local name=$1 want=$2 pat
    shift 2
    [ "$(status)" = "$want" ] || { bad "$name" "exit $(status), wanted $want"; return; }
    for pat in "$@"; do
        grep -qE -- "$pat" "$HARNESS_TMP/out" || { bad "$name" "no '$pat' in the output"; return; }
    done
    ok "$name"
}
# expect_line NAME FILE ERE...: PASS NAME if FILE has a line matching each
# ERE; otherwise FAIL, showing the file.
expect_line() {
    local name=$1 file=$2 pat
    shift 2
    for pat in "$@"; do
        if ! grep -qE -- "$pat" "$file" 2>/dev/null; then
            { echo "no line matching '$pat' in $file:"; cat "$file" 2>/dev/null; } >"$HARNESS_TMP/out"
            : >"$HARNESS_TMP/err"
            bad "$name" "no line matching '$pat'"
            return
        fi
    done
    ok "$name"
}

# expect_no_line NAME FILE ERE: PASS NAME if no line of FILE matches ERE.
expect_no_line() {
    local name=$1 file=$2
    if grep -E -- "$3" "$file" >"$HARNESS_TMP/out" 2>/dev/null; then
        : >"$HARNESS_TMP/err"
        bad "$name" "a line matches '$3'"
    else
        ok "$name"
    fi
}
# expect_error NAME PATTERN: non-zero, nothing on stdout, "barlab: error: ...PATTERN".
expect_error() {
    local name=$1 pat=$2
    [ "$(status)" != 0 ] || { bad "$name" "exit 0 on bad input"; return; }
    [ ! -s "$HARNESS_TMP/out" ] || { bad "$name" "wrote to stdout on error"; return; }
    grep -q "^barlab: error: .*$pat" "$HARNESS_TMP/err" || { bad "$name" "message lacks '$pat'"; return; }
    ok "$name"
}
# trace_shape JSON LO HI: "SIZExACCESSES ..." of the transactions at
# [LO, HI) in a trace dumped with `barlab-mt trace FILE --json`.
trace_shape() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
lo, hi = int(sys.argv[2], 0), int(sys.argv[3], 0)
recs = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join("%dx%d" % (r["size"], r["n"]) for r in recs
               if r.get("type") == "txn" and lo <= r["addr"] < hi))
PY
}

# expect_trace_shape NAME JSON LO HI WANT: PASS if trace_shape is WANT.
expect_trace_shape() {
    local got
    got=$(trace_shape "$2" "$3" "$4")
    if [ "$got" = "$5" ]; then ok "$1"; else
        echo "    got '$got', wanted '$5'" >"$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
        bad "$1" "wrong transactions at $3"
    fi
}

# tree_sums DIR: a digest line per file below DIR, to tell whether
# anything in it changed.
tree_sums() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
# interrupt_when PID COND...: wait until COND succeeds (the run under
# test got that far; at most 300 s) or PID is gone, give it two seconds
# more, send SIGTERM, and leave PID's exit status in $interrupted_status.
# PID must be a child of this shell.
interrupt_when() {
    local pid=$1
    shift
    for _ in $(seq 600); do
        "$@" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    sleep 2
    kill -TERM "$pid" 2>/dev/null
    interrupted_status=0
    wait "$pid" || interrupted_status=$?
    sleep 1
}
# harness_summary: the TAP plan; a failure a script counted itself (in
# harness_failed, beside a line of its own) is one "not ok" line each.
harness_summary() {
    while [ "$harness_bad" -lt "$harness_failed" ]; do
        harness_n=$((harness_n + 1))
        harness_bad=$((harness_bad + 1))
        echo "not ok $harness_n - failure reported above"
    done
    echo "1..$harness_n"
}
