/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab-mt: the host tool over the memory-type core.  scripts/barlab runs
 * it for `explain`, the oracle table of `demo`, `trace` and `patterns`.
 * Errors are one line on stderr and exit status 1 (2 for usage).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gather.h"
#include "memtype.h"
#include "oracle.h"
#include "portmode.h"
#include "reorder.h"
#include "rules.h"
#include "scenario.h"
#include "trace.h"

static const char usage[] =
    "usage: barlab-mt explain S1ATTR S2ATTR [--fwb] [--json] [CPU-OPTIONS]\n"
    "       barlab-mt explain --table --json [CPU-OPTIONS]\n"
    "       barlab-mt oracle SCENARIO-FILE [--json] [CPU-OPTIONS]\n"
    "       barlab-mt model PATTERN S1ATTR S2ATTR [--fwb] [--reorder SEED]\n"
    "                 [--trace FILE] [CPU-OPTIONS]\n"
    "       barlab-mt trace FILE [--json]\n"
    "       barlab-mt port-mode MODE [--json]\n"
    "       barlab-mt patterns [--json]\n"
    "       barlab-mt cpus [--json]\n"
    "       barlab-mt policies\n"
    "       barlab-mt s1-names|faults|defaults --json\n"
    "CPU-OPTIONS: --cpu NAME (default max; oracle: instead of each scenario's)\n"
    "             --s1-share cpu|field|osh (the stage-1 shareability FWB's\n"
    "             force-Write-Back passes on; default: the CPU's)\n";

/* The command being run, for the pointer to its help. */
static const char *command = "";

/* A usage mistake: one line, then where the usage is (scripts/barlab). */
static int usage_error(const char *what)
{
    fprintf(stderr, "barlab: error: %s\nsee 'barlab %s%s--help'\n", what, command,
            *command ? " " : "");
    return 2;
}

static const char *yes_no(bool b)
{
    return b ? "yes" : "no";
}


/* @str as a JSON string: quotes, backslashes and control bytes escaped. */
static void json_string(const char *str)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)str; *c; c++) {
        if (*c == '"' || *c == '\\') {
            printf("\\%c", *c);
        } else if (*c < 0x20) {
            printf("\\u%04x", *c);
        } else {
            putchar(*c);
        }
    }
    putchar('"');
}

/* Arguments "FILE [--json]"; false unless exactly one FILE. */
static bool file_args(int argc, char **argv, const char **path, bool *json)
{
    *path = NULL;
    *json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            *json = true;
        } else if (*path) {
            return false;
        } else {
            *path = argv[i];
        }
    }
    return *path != NULL;
}

/* ---- the CPU options explain, oracle and model share --------------------- */

typedef struct {
    const MtCpu *cpu;
    bool cpu_given;
    uint8_t s1_share;       /* MtS1Share */
} CpuOpts;

static void cpu_opts_init(CpuOpts *o)
{
    o->cpu = mt_cpu_default();
    o->cpu_given = false;
    o->s1_share = MT_S1SH_CPU;
}

/*
 * If argv[*i] is --cpu or --s1-share, take it and its value: 1, or -1
 * after a one-line error; 0 if it is neither.
 */
static int cpu_option(int argc, char **argv, int *i, CpuOpts *o)
{
    const char *opt = argv[*i];

    if (strcmp(opt, "--cpu") && strcmp(opt, "--s1-share")) {
        return 0;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "barlab: error: %s needs a value\n", opt);
        return -1;
    }
    (*i)++;
    if (!strcmp(opt, "--cpu")) {
        o->cpu = mt_cpu_find(argv[*i]);
        o->cpu_given = true;
        if (!o->cpu) {
            fprintf(stderr, "barlab: error: unknown CPU model '%s' (see 'barlab-mt cpus')\n",
                    argv[*i]);
            return -1;
        }
    } else if (mt_s1_share_parse(argv[*i], &o->s1_share) != MT_OK) {
        fprintf(stderr, "barlab: error: --s1-share takes cpu, field or osh, not '%s'\n",
                argv[*i]);
        return -1;
    }
    return 1;
}

static uint8_t s1_share_of(const CpuOpts *o)
{
    return o->s1_share != MT_S1SH_CPU ? o->s1_share : o->cpu->s1_share;
}

/*
 * One option of a command besides the CPU ones: a flag sets *@set; one
 * that takes a value ("--trace FILE", "--reorder SEED") stores it in
 * *@value, or as a number in *@number, and sets *@set too.
 */
typedef struct {
    const char *name;
    bool *set;
    const char **value;
    unsigned long long *number;
} Option;

/*
 * A command's arguments: the CPU options into @cpu, @options (ended by a
 * NULL name), and at most @max operands into @args (*@nargs of them).  With
 * @cmd, an argument that starts with '-' (but is not "-" or "-0...") and
 * is no option is "CMD: unknown option"; without, any argument starting
 * with '-' that is no option is the usage error @usage, as are too many
 * operands.  0, or 2 after a one-line error.
 */
