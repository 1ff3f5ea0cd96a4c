/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-nic: a PCIe Ethernet device with a write-combining push page.
 *
 * BAR0 holds registers (control, read-to-clear status, interrupts, the TX,
 * RX and completion rings, MAC, counters) and the MSI-X table; BAR2 is
 * 64-bit prefetchable "push" pages served through a barlab port.  Like
 * mlx5 BlueFlame, a TX descriptor that reaches a push slot as one whole,
 * aligned 64-byte transaction is executed inline; anything else is a
 * doorbell, and the descriptor is fetched from the TX ring by DMA.  Both
 * paths send the same frame through the NIC's netdev; counters and the
 * completion entries tell them apart.
 *
 * Spec and register map: docs/specs/barlab-nic.rst.
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "net/net.h"
#include "qom/object.h"
#include "port.h"
#include "trace.h"

#define TYPE_BARLAB_NIC "barlab-nic"
OBJECT_DECLARE_SIMPLE_TYPE(BarlabNicState, BARLAB_NIC)

#include "nic-regs.h"

typedef struct BarlabNicRing {
    uint64_t base;
    uint32_t size;
    uint32_t head;
    uint32_t tail;
} BarlabNicRing;

struct BarlabNicState {
    PCIDevice parent_obj;

    NICState *nic;
    NICConf conf;
    BarlabPort regs_port;       /* BAR0 */
    BarlabPort push_port;
    BarlabPortConf port_conf;
    uint64_t push_size;
    bool push_status_rc;        /* push-page STATUS reads clear (a bug) */
    MtExpect expect[4];         /* doorbells, heads, slot doorbells, status */
    MtExpect regs_expect[3];    /* BAR0: status, TX and RX tail doorbells */

    uint32_t ctrl;
    uint32_t status;
    uint32_t int_cause;
    uint32_t int_mask;
    BarlabNicRing tx, rx, cq;
    bool cq_phase;
    bool resetting;             /* flushed push writes are dropped */
    /* What each push slot holds, and its bytes written since it last rang */
    uint8_t *slot_mem;          /* push-size bytes, by BAR2 offset */
    uint64_t *slot_written;     /* one byte mask per 64-byte slot */

    uint64_t counters[CNT_COUNT];
};

static void barlab_nic_update_irq(BarlabNicState *s, uint32_t new_cause)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    s->int_cause |= new_cause;
    if ((new_cause & s->int_mask) && (s->ctrl & CTRL_IRQ_MSIX) &&
        msix_enabled(pdev)) {
        trace_barlab_nic_irq(s->int_cause);
        msix_notify(pdev, 0);
    }
}

static void G_GNUC_PRINTF(3, 4)
barlab_nic_guest_error(BarlabNicState *s, uint32_t status, const char *fmt,
                       ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qemu_log_mask(LOG_GUEST_ERROR, "barlab-nic: %s\n", msg);
    s->status |= status;
    s->counters[CNT_ERRORS]++;
    barlab_nic_update_irq(s, INT_ERROR);
}

/*
 * A DMA the bus refused (no RAM there, or the IOMMU does not map it for
 * this device): counted apart from the other errors, then reported as one.
 */
static void barlab_nic_dma_error(BarlabNicState *s, uint32_t status,
                                 MemTxResult res, bool write, uint64_t addr,
                                 uint32_t len, const char *what)
{
    s->counters[CNT_DMA_ERRORS]++;
    trace_barlab_nic_dma_error(what, write, addr, len, res);
    barlab_nic_guest_error(s, status, "%s: DMA %s of %u bytes at 0x%" PRIx64
                           " failed (MemTxResult 0x%x)", what,
                           write ? "write" : "read", len, addr, res);
}

/* A ring the device may walk: a power-of-two size and an aligned base. */
static bool barlab_nic_ring_valid(const BarlabNicRing *r, unsigned entry)
{
    return r->size >= 2 && r->size <= RING_MAX_ENTRIES &&
           is_power_of_2(r->size) && !(r->base % entry) &&
           r->base <= UINT64_MAX - (uint64_t)r->size * entry;
}

static bool barlab_nic_check_ring(BarlabNicState *s, const BarlabNicRing *r,
                                  unsigned entry, const char *name)
{
    if (barlab_nic_ring_valid(r, entry)) {
        return true;
    }
    barlab_nic_guest_error(s, STATUS_RING_ERROR, "%s ring base 0x%" PRIx64
                           " size %u is not usable (power of two 2..%u, "
                           "base aligned to %u)", name, r->base, r->size,
                           RING_MAX_ENTRIES, entry);
    return false;
}

