# SPDX-License-Identifier: GPL-2.0-or-later
# `barlab setup` is python/barlab/setup.py; what the bash commands still
# in scripts/lib call.  Sourced after every other library, never executed;
# goes with the last caller.

cmd_setup() { _barlab_py setup "$@"; }
