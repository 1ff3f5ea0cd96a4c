/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Just enough of a flattened device tree reader for a payload: QEMU puts
 * the DTB at the bottom of RAM when an ELF payload leaves room there
 * (hw/arm/boot.c), with /chosen/bootargs set from -append.  Reading the
 * ECAM base from it avoids guessing between the virt board's low and high
 * ECAM windows.
 */
#include "libpl.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9

struct fdt_header {
    u32 magic, totalsize, off_dt_struct, off_dt_strings, off_mem_rsvmap;
    u32 version, last_comp_version, boot_cpuid_phys, size_dt_strings;
    u32 size_dt_struct;
};

static u32 be32(const void *p)
{
    const u8 *b = p;

    return (u32)b[0] << 24 | (u32)b[1] << 16 | (u32)b[2] << 8 | b[3];
}

const void *fdt_find(void)
{
    const struct fdt_header *h = (const void *)VIRT_RAM;

    return be32(&h->magic) == FDT_MAGIC ? h : NULL;
}

/*
 * Walk the structure block; call @fn for every property with the depth of
 * its node and the node's name.  Stops when @fn returns true.
 */
typedef bool (*prop_fn)(void *ctx, unsigned depth, const char *node,
                        const char *name, const u8 *val, u32 len);

static void fdt_walk(const void *fdt, prop_fn fn, void *ctx)
{
    const struct fdt_header *h = fdt;
    const u8 *base = fdt;
    const u8 *p = base + be32(&h->off_dt_struct);
    const u8 *end = p + be32(&h->size_dt_struct);
    const char *strings = (const char *)base + be32(&h->off_dt_strings);
    const char *node = "";
    unsigned depth = 0;

    while (p + 4 <= end) {
        u32 tok = be32(p), len;

        p += 4;
        switch (tok) {
        case FDT_BEGIN_NODE:
            node = (const char *)p;
            depth++;
            p += ALIGN_UP(strlen(node) + 1, 4);
            break;
        case FDT_END_NODE:
            depth--;
            break;
        case FDT_PROP:
            len = be32(p);
            if (fn(ctx, depth, node, strings + be32(p + 4), p + 8, len)) {
                return;
            }
            p += 8 + ALIGN_UP(len, 4);
            break;
        case FDT_NOP:
            break;
        default:        /* FDT_END or garbage */
            return;
        }
    }
}

struct bootargs_ctx {
    const char *val;
};

static bool bootargs_fn(void *ctx, unsigned depth, const char *node,
                        const char *name, const u8 *val, u32 len)
{
    struct bootargs_ctx *c = ctx;

    if (depth == 2 && !strncmp(node, "chosen", 7) &&
        !strncmp(name, "bootargs", 9) && len) {
        c->val = (const char *)val;
        return true;
    }
    return false;
}

const char *fdt_bootargs(const void *fdt)
{
    struct bootargs_ctx c = { NULL };

    if (fdt) {
        fdt_walk(fdt, bootargs_fn, &c);
    }
    return c.val;
}

/* Properties come in file order within a node: remember reg, then see compatible. */
struct reg_ctx {
    const char *compat;
    const char *node;
    u64 reg;
    bool reg_seen, match;
};

static bool list_has(const u8 *val, u32 len, const char *s)
{
    size_t n = strlen(s) + 1;

    for (u32 i = 0; i < len; i += strlen((const char *)val + i) + 1) {
        if (len - i >= n && !strncmp((const char *)val + i, s, n)) {
            return true;
        }
    }
    return false;
}

static bool reg_fn(void *ctx, unsigned depth, const char *node,
                   const char *name, const u8 *val, u32 len)
{
    struct reg_ctx *c = ctx;

    (void)depth;
    if (c->node != node) {
        c->node = node;
        c->reg_seen = c->match = false;
    }
    if (!strncmp(name, "reg", 4) && len >= 8) {
        /* virt's root has #address-cells = <2> */
        c->reg = (u64)be32(val) << 32 | be32(val + 4);
        c->reg_seen = true;
    } else if (!strncmp(name, "compatible", 11) && list_has(val, len, c->compat)) {
        c->match = true;
    }
    return c->reg_seen && c->match;
}

u64 fdt_reg_of(const void *fdt, const char *compat)
{
    struct reg_ctx c = { compat, NULL, 0, false, false };

    if (!fdt) {
        return 0;
    }
    fdt_walk(fdt, reg_fn, &c);
    return c.reg_seen && c.match ? c.reg : 0;
}