static int parse_args(int argc, char **argv, CpuOpts *cpu, const Option *options,
                      const char *cmd, const char **args, int max, int *nargs,
                      const char *usage)
{
    cpu_opts_init(cpu);
    *nargs = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const Option *o = options;
        int ret = cpu_option(argc, argv, &i, cpu);

        if (ret) {
            if (ret < 0) {
                return 2;
            }
            continue;
        }
        while (o->name && (strcmp(a, o->name) ||
                           ((o->value || o->number) && i + 1 >= argc))) {
            o++;
        }
        if (o->name) {
            if (o->value) {
                *o->value = argv[++i];
            } else if (o->number) {
                char *end, what[64];

                *o->number = strtoull(argv[++i], &end, 0);
                if (*end || !*argv[i]) {
                    snprintf(what, sizeof(what), "%s takes a number", o->name);
                    return usage_error(what);
                }
            }
            if (o->set) {
                *o->set = true;
            }
        } else if (a[0] == '-' && (!cmd || (a[1] && a[1] != '0'))) {
            if (!cmd) {
                return usage_error(usage);
            }
            fprintf(stderr, "barlab: error: %s: unknown option '%s'\n", cmd, a);
            return 2;
        } else if (*nargs < max) {
            args[(*nargs)++] = a;
        } else {
            return usage_error(usage);
        }
    }
    return 0;
}

/* --fwb needs a CPU with FEAT_S2FWB: HCR_EL2.FWB is RES0 without it. */
static bool fwb_refused(const CpuOpts *o, bool fwb)
{
    if (fwb && !o->cpu->fwb) {
        fprintf(stderr, "barlab: error: --fwb: -cpu %s has no FEAT_S2FWB\n", o->cpu->name);
        return true;
    }
    return false;
}

/* ---- explain ----------------------------------------------------------- */

/* Everything explain says about one S1 x S2 x FWB cell. */
typedef struct {
    uint8_t s1_attr, s2_attr;
    bool fwb;
    const CpuOpts *opts;
    MtAttrs s1, combined;
    MtS2 s2;
    int combined_mair;
    uint8_t rule;
    MtPermits permits;
    uint8_t unaligned, dczva;   /* MtFault */
} Cell;

static void explain_cell(Cell *c)
{
    uint8_t mair;

    mt_decode_mair(c->s1_attr, c->opts->cpu->mair_features, &c->s1);
    mt_decode_s2(c->s2_attr, c->fwb, &c->s2);
    /* Both stages Inner Shareable: as drivers map BARs and as KVM maps them. */
    mt_combine_share(&c->s1, 3, s1_share_of(c->opts), c->s2_attr, 3, c->fwb, &c->combined);
    c->combined_mair = mt_encode_mair(&c->combined, &mair) == MT_OK ? mair : -1;
    c->rule = mt_combine_rule(&c->s1, c->s2_attr, c->fwb);
    c->permits = mt_permits(&c->combined);
    c->unaligned = mt_alignment_fault(&c->s1, c->s2_attr, c->fwb, MT_ACCESS_UNALIGNED);
    c->dczva = mt_alignment_fault(&c->s1, c->s2_attr, c->fwb, MT_ACCESS_DCZVA);
}

static char *s2_meaning(const Cell *c, char *buf, size_t len)
{
    switch (c->s2.op) {
    case MT_S2_DEVICE:
        snprintf(buf, len, "%s", mt_device_name(c->s2.device));
        break;
    case MT_S2_NORMAL:
        if (c->s2.inner == c->s2.outer) {
            snprintf(buf, len, "Normal-%s", mt_cache_name(c->s2.inner));
        } else {
            snprintf(buf, len, "Normal-i%s-o%s", mt_cache_name(c->s2.inner),
                     mt_cache_name(c->s2.outer));
        }
        break;
    default:
        snprintf(buf, len, "%s", mt_s2_op_name(c->s2.op));
        break;
    }
    return buf;
}

static void print_explain_json(FILE *out, const Cell *c)
{
    char s1n[48], s2n[48], cn[48], mair[16] = "null";

    if (c->combined_mair >= 0) {
        snprintf(mair, sizeof(mair), "\"0x%02x\"", c->combined_mair);
    }
    fprintf(out,
            "{\"s1\":\"0x%02x\",\"s1_type\":\"%s\",\"s2\":\"0x%x\",\"fwb\":%s,"
            "\"s2_type\":\"%s\",\"combined\":\"%s\",\"combined_mair\":%s,"
            "\"shareability\":\"%s\",\"rule\":\"%s\",\"permits\":{\"gather\":%s,"
            "\"reorder\":%s,\"early_ack\":%s,\"unaligned\":%s,\"dczva\":%s,"
            "\"speculative_read\":%s},\"unaligned_fault\":\"%s\","
            "\"dczva_fault\":\"%s\",\"cpu\":\"%s\",\"s1_share\":\"%s\"}\n",
            c->s1_attr, mt_attrs_name(&c->s1, s1n, sizeof(s1n)), c->s2_attr,
            c->fwb ? "true" : "false", s2_meaning(c, s2n, sizeof(s2n)),
            mt_attrs_name(&c->combined, cn, sizeof(cn)), mair,
            c->combined.kind == MT_KIND_RESERVED ? "-" : mt_share_name(c->combined.share),
            mt_rule(c->rule)->id,
            c->permits.gather ? "true" : "false", c->permits.reorder ? "true" : "false",
            c->permits.early_ack ? "true" : "false",
            c->permits.unaligned ? "true" : "false", c->permits.dczva ? "true" : "false",
            c->permits.speculative_read ? "true" : "false",
            mt_fault_id(c->unaligned), mt_fault_id(c->dczva), c->opts->cpu->name,
            mt_s1_share_name(s1_share_of(c->opts)));
}

