# SPDX-License-Identifier: GPL-2.0-or-later
# Boot barlab's L1 host: barlab's QEMU (TCG, EL2, GICv3, SMMUv3) with
# barlab-nic on libslirp and barlab-gpu, the L1 kernel and initramfs, and
# optionally a script run inside L1.  Sourced after common.sh, qemu.sh,
# kernel.sh and initramfs.sh, never executed.  The guest side is
# target-tests/l1; the console protocol is in scripts/l1run.py.

L1_TIMEOUT=${L1_TIMEOUT:-300}

# l1_machine_args CPU: the machine every L1 run uses.  pauth-impdef: QEMU's
# fast pointer-authentication algorithm (the architected one dominates
# TCG time); it changes nothing about memory types.  -no-reboot: a panic
# (panic=-1) ends QEMU instead of booting again.
l1_machine_args() {
    local cpu=$1
    case $cpu in
    max) cpu=max,pauth-impdef=on ;;
    esac
    printf '%s\n' -M virt,virtualization=on,gic-version=3,iommu=smmuv3 \
        -cpu "$cpu" -smp 2 -m 1G -nodefaults -display none -no-reboot
}

# _l1_initrd BASE EXTRA SCRIPT OUT: BASE, then the cpio EXTRA (may be
# empty: none; uncompressed is fine, it is 4-byte aligned here), then
# SCRIPT (may be empty) as /run.sh: the kernel unpacks concatenated cpio
# archives in order.
_l1_initrd() {
    local base=$1 extra=$2 script=$3 out=$4 tmp size
    {
        cat "$base"
        if [ -n "$extra" ]; then
            size=$(stat -c %s "$base")
            head -c $(((4 - size % 4) % 4)) /dev/zero
            cat "$extra"
        fi
        if [ -n "$script" ]; then
            tmp=$(mktemp -d)
            install -m 755 "$script" "$tmp/run.sh"
            (cd "$tmp" && echo run.sh | cpio -o -H newc -R 0:0 --quiet | gzip -n -1)
            rm -rf "$tmp"
        fi
    } >"$out"
}

usage_boot() {
    cat <<'USAGE'
usage: scripts/barlab boot [options] [-- QEMU-ARGS...]
boot the L1 host on barlab's QEMU with barlab-nic and barlab-gpu, run a script in it
The exit status is the script's (124: timeout, 125: QEMU or the guest
died before the script ended).
  --cpu CPU           QEMU CPU model ('barlab-mt cpus'; max: FWB,
                      neoverse-n1: no FWB)
  --policy P          vfio-pci's stage-2 policy ('barlab-mt policies')
  --kernel-patches [+]DIR
                      boot the kernel of the git format-patch series in
                      DIR instead of kernel-patches/ (+DIR: on top of it),
                      built first (docs/kernel-patches.md)
  --kvm-mode M        kvm-arm.mode: nvhe (the kernel at EL1 under a small
                      hypervisor, on any CPU) or protected (pKVM); default:
                      VHE where the CPU has it (not cortex-a57)
  --inject-align      KVM injects stage-2 alignment faults into guests
  --bind vfio|none    bind barlab's devices to vfio-pci (default) or not
  --run SCRIPT        run SCRIPT (busybox sh) inside L1 as /run.sh; it may
                      source /lib/barlab/l1.sh (target-tests/l1/l1.sh)
  --out DIR           console.log, device traces, screendumps (default: a
                      new directory under build/runs); a new or empty
                      directory, or an earlier boot's; written when the
                      run ends, so an interrupted run leaves DIR as it was
  --timeout S         wall-clock limit in seconds (default 300)
  --echo              copy the console to stderr while it runs
  --initrd-extra CPIO add CPIO to L1's initramfs (after barlab's, before
                      the script)
  --no-devices        boot without barlab-nic and barlab-gpu
  --device-props DEV,PROP=VALUE[,...]
                      more properties for barlab's device DEV (nic or gpu),
                      e.g. nic,port-mode=reorder:7; repeat to add more
  --qemu PATH         another qemu-system-aarch64 (e.g. Debian's)
USAGE
}

