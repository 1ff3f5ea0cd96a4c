/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-vmm: a small arm64 VMM for the L1 host that runs a bare-metal
 * payload as an L2 guest with PCI devices passed through by VFIO.  Only
 * the Linux KVM and VFIO uAPIs; kvmtool and the KVM selftests are the
 * models.  The BARs are mmapped from vfio-pci and handed to KVM as memory
 * slots, so the stage-2 memory type that vfio-pci's policy picks is the
 * one the guest's accesses get.  KVM_RUN failing (EFAULT on a stage-2
 * alignment fault) is an outcome, not a crash.  README.md beside this file
 * describes the command line, the outcomes and the guest ABI.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "barlab-vmm-abi.h"

#define MAX_VCPUS 8
#define MAX_DEVICES 4
#define SZ_2M (2ull << 20)
#define PL011_DR 0x000
#define PL011_SPAN 0x1000
#define DEFAULT_TIMEOUT_S 30
#define DEFAULT_MEM_MB 64
#define CANARY_SIZE 4096
#define CANARY_CHUNK (1u << 20)
#define CANARY_TRIES 256

/* Exit codes: README.md's table. */
enum outcome {
    OUTCOME_OK = 0,
    OUTCOME_GUEST_FAIL = 1,
    OUTCOME_KVM_RUN_EFAULT = 2,
    OUTCOME_TIMEOUT = 3,
    OUTCOME_KVM_ERROR = 4,
    OUTCOME_INTERNAL_ERROR = 5,
    OUTCOME_MEMSLOT_REFUSED = 6,
    OUTCOME_USAGE = 64,
};

/* Linux 6.17's number; the cross sysroot's 6.1 headers do not have it. */
#ifndef KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED
#define KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED 243
#endif

static const char *const outcome_names[] = {
    [OUTCOME_OK] = "ok",
    [OUTCOME_GUEST_FAIL] = "guest-fail",
    [OUTCOME_KVM_RUN_EFAULT] = "kvm-run-efault",
    [OUTCOME_TIMEOUT] = "timeout",
    [OUTCOME_KVM_ERROR] = "kvm-error",
    [OUTCOME_INTERNAL_ERROR] = "internal-error",
    [OUTCOME_MEMSLOT_REFUSED] = "memslot-refused",
};

struct bar {
    struct barlab_boot_bar boot;
    uint64_t region_offset;     /* of the VFIO region, for pread/pwrite */
    void *map;                  /* the mmap, NULL if accesses are forwarded */
};

struct device {
    char bdf[32];               /* "0000:00:02.0" */
    int fd;
    bool can_reset;             /* VFIO_DEVICE_RESET works (FLR here) */
    uint64_t cfg_offset;        /* of the config-space region */
    unsigned nr_bars;
    struct bar bars[PCI_STD_NUM_BARS];
};

struct vcpu {
    unsigned id;
    pid_t tid;                  /* KVM's messages name the vCPU thread */
    int fd;
    struct kvm_run *run;
    pthread_t thread;
};

static struct {
    /* set up before the vCPUs run, read-only after */
    int kvm_fd, vm_fd, container_fd;
    uint8_t *ram;
    uint64_t ram_size;
    unsigned timeout_s;
    struct device devices[MAX_DEVICES];
    unsigned nr_devices, nr_slots;
    struct vcpu vcpus[MAX_VCPUS];
    unsigned nr_vcpus;
    pthread_barrier_t start;
    uint8_t *canary;            /* --l1-canary: the page, or NULL */
    uint64_t canary_pa;

    /* how the run ends: the first vm_end() wins */
    atomic_bool stopping;
    atomic_bool timed_out;
    pthread_mutex_t lock;
    bool ended;
    enum outcome end;           /* OUTCOME_OK for a guest power-off */
    char end_detail[384];

