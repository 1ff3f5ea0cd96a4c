# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for scripts/barlab and its libraries: messages, fatal
# errors, logged steps that show the tail of their log on failure, and the
# cache location.  Sourced, never executed.

BARLAB_ROOT=${BARLAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BARLAB_CACHE=${BARLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/barlab}
BARLAB_BUILD=${BARLAB_BUILD:-$BARLAB_ROOT/build}
BARLAB_LOGS=${BARLAB_LOGS:-$BARLAB_BUILD/logs}
# ccache in depend mode: a miss (every file of a cold build) runs the
# compiler once instead of the preprocessor and then the compiler.  QEMU's
# and the kernel's builds write dependency files (-MD, -Wp,-MMD), which
# this mode needs and reads instead.
export CCACHE_DEPEND=1

msg() { printf 'barlab: %s\n' "$*" >&2; }
die() { printf 'barlab: error: %s\n' "$*" >&2; exit 1; }

# need_arg ARGC MESSAGE: for option parsers: die with MESSAGE unless the
# option ($1 of the caller) has a value ($2), i.e. unless ARGC >= 2.
need_arg() { [ "$1" -ge 2 ] || die "$2"; }

# run_step NAME CMD...: run CMD with its output in $BARLAB_LOGS/NAME.log.
# Prints one progress line, the time taken, and on failure the log's path
# and its last lines, then returns the command's status.  With
# BARLAB_PROGRESS set (see _step_done) a long step also shows how far it
# is: on a terminal a line redrawn every 2 s, otherwise one line a minute.
# Not on a terminal, or with BARLAB_STEP_LINES set (steps running side by
# side), every message is a whole line.
run_step() {
    local name=$1; shift
    local log="$BARLAB_LOGS/$name.log" start=$SECONDS rc=0 pid lines=
    [ -t 2 ] && [ -z "${BARLAB_STEP_LINES:-}" ] || lines=1
    mkdir -p "$BARLAB_LOGS"
    [ -n "$lines" ] || printf 'barlab: %-28s ' "$name ..." >&2
    if [ -n "${BARLAB_PROGRESS:-}" ]; then
        "$@" >"$log" 2>&1 &
        pid=$!
        _step_progress "$name" "$log" "$pid" "$start" "$lines"
        wait "$pid" || rc=$?
    else
        "$@" >"$log" 2>&1 || rc=$?
    fi
    [ -z "$lines" ] || printf 'barlab: %-28s ' "$name ..." >&2
    if [ "$rc" -ne 0 ]; then
        printf 'FAILED (exit %d, %ds)\n' "$rc" "$((SECONDS - start))" >&2
        printf 'barlab: step "%s" failed; log: %s; last lines:\n' "$name" "$log" >&2
        tail -n 25 "$log" | sed 's/^/    /' >&2
        return "$rc"
    fi
    printf 'ok (%ds)\n' "$((SECONDS - start))" >&2
}

# _step_done KIND LOG: "DONE TOTAL" for a running step.  KIND is
# BARLAB_PROGRESS: "ninja" (its [n/N] lines) or "kbuild:N" (the kernel's
# "  CC" lines against N expected; N=0: not known).
_step_done() {
    case $1 in
    ninja)
        tail -c 4096 "$2" 2>/dev/null | grep -ao '^\[[0-9]*/[0-9]*\]' | tail -n 1 |
            tr -d '[]' | tr '/' ' ' ;;
    kbuild:*)
        echo "$(grep -c '^  CC' "$2" 2>/dev/null) ${1#kbuild:}" ;;
    esac
}

# _step_progress NAME LOG PID START LINES: report the progress of PID
# until it ends: steps done of the total, the percentage, the time so far
# and an estimate of the time left (from the rate so far); a line redrawn
# every 2 s, or with LINES set a whole line a minute.
_step_progress() {
    local name=$1 log=$2 pid=$3 start=$4 lines=$5 nap=2 last=$SECONDS done total el pct left line
    [ -z "$lines" ] || nap=5
    while kill -0 "$pid" 2>/dev/null; do
        sleep "$nap"
        [ -z "$lines" ] || [ $((SECONDS - last)) -ge 60 ] || continue
        last=$SECONDS
        read -r done total < <(_step_done "$BARLAB_PROGRESS" "$log") || true
        el=$((SECONDS - start))
        if [ -n "${done:-}" ] && [ -n "${total:-}" ] && [ "$total" -gt 0 ] && [ "$done" -gt 0 ]; then
            [ "$done" -le "$total" ] || total=$done
            pct=$((100 * done / total))
            left=$((el * (total - done) / done))
            line=$(printf '[%d/%d] %d%%, %dm%02ds, about %dm%02ds left' "$done" "$total" "$pct" \
                $((el / 60)) $((el % 60)) $((left / 60)) $((left % 60)))
        elif [ -n "${done:-}" ] && [ "$done" -gt 0 ]; then
            line=$(printf '%d done, %dm%02ds' "$done" $((el / 60)) $((el % 60)))
        else
            line=$(printf '%dm%02ds' $((el / 60)) $((el % 60)))
        fi
        if [ -n "$lines" ]; then
            printf 'barlab: %-28s %s\n' "$name ..." "$line" >&2
        else
            printf '\r\033[Kbarlab: %-28s %s ' "$name ..." "$line" >&2
        fi
    done
    [ -n "$lines" ] || printf '\r\033[Kbarlab: %-28s ' "$name ..." >&2
}

# hash_tree PATH...: one sha256 over the names and contents of the files
# below PATH..., stable across machines; used for cache keys.
hash_tree() {
    (cd "$BARLAB_ROOT" && find "$@" -type f -print0 2>/dev/null | sort -z |
        xargs -0 -r sha256sum) | sha256sum | cut -c1-16
}
