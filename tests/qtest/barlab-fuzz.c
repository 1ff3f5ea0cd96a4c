/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-fuzz: a structured fuzzer of barlab-nic and barlab-gpu over QEMU's
 * qtest protocol, and the replayer of the reproducers it writes.
 * docs/fuzzing.md explains both; the devices' specs are docs/specs/.
 *
 * Each input is a list of qtest command lines generated from a seed and
 * the input's number alone (never from what QEMU answers): the BARs set
 * up, then register reads and writes of every width, rings with hostile
 * sizes and addresses, descriptors in guest RAM, doorbells, push-slot
 * copies, modes, damage, flushes, config-space and MSI-X writes, DMA
 * addresses anywhere, clock steps; then the counters are read.  The lines
 * are sent pipelined and the answers only counted, so QEMU runs as fast
 * as it parses.  Between inputs a Function Level Reset puts the device
 * back.  A crash, a hang or a sanitizer report is shrunk (lines dropped
 * while it still fails from a fresh QEMU) and saved as a script of qtest
 * lines that --replay, or qemu-system-aarch64 -qtest stdio, runs again.
 *
 * Built inside the QEMU tree with the qtests (barlab.qemu);
 * QTEST_QEMU_BINARY names the QEMU to run.
 */
#include "qemu/osdep.h"
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "barlab-fuzz.h"

#define HISTORY         16      /* inputs kept to reproduce a stateful bug */
#define FUZZ_MAX_JOBS   64

typedef enum { RES_OK, RES_CRASH, RES_HANG } Result;

static const FuzzDevice *const devices[] = {
    &barlab_fuzz_nic, &barlab_fuzz_gpu,
};

/* --- a running QEMU ----------------------------------------------------- */

typedef struct {
    pid_t pid;
    int qt, qmp;
    GString *qmp_in;
    char *args;             /* the device part of the command line */
    char *log;              /* its stderr */
    int status;             /* after qemu_stop */
} QemuProc;

static const char *qemu_binary;
static int timeout_ms = 10000;

static void qemu_kill(QemuProc *q)
{
    if (q->pid > 0) {
        kill(q->pid, SIGKILL);
        waitpid(q->pid, &q->status, 0);
        q->pid = 0;
    }
    if (q->qt >= 0) {
        close(q->qt);
        close(q->qmp);
        q->qt = q->qmp = -1;
    }
}

/*
 * One QMP line that is not an event: RES_OK, RES_CRASH when QEMU closed
 * the monitor (it died), RES_HANG when nothing came before @deadline.
 */
static Result qmp_reply(QemuProc *q, gint64 deadline)
{
    char buf[4096];

    for (;;) {
        char *nl = strchr(q->qmp_in->str, '\n');
        struct pollfd pfd = { q->qmp, POLLIN, 0 };
        int ms, r;
        ssize_t n;

        if (nl) {
            bool event = strstr(q->qmp_in->str, "\"event\"") &&
                         strstr(q->qmp_in->str, "\"event\"") < nl;

            g_string_erase(q->qmp_in, 0, nl - q->qmp_in->str + 1);
            if (!event) {
                return RES_OK;
            }
            continue;
        }
        ms = (deadline - g_get_monotonic_time()) / 1000;
        if (ms <= 0) {
            return RES_HANG;
        }
        r = poll(&pfd, 1, ms);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r == 0) {
            return RES_HANG;
        }
        n = r < 0 ? -1 : read(q->qmp, buf, sizeof(buf));
        if (n <= 0) {
            return RES_CRASH;
        }
        g_string_append_len(q->qmp_in, buf, n);
    }
}

static Result qmp_cmd(QemuProc *q, const char *cmd)
{
    size_t len = strlen(cmd);

    if (write(q->qmp, cmd, len) != (ssize_t)len ||
        write(q->qmp, "\n", 1) != 1) {
        return RES_CRASH;
    }
    return qmp_reply(q, g_get_monotonic_time() + timeout_ms * 1000LL);
}

