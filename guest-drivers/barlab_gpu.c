// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * barlab_gpu: fbdev driver for barlab-gpu (PCI 1234:ba01), a display whose
 * VRAM BAR sees the Arm memory type of every CPU access.
 *
 * The driver maps its framebuffer the way fbdev drivers for I/O memory do,
 * because that is what barlab tests: the registers (BAR0) through
 * pci_iomap(), Device-nGnRE on arm64; the VRAM (BAR2) through ioremap_wc(),
 * Normal-NC, as screen_base; and fix.smem_start/smem_len cover BAR2, so
 * fb_io_mmap() gives userspace a pgprot_writecombine() (Normal-NC) mapping
 * of /dev/fb0.  The mode is fixed at probe time (module parameters).
 *
 * Device spec and register map: docs/specs/barlab-gpu.rst.
 */

#include <linux/aperture.h>
#include <linux/fb.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>

#define PCI_VENDOR_ID_QEMU	0x1234	/* QEMU's own devices; no pci_ids.h name */
#define PCI_DEVICE_ID_BARLAB_GPU	0xba01

#define BARLAB_GPU_REGS_BAR	0
#define BARLAB_GPU_VRAM_BAR	2

/* BAR0 registers, 32 bits wide */
#define REG_ID			0x000
#define REG_VERSION		0x004
#define REG_CTRL		0x008
#define REG_STATUS		0x00c
#define REG_FORMAT		0x010
#define REG_WIDTH		0x014
#define REG_HEIGHT		0x018
#define REG_STRIDE		0x01c
#define REG_OFFSET_LO		0x020
#define REG_OFFSET_HI		0x024

#define BARLAB_GPU_ID		0x31474c42	/* "BLG1" */
#define CTRL_SCANOUT		BIT(0)
#define STATUS_MODE_VALID	BIT(0)
#define STATUS_MODE_ERROR	BIT(1)
#define FORMAT_XRGB8888		0
#define BARLAB_GPU_MAX_DIM	4096
#define BARLAB_GPU_CPP		4	/* bytes per XRGB8888 pixel */

#define PSEUDO_PALETTE_SIZE	16

static unsigned int width = 640;
module_param(width, uint, 0444);
MODULE_PARM_DESC(width, "Horizontal resolution in pixels (default 640)");

static unsigned int height = 480;
module_param(height, uint, 0444);
MODULE_PARM_DESC(height, "Vertical resolution in pixels (default 480)");

struct barlab_gpu {
	void __iomem *regs;
	u32 pseudo_palette[PSEUDO_PALETTE_SIZE];
};

static int barlab_gpu_setcolreg(unsigned int regno, unsigned int red,
				unsigned int green, unsigned int blue,
				unsigned int transp, struct fb_info *info)
{
	u32 *pal = info->pseudo_palette;

	if (regno >= PSEUDO_PALETTE_SIZE)
		return -EINVAL;

	pal[regno] = (red >> 8) << info->var.red.offset |
		     (green >> 8) << info->var.green.offset |
		     (blue >> 8) << info->var.blue.offset;
	return 0;
}

/*
 * Called by the last put_fb_info(), at unregister_framebuffer() or at the
 * last close of /dev/fb0 after it, so an open file never sees freed memory.
 */
static void barlab_gpu_destroy(struct fb_info *info)
{
	iounmap(info->screen_base);
	framebuffer_release(info);
}

static const struct fb_ops barlab_gpu_ops = {
	.owner		= THIS_MODULE,
	FB_DEFAULT_IOMEM_OPS,
	.fb_setcolreg	= barlab_gpu_setcolreg,
	.fb_destroy	= barlab_gpu_destroy,
};

/* Program the mode and turn scanout on; the device judges the mode. */
static int barlab_gpu_set_mode(struct barlab_gpu *gpu, struct fb_info *info)
{
	struct device *dev = info->device;
	u32 status;

	writel(0, gpu->regs + REG_CTRL);
	writel(FORMAT_XRGB8888, gpu->regs + REG_FORMAT);
	writel(info->var.xres, gpu->regs + REG_WIDTH);
	writel(info->var.yres, gpu->regs + REG_HEIGHT);
	writel(info->fix.line_length, gpu->regs + REG_STRIDE);
	writel(0, gpu->regs + REG_OFFSET_LO);
	writel(0, gpu->regs + REG_OFFSET_HI);
	writel(CTRL_SCANOUT, gpu->regs + REG_CTRL);

	status = readl(gpu->regs + REG_STATUS);
	if ((status & STATUS_MODE_ERROR) || !(status & STATUS_MODE_VALID)) {
		dev_err(dev, "device rejected mode %ux%u stride %u in %u bytes of VRAM (status 0x%x)\n",
			info->var.xres, info->var.yres, info->fix.line_length,
			info->fix.smem_len, status);
		writel(0, gpu->regs + REG_CTRL);
		return -EINVAL;
	}
	return 0;
}

