#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The command line as a user meets it: explain, oracle, model, trace and
the entry point itself, with good and bad input; report directories,
matrix shards and merging; check's time limits."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest   # noqa: E402  pylint: disable=wrong-import-position
from barlab import core   # noqa: E402  pylint: disable=wrong-import-position

ROOT = barlabtest.ROOT
SCENARIOS = ROOT / "target-tests" / "scenarios"


def mt_binary():
    return os.environ.get("BARLAB_MT") or str(core.mt_path())


class CliTest(barlabtest.BarlabTest):
    timeout = int(os.environ.get("BARLAB_TEST_TIMEOUT") or 60)

    def mt(self, *args, **kw):
        return self.run_cmd([mt_binary()] + list(args), **kw)

    def expect(self, name, r, status, *patterns):
        with self.check(name):
            self.assertStatus(r, status)
            self.assertOutput(r, *patterns)

    def expect_error(self, name, r, pattern):
        with self.check(name):
            self.assertError(r, pattern)

    def expect_usage(self, name, r, cmd, pattern):
        with self.check(name):
            self.assertUsage(r, cmd, pattern)

    def expect_json(self, name, r, verify):
        """R succeeded and VERIFY(its output) raises nothing."""
        with self.check(name):
            self.assertStatus(r, 0)
            try:
                verify(r.out)
            except (AssertionError, ValueError, KeyError, StopIteration) as e:
                self.fail("%s: %r\n%s" % (type(e).__name__, e, r.tail()))

    # --- barlab-mt --------------------------------------------------------------

    def test_mt(self):
        tmp = self.scratch("mt")
        tmp.mkdir(parents=True)
        self.expect("explain-device-wins", self.mt("explain", "0x44", "0x1"), 0,
                    "combined +Device-nGnRE", "C1 .*Device at either stage beats Normal",
                    r"unaligned access +no: stage-2 alignment fault \(EL2\)", "DC ZVA +no: stage-2")
        self.expect("explain-fwb-nc", self.mt("explain", "0x44", "0x5", "--fwb"), 0,
                    "combined +Normal-NC", "F2", "unaligned access +yes")
        self.expect("explain-stronger-device", self.mt("explain", "device-nGnRnE", "device-GRE"),
                    0, "combined +Device-nGnRnE", "C2", r"stage-1 alignment fault \(EL1\)")

        def explain_json(out):
            o = json.loads(out)
            assert o["combined"] == "Device-nGnRE" and o["combined_mair"] == "0x04", o
            assert o["unaligned_fault"] == "stage2-el2" and o["rule"] == "C1", o
            assert o["permits"]["gather"] is False and o["permits"]["early_ack"] is True, o
        self.expect_json("explain-json", self.mt("explain", "0x44", "0x1", "--json"),
                         explain_json)

        def explain_table(out):
            cells = [json.loads(line) for line in out.splitlines()]
            assert len(cells) == 256 * 16 * 2, len(cells)
            by = {(c["s1"], c["s2"], c["fwb"]): c for c in cells}
            assert len(by) == len(cells)
            assert by[("0xff", "0x5", False)]["combined"] == "Normal-NC"
            assert by[("0x04", "0x5", True)]["combined"] == "Device-nGnRE"
            assert by[("0x44", "0x1", True)]["unaligned_fault"] == "stage2-el2"
            assert by[("0x02", "0x5", False)]["combined"] == "reserved"
            assert by[("0x01", "0x5", False)]["s1_type"] == "Device-nGnRnE(XS=0)"
        self.expect_json("explain-table", self.mt("explain", "--table", "--json"), explain_table)

        self.expect_error("explain-bad-s1", self.mt("explain", "0x1ff", "0x1"),
                          "unknown stage-1 attribute '0x1ff'")
        self.expect_error("explain-bad-s2", self.mt("explain", "0x44", "0x10"),
                          "unknown stage-2 MemAttr '0x10'")
        self.expect_error("explain-missing-arg", self.mt("explain", "0x44"),
                          "needs S1ATTR and S2ATTR")
        # The CPU decides which MAIR encodings exist (FEAT_XS, FEAT_MTE2 on max).
        self.expect("explain-cpu-max-mte2", self.mt("explain", "0xf0", "0x5"), 0,
                    "Tagged Normal-WB", "combined +Normal-NC")
        self.expect("explain-cpu-n1-reserved",
                    self.mt("explain", "0xf0", "0x5", "--cpu", "neoverse-n1"), 0,
                    "stage 1   0xf0  reserved")
        self.expect_error("explain-fwb-needs-s2fwb",
                          self.mt("explain", "0x44", "0x1", "--fwb", "--cpu", "neoverse-n1"),
                          "neoverse-n1 has no FEAT_S2FWB")
        self.expect("explain-s1-share-osh",
                    self.mt("explain", "0x44", "0x6", "--fwb", "--s1-share", "osh"), 0,
                    r"Normal-WB  \(MAIR 0xff, OSH\)", "passes on Outer Shareable")
        self.expect("explain-s1-share-field", self.mt("explain", "0x44", "0x6", "--fwb"), 0,
                    r"Normal-WB  \(MAIR 0xff, ISH\)", "passes on its SH field")
        self.expect_error("explain-bad-s1-share",
                          self.mt("explain", "0x44", "0x6", "--fwb", "--s1-share", "inner"),
                          "takes cpu, field or osh, not 'inner'")
        self.expect_error("oracle-bad-cpu",
                          self.mt("oracle", SCENARIOS / "matrix-quick.scn", "--cpu", "cortex-a99"),
                          "unknown CPU model 'cortex-a99'")
        self.expect("model-cpu-no-lse",
                    self.mt("model", "cas8", "normal-NC", "normal-NC", "--cpu", "cortex-a57"), 0,
                    "UNDEFINED on -cpu cortex-a57", "0 transactions")

        def cpus_json(out):
            cpus = {c["name"]: c for c in map(json.loads, out.splitlines())}
            assert cpus["max"]["fwb"] and cpus["max"]["xs"] and cpus["max"]["mte2"], cpus
            assert not cpus["neoverse-n1"]["xs"] and cpus["neoverse-n1"]["lse"], cpus
            assert not cpus["cortex-a57"]["lse"] and not cpus["cortex-a57"]["vhe"], cpus
        self.expect_json("cpus-json", self.mt("cpus", "--json"), cpus_json)

        self.expect("oracle-default", self.mt("oracle", SCENARIOS / "default.scn"), 0,
                    "EL2 align fault", "EL1 align fault", "ok 1x64B gathered", "ok 8x8B",
                    "^  A2 ", "^  C1 |^  F1 ")

        def oracle_json(out):
            rows = [json.loads(line) for line in out.splitlines()]
            assert len(rows) == 2 * 3 * 4 * 9, len(rows)
            dev = [r for r in rows if r["policy"] == "device" and r["s1"] == "0x44"
                   and r["pattern"] == "stp16_unaligned"]
            assert dev and all(r["fault"] == "stage2-el2" for r in dev), dev
        self.expect_json("oracle-json", self.mt("oracle", SCENARIOS / "default.scn", "--json"),
                         oracle_json)

        (tmp / "bad.scn").write_text(
            "cpu=max policy=any bar=pref s1=0x44 pattern=str8\n"
            "cpu=max policy=any bar=pref s1=0x44 pattern=str8 speed=fast\n")
        self.expect_error("oracle-bad-line", self.mt("oracle", tmp / "bad.scn"),
                          "bad.scn:2: unknown key 'speed'")
        self.expect_error("oracle-missing-file", self.mt("oracle", tmp / "missing.scn"),
                          "missing.scn: cannot open")

        trace = tmp / "t.bltrace"
        self.expect("model-gathers", self.mt("model", "burst64_str", "normal-NC", "normal-NC",
                                             "--trace", trace), 0,
                    "1 transaction, 0 breaking a rule", "64B   8 accesses")
        self.expect("trace-dump", self.mt("trace", trace), 0, r"\+64", "attr=0x44")

        def trace_json(out):
            recs = [json.loads(line) for line in out.splitlines()]
            assert len(recs) == 1 and recs[0]["size"] == 64, recs
        self.expect_json("trace-json", self.mt("trace", trace, "--json"), trace_json)

        self.expect("model-device-one-by-one",
                    self.mt("model", "burst64_str", "device-nGnRE", "device-nGnRE"), 0,
                    "8 transactions, 0 breaking a rule")
        self.expect("model-fault", self.mt("model", "stp16_unaligned", "normal-NC",
                                           "device-nGnRE"), 0,
                    "stage-2 alignment fault", "0 transactions")
        self.expect("model-reorder", self.mt("model", "burst64_str", "normal-NC", "normal-NC",
                                             "--reorder", "5"), 0, "0 breaking a rule")

        data = trace.read_bytes() if trace.exists() else b""
        (tmp / "cut.bltrace").write_bytes(data[:-3])
        with self.check("trace-truncated"):
            r = self.mt("trace", tmp / "cut.bltrace")
            if r.status == 0 or not re.search("^barlab: error: .*truncated", r.err, re.M):
                self.fail("a truncated trace was not reported as truncated\n" + r.tail())
        flipped = bytearray(data)
        if len(flipped) > 40:
            flipped[40] = 0xff
        (tmp / "flip.bltrace").write_bytes(bytes(flipped))
        with self.check("trace-corrupt"):
            r = self.mt("trace", tmp / "flip.bltrace")
            if r.status == 0 or not re.search("^barlab: error: .*(corrupt|crc)", r.err,
                                              re.M | re.I):
                self.fail("a corrupted trace was not reported\n" + r.tail())
        self.expect_error("trace-not-a-trace", self.mt("trace", ROOT / "README.md"), "README.md")

        self.expect("patterns", self.mt("patterns"), 0, "^str8 ", "^dczva ", "^burst64_st1 ")
        with self.check("usage-error"):       # barlab-mt follows the same rule
            self.assertStatus(self.mt("frobnicate"), 2)

    # --- the entry point: help, usage mistakes, option values ---------------------

    def test_entry_point(self):
        tmp = self.scratch("entry")
        tmp.mkdir(parents=True)
        r = self.barlab("--help")
        self.expect("barlab-help", r, 0, "^  check +set up, build and run the tests",
                    "^  explain +what a stage-1", "^  matrix +the main job")
        commands = re.findall(r"^  ([a-z][a-z-]*)  ", r.out, re.M)
        with self.check("barlab-help-lists-commands"):
            self.assertGreaterEqual(len(commands), 15, "only: %s" % " ".join(commands))

        # Every command and subcommand answers --help and -h with its usage
        # and does nothing else: no build, no download, no install, no run.
        # An empty build tree and cache stay empty; a command that did
        # anything would need them (or fail without them).
        build, cache = tmp / "help-build", tmp / "help-cache"
        for c in commands + ["matrix merge"]:
            for h in ("--help", "-h"):
                with self.check("help-only: %s %s" % (c, h)):
                    r = self.barlab(*c.split(), h, env={"BARLAB_BUILD": str(build),
                                                        "BARLAB_CACHE": str(cache)})
                    first = r.out.splitlines()[0] if r.out else ""
                    if (r.status != 0 or not re.match(r"usage: scripts/barlab %s\b" % c, first)
                            or r.err or build.exists() or cache.exists()):
                        self.fail("exit %d, or no usage first, or stderr, or it built or cached "
                                  "something\n%s" % (r.status, r.tail()))
        # After other options (and their values) too; but not a QEMU argument after --.
        self.expect("help-after-options",
                    self.barlab("boot", "--cpu", "max", "--timeout", "5", "--help",
                                env={"BARLAB_BUILD": str(build)}),
                    0, "^usage: scripts/barlab boot")
        self.expect_usage("boot-help-after-dashdash",
                          self.barlab("boot", "--frobnicate", "--", "-h"), "boot",
                          "unknown option '--frobnicate'")

        self.expect_usage("no-command", self.barlab(), "", "no command")
        self.expect_usage("unknown-command", self.barlab("frobnicate"), "",
                          "unknown command 'frobnicate'")
        self.expect("check-list", self.barlab("check", "--list"), 0, "^unit$", "^cli$",
                    "^qemu$", "^nic$", "^l1$", "^matrix$", "^fullstack$")
        self.expect_usage("check-unknown-suite", self.barlab("check", "nosuchsuite"), "check",
                          "unknown suite 'nosuchsuite'")
        self.expect_usage("check-list-extra", self.barlab("check", "--list", "unit"), "check",
                          "--list takes no suites")
        self.expect_error("path-not-built",
                          self.barlab("path", "kernel",
                                      env={"BARLAB_CACHE": str(tmp / "empty-cache")}),
                          "kernel is not built for this tree")
        usage = [
            ("path-unknown", ["path", "nosuchartifact"], "path",
             "unknown artifact 'nosuchartifact'"),
            ("build-unknown", ["build", "everything"], "build", "unknown target 'everything'"),
            ("build-two", ["build", "core", "qemu"], "build", "one target at a time"),
            ("bench-args", ["bench", "now"], "bench", "takes no arguments"),
            ("setup-bad-option", ["setup", "--frobnicate"], "setup",
             "unknown argument '--frobnicate'"),
            ("agree-bad-cpu", ["agree", "cortex-a99"], "agree",
             "unknown CPU model 'cortex-a99' .max, neoverse-n1"),
            ("explain-usage", ["explain", "0x44"], "explain", "needs S1ATTR and S2ATTR"),
            ("patterns-usage", ["patterns", "extra"], "patterns", "takes no arguments"),
            ("matrix-bad-option", ["matrix", "--frobnicate"], "matrix",
             "unknown option '--frobnicate'"),
            ("demo-bad-option", ["demo", "--frobnicate"], "demo",
             "unknown option '--frobnicate'"),
            ("matrix-no-scenarios", ["matrix", "--scenarios", str(tmp / "no-such.scn")],
             "matrix", "no scenario file"),
        ]
        for spec in ("0/3", "4/3", "x", "1/0", "3", "-1/3", "1/3/5"):
            usage.append(("matrix-bad-shard %s" % spec, ["matrix", "--quick", "--shard", spec],
                          "matrix", "--shard must be K/N with 1 <= K <= N, not '%s'"
                          % re.escape(spec)))
        usage += [
            ("matrix-shard-needs-value", ["matrix", "--shard"], "matrix",
             "--shard needs a value"),
            ("merge-nothing", ["matrix", "merge"], "matrix merge",
             "needs the shards' report directories"),
            ("merge-not-a-report", ["matrix", "merge", str(tmp)], "matrix merge",
             "no report.json"),
            ("boot-option-needs-value", ["boot", "--cpu"], "boot", "--cpu needs a value"),
        ]
        for name, args, cmd, pattern in usage:
            self.expect_usage(name, self.barlab(*args), cmd, pattern)

        # The CPU models come from barlab-mt's table; a bad one is refused
        # before anything is built or booted.
        self.expect("mt-cpus", self.mt("cpus"), 0, "^max ", "^neoverse-n1 ")
        cold = {"BARLAB_CACHE": str(tmp / "cold-cache")}
        self.expect_usage("boot-bad-cpu", self.barlab("boot", "--cpu", "cortex-a99", env=cold),
                          "boot", "--cpu must be max, neoverse-n1.*, not 'cortex-a99'")
        with self.check("boot-bad-cpu-built-nothing"):
            self.assertFalse((tmp / "cold-cache").exists())
        usage = [
            ("boot-bad-policy", ["boot", "--policy", "sometimes"], "boot",
             "--policy must be device, prefetchable, .*not 'sometimes'"),
            ("boot-bad-timeout", ["boot", "--timeout", "soon"], "boot",
             "--timeout must be a positive number of seconds, not 'soon'"),
            ("boot-bad-bind", ["boot", "--bind", "usb"], "boot", "--bind must be vfio or none"),
            ("boot-no-script", ["boot", "--run", str(tmp / "no-such-script")], "boot",
             "no such script"),
            ("fullstack-bad-policy", ["fullstack", "--policy", "sometimes"], "fullstack",
             "--policy must be device, prefetchable, .*not 'sometimes'"),
            ("fullstack-bad-cpu", ["fullstack", "--cpu", "a53"], "fullstack", "--cpu must be"),
            ("fullstack-bad-timeout", ["fullstack", "--timeout", "0"], "fullstack",
             "--timeout must be a positive number"),
            ("fullstack-bad-step", ["fullstack", "--steps", "wc dance"], "fullstack",
             "--steps must be wc, ping, .*not 'dance'"),
        ]
        for name, args, cmd, pattern in usage:
            self.expect_usage(name, self.barlab(*args), cmd, pattern)
        # The port mode is parsed by the C core (barlab-mt port-mode), before
        # anything is built or booted; so are barlab_nic's parameters and values.
        self.expect("mt-port-mode", self.mt("port-mode", "reorder:0x10", "--json"), 0,
                    r'^\{"gather":true,"reorder":true,"speculate":false,"seed":16\}$')
        for mode in ("reorder:x", "gather:1", "sideways", "reorder:"):
            self.expect_usage("fullstack-bad-port-mode %s" % mode,
                              self.barlab("fullstack", "--device-props", "nic,port-mode=" + mode,
                                          env=cold),
                              "fullstack", "--device-props: port-mode .*" + re.escape(mode))
        with self.check("fullstack-bad-port-mode-built-nothing"):
            self.assertFalse((tmp / "cold-cache").exists())
        usage = [
            ("boot-bad-port-mode", ["boot", "--device-props", "nic,port-mode=reorder:seven"],
             "boot", r"its seed must be a number from 0 to 2\^64-1, not 'seven'"),
            ("fullstack-nic-param-form", ["fullstack", "--nic-param", "doorbell_wmb"],
             "fullstack", "--nic-param must be NAME=VALUE, not 'doorbell_wmb'"),
            ("fullstack-nic-param-unknown", ["fullstack", "--nic-param", "frobnicate=1"],
             "fullstack", "unknown barlab_nic parameter 'frobnicate' .doorbell_wmb."),
            ("fullstack-nic-param-value", ["fullstack", "--nic-param", "doorbell_wmb=maybe"],
             "fullstack", "--nic-param doorbell_wmb must be 0 or 1 .*not 'maybe'"),
        ]
        for name, args, cmd, pattern in usage:
            self.expect_usage(name, self.barlab(*args), cmd, pattern)
        self.expect("path-barlab-mt", self.barlab("path", "barlab-mt"), 0, "barlab-mt$")

    # --- report directories -------------------------------------------------------

    def out_refused(self, name, tmp, *args):
        """barlab ARGS --out TMP/mine (a user's file in it) is refused before
        anything is built; the file and the directory stay as they were,
        and nothing is left beside them."""
        with self.check(name):
            r = self.barlab(*args, "--out", tmp / "mine",
                            env={"BARLAB_CACHE": str(tmp / "cold-cache")})
            if (r.status != 2 or "not empty and not a barlab report" not in r.err
                    or (tmp / "mine" / "notes.txt").read_text() != "my notes\n"
                    or os.listdir(tmp / "mine") != ["notes.txt"]
                    or [f for f in os.listdir(tmp) if "barlab" in f]
                    or (tmp / "cold-cache").exists()):
                self.fail("exit %d, or the directory changed, or something was built\n%s"
                          % (r.status, r.tail()))

    def test_reports(self):
        tmp = self.scratch("reports")
        (tmp / "mine").mkdir(parents=True)
        (tmp / "mine" / "notes.txt").write_text("my notes\n")
        for c in ("matrix --quick", "boot", "fullstack"):
            self.out_refused("out-refuses-user-dir: %s" % c, tmp, *c.split())
        self.expect_usage("out-not-a-directory",
                          self.barlab("matrix", "--out", tmp / "mine" / "notes.txt"),
                          "matrix", "exists and is not a directory")
        self.expect_usage("out-home", self.barlab("matrix", "--out", Path.home()), "matrix",
                          "not empty and not a barlab report")

    # The mechanism every --out goes through (barlab.output), driven the
    # way the commands drive it: a report of two files, written while a
    # child runs.
    REPORT_PY = """import os, subprocess, sys
sys.path.insert(0, "%(root)s/python")
from barlab import cli, output

def report(argv):
    with output.open_report("test", os.environ.get("KIND", "matrix"), argv[0]) as r:
        (r.stage / "max").mkdir()
        (r.stage / "report.json").write_text(argv[1] + "\\n")
        (r.stage / "max" / "console.log").write_text("console " + argv[1] + "\\n")
        subprocess.call(["sleep", argv[2]])
        r.commit()

sys.exit(cli.guarded(report, sys.argv[1:]))
"""

    def test_output_mechanism(self):
        tmp = self.scratch("out")
        tmp.mkdir(parents=True)
        script = tmp / "report.py"
        script.write_text(self.REPORT_PY % {"root": ROOT})
        reports = tmp / "reports"
        rep = reports / "r"

        def report(d, text, seconds, env=None):
            return self.run_cmd([sys.executable, script, d, text, seconds], env=env)

        def content(*parts):
            try:
                return rep.joinpath(*parts).read_text().rstrip("\n")
            except OSError:
                return None

        r = report(rep, "first", 0)
        with self.check("out-writes-manifest"):
            self.assertStatus(r, 0)
            self.assertEqual(content("report.json"), "first")
            self.assertEqual(content(".barlab-manifest"),
                             "barlab-manifest 1 matrix\nmax/\nmax/console.log\nreport.json")
        report(rep, "second", 0)
        with self.check("out-replaces-own-report"):
            self.assertEqual(content("report.json"), "second")
        # Interrupted (TERM, INT) while the run's child runs: the previous
        # report is intact, the staging directory is gone, the child has ended.
        for n, sig in enumerate((signal.SIGTERM, signal.SIGINT)):
            name = sig.name[3:]
            seconds = str(4200 + os.getpid() % 1000 * 10 + n)
            child = "sleep %s$" % seconds
            with open(tmp / "err", "w") as err:
                proc = subprocess.Popen([sys.executable, str(script), str(rep), "interrupted-" + name,
                                         seconds], stdout=subprocess.DEVNULL, stderr=err)
                for _ in range(300):
                    if subprocess.call(["pgrep", "-f", child], stdout=subprocess.DEVNULL) == 0:
                        break
                    time.sleep(0.1)
                proc.send_signal(sig)
                status = proc.wait()
            with self.check("out-interrupted-%s-keeps-previous" % name):
                left = subprocess.call(["pgrep", "-f", child], stdout=subprocess.DEVNULL) == 0
                said = (tmp / "err").read_text()
                if (not (status < 0 or status > 128) or content("report.json") != "second"
                        or content("max", "console.log") != "console second"
                        or (reports / ".r.barlab-run").exists() or left
                        or "interrupted: nothing written" not in said):
                    self.fail("status %d; report %s; staging or child left\n%s"
                              % (status, content("report.json"), said))
        # kill -9 cannot be caught: the staging directory stays, DIR is intact,
        # and the next run removes what the killed one left.
        proc = subprocess.Popen([sys.executable, str(script), str(rep), "killed", "43"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            if (reports / ".r.barlab-run" / "report.json").is_file():
                break
            time.sleep(0.1)
        orphans = subprocess.run(["pgrep", "-P", str(proc.pid)], stdout=subprocess.PIPE,
                                 text=True, check=False).stdout.split()
        proc.kill()
        proc.wait()
        for pid in orphans:
            try:
                os.kill(int(pid), signal.SIGTERM)
            except OSError:
                pass
        with self.check("out-killed-keeps-previous"):
            self.assertEqual(content("report.json"), "second")
        r = report(rep, "third", 0)
        with self.check("out-next-run-cleans-up"):
            self.assertStatus(r, 0)
            self.assertEqual(content("report.json"), "third")
            self.assertEqual(os.listdir(reports), ["r"])
        # A file of the user's in a report directory: refused, named, kept.
        (rep / "max" / "mine.txt").write_text("mine\n")
        r = report(rep, "fourth", 0)
        with self.check("out-refuses-unlisted-file"):
            self.assertStatus(r, 2)
            self.assertIn("holds max/mine.txt, which barlab did not write", r.err)
            self.assertEqual(content("report.json"), "third")
            self.assertTrue((rep / "max" / "mine.txt").is_file())
        (rep / "max" / "mine.txt").unlink()
        r = report(rep, "fifth", 0, env={"KIND": "boot"})
        with self.check("out-refuses-other-kind"):
            self.assertIn("holds another kind of barlab report (matrix), not a boot report",
                          r.err)
        # An empty directory the user made is taken.
        (reports / "empty").mkdir()
        report(reports / "empty", "new", 0)
        with self.check("out-takes-empty-dir"):
            self.assertEqual((reports / "empty" / "report.json").read_text(), "new\n")

    # --- matrix shards ------------------------------------------------------------

    def plan(self, *args):
        return self.run_cmd([sys.executable, "-m", "barlab.matrix", "plan"] + list(args),
                            env={"PYTHONPATH": str(ROOT / "python")})

    def test_shards(self):
        tmp = self.scratch("shards")
        tmp.mkdir(parents=True)
        patterns = tmp / "patterns.txt"
        patterns.write_text(self.mt("patterns").out)
        # The planner's shares: every cell in exactly one shard, no shard
        # boots a CPU model twice, the same split every time, N=1 is the
        # whole matrix.
        for scn in ("matrix-quick", "matrix"):
            cells = tmp / ("%s.jsonl" % scn)
            cells.write_text(self.mt("oracle", SCENARIOS / ("%s.scn" % scn), "--json").out)
            total = sum(1 for line in cells.read_text().splitlines() if line.strip())
            for n in (1, 2, 3, 5):
                failed = []
                for k in range(1, n + 1):
                    r = self.plan(cells, patterns, tmp / ("plan-%s-%d-%d" % (scn, k, n)),
                                  "--shard", "%d/%d" % (k, n),
                                  "--scenario-file", SCENARIOS / ("%s.scn" % scn),
                                  "--version", "test")
                    if r.status != 0:
                        failed.append("plan failed: " + r.err)
                with self.check("shards-cover-%s-%d" % (scn, n)):
                    self.assertEqual(failed, [])
                    seen = []
                    for k in range(1, n + 1):
                        p = json.loads((tmp / ("plan-%s-%d-%d" % (scn, k, n)) / "plan.json")
                                       .read_text())
                        self.assertEqual(p["shard"], {"k": k, "n": n})
                        self.assertEqual(p["total_cells"], total)
                        seen += [c["index"] for c in p["cells"]]
                        # One L1 script, so one boot, per CPU model of the shard.
                        self.assertEqual(sorted(p["cpus"]),
                                         sorted({g["cpu"] for g in p["groups"]}))
                        self.assertEqual(len(p["cpus"]), len(set(p["cpus"])))
                        if n >= len(p["all_cpus"]):
                            self.assertLessEqual(len(p["cpus"]), 1,
                                                 "shard %d/%d boots %s" % (k, n, p["cpus"]))
                    self.assertEqual(sorted(seen), list(range(total)), "cells missing or twice")
        # Balanced: the shards that share a CPU model's groups differ in
        # cost by less than two of its groups (the full matrix in 5 shards).
        with self.check("shards-balanced"):
            plans = [json.loads((tmp / ("plan-matrix-%d-5" % k) / "plan.json").read_text())
                     for k in range(1, 6)]
            for cpu in plans[0]["all_cpus"]:
                c = [sum(g["cost"] for g in p["groups"]) for p in plans if p["cpus"] == [cpu]]
                big = max(g["cost"] for p in plans for g in p["groups"] if g["cpu"] == cpu)
                self.assertTrue(c and max(c) - min(c) < 2 * big, (cpu, c, big))
        self.plan(tmp / "matrix-quick.jsonl", patterns, tmp / "plan-again", "--shard", "2/3",
                  "--scenario-file", SCENARIOS / "matrix-quick.scn", "--version", "test")
        with self.check("shards-deterministic"):
            self.assertEqual((tmp / "plan-matrix-quick-2-3" / "plan.json").read_bytes(),
                             (tmp / "plan-again" / "plan.json").read_bytes())
        self.expect_error("shards-more-than-groups",
                          self.plan(tmp / "matrix-quick.jsonl", patterns, tmp / "plan-x",
                                    "--shard", "9/99"),
                          "99 shards, but the scenarios make only")
        # barlab-gpu's register BAR: each bar=nonpref group an 8 KiB group of
        # its own in the scratch window the oracle names, run with bar=0 and
        # only barlab-gpu, whose BAR0 boots with the cells' port mode; two
        # port modes for BAR0 on one CPU model are refused.
        with self.check("plan-bar0-groups-in-scratch"):
            d = tmp / "plan-matrix-1-1"
            plan = json.loads((d / "plan.json").read_text())
            cells = [json.loads(line) for line in
                     (tmp / "matrix.jsonl").read_text().splitlines()]
            lo, size = next((c["window_base"], c["window_size"]) for c in cells
                            if c["window"] == "gpu-scratch")
            queues = next(c["window_count"] for c in cells if c["window"] == "gpu-regs")
            for cpu in plan["cpus"]:
                groups = [g for g in plan["groups"] if g["cpu"] == cpu and g["bar"] == "nonpref"]
                bases = [g["base"] for g in groups]
                self.assertTrue(groups and len(set(bases)) == len(bases), (cpu, bases))
                self.assertTrue(all(b % 8192 == 0 and lo <= b and b + 8192 <= lo + size
                                    for b in bases), (cpu, bases))
                script = (d / ("run-%s.sh" % cpu)).read_text()
                # A group's guests (more than one where a cell ends the VM)
                # share its queues.
                lines = dict(re.findall(r"^mair=\S+ touch=\S+ base=(0x[0-9a-f]+) patterns=\S+ "
                                        r"bar=0 evq=([0-9]+) trials=16$", script, re.M))
                self.assertEqual(len(lines), len(groups), cpu)
                # rc_read_spec's 16 trials a group, each on an event queue of its own.
                evqs = sorted(int(q) for q in lines.values())
                self.assertTrue(all(b - a >= 16 for a, b in zip(evqs, evqs[1:]))
                                and evqs[-1] + 16 <= queues, evqs)
                self.assertEqual(plan["gpu_props"][cpu], "regs-port-mode=speculate:7")
        (tmp / "bar0-ports.scn").write_text(
            "cpu=max bar=nonpref policy=any s1=normal-NC pattern=str8 touch=first "
            "port=speculate:7\n"
            "cpu=max bar=nonpref policy=any s1=normal-NC pattern=rc_read_spec touch=first "
            "port=speculate:8\n")
        (tmp / "bar0-ports.jsonl").write_text(
            self.mt("oracle", tmp / "bar0-ports.scn", "--json").out)
        self.expect_error("plan-bar0-one-port-mode",
                          self.plan(tmp / "bar0-ports.jsonl", patterns, tmp / "plan-bar0"),
                          "the bar=nonpref cells on -cpu max use port modes speculate:7 and "
                          "speculate:8: barlab-gpu's BAR0 has one port mode")
        # Under cacheable without FEAT_S2FWB and DIC, KVM refuses barlab-gpu's
        # BAR2 and so the device: BAR0's cells cannot run, and the plan says why.
        (tmp / "bar0-refused.scn").write_text(
            "cpu=neoverse-n1 bar=nonpref policy=cacheable s1=normal-NC pattern=str8 "
            "touch=first\n")
        (tmp / "bar0-refused.jsonl").write_text(
            self.mt("oracle", tmp / "bar0-refused.scn", "--json").out)
        self.expect_error("plan-bar0-device-refused",
                          self.plan(tmp / "bar0-refused.jsonl", patterns,
                                    tmp / "plan-bar0-refused"),
                          "bar=nonpref under cacheable on -cpu neoverse-n1: KVM refuses "
                          "barlab-gpu's prefetchable BAR2")

    # --- merging ------------------------------------------------------------------

    @staticmethod
    def make_shards(tmp):
        """Three shard reports (the shape `matrix --shard` writes) and three
        that do not belong with them."""
        def cell(i, cpu):
            c = {"cpu": cpu, "policy": "any", "s1": "0x44", "pattern": "str8",
                 "touch": "first" if i % 2 else "hit", "rules": ["C1", "A1"], "s2": "0x5",
                 "index": i}
            return {"index": i, "cell": c, "observed": {"status": "ok"}, "txns": [],
                    "match": i != 4, "expected_text": "ok 1x8B",
                    "observed_text": "ok 1x8B" if i != 4 else "ok 2x4B",
                    "why": "" if i != 4 else "transactions differ", "note": ""}
        head = {"barlab": "abc123", "scenarios": {"file": "q.scn", "sha256": "11" * 32},
                "total_cells": 6, "all_cpus": ["max", "neoverse-n1"], "patterns": ["str8"],
                "inject_align": False}
        split = {1: [("max", 0), ("max", 1)], 2: [("max", 2), ("neoverse-n1", 3)],
                 3: [("neoverse-n1", 4), ("neoverse-n1", 5)]}
        for k, cells in split.items():
            d = tmp / ("shard%d" % k)
            d.mkdir(parents=True)
            r = dict(head, shard={"k": k, "n": 3}, cells=[cell(i, cpu) for cpu, i in cells],
                     s2_mappings={cpu: ["map %d" % k] for cpu, _ in cells})
            (d / "report.json").write_text(json.dumps(r))
        for name, change in (("other-scn", {"scenarios": {"file": "q.scn",
                                                          "sha256": "22" * 32}}),
                             ("other-version", {"barlab": "def456"}),
                             ("unsharded", {"shard": None})):
            d = tmp / name
            d.mkdir()
            r = json.loads((tmp / "shard3" / "report.json").read_text())
            r.update(change)
            (d / "report.json").write_text(json.dumps(r))

    def test_merge(self):
        tmp = self.scratch("merge")
        (tmp / "mine").mkdir(parents=True)
        (tmp / "mine" / "notes.txt").write_text("my notes\n")
        with self.check("merge-inputs"):
            self.make_shards(tmp)
        s1, s2, s3 = (tmp / ("shard%d" % k) for k in (1, 2, 3))
        r = self.barlab("matrix", "merge", s3, s1, s2, "--out", tmp / "merged")
        with self.check("merge-combines-shards"):
            self.assertStatus(r, 1)
            self.assertOutput(r, "^MISMATCH neoverse-n1/any/Normal-NC/str8/hit: "
                                 "transactions differ", "^matrix: 6 cells, 5 as predicted")
            m = json.loads((tmp / "merged" / "report.json").read_text())
            self.assertEqual([c["index"] for c in m["cells"]], [0, 1, 2, 3, 4, 5])
            self.assertTrue(m["shard"] is None and m["merged_shards"] == 3
                            and m["failed"] == 1)
            self.assertEqual(m["s2_mappings"]["neoverse-n1"], ["map 2", "map 3"])
            for f in ("junit.xml", "index.html", ".barlab-manifest"):
                self.assertTrue((tmp / "merged" / f).is_file(), f)
        self.out_refused("out-refuses-user-dir-merge", tmp, "matrix", "merge", s1, s2, s3)
        merged2 = tmp / "merged2"
        self.expect_error("merge-missing-shard",
                          self.barlab("matrix", "merge", s1, s3, "--out", merged2),
                          "shard 2/3 is missing")
        with self.check("merge-refused-writes-nothing"):
            self.assertFalse(merged2.exists() or (tmp / ".merged2.barlab-run").exists())
        self.expect_error("merge-duplicate-shard",
                          self.barlab("matrix", "merge", s1, s2, s3, s1, "--out", merged2),
                          "shard 1/3 given twice: .*shard1 and .*shard1")
        self.expect_error("merge-other-scenarios",
                          self.barlab("matrix", "merge", s1, s2, tmp / "other-scn",
                                      "--out", merged2),
                          "different scenario files")
        self.expect_error("merge-other-version",
                          self.barlab("matrix", "merge", s1, s2, tmp / "other-version",
                                      "--out", merged2),
                          "different barlab versions .abc123 against def456.")
        self.expect_error("merge-unsharded",
                          self.barlab("matrix", "merge", s1, tmp / "unsharded", "--out", merged2),
                          "not a shard's report")
        self.expect_usage("merge-into-a-shard",
                          self.barlab("matrix", "merge", s1, s2, s3, "--out", s1),
                          "matrix merge", "is one of the shards")

    # --- time limits --------------------------------------------------------------

    FAKE_MESON = """project('fake', [])
sh = find_program('sh')
test('test_all_hang', sh, args: ['-c', 'exec sleep 600'], suite: 'unit', protocol: 'gtest',
     timeout: 300)
test('test-tap', sh, args: ['-c', 'printf "%s"'], suite: 'unit', protocol: 'tap')
""" % r"ok 1 - a\nnot ok 2 - b: why\n# detail\nok 3 - c # SKIP no\n1..3\n"

    def test_time_limits(self):
        tmp = self.scratch("limits")
        tmp.mkdir(parents=True)
        # check's counting (barlab.check over `meson test`): a GoogleTest
        # binary that hangs is stopped at its time limit (BARLAB_TEST_TIMEOUT
        # for the unit suite), named and counted as one failure, and the
        # suite goes on; a TAP test's failures are counted and shown with
        # their diagnostics.
        proj = tmp / "check-project"
        proj.mkdir()
        (proj / "meson.build").write_text(self.FAKE_MESON)
        start = time.monotonic()
        r = self.run_cmd([sys.executable, "-c", """
import os, subprocess, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1] + "/python")
from barlab import check
tree = Path(sys.argv[2]) / "build"
subprocess.run(["meson", "setup", str(tree), sys.argv[2]], check=True, stdout=subprocess.DEVNULL)
t = check.Totals()
check.run_meson(tree, "unit", dict(os.environ), t)
print("totals", t.passed, t.failed, t.skipped)""", ROOT, proj],
                         env={"BARLAB_TEST_TIMEOUT": "2", "BARLAB_LOGS": str(tmp / "logs")})
        self.expect("unit-test-timeout", r, 0,
                    "^unit: test_all_hang did not end within its time limit",
                    "^unit: test-tap +1 passed, 1 failed, 1 skipped",
                    "^    not ok 2 - b: why$", "^    detail$", "^totals 1 2 1$")
        with self.check("unit-test-timeout-quick"):
            self.assertLess(time.monotonic() - start, 60)


if __name__ == "__main__":
    barlabtest.main()
