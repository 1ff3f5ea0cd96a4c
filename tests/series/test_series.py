#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The QEMU and kernel patch series as upstream would receive them: one
numbered series each with a cover letter, one author, every patch clean
under its project's checkpatch.pl (barlab.series says what exactly),
with the projects' own checkpatch.pl from their unpacked sources."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest   # noqa: E402  pylint: disable=wrong-import-position
from barlab import common, kernel, qemu, series   # noqa: E402  pylint: disable=wrong-import-position


def sources():
    """The unpacked QEMU and Linux sources (fetched once, cached)."""
    return (str(qemu.source_dir()),
            str(common.cache_dir() / "src" / ("linux-" + kernel.fetch())))


class SeriesTest(barlabtest.BarlabTest):
    def test_series(self):
        qemu_src, kernel_src = sources()
        for name, problems, notes in series.results(str(barlabtest.ROOT), qemu_src, kernel_src):
            with self.check(name):
                if problems:
                    self.fail("\n".join(problems))
            for line in notes:
                print("    " + line, flush=True)


if __name__ == "__main__":
    barlabtest.main()
