/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-fuzz: the barlab-nic generator.  Rings with hostile bases and
 * sizes, TX descriptors (opcodes, lengths, flags, inline data, buffers
 * anywhere) in guest RAM, doorbells through BAR0 and the push pages, slot
 * copies whole, split or misplaced, SLOT_DOORBELL, RX buffers, MSI-X table
 * entries.  Offsets come from hw/barlab/nic-regs.h; docs/fuzzing.md.
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "nic-regs.h"
#include "barlab-fuzz.h"

static const char *const nic_configs[] = {
    "-netdev user,id=n0,restrict=on -device barlab-nic,netdev=n0",
    "-netdev user,id=n0,restrict=on -device barlab-nic,netdev=n0,"
        "port-mode=exact",
    "-netdev user,id=n0,restrict=on -device barlab-nic,netdev=n0,"
        "port-mode=reorder+speculate:%u,push-status-rc=on",
    "-netdev user,id=n0,restrict=on -device barlab-nic,netdev=n0,"
        "port-mode=reorder:%u,gather-line-size=128,push-size=4K",
    "-netdev user,id=n0,restrict=on -device barlab-nic,netdev=n0,"
        "port-mode=speculate:%u,gather-lines=1,gather-timeout-ns=0",
    NULL,
};

static const unsigned nic_regs[] = {
    REG_ID, REG_VERSION, REG_CTRL, REG_STATUS, REG_INT_CAUSE, REG_INT_MASK,
    REG_LINK, REG_TX_BASE_LO, REG_TX_BASE_HI, REG_TX_SIZE, REG_TX_HEAD,
    REG_TX_TAIL, REG_RX_BASE_LO, REG_RX_BASE_HI, REG_RX_SIZE, REG_RX_HEAD,
    REG_RX_TAIL, REG_CQ_BASE_LO, REG_CQ_BASE_HI, REG_CQ_SIZE, REG_CQ_HEAD,
    REG_CQ_TAIL, REG_MAC_LO, REG_MAC_HI, REG_PUSH_SIZE, REG_PORT_FLUSH,
    REG_COUNTERS, REG_COUNTERS + CNT_COUNT * 8 - 4,
    REG_COUNTERS + CNT_COUNT * 8,
    REG_MSIX_TABLE - 4, REG_MSIX_TABLE, REG_MSIX_TABLE + 12, REG_MSIX_PBA,
    REG_MSIX_PBA + 4, BARLAB_NIC_REGS_SIZE - 4,
};

enum { TX, RX, CQ };
static const unsigned ring_reg[3] = { REG_TX_BASE_LO, REG_RX_BASE_LO,
                                      REG_CQ_BASE_LO };
static const unsigned ring_entry[3] = { DESC_SIZE, RXD_SIZE, CQE_SIZE };

static void nic_ring(Gen *g)
{
    unsigned r = below(g, 3);
    uint64_t base = below(g, 3) ? RAM_BASE + 0x10000 * r + 0x40000 * below(g, 2)
                                : dma_addr(g, ring_entry[r]);
    unsigned size = below(g, 3) ? 1u << below(g, 13) : interesting(g);

    g->ring[r] = base;
    g->ring_size[r] = size;
    emit_write(g, g->bar0 + ring_reg[r], 2, base);
    emit_write(g, g->bar0 + ring_reg[r] + 4, 2, base >> 32);
    emit_write(g, g->bar0 + ring_reg[r] + 8, 2, size);
}

