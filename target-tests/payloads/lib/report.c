/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-unit-tests style results: report() prints one PASS/FAIL line per
 * check, report_summary() the totals; abort_test() is for conditions
 * under which running on would only produce noise.  Under barlab-vmm each
 * also goes through the ucall channel, so the VMM's outcome does not
 * depend on reading the console.
 */
#include "libpl.h"

static unsigned tests, failures;

#define REPORT_LEN 200

static void vreport(char *buf, const char *what, const char *fmt, va_list ap)
{
    vsnprintf(buf, REPORT_LEN, fmt, ap);
    printf("%s: %s\n", what, buf);
}

void report(bool pass, const char *fmt, ...)
{
    char buf[REPORT_LEN];
    va_list ap;

    tests++;
    failures += !pass;
    va_start(ap, fmt);
    vreport(buf, pass ? "PASS" : "FAIL", fmt, ap);
    va_end(ap);
    ucall_report(pass, buf);
}

int report_summary(void)
{
    printf("SUMMARY: %u tests, %u unexpected failures\n", tests, failures);
    ucall_summary(tests, failures);
    return failures ? 1 : 0;
}

void abort_test(const char *fmt, ...)
{
    char buf[REPORT_LEN];
    va_list ap;

    va_start(ap, fmt);
    vreport(buf, "FATAL", fmt, ap);
    va_end(ap);
    ucall_abort(buf);
    system_off();
}

void require_el2(const char *prefix)
{
    if (current_el() != 2) {
        abort_test("%sentered at EL%u: run with -M virt,virtualization=on", prefix,
                   current_el());
    }
}
