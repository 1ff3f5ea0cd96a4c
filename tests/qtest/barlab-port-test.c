/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QTest for the barlab port's reorder and speculation models and for the
 * checker's verdicts, with a real vCPU.  Each run boots -M virt -cpu max
 * under TCG with barlab-nic; an 126-word aarch64 program (below)
 * turns the MMU on at EL1 with barlab-nic's push pages mapped with the
 * memory type the test chose, and runs one driver idiom against them.  The
 * test then reads the per-rule verdict counters over QMP, what the program
 * read, the device's counters, and the trace.  Seeds make every run
 * reproducible.  Specs: docs/specs/barlab-port.rst, barlab-nic.rst.
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/pci.h"
#include "libqos/generic-pcihost.h"
#include "barlab-qtest.h"
#include "nic-regs.h"
#include "memtype/rules.h"
#include "memtype/trace.h"

#define PUSH_SLOT0      PUSH_SLOT_SIZE  /* the first slot after the control line */

/*
 * The program runs from flash (-bios, at 0, where the CPU starts); guest
 * RAM of -M virt starts at 1 GiB: data, tables, rings.
 */
#define DATA            0x40001000ULL
#define L1_TABLE        0x40010000ULL
#define L2_TABLE        0x40011000ULL
#define L3_TABLE        0x40012000ULL
#define TX_RING         0x40100000ULL
#define CQ_RING         0x40101000ULL

/* The program's data block (DATA), read at start and written at the end. */
#define D_PATTERN       0x00    /* which idiom: Pattern */
#define D_PUSH          0x08    /* push BAR address (identity mapped) */
#define D_DONE          0x10    /* the program writes 1 after a DSB SY */
#define D_RESULT        0x18    /* what the program read, if it reads */
#define D_VALUE         0x28    /* the doorbell value (new TX tail) */
#define D_ALIAS         0x30    /* a second mapping of push page 0 */
#define D_REGS          0x38    /* BAR0's address (identity mapped) */
#define D_DESC          0x40    /* 64 bytes: the descriptor it copies */

/* The program's MAIR_EL1 (0x00080200040c44ff), by attribute index. */
enum {
    AI_WB,          /* 0xff Normal Write-Back: RAM */
    AI_NC,          /* 0x44 Normal Non-cacheable: ioremap_wc() */
    AI_GRE,         /* 0x0c Device-GRE */
    AI_NGNRE,       /* 0x04 Device-nGnRE: ioremap() */
    AI_NGNRNE,      /* 0x00 Device-nGnRnE */
    AI_RESERVED,    /* 0x02 UNPREDICTABLE: 0000dd1x */
};

/* The idioms, in the order of the program's branch table. */
typedef enum {
    PAT_DESC_DB,            /* descriptor to slot 0, doorbell, no barrier */
    PAT_DESC_DMB_DB,        /* the same with DMB OSHST before the doorbell */
    PAT_DESC_DSB_DB,        /* the same with DSB ST */
    PAT_BF_WITH_DB,         /* a 64-byte copy over the doorbell's line */
    PAT_DB_ALONE,           /* the doorbell alone, then DSB ST */
    PAT_READ_THEN_STATUS,   /* read offset 0, then STATUS (offset 8) */
    PAT_STORE_PAGE1,        /* one store to page 1 */
    PAT_ADJACENT,           /* stores to +0x48 and +0x50 */
    PAT_TWO_LINES,          /* stores to +0x48 and +0x88 */
    PAT_ALIAS,              /* +0x48, then +0x48 through the alias */
    PAT_STORE_DMB_STORE,    /* +0x48, DMB OSHST, +0x88 */
    PAT_LOAD,               /* a load of +0x48 */
    PAT_TWO_POSTS,          /* descriptor 0 to slot 0, descriptor 1 to slot 1 */
    PAT_TWO_POSTS_DSB,      /* the same with DSB ST between the posts */
    PAT_REGS_READ,          /* BAR0: read CTRL, then STATUS */
} Pattern;

/*
 * The program (aarch64-linux-gnu-as; position-independent, it runs at 0):
 * MMU on with the tables at L1_TABLE (T0SZ 25, 4 KiB granule), x20 = push BAR,
 * x10 = D_VALUE, then the pattern; "done" orders everything with DSB SY
 * before it writes D_DONE, and sleeps.
 */
