#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hostile guests survived, in one L1 boot (docs/specs/barlab-nic.rst,
# "DMA isolation and reset"):
#   DMA isolation, L1: barlab_nic's DMA isolation self-test
#       (dma_isolation_test=1) aims the device at an unmapped IOVA from L1:
#       "isolated", SMMU fault events in that page, and the netdev pings
#       slirp's gateway afterwards.
#   DMA isolation, L2: hostile.elf mode=dma under barlab-vmm --l1-canary
#       aims barlab-nic's TX ring, a frame buffer, the completion ring and
#       an RX buffer at a page of L1 memory outside what the VMM mapped for
#       DMA.  Each DMA fails (dma-errors +1 and a STATUS bit each, from the
#       payload's VALUES records), L1's arm-smmu-v3 logs fault events in
#       that page, QEMU logs the guest errors and traces the MemTxResults,
#       neither the L1 page nor the guest's own canary changes, and a
#       correct post afterwards completes and slirp answers it.
#   No state carried between guests: hostile.elf mode=probe records every
#       register and counter of both devices it finds and what its
#       workload leaves; run alone, after mode=dirty (rings, masks,
#       errors, an ARP answer waiting for an RX buffer, a held slot, half a
#       descriptor in the gather buffer, a GPU mode and picture) and after
#       the L1 driver, it records the same, and the device traces show the
#       same transactions for its cell; so does a probe after a dirty guest
#       in one barlab-vmm --batch, which resets the devices between its
#       guests (VFIO_DEVICE_RESET).  vfio-pci can reset both devices (reset_method flr;
#       VFIO_DEVICE_FLAGS_RESET, which QEMU's vfio-pci needs in order not
#       to warn "no available reset mechanism"), and after the last guest
#       every counter of both devices and their ports reads 0 (QMP).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
. "$ROOT/tests/lib/l1.sh"
MT=${BARLAB_MT:-$("$BARLAB" path barlab-mt)}

# QEMU's log (guest errors, the DMA error trace event) beside the run's
# directory: barlab owns --out.
qlog=$HARNESS_TMP/qemu.log
l1 iso '
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
' --timeout 900 -- -d guest_errors -trace barlab_nic_dma_error -D "$qlog"
expect iso-boot 0 "barlab-l1: exit 0"
l1_console iso >"$HARNESS_TMP/console.txt"

# The payload's reports: every run powered off with no failed report.
for r in dma probe-alone dirty probe-after-dirty probe-after-driver; do
    if grep -qE "^$r: vmm: outcome=ok .*failed=0" "$HARNESS_TMP/console.txt"; then
        ok "l2-$r-ran"
    else
        grep -E "^$r: " "$HARNESS_TMP/console.txt" >"$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
        bad "l2-$r-ran" "no outcome=ok with failed=0"
    fi
done

n=$(grep -cE "^batch: vmm: outcome=ok .*failed=0" "$HARNESS_TMP/console.txt")
if [ "$n" = 2 ]; then
    ok l2-batch-ran
else
    grep -E "^batch: " "$HARNESS_TMP/console.txt" >"$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
    bad l2-batch-ran "$n of the batch's 2 guests ended with outcome=ok and failed=0"
fi

# The records (JSON after "RUN: vmm: record "), the SMMU's events and
# QEMU's log, judged in one place; one "ok NAME" or "bad NAME WHY" line
# per check.
for t in nic gpu; do
    "$MT" trace "$HARNESS_TMP/iso/$t.trace" --json >"$HARNESS_TMP/$t.json" 2>/dev/null ||
        : >"$HARNESS_TMP/$t.json"
done
python3 - "$HARNESS_TMP/console.txt" "$qlog" "$HARNESS_TMP/nic.json" \
    "$HARNESS_TMP/gpu.json" "$HARNESS_TMP/iso/final.json" >"$HARNESS_TMP/verdicts" <<'PY'
import json, re, sys
console, qlog, nic_trace, gpu_trace, final_path = sys.argv[1:6]
lines = open(console, errors="replace").read().splitlines()

def verdict(name, good, why=""):
    print("ok %s" % name if good else "bad %s %s" % (name, why))

# run -> list of records; run -> {values name: record}
records = {}
guest = None
for l in lines:
    # The guests of a --batch run apart: RUN-N for guest N.
    m = re.match(r"^([a-z-]+): vmm: guest ([0-9]+): ", l)
    if m:
        guest = "%s-%s" % m.groups()
    m = re.match(r"^([a-z-]+): vmm: record (\{.*\})$", l)
    if m:
        run = guest if guest and guest.startswith(m.group(1) + "-") else m.group(1)
        records.setdefault(run, []).append(json.loads(m.group(2)))
