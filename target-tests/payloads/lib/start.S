/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Two ways in:
 *   - QEMU -kernel with virtualization=on enters an ELF at its entry point
 *     in EL2h, registers zero: main_el2() runs, and may drop to EL1, which
 *     then runs main_el1() from el1_entry (SP_EL1 and VBAR_EL1 set by EL2).
 *   - barlab-vmm enters at EL1h, MMU off, with x0 = the address of its boot
 *     information (target-tests/vmm/README.md): the library checks it and
 *     main_el1() runs directly.
 * Either way the stack and the vectors of the entry EL are set and .bss is
 * cleared first.  Every vector saves a struct frame and calls the C
 * dispatcher exception(frame, el, vector); the dispatcher may change the
 * saved ELR and x0..x30, which are restored before ERET.
 */
#define FRAME_SIZE 272          /* sizeof(struct frame) */
#define FRAME_ELR 248
#define FRAME_SPSR 256

    .section .text.boot, "ax"
    .global _start
_start:
    mov     x19, x0                 /* the VMM's boot information, or 0 */
    mrs     x9, CurrentEL
    cmp     x9, #(2 << 2)
    b.ne    1f
    ldr     x9, =__stack_el2_top
    mov     sp, x9
    adr     x9, vectors_el2
    msr     vbar_el2, x9
    isb
    bl      clear_bss
    bl      main_el2
    b       system_off

1:  ldr     x9, =__stack_el1_top
    mov     sp, x9
    adr     x9, vectors_el1
    msr     vbar_el1, x9
    isb
    bl      clear_bss
    mov     x0, x19
    bl      boot_info_init
    bl      main_el1
    b       system_off

clear_bss:
    ldr     x9, =__bss_start
    ldr     x10, =__bss_end
2:  cmp     x9, x10
    b.hs    3f
    str     xzr, [x9], #8
    b       2b
3:  ret

/* Entered by ERET from EL2 with SP_EL1 and VBAR_EL1 already set. */
    .global el1_entry
el1_entry:
    bl      main_el1
    b       system_off

    .text
/* x0-x30 at their frame offsets: @pair stp/ldp, @one str/ldr. */
.macro frame_gprs pair, one
    \pair   x0, x1, [sp, #0]
    \pair   x2, x3, [sp, #16]
    \pair   x4, x5, [sp, #32]
    \pair   x6, x7, [sp, #48]
    \pair   x8, x9, [sp, #64]
    \pair   x10, x11, [sp, #80]
    \pair   x12, x13, [sp, #96]
    \pair   x14, x15, [sp, #112]
    \pair   x16, x17, [sp, #128]
    \pair   x18, x19, [sp, #144]
    \pair   x20, x21, [sp, #160]
    \pair   x22, x23, [sp, #176]
    \pair   x24, x25, [sp, #192]
    \pair   x26, x27, [sp, #208]
    \pair   x28, x29, [sp, #224]
    \one    x30, [sp, #240]
.endm

.macro save_frame el, vec
    sub     sp, sp, #FRAME_SIZE
    frame_gprs stp, str
    mrs     x0, elr_el\el
    mrs     x1, spsr_el\el
    stp     x0, x1, [sp, #FRAME_ELR]
    mov     x0, sp
    mov     x1, #\el
    mov     x2, #\vec
    bl      exception
    b       restore_el\el
.endm

.macro restore_frame el
restore_el\el:
    ldp     x0, x1, [sp, #FRAME_ELR]
    msr     elr_el\el, x0
    msr     spsr_el\el, x1
    frame_gprs ldp, ldr
    add     sp, sp, #FRAME_SIZE
    eret
.endm

/* 16 entries of 0x80 bytes; the frame-saving code lives outside the table. */
.macro vector_table el
    .balign 0x800
    .global vectors_el\el
vectors_el\el:
    .irp vec, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    b       vec_el\el\()_\vec
    .endr
    .irp vec, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
vec_el\el\()_\vec:
    save_frame \el, \vec
    .endr
    restore_frame \el
.endm

    vector_table 2
    vector_table 1
