#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab's set-up on a cold machine: apt with no package lists and an
empty barlab cache, as on a fresh Debian 12.  APT_CONFIG points the
machine's apt at an empty list directory of this test's own, and
BARLAB_CACHE at an empty directory; then `setup --dry-run` must resolve
every host package and every private fetch (the qemu source package,
meson, the arm64 packages, the benchmark baseline) from nothing, a real
first run must fetch the missing lists once, and /etc/apt must be byte
for byte as it was.  Network: the machine's own Debian mirror."""

import hashlib
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest   # noqa: E402  pylint: disable=wrong-import-position


def etc_state():
    """Each file below /etc/apt with its digest, and each path."""
    lines = []
    for d, dirs, files in os.walk("/etc/apt"):
        dirs.sort()
        lines.append(d)
        for f in sorted(files):
            p = os.path.join(d, f)
            if os.path.isfile(p):
                lines.append("%s %s" % (hashlib.sha256(open(p, "rb").read()).hexdigest(), p))
            else:
                lines.append(p)
    return lines


def python_then(code, shell):
    """The command line that runs CODE (Python, with barlab's apt and
    kernel modules imported) and, when it has ended well, SHELL (bash)
    with CODE's output on its stdin."""
    prelude = "import sys; sys.path.insert(0, sys.argv[1]); from barlab import apt, kernel\n"
    return ["bash", "-c", 'out=$("$1" -P -c "$2" "$3") && { %s; } <<<"$out"' % shell, "_",
            sys.executable, prelude + code, str(barlabtest.ROOT / "python")]


class SetupTest(barlabtest.BarlabTest):
    # Fetching five sets of package lists from the mirror takes longer
    # than a cli test's usual time limit.
    timeout = int(os.environ.get("BARLAB_TEST_TIMEOUT") or 60) * 10

    def test_cold_setup(self):
        before = etc_state()
        cold = self.scratch("cold")
        for d in ("lists/partial", "cache/archives/partial", "barlab"):
            (cold / d).mkdir(parents=True)
        (cold / "apt.conf").write_text('Dir::State::lists "%s/lists/";\nDir::Cache "%s/cache/";\n'
                                       % (cold, cold))
        env = {"APT_CONFIG": str(cold / "apt.conf"), "BARLAB_CACHE": str(cold / "barlab"),
               "BARLAB_BUILD": str(self.scratch("build"))}

        # The premise: with this configuration the machine's apt knows no
        # package list (only what dpkg says is installed).
        with self.check("setup-cold-premise"):
            r = self.run_cmd(["apt-cache", "policy", "gcc"], env=env)
            self.assertNotRegex(r.out, r"(?m) Packages$",
                                "apt still finds package lists under APT_CONFIG")

        r = self.barlab("setup", "--dry-run", env=env)
        with self.check("setup-dry-run-cold"):
            self.assertStatus(r, 0)
            self.assertOutput(
                r, "package lists are missing: setup runs 'apt-get update' first",
                r"^  needed: [0-9]+; installed: [0-9]+; to install: [0-9]+",
                r"^  linux-source-6\.12 6\.12\.[0-9]",
                r"^  qemu [0-9]+\.[0-9]+\.[0-9]+[^ ]* \(source\) +Debian trixie +to fetch "
                r"\([0-9]+ MB\)",
                r"^  meson 1\.([5-9]|[1-9][0-9])\.[0-9][^ ]* +Debian bookworm-backports +to fetch",
                r"^  busybox-static [^ ]+ +Debian bookworm, arm64 +to fetch",
                r"^  qemu-system-arm [^ ]+ +Debian bookworm, arm64 +[0-9]+ packages",
                r"^  qemu-system-arm [^ ]+~bpo12[^ ]* +Debian bookworm-backports")

        # Each private state fetched its own lists from nothing.
        for state, pattern in (("src-trixie", "*_dists_trixie_main_source_Sources*"),
                               ("amd64-bookworm-backports",
                                "*_dists_bookworm-backports_main_binary-amd64_Packages*"),
                               ("arm64-bookworm", "*_dists_bookworm_main_binary-arm64_Packages*")):
            with self.check("setup-private-lists-%s" % state):
                lists = cold / "barlab" / "apt" / state / "state" / "lists"
                if not list(lists.glob(pattern)):
                    self.fail("no %s below %s" % (pattern, cold / "barlab" / "apt" / state))

        # The dry run installs nothing and leaves the machine's lists alone.
        with self.check("setup-dry-run-writes-nothing"):
            if list((cold / "lists").glob("*_Packages*")):
                self.fail("the dry run fetched the machine's own lists")

        # What a real first run does when the lists are missing: fetch them once.
        if os.getuid() == 0:
            r = self.run_cmd(python_then("apt.update_once(); apt.update_once()",
                                         "apt-cache policy gcc"), env=env)
            with self.check("setup-update-when-lists-missing"):
                self.assertStatus(r, 0)
                self.assertOutput(r, r" Packages$")
            with self.check("setup-update-only-once"):
                n = len(re.findall(r"apt-update \.\.\. *ok", r.err))
                self.assertEqual(n, 1, r.tail())
            # The kernel source step resolves its package from those lists.
            with self.check("setup-kernel-source-resolves"):
                r = self.run_cmd(python_then(
                    "v = kernel.version(); assert v; print('%s=%s' % (kernel.PACKAGE, v))",
                    'apt-get download --print-uris "$(cat)"'), env=env)
                self.assertStatus(r, 0)
                self.assertOutput(r, r"linux-source-6\.12_6\.12\.[^ ]*_all\.deb")

        with self.check("setup-etc-apt-untouched"):
            self.assertEqual(before, etc_state(), "barlab changed /etc/apt")


if __name__ == "__main__":
    barlabtest.main()
