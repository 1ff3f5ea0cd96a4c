/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-fuzz: the barlab-gpu generator.  Modes (format, size, stride,
 * offset: valid, at VRAM's end, or anything), VRAM accesses of every width
 * and byte runs at its edges, damage rectangles, flushes, redraws.
 * Offsets come from hw/barlab/barlab-gpu.h; docs/fuzzing.md.
 */
#include "qemu/osdep.h"
#include "barlab-gpu.h"
#include "barlab-fuzz.h"

static const char *const gpu_configs[] = {
    "-device barlab-gpu",
    "-device barlab-gpu,port-mode=exact,vram-size=1M",
    "-device barlab-gpu,port-mode=reorder+speculate:%u",
    "-device barlab-gpu,port-mode=reorder:%u,gather-line-size=256",
    "-device barlab-gpu,port-mode=speculate:%u,gather-lines=1,"
        "gather-timeout-ns=0",
    NULL,
};

static const unsigned gpu_regs[] = {
    GPU_REG_ID, GPU_REG_VERSION, GPU_REG_CTRL, GPU_REG_STATUS,
    GPU_REG_FORMAT, GPU_REG_WIDTH, GPU_REG_HEIGHT, GPU_REG_STRIDE,
    GPU_REG_OFFSET_LO, GPU_REG_OFFSET_HI, GPU_REG_DAMAGE_X, GPU_REG_DAMAGE_Y,
    GPU_REG_DAMAGE_W, GPU_REG_DAMAGE_H, GPU_REG_DAMAGE_COMMIT,
    GPU_REG_VRAM_SIZE_LO, GPU_REG_VRAM_SIZE_HI, GPU_REG_PORT_FLUSH,
    GPU_REG_COUNTERS, GPU_REG_COUNTERS + GPU_CNT_COUNT * 8 - 4,
    GPU_REG_COUNTERS + GPU_CNT_COUNT * 8,
    /* the first and last event queues, and the scratch window's ends */
    GPU_EVQ_BASE + GPU_EVQ_ID, GPU_EVQ_BASE + GPU_EVQ_EVENTS,
    GPU_EVQ_BASE + (GPU_EVQ_COUNT - 1) * GPU_EVQ_STRIDE + GPU_EVQ_EVENTS,
    GPU_EVQ_BASE + GPU_EVQ_COUNT * GPU_EVQ_STRIDE,
    GPU_SCRATCH_BASE, GPU_SCRATCH_BASE + GPU_SCRATCH_SIZE - 4,
    GPU_REGS_SIZE - 4,
};

/* The port's counters, as the device's QOM properties name them. */
static const char *const gpu_counter_names[GPU_CNT_COUNT] = {
    [GPU_CNT_ACCESSES] = "vram-accesses",
    [GPU_CNT_TXNS] = "vram-txns",
    [GPU_CNT_GATHERED] = "vram-gathered",
    [GPU_CNT_VIOLATIONS] = "vram-violations",
    [GPU_CNT_BARRIERS] = "vram-barriers",
};

static void gpu_mode(Gen *g)
{
    unsigned fmt = !below(g, 8) ? interesting(g) :
                   below(g, 2) ? GPU_FORMAT_RGB565 : GPU_FORMAT_XRGB8888;
    unsigned w = below(g, 2) ? 1 + below(g, 64) :
                 below(g, 2) ? GPU_MAX_DIM + below(g, 3) - 1 :
                               interesting(g);
    unsigned h = below(g, 2) ? 1 + below(g, 64) :
                 below(g, 2) ? GPU_MAX_DIM + below(g, 3) - 1 :
                               interesting(g);
    unsigned stride = w * (fmt == GPU_FORMAT_RGB565 ? 2 : 4) +
                      (below(g, 4) ? 0 : interesting(g));
    uint64_t off = below(g, 2) ? 0 :
                   below(g, 2) ? g->bar2_size - (uint64_t)stride * h +
                                 below(g, 3) - 1
                               : interesting(g);

    emit_write(g, g->bar0 + GPU_REG_FORMAT, 2, fmt);
    emit_write(g, g->bar0 + GPU_REG_WIDTH, 2, w);
    emit_write(g, g->bar0 + GPU_REG_HEIGHT, 2, h);
    emit_write(g, g->bar0 + GPU_REG_STRIDE, 2, stride);
    emit_write(g, g->bar0 + GPU_REG_OFFSET_LO, 2, off);
    emit_write(g, g->bar0 + GPU_REG_OFFSET_HI, 2, below(g, 8) ? 0 : off >> 32);
    emit_write(g, g->bar0 + GPU_REG_CTRL, 2, below(g, 8) ? GPU_CTRL_SCANOUT
                                                     : interesting(g));
}

static void gpu_vram(Gen *g)
{
    uint64_t off = below(g, 2) ? rnd(g) & 0x3ffff :
                   below(g, 2) ? g->bar2_size - 1 - below(g, 16) :
                                 rnd(g) & (g->bar2_size - 1);
    uint8_t b[256];
    unsigned n;

    switch (below(g, 3)) {
    case 0:
        emit_write(g, g->bar2 + off, below(g, 4), rnd(g));
        break;
    case 1:
        emit_read(g, g->bar2 + off, below(g, 4));
        break;
    default:
        n = 1 + below(g, sizeof(b));
        for (unsigned i = 0; i < n; i++) {
            b[i] = rnd(g);
        }
        emit_bytes(g, g->bar2 + MIN(off, g->bar2_size - 1), b, n);
        break;
    }
}

static void gpu_damage(Gen *g)
{
    static const unsigned reg[4] = { GPU_REG_DAMAGE_X, GPU_REG_DAMAGE_Y,
                                     GPU_REG_DAMAGE_W, GPU_REG_DAMAGE_H };

    for (unsigned i = 0; i < 4; i++) {
        emit_write(g, g->bar0 + reg[i], 2,
                   below(g, 2) ? below(g, 80) : interesting(g));
    }
    emit_write(g, g->bar0 + GPU_REG_DAMAGE_COMMIT, 2, below(g, 4) ? 1 : rnd(g));
}

static void gpu_op(Gen *g)
{
    switch (below(g, 12)) {
    case 0:
    case 1:
        op_reg(g);
        break;
    case 2:
        gpu_mode(g);
        break;
    case 3:
    case 4:
    case 5:
        gpu_vram(g);
        break;
    case 6:
        gpu_damage(g);
        break;
    case 7:
        emit_write(g, g->bar0 + GPU_REG_PORT_FLUSH, 2, rnd(g));
        break;
    case 8:
        /* a redraw: the console reads the scanout from VRAM */
        emit(g, "qmp {\"execute\": \"screendump\", \"arguments\": "
             "{\"filename\": \"/dev/null\"}}");
        break;
    case 9:
        op_config(g);
        break;
    default:
        op_clock(g);
        break;
    }
}

static void gpu_prologue(Gen *g)
{
    if (below(g, 2)) {
        gpu_mode(g);
    }
}

const FuzzDevice barlab_fuzz_gpu = {
    .name = "gpu",
    .bar2_base = 0x11000000ULL,
    .bar0_size = GPU_REGS_SIZE,
    .dma = false,       /* it has no DMA; its inputs write no guest RAM */
    .configs = gpu_configs,
    .counters = GPU_REG_COUNTERS,
    .ncounters = GPU_CNT_COUNT,
    .counter_names = gpu_counter_names,
    .status_reg = GPU_REG_STATUS,
    .status_mask = GPU_STATUS_MODE_VALID,
    .status_name = "modes-valid",
    .regs = gpu_regs,
    .nregs = G_N_ELEMENTS(gpu_regs),
    .prologue = gpu_prologue,
    .op = gpu_op,
};
