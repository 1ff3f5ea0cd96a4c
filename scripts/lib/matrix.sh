# SPDX-License-Identifier: GPL-2.0-or-later
# `barlab matrix`: every scenario of a scenario file as an L2 run under
# real nested KVM with barlab-gpu passed through by VFIO, compared cell by
# cell with the oracle.  One L1 boot per CPU model; inside it, vfio-pci's
# policy is switched between runs (it is sampled when the VMM mmaps the
# BAR).  `--shard K/N` runs a share of the groups, `matrix merge` puts the
# shards' reports together.  The planning and the report are
# scripts/matrix.py; the report directory is handled by output.sh.
# Sourced after common.sh, cli.sh, output.sh, qemu.sh, kernel.sh,
# initramfs.sh and l1.sh, never executed.

MATRIX_FULL=target-tests/scenarios/matrix.scn
MATRIX_QUICK=target-tests/scenarios/matrix-quick.scn

usage_matrix() {
    cat <<'USAGE'
usage: scripts/barlab matrix [--quick] [--scenarios FILE] [--inject-align]
                             [--rules] [--shard K/N] [--payload ELF] [--out DIR]
                             [--kernel-patches [+]DIR]
       scripts/barlab matrix merge SHARD-DIR... [--rules] [--out DIR]
the main job: every scenario as an L2 guest under nested KVM, against the oracle
  --quick             the quick set (target-tests/scenarios/matrix-quick.scn)
  --scenarios FILE    another scenario file (default: the full matrix.scn)
                      (pattern=file:MY.S runs your own assembly in each of
                      its cells: docs/scenarios.md)
  --inject-align      L1 KVM delivers stage-2 alignment faults to the guest
                      instead of failing KVM_RUN (kernel patch 0004)
  --rules             show the Arm rules behind each cell in the table
  --shard K/N         run shard K of N: a fixed share of the L2 runs,
                      balanced by L1 boots (no CPU model booted twice);
                      'matrix merge' combines the N shards' reports
  --payload ELF       run this matrix payload in L2 instead of barlab's
                      (an aarch64 ELF built from target-tests/payloads
                      with a pattern changed, to see what the matrix says)
  --kernel-patches [+]DIR
                      L1 runs the kernel of the git format-patch series in
                      DIR instead of kernel-patches/ (+DIR: on top of it);
                      a series without the run-time policy runs the cells
                      of the policy it declares, the others are reported
                      as not available (docs/kernel-patches.md)
  --out DIR           where the report goes (default build/matrix, with
                      --shard build/matrix-shard-K-of-N); a new or empty
                      directory, or an earlier report of barlab's
Prints the table; writes DIR/index.html, report.json and junit.xml; exits 1
if any cell differs from the prediction, naming it.  An interrupted run
leaves DIR as it was.
USAGE
}

usage_matrix_merge() {
    cat <<'USAGE'
usage: scripts/barlab matrix merge SHARD-DIR... [--rules] [--out DIR]
combine the reports of 'matrix --shard K/N' runs into one report
The shards must be 1..N of one N, of the same scenario file, barlab
version and --inject-align; the merged table, HTML, JSON and JUnit are
those of an unsharded run of the same scenarios, cell for cell.
  --rules             show the Arm rules behind each cell in the table
  --out DIR           where the report goes (default build/matrix)
Exits 1 if any cell differs from the prediction.
USAGE
}

# barlab_version: the commit barlab runs from ("-dirty" with local
# changes), for reports that are compared later.
barlab_version() {
    local v
    v=$(git -C "$BARLAB_ROOT" rev-parse --short=12 HEAD 2>/dev/null) || { echo unknown; return; }
    git -C "$BARLAB_ROOT" diff --quiet HEAD -- 2>/dev/null || v+=-dirty
    echo "$v"
}

# _matrix_report_line DIR: where the report is, relative to here.
_matrix_report_line() {
    printf 'report: %s (JSON: report.json, JUnit: junit.xml)\n' \
        "$(realpath -s --relative-to=. "$1/index.html")"
}

# _matrix_l1 STAGE CPU [--inject-align]: boot L1 on CPU with its run
# script (STAGE/run-CPU.sh) into STAGE/CPU, with barlab-nic's properties
# for the driver idioms and barlab-gpu's for its BAR0 if the plan has
# them; the status goes to STAGE/.l1-CPU.rc.
_matrix_l1() {
    local stage=$1 cpu=$2 t0=$SECONDS props gprops rc=0 extra=()
    shift 2
    read -r props gprops < <(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))
