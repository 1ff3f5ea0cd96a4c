/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QTest for barlab-nic: registers, TX through the ring (doorbell register
 * and split push-page writes), completions, the frames on the netdev (a
 * socket pair, and a pcap of -netdev user), RX with MSI-X, bad guest input
 * (logged, never fatal), reset in the middle of a transfer, counters over
 * QMP.  Spec: docs/specs/barlab-nic.rst.  Built inside the QEMU tree by
 * barlab.qemu.
 *
 * qtest accesses carry no memory type and reach the device one by one, at
 * most 8 bytes each: a push slot written here is always split, so these
 * tests see the fallback path; the inline path needs a CPU that gathers
 * (the TCG payload tests).
 */
#include "qemu/osdep.h"
#include <sys/socket.h>
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/pci.h"
#include "barlab-qtest.h"
#include "nic-regs.h"
#include "libqos/generic-pcihost.h"
#include "qobject/qdict.h"

#define NIC_MAC         "52:54:00:12:34:56"

/* Guest RAM of -M virt starts at 1 GiB. */
#define TX_RING         0x40100000ULL
#define CQ_RING         0x40101000ULL
#define RX_RING         0x40102000ULL
#define TX_BUF          0x40110000ULL
#define RX_BUF          0x40118000ULL
#define MSI_ADDR        0x40120000ULL
#define UNMAPPED        0xdead00000000ULL

#define PUSH_SLOT0      PUSH_SLOT_SIZE      /* first slot of push page 0 */
#define PUSH_SLOT_DB    PUSH_SLOT_DOORBELL  /* write k: run what slot k holds */

typedef struct {
    QTestState *qts;
    QGenericPCIBus bus;
    QPCIDevice *dev;
    QPCIBar regs, push;
    uint64_t push_size;
    int sock;               /* our end of the netdev's socket, or -1 */
} Nic;

static void nic_found(QPCIDevice *dev, int devfn, void *data)
{
    *(QPCIDevice **)data = dev;
}

static void nic_map(Nic *n)
{
    qpci_device_enable(n->dev);
    n->regs = qpci_iomap(n->dev, 0, NULL);
    n->push = qpci_iomap(n->dev, 2, &n->push_size);
}

/*
 * @netdev: "socket" for a socket pair we hold the other end of, or args;
 * @props: more barlab-nic properties (",name=value..."), or "".
 */
