/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The agreement payload (docs/agreement.md).  EL2 finds the
 * device under test on PCI, maps it for EL1 through its own stage-2
 * tables and EL1's own stage-1 tables, and drops to EL1.  EL1 then stores
 * to the device's BAR under every stage-1 MAIR attribute (0..255) x every
 * stage-2 MemAttr (0..15) x HCR_EL2.FWB off/on (on only with FEAT_S2FWB),
 * each on first touch and on a TLB hit, and prints one "agree:" line per
 * access saying whether it faulted, at which EL, with which syndrome.
 * tools/barlab-agree compares these lines, and the device's
 * trace, against hw/memtype's predictions.
 *
 * The device is a build-time default (AGREE_VENDOR, AGREE_DEVICE,
 * AGREE_BAR) that -append "vendor=0x.. device=0x.. bar=N ecam=0x.." can
 * override.
 */
#include "libpl.h"
#include "barlab-gpu.h"

/* By default barlab-gpu's VRAM BAR. */
#ifndef AGREE_VENDOR
#define AGREE_VENDOR GPU_VENDOR_ID
#endif
#ifndef AGREE_DEVICE
#define AGREE_DEVICE GPU_DEVICE_ID
#endif
#ifndef AGREE_BAR
#define AGREE_BAR GPU_VRAM_BAR
#endif

/* virt's high ECAM when highmem is on (the default); used without a DTB. */
#define VIRT_HIGH_ECAM 0x4010000000ul

#define AGREE_VERSION 1

/* MAIR_EL1 slots; the attribute under test lives in Attr7. */
#define MAIR_RAM 0xfful         /* Attr0: Normal WB RAWA */
#define MAIR_UART 0x04ul        /* Attr1: Device-nGnRE */
#define MAIR_IDX_RAM 0
#define MAIR_IDX_UART 1
#define MAIR_IDX_TEST 7

/*
 * Stage-2 MemAttr for RAM and the UART.  RAM needs a different encoding
 * per form: 0b1111 is Normal WB without FWB, but with FWB MemAttr[3] is
 * RES0 and 0b110 forces Write-Back.  Device-nGnRE is 0b0001 in both.
 */
#define S2_RAM_NOFWB 0xf
#define S2_RAM_FWB 0x6
#define S2_UART 0x1
#define SH_ISH 3                /* SH of every descriptor: what KVM uses */

#define RAM_MAP_SIZE SZ_1G

#define HCR_VM (1ul << 0)
#define HCR_RW (1ul << 31)
#define HCR_FWB (1ul << 46)

/*
 * Translation controls.  The walks are Non-cacheable because EL2 writes
 * the tables with its MMU off (QEMU models no caches; on hardware this
 * keeps the walker and the writer coherent without cache maintenance).
 */
#define TCR_T0SZ_32 32ul                /* 4 GiB: the walk starts at level 1 */
#define TCR_SH0_OSH (2ul << 12)
#define TCR_EPD1 (1ul << 23)
#define TCR_TG1_4K (2ul << 30)
#define VTCR_SL0_L1 (1ul << 6)
#define VTCR_RES1 (1ul << 31)
#define SCTLR_EL1_RES1 0x30d00800ul     /* bits 29,28,23,22,20,11 (v8.0) */
#define SCTLR_M (1ul << 0)
#define SCTLR_C (1ul << 2)
#define SCTLR_SA (1ul << 3)
#define SCTLR_I (1ul << 12)
#define SPSR_EL1H_MASKED 0x3c5ul        /* EL1h, DAIF masked */

/* HVC from EL1: SMCCC vendor-specific hypervisor service range. */
#define HVC_AGREE_SET_S2 0xc6000001ul   /* x1 = MemAttr, x2 = FWB */

enum { ACC_STR, ACC_UNAL, ACC_ZVA, ACC__COUNT };
static const char *const acc_names[ACC__COUNT] = { "str", "unal", "zva" };
/* Offsets in a cell: +0 aligned store and DC ZVA, +0x13 the unaligned one. */
static const u64 acc_off[ACC__COUNT] = { 0x00, 0x13, 0x00 };
/* The priming store of a TLB-hit probe: aligned, its own bytes per access. */
#define PRIME_OFF(acc) (0x20 + 8 * (u64)(acc))
/* Store data names the cell and the access: 0xba0A0000_00CCCCCC. */
#define TAG(acc, cell) (0xba00000000000000ull | (u64)(acc) << 48 | (cell))
#define TAG_PRIME 0xf

