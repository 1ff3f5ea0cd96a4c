/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by barlab's qtests. */
#ifndef BARLAB_QTEST_H
#define BARLAB_QTEST_H

#include "libqtest.h"
#include "libqos/pci.h"
#include "qobject/qdict.h"
#include "standard-headers/linux/pci_regs.h"

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

/*
 * Function Level Reset through config space, as a host's pci_reset_function()
 * does it: the device must advertise FLR in its PCIe capability, and the
 * initiate bit must read back clear.  The BARs are unassigned afterwards.
 */
static inline void barlab_flr(QPCIDevice *dev)
{
    uint8_t exp = qpci_find_capability(dev, PCI_CAP_ID_EXP, 0);
    uint16_t ctl;

    g_assert(exp);
    g_assert(qpci_config_readl(dev, exp + PCI_EXP_DEVCAP) &
             PCI_EXP_DEVCAP_FLR);
    ctl = qpci_config_readw(dev, exp + PCI_EXP_DEVCTL);
    qpci_config_writew(dev, exp + PCI_EXP_DEVCTL, ctl | PCI_EXP_DEVCTL_BCR_FLR);
    g_assert_false(qpci_config_readw(dev, exp + PCI_EXP_DEVCTL) &
                   PCI_EXP_DEVCTL_BCR_FLR);
    g_assert_cmphex(qpci_config_readw(dev, PCI_COMMAND) &
                    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), ==, 0);
}

#endif /* BARLAB_QTEST_H */
