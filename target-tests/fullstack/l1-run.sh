# SPDX-License-Identifier: GPL-2.0-or-later
# The L1 side of `barlab fullstack` (barlab.fullstack appends this
# to a few settings and runs it as /run.sh in L1).  It boots a full L2
# Linux under Debian's qemu-system-aarch64 with KVM, barlab-nic and
# barlab-gpu passed through with -device vfio-pci, so that vfio-pci's
# stage-2 policy (set on L1's command line) applies to their BARs.  The
# L2 guest runs target-tests/fullstack/l2-run.sh.
#
# A step that kills the L2 VM (KVM_RUN fails: QEMU says "kvm run failed"
# and stops the VM) is recorded as vm-death, and a new L2 boots for the
# steps after it.  Lines for the host:
#
#   fullstack: result STEP OUTCOME [KEY=VALUE...]
#   fullstack: l2-boot N end=HOW ready=S wall=S steps=S1,S2
#   fullstack: s2 DEV-barN TYPE[,TYPE]     the stage-2 memory types L1 KVM
#                                          installed for that BAR
#   fullstack: s2-fwb yes|no               whether they were FWB encodings
#   l2: ...                                the L2 QEMU's output, after each boot
#
# Settings (set before this text): FS_STEPS (space-separated), FS_DEVICES
# (1: pass barlab-nic and barlab-gpu through, keep the last L2 up and ask
# the host for a snapshot "devices" of their counters, 0: none), FS_PICTURE
# (1: keep the last L2 up and ask the host for a screendump "fullstack"),
# FS_L2_TIMEOUT (seconds per L2 boot), FS_NIC_PARAMS (NAME=VALUE ...: the
# barlab_nic module's parameters in L2).
#
# With a user's program (`barlab fullstack --run`) the host adds
# $L2_DIR/user.cpio.gz: the program, its libraries and modules for L2's
# /opt/barlab/run, which L2 gets after its own initramfs.

. /lib/barlab/l1.sh

L2_DIR=/lib/barlab/fullstack
L2_APPEND="console=ttyAMA0 loglevel=4 panic=-1 barlab.bind=none"
L2_INITRD=$L2_DIR/initrd.gz
if [ -f $L2_DIR/user.cpio.gz ]; then
    # Concatenated gzip'd cpio archives: the kernel unpacks them in order.
    cat $L2_DIR/initrd.gz $L2_DIR/user.cpio.gz >/tmp/l2-initrd.gz
    L2_INITRD=/tmp/l2-initrd.gz
fi