    /* what the guest said through the ucall page (under lock) */
    unsigned reports, failed;
    bool summary_seen;
    uint64_t summary_tests, summary_failures;
    char fatal[320];
} vm = {
    .kvm_fd = -1, .vm_fd = -1, .container_fd = -1,
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

static void vmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vmsg(const char *fmt, ...)
{
    va_list ap;

    flockfile(stdout);
    fputs("vmm: ", stdout);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    funlockfile(stdout);
}

/* A setup step failed: say what, end with the outcome line. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "barlab-vmm: error: %s\n", buf);
    printf("vmm: outcome=%s\n", outcome_names[OUTCOME_INTERNAL_ERROR]);
    exit(OUTCOME_INTERNAL_ERROR);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: barlab-vmm [--timeout S] [--mem MB] [--cpus N] [--l1-canary]\n"
        "                  [--device BDF[,BDF...]] PAYLOAD.elf [key=value ...]\n"
        "       barlab-vmm [--timeout S] [--mem MB] [--cpus N] [--device BDF[,BDF...]]\n"
        "                  --batch FILE PAYLOAD.elf\n"
        "\n"
        "Runs a bare-metal arm64 payload as a KVM guest at EL1h with the PCI\n"
        "devices BDF (bound to vfio-pci) passed through: their memory BARs are\n"
        "KVM memory slots in the guest's PCI window.  key=value arguments reach\n"
        "the payload in its boot information (like QEMU's -append).\n"
        "\n"
        "  --timeout S   stop the guest after S seconds of wall time (default %d)\n"
        "  --mem MB      guest RAM at 0x%llx (default %d)\n"
        "  --cpus N      vCPUs; all but vCPU 0 start powered off (PSCI CPU_ON)\n"
        "  --device BDF  a PCI device to pass through, e.g. 0000:00:02.0;\n"
        "                repeat or separate with commas (at most %d)\n"
        "  --l1-canary   give the payload the L1 physical address of a page of L1\n"
        "                memory with a known pattern, outside the IOVAs mapped for\n"
        "                DMA, and check the page after the run\n"
        "  --batch FILE  run one guest per line of FILE (its key=value arguments),\n"
        "                one after another, each in a new VM with fresh RAM; the\n"
        "                devices are opened once and reset before every guest\n"
        "                ('vmm: guest N: ARGS' starts each, its outcome line ends it)\n"
        "\n"
        "The last line is 'vmm: outcome=NAME ...'; the exit status says the same\n"
        "(with --batch, that of the first guest that did not end ok):\n"
        "0 ok, 1 guest-fail, 2 kvm-run-efault, 3 timeout, 4 kvm-error,\n"
        "5 internal-error, 6 memslot-refused, 64 usage.\n",
        DEFAULT_TIMEOUT_S, (unsigned long long)BARLAB_L2_RAM, DEFAULT_MEM_MB,
        MAX_DEVICES);
}

/* ---- how the run ends -------------------------------------------------- */

static void kick(int sig)
{
    (void)sig;          /* only there to make KVM_RUN return EINTR */
}

/* Make every vCPU leave KVM_RUN and stay out.  Async-signal-safe. */
static void stop_vcpus(void)
{
    atomic_store(&vm.stopping, true);
    for (unsigned i = 0; i < vm.nr_vcpus; i++) {
        vm.vcpus[i].run->immediate_exit = 1;
        pthread_kill(vm.vcpus[i].thread, SIGUSR1);
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    atomic_store(&vm.timed_out, true);
    stop_vcpus();
}

/* Record how the run ends; the first caller wins. */
static void vm_vend(enum outcome o, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&vm.lock);
    if (!vm.ended) {
        vm.ended = true;
        vm.end = o;
        vsnprintf(vm.end_detail, sizeof(vm.end_detail), fmt, ap);
    }
    pthread_mutex_unlock(&vm.lock);
}

static void vm_record_end(enum outcome o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void vm_record_end(enum outcome o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vm_vend(o, fmt, ap);
    va_end(ap);
}

/* From a vCPU thread: record the end and stop every vCPU. */
static void vm_end(enum outcome o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vm_end(enum outcome o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vm_vend(o, fmt, ap);
    va_end(ap);
    stop_vcpus();
}

/* ---- guest memory -------------------------------------------------------- */

/* Host pointer for [ipa, ipa + len) if it lies in guest RAM, else NULL. */
static void *ram_ptr(uint64_t ipa, uint64_t len)
{
    if (ipa < BARLAB_L2_RAM || len > vm.ram_size ||
        ipa - BARLAB_L2_RAM > vm.ram_size - len) {
        return NULL;
    }
    return vm.ram + (ipa - BARLAB_L2_RAM);
}

/* 0, or the errno of a memory slot KVM refused. */
static int try_add_memslot(uint64_t ipa, uint64_t size, void *host)
{
    struct kvm_userspace_memory_region r = {
        .slot = vm.nr_slots,
        .guest_phys_addr = ipa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };

    if (ioctl(vm.vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        return errno;
    }
    vm.nr_slots++;
    return 0;
}

static void add_memslot(uint64_t ipa, uint64_t size, void *host)
{
    int err = try_add_memslot(ipa, size, host);

    if (err) {
        die("KVM_SET_USER_MEMORY_REGION slot %u (0x%llx bytes at 0x%llx): %s",
            vm.nr_slots, (unsigned long long)size, (unsigned long long)ipa,
            strerror(err));
    }
}

static void setup_ram(unsigned mem_mb)
{
    vm.ram_size = (uint64_t)mem_mb << 20;
    vm.ram = mmap(NULL, vm.ram_size, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm.ram == MAP_FAILED) {
        die("guest RAM (%u MiB): %s", mem_mb, strerror(errno));
    }
    add_memslot(BARLAB_L2_RAM, vm.ram_size, vm.ram);
}

/* The canary page's pattern: no two neighbouring bytes alike. */
static uint8_t canary_byte(size_t i)
{
    return (uint8_t)(0xc3 ^ (i * 0x9d) ^ (i >> 8));
}

/* The L1 physical addresses of the @n pages at @va (root only; 0: none). */
static void l1_phys(const void *va, uint64_t *pa, size_t n)
{
    uint64_t entries[CANARY_CHUNK / CANARY_SIZE];
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

    if (fd < 0 || n > sizeof(entries) / sizeof(entries[0]) ||
        pread(fd, entries, n * sizeof(entries[0]),
              (uintptr_t)va / CANARY_SIZE * sizeof(entries[0])) !=
        (ssize_t)(n * sizeof(entries[0]))) {
        die("/proc/self/pagemap: %s", strerror(errno));
    }
    close(fd);
    for (size_t i = 0; i < n; i++) {
        /* bit 63: present; bits 54:0: the page frame (0 without CAP_SYS_ADMIN) */
        uint64_t pfn = entries[i] & ((1ull << 55) - 1);

        pa[i] = entries[i] >> 63 && pfn ? pfn * CANARY_SIZE : 0;
    }
}

/*
 * --l1-canary: a locked page of L1 memory with a known pattern, at an L1
 * physical address no IOVA of the container maps (the IOVAs mapped are
 * guest RAM's IPAs, and L1's RAM overlaps them).  A device passed through
 * without an IOMMU would reach it at IOVA = that address.  Memory is taken
 * a chunk at a time, and kept, until a page qualifies.
 */
static void setup_l1_canary(void)
{
    uint64_t pa[CANARY_CHUNK / CANARY_SIZE];

    if (sysconf(_SC_PAGESIZE) != CANARY_SIZE) {
        die("--l1-canary wants %d-byte pages", CANARY_SIZE);
    }
    for (unsigned i = 0; i < CANARY_TRIES; i++) {
        uint8_t *chunk = mmap(NULL, CANARY_CHUNK, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

        if (chunk == MAP_FAILED || mlock(chunk, CANARY_CHUNK) < 0) {
            die("--l1-canary: locked memory: %s", strerror(errno));
        }
        l1_phys(chunk, pa, CANARY_CHUNK / CANARY_SIZE);
        for (size_t j = 0; j < CANARY_CHUNK / CANARY_SIZE; j++) {
            if (!pa[j]) {
                die("--l1-canary: /proc/self/pagemap shows no physical address "
                    "(not root?)");
            }
            if (pa[j] + CANARY_SIZE > BARLAB_L2_RAM && pa[j] < BARLAB_L2_RAM + vm.ram_size) {
                continue;
            }
            vm.canary = chunk + j * CANARY_SIZE;
            vm.canary_pa = pa[j];
            for (size_t k = 0; k < CANARY_SIZE; k++) {
                vm.canary[k] = canary_byte(k);
            }
            vmsg("l1-canary %u bytes at L1 physical address 0x%llx", CANARY_SIZE,
                 (unsigned long long)vm.canary_pa);
            return;
        }
    }
    die("--l1-canary: no page outside the guest's IOVAs in %d MiB", CANARY_TRIES *
        (CANARY_CHUNK >> 20));
}

/* After the run: did anything write the canary page, and is it still there? */
static void check_l1_canary(void)
{
    unsigned changed = 0;
    int first = -1;
    uint64_t pa;

    if (!vm.canary) {
        return;
    }
    l1_phys(vm.canary, &pa, 1);
    for (size_t i = 0; i < CANARY_SIZE; i++) {
        if (vm.canary[i] != canary_byte(i)) {
            changed++;
            first = first < 0 ? (int)i : first;
        }
    }
    vmsg("record {\"record\":\"l1-canary\",\"pa\":\"0x%llx\",\"size\":%u,"
         "\"changed\":%u,\"first\":%d,\"moved\":%u}",
         (unsigned long long)vm.canary_pa, CANARY_SIZE, changed, first,
         pa != vm.canary_pa);
}

/* Copy the PT_LOAD segments of an identity-linked ELF into guest RAM. */
static uint64_t load_elf(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    const uint8_t *img;
    const Elf64_Ehdr *eh;
    uint64_t entry;

    if (fd < 0 || fstat(fd, &st) < 0) {
        die("payload %s: %s", path, strerror(errno));
    }
    img = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (img == MAP_FAILED) {
        die("payload %s: mmap: %s", path, strerror(errno));
    }
    eh = (const Elf64_Ehdr *)img;
    if ((size_t)st.st_size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_AARCH64 ||
        eh->e_phentsize != sizeof(Elf64_Phdr) ||
        eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)st.st_size) {
        die("payload %s: not a 64-bit AArch64 ELF", path);
    }
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff) + i;
        uint8_t *dst;

        if (ph->p_type != PT_LOAD || !ph->p_memsz) {
            continue;
        }
        dst = ram_ptr(ph->p_paddr, ph->p_memsz);
        if (!dst || ph->p_filesz > ph->p_memsz ||
            ph->p_offset + ph->p_filesz > (uint64_t)st.st_size) {
            die("payload %s: segment %u (0x%llx bytes at 0x%llx) does not fit "
                "guest RAM [0x%llx, 0x%llx)", path, i,
                (unsigned long long)ph->p_memsz, (unsigned long long)ph->p_paddr,
                (unsigned long long)BARLAB_L2_RAM,
                (unsigned long long)(BARLAB_L2_RAM + vm.ram_size));
        }
        if (ph->p_paddr < BARLAB_L2_BOOT_INFO + sizeof(struct barlab_boot_info)) {
            die("payload %s: segment %u at 0x%llx overlaps the boot information "
                "at 0x%llx", path, i, (unsigned long long)ph->p_paddr,
                (unsigned long long)BARLAB_L2_BOOT_INFO);
        }
        memcpy(dst, img + ph->p_offset, ph->p_filesz);
        memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
    }
    entry = eh->e_entry;
    munmap((void *)img, st.st_size);
    if (!ram_ptr(entry, 4)) {
        die("payload %s: entry point 0x%llx is not in guest RAM", path,
            (unsigned long long)entry);
    }
    return entry;
}

/* ---- VFIO ---------------------------------------------------------------- */

static void vfio_open_container(void)
{
    vm.container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    if (vm.container_fd < 0) {
        die("/dev/vfio/vfio: %s (is vfio-pci loaded?)", strerror(errno));
    }
    if (ioctl(vm.container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
        die("VFIO API version is not %d", VFIO_API_VERSION);
    }
    if (ioctl(vm.container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
        die("the VFIO container has no type1v2 IOMMU backend");
    }
}

/* Open the IOMMU group of @bdf and put it in the container (once per group). */
static int vfio_group(const char *bdf)
{
    static struct { int nr, fd; } groups[MAX_DEVICES];
    static unsigned nr_groups;
    struct vfio_group_status status = { .argsz = sizeof(status) };
    char link[PATH_MAX], target[PATH_MAX], path[64];
    ssize_t n;
    int nr, fd;

    snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
    n = readlink(link, target, sizeof(target) - 1);
    if (n < 0) {
        die("%s: %s (no such device, or it has no IOMMU group)", link, strerror(errno));
    }
    target[n] = '\0';
    nr = atoi(basename(target));
    for (unsigned i = 0; i < nr_groups; i++) {
        if (groups[i].nr == nr) {
            return groups[i].fd;
        }
    }
    snprintf(path, sizeof(path), "/dev/vfio/%d", nr);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        die("%s (IOMMU group of %s): %s (is the device bound to vfio-pci?)",
            path, bdf, strerror(errno));
    }
    if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status) < 0 ||
        !(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        die("IOMMU group %d of %s is not viable: bind every device in it to "
            "vfio-pci", nr, bdf);
    }
    if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &vm.container_fd) < 0) {
        die("VFIO_GROUP_SET_CONTAINER (group %d): %s", nr, strerror(errno));
    }
    /* The IOMMU model is set once, after the first group joined. */
    if (!nr_groups && ioctl(vm.container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
        die("VFIO_SET_IOMMU type1v2: %s", strerror(errno));
    }
    groups[nr_groups].nr = nr;
    groups[nr_groups++].fd = fd;
    return fd;
}

static void cfg_rw(struct device *d, bool write, void *buf, size_t len, uint64_t off)
{
    ssize_t n = write ? pwrite(d->fd, buf, len, d->cfg_offset + off)
                      : pread(d->fd, buf, len, d->cfg_offset + off);

    if (n != (ssize_t)len) {
        die("%s: config space %s at 0x%llx: %s", d->bdf, write ? "write" : "read",
            (unsigned long long)off, n < 0 ? strerror(errno) : "short");
    }
}

/* Decode the BARs and master DMA; vfio-pci passes these bits through. */
static void enable_device(struct device *d)
{
    uint16_t cmd;

    cfg_rw(d, false, &cmd, sizeof(cmd), PCI_COMMAND);
    cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    cfg_rw(d, true, &cmd, sizeof(cmd), PCI_COMMAND);
}

/* Place BAR @b in the guest's PCI window and map it, to be a memory slot if we can. */
static void map_bar(struct device *d, struct bar *b, uint64_t *next_ipa)
{
    uint64_t align = b->boot.size > SZ_2M ? b->boot.size : SZ_2M;
    uint64_t ipa = (*next_ipa + align - 1) & ~(align - 1);
    struct vfio_region_info ri = { .argsz = sizeof(ri), .index = b->boot.index };

    if (ipa + b->boot.size > BARLAB_L2_BAR_WINDOW_END) {
        die("%s BAR%u (0x%llx bytes) does not fit the guest's PCI window "
            "[0x%llx, 0x%llx)", d->bdf, b->boot.index,
            (unsigned long long)b->boot.size,
            (unsigned long long)BARLAB_L2_BAR_WINDOW,
            (unsigned long long)BARLAB_L2_BAR_WINDOW_END);
    }
    if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0) {
        die("%s: VFIO_DEVICE_GET_REGION_INFO %u: %s", d->bdf, ri.index, strerror(errno));
    }
    b->boot.ipa = ipa;
    b->region_offset = ri.offset;
    *next_ipa = ipa + b->boot.size;
    if ((ri.flags & VFIO_REGION_INFO_FLAG_MMAP) && !(b->boot.size & 0xfff)) {
        /* vfio_pci_core_mmap: this is the VMA whose flags set stage 2. */
        b->map = mmap(NULL, b->boot.size, PROT_READ | PROT_WRITE, MAP_SHARED,
                      d->fd, ri.offset);
        if (b->map == MAP_FAILED) {
            fprintf(stderr, "barlab-vmm: warning: %s BAR%u: mmap: %s; accesses "
                    "will be forwarded\n", d->bdf, b->boot.index, strerror(errno));
            b->map = NULL;
        }
    }
    if (b->map) {
        b->boot.flags |= BARLAB_BAR_MEMSLOT;
    }
    vmsg("bar %s BAR%u %04x:%04x 0x%llx bytes%s%s at ipa 0x%llx (%s)", d->bdf,
         b->boot.index, b->boot.vendor, b->boot.device,
         (unsigned long long)b->boot.size,
         b->boot.flags & BARLAB_BAR_64 ? " 64-bit" : "",
         b->boot.flags & BARLAB_BAR_PREFETCH ? " prefetchable" : "",
         (unsigned long long)ipa, b->map ? "memory slot" : "forwarded");
}

