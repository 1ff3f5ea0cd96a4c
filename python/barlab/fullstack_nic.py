# SPDX-License-Identifier: GPL-2.0-or-later
"""What barlab-nic saw of a `barlab fullstack` run, as one results line.

Reads the device itself, not the guest's words: its QOM properties as
the L1 run snapshotted them at the end of the run (counters, port
mode) and its push port's trace with the checker's verdicts
(`barlab-mt trace --json`).  nic_line() is

    nic OUTCOME port=MODE seed=N|- violations=N [RULE=N...] tx-stale=N
        tx-late=N errors=N [first-rule=RULE first-access=OP@0xADDR+SIZE
        first-seq=A..B first-after=SEQ:OP@0xADDR+SIZE]

(one line) where OUTCOME is ok (no transaction broke a rule, no doorbell
found its slot stale, no push copy came late) or broken; the first-*
words describe the first transaction with a verdict: the rule, the
transaction (BAR offset and size), the program-order numbers of its
accesses and the access that overtook it.  If the snapshot or the trace
is missing or unreadable the line is `nic failed WHY`.
"""

import json
import subprocess

# Device counters the line carries, as barlab-nic names them.
COUNTERS = ("tx-stale", "tx-late", "errors")


def mt_json(mt, *args):
    """One JSON document per output line of barlab-mt."""
    out = subprocess.run([mt, *args, "--json"], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def access(t):
    """OP@0xADDR+SIZE of a transaction."""
    return "%s@0x%x+%d" % (t["op"], t["addr"], t["size"])


def seq_range(t):
    """The program-order numbers of a transaction's accesses."""
    if t["seq_first"] == t["seq_last"]:
        return str(t["seq_first"])
    return "%d..%d" % (t["seq_first"], t["seq_last"])


def nic_line(mt, devices_path, trace_path):
    """The results line (above) of barlab-mt MT, the device snapshot
    DEVICES_PATH and the push port's trace TRACE_PATH."""
    try:
        with open(devices_path) as f:
            snap = json.load(f)["barlab-nic"]
        props, counters = snap["properties"], snap["counters"]
    except (OSError, ValueError, KeyError) as e:
        return "nic failed no-device-snapshot (%s)" % str(e).replace(" ", "_")
    mode = props.get("port-mode") or "gather"
    try:
        parsed = mt_json(mt, "port-mode", mode)[0]
        txns = [r for r in mt_json(mt, "trace", trace_path) if r["type"] == "txn"]
    except (subprocess.CalledProcessError, ValueError) as e:
        why = getattr(e, "stderr", None) or str(e)
        return "nic failed unreadable-trace (%s)" % why.strip().replace(" ", "_")
    seed = parsed["seed"] if parsed["seed"] is not None else props["reorder-seed"]
    if not (parsed["reorder"] or parsed["speculate"]):
        seed = "-"
    bad = [t for t in txns if t["verdict"]]
    rules = {}
    for t in bad:
        for r in t["verdict"]:
            rules[r] = rules.get(r, 0) + 1
    counters = {c: counters[c] for c in COUNTERS}
    clean = not bad and counters["tx-stale"] == 0 and counters["tx-late"] == 0
    words = ["nic", "ok" if clean else "broken", "port=%s" % mode, "seed=%s" % seed,
             "violations=%d" % len(bad)]
    words += ["%s=%d" % (r, n) for r, n in sorted(rules.items())]
    words += ["%s=%d" % (c, v) for c, v in counters.items()]
    if bad:
        first = bad[0]
        words += ["first-rule=%s" % "+".join(first["verdict"]),
                  "first-access=%s" % access(first), "first-seq=%s" % seq_range(first)]
        if first["verdict_seq"] is not None:
            later = [t for t in txns if t["seq_first"] <= first["verdict_seq"] <= t["seq_last"]]
            words.append("first-after=%d%s" % (first["verdict_seq"],
                                               ":" + access(later[0]) if later else ""))
    return " ".join(words)