fs_say() { echo "fullstack: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }'; }

# l2_boot N STEPS HOLD: boot L2 number N for the comma-separated STEPS
# and wait until it ends, holds (HOLD=1: stays up after its script), dies
# or times out.  Sets l2_end (exit, held, vm-death, timeout, died) and
# l2_log (its output, carriage returns removed).
l2_boot() {
    local n=$1 steps=$2 hold=$3 raw=/tmp/l2-$1.raw pid t0 ready=- devices="" nic_params=""
    l2_log=/tmp/l2-$n.log
    if [ "$FS_DEVICES" = 1 ]; then
        devices="-device vfio-pci,host=$nic -device vfio-pci,host=$gpu"
    fi
    [ -z "$FS_NIC_PARAMS" ] || nic_params=" fullstack.barlab_nic=$(echo "$FS_NIC_PARAMS" | tr ' ' ,)"
    t0=$(uptime_s)
    # shellcheck disable=SC2086 # $devices is a list of options
    timeout "$FS_L2_TIMEOUT" qemu-system-aarch64 -M virt,gic-version=3 \
        -cpu host -enable-kvm -smp 1 -m 256M -nodefaults -display none \
        -no-reboot -serial stdio -monitor none \
        -kernel $L2_DIR/Image -initrd $L2_INITRD \
        -append "$L2_APPEND fullstack.steps=$steps fullstack.hold=$hold$nic_params" \
        $devices >"$raw" 2>&1 </dev/null &
    pid=$!
    l2_end=
    while kill -0 $pid 2>/dev/null; do
        if [ "$ready" = - ] && grep -q '^barlab-l1: ready' "$raw"; then
            ready=$(elapsed "$t0")
        fi
        if grep -q 'kvm run failed' "$raw"; then
            # QEMU stops the VM and waits; give it time to dump the
            # vCPU's registers, then end it.
            sleep 1
            kill $pid
            l2_end=vm-death
            break
        fi
        if grep -q '^barlab-l1: exit .*(holding)' "$raw"; then
            l2_end=held
            break
        fi
        sleep 0.1
    done
    [ "$l2_end" = held ] || wait $pid
    tr -d '\r' <"$raw" >"$l2_log"
    if [ -z "$l2_end" ]; then
        if grep -q '^barlab-l1: exit' "$l2_log"; then
            l2_end="exit"
        elif [ "$(awk -v w="$(elapsed "$t0")" -v t="$FS_L2_TIMEOUT" 'BEGIN { print (w >= t) }')" = 1 ]; then
            l2_end=timeout
        else
            l2_end=died
        fi
    fi
    sed 's/^/l2: /' "$l2_log"
    fs_say "l2-boot $n end=$l2_end ready=$ready wall=$(elapsed "$t0") steps=$steps"
}

# l2_death_detail: what QEMU and L1's KVM said about a dead L2, as
# KEY=VALUE words: QEMU's message, the vCPU's PC and exception level from
# its register dump, and the last KVM complaint in L1's kernel log.
l2_death_detail() {
    local said pc el kvm
    said=$({ grep -m 1 'kvm run failed' "$l2_log" || grep -m 1 '^qemu-system-aarch64:' "$l2_log"; } |
        sed 's/^qemu-system-aarch64: //; s/^error: //' | tr ' ' _)
    pc=$(sed -n 's/^ *PC=\([0-9a-f]*\) .*/\1/p' "$l2_log" | head -n 1)
    el=$(sed -n 's/^PSTATE=.* \(EL[0-3][th]\) .*/\1/p' "$l2_log" | head -n 1)
    kvm=$(dmesg | grep 'kvm .*Unsupported FSC' | tail -n 1 | sed 's/.*Unsupported FSC: //' | tr ' ' _)
    echo "qemu=${said:-none} pc=${pc:-?} el=${el:-?} l1-kvm=${kvm:-none}"
}

# s2_report: the stage-2 memory types L1 KVM gave each BAR of the
# passed-through devices (kvm_s2_map_device lines whose PA is in the BAR,
# "unmapped" if the guest never touched it): the policy seen from L1.
s2_report() {
    local dev bdf bar start end types
    for dev in nic:$nic gpu:$gpu; do
        bdf=${dev#*:}
        bar=0
        while read -r start end _; do
            if [ $((start)) != 0 ]; then
                types=$(awk -v lo=$((start)) -v hi=$((end)) '
                    / kvm_s2_map_device: / {
                        for (i = 1; i < NF; i++) if ($i == "pa") pa = $(i + 1) + 0
                        t = $NF == "(FWB)" ? $(NF - 1) : $NF
                        if (pa >= lo && pa <= hi) seen[t] = 1
                    }
                    END { for (t in seen) printf "%s%s", (n++ ? "," : ""), t }' \
                    /sys/kernel/tracing/trace)
                fs_say "s2 ${dev%%:*}-bar$bar ${types:-unmapped}"
            fi
            bar=$((bar + 1))
            [ $bar -lt 6 ] || break
        done <"/sys/bus/pci/devices/$bdf/resource"
    done
    if grep -q 'kvm_s2_map_device: .*(FWB)' /sys/kernel/tracing/trace; then
        fs_say "s2-fwb yes"
    else
        fs_say "s2-fwb no"
    fi
}

nic=$(bl_find $BL_NIC) || bl_fail "no barlab-nic in L1"
gpu=$(bl_find $BL_GPU) || bl_fail "no barlab-gpu in L1"
[ "$FS_DEVICES" = 0 ] || [ "$(bl_driver "$nic")/$(bl_driver "$gpu")" = vfio-pci/vfio-pci ] ||
    bl_fail "barlab-nic and barlab-gpu are not bound to vfio-pci"
qemu-system-aarch64 --version | head -n 1 | sed 's/^/fullstack: vmm /'
bl_trace_on kvm/kvm_s2_map_device || fs_say "no kvm_s2_map_device tracepoint"

# Boot L2 until every step has a result.  A step that L2 began but did
# not finish is where it ended (vm-death, timeout, died); the steps after
# it go to the next boot.  Every boot must finish or end in a step, so
# the loop ends; a boot that reaches no step (L2 did not come up) ends it
# with the remaining steps not run.
remaining=$FS_STEPS
# The last L2 stays up for the screendump, and for the snapshot of the
# devices' counters: vfio-pci resets a device when the VMM releases it
# (and when the next one opens it), so the counters are those of the last
# L2 boot, read before it ends.
hold=0
[ "$FS_PICTURE" != 1 ] && [ "$FS_DEVICES" != 1 ] || hold=1
n=0
while :; do
    n=$((n + 1))
    l2_boot $n "$(echo $remaining | tr ' ' ,)" $hold
    next=
    # none: no step reached yet; finished: the last step seen finished;
    # over: L2 ended; the rest waits for the next boot.
    progress=none
    for step in $remaining; do
        if [ $progress = over ]; then
            next="$next $step"
        elif grep "^fullstack: result $step " "$l2_log"; then
            progress=finished
        elif grep -q "^fullstack: begin $step\$" "$l2_log"; then
            fs_say "result $step $l2_end $(l2_death_detail)"
            progress=over
        elif [ $progress = finished ]; then
            # L2 ended between two steps: run this one again.
            next="$next $step"
            progress=over
        else
            fs_say "result $step not-run l2=$l2_end"
        fi
    done
    [ -n "$next" ] || break
    remaining=$next
done
fs_say "boots $n"
[ "$FS_DEVICES" = 0 ] || s2_report
[ "$FS_DEVICES" = 0 ] || bl_devices devices
[ "$FS_PICTURE" != 1 ] || bl_screendump fullstack
exit 0
