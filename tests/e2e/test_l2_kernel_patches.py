#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`--kernel-patches`: a user's kernel series under the matrix, for real.
tests/kernel-variants/prefetchable-only, on top of barlab's series,
replaces vfio-pci's run-time policy by the 2021 RFC's fixed behaviour
(Normal-NC at stage 2 for prefetchable BARs only) and declares it
("# barlab-policy: prefetchable").  A small matrix of both BARs under
device, prefetchable and any runs the prefetchable cells on that kernel:
they agree with the oracle, the prefetchable BAR's transactions arrive
Normal-NC where barlab's device policy gives Device-nGnRE, the register
BAR's stay Device-nGnRE where its default (any) gives Normal-NC, the
other policies' cells are reported as not available, and the report
(JSON, table, HTML) names the series and its hash.  The variant has a
cache key of its own and leaves barlab's kernel built.  Then the
refusals: no series file, a patch the series names that is missing, a
patch that does not apply (the failing hunk in the message, nothing
cached, no report directory), a policy the kernel cannot set."""

import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import l2test  # noqa: E402

ROOT = barlabtest.ROOT
VARIANT = ROOT / "tests" / "kernel-variants" / "prefetchable-only"
SCENARIOS = """\
cpu=max bar=pref policy=device,prefetchable,any s1=normal-NC pattern=burst64_str,str8_unaligned \
touch=first
cpu=max bar=nonpref policy=prefetchable,any s1=normal-NC pattern=burst64_str,str8_unaligned \
touch=first port=speculate:7
"""


def patch_name():
    return [line for line in (VARIANT / "series").read_text().splitlines()
            if line and not line.startswith("#")][0]


def series_sha(spec):
    """The series' sha256 as barlab describes it."""
    from barlab import kernelseries   # barlabtest put the package on the path
    return kernelseries.describe(spec, str(ROOT / "kernel-patches"))["sha256"]


def variant_cells(report, sha):
    """What ran, what the kernel did, what barlab's policies give."""
    r = json.loads(Path(report).read_text())
    ks = r["kernel_series"]
    assert ks == {"name": "prefetchable-only", "mode": "on-top", "sha256": sha,
                  "policy": "prefetchable"}, "kernel_series is %s" % ks
    assert {x["cell"]["policy"] for x in r["cells"]} == {"prefetchable"}, \
        "cells of other policies ran"
    assert len(r["cells"]) == 4, "%d cells ran, wanted 4" % len(r["cells"])
    na = {(u["policy"], u["bar"], u["pattern"]): u for u in r["unavailable"]}
    assert sorted(na) == sorted((p, b, pat) for p, b in (("device", "pref"), ("any", "pref"),
                                                         ("any", "nonpref"))
                                for pat in ("burst64_str", "str8_unaligned")), \
        "not available: %s" % sorted(na)
    ran = {(x["cell"].get("bar", "pref"), x["cell"]["pattern"]): x for x in r["cells"]}
    burst = ran[("pref", "burst64_str")]
    s2 = {t["s2"] for t in burst["txns"]}
    assert s2 == {5}, "prefetchable BAR: stage-2 %s, wanted Normal-NC (0x5)" % s2
    assert int(na[("device", "pref", "burst64_str")]["s2"], 16) == 1, \
        "barlab's device policy is not Device-nGnRE here"
    assert any(t["n"] > 1 for t in burst["txns"]), \
        "prefetchable BAR: no burst gathered (%s)" % burst["observed_text"]
    regs = ran[("nonpref", "burst64_str")]
    s2 = {t["s2"] for t in regs["txns"]}
    assert s2 == {1}, "register BAR: stage-2 %s, wanted Device-nGnRE (0x1)" % s2
    assert int(na[("any", "nonpref", "burst64_str")]["s2"], 16) == 5, \
        "barlab's any policy is not Normal-NC here"
    maps = " ".join(r["s2_mappings"]["max"])
    assert "Normal-NC" in maps and "Device-nGnRE" in maps, "kvm_s2_map_device: %s" % maps