static void setup_device(const char *name, uint64_t *next_ipa)
{
    struct device *d = &vm.devices[vm.nr_devices];
    struct vfio_device_info info = { .argsz = sizeof(info) };
    struct vfio_region_info cfg = {
        .argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX,
    };
    unsigned dom, bus, dev, fn;
    uint16_t ids[2];
    int group;

    if (vm.nr_devices == MAX_DEVICES) {
        die("more than %d devices", MAX_DEVICES);
    }
    if (sscanf(name, "%x:%x:%x.%u", &dom, &bus, &dev, &fn) != 4) {
        dom = 0;
        if (sscanf(name, "%x:%x.%u", &bus, &dev, &fn) != 3) {
            die("'%s' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)", name);
        }
    }
    snprintf(d->bdf, sizeof(d->bdf), "%04x:%02x:%02x.%u", dom, bus, dev, fn);
    group = vfio_group(d->bdf);
    d->fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
    if (d->fd < 0) {
        die("VFIO_GROUP_GET_DEVICE_FD %s: %s", d->bdf, strerror(errno));
    }
    if (ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info) < 0 ||
        !(info.flags & VFIO_DEVICE_FLAGS_PCI)) {
        die("%s is not a VFIO PCI device", d->bdf);
    }
    if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0) {
        die("%s: config region info: %s", d->bdf, strerror(errno));
    }
    d->cfg_offset = cfg.offset;
    d->can_reset = info.flags & VFIO_DEVICE_FLAGS_RESET;
    vm.nr_devices++;
    cfg_rw(d, false, ids, sizeof(ids), PCI_VENDOR_ID);
    /*
     * Whether vfio-pci can reset the device (FLR here): it then resets it
     * on open and on release, so no guest sees what the last one left.
     * QEMU's vfio-pci decides from the same flag.
     */
    vmsg("record {\"record\":\"device\",\"bdf\":\"%s\",\"vendor\":%u,\"device\":%u,"
         "\"reset\":%u}", d->bdf, ids[0], ids[1], !!(info.flags & VFIO_DEVICE_FLAGS_RESET));

    for (unsigned i = 0; i < PCI_STD_NUM_BARS && i < info.num_regions; i++) {
        struct vfio_region_info ri = { .argsz = sizeof(ri), .index = i };
        struct bar *b = &d->bars[d->nr_bars];
        uint32_t reg;

        if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0 || !ri.size) {
            continue;   /* not implemented, or the upper half of a 64-bit BAR */
        }
        cfg_rw(d, false, &reg, sizeof(reg), PCI_BASE_ADDRESS_0 + 4 * i);
        if (reg & PCI_BASE_ADDRESS_SPACE_IO) {
            continue;
        }
        *b = (struct bar){ .boot = {
            .size = ri.size, .vendor = ids[0], .device = ids[1],
            .bdf = dom << 16 | bus << 8 | dev << 3 | fn, .index = i,
            .flags = ((reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64 ?
                      BARLAB_BAR_64 : 0) |
                     (reg & PCI_BASE_ADDRESS_MEM_PREFETCH ? BARLAB_BAR_PREFETCH : 0),
        } };
        map_bar(d, b, next_ipa);
        d->nr_bars++;
    }
    enable_device(d);
}

