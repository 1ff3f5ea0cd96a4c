# SPDX-License-Identifier: GPL-2.0-or-later
# `barlab setup` is python/barlab/setup.py; what the bash commands still
# in scripts/lib call.  Sourced after every other library, never executed;
# goes with the last caller.

cmd_setup() { _barlab_py setup "$@"; }

# cache_key WHAT: the key of barlab's build WHAT (qemu, kernel, initramfs)
# from the repository's inputs and the build recipe alone (barlab.setup).
cache_key() {
    case $1 in
    qemu) { _qemu_key; printf '%s\n' "${_qemu_configure_args[@]}"; } | sha256sum | cut -c1-16 ;;
    kernel) _kernel_key ;;
    initramfs) _initramfs_key ;;
    *) return 1 ;;
    esac
}