enum { TOUCH_FIRST, TOUCH_HIT };
static const char *const touch_names[] = { "first", "hit" };

/* Written at EL2 before EL1 starts; read-only afterwards. */
static struct {
    u16 vendor, device;
    unsigned bar, bdf;
    u64 ecam;
    u64 bar_addr, bar_size;
    bool bar64, bar_pref;
    u64 midr;
    bool cpu_fwb, xs, mte2;
    unsigned dczva;             /* DC ZVA block, bytes */
    u64 stride;                 /* bytes per cell */
    unsigned ncells;
    u64 *s1_root, *s2_root;
} cfg;

/* Faults taken during one probe, recorded by the EL1 and EL2 handlers. */
struct fault {
    unsigned el;
    u64 esr, far, hpfar, elr;
};
static volatile struct {
    unsigned n;
    struct fault f[4];
} faults;

extern char probe_begin[], probe_end[];
extern char probe_insn_str_first[], probe_insn_str_hit[], probe_insn_str_prime[];
extern char probe_insn_zva_first[], probe_insn_zva_hit[], probe_insn_zva_prime[];
void probe_str_first(u64 addr, u64 val);
void probe_str_hit(u64 addr, u64 val, u64 prime, u64 prime_val);
void probe_zva_first(u64 addr);
void probe_zva_hit(u64 addr, u64 unused, u64 prime, u64 prime_val);
void el1_entry(void);
void main_el2(void);
void main_el1(void);
extern char __stack_el1_top[];

static bool in_probe(u64 pc)
{
    return pc >= (u64)(uintptr_t)probe_begin && pc < (u64)(uintptr_t)probe_end;
}

/* Record a data abort on a probe instruction and step over it. */
static bool record_fault(struct frame *f, unsigned el, u64 esr, u64 far,
                         u64 hpfar)
{
    unsigned n = faults.n;

    if (!in_probe(f->elr) || n == ARRAY_SIZE(faults.f)) {
        return false;
    }
    faults.f[n].el = el;
    faults.f[n].esr = esr;
    faults.f[n].far = far;
    faults.f[n].hpfar = hpfar;
    faults.f[n].elr = f->elr;
    faults.n = n + 1;
    f->elr += 4;
    return true;
}

static bool el1_sync(struct frame *f, u64 esr)
{
    if (ESR_EC(esr) != EC_DABT_CUR) {
        return false;
    }
    return record_fault(f, 1, esr, read_sysreg(far_el1), 0);
}

/* Point the device's stage-2 blocks at @memattr and set HCR_EL2.FWB. */
static void s2_configure(unsigned memattr, bool fwb)
{
    u64 ram = fwb ? S2_RAM_FWB : S2_RAM_NOFWB;

    /* EL1 is not running: no break-before-make needed, one TLBI after. */
    pt_map(cfg.s2_root, VIRT_RAM, VIRT_RAM, RAM_MAP_SIZE,
           S2_MEMATTR(ram) | S2_AP_RW | PT_SH(SH_ISH) | PT_AF);
    pt_map(cfg.s2_root, cfg.bar_addr, cfg.bar_addr, ALIGN_UP(cfg.bar_size, SZ_2M),
           S2_MEMATTR(memattr) | S2_AP_RW | PT_SH(SH_ISH) | PT_AF | S2_XN);
    write_sysreg(HCR_VM | HCR_RW | (fwb ? HCR_FWB : 0), hcr_el2);
    isb();
    asm volatile("tlbi vmalls12e1\n\tdsb nsh\n\tisb" : : : "memory");
}

static bool el2_sync(struct frame *f, u64 esr)
{
    switch (ESR_EC(esr)) {
    case EC_DABT_LOWER:
        return record_fault(f, 2, esr, read_sysreg(far_el2),
                            read_sysreg(hpfar_el2));
    case EC_HVC64:
        if (f->x[0] != HVC_AGREE_SET_S2 || f->x[1] > 15 ||
            (f->x[2] && !cfg.cpu_fwb)) {
            return false;
        }
        s2_configure((unsigned)f->x[1], f->x[2]);
        f->x[0] = 0;
        return true;
    default:
        return false;
    }
}

