// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fbdraw: draw barlab's framebuffer test image the way X servers and Mesa
 * fill a mapped framebuffer, through a write-combining mapping of
 * barlab-gpu's VRAM: /dev/fb0 (fbdev's mmap is pgprot_writecombine, i.e.
 * Normal-NC on arm64) or the PCI sysfs file resource2_wc.
 *
 * The test image, W x H pixels of XRGB8888 (tests/lib/fbimage.py computes
 * the same picture from a QEMU screendump and must agree with image_pixel()):
 *   - top half: eight vertical colour bars, bar x * 8 / W, white, yellow,
 *     cyan, green, magenta, red, blue, black;
 *   - bottom half: a gradient, red x * 255 / (W - 1), blue 255 - red,
 *     green rising from 0 to 255 from the middle row down;
 *   - a 1-pixel white border;
 *   - over all that, a grey block (every byte 0x80) at
 *     [3W/8, 3W/8 + W/4) x [3H/8, 3H/8 + H/4).
 * Rows are built in a buffer and copied with one glibc memcpy per row; the
 * block is one memset per row.  The picture is then read back (memcpy)
 * and compared.
 *
 * --odd does memcpy and memset of every size 1..67 at every offset 0..15
 * into VRAM past the visible frame, printing each completed operation, so
 * that a SIGBUS or a dead VM (stage-2 Device mapping under KVM) shows
 * which one it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BPP		4		/* bytes per XRGB8888 pixel */
#define BLOCK_BYTE	0x80		/* memset value of the block */
#define ODD_MAX_SIZE	67
#define ODD_MAX_OFFSET	15
#define ODD_WINDOW	96		/* > ODD_MAX_OFFSET + ODD_MAX_SIZE */
#define ODD_FILL	0xa5

struct fb {
	const char *path;
	unsigned int width, height, stride;
	size_t size;			/* bytes mapped */
	uint8_t *mem;
};

static const uint32_t bar_colours[8] = {
	0xffffff, 0xffff00, 0x00ffff, 0x00ff00,
	0xff00ff, 0xff0000, 0x0000ff, 0x000000,
};

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fbdraw: %s %s: %s\n", what, path, strerror(errno));
	exit(2);
}

static int in_block(unsigned int x, unsigned int y, unsigned int w,
		    unsigned int h)
{
	return x >= 3 * w / 8 && x < 3 * w / 8 + w / 4 &&
	       y >= 3 * h / 8 && y < 3 * h / 8 + h / 4;
}

/* The image before the block: bars, gradient, border (0xRRGGBB). */
static uint32_t image_pixel(unsigned int x, unsigned int y, unsigned int w,
			    unsigned int h)
{
	unsigned int r, g, half = h / 2;

	if (x == 0 || y == 0 || x == w - 1 || y == h - 1)
		return 0xffffff;
	if (y < half)
		return bar_colours[x * 8 / w];
	r = w > 1 ? x * 255 / (w - 1) : 0;
	g = h - half > 1 ? (y - half) * 255 / (h - half - 1) : 0;
	return r << 16 | g << 8 | (255 - r);
}

static uint32_t expected_pixel(unsigned int x, unsigned int y, unsigned int w,
			       unsigned int h)
{
	if (in_block(x, y, w, h))
		return BLOCK_BYTE * 0x010101u;
	return image_pixel(x, y, w, h);
}

static void open_fbdev(struct fb *fb)
{
	struct fb_var_screeninfo var;
	struct fb_fix_screeninfo fix;
	int fd = open(fb->path, O_RDWR);

	if (fd < 0)
		die("cannot open", fb->path);
	if (ioctl(fd, FBIOGET_VSCREENINFO, &var) ||
	    ioctl(fd, FBIOGET_FSCREENINFO, &fix))
		die("cannot read the mode of", fb->path);
	if (var.bits_per_pixel != 32 || var.red.offset != 16 ||
	    var.green.offset != 8 || var.blue.offset != 0) {
		fprintf(stderr, "fbdraw: %s is not XRGB8888\n", fb->path);
		exit(2);
	}
	fb->width = var.xres;
	fb->height = var.yres;
	fb->stride = fix.line_length;
	fb->size = fix.smem_len;
	fb->mem = mmap(NULL, fb->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fb->mem == MAP_FAILED)
		die("cannot mmap", fb->path);
	close(fd);
}

static void open_resource(struct fb *fb)
{
	struct stat st;
	int fd = open(fb->path, O_RDWR);

	if (fd < 0)
		die("cannot open", fb->path);
	if (fstat(fd, &st))
		die("cannot stat", fb->path);
	fb->size = st.st_size;
	fb->mem = mmap(NULL, fb->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fb->mem == MAP_FAILED)
		die("cannot mmap", fb->path);
	close(fd);
}