# l1_parse CMD [options] [-- QEMU-ARGS...]: check the options of l1_run
# (usage_boot) and set L1_OPT_* from them; a mistake is a usage error of
# CMD.  Builds and starts nothing.
l1_parse() {
    local cmd=$1
    shift
    L1_OPT_CPU=max L1_OPT_POLICY="" L1_OPT_INJECT=N L1_OPT_BIND=vfio L1_OPT_SCRIPT=""
    L1_OPT_OUT="" L1_OPT_TIMEOUT=$L1_TIMEOUT L1_OPT_ECHO=() L1_OPT_DEVICES=1 L1_OPT_QEMU=""
    L1_OPT_EXTRA=() L1_OPT_INITRD_EXTRA="" L1_OPT_KVM_MODE=""
    L1_OPT_NIC_PROPS="" L1_OPT_GPU_PROPS=""
    while [ $# -gt 0 ]; do
        case $1 in
        --cpu) opt_value "$cmd" $# "$1"; L1_OPT_CPU=$2; shift ;;
        --policy) opt_value "$cmd" $# "$1"; L1_OPT_POLICY=$2; shift ;;
        --kernel-patches) opt_value "$cmd" $# "$1"; kernel_patches_use "$cmd" "$2"; shift ;;
        --kvm-mode) opt_value "$cmd" $# "$1"; L1_OPT_KVM_MODE=$2; shift ;;
        --inject-align) L1_OPT_INJECT=Y ;;
        --bind) opt_value "$cmd" $# "$1"; L1_OPT_BIND=$2; shift ;;
        --run) opt_value "$cmd" $# "$1"; L1_OPT_SCRIPT=$2; shift ;;
        --out) opt_value "$cmd" $# "$1"; L1_OPT_OUT=$2; shift ;;
        --timeout) opt_value "$cmd" $# "$1"; L1_OPT_TIMEOUT=$2; shift ;;
        --echo) L1_OPT_ECHO=(--echo) ;;
        --no-devices) L1_OPT_DEVICES=0 ;;
        --initrd-extra) opt_value "$cmd" $# "$1"; L1_OPT_INITRD_EXTRA=$2; shift ;;
        --qemu) opt_value "$cmd" $# "$1"; L1_OPT_QEMU=$2; shift ;;
        --device-props) opt_value "$cmd" $# "$1"; l1_device_props "$cmd" "$2"; shift ;;
        --) shift; L1_OPT_EXTRA=("$@"); break ;;
        *) usage_die "$cmd" "unknown option '$1'" ;;
        esac
        shift
    done
    check_cpu "$cmd" "$L1_OPT_CPU"
    [ -z "$L1_OPT_POLICY" ] || check_policy "$cmd" "$L1_OPT_POLICY"
    [ -z "$L1_OPT_POLICY" ] || kernel_series_policy "$cmd" "$L1_OPT_POLICY"
    check_word "$cmd" --bind "$L1_OPT_BIND" vfio none
    [ -z "$L1_OPT_KVM_MODE" ] || check_word "$cmd" --kvm-mode "$L1_OPT_KVM_MODE" nvhe protected
    [ -z "$L1_OPT_SCRIPT" ] || [ -f "$L1_OPT_SCRIPT" ] || usage_die "$cmd" "no such script: $L1_OPT_SCRIPT"
    [ -z "$L1_OPT_INITRD_EXTRA" ] || [ -f "$L1_OPT_INITRD_EXTRA" ] ||
        usage_die "$cmd" "no such cpio: $L1_OPT_INITRD_EXTRA"
    check_seconds "$cmd" --timeout "$L1_OPT_TIMEOUT"
    [ -z "$L1_OPT_QEMU" ] || [ -x "$L1_OPT_QEMU" ] || usage_die "$cmd" "no QEMU at $L1_OPT_QEMU"
}

# l1_device_props CMD DEV,PROP=VALUE[,...]: add the properties to
# L1_OPT_NIC_PROPS or L1_OPT_GPU_PROPS (",PROP=VALUE..."), for the
# -device options _l1_start writes.  A port mode is checked here, by the
# core's parser; QEMU checks the other values itself.
l1_device_props() {
    local cmd=$1 dev=${2%%,*} props=${2#*,} p
    [[ $2 == *,* ]] && [[ $props =~ ^[a-z][a-z0-9-]*=[^,[:space:]]*(,[a-z][a-z0-9-]*=[^,[:space:]]*)*$ ]] ||
        usage_die "$cmd" "--device-props must be DEV,PROP=VALUE[,...], not '$2'"
    check_word "$cmd" "--device-props device" "$dev" nic gpu
    for p in ${props//,/ }; do
        [[ $p != port-mode=* ]] || check_port_mode "$cmd" --device-props "${p#port-mode=}"
    done
    case $dev in
    nic) L1_OPT_NIC_PROPS+=",$props" ;;
    gpu) L1_OPT_GPU_PROPS+=",$props" ;;
    esac
}

