/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QTest for barlab-gpu: registers, VRAM through the port, bad guest input
 * (logged, never fatal), the port counters over QMP, and a screendump.
 * Spec: docs/specs/barlab-gpu.rst.  Built inside the QEMU tree by
 * barlab.qemu; run by `scripts/barlab check qemu`.
 */
#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci.h"
#include "barlab-qtest.h"
#include "libqos/generic-pcihost.h"
#include "qobject/qdict.h"
#include "memtype/trace.h"
#include "barlab-gpu.h"

typedef struct {
    QTestState *qts;
    QGenericPCIBus bus;
    QPCIDevice *dev;
    QPCIBar regs, vram;
    uint64_t regs_size, vram_size;
} Gpu;

static void gpu_found(QPCIDevice *dev, int devfn, void *data)
{
    *(QPCIDevice **)data = dev;
}

static void gpu_start(Gpu *g, const char *extra)
{
    g->qts = qtest_initf("-M virt -nodefaults -device barlab-gpu%s",
                         extra ? extra : "");
    qpci_init_generic(&g->bus, g->qts, NULL, false);
    g->dev = NULL;
    qpci_device_foreach(&g->bus.bus, GPU_VENDOR_ID, GPU_DEVICE_ID, gpu_found,
                        &g->dev);
    g_assert(g->dev);
    qpci_device_enable(g->dev);
    g->regs = qpci_iomap(g->dev, GPU_REGS_BAR, &g->regs_size);
    g->vram = qpci_iomap(g->dev, 2, &g->vram_size);
}

static void gpu_stop(Gpu *g)
{
    g_free(g->dev);
    qtest_quit(g->qts);
}

static void test_registers(void)
{
    Gpu g;

    gpu_start(&g, NULL);
    g_assert_cmphex(qpci_io_readl(g.dev, g.regs, GPU_REG_ID), ==, 0x31474c42);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_VERSION), ==,
                     GPU_VERSION);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_VRAM_SIZE_LO), ==,
                     16 << 20);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_VRAM_SIZE_HI), ==, 0);
    g_assert_cmpuint(g.vram_size, ==, 16 << 20);
    qpci_io_writel(g.dev, g.regs, GPU_REG_WIDTH, 640);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_WIDTH), ==, 640);
    gpu_stop(&g);
}

static void test_vram(void)
{
    Gpu g;
    uint8_t buf[64], back[64];

    gpu_start(&g, NULL);
    for (int i = 0; i < sizeof(buf); i++) {
        buf[i] = i * 7 + 1;
    }
    qpci_memwrite(g.dev, g.vram, 0x1000, buf, sizeof(buf));
    qpci_memread(g.dev, g.vram, 0x1000, back, sizeof(back));
    g_assert_cmpmem(buf, sizeof(buf), back, sizeof(back));

    qpci_io_writeq(g.dev, g.vram, g.vram_size - 8, 0x1122334455667788ULL);
    g_assert_cmphex(qpci_io_readq(g.dev, g.vram, g.vram_size - 8), ==,
                    0x1122334455667788ULL);
    qpci_io_writeb(g.dev, g.vram, 3, 0xab);
    g_assert_cmphex(qpci_io_readb(g.dev, g.vram, 3), ==, 0xab);

    /* qtest accesses carry no CPU memory type: untyped, passed through */
    g_assert_cmpuint(barlab_qom_u64(g.qts, "vram-untyped"), ==,
                     barlab_qom_u64(g.qts, "vram-accesses"));
    g_assert_cmpuint(barlab_qom_u64(g.qts, "vram-txns"), ==,
                     barlab_qom_u64(g.qts, "vram-accesses"));
    g_assert_cmpuint(barlab_qom_u64(g.qts, "vram-violations"), ==, 0);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, (GPU_REG_COUNTERS + 8)), ==,
                     barlab_qom_u64(g.qts, "vram-txns"));
    gpu_stop(&g);
}

