/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nicbench: send N identical frames through one TX path, for
 * barlab.bench.nic_frames.  Runs at EL2 with its own stage 1, like nic.c:
 * RAM Normal-WB, BAR0 Device-nGnRE, barlab-nic's push pages Normal-NC
 * (identity) and through a Device-nGnRE alias.
 *
 *   -append "path=inline   frames=N"  barlab-nic: 8 STRs per frame to a
 *                                      Normal-NC push slot (one 64-byte
 *                                      transaction: executed inline)
 *   -append "path=fallback frames=N"  the same 8 STRs through the
 *                                      Device-nGnRE alias (the first rings
 *                                      the doorbell, the descriptor is
 *                                      fetched from the ring by DMA)
 *   -append "path=e1000    frames=N"  QEMU's e1000 (8086:100e), legacy TX
 *                                      descriptors, one TDT write a frame
 *
 * The frame is nic.c's ARP request for 10.0.2.2, 42 bytes: barlab-nic's
 * inline data holds at most 48, so a 60-byte frame could not go inline.
 * Completions (barlab-nic) are requested every BATCH frames, only to
 * recycle the ring.  Prints "nicbench-done path=P frames=N sent=S" and
 * powers off; "nicbench-error ..." on any failure.
 */
#include "nicdev.h"

/* e1000 (82540EM) */
#define E1K_VENDOR 0x8086
#define E1K_DEVICE 0x100e
#define E1K_CTRL 0x0000
#define E1K_CTRL_RST (1u << 26)
#define E1K_TCTL 0x0400
#define E1K_TCTL_EN (1u << 1)
#define E1K_TCTL_PSP (1u << 3)
#define E1K_TDBAL 0x3800
#define E1K_TDBAH 0x3804
#define E1K_TDLEN 0x3808
#define E1K_TDH 0x3810
#define E1K_TDT 0x3818
#define E1K_TPT 0x40d4                  /* total packets sent, read to clear */
#define E1K_CMD_EOP 0x01
#define E1K_CMD_IFCS 0x02
#define E1K_CMD_RS 0x08
#define E1K_STA_DD 0x01

#define TX_ENTRIES 256
#define BATCH 64                        /* a completion every BATCH frames */
#define CQ_ENTRIES 16
#define FRAME_LEN 42
#define SPIN 10000000u

struct e1k_txd {
    u64 addr;
    u16 len;
    u8 cso, cmd, status, css;
    u16 special;
};

static u8 tx_ring[TX_ENTRIES][64] __attribute__((aligned(4096)));
static struct cqe cq_ring[CQ_ENTRIES] __attribute__((aligned(4096)));
static struct e1k_txd e1k_ring[TX_ENTRIES] __attribute__((aligned(4096)));
static u8 frame[64] __attribute__((aligned(64)));
static u8 mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

void main_el1(void)
{
    abort_test("nicbench runs at EL2 only");
}

/* nic.c's ARP request for 10.0.2.2 from 10.0.2.15. */
static void build_frame(void)
{
    u8 *f = frame;

    memset(f, 0xff, 6);
    memcpy(f + 6, mac, 6);
    f[12] = 0x08, f[13] = 0x06;
    f[14] = 0x00, f[15] = 0x01;
    f[16] = 0x08, f[17] = 0x00;
    f[18] = 6, f[19] = 4;
    f[20] = 0x00, f[21] = 0x01;
    memcpy(f + 22, mac, 6);
    f[28] = 10, f[29] = 0, f[30] = 2, f[31] = 15;
    memset(f + 32, 0, 6);
    f[38] = 10, f[39] = 0, f[40] = 2, f[41] = 2;
}

/* Map RAM, the UART and BAR0 (Device-nGnRE at REGS_ALIAS); push BAR too. */
static void mmu_on(u64 bar0, u64 bar2)
{
    u64 *root = pt_alloc();

    pt_map(root, VIRT_RAM, VIRT_RAM, SZ_1G,
           S1_ATTRIDX(IDX_RAM) | PT_SH(3) | PT_AF | S1_EL2_AP1);
    pt_map(root, VIRT_UART, VIRT_UART, SZ_2M,
           S1_ATTRIDX(IDX_DEV) | PT_AF | S1_EL2_AP1 | S1_UXN);
    pt_map(root, REGS_ALIAS, bar0 & ~(SZ_2M - 1), SZ_2M,
           S1_ATTRIDX(IDX_DEV) | PT_AF | S1_EL2_AP1 | S1_UXN);
    if (bar2) {
        pt_map(root, bar2 & ~(SZ_2M - 1), bar2 & ~(SZ_2M - 1), SZ_2M,
               S1_ATTRIDX(IDX_NC) | PT_AF | S1_EL2_AP1 | S1_UXN);
        pt_map(root, DEV_ALIAS, bar2 & ~(SZ_2M - 1), SZ_2M,
               S1_ATTRIDX(IDX_DEV) | PT_AF | S1_EL2_AP1 | S1_UXN);
    }
    el2_mmu_enable(root, MAIR_VALUE);
    regs = REGS_ALIAS + (bar0 & (SZ_2M - 1));
}