static void barlab_gpu_init_info(struct fb_info *info, struct barlab_gpu *gpu,
				 struct pci_dev *pdev)
{
	strscpy(info->fix.id, "barlab_gpu", sizeof(info->fix.id));
	info->fix.type = FB_TYPE_PACKED_PIXELS;
	info->fix.visual = FB_VISUAL_TRUECOLOR;
	info->fix.accel = FB_ACCEL_NONE;
	info->fix.smem_start = pci_resource_start(pdev, BARLAB_GPU_VRAM_BAR);
	info->fix.smem_len = pci_resource_len(pdev, BARLAB_GPU_VRAM_BAR);
	info->fix.line_length = width * BARLAB_GPU_CPP;

	info->var.xres = width;
	info->var.yres = height;
	info->var.xres_virtual = width;
	info->var.yres_virtual = height;
	info->var.bits_per_pixel = BARLAB_GPU_CPP * 8;
	info->var.red = (struct fb_bitfield){ .offset = 16, .length = 8 };
	info->var.green = (struct fb_bitfield){ .offset = 8, .length = 8 };
	info->var.blue = (struct fb_bitfield){ .offset = 0, .length = 8 };
	info->var.activate = FB_ACTIVATE_NOW;
	info->var.height = -1;
	info->var.width = -1;
	info->var.vmode = FB_VMODE_NONINTERLACED;

	info->fbops = &barlab_gpu_ops;
	info->pseudo_palette = gpu->pseudo_palette;
}

static int barlab_gpu_probe(struct pci_dev *pdev,
			    const struct pci_device_id *ent)
{
	struct barlab_gpu *gpu;
	struct fb_info *info;
	void __iomem *regs;
	u32 id;
	int ret;

	if (!width || width > BARLAB_GPU_MAX_DIM ||
	    !height || height > BARLAB_GPU_MAX_DIM) {
		dev_err(&pdev->dev, "mode %ux%u: each side must be 1 to %u pixels\n",
			width, height, BARLAB_GPU_MAX_DIM);
		return -EINVAL;
	}
	if (pci_resource_len(pdev, BARLAB_GPU_VRAM_BAR) > U32_MAX) {
		dev_err(&pdev->dev, "VRAM BAR too large for fbdev\n");
		return -EINVAL;
	}

	ret = aperture_remove_conflicting_pci_devices(pdev, KBUILD_MODNAME);
	if (ret)
		return ret;

	/* BAR0 and the BAR2 region are released by devres on detach. */
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	regs = pcim_iomap_region(pdev, BARLAB_GPU_REGS_BAR, KBUILD_MODNAME);
	if (IS_ERR(regs))
		return PTR_ERR(regs);
	id = readl(regs + REG_ID);
	if (id != BARLAB_GPU_ID) {
		dev_err(&pdev->dev, "unexpected ID register 0x%08x\n", id);
		return -ENODEV;
	}
	ret = pcim_request_region(pdev, BARLAB_GPU_VRAM_BAR, KBUILD_MODNAME);
	if (ret)
		return ret;

	info = framebuffer_alloc(sizeof(*gpu), &pdev->dev);
	if (!info)
		return -ENOMEM;
	gpu = info->par;
	gpu->regs = regs;
	barlab_gpu_init_info(info, gpu, pdev);

	info->screen_base = ioremap_wc(info->fix.smem_start, info->fix.smem_len);
	if (!info->screen_base) {
		ret = -ENOMEM;
		goto err_release;
	}

	ret = barlab_gpu_set_mode(gpu, info);
	if (ret)
		goto err_unmap;

	pci_set_drvdata(pdev, info);
	ret = register_framebuffer(info);
	if (ret) {
		dev_err(&pdev->dev, "register_framebuffer failed: %d\n", ret);
		goto err_scanout;
	}

	dev_info(&pdev->dev, "fb%d: %ux%u XRGB8888, stride %u, VRAM %pR (write-combining), version %u\n",
		 info->node, info->var.xres, info->var.yres,
		 info->fix.line_length,
		 &pdev->resource[BARLAB_GPU_VRAM_BAR],
		 readl(regs + REG_VERSION));
	return 0;

err_scanout:
	writel(0, regs + REG_CTRL);
err_unmap:
	iounmap(info->screen_base);
err_release:
	framebuffer_release(info);
	return ret;
}

static void barlab_gpu_remove(struct pci_dev *pdev)
{
	struct fb_info *info = pci_get_drvdata(pdev);
	struct barlab_gpu *gpu = info->par;

	/* Scanout off while the registers are mapped and info is alive. */
	writel(0, gpu->regs + REG_CTRL);
	unregister_framebuffer(info);
}

static const struct pci_device_id barlab_gpu_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_QEMU, PCI_DEVICE_ID_BARLAB_GPU) },
	{ }
};
MODULE_DEVICE_TABLE(pci, barlab_gpu_ids);

static struct pci_driver barlab_gpu_driver = {
	.name		= KBUILD_MODNAME,
	.id_table	= barlab_gpu_ids,
	.probe		= barlab_gpu_probe,
	.remove		= barlab_gpu_remove,
};
module_pci_driver(barlab_gpu_driver);

MODULE_DESCRIPTION("barlab-gpu framebuffer: VRAM mapped write-combining");
MODULE_LICENSE("GPL");
