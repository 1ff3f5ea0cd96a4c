/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What nic.c and nicbench.c share about barlab-nic (spec:
 * docs/devices/barlab-nic.md) and about how they map it at EL2: RAM
 * Normal-WB, BAR0 and a push-page alias Device-nGnRE, the push pages
 * Normal-NC.
 */
#ifndef PAYLOAD_NICDEV_H
#define PAYLOAD_NICDEV_H

#include "libpl.h"

#define NIC_VENDOR 0x1234
#define NIC_DEVICE 0xba02

/* MAIR_EL2 slots */
#define IDX_RAM 0       /* Normal WB RAWA */
#define IDX_DEV 1       /* Device-nGnRE: UART, BAR0, the push alias */
#define IDX_NC 2        /* Normal-NC */
#define MAIR_VALUE (0xfful | 0x04ul << 8 | 0x44ul << 16)

/* Device-nGnRE aliases in otherwise unused VA space. */
#define DEV_ALIAS 0x80000000ul          /* BAR2's 2 MiB block */
#define REGS_ALIAS 0xa0000000ul         /* BAR0's 2 MiB block */

/* BAR0 registers */
#define REG_ID 0x000
#define REG_CTRL 0x008
#define REG_STATUS 0x00c
#define REG_TX_BASE_LO 0x020
#define REG_TX_BASE_HI 0x024
#define REG_TX_SIZE 0x028
#define REG_TX_HEAD 0x02c
#define REG_RX_BASE_LO 0x040
#define REG_RX_BASE_HI 0x044
#define REG_RX_SIZE 0x048
#define REG_RX_HEAD 0x04c
#define REG_RX_TAIL 0x050
#define REG_CQ_BASE_LO 0x060
#define REG_CQ_BASE_HI 0x064
#define REG_CQ_SIZE 0x068
#define REG_CQ_HEAD 0x06c
#define REG_CQ_TAIL 0x070
#define REG_MAC_LO 0x080
#define REG_MAC_HI 0x084
#define REG_CNT_TX_FRAMES 0x100
#define REG_CNT_TX_INLINE 0x108
#define REG_CNT_TX_FALLBACK 0x110
#define REG_CNT_TX_NOPS 0x118
#define REG_CNT_COMPLETIONS 0x120
#define REG_CNT_RX_FRAMES 0x128
#define REG_CNT_ERRORS 0x138
#define NIC_ID 0x314e4c42
#define CTRL_ENABLE 1u
#define CTRL_RESET 2u

#define OP_NOP 0
#define OP_SEND 1
#define F_COMPLETION 1u
#define F_INLINE_DATA 2u
#define CQE_INLINE 1u
#define CQE_PHASE 0x80u

struct cqe {
    u16 index;
    u8 opcode, flags;
    u16 len, status;
    u64 cookie;
};

/* The 64-byte descriptor as eight 8-byte STRs, then a DSB. */
static inline void push_str(u64 slot, const u64 *d)
{
    asm volatile("str %1, [%0, #0]\n\t"
                 "str %2, [%0, #8]\n\t"
                 "str %3, [%0, #16]\n\t"
                 "str %4, [%0, #24]\n\t"
                 "str %5, [%0, #32]\n\t"
                 "str %6, [%0, #40]\n\t"
                 "str %7, [%0, #48]\n\t"
                 "str %8, [%0, #56]\n\t"
                 "dsb sy"
                 : : "r"(slot), "r"(d[0]), "r"(d[1]), "r"(d[2]), "r"(d[3]),
                   "r"(d[4]), "r"(d[5]), "r"(d[6]), "r"(d[7])
                 : "memory");
}

/* BAR0, through its Device-nGnRE alias: set once the BAR is mapped. */
static u64 regs;

static inline u32 rd(u32 reg)
{
    return mmio_read32(regs + reg);
}

static inline void wr(u32 reg, u32 val)
{
    mmio_write32(regs + reg, val);
}

/* A 64-bit BAR0 counter, read as its LO and HI halves. */
static inline u64 counter(u32 reg)
{
    u32 lo = rd(reg), hi = rd(reg + 4);

    return (u64)hi << 32 | lo;
}

#endif /* PAYLOAD_NICDEV_H */