static void dev_setup(u16 vendor, u16 device, unsigned bar, u64 *bar0,
                      u64 *bar2)
{
    const void *fdt = fdt_find();
    u64 ecam = fdt_reg_of(fdt, "pci-host-ecam-generic"), addr, size;
    struct pci_dev dev;
    bool is64, pref;

    if (!ecam || !pci_find(ecam, vendor, device, &dev)) {
        abort_test("nicbench-error: no PCI device %04x:%04x", vendor, device);
    }
    if (!pci_assign_bars(&dev, bar, &addr, &size, &is64, &pref)) {
        abort_test("nicbench-error: no BAR%u on %04x:%04x", bar, vendor,
                   device);
    }
    *bar0 = mmio_read32(dev.cfg + 0x10) & ~0xful;
    *bar2 = bar == 2 ? addr : 0;
    /* the rings and buffers are DMA'd: bus master */
    mmio_write32(dev.cfg + 0x04, mmio_read32(dev.cfg + 0x04) | 0x4);
}

/* barlab-nic: every frame an inline SEND through @push's two slots. */
static u64 send_barlab(u64 frames, bool inline_path, u64 bar0, u64 bar2)
{
    u64 push, d[8];
    u8 *b = (u8 *)d;
    unsigned cq_cons = 0, phase = CQE_PHASE;
    u64 inl, fb, sent;
    u32 status;

    mmu_on(bar0, bar2);
    if (rd(REG_ID) != BARLAB_NIC_ID) {
        abort_test("nicbench-error: barlab-nic ID 0x%x", rd(REG_ID));
    }
    push = inline_path ? bar2 : DEV_ALIAS + (bar2 & (SZ_2M - 1));
    wr(REG_CTRL, CTRL_RESET);
    nic_read_mac(mac);
    build_frame();
    nic_set_ring(REG_TX_BASE_LO, (u64)(uintptr_t)tx_ring, TX_ENTRIES);
    nic_set_ring(REG_CQ_BASE_LO, (u64)(uintptr_t)cq_ring, CQ_ENTRIES);
    wr(REG_CTRL, CTRL_ENABLE);
    inl = counter(REG_CNT(CNT_TX_INLINE));
    fb = counter(REG_CNT(CNT_TX_FALLBACK));
    sent = counter(REG_CNT(CNT_TX_FRAMES));

    memset(d, 0, sizeof(d));
    b[0] = OP_SEND;
    b[4] = FRAME_LEN;
    memcpy(b + 16, frame, FRAME_LEN);
    for (u64 i = 0; i < frames; i++) {
        unsigned idx = i % TX_ENTRIES;

        /* reusing a BATCH of ring entries: its last user's completion */
        if (i >= TX_ENTRIES && idx % BATCH == 0) {
            volatile struct cqe *c = &cq_ring[cq_cons];
            unsigned spin = 0;

            while ((c->flags & CQE_PHASE) != phase) {
                if (++spin == SPIN) {
                    abort_test("nicbench-error: no completion at frame %llu "
                               "(tx-head %u status 0x%x)",
                               (unsigned long long)i, rd(REG_TX_HEAD),
                               rd(REG_STATUS));
                }
            }
            if (c->status) {
                abort_test("nicbench-error: completion status %u", c->status);
            }
            if (++cq_cons == CQ_ENTRIES) {
                cq_cons = 0;
                phase ^= CQE_PHASE;
            }
            wr(REG_CQ_HEAD, cq_cons);
        }
        b[1] = DFLAG_INLINE_DATA | (idx % BATCH == BATCH - 1 ? DFLAG_COMPLETION : 0);
        b[2] = idx & 0xff;
        b[3] = idx >> 8;
        d[1] = i;
        memcpy(tx_ring[idx], d, 64);
        dsb(sy);
        push_str(push + 0x1040 + 64 * (i & 1), d);
    }
    for (unsigned spin = 0; rd(REG_TX_HEAD) != frames % TX_ENTRIES; spin++) {
        if (spin == SPIN) {
            abort_test("nicbench-error: TX head %u, want %u", rd(REG_TX_HEAD),
                       (unsigned)(frames % TX_ENTRIES));
        }
    }
    inl = counter(REG_CNT(CNT_TX_INLINE)) - inl;
    fb = counter(REG_CNT(CNT_TX_FALLBACK)) - fb;
    sent = counter(REG_CNT(CNT_TX_FRAMES)) - sent;
    status = rd(REG_STATUS);
    printf("nicbench: tx-frames=%llu tx-inline=%llu tx-fallback=%llu "
           "errors=%llu status=0x%x\n", (unsigned long long)sent,
           (unsigned long long)inl, (unsigned long long)fb,
           (unsigned long long)counter(REG_CNT(CNT_ERRORS)), status);
    if (status || counter(REG_CNT(CNT_ERRORS)) ||
        (inline_path ? inl : fb) != frames) {
        abort_test("nicbench-error: the %s path ran %llu of %llu frames",
                   inline_path ? "inline" : "fallback",
                   (unsigned long long)(inline_path ? inl : fb),
                   (unsigned long long)frames);
    }
    return sent;
}

