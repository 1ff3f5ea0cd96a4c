#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The matrix's HTML report in a real browser: Debian's chromium, headless,
# renders the index.html of the matrix suite's quick run (the run `check
# matrix` made just before this script; no run of its own).  The
# screenshot must be a PNG of the window's size with the overview's
# squares visible in its top part; the DOM chromium built must hold one
# overview square per cell of report.json, each linked to its cell's
# details, with exactly the differing cells marked.  A copy of the report
# with cells made to differ and a violation added, rendered by
# barlab.report_html, must carry those marks too.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/harness.sh"
REPORT=${MATRIX_REPORT:-${BARLAB_BUILD:-$ROOT/build}/matrix-check}
T=$HARNESS_TMP
WIDTH=1280
HEIGHT=900

if ! command -v chromium >/dev/null; then
    echo "FAIL chromium-installed: no chromium on PATH ('scripts/barlab setup' installs Debian's chromium)"
    harness_failed=$((harness_failed + 1))
    harness_summary
    exit 0
fi
ok chromium-installed
if [ ! -f "$REPORT/report.json" ] || [ ! -f "$REPORT/index.html" ]; then
    echo "FAIL report-present: no report.json and index.html in $REPORT (the matrix suite's quick run writes them)"
    harness_failed=$((harness_failed + 1))
    harness_summary
    exit 0
fi
ok report-present

# browser NAME OPTION... URL: headless chromium with a profile of its own
# (other runs may use the browser at the same time).
browser() {
    local name=$1
    shift
    HARNESS_TIMEOUT=60 run chromium --headless --disable-gpu --no-sandbox --no-first-run \
        --user-data-dir="$T/profile-$name" --force-device-scale-factor=1 \
        --window-size="$WIDTH,$HEIGHT" "$@"
}

browser shot --screenshot="$T/shot.png" "file://$REPORT/index.html"
if [ "$(status)" = 0 ] && [ -s "$T/shot.png" ]; then ok screenshot-written; else
    bad screenshot-written "chromium exit $(status), no $T/shot.png"; fi
browser dom --dump-dom "file://$REPORT/index.html"
cp "$HARNESS_TMP/out" "$T/dom.html"
[ "$(status)" = 0 ] && [ -s "$T/dom.html" ] && ok dom-dumped || bad dom-dumped "chromium exit $(status)"

# The screenshot: a PNG of the window's size, and the overview's colours
# (barlab.report_html's KINDS) on more pixels of its top part than the
# legend alone covers: the squares are on screen.
run python3 - "$T/shot.png" "$WIDTH" "$HEIGHT" "$REPORT/report.json" "$ROOT/python" <<'PY'
import json, struct, sys, zlib
path, width, height, report, scripts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
sys.path.insert(0, scripts)
from barlab import report_html
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
chunks, pos = {}, 8
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    chunks.setdefault(kind, []).append(data[pos + 8:pos + 8 + n])
    pos += 12 + n
w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
assert (w, h) == (width, height), "the screenshot is %dx%d, the window %dx%d" % (w, h, width, height)
assert depth == 8 and colour in (2, 6) and not interlace, "PNG form %d/%d/%d not decoded here" % (depth, colour, interlace)
bpp = 3 if colour == 2 else 4
raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
stride = w * bpp
rows, prev = [], bytearray(stride)
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
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
colours = {bytes.fromhex(hexa[1:]) for _, hexa, _ in report_html.KINDS}
top = h // 2
seen = sum(bytes(row[x * bpp:x * bpp + 3]) in colours for row in rows[:top] for x in range(w))
cells = len(json.load(open(report))["cells"])
# A square is 16x16; the legend shows 9 of them.  Ask for the legend and
# more than half of the first 40 cells' squares.
need = (9 + min(cells, 40) // 2) * 16 * 16
assert seen >= need, "%d pixels of the overview's colours in the top %d rows, wanted %d" % (seen, top, need)
print("png %dx%d, %d overview pixels in the top half" % (w, h, seen))
PY
expect screenshot-shows-overview 0 '^png '

# The DOM: one square per cell, linked to the cell's details; the marks
# are exactly the report's differing cells and its cells with violations.
dom_check() {
    run python3 - "$1" "$2" <<'PY'
import json, sys
from html.parser import HTMLParser
report = json.load(open(sys.argv[2]))

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

d = Dom()
d.feed(open(sys.argv[1]).read())
cells = {r["index"]: r for r in report["cells"]}
assert len(d.squares) == len(cells), "%d squares in the overview, %d cells in report.json" % (len(d.squares), len(cells))
assert set(d.squares) == set(cells), "squares for cells %s, not in report.json" % sorted(set(d.squares) ^ set(cells))
assert set(d.details) == set(cells), "no details for cells %s" % sorted(set(cells) - set(d.details))
for i, r in cells.items():
    cls, text = d.squares[i]
    differs = not r["match"]
    assert ("differs" in cls) == differs and ("\u2717" in text) == differs, \
        "cell %d: match %s, square %s %r" % (i, r["match"], sorted(cls), text)
    assert d.details[i] == differs, "cell %d: details open=%s, match %s" % (i, d.details[i], r["match"])
    viol = bool((r.get("verdict") or {}).get("seen")) or any(t.get("verdict") for t in r["txns"])
    assert ("viol" in cls) == viol, "cell %d: violation %s, square %s" % (i, viol, sorted(cls))
    assert bool(d.viol_rects.get(i)) == (viol and bool(r["txns"])), \
        "cell %d: %d violating transactions outlined, violation %s" % (i, d.viol_rects.get(i, 0), viol)
print("dom %d squares, %d differ, %d with violations" % (
    len(d.squares), sum("differs" in c for c, _ in d.squares.values()),
    sum("viol" in c for c, _ in d.squares.values())))
PY
}
dom_check "$T/dom.html" "$REPORT/report.json"
expect dom-one-square-per-cell 0 '^dom [0-9]+ squares'

# The marks, where the quick run may have none to show: half the cells of
# each CPU model made to differ, and a violation on a transaction.
mkdir -p "$T/marked"
run python3 - "$REPORT/report.json" "$T/marked/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for n, c in enumerate(r["cells"]):
    if n % 2:
        c["match"], c["why"] = False, "made to differ by the test"
with_txns = [c for c in r["cells"] if c["txns"]]
assert with_txns, "no cell with transactions"
c, t = with_txns[0], with_txns[0]["txns"][0]
c["verdict"] = {"possible": ["X3"], "seen": ["X3"], "trials": 2, "hits": 1, "hit_rate": 0.5, "state": "found",
                "violations": [{"trial": t.get("trial", 0), "rules": ["X3"], "op": t["op"], "addr": t["off"], "off": t["off"],
                                "size": t["size"], "seq_first": t["seq_first"], "seq_last": t["seq_last"],
                                "verdict_seq": t["seq_last"] + 1, "spec": False}]}
json.dump(r, open(sys.argv[2], "w"))
PY
run env PYTHONPATH="$ROOT/python" python3 -m barlab.report_html "$T/marked/report.json" "$T/marked/index.html"
expect marked-rendered 0
browser marked --dump-dom "file://$T/marked/index.html"
cp "$HARNESS_TMP/out" "$T/marked-dom.html"
dom_check "$T/marked-dom.html" "$T/marked/report.json"
expect dom-marks-differing-cells 0 '^dom [0-9]+ squares, [1-9][0-9]* differ, [1-9][0-9]* with violations'

harness_summary
