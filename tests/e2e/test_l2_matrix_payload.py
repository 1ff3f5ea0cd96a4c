#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The matrix payload end to end: barlab-vmm in L1 runs matrix.elf as an
L2 guest with barlab-gpu's VRAM passed through, and a few cells of the
matrix come out as the oracle says, on the console and in the device
trace.  Each run below has its own 8 KiB group at base; where a pattern's
bytes are, the payload says in its cell-begin record (barlab-vmm prints
it), which is where the test looks.
  any     stage-1 Normal-NC (0x44): all patterns complete, on first touch
          and on a TLB hit; burst64_str arrives as one 64-byte write at its
          slot, Normal-NC at both stages; a TLB-hit run primes the priming
          slot of the pattern's page (both pages for the page-crossing
          store) before every pattern; every cell's end record says it
          completed;
  device  the same code: the aligned STR completes, the unaligned one
          takes a stage-2 alignment fault and L1 KVM fails KVM_RUN with
          EFAULT (outcome kvm-run-efault); with --inject-align KVM delivers
          it to the guest as an EL1 data abort with FSC 0x21, and the next
          pattern runs;
  every   policy: under stage-1 Device-nGnRE (0x04) the unaligned STR
          takes an alignment fault at EL1 (FSC 0x21), and its end record
          has the syndrome (EC 0x25, DFSC 0x21, WnR 1); the stage-2 fault
          that ends the VM has KVM's ESR_EL2 as a record (EC 0x24, ISV 1,
          SAS 3, SRT 3, WnR 1, DFSC 0x21).
  idioms  the driver idioms (barlab-mt patterns, targets push and rc) on
          barlab-nic's push pages, its port reordering and reading
          speculatively: every verdict the port's checker gives a trial is
          one the oracle says is possible for the cell; a doorbell gathered
          into a 64-byte copy is always reported (X2), a speculative read
          reaches the read-to-clear STATUS in some of 16 trials (X1); under
          Device-nGnRE nothing is reported.
  bar0    barlab-gpu's register BAR (non-prefetchable), its scratch window
          and event queues, BAR0's port speculating: under `any` (stage 2
          Normal-NC) the unaligned store completes, the burst arrives as one
          64-byte write and a speculative read reaches a read-to-clear
          EVENTS in some of 16 trials (X1); under `prefetchable` (the 2021
          RFC) the same BAR stays Device-nGnRE: the burst arrives as eight
          8-byte writes, nothing is read speculatively, and the unaligned
          store ends the VM; a group outside the scratch window is refused.
Bad arguments end the payload with "matrix error:".  Two L1 boots; the
policy changes inside L1 between runs."""

import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import l2test  # noqa: E402

# In L1: each run's output lines prefixed with "NAME: ", then "NAME: exit N".
L1_LIB = r'''gpu=$(bl_find $BL_GPU) || bl_fail "no barlab-gpu"
nic=$(bl_find $BL_NIC) || bl_fail "no barlab-nic"
mx() { mxd "$gpu" "$@"; }
# mxd DEVICES NAME ARGS...: matrix.elf with DEVICES passed through.
mxd() {
    devs=$1
    name=$2
    shift 2
    barlab-vmm --timeout 60 --device "$devs" /lib/barlab/payloads/matrix.elf "$@" \
        >/tmp/vmm.out 2>&1
    rc=$?
    sed "s/^/$name: /" /tmp/vmm.out
    echo "$name: exit $rc"
}
'''

# barlab-nic for the driver idioms: its push port reorders and reads
# speculatively (seeded), STATUS read-to-clear as the oracle's window
# declares it, and room for four runs' push pages (each run's pattern k,
# trial t, at nic= + 4 KiB * (k * trials + t)).
NIC_PORT = "reorder+speculate:7"
NIC_PROPS = "port-mode=%s,push-status-rc=on,push-size=512K" % NIC_PORT


def bar0_group():
    """barlab-gpu's BAR0 groups: in its scratch window, where the
    oracle's window gpu-scratch says it is."""
    scn = "cpu=max bar=nonpref policy=any s1=normal-NC pattern=str8 touch=first\n"
    out = subprocess.run([str(l2test.mt_path()), "oracle", "/dev/stdin", "--json"],
                                input=scn, stdout=subprocess.PIPE, text=True,
                                check=True).stdout
    return json.loads(out.splitlines()[0])["window_base"]


