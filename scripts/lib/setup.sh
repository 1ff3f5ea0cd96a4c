# SPDX-License-Identifier: GPL-2.0-or-later
# `barlab setup`: install the Debian packages of the machine's own release
# that barlab's builds and tests need, or, with --dry-run, say what would
# be installed and what barlab fetches into its cache through private apt
# states (apt.sh).  Sourced after every other library, never executed.

# Packages the C core, its tests and the host tools need.
CORE_PACKAGES=(gcc g++ meson ninja-build pkg-config libgtest-dev ccache python3)
# Packages the tests need beyond the builds: YAML for the CI files, a
# headless browser that renders the matrix's HTML report.
TEST_PACKAGES=(python3-yaml chromium)

# setup_host_packages: every host package, once, in a stable order.  Each
# list is defined beside the step that needs it.
setup_host_packages() {
    builds_facts
    printf '%s\n' "${CORE_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${_qemu_build_deps[@]}" \
        "${QEMU_FIRMWARE_PACKAGES[@]}" "${_kernel_build_deps[@]}" "${_payloads_packages[@]}" \
        "${INITRAMFS_HOST_PACKAGES[@]}" "${FULLSTACK_HOST_PACKAGES[@]}" | awk '!seen[$0]++'
}

setup_run() {
    local pkgs
    mapfile -t pkgs < <(setup_host_packages)
    if [ -z "$(apt_missing "${pkgs[@]}")" ]; then
        msg "setup: the ${#pkgs[@]} Debian packages barlab needs are installed"
        return 0
    fi
    apt_install "${pkgs[@]}"
}

# _setup_cached DIR-OR-FILE: "cached" if it exists, else "to fetch".
_setup_cached() {
    if compgen -G "$1" >/dev/null; then echo cached; else echo "to fetch"; fi
}

# _setup_closure STATE PKG...: how many packages apt would fetch for PKG.
_setup_closure() {
    local state=$1
    shift
    papt "$state" apt-get -s -q --no-install-recommends install "$@" 2>/dev/null | grep -c '^Inst '
}

# setup_dry_run: what `setup` and the builds would install and fetch.
# Installs nothing and writes nothing outside barlab's cache (the private
# apt states' package lists are refreshed there).  Where the machine's
# own package lists are missing, the host packages are resolved through
# a private state that reads the host's dpkg status.
setup_dry_run() {
    local pkgs missing codename lists resolver=() n v uris suite specs=()
    builds_facts
    codename=$(_apt_codename)
    mapfile -t pkgs < <(setup_host_packages)
    mapfile -t missing < <(apt_missing "${pkgs[@]}")
    echo "Debian packages of this machine's release ($codename), installed with its apt by 'barlab setup':"
    echo "  needed: ${#pkgs[@]}; installed: $((${#pkgs[@]} - ${#missing[@]})); to install: ${#missing[@]}${missing[*]:+ (${missing[*]})}"
    lists=$(_apt_lists_dir)
    if ! compgen -G "${lists%/}/*_dists_${codename}_*Packages*" >/dev/null; then
        echo "  the machine's package lists are missing: setup runs 'apt-get update' first"
        while read -r suite; do specs+=("deb:$suite"); done < <(apt_machine_suites)
        papt_update "host-$codename" "$HOST_ARCH" --host-status "${specs[@]}"
        resolver=(papt "host-$codename")
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        n=$("${resolver[@]}" apt-get -s -q --no-install-recommends install "${missing[@]}" 2>/dev/null |
            grep -c '^Inst ') || true
        [ "${n:-0}" -gt 0 ] ||
            die "setup --dry-run: apt cannot resolve: ${missing[*]}"
        echo "  with their dependencies: $n packages"
    fi
    if [ ${#resolver[@]} -gt 0 ]; then
        v=$(papt "host-$codename" apt-cache policy "$KERNEL_PACKAGE" | awk '$1 == "Candidate:" { print $2 }')
    else
        v=$(_kernel_version)
    fi
    [ -n "$v" ] && [ "$v" != "(none)" ] || die "setup --dry-run: no $KERNEL_PACKAGE in the machine's suites"

    echo "Fetched into $BARLAB_CACHE (nothing installed; apt's own configuration is not touched):"
    printf '  %-46s %-26s %s\n' "$KERNEL_PACKAGE $v" "the machine's suites" \
        "$(_setup_cached "$BARLAB_CACHE/downloads/${KERNEL_PACKAGE}_${v}_all.deb")"
    uris=$(qemu_source_uris)
    v=$(awk '$1 ~ /^qemu_.*\.dsc$/ { sub(/^qemu_/, "", $1); sub(/\.dsc$/, "", $1); print $1 }' <<<"$uris")
    [ -n "$v" ] || die "setup --dry-run: no qemu source package in Debian $QEMU_DEBIAN_SUITE"
    printf '  %-46s %-26s %s (%d MB)\n' "qemu $v (source)" "Debian $QEMU_DEBIAN_SUITE" \
        "$(_setup_cached "$BARLAB_CACHE/downloads/qemu_$v.dsc")" \
        "$(awk '{ s += $2 } END { print int(s / 1000000) }' <<<"$uris")"
    papt_update "$QEMU_MESON_APT" "$HOST_ARCH" "deb:$QEMU_MESON_SUITE"
    v=$(papt_version "$QEMU_MESON_APT" meson)
    [ -n "$v" ] || die "setup --dry-run: no meson in Debian $QEMU_MESON_SUITE"
    printf '  %-46s %-26s %s\n' "meson $v" "Debian $QEMU_MESON_SUITE" \
        "$(_setup_cached "$BARLAB_CACHE/tools/meson_${v/:/%3a}_all")"
    arm64_update
    for n in "${INITRAMFS_PACKAGES[@]}"; do
        v=$(papt_version "$ARM64_APT" "$n")
        [ -n "$v" ] || die "setup --dry-run: no arm64 $n in Debian $ARM64_SUITE"
        printf '  %-46s %-26s %s\n' "$n $v" "Debian $ARM64_SUITE, arm64" \
            "$(_setup_cached "$(papt_root "$ARM64_APT")/debs/${n}_${v/:/%3a}_*.deb")"
    done
    v=$(papt_version "$ARM64_APT" "$FULLSTACK_VMM_PACKAGE")
    n=$(_setup_closure "$ARM64_APT" "$FULLSTACK_VMM_PACKAGE")
    [ -n "$v" ] && [ "${n:-0}" -gt 0 ] ||
        die "setup --dry-run: apt cannot resolve arm64 $FULLSTACK_VMM_PACKAGE in Debian $ARM64_SUITE"
    printf '  %-46s %-26s %s\n' "$FULLSTACK_VMM_PACKAGE $v" "Debian $ARM64_SUITE, arm64" \
        "$n packages, for the full stack's L1"
    papt_update "$QEMU_STOCK_APT" "$HOST_ARCH" --host-status "deb:$codename" \
        "deb:$codename-updates" "deb:$QEMU_STOCK_SUITE"
    v=$(papt "$QEMU_STOCK_APT" apt-cache madison "${QEMU_STOCK_PACKAGES[0]}" 2>/dev/null |
        awk -F' *\\| *' -v s="$QEMU_STOCK_SUITE" 'index($3, s "/") { print $2; exit }')
    [ -n "$v" ] || die "setup --dry-run: no ${QEMU_STOCK_PACKAGES[0]} in Debian $QEMU_STOCK_SUITE"
    printf '  %-46s %-26s %s\n' "${QEMU_STOCK_PACKAGES[0]} $v" "Debian $QEMU_STOCK_SUITE" \
        "the benchmarks' baseline (bench only)"
}