static void nic_start_props(Nic *n, const char *netdev, const char *props)
{
    g_autofree char *nd = NULL;
    int sv[2] = { -1, -1 };

    if (!strcmp(netdev, "socket")) {
        struct timeval tv = { .tv_sec = 10 };

        g_assert_cmpint(socketpair(PF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
        setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        nd = g_strdup_printf("socket,id=n0,fd=%d", sv[1]);
    } else {
        nd = g_strdup(netdev);
    }
    n->qts = qtest_initf("-M virt -nodefaults -netdev %s "
                         "-device barlab-nic,netdev=n0,mac=" NIC_MAC "%s",
                         nd, props);
    if (sv[1] >= 0) {
        close(sv[1]);
    }
    n->sock = sv[0];
    qpci_init_generic(&n->bus, n->qts, NULL, false);
    n->dev = NULL;
    qpci_device_foreach(&n->bus.bus, BARLAB_NIC_VENDOR_ID, BARLAB_NIC_DEVICE_ID,
                        nic_found, &n->dev);
    g_assert(n->dev);
    nic_map(n);
}

static void nic_start(Nic *n, const char *netdev)
{
    nic_start_props(n, netdev, "");
}

static void nic_stop(Nic *n)
{
    g_free(n->dev);
    qtest_quit(n->qts);
    if (n->sock >= 0) {
        close(n->sock);
    }
}

static uint32_t rd(Nic *n, uint64_t reg)
{
    return qpci_io_readl(n->dev, n->regs, reg);
}

static void wr(Nic *n, uint64_t reg, uint32_t val)
{
    qpci_io_writel(n->dev, n->regs, reg, val);
}

/* Enabled, with a TX ring of 8 and a completion ring of 16. */
static void nic_setup_tx(Nic *n)
{
    wr(n, REG_TX_BASE_LO, (uint32_t)TX_RING);
    wr(n, REG_TX_BASE_HI, TX_RING >> 32);
    wr(n, REG_TX_SIZE, 8);
    wr(n, REG_CQ_BASE_LO, (uint32_t)CQ_RING);
    wr(n, REG_CQ_SIZE, 16);
    wr(n, REG_CTRL, CTRL_ENABLE);
    qtest_memset(n->qts, CQ_RING, 0, 16 * 16);
}

static void make_desc(uint8_t *d, uint8_t op, uint8_t flags, uint16_t index,
                      uint16_t len, uint64_t cookie, uint64_t addr)
{
    memset(d, 0, 64);
    d[0] = op;
    d[1] = flags;
    stw_le_p(d + 2, index);
    stw_le_p(d + 4, len);
    stq_le_p(d + 8, cookie);
    stq_le_p(d + 16, addr);
}

static void put_desc(Nic *n, const uint8_t *d)
{
    qtest_memwrite(n->qts, TX_RING + lduw_le_p(d + 2) * 64, d, 64);
}

/* A broadcast frame of a local experimental ethertype nobody answers. */
static void make_frame(uint8_t *f, size_t len, uint8_t seed)
{
    static const uint8_t hdr[14] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x88, 0xb5,
    };

    memcpy(f, hdr, sizeof(hdr));
    for (size_t i = sizeof(hdr); i < len; i++) {
        f[i] = seed + i;
    }
}

typedef struct {
    uint16_t index;
    uint8_t opcode, flags;
    uint16_t len, status;
    uint64_t cookie;
} Cqe;

static Cqe read_cqe(Nic *n, unsigned i)
{
    uint8_t b[16];

    qtest_memread(n->qts, CQ_RING + i * 16, b, sizeof(b));
    return (Cqe) {
        lduw_le_p(b), b[2], b[3], lduw_le_p(b + 4), lduw_le_p(b + 6),
        ldq_le_p(b + 8),
    };
}

/* Next frame the socket netdev sent us (length-prefixed, big endian). */
static size_t sock_recv_frame(Nic *n, uint8_t *buf, size_t max)
{
    uint32_t len;

    g_assert_cmpint(recv(n->sock, &len, 4, MSG_WAITALL), ==, 4);
    len = be32_to_cpu(len);
    g_assert_cmpuint(len, <=, max);
    g_assert_cmpint(recv(n->sock, buf, len, MSG_WAITALL), ==, len);
    return len;
}

static bool sock_idle(Nic *n)
{
    uint8_t b;

    return recv(n->sock, &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static void sock_send_frame(Nic *n, const uint8_t *f, uint32_t len)
{
    uint32_t be = cpu_to_be32(len);

    g_assert_cmpint(send(n->sock, &be, 4, 0), ==, 4);
    g_assert_cmpint(send(n->sock, f, len, 0), ==, len);
}

static void wait_reg(Nic *n, uint64_t reg, uint32_t want)
{
    for (int i = 0; i < 5000 && rd(n, reg) != want; i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(rd(n, reg), ==, want);
}

static void test_registers(void)
{
    Nic n;

    nic_start(&n, "socket");
    g_assert_cmphex(rd(&n, REG_ID), ==, 0x314e4c42);
    g_assert_cmpuint(rd(&n, REG_VERSION), ==, 1);
    g_assert_cmphex(rd(&n, REG_MAC_LO), ==, 0x12005452);
    g_assert_cmphex(rd(&n, REG_MAC_HI), ==, 0x5634);
    g_assert_cmpuint(rd(&n, REG_LINK), ==, 1);
    g_assert_cmpuint(rd(&n, REG_PUSH_SIZE), ==, 64 * 1024);
    g_assert_cmpuint(n.push_size, ==, 64 * 1024);
    g_assert_cmpuint(rd(&n, REG_CTRL), ==, 0);

    wr(&n, REG_TX_BASE_LO, 0x40100000);
    wr(&n, REG_TX_BASE_HI, 0x12);
    wr(&n, REG_TX_SIZE, 256);
    g_assert_cmphex(rd(&n, REG_TX_BASE_LO), ==, 0x40100000);
    g_assert_cmphex(rd(&n, REG_TX_BASE_HI), ==, 0x12);
    g_assert_cmpuint(rd(&n, REG_TX_SIZE), ==, 256);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 0);
    wr(&n, REG_CTRL, CTRL_ENABLE | CTRL_IRQ_MSIX);
    g_assert_cmpuint(rd(&n, REG_CTRL), ==, CTRL_ENABLE | CTRL_IRQ_MSIX);
    wr(&n, REG_INT_MASK, 0xffffffff);
    g_assert_cmphex(rd(&n, REG_INT_MASK), ==, 0xf);

    /*
     * STATUS is read-to-clear in BAR0; the push page's mirror in the
     * prefetchable BAR reads it without side effects
     */
    wr(&n, REG_TX_SIZE, 3);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RING_ERROR);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, 0);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmphex(qpci_io_readl(n.dev, n.push, 8), ==, STATUS_RING_ERROR);
    g_assert_cmphex(qpci_io_readl(n.dev, n.push, 0x1008), ==, STATUS_RING_ERROR);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RING_ERROR);
    g_assert_cmphex(qpci_io_readl(n.dev, n.push, 8), ==, 0);
    nic_stop(&n);

    /* push-status-rc=on: the mirror is read-to-clear too (a device bug) */
    nic_start_props(&n, "socket", ",push-status-rc=on");
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmphex(qpci_io_readl(n.dev, n.push, 8), ==, STATUS_TX_ERROR);
    g_assert_cmphex(qpci_io_readl(n.dev, n.push, 0x1008), ==, 0);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, 0);
    nic_stop(&n);
}

