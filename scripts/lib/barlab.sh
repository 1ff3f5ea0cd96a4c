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
. "$BARLAB_ROOT/scripts/lib/output.sh"
. "$BARLAB_ROOT/scripts/lib/apt.sh"
. "$BARLAB_ROOT/scripts/lib/qemu.sh"
. "$BARLAB_ROOT/scripts/lib/payloads.sh"
. "$BARLAB_ROOT/scripts/lib/agree.sh"
. "$BARLAB_ROOT/scripts/lib/kernel.sh"
. "$BARLAB_ROOT/scripts/lib/initramfs.sh"
. "$BARLAB_ROOT/scripts/lib/l1.sh"
. "$BARLAB_ROOT/scripts/lib/matrix.sh"
. "$BARLAB_ROOT/scripts/lib/fullstack.sh"
. "$BARLAB_ROOT/scripts/lib/setup.sh"
. "$BARLAB_ROOT/scripts/lib/upstream.sh"

CORE_BUILD=$BARLAB_BUILD/core
BARLAB_MT=$CORE_BUILD/hw/memtype/barlab-mt
# The same with ASan and UBSan (build core --sanitize).
CORE_BUILD_SAN=$BARLAB_BUILD/core-sanitize
BARLAB_MT_SAN=$CORE_BUILD_SAN/hw/memtype/barlab-mt

# The commands, in the order `barlab --help` lists them.  Each command CMD
# has its usage text, usage_CMD (a subcommand: usage_CMD_SUB), in one
# place: here, or beside its code in scripts/lib/.  The text's first line
# after the synopsis ("usage:" and its indented continuations) is the
# summary `barlab --help` shows.  `barlab CMD --help` prints the text
# and does nothing else; a usage mistake is usage_die (scripts/lib/cli.sh).
COMMANDS="setup demo build boot path matrix fullstack agree fuzz bench cache-key"

usage_setup() {
    cat <<'USAGE'
usage: scripts/barlab setup [--dry-run]
install the Debian packages barlab needs (idempotent)
  --dry-run           say what would be installed, install nothing
USAGE
}

usage_demo() {
    cat <<'USAGE'
usage: scripts/barlab demo [MATRIX-OPTION...]
set up, build and run the main job: the quick matrix under nested KVM
Runs 'scripts/barlab matrix --quick' with the options given (see
'barlab matrix --help'), then says where to go next.
USAGE
}

usage_cache-key() {
    cat <<'USAGE'
usage: scripts/barlab cache-key qemu|kernel|initramfs [--kernel-patches [+]DIR]
print the cache key of a build, from the repository alone (for CI caches)
The key changes exactly when the build's inputs do; docs/ci.md shows how a
CI engine's cache uses it.
  --kernel-patches [+]DIR
                      the key of the kernel (and initramfs) of a user's
                      series (docs/kernel-patches.md)
USAGE
}

BUILD_TARGETS="core qemu payloads kernel initramfs examples module"

usage_build() {
    cat <<'USAGE'
usage: scripts/barlab build [core|qemu|payloads|kernel|initramfs|examples] [--sanitize]
                            [--kernel-patches [+]DIR]
       scripts/barlab build module DIR
build one part (default: core), cached by its inputs
  core        the C core, its tests and the host tools (barlab-mt)
  qemu        barlab's QEMU 10.0.13 (Debian's source + hw/qemu-patches)
  payloads    the bare-metal aarch64 payloads
  kernel      the L1 host kernel (Debian's linux-source-6.12 + kernel-patches/)
  initramfs   the L1 initramfs (busybox, guest drivers, tools)
  examples    the example programs for 'fullstack --run'
              (target-tests/fullstack/examples); prints their paths
  module DIR  the out-of-tree Kbuild modules in DIR against barlab's kernel,
              for 'fullstack --module' (see 'barlab build module --help')
  --sanitize  core or qemu built with ASan and UBSan (a report is fatal),
              beside the normal build; qemu with its qtests and fuzzer
  --kernel-patches DIR
              kernel or initramfs: the kernel of the git format-patch
              series in DIR (its 'series' file names the patches in order)
              instead of kernel-patches/; +DIR: on top of kernel-patches/
              (docs/kernel-patches.md)
USAGE
}

PATH_ARTIFACTS="barlab-mt qemu kernel initramfs payloads"

