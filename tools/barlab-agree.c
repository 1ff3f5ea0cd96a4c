/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-agree: the end-to-end agreement check.  It reads the
 * UART log of target-tests/payloads/agree.c (one "agree:" line per access
 * under test) and, unless --no-trace, the device trace of the same run,
 * and compares every cell (S1 attribute x S2 MemAttr x FWB x first
 * touch/TLB hit) with what hw/memtype predicts:
 *
 *   (a) every transaction the device saw from the cell carries the stage-1
 *       attribute the payload programmed, its stage-2 MemAttr and FWB
 *       state, and the combined attribute mt_combine() predicts; the
 *       accesses that completed reached the device;
 *   (b) the aligned store completes, and the unaligned store and DC ZVA
 *       fault (or not) at the stage mt_alignment_fault() predicts, with
 *       an alignment syndrome and the right fault address.
 *
 * Cells with a reserved encoding on either side are counted apart and
 * reported with what QEMU chose.  docs/agreement.md describes the log
 * format.  Exit status: 0 all cells agree, 1 a disagreement, 2 bad usage
 * or malformed input (one error line).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memtype.h"
#include "oracle.h"
#include "rules.h"
#include "trace.h"
#include "txn.h"

static const char usage[] =
    "usage: barlab-agree [--no-trace] [--reserved-cells] UART-LOG [TRACE]\n"
    "  --no-trace        check faults only (no device trace: stock QEMU)\n"
    "  --reserved-cells  one line per reserved cell instead of a summary\n";

#define LOG_VERSION 1
#define NACC 3
enum { ACC_STR, ACC_UNAL, ACC_ZVA };
static const char *const acc_names[NACC] = { "str", "unal", "zva" };
/* The TLB-hit priming stores: 8 bytes at +0x20 + 8 * access. */
#define PRIME_OFF 0x20
enum { TOUCH_FIRST, TOUCH_HIT };
static const char *const touch_names[] = { "first", "hit" };
/* Store data the payload writes: 0xba0A0000_00CCCCCC, A = access + 1. */
#define TAG(acc, cell) (0xba00000000000000ull | (uint64_t)((acc) + 1) << 48 | (cell))

/* observed() beyond the MtFault values: an abort that is not an alignment fault */
#define OBS_ABORT 4

typedef struct {
    bool seen;
    uint64_t off;               /* offset in the BAR */
    uint8_t el;                 /* 0: no fault */
    uint64_t esr, far, hpfar;
    uint8_t prime_el;           /* the TLB-hit priming store faulted */
    uint64_t prime_esr;
} Access;

typedef struct {
    uint8_t fwb, s2, s1, touch;
    Access acc[NACC];
    /* device side */
    bool bad_txn;               /* first mismatching transaction below */
    MtTxn bad;
    bool seen_attr;             /* attributes of the first transaction */
    uint8_t attr, s1_attr, s2_attr;
} Cell;

typedef struct {
    const char *log_path, *trace_path;
    bool no_trace, reserved_cells;
    /* agree-begin */
    bool begun, ended;
    unsigned cpu_fwb, xs, mte2, dczva, s2_sh, ncells;
    uint64_t stride, bar_addr, bar_size;
    char fatal[256];
    Cell *cells;
    /*
     * The device's copy of each cell, written in trace order (last writer
     * wins, as in the device), and which of its bytes were written.
     */
    uint8_t *image;
    uint8_t *covered;           /* one bit per byte of the image */
    uint64_t stray;             /* transactions outside every cell */
    MtTxn first_stray;
} Run;

