/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-gpu: a PCIe display device whose VRAM BAR sees every access.
 *
 * BAR0 holds registers (mode, stride, format, scanout, damage, counters);
 * BAR2 is 64-bit prefetchable VRAM served through a barlab port, so every
 * CPU access arrives with its Arm memory type, passes the gather model and
 * the checker, and is traced.  Scanout goes through a Pixman surface on
 * the QEMU console; QMP screendump returns the picture.
 *
 * Spec and register map: docs/devices/barlab-gpu.md.
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pcie.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "ui/console.h"
#include "ui/qemu-pixman.h"
#include "qom/object.h"
#include "port.h"
#include "trace.h"

#define TYPE_BARLAB_GPU "barlab-gpu"
OBJECT_DECLARE_SIMPLE_TYPE(BarlabGpuState, BARLAB_GPU)

#define BARLAB_GPU_DEVICE_ID    0xba01
#define BARLAB_GPU_REGS_SIZE    (4 * KiB)

/* BAR0 registers, 32 bits wide (docs/devices/barlab-gpu.md) */
#define REG_ID                  0x000
#define REG_VERSION             0x004
#define REG_CTRL                0x008
#define REG_STATUS              0x00c
#define REG_FORMAT              0x010
#define REG_WIDTH               0x014
#define REG_HEIGHT              0x018
#define REG_STRIDE              0x01c
#define REG_OFFSET_LO           0x020
#define REG_OFFSET_HI           0x024
#define REG_DAMAGE_X            0x030
#define REG_DAMAGE_Y            0x034
#define REG_DAMAGE_W            0x038
#define REG_DAMAGE_H            0x03c
#define REG_DAMAGE_COMMIT       0x040
#define REG_VRAM_SIZE_LO        0x048
#define REG_VRAM_SIZE_HI        0x04c
#define REG_PORT_FLUSH          0x050
#define REG_COUNTERS            0x100   /* 64-bit counters as LO/HI pairs */

#define BARLAB_GPU_ID           0x31474c42      /* "BLG1" */
#define BARLAB_GPU_VERSION      1
#define CTRL_SCANOUT            (1u << 0)
#define STATUS_MODE_VALID       (1u << 0)
#define STATUS_MODE_ERROR       (1u << 1)
#define FORMAT_XRGB8888         0
#define FORMAT_RGB565           1
#define BARLAB_GPU_MAX_DIM      4096

enum {
    CNT_ACCESSES, CNT_TXNS, CNT_GATHERED, CNT_VIOLATIONS, CNT_BARRIERS,
    CNT_COUNT,
};

struct BarlabGpuState {
    PCIDevice parent_obj;

    QemuConsole *con;
    MemoryRegion regs;
    BarlabPort vram_port;
    BarlabPortConf port_conf;
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

    uint64_t vram_lo, vram_hi;  /* bytes written since the last reset */
    bool new_mode;              /* the surface must be rebuilt */
    uint32_t dirty_y0, dirty_y1;    /* rows written since the last update */
};

static unsigned barlab_gpu_bpp(uint32_t format)
{
    return format == FORMAT_RGB565 ? 2 : 4;
}