/*
 * The BARs mmapped from vfio-pci as memory slots of the VM; false if KVM
 * refused one (said in the outcome line), e.g. a cacheable BAR on a CPU
 * without FEAT_S2FWB and CTR_EL0.DIC: a VMM cannot start this VM, and
 * that is the run's outcome.
 */
static bool add_bar_slots(void)
{
    for (unsigned i = 0; i < vm.nr_devices; i++) {
        struct device *d = &vm.devices[i];

        for (unsigned j = 0; j < d->nr_bars; j++) {
            struct bar *b = &d->bars[j];
            int err;

            if (!b->map) {
                continue;
            }
            err = try_add_memslot(b->boot.ipa, b->boot.size, b->map);
            if (err == EINVAL) {
                printf("vmm: bar %s BAR%u: KVM refused the memory slot: %s\n"
                       "vmm: outcome=%s bar=%s/BAR%u errno=%d (%s) cacheable-pfnmap=%d\n",
                       d->bdf, b->boot.index, strerror(err),
                       outcome_names[OUTCOME_MEMSLOT_REFUSED], d->bdf, b->boot.index, err,
                       strerror(err), ioctl(vm.vm_fd, KVM_CHECK_EXTENSION,
                                            KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED));
                fflush(stdout);
                return false;
            }
            if (err) {
                die("KVM_SET_USER_MEMORY_REGION for %s BAR%u: %s", d->bdf, b->boot.index,
                    strerror(err));
            }
        }
    }
    return true;
}

/*
 * A guest after another: reset every device (vfio-pci did when it opened
 * them for the first), so that no guest sees what the last one left.
 */
static void reset_devices(void)
{
    for (unsigned i = 0; i < vm.nr_devices; i++) {
        struct device *d = &vm.devices[i];

        if (ioctl(d->fd, VFIO_DEVICE_RESET) < 0) {
            die("%s: VFIO_DEVICE_RESET: %s", d->bdf, strerror(errno));
        }
        vmsg("record {\"record\":\"device-reset\",\"bdf\":\"%s\"}", d->bdf);
        enable_device(d);
    }
}

/*
 * Let the devices DMA to guest RAM at IOVA = IPA, as through an SMMU stage
 * 2 (@map), or no longer (!@map).
 */
static void vfio_map_ram(bool map_it)
{
    struct vfio_iommu_type1_dma_unmap unmap = {
        .argsz = sizeof(unmap), .iova = BARLAB_L2_RAM, .size = vm.ram_size,
    };
    struct vfio_iommu_type1_dma_map map = {
        .argsz = sizeof(map),
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = (uint64_t)(uintptr_t)vm.ram,
        .iova = BARLAB_L2_RAM,
        .size = vm.ram_size,
    };

    if (!vm.nr_devices) {
        return;
    }
    if (!map_it) {
        if (ioctl(vm.container_fd, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0) {
            die("VFIO_IOMMU_UNMAP_DMA of guest RAM: %s", strerror(errno));
        }
        return;
    }
    if (ioctl(vm.container_fd, VFIO_IOMMU_MAP_DMA, &map) < 0) {
        die("VFIO_IOMMU_MAP_DMA of guest RAM: %s", strerror(errno));
    }
}

static void setup_devices(char **names, unsigned n)
{
    uint64_t next_ipa = BARLAB_L2_BAR_WINDOW;

    if (!n) {
        return;
    }
    vfio_open_container();
    for (unsigned i = 0; i < n; i++) {
        setup_device(names[i], &next_ipa);
    }
}

/* ---- boot information ---------------------------------------------------- */

static void write_boot_info(int argc, char **argv)
{
    struct barlab_boot_info *bi = ram_ptr(BARLAB_L2_BOOT_INFO, sizeof(*bi));
    size_t len = 0;

    memset(bi, 0, sizeof(*bi));
    bi->magic = BARLAB_BOOT_MAGIC;
    bi->version = BARLAB_BOOT_VERSION;
    bi->size = sizeof(*bi);
    bi->ram_base = BARLAB_L2_RAM;
    bi->ram_size = vm.ram_size;
    bi->uart = BARLAB_L2_UART;
    bi->ucall = BARLAB_L2_UCALL;
    bi->nr_cpus = vm.nr_vcpus;
    bi->l1_canary = vm.canary_pa;
    bi->l1_canary_size = vm.canary ? CANARY_SIZE : 0;
    for (unsigned i = 0; i < vm.nr_devices; i++) {
        for (unsigned j = 0; j < vm.devices[i].nr_bars; j++) {
            if (bi->nr_bars == BARLAB_BOOT_MAX_BARS) {
                die("more than %d BARs to pass", BARLAB_BOOT_MAX_BARS);
            }
            bi->bars[bi->nr_bars++] = vm.devices[i].bars[j].boot;
        }
    }
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);

        if (len + n + 2 > sizeof(bi->args)) {
            die("payload arguments longer than %d bytes", BARLAB_BOOT_ARGS_LEN - 1);
        }
        if (len) {
            bi->args[len++] = ' ';
        }
        memcpy(bi->args + len, argv[i], n);
        len += n;
    }
}

