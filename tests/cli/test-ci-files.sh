#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The CI files barlab ships for other projects (.github/workflows/matrix.yml,
# .gitlab-ci.yml): they parse as YAML, the shards they start are the
# shards they merge, and every `scripts/barlab ...` command they run
# exists and takes the options they pass (each option appears in the
# command's --help).  `cache-key` prints the keys the cache steps use.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=$ROOT/scripts/barlab

for what in qemu kernel initramfs; do
    run "$BARLAB" cache-key "$what"
    expect "ci-cache-key-$what" 0 '^[0-9a-f]{16}$'
done
run "$BARLAB" cache-key ccache
expect_error ci-cache-key-bad "cache-key: unknown build 'ccache'"

# ci_facts FILE: one line per fact the YAML states, for the checks below:
#   cmd <barlab arguments>        a scripts/barlab command line it runs
#   shards <N>                    how many shard jobs it starts
#   merged <N>                    how many shard directories it merges
#   junit <path>                  (GitLab) the JUnit report it publishes
#   merge-out <dir>               the merged report's directory
ci_facts() {
    /usr/bin/python3 - "$1" <<'PY'
import re, shlex, sys, yaml

path = sys.argv[1]
doc = yaml.safe_load(open(path))
# Sample values for what the CI engine fills in.
subst = [(r"\$\{\{\s*matrix\.shard\s*\}\}", "1"), (r"\$\{\{\s*env\.SHARDS\s*\}\}", "3"),
         (r"\$\{\{[^}]*\}\}", "x"), (r"\$CI_NODE_INDEX", "1"), (r"\$CI_NODE_TOTAL", "3")]

def lines_of(job):
    if "steps" in job:
        for st in job["steps"]:
            yield from str(st.get("run", "")).splitlines()
    for key in ("before_script", "script", "after_script"):
        for l in job.get(key, []) or []:
            yield from str(l).splitlines()

jobs = doc["jobs"] if "jobs" in doc else {k: v for k, v in doc.items()
                                          if isinstance(v, dict) and "script" in v}
if not jobs:
    sys.exit("%s: no jobs" % path)
for name, job in jobs.items():
    if "strategy" in job:
        print("shards", len(job["strategy"]["matrix"]["shard"]))
    if "parallel" in job:
        print("shards", job["parallel"])
    junit = job.get("artifacts", {}).get("reports", {}).get("junit")
    if junit:
        print("junit", junit)
    for line in lines_of(job):
        for pat, val in subst:
            line = re.sub(pat, val, line)
        m = re.search(r"scripts/barlab\s+([^;&|>$)\"']*)", line)
        if not m:
            continue
        args = shlex.split(m.group(1))
        print("cmd", " ".join(args))
        if args[:2] == ["matrix", "merge"]:
            dirs = [a for a in args[2:] if not a.startswith("-")]
            out = args[args.index("--out") + 1] if "--out" in args else ""
            print("merged", len([d for d in dirs if d != out]))
            print("merge-out", out)
PY
}

for f in .github/workflows/matrix.yml .gitlab-ci.yml; do
    name=ci-$(basename "$f" .yml | tr -d .)
    run ci_facts "$ROOT/$f"
    if [ "$(status)" -ne 0 ] || ! grep -q '^cmd ' "$HARNESS_TMP/out"; then
        bad "$name-parses" "$f does not parse as a CI file with barlab commands"
        continue
    fi
    ok "$name-parses"
    cp "$HARNESS_TMP/out" "$HARNESS_TMP/facts"
    shards=$(awk '$1 == "shards" { print $2; exit }' "$HARNESS_TMP/facts")
    merged=$(awk '$1 == "merged" { print $2; exit }' "$HARNESS_TMP/facts")
    check "$name-merges-every-shard" test -n "$shards" -a "$shards" = "$merged"
    junit=$(awk '$1 == "junit" { print $2 }' "$HARNESS_TMP/facts")
    out=$(awk '$1 == "merge-out" { print $2 }' "$HARNESS_TMP/facts")
    if [ -n "$junit" ]; then
        check "$name-junit-is-the-merged-report" [ "$junit" = "$out/junit.xml" ]
    fi
    # Each command exists and takes each option it is given.
    while read -r _ cmd; do
        set -- $cmd
        sub=$1
        [ "${2:-}" != merge ] || sub="$1 merge"
        run "$BARLAB" $sub --help
        if [ "$(status)" -ne 0 ]; then
            bad "$name-command" "'barlab $sub --help' exits $(status) ($f runs 'barlab $cmd')"
            continue
        fi
        for a in "$@"; do
            case $a in --*) ;; *) continue ;; esac
            grep -qe "${a%%=*}" "$HARNESS_TMP/out" ||
                { bad "$name-command" "'barlab $sub' has no option ${a%%=*} ($f runs 'barlab $cmd')"; continue 2; }
        done
        ok "$name-command: barlab $cmd"
    done < <(grep '^cmd ' "$HARNESS_TMP/facts")
    # The suites a file runs exist.
    for s in $(awk '$1 == "cmd" && $2 == "check" { for (i = 3; i <= NF; i++) print $i }' "$HARNESS_TMP/facts"); do
        run "$BARLAB" check --list
        check "$name-suite-$s" grep -qw "^$s" "$HARNESS_TMP/out"
    done
done

harness_summary
