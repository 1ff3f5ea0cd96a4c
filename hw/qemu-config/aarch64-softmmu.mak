# SPDX-License-Identifier: GPL-2.0-or-later
# The devices of barlab's qemu-system-aarch64.  QEMU is configured with
# --without-default-devices and this file (as configs/devices/
# aarch64-softmmu/barlab.mak in the staged tree), so only what is named
# here, and what it selects, is built: the virt machine, barlab's models,
# and the PCI devices an arm64 testbed user puts on a virt machine.  The
# other boards (about 600 of QEMU's 1,950 build steps) are left out.

# The machine: GICv3 and its ITS, SMMUv3, PCIe, PL011, fw_cfg.
CONFIG_ARM_VIRT=y

# barlab-gpu and barlab-nic (hw/barlab/Kconfig).
CONFIG_BARLAB_GPU=y

# PCIe topology (not pxb: it needs the CXL emulation).
CONFIG_PCIE_PORT=y
CONFIG_PCI_BRIDGE=y

# virtio over PCI (and MMIO, which virt selects).
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_SCSI=y
CONFIG_VIRTIO_RNG=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VIRTIO_BALLOON=y
CONFIG_VIRTIO_GPU=y
CONFIG_VIRTIO_INPUT=y

# NICs, storage and displays with Linux drivers on arm64.
CONFIG_E1000E_PCI_EXPRESS=y
CONFIG_E1000_PCI=y
CONFIG_RTL8139_PCI=y
CONFIG_NVME_PCI=y
CONFIG_AHCI_ICH9=y
CONFIG_USB_XHCI_PCI=y
CONFIG_USB_STORAGE_BOT=y
CONFIG_BOCHS_DISPLAY=y
CONFIG_VGA_PCI=y
CONFIG_SERIAL_PCI=y

# Test devices used by QEMU's own qtests.
CONFIG_PCI_TESTDEV=y
CONFIG_EDU=y