static const uint32_t program[] = {
    /* _start: */
    0x58000e95,   /* ldr x21, =DATA               */
    0x58000ea0,   /* ldr x0, =MAIR_VALUE          */
    0xd518a200,   /* msr mair_el1, x0             */
    0x58000ea0,   /* ldr x0, =TCR_VALUE           */
    0xd5182040,   /* msr tcr_el1, x0              */
    0x58000ea0,   /* ldr x0, =L1_TABLE            */
    0xd5182000,   /* msr ttbr0_el1, x0            */
    0xd5033fdf,   /* isb                          */
    0xd508871f,   /* tlbi vmalle1                 */
    0xd5033f9f,   /* dsb sy                       */
    0xd5033fdf,   /* isb                          */
    0x58000e20,   /* ldr x0, =SCTLR_VALUE         */
    0xd5181000,   /* msr sctlr_el1, x0            */
    0xd5033fdf,   /* isb                          */
    0xf94006b4,   /* ldr x20, [x21, #8]           */
    0xf94016aa,   /* ldr x10, [x21, #40]          */
    0xf94002a1,   /* ldr x1, [x21]                */
    0x10000062,   /* adr x2, table                */
    0x8b010842,   /* add x2, x2, x1, lsl #2       */
    0xd61f0040,   /* br x2                        */
    /* table: */
    0x1400001c,   /* b pat_desc_db                */
    0x1400001f,   /* b pat_desc_dmb_db            */
    0x14000023,   /* b pat_desc_dsb_db            */
    0x14000027,   /* b pat_bf_with_db             */
    0x14000029,   /* b pat_db_alone               */
    0x1400002b,   /* b pat_read_then_status       */
    0x1400002e,   /* b pat_store_page1            */
    0x1400002f,   /* b pat_adjacent               */
    0x14000031,   /* b pat_two_lines              */
    0x14000033,   /* b pat_alias                  */
    0x14000036,   /* b pat_store_dmb_store        */
    0x14000039,   /* b pat_load                   */
    0x1400003b,   /* b pat_two_posts              */
    0x14000041,   /* b pat_two_posts_dsb          */
    0x14000048,   /* b pat_regs_read              */
    /* copy_desc: */
    0xa9440ea2,   /* ldp x2, x3, [x21, #64]       */
    0xa94516a4,   /* ldp x4, x5, [x21, #80]       */
    0xa9461ea6,   /* ldp x6, x7, [x21, #96]       */
    0xa94726a8,   /* ldp x8, x9, [x21, #112]      */
    0xf9000002,   /* str x2, [x0]                 */
    0xf9000403,   /* str x3, [x0, #8]             */
    0xf9000804,   /* str x4, [x0, #16]            */
    0xf9000c05,   /* str x5, [x0, #24]            */
    0xf9001006,   /* str x6, [x0, #32]            */
    0xf9001407,   /* str x7, [x0, #40]            */
    0xf9001808,   /* str x8, [x0, #48]            */
    0xf9001c09,   /* str x9, [x0, #56]            */
    0xd65f03c0,   /* ret                          */
    /* pat_desc_db: */
    0x91010280,   /* add x0, x20, #0x40           */
    0x97fffff2,   /* bl copy_desc                 */
    0xb900028a,   /* str w10, [x20]               */
    0x1400003c,   /* b done                       */
    /* pat_desc_dmb_db: */
    0x91010280,   /* add x0, x20, #0x40           */
    0x97ffffee,   /* bl copy_desc                 */
    0xd50332bf,   /* dmb oshst                    */
    0xb900028a,   /* str w10, [x20]               */
    0x14000037,   /* b done                       */
    /* pat_desc_dsb_db: */
    0x91010280,   /* add x0, x20, #0x40           */
    0x97ffffe9,   /* bl copy_desc                 */
    0xd5033e9f,   /* dsb st                       */
    0xb900028a,   /* str w10, [x20]               */
    0x14000032,   /* b done                       */
    /* pat_bf_with_db: */
    0xaa1403e0,   /* mov x0, x20                  */
    0x97ffffe4,   /* bl copy_desc                 */
    0x1400002f,   /* b done                       */
    /* pat_db_alone: */
    0xb900028a,   /* str w10, [x20]               */
    0xd5033e9f,   /* dsb st                       */
    0x1400002c,   /* b done                       */
    /* pat_read_then_status: */
    0xb9400282,   /* ldr w2, [x20]                */
    0xb9400a83,   /* ldr w3, [x20, #8]            */
    0xf9000ea3,   /* str x3, [x21, #24]           */
    0x14000028,   /* b done                       */
    /* pat_store_page1: */
    0xf908268a,   /* str x10, [x20, #4168]        */
    0x14000026,   /* b done                       */
    /* pat_adjacent: */
    0xf900268a,   /* str x10, [x20, #72]          */
    0xf9002a8a,   /* str x10, [x20, #80]          */
    0x14000023,   /* b done                       */
    /* pat_two_lines: */
    0xf900268a,   /* str x10, [x20, #72]          */
    0xf900468a,   /* str x10, [x20, #136]         */
    0x14000020,   /* b done                       */
    /* pat_alias: */
    0xf9401ab6,   /* ldr x22, [x21, #48]          */
    0xf900268a,   /* str x10, [x20, #72]          */
    0xf90026ca,   /* str x10, [x22, #72]          */
    0x1400001c,   /* b done                       */
    /* pat_store_dmb_store: */
    0xf900268a,   /* str x10, [x20, #72]          */
    0xd50332bf,   /* dmb oshst                    */
    0xf900468a,   /* str x10, [x20, #136]         */
    0x14000018,   /* b done                       */
    /* pat_load: */
    0xf9402683,   /* ldr x3, [x20, #72]           */
    0xf9000ea3,   /* str x3, [x21, #24]           */
    0x14000015,   /* b done                       */
    /* pat_two_posts: */
    0x91010280,   /* add x0, x20, #0x40           */
    0x97ffffc7,   /* bl copy_desc                 */
    0x5280002b,   /* mov w11, #0x1                */
    0x790086ab,   /* strh w11, [x21, #66]         */
    0x91020280,   /* add x0, x20, #0x80           */
    0x97ffffc3,   /* bl copy_desc                 */
    0x1400000e,   /* b done                       */
    /* pat_two_posts_dsb: */
    0x91010280,   /* add x0, x20, #0x40           */
    0x97ffffc0,   /* bl copy_desc                 */
    0xd5033e9f,   /* dsb st                       */
    0x5280002b,   /* mov w11, #0x1                */
    0x790086ab,   /* strh w11, [x21, #66]         */
    0x91020280,   /* add x0, x20, #0x80           */
    0x97ffffbb,   /* bl copy_desc                 */
    0x14000006,   /* b done                       */
    /* pat_regs_read: */
    0xf9401eb7,   /* ldr x23, [x21, #56]          */
    0xb9400ae2,   /* ldr w2, [x23, #8]            */
    0xb9400ee3,   /* ldr w3, [x23, #12]           */
    0xf9000ea3,   /* str x3, [x21, #24]           */
    0x14000001,   /* b done                       */
    /* done: */
    0xd5033f9f,   /* dsb sy                       */
    0xd2800020,   /* mov x0, #0x1                 */
    0xf9000aa0,   /* str x0, [x21, #16]           */
    0xd503207f,   /* wfi                          */
    0x17ffffff,   /* b 1b                         */
    0x40001000,   /* DATA                         */
    0x00000000,
    0x040c44ff,   /* MAIR_VALUE 0x00080200040c44ff */
    0x00080200,
    0x00803519,   /* TCR_VALUE 0x200803519        */
    0x00000002,
    0x40010000,   /* L1_TABLE                     */
    0x00000000,
    0x30d01805,   /* SCTLR_VALUE 0x30d01805       */
    0x00000000,
};

