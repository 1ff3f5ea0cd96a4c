#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# barlab's set-up on a cold machine: apt with no package lists and an
# empty barlab cache, as on a fresh Debian 12.  APT_CONFIG points the
# machine's apt at an empty list directory of this test's own, and
# BARLAB_CACHE at an empty directory; then `setup --dry-run` must resolve
# every host package and every private fetch (the qemu source package,
# meson, the arm64 packages, the benchmark baseline) from nothing,
# apt_update_once must fetch the missing lists, and /etc/apt must be
# byte for byte as it was.  Network: the machine's own Debian mirror.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
BARLAB=$ROOT/scripts/barlab

etc_state() { find /etc/apt -xdev -type f -print0 | sort -z | xargs -0 -r sha256sum; find /etc/apt -xdev | sort; }
before=$(etc_state)

cold=$HARNESS_TMP/cold
mkdir -p "$cold/lists/partial" "$cold/cache/archives/partial" "$cold/barlab"
cat >"$cold/apt.conf" <<EOF
Dir::State::lists "$cold/lists/";
Dir::Cache "$cold/cache/";
EOF
export APT_CONFIG=$cold/apt.conf

# The premise: with this configuration the machine's apt knows no package
# list (only what dpkg says is installed).
run apt-cache policy gcc
if grep -q ' Packages$' "$HARNESS_TMP/out"; then
    bad setup-cold-premise "apt still finds package lists under APT_CONFIG"
else
    ok setup-cold-premise
fi

# Fetching five sets of package lists from the mirror takes longer than
# a cli test's usual time limit.
net_timeout=$((${HARNESS_TIMEOUT:-60} * 10))
HARNESS_TIMEOUT=$net_timeout run env BARLAB_CACHE="$cold/barlab" BARLAB_BUILD="$HARNESS_TMP/build" \
    "$BARLAB" setup --dry-run
expect setup-dry-run-cold 0 \
    "package lists are missing: setup runs 'apt-get update' first" \
    '^  needed: [0-9]+; installed: [0-9]+; to install: [0-9]+' \
    '^  linux-source-6\.12 6\.12\.[0-9]' \
    '^  qemu [0-9]+\.[0-9]+\.[0-9]+[^ ]* \(source\) +Debian trixie +to fetch \([0-9]+ MB\)' \
    '^  meson 1\.([5-9]|[1-9][0-9])\.[0-9][^ ]* +Debian bookworm-backports +to fetch' \
    '^  busybox-static [^ ]+ +Debian bookworm, arm64 +to fetch' \
    '^  qemu-system-arm [^ ]+ +Debian bookworm, arm64 +[0-9]+ packages' \
    '^  qemu-system-arm [^ ]+~bpo12[^ ]* +Debian bookworm-backports'

# Each private state fetched its own lists from nothing.
for want in "src-trixie:*_dists_trixie_main_source_Sources*" \
    "amd64-bookworm-backports:*_dists_bookworm-backports_main_binary-amd64_Packages*" \
    "arm64-bookworm:*_dists_bookworm_main_binary-arm64_Packages*"; do
    if compgen -G "$cold/barlab/apt/${want%%:*}/state/lists/${want#*:}" >/dev/null; then
        ok "setup-private-lists-${want%%:*}"
    else
        bad "setup-private-lists-${want%%:*}" "no ${want#*:} below $cold/barlab/apt/${want%%:*}"
    fi
done

# The dry run installs nothing and leaves the machine's lists alone.
if compgen -G "$cold/lists/*_Packages*" >/dev/null; then
    bad setup-dry-run-writes-nothing "the dry run fetched the machine's own lists"
else
    ok setup-dry-run-writes-nothing
fi

# What a real first run does when the lists are missing: fetch them once.
if [ "$(id -u)" -eq 0 ]; then
    HARNESS_TIMEOUT=$net_timeout run env BARLAB_CACHE="$cold/barlab" BARLAB_BUILD="$HARNESS_TMP/build" bash -c \
        '. "$1/scripts/lib/common.sh" && . "$1/scripts/lib/apt.sh" && apt_update_once && apt_update_once &&
         apt-cache policy gcc' _ "$ROOT"
    expect setup-update-when-lists-missing 0 ' Packages$'
    n=$(grep -c 'apt-update \.\.\. *ok' "$HARNESS_TMP/err")
    check setup-update-only-once [ "$n" -eq 1 ]
    # The kernel source step resolves its package from those lists.
    run env BARLAB_CACHE="$cold/barlab" BARLAB_BUILD="$HARNESS_TMP/build" bash -c \
        '. "$1/scripts/lib/common.sh" && . "$1/scripts/lib/apt.sh" && . "$1/scripts/lib/kernel.sh" &&
         v=$(_kernel_version) && [ -n "$v" ] && apt-get download --print-uris "$KERNEL_PACKAGE=$v"' _ "$ROOT"
    expect setup-kernel-source-resolves 0 "linux-source-6\.12_6\.12\.[^ ]*_all\.deb"
fi

after=$(etc_state)
if [ "$before" = "$after" ]; then
    ok setup-etc-apt-untouched
else
    echo "$(diff <(echo "$before") <(echo "$after"))" >"$HARNESS_TMP/out"
    : >"$HARNESS_TMP/err"
    bad setup-etc-apt-untouched "barlab changed /etc/apt"
fi

harness_summary
