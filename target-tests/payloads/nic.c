/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nic: barlab-nic's inline path and the write-combining self-test through
 * real TCG.  Runs at EL2 with its own stage-1 MMU (no stage 2), like
 * gather.c: RAM Normal-WB (identity), BAR0 Device-nGnRE, and BAR2's push
 * pages twice, Normal-NC (identity) and a Device-nGnRE alias.  Then:
 *
 *   inline-str  map=nc   8 STRs to page 1 slot 0 (0x1040) -> inline
 *   inline-stp  map=nc   4 STPs to page 2 slot 0 (0x2040) -> inline
 *   dev-str     map=dev  8 STRs to page 3 slot 0 (0x3040) -> fallback
 *   dev-stp     map=dev  4 STPs to page 4 slot 0 (0x4040) -> fallback
 *   wc-selftest map=nc   pages 5 (0x5040/0x5080), map=dev page 6
 *
 * Every SEND carries the same ARP request for 10.0.2.2 (slirp's gateway)
 * inline; slirp answers it and the answers land in the RX ring.
 * docs/specs/barlab-nic.rst is the spec; tests/e2e/test_nic_e2e.py checks the
 * lines printed here, the pcap and the device trace.
 */
#include "nicdev.h"

#define TX_ENTRIES 64
#define CQ_ENTRIES 64
#define RX_ENTRIES 8
#define RX_BUF 2048
#define WC_NOPS 16
#define FRAME_LEN ARP_FRAME_LEN

static u8 tx_ring[TX_ENTRIES][64] __attribute__((aligned(4096)));
static struct cqe cq_ring[CQ_ENTRIES] __attribute__((aligned(4096)));
static struct rxd rx_ring[RX_ENTRIES] __attribute__((aligned(4096)));
static u8 rx_bufs[RX_ENTRIES][RX_BUF] __attribute__((aligned(4096)));

static u64 push_nc, push_dev;   /* BAR2: Normal-NC, Device-nGnRE */
static u8 mac[6];
static u8 frame[FRAME_LEN];
static unsigned tx_prod, cq_cons, rx_cons;
static int failures;

void main_el1(void)
{
    abort_test("nic runs at EL2 only");
}

/* The same as four STPs of two 8-byte registers. */
static void push_stp(u64 slot, const u64 *d)
{
    asm volatile("stp %1, %2, [%0, #0]\n\t"
                 "stp %3, %4, [%0, #16]\n\t"
                 "stp %5, %6, [%0, #32]\n\t"
                 "stp %7, %8, [%0, #48]\n\t"
                 "dsb sy"
                 : : PUSH_INPUTS(slot, d) : "memory");
}

/* The ring copy, made visible before the push copy (as a driver does). */
static void ring_put(const u64 *d)
{
    memcpy(tx_ring[tx_prod], d, 64);
    asm volatile("dsb sy" : : : "memory");
    tx_prod = (tx_prod + 1) % TX_ENTRIES;
}

/* Start TX and completion rings over at entry 0 (phase 1). */
static void rings_restart(void)
{
    memset(tx_ring, 0, sizeof(tx_ring));
    memset(cq_ring, 0, sizeof(cq_ring));
    asm volatile("dsb sy" : : : "memory");
    nic_set_ring(REG_TX_BASE_LO, (u64)(uintptr_t)tx_ring, TX_ENTRIES);
    nic_set_ring(REG_CQ_BASE_LO, (u64)(uintptr_t)cq_ring, CQ_ENTRIES);
    tx_prod = cq_cons = 0;
}

/* The next completion (phase 1: the rings never wrap here), or NULL. */
static volatile struct cqe *cq_next(void)
{
    volatile struct cqe *c = &cq_ring[cq_cons];

    for (unsigned spin = 0; spin < 1000000; spin++) {
        if (c->flags & CQE_PHASE) {
            cq_cons++;
            wr(REG_CQ_HEAD, cq_cons % CQ_ENTRIES);
            return c;
        }
    }
    return NULL;
}

/* One inline SEND of the ARP frame through @slot; print what happened. */
static void send_case(const char *name, const char *map, u64 slot, bool stp,
                      bool want_inline)
{
    u64 d[8];
    u64 inl = counter(REG_CNT(CNT_TX_INLINE)), fb = counter(REG_CNT(CNT_TX_FALLBACK));
    u64 frames = counter(REG_CNT(CNT_TX_FRAMES));
    volatile struct cqe *c;
    unsigned index = tx_prod;
    bool ok;

    nic_make_desc(d, OP_SEND, DFLAG_COMPLETION | DFLAG_INLINE_DATA, index, FRAME_LEN,
              0xc0de0000u | index, frame);
    ring_put(d);
    if (stp) {
        push_stp(slot, d);
    } else {
        push_str(slot, d);
    }
    c = cq_next();
    inl = counter(REG_CNT(CNT_TX_INLINE)) - inl;
    fb = counter(REG_CNT(CNT_TX_FALLBACK)) - fb;
    frames = counter(REG_CNT(CNT_TX_FRAMES)) - frames;
    printf("nic: case=%s map=%s index=%u inline=%llu fallback=%llu "
           "frames=%llu cqe=%s cqe-index=%u cqe-inline=%u cqe-status=%u "
           "head=%u\n", name, map, index, (unsigned long long)inl,
           (unsigned long long)fb, (unsigned long long)frames,
           c ? "yes" : "none", c ? c->index : 0,
           c ? c->flags & CQE_INLINE : 0, c ? c->status : 0, rd(REG_TX_HEAD));
    ok = c && c->index == index && c->status == 0 && frames == 1 &&
         (c->flags & CQE_INLINE) == want_inline &&
         inl == want_inline && fb == !want_inline;
    report(ok, "%s through %s: %s", name, map,
           want_inline ? "inline" : "fallback");
    failures += !ok;
}

/*
 * mlx5's check: N NOPs in the ring, completion only on the last; each
 * copied to a push slot with the completion flag.  The first completion
 * says whether the copies arrived whole.
 */
static void wc_selftest(const char *map, u64 page, bool want_works)
{
    u64 d[8];
    volatile struct cqe *c;
    const char *result;
    unsigned first_index, first_inline, n = 0;

    rings_restart();
    for (unsigned i = 0; i < WC_NOPS; i++) {
        nic_make_desc(d, OP_NOP, i == WC_NOPS - 1 ? DFLAG_COMPLETION : 0, i, 0,
                  0x5e1f0000u | i, NULL);
        ring_put(d);
        ((u8 *)d)[1] = DFLAG_COMPLETION;
        push_str(page + 0x40 + 64 * (i % 2), d);
    }
    c = cq_next();
    if (!c) {
        result = "no-completion";
        first_index = first_inline = 0;
    } else {
        first_index = c->index;
        first_inline = c->flags & CQE_INLINE;
        n = 1;
        if (first_index == 0 && first_inline) {
            result = "works";
        } else if (first_index == WC_NOPS - 1 && !first_inline) {
            result = "does-not-work";
        } else {
            result = "inconclusive";
        }
    }
    while (cq_cons < WC_NOPS && cq_ring[cq_cons].flags & CQE_PHASE) {
        cq_next();
        n++;
    }
    printf("wc-selftest map=%s result=%s first-index=%u first-inline=%u "
           "completions=%u\n", map, result, first_index, first_inline, n);
    printf("wc-selftest: %s\n", !strncmp(result, "works", 6) ? "works" :
           !strncmp(result, "does-not-work", 14) ? "does not work" : result);
    report(!strncmp(result, want_works ? "works" : "does-not-work", 14),
           "wc-selftest through %s", map);
    failures += strncmp(result, want_works ? "works" : "does-not-work", 14) != 0;
}

static void rx_setup(void)
{
    memset(rx_ring, 0, sizeof(rx_ring));
    for (unsigned i = 0; i < RX_ENTRIES; i++) {
        rx_ring[i].addr = (u64)(uintptr_t)rx_bufs[i];
        rx_ring[i].buf_len = RX_BUF;
    }
    asm volatile("dsb sy" : : : "memory");
    nic_set_ring(REG_RX_BASE_LO, (u64)(uintptr_t)rx_ring, RX_ENTRIES);
    wr(REG_RX_TAIL, RX_ENTRIES - 1);
}

/* Count the ARP replies from 10.0.2.2 to us that arrived. */
static void rx_check(void)
{
    unsigned frames = 0, replies = 0;

    for (unsigned spin = 0; spin < 2000000 && rx_cons < RX_ENTRIES - 1;
         spin++) {
        volatile struct rxd *r = &rx_ring[rx_cons];
        const u8 *b = rx_bufs[rx_cons];

        if (!(r->flags & RXD_DONE)) {
            continue;
        }
        frames++;
        if (nic_is_arp_reply(b, r->len, mac)) {
            replies++;
        }
        rx_cons++;
        if (rx_cons == 4) {
            break;              /* one answer per ARP request sent */
        }
    }
    printf("nic: rx frames=%u arp-replies=%u rx-counter=%llu\n", frames,
           replies, (unsigned long long)counter(REG_CNT(CNT_RX_FRAMES)));
    report(replies >= 1, "slirp answered the ARP request into the RX ring");
}

void main_el2(void)
{
    const void *fdt = fdt_find();
    u64 ecam = fdt_reg_of(fdt, "pci-host-ecam-generic");
    u64 bar2, size, bar0, *root;
    bool is64, pref;
    struct pci_dev dev;
    u32 status;

    require_el2("");
    if (!ecam || !pci_find(ecam, BARLAB_NIC_VENDOR_ID, BARLAB_NIC_DEVICE_ID, &dev) ||
        !pci_assign_bars(&dev, BARLAB_NIC_PUSH_BAR, &bar2, &size, &is64, &pref)) {
        abort_test("no barlab-nic push BAR");
    }
    /* pci_assign_bars placed BAR0 too: read where from config space */
    bar0 = mmio_read32(dev.cfg + 0x10) & ~0xful;
    /* the rings and buffers are read and written by DMA: bus master */
    mmio_write32(dev.cfg + 0x04, mmio_read32(dev.cfg + 0x04) | 0x4);
    if (!bar0 || size < 7 * SZ_4K) {
        abort_test("barlab-nic: BAR0 0x%llx, push BAR of 0x%llx bytes",
                   (unsigned long long)bar0, (unsigned long long)size);
    }

    root = pt_alloc();
    pt_map(root, VIRT_RAM, VIRT_RAM, SZ_1G,
           S1_ATTRIDX(IDX_RAM) | PT_SH(3) | PT_AF | S1_EL2_AP1);
    pt_map(root, VIRT_UART, VIRT_UART, SZ_2M,
           S1_ATTRIDX(IDX_DEV) | PT_AF | S1_EL2_AP1 | S1_UXN);
    pt_map(root, bar2 & ~(SZ_2M - 1), bar2 & ~(SZ_2M - 1), SZ_2M,
           S1_ATTRIDX(IDX_NC) | PT_AF | S1_EL2_AP1 | S1_UXN);
    pt_map(root, DEV_ALIAS, bar2 & ~(SZ_2M - 1), SZ_2M,
           S1_ATTRIDX(IDX_DEV) | PT_AF | S1_EL2_AP1 | S1_UXN);
    pt_map(root, REGS_ALIAS, bar0 & ~(SZ_2M - 1), SZ_2M,
           S1_ATTRIDX(IDX_DEV) | PT_AF | S1_EL2_AP1 | S1_UXN);
    el2_mmu_enable(root, MAIR_VALUE);

    regs = REGS_ALIAS + (bar0 & (SZ_2M - 1));
    push_nc = bar2;
    push_dev = DEV_ALIAS + (bar2 & (SZ_2M - 1));
    if (rd(REG_ID) != BARLAB_NIC_ID) {
        abort_test("barlab-nic ID 0x%x", rd(REG_ID));
    }
    printf("nic: bar0=0x%llx bar2=0x%llx push-size=0x%llx\n",
           (unsigned long long)bar0, (unsigned long long)bar2,
           (unsigned long long)size);

    wr(REG_CTRL, CTRL_RESET);
    nic_read_mac(mac);
    nic_arp_request(frame, mac);
    rx_setup();
    rings_restart();
    wr(REG_CTRL, CTRL_ENABLE);

    send_case("inline-str", "nc", push_nc + 0x1040, false, true);
    send_case("inline-stp", "nc", push_nc + 0x2040, true, true);
    send_case("dev-str", "dev", push_dev + 0x3040, false, false);
    send_case("dev-stp", "dev", push_dev + 0x4040, true, false);

    wc_selftest("nc", push_nc + 0x5000, true);
    wc_selftest("dev", push_dev + 0x6000, false);

    rx_check();

    status = rd(REG_STATUS);
    printf("nic: status=0x%x errors=%llu tx-frames=%llu tx-inline=%llu "
           "tx-fallback=%llu tx-nops=%llu completions=%llu\n", status,
           (unsigned long long)counter(REG_CNT(CNT_ERRORS)),
           (unsigned long long)counter(REG_CNT(CNT_TX_FRAMES)),
           (unsigned long long)counter(REG_CNT(CNT_TX_INLINE)),
           (unsigned long long)counter(REG_CNT(CNT_TX_FALLBACK)),
           (unsigned long long)counter(REG_CNT(CNT_TX_NOPS)),
           (unsigned long long)counter(REG_CNT(CNT_COMPLETIONS)));
    report(status == 0 && counter(REG_CNT(CNT_ERRORS)) == 0,
           "no device errors");
    report_summary();
    printf("nic-done failures=%d\n", failures);
    system_off();
}