typedef struct {
    const char *mode;       /* port-mode */
    const char *props;      /* more barlab-nic properties, or "" */
    Pattern pattern;
    unsigned page0, page1;  /* attribute index of push page 0, the others */
    uint32_t status;        /* STATUS bits to raise before the run */
    unsigned alias;         /* attribute index of the alias of page 0 */
    unsigned regs;          /* attribute index of BAR0 (0: not mapped) */
} Run;

typedef struct {
    uint64_t rule[MT_RULE__COUNT];  /* push-violations-<id> */
    uint64_t violations, speculative, reordered;
    uint64_t tx_inline, tx_fallback, tx_late;
    uint64_t regs_x1;               /* regs-violations-X1 */
    uint64_t result;                /* D_RESULT */
    uint32_t status;                /* BAR0 STATUS after the run */
    uint64_t trace_verdicts;        /* transactions the trace judged bad */
    GString *trace;                 /* one line per judged transaction */
} Outcome;

static void nic_found(QPCIDevice *dev, int devfn, void *data)
{
    *(QPCIDevice **)data = dev;
}

static void put_u64(QTestState *qts, uint64_t addr, uint64_t v)
{
    qtest_writeq(qts, addr, v);
}

/*
 * Identity map: GiB 1 (RAM) and the 2 MiB of flash at 0 that hold the
 * program as Write-Back blocks; the 2 MiB around the
 * push BAR in 4 KiB pages, page 0 of the BAR with @page0, the rest of
 * the BAR with @page1; the page after the BAR as an alias of its page 0
 * with @alias; nothing else.  Returns the alias's address.
 */
static uint64_t map(QTestState *qts, uint64_t push, uint64_t size,
                    unsigned page0, unsigned page1, unsigned alias,
                    uint64_t regs, unsigned regs_ai)
{
    const uint64_t af = 1 << 10, sh_inner = 3 << 8, sh_outer = 2 << 8;
    uint64_t block2m = push & ~((2ULL << 20) - 1);

    qtest_memset(qts, L1_TABLE, 0, 3 * 4096);
    g_assert_cmpuint(push + size, <=, 1ULL << 30);
    put_u64(qts, L1_TABLE, L2_TABLE | 3);
    put_u64(qts, L2_TABLE, 0 | af | sh_inner | AI_WB << 2 | 1);
    put_u64(qts, L1_TABLE + 8, 0x40000000ULL | af | sh_inner | AI_WB << 2 | 1);
    put_u64(qts, L2_TABLE + (push >> 21) * 8, L3_TABLE | 3);
    for (uint64_t a = push; a < push + size; a += 4096) {
        unsigned ai = a == push ? page0 : page1;

        put_u64(qts, L3_TABLE + ((a - block2m) >> 12) * 8,
                a | af | sh_outer | ai << 2 | 3);
    }
    if (regs_ai) {
        g_assert_cmpuint(regs & ~((2ULL << 20) - 1), ==, block2m);
        put_u64(qts, L3_TABLE + ((regs - block2m) >> 12) * 8,
                regs | af | sh_outer | regs_ai << 2 | 3);
    }
    g_assert_cmpuint(push + size, <, block2m + (2ULL << 20));
    put_u64(qts, L3_TABLE + ((push + size - block2m) >> 12) * 8,
            push | af | sh_outer | alias << 2 | 3);
    return push + size;
}

