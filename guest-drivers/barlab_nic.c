// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * barlab_nic: driver for barlab-nic, barlab's PCIe Ethernet device with a
 * write-combining push page (spec: docs/specs/barlab-nic.rst).
 *
 * BAR0 holds the registers and is mapped with pci_iomap() (Device-nGnRE
 * on arm64).  The first push page of BAR2 is mapped with ioremap_wc()
 * (Normal-NC), the way mlx5 maps its BlueFlame registers.  Every TX
 * descriptor is written to the TX ring and then copied to a push slot with
 * __iowrite64_copy(), marked "hold", and the slot's doorbell is rung after
 * a wmb(), the way mlx5 and rdma-core ring a doorbell after a
 * write-combining copy.  The module parameter doorbell_wmb=0 leaves that
 * barrier out: harmless where the push page is Device memory, a real bug
 * where it is Normal-NC, e.g. in a guest whose host maps the BAR Normal-NC
 * at stage 2 (Linux 6.9 and later).
 *
 * Whether the push page really gathers writes depends on the memory type
 * the CPU uses for it, so at probe time a self-test modelled on mlx5's
 * mlx5_core_test_wc() finds out, logs it and shows it in the PCI device's
 * "wc" attribute.  It posts BlueFlame-style: a copy that reaches the
 * device as one 64-byte transaction runs inline; a copy that arrives piece
 * by piece is only a doorbell, and the device fetches the ring copy by DMA.
 */

#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/skbuff.h>
#include <linux/sysfs.h>
#include <linux/u64_stats_sync.h>
#include <linux/unaligned.h>
#include <net/netdev_queues.h>

#define BLN_PCI_VENDOR_QEMU	0x1234
#define BLN_PCI_DEVICE		0xba02
#define BLN_REGS_BAR		0
#define BLN_PUSH_BAR		2

/* BAR0 registers, all 32 bits wide */
#define BLN_ID			0x000
#define BLN_VERSION		0x004
#define BLN_CTRL		0x008
#define BLN_STATUS		0x00c	/* read to clear */
#define BLN_INT_CAUSE		0x010	/* write 1 to clear */
#define BLN_INT_MASK		0x014
#define BLN_LINK		0x018
#define BLN_TX_RING		0x020
#define BLN_TX_TAIL		0x030
#define BLN_RX_RING		0x040
#define BLN_RX_TAIL		0x050
#define BLN_CQ_RING		0x060
#define BLN_CQ_HEAD		0x06c
#define BLN_CQ_TAIL		0x070
#define BLN_MAC_LO		0x080
#define BLN_MAC_HI		0x084
#define BLN_DMA_ERRORS		0x148	/* a 64-bit counter, LO then HI */

/* Each ring: BASE_LO, BASE_HI, SIZE; writing any of them restarts it. */
#define BLN_RING_BASE_LO	0x0
#define BLN_RING_BASE_HI	0x4
#define BLN_RING_SIZE		0x8

#define BLN_ID_VALUE		0x314e4c42	/* "BLN1" */
#define BLN_VERSION_VALUE	1
#define BLN_CTRL_ENABLE		BIT(0)
#define BLN_CTRL_RESET		BIT(1)
#define BLN_CTRL_MSIX		BIT(2)
#define BLN_INT_TX		BIT(0)
#define BLN_INT_RX		BIT(1)
#define BLN_INT_ERROR		BIT(2)
#define BLN_INT_LINK		BIT(3)
#define BLN_INT_ALL		(BLN_INT_TX | BLN_INT_RX | BLN_INT_ERROR | \
				 BLN_INT_LINK)
#define BLN_LINK_UP		BIT(0)
#define BLN_STATUS_TX_ERROR	BIT(0)
#define BLN_STATUS_RING_ERROR	BIT(2)
#define BLN_STATUS_CQ_ERROR	BIT(3)

/* BAR2: 4 KiB push pages, each a control line and then 63 slots */
#define BLN_PUSH_PAGE_SIZE	4096
#define BLN_PUSH_SLOT_DOORBELL	0x010	/* write k: run what slot k holds */
#define BLN_PUSH_SLOT(n)	(0x40 + 64 * (n))

#define BLN_OP_NOP		0
#define BLN_OP_SEND		1
#define BLN_TXD_COMPLETION	BIT(0)
#define BLN_TXD_HOLD		BIT(2)	/* the push copy waits for its doorbell */

struct barlab_nic_tx_desc {
	u8 opcode;
	u8 flags;
	__le16 index;		/* ring position, echoed in the completion */
	__le16 len;
	__le16 reserved;
	__le64 cookie;
	__le64 addr;
	u8 inline_data[40];	/* unused: frames always go by address */
};

static_assert(sizeof(struct barlab_nic_tx_desc) == 64);

#define BLN_CQE_INLINE		BIT(0)	/* ran from the push page */
#define BLN_CQE_PHASE		BIT(7)
#define BLN_CQE_OK		0
#define BLN_CQE_DMA_ERROR	3

struct barlab_nic_cqe {
	__le16 index;
	u8 opcode;
	u8 flags;
	__le16 len;
	__le16 status;
	__le64 cookie;
};

static_assert(sizeof(struct barlab_nic_cqe) == 16);

#define BLN_RXD_DONE		BIT(0)
#define BLN_RXD_ERROR		BIT(1)

struct barlab_nic_rx_desc {
	__le64 addr;
	__le16 buf_len;
	__le16 len;		/* written by the device */
	__le16 flags;		/* written by the device */
	__le16 reserved;
};

static_assert(sizeof(struct barlab_nic_rx_desc) == 16);

#define BLN_TX_ENTRIES		256
/* Every descriptor asks for a completion: one CQ entry per TX entry. */
#define BLN_CQ_ENTRIES		BLN_TX_ENTRIES
#define BLN_RX_ENTRIES		256
#define BLN_RX_BUF_LEN		1536
#define BLN_FRAME_MAX		1514
#define BLN_TX_WAKE		(BLN_TX_ENTRIES / 4)

