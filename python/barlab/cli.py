# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab's command line: the commands, their help and the conventions
every command follows.

`barlab CMD --help` prints CMD's usage and does nothing else.  A usage
mistake is one line 'barlab: error: CMD: ...' and "see 'barlab CMD
--help'", exit status 2 (common.UsageError); option values are checked
before anything is built or started.  A failure is 'barlab: error: ...',
exit status 1 (common.Fatal).

Each module that provides commands lists them in COMMANDS, a list of
Command; MODULES names those modules."""

import importlib
import sys

from .common import Fatal, UsageError

# The commands, in the order `barlab --help` lists them.
ORDER = ("setup demo check build boot path matrix fullstack explain agree fuzz "
         "oracle model trace patterns bench cache-key").split()

# The modules that provide the commands.
MODULES = ("barlab.mt", "barlab.setup", "barlab.check", "barlab.buildcmd", "barlab.l1",
           "barlab.matrix", "barlab.fullstack", "barlab.bench")

TAIL = """
'scripts/barlab COMMAND --help' shows a command's options.
Environment: BARLAB_CACHE (downloads and big builds, default ~/.cache/barlab),
BARLAB_BUILD (build tree, default ./build), BARLAB_TEST_TIMEOUT (seconds
a unit test binary or a cli test may run, default 300 and 60)."""


class Command:
    """NAME's USAGE (a text, or a function returning it) and RUN(ARGS),
    which returns the exit status.  SUBS: subcommands, NAME -> (USAGE, RUN),
    chosen by the first argument."""

    def __init__(self, name, usage, run, subs=None):
        self.name = name
        self.usage = usage
        self.run = run
        self.subs = subs or {}

    def text(self, sub=None):
        usage = self.subs[sub][0] if sub else self.usage
        return (usage() if callable(usage) else usage).rstrip("\n") + "\n"


def summary(text):
    """A usage text's summary: its first line after the synopsis."""
    for line in text.splitlines():
        if not line.startswith(("usage:", " ")) and line.strip():
            return line
    return ""


def wants_help(args):
    """True if -h or --help comes before any '--'."""
    for a in args:
        if a == "--":
            return False
        if a in ("-h", "--help"):
            return True
    return False


def opt_value(cmd, args, i):
    """The value of the option args[i]; a usage mistake if there is none."""
    if i + 1 >= len(args):
        raise UsageError(cmd, "%s needs a value" % args[i])
    return args[i + 1]


def check_word(cmd, what, value, allowed):
    """VALUE is one of ALLOWED, or a usage mistake."""
    if value not in allowed:
        from .core import not_one_of   # pylint: disable=import-outside-toplevel
        not_one_of(cmd, what, value, list(allowed))
    return value


def check_seconds(cmd, option, value):
    if not value.isdigit() or int(value) <= 0:
        raise UsageError(cmd, "%s must be a positive number of seconds, not '%s'"
                         % (option, value))
    return int(value)


def commands():
    """The commands run in Python, by name."""
    table = {}
    for name in MODULES:
        for c in importlib.import_module(name).COMMANDS:
            table[c.name] = c
    return table


def usage_barlab(table):
    out = ["usage: scripts/barlab COMMAND [ARGS]", ""]
    for name in ORDER:
        text = table[name].text()
        out.append("  %-10s %s" % (name, summary(text)))
    return "\n".join(out) + "\n" + TAIL + "\n"


def run(argv):
    table = commands()
    if not argv:
        raise UsageError("", "no command")
    cmd, args = argv[0], argv[1:]
    if cmd in ("-h", "--help", "help"):
        sys.stdout.write(usage_barlab(table))
        return 0
    if cmd not in ORDER:
        raise UsageError("", "unknown command '%s'" % cmd)
    command = table[cmd]
    sub = args[0] if args and args[0] in command.subs else None
    if wants_help(args):
        sys.stdout.write(command.text(sub))
        return 0
    if sub:
        return command.subs[sub][1](args[1:])
    return command.run(args)


def main(argv=None, serve=None):
    """Run the command line ARGV (with SERVE: SERVE(ARGV) instead of a
    command) with barlab's conventions for errors; the exit status."""
    return guarded(serve or run, sys.argv[1:] if argv is None else argv)


def guarded(function, argv):
    """FUNCTION(ARGV)'s exit status, with barlab's usage mistakes, errors
    and interrupts as barlab shows them."""
    try:
        return function(argv) or 0
    except UsageError as e:
        sys.stdout.flush()
        print("\n".join(e.lines()), file=sys.stderr)
        return 2
    except Fatal as e:
        sys.stdout.flush()
        print("barlab: error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141
