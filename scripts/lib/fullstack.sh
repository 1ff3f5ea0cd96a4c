# SPDX-License-Identifier: GPL-2.0-or-later
# `barlab fullstack`: the whole stack.  A stock VMM from Debian's arm64
# packages (qemu-system-aarch64 from bookworm's qemu-system-arm) runs in
# L1 with KVM and passes barlab-nic and barlab-gpu through with
# -device vfio-pci to a full L2 Linux (barlab's kernel Image, the L1
# initramfs as its root), which loads guest-drivers/ and runs the NIC's
# write-combining self-test, a ping through slirp, fbdraw and fbdraw --odd
# through sysfs resource2_wc and /dev/fb0.  One L1 boot per vfio-pci
# policy.  Sourced after common.sh, apt.sh, qemu.sh, kernel.sh,
# initramfs.sh and l1.sh, never executed.  The guest side is
# target-tests/fullstack; docs/fullstack.md explains the results.
#
# L1 gets the VMM as an extra initramfs: the base L1 initramfs, then an
# uncompressed cpio of the VMM tree and the L2 kernel and initrd, then the
# run script (the kernel unpacks concatenated archives in order; an
# uncompressed one must start 4-byte aligned).  Uncompressed because L1
# unpacks it under TCG: 0.44 s of guest time for 64 MiB, against 1.0-1.4 s
# for the same as gzip -1 (24 MiB) or zstd -3 (23 MiB).
#
# Layout below $BARLAB_BUILD/fullstack:
#   vmm/root/, vmm/stamp       qemu-system-aarch64 and the shared objects
#                              it loads, from the packages' dependency
#                              closure (the stamp: package versions)
#   overlay.cpio, overlay.stamp   vmm/root + /lib/barlab/fullstack/{Image,initrd.gz}
#   runs/POLICY/               the runs of `barlab fullstack` (default --out)
#   modules/NAME/              `barlab build module DIR`: DIR built against
#                              barlab's kernel (src/, the .ko files, stamp)

FULLSTACK_VMM_PACKAGE=qemu-system-arm
FULLSTACK_HOST_PACKAGES=(binutils-aarch64-linux-gnu)
FULLSTACK_VMM_BINARY=usr/bin/qemu-system-aarch64
FULLSTACK_POLICIES="device prefetchable any"
# The --odd runs come before the drawing, so that when they kill the VM
# the last L2 still draws the picture the host checks.
FULLSTACK_STEPS="wc ping odd-res odd-fb0 draw-res draw-fb0"
FULLSTACK_L2_TIMEOUT=${FULLSTACK_L2_TIMEOUT:-120}
FULLSTACK_TIMEOUT=${FULLSTACK_TIMEOUT:-600}
FULLSTACK_WIDTH=640
FULLSTACK_HEIGHT=480
# A user's program (--run): how long it may run in L2, where L2 finds it
# (target-tests/fullstack/l2-run.sh reads the same directory), and where
# its shared libraries come from: the cross toolchain's glibc, which it
# was linked against (libc6-arm64-cross, as Debian's arm64 libc6).
FULLSTACK_RUN_TIMEOUT=60
FULLSTACK_RUN_DIR=opt/barlab/run
FULLSTACK_RUN_SYSROOT=/usr/${KERNEL_CROSS%-}

_fullstack_dir() { echo "$BARLAB_BUILD/fullstack"; }

# _fullstack_vmm_closure: "PACKAGE VERSION" for each package of the VMM's
# dependency closure, as apt resolves it against an empty dpkg status
# (the private arm64 apt state of initramfs.sh never installs anything),
# Recommends left out: qemu-system-gui, firmware, block modules, ...
_fullstack_vmm_closure() {
    papt "$ARM64_APT" apt-get -s -q --no-install-recommends install "$FULLSTACK_VMM_PACKAGE" |
        sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1 \2/p'
}

