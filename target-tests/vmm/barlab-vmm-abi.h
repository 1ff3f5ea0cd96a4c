/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What barlab-vmm and an L2 payload agree on: the guest-physical memory
 * map, the boot-information block whose address arrives in x0, and the
 * ucall channel.  Shared by the VMM (hosted, glibc) and the payload
 * library (freestanding): fixed-width types only.  README.md beside this
 * file describes the ABI; bump BARLAB_BOOT_VERSION on any change.
 */
#ifndef BARLAB_VMM_ABI_H
#define BARLAB_VMM_ABI_H

#include <stdint.h>

/*
 * The L2 memory map mirrors QEMU's -M virt where the payloads already
 * look: a PL011 data register at 0x09000000, passed-through BARs in virt's
 * 32-bit PCI MMIO window, RAM from 0x40000000 (payloads link at +2 MiB).
 * The ucall page shares the UART's 2 MiB block, so a payload that maps the
 * UART with one block descriptor can make ucalls too.
 */
#define BARLAB_L2_UART 0x09000000ull
#define BARLAB_L2_UCALL 0x09100000ull
#define BARLAB_L2_BAR_WINDOW 0x10000000ull
#define BARLAB_L2_BAR_WINDOW_END 0x3f000000ull
#define BARLAB_L2_RAM 0x40000000ull
/* The boot-information block: the first bytes of RAM. */
#define BARLAB_L2_BOOT_INFO BARLAB_L2_RAM

#define BARLAB_BOOT_MAGIC 0x31544f4f42424c42ull    /* "BLBBOOT1", little-endian */
#define BARLAB_BOOT_VERSION 3
#define BARLAB_BOOT_MAX_BARS 12
#define BARLAB_BOOT_ARGS_LEN 512

/* barlab_boot_bar.flags */
#define BARLAB_BAR_64 (1u << 0)         /* a 64-bit memory BAR */
#define BARLAB_BAR_PREFETCH (1u << 1)   /* prefetchable */
#define BARLAB_BAR_MEMSLOT (1u << 2)    /* mmapped into a KVM memory slot;
                                         * else every access exits to the
                                         * VMM, which forwards it to VFIO */

struct barlab_boot_bar {
    uint64_t ipa;               /* guest-physical address, aligned to
                                 * max(size, 2 MiB) */
    uint64_t size;              /* bytes */
    uint16_t vendor, device;
    uint32_t bdf;               /* the host's: domain << 16 | bus << 8 |
                                 * device << 3 | function */
    uint32_t index;             /* BAR number, 0..5 */
    uint32_t flags;             /* BARLAB_BAR_* */
};

struct barlab_boot_info {
    uint64_t magic;             /* BARLAB_BOOT_MAGIC */
    uint32_t version;           /* BARLAB_BOOT_VERSION */
    uint32_t size;              /* sizeof(struct barlab_boot_info) */
    uint64_t ram_base, ram_size;
    uint64_t uart;              /* PL011 base */
    uint64_t ucall;             /* ucall page, 0 if there is none */
    uint32_t nr_cpus;
    uint32_t nr_bars;
    /*
     * With barlab-vmm --l1-canary: an L1 *physical* address (not a guest
     * address) of l1_canary_size bytes of L1 memory that hold a known
     * pattern and are not mapped for the devices' DMA, where a DMA to the
     * IOVA l1_canary would land without an IOMMU.  0: none.
     */
    uint64_t l1_canary, l1_canary_size;
    struct barlab_boot_bar bars[BARLAB_BOOT_MAX_BARS];
    char args[BARLAB_BOOT_ARGS_LEN];    /* "key=value ...", NUL-terminated */
};

/*
 * A ucall: the guest fills a struct barlab_ucall in RAM and stores its
 * guest-physical address with one aligned 8-byte STR to BARLAB_L2_UCALL.
 * The store exits to the VMM (no memory slot there), which reads the
 * struct from guest RAM and acts before the vCPU runs on.
 */
enum barlab_ucall_cmd {
    BARLAB_UCALL_REPORT = 1,    /* args[0]: 1 pass, 0 fail; msg: what */
    BARLAB_UCALL_SUMMARY = 2,   /* args[0]: tests, args[1]: failures */
    BARLAB_UCALL_ABORT = 3,     /* msg: why the payload gave up */
    BARLAB_UCALL_EXCEPTION = 4, /* an exception no handler claimed:
                                 * args[0..6]: EL, vector (0..15), ESR,
                                 * FAR, ELR, SPSR, HPFAR (EL2 only) */
    BARLAB_UCALL_CELL_BEGIN = 5, /* a test cell starts: msg: its name;
                                 * args[0], args[1]: the first byte and one
                                 * past the last byte of BAR args[2] (the
                                 * boot bar index) that it may touch;
                                 * args[3]: the byte its own offsets count
                                 * from (all offsets in the BAR) */
    BARLAB_UCALL_CELL_END = 6,  /* it ended: msg: its name; args[0]: 0 it
                                 * completed, 1 it took a synchronous
                                 * exception; then the EL that took it, its
                                 * ESR and FAR; args[4]: the cell's status
                                 * value (a Store-Exclusive's, else 0) */
    BARLAB_UCALL_VALUES = 7,    /* named results: msg: "NAME KEY..." (up
                                 * to 7 keys, [A-Za-z0-9_-]); args[i]: the
                                 * value of the i-th key */
};

#define BARLAB_UCALL_MSG_LEN 192

struct barlab_ucall {
    uint64_t cmd;               /* enum barlab_ucall_cmd */
    uint64_t args[7];
    char msg[BARLAB_UCALL_MSG_LEN];     /* NUL-terminated */
};

_Static_assert(sizeof(struct barlab_boot_bar) == 32, "boot bar layout");
_Static_assert(sizeof(struct barlab_boot_info) == 72 + 32 * BARLAB_BOOT_MAX_BARS +
               BARLAB_BOOT_ARGS_LEN, "boot info layout");
_Static_assert(sizeof(struct barlab_ucall) == 64 + BARLAB_UCALL_MSG_LEN,
               "ucall layout");

#endif /* BARLAB_VMM_ABI_H */
