# SPDX-License-Identifier: GPL-2.0-or-later
# Bare-metal aarch64 payloads (target-tests/payloads/): build them with
# Debian's cross toolchain into $BARLAB_BUILD/payloads/, and find them.
# make rebuilds only what changed.  Sourced after common.sh and apt.sh,
# never executed.

PAYLOADS_SRC=$BARLAB_ROOT/target-tests/payloads

# Debian packages the payload build needs.
_payloads_packages=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu make)

# _payloads_out: the output directory, absolute (make runs in PAYLOADS_SRC).
_payloads_out() {
    local out=$BARLAB_BUILD/payloads
    case $out in
    /*) echo "$out" ;;
    *) echo "$PWD/$out" ;;
    esac
}

# payloads_build: install the cross toolchain if missing, then build every
# payload; a warm call runs make, which finds nothing to do.
payloads_build() {
    apt_install "${_payloads_packages[@]}"
    run_step payloads-build make -C "$PAYLOADS_SRC" O="$(_payloads_out)" \
        -j"$(nproc 2>/dev/null || echo 2)" ||
        die "building the payloads failed (target-tests/payloads)"
}

# payloads_path NAME: print the ELF of payload NAME (for QEMU -kernel);
# fail with a message if it has not been built.
payloads_path() {
    local elf
    [ $# -eq 1 ] || die "payloads_path: usage: payloads_path NAME"
    elf=$(_payloads_out)/$1.elf
    if [ ! -f "$elf" ]; then
        msg "payload '$1' is not built ($elf); run payloads_build"
        return 1
    fi
    echo "$elf"
}

# payloads_build_user ORACLE.jsonl: the matrix payload with the pattern
# file that the oracle's cells name (pattern=file:), assembled by
# scripts/user_pattern.py into $BARLAB_BUILD/payloads-user/KEY (KEY from
# the file's content); prints its ELF, or nothing if no cell names a
# file.  A file that does not assemble: one line, non-zero status.  Needs
# payloads_build first.
payloads_build_user() {
    python3 "$BARLAB_ROOT/scripts/user_pattern.py" build "$1" "$PAYLOADS_SRC" \
        "$(_payloads_out)" "$(_payloads_out)-user"
}
