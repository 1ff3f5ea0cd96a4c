# SPDX-License-Identifier: GPL-2.0-or-later
"""Debian packages, the two ways barlab gets them.

- Binary packages of the machine's own release, installed with the
  machine's apt as configured (install); its package lists are refreshed
  once if they are missing (update_once).
- Everything else (another suite, another architecture, a source package)
  comes through a private apt state below CACHE/apt/NAME (papt_update,
  papt) and is used from barlab's cache.  Nothing is written to /etc/apt
  and the host's dpkg never learns about those packages.

The mirror is read from the machine's apt configuration; no host name is
written here.  APT_CONFIG is honoured as apt honours it, which is how the
cold-path tests give apt an empty set of package lists."""

import glob
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

from .common import cache_dir, die, logs_dir, msg, run_step

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# Whether this process ran the machine's apt-get update already.
_updated = []


def host_arch():
    """The machine's own Debian architecture: the private states that fetch
    packages for this machine use it; the guests' states name arm64."""
    if os.environ.get("HOST_ARCH"):
        return os.environ["HOST_ARCH"]
    try:
        out = subprocess.run(["dpkg", "--print-architecture"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, check=False).stdout.strip()
    except OSError:
        out = ""
    return out or "amd64"


def _config(**names):
    """{VAR: value} of apt-config for NAMES (VAR=Option/type)."""
    argv = ["apt-config", "shell"]
    for var, option in names.items():
        argv += [var, option]
    out = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False).stdout
    values = {}
    for word in shlex.split(out):
        var, _, value = word.rstrip(";").partition("=")
        values[var] = value
    return values


def _deb822(text):
    """The enabled entries of a deb822 .sources file, as field dicts."""
    entries, fields, key = [], {}, None
    for line in text.splitlines() + [""]:
        if re.match(r"^[ \t]*#", line):
            continue
        if not line.strip():
            if fields.get("types", "") and fields.get("enabled", "").strip().lower() != "no":
                entries.append(fields)
            fields, key = {}, None
            continue
        if line[0] in " \t":
            if key is not None:
                fields[key] += " " + line
            continue
        key, _, value = line.partition(":")
        key = key.lower()
        fields[key] = value
    return entries


def sources():
    """One (types, uris, suites, components) a source entry of the machine,
    from deb822 *.sources and one-line *.list, in the directories apt
    itself reads; each a space-separated string."""
    conf = _config(etc="Dir::Etc/d", list="Dir::Etc::sourcelist/f",
                   parts="Dir::Etc::sourceparts/d")
    etc = conf.get("etc") or "/etc/apt/"
    listfile = conf.get("list") or etc.rstrip("/") + "/sources.list"
    parts = (conf.get("parts") or etc.rstrip("/") + "/sources.list.d").rstrip("/")
    out = []
    for name in sorted(glob.glob(parts + "/*.sources")):
        with open(name) as f:
            for e in _deb822(f.read()):
                out.append(tuple(" ".join(e.get(k, "").split())
                                 for k in ("types", "uris", "suites", "components")))
    files = ([listfile] if os.path.isfile(listfile) else []) + sorted(glob.glob(parts + "/*.list"))
    for name in files:
        with open(name) as f:
            for line in f:
                w = line.split()
                if not w or w[0] not in ("deb", "deb-src"):
                    continue
                i = 1
                if w[i].startswith("["):
                    while not w[i].endswith("]") and i < len(w) - 1:
                        i += 1
                    i += 1
                out.append((w[0], w[i] if i < len(w) else "",
                            w[i + 1] if i + 1 < len(w) else "", " ".join(w[i + 2:])))
    return out


def codename():
    """The Debian release this machine runs (bookworm)."""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("VERSION_CODENAME="):
                    value = shlex.split(line.partition("=")[2]) or [""]
                    if value[0]:
                        return value[0]
    except OSError:
        pass
    return "bookworm"


def _uri_of(suite, types):
    for t, uris, suites, _ in sources():
        if set(t.split()) & types and suite in suites.split():
            return uris.split()[0].rstrip("/")
    return None


