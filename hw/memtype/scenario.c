/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The scenario-file parser: see scenario.h. */
#define _POSIX_C_SOURCE 200809L     /* strtok_r */
#include "scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 4096
#define MAX_VALUES 64

typedef enum {
    KEY_CPU, KEY_POLICY, KEY_BAR, KEY_S1, KEY_PATTERN, KEY_TOUCH, KEY_PORT, KEY_TRIALS,
    KEY__COUNT
} Key;

static const char *const key_names[KEY__COUNT] = {
    "cpu", "policy", "bar", "s1", "pattern", "touch", "port", "trials",
};

/* Keys a line may leave out: touch (both), port, trials (mt_scenario_defaults()). */
#define OPTIONAL_KEYS (1u << KEY_TOUCH | 1u << KEY_PORT | 1u << KEY_TRIALS)

/* The values of one line, decoded. */
typedef struct {
    unsigned n[KEY__COUNT];
    const MtCpu *cpu[MAX_VALUES];
    uint8_t policy[MAX_VALUES];
    bool bar[MAX_VALUES];
    uint8_t s1[MAX_VALUES];
    const MtPattern *pattern[MAX_VALUES];
    uint8_t touch[MAX_VALUES];
    MtPortMode port[MAX_VALUES];
    char port_spec[MAX_VALUES][48];
    uint8_t trials[MAX_VALUES];
    /* pattern=file:FILE, one a line: FILE, its path, what it declares */
    const char *scenario_name;
    char file[MT_PATTERN_FILE_MAX];
    char path[MT_PATTERN_PATH_MAX];
    uint8_t kinds;
} Values;

#define FILE_PREFIX "file:"
#define DECLARATION "barlab:"

/*
 * The "// barlab: KIND, KIND" line of the pattern file @f, if it has one,
 * into v->kinds (MT_USER_*); false with why in @why for an unknown kind.
 */
static bool read_declaration(FILE *f, Values *v, char *why, size_t whylen)
{
    char line[MAX_LINE];
    unsigned lineno = 0;

    while (fgets(line, sizeof(line), f)) {
        char *p = line, *word, *save = NULL;

        lineno++;
        p += strspn(p, " \t");
        if (strncmp(p, "//", 2)) {
            continue;
        }
        p += 2 + strspn(p + 2, " \t");
        if (strncmp(p, DECLARATION, strlen(DECLARATION))) {
            continue;
        }
        for (word = strtok_r(p + strlen(DECLARATION), ", \t\r\n", &save); word;
             word = strtok_r(NULL, ", \t\r\n", &save)) {
            unsigned kind = mt_user_kind_parse(word);

            if (!kind) {
                snprintf(why, whylen, "%s:%u: unknown access kind '%s' after '// %s' "
                         "(aligned, unaligned, dczva, exclusive, atomic)",
                         v->file, lineno, word, DECLARATION);
                return false;
            }
            v->kinds |= kind;
        }
        return true;
    }
    return true;
}

/*
 * pattern=file:FILE: FILE, relative to the scenario file (unless
 * absolute), must be there; what it declares goes into @v.
 */
static bool decode_pattern_file(const char *spec, Values *v, char *why, size_t whylen)
{
    const char *file = spec + strlen(FILE_PREFIX), *slash;
    int dirlen = 0;
    FILE *f;
    bool ok;

    if (v->file[0]) {
        snprintf(why, whylen, "one pattern file a line, not '%s' and '%s'", v->file, file);
        return false;
    }
    if (!*file || strlen(file) >= sizeof(v->file)) {
        snprintf(why, whylen, "pattern=file: needs a file name of 1 to %zu bytes",
                 sizeof(v->file) - 1);
        return false;
    }
    slash = strrchr(v->scenario_name, '/');
    if (file[0] != '/' && slash) {
        dirlen = (int)(slash - v->scenario_name) + 1;
    }
    if ((size_t)snprintf(v->path, sizeof(v->path), "%.*s%s", dirlen, v->scenario_name,
                         file) >= sizeof(v->path)) {
        snprintf(why, whylen, "pattern file path too long: '%s'", file);
        return false;
    }
    strcpy(v->file, file);
    f = fopen(v->path, "r");
    if (!f) {
        snprintf(why, whylen, "pattern file '%s' (%s, relative to the scenario file): %s",
                 file, v->path, strerror(errno));
        return false;
    }
    ok = read_declaration(f, v, why, whylen);
    fclose(f);
    return ok;
}