# _fullstack_needed STAGE ELF...: copy each ELF (a path relative to
# STAGE) with its program interpreter and its DT_NEEDED closure into the
# current directory, symbolic links as they are.  Nothing else is needed
# at run time: `-M virt -kernel` loads no firmware, and -display none
# with -nodefaults loads none of QEMU's UI or audio modules.
_fullstack_needed() {
    local stage=$1 f n d found p t
    local -A seen=()
    local queue=("${@:2}")
    local libdirs=(lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib usr/lib)
    while [ ${#queue[@]} -gt 0 ]; do
        f=${queue[0]}
        queue=("${queue[@]:1}")
        [ -z "${seen[$f]:-}" ] || continue
        seen[$f]=1
        p=$f
        while [ ! -e "$p" ] && [ ! -L "$p" ]; do    # the file, then what its links point to
            mkdir -p "$(dirname "$p")"
            cp -a "$stage/$p" "$p" || return
            [ -L "$p" ] || break
            t=$(readlink "$p")
            case $t in /*) p=${t#/} ;; *) p=$(dirname "$p")/$t ;; esac
        done
        for n in $("${KERNEL_CROSS}readelf" -lW "$stage/$f" |
            sed -n 's/.*Requesting program interpreter: \/\(.*\)\]/\1/p'); do
            queue+=("$n")
        done
        for n in $("${KERNEL_CROSS}readelf" -dW "$stage/$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            found=
            for d in "${libdirs[@]}"; do
                [ -e "$stage/$d/$n" ] && { found=$d/$n; break; }
            done
            [ -n "$found" ] || { echo "$f needs $n, which no package of the closure has"; return 1; }
            queue+=("$found")
        done
    done
}

# _fullstack_vmm_tree DIR DEB...: unpack the packages into DIR/stage and
# copy what the VMM binary loads into DIR/root.
_fullstack_vmm_tree() {
    local dir=$1 deb
    shift
    rm -rf "$dir/stage" "$dir/root"
    mkdir -p "$dir/stage" "$dir/root"
    for deb in "$@"; do
        dpkg-deb -x "$deb" "$dir/stage" || return
    done
    [ -x "$dir/stage/$FULLSTACK_VMM_BINARY" ] ||
        { echo "no $FULLSTACK_VMM_BINARY in $FULLSTACK_VMM_PACKAGE"; return 1; }
    (cd "$dir/root" && _fullstack_needed "$dir/stage" "$FULLSTACK_VMM_BINARY") || return
    rm -rf "$dir/stage"
    echo "$(find "$dir/root" -type f | wc -l) files, $(du -sk "$dir/root" | cut -f1) KiB:"
    (cd "$dir/root" && find . -type f | sort)
}

# _fullstack_vmm_recipe: how the tree is made, for its cache key.
_fullstack_vmm_recipe() {
    echo "$FULLSTACK_VMM_PACKAGE $FULLSTACK_VMM_BINARY"
    declare -f _fullstack_vmm_closure _fullstack_needed _fullstack_vmm_tree
}

# fullstack_vmm_build: the VMM tree for the current Debian packages,
# unless it exists; downloads with apt, verified against the signed index.
fullstack_vmm_build() {
    local dir root closure pkg ver deb debs=() key lists
    dir=$(_fullstack_dir)/vmm
    apt_install "${FULLSTACK_HOST_PACKAGES[@]}"
    arm64_update
    root=$(papt_root "$ARM64_APT")
    # Resolving takes apt 2.4 s: only when the package lists changed.
    lists=$({ ls -l --time-style=+%s "$root/state/lists"; _fullstack_vmm_recipe; } |
        sha256sum | cut -c1-16)
    [ "$(cat "$dir/lists" 2>/dev/null)" != "$lists" ] || [ ! -f "$dir/stamp" ] || return 0
    closure=$(_fullstack_vmm_closure)
    [ -n "$closure" ] ||
        die "apt cannot resolve $FULLSTACK_VMM_PACKAGE for arm64 (private apt state $(papt_root "$ARM64_APT"))"
    key=$({ echo "$closure"; _fullstack_vmm_recipe; } | sha256sum | cut -c1-16)
    if [ "$(cat "$dir/stamp" 2>/dev/null)" = "$key" ]; then
        echo "$lists" >"$dir/lists"
        return 0
    fi
    run_step fullstack-vmm-download papt "$ARM64_APT" apt-get -q -y --no-install-recommends \
        install --download-only "$FULLSTACK_VMM_PACKAGE" ||
        die "downloading $FULLSTACK_VMM_PACKAGE and its dependencies (arm64) failed"
    while read -r pkg ver; do
        deb=$(compgen -G "$root/cache/archives/${pkg}_${ver//:/%3a}_*.deb" | head -n 1) ||
            die "apt downloaded the closure, but ${pkg} ${ver} is not in $root/cache/archives"
        debs+=("$deb")
    done <<<"$closure"
    mkdir -p "$dir"
    rm -f "$dir/stamp"
    run_step fullstack-vmm-tree _fullstack_vmm_tree "$dir" "${debs[@]}" ||
        die "building the VMM tree from ${#debs[@]} packages failed"
    echo "$key" >"$dir/stamp"
    echo "$lists" >"$dir/lists"
    msg "fullstack: $FULLSTACK_VMM_PACKAGE $(awk -v p="$FULLSTACK_VMM_PACKAGE" '$1 == p { print $2 }' <<<"$closure"): ${#debs[@]} packages resolved, $(du -sk "$dir/root" | cut -f1) KiB kept"
}

# _fullstack_cpio DIR: DIR as a reproducible newc archive, owned by root.
_fullstack_cpio() {
    (cd "$1" && find . -print0 | LC_ALL=C sort -z |
        cpio --null --reproducible -o -H newc -R 0:0 --quiet)
}

# _fullstack_overlay_build: the L1 overlay cpio (VMM, L2 kernel, L2
# initrd) for the current inputs, unless it exists.
_fullstack_overlay_build() {
    local d tree key base image
    d=$(_fullstack_dir)
    base=$(initramfs_path) || die "fullstack: the L1 initramfs is not built"
    image=$(kernel_image_path) || die "fullstack: the kernel is not built"
    key=$({ cat "$d/vmm/stamp" "${base%/*}/stamp"; echo "$image";
        hash_tree target-tests/fullstack; } | sha256sum | cut -c1-16)
    [ "$(cat "$d/overlay.stamp" 2>/dev/null)" != "$key" ] || return 0
    tree=$d/overlay
    rm -rf "$tree" "$d/overlay.stamp"
    mkdir -p "$tree/lib/barlab/fullstack"
    cp -a "$d/vmm/root/." "$tree/"
    # L2 runs the L1 kernel and initramfs: the same drivers and tools,
    # built for that kernel; /init runs l2-run.sh as /run.sh.
    cp "$image" "$tree/lib/barlab/fullstack/Image"
    _l1_initrd "$base" "" "$BARLAB_ROOT/target-tests/fullstack/l2-run.sh" \
        "$tree/lib/barlab/fullstack/initrd.gz"
    _fullstack_cpio "$tree" >"$d/overlay.cpio.tmp" ||
        die "fullstack: packing the overlay failed"
    mv "$d/overlay.cpio.tmp" "$d/overlay.cpio"
    echo "$key" >"$d/overlay.stamp"
}

# _fullstack_user_cpio OUT PROG TIMEOUT NMOD MODULE... ARG...: the extra
# L1 initramfs of a --run in OUT/initrd-extra.cpio: the overlay, then
# /lib/barlab/fullstack/user.cpio.gz for L2's /opt/barlab/run (the
# program and the shared objects it loads, as _fullstack_needed finds
# them in the cross toolchain's sysroot; the modules; the program's
# path, time limit, arguments and modules, one a line).
_fullstack_user_cpio() {
    local out=$1 prog=$2 limit=$3 nmod=$4 name root=$1/.user-root stage=$1/.user-stage
    local l1=$1/.user-l1 run m
    shift 4
    local modules=("${@:1:nmod}")
    shift "$nmod"
    name=${prog##*/}
    run=$root/$FULLSTACK_RUN_DIR
    rm -rf "$root" "$stage" "$l1"
    mkdir -p "$stage/$FULLSTACK_RUN_DIR/bin" "$run/modules" "$l1/lib/barlab/fullstack"
    cp "$prog" "$stage/$FULLSTACK_RUN_DIR/bin/$name" &&
        ln -s "$FULLSTACK_RUN_SYSROOT/lib" "$stage/lib" &&
        (cd "$root" && _fullstack_needed "$stage" "$FULLSTACK_RUN_DIR/bin/$name") || return
    echo "/$FULLSTACK_RUN_DIR/bin/$name" >"$run/program"
    echo "$limit" >"$run/timeout"
    : >"$run/args"
    [ $# -eq 0 ] || printf '%s\n' "$@" >"$run/args"
    : >"$run/modules.list"
    for m in "${modules[@]}"; do
        cp "$m" "$run/modules/" && echo "/$FULLSTACK_RUN_DIR/modules/${m##*/}" >>"$run/modules.list" ||
            return
    done
    _fullstack_cpio "$root" | gzip -n -1 >"$l1/lib/barlab/fullstack/user.cpio.gz" || return
    # The overlay is whole 512-byte cpio blocks: the next archive is aligned.
    {
        cat "$(_fullstack_dir)/overlay.cpio"
        _fullstack_cpio "$l1"
    } >"$out/initrd-extra.cpio" || return
    echo "$(find "$root" -type f | wc -l) files for L2, $(du -sk "$root" | cut -f1) KiB:"
    (cd "$root" && find . -type f | sort)
    rm -rf "$root" "$stage" "$l1"
}

# _fullstack_reference_module: a module barlab built against its kernel
# (for the vermagic a user's module must have).
_fullstack_reference_module() {
    local ko
    ko=$(dirname "$(initramfs_path)")/rootfs/lib/modules/barlab/barlab_nic.ko
    [ -f "$ko" ] || die "fullstack: no $ko after the initramfs build"
    echo "$ko"
}

# _fullstack_check_run_file CMD WHAT FILE [REFERENCE]: a usage mistake
# unless FILE is a program (WHAT=program) or a module for barlab's kernel
# (WHAT=module) that L2 can use (scripts/fullstack_run.py says why not).
_fullstack_check_run_file() {
    local why
    why=$(python3 "$BARLAB_ROOT/scripts/fullstack_run.py" "$2" "$3" ${4:+"$4"}) ||
        usage_die "$1" "--${2/program/run} $why"
}

# fullstack_examples_build: the example programs of --run, for aarch64
# Linux with the cross toolchain (dynamic, as a user's would be); prints
# their paths.
fullstack_examples_build() {
    local dest
    dest=$(_fullstack_dir)/examples
    apt_install "${INITRAMFS_HOST_PACKAGES[@]}"
    run_step fullstack-examples make -C "$BARLAB_ROOT/target-tests/fullstack/examples" \
        O="$dest" CROSS_COMPILE=$KERNEL_CROSS ||
        die "building target-tests/fullstack/examples failed (log: $BARLAB_LOGS/fullstack-examples.log)"
    make -s -C "$BARLAB_ROOT/target-tests/fullstack/examples" O="$dest" list
}

usage_module() {
    cat <<'USAGE'
usage: scripts/barlab build module DIR
build the out-of-tree Kbuild modules in DIR against barlab's L1/L2 kernel
DIR holds the sources and a Kbuild (or Makefile) with obj-m lines, as for
any out-of-tree module; it is copied and built with barlab's cross compiler
against the kernel's build tree (its headers, .config and Module.symvers),
which 'barlab build kernel' makes and caches.  The build is cached by DIR's
contents and the kernel; DIR is not written to.  Prints the path of each
.ko, ready for 'barlab fullstack --run PROG --module FILE.ko'.
USAGE
}

# module_build DIR: `barlab build module DIR`; prints the .ko paths.
module_build() {
    local dir=$1 name key dest kdir
    [ -d "$dir" ] || usage_die "build module" "$dir: no such directory"
    [ -f "$dir/Kbuild" ] || [ -f "$dir/Makefile" ] ||
        usage_die "build module" "$dir has no Kbuild or Makefile with obj-m lines"
    dir=$(cd "$dir" && pwd)
    name=${dir##*/}
    kernel_build
    kdir=$(kernel_build_dir)
    [ -f "$kdir/Module.symvers" ] || die "build module: no Module.symvers in $kdir"
    key=$({ hash_tree "$dir"; _kernel_key; _kernel_chosen; declare -f _initramfs_modules; } |
        sha256sum | cut -c1-16)
    dest=$(_fullstack_dir)/modules/$name
    if [ "$(cat "$dest/stamp" 2>/dev/null)" != "$key" ]; then
        rm -rf "$dest.tmp"
        mkdir -p "$dest.tmp/src"
        cp -a "$dir/." "$dest.tmp/src/"
        run_step "module-$name" _initramfs_modules "$dest.tmp/src" "$kdir" ||
            { rm -rf "$dest.tmp"; die "build module: building $dir against barlab's kernel failed (log: $BARLAB_LOGS/module-$name.log)"; }
        compgen -G "$dest.tmp/src/*.ko" >/dev/null ||
            { rm -rf "$dest.tmp"; die "build module: $dir built no .ko (no obj-m in its Kbuild?)"; }
        cp "$dest.tmp"/src/*.ko "$dest.tmp/"
        echo "$key" >"$dest.tmp/stamp"
        rm -rf "$dest"
        mv "$dest.tmp" "$dest"
    fi
    ls "$dest"/*.ko
}

usage_fullstack() {
    cat <<'USAGE'
usage: scripts/barlab fullstack [--policy P]... [--cpu CPU] [--inject-align]
                                [--out DIR] [--steps "S..."] [--no-devices]
                                [--no-picture] [--timeout S] [--echo]
                                [--device-props DEV,PROP=VALUE]...
                                [--nic-param NAME=VALUE]...
                                [--run PROG [--module FILE.ko]...
                                 [--run-timeout S] [-- ARG...]]
                                [--kernel-patches [+]DIR]
the whole stack: a stock VMM in L1 runs an L2 Linux with the devices and drivers
Boot L1 once per policy; in it, Debian's qemu-system-aarch64 (KVM) runs an
L2 Linux with barlab-nic and barlab-gpu passed through by vfio-pci.  L2
loads guest-drivers/ and runs the steps; a step that kills the VM is
reported, and a new L2 boots for the steps after it.
  --policy P        vfio-pci's stage-2 policy: device, prefetchable or any;
                    repeat for several (default: all three)
  --kernel-patches [+]DIR
                    L1 (and L2) run the kernel of the git format-patch
                    series in DIR instead of kernel-patches/ (+DIR: on top
                    of it); a series without the run-time policy runs its
                    declared one (docs/kernel-patches.md)
  --cpu CPU         L0's CPU model for L1 (max: FEAT_S2FWB, the default;
                    neoverse-n1: no FWB)
  --inject-align    L1 KVM injects stage-2 alignment faults into L2 (a
                    SIGBUS in L2) instead of failing KVM_RUN (VM death)
  --out DIR         results, console, screendump (default
                    build/fullstack/runs); one subdirectory per policy;
                    a new or empty directory, or an earlier fullstack
                    report (the policies not run now are kept); written
                    when the runs end, so an interrupt leaves DIR as it was
  --steps "S..."    the L2 steps (default: wc ping odd-res odd-fb0
                    draw-res draw-fb0):
                      wc        the NIC driver's write-combining self-test
                      ping      3 pings of slirp's gateway 10.0.2.2
                      odd-res   fbdraw --odd through sysfs resource2_wc
                      odd-fb0   fbdraw --odd through /dev/fb0
                      draw-res  fbdraw through sysfs resource2_wc
                      draw-fb0  fbdraw through /dev/fb0
  --no-devices      pass nothing through (with --steps "": a bare L2 boot)
  --no-picture      no screendump of what L2 drew
  --timeout S       limit for the whole L1 run (default 600; each L2
                    boot has 120 s)
  --echo            copy L1's console to stderr while it runs
  --device-props DEV,PROP=VALUE[,...]
                    more properties for barlab's device DEV (nic or gpu)
                    in L0, as for 'barlab boot', e.g.
                    nic,port-mode=reorder:7 (the port mode is checked
                    before anything runs)
  --nic-param NAME=VALUE
                    a parameter for L2's barlab_nic module, e.g.
                    doorbell_wmb=0 (guest-drivers/README.md); repeat for
                    more
  --run PROG        copy the aarch64 program PROG (static, or dynamic: with
                    the shared objects it loads, from the cross toolchain's
                    glibc) into L2 and run it there as the last step, "run"
                    (alone, unless --steps names others); its environment
                    names the mappings: BARLAB_RESOURCE2_WC (barlab-gpu's
                    VRAM, sysfs resource2_wc), BARLAB_RESOURCE0 (its
                    registers) and BARLAB_FB0 (/dev/fb0); no picture check
  --module FILE.ko  load FILE.ko in L2 before PROG (made with 'barlab build
                    module DIR'; its vermagic must be barlab's kernel's);
                    repeat for more, loaded in order
  --run-timeout S   PROG is killed after S seconds (default 60): outcome
                    timeout
  -- ARG...         everything after -- is PROG's arguments
Prints one row per policy: the self-test's verdict, each fbdraw run's
outcome (ok, mismatch, sigbus, vm-death, ...), the frames, what barlab-nic's
checker and counters saw (ok, or the rules broken and the stale doorbells),
the picture; then, for each policy where the NIC saw something, its first
broken rule with the access, the one that overtook it and the port's seed.
With --run: one row per policy with PROG's outcome (exit N, SIGBUS, vm-death,
timeout), its modules, what barlab-gpu's checker saw (transactions, gathered
ones, violations with the rules) and the trace's path; then the last lines
PROG printed on L2's console under each policy.  A PROG that is missing,
not executable or not for aarch64, or a module for another kernel, is
refused before anything runs.
USAGE
}

# _fullstack_script FILE STEPS DEVICES PICTURE NIC-PARAMS: the L1 run script.
_fullstack_script() {
    {
        echo "# SPDX-License-Identifier: GPL-2.0-or-later"
        printf 'FS_STEPS="%s"\nFS_DEVICES=%s\nFS_PICTURE=%s\nFS_L2_TIMEOUT=%s\nFS_NIC_PARAMS="%s"\n' \
            "$2" "$3" "$4" "$FULLSTACK_L2_TIMEOUT" "$5"
        cat "$BARLAB_ROOT/target-tests/fullstack/l1-run.sh"
    } >"$1"
}

# _fullstack_nic_params: "NAME TYPE" for each parameter of the barlab_nic
# module, from its module_param() declarations.
_fullstack_nic_params() {
    sed -n 's/^module_param(\([a-z0-9_]*\), *\([a-z0-9_]*\),.*/\1 \2/p' \
        "$BARLAB_ROOT/guest-drivers/barlab_nic.c"
}

# _fullstack_check_nic_param CMD NAME=VALUE: NAME is a parameter of
# barlab_nic and VALUE one its type takes.
_fullstack_check_nic_param() {
    local name=${2%%=*} value=${2#*=} type names
    [[ $2 == *=* ]] || usage_die "$1" "--nic-param must be NAME=VALUE, not '$2'"
    names=$(_fullstack_nic_params | awk '{ print $1 }')
    grep -qxF -- "$name" <<<"$names" || _not_one_of "$1" "barlab_nic parameter" "$name" $names
    type=$(_fullstack_nic_params | awk -v n="$name" '$1 == n { print $2 }')
    case $type in
    bool) [[ $value =~ ^[01yYnN]$ ]] ||
        usage_die "$1" "--nic-param $name must be 0 or 1 (or y, n), not '$value'" ;;
    int|uint|long|ulong|short|ushort|byte) [[ $value =~ ^-?[0-9]+$ ]] ||
        usage_die "$1" "--nic-param $name must be a number, not '$value'" ;;
    *) [[ $value =~ ^[^,[:space:]]*$ ]] ||
        usage_die "$1" "--nic-param $name: no commas or spaces in '$value'" ;;
    esac
}

# _fullstack_check_steps CMD "S...": each step is one of FULLSTACK_STEPS.
_fullstack_check_steps() {
    local s
    for s in $2; do
        check_word "$1" --steps "$s" $FULLSTACK_STEPS
    done
}

# fullstack_run [--policy P] [--cpu CPU] [--inject-align] [--out DIR]
#               [--steps "S..."] [--no-devices] [--no-picture] [--timeout S]
#               [--echo] [--device-props DEV,PROP=VALUE]...
#               [--nic-param NAME=VALUE]...:
# one L1 boot with the full stack in it; writes DIR/results (one line per
# step: STEP OUTCOME KEY=VALUE...), DIR/summary and, with the picture,
# DIR/fullstack.png.  Returns l1_run's status, or 1 if a step could not
# run (timeout, died, not-run, failed; vm-death and sigbus are results).
fullstack_run() {
    local policy=any cpu=max inject=() out="" steps=$FULLSTACK_STEPS devices=1 picture=1
    local timeout=$FULLSTACK_TIMEOUT echo=() rc=0 boot_args=() props=() nic_params=()
    local prog="" modules=() prog_args=() run_timeout=$FULLSTACK_RUN_TIMEOUT l2_timeout
    local extra
    while [ $# -gt 0 ]; do
        case $1 in
        --policy) need_arg $# "fullstack: --policy needs a value"; policy=$2; shift ;;
        --cpu) need_arg $# "fullstack: --cpu needs a CPU model"; cpu=$2; shift ;;
        --inject-align) inject=(--inject-align) ;;
        --out) need_arg $# "fullstack: --out needs a directory"; out=$2; shift ;;
        --steps) need_arg $# "fullstack: --steps needs a list"; steps=$2; shift ;;
        --no-devices) devices=0 ;;
        --no-picture) picture=0 ;;
        --timeout) need_arg $# "fullstack: --timeout needs seconds"; timeout=$2; shift ;;
        --echo) echo=(--echo) ;;
        --device-props) need_arg $# "fullstack: --device-props needs a value"; props+=(--device-props "$2"); shift ;;
        --nic-param) need_arg $# "fullstack: --nic-param needs a value"; nic_params+=("$2"); shift ;;
        --run) need_arg $# "fullstack: --run needs a program"; prog=$2; shift ;;
        --module) need_arg $# "fullstack: --module needs a .ko"; modules+=("$2"); shift ;;
        --run-timeout) need_arg $# "fullstack: --run-timeout needs seconds"; run_timeout=$2; shift ;;
        --run-arg) need_arg $# "fullstack: --run-arg needs a value"; prog_args+=("$2"); shift ;;
        *) die "fullstack: unknown option '$1' (see 'barlab fullstack --help')" ;;
        esac
        shift
    done
    check_policy fullstack "$policy"
    [ "$devices" = 1 ] || picture=0
    [ -n "$out" ] || out=$(_fullstack_dir)/runs/$policy
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    # What an earlier run left would pass for this run's.
    rm -f "$out"/{results,summary,console.log,timing,fullstack.png,picture.txt,l0-slirp.pcap} \
        "$out"/{devices.json,nic.trace,gpu.trace,guest-errors.log,run-console.txt,user.log}

    l1_builds
    fullstack_vmm_build
    _fullstack_overlay_build
    extra=$(_fullstack_dir)/overlay.cpio
    l2_timeout=$FULLSTACK_L2_TIMEOUT
    if [ -n "$prog" ]; then
        [[ " $steps " == *" run "* ]] || steps="${steps:+$steps }run"
        l2_timeout=$((l2_timeout + run_timeout))
        _fullstack_user_cpio "$out" "$prog" "$run_timeout" "${#modules[@]}" "${modules[@]}" \
            "${prog_args[@]}" >"$out/user.log" 2>&1 ||
            die "fullstack: packing $prog for L2 failed: $(tail -n 1 "$out/user.log")"
        extra=$out/initrd-extra.cpio
    fi
    FULLSTACK_L2_TIMEOUT=$l2_timeout _fullstack_script "$out/fullstack-run.sh" "$steps" "$devices" \
        "$picture" "${nic_params[*]}"
    # The overlay rides in L1's initramfs; a pcap of what reached L0's
    # slirp is the outside witness of L2's frames; the devices' guest
    # errors (a stale doorbell, a broken rule, ...) go to a log of their own.
    boot_args=(--cpu "$cpu" --policy "$policy" "${inject[@]}" --out "$out" --timeout "$timeout"
        --run "$out/fullstack-run.sh" --initrd-extra "$extra" "${echo[@]}"
        "${props[@]}")
    [ "$devices" = 1 ] || boot_args+=(--bind none)
    l1_run "${boot_args[@]}" -- \
        -object "filter-dump,id=fullstack-pcap,netdev=n0,file=$out/l0-slirp.pcap" \
        -d guest_errors -D "$out/guest-errors.log" || rc=$?
    rm -f "$out/initrd.gz" "$out/initrd-extra.cpio"
    _fullstack_results "$out" "$policy" "${#inject[@]}" "$devices" "${nic_params[*]}"
    if [ -n "$prog" ]; then
        python3 "$BARLAB_ROOT/scripts/fullstack_run.py" tail "$out/console.log" 20 >"$out/run-console.txt"
        [ "$devices" != 1 ] || python3 "$BARLAB_ROOT/scripts/fullstack_run.py" device "$BARLAB_MT" \
            "$out/gpu.trace" "$out/gpu-regs.trace" >>"$out/results"
    fi
    if grep -qE '^[^ ]+ (timeout|died|not-run|failed)' "$out/results"; then
        msg "fullstack: a step of L2 failed to run (see $out/results); L1's console ends:"
        tr -d '\r' <"$out/console.log" | tail -n 25 | sed 's/^/    /' >&2
        [ "$rc" -ne 0 ] || rc=1
    fi
    return "$rc"
}