static uint64_t qom_rule(QTestState *qts, unsigned rule)
{
    g_autofree char *prop = g_strdup_printf("push-violations-%s",
                                            mt_rule(rule)->id);

    return barlab_qom_u64(qts, prop);
}

/* The judged transactions of @path, one line each, and their count. */
static void read_trace(const char *path, Outcome *o)
{
    char err[256], ids[MT_RULE_MASK_STR];
    MtTraceReader *r;
    MtTraceRecord rec;
    int ret;

    o->trace = g_string_new("");
    g_assert_cmpint(mt_trace_reader_open(&r, path, err, sizeof(err)), ==, 0);
    while ((ret = mt_trace_read(r, &rec, err, sizeof(err))) == 1) {
        const MtTxn *t = &rec.txn;

        if (rec.type != MT_REC_TXN || (t->flags & MT_TXN_UNTYPED)) {
            continue;
        }
        g_string_append_printf(o->trace, "%c 0x%" PRIx64 "+%u seq %" PRIu64
                               "..%" PRIu64 "%s %s", t->flags & MT_TXN_WRITE ?
                               'W' : 'R', t->addr & 0xfff, t->size,
                               t->seq_first, t->seq_last,
                               t->flags & MT_TXN_SPECULATIVE ? " spec" : "",
                               t->verdict ? mt_rule_mask_str(t->verdict, ",",
                                                             ids) : "ok");
        if (t->verdict && t->verdict_seq != MT_SEQ_NONE) {
            g_string_append_printf(o->trace, " after %" PRIu64,
                                   t->verdict_seq);
        }
        g_string_append_c(o->trace, '\n');
        o->trace_verdicts += t->verdict != 0;
    }
    g_assert_cmpint(ret, ==, 0);
    mt_trace_reader_close(r);
}

