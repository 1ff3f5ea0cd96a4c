#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The bash libraries that the Python package (python/barlab) still reaches
# through barlab.bashlib; no command runs here any more.  Sourced only.
set -euo pipefail

BARLAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$BARLAB_ROOT/scripts/lib/common.sh"
. "$BARLAB_ROOT/scripts/lib/cli.sh"
. "$BARLAB_ROOT/scripts/lib/apt.sh"
. "$BARLAB_ROOT/scripts/lib/builds.sh"
. "$BARLAB_ROOT/scripts/lib/kernel.sh"
. "$BARLAB_ROOT/scripts/lib/initramfs.sh"
. "$BARLAB_ROOT/scripts/lib/setup.sh"

CORE_BUILD=$BARLAB_BUILD/core
BARLAB_MT=$CORE_BUILD/tools/barlab-mt
