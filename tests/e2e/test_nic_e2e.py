#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab-nic's inline path and write-combining self-test through real TCG
(the qtest cannot reach them: qtest accesses carry no memory type).  The
nic payload (target-tests/payloads/nic.c) sends the same inline ARP
request for slirp's gateway through a push slot mapped Normal-NC (eight
STRs, then four STPs: inline) and through a Device-nGnRE alias (fallback
to the ring), then runs the mlx5-style WC self-test through both.
Checked: the payload's lines, the frames in filter-dump's pcap byte for
byte, the push port's trace (one 64-byte transaction of 8 accesses per
Normal-NC descriptor, 8-byte ones through Device), and that no
transaction broke a rule (push-violations over QMP, guest-error log)."""

import re
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import devtest  # noqa: E402
from barlab import machine, qmp  # noqa: E402

MAC = "52:54:00:12:34:56"
ARP_REQ = ("ffffffffffff52540012345608060001080006040001525400123456"
           "0a00020f0000000000000a000202")
# How long QEMU may take to exit after "quit".
QUIT_WAIT = 300
COUNTERS = ("push-violations", "push-txns", "push-gathered", "push-untyped",
            "tx-frames", "tx-inline", "tx-fallback", "tx-nops", "completions",
            "rx-frames", "errors")


class NicPayloadTest(devtest.DeviceTest):
    """Runs the nic payload with barlab-nic's port in one mode."""

    def boot(self, name, port_opts=""):
        """Run the payload with QMP; the serial output, then "qom NAME=VALUE"
        lines for the NIC's counters read after the payload powered off
        (no_shutdown keeps QEMU up for that).  None (and a failed
        NAME-boot) if the payload did not finish."""
        tmp = self.scratch(name)
        tmp.mkdir(parents=True, exist_ok=True)
        self.dir = tmp
        sock, serial = tmp / "qmp.sock", tmp / "serial"
        argv = [str(self.qemu)] + machine.virt("max", smp=2, memory="256M",
                                               no_shutdown=True) + [
            "-kernel", str(self.payload("nic")), "-d", "guest_errors", "-D", str(tmp / "log"),
            "-device", "barlab-nic,id=nic0,netdev=n0,mac=%s,trace=%s%s"
            % (MAC, tmp / "trace", port_opts),
            "-netdev", "user,id=n0,ipv6=off",
            "-object", "filter-dump,id=f0,netdev=n0,file=%s" % (tmp / "frames.pcap"),
            "-serial", "file:%s" % serial, "-qmp", "unix:%s,server=on,wait=off" % sock]
        out, why, killed = "", "", ""
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            with qmp.connect(sock, timeout=10) as mon:
                deadline = time.monotonic() + 120
                while (time.monotonic() < deadline and
                       mon.cmd("query-status")["status"] != "shutdown"):
                    time.sleep(0.1)
                for c in COUNTERS:
                    value = mon.cmd("qom-get", path="/machine/peripheral/nic0", property=c)
                    out += "qom %s=%s\n" % (c, value)
                mon.cmd("quit")
            # QEMU writes the trace as it exits (synced, then renamed into
            # place), which under heavy I/O takes a while; a QEMU killed
            # before that leaves no trace.
            proc.wait(timeout=QUIT_WAIT)
        except subprocess.TimeoutExpired:
            killed = "QEMU had not exited %d s after quit: killed, so it wrote no trace\n" % QUIT_WAIT
        except Exception as e:     # pylint: disable=broad-except
            why = "QMP: %s\n" % e
        finally:
            if proc.poll() is None:
                proc.kill()
            why += proc.communicate()[1].decode(errors="replace")
        if serial.is_file():
            out += serial.read_text(errors="replace")
        self.out = out
        if not re.search(r"^nic-done", out, re.M) or killed:
            with self.check(name + "-boot"):
                self.fail("%s\n%s%s" % (killed or "the payload did not finish", out[-2000:], why))
            return None
        return self.trace(tmp / "trace")

    def line(self, name, pattern):
        """Check NAME: the payload printed a line matching PATTERN."""
        with self.check(name):
            if not re.search(pattern, self.out, re.M):
                self.fail("no line matching '%s'\n%s" % (pattern, self.out[-3000:]))


