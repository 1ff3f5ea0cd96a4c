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

l1_usage() {
    cat <<'USAGE'
usage: scripts/barlab boot [options] [-- QEMU-ARGS...]
Boot the L1 host once; the exit status is the script's (124: timeout,
125: QEMU or the guest died before the script ended).
  --cpu CPU           QEMU CPU model (max: FWB; neoverse-n1: no FWB)
  --policy P          vfio-pci's stage-2 policy: device|prefetchable|any
  --inject-align      KVM injects stage-2 alignment faults into guests
  --bind vfio|none    bind barlab's devices to vfio-pci (default) or not
  --run SCRIPT        run SCRIPT (busybox sh) inside L1 as /run.sh; it may
                      source /lib/barlab/l1.sh (target-tests/l1/l1.sh)
  --out DIR           console.log, device traces, screendumps (default: a
                      new directory under build/runs)
  --timeout S         wall-clock limit in seconds (default 300)
  --echo              copy the console to stderr while it runs
  --initrd-extra CPIO add CPIO to L1's initramfs (after barlab's, before
                      the script)
  --no-devices        boot without barlab-nic and barlab-gpu
  --qemu PATH         another qemu-system-aarch64 (e.g. Debian's)
USAGE
}

# l1_run [options] [-- QEMU-ARGS...]: boot L1 once (options: l1_usage);
# sets L1_OUT to the output directory.
l1_run() {
    local cpu=max policy="" inject=N bind=vfio script="" out="" timeout=$L1_TIMEOUT
    local echo=() devices=1 qemu="" extra=() append args=() initrd_extra=""
    while [ $# -gt 0 ]; do
        case $1 in
        --cpu) need_arg $# "boot: --cpu needs a CPU model"; cpu=$2; shift ;;
        --policy) need_arg $# "boot: --policy needs a value"; policy=$2; shift ;;
        --inject-align) inject=Y ;;
        --bind) need_arg $# "boot: --bind needs vfio or none"; bind=$2; shift ;;
        --run) need_arg $# "boot: --run needs a script"; script=$2; shift ;;
        --out) need_arg $# "boot: --out needs a directory"; out=$2; shift ;;
        --timeout) need_arg $# "boot: --timeout needs seconds"; timeout=$2; shift ;;
        --echo) echo=(--echo) ;;
        --no-devices) devices=0 ;;
        --initrd-extra) need_arg $# "boot: --initrd-extra needs a cpio file"; initrd_extra=$2; shift ;;
        --qemu) need_arg $# "boot: --qemu needs a path"; qemu=$2; shift ;;
        --) shift; extra=("$@"); break ;;
        *) die "boot: unknown option '$1' (see 'barlab boot --help')" ;;
        esac
        shift
    done
    case $policy in
    ""|device|prefetchable|any) ;;
    *) die "boot: --policy must be device, prefetchable or any, not '$policy'" ;;
    esac
    case $bind in vfio|none) ;; *) die "boot: --bind must be vfio or none, not '$bind'" ;; esac
    [ -z "$script" ] || [ -f "$script" ] || die "boot: no such script: $script"
    [ -z "$initrd_extra" ] || [ -f "$initrd_extra" ] || die "boot: no such cpio: $initrd_extra"
    [[ $timeout =~ ^[0-9]+$ ]] || die "boot: --timeout must be a number of seconds"

    qemu_build
    initramfs_build
    [ -n "$qemu" ] || qemu=$(qemu_binary_path)
    [ -x "$qemu" ] || die "boot: no QEMU at $qemu"
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
    [ -z "$policy" ] || append+=" vfio_pci_core.bar_memtype=$policy"
    mapfile -t args < <(l1_machine_args "$cpu")
    args+=(-kernel "$(kernel_image_path)" -initrd "$out/initrd.gz" -append "$append")
    if [ "$devices" = 1 ]; then
        args+=(-netdev user,id=n0 -device "barlab-nic,netdev=n0,trace=$out/nic.trace"
            -device "barlab-gpu,trace=$out/gpu.trace")
    fi
    python3 "$BARLAB_ROOT/scripts/l1run.py" --qemu "$qemu" --out "$out" \
        --timeout "$timeout" "${echo[@]}" -- "${args[@]}" "${extra[@]}"
}

# cmd_boot ARGS: `barlab boot`: l1_run, then the L1 report and the
# script's output from the console.
cmd_boot() {
    local rc=0
    case ${1:-} in
    -h|--help)
        l1_usage
        return 0 ;;
    esac
    cmd_setup
    l1_run "$@" || rc=$?
    if [ -f "$L1_OUT/console.log" ]; then
        awk '/^barlab-l1: ready/ { script = 1 } script || /^barlab-l1:/' \
            "$L1_OUT/console.log" | tr -d '\r'
    fi
    msg "boot: console, traces and screendumps in $L1_OUT"
    return "$rc"
}