/* Descriptors in the ring, the doorbell register: frames on the wire. */
static void test_tx_fallback(void)
{
    Nic n;
    uint8_t d[64], f[128], got[2048];
    Cqe c;

    nic_start(&n, "socket");
    nic_setup_tx(&n);

    make_frame(f, 60, 1);
    qtest_memwrite(n.qts, TX_BUF, f, 60);
    make_desc(d, OP_SEND, DFLAG_COMPLETION, 0, 60, 0xc00c1e, TX_BUF);
    put_desc(&n, d);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmpmem(got, sock_recv_frame(&n, got, sizeof(got)), f, 60);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 1);
    g_assert_cmpuint(rd(&n, REG_CQ_TAIL), ==, 1);
    c = read_cqe(&n, 0);
    g_assert_cmpuint(c.index, ==, 0);
    g_assert_cmpuint(c.opcode, ==, OP_SEND);
    g_assert_cmphex(c.flags, ==, CQE_PHASE);
    g_assert_cmpuint(c.len, ==, 60);
    g_assert_cmpuint(c.status, ==, 0);
    g_assert_cmphex(c.cookie, ==, 0xc00c1e);
    g_assert_cmphex(rd(&n, REG_INT_CAUSE), ==, INT_TX_DONE);
    wr(&n, REG_INT_CAUSE, INT_TX_DONE);
    g_assert_cmphex(rd(&n, REG_INT_CAUSE), ==, 0);

    /* data carried in the descriptor, no completion asked for */
    make_frame(f, 48, 2);
    make_desc(d, OP_SEND, DFLAG_INLINE_DATA, 1, 48, 0, 0);
    memcpy(d + 16, f, 48);
    put_desc(&n, d);
    /* a full-size frame through a buffer */
    make_frame(f, sizeof(f), 3);
    make_desc(d, OP_SEND, 0, 2, sizeof(f), 0, TX_BUF + 0x1000);
    qtest_memwrite(n.qts, TX_BUF + 0x1000, f, sizeof(f));
    put_desc(&n, d);
    wr(&n, REG_TX_TAIL, 3);
    g_assert_cmpuint(sock_recv_frame(&n, got, sizeof(got)), ==, 48);
    make_frame(f, 48, 2);
    g_assert_cmpmem(got, 48, f, 48);
    g_assert_cmpuint(sock_recv_frame(&n, got, sizeof(got)), ==, sizeof(f));
    g_assert_cmpuint(rd(&n, REG_CQ_TAIL), ==, 1);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 3);

    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-frames"), ==, 3);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-fallback"), ==, 3);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-inline"), ==, 0);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "completions"), ==, 1);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_TX_FRAMES)), ==, 3);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_TX_FRAMES) + 4), ==, 0);
    g_assert_cmpuint(rd(&n, REG_STATUS), ==, 0);
    g_assert(sock_idle(&n));
    nic_stop(&n);
}

/*
 * The write-combining self-test, as a driver runs it: every descriptor is
 * written to the ring without a completion request and through the push
 * page with one.  qtest splits the push copy, so each is a doorbell and
 * only the last ring copy's completion comes back: "WC does not work".
 */
static void test_push_split(void)
{
    Nic n;
    uint8_t d[64], f[64], got[128];
    Cqe c;

    nic_start(&n, "socket");
    nic_setup_tx(&n);
    for (unsigned i = 0; i < 7; i++) {
        make_desc(d, OP_NOP, i == 6 ? DFLAG_COMPLETION : 0, i, 0, i, 0);
        put_desc(&n, d);
        d[1] = DFLAG_COMPLETION;
        qpci_memwrite(n.dev, n.push, PUSH_SLOT0 + 64 * (i % 2), d, 64);
    }
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 7);
    g_assert_cmpuint(rd(&n, REG_TX_TAIL), ==, 7);
    g_assert_cmpuint(rd(&n, REG_CQ_TAIL), ==, 1);
    c = read_cqe(&n, 0);
    g_assert_cmpuint(c.index, ==, 6);
    g_assert_cmpuint(c.opcode, ==, OP_NOP);
    g_assert_cmphex(c.flags, ==, CQE_PHASE);        /* not inline */
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-nops"), ==, 7);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-fallback"), ==, 7);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-inline"), ==, 0);

    /* a split SEND sends its ring copy; ring index 7 wraps to 0 */
    make_frame(f, 60, 9);
    make_desc(d, OP_SEND, DFLAG_INLINE_DATA, 7, 46, 0, 0);
    memcpy(d + 16, f, 46);
    put_desc(&n, d);
    qpci_memwrite(n.dev, n.push, 0x1000 + PUSH_SLOT0 + 64 * 62, d, 64);
    g_assert_cmpuint(sock_recv_frame(&n, got, sizeof(got)), ==, 46);
    g_assert_cmpmem(got, 46, f, 46);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 0);

    /* the push page's doorbell word rings the ring like TX_TAIL */
    make_desc(d, OP_NOP, DFLAG_COMPLETION, 0, 0, 0, 0);
    put_desc(&n, d);
    qpci_io_writel(n.dev, n.push, 0, 1);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 1);
    g_assert_cmpuint(rd(&n, REG_CQ_TAIL), ==, 2);

    /* the port saw every piece, untyped, and nothing broke a rule */
    g_assert_cmpuint(barlab_qom_u64(n.qts, "push-accesses"), ==, 8 * 8 + 1);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "push-untyped"), ==, 8 * 8 + 1);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "push-violations"), ==, 0);
    g_assert_cmpuint(rd(&n, REG_STATUS), ==, 0);
    nic_stop(&n);
}

/*
 * A push copy of a descriptor the device already ran (the ring doorbell
 * got there first) is late: dropped, counted, a TX error; the ring is not
 * walked round again.
 */
