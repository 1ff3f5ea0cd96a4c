#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Frames per second through barlab-nic's two TX paths and QEMU's e1000,
# sending the same frame (nic.c's 42-byte ARP request for 10.0.2.2) with
# the nicbench payload, measured in one run:
#   - inline:   8 STRs to a Normal-NC push slot, one 64-byte transaction,
#   - fallback: the same 8 STRs through a Device-nGnRE alias: a doorbell
#               and a DMA fetch of the ring descriptor,
#   - e1000:    QEMU's e1000 (legacy TX descriptors, one TDT write a frame):
#               the baseline.
# Each path: wall time from QEMU start to exit, best of RUNS, minus the
# same boot with frames=0; -netdev user (slirp; it answers the ARP
# requests; it does not throttle: -netdev hubport to nowhere measured the
# same within 3%).  No filter-dump in the timed runs (it costs more than the
# sends themselves); a separate run of CHECK_FRAMES frames per path writes
# a pcap (every frame must be the same, on every path) and, for the barlab
# paths, reads the device's counters over QMP for the transactions a frame.
# Usage: bench/nic-frames.sh QEMU PAYLOAD_DIR [FRAMES]   (RUNS=3 in env)
set -euo pipefail
usage="usage: bench/nic-frames.sh QEMU PAYLOAD_DIR [FRAMES]"
qemu=${1:?$usage}
payload=${2:?$usage}/nicbench.elf
frames=${3:-500000}
runs=${RUNS:-3}
check_frames=${CHECK_FRAMES:-1000}
mac=52:54:00:12:34:56
[[ $frames =~ ^[1-9][0-9]*$ ]] || { echo "bench nic-frames: FRAMES must be a positive number, not '$frames'" >&2; exit 2; }
[ -x "$qemu" ] || { echo "bench nic-frames: no QEMU at $qemu" >&2; exit 1; }
[ -f "$payload" ] || { echo "bench nic-frames: no payload $payload (scripts/barlab build payloads)" >&2; exit 1; }
tmp=$(mktemp -d)
qpid=
trap '[ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$tmp"' EXIT

declare -A dev=(
    [inline]="barlab-nic,id=nic0,netdev=n0,mac=$mac"
    [fallback]="barlab-nic,id=nic0,netdev=n0,mac=$mac"
    [e1000]="e1000,id=nic0,netdev=n0,mac=$mac,romfile="
)

fail() {
    echo "bench nic-frames: $*" >&2
    echo "--- console (last 10 lines):" >&2
    tail -n 10 "$tmp/console" >&2 2>/dev/null || true
    echo "--- QEMU stderr (last 10 lines):" >&2
    tail -n 10 "$tmp/qemu" >&2 2>/dev/null || true
    exit 1
}

# boot PATH N [QEMU ARGS...]: run nicbench once, in the foreground.
boot() {
    local path=$1 n=$2 rc=0
    shift 2
    : >"$tmp/console"
    timeout 300 "$qemu" -M virt,virtualization=on,gic-version=3 -cpu max \
        -smp 1 -m 256M -nodefaults -display none -monitor none \
        -serial "file:$tmp/console" -kernel "$payload" \
        -netdev user,id=n0,ipv6=off -device "${dev[$path]}" \
        -append "path=$path frames=$n" "$@" >"$tmp/qemu" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || fail "QEMU exited with $rc (124: timeout) on path=$path frames=$n"
    check_done "$path" "$n"
}

check_done() {
    grep -q "^nicbench-done path=$1 frames=$2 sent=$2\$" "$tmp/console" ||
        fail "path=$1 frames=$2: the payload did not send every frame"
}

# best_ms PATH N: the fastest of $runs boots, in ms.
best_ms() {
    local best= t0 t i
    for ((i = 0; i < runs; i++)); do
        t0=$(date +%s%N)
        boot "$1" "$2"
        t=$(( ($(date +%s%N) - t0) / 1000000 ))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
    done
    echo "$best"
}

