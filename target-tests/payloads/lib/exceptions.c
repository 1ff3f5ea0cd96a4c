/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The C side of the vectors in start.S: synchronous exceptions go to the
 * handler a payload installed for that EL; everything else (IRQ, FIQ,
 * SError, an exception nobody claims) is unexpected in a test payload, so
 * it is dumped (on the console, and to barlab-vmm as a ucall) and the
 * machine stops rather than running on in an unknown state.
 */
#include "libpl.h"

static sync_handler_t sync_handlers[3];

void install_sync_handler(unsigned el, sync_handler_t fn)
{
    sync_handlers[el] = fn;
}

static const char *const vector_names[16] = {
    "sync (current EL, SP0)", "IRQ (current EL, SP0)",
    "FIQ (current EL, SP0)", "SError (current EL, SP0)",
    "sync (current EL)", "IRQ (current EL)",
    "FIQ (current EL)", "SError (current EL)",
    "sync (lower EL, AArch64)", "IRQ (lower EL, AArch64)",
    "FIQ (lower EL, AArch64)", "SError (lower EL, AArch64)",
    "sync (lower EL, AArch32)", "IRQ (lower EL, AArch32)",
    "FIQ (lower EL, AArch32)", "SError (lower EL, AArch32)",
};

void exception(struct frame *f, unsigned el, unsigned vec);

void exception(struct frame *f, unsigned el, unsigned vec)
{
    u64 esr, far, hpfar = 0;
    bool sync = (vec & 3) == 0;

    if (el == 2) {
        esr = read_sysreg(esr_el2);
        far = read_sysreg(far_el2);
        hpfar = read_sysreg(hpfar_el2);
    } else {
        esr = read_sysreg(esr_el1);
        far = read_sysreg(far_el1);
    }
    if (sync && el == 2 && ESR_EC(esr) == EC_HVC64 && psci_forward(f)) {
        return;
    }
    if (sync && sync_handlers[el] && sync_handlers[el](f, esr)) {
        return;
    }
    printf("FATAL: unexpected exception at EL%u: %s, ESR 0x%llx (EC 0x%llx "
           "ISS 0x%llx), FAR 0x%llx, ELR 0x%llx, SPSR 0x%llx",
           el, vector_names[vec & 15], (unsigned long long)esr,
           (unsigned long long)ESR_EC(esr), (unsigned long long)ESR_ISS(esr),
           (unsigned long long)far, (unsigned long long)f->elr,
           (unsigned long long)f->spsr);
    if (el == 2) {
        printf(", HPFAR 0x%llx", (unsigned long long)hpfar);
    }
    printf("\n");
    ucall_exception(el, vec, esr, far, f->elr, f->spsr, hpfar, vector_names[vec & 15]);
    system_off();
}
