# SPDX-License-Identifier: GPL-2.0-or-later
# Build qemu-system-aarch64 from Debian's qemu source package, with the
# repo's device models (hw/barlab) and patches (hw/qemu-patches) on top.
# Sourced after common.sh and apt.sh, never executed.
#
# Layout below $BARLAB_CACHE:
#   downloads/                  the source package, as apt fetched it
#   src/qemu-VERSION/           dpkg-source -x of it (Debian patches applied)
#   src/qemu.version            the VERSION in use
#   qemu/VERSION-work/src       one persistent tree: pristine + overlay,
#                               synced by content so unchanged files keep
#                               their mtimes and ninja rebuilds only changes
#   qemu/VERSION-work/build     its build directory (ccache in ccache/)
#   qemu/VERSION-KEY/           the binaries for one state of the inputs
#                               (_qemu_inputs; KEY), plus a stamp
#   qemu/VERSION-asan,          the sanitizer variant's work tree and
#   qemu/VERSION-asan-KEY/      binaries (QEMU_SANITIZE)

QEMU_DEBIAN_SUITE=${QEMU_DEBIAN_SUITE:-trixie}
QEMU_SRC_APT=src-$QEMU_DEBIAN_SUITE
# QEMU 10 needs meson >= 1.5; bookworm has 1.0.  Debian's backport is
# fetched into the cache and run from there (qemu_meson).
QEMU_MESON_SUITE=bookworm-backports
QEMU_MESON_APT=$HOST_ARCH-$QEMU_MESON_SUITE

# The firmware and option ROMs that stock machines load (efi-virtio.rom
# for virtio-net-pci, vgabios for bochs-display, UEFI), found on the
# --firmwarepath below.
QEMU_FIRMWARE_PACKAGES=(ipxe-qemu seabios qemu-system-data qemu-efi-aarch64)

# Debian packages the build needs.
_qemu_build_deps=(
    dpkg-dev patch rsync ccache gcc pkg-config ninja-build python3-venv
    libglib2.0-dev zlib1g-dev libpixman-1-dev libfdt-dev libslirp-dev
    libpng-dev
)

# configure options: everything not asked for is off, so the binary does
# not depend on which -dev packages happen to be on the machine.
_qemu_configure_args=(
    --python=/usr/bin/python3
    "--cc=ccache gcc"
    --target-list=aarch64-softmmu
    --without-default-features
    --without-default-devices
    --with-devices-aarch64=barlab
    --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
    --disable-download
    --disable-install-blobs
    --disable-containers
    --disable-docs
    --disable-user
    --disable-tools
    --disable-guest-agent
    --disable-gtk
    --disable-sdl
    --disable-vnc
    --enable-tcg
    --enable-slirp
    --enable-pixman
    --enable-fdt=system
    --enable-png
)

# The sanitizer variant (`build qemu --sanitize`, QEMU_SANITIZE=1): ASan
# and UBSan, with a UBSan report fatal as in upstream QEMU's CI, in its
# own work tree (QEMU_TREE=asan) and binaries (VERSION-asan-KEY), so the
# normal build is neither rebuilt nor disturbed.
QEMU_SANITIZE=${QEMU_SANITIZE:-}
_qemu_sanitize_args=(
    --enable-asan
    --enable-ubsan
    "--extra-cflags=-fno-sanitize-recover=undefined -fno-omit-frame-pointer"
)

# qemu_sanitize: from here on this shell's QEMU functions mean the
# sanitizer variant.
qemu_sanitize() {
    QEMU_SANITIZE=1
    QEMU_TREE=${QEMU_TREE:-asan}
}

# _qemu_art VERSION KEY: the directory of the binaries for KEY.
_qemu_art() {
    echo "$BARLAB_CACHE/qemu/$1-${QEMU_SANITIZE:+asan-}$2"
}