/* ---- MMIO exits ---------------------------------------------------------- */

/*
 * A data abort's syndrome as JSON members: the exception class and the ISS
 * fields a VMM decides on (ESR_ELx, ISS encoding for a Data Abort).  One
 * decoder for the guest's ESR_EL1 (a cell record) and KVM's ESR_EL2.
 */
static void esr_json(uint64_t esr, char *out, size_t len)
{
    unsigned isv = esr >> 24 & 1;

    snprintf(out, len, "\"esr\":\"0x%llx\",\"ec\":%u,\"il\":%u,\"isv\":%u,"
             "\"sas\":%u,\"sse\":%u,\"srt\":%u,\"sf\":%u,\"ar\":%u,\"fnv\":%u,"
             "\"cm\":%u,\"s1ptw\":%u,\"wnr\":%u,\"dfsc\":%u",
             (unsigned long long)esr, (unsigned)(esr >> 26 & 0x3f), (unsigned)(esr >> 25 & 1),
             isv, isv ? (unsigned)(esr >> 22 & 3) : 0, isv ? (unsigned)(esr >> 21 & 1) : 0,
             isv ? (unsigned)(esr >> 16 & 0x1f) : 0, isv ? (unsigned)(esr >> 15 & 1) : 0,
             isv ? (unsigned)(esr >> 14 & 1) : 0, (unsigned)(esr >> 10 & 1),
             (unsigned)(esr >> 8 & 1), (unsigned)(esr >> 7 & 1), (unsigned)(esr >> 6 & 1),
             (unsigned)(esr & 0x3f));
}

/* A name from the guest as a JSON string: anything but [A-Za-z0-9_-] is dropped. */
static void json_name(const char *in, char *out, size_t len)
{
    size_t n = 0;

    for (; *in && n + 1 < len; in++) {
        if ((*in >= 'a' && *in <= 'z') || (*in >= 'A' && *in <= 'Z') ||
            (*in >= '0' && *in <= '9') || *in == '_' || *in == '-') {
            out[n++] = *in;
        }
    }
    out[n] = '\0';
}

/*
 * A cell record: one line "vmm: record {JSON}" for barlab.matrix, as
 * the guest sent it (README.md, "Records").
 */
static void print_cell_record(struct vcpu *v, const struct barlab_ucall *uc)
{
    char name[64], syn[320] = "";

    json_name(uc->msg, name, sizeof(name));
    if (uc->cmd == BARLAB_UCALL_CELL_BEGIN) {
        vmsg("record {\"record\":\"cell-begin\",\"vcpu\":%u,\"cell\":\"%s\",\"bar\":%llu,"
             "\"lo\":%llu,\"hi\":%llu,\"origin\":%llu}", v->id, name,
             (unsigned long long)uc->args[2], (unsigned long long)uc->args[0],
             (unsigned long long)uc->args[1], (unsigned long long)uc->args[3]);
        return;
    }
    if (uc->args[0]) {
        esr_json(uc->args[2], syn, sizeof(syn));
        vmsg("record {\"record\":\"cell-end\",\"vcpu\":%u,\"cell\":\"%s\","
             "\"result\":\"exception\",\"el\":%llu,%s,\"far\":\"0x%llx\"}", v->id, name,
             (unsigned long long)uc->args[1], syn, (unsigned long long)uc->args[3]);
    } else {
        vmsg("record {\"record\":\"cell-end\",\"vcpu\":%u,\"cell\":\"%s\","
             "\"result\":\"completed\",\"status\":%llu}", v->id, name,
             (unsigned long long)uc->args[4]);
    }
}

/*
 * Named results: "vmm: record {"record":"values","name":NAME,KEY:VALUE...}",
 * the keys from the words of the message after the name.
 */
static void print_values_record(struct vcpu *v, const struct barlab_ucall *uc)
{
    char msg[BARLAB_UCALL_MSG_LEN], name[64], key[64], out[1024];
    char *save = NULL, *word;
    size_t n;

    memcpy(msg, uc->msg, sizeof(msg));
    word = strtok_r(msg, " ", &save);
    json_name(word ? word : "", name, sizeof(name));
    n = snprintf(out, sizeof(out), "{\"record\":\"values\",\"vcpu\":%u,\"name\":\"%s\"",
                 v->id, name);
    for (unsigned i = 0; i < sizeof(uc->args) / sizeof(uc->args[0]) &&
         (word = strtok_r(NULL, " ", &save)); i++) {
        json_name(word, key, sizeof(key));
        n += snprintf(out + n, sizeof(out) - n, ",\"%s\":%llu", key,
                      (unsigned long long)uc->args[i]);
    }
    vmsg("record %s}", out);
}

static void handle_ucall(struct vcpu *v, uint64_t ipa)
{
    const struct barlab_ucall *p = ram_ptr(ipa, sizeof(*p));
    struct barlab_ucall uc;

    if (!p) {
        vm_end(OUTCOME_GUEST_FAIL, "ucall from vcpu %u with address 0x%llx outside RAM",
               v->id, (unsigned long long)ipa);
        return;
    }
    memcpy(&uc, p, sizeof(uc));
    uc.msg[sizeof(uc.msg) - 1] = '\0';
    if (uc.cmd == BARLAB_UCALL_CELL_BEGIN || uc.cmd == BARLAB_UCALL_CELL_END) {
        print_cell_record(v, &uc);
        return;
    }
    if (uc.cmd == BARLAB_UCALL_VALUES) {
        print_values_record(v, &uc);
        return;
    }
    pthread_mutex_lock(&vm.lock);
    switch (uc.cmd) {
    case BARLAB_UCALL_REPORT:
        vm.reports++;
        vm.failed += !uc.args[0];
        break;
    case BARLAB_UCALL_SUMMARY:
        vm.summary_seen = true;
        vm.summary_tests = uc.args[0];
        vm.summary_failures = uc.args[1];
        break;
    case BARLAB_UCALL_ABORT:
        if (!vm.fatal[0]) {
            snprintf(vm.fatal, sizeof(vm.fatal), "abort=\"%s\"", uc.msg);
        }
        break;
    case BARLAB_UCALL_EXCEPTION:
        if (!vm.fatal[0]) {
            snprintf(vm.fatal, sizeof(vm.fatal),
                     "exception=EL%llu/%llu esr=0x%llx far=0x%llx elr=0x%llx",
                     (unsigned long long)uc.args[0], (unsigned long long)uc.args[1],
                     (unsigned long long)uc.args[2], (unsigned long long)uc.args[3],
                     (unsigned long long)uc.args[4]);
        }
        break;
    default:
        if (!vm.fatal[0]) {
            snprintf(vm.fatal, sizeof(vm.fatal), "ucall=%llu (unknown)",
                     (unsigned long long)uc.cmd);
        }
        break;
    }
    pthread_mutex_unlock(&vm.lock);
}

