# SPDX-License-Identifier: GPL-2.0-or-later
"""The one builder of barlab's QEMU command lines.

Every machine barlab starts is QEMU's virt board with EL2
(virtualization=on) and a GICv3; the L1 host adds the SMMUv3.  What
differs between the L1 host, the agreement test, the payload runs and
the benchmarks is said by the arguments of virt(), never by another copy
of '-M virt,...'."""

# -cpu max with QEMU's fast pointer-authentication algorithm: the
# architected one dominates TCG time, and it changes nothing about
# memory types.
FAST_PAUTH = {"max": "max,pauth-impdef=on"}

BOARD = "virt"


def virt(cpu="max", smmu=False, smp=None, memory=None, fast_pauth=False,
         no_reboot=False, no_shutdown=False, headless=True):
    """The argv (without the binary) of barlab's virt machine.

    SMMU: the L1 host's SMMUv3 (iommu=smmuv3).  FAST_PAUTH: -cpu max with
    pauth-impdef=on.  NO_REBOOT: a guest reset ends QEMU (a panic with
    panic=-1 stops the run).  NO_SHUTDOWN: QEMU stays up after the guest
    powers off, so its state can be read over QMP.  HEADLESS: no default
    devices and no display."""
    board = BOARD + ",virtualization=on,gic-version=3"
    if smmu:
        board += ",iommu=smmuv3"
    args = ["-M", board, "-cpu", FAST_PAUTH.get(cpu, cpu) if fast_pauth else cpu]
    if smp:
        args += ["-smp", str(smp)]
    if memory:
        args += ["-m", str(memory)]
    if headless:
        args += ["-nodefaults", "-display", "none"]
    if no_reboot:
        args.append("-no-reboot")
    if no_shutdown:
        args.append("-no-shutdown")
    return args


def device_help():
    """The argv (without the binary) that lists the devices QEMU has for
    barlab's board (`-device help`), and nothing else."""
    return ["-M", BOARD, "-device", "help"]


def l1_host(cpu):
    """The machine of every L1 run: 2 PEs, 1 GiB, the SMMUv3."""
    return virt(cpu, smmu=True, smp=2, memory="1G", fast_pauth=True,
                no_reboot=True)


if __name__ == "__main__":
    import sys
    print("\n".join(l1_host(sys.argv[1] if len(sys.argv) > 1 else "max")))
