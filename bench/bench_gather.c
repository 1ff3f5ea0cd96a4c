/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_gather: what the gather model and the checker cost per CPU access,
 * against the baseline every device model pays anyway (copying the bytes
 * into device memory), measured in the same run.  Prints ns per access and
 * the ratio to the baseline.
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

    memcpy(&d->memory[t->addr % REGION], data, t->size);
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

static double run_model(uint8_t attr, bool reorder)
{
    MtGather g;
    MtReorder r;
    uint64_t v = 0x0123456789abcdefULL;
    double t0;

    mt_check_init(&dev.checker, NULL, 0);
    mt_reorder_init(&r, 1, 8, to_device, &dev);
    mt_gather_init(&g, 4, 64, 0, reorder ? mt_reorder_push : to_device,
                   reorder ? (void *)&r : (void *)&dev);
    t0 = now_ns();
    for (uint32_t i = 0; i < ACCESSES; i++) {
        MtAccess a = {
            .addr = (i * 8) % REGION, .size = 8, .flags = MT_TXN_WRITE,
            .attr = attr, .seq = i,
        };
        v += i;
        mt_gather_access(&g, &a, (uint8_t *)&v);
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
        bool reorder;
    } cases[] = {
        { "gather+check, Normal-NC (8 stores -> 1 line)", 0x44, false },
        { "gather+check, Device-nGnRE (pass-through)", 0x04, false },
        { "gather+reorder+check, Normal-NC", 0x44, true },
    };
    double base;

    run_memcpy();   /* warm up */
    base = run_memcpy();
    printf("bench_gather: %u 8-byte stores per case\n", ACCESSES);
    printf("  %-48s %7.2f ns/access  (baseline)\n", "memcpy into device memory", base);
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double ns = run_model(cases[i].attr, cases[i].reorder);

        printf("  %-48s %7.2f ns/access  %6.1fx baseline\n", cases[i].name, ns,
               ns / base);
    }
    if (dev.violations) {
        fprintf(stderr, "bench_gather: the checker flagged %llu transactions\n",
                (unsigned long long)dev.violations);
        return 1;
    }
    return 0;
}