print(p["nic_props"].get(sys.argv[2], "-"), p["gpu_props"].get(sys.argv[2], "-"))' "$stage/plan.json" "$cpu")
    [ "$props" != - ] || props=""
    [ "$gprops" != - ] || gprops=""
    [ ! -f "$stage/payload.cpio" ] || extra=(--initrd-extra "$stage/payload.cpio")
    msg "matrix: L1 on -cpu $cpu ..."
    l1_run --cpu "$cpu" --out "$stage/$cpu" --run "$stage/run-$cpu.sh" "$@" "${extra[@]}" \
        ${props:+--device-props "nic,$props"} ${gprops:+--device-props "gpu,$gprops"} || rc=$?
    [ "$rc" != 0 ] || msg "matrix: -cpu $cpu done in $((SECONDS - t0)) s"
    echo "$rc" >"$stage/.l1-$cpu.rc"
}

# _matrix_aarch64_elf FILE: is FILE a 64-bit little-endian ELF for
# EM_AARCH64 (183)?  (e_ident's magic, class and data; e_machine.)
_matrix_aarch64_elf() {
    [ "$(od -An -tx1 -N6 "$1" | tr -d ' \n')" = 7f454c460201 ] &&
        [ "$(od -An -tx1 -j18 -N2 "$1" | tr -d ' \n')" = b700 ]
}

# _matrix_refused: the run's input was refused, in one line already
# printed: nothing of the run stays.
_matrix_refused() {
    rm -rf "$OUT_STAGE"
    OUT_STAGE=
    exit 1
}

# _matrix_user_payload STAGE PAYLOAD: MATRIX_PAYLOAD, the payload L2
# runs: PAYLOAD (--payload), or the one assembled with the pattern file of
# the scenarios (pattern=file:), or none (barlab's).  A file that does not
# assemble ends the run with the assembler's message.
_matrix_user_payload() {
    local user
    MATRIX_PAYLOAD=$2
    user=$(payloads_build_user "$1/oracle.jsonl") || _matrix_refused
    [ -n "$user" ] || return 0
    if [ -n "$2" ]; then
        printf 'barlab: error: matrix: --payload %s and pattern=file: in the scenarios both replace the matrix payload\n' "$2" >&2
        _matrix_refused
    fi
    MATRIX_PAYLOAD=$user
}

# _matrix_pack_payload STAGE ELF: ELF in place of barlab's matrix payload,
# as STAGE/payload.cpio for L1's initramfs.
_matrix_pack_payload() {
    # A later cpio's file replaces the initramfs's (the kernel unpacks them in order).
    mkdir -p "$1/payload/lib/barlab/payloads"
    install -m 644 "$2" "$1/payload/lib/barlab/payloads/matrix.elf"
    (cd "$1/payload" && find lib | cpio -o -H newc -R 0:0 --quiet) >"$1/payload.cpio" ||
        die "matrix: cannot pack $2"
    rm -r "$1/payload"
    msg "matrix: L2 runs $2 instead of barlab's matrix payload"
}