usage_path() {
    cat <<'USAGE'
usage: scripts/barlab path barlab-mt|qemu|kernel|initramfs|payloads [--sanitize]
                           [--kernel-patches [+]DIR]
print the path of a built artifact
Fails if the artifact is not built for this tree.
  --sanitize          barlab-mt or qemu of the sanitizer build
  --kernel-patches [+]DIR
                      the kernel or initramfs of a user's series
USAGE
}

usage_agree() {
    cat <<'USAGE'
usage: scripts/barlab agree [CPU...]
the agreement test: every S1 x S2 x FWB cell on barlab-gpu against the core
A bare-metal payload touches barlab-gpu's VRAM under every cell; what the
device saw and where accesses faulted is compared with the core's
predictions.  CPU: QEMU CPU models barlab knows (default: max neoverse-n1).
Exits non-zero on any disagreement.
USAGE
}

# The devices barlab-fuzz knows (tests/qtest/barlab-fuzz-DEVICE.c).
FUZZ_DEVICES="nic gpu"

usage_fuzz() {
    cat <<'USAGE'
usage: scripts/barlab fuzz nic|gpu [--inputs N] [--seed S] [--out DIR]
                               [--jobs J]
fuzz a device over qtest on the sanitizer build of barlab's QEMU
Builds QEMU with ASan and UBSan ('build qemu --sanitize') and runs
tests/qtest/barlab-fuzz: N inputs (default 10000) generated from seed S
(default 1), the device reset by FLR between them, split among J
processes with a QEMU each (default 1; 2 uses both cores).  A crash, a
hang or a sanitizer report is shrunk and saved in DIR (default
build/fuzz/DEVICE) as a reproducer; docs/fuzzing.md says how to replay
it and keep it as a regression test.  Prints inputs/s and the device
counters the inputs reached; exits 1 on any failure.
USAGE
}

usage_bench() {
    cat <<'USAGE'
usage: scripts/barlab bench
       scripts/barlab bench fuzz [--inputs N] [--baseline N] [--seed S]
                                 [--jobs J]
run the benchmarks (bench/), each against a baseline in the same run
  fuzz        only bench/fuzz.sh: barlab-fuzz on each device, N inputs
              (default 1000000) on the sanitizer build against a baseline
              of the plain build (see bench/fuzz.sh --help); not part of
              the plain 'bench': hours on 2 cores (docs/fuzzing.md)
USAGE
}

cmd_setup() {
    if [ "${1:-}" = --dry-run ]; then
        setup_dry_run
    else
        setup_run
    fi
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

# take_sanitize ARG...: the arguments without --sanitize in _args;
# _sanitize is 1 if it was among them.
take_sanitize() {
    local a
    _args=() _sanitize=
    for a in "$@"; do
        if [ "$a" = --sanitize ]; then _sanitize=1; else _args+=("$a"); fi
    done
}

cmd_build() {
    take_kernel_patches build "$@"
    take_sanitize ${_args[@]+"${_args[@]}"}
    set -- ${_args[@]+"${_args[@]}"}
    local what=${1:-core}
    if [ "$what" = module ]; then
        [ $# -eq 2 ] || usage_die "build module" "takes one directory"
        [ -z "$_sanitize" ] || usage_die build "--sanitize is for core or qemu, not 'module'"
        cmd_setup >/dev/null
        module_build "$2"
        return
    fi
    [ $# -le 1 ] || usage_die build "one target at a time"
    check_word build target "$what" $BUILD_TARGETS
    if [ -n "$_sanitize" ]; then
        case $what in
        core) build_core_sanitized ;;
        qemu) qemu_sanitize; qemu_build --qtests; qemu_binary_path ;;
        *) usage_die build "--sanitize is for core or qemu, not '$what'" ;;
        esac
        return
    fi
    case $what in
    core) build_core ;;
    qemu) qemu_build ;;
    payloads) payloads_build ;;
    kernel) kernel_build; kernel_image_path ;;
    initramfs) initramfs_build; initramfs_path ;;
    examples) fullstack_examples_build ;;
    esac
}

