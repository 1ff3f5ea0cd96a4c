# SPDX-License-Identifier: GPL-2.0-or-later
"""Frames per second through barlab-nic's two TX paths and QEMU's e1000,
sending the same frame (nic.c's 42-byte ARP request for 10.0.2.2) with
the nicbench payload, measured in one run:
  - inline:   8 STRs to a Normal-NC push slot, one 64-byte transaction,
  - fallback: the same 8 STRs through a Device-nGnRE alias: a doorbell
              and a DMA fetch of the ring descriptor,
  - e1000:    QEMU's e1000 (legacy TX descriptors, one TDT write a frame):
              the baseline.
Each path: wall time from QEMU start to exit, best of RUNS, minus the
same boot with frames=0; -netdev user (slirp; it answers the ARP
requests; it does not throttle: -netdev hubport to nowhere measured the
same within 3%).  No filter-dump in the timed runs (it costs more than
the sends themselves); a separate run of CHECK_FRAMES frames per path
writes a pcap (every frame must be the same, on every path) and, for the
barlab paths, reads the device's counters over QMP for the transactions
a frame."""

import os
import re
import struct
import subprocess
import time

from .. import qmp
from ..common import Fatal
from .payload_runs import console_has, fresh, qemu_argv, remove, run_ms, tails
from .runs import Failed, env_count, scratch

NAME = "nic-frames"
MAC = "52:54:00:12:34:56"
DEVICES = {
    "inline": "barlab-nic,id=nic0,netdev=n0,mac=" + MAC,
    "fallback": "barlab-nic,id=nic0,netdev=n0,mac=" + MAC,
    "e1000": "e1000,id=nic0,netdev=n0,mac=%s,romfile=" % MAC,
}
COUNTERS = ("push-accesses", "push-txns", "tx-inline", "tx-fallback", "tx-frames",
            "completions", "errors")
DONE = re.compile(r"^nicbench-done|nicbench-error|^FATAL", re.M)