/* As many NOPs as the test's completion ring holds, like mlx5's 255. */
#define BLN_WC_TEST_NOPS	(BLN_CQ_ENTRIES - 1)
#define BLN_WC_TEST_TIMEOUT_MS	1000

static bool doorbell_wmb = true;
module_param(doorbell_wmb, bool, 0444);
MODULE_PARM_DESC(doorbell_wmb,
		 "wmb() between a TX descriptor's push copy and its doorbell (default: on; off is a driver bug, kept to test for it)");

enum barlab_nic_wc {
	BLN_WC_SUPPORTED,
	BLN_WC_NOT_SUPPORTED,
	BLN_WC_TIMEOUT,
	BLN_WC_ERROR,
};

static const char * const barlab_nic_wc_names[] = {
	[BLN_WC_SUPPORTED] = "supported",
	[BLN_WC_NOT_SUPPORTED] = "not supported",
	[BLN_WC_TIMEOUT] = "unknown (timeout)",
	[BLN_WC_ERROR] = "unknown (error)",
};

/* Where the DMA isolation self-test aims in its unmapped page. */
#define BLN_ISO_TX_RING		0x000
#define BLN_ISO_TX_BUF		0x400
#define BLN_ISO_CQ		0x800
#define BLN_ISO_FRAME_LEN	60
#define BLN_ISO_CASES		3

static bool dma_isolation_test;
module_param(dma_isolation_test, bool, 0444);
MODULE_PARM_DESC(dma_isolation_test,
		 "at probe, aim the device's DMA at an IOVA the IOMMU does not map and check that it is refused");

enum barlab_nic_iso {
	BLN_ISO_NOT_RUN,
	BLN_ISO_ISOLATED,
	BLN_ISO_NOT_ISOLATED,
	BLN_ISO_NO_IOMMU,
	BLN_ISO_ERROR,
};

static const char * const barlab_nic_iso_names[] = {
	[BLN_ISO_NOT_RUN] = "not run",
	[BLN_ISO_ISOLATED] = "isolated",
	[BLN_ISO_NOT_ISOLATED] = "not isolated",
	[BLN_ISO_NO_IOMMU] = "not run (no translating IOMMU)",
	[BLN_ISO_ERROR] = "unknown (error)",
};

struct barlab_nic_tx_buf {
	struct sk_buff *skb;
	dma_addr_t dma;
	unsigned int len;
};

struct barlab_nic_rx_buf {
	struct sk_buff *skb;
	dma_addr_t dma;
};

/* A TX ring with its completion ring: the netdev's, or the self-test's. */
struct barlab_nic_txq {
	struct barlab_nic_tx_desc *desc;
	dma_addr_t desc_dma;
	struct barlab_nic_cqe *cqe;
	dma_addr_t cqe_dma;
	u32 prod;		/* descriptors posted, free running */
	u32 done;		/* descriptors retired, free running */
	u32 cq_cons;		/* completions consumed, free running */
	unsigned int push_slot;	/* alternates 0, 1 like mlx5's bfreg offset */
};

struct barlab_nic_stats {
	struct u64_stats_sync syncp;
	u64_stats_t rx_packets;
	u64_stats_t rx_bytes;
	u64_stats_t tx_packets;
	u64_stats_t tx_bytes;
};

struct barlab_nic {
	struct net_device *netdev;
	struct pci_dev *pdev;
	void __iomem *regs;	/* BAR0 */
	void __iomem *push;	/* BAR2's first push page, write-combining */
	struct napi_struct napi;

	struct barlab_nic_txq txq;
	struct barlab_nic_tx_buf *tx_bufs;

	struct barlab_nic_rx_desc *rx_ring;
	dma_addr_t rx_ring_dma;
	struct barlab_nic_rx_buf *rx_bufs;
	u32 rx_cons;		/* RX descriptors consumed, free running */

	struct barlab_nic_stats stats;	/* written by NAPI only */

	enum barlab_nic_wc wc;
	unsigned int wc_inline;	/* self-test push copies that ran inline */
	enum barlab_nic_iso iso;
};

static void barlab_nic_set_ring(struct barlab_nic *priv, unsigned int ring,
				dma_addr_t dma, u32 entries)
{
	writel(lower_32_bits(dma), priv->regs + ring + BLN_RING_BASE_LO);
	writel(upper_32_bits(dma), priv->regs + ring + BLN_RING_BASE_HI);
	writel(entries, priv->regs + ring + BLN_RING_SIZE);
}

/* Stop all DMA and interrupts; the device forgets its rings. */
static void barlab_nic_hw_reset(struct barlab_nic *priv)
{
	writel(BLN_CTRL_RESET, priv->regs + BLN_CTRL);
	/* The write is posted: read back so the reset is done on return. */
	readl(priv->regs + BLN_CTRL);
}

static void barlab_nic_txq_free(struct barlab_nic *priv,
				struct barlab_nic_txq *txq)
{
	struct device *dev = &priv->pdev->dev;

	if (txq->cqe)
		dma_free_coherent(dev, BLN_CQ_ENTRIES * sizeof(*txq->cqe),
				  txq->cqe, txq->cqe_dma);
	if (txq->desc)
		dma_free_coherent(dev, BLN_TX_ENTRIES * sizeof(*txq->desc),
				  txq->desc, txq->desc_dma);
	txq->cqe = NULL;
	txq->desc = NULL;
}

static int barlab_nic_txq_alloc(struct barlab_nic *priv,
				struct barlab_nic_txq *txq)
{
	struct device *dev = &priv->pdev->dev;

	memset(txq, 0, sizeof(*txq));
	txq->desc = dma_alloc_coherent(dev, BLN_TX_ENTRIES * sizeof(*txq->desc),
				       &txq->desc_dma, GFP_KERNEL);
	txq->cqe = dma_alloc_coherent(dev, BLN_CQ_ENTRIES * sizeof(*txq->cqe),
				      &txq->cqe_dma, GFP_KERNEL);
	if (!txq->desc || !txq->cqe) {
		barlab_nic_txq_free(priv, txq);
		return -ENOMEM;
	}
	return 0;
}