static void parse_args(const char *args)
{
    u64 vendor = cfg.vendor, device = cfg.device, bar = cfg.bar, ecam = cfg.ecam;
    const struct arg_u64 known[] = {
        { "vendor", &vendor }, { "device", &device }, { "bar", &bar }, { "ecam", &ecam },
    };

    args_parse(args, known, ARRAY_SIZE(known));
    cfg.vendor = (u16)vendor;
    cfg.device = (u16)device;
    cfg.bar = (unsigned)bar;
    cfg.ecam = ecam;
}

static void probe_cpu(void)
{
    u64 dczid = read_sysreg(dczid_el0);

    cfg.midr = read_sysreg(midr_el1);
    cfg.cpu_fwb = (read_sysreg(id_aa64mmfr2_el1) >> 40) & 0xf;
    cfg.xs = (read_sysreg(id_aa64isar1_el1) >> 56) & 0xf;
    cfg.mte2 = ((read_sysreg(id_aa64pfr1_el1) >> 8) & 0xf) >= 2;
    if (dczid & 0x10) {
        abort_test("DCZID_EL0.DZP is set: DC ZVA is prohibited");
    }
    cfg.dczva = 4u << (dczid & 0xf);
    cfg.stride = cfg.dczva > 64 ? cfg.dczva : 64;
    cfg.ncells = (cfg.cpu_fwb ? 2 : 1) * 16 * 256 * 2;
}

static void find_device(void)
{
    const void *fdt = fdt_find();
    struct pci_dev dev;

    cfg.vendor = AGREE_VENDOR;
    cfg.device = AGREE_DEVICE;
    cfg.bar = AGREE_BAR;
    parse_args(fdt_bootargs(fdt));
    if (!cfg.ecam) {
        cfg.ecam = fdt_reg_of(fdt, "pci-host-ecam-generic");
    }
    if (!cfg.ecam) {
        cfg.ecam = VIRT_HIGH_ECAM;
    }
    printf("# device tree %s; ECAM at 0x%llx\n", fdt ? "found" : "not found",
           (unsigned long long)cfg.ecam);
    if (!pci_find(cfg.ecam, cfg.vendor, cfg.device, &dev)) {
        abort_test("no PCI device %04x:%04x on bus 0 (ECAM 0x%llx)",
                   cfg.vendor, cfg.device, (unsigned long long)cfg.ecam);
    }
    cfg.bdf = dev.bdf;
    if (!pci_assign_bars(&dev, cfg.bar, &cfg.bar_addr, &cfg.bar_size,
                         &cfg.bar64, &cfg.bar_pref)) {
        abort_test("device %04x:%04x: BAR%u is not a memory BAR or does not fit "
                   "the 32-bit MMIO window", cfg.vendor, cfg.device, cfg.bar);
    }
    report(true, "found %04x:%04x at 00:%02x.%u, BAR%u %s%s 0x%llx bytes at 0x%llx",
           cfg.vendor, cfg.device, cfg.bdf >> 3, cfg.bdf & 7, cfg.bar,
           cfg.bar64 ? "64-bit" : "32-bit", cfg.bar_pref ? " prefetchable" : "",
           (unsigned long long)cfg.bar_size, (unsigned long long)cfg.bar_addr);
    if ((u64)cfg.ncells * cfg.stride > cfg.bar_size) {
        printf("# BAR smaller than %u cells x %llu bytes: offsets wrap, the "
               "device trace cannot be split by cell\n", cfg.ncells,
               (unsigned long long)cfg.stride);
    }
}

/* Identity maps for EL1: RAM, the UART, and the BAR through MAIR Attr7. */
static void build_tables(void)
{
    u64 bar_span = ALIGN_UP(cfg.bar_size, SZ_2M);

    cfg.s1_root = pt_alloc();
    pt_map(cfg.s1_root, VIRT_RAM, VIRT_RAM, RAM_MAP_SIZE,
           S1_ATTRIDX(MAIR_IDX_RAM) | PT_SH(SH_ISH) | PT_AF);
    pt_map(cfg.s1_root, VIRT_UART, VIRT_UART, SZ_2M,
           S1_ATTRIDX(MAIR_IDX_UART) | PT_AF | S1_PXN | S1_UXN);
    pt_map(cfg.s1_root, cfg.bar_addr, cfg.bar_addr, bar_span,
           S1_ATTRIDX(MAIR_IDX_TEST) | PT_SH(SH_ISH) | PT_AF | S1_PXN | S1_UXN);

    cfg.s2_root = pt_alloc();
    pt_map(cfg.s2_root, VIRT_UART, VIRT_UART, SZ_2M,
           S2_MEMATTR(S2_UART) | S2_AP_RW | PT_AF | S2_XN);
    s2_configure(0, false);
}

