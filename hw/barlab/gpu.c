/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-gpu: a PCIe display device whose VRAM BAR sees every access.
 *
 * BAR0 holds registers (mode, stride, format, scanout, damage, counters,
 * read-to-clear event queues) and a scratch window; BAR2 is 64-bit
 * prefetchable VRAM.  Both are served through barlab ports, so every CPU
 * access arrives with its Arm memory type, passes the gather model and
 * the checker, and is traced.  Scanout goes through a Pixman surface on
 * the QEMU console; QMP screendump returns the picture.
 *
 * Spec and register map: docs/specs/barlab-gpu.rst.
 */
#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/bswap.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "ui/console.h"
#include "ui/qemu-pixman.h"
#include "qom/object.h"
#include "barlab-gpu.h"
#include "port.h"
#include "trace.h"

/* The granule in which a reset finds the VRAM a guest wrote. */
#define GPU_DIRTY_PAGE_BITS 12

#define TYPE_BARLAB_GPU "barlab-gpu"
OBJECT_DECLARE_SIMPLE_TYPE(BarlabGpuState, BARLAB_GPU)

struct BarlabGpuState {
    PCIDevice parent_obj;

    QemuConsole *con;
    BarlabPort regs_port;       /* BAR0 */
    BarlabPort vram_port;
    BarlabPortConf port_conf;
    char *regs_port_mode;       /* BAR0's port-mode, if not port-mode's */
    char *regs_trace;           /* BAR0's trace file */
    MtExpect regs_expect[2];
    uint8_t *scratch;
    uint32_t events[GPU_EVQ_COUNT];
    uint8_t *vram;
    uint64_t vram_size;

    uint32_t ctrl;
    uint32_t status;
    uint32_t format;
    uint32_t width;
    uint32_t height;
    uint32_t stride;
    uint64_t offset;
    uint32_t damage[4];         /* x, y, w, h */

    /*
     * What a reset must zero: the VRAM pages and whether the scratch
     * window were written since the last one.  Pages, not a span: two
     * writes at VRAM's two ends would otherwise zero all of it.
     */
    unsigned long *vram_dirty;
    bool scratch_dirty;
    bool new_mode;              /* the surface must be rebuilt */
    uint32_t dirty_y0, dirty_y1;    /* rows written since the last update */
};

static unsigned barlab_gpu_bpp(uint32_t format)
{
    return format == GPU_FORMAT_RGB565 ? 2 : 4;
}

/* Post @event to every event queue. */
static void barlab_gpu_post(BarlabGpuState *s, uint32_t event)
{
    for (unsigned i = 0; i < GPU_EVQ_COUNT; i++) {
        s->events[i] |= event;
    }
}

/* Check the programmed mode; a bad one is the guest's mistake, not ours. */
static void barlab_gpu_validate_mode(BarlabGpuState *s)
{
    uint64_t need = (uint64_t)s->stride * s->height;

    s->status = 0;
    if (!(s->ctrl & GPU_CTRL_SCANOUT)) {
        return;
    }
    if (s->format > GPU_FORMAT_RGB565 || !s->width || !s->height ||
        s->width > GPU_MAX_DIM || s->height > GPU_MAX_DIM ||
        s->stride < s->width * barlab_gpu_bpp(s->format) ||
        s->stride % GPU_SCANOUT_ALIGN || s->offset % GPU_SCANOUT_ALIGN ||
        s->offset > s->vram_size || need > s->vram_size - s->offset) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "barlab-gpu: bad mode %ux%u format %u stride %u "
                      "offset 0x%" PRIx64 " (VRAM 0x%" PRIx64 ")\n",
                      s->width, s->height, s->format, s->stride, s->offset,
                      s->vram_size);
        s->status = GPU_STATUS_MODE_ERROR;
        barlab_gpu_post(s, GPU_EVENT_MODE_ERROR);
        return;
    }
    s->status = GPU_STATUS_MODE_VALID;
    barlab_gpu_post(s, GPU_EVENT_MODE_SET);
    trace_barlab_gpu_mode(s->width, s->height, s->format, s->stride, s->offset);
}

static void barlab_gpu_mark_dirty(BarlabGpuState *s, uint32_t y0, uint32_t y1)
{
    s->dirty_y0 = MIN(s->dirty_y0, y0);
    s->dirty_y1 = MAX(s->dirty_y1, y1);
}

