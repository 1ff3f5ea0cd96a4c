# SPDX-License-Identifier: GPL-2.0-or-later
# Build the L1 host kernel: Debian's linux-source-6.12 with the series in
# kernel-patches/ applied by git am, configured as allnoconfig plus
# kernel-patches/l1.config, cross-built for arm64 with ccache.
# Sourced after common.sh and apt.sh, never executed.
#
# Layout below $BARLAB_CACHE:
#   downloads/linux-source-6.12_VERSION_all.deb
#   src/linux.version           the VERSION in use (chosen once; remove the
#                               file to move to a newer Debian upload)
#   src/linux-VERSION/          one git tree: tag "debian" is the pristine
#                               source, HEAD that plus the series; its
#                               .barlab-build/ is the build directory (a
#                               subdirectory, so compile commands use
#                               relative paths and ccache hits anywhere)
#   src/linux-VERSION-user/     a clone of it for users' series
#                               (--kernel-patches), so that building one
#                               leaves barlab's tree and build as they are
#   kernel/VERSION-KEY/         Image, System.map, config for one state of
#                               the inputs (_kernel_inputs, the user's
#                               series; KEY), a stamp
#
# A user's series (docs/kernel-patches.md): kernel_patches_use sets
# KERNEL_SERIES_* from scripts/kernel_series.py; empty: barlab's series.

KERNEL_PACKAGE=linux-source-6.12
KERNEL_CROSS=aarch64-linux-gnu-
# Files a first build of the current l1.config compiles (the stamp's
# "compiled" line), for the progress estimate.
KERNEL_FILES=1050

_kernel_build_deps=(
    gcc-aarch64-linux-gnu make bc bison flex libssl-dev libelf-dev
    cpio kmod git ccache xz-utils
)

# Fixed build identity, so that the same inputs give the same Image and
# init/version.o is a ccache hit.
_kernel_make_env=(
    KBUILD_BUILD_USER=barlab KBUILD_BUILD_HOST=barlab
    "KBUILD_BUILD_TIMESTAMP=Thu Jan  1 00:00:00 UTC 1970"
)

KERNEL_SERIES="" KERNEL_SERIES_NAME="" KERNEL_SERIES_MODE="" KERNEL_SERIES_SHA=""
KERNEL_SERIES_POLICY=""