static void barlab_nic_complete(BarlabNicState *s, const uint8_t *desc,
                                bool from_push, uint16_t status)
{
    uint8_t cqe[CQE_SIZE] = { 0 };
    uint32_t next;
    uint64_t at;
    MemTxResult res;

    if (!barlab_nic_check_ring(s, &s->cq, CQE_SIZE, "completion")) {
        return;
    }
    next = (s->cq.tail + 1) & (s->cq.size - 1);
    if (next == s->cq.head) {
        barlab_nic_guest_error(s, STATUS_CQ_ERROR, "completion ring full, "
                               "completion for descriptor %u dropped",
                               lduw_le_p(desc + DESC_INDEX));
        return;
    }
    stw_le_p(cqe + 0, lduw_le_p(desc + DESC_INDEX));
    cqe[2] = desc[DESC_OPCODE];
    cqe[3] = (from_push ? CQE_INLINE : 0) | (s->cq_phase ? CQE_PHASE : 0);
    stw_le_p(cqe + 4, lduw_le_p(desc + DESC_LEN));
    stw_le_p(cqe + 6, status);
    stq_le_p(cqe + 8, ldq_le_p(desc + DESC_COOKIE));
    at = s->cq.base + (uint64_t)s->cq.tail * CQE_SIZE;
    res = pci_dma_write(PCI_DEVICE(s), at, cqe, sizeof(cqe));
    if (res != MEMTX_OK) {
        barlab_nic_dma_error(s, STATUS_CQ_ERROR, res, true, at, sizeof(cqe),
                             "completion entry");
        return;
    }
    trace_barlab_nic_completion(lduw_le_p(desc + DESC_INDEX), cqe[3], status,
                                s->cq.tail);
    s->cq.tail = next;
    s->cq_phase ^= next == 0;
    s->counters[CNT_COMPLETIONS]++;
    barlab_nic_update_irq(s, INT_TX_DONE);
}

/* Run one TX descriptor, from the push page or fetched from the ring. */
static void barlab_nic_execute(BarlabNicState *s, const uint8_t *desc,
                               bool from_push)
{
    uint8_t frame[ETH_FRAME_MAX];
    uint8_t op = desc[DESC_OPCODE], flags = desc[DESC_FLAGS];
    uint16_t index = lduw_le_p(desc + DESC_INDEX);
    uint16_t len = lduw_le_p(desc + DESC_LEN);
    uint64_t addr = ldq_le_p(desc + DESC_ADDR);
    uint16_t status = CQE_OK;
    MemTxResult res;

    s->counters[from_push ? CNT_TX_INLINE : CNT_TX_FALLBACK]++;
    switch (op) {
    case OP_NOP:
        s->counters[CNT_TX_NOPS]++;
        break;
    case OP_SEND:
        if (len < ETH_HEADER_LEN ||
            len > (flags & DFLAG_INLINE_DATA ? DESC_INLINE_MAX
                                              : ETH_FRAME_MAX)) {
            status = CQE_BAD_LENGTH;
            barlab_nic_guest_error(s, STATUS_TX_ERROR, "descriptor %u: "
                                   "bad frame length %u", index, len);
            break;
        }
        if (flags & DFLAG_INLINE_DATA) {
            memcpy(frame, desc + DESC_ADDR, len);
        } else if ((res = pci_dma_read(PCI_DEVICE(s), addr, frame, len)) !=
                   MEMTX_OK) {
            status = CQE_DMA_ERROR;
            barlab_nic_dma_error(s, STATUS_TX_ERROR, res, false, addr, len,
                                 "TX frame buffer");
            break;
        }
        s->counters[CNT_TX_FRAMES]++;
        qemu_send_packet(qemu_get_queue(s->nic), frame, len);
        break;
    default:
        status = CQE_BAD_OPCODE;
        barlab_nic_guest_error(s, STATUS_TX_ERROR, "descriptor %u: unknown "
                               "opcode %u", index, op);
        break;
    }
    trace_barlab_nic_tx(index, op, len, from_push, status);
    if ((flags & DFLAG_COMPLETION) || status != CQE_OK) {
        barlab_nic_complete(s, desc, from_push, status);
    }
}

static bool barlab_nic_tx_ready(BarlabNicState *s, uint32_t tail)
{
    if (!(s->ctrl & CTRL_ENABLE)) {
        barlab_nic_guest_error(s, STATUS_TX_ERROR,
                               "TX doorbell while the device is disabled");
        return false;
    }
    if (!barlab_nic_check_ring(s, &s->tx, DESC_SIZE, "TX")) {
        return false;
    }
    if (tail >= s->tx.size) {
        barlab_nic_guest_error(s, STATUS_RING_ERROR, "TX tail %u beyond the "
                               "ring of %u", tail, s->tx.size);
        return false;
    }
    return true;
}

