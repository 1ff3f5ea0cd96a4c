# SPDX-License-Identifier: GPL-2.0-or-later
"""Report directories that are safe to point anywhere (`--out DIR` of
matrix, matrix merge, boot and fullstack).

- A report directory holds a manifest, DIR/.barlab-manifest: its first
  line "barlab-manifest 1 KIND", then every file and directory barlab
  wrote there, one relative path a line.  barlab replaces such a
  directory only while it holds nothing else; a directory that is not
  empty and has no manifest, or has a file the manifest does not list,
  is refused with one message, before anything is built or started.
- A run writes into a staging directory beside DIR, PARENT/.NAME.barlab-run,
  and only a finished run puts it in DIR's place (two renames: DIR to
  .NAME.barlab-old, the staging directory to DIR).  An interrupt (INT,
  TERM, HUP) ends the run's children and removes the staging directory;
  a run that fails keeps it and says so; kill -9 leaves it for the next
  run to remove.  So DIR holds the previous report, or (for the instant
  between the renames) none, never part of one.

    report = output.open_report("matrix", "matrix", "build/matrix")
    with report:                 # an interrupt ends the command here
        ... write into report.stage, run children with report.run() ...
        report.commit()
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .common import Fatal, UsageError, msg

MANIFEST = ".barlab-manifest"
SIGNALS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


def _entries(path):
    """Every path below PATH, relative, sorted as C sorts, directories with
    a trailing "/", the manifest left out."""
    out = []
    for top, dirs, files in os.walk(path):
        rel = os.path.relpath(top, path)
        for d in dirs:
            out.append(os.path.normpath(os.path.join(rel, d)) + "/")
        for f in files:
            p = os.path.normpath(os.path.join(rel, f))
            if p != MANIFEST:
                out.append(p)
    return sorted(out, key=lambda s: s.encode())


def _manifest(path):
    """The lines of PATH's manifest, or None."""
    try:
        with open(os.path.join(path, MANIFEST)) as f:
            return f.read().splitlines()
    except OSError:
        return None


def _header(kind):
    return "barlab-manifest 1 %s" % kind


def _unlisted(path, kind):
    """None if PATH is a directory barlab wrote for KIND (a manifest of
    KIND, nothing it does not list); else the first unlisted path, or ""
    when the manifest is missing or of another kind."""
    lines = _manifest(path)
    if not lines or lines[0] != _header(kind):
        return ""
    listed = set(lines[1:])
    return next((e for e in _entries(path) if e not in listed), None)


