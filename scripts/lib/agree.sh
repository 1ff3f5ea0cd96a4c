# SPDX-License-Identifier: GPL-2.0-or-later
# The end-to-end agreement test (docs/agreement.md): boot the
# agree payload on QEMU's virt board at EL2, then compare its UART log and
# the device trace with hw/memtype's predictions (barlab-agree).
# Sourced after common.sh, apt.sh, payloads.sh (and qemu.sh to find the
# built QEMU), never executed.
#
# Environment:
#   BARLAB_QEMU            qemu-system-aarch64 to use (default: qemu_binary_path)
#   BARLAB_AGREE_DEVICE    auto (default): barlab-gpu if this QEMU has it,
#                          else pci-testdev; or gpu, or testdev
#   BARLAB_AGREE_GPU_OPTS  extra barlab-gpu properties, e.g. port-mode=exact
#   BARLAB_AGREE_SMP       vCPUs (default 2: with one, TCG translates in
#                          serial mode, which changes Device alignment checks)
#   BARLAB_AGREE_TIMEOUT   seconds before QEMU is killed (default 300)
#   BARLAB_AGREE_TOOL      barlab-agree (default: the core build's)

# _agree_device QEMU: gpu or testdev.
_agree_device() {
    local want=${BARLAB_AGREE_DEVICE:-auto}
    case $want in
    gpu | testdev) echo "$want" ;;
    auto)
        if "$1" -M virt -device help 2>/dev/null | grep -q '"barlab-gpu"'; then
            echo gpu
        else
            echo testdev
        fi
        ;;
    *) die "BARLAB_AGREE_DEVICE must be auto, gpu or testdev, not '$want'" ;;
    esac
}

# _agree_tail TITLE FILE: the last 20 lines of FILE, indented, on stderr.
_agree_tail() {
    [ -s "$2" ] || return 0
    msg "$1 ($2), last lines:"
    tail -n 20 "$2" | sed 's/^/    /' >&2
}

# _agree_ms: a monotonic-enough clock in milliseconds.
_agree_ms() {
    echo $(($(date +%s%N) / 1000000))
}

_agree_secs() {
    printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100))
}

# agree_run CPU [OUTDIR [QEMU]]: run the agreement payload on -cpu CPU with
# its console log (console.log), QEMU's own messages (qemu.log), the
# device trace (trace.bin) and the full barlab-agree report (agree.txt) in
# OUTDIR (default $BARLAB_BUILD/agree/CPU).  Prints the disagreement
# classes and the agreement figure; returns barlab-agree's status (0 when
# every cell agrees), or non-zero if QEMU failed or timed out.
agree_run() {
    local cpu=${1:-} out=${2:-} qemu=${3:-${BARLAB_QEMU:-}}
    local smp=${BARLAB_AGREE_SMP:-2} limit=${BARLAB_AGREE_TIMEOUT:-300}
    local tool=${BARLAB_AGREE_TOOL:-$BARLAB_BUILD/core/tools/barlab-agree}
    local payload device t0 t1 t2 rc=0 arc=0
    local -a devargs checkargs

    [ -n "$cpu" ] || die "agree_run: usage: agree_run CPU [OUTDIR [QEMU]]"
    out=${out:-$BARLAB_BUILD/agree/$cpu}
    if [ -z "$qemu" ] && declare -F qemu_binary_path >/dev/null; then
        qemu=$(qemu_binary_path) || qemu=
    fi
    [ -n "$qemu" ] || die "agree: no QEMU: pass its path, set BARLAB_QEMU, or build it first"
    [ -x "$qemu" ] || die "agree: $qemu is not an executable"
    [ -x "$tool" ] || die "agree: $tool is not built (scripts/barlab build)"
    payload=$(payloads_path agree) || die "agree: the agree payload is not built"

    mkdir -p "$out" || die "agree: cannot create $out"
    rm -f "$out/console.log" "$out/qemu.log" "$out/trace.bin" "$out/agree.txt"
    device=$(_agree_device "$qemu")
    if [ "$device" = gpu ]; then
        devargs=(-device "barlab-gpu,trace=$out/trace.bin${BARLAB_AGREE_GPU_OPTS:+,$BARLAB_AGREE_GPU_OPTS}")
        checkargs=("$out/console.log" "$out/trace.bin")
    else
        # Same layout as barlab-gpu's VRAM: BAR2, 64-bit prefetchable, 16 MiB.
        # It has no memory-type trace: check the faults only.
        msg "agree: this QEMU has no barlab-gpu: using pci-testdev, faults only (--no-trace)"
        devargs=(-device pci-testdev,membar=16M
            -append "vendor=0x1b36 device=0x0005 bar=2")
        checkargs=(--no-trace "$out/console.log")
    fi

    msg "agree: -cpu $cpu -smp $smp, $device, output in $out"
    t0=$(_agree_ms)
    timeout "$limit" "$qemu" -M virt,virtualization=on,gic-version=3 \
        -cpu "$cpu" -smp "$smp" -m 256M -nodefaults -display none \
        -monitor none -serial "file:$out/console.log" \
        -kernel "$payload" "${devargs[@]}" >"$out/qemu.log" 2>&1 || rc=$?
    t1=$(_agree_ms)
    if [ "$rc" -ne 0 ]; then
        if [ "$rc" -eq 124 ]; then
            msg "agree: QEMU timed out after ${limit}s (-cpu $cpu)"
        else
            msg "agree: QEMU failed with exit status $rc (-cpu $cpu)"
        fi
        _agree_tail "QEMU said" "$out/qemu.log"
        _agree_tail "console" "$out/console.log"
        return "$rc"
    fi
    if [ "$device" = gpu ] && [ ! -f "$out/trace.bin" ]; then
        _agree_tail "QEMU said" "$out/qemu.log"
        die "agree: QEMU exited but wrote no device trace ($out/trace.bin)"
    fi

    "$tool" "${checkargs[@]}" >"$out/agree.txt" || arc=$?
    t2=$(_agree_ms)
    if [ "$arc" -ge 2 ]; then
        cat "$out/agree.txt" >&2
        _agree_tail "console" "$out/console.log"
        msg "agree: barlab-agree could not read this run (exit $arc)"
        return "$arc"
    fi
    # The disagreement lines can number thousands: show the first few,
    # then the classes and the figure; agree.txt has everything.
    awk -v file="$out/agree.txt" '
        /^disagree:/ { if (++n <= 10) print; next }
        /^reserved:/ { next }
        { if (n > 10 && !told) { printf "... %d more disagreements in %s\n", n - 10, file; told = 1 } print }
    ' "$out/agree.txt"
    msg "agree: -cpu $cpu: QEMU $(_agree_secs $((t1 - t0))) s, barlab-agree $(_agree_secs $((t2 - t1))) s wall"
    return "$arc"
}
