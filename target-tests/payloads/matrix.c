/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * matrix: the L2 payload of `barlab matrix`.  At EL1 under barlab-vmm it
 * maps barlab-gpu's VRAM (BAR2) through its own stage 1 with the MAIR
 * attribute given as mair= (RAM Normal-WB, the UART Device-nGnRE) and runs
 * the named access patterns of the oracle's table (hw/memtype/patterns.h),
 * in the order given, each with exactly the table's instructions
 * (matrix-patterns.S).
 *
 * A group of cells owns MATRIX_GROUP_SIZE (8 KiB, two pages) of the VRAM at
 * base.  Each pattern has a fixed 256-byte slot in it (slot_of()),
 * whichever patterns a run was given: barlab.matrix restarts a run the
 * VM did not survive with the patterns after the one that killed it.
 * Slot 15 of each page (0xf00) is that page's priming slot: touch=first
 * drops the pattern's page from the TLB just before the pattern;
 * touch=hit then primes it again with an aligned 8-byte load from there,
 * with nothing in between.  str8_pagecross stores across the boundary of
 * the two pages, at base + 0xffc, into slot 16, which no pattern owns.
 *
 * Every cell is a structured record through the ucall channel, which
 * barlab-vmm prints as JSON (target-tests/vmm/README.md): CELL_BEGIN with
 * the BAR bytes the pattern may touch, which is where barlab.matrix
 * looks for its transactions in the device trace, and CELL_END with the
 * ESR and FAR of a synchronous exception (the syndrome the guest got) or
 * the status of a Store-Exclusive.  The console says the same for people:
 *   cell NAME begin                               before the pattern
 *   cell NAME ok                                  it completed
 *   cell NAME fault ec=0x25 fsc=0x21 far=0x...    it took a synchronous
 *       exception at EL1: an alignment fault from a stage-1 Device type,
 *       a stage-2 one that L1 KVM injected, an UNDEFINED instruction, or
 *       an unsupported exclusive or atomic; the next pattern runs
 *   matrix done                                   then PSCI SYSTEM_OFF
 *   matrix error: WHY                             bad arguments; SYSTEM_OFF
 * A stage-2 alignment fault that L1 KVM does not inject never reaches the
 * payload: KVM_RUN fails with EFAULT and barlab-vmm ends the run with
 * outcome=kvm-run-efault (and KVM's ESR_EL2 as a record) after the
 * cell's begin.
 *
 * Pattern "user" is a user's instruction sequence (pattern=file: in a
 * scenario file, matrix-user.S), a slot pattern like the table's; only
 * the payload built for that file has it.
 *
 * The register patterns (the oracle's MT_TARGET_PUSH and MT_TARGET_RC:
 * db_*, bf_copy64_db, mp_flag, rc_read_spec) run on barlab-nic's push
 * pages (BAR2), or, rc_read_spec with bar=0, on barlab-gpu's BAR0 event
 * queues; each runs trials= times, trial t in its own window: the push
 * page nic + 4 KiB * (idiom * trials + t), or the line of event queue
 * evq + t (barlab-gpu.h: EVQ_ID, then the read-to-clear EVENTS at +8).
 * Every trial is a CELL_BEGIN record of its own window, so the report
 * tells the trials' transactions apart; one CELL_END ends the cell.
 *
 * Under bare QEMU (-kernel, -M virt,virtualization=on) the EL2 part finds
 * the GPU on PCI and drops to EL1 with no stage 2, as l2smoke does.
 *
 * Arguments: mair=0xNN touch=first|hit base=0xOFFSET patterns=NAME,NAME,...
 * [bar=2|0] [nic=0xOFFSET] [evq=N] [trials=N]
 * (base: an 8 KiB-aligned group of barlab-gpu's BAR bar=, default 2, the
 * VRAM; on BAR0 it must lie in the scratch window, the only part of the
 * register BAR that any pattern may touch; nic: a 4 KiB-aligned
 * offset in barlab-nic's push BAR; trials: 1-16, default 1).
 */
#include "libpl.h"
#include "barlab-gpu.h"
#include "nic-regs.h"
#include "patterns.h"
#include "matrix-layout.h"

#define GPU_VENDOR GPU_VENDOR_ID
#define GPU_DEVICE GPU_DEVICE_ID
#define NIC_VENDOR BARLAB_NIC_VENDOR_ID
#define NIC_DEVICE BARLAB_NIC_DEVICE_ID
#define NIC_PUSH_BAR BARLAB_NIC_PUSH_BAR
#define MAX_TRIALS 16
/*
 * A trial's bytes on an event queue: the first line of its queue (EVQ_ID,
 * EVENTS).  touch=hit primes the page with the page's last 8 bytes, in
 * the second, empty line of the page's last queue: outside every trial's
 * bytes, and a speculative read from there stays in that line (it may
 * not leave the page).
 */
#define EVQ_TRIAL_BYTES 64
#define EVQ_PRIME (SZ_4K - 8)
_Static_assert(EVQ_PRIME % GPU_EVQ_STRIDE >= EVQ_TRIAL_BYTES, "priming outside every trial");

/* MAIR_EL1 slots */
#define IDX_RAM 0               /* Normal WB RAWA */
#define IDX_UART 1              /* Device-nGnRE: the UART and the ucall page */
#define IDX_VRAM 2              /* the attribute under test */
#define MAIR_RAM 0xfful
#define MAIR_UART 0x04ul
#define SH_ISH 3

#define PRIME_SLOT 15           /* in each page */
#define PAGECROSS_LO 0xfc       /* str8_pagecross: the bytes of its slot 15 ... */
#define PAGECROSS_HI 0x104      /* ... and of the next page it stores to */
#define CPACR_FPEN (3ul << 20)  /* no trap of FP/SIMD at EL1 and EL0 */
#define MAX_CELLS 64

/* Store data names the pattern and the store: 0xba5e0000_0000KK0N. */
#define TAG(k) (0xba5e000000000000ull | (u64)(k) << 8)

/*
 * The oracle's patterns (hw/memtype/patterns.h), in its order: the
 * slot patterns (TARGET BAR), whose index picks the slot, then the
 * register patterns.  A pattern returns its status (a Store-Exclusive's
 * result; 0 for the others).
 */
typedef u64 pattern_fn(u64 slot, u64 prime, u64 tag);
#define DECLARE_PATTERN(name, target) pattern_fn matrix_##name;
MT_PATTERNS(DECLARE_PATTERN)
extern char matrix_patterns_begin[], matrix_patterns_end[];

/*
 * A user's instruction sequence (pattern=file:, matrix-user.S), the slot
 * pattern after the table's: only the payload built for that file
 * (barlab.userpattern) has it.
 */
extern pattern_fn matrix_user __attribute__((weak));
extern char matrix_user_begin[] __attribute__((weak));
extern char matrix_user_end[] __attribute__((weak));

static const struct pattern {
    const char *name;
    pattern_fn *run;
    bool idiom;                 /* runs on a device's registers, in trials */
} patterns[] = {
#define SLOT_ENTRY_BAR(name) { #name, matrix_##name, false },
#define SLOT_ENTRY_PUSH(name)
#define SLOT_ENTRY_RC(name)
#define SLOT_ENTRY(name, target) SLOT_ENTRY_##target(name)
#define IDIOM_ENTRY_BAR(name)
#define IDIOM_ENTRY_PUSH(name) { #name, matrix_##name, true },
#define IDIOM_ENTRY_RC(name) IDIOM_ENTRY_PUSH(name)
#define IDIOM_ENTRY(name, target) IDIOM_ENTRY_##target(name)
    MT_PATTERNS(SLOT_ENTRY)
    { "user", matrix_user, false },
    MT_PATTERNS(IDIOM_ENTRY)
};
#define COUNT_SLOT(name, target) + SLOT_COUNT_##target
#define SLOT_COUNT_BAR 1
#define SLOT_COUNT_PUSH 0
#define SLOT_COUNT_RC 0
#define N_SLOT_PATTERNS (0 MT_PATTERNS(COUNT_SLOT) + 1)
#define FIRST_IDIOM N_SLOT_PATTERNS

static struct {
    u64 mair, base, nic;
    unsigned bar, evq, trials;
    bool hit;
    unsigned ncells;
    u8 cells[MAX_CELLS];        /* pattern indices, in the order given */
} cfg;

/* Slots 0-14 of page 0, then 17-30 of page 1 (15, 31: priming; 16: the crossing). */
_Static_assert(N_SLOT_PATTERNS + 2 < 2 * PRIME_SLOT + 1, "patterns fit in a group");

static volatile struct {
    bool taken;
    u64 esr, far;
} fault;

static void matrix_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void matrix_error(const char *fmt, ...)
{
    char why[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    printf("matrix error: %s\n", why);
    ucall_abort(why);
    system_off();
}

static bool in_code(u64 pc, const char *begin, const char *end)
{
    return begin && pc >= (u64)(uintptr_t)begin && pc < (u64)(uintptr_t)end;
}

/*
 * A synchronous exception in a pattern: record it and return from the
 * pattern (they are leaves: x30 is the caller's), skipping the rest of it.
 */
static bool el1_sync(struct frame *f, u64 esr)
{
    if (fault.taken || !(in_code(f->elr, matrix_patterns_begin, matrix_patterns_end) ||
                         in_code(f->elr, matrix_user_begin, matrix_user_end))) {
        return false;
    }
    fault.taken = true;
    fault.esr = esr;
    fault.far = read_sysreg(far_el1);
    f->elr = f->x[30];
    return true;
}

static bool streq(const char *a, const char *b)
{
    return !strncmp(a, b, BARLAB_BOOT_ARGS_LEN);
}

/* Cut the next @sep-separated word off *@s (empty words skipped); NULL at the end. */
static char *cut(char **s, char sep)
{
    char *w = *s, *end;

    while (*w == sep) {
        w++;
    }
    if (!*w) {
        return NULL;
    }
    for (end = w; *end && *end != sep; end++) {
    }
    *s = *end ? end + 1 : end;
    *end = '\0';
    return w;
}

static u64 parse_number(const char *key, const char *val, u64 max)
{
    const char *end;
    u64 v = strtou64(val, &end);

    if (end == val || *end || v > max) {
        matrix_error("bad %s=%s (a number up to 0x%llx)", key, val,
                     (unsigned long long)max);
    }
    return v;
}

static void parse_patterns(char *list)
{
    char *name;

    while ((name = cut(&list, ','))) {
        unsigned k = 0;

        while (k < ARRAY_SIZE(patterns) && !streq(name, patterns[k].name)) {
            k++;
        }
        if (k == ARRAY_SIZE(patterns)) {
            matrix_error("unknown pattern '%s'", name);
        }
        if (!patterns[k].run) {
            matrix_error("pattern %s: this matrix.elf has none (a scenario's pattern=file: "
                         "builds one with it)", name);
        }
        if (cfg.ncells == MAX_CELLS) {
            matrix_error("more than %u patterns", MAX_CELLS);
        }
        cfg.cells[cfg.ncells++] = (u8)k;
    }
}

enum { KEY_MAIR, KEY_TOUCH, KEY_BASE, KEY_PATTERNS, KEY_BAR, KEY_NIC, KEY_EVQ, KEY_TRIALS,
       KEY__COUNT };
static const char *const keys[KEY__COUNT] = {
    "mair", "touch", "base", "patterns", "bar", "nic", "evq", "trials",
};
#define REQUIRED_KEYS (1u << KEY_MAIR | 1u << KEY_TOUCH | 1u << KEY_BASE | 1u << KEY_PATTERNS)
#define USAGE "mair=0xNN touch=first|hit base=0xOFFSET patterns=NAME,NAME,... " \
              "[bar=2|0] [nic=0xOFFSET] [evq=N] [trials=N]"

static void parse_args(const char *args)
{
    static char buf[BARLAB_BOOT_ARGS_LEN];
    size_t len = args ? strlen(args) : 0;
    unsigned seen = 0, key;
    char *p = buf, *word;

    if (len >= sizeof(buf)) {
        matrix_error("arguments longer than %zu bytes", sizeof(buf) - 1);
    }
    memcpy(buf, args, len);
    cfg.bar = GPU_VRAM_BAR;
    cfg.trials = 1;
    while ((word = cut(&p, ' '))) {
        char *val = word;

        while (*val && *val != '=') {
            val++;
        }
        if (val == word || !*val || !val[1]) {
            matrix_error("expected key=value, got '%s' (wants " USAGE ")", word);
        }
        *val++ = '\0';
        for (key = 0; key < KEY__COUNT && !streq(word, keys[key]); key++) {
        }
        if (key == KEY__COUNT) {
            matrix_error("unknown argument '%s=' (wants " USAGE ")", word);
        }
        if (seen & 1u << key) {
            matrix_error("%s= given twice", word);
        }
        seen |= 1u << key;
        switch (key) {
        case KEY_MAIR:
            cfg.mair = parse_number(word, val, 0xff);
            break;
        case KEY_TOUCH:
            if (!streq(val, "first") && !streq(val, "hit")) {
                matrix_error("bad touch=%s (first or hit)", val);
            }
            cfg.hit = streq(val, "hit");
            break;
        case KEY_BASE:
            cfg.base = parse_number(word, val, ~0ull);
            break;
        case KEY_BAR:
            cfg.bar = (unsigned)parse_number(word, val, GPU_VRAM_BAR);
            if (cfg.bar != GPU_VRAM_BAR && cfg.bar != GPU_REGS_BAR) {
                matrix_error("bad bar=%s (2: the VRAM, 0: the registers)", val);
            }
            break;
        case KEY_NIC:
            cfg.nic = parse_number(word, val, ~0ull);
            break;
        case KEY_EVQ:
            cfg.evq = (unsigned)parse_number(word, val, GPU_EVQ_COUNT - 1);
            break;
        case KEY_TRIALS:
            cfg.trials = (unsigned)parse_number(word, val, MAX_TRIALS);
            if (!cfg.trials) {
                matrix_error("bad trials=%s (1 to %d)", val, MAX_TRIALS);
            }
            break;
        default:
            parse_patterns(val);
            if (!cfg.ncells) {
                matrix_error("patterns=%s names no pattern", val);
            }
            break;
        }
    }
    for (key = 0; key < KEY__COUNT; key++) {
        if ((REQUIRED_KEYS & 1u << key) && !(seen & 1u << key)) {
            matrix_error("missing %s= (wants " USAGE ")", keys[key]);
        }
    }
}

/* Map @bar with the attribute under test, if it is there. */
static void map_bar(u64 *root, const struct barlab_boot_bar *bar)
{
    if (bar) {
        pt_map(root, bar->ipa, bar->ipa, ALIGN_UP(bar->size, SZ_2M),
               S1_ATTRIDX(IDX_VRAM) | PT_SH(SH_ISH) | PT_AF | S1_PXN | S1_UXN);
    }
}

static void map_memory(const struct barlab_boot_bar *gpu, const struct barlab_boot_bar *regs,
                       const struct barlab_boot_bar *push)
{
    u64 *root = pt_alloc();
    u64 uart = boot_info->uart & ~(SZ_2M - 1);

    pt_map(root, boot_info->ram_base, boot_info->ram_base,
           ALIGN_UP(boot_info->ram_size, SZ_2M),
           S1_ATTRIDX(IDX_RAM) | PT_SH(SH_ISH) | PT_AF);
    pt_map(root, uart, uart, SZ_2M,
           S1_ATTRIDX(IDX_UART) | PT_AF | S1_PXN | S1_UXN);
    map_bar(root, gpu);
    if (regs != gpu) {
        map_bar(root, regs);
    }
    map_bar(root, push);
    el1_mmu_enable(root, MAIR_RAM << (8 * IDX_RAM) | MAIR_UART << (8 * IDX_UART) |
                   cfg.mair << (8 * IDX_VRAM));
}

static bool is_pagecross(const struct pattern *pat)
{
    return pat->run == matrix_str8_pagecross;
}

/* Pattern k's slot in the group at @group (a VRAM address). */
static u64 slot_of(u64 group, unsigned k)
{
    if (is_pagecross(&patterns[k])) {
        return group + MATRIX_SLOT_SIZE * PRIME_SLOT;
    }
    return group + MATRIX_SLOT_SIZE * (k < PRIME_SLOT ? k : k + 2);
}

/* The BARs a run uses: barlab-gpu's for the slot patterns, the registers' for the others. */
static struct {
    const struct barlab_boot_bar *gpu, *regs, *push;
} bars;

/*
 * Where trial @t of register pattern @k runs, in the BAR *@bar: its
 * window and the bytes it may touch.
 */
static u64 idiom_window(unsigned k, unsigned t, const struct barlab_boot_bar **bar,
                        u64 *lo, u64 *hi)
{
    u64 w;

    if (matrix_rc_read_spec == patterns[k].run && cfg.bar == GPU_REGS_BAR) {
        *bar = bars.regs;
        w = bars.regs->ipa + GPU_EVQ_BASE + GPU_EVQ_STRIDE * (cfg.evq + t);
        *lo = w;
        *hi = w + EVQ_TRIAL_BYTES;
        return w;
    }
    *bar = bars.push;
    w = bars.push->ipa + cfg.nic + (u64)PUSH_PAGE_SIZE * ((k - FIRST_IDIOM) * cfg.trials + t);
    *lo = w;
    *hi = w + PUSH_PAGE_SIZE;
    return w;
}

static void run_cell(const struct barlab_boot_bar *vram, u64 group, unsigned k)
{
    const struct pattern *pat = &patterns[k];
    const struct barlab_boot_bar *bar = vram;
    unsigned trials = pat->idiom ? cfg.trials : 1;
    u64 slot, prime, lo, hi, status = 0;

    printf("cell %s begin\n", pat->name);
    fault.taken = false;
    for (unsigned t = 0; t < trials && !fault.taken; t++) {
        if (pat->idiom) {
            slot = idiom_window(k, t, &bar, &lo, &hi);
        } else {
            slot = slot_of(group, k);
            lo = slot;
            hi = slot + MATRIX_SLOT_SIZE;
            if (is_pagecross(pat)) {
                lo = slot + PAGECROSS_LO;
                hi = slot + PAGECROSS_HI;
            }
        }
        /* The page's priming slot; on the event queues, EVQ_PRIME. */
        prime = (slot & ~(SZ_4K - 1)) +
                (bar == bars.regs && pat->idiom ? EVQ_PRIME : MATRIX_SLOT_SIZE * PRIME_SLOT);
        ucall_cell_begin(pat->name, lo - bar->ipa, hi - bar->ipa,
                         (unsigned)(bar - boot_info->bars), slot - bar->ipa);
        status = pat->run(slot, cfg.hit ? prime : 0, TAG(k));
        dsb(sy);
    }
    if (fault.taken) {
        printf("cell %s fault ec=0x%02llx fsc=0x%02llx far=0x%llx\n", pat->name,
               (unsigned long long)ESR_EC(fault.esr),
               (unsigned long long)ESR_DFSC(fault.esr),
               (unsigned long long)fault.far);
        ucall_cell_end(pat->name, true, 1, fault.esr, fault.far, 0);
    } else {
        printf("cell %s ok\n", pat->name);
        ucall_cell_end(pat->name, false, 0, 0, 0, status);
    }
}

/* Started by bare QEMU: be the VMM, with no stage 2. */
void main_el2(void)
{
    boot_info_from_pci(GPU_VENDOR, GPU_DEVICE, GPU_VRAM_BAR);
    el2_enter_el1();
}

static bool runs_idioms(void)
{
    for (unsigned i = 0; i < cfg.ncells; i++) {
        const struct pattern *pat = &patterns[cfg.cells[i]];

        if (pat->idiom && !(pat->run == matrix_rc_read_spec && cfg.bar == GPU_REGS_BAR)) {
            return true;
        }
    }
    return false;
}

/* Does the run touch barlab-gpu: a slot pattern, or EVENTS on its BAR0? */
static bool runs_on_gpu(void)
{
    for (unsigned i = 0; i < cfg.ncells; i++) {
        const struct pattern *pat = &patterns[cfg.cells[i]];

        if (!pat->idiom || cfg.bar == GPU_REGS_BAR) {
            return true;
        }
    }
    return false;
}

void main_el1(void)
{
    const struct barlab_boot_bar *vram = NULL;
    u64 group = 0;

    if (!boot_info) {
        matrix_error("entered at EL1 without boot information: run under barlab-vmm");
    }
    parse_args(boot_args());
    /* The driver idioms alone need only barlab-nic (each device passed
       through costs the VMM its VFIO reset). */
    if (runs_on_gpu()) {
        vram = boot_bar(GPU_VENDOR, GPU_DEVICE, cfg.bar);
        if (!vram) {
            matrix_error("barlab-gpu's BAR%u (%04x:%04x) is not passed through",
                         cfg.bar, GPU_VENDOR, GPU_DEVICE);
        }
        if (cfg.base % MATRIX_GROUP_SIZE || cfg.base >= vram->size ||
            vram->size - cfg.base < MATRIX_GROUP_SIZE) {
            matrix_error("base=0x%llx is not an 8 KiB group of the 0x%llx-byte BAR%u",
                         (unsigned long long)cfg.base, (unsigned long long)vram->size, cfg.bar);
        }
        if (cfg.bar == GPU_REGS_BAR &&
            (cfg.base < GPU_SCRATCH_BASE ||
             cfg.base + MATRIX_GROUP_SIZE > GPU_SCRATCH_BASE + GPU_SCRATCH_SIZE)) {
            matrix_error("base=0x%llx: on BAR0 a group must lie in the scratch window "
                         "0x%x-0x%x", (unsigned long long)cfg.base, GPU_SCRATCH_BASE,
                         GPU_SCRATCH_BASE + GPU_SCRATCH_SIZE - 1);
        }
        group = vram->ipa + cfg.base;
    }
    bars.gpu = vram;
    bars.regs = boot_bar(GPU_VENDOR, GPU_DEVICE, GPU_REGS_BAR);
    bars.push = boot_bar(NIC_VENDOR, NIC_DEVICE, NIC_PUSH_BAR);
    if (runs_idioms()) {
        if (!bars.push) {
            matrix_error("barlab-nic's push pages (BAR%u of %04x:%04x) are not passed through",
                         NIC_PUSH_BAR, NIC_VENDOR, NIC_DEVICE);
        }
        if (cfg.nic % PUSH_PAGE_SIZE || cfg.nic >= bars.push->size ||
            (bars.push->size - cfg.nic) / PUSH_PAGE_SIZE < (ARRAY_SIZE(patterns) - FIRST_IDIOM) * cfg.trials) {
            matrix_error("nic=0x%llx: %u trials of %u patterns do not fit the 0x%llx-byte push BAR",
                         (unsigned long long)cfg.nic, cfg.trials,
                         (unsigned)(ARRAY_SIZE(patterns) - FIRST_IDIOM),
                         (unsigned long long)bars.push->size);
        }
    }
    if (cfg.bar == GPU_REGS_BAR && bars.regs->size < GPU_REGS_SIZE) {
        matrix_error("barlab-gpu's BAR0 is 0x%llx bytes, not 0x%x: an older device without "
                     "event queues and scratch", (unsigned long long)bars.regs->size,
                     GPU_REGS_SIZE);
    }
    if (cfg.evq + cfg.trials > GPU_EVQ_COUNT) {
        matrix_error("evq=%u: %u trials do not fit barlab-gpu's %u event queues", cfg.evq,
                     cfg.trials, GPU_EVQ_COUNT);
    }
    map_memory(vram, bars.regs, bars.push);
    write_sysreg(CPACR_FPEN, cpacr_el1);
    isb();
    install_sync_handler(1, el1_sync);
    for (unsigned i = 0; i < cfg.ncells; i++) {
        run_cell(vram, group, cfg.cells[i]);
    }
    printf("matrix done\n");
    system_off();
}
