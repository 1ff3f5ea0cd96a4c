/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-nic's PCI identity, register map, push page, descriptor,
 * completion and RX descriptor layouts and counters: one definition,
 * shared by the device (nic.c), the qtests and fuzzer that drive it and
 * the bare-metal payloads (target-tests/payloads).  Plain constants: no
 * QEMU headers.  The Linux driver (guest-drivers/barlab_nic.c) keeps its
 * own BLN_* names in kernel style; barlab.regmaps (tests/cli) compares
 * them with this file.  The spec is docs/specs/barlab-nic.rst.
 */
#ifndef BARLAB_NIC_REGS_H
#define BARLAB_NIC_REGS_H

#define BARLAB_NIC_VENDOR_ID    0x1234
#define BARLAB_NIC_DEVICE_ID    0xba02
#define BARLAB_NIC_REGS_BAR     0
#define BARLAB_NIC_PUSH_BAR     2
#define BARLAB_NIC_REGS_SIZE    0x1000

/* BAR0 registers, 32 bits wide (docs/specs/barlab-nic.rst) */
#define REG_ID                  0x000
#define REG_VERSION             0x004
#define REG_CTRL                0x008
#define REG_STATUS              0x00c
#define REG_INT_CAUSE           0x010
#define REG_INT_MASK            0x014
#define REG_LINK                0x018
#define REG_TX_BASE_LO          0x020
#define REG_TX_BASE_HI          0x024
#define REG_TX_SIZE             0x028
#define REG_TX_HEAD             0x02c
#define REG_TX_TAIL             0x030
#define REG_RX_BASE_LO          0x040
#define REG_RX_BASE_HI          0x044
#define REG_RX_SIZE             0x048
#define REG_RX_HEAD             0x04c
#define REG_RX_TAIL             0x050
#define REG_CQ_BASE_LO          0x060
#define REG_CQ_BASE_HI          0x064
#define REG_CQ_SIZE             0x068
#define REG_CQ_HEAD             0x06c
#define REG_CQ_TAIL             0x070
#define REG_MAC_LO              0x080
#define REG_MAC_HI              0x084
#define REG_PUSH_SIZE           0x088
#define REG_PORT_FLUSH          0x08c
#define REG_COUNTERS            0x100   /* 64-bit counters as LO/HI pairs */
#define REG_CNT(c)              (REG_COUNTERS + 8 * (c))    /* c: CNT_* */
#define REG_MSIX_TABLE          0x800
#define REG_MSIX_PBA            0xc00

#define BARLAB_NIC_ID           0x314e4c42      /* "BLN1" */
#define BARLAB_NIC_VERSION      1
#define CTRL_ENABLE             (1u << 0)
#define CTRL_RESET              (1u << 1)
#define CTRL_IRQ_MSIX           (1u << 2)
#define STATUS_TX_ERROR         (1u << 0)
#define STATUS_RX_ERROR         (1u << 1)
#define STATUS_RING_ERROR       (1u << 2)
#define STATUS_CQ_ERROR         (1u << 3)
#define STATUS_PUSH_ERROR       (1u << 4)
#define INT_TX_DONE             (1u << 0)
#define INT_RX                  (1u << 1)
#define INT_ERROR               (1u << 2)
#define INT_LINK                (1u << 3)
#define INT_ALL                 0xf

#define RING_MAX_ENTRIES        4096

/* BAR2: push pages; each starts with a control line, then 63 slots. */
#define PUSH_PAGE_SIZE          0x1000
#define PUSH_SLOT_SIZE          64
#define PUSH_DOORBELL           0x000
#define PUSH_STATUS             0x008
#define PUSH_SLOT_DOORBELL      0x010   /* write k: run what slot k holds */
#define PUSH_SLOTS              (PUSH_PAGE_SIZE / PUSH_SLOT_SIZE - 1)
/* push-size, the BAR's size: a power of two from one page to this */
#define PUSH_SIZE_MAX           0x1000000

/* TX descriptor: 64 bytes, little endian */
#define DESC_SIZE               64
#define DESC_OPCODE             0x00    /* u8 */
#define DESC_FLAGS              0x01    /* u8 */
#define DESC_INDEX              0x02    /* u16 */
#define DESC_LEN                0x04    /* u16 */
#define DESC_COOKIE             0x08    /* u64, echoed in the completion */
#define DESC_ADDR               0x10    /* u64 buffer, or the data inline */
#define DESC_INLINE_MAX         (DESC_SIZE - DESC_ADDR)
#define OP_NOP                  0
#define OP_SEND                 1
#define DFLAG_COMPLETION        (1u << 0)
#define DFLAG_INLINE_DATA       (1u << 1)
#define DFLAG_HOLD              (1u << 2)   /* waits for SLOT_DOORBELL */

/* Completion: 16 bytes */
#define CQE_SIZE                16
#define CQE_INLINE              (1u << 0)   /* executed from the push page */
#define CQE_PHASE               (1u << 7)
#define CQE_OK                  0
#define CQE_BAD_OPCODE          1
#define CQE_BAD_LENGTH          2
#define CQE_DMA_ERROR           3

/* RX descriptor: 16 bytes */
#define RXD_SIZE                16
#define RXD_ADDR                0x00    /* u64 */
#define RXD_BUF_LEN             0x08    /* u16 */
#define RXD_LEN                 0x0a    /* u16, written by the device */
#define RXD_FLAGS               0x0c    /* u16, written by the device */
#define RXD_DONE                (1u << 0)
#define RXD_ERROR               (1u << 1)

#define ETH_HEADER_LEN          14
#define ETH_FRAME_MAX           1514

enum {
    CNT_TX_FRAMES, CNT_TX_INLINE, CNT_TX_FALLBACK, CNT_TX_NOPS,
    CNT_COMPLETIONS, CNT_RX_FRAMES, CNT_RX_DROPPED, CNT_ERRORS,
    CNT_TX_LATE, CNT_DMA_ERRORS, CNT_TX_STALE,
    CNT_COUNT,
};

/* The counters' names, as QOM properties of the device */
static const char *const barlab_nic_counter_names[CNT_COUNT] = {
    "tx-frames", "tx-inline", "tx-fallback", "tx-nops",
    "completions", "rx-frames", "rx-dropped", "errors",
    "tx-late", "dma-errors", "tx-stale",
};

#endif /* BARLAB_NIC_REGS_H */
