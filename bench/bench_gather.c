/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_gather: what the port's models and the checker cost per CPU access,
 * against the baseline every device model pays anyway (copying the bytes
 * into device memory), measured in the same run.  Prints ns per access,
 * the ratio to the baseline, and for reorder and speculate mode the ratio
 * to gather mode.
 */
#define _POSIX_C_SOURCE 200809L     /* clock_gettime */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "gather.h"
#include "reorder.h"
#include "speculate.h"

#define ACCESSES (4u << 20)
#define REGION 4096

typedef struct {
    uint8_t memory[REGION];
    MtChecker checker;
    uint64_t violations;
} Device;

static void to_device(void *opaque, const MtTxn *t, uint8_t *data)
{
    Device *d = opaque;

    if (t->flags & MT_TXN_WRITE) {
        memcpy(&d->memory[t->addr % REGION], data, t->size);
    } else {
        memcpy(data, &d->memory[t->addr % REGION], t->size);
    }
    d->violations += mt_check_txn(&d->checker, t) != 0;
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static Device dev;

/* Baseline: each 8-byte store copied straight into device memory. */
static double run_memcpy(void)
{
    uint64_t v = 0x0123456789abcdefULL;
    double t0 = now_ns();

    for (uint32_t i = 0; i < ACCESSES; i++) {
        v += i;
        memcpy(&dev.memory[(i * 8) % REGION], &v, 8);
        __asm__ volatile("" ::: "memory");   /* keep every copy */
    }
    return (now_ns() - t0) / ACCESSES;
}

typedef enum { MODE_GATHER, MODE_REORDER, MODE_SPECULATE } Mode;

/*
 * The port's models as a guest drives them: per 64-byte line, eight
 * 8-byte stores, then an 8-byte read of the line (which flushes, and in
 * speculate mode may fetch the rest of the line and the next one).
 */
static double run_model(uint8_t attr, Mode mode)
{
    MtGather g;
    MtReorder r;
    MtSpeculate spec;
    MtSpecRead sr[MT_SPEC_MAX_READS];
    uint8_t scratch[64];
    uint64_t v = 0x0123456789abcdefULL, seq = 0;
    bool reorder = mode == MODE_REORDER;
    double t0;

    mt_check_init(&dev.checker, NULL, 0);
    mt_reorder_init(&r, 1, 8, to_device, &dev);
    mt_spec_init(&spec, 1, 64, REGION);
    mt_gather_init(&g, 4, 64, 0, reorder ? mt_reorder_push : to_device,
                   reorder ? (void *)&r : (void *)&dev);
    t0 = now_ns();
    for (uint32_t i = 0; i < ACCESSES; i++) {
        bool read = i % 9 == 8;
        MtAccess a = {
            .addr = (i / 9 * 64 + (read ? 0 : i % 9 * 8)) % REGION,
            .size = 8, .flags = read ? 0 : MT_TXN_WRITE, .attr = attr,
            .seq = ++seq,
        };

        v += i;
        mt_gather_access(&g, &a, (uint8_t *)&v);
        if (read && mode == MODE_SPECULATE) {
            unsigned n = mt_spec_reads(&spec, &a, sr);

            for (unsigned k = 0; k < n; k++) {
                MtTxn t;

                mt_spec_txn(&a, &sr[k], &t);
                to_device(&dev, &t, scratch);
            }
        }
    }
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
    mt_reorder_drain(&r);
    return (now_ns() - t0) / ACCESSES;
}

int main(void)
{
    static const struct {
        const char *name;
        uint8_t attr;
        Mode mode;
    } cases[] = {
        { "gather mode, Normal-NC (8 stores -> 1 line)", 0x44, MODE_GATHER },
        { "gather mode, Device-nGnRE (pass-through)", 0x04, MODE_GATHER },
        { "reorder mode, Normal-NC", 0x44, MODE_REORDER },
        { "speculate mode, Normal-NC", 0x44, MODE_SPECULATE },
    };
    double base, gather = 0;

    run_memcpy();   /* warm up */
    base = run_memcpy();
    printf("bench_gather: %u accesses per case (8 stores, 1 load per line), "
           "each judged by the checker\n", ACCESSES);
    printf("  %-46s %7.2f ns/access  (baseline)\n", "memcpy into device memory",
           base);
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double ns = run_model(cases[i].attr, cases[i].mode);

        if (i == 0) {
            gather = ns;
        }
        printf("  %-46s %7.2f ns/access  %6.1fx baseline", cases[i].name, ns,
               ns / base);
        if (cases[i].mode != MODE_GATHER) {
            printf("  %5.2fx gather mode", ns / gather);
        }
        putchar('\n');
    }
    if (dev.violations) {
        fprintf(stderr, "bench_gather: the checker flagged %llu transactions\n",
                (unsigned long long)dev.violations);
        return 1;
    }
    return 0;
}