def mirror():
    """The URI that serves the machine's own release (binary, main
    archive), as configured in its apt sources."""
    release = codename()
    uri = _uri_of(release, {"deb"})
    if not uri:
        die("no apt source serves the '%s' suite (checked the machine's apt sources)" % release)
    return uri


def suite_uri(suite):
    """The URI the machine's apt sources use for SUITE (the security
    archive for bookworm-security, say); the main mirror for a suite they
    do not name."""
    return _uri_of(suite, {"deb", "deb-src"}) or mirror()


def machine_suites():
    """The suites the machine's binary sources name, once each."""
    out = []
    for t, _, suites, _ in sources():
        if "deb" in t.split():
            out += [s for s in suites.split() if s not in out]
    return out


def lists_dir():
    """Where the machine's apt keeps its package lists."""
    return _config(d="Dir::State::lists/d").get("d") or "/var/lib/apt/lists/"


def lists_missing():
    """True if the machine's package lists for its release are missing."""
    return not glob.glob("%s/*_dists_%s_*Packages*" % (lists_dir().rstrip("/"), codename()))


def update_once():
    """The machine's apt-get update, if its package lists for this release
    are missing, at most once per barlab process."""
    if _updated or not lists_missing():
        return
    update()


def update():
    """The machine's apt-get update now (once per process)."""
    if _updated:
        return
    if os.getuid() != 0:
        die("the machine's package lists are missing and only root can run apt-get update")
    if run_step("apt-update", ["apt-get", "update"]) != 0:
        die("apt-get update failed; see %s/apt-update.log" % logs_dir())
    _updated.append(True)


def missing(*pkgs):
    """The packages of PKGS that are not installed (one dpkg-query)."""
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}${Version}\\n"]
                          + list(pkgs), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, check=False)
    have = set()
    for line in proc.stdout.splitlines():
        name, _, rest = line.partition(" ")
        if rest.startswith("ii "):
            have.add(name.split(":")[0])
    return [p for p in pkgs if p.split(":")[0] not in have]


def _install_step(pkgs):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return run_step("apt-install", ["apt-get", "-y", "-o", "DPkg::Lock::Timeout=600", "install",
                                    "--no-install-recommends"] + pkgs, env=env)


def install(*pkgs):
    """Install the packages of the machine's own release that are not
    installed yet.  A warm call only asks dpkg."""
    want = missing(*pkgs)
    if not want:
        return
    if os.getuid() != 0:
        die("these Debian packages are missing and only root can install them: %s"
            % " ".join(want))
    msg("installing Debian packages: %s" % " ".join(want))
    update_once()
    failed = "apt-get install %s failed; see %s/apt-install.log" % (" ".join(want), logs_dir())
    if _install_step(want) != 0:
        # Stale package lists are the usual cause: refresh once, retry.
        if _updated:
            die(failed)
        update()
        if _install_step(want) != 0:
            die(failed)
    still = missing(*want)
    if still:
        die("still not installed after apt-get install: %s" % " ".join(still))
    got = [p + "=" + subprocess.run(["dpkg-query", "-W", "-f=${Version}", p],
                                    stdout=subprocess.PIPE, text=True, check=False).stdout
           for p in want]
    msg("installed: %s" % " ".join(got))


apt_install = install


# --- private apt states -------------------------------------------------------

def papt_root(name):
    return cache_dir() / "apt" / name


def papt_argv(name, prog, *args):
    """The command line of apt-get or apt-cache (PROG) with private state
    NAME (made by papt_update): its own sources, lists, cache,
    architecture and dpkg status (empty, or the host's read-only for a
    state that resolves against what the host has installed).  The
    machine's apt.conf stays in force (a proxy, say); its sources, pins,
    lists and caches do not, even where it names them by absolute paths."""
    root = papt_root(name)
    arch = (root / "arch").read_text().strip()
    status = root / "state" / "status"
    if (root / "host-status").is_file():
        status = "/var/lib/dpkg/status"
    opts = {
        "Dir::State": root / "state", "Dir::State::lists": "%s/state/lists/" % root,
        "Dir::State::status": status,
        "Dir::Cache": root / "cache", "Dir::Cache::archives": "%s/cache/archives/" % root,
        "Dir::Cache::pkgcache": root / "cache" / "pkgcache.bin",
        "Dir::Cache::srcpkgcache": root / "cache" / "srcpkgcache.bin",
        "Dir::Etc::SourceList": root / "sources.list",
        "Dir::Etc::SourceParts": root / "empty",
        "Dir::Etc::Preferences": root / "empty" / "none",
        "Dir::Etc::PreferencesParts": root / "empty",
        "APT::Architecture": arch, "APT::Architectures": arch,
        "APT::Default-Release": "",
        "Debug::NoLocking": 1, "APT::Sandbox::User": "root",
    }
    argv = [prog]
    for option, value in opts.items():
        argv += ["-o", "%s=%s" % (option, value)]
    return argv + [str(a) for a in args]


