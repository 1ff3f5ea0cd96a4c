# SPDX-License-Identifier: GPL-2.0-or-later
"""The matrix's HTML report (OUT/index.html), rendered from report.json.

  python3 -m barlab.report_html REPORT.json OUT.html
      Render a report that barlab.matrix wrote (publish() calls
      write() for every run and merge).

It renders, it does not judge: every verdict on the page is one
barlab.matrix wrote into the report.  The page opens with an
overview, one square per cell grouped as the terminal table groups them
(CPU; policy and touch across; stage-1 type and pattern down), coloured
by what happened and marked where it differs from the prediction or a
transaction broke a rule; each cell's details and timeline open on
demand.  Plain HTML and CSS, self-contained, a few lines of script that
open the details a link points to.
"""

import html
import os
import re
import sys

from .common import ROOT

RULES_MD = os.path.join(ROOT, "docs", "rules.md")

# What a square's colour says: the outcome the run observed (the status
# barlab.matrix read from the console), in the legend's order.
KINDS = (
    ("complete", "#3f9e4d", "completed, one transaction per access"),
    ("gathered", "#1f78b4", "completed, writes gathered into fewer transactions"),
    ("el1", "#e6a100", "fault taken in the guest (EL1)"),
    ("el2", "#8e44ad", "stage-2 fault: KVM_RUN failed, the VM was killed"),
    ("refused", "#8c8c8c", "KVM refused the BAR's memory slot"),
    ("none", "#222222", "no result (the run ended before the cell)"),
)
STATUS_KINDS = {"fault-el1": "el1", "vm-killed": "el2", "refused": "refused"}

CSS = """
body{font-family:sans-serif;margin:16px 20px;color:#111}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:18px 0 6px}
.sum{font-size:15px;margin:0 0 4px} .sum b.bad{color:#c0001a} .sum b.ok{color:#2a7a37}
.meta{color:#555;font-size:12px;margin:0 0 10px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin:0 0 10px;align-items:center}
.legend>span{display:inline-flex;align-items:center;gap:5px}
#overview{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-start}
table.ov{border-collapse:collapse;font-size:11px}
table.ov caption{text-align:left;font-weight:bold;font-size:13px;padding-bottom:3px}
table.ov th{font-weight:normal;color:#444;padding:0 3px;white-space:nowrap}
table.ov th.s1{text-align:right;vertical-align:top;color:#111}
table.ov th.pat{text-align:left}
table.ov td{padding:1px} table.ov tr.s1first>*{border-top:6px solid transparent}
.sq{display:block;width:16px;height:16px;box-sizing:border-box;position:relative;
 text-decoration:none;color:#fff;font-size:12px;line-height:16px;text-align:center;font-weight:bold}
.sq.differs{outline:3px solid #e8001c;outline-offset:0;z-index:1}
.sq.viol::after{content:"";position:absolute;right:0;top:0;border-style:solid;
 border-width:0 7px 7px 0;border-color:transparent #e8001c transparent transparent}
a.sq:hover,a.sq:focus{outline:2px solid #000}
details.cell{margin:2px 0;font-size:13px} details.cell>summary{cursor:pointer}
details.cell.differs>summary{color:#c0001a;font-weight:bold}
details.cell .body{margin:4px 0 10px 22px}
table.tx{border-collapse:collapse;font-size:12px;margin:4px 0}
table.tx td,table.tx th{border:1px solid #ccc;padding:1px 5px}
table.tx tr.viol td{background:#fbd3d7}
.rules a{color:#245;font-family:monospace}
svg.tl text{font-size:11px} rect.acc{fill:#8ab} rect.txn{fill:#c96} rect.gath{fill:#2f8f3f}
line.txn{stroke:#c96} line.gath{stroke:#2f8f3f} rect.viol{stroke:#e8001c;stroke-width:3}
line.viol{stroke:#e8001c;stroke-width:2} text.viol{fill:#c0001a;font-weight:bold}
pre{font-size:11px}
""" + "".join(".k-%s{background:%s}" % (k, colour) for k, colour, _ in KINDS)

# Open the cell an overview square links to.
SCRIPT = """
function openCell(){var d=document.getElementById(location.hash.slice(1));
 if(d&&d.tagName=="DETAILS"){d.open=true;d.scrollIntoView();}}
window.addEventListener("hashchange",openCell);window.addEventListener("load",openCell);
"""