static void test_late_copy(void)
{
    Nic n;
    uint8_t d[64];

    nic_start(&n, "socket");
    nic_setup_tx(&n);
    for (unsigned i = 0; i < 2; i++) {
        make_desc(d, OP_NOP, 0, i, 0, i, 0);
        put_desc(&n, d);
    }
    wr(&n, REG_TX_TAIL, 2);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-fallback"), ==, 2);
    make_desc(d, OP_NOP, DFLAG_COMPLETION, 0, 0, 0, 0);
    qpci_memwrite(n.dev, n.push, PUSH_SLOT0, d, 64);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-late"), ==, 1);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-fallback"), ==, 2);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 2);
    g_assert_cmpuint(rd(&n, REG_CQ_TAIL), ==, 0);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_TX_ERROR);

    /* the next post in order runs as usual */
    make_desc(d, OP_NOP, DFLAG_COMPLETION, 2, 0, 2, 0);
    put_desc(&n, d);
    qpci_memwrite(n.dev, n.push, PUSH_SLOT0 + 64, d, 64);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 3);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-late"), ==, 1);
    g_assert_cmpuint(read_cqe(&n, 0).index, ==, 2);
    nic_stop(&n);
}

/*
 * A copy with FLAGS.hold waits in its slot for SLOT_DOORBELL.  A doorbell
 * that overtakes part of the copy runs what the slot holds and counts it
 * in tx-stale: the bug a missing barrier before the doorbell causes.
 */
static void test_slot_doorbell(void)
{
    Nic n;
    uint8_t d[64], f[64], got[128];

    nic_start(&n, "socket");
    nic_setup_tx(&n);
    make_frame(f, 60, 3);
    make_desc(d, OP_SEND, DFLAG_INLINE_DATA | DFLAG_HOLD, 0, 46, 0, 0);
    memcpy(d + 16, f, 46);
    put_desc(&n, d);
    qpci_memwrite(n.dev, n.push, PUSH_SLOT0 + 64 * 2, d, 64);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-frames"), ==, 0);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 0);
    qpci_io_writel(n.dev, n.push, PUSH_SLOT_DB, 2);
    g_assert_cmpuint(sock_recv_frame(&n, got, sizeof(got)), ==, 46);
    g_assert_cmpmem(got, 46, f, 46);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-inline"), ==, 1);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-stale"), ==, 0);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 1);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, 0);

    /* the doorbell overtakes the second half of the next copy */
    make_desc(d, OP_SEND, DFLAG_INLINE_DATA | DFLAG_HOLD, 1, 46, 0, 0);
    memcpy(d + 16, f, 46);
    put_desc(&n, d);
    qpci_memwrite(n.dev, n.push, 0x1000 + PUSH_SLOT0, d, 32);
    qpci_io_writel(n.dev, n.push, 0x1000 + PUSH_SLOT_DB, 0);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-stale"), ==, 1);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_TX_ERROR);
    /* it ran the half copy: the frame's tail is what the slot held (zeros) */
    g_assert_cmpuint(sock_recv_frame(&n, got, sizeof(got)), ==, 46);
    g_assert_cmpmem(got, 16, f, 16);
    g_assert_cmpuint(got[45], ==, 0);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 2);

    /* ringing again with nothing new written is stale too */
    qpci_io_writel(n.dev, n.push, 0x1000 + PUSH_SLOT_DB, 0);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-stale"), ==, 2);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_TX_ERROR);

    /* a page has 63 slots */
    qpci_io_writel(n.dev, n.push, PUSH_SLOT_DB, 63);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_PUSH_ERROR);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-stale"), ==, 2);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "push-violations"), ==, 0);
    nic_stop(&n);
}

/* The frame leaves through libslirp; filter-dump's pcap has it verbatim. */
static void test_pcap(void)
{
    Nic n;
    g_autofree char *path = g_strdup_printf("%s/barlab-nic-%d.pcap",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *nd = g_strdup_printf("user,id=n0,ipv6=off -object "
                                          "filter-dump,id=f0,netdev=n0,"
                                          "file=%s", path);
    g_autofree char *pcap = NULL;
    uint8_t d[64], f[100];
    gsize len, at;
    uint32_t caplen;
    bool found = false;

    nic_start(&n, nd);
    nic_setup_tx(&n);
    make_frame(f, sizeof(f), 5);
    qtest_memwrite(n.qts, TX_BUF, f, sizeof(f));
    make_desc(d, OP_SEND, 0, 0, sizeof(f), 0, TX_BUF);
    put_desc(&n, d);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 1);
    nic_stop(&n);

    g_assert(g_file_get_contents(path, &pcap, &len, NULL));
    unlink(path);
    g_assert_cmpuint(len, >=, 24);
    g_assert_cmphex((uint32_t)ldl_le_p(pcap), ==, 0xa1b2c3d4);
    for (at = 24; at + 16 <= len; at += 16 + caplen) {
        caplen = (uint32_t)ldl_le_p(pcap + at + 8);
        g_assert_cmpuint(at + 16 + caplen, <=, len);
        found |= caplen == sizeof(f) && !memcmp(pcap + at + 16, f, sizeof(f));
    }
    g_assert(found);
}