# The repo's inputs to the QEMU build: the device models, the core they
# compile (its C files only), the qtests and the core patches.
_qemu_inputs() {
    (cd "$BARLAB_ROOT" && ls -d hw/barlab hw/memtype/*.[ch] tests/qtest \
        hw/qemu-patches hw/qemu-config 2>/dev/null)
}

# _qemu_key: cache key of the repo's QEMU additions (also when absent).
_qemu_key() {
    local inputs
    mapfile -t inputs < <(_qemu_inputs)
    if [ ${#inputs[@]} -eq 0 ]; then
        printf '' | sha256sum | cut -c1-16
    else
        hash_tree "${inputs[@]}"
    fi
}

# _qemu_recipe VERSION: what a finished build's stamp must say.
_qemu_recipe() {
    printf 'qemu %s\nconfigure %s\n' "$1" "${_qemu_configure_args[*]}"
    [ -z "$QEMU_SANITIZE" ] || printf 'sanitize %s\n' "${_qemu_sanitize_args[*]}"
}

# qemu_binary_path: print the path of the qemu-system-aarch64 built for the
# current tree; fail (silently) if there is none.
qemu_binary_path() {
    local ver out vfile=$BARLAB_CACHE/src/qemu.version
    [ -f "$vfile" ] || return 1
    ver=$(<"$vfile")
    out=$(_qemu_art "$ver" "$(_qemu_key)")
    [ -f "$out/stamp" ] && [ -x "$out/qemu-system-aarch64" ] || return 1
    [ "$(<"$out/stamp")" = "$(_qemu_recipe "$ver")" ] || return 1
    echo "$out/qemu-system-aarch64"
}

_qemu_download() (
    cd "$1" && papt "$QEMU_SRC_APT" apt-get source --download-only "qemu/$QEMU_DEBIAN_SUITE"
)

# qemu_source_uris: the files of the qemu source package the private
# source state offers now, "NAME SIZE" a line (refreshes the lists).
qemu_source_uris() {
    papt_update "$QEMU_SRC_APT" "$HOST_ARCH" "deb-src:$QEMU_DEBIAN_SUITE"
    papt "$QEMU_SRC_APT" apt-get source --print-uris "qemu/$QEMU_DEBIAN_SUITE" |
        awk '$1 ~ /^\047/ { print $2, $3 }'
}

# qemu_meson: print the directory of the meson that QEMU's configure
# runs: Debian's $QEMU_MESON_SUITE package unpacked into the cache.
qemu_meson() {
    local deb tooldir
    papt_update "$QEMU_MESON_APT" "$HOST_ARCH" "deb:$QEMU_MESON_SUITE"
    deb=$(papt_deb "$QEMU_MESON_APT" meson)
    tooldir=$BARLAB_CACHE/tools/$(basename "$deb" .deb)
    if [ ! -f "$tooldir/.done" ]; then
        rm -rf "$tooldir" && mkdir -p "$tooldir" && dpkg-deb -x "$deb" "$tooldir" &&
            [ -f "$tooldir/usr/bin/meson" ] || die "no usr/bin/meson in $deb"
        touch "$tooldir/.done"
    fi
    echo "$tooldir"
}

# _qemu_fetch: make sure an extracted source tree exists; sets _qemu_ver.
# The version is chosen once (whatever the suite has then) and recorded;
# remove src/qemu.version to move to a newer one.
_qemu_fetch() {
    local dl=$BARLAB_CACHE/downloads src=$BARLAB_CACHE/src dsc
    _qemu_ver=
    if [ -f "$src/qemu.version" ]; then
        _qemu_ver=$(<"$src/qemu.version")
        [ ! -d "$src/qemu-$_qemu_ver" ] || return 0
    fi
    mkdir -p "$dl" "$src"
    if [ -z "$_qemu_ver" ]; then
        dsc=$(qemu_source_uris | awk '$1 ~ /^qemu_.*\.dsc$/ { print $1 }') ||
            die "cannot find the qemu source package in Debian $QEMU_DEBIAN_SUITE"
        [ -n "$dsc" ] || die "no qemu .dsc in Debian $QEMU_DEBIAN_SUITE"
        _qemu_ver=${dsc#qemu_}
        _qemu_ver=${_qemu_ver%.dsc}
    fi
    dsc=$dl/qemu_$_qemu_ver.dsc
    if [ ! -f "$dsc" ]; then
        # apt checks every file against the signed Sources index.
        papt_update "$QEMU_SRC_APT" "$HOST_ARCH" "deb-src:$QEMU_DEBIAN_SUITE"
        run_step qemu-download _qemu_download "$dl" ||
            die "downloading the qemu source package failed"
    fi
    [ -f "$dsc" ] || die "$dsc is missing after download (is $_qemu_ver still in $QEMU_DEBIAN_SUITE?)"
    # dpkg-source checks the tarballs against the .dsc's checksums and
    # applies Debian's patches.
    rm -rf "$src/qemu-$_qemu_ver.tmp"
    run_step qemu-unpack dpkg-source --require-strong-checksums -x \
        "$dsc" "$src/qemu-$_qemu_ver.tmp" ||
        die "unpacking $dsc failed"
    mv "$src/qemu-$_qemu_ver.tmp" "$src/qemu-$_qemu_ver"
    echo "$_qemu_ver" >"$src/qemu.version"
}

# _qemu_edit FILE SED-SCRIPT CHECK: edit FILE with sed, replacing the file
# (it may be a hard link into the pristine tree), and fail unless the
# result contains the line CHECK.
_qemu_edit() {
    sed "$2" "$1" >"$1.barlab-new" && mv "$1.barlab-new" "$1" || return
    grep -qxF -- "$3" "$1" || { echo "could not edit QEMU's ${1##*/stage/}"; return 1; }
}

