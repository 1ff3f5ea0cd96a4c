/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stopping the machine.  With virtualization=on, QEMU's virt board takes
 * PSCI calls as SMC from EL2 (there is no EL3 firmware); EL1 reaches it
 * through an HVC that the library's EL2 vector forwards.  Under
 * barlab-vmm the same HVC goes to KVM's PSCI, and SYSTEM_OFF ends the run.
 */
#include "libpl.h"

#define PSCI_SYSTEM_OFF 0x84000008ul

static u64 smc(u64 fn)
{
    register u64 x0 asm("x0") = fn;

    asm volatile("smc #0" : "+r"(x0) : : "x1", "x2", "x3", "memory");
    return x0;
}

bool psci_forward(struct frame *f)
{
    /* PSCI 0.2+ function ids, SMC32 and SMC64 ranges */
    if ((f->x[0] & 0xbfffffe0ul) != 0x84000000ul) {
        return false;
    }
    f->x[0] = smc(f->x[0]);
    return true;
}

void system_off(void)
{
    if (current_el() == 2) {
        smc(PSCI_SYSTEM_OFF);
    } else {
        register u64 x0 asm("x0") = PSCI_SYSTEM_OFF;

        asm volatile("hvc #0" : "+r"(x0) : : "x1", "x2", "x3", "memory");
    }
    /* PSCI is not there (e.g. a secure firmware took it): park. */
    for (;;) {
        asm volatile("wfi");
    }
}