/* Draw the test image, read it back; returns the mismatching pixels. */
static unsigned long draw(struct fb *fb)
{
	unsigned int w = fb->width, h = fb->height, x, y;
	unsigned int bx = 3 * w / 8, by = 3 * h / 8, bw = w / 4, bh = h / 4;
	uint32_t *row = malloc((size_t)w * BPP);
	unsigned long bad = 0;

	if (!row) {
		perror("fbdraw");
		exit(2);
	}
	for (y = 0; y < h; y++) {
		for (x = 0; x < w; x++)
			row[x] = image_pixel(x, y, w, h);
		memcpy(fb->mem + (size_t)y * fb->stride, row, (size_t)w * BPP);
	}
	printf("fbdraw: %u rows of %u bytes copied with memcpy\n", h, w * BPP);
	for (y = by; y < by + bh; y++)
		memset(fb->mem + (size_t)y * fb->stride + (size_t)bx * BPP,
		       BLOCK_BYTE, (size_t)bw * BPP);
	printf("fbdraw: block %ux%u at (%u,%u) set with memset 0x%02x\n",
	       bw, bh, bx, by, BLOCK_BYTE);

	for (y = 0; y < h; y++) {
		memcpy(row, fb->mem + (size_t)y * fb->stride, (size_t)w * BPP);
		for (x = 0; x < w; x++)
			bad += (row[x] & 0xffffff) != expected_pixel(x, y, w, h);
	}
	free(row);
	printf("fbdraw: read back %lu mismatching pixels\n", bad);
	return bad;
}

/* One odd-sized operation in VRAM and the same in RAM; 0 if they agree. */
static int odd_op(uint8_t *vram, int is_memset, unsigned int off,
		  unsigned int len, const uint8_t *pattern)
{
	uint8_t want[ODD_WINDOW], got[ODD_WINDOW];
	const uint8_t *src = pattern + (off + len) % 16;
	unsigned int i;

	memset(vram, ODD_FILL, ODD_WINDOW);
	memset(want, ODD_FILL, ODD_WINDOW);
	if (is_memset) {
		memset(vram + off, len, len);
		memset(want + off, len, len);
	} else {
		memcpy(vram + off, src, len);
		memcpy(want + off, src, len);
	}
	memcpy(got, vram, ODD_WINDOW);

	for (i = 0; i < ODD_WINDOW && got[i] == want[i]; i++)
		;
	printf("odd %s off %u len %u: ", is_memset ? "memset" : "memcpy",
	       off, len);
	if (i == ODD_WINDOW) {
		printf("ok\n");
		return 0;
	}
	printf("MISMATCH at byte %u: 0x%02x, wanted 0x%02x\n", i, got[i],
	       want[i]);
	return 1;
}

/* Returns the number of odd operations whose bytes came back wrong. */
static unsigned int odd_sizes(struct fb *fb)
{
	size_t base = ((size_t)fb->stride * fb->height + 4095) & ~(size_t)4095;
	uint8_t pattern[16 + ODD_MAX_SIZE];
	unsigned int i, off, len, ops = 0, bad = 0;
	int is_memset;

	if (base + ODD_WINDOW > fb->size) {
		fprintf(stderr, "fbdraw: no VRAM past the visible frame for --odd\n");
		exit(2);
	}
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = i * 29 + 7;
	printf("fbdraw: odd operations at VRAM offset 0x%zx\n", base);
	for (is_memset = 0; is_memset <= 1; is_memset++)
		for (off = 0; off <= ODD_MAX_OFFSET; off++)
			for (len = 1; len <= ODD_MAX_SIZE; len++, ops++)
				bad += odd_op(fb->mem + base, is_memset, off,
					      len, pattern);
	printf("fbdraw: odd: %u operations, %u mismatches\n", ops, bad);
	return bad;
}

static void bad_usage(void)
{
	fprintf(stderr,
		"usage: fbdraw [--odd] [--fb DEVICE]\n"
		"       fbdraw [--odd] --resource FILE --width W --height H [--stride BYTES]\n"
		"Draws barlab's test image (or with --odd, odd-sized memcpy/memset)\n"
		"through a write-combining mapping of /dev/fb0 or of a PCI sysfs\n"
		"resourceN_wc file.  Exit status 0 if everything read back right,\n"
		"1 on mismatches, 2 on errors.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "fb", required_argument, NULL, 'f' },
		{ "resource", required_argument, NULL, 'r' },
		{ "width", required_argument, NULL, 'w' },
		{ "height", required_argument, NULL, 'h' },
		{ "stride", required_argument, NULL, 's' },
		{ "odd", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct fb fb = { .path = "/dev/fb0" };
	int resource = 0, run_odd = 0, c;
	unsigned long bad;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'r':
			resource = 1;
			fb.path = optarg;
			break;
		case 'f':
			fb.path = optarg;
			break;
		case 'w':
			fb.width = strtoul(optarg, NULL, 0);
			break;
		case 'h':
			fb.height = strtoul(optarg, NULL, 0);
			break;
		case 's':
			fb.stride = strtoul(optarg, NULL, 0);
			break;
		case 'o':
			run_odd = 1;
			break;
		default:
			bad_usage();
		}
	}
	if (optind != argc)
		bad_usage();
	if (resource) {
		if (!fb.width || !fb.height)
			bad_usage();
		if (!fb.stride)
			fb.stride = fb.width * BPP;
		open_resource(&fb);
	} else {
		open_fbdev(&fb);
	}
	if ((size_t)fb.stride * fb.height > fb.size ||
	    fb.stride < fb.width * BPP) {
		fprintf(stderr, "fbdraw: %ux%u stride %u does not fit %zu bytes\n",
			fb.width, fb.height, fb.stride, fb.size);
		return 2;
	}

	/* One line per completed step, even through a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("fbdraw: %s: %ux%u XRGB8888, stride %u, %zu bytes mapped\n",
	       fb.path, fb.width, fb.height, fb.stride, fb.size);
	bad = run_odd ? odd_sizes(&fb) : draw(&fb);
	munmap(fb.mem, fb.size);
	return bad ? 1 : 0;
}