# _fullstack_pcap_frames FILE: the number of frames in a pcap file.
_fullstack_pcap_frames() {
    python3 - "$1" <<'PY'
import struct, sys
try:
    data = open(sys.argv[1], "rb").read()
except OSError:
    print("-")
    sys.exit(0)
endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
pos, n = 24, 0
while pos + 16 <= len(data):
    pos += 16 + struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
    n += 1
print(n)
PY
}

# _fullstack_results OUT POLICY INJECT DEVICES NIC-PARAMS: DIR/results
# and DIR/summary from the console, and with the devices, the results line
# of what barlab-nic saw (scripts/fullstack_nic.py).
_fullstack_results() {
    local out=$1 picture=- wall
    tr -d '\r' <"$out/console.log" 2>/dev/null |
        sed -n 's/^fullstack: result //p' >"$out/results"
    [ "$4" != 1 ] || python3 "$BARLAB_ROOT/scripts/fullstack_nic.py" "$BARLAB_MT" \
        "$out/devices.json" "$out/nic.trace" >>"$out/results"
    if [ -f "$out/fullstack.png" ]; then
        if python3 "$BARLAB_ROOT/tests/lib/fbimage.py" check "$out/fullstack.png" \
            "$FULLSTACK_WIDTH" "$FULLSTACK_HEIGHT" >"$out/picture.txt" 2>&1; then
            picture=matches
        else
            picture=differs
        fi
    fi
    wall=$(awk '$1 == "wall" { print $2 }' "$out/timing" 2>/dev/null)
    {
        echo "policy $2"
        echo "inject-align $([ "$3" = 0 ] && echo N || echo Y)"
        echo "nic-params ${5:-none}"
        echo "kernel-series $(kernel_series_label)"
        tr -d '\r' <"$out/console.log" 2>/dev/null |
            sed -n 's/^fullstack: \(vmm\|boots\|s2\|s2-fwb\) /\1 /p'
        tr -d '\r' <"$out/console.log" 2>/dev/null |
            sed -n 's/^fullstack: l2-boot \([0-9]*\) end=\([^ ]*\) ready=\([^ ]*\) wall=\([^ ]*\).*/l2-boot \1 \2 \3 \4/p'
        echo "picture $picture"
        echo "l0-frames $(_fullstack_pcap_frames "$out/l0-slirp.pcap")"
        echo "wall ${wall:--}"
    } >"$out/summary"
}