def series_text(series):
    """The L1 kernel's patch series in one line (report.json kernel_series)."""
    if not series:
        return "unknown"
    return "%s (%s, sha256 %s%s)" % (
        series["name"], {"barlab": "barlab's", "instead": "instead of barlab's",
                         "on-top": "on top of barlab's"}.get(series["mode"], series["mode"]),
        series["sha256"][:12],
        ", fixed policy %s" % series["policy"] if series.get("policy") else "")


def E(value):
    """Text for the page: escaped, and "-" for what the report leaves null."""
    return html.escape("-" if value is None else str(value))


def gathered(t):
    """A transaction made of several instructions (pieces of one unaligned
    or wide access share a program-order number)."""
    return t["seq_last"] > t["seq_first"]


def kind(r):
    status = r["observed"].get("status")
    if status == "ok":
        return "gathered" if any(gathered(t) for t in r["txns"]) else "complete"
    return STATUS_KINDS.get(status, "none")


# What names one transaction in both the cell's transactions and its
# verdict's violations (docs/matrix.md, "Verdicts in report.json").
TXN_KEY = ("op", "off", "size", "seq_first", "seq_last")


def violations(r):
    """The cell's violating transactions: verdict.violations, or in a
    report without verdicts, the transactions whose trace verdict names
    rules."""
    if "verdict" in r:
        return r["verdict"].get("violations") or []
    return [dict(t, rules=t["verdict"]) for t in r["txns"] if t.get("verdict")]


def rules_seen(r):
    if "verdict" in r:
        return r["verdict"].get("seen") or []
    return list(dict.fromkeys(rid for v in violations(r) for rid in v["rules"]))


def txn_rules(r, t):
    """The rules transaction T of cell R broke, [] if none."""
    key = [f for f in TXN_KEY + ("trial",) if f in t]
    return list(dict.fromkeys(rid for v in violations(r) if all(v.get(f) == t[f] for f in key)
                              for rid in v["rules"]))


def mark(r):
    return "\u2717" if not r["match"] else "~" if r["note"] else ""


def slug(heading):
    """The anchor a Markdown renderer (GitHub's) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def rule_anchors(path=RULES_MD):
    """{rule id: (anchor, one-line text)} from docs/rules.md: a rule's row
    in a table (`| C1 | text | source |`) and the heading above it, or the
    heading that names the rule (`### Merging: V1`) where there is one."""
    rules = {}
    named = {}
    heading = ""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    for line in lines:
        m = re.match(r"^#+\s+(.*)$", line)
        if m:
            heading = m.group(1)
            title = heading.split(":", 1)
            for rid in re.findall(r"\b[A-Z][0-9]\b", title[1] if len(title) > 1 else ""):
                named.setdefault(rid, (slug(heading), heading))
            continue
        m = re.match(r"^\|\s*([A-Z][0-9])\s*\|\s*([^|]*)\|", line)
        if m and m.group(1) not in rules:
            rules[m.group(1)] = (slug(heading), m.group(2).strip())
    for rid, (anchor, text) in named.items():
        rules[rid] = (anchor, rules.get(rid, (None, text))[1])
    return rules


def rule_links(ids, rules, href):
    out = []
    for rid in ids:
        if rid in rules:
            out.append('<a href="%s#%s" title="%s">%s</a>'
                       % (E(href), E(rules[rid][0]), E(rules[rid][1]), E(rid)))
        else:
            out.append(E(rid))
    return '<span class="rules">%s</span>' % " ".join(out)


def row_pattern(c):
    """A row's pattern: cell C's, marked when it ran on barlab-gpu's
    register BAR (bar=nonpref) rather than a prefetchable one; a user's
    pattern by its file (pattern=file:)."""
    name = "file:" + c["pattern_file"] if c.get("pattern_file") else c["pattern"]
    return name + ("@BAR0" if c.get("bar") == "nonpref" else "")


def cell_name(r, s1_names):
    c = r["cell"]
    return "%s/%s/%s/%s/%s" % (c["cpu"], c["policy"], s1_names.get(c["s1"], c["s1"]),
                               row_pattern(c), c["touch"])


def square(r, s1_names):
    k = kind(r)
    classes = ["sq", "k-" + k]
    if not r["match"]:
        classes.append("differs")
    if rules_seen(r):
        classes.append("viol")
    tip = "%s: %s%s" % (cell_name(r, s1_names), r["observed_text"],
                        "" if r["match"] else " (expected %s)" % r["expected_text"])
    v = r.get("verdict") or {}
    if v.get("seen"):
        tip += "; %s in %d of %d trials" % (" ".join(v["seen"]), v.get("hits", 0),
                                            v.get("trials", 0))
    return '<a class="%s" href="#cell-%d" title="%s">%s</a>' % (" ".join(classes), r["index"],
                                                                E(tip), mark(r))


def legend():
    parts = ['<span><span class="sq k-%s"></span>%s</span>' % (k, E(text)) for k, _, text in KINDS]
    parts.append('<span><span class="sq k-complete">~</span>as the architecture permits, '
                 'not as the oracle models it</span>')
    parts.append('<span><span class="sq k-complete differs">\u2717</span>'
                 'differs from the prediction</span>')
    parts.append('<span><span class="sq k-gathered viol"></span>violation found: '
                 'the checker named a rule a transaction broke</span>')
    return '<div class="legend">%s</div>' % "".join(parts)


def by_cpu(cells):
    cpus = []
    for r in cells:
        if r["cell"]["cpu"] not in cpus:
            cpus.append(r["cell"]["cpu"])
    return [(cpu, [r for r in cells if r["cell"]["cpu"] == cpu]) for cpu in cpus]


def layout(rs, order, s1_names):
    """The terminal table's shape: columns (policy, touch) in run order,
    rows (stage-1 type, pattern) by type, then the scenario file's order."""
    cols = []
    for r in rs:
        k = (r["cell"]["policy"], r["cell"]["touch"])
        if k not in cols:
            cols.append(k)
    s1_order = list(s1_names)
    rows = sorted({(r["cell"]["s1"], row_pattern(r["cell"])) for r in rs},
                  key=lambda k: (s1_order.index(k[0]) if k[0] in s1_order else len(s1_order),
                                 order.index(k[1].split("@")[0]) if k[1].split("@")[0] in order
                                 else len(order), k))
    index = {(r["cell"]["s1"], row_pattern(r["cell"]), r["cell"]["policy"], r["cell"]["touch"]): r
             for r in rs}
    return cols, rows, index