/* An access to a BAR without a memory slot: forward it to the device. */
static bool forward_bar(uint64_t ipa, uint8_t *data, unsigned len, bool write)
{
    for (unsigned i = 0; i < vm.nr_devices; i++) {
        struct device *d = &vm.devices[i];

        for (unsigned j = 0; j < d->nr_bars; j++) {
            const struct bar *b = &d->bars[j];
            uint64_t off = ipa - b->boot.ipa;
            ssize_t n;

            if (b->map || ipa < b->boot.ipa || off + len > b->boot.size) {
                continue;
            }
            n = write ? pwrite(d->fd, data, len, b->region_offset + off)
                      : pread(d->fd, data, len, b->region_offset + off);
            if (n != (ssize_t)len) {
                fprintf(stderr, "barlab-vmm: warning: %s BAR%u +0x%llx: %s\n",
                        d->bdf, b->boot.index, (unsigned long long)off,
                        n < 0 ? strerror(errno) : "short access");
            }
            return true;
        }
    }
    return false;
}

static void handle_mmio(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    uint64_t ipa = run->mmio.phys_addr;
    unsigned len = run->mmio.len;
    bool write = run->mmio.is_write;

    if (ipa >= BARLAB_L2_UART && ipa < BARLAB_L2_UART + PL011_SPAN) {
        /* PL011: DR sends, everything else reads 0 (TXFF clear), writes ignored. */
        if (write && ipa == BARLAB_L2_UART + PL011_DR) {
            putchar(run->mmio.data[0]);
            if (run->mmio.data[0] == '\n') {
                fflush(stdout);
            }
        } else if (!write) {
            memset(run->mmio.data, 0, len);
        }
        return;
    }
    if (ipa == BARLAB_L2_UCALL && write && len == 8) {
        uint64_t addr;

        memcpy(&addr, run->mmio.data, sizeof(addr));
        handle_ucall(v, addr);
        return;
    }
    if (forward_bar(ipa, run->mmio.data, len, write)) {
        return;
    }
    fprintf(stderr, "barlab-vmm: warning: vcpu %u: unhandled MMIO %s of %u bytes "
            "at 0x%llx\n", v->id, write ? "write" : "read", len,
            (unsigned long long)ipa);
    if (!write) {
        memset(run->mmio.data, 0, len);
    }
}

/* ---- vCPUs --------------------------------------------------------------- */

#define CORE_REG(name) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
                        KVM_REG_ARM_CORE_REG(name))

static void set_reg(struct vcpu *v, uint64_t id, uint64_t val)
{
    struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)&val };

    if (ioctl(v->fd, KVM_SET_ONE_REG, &reg) < 0) {
        die("vcpu %u: KVM_SET_ONE_REG 0x%llx: %s", v->id, (unsigned long long)id,
            strerror(errno));
    }
}

static bool get_reg(struct vcpu *v, uint64_t id, uint64_t *val)
{
    struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)val };

    return ioctl(v->fd, KVM_GET_ONE_REG, &reg) == 0;
}