# _fullstack_field DIR STEP [KEY]: a step's outcome, or the value of KEY.
_fullstack_field() {
    awk -v s="$2" -v k="${3:-}" '$1 == s {
        if (k == "") { print $2; exit }
        for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit }
    }' "$1/results" 2>/dev/null
}

# _fullstack_columns VALUE...: one line of the table.
_fullstack_columns() {
    printf '%-13s %-9s %-27s %-9s %-9s %-9s %-9s %-12s %-16s %-6s %-8s %-5s %s\n' "$@"
}

# _fullstack_nic_cell DIR: what barlab-nic saw: ok, or each rule broken
# and the stale and late push copies, with their counts.
_fullstack_nic_cell() {
    awk '$1 == "nic" {
        if ($2 != "broken") { print $2; exit }
        for (i = 3; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] ~ /^[A-Z][0-9]+$/)
                cell = cell " " kv[1] ":" kv[2]
            else if ((kv[1] == "tx-stale" || kv[1] == "tx-late") && kv[2] > 0)
                cell = cell " " substr(kv[1], 4) ":" kv[2]
        }
        print substr(cell, 2); exit
    }' "$1/results" 2>/dev/null
}

# _fullstack_nic_finding DIR: for a run where barlab-nic saw a rule
# broken, one line: the first transaction with a verdict, the access that
# overtook it, the port mode and seed, and the device's counters.
_fullstack_nic_finding() {
    local policy r
    policy=$(awk '$1 == "policy" { print $2 }' "$1/summary")
    r=$(awk '$1 == "nic" && $2 == "broken"' "$1/results" 2>/dev/null)
    [ -n "$r" ] || return 0
    printf '%s: %s\n' "$policy" "$(awk '{
        for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        out = v["violations"] " transaction(s) broke a rule"
        if ("first-rule" in v) {
            out = out "; first " v["first-rule"] ": " v["first-access"] " (accesses " v["first-seq"] ")"
            if (split(v["first-after"], after, ":") > 0)
                out = out " reached the device after access " after[1] \
                    (after[2] != "" ? " (" after[2] ")" : "")
        }
        print out "; port " v["port"] " seed " v["seed"] "; tx-stale " v["tx-stale"] \
            ", tx-late " v["tx-late"] ", device errors " v["errors"]
    }' <<<"$r")"
}

