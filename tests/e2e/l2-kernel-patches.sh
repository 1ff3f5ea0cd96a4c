#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `--kernel-patches`: a user's kernel series under the matrix, for real.
# tests/kernel-variants/prefetchable-only, on top of barlab's series,
# replaces vfio-pci's run-time policy by the 2021 RFC's fixed behaviour
# (Normal-NC at stage 2 for prefetchable BARs only) and declares it
# ("# barlab-policy: prefetchable").  A small matrix of both BARs under
# device, prefetchable and any runs the prefetchable cells on that kernel:
# they agree with the oracle, the prefetchable BAR's transactions arrive
# Normal-NC where barlab's device policy gives Device-nGnRE, the register
# BAR's stay Device-nGnRE where its default (any) gives Normal-NC, the
# other policies' cells are reported as not available, and the report
# (JSON, table, HTML) names the series and its hash.  The variant has a
# cache key of its own and leaves barlab's kernel built.  Then the
# refusals: no series file, a patch the series names that is missing, a
# patch that does not apply (the failing hunk in the message, nothing
# cached, no report directory), a policy the kernel cannot set.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=${BARLAB:-$ROOT/scripts/barlab}
T=$HARNESS_TMP
VARIANT=$ROOT/tests/kernel-variants/prefetchable-only
PATCH=$(sed -n '/^[^#]/p' "$VARIANT/series")
CACHE=${BARLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/barlab}

# --- the cache keys ---------------------------------------------------------
# barlab's kernel, built (cached: the suite's quick matrix ran on it).
run "$BARLAB" build kernel
base_image=$(tail -n 1 "$HARNESS_TMP/out")
run "$BARLAB" cache-key kernel
base_key=$(cat "$HARNESS_TMP/out")
run "$BARLAB" cache-key kernel --kernel-patches "+$VARIANT"
ontop_key=$(cat "$HARNESS_TMP/out")
run "$BARLAB" cache-key kernel --kernel-patches "$VARIANT"
instead_key=$(cat "$HARNESS_TMP/out")
if [[ $base_key =~ ^[0-9a-f]{16}$ ]] && [[ $ontop_key =~ ^[0-9a-f]{16}$ ]] &&
    [[ $instead_key =~ ^[0-9a-f]{16}$ ]] &&
    [ "$(printf '%s\n' "$base_key" "$ontop_key" "$instead_key" | sort -u | wc -l)" = 3 ]; then
    ok cache-key-per-series-and-mode
else
    bad cache-key-per-series-and-mode "keys '$base_key' '$ontop_key' '$instead_key'"