def check(cmd, kind, path):
    """A usage mistake of CMD unless PATH may take a KIND report.
    Changes nothing."""
    path = str(path)
    if not path:
        raise UsageError(cmd, "--out needs a directory")
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path) or os.path.islink(path):
        raise UsageError(cmd, "--out %s: exists and is not a directory" % path)
    if not os.listdir(path):
        return
    lines = _manifest(path)
    if lines is None:
        raise UsageError(cmd, "--out %s: not empty and not a barlab report (no %s); name a new "
                         "or empty directory" % (path, MANIFEST))
    if not lines or lines[0] != _header(kind):
        other = lines[0].split(" ")[2] if lines and len(lines[0].split(" ")) > 2 else ""
        raise UsageError(cmd, "--out %s: holds another kind of barlab report (%s), not a %s report"
                         % (path, other, kind))
    extra = _unlisted(path, kind)
    if extra is not None:
        raise UsageError(cmd, "--out %s: holds %s, which barlab did not write; move it away or "
                         "name another directory" % (path, extra))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _children():
    """{parent pid: [child pids]} of the processes now running."""
    tree = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def end_children():
    """TERM to every descendant of this process (found while their parents
    still hold them), then up to 10 s for them to end (QEMU writes its
    last lines as it goes), then KILL."""
    tree = _children()
    pids, i = [os.getpid()], 0
    while i < len(pids):
        pids += tree.get(pids[i], [])
        i += 1
    pids = pids[1:]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        if not any(_alive(p) and not _zombie(p) for p in pids):
            return
        time.sleep(0.1)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class Interrupted(BaseException):
    """A signal ended the run: exit with STATUS."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


class Report:
    """A KIND report of command CMD going to DIR: STAGE is where the run
    writes until commit()."""

    def __init__(self, cmd, kind, path):
        check(cmd, kind, path)
        self.cmd, self.kind = cmd, kind
        path = Path(path)
        if path.is_dir():
            self.dir = Path(os.path.realpath(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.dir = Path(os.path.realpath(path.parent)) / path.name
        if str(self.dir) == "/":
            raise UsageError(cmd, "--out /: name a new or empty directory")
        self.stage = self.dir.parent / (".%s.barlab-run" % self.dir.name)
        self.old = self.dir.parent / (".%s.barlab-old" % self.dir.name)
        self._handlers = {}
        if os.path.lexists(self.stage):
            try:
                pid = int((self.stage / (MANIFEST + ".pid")).read_text())
            except (OSError, ValueError):
                raise Fatal("%s: %s exists and barlab did not make it; remove it"
                            % (cmd, self.stage))
            if _alive(pid) and pid != os.getpid():
                raise Fatal("%s: another barlab run (pid %d) is writing %s" % (cmd, pid, self.dir))
            shutil.rmtree(self.stage)
        # An earlier run killed between the two renames of commit().
        if self.old.is_dir() and _unlisted(self.old, kind) is None:
            shutil.rmtree(self.old)
        self.stage.mkdir()
        (self.stage / (MANIFEST + ".pid")).write_text("%d\n" % os.getpid())
        self._trap()

    def _trap(self):
        def interrupted(signum, _frame):
            raise Interrupted(SIGNALS[signum])
        for sig in SIGNALS:
            self._handlers[sig] = signal.signal(sig, interrupted)

    def _untrap(self, ignore=False):
        for sig, old in self._handlers.items():
            signal.signal(sig, signal.SIG_IGN if ignore else old)

    def keep(self, *paths):
        """Carry these entries of the previous report (relative to DIR)
        over into the new one, unchanged (hard links where possible)."""
        for p in paths:
            src, dst = self.dir / p, self.stage / p
            if not os.path.lexists(src):
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            if subprocess.call(["cp", "-al", str(src), str(dst)], stderr=subprocess.DEVNULL):
                subprocess.check_call(["cp", "-a", str(src), str(dst)])

    def discard(self):
        """The run's input was refused: nothing of the run stays."""
        shutil.rmtree(self.stage, ignore_errors=True)
        self.stage = None
        self._untrap()

    def commit(self):
        """Write the manifest and put the staged report in DIR's place; the
        previous report is removed only if it still holds nothing but what
        barlab wrote (a directory that was empty: only if it still is)."""
        if (self.dir / MANIFEST).is_file():
            extra = _unlisted(self.dir, self.kind)
            if extra is not None:
                raise Fatal("%s changed during the run: it holds %s, which barlab did not write; "
                            "the new report is in %s" % (self.dir, extra or "another manifest",
                                                          self.stage))
        elif self.dir.is_dir() and os.listdir(self.dir):
            raise Fatal("%s changed during the run: it is no longer empty; the new report is "
                        "in %s" % (self.dir, self.stage))
        (self.stage / (MANIFEST + ".pid")).unlink()
        (self.stage / MANIFEST).write_text(
            "\n".join([_header(self.kind)] + _entries(self.stage)) + "\n")
        self._untrap(ignore=True)
        if os.path.lexists(self.dir):
            try:
                os.rename(self.dir, self.old)
            except OSError:
                raise Fatal("cannot move the previous report %s aside" % self.dir)
        try:
            os.rename(self.stage, self.dir)
        except OSError:
            raise Fatal("cannot put the report in place: %s (the previous one is %s)"
                        % (self.dir, self.old))
        self.stage = None
        if (self.old / MANIFEST).is_file():
            shutil.rmtree(self.old)
        elif self.old.is_dir():
            os.rmdir(self.old)
        self._untrap()

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, _tb):
        if isinstance(exc, Interrupted):
            self._untrap(ignore=True)
            end_children()
            if self.stage:
                shutil.rmtree(self.stage, ignore_errors=True)
            msg("interrupted: nothing written to %s" % self.dir)
            raise SystemExit(exc.status)
        if self.stage and self.stage.is_dir():
            self._untrap()
            if isinstance(exc, Fatal):
                # The error first, then where the run's files are.
                print("barlab: error: %s" % exc, file=sys.stderr, flush=True)
            msg("the unfinished run's files are in %s (the next run with this --out removes "
                "them); %s is as it was" % (self.stage, self.dir))
            if isinstance(exc, Fatal):
                raise SystemExit(1)
        return False


def open_report(cmd, kind, path):
    """check(), then the staging directory: a Report, to use in a with
    block (an interrupt inside it ends the command, leaving DIR as it
    was)."""
    return Report(cmd, kind, path)
