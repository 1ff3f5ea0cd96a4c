// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blit: the example program of `barlab fullstack --run`, a small blitter
 * the way GPU userspace moves pixels: glibc memcpy and memset of odd
 * sizes at odd offsets into a write-combining mapping of barlab-gpu's
 * VRAM, each read back and compared.  glibc's arm64 memcpy uses
 * unaligned LDP/STP for these sizes and memset DC ZVA for large ones:
 * harmless on Normal-NC, an alignment fault on a stage-2 Device mapping.
 *
 * It maps the files `barlab fullstack` names in its environment:
 *   BARLAB_RESOURCE2_WC   sysfs resource2_wc of barlab-gpu (VRAM, WC)
 *   BARLAB_RESOURCE0      sysfs resource0 (registers): reads the ID
 *   BARLAB_FB0            /dev/fb0, used with --fb0
 * Each completed step is printed (line-buffered) so the console shows the
 * last one before a SIGBUS or a dead VM.  Exit 0: every copy read back
 * right; 1: a mismatch; 2: a file could not be used.
 *
 *   blit [--fb0] [--rounds N]    (the copies, N times over)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WINDOW		4096	/* bytes used at the start of the mapping */
#define MEMSET_SIZE	4093	/* odd, and long enough for DC ZVA */

static const size_t sizes[] = { 1, 3, 7, 13, 31, 33, 63, 65, 127, 257, 1023 };
static const size_t offsets[] = { 0, 1, 3, 6, 9 };

static void *map_file(const char *env, size_t *size)
{
	const char *path = getenv(env);
	struct stat st;
	void *mem;
	int fd;

	if (!path) {
		fprintf(stderr, "blit: %s is not set\n", env);
		exit(2);
	}
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "blit: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	/* sysfs resource files have their BAR's size, /dev/fb0 says it */
	*size = st.st_size;
	if (!*size) {
		struct fb_fix_screeninfo fix;

		if (ioctl(fd, FBIOGET_FSCREENINFO, &fix) < 0) {
			fprintf(stderr, "blit: %s: no size: %s\n", path, strerror(errno));
			exit(2);
		}
		*size = fix.smem_len;
	}
	mem = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "blit: mmap %s: %s\n", path, strerror(errno));
		exit(2);
	}
	close(fd);
	printf("blit: mapped %s (%zu bytes)\n", path, *size);
	return mem;
}

int main(int argc, char **argv)
{
	const char *vram_env = "BARLAB_RESOURCE2_WC";
	static uint8_t src[WINDOW + 16], back[WINDOW];
	unsigned int rounds = 1, r, i, j, bad = 0;
	volatile uint32_t *regs;
	size_t size, regs_size;
	uint8_t *vram;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "--fb0"))
			vram_env = "BARLAB_FB0";
		else if (!strcmp(argv[i], "--rounds") && i + 1 < (unsigned int)argc)
			rounds = strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: blit [--fb0] [--rounds N]\n");
			return 2;
		}
	}
	regs = map_file("BARLAB_RESOURCE0", &regs_size);
	printf("blit: gpu id 0x%08x\n", (unsigned int)regs[0]);	/* aligned 32-bit read */
	vram = map_file(vram_env, &size);
	if (size < WINDOW + MEMSET_SIZE + 1) {
		fprintf(stderr, "blit: the mapping is too small\n");
		return 2;
	}
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1);
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			for (j = 0; j < sizeof(offsets) / sizeof(offsets[0]); j++) {
				size_t n = sizes[i], off = offsets[j];

				memcpy(vram + off, src + j, n);
				memcpy(back, vram + off, n);
				if (memcmp(back, src + j, n)) {
					printf("blit: memcpy %zu at +%zu: mismatch\n", n, off);
					bad++;
				}
			}
			printf("blit: memcpy %zu bytes at offsets 0..%zu: done\n", sizes[i],
			       offsets[sizeof(offsets) / sizeof(offsets[0]) - 1]);
		}
		/* zeroes, so that glibc's memset may use DC ZVA */
		memcpy(vram + WINDOW + 1, src, MEMSET_SIZE);
		memset(vram + WINDOW + 1, 0, MEMSET_SIZE);
		memcpy(back, vram + WINDOW + 1, MEMSET_SIZE);
		for (i = 0; i < MEMSET_SIZE && !back[i]; i++)
			;
		if (i < MEMSET_SIZE) {
			printf("blit: memset %d at +%d: mismatch at %u\n", MEMSET_SIZE, WINDOW + 1, i);
			bad++;
		}
		printf("blit: memset %d bytes: done\n", MEMSET_SIZE);
	}
	printf("blit: %s\n", bad ? "mismatches" : "all copies read back right");
	return bad ? 1 : 0;
}