static void barlab_gpu_update(void *opaque)
{
    BarlabGpuState *s = opaque;
    DisplaySurface *ds;
    uint32_t y1;

    if (!(s->status & GPU_STATUS_MODE_VALID)) {
        return;
    }
    if (s->new_mode) {
        ds = qemu_create_displaysurface_from(
            s->width, s->height,
            s->format == GPU_FORMAT_RGB565 ? PIXMAN_r5g6b5 : PIXMAN_x8r8g8b8,
            s->stride, s->vram + s->offset);
        dpy_gfx_replace_surface(s->con, ds);
        dpy_gfx_update_full(s->con);
        s->new_mode = false;
    } else if (s->dirty_y0 < s->dirty_y1) {
        y1 = MIN(s->dirty_y1, s->height);
        if (s->dirty_y0 < y1) {
            dpy_gfx_update(s->con, 0, s->dirty_y0, s->width, y1 - s->dirty_y0);
        }
    }
    s->dirty_y0 = UINT32_MAX;
    s->dirty_y1 = 0;
}

static const GraphicHwOps barlab_gpu_gfx_ops = {
    .gfx_update = barlab_gpu_update,
};

/* VRAM back end: transactions that made it through the port. */
static void barlab_gpu_vram_write(void *opaque, hwaddr addr,
                                  const uint8_t *data, unsigned size)
{
    BarlabGpuState *s = opaque;

    if (addr + size > s->vram_size) {
        qemu_log_mask(LOG_GUEST_ERROR, "barlab-gpu: VRAM write past the end "
                      "at 0x%" HWADDR_PRIx "\n", addr);
        return;
    }
    memcpy(s->vram + addr, data, size);
    bitmap_set(s->vram_dirty, addr >> GPU_DIRTY_PAGE_BITS,
               ((addr + size - 1) >> GPU_DIRTY_PAGE_BITS) -
               (addr >> GPU_DIRTY_PAGE_BITS) + 1);
    if ((s->status & GPU_STATUS_MODE_VALID) && addr + size > s->offset &&
        addr < s->offset + (uint64_t)s->stride * s->height) {
        uint64_t first = addr > s->offset ? addr - s->offset : 0;
        uint64_t last = addr + size - 1 - s->offset;

        barlab_gpu_mark_dirty(s, first / s->stride,
                              MIN(last / s->stride + 1, s->height));
    }
}

static void barlab_gpu_vram_read(void *opaque, hwaddr addr, uint8_t *data,
                                 unsigned size)
{
    BarlabGpuState *s = opaque;

    if (addr + size > s->vram_size) {
        qemu_log_mask(LOG_GUEST_ERROR, "barlab-gpu: VRAM read past the end "
                      "at 0x%" HWADDR_PRIx "\n", addr);
        memset(data, 0xff, size);
        return;
    }
    memcpy(data, s->vram + addr, size);
}

static const BarlabPortOps barlab_gpu_vram_ops = {
    .write = barlab_gpu_vram_write,
    .read = barlab_gpu_vram_read,
};

static uint64_t barlab_gpu_counter(BarlabGpuState *s, unsigned i)
{
    BarlabPort *p = &s->vram_port;

    switch (i) {
    case GPU_CNT_ACCESSES:
        return p->accesses;
    case GPU_CNT_TXNS:
        return p->txns;
    case GPU_CNT_GATHERED:
        return p->gathered;
    case GPU_CNT_VIOLATIONS:
        return p->violations;
    default:
        return p->barriers;
    }
}

