/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-fuzz: a structured fuzzer of barlab-nic and barlab-gpu over QEMU's
 * qtest protocol, and the replayer of the reproducers it writes.
 * docs/fuzzing.md explains both; the devices' specs are docs/devices/.
 *
 * Each input is a list of qtest command lines generated from the seed and
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
 * Built inside the QEMU tree with the qtests (scripts/lib/qemu.sh);
 * QTEST_QEMU_BINARY names the QEMU to run.
 */
#include "qemu/osdep.h"
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* -M virt: guest RAM at 1 GiB; the PCIe ECAM and 32-bit window libqos uses. */
#define RAM_BASE        0x40000000ULL
#define RAM_SIZE        (64ULL << 20)
#define RAM_END         (RAM_BASE + RAM_SIZE)
#define DMA_ZONE        (1ULL << 20)    /* zeroed before every input */
#define ECAM_DEV        0x4010008000ULL /* 00:01.0, the first -device */
#define BAR0_BASE       0x10000000ULL
#define UART_BASE       0x09000000ULL
#define GIC_BASE        0x08000000ULL

/* PCI config space (include/hw/pci/pci_regs.h) */
#define CFG_COMMAND     0x04
#define CFG_BAR0        0x10
#define CFG_BAR2        0x18
#define CFG_CAP_PTR     0x34
#define CAP_ID_MSIX     0x11
#define CAP_ID_EXP      0x10
#define EXP_DEVCTL      0x08
#define EXP_DEVCTL_FLR  0x8000
#define CMD_MEM_MASTER  0x0006

#define MAX_LINES       4096
#define HISTORY         16      /* inputs kept to reproduce a stateful bug */

enum { DEV_NIC, DEV_GPU };

typedef enum { R_OK, R_CRASH, R_HANG } Result;

typedef struct {
    const char *name;
    uint64_t bar2_base;
    const char *const *configs;     /* -device lines, cycled through */
    const unsigned *counters;       /* BAR0 offsets of 32-bit counters */
    const char *const *counter_names;
    unsigned ncounters;
} DeviceInfo;

/* The device's registers, counters and the configurations fuzzed. */
static const char *const nic_configs[] = {
    "-netdev user,id=n0,restrict=on -device barlab-nic,netdev=n0",
    "-netdev user,id=n0,restrict=on -device barlab-nic,netdev=n0,"
        "port-mode=exact",
    "-netdev user,id=n0,restrict=on -device barlab-nic,netdev=n0,"
        "port-mode=reorder+speculate:%u,push-status-rc=on",
    "-netdev user,id=n0,restrict=on -device barlab-nic,netdev=n0,"
        "port-mode=reorder:%u,gather-line-size=128,push-size=4K",
    "-netdev user,id=n0,restrict=on -device barlab-nic,netdev=n0,"
        "port-mode=speculate:%u,gather-lines=1,gather-timeout-ns=0",
    NULL,
};
static const unsigned nic_counters[] = {
    0x100, 0x108, 0x110, 0x118, 0x120, 0x128, 0x130, 0x138, 0x140,
};
static const char *const nic_counter_names[] = {
    "tx-frames", "tx-inline", "tx-fallback", "tx-nops", "completions",
    "rx-frames", "rx-dropped", "errors", "tx-late",
};
static const unsigned nic_regs[] = {
    0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0x018, 0x020, 0x024, 0x028,
    0x02c, 0x030, 0x040, 0x044, 0x048, 0x04c, 0x050, 0x060, 0x064, 0x068,
    0x06c, 0x070, 0x080, 0x084, 0x088, 0x08c, 0x100, 0x13c, 0x144, 0x148,
    0x7fc, 0x800, 0x804, 0x808, 0x80c, 0x810, 0xc00, 0xc04, 0xffc,
};

static const char *const gpu_configs[] = {
    "-device barlab-gpu",
    "-device barlab-gpu,port-mode=exact,vram-size=1M",
    "-device barlab-gpu,port-mode=reorder+speculate:%u",
    "-device barlab-gpu,port-mode=reorder:%u,gather-line-size=256",
    "-device barlab-gpu,port-mode=speculate:%u,gather-lines=1,"
        "gather-timeout-ns=0",
    NULL,
};
static const unsigned gpu_counters[] = {
    0x100, 0x108, 0x110, 0x118, 0x120, 0x00c,
};
static const char *const gpu_counter_names[] = {
    "vram-accesses", "vram-txns", "vram-gathered", "vram-violations",
    "vram-barriers", "modes-valid",
};
static const unsigned gpu_regs[] = {
    0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0x018, 0x01c, 0x020, 0x024,
    0x030, 0x034, 0x038, 0x03c, 0x040, 0x048, 0x04c, 0x050, 0x100, 0x124,
    0x128, 0xffc,
};

