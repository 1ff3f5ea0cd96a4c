# SPDX-License-Identifier: GPL-2.0-or-later
# The builds and runs the Python package owns (python/barlab: qemu.py,
# payloads.py, agree.py, fuzz.py, upstream.py) under the names the bash
# that still calls them knows.  Each is one call into the package; this
# file goes when its last caller is Python.  Sourced after common.sh,
# never executed.

_builds_py() {
    PYTHONPATH=$BARLAB_ROOT/python${PYTHONPATH:+:$PYTHONPATH} python3 -S -P -m "$@"
}

# builds_facts: the package lists, Debian suites, fuzzed devices and
# sanitizer options, read from where they are defined (barlab.qemu).
builds_facts() {
    local facts
    [ -z "${_builds_facts:-}" ] || return 0
    facts=$(_builds_py barlab.qemu bash-facts) || die "cannot read barlab.qemu's lists"
    eval "$facts"
    _builds_facts=1
}

# qemu_sanitize: from here on this shell's QEMU functions mean the
# sanitizer build.
qemu_sanitize() { QEMU_SANITIZE=1; }

# qemu_build [--qtests]: build QEMU (and its qtests) unless built.
qemu_build() { _builds_py barlab.qemu build ${QEMU_SANITIZE:+--sanitize} "$@" >/dev/null || exit; }

# qemu_binary_path: the qemu-system-aarch64 built for this tree; fails
# (silently) if there is none.
qemu_binary_path() { _builds_py barlab.qemu path ${QEMU_SANITIZE:+--sanitize}; }

# _qemu_fetch: the unpacked QEMU source; sets _qemu_ver.
_qemu_fetch() {
    local src
    src=$(_builds_py barlab.qemu source) || exit
    _qemu_ver=${src##*/qemu-}
}

# qemu_source_uris: "NAME SIZE" of each file of the qemu source package.
qemu_source_uris() { _builds_py barlab.qemu source-uris || exit; }

# qemu_stock_build: the launcher of Debian's stock qemu-system-aarch64.
qemu_stock_build() { _builds_py barlab.qemu stock || exit; }

payloads_build() { _builds_py barlab.payloads build || exit; }

# payloads_path NAME: the ELF of payload NAME; fails with a message if it
# is not built.
payloads_path() { _builds_py barlab.payloads path "$1"; }

# payloads_build_user ORACLE.jsonl: the matrix payload with the user's
# pattern file the cells name, or nothing.
payloads_build_user() { _builds_py barlab.payloads build-user "$1"; }

# agree_run CPU [OUTDIR [QEMU]]: the agreement test; barlab-agree's status.
agree_run() { _builds_py barlab.agree "$@"; }

# fuzz_run QEMU DEVICE INPUTS SEED OUT [JOBS]: barlab-fuzz; its status.
fuzz_run() { _builds_py barlab.fuzz "$@"; }

# run_suite_upstream: `check upstream`, counted into PASSED, FAILED and
# SKIPPED.
run_suite_upstream() {
    local out p f s
    out=$(_builds_py barlab.upstream run) || exit
    grep -v '^upstream-totals ' <<<"$out" || true
    read -r _ p f s < <(grep '^upstream-totals ' <<<"$out")
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s))
}