static void setup_vcpus(uint64_t entry)
{
    struct kvm_vcpu_init init;
    int mmap_size = ioctl(vm.kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);

    if (mmap_size < (int)sizeof(struct kvm_run)) {
        die("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
    }
    if (ioctl(vm.vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
        die("KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
    }
    for (unsigned i = 0; i < vm.nr_vcpus; i++) {
        struct vcpu *v = &vm.vcpus[i];

        v->id = i;
        v->fd = ioctl(vm.vm_fd, KVM_CREATE_VCPU, i);
        if (v->fd < 0) {
            die("KVM_CREATE_VCPU %u: %s", i, strerror(errno));
        }
        v->run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
        if (v->run == MAP_FAILED) {
            die("vcpu %u: mmap of kvm_run: %s", i, strerror(errno));
        }
        init.features[0] = 1u << KVM_ARM_VCPU_PSCI_0_2 |
                           (i ? 1u << KVM_ARM_VCPU_POWER_OFF : 0);
        if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
            die("vcpu %u: KVM_ARM_VCPU_INIT: %s", i, strerror(errno));
        }
    }
    /* KVM_ARM_VCPU_INIT left vCPU 0 at EL1h, DAIF masked, MMU off. */
    set_reg(&vm.vcpus[0], CORE_REG(regs.pc), entry);
    set_reg(&vm.vcpus[0], CORE_REG(regs.regs[0]), BARLAB_L2_BOOT_INFO);
}

/*
 * The last kernel message KVM logged for vCPU thread @tid ("kvm [TID]: ..."),
 * e.g. "Unsupported FSC: EC=0x24 xFSC=0x21 ESR_EL2=0x93c18061": KVM tells
 * userspace no more than errno, but its log has the syndrome.
 */
static void kvm_message(pid_t tid, char *out, size_t len)
{
    char rec[1024], tag[32];
    int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ssize_t n;

    out[0] = '\0';
    if (fd < 0) {
        return;
    }
    snprintf(tag, sizeof(tag), "kvm [%d]: ", (int)tid);
    /* One record per read, "prio,seq,time,flags;text\n", until EAGAIN. */
    while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
        char *text, *nl;

        if (n < 0) {
            continue;   /* the record was overwritten while we read */
        }
        rec[n] = '\0';
        text = strstr(rec, tag);
        if (!text) {
            continue;
        }
        text += strlen(tag);
        nl = strchr(text, '\n');
        if (nl) {
            *nl = '\0';
        }
        snprintf(out, len, " kvm=\"%s\"", text);
    }
    close(fd);
}

/* KVM_RUN failed: where the guest was, and what KVM logged about it. */
static void end_kvm_run_failure(struct vcpu *v, int err)
{
    char where[96] = "", said[160];
    uint64_t pc;

    if (get_reg(v, CORE_REG(regs.pc), &pc)) {
        const uint32_t *insn = ram_ptr(pc, 4);      /* payloads run identity-mapped */

        if (insn) {
            snprintf(where, sizeof(where), " pc=0x%llx insn=0x%08x",
                     (unsigned long long)pc, *insn);
        } else {
            snprintf(where, sizeof(where), " pc=0x%llx", (unsigned long long)pc);
        }
    }
    kvm_message(v->tid, said, sizeof(said));
    if (err == EFAULT) {
        const char *at = strstr(said, "ESR_EL2=");
        char syn[320];

        /*
         * The syndrome L1 KVM could not handle, taken to EL2: what a VMM
         * would have had to emulate.  Only KVM's log has it.
         */
        if (at) {
            esr_json(strtoull(at + strlen("ESR_EL2="), NULL, 16), syn, sizeof(syn));
            vmsg("record {\"record\":\"kvm-run-efault\",\"vcpu\":%u,\"el\":2,%s}",
                 v->id, syn);
        }
    }
    vm_end(err == EFAULT ? OUTCOME_KVM_RUN_EFAULT : OUTCOME_KVM_ERROR,
           "vcpu=%u errno=%d (%s)%s%s", v->id, err, strerror(err), where, said);
}

static void handle_system_event(struct vcpu *v)
{
    uint32_t type = v->run->system_event.type;

    switch (type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
        vm_end(OUTCOME_OK, "vcpu=%u psci=system-off", v->id);
        break;
    case KVM_SYSTEM_EVENT_RESET:
        vm_end(OUTCOME_OK, "vcpu=%u psci=system-reset", v->id);
        break;
    case KVM_SYSTEM_EVENT_CRASH:
        vm_end(OUTCOME_GUEST_FAIL, "vcpu=%u system-event=crash", v->id);
        break;
    default:
        vm_end(OUTCOME_KVM_ERROR, "vcpu=%u system-event=%u", v->id, type);
        break;
    }
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *v = arg;
    struct kvm_run *run = v->run;

    v->tid = gettid();
    pthread_barrier_wait(&vm.start);
    while (!atomic_load(&vm.stopping)) {
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            int err = errno;

            if (err == EINTR || err == EAGAIN) {
                continue;       /* a kick: the loop condition decides */
            }
            end_kvm_run_failure(v, err);
            break;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_MMIO:
            handle_mmio(v);
            break;
        case KVM_EXIT_SYSTEM_EVENT:
            handle_system_event(v);
            break;
        case KVM_EXIT_INTR:
            break;
        case KVM_EXIT_ARM_NISV:
            vm_end(OUTCOME_KVM_ERROR, "vcpu=%u exit=arm-nisv esr_iss=0x%llx "
                   "fault_ipa=0x%llx (an access KVM cannot decode, outside "
                   "memory slots)", v->id,
                   (unsigned long long)run->arm_nisv.esr_iss,
                   (unsigned long long)run->arm_nisv.fault_ipa);
            break;
        case KVM_EXIT_FAIL_ENTRY:
            vm_end(OUTCOME_KVM_ERROR, "vcpu=%u exit=fail-entry reason=0x%llx",
                   v->id, (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            break;
        default:
            vm_end(OUTCOME_KVM_ERROR, "vcpu=%u exit_reason=%u", v->id, run->exit_reason);
            break;
        }
    }
    return NULL;
}

static void setup_kvm(void)
{
    vm.kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm.kvm_fd < 0) {
        die("/dev/kvm: %s", strerror(errno));
    }
    if (ioctl(vm.kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        die("KVM API version is not %d", KVM_API_VERSION);
    }
    if (ioctl(vm.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PSCI_0_2) <= 0) {
        die("KVM has no PSCI 0.2 (KVM_CAP_ARM_PSCI_0_2)");
    }
}

static void create_vm(void)
{
    vm.vm_fd = ioctl(vm.kvm_fd, KVM_CREATE_VM, 0);
    if (vm.vm_fd < 0) {
        die("KVM_CREATE_VM: %s", strerror(errno));
    }
    /* Undecodable MMIO (e.g. an STP outside memory slots) exits to us. */
    if (ioctl(vm.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_NISV_TO_USER) > 0) {
        struct kvm_enable_cap cap = { .cap = KVM_CAP_ARM_NISV_TO_USER };

        if (ioctl(vm.vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
            die("KVM_ENABLE_CAP KVM_CAP_ARM_NISV_TO_USER: %s", strerror(errno));
        }
    }
}

static void setup_signals(void)
{
    struct sigaction sa = { .sa_handler = kick };

    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) < 0) {
        die("sigaction SIGUSR1: %s", strerror(errno));
    }
    sa.sa_handler = on_alarm;
    if (sigaction(SIGALRM, &sa, NULL) < 0) {
        die("sigaction SIGALRM: %s", strerror(errno));
    }
}

static void run_vcpus(void)
{
    pthread_barrier_init(&vm.start, NULL, vm.nr_vcpus + 1);
    for (unsigned i = 0; i < vm.nr_vcpus; i++) {
        int err = pthread_create(&vm.vcpus[i].thread, NULL, vcpu_thread, &vm.vcpus[i]);

        if (err) {
            die("pthread_create: %s", strerror(err));
        }
    }
    /* Every thread exists before anything may kick them. */
    pthread_barrier_wait(&vm.start);
    alarm(vm.timeout_s);
    for (unsigned i = 0; i < vm.nr_vcpus; i++) {
        pthread_join(vm.vcpus[i].thread, NULL);
    }
    alarm(0);
    pthread_barrier_destroy(&vm.start);
    if (atomic_load(&vm.timed_out)) {
        vm_record_end(OUTCOME_TIMEOUT, "after=%us", vm.timeout_s);
    }
}

static enum outcome report_outcome(void)
{
    enum outcome o = vm.end;
    char results[128];

    /* A guest that powered off passed if it said nothing went wrong. */
    if (o == OUTCOME_OK && (vm.failed || vm.fatal[0] ||
                            (vm.summary_seen && vm.summary_failures))) {
        o = OUTCOME_GUEST_FAIL;
    }
    snprintf(results, sizeof(results), "reports=%u failed=%u", vm.reports, vm.failed);
    if (vm.summary_seen) {
        snprintf(results + strlen(results), sizeof(results) - strlen(results),
                 " summary=%llu/%llu", (unsigned long long)vm.summary_failures,
                 (unsigned long long)vm.summary_tests);
    }
    if (o == OUTCOME_KVM_RUN_EFAULT) {
        vmsg("KVM_RUN failed with EFAULT: KVM could not resolve a stage-2 fault "
             "(for a stage-2 alignment fault it logs \"Unsupported FSC\" with "
             "xFSC=0x21)");
    }
    fflush(stdout);
    printf("vmm: outcome=%s %s %s%s%s\n", outcome_names[o], vm.end_detail, results,
           vm.fatal[0] ? " " : "", vm.fatal);
    fflush(stdout);
    return o;
}

/* After a guest: its vCPUs, VM and RAM go, and how it ended is forgotten. */
static void destroy_vm(void)
{
    for (unsigned i = 0; i < vm.nr_vcpus; i++) {
        struct vcpu *v = &vm.vcpus[i];

        if (v->run) {
            munmap(v->run, ioctl(vm.kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0));
            close(v->fd);
            v->run = NULL;
        }
    }
    close(vm.vm_fd);
    vm.vm_fd = -1;
    vfio_map_ram(false);
    munmap(vm.ram, vm.ram_size);
    vm.nr_slots = 0;
    atomic_store(&vm.stopping, false);
    atomic_store(&vm.timed_out, false);
    vm.ended = false;
    vm.end = OUTCOME_OK;
    vm.end_detail[0] = '\0';
    vm.reports = vm.failed = 0;
    vm.summary_seen = false;
    vm.summary_tests = vm.summary_failures = 0;
    vm.fatal[0] = '\0';
}

/*
 * One guest in a new VM: fresh RAM with the payload, the devices' BARs as
 * memory slots, @argc words of key=value arguments; its outcome.
 */
static enum outcome run_guest(const char *payload, unsigned mem_mb, bool l1_canary,
                              int argc, char **argv)
{
    enum outcome o = OUTCOME_MEMSLOT_REFUSED;
    uint64_t entry;

    create_vm();
    setup_ram(mem_mb);
    entry = load_elf(payload);
    if (add_bar_slots()) {
        vfio_map_ram(true);
        if (l1_canary) {
            setup_l1_canary();
        }
        write_boot_info(argc, argv);
        setup_vcpus(entry);
        vmsg("payload=%s entry=0x%llx cpus=%u mem=%uM devices=%u timeout=%us",
             payload, (unsigned long long)entry, vm.nr_vcpus, mem_mb, vm.nr_devices,
             vm.timeout_s);
        run_vcpus();
        check_l1_canary();
        o = report_outcome();
    }
    return o;
}

#define BATCH_LINE_MAX 4096
#define BATCH_WORDS_MAX 64

/*
 * The next guest of a --batch file: its key=value words in @words (cut
 * out of @line), their number; 0 at the end of the file.  Blank lines
 * are skipped; @lineno counts the file's lines.
 */
static int next_guest(FILE *f, const char *path, unsigned *lineno, char *line,
                      char **words)
{
    while (fgets(line, BATCH_LINE_MAX, f)) {
        char *save = NULL, *w;
        int argc = 0;

        ++*lineno;
        if (!strchr(line, '\n') && !feof(f)) {
            die("--batch %s: line %u is longer than %d bytes", path, *lineno,
                BATCH_LINE_MAX - 2);
        }
        line[strcspn(line, "\n")] = '\0';
        for (w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
            if (argc == BATCH_WORDS_MAX) {
                die("--batch %s: line %u has more than %d arguments", path, *lineno,
                    BATCH_WORDS_MAX);
            }
            words[argc++] = w;
        }
        if (argc) {
            return argc;
        }
    }
    return 0;
}

/* "vmm: guest N: ARGS" starts a guest's output. */
static void announce_guest(unsigned n, int argc, char **words)
{
    char text[BATCH_LINE_MAX];
    size_t len = 0;

    text[0] = '\0';
    for (int i = 0; i < argc; i++) {
        len += snprintf(text + len, sizeof(text) - len, "%s%s", i ? " " : "", words[i]);
    }
    if (argc) {
        vmsg("guest %u: %s", n, text);
    }
}

/*
 * --batch: the guests of FILE, one a line of key=value words, one after
 * another in new VMs.  After a guest that has a next one, the devices are
 * reset before its RAM leaves their IOVA space, so that they stop DMA to
 * it and the next guest finds them as vfio-pci's open left the first.
 * The outcome of the first guest that did not end ok, else ok.
 */
static enum outcome run_batch(const char *path, const char *payload, unsigned mem_mb)
{
    FILE *f = fopen(path, "r");
    char lines[2][BATCH_LINE_MAX], *words[2][BATCH_WORDS_MAX];
    enum outcome worst = OUTCOME_OK;
    unsigned lineno = 0, n = 0;
    int argc, next_argc;

    if (!f) {
        die("--batch %s: %s", path, strerror(errno));
    }
    for (unsigned i = 0; i < vm.nr_devices; i++) {
        if (!vm.devices[i].can_reset) {
            die("--batch: vfio-pci cannot reset %s, and every guest must start from a "
                "reset device", vm.devices[i].bdf);
        }
    }
    argc = next_guest(f, path, &lineno, lines[0], words[0]);
    announce_guest(0, argc, words[0]);
    for (; argc; argc = next_argc) {
        enum outcome o = run_guest(payload, mem_mb, false, argc, words[n % 2]);

        worst = worst == OUTCOME_OK ? o : worst;
        n++;
        next_argc = next_guest(f, path, &lineno, lines[n % 2], words[n % 2]);
        if (next_argc) {
            announce_guest(n, next_argc, words[n % 2]);
            reset_devices();
        }
        destroy_vm();
    }
    fclose(f);
    return worst;
}

static void add_device_names(char *list, char **names, unsigned *n)
{
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == MAX_DEVICES) {
            fprintf(stderr, "barlab-vmm: at most %d devices\n", MAX_DEVICES);
            exit(OUTCOME_USAGE);
        }
        names[(*n)++] = tok;
    }
}

