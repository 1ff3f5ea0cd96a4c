# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for scripts/barlab and its libraries: messages, fatal
# errors, logged steps that show the tail of their log on failure, and the
# cache location.  Sourced, never executed.

BARLAB_ROOT=${BARLAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BARLAB_CACHE=${BARLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/barlab}
BARLAB_BUILD=${BARLAB_BUILD:-$BARLAB_ROOT/build}
BARLAB_LOGS=${BARLAB_LOGS:-$BARLAB_BUILD/logs}

msg() { printf 'barlab: %s\n' "$*" >&2; }
die() { printf 'barlab: error: %s\n' "$*" >&2; exit 1; }

# need_arg ARGC MESSAGE: for option parsers: die with MESSAGE unless the
# option ($1 of the caller) has a value ($2), i.e. unless ARGC >= 2.
need_arg() { [ "$1" -ge 2 ] || die "$2"; }

# run_step NAME CMD...: run CMD with its output in $BARLAB_LOGS/NAME.log.
# Prints one progress line, the time taken, and on failure the log's path
# and its last lines, then returns the command's status.
run_step() {
    local name=$1; shift
    local log="$BARLAB_LOGS/$name.log" start=$SECONDS rc=0
    mkdir -p "$BARLAB_LOGS"
    printf 'barlab: %-28s ' "$name ..." >&2
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf 'FAILED (exit %d, %ds)\n' "$rc" "$((SECONDS - start))" >&2
        printf 'barlab: step "%s" failed; log: %s; last lines:\n' "$name" "$log" >&2
        tail -n 25 "$log" | sed 's/^/    /' >&2
        return "$rc"
    fi
    printf 'ok (%ds)\n' "$((SECONDS - start))" >&2
}

# hash_tree PATH...: one sha256 over the names and contents of the files
# below PATH..., stable across machines; used for cache keys.
hash_tree() {
    (cd "$BARLAB_ROOT" && find "$@" -type f -print0 2>/dev/null | sort -z |
        xargs -0 -r sha256sum) | sha256sum | cut -c1-16
}