/* Fetch and run the ring's descriptors from head up to @tail by DMA. */
static void barlab_nic_tx_fetch(BarlabNicState *s, uint32_t tail)
{
    uint8_t desc[DESC_SIZE];
    uint64_t at;
    MemTxResult res;

    while (s->tx.head != tail) {
        at = s->tx.base + (uint64_t)s->tx.head * DESC_SIZE;
        res = pci_dma_read(PCI_DEVICE(s), at, desc, sizeof(desc));
        if (res != MEMTX_OK) {
            barlab_nic_dma_error(s, STATUS_RING_ERROR, res, false, at,
                                 sizeof(desc), "TX descriptor");
            return;
        }
        s->tx.head = (s->tx.head + 1) & (s->tx.size - 1);
        barlab_nic_execute(s, desc, false);
    }
}

static void barlab_nic_tx_doorbell(BarlabNicState *s, uint32_t tail)
{
    trace_barlab_nic_doorbell(tail, s->tx.head);
    if (barlab_nic_tx_ready(s, tail)) {
        s->tx.tail = tail;
        barlab_nic_tx_fetch(s, tail);
    }
}

/*
 * A whole descriptor in a push slot: what the ring holds before it goes
 * first (by DMA, to keep the order), then this one, without fetching its
 * ring copy.
 */
static void barlab_nic_tx_inline(BarlabNicState *s, const uint8_t *desc)
{
    uint32_t index = lduw_le_p(desc + DESC_INDEX);

    if (!barlab_nic_tx_ready(s, index)) {
        return;
    }
    barlab_nic_tx_fetch(s, index);
    if (s->tx.head != index) {
        return;         /* the ring broke on the way */
    }
    s->tx.head = s->tx.tail = (index + 1) & (s->tx.size - 1);
    barlab_nic_execute(s, desc, true);
}

/*
 * A push copy for a descriptor the device has already run: it arrived
 * after a copy or doorbell the program wrote later (the driver did not
 * order its posts).  INDEX is a ring position, so "behind" is the half
 * of the ring before TX_HEAD.  The copy is dropped, not run a second time.
 */
static bool barlab_nic_push_late(BarlabNicState *s, uint32_t index)
{
    uint32_t ahead = (index - s->tx.head) & (s->tx.size - 1);

    if (ahead < s->tx.size / 2) {
        return false;
    }
    s->counters[CNT_TX_LATE]++;
    barlab_nic_guest_error(s, STATUS_TX_ERROR, "push copy of descriptor %u "
                           "arrived after the device ran it (TX_HEAD %u): "
                           "dropped; the post was not ordered", index,
                           s->tx.head);
    return true;
}

/*
 * A piece of the slot at BAR2 offset @slot: whole, the header (a
 * doorbell), or the rest.  Every piece is kept in the slot; a copy with
 * FLAGS.hold stays there until its SLOT_DOORBELL.
 */
static void barlab_nic_push_slot(BarlabNicState *s, hwaddr slot, hwaddr off,
                                 const uint8_t *data, unsigned size)
{
    uint64_t *written = &s->slot_written[slot / PUSH_SLOT_SIZE];
    uint32_t index;

    memcpy(s->slot_mem + slot + off, data, size);
    *written |= MAKE_64BIT_MASK(off, size);
    if (off || size < DESC_LEN || (data[DESC_FLAGS] & DFLAG_HOLD)) {
        /* Other pieces of a split descriptor carry nothing the ring lacks. */
        return;
    }
    /* opcode, flags and index arrived: the slot rings */
    *written = 0;
    index = lduw_le_p(data + DESC_INDEX);
    if (!barlab_nic_tx_ready(s, index) || barlab_nic_push_late(s, index)) {
        return;
    }
    if (size == PUSH_SLOT_SIZE) {
        barlab_nic_tx_inline(s, data);
    } else {
        /* ring up to this descriptor */
        barlab_nic_tx_doorbell(s, (index + 1) & (s->tx.size - 1));
    }
}

/*
 * SLOT_DOORBELL: run what slot @k of the page at @page holds.  Only a slot
 * whose 64 bytes were all written since it last rang holds the descriptor
 * the driver copied there; anything less means the doorbell overtook
 * (part of) the copy.  The device cannot wait for bytes it does not know
 * are coming: it runs what the slot holds, a stale or partial descriptor,
 * and counts it in TX_STALE.
 */