void main_el2(void)
{
    if (current_el() != 2) {
        abort_test("entered at EL%u, not EL2: run QEMU with -M virt,virtualization=on",
                   current_el());
    }
    printf("# barlab agreement payload v%u\n", AGREE_VERSION);
    install_sync_handler(2, el2_sync);
    install_sync_handler(1, el1_sync);
    probe_cpu();
    find_device();
    build_tables();

    write_sysreg(MAIR_RAM << (8 * MAIR_IDX_RAM) | MAIR_UART << (8 * MAIR_IDX_UART),
                 mair_el1);
    write_sysreg(TCR_T0SZ_32 | TCR_SH0_OSH | TCR_EPD1 | TCR_TG1_4K, tcr_el1);
    write_sysreg((u64)(uintptr_t)cfg.s1_root, ttbr0_el1);
    write_sysreg(TCR_T0SZ_32 | VTCR_SL0_L1 | TCR_SH0_OSH | VTCR_RES1, vtcr_el2);
    write_sysreg((u64)(uintptr_t)cfg.s2_root | 1ul << 48, vttbr_el2); /* VMID 1 */
    write_sysreg((u64)(uintptr_t)__stack_el1_top, sp_el1);
    extern char vectors_el1[];
    write_sysreg((u64)(uintptr_t)vectors_el1, vbar_el1);
    write_sysreg(SCTLR_EL1_RES1 | SCTLR_M | SCTLR_C | SCTLR_SA | SCTLR_I, sctlr_el1);
    write_sysreg(SPSR_EL1H_MASKED, spsr_el2);
    write_sysreg((u64)(uintptr_t)el1_entry, elr_el2);
    asm volatile("tlbi vmalls12e1\n\tdsb nsh\n\tisb\n\teret" : : : "memory");
    __builtin_unreachable();
}

static u64 set_s2(unsigned memattr, bool fwb)
{
    register u64 x0 asm("x0") = HVC_AGREE_SET_S2;
    register u64 x1 asm("x1") = memattr;
    register u64 x2 asm("x2") = fwb;

    asm volatile("hvc #0" : "+r"(x0) : "r"(x1), "r"(x2) : "x3", "memory");
    return x0;
}

static void set_test_attr(unsigned s1)
{
    u64 mair = read_sysreg(mair_el1);

    mair &= ~(0xfful << (8 * MAIR_IDX_TEST));
    mair |= (u64)s1 << (8 * MAIR_IDX_TEST);
    write_sysreg(mair, mair_el1);
    isb();      /* every probe starts with a TLBI, which drops old attributes */
}

static struct {
    unsigned lines, el1, el2, prime;
} totals;

static void print_fault(const char *prefix, const volatile struct fault *f)
{
    printf(" %s=EL%u %sesr=0x%llx %sfar=0x%llx", prefix, f->el,
           prefix[0] == 'p' ? "prime_" : "", (unsigned long long)f->esr,
           prefix[0] == 'p' ? "prime_" : "", (unsigned long long)f->far);
    if (f->el == 2) {
        printf(" %shpfar=0x%llx", prefix[0] == 'p' ? "prime_" : "",
               (unsigned long long)f->hpfar);
    }
}

