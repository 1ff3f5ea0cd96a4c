#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The bash functions `barlab fullstack` still reaches through
# python/barlab/fullstack_bash.py (barlab.bashlib): the kernel series,
# the kernel's build tree, the modules' build, the host packages and the
# private arm64 apt state.  Each calls back into the package
# (barlab.frombash); no command runs here.  Sourced only; goes when
# fullstack_bash.py does.
set -euo pipefail

BARLAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$BARLAB_ROOT/scripts/lib/common.sh"
. "$BARLAB_ROOT/scripts/lib/apt.sh"
. "$BARLAB_ROOT/scripts/lib/kernel.sh"
. "$BARLAB_ROOT/scripts/lib/initramfs.sh"
