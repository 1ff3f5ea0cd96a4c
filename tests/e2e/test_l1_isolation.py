#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile guests survived, in one L1 boot (docs/specs/barlab-nic.rst,
"DMA isolation and reset"):
  DMA isolation, L1: barlab_nic's DMA isolation self-test
      (dma_isolation_test=1) aims the device at an unmapped IOVA from L1:
      "isolated", SMMU fault events in that page, and the netdev pings
      slirp's gateway afterwards.
  DMA isolation, L2: hostile.elf mode=dma under barlab-vmm --l1-canary
      aims barlab-nic's TX ring, a frame buffer, the completion ring and
      an RX buffer at a page of L1 memory outside what the VMM mapped for
      DMA.  Each DMA fails (dma-errors +1 and a STATUS bit each, from the
      payload's VALUES records), L1's arm-smmu-v3 logs fault events in
      that page, QEMU logs the guest errors and traces the MemTxResults,
      neither the L1 page nor the guest's own canary changes, and a
      correct post afterwards completes and slirp answers it.
  No state carried between guests: hostile.elf mode=probe records every
      register and counter of both devices it finds and what its
      workload leaves; run alone, after mode=dirty (rings, masks,
      errors, an ARP answer waiting for an RX buffer, a held slot, half a
      descriptor in the gather buffer, a GPU mode and picture) and after
      the L1 driver, it records the same, and the device traces show the
      same transactions for its cell; so does a probe after a dirty guest
      in one barlab-vmm --batch, which resets the devices between its
      guests (VFIO_DEVICE_RESET).  vfio-pci can reset both devices
      (reset_method flr; VFIO_DEVICE_FLAGS_RESET, which QEMU's vfio-pci
      needs in order not to warn "no available reset mechanism"), and
      after the last guest every counter of both devices and their ports
      reads 0 (QMP)."""

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import devtest  # noqa: E402

SCRIPT = r'''
nic=$(bl_find $BL_NIC) || bl_fail "no barlab-nic"
gpu=$(bl_find $BL_GPU) || bl_fail "no barlab-gpu"
p=/lib/barlab/payloads/hostile.elf
echo "iso: reset-method nic $(cat /sys/bus/pci/devices/$nic/reset_method)"
echo "iso: reset-method gpu $(cat /sys/bus/pci/devices/$gpu/reset_method)"
vmm() {
    name=$1
    shift
    barlab-vmm --timeout 120 "$@" >/tmp/vmm.out 2>&1
    rc=$?
    sed "s/^/$name: /" /tmp/vmm.out
    echo "$name: exit $rc"
}
vmm dma --l1-canary --device $nic $p mode=dma
vmm probe-alone --device $nic,$gpu $p mode=probe
vmm dirty --device $nic,$gpu $p mode=dirty
vmm probe-after-dirty --device $nic,$gpu $p mode=probe
printf "mode=dirty\nmode=probe\n" >/tmp/dirty-probe
vmm batch --device $nic,$gpu --batch /tmp/dirty-probe $p
# The kernel logs at most 10 SMMU events in 5 s, counted from the first
# event it logs after the last window ended: wait until 5.5 s after the
# last logged event (any event suppressed since belongs to that window),
# so that the L1 faults below open a window of their own.
last_event() { dmesg | sed -n "s/^\[ *\([0-9.]*\)\] arm-smmu-v3.*event 0x.*/\1/p" | tail -n 1; }
while last=$(last_event) && [ -n "$last" ] &&
    awk -v f="$last" -v u="$(cut -d" " -f1 /proc/uptime)" "BEGIN { exit !(u < f + 5.5) }"; do
    sleep 0.2
done
# barlab-nic to L1: no driver override, barlab_nic probes it and runs
# its DMA isolation self-test; then the netdev must work.
echo $nic >/sys/bus/pci/devices/$nic/driver/unbind
echo >/sys/bus/pci/devices/$nic/driver_override
insmod /lib/modules/barlab/barlab_nic.ko dma_isolation_test=1 || bl_fail "barlab_nic did not load"
echo "iso: l1-driver $(cat /sys/bus/pci/devices/$nic/dma_isolation)"
ifc=$(ls /sys/bus/pci/devices/$nic/net)
ip link set $ifc up && ip addr add 10.0.2.15/24 dev $ifc
if ping -c 2 -W 5 10.0.2.2 >/dev/null; then echo "iso: l1-ping ok"; else echo "iso: l1-ping failed"; fi
rmmod barlab_nic
# Back to a guest after the L1 driver, then released for good.
bl_bind $nic vfio-pci || bl_fail "barlab-nic did not go back to vfio-pci"
vmm probe-after-driver --device $nic,$gpu $p mode=probe
dmesg | sed "s/^/dmesg: /"
bl_devices final
'''

RUNS = ("dma", "probe-alone", "dirty", "probe-after-dirty", "probe-after-driver")

# What the hostile DMAs must leave in the payload's VALUES records.
DMA_WANT = {
    "dma-tx-ring": {"dma-errors": 1, "errors": 1, "status": 0x4, "head": 0},
    "dma-tx-buffer": {"dma-errors": 1, "errors": 1, "status": 0x1, "tx-frames": 0,
                      "cqe-status": 3},
    "dma-completion": {"dma-errors": 1, "errors": 1, "status": 0x8, "tx-frames": 1,
                       "cq-tail": 0},
    "dma-rx-buffer": {"dma-errors": 1, "errors": 1, "status": 0x2, "rx-frames": 0,
                      "rx-dropped": 1, "rxd-flags": 3},
    "dma-recovers": {"dma-errors": 0, "errors": 0, "status": 0, "tx-frames": 1,
                     "cqe-status": 0, "rx-frames": 1, "arp-reply": 1},
    "l2-canary": {"changed": 0},
}
# Where in the aimed page each of QEMU's guest errors must be.
QEMU_ERRORS = (("TX descriptor", 0), ("TX frame buffer", 0x400), ("completion entry", 0x800),
               ("RX buffer", 0xc00))


def parse_records(lines):
    """Run -> its records (the JSON after "RUN: vmm: record "); the guests
    of a --batch run apart, as RUN-N for guest N."""
    records, guest = {}, None
    for line in lines:
        m = re.match(r"^([a-z-]+): vmm: guest ([0-9]+): ", line)
        if m:
            guest = "%s-%s" % m.groups()
        m = re.match(r"^([a-z-]+): vmm: record (\{.*\})$", line)
        if m:
            run = guest if guest and guest.startswith(m.group(1) + "-") else m.group(1)
            records.setdefault(run, []).append(json.loads(m.group(2)))
    return records


def smmu_events(lines):
    """(event id, input address) of each arm-smmu-v3 event in dmesg (its
    third word; other kernel messages may come between an event's lines)."""
    events = []
    for i, line in enumerate(lines):
        m = re.match(r"^dmesg: .*arm-smmu-v3.*: event (0x[0-9a-f]+) received:", line)
        if m:
            words = []
            for w in lines[i + 1:i + 12]:
                if re.search(r"arm-smmu-v3.*: event ", w) or len(words) == 4:
                    break
                n = re.match(r"^dmesg: .*arm-smmu-v3 [^:]*:\s+0x([0-9a-f]{16})$", w)
                if n:
                    words.append(int(n.group(1), 16))
            events.append((int(m.group(1), 16), words[2] if len(words) > 2 else None))
    return events


def smmu_hits(events, base, aimed):
    """Whether the F_TRANSLATION events in [BASE, BASE + 4 KiB) start with
    the first DMA (offset 0) and stay in AIMED ((lo, hi)...), and why not.
    A DMA the SMMU refuses reaches it in 4-byte pieces, one event each, and
    the kernel logs at most 10 events in 5 s: the first DMA's are there."""
    hits = [a - base for e, a in events if e == 0x10 and a is not None and
            base <= a < base + 4096]
    good = bool(hits) and hits[0] == 0 and all(any(lo <= h < hi for lo, hi in aimed)
                                               for h in hits)
    return good, "faults at offsets %s; all events %s" % (
        [hex(h) for h in hits], [(hex(e), hex(a or 0)) for e, a in events][:12])


def probe_runs(txns, inside):
    """The runs of consecutive transactions INSIDE a probe's cell: other
    guests' (the dirty one's, the driver's) or the probe's own elsewhere
    (its VRAM digest) come between two probes."""
    out, cur = [], []
    for t in txns:
        if inside(t):
            cur.append(t)
        elif cur:
            out.append(cur)
            cur = []
    return out + ([cur] if cur else [])


def txn_shape(ts):
    return [(t["op"], t["addr"], t["size"], t["n"], t["attr"], t["reason"],
             tuple(t["verdict"]), t["data"]) for t in ts]


class IsolationTest(devtest.L1Test):

    def test_hostile_guests(self):
        # QEMU's log (guest errors, the DMA error trace event) beside the
        # run's directory: barlab owns --out.
        qlog = self.scratch("qemu.log")
        r = self.l1("iso", SCRIPT, "--timeout", "900", "--", "-d", "guest_errors",
                    "-trace", "barlab_nic_dma_error", "-D", qlog)
        with self.check("iso-boot"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "barlab-l1: exit 0")
        console = self.console("iso")
        lines = console.splitlines()

        # The payload's reports: every run powered off with no failed report.
        for run in RUNS:
            with self.check("l2-%s-ran" % run):
                if not re.search("^%s: vmm: outcome=ok .*failed=0" % run, console, re.M):
                    self.fail("no outcome=ok with failed=0\n" + "\n".join(
                        x for x in lines if x.startswith(run + ": ")))
        with self.check("l2-batch-ran"):
            n = len(re.findall("^batch: vmm: outcome=ok .*failed=0", console, re.M))
            if n != 2:
                self.fail("%d of the batch's 2 guests ended with outcome=ok and failed=0\n%s"
                          % (n, "\n".join(x for x in lines if x.startswith("batch: "))))

        records = parse_records(lines)
        events = smmu_events(lines)
        self.check_l2_dma(records, events, qlog)
        self.check_l1_driver(console, events)
        self.check_no_state_carried(records, console)

    def verdict(self, name, good, why=""):
        with self.check(name):
            if not good:
                self.fail(why)

    @staticmethod
    def values(records, run):
        return {r["name"]: r for r in records.get(run, []) if r["record"] == "values"}

    def check_l2_dma(self, records, events, qlog):
        """DMA isolation, L2."""
        dma = self.values(records, "dma")
        target = dma.get("dma-target", {})
        canary = [r for r in records.get("dma", []) if r["record"] == "l1-canary"]
        self.verdict("l2-dma-aims-at-the-l1-canary",
                     target.get("l1-canary") == 1 and canary and
                     int(canary[0]["pa"], 16) == target.get("iova"),
                     "target %s, canary %s" % (target, canary))
        for name, want in DMA_WANT.items():
            got = dma.get(name, {})
            diff = {k: got.get(k) for k in want if got.get(k) != want[k]}
            self.verdict("l2-" + name, not diff, "wanted %s, got %s" % (want, got))
        self.verdict("l2-l1-canary-unchanged",
                     len(canary) == 1 and canary[0]["changed"] == 0 and canary[0]["moved"] == 0,
                     "record %s" % canary)
        # L1's arm-smmu-v3 logged fault events for the hostile DMAs in the
        # page aimed at, none outside the aimed ranges.
        page = int(canary[0]["pa"], 16) if canary else -1
        good, why = smmu_hits(events, page, [(0, 0x100), (0x400, 0x400 + 60),
                                             (0x800, 0x840), (0xc00, 0xc40)])
        self.verdict("l2-smmu-fault-events", good, why)
        # QEMU: each failed DMA logged as a guest error and traced with its
        # result.
        try:
            log = qlog.read_text(errors="replace")
        except OSError:
            log = ""
        for what, offset in QEMU_ERRORS:
            self.verdict("qemu-logs-" + what.replace(" ", "-").lower(),
                         re.search(r"barlab-nic: %s: DMA (read|write) of \d+ bytes at 0x%x "
                                   r"failed \(MemTxResult 0x[0-9a-f]+\)"
                                   % (what, page + offset), log),
                         "no guest error for the %s in QEMU's log" % what)
        self.verdict("qemu-traces-dma-errors",
                     len(re.findall(r"barlab_nic_dma_error ", log)) >= 4,
                     "fewer than 4 barlab_nic_dma_error trace events")

    def check_l1_driver(self, console, events):
        """DMA isolation, L1 driver."""
        self.verdict("l1-driver-isolated", "iso: l1-driver isolated" in console,
                     "the driver's dma_isolation attribute did not say 'isolated'")
        m = re.search(r"DMA isolation: isolated \(3 of 3 DMAs to IOVA (0x[0-9a-f]+) refused, "
                      r"dma-errors \+3, canary 0 bytes changed\)", console)
        self.verdict("l1-driver-report", m,
                     "no 'DMA isolation: isolated (3 of 3 ...)' in dmesg")
        if m:
            good, why = smmu_hits(events, int(m.group(1), 16),
                                  [(0, 0x100), (0x400, 0x400 + 60), (0x800, 0x840)])
            self.verdict("l1-smmu-fault-events", good, why)
        self.verdict("l1-nic-works-after", "iso: l1-ping ok" in console,
                     "no ping through the driver afterwards")
        self.verdict("l1-no-kernel-warnings",
                     not re.search(r"^dmesg: .*(WARNING:|BUG:|Oops)", console, re.M),
                     "a kernel splat in dmesg")

    def check_no_state_carried(self, records, console):
        """No state carried between guests."""
        # After the last guest the devices hold nothing: vfio-pci's FLR on
        # release zeroed every counter of both devices and of their ports
        # (the barrier counters aside: they count every DMB/DSB of L1 too).
        try:
            final = json.loads(self.scratch("iso", "final.json").read_text())
        except (OSError, ValueError):
            final = {}
        left = {"%s.%s" % (d, k): v for d, snap in final.items()
                for k, v in snap["counters"].items() if v and not k.endswith("barriers")}
        self.verdict("released-devices-hold-nothing", len(final) == 2 and not left,
                     "counters after the last release: %s" % (left or final))
        for run in RUNS + ("batch",):
            devs = [r for r in records.get(run, []) if r["record"] == "device"]
            self.verdict("vfio-can-reset-" + run, devs and all(r["reset"] == 1 for r in devs),
                         "device records %s" % devs)
        self.verdict("reset-method-flr",
                     re.search(r"^iso: reset-method nic flr", console, re.M) and
                     re.search(r"^iso: reset-method gpu flr", console, re.M),
                     "reset_method is not flr")
        dirty = self.values(records, "dirty")
        self.verdict("dirty-left-state", dirty.get("dirty-nic", {}).get("tx-frames") == 3 and
                     dirty.get("dirty-nic", {}).get("ctrl") == 1 and
                     dirty.get("dirty-gpu", {}).get("status") == 1, "dirty recorded %s" % dirty)
        alone = self.values(records, "probe-alone")
        found = [n for n in alone if n.startswith("found-")]
        self.verdict("probe-finds-a-clean-device", found and all(
            v == 0 for n in found for k, v in alone[n].items()
            if k not in ("record", "vcpu", "name")),
            "the first probe found %s" % {n: alone[n] for n in found})
        resets = [r["bdf"] for r in records.get("batch-1", []) if r["record"] == "device-reset"]
        self.verdict("batch-resets-between-guests", len(resets) == 2 and len(set(resets)) == 2,
                     "device resets before the batch's second guest: %s" % resets)
        self.verdict("batch-dirty-left-state",
                     self.values(records, "batch-0").get("dirty-nic", {}).get("tx-frames") == 3,
                     "the batch's dirty guest recorded %s" % self.values(records, "batch-0"))
        for later, run in (("dirty", "probe-after-dirty"), ("driver", "probe-after-driver"),
                           ("dirty-in-a-batch", "batch-1")):
            after = self.values(records, run)
            for n in sorted(set(alone) | set(after)):
                a = {k: v for k, v in alone.get(n, {}).items() if k != "vcpu"}
                b = {k: v for k, v in after.get(n, {}).items() if k != "vcpu"}
                self.verdict("probe-after-%s-same-%s" % (later, n), a == b,
                             "alone %s, after the %s %s" % (a, later, b))

        # The probe's cell in the device traces: the same transactions in
        # each of the four probes (alone, after the dirty guest, after it
        # in a batch, after the L1 driver).
        probe = [r for r in records.get("probe-alone", []) if r["record"] == "cell-begin"]
        lo, hi = (probe[0]["lo"], probe[0]["hi"]) if probe else (0, 0)
        for name, inside in (("nic", lambda t: lo <= t["addr"] < hi),
                             ("gpu", lambda t: 0x10000 <= t["addr"] < 0x10040)):
            shapes = [txn_shape(run) for run in probe_runs(self.txns(name), inside)]
            self.verdict("probe-same-%s-trace" % name,
                         len(shapes) == 4 and shapes[0] and
                         shapes[0] == shapes[1] == shapes[2] == shapes[3],
                         "the probes' transactions: %s" % shapes)

    def txns(self, device):
        """DEVICE's port transactions, none if its trace is unreadable."""
        return devtest.txns(self.trace(self.scratch("iso", device + ".trace"),
                                       strict=False) or [])


if __name__ == "__main__":
    barlabtest.main()
