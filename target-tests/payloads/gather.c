/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gather: write gathering through real TCG.  Runs at EL2 with its own
 * stage-1 MMU (no stage 2), maps barlab-gpu's VRAM twice, Normal-NC and
 * Device-nGnRE, and makes three bursts of eight 8-byte stores:
 *
 *   +0x000  Normal-NC                 -> one 64-byte transaction
 *   +0x100  Device-nGnRE              -> eight 8-byte transactions
 *   +0x200  Normal-NC, DMB after four -> two 32-byte transactions
 *
 * tests/e2e/test_qemu_gather.py checks what barlab-gpu's trace recorded.
 */
#include "libpl.h"
#include "barlab-gpu.h"

/* MAIR_EL2 slots */
#define IDX_RAM 0       /* Normal WB RAWA */
#define IDX_DEV 1       /* Device-nGnRE: the UART and the Device alias */
#define IDX_NC 2        /* Normal-NC */
#define MAIR_VALUE (0xfful | 0x04ul << 8 | 0x44ul << 16)

/* The Device-nGnRE alias of the BAR, in otherwise unused VA space. */
#define DEV_ALIAS 0x80000000ul


void main_el1(void)
{
    abort_test("gather runs at EL2 only");
}

/* Eight stores of one burst, data naming the burst and the store. */
static void burst(u64 base, unsigned tag, bool dmb_midway)
{
    for (unsigned i = 0; i < 8; i++) {
        if (dmb_midway && i == 4) {
            asm volatile("dmb sy" : : : "memory");
        }
        *(volatile u64 *)(base + 8 * i) = 0xba5e000000000000ull |
                                          (u64)tag << 8 | i;
    }
    asm volatile("dsb sy" : : : "memory");
}

void main_el2(void)
{
    const void *fdt = fdt_find();
    u64 ecam = fdt_reg_of(fdt, "pci-host-ecam-generic");
    u64 bar, size, *root;
    bool is64, pref;
    struct pci_dev dev;

    require_el2("");
    if (!ecam || !pci_find(ecam, GPU_VENDOR_ID, GPU_DEVICE_ID, &dev) ||
        !pci_assign_bars(&dev, GPU_VRAM_BAR, &bar, &size, &is64, &pref)) {
        abort_test("no barlab-gpu VRAM BAR");
    }
    root = pt_alloc();
    pt_map(root, VIRT_RAM, VIRT_RAM, SZ_1G,
           S1_ATTRIDX(IDX_RAM) | PT_SH(3) | PT_AF | S1_EL2_AP1);
    pt_map(root, VIRT_UART, VIRT_UART, SZ_2M,
           S1_ATTRIDX(IDX_DEV) | PT_AF | S1_EL2_AP1 | S1_UXN);
    pt_map(root, bar, bar, SZ_2M,
           S1_ATTRIDX(IDX_NC) | PT_AF | S1_EL2_AP1 | S1_UXN);
    pt_map(root, DEV_ALIAS, bar, SZ_2M,
           S1_ATTRIDX(IDX_DEV) | PT_AF | S1_EL2_AP1 | S1_UXN);
    el2_mmu_enable(root, MAIR_VALUE);

    burst(bar + 0x000, 1, false);
    burst(DEV_ALIAS + 0x100, 2, false);
    burst(bar + 0x200, 3, true);
    printf("gather-done bar=0x%llx\n", (unsigned long long)bar);
    system_off();
}