# _qemu_stage PRISTINE STAGE: STAGE = the QEMU tree this repo wants: a
# hard-link copy of PRISTINE without the firmware sources and packaging,
# plus the overlay (hw/barlab with the core in hw/barlab/memtype, the
# qtests in tests/qtest/barlab; only if hw/barlab/meson.build exists) and
# hw/qemu-patches/*.patch but the cover letter, applied in order.  Files
# are replaced, never written through (patch, cp after rm, _qemu_edit), so
# PRISTINE stays intact; the rsync only relinks what the previous overlay
# replaced.
_qemu_stage() {
    local pristine=$1 stage=$2 p
    mkdir -p "$stage" &&
        rsync -a --delete --link-dest="$pristine" --exclude=/roms \
            --exclude=/debian --exclude=/.pc "$pristine/" "$stage/" || return
    if [ -f "$BARLAB_ROOT/hw/barlab/meson.build" ]; then
        _qemu_overlay "$stage" || return
    fi
    rm -f "$stage/configs/devices/aarch64-softmmu/barlab.mak" &&
        cp "$BARLAB_ROOT/hw/qemu-config/aarch64-softmmu.mak" \
            "$stage/configs/devices/aarch64-softmmu/barlab.mak" || return
    for p in "$BARLAB_ROOT"/hw/qemu-patches/*.patch; do
        # 0000-cover-letter.patch introduces the series and changes nothing.
        [ -f "$p" ] && [ "${p##*/}" != 0000-cover-letter.patch ] || continue
        patch -p1 -d "$stage" --batch --forward --no-backup-if-mismatch \
            -r - <"$p" ||
            { echo "patch ${p#"$BARLAB_ROOT"/} does not apply"; return 1; }
    done
}

