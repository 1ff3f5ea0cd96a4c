# SPDX-License-Identifier: GPL-2.0-or-later
# The L1 host's initramfs: Debian's arm64 busybox-static, the guest
# drivers built against the L1 kernel, the VMM, the tools and payloads,
# and target-tests/l1 (/init and its shell library).  Sourced after
# common.sh, apt.sh and kernel.sh, never executed.
#
# Arm64 packages come from the machine's own Debian mirror through a
# private apt state (apt.sh: papt, APT::Architecture=arm64), so the host's
# dpkg never learns about arm64.
#
# Layout:
#   $BARLAB_CACHE/apt/arm64-SUITE/    the private apt state and .debs
#   $BARLAB_BUILD/l1/src/             a copy of the repo parts built here
#   $BARLAB_BUILD/l1/rootfs/          the tree that becomes the initramfs
#   $BARLAB_BUILD/l1/initramfs.cpio.gz, .stamp (the inputs' key)

ARM64_SUITE=${ARM64_SUITE:-bookworm}
ARM64_APT=arm64-$ARM64_SUITE
INITRAMFS_PACKAGES=(busybox-static)
# Host packages: the cross compiler, and for the static arm64 programs
# (fbdraw, barlab-vmm) the cross libc and kernel uAPI headers, which
# gcc-aarch64-linux-gnu only recommends.
INITRAMFS_HOST_PACKAGES=(cpio rsync gzip gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    linux-libc-dev-arm64-cross)

# arm64_update: the private arm64 apt state, its lists at most a day old.
arm64_update() { papt_update "$ARM64_APT" arm64 "deb:$ARM64_SUITE"; }

# arm64_deb PKG: download PKG (arm64, or all); print the .deb's path.
arm64_deb() { papt_deb "$ARM64_APT" "$1"; }

# A user's kernel series has an initramfs of its own (its modules are
# built against that kernel), so that barlab's stays built.
_initramfs_dir() { echo "$BARLAB_BUILD/l1${KERNEL_SERIES_SHA:+-series-${KERNEL_SERIES_SHA:0:12}}"; }

initramfs_path() {
    local d
    d=$(_initramfs_dir)
    [ -f "$d/initramfs.cpio.gz" ] && [ -f "$d/stamp" ] || return 1
    [ "$(<"$d/stamp")" = "$(_initramfs_key)" ] || return 1
    echo "$d/initramfs.cpio.gz"
}

# The repo parts inside the initramfs, and what the payloads include:
# barlab-gpu's register map and the C core's list of patterns.  A part
# that does not exist yet (e.g. target-tests/vmm before it has a
# Makefile) is skipped.
_initramfs_parts() {
    (cd "$BARLAB_ROOT" && ls -d target-tests/l1 guest-drivers target-tests/vmm \
        target-tests/payloads hw/barlab/barlab-gpu.h hw/memtype/patterns.h 2>/dev/null)
}

_initramfs_key() {
    local parts
    mapfile -t parts < <(_initramfs_parts)
    { hash_tree "${parts[@]}" scripts/lib/initramfs.sh; _kernel_key; echo "${INITRAMFS_PACKAGES[*]}"; } |
        sha256sum | cut -c1-16
}

# _initramfs_modules DIR KDIR: the Kbuild modules in DIR built against the
# kernel build tree KDIR, the way guest-drivers/Makefile builds barlab's
# own (also `barlab build module DIR`).
_initramfs_modules() {
    local dir=$1 kdir=$2
    make -C "$dir" -f "$BARLAB_ROOT/guest-drivers/Makefile" KDIR="$kdir" ARCH=arm64 \
        CROSS_COMPILE=$KERNEL_CROSS "CC=ccache ${KERNEL_CROSS}gcc" \
        CCACHE_DIR="$BARLAB_CACHE/ccache" -j"$(nproc)"
}

# _initramfs_tools SRC ROOTFS: the static arm64 programs of the parts that
# have a Makefile (guest-drivers/tools, target-tests/vmm): every ELF
# executable the build leaves in the part's directory goes to /usr/bin.
_initramfs_tools() {
    local src=$1 rootfs=$2 d f
    for d in guest-drivers/tools target-tests/vmm; do
        [ -f "$src/$d/Makefile" ] || continue
        echo "== $d"
        make -C "$src/$d" CROSS_COMPILE=$KERNEL_CROSS CC=${KERNEL_CROSS}gcc || return
        for f in "$src/$d"/*; do
            [ -f "$f" ] && [ -x "$f" ] && [ "$(head -c 4 "$f")" = $'\x7fELF' ] || continue
            install -m 755 "$f" "$rootfs/usr/bin/"
            echo "installed /usr/bin/${f##*/}"
        done
    done
}