# _fullstack_row DIR: one table row for the run in DIR.
_fullstack_row() {
    local d=$1 s wc odd=() draw=() ping s2
    wc=$(_fullstack_field "$d" wc)
    [ -z "$(_fullstack_field "$d" wc inline)" ] ||
        wc="$wc $(_fullstack_field "$d" wc inline)/255 $(_fullstack_field "$d" wc us)us"
    for s in odd-res odd-fb0; do odd+=("$(_fullstack_field "$d" $s)"); done
    for s in draw-res draw-fb0; do draw+=("$(_fullstack_field "$d" $s)"); done
    s2=$(for s in nic-bar2 gpu-bar0 gpu-bar2; do
        awk -v b="$s" '$1 == "s2" && $2 == b { print $3 }' "$d/summary"
    done | sed 's/^Device-nGnRE$/D/; s/^Normal-NC$/NC/; s/^unmapped$/-/' | paste -sd/)
    ping=$(_fullstack_field "$d" ping)
    [ -z "$ping" ] || ping="$ping $(_fullstack_field "$d" ping tx)/$(_fullstack_field "$d" ping rx)"
    _fullstack_columns "$(awk '$1 == "policy" { print $2 }' "$d/summary")" "${s2:--}" "${wc:--}" \
        "${odd[0]:--}" "${odd[1]:--}" "${draw[0]:--}" "${draw[1]:--}" "${ping:--}" \
        "$(_fullstack_nic_cell "$d" | grep . || echo -)" \
        "$(awk '$1 == "l0-frames" { print $2 }' "$d/summary")" \
        "$(awk '$1 == "picture" { print $2 }' "$d/summary")" \
        "$(awk '$1 == "boots" { print $2 }' "$d/summary")" \
        "$(awk '$1 == "wall" { print $2 }' "$d/summary")"
}