static int fail(char *err, size_t errlen, const char *name, unsigned lineno,
                const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "%s:%u: ", name, lineno);

    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen) {
        vsnprintf(err + n, errlen - n, fmt, ap);
    }
    va_end(ap);
    return -1;
}

/*
 * Decode @val for @key into slot @i of @v; false if it is not a valid
 * value, with why in @why when there is more to say than "bad".
 */
static bool decode_value(Key key, const char *val, Values *v, unsigned i,
                         char *why, size_t whylen)
{
    char *end;
    unsigned long n;

    switch (key) {
    case KEY_PORT:
        if (strlen(val) >= sizeof(v->port_spec[i])) {
            snprintf(why, whylen, "port '%s' is too long", val);
            return false;
        }
        strcpy(v->port_spec[i], val);
        return mt_port_mode_parse(val, 0, &v->port[i], why, whylen) == 0;
    case KEY_TRIALS:
        n = strtoul(val, &end, 10);
        if (val[0] < '1' || val[0] > '9' || *end || n > MT_TRIALS_MAX) {
            snprintf(why, whylen, "trials must be a number from 1 to %d, not '%s'",
                     MT_TRIALS_MAX, val);
            return false;
        }
        v->trials[i] = (uint8_t)n;
        return true;
    case KEY_CPU:
        return (v->cpu[i] = mt_cpu_find(val)) != NULL;
    case KEY_POLICY:
        return mt_policy_parse(val, &v->policy[i]) == 0;
    case KEY_BAR:
        v->bar[i] = !strcmp(val, "pref");
        return v->bar[i] || !strcmp(val, "nonpref");
    case KEY_S1:
        return mt_parse_s1(val, &v->s1[i]) == MT_OK;
    case KEY_PATTERN:
        if (!strncmp(val, FILE_PREFIX, strlen(FILE_PREFIX))) {
            v->pattern[i] = mt_pattern_user();
            return decode_pattern_file(val, v, why, whylen);
        }
        return (v->pattern[i] = mt_pattern_find(val)) != NULL;
    case KEY_TOUCH:
        v->touch[i] = strcmp(val, "first") ? MT_TOUCH_HIT : MT_TOUCH_FIRST;
        return !strcmp(val, "first") || !strcmp(val, "hit");
    default:
        return false;
    }
}

static int parse_word(char *word, Values *v, const char *name, unsigned lineno,
                      char *err, size_t errlen)
{
    char *eq = strchr(word, '='), *val, *save = NULL, why[MT_PATTERN_PATH_MAX + 512];
    int key = -1;

    if (!eq) {
        return fail(err, errlen, name, lineno, "expected key=value, got '%s'", word);
    }
    *eq = '\0';
    for (unsigned k = 0; k < KEY__COUNT; k++) {
        if (!strcmp(word, key_names[k])) {
            key = k;
        }
    }
    if (key < 0) {
        return fail(err, errlen, name, lineno, "unknown key '%s'", word);
    }
    if (v->n[key]) {
        return fail(err, errlen, name, lineno, "key '%s' given twice", word);
    }
    for (val = strtok_r(eq + 1, ",", &save); val; val = strtok_r(NULL, ",", &save)) {
        if (v->n[key] == MAX_VALUES) {
            return fail(err, errlen, name, lineno, "more than %d values for '%s'",
                        MAX_VALUES, word);
        }
        why[0] = '\0';
        if (!decode_value(key, val, v, v->n[key], why, sizeof(why))) {
            if (why[0]) {
                return fail(err, errlen, name, lineno, "%s", why);
            }
            return fail(err, errlen, name, lineno, "bad %s '%s'", word, val);
        }
        v->n[key]++;
    }
    if (!v->n[key]) {
        return fail(err, errlen, name, lineno, "no value for '%s'", word);
    }
    return 0;
}