static void barlab_nic_slot_doorbell(BarlabNicState *s, hwaddr page,
                                     uint32_t k)
{
    hwaddr slot = page + PUSH_SLOT_SIZE * (k + 1);
    uint64_t *written;
    const uint8_t *desc;
    uint32_t index;

    if (k >= PUSH_SLOTS) {
        barlab_nic_guest_error(s, STATUS_PUSH_ERROR, "slot doorbell for "
                               "slot %u: a push page has %u slots", k,
                               PUSH_SLOTS);
        return;
    }
    written = &s->slot_written[slot / PUSH_SLOT_SIZE];
    desc = s->slot_mem + slot;
    index = lduw_le_p(desc + DESC_INDEX);
    trace_barlab_nic_slot_doorbell(k, index, ctpop64(*written));
    if (*written != UINT64_MAX) {
        s->counters[CNT_TX_STALE]++;
        barlab_nic_guest_error(s, STATUS_TX_ERROR, "slot %u rang with %d of "
                               "its 64 bytes written since it last rang: the "
                               "doorbell overtook the descriptor; running "
                               "what the slot holds (descriptor %u)", k,
                               ctpop64(*written), index);
    }
    *written = 0;
    if (!barlab_nic_tx_ready(s, index)) {
        return;
    }
    if (((index - s->tx.head) & (s->tx.size - 1)) >= s->tx.size / 2) {
        /* an old descriptor the device already ran: run it again */
        barlab_nic_execute(s, desc, true);
        return;
    }
    barlab_nic_tx_inline(s, desc);
}

static void barlab_nic_push_control(BarlabNicState *s, hwaddr page,
                                    hwaddr off, const uint8_t *data,
                                    unsigned size)
{
    if (off == PUSH_DOORBELL && (size == 4 || size == 8)) {
        barlab_nic_tx_doorbell(s, ldl_le_p(data));
        return;
    }
    if (off == PUSH_SLOT_DOORBELL && size == 4) {
        barlab_nic_slot_doorbell(s, page, ldl_le_p(data));
        return;
    }
    barlab_nic_guest_error(s, STATUS_PUSH_ERROR, "push page write of %u "
                           "bytes at control offset 0x%" HWADDR_PRIx
                           " ignored", size, off);
}

/* Push page back end: transactions that made it through the port. */
static void barlab_nic_push_write(void *opaque, hwaddr addr,
                                  const uint8_t *data, unsigned size)
{
    BarlabNicState *s = opaque;
    hwaddr end = addr + size, piece_end, off;

    if (s->resetting) {
        return;
    }
    /* A transaction wider than a slot (gather-line-size > 64) is cut. */
    while (addr < end) {
        piece_end = MIN(end, QEMU_ALIGN_DOWN(addr, PUSH_SLOT_SIZE) +
                             PUSH_SLOT_SIZE);
        off = addr % PUSH_PAGE_SIZE;
        if (off < PUSH_SLOT_SIZE) {
            barlab_nic_push_control(s, addr - off, off, data,
                                    piece_end - addr);
        } else {
            barlab_nic_push_slot(s, QEMU_ALIGN_DOWN(addr, PUSH_SLOT_SIZE),
                                 off % PUSH_SLOT_SIZE, data, piece_end - addr);
        }
        data += piece_end - addr;
        addr = piece_end;
    }
}

/*
 * Only the status mirror reads as anything.  A prefetchable BAR promises
 * reads without side effects, so reading it leaves STATUS alone, unless
 * push-status-rc=on puts the read-to-clear register here on purpose.
 */
static void barlab_nic_push_read(void *opaque, hwaddr addr, uint8_t *data,
                                 unsigned size)
{
    BarlabNicState *s = opaque;
    hwaddr page = QEMU_ALIGN_DOWN(addr, PUSH_PAGE_SIZE);
    hwaddr lo = page + PUSH_STATUS, hi = lo + 4;
    uint8_t status[4];

    memset(data, 0, size);
    if (addr < hi && addr + size > lo) {
        stl_le_p(status, s->status);
        if (s->push_status_rc) {
            s->status = 0;
        }
        for (hwaddr a = MAX(addr, lo); a < MIN(addr + size, hi); a++) {
            data[a - addr] = status[a - lo];
        }
    }
}

static const BarlabPortOps barlab_nic_push_ops = {
    .write = barlab_nic_push_write,
    .read = barlab_nic_push_read,
};

static bool barlab_nic_can_receive(NetClientState *nc)
{
    BarlabNicState *s = qemu_get_nic_opaque(nc);

    return (s->ctrl & CTRL_ENABLE) &&
           barlab_nic_ring_valid(&s->rx, RXD_SIZE) &&
           s->rx.tail < s->rx.size && s->rx.head != s->rx.tail;
}