static const DeviceInfo devices[] = {
    [DEV_NIC] = { "nic", 0x10010000ULL, nic_configs, nic_counters,
                  nic_counter_names, G_N_ELEMENTS(nic_counters) },
    [DEV_GPU] = { "gpu", 0x11000000ULL, gpu_configs, gpu_counters,
                  gpu_counter_names, G_N_ELEMENTS(gpu_counters) },
};

/* --- a running QEMU ----------------------------------------------------- */

typedef struct {
    pid_t pid;
    int qt, qmp;
    GString *qmp_in;
    char *args;             /* the device part of the command line */
    char *log;              /* its stderr */
    int status;             /* after qemu_stop */
} Qemu;

static const char *qemu_binary;
static int timeout_ms = 10000;

static void qemu_kill(Qemu *q)
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

/* One QMP line that is not an event; false if QEMU died or is stuck. */
static bool qmp_reply(Qemu *q, gint64 deadline)
{
    char buf[4096];

    for (;;) {
        char *nl = strchr(q->qmp_in->str, '\n');
        struct pollfd pfd = { q->qmp, POLLIN, 0 };
        int ms;
        ssize_t n;

        if (nl) {
            bool event = strstr(q->qmp_in->str, "\"event\"") &&
                         strstr(q->qmp_in->str, "\"event\"") < nl;

            g_string_erase(q->qmp_in, 0, nl - q->qmp_in->str + 1);
            if (!event) {
                return true;
            }
            continue;
        }
        ms = (deadline - g_get_monotonic_time()) / 1000;
        if (ms <= 0 || poll(&pfd, 1, ms) <= 0) {
            return false;
        }
        n = read(q->qmp, buf, sizeof(buf));
        if (n <= 0) {
            return false;
        }
        g_string_append_len(q->qmp_in, buf, n);
    }
}

static Result qmp_cmd(Qemu *q, const char *cmd)
{
    size_t len = strlen(cmd);

    if (write(q->qmp, cmd, len) != (ssize_t)len || write(q->qmp, "\n", 1) != 1) {
        return R_CRASH;
    }
    if (!qmp_reply(q, g_get_monotonic_time() + timeout_ms * 1000LL)) {
        return waitpid(q->pid, &q->status, WNOHANG) == q->pid ?
               (q->pid = 0, R_CRASH) : R_HANG;
    }
    return R_OK;
}

static bool qemu_start(Qemu *q, const char *args, const char *log)
{
    int qt[2], qm[2];
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv = NULL;

    *q = (Qemu) { .qt = -1, .qmp = -1 };
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, qt) ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, qm)) {
        return false;
    }
    cmd = g_strdup_printf("%s -M virt -m %llu -nodefaults -display none "
                          "-accel qtest -qtest-log /dev/null "
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
        !qmp_reply(q, g_get_monotonic_time() + 30 * G_USEC_PER_SEC) ||
        qmp_cmd(q, "{\"execute\": \"qmp_capabilities\"}") != R_OK) {
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
static Result qemu_stop(Qemu *q)
{
    Result r = R_OK;

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
            r = R_HANG;
        } else if (!WIFEXITED(q->status) || WEXITSTATUS(q->status)) {
            r = R_CRASH;
        }
    }
    qemu_kill(q);
    if (r == R_OK && log_has_report(q->log)) {
        r = R_CRASH;
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
static Result qt_send(Qemu *q, const GString *out, unsigned nlines,
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
            return R_HANG;
        }
        r = poll(&pfd, 1, ms);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return R_HANG;
        }
        if (pfd.revents & POLLIN) {
            ssize_t n = read(q->qt, buf, sizeof(buf));

            if (n <= 0) {
                return R_CRASH;
            }
            for (ssize_t i = 0; i < n; i++) {
                got += buf[i] == '\n';
            }
            if (keep) {
                g_string_append_len(keep, buf, n);
            }
        } else if (pfd.revents & (POLLHUP | POLLERR)) {
            return R_CRASH;
        }
        if (pfd.revents & POLLOUT) {
            ssize_t n = write(q->qt, out->str + off, out->len - off);

            if (n < 0 && errno != EAGAIN) {
                return R_CRASH;
            }
            off += MAX(n, 0);
        }
    }
    return R_OK;
}

/*
 * Run script lines: qtest commands, "qmp JSON" lines to the monitor,
 * "#" comments skipped.  @answers gets the qtest answers.
 */
static Result run_lines(Qemu *q, GPtrArray *lines, GString *answers)
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
            r = n ? qt_send(q, out, n, answers) : R_OK;
            if (r == R_OK && l) {
                r = qmp_cmd(q, l + 4);
            }
            if (r != R_OK) {
                return r;
            }
            g_string_truncate(out, 0);
            n = 0;
            continue;
        }
        g_string_append_printf(out, "%s\n", l);
        n++;
    }
    return R_OK;
}