int mt_scenario_parse_line(const char *line, const char *name, unsigned lineno,
                           MtScenarioFn fn, void *opaque,
                           char *err, size_t errlen)
{
    char buf[MAX_LINE], *word, *save = NULL, *hash;
    Values v;
    unsigned idx[KEY__COUNT] = { 0 };

    memset(&v, 0, sizeof(v));
    v.scenario_name = name;

    if (strlen(line) >= sizeof(buf)) {
        return fail(err, errlen, name, lineno, "line longer than %d bytes", MAX_LINE - 1);
    }
    strcpy(buf, line);
    hash = strchr(buf, '#');
    if (hash) {
        *hash = '\0';
    }
    for (word = strtok_r(buf, " \t\r\n", &save); word;
         word = strtok_r(NULL, " \t\r\n", &save)) {
        if (parse_word(word, &v, name, lineno, err, errlen)) {
            return -1;
        }
    }
    for (unsigned k = 0; k < KEY__COUNT && !v.n[k]; k++) {
        if (k == KEY__COUNT - 1) {
            return 0;   /* blank or comment */
        }
    }
    if (!v.n[KEY_TOUCH]) {
        v.touch[0] = MT_TOUCH_FIRST;
        v.touch[1] = MT_TOUCH_HIT;
        v.n[KEY_TOUCH] = 2;
    }
    if (!v.n[KEY_PORT] || !v.n[KEY_TRIALS]) {
        MtScenario d;

        mt_scenario_defaults(&d);
        if (!v.n[KEY_PORT]) {
            v.port[0] = d.port;
            strcpy(v.port_spec[0], d.port_spec);
            v.n[KEY_PORT] = 1;
        }
        if (!v.n[KEY_TRIALS]) {
            v.trials[0] = d.trials;
            v.n[KEY_TRIALS] = 1;
        }
    }
    for (unsigned k = 0; k < KEY__COUNT; k++) {
        if (!v.n[k] && !(OPTIONAL_KEYS & 1u << k)) {
            return fail(err, errlen, name, lineno, "missing key '%s'", key_names[k]);
        }
    }
    /* Every combination, the last key varying fastest. */
    for (;;) {
        MtScenario s = {
            .cpu = v.cpu[idx[KEY_CPU]], .policy = v.policy[idx[KEY_POLICY]],
            .bar_prefetchable = v.bar[idx[KEY_BAR]], .s1_attr = v.s1[idx[KEY_S1]],
            .pattern = v.pattern[idx[KEY_PATTERN]], .touch = v.touch[idx[KEY_TOUCH]],
            .port = v.port[idx[KEY_PORT]], .trials = v.trials[idx[KEY_TRIALS]],
        };
        int k, ret;

        strcpy(s.port_spec, v.port_spec[idx[KEY_PORT]]);
        if (s.pattern == mt_pattern_user()) {
            s.pattern_kinds = v.kinds;
            strcpy(s.pattern_file, v.file);
            strcpy(s.pattern_path, v.path);
        }
        if (!mt_window(&s)) {
            return fail(err, errlen, name, lineno, "pattern %s runs on barlab-nic's push "
                        "page, a prefetchable BAR: bar=pref, not bar=nonpref", s.pattern->name);
        }
        if (s.trials > 1 && s.pattern->target == MT_TARGET_BAR) {
            return fail(err, errlen, name, lineno, "trials=%u: pattern %s has no device "
                        "register to judge; trials repeat the register patterns "
                        "(db_*, bf_*, mp_*, rc_*)", s.trials, s.pattern->name);
        }
        ret = fn(opaque, &s, lineno);

        if (ret) {
            return ret;
        }
        for (k = KEY__COUNT - 1; k >= 0 && ++idx[k] == v.n[k]; k--) {
            idx[k] = 0;
        }
        if (k < 0) {
            return 0;
        }
    }
}

int mt_scenario_parse_file(FILE *f, const char *name, MtScenarioFn fn,
                           void *opaque, char *err, size_t errlen)
{
    char line[MAX_LINE + 1];
    unsigned lineno = 0;
    int ret;

    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            return fail(err, errlen, name, lineno, "line longer than %d bytes",
                        MAX_LINE - 1);
        }
        ret = mt_scenario_parse_line(line, name, lineno, fn, opaque, err, errlen);
        if (ret) {
            return ret;
        }
    }
    if (ferror(f)) {
        return fail(err, errlen, name, lineno, "read error");
    }
    return 0;
}