def records(console, run):
    """Run RUN's barlab-vmm records ("vmm: record {JSON}" lines)."""
    prefix = run + ": vmm: record "
    return [json.loads(line[len(prefix):]) for line in console.splitlines()
            if line.startswith(prefix)]


def record(console, run, rtype, cell, key):
    """Field KEY of run RUN's first record of RTYPE for CELL, or None."""
    for r in records(console, run):
        if r["record"] == rtype and r.get("cell", cell) == cell:
            return r.get(key)
    return None


def txn_ok(path, addr, size, n, s1, s2):
    """Exactly the transactions at [ADDR, ADDR + 256) of a write of SIZE
    bytes at ADDR gathered from N accesses, with those stage-1 and stage-2
    attributes; where N > 1 an exit to L1 between two stores may drain the
    gather buffer early (permitted, and '~' in the matrix): then
    contiguous writes that add up to the same and still gather."""
    txns = [r for r in map(json.loads, open(path))
            if r.get("type") == "txn" and addr <= r["addr"] < addr + 256]
    shown = ["addr %#x %s size %d n %d s1 %#x s2 %#x attr %#x flags %s" % (
        t["addr"], t["op"], t["size"], t["n"], t["s1"], t["s2"], t["attr"], t["flags"])
        for t in txns]
    ok = len(txns) >= 1 and all(t["op"] == "W" and (t["s1"], t["s2"]) == (s1, s2) and
                                "nostage2" not in t["flags"] for t in txns)
    txns.sort(key=lambda t: t["addr"])
    ok = ok and txns[0]["addr"] == addr and all(a["addr"] + a["size"] == b["addr"]
                                                for a, b in zip(txns, txns[1:]))
    ok = ok and sum(t["size"] for t in txns) == size and sum(t["n"] for t in txns) == n
    ok = ok and (len(txns) == 1 or (n > 1 and max(t["n"] for t in txns) > 1))
    return ok, shown


