# SPDX-License-Identifier: GPL-2.0-or-later
# Debian packages: python/barlab/apt.py, reached through barlab.frombash.
# Sourced after common.sh, never executed.

_barlab_py() {
    PYTHONPATH=$BARLAB_ROOT/python${PYTHONPATH:+:$PYTHONPATH} "${BARLAB_PYTHON:-python3}" -P \
        -m barlab.frombash "$@"
}

apt_install() { _barlab_py apt_install "$@"; }
papt_root() { echo "$BARLAB_CACHE/apt/$1"; }
papt() { _barlab_py papt "$@"; }
