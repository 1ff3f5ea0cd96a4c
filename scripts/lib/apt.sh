# SPDX-License-Identifier: GPL-2.0-or-later
# Debian packages: python/barlab/apt.py.  What the bash libraries still
# in scripts/lib call, passed to it (and to the other Python modules that
# replaced scripts/lib/{kernel,initramfs,setup}.sh) by barlab.frombash.
# Sourced after common.sh, never executed; goes with the last caller.

HOST_ARCH=${HOST_ARCH:-$(dpkg --print-architecture 2>/dev/null || echo amd64)}

_barlab_py() {
    PYTHONPATH=$BARLAB_ROOT/python${PYTHONPATH:+:$PYTHONPATH} "${BARLAB_PYTHON:-python3}" -P \
        -m barlab.frombash "$@"
}

apt_install() { _barlab_py apt_install "$@"; }
apt_update_once() { _barlab_py apt_update_once; }
_apt_codename() { _barlab_py apt_codename; }
papt_root() { echo "$BARLAB_CACHE/apt/$1"; }
papt() { _barlab_py papt "$@"; }
papt_update() { _barlab_py papt_update "$@"; }
papt_version() { _barlab_py papt_version "$@"; }
papt_deb() { _barlab_py papt_deb "$@"; }