static void print_rule(FILE *out, const char *indent, unsigned rule)
{
    const MtRuleInfo *r = mt_rule(rule);

    fprintf(out, "%s%s  %s\n%s    [%s]\n", indent, r->id, r->title, indent, r->source);
}

static void print_fault(FILE *out, const char *what, bool permitted,
                        unsigned fault, unsigned rule)
{
    fprintf(out, "  %-22s %s", what, yes_no(permitted));
    if (fault != MT_FAULT_NONE) {
        fprintf(out, ": %s", mt_fault_name(fault));
    }
    fputc('\n', out);
    if (fault == MT_FAULT_S1_ALIGN || fault == MT_FAULT_S2_ALIGN) {
        print_rule(out, "      ", rule);
    }
}

static void print_explain_text(FILE *out, const Cell *c)
{
    char s1n[48], s2n[48], cn[48];

    fprintf(out, "stage 1   0x%02x  %s\n", c->s1_attr, mt_attrs_name(&c->s1, s1n, sizeof(s1n)));
    fprintf(out, "stage 2   0x%x   %s  (MemAttr[3:0], %s form)\n", c->s2_attr,
            s2_meaning(c, s2n, sizeof(s2n)), c->fwb ? "FWB" : "non-FWB");
    fprintf(out, "combined        %s", mt_attrs_name(&c->combined, cn, sizeof(cn)));
    if (c->combined_mair >= 0) {
        fprintf(out, "  (MAIR 0x%02x, %s)", c->combined_mair,
                mt_share_name(c->combined.share));
    }
    fprintf(out, "\n");
    if (c->fwb && c->s2.op == MT_S2_FWB_FORCE_WB && c->s1.kind == MT_KIND_NORMAL &&
        c->s1.inner.cache == MT_CACHE_NC && c->s1.outer.cache == MT_CACHE_NC) {
        fprintf(out, "shareability    stage 1 passes on %s (--s1-share %s; stage 1's SH "
                "taken as Inner Shareable)\n",
                s1_share_of(c->opts) == MT_S1SH_FIELD ? "its SH field" : "Outer Shareable",
                mt_s1_share_name(s1_share_of(c->opts)));
    }
    fprintf(out, "why\n");
    print_rule(out, "  ", c->rule);
    if (c->combined.kind == MT_KIND_RESERVED) {
        return;
    }
    fprintf(out, "permits\n");
    fprintf(out, "  %-22s %s\n", "gathering (G)", yes_no(c->permits.gather));
    fprintf(out, "  %-22s %s\n", "reordering (R)", yes_no(c->permits.reorder));
    fprintf(out, "  %-22s %s\n", "early write ack (E)", yes_no(c->permits.early_ack));
    fprintf(out, "  %-22s %s\n", "speculative reads", yes_no(c->permits.speculative_read));
    print_fault(out, "unaligned access", c->unaligned == MT_FAULT_NONE, c->unaligned,
                c->unaligned == MT_FAULT_S1_ALIGN ? MT_RULE_A_S1 : MT_RULE_A_S2);
    print_fault(out, "DC ZVA", c->dczva == MT_FAULT_NONE, c->dczva, MT_RULE_A_DCZVA);
}

static int cmd_explain(int argc, char **argv)
{
    bool fwb = false, json = false, table = false;
    const Option options[] = {
        { .name = "--fwb", .set = &fwb },
        { .name = "--json", .set = &json },
        { .name = "--table", .set = &table },
        { .name = NULL },
    };
    const char *args[2];
    int nargs;
    CpuOpts opts;
    Cell c = { .opts = &opts };

    if (parse_args(argc, argv, &opts, options, "explain", args, 2, &nargs,
                   "explain takes two attributes")) {
        return 2;
    }
    if (table) {
        if (!json || nargs) {
            return usage_error("explain --table takes --json and no attributes");
        }
        for (unsigned f = 0; f < 2; f++) {
            for (unsigned s1 = 0; s1 < 256; s1++) {
                for (unsigned s2 = 0; s2 < 16; s2++) {
                    Cell t = { .s1_attr = s1, .s2_attr = s2, .fwb = f, .opts = &opts };

                    explain_cell(&t);
                    print_explain_json(stdout, &t);
                }
            }
        }
        return 0;
    }
    if (nargs != 2) {
        return usage_error("explain needs S1ATTR and S2ATTR");
    }
    if (fwb_refused(&opts, fwb)) {
        return 2;
    }
    if (mt_parse_s1(args[0], &c.s1_attr) != MT_OK) {
        fprintf(stderr, "barlab: error: unknown stage-1 attribute '%s' "
                "(want 0..0xff or a name such as normal-NC)\n", args[0]);
        return 1;
    }
    if (mt_parse_s2(args[1], fwb, &c.s2_attr) != MT_OK) {
        fprintf(stderr, "barlab: error: unknown stage-2 MemAttr '%s' "
                "(want 0..0xf or a name such as device-nGnRE)\n", args[1]);
        return 1;
    }
    c.fwb = fwb;
    explain_cell(&c);
    if (json) {
        print_explain_json(stdout, &c);
    } else {
        print_explain_text(stdout, &c);
    }
    return 0;
}

