/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "key=value key=value" arguments (QEMU's -append, barlab-vmm's command
 * line) with numeric values: every key must be known and every value a
 * number, else the payload stops and says which argument is wrong, rather
 * than running a test nobody asked for.
 */
#include "libpl.h"

void args_parse(const char *args, const struct arg_u64 *known, unsigned n)
{
    const char *p = args, *end;

    while (p && *p) {
        unsigned k;
        size_t len;

        if (*p == ' ') {
            p++;
            continue;
        }
        for (k = 0; k < n; k++) {
            len = strlen(known[k].key);
            if (!strncmp(p, known[k].key, len) && p[len] == '=') {
                break;
            }
        }
        if (k == n) {
            char keys[128] = "";
            size_t used = 0;

            for (k = 0; k < n && used < sizeof(keys); k++) {
                used += snprintf(keys + used, sizeof(keys) - used, " %s=",
                                 known[k].key);
            }
            abort_test("unknown argument at '%s' (known:%s)", p, keys);
        }
        *known[k].val = strtou64(p + len + 1, &end);
        if (end == p + len + 1 || (*end && *end != ' ')) {
            abort_test("bad number in argument '%s'", p);
        }
        p = end;
    }
}
