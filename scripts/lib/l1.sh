# SPDX-License-Identifier: GPL-2.0-or-later
# The L1 boot for scripts/lib/fullstack.sh while it is bash: the boot
# itself is python/barlab/l1.py (command boot).  Sourced after common.sh
# and kernel.sh, never executed; goes with fullstack.sh.

_l1_py() {
    PYTHONPATH=$BARLAB_ROOT/python${PYTHONPATH:+:$PYTHONPATH} python3 -P -m barlab.l1 "$@"
}

# l1_run [options] [-- QEMU-ARGS...]: boot L1 once (options: barlab boot
# --help) into the --out directory as it is, with the kernel series
# kernel_patches_use chose; the script's status.
l1_run() {
    _l1_py run --series-json "$KERNEL_SERIES" "$@"
}

# l1_device_props CMD DEV,PROP=VALUE[,...]: a usage error of CMD unless
# the properties are well-formed.
l1_device_props() {
    _l1_py device-props "$1" "$2" || exit $?
}

# _l1_initrd BASE EXTRA SCRIPT OUT: BASE, the cpio EXTRA (may be empty)
# and SCRIPT (may be empty) as /run.sh, in OUT.
_l1_initrd() {
    _l1_py initrd "$@"
}