/* ---- oracle ------------------------------------------------------------ */

#define MAX_SCENARIOS 100000

typedef struct {
    MtScenario *v;
    unsigned n, cap;
} ScenarioList;

static int collect(void *opaque, const MtScenario *s, unsigned lineno)
{
    ScenarioList *l = opaque;

    (void)lineno;
    if (l->n == l->cap) {
        MtScenario *nv;

        if (l->cap >= MAX_SCENARIOS) {
            return -2;
        }
        l->cap = l->cap ? l->cap * 2 : 256;
        nv = realloc(l->v, l->cap * sizeof(*nv));
        if (!nv) {
            return -3;
        }
        l->v = nv;
    }
    l->v[l->n++] = *s;
    return 0;
}

/* Scenarios differing only in policy share a table row. */
static bool same_row(const MtScenario *a, const MtScenario *b)
{
    return a->cpu == b->cpu && a->bar_prefetchable == b->bar_prefetchable &&
           a->s1_attr == b->s1_attr && a->pattern == b->pattern &&
           !strcmp(a->pattern_file, b->pattern_file) &&
           a->touch == b->touch && !strcmp(a->port_spec, b->port_spec) &&
           a->trials == b->trials;
}

/*
 * What the oracle says beyond the fault: the modelled outcome and every
 * outcome the architecture permits (more than one where it leaves the
 * choice to the implementation), the syndrome of a predicted fault at the
 * EL that takes it, and whether a trapped-MMIO access would give ISV=0.
 */
static void print_oracle_json_outcome(const MtScenario *s, const MtPrediction *p)
{
    const MtSyndrome *y = &p->syndrome;
    unsigned n = 0;

    printf(",\"lse\":%s,\"s1_share\":\"%s\",\"shareability\":\"%s\",\"outcome\":\"%s\","
           "\"permitted\":[", s->cpu->lse ? "true" : "false",
           mt_s1_share_name(s->s1_share != MT_S1SH_CPU ? s->s1_share : s->cpu->s1_share),
           p->combined_mair < 0 ? "-" : mt_share_name(p->share), mt_outcome_name(p->outcome));
    for (unsigned o = 0; o < MT_OUT__COUNT; o++) {
        if (p->permitted >> o & 1) {
            printf("%s\"%s\"", n++ ? "," : "", mt_outcome_name(o));
        }
    }
    printf("],\"impdef\":%s,\"impdef_rule\":", n > 1 ? "true" : "false");
    if (n > 1) {
        printf("\"%s\"", mt_rule(p->impdef_rule)->id);
    } else {
        printf("null");
    }
    printf(",\"fault_insn\":%u,\"syndrome\":", p->fault_insn);
    if ((p->fault == MT_FAULT_S1_ALIGN || p->fault == MT_FAULT_S2_ALIGN) && !p->user) {
        printf("{\"el\":%u,\"ec\":%u,\"dfsc\":%u,\"wnr\":%u,\"isv\":\"%s\"",
               y->el, y->ec, y->dfsc, y->wnr,
               y->isv_required ? "1" : y->isv_permitted ? "either" : "0");
        if (y->isv_permitted) {
            printf(",\"sas\":%u,\"srt\":%u,\"sf\":%u,\"ar\":%u", y->sas, y->srt, y->sf,
                   y->ar);
        }
        printf("}");
    } else {
        printf("null");
    }
    printf(",\"mmio_isv0\":");
    if (p->mmio_isv0) {
        printf("\"%s\"", mt_op_name(s->pattern->insns[p->mmio_isv0_insn].op));
    } else {
        printf("null");
    }
}

/*
 * Where the cell runs and what the port's checker may say about it: the
 * port mode, the trials, the device window, the rules it may report.
 * device_refused: KVM refuses a prefetchable BAR of the cell's device
 * under the policy (both barlab devices have one), so a VMM that maps the
 * whole device, as VMMs do, never runs a guest, whichever BAR the cell
 * uses.
 */
static void print_oracle_json_port(const MtScenario *s, const MtPrediction *p)
{
    const MtWindow *w = mt_window(s);
    unsigned n = 0;

    printf(",\"port\":\"%s\",\"trials\":%u,\"device\":\"%s\",\"device_bar\":%u,"
           "\"device_refused\":%s,"
           "\"window\":\"%s\",\"window_base\":%u,\"window_size\":%u,"
           "\"window_count\":%u,\"window_offset\":%u,\"violations_possible\":[",
           s->port_spec, s->trials, w->device, w->bar,
           mt_policy_refused(s->policy, true, s->cpu) ? "true" : "false",
           w->name, w->base, w->size, w->count, w->page_offset);
    for (unsigned r = MT_RULE_VERDICT_FIRST; r <= MT_RULE_VERDICT_LAST; r++) {
        if (p->violations_possible >> r & 1) {
            printf("%s\"%s\"", n++ ? "," : "", mt_rule(r)->id);
        }
    }
    printf("]");
}

/*
 * A user's pattern (pattern=file:): its file as written and as found,
 * what it declares, and the faults it may end in (more than one: the
 * oracle does not know, "fault" is "unknown").
 */
