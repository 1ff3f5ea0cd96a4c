#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Kernel patches 0002, 0003, 0005 and 0006 in L1: the stage-2 memory type
KVM installs for a vfio-pci BAR follows vfio-pci's policy, as the
kvm_s2_map_device tracepoint and the stage-2 page-table dump say, with
FEAT_S2FWB (-cpu max) and without (-cpu neoverse-n1), with KVM in VHE
and in nVHE mode (-cpu cortex-a57; -cpu max with kvm-arm.mode=nvhe),
and under protected KVM (kvm-arm.mode=protected: hVHE on max, nVHE on
cortex-a57), where the guests' stage 2 is still built by the host.
Under "cacheable" the BAR is Normal-WB at stage 2 where the CPU has FWB
and CTR_EL0.DIC, and KVM refuses its memory slot where it has not.  An
L2 guest (barlab-vmm, the matrix payload) stores to barlab-gpu's VRAM
under each policy while the script reads its stage-2 dump."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import devtest  # noqa: E402

# The guest lives for a fraction of a second: run it until the dump has
# been caught with the BAR's page in it (a few tries at most).  A VMM
# that cannot start (KVM refused the memory slot) is not retried.
SCRIPT = r'''
gpu=$(bl_find $BL_GPU) || bl_fail "no barlab-gpu"
bl_trace_on kvm/kvm_s2_map_device || bl_fail "no tracepoint"
pats=str8$(printf ",str8%.0s" $(seq 40))
for p in device prefetchable any cacheable; do
    bl_policy $p >/dev/null || bl_fail "cannot set the policy $p"
    caught=
    for try in 1 2 3 4 5; do
        barlab-vmm --device "$gpu" /lib/barlab/payloads/matrix.elf mair=0x44 \
            touch=first base=0x0 patterns=$pats >/tmp/vmm.out 2>&1 &
        for i in $(seq 300); do
            f=$(ls /sys/kernel/debug/kvm/*/stage2_page_tables 2>/dev/null | head -n 1)
            [ -n "$f" ] || continue
            line=$(grep "^0x0000000011000000-" "$f" 2>/dev/null | grep AF)
            if [ -n "$line" ]; then caught=$line; break; fi
        done
        wait
        [ -z "$caught" ] || break
        ! grep -q "^vmm: outcome=memslot-refused" /tmp/vmm.out || break
    done
    echo "ptdump $p: ${caught:-not caught}"
    sed -n "s/^vmm: outcome=\([a-z-]*\).*/outcome $p: \1/p" /tmp/vmm.out | tail -n 1
    grep "^vmm: outcome=memslot-refused" /tmp/vmm.out | sed "s/^/refusal $p: /"
done
grep -o "kvm_s2_map_device: ipa 0x11000000 .*" /sys/kernel/tracing/trace | sed "s/^/trace /"
'''


class S2AttrScenario:
    """One L1 configuration: NAME, its CPU, KVM_MODE (or None) and the
    KVM mode it must report; the test classes below are the
    configurations (this mixin is no test itself)."""

    config = None

    def test_policies(self):
        name, cpu, mode, kvm = self.config
        options = ["--cpu", cpu] + (["--kvm-mode", mode] if mode else [])
        r = self.l1(name, SCRIPT, *options)
        with self.check(name + "-boot"):
            self.assertStatus(r, 0)
            self.assertOutput(r, "barlab-l1: exit 0")
        with self.check("%s-kvm-%s" % (name, kvm)):
            self.assertConsole(name, "^barlab-l1: kvm %s$" % kvm)
        with self.check(name + "-ptdump-follows-policy"):
            self.assertConsole(name, "^ptdump device: .* DEVICE/nGnRE$",
                               "^ptdump prefetchable: .* NORMAL-NC$", "^ptdump any: .* NORMAL-NC$")
        with self.check(name + "-guests-ran"):
            self.assertConsole(name, "^outcome device: ok$", "^outcome prefetchable: ok$",
                               "^outcome any: ok$")
        # One line per mapped policy, in order: device, prefetchable, any,
        # and cacheable where the CPU allows a cacheable mapping at all.
        if cpu == "max":
            fwb = " (FWB)"
            with self.check(name + "-cpu-features"):
                self.assertConsole(name, "^barlab-l1: cpu-features fwb dic$")
            with self.check(name + "-cacheable-normal-wb"):
                self.assertConsole(name, "^ptdump cacheable: .* NORMAL$",
                                   "^outcome cacheable: ok$")
            extra = "0x6 Normal-WB (FWB)|"
        else:
            fwb = ""
            with self.check(name + "-cpu-features"):
                self.assertConsole(name, "^barlab-l1: cpu-features none$")
            with self.check(name + "-cacheable-refused"):
                self.assertConsole(
                    name, "^ptdump cacheable: not caught$",
                    "^outcome cacheable: memslot-refused$",
                    "^refusal cacheable: .* bar=0000:00:0[0-9a-f].0/BAR2 errno=22 .* "
                    "cacheable-pfnmap=0$")
            extra = ""
        got = "".join("%s %s|" % m for m in re.findall(
            r"^trace kvm_s2_map_device: ipa 0x11000000 .* memattr (0x[0-9a-f]) (.*)$",
            self.console(name), re.M))
        want = "0x1 Device-nGnRE%s|0x5 Normal-NC%s|0x5 Normal-NC%s|%s" % (fwb, fwb, fwb, extra)
        with self.check(name + "-tracepoint-follows-policy"):
            self.assertEqual(got, want, "kvm_s2_map_device lines differ")


class MaxTest(S2AttrScenario, devtest.L1Test):
    config = ("max", "max", None, "vhe")


class NeoverseN1Test(S2AttrScenario, devtest.L1Test):
    config = ("neoverse-n1", "neoverse-n1", None, "vhe")


class CortexA57Test(S2AttrScenario, devtest.L1Test):
    config = ("cortex-a57", "cortex-a57", None, "nvhe")


class MaxNvheTest(S2AttrScenario, devtest.L1Test):
    config = ("max-nvhe", "max", "nvhe", "nvhe")


class MaxProtectedTest(S2AttrScenario, devtest.L1Test):
    config = ("max-protected", "max", "protected", "protected-hvhe")


class CortexA57ProtectedTest(S2AttrScenario, devtest.L1Test):
    config = ("cortex-a57-protected", "cortex-a57", "protected", "protected-nvhe")


if __name__ == "__main__":
    barlabtest.main()