static uint64_t barlab_gpu_reg_read(void *opaque, hwaddr addr, unsigned size)
{
    BarlabGpuState *s = opaque;
    uint64_t val = 0;

    switch (addr) {
    case GPU_REG_ID:
        val = GPU_ID;
        break;
    case GPU_REG_VERSION:
        val = GPU_VERSION;
        break;
    case GPU_REG_CTRL:
        val = s->ctrl;
        break;
    case GPU_REG_STATUS:
        val = s->status;
        break;
    case GPU_REG_FORMAT:
        val = s->format;
        break;
    case GPU_REG_WIDTH:
        val = s->width;
        break;
    case GPU_REG_HEIGHT:
        val = s->height;
        break;
    case GPU_REG_STRIDE:
        val = s->stride;
        break;
    case GPU_REG_OFFSET_LO:
        val = (uint32_t)s->offset;
        break;
    case GPU_REG_OFFSET_HI:
        val = s->offset >> 32;
        break;
    case GPU_REG_DAMAGE_X ... GPU_REG_DAMAGE_H:
        val = s->damage[(addr - GPU_REG_DAMAGE_X) / 4];
        break;
    case GPU_REG_VRAM_SIZE_LO:
        val = (uint32_t)s->vram_size;
        break;
    case GPU_REG_VRAM_SIZE_HI:
        val = s->vram_size >> 32;
        break;
    case GPU_REG_COUNTERS ... GPU_REG_COUNTERS + GPU_CNT_COUNT * 8 - 4:
        val = barlab_gpu_counter(s, (addr - GPU_REG_COUNTERS) / 8);
        val = addr & 4 ? val >> 32 : (uint32_t)val;
        break;
    case GPU_EVQ_BASE ... GPU_EVQ_BASE + GPU_EVQ_COUNT * GPU_EVQ_STRIDE - 4:
        if ((addr - GPU_EVQ_BASE) % GPU_EVQ_STRIDE == GPU_EVQ_ID) {
            val = (addr - GPU_EVQ_BASE) / GPU_EVQ_STRIDE;
            break;
        }
        if ((addr - GPU_EVQ_BASE) % GPU_EVQ_STRIDE == GPU_EVQ_EVENTS) {
            /* Read to clear: the bits are the reader's now. */
            val = s->events[(addr - GPU_EVQ_BASE) / GPU_EVQ_STRIDE];
            s->events[(addr - GPU_EVQ_BASE) / GPU_EVQ_STRIDE] = 0;
            break;
        }
        /* fall through */
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "barlab-gpu: read of unknown register 0x%" HWADDR_PRIx
                      "\n", addr);
        break;
    }
    return val;
}

static void barlab_gpu_damage(BarlabGpuState *s)
{
    uint32_t y = s->damage[1], h = s->damage[3];

    if (!(s->status & GPU_STATUS_MODE_VALID) || y >= s->height) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "barlab-gpu: damage outside the scanout ignored\n");
        return;
    }
    barlab_gpu_mark_dirty(s, y, MIN((uint64_t)y + h, s->height));
    barlab_gpu_post(s, GPU_EVENT_DAMAGE);
}

static void barlab_gpu_reg_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    BarlabGpuState *s = opaque;
    bool mode = true;

    switch (addr) {
    case GPU_REG_CTRL:
        s->ctrl = val & GPU_CTRL_SCANOUT;
        break;
    case GPU_REG_FORMAT:
        s->format = val;
        break;
    case GPU_REG_WIDTH:
        s->width = val;
        break;
    case GPU_REG_HEIGHT:
        s->height = val;
        break;
    case GPU_REG_STRIDE:
        s->stride = val;
        break;
    case GPU_REG_OFFSET_LO:
        s->offset = deposit64(s->offset, 0, 32, val);
        break;
    case GPU_REG_OFFSET_HI:
        s->offset = deposit64(s->offset, 32, 32, val);
        break;
    case GPU_REG_DAMAGE_X ... GPU_REG_DAMAGE_H:
        s->damage[(addr - GPU_REG_DAMAGE_X) / 4] = val;
        return;
    case GPU_REG_DAMAGE_COMMIT:
        barlab_gpu_damage(s);
        return;
    case GPU_REG_PORT_FLUSH:
        barlab_port_flush(&s->vram_port, MT_FLUSH_STOP);
        return;
    default:
        mode = false;
        qemu_log_mask(LOG_GUEST_ERROR,
                      "barlab-gpu: write 0x%" PRIx64 " to %s register 0x%"
                      HWADDR_PRIx "\n", val,
                      addr < GPU_REG_COUNTERS + GPU_CNT_COUNT * 8 ? "read-only"
                                                          : "unknown", addr);
        break;
    }
    if (mode) {
        barlab_gpu_validate_mode(s);
        s->new_mode = true;
    }
}

/*
 * BAR0 behind its port: a transaction (one access, or several that a
 * Normal mapping gathered) is the scratch window's bytes, or registers
 * cut into 32-bit words.  The trace events record the memory type, so
 * that a trace shows how a driver mapped the registers (ioremap:
 * Device-nGnRE).
 */
static void barlab_gpu_regs_trace(BarlabGpuState *s, bool write, hwaddr addr,
                                  uint32_t val)
{
    const MtTxn *t = s->regs_port.current;
    bool typed = !(t->flags & MT_TXN_UNTYPED);
    bool stage2 = !(t->flags & MT_TXN_NO_STAGE2);

    if (write) {
        trace_barlab_gpu_reg_write(addr, val, typed, t->s1_attr, t->attr,
                                   stage2);
    } else {
        trace_barlab_gpu_reg_read(addr, val, typed, t->s1_attr, t->attr,
                                  stage2);
    }
}