static void print_oracle_json_user(const MtScenario *s, const MtPrediction *p)
{
    unsigned n = 0;

    if (!p->user) {
        return;
    }
    printf(",\"pattern_file\":");
    json_string(s->pattern_file);
    printf(",\"pattern_path\":");
    json_string(s->pattern_path);
    printf(",\"pattern_kinds\":[");
    for (unsigned k = 1; k & MT_USER__ALL; k <<= 1) {
        if (s->pattern_kinds & k) {
            printf("%s\"%s\"", n++ ? "," : "", mt_user_kind_name(k));
        }
    }
    printf("],\"faults_possible\":[");
    n = 0;
    for (unsigned f = 0; f < MT_FAULT__COUNT; f++) {
        if (p->faults_possible >> f & 1) {
            printf("%s\"%s\"", n++ ? "," : "", mt_fault_id(f));
        }
    }
    printf("]");
}

static void print_oracle_json(const MtScenario *s, const MtPrediction *p)
{
    char sum[64];

    printf("{\"cpu\":\"%s\",\"fwb\":%s,\"dic\":%s,\"vhe\":%s,\"policy\":\"%s\","
           "\"bar\":\"%s\",\"s1\":\"0x%02x\",\"pattern\":\"%s\",\"touch\":\"%s\","
           "\"s2\":\"0x%x\",\"combined_mair\":",
           s->cpu->name, s->cpu->fwb ? "true" : "false", s->cpu->dic ? "true" : "false",
           s->cpu->vhe ? "true" : "false", mt_policy_name(s->policy),
           s->bar_prefetchable ? "pref" : "nonpref", s->s1_attr, s->pattern->name,
           s->touch == MT_TOUCH_FIRST ? "first" : "hit", p->s2_attr);
    if (p->combined_mair >= 0) {
        printf("\"0x%02x\"", p->combined_mair);
    } else {
        printf("null");
    }
    print_oracle_json_outcome(s, p);
    print_oracle_json_port(s, p);
    print_oracle_json_user(s, p);
    printf(",\"fault\":\"%s\",\"may_gather\":%s,\"rules\":[\"%s\",\"%s\"],"
           "\"summary\":\"%s\",\"txns\":[",
           p->refused ? "kvm-refused" :
           p->user && p->faults_possible & (p->faults_possible - 1) ? "unknown" :
           p->outcome == MT_OUT_UNDEFINED && !p->user ? "undefined" : mt_fault_id(p->fault), p->may_gather ? "true" : "false",
           mt_rule(p->combine_rule)->id, mt_rule(p->outcome_rule)->id,
           mt_prediction_summary(p, sum, sizeof(sum)));
    for (unsigned i = 0; i < p->ntxns; i++) {
        printf("%s{\"offset\":%u,\"size\":%u,\"accesses\":%u,\"write\":%s}",
               i ? "," : "", p->txns[i].offset, p->txns[i].size,
               p->txns[i].naccesses, p->txns[i].write ? "true" : "false");
    }
    printf("]}\n");
}

/* A pattern's name in the table: file:FILE for a user's. */
static const char *p_name(const MtScenario *s, char *buf, size_t len)
{
    if (s->pattern != mt_pattern_user()) {
        return s->pattern->name;
    }
    snprintf(buf, len, "file:%s", s->pattern_file);
    return buf;
}

static void print_oracle_table(const ScenarioList *l, const MtPrediction *pred)
{
    bool policies[MT_POLICY__COUNT] = { false }, used[MT_RULE__COUNT] = { false };
    bool *done = calloc(l->n, sizeof(*done));
    const MtCpu *cpu = NULL;

    if (!done) {
        fprintf(stderr, "barlab: error: out of memory\n");
        exit(1);
    }

    for (unsigned i = 0; i < l->n; i++) {
        policies[l->v[i].policy] = true;
    }
    for (unsigned i = 0; i < l->n; i++) {
        const MtScenario *s = &l->v[i];
        char s1n[48], pname[MT_PATTERN_FILE_MAX + 8];

        if (done[i]) {
            continue;
        }
        if (s->cpu != cpu) {
            cpu = s->cpu;
            printf("\n-cpu %s (%s)\n%-14s %-16s %-8s", cpu->name,
                   cpu->fwb ? "FEAT_S2FWB: KVM uses the FWB stage-2 form"
                            : "no FWB: stage-2 attributes combine with stage 1",
                   "stage 1", "pattern", "BAR");
            for (unsigned p = 0; p < MT_POLICY__COUNT; p++) {
                if (policies[p]) {
                    printf(" %-27s", mt_policy_name(p));
                }
            }
            printf("\n");
        }
        mt_attrs_name(&pred[i].s1, s1n, sizeof(s1n));
        printf("%-14s %-16s %-8s", s1n, p_name(s, pname, sizeof(pname)),
               s->bar_prefetchable ? "pref" : "nonpref");
        for (unsigned p = 0; p < MT_POLICY__COUNT; p++) {
            bool found = false;

            if (!policies[p]) {
                continue;
            }
            for (unsigned j = i; j < l->n && !found; j++) {
                char sum[64], cell[64];

                if (done[j] || l->v[j].policy != p || !same_row(s, &l->v[j])) {
                    continue;
                }
                snprintf(cell, sizeof(cell), "%s %s %s",
                         mt_prediction_summary(&pred[j], sum, sizeof(sum)),
                         mt_rule(pred[j].combine_rule)->id,
                         mt_rule(pred[j].outcome_rule)->id);
                printf(" %-27s", cell);
                used[pred[j].combine_rule] = used[pred[j].outcome_rule] = true;
                done[j] = found = true;
            }
            if (!found) {
                printf(" %-27s", "-");
            }
        }
        printf("\n");
    }
    printf("\nrules\n");
    for (unsigned r = 0; r < MT_RULE__COUNT; r++) {
        if (used[r]) {
            printf("  %-3s %s\n      [%s]\n", mt_rule(r)->id, mt_rule(r)->title,
                   mt_rule(r)->source);
        }
    }
    free(done);
}

