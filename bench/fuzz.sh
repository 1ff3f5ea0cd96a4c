#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The fuzzer at length: barlab-fuzz on each device, on the sanitizer
# build of barlab's QEMU (ASan and UBSan), with a baseline run of the same
# inputs on the plain build first.  Prints per device the inputs per
# second of both, their ratio (what the sanitizers cost), the counters the
# inputs reached, and the failures (crashes, hangs, sanitizer reports);
# reproducers are kept in OUT/DEVICE.  `scripts/barlab bench fuzz` builds
# both QEMUs and runs this.
#
# Usage: bench/fuzz.sh QEMU SANITIZED-QEMU [--inputs N] [--baseline N]
#                      [--seed S] [--jobs J] [--out DIR]
#   QEMU            the plain qemu-system-aarch64 (barlab-fuzz beside it)
#   SANITIZED-QEMU  the sanitizer build's (barlab-fuzz beside it)
#   --inputs N      inputs per device on the sanitizer build (default 1000000)
#   --baseline N    inputs per device on the plain build (default 20000)
#   --seed S        the generator's seed (default 1)
#   --jobs J        processes per run, a QEMU each (default 2: both cores)
#   --out DIR       reproducers and logs (default build/bench-fuzz)
# Exit status 1 if any run failed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
inputs=1000000 baseline=20000 seed=1 jobs=2 out=${BARLAB_BUILD:-$ROOT/build}/bench-fuzz

die() { echo "bench fuzz: $*" >&2; exit 2; }
count() { [[ $2 =~ ^[0-9]{1,15}$ ]] && [ "$2" -gt 0 ] || die "$1 takes a positive whole number, not '$2'"; }
qemus=()
while [ $# -gt 0 ]; do
    case $1 in
    -h|--help) sed -n '4,21s/^# \{0,1\}//p' "$0"; exit 0 ;;
    --inputs) [ $# -ge 2 ] || die "--inputs needs a count"; count "$1" "$2"; inputs=$2; shift 2 ;;
    --baseline) [ $# -ge 2 ] || die "--baseline needs a count"; count "$1" "$2"; baseline=$2; shift 2 ;;
    --seed) [ $# -ge 2 ] || die "--seed needs a number"; [[ $2 =~ ^[0-9]{1,18}$ ]] || die "--seed takes a whole number, not '$2'"; seed=$2; shift 2 ;;
    --jobs) [ $# -ge 2 ] || die "--jobs needs a count"; [[ $2 =~ ^[0-9]{1,2}$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 64 ] || die "--jobs takes 1 to 64, not '$2'"; jobs=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
    -*) die "unknown option '$1' (see bench/fuzz.sh --help)" ;;
    *) qemus+=("$1"); shift ;;
    esac
done
[ ${#qemus[@]} -eq 2 ] || die "takes QEMU and SANITIZED-QEMU (see bench/fuzz.sh --help)"
for q in "${qemus[@]}"; do
    [ -x "$q" ] && [ -x "${q%/*}/barlab-fuzz" ] || die "no QEMU with barlab-fuzz beside it at '$q'"
done

# run LABEL QEMU DEVICE N: one run; its log in $out/LABEL-DEVICE.log.
run() {
    local log=$out/$1-$3.log rc=0
    mkdir -p "$out/$1-$3"
    ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_summary=1:detect_leaks=0 \
    UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_summary=1:print_stacktrace=1 \
    QTEST_QEMU_BINARY=$2 "${2%/*}/barlab-fuzz" "$3" --inputs "$4" --seed "$seed" \
        --jobs "$jobs" --out "$out/$1-$3" >"$log" 2>&1 || rc=$?
    sed -n 's/^barlab-fuzz: /  '"$1"': /p' "$log"
    return "$rc"
}

# rate LABEL DEVICE: inputs/s of a finished run.
rate() {
    sed -n 's/^barlab-fuzz: .* s: \([0-9]*\) inputs\/s,.*/\1/p' "$out/$1-$2.log" | head -n 1
}

mkdir -p "$out"
fail=0
echo "bench fuzz: seed $seed, $baseline inputs per device on the plain build," \
    "$inputs on the sanitizer build, $jobs processes each; $(nproc) CPUs," \
    "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for dev in nic gpu; do
    echo "$dev:"
    run plain "${qemus[0]}" "$dev" "$baseline" || fail=1
    run sanitized "${qemus[1]}" "$dev" "$inputs" || fail=1
    p=$(rate plain "$dev") s=$(rate sanitized "$dev")
    if [ -n "$p" ] && [ -n "$s" ] && [ "$s" -gt 0 ]; then
        echo "  $dev: sanitizer build $s inputs/s, plain $p inputs/s: plain/sanitizer" \
            "$(awk -v p="$p" -v s="$s" 'BEGIN { printf "%.2f", p / s }')"
    fi
done
echo "bench fuzz: load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$fail"