/* A TX descriptor: mostly well-formed SENDs and NOPs, sometimes anything. */
static void nic_desc(Gen *g, uint8_t *d)
{
    unsigned len = below(g, 2) ? ETH_HEADER_LEN + below(g, DESC_INLINE_MAX -
                                                      ETH_HEADER_LEN + 3)
                               : interesting(g);
    uint8_t flags = below(g, 4) ? below(g, 8) : rnd(g);
    unsigned tx_size = MAX(g->ring_size[TX], 1u) & 0xffff;

    memset(d, 0, DESC_SIZE);
    d[DESC_OPCODE] = below(g, 5) ? below(g, 2) ? OP_SEND : OP_NOP : rnd(g);
    d[DESC_FLAGS] = flags;
    stw_le_p(d + DESC_INDEX, below(g, 5) ? below(g, tx_size ?: 1)
                                         : interesting(g));
    stq_le_p(d + DESC_COOKIE, rnd(g));
    if (flags & DFLAG_INLINE_DATA) {
        for (unsigned i = DESC_ADDR; i < DESC_SIZE; i++) {
            d[i] = rnd(g);
        }
        if (below(g, 2)) {
            len = arp_frame(d + DESC_ADDR);
        }
    } else {
        uint64_t buf = dma_addr(g, 1);

        stq_le_p(d + DESC_ADDR, buf);
        if (below(g, 2) && buf >= RAM_BASE && buf + 64 < RAM_BASE + DMA_ZONE) {
            uint8_t f[64];

            len = arp_frame(f);
            emit_bytes(g, buf, f, len);
        }
    }
    stw_le_p(d + DESC_LEN, len);
}

/* A descriptor into the TX ring (or somewhere near it), and its doorbell. */
static void nic_tx_post(Gen *g)
{
    uint8_t d[DESC_SIZE];
    unsigned idx;
    uint64_t at;

    nic_desc(g, d);
    idx = below(g, 4) ? lduw_le_p(d + DESC_INDEX) : below(g, RING_MAX_ENTRIES);
    at = g->ring[TX] + (uint64_t)idx * DESC_SIZE;
    if (at < RAM_BASE || at + DESC_SIZE > RAM_END) {
        at = RAM_BASE + (rnd(g) & (DMA_ZONE - 1) & ~(uint64_t)(DESC_SIZE - 1));
    }
    emit_bytes(g, at, d, DESC_SIZE);
    if (below(g, 2)) {
        emit_write(g, g->bar0 + REG_TX_TAIL, 2, below(g, 4) ? (idx + 1) &
                   (MAX(g->ring_size[TX], 1u) - 1) : interesting(g));
    }
}

/*
 * A push page: its doorbell, status mirror, SLOT_DOORBELL, control-line
 * bytes, or a slot copy whole, in 8-byte pieces (some left out or
 * misplaced) or as a head alone.
 */
static void nic_push(Gen *g)
{
    uint64_t page = g->bar2 + PUSH_PAGE_SIZE *
                    below(g, MAX(g->bar2_size / PUSH_PAGE_SIZE, 1));
    uint8_t d[DESC_SIZE];
    unsigned k = below(g, 8) ? below(g, PUSH_SLOTS) : interesting(g);
    uint64_t slot = page + PUSH_SLOT_SIZE * (1 + k % PUSH_SLOTS);

    switch (below(g, 7)) {
    case 0:
        emit_write(g, page + PUSH_DOORBELL, below(g, 2) + 2,
                   below(g, 3) ? below(g, 8) : interesting(g));
        break;
    case 1:
        /* the STATUS mirror, beside it, or anywhere (slots read 0) */
        emit_read(g, page + (below(g, 2) ? PUSH_STATUS :
                             below(g, 2) ? PUSH_STATUS + below(g, 8) :
                                           below(g, PUSH_PAGE_SIZE)),
                  below(g, 4));
        break;
    case 2:
        emit_write(g, page + below(g, PUSH_SLOT_SIZE), below(g, 4),
                   interesting(g));
        break;
    case 3:
        emit_write(g, page + PUSH_SLOT_DOORBELL, 2, k);
        break;
    default:
        nic_desc(g, d);
        if (below(g, 2)) {
            emit_bytes(g, slot, d, DESC_SIZE);
        } else if (below(g, 4)) {
            for (unsigned i = 0; i < DESC_SIZE / 8; i++) {
                if (below(g, 8)) {
                    emit_write(g, slot + 8 * i + (below(g, 16) ? 0 : 1), 3,
                               ldq_le_p(d + 8 * i));
                }
            }
        } else {
            emit_write(g, slot, 2, ldl_le_p(d));
        }
        if (below(g, 2)) {
            /* ring it: the copy just made, or what the slot held before */
            emit_write(g, page + PUSH_SLOT_DOORBELL, 2,
                       below(g, 4) ? k % PUSH_SLOTS : interesting(g));
        }
        break;
    }
}