# _qemu_overlay STAGE: put barlab's device models, core and qtests into
# the QEMU tree and hook them into its build (meson, Kconfig, tracing).
_qemu_overlay() {
    local stage=$1
    rm -rf "$stage/hw/barlab" "$stage/tests/qtest/barlab" &&
        cp -r "$BARLAB_ROOT/hw/barlab" "$stage/hw/barlab" || return
    if [ -d "$BARLAB_ROOT/hw/memtype" ]; then
        mkdir -p "$stage/hw/barlab/memtype" &&
            cp "$BARLAB_ROOT"/hw/memtype/*.[ch] "$stage/hw/barlab/memtype/" || return
    fi
    _qemu_edit "$stage/hw/meson.build" "\$a subdir('barlab')" \
        "subdir('barlab')" || return
    if [ -f "$BARLAB_ROOT/hw/barlab/Kconfig" ]; then
        _qemu_edit "$stage/hw/Kconfig" '$a source barlab/Kconfig' \
            "source barlab/Kconfig" || return
    fi
    if [ -f "$BARLAB_ROOT/hw/barlab/trace-events" ]; then
        # trace_events_subdirs is a list literal: insert into it.
        _qemu_edit "$stage/meson.build" \
            "/^trace_events_subdirs = \[\$/a \  'hw/barlab'," "  'hw/barlab'," ||
            return
    fi
    if [ -d "$BARLAB_ROOT/tests/qtest" ]; then
        cp -r "$BARLAB_ROOT/tests/qtest" "$stage/tests/qtest/barlab" &&
            _qemu_edit "$stage/tests/qtest/meson.build" "\$a subdir('barlab')" \
                "subdir('barlab')" || return
    fi
}

# _qemu_sync STAGE DEST: make DEST's content equal to STAGE's, writing only
# files whose content differs (they get a new mtime; others keep theirs).
_qemu_sync() {
    mkdir -p "$2"
    rsync -rlp --checksum --delete --exclude=__pycache__ \
        --out-format='%i %n' "$1/" "$2/"
}

# QEMU's configure makes a venv that sees the system's Python packages
# and PYTHONPATH; meson from the cache is found there, at configure time
# and whenever ninja runs meson again.
_qemu_configure() (
    cd "$1" && PYTHONPATH=$_qemu_meson/usr/lib/python3/dist-packages \
        CCACHE_DIR=$2 "$3/configure" "${_qemu_configure_args[@]}" \
        ${QEMU_SANITIZE:+"${_qemu_sanitize_args[@]}"}
)

# The barlab qtests, as ninja targets of the QEMU build: the names listed
# in tests/qtest/meson.build.
_qemu_qtests() {
    local t
    [ -f "$BARLAB_ROOT/tests/qtest/meson.build" ] || return 0
    for t in $(grep -o "'[a-z0-9-]*-\(test\|fuzz\)'" "$BARLAB_ROOT/tests/qtest/meson.build" |
        tr -d "'"); do
        echo "tests/qtest/barlab/$t"
    done
}

# _qemu_ninja BUILD CCACHE-DIR [--qtests]: qemu-system-aarch64, and with
# --qtests barlab's qtests too (about 350 more steps for libqos: only the
# test suites need them, not the demo).
_qemu_ninja() {
    local targets=()
    [ "${3:-}" != --qtests ] || mapfile -t targets < <(_qemu_qtests)
    # Regenerate first: ninja rejects a target that only the new meson
    # files define before it gets to regenerate them.
    export PYTHONPATH=$_qemu_meson/usr/lib/python3/dist-packages
    ninja -C "$1" build.ninja &&
        CCACHE_DIR=$2 CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G} \
            ninja -C "$1" qemu-system-aarch64 "${targets[@]}"
}

# _qemu_tree_build [--qtests]: with the QEMU lock held, make the
# persistent work tree ($BARLAB_CACHE/qemu/VERSION-$QEMU_TREE, "work"
# unless a caller names another) the current overlay and patches on
# Debian's source, configured and built; sets _qemu_ver, _qemu_meson,
# _qemu_work and _qemu_built_key (the inputs' key as staged).
_qemu_tree_build() {
    local key work recipe build_recipe
    apt_install "${_qemu_build_deps[@]}" "${QEMU_FIRMWARE_PACKAGES[@]}"
    _qemu_fetch
    _qemu_meson=$(qemu_meson)
    key=$(_qemu_key)
    work=$BARLAB_CACHE/qemu/$_qemu_ver-${QEMU_TREE:-work}
    _qemu_work=$work
    _qemu_built_key=$key
    recipe=$(_qemu_recipe "$_qemu_ver")
    build_recipe="$recipe
meson ${_qemu_meson##*/}"
    msg "building QEMU $_qemu_ver for tree key $key in $work"

    run_step qemu-overlay _qemu_stage "$BARLAB_CACHE/src/qemu-$_qemu_ver" "$work/stage" ||
        die "could not put hw/barlab and hw/qemu-patches onto QEMU $_qemu_ver"
    run_step qemu-sync _qemu_sync "$work/stage" "$work/src" ||
        die "could not sync the QEMU source tree $work/src"

    if [ ! -f "$work/build/build.ninja" ] ||
        [ "$(cat "$work/build/barlab-recipe" 2>/dev/null)" != "$build_recipe" ]; then
        rm -rf "$work/build"
        mkdir -p "$work/build"
        run_step qemu-configure _qemu_configure "$work/build" \
            "$BARLAB_CACHE/ccache" "$work/src" ||
            die "QEMU configure failed (full log: $work/build/meson-logs/meson-log.txt)"
        echo "$build_recipe" >"$work/build/barlab-recipe"
    fi
    BARLAB_PROGRESS=ninja run_step qemu-build _qemu_ninja "$work/build" "$BARLAB_CACHE/ccache" "$@" ||
        die "building qemu-system-aarch64 failed"
}

