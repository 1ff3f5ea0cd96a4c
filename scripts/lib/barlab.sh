#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The commands of scripts/barlab that are not yet in the Python package
# (python/barlab): barlab.cli runs this for them.  Sourced, it only
# defines the functions (barlab.bashlib calls them).
set -euo pipefail

BARLAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$BARLAB_ROOT/scripts/lib/common.sh"
. "$BARLAB_ROOT/scripts/lib/cli.sh"
. "$BARLAB_ROOT/scripts/lib/apt.sh"
. "$BARLAB_ROOT/scripts/lib/builds.sh"
. "$BARLAB_ROOT/scripts/lib/kernel.sh"
. "$BARLAB_ROOT/scripts/lib/initramfs.sh"
. "$BARLAB_ROOT/scripts/lib/setup.sh"

CORE_BUILD=$BARLAB_BUILD/core
BARLAB_MT=$CORE_BUILD/tools/barlab-mt
# The same with ASan and UBSan (build core --sanitize).
CORE_BUILD_SAN=$BARLAB_BUILD/core-sanitize
BARLAB_MT_SAN=$CORE_BUILD_SAN/tools/barlab-mt

# Suites in the order `check` runs them.
ALL_SUITES="unit cli series qemu nic sanitize l1 matrix fullstack"
# Suites that run only when named (a CI job of their own).
EXTRA_SUITES="upstream"

# The commands, in the order `barlab --help` lists them.  Each command CMD
# has its usage text, usage_CMD (a subcommand: usage_CMD_SUB), in one
# place: here, or beside its code in scripts/lib/.  The text's first line
# after the synopsis ("usage:" and its indented continuations) is the
# summary `barlab --help` shows.  `barlab CMD --help` prints the text
# and does nothing else; a usage mistake is usage_die (scripts/lib/cli.sh).
COMMANDS="check"