static void setup_rx(Nic *n, unsigned bufs, uint16_t buf_len)
{
    uint8_t rxd[16];

    for (unsigned i = 0; i < 4; i++) {
        memset(rxd, 0, sizeof(rxd));
        stq_le_p(rxd, RX_BUF + i * 0x800);
        stw_le_p(rxd + 8, buf_len);
        qtest_memwrite(n->qts, RX_RING + i * 16, rxd, sizeof(rxd));
    }
    wr(n, REG_RX_BASE_LO, (uint32_t)RX_RING);
    wr(n, REG_RX_SIZE, 4);
    wr(n, REG_RX_TAIL, bufs);
}

static void check_rxd(Nic *n, unsigned i, uint16_t len, uint16_t flags)
{
    uint8_t rxd[16];

    qtest_memread(n->qts, RX_RING + i * 16, rxd, sizeof(rxd));
    g_assert_cmpuint(lduw_le_p(rxd + 10), ==, len);
    g_assert_cmphex(lduw_le_p(rxd + 12), ==, flags);
}

/* Frames from the netdev land in RX buffers and raise MSI-X. */
static void test_rx(void)
{
    Nic n;
    uint8_t f[1000], got[1000];

    nic_start(&n, "socket");
    qpci_msix_enable(n.dev);
    n.regs = n.dev->msix_table_bar;     /* qpci_msix_enable remapped BAR0 */
    wr(&n, REG_MSIX_TABLE + 0, (uint32_t)MSI_ADDR);
    wr(&n, REG_MSIX_TABLE + 4, MSI_ADDR >> 32);
    wr(&n, REG_MSIX_TABLE + 8, 0x5a5a0001);
    wr(&n, REG_MSIX_TABLE + 12, 0);
    qtest_writel(n.qts, MSI_ADDR, 0);
    wr(&n, REG_CTRL, CTRL_ENABLE | CTRL_IRQ_MSIX);
    wr(&n, REG_INT_MASK, INT_RX);
    setup_rx(&n, 2, 0x800);

    make_frame(f, 100, 7);
    sock_send_frame(&n, f, 100);
    wait_reg(&n, REG_RX_HEAD, 1);
    check_rxd(&n, 0, 100, RXD_DONE);
    qtest_memread(n.qts, RX_BUF, got, 100);
    g_assert_cmpmem(got, 100, f, 100);
    g_assert_cmphex(rd(&n, REG_INT_CAUSE), ==, INT_RX);
    g_assert_cmphex(qtest_readl(n.qts, MSI_ADDR), ==, 0x5a5a0001);

    /* the next frame waits for a buffer: tail 2 leaves one */
    make_frame(f, 1000, 8);
    sock_send_frame(&n, f, 1000);
    wait_reg(&n, REG_RX_HEAD, 2);
    check_rxd(&n, 1, 1000, RXD_DONE);
    qtest_memread(n.qts, RX_BUF + 0x800, got, 1000);
    g_assert_cmpmem(got, 1000, f, 1000);
    make_frame(f, 60, 9);
    sock_send_frame(&n, f, 60);
    g_usleep(50000);
    g_assert_cmpuint(rd(&n, REG_RX_HEAD), ==, 2);
    wr(&n, REG_RX_TAIL, 3);
    wait_reg(&n, REG_RX_HEAD, 3);
    check_rxd(&n, 2, 60, RXD_DONE);

    g_assert_cmpuint(barlab_qom_u64(n.qts, "rx-frames"), ==, 3);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "rx-dropped"), ==, 0);
    g_assert_cmpuint(rd(&n, REG_STATUS), ==, 0);
    nic_stop(&n);
}

/* Polled mode: no MSI-X, the cause bits and descriptors say it all. */
static void test_rx_polled_too_long(void)
{
    Nic n;
    uint8_t f[300];

    nic_start(&n, "socket");
    wr(&n, REG_CTRL, CTRL_ENABLE);
    setup_rx(&n, 3, 200);
    make_frame(f, 300, 1);
    sock_send_frame(&n, f, 300);
    wait_reg(&n, REG_RX_HEAD, 1);
    check_rxd(&n, 0, 300, RXD_DONE | RXD_ERROR);
    sock_send_frame(&n, f, 200);
    wait_reg(&n, REG_RX_HEAD, 2);
    check_rxd(&n, 1, 200, RXD_DONE);
    g_assert_cmphex(rd(&n, REG_INT_CAUSE), ==, INT_RX);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "rx-dropped"), ==, 1);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "rx-frames"), ==, 1);
    g_assert_cmpuint(rd(&n, REG_STATUS), ==, 0);
    nic_stop(&n);
}

static void send_bad(Nic *n, unsigned index, uint8_t op, uint8_t flags,
                     uint16_t len, uint64_t addr, uint16_t want_status)
{
    uint8_t d[64];
    Cqe c;

    make_desc(d, op, flags, index, len, 0, addr);
    put_desc(n, d);
    wr(n, REG_TX_TAIL, index + 1);
    c = read_cqe(n, index);
    g_assert_cmpuint(c.index, ==, index);
    g_assert_cmpuint(c.status, ==, want_status);
    g_assert_cmphex(rd(n, REG_STATUS), ==, STATUS_TX_ERROR);
}

