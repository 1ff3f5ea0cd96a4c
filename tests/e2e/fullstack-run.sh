#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A user's program and module in the L2 Linux (`barlab fullstack --run
# PROG --module FILE.ko`, docs/fullstack.md): the example blitter
# (target-tests/fullstack/examples/blit.c, built by `barlab build
# examples`, dynamic: glibc goes with it) copies odd sizes with glibc
# memcpy and memset into barlab-gpu's VRAM through resource2_wc, after
# L2 loaded the example module built by `barlab build module`.  On -cpu max:
#   device   stage 2 Device-nGnRE: glibc's first unaligned store kills the
#            VM (KVM_RUN fails on the stage-2 alignment fault); with
#            --inject-align it is a SIGBUS in L2 instead;
#   any      stage 2 Normal-NC: blit completes, every copy reads back, the
#            GPU's port gathered writes and its checker saw no rule broken.
# A program that never ends is killed at --run-timeout and reported as
# such.  Refused before anything runs, with one line and nothing written
# to --out: an x86-64 program, a missing file, a file that is not
# executable, a module whose vermagic is not barlab's kernel's, --module
# without --run.
#
# FULLSTACK_INJECT=0 (the quick check) leaves out the --inject-align run.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
INJECT=${FULLSTACK_INJECT:-1}
T=$HARNESS_TMP

run "$BARLAB" build examples
blit=$(grep '/blit$' "$T/out")
expect build-examples 0 '/blit$'
run "$BARLAB" build module "$ROOT/target-tests/fullstack/examples/hello-module"
ko=$(grep '/hello_barlab\.ko$' "$T/out")
expect build-module 0 '/hello_barlab\.ko$'
check build-module-vermagic [ "$(modinfo -F vermagic "$ko" 2>/dev/null)" = \
    "$(modinfo -F vermagic "$(dirname "$("$BARLAB" path initramfs)")/rootfs/lib/modules/barlab/barlab_nic.ko")" ]
run "$BARLAB" build module "$T/no-such-dir"
expect_error build-module-refuses-missing-dir "no such directory"

# Refusals: one line, nothing built or written.
refused() {
    local name=$1 pat=$2
    shift 2
    run "$BARLAB" fullstack --policy any --out "$T/$name" "$@"
    expect_error "$name" "$pat"
    check "$name-nothing-written" test ! -e "$T/$name" -a ! -e "$T/.$name.barlab-run"
}
refused run-refuses-x86-64 "is a program for x86-64, not for aarch64" --run /bin/true
refused run-refuses-missing-file "no-such-prog: no such file" --run "$T/no-such-prog"
cp "$blit" "$T/blit-noexec" && chmod -x "$T/blit-noexec"
refused run-refuses-not-executable "is not executable" --run "$T/blit-noexec"
python3 - "$ko" "$T/wrong_vermagic.ko" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
at = data.index(b"vermagic=") + len(b"vermagic=")
# The same module, stamped for a kernel one minor release on.
major, rest = data[at:].split(b".", 1)
minor = rest.split(b".", 1)[0]
new = b"%s.%d" % (major, int(minor) + 1)
old = major + b"." + minor
assert len(new) == len(old), "the release's length must not change"
open(sys.argv[2], "wb").write(data[:at] + new + data[at + len(old):])
PY
refused run-refuses-wrong-vermagic "built for another kernel: vermagic" --run "$blit" \
    --module "$T/wrong_vermagic.ko"
refused run-refuses-module-without-run "need --run PROG" --module "$ko"

# device and any in one call, the module loaded before blit in each.
D=$T/fs
run "$BARLAB" fullstack --policy device --policy any --cpu max --out "$D" --run "$blit" \
    --module "$ko" -- --rounds 2
expect run-report 0 '^policy +program +module +txns +gathered +violations +trace' \
    '^device +vm-death +hello_barlab ' '^any +exit 0 +hello_barlab +[0-9]+ +[1-9][0-9]* +0 '
expect_line run-files-for-l2 "$D/any/user.log" '^\./lib/libc\.so\.6$' '^\./opt/barlab/run/bin/blit$' \
    '^\./opt/barlab/run/modules/hello_barlab\.ko$'
expect_line run-device-vm-death "$D/device/results" \
    '^run vm-death .*l1-kvm=EC=0x24_xFSC=0x21' '^gpu ok txns=[0-9]+ gathered=0 violations=0$'
expect_line run-device-console-tail "$D/device/run-console.txt" '^blit: gpu id 0x' \
    '^error: kvm run failed'
expect_no_line run-device-not-finished "$D/device/run-console.txt" 'all copies read back right'
expect_line run-any-completes "$D/any/results" '^run exit status=0 modules=hello_barlab ' \
    '^gpu ok txns=[0-9]+ gathered=[1-9][0-9]* violations=0$'
expect_line run-any-console-tail "$D/any/run-console.txt" '^blit: memset 4093 bytes: done$' \
    '^blit: all copies read back right$'
check run-args-two-rounds [ "$(grep -c '^blit: memset 4093 bytes: done$' "$D/any/run-console.txt")" = 2 ]

if [ "$INJECT" = 1 ]; then
    run "$BARLAB" fullstack --policy device --cpu max --inject-align --out "$T/inject" --run "$blit"
    expect run-inject-sigbus 0 '^device +SIGBUS '
    expect_line run-inject-fault "$T/inject/device/results" '^run signal signal=BUS fault='
fi

# A program that never ends: killed at --run-timeout, reported, exit 1.
cat >"$T/spin.c" <<'C'
int main(void) { for (;;) ; }
C
aarch64-linux-gnu-gcc -static -O0 -o "$T/spin" "$T/spin.c"
run "$BARLAB" fullstack --policy any --out "$T/spin-out" --run "$T/spin" --run-timeout 5
expect_line run-timeout-result "$T/spin-out/any/results" '^run timeout limit=5 '
check run-timeout-exit-1 [ "$(status)" = 1 ]
expect run-timeout-row 1 '^any +timeout 5s '

harness_summary
