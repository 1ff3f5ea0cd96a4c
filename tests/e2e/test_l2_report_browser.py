#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The matrix's HTML report in a real browser: Debian's chromium,
headless, renders the index.html of the matrix suite's quick run (the run
the matrix suite made before this test, $MATRIX_REPORT or
BUILD/matrix-check; no run of its own).  The screenshot must be a PNG of
the window's size with the overview's squares visible in its top part;
the DOM chromium built must hold one overview square per cell of
report.json, each linked to its cell's details, with exactly the
differing cells marked.  A copy of the report with cells made to differ
and a violation added, rendered by barlab.report_html, must carry
those marks too."""

import json
import os
import shutil
import struct
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402

WIDTH, HEIGHT = 1280, 900


def report_dir():
    if os.environ.get("MATRIX_REPORT"):
        return Path(os.environ["MATRIX_REPORT"])
    build = os.environ.get("BARLAB_BUILD") or barlabtest.ROOT / "build"
    return Path(build) / "matrix-check"


def overview_colours():
    """The overview's colours, as the renderer defines them (KINDS)."""
    from barlab import report_html   # barlabtest put the package on the path
    return {bytes.fromhex(colour[1:]) for _, colour, _ in report_html.KINDS}


def png_rows(path):
    """(width, height, bytes per pixel, rows) of an 8-bit RGB(A) PNG."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks, pos = {}, 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.setdefault(kind, []).append(data[pos + 8:pos + 8 + n])
        pos += 12 + n
    w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    assert depth == 8 and colour in (2, 6) and not interlace, \
        "PNG form %d/%d/%d not decoded here" % (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


class Dom(HTMLParser):
    """The overview's squares (links to #cell-N) with their classes and
    text, the cells' details (open or not), and per cell the violating
    transactions outlined in its timeline."""

    def __init__(self):
        super().__init__()
        self.squares, self.details, self.viol_rects = {}, {}, {}
        self.square = self.cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "a" and "sq" in cls:
            index = int(a["href"].split("#cell-")[1])
            assert index not in self.squares, "cell %d has two squares" % index
            self.squares[index] = [set(cls), ""]
            self.square = index
        if tag == "details" and (a.get("id") or "").startswith("cell-"):
            self.cell = int(a["id"][5:])
            self.details[self.cell] = "open" in a
        if tag == "rect" and "viol" in cls and self.cell is not None:
            self.viol_rects[self.cell] = self.viol_rects.get(self.cell, 0) + 1

    def handle_endtag(self, tag):
        if tag == "a":
            self.square = None

    def handle_data(self, data):
        if self.square is not None:
            self.squares[self.square][1] += data


def dom_check(dom_text, report):
    """The squares and details of DOM_TEXT against REPORT (report.json
    loaded): a line "dom N squares, N differ, N with violations"."""
    d = Dom()
    d.feed(dom_text)
    cells = {r["index"]: r for r in report["cells"]}
    assert len(d.squares) == len(cells), \
        "%d squares in the overview, %d cells in report.json" % (len(d.squares), len(cells))
    assert set(d.squares) == set(cells), \
        "squares for cells %s, not in report.json" % sorted(set(d.squares) ^ set(cells))
    assert set(d.details) == set(cells), "no details for cells %s" % sorted(set(cells) -
                                                                            set(d.details))
    for i, r in cells.items():
        cls, text = d.squares[i]
        differs = not r["match"]
        assert ("differs" in cls) == differs and ("\u2717" in text) == differs, \
            "cell %d: match %s, square %s %r" % (i, r["match"], sorted(cls), text)
        assert d.details[i] == differs, \
            "cell %d: details open=%s, match %s" % (i, d.details[i], r["match"])
        viol = (bool((r.get("verdict") or {}).get("seen"))
                or any(t.get("verdict") for t in r["txns"]))
        assert ("viol" in cls) == viol, "cell %d: violation %s, square %s" % (i, viol, sorted(cls))
        assert bool(d.viol_rects.get(i)) == (viol and bool(r["txns"])), \
            "cell %d: %d violating transactions outlined, violation %s" % (
                i, d.viol_rects.get(i, 0), viol)
    return "dom %d squares, %d differ, %d with violations" % (
        len(d.squares), sum("differs" in c for c, _ in d.squares.values()),
        sum("viol" in c for c, _ in d.squares.values()))


def marked(report):
    """REPORT with every second cell made to differ and a violation on the
    first transaction of the first cell that has one."""
    for n, c in enumerate(report["cells"]):
        if n % 2:
            c["match"], c["why"] = False, "made to differ by the test"
    with_txns = [c for c in report["cells"] if c["txns"]]
    assert with_txns, "no cell with transactions"
    c, t = with_txns[0], with_txns[0]["txns"][0]
    c["verdict"] = {"possible": ["X3"], "seen": ["X3"], "trials": 2, "hits": 1, "hit_rate": 0.5,
                    "state": "found",
                    "violations": [{"trial": t.get("trial", 0), "rules": ["X3"], "op": t["op"],
                                    "addr": t["off"], "off": t["off"], "size": t["size"],
                                    "seq_first": t["seq_first"], "seq_last": t["seq_last"],
                                    "verdict_seq": t["seq_last"] + 1, "spec": False}]}
    return report


class ReportBrowserTest(barlabtest.BarlabTest):

    def browser(self, name, *args):
        """Headless chromium with a profile of its own (other runs may use
        the browser at the same time)."""
        return self.run_cmd(["chromium", "--headless", "--disable-gpu", "--no-sandbox",
                             "--no-first-run", "--user-data-dir=%s" % self.scratch("profile-"
                                                                                    + name),
                             "--force-device-scale-factor=1",
                             "--window-size=%d,%d" % (WIDTH, HEIGHT)] + list(args), timeout=60)

    def test_report(self):
        report = report_dir()
        with self.check("chromium-installed"):
            if not shutil.which("chromium"):
                self.fail("no chromium on PATH ('scripts/barlab setup' installs Debian's "
                          "chromium)")
        with self.check("report-present"):
            if not (report / "report.json").is_file() or not (report / "index.html").is_file():
                self.fail("no report.json and index.html in %s (the matrix suite's quick run "
                          "writes them)" % report)
        if not shutil.which("chromium") or not (report / "report.json").is_file() \
                or not (report / "index.html").is_file():
            return
        shot = self.scratch("shot.png")
        r = self.browser("shot", "--screenshot=%s" % shot, "file://%s/index.html" % report)
        with self.check("screenshot-written"):
            self.assertStatus(r, 0)
            self.assertTrue(shot.is_file() and shot.stat().st_size,
                            "chromium wrote no %s" % shot)
        dom = self.browser("dom", "--dump-dom", "file://%s/index.html" % report)
        with self.check("dom-dumped"):
            self.assertStatus(dom, 0)
            self.assertTrue(dom.out, "chromium dumped no DOM")
        report_json = json.loads((report / "report.json").read_text())

        # The screenshot: a PNG of the window's size, and the overview's
        # colours on more pixels of its top part than the legend alone
        # covers: the squares are on screen.
        with self.check("screenshot-shows-overview"):
            w, h, bpp, rows = png_rows(shot)
            self.assertEqual((w, h), (WIDTH, HEIGHT), "the screenshot is %dx%d, the window "
                             "%dx%d" % (w, h, WIDTH, HEIGHT))
            colours = overview_colours()
            seen = sum(bytes(row[x * bpp:x * bpp + 3]) in colours
                       for row in rows[:h // 2] for x in range(w))
            # A square is 16x16; the legend shows 9 of them.  Ask for the
            # legend and more than half of the first 40 cells' squares.
            need = (9 + min(len(report_json["cells"]), 40) // 2) * 16 * 16
            self.assertGreaterEqual(seen, need, "%d pixels of the overview's colours in the "
                                    "top %d rows, wanted %d" % (seen, h // 2, need))

        # The DOM: one square per cell, linked to the cell's details; the
        # marks are exactly the report's differing cells and its cells with
        # violations.
        with self.check("dom-one-square-per-cell"):
            self.assertRegex(dom_check(dom.out, report_json), r"^dom [0-9]+ squares")

        # The marks, where the quick run may have none to show.
        mdir = self.scratch("marked")
        mdir.mkdir()
        (mdir / "report.json").write_text(json.dumps(marked(report_json)))
        r = self.run_cmd([sys.executable, "-m", "barlab.report_html", mdir / "report.json",
                            mdir / "index.html"], env={"PYTHONPATH": str(barlabtest.ROOT / "python")})
        with self.check("marked-rendered"):
            self.assertStatus(r, 0)
        mdom = self.browser("marked", "--dump-dom", "file://%s/index.html" % mdir)
        with self.check("dom-marks-differing-cells"):
            self.assertStatus(mdom, 0)
            self.assertRegex(dom_check(mdom.out, json.loads((mdir / "report.json").read_text())),
                             r"^dom [0-9]+ squares, [1-9][0-9]* differ, [1-9][0-9]* with "
                             r"violations")


if __name__ == "__main__":
    barlabtest.main()