static ssize_t barlab_nic_receive(NetClientState *nc, const uint8_t *buf,
                                  size_t size)
{
    BarlabNicState *s = qemu_get_nic_opaque(nc);
    PCIDevice *pdev = PCI_DEVICE(s);
    uint8_t rxd[RXD_SIZE];
    uint64_t at, addr;
    uint16_t buf_len, flags = RXD_DONE;
    MemTxResult res;

    if (!barlab_nic_can_receive(nc)) {
        return 0;
    }
    at = s->rx.base + (uint64_t)s->rx.head * RXD_SIZE;
    res = pci_dma_read(pdev, at, rxd, sizeof(rxd));
    if (res != MEMTX_OK) {
        barlab_nic_dma_error(s, STATUS_RX_ERROR, res, false, at, sizeof(rxd),
                             "RX descriptor");
        s->counters[CNT_RX_DROPPED]++;
        return size;
    }
    addr = ldq_le_p(rxd + RXD_ADDR);
    buf_len = lduw_le_p(rxd + RXD_BUF_LEN);
    if (size > buf_len) {
        flags |= RXD_ERROR;     /* too long for the buffer: not an error */
        s->counters[CNT_RX_DROPPED]++;
    } else if ((res = pci_dma_write(pdev, addr, buf, size)) != MEMTX_OK) {
        flags |= RXD_ERROR;
        s->counters[CNT_RX_DROPPED]++;
        barlab_nic_dma_error(s, STATUS_RX_ERROR, res, true, addr, size,
                             "RX buffer");
    } else {
        s->counters[CNT_RX_FRAMES]++;
    }
    stw_le_p(rxd + RXD_LEN, size);
    stw_le_p(rxd + RXD_FLAGS, flags);
    res = pci_dma_write(pdev, at + RXD_LEN, rxd + RXD_LEN, 4);
    if (res != MEMTX_OK) {
        barlab_nic_dma_error(s, STATUS_RX_ERROR, res, true, at + RXD_LEN, 4,
                             "RX descriptor write-back");
    }
    trace_barlab_nic_rx(size, s->rx.head, flags);
    s->rx.head = (s->rx.head + 1) & (s->rx.size - 1);
    barlab_nic_update_irq(s, INT_RX);
    return size;
}

static void barlab_nic_set_link_status(NetClientState *nc)
{
    BarlabNicState *s = qemu_get_nic_opaque(nc);

    barlab_nic_update_irq(s, INT_LINK);
}

static NetClientInfo barlab_nic_net_info = {
    .type = NET_CLIENT_DRIVER_NIC,
    .size = sizeof(NICState),
    .can_receive = barlab_nic_can_receive,
    .receive = barlab_nic_receive,
    .link_status_changed = barlab_nic_set_link_status,
};

static void barlab_nic_reset_state(BarlabNicState *s)
{
    s->resetting = true;
    barlab_port_flush(&s->push_port, MT_FLUSH_STOP);
    s->resetting = false;
    s->ctrl = s->status = s->int_cause = s->int_mask = 0;
    memset(&s->tx, 0, sizeof(s->tx));
    memset(&s->rx, 0, sizeof(s->rx));
    memset(&s->cq, 0, sizeof(s->cq));
    s->cq_phase = true;
    memset(s->slot_mem, 0, s->push_size);
    memset(s->slot_written, 0,
           s->push_size / PUSH_SLOT_SIZE * sizeof(*s->slot_written));
}

static uint64_t barlab_nic_reg_read(void *opaque, hwaddr addr, unsigned size)
{
    BarlabNicState *s = opaque;
    uint64_t val = 0;

    switch (addr) {
    case REG_ID:
        val = BARLAB_NIC_ID;
        break;
    case REG_VERSION:
        val = BARLAB_NIC_VERSION;
        break;
    case REG_CTRL:
        val = s->ctrl;
        break;
    case REG_STATUS:
        val = s->status;
        s->status = 0;
        break;
    case REG_INT_CAUSE:
        val = s->int_cause;
        break;
    case REG_INT_MASK:
        val = s->int_mask;
        break;
    case REG_LINK:
        val = !qemu_get_queue(s->nic)->link_down;
        break;
    case REG_TX_BASE_LO:
        val = (uint32_t)s->tx.base;
        break;
    case REG_TX_BASE_HI:
        val = s->tx.base >> 32;
        break;
    case REG_TX_SIZE:
        val = s->tx.size;
        break;
    case REG_TX_HEAD:
        val = s->tx.head;
        break;
    case REG_TX_TAIL:
        val = s->tx.tail;
        break;
    case REG_RX_BASE_LO:
        val = (uint32_t)s->rx.base;
        break;
    case REG_RX_BASE_HI:
        val = s->rx.base >> 32;
        break;
    case REG_RX_SIZE:
        val = s->rx.size;
        break;
    case REG_RX_HEAD:
        val = s->rx.head;
        break;
    case REG_RX_TAIL:
        val = s->rx.tail;
        break;
    case REG_CQ_BASE_LO:
        val = (uint32_t)s->cq.base;
        break;
    case REG_CQ_BASE_HI:
        val = s->cq.base >> 32;
        break;
    case REG_CQ_SIZE:
        val = s->cq.size;
        break;
    case REG_CQ_HEAD:
        val = s->cq.head;
        break;
    case REG_CQ_TAIL:
        val = s->cq.tail;
        break;
    case REG_MAC_LO:
        val = ldl_le_p(s->conf.macaddr.a);
        break;
    case REG_MAC_HI:
        val = lduw_le_p(s->conf.macaddr.a + 4);
        break;
    case REG_PUSH_SIZE:
        val = s->push_size;
        break;
    case REG_COUNTERS ... REG_COUNTERS + CNT_COUNT * 8 - 4:
        val = s->counters[(addr - REG_COUNTERS) / 8];
        val = addr & 4 ? val >> 32 : (uint32_t)val;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "barlab-nic: read of unknown register 0x%" HWADDR_PRIx
                      "\n", addr);
        break;
    }
    return val;
}