def cpu_title(cpu, rs):
    c = rs[0]["cell"]
    return "-cpu %s (%s%s)" % (cpu, "FEAT_S2FWB" if c.get("fwb") else "no FWB",
                               "" if c.get("vhe", True) else ", KVM nVHE")


def overview_table(cpu, rs, order, s1_names):
    cols, rows, index = layout(rs, order, s1_names)
    policies = []
    for p, _ in cols:
        if p not in policies:
            policies.append(p)
    out = ['<table class="ov"><caption>%s</caption><tr><th></th><th></th>' % E(cpu_title(cpu, rs))]
    out += ['<th colspan="%d">%s</th>' % (sum(1 for q, _ in cols if q == p), E(p))
            for p in policies]
    out.append("</tr><tr><th></th><th></th>")
    out += ["<th>%s</th>" % ("1st" if t == "first" else E(t)) for _, t in cols]
    out.append("</tr>")
    for n, (s1, pat) in enumerate(rows):
        first = n == 0 or rows[n - 1][0] != s1
        out.append('<tr class="s1first">' if first and n else "<tr>")
        if first:
            span = sum(1 for k in rows if k[0] == s1)
            out.append('<th class="s1" rowspan="%d">%s</th>' % (span, E(s1_names.get(s1, s1))))
        out.append('<th class="pat">%s</th>' % E(pat))
        for p, t in cols:
            r = index.get((s1, pat, p, t))
            out.append("<td>%s</td>" % (square(r, s1_names) if r else ""))
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def timeline_svg(r):
    """Program order (the pattern's accesses) against arrival at the
    device; a transaction the checker gave a verdict is outlined in red
    and labelled with its rules."""
    txns = r["txns"]
    if not txns:
        return ""
    bad = [txn_rules(r, t) for t in txns]
    first = min(t["seq_first"] for t in txns)
    last = max(t["seq_last"] for t in txns)
    n = last - first + 1
    w = 360
    step = w / max(n, 1)
    height = 106 if any(bad) else 92
    parts = ['<svg class="tl" width="%d" height="%d" viewBox="0 0 %d %d">'
             % (w + 120, height, w + 120, height),
             '<text x="0" y="14">program order</text><text x="0" y="84">at the device</text>']
    for k in range(n):
        parts.append('<rect x="%.1f" y="4" width="%.1f" height="14" class="acc">'
                     '<title>access %d</title></rect>' % (110 + k * step, step - 2, first + k))
    x = 110
    total = sum(t["size"] for t in txns) or 1
    for t, broke in sorted(zip(txns, bad), key=lambda tb: tb[0]["i"]):
        tw = w * t["size"] / total
        cls = "gath" if gathered(t) else "txn"
        viol = bool(broke)
        rules = " ".join(broke)
        parts.append('<rect x="%.1f" y="70" width="%.1f" height="16" class="%s%s">'
                     '<title>%s +%d %dB, accesses %d-%d, %s%s</title></rect>'
                     % (x, tw - 2, cls, " viol" if viol else "", t["op"], t["off"], t["size"],
                        t["seq_first"], t["seq_last"], t["reason"],
                        ", breaks " + rules if viol else ""))
        for s in range(t["seq_first"], t["seq_last"] + 1):
            ax = 110 + (s - first) * step + step / 2
            parts.append('<line x1="%.1f" y1="18" x2="%.1f" y2="70" class="%s"/>'
                         % (ax, x + tw / 2, "viol" if viol else cls))
        if viol:
            parts.append('<text x="%.1f" y="100" class="viol">%s</text>' % (x, E(rules)))
        x += tw
    parts.append("</svg>")
    return "".join(parts)