class NicGatherTest(NicPayloadTest):
    """The port gathers: Normal-NC pushes go inline, Device ones fall back."""

    def test_gather(self):
        records = self.boot("gather")
        if records is None:
            return
        self.line("inline-str-nc-inline",
                  r"^nic: case=inline-str map=nc index=[0-9]+ inline=1 fallback=0 frames=1 "
                  r"cqe=yes cqe-index=[0-9]+ cqe-inline=1 cqe-status=0")
        self.line("inline-stp-nc-inline",
                  r"^nic: case=inline-stp map=nc index=[0-9]+ inline=1 fallback=0 frames=1 "
                  r"cqe=yes cqe-index=[0-9]+ cqe-inline=1 cqe-status=0")
        self.line("device-str-falls-back",
                  r"^nic: case=dev-str map=dev index=[0-9]+ inline=0 fallback=1 frames=1 "
                  r"cqe=yes cqe-index=[0-9]+ cqe-inline=0 cqe-status=0")
        self.line("device-stp-falls-back",
                  r"^nic: case=dev-stp map=dev index=[0-9]+ inline=0 fallback=1 frames=1 "
                  r"cqe=yes cqe-index=[0-9]+ cqe-inline=0 cqe-status=0")
        self.line("wc-selftest-nc-works",
                  r"^wc-selftest map=nc result=works first-index=0 first-inline=1 "
                  r"completions=16$")
        self.line("wc-selftest-nc-message", r"^wc-selftest: works$")
        self.line("wc-selftest-dev-does-not-work",
                  r"^wc-selftest map=dev result=does-not-work first-index=15 "
                  r"first-inline=0 completions=1$")
        self.line("wc-selftest-dev-message", r"^wc-selftest: does not work$")
        self.line("slirp-arp-reply-received", r"^nic: rx frames=[1-9][0-9]* arp-replies=[1-9]")
        self.line("device-no-errors",
                  r"^nic: status=0x0 errors=0 tx-frames=4 tx-inline=18 tx-fallback=18 "
                  r"tx-nops=32 completions=21$")
        self.line("payload-no-failures", r"^nic-done failures=0$")
        self.line("qom-counters-agree", r"^qom tx-inline=18$")
        self.line("no-push-violations", r"^qom push-violations=0$")
        self.line("no-untyped-push", r"^qom push-untyped=0$")
        with self.check("no-guest-errors-logged"):
            log = (self.dir / "log").read_text(errors="replace")
            if re.search(r"breaks |barlab-nic:", log):
                self.fail("the guest-error log names a broken rule or a NIC error\n" + log)

        for name, lo, hi, want in (
                ("nc-str-push-one-txn", 0x1040, 0x1080, "64x8"),
                ("nc-stp-push-one-txn", 0x2040, 0x2080, "64x8"),
                ("device-str-push-split", 0x3040, 0x3080, devtest.repeat(8, "8x1")),
                ("device-stp-push-split", 0x4040, 0x4080, devtest.repeat(8, "8x1")),
                ("wc-selftest-nc-whole", 0x5000, 0x6000, devtest.repeat(16, "64x8")),
                ("wc-selftest-dev-split", 0x6000, 0x7000, devtest.repeat(128, "8x1")),
                ("control-lines-untouched", 0x0000, 0x0040, "")):
            with self.check(name):
                self.assertShape(records, lo, hi, want)

        with self.check("nc-push-carries-the-frame"):
            # The inline transaction carries the frame the pcap must show.
            datas = [r["data"] for r in devtest.txns(records) if r["addr"] in (0x1040, 0x2040)]
            self.assertTrue(len(datas) == 2 and
                            all(d[:2] == "01" and d[32:32 + len(ARP_REQ)] == ARP_REQ
                                for d in datas), "push data %r" % datas)

        with self.check("pcap-frames-byte-for-byte"):
            # filter-dump: our four sends (inline x2, fallback x2) are the
            # same frame byte for byte, nothing else left our MAC, slirp
            # answered.
            frames = pcap_frames(self.dir / "frames.pcap")
            mac = bytes.fromhex(MAC.replace(":", ""))
            ours = [f for f in frames if f[6:12] == mac]
            replies = [f for f in frames if f[:6] == mac and f[12:14] == b"\x08\x06" and
                       f[20:22] == b"\x00\x02" and f[28:32] == bytes([10, 0, 2, 2])]
            self.assertTrue(len(ours) == 4 and all(f == bytes.fromhex(ARP_REQ) for f in ours)
                            and len(replies) == 4,
                            "ours=%s replies=%d" % ([f.hex() for f in ours], len(replies)))


class NicExactTest(NicPayloadTest):
    """Exact mode: nothing is gathered, so Normal-NC falls back too and the
    self-test says write-combining does not work there either."""

    def test_exact(self):
        records = self.boot("exact", ",port-mode=exact")
        if records is None:
            return
        self.line("exact-nc-falls-back",
                  r"^nic: case=inline-str map=nc index=[0-9]+ inline=0 fallback=1 frames=1 "
                  r"cqe=yes")
        self.line("exact-wc-selftest-nc-does-not-work",
                  r"^wc-selftest map=nc result=does-not-work ")
        with self.check("exact-nc-push-split"):
            self.assertShape(records, 0x1040, 0x1080, devtest.repeat(8, "8x1"))
        self.line("exact-no-push-violations", r"^qom push-violations=0$")


def pcap_frames(path):
    """The frames of a pcap file (microsecond, little-endian)."""
    data = Path(path).read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    if magic != 0xa1b2c3d4:
        raise AssertionError("%s: pcap magic %#x" % (path, magic))
    at, frames = 24, []
    while at + 16 <= len(data):
        _, _, incl, _ = struct.unpack("<IIII", data[at:at + 16])
        frames.append(data[at + 16:at + 16 + incl])
        at += 16 + incl
    return frames


if __name__ == "__main__":
    barlabtest.main()