# qemu_lock: wait for and take the lock on the QEMU work tree
# ($QEMU_TREE); sets _qemu_lock (close it with exec {_qemu_lock}>&-).
qemu_lock() {
    mkdir -p "$BARLAB_CACHE/qemu"
    exec {_qemu_lock}>"$BARLAB_CACHE/qemu/.lock${QEMU_TREE:+-$QEMU_TREE}"
    if ! flock -n "$_qemu_lock"; then
        msg "waiting for another barlab to finish with the QEMU build tree"
        flock "$_qemu_lock"
    fi
}

# _qemu_have [--qtests]: true if the build for the current tree exists
# (with --qtests: and has barlab's qtests).
_qemu_have() {
    local bin t
    bin=$(qemu_binary_path) || return 1
    [ "${1:-}" = --qtests ] || return 0
    for t in $(_qemu_qtests); do
        [ -x "${bin%/*}/${t##*/}" ] || return 1
    done
}

# qemu_build [--qtests]: build qemu-system-aarch64 (with --qtests: and
# barlab's qtests) for the current hw/barlab, hw/qemu-patches and
# hw/qemu-config unless that build exists; then qemu_binary_path prints it.
qemu_build() {
    local key work art recipe steps t qtests=${1:-}
    _qemu_have "$qtests" && return 0
    qemu_lock
    if _qemu_have "$qtests"; then
        exec {_qemu_lock}>&-
        return 0
    fi
    _qemu_tree_build $qtests
    key=$_qemu_built_key
    work=$_qemu_work
    art=$(_qemu_art "$_qemu_ver" "$key")
    recipe=$(_qemu_recipe "$_qemu_ver")
    steps=$(grep -o '^\[[0-9]*/[0-9]*\]' "$BARLAB_LOGS/qemu-build.log" | tail -n 1) || true
    msg "ninja ran ${steps:-no} steps"

    rm -rf "$art.tmp"
    mkdir -p "$art.tmp"
    cp "$work/build/qemu-system-aarch64" "$art.tmp/"
    if [ -n "$qtests" ]; then
        for t in $(_qemu_qtests); do
            cp "$work/build/$t" "$art.tmp/"
        done
    fi
    echo "$recipe" >"$art.tmp/stamp"
    rm -rf "$art"
    mv "$art.tmp" "$art"
    exec {_qemu_lock}>&-
    msg "QEMU ready: $art/qemu-system-aarch64"
}