static unsigned parse_uint(const char *opt, const char *s, unsigned min, unsigned max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "barlab-vmm: %s wants a number in %u..%u, not '%s'\n",
                opt, min, max, s);
        exit(OUTCOME_USAGE);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "timeout", required_argument, NULL, 't' },
        { "mem", required_argument, NULL, 'm' },
        { "cpus", required_argument, NULL, 'c' },
        { "device", required_argument, NULL, 'd' },
        { "l1-canary", no_argument, NULL, 'C' },
        { "batch", required_argument, NULL, 'b' },
        { "help", no_argument, NULL, 'h' },
        { 0 }
    };
    char *device_names[MAX_DEVICES];
    unsigned nr_device_names = 0, mem_mb = DEFAULT_MEM_MB;
    bool l1_canary = false;
    const char *payload, *batch = NULL;
    enum outcome o;
    int opt;

    vm.timeout_s = DEFAULT_TIMEOUT_S;
    vm.nr_vcpus = 1;
    /* '+': stop at the payload, so key=value arguments are left alone. */
    while ((opt = getopt_long(argc, argv, "+t:m:c:d:Cb:h", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            vm.timeout_s = parse_uint("--timeout", optarg, 1, 86400);
            break;
        case 'm':
            mem_mb = parse_uint("--mem", optarg, 4, 2048);
            break;
        case 'c':
            vm.nr_vcpus = parse_uint("--cpus", optarg, 1, MAX_VCPUS);
            break;
        case 'd':
            add_device_names(optarg, device_names, &nr_device_names);
            break;
        case 'C':
            l1_canary = true;
            break;
        case 'b':
            batch = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return OUTCOME_USAGE;
        }
    }
    if (optind >= argc || (batch && (optind + 1 < argc || l1_canary))) {
        usage(stderr);
        return OUTCOME_USAGE;
    }
    payload = argv[optind];

    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    setup_kvm();
    setup_devices(device_names, nr_device_names);
    setup_signals();
    if (batch) {
        o = run_batch(batch, payload, mem_mb);
    } else {
        o = run_guest(payload, mem_mb, l1_canary, argc - optind - 1, argv + optind + 1);
    }
    return o;
}