def txn_table(r):
    if not r["txns"]:
        return "<p>No transaction reached the device.</p>"
    out = ['<table class="tx"><tr><th>#</th><th>op</th><th>offset</th><th>size</th>'
           '<th>accesses</th><th>S1</th><th>S2</th><th>combined</th><th>emitted because</th>'
           '<th>verdict</th></tr>']
    for t in sorted(r["txns"], key=lambda t: t["i"]):
        broke = txn_rules(r, t)
        out.append('<tr%s><td>%d</td><td>%s</td><td>+%d</td><td>%d</td><td>%d-%d</td><td>%#04x</td>'
                   '<td>%#x</td><td>%#04x</td><td>%s</td><td>%s</td></tr>'
                   % (' class="viol"' if broke else "", t["i"], E(t["op"]), t["off"], t["size"],
                      t["seq_first"], t["seq_last"], t["s1"], t["s2"], t["attr"], E(t["reason"]),
                      E(" ".join(broke) or "legal")))
    out.append("</table>")
    return "".join(out)


def verdict_text(r, rules, href):
    """What the checker said: the verdict's state, its hit rate over the
    trials, and each violating transaction."""
    c = r["cell"]
    v = r.get("verdict")
    out = ["<br>"]
    if c.get("port") or c.get("device"):
        out.append("%s, port %s; " % (E(c.get("device", "gpu")), E(c.get("port", "-"))))
    if v is None:
        seen = rules_seen(r)
        out.append("checker: %s" % ("broken " + rule_links(seen, rules, href) if seen
                                    else "every transaction legal"))
    else:
        out.append("checker: %s" % E(v.get("state", "-")))
        if v.get("seen"):
            out.append(", saw %s" % rule_links(v["seen"], rules, href))
        if v.get("possible"):
            out.append(", possible %s" % rule_links(v["possible"], rules, href))
        if v.get("trials"):
            out.append(", %d of %d trials (%.0f%%)" % (v.get("hits", 0), v["trials"],
                                                       100 * v.get("hit_rate", 0)))
    items = []
    for x in violations(r):
        items.append("<li>%s%s%s +%d %dB%s, access%s %s%s: %s</li>"
                     % ("trial %s: " % E(x["trial"]) if "trial" in x else "", E(x.get("op", "?")),
                        " speculative" if x.get("spec") else "", x.get("off", 0), x.get("size", 0),
                        " (BAR %#x)" % x["addr"] if isinstance(x.get("addr"), int) else "",
                        "es" if x.get("seq_last") != x.get("seq_first") else "",
                        E(x.get("seq_first")) + ("" if x.get("seq_last") == x.get("seq_first")
                                                 else "-" + E(x.get("seq_last"))),
                        ", overtaken by access %s" % E(x["verdict_seq"])
                        if x.get("verdict_seq") is not None else "",
                        rule_links(x["rules"], rules, href)))
    if items:
        out.append('<ul class="viol">%s</ul>' % "".join(items))
    return "".join(out)


