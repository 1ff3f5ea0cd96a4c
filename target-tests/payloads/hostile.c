/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hostile: an L2 guest that aims barlab-nic's DMA where it must not go,
 * one that leaves barlab-nic and barlab-gpu as dirty as it can, and one
 * that looks at what it finds.  At EL1 under barlab-vmm only, with RAM
 * Normal-WB, the BARs' registers Device-nGnRE and their prefetchable BARs
 * Normal-NC (the push pages also through a Device-nGnRE alias).  mode=NAME:
 *
 *   dma    barlab-nic.  The TX ring, a TX frame buffer, the completion
 *          ring and an RX buffer, one at a time, at an IOVA the VMM did
 *          not map for DMA: the page of L1 memory barlab-vmm --l1-canary
 *          gave (where the DMA would land without an IOMMU; without the
 *          option, the first byte past guest RAM).  Each must fail in the
 *          SMMU: the device counts it in DMA_ERRORS, sets its STATUS bit
 *          and writes nothing.  Then a correct SEND (an ARP request for
 *          slirp's gateway) through a push page completes and the answer
 *          arrives in the RX ring: the NIC works on.  Canary bytes in the
 *          guest's own RAM must not change.
 *   dirty  both devices: barlab-nic enabled with rings, interrupt mask,
 *          STATUS bits, counters, slirp's answer to an ARP request waiting
 *          for an RX buffer, a descriptor held in a push slot and, last of
 *          all, half a descriptor in the push port's gather buffer;
 *          barlab-gpu with a mode, scanout on and a picture.
 *   probe  both devices: the state it finds (every register and counter
 *          a guest can read, a digest of the VRAM), then a fixed workload
 *          (NOPs through a push page and the ring, a SEND, a VRAM store) and the
 *          counters after it.  Run alone and after mode=dirty it must
 *          record the same: vfio-pci resets the device (FLR) when a VMM
 *          releases it and when the next one opens it.
 *
 * Every result is a structured VALUES record (barlab-vmm prints it as
 * JSON, target-tests/vmm/README.md), and each check a report();
 * tests/e2e/test_l1_isolation.py reads them.  docs/specs/barlab-nic.rst,
 * "DMA isolation and reset", is what this tests.
 */
#include "nicdev.h"
#include "barlab-gpu.h"


#define TX_ENTRIES 16
#define CQ_ENTRIES 16
#define RX_ENTRIES 4
#define RX_BUF 2048
#define TEST_FRAME_LEN 60
#define SPIN 20000000u

/* Where each hostile DMA aims in the unmapped page. */
#define BAD_TX_RING 0x000
#define BAD_TX_BUF 0x400
#define BAD_CQ 0x800
#define BAD_RX_BUF 0xc00

/* Push pages: the probe's, the dirty run's two, the DMA run's. */
#define PROBE_PAGE 0x1000
#define DIRTY_HOLD_PAGE 0x2000
#define DIRTY_HALF_PAGE 0x3000
#define DMA_PAGE 0x4000

/* barlab-gpu's VRAM as this test uses it */
#define GPU_DIGEST_BYTES 0x4000         /* the VRAM the dirty picture covers */
#define GPU_PROBE_LINE 0x10000          /* the probe's VRAM store */

static u8 tx_ring[TX_ENTRIES][64] __attribute__((aligned(4096)));
static struct cqe cq_ring[CQ_ENTRIES] __attribute__((aligned(4096)));
static struct rxd rx_ring[RX_ENTRIES] __attribute__((aligned(4096)));
static u8 rx_bufs[RX_ENTRIES][RX_BUF] __attribute__((aligned(4096)));
static u8 tx_buf[TEST_FRAME_LEN] __attribute__((aligned(64)));
static u8 l2_canary[16384] __attribute__((aligned(4096)));

static u64 push_nc, push_dev, gpu_regs, vram;
static u8 mac[6];
static unsigned tx_prod, cq_cons;

void main_el2(void)
{
    abort_test("hostile runs under barlab-vmm only (EL1)");
}

static u32 gpu_rd(u32 reg)
{
    return mmio_read32(gpu_regs + reg);
}

static void gpu_wr(u32 reg, u32 val)
{
    mmio_write32(gpu_regs + reg, val);
}

static u64 gpu_counter(u32 reg)
{
    u32 lo = gpu_rd(reg), hi = gpu_rd(reg + 4);

    return (u64)hi << 32 | lo;
}

/* The canary byte at @i: no two neighbours alike. */
static u8 canary_byte(unsigned i)
{
    return (u8)(0x5a ^ (i * 0x3b) ^ (i >> 7));
}

/*
 * A broadcast frame of an ethertype nobody answers (IEEE 802 local
 * experimental), so that no reply waits in the netdev for a later guest.
 */
static void test_frame(u8 *f)
{
    memset(f, 0xff, 6);
    memcpy(f + 6, mac, 6);
    f[12] = 0x88, f[13] = 0xb5;
    for (unsigned i = 14; i < TEST_FRAME_LEN; i++) {
        f[i] = (u8)i;
    }
}

/* Reset barlab-nic and start its rings in guest RAM, polled. */
static void nic_start(void)
{
    wr(REG_CTRL, CTRL_RESET);
    nic_read_mac(mac);
    memset(tx_ring, 0, sizeof(tx_ring));
    memset(cq_ring, 0, sizeof(cq_ring));
    memset(rx_ring, 0, sizeof(rx_ring));
    dsb(sy);
    nic_set_ring(REG_TX_BASE_LO, (u64)(uintptr_t)tx_ring, TX_ENTRIES);
    nic_set_ring(REG_CQ_BASE_LO, (u64)(uintptr_t)cq_ring, CQ_ENTRIES);
    nic_set_ring(REG_RX_BASE_LO, (u64)(uintptr_t)rx_ring, RX_ENTRIES);
    tx_prod = cq_cons = 0;
    wr(REG_CTRL, CTRL_ENABLE);
}

/* The ring copy of @d at the next position, made visible. */
static void ring_put(const u64 *d)
{
    memcpy(tx_ring[tx_prod % TX_ENTRIES], d, 64);
    dsb(sy);
    tx_prod++;
}

/* Post @d through the ring and ring BAR0's TX_TAIL; it has run on return. */
static void post_ring(u64 *d)
{
    ring_put(d);
    wr(REG_TX_TAIL, tx_prod % TX_ENTRIES);
    (void)rd(REG_TX_HEAD);      /* the doorbell's DMA is done once this reads */
}

/* The next completion, or NULL if none comes. */
static volatile struct cqe *cq_next(void)
{
    volatile struct cqe *c = &cq_ring[cq_cons % CQ_ENTRIES];

    for (unsigned spin = 0; spin < SPIN; spin++) {
        if (c->flags & CQE_PHASE) {
            cq_cons++;
            wr(REG_CQ_HEAD, cq_cons % CQ_ENTRIES);
            return c;
        }
    }
    return NULL;
}

static u32 cqe_status(volatile struct cqe *c)
{
    return c ? c->status : 0xffff;
}

/* ---- mode=dma ---------------------------------------------------------- */

/* What one case changed in the device's counters. */
struct snap {
    u64 dma_errors, errors, tx_frames, rx_frames, rx_dropped;
};

static void snap(struct snap *s)
{
    s->dma_errors = counter(REG_CNT(CNT_DMA_ERRORS));
    s->errors = counter(REG_CNT(CNT_ERRORS));
    s->tx_frames = counter(REG_CNT(CNT_TX_FRAMES));
    s->rx_frames = counter(REG_CNT(CNT_RX_FRAMES));
    s->rx_dropped = counter(REG_CNT(CNT_RX_DROPPED));
}

static void since(const struct snap *a, struct snap *d)
{
    snap(d);
    d->dma_errors -= a->dma_errors;
    d->errors -= a->errors;
    d->tx_frames -= a->tx_frames;
    d->rx_frames -= a->rx_frames;
    d->rx_dropped -= a->rx_dropped;
}

/* The device's TX ring in the unmapped page: the descriptor fetch fails. */
static void dma_tx_ring(u64 bad)
{
    struct snap a, d;
    u32 status, head;

    snap(&a);
    (void)rd(REG_STATUS);
    nic_set_ring(REG_TX_BASE_LO, bad + BAD_TX_RING, 4);
    wr(REG_TX_TAIL, 1);
    head = rd(REG_TX_HEAD);
    status = rd(REG_STATUS);
    since(&a, &d);
    ucall_values("dma-tx-ring dma-errors errors status head",
                 (u64[]){ d.dma_errors, d.errors, status, head }, 4);
    report(d.dma_errors == 1 && d.errors == 1 && status == STATUS_RING_ERROR && head == 0,
           "TX ring at an unmapped IOVA: the descriptor fetch fails (dma-errors +%llu, "
           "STATUS 0x%x, TX_HEAD %u)", (unsigned long long)d.dma_errors, status, head);
    nic_set_ring(REG_TX_BASE_LO, (u64)(uintptr_t)tx_ring, TX_ENTRIES);
    tx_prod = 0;
}

/* A SEND whose frame buffer is unmapped: an error completion, no frame. */
static void dma_tx_buffer(u64 bad)
{
    struct snap a, d;
    volatile struct cqe *c;
    u64 desc[8];
    u32 status;

    snap(&a);
    nic_make_desc(desc, OP_SEND, DFLAG_COMPLETION, tx_prod % TX_ENTRIES, TEST_FRAME_LEN,
                  0xbad0b0f, NULL);
    desc[2] = bad + BAD_TX_BUF;
    post_ring(desc);
    c = cq_next();
    status = rd(REG_STATUS);
    since(&a, &d);
    ucall_values("dma-tx-buffer dma-errors errors status tx-frames cqe-status",
                 (u64[]){ d.dma_errors, d.errors, status, d.tx_frames, cqe_status(c) }, 5);
    report(d.dma_errors == 1 && d.tx_frames == 0 && status == STATUS_TX_ERROR &&
           cqe_status(c) == CQE_DMA_ERROR,
           "TX buffer at an unmapped IOVA: no frame, completion status %u",
           cqe_status(c));
}

/* The completion ring unmapped: the frame goes, its completion does not. */
static void dma_completion(u64 bad)
{
    struct snap a, d;
    u64 desc[8];
    u32 status, tail;

    test_frame(tx_buf);
    snap(&a);
    nic_set_ring(REG_CQ_BASE_LO, bad + BAD_CQ, 4);
    nic_make_desc(desc, OP_SEND, DFLAG_COMPLETION, tx_prod % TX_ENTRIES, TEST_FRAME_LEN,
                  0xbad0c0e, NULL);
    desc[2] = (u64)(uintptr_t)tx_buf;
    post_ring(desc);
    tail = rd(REG_CQ_TAIL);
    status = rd(REG_STATUS);
    since(&a, &d);
    ucall_values("dma-completion dma-errors errors status tx-frames cq-tail",
                 (u64[]){ d.dma_errors, d.errors, status, d.tx_frames, tail }, 5);
    report(d.dma_errors == 1 && d.tx_frames == 1 && status == STATUS_CQ_ERROR && tail == 0,
           "completion ring at an unmapped IOVA: the frame left, the completion "
           "was dropped (CQ_TAIL %u)", tail);
    memset(cq_ring, 0, sizeof(cq_ring));
    dsb(sy);
    nic_set_ring(REG_CQ_BASE_LO, (u64)(uintptr_t)cq_ring, CQ_ENTRIES);
    cq_cons = 0;
}

/* Wait until RX_HEAD reaches @head; false if it does not. */
static bool rx_wait(u32 head)
{
    for (unsigned spin = 0; spin < SPIN; spin++) {
        if (rd(REG_RX_HEAD) == head) {
            return true;
        }
    }
    return false;
}

/* An ARP request through the ring, with a completion; its status. */
static u32 send_arp_ring(void)
{
    u8 arp[ARP_FRAME_LEN];
    u64 desc[8];

    nic_arp_request(arp, mac);
    nic_make_desc(desc, OP_SEND, DFLAG_COMPLETION | DFLAG_INLINE_DATA, tx_prod % TX_ENTRIES,
                  ARP_FRAME_LEN, 0xa5, arp);
    post_ring(desc);
    return cqe_status(cq_next());
}

/* slirp's ARP reply to an RX buffer that is unmapped: dropped, counted. */
static void dma_rx_buffer(u64 bad)
{
    struct snap a, d;
    u32 sent, status, flags;
    bool arrived;

    rx_ring[0].addr = bad + BAD_RX_BUF;
    rx_ring[0].buf_len = RX_BUF;
    dsb(sy);
    wr(REG_RX_TAIL, 1);
    snap(&a);
    sent = send_arp_ring();
    arrived = rx_wait(1);
    flags = ((volatile struct rxd *)&rx_ring[0])->flags;
    status = rd(REG_STATUS);
    since(&a, &d);
    ucall_values("dma-rx-buffer dma-errors errors status rx-frames rx-dropped rxd-flags",
                 (u64[]){ d.dma_errors, d.errors, status, d.rx_frames, d.rx_dropped, flags },
                 6);
    report(sent == 0 && arrived && d.dma_errors == 1 && d.rx_frames == 0 &&
           d.rx_dropped == 1 && status == STATUS_RX_ERROR && flags == (RXD_DONE | RXD_ERROR),
           "RX buffer at an unmapped IOVA: slirp's reply dropped (RX flags 0x%x)", flags);
}

/*
 * After all that, a correct post: an ARP request through a push page (the
 * ring copy first, as a driver does), completed, and slirp's reply in a
 * good RX buffer.
 */
static void dma_recovers(void)
{
    struct snap a, d;
    u8 arp[ARP_FRAME_LEN];
    volatile struct cqe *c;
    u64 desc[8];
    bool reply;

    rx_ring[1].addr = (u64)(uintptr_t)rx_bufs[1];
    rx_ring[1].buf_len = RX_BUF;
    dsb(sy);
    wr(REG_RX_TAIL, 2);
    (void)rd(REG_STATUS);
    snap(&a);
    nic_arp_request(arp, mac);
    nic_make_desc(desc, OP_SEND, DFLAG_COMPLETION | DFLAG_INLINE_DATA, tx_prod % TX_ENTRIES,
                  ARP_FRAME_LEN, 0x600d, arp);
    ring_put(desc);
    push_str(push_nc + DMA_PAGE + 0x40, desc);
    c = cq_next();
    reply = rx_wait(2) &&
            nic_is_arp_reply(rx_bufs[1], ((volatile struct rxd *)&rx_ring[1])->len, mac);
    since(&a, &d);
    ucall_values("dma-recovers dma-errors errors status tx-frames cqe-status rx-frames "
                 "arp-reply",
                 (u64[]){ d.dma_errors, d.errors, rd(REG_STATUS), d.tx_frames, cqe_status(c),
                          d.rx_frames, reply }, 7);
    report(d.dma_errors == 0 && d.errors == 0 && d.tx_frames == 1 && cqe_status(c) == 0 &&
           d.rx_frames == 1 && reply,
           "a correct SEND afterwards completes and slirp's reply arrives");
}

static void mode_dma(void)
{
    u64 bad = boot_info->l1_canary;
    unsigned changed = 0;

    if (!bad) {
        bad = boot_info->ram_base + boot_info->ram_size;
    }
    for (unsigned i = 0; i < sizeof(l2_canary); i++) {
        l2_canary[i] = canary_byte(i);
    }
    nic_start();
    ucall_values("dma-target iova l1-canary", (u64[]){ bad, boot_info->l1_canary != 0 }, 2);
    dma_tx_ring(bad);
    dma_tx_buffer(bad);
    dma_completion(bad);
    dma_rx_buffer(bad);
    dma_recovers();
    for (unsigned i = 0; i < sizeof(l2_canary); i++) {
        changed += l2_canary[i] != canary_byte(i);
    }
    ucall_values("l2-canary size changed", (u64[]){ sizeof(l2_canary), changed }, 2);
    report(!changed, "the canary in guest RAM is unchanged (%u bytes differ)", changed);
    wr(REG_CTRL, CTRL_RESET);
}

/* ---- mode=dirty ---------------------------------------------------------- */

static void mode_dirty(void)
{
    u64 desc[8];
    u8 arp[ARP_FRAME_LEN];

    /* barlab-gpu: a 64 x 48 XRGB8888 mode, scanout on, a picture */
    gpu_wr(GPU_REG_FORMAT, 0);
    gpu_wr(GPU_REG_WIDTH, 64);
    gpu_wr(GPU_REG_HEIGHT, 48);
    gpu_wr(GPU_REG_STRIDE, 256);
    gpu_wr(GPU_REG_OFFSET_LO, 0);
    gpu_wr(GPU_REG_OFFSET_HI, 0);
    gpu_wr(GPU_REG_CTRL, 1);
    for (unsigned i = 0; i < 64 * 48; i++) {
        ((volatile u32 *)vram)[i] = 0xff000000u | i * 0x010305u;
    }
    dsb(sy);
    ucall_values("dirty-gpu ctrl status width height accesses txns",
                 (u64[]){ gpu_rd(GPU_REG_CTRL), gpu_rd(GPU_REG_STATUS), gpu_rd(GPU_REG_WIDTH),
                          gpu_rd(GPU_REG_HEIGHT), gpu_counter(GPU_REG_CNT(GPU_CNT_ACCESSES)),
                          gpu_counter(GPU_REG_CNT(GPU_CNT_TXNS)) }, 6);

    /*
     * barlab-nic: rings, interrupt mask, an ARP request whose answer waits
     * in the netdev (the RX ring has no free buffer: RX_TAIL = RX_HEAD),
     * two more frames sent.
     */
    nic_start();
    wr(REG_INT_MASK, 0xf);
    report(send_arp_ring() == 0, "the ARP request completed");
    test_frame(tx_buf);
    for (unsigned i = 0; i < 2; i++) {
        nic_make_desc(desc, OP_SEND, DFLAG_COMPLETION, tx_prod % TX_ENTRIES, TEST_FRAME_LEN,
                      0xd1, NULL);
        desc[2] = (u64)(uintptr_t)tx_buf;
        post_ring(desc);
    }
    /* errors: an unknown opcode, a frame buffer past RAM */
    nic_make_desc(desc, 7, 0, tx_prod % TX_ENTRIES, 0, 0xd2, NULL);
    post_ring(desc);
    nic_make_desc(desc, OP_SEND, 0, tx_prod % TX_ENTRIES, TEST_FRAME_LEN, 0xd3, NULL);
    desc[2] = boot_info->ram_base + boot_info->ram_size;
    post_ring(desc);
    /* a whole descriptor held in a push slot, waiting for its doorbell */
    nic_arp_request(arp, mac);
    nic_make_desc(desc, OP_SEND, DFLAG_INLINE_DATA | DFLAG_HOLD, tx_prod % TX_ENTRIES,
                  ARP_FRAME_LEN, 0xd4, arp);
    push_str(push_nc + DIRTY_HOLD_PAGE + 0x40, desc);
    ucall_values("dirty-nic ctrl int-mask tx-head tx-frames errors dma-errors completions",
                 (u64[]){ rd(REG_CTRL), rd(REG_INT_MASK), rd(REG_TX_HEAD),
                          counter(REG_CNT(CNT_TX_FRAMES)), counter(REG_CNT(CNT_ERRORS)),
                          counter(REG_CNT(CNT_DMA_ERRORS)), counter(REG_CNT(CNT_COMPLETIONS)) }, 7);
    report(counter(REG_CNT(CNT_TX_FRAMES)) == 3 && counter(REG_CNT(CNT_ERRORS)) == 2 &&
           counter(REG_CNT(CNT_DMA_ERRORS)) == 1 && (gpu_rd(GPU_REG_STATUS) & 1),
           "both devices left dirty");
    report_summary();
    /*
     * Last: half a descriptor through the Normal-NC push page and no
     * barrier, so that it waits in the port's gather buffer as the guest
     * powers off.
     */
    asm volatile("str %1, [%0, #0]\n\t"
                 "str %2, [%0, #8]\n\t"
                 "str %3, [%0, #16]\n\t"
                 "str %4, [%0, #24]"
                 : : "r"(push_nc + DIRTY_HALF_PAGE + 0x40), "r"(desc[0]), "r"(desc[1]),
                   "r"(desc[2]), "r"(desc[3])
                 : "memory");
    system_off();
}

/* ---- mode=probe ---------------------------------------------------------- */

/*
 * ucall_values() of barlab-nic's counters @cnt (@n CNT_* numbers) under
 * "@what NAME...", each NAME the device's own for that counter.
 */
static void nic_counters(const char *what, const u8 *cnt, unsigned n)
{
    char names[192];
    u64 vals[CNT_COUNT];
    size_t len = strlen(what);

    memcpy(names, what, len);
    for (unsigned i = 0; i < n; i++) {
        const char *name = barlab_nic_counter_names[cnt[i]];
        size_t l = strlen(name);

        names[len++] = ' ';
        memcpy(names + len, name, l);
        len += l;
        vals[i] = counter(REG_CNT(cnt[i]));
    }
    names[len] = '\0';
    ucall_values(names, vals, n);
}

/* Everything a guest can read of the two devices, before it writes any. */
static void probe_state(void)
{
    u64 digest = 0, nonzero = 0;

    ucall_values("found-nic ctrl status int-cause int-mask tx-head tx-tail tx-size",
                 (u64[]){ rd(REG_CTRL), rd(REG_STATUS), rd(REG_INT_CAUSE), rd(REG_INT_MASK),
                          rd(REG_TX_HEAD), rd(REG_TX_TAIL), rd(REG_TX_SIZE) }, 7);
    ucall_values("found-nic-rings tx-base rx-base rx-size rx-head rx-tail cq-base cq-size",
                 (u64[]){ counter(REG_TX_BASE_LO), counter(REG_RX_BASE_LO), rd(REG_RX_SIZE),
                          rd(REG_RX_HEAD), rd(REG_RX_TAIL), counter(REG_CQ_BASE_LO),
                          rd(REG_CQ_SIZE) }, 7);
    ucall_values("found-nic-cq cq-head cq-tail",
                 (u64[]){ rd(REG_CQ_HEAD), rd(REG_CQ_TAIL) }, 2);
    nic_counters("found-nic-counters",
                 (u8[]){ CNT_TX_FRAMES, CNT_TX_INLINE, CNT_TX_FALLBACK, CNT_TX_NOPS,
                         CNT_COMPLETIONS, CNT_RX_FRAMES, CNT_RX_DROPPED }, 7);
    nic_counters("found-nic-errors",
                 (u8[]){ CNT_ERRORS, CNT_TX_LATE, CNT_DMA_ERRORS, CNT_TX_STALE }, 4);
    ucall_values("found-gpu ctrl status format width height stride offset",
                 (u64[]){ gpu_rd(GPU_REG_CTRL), gpu_rd(GPU_REG_STATUS), gpu_rd(GPU_REG_FORMAT),
                          gpu_rd(GPU_REG_WIDTH), gpu_rd(GPU_REG_HEIGHT), gpu_rd(GPU_REG_STRIDE),
                          (u64)gpu_rd(GPU_REG_OFFSET_HI) << 32 | gpu_rd(GPU_REG_OFFSET_LO) }, 7);
    ucall_values("found-gpu-counters accesses txns gathered violations",
                 (u64[]){ gpu_counter(GPU_REG_CNT(GPU_CNT_ACCESSES)), gpu_counter(GPU_REG_CNT(GPU_CNT_TXNS)),
                          gpu_counter(GPU_REG_CNT(GPU_CNT_GATHERED)), gpu_counter(GPU_REG_CNT(GPU_CNT_VIOLATIONS)) }, 4);
    for (unsigned i = 0; i < GPU_DIGEST_BYTES / 8; i++) {
        u64 v = ((volatile u64 *)vram)[i];

        digest = (digest << 7 | digest >> 57) ^ v;
        nonzero += v != 0;
    }
    ucall_values("found-vram digest nonzero-words", (u64[]){ digest, nonzero }, 2);
}

/*
 * The workload: two NOPs copied to the probe's push page, two from the
 * ring, a SEND of a frame by address, each with a completion; a store to
 * VRAM and a mode.  It is the cell whose trace and counters the test
 * compares, so nothing in it may depend on timing: the push copies go
 * through the Device-nGnRE alias (one transaction per store, the first a
 * doorbell), and the VRAM store is one access, because an interrupt L1
 * takes between two stores of a gathered copy flushes the half it holds.
 */
static void probe_workload(void)
{
    const struct barlab_boot_bar *push = boot_bar(BARLAB_NIC_VENDOR_ID, BARLAB_NIC_DEVICE_ID, BARLAB_NIC_PUSH_BAR);
    u64 desc[8];
    unsigned done = 0;

    ucall_cell_begin("probe", PROBE_PAGE, PROBE_PAGE + SZ_4K,
                     (unsigned)(push - boot_info->bars), PROBE_PAGE);
    nic_start();
    /* RX buffers: a frame that waited for the last guest would land now */
    for (unsigned i = 0; i < RX_ENTRIES; i++) {
        rx_ring[i].addr = (u64)(uintptr_t)rx_bufs[i];
        rx_ring[i].buf_len = RX_BUF;
    }
    dsb(sy);
    wr(REG_RX_TAIL, RX_ENTRIES - 1);
    test_frame(tx_buf);
    for (unsigned i = 0; i < 2; i++) {
        nic_make_desc(desc, OP_NOP, DFLAG_COMPLETION, tx_prod % TX_ENTRIES, 0, 0x90 + i, NULL);
        ring_put(desc);
        push_str(push_dev + PROBE_PAGE + 0x40 + 64 * i, desc);
    }
    for (unsigned i = 0; i < 2; i++) {
        nic_make_desc(desc, OP_NOP, DFLAG_COMPLETION, tx_prod % TX_ENTRIES, 0, 0x92 + i, NULL);
        post_ring(desc);
    }
    nic_make_desc(desc, OP_SEND, DFLAG_COMPLETION, tx_prod % TX_ENTRIES, TEST_FRAME_LEN, 0x94,
                  NULL);
    desc[2] = (u64)(uintptr_t)tx_buf;
    post_ring(desc);
    while (done < 5 && cq_next()) {
        done++;
    }
    *(volatile u64 *)(vram + GPU_PROBE_LINE) = 0x0123456789abcdefull;
    dsb(sy);
    gpu_wr(GPU_REG_WIDTH, 16);
    gpu_wr(GPU_REG_HEIGHT, 16);
    gpu_wr(GPU_REG_STRIDE, 64);
    ucall_cell_end("probe", false, 0, 0, 0, done);
    nic_counters("probe-nic",
                 (u8[]){ CNT_TX_FRAMES, CNT_TX_INLINE, CNT_TX_FALLBACK, CNT_TX_NOPS,
                         CNT_COMPLETIONS, CNT_ERRORS, CNT_DMA_ERRORS }, 7);
    ucall_values("probe-nic-rx rx-frames rx-dropped rx-head",
                 (u64[]){ counter(REG_CNT(CNT_RX_FRAMES)), counter(REG_CNT(CNT_RX_DROPPED)),
                          rd(REG_RX_HEAD) }, 3);
    ucall_values("probe-gpu accesses txns gathered violations status",
                 (u64[]){ gpu_counter(GPU_REG_CNT(GPU_CNT_ACCESSES)), gpu_counter(GPU_REG_CNT(GPU_CNT_TXNS)),
                          gpu_counter(GPU_REG_CNT(GPU_CNT_GATHERED)), gpu_counter(GPU_REG_CNT(GPU_CNT_VIOLATIONS)),
                          gpu_rd(GPU_REG_STATUS) }, 5);
    report(done == 5, "the probe's five posts completed (%u)", done);
}

/* ---- set-up ------------------------------------------------------------- */

static void map_bar(u64 *root, u64 va, const struct barlab_boot_bar *b, unsigned idx)
{
    pt_map(root, va, b->ipa, ALIGN_UP(b->size, SZ_2M),
           S1_ATTRIDX(idx) | PT_AF | S1_PXN | S1_UXN);
}

static bool arg_is(const char *args, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = args; p && *p; p++) {
        if ((p == args || p[-1] == ' ') && !strncmp(p, word, n) &&
            (p[n] == ' ' || p[n] == '\0')) {
            return true;
        }
    }
    return false;
}