# --- Debian's own QEMU, the benchmarks' baseline -----------------------------

QEMU_STOCK_SUITE=bookworm-backports
QEMU_STOCK_APT=host-$QEMU_STOCK_SUITE
QEMU_STOCK_PACKAGES=(qemu-system-arm qemu-system-common qemu-system-data)

# qemu_stock_build: Debian's qemu-system-aarch64 from $QEMU_STOCK_SUITE,
# unpacked into the cache with the packages of its dependency closure that
# the machine does not have (apt resolves against the host's dpkg status,
# read only); print the path of a launcher that runs it from there.
# Nothing is installed on the machine.
qemu_stock_build() {
    local codename closure key stockdir p ver deb debs=() args=()
    codename=$(_apt_codename)
    papt_update "$QEMU_STOCK_APT" "$HOST_ARCH" --host-status "deb:$codename" \
        "deb:$codename-updates" "deb:$QEMU_STOCK_SUITE"
    for p in "${QEMU_STOCK_PACKAGES[@]}"; do
        args+=("$p/$QEMU_STOCK_SUITE")
    done
    closure=$(papt "$QEMU_STOCK_APT" apt-get -s -q --no-install-recommends install "${args[@]}" |
        sed -n 's/^Inst \([^ ]*\) \(\[[^]]*\] \)\{0,1\}(\([^ ]*\) .*/\1 \3/p')
    [ -n "$closure" ] ||
        die "apt cannot resolve ${QEMU_STOCK_PACKAGES[*]} from $QEMU_STOCK_SUITE (private apt state $(papt_root "$QEMU_STOCK_APT"))"
    key=$(echo "$closure" | sha256sum | cut -c1-16)
    stockdir=$BARLAB_CACHE/qemu-stock/$key
    if [ ! -f "$stockdir/stamp" ]; then
        rm -rf "$stockdir.tmp" && mkdir -p "$stockdir.tmp/root"
        while read -r p ver; do
            deb=$(compgen -G "$(papt_root "$QEMU_STOCK_APT")/debs/${p}_${ver//:/%3a}_*.deb" | head -n 1) || true
            if [ -z "$deb" ]; then
                (cd "$(papt_root "$QEMU_STOCK_APT")/debs" &&
                    papt "$QEMU_STOCK_APT" apt-get -qq download "$p=$ver") >&2 ||
                    die "downloading $p $ver from $QEMU_STOCK_SUITE failed"
                deb=$(compgen -G "$(papt_root "$QEMU_STOCK_APT")/debs/${p}_${ver//:/%3a}_*.deb" | head -n 1)
            fi
            debs+=("$deb")
        done <<<"$closure"
        for deb in "${debs[@]}"; do
            dpkg-deb -x "$deb" "$stockdir.tmp/root" || die "unpacking $deb failed"
        done
        [ -x "$stockdir.tmp/root/usr/bin/qemu-system-aarch64" ] ||
            die "no usr/bin/qemu-system-aarch64 in ${QEMU_STOCK_PACKAGES[0]}"
        cat >"$stockdir.tmp/qemu-system-aarch64" <<'LAUNCHER'
#!/bin/sh
# Debian's qemu-system-aarch64 run from barlab's cache (scripts/lib/qemu.sh).
root=$(dirname "$0")/root
LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    exec "$root/usr/bin/qemu-system-aarch64" -L "$root/usr/share/qemu" "$@"
LAUNCHER
        chmod 755 "$stockdir.tmp/qemu-system-aarch64"
        echo "$closure" >"$stockdir.tmp/stamp"
        rm -rf "$stockdir" && mv "$stockdir.tmp" "$stockdir"
    fi
    echo "$stockdir/qemu-system-aarch64"
}