static void run(const Run *run, Outcome *o)
{
    g_autofree char *path = g_strdup_printf("%s/barlab-port-%d.bltrace",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *bios = g_strdup_printf("%s/barlab-port-%d.bin",
                                            g_get_tmp_dir(), getpid());
    uint8_t desc[64] = { 0, DFLAG_COMPLETION };     /* NOP, index 0 */
    QGenericPCIBus bus;
    QPCIDevice *dev = NULL;
    QPCIBar regs, push;
    uint64_t push_size;
    QTestState *qts;
    int i;

    memset(o, 0, sizeof(*o));
    g_assert(g_file_set_contents(bios, (const char *)program,
                                 sizeof(program), NULL));
    qts = qtest_initf("-M virt -cpu max -accel tcg -S -nodefaults -bios %s "
                      "-device barlab-nic,port-mode=%s,gather-timeout-ns=0,"
                      "trace=%s%s", bios, run->mode, path, run->props);
    unlink(bios);
    qpci_init_generic(&bus, qts, NULL, false);
    qpci_device_foreach(&bus.bus, BARLAB_NIC_VENDOR_ID, BARLAB_NIC_DEVICE_ID, nic_found, &dev);
    g_assert(dev);
    qpci_device_enable(dev);
    regs = qpci_iomap(dev, 0, NULL);
    push = qpci_iomap(dev, 2, &push_size);

    /* TX ring of 8 with descriptors 0 and 1 in it, completions, enabled */
    qpci_io_writel(dev, regs, REG_TX_BASE_LO, (uint32_t)TX_RING);
    qpci_io_writel(dev, regs, REG_TX_SIZE, 8);
    qpci_io_writel(dev, regs, REG_CQ_BASE_LO, (uint32_t)CQ_RING);
    qpci_io_writel(dev, regs, REG_CQ_SIZE, 16);
    qpci_io_writel(dev, regs, REG_CTRL, CTRL_ENABLE);
    qtest_memwrite(qts, TX_RING, desc, sizeof(desc));
    desc[2] = 1;
    qtest_memwrite(qts, TX_RING + 64, desc, sizeof(desc));
    desc[2] = 0;
    if (run->status & STATUS_PUSH_ERROR) {
        qpci_io_writel(dev, push, 0x18, 1);     /* a push error */
    }

    put_u64(qts, DATA + D_ALIAS, map(qts, push.addr, push_size, run->page0,
                                     run->page1, run->alias, regs.addr,
                                     run->regs));
    put_u64(qts, DATA + D_REGS, regs.addr);
    put_u64(qts, DATA + D_PATTERN, run->pattern);
    put_u64(qts, DATA + D_PUSH, push.addr);
    put_u64(qts, DATA + D_DONE, 0);
    put_u64(qts, DATA + D_RESULT, UINT64_MAX);
    put_u64(qts, DATA + D_VALUE, 1);
    qtest_memwrite(qts, DATA + D_DESC, desc, sizeof(desc));

    qtest_qmp_assert_success(qts, "{'execute': 'cont'}");
    for (i = 0; i < 10000 && !qtest_readq(qts, DATA + D_DONE); i++) {
        g_usleep(1000);
    }
    g_assert_cmpuint(qtest_readq(qts, DATA + D_DONE), ==, 1);
    /* what a port-unsafe=on barrier left in the port */
    qpci_io_writel(dev, regs, REG_PORT_FLUSH, 1);

    for (unsigned r = MT_RULE_VERDICT_FIRST; r <= MT_RULE_VERDICT_LAST; r++) {
        o->rule[r] = qom_rule(qts, r);
    }
    o->violations = barlab_qom_u64(qts, "push-violations");
    o->speculative = barlab_qom_u64(qts, "push-speculative");
    o->reordered = barlab_qom_u64(qts, "push-reordered");
    o->tx_inline = barlab_qom_u64(qts, "tx-inline");
    o->tx_fallback = barlab_qom_u64(qts, "tx-fallback");
    o->tx_late = barlab_qom_u64(qts, "tx-late");
    o->regs_x1 = barlab_qom_u64(qts, "regs-violations-X1");
    o->result = qtest_readq(qts, DATA + D_RESULT);
    o->status = qpci_io_readl(dev, regs, REG_STATUS);
    g_free(dev);
    qtest_quit(qts);

    read_trace(path, o);
    unlink(path);
    g_assert_cmpuint(o->trace_verdicts, ==, o->violations);
}

static void outcome_free(Outcome *o)
{
    g_string_free(o->trace, true);
}

/* Every verdict counter but @rule is 0; returns @rule's. */
static uint64_t only(const Outcome *o, unsigned rule)
{
    for (unsigned r = MT_RULE_VERDICT_FIRST; r <= MT_RULE_VERDICT_LAST; r++) {
        if (r != rule) {
            g_assert_cmpuint(o->rule[r], ==, 0);
        }
    }
    return rule < MT_RULE__COUNT ? o->rule[rule] : 0;
}

/* Seeds per case where a violation is possible; a fixed idiom runs fewer. */
#define SEEDS 8
#define FIXED_SEEDS 3

/*
 * Descriptor then doorbell in one push page with no barrier, Normal-NC,
 * reordering on: for some seeds the doorbell overtakes the descriptor.
 * The checker says X3 on the descriptor, naming the doorbell's access;
 * the device ran the ring copy by DMA and then dropped the late push
 * copy (tx-late).  For the other seeds the copy ran inline.  The same
 * seed always gives the same trace.
 */
static void test_doorbell_overtakes(void)
{
    unsigned hits = 0;

    for (unsigned seed = 1; seed <= SEEDS; seed++) {
        g_autofree char *mode = g_strdup_printf("reorder:%u", seed);
        Run r = { mode, "", PAT_DESC_DB, AI_NC, AI_NC };
        Outcome o, again;

        run(&r, &o);
        if (only(&o, MT_RULE_X_ORDERED)) {
            hits++;
            g_assert_cmpuint(o.rule[MT_RULE_X_ORDERED], ==, 1);
            g_assert_cmpuint(o.reordered, ==, 1);
            g_assert_cmpuint(o.tx_late, ==, 1);
            g_assert_cmpuint(o.tx_fallback, ==, 1);
            g_assert_cmpuint(o.tx_inline, ==, 0);
            g_assert_cmphex(o.status, ==, STATUS_TX_ERROR);
            /* the doorbell (access 9) arrived before the 8 descriptor stores */
            g_assert_cmpstr(o.trace->str, ==,
                            "W 0x0+4 seq 9..9 ok\n"
                            "W 0x40+64 seq 1..8 X3 after 9\n");
        } else {
            g_assert_cmpuint(o.tx_late, ==, 0);
            g_assert_cmpuint(o.tx_inline, ==, 1);
            g_assert_cmpuint(o.status, ==, 0);
            g_assert_cmpstr(o.trace->str, ==,
                            "W 0x40+64 seq 1..8 ok\n"
                            "W 0x0+4 seq 9..9 ok\n");
        }
        run(&r, &again);
        g_assert_cmpstr(again.trace->str, ==, o.trace->str);
        outcome_free(&again);
        outcome_free(&o);
    }
    g_test_message("doorbell overtook the descriptor for %u of %u seeds",
                   hits, SEEDS);
    g_assert_cmpuint(hits, >, 0);
    g_assert_cmpuint(hits, <, SEEDS);
}

/*
 * Two BlueFlame posts, each copy a doorbell for its descriptor, without a
 * barrier after the first (the wmb() barlab_nic_post() ends with): the
 * second copy may overtake the first.  X3 on the first copy, naming the
 * second's first access; the device runs descriptor 0 from the ring,
 * 1 inline, and drops the late copy of 0.  With DSB ST between: never.
 */
static void test_posts_overtake(void)
{
    unsigned hits = 0;

    for (unsigned seed = 1; seed <= SEEDS; seed++) {
        g_autofree char *mode = g_strdup_printf("reorder:%u", seed);
        Run r = { mode, "", PAT_TWO_POSTS, AI_NC, AI_NC };
        Run fixed = { mode, "", PAT_TWO_POSTS_DSB, AI_NC, AI_NC };
        Outcome o;

        run(&r, &o);
        if (only(&o, MT_RULE_X_ORDERED)) {
            hits++;
            g_assert_cmpuint(o.tx_late, ==, 1);
            g_assert_cmpuint(o.tx_inline, ==, 1);
            g_assert_cmpuint(o.tx_fallback, ==, 1);
            g_assert_cmpstr(o.trace->str, ==,
                            "W 0x80+64 seq 9..16 ok\n"
                            "W 0x40+64 seq 1..8 X3 after 9\n");
        } else {
            g_assert_cmpuint(o.tx_late, ==, 0);
            g_assert_cmpuint(o.tx_inline, ==, 2);
        }
        outcome_free(&o);
        if (seed <= FIXED_SEEDS) {
            run(&fixed, &o);
            g_assert_cmpuint(only(&o, MT_RULE__COUNT), ==, 0);
            g_assert_cmpuint(o.tx_inline, ==, 2);
            g_assert_cmpuint(o.tx_late, ==, 0);
            outcome_free(&o);
        }
    }
    g_test_message("the second post overtook the first for %u of %u seeds",
                   hits, SEEDS);
    g_assert_cmpuint(hits, >, 0);
}

/* The same idiom with DMB OSHST or DSB ST before the doorbell: never. */
static void test_barrier_orders_doorbell(void)
{
    static const Pattern fixed[] = { PAT_DESC_DMB_DB, PAT_DESC_DSB_DB };

    for (unsigned i = 0; i < ARRAY_SIZE(fixed); i++) {
        for (unsigned seed = 1; seed <= FIXED_SEEDS; seed++) {
            g_autofree char *mode = g_strdup_printf("reorder+speculate:%u",
                                                    seed);
            Run r = { mode, "", fixed[i], AI_NC, AI_NC };
            Outcome o;

            run(&r, &o);
            g_assert_cmpuint(only(&o, MT_RULE__COUNT), ==, 0);
            g_assert_cmpuint(o.reordered, ==, 0);
            g_assert_cmpuint(o.tx_inline, ==, 1);
            g_assert_cmpuint(o.tx_late, ==, 0);
            g_assert_cmpstr(o.trace->str, ==,
                            "W 0x40+64 seq 1..8 ok\n"
                            "W 0x0+4 seq 9..9 ok\n");
            outcome_free(&o);
        }
    }
}

/*
 * Device-nGnRE and -nGnRnE are non-Reordering (and non-Gathering): no
 * seed reorders, the copy arrives as eight stores, nothing is reported.
 */
static void test_device_never_reorders(void)
{
    static const unsigned types[] = { AI_NGNRE, AI_NGNRNE };

    for (unsigned i = 0; i < ARRAY_SIZE(types); i++) {
        for (unsigned seed = 1; seed <= FIXED_SEEDS; seed++) {
            g_autofree char *mode = g_strdup_printf("reorder+speculate:%u",
                                                    seed);
            Run r = { mode, "", PAT_DESC_DB, types[i], types[i] };
            Outcome o;

            run(&r, &o);
            g_assert_cmpuint(only(&o, MT_RULE__COUNT), ==, 0);
            g_assert_cmpuint(o.reordered, ==, 0);
            g_assert_cmpuint(o.tx_late, ==, 0);
            g_assert_cmpuint(o.tx_inline, ==, 0);
            g_assert_cmpuint(o.tx_fallback, ==, 1);
            g_assert_cmpuint(o.status, ==, 0);
            outcome_free(&o);
        }
    }
}

/*
 * A BlueFlame-style 64-byte copy over the control line gathers the
 * doorbell with seven other stores (X2) where the type gathers; the
 * doorbell written alone is legal; Device-nGnRE gathers nothing.
 */
static void test_doorbell_gathered(void)
{
    static const struct {
        Pattern pattern;
        unsigned type;
        uint64_t x2;
    } cases[] = {
        { PAT_BF_WITH_DB, AI_NC, 1 },
        { PAT_BF_WITH_DB, AI_GRE, 1 },
        { PAT_BF_WITH_DB, AI_NGNRE, 0 },
        { PAT_DB_ALONE, AI_NC, 0 },
        { PAT_DB_ALONE, AI_GRE, 0 },
    };

    for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
        Run r = { "gather", "", cases[i].pattern, cases[i].type,
                  cases[i].type };
        Outcome o;

        run(&r, &o);
        g_assert_cmpuint(only(&o, MT_RULE_X_NO_GATHER), ==, cases[i].x2);
        outcome_free(&o);
    }
}