def cell_details(r, rules, href, s1_names):
    c = r["cell"]
    obs = r["observed"]
    sign = "\u2717" if not r["match"] else "~" if r["note"] else "\u2713"
    out = ['<details class="cell%s" id="cell-%d"%s><summary>%s %s: %s</summary><div class="body">'
           % ("" if r["match"] else " differs", r["index"], "" if r["match"] else " open", sign,
              E(cell_name(r, s1_names)), E(r["observed_text"]))]
    out.append("expected: %s<br>observed: %s (%s)<br>"
               % (E(r["expected_text"]), E(r["observed_text"]),
                  E(obs.get("detail", obs.get("status", "")))))
    if r["why"] or r["note"]:
        out.append("<i>%s</i><br>" % E(r["why"] or r["note"]))
    out.append("stage 1 %s, stage 2 MemAttr %s, combined %s, %s; rules %s%s"
               % (E(s1_names.get(c["s1"], c["s1"])), E(c["s2"]), E(c.get("combined_mair", "?")),
                  E(c.get("shareability", "")), rule_links(c["rules"], rules, href),
                  ("; a VMM trapping the BAR gets ISV=0 for %s" % E(c["mmio_isv0"]))
                  if c.get("mmio_isv0") else ""))
    out.append(verdict_text(r, rules, href))
    out.append(timeline_svg(r))
    out.append(txn_table(r))
    out.append("</div></details>")
    return "".join(out)


def page(report, s1_names, rules_href):
    rules = rule_anchors()
    cells = report["cells"]
    order = report["patterns"]
    differ = sum(not r["match"] for r in cells)
    permitted = sum(r["match"] and bool(r["note"]) for r in cells)
    viol = sum(bool(rules_seen(r)) for r in cells)
    scen = report.get("scenarios") or {}
    shard = report.get("shard")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>barlab matrix: %d cells, %d differ</title><style>%s</style></head><body>"
           % (len(cells), differ, CSS),
           "<h1>barlab matrix</h1>",
           '<p class="sum">%d cells: <b class="ok">%d as predicted</b> (%d of them ~), '
           '<b class="%s">%d differ</b>, '
           "%d with a transaction that broke a rule.</p>"
           % (len(cells), len(cells) - differ, permitted, "bad" if differ else "ok", differ, viol),
           '<p class="meta">%s (sha256 %s) &middot; barlab %s%s &middot; stage-2 alignment fault '
           'injection %s</p>'
           % (E(scen.get("file", "?")), E(scen.get("sha256", "?")[:12]),
              E(report.get("barlab") or "?"),
              " &middot; shard %d/%d" % (shard["k"], shard["n"]) if shard else
              " &middot; merged from %d shards" % report["merged_shards"]
              if report.get("merged_shards") else "",
              "on" if report.get("inject_align") else "off"),
           '<p class="meta">L1 kernel: %s</p>' % E(series_text(report.get("kernel_series"))),
           '<p class="meta">%d more cells not available with this series: policy %s (its kernel '
           "has no run-time policy; report.json: unavailable)</p>"
           % (len(report["unavailable"]),
              E(", ".join(sorted({u["policy"] for u in report["unavailable"]}))))
           if report.get("unavailable") else "",
           legend(), '<div id="overview">']
    groups = by_cpu(cells)
    out += [overview_table(cpu, rs, order, s1_names) for cpu, rs in groups]
    out.append("</div>")
    for cpu, rs in groups:
        cols, rows, index = layout(rs, order, s1_names)
        out.append('<h2>%s</h2>' % E(cpu_title(cpu, rs)))
        out += [cell_details(index[(s1, pat, p, t)], rules, rules_href, s1_names)
                for s1, pat in rows for p, t in cols if (s1, pat, p, t) in index]
        maps = report.get("s2_mappings", {}).get(cpu, [])
        if maps:
            out.append("<details><summary>KVM stage-2 device mappings (kvm_s2_map_device), "
                       "%d</summary><pre>%s</pre></details>"
                       % (len(maps), E("\n".join(maps[:200]))))
    out.append("<p>Each timeline: the pattern's accesses in program order (top) and the "
               "transactions as they reached barlab-gpu (bottom; green: gathered from several "
               "accesses; red: the checker's verdict names a rule the transaction broke). Rule "
               "ids link to "
               '<a href="%s">docs/rules.md</a>.</p>' % E(rules_href))
    out.append("<script>%s</script></body></html>" % SCRIPT)
    return "\n".join(out)


def write(path, report, s1_names):
    """OUT/index.html from REPORT (report.json's content)."""
    href = os.path.relpath(RULES_MD, os.path.dirname(os.path.abspath(path)))
    text = page(report, s1_names, href)
    with open(path, "w") as f:
        f.write(text)


def main(argv):
    import json   # pylint: disable=import-outside-toplevel
    from .matrix import s1_names   # pylint: disable=import-outside-toplevel
    if len(argv) != 3:
        print("usage: python3 -m barlab.report_html REPORT.json OUT.html", file=sys.stderr)
        return 2
    try:
        with open(argv[1]) as f:
            report = json.load(f)
        write(argv[2], report, s1_names())
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("barlab: error: report_html: %s: %s" % (argv[1], e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