static bool qemu_start(QemuProc *q, const char *args, const char *log)
{
    int qt[2], qm[2];
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv = NULL;

    *q = (QemuProc) { .qt = -1, .qmp = -1 };
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, qt) ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, qm)) {
        return false;
    }
    cmd = g_strdup_printf("%s -M virt -m %llu -nodefaults -display none "
                          "-accel qtest -qtest-log none "
                          "-chardev socket,id=qt,fd=%d -qtest chardev:qt "
                          "-chardev socket,id=qm,fd=%d "
                          "-mon chardev=qm,mode=control %s",
                          qemu_binary, RAM_SIZE >> 20, qt[1], qm[1], args);
    if (!g_shell_parse_argv(cmd, NULL, &argv, NULL)) {
        return false;
    }
    q->pid = fork();
    if (q->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (fd >= 0) {
            dup2(fd, 2);
        }
        close(qt[0]);
        close(qm[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(qt[1]);
    close(qm[1]);
    q->qt = qt[0];
    q->qmp = qm[0];
    fcntl(q->qt, F_SETFL, O_NONBLOCK);
    q->qmp_in = g_string_new("");
    q->args = g_strdup(args);
    q->log = g_strdup(log);
    if (q->pid < 0 ||
        qmp_reply(q, g_get_monotonic_time() + 30 * G_USEC_PER_SEC) != RES_OK ||
        qmp_cmd(q, "{\"execute\": \"qmp_capabilities\"}") != RES_OK) {
        qemu_kill(q);
        return false;
    }
    return true;
}

/* A sanitizer's words in QEMU's stderr. */
static bool log_has_report(const char *log)
{
    g_autofree char *text = NULL;

    if (!g_file_get_contents(log, &text, NULL, NULL)) {
        return false;
    }
    return strstr(text, "Sanitizer") || strstr(text, "runtime error:");
}

/* Ask QEMU to quit; a non-zero exit or a sanitizer report is a crash. */
static Result qemu_stop(QemuProc *q)
{
    Result r = RES_OK;

    if (q->pid > 0) {
        if (write(q->qmp, "{\"execute\": \"quit\"}\n", 20) == 20) {
            for (int i = 0; i < timeout_ms / 10; i++) {
                if (waitpid(q->pid, &q->status, WNOHANG) == q->pid) {
                    q->pid = 0;
                    break;
                }
                g_usleep(10000);
            }
        }
        if (q->pid > 0) {
            r = RES_HANG;
        } else if (!WIFEXITED(q->status) || WEXITSTATUS(q->status)) {
            r = RES_CRASH;
        }
    }
    qemu_kill(q);
    if (r == RES_OK && log_has_report(q->log)) {
        r = RES_CRASH;
    }
    g_string_free(q->qmp_in, true);
    g_free(q->args);
    g_free(q->log);
    return r;
}

/*
 * Send qtest lines pipelined, reading the answers as they come (QEMU
 * blocks when its answers are not read); the last @nkeep answers are kept
 * in @keep.
 */
static Result qt_send(QemuProc *q, const GString *out, unsigned nlines,
                      GString *keep)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
    size_t off = 0;
    unsigned got = 0;
    char buf[65536];

    while (got < nlines) {
        struct pollfd pfd = { q->qt, POLLIN | (off < out->len ? POLLOUT : 0) };
        int ms = (deadline - g_get_monotonic_time()) / 1000;
        int r;

        if (ms <= 0) {
            return RES_HANG;
        }
        r = poll(&pfd, 1, ms);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return RES_HANG;
        }
        if (pfd.revents & POLLIN) {
            ssize_t n = read(q->qt, buf, sizeof(buf));

            if (n <= 0) {
                return RES_CRASH;
            }
            for (ssize_t i = 0; i < n; i++) {
                got += buf[i] == '\n';
            }
            if (keep) {
                g_string_append_len(keep, buf, n);
            }
        } else if (pfd.revents & (POLLHUP | POLLERR)) {
            return RES_CRASH;
        }
        if (pfd.revents & POLLOUT) {
            ssize_t n = write(q->qt, out->str + off, out->len - off);

            if (n < 0 && errno != EAGAIN) {
                return RES_CRASH;
            }
            off += MAX(n, 0);
        }
    }
    return RES_OK;
}

/*
 * Run script lines: qtest commands, "qmp JSON" lines to the monitor,
 * "#" comments skipped.  @answers gets the qtest answers.
 */
static Result run_lines(QemuProc *q, GPtrArray *lines, GString *answers)
{
    g_autoptr(GString) out = g_string_new("");
    unsigned n = 0;
    Result r;

    for (unsigned i = 0; i <= lines->len; i++) {
        const char *l = i < lines->len ? g_ptr_array_index(lines, i) : NULL;

        if (l && l[0] == '#') {
            continue;
        }
        if (!l || g_str_has_prefix(l, "qmp ")) {
            r = n ? qt_send(q, out, n, answers) : RES_OK;
            if (r == RES_OK && l) {
                r = qmp_cmd(q, l + 4);
            }
            if (r != RES_OK) {
                return r;
            }
            g_string_truncate(out, 0);
            n = 0;
            continue;
        }
        g_string_append_printf(out, "%s\n", l);
        n++;
    }
    return RES_OK;
}

/* --- generating an input ------------------------------------------------ */