static void test_bad_guest_input(void)
{
    Gpu g;

    gpu_start(&g, NULL);
    /* unknown and read-only registers: logged, harmless */
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, 0xffc), ==, 0);
    qpci_io_writel(g.dev, g.regs, GPU_REG_ID, 0);
    qpci_io_writel(g.dev, g.regs, 0x800, 0xdead);
    g_assert_cmphex(qpci_io_readl(g.dev, g.regs, GPU_REG_ID), ==, 0x31474c42);

    /* a mode that would scan out past the end of VRAM is refused */
    qpci_io_writel(g.dev, g.regs, GPU_REG_WIDTH, 4096);
    qpci_io_writel(g.dev, g.regs, GPU_REG_HEIGHT, 4096);
    qpci_io_writel(g.dev, g.regs, GPU_REG_STRIDE, 4096 * 4);
    qpci_io_writel(g.dev, g.regs, GPU_REG_OFFSET_LO, 0x100000);
    qpci_io_writel(g.dev, g.regs, GPU_REG_CTRL, 1);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_STATUS), ==, 2);
    /* a stride shorter than a line, an unknown format */
    qpci_io_writel(g.dev, g.regs, GPU_REG_WIDTH, 64);
    qpci_io_writel(g.dev, g.regs, GPU_REG_HEIGHT, 64);
    qpci_io_writel(g.dev, g.regs, GPU_REG_OFFSET_LO, 0);
    qpci_io_writel(g.dev, g.regs, GPU_REG_STRIDE, 16);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_STATUS), ==, 2);
    qpci_io_writel(g.dev, g.regs, GPU_REG_STRIDE, 256);
    qpci_io_writel(g.dev, g.regs, GPU_REG_FORMAT, 7);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_STATUS), ==, 2);
    qpci_io_writel(g.dev, g.regs, GPU_REG_FORMAT, 0);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_STATUS), ==, 1);
    /* the device is still alive */
    g_assert_cmphex(qpci_io_readl(g.dev, g.regs, GPU_REG_ID), ==, 0x31474c42);
    gpu_stop(&g);
}

static void test_screendump(void)
{
    Gpu g;
    g_autofree char *path = g_strdup_printf("%s/barlab-gpu-%d.ppm",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *ppm = NULL;
    gsize len;
    const uint32_t w = 64, h = 32;
    unsigned hdr;

    gpu_start(&g, NULL);
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            /* XRGB8888: red grows along x, green along y, blue 0x40 */
            uint32_t px = (x * 4) << 16 | (y * 8) << 8 | 0x40;
            qpci_io_writel(g.dev, g.vram, (y * w + x) * 4, px);
        }
    }
    qpci_io_writel(g.dev, g.regs, GPU_REG_FORMAT, 0);
    qpci_io_writel(g.dev, g.regs, GPU_REG_WIDTH, w);
    qpci_io_writel(g.dev, g.regs, GPU_REG_HEIGHT, h);
    qpci_io_writel(g.dev, g.regs, GPU_REG_STRIDE, w * 4);
    qpci_io_writel(g.dev, g.regs, GPU_REG_CTRL, 1);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_STATUS), ==, 1);

    qobject_unref(qtest_qmp_assert_success_ref(g.qts,
        "{'execute': 'screendump', 'arguments': {'filename': %s}}", path));
    g_assert(g_file_get_contents(path, &ppm, &len, NULL));
    unlink(path);
    hdr = strlen("P6\n64 32\n255\n");
    g_assert(len > hdr && !strncmp(ppm, "P6\n64 32\n255\n", hdr));
    g_assert_cmpuint(len, ==, hdr + w * h * 3);
    for (uint32_t y = 0; y < h; y += 7) {
        for (uint32_t x = 0; x < w; x += 9) {
            const uint8_t *p = (const uint8_t *)ppm + hdr + (y * w + x) * 3;

            g_assert_cmpuint(p[0], ==, x * 4);
            g_assert_cmpuint(p[1], ==, y * 8);
            g_assert_cmpuint(p[2], ==, 0x40);
        }
    }
    gpu_stop(&g);
}