/*
 * A read of offset 0 and then of STATUS through Normal-NC, speculation
 * on.  With push-status-rc=on (the device bug: a read-to-clear register
 * in a prefetchable BAR) some seeds fetch the rest of the first read's
 * line, STATUS with it: X1, and the program reads 0 where the device had
 * raised the push error.  Device-GRE is never read speculatively.  With
 * the default device, speculation happens and reads STATUS too, but
 * nothing is lost and nothing is reported: the prefetchable BAR keeps
 * PCIe's promise.
 */
static void test_speculation_loses_status(void)
{
    static const struct {
        const char *props;
        unsigned type;
        bool can_lose;
        unsigned seeds;
    } cases[] = {
        { ",push-status-rc=on", AI_NC, true, SEEDS },
        { ",push-status-rc=on", AI_GRE, false, FIXED_SEEDS },
        { "", AI_NC, false, SEEDS / 2 },
    };

    for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
        unsigned lost = 0, spec = 0;

        for (unsigned seed = 1; seed <= cases[i].seeds; seed++) {
            g_autofree char *mode = g_strdup_printf("speculate:%u", seed);
            Run r = { mode, cases[i].props, PAT_READ_THEN_STATUS,
                      cases[i].type, cases[i].type, STATUS_PUSH_ERROR };
            Outcome o;

            run(&r, &o);
            spec += o.speculative > 0;
            if (only(&o, MT_RULE_X_NO_SPEC)) {
                lost++;
                g_assert_cmphex(o.result, ==, 0);
            } else {
                g_assert_cmphex(o.result, ==, STATUS_PUSH_ERROR);
            }
            outcome_free(&o);
        }
        g_test_message("%s%s: status lost for %u of %u seeds, speculative "
                       "reads in %u", cases[i].type == AI_NC ? "Normal-NC"
                       : "Device-GRE", cases[i].props, lost, cases[i].seeds,
                       spec);
        g_assert_cmpuint(spec > 0, ==, cases[i].type == AI_NC);
        g_assert_cmpuint(lost > 0, ==, cases[i].can_lose);
    }
}

