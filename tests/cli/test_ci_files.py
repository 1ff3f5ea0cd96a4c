#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The CI files barlab ships for other projects (.github/workflows/matrix.yml,
.gitlab-ci.yml): they parse as YAML, the shards they start are the
shards they merge, and every `scripts/barlab ...` command they run
exists and takes the options they pass (each option appears in the
command's --help).  `cache-key` prints the keys the cache steps use."""

import os
import re
import shlex
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest   # noqa: E402  pylint: disable=wrong-import-position

ROOT = barlabtest.ROOT

# Sample values for what the CI engine fills in.
SUBST = [(r"\$\{\{\s*matrix\.shard\s*\}\}", "1"), (r"\$\{\{\s*env\.SHARDS\s*\}\}", "3"),
         (r"\$\{\{[^}]*\}\}", "x"), (r"\$CI_NODE_INDEX", "1"), (r"\$CI_NODE_TOTAL", "3")]


def job_lines(job):
    for step in job.get("steps", []):
        yield from str(step.get("run", "")).splitlines()
    for key in ("before_script", "script", "after_script"):
        for line in job.get(key, []) or []:
            yield from str(line).splitlines()


def ci_facts(path):
    """What a CI file states: {'cmds': [barlab argument lists], 'shards': N,
    'merged': N, 'junit': [paths], 'merge_out': dir}."""
    doc = yaml.safe_load(open(path))
    jobs = doc["jobs"] if "jobs" in doc else {k: v for k, v in doc.items()
                                              if isinstance(v, dict) and "script" in v}
    if not jobs:
        raise ValueError("%s: no jobs" % path)
    facts = {"cmds": [], "shards": None, "merged": None, "junit": [], "merge_out": None}
    for job in jobs.values():
        if "strategy" in job and facts["shards"] is None:
            facts["shards"] = len(job["strategy"]["matrix"]["shard"])
        if "parallel" in job and facts["shards"] is None:
            facts["shards"] = job["parallel"]
        junit = job.get("artifacts", {}).get("reports", {}).get("junit")
        if junit:
            facts["junit"].append(junit)
        for line in job_lines(job):
            for pat, val in SUBST:
                line = re.sub(pat, val, line)
            m = re.search(r"scripts/barlab\s+([^;&|>$)\"']*)", line)
            if not m:
                continue
            args = shlex.split(m.group(1))
            facts["cmds"].append(args)
            if args[:2] == ["matrix", "merge"]:
                out = args[args.index("--out") + 1] if "--out" in args else ""
                dirs = [a for a in args[2:] if not a.startswith("-")]
                if facts["merged"] is None:
                    facts["merged"] = len([d for d in dirs if d != out])
                    facts["merge_out"] = out
    return facts


class CiFilesTest(barlabtest.BarlabTest):
    timeout = int(os.environ.get("BARLAB_TEST_TIMEOUT") or 60)

    def test_cache_key(self):
        for what in ("qemu", "kernel", "initramfs"):
            with self.check("ci-cache-key-%s" % what):
                r = self.barlab("cache-key", what)
                self.assertStatus(r, 0)
                self.assertOutput(r, r"^[0-9a-f]{16}$")
        with self.check("ci-cache-key-bad"):
            self.assertError(self.barlab("cache-key", "ccache"),
                             "cache-key: unknown build 'ccache'")

    def test_ci_files(self):
        for f in (".github/workflows/matrix.yml", ".gitlab-ci.yml"):
            name = "ci-" + os.path.basename(f)[:-len(".yml")].replace(".", "")
            with self.check("%s-parses" % name):
                try:
                    facts = ci_facts(ROOT / f)
                except (OSError, ValueError, KeyError, yaml.YAMLError) as e:
                    self.fail("%s does not parse as a CI file with barlab commands: %s" % (f, e))
                if not facts["cmds"]:
                    self.fail("%s runs no barlab command" % f)
            if not facts["cmds"]:
                continue
            with self.check("%s-merges-every-shard" % name):
                self.assertIsNotNone(facts["shards"])
                self.assertEqual(facts["shards"], facts["merged"])
            for junit in facts["junit"]:
                with self.check("%s-junit-is-the-merged-report" % name):
                    self.assertEqual(junit, "%s/junit.xml" % facts["merge_out"])
            # Each command exists and takes each option it is given.
            for args in facts["cmds"]:
                cmd = " ".join(args)
                with self.check("%s-command: barlab %s" % (name, cmd)):
                    sub = args[:2] if args[1:2] == ["merge"] else args[:1]
                    r = self.barlab(*sub, "--help")
                    if r.status != 0:
                        self.fail("'barlab %s --help' exits %d (%s runs 'barlab %s')"
                                  % (" ".join(sub), r.status, f, cmd))
                    for a in args:
                        if a.startswith("--") and a.split("=")[0] not in r.out:
                            self.fail("'barlab %s' has no option %s (%s runs 'barlab %s')"
                                      % (" ".join(sub), a.split("=")[0], f, cmd))
            # The suites a file runs exist.
            for args in facts["cmds"]:
                if args[0] != "check":
                    continue
                listed = self.barlab("check", "--list").out.split()
                for s in args[1:]:
                    with self.check("%s-suite-%s" % (name, s)):
                        self.assertIn(s, listed)


if __name__ == "__main__":
    barlabtest.main()
