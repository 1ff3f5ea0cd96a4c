# SPDX-License-Identifier: GPL-2.0-or-later
# /run.sh of the full-stack L2 guest: Linux under Debian's
# qemu-system-aarch64 with KVM in L1, barlab-nic and barlab-gpu passed
# through by vfio-pci.  /init (target-tests/l1/init, booted with
# barlab.bind=none) runs it.  It runs the steps named on the kernel
# command line, in order, each framed by two lines the L1 side
# (target-tests/fullstack/l1-run.sh) reads:
#
#   fullstack: begin STEP
#   fullstack: result STEP OUTCOME [KEY=VALUE...]
#
# A step that kills the VM leaves a "begin" without a "result"; L1 then
# boots a new L2 for the steps after it.
#
# Kernel command line:
#   fullstack.steps=S1,S2,...   the steps (see fs_step below)
#   fullstack.hold=1            stay up after the last step, so that the
#                               host can take a screendump of what L2 drew
#                               and read the devices' counters before
#                               vfio-pci resets them
#   fullstack.MODULE=P=V,...    parameters for guest-drivers' MODULE
#                               (e.g. fullstack.barlab_nic=doorbell_wmb=0)
#
# The step "run" runs a user's program that `barlab fullstack --run` put
# in $RUN_DIR (an extra initramfs): bin/ the program (its libraries at
# their own paths), modules/ the user's modules, and the files program
# (its path), timeout (seconds), args (one argument a line) and
# modules.list (the .ko paths to load first, in order).

. /lib/barlab/l1.sh

MODULES=/lib/modules/barlab
RUN_DIR=/opt/barlab/run
WIDTH=640
HEIGHT=480
PING_COUNT=3

fs_say() { echo "fullstack: $*"; }

# The step being run and when it began (for fs_result).
step=
step_start=

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# fs_result OUTCOME [KEY=VALUE...]: the current step's result line, with
# its duration in seconds.
fs_result() {
    fs_say "result $step $* s=$(awk -v a="$step_start" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }')"
}

# fs_cmdline KEY: the value of KEY=VALUE on the kernel command line.
fs_cmdline() {
    tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -n 1
}

# fs_module MODULE: load MODULE with its parameters from the command line.
fs_module() {
    # shellcheck disable=SC2046 # one word per parameter
    grep -q "^$1 " /proc/modules ||
        insmod "$MODULES/$1.ko" $(fs_cmdline "fullstack.$1" | tr ',' ' ')
}

# The NIC driver's write-combining self-test (run at probe): its verdict,
# how many push copies ran inline, and how long it took.
step_wc() {
    local nic verdict inline us
    fs_module barlab_nic || { fs_result failed insmod; return; }
    nic=$(bl_find $BL_NIC) || { fs_result failed no-device; return; }
    verdict=$(cat "/sys/bus/pci/devices/$nic/wc") || { fs_result failed no-attribute; return; }
    inline=$(cat "/sys/bus/pci/devices/$nic/wc_inline")
    us=$(dmesg | sed -n 's/.*write-combining: .* push copies ran inline, \([0-9]*\) us).*/\1/p' |
        tail -n 1)
    # "not supported" -> not-supported, "unknown (timeout)" -> unknown-timeout
    fs_result "$(echo "$verdict" | tr -d '()' | tr ' ' -)" inline="$inline" us="${us:-?}"
}

# Traffic through the passed-through NIC to the slirp of barlab's QEMU
# (L0): ping its gateway; the interface counters count the frames.  The
# outcome is ok, or lost when no reply came back (a result, as a TX path
# that lost its descriptors gives).
step_ping() {
    local nic dev replies stats outcome=lost
    fs_module barlab_nic || { fs_result failed insmod; return; }
    nic=$(bl_find $BL_NIC) || { fs_result failed no-device; return; }
    dev=$(ls "/sys/bus/pci/devices/$nic/net" 2>/dev/null | head -n 1)
    [ -n "$dev" ] || { fs_result failed no-netdev; return; }
    ip link set "$dev" up && ip addr add 10.0.2.15/24 dev "$dev" ||
        { fs_result failed ip; return; }
    ping -c $PING_COUNT -W 2 10.0.2.2 >/tmp/ping.out 2>&1
    cat /tmp/ping.out
    replies=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.out)
    [ "${replies:-0}" -eq 0 ] || outcome=ok
    stats=/sys/class/net/$dev/statistics
    fs_result $outcome replies="${replies:-0}/$PING_COUNT" \
        tx="$(cat "$stats/tx_packets")" rx="$(cat "$stats/rx_packets")"
}

gpu_resource() {
    echo "/sys/bus/pci/devices/$(bl_find $BL_GPU)/resource2_wc"
}

