/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-fuzz: what the engine (barlab-fuzz.c) and the per-device
 * generators (barlab-fuzz-nic.c, barlab-fuzz-gpu.c) share.  Each device's
 * generator includes that device's register header from hw/barlab, so the
 * offsets the fuzzer writes are the ones the device decodes.
 */
#ifndef BARLAB_FUZZ_H
#define BARLAB_FUZZ_H

#include "standard-headers/linux/pci_regs.h"

/* -M virt: guest RAM at 1 GiB; the PCIe ECAM and 32-bit window libqos uses. */
#define RAM_BASE        0x40000000ULL
#define RAM_SIZE        (64ULL << 20)
#define RAM_END         (RAM_BASE + RAM_SIZE)
#define DMA_ZONE        (1ULL << 20)    /* zeroed before every input */
#define DMA_ZERO_PIECE  (64ULL << 10)   /* ... by qtest memsets this size */
#define ECAM_DEV        0x4010008000ULL /* 00:01.0, the first -device */
#define BAR0_BASE       0x10000000ULL
#define UART_BASE       0x09000000ULL
#define GIC_BASE        0x08000000ULL

#define CMD_MEM_MASTER  (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

#define FUZZ_MAX_COUNTERS 16

/* One input being generated. */
typedef struct Gen {
    uint64_t s;
    const struct FuzzDevice *dev;
    GPtrArray *lines;
    uint64_t bar0, bar2, bar2_size;
    uint64_t ring[3];       /* NIC: TX, RX, CQ bases as last programmed */
    unsigned ring_size[3];
    unsigned msix_cap, exp_cap;
} Gen;

/* A device the fuzzer drives. */
typedef struct FuzzDevice {
    const char *name;
    uint64_t bar2_base;             /* where inputs map BAR2 */
    uint64_t bar0_size;
    bool dma;                       /* it writes guest RAM: zero the zone */
    const char *const *configs;     /* -device lines, cycled through */
    /*
     * Read after every input: the low halves of the 64-bit counters at
     * BAR0 offset @counters, and (if @status_mask) whether STATUS had
     * those bits set.
     */
    unsigned counters, ncounters;
    const char *const *counter_names;
    unsigned status_reg;
    uint32_t status_mask;
    const char *status_name;
    const unsigned *regs;           /* named BAR0 registers */
    unsigned nregs;
    void (*prologue)(Gen *g);       /* a set-up that mostly works */
    void (*op)(Gen *g);             /* one random operation */
} FuzzDevice;

extern const FuzzDevice barlab_fuzz_nic, barlab_fuzz_gpu;

uint64_t rnd(Gen *g);
unsigned below(Gen *g, unsigned n);
uint64_t interesting(Gen *g);
uint64_t dma_addr(Gen *g, unsigned align);
void G_GNUC_PRINTF(2, 3) emit(Gen *g, const char *fmt, ...);
void emit_write(Gen *g, uint64_t addr, unsigned lg, uint64_t val);
void emit_read(Gen *g, uint64_t addr, unsigned lg);
void emit_bytes(Gen *g, uint64_t addr, const uint8_t *b, unsigned n);
void op_reg(Gen *g);
void op_config(Gen *g);
void op_clock(Gen *g);
unsigned arp_frame(uint8_t *f);

#endif /* BARLAB_FUZZ_H */
