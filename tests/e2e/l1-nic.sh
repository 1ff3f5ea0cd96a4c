#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# barlab-nic under Linux in L1: the barlab_nic driver loads, its
# write-combining self-test says "supported" (no stage 2 in L1: the push
# page is Normal-NC and the port gathers), the netdev pings slirp's
# gateway and exchanges UDP with a peer on the host, the interface
# counters count the frames, and the module unloads, reloads and unloads
# again cleanly.
#
# UDP: busybox's nc has no -u, so the guest uses busybox's tftp client.
# The host peer below speaks just enough TFTP to echo a file: the guest
# uploads 8 KiB of random bytes to 10.0.2.2:PORT (slirp hands that to the
# host's 127.0.0.1:PORT), downloads them again and compares.
#
# The device's push-port trace is the independent witness that the push
# copies (the self-test's NOPs at each probe, then one per frame sent)
# reached the device, nearly all of them as one 64-byte transaction.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
. "$ROOT/tests/lib/l1.sh"
WC_NOPS=255             # the driver's self-test posts this many NOPs
PROBES=2                # module-loads and reload

# The TFTP echo peer: ARGS port-file log-file lifetime-seconds.  It
# replaces the shell it runs in, so that $! below is the peer itself.
tftp_echo_peer() {
    exec python3 - "$@" <<'PY'
import hashlib, os, socket, struct, sys, time
RRQ, WRQ, DATA, ACK, ERROR = 1, 2, 3, 4, 5
BLOCK = 512
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(1.0)
log = open(sys.argv[2], "w", buffering=1)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
files, receiving, sending = {}, {}, {}
def send_block(peer):
    data, block = sending[peer]
    s.sendto(struct.pack("!HH", DATA, block) +
             data[(block - 1) * BLOCK:block * BLOCK], peer)
deadline = time.time() + float(sys.argv[3])
while time.time() < deadline:
    try:
        pkt, peer = s.recvfrom(65536)
    except socket.timeout:
        for peer in sending:            # the guest missed a block: resend
            send_block(peer)
        continue
    if len(pkt) < 4:
        continue
    op, arg = struct.unpack("!HH", pkt[:4])
    if op in (RRQ, WRQ):
        name = pkt[2:].split(b"\0")[0].decode(errors="replace")
        log.write("%s %s from %s:%d\n" % ("put" if op == WRQ else "get",
                                          name, *peer))
        if op == WRQ:
            receiving[peer] = [name, b"", 0]
            s.sendto(struct.pack("!HH", ACK, 0), peer)
        elif name in files:
            sending[peer] = [files[name], 1]
            send_block(peer)
        else:
            s.sendto(struct.pack("!HH", ERROR, 1) + b"no such file\0", peer)
    elif op == DATA and peer in receiving:
        r = receiving[peer]
        if arg == r[2] + 1:
            r[1] += pkt[4:]
            r[2] = arg
            if len(pkt) - 4 < BLOCK:
                files[r[0]] = r[1]
                log.write("stored %s %d %s\n" % (r[0], len(r[1]),
                                                 hashlib.sha256(r[1]).hexdigest()))
        if arg <= r[2]:                 # acknowledge repeats too
            s.sendto(struct.pack("!HH", ACK, arg), peer)
    elif op == ACK and peer in sending and arg == sending[peer][1]:
        if arg == len(sending[peer][0]) // BLOCK + 1:
            log.write("served %d bytes\n" % len(sending.pop(peer)[0]))
        else:
            sending[peer][1] += 1
            send_block(peer)
PY
}

tftp_echo_peer "$HARNESS_TMP/peer.port" "$HARNESS_TMP/peer.log" 1500 &
PEER=$!
trap 'kill "$PEER" 2>/dev/null; rm -rf "$HARNESS_TMP"' EXIT
for _ in $(seq 50); do
    [ -s "$HARNESS_TMP/peer.port" ] && break
    sleep 0.1
done
PORT=$(cat "$HARNESS_TMP/peer.port" 2>/dev/null)
if [ -z "$PORT" ]; then
    bad udp-peer-starts "the host's TFTP echo peer did not start"
    harness_summary
    exit 0