static void barlab_nic_txq_start(struct barlab_nic *priv,
				 struct barlab_nic_txq *txq)
{
	barlab_nic_set_ring(priv, BLN_TX_RING, txq->desc_dma, BLN_TX_ENTRIES);
	barlab_nic_set_ring(priv, BLN_CQ_RING, txq->cqe_dma, BLN_CQ_ENTRIES);
}

static u32 barlab_nic_tx_free(const struct barlab_nic_txq *txq)
{
	return BLN_TX_ENTRIES - 1 - (READ_ONCE(txq->prod) - READ_ONCE(txq->done));
}

/*
 * Write @desc at the next ring position, then copy it with @push_flags
 * added to the next push slot; returns that slot.
 */
static unsigned int barlab_nic_push(struct barlab_nic *priv,
				    struct barlab_nic_txq *txq,
				    struct barlab_nic_tx_desc *desc,
				    u8 push_flags)
{
	unsigned int slot = txq->push_slot;
	u32 index = txq->prod & (BLN_TX_ENTRIES - 1);

	desc->index = cpu_to_le16(index);
	txq->desc[index] = *desc;
	desc->flags |= push_flags;
	WRITE_ONCE(txq->prod, txq->prod + 1);

	/*
	 * The ring copy must be visible to the device before any piece of
	 * the push copy: a split copy without FLAGS.hold is a doorbell, and
	 * the device then fetches the ring copy by DMA.  This also keeps the
	 * push copy behind the previous post, which Normal-NC alone would
	 * let it overtake.
	 */
	wmb();
	/* Eight 8-byte stores in a row; on arm64 they end with io_stop_wc() */
	__iowrite64_copy(priv->push + BLN_PUSH_SLOT(slot), desc,
			 sizeof(*desc) / sizeof(u64));
	txq->push_slot ^= 1;
	return slot;
}

/*
 * A BlueFlame post, as mlx5e_notify_hw() and mlx4_en_tx_write_desc() do
 * it: the push copy runs whole, or its head rings the doorbell.  The
 * self-test posts this way, since which of the two happens is what it
 * measures.
 */
static void barlab_nic_post_bf(struct barlab_nic *priv,
			       struct barlab_nic_txq *txq,
			       struct barlab_nic_tx_desc *desc, u8 push_flags)
{
	barlab_nic_push(priv, txq, desc, push_flags);
	/*
	 * Drain the write-combining buffer now rather than whenever the CPU
	 * evicts it, as mlx4_en_tx_write_desc() does after its BlueFlame copy.
	 */
	wmb();
}

/*
 * A doorbell post: the push copy waits in its slot (FLAGS.hold) until the
 * slot's doorbell rings it, whatever the memory type did to the copy on
 * the way.  The doorbell is written relaxed, as mlx5_write64() writes one
 * with __raw_writeq(): writel() would bring a barrier of its own.
 */
static void barlab_nic_post_db(struct barlab_nic *priv,
			       struct barlab_nic_txq *txq,
			       struct barlab_nic_tx_desc *desc)
{
	unsigned int slot = barlab_nic_push(priv, txq, desc, BLN_TXD_HOLD);

	if (doorbell_wmb) {
		/*
		 * Copy and doorbell are stores to the same write-combining
		 * page, and Normal-NC lets the later one reach the device
		 * first, which then runs what the slot held before.  Order
		 * them as rdma-core's mmio_flush_writes() does.
		 */
		wmb();
	}
	writel_relaxed(slot, priv->push + BLN_PUSH_SLOT_DOORBELL);
	/* Drain the write-combining buffer now, as after a BlueFlame copy. */
	wmb();
}

/* The next completion the device wrote, or NULL. */
static const struct barlab_nic_cqe *barlab_nic_next_cqe(struct barlab_nic_txq *txq)
{
	const struct barlab_nic_cqe *cqe;
	u8 phase;

	cqe = &txq->cqe[txq->cq_cons & (BLN_CQ_ENTRIES - 1)];
	/* The phase bit is 1 on the first pass and flips on each wrap. */
	phase = txq->cq_cons & BLN_CQ_ENTRIES ? 0 : BLN_CQE_PHASE;
	if ((READ_ONCE(cqe->flags) & BLN_CQE_PHASE) != phase)
		return NULL;
	/* Read the rest of the entry only once its phase says it is new. */
	dma_rmb();
	txq->cq_cons++;
	return cqe;
}

/* Free the oldest posted frame; returns its length. */
static unsigned int barlab_nic_tx_retire(struct barlab_nic *priv, int budget)
{
	struct barlab_nic_txq *txq = &priv->txq;
	struct barlab_nic_tx_buf *buf;
	unsigned int len;

	buf = &priv->tx_bufs[txq->done & (BLN_TX_ENTRIES - 1)];
	dma_unmap_single(&priv->pdev->dev, buf->dma, buf->len, DMA_TO_DEVICE);
	napi_consume_skb(buf->skb, budget);
	buf->skb = NULL;
	len = buf->len;
	WRITE_ONCE(txq->done, txq->done + 1);
	return len;
}

static void barlab_nic_clean_tx(struct barlab_nic *priv, int budget)
{
	struct barlab_nic_txq *txq = &priv->txq;
	unsigned int pkts = 0, bytes = 0, failed = 0, failed_bytes = 0;
	const struct barlab_nic_cqe *cqe;
	u32 cq_start = txq->cq_cons;

	while ((cqe = barlab_nic_next_cqe(txq))) {
		u16 index = le16_to_cpu(cqe->index);
		u32 count = ((index - txq->done) & (BLN_TX_ENTRIES - 1)) + 1;
		unsigned int len = 0;

		if (count > READ_ONCE(txq->prod) - txq->done) {
			if (net_ratelimit())
				netdev_warn(priv->netdev,
					    "completion for idle descriptor %u\n",
					    index);
			continue;
		}
		/* Descriptors whose completions were lost retire with it. */
		while (count--) {
			len = barlab_nic_tx_retire(priv, budget);
			pkts++;
			bytes += len;
		}
		if (le16_to_cpu(cqe->status) != BLN_CQE_OK) {
			failed++;
			failed_bytes += len;
			DEV_STATS_INC(priv->netdev, tx_errors);
		}
	}
	if (txq->cq_cons == cq_start)
		return;
	writel(txq->cq_cons & (BLN_CQ_ENTRIES - 1), priv->regs + BLN_CQ_HEAD);

	u64_stats_update_begin(&priv->stats.syncp);
	u64_stats_add(&priv->stats.tx_packets, pkts - failed);
	u64_stats_add(&priv->stats.tx_bytes, bytes - failed_bytes);
	u64_stats_update_end(&priv->stats.syncp);

	netif_txq_completed_wake(netdev_get_tx_queue(priv->netdev, 0), pkts,
				 bytes, barlab_nic_tx_free(txq), BLN_TX_WAKE);
}