static void test_bad_guest_input(void)
{
    Nic n;
    uint8_t d[64], rxd[16];

    nic_start(&n, "socket");
    /* unknown and read-only registers: logged, harmless */
    g_assert_cmpuint(rd(&n, 0x7fc), ==, 0);
    wr(&n, REG_ID, 0);
    wr(&n, REG_TX_HEAD, 5);
    wr(&n, 0x7f0, 0xdead);
    g_assert_cmphex(rd(&n, REG_ID), ==, 0x314e4c42);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 0);

    /* a doorbell while disabled, on rings that cannot be used */
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_TX_ERROR);
    nic_setup_tx(&n);
    wr(&n, REG_TX_TAIL, 8);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RING_ERROR);
    wr(&n, REG_TX_BASE_LO, (uint32_t)TX_RING + 0x20);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RING_ERROR);
    wr(&n, REG_TX_BASE_LO, 0xffffff00);
    wr(&n, REG_TX_BASE_HI, 0xffffffff);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RING_ERROR);
    wr(&n, REG_TX_BASE_LO, 0);
    wr(&n, REG_TX_BASE_HI, UNMAPPED >> 32);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RING_ERROR);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 0);

    /* bad descriptors complete with an error status, send nothing */
    nic_setup_tx(&n);
    send_bad(&n, 0, OP_SEND, 0, 60, UNMAPPED, 3);
    send_bad(&n, 1, OP_SEND, 0, 2000, TX_BUF, 2);
    send_bad(&n, 2, OP_SEND, 0, 5, TX_BUF, 2);
    send_bad(&n, 3, OP_SEND, DFLAG_INLINE_DATA, 49, 0, 2);
    send_bad(&n, 4, 9, 0, 60, TX_BUF, 1);
    /* a buffer that runs off the end of RAM (128 MiB at 1 GiB) */
    send_bad(&n, 5, OP_SEND, 0, 1000, 0x40000000ULL + 128 * 1024 * 1024 - 100,
             3);
    g_assert(sock_idle(&n));

    /* a completion with nowhere to go; a full completion ring */
    wr(&n, REG_CQ_SIZE, 0);
    make_desc(d, OP_NOP, DFLAG_COMPLETION, 6, 0, 0, 0);
    put_desc(&n, d);
    wr(&n, REG_TX_TAIL, 7);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RING_ERROR);
    wr(&n, REG_CQ_SIZE, 2);
    make_desc(d, OP_NOP, DFLAG_COMPLETION, 7, 0, 0, 0);
    put_desc(&n, d);
    make_desc(d, OP_NOP, DFLAG_COMPLETION, 0, 0, 0, 0);
    put_desc(&n, d);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmpuint(rd(&n, REG_CQ_TAIL), ==, 1);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_CQ_ERROR);
    wr(&n, REG_CQ_HEAD, 5);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RING_ERROR);

    /* writes to the push page's control line other than the doorbells */
    qpci_io_writel(n.dev, n.push, 0x18, 1);
    qpci_io_writeb(n.dev, n.push, 0x2000, 1);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_PUSH_ERROR);
    /* a push doorbell for an index beyond the ring */
    make_desc(d, OP_NOP, 0, 100, 0, 0, 0);
    qpci_memwrite(n.dev, n.push, PUSH_SLOT0, d, 64);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RING_ERROR);

    /* RX: an unwritable buffer, then an unreadable ring */
    wr(&n, REG_CTRL, CTRL_ENABLE);
    setup_rx(&n, 1, 0x800);
    memset(rxd, 0, sizeof(rxd));
    stq_le_p(rxd, UNMAPPED);
    stw_le_p(rxd + 8, 0x800);
    qtest_memwrite(n.qts, RX_RING, rxd, sizeof(rxd));
    make_desc(d, 0, 0, 0, 0, 0, 0);
    sock_send_frame(&n, d, 60);
    wait_reg(&n, REG_RX_HEAD, 1);
    check_rxd(&n, 0, 60, RXD_DONE | RXD_ERROR);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RX_ERROR);
    wr(&n, REG_RX_BASE_LO, 0);
    wr(&n, REG_RX_BASE_HI, UNMAPPED >> 32);
    wr(&n, REG_RX_SIZE, 4);
    wr(&n, REG_RX_TAIL, 1);
    sock_send_frame(&n, d, 60);
    for (int i = 0; i < 5000 && barlab_qom_u64(n.qts, "rx-dropped") < 2; i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(barlab_qom_u64(n.qts, "rx-dropped"), ==, 2);
    g_assert_cmpuint(rd(&n, REG_RX_HEAD), ==, 0);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RX_ERROR);

    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-frames"), ==, 0);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "errors"), >=, 15);
    g_assert_cmphex(rd(&n, REG_ID), ==, 0x314e4c42);
    nic_stop(&n);
}

/*
 * Reset with work in flight: half a descriptor in a push slot, frames
 * waiting for RX buffers, descriptors behind an unrung doorbell.  Nothing
 * runs after it, and the device works once it is set up again.
 */
