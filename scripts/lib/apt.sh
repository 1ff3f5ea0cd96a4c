# SPDX-License-Identifier: GPL-2.0-or-later
# Debian package helpers.  Sourced after common.sh, never executed.
#
# Two kinds of packages:
#   - binary packages of the machine's own release, installed with the
#     machine's apt as configured (apt_install); the package lists are
#     refreshed once if they are missing;
#   - everything else (another suite, another architecture, a source
#     package) is fetched through a private apt state below
#     $BARLAB_CACHE/apt/NAME (papt_update, papt) and used from barlab's
#     cache.  Nothing is written to /etc/apt and the host's dpkg never
#     learns about those packages.
# The mirror is read from the machine's apt configuration; no host name
# is written here.  APT_CONFIG is honoured as apt honours it, which is
# how the cold-path tests give apt an empty set of package lists.

_barlab_apt_updated=

# The machine's own Debian architecture: the private states that fetch
# packages for this machine (meson, the stock QEMU's closure, the host
# packages' dry run) use it; the guests' states name arm64 themselves.
HOST_ARCH=${HOST_ARCH:-$(dpkg --print-architecture 2>/dev/null || echo amd64)}

# _apt_sources: one line per enabled source entry of the machine,
# "TYPES|URIS|SUITES|COMPONENTS", from deb822 *.sources and one-line *.list,
# in the directories apt itself reads.
_apt_sources() {
    local etc list parts files=()
    eval "$(apt-config shell etc Dir::Etc/d list Dir::Etc::sourcelist/f parts Dir::Etc::sourceparts/d)"
    etc=${etc:-/etc/apt/}
    list=${list:-${etc%/}/sources.list}
    parts=${parts:-${etc%/}/sources.list.d}
    shopt -s nullglob
    files=("${parts%/}"/*.sources)
    shopt -u nullglob
    if [ ${#files[@]} -gt 0 ]; then
        awk '
        function flush() {
            if (f["types"] != "" && tolower(f["enabled"]) != "no")
                print f["types"] "|" f["uris"] "|" f["suites"] "|" f["components"]
            delete f; key = ""
        }
        FNR == 1 { flush() }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ { if (key != "") f[key] = f[key] " " $0; next }
        {
            key = tolower(substr($0, 1, index($0, ":") - 1))
            f[key] = substr($0, index($0, ":") + 1)
        }
        END { flush() }' "${files[@]}" | tr -s ' \t' ' ' | sed 's/ *| */|/g; s/^ //; s/ $//'
    fi
    files=()
    [ ! -f "$list" ] || files=("$list")
    shopt -s nullglob
    files+=("${parts%/}"/*.list)
    shopt -u nullglob
    [ ${#files[@]} -gt 0 ] || return 0
    awk '
    $1 == "deb" || $1 == "deb-src" {
        t = $1; i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
        comps = ""
        for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
        print t "|" $i "|" $(i + 1) "|" comps
    }' "${files[@]}"
}

# _apt_codename: the Debian release this machine runs (bookworm).
_apt_codename() {
    local id
    id=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    echo "${id:-bookworm}"
}

# apt_mirror: print the URI that serves the machine's own release (binary,
# main archive, not -security), as configured in its apt sources.
apt_mirror() {
    local codename uri
    codename=$(_apt_codename)
    uri=$(_apt_sources | awk -F'|' -v s="$codename" '
        (" " $1 " ") ~ / deb / && (" " $3 " ") ~ (" " s " ") {
            split($2, u, " "); print u[1]; exit
        }')
    [ -n "$uri" ] || die "no apt source serves the '$codename' suite (checked the machine's apt sources)"
    echo "${uri%/}"
}

# apt_suite_uri SUITE: the URI the machine's apt sources use for SUITE
# (e.g. the security archive for bookworm-security); the main mirror for a
# suite they do not name.
apt_suite_uri() {
    local uri
    uri=$(_apt_sources | awk -F'|' -v s="$1" '
        (" " $1 " ") ~ / deb(-src)? / && (" " $3 " ") ~ (" " s " ") {
            split($2, u, " "); print u[1]; exit
        }')
    [ -n "$uri" ] || uri=$(apt_mirror)
    echo "${uri%/}"
}

# apt_machine_suites: the suites the machine's binary sources name.
apt_machine_suites() {
    _apt_sources | awk -F'|' '(" " $1 " ") ~ / deb / { n = split($3, s, " "); for (i = 1; i <= n; i++) print s[i] }' |
        awk '!seen[$0]++'
}

# _apt_lists_dir: where the machine's apt keeps its package lists.
_apt_lists_dir() {
    local d
    eval "$(apt-config shell d Dir::State::lists/d)"
    echo "${d:-/var/lib/apt/lists/}"
}

# apt_update_once: run the machine's apt-get update if its package lists
# for this release are missing, at most once per barlab invocation.
apt_update_once() {
    local lists codename
    [ -z "$_barlab_apt_updated" ] || return 0
    lists=$(_apt_lists_dir)
    codename=$(_apt_codename)
    compgen -G "${lists%/}/*_dists_${codename}_*Packages*" >/dev/null && return 0
    apt_update
}

# apt_update: run the machine's apt-get update now (once per invocation).
apt_update() {
    [ -z "$_barlab_apt_updated" ] || return 0
    [ "$(id -u)" -eq 0 ] || die "the machine's package lists are missing and only root can run apt-get update"
    run_step apt-update apt-get update ||
        die "apt-get update failed; see $BARLAB_LOGS/apt-update.log"
    _barlab_apt_updated=1
}

# apt_missing PKG...: print the packages that are not installed.  One
# dpkg-query for all of them.
apt_missing() {
    local name v
    local -A have=()
    while read -r name v; do
        case $v in
        "ii "*) have[${name%%:*}]=1 ;;
        esac
    done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}${Version}\n' "$@" 2>/dev/null || true)
    for name in "$@"; do
        [ -n "${have[${name%%:*}]-}" ] || echo "$name"
    done
}

_apt_get_install() {
    DEBIAN_FRONTEND=noninteractive apt-get -y -o DPkg::Lock::Timeout=600 \
        install --no-install-recommends "$@"
}

# apt_install PKG...: install the packages of the machine's own release
# that are not installed yet.  A warm call only asks dpkg.
apt_install() {
    local want=() still=() got=() p
    mapfile -t want < <(apt_missing "$@")
    [ ${#want[@]} -gt 0 ] || return 0
    [ "$(id -u)" -eq 0 ] || die "these Debian packages are missing and only root can install them: ${want[*]}"
    msg "installing Debian packages: ${want[*]}"
    apt_update_once
    if ! run_step apt-install _apt_get_install "${want[@]}"; then
        # Stale package lists are the usual cause: refresh once, retry.
        [ -z "$_barlab_apt_updated" ] ||
            die "apt-get install ${want[*]} failed; see $BARLAB_LOGS/apt-install.log"
        apt_update
        run_step apt-install _apt_get_install "${want[@]}" ||
            die "apt-get install ${want[*]} failed; see $BARLAB_LOGS/apt-install.log"
    fi
    mapfile -t still < <(apt_missing "${want[@]}")
    [ ${#still[@]} -eq 0 ] ||
        die "still not installed after apt-get install: ${still[*]}"
    for p in "${want[@]}"; do
        got+=("$p=$(dpkg-query -W -f='${Version}' "$p")")
    done
    msg "installed: ${got[*]}"
}

# --- private apt states -------------------------------------------------------

papt_root() { echo "$BARLAB_CACHE/apt/$1"; }

# papt NAME PROG ARGS...: run apt-get or apt-cache with private state NAME
# (made by papt_update): its own sources, lists, cache, architecture and
# dpkg status (empty, or the host's read-only for a state that resolves
# against what the host has installed).  The machine's apt.conf stays in
# force (a proxy, say); its sources, pins, lists and caches do not, even
# where it names them by absolute paths.
papt() {
    local root prog=$2 arch status
    root=$(papt_root "$1")
    shift 2
    arch=$(<"$root/arch")
    status=$root/state/status
    [ ! -f "$root/host-status" ] || status=/var/lib/dpkg/status
    "$prog" \
        -o Dir::State="$root/state" -o Dir::State::lists="$root/state/lists/" \
        -o Dir::State::status="$status" \
        -o Dir::Cache="$root/cache" -o Dir::Cache::archives="$root/cache/archives/" \
        -o Dir::Cache::pkgcache="$root/cache/pkgcache.bin" \
        -o Dir::Cache::srcpkgcache="$root/cache/srcpkgcache.bin" \
        -o Dir::Etc::SourceList="$root/sources.list" \
        -o Dir::Etc::SourceParts="$root/empty" \
        -o Dir::Etc::Preferences="$root/empty/none" \
        -o Dir::Etc::PreferencesParts="$root/empty" \
        -o APT::Architecture="$arch" -o APT::Architectures="$arch" \
        -o APT::Default-Release= \
        -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

# papt_update NAME ARCH [--host-status] TYPE:SUITE...: (re)write the
# sources of private state NAME (the machine's own mirror, component main;
# TYPE is deb or deb-src; the URI is the one the machine uses for SUITE,
# see apt_suite_uri) and update its lists when they are missing, the
# sources changed, or the lists are older than a day.
papt_update() {
    local name=$1 arch=$2 root spec host=
    shift 2
    if [ "${1:-}" = --host-status ]; then
        host=1
        shift
    fi
    root=$(papt_root "$name")
    mkdir -p "$root/state/lists/partial" "$root/cache/archives/partial" \
        "$root/empty" "$root/debs"
    touch "$root/state/status"
    echo "$arch" >"$root/arch"
    if [ -n "$host" ]; then touch "$root/host-status"; else rm -f "$root/host-status"; fi
    for spec in "$@"; do
        echo "${spec%%:*} [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(apt_suite_uri "${spec#*:}") ${spec#*:} main"
    done >"$root/sources.list.new"
    if cmp -s "$root/sources.list.new" "$root/sources.list" &&
        [ -f "$root/updated" ] &&
        [ -n "$(find "$root/updated" -mtime -1 2>/dev/null)" ]; then
        rm -f "$root/sources.list.new"
        return 0
    fi
    mv "$root/sources.list.new" "$root/sources.list"
    rm -f "$root/updated"
    run_step "apt-update-$name" papt "$name" apt-get update ||
        die "could not read the package lists of '$*' from the machine's Debian mirror (private apt state $root)"
    touch "$root/updated"
}

# papt_version NAME PKG: the candidate version of PKG in private state NAME.
papt_version() {
    papt "$1" apt-cache policy "$2" 2>/dev/null |
        awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }'
}

# papt_deb NAME PKG: download PKG's candidate from private state NAME into
# its debs/ unless that version is there; print the .deb's path.  apt
# verifies it against the signed index.
papt_deb() {
    local root ver deb
    root=$(papt_root "$1")
    ver=$(papt_version "$1" "$2")
    [ -n "$ver" ] || die "the private apt state '$1' ($(tr '\n' ' ' <"$root/sources.list")) has no package '$2'"
    deb=$(compgen -G "$root/debs/${2}_${ver/:/%3a}_*.deb" | head -n 1) || true
    if [ -z "$deb" ]; then
        (cd "$root/debs" && papt "$1" apt-get -qq download "$2=$ver") >&2 ||
            die "downloading $2 $ver (private apt state '$1') failed"
        deb=$(compgen -G "$root/debs/${2}_${ver/:/%3a}_*.deb" | head -n 1) || true
        [ -n "$deb" ] || die "downloaded $2 $ver, but no .deb appeared in $root/debs"
    fi
    echo "$deb"
}
