/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a payload knows of its machine, the same way under both of its
 * hosts: barlab-vmm hands over a struct barlab_boot_info (x0 at entry);
 * under QEMU -kernel, a payload's EL2 part describes the bare machine in
 * one itself (boot_info_from_pci) before it drops to EL1.  The ucall
 * channel to barlab-vmm lives here too; without the VMM, ucalls are not
 * made and the console carries everything.
 */
#include "libpl.h"

const struct barlab_boot_info *boot_info;
static struct barlab_boot_info bare_info;

/* From start.S: @addr is x0 at an EL1 entry. */
void boot_info_init(u64 addr);

void boot_info_init(u64 addr)
{
    const struct barlab_boot_info *bi = (const void *)(uintptr_t)addr;

    if (!addr) {
        return;
    }
    if (bi->magic != BARLAB_BOOT_MAGIC || bi->version != BARLAB_BOOT_VERSION ||
        bi->size != sizeof(*bi)) {
        printf("FATAL: boot information at 0x%llx is not barlab-vmm's v%u (magic "
               "0x%llx version %u size %u)\n", (unsigned long long)addr,
               BARLAB_BOOT_VERSION, (unsigned long long)bi->magic, bi->version,
               bi->size);
        system_off();
    }
    boot_info = bi;
}

const char *boot_args(void)
{
    return boot_info ? boot_info->args : fdt_bootargs(fdt_find());
}

const struct barlab_boot_bar *boot_bar(u16 vendor, u16 device, unsigned bar)
{
    for (unsigned i = 0; boot_info && i < boot_info->nr_bars; i++) {
        const struct barlab_boot_bar *b = &boot_info->bars[i];

        if (b->vendor == vendor && b->device == device && b->index == bar) {
            return b;
        }
    }
    return NULL;
}

void boot_info_from_pci(u16 vendor, u16 device, unsigned bar)
{
    const void *fdt = fdt_find();
    const char *args = fdt_bootargs(fdt);
    u64 ecam = fdt_reg_of(fdt, "pci-host-ecam-generic");
    struct barlab_boot_bar *b = &bare_info.bars[0];
    struct pci_dev dev;
    bool is64, pref;

    bare_info.magic = BARLAB_BOOT_MAGIC;
    bare_info.version = BARLAB_BOOT_VERSION;
    bare_info.size = sizeof(bare_info);
    bare_info.ram_base = VIRT_RAM;
    bare_info.ram_size = SZ_1G;         /* what the payloads map; -m 1G or more */
    bare_info.uart = VIRT_UART;
    bare_info.nr_cpus = 1;
    if (args) {
        size_t n = strlen(args);

        if (n >= sizeof(bare_info.args)) {
            abort_test("-append is longer than %u bytes", BARLAB_BOOT_ARGS_LEN - 1);
        }
        memcpy(bare_info.args, args, n + 1);
    }
    if (ecam && pci_find(ecam, vendor, device, &dev) &&
        pci_assign_bars(&dev, bar, &b->ipa, &b->size, &is64, &pref)) {
        b->vendor = vendor;
        b->device = device;
        b->bdf = dev.bdf;
        b->index = bar;
        b->flags = (is64 ? BARLAB_BAR_64 : 0) | (pref ? BARLAB_BAR_PREFETCH : 0);
        bare_info.nr_bars = 1;
    }
    boot_info = &bare_info;
}

static void ucall(u64 cmd, const u64 *args, unsigned nargs, const char *msg)
{
    struct barlab_ucall uc = { .cmd = cmd };

    if (!boot_info || !boot_info->ucall) {
        return;
    }
    for (unsigned i = 0; i < nargs && i < ARRAY_SIZE(uc.args); i++) {
        uc.args[i] = args[i];
    }
    if (msg) {
        size_t n = strlen(msg);

        n = n < sizeof(uc.msg) - 1 ? n : sizeof(uc.msg) - 1;
        memcpy(uc.msg, msg, n);
    }
    /* RAM is identity-mapped in every payload: the pointer is the IPA. */
    asm volatile("dsb ish" : : : "memory");
    *(volatile u64 *)(uintptr_t)boot_info->ucall = (u64)(uintptr_t)&uc;
}

void ucall_report(bool pass, const char *msg)
{
    u64 arg = pass;

    ucall(BARLAB_UCALL_REPORT, &arg, 1, msg);
}

void ucall_summary(unsigned tests, unsigned failures)
{
    u64 args[2] = { tests, failures };

    ucall(BARLAB_UCALL_SUMMARY, args, 2, NULL);
}

void ucall_abort(const char *msg)
{
    ucall(BARLAB_UCALL_ABORT, NULL, 0, msg);
}

void ucall_exception(unsigned el, unsigned vec, u64 esr, u64 far, u64 elr,
                     u64 spsr, u64 hpfar, const char *what)
{
    u64 args[7] = { el, vec, esr, far, elr, spsr, hpfar };

    ucall(BARLAB_UCALL_EXCEPTION, args, 7, what);
}

void ucall_cell_begin(const char *name, u64 lo, u64 hi, unsigned bar, u64 origin)
{
    u64 args[4] = { lo, hi, bar, origin };

    ucall(BARLAB_UCALL_CELL_BEGIN, args, 4, name);
}

void ucall_cell_end(const char *name, bool exception, unsigned el, u64 esr, u64 far,
                    u64 status)
{
    u64 args[5] = { exception, el, esr, far, status };

    ucall(BARLAB_UCALL_CELL_END, args, 5, name);
}

void ucall_values(const char *names, const u64 *vals, unsigned n)
{
    ucall(BARLAB_UCALL_VALUES, vals, n, names);
}