class Bench:
    """The runs of one measurement, their files in TMP."""

    def __init__(self, qemu, payload, tmp):
        self.qemu, self.payload = qemu, payload
        self.console = os.path.join(tmp, "console")
        self.errlog = os.path.join(tmp, "qemu")
        self.qmp = os.path.join(tmp, "qmp")
        self.pcap = os.path.join(tmp, "pcap")

    def fail(self, why):
        return Failed(NAME, why, ["--- console (last 10 lines):"]
                      + tails(self.console, n=10)
                      + ["--- QEMU stderr (last 10 lines):"] + tails(self.errlog, n=10))

    def argv(self, path, frames, *extra):
        return qemu_argv(self.qemu, self.payload, self.console, 1,
                         "-netdev", "user,id=n0,ipv6=off", "-device", DEVICES[path],
                         "-append", "path=%s frames=%d" % (path, frames), *extra)

    def sent_all(self, path, frames):
        return console_has(self.console, "nicbench-done path=%s frames=%d sent=%d\n"
                           % (path, frames, frames))

    def boot_ms(self, path, frames):
        """One run of nicbench in the foreground, in ms."""
        fresh(self.console)
        try:
            ms = run_ms(NAME, self.argv(path, frames), self.errlog)
        except Failed as e:
            raise self.fail("%s (124: timeout) on path=%s frames=%d"
                            % (e.args[0], path, frames))
        if not self.sent_all(path, frames):
            raise self.fail("path=%s frames=%d: the payload did not send every frame"
                            % (path, frames))
        return ms

    def check_run(self, path, frames):
        """FRAMES frames into a pcap, -no-shutdown and QMP: (the frame,
        how many the pcap holds, {counter: value} for barlab-nic)."""
        remove(self.qmp)
        remove(self.pcap)
        fresh(self.console)
        argv = self.argv(path, frames, "-object",
                         "filter-dump,id=f0,netdev=n0,file=%s" % self.pcap, "-no-shutdown",
                         "-qmp", "unix:%s,server=on,wait=off" % self.qmp)
        with open(self.errlog, "wb") as err:
            proc = subprocess.Popen(argv, stdout=err, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        try:
            for _ in range(600):
                with open(self.console, errors="replace") as f:
                    if DONE.search(f.read()) or proc.poll() is not None:
                        break
                time.sleep(0.1)
            if not console_has(self.console, "nicbench-done"):
                raise self.fail("path=%s frames=%d (pcap/QMP run): no nicbench-done"
                                % (path, frames))
            try:
                with qmp.connect(self.qmp) as mon:
                    counters = {} if path == "e1000" else {
                        p: mon.cmd("qom-get", path="/machine/peripheral/nic0", property=p)
                        for p in COUNTERS}
                proc.terminate()
                proc.wait()
                frame, count = same_frames(self.pcap, MAC)
            except (Fatal, OSError, ValueError) as e:
                raise self.fail("path=%s: QMP or pcap check failed: %s" % (path, e))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return frame, count, counters


def same_frames(pcap, mac):
    """(the frame, how many) of the frames from MAC in the pcap file; a
    ValueError unless there are some and all are the same."""
    src = bytes(int(b, 16) for b in mac.split(":"))
    with open(pcap, "rb") as f:
        data = f.read()[24:]
    frames = []
    while data:
        caplen = struct.unpack("<IIII", data[:16])[2]
        pkt, data = data[16:16 + caplen], data[16 + caplen:]
        if pkt[6:12] == src:
            frames.append(pkt)
    if not frames or any(p != frames[0] for p in frames):
        raise ValueError("pcap: %d frames from %s, not all the same" % (len(frames), mac))
    return frames[0].hex(), len(frames)


def run(qemu, payload_dir, frames=500000):
    runs = env_count(NAME, "RUNS", 3)
    check_frames = env_count(NAME, "CHECK_FRAMES", 1000)
    payload = os.path.join(str(payload_dir), "nicbench.elf")
    if not os.access(str(qemu), os.X_OK):
        raise Failed(NAME, "no QEMU at %s" % qemu)
    if not os.path.isfile(payload):
        raise Failed(NAME, "no payload %s (scripts/barlab build payloads)" % payload)
    ms0, ms, fps, info = {}, {}, {}, {}
    with scratch() as tmp:
        bench = Bench(qemu, payload, tmp)
        for path in ("inline", "fallback", "e1000"):
            ms0[path] = min(bench.boot_ms(path, 0) for _ in range(runs))
            ms[path] = min(bench.boot_ms(path, frames) for _ in range(runs))
            if ms[path] <= ms0[path]:
                raise bench.fail("path=%s: %d frames took no measurable time (%d ms vs boot "
                                 "%d ms): use more frames" % (path, frames, ms[path], ms0[path]))
            fps[path] = frames * 1000 // (ms[path] - ms0[path])
            info[path] = bench.check_run(path, check_frames)
        ref = info["e1000"][0]
        for path in ("inline", "fallback"):
            if info[path][0] != ref:
                raise bench.fail("path=%s sent a different frame than e1000: %s vs %s"
                                 % (path, info[path][0], ref))
        for path in ("inline", "fallback", "e1000"):
            if info[path][1] != check_frames:
                raise bench.fail("path=%s: the pcap holds %d of %d frames"
                                 % (path, info[path][1], check_frames))

    print("bench nic-frames: %d x %d-byte frame, -netdev user, -cpu max, best of %d, minus a "
          "frames=0 boot" % (frames, len(ref) // 2, runs))
    print("  %-40s %7s %7s %11s" % ("path", "boot ms", "run ms", "frames/s"))
    for label, p in (("e1000 (QEMU's, legacy TX): baseline", "e1000"),
                     ("barlab-nic inline (Normal-NC)", "inline"),
                     ("barlab-nic fallback (Device-nGnRE)", "fallback")):
        print("  %-40s %7d %7d %11d   %5.2fx" % (label, ms0[p], ms[p], fps[p],
                                                fps[p] / fps["e1000"]))
    print("  inline / fallback: %.2fx" % (fps["inline"] / fps["fallback"]))
    print("  device transactions per frame (%d-frame run, QOM counters):" % check_frames)
    print("    %-9s %14s %10s %10s %12s" % ("path", "push-accesses", "push-txns", "tx-inline",
                                             "tx-fallback"))
    for p in ("inline", "fallback"):
        c = info[p][2]
        print("    %-9s %14.2f %10.2f %10.2f %12.2f" % (
            p, *(c[k] / check_frames for k in COUNTERS[:4])))
    print("    (fallback: each tx-fallback is also a 64-byte descriptor DMA read; e1000: "
          "1 TDT write + 3 DMA a frame)")
    print("  pcap: every path sent %d copies of the same frame" % check_frames)