fi
# The key follows the series' content: one byte more in the patch.
mkdir -p "$T/edited"
cp "$VARIANT"/* "$T/edited/"
echo >>"$T/edited/$PATCH"
run "$BARLAB" cache-key kernel --kernel-patches "+$T/edited"
[ "$(cat "$HARNESS_TMP/out")" != "$ontop_key" ] && ok cache-key-follows-content ||
    bad cache-key-follows-content "an edited patch has the same key"

# --- the variant under the matrix -------------------------------------------
cat >"$T/variant.scn" <<'EOF'
cpu=max bar=pref policy=device,prefetchable,any s1=normal-NC pattern=burst64_str,str8_unaligned touch=first
cpu=max bar=nonpref policy=prefetchable,any s1=normal-NC pattern=burst64_str,str8_unaligned touch=first port=speculate:7
EOF
run "$BARLAB" matrix --scenarios "$T/variant.scn" --kernel-patches "+$VARIANT" --out "$T/m"
cp "$HARNESS_TMP/out" "$T/m.out"
cp "$HARNESS_TMP/err" "$T/m.err"
if [ "$(status)" = 0 ] && [ -f "$T/m/report.json" ]; then
    ok variant-matrix-as-predicted
else
    bad variant-matrix-as-predicted "exit $(status)"
fi
sha=$(PYTHONPATH=$ROOT/python python3 -P -m barlab.kernelseries describe "+$VARIANT" --barlab "$ROOT/kernel-patches" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["sha256"])')
expect_line variant-table-names-series "$T/m.out" \
    "^kernel series: prefetchable-only \\(on top of barlab's, sha256 ${sha:0:12}, fixed policy prefetchable\\)$" \
    "^matrix: 6 more cells not available with this series \\(policy any, device"
expect_line variant-html-names-series "$T/m/index.html" "prefetchable-only .*sha256 ${sha:0:12}"

# The cells: what ran, what the kernel did, what barlab's policies give.
run python3 - "$T/m/report.json" "$sha" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ks = r["kernel_series"]
assert ks == {"name": "prefetchable-only", "mode": "on-top", "sha256": sys.argv[2],
              "policy": "prefetchable"}, "kernel_series is %s" % ks
assert {x["cell"]["policy"] for x in r["cells"]} == {"prefetchable"}, "cells of other policies ran"
assert len(r["cells"]) == 4, "%d cells ran, wanted 4" % len(r["cells"])
na = {(u["policy"], u["bar"], u["pattern"]): u for u in r["unavailable"]}
assert sorted(na) == sorted((p, b, pat) for p, b in (("device", "pref"), ("any", "pref"), ("any", "nonpref"))
                            for pat in ("burst64_str", "str8_unaligned")), "not available: %s" % sorted(na)
ran = {(x["cell"].get("bar", "pref"), x["cell"]["pattern"]): x for x in r["cells"]}
burst = ran[("pref", "burst64_str")]
s2 = {t["s2"] for t in burst["txns"]}
assert s2 == {5}, "prefetchable BAR: stage-2 %s, wanted Normal-NC (0x5)" % s2
assert int(na[("device", "pref", "burst64_str")]["s2"], 16) == 1, "barlab's device policy is not Device-nGnRE here"
assert any(t["n"] > 1 for t in burst["txns"]), "prefetchable BAR: no burst gathered (%s)" % burst["observed_text"]
regs = ran[("nonpref", "burst64_str")]
s2 = {t["s2"] for t in regs["txns"]}
assert s2 == {1}, "register BAR: stage-2 %s, wanted Device-nGnRE (0x1)" % s2
assert int(na[("any", "nonpref", "burst64_str")]["s2"], 16) == 5, "barlab's any policy is not Normal-NC here"
maps = " ".join(r["s2_mappings"]["max"])
assert "Normal-NC" in maps and "Device-nGnRE" in maps, "kvm_s2_map_device: %s" % maps
print("ok")
PY
expect variant-cells-change 0 '^ok$'
expect_line variant-kernel-has-no-knob "$T/m/max/console.log" "policy prefetchable \\(fixed by the kernel series\\)"

# boot and fullstack run on the variant too, and say so: fullstack's
# policy is the series' own, and the NIC's prefetchable BAR2 is Normal-NC
# at stage 2, so its write-combining self-test passes.
cat >"$T/boot.sh" <<'EOF'
echo "knob $(cat /sys/module/vfio_pci_core/parameters/bar_memtype 2>/dev/null || echo none)"
EOF
run "$BARLAB" boot --kernel-patches "+$VARIANT" --run "$T/boot.sh" --out "$T/b"
[ "$(status)" = 0 ] && ok variant-boot || bad variant-boot "exit $(status)"
expect_line variant-boot-no-knob "$T/b/console.log" "^knob none"
expect_line variant-boot-names-series "$HARNESS_TMP/err" \
    "^barlab: boot: L1 ran the kernel of the series prefetchable-only \\(on top of barlab's, sha256 ${sha:0:12}\\)$"
run "$BARLAB" fullstack --kernel-patches "+$VARIANT" --steps wc --no-picture --out "$T/fs"
cp "$HARNESS_TMP/out" "$T/fs.out"
[ "$(status)" = 0 ] && [ -f "$T/fs/prefetchable/summary" ] && ok variant-fullstack ||
    bad variant-fullstack "exit $(status)"
expect_line variant-fullstack-names-series "$T/fs.out" \
    "^kernel series: the series prefetchable-only \\(on top of barlab's, sha256 ${sha:0:12}\\)$"
expect_line variant-fullstack-summary "$T/fs/prefetchable/summary" "^kernel-series the series prefetchable-only "
expect_line variant-fullstack-bar-types "$T/fs.out" "^prefetchable +NC/.* supported "

# barlab's kernel is still the one built for barlab's series.
run "$BARLAB" path kernel
[ "$(status)" = 0 ] && [ "$(cat "$HARNESS_TMP/out")" = "$base_image" ] &&
    [[ $base_image == */kernel/*-$base_key/Image ]] &&
    ok barlab-kernel-kept || bad barlab-kernel-kept "barlab's kernel is not built any more"

# --- refusals ---------------------------------------------------------------
mkdir -p "$T/noseries"
cp "$VARIANT/$PATCH" "$T/noseries/"
run "$BARLAB" matrix --quick --kernel-patches "$T/noseries" --out "$T/r1"
expect_error refuse-no-series-file "has no series file"
[ ! -e "$T/r1" ] && ok refuse-no-series-file-writes-nothing || bad refuse-no-series-file-writes-nothing "$T/r1 exists"

mkdir -p "$T/missing"
printf '%s\n' "$PATCH" 0002-not-there.patch >"$T/missing/series"
cp "$VARIANT/$PATCH" "$T/missing/"
run "$BARLAB" boot --kernel-patches "+$T/missing"
expect_error refuse-missing-patch "series:2 names 0002-not-there.patch, which is not in"

run "$BARLAB" boot --kernel-patches "+$VARIANT" --policy device
expect_error refuse-unavailable-policy "policy device is not available with the kernel series prefetchable-only"

# A patch whose context no longer matches: a line of the hunk changed.
mkdir -p "$T/broken"
cp "$VARIANT/series" "$T/broken/"
sed 's/^ \t \* PCI IP is integrated\. Hence/ \t * PCI IP is wired up. Hence/' "$VARIANT/$PATCH" >"$T/broken/$PATCH"
if cmp -s "$VARIANT/$PATCH" "$T/broken/$PATCH"; then
    bad broken-patch-made "the sed changed nothing"
fi
run "$BARLAB" cache-key kernel --kernel-patches "+$T/broken"
broken_key=$(cat "$HARNESS_TMP/out")
run "$BARLAB" matrix --quick --kernel-patches "+$T/broken" --out "$T/r2"
expect_error refuse-broken-patch "does not apply to Debian linux-source-6.12 .*$PATCH: the hunk at drivers/vfio/pci/vfio_pci_core.c:[0-9]* fails (after 6 patches)$"
expect_line refuse-broken-patch-shows-hunk "$HARNESS_TMP/err" "^  \\| .*PCI IP is wired up\\. Hence"
[ ! -e "$T/r2" ] && [ ! -e "$T/.r2.barlab-run" ] && ok refuse-broken-patch-no-report ||
    bad refuse-broken-patch-no-report "$T/r2 or its staging directory exists"
if ls -d "$CACHE"/kernel/*-"$broken_key" >/dev/null 2>&1; then
    bad refuse-broken-patch-nothing-cached "a kernel for key $broken_key is cached"
else
    ok refuse-broken-patch-nothing-cached
fi

harness_summary
