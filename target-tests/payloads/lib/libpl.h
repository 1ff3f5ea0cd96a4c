/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The payload library: what every bare-metal barlab payload needs.  A
 * payload is started either by QEMU's -kernel at EL2 on -M virt, where it
 * runs its own hypervisor part (main_el2) and may drop to its test part at
 * EL1 (main_el1), or by barlab-vmm in the L1 host, which enters main_el1
 * at EL1 directly.  Modelled on kvm-unit-tests' lib/: start-up, exception
 * vectors, UART printf, page tables, report().
 */
#ifndef PAYLOAD_LIBPL_H
#define PAYLOAD_LIBPL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "barlab-vmm-abi.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((u64)(a) - 1))
#define SZ_4K 0x1000ul
#define SZ_2M 0x200000ul
#define SZ_1G 0x40000000ul

/* -M virt memory map (hw/arm/virt.c base_memmap). */
#define VIRT_UART 0x09000000ul
#define VIRT_PCIE_MMIO 0x10000000ul
#define VIRT_PCIE_MMIO_END 0x3f000000ul
#define VIRT_RAM 0x40000000ul

#define read_sysreg(r) ({                                       \
    u64 __v;                                                    \
    asm volatile("mrs %0, " #r : "=r"(__v));                    \
    __v;                                                        \
})
#define write_sysreg(v, r)                                      \
    asm volatile("msr " #r ", %0" : : "r"((u64)(v)) : "memory")
#define isb() asm volatile("isb" : : : "memory")
#define dsb(opt) asm volatile("dsb " #opt : : : "memory")

static inline unsigned current_el(void)
{
    return (read_sysreg(CurrentEL) >> 2) & 3;
}

static inline u32 mmio_read32(u64 addr)
{
    return *(volatile u32 *)addr;
}

static inline void mmio_write32(u64 addr, u32 val)
{
    *(volatile u32 *)addr = val;
}

/* io.c: the PL011 console and printf */
void puts(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);
int snprintf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
u64 strtou64(const char *s, const char **end);

/* report.c: kvm-unit-tests style checks */
void report(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int report_summary(void);
void abort_test(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* abort_test() unless entered at EL2; @prefix starts the message */
void require_el2(const char *prefix);

/* psci.c: power off the machine (SMC from EL2; HVC from EL1, to KVM or the EL2 stub) */
void system_off(void) __attribute__((noreturn));
struct frame;
/* EL2: carry out a PSCI call an EL1 HVC made; false if it is not PSCI */
bool psci_forward(struct frame *f);

/* exceptions.c */
struct frame {
    u64 x[31];
    u64 elr;
    u64 spsr;
    u64 pad;
};

/*
 * A synchronous-exception handler for one EL: returns true if it dealt
 * with the exception (and updated f->elr as needed); false makes the
 * library dump the exception and stop the machine.
 */
typedef bool (*sync_handler_t)(struct frame *f, u64 esr);
void install_sync_handler(unsigned el, sync_handler_t fn);

#define ESR_EC(esr) (((esr) >> 26) & 0x3f)
#define ESR_ISS(esr) ((esr) & 0x1ffffff)
#define ESR_DFSC(esr) ((esr) & 0x3f)
#define EC_HVC64 0x16
#define EC_DABT_LOWER 0x24
#define EC_DABT_CUR 0x25
#define DFSC_ALIGNMENT 0x21

/*
 * boot.c: the machine as barlab-vmm describes it (NULL until known), or as
 * an EL2 part found it on bare QEMU; and the VMM's ucall channel (a no-op
 * without the VMM).
 */
extern const struct barlab_boot_info *boot_info;
/* the payload's arguments: the VMM's, or -append; NULL if none */
const char *boot_args(void);
/* the passed-through BAR @bar of device @vendor:@device, or NULL */
const struct barlab_boot_bar *boot_bar(u16 vendor, u16 device, unsigned bar);
/*
 * At EL2 under bare QEMU: find @vendor:@device on PCI, place its BARs, and
 * describe the machine in boot_info as barlab-vmm would (without a ucall
 * page), BAR @bar as the only passed-through one.
 */
void boot_info_from_pci(u16 vendor, u16 device, unsigned bar);
void ucall_report(bool pass, const char *msg);
void ucall_summary(unsigned tests, unsigned failures);
void ucall_abort(const char *msg);
void ucall_exception(unsigned el, unsigned vec, u64 esr, u64 far, u64 elr,
                     u64 spsr, u64 hpfar, const char *what);
/*
 * A test cell's structured record: it begins and may touch [lo, hi) of
 * passed-through BAR @bar (an index in boot_info->bars), its offsets
 * counting from @origin; it ends, having completed (with @status) or taken
 * a synchronous exception at @el with @esr and @far.
 */
void ucall_cell_begin(const char *name, u64 lo, u64 hi, unsigned bar, u64 origin);
void ucall_cell_end(const char *name, bool exception, unsigned el, u64 esr, u64 far,
                    u64 status);
/*
 * Named results as one structured record: @names is "NAME KEY1 KEY2 ...",
 * @vals the keys' values in that order (at most 7).
 */
void ucall_values(const char *names, const u64 *vals, unsigned n);

/* args.c: numeric key=value arguments; stops the payload on unknown keys */
struct arg_u64 {
    const char *key;    /* without the '=' */
    u64 *val;
};
void args_parse(const char *args, const struct arg_u64 *known, unsigned n);

/* fdt.c: the little of the device tree a payload reads */
const void *fdt_find(void);
/* /chosen bootargs (the -append string), or NULL */
const char *fdt_bootargs(const void *fdt);
/* reg address of the first node whose compatible is @compat, or 0 */
u64 fdt_reg_of(const void *fdt, const char *compat);

/* pci.c: ECAM config space and BAR assignment */
struct pci_dev {
    u64 cfg;            /* ECAM address of its configuration space */
    unsigned bdf;
    u16 vendor, device;
};
bool pci_find(u64 ecam, u16 vendor, u16 device, struct pci_dev *out);
/*
 * Give every memory BAR of @dev an address in the virt 32-bit PCI MMIO
 * window (BAR @want first, so that it is aligned to its size), enable
 * memory decoding, and return BAR @want's address and size.
 */
bool pci_assign_bars(const struct pci_dev *dev, unsigned want,
                     u64 *addr, u64 *size, bool *is64, bool *prefetch);

/* mmu.c: page tables for a 32-bit (4 GiB) input range, 4 KiB granule */
#define PT_BLOCK 0x1ul                  /* block descriptor at level 1/2 */
#define PT_AF (1ul << 10)
#define PT_SH(sh) ((u64)(sh) << 8)
#define S1_ATTRIDX(n) ((u64)(n) << 2)
#define S1_PXN (1ul << 53)
#define S1_UXN (1ul << 54)
#define S2_MEMATTR(m) ((u64)(m) << 2)
#define S2_AP_RW (3ul << 6)
#define S2_XN (2ul << 53)               /* XN[1:0] = 0b10: no execution */
#define S2_MEMATTR_MASK (0xful << 2)

u64 *pt_alloc(void);
/* Map [va, va + size) to pa in 2 MiB blocks with descriptor bits @attrs. */
void pt_map(u64 *root, u64 va, u64 pa, u64 size, u64 attrs);
/* The block descriptor that maps @va (mapped with pt_map), or NULL. */
u64 *pt_entry(u64 *root, u64 va);

/*
 * EL2's own stage 1 (no VHE), for payloads that test at EL2: AP[1] is RES1
 * in that regime.  el2_mmu_enable() turns it on with @root and MAIR_EL2 =
 * @mair: a 4 GiB input range, Write-Back walks, caches on.
 */
#define S1_EL2_AP1 (1ul << 6)
void el2_mmu_enable(u64 *root, u64 mair);

/*
 * EL1's stage 1, from EL1: a 4 GiB input range through TTBR0_EL1 with
 * @root, MAIR_EL1 = @mair, Non-cacheable walks (the tables were written
 * with the MMU off), caches on, alignment checking off (SCTLR_EL1.A = 0).
 */
void el1_mmu_enable(u64 *root, u64 mair);

/*
 * From EL2 under bare QEMU: run main_el1() at EL1h with no stage 2
 * (HCR_EL2.VM = 0), the EL1 stack and vectors set; does not return.
 */
void el2_enter_el1(void) __attribute__((noreturn));

#endif /* PAYLOAD_LIBPL_H */