/* trace=FILE: every VRAM transaction is in the file once QEMU exits. */
static void test_trace(void)
{
    Gpu g;
    g_autofree char *path = g_strdup_printf("%s/barlab-gpu-%d.bltrace",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *opt = g_strdup_printf(",port-mode=exact,trace=%s", path);
    MtTraceReader *r;
    MtTraceRecord rec;
    char err[256];
    int n = 0, ret;

    gpu_start(&g, opt);
    for (int i = 0; i < 10; i++) {
        qpci_io_writel(g.dev, g.vram, 0x40 + i * 4, 0xc0de0000 + i);
    }
    g_assert_cmphex(qpci_io_readl(g.dev, g.vram, 0x40), ==, 0xc0de0000);
    gpu_stop(&g);

    g_assert_cmpint(mt_trace_reader_open(&r, path, err, sizeof(err)), ==, 0);
    while ((ret = mt_trace_read(r, &rec, err, sizeof(err))) == 1) {
        g_assert_cmpint(rec.type, ==, MT_REC_TXN);
        g_assert(rec.txn.flags & MT_TXN_UNTYPED);
        g_assert_cmphex(rec.txn.addr, ==, n < 10 ? 0x40 + n * 4 : 0x40);
        n++;
    }
    g_assert_cmpint(ret, ==, 0);
    g_assert_cmpint(n, ==, 11);
    mt_trace_reader_close(r);
    unlink(path);
}

/*
 * Function Level Reset after a guest set a mode, scanned out and drew:
 * the registers, the port's counters and the VRAM it wrote read as after
 * power-on.
 */
static void test_flr(void)
{
    Gpu g;

    gpu_start(&g, NULL);
    qpci_io_writel(g.dev, g.regs, GPU_REG_WIDTH, 64);
    qpci_io_writel(g.dev, g.regs, GPU_REG_HEIGHT, 32);
    qpci_io_writel(g.dev, g.regs, GPU_REG_STRIDE, 256);
    qpci_io_writel(g.dev, g.regs, GPU_REG_OFFSET_LO, 0x1000);
    qpci_io_writel(g.dev, g.regs, GPU_REG_CTRL, 1);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_STATUS), ==, 1);
    qpci_io_writel(g.dev, g.vram, 0x1000, 0x00ff0000);
    qpci_io_writeq(g.dev, g.vram, g.vram_size - 8, 0x1122334455667788ULL);
    /* across a 4 KiB boundary (two transactions): both pages get zeroed */
    qpci_io_writeq(g.dev, g.vram, 0x7ffc, 0x99aabbccddeeff00ULL);
    qpci_io_writel(g.dev, g.regs, GPU_REG_PORT_FLUSH, 1);
    g_assert_cmpuint(barlab_qom_u64(g.qts, "vram-txns"), ==, 4);

    barlab_flr(g.dev);
    g_assert_cmpuint(barlab_qom_u64(g.qts, "vram-accesses"), ==, 0);
    g_assert_cmpuint(barlab_qom_u64(g.qts, "vram-txns"), ==, 0);
    g_assert_cmpuint(barlab_qom_u64(g.qts, "vram-untyped"), ==, 0);
    qpci_device_enable(g.dev);
    g.regs = qpci_iomap(g.dev, 0, NULL);
    g.vram = qpci_iomap(g.dev, 2, NULL);
    for (uint64_t reg = GPU_REG_CTRL; reg <= GPU_REG_OFFSET_LO + 4; reg += 4) {
        g_assert_cmphex(qpci_io_readl(g.dev, g.regs, reg), ==, 0);
    }
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_COUNTERS), ==, 0);
    g_assert_cmphex(qpci_io_readl(g.dev, g.vram, 0x1000), ==, 0);
    g_assert_cmphex(qpci_io_readq(g.dev, g.vram, g.vram_size - 8), ==, 0);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_COUNTERS), ==, 2);
    g_assert_cmphex(qpci_io_readl(g.dev, g.vram, 0x7ffc), ==, 0);
    g_assert_cmphex(qpci_io_readl(g.dev, g.vram, 0x8000), ==, 0);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, GPU_REG_VRAM_SIZE_LO), ==,
                     16 << 20);
    gpu_stop(&g);
}

/*
 * BAR0 beyond the registers: every event queue gets every event, reading
 * a queue's EVENTS clears that queue only; the scratch window is plain
 * storage of any access size; BAR0's transactions go to regs-trace; FLR
 * clears both.
 */