static void test_reset(void)
{
    Nic n;
    uint8_t d[64], f[60], got[128];

    nic_start(&n, "socket");
    nic_setup_tx(&n);
    make_frame(f, 60, 4);
    qtest_memwrite(n.qts, TX_BUF, f, 60);
    make_desc(d, OP_SEND, DFLAG_COMPLETION, 0, 60, 0, TX_BUF);
    put_desc(&n, d);
    qpci_memwrite(n.dev, n.push, PUSH_SLOT0 + 8, d + 8, 56);
    setup_rx(&n, 0, 0x800);
    sock_send_frame(&n, f, 60);
    sock_send_frame(&n, f, 60);
    g_usleep(20000);

    wr(&n, REG_CTRL, CTRL_RESET);
    g_assert_cmpuint(rd(&n, REG_CTRL), ==, 0);
    g_assert_cmpuint(rd(&n, REG_TX_SIZE), ==, 0);
    g_assert_cmpuint(rd(&n, REG_RX_SIZE), ==, 0);
    g_assert_cmpuint(rd(&n, REG_CQ_SIZE), ==, 0);
    g_assert_cmpuint(rd(&n, REG_INT_CAUSE), ==, 0);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-fallback"), ==, 0);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "rx-frames"), ==, 0);
    /* the frames that waited for buffers arrive once there are some */
    wr(&n, REG_CTRL, CTRL_ENABLE);
    setup_rx(&n, 3, 0x800);
    wait_reg(&n, REG_RX_HEAD, 2);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "rx-frames"), ==, 2);

    /*
     * The whole machine, with a doorbell half rung and a frame waiting
     * for a buffer: the reset drops the frame with the rest.
     */
    setup_rx(&n, 0, 0x800);
    sock_send_frame(&n, f, 60);
    g_usleep(20000);
    nic_setup_tx(&n);
    qpci_memwrite(n.dev, n.push, PUSH_SLOT0 + 8, d + 8, 56);
    qtest_qmp_assert_success(n.qts, "{'execute': 'system_reset'}");
    qtest_qmp_eventwait(n.qts, "RESET");
    nic_map(&n);
    g_assert_cmpuint(rd(&n, REG_CTRL), ==, 0);
    g_assert_cmpuint(rd(&n, REG_TX_SIZE), ==, 0);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-frames"), ==, 0);
    g_assert(sock_idle(&n));

    nic_setup_tx(&n);
    put_desc(&n, d);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmpuint(read_cqe(&n, 0).flags, ==, CQE_PHASE);
    /* buffers: giving them delivers what waits, and nothing does */
    setup_rx(&n, 3, 0x800);
    g_assert_cmpuint(rd(&n, REG_RX_HEAD), ==, 0);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "rx-frames"), ==, 0);
    nic_stop(&n);
}

/*
 * Every DMA the bus refuses is counted in DMA_ERRORS and the device goes on:
 * a frame buffer, a TX ring, a completion ring and an RX buffer at addresses
 * nothing decodes, then a good frame.
 */
static void test_dma_errors(void)
{
    Nic n;
    uint8_t d[64], f[60], got[128], rxd[16];

    nic_start(&n, "socket");
    nic_setup_tx(&n);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_DMA_ERRORS)), ==, 0);
    /* the frame buffer: a completion with the DMA error status */
    send_bad(&n, 0, OP_SEND, 0, 60, UNMAPPED, 3);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_DMA_ERRORS)), ==, 1);
    /* the TX ring itself: the head stays where it was */
    wr(&n, REG_TX_BASE_LO, 0);
    wr(&n, REG_TX_BASE_HI, UNMAPPED >> 32);
    wr(&n, REG_TX_SIZE, 8);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_RING_ERROR);
    g_assert_cmpuint(rd(&n, REG_TX_HEAD), ==, 0);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_DMA_ERRORS)), ==, 2);
    /* the completion ring: the completion is dropped, the frame is sent */
    nic_setup_tx(&n);
    wr(&n, REG_CQ_BASE_LO, 0);
    wr(&n, REG_CQ_BASE_HI, UNMAPPED >> 32);
    wr(&n, REG_CQ_SIZE, 16);
    make_frame(f, 60, 9);
    qtest_memwrite(n.qts, TX_BUF, f, 60);
    make_desc(d, OP_SEND, DFLAG_COMPLETION, 0, 60, 0, TX_BUF);
    put_desc(&n, d);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmpmem(got, sock_recv_frame(&n, got, sizeof(got)), f, 60);
    g_assert_cmphex(rd(&n, REG_STATUS), ==, STATUS_CQ_ERROR);
    g_assert_cmpuint(rd(&n, REG_CQ_TAIL), ==, 0);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_DMA_ERRORS)), ==, 3);
    /* an RX buffer nothing decodes */
    setup_rx(&n, 1, 0x800);
    memset(rxd, 0, sizeof(rxd));
    stq_le_p(rxd, UNMAPPED);
    stw_le_p(rxd + 8, 0x800);
    qtest_memwrite(n.qts, RX_RING, rxd, sizeof(rxd));
    sock_send_frame(&n, f, 60);
    wait_reg(&n, REG_RX_HEAD, 1);
    check_rxd(&n, 0, 60, RXD_DONE | RXD_ERROR);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_DMA_ERRORS)), ==, 4);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "dma-errors"), ==, 4);

    /* good descriptors still work, with their completion */
    wr(&n, REG_CQ_BASE_HI, 0);
    nic_setup_tx(&n);
    make_desc(d, OP_SEND, DFLAG_COMPLETION, 0, 60, 0x77, TX_BUF);
    put_desc(&n, d);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmpmem(got, sock_recv_frame(&n, got, sizeof(got)), f, 60);
    g_assert_cmpuint(read_cqe(&n, 0).status, ==, 0);
    g_assert_cmphex(read_cqe(&n, 0).cookie, ==, 0x77);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_DMA_ERRORS)), ==, 4);
    nic_stop(&n);
}

