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

# _upstream_meson_test BUILD SUITE LOG: meson's test runner on SUITE.
_upstream_meson_test() {
    local build=$1 suite=$2 t skip=()
    for t in "${UPSTREAM_SKIP[@]}"; do
        skip+=(--no-suite "$t")
    done
    PYTHONPATH=$_qemu_meson/usr/lib/python3/dist-packages \
        "$build/pyvenv/bin/meson" test -C "$build" --suite "$suite" \
        --num-processes "$(nproc)" --print-errorlogs "${skip[@]}"
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
    for suite in qtest-aarch64 func-quick; do
        log=$BARLAB_LOGS/upstream-$suite.log
        BARLAB_PROGRESS=ninja run_step "upstream-$suite" \
            _upstream_meson_test "$_qemu_work/build" "$suite" || true
        _upstream_count "$log" "$suite"
    done
    exec {_qemu_lock}>&-
}
