/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What nic.c and nicbench.c share about barlab-nic (spec:
 * docs/specs/barlab-nic.rst) and about how they map it at EL2: RAM
 * Normal-WB, BAR0 and a push-page alias Device-nGnRE, the push pages
 * Normal-NC.
 */
#ifndef PAYLOAD_NICDEV_H
#define PAYLOAD_NICDEV_H

#include "libpl.h"
#include "nic-regs.h"


/* MAIR_EL2 slots */
#define IDX_RAM 0       /* Normal WB RAWA */
#define IDX_DEV 1       /* Device-nGnRE: UART, BAR0, the push alias */
#define IDX_NC 2        /* Normal-NC */
#define MAIR_VALUE (0xfful | 0x04ul << 8 | 0x44ul << 16)

/* Device-nGnRE aliases in otherwise unused VA space. */
#define DEV_ALIAS 0x80000000ul          /* BAR2's 2 MiB block */
#define REGS_ALIAS 0xa0000000ul         /* BAR0's 2 MiB block */

/* The frame nic_arp_request() builds */
#define ARP_FRAME_LEN 42

struct cqe {
    u16 index;
    u8 opcode, flags;
    u16 len, status;
    u64 cookie;
};

struct rxd {
    u64 addr;
    u16 buf_len, len, flags, rsvd;
};

/* A TX descriptor in @d (64 bytes); @data: @len bytes of inline frame. */
static inline void nic_make_desc(u64 *d, u8 op, u8 flags, u16 index, u16 len,
                                 u64 cookie, const u8 *data)
{
    u8 *b = (u8 *)d;

    memset(d, 0, 64);
    b[0] = op;
    b[1] = flags;
    b[2] = index & 0xff;
    b[3] = index >> 8;
    b[4] = len & 0xff;
    b[5] = len >> 8;
    d[1] = cookie;
    if (data) {
        memcpy(b + 16, data, len);
    }
}

/*
 * An ARP request from 10.0.2.15 (MAC @mac) for 10.0.2.2, slirp's gateway,
 * which answers it: ARP_FRAME_LEN bytes at @f.
 */
static inline void nic_arp_request(u8 *f, const u8 *mac)
{
    memset(f, 0xff, 6);                         /* broadcast */
    memcpy(f + 6, mac, 6);
    f[12] = 0x08, f[13] = 0x06;                 /* ARP */
    f[14] = 0x00, f[15] = 0x01;                 /* Ethernet */
    f[16] = 0x08, f[17] = 0x00;                 /* IPv4 */
    f[18] = 6, f[19] = 4;
    f[20] = 0x00, f[21] = 0x01;                 /* request */
    memcpy(f + 22, mac, 6);
    f[28] = 10, f[29] = 0, f[30] = 2, f[31] = 15;
    memset(f + 32, 0, 6);
    f[38] = 10, f[39] = 0, f[40] = 2, f[41] = 2;
}

/* Is the frame at @b (@len bytes) slirp's ARP reply to nic_arp_request()? */
static inline bool nic_is_arp_reply(const u8 *b, unsigned len, const u8 *mac)
{
    return len >= ARP_FRAME_LEN && b[12] == 0x08 && b[13] == 0x06 && b[21] == 2 &&
           b[28] == 10 && b[29] == 0 && b[30] == 2 && b[31] == 2 &&
           !strncmp((const char *)b, (const char *)mac, 6);
}

/* A push-slot copy's asm inputs: %0 the slot, %1-%8 the descriptor @d. */
#define PUSH_INPUTS(slot, d)                                            \
    "r"(slot), "r"((d)[0]), "r"((d)[1]), "r"((d)[2]), "r"((d)[3]),      \
    "r"((d)[4]), "r"((d)[5]), "r"((d)[6]), "r"((d)[7])

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
                 : : PUSH_INPUTS(slot, d) : "memory");
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

/* A 64-bit BAR0 value (a counter, a ring base), read as its LO and HI halves. */
static inline u64 counter(u32 reg)
{
    u32 lo = rd(reg), hi = rd(reg + 4);

    return (u64)hi << 32 | lo;
}

/* A ring at @addr of @entries: its BASE_LO register @base_reg, BASE_HI, SIZE. */
static inline void nic_set_ring(u32 base_reg, u64 addr, u32 entries)
{
    wr(base_reg, (u32)addr);
    wr(base_reg + 4, (u32)(addr >> 32));
    wr(base_reg + 8, entries);
}

/* The MAC address the device reports, into @mac (6 bytes). */
static inline void nic_read_mac(u8 *mac)
{
    u32 lo = rd(REG_MAC_LO), hi = rd(REG_MAC_HI);

    for (unsigned i = 0; i < 4; i++) {
        mac[i] = lo >> (8 * i);
    }
    mac[4] = hi, mac[5] = hi >> 8;
}

#endif /* PAYLOAD_NICDEV_H */
