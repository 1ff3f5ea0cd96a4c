#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab-nic under Linux in L1: the barlab_nic driver loads, its
write-combining self-test says "supported" (no stage 2 in L1: the push
page is Normal-NC and the port gathers), the netdev pings slirp's
gateway and exchanges UDP with a peer on the host, the interface
counters count the frames, and the module unloads, reloads and unloads
again cleanly.

UDP: busybox's nc has no -u, so the guest uses busybox's tftp client.
The host peer below speaks just enough TFTP to echo a file: the guest
uploads 8 KiB of random bytes to 10.0.2.2:PORT (slirp hands that to the
host's 127.0.0.1:PORT), downloads them again and compares.

The device's push-port trace is the independent witness that the push
copies (the self-test's NOPs at each probe, then one per frame sent)
reached the device, nearly all of them as one 64-byte transaction."""

import hashlib
import re
import socket
import struct
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import devtest  # noqa: E402

WC_NOPS = 255           # the driver's self-test posts this many NOPs
PROBES = 2              # module-loads and reload
STEPS = ("module-loads", "netdev-registered", "wc-supported", "link-up", "address",
         "carrier", "ping", "udp-put", "udp-get", "udp-echoed", "link-down", "unload",
         "unbound", "reload", "unload-again", "no-kernel-warnings")

# What L1 runs: one "l1-nic: NAME ok|failed" line per step.
SCRIPT = r'''
mod=/lib/modules/barlab/barlab_nic.ko
bdf=$(bl_find $BL_NIC)
dev=/sys/bus/pci/devices/$bdf
step() {
    name=$1
    shift
    if "$@"; then echo "l1-nic: $name ok"; else echo "l1-nic: $name failed"; fi
}
bound() { [ "$(bl_driver $bdf)" = barlab_nic ] && [ -d $dev/net ]; }
unbound() { [ "$(bl_driver $bdf)" = none ] && [ ! -d $dev/net ]; }
wc_supported() { [ "$(cat $dev/wc)" = supported ]; }
carrier() { [ "$(cat /sys/class/net/$ifc/carrier)" = 1 ]; }
reload() { insmod $mod && bound && wc_supported; }
no_splat() { ! dmesg | grep -qE 'WARNING:|BUG:|Oops|leak'; }

step module-loads insmod $mod
step netdev-registered bound
ifc=$(ls $dev/net)
echo "l1-nic: wc=$(cat $dev/wc) wc_inline=$(cat $dev/wc_inline) ifc=$ifc"
step wc-supported wc_supported
step link-up ip link set $ifc up
step address ip addr add 10.0.2.15/24 dev $ifc
step carrier carrier
step ping ping -c 3 -W 10 10.0.2.2
dd if=/dev/urandom of=/tmp/udp.out bs=1024 count=8 2>/dev/null
echo "l1-nic: udp-sent $(sha256sum </tmp/udp.out | cut -d' ' -f1)"
step udp-put tftp -p -l /tmp/udp.out -r l1-nic.bin 10.0.2.2 %(port)d
step udp-get tftp -g -l /tmp/udp.back -r l1-nic.bin 10.0.2.2 %(port)d
step udp-echoed cmp /tmp/udp.out /tmp/udp.back
for s in rx_packets rx_bytes rx_errors rx_dropped tx_packets tx_bytes tx_errors tx_dropped; do
    echo "l1-nic: stat $s $(cat /sys/class/net/$ifc/statistics/$s)"
done
step link-down ip link set $ifc down
echo "l1-nic: final tx_packets $(cat /sys/class/net/$ifc/statistics/tx_packets)"
step unload rmmod barlab_nic
step unbound unbound
step reload reload
step unload-again rmmod barlab_nic
dmesg | grep -E 'barlab_nic|WARNING|BUG|Oops'
step no-kernel-warnings no_splat
'''


class TftpEchoPeer(threading.Thread):
    """Just enough TFTP to echo a file: stores what a client puts, serves
    it back on a get; .port is its UDP port on 127.0.0.1, .log what it did."""

    RRQ, WRQ, DATA, ACK, ERROR = 1, 2, 3, 4, 5
    BLOCK = 512

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(1.0)
        self.port = self.sock.getsockname()[1]
        self.log = []
        self.stopping = threading.Event()
        self.files, self.receiving, self.sending = {}, {}, {}

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)
        self.sock.close()

    def send_block(self, peer):
        data, block = self.sending[peer]
        self.sock.sendto(struct.pack("!HH", self.DATA, block) +
                         data[(block - 1) * self.BLOCK:block * self.BLOCK], peer)

    def run(self):
        while not self.stopping.is_set():
            try:
                pkt, peer = self.sock.recvfrom(65536)
            except socket.timeout:
                for waiting in self.sending:    # the guest missed a block: resend
                    self.send_block(waiting)
                continue
            if len(pkt) >= 4:
                self.packet(pkt, peer)

    def packet(self, pkt, peer):
        op, arg = struct.unpack("!HH", pkt[:4])
        if op in (self.RRQ, self.WRQ):
            name = pkt[2:].split(b"\0")[0].decode(errors="replace")
            self.log.append("%s %s from %s:%d" % ("put" if op == self.WRQ else "get",
                                                  name, *peer))
            if op == self.WRQ:
                self.receiving[peer] = [name, b"", 0]
                self.sock.sendto(struct.pack("!HH", self.ACK, 0), peer)
            elif name in self.files:
                self.sending[peer] = [self.files[name], 1]
                self.send_block(peer)
            else:
                self.sock.sendto(struct.pack("!HH", self.ERROR, 1) + b"no such file\0", peer)
        elif op == self.DATA and peer in self.receiving:
            r = self.receiving[peer]
            if arg == r[2] + 1:
                r[1] += pkt[4:]
                r[2] = arg
                if len(pkt) - 4 < self.BLOCK:
                    self.files[r[0]] = r[1]
                    self.log.append("stored %s %d %s" % (r[0], len(r[1]),
                                                         hashlib.sha256(r[1]).hexdigest()))
            if arg <= r[2]:                     # acknowledge repeats too
                self.sock.sendto(struct.pack("!HH", self.ACK, arg), peer)
        elif op == self.ACK and peer in self.sending and arg == self.sending[peer][1]:
            if arg == len(self.sending[peer][0]) // self.BLOCK + 1:
                self.log.append("served %d bytes" % len(self.sending.pop(peer)[0]))
            else:
                self.sending[peer][1] += 1
                self.send_block(peer)


class NicDriverTest(devtest.L1Test):

    def test_nic(self):
        peer = TftpEchoPeer()
        peer.start()
        try:
            r = self.l1("nic", SCRIPT % {"port": peer.port}, "--bind", "none",
                        "--timeout", "1000")
        finally:
            peer.stop()
        console = self.console("nic")
        ran = re.search("^l1-nic: no-kernel-warnings", console, re.M)
        if not self.checkSteps("nic", ran, r, STEPS, "^l1-nic: %s ok$",
                               "L1 did not run the script to its end"):
            return
        with self.check("wc-message"):
            self.assertConsole("nic", r"barlab_nic [0-9a-f:.]+: write-combining: supported "
                               r"\([0-9]+ of %d push copies ran inline" % WC_NOPS)
        with self.check("wc-attributes"):
            # Nearly every self-test copy ran inline (see the trace check).
            m = re.search(r"^l1-nic: wc=supported wc_inline=([0-9]*) ", console, re.M)
            if not m or not m.group(1) or int(m.group(1)) < WC_NOPS * 9 // 10:
                self.fail("wc is not 'supported' with wc_inline >= %d" % (WC_NOPS * 9 // 10))

        with self.check("udp-peer-received"):
            # The host peer stored what the guest sent (same SHA-256) and
            # served it.
            m = re.search(r"^l1-nic: udp-sent ([0-9a-f]{64})$", console, re.M)
            sent = m.group(1) if m else "none"
            self.assertIn("stored l1-nic.bin 8192 " + sent, peer.log, "the peer's log")
            self.assertIn("served 8192 bytes", peer.log, "the peer's log")

        with self.check("interface-counters"):
            self.assertCounters(console)

        with self.check("push-copies-gathered"):
            m = re.search(r"^l1-nic: final tx_packets ([0-9]*)$", console, re.M)
            frames = int(m.group(1)) if m and m.group(1) else 0
            self.assertPushCopies(self.trace(self.scratch("nic", "nic.trace")), frames)

    def assertCounters(self, console):
        """The interface counters (what `ip -s link` prints; busybox's ip
        has no -s), read while the link was up: frames both ways, no
        errors or drops.  (Taking the link down may drop a frame the stack
        sends meanwhile into the noop qdisc, which counts in tx_dropped.)"""
        stat = {name: int(value) for name, value in
                re.findall(r"^l1-nic: stat (\w+) (\d+)$", console, re.M)}
        # Sent at least: 3 pings; WRQ and 17 DATA; RRQ and 17 ACK.
        # Received: 3 replies; 18 ACK; 17 DATA.  The 8 KiB went out once
        # and came back once.
        ok = (len(stat) == 8 and stat["rx_packets"] >= 3 + 18 + 17 and
              stat["tx_packets"] >= 3 + 18 + 18 and stat["rx_bytes"] > 8192 and
              stat["tx_bytes"] > 8192 and stat["rx_errors"] == stat["rx_dropped"] ==
              stat["tx_errors"] == stat["tx_dropped"] == 0)
        self.assertTrue(ok, "interface counters %s" % stat)

    def assertPushCopies(self, records, frames):
        """The push page in the device's trace.  Every push copy (the NOPs
        of each self-test, then one per frame sent) reached slot 0 or 1 of
        page 0, all 64 bytes of it, each frame's copy was followed by a
        SLOT_DOORBELL write of its slot, and nothing else was written
        there.  Nearly all copies arrived as one 64-byte transaction of
        eight stores: under TCG a barrier on the other vCPU flushes the
        port's gather buffer, so a few copies split (a self-test copy then
        rings the doorbell and the ring copy runs); with a Device memory
        type none would gather."""
        txns = devtest.txns(records)
        wanted = PROBES * WC_NOPS + frames
        slots = [r for r in txns if r["op"] == "W" and r["addr"] >= 0x40 and
                 r["addr"] + r["size"] <= 0xc0]
        doorbells = [r for r in txns if (r["op"], r["addr"], r["size"]) == ("W", 0x10, 4)
                     and r["data"] in ("00000000", "01000000")]
        whole = sum(r["addr"] in (0x40, 0x80) and (r["size"], r["n"]) == (64, 8)
                    for r in slots)
        copies = sum(r["size"] for r in slots) / 64
        summary = ("push copies: %d posted, %g written, %d whole, %d slot doorbells, "
                   "%d transactions elsewhere"
                   % (wanted, copies, whole, len(doorbells),
                      len(txns) - len(slots) - len(doorbells)))
        # A frame sent as the link went down may have been pushed but
        # retired by ndo_stop without counting in tx_packets: allow two.
        ok = (len(slots) + len(doorbells) == len(txns) and
              wanted <= copies <= wanted + 2 and frames <= len(doorbells) <= frames + 2 and
              whole >= 0.9 * wanted)
        self.assertTrue(ok, summary)
        devtest.note("note: " + summary)


if __name__ == "__main__":
    barlabtest.main()
