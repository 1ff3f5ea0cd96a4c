/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab port: a BAR's way from the CPU to the device model, through the
 * gather/reorder models and the checker of hw/memtype.
 * See port.h and docs/devices/barlab-port.md.
 */
#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qom/object.h"
#include "system/system.h"
#include "exec/cpu-barrier.h"
#include "exec/cpu-mmio-origin.h"
#include "hw/core/cpu.h"
#include "qemu/bswap.h"
#include "qemu/error-report.h"
#include "port.h"
#include "trace.h"

static uint64_t now_ns(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

/* Every transaction ends here: judge it, record it, hand it to the device. */
static void barlab_port_deliver(void *opaque, const MtTxn *t, uint8_t *data)
{
    BarlabPort *p = opaque;
    uint32_t verdict = mt_check_txn(&p->checker, t);
    bool write = t->flags & MT_TXN_WRITE;

    if (write) {
        p->ops->write(p->opaque, t->addr, data, t->size);
    } else {
        p->ops->read(p->opaque, t->addr, data, t->size);
    }
    p->txns++;
    p->gathered += t->naccesses > 1;
    if (verdict) {
        p->violations++;
        for (unsigned r = 0; r < MT_RULE__COUNT; r++) {
            if (verdict >> r & 1) {
                qemu_log_mask(LOG_GUEST_ERROR,
                              "%s: %s of %u bytes at 0x%" PRIx64 " (type 0x%02x) "
                              "breaks %s: %s\n", p->name,
                              write ? "write" : "read", t->size, t->addr,
                              t->attr, mt_rule(r)->id, mt_rule(r)->title);
            }
        }
    }
    trace_barlab_port_txn(p->name, write, t->addr, t->size, t->attr,
                          t->naccesses, t->reason, verdict);
    if (p->trace && mt_trace_write_txn(p->trace, t, data) < 0) {
        /* The writer keeps the error; cleanup reports it. */
        trace_barlab_port_trace_error(p->name);
    }
}

static void barlab_port_arm_timer(BarlabPort *p)
{
    if (p->timeout_ns && !timer_pending(p->flush_timer)) {
        timer_mod(p->flush_timer, now_ns() + p->timeout_ns);
    }
}

static void barlab_port_timeout(void *opaque)
{
    BarlabPort *p = opaque;

    mt_gather_tick(&p->gather, now_ns());
    if (p->mode == BARLAB_PORT_REORDER) {
        mt_reorder_drain(&p->reorder);
    }
    for (unsigned i = 0; i < p->gather.nlines; i++) {
        if (p->gather.lines[i].valid) {
            barlab_port_arm_timer(p);
            break;
        }
    }
}

void barlab_port_flush(BarlabPort *p, MtFlushReason why)
{
    if (p->mode != BARLAB_PORT_EXACT) {
        mt_gather_flush(&p->gather, why, now_ns());
    }
    if (p->mode == BARLAB_PORT_REORDER) {
        mt_reorder_drain(&p->reorder);
    }
}

/* A DMB or DSB on any vCPU: the buffered writes must reach the device. */
static void barlab_port_barrier(Notifier *n, void *data)
{
    BarlabPort *p = container_of(n, BarlabPort, barrier_notifier);
    const CPUBarrierEvent *ev = data;

    /* Called on the vCPU thread, with the BQL held like an MMIO callback. */
    p->barriers++;
    /*
     * A barrier orders the accesses of the PE that executes it: another
     * vCPU's DMB must not drain the write buffer of this one (each core
     * has its own write-combining buffers).
     */
    if (ev && ev->cpu && p->last_cpu >= 0 && ev->cpu->cpu_index != p->last_cpu) {
        return;
    }
    barlab_port_flush(p, MT_FLUSH_BARRIER);
    /*
     * Barriers with no access to this port between them order nothing
     * more than the first: one epoch, one trace record.  A guest kernel
     * runs millions of barriers that never touch the device.
     */
    if (p->seq == p->barrier_seq) {
        return;
    }
    p->barrier_seq = p->seq;
    p->epoch++;
    if (p->trace) {
        mt_trace_write_barrier(p->trace, p->seq, p->epoch, now_ns());
    }
}

/* Describe one access; pieces of one CPU access share its number. */
static void barlab_port_describe(BarlabPort *p, MtAccess *a, hwaddr addr,
                                 unsigned size, bool write, MemTxAttrs attrs)
{
    const CPUMMIOOrigin *o = cpu_mmio_origin();

    *a = (MtAccess) {
        .addr = addr, .size = size, .flags = write ? MT_TXN_WRITE : 0,
        .epoch = p->epoch, .time_ns = now_ns(),
    };
    if (attrs.memtype_valid) {
        p->last_cpu = current_cpu ? current_cpu->cpu_index : -1;
        a->attr = attrs.memtype;
        a->s1_attr = attrs.memtype_s1;
        a->s2_attr = attrs.memtype_s2;
        a->flags |= attrs.memtype_fwb ? MT_TXN_FWB : 0;
        a->flags |= attrs.memtype_stage2 ? 0 : MT_TXN_NO_STAGE2;
    } else {
        a->flags |= MT_TXN_UNTYPED;
        p->untyped++;
    }
    if (o) {
        if (o->kind == CPU_ACCESS_DCZVA) {
            a->flags |= MT_TXN_DCZVA;
        } else if (o->align > 1 && o->addr % o->align) {
            a->flags |= MT_TXN_UNALIGNED;
        }
        if (o->seq != p->origin_seq) {
            p->origin_seq = o->seq;
            p->seq++;
        }
    } else {
        p->seq++;
    }
    a->seq = p->seq;
}

static MemTxResult barlab_port_access(BarlabPort *p, hwaddr addr,
                                      uint8_t *data, unsigned size,
                                      bool write, MemTxAttrs attrs)
{
    MtAccess a;
    MtTxn t;

    barlab_port_describe(p, &a, addr, size, write, attrs);
    p->accesses++;
    switch (p->mode) {
    case BARLAB_PORT_EXACT:
        mt_txn_from_access(&a, &t);
        barlab_port_deliver(p, &t, data);
        break;
    case BARLAB_PORT_GATHER:
    case BARLAB_PORT_REORDER:
        /* A read flushes the gather buffer and drains the reorder window. */
        mt_gather_access(&p->gather, &a, data);
        barlab_port_arm_timer(p);
        break;
    }
    return MEMTX_OK;
}

static MemTxResult barlab_port_read(void *opaque, hwaddr addr, uint64_t *data,
                                    unsigned size, MemTxAttrs attrs)
{
    uint8_t buf[8] = { 0 };
    MemTxResult r = barlab_port_access(opaque, addr, buf, size, false, attrs);

    *data = ldn_le_p(buf, size);
    return r;
}

static MemTxResult barlab_port_write(void *opaque, hwaddr addr, uint64_t data,
                                     unsigned size, MemTxAttrs attrs)
{
    uint8_t buf[8];

    stn_le_p(buf, size, data);
    return barlab_port_access(opaque, addr, buf, size, true, attrs);
}

static const MemoryRegionOps barlab_port_ops = {
    .read_with_attrs = barlab_port_read,
    .write_with_attrs = barlab_port_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid.min_access_size = 1,
    .valid.max_access_size = 8,
    .impl.min_access_size = 1,
    .impl.max_access_size = 8,
};

static void barlab_port_exit(Notifier *n, void *data)
{
    barlab_port_cleanup(container_of(n, BarlabPort, exit_notifier));
}

static void barlab_port_add_counter(Object *owner, const char *name,
                                    const char *counter, uint64_t *v)
{
    g_autofree char *prop = g_strdup_printf("%s-%s", name, counter);

    object_property_add_uint64_ptr(owner, prop, v, OBJ_PROP_FLAG_READ);
}

static bool barlab_port_parse_mode(const char *mode, BarlabPortMode *out,
                                   Error **errp)
{
    static const char *const names[] = {
        [BARLAB_PORT_EXACT] = "exact",
        [BARLAB_PORT_GATHER] = "gather",
        [BARLAB_PORT_REORDER] = "reorder",
    };

    for (unsigned i = 0; i < ARRAY_SIZE(names); i++) {
        if (!g_strcmp0(mode ? mode : "gather", names[i])) {
            *out = i;
            return true;
        }
    }
    error_setg(errp, "port-mode must be exact, gather or reorder, not '%s'",
               mode);
    return false;
}

void barlab_port_init(BarlabPort *p, Object *owner, const char *name,
                      uint64_t size, const BarlabPortConf *conf,
                      const BarlabPortOps *ops, void *opaque,
                      const MtExpect *expect, unsigned nexpect, Error **errp)
{
    char err[256];

    memset(p, 0, sizeof(*p));
    p->last_cpu = -1;
    p->name = name;
    p->ops = ops;
    p->opaque = opaque;
    if (!barlab_port_parse_mode(conf->mode, &p->mode, errp)) {
        return;
    }
    if (mt_gather_init(&p->gather, conf->lines, conf->line_size, 0,
                       p->mode == BARLAB_PORT_REORDER ? mt_reorder_push
                                                      : barlab_port_deliver,
                       p->mode == BARLAB_PORT_REORDER ? (void *)&p->reorder
                                                      : (void *)p)) {
        error_setg(errp, "gather-lines must be 1..%d and gather-line-size a "
                   "power of two from 8 to %d", MT_GATHER_MAX_LINES,
                   MT_GATHER_MAX_LINE_SIZE);
        return;
    }
    mt_reorder_init(&p->reorder, conf->seed, 8, barlab_port_deliver, p);
    mt_check_init(&p->checker, expect, nexpect);
    p->timeout_ns = conf->timeout_ns;
    if (conf->trace) {
        if (mt_trace_writer_open(&p->trace, conf->trace, err, sizeof(err))) {
            error_setg(errp, "trace: %s", err);
            return;
        }
        p->trace_path = g_strdup(conf->trace);
    }
    p->flush_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, barlab_port_timeout, p);
    memory_region_init_io(&p->mr, owner, &barlab_port_ops, p, name, size);

    p->barrier_notifier.notify = barlab_port_barrier;
    cpu_barrier_notifier_add(&p->barrier_notifier);
    p->exit_notifier.notify = barlab_port_exit;
    qemu_add_exit_notifier(&p->exit_notifier);

    barlab_port_add_counter(owner, name, "accesses", &p->accesses);
    barlab_port_add_counter(owner, name, "txns", &p->txns);
    barlab_port_add_counter(owner, name, "gathered", &p->gathered);
    barlab_port_add_counter(owner, name, "violations", &p->violations);
    barlab_port_add_counter(owner, name, "barriers", &p->barriers);
    barlab_port_add_counter(owner, name, "untyped", &p->untyped);
}

void barlab_port_cleanup(BarlabPort *p)
{
    char err[256];

    if (p->barrier_notifier.notify) {
        barlab_port_flush(p, MT_FLUSH_STOP);
        cpu_barrier_notifier_remove(&p->barrier_notifier);
        qemu_remove_exit_notifier(&p->exit_notifier);
        p->barrier_notifier.notify = NULL;
    }
    if (p->flush_timer) {
        timer_free(p->flush_timer);
        p->flush_timer = NULL;
    }
    if (p->trace) {
        if (mt_trace_writer_close(p->trace, err, sizeof(err))) {
            error_report("%s: %s", p->name, err);
        }
        p->trace = NULL;
    }
    g_free(p->trace_path);
    p->trace_path = NULL;
}