/* --- generating an input ------------------------------------------------ */

typedef struct {
    uint64_t s;
    int dev;
    GPtrArray *lines;
    uint64_t bar0, bar2, bar2_size;
    uint64_t ring[3];       /* NIC: TX, RX, CQ bases as last programmed */
    unsigned ring_size[3];
    unsigned msix_cap, exp_cap;
} Gen;

static uint64_t rnd(Gen *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned below(Gen *g, unsigned n)
{
    return rnd(g) % n;
}

static void G_GNUC_PRINTF(2, 3) emit(Gen *g, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(g->lines, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static const char *const width_cmd[] = { "b", "w", "l", "q" };

static void emit_write(Gen *g, uint64_t addr, unsigned lg, uint64_t val)
{
    if (lg < 3) {
        val &= (1ULL << (8 << lg)) - 1;
    }
    emit(g, "write%s 0x%" PRIx64 " 0x%" PRIx64, width_cmd[lg], addr, val);
}

static void emit_read(Gen *g, uint64_t addr, unsigned lg)
{
    emit(g, "read%s 0x%" PRIx64, width_cmd[lg], addr);
}

static void emit_bytes(Gen *g, uint64_t addr, const uint8_t *b, unsigned n)
{
    GString *s = g_string_new(NULL);

    g_string_printf(s, "write 0x%" PRIx64 " 0x%x 0x", addr, n);
    for (unsigned i = 0; i < n; i++) {
        g_string_append_printf(s, "%02x", b[i]);
    }
    g_ptr_array_add(g->lines, g_string_free(s, false));
}

/* Values that find edges: zero, ones, powers of two and their neighbours. */
static uint64_t interesting(Gen *g)
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
static uint64_t dma_addr(Gen *g, unsigned align)
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

/* A register access of any width, at a register or beside one. */
static void op_reg(Gen *g, const unsigned *regs, unsigned nregs)
{
    uint64_t addr = g->bar0 + regs[below(g, nregs)];
    unsigned lg = below(g, 5) ? 2 : below(g, 4);

    if (!below(g, 6)) {
        addr += 1 + below(g, 3);
    }
    if (below(g, 3)) {
        emit_write(g, addr, lg, interesting(g));
    } else {
        emit_read(g, addr, lg);
    }
}

/* Config space: the command register, BAR moves, MSI-X control, anything. */
static void op_config(Gen *g)
{
    switch (below(g, 6)) {
    case 0:
        emit_write(g, ECAM_DEV + CFG_COMMAND, 1,
                   below(g, 2) ? CMD_MEM_MASTER ^ (1u << below(g, 3)) :
                                 interesting(g));
        break;
    case 1:
        /* move BAR0 (in the window or not), the ops follow it */
        g->bar0 = below(g, 2) ? BAR0_BASE + 0x1000 * below(g, 15) : rnd(g);
        emit_write(g, ECAM_DEV + CFG_BAR0, 2, g->bar0);
        g->bar0 &= 0xfffff000;
        break;
    case 2:
        g->bar2 = below(g, 2) ? devices[g->dev].bar2_base + g->bar2_size *
                                    below(g, 4) : rnd(g);
        emit_write(g, ECAM_DEV + CFG_BAR2, 2, g->bar2);
        emit_write(g, ECAM_DEV + CFG_BAR2 + 4, 2, below(g, 4) ? 0 : rnd(g));
        g->bar2 = (uint32_t)g->bar2 & ~(g->bar2_size - 1);
        break;
    case 3:
        if (g->msix_cap) {
            emit_write(g, ECAM_DEV + g->msix_cap + 2, 1,
                       below(g, 3) ? 0x8000 : interesting(g));
            break;
        }
        /* fall through */
    case 4:
        if (g->exp_cap) {
            emit_write(g, ECAM_DEV + g->exp_cap + EXP_DEVCTL, 1,
                       interesting(g) & ~(uint64_t)EXP_DEVCTL_FLR);
            break;
        }
        /* fall through */
    default: {
        unsigned lg = below(g, 3);
        uint64_t off = below(g, 256) & ~((1u << lg) - 1);

        if (below(g, 2)) {
            emit_write(g, ECAM_DEV + off, lg, interesting(g));
        } else {
            emit_read(g, ECAM_DEV + off, lg);
        }
        break;
    }
    }
}

static void op_clock(Gen *g)
{
    static const unsigned ns[] = { 1, 1000, 99999, 100000, 100001, 1000000 };

    emit(g, "clock_step %u", below(g, 4) ? ns[below(g, G_N_ELEMENTS(ns))] :
                                           below(g, 1000000000));
}

/* An ARP request for the slirp gateway, so that frames come back. */
static unsigned arp_frame(uint8_t *f)
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

/* --- barlab-nic ---------------------------------------------------------- */

enum { TX, RX, CQ };
static const unsigned ring_reg[3] = { 0x020, 0x040, 0x060 };
static const unsigned ring_entry[3] = { 64, 16, 16 };

static void nic_ring(Gen *g)
{
    unsigned r = below(g, 3);
    uint64_t base = below(g, 3) ? RAM_BASE + 0x10000 * r + 0x40000 * below(g, 2)
                                : dma_addr(g, ring_entry[r]);
    unsigned size = below(g, 3) ? 1u << below(g, 13) : interesting(g);

    g->ring[r] = base;
    g->ring_size[r] = size;
    emit_write(g, g->bar0 + ring_reg[r], 2, base);
    emit_write(g, g->bar0 + ring_reg[r] + 4, 2, base >> 32);
    emit_write(g, g->bar0 + ring_reg[r] + 8, 2, size);
}

static void nic_desc(Gen *g, uint8_t *d)
{
    unsigned len = below(g, 2) ? 14 + below(g, 35) : interesting(g);
    uint8_t flags = below(g, 4) ? below(g, 4) : rnd(g);

    memset(d, 0, 64);
    d[0] = below(g, 5) ? below(g, 2) : rnd(g);
    d[1] = flags;
    stw_le_p(d + 2, below(g, 5) ? below(g, MAX(g->ring_size[TX], 1u) & 0xffff ?: 1)
                                : interesting(g));
    stq_le_p(d + 8, rnd(g));
    if (flags & 2) {
        for (unsigned i = 16; i < 64; i++) {
            d[i] = rnd(g);
        }
        if (below(g, 2)) {
            len = arp_frame(d + 16);
        }
    } else {
        uint64_t buf = dma_addr(g, 1);

        stq_le_p(d + 16, buf);
        if (below(g, 2) && buf >= RAM_BASE && buf + 64 < RAM_BASE + DMA_ZONE) {
            uint8_t f[64];

            len = arp_frame(f);
            emit_bytes(g, buf, f, len);
        }
    }
    stw_le_p(d + 4, len);
}

/* A descriptor into the TX ring (or somewhere near it). */
static void nic_tx_post(Gen *g)
{
    uint8_t d[64];
    unsigned idx;
    uint64_t at;

    nic_desc(g, d);
    idx = below(g, 4) ? lduw_le_p(d + 2) : below(g, 4096);
    at = g->ring[TX] + (uint64_t)idx * 64;
    if (at < RAM_BASE || at + 64 > RAM_END) {
        at = RAM_BASE + (rnd(g) & (DMA_ZONE - 1) & ~63ULL);
    }
    emit_bytes(g, at, d, 64);
    if (below(g, 2)) {
        emit_write(g, g->bar0 + 0x030, 2, below(g, 4) ? (idx + 1) &
                   (MAX(g->ring_size[TX], 1u) - 1) : interesting(g));
    }
}

/* A push page: doorbell, status mirror, a slot copy whole or in pieces. */
static void nic_push(Gen *g)
{
    uint64_t page = g->bar2 + 4096 * below(g, g->bar2_size / 4096);
    uint8_t d[64];
    uint64_t slot;

    switch (below(g, 5)) {
    case 0:
        emit_write(g, page, below(g, 2) + 2, below(g, 3) ? below(g, 8)
                                                         : interesting(g));
        break;
    case 1:
        emit_read(g, page + 8 + (below(g, 4) ? 0 : below(g, 8)), below(g, 4));
        break;
    case 2:
        emit_write(g, page + below(g, 64), below(g, 4), interesting(g));
        break;
    default:
        nic_desc(g, d);
        slot = page + 64 * (1 + below(g, 63));
        if (below(g, 2)) {
            emit_bytes(g, slot, d, 64);
        } else {
            /* eight 8-byte stores, some of them left out or misplaced */
            for (unsigned i = 0; i < 8; i++) {
                if (below(g, 8)) {
                    emit_write(g, slot + 8 * i + (below(g, 16) ? 0 : 1), 3,
                               ldq_le_p(d + 8 * i));
                }
            }
        }
        break;
    }
}

static void nic_rx(Gen *g)
{
    uint8_t d[16] = { 0 };
    unsigned idx = below(g, MAX(g->ring_size[RX], 1u) & 0xfff ?: 1);
    uint64_t at = g->ring[RX] + 16ULL * idx;

    stq_le_p(d, dma_addr(g, 1));
    stw_le_p(d + 8, below(g, 2) ? 2048 : interesting(g));
    if (at >= RAM_BASE && at + 16 <= RAM_END) {
        emit_bytes(g, at, d, 16);
    }
    emit_write(g, g->bar0 + 0x050, 2, below(g, 4) ? (idx + 1) &
               (MAX(g->ring_size[RX], 1u) - 1) : interesting(g));
}

static void nic_msix(Gen *g)
{
    uint64_t e = g->bar0 + 0x800 + 16 * below(g, 2);
    uint64_t a = below(g, 2) ? RAM_BASE + 0x80000 : dma_addr(g, 4);

    emit_write(g, e, 2, a);
    emit_write(g, e + 4, 2, a >> 32);
    emit_write(g, e + 8, 2, rnd(g));
    emit_write(g, e + 12, 2, below(g, 3) ? 0 : interesting(g));
}

static void nic_op(Gen *g)
{
    switch (below(g, 14)) {
    case 0:
    case 1:
        op_reg(g, nic_regs, G_N_ELEMENTS(nic_regs));
        break;
    case 2:
        nic_ring(g);
        break;
    case 3:
        emit_write(g, g->bar0 + 0x008, 2, below(g, 3) ? 1 + 4 * below(g, 2) :
                                                        interesting(g));
        break;
    case 4:
    case 5:
        nic_tx_post(g);
        break;
    case 6:
    case 7:
        nic_push(g);
        break;
    case 8:
        nic_rx(g);
        break;
    case 9:
        emit_write(g, g->bar0 + (below(g, 2) ? 0x06c : 0x014), 2,
                   below(g, 2) ? below(g, 16) : interesting(g));
        break;
    case 10:
        nic_msix(g);
        break;
    case 11:
        op_config(g);
        break;
    case 12:
        emit_write(g, g->bar0 + 0x08c, 2, rnd(g));
        break;
    default:
        op_clock(g);
        break;
    }
}

/* A ring set-up that works, so that most inputs get past the front door. */
static void nic_prologue(Gen *g)
{
    for (unsigned r = 0; r < 3; r++) {
        g->ring[r] = RAM_BASE + 0x10000 * r;
        g->ring_size[r] = 64;
        if (below(g, 4)) {
            emit_write(g, g->bar0 + ring_reg[r], 2, g->ring[r]);
            emit_write(g, g->bar0 + ring_reg[r] + 8, 2, 64);
        }
    }
    if (below(g, 4)) {
        emit_write(g, g->bar0 + 0x008, 2, 1);
    }
}

/* --- barlab-gpu ---------------------------------------------------------- */

static void gpu_mode(Gen *g)
{
    unsigned fmt = below(g, 8) ? below(g, 2) : interesting(g);
    unsigned w = below(g, 2) ? 1 + below(g, 64) : interesting(g);
    unsigned h = below(g, 2) ? 1 + below(g, 64) : interesting(g);
    unsigned stride = w * (fmt == 1 ? 2 : 4) + (below(g, 4) ? 0 : interesting(g));
    uint64_t off = below(g, 2) ? 0 : below(g, 2) ? g->bar2_size - (uint64_t)stride * h
                                                 : interesting(g);

    emit_write(g, g->bar0 + 0x010, 2, fmt);
    emit_write(g, g->bar0 + 0x014, 2, w);
    emit_write(g, g->bar0 + 0x018, 2, h);
    emit_write(g, g->bar0 + 0x01c, 2, stride);
    emit_write(g, g->bar0 + 0x020, 2, off);
    emit_write(g, g->bar0 + 0x024, 2, below(g, 8) ? 0 : off >> 32);
    emit_write(g, g->bar0 + 0x008, 2, below(g, 8) ? 1 : interesting(g));
}

static void gpu_vram(Gen *g)
{
    uint64_t off = below(g, 2) ? rnd(g) & 0x3ffff :
                   below(g, 2) ? g->bar2_size - 1 - below(g, 16) :
                                 rnd(g) & (g->bar2_size - 1);
    uint8_t b[256];
    unsigned n;

    switch (below(g, 3)) {
    case 0:
        emit_write(g, g->bar2 + off, below(g, 4), rnd(g));
        break;
    case 1:
        emit_read(g, g->bar2 + off, below(g, 4));
        break;
    default:
        n = 1 + below(g, sizeof(b));
        for (unsigned i = 0; i < n; i++) {
            b[i] = rnd(g);
        }
        emit_bytes(g, g->bar2 + MIN(off, g->bar2_size - 1), b, n);
        break;
    }
}

static void gpu_damage(Gen *g)
{
    for (unsigned i = 0; i < 4; i++) {
        emit_write(g, g->bar0 + 0x030 + 4 * i, 2,
                   below(g, 2) ? below(g, 80) : interesting(g));
    }
    emit_write(g, g->bar0 + 0x040, 2, 1);
}

static void gpu_op(Gen *g)
{
    switch (below(g, 12)) {
    case 0:
    case 1:
        op_reg(g, gpu_regs, G_N_ELEMENTS(gpu_regs));
        break;
    case 2:
        gpu_mode(g);
        break;
    case 3:
    case 4:
    case 5:
        gpu_vram(g);
        break;
    case 6:
        gpu_damage(g);
        break;
    case 7:
        emit_write(g, g->bar0 + 0x050, 2, rnd(g));
        break;
    case 8:
        /* a redraw: the console reads the scanout from VRAM */
        emit(g, "qmp {\"execute\": \"screendump\", \"arguments\": "
             "{\"filename\": \"/dev/null\"}}");
        break;
    case 9:
        op_config(g);
        break;
    default:
        op_clock(g);
        break;
    }
}

/* --- inputs -------------------------------------------------------------- */

typedef struct {
    int dev;
    uint64_t seed;
    unsigned config;
    char *args;
    unsigned msix_cap, exp_cap;
    uint64_t bar2_size;
    uint64_t counters[8];
    uint64_t inputs;
} Fuzz;

/*
 * Input @n's lines: a zeroed DMA zone, the BARs where the generator
 * expects them, the device's own set-up, the operations, then (@epilogue)
 * BAR0 back in place and the counters read.
 */
static GPtrArray *gen_input(Fuzz *f, uint64_t n, bool epilogue)
{
    Gen g = {
        .s = f->seed * 0x100000001b3ULL ^ n * 0xd6e8feb86659fd93ULL,
        .dev = f->dev, .lines = g_ptr_array_new_with_free_func(g_free),
        .bar0 = BAR0_BASE, .bar2 = devices[f->dev].bar2_base,
        .bar2_size = f->bar2_size, .msix_cap = f->msix_cap,
        .exp_cap = f->exp_cap,
    };
    const DeviceInfo *d = &devices[f->dev];
    unsigned nops = 1 + below(&g, below(&g, 4) ? 16 : 64);

    emit(&g, "# input %" PRIu64, n);
    emit(&g, "memset 0x%llx 0x%llx 0", RAM_BASE, DMA_ZONE);
    emit_write(&g, ECAM_DEV + CFG_BAR0, 2, BAR0_BASE);
    emit_write(&g, ECAM_DEV + CFG_BAR2, 2, d->bar2_base);
    emit_write(&g, ECAM_DEV + CFG_BAR2 + 4, 2, 0);
    emit_write(&g, ECAM_DEV + CFG_COMMAND, 1, CMD_MEM_MASTER);
    if (f->dev == DEV_NIC) {
        nic_prologue(&g);
    } else if (below(&g, 2)) {
        gpu_mode(&g);
    }
    for (unsigned i = 0; i < nops; i++) {
        (f->dev == DEV_NIC ? nic_op : gpu_op)(&g);
    }
    if (epilogue) {
        emit(&g, "# the counters");
        emit_write(&g, ECAM_DEV + CFG_BAR0, 2, BAR0_BASE);
        emit_write(&g, ECAM_DEV + CFG_COMMAND, 1, CMD_MEM_MASTER);
        for (unsigned i = 0; i < d->ncounters; i++) {
            emit_read(&g, BAR0_BASE + d->counters[i], 2);
        }
    }
    return g.lines;
}

static void add_counters(Fuzz *f, const GString *answers)
{
    const DeviceInfo *d = &devices[f->dev];
    const char *p = answers->str + answers->len;

    /* the last ncounters answers, "OK 0x...\n" each */
    for (unsigned i = d->ncounters; i-- > 0;) {
        uint64_t v;

        do {
            p--;
        } while (p > answers->str && p[-1] != '\n');
        v = g_ascii_strtoull(p + 3, NULL, 16);
        if (d->counters[i] == 0x00c) {
            v = v & 1;          /* GPU STATUS: mode valid */
        }
        f->counters[i] += v;
    }
}

/* A QEMU for configuration @config; learns the capability offsets. */
static bool fuzz_start(Fuzz *f, Qemu *q, const char *log)
{
    const char *conf = devices[f->dev].configs[f->config];
    g_autoptr(GString) ans = g_string_new("");
    g_autoptr(GString) out = g_string_new("");
    unsigned pos, id;

    g_free(f->args);
    f->args = g_strdup_printf(conf, (unsigned)(f->seed & 0xffff));
    if (!qemu_start(q, f->args, log)) {
        fprintf(stderr, "barlab-fuzz: cannot start %s %s (log: %s)\n",
                qemu_binary, f->args, log);
        return false;
    }
    /* walk the capability list once; it is the same for every input */
    f->msix_cap = f->exp_cap = 0;
    g_string_printf(out, "readb 0x%llx\n", ECAM_DEV + CFG_CAP_PTR);
    if (qt_send(q, out, 1, ans) != R_OK) {
        return false;
    }
    pos = g_ascii_strtoull(ans->str + 3, NULL, 16);
    for (unsigned i = 0; pos && i < 16; i++) {
        g_string_truncate(ans, 0);
        g_string_printf(out, "readw 0x%llx\n", ECAM_DEV + pos);
        if (qt_send(q, out, 1, ans) != R_OK) {
            return false;
        }
        id = g_ascii_strtoull(ans->str + 3, NULL, 16);
        if ((id & 0xff) == CAP_ID_MSIX) {
            f->msix_cap = pos;
        } else if ((id & 0xff) == CAP_ID_EXP) {
            f->exp_cap = pos;
        }
        pos = id >> 8;
    }
    g_string_truncate(ans, 0);
    g_string_printf(out, "writel 0x%llx 0xffffffff\nreadl 0x%llx\n",
                    ECAM_DEV + CFG_BAR2, ECAM_DEV + CFG_BAR2);
    if (qt_send(q, out, 2, ans) != R_OK) {
        return false;
    }
    f->bar2_size = (uint32_t)-(g_ascii_strtoull(strchr(ans->str, '\n') + 4,
                                               NULL, 16) & ~0xfULL);
    return f->exp_cap != 0 && f->bar2_size;
}

/* FLR through the PCIe capability: the device as after a reset. */
static GPtrArray *flr_lines(Fuzz *f)
{
    GPtrArray *l = g_ptr_array_new_with_free_func(g_free);

    g_ptr_array_add(l, g_strdup_printf("writew 0x%llx 0x%x",
                                       ECAM_DEV + f->exp_cap + EXP_DEVCTL,
                                       EXP_DEVCTL_FLR));
    return l;
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
    Qemu q;
    Failure fl = { R_OK, NULL };

    if (!qemu_start(&q, args, log)) {
        fl.kind = R_CRASH;
        fl.summary = g_strdup("QEMU did not start");
        return fl;
    }
    fl.kind = run_lines(&q, lines, NULL);
    if (fl.kind == R_OK) {
        fl.kind = qemu_stop(&q);
    } else {
        qemu_kill(&q);
        qemu_stop(&q);
    }
    if (fl.kind != R_OK) {
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
                g_ptr_array_remove_range(lines, at, MIN(chunk, lines->len - at));
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
                          const char *out, const char *crash_log)
{
    g_autofree char *path = NULL;
    g_autofree char *trial_log = g_build_filename(out, "shrink.log", NULL);
    g_autofree char *first_log = NULL;
    GPtrArray *lines = NULL;
    Failure want = { R_OK, NULL };
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
        if (want.kind != R_OK) {
            break;
        }
        if (back >= n) {
            break;
        }
    }
    path = g_strdup_printf("%s/%s-%s-seed%" PRIu64 "-input%" PRIu64 ".qtest",
                           out, devices[f->dev].name, kind_name[want.kind ?: 1],
                           f->seed, n);
    first_log = g_strdup_printf("%s.log", path);
    rename(crash_log, first_log);
    if (want.kind == R_OK) {
        fprintf(stderr, "barlab-fuzz: input %" PRIu64 " does not fail again "
                "from a fresh QEMU; saved unshrunk\n", n);
    } else {
        shrink(f->args, lines, &want, trial_log);
    }
    text = g_string_new(NULL);
    g_string_append_printf(text, "# barlab-fuzz reproducer: %s, seed %" PRIu64
                           ", input %" PRIu64 "\n# failure: %s%s%s\n"
                           "# args: %s\n", devices[f->dev].name, f->seed, n,
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

/* --- the two modes --------------------------------------------------------- */

static int fuzz(int dev, uint64_t inputs, uint64_t seed, const char *out,
                uint64_t restart)
{
    Fuzz f = { .dev = dev, .seed = seed };
    const DeviceInfo *d = &devices[dev];
    g_autofree char *log = g_build_filename(out, "qemu.log", NULL);
    GPtrArray *hist[HISTORY] = { NULL };
    g_autoptr(GString) answers = g_string_new("");
    gint64 t0 = g_get_monotonic_time();
    unsigned failures = 0, nconfigs = 0;
    uint64_t lines = 0;
    Qemu q = { .pid = 0 };
    bool running = false;

    while (d->configs[nconfigs]) {
        nconfigs++;
    }
    for (uint64_t n = 0; n < inputs; n++) {
        GPtrArray *in;
        Result r;

        if (!running || (n && n % restart == 0)) {
            if (running && qemu_stop(&q) != R_OK) {
                fprintf(stderr, "barlab-fuzz: QEMU (%s) failed at its end; "
                        "log %s\n", f.args, log);
                failures++;
                break;
            }
            f.config = (n / restart) % nconfigs;
            if (!fuzz_start(&f, &q, log)) {
                return 1;
            }
            running = true;
        }
        in = gen_input(&f, n, true);
        g_string_truncate(answers, 0);
        r = run_lines(&q, in, answers);
        lines += in->len;
        if (r == R_OK) {
            GPtrArray *flr = flr_lines(&f);

            add_counters(&f, answers);
            r = run_lines(&q, flr, NULL);
            g_ptr_array_free(flr, true);
        }
        if (hist[n % HISTORY]) {
            g_ptr_array_free(hist[n % HISTORY], true);
        }
        hist[n % HISTORY] = in;
        f.inputs++;
        if (r != R_OK) {
            g_autofree char *crash_log = g_strdup_printf("%s.crash", log);
            g_autofree char *repro = NULL;

            qemu_kill(&q);
            qemu_stop(&q);
            running = false;
            rename(log, crash_log);
            repro = save_failure(&f, n, hist, out, crash_log);
            printf("barlab-fuzz: input %" PRIu64 ": %s; reproducer %s\n", n,
                   kind_name[r], repro);
            fflush(stdout);
            failures++;
            if (failures >= 3) {
                break;
            }
        }
        if (isatty(2) && n % 1000 == 999) {
            fprintf(stderr, "\rbarlab-fuzz: %" PRIu64 " inputs, %.0f/s ", n + 1,
                    (n + 1) / ((g_get_monotonic_time() - t0) / 1e6));
        }
    }
    if (running && qemu_stop(&q) != R_OK) {
        fprintf(stderr, "barlab-fuzz: QEMU (%s) failed at its end; log %s\n",
                f.args, log);
        failures++;
    }
    if (isatty(2)) {
        fprintf(stderr, "\n");
    }
    {
        double secs = (g_get_monotonic_time() - t0) / 1e6;

        printf("barlab-fuzz: %s: %" PRIu64 " inputs (%" PRIu64 " qtest lines) "
               "in %.1f s: %.0f inputs/s, seed %" PRIu64 ", %u configurations\n",
               d->name, f.inputs, lines, secs, f.inputs / secs, seed,
               MIN(nconfigs, (unsigned)((inputs + restart - 1) / restart)));
    }
    printf("barlab-fuzz: %s: counters reached:", d->name);
    for (unsigned i = 0; i < d->ncounters; i++) {
        printf(" %s %" PRIu64, d->counter_names[i], f.counters[i]);
    }
    printf("\nbarlab-fuzz: %s: %u failures\n", d->name, failures);
    for (unsigned i = 0; i < HISTORY; i++) {
        if (hist[i]) {
            g_ptr_array_free(hist[i], true);
        }
    }
    g_free(f.args);
    return failures ? 1 : 0;
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
        if (fl.kind == R_OK) {
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

static void usage(void)
{
    fprintf(stderr,
            "usage: barlab-fuzz nic|gpu [--inputs N] [--seed S] [--out DIR]\n"
            "                   [--timeout-ms MS] [--restart N]\n"
            "       barlab-fuzz --replay [--out DIR] FILE... [--tap]\n"
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
    uint64_t inputs = 1000, seed = 1, restart = 50000, ms = 10000;
    const char *out = ".";
    bool do_replay = false;
    g_autoptr(GPtrArray) files = g_ptr_array_new();
    int dev = -1;

    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        uint64_t *num = !strcmp(a, "--inputs") ? &inputs :
                        !strcmp(a, "--seed") ? &seed :
                        !strcmp(a, "--restart") ? &restart :
                        !strcmp(a, "--timeout-ms") ? &ms : NULL;

        if (num) {
            if (!has || !parse_u64(argv[++i], num, num == &seed ? 0 : 1)) {
                fprintf(stderr, "barlab-fuzz: %s needs a number%s\n", a,
                        num == &seed ? "" : " of at least 1");
                return 2;
            }
        } else if (!strcmp(a, "--out") && has) {
            out = argv[++i];
        } else if (!strcmp(a, "--replay")) {
            do_replay = true;
        } else if (!strcmp(a, "--tap")) {
            /* the qtest runner's option: TAP is what --replay prints */
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 0;
        } else if (do_replay && a[0] != '-') {
            g_ptr_array_add(files, argv[i]);
        } else if (dev < 0 && (!strcmp(a, "nic") || !strcmp(a, "gpu"))) {
            dev = !strcmp(a, "nic") ? DEV_NIC : DEV_GPU;
        } else {
            fprintf(stderr, "barlab-fuzz: unknown argument '%s'\n", a);
            usage();
            return 2;
        }
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
    /* any sanitizer report ends QEMU, and fails the run */
    setenv("ASAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_summary=1", 0);
    setenv("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_summary=1:"
           "print_stacktrace=1", 0);
    if (do_replay) {
        return replay((char **)files->pdata, files->len, out);
    }
    if (dev < 0) {
        usage();
        return 2;
    }
    return fuzz(dev, inputs, seed, out, restart);
}
