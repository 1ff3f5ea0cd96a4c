/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by barlab's qtests. */
#ifndef BARLAB_QTEST_H
#define BARLAB_QTEST_H

#include "libqtest.h"
#include "qobject/qdict.h"

/* A uint64 QOM property of the first -device without an id. */
static inline uint64_t barlab_qom_u64(QTestState *qts, const char *prop)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments': "
                           "{'path': '/machine/peripheral-anon/device[0]', "
                           "'property': %s}}", prop);
    uint64_t v;

    g_assert(qdict_haskey(rsp, "return"));
    v = qdict_get_int(rsp, "return");
    qobject_unref(rsp);
    return v;
}

#endif /* BARLAB_QTEST_H */