def values(run):
    return {r["name"]: r for r in records.get(run, []) if r["record"] == "values"}

# ---- DMA isolation, L2 ----
dma = values("dma")
target = dma.get("dma-target", {})
canary = [r for r in records.get("dma", []) if r["record"] == "l1-canary"]
verdict("l2-dma-aims-at-the-l1-canary",
        target.get("l1-canary") == 1 and canary and int(canary[0]["pa"], 16) == target.get("iova"),
        "target %s, canary %s" % (target, canary))
want = {
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
for name, w in want.items():
    got = dma.get(name, {})
    diff = {k: got.get(k) for k in w if got.get(k) != w[k]}
    verdict("l2-" + name, not diff, "wanted %s, got %s" % (w, got))
verdict("l2-l1-canary-unchanged",
        len(canary) == 1 and canary[0]["changed"] == 0 and canary[0]["moved"] == 0,
        "record %s" % canary)

# L1's arm-smmu-v3 logged fault events for the hostile DMAs: the input
# address (the event's third word) in the page aimed at.  A DMA the SMMU
# refuses reaches it in 4-byte pieces, one event each, and the kernel logs
# at most 10 events in 5 s: the first DMA's (the TX ring, at offset 0) are
# there, and none outside the aimed ranges.
# Other kernel messages may come between an event's lines.
events = []
for i, l in enumerate(lines):
    m = re.match(r"^dmesg: .*arm-smmu-v3.*: event (0x[0-9a-f]+) received:", l)
    if m:
        words = []
        for w in lines[i + 1:i + 12]:
            if re.search(r"arm-smmu-v3.*: event ", w) or len(words) == 4:
                break
            n = re.match(r"^dmesg: .*arm-smmu-v3 [^:]*:\s+0x([0-9a-f]{16})$", w)
            if n:
                words.append(int(n.group(1), 16))
        events.append((int(m.group(1), 16), words[2] if len(words) > 2 else None))
page = int(canary[0]["pa"], 16) if canary else -1
def smmu_hits(base, aimed):
    """The offsets of the F_TRANSLATION events in [base, base + 4 KiB), and
    whether they start with the first DMA and stay in @aimed ((lo, hi)...)."""
    hits = [a - base for e, a in events if e == 0x10 and a is not None and
            base <= a < base + 4096]
    good = bool(hits) and hits[0] == 0 and all(any(lo <= h < hi for lo, hi in aimed)
                                               for h in hits)
    return good, "faults at offsets %s; all events %s" % (
        [hex(h) for h in hits], [(hex(e), hex(a or 0)) for e, a in events][:12])
good, why = smmu_hits(page, [(0, 0x100), (0x400, 0x400 + 60), (0x800, 0x840),
                             (0xc00, 0xc40)])
verdict("l2-smmu-fault-events", good, why)

# QEMU: each failed DMA logged as a guest error and traced with its result.
log = open(qlog, errors="replace").read() if qlog else ""
for what in ("TX descriptor", "TX frame buffer", "completion entry", "RX buffer"):
    verdict("qemu-logs-" + what.replace(" ", "-").lower(),
            re.search(r"barlab-nic: %s: DMA (read|write) of \d+ bytes at 0x%x failed "
                      r"\(MemTxResult 0x[0-9a-f]+\)" % (what, page + {"TX descriptor": 0,
                      "TX frame buffer": 0x400, "completion entry": 0x800,
                      "RX buffer": 0xc00}[what]), log),
            "no guest error for the %s in QEMU's log" % what)
verdict("qemu-traces-dma-errors", len(re.findall(r"barlab_nic_dma_error ", log)) >= 4,
        "fewer than 4 barlab_nic_dma_error trace events")

# ---- DMA isolation, L1 driver ----
c = "\n".join(lines)
verdict("l1-driver-isolated", "iso: l1-driver isolated" in c,
        "the driver's dma_isolation attribute did not say 'isolated'")
m = re.search(r"DMA isolation: isolated \(3 of 3 DMAs to IOVA (0x[0-9a-f]+) refused, "
              r"dma-errors \+3, canary 0 bytes changed\)", c)
verdict("l1-driver-report", m, "no 'DMA isolation: isolated (3 of 3 ...)' in dmesg")
if m:
    base = int(m.group(1), 16)
    good, why = smmu_hits(base, [(0, 0x100), (0x400, 0x400 + 60), (0x800, 0x840)])
    verdict("l1-smmu-fault-events", good, why)
verdict("l1-nic-works-after", "iso: l1-ping ok" in c, "no ping through the driver afterwards")
verdict("l1-no-kernel-warnings", not re.search(r"^dmesg: .*(WARNING:|BUG:|Oops)", c, re.M),
        "a kernel splat in dmesg")

# ---- No state carried between guests ----
# After the last guest the devices hold nothing: vfio-pci's FLR on
# release zeroed every counter of both devices and of their ports (the
# barrier counters aside: they count every DMB/DSB of L1 too).
try:
    final = json.load(open(final_path))
except (OSError, ValueError):
    final = {}
left = {"%s.%s" % (d, k): v for d, snap in final.items() for k, v in snap["counters"].items()
        if v and not k.endswith("barriers")}
verdict("released-devices-hold-nothing", len(final) == 2 and not left,
        "counters after the last release: %s" % (left or final))
for run in ("dma", "probe-alone", "dirty", "probe-after-dirty", "probe-after-driver", "batch"):
    devs = [r for r in records.get(run, []) if r["record"] == "device"]
    verdict("vfio-can-reset-" + run, devs and all(r["reset"] == 1 for r in devs),
            "device records %s" % devs)
verdict("reset-method-flr", re.search(r"^iso: reset-method nic flr", c, re.M) and
        re.search(r"^iso: reset-method gpu flr", c, re.M), "reset_method is not flr")
dirty = values("dirty")
verdict("dirty-left-state", dirty.get("dirty-nic", {}).get("tx-frames") == 3 and
        dirty.get("dirty-nic", {}).get("ctrl") == 1 and
        dirty.get("dirty-gpu", {}).get("status") == 1, "dirty recorded %s" % dirty)
alone = values("probe-alone")
found = [n for n in alone if n.startswith("found-")]
verdict("probe-finds-a-clean-device", found and all(
    v == 0 for n in found for k, v in alone[n].items() if k not in ("record", "vcpu", "name")),
    "the first probe found %s" % {n: alone[n] for n in found})
resets = [r["bdf"] for r in records.get("batch-1", []) if r["record"] == "device-reset"]
verdict("batch-resets-between-guests", len(resets) == 2 and len(set(resets)) == 2,
        "device resets before the batch's second guest: %s" % resets)
verdict("batch-dirty-left-state", values("batch-0").get("dirty-nic", {}).get("tx-frames") == 3,
        "the batch's dirty guest recorded %s" % values("batch-0"))
for later, run in (("dirty", "probe-after-dirty"), ("driver", "probe-after-driver"),
                   ("dirty-in-a-batch", "batch-1")):
    after = values(run)
    for n in sorted(set(alone) | set(after)):
        a = {k: v for k, v in alone.get(n, {}).items() if k != "vcpu"}
        b = {k: v for k, v in after.get(n, {}).items() if k != "vcpu"}
        verdict("probe-after-%s-same-%s" % (later, n), a == b,
                "alone %s, after the %s %s" % (a, later, b))

# The probe's cell in the device traces: the same transactions in each of
# the four probes (alone, after the dirty guest, after it in a batch,
# after the L1 driver).
# Each probe's transactions in its cell are one run, and other guests'
# (the dirty one's, the driver's) or the probe's own elsewhere (its VRAM
# digest) come between two probes.
def txns(path):
    try:
        return [r for r in map(json.loads, open(path)) if r.get("type") == "txn"]
    except (OSError, ValueError):
        return []
def shape(ts):
    return [(t["op"], t["addr"], t["size"], t["n"], t["attr"], t["reason"],
             tuple(t["verdict"]), t["data"]) for t in ts]
def runs(ts, inside):
    out, cur = [], []
    for t in ts:
        if inside(t):
            cur.append(t)
        elif cur:
            out.append(cur)
            cur = []
    return out + ([cur] if cur else [])
probe = [r for r in records.get("probe-alone", []) if r["record"] == "cell-begin"]
lo, hi = (probe[0]["lo"], probe[0]["hi"]) if probe else (0, 0)
for name, path, inside in (
        ("nic", nic_trace, lambda t: lo <= t["addr"] < hi),
        ("gpu", gpu_trace, lambda t: 0x10000 <= t["addr"] < 0x10040)):
    shapes = [shape(r) for r in runs(txns(path), inside)]
    verdict("probe-same-%s-trace" % name,
            len(shapes) == 4 and shapes[0] and shapes[0] == shapes[1] == shapes[2] == shapes[3],
            "the probes' transactions: %s" % shapes)
PY
while read -r v name why; do
    if [ "$v" = ok ]; then ok "$name"; else
        echo "    $why" >"$HARNESS_TMP/out"; : >"$HARNESS_TMP/err"
        bad "$name" "${why:0:200}"
    fi
done <"$HARNESS_TMP/verdicts"
[ -s "$HARNESS_TMP/verdicts" ] || bad iso-verdicts "the judging script printed nothing"

harness_summary