static int cmd_oracle(int argc, char **argv)
{
    static const char usage[] = "oracle takes one scenario file, --json and CPU options";
    const char *path = NULL;
    bool json = false;
    const Option options[] = { { .name = "--json", .set = &json }, { .name = NULL } };
    ScenarioList l = { 0 };
    MtPrediction *pred;
    CpuOpts opts;
    char err[512];
    FILE *f;
    int npaths, ret;

    if (parse_args(argc, argv, &opts, options, NULL, &path, 1, &npaths, usage)) {
        return 2;
    }
    if (!path) {
        return usage_error(usage);
    }
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "barlab: error: %s: cannot open: %s\n", path, strerror(errno));
        return 1;
    }
    ret = mt_scenario_parse_file(f, path, collect, &l, err, sizeof(err));
    fclose(f);
    if (ret == -2 || ret == -3) {
        snprintf(err, sizeof(err), "%s: %s", path,
                 ret == -2 ? "more than 100000 scenarios" : "out of memory");
    }
    if (ret) {
        fprintf(stderr, "barlab: error: %s\n", err);
        free(l.v);
        return 1;
    }
    if (!l.n) {
        fprintf(stderr, "barlab: error: %s: no scenarios\n", path);
        return 1;
    }
    pred = calloc(l.n, sizeof(*pred));
    if (!pred) {
        fprintf(stderr, "barlab: error: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < l.n; i++) {
        /* --cpu: the file as it would run on that CPU model. */
        if (opts.cpu_given) {
            l.v[i].cpu = opts.cpu;
        }
        l.v[i].s1_share = opts.s1_share;
        mt_predict(&l.v[i], &pred[i]);
        if (json) {
            print_oracle_json(&l.v[i], &pred[i]);
        }
    }
    if (!json) {
        printf("barlab oracle: %s, %u scenarios\n"
               "cell: predicted outcome, transactions at the device (barlab's "
               "gather model), then the rules: how the type combines, what decides "
               "the outcome\n", path, l.n);
        print_oracle_table(&l, pred);
    }
    free(pred);
    free(l.v);
    return 0;
}

/* ---- model ------------------------------------------------------------- */

/* The device end of `model`: check, print and trace each transaction. */
typedef struct {
    MtChecker checker;
    MtTraceWriter *trace;
    unsigned n, bad;
    int trace_ret;
} ModelSink;

static void model_sink(void *opaque, const MtTxn *txn, uint8_t *data)
{
    ModelSink *m = opaque;
    MtTxn judged = *txn, *t = &judged;     /* the trace keeps the verdict */
    uint32_t v = mt_check_judge(&m->checker, t);

    if (!(t->flags & MT_TXN_WRITE)) {
        memset(data, 0, t->size);
    }
    printf("  #%-3u %s +0x%02llx %3uB  %2u access%s  seq %llu..%llu  %-9s",
           m->n++, t->flags & MT_TXN_WRITE ? "W" : "R",
           (unsigned long long)t->addr, t->size, t->naccesses,
           t->naccesses == 1 ? "  " : "es", (unsigned long long)t->seq_first,
           (unsigned long long)t->seq_last, mt_flush_reason_name(t->reason));
    if (!v) {
        printf("  legal\n");
    }
    for (unsigned r = 0; r < MT_RULE__COUNT; r++) {
        if (v >> r & 1) {
            printf("  breaks %s: %s\n", mt_rule(r)->id, mt_rule(r)->title);
        }
    }
    m->bad += v != 0;
    if (m->trace && !m->trace_ret) {
        m->trace_ret = mt_trace_write_txn(m->trace, t, data);
    }
}

