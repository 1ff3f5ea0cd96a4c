/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-gpu's PCI identity and BAR0 register map (spec:
 * docs/specs/barlab-gpu.rst), shared by the device (gpu.c), its qtest,
 * the oracle's windows (hw/memtype/oracle.c) and the matrix payload.
 * Plain constants: no QEMU headers.
 */
#ifndef HW_BARLAB_BARLAB_GPU_H
#define HW_BARLAB_BARLAB_GPU_H

#define GPU_VENDOR_ID           0x1234
#define GPU_DEVICE_ID           0xba01
#define GPU_REGS_BAR            0
#define GPU_VRAM_BAR            2

/* BAR0: 1 MiB, non-prefetchable.  Registers are 32 bits wide. */
#define GPU_REGS_SIZE           0x100000
#define GPU_REG_ID              0x000
#define GPU_REG_VERSION         0x004
#define GPU_REG_CTRL            0x008
#define GPU_REG_STATUS          0x00c
#define GPU_REG_FORMAT          0x010
#define GPU_REG_WIDTH           0x014
#define GPU_REG_HEIGHT          0x018
#define GPU_REG_STRIDE          0x01c
#define GPU_REG_OFFSET_LO       0x020
#define GPU_REG_OFFSET_HI       0x024
#define GPU_REG_DAMAGE_X        0x030
#define GPU_REG_DAMAGE_Y        0x034
#define GPU_REG_DAMAGE_W        0x038
#define GPU_REG_DAMAGE_H        0x03c
#define GPU_REG_DAMAGE_COMMIT   0x040
#define GPU_REG_VRAM_SIZE_LO    0x048
#define GPU_REG_VRAM_SIZE_HI    0x04c
#define GPU_REG_PORT_FLUSH      0x050
#define GPU_REG_COUNTERS        0x100   /* 64-bit counters as LO/HI pairs */
#define GPU_REG_CNT(c)          (GPU_REG_COUNTERS + 8 * (c))    /* c: GPU_CNT_* */
/* The counters at GPU_REG_COUNTERS, in this order (the VRAM port's) */
enum {
    GPU_CNT_ACCESSES, GPU_CNT_TXNS, GPU_CNT_GATHERED, GPU_CNT_VIOLATIONS,
    GPU_CNT_BARRIERS, GPU_CNT_COUNT,
};

/*
 * Event queues: GPU_EVQ_COUNT lines of GPU_EVQ_STRIDE bytes from
 * GPU_EVQ_BASE, one per listener (a driver, a process, a test run).  In
 * each, EVQ_ID reads the queue's number and EVENTS the GPU_EVENT_* bits
 * posted since it was last read: reading EVENTS clears it.
 */
#define GPU_EVQ_BASE            0x10000
#define GPU_EVQ_STRIDE          0x80
#define GPU_EVQ_COUNT           512
#define GPU_EVQ_ID              0x0
#define GPU_EVQ_EVENTS          0x8
#define GPU_EVENT_DAMAGE        (1u << 0)   /* a DAMAGE_COMMIT was handled */
#define GPU_EVENT_MODE_SET      (1u << 1)   /* a valid mode took effect */
#define GPU_EVENT_MODE_ERROR    (1u << 2)   /* a mode was rejected */

/*
 * Scratch: plain read/write storage of any access size, no side effects,
 * for drivers' (and barlab's matrix's) own use.
 */
#define GPU_SCRATCH_BASE        0x80000
#define GPU_SCRATCH_SIZE        0x80000

#define GPU_ID                  0x31474c42      /* "BLG1" */
#define GPU_VERSION             2
#define GPU_CTRL_SCANOUT        (1u << 0)
#define GPU_STATUS_MODE_VALID   (1u << 0)
#define GPU_STATUS_MODE_ERROR   (1u << 1)
#define GPU_FORMAT_XRGB8888     0
#define GPU_FORMAT_RGB565       1
#define GPU_MAX_DIM             4096
/* STRIDE and OFFSET: scanout lines start 32-bit aligned (Pixman's rule) */
#define GPU_SCANOUT_ALIGN       4

#endif /* HW_BARLAB_BARLAB_GPU_H */
