# SPDX-License-Identifier: GPL-2.0-or-later
"""The one content-addressed cache of barlab's builds.

A build's key is a hash over its inputs (files and trees of the
repository, versions, configure arguments); its output lives in
CACHE/KIND/.../KEY with a stamp file saying what built it.  An entry is
complete when its stamp matches the recipe; it is built into KEY.tmp and
renamed, under a lock, so a second caller waits and an interrupted build
leaves nothing that looks complete."""

import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
from pathlib import Path

from .common import ROOT, cache_dir, msg


def text_hash(text):
    """16 hex digits of TEXT's sha256 (bytes or str)."""
    if isinstance(text, str):
        text = text.encode()
    return hashlib.sha256(text).hexdigest()[:16]


def _files(paths, root):
    out = []
    for p in paths:
        full = root / p
        if full.is_file():
            out.append(str(p))
        elif full.is_dir():
            for dirpath, _dirs, names in os.walk(full):
                rel = os.path.relpath(dirpath, root)
                out.extend(os.path.join(rel, n) for n in names
                           if os.path.isfile(os.path.join(dirpath, n)))
    return sorted(set(out), key=os.fsencode)


def tree_lines(*paths, root=ROOT):
    """{PATH: SHA256} of the files below PATHS (relative to ROOT)."""
    root = Path(root)
    sums = {}
    for name in _files(paths, root):
        h = hashlib.sha256()
        with open(root / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        sums[name] = h.hexdigest()
    return sums


def tree_hash(*paths, root=ROOT, fixed=None):
    """One hash over the names and contents of the files below PATHS
    (relative to ROOT), stable across machines: the sha256 of the lines
    'SHA256  PATH' in byte order of the paths (what `sha256sum` prints),
    16 hex digits.  FIXED ({PATH: SHA256}) adds lines for files a key
    names by a fixed sum (a recipe that is no longer a file of its own)."""
    sums = tree_lines(*paths, root=root)
    sums.update(fixed or {})
    return text_hash("".join("%s  %s\n" % (sums[name], name)
                             for name in sorted(sums, key=os.fsencode)))


@contextlib.contextmanager
def lock(path, what):
    """Hold an exclusive lock on PATH; say so if another barlab has it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            msg("waiting for another barlab to finish with %s" % what)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class Entry:
    """One cached build: CACHE/KIND/KEY (KIND may have several parts)."""

    def __init__(self, kind, key, recipe=""):
        self.path = cache_dir() / kind / key
        self.recipe = recipe.rstrip("\n")
        self.kind = kind

    @property
    def stamp(self):
        return self.path / "stamp"

    def complete(self):
        try:
            return self.stamp.read_text().rstrip("\n") == self.recipe
        except OSError:
            return False

    def build(self, make, what=None):
        """Unless complete, call MAKE(TMPDIR) to fill KEY.tmp, write the
        stamp and rename it to KEY.  Returns the entry's path."""
        if self.complete():
            return self.path
        with lock(str(self.path) + ".lock", what or self.kind):
            if self.complete():
                return self.path
            tmp = Path(str(self.path) + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            make(tmp)
            (tmp / "stamp").write_text(self.recipe + "\n")
            # A stale entry of the same key (another recipe) was ours too.
            shutil.rmtree(self.path, ignore_errors=True)
            os.rename(tmp, self.path)
        return self.path


if __name__ == "__main__":
    print(tree_hash(*sys.argv[1:]))