/* One access of one cell: probe it and print its agree: line. */
static void run_access(unsigned cell, unsigned fwb, unsigned s2, unsigned s1,
                       unsigned touch, unsigned acc)
{
    u64 cell_off = ((u64)cell * cfg.stride) % cfg.bar_size;
    u64 base = cfg.bar_addr + cell_off;
    u64 addr = base + acc_off[acc], prime = base + PRIME_OFF(acc);
    u64 prime_val = TAG(TAG_PRIME, cell);
    const char *insn = NULL, *prime_insn = NULL;
    const volatile struct fault *hit = NULL, *pf = NULL;

    faults.n = 0;
    switch (acc * 2 + touch) {
    case ACC_STR * 2 + TOUCH_FIRST:
    case ACC_UNAL * 2 + TOUCH_FIRST:
        probe_str_first(addr, TAG(acc + 1, cell));
        insn = probe_insn_str_first;
        break;
    case ACC_STR * 2 + TOUCH_HIT:
    case ACC_UNAL * 2 + TOUCH_HIT:
        probe_str_hit(addr, TAG(acc + 1, cell), prime, prime_val);
        insn = probe_insn_str_hit;
        prime_insn = probe_insn_str_prime;
        break;
    case ACC_ZVA * 2 + TOUCH_FIRST:
        probe_zva_first(addr);
        insn = probe_insn_zva_first;
        break;
    default:
        probe_zva_hit(addr, 0, prime, prime_val);
        insn = probe_insn_zva_hit;
        prime_insn = probe_insn_zva_prime;
        break;
    }
    for (unsigned i = 0; i < faults.n; i++) {
        const volatile struct fault *f = &faults.f[i];

        if (f->elr == (u64)(uintptr_t)insn && !hit) {
            hit = f;
        } else if (prime_insn && f->elr == (u64)(uintptr_t)prime_insn && !pf) {
            pf = f;
        } else {
            abort_test("cell %u %s: fault at 0x%llx, not on the probed "
                       "instruction (ESR 0x%llx)", cell, acc_names[acc],
                       (unsigned long long)f->elr, (unsigned long long)f->esr);
        }
    }

    printf("agree: cell=%u fwb=%u s2=0x%x s1=0x%02x touch=%s acc=%s off=0x%llx",
           cell, fwb, s2, s1, touch_names[touch], acc_names[acc],
           (unsigned long long)(cell_off + acc_off[acc]));
    if (hit) {
        print_fault("fault", hit);
        totals.el1 += hit->el == 1;
        totals.el2 += hit->el == 2;
    } else {
        printf(" fault=none");
    }
    if (pf) {
        print_fault("prime", pf);
        totals.prime++;
    }
    printf("\n");
    totals.lines++;
}

void main_el1(void)
{
    unsigned cell = 0;

    if (!cfg.s2_root) {
        abort_test("agree runs its own stage 2 from EL2: start it with QEMU "
                   "-kernel and -M virt,virtualization=on, not under a VMM");
    }

    printf("agree-begin version=%u midr=0x%llx fwb=%u xs=%u mte2=%u dczva=%u "
           "stride=%llu s2_sh=%u vendor=0x%04x device=0x%04x bar=%u "
           "bar_addr=0x%llx bar_size=0x%llx cells=%u\n",
           AGREE_VERSION, (unsigned long long)cfg.midr, cfg.cpu_fwb, cfg.xs,
           cfg.mte2, cfg.dczva, (unsigned long long)cfg.stride, SH_ISH,
           cfg.vendor, cfg.device, cfg.bar, (unsigned long long)cfg.bar_addr,
           (unsigned long long)cfg.bar_size, cfg.ncells);
    for (unsigned fwb = 0; fwb <= (cfg.cpu_fwb ? 1u : 0u); fwb++) {
        for (unsigned s2 = 0; s2 < 16; s2++) {
            if (set_s2(s2, fwb)) {
                abort_test("EL2 refused stage-2 MemAttr 0x%x FWB %u", s2, fwb);
            }
            for (unsigned s1 = 0; s1 < 256; s1++) {
                set_test_attr(s1);
                for (unsigned touch = TOUCH_FIRST; touch <= TOUCH_HIT; touch++) {
                    /*
                     * DC ZVA first: the stores after it leave their data
                     * in the device's copy of the cell even when a gather
                     * buffer merges the three into one transaction.
                     */
                    run_access(cell, fwb, s2, s1, touch, ACC_ZVA);
                    run_access(cell, fwb, s2, s1, touch, ACC_UNAL);
                    run_access(cell, fwb, s2, s1, touch, ACC_STR);
                    cell++;
                }
            }
        }
    }
    printf("agree-end cells=%u lines=%u el1_faults=%u el2_faults=%u "
           "prime_faults=%u\n", cell, totals.lines, totals.el1, totals.el2,
           totals.prime);
    system_off();
}
