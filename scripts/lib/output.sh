# SPDX-License-Identifier: GPL-2.0-or-later
# Report directories that are safe to point anywhere (`--out DIR` of
# matrix, matrix merge, boot and fullstack).  Sourced after common.sh and
# cli.sh, never executed.
#
# - A report directory holds a manifest, DIR/.barlab-manifest: its first
#   line "barlab-manifest 1 KIND", then every file and directory barlab
#   wrote there, one relative path a line.  barlab replaces such a
#   directory only while it holds nothing else; a directory that is not
#   empty and has no manifest, or has a file the manifest does not list,
#   is refused with one message, before anything is built or started.
# - A run writes into a staging directory beside DIR, PARENT/.NAME.barlab-run,
#   and only a finished run puts it in DIR's place (two renames: DIR to
#   .NAME.barlab-old, the staging directory to DIR).  An interrupt (INT,
#   TERM, HUP) ends the run's children and removes the staging directory;
#   a run that fails keeps it and says so; kill -9 leaves it for the next
#   run to remove.  So DIR holds the previous report, or (for the instant
#   between the renames) none, never part of one.

OUT_MANIFEST=.barlab-manifest

# _out_entries DIR: every path below DIR, relative, sorted, directories
# with a trailing "/", the manifest left out.
_out_entries() {
    (cd "$1" && find . -mindepth 1 \( -type d -printf '%P/\n' \) -o \( ! -name "$OUT_MANIFEST" -printf '%P\n' \) |
        LC_ALL=C sort)
}

# _out_ours PATH KIND: true if PATH is a directory barlab wrote for KIND:
# it has a manifest of KIND and nothing the manifest does not list.
# Prints the first unlisted path, if any.
_out_ours() {
    local m=$1/$OUT_MANIFEST extra
    [ -f "$m" ] && [ "$(head -n 1 "$m")" = "barlab-manifest 1 $2" ] || return 1
    extra=$(LC_ALL=C comm -23 <(_out_entries "$1") <(tail -n +2 "$m" | LC_ALL=C sort) | head -n 1)
    [ -z "$extra" ] || { echo "$extra"; return 1; }
}

# out_check CMD KIND DIR: a usage mistake of CMD unless DIR may take a
# KIND report.  Changes nothing.
out_check() {
    local cmd=$1 kind=$2 dir=$3 extra
    [ -n "$dir" ] || usage_die "$cmd" "--out needs a directory"
    if [ -e "$dir" ] || [ -L "$dir" ]; then
        [ -d "$dir" ] && [ ! -L "$dir" ] ||
            usage_die "$cmd" "--out $dir: exists and is not a directory"
        [ -n "$(ls -A "$dir")" ] || return 0
        if [ ! -f "$dir/$OUT_MANIFEST" ]; then
            usage_die "$cmd" "--out $dir: not empty and not a barlab report (no $OUT_MANIFEST); name a new or empty directory"
        fi
        [ "$(head -n 1 "$dir/$OUT_MANIFEST")" = "barlab-manifest 1 $kind" ] ||
            usage_die "$cmd" "--out $dir: holds another kind of barlab report ($(head -n 1 "$dir/$OUT_MANIFEST" | cut -d' ' -f3)), not a $kind report"
        extra=$(_out_ours "$dir" "$kind") ||
            usage_die "$cmd" "--out $dir: holds $extra, which barlab did not write; move it away or name another directory"
    fi
    return 0
}

OUT_DIR=
OUT_STAGE=
OUT_KIND=
OUT_JOB=

# out_open CMD KIND DIR: out_check, then make the staging directory; sets
# OUT_DIR (DIR, absolute) and OUT_STAGE (where the run writes) and
# installs the traps that remove OUT_STAGE on an interrupt.
out_open() {
    local cmd=$1 parent name pid
    out_check "$@"
    OUT_KIND=$2
    if [ -d "$3" ]; then
        OUT_DIR=$(cd "$3" && pwd -P)
    else
        mkdir -p "$(dirname "$3")"
        OUT_DIR=$(cd "$(dirname "$3")" && pwd -P)/$(basename "$3")
    fi
    [ "$OUT_DIR" != / ] || usage_die "$cmd" "--out /: name a new or empty directory"
    parent=$(dirname "$OUT_DIR")
    name=$(basename "$OUT_DIR")
    OUT_STAGE=$parent/.$name.barlab-run
    if [ -e "$OUT_STAGE" ]; then
        pid=$(cat "$OUT_STAGE/$OUT_MANIFEST.pid" 2>/dev/null) ||
            die "$cmd: $OUT_STAGE exists and barlab did not make it; remove it"
        ! kill -0 "$pid" 2>/dev/null ||
            die "$cmd: another barlab run (pid $pid) is writing $OUT_DIR"
        rm -rf "$OUT_STAGE"
    fi
    # An earlier run killed between the two renames of out_commit.
    [ ! -d "$parent/.$name.barlab-old" ] || ! _out_ours "$parent/.$name.barlab-old" "$OUT_KIND" >/dev/null ||
        rm -rf "$parent/.$name.barlab-old"
    mkdir "$OUT_STAGE"
    echo "$BASHPID" >"$OUT_STAGE/$OUT_MANIFEST.pid"
    trap _out_exit EXIT
    trap '_out_interrupted 130' INT
    trap '_out_interrupted 143' TERM
    trap '_out_interrupted 129' HUP
}