static netdev_tx_t barlab_nic_start_xmit(struct sk_buff *skb,
					 struct net_device *netdev)
{
	struct barlab_nic *priv = netdev_priv(netdev);
	struct netdev_queue *nq = netdev_get_tx_queue(netdev, 0);
	struct barlab_nic_txq *txq = &priv->txq;
	struct device *dev = &priv->pdev->dev;
	struct barlab_nic_tx_desc desc = {};
	struct barlab_nic_tx_buf *buf;
	dma_addr_t dma;

	if (unlikely(!barlab_nic_tx_free(txq))) {
		/* netif_txq_maybe_stop() below should have seen to this */
		netif_tx_stop_queue(nq);
		return NETDEV_TX_BUSY;
	}
	/* The device sends what it is given: no padding, no FCS. */
	if (skb_put_padto(skb, ETH_ZLEN))
		goto dropped;
	if (unlikely(skb->len > BLN_FRAME_MAX))
		goto drop;
	dma = dma_map_single(dev, skb->data, skb->len, DMA_TO_DEVICE);
	if (dma_mapping_error(dev, dma))
		goto drop;

	buf = &priv->tx_bufs[txq->prod & (BLN_TX_ENTRIES - 1)];
	buf->skb = skb;
	buf->dma = dma;
	buf->len = skb->len;
	desc.opcode = BLN_OP_SEND;
	desc.flags = BLN_TXD_COMPLETION;
	desc.len = cpu_to_le16(skb->len);
	desc.cookie = cpu_to_le64(txq->prod);
	desc.addr = cpu_to_le64(dma);

	/* The device may complete the frame before the post returns. */
	netdev_tx_sent_queue(nq, skb->len);
	skb_tx_timestamp(skb);
	barlab_nic_post_db(priv, txq, &desc);

	netif_txq_maybe_stop(nq, barlab_nic_tx_free(txq), 1, BLN_TX_WAKE);
	return NETDEV_TX_OK;

drop:
	dev_kfree_skb_any(skb);
dropped:
	DEV_STATS_INC(netdev, tx_dropped);
	return NETDEV_TX_OK;
}

/* Hand RX descriptor @i with its buffer to the device's side of the ring. */
static void barlab_nic_rx_post(struct barlab_nic *priv, u32 i)
{
	struct barlab_nic_rx_desc *rxd = &priv->rx_ring[i];

	rxd->addr = cpu_to_le64(priv->rx_bufs[i].dma);
	rxd->buf_len = cpu_to_le16(BLN_RX_BUF_LEN);
	rxd->len = 0;
	rxd->flags = 0;
}

static int barlab_nic_rx_buf_alloc(struct barlab_nic *priv,
				   struct barlab_nic_rx_buf *buf, gfp_t gfp)
{
	struct device *dev = &priv->pdev->dev;
	struct sk_buff *skb;
	dma_addr_t dma;

	skb = __netdev_alloc_skb_ip_align(priv->netdev, BLN_RX_BUF_LEN, gfp);
	if (!skb)
		return -ENOMEM;
	dma = dma_map_single(dev, skb->data, BLN_RX_BUF_LEN, DMA_FROM_DEVICE);
	if (dma_mapping_error(dev, dma)) {
		dev_kfree_skb_any(skb);
		return -ENOMEM;
	}
	buf->skb = skb;
	buf->dma = dma;
	return 0;
}

/*
 * Pass the frame in @buf up and give @buf a fresh buffer.  Without one
 * the frame is dropped and its buffer reused, so the ring never runs dry.
 */
static bool barlab_nic_rx_frame(struct barlab_nic *priv,
				struct barlab_nic_rx_buf *buf, unsigned int len)
{
	struct barlab_nic_rx_buf fresh;
	struct sk_buff *skb = buf->skb;

	if (barlab_nic_rx_buf_alloc(priv, &fresh, GFP_ATOMIC)) {
		DEV_STATS_INC(priv->netdev, rx_dropped);
		return false;
	}
	dma_unmap_single(&priv->pdev->dev, buf->dma, BLN_RX_BUF_LEN,
			 DMA_FROM_DEVICE);
	*buf = fresh;
	skb_put(skb, len);
	skb->protocol = eth_type_trans(skb, priv->netdev);
	napi_gro_receive(&priv->napi, skb);
	return true;
}

static int barlab_nic_rx(struct barlab_nic *priv, int budget)
{
	unsigned int pkts = 0, bytes = 0;
	int done = 0;

	while (done < budget) {
		u32 i = priv->rx_cons & (BLN_RX_ENTRIES - 1);
		struct barlab_nic_rx_desc *rxd = &priv->rx_ring[i];
		u16 flags = le16_to_cpu(READ_ONCE(rxd->flags));
		u16 len;

		if (!(flags & BLN_RXD_DONE))
			break;
		/* The length and the frame only after the done flag. */
		dma_rmb();
		len = le16_to_cpu(rxd->len);
		if ((flags & BLN_RXD_ERROR) || len < ETH_HLEN ||
		    len > BLN_RX_BUF_LEN) {
			DEV_STATS_INC(priv->netdev, rx_length_errors);
			DEV_STATS_INC(priv->netdev, rx_errors);
		} else if (barlab_nic_rx_frame(priv, &priv->rx_bufs[i], len)) {
			pkts++;
			bytes += len;
		}
		barlab_nic_rx_post(priv, i);
		priv->rx_cons++;
		done++;
	}
	if (!done)
		return 0;
	/* The descriptor just consumed stays the one the device may not use. */
	writel((priv->rx_cons - 1) & (BLN_RX_ENTRIES - 1),
	       priv->regs + BLN_RX_TAIL);

	u64_stats_update_begin(&priv->stats.syncp);
	u64_stats_add(&priv->stats.rx_packets, pkts);
	u64_stats_add(&priv->stats.rx_bytes, bytes);
	u64_stats_update_end(&priv->stats.syncp);
	return done;
}

