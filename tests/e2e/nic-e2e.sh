#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# barlab-nic's inline path and write-combining self-test through real TCG
# (the qtest cannot reach them: qtest accesses carry no memory type).  The
# nic payload (target-tests/payloads/nic.c) sends the same inline ARP
# request for slirp's gateway through a push slot mapped Normal-NC (eight
# STRs, then four STPs: inline) and through a Device-nGnRE alias (fallback
# to the ring), then runs the mlx5-style WC self-test through both.
# Checked: the payload's lines, the frames in filter-dump's pcap byte for
# byte, the push port's trace (one 64-byte transaction of 8 accesses per
# Normal-NC descriptor, 8-byte ones through Device), and that no
# transaction broke a rule (push-violations over QMP, guest-error log).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
QEMU=${QEMU:?set QEMU to barlab\'s qemu-system-aarch64}
MT=${BARLAB_MT:?set BARLAB_MT to barlab-mt}
PAYLOAD=${PAYLOAD_DIR:?set PAYLOAD_DIR to the built payloads}/nic.elf
MAC=52:54:00:12:34:56

# boot NAME PORT-OPTS: run the payload with QMP; stdout gets the serial
# output, then "qom NAME=VALUE" lines for the NIC's counters read after
# the payload powered off (-no-shutdown keeps QEMU up for that).
boot() {
    local name=$1
    T=$HARNESS_TMP/$name
    mkdir -p "$T"
    run timeout 180 python3 - "$QEMU" "$T" \
        -M virt,virtualization=on,gic-version=3 -cpu max -smp 2 -m 256M \
        -nodefaults -display none -no-shutdown -kernel "$PAYLOAD" \
        -d guest_errors -D "$T/log" \
        -device "barlab-nic,id=nic0,netdev=n0,mac=$MAC,trace=$T/trace$2" \
        -netdev user,id=n0,ipv6=off \
        -object "filter-dump,id=f0,netdev=n0,file=$T/frames.pcap" <<'PY'
import json, os, socket, subprocess, sys, time
qemu, tmp, args = sys.argv[1], sys.argv[2], sys.argv[3:]
sock = os.path.join(tmp, "qmp.sock")
serial = os.path.join(tmp, "serial")
p = subprocess.Popen([qemu] + args + ["-serial", "file:" + serial,
                      "-qmp", "unix:%s,server=on,wait=off" % sock])
s = None
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        break
    except OSError:
        s = None
        time.sleep(0.05)
if s is None:
    p.kill()
    sys.exit("no QMP socket")
f = s.makefile("rw")
def cmd(c, **a):
    f.write(json.dumps({"execute": c, "arguments": a}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())                    # greeting
cmd("qmp_capabilities")
deadline = time.time() + 120
while time.time() < deadline:
    if cmd("query-status")["return"]["status"] == "shutdown":
        break
    time.sleep(0.1)
for c in ("push-violations", "push-txns", "push-gathered", "push-untyped",
          "tx-frames", "tx-inline", "tx-fallback", "tx-nops", "completions",
          "rx-frames", "errors"):
    r = cmd("qom-get", path="/machine/peripheral/nic0", property=c)
    print("qom %s=%s" % (c, r.get("return", "?")))
cmd("quit")
p.wait(timeout=30)
sys.stdout.write(open(serial).read())
PY
    if [ "$(status)" != 0 ] || ! grep -q '^nic-done' "$HARNESS_TMP/out"; then
        bad "$name-boot" "the payload did not finish"
        return 1
    fi
    cp "$HARNESS_TMP/out" "$T/out"
    "$MT" trace "$T/trace" --json >"$T/trace.json"
}

# line NAME ERE: the payload printed a line matching ERE
line() {
    if grep -qE -- "$2" "$T/out"; then ok "$1"; else
        cp "$T/out" "$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
        bad "$1" "no line matching '$2'"
    fi
}

# expect_shape NAME LO HI WANT: the push-page transactions at [LO, HI)
expect_shape() {
    expect_trace_shape "$1" "$T/trace.json" "$2" "$3" "$4"
}

# repeat N WORD: WORD N times, space-separated
repeat() { local i s=""; for ((i = 0; i < $1; i++)); do s+="${s:+ }$2"; done; echo "$s"; }

# pyfile-check NAME SCRIPT ARGS...: PASS if the python check prints OK
pycheck() {
    local name=$1
    shift
    run python3 - "$@"
    if [ "$(status)" = 0 ] && grep -q '^OK' "$HARNESS_TMP/out"; then ok "$name"; else
        bad "$name" "python check failed"
    fi
}

ARP_REQ='ffffffffffff52540012345608060001080006040001525400123456'\
'0a00020f0000000000000a000202'

if boot gather ""; then
    line inline-str-nc-inline \
        '^nic: case=inline-str map=nc index=[0-9]+ inline=1 fallback=0 frames=1 cqe=yes cqe-index=[0-9]+ cqe-inline=1 cqe-status=0'
    line inline-stp-nc-inline \
        '^nic: case=inline-stp map=nc index=[0-9]+ inline=1 fallback=0 frames=1 cqe=yes cqe-index=[0-9]+ cqe-inline=1 cqe-status=0'
    line device-str-falls-back \
        '^nic: case=dev-str map=dev index=[0-9]+ inline=0 fallback=1 frames=1 cqe=yes cqe-index=[0-9]+ cqe-inline=0 cqe-status=0'
    line device-stp-falls-back \
        '^nic: case=dev-stp map=dev index=[0-9]+ inline=0 fallback=1 frames=1 cqe=yes cqe-index=[0-9]+ cqe-inline=0 cqe-status=0'
    line wc-selftest-nc-works '^wc-selftest map=nc result=works first-index=0 first-inline=1 completions=16$'
    line wc-selftest-nc-message '^wc-selftest: works$'
    line wc-selftest-dev-does-not-work '^wc-selftest map=dev result=does-not-work first-index=15 first-inline=0 completions=1$'
    line wc-selftest-dev-message '^wc-selftest: does not work$'
    line slirp-arp-reply-received '^nic: rx frames=[1-9][0-9]* arp-replies=[1-9]'
    line device-no-errors '^nic: status=0x0 errors=0 tx-frames=4 tx-inline=18 tx-fallback=18 tx-nops=32 completions=21$'
    line payload-no-failures '^nic-done failures=0$'
    line qom-counters-agree '^qom tx-inline=18$'
    line no-push-violations '^qom push-violations=0$'
    line no-untyped-push '^qom push-untyped=0$'
    if grep -qE 'breaks |barlab-nic:' "$T/log"; then
        cp "$T/log" "$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
        bad no-guest-errors-logged "the guest-error log names a broken rule or a NIC error"
    else
        ok no-guest-errors-logged
    fi

    expect_shape nc-str-push-one-txn 0x1040 0x1080 "64x8"
    expect_shape nc-stp-push-one-txn 0x2040 0x2080 "64x8"
    expect_shape device-str-push-split 0x3040 0x3080 "$(repeat 8 8x1)"
    expect_shape device-stp-push-split 0x4040 0x4080 "$(repeat 8 8x1)"
    expect_shape wc-selftest-nc-whole 0x5000 0x6000 "$(repeat 16 64x8)"
    expect_shape wc-selftest-dev-split 0x6000 0x7000 "$(repeat 128 8x1)"
    expect_shape control-lines-untouched 0x0000 0x0040 ""

    # The inline transaction carries the frame the pcap must show.
    pycheck nc-push-carries-the-frame "$T/trace.json" "$ARP_REQ" <<'PY'
import json, sys
frame = sys.argv[2]
recs = [json.loads(l) for l in open(sys.argv[1])]
datas = [r["data"] for r in recs if r.get("type") == "txn" and
         r["addr"] in (0x1040, 0x2040)]
ok = len(datas) == 2 and all(d[:2] == "01" and d[32:32 + len(frame)] == frame
                             for d in datas)
print("OK" if ok else "BAD %r" % datas)
PY

    # filter-dump: our four sends (inline x2, fallback x2) are the same
    # frame byte for byte, nothing else left our MAC, slirp answered.
    pycheck pcap-frames-byte-for-byte "$T/frames.pcap" "$ARP_REQ" "$MAC" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
want = bytes.fromhex(sys.argv[2])
mac = bytes.fromhex(sys.argv[3].replace(":", ""))
magic = struct.unpack("<I", data[:4])[0]
assert magic == 0xa1b2c3d4, hex(magic)
at, frames = 24, []
while at + 16 <= len(data):
    _, _, incl, orig = struct.unpack("<IIII", data[at:at + 16])
    frames.append(data[at + 16:at + 16 + incl])
    at += 16 + incl
ours = [f for f in frames if f[6:12] == mac]
replies = [f for f in frames if f[:6] == mac and f[12:14] == b"\x08\x06" and
           f[20:22] == b"\x00\x02" and f[28:32] == bytes([10, 0, 2, 2])]
ok = len(ours) == 4 and all(f == want for f in ours) and len(replies) == 4
print("OK" if ok else "BAD ours=%s replies=%d" % ([f.hex() for f in ours],
                                                   len(replies)))
PY
fi

# Exact mode: nothing is gathered, so Normal-NC falls back too and the
# self-test says write-combining does not work there either.
if boot exact ",port-mode=exact"; then
    line exact-nc-falls-back \
        '^nic: case=inline-str map=nc index=[0-9]+ inline=0 fallback=1 frames=1 cqe=yes'
    line exact-wc-selftest-nc-does-not-work '^wc-selftest map=nc result=does-not-work '
    expect_shape exact-nc-push-split 0x1040 0x1080 "$(repeat 8 8x1)"
    line exact-no-push-violations '^qom push-violations=0$'
fi
harness_summary