cmd_path() {
    take_kernel_patches path "$@"
    take_sanitize ${_args[@]+"${_args[@]}"}
    set -- ${_args[@]+"${_args[@]}"}
    [ $# -eq 1 ] || usage_die path "takes one artifact name ($(_or_list $PATH_ARTIFACTS))"
    check_word path artifact "$1" $PATH_ARTIFACTS
    case $_sanitize:$1 in
    1:qemu|1:barlab-mt|:*) ;;
    *) usage_die path "--sanitize is for qemu or barlab-mt, not '$1'" ;;
    esac
    case $1 in
    barlab-mt)
        if [ -n "$_sanitize" ]; then
            [ -x "$BARLAB_MT_SAN" ] || die "the sanitized barlab-mt is not built: run 'scripts/barlab build core --sanitize'"
            echo "$BARLAB_MT_SAN"
        else
            [ -x "$BARLAB_MT" ] || die "barlab-mt is not built: run 'scripts/barlab build'"
            echo "$BARLAB_MT"
        fi ;;
    qemu)
        [ -z "$_sanitize" ] || qemu_sanitize
        qemu_binary_path || die "qemu is not built for this tree: run 'scripts/barlab build qemu${_sanitize:+ --sanitize}'" ;;
    payloads)
        payloads_path agree || die "the payloads are not built: run 'scripts/barlab build payloads'" ;;
    kernel)
        kernel_image_path || die "the kernel is not built for this tree: run 'scripts/barlab build kernel'" ;;
    initramfs)
        initramfs_path || die "the initramfs is not built for this tree: run 'scripts/barlab build initramfs'" ;;
    esac
}

# The main job: the quick matrix under nested KVM, as a table.
cmd_demo() {
    local rc=0 cells
    MATRIX_CMD=demo cmd_matrix --quick "$@" || rc=$?
    cells=$("$BARLAB_MT" oracle "$BARLAB_ROOT/$MATRIX_FULL" --json | wc -l)
    msg "demo: the full matrix ($MATRIX_FULL, $cells cells) is 'scripts/barlab matrix';"
    msg "      the rules behind a cell: 'scripts/barlab matrix --quick --rules'"
    msg "      or 'scripts/barlab explain S1 S2'"
    return "$rc"
}

# The sanitizer build's run-time options: a report is fatal.  The core's
# tests are checked for leaks too; QEMU's leaks at exit are not looked for
# (QEMU does not free everything when it quits).  `check sanitize`
# (tests/lib/runtest.py, barlab.check) and `fuzz` use them.
SANITIZE_ASAN_CORE_OPTIONS=halt_on_error=1:abort_on_error=1:print_summary=1
SANITIZE_ASAN_OPTIONS=$SANITIZE_ASAN_CORE_OPTIONS:detect_leaks=0
SANITIZE_UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_summary=1:print_stacktrace=1

# fuzz_run QEMU DEVICE INPUTS SEED OUT [JOBS]: barlab-fuzz beside QEMU (the
# sanitizer build) in JOBS processes (default 1); returns its status.
fuzz_run() {
    local qemu=$1
    ASAN_OPTIONS=$SANITIZE_ASAN_OPTIONS UBSAN_OPTIONS=$SANITIZE_UBSAN_OPTIONS \
        QTEST_QEMU_BINARY=$qemu "${qemu%/*}/barlab-fuzz" "$2" --inputs "$3" \
        --seed "$4" --out "$5" --jobs "${6:-1}"
}

# The totals run_suite_upstream (scripts/lib/upstream.sh) adds to; `check
# upstream` (barlab.check) reads them.
PASSED=0
FAILED=0
SKIPPED=0

cmd_agree() {
    local cpu rc=0
    for cpu in "$@"; do
        case $cpu in -*) usage_die agree "unknown option '$cpu'" ;; esac
        check_cpu agree "$cpu" "CPU model"
    done
    cmd_setup
    build_core
    qemu_build
    payloads_build
    for cpu in ${*:-max neoverse-n1}; do
        agree_run "$cpu" || rc=1
    done
    return "$rc"
}