# _kill_tree PID: TERM to PID and all its descendants (found while their
# parents still hold them), then wait up to 10 s for all of them to end:
# QEMU and l1run write their last lines as they go.
_kill_tree() {
    local all=("$1") i=0 c
    while [ "$i" -lt "${#all[@]}" ]; do
        for c in $(pgrep -P "${all[$i]}" 2>/dev/null); do all+=("$c"); done
        i=$((i + 1))
    done
    kill -TERM "${all[@]}" 2>/dev/null || true
    # PID itself is the caller's child, a zombie until it is waited for.
    [ ${#all[@]} -gt 1 ] || return 0
    for i in $(seq 100); do
        kill -0 "${all[@]:1}" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "${all[@]:1}" 2>/dev/null || true
}

_out_interrupted() {
    trap - INT TERM HUP
    local job jobs
    # OUT_JOB, a child started an instant before it was recorded, and the
    # jobs a command runs side by side.  (A pipeline's subshells see no
    # jobs; a command substitution does.)
    jobs=$(jobs -p)
    for job in $(printf '%s\n' $OUT_JOB $jobs | sort -u); do
        _kill_tree "$job"
        wait "$job" 2>/dev/null || true
    done
    [ -z "$OUT_STAGE" ] || rm -rf "$OUT_STAGE" || rm -rf "$OUT_STAGE" || true
    msg "interrupted: nothing written to ${OUT_DIR:-the report directory}"
    exit "$1"
}

# out_job CMD...: run CMD (a command or a function) as a child and wait for
# it, so that an interrupt takes effect at once and ends CMD too; CMD's
# status.
out_job() {
    local rc=0
    "$@" &
    OUT_JOB=$!
    wait "$OUT_JOB" || rc=$?
    OUT_JOB=
    return "$rc"
}

# out_keep PATH...: carry these entries of the previous report (relative
# to OUT_DIR) over into the new one, unchanged (hard links where possible).
out_keep() {
    local p
    for p in "$@"; do
        [ -e "$OUT_DIR/$p" ] || continue
        mkdir -p "$(dirname "$OUT_STAGE/$p")"
        cp -al "$OUT_DIR/$p" "$OUT_STAGE/$p" 2>/dev/null || cp -a "$OUT_DIR/$p" "$OUT_STAGE/$p"
    done
}

# out_commit: write the manifest and put the staged report in OUT_DIR's
# place; the previous report is removed only if it still holds nothing
# but what barlab wrote (a directory that was empty: only if it still is).
out_commit() {
    local old entries extra=
    old=$(dirname "$OUT_DIR")/.$(basename "$OUT_DIR").barlab-old
    if [ -f "$OUT_DIR/$OUT_MANIFEST" ]; then
        extra=$(_out_ours "$OUT_DIR" "$OUT_KIND") || die "$OUT_DIR changed during the run: it holds ${extra:-another manifest}, which barlab did not write; the new report is in $OUT_STAGE"
    elif [ -d "$OUT_DIR" ] && [ -n "$(ls -A "$OUT_DIR")" ]; then
        die "$OUT_DIR changed during the run: it is no longer empty; the new report is in $OUT_STAGE"
    fi
    rm -f "$OUT_STAGE/$OUT_MANIFEST.pid"
    entries=$(_out_entries "$OUT_STAGE")
    printf 'barlab-manifest 1 %s\n%s\n' "$OUT_KIND" "$entries" >"$OUT_STAGE/$OUT_MANIFEST"
    trap '' INT TERM HUP
    if [ -e "$OUT_DIR" ]; then
        mv -T "$OUT_DIR" "$old" || die "cannot move the previous report $OUT_DIR aside"
    fi
    mv -T "$OUT_STAGE" "$OUT_DIR" || die "cannot put the report in place: $OUT_DIR (the previous one is $old)"
    OUT_STAGE=
    if [ -f "$old/$OUT_MANIFEST" ]; then
        rm -rf "$old"
    elif [ -d "$old" ]; then
        rmdir "$old"
    fi
    trap - INT TERM HUP
}

# _out_exit: at exit, a run that stopped before out_commit says where
# its files are.
_out_exit() {
    [ -z "$OUT_STAGE" ] || [ ! -d "$OUT_STAGE" ] ||
        msg "the unfinished run's files are in $OUT_STAGE (the next run with this --out removes them); ${OUT_DIR} is as it was"
}
