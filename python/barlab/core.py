# SPDX-License-Identifier: GPL-2.0-or-later
"""The C core (hw/memtype), its tests and the host tools, built with meson
in BUILD/core (BUILD/core-sanitize with ASan and UBSan), and barlab-mt:
the tables of CPUs, policies and patterns the C core defines, which every
host module reads from it."""

import json
import os
import shutil
import subprocess

from .common import ROOT, Fatal, UsageError, build_dir, or_list, run_step

SANITIZE_ARGS = ["-Db_sanitize=address,undefined", "-Db_lundef=false",
                 "-Dc_args=-fno-sanitize-recover=undefined",
                 "-Dcpp_args=-fno-sanitize-recover=undefined"]


def build_path(sanitize=False):
    return build_dir() / ("core-sanitize" if sanitize else "core")


def tool_path(name, sanitize=False):
    """A host tool of the core's build (tools/: barlab-mt, barlab-agree)."""
    return build_path(sanitize) / "tools" / name


def mt_path(sanitize=False):
    return tool_path("barlab-mt", sanitize)


def build(sanitize=False):
    """Configure (once) and build the core; a failure is fatal."""
    out = build_path(sanitize)
    suffix = "-sanitize" if sanitize else ""
    if not (out / "build.ninja").is_file():
        shutil.rmtree(out, ignore_errors=True)   # a half-configured tree
        run_step("core%s-configure" % suffix,
                 ["meson", "setup", str(out), str(ROOT)] + (SANITIZE_ARGS if sanitize else []),
                 fatal="configuring the C core failed")
    run_step("core%s-build" % suffix, ["ninja", "-C", str(out)],
             fatal="building the C core failed")
    return out


def mt_fresh():
    """barlab-mt, up to date: quietly when its build tree exists, with
    the build's progress lines when it does not."""
    out = build_path()
    if (out / "build.ninja").is_file():
        subprocess.call(["ninja", "-C", str(out), "tools/barlab-mt"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not os.access(mt_path(), os.X_OK):
        build()
    return mt_path()


def mt(*args, check=True):
    """barlab-mt's stdout for ARGS."""
    proc = subprocess.run([str(mt_fresh())] + [str(a) for a in args],
                          stdout=subprocess.PIPE, text=True, check=False)
    if check and proc.returncode != 0:
        raise Fatal("barlab-mt %s failed (exit %d)" % (" ".join(map(str, args)),
                                                       proc.returncode))
    return proc.stdout


_LISTS = {}


def names(what):
    """The names barlab-mt lists for WHAT (cpus, policies, patterns): the
    C core's tables are the one place they are defined."""
    if what not in _LISTS:
        _LISTS[what] = [line.split()[0] for line in mt(what).splitlines() if line.strip()]
    return _LISTS[what]


_FACTS = {}


def facts(what):
    """What the C core's tables say, from 'barlab-mt WHAT --json': for
    patterns and faults a list (one dict each, in the table's order), for
    s1-names (MAIR encoding to name) and defaults ({"cpu", "policy",
    "agree_cpus", "fullstack_policies"}) a dict."""
    if what not in _FACTS:
        lines = [json.loads(line) for line in mt(what, "--json").splitlines() if line.strip()]
        _FACTS[what] = lines if what in ("patterns", "faults") else lines[0]
    return _FACTS[what]


def not_one_of(cmd, what, value, allowed):
    """The usage error for VALUE of WHAT (an option '--cpu' or an
    argument 'CPU model')."""
    if what.startswith("-"):
        raise UsageError(cmd, "%s must be %s, not '%s'" % (what, or_list(allowed), value))
    raise UsageError(cmd, "unknown %s '%s' (%s)" % (what, value, or_list(allowed)))


def check_choice(cmd, what, value, table):
    allowed = names(table)
    if value not in allowed:
        not_one_of(cmd, what, value, allowed)
    return value


def check_cpu(cmd, value, what="--cpu"):
    return check_choice(cmd, what, value, "cpus")


def check_policy(cmd, value, what="--policy"):
    return check_choice(cmd, what, value, "policies")


def check_port_mode(cmd, what, value):
    proc = subprocess.run([str(mt_fresh()), "port-mode", value], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "invalid"
        raise UsageError(cmd, "%s: %s" % (what, err.replace("barlab: error: ", "", 1)))
    return value