/* Writing a ring's base or size starts it over at entry 0. */
static void barlab_nic_ring_write(BarlabNicRing *r, hwaddr reg, uint64_t val)
{
    switch (reg) {
    case 0:
        r->base = deposit64(r->base, 0, 32, val);
        break;
    case 4:
        r->base = deposit64(r->base, 32, 32, val);
        break;
    default:
        r->size = val;
        break;
    }
    r->head = r->tail = 0;
}

static void barlab_nic_rx_tail(BarlabNicState *s, uint32_t tail)
{
    if (!barlab_nic_check_ring(s, &s->rx, RXD_SIZE, "RX")) {
        return;
    }
    if (tail >= s->rx.size) {
        barlab_nic_guest_error(s, STATUS_RING_ERROR, "RX tail %u beyond the "
                               "ring of %u", tail, s->rx.size);
        return;
    }
    s->rx.tail = tail;
    qemu_flush_queued_packets(qemu_get_queue(s->nic));
}

static void barlab_nic_ctrl(BarlabNicState *s, uint32_t val)
{
    if (val & CTRL_RESET) {
        barlab_nic_reset_state(s);
        return;
    }
    s->ctrl = val & (CTRL_ENABLE | CTRL_IRQ_MSIX);
    if (s->ctrl & CTRL_ENABLE) {
        qemu_flush_queued_packets(qemu_get_queue(s->nic));
    }
}

static void barlab_nic_reg_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    BarlabNicState *s = opaque;

    switch (addr) {
    case REG_CTRL:
        barlab_nic_ctrl(s, val);
        break;
    case REG_INT_CAUSE:
        s->int_cause &= ~val;
        break;
    case REG_INT_MASK:
        s->int_mask = val & INT_ALL;
        /* causes already pending fire once they are unmasked */
        barlab_nic_update_irq(s, s->int_cause);
        break;
    case REG_TX_BASE_LO ... REG_TX_SIZE:
        barlab_nic_ring_write(&s->tx, addr - REG_TX_BASE_LO, val);
        break;
    case REG_TX_TAIL:
        barlab_nic_tx_doorbell(s, val);
        break;
    case REG_RX_BASE_LO ... REG_RX_SIZE:
        barlab_nic_ring_write(&s->rx, addr - REG_RX_BASE_LO, val);
        break;
    case REG_RX_TAIL:
        barlab_nic_rx_tail(s, val);
        break;
    case REG_CQ_BASE_LO ... REG_CQ_SIZE:
        barlab_nic_ring_write(&s->cq, addr - REG_CQ_BASE_LO, val);
        s->cq_phase = true;
        break;
    case REG_CQ_HEAD:
        if (val >= s->cq.size) {
            barlab_nic_guest_error(s, STATUS_RING_ERROR, "completion head %"
                                   PRIu64 " beyond the ring of %u", val,
                                   s->cq.size);
            break;
        }
        s->cq.head = val;
        break;
    case REG_PORT_FLUSH:
        barlab_port_flush(&s->push_port, MT_FLUSH_STOP);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "barlab-nic: write 0x%" PRIx64 " to %s register 0x%"
                      HWADDR_PRIx "\n", val,
                      addr < REG_COUNTERS + CNT_COUNT * 8 ? "read-only"
                                                          : "unknown", addr);
        break;
    }
}

/*
 * BAR0 behind its port: the registers are 32 bits wide, so a transaction
 * (one access, or several a Normal mapping gathered) is cut into words.
 * The trace events record the memory type, so that a trace shows how a
 * driver mapped the registers (ioremap: Device-nGnRE).
 */
static void barlab_nic_regs_trace(BarlabNicState *s, bool write, hwaddr addr,
                                  uint32_t val)
{
    const MtTxn *t = s->regs_port.current;
    bool typed = !(t->flags & MT_TXN_UNTYPED);
    bool stage2 = !(t->flags & MT_TXN_NO_STAGE2);

    if (write) {
        trace_barlab_nic_reg_write(addr, val, typed, t->s1_attr, t->attr,
                                   stage2);
    } else {
        trace_barlab_nic_reg_read(addr, val, typed, t->s1_attr, t->attr,
                                  stage2);
    }
}

static void barlab_nic_regs_write_word(void *opaque, hwaddr addr,
                                       uint32_t val)
{
    barlab_nic_regs_trace(opaque, true, addr, val);
    barlab_nic_reg_write(opaque, addr, val, 4);
}