static int fail_input(const char *fmt, ...)
{
    va_list ap;

    fputs("barlab-agree: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* ---- the UART log -------------------------------------------------------- */

/* Find "key=" in a line of space-separated key=value words. */
static const char *field(const char *line, const char *key)
{
    size_t n = strlen(key);

    for (const char *p = line; (p = strstr(p, key)); p += n) {
        if ((p == line || p[-1] == ' ') && p[n] == '=') {
            return p + n + 1;
        }
    }
    return NULL;
}

static bool field_u64(const char *line, const char *key, uint64_t *out)
{
    const char *v = field(line, key);
    char *end;

    if (!v || !*v || *v == ' ') {
        return false;
    }
    errno = 0;
    *out = strtoull(v, &end, 0);
    return !errno && (*end == ' ' || *end == '\0' || *end == '\n');
}

static bool field_is(const char *line, const char *key, const char *word)
{
    const char *v = field(line, key);
    size_t n = strlen(word);

    return v && !strncmp(v, word, n) && (v[n] == ' ' || v[n] == '\0' || v[n] == '\n');
}

static int field_word(const char *line, const char *key,
                      const char *const *words, unsigned nwords)
{
    for (unsigned i = 0; i < nwords; i++) {
        if (field_is(line, key, words[i])) {
            return (int)i;
        }
    }
    return -1;
}

static int parse_begin(Run *r, const char *line, unsigned lineno)
{
    static const char *const keys[] = {
        "version", "fwb", "xs", "mte2", "dczva", "stride", "s2_sh",
        "bar_addr", "bar_size", "cells",
    };
    uint64_t v[10];

    for (unsigned i = 0; i < 10; i++) {
        if (!field_u64(line, keys[i], &v[i])) {
            return fail_input("%s:%u: agree-begin has no valid %s=", r->log_path,
                              lineno, keys[i]);
        }
    }
    if (v[0] != LOG_VERSION) {
        return fail_input("%s:%u: log version %" PRIu64 ", this barlab-agree reads %u",
                          r->log_path, lineno, v[0], LOG_VERSION);
    }
    r->cpu_fwb = v[1] != 0;
    r->xs = v[2] != 0;
    r->mte2 = v[3] != 0;
    r->dczva = (unsigned)v[4];
    r->stride = v[5];
    r->s2_sh = (unsigned)v[6];
    r->bar_addr = v[7];
    r->bar_size = v[8];
    r->ncells = (unsigned)v[9];
    if (r->ncells != (r->cpu_fwb ? 2u : 1u) * 16 * 256 * 2 || r->stride < 64 ||
        r->stride > 4096 || r->stride % 64 || r->dczva > r->stride || r->s2_sh > 3 ||
        !r->bar_size) {
        return fail_input("%s:%u: inconsistent agree-begin (cells=%u stride=%" PRIu64
                          " dczva=%u s2_sh=%u bar_size=0x%" PRIx64 ")", r->log_path,
                          lineno, r->ncells, r->stride, r->dczva, r->s2_sh, r->bar_size);
    }
    r->cells = calloc(r->ncells, sizeof(*r->cells));
    r->image = calloc(r->ncells, r->stride);
    r->covered = calloc(r->ncells, r->stride / 8);
    if (!r->cells || !r->image || !r->covered) {
        return fail_input("out of memory");
    }
    r->begun = true;
    return 0;
}

static int parse_fault(Run *r, const char *line, unsigned lineno, const char *prefix,
                       uint8_t *el, uint64_t *esr, uint64_t *far, uint64_t *hpfar)
{
    static const char *const els[] = { "none", "EL1", "EL2" };
    char key[32];
    int k = field_word(line, prefix, els, 3);

    if (k < 0) {
        if (!strcmp(prefix, "prime") && !field(line, "prime")) {
            *el = 0;
            return 0;
        }
        return fail_input("%s:%u: %s= must be none, EL1 or EL2", r->log_path, lineno,
                          prefix);
    }
    *el = (uint8_t)k;
    if (k == 0) {
        return 0;
    }
    snprintf(key, sizeof(key), "%sesr", strcmp(prefix, "prime") ? "" : "prime_");
    if (!field_u64(line, key, esr)) {
        return fail_input("%s:%u: a fault without a valid %s=", r->log_path, lineno, key);
    }
    snprintf(key, sizeof(key), "%sfar", strcmp(prefix, "prime") ? "" : "prime_");
    if (far && !field_u64(line, key, far)) {
        return fail_input("%s:%u: a fault without a valid %s=", r->log_path, lineno, key);
    }
    snprintf(key, sizeof(key), "%shpfar", strcmp(prefix, "prime") ? "" : "prime_");
    if (hpfar && k == 2 && !field_u64(line, key, hpfar)) {
        return fail_input("%s:%u: an EL2 fault without a valid %s=", r->log_path,
                          lineno, key);
    }
    return 0;
}

static int parse_access(Run *r, const char *line, unsigned lineno)
{
    uint64_t cell, fwb, s2, s1, off;
    int touch, acc, ret;
    Cell *c;
    Access *a;

    if (!r->begun) {
        return fail_input("%s:%u: an agree: line before agree-begin", r->log_path, lineno);
    }
    touch = field_word(line, "touch", touch_names, 2);
    acc = field_word(line, "acc", acc_names, NACC);
    if (!field_u64(line, "cell", &cell) || !field_u64(line, "fwb", &fwb) ||
        !field_u64(line, "s2", &s2) || !field_u64(line, "s1", &s1) ||
        !field_u64(line, "off", &off) || touch < 0 || acc < 0) {
        return fail_input("%s:%u: malformed agree: line (needs cell= fwb= s2= s1= "
                          "touch=first|hit acc=str|unal|zva off= fault=)",
                          r->log_path, lineno);
    }
    if (cell >= r->ncells || fwb > 1 || s2 > 15 || s1 > 255 ||
        cell != ((fwb * 16 + s2) * 256 + s1) * 2 + (uint64_t)touch) {
        return fail_input("%s:%u: cell %" PRIu64 " does not match fwb=%" PRIu64
                          " s2=0x%" PRIx64 " s1=0x%" PRIx64 " touch=%s", r->log_path,
                          lineno, cell, fwb, s2, s1, touch_names[touch]);
    }
    c = &r->cells[cell];
    a = &c->acc[acc];
    if (a->seen) {
        return fail_input("%s:%u: cell %" PRIu64 " %s reported twice", r->log_path,
                          lineno, cell, acc_names[acc]);
    }
    c->fwb = (uint8_t)fwb;
    c->s2 = (uint8_t)s2;
    c->s1 = (uint8_t)s1;
    c->touch = (uint8_t)touch;
    a->seen = true;
    a->off = off;
    ret = parse_fault(r, line, lineno, "fault", &a->el, &a->esr, &a->far, &a->hpfar);
    if (!ret) {
        ret = parse_fault(r, line, lineno, "prime", &a->prime_el, &a->prime_esr,
                          NULL, NULL);
    }
    return ret;
}

static int read_log(Run *r)
{
    FILE *f = fopen(r->log_path, "r");
    char line[1024];
    unsigned lineno = 0;
    int ret = 0;

    if (!f) {
        return fail_input("%s: cannot open: %s", r->log_path, strerror(errno));
    }
    while (!ret && fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            ret = fail_input("%s:%u: line longer than %zu bytes", r->log_path, lineno,
                             sizeof(line) - 1);
        } else if (r->ended) {
            continue;
        } else if (!strncmp(line, "agree-begin ", 12)) {
            ret = r->begun ? fail_input("%s:%u: a second agree-begin", r->log_path, lineno)
                           : parse_begin(r, line, lineno);
        } else if (!strncmp(line, "agree: ", 7)) {
            ret = parse_access(r, line, lineno);
        } else if (!strncmp(line, "agree-end ", 10)) {
            uint64_t n;

            if (!r->begun || !field_u64(line, "lines", &n) || n != 3ull * r->ncells) {
                ret = fail_input("%s:%u: agree-end does not report lines=%u", r->log_path,
                                 lineno, 3 * r->ncells);
            }
            r->ended = true;
        } else if (!strncmp(line, "FATAL", 5) && !r->fatal[0]) {
            snprintf(r->fatal, sizeof(r->fatal), "%.200s", line);
            r->fatal[strcspn(r->fatal, "\n")] = '\0';
        }
    }
    if (!ret && ferror(f)) {
        ret = fail_input("%s: read error", r->log_path);
    }
    fclose(f);
    if (ret) {
        return ret;
    }
    if (!r->begun) {
        return fail_input("%s: no agree-begin line: the payload did not reach EL1%s%s",
                          r->log_path, r->fatal[0] ? "; it said: " : "", r->fatal);
    }
    if (!r->ended) {
        return fail_input("%s: no agree-end line: the payload stopped early%s%s",
                          r->log_path, r->fatal[0] ? "; it said: " : "", r->fatal);
    }
    for (unsigned i = 0; i < r->ncells; i++) {
        for (unsigned a = 0; a < NACC; a++) {
            if (!r->cells[i].acc[a].seen) {
                return fail_input("%s: cell %u has no %s line", r->log_path, i,
                                  acc_names[a]);
            }
        }
    }
    return 0;
}

/* ---- the device trace ---------------------------------------------------- */

static bool is_covered(const Run *r, unsigned cell, uint64_t from, uint64_t to)
{
    const uint8_t *bits = r->covered + (size_t)cell * (r->stride / 8);

    for (uint64_t b = from; b < to; b++) {
        if (b >= r->stride || !(bits[b / 8] & (1u << (b % 8)))) {
            return false;
        }
    }
    return true;
}

/* The image bytes [from, to) hold @v, little-endian (to - from <= 8). */
static bool image_is(const Run *r, unsigned cell, uint64_t from, uint64_t to, uint64_t v)
{
    const uint8_t *img = r->image + (size_t)cell * r->stride;

    for (uint64_t b = from; b < to; b++) {
        if (img[b] != (uint8_t)(v >> (8 * (b - from)))) {
            return false;
        }
    }
    return true;
}

static void take_txn(Run *r, const MtTraceRecord *rec)
{
    const MtTxn *t = &rec->txn;
    uint64_t cell = t->addr / r->stride, from;
    uint8_t *bits, *img;
    Cell *c;
    bool fwb;

    if (cell >= r->ncells || (t->addr + t->size - 1) / r->stride != cell) {
        if (!r->stray++) {
            r->first_stray = *t;
        }
        return;
    }
    c = &r->cells[cell];
    fwb = t->flags & MT_TXN_FWB;
    if (!c->seen_attr) {
        c->seen_attr = true;
        c->attr = t->attr;
        c->s1_attr = t->s1_attr;
        c->s2_attr = t->s2_attr;
    }
    if (!c->bad_txn && ((t->flags & (MT_TXN_UNTYPED | MT_TXN_NO_STAGE2)) ||
                        t->s1_attr != c->s1 || t->s2_attr != c->s2 || fwb != c->fwb ||
                        t->attr != c->attr || !(t->flags & MT_TXN_WRITE))) {
        c->bad_txn = true;
        c->bad = *t;
    }
    if (!(t->flags & MT_TXN_WRITE)) {
        return;
    }
    from = t->addr - cell * r->stride;
    img = r->image + cell * r->stride;
    bits = r->covered + cell * (r->stride / 8);
    for (uint32_t i = 0; i < t->size; i++) {
        img[from + i] = rec->data[i];
        bits[(from + i) / 8] |= (uint8_t)(1u << ((from + i) % 8));
    }
}

static int read_trace(Run *r)
{
    MtTraceReader *tr;
    MtTraceRecord *rec = malloc(sizeof(*rec));
    char err[256];
    int ret;

    if (!rec) {
        return fail_input("out of memory");
    }
    if ((uint64_t)r->ncells * r->stride > r->bar_size) {
        free(rec);
        return fail_input("%s: the BAR (0x%" PRIx64 " bytes) is smaller than %u cells of "
                          "%" PRIu64 " bytes: the trace cannot be split by cell",
                          r->log_path, r->bar_size, r->ncells, r->stride);
    }
    if (mt_trace_reader_open(&tr, r->trace_path, err, sizeof(err))) {
        free(rec);
        return fail_input("%s", err);
    }
    while ((ret = mt_trace_read(tr, rec, err, sizeof(err))) == 1) {
        if (rec->type == MT_REC_TXN) {
            take_txn(r, rec);
        }
    }
    mt_trace_reader_close(tr);
    free(rec);
    return ret ? fail_input("%s", err) : 0;
}

/* ---- comparing ----------------------------------------------------------- */

static const char *fault_word(unsigned f)
{
    return f == MT_FAULT_NONE ? "completes" : mt_fault_name(f);
}

static uint8_t fault_rule(unsigned expect, bool zva)
{
    if (expect == MT_FAULT_NONE) {
        return MT_RULE_A_NORMAL;
    }
    if (zva) {
        return MT_RULE_A_DCZVA;
    }
    return expect == MT_FAULT_S1_ALIGN ? MT_RULE_A_S1 : MT_RULE_A_S2;
}

/* What the payload saw, as an MtFault, or OBS_ABORT. */
static unsigned observed(const Access *a)
{
    unsigned ec = (unsigned)(a->esr >> 26) & 0x3f, dfsc = (unsigned)a->esr & 0x3f;

    switch (a->el) {
    case 1:
        return ec == 0x25 && dfsc == 0x21 ? MT_FAULT_S1_ALIGN : OBS_ABORT;
    case 2:
        return ec == 0x24 && dfsc == 0x21 ? MT_FAULT_S2_ALIGN : OBS_ABORT;
    default:
        return MT_FAULT_NONE;
    }
}

static void observed_text(const Access *a, char *buf, size_t len)
{
    unsigned o = observed(a);
    int n;

    if (o == MT_FAULT_NONE) {
        snprintf(buf, len, "completes");
        return;
    }
    if (o == MT_FAULT_S1_ALIGN || o == MT_FAULT_S2_ALIGN) {
        n = snprintf(buf, len, "%s", fault_word(o));
    } else {
        n = snprintf(buf, len, "EL%u abort EC 0x%02x DFSC 0x%02x (not alignment)",
                     a->el, (unsigned)(a->esr >> 26) & 0x3f, (unsigned)a->esr & 0x3f);
    }
    n += snprintf(buf + n, len - (size_t)n, " esr=0x%" PRIx64 " far=0x%" PRIx64,
                  a->esr, a->far);
    if (a->el == 2) {
        snprintf(buf + n, len - (size_t)n, " hpfar=0x%" PRIx64, a->hpfar);
    }
}

/* Disagreement classes, for the summary the patch authors read first. */
#define MAX_CLASSES 64
typedef struct {
    char key[160];
    unsigned count;
} Class;

typedef struct {
    Class classes[MAX_CLASSES];
    unsigned nclasses, dropped;
    unsigned agree, total, reserved;
} Tally;

static void count_class(Tally *t, const char *key)
{
    for (unsigned i = 0; i < t->nclasses; i++) {
        if (!strcmp(t->classes[i].key, key)) {
            t->classes[i].count++;
            return;
        }
    }
    if (t->nclasses == MAX_CLASSES) {
        t->dropped++;
        return;
    }
    snprintf(t->classes[t->nclasses].key, sizeof(t->classes[0].key), "%s", key);
    t->classes[t->nclasses++].count = 1;
}

static void cell_name(const Cell *c, unsigned i, char *buf, size_t len)
{
    snprintf(buf, len, "cell=%u fwb=%u s2=0x%x s1=0x%02x touch=%s", i, c->fwb, c->s2,
             c->s1, touch_names[c->touch]);
}

static void disagree(bool *bad, const char *cell, const char *fmt, ...)
{
    va_list ap;

    printf("disagree: %s ", cell);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    *bad = true;
}

static unsigned features(const Run *r)
{
    return (r->xs ? MT_FEAT_XS : 0) | (r->mte2 ? MT_FEAT_MTE2 : 0);
}

/* (b): the faults of the three accesses, and the TLB-hit precondition. */
static void check_faults(const Run *r, const Cell *c, const MtAttrs *s1,
                         const char *name, Tally *t, bool *bad)
{
    for (unsigned k = 0; k < NACC; k++) {
        const Access *a = &c->acc[k];
        unsigned expect = k == ACC_STR ? MT_FAULT_NONE :
                          mt_alignment_fault(s1, c->s2, c->fwb, k == ACC_ZVA ?
                                             MT_ACCESS_DCZVA : MT_ACCESS_UNALIGNED);
        unsigned got = observed(a);
        uint64_t va = r->bar_addr + a->off;
        const MtRuleInfo *rule = mt_rule(fault_rule(expect, k == ACC_ZVA));
        char obs[160], key[160];

        if (a->prime_el) {
            disagree(bad, name, "acc=%s: the priming store (aligned, same page) took "
                     "an EL%u abort esr=0x%" PRIx64 ": the TLB-hit case was not run",
                     acc_names[k], a->prime_el, a->prime_esr);
            snprintf(key, sizeof(key), "%s %s: priming store faulted", acc_names[k],
                     touch_names[c->touch]);
            count_class(t, key);
        }
        if (k == ACC_STR && got != MT_FAULT_NONE) {
            observed_text(a, obs, sizeof(obs));
            disagree(bad, name, "acc=str: expected completes (aligned, SCTLR_EL1.A=0) "
                     "[%s], observed %s", mt_rule(MT_RULE_A_NORMAL)->id, obs);
            snprintf(key, sizeof(key), "str %s: aligned store faulted",
                     touch_names[c->touch]);
            count_class(t, key);
            continue;
        }
        if (got != expect) {
            observed_text(a, obs, sizeof(obs));
            disagree(bad, name, "acc=%s: expected %s [%s], observed %s", acc_names[k],
                     fault_word(expect), rule->id, obs);
            snprintf(key, sizeof(key), "%s %s: expected %s [%s], observed %s",
                     acc_names[k], touch_names[c->touch], fault_word(expect), rule->id,
                     got <= MT_FAULT_S2_ALIGN ? fault_word(got) : "a non-alignment abort");
            count_class(t, key);
            continue;
        }
        /* The fault address: exact for the store, within the block for DC ZVA. */
        if (got != MT_FAULT_NONE &&
            (k == ACC_ZVA ? (a->far < (va & ~(uint64_t)(r->dczva - 1)) ||
                             a->far >= (va & ~(uint64_t)(r->dczva - 1)) + r->dczva)
                          : a->far != va)) {
            disagree(bad, name, "acc=%s: %s as expected, but FAR 0x%" PRIx64
                     " is not the access's address 0x%" PRIx64 "%s", acc_names[k],
                     fault_word(got), a->far, va, k == ACC_ZVA ? " (or its block)" : "");
            snprintf(key, sizeof(key), "%s %s: wrong FAR", acc_names[k],
                     touch_names[c->touch]);
            count_class(t, key);
        }
    }
}

/* Bytes of the cell that only DC ZVA writes (not the stores, not the primes). */
static bool zva_only(const Cell *c, uint64_t b, uint64_t base)
{
    for (unsigned k = ACC_STR; k <= ACC_UNAL; k++) {
        uint64_t from = c->acc[k].off - base;

        if (b >= from && b < from + 8) {
            return false;
        }
    }
    return !(c->touch == TOUCH_HIT && b >= PRIME_OFF && b < PRIME_OFF + 8 * NACC);
}

/*
 * A completed access must have left its data in the device's copy of the
 * cell (the stores their tags, DC ZVA zeroes where nothing later wrote);
 * a faulted one must not have.
 */
static void check_arrival(const Run *r, const Cell *c, unsigned i, unsigned k,
                          const char *name, Tally *t, bool *bad)
{
    const Access *a = &c->acc[k];
    uint64_t base = (uint64_t)i * r->stride, from = a->off - base;
    bool arrived, missing = false;
    char key[160];

    if (k == ACC_ZVA) {
        uint64_t blk = from & ~(uint64_t)(r->dczva - 1);

        arrived = false;
        for (uint64_t b = blk; b < blk + r->dczva; b++) {
            if (zva_only(c, b, base)) {
                bool zero = is_covered(r, i, b, b + 1) &&
                            !r->image[(size_t)i * r->stride + b];

                arrived |= is_covered(r, i, b, b + 1);
                missing |= !zero;
            }
        }
    } else {
        arrived = is_covered(r, i, from, from + 8) &&
                  image_is(r, i, from, from + 8, TAG(k, i));
        missing = !arrived;
    }
    if (!a->el && missing) {
        disagree(bad, name, "acc=%s: completed, but the device's copy of +0x%" PRIx64
                 " does not hold its %s [%s]", acc_names[k], from,
                 k == ACC_ZVA ? "zeroes" : "data", mt_rule(MT_RULE_T_EXACT)->id);
        snprintf(key, sizeof(key), "trace: %s completed but its data never reached "
                 "the device", acc_names[k]);
        count_class(t, key);
    } else if (a->el && arrived) {
        disagree(bad, name, "acc=%s: faulted at EL%u, but its %s reached the device",
                 acc_names[k], a->el, k == ACC_ZVA ? "zeroes" : "data");
        snprintf(key, sizeof(key), "trace: %s faulted but reached the device",
                 acc_names[k]);
        count_class(t, key);
    }
}

static bool same_hints(const MtHints *a, const MtHints *b)
{
    return a->cache == b->cache && a->ra == b->ra && a->wa == b->wa &&
           a->transient == b->transient;
}

/*
 * How an observed combined type differs from the predicted one, coarsest
 * first: the patch author fixes a weakened type before a lost hint.
 */
static const char *attr_difference(const MtAttrs *seen, const MtAttrs *want)
{
    if (seen->kind != want->kind ||
        (seen->kind == MT_KIND_DEVICE && seen->device != want->device)) {
        return "memory type differs";
    }
    if (seen->kind == MT_KIND_NORMAL && (seen->inner.cache != want->inner.cache ||
                                         seen->outer.cache != want->outer.cache)) {
        return "cacheability differs";
    }
    if (seen->kind == MT_KIND_NORMAL && (!same_hints(&seen->inner, &want->inner) ||
                                         !same_hints(&seen->outer, &want->outer))) {
        return "allocation/transient hints differ";
    }
    if (seen->xs0 != want->xs0 || seen->tagged != want->tagged) {
        return "only the XS=0/Tagged encoding differs (the core's combined type "
               "carries neither, docs/rules.md)";
    }
    return "encoding differs";
}

/* (a): the attributes the device saw, and that completed accesses arrived. */
static void check_trace(const Run *r, const Cell *c, unsigned i, const MtAttrs *s1,
                        const char *name, Tally *t, bool *bad)
{
    MtAttrs comb, seen;
    uint8_t want = 0;
    int enc;
    char wn[64], sn[64], key[160];
    const MtRuleInfo *rule = mt_rule(mt_combine_rule(s1, c->s2, c->fwb));
    bool attr_ok;

    mt_combine(s1, c->s2, (uint8_t)r->s2_sh, c->fwb, &comb);
    enc = mt_encode_mair(&comb, &want);
    mt_attrs_name(&comb, wn, sizeof(wn));
    for (unsigned k = 0; k < NACC; k++) {
        check_arrival(r, c, i, k, name, t, bad);
    }
    if (c->bad_txn) {
        const MtTxn *x = &c->bad;

        disagree(bad, name, "trace: expected s1=0x%02x s2=0x%x fwb=%u and one "
                 "combined type on every transaction, observed %s at +0x%" PRIx64
                 " size %u: s1=0x%02x s2=0x%x fwb=%u combined 0x%02x (first: 0x%02x)%s%s",
                 c->s1, c->s2, c->fwb, x->flags & MT_TXN_WRITE ? "a write" : "a read",
                 x->addr - (uint64_t)i * r->stride, x->size, x->s1_attr, x->s2_attr,
                 !!(x->flags & MT_TXN_FWB), x->attr, c->attr,
                 x->flags & MT_TXN_UNTYPED ? " untyped (no memory type)" : "",
                 x->flags & MT_TXN_NO_STAGE2 ? " no-stage-2" : "");
        count_class(t, x->flags & MT_TXN_UNTYPED ? "trace: transaction without a memory type"
                       : "trace: stage-1/stage-2/FWB fields differ from what was programmed");
    }
    if (!c->seen_attr) {
        return;         /* already reported as not reaching the device */
    }
    /*
     * The combined attribute is compared in the MAIR form mt_encode_mair()
     * gives; a type whose hints have no MAIR encoding is compared decoded.
     */
    mt_decode_mair(c->attr, features(r), &seen);
    if (enc == MT_OK) {
        attr_ok = c->attr == want;
    } else {
        attr_ok = seen.kind == comb.kind && seen.device == comb.device &&
                  same_hints(&seen.inner, &comb.inner) &&
                  same_hints(&seen.outer, &comb.outer);
    }
    if (!attr_ok) {
        mt_attrs_name(&seen, sn, sizeof(sn));
        if (enc == MT_OK) {
            disagree(bad, name, "trace: expected combined 0x%02x %s [%s], observed "
                     "0x%02x %s", want, wn, rule->id, c->attr, sn);
        } else {
            disagree(bad, name, "trace: expected combined %s [%s], observed 0x%02x %s",
                     wn, rule->id, c->attr, sn);
        }
        snprintf(key, sizeof(key), "trace: combined attribute [%s]: %s", rule->id,
                 attr_difference(&seen, &comb));
        count_class(t, key);
    }
}

/* Reserved cells: what QEMU chose, grouped by the reserved encoding. */
typedef struct {
    bool used;
    unsigned cells;
    unsigned unal[OBS_ABORT + 1], zva[OBS_ABORT + 1]; /* by observed() */
    unsigned str_faults;
    uint8_t attrs[8];
    unsigned nattrs;
    bool more_attrs;
} ResGroup;

static void reserved_note(ResGroup *g, const Cell *c)
{
    g->used = true;
    g->cells++;
    g->unal[observed(&c->acc[ACC_UNAL])]++;
    g->zva[observed(&c->acc[ACC_ZVA])]++;
    g->str_faults += c->acc[ACC_STR].el != 0;
    if (!c->seen_attr) {
        return;
    }
    for (unsigned i = 0; i < g->nattrs; i++) {
        if (g->attrs[i] == c->attr) {
            return;
        }
    }
    if (g->nattrs < 8) {
        g->attrs[g->nattrs++] = c->attr;
    } else {
        g->more_attrs = true;
    }
}

static void print_outcomes(const char *what, const unsigned *n)
{
    static const char *const w[OBS_ABORT + 1] = { "none", "EL1", "EL2", "?", "other" };
    bool first = true;

    printf(" %s", what);
    for (unsigned i = 0; i <= OBS_ABORT; i++) {
        if (n[i]) {
            printf("%s%s:%u", first ? " " : ",", w[i], n[i]);
            first = false;
        }
    }
    putchar(';');
}

static void print_reserved(const Run *r, ResGroup groups[2][2][256])
{
    for (unsigned fwb = 0; fwb < 2; fwb++) {
        for (unsigned side = 0; side < 2; side++) {
            for (unsigned e = 0; e < 256; e++) {
                const ResGroup *g = &groups[fwb][side][e];

                if (!g->used) {
                    continue;
                }
                printf("reserved: fwb=%u %s 0x%02x (%u cells):", fwb,
                       side ? "s2" : "s1", e, g->cells);
                print_outcomes("unal", g->unal);
                print_outcomes("zva", g->zva);
                if (g->str_faults) {
                    printf(" str faulted:%u;", g->str_faults);
                }
                if (!r->no_trace) {
                    printf(" combined");
                    for (unsigned i = 0; i < g->nattrs; i++) {
                        printf("%s0x%02x", i ? "," : " ", g->attrs[i]);
                    }
                    printf("%s", g->nattrs ? (g->more_attrs ? ",..." : "") : " (none seen)");
                }
                putchar('\n');
            }
        }
    }
}

static void print_reserved_cell(const Run *r, const Cell *c, const char *name)
{
    char u[160], z[160];

    observed_text(&c->acc[ACC_UNAL], u, sizeof(u));
    observed_text(&c->acc[ACC_ZVA], z, sizeof(z));
    printf("reserved: %s: unal %s; zva %s", name, u, z);
    if (!r->no_trace) {
        if (c->seen_attr) {
            printf("; device saw combined 0x%02x s1 0x%02x s2 0x%x", c->attr, c->s1_attr,
                   c->s2_attr);
        } else {
            printf("; device saw nothing");
        }
    }
    putchar('\n');
}

static int compare(Run *r)
{
    static ResGroup groups[2][2][256];
    Tally t = { 0 };

    for (unsigned i = 0; i < r->ncells; i++) {
        const Cell *c = &r->cells[i];
        MtAttrs s1;
        MtS2 s2;
        char name[96];
        bool bad = false;
        bool s1_res = mt_decode_mair(c->s1, features(r), &s1) != MT_OK;
        bool s2_res = mt_decode_s2(c->s2, c->fwb, &s2) != MT_OK;

        cell_name(c, i, name, sizeof(name));
        if (s1_res || s2_res) {
            t.reserved++;
            if (r->reserved_cells) {
                print_reserved_cell(r, c, name);
            } else {
                reserved_note(&groups[c->fwb][!s1_res][s1_res ? c->s1 : c->s2], c);
            }
            continue;
        }
        t.total++;
        check_faults(r, c, &s1, name, &t, &bad);
        if (!r->no_trace) {
            check_trace(r, c, i, &s1, name, &t, &bad);
        }
        t.agree += !bad;
    }
    if (!r->no_trace && r->stray) {
        printf("disagree: trace: %" PRIu64 " transaction(s) outside the cells, the first "
               "at BAR offset 0x%" PRIx64 " size %u\n", r->stray, r->first_stray.addr,
               r->first_stray.size);
        count_class(&t, "trace: transactions outside the cells");
    }
    if (!r->reserved_cells) {
        print_reserved(r, groups);
    }
    if (t.nclasses) {
        printf("disagreement classes (cells or accesses):\n");
        for (unsigned i = 0; i < t.nclasses; i++) {
            printf("  %6u  %s\n", t.classes[i].count, t.classes[i].key);
        }
        if (t.dropped) {
            printf("  %6u  (in further classes)\n", t.dropped);
        }
    }
    if (r->no_trace) {
        printf("note: --no-trace: faults only, the device-side attributes were not "
               "checked\n");
    }
    printf("agreement: %u/%u cells (first touch + TLB hit), %u reserved cells reported "
           "apart\n", t.agree, t.total, t.reserved);
    return t.agree == t.total && !(r->stray && !r->no_trace) ? 0 : 1;
}

int main(int argc, char **argv)
{
    Run r = { 0 };
    int ret;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-trace")) {
            r.no_trace = true;
        } else if (!strcmp(argv[i], "--reserved-cells")) {
            r.reserved_cells = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "barlab-agree: error: unknown option '%s'\n%s", argv[i], usage);
            return 2;
        } else if (!r.log_path) {
            r.log_path = argv[i];
        } else if (!r.trace_path) {
            r.trace_path = argv[i];
        } else {
            fprintf(stderr, "barlab-agree: error: too many arguments\n%s", usage);
            return 2;
        }
    }
    if (!r.log_path || (!r.trace_path) != r.no_trace) {
        fprintf(stderr, "barlab-agree: error: %s\n%s", !r.log_path ? "no UART log given" :
                r.no_trace ? "--no-trace takes no TRACE" :
                "no TRACE given (use --no-trace to check faults only)", usage);
        return 2;
    }
    ret = read_log(&r);
    if (!ret && !r.no_trace) {
        ret = read_trace(&r);
    }
    if (!ret) {
        ret = compare(&r);
    }
    free(r.cells);
    free(r.covered);
    return ret;
}