static void nic_rx(Gen *g)
{
    uint8_t d[RXD_SIZE] = { 0 };
    unsigned idx = below(g, MAX(g->ring_size[RX], 1u) & 0xfff ?: 1);
    uint64_t at = g->ring[RX] + (uint64_t)RXD_SIZE * idx;

    stq_le_p(d + RXD_ADDR, dma_addr(g, 1));
    stw_le_p(d + RXD_BUF_LEN, below(g, 2) ? 2048 : interesting(g));
    if (at >= RAM_BASE && at + RXD_SIZE <= RAM_END) {
        emit_bytes(g, at, d, RXD_SIZE);
    }
    emit_write(g, g->bar0 + REG_RX_TAIL, 2, below(g, 4) ? (idx + 1) &
               (MAX(g->ring_size[RX], 1u) - 1) : interesting(g));
}

/* An MSI-X table entry: an address in RAM or anywhere, data, mask. */
static void nic_msix(Gen *g)
{
    uint64_t e = g->bar0 + REG_MSIX_TABLE + 16 * below(g, 3);
    uint64_t a = below(g, 2) ? RAM_BASE + 0x80000 : dma_addr(g, 4);

    emit_write(g, e, 2, a);
    emit_write(g, e + 4, 2, a >> 32);
    emit_write(g, e + 8, 2, rnd(g));
    emit_write(g, e + 12, 2, below(g, 3) ? 0 : interesting(g));
}

static void nic_op(Gen *g)
{
    switch (below(g, 15)) {
    case 0:
    case 1:
        op_reg(g);
        break;
    case 2:
        nic_ring(g);
        break;
    case 3:
        emit_write(g, g->bar0 + REG_CTRL, 2,
                   below(g, 3) ? CTRL_ENABLE | (below(g, 2) ? CTRL_IRQ_MSIX : 0)
                               : below(g, 2) ? CTRL_RESET : interesting(g));
        break;
    case 4:
    case 5:
        nic_tx_post(g);
        break;
    case 6:
    case 7:
    case 8:
        nic_push(g);
        break;
    case 9:
        nic_rx(g);
        break;
    case 10:
        emit_write(g, g->bar0 + (below(g, 2) ? REG_CQ_HEAD : REG_INT_MASK), 2,
                   below(g, 2) ? below(g, 16) : interesting(g));
        break;
    case 11:
        nic_msix(g);
        break;
    case 12:
        op_config(g);
        break;
    case 13:
        emit_write(g, g->bar0 + REG_PORT_FLUSH, 2, rnd(g));
        break;
    default:
        op_clock(g);
        break;
    }
}

/* A ring set-up that works, so that most inputs get past the front door. */
static void nic_prologue(Gen *g)
{
    for (unsigned r = 0; r < 3; r++) {
        g->ring[r] = RAM_BASE + 0x10000 * r;
        g->ring_size[r] = 64;
        if (below(g, 4)) {
            emit_write(g, g->bar0 + ring_reg[r], 2, g->ring[r]);
            emit_write(g, g->bar0 + ring_reg[r] + 8, 2, 64);
        }
    }
    if (below(g, 4)) {
        emit_write(g, g->bar0 + REG_CTRL, 2, CTRL_ENABLE);
    }
    if (below(g, 2)) {
        /* RX buffers, so that the frames slirp answers come back in */
        unsigned n = 1 + below(g, 8);

        for (unsigned i = 0; i < n; i++) {
            uint8_t d[RXD_SIZE] = { 0 };

            stq_le_p(d + RXD_ADDR, RAM_BASE + 0xc0000 + 0x800 * i);
            stw_le_p(d + RXD_BUF_LEN, 0x800);
            emit_bytes(g, g->ring[RX] + RXD_SIZE * i, d, RXD_SIZE);
        }
        emit_write(g, g->bar0 + REG_RX_TAIL, 2, n);
    }
}

const FuzzDevice barlab_fuzz_nic = {
    .name = "nic",
    .bar2_base = 0x10010000ULL,
    .bar0_size = BARLAB_NIC_REGS_SIZE,
    .dma = true,
    .configs = nic_configs,
    .counters = REG_COUNTERS,
    .ncounters = CNT_COUNT,
    .counter_names = barlab_nic_counter_names,
    .regs = nic_regs,
    .nregs = G_N_ELEMENTS(nic_regs),
    .prologue = nic_prologue,
    .op = nic_op,
};
