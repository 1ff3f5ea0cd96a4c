// SPDX-License-Identifier: GPL-2.0-or-later
// Test helper: an MtEmitFn that records every transaction and its data,
// and a device memory image built from the writes in arrival order.
#ifndef BARLAB_TEST_TXN_COLLECTOR_H
#define BARLAB_TEST_TXN_COLLECTOR_H

#include <cstring>
#include <vector>

#include "txn.h"

struct Collected {
    MtTxn txn;
    std::vector<uint8_t> data;
};

struct Collector {
    std::vector<Collected> out;
    std::vector<uint8_t> memory = std::vector<uint8_t>(4096, 0);

    static void emit(void *opaque, const MtTxn *t, uint8_t *data)
    {
        Collector *c = static_cast<Collector *>(opaque);

        if (t->flags & MT_TXN_WRITE) {
            std::memcpy(&c->memory[t->addr], data, t->size);
        } else {
            std::memcpy(data, &c->memory[t->addr], t->size);
        }
        c->out.push_back({ *t, std::vector<uint8_t>(data, data + t->size) });
    }
};

#endif