class KernelPatchesTest(l2test.L2Test):

    def test_1_cache_keys(self):
        keys = []
        for spec in ((), ("--kernel-patches", "+%s" % VARIANT),
                     ("--kernel-patches", str(VARIANT))):
            keys.append(self.barlab("cache-key", "kernel", *spec).out.strip())
        with self.check("cache-key-per-series-and-mode"):
            self.assertTrue(all(re.fullmatch("[0-9a-f]{16}", k) for k in keys)
                            and len(set(keys)) == 3, "keys %s" % keys)
        # The key follows the series' content: one byte more in the patch.
        edited = self.scratch("edited")
        shutil.copytree(VARIANT, edited)
        with open(edited / patch_name(), "a") as f:
            f.write("\n")
        r = self.barlab("cache-key", "kernel", "--kernel-patches", "+%s" % edited)
        with self.check("cache-key-follows-content"):
            self.assertNotEqual(r.out.strip(), keys[1], "an edited patch has the same key")

    def test_2_variant(self):
        # barlab's kernel, built (cached: the suite's quick matrix ran on it).
        base_image = self.barlab("build", "kernel").out.strip().splitlines()[-1:]
        base_key = self.barlab("cache-key", "kernel").out.strip()
        scn = self.scratch("variant.scn")
        scn.write_text(SCENARIOS)
        m = self.barlab("matrix", "--scenarios", scn, "--kernel-patches", "+%s" % VARIANT,
                        "--out", self.scratch("m"))
        with self.check("variant-matrix-as-predicted"):
            self.assertStatus(m, 0)
            self.assertTrue(self.scratch("m", "report.json").is_file(), "no report.json")
        sha = series_sha("+%s" % VARIANT)
        with self.check("variant-table-names-series"):
            self.assertOutput(m, r"^kernel series: prefetchable-only \(on top of barlab's, "
                              r"sha256 %s, fixed policy prefetchable\)$" % sha[:12],
                              r"^matrix: 6 more cells not available with this series \(policy "
                              r"any, device")
        with self.check("variant-html-names-series"):
            self.assertFileLines(self.scratch("m", "index.html"),
                                 "prefetchable-only .*sha256 %s" % sha[:12])
        with self.check("variant-cells-change"):
            variant_cells(self.scratch("m", "report.json"), sha)
        with self.check("variant-kernel-has-no-knob"):
            self.assertFileLines(self.scratch("m", "max", "console.log"),
                                 r"policy prefetchable \(fixed by the kernel series\)")

        # boot and fullstack run on the variant too, and say so: fullstack's
        # policy is the series' own, and the NIC's prefetchable BAR2 is
        # Normal-NC at stage 2, so its write-combining self-test passes.
        script = self.scratch("boot.sh")
        script.write_text('echo "knob $(cat /sys/module/vfio_pci_core/parameters/bar_memtype '
                          '2>/dev/null || echo none)"\n')
        r = self.barlab("boot", "--kernel-patches", "+%s" % VARIANT, "--run", script,
                        "--out", self.scratch("b"))
        with self.check("variant-boot"):
            self.assertStatus(r, 0)
        with self.check("variant-boot-no-knob"):
            self.assertFileLines(self.scratch("b", "console.log"), "^knob none")
        with self.check("variant-boot-names-series"):
            self.assertOutput(r, r"^barlab: boot: L1 ran the kernel of the series "
                              r"prefetchable-only \(on top of barlab's, sha256 %s\)$" % sha[:12],
                              stream="err")
        fs = self.barlab("fullstack", "--kernel-patches", "+%s" % VARIANT, "--steps", "wc",
                         "--no-picture", "--out", self.scratch("fs"))
        with self.check("variant-fullstack"):
            self.assertStatus(fs, 0)
            self.assertTrue(self.scratch("fs", "prefetchable", "summary").is_file(),
                            "no prefetchable/summary")
        with self.check("variant-fullstack-names-series"):
            self.assertOutput(fs, r"^kernel series: the series prefetchable-only \(on top of "
                              r"barlab's, sha256 %s\)$" % sha[:12])
        with self.check("variant-fullstack-summary"):
            self.assertFileLines(self.scratch("fs", "prefetchable", "summary"),
                                 "^kernel-series the series prefetchable-only ")
        with self.check("variant-fullstack-bar-types"):
            self.assertOutput(fs, "^prefetchable +NC/.* supported ")

        # barlab's kernel is still the one built for barlab's series.
        r = self.barlab("path", "kernel")
        with self.check("barlab-kernel-kept"):
            self.assertStatus(r, 0)
            self.assertEqual([r.out.strip()], base_image, "barlab's kernel is not built any more")
            self.assertRegex(r.out.strip(), "/kernel/.*-%s/Image$" % base_key)

    def test_3_refusals(self):
        patch = patch_name()
        noseries = self.scratch("noseries")
        noseries.mkdir()
        shutil.copy(VARIANT / patch, noseries)
        r = self.barlab("matrix", "--quick", "--kernel-patches", noseries,
                        "--out", self.scratch("r1"))
        with self.check("refuse-no-series-file"):
            self.assertError(r, "has no series file")
        with self.check("refuse-no-series-file-writes-nothing"):
            self.assertFalse(self.scratch("r1").exists(), "%s exists" % self.scratch("r1"))

        missing = self.scratch("missing")
        missing.mkdir()
        (missing / "series").write_text("%s\n0002-not-there.patch\n" % patch)
        shutil.copy(VARIANT / patch, missing)
        r = self.barlab("boot", "--kernel-patches", "+%s" % missing)
        with self.check("refuse-missing-patch"):
            self.assertError(r, "series:2 names 0002-not-there.patch, which is not in")

        r = self.barlab("boot", "--kernel-patches", "+%s" % VARIANT, "--policy", "device")
        with self.check("refuse-unavailable-policy"):
            self.assertError(r, "policy device is not available with the kernel series "
                             "prefetchable-only")

        # A patch whose context no longer matches: a line of the hunk changed.
        broken = self.scratch("broken")
        broken.mkdir()
        shutil.copy(VARIANT / "series", broken)
        text = (VARIANT / patch).read_text()
        changed = text.replace(" \t * PCI IP is integrated. Hence",
                               " \t * PCI IP is wired up. Hence")
        (broken / patch).write_text(changed)
        if changed == text:
            with self.check("broken-patch-made"):
                self.fail("the replacement changed nothing")
        broken_key = self.barlab("cache-key", "kernel", "--kernel-patches",
                                 "+%s" % broken).out.strip()
        r = self.barlab("matrix", "--quick", "--kernel-patches", "+%s" % broken,
                        "--out", self.scratch("r2"))
        with self.check("refuse-broken-patch"):
            self.assertError(r, r"does not apply to Debian linux-source-6.12 .*%s: the hunk at "
                             r"drivers/vfio/pci/vfio_pci_core.c:[0-9]* fails \(after 6 "
                             r"patches\)$" % re.escape(patch))
        with self.check("refuse-broken-patch-shows-hunk"):
            self.assertOutput(r, r"^  \| .*PCI IP is wired up\. Hence", stream="err")
        with self.check("refuse-broken-patch-no-report"):
            self.assertFalse(self.scratch("r2").exists() or self.scratch(".r2.barlab-run").exists(),
                             "%s or its staging directory exists" % self.scratch("r2"))
        from barlab import common
        with self.check("refuse-broken-patch-nothing-cached"):
            cached = list((common.cache_dir() / "kernel").glob("*-%s" % broken_key))
            self.assertFalse(cached, "a kernel for key %s is cached" % broken_key)


if __name__ == "__main__":
    barlabtest.main()
