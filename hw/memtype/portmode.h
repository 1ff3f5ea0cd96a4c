/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The port mode: which of barlab's models sit between the CPU and a BAR
 * (docs/specs/barlab-port.rst).  One syntax, parsed here for the port's
 * `port-mode` property and for the scenario files' `port=` key:
 *
 *   exact | gather | reorder[:SEED] | speculate[:SEED] | reorder+speculate[:SEED]
 *
 * SEED is a decimal or 0x-hexadecimal number from 0 to 2^64-1.
 */
#ifndef BARLAB_PORTMODE_H
#define BARLAB_PORTMODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    bool gather;            /* write gathering where the type permits it */
    bool reorder;           /* seeded reordering where the type permits it */
    bool speculate;         /* seeded speculative reads where permitted */
    bool seeded;            /* the value named its seed */
    uint64_t seed;
} MtPortMode;

/* The mode the port runs in when none is given. */
#define MT_PORT_MODE_DEFAULT "gather"

/*
 * Parse @str into @m; without ":SEED" its seed is @default_seed.  Returns
 * 0, or -1 with what is wrong (naming @str) in @err.
 */
int mt_port_mode_parse(const char *str, uint64_t default_seed, MtPortMode *m,
                       char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_PORTMODE_H */