static void barlab_nic_update_link(struct barlab_nic *priv)
{
	if (readl(priv->regs + BLN_LINK) & BLN_LINK_UP)
		netif_carrier_on(priv->netdev);
	else
		netif_carrier_off(priv->netdev);
}

static int barlab_nic_poll(struct napi_struct *napi, int budget)
{
	struct barlab_nic *priv = container_of(napi, struct barlab_nic, napi);
	u32 cause = readl(priv->regs + BLN_INT_CAUSE);
	u32 status;
	int done;

	/* Acknowledge first: anything that happens from now on raises it anew. */
	if (cause)
		writel(cause, priv->regs + BLN_INT_CAUSE);
	if (cause & BLN_INT_ERROR) {
		status = readl(priv->regs + BLN_STATUS);
		if (status && net_ratelimit())
			netdev_err(priv->netdev, "device error, status 0x%x\n",
				   status);
	}
	if (cause & BLN_INT_LINK)
		barlab_nic_update_link(priv);

	barlab_nic_clean_tx(priv, budget);
	done = barlab_nic_rx(priv, budget);

	/* Unmasking makes the device signal whatever is already pending. */
	if (done < budget && napi_complete_done(napi, done))
		writel(BLN_INT_ALL, priv->regs + BLN_INT_MASK);
	return done;
}

static irqreturn_t barlab_nic_interrupt(int irq, void *data)
{
	struct barlab_nic *priv = data;

	/* Quiet until the poll is done: it unmasks again. */
	writel(0, priv->regs + BLN_INT_MASK);
	napi_schedule(&priv->napi);
	return IRQ_HANDLED;
}

static void barlab_nic_rx_free(struct barlab_nic *priv)
{
	struct device *dev = &priv->pdev->dev;
	u32 i;

	for (i = 0; priv->rx_bufs && i < BLN_RX_ENTRIES; i++) {
		struct barlab_nic_rx_buf *buf = &priv->rx_bufs[i];

		if (!buf->skb)
			continue;
		dma_unmap_single(dev, buf->dma, BLN_RX_BUF_LEN, DMA_FROM_DEVICE);
		dev_kfree_skb(buf->skb);
	}
	kfree(priv->rx_bufs);
	priv->rx_bufs = NULL;
	if (priv->rx_ring)
		dma_free_coherent(dev, BLN_RX_ENTRIES * sizeof(*priv->rx_ring),
				  priv->rx_ring, priv->rx_ring_dma);
	priv->rx_ring = NULL;
}

static int barlab_nic_rx_alloc(struct barlab_nic *priv)
{
	u32 i;

	priv->rx_cons = 0;
	priv->rx_ring = dma_alloc_coherent(&priv->pdev->dev,
					   BLN_RX_ENTRIES * sizeof(*priv->rx_ring),
					   &priv->rx_ring_dma, GFP_KERNEL);
	priv->rx_bufs = kcalloc(BLN_RX_ENTRIES, sizeof(*priv->rx_bufs),
				GFP_KERNEL);
	if (!priv->rx_ring || !priv->rx_bufs)
		goto err;
	for (i = 0; i < BLN_RX_ENTRIES; i++) {
		if (barlab_nic_rx_buf_alloc(priv, &priv->rx_bufs[i], GFP_KERNEL))
			goto err;
		barlab_nic_rx_post(priv, i);
	}
	return 0;

err:
	barlab_nic_rx_free(priv);
	return -ENOMEM;
}

/* Undo barlab_nic_alloc_rings(), also half done; the device is stopped. */
static void barlab_nic_free_rings(struct barlab_nic *priv)
{
	while (priv->txq.done != priv->txq.prod)
		barlab_nic_tx_retire(priv, 0);
	netdev_reset_queue(priv->netdev);
	kfree(priv->tx_bufs);
	priv->tx_bufs = NULL;
	barlab_nic_rx_free(priv);
	barlab_nic_txq_free(priv, &priv->txq);
}

static int barlab_nic_alloc_rings(struct barlab_nic *priv)
{
	int err;

	err = barlab_nic_txq_alloc(priv, &priv->txq);
	if (err)
		return err;
	priv->tx_bufs = kcalloc(BLN_TX_ENTRIES, sizeof(*priv->tx_bufs),
				GFP_KERNEL);
	err = priv->tx_bufs ? barlab_nic_rx_alloc(priv) : -ENOMEM;
	if (err)
		barlab_nic_free_rings(priv);
	return err;
}

static void barlab_nic_hw_start(struct barlab_nic *priv)
{
	barlab_nic_hw_reset(priv);
	barlab_nic_txq_start(priv, &priv->txq);
	barlab_nic_set_ring(priv, BLN_RX_RING, priv->rx_ring_dma,
			    BLN_RX_ENTRIES);
	/* All buffers but one: the device stops where RX_TAIL is. */
	writel(BLN_RX_ENTRIES - 1, priv->regs + BLN_RX_TAIL);
	writel(BLN_INT_ALL, priv->regs + BLN_INT_MASK);
	writel(BLN_CTRL_ENABLE | BLN_CTRL_MSIX, priv->regs + BLN_CTRL);
}

