# SPDX-License-Identifier: GPL-2.0-or-later
# Shell functions for scripts that run inside barlab's L1 host (busybox
# sh).  /init sources this file; a test script run as /run.sh can too:
#   . /lib/barlab/l1.sh

# BL_NIC and BL_GPU: the devices' PCI IDs, VENDOR:DEVICE.
. /lib/barlab/pci-ids.sh

# bl_say TEXT: a line the host side reads ("barlab-l1: TEXT").
bl_say() { echo "barlab-l1: $*"; }

# bl_fail TEXT: report a failure and exit the script with status 1.
bl_fail() { bl_say "FAIL $*"; exit 1; }

# bl_find VENDOR:DEVICE: the PCI address of the first such device.
bl_find() {
    local d
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/vendor"):$(cat "$d/device")" = "0x${1%%:*}:0x${1##*:}" ] || continue
        echo "${d##*/}"
        return 0
    done
    return 1
}

# bl_driver BDF: the driver a device is bound to, or "none".
bl_driver() {
    local l
    l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) || { echo none; return; }
    echo "${l##*/}"
}

# bl_bind BDF DRIVER: bind the device to DRIVER (vfio-pci, barlab_nic,
# barlab_gpu), unbinding it from its current driver first.
bl_bind() {
    local d=/sys/bus/pci/devices/$1
    [ -d "$d" ] || { echo "bl_bind: no PCI device $1" >&2; return 1; }
    [ "$(bl_driver "$1")" != "$2" ] || return 0
    [ ! -e "$d/driver" ] || echo "$1" >"$d/driver/unbind"
    echo "$2" >"$d/driver_override"
    echo "$1" >/sys/bus/pci/drivers_probe
    [ "$(bl_driver "$1")" = "$2" ] || { echo "bl_bind: $1 did not bind to $2" >&2; return 1; }
}

# bl_bind_all DRIVER: both barlab devices to DRIVER.
bl_bind_all() {
    local id bdf
    for id in $BL_NIC $BL_GPU; do
        bdf=$(bl_find $id) || { bl_say "device $id absent"; continue; }
        if bl_bind "$bdf" "$1"; then
            bl_say "device $id $bdf bound to $1"
        else
            bl_say "device $id $bdf NOT bound to $1"
        fi
    done
}

# bl_policy [VALUE]: print (or set, then print) vfio-pci's stage-2 policy.
bl_policy() {
    local f=/sys/module/vfio_pci_core/parameters/bar_memtype
    if [ $# -gt 0 ]; then
        echo "$1" >"$f" || return 1
    fi
    cat "$f"
}

# bl_inject_align [Y|N]: print (or set) KVM's stage-2 alignment fault
# injection.
bl_inject_align() {
    local f=/sys/module/kvm/parameters/inject_s2_alignment_fault
    if [ $# -gt 0 ]; then
        echo "$1" >"$f" || return 1
    fi
    cat "$f"
}

# bl_kvm_mode: how KVM runs, from its banner: "vhe" (the kernel at EL2),
# "nvhe" (a small hypervisor at EL2, the kernel at EL1; no FEAT_VHE, or
# kvm-arm.mode=nvhe), "hvhe" (nVHE with HCR_EL2.E2H set), "protected-nvhe"
# or "protected-hvhe" (kvm-arm.mode=protected: pKVM), "none" (no
# /dev/kvm).
bl_kvm_mode() {
    [ -e /dev/kvm ] || { echo none; return; }
    case $(dmesg | grep -o '[A-Za-z ]*VHE mode initialized successfully' | tail -n 1) in
    *"Protected hVHE"*) echo protected-hvhe ;;
    *"Protected nVHE"*) echo protected-nvhe ;;
    *hVHE*) echo hvhe ;;
    *nVHE*) echo nvhe ;;
    *VHE*) echo vhe ;;
    *) echo unknown ;;
    esac
}

# bl_cpu_features: the CPU features that decide how KVM may map a BAR at
# stage 2, as the kernel detected them: "fwb" (FEAT_S2FWB) and "dic"
# (CTR_EL0.DIC), space-separated; "none" if neither.
bl_cpu_features() {
    local f=""
    dmesg | grep -q 'detected: Stage-2 Force Write-Back' && f="fwb"
    dmesg | grep -q 'detected: Instruction cache invalidation not required' && f="${f:+$f }dic"
    echo "${f:-none}"
}

# bl_report: what this L1 host is, one line each.  The stage-2 knobs mean
# something only where KVM runs (the same initramfs boots as an L2 guest,
# which has no KVM).
bl_report() {
    local kvm
    kvm=$(bl_kvm_mode)
    bl_say "kernel $(uname -r)"
    bl_say "kvm $kvm"
    [ "$kvm" != none ] || return 0
    bl_say "cpu-features $(bl_cpu_features)"
    bl_say "policy $(bl_policy 2>/dev/null || echo unavailable)"
    bl_say "inject-align $(bl_inject_align 2>/dev/null || echo unavailable)"
}

# bl_screendump NAME: ask the host for a QMP screendump, saved as NAME.png
# in the run's output directory once this script has ended.
bl_screendump() {
    touch /tmp/.barlab-hold
    bl_say "screendump $1"
}

# bl_devices NAME: ask the host for a snapshot of barlab's devices (their
# settable QOM properties, port mode, ..., and their counters), saved as
# NAME.json in the run's output directory once this script has ended.
bl_devices() {
    touch /tmp/.barlab-hold
    bl_say "devices $1"
}

# bl_trace_on EVENT...: enable tracepoints (e.g. kvm/kvm_s2_map_device).
bl_trace_on() {
    local e
    for e in "$@"; do
        echo 1 >"/sys/kernel/tracing/events/$e/enable" || return 1
    done
}