cmd_fuzz() {
    local dev=${1:-} inputs=10000 seed=1 jobs=1 out qemu
    [ $# -ge 1 ] || usage_die fuzz "name a device: $(_or_list $FUZZ_DEVICES)"
    check_word fuzz device "$dev" $FUZZ_DEVICES
    shift
    out=$BARLAB_BUILD/fuzz/$dev
    while [ $# -gt 0 ]; do
        case $1 in
        --inputs)
            opt_value fuzz $# "$1"
            [[ $2 =~ ^[0-9]{1,15}$ ]] && [ "$2" -gt 0 ] ||
                usage_die fuzz "--inputs must be a positive whole number, not '$2'"
            inputs=$2 ;;
        --seed)
            opt_value fuzz $# "$1"
            [[ $2 =~ ^[0-9]{1,18}$ ]] ||
                usage_die fuzz "--seed must be a whole number, not '$2'"
            seed=$2 ;;
        --jobs)
            opt_value fuzz $# "$1"
            [[ $2 =~ ^[0-9]{1,2}$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 64 ] ||
                usage_die fuzz "--jobs must be a whole number from 1 to 64, not '$2'"
            jobs=$2 ;;
        --out)
            opt_value fuzz $# "$1"
            out=$2 ;;
        *) usage_die fuzz "unknown argument '$1'" ;;
        esac
        shift 2
    done
    cmd_setup
    qemu_sanitize
    qemu_build --qtests
    qemu=$(qemu_binary_path) || die "the sanitizer QEMU is built, but its binary is missing"
    mkdir -p "$out" || die "fuzz: cannot create $out"
    fuzz_run "$qemu" "$dev" "$inputs" "$seed" "$out" "$jobs"
}

# bench fuzz: both QEMUs with their qtests, then bench/fuzz.sh.
cmd_bench_fuzz() {
    local a plain
    for a in "$@"; do
        case $a in
        --inputs|--baseline|--seed|--jobs) ;;
        -*) usage_die bench "fuzz takes --inputs, --baseline, --seed and --jobs, not '$a'" ;;
        *) [[ $a =~ ^[0-9]+$ ]] || usage_die bench "fuzz: '$a' is not a number" ;;
        esac
    done
    cmd_setup
    qemu_build --qtests
    plain=$(qemu_binary_path) || die "QEMU built, but its binary is missing"
    qemu_sanitize
    qemu_build --qtests
    "$BARLAB_ROOT/bench/fuzz.sh" "$plain" "$(qemu_binary_path)" "$@"
}

cmd_bench() {
    local qemu payloads b
    if [ "${1:-}" = fuzz ]; then
        shift
        cmd_bench_fuzz "$@"
        return
    fi
    [ $# -eq 0 ] || usage_die bench "takes no arguments, or fuzz"
    cmd_setup
    build_core
    "$CORE_BUILD/bench/bench_gather"
    qemu_build
    payloads_build
    qemu=$(qemu_binary_path)
    payloads=$(payloads_path agree)
    "$BARLAB_ROOT/bench/qemu-agree.sh" "$qemu" "$payloads"
    for b in "$BARLAB_ROOT"/bench/nic-*.sh; do
        [ -f "$b" ] && "$b" "$qemu" "${payloads%/*}"
    done
    "$BARLAB_ROOT/bench/l1-boot.sh"
    "$BARLAB_ROOT/bench/matrix.sh"
    "$BARLAB_ROOT/bench/fullstack-boot.sh"
    return 0
}

main() {
    local cmd=${1:-} sub
    [ $# -gt 0 ] && shift
    case " $COMMANDS " in *" $cmd "*) ;; *) usage_die "" "unknown command '$cmd'" ;; esac
    sub=$cmd
    [ "$cmd:${1:-}" != matrix:merge ] || sub=matrix_merge
    [ "$cmd:${1:-}" != build:module ] || sub=module
    if wants_help "$@"; then
        "usage_$sub"
        return 0
    fi
    case $cmd in
    setup)
        [ $# -eq 0 ] || [ "$*" = --dry-run ] || usage_die setup "unknown argument '$1'"
        cmd_setup "$@" ;;
    demo) cmd_demo "$@" ;;
    build) cmd_build "$@" ;;
    path) cmd_path "$@" ;;
    bench) cmd_bench "$@" ;;
    boot) cmd_boot "$@" ;;
    matrix) cmd_matrix "$@" ;;
    fullstack) cmd_fullstack "$@" ;;
    agree) cmd_agree "$@" ;;
    fuzz) cmd_fuzz "$@" ;;
    cache-key)
        take_kernel_patches cache-key "$@"
        set -- ${_args[@]+"${_args[@]}"}
        [ $# -eq 1 ] || usage_die cache-key "takes one build: qemu, kernel or initramfs"
        cache_key "$1" || usage_die cache-key "unknown build '$1' (qemu, kernel or initramfs)" ;;
    esac
}

# Sourced (the cli tests call single functions), it only defines them.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