/*
 * BAR0 is not prefetchable and its STATUS is read-to-clear.  A guest that
 * maps it Device (ioremap(); under the prefetchable policy stage 2 keeps it
 * Device anyway) never loses a status bit.  A guest that maps it Normal-NC
 * (which the any policy lets through to the combined type) reads CTRL,
 * the line fill takes STATUS with it for some seeds: X1 on BAR0, and the
 * program reads 0 where the device had raised an error.
 */
static void test_register_bar_speculation(void)
{
    static const struct {
        unsigned type;
        bool can_lose;
    } cases[] = {
        { AI_NC, true }, { AI_NGNRE, false }, { AI_GRE, false },
    };

    for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
        unsigned lost = 0;

        for (unsigned seed = 1; seed <= (cases[i].can_lose ? SEEDS
                                                          : FIXED_SEEDS);
             seed++) {
            g_autofree char *mode = g_strdup_printf("speculate:%u", seed);
            Run r = { mode, "", PAT_REGS_READ, AI_NC, AI_NC, STATUS_PUSH_ERROR,
                      AI_WB, cases[i].type };
            Outcome o;

            run(&r, &o);
            g_assert_cmpuint(only(&o, MT_RULE__COUNT), ==, 0);
            if (o.regs_x1) {
                lost++;
                g_assert_cmpuint(o.regs_x1, ==, 1);
                g_assert_cmphex(o.result, ==, 0);
            } else {
                g_assert_cmphex(o.result, ==, STATUS_PUSH_ERROR);
            }
            outcome_free(&o);
        }
        g_test_message("BAR0 mapped %s: status lost for %u seeds",
                       cases[i].type == AI_NC ? "Normal-NC" : "Device", lost);
        g_assert_cmpuint(lost > 0, ==, cases[i].can_lose);
    }
}

/* A store made with a reserved MAIR encoding (0x02) is V7. */
static void test_reserved_type(void)
{
    Run bad = { "gather", "", PAT_STORE_PAGE1, AI_NC, AI_RESERVED };
    Run good = { "gather", "", PAT_STORE_PAGE1, AI_NC, AI_NC };
    Outcome o;

    run(&bad, &o);
    g_assert_cmpuint(only(&o, MT_RULE_V_RESERVED), ==, 1);
    outcome_free(&o);
    run(&good, &o);
    g_assert_cmpuint(only(&o, MT_RULE__COUNT), ==, 0);
    outcome_free(&o);
}

