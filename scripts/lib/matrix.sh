# SPDX-License-Identifier: GPL-2.0-or-later
# `barlab matrix`: every scenario of a scenario file as an L2 run under
# real nested KVM with barlab-gpu passed through by VFIO, compared cell by
# cell with the oracle.  One L1 boot per CPU model; inside it, vfio-pci's
# policy is switched between runs (it is sampled when the VMM mmaps the
# BAR).  The planning and the report are scripts/matrix.py.  Sourced after
# common.sh, qemu.sh, kernel.sh, initramfs.sh and l1.sh, never executed.

MATRIX_FULL=target-tests/scenarios/matrix.scn
MATRIX_QUICK=target-tests/scenarios/matrix-quick.scn

matrix_usage() {
    cat <<'USAGE'
usage: scripts/barlab matrix [--quick] [--scenarios FILE] [--inject-align]
                             [--rules] [--out DIR]
Run the scenario matrix through nested KVM and compare it with the oracle.
  --quick             the quick set (target-tests/scenarios/matrix-quick.scn)
  --scenarios FILE    another scenario file (default: the full matrix.scn)
  --inject-align      L1 KVM delivers stage-2 alignment faults to the guest
                      instead of failing KVM_RUN (kernel patch 0004)
  --rules             show the Arm rules behind each cell in the table
  --out DIR           where the report goes (default build/matrix)
Prints the table; writes DIR/index.html, report.json and junit.xml; exits 1
if any cell differs from the prediction, naming it.
USAGE
}

cmd_matrix() {
    local scn=$BARLAB_ROOT/$MATRIX_FULL out=$BARLAB_BUILD/matrix inject=() rules=()
    local cpu start=$SECONDS rc=0 t0 cells
    while [ $# -gt 0 ]; do
        case $1 in
        --quick) scn=$BARLAB_ROOT/$MATRIX_QUICK ;;
        --scenarios) need_arg $# "matrix: --scenarios needs a file"; scn=$2; shift ;;
        --inject-align) inject=(--inject-align) ;;
        --rules) rules=(--rules) ;;
        --out) need_arg $# "matrix: --out needs a directory"; out=$2; shift ;;
        -h|--help) matrix_usage; return 0 ;;
        *) die "matrix: unknown option '$1' (see 'barlab matrix --help')" ;;
        esac
        shift
    done
    [ -f "$scn" ] || die "matrix: no scenario file $scn"
    cmd_setup
    build_core
    qemu_build
    initramfs_build
    rm -rf "$out"
    mkdir -p "$out"
    "$BARLAB_MT" oracle "$scn" --json >"$out/oracle.jsonl" ||
        die "matrix: the oracle rejected $scn"
    "$BARLAB_MT" patterns >"$out/patterns.txt"
    python3 "$BARLAB_ROOT/scripts/matrix.py" plan "$out/oracle.jsonl" \
        "$out/patterns.txt" "$out" "${inject[@]}" >&2 || die "matrix: planning failed"
    for cpu in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["cpus"]))' "$out/plan.json"); do
        t0=$SECONDS
        msg "matrix: L1 on -cpu $cpu ..."
        l1_run --cpu "$cpu" --out "$out/$cpu" --run "$out/run-$cpu.sh" "${inject[@]}" ||
            die "matrix: the L1 run on -cpu $cpu failed (console: $out/$cpu/console.log)"
        msg "matrix: -cpu $cpu done in $((SECONDS - t0)) s"
    done
    python3 "$BARLAB_ROOT/scripts/matrix.py" report "$out" "$BARLAB_MT" "${rules[@]}" || rc=$?
    [ "$rc" -le 1 ] || die "matrix: the report could not be made"
    cells=$(grep -c . "$out/oracle.jsonl")
    printf 'matrix: %d s wall for %d cells (%s s a cell, builds included)\n' "$((SECONDS - start))" \
        "$cells" "$(awk -v t=$((SECONDS - start)) -v n="$cells" 'BEGIN { printf "%.2f", t / n }')"
    return "$rc"
}