cmd_fullstack() {
    local policies=() out="" args=() p rc=0 start=$SECONDS prog="" modules=() run_args=() m a
    local steps=-
    while [ $# -gt 0 ]; do
        case $1 in
        --run) opt_value fullstack $# "$1"; _fullstack_check_run_file fullstack program "$2"
            prog=$(cd "$(dirname "$2")" && pwd)/${2##*/}; shift ;;
        --module) opt_value fullstack $# "$1"; modules+=("$2"); shift ;;
        --run-timeout) opt_value fullstack $# "$1"; check_seconds fullstack "$1" "$2"; run_args+=("$1" "$2"); shift ;;
        --)
            shift
            for a in "$@"; do
                [[ $a != *$'\n'* ]] || usage_die fullstack "a program argument may not hold a newline"
                run_args+=(--run-arg "$a")
            done
            break ;;
        --policy) opt_value fullstack $# "$1"; check_policy fullstack "$2"; policies+=("$2"); shift ;;
        --kernel-patches) opt_value fullstack $# "$1"; kernel_patches_use fullstack "$2"; shift ;;
        --out) opt_value fullstack $# "$1"; out=$2; shift ;;
        --cpu) opt_value fullstack $# "$1"; check_cpu fullstack "$2"; args+=("$1" "$2"); shift ;;
        --timeout) opt_value fullstack $# "$1"; check_seconds fullstack "$1" "$2"; args+=("$1" "$2"); shift ;;
        --steps) opt_value fullstack $# "$1"; _fullstack_check_steps fullstack "$2"; steps=$2; args+=("$1" "$2"); shift ;;
        --device-props) opt_value fullstack $# "$1"; l1_device_props fullstack "$2"; args+=("$1" "$2"); shift ;;
        --nic-param) opt_value fullstack $# "$1"; _fullstack_check_nic_param fullstack "$2"; args+=("$1" "$2"); shift ;;
        --inject-align|--no-devices|--no-picture|--echo) args+=("$1") ;;
        *) usage_die fullstack "unknown option '$1'" ;;
        esac
        shift
    done
    [ ${#policies[@]} -gt 0 ] || read -r -a policies <<<"${KERNEL_SERIES_POLICY:-$FULLSTACK_POLICIES}"
    for p in "${policies[@]}"; do kernel_series_policy fullstack "$p"; done
    [ -n "$out" ] || out=$(_fullstack_dir)/runs
    kernel_series_build
    if [ -z "$prog" ]; then
        [ ${#modules[@]} -eq 0 ] && [ ${#run_args[@]} -eq 0 ] ||
            usage_die fullstack "--module, --run-timeout and program arguments need --run PROG"
    else
        # --run without --steps runs the program alone.
        [ "$steps" != - ] || { steps=""; args+=(--steps ""); }
        args+=(--run "$prog" --no-picture "${run_args[@]}")
    fi
    if [ ${#modules[@]} -gt 0 ]; then
        # A module is checked against the kernel barlab built (after the
        # builds, before the report directory is touched).
        out_check fullstack fullstack "$out"
        cmd_setup
        l1_builds
        for m in "${modules[@]}"; do
            _fullstack_check_run_file fullstack module "$m" "$(_fullstack_reference_module)"
            args+=(--module "$(cd "$(dirname "$m")" && pwd)/${m##*/}")
        done
    fi
    out_open fullstack fullstack "$out"
    # The policies not run now stay as the earlier run left them.
    for p in $( [ ! -d "$OUT_DIR" ] || ls -A "$OUT_DIR"); do
        [ "$p" = "$OUT_MANIFEST" ] || [[ " ${policies[*]} " == *" $p "* ]] || out_keep "$p"
    done
    cmd_setup
    for p in "${policies[@]}"; do
        msg "fullstack: policy $p ..."
        out_job fullstack_run --policy "$p" --out "$OUT_STAGE/$p" "${args[@]}" ||
            { rc=$?; msg "fullstack: the L1 run for policy $p failed (exit $rc; console: $out/$p/console.log)"; }
    done
    out_commit
    out=$OUT_DIR
    echo "kernel series: $(kernel_series_label)"
    if [ -n "$prog" ]; then
        python3 "$BARLAB_ROOT/scripts/fullstack_run.py" report "${policies[@]/#/$out/}"
        if [ -z "$steps" ]; then
            msg "fullstack: $((SECONDS - start)) s; results, consoles and traces in $out"
            return "$rc"
        fi
    fi
    _fullstack_columns policy "S2 n2/g0/g2" "WC self-test" "odd res" "odd fb0" "draw res" "draw fb0" "ping tx/rx" \
        "NIC checker" "L0 fr" picture boots "wall s"
    for p in "${policies[@]}"; do
        _fullstack_row "$out/$p"
    done
    for p in "${policies[@]}"; do
        _fullstack_nic_finding "$out/$p"
    done
    msg "fullstack: $((SECONDS - start)) s; results, consoles and screendumps in $out"
    return "$rc"
}