/* Check the programmed mode; a bad one is the guest's mistake, not ours. */
static void barlab_gpu_validate_mode(BarlabGpuState *s)
{
    uint64_t need = (uint64_t)s->stride * s->height;

    s->status = 0;
    if (!(s->ctrl & CTRL_SCANOUT)) {
        return;
    }
    if (s->format > FORMAT_RGB565 || !s->width || !s->height ||
        s->width > BARLAB_GPU_MAX_DIM || s->height > BARLAB_GPU_MAX_DIM ||
        s->stride < s->width * barlab_gpu_bpp(s->format) ||
        s->offset > s->vram_size || need > s->vram_size - s->offset) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "barlab-gpu: bad mode %ux%u format %u stride %u "
                      "offset 0x%" PRIx64 " (VRAM 0x%" PRIx64 ")\n",
                      s->width, s->height, s->format, s->stride, s->offset,
                      s->vram_size);
        s->status = STATUS_MODE_ERROR;
        return;
    }
    s->status = STATUS_MODE_VALID;
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

    if (!(s->status & STATUS_MODE_VALID)) {
        return;
    }
    if (s->new_mode) {
        ds = qemu_create_displaysurface_from(
            s->width, s->height,
            s->format == FORMAT_RGB565 ? PIXMAN_r5g6b5 : PIXMAN_x8r8g8b8,
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
    s->vram_lo = MIN(s->vram_lo, addr);
    s->vram_hi = MAX(s->vram_hi, addr + size);
    if ((s->status & STATUS_MODE_VALID) && addr + size > s->offset &&
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
    case CNT_ACCESSES:
        return p->accesses;
    case CNT_TXNS:
        return p->txns;
    case CNT_GATHERED:
        return p->gathered;
    case CNT_VIOLATIONS:
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
    case REG_ID:
        val = BARLAB_GPU_ID;
        break;
    case REG_VERSION:
        val = BARLAB_GPU_VERSION;
        break;
    case REG_CTRL:
        val = s->ctrl;
        break;
    case REG_STATUS:
        val = s->status;
        break;
    case REG_FORMAT:
        val = s->format;
        break;
    case REG_WIDTH:
        val = s->width;
        break;
    case REG_HEIGHT:
        val = s->height;
        break;
    case REG_STRIDE:
        val = s->stride;
        break;
    case REG_OFFSET_LO:
        val = (uint32_t)s->offset;
        break;
    case REG_OFFSET_HI:
        val = s->offset >> 32;
        break;
    case REG_DAMAGE_X ... REG_DAMAGE_H:
        val = s->damage[(addr - REG_DAMAGE_X) / 4];
        break;
    case REG_VRAM_SIZE_LO:
        val = (uint32_t)s->vram_size;
        break;
    case REG_VRAM_SIZE_HI:
        val = s->vram_size >> 32;
        break;
    case REG_COUNTERS ... REG_COUNTERS + CNT_COUNT * 8 - 4:
        val = barlab_gpu_counter(s, (addr - REG_COUNTERS) / 8);
        val = addr & 4 ? val >> 32 : (uint32_t)val;
        break;
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

    if (!(s->status & STATUS_MODE_VALID) || y >= s->height) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "barlab-gpu: damage outside the scanout ignored\n");
        return;
    }
    barlab_gpu_mark_dirty(s, y, MIN((uint64_t)y + h, s->height));
}

static void barlab_gpu_reg_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    BarlabGpuState *s = opaque;
    bool mode = true;

    switch (addr) {
    case REG_CTRL:
        s->ctrl = val & CTRL_SCANOUT;
        break;
    case REG_FORMAT:
        s->format = val;
        break;
    case REG_WIDTH:
        s->width = val;
        break;
    case REG_HEIGHT:
        s->height = val;
        break;
    case REG_STRIDE:
        s->stride = val;
        break;
    case REG_OFFSET_LO:
        s->offset = deposit64(s->offset, 0, 32, val);
        break;
    case REG_OFFSET_HI:
        s->offset = deposit64(s->offset, 32, 32, val);
        break;
    case REG_DAMAGE_X ... REG_DAMAGE_H:
        s->damage[(addr - REG_DAMAGE_X) / 4] = val;
        return;
    case REG_DAMAGE_COMMIT:
        barlab_gpu_damage(s);
        return;
    case REG_PORT_FLUSH:
        barlab_port_flush(&s->vram_port, MT_FLUSH_STOP);
        return;
    default:
        mode = false;
        qemu_log_mask(LOG_GUEST_ERROR,
                      "barlab-gpu: write 0x%" PRIx64 " to %s register 0x%"
                      HWADDR_PRIx "\n", val,
                      addr < REG_COUNTERS + CNT_COUNT * 8 ? "read-only"
                                                          : "unknown", addr);
        break;
    }
    if (mode) {
        barlab_gpu_validate_mode(s);
        s->new_mode = true;
    }
}

/*
 * The register accessors proper ignore the memory type; these record it,
 * so that a trace shows how a driver mapped the registers (ioremap:
 * Device-nGnRE).
 */
static MemTxResult barlab_gpu_reg_read_attrs(void *opaque, hwaddr addr,
                                              uint64_t *val, unsigned size,
                                              MemTxAttrs attrs)
{
    *val = barlab_gpu_reg_read(opaque, addr, size);
    trace_barlab_gpu_reg_read(addr, *val, attrs.memtype_valid,
                               attrs.memtype_s1, attrs.memtype,
                               attrs.memtype_stage2);
    return MEMTX_OK;
}

static MemTxResult barlab_gpu_reg_write_attrs(void *opaque, hwaddr addr,
                                               uint64_t val, unsigned size,
                                               MemTxAttrs attrs)
{
    trace_barlab_gpu_reg_write(addr, val, attrs.memtype_valid,
                                attrs.memtype_s1, attrs.memtype,
                                attrs.memtype_stage2);
    barlab_gpu_reg_write(opaque, addr, val, size);
    return MEMTX_OK;
}