def papt(name, prog, *args, **kwargs):
    """Run PROG ARGS with private state NAME (papt_argv); keyword
    arguments go to subprocess.run."""
    kwargs.setdefault("check", False)
    return subprocess.run(papt_argv(name, prog, *args), **kwargs)


def papt_update(name, arch, *specs, host_status=False):
    """(Re)write the sources of private state NAME: the machine's own
    mirror, component main, one TYPE:SUITE of SPECS a line (TYPE deb or
    deb-src; the URI the machine uses for SUITE, see suite_uri); update
    its lists when they are missing, the sources changed, or the lists
    are older than a day.  HOST_STATUS (or a first spec '--host-status'):
    resolve against the host's installed packages."""
    if specs and specs[0] == "--host-status":
        host_status, specs = True, specs[1:]
    root = papt_root(name)
    for d in ("state/lists/partial", "cache/archives/partial", "empty", "debs"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "state" / "status").touch()
    (root / "arch").write_text(arch + "\n")
    if host_status:
        (root / "host-status").touch()
    else:
        (root / "host-status").unlink(missing_ok=True)
    lines = "".join("%s [arch=%s signed-by=%s] %s %s main\n"
                    % (t, arch, KEYRING, suite_uri(suite), suite)
                    for t, _, suite in (s.partition(":") for s in specs))
    listfile, updated = root / "sources.list", root / "updated"
    try:
        same = listfile.read_text() == lines
        fresh = time.time() - updated.stat().st_mtime < 86400
    except OSError:
        same = fresh = False
    if same and fresh:
        return
    listfile.write_text(lines)
    updated.unlink(missing_ok=True)
    run_step("apt-update-%s" % name, papt_argv(name, "apt-get", "update"),
             fatal="could not read the package lists of '%s' from the machine's Debian mirror "
             "(private apt state %s)" % (" ".join(specs), root))
    updated.touch()


def papt_version(name, pkg):
    """The candidate version of PKG in private state NAME, or ''."""
    out = papt(name, "apt-cache", "policy", pkg, stdout=subprocess.PIPE,
               stderr=subprocess.DEVNULL, text=True).stdout
    for line in out.splitlines():
        w = line.split()
        if len(w) >= 2 and w[0] == "Candidate:" and w[1] != "(none)":
            return w[1]
    return ""


def papt_debs(name, pkg, version):
    """The .debs of PKG VERSION already in private state NAME's debs/."""
    return sorted(glob.glob("%s/debs/%s_%s_*.deb"
                            % (papt_root(name), pkg, version.replace(":", "%3a", 1))))


def papt_deb(name, pkg):
    """Download PKG's candidate from private state NAME into its debs/
    unless that version is there; its path.  apt verifies it against the
    signed index."""
    root = papt_root(name)
    ver = papt_version(name, pkg)
    if not ver:
        die("the private apt state '%s' (%s) has no package '%s'"
            % (name, (root / "sources.list").read_text().replace("\n", " "), pkg))
    debs = papt_debs(name, pkg, ver)
    if not debs:
        if papt(name, "apt-get", "-qq", "download", "%s=%s" % (pkg, ver), cwd=root / "debs",
                stdout=2).returncode != 0:
            die("downloading %s %s (private apt state '%s') failed" % (pkg, ver, name))
        debs = papt_debs(name, pkg, ver)
        if not debs:
            die("downloaded %s %s, but no .deb appeared in %s/debs" % (pkg, ver, root))
    return Path(debs[0])
