/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * l2smoke: the first L2 payload.  At EL1 it maps a passed-through BAR
 * (barlab-gpu's VRAM unless told otherwise) through its own stage 1 with
 * the MAIR attribute given as mair=, and makes three stores, each checked
 * by reading the bytes back:
 *
 *   str   aligned 8-byte STR                  at BAR + 0x00
 *   unal  unaligned 8-byte STR                at BAR + 0x13
 *   stp   STP of two 8-byte registers         at BAR + 0x20
 *
 * Each store is made on first touch (a TLBI just before it) or, with
 * hit=1, on a TLB hit (an aligned priming store to the same page just
 * before it, with no exception in between).
 *
 * What EL1 can see: under a Device attribute (0x00, 0x04, 0x08, 0x0c) the
 * unaligned store takes an alignment fault at EL1, reported with its ESR
 * and FAR; everything else completes.  A stage-2 alignment fault (vfio-pci
 * maps the BAR Device at stage 2, the stage-1 attribute is Normal) never
 * reaches the payload: L1 KVM fails KVM_RUN with EFAULT and barlab-vmm
 * ends with outcome=kvm-run-efault after the reports made so far.
 *
 * Under barlab-vmm the payload starts at EL1.  Under bare QEMU (-kernel,
 * -M virt,virtualization=on) its EL2 part finds the device on PCI and
 * steps down to EL1 with no stage 2: the bare-metal reference.
 *
 * Arguments: mair=0xNN vendor=0xVVVV device=0xDDDD bar=N hit=0|1; by
 * default mair=0x44 (Normal-NC) on barlab-gpu's VRAM BAR, first touch.
 */
#include "libpl.h"
#include "barlab-gpu.h"

/* MAIR_EL1 slots */
#define IDX_RAM 0               /* Normal WB RAWA */
#define IDX_UART 1              /* Device-nGnRE: the UART and the ucall page */
#define IDX_TEST 2              /* the attribute under test */
#define MAIR_RAM 0xfful
#define MAIR_UART 0x04ul
#define SH_ISH 3

static struct {
    u64 mair, vendor, device, bar, hit;
} cfg = { .mair = 0x44, .vendor = GPU_VENDOR_ID, .device = GPU_DEVICE_ID, .bar = GPU_VRAM_BAR };

enum probe { PROBE_STR, PROBE_STP };

static const struct access {
    const char *name;
    enum probe probe;
    u64 off;
    unsigned len;
    bool device_faults;         /* an EL1 alignment fault under S1 Device */
} accesses[] = {
    { "str", PROBE_STR, 0x00, 8, false },
    { "unal", PROBE_STR, 0x13, 8, true },
    { "stp", PROBE_STP, 0x20, 16, false },
};
/* The priming store of hit=1: its own aligned bytes in the same page. */
#define PRIME_OFF 0x40

/*
 * The probes: x0 address, x1 and x2 data, x3 priming address or 0.  Only
 * the TLBI sequence and the priming store come before the access, which
 * sits at the smoke_insn_* label the fault handler looks for.
 */
void smoke_str(u64 addr, u64 lo, u64 hi, u64 prime);
void smoke_stp(u64 addr, u64 lo, u64 hi, u64 prime);
extern char smoke_insn_str[], smoke_insn_stp[];
asm(".pushsection .text\n"
    ".macro smoke_prologue\n"
    "    tlbi    vmalle1\n"
    "    dsb     nsh\n"
    "    isb\n"
    "    cbz     x3, 1f\n"
    "    str     x1, [x3]\n"
    "1:\n"
    ".endm\n"
    "    .balign 16\n"
    "    .global smoke_str, smoke_insn_str, smoke_stp, smoke_insn_stp\n"
    "smoke_str:\n"
    "    smoke_prologue\n"
    "smoke_insn_str:\n"
    "    str     x1, [x0]\n"
    "    ret\n"
    "smoke_stp:\n"
    "    smoke_prologue\n"
    "smoke_insn_stp:\n"
    "    stp     x1, x2, [x0]\n"
    "    ret\n"
    ".popsection\n");

static volatile struct {
    bool taken;
    u64 esr, far;
} fault;

/* A data abort on a probed access: record it and step over the access. */
static bool el1_sync(struct frame *f, u64 esr)
{
    if (ESR_EC(esr) != EC_DABT_CUR || fault.taken ||
        (f->elr != (u64)(uintptr_t)smoke_insn_str &&
         f->elr != (u64)(uintptr_t)smoke_insn_stp)) {
        return false;
    }
    fault.taken = true;
    fault.esr = esr;
    fault.far = read_sysreg(far_el1);
    f->elr += 4;
    return true;
}

static void parse_args(void)
{
    const struct arg_u64 known[] = {
        { "mair", &cfg.mair }, { "vendor", &cfg.vendor },
        { "device", &cfg.device }, { "bar", &cfg.bar }, { "hit", &cfg.hit },
    };

    args_parse(boot_args(), known, ARRAY_SIZE(known));
    if (cfg.mair > 0xff || cfg.bar > 5 || cfg.hit > 1) {
        abort_test("mair= is 0..0xff, bar= 0..5, hit= 0 or 1");
    }
}

static bool s1_device(void)
{
    return (cfg.mair & 0xf0) == 0;
}

static void map_memory(const struct barlab_boot_bar *b)
{
    u64 *root = pt_alloc();

    pt_map(root, boot_info->ram_base, boot_info->ram_base,
           ALIGN_UP(boot_info->ram_size, SZ_2M),
           S1_ATTRIDX(IDX_RAM) | PT_SH(SH_ISH) | PT_AF);
    pt_map(root, boot_info->uart & ~(SZ_2M - 1), boot_info->uart & ~(SZ_2M - 1),
           SZ_2M, S1_ATTRIDX(IDX_UART) | PT_AF | S1_PXN | S1_UXN);
    pt_map(root, b->ipa, b->ipa, ALIGN_UP(b->size, SZ_2M),
           S1_ATTRIDX(IDX_TEST) | PT_SH(SH_ISH) | PT_AF | S1_PXN | S1_UXN);
    el1_mmu_enable(root, MAIR_RAM << (8 * IDX_RAM) | MAIR_UART << (8 * IDX_UART) |
                   cfg.mair << (8 * IDX_TEST));
}

/* Byte loads: aligned under every attribute. */
static bool read_back(u64 addr, const u8 *want, unsigned len, u64 *got)
{
    bool same = true;

    *got = 0;
    for (unsigned i = 0; i < len; i++) {
        u8 v = *(volatile u8 *)(uintptr_t)(addr + i);

        same &= v == want[i];
        if (i < 8) {
            *got |= (u64)v << (8 * i);
        }
    }
    return same;
}

static void run_access(const struct barlab_boot_bar *b, unsigned n)
{
    const struct access *a = &accesses[n];
    u64 addr = b->ipa + a->off, got;
    u64 data[2] = { 0xba5e000000000000ull | (u64)n << 8 | 1,
                    0xba5e000000000000ull | (u64)n << 8 | 2 };
    bool want_fault = a->device_faults && s1_device();
    char seen[96];
    bool ok;

    fault.taken = false;
    (a->probe == PROBE_STR ? smoke_str : smoke_stp)
        (addr, data[0], data[1], cfg.hit ? b->ipa + PRIME_OFF : 0);
    if (fault.taken) {
        snprintf(seen, sizeof(seen), "el1-fault esr=0x%llx far=0x%llx",
                 (unsigned long long)fault.esr, (unsigned long long)fault.far);
        ok = want_fault && ESR_DFSC(fault.esr) == DFSC_ALIGNMENT && fault.far == addr;
    } else if (read_back(addr, (const u8 *)data, a->len, &got)) {
        snprintf(seen, sizeof(seen), "completed");
        ok = !want_fault;
    } else {
        snprintf(seen, sizeof(seen), "completed read-back=0x%llx",
                 (unsigned long long)got);
        ok = false;
    }
    report(ok, "acc=%s off=0x%02llx mair=0x%02llx touch=%s result=%s (expected %s)",
           a->name, (unsigned long long)a->off, (unsigned long long)cfg.mair,
           cfg.hit ? "hit" : "first", seen,
           want_fault ? "an EL1 alignment fault" : "completion");
}

/* Started by bare QEMU: be the VMM, with no stage 2. */
void main_el2(void)
{
    parse_args();
    boot_info_from_pci((u16)cfg.vendor, (u16)cfg.device, (unsigned)cfg.bar);
    el2_enter_el1();
}

void main_el1(void)
{
    const struct barlab_boot_bar *b;

    if (!boot_info) {
        abort_test("entered at EL1 without boot information: run under barlab-vmm");
    }
    parse_args();
    b = boot_bar((u16)cfg.vendor, (u16)cfg.device, (unsigned)cfg.bar);
    if (!b) {
        abort_test("BAR%llu of %04llx:%04llx is not passed through",
                   (unsigned long long)cfg.bar, (unsigned long long)cfg.vendor,
                   (unsigned long long)cfg.device);
    }
    printf("# l2smoke at EL%u (%s): BAR%u of %04x:%04x, 0x%llx bytes at 0x%llx, "
           "stage-1 MAIR 0x%02llx (%s), touch=%s\n", current_el(),
           boot_info->ucall ? "barlab-vmm" : "bare QEMU, no stage 2", b->index,
           b->vendor, b->device, (unsigned long long)b->size,
           (unsigned long long)b->ipa, (unsigned long long)cfg.mair,
           s1_device() ? "Device" : "Normal", cfg.hit ? "hit" : "first");
    map_memory(b);
    install_sync_handler(1, el1_sync);
    for (unsigned i = 0; i < ARRAY_SIZE(accesses); i++) {
        run_access(b, i);
    }
    report_summary();
    system_off();
}