# l1_run [options] [-- QEMU-ARGS...]: boot L1 once (options: usage_boot)
# into the --out directory as it is (the callers own it); sets L1_OUT to
# the output directory.
l1_run() {
    l1_parse boot "$@"
    _l1_prepare
    _l1_start
}

# _l1_prepare: build what l1_run boots.
_l1_prepare() {
    l1_builds
    [ -n "$L1_OPT_QEMU" ] || L1_OPT_QEMU=$(qemu_binary_path)
    [ -x "$L1_OPT_QEMU" ] || die "boot: no QEMU at $L1_OPT_QEMU"
}

# _l1_start: l1_run with the options l1_parse set.
_l1_start() {
    local cpu=$L1_OPT_CPU policy=$L1_OPT_POLICY inject=$L1_OPT_INJECT bind=$L1_OPT_BIND
    local script=$L1_OPT_SCRIPT out=$L1_OPT_OUT timeout=$L1_OPT_TIMEOUT devices=$L1_OPT_DEVICES
    local qemu=$L1_OPT_QEMU initrd_extra=$L1_OPT_INITRD_EXTRA append args=()
    local echo=("${L1_OPT_ECHO[@]}") extra=("${L1_OPT_EXTRA[@]}")
    if [ -z "$out" ]; then
        mkdir -p "$BARLAB_BUILD/runs"
        out=$(mktemp -d "$BARLAB_BUILD/runs/l1-XXXXXX")
    fi
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    L1_OUT=$out
    _l1_initrd "$(initramfs_path)" "$initrd_extra" "$script" "$out/initrd.gz"

    append="console=ttyAMA0 loglevel=4 panic=-1 barlab.bind=$bind"
    append+=" kvm.inject_s2_alignment_fault=$inject"
    [ -z "$policy" ] || [ -n "$KERNEL_SERIES_POLICY" ] || append+=" vfio_pci_core.bar_memtype=$policy"
    [ -z "$L1_OPT_KVM_MODE" ] || append+=" kvm-arm.mode=$L1_OPT_KVM_MODE"
    mapfile -t args < <(l1_machine_args "$cpu")
    args+=(-kernel "$(kernel_image_path)" -initrd "$out/initrd.gz" -append "$append")
    if [ "$devices" = 1 ]; then
        args+=(-netdev user,id=n0
            -device "barlab-nic,netdev=n0,trace=$out/nic.trace$L1_OPT_NIC_PROPS"
            -device "barlab-gpu,trace=$out/gpu.trace,regs-trace=$out/gpu-regs.trace$L1_OPT_GPU_PROPS")
    fi
    python3 "$BARLAB_ROOT/scripts/l1run.py" --qemu "$qemu" --out "$out" \
        --timeout "$timeout" "${echo[@]}" -- "${args[@]}" "${extra[@]}"
}

# cmd_boot ARGS: `barlab boot`: l1_run into a staging directory that
# becomes --out when the run ends (output.sh), then the L1 report and the
# script's output from the console.
cmd_boot() {
    local rc=0
    l1_parse boot "$@"
    [ -n "$L1_OPT_OUT" ] || L1_OPT_OUT=$BARLAB_BUILD/runs/l1-$(date +%Y%m%d-%H%M%S)-$$
    kernel_series_build
    out_open boot boot "$L1_OPT_OUT"
    L1_OPT_OUT=$OUT_STAGE
    cmd_setup
    _l1_prepare
    out_job _l1_start || rc=$?
    if [ ! -f "$OUT_STAGE/console.log" ]; then
        msg "boot: L1 did not start (exit $rc)"
        return $((rc ? rc : 1))
    fi
    rm -f "$OUT_STAGE/qmp.sock"
    out_commit
    if [ -f "$OUT_DIR/console.log" ]; then
        awk '/^barlab-l1: ready/ { script = 1 } script || /^barlab-l1:/' \
            "$OUT_DIR/console.log" | tr -d '\r'
    fi
    msg "boot: L1 ran the kernel of $(kernel_series_label)"
    msg "boot: console, traces and screendumps in $OUT_DIR"
    return "$rc"
}