/*
 * Function Level Reset with the device dirty (enabled, rings, interrupt
 * mask and causes, error status, every kind of counter, the ports'
 * counters): everything reads as it did after power-on, and the device
 * works as from new.
 */
static void test_flr(void)
{
    Nic n;
    uint8_t d[64], f[60], got[128], msix;

    nic_start(&n, "socket");
    nic_setup_tx(&n);
    make_frame(f, 60, 5);
    qtest_memwrite(n.qts, TX_BUF, f, 60);
    make_desc(d, OP_SEND, DFLAG_COMPLETION, 0, 60, 0, TX_BUF);
    put_desc(&n, d);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmpmem(got, sock_recv_frame(&n, got, sizeof(got)), f, 60);
    send_bad(&n, 1, OP_SEND, 0, 60, UNMAPPED, 3);
    wr(&n, REG_INT_MASK, INT_ALL);
    /* a frame for this guest waits for a buffer */
    setup_rx(&n, 0, 0x800);
    sock_send_frame(&n, f, 60);
    g_usleep(20000);
    /* a push doorbell for a late copy, with the status left unread */
    make_desc(d, OP_NOP, 0, 0, 0, 0, 0);
    qpci_memwrite(n.dev, n.push, PUSH_SLOT0, d, 8);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_TX_FRAMES)), ==, 1);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_DMA_ERRORS)), ==, 1);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "tx-late"), ==, 1);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "push-accesses"), >, 0);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "regs-accesses"), >, 0);
    g_assert_cmpuint(rd(&n, REG_INT_CAUSE), !=, 0);
    msix = qpci_find_capability(n.dev, PCI_CAP_ID_MSIX, 0);
    g_assert(msix);
    qpci_config_writew(n.dev, msix + PCI_MSIX_FLAGS,
                       qpci_config_readw(n.dev, msix + PCI_MSIX_FLAGS) |
                       PCI_MSIX_FLAGS_ENABLE);

    barlab_flr(n.dev);
    /* the port and device counters, before BAR0 is read again */
    for (const char *const *c = (const char *const[]) {
             "tx-frames", "tx-fallback", "completions", "errors", "tx-late",
             "dma-errors", "push-accesses", "push-txns", "regs-accesses",
             "regs-txns", "regs-untyped", NULL }; *c; c++) {
        g_assert_cmpuint(barlab_qom_u64(n.qts, *c), ==, 0);
    }
    nic_map(&n);
    g_assert_cmphex(rd(&n, REG_ID), ==, 0x314e4c42);
    for (uint64_t reg = REG_CTRL; reg <= REG_CQ_TAIL; reg += 4) {
        g_assert_cmphex(rd(&n, reg), ==, reg == REG_LINK ? 1 : 0);
    }
    for (uint64_t reg = REG_CNT(CNT_TX_FRAMES); reg < REG_CNT(CNT_DMA_ERRORS) + 8;
         reg += 4) {
        g_assert_cmpuint(rd(&n, reg), ==, 0);
    }
    g_assert_false(qpci_config_readw(n.dev, msix + PCI_MSIX_FLAGS) &
                   PCI_MSIX_FLAGS_ENABLE);

    /* a fresh device: the ring starts at 0 with phase 1 */
    nic_setup_tx(&n);
    make_desc(d, OP_SEND, DFLAG_COMPLETION, 0, 60, 0, TX_BUF);
    put_desc(&n, d);
    wr(&n, REG_TX_TAIL, 1);
    g_assert_cmpmem(got, sock_recv_frame(&n, got, sizeof(got)), f, 60);
    g_assert_cmpuint(read_cqe(&n, 0).flags, ==, CQE_PHASE);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_TX_FRAMES)), ==, 1);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_COMPLETIONS)), ==, 1);
    g_assert_cmpuint(rd(&n, REG_CNT(CNT_ERRORS)), ==, 0);
    /* the last guest's frame went with the FLR */
    setup_rx(&n, 2, 0x800);
    g_assert_cmpuint(rd(&n, REG_RX_HEAD), ==, 0);
    g_assert_cmpuint(barlab_qom_u64(n.qts, "rx-frames"), ==, 0);
    nic_stop(&n);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/barlab-nic/registers", test_registers);
    qtest_add_func("/barlab-nic/tx-fallback", test_tx_fallback);
    qtest_add_func("/barlab-nic/push-split", test_push_split);
    qtest_add_func("/barlab-nic/late-copy", test_late_copy);
    qtest_add_func("/barlab-nic/slot-doorbell", test_slot_doorbell);
    qtest_add_func("/barlab-nic/pcap", test_pcap);
    qtest_add_func("/barlab-nic/rx", test_rx);
    qtest_add_func("/barlab-nic/rx-polled-too-long", test_rx_polled_too_long);
    qtest_add_func("/barlab-nic/bad-guest-input", test_bad_guest_input);
    qtest_add_func("/barlab-nic/reset", test_reset);
    qtest_add_func("/barlab-nic/dma-errors", test_dma_errors);
    qtest_add_func("/barlab-nic/flr", test_flr);
    return g_test_run();
}
