# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab's two patch series as upstream would receive them.

hw/qemu-patches (QEMU; applied in file-name order, the cover letter left
out) and kernel-patches (Linux; applied in the order of kernel-patches/
series) are each one numbered series, [PATCH 01/13] ... with a cover
letter [PATCH 00/13] that names every patch, by one author who signs off
every patch; and each patch passes its project's scripts/checkpatch.pl
(the kernel's with --strict) with the unpacked source as its tree, with no
error and no warning.  The kernel's --strict CHECKs are listed, not
failed: the ones the series has are the kernel's own idioms (TRACE_EVENT
layout, the kernel's MT_S2_DEVICE_nGnRE name).

results(root, qemu_src, kernel_src) gives each check and its problems;
tests/series/test_series.py runs them (`barlab check series`).
"""

import glob
import os
import re
import subprocess
import tempfile

COVER = "0000-cover-letter.patch"


def header(path):
    """The mail header of a format-patch file: {field: value} (unfolded)
    and the commit message up to the '---' line."""
    text = open(path, encoding="utf-8").read()
    head, _, rest = text.partition("\n\n")
    fields = {}
    for line in re.sub(r"\n[ \t]+", " ", head).splitlines()[1:]:
        name, _, value = line.partition(": ")
        fields[name] = value.strip()
    return fields, rest.partition("\n---\n")[0]


def qemu_patches(root):
    """hw/qemu-patches in the order barlab.qemu applies them."""
    return sorted(p for p in glob.glob(os.path.join(root, "hw/qemu-patches/*.patch"))
                  if os.path.basename(p) != COVER)


def kernel_patches(root):
    """kernel-patches in the order of its series file."""
    d = os.path.join(root, "kernel-patches")
    with open(os.path.join(d, "series"), encoding="utf-8") as f:
        names = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    return [os.path.join(d, n) for n in names]


def numbering_problems(patches, cover):
    """What is wrong with the [PATCH n/N] numbering and the cover letter."""
    problems = []
    n = len(patches)
    width = len(str(n))
    for i, p in enumerate([cover] + patches):
        if not os.path.exists(p):
            problems.append("%s is missing" % os.path.basename(p))
            continue
        fields, _ = header(p)
        want = "[PATCH %0*d/%d]" % (width, i, n)
        if not fields.get("Subject", "").startswith(want + " "):
            problems.append("%s: subject %r, wanted it to start with %s"
                            % (os.path.basename(p), fields.get("Subject", ""), want))
    if os.path.exists(cover):
        text = " ".join(open(cover, encoding="utf-8").read().split())
        for p in patches:
            subject = header(p)[0].get("Subject", "")
            title = subject.split("] ", 1)[-1]
            if title not in text:
                problems.append("the cover letter does not name %s (%s)" % (os.path.basename(p), title))
    return problems


def identity_problems(patches):
    """Each patch's author must be the same person, who signs it off."""
    problems = []
    authors = {}
    for p in patches:
        fields, message = header(p)
        author = fields.get("From", "")
        authors.setdefault(author, []).append(os.path.basename(p))
        if not os.path.basename(p) == COVER and "Signed-off-by: " + author not in message:
            problems.append("%s: no 'Signed-off-by: %s'" % (os.path.basename(p), author))
    if len(authors) > 1:
        problems.append("%d author identities: %s" % (
            len(authors), "; ".join("%s (%d patches)" % (a, len(ps)) for a, ps in authors.items())))
    return problems


def checkpatch(src, patch, strict):
    """(errors, warnings, checks, output) of SRC's scripts/checkpatch.pl on
    PATCH, with SRC as its tree.  It runs in a scratch directory: the
    kernel's writes a cache file into the directory it runs in, and the
    source trees are shared by every checkout."""
    cmd = ["perl", os.path.join(src, "scripts/checkpatch.pl"), "--root=" + src]
    cmd += ["--strict"] if strict else []
    with tempfile.TemporaryDirectory(prefix="barlab-checkpatch-") as scratch:
        proc = subprocess.run(cmd + [os.path.abspath(patch)], cwd=scratch,
                              capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    m = re.search(r"^total: (\d+) errors, (\d+) warnings(?:, (\d+) checks)?", out, re.M)
    if not m:
        return None, None, None, out
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), out


def results(root, qemu_src, kernel_src):
    """Each check, in order: (name, problems, notes); no problems is a
    pass, NOTES are lines worth showing either way."""
    series = [("qemu", qemu_patches(root), os.path.join(root, "hw/qemu-patches", COVER),
               qemu_src, False),
              ("kernel", kernel_patches(root), os.path.join(root, "kernel-patches", COVER),
               kernel_src, True)]
    everyone = []
    for name, patches, cover, src, strict in series:
        yield "series-%s-numbering" % name, numbering_problems(patches, cover), []
        everyone += patches + ([cover] if os.path.exists(cover) else [])
        for p in patches:
            errors, warnings, checks, out = checkpatch(src, p, strict)
            base = os.path.basename(p)
            if errors is None:
                yield ("checkpatch-%s-%s" % (name, base[:4]),
                       ["checkpatch.pl printed no total for %s:" % base] + out.splitlines()[-8:],
                       [])
                continue
            lines = [ln for ln in out.splitlines() if ln.startswith(("ERROR:", "WARNING:", "#"))]
            yield ("checkpatch-%s-%s" % (name, base[:4]),
                   [] if errors == 0 and warnings == 0 else
                   ["%s: %d errors, %d warnings" % (base, errors, warnings)] + lines[:12],
                   ["%s: %d --strict checks (listed, not failed)" % (base, checks)]
                   if checks else [])
    yield "series-one-author", identity_problems(everyone), []
