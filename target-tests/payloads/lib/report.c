/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-unit-tests style results: report() prints one PASS/FAIL line per
 * check, report_summary() the totals; abort_test() is for conditions
 * under which running on would only produce noise.
 */
#include "libpl.h"

static unsigned tests, failures;

static void vreport(const char *what, const char *fmt, va_list ap)
{
    char buf[200];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    printf("%s: %s\n", what, buf);
}

void report(bool pass, const char *fmt, ...)
{
    va_list ap;

    tests++;
    failures += !pass;
    va_start(ap, fmt);
    vreport(pass ? "PASS" : "FAIL", fmt, ap);
    va_end(ap);
}

int report_summary(void)
{
    printf("SUMMARY: %u tests, %u unexpected failures\n", tests, failures);
    return failures ? 1 : 0;
}

void abort_test(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport("FATAL", fmt, ap);
    va_end(ap);
    system_off();
}