static int barlab_nic_open(struct net_device *netdev)
{
	struct barlab_nic *priv = netdev_priv(netdev);
	int err;

	err = barlab_nic_alloc_rings(priv);
	if (err)
		return err;
	err = request_irq(pci_irq_vector(priv->pdev, 0), barlab_nic_interrupt,
			  0, netdev->name, priv);
	if (err) {
		barlab_nic_free_rings(priv);
		return err;
	}
	napi_enable(&priv->napi);
	barlab_nic_hw_start(priv);
	barlab_nic_update_link(priv);
	netif_start_queue(netdev);
	return 0;
}

static int barlab_nic_stop(struct net_device *netdev)
{
	struct barlab_nic *priv = netdev_priv(netdev);

	netif_tx_disable(netdev);
	napi_disable(&priv->napi);
	barlab_nic_hw_reset(priv);
	free_irq(pci_irq_vector(priv->pdev, 0), priv);
	netif_carrier_off(netdev);
	barlab_nic_free_rings(priv);
	return 0;
}

static void barlab_nic_get_stats64(struct net_device *netdev,
				   struct rtnl_link_stats64 *stats)
{
	struct barlab_nic *priv = netdev_priv(netdev);
	unsigned int start;

	netdev_stats_to_stats64(stats, &netdev->stats);
	do {
		start = u64_stats_fetch_begin(&priv->stats.syncp);
		stats->rx_packets = u64_stats_read(&priv->stats.rx_packets);
		stats->rx_bytes = u64_stats_read(&priv->stats.rx_bytes);
		stats->tx_packets = u64_stats_read(&priv->stats.tx_packets);
		stats->tx_bytes = u64_stats_read(&priv->stats.tx_bytes);
	} while (u64_stats_fetch_retry(&priv->stats.syncp, start));
}

static const struct net_device_ops barlab_nic_netdev_ops = {
	.ndo_open = barlab_nic_open,
	.ndo_stop = barlab_nic_stop,
	.ndo_start_xmit = barlab_nic_start_xmit,
	.ndo_get_stats64 = barlab_nic_get_stats64,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
};

/* What the first completion of the self-test says. */
static enum barlab_nic_wc barlab_nic_wc_verdict(const struct barlab_nic_cqe *cqe)
{
	if (le16_to_cpu(cqe->status) != BLN_CQE_OK)
		return BLN_WC_ERROR;
	if (cqe->flags & BLN_CQE_INLINE)
		return BLN_WC_SUPPORTED;
	if (le16_to_cpu(cqe->index) == BLN_WC_TEST_NOPS - 1)
		return BLN_WC_NOT_SUPPORTED;
	return BLN_WC_ERROR;
}

/*
 * The write-combining self-test, after mlx5_core_test_wc(): post NOPs
 * whose ring copies ask for a completion only on the last one, and whose
 * push copies all ask for one.  If the push copies reach the device
 * whole, each runs inline and the first completion is NOP 0's, flagged
 * inline.  If they arrive split, each is only a doorbell, the ring copies
 * run, and the first completion is the last NOP's, from the ring.  Runs
 * polled, before the netdev exists, on rings of its own.
 */
static void barlab_nic_test_wc(struct barlab_nic *priv)
{
	struct device *dev = &priv->pdev->dev;
	const struct barlab_nic_cqe *cqe;
	struct barlab_nic_txq txq;
	unsigned long timeout;
	bool first = true;
	ktime_t start;
	u32 i, status;

	priv->wc = BLN_WC_ERROR;
	priv->wc_inline = 0;
	if (barlab_nic_txq_alloc(priv, &txq)) {
		dev_err(dev, "write-combining: %s: no memory for the test rings\n",
			barlab_nic_wc_names[priv->wc]);
		return;
	}
	barlab_nic_hw_reset(priv);
	barlab_nic_txq_start(priv, &txq);
	writel(BLN_CTRL_ENABLE, priv->regs + BLN_CTRL);

	start = ktime_get();
	for (i = 0; i < BLN_WC_TEST_NOPS; i++) {
		struct barlab_nic_tx_desc nop = {
			.opcode = BLN_OP_NOP,
			.cookie = cpu_to_le64(i),
		};

		if (i == BLN_WC_TEST_NOPS - 1)
			nop.flags = BLN_TXD_COMPLETION;
		barlab_nic_post_bf(priv, &txq, &nop, BLN_TXD_COMPLETION);
	}

	/* The last NOP completes whole or split: wait for it, bounded. */
	priv->wc = BLN_WC_TIMEOUT;
	timeout = jiffies + msecs_to_jiffies(BLN_WC_TEST_TIMEOUT_MS);
	for (;;) {
		cqe = barlab_nic_next_cqe(&txq);
		if (!cqe) {
			if (time_after(jiffies, timeout))
				break;
			usleep_range(10, 50);
			continue;
		}
		if (first)
			priv->wc = barlab_nic_wc_verdict(cqe);
		first = false;
		if (cqe->flags & BLN_CQE_INLINE)
			priv->wc_inline++;
		if (le16_to_cpu(cqe->index) == BLN_WC_TEST_NOPS - 1)
			break;
	}

	status = readl(priv->regs + BLN_STATUS);
	/* Stop the device before its rings go away. */
	barlab_nic_hw_reset(priv);
	barlab_nic_txq_free(priv, &txq);

	dev_info(dev, "write-combining: %s (%u of %u push copies ran inline, %lld us)\n",
		 barlab_nic_wc_names[priv->wc], priv->wc_inline,
		 BLN_WC_TEST_NOPS, ktime_us_delta(ktime_get(), start));
	if (status)
		dev_warn(dev, "write-combining test: device status 0x%x\n",
			 status);
}

static u64 barlab_nic_dma_errors(struct barlab_nic *priv)
{
	u32 lo = readl(priv->regs + BLN_DMA_ERRORS);

	return (u64)readl(priv->regs + BLN_DMA_ERRORS + 4) << 32 | lo;
}

/* Wait (bounded) for the self-test's next completion. */
static const struct barlab_nic_cqe *barlab_nic_wait_cqe(struct barlab_nic_txq *txq)
{
	unsigned long timeout = jiffies + msecs_to_jiffies(BLN_WC_TEST_TIMEOUT_MS);
	const struct barlab_nic_cqe *cqe;

	while (!(cqe = barlab_nic_next_cqe(txq))) {
		if (time_after(jiffies, timeout))
			return NULL;
		usleep_range(10, 50);
	}
	return cqe;
}

