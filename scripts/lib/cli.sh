# SPDX-License-Identifier: GPL-2.0-or-later
# The command line's conventions, shared by scripts/barlab and its
# libraries: a usage mistake is one line "barlab: error: CMD: ..." and
# "see 'barlab CMD --help'", exit status 2; option values are checked
# here, before anything is built or started.  Sourced after common.sh,
# never executed.

# usage_die CMD MESSAGE: a usage mistake in command CMD ("" for barlab
# itself, "matrix merge" for a subcommand).
usage_die() {
    if [ -n "$1" ]; then
        printf 'barlab: error: %s: %s\nsee '\''barlab %s --help'\''\n' "$1" "$2" "$1" >&2
    else
        printf 'barlab: error: %s\nsee '\''barlab --help'\''\n' "$2" >&2
    fi
    exit 2
}

# opt_value CMD ARGC OPTION: for option parsers: a usage mistake unless
# OPTION ($1 of the caller) has a value ($2), i.e. unless ARGC >= 2.
opt_value() {
    [ "$2" -ge 2 ] || usage_die "$1" "$3 needs a value"
}

# wants_help ARG...: true if -h or --help comes before any "--".
wants_help() {
    local a
    for a in "$@"; do
        case $a in
        --) return 1 ;;
        -h|--help) return 0 ;;
        esac
    done
    return 1
}

# _or_list WORD...: "a, b or c".
_or_list() {
    local out=""
    while [ $# -gt 1 ]; do out+="$1, "; shift; done
    out=${out%, }
    [ -z "$out" ] && echo "$1" || echo "$out or $1"
}

# _mt_list WHAT: the names barlab-mt lists with `barlab-mt WHAT` (cpus,
# policies, patterns), first word of each line.  barlab-mt's tables in the
# C core are the one place these names are defined; the tool is brought
# up to date quietly when its build tree exists, and built (with its
# progress lines) when it does not.
_mt_list() {
    _mt_fresh
    "$BARLAB_MT" "$1" | awk '{ print $1 }'
}

# _mt_fresh: barlab-mt, up to date.
_mt_fresh() {
    if [ -f "$CORE_BUILD/build.ninja" ]; then
        ninja -C "$CORE_BUILD" tools/barlab-mt >/dev/null 2>&1 || true
    fi
    [ -x "$BARLAB_MT" ] || build_core >&2
}

# _not_one_of CMD WHAT VALUE ALLOWED...: the usage error for VALUE of
# WHAT (an option, "--cpu", or an argument, "CPU model").
_not_one_of() {
    local cmd=$1 what=$2 v=$3
    shift 3
    case $what in
    -*) usage_die "$cmd" "$what must be $(_or_list "$@"), not '$v'" ;;
    *) usage_die "$cmd" "unknown $what '$v' ($(_or_list "$@"))" ;;
    esac
}

# check_choice CMD WHAT VALUE LIST: VALUE must be one of the names
# barlab-mt lists for LIST (cpus, policies, patterns).
check_choice() {
    local names
    names=$(_mt_list "$4") || usage_die "$1" "cannot list the $4 barlab knows"
    grep -qxF -- "$3" <<<"$names" || _not_one_of "$1" "$2" "$3" $names
}

# check_cpu CMD VALUE [WHAT], check_policy CMD VALUE [WHAT].
check_cpu() { check_choice "$1" "${3:---cpu}" "$2" cpus; }
check_policy() { check_choice "$1" "${3:---policy}" "$2" policies; }

# check_port_mode CMD WHAT VALUE: VALUE is a port mode as the C core
# parses it (hw/memtype/portmode.h, `barlab-mt port-mode`).
check_port_mode() {
    local err
    _mt_fresh
    err=$("$BARLAB_MT" port-mode "$3" 2>&1 >/dev/null) ||
        usage_die "$1" "$2: ${err#barlab: error: }"
}

# check_seconds CMD OPTION VALUE: a positive whole number of seconds.
check_seconds() {
    [[ $3 =~ ^[0-9]+$ ]] && [ "$3" -gt 0 ] ||
        usage_die "$1" "$2 must be a positive number of seconds, not '$3'"
}

# check_word CMD WHAT VALUE ALLOWED...: VALUE is one of ALLOWED.
check_word() {
    local cmd=$1 what=$2 v=$3 w
    shift 3
    for w in "$@"; do [ "$v" != "$w" ] || return 0; done
    _not_one_of "$cmd" "$what" "$v" "$@"
}