fi

# The script L1 runs: one "l1-nic: NAME ok|failed" line per step.
SCRIPT=$(cat <<EOF
mod=/lib/modules/barlab/barlab_nic.ko
bdf=\$(bl_find \$BL_NIC)
dev=/sys/bus/pci/devices/\$bdf
step() {
    name=\$1
    shift
    if "\$@"; then echo "l1-nic: \$name ok"; else echo "l1-nic: \$name failed"; fi
}
bound() { [ "\$(bl_driver \$bdf)" = barlab_nic ] && [ -d \$dev/net ]; }
unbound() { [ "\$(bl_driver \$bdf)" = none ] && [ ! -d \$dev/net ]; }
wc_supported() { [ "\$(cat \$dev/wc)" = supported ]; }
carrier() { [ "\$(cat /sys/class/net/\$ifc/carrier)" = 1 ]; }
reload() { insmod \$mod && bound && wc_supported; }
no_splat() { ! dmesg | grep -qE 'WARNING:|BUG:|Oops|leak'; }

step module-loads insmod \$mod
step netdev-registered bound
ifc=\$(ls \$dev/net)
echo "l1-nic: wc=\$(cat \$dev/wc) wc_inline=\$(cat \$dev/wc_inline) ifc=\$ifc"
step wc-supported wc_supported
step link-up ip link set \$ifc up
step address ip addr add 10.0.2.15/24 dev \$ifc
step carrier carrier
step ping ping -c 3 -W 10 10.0.2.2
dd if=/dev/urandom of=/tmp/udp.out bs=1024 count=8 2>/dev/null
echo "l1-nic: udp-sent \$(sha256sum </tmp/udp.out | cut -d' ' -f1)"
step udp-put tftp -p -l /tmp/udp.out -r l1-nic.bin 10.0.2.2 $PORT
step udp-get tftp -g -l /tmp/udp.back -r l1-nic.bin 10.0.2.2 $PORT
step udp-echoed cmp /tmp/udp.out /tmp/udp.back
for s in rx_packets rx_bytes rx_errors rx_dropped tx_packets tx_bytes tx_errors tx_dropped; do
    echo "l1-nic: stat \$s \$(cat /sys/class/net/\$ifc/statistics/\$s)"
done
step link-down ip link set \$ifc down
echo "l1-nic: final tx_packets \$(cat /sys/class/net/\$ifc/statistics/tx_packets)"
step unload rmmod barlab_nic
step unbound unbound
step reload reload
step unload-again rmmod barlab_nic
dmesg | grep -E 'barlab_nic|WARNING|BUG|Oops'
step no-kernel-warnings no_splat
EOF
)

l1 nic "$SCRIPT" --bind none --timeout 1000
L1_LOG=$HARNESS_TMP/console.log
l1_console nic >"$L1_LOG" 2>/dev/null
if ! grep -q '^l1-nic: no-kernel-warnings' "$L1_LOG"; then
    bad l1-boot "L1 did not run the script to its end (exit $(status))"
    harness_summary
    exit 0
fi
ok l1-boot

for step in module-loads netdev-registered wc-supported link-up address \
    carrier ping udp-put udp-get udp-echoed link-down unload unbound reload \
    unload-again no-kernel-warnings; do
    expect_console nic "$step" "^l1-nic: $step ok$"
done
expect_console nic wc-message "barlab_nic [0-9a-f:.]+: write-combining: supported \\([0-9]+ of $WC_NOPS push copies ran inline"
# Nearly every self-test copy ran inline (see the trace check below).
inline=$(sed -n 's/^l1-nic: wc=supported wc_inline=\([0-9]*\) .*/\1/p' "$L1_LOG")
if [ -n "$inline" ] && [ "$inline" -ge $((WC_NOPS * 9 / 10)) ]; then ok wc-attributes; else
    cp "$L1_LOG" "$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
    bad wc-attributes "wc is not 'supported' with wc_inline >= $((WC_NOPS * 9 / 10))"
fi

