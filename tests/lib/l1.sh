# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers for the tests that boot barlab's L1 host (tests/e2e/l1-*.sh).
# Sourced after harness.sh; needs BARLAB (the scripts/barlab entry point).

BARLAB=${BARLAB:?set BARLAB to scripts/barlab}

# l1 NAME SCRIPT [BOOT-OPTION...]: boot L1 and run the shell text SCRIPT in
# it (as /run.sh; /lib/barlab/l1.sh is sourced first).  The run's
# directory is $HARNESS_TMP/NAME (console.log, traces, screendumps); its
# output and status are what `run` keeps.
l1() {
    local name=$1 text=$2
    shift 2
    printf '. /lib/barlab/l1.sh\n%s\n' "$text" >"$HARNESS_TMP/$name.sh"
    run "$BARLAB" boot --out "$HARNESS_TMP/$name" --run "$HARNESS_TMP/$name.sh" "$@"
}

# l1_console NAME: the console of run NAME, without carriage returns.
l1_console() { tr -d '\r' <"$HARNESS_TMP/$1/console.log"; }

# expect_console NAME TEST ERE...: PASS TEST if run NAME's console has a
# line matching each ERE.
expect_console() {
    local name=$1 test=$2 pat
    shift 2
    for pat in "$@"; do
        l1_console "$name" | grep -qE -- "$pat" ||
            { bad "$test" "no line matching '$pat' on the L1 console"; return; }
    done
    ok "$test"
}
