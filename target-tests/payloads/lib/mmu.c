/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Translation tables for a 32-bit input range (TxSZ = 32) with the 4 KiB
 * granule: the walk starts at level 1 (four 1 GiB entries) and everything
 * is mapped with 2 MiB level-2 blocks.  The stage-1 and stage-2 formats
 * agree on table and block descriptors; only the attribute bits differ,
 * and callers pass those.  Tables come from a static pool: a payload maps
 * a handful of regions once and only rewrites block descriptors after.
 * Also the controls that turn a stage 1 on, and the step from EL2 down to
 * EL1 for payloads that test at EL1 with no stage 2 of their own.
 */
#include "libpl.h"

#define PT_ENTRIES 512
#define PT_TABLE 0x3ul
#define PT_TYPE_MASK 0x3ul
#define PT_ADDR_MASK 0x0000fffffffff000ul
#define PT_POOL_PAGES 16

static u64 pool[PT_POOL_PAGES][PT_ENTRIES] __attribute__((aligned(4096)));
static unsigned pool_used;

u64 *pt_alloc(void)
{
    if (pool_used == PT_POOL_PAGES) {
        abort_test("page-table pool exhausted (%u pages)", PT_POOL_PAGES);
    }
    return pool[pool_used++];
}

static u64 *l2_table(u64 *root, u64 va, bool create)
{
    u64 *l1e = &root[(va >> 30) & 3];

    if ((*l1e & PT_TYPE_MASK) != PT_TABLE) {
        if (!create) {
            return NULL;
        }
        *l1e = (u64)(uintptr_t)pt_alloc() | PT_TABLE;
    }
    return (u64 *)(uintptr_t)(*l1e & PT_ADDR_MASK);
}

void pt_map(u64 *root, u64 va, u64 pa, u64 size, u64 attrs)
{
    if ((va | pa | size) & (SZ_2M - 1) || va + size > (1ul << 32)) {
        abort_test("pt_map: 0x%llx+0x%llx -> 0x%llx is not 2 MiB aligned "
                   "or not below 4 GiB", (unsigned long long)va,
                   (unsigned long long)size, (unsigned long long)pa);
    }
    for (u64 off = 0; off < size; off += SZ_2M) {
        u64 *l2 = l2_table(root, va + off, true);

        l2[((va + off) >> 21) & (PT_ENTRIES - 1)] = (pa + off) | attrs | PT_BLOCK;
    }
    dsb(ishst);
}

u64 *pt_entry(u64 *root, u64 va)
{
    u64 *l2 = l2_table(root, va, false);

    return l2 ? &l2[(va >> 21) & (PT_ENTRIES - 1)] : NULL;
}

#define TCR_EL2_RES1 (1ul << 31 | 1ul << 23)
#define TCR_T0SZ_32 32ul
#define TCR_SH0_ISH (3ul << 12)
#define TCR_WBWA (1ul << 8 | 1ul << 10)     /* IRGN0, ORGN0 */
#define SCTLR_EL2_RES1 0x30c50830ul
#define SCTLR_EL2_M (1ul << 0)
#define SCTLR_EL2_C (1ul << 2)
#define SCTLR_EL2_I (1ul << 12)

/*
 * Stage 1 on at EL@el: MAIR, TCR and TTBR0 from @root, the TLB flush
 * @tlbi (with its barriers), then SCTLR.
 */
#define MMU_ENABLE(el, root, mair, tcr, tlbi, sctlr)                    \
    do {                                                                \
        write_sysreg(mair, mair_##el);                                  \
        write_sysreg(tcr, tcr_##el);                                    \
        write_sysreg((u64)(uintptr_t)(root), ttbr0_##el);               \
        asm volatile(tlbi : : : "memory");                              \
        write_sysreg(sctlr, sctlr_##el);                                \
        isb();                                                          \
    } while (0)

void el2_mmu_enable(u64 *root, u64 mair)
{
    MMU_ENABLE(el2, root, mair,
               TCR_EL2_RES1 | TCR_T0SZ_32 | TCR_SH0_ISH | TCR_WBWA,
               "dsb sy\n\ttlbi alle2\n\tdsb sy\n\tisb",
               SCTLR_EL2_RES1 | SCTLR_EL2_M | SCTLR_EL2_C | SCTLR_EL2_I);
}

#define TCR_SH0_OSH (2ul << 12)
#define TCR_EPD1 (1ul << 23)
#define TCR_TG1_4K (2ul << 30)
#define SCTLR_EL1_RES1 0x30d00800ul     /* bits 29,28,23,22,20,11 (v8.0) */
#define SCTLR_EL1_M (1ul << 0)
#define SCTLR_EL1_C (1ul << 2)
#define SCTLR_EL1_SA (1ul << 3)
#define SCTLR_EL1_I (1ul << 12)

void el1_mmu_enable(u64 *root, u64 mair)
{
    MMU_ENABLE(el1, root, mair,
               TCR_T0SZ_32 | TCR_SH0_OSH | TCR_EPD1 | TCR_TG1_4K,
               "dsb ish\n\ttlbi vmalle1\n\tdsb nsh\n\tisb",
               SCTLR_EL1_RES1 | SCTLR_EL1_M | SCTLR_EL1_C | SCTLR_EL1_SA |
               SCTLR_EL1_I);
}

#define HCR_RW (1ul << 31)
#define SPSR_EL1H_MASKED 0x3c5ul        /* EL1h, DAIF masked */

void el2_enter_el1(void)
{
    extern char vectors_el1[], __stack_el1_top[], el1_entry[];

    write_sysreg(HCR_RW, hcr_el2);
    write_sysreg(SCTLR_EL1_RES1, sctlr_el1);        /* MMU and caches off */
    write_sysreg((u64)(uintptr_t)__stack_el1_top, sp_el1);
    write_sysreg((u64)(uintptr_t)vectors_el1, vbar_el1);
    write_sysreg(SPSR_EL1H_MASKED, spsr_el2);
    write_sysreg((u64)(uintptr_t)el1_entry, elr_el2);
    asm volatile("isb\n\teret" : : : "memory");
    __builtin_unreachable();
}