static int cmd_model(int argc, char **argv)
{
    const char *args[3], *trace_path = NULL;
    int nargs;
    bool fwb = false, reorder = false;
    unsigned long long seed = 0;
    const Option options[] = {
        { .name = "--fwb", .set = &fwb },
        { .name = "--reorder", .set = &reorder, .number = &seed },
        { .name = "--trace", .value = &trace_path },
        { .name = NULL },
    };
    const MtPattern *pat;
    MtAttrs s1, combined;
    uint8_t s1_attr, s2_attr, mair;
    ModelSink sink = { 0 };
    MtGather g;
    MtReorder r;
    MtAccess tmpl = { 0 };
    unsigned done;
    char err[512], name[48];
    CpuOpts opts;

    if (parse_args(argc, argv, &opts, options, NULL, args, 3, &nargs,
                   "model: bad arguments")) {
        return 2;
    }
    if (nargs != 3) {
        return usage_error("model needs PATTERN S1ATTR S2ATTR");
    }
    if (fwb_refused(&opts, fwb)) {
        return 2;
    }
    pat = mt_pattern_find(args[0]);
    if (!pat) {
        fprintf(stderr, "barlab: error: unknown pattern '%s' (see 'barlab patterns')\n",
                args[0]);
        return 1;
    }
    if (mt_parse_s1(args[1], &s1_attr) || mt_parse_s2(args[2], fwb, &s2_attr)) {
        fprintf(stderr, "barlab: error: bad attribute '%s' or '%s'\n", args[1], args[2]);
        return 1;
    }
    mt_decode_mair(s1_attr, opts.cpu->mair_features, &s1);
    if (mt_combine_share(&s1, 3, s1_share_of(&opts), s2_attr, 3, fwb, &combined) ||
        mt_encode_mair(&combined, &mair)) {
        fprintf(stderr, "barlab: error: S1 0x%02x over S2 0x%x is a reserved "
                "combination: nothing to model\n", s1_attr, s2_attr);
        return 1;
    }
    printf("%s: %s, as %s\n", pat->name, pat->title,
           mt_attrs_name(&combined, name, sizeof(name)));
    for (done = 0; done < pat->ninsns; done++) {
        MtFault f = mt_alignment_fault(&s1, s2_attr, fwb, mt_insn_class(&pat->insns[done]));

        if (mt_op_info(pat->insns[done].op)->lse && !opts.cpu->lse) {
            printf("  instruction %u (%s) is UNDEFINED on -cpu %s (no FEAT_LSE)\n", done,
                   mt_op_name(pat->insns[done].op), opts.cpu->name);
            break;
        }
        if (f != MT_FAULT_NONE) {
            printf("  instruction %u (%s at +%u) takes a %s\n", done,
                   mt_op_name(pat->insns[done].op), pat->insns[done].offset,
                   mt_fault_name(f));
            break;
        }
    }
    if (trace_path && mt_trace_writer_open(&sink.trace, trace_path, err, sizeof(err))) {
        fprintf(stderr, "barlab: error: %s\n", err);
        return 1;
    }
    mt_check_init(&sink.checker, NULL, 0);
    mt_reorder_init(&r, seed, 8, model_sink, &sink);
    mt_gather_init(&g, 4, 64, 0, reorder ? mt_reorder_push : model_sink,
                   reorder ? (void *)&r : (void *)&sink);
    tmpl.attr = mair;
    tmpl.s1_attr = s1_attr;
    tmpl.s2_attr = s2_attr;
    mt_pattern_run(pat, done, &tmpl, &g);
    mt_gather_flush(&g, MT_FLUSH_STOP, 0);
    mt_reorder_drain(&r);
    if (sink.trace) {
        if (sink.trace_ret) {
            mt_trace_writer_abort(sink.trace);
            fprintf(stderr, "barlab: error: %s: writing the trace failed\n", trace_path);
            return 1;
        }
        if (mt_trace_writer_close(sink.trace, err, sizeof(err))) {
            fprintf(stderr, "barlab: error: %s\n", err);
            return 1;
        }
    }
    printf("  %u transaction%s, %u breaking a rule\n", sink.n, sink.n == 1 ? "" : "s",
           sink.bad);
    return sink.bad ? 1 : 0;
}

/* ---- trace, patterns ----------------------------------------------------- */

static int cmd_trace(int argc, char **argv)
{
    const char *path;
    bool json;
    char err[512];

    if (!file_args(argc, argv, &path, &json)) {
        return usage_error("trace takes one file and --json");
    }
    if (mt_trace_dump(stdout, path, json, err, sizeof(err))) {
        fflush(stdout);
        fprintf(stderr, "barlab: error: %s\n", err);
        return 1;
    }
    return 0;
}

/*
 * Check a port mode (portmode.h) for the scripts, before they hand it to a
 * device: its models and, when it names one, its seed.
 */
static int cmd_port_mode(int argc, char **argv)
{
    bool json = argc == 2 && !strcmp(argv[1], "--json");
    MtPortMode m;
    char err[256];

    if (argc < 1 || argc > 2 || (argc == 2 && !json)) {
        return usage_error("port-mode takes one mode and --json");
    }
    if (mt_port_mode_parse(argv[0], 0, &m, err, sizeof(err))) {
        fprintf(stderr, "barlab: error: %s\n", err);
        return 1;
    }
    if (json) {
        printf("{\"gather\":%s,\"reorder\":%s,\"speculate\":%s,\"seed\":",
               m.gather ? "true" : "false", m.reorder ? "true" : "false",
               m.speculate ? "true" : "false");
        if (m.seeded) {
            printf("%" PRIu64 "}\n", m.seed);
        } else {
            printf("null}\n");
        }
        return 0;
    }
    printf("gather %s\nreorder %s\nspeculate %s\n", yes_no(m.gather),
           yes_no(m.reorder), yes_no(m.speculate));
    if (m.seeded) {
        printf("seed %" PRIu64 "\n", m.seed);
    }
    return 0;
}

static int cmd_patterns(void)
{
    for (unsigned i = 0; i < mt_pattern_count(); i++) {
        const MtPattern *p = mt_pattern_at(i);

        printf("%-16s %-4s %s\n", p->name, mt_target_name(p->target), p->title);
    }
    return 0;
}

