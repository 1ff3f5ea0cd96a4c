# SPDX-License-Identifier: GPL-2.0-or-later
"""What every host command shares: where things are, how barlab talks
(messages, fatal errors, usage mistakes) and logged build steps that show
their progress and, on failure, the tail of their log."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cache_dir():
    """Downloads and big builds: $BARLAB_CACHE or ~/.cache/barlab."""
    if os.environ.get("BARLAB_CACHE"):
        return Path(os.environ["BARLAB_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(xdg) / "barlab"


def build_dir():
    """The tree's build directory: $BARLAB_BUILD or ./build."""
    return Path(os.environ.get("BARLAB_BUILD") or ROOT / "build")


def logs_dir():
    """Where steps write their logs: $BARLAB_LOGS or build/logs."""
    return Path(os.environ.get("BARLAB_LOGS") or build_dir() / "logs")


def tool_env():
    """The environment of barlab's builds: ccache in depend mode (a miss
    runs the compiler once, reading the -MD dependency files QEMU's and
    the kernel's builds write)."""
    env = dict(os.environ)
    env["CCACHE_DEPEND"] = "1"
    return env


class Fatal(Exception):
    """An error that ends the command: 'barlab: error: MESSAGE', exit 1."""


class UsageError(Exception):
    """A usage mistake in command CMD ('' for barlab itself, 'matrix merge'
    for a subcommand): one line, a pointer to the help, exit 2."""

    def __init__(self, cmd, message):
        super().__init__(message)
        self.cmd = cmd
        self.message = message

    def lines(self):
        if self.cmd:
            return ["barlab: error: %s: %s" % (self.cmd, self.message),
                    "see 'barlab %s --help'" % self.cmd]
        return ["barlab: error: %s" % self.message, "see 'barlab --help'"]


def msg(text):
    """A message to the user, on stderr."""
    print("barlab: %s" % text, file=sys.stderr, flush=True)


def die(text):
    raise Fatal(text)


def or_list(words):
    """'a, b or c'."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _tail(path, n):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    return lines[-n:]


class _Progress:
    """How far a running step is, from its log: ninja's [n/N] lines, or
    the kernel's '  CC' lines against an expected count."""

    def __init__(self, kind):
        self.kind = kind

    def done(self, log):
        if self.kind == "ninja":
            try:
                with open(log, "rb") as f:
                    f.seek(0, os.SEEK_END)
                    f.seek(max(0, f.tell() - 4096))
                    text = f.read().decode(errors="replace")
            except OSError:
                return None, None
            last = None
            for line in text.splitlines():
                if line.startswith("[") and "/" in line.split("]")[0]:
                    head = line[1:].split("]")[0]
                    a, _, b = head.partition("/")
                    if a.isdigit() and b.isdigit():
                        last = (int(a), int(b))
            return last if last else (None, None)
        if self.kind.startswith("kbuild:"):
            total = int(self.kind.split(":", 1)[1] or 0)
            try:
                with open(log, "rb") as f:
                    n = sum(1 for line in f if line.startswith(b"  CC"))
            except OSError:
                n = 0
            return n, total
        return None, None


def _progress_line(done, total, elapsed):
    if done and total and total > 0:
        total = max(total, done)
        left = elapsed * (total - done) // done
        return "[%d/%d] %d%%, %dm%02ds, about %dm%02ds left" % (
            done, total, 100 * done // total, elapsed // 60, elapsed % 60,
            left // 60, left % 60)
    if done:
        return "%d done, %dm%02ds" % (done, elapsed // 60, elapsed % 60)
    return "%dm%02ds" % (elapsed // 60, elapsed % 60)


def run_step(name, argv, progress=None, env=None, cwd=None, fatal=None):
    """Run ARGV with its output in LOGS/NAME.log; one progress line and the
    time taken; on failure the log's path and its last lines.  PROGRESS
    ('ninja' or 'kbuild:N') shows how far a long step is: on a terminal a
    line redrawn every 2 s, otherwise (or with BARLAB_STEP_LINES set) one
    line a minute.  Returns the exit status; with FATAL set, a failure
    raises Fatal(FATAL)."""
    logs = logs_dir()
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / ("%s.log" % name)
    lines = not sys.stderr.isatty() or bool(os.environ.get("BARLAB_STEP_LINES"))
    label = "barlab: %-28s " % ("%s ..." % name)
    start = time.monotonic()
    if not lines:
        sys.stderr.write(label)
        sys.stderr.flush()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                env=env if env is not None else tool_env(),
                                cwd=cwd)
        if progress:
            meter = _Progress(progress)
            nap = 5 if lines else 2
            last = time.monotonic()
            while proc.poll() is None:
                try:
                    proc.wait(timeout=nap)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if lines and time.monotonic() - last < 60:
                    continue
                last = time.monotonic()
                done, total = meter.done(log)
                line = _progress_line(done, total, int(time.monotonic() - start))
                if lines:
                    sys.stderr.write("%s%s\n" % (label, line))
                else:
                    sys.stderr.write("\r\033[K%s%s " % (label, line))
                sys.stderr.flush()
            if not lines:
                sys.stderr.write("\r\033[K%s" % label)
        rc = proc.wait()
    if lines:
        sys.stderr.write(label)
    took = int(time.monotonic() - start)
    if rc != 0:
        sys.stderr.write("FAILED (exit %d, %ds)\n" % (rc, took))
        sys.stderr.write('barlab: step "%s" failed; log: %s; last lines:\n' % (name, log))
        for line in _tail(log, 25):
            sys.stderr.write("    %s\n" % line)
        sys.stderr.flush()
        if fatal:
            raise Fatal(fatal)
        return rc
    sys.stderr.write("ok (%ds)\n" % took)
    sys.stderr.flush()
    return 0
