# SPDX-License-Identifier: GPL-2.0-or-later
# Debian package helpers: enable an extra suite of the machine's own Debian
# mirror, run apt-get update at most once, install what is missing.
# Sourced after common.sh, never executed.  The mirror is read from the
# machine's apt configuration; no host name is written here.

_barlab_apt_dirty=
_barlab_apt_updated=
_barlab_apt_lists=/var/lib/apt/lists

# _apt_sources: one line per enabled source entry of the machine,
# "TYPES|URIS|SUITES|COMPONENTS", from deb822 *.sources and one-line *.list.
_apt_sources() {
    local files=()
    shopt -s nullglob
    files=(/etc/apt/sources.list.d/*.sources)
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
    [ ! -f /etc/apt/sources.list ] || files=(/etc/apt/sources.list)
    shopt -s nullglob
    files+=(/etc/apt/sources.list.d/*.list)
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
    [ -n "$uri" ] || die "no apt source serves the '$codename' suite (checked /etc/apt/sources.list{,.d/})"
    echo "${uri%/}"
}

# _apt_served SUITE TYPE: true if an enabled source has TYPE entries for
# SUITE with the main component.
_apt_served() {
    _apt_sources | awk -F'|' -v s="$1" -v t="$2" '
        (" " $1 " ") ~ (" " t " ") && (" " $3 " ") ~ (" " s " ") &&
        (" " $4 " ") ~ / main / { found = 1 }
        END { exit !found }'
}

# _apt_lists_present SUITE TYPE: true if apt has index files for it.
_apt_lists_present() {
    local pat
    case $2 in
    deb)     pat="*_dists_$1_main_binary-*_Packages*" ;;
    deb-src) pat="*_dists_$1_main_source_Sources*" ;;
    *)       return 1 ;;
    esac
    compgen -G "$_barlab_apt_lists/$pat" >/dev/null
}

# apt_enable SUITE TYPE...: make the machine's Debian mirror serve SUITE
# (main component) for each TYPE (deb, deb-src), writing
# /etc/apt/sources.list.d/barlab-SUITE.sources if no source has it yet.
# A foreign release (not this machine's own, nor its -updates/-backports)
# enabled as "deb" gets a priority-1 pin, so that its packages are only
# installed when asked for as PKG/SUITE.  Call apt_update_once afterwards.
apt_enable() {
    local suite=$1 t codename file pin types=() missing=() mirror
    shift
    [ $# -gt 0 ] || die "apt_enable: usage: apt_enable SUITE TYPE..."
    file=/etc/apt/sources.list.d/barlab-$suite.sources
    pin=/etc/apt/preferences.d/barlab-$suite
    codename=$(_apt_codename)
    for t in "$@"; do
        case $t in
        deb|deb-src) ;;
        *) die "apt_enable: unknown type '$t' (deb or deb-src)" ;;
        esac
        if _apt_served "$suite" "$t"; then
            _apt_lists_present "$suite" "$t" || _barlab_apt_dirty=1
        else
            missing+=("$t")
        fi
    done
    [ ${#missing[@]} -gt 0 ] || return 0

    # Keep the types an earlier call put in our file.
    if [ -f "$file" ]; then
        read -r -a types < <(sed -n 's/^Types:[[:space:]]*//p' "$file") || true
    fi
    for t in "${missing[@]}"; do
        case " ${types[*]-} " in *" $t "*) ;; *) types+=("$t") ;; esac
    done
    mirror=$(apt_mirror)
    case " ${missing[*]} " in
    *" deb "*)
        case $suite in
        "$codename" | "$codename"-*) ;;
        *)
            msg "pinning Debian $suite to priority 1 in $pin"
            printf '%s\n' \
                "# Written by barlab: use $suite only when asked for as PKG/$suite." \
                "Package: *" "Pin: release n=$suite" "Pin-Priority: 1" >"$pin"
            ;;
        esac
        ;;
    esac
    msg "enabling Debian $suite (${types[*]}) in $file"
    printf '%s\n' \
        "# Written by barlab (scripts/lib/apt.sh)." \
        "Types: ${types[*]}" \
        "URIs: $mirror" \
        "Suites: $suite" \
        "Components: main" \
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" >"$file"
    _barlab_apt_dirty=1
}

# apt_update_once: run apt-get update if a source was added (or its lists
# are missing) and it has not run yet in this barlab invocation.
apt_update_once() {
    [ -z "$_barlab_apt_updated" ] || return 0
    if [ -z "$_barlab_apt_dirty" ] &&
        compgen -G "$_barlab_apt_lists/*_Packages*" >/dev/null; then
        return 0
    fi
    run_step apt-update apt-get update ||
        die "apt-get update failed; see $BARLAB_LOGS/apt-update.log"
    _barlab_apt_updated=1
    _barlab_apt_dirty=
}

# _apt_missing PKG[/SUITE]...: print the specs that are not satisfied: not
# installed, or, for a -backports SUITE, installed but not as a backport
# (~bpo version).  One dpkg-query for all of them.
_apt_missing() {
    local spec name suite v
    local -A have=()
    while read -r name v; do
        case $v in
        "ii "*) have[${name%%:*}]=${v#ii } ;;
        esac
    done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}${Version}\n' \
        "${@%%/*}" 2>/dev/null || true)
    for spec in "$@"; do
        name=${spec%%/*}
        suite=
        [ "$name" = "$spec" ] || suite=${spec#*/}
        v=${have[${name%%:*}]-}
        if [ -z "$v" ]; then
            echo "$spec"
        elif [[ $suite == *-backports && $v != *~bpo* ]]; then
            echo "$spec"
        fi
    done
}

_apt_get_install() {
    DEBIAN_FRONTEND=noninteractive apt-get -y -o DPkg::Lock::Timeout=600 \
        install --no-install-recommends "$@"
}

# apt_install PKG[/SUITE]...: install the packages that are not installed
# yet (PKG/SUITE takes it from SUITE, e.g. meson/bookworm-backports; the
# suite must be enabled with apt_enable).  A warm call only asks dpkg.
apt_install() {
    local spec want=() still=() got=()
    mapfile -t want < <(_apt_missing "$@")
    [ ${#want[@]} -gt 0 ] || return 0
    msg "installing Debian packages: ${want[*]}"
    apt_update_once
    if ! run_step apt-install _apt_get_install "${want[@]}"; then
        # Stale package lists are the usual cause: refresh once, retry.
        [ -z "$_barlab_apt_updated" ] ||
            die "apt-get install ${want[*]} failed; see $BARLAB_LOGS/apt-install.log"
        _barlab_apt_dirty=1
        apt_update_once
        run_step apt-install _apt_get_install "${want[@]}" ||
            die "apt-get install ${want[*]} failed; see $BARLAB_LOGS/apt-install.log"
    fi
    mapfile -t still < <(_apt_missing "${want[@]}")
    [ ${#still[@]} -eq 0 ] ||
        die "still not installed as asked after apt-get install: ${still[*]}"
    for spec in "${want[@]}"; do
        got+=("${spec%%/*}=$(dpkg-query -W -f='${Version}' "${spec%%/*}")")
    done
    msg "installed: ${got[*]}"
}