# kernel_patches_use CMD SPEC: build and boot the kernel of the user's
# series SPEC: DIR (instead of barlab's series) or +DIR (on top of it).
# A mistake in SPEC is a usage error of CMD.
kernel_patches_use() {
    local desc
    desc=$(python3 "$BARLAB_ROOT/scripts/kernel_series.py" describe "$2" \
        --barlab "$BARLAB_ROOT/kernel-patches" 2>&1) ||
        usage_die "$1" "--kernel-patches: $desc"
    KERNEL_SERIES=$desc
    { read -r KERNEL_SERIES_NAME; read -r KERNEL_SERIES_MODE; read -r KERNEL_SERIES_SHA
        read -r KERNEL_SERIES_POLICY; } < <(python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print(d["name"], d["mode"], d["sha256"], d["policy"] or "", sep="\n")' "$desc")
    [ -z "$KERNEL_SERIES_POLICY" ] ||
        check_policy "$1" "$KERNEL_SERIES_POLICY" "barlab-policy in ${2#+}/series"
}

# take_kernel_patches CMD ARG...: the arguments without
# "--kernel-patches SPEC" in _args; kernel_patches_use SPEC if it was
# among them.
take_kernel_patches() {
    local cmd=$1
    shift
    _args=()
    while [ $# -gt 0 ]; do
        if [ "$1" = --kernel-patches ]; then
            opt_value "$cmd" $# "$1"
            kernel_patches_use "$cmd" "$2"
            shift
        else
            _args+=("$1")
        fi
        shift
    done
}

# kernel_series_build: build the kernel of the user's series, if one was
# given; before a command opens its output directory, so that a series
# that does not apply leaves nothing behind.
kernel_series_build() {
    [ -z "$KERNEL_SERIES" ] || kernel_build
}

# kernel_series_label: the series that builds the kernel, for messages.
kernel_series_label() {
    if [ -n "$KERNEL_SERIES" ]; then
        printf 'the series %s (%s of barlab'\''s, sha256 %s)\n' "$KERNEL_SERIES_NAME" \
            "${KERNEL_SERIES_MODE/-/ }" "${KERNEL_SERIES_SHA:0:12}"
    else
        echo "kernel-patches/"
    fi
}

# kernel_series_json: the series as report.json names it.
kernel_series_json() {
    if [ -n "$KERNEL_SERIES" ]; then
        echo "$KERNEL_SERIES"
    else
        python3 "$BARLAB_ROOT/scripts/kernel_series.py" describe "$BARLAB_ROOT/kernel-patches" \
            --barlab "$BARLAB_ROOT/kernel-patches"
    fi
}

# kernel_series_policy CMD POLICY: fail unless the kernel can run POLICY
# (a series without the run-time knob runs the one it declares).
kernel_series_policy() {
    [ -z "$KERNEL_SERIES_POLICY" ] || [ "$2" = "$KERNEL_SERIES_POLICY" ] ||
        usage_die "$1" "policy $2 is not available with the kernel series $KERNEL_SERIES_NAME (no run-time policy; its fixed behaviour is $KERNEL_SERIES_POLICY)"
}

_kernel_inputs() {
    local patches=(kernel-patches/series kernel-patches/*.patch)
    [ "$KERNEL_SERIES_MODE" != instead ] || patches=()
    (cd "$BARLAB_ROOT" && ls -d "${patches[@]}" kernel-patches/l1.config \
        scripts/lib/kernel.sh 2>/dev/null)
}

_kernel_key() {
    local inputs
    mapfile -t inputs < <(_kernel_inputs)
    { hash_tree "${inputs[@]}"; echo "${_kernel_make_env[*]}"
        [ -z "$KERNEL_SERIES" ] || echo "series $KERNEL_SERIES_MODE $KERNEL_SERIES_SHA"; } |
        sha256sum | cut -c1-16
}

# _kernel_series_hash: the series alone (what the source tree depends on).
_kernel_series_hash() {
    local inputs
    mapfile -t inputs < <(_kernel_inputs | grep -e '/series$' -e '\.patch$')
    { [ ${#inputs[@]} -eq 0 ] || hash_tree "${inputs[@]}"
        [ -z "$KERNEL_SERIES" ] || echo "series $KERNEL_SERIES_MODE $KERNEL_SERIES_SHA"; } |
        if [ -n "$KERNEL_SERIES" ]; then sha256sum | cut -c1-16; else cat; fi
}

# _kernel_tree VERSION: the source tree the series is applied in.
_kernel_tree() {
    echo "$BARLAB_CACHE/src/linux-$1${KERNEL_SERIES:+-user}"
}

# _kernel_chosen: the source version in use; fails if none was chosen yet.
_kernel_chosen() {
    local vfile=$BARLAB_CACHE/src/linux.version
    [ -f "$vfile" ] || return 1
    echo "$(<"$vfile")"
}

# _kernel_out: the artifact directory for the current inputs.
_kernel_out() {
    local ver
    ver=$(_kernel_chosen) || return 1
    echo "$BARLAB_CACHE/kernel/$ver-$(_kernel_key)"
}

# kernel_image_path: print the Image built for the current inputs.
kernel_image_path() {
    local out
    out=$(_kernel_out) || return 1
    [ -f "$out/stamp" ] && [ -f "$out/Image" ] || return 1
    echo "$out/Image"
}

# kernel_build_dir: print the kernel build directory (for out-of-tree
# modules); valid after kernel_build.
kernel_build_dir() {
    local ver
    ver=$(_kernel_chosen) || return 1
    echo "$(_kernel_tree "$ver")/.barlab-build"
}

# _kernel_version: the Debian version of linux-source-6.12 apt offers.
_kernel_version() {
    apt-cache policy "$KERNEL_PACKAGE" 2>/dev/null |
        awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }'
}

_kernel_git() {
    git -c user.name=barlab -c user.email=barlab@invalid \
        -c advice.detachedHead=false "$@"
}

# _kernel_unpack DEB DIR: the source tarball of DEB, extracted into DIR
# and committed as tag "debian".  Debian's .gitignore ignores the whole
# top level, hence add -f.
_kernel_unpack() {
    local deb=$1 srcdir=$2 tarball=./usr/src/$KERNEL_PACKAGE.tar.xz
    rm -rf "$srcdir" && mkdir -p "$srcdir" &&
        dpkg-deb --fsys-tarfile "$deb" | tar -xO "$tarball" |
        tar -xJ -C "$srcdir" --strip-components=1 &&
        [ -f "$srcdir/Makefile" ] &&
        (cd "$srcdir" && _kernel_git init -q && _kernel_git add -f . &&
            _kernel_git commit -q -m "Debian $KERNEL_PACKAGE $(basename "$deb")" &&
            _kernel_git tag debian)
}

# _kernel_fetch: make sure the source tree exists; sets _kernel_ver.
_kernel_fetch() {
    local dl=$BARLAB_CACHE/downloads src=$BARLAB_CACHE/src deb
    _kernel_ver=
    if [ -f "$src/linux.version" ]; then
        _kernel_ver=$(<"$src/linux.version")
        [ ! -d "$src/linux-$_kernel_ver/.git" ] || return 0
    fi
    apt_update_once
    [ -n "$_kernel_ver" ] || _kernel_ver=$(_kernel_version)
    [ -n "$_kernel_ver" ] ||
        die "apt has no $KERNEL_PACKAGE package (it is in bookworm-security, bookworm-backports and trixie)"
    mkdir -p "$dl" "$src"
    deb=$dl/${KERNEL_PACKAGE}_${_kernel_ver}_all.deb
    if [ ! -f "$deb" ]; then
        # apt checks the package against the signed index.
        run_step kernel-download sh -c "cd '$dl' && apt-get download '$KERNEL_PACKAGE=$_kernel_ver'" ||
            die "downloading $KERNEL_PACKAGE $_kernel_ver failed"
        [ -f "$deb" ] || die "$KERNEL_PACKAGE $_kernel_ver: no $deb after download"
    fi
    run_step kernel-unpack _kernel_unpack "$deb" "$src/linux-$_kernel_ver.tmp" ||
        die "unpacking $deb failed"
    rm -rf "$src/linux-$_kernel_ver"
    mv "$src/linux-$_kernel_ver.tmp" "$src/linux-$_kernel_ver"
    echo "$_kernel_ver" >"$src/linux.version"
}

# _kernel_fetch_user: _kernel_fetch, and the clone for users' series.
_kernel_fetch_user() {
    local src=$BARLAB_CACHE/src tree
    _kernel_fetch
    tree=$(_kernel_tree "$_kernel_ver")
    [ -z "$KERNEL_SERIES" ] || [ -d "$tree/.git" ] || {
        rm -rf "$tree.tmp"
        git clone -q --no-checkout "$src/linux-$_kernel_ver" "$tree.tmp" &&
            mv "$tree.tmp" "$tree"
    } || die "cloning $src/linux-$_kernel_ver for the user's series failed"
}

# _kernel_apply TREE: TREE = tag debian + the series, unless it already
# is.  Progress goes to stderr; a patch that does not apply is named on
# stdout with its failing hunk (scripts/kernel_series.py).
_kernel_apply() {
    local tree=$1 want have p json rc patches=()
    want=$(_kernel_series_hash)
    have=$(cat "$tree/.barlab-series" 2>/dev/null) || true
    [ "$want" != "$have" ] || return 0
    rm -f "$tree/.barlab-series"
    json=$(kernel_series_json 2>&1) || { echo "$json"; return 1; }
    mapfile -t patches < <(python3 -c 'import json, sys
print("\n".join(json.loads(sys.argv[1])["patches"]))' "$json")
    (
        cd "$tree"
        _kernel_git am --abort >/dev/null 2>&1 || true
        # Files the old series touched: content hash and mtime, so that
        # those the new series leaves as they were keep their mtime and
        # make does not rebuild what includes them (esr.h: nearly all).
        _kernel_git diff --name-only debian HEAD -- | while read -r p; do
            [ -f "$p" ] && printf '%s %s %s\n' "$(sha1sum <"$p" | cut -c1-40)" \
                "$(stat -c %Y "$p")" "$p"
        done >.barlab-mtimes
        _kernel_git checkout -q -f --detach debian >&2
        rc=0
        python3 "$BARLAB_ROOT/scripts/kernel_series.py" apply . "${patches[@]}" || rc=$?
        # Also after a patch that did not apply: the next series starts
        # from these mtimes.
        while read -r sum mtime p; do
            [ -f "$p" ] && [ "$(sha1sum <"$p" | cut -c1-40)" = "$sum" ] &&
                touch -d "@$mtime" "$p"
        done <.barlab-mtimes
        rm -f .barlab-mtimes
        exit "$rc"
    ) || return
    echo "$want" >"$tree/.barlab-series"
}

_kernel_make() {
    local tree=$1
    shift
    env "${_kernel_make_env[@]}" CCACHE_DIR="$BARLAB_CACHE/ccache" \
        CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}" \
        make -C "$tree" O=.barlab-build ARCH=arm64 CROSS_COMPILE=$KERNEL_CROSS \
        "CC=ccache ${KERNEL_CROSS}gcc" -j"$(nproc)" "$@"
}

# _kernel_configure TREE: allnoconfig + the fragment, and a check that
# every symbol the fragment sets, or leaves out, survived (a renamed or
# unmet symbol, or one that another selects, would otherwise go unseen).
_kernel_configure() {
    local tree=$1 b=$1/.barlab-build frag=$BARLAB_ROOT/kernel-patches/l1.config line sym lost=()
    _kernel_make "$tree" allnoconfig &&
        (cd "$tree" && ARCH=arm64 scripts/kconfig/merge_config.sh -m -O .barlab-build \
            .barlab-build/.config "$frag") &&
        _kernel_make "$tree" olddefconfig || return
    while read -r line; do
        case $line in
        CONFIG_*=*)
            sym=${line%%=*}
            grep -qxF "$line" "$b/.config" ||
                lost+=("$line (got: $(grep -E "^(# )?$sym[= ]" "$b/.config" || echo unset))") ;;
        "# CONFIG_"*" is not set")
            sym=${line#\# }
            sym=${sym%% *}
            ! grep -qE "^$sym=[ym]" "$b/.config" ||
                lost+=("$line (got: $(grep -E "^$sym=" "$b/.config"), selected by another option)") ;;
        esac
    done <"$frag"
    if [ ${#lost[@]} -gt 0 ]; then
        printf 'kernel-patches/l1.config: not in the final .config: %s\n' "${lost[@]}"
        return 1
    fi
}

# kernel_build: build Image for the current kernel-patches/ unless that
# build exists; then kernel_image_path prints it.
kernel_build() {
    local key tree art lock start cfg_hash total err
    if kernel_image_path >/dev/null && [ "$(cat "$(kernel_build_dir)/barlab-key" 2>/dev/null)" = "$(_kernel_key)" ]; then
        return 0
    fi
    mkdir -p "$BARLAB_CACHE/kernel"
    exec {lock}>"$BARLAB_CACHE/kernel/.lock"
    if ! flock -n "$lock"; then
        msg "waiting for another barlab to finish building the kernel"
        flock "$lock"
    fi
    apt_install "${_kernel_build_deps[@]}"
    _kernel_fetch_user
    key=$(_kernel_key)
    tree=$(_kernel_tree "$_kernel_ver")
    art=$BARLAB_CACHE/kernel/$_kernel_ver-$key
    if [ -f "$art/stamp" ] && [ "$(cat "$tree/.barlab-build/barlab-key" 2>/dev/null)" = "$key" ]; then
        exec {lock}>&-
        return 0
    fi
    msg "building Linux $_kernel_ver (Debian $KERNEL_PACKAGE) with $(kernel_series_label) for key $key"
    start=$SECONDS
    mkdir -p "$BARLAB_LOGS"
    # The build directory is for no key until the build ends: a series
    # that fails to apply leaves the tree as no finished build had it.
    rm -f "$tree/.barlab-build/barlab-key"
    err=$(_kernel_apply "$tree" 2>"$BARLAB_LOGS/kernel-patch.log") ||
        die "$(kernel_series_label) does not apply to Debian $KERNEL_PACKAGE $_kernel_ver: ${err:-see $BARLAB_LOGS/kernel-patch.log}"
    mkdir -p "$tree/.barlab-build"
    cfg_hash=$(hash_tree kernel-patches/l1.config)
    if [ "$(cat "$tree/.barlab-build/barlab-config" 2>/dev/null)" != "$cfg_hash" ]; then
        run_step kernel-configure _kernel_configure "$tree" ||
            die "configuring the kernel failed"
        echo "$cfg_hash" >"$tree/.barlab-build/barlab-config"
    fi
    # A first build compiles about KERNEL_FILES files; an incremental one
    # shows how many it compiled so far.
    total=0
    [ -f "$tree/.barlab-build/vmlinux" ] || total=$KERNEL_FILES
    BARLAB_PROGRESS=kbuild:$total run_step kernel-build _kernel_make "$tree" Image modules ||
        die "building the kernel failed"
    rm -rf "$art.tmp"
    mkdir -p "$art.tmp"
    cp "$tree/.barlab-build/arch/arm64/boot/Image" "$tree/.barlab-build/System.map" "$art.tmp/"
    cp "$tree/.barlab-build/.config" "$art.tmp/config"
    printf 'linux %s\nkey %s\nseconds %d\ncompiled %d\nseries %s\n' "$_kernel_ver" "$key" \
        "$((SECONDS - start))" "$(grep -c '^  CC ' "$BARLAB_LOGS/kernel-build.log" || true)" \
        "$(kernel_series_label)" >"$art.tmp/stamp"
    rm -rf "$art"
    mv "$art.tmp" "$art"
    echo "$key" >"$tree/.barlab-build/barlab-key"
    exec {lock}>&-
    msg "kernel ready: $art/Image ($((SECONDS - start)) s)"
}