# The host peer stored what the guest sent (same SHA-256) and served it.
sent=$(sed -n 's/^l1-nic: udp-sent \([0-9a-f]\{64\}\)$/\1/p' "$L1_LOG")
run cat "$HARNESS_TMP/peer.log"
expect udp-peer-received 0 "^stored l1-nic.bin 8192 ${sent:-none}\$" '^served 8192 bytes$'

# The interface counters (what `ip -s link` prints; busybox's ip has no
# -s), read while the link was up: frames both ways, no errors or drops.
# (Taking the link down may drop a frame the stack sends meanwhile into
# the noop qdisc, which counts in tx_dropped.)
run python3 - "$L1_LOG" <<'PY'
import sys
stat = {}
for l in open(sys.argv[1]):
    if l.startswith("l1-nic: stat "):
        name, value = l.split()[2:4]
        stat[name] = int(value)
# Sent at least: 3 pings; WRQ and 17 DATA; RRQ and 17 ACK.  Received: 3
# replies; 18 ACK; 17 DATA.  The 8 KiB went out once and came back once.
ok = (len(stat) == 8 and stat["rx_packets"] >= 3 + 18 + 17 and
      stat["tx_packets"] >= 3 + 18 + 18 and stat["rx_bytes"] > 8192 and
      stat["tx_bytes"] > 8192 and stat["rx_errors"] == stat["rx_dropped"] ==
      stat["tx_errors"] == stat["tx_dropped"] == 0)
print("OK" if ok else "BAD", stat)
PY
expect interface-counters 0 '^OK'
tx_packets=$(sed -n 's/^l1-nic: final tx_packets \([0-9]*\)$/\1/p' "$L1_LOG")

# The push page in the device's trace.  Every push copy (the NOPs of each
# self-test, then one per frame sent) reached slot 0 or 1 of page 0, all
# 64 bytes of it, each frame's copy was followed by a SLOT_DOORBELL write
# of its slot, and nothing else was written there.  Nearly all copies
# arrived as one 64-byte transaction of eight stores: under TCG a barrier
# on the other vCPU flushes the port's gather buffer, so a few copies
# split (a self-test copy then rings the doorbell and the ring copy runs);
# with a Device memory type none would gather.
MT=${BARLAB_MT:-$("$BARLAB" path barlab-mt)}
if "$MT" trace "$HARNESS_TMP/nic/nic.trace" --json >"$HARNESS_TMP/trace.json"; then
    run python3 - "$HARNESS_TMP/trace.json" "$((PROBES * WC_NOPS))" "${tx_packets:-0}" <<'PY'
import json, sys
txns = [r for l in open(sys.argv[1]) for r in [json.loads(l)]
        if r.get("type") == "txn"]
frames = int(sys.argv[3])
wanted = int(sys.argv[2]) + frames
slots = [r for r in txns if r["op"] == "W" and r["addr"] >= 0x40 and
         r["addr"] + r["size"] <= 0xc0]
doorbells = [r for r in txns if (r["op"], r["addr"], r["size"]) == ("W", 0x10, 4)
             and r["data"] in ("00000000", "01000000")]
whole = sum(r["addr"] in (0x40, 0x80) and (r["size"], r["n"]) == (64, 8)
            for r in slots)
copies = sum(r["size"] for r in slots) / 64
# A frame sent as the link went down may have been pushed but retired by
# ndo_stop without counting in tx_packets: allow two.
ok = (len(slots) + len(doorbells) == len(txns) and
      wanted <= copies <= wanted + 2 and frames <= len(doorbells) <= frames + 2 and
      whole >= 0.9 * wanted)
print("OK" if ok else "BAD", "push copies: %d posted, %g written, %d whole, "
      "%d slot doorbells, %d transactions elsewhere"
      % (wanted, copies, whole, len(doorbells), len(txns) - len(slots) - len(doorbells)))
PY
    expect push-copies-gathered 0 '^OK'
    sed -n 's/^OK /note: /p' "$HARNESS_TMP/out"
else
    bad push-copies-gathered "cannot read the device trace $HARNESS_TMP/nic/nic.trace"
fi

harness_summary