static bool barlab_gpu_in_scratch(hwaddr addr, unsigned size)
{
    return addr >= GPU_SCRATCH_BASE &&
           addr + size <= GPU_SCRATCH_BASE + GPU_SCRATCH_SIZE;
}

static void barlab_gpu_regs_write_word(void *opaque, hwaddr addr,
                                       uint32_t val)
{
    barlab_gpu_regs_trace(opaque, true, addr, val);
    barlab_gpu_reg_write(opaque, addr, val, 4);
}

static uint32_t barlab_gpu_regs_read_word(void *opaque, hwaddr addr)
{
    uint32_t val = barlab_gpu_reg_read(opaque, addr, 4);

    barlab_gpu_regs_trace(opaque, false, addr, val);
    return val;
}

static void barlab_gpu_regs_write(void *opaque, hwaddr addr,
                                  const uint8_t *data, unsigned size)
{
    BarlabGpuState *s = opaque;

    if (barlab_gpu_in_scratch(addr, size)) {
        memcpy(s->scratch + addr - GPU_SCRATCH_BASE, data, size);
        s->scratch_dirty = true;
        return;
    }
    if (addr + size > GPU_SCRATCH_BASE ||
        !barlab_port_write_words(addr, data, size, barlab_gpu_regs_write_word,
                                 s)) {
        qemu_log_mask(LOG_GUEST_ERROR, "barlab-gpu: register write of %u "
                      "bytes at 0x%" HWADDR_PRIx " ignored: registers are "
                      "32 bits\n", size, addr);
    }
}

/* Every register a read touches is read, with its side effects. */
static void barlab_gpu_regs_read(void *opaque, hwaddr addr, uint8_t *data,
                                 unsigned size)
{
    BarlabGpuState *s = opaque;

    if (barlab_gpu_in_scratch(addr, size)) {
        memcpy(data, s->scratch + addr - GPU_SCRATCH_BASE, size);
        return;
    }
    if (addr + size > GPU_SCRATCH_BASE) {
        qemu_log_mask(LOG_GUEST_ERROR, "barlab-gpu: read of %u bytes at 0x%"
                      HWADDR_PRIx " across the scratch window\n", size, addr);
        memset(data, 0xff, size);
        return;
    }
    barlab_port_read_words(addr, data, size, barlab_gpu_regs_read_word, s);
}

static const BarlabPortOps barlab_gpu_regs_ops = {
    .write = barlab_gpu_regs_write,
    .read = barlab_gpu_regs_read,
};

/*
 * BAR0's declarations for the checker: every queue's EVENTS is read to
 * clear, so it must not be read speculatively (it is in the
 * non-prefetchable BAR, and a Device mapping keeps it safe);
 * DAMAGE_COMMIT is a doorbell, written alone and after the rectangle.
 */
static unsigned barlab_gpu_declare_regs(BarlabGpuState *s)
{
    s->regs_expect[0] = (MtExpect) {
        GPU_EVQ_BASE + GPU_EVQ_EVENTS, GPU_EVQ_BASE + GPU_EVQ_EVENTS + 4,
        MT_EXPECT_NO_SPEC_READ, "EVENTS (read to clear)",
        GPU_EVQ_STRIDE, GPU_EVQ_COUNT,
    };
    s->regs_expect[1] = (MtExpect) {
        GPU_REG_DAMAGE_COMMIT, GPU_REG_DAMAGE_COMMIT + 4,
        MT_EXPECT_NO_GATHER | MT_EXPECT_ORDERED, "DAMAGE_COMMIT (doorbell)",
    };
    return 2;
}

static void barlab_gpu_realize(PCIDevice *pdev, Error **errp)
{
    BarlabGpuState *s = BARLAB_GPU(pdev);
    const BarlabBarSpec vram_spec = {
        "vram", s->vram_size, &s->port_conf, &barlab_gpu_vram_ops, NULL, 0,
    };
    BarlabBarSpec regs_spec;
    BarlabPortConf regs_conf;

    if (s->vram_size < 1 * MiB || s->vram_size > 1 * GiB ||
        !is_power_of_2(s->vram_size)) {
        error_setg(errp, "barlab-gpu: vram-size must be a power of two "
                   "from 1 MiB to 1 GiB");
        return;
    }
    /* BAR0: the same models unless regs-port-mode says otherwise. */
    regs_conf = s->port_conf;
    regs_conf.mode = s->regs_port_mode ? s->regs_port_mode : s->port_conf.mode;
    regs_conf.trace = s->regs_trace;
    regs_spec = (BarlabBarSpec) {
        "regs", GPU_REGS_SIZE, &regs_conf, &barlab_gpu_regs_ops,
        s->regs_expect, barlab_gpu_declare_regs(s),
    };
    if (!barlab_port_realize_bars(pdev, s, &s->regs_port, &regs_spec,
                                  &s->vram_port, &vram_spec, errp)) {
        return;
    }
    s->vram = g_malloc0(s->vram_size);
    s->vram_dirty = bitmap_new(s->vram_size >> GPU_DIRTY_PAGE_BITS);
    s->scratch = g_malloc0(GPU_SCRATCH_SIZE);
    s->con = graphic_console_init(DEVICE(pdev), 0, &barlab_gpu_gfx_ops, s);
}

