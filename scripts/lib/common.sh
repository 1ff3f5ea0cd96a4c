# SPDX-License-Identifier: GPL-2.0-or-later
# The locations the functions in scripts/lib use.  Sourced, never
# executed.

BARLAB_ROOT=${BARLAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BARLAB_CACHE=${BARLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/barlab}
# ccache in depend mode (barlab.common.tool_env): the kernel's module
# builds write dependency files, which this mode reads.
export CCACHE_DEPEND=1