static const MemoryRegionOps barlab_gpu_reg_ops = {
    .read_with_attrs = barlab_gpu_reg_read_attrs,
    .write_with_attrs = barlab_gpu_reg_write_attrs,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid.min_access_size = 4,
    .valid.max_access_size = 4,
};

static void barlab_gpu_realize(PCIDevice *pdev, Error **errp)
{
    BarlabGpuState *s = BARLAB_GPU(pdev);
    Error *err = NULL;

    if (s->vram_size < 1 * MiB || s->vram_size > 1 * GiB ||
        !is_power_of_2(s->vram_size)) {
        error_setg(errp, "barlab-gpu: vram-size must be a power of two "
                   "from 1 MiB to 1 GiB");
        return;
    }
    s->vram = g_malloc0(s->vram_size);
    s->vram_lo = UINT64_MAX;
    barlab_port_init(&s->vram_port, OBJECT(s), "vram", s->vram_size,
                     &s->port_conf, &barlab_gpu_vram_ops, s, NULL, 0, &err);
    if (err) {
        error_propagate_prepend(errp, err, "barlab-gpu: ");
        g_free(s->vram);
        s->vram = NULL;
        return;
    }
    memory_region_init_io(&s->regs, OBJECT(s), &barlab_gpu_reg_ops, s,
                          "barlab-gpu-regs", BARLAB_GPU_REGS_SIZE);
    pci_register_bar(pdev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->regs);
    pci_register_bar(pdev, 2, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &s->vram_port.mr);
    if (pci_bus_is_express(pci_get_bus(pdev))) {
        pcie_endpoint_cap_init(pdev, 0x80);
        pcie_cap_flr_init(pdev);
    } else {
        pdev->cap_present &= ~QEMU_PCI_CAP_EXPRESS;
    }
    s->con = graphic_console_init(DEVICE(pdev), 0, &barlab_gpu_gfx_ops, s);
}

static void barlab_gpu_exit(PCIDevice *pdev)
{
    BarlabGpuState *s = BARLAB_GPU(pdev);

    graphic_console_close(s->con);
    barlab_port_cleanup(&s->vram_port);
    g_free(s->vram);
    s->vram = NULL;
}

/*
 * FLR, a bus reset and system_reset: writes still in the port's buffer
 * are dropped, the port and its counters start over, the VRAM a guest
 * wrote goes back to zeroes and the console shows no scanout, so that
 * nothing one guest drew or counted shows in the next one.
 */
static void barlab_gpu_reset(DeviceState *dev)
{
    BarlabGpuState *s = BARLAB_GPU(dev);

    trace_barlab_gpu_reset();
    barlab_port_reset(&s->vram_port);
    if (s->vram_lo < s->vram_hi) {
        memset(s->vram + s->vram_lo, 0, s->vram_hi - s->vram_lo);
    }
    s->vram_lo = UINT64_MAX;
    s->vram_hi = 0;
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

static void barlab_gpu_write_config(PCIDevice *pdev, uint32_t addr,
                                    uint32_t val, int len)
{
    pci_default_write_config(pdev, addr, val, len);
    if (pci_is_express(pdev)) {
        pcie_cap_flr_write_config(pdev, addr, val, len);
    }
}

static void barlab_gpu_instance_init(Object *obj)
{
    PCIDevice *pdev = PCI_DEVICE(obj);

    pdev->cap_present |= QEMU_PCI_CAP_EXPRESS;
}

/* The gather buffer and trace are host-side state: no migration. */
static const VMStateDescription vmstate_barlab_gpu = {
    .name = "barlab-gpu",
    .unmigratable = 1,
};

static const Property barlab_gpu_properties[] = {
    DEFINE_PROP_SIZE("vram-size", BarlabGpuState, vram_size, 16 * MiB),
    DEFINE_BARLAB_PORT_PROPERTIES(BarlabGpuState, port_conf),
};

static void barlab_gpu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = barlab_gpu_realize;
    k->exit = barlab_gpu_exit;
    k->config_write = barlab_gpu_write_config;
    k->vendor_id = PCI_VENDOR_ID_QEMU;
    k->device_id = BARLAB_GPU_DEVICE_ID;
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
    .instance_init = barlab_gpu_instance_init,
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