# step_fbdraw ARGS: fbdraw with ARGS through sysfs resource2_wc or
# /dev/fb0 (both Normal-NC at stage 1).  Its output goes to a file and
# only the lines that are not "odd ...: ok" reach the console: each byte
# on L2's serial console is a trap to L1's QEMU, and the 2144 lines of a
# complete --odd run cost 35 s there.  fbdraw exits 0 if everything read
# back right, 1 on mismatches, 2 on errors; 135 is 128 + SIGBUS, and then
# the kernel's "unhandled exception" line says which fault and where.
step_fbdraw() {
    local rc=0 ops="" fault
    fs_module barlab_gpu || { fs_result failed insmod; return; }
    fbdraw "$@" >/tmp/fbdraw.out 2>&1 || rc=$?
    grep -v '^odd .*: ok$' /tmp/fbdraw.out
    [ "$1" != --odd ] || ops="ops-ok=$(grep -c '^odd .*: ok$' /tmp/fbdraw.out)"
    case $rc in
    0) fs_result ok $ops ;;
    1) fs_result mismatch $ops ;;
    135)
        fault=$(fs_fault fbdraw)
        fs_result sigbus "fault=${fault:-?}" ;;
    *) fs_result failed status=$rc $ops ;;
    esac
}

# fs_fault PROGRAM: the kernel's "unhandled exception" line for PROGRAM's
# fatal fault, as one word (which fault and where).
fs_fault() {
    dmesg | grep "$1.*unhandled exception" | tail -n 1 |
        sed "s/.*unhandled exception: //; s/ in $1.*//" | tr ' ' _
}

# The user's program, after the user's modules, with the paths of the
# BAR mappings in its environment and its output on the console.  It is
# killed when its time is up (a watchdog, so that the outcome is a
# result, not a lost L2 boot).  Outcomes: exit status=N, signal
# signal=NAME [fault=...], timeout limit=S; failed WHY if it could not
# be started.
step_run() {
    local gpu prog m name mods="" limit pid watchdog rc=0 a
    [ -f $RUN_DIR/program ] || { fs_result failed no-program; return; }
    fs_module barlab_gpu || { fs_result failed insmod; return; }
    gpu=$(bl_find $BL_GPU) || { fs_result failed no-device; return; }
    while read -r m; do
        name=$(basename "$m" .ko)
        grep -q "^$name " /proc/modules || insmod "$m" ||
            { fs_result failed insmod-"$name"; return; }
        mods="$mods${mods:+,}$name"
    done <$RUN_DIR/modules.list
    # For the host, should the program kill the VM before its result.
    fs_say "run-modules ${mods:--}"
    export BARLAB_RESOURCE2_WC=/sys/bus/pci/devices/$gpu/resource2_wc
    export BARLAB_RESOURCE0=/sys/bus/pci/devices/$gpu/resource0
    export BARLAB_FB0=/dev/fb0
    prog=$(cat $RUN_DIR/program)
    limit=$(cat $RUN_DIR/timeout)
    set --
    while IFS= read -r a; do set -- "$@" "$a"; done <$RUN_DIR/args
    rm -f /tmp/run.timeout
    "$prog" "$@" </dev/null &
    pid=$!
    (sleep "$limit" && touch /tmp/run.timeout && kill -KILL $pid) 2>/dev/null &
    watchdog=$!
    wait $pid || rc=$?
    kill $watchdog 2>/dev/null
    if [ -e /tmp/run.timeout ]; then
        fs_result timeout limit="$limit" modules="${mods:--}"
    elif [ $rc -gt 128 ]; then
        fs_result signal signal="$(kill -l $((rc - 128)))" \
            fault="$(fs_fault "$(basename "$prog" | cut -c1-15)" | grep . || echo -)" modules="${mods:--}"
    else
        fs_result exit status=$rc modules="${mods:--}"
    fi
}

fs_step() {
    case $1 in
    run) step_run ;;
    wc) step_wc ;;
    ping) step_ping ;;
    draw-res) step_fbdraw --resource "$(gpu_resource)" --width $WIDTH --height $HEIGHT ;;
    draw-fb0)
        # Clear the frame through write(2) first, so that the picture
        # the host sees can only come from this mmap.
        fs_module barlab_gpu &&
            dd if=/dev/zero of=/dev/fb0 bs=$((WIDTH * 4)) count=$HEIGHT 2>/dev/null
        step_fbdraw ;;
    odd-res) step_fbdraw --odd --resource "$(gpu_resource)" --width $WIDTH --height $HEIGHT ;;
    odd-fb0) step_fbdraw --odd ;;
    *) fs_result failed unknown-step ;;
    esac
}

# arm64 logs a user process's fatal fault only when asked to.
echo 1 >/proc/sys/debug/exception-trace
for step in $(fs_cmdline fullstack.steps | tr ',' ' '); do
    fs_say "begin $step"
    step_start=$(uptime_s)
    fs_step "$step"
done
[ "$(fs_cmdline fullstack.hold)" != 1 ] || touch /tmp/.barlab-hold
exit 0