static uint32_t barlab_nic_regs_read_word(void *opaque, hwaddr addr)
{
    uint32_t val = barlab_nic_reg_read(opaque, addr, 4);

    barlab_nic_regs_trace(opaque, false, addr, val);
    return val;
}

static void barlab_nic_regs_write(void *opaque, hwaddr addr,
                                  const uint8_t *data, unsigned size)
{
    BarlabNicState *s = opaque;

    if (s->resetting) {
        return;
    }
    if (!barlab_port_write_words(addr, data, size, barlab_nic_regs_write_word,
                                 s)) {
        qemu_log_mask(LOG_GUEST_ERROR, "barlab-nic: register write of %u "
                      "bytes at 0x%" HWADDR_PRIx " ignored: registers are "
                      "32 bits\n", size, addr);
    }
}

/* Every register a read touches is read, with its side effects. */
static void barlab_nic_regs_read(void *opaque, hwaddr addr, uint8_t *data,
                                 unsigned size)
{
    barlab_port_read_words(addr, data, size, barlab_nic_regs_read_word,
                           opaque);
}

static const BarlabPortOps barlab_nic_regs_ops = {
    .write = barlab_nic_regs_write,
    .read = barlab_nic_regs_read,
};

/*
 * BAR0's declarations: STATUS is read-to-clear, so it must not be read
 * speculatively (it is in the non-prefetchable BAR, and a Device mapping
 * keeps it safe); TX_TAIL and RX_TAIL are doorbells, written alone and
 * ordered after what the program wrote before them.
 */
static unsigned barlab_nic_declare_regs(BarlabNicState *s)
{
    s->regs_expect[0] = (MtExpect) {
        REG_STATUS, REG_STATUS + 4, MT_EXPECT_NO_SPEC_READ,
        "STATUS (read to clear)",
    };
    s->regs_expect[1] = (MtExpect) {
        REG_TX_TAIL, REG_TX_TAIL + 4, MT_EXPECT_NO_GATHER | MT_EXPECT_ORDERED,
        "TX_TAIL (doorbell)",
    };
    s->regs_expect[2] = (MtExpect) {
        REG_RX_TAIL, REG_RX_TAIL + 4, MT_EXPECT_NO_GATHER | MT_EXPECT_ORDERED,
        "RX_TAIL (doorbell)",
    };
    return 3;
}

/*
 * What the checker must know about the push pages; returns the number of
 * declarations.  Each page's DOORBELL must arrive alone; it and the first
 * 8 bytes of every slot (opcode, flags, INDEX: a doorbell when a copy is
 * split) are ordered: nothing the program wrote before may arrive after
 * them.  SLOT_DOORBELL is both.  STATUS is read-sensitive only when it is
 * read-to-clear.
 */
static unsigned barlab_nic_declare(BarlabNicState *s, unsigned pages)
{
    s->expect[0] = (MtExpect) {
        PUSH_DOORBELL, PUSH_DOORBELL + 8, MT_EXPECT_NO_GATHER, "doorbell",
        PUSH_PAGE_SIZE, pages,
    };
    s->expect[1] = (MtExpect) {
        0, 8, MT_EXPECT_ORDERED, "doorbell or descriptor head",
        PUSH_SLOT_SIZE, pages * (PUSH_PAGE_SIZE / PUSH_SLOT_SIZE),
    };
    s->expect[2] = (MtExpect) {
        PUSH_SLOT_DOORBELL, PUSH_SLOT_DOORBELL + 4,
        MT_EXPECT_NO_GATHER | MT_EXPECT_ORDERED, "slot doorbell",
        PUSH_PAGE_SIZE, pages,
    };
    if (!s->push_status_rc) {
        return 3;
    }
    s->expect[3] = (MtExpect) {
        PUSH_STATUS, PUSH_STATUS + 4, MT_EXPECT_NO_SPEC_READ,
        "status (read to clear)", PUSH_PAGE_SIZE, pages,
    };
    return 4;
}