usage_check() {
    cat <<USAGE
usage: scripts/barlab check [SUITE...]
       scripts/barlab check --list
set up, build and run the tests; ends with "N passed, N failed"
  SUITE               run only these suites: ${ALL_SUITES// /, }
                      (default: all; fullstack's quick subset)
                      or ${EXTRA_SUITES// /, }, only when named: upstream QEMU's
                      qtest-aarch64 and quick functional tests on barlab's QEMU
  --list              list the suites
A unit test binary or a cli test that runs longer than BARLAB_TEST_TIMEOUT
(default 300 s and 60 s) is stopped and counted as one failure.
USAGE
}

build_core() {
    if [ ! -f "$CORE_BUILD/build.ninja" ]; then
        rm -rf "$CORE_BUILD"     # a half-configured tree from a failed run
        run_step core-configure meson setup "$CORE_BUILD" "$BARLAB_ROOT"
    fi
    run_step core-build ninja -C "$CORE_BUILD"
}

# build_core_sanitized: the core, its tests and tools with ASan and UBSan,
# a UBSan report fatal, in a build directory of their own.
build_core_sanitized() {
    if [ ! -f "$CORE_BUILD_SAN/build.ninja" ]; then
        rm -rf "$CORE_BUILD_SAN"
        run_step core-sanitize-configure meson setup "$CORE_BUILD_SAN" "$BARLAB_ROOT" \
            -Db_sanitize=address,undefined -Db_lundef=false \
            -Dc_args=-fno-sanitize-recover=undefined -Dcpp_args=-fno-sanitize-recover=undefined
    fi
    run_step core-sanitize-build ninja -C "$CORE_BUILD_SAN"
}

# --- check --------------------------------------------------------------------

PASSED=0
FAILED=0
SKIPPED=0

# Each GoogleTest binary: count its test cases; a crash counts as one failure.
gtest_count() {    # gtest_count WORD OUTPUT: N from "[  WORD  ] N test(s)"
    sed -n "s/^\\[ *$1 *\\] \\([0-9]*\\) tests\\{0,1\\}[.,].*/\\1/p" <<<"$2" | tail -n1
}

# A unit test binary runs at most this long (s); a test case that hangs
# is stopped, named and counted as one failure, and the binary runs again
# without it.
UNIT_TIMEOUT=${BARLAB_TEST_TIMEOUT:-300}

run_suite_unit() {
    local t out p f s rc hung name filter log=$BARLAB_LOGS/unit.log
    mkdir -p "$BARLAB_LOGS"
    for t in "$CORE_BUILD"/tests/unit/test_*; do
        [ -f "$t" ] && [ -x "$t" ] || continue
        hung=()
        filter='*'
        while :; do
            rc=0
            timeout -k 5 "$UNIT_TIMEOUT" "$t" --gtest_filter="$filter" >"$log" 2>&1 || rc=$?
            [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || break
            # The test that was running: the last one begun and not ended.
            name=$(awk '/^\[ RUN      \]/ { n = $4 } /^\[       OK \]|^\[  FAILED  \] [^0-9]/ { n = "" }
                END { print n }' "$log")
            [ -n "$name" ] && [ ${#hung[@]} -lt 3 ] || break
            printf 'unit: %s: %s did not end within %d s (BARLAB_TEST_TIMEOUT), counted as failed\n' \
                "${t##*/}" "$name" "$UNIT_TIMEOUT"
            hung+=("$name")
            filter="*-$(IFS=:; echo "${hung[*]}")"
        done
        out=$(grep -E '^\[ *(PASSED|FAILED|SKIPPED) *\] [0-9]' "$log") || true
        p=$(gtest_count PASSED "$out")
        f=$(gtest_count FAILED "$out")
        s=$(gtest_count SKIPPED "$out")
        if [ -z "$p" ] || { [ "$rc" -ne 0 ] && [ -z "$f" ]; }; then
            if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
                printf 'unit: %s did not end within %d s (BARLAB_TEST_TIMEOUT):\n' "${t##*/}" "$UNIT_TIMEOUT"
            else
                printf 'unit: %s crashed (exit %d) or printed no summary:\n' "${t##*/}" "$rc"
            fi
            tail -n 20 "$log" | sed 's/^/    /'
            FAILED=$((FAILED + 1 + ${#hung[@]}))
            continue
        fi
        f=$((${f:-0} + ${#hung[@]})); s=${s:-0}
        printf 'unit: %-16s %4d passed, %d failed, %d skipped\n' "${t##*/}" "$p" "$f" "$s"
        [ "$f" -eq ${#hung[@]} ] || sed -n '/ listed below:$/,$p' "$log" |
            grep '^\[  FAILED  \] [^0-9]' | sed 's/^/    /'
        PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s))
    done
}

# run_harness SUITE SCRIPT [ENV=VALUE...]: a tests/lib/harness.sh script;
# its FAIL lines and notes are shown, its PASS lines only counted.
run_harness() {
    local suite=$1 script=$2 out p f
    shift 2
    # A backstop: the scripts' own tests have timeouts (HARNESS_TIMEOUT).
    out=$(timeout -k 10 3600 env "$@" bash "$script" 2>&1) || true
    grep -v -e '^PASS ' -e '^harness-summary ' <<<"$out" || true
    read -r p f < <(sed -n 's/^harness-summary \([0-9]*\) \([0-9]*\)$/\1 \2/p' <<<"$out") || true
    if [ -z "${p:-}" ]; then
        echo "$suite: ${script##*/} stopped before its summary:"
        tail -n 20 <<<"$out" | sed 's/^/    /'
        FAILED=$((FAILED + 1))
        return
    fi
    printf '%s: %-17s %4d passed, %d failed\n' "$suite" "${script##*/}" "$p" "$f"
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
}

run_suite_cli() {
    local t
    for t in "$BARLAB_ROOT"/tests/cli/test-*.sh; do
        run_harness cli "$t" BARLAB_MT="$BARLAB_MT" HARNESS_TIMEOUT="${BARLAB_TEST_TIMEOUT:-60}"
    done
}

# The patch series' form and checkpatch.pl (tests/series), with the
# projects' own checkpatch.pl from the unpacked sources.
run_suite_series() {
    _qemu_fetch
    _kernel_fetch
    run_harness series "$BARLAB_ROOT/tests/series/test-series.sh" \
        QEMU_SRC="$BARLAB_CACHE/src/qemu-$_qemu_ver" \
        KERNEL_SRC="$BARLAB_CACHE/src/linux-$_kernel_ver"
}

# GLib qtests speak TAP: count "ok" and "not ok" lines.
# run_qtest QEMU TEST [ARG...]
run_qtest() {
    local qemu=$1 test=$2 out p f plan
    shift 2
    out=$(QTEST_QEMU_BINARY=$qemu timeout 600 "$test" --tap "$@" 2>&1) || true
    p=$(grep -c '^ok ' <<<"$out") || true
    f=$(grep -c '^not ok ' <<<"$out") || true
    plan=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' <<<"$out" | head -n 1)
    # A test that aborts (g_assert) ends the run before the plan is done.
    if [ -z "$plan" ] || [ $((p + f)) -eq 0 ] || [ $((p + f)) -ne "$plan" ]; then
        echo "${test##*/}: crashed or stopped after $((p + f)) of ${plan:-?} tests:"
        tail -n 20 <<<"$out" | sed 's/^/    /'
        FAILED=$((FAILED + 1))
        return
    fi
    printf 'qtest: %-16s %4d passed, %d failed\n' "${test##*/}" "$p" "$f"
    grep '^not ok ' <<<"$out" | sed 's/^/    /' || true
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
}

# run_device_suite SUITE QTEST...: barlab's QEMU and payloads, then the
# named qtests and the tests/e2e/SUITE-*.sh scripts.
run_device_suite() {
    local suite=$1 qemu t payloads
    shift
    qemu_build --qtests
    payloads_build
    qemu=$(qemu_binary_path) || die "QEMU built, but its binary is missing"
    payloads=$(payloads_path gather) || die "payloads built, but gather.elf is missing"
    for t in "$@"; do
        run_qtest "$qemu" "${qemu%/*}/$t"
    done
    for t in "$BARLAB_ROOT/tests/e2e/$suite"-*.sh; do
        [ -f "$t" ] || continue
        run_harness "$suite" "$t" QEMU="$qemu" BARLAB_MT="$BARLAB_MT" \
            PAYLOAD_DIR="${payloads%/*}"
    done
}

run_suite_qemu() {
    run_device_suite qemu barlab-gpu-test barlab-port-test
}

run_suite_nic() {
    run_device_suite nic barlab-nic-test
}

# Inputs per device of the fuzz run in `check sanitize`.
SANITIZE_FUZZ_INPUTS=${BARLAB_SANITIZE_FUZZ_INPUTS:-3000}

# The reproducers the fuzzer saved, replayed by `check sanitize`.
FUZZ_CORPUS=$BARLAB_ROOT/tests/qtest/fuzz-corpus

# sanitize_fuzz QEMU DEVICE: one test: a fuzz run of DEVICE with no
# failure, whose inputs reached the device's depths (the counters named
# here moved: frames sent by both paths and received, completions,
# errors; VRAM accesses and valid modes).
sanitize_fuzz() {
    local qemu=$1 dev=$2 run_dir=$BARLAB_BUILD/fuzz-check/$2 rc=0 c v missing=()
    local -A want=([nic]="tx-frames tx-inline tx-fallback completions rx-frames errors"
        [gpu]="vram-accesses modes-valid")
    rm -rf "$run_dir"
    mkdir -p "$run_dir"
    fuzz_run "$qemu" "$dev" "$SANITIZE_FUZZ_INPUTS" 1 "$run_dir" 2 >"$run_dir/fuzz.log" 2>&1 || rc=$?
    grep '^barlab-fuzz: ' "$run_dir/fuzz.log" | sed 's/^/    /'
    for c in ${want[$dev]}; do
        v=$(sed -n "s/.*counters reached:.* $c \([0-9]*\).*/\1/p" "$run_dir/fuzz.log")
        [ "${v:-0}" -gt 0 ] || missing+=("$c")
    done
    if [ "$rc" -ne 0 ] || [ ${#missing[@]} -gt 0 ]; then
        printf 'sanitize: fuzz %-13s failed (exit %d%s); log %s\n' "$dev" "$rc" \
            "${missing[*]:+, never reached: ${missing[*]}}" "$run_dir/fuzz.log"
        tail -n 20 "$run_dir/fuzz.log" | sed 's/^/    /'
        FAILED=$((FAILED + 1))
        return
    fi
    printf 'sanitize: fuzz %-13s %4d passed, 0 failed\n' "$dev" 1
    PASSED=$((PASSED + 1))
}

# sanitize_agree QEMU CPU: one test: the agreement test on the sanitizer
# QEMU agrees, and QEMU said nothing a sanitizer says.
sanitize_agree() {
    local qemu=$1 cpu=$2 out=$BARLAB_BUILD/agree-sanitize/$2 rc=0
    mkdir -p "$out"
    (agree_run "$cpu" "$out" "$qemu") >"$out/run.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] || grep -qE 'Sanitizer|runtime error:' "$out/qemu.log" 2>/dev/null; then
        printf 'sanitize: agree -cpu %-7s failed (exit %d); log %s\n' "$cpu" "$rc" "$out/run.log"
        tail -n 20 "$out/run.log" | sed 's/^/    /'
        grep -hE -A5 'Sanitizer|runtime error:' "$out/qemu.log" 2>/dev/null | sed 's/^/    /' || true
        FAILED=$((FAILED + 1))
        return
    fi
    printf 'sanitize: agree -cpu %-7s %4d passed, 0 failed\n' "$cpu" 1
    PASSED=$((PASSED + 1))
}

# Everything again on the sanitizer builds (ASan and UBSan, a report
# fatal): the core's unit tests, barlab's qtests, the agreement test, a
# fuzz run of each device, and the reproducers the fuzzer saved.
run_suite_sanitize() {
    local qemu t corpus=()
    builds_facts
    local ASAN_OPTIONS=$SANITIZE_ASAN_CORE_OPTIONS UBSAN_OPTIONS=$SANITIZE_UBSAN_OPTIONS
    export ASAN_OPTIONS UBSAN_OPTIONS
    build_core_sanitized
    CORE_BUILD=$CORE_BUILD_SAN run_suite_unit
    ASAN_OPTIONS=$SANITIZE_ASAN_OPTIONS
    qemu_sanitize
    qemu_build --qtests
    payloads_build
    qemu=$(qemu_binary_path) || die "the sanitizer QEMU is built, but its binary is missing"
    for t in barlab-gpu-test barlab-nic-test barlab-port-test; do
        run_qtest "$qemu" "${qemu%/*}/$t"
    done
    sanitize_agree "$qemu" max
    for t in $FUZZ_DEVICES; do
        sanitize_fuzz "$qemu" "$t"
    done
    mapfile -t corpus < <(compgen -G "$FUZZ_CORPUS/*.qtest" | sort)
    if [ ${#corpus[@]} -eq 0 ]; then
        echo "sanitize: no reproducers in ${FUZZ_CORPUS#"$BARLAB_ROOT"/}"
        FAILED=$((FAILED + 1))
        return
    fi
    rm -rf "$BARLAB_BUILD/fuzz-replay"
    mkdir -p "$BARLAB_BUILD/fuzz-replay"
    run_qtest "$qemu" "${qemu%/*}/barlab-fuzz" --replay \
        --out "$BARLAB_BUILD/fuzz-replay" "${corpus[@]}"
}

# The L1 host: kernel, initramfs, then tests/e2e/l1-*.sh, which boot it
# through `barlab boot`.
run_suite_l1() {
    local t qemu
    l1_builds
    qemu=$(qemu_binary_path)
    for t in "$BARLAB_ROOT"/tests/e2e/l1-*.sh; do
        [ -f "$t" ] || continue
        run_harness l1 "$t" BARLAB="$BARLAB_ROOT/scripts/barlab" QEMU="$qemu" \
            BARLAB_MT="$BARLAB_MT"
    done
}

# The quick matrix, one result per cell, then tests/e2e/l2-*.sh.
run_suite_matrix() {
    local out=$BARLAB_BUILD/matrix-check log=$BARLAB_LOGS/matrix-check.log rc=0 p f t
    mkdir -p "$BARLAB_LOGS"
    ("$BARLAB_ROOT/scripts/barlab" matrix --quick --out "$out") >"$log" 2>&1 || rc=$?
    if [ "$rc" -le 1 ] && [ -f "$out/report.json" ]; then
        read -r p f < <(python3 -c 'import json, sys
r = json.load(open(sys.argv[1])); print(r["passed"], r["failed"])' "$out/report.json")
        printf 'matrix: %-17s %4d passed, %d failed\n' "quick matrix" "$p" "$f"
        grep '^MISMATCH' "$log" | sed 's/^/    /' || true
        PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
    else
        echo "matrix: the quick matrix did not finish (exit $rc); log $log:"
        tail -n 20 "$log" | sed 's/^/    /'
        FAILED=$((FAILED + 1))
    fi
    for t in "$BARLAB_ROOT"/tests/e2e/l2-*.sh; do
        [ -f "$t" ] || continue
        run_harness matrix "$t" BARLAB="$BARLAB_ROOT/scripts/barlab" BARLAB_MT="$BARLAB_MT"
    done
}

# The full stack (tests/e2e/fullstack-*.sh): every policy and the
# injection run when asked for by name, the quick subset (device and any)
# in a plain `check`.
run_suite_fullstack() {
    local t env=()
    [ -n "$CHECK_NAMED" ] || env=(FULLSTACK_POLICIES="device any" FULLSTACK_INJECT=0)
    for t in "$BARLAB_ROOT"/tests/e2e/fullstack-*.sh; do
        [ -f "$t" ] || continue
        run_harness fullstack "$t" BARLAB="$BARLAB_ROOT/scripts/barlab" "${env[@]}"
    done
}

CHECK_NAMED=

cmd_check() {
    local suites=() s
    if [ "${1:-}" = "--list" ]; then
        [ $# -eq 1 ] || usage_die check "--list takes no suites"
        for s in $ALL_SUITES; do echo "$s"; done
        for s in $EXTRA_SUITES; do echo "$s (only when named)"; done
        return 0
    fi
    for s in "$@"; do
        check_word check suite "$s" $ALL_SUITES $EXTRA_SUITES
        suites+=("$s")
        CHECK_NAMED=1
    done
    if [ ${#suites[@]} -eq 0 ]; then
        read -ra suites <<<"$ALL_SUITES"
    fi
    cmd_setup
    build_core
    local t0 times=()
    for s in "${suites[@]}"; do
        t0=$SECONDS
        "run_suite_$s"
        times+=("$s $((SECONDS - t0))s")
    done
    msg "check: time per suite (builds included): ${times[*]}"
    if [ "$SKIPPED" -gt 0 ]; then
        echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
    else
        echo "$PASSED passed, $FAILED failed"
    fi
    [ "$FAILED" -eq 0 ]
}

main() {
    local cmd=${1:-} sub
    [ $# -gt 0 ] && shift
    case " $COMMANDS " in *" $cmd "*) ;; *) usage_die "" "unknown command '$cmd'" ;; esac
    sub=$cmd
    if wants_help "$@"; then
        "usage_$sub"
        return 0
    fi
    case $cmd in
    check) cmd_check "$@" ;;
    esac
}

# Sourced (the cli tests call single functions), it only defines them.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