/*
 * The three hostile DMAs of the isolation self-test, one at a time, at
 * @bad: the TX ring (the descriptor fetch), a SEND's frame buffer (it
 * completes with a DMA error), the completion ring (the completion is
 * dropped).  Returns how many of them the device saw fail.
 */
static unsigned int barlab_nic_iso_cases(struct barlab_nic *priv,
					 struct barlab_nic_txq *txq, dma_addr_t bad)
{
	struct barlab_nic_tx_desc send = {
		.opcode = BLN_OP_SEND,
		.flags = BLN_TXD_COMPLETION,
		.len = cpu_to_le16(BLN_ISO_FRAME_LEN),
		.addr = cpu_to_le64(bad + BLN_ISO_TX_BUF),
	};
	struct barlab_nic_tx_desc nop = {
		.opcode = BLN_OP_NOP,
		.flags = BLN_TXD_COMPLETION,
	};
	const struct barlab_nic_cqe *cqe;
	unsigned int refused = 0;

	readl(priv->regs + BLN_STATUS);
	barlab_nic_set_ring(priv, BLN_TX_RING, bad + BLN_ISO_TX_RING, 4);
	writel(1, priv->regs + BLN_TX_TAIL);
	refused += !!(readl(priv->regs + BLN_STATUS) & BLN_STATUS_RING_ERROR);

	barlab_nic_txq_start(priv, txq);
	barlab_nic_post_bf(priv, txq, &send, 0);
	cqe = barlab_nic_wait_cqe(txq);
	refused += cqe && le16_to_cpu(cqe->status) == BLN_CQE_DMA_ERROR &&
		   (readl(priv->regs + BLN_STATUS) & BLN_STATUS_TX_ERROR);

	barlab_nic_set_ring(priv, BLN_CQ_RING, bad + BLN_ISO_CQ, 4);
	barlab_nic_post_bf(priv, txq, &nop, 0);
	refused += !readl(priv->regs + BLN_CQ_TAIL) &&
		   (readl(priv->regs + BLN_STATUS) & BLN_STATUS_CQ_ERROR);
	return refused;
}

/*
 * The DMA isolation self-test (module parameter dma_isolation_test): with
 * the device behind a translating IOMMU, aim its DMA at an IOVA nothing
 * mapped for it, the physical address of a page of ours that holds a known
 * pattern, where the DMA would land without translation.  Every DMA must
 * fail (the device counts it in DMA_ERRORS), the page must not change, and
 * the device must work on.  It refuses to run unless the device's IOMMU
 * domain translates and leaves that IOVA unmapped.  Polled, before the
 * netdev exists, on rings of its own.
 */
static void barlab_nic_test_dma_isolation(struct barlab_nic *priv)
{
	struct device *dev = &priv->pdev->dev;
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);
	struct barlab_nic_txq txq;
	unsigned int refused, changed = 0, i;
	struct page *page;
	phys_addr_t bad;
	u8 *canary;
	u64 errors;

	if (!domain || !(domain->type & __IOMMU_DOMAIN_PAGING)) {
		priv->iso = BLN_ISO_NO_IOMMU;
		dev_info(dev, "DMA isolation: %s\n", barlab_nic_iso_names[priv->iso]);
		return;
	}
	priv->iso = BLN_ISO_ERROR;
	page = alloc_page(GFP_KERNEL);
	if (!page || barlab_nic_txq_alloc(priv, &txq)) {
		if (page)
			__free_page(page);
		dev_err(dev, "DMA isolation: %s: no memory for the test\n",
			barlab_nic_iso_names[priv->iso]);
		return;
	}
	canary = page_address(page);
	for (i = 0; i < PAGE_SIZE; i++)
		canary[i] = 0xa5 ^ (i * 0x3b);
	bad = page_to_phys(page);
	if (iommu_iova_to_phys(domain, bad)) {
		dev_err(dev, "DMA isolation: %s: IOVA %pa is mapped\n",
			barlab_nic_iso_names[priv->iso], &bad);
		goto out;
	}

	barlab_nic_hw_reset(priv);
	barlab_nic_txq_start(priv, &txq);
	writel(BLN_CTRL_ENABLE, priv->regs + BLN_CTRL);
	errors = barlab_nic_dma_errors(priv);
	refused = barlab_nic_iso_cases(priv, &txq, bad);
	errors = barlab_nic_dma_errors(priv) - errors;
	barlab_nic_hw_reset(priv);

	for (i = 0; i < PAGE_SIZE; i++)
		changed += canary[i] != (u8)(0xa5 ^ (i * 0x3b));
	priv->iso = refused == BLN_ISO_CASES && errors == BLN_ISO_CASES && !changed ?
		    BLN_ISO_ISOLATED : BLN_ISO_NOT_ISOLATED;
	dev_info(dev, "DMA isolation: %s (%u of %u DMAs to IOVA %pa refused, dma-errors +%llu, canary %u bytes changed)\n",
		 barlab_nic_iso_names[priv->iso], refused, BLN_ISO_CASES, &bad,
		 errors, changed);
out:
	barlab_nic_txq_free(priv, &txq);
	__free_page(page);
}

static ssize_t wc_show(struct device *dev, struct device_attribute *attr,
		       char *buf)
{
	struct barlab_nic *priv = netdev_priv(dev_get_drvdata(dev));

	return sysfs_emit(buf, "%s\n", barlab_nic_wc_names[priv->wc]);
}
static DEVICE_ATTR_RO(wc);

static ssize_t wc_inline_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct barlab_nic *priv = netdev_priv(dev_get_drvdata(dev));

	return sysfs_emit(buf, "%u\n", priv->wc_inline);
}
static DEVICE_ATTR_RO(wc_inline);

static ssize_t dma_isolation_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	struct barlab_nic *priv = netdev_priv(dev_get_drvdata(dev));

	return sysfs_emit(buf, "%s\n", barlab_nic_iso_names[priv->iso]);
}
static DEVICE_ATTR_RO(dma_isolation);

