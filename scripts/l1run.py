#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run one QEMU guest whose console speaks barlab's "barlab-l1:" protocol.

QEMU's serial console goes to OUT/console.log (and to stderr with --echo).
The guest's /init (target-tests/l1/init) prints:

    barlab-l1: screendump NAME   take a QMP screendump to OUT/NAME.png
                                 once the guest's script has ended
    barlab-l1: devices NAME      write barlab's devices, their settable
                                 properties (port mode, ...) and their
                                 counters to OUT/NAME.json once the script
                                 ended: {"barlab-nic": {"properties":
                                 {"port-mode": ...}, "counters":
                                 {"tx-stale": 0, ...}}, ...}
    barlab-l1: exit N            the script ended with status N

On "exit N" the runner takes the screendumps and device snapshots asked
for, quits QEMU and exits with N.  If QEMU ends without saying so, or the timeout expires,
it prints the console's last lines and exits with 125 (QEMU died) or 124
(timeout).  A QMP socket is at OUT/qmp.sock while QEMU runs.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

EXIT_RE = re.compile(rb"^barlab-l1: exit (\d+)")
DUMP_RE = re.compile(rb"^barlab-l1: screendump ([A-Za-z0-9_.-]+)\s*$")
DEVICES_RE = re.compile(rb"^barlab-l1: devices ([A-Za-z0-9_.-]+)\s*$")
# The QOM property types a snapshot reads: numbers, flags and strings.
SCALAR_TYPES = {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32",
                "int64", "bool", "str", "string", "size"}
TAIL = 30


class Qmp:
    """A minimal QMP client: one command at a time, events skipped."""

    def __init__(self, path, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.buf = b""
        self._reply()                       # the greeting
        self.cmd("qmp_capabilities")

    def _reply(self):
        while True:
            while b"\n" not in self.buf:
                data = self.sock.recv(65536)
                if not data:
                    raise OSError("QMP connection closed")
                self.buf += data
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        self.sock.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        reply = self._reply()
        if "error" in reply:
            raise RuntimeError("QMP %s: %s" % (name, reply["error"].get("desc", reply)))
        return reply.get("return")


def device_snapshot(q):
    """barlab's devices (QOM types barlab-*), each as {"properties": its
    settable device properties, "counters": its read-only uint64 ones}."""
    devices = {}
    for parent in ("/machine/peripheral", "/machine/peripheral-anon"):
        for child in q.cmd("qom-list", path=parent):
            m = re.fullmatch(r"child<(barlab-[a-z0-9-]+)>", child["type"])
            if not m:
                continue
            path = "%s/%s" % (parent, child["name"])
            if m.group(1) in devices:
                raise RuntimeError("two %s devices (%s): which one is meant?" % (m.group(1), path))
            settable = {p["name"] for p in q.cmd("device-list-properties", typename=m.group(1))}
            snap = {"properties": {}, "counters": {}}
            for prop in q.cmd("qom-list", path=path):
                if prop["name"] in settable and prop["type"] in SCALAR_TYPES:
                    kind = "properties"
                elif prop["name"] not in settable and prop["type"] == "uint64":
                    kind = "counters"
                else:
                    continue
                snap[kind][prop["name"]] = q.cmd("qom-get", path=path, property=prop["name"])
            devices[m.group(1)] = snap
    return devices


def tail(path, n=TAIL):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "    (no console output)"
    return "\n".join("    " + l for l in lines[-n:]) or "    (no console output)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--echo", action="store_true", help="copy the console to stderr")
    ap.add_argument("qemu_args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    args = a.qemu_args[1:] if a.qemu_args[:1] == ["--"] else a.qemu_args

    os.makedirs(a.out, exist_ok=True)
    console = os.path.join(a.out, "console.log")
    qmp_path = os.path.join(a.out, "qmp.sock")
    if os.path.exists(qmp_path):
        os.unlink(qmp_path)
    cmd = [a.qemu, *args, "-serial", "stdio", "-monitor", "none",
           "-qmp", "unix:%s,server=on,wait=off" % qmp_path]
    with open(os.path.join(a.out, "qemu.cmdline"), "w") as f:
        f.write(" ".join(cmd) + "\n")

    start = time.monotonic()
    state = {"exit": None, "dumps": [], "devices": [], "ready": None}
    ended = threading.Event()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except OSError as e:
        print("l1run: cannot start %s: %s" % (a.qemu, e), file=sys.stderr)
        return 125

    def reader():
        with open(console, "wb") as log:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                if a.echo:
                    sys.stderr.buffer.write(line)
                    sys.stderr.flush()
                s = line.rstrip(b"\r\n")
                m = DUMP_RE.match(s)
                if m:
                    state["dumps"].append(m.group(1).decode())
                m = DEVICES_RE.match(s)
                if m:
                    state["devices"].append(m.group(1).decode())
                if s.startswith(b"barlab-l1: ready") and state["ready"] is None:
                    state["ready"] = time.monotonic() - start
                m = EXIT_RE.match(s)
                if m:
                    state["exit"] = int(m.group(1))
                    ended.set()
        ended.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    finished = ended.wait(a.timeout)
    if not finished:
        proc.kill()
        proc.wait()
        print("l1run: timeout after %ds; console %s, last lines:\n%s"
              % (a.timeout, console, tail(console)), file=sys.stderr)
        return 124
    if state["exit"] is None:
        proc.wait()
        t.join(5)
        print("l1run: QEMU ended (status %s) before the guest reported an exit; "
              "console %s, last lines:\n%s" % (proc.returncode, console, tail(console)),
              file=sys.stderr)
        return 125
    rc = state["exit"]
    asked = state["dumps"] + state["devices"]
    if not asked:
        # Nothing to take: the guest powers off by itself after its exit
        # line.  Asking QEMU to quit over QMP would race with that
        # power-off and fail a finished run on a busy machine.
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    elif proc.poll() is None:
        try:
            q = Qmp(qmp_path, 30)
            for name in state["dumps"]:
                png = os.path.join(a.out, name + ".png")
                q.cmd("screendump", filename=png, format="png")
                print("l1run: screendump %s" % png, file=sys.stderr)
            for name in state["devices"]:
                path = os.path.join(a.out, name + ".json")
                with open(path + ".tmp", "w") as f:
                    json.dump(device_snapshot(q), f, indent=1, sort_keys=True)
                os.rename(path + ".tmp", path)
            q.cmd("quit")
        except (OSError, RuntimeError, ValueError) as e:
            print("l1run: QMP failed: %s" % e, file=sys.stderr)
            rc = rc or 125
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    else:
        print("l1run: QEMU ended before the screendumps or device snapshots %s could be taken"
              % ", ".join(asked), file=sys.stderr)
        rc = rc or 125
    t.join(5)
    with open(os.path.join(a.out, "timing"), "w") as f:
        f.write("ready %.2f\nwall %.2f\n" % (state["ready"] or -1, time.monotonic() - start))
    if rc:
        print("l1run: the guest script ended with status %d; console %s, last lines:\n%s"
              % (rc, console, tail(console)), file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