uint64_t rnd(Gen *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

unsigned below(Gen *g, unsigned n)
{
    return rnd(g) % n;
}

void emit(Gen *g, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(g->lines, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static const char *const width_cmd[] = { "b", "w", "l", "q" };

void emit_write(Gen *g, uint64_t addr, unsigned lg, uint64_t val)
{
    if (lg < 3) {
        val &= (1ULL << (8 << lg)) - 1;
    }
    emit(g, "write%s 0x%" PRIx64 " 0x%" PRIx64, width_cmd[lg], addr, val);
}

void emit_read(Gen *g, uint64_t addr, unsigned lg)
{
    emit(g, "read%s 0x%" PRIx64, width_cmd[lg], addr);
}

void emit_bytes(Gen *g, uint64_t addr, const uint8_t *b, unsigned n)
{
    GString *s = g_string_new(NULL);

    g_string_printf(s, "write 0x%" PRIx64 " 0x%x 0x", addr, n);
    for (unsigned i = 0; i < n; i++) {
        g_string_append_printf(s, "%02x", b[i]);
    }
    g_ptr_array_add(g->lines, g_string_free(s, false));
}

/* Values that find edges: zero, ones, powers of two and their neighbours. */
uint64_t interesting(Gen *g)
{
    static const uint64_t v[] = {
        0, 1, 2, 3, 4, 7, 8, 14, 15, 16, 47, 48, 49, 63, 64, 65, 127, 128,
        255, 256, 1023, 1024, 1513, 1514, 1515, 2047, 2048, 4095, 4096, 4097,
        0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe,
        0xffffffff, 0x100000000ULL, 0xffffffffffffffffULL,
    };

    switch (below(g, 4)) {
    case 0:
        return rnd(g);
    case 1:
        return rnd(g) & 0xff;
    default:
        return v[below(g, G_N_ELEMENTS(v))] + (below(g, 8) == 0 ? -1 : 0);
    }
}

/* A DMA address: in RAM, at its end, past it, into MMIO or anywhere. */
uint64_t dma_addr(Gen *g, unsigned align)
{
    uint64_t a;

    switch (below(g, 10)) {
    case 0:
        a = RAM_END - below(g, 256);
        break;
    case 1:
        a = RAM_END + (rnd(g) & 0xffff);
        break;
    case 2:
        a = below(g, 2) ? g->bar0 + (rnd(g) & 0xfff) :
                          g->bar2 + (rnd(g) & (g->bar2_size - 1));
        break;
    case 3:
        a = below(g, 2) ? UART_BASE : GIC_BASE + (rnd(g) & 0xffff);
        break;
    case 4:
        a = below(g, 2) ? rnd(g) : 0xfffffffffffff000ULL + (rnd(g) & 0xfff);
        break;
    default:
        a = RAM_BASE + (rnd(g) & (DMA_ZONE - 1));
        break;
    }
    return below(g, 8) ? a & ~(uint64_t)(align - 1) : a;
}

/*
 * A BAR0 access of any width: at a named register, beside one (unaligned),
 * or anywhere in the BAR.
 */
void op_reg(Gen *g)
{
    const FuzzDevice *d = g->dev;
    uint64_t off = below(g, 4) ? d->regs[below(g, d->nregs)]
                               : below(g, d->bar0_size);
    unsigned lg = below(g, 5) ? 2 : below(g, 4);

    if (!below(g, 6)) {
        off += 1 + below(g, 3);
    }
    if (below(g, 3)) {
        emit_write(g, g->bar0 + off, lg, interesting(g));
    } else {
        emit_read(g, g->bar0 + off, lg);
    }
}

/* -M virt's 32-bit PCI MMIO window */
#define PCI_WINDOW_BASE 0x10000000ULL
#define PCI_WINDOW_END  0x3eff0000ULL

static bool in_window(uint64_t base, uint64_t size)
{
    return base >= PCI_WINDOW_BASE && base + size <= PCI_WINDOW_END;
}

/* Config space: the command register, BAR moves, MSI-X control, anything. */
void op_config(Gen *g)
{
    uint64_t v, hi;

    switch (below(g, 6)) {
    case 0:
        emit_write(g, ECAM_DEV + PCI_COMMAND, 1,
                   below(g, 2) ? CMD_MEM_MASTER ^ (1u << below(g, 3)) :
                                 interesting(g));
        break;
    case 1:
        /*
         * Move BAR0, in the window or anywhere.  The accesses follow it
         * only inside the window: elsewhere the board's other devices
         * answer, which is not this fuzzer's business.
         */
        v = below(g, 2) ? BAR0_BASE + 0x1000 * below(g, 15) : rnd(g);
        emit_write(g, ECAM_DEV + PCI_BASE_ADDRESS_0, 2, v);
        v &= 0xfffff000;
        if (in_window(v, g->dev->bar0_size)) {
            g->bar0 = v;
        }
        break;
    case 2:
        v = below(g, 2) ? g->dev->bar2_base + g->bar2_size * below(g, 4)
                        : rnd(g);
        hi = below(g, 4) ? 0 : rnd(g);
        emit_write(g, ECAM_DEV + PCI_BASE_ADDRESS_2, 2, v);
        emit_write(g, ECAM_DEV + PCI_BASE_ADDRESS_3, 2, hi);
        v = (uint32_t)v & ~(g->bar2_size - 1);
        if (!(uint32_t)hi && in_window(v, g->bar2_size)) {
            g->bar2 = v;
        }
        break;
    case 3:
        if (g->msix_cap) {
            emit_write(g, ECAM_DEV + g->msix_cap + PCI_MSIX_FLAGS, 1,
                       below(g, 3) ? PCI_MSIX_FLAGS_ENABLE : interesting(g));
            break;
        }
        /* fall through */
    case 4:
        if (g->exp_cap) {
            emit_write(g, ECAM_DEV + g->exp_cap + PCI_EXP_DEVCTL, 1,
                       interesting(g) & ~(uint64_t)PCI_EXP_DEVCTL_BCR_FLR);
            break;
        }
        /* fall through */
    default: {
        unsigned lg = below(g, 3);
        /* the header, or the PCIe extended space */
        uint64_t off = below(g, below(g, 4) ? PCI_CFG_SPACE_SIZE
                                            : PCI_CFG_SPACE_EXP_SIZE) &
                       ~((1u << lg) - 1);

        if (below(g, 2)) {
            emit_write(g, ECAM_DEV + off, lg, interesting(g));
        } else {
            emit_read(g, ECAM_DEV + off, lg);
        }
        break;
    }
    }
}

void op_clock(Gen *g)
{
    static const unsigned ns[] = { 1, 1000, 99999, 100000, 100001, 1000000 };

    emit(g, "clock_step %u", below(g, 4) ? ns[below(g, G_N_ELEMENTS(ns))] :
                                           below(g, 1000000000));
}

/* An ARP request for the slirp gateway, so that frames come back. */
unsigned arp_frame(uint8_t *f)
{
    static const uint8_t arp[42] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56,
        0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1,
        0x52, 0x54, 0, 0x12, 0x34, 0x56, 10, 0, 2, 15,
        0, 0, 0, 0, 0, 0, 10, 0, 2, 2,
    };

    memcpy(f, arp, sizeof(arp));
    return sizeof(arp);
}

/* --- inputs -------------------------------------------------------------- */

typedef struct {
    const FuzzDevice *dev;
    uint64_t seed;
    unsigned config;
    char *args;
    unsigned msix_cap, exp_cap;
    uint64_t bar2_size;
    uint64_t counters[FUZZ_MAX_COUNTERS + 1];   /* and the STATUS bits */
    uint64_t inputs;
} Fuzz;

/* The answers the epilogue's reads get: the counters, then STATUS. */
static unsigned fuzz_nreads(const FuzzDevice *d)
{
    return d->ncounters + (d->status_mask != 0);
}

/*
 * Input @n's lines: a zeroed DMA zone, the BARs where the generator
 * expects them, the device's own set-up, the operations, then (@epilogue)
 * BAR0 back in place, the counters read and the device reset by FLR
 * (PCIe device control's initiate bit, as Linux's pci_reset_function()).
 */
static GPtrArray *gen_input(Fuzz *f, uint64_t n, bool epilogue)
{
    const FuzzDevice *d = f->dev;
    Gen g = {
        .s = f->seed * 0x100000001b3ULL ^ n * 0xd6e8feb86659fd93ULL,
        .dev = d, .lines = g_ptr_array_new_with_free_func(g_free),
        .bar0 = BAR0_BASE, .bar2 = d->bar2_base,
        .bar2_size = f->bar2_size, .msix_cap = f->msix_cap,
        .exp_cap = f->exp_cap,
    };
    unsigned nops = 1 + below(&g, below(&g, 4) ? 16 : 64);

    emit(&g, "# input %" PRIu64, n);
    if (d->dma) {
        /*
         * In pieces: one large qtest memset is a fresh allocation in
         * QEMU each time, and under ASan a fresh mapping whose every
         * page faults; pieces this size come from the allocator's reused
         * memory.  The zone ends up just as zeroed.
         */
        for (uint64_t a = 0; a < DMA_ZONE; a += DMA_ZERO_PIECE) {
            emit(&g, "memset 0x%llx 0x%llx 0", RAM_BASE + a, DMA_ZERO_PIECE);
        }
    }
    emit_write(&g, ECAM_DEV + PCI_BASE_ADDRESS_0, 2, BAR0_BASE);
    emit_write(&g, ECAM_DEV + PCI_BASE_ADDRESS_2, 2, d->bar2_base);
    emit_write(&g, ECAM_DEV + PCI_BASE_ADDRESS_3, 2, 0);
    emit_write(&g, ECAM_DEV + PCI_COMMAND, 1, CMD_MEM_MASTER);
    d->prologue(&g);
    for (unsigned i = 0; i < nops; i++) {
        d->op(&g);
    }
    if (epilogue) {
        emit(&g, "# the counters");
        emit_write(&g, ECAM_DEV + PCI_BASE_ADDRESS_0, 2, BAR0_BASE);
        emit_write(&g, ECAM_DEV + PCI_COMMAND, 1, CMD_MEM_MASTER);
        for (unsigned i = 0; i < d->ncounters; i++) {
            emit_read(&g, BAR0_BASE + d->counters + 8 * i, 2);
        }
        if (d->status_mask) {
            emit_read(&g, BAR0_BASE + d->status_reg, 2);
        }
        /* the reset for the next input, in the same round trip */
        emit_write(&g, ECAM_DEV + f->exp_cap + PCI_EXP_DEVCTL, 1,
                   PCI_EXP_DEVCTL_BCR_FLR);
    }
    return g.lines;
}

static void add_counters(Fuzz *f, const GString *answers)
{
    const FuzzDevice *d = f->dev;
    const char *p = answers->str + answers->len;

    /* the FLR's "OK\n", before it the reads' "OK 0x...\n" each */
    do {
        p--;
    } while (p > answers->str && p[-1] != '\n');
    for (unsigned i = fuzz_nreads(d); i-- > 0;) {
        uint64_t v;

        do {
            p--;
        } while (p > answers->str && p[-1] != '\n');
        v = g_ascii_strtoull(p + 3, NULL, 16);
        if (i == d->ncounters) {
            v = (v & d->status_mask) != 0;
        }
        f->counters[i] += v;
    }
}

/* One qtest read on a QEMU just started; false if it did not answer. */
static bool qt_read(QemuProc *q, const char *cmd, uint64_t addr, uint64_t *v)
{
    g_autoptr(GString) ans = g_string_new("");
    g_autoptr(GString) out = g_string_new("");

    g_string_printf(out, "%s 0x%" PRIx64 "\n", cmd, addr);
    if (qt_send(q, out, 1, ans) != RES_OK ||
        !g_str_has_prefix(ans->str, "OK ")) {
        return false;
    }
    *v = g_ascii_strtoull(ans->str + 3, NULL, 16);
    return true;
}

/*
 * A QEMU for configuration @config; learns the capability offsets and
 * BAR2's size.
 */
static bool fuzz_start(Fuzz *f, QemuProc *q, const char *log)
{
    const char *conf = f->dev->configs[f->config];
    uint64_t pos, id, bar2;

    g_free(f->args);
    f->args = g_strdup_printf(conf, (unsigned)(f->seed & 0xffff));
    if (!qemu_start(q, f->args, log)) {
        fprintf(stderr, "barlab-fuzz: cannot start %s %s (log: %s)\n",
                qemu_binary, f->args, log);
        return false;
    }
    /* walk the capability list once; it is the same for every input */
    f->msix_cap = f->exp_cap = 0;
    if (!qt_read(q, "readb", ECAM_DEV + PCI_CAPABILITY_LIST, &pos)) {
        goto fail;
    }
    for (unsigned i = 0; pos && i < 16; i++) {
        if (!qt_read(q, "readw", ECAM_DEV + pos, &id)) {
            goto fail;
        }
        if ((id & 0xff) == PCI_CAP_ID_MSIX) {
            f->msix_cap = pos;
        } else if ((id & 0xff) == PCI_CAP_ID_EXP) {
            f->exp_cap = pos;
        }
        pos = id >> 8;
    }
    {
        g_autoptr(GString) out = g_string_new("");

        g_string_printf(out, "writel 0x%llx 0xffffffff\n",
                        ECAM_DEV + PCI_BASE_ADDRESS_2);
        if (qt_send(q, out, 1, NULL) != RES_OK ||
            !qt_read(q, "readl", ECAM_DEV + PCI_BASE_ADDRESS_2, &bar2)) {
            goto fail;
        }
    }
    f->bar2_size = (uint32_t)-(uint32_t)(bar2 & PCI_BASE_ADDRESS_MEM_MASK);
    if (f->exp_cap && f->bar2_size) {
        return true;
    }
    fprintf(stderr, "barlab-fuzz: %s has no PCIe capability or no BAR2\n",
            f->args);
fail:
    qemu_kill(q);
    qemu_stop(q);
    return false;
}

/* --- shrinking and saving a failure --------------------------------------- */

typedef struct {
    Result kind;
    char *summary;          /* the sanitizer's SUMMARY line, if any */
} Failure;

static char *log_summary(const char *log)
{
    g_autofree char *text = NULL;
    char *s, *e;

    if (!g_file_get_contents(log, &text, NULL, NULL)) {
        return NULL;
    }
    s = strstr(text, "SUMMARY: ");
    if (!s) {
        s = strstr(text, "runtime error:");
    }
    if (!s) {
        return NULL;
    }
    e = strchr(s, '\n');
    return g_strndup(s, e ? e - s : strlen(s));
}

/* Run @lines on a fresh QEMU with @args; the failure it shows, if any. */
static Failure try_lines(const char *args, GPtrArray *lines, const char *log)
{
    QemuProc q;
    Failure fl = { RES_OK, NULL };

    if (!qemu_start(&q, args, log)) {
        fl.kind = RES_CRASH;
        fl.summary = g_strdup("QEMU did not start");
        return fl;
    }
    fl.kind = run_lines(&q, lines, NULL);
    if (fl.kind == RES_OK) {
        fl.kind = qemu_stop(&q);
    } else {
        qemu_kill(&q);
        qemu_stop(&q);
    }
    if (fl.kind != RES_OK) {
        fl.summary = log_summary(log);
    }
    return fl;
}

static bool same_failure(const Failure *a, const Failure *b)
{
    return a->kind == b->kind &&
           g_strcmp0(a->summary, b->summary) == 0;
}

/* Drop chunks of lines, halving the chunk, while the failure stays. */
static void shrink(const char *args, GPtrArray *lines, const Failure *want,
                   const char *log)
{
    for (unsigned chunk = MAX(lines->len / 2, 1); chunk; chunk /= 2) {
        for (unsigned at = 0; at < lines->len;) {
            GPtrArray *trial = g_ptr_array_new();
            Failure fl;

            for (unsigned i = 0; i < lines->len; i++) {
                if (i < at || i >= at + chunk) {
                    g_ptr_array_add(trial, g_ptr_array_index(lines, i));
                }
            }
            fl = try_lines(args, trial, log);
            if (same_failure(&fl, want)) {
                g_ptr_array_remove_range(lines, at,
                                         MIN(chunk, lines->len - at));
            } else {
                at += chunk;
            }
            g_free(fl.summary);
            g_ptr_array_free(trial, true);
        }
    }
}

static const char *const kind_name[] = { "ok", "crash", "hang" };

/*
 * Input @n failed.  Find the shortest history (this input alone, or with
 * the ones before it) that fails the same way from a fresh QEMU, shrink
 * it and save it; returns the reproducer's path.
 */
static char *save_failure(Fuzz *f, uint64_t n, GPtrArray **hist,
                          const char *out, const char *tag,
                          const char *crash_log)
{
    g_autofree char *path = NULL;
    g_autofree char *trial_log = g_strdup_printf("%s/shrink%s.log", out, tag);
    g_autofree char *first_log = NULL;
    GPtrArray *lines = NULL;
    Failure want = { RES_OK, NULL };
    GString *text;

    for (unsigned back = 0; back < HISTORY; back = back ? back * 2 : 1) {
        if (lines) {
            g_ptr_array_free(lines, true);
        }
        lines = g_ptr_array_new_with_free_func(g_free);
        for (unsigned k = MIN(back, n); k + 1 > 0; k--) {
            GPtrArray *in = hist[(n - k) % HISTORY];

            for (unsigned i = 0; in && i < in->len; i++) {
                g_ptr_array_add(lines, g_strdup(g_ptr_array_index(in, i)));
            }
            if (k == 0) {
                break;
            }
        }
        want = try_lines(f->args, lines, trial_log);
        if (want.kind != RES_OK) {
            break;
        }
        if (back >= n) {
            break;
        }
    }
    path = g_strdup_printf("%s/%s-%s-seed%" PRIu64 "-input%" PRIu64 ".qtest",
                           out, f->dev->name, kind_name[want.kind ?: 1],
                           f->seed, n);
    first_log = g_strdup_printf("%s.log", path);
    rename(crash_log, first_log);
    if (want.kind == RES_OK) {
        fprintf(stderr, "barlab-fuzz: input %" PRIu64 " does not fail again "
                "from a fresh QEMU; saved unshrunk\n", n);
    } else {
        shrink(f->args, lines, &want, trial_log);
    }
    text = g_string_new(NULL);
    g_string_append_printf(text, "# barlab-fuzz reproducer: %s, seed %" PRIu64
                           ", input %" PRIu64 "\n# failure: %s%s%s\n"
                           "# args: %s\n", f->dev->name, f->seed, n,
                           kind_name[want.kind ?: 1],
                           want.summary ? ": " : "", want.summary ?: "",
                           f->args);
    for (unsigned i = 0; i < lines->len; i++) {
        const char *l = g_ptr_array_index(lines, i);

        if (l[0] != '#') {
            g_string_append_printf(text, "%s\n", l);
        }
    }
    g_file_set_contents(path, text->str, text->len, NULL);
    g_string_free(text, true);
    g_ptr_array_free(lines, true);
    g_free(want.summary);
    unlink(trial_log);
    return g_steal_pointer(&path);
}

/* --- the two modes ------------------------------------------------------ */

/* What one worker's share of the inputs came to. */
typedef struct {
    uint64_t inputs, lines;
    uint64_t counters[FUZZ_MAX_COUNTERS + 1];
    unsigned failures;
} FuzzTally;

/*
 * Inputs [@lo, @hi) on one QEMU after the other (a new one every
 * @restart inputs, the configurations in turn); @tag names this worker's
 * files in @out.
 */
static void fuzz_range(const FuzzDevice *d, uint64_t seed, uint64_t lo,
                       uint64_t hi, uint64_t restart, unsigned nconfigs,
                       const char *out, const char *tag, FuzzTally *t)
{
    Fuzz f = { .dev = d, .seed = seed };
    g_autofree char *log = g_strdup_printf("%s/qemu%s.log", out, tag);
    GPtrArray *hist[HISTORY] = { NULL };
    g_autoptr(GString) answers = g_string_new("");
    gint64 t0 = g_get_monotonic_time();
    QemuProc q = { .pid = 0 };
    bool running = false;

    for (uint64_t n = lo; n < hi; n++) {
        GPtrArray *in;
        Result r;

        if (!running || n % restart == 0) {
            if (running && qemu_stop(&q) != RES_OK) {
                fprintf(stderr, "barlab-fuzz: QEMU (%s) failed at its end; "
                        "log %s\n", f.args, log);
                t->failures++;
                break;
            }
            /* a reproducer starts from one QEMU: forget the last one's */
            for (unsigned i = 0; i < HISTORY; i++) {
                if (hist[i]) {
                    g_ptr_array_free(hist[i], true);
                    hist[i] = NULL;
                }
            }
            f.config = (n / restart) % nconfigs;
            if (!fuzz_start(&f, &q, log)) {
                t->failures++;
                running = false;
                break;
            }
            running = true;
        }
        in = gen_input(&f, n, true);
        g_string_truncate(answers, 0);
        r = run_lines(&q, in, answers);
        t->lines += in->len;
        if (r == RES_OK) {
            add_counters(&f, answers);
        }
        if (hist[n % HISTORY]) {
            g_ptr_array_free(hist[n % HISTORY], true);
        }
        hist[n % HISTORY] = in;
        f.inputs++;
        if (r != RES_OK) {
            g_autofree char *crash_log = g_strdup_printf("%s.crash", log);
            g_autofree char *repro = NULL;

            qemu_kill(&q);
            qemu_stop(&q);
            running = false;
            rename(log, crash_log);
            repro = save_failure(&f, n, hist, out, tag, crash_log);
            printf("barlab-fuzz: input %" PRIu64 ": %s; reproducer %s\n", n,
                   kind_name[r], repro);
            fflush(stdout);
            t->failures++;
            if (t->failures >= 3) {
                break;
            }
        }
        if ((isatty(2) && f.inputs % 1000 == 0) || f.inputs % 100000 == 0) {
            fprintf(stderr, "%sbarlab-fuzz: %s%s: %" PRIu64 " inputs, %.0f/s%s",
                    isatty(2) ? "\r" : "", d->name, tag, f.inputs,
                    f.inputs / ((g_get_monotonic_time() - t0) / 1e6),
                    isatty(2) ? " " : "\n");
        }
    }
    if (running && qemu_stop(&q) != RES_OK) {
        fprintf(stderr, "barlab-fuzz: QEMU (%s) failed at its end; log %s\n",
                f.args, log);
        t->failures++;
    }
    t->inputs = f.inputs;
    memcpy(t->counters, f.counters, sizeof(t->counters));
    for (unsigned i = 0; i < HISTORY; i++) {
        if (hist[i]) {
            g_ptr_array_free(hist[i], true);
        }
    }
    g_free(f.args);
}

/*
 * A worker runs inputs [@lo, @hi) and writes its tally to @fd.  It is a
 * new program (this one, exec'd), not a fork of the parent: the parent
 * links QEMU's utility library, whose RCU thread may hold a lock at
 * fork() that the child then waits for forever.
 */
static pid_t fuzz_worker_spawn(const FuzzDevice *d, uint64_t seed,
                               uint64_t lo, uint64_t hi, uint64_t restart,
                               const char *out, unsigned n, int fd)
{
    g_autofree char *s_seed = g_strdup_printf("%" PRIu64, seed);
    g_autofree char *s_first = g_strdup_printf("%" PRIu64, lo);
    g_autofree char *s_inputs = g_strdup_printf("%" PRIu64, hi - lo);
    g_autofree char *s_restart = g_strdup_printf("%" PRIu64, restart);
    g_autofree char *s_ms = g_strdup_printf("%d", timeout_ms);
    g_autofree char *s_worker = g_strdup_printf("%u:%d", n, fd);
    char *argv[] = {
        (char *)"barlab-fuzz", (char *)d->name, (char *)"--seed", s_seed,
        (char *)"--first", s_first, (char *)"--inputs", s_inputs,
        (char *)"--restart", s_restart, (char *)"--timeout-ms", s_ms,
        (char *)"--out", (char *)out, (char *)"--worker", s_worker, NULL,
    };
    pid_t pid = fork();

    if (pid == 0) {
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    return pid;
}

/* The worker's side: run the inputs, hand the tally to the parent. */
static int fuzz_worker(const FuzzDevice *d, uint64_t first, uint64_t inputs,
                       uint64_t seed, const char *out, uint64_t restart,
                       const char *spec)
{
    g_autofree char *tag = NULL;
    FuzzTally t = { 0 };
    unsigned nconfigs = 0, n;
    int fd;

    if (sscanf(spec, "%u:%d", &n, &fd) != 2 || !restart) {
        fprintf(stderr, "barlab-fuzz: --worker is for barlab-fuzz itself\n");
        return 2;
    }
    while (d->configs[nconfigs]) {
        nconfigs++;
    }
    tag = g_strdup_printf("-%u", n);
    fuzz_range(d, seed, first, first + inputs, restart, nconfigs, out, tag,
               &t);
    fflush(stdout);
    return write(fd, &t, sizeof(t)) == sizeof(t) ? 0 : 1;
}

/*
 * @inputs inputs, split into @jobs contiguous shares that as many worker
 * processes (each with its own QEMU) run side by side; an input is the
 * same whichever worker runs it.  The tallies come back through a pipe.
 */
static int fuzz(const FuzzDevice *d, uint64_t first, uint64_t inputs,
                uint64_t seed, const char *out, uint64_t restart,
                unsigned jobs)
{
    FuzzTally sum = { 0 };
    gint64 t0 = g_get_monotonic_time();
    unsigned nconfigs = 0, lost = 0;
    pid_t pids[FUZZ_MAX_JOBS];
    int fds[FUZZ_MAX_JOBS];
    double secs;

    while (d->configs[nconfigs]) {
        nconfigs++;
    }
    if (!restart) {
        /* every configuration gets its share of the inputs */
        restart = MAX(MIN((inputs + nconfigs - 1) / nconfigs, 50000), 1);
    }
    g_assert(d->ncounters <= FUZZ_MAX_COUNTERS);
    jobs = MAX(MIN(jobs, inputs), 1);
    if (jobs == 1) {
        fuzz_range(d, seed, first, first + inputs, restart, nconfigs, out, "",
                   &sum);
    } else {
        fflush(stdout);
        for (unsigned j = 0; j < jobs; j++) {
            int p[2];

            if (pipe(p)) {
                fprintf(stderr, "barlab-fuzz: cannot make a pipe\n");
                return 1;
            }
            pids[j] = fuzz_worker_spawn(d, seed, first + inputs * j / jobs,
                                        first + inputs * (j + 1) / jobs,
                                        restart, out, j + 1, p[1]);
            close(p[1]);
            fds[j] = p[0];
        }
        for (unsigned j = 0; j < jobs; j++) {
            FuzzTally t;
            int status;

            if (pids[j] < 0 || read(fds[j], &t, sizeof(t)) != sizeof(t)) {
                lost++;
            } else {
                sum.inputs += t.inputs;
                sum.lines += t.lines;
                sum.failures += t.failures;
                for (unsigned i = 0; i <= FUZZ_MAX_COUNTERS; i++) {
                    sum.counters[i] += t.counters[i];
                }
            }
            close(fds[j]);
            if (pids[j] > 0) {
                waitpid(pids[j], &status, 0);
            }
        }
        if (lost) {
            fprintf(stderr, "barlab-fuzz: %u of %u workers died\n", lost,
                    jobs);
            sum.failures += lost;
        }
    }
    if (isatty(2)) {
        fprintf(stderr, "\n");
    }
    secs = (g_get_monotonic_time() - t0) / 1e6;
    printf("barlab-fuzz: %s: %" PRIu64 " inputs (%" PRIu64 " qtest lines) "
           "in %.1f s: %.0f inputs/s, seed %" PRIu64 ", %u configurations, "
           "%u jobs\n", d->name, sum.inputs, sum.lines, secs,
           sum.inputs / secs, seed,
           MIN(nconfigs, (unsigned)((inputs + restart - 1) / restart)), jobs);
    if (first) {
        printf("barlab-fuzz: %s: inputs %" PRIu64 " to %" PRIu64 "\n",
               d->name, first, first + inputs - 1);
    }
    printf("barlab-fuzz: %s: counters reached:", d->name);
    for (unsigned i = 0; i < d->ncounters; i++) {
        printf(" %s %" PRIu64, d->counter_names[i], sum.counters[i]);
    }
    if (d->status_mask) {
        printf(" %s %" PRIu64, d->status_name, sum.counters[d->ncounters]);
    }
    printf("\nbarlab-fuzz: %s: %u failures\n", d->name, sum.failures);
    return sum.failures ? 1 : 0;
}

/* Replay reproducers as TAP tests: each must now run clean. */
static int replay(char **files, int nfiles, const char *out)
{
    int failed = 0;

    printf("1..%d\n", nfiles);
    for (int i = 0; i < nfiles; i++) {
        g_autofree char *text = NULL;
        g_autofree char *base = g_path_get_basename(files[i]);
        g_autofree char *log = g_strdup_printf("%s/%s.log", out, base);
        g_auto(GStrv) split = NULL;
        GPtrArray *lines = g_ptr_array_new();
        const char *args = NULL;
        Failure fl;

        if (!g_file_get_contents(files[i], &text, NULL, NULL)) {
            printf("not ok %d - %s: cannot read it\n", i + 1, files[i]);
            failed++;
            continue;
        }
        split = g_strsplit(text, "\n", -1);
        for (char **l = split; *l; l++) {
            if (g_str_has_prefix(*l, "# args: ")) {
                args = *l + 8;
            } else if (**l && **l != '#') {
                g_ptr_array_add(lines, *l);
            }
        }
        if (!args) {
            printf("not ok %d - %s: no '# args:' line\n", i + 1, base);
            failed++;
            g_ptr_array_free(lines, true);
            continue;
        }
        fl = try_lines(args, lines, log);
        if (fl.kind == RES_OK) {
            printf("ok %d - %s (%u lines)\n", i + 1, base, lines->len);
            unlink(log);
        } else {
            printf("not ok %d - %s: %s%s%s (QEMU's log: %s)\n", i + 1, base,
                   kind_name[fl.kind], fl.summary ? ": " : "",
                   fl.summary ?: "", log);
            failed++;
        }
        fflush(stdout);
        g_free(fl.summary);
        g_ptr_array_free(lines, true);
    }
    return failed ? 1 : 0;
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: barlab-fuzz nic|gpu [--inputs N] [--seed S] [--out DIR]\n"
            "                   [--timeout-ms MS] [--restart N] [--jobs J]\n"
            "                   [--first F]\n"
            "       barlab-fuzz --replay [--out DIR] FILE... [--tap]\n"
            "Runs inputs generated from seed S against a fresh QEMU per\n"
            "configuration (a new one every --restart inputs), FLR between\n"
            "inputs; a failure is shrunk and saved in --out as a reproducer.\n"
            "--jobs J splits the inputs among J processes, a QEMU each;\n"
            "--first F runs inputs F to F+N-1 (a part of a longer run).\n"
            "--replay runs reproducers and prints TAP: each must run clean.\n"
            "QTEST_QEMU_BINARY names the qemu-system-aarch64 to run.\n");
}

static bool parse_u64(const char *s, uint64_t *v, uint64_t min)
{
    char *end;

    errno = 0;
    *v = g_ascii_strtoull(s, &end, 0);
    return s[0] >= '0' && s[0] <= '9' && !*end && !errno && *v >= min;
}

int main(int argc, char **argv)
{
    uint64_t inputs = 1000, seed = 1, restart = 0, ms = 10000, jobs = 1;
    uint64_t first = 0;
    const char *out = ".", *worker = NULL;
    bool do_replay = false;
    g_autoptr(GPtrArray) files = g_ptr_array_new();
    const FuzzDevice *dev = NULL;

    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        uint64_t *num = !strcmp(a, "--inputs") ? &inputs :
                        !strcmp(a, "--seed") ? &seed :
                        !strcmp(a, "--restart") ? &restart :
                        !strcmp(a, "--jobs") ? &jobs :
                        !strcmp(a, "--first") ? &first :
                        !strcmp(a, "--timeout-ms") ? &ms : NULL;
        const FuzzDevice *named = NULL;

        for (unsigned k = 0; k < G_N_ELEMENTS(devices); k++) {
            if (!strcmp(a, devices[k]->name)) {
                named = devices[k];
            }
        }
        if (num) {
            if (!has || !parse_u64(argv[++i], num, num == &seed || num == &first ? 0 : 1)) {
                fprintf(stderr, "barlab-fuzz: %s needs a number%s\n", a,
                        num == &seed || num == &first ? ""
                                                      : " of at least 1");
                return 2;
            }
        } else if (!strcmp(a, "--out")) {
            if (!has) {
                fprintf(stderr, "barlab-fuzz: --out needs a directory\n");
                return 2;
            }
            out = argv[++i];
        } else if (!strcmp(a, "--worker") && has) {
            worker = argv[++i];
        } else if (!strcmp(a, "--replay")) {
            do_replay = true;
        } else if (!strcmp(a, "--tap")) {
            /* the qtest runner's option: TAP is what --replay prints */
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (do_replay && a[0] != '-') {
            g_ptr_array_add(files, argv[i]);
        } else if (!dev && named) {
            dev = named;
        } else {
            fprintf(stderr, "barlab-fuzz: unknown argument '%s' (see --help)\n",
                    a);
            return 2;
        }
    }
    if (do_replay ? dev || !files->len : !dev) {
        fprintf(stderr, "barlab-fuzz: %s (see --help)\n",
                do_replay ? "--replay takes reproducer files, no device"
                          : "name a device: nic or gpu");
        return 2;
    }
    qemu_binary = getenv("QTEST_QEMU_BINARY");
    if (!qemu_binary) {
        fprintf(stderr, "barlab-fuzz: set QTEST_QEMU_BINARY\n");
        return 2;
    }
    timeout_ms = MIN(ms, 600000);
    if (g_mkdir_with_parents(out, 0755)) {
        fprintf(stderr, "barlab-fuzz: cannot create %s\n", out);
        return 2;
    }
    /*
     * Any sanitizer report ends QEMU, and fails the run.  Leaks are not
     * looked for: QEMU does not free everything at exit by design.
     */
    setenv("ASAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_summary=1:"
           "detect_leaks=0", 1);
    setenv("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_summary=1:"
           "print_stacktrace=1", 1);
    if (do_replay) {
        return replay((char **)files->pdata, files->len, out);
    }
    if (worker) {
        return fuzz_worker(dev, first, inputs, seed, out, restart, worker);
    }
    if (jobs > FUZZ_MAX_JOBS) {
        fprintf(stderr, "barlab-fuzz: --jobs takes at most %d\n",
                FUZZ_MAX_JOBS);
        return 2;
    }
    return fuzz(dev, first, inputs, seed, out, restart, jobs);
}
