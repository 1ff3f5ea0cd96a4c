#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab.apt reads the machine's apt sources as apt does and builds its
private states from them, without the network: APT_CONFIG points apt at
a configuration directory of this test's own (deb822 and one-line
sources), as it points the cold-path test at empty package lists."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import barlabtest  # noqa: E402  pylint: disable=wrong-import-position

from barlab import apt  # noqa: E402  pylint: disable=wrong-import-position

SOURCES = """\
Types: deb
# a comment inside a stanza
URIs: http://main.example.invalid/debian/
Suites: bookworm
  bookworm-updates
Components: main

Types: deb deb-src
URIs: http://security.example.invalid/debian-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example.invalid/debian
Suites: trixie
Components: main
"""

LIST = """\
# one-line style, with options
deb [arch=amd64 signed-by=/x.gpg] http://list.example.invalid/debian bookworm-backports main contrib
deb-src http://src.example.invalid/debian trixie main
"""


class AptSourcesTest(barlabtest.BarlabTest):
    """The machine's sources, mirror and suite URIs, and a private state."""

    def setUp(self):
        etc = self.scratch("etc")
        (etc / "sources.list.d").mkdir(parents=True, exist_ok=True)
        (etc / "apt.conf.d").mkdir(exist_ok=True)
        (etc / "sources.list.d" / "debian.sources").write_text(SOURCES)
        (etc / "sources.list").write_text(LIST)
        conf = self.scratch("apt.conf")
        conf.write_text('Dir::Etc "%s/";\n' % etc)
        self.env = {"APT_CONFIG": str(conf), "BARLAB_CACHE": str(self.scratch("cache"))}
        self.saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)

    def tearDown(self):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def test_sources(self):
        with self.check("apt-sources-deb822-and-list"):
            self.assertEqual(apt.sources(), [
                ("deb", "http://main.example.invalid/debian/", "bookworm bookworm-updates",
                 "main"),
                ("deb deb-src", "http://security.example.invalid/debian-security",
                 "bookworm-security", "main"),
                ("deb", "http://list.example.invalid/debian", "bookworm-backports",
                 "main contrib"),
                ("deb-src", "http://src.example.invalid/debian", "trixie", "main")])
        with self.check("apt-machine-suites"):
            self.assertEqual(apt.machine_suites(), ["bookworm", "bookworm-updates",
                                                    "bookworm-security", "bookworm-backports"])
        with self.check("apt-mirror"):
            self.assertEqual(apt.mirror(), "http://main.example.invalid/debian")
        with self.check("apt-suite-uri"):
            self.assertEqual(apt.suite_uri("bookworm-security"),
                             "http://security.example.invalid/debian-security")
            self.assertEqual(apt.suite_uri("trixie"), "http://src.example.invalid/debian")
            # A suite the sources do not name: the main mirror.
            self.assertEqual(apt.suite_uri("sid"), "http://main.example.invalid/debian")

    def test_private_state(self):
        state = apt.papt_root("arm64-bookworm")
        state.mkdir(parents=True)
        want = ("deb [arch=arm64 signed-by=%s] http://main.example.invalid/debian bookworm main\n"
                "deb-src [arch=arm64 signed-by=%s] http://src.example.invalid/debian trixie "
                "main\n" % (apt.KEYRING, apt.KEYRING))
        # Lists an hour old for these very sources: nothing is fetched.
        (state / "sources.list").write_text(want)
        (state / "updated").touch()
        hour_ago = time.time() - 3600
        os.utime(state / "updated", (hour_ago, hour_ago))
        apt.papt_update("arm64-bookworm", "arm64", "--host-status", "deb:bookworm",
                        "deb-src:trixie")
        with self.check("papt-update-fresh-lists-kept"):
            self.assertEqual((state / "sources.list").read_text(), want)
            self.assertAlmostEqual((state / "updated").stat().st_mtime, hour_ago, delta=1)
        with self.check("papt-private-options"):
            argv = apt.papt_argv("arm64-bookworm", "apt-get", "update")
            opts = dict(a.split("=", 1) for a in argv[1:-1] if "=" in a)
            self.assertEqual(argv[0], "apt-get")
            self.assertEqual(argv[-1], "update")
            self.assertEqual(opts["APT::Architecture"], "arm64")
            self.assertEqual(opts["Dir::State::status"], "/var/lib/dpkg/status")
            self.assertEqual(opts["Dir::Etc::SourceList"], str(state / "sources.list"))
            self.assertTrue(opts["Dir::State::lists"].startswith(str(state)))


if __name__ == "__main__":
    barlabtest.main()