static void test_events_scratch(void)
{
    Gpu g;
    g_autofree char *path = g_strdup_printf("%s/barlab-gpu-regs-%d.bltrace",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *opt = g_strdup_printf(",regs-trace=%s", path);
    uint64_t q3 = GPU_EVQ_BASE + 3 * GPU_EVQ_STRIDE;
    uint64_t q5 = GPU_EVQ_BASE + 5 * GPU_EVQ_STRIDE;
    uint8_t buf[64], back[64];
    MtTraceReader *r;
    MtTraceRecord rec;
    char err[256];
    int scratch_txns = 0, ret;

    gpu_start(&g, opt);
    g_assert_cmphex(g.regs_size, ==, GPU_REGS_SIZE);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, q3 + GPU_EVQ_ID), ==, 3);
    g_assert_cmpuint(qpci_io_readl(g.dev, g.regs, q3 + GPU_EVQ_EVENTS), ==, 0);
    qpci_io_writel(g.dev, g.regs, GPU_REG_WIDTH, 64);
    qpci_io_writel(g.dev, g.regs, GPU_REG_HEIGHT, 32);
    qpci_io_writel(g.dev, g.regs, GPU_REG_STRIDE, 256);
    qpci_io_writel(g.dev, g.regs, GPU_REG_CTRL, GPU_CTRL_SCANOUT);
    qpci_io_writel(g.dev, g.regs, GPU_REG_DAMAGE_H, 4);
    qpci_io_writel(g.dev, g.regs, GPU_REG_DAMAGE_COMMIT, 1);
    g_assert_cmphex(qpci_io_readl(g.dev, g.regs, q3 + GPU_EVQ_EVENTS), ==,
                    GPU_EVENT_MODE_SET | GPU_EVENT_DAMAGE);
    g_assert_cmphex(qpci_io_readl(g.dev, g.regs, q3 + GPU_EVQ_EVENTS), ==, 0);
    qpci_io_writel(g.dev, g.regs, GPU_REG_FORMAT, 7);
    g_assert_cmphex(qpci_io_readl(g.dev, g.regs, q5 + GPU_EVQ_EVENTS), ==,
                    GPU_EVENT_MODE_SET | GPU_EVENT_DAMAGE |
                    GPU_EVENT_MODE_ERROR);
    g_assert_cmphex(qpci_io_readl(g.dev, g.regs, q3 + GPU_EVQ_EVENTS), ==,
                    GPU_EVENT_MODE_ERROR);

    for (int i = 0; i < sizeof(buf); i++) {
        buf[i] = i * 5 + 3;
    }
    qpci_memwrite(g.dev, g.regs, GPU_SCRATCH_BASE + 0x1003, buf, sizeof(buf));
    qpci_memread(g.dev, g.regs, GPU_SCRATCH_BASE + 0x1003, back, sizeof(back));
    g_assert_cmpmem(buf, sizeof(buf), back, sizeof(back));
    qpci_io_writeq(g.dev, g.regs, GPU_REGS_SIZE - 8, 0x1122334455667788ULL);
    g_assert_cmphex(qpci_io_readq(g.dev, g.regs, GPU_REGS_SIZE - 8), ==,
                    0x1122334455667788ULL);
    /* 8 bytes of registers are two of them */
    g_assert_cmphex(qpci_io_readq(g.dev, g.regs, GPU_REG_ID), ==,
                    (uint64_t)GPU_VERSION << 32 | GPU_ID);
    g_assert_cmpuint(barlab_qom_u64(g.qts, "regs-untyped"), >, 0);
    g_assert_cmpuint(barlab_qom_u64(g.qts, "vram-accesses"), ==, 0);

    barlab_flr(g.dev);
    qpci_device_enable(g.dev);
    g.regs = qpci_iomap(g.dev, GPU_REGS_BAR, NULL);
    g_assert_cmphex(qpci_io_readq(g.dev, g.regs, GPU_REGS_SIZE - 8), ==, 0);
    g_assert_cmphex(qpci_io_readl(g.dev, g.regs, q5 + GPU_EVQ_EVENTS), ==, 0);
    gpu_stop(&g);

    g_assert_cmpint(mt_trace_reader_open(&r, path, err, sizeof(err)), ==, 0);
    while ((ret = mt_trace_read(r, &rec, err, sizeof(err))) == 1) {
        g_assert_cmpint(rec.type, ==, MT_REC_TXN);
        g_assert_cmphex(rec.txn.addr, <, GPU_REGS_SIZE);
        scratch_txns += rec.txn.addr >= GPU_SCRATCH_BASE;
    }
    g_assert_cmpint(ret, ==, 0);
    g_assert_cmpint(scratch_txns, >=, 4);
    mt_trace_reader_close(r);
    unlink(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/barlab-gpu/registers", test_registers);
    qtest_add_func("/barlab-gpu/vram", test_vram);
    qtest_add_func("/barlab-gpu/bad-guest-input", test_bad_guest_input);
    qtest_add_func("/barlab-gpu/screendump", test_screendump);
    qtest_add_func("/barlab-gpu/trace", test_trace);
    qtest_add_func("/barlab-gpu/flr", test_flr);
    qtest_add_func("/barlab-gpu/events-scratch", test_events_scratch);
    return g_test_run();
}