class MatrixPayloadTest(l2test.L2Test):

    def trace_json(self, boot, name="gpu"):
        """Boot BOOT's trace NAME.trace as JSON lines; its path."""
        path = self.scratch("%s-%s.json" % (boot, name))
        if not path.is_file() or not path.stat().st_size:
            path.write_text(l2test.mt("trace", self.scratch(boot, name + ".trace"), "--json"))
        return path

    def run_result(self, console, run):
        """Run RUN of a boot as a Result: its lines (prefix stripped) and
        the status of its "exit N" line."""
        text = l2test.L2Test.run_text(console, run)
        m = re.search(r"^exit ([0-9]+)$", text, re.M)
        return barlabtest.Result(["run", run], int(m.group(1)) if m else -1, text, "")

    def expect(self, name, result, status, *pats):
        with self.check(name):
            self.assertStatus(result, status)
            self.assertOutput(result, *pats)

    def expect_txn(self, name, boot, addr, size, n, s1, s2):
        with self.check(name):
            self.assertIsNotNone(addr, "no cell-begin record")
            ok, shown = txn_ok(self.trace_json(boot), addr, size, n, s1, s2)
            self.assertTrue(ok, "transactions at %#x:\n%s" % (addr, "\n".join(shown)))

    def expect_el1_alignment_fault(self, name, con, run):
        """str8_unaligned of run RUN faulted at EL1 (FSC 0x21) at its
        address, and the run went on."""
        far = "%x" % ((record(con, run, "cell-begin", "str8_unaligned", "origin") or 0) + 4)
        self.expect(name, self.run_result(con, run), 0,
                    r"^cell str8_unaligned fault ec=0x25 fsc=0x21 far=0x[0-9a-f]*%s$" % far,
                    r"^matrix done$", r"^vmm: outcome=ok ")
        with self.check(name + "-syndrome"):
            got = [record(con, run, "cell-end", "str8_unaligned", k) for k in ("ec", "dfsc", "wnr")]
            self.assertEqual(got, [37, 33, 1])

    def test_1_any(self):
        pats = l2test.patterns("bar")
        idioms = l2test.patterns("push", "rc")
        if not pats:
            with self.check("patterns"):
                self.fail("barlab-mt patterns listed nothing")
            return
        every = ",".join(pats)
        idl = ",".join(idioms)
        b0 = bar0_group()
        # Boot 1: vfio-pci policy any, then device, then prefetchable.
        r = self.boot_l1("any", L1_LIB + r'''
mx any44 mair=0x44 touch=first base=0x0 patterns={all}
mx any44-hit mair=0x44 touch=hit base=0x2000 patterns={all}
mx any04 mair=0x04 touch=first base=0x4000 patterns=str8_unaligned,str8
mx bar0-any44 mair=0x44 touch=first base={b0:#x} \
    patterns=str8_unaligned,burst64_str,rc_read_spec bar=0 evq=0 trials=16
mxd "$gpu,$nic" idioms-any44 mair=0x44 touch=first base=0xc000 \
    patterns={idl} nic=0x0 trials=2
mxd "$gpu,$nic" idioms-any0c mair=0x0c touch=first base=0xc000 \
    patterns={idl} nic=0xc000 trials=1
mxd "$gpu,$nic" idioms-rc44 mair=0x44 touch=first base=0xc000 \
    patterns=rc_read_spec nic=0x20000 trials=16
bl_policy device
mxd "$gpu,$nic" idioms-device44 mair=0x44 touch=first base=0xc000 \
    patterns={idl} nic=0x12000 trials=2
mx device44 mair=0x44 touch=first base=0x6000 patterns=str8,str8_unaligned,stp16
mx device04 mair=0x04 touch=first base=0x8000 patterns=str8_unaligned
bl_policy prefetchable
mx prefetchable04 mair=0x04 touch=hit base=0xa000 patterns=str8_unaligned
mx bar0-pref44 mair=0x44 touch=first base={b2:#x} \
    patterns=burst64_str,rc_read_spec,str8_unaligned bar=0 evq=16 trials=16
mx bar0-outside-scratch mair=0x44 touch=first base=0x0 patterns=str8 bar=0
mx unknown-pattern mair=0x44 touch=first base=0x0 patterns=str8,str9
mx base-not-a-group mair=0x44 touch=first base=0x1000 patterns=str8
'''.format(all=every, b0=b0, b2=b0 + 0x2000, idl=idl),
            "--policy", "any", "--timeout", "600", "--device-props", "nic," + NIC_PROPS,
            "--device-props", "gpu,regs-port-mode=" + NIC_PORT)
        self.expect("any-boot", r, 0, "barlab-l1: exit 0")
        con = self.console("any")

        all_ok = ["^cell %s ok$" % p for p in pats]
        self.expect("any44-all-patterns-complete", self.run_result(con, "any44"), 0,
                    *all_ok, r"^matrix done$", r"^vmm: outcome=ok ")
        self.expect_txn("any44-burst64_str-one-64-byte-write", "any",
                        record(con, "any44", "cell-begin", "burst64_str", "origin"),
                        64, 8, 0x44, 0x5)
        with self.check("any44-every-end-record-completed"):
            done = [p for p in pats if record(con, "any44", "cell-end", p, "result") == "completed"]
            self.assertEqual(done, pats)
        self.expect("any44-hit-all-patterns-complete", self.run_result(con, "any44-hit"), 0,
                    *all_ok, r"^matrix done$", r"^vmm: outcome=ok ")
        self.expect_txn("any44-hit-burst64_str-one-64-byte-write", "any",
                        record(con, "any44-hit", "cell-begin", "burst64_str", "origin"),
                        64, 8, 0x44, 0x5)
        # One priming load per pattern in its page's slot 15, two for the
        # store across the pages: 0x2f00 and 0x3f00 of the group at 0x2000.
        with self.check("any44-hit-primes-each-page"):
            recs = [t for t in map(json.loads, open(self.trace_json("any")))
                    if t.get("type") == "txn"]
            primes = [t for t in recs if t["addr"] in (0x2f00, 0x3f00)]
            kinds = {(t["op"], t["size"]) for t in primes}
            self.assertTrue(len(primes) == len(pats) + 1 and kinds == {("R", 8)},
                            "%d priming loads %s" % (len(primes), sorted(kinds)))

        # The driver idioms: every trial of every cell completes, and the
        # port's checker judged each trial's transactions.  Whatever it
        # reported the oracle says is possible for that cell under the
        # port's mode, and where the oracle says a violation is certain (a
        # doorbell gathered into the copy) it is there; under Device-nGnRE
        # nothing is reported at all.
        idioms_ok = ["^cell %s ok$" % p for p in idioms]
        for run in ("idioms-any44", "idioms-any0c", "idioms-device44"):
            self.expect(run + "-complete", self.run_result(con, run), 0, *idioms_ok,
                        r"^matrix done$", r"^vmm: outcome=ok ")
        self.expect("idioms-rc44-complete", self.run_result(con, "idioms-rc44"), 0,
                    r"^cell rc_read_spec ok$", r"^matrix done$", r"^vmm: outcome=ok ")
        with self.check("idioms-verdicts-as-the-oracle-predicts"):
            scn = self.scratch("idioms.scn")
            scn.write_text("cpu=max bar=pref policy=any,device s1=normal-NC,device-GRE "
                           "pattern=%s touch=first port=%s\n" % (idl, NIC_PORT))
            oracle = [json.loads(line) for line in l2test.mt("oracle", scn, "--json").splitlines()]
            nic = self.trace_json("any", "nic")
            lines, bad = self.idiom_verdicts(con, oracle, nic)
            for line in lines:
                print("#     " + line)
            self.assertFalse(bad, "\n".join(lines))

        # barlab-gpu's register BAR: the same code under `any` and under the
        # 2021 RFC's `prefetchable`, told apart by what reached BAR0
        # (gpu-regs.trace).
        self.expect("bar0-any44-complete", self.run_result(con, "bar0-any44"), 0,
                    r"^cell str8_unaligned ok$", r"^cell burst64_str ok$",
                    r"^cell rc_read_spec ok$", r"^matrix done$", r"^vmm: outcome=ok ")
        self.expect("bar0-pref44-vm-dies-at-the-unaligned-store",
                    self.run_result(con, "bar0-pref44"), 2, r"^cell burst64_str ok$",
                    r"^cell rc_read_spec ok$", r"^cell str8_unaligned begin$",
                    r'^vmm: outcome=kvm-run-efault .*kvm="Unsupported FSC: EC=0x24 xFSC=0x21 ')
        self.expect("bar0-outside-scratch-error", self.run_result(con, "bar0-outside-scratch"), 1,
                    r"^matrix error: base=0x0: on BAR0 a group must lie in the scratch window")
        with self.check("bar0-any-gathers-and-speculates-prefetchable-does-not"):
            lines, bad = self.bar0_shapes(con, self.trace_json("any", "gpu-regs"))
            for line in lines:
                print("#     " + line)
            self.assertFalse(bad, "\n".join(lines))

        self.expect_el1_alignment_fault("any04-el1-alignment-fault", con, "any04")
        self.expect("any04-next-pattern-runs", self.run_result(con, "any04"), 0,
                    r"^cell str8 ok$")
        self.expect_el1_alignment_fault("device04-el1-alignment-fault", con, "device04")
        self.expect_el1_alignment_fault("prefetchable04-el1-alignment-fault", con,
                                        "prefetchable04")

        d44 = self.run_result(con, "device44")
        self.expect("device44-vm-dies-at-the-unaligned-store", d44, 2, r"^cell str8 ok$",
                    r"^cell str8_unaligned begin$",
                    r'^vmm: outcome=kvm-run-efault .*kvm="Unsupported FSC: EC=0x24 xFSC=0x21 ')
        with self.check("device44-nothing-after-the-fault"):
            self.assertNoLine(d44.out, r"^cell str8_unaligned (ok|fault)|^cell stp16|"
                              r"^matrix done", "the output of run device44")
        with self.check("device44-efault-record-has-kvm-syndrome"):
            got = [record(con, "device44", "kvm-run-efault", "x", k)
                   for k in ("el", "ec", "isv", "sas", "srt", "sf", "wnr", "dfsc")]
            self.assertEqual(got, [2, 36, 1, 3, 3, 1, 1, 33])
        with self.check("device44-unaligned-store-never-arrives"):
            at = record(con, "device44", "cell-begin", "str8_unaligned", "origin")
            self.assertIsNotNone(at, "no cell-begin record")
            self.assertEqual(l2test.trace_shape(self.trace_json("any"), at, at + 256), "")

        self.expect("unknown-pattern-error", self.run_result(con, "unknown-pattern"), 1,
                    r"^matrix error: unknown pattern 'str9'$",
                    r"^vmm: outcome=guest-fail .*abort=\"unknown pattern 'str9'\"")
        self.expect("base-not-a-group-error", self.run_result(con, "base-not-a-group"), 1,
                    r"^matrix error: base=0x1000 is not an 8 KiB group")

    @staticmethod
    def idiom_verdicts(con, oracle, nic_trace):
        """The checker's verdicts per trial window against the oracle's
        possible violations: (lines to show, how many are wrong)."""
        runs = {"idioms-any44": ("any", "0x44"), "idioms-any0c": ("any", "0xc"),
                "idioms-device44": ("device", "0x44"), "idioms-rc44": ("any", "0x44")}
        pred = {(c["policy"], c["s1"], c["pattern"]): set(c["violations_possible"])
                for c in oracle}
        wins = [(run, r["cell"], r["lo"], r["hi"]) for run in runs for r in records(con, run)
                if r["record"] == "cell-begin"]
        txns = [t for t in map(json.loads, open(nic_trace)) if t.get("type") == "txn"]
        lines, bad, seen, hits = [], 0, {}, {}
        for run, pat, lo, hi in wins:
            mine = [t for t in txns if lo <= t["addr"] < hi]
            got = set(v for t in mine for v in t["verdict"])
            policy, s1 = runs[run]
            possible = pred[(policy, "0x%02x" % int(s1, 16), pat)]
            seen.setdefault((run, pat), set()).update(got)
            h = hits.setdefault((run, pat), [0, 0])
            h[0] += bool(got)
            h[1] += 1
            lines.append("%-16s %-13s %#07x %2d txns verdicts %-8s possible %s" % (
                run, pat, lo, len(mine), ",".join(sorted(got)) or "-",
                ",".join(sorted(possible)) or "-"))
            if not mine or not got <= possible:
                bad += 1
        for (run, pat), got in seen.items():
            if pat == "bf_copy64_db" and runs[run][0] == "any" and "X2" not in got:
                lines.append("%s %s: the gathered doorbell was not reported" % (run, pat))
                bad += 1
            if run == "idioms-rc44" and "X1" not in got:
                lines.append("%s: no speculative read of STATUS in 16 trials" % run)
                bad += 1
            if runs[run][0] == "device" and got:
                lines.append("%s %s: a verdict under Device-nGnRE" % (run, pat))
                bad += 1
        for (run, pat), (n, trials) in hits.items():
            if n:
                lines.append("%s %s: %s in %d of %d trials" % (
                    run, pat, ",".join(sorted(seen[(run, pat)])), n, trials))
        lines.append("%d trial windows, %d wrong" % (len(wins), bad))
        if len(wins) != 5 * 6 + 16:
            bad += 1
        return lines, bad

    @staticmethod
    def bar0_shapes(con, regs_trace):
        """Normal-NC gathers the eight stores of BAR0's burst (into one
        line, or pieces of it where an exit to L1 drained the buffer
        between two stores: permitted); Device-nGnRE delivers them one by
        one and reads nothing speculatively: (lines, how many wrong)."""
        wins = {}
        for run in ("bar0-any44", "bar0-pref44"):
            for r in records(con, run):
                if r["record"] == "cell-begin":
                    wins.setdefault((run, r["cell"]), []).append((r["lo"], r["hi"]))
        txns = [t for t in map(json.loads, open(regs_trace)) if t.get("type") == "txn"]

        def mine(run, cell):
            return [[t for t in txns if lo <= t["addr"] < hi]
                    for lo, hi in wins.get((run, cell), [])]

        def gathered(got):
            return (sum(s for s, _ in got) == 64 and sum(n for _, n in got) == 8
                    and max(n for _, n in got) > 1)

        lines, bad = [], 0
        for run, s2, shape_ok in (("bar0-any44", 5, gathered),
                                  ("bar0-pref44", 1, lambda got: got == [(8, 1)] * 8)):
            burst = (mine(run, "burst64_str") or [[]])[0]
            got = [(t["size"], t["n"]) for t in burst]
            lines.append("%s burst64_str: %s, stage 2 %s" % (run, got,
                                                             sorted({t["s2"] for t in burst})))
            if not got or not shape_ok(got) or {t["s2"] for t in burst} != {s2} or \
                    any(t["op"] != "W" for t in burst):
                bad += 1
            trials = mine(run, "rc_read_spec")
            nhits = sum(any(t["verdict"] for t in ts) for ts in trials)
            verdicts = {v for ts in trials for t in ts for v in t["verdict"]}
            spec = sum("spec" in t["flags"].split("|") for ts in trials for t in ts)
            lines.append("%s rc_read_spec: %d trials, X1 in %d, verdicts %s, %d speculative "
                         "reads" % (run, len(trials), nhits, sorted(verdicts), spec))
            if len(trials) != 16 or not verdicts <= {"X1"}:
                bad += 1
            if run == "bar0-any44" and not nhits:
                lines.append("no speculative read of EVENTS in 16 trials under Normal-NC")
                bad += 1
            if run == "bar0-pref44" and (nhits or spec):
                lines.append("a speculative read of the register BAR under Device-nGnRE")
                bad += 1
        unaligned = (mine("bar0-pref44", "str8_unaligned") or [[]])[0]
        if unaligned:
            lines.append("the unaligned store that ended the VM reached BAR0: %s" % unaligned)
            bad += 1
        return lines, bad

    def test_2_inject(self):
        # Boot 2: KVM injects the stage-2 alignment fault instead of
        # failing KVM_RUN.
        r = self.boot_l1("inject", L1_LIB + '''
mx device44 mair=0x44 touch=first base=0x0 patterns=str8,str8_unaligned,stp16
''', "--policy", "device", "--inject-align", "--timeout", "600")
        self.expect("inject-boot", r, 0, "barlab-l1: exit 0")
        con = self.console("inject")
        at = record(con, "device44", "cell-begin", "str8_unaligned", "origin")
        far = "%x" % ((at or 0) + 4)
        self.expect("inject-device44-el1-fault-fsc-0x21", self.run_result(con, "device44"), 0,
                    r"^cell str8 ok$",
                    r"^cell str8_unaligned fault ec=0x25 fsc=0x21 far=0x[0-9a-f]*%s$" % far,
                    r"^cell stp16 ok$", r"^matrix done$", r"^vmm: outcome=ok ")
        # KVM builds the injected syndrome itself: EC 0x25, no ISV, WnR kept.
        with self.check("inject-device44-injected-syndrome"):
            got = [record(con, "device44", "cell-end", "str8_unaligned", k)
                   for k in ("ec", "isv", "wnr", "dfsc")]
            self.assertEqual(got, [37, 0, 1, 33])
        with self.check("inject-device44-unaligned-store-never-arrives"):
            self.assertIsNotNone(at, "no cell-begin record")
            self.assertEqual(l2test.trace_shape(self.trace_json("inject"), at, at + 256), "")


if __name__ == "__main__":
    barlabtest.main()
