# SPDX-License-Identifier: GPL-2.0-or-later
# `barlab check upstream`: upstream QEMU's own tests against barlab's
# patched QEMU, so that a barlab patch that changes upstream behaviour is
# caught: the qtest-aarch64 suite (every qtest the configured devices
# have) and the quick functional tests, both run by meson in a build
# tree of barlab's QEMU.  Not part of a plain `check`: it builds the
# upstream qtests too.  Sourced after qemu.sh, never executed.

# Tests that cannot run here, each with the reason.
#   bios-tables-test: boots QEMU's own EDK2 images (pc-bios/edk2-*.fd.bz2),
#   which Debian's source package leaves out.
UPSTREAM_SKIP=(bios-tables-test)

# _upstream_meson_test BUILD SUITE: meson's test runner on the tests of
# SUITE but those in UPSTREAM_SKIP.
_upstream_meson_test() {
    local build=$1 suite=$2 t names=() meson
    meson=$build/pyvenv/bin/meson
    while read -r t; do
        t=${t##* / }
        [[ " ${UPSTREAM_SKIP[*]} " == *" ${t#*/} "* ]] || names+=("$t")
    done < <("$meson" test -C "$build" --list --suite "$suite")
    [ ${#names[@]} -gt 0 ] || { echo "no tests in suite $suite"; return 1; }
    "$meson" test -C "$build" --num-processes "$(nproc)" --print-errorlogs "${names[@]}"
}

# _upstream_firmware BUILD: QEMU run from its build tree looks for
# firmware below BUILD/qemu-bundle instead of the configured firmware
# path: link each directory of that path there, so upstream's tests find
# the option ROMs as barlab's installed binary does.
_upstream_firmware() {
    local a d
    for a in "${_qemu_configure_args[@]}"; do
        case $a in --firmwarepath=*) ;; *) continue ;; esac
        for d in $(tr ':' ' ' <<<"${a#*=}"); do
            [ -d "$d" ] && [ ! -d "$1/qemu-bundle$d" ] || continue
            mkdir -p "$1/qemu-bundle${d%/*}" && ln -sfn "$d" "$1/qemu-bundle$d" || return
        done
    done
}

# _upstream_count LOG SUITE: add meson's "Ok: / Fail: / Skipped:" summary
# of LOG to the totals; "Expected Fail" counts as passed.
_upstream_count() {
    local log=$1 suite=$2 p f s
    p=$(awk '$1 == "Ok:" { print $2 }' "$log" | tail -n 1)
    f=$(awk '$1 == "Fail:" || ($1 == "Unexpected" && $2 == "Pass:") || $1 == "Timeout:" { n += $NF } END { print n + 0 }' "$log")
    s=$(awk '$1 == "Skipped:" { print $2 }' "$log" | tail -n 1)
    if [ -z "$p" ]; then
        echo "upstream: $suite printed no summary (log $log):"
        tail -n 20 "$log" | sed 's/^/    /'
        FAILED=$((FAILED + 1))
        return
    fi
    printf 'upstream: %-17s %4d passed, %d failed, %d skipped\n' "$suite" "$p" "$f" "${s:-0}"
    grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT) ' "$log" | sed 's/^/    /' || true
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + ${s:-0}))
}

# The tests run in a QEMU work tree of their own ("upstream": the same
# sources, patches and configure options as barlab's binary, built with
# the same ccache), so that a long run does not hold up barlab's own
# builds.
run_suite_upstream() {
    local suite log site QEMU_TREE=upstream
    qemu_lock
    _qemu_tree_build
    # The functional tests' TAP runner (tests/upstream/pycotap.py: Debian
    # has no pycotap) goes into the build tree's venv, which meson's test
    # environment keeps on the path.
    site=$("$_qemu_work/build/pyvenv/bin/python3" -c 'import sysconfig; print(sysconfig.get_path("purelib"))') ||
        die "check upstream: no Python venv in $_qemu_work/build"
    cp "$BARLAB_ROOT/tests/upstream/pycotap.py" "$site/pycotap.py"
    _upstream_firmware "$_qemu_work/build" || die "check upstream: cannot link the firmware into $_qemu_work/build"
    export PYTHONPATH=$_qemu_meson/usr/lib/python3/dist-packages
    for suite in qtest-aarch64 func-quick; do
        log=$BARLAB_LOGS/upstream-$suite.log
        BARLAB_PROGRESS=ninja run_step "upstream-$suite" \
            _upstream_meson_test "$_qemu_work/build" "$suite" || true
        _upstream_count "$log" "$suite"
    done
    exec {_qemu_lock}>&-
}