void main_el1(void)
{
    const struct barlab_boot_bar *nic0, *nic2, *gpu0, *gpu2;
    const char *args = boot_args();
    bool dma = arg_is(args, "mode=dma"), dirty = arg_is(args, "mode=dirty");
    bool probe = arg_is(args, "mode=probe");
    u64 *root;

    if (!boot_info || !boot_info->ucall) {
        abort_test("hostile runs under barlab-vmm only");
    }
    if (dma + dirty + probe != 1) {
        abort_test("wants mode=dma, mode=dirty or mode=probe, not '%s'", args);
    }
    nic0 = boot_bar(BARLAB_NIC_VENDOR_ID, BARLAB_NIC_DEVICE_ID, 0);
    nic2 = boot_bar(BARLAB_NIC_VENDOR_ID, BARLAB_NIC_DEVICE_ID, BARLAB_NIC_PUSH_BAR);
    gpu0 = boot_bar(GPU_VENDOR_ID, GPU_DEVICE_ID, 0);
    gpu2 = boot_bar(GPU_VENDOR_ID, GPU_DEVICE_ID, 2);
    if (!nic0 || !nic2 || nic2->size < DMA_PAGE + SZ_4K) {
        abort_test("barlab-nic (%04x:%04x) is not passed through", BARLAB_NIC_VENDOR_ID, BARLAB_NIC_DEVICE_ID);
    }
    if (!dma && (!gpu0 || !gpu2)) {
        abort_test("mode=dirty and mode=probe want barlab-gpu passed through too");
    }

    root = pt_alloc();
    pt_map(root, boot_info->ram_base, boot_info->ram_base,
           ALIGN_UP(boot_info->ram_size, SZ_2M),
           S1_ATTRIDX(IDX_RAM) | PT_SH(3) | PT_AF);
    pt_map(root, boot_info->uart & ~(SZ_2M - 1), boot_info->uart & ~(SZ_2M - 1), SZ_2M,
           S1_ATTRIDX(IDX_DEV) | PT_AF | S1_PXN | S1_UXN);
    map_bar(root, nic0->ipa, nic0, IDX_DEV);
    map_bar(root, nic2->ipa, nic2, IDX_NC);
    map_bar(root, DEV_ALIAS, nic2, IDX_DEV);
    if (gpu0) {
        map_bar(root, gpu0->ipa, gpu0, IDX_DEV);
        map_bar(root, gpu2->ipa, gpu2, IDX_NC);
        gpu_regs = gpu0->ipa;
        vram = gpu2->ipa;
    }
    el1_mmu_enable(root, MAIR_VALUE);
    regs = nic0->ipa;
    push_nc = nic2->ipa;
    push_dev = DEV_ALIAS;
    if (rd(REG_ID) != BARLAB_NIC_ID) {
        abort_test("barlab-nic ID 0x%x", rd(REG_ID));
    }

    if (dma) {
        mode_dma();
    } else if (dirty) {
        mode_dirty();
    } else {
        probe_state();
        probe_workload();
    }
    report_summary();
    system_off();
}