static struct attribute *barlab_nic_attrs[] = {
	&dev_attr_wc.attr,
	&dev_attr_wc_inline.attr,
	&dev_attr_dma_isolation.attr,
	NULL,
};
ATTRIBUTE_GROUPS(barlab_nic);

static void barlab_nic_read_mac(struct barlab_nic *priv)
{
	u8 addr[ETH_ALEN];

	put_unaligned_le32(readl(priv->regs + BLN_MAC_LO), addr);
	put_unaligned_le16(readl(priv->regs + BLN_MAC_HI), addr + 4);
	if (is_valid_ether_addr(addr)) {
		eth_hw_addr_set(priv->netdev, addr);
	} else {
		dev_warn(&priv->pdev->dev, "invalid MAC %pM, using a random one\n",
			 addr);
		eth_hw_addr_random(priv->netdev);
	}
}

static void barlab_nic_unmap(struct barlab_nic *priv)
{
	if (priv->push)
		iounmap(priv->push);
	pci_iounmap(priv->pdev, priv->regs);
}

static int barlab_nic_map(struct barlab_nic *priv)
{
	struct pci_dev *pdev = priv->pdev;
	u32 id, version;

	if (!(pci_resource_flags(pdev, BLN_REGS_BAR) & IORESOURCE_MEM) ||
	    !(pci_resource_flags(pdev, BLN_PUSH_BAR) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, BLN_PUSH_BAR) < BLN_PUSH_PAGE_SIZE) {
		dev_err(&pdev->dev, "unexpected BARs\n");
		return -ENODEV;
	}
	priv->regs = pci_iomap(pdev, BLN_REGS_BAR, 0);
	if (!priv->regs)
		return -ENOMEM;
	id = readl(priv->regs + BLN_ID);
	version = readl(priv->regs + BLN_VERSION);
	if (id != BLN_ID_VALUE || version != BLN_VERSION_VALUE) {
		dev_err(&pdev->dev, "unknown device: ID 0x%08x version %u\n",
			id, version);
		barlab_nic_unmap(priv);
		return -ENODEV;
	}
	/* Write-combining, as mlx5_get_uars_page() maps a BlueFlame page. */
	priv->push = ioremap_wc(pci_resource_start(pdev, BLN_PUSH_BAR),
				BLN_PUSH_PAGE_SIZE);
	if (!priv->push) {
		barlab_nic_unmap(priv);
		return -ENOMEM;
	}
	return 0;
}

static int barlab_nic_probe(struct pci_dev *pdev,
			    const struct pci_device_id *id)
{
	struct net_device *netdev;
	struct barlab_nic *priv;
	int err;

	err = pci_enable_device_mem(pdev);
	if (err)
		return err;
	err = pci_request_mem_regions(pdev, KBUILD_MODNAME);
	if (err)
		goto err_disable;
	err = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (err) {
		dev_err(&pdev->dev, "no 64-bit DMA\n");
		goto err_release;
	}

	netdev = alloc_etherdev(sizeof(*priv));
	if (!netdev) {
		err = -ENOMEM;
		goto err_release;
	}
	SET_NETDEV_DEV(netdev, &pdev->dev);
	pci_set_drvdata(pdev, netdev);
	priv = netdev_priv(netdev);
	priv->netdev = netdev;
	priv->pdev = pdev;
	u64_stats_init(&priv->stats.syncp);

	err = barlab_nic_map(priv);
	if (err)
		goto err_free_netdev;
	/* Stop whatever a previous owner left running before DMA is allowed. */
	barlab_nic_hw_reset(priv);
	pci_set_master(pdev);
	barlab_nic_read_mac(priv);

	err = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
	if (err < 0) {
		dev_err(&pdev->dev, "no MSI-X vector: %d\n", err);
		goto err_unmap;
	}

	barlab_nic_test_wc(priv);
	if (dma_isolation_test)
		barlab_nic_test_dma_isolation(priv);

	netdev->netdev_ops = &barlab_nic_netdev_ops;
	/* A tag would take a full frame past the device's 1514 bytes. */
	netdev->features |= NETIF_F_VLAN_CHALLENGED;
	netif_napi_add(netdev, &priv->napi, barlab_nic_poll);
	netif_carrier_off(netdev);
	err = register_netdev(netdev);
	if (err)
		goto err_napi;
	netdev_info(netdev, "barlab-nic %s, MAC %pM\n", pci_name(pdev),
		    netdev->dev_addr);
	return 0;

err_napi:
	netif_napi_del(&priv->napi);
	pci_free_irq_vectors(pdev);
err_unmap:
	barlab_nic_unmap(priv);
err_free_netdev:
	free_netdev(netdev);
err_release:
	pci_release_mem_regions(pdev);
err_disable:
	pci_disable_device(pdev);
	return err;
}

static void barlab_nic_remove(struct pci_dev *pdev)
{
	struct net_device *netdev = pci_get_drvdata(pdev);
	struct barlab_nic *priv = netdev_priv(netdev);

	unregister_netdev(netdev);
	netif_napi_del(&priv->napi);
	barlab_nic_hw_reset(priv);
	pci_free_irq_vectors(pdev);
	barlab_nic_unmap(priv);
	free_netdev(netdev);
	pci_release_mem_regions(pdev);
	pci_disable_device(pdev);
}

static const struct pci_device_id barlab_nic_ids[] = {
	{ PCI_DEVICE(BLN_PCI_VENDOR_QEMU, BLN_PCI_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, barlab_nic_ids);

static struct pci_driver barlab_nic_driver = {
	.name = KBUILD_MODNAME,
	.id_table = barlab_nic_ids,
	.probe = barlab_nic_probe,
	.remove = barlab_nic_remove,
	.dev_groups = barlab_nic_groups,
};
module_pci_driver(barlab_nic_driver);

MODULE_DESCRIPTION("barlab-nic Ethernet driver with a write-combining self-test");
MODULE_LICENSE("GPL");
