#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `barlab fullstack --out DIR` as a report directory: a run of one policy
# keeps the other policies' results of an earlier run, a directory with a
# user's file is refused, and a run killed while L1 runs leaves the
# previous report byte for byte, its QEMU ended with it.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
T=$HARNESS_TMP
D=$T/fs

run "$BARLAB" fullstack --policy any --steps wc --no-picture --out "$D"
if [ "$(status)" = 0 ] && [ -f "$D/any/results" ] && grep -qx any/results "$D/.barlab-manifest"; then
    ok fullstack-writes-report
else
    bad fullstack-writes-report "exit $(status), no results or no manifest"
fi
any=$(tree_sums "$D/any")
run "$BARLAB" fullstack --policy device --steps wc --no-picture --out "$D"
if [ "$(status)" = 0 ] && [ -f "$D/device/results" ] && [ "$(tree_sums "$D/any")" = "$any" ]; then
    ok fullstack-keeps-other-policies
else
    bad fullstack-keeps-other-policies "exit $(status), or the earlier policy's results changed"
fi

before=$(tree_sums "$D")
"$BARLAB" fullstack --policy any --steps wc --no-picture --out "$D" >"$T/killed.out" 2>"$T/killed.err" &
interrupt_when $! test -s "$T/.fs.barlab-run/any/console.log"
rc=$interrupted_status
if [ "$rc" = 143 ] && [ "$(tree_sums "$D")" = "$before" ] && [ ! -e "$T/.fs.barlab-run" ] &&
    ! pgrep -f "$T/.fs.barlab-run" >/dev/null; then
    ok fullstack-interrupted-keeps-report
else
    bad fullstack-interrupted-keeps-report "exit $rc, the report changed, or the run's files or QEMU are left"
    for p in $(pgrep -f "$T/.fs.barlab-run"); do kill "$p"; done
fi

echo "my notes" >"$D/any/notes.txt"
run "$BARLAB" fullstack --policy any --out "$D"
expect_error fullstack-refuses-foreign-file "holds any/notes.txt, which barlab did not write"
check fullstack-foreign-file-kept grep -qx "my notes" "$D/any/notes.txt"

harness_summary