/* e1000: one legacy descriptor and one TDT write per frame. */
static u64 send_e1000(u64 frames, u64 bar0)
{
    u64 sent;

    mmu_on(bar0, 0);
    wr(E1K_CTRL, E1K_CTRL_RST);
    build_frame();
    memset(e1k_ring, 0, sizeof(e1k_ring));
    dsb(sy);
    (void)rd(E1K_TPT);
    wr(E1K_TDBAL, (u32)(uintptr_t)e1k_ring);
    wr(E1K_TDBAH, (u32)((u64)(uintptr_t)e1k_ring >> 32));
    wr(E1K_TDLEN, sizeof(e1k_ring));
    wr(E1K_TDH, 0);
    wr(E1K_TDT, 0);
    wr(E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP);
    for (u64 i = 0; i < frames; i++) {
        unsigned idx = i % TX_ENTRIES;
        volatile struct e1k_txd *t = &e1k_ring[idx];

        if (i >= TX_ENTRIES) {
            for (unsigned spin = 0; !(t->status & E1K_STA_DD); spin++) {
                if (spin == SPIN) {
                    abort_test("nicbench-error: e1000 descriptor %u not done "
                               "(TDH %u)", idx, rd(E1K_TDH));
                }
            }
        }
        t->addr = (u64)(uintptr_t)frame;
        t->len = FRAME_LEN;
        t->cso = t->css = 0;
        t->special = 0;
        t->status = 0;
        t->cmd = E1K_CMD_EOP | E1K_CMD_IFCS | E1K_CMD_RS;
        dsb(sy);
        wr(E1K_TDT, (idx + 1) % TX_ENTRIES);
    }
    for (unsigned spin = 0; rd(E1K_TDH) != frames % TX_ENTRIES; spin++) {
        if (spin == SPIN) {
            abort_test("nicbench-error: e1000 TDH %u, want %u", rd(E1K_TDH),
                       (unsigned)(frames % TX_ENTRIES));
        }
    }
    sent = rd(E1K_TPT);
    printf("nicbench: e1000 tpt=%llu\n", (unsigned long long)sent);
    if (sent != frames) {
        abort_test("nicbench-error: e1000 sent %llu of %llu frames",
                   (unsigned long long)sent, (unsigned long long)frames);
    }
    return sent;
}

void main_el2(void)
{
    const char *p = fdt_bootargs(fdt_find()), *end;
    const char *path = "inline";
    u64 frames = 20000, bar0, bar2, sent;

    require_el2("nicbench-error: ");
    while (p && *p) {
        if (*p == ' ') {
            p++;
        } else if (!strncmp(p, "frames=", 7)) {
            frames = strtou64(p + 7, &end);
            if (end == p + 7 || (*end && *end != ' ')) {
                abort_test("nicbench-error: bad number in '%s'", p);
            }
            p = end;
        } else if (!strncmp(p, "path=inline", 11) &&
                   (!p[11] || p[11] == ' ')) {
            path = "inline", p += 11;
        } else if (!strncmp(p, "path=fallback", 13) &&
                   (!p[13] || p[13] == ' ')) {
            path = "fallback", p += 13;
        } else if (!strncmp(p, "path=e1000", 10) &&
                   (!p[10] || p[10] == ' ')) {
            path = "e1000", p += 10;
        } else {
            abort_test("nicbench-error: unknown argument at '%s' (known: "
                       "frames=N path=inline|fallback|e1000)", p);
        }
    }
    printf("nicbench: path=%s frames=%llu\n", path,
           (unsigned long long)frames);
    if (path[0] == 'e') {
        dev_setup(E1K_VENDOR, E1K_DEVICE, 0, &bar0, &bar2);
        sent = send_e1000(frames, bar0);
    } else {
        dev_setup(BARLAB_NIC_VENDOR_ID, BARLAB_NIC_DEVICE_ID, 2, &bar0, &bar2);
        sent = send_barlab(frames, path[0] == 'i', bar0, bar2);
    }
    printf("nicbench-done path=%s frames=%llu sent=%llu\n", path,
           (unsigned long long)frames, (unsigned long long)sent);
    system_off();
}
