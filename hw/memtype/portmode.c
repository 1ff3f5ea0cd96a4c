/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The port mode's syntax: see portmode.h. */
#include "portmode.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *name;
    bool gather, reorder, speculate;
    bool takes_seed;
} modes[] = {
    { "exact", false, false, false, false },
    { "gather", true, false, false, false },
    { "reorder", true, true, false, true },
    { "speculate", true, false, true, true },
    { "reorder+speculate", true, true, true, true },
};

/* A decimal or 0x-hexadecimal number that fits 64 bits, nothing after it. */
static bool parse_seed(const char *s, uint64_t *v)
{
    char *end;
    unsigned long long n;

    if (!isdigit((unsigned char)s[0])) {
        return false;
    }
    errno = 0;
    n = strtoull(s, &end, 0);
    if (errno || *end) {
        return false;
    }
    *v = n;
    return true;
}

int mt_port_mode_parse(const char *str, uint64_t default_seed, MtPortMode *m,
                       char *err, size_t errlen)
{
    const char *mode = str ? str : MT_PORT_MODE_DEFAULT;
    const char *colon = strchr(mode, ':');
    size_t len = colon ? (size_t)(colon - mode) : strlen(mode);

    for (unsigned i = 0; i < ARRAY_SIZE(modes); i++) {
        if (strlen(modes[i].name) != len || strncmp(mode, modes[i].name, len)) {
            continue;
        }
        memset(m, 0, sizeof(*m));
        m->gather = modes[i].gather;
        m->reorder = modes[i].reorder;
        m->speculate = modes[i].speculate;
        m->seed = default_seed;
        if (!colon) {
            return 0;
        }
        if (!modes[i].takes_seed) {
            snprintf(err, errlen, "port-mode '%s': %s takes no seed", mode,
                     modes[i].name);
            return -1;
        }
        if (!parse_seed(colon + 1, &m->seed)) {
            snprintf(err, errlen, "port-mode '%s': its seed must be a number "
                     "from 0 to 2^64-1, not '%s'", mode, colon + 1);
            return -1;
        }
        m->seeded = true;
        return 0;
    }
    snprintf(err, errlen, "port-mode must be exact, gather or reorder[:SEED], "
             "speculate[:SEED] or reorder+speculate[:SEED], not '%s'", mode);
    return -1;
}