static void barlab_gpu_exit(PCIDevice *pdev)
{
    BarlabGpuState *s = BARLAB_GPU(pdev);

    graphic_console_close(s->con);
    barlab_port_cleanup(&s->regs_port);
    barlab_port_cleanup(&s->vram_port);
    g_free(s->vram);
    s->vram = NULL;
    g_free(s->vram_dirty);
    s->vram_dirty = NULL;
    g_free(s->scratch);
    s->scratch = NULL;
}

/*
 * FLR, a bus reset and system_reset: writes still in the ports' buffers
 * are dropped, the ports and their counters start over, the scratch
 * window, the event queues and the VRAM a guest wrote go back to zeroes
 * and the console shows no scanout, so that nothing one guest drew or
 * counted shows in the next one.
 */
static void barlab_gpu_reset(DeviceState *dev)
{
    BarlabGpuState *s = BARLAB_GPU(dev);
    unsigned long pages = s->vram_size >> GPU_DIRTY_PAGE_BITS;

    trace_barlab_gpu_reset();
    barlab_port_reset(&s->regs_port);
    barlab_port_reset(&s->vram_port);
    if (s->scratch && s->scratch_dirty) {
        memset(s->scratch, 0, GPU_SCRATCH_SIZE);
    }
    s->scratch_dirty = false;
    memset(s->events, 0, sizeof(s->events));
    for (unsigned long p = s->vram_dirty ? find_first_bit(s->vram_dirty, pages)
                                         : pages;
         p < pages; p = find_next_bit(s->vram_dirty, pages, p + 1)) {
        memset(s->vram + (p << GPU_DIRTY_PAGE_BITS), 0,
               1ULL << GPU_DIRTY_PAGE_BITS);
        clear_bit(p, s->vram_dirty);
    }
    if (s->con) {
        dpy_gfx_replace_surface(s->con, NULL);
    }
    s->new_mode = true;
    s->ctrl = s->status = s->format = 0;
    s->width = s->height = s->stride = 0;
    s->offset = 0;
    memset(s->damage, 0, sizeof(s->damage));
    s->dirty_y0 = UINT32_MAX;
    s->dirty_y1 = 0;
}

/* The gather buffer and trace are host-side state: no migration. */
static const VMStateDescription vmstate_barlab_gpu = {
    .name = "barlab-gpu",
    .unmigratable = 1,
};

static const Property barlab_gpu_properties[] = {
    DEFINE_PROP_SIZE("vram-size", BarlabGpuState, vram_size, 16 * MiB),
    DEFINE_BARLAB_PORT_PROPERTIES(BarlabGpuState, port_conf),
    DEFINE_PROP_STRING("regs-port-mode", BarlabGpuState, regs_port_mode),
    DEFINE_PROP_STRING("regs-trace", BarlabGpuState, regs_trace),
};

static void barlab_gpu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = barlab_gpu_realize;
    k->exit = barlab_gpu_exit;
    k->config_write = barlab_port_pci_write_config;
    k->vendor_id = PCI_VENDOR_ID_QEMU;
    k->device_id = GPU_DEVICE_ID;
    k->class_id = PCI_CLASS_DISPLAY_OTHER;
    dc->desc = "barlab PCIe display with a memory-type-aware VRAM BAR";
    dc->vmsd = &vmstate_barlab_gpu;
    device_class_set_legacy_reset(dc, barlab_gpu_reset);
    device_class_set_props(dc, barlab_gpu_properties);
    set_bit(DEVICE_CATEGORY_DISPLAY, dc->categories);
}

static const TypeInfo barlab_gpu_info = {
    .name = TYPE_BARLAB_GPU,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(BarlabGpuState),
    .instance_init = barlab_port_pci_instance_init,
    .class_init = barlab_gpu_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void barlab_gpu_register_types(void)
{
    type_register_static(&barlab_gpu_info);
}

type_init(barlab_gpu_register_types)
