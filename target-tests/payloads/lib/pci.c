/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PCI through the virt board's ECAM: find a device by its IDs on bus 0
 * (where -device puts endpoints on the PCIe root complex), size its memory
 * BARs and place them in the 32-bit MMIO window, as firmware would.
 */
#include "libpl.h"

#define PCI_VENDOR_ID 0x00
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_HEADER_TYPE 0x0c            /* byte 2 of the dword */
#define PCI_BAR0 0x10
#define PCI_BAR_IO 0x1
#define PCI_BAR_64 0x4
#define PCI_BAR_PREFETCH 0x8

static u64 cfg_addr(u64 ecam, unsigned bdf)
{
    return ecam + ((u64)bdf << 12);
}

bool pci_find(u64 ecam, u16 vendor, u16 device, struct pci_dev *out)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        for (unsigned fn = 0; fn < 8; fn++) {
            unsigned bdf = dev << 3 | fn;
            u32 id = mmio_read32(cfg_addr(ecam, bdf) + PCI_VENDOR_ID);

            if ((id & 0xffff) == 0xffff) {
                if (fn == 0) {
                    break;
                }
                continue;
            }
            if ((id & 0xffff) == vendor && id >> 16 == device) {
                out->cfg = cfg_addr(ecam, bdf);
                out->bdf = bdf;
                out->vendor = vendor;
                out->device = device;
                return true;
            }
            /* single-function devices answer only at function 0 */
            if (fn == 0 &&
                !((mmio_read32(cfg_addr(ecam, bdf) + PCI_HEADER_TYPE) >> 16) & 0x80)) {
                break;
            }
        }
    }
    return false;
}

struct bar {
    u64 size;
    bool mem, is64, prefetch;
};

/* Size BAR @i by the write-ones protocol; decoding is off while we do it. */
static struct bar pci_size_bar(const struct pci_dev *d, unsigned i)
{
    u64 reg = d->cfg + PCI_BAR0 + 4 * i;
    u32 orig = mmio_read32(reg), lo, hi = 0xffffffffu;
    struct bar b = { 0 };

    if (orig & PCI_BAR_IO) {
        return b;
    }
    b.mem = true;
    b.is64 = (orig & 6) == PCI_BAR_64;
    b.prefetch = orig & PCI_BAR_PREFETCH;
    mmio_write32(reg, 0xffffffffu);
    lo = mmio_read32(reg) & ~0xfu;
    mmio_write32(reg, orig);
    if (b.is64) {
        u32 orig_hi = mmio_read32(reg + 4);

        mmio_write32(reg + 4, 0xffffffffu);
        hi = mmio_read32(reg + 4);
        mmio_write32(reg + 4, orig_hi);
    }
    if (!lo && (!b.is64 || !hi)) {
        b.mem = false;          /* not implemented */
        return b;
    }
    b.size = ~((u64)hi << 32 | lo) + 1;
    return b;
}

static void pci_set_bar(const struct pci_dev *d, unsigned i, const struct bar *b,
                        u64 addr)
{
    u64 reg = d->cfg + PCI_BAR0 + 4 * i;

    mmio_write32(reg, (u32)addr);
    if (b->is64) {
        mmio_write32(reg + 4, (u32)(addr >> 32));
    }
}

bool pci_assign_bars(const struct pci_dev *d, unsigned want,
                     u64 *addr, u64 *size, bool *is64, bool *prefetch)
{
    u64 next = VIRT_PCIE_MMIO;
    struct bar bars[6], wb;
    u32 cmd = mmio_read32(d->cfg + PCI_COMMAND);

    if (want > 5) {
        return false;
    }
    mmio_write32(d->cfg + PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
    for (unsigned i = 0; i < 6; i++) {
        bars[i] = pci_size_bar(d, i);
        if (bars[i].is64 && i < 5) {
            bars[++i].mem = false;      /* upper half of the previous BAR */
        }
    }
    wb = bars[want];
    if (!wb.mem) {
        return false;
    }
    /* The wanted BAR first, aligned to its size: the window starts aligned. */
    next = ALIGN_UP(next, wb.size);
    pci_set_bar(d, want, &wb, next);
    *addr = next;
    *size = wb.size;
    *is64 = wb.is64;
    *prefetch = wb.prefetch;
    next += wb.size;
    for (unsigned i = 0; i < 6; i++) {
        if (i == want || !bars[i].mem) {
            continue;
        }
        next = ALIGN_UP(next, bars[i].size);
        if (next + bars[i].size > VIRT_PCIE_MMIO_END) {
            return false;
        }
        pci_set_bar(d, i, &bars[i], next);
        next += bars[i].size;
    }
    if (*addr + *size > VIRT_PCIE_MMIO_END) {
        return false;
    }
    mmio_write32(d->cfg + PCI_COMMAND, cmd | PCI_COMMAND_MEMORY);
    return true;
}