_initramfs_cpio() {
    local rootfs=$1 out=$2
    (cd "$rootfs" && find . -print0 | LC_ALL=C sort -z |
        cpio --null --reproducible -o -H newc -R 0:0 --quiet) | gzip -n -6 >"$out.tmp" &&
        mv "$out.tmp" "$out"
}

# initramfs_build: build the L1 initramfs for the current tree unless it
# exists (builds the kernel first: the modules need its build tree).
initramfs_build() {
    local d src rootfs deb p ko key payloads lock
    initramfs_path >/dev/null && return 0
    # The key of the inputs as they are now, before the kernel build: a
    # tree edited while the kernel builds must not stamp this initramfs
    # as made for a kernel that was never built.
    key=$(_initramfs_key)
    kernel_build
    mkdir -p "$(_initramfs_dir)"
    exec {lock}>"$(_initramfs_dir)/.lock"
    flock "$lock"
    if initramfs_path >/dev/null; then
        exec {lock}>&-
        return 0
    fi
    apt_install "${INITRAMFS_HOST_PACKAGES[@]}"
    arm64_update
    d=$(_initramfs_dir)
    src=$d/src
    rootfs=$d/rootfs
    mkdir -p "$src"
    for p in $(_initramfs_parts); do
        if [ -d "$BARLAB_ROOT/$p" ]; then
            mkdir -p "$src/$p"
            rsync -a --delete --exclude='*.o' "$BARLAB_ROOT/$p/" "$src/$p/"
        else
            mkdir -p "$src/${p%/*}"
            cp -p "$BARLAB_ROOT/$p" "$src/$p"
        fi
    done
    rm -rf "$rootfs"
    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,lib/modules/barlab,lib/barlab/payloads,etc,root,proc,sys,dev,tmp,run}

    deb=$(arm64_deb busybox-static)
    dpkg-deb --fsys-tarfile "$deb" | tar -xO ./bin/busybox >"$rootfs/bin/busybox" ||
        die "no /bin/busybox in $deb"
    chmod 755 "$rootfs/bin/busybox"
    ln -s busybox "$rootfs/bin/sh"     # /init's interpreter; /init adds the rest

    install -m 755 "$src/target-tests/l1/init" "$rootfs/init"
    install -m 644 "$src/target-tests/l1/l1.sh" "$rootfs/lib/barlab/l1.sh"
    if [ -f "$src/guest-drivers/Kbuild" ]; then
        run_step l1-modules _initramfs_modules "$src/guest-drivers" "$(kernel_build_dir)" ||
            die "building guest-drivers/ against the L1 kernel failed"
        for ko in "$src"/guest-drivers/*.ko; do
            [ -f "$ko" ] && install -m 644 "$ko" "$rootfs/lib/modules/barlab/"
        done
    fi
    run_step l1-tools _initramfs_tools "$src" "$rootfs" ||
        die "building the L1 tools failed"
    payloads_build
    payloads=$(payloads_path agree) || die "the payloads are missing after their build"
    cp "${payloads%/*}"/*.elf "$rootfs/lib/barlab/payloads/"

    run_step l1-cpio _initramfs_cpio "$rootfs" "$d/initramfs.cpio.gz" ||
        die "packing the initramfs failed"
    echo "$key" >"$d/stamp"
    exec {lock}>&-
    msg "initramfs ready: $d/initramfs.cpio.gz ($(du -k "$d/initramfs.cpio.gz" | cut -f1) KiB)"
}

# l1_builds: what an L1 boot needs: barlab's QEMU, the L1 kernel and the
# initramfs.  On a first run (neither QEMU nor the kernel built yet) the
# QEMU build and the kernel and initramfs builds run side by side: each
# leaves a core idle in its single-threaded phases (unpacking, configure,
# linking) that the other fills.  The callers have installed the host
# packages (setup), so the two install nothing at the same time.  Once
# they are there, a shell and its subshells do not check them again (a
# matrix boots L1 once per CPU).
l1_builds() {
    local qpid kpid qrc=0 krc=0
    [ -z "${_l1_builds_done:-}" ] || return 0
    if qemu_binary_path >/dev/null || kernel_image_path >/dev/null; then
        qemu_build
        initramfs_build
    else
        msg "building QEMU and the L1 kernel side by side"
        (BARLAB_STEP_LINES=1 qemu_build) &
        qpid=$!
        (BARLAB_STEP_LINES=1 initramfs_build) &
        kpid=$!
        wait "$qpid" || qrc=$?
        wait "$kpid" || krc=$?
        [ "$qrc" -eq 0 ] || die "building barlab's QEMU failed (see above)"
        [ "$krc" -eq 0 ] || die "building the L1 kernel or initramfs failed (see above)"
    fi
    qemu_binary_path >/dev/null && kernel_image_path >/dev/null && initramfs_path >/dev/null ||
        die "the builds ended, but the tree changed while they ran: run the command again"
    _l1_builds_done=1
}