cmd_matrix() {
    local cmd=${MATRIX_CMD:-matrix} scn=$BARLAB_ROOT/$MATRIX_FULL out="" inject=() rules=() shard=()
    local payload=
    local cpu cpus running start=$SECONDS rc=0 cells stage
    if [ "${1:-}" = merge ]; then
        shift
        cmd_matrix_merge "$@"
        return
    fi
    while [ $# -gt 0 ]; do
        case $1 in
        --quick) scn=$BARLAB_ROOT/$MATRIX_QUICK ;;
        --scenarios) opt_value "$cmd" $# "$1"; scn=$2; shift ;;
        --inject-align) inject=(--inject-align) ;;
        --rules) rules=(--rules) ;;
        --shard) opt_value "$cmd" $# "$1"; shard=(--shard "$2"); shift ;;
        --payload) opt_value "$cmd" $# "$1"; payload=$2; shift ;;
        --kernel-patches) opt_value "$cmd" $# "$1"; kernel_patches_use "$cmd" "$2"; shift ;;
        --out) opt_value "$cmd" $# "$1"; out=$2; shift ;;
        *) usage_die "$cmd" "unknown option '$1'" ;;
        esac
        shift
    done
    [ -f "$scn" ] || usage_die "$cmd" "no scenario file $scn"
    if [ -n "$payload" ]; then
        [ -f "$payload" ] || usage_die "$cmd" "--payload: no such file $payload"
        _matrix_aarch64_elf "$payload" || usage_die "$cmd" "--payload: $payload is not an aarch64 ELF"
    fi
    if [ ${#shard[@]} -gt 0 ]; then
        [[ ${shard[1]} =~ ^([0-9]+)/([0-9]+)$ ]] &&
            [ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[1]}" -le "${BASH_REMATCH[2]}" ] ||
            usage_die "$cmd" "--shard must be K/N with 1 <= K <= N, not '${shard[1]}'"
        [ -n "$out" ] || out=$BARLAB_BUILD/matrix-shard-${BASH_REMATCH[1]}-of-${BASH_REMATCH[2]}
    fi
    [ -n "$out" ] || out=$BARLAB_BUILD/matrix
    kernel_series_build
    out_open "$cmd" matrix "$out"
    stage=$OUT_STAGE
    cmd_setup
    build_core
    l1_builds
    # A bad scenario: the oracle's one line says where and why.
    "$BARLAB_MT" oracle "$scn" --json >"$stage/oracle.jsonl" || _matrix_refused
    _matrix_user_payload "$stage" "$payload"
    [ -z "$MATRIX_PAYLOAD" ] || _matrix_pack_payload "$stage" "$MATRIX_PAYLOAD"
    "$BARLAB_MT" patterns >"$stage/patterns.txt"
    python3 "$BARLAB_ROOT/scripts/matrix.py" plan "$stage/oracle.jsonl" "$stage/patterns.txt" \
        "$stage" "${inject[@]}" "${shard[@]}" --scenario-file "$scn" --version "$(barlab_version)" \
        --kernel-series "$(kernel_series_json)" >&2 ||
        die "matrix: planning failed"
    # One L1 boot per CPU model, all at once (BARLAB_MATRIX_JOBS: at most
    # that many): an L1 boot keeps its thread busy only part of the time,
    # and the full matrix's three boots took 80 s side by side on 2 cores
    # against 122 s two at a time.
    cpus=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["cpus"]))' "$stage/plan.json")
    running=0
    for cpu in $cpus; do
        if [ "$running" -ge "${BARLAB_MATRIX_JOBS:-$(wc -w <<<"$cpus")}" ]; then
            wait -n || true
            running=$((running - 1))
        fi
        _matrix_l1 "$stage" "$cpu" "${inject[@]}" &
        running=$((running + 1))
    done
    wait
    for cpu in $cpus; do
        [ "$(cat "$stage/.l1-$cpu.rc" 2>/dev/null)" = 0 ] ||
            die "matrix: the L1 run on -cpu $cpu failed (console: $stage/$cpu/console.log)"
        rm -f "$stage/.l1-$cpu.rc"
    done
    rm -f "$stage/payload.cpio"
    python3 "$BARLAB_ROOT/scripts/matrix.py" report "$stage" "$BARLAB_MT" "${rules[@]}" || rc=$?
    [ "$rc" -le 1 ] || die "matrix: the report could not be made"
    out_commit
    _matrix_report_line "$OUT_DIR"
    cells=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["cells"]))' "$OUT_DIR/report.json")
    printf 'matrix: %d s wall for %d cells (%s s a cell, builds included)\n' "$((SECONDS - start))" \
        "$cells" "$(awk -v t=$((SECONDS - start)) -v n="$cells" 'BEGIN { printf "%.2f", n ? t / n : 0 }')"
    return "$rc"
}

cmd_matrix_merge() {
    local cmd="matrix merge" out=$BARLAB_BUILD/matrix dirs=() rules=() d rc=0
    while [ $# -gt 0 ]; do
        case $1 in
        --rules) rules=(--rules) ;;
        --out) opt_value "$cmd" $# "$1"; out=$2; shift ;;
        -*) usage_die "$cmd" "unknown option '$1'" ;;
        *) dirs+=("$1") ;;
        esac
        shift
    done
    [ ${#dirs[@]} -gt 0 ] || usage_die "$cmd" "needs the shards' report directories"
    for d in "${dirs[@]}"; do
        [ -f "$d/report.json" ] || usage_die "$cmd" "$d: no report.json (not a matrix report)"
        [ "$(cd "$d" && pwd -P)" != "$(cd "$out" 2>/dev/null && pwd -P)" ] ||
            usage_die "$cmd" "--out $out is one of the shards"
    done
    out_open "$cmd" matrix "$out"
    python3 "$BARLAB_ROOT/scripts/matrix.py" merge "$OUT_STAGE" "${dirs[@]}" "${rules[@]}" || rc=$?
    if [ "$rc" -gt 1 ]; then
        rm -rf "$OUT_STAGE"      # nothing of a merge that was refused
        OUT_STAGE=
        exit "$rc"
    fi
    out_commit
    _matrix_report_line "$OUT_DIR"
    return "$rc"
}