# check_run PATH: $check_frames frames into a pcap, -no-shutdown and QMP;
# prints "FRAME-HEX COUNT" then, for barlab-nic, the counters.
check_run() {
    local path=$1 i
    rm -f "$tmp/qmp" "$tmp/pcap"
    : >"$tmp/console"
    "$qemu" -M virt,virtualization=on,gic-version=3 -cpu max \
        -smp 1 -m 256M -nodefaults -display none -monitor none \
        -serial "file:$tmp/console" -kernel "$payload" \
        -netdev user,id=n0,ipv6=off -device "${dev[$path]}" \
        -object "filter-dump,id=f0,netdev=n0,file=$tmp/pcap" \
        -append "path=$path frames=$check_frames" -no-shutdown \
        -qmp "unix:$tmp/qmp,server=on,wait=off" >"$tmp/qemu" 2>&1 &
    qpid=$!
    for ((i = 0; i < 600; i++)); do
        grep -q '^nicbench-done\|nicbench-error\|^FATAL' "$tmp/console" && break
        kill -0 "$qpid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q '^nicbench-done' "$tmp/console"; then
        kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null || true; qpid=
        fail "path=$path frames=$check_frames (pcap/QMP run): no nicbench-done"
    fi
    python3 - "$tmp/qmp" "$tmp/pcap" "$path" "$mac" <<'PY' || { kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; qpid=; fail "path=$path: QMP or pcap check failed"; }
import json, socket, struct, sys
sock_path, pcap, path, mac = sys.argv[1:]
s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)
f = s.makefile("rw")
def cmd(name, **args):
    f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r:
            return r["return"]
        if "error" in r:
            raise SystemExit("QMP %s: %s" % (name, r["error"]))
json.loads(f.readline())                       # greeting
cmd("qmp_capabilities")
props = []
if path != "e1000":
    for p in ("push-accesses", "push-txns", "tx-inline", "tx-fallback",
              "tx-frames", "completions", "errors"):
        props.append("%s=%s" % (p, cmd("qom-get", path="/machine/peripheral/nic0",
                                      property=p)))
cmd("quit")
src = bytes(int(b, 16) for b in mac.split(":"))
d = open(pcap, "rb").read()[24:]
out = []
while d:
    cl = struct.unpack("<IIII", d[:16])[2]
    pkt, d = d[16:16 + cl], d[16 + cl:]
    if pkt[6:12] == src:
        out.append(pkt)
if not out or any(p != out[0] for p in out):
    raise SystemExit("pcap: %d frames from %s, not all the same" % (len(out), mac))
print(out[0].hex(), len(out), *props)
PY
    wait "$qpid" 2>/dev/null || true
    qpid=
}

declare -A ms0 ms fps info
for path in inline fallback e1000; do
    ms0[$path]=$(best_ms "$path" 0)
    ms[$path]=$(best_ms "$path" "$frames")
    [ "${ms[$path]}" -gt "${ms0[$path]}" ] ||
        fail "path=$path: $frames frames took no measurable time (${ms[$path]} ms vs boot ${ms0[$path]} ms): use more frames"
    fps[$path]=$(( frames * 1000 / (ms[$path] - ms0[$path]) ))
    info[$path]=$(check_run "$path")
done

ref=${info[e1000]%% *}
for path in inline fallback; do
    [ "${info[$path]%% *}" = "$ref" ] ||
        fail "path=$path sent a different frame than e1000: ${info[$path]%% *} vs $ref"
done
for path in inline fallback e1000; do
    set -- ${info[$path]}
    [ "$2" = "$check_frames" ] ||
        fail "path=$path: the pcap holds $2 of $check_frames frames"
done

# per_frame PATH PROP: the counter PROP over $check_frames
per_frame() {
    local v
    v=$(tr ' ' '\n' <<<"${info[$1]}" | sed -n "s/^$2=//p")
    echo "$v / $check_frames" | bc -l
}

echo "bench nic-frames: $frames x $(( ${#ref} / 2 ))-byte frame, -netdev user, -cpu max, best of $runs, minus a frames=0 boot"
printf '  %-40s %7s %7s %11s\n' path "boot ms" "run ms" "frames/s"
for row in "e1000 (QEMU's, legacy TX): baseline:e1000" \
    "barlab-nic inline (Normal-NC):inline" "barlab-nic fallback (Device-nGnRE):fallback"; do
    p=${row##*:}
    printf '  %-40s %7d %7d %11d   %5.2fx\n' "${row%:*}" "${ms0[$p]}" "${ms[$p]}" \
        "${fps[$p]}" "$(echo "${fps[$p]} / ${fps[e1000]}" | bc -l)"
done
printf '  inline / fallback: %.2fx\n' "$(echo "${fps[inline]} / ${fps[fallback]}" | bc -l)"
echo "  device transactions per frame ($check_frames-frame run, QOM counters):"
printf '    %-9s %14s %10s %10s %12s\n' path push-accesses push-txns tx-inline tx-fallback
for p in inline fallback; do
    printf '    %-9s %14.2f %10.2f %10.2f %12.2f\n' "$p" "$(per_frame $p push-accesses)" \
        "$(per_frame $p push-txns)" "$(per_frame $p tx-inline)" "$(per_frame $p tx-fallback)"
done
echo "    (fallback: each tx-fallback is also a 64-byte descriptor DMA read; e1000: 1 TDT write + 3 DMA a frame)"
echo "  pcap: every path sent $check_frames copies of the same frame"