static void barlab_nic_realize(PCIDevice *pdev, Error **errp)
{
    BarlabNicState *s = BARLAB_NIC(pdev);
    DeviceState *dev = DEVICE(pdev);
    unsigned pages = s->push_size / PUSH_PAGE_SIZE;
    BarlabPortConf regs_conf;
    BarlabBarSpec push_spec, regs_spec;

    if (s->push_size < PUSH_PAGE_SIZE || s->push_size > PUSH_SIZE_MAX ||
        !is_power_of_2(s->push_size)) {
        error_setg(errp, "barlab-nic: push-size must be a power of two "
                   "from 4 KiB to 16 MiB");
        return;
    }
    push_spec = (BarlabBarSpec) {
        "push", s->push_size, &s->port_conf, &barlab_nic_push_ops,
        s->expect, barlab_nic_declare(s, pages),
    };
    /* The same models for BAR0; the trace file is the push port's. */
    regs_conf = s->port_conf;
    regs_conf.trace = NULL;
    regs_spec = (BarlabBarSpec) {
        "regs", BARLAB_NIC_REGS_SIZE, &regs_conf, &barlab_nic_regs_ops,
        s->regs_expect, barlab_nic_declare_regs(s),
    };
    if (!barlab_port_realize_bars(pdev, s, &s->regs_port, &regs_spec,
                                  &s->push_port, &push_spec, errp)) {
        return;
    }
    if (msix_init(pdev, 1, &s->regs_port.mr, 0, REG_MSIX_TABLE,
                  &s->regs_port.mr, 0, REG_MSIX_PBA, 0, errp)) {
        barlab_port_cleanup(&s->regs_port);
        barlab_port_cleanup(&s->push_port);
        return;
    }
    msix_vector_use(pdev, 0);
    for (unsigned i = 0; i < CNT_COUNT; i++) {
        object_property_add_uint64_ptr(OBJECT(s), barlab_nic_counter_names[i],
                                       &s->counters[i], OBJ_PROP_FLAG_READ);
    }

    qemu_macaddr_default_if_unset(&s->conf.macaddr);
    s->nic = qemu_new_nic(&barlab_nic_net_info, &s->conf,
                          object_get_typename(OBJECT(s)), dev->id,
                          &dev->mem_reentrancy_guard, s);
    qemu_format_nic_info_str(qemu_get_queue(s->nic), s->conf.macaddr.a);
    s->slot_mem = g_malloc0(s->push_size);
    s->slot_written = g_new0(uint64_t, s->push_size / PUSH_SLOT_SIZE);
    barlab_nic_reset_state(s);
}

static void barlab_nic_exit(PCIDevice *pdev)
{
    BarlabNicState *s = BARLAB_NIC(pdev);

    qemu_del_nic(s->nic);
    msix_uninit(pdev, &s->regs_port.mr, &s->regs_port.mr);
    barlab_port_cleanup(&s->regs_port);
    barlab_port_cleanup(&s->push_port);
    g_free(s->slot_mem);
    g_free(s->slot_written);
}

/*
 * FLR, a bus reset and system_reset: on top of CTRL.reset, both ports
 * drop what they buffer (register writes, half a descriptor) and start
 * over, every counter goes back to 0, and the frames the netdev holds
 * back for want of an RX buffer are dropped, so that nothing one guest
 * did, or was sent, shows in the next one.
 */
static void barlab_nic_reset(DeviceState *dev)
{
    BarlabNicState *s = BARLAB_NIC(dev);
    NetClientState *nc = qemu_get_queue(s->nic);

    trace_barlab_nic_reset();
    barlab_port_reset(&s->regs_port);
    barlab_port_reset(&s->push_port);
    barlab_nic_reset_state(s);
    memset(s->counters, 0, sizeof(s->counters));
    if (nc->peer) {
        /* the peer's frames waiting in our incoming queue */
        qemu_purge_queued_packets(nc->peer);
    }
}

/* The gather buffer and trace are host-side state: no migration. */
static const VMStateDescription vmstate_barlab_nic = {
    .name = "barlab-nic",
    .unmigratable = 1,
};

static const Property barlab_nic_properties[] = {
    DEFINE_NIC_PROPERTIES(BarlabNicState, conf),
    DEFINE_PROP_SIZE("push-size", BarlabNicState, push_size, 64 * KiB),
    DEFINE_PROP_BOOL("push-status-rc", BarlabNicState, push_status_rc, false),
    DEFINE_BARLAB_PORT_PROPERTIES(BarlabNicState, port_conf),
};

static void barlab_nic_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = barlab_nic_realize;
    k->exit = barlab_nic_exit;
    k->config_write = barlab_port_pci_write_config;
    k->vendor_id = PCI_VENDOR_ID_QEMU;
    k->device_id = BARLAB_NIC_DEVICE_ID;
    k->class_id = PCI_CLASS_NETWORK_ETHERNET;
    dc->desc = "barlab PCIe Ethernet with a write-combining push page";
    dc->vmsd = &vmstate_barlab_nic;
    device_class_set_legacy_reset(dc, barlab_nic_reset);
    device_class_set_props(dc, barlab_nic_properties);
    set_bit(DEVICE_CATEGORY_NETWORK, dc->categories);
}

static const TypeInfo barlab_nic_info = {
    .name = TYPE_BARLAB_NIC,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(BarlabNicState),
    .instance_init = barlab_port_pci_instance_init,
    .class_init = barlab_nic_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void barlab_nic_register_types(void)
{
    type_register_static(&barlab_nic_info);
}

type_init(barlab_nic_register_types)
