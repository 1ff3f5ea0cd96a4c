# SPDX-License-Identifier: GPL-2.0-or-later
"""The matrix's HTML report (OUT/index.html), rendered from report.json.

It renders, it does not judge: every verdict on the page is one
scripts/matrix.py wrote into the report.
"""

import html


def timeline_svg(r):
    """Program order (the pattern's accesses) against arrival at the device."""
    txns = r["txns"]
    if not txns:
        return ""
    first = min(t["seq_first"] for t in txns)
    last = max(t["seq_last"] for t in txns)
    n = last - first + 1
    w = 360
    step = w / max(n, 1)
    parts = ['<svg class="tl" width="%d" height="92" viewBox="0 0 %d 92">' % (w + 120, w + 120),
             '<text x="0" y="14">program order</text><text x="0" y="84">at the device</text>']
    for k in range(n):
        parts.append('<rect x="%.1f" y="4" width="%.1f" height="14" class="acc"/>' % (110 + k * step, step - 2))
    x = 110
    total = sum(t["size"] for t in txns) or 1
    for t in sorted(txns, key=lambda t: t["i"]):
        tw = w * t["size"] / total
        cls = "gath" if t["n"] > 1 else "txn"
        parts.append('<rect x="%.1f" y="70" width="%.1f" height="16" class="%s"><title>+%d %dB, %d access%s, %s</title></rect>'
                     % (x, tw - 2, cls, t["off"], t["size"], t["n"], "es" if t["n"] > 1 else "", t["reason"]))
        for s in range(t["seq_first"], t["seq_last"] + 1):
            ax = 110 + (s - first) * step + step / 2
            parts.append('<line x1="%.1f" y1="18" x2="%.1f" y2="70" class="%s"/>' % (ax, x + tw / 2, cls))
        x += tw
    parts.append("</svg>")
    return "".join(parts)


def write(path, report, s1_names):
    """OUT/index.html from REPORT (report.json's content)."""
    e = html.escape
    order = report["patterns"]
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>barlab matrix</title><style>",
           "body{font-family:sans-serif;margin:1.5em} table{border-collapse:collapse;margin-bottom:2em}",
           "td,th{border:1px solid #bbb;padding:3px 6px;font-size:13px;vertical-align:top}",
           "td.ok{background:#e6f5e6} td.bad{background:#f9d6d6} .rules{color:#666;font-size:11px}",
           "rect.acc{fill:#8ab} rect.txn{fill:#c96} rect.gath{fill:#5a5} line.txn{stroke:#c96}",
           "line.gath{stroke:#5a5} svg.tl text{font-size:11px}</style></head><body>",
           "<h1>barlab matrix</h1><p>%d cells: %d as predicted, %d differ. Stage-2 alignment fault injection: %s.</p>"
           % (len(report["cells"]), report["passed"], report["failed"], "on" if report["inject_align"] else "off")]
    cpus = []
    for r in report["cells"]:
        if r["cell"]["cpu"] not in cpus:
            cpus.append(r["cell"]["cpu"])
    for cpu in cpus:
        rs = [r for r in report["cells"] if r["cell"]["cpu"] == cpu]
        cols = []
        for r in rs:
            k = (r["cell"]["policy"], r["cell"]["touch"])
            if k not in cols:
                cols.append(k)
        rows = sorted({(r["cell"]["s1"], r["cell"]["pattern"]) for r in rs},
                      key=lambda k: (list(s1_names).index(k[0]) if k[0] in s1_names else 99, order.index(k[1])))
        index = {(r["cell"]["s1"], r["cell"]["pattern"], r["cell"]["policy"], r["cell"]["touch"]): r for r in rs}
        out.append("<h2>-cpu %s</h2><table><tr><th>stage 1</th><th>pattern</th>%s</tr>"
                   % (e(cpu), "".join("<th>%s, %s touch</th>" % (e(p), e(t)) for p, t in cols)))
        for s1, pat in rows:
            out.append("<tr><td>%s</td><td>%s</td>" % (e(s1_names.get(s1, s1)), e(pat)))
            for p, t in cols:
                r = index.get((s1, pat, p, t))
                if r is None:
                    out.append("<td></td>")
                    continue
                c = r["cell"]
                out.append("<td class='%s'><b>%s</b> %s<br>expected: %s<br><span class='rules'>S2 %s &middot; %s</span>%s%s</td>"
                           % ("ok" if r["match"] else "bad", "&#10003;" if r["match"] else "&#10007;",
                              e(r["observed_text"]), e(r["expected_text"]), e(c["s2"]),
                              e(" ".join(c["rules"]) + (", ISV=0 if trapped: %s" % c["mmio_isv0"]
                                                         if c.get("mmio_isv0") else "")),
                              ("<br><i>%s</i>" % e(r["why"] or r["note"])) if (r["why"] or r["note"]) else "",
                              timeline_svg(r)))
            out.append("</tr>")
        out.append("</table>")
        maps = report["s2_mappings"].get(cpu, [])
        if maps:
            out.append("<details><summary>KVM stage-2 device mappings (kvm_s2_map_device), %d</summary><pre>%s</pre></details>"
                       % (len(maps), e("\n".join(maps[:200]))))
    out.append("<p>Each picture: the pattern's accesses in program order (top) and the transactions "
               "as they reached barlab-gpu (bottom; green: gathered from several accesses).</p></body></html>")
    with open(path, "w") as f:
        f.write("\n".join(out))