/*
 * The CPU models and policies barlab knows, one a line, for the scripts;
 * cpus --json: one object per model with the features the oracle uses.
 */
static int cmd_cpus(bool json)
{
    for (unsigned i = 0; i < mt_cpu_count(); i++) {
        const MtCpu *c = mt_cpu_at(i);

        if (!json) {
            printf("%-16s %s\n", c->name, c->fwb ? "FEAT_S2FWB" : "no FWB");
            continue;
        }
        printf("{\"name\":\"%s\",\"fwb\":%s,\"dic\":%s,\"vhe\":%s,\"lse\":%s,"
               "\"xs\":%s,\"mte2\":%s,\"s1_share\":\"%s\"}\n", c->name,
               c->fwb ? "true" : "false", c->dic ? "true" : "false",
               c->vhe ? "true" : "false", c->lse ? "true" : "false",
               c->mair_features & MT_FEAT_XS ? "true" : "false",
               c->mair_features & MT_FEAT_MTE2 ? "true" : "false",
               mt_s1_share_name(c->s1_share));
    }
    return 0;
}

/*
 * The facts the host side reads (--json): patterns: one object a pattern
 * in the table's order; s1-names: the matrix's names of stage-1
 * attributes; faults: the fault ids; defaults: the CPU model and policy
 * a command defaults to, `agree`'s CPUs and `fullstack`'s policies.
 */
static int cmd_patterns_json(void)
{
    for (unsigned i = 0; i < mt_pattern_count(); i++) {
        const MtPattern *p = mt_pattern_at(i);

        printf("{\"name\":\"%s\",\"index\":%u,\"target\":\"%s\",\"title\":", p->name, i,
               mt_target_name(p->target));
        json_string(p->title);
        printf("}\n");
    }
    return 0;
}

static int cmd_s1_names(void)
{
    const char *label;
    uint8_t mair;

    putchar('{');
    for (unsigned i = 0; (label = mt_s1_label(i, &mair)); i++) {
        printf("%s\"0x%02x\":\"%s\"", i ? "," : "", mair, label);
    }
    printf("}\n");
    return 0;
}

static int cmd_faults(void)
{
    for (unsigned f = 0; f < MT_FAULT__COUNT; f++) {
        printf("{\"id\":\"%s\",\"name\":\"%s\"}\n", mt_fault_id(f), mt_fault_name(f));
    }
    return 0;
}

static int cmd_defaults(void)
{
    unsigned n = 0;

    printf("{\"cpu\":\"%s\",\"policy\":\"%s\",\"agree_cpus\":[", mt_cpu_default()->name,
           mt_policy_name(mt_policy_default()));
    for (unsigned i = 0; i < mt_cpu_count(); i++) {
        if (mt_cpu_at(i)->agree) {
            printf("%s\"%s\"", n++ ? "," : "", mt_cpu_at(i)->name);
        }
    }
    printf("],\"fullstack_policies\":[");
    n = 0;
    for (unsigned p = 0; p < MT_POLICY__COUNT; p++) {
        if (mt_policy_fullstack(p)) {
            printf("%s\"%s\"", n++ ? "," : "", mt_policy_name(p));
        }
    }
    printf("]}\n");
    return 0;
}

static int cmd_policies(void)
{
    for (unsigned i = 0; i < MT_POLICY__COUNT; i++) {
        printf("%s\n", mt_policy_name(i));
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        return usage_error("no command");
    }
    if (argv[1][0] != '-') {
        command = argv[1];
    }
    if (!strcmp(argv[1], "explain")) {
        return cmd_explain(argc - 2, argv + 2);
    } else if (!strcmp(argv[1], "oracle")) {
        return cmd_oracle(argc - 2, argv + 2);
    } else if (!strcmp(argv[1], "model")) {
        return cmd_model(argc - 2, argv + 2);
    } else if (!strcmp(argv[1], "trace")) {
        return cmd_trace(argc - 2, argv + 2);
    } else if (!strcmp(argv[1], "port-mode")) {
        return cmd_port_mode(argc - 2, argv + 2);
    } else if (!strcmp(argv[1], "patterns") || !strcmp(argv[1], "cpus") ||
               !strcmp(argv[1], "policies")) {
        if (!strcmp(argv[1], "patterns") && argc == 3 && !strcmp(argv[2], "--json")) {
            return cmd_patterns_json();
        }
        if (!strcmp(argv[1], "cpus") && argc == 3 && !strcmp(argv[2], "--json")) {
            return cmd_cpus(true);
        }
        if (argc != 2) {
            return usage_error("this command takes no arguments");
        }
        if (!strcmp(argv[1], "cpus")) {
            return cmd_cpus(false);
        }
        return !strcmp(argv[1], "patterns") ? cmd_patterns() : cmd_policies();
    } else if (!strcmp(argv[1], "s1-names") || !strcmp(argv[1], "faults") ||
               !strcmp(argv[1], "defaults")) {
        if (argc != 3 || strcmp(argv[2], "--json")) {
            return usage_error("this command takes --json");
        }
        return !strcmp(argv[1], "s1-names") ? cmd_s1_names() :
               !strcmp(argv[1], "faults") ? cmd_faults() : cmd_defaults();
    } else if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, stdout);
        return 0;
    }
    command = "";
    return usage_error("unknown command");
}