/*
 * The platform rules (V1 merging, V2 and V4 reordering, V3 same-address
 * order, V6 speculation of a Device type) are never broken by a faithful
 * port; port-unsafe=on makes it a broken interconnect that gathers every
 * type, reorders anything and ignores barriers and speculates on Device
 * types, so that each rule is seen firing, alone, for some seed.  The
 * same runs with a faithful port report nothing.
 */
static void test_broken_interconnect(void)
{
    static const struct {
        unsigned rule;
        const char *mode;
        Pattern pattern;
        unsigned type, alias;
    } cases[] = {
        { MT_RULE_V_GATHER, "gather", PAT_ADJACENT, AI_NGNRE, AI_WB },
        { MT_RULE_V_REORDER, "reorder", PAT_TWO_LINES, AI_NGNRE, AI_WB },
        { MT_RULE_V_SAME_ADDR, "reorder", PAT_ALIAS, AI_NC, AI_NGNRE },
        { MT_RULE_V_BARRIER, "reorder", PAT_STORE_DMB_STORE, AI_NC, AI_WB },
        { MT_RULE_V_SPEC_DEVICE, "speculate", PAT_LOAD, AI_NGNRE, AI_WB },
    };

    for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
        unsigned seed, hits = 0;

        for (seed = 1; seed <= SEEDS && !hits; seed++) {
            g_autofree char *mode = g_strdup_printf("%s:%u", cases[i].mode,
                                                    seed);
            Run broken = { mode, ",port-unsafe=on", cases[i].pattern,
                           cases[i].type, cases[i].type, 0, cases[i].alias };
            Run faithful = broken;
            Outcome o;

            if (!strcmp(cases[i].mode, "gather")) {
                broken.mode = faithful.mode = "gather";
            }
            faithful.props = "";
            run(&broken, &o);
            hits += only(&o, cases[i].rule) > 0;
            outcome_free(&o);
            if (seed <= 2) {
                run(&faithful, &o);
                g_assert_cmpuint(only(&o, MT_RULE__COUNT), ==, 0);
                outcome_free(&o);
            }
        }
        g_test_message("%s fired first for seed %u", mt_rule(cases[i].rule)->id,
                       seed - 1);
        g_assert_cmpuint(hits, >, 0);
    }
}

/* A bad port-mode stops QEMU with one line naming the value. */
static void test_bad_port_mode(void)
{
    static const struct {
        const char *mode, *msg;
    } cases[] = {
        { "fast", "port-mode must be exact, gather or reorder" },
        { "reorder:", "its seed must be a number" },
        { "reorder:12x", "its seed must be a number" },
        { "speculate:-1", "its seed must be a number" },
        { "gather:3", "gather takes no seed" },
        { "speculate+reorder:1", "port-mode must be" },
    };

    for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autofree char *dev = g_strdup_printf("barlab-nic,port-mode=%s",
                                               cases[i].mode);
        g_autofree char *err = NULL;
        const char *argv[] = {
            getenv("QTEST_QEMU_BINARY"), "-M", "virt", "-display", "none",
            "-nodefaults", "-device", dev, NULL,
        };
        const char *msg;
        int status;

        g_assert(g_spawn_sync(NULL, (char **)argv, NULL,
                              G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                              &err, &status, NULL));
        g_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        /*
         * A sanitizer build's run-time library may warn first ("==PID==",
         * ASan on QEMU's coroutines): that line is not QEMU's.
         */
        for (msg = err; g_str_has_prefix(msg, "==") && strchr(msg, '\n');) {
            msg = strchr(msg, '\n') + 1;
        }
        g_assert_nonnull(strstr(msg, cases[i].msg));
        g_assert_nonnull(strstr(msg, cases[i].mode));
        g_assert_cmpuint(strchr(msg, '\n') - msg + 1, ==, strlen(msg));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/barlab-port/doorbell-overtakes", test_doorbell_overtakes);
    qtest_add_func("/barlab-port/posts-overtake", test_posts_overtake);
    qtest_add_func("/barlab-port/barrier-orders-doorbell",
                   test_barrier_orders_doorbell);
    qtest_add_func("/barlab-port/device-never-reorders",
                   test_device_never_reorders);
    qtest_add_func("/barlab-port/doorbell-gathered", test_doorbell_gathered);
    qtest_add_func("/barlab-port/speculation-loses-status",
                   test_speculation_loses_status);
    qtest_add_func("/barlab-port/register-bar-speculation",
                   test_register_bar_speculation);
    qtest_add_func("/barlab-port/reserved-type", test_reserved_type);
    qtest_add_func("/barlab-port/broken-interconnect",
                   test_broken_interconnect);
    qtest_add_func("/barlab-port/bad-port-mode", test_bad_port_mode);
    return g_test_run();
}
