/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scenario files (target-tests/scenarios/ *.scn): plain text, one line a
 * set of scenarios, `key=value[,value...]` words; the line stands for
 * every combination of its values.  '#' starts a comment.  Keys:
 *
 *   cpu=max|neoverse-n1|cortex-a57     policy=device|prefetchable|any|cacheable
 *   bar=pref|nonpref                   s1=<attr>   (memtype.h names/numbers)
 *   pattern=<name>|file:<FILE>         touch=first|hit    (default: both)
 *   port=<port mode, portmode.h>       (default: gather)
 *   trials=1..16                       (default: 1; register patterns only)
 *
 * Every key but touch, port and trials is required.  pattern=file:FILE
 * is a user's assembly file, relative to the scenario file; its
 * "// barlab: KIND, ..." line says what it does (MT_USER_*).
 * docs/scenarios.md has the details.
 */
#ifndef BARLAB_SCENARIO_H
#define BARLAB_SCENARIO_H

#include <stddef.h>
#include <stdio.h>

#include "oracle.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called for each scenario; a non-zero return stops the parse and is returned. */
typedef int (*MtScenarioFn)(void *opaque, const MtScenario *s, unsigned lineno);

/*
 * Parse one line; calls @fn for each scenario it declares.  Returns 0, a
 * non-zero value from @fn, or -1 with "NAME:LINE: what is wrong" in @err.
 */
int mt_scenario_parse_line(const char *line, const char *name, unsigned lineno,
                           MtScenarioFn fn, void *opaque,
                           char *err, size_t errlen);

/* Parse a whole file, line by line. */
int mt_scenario_parse_file(FILE *f, const char *name, MtScenarioFn fn,
                           void *opaque, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_SCENARIO_H */
