/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab port: a BAR's way from the CPU to the device model, through the
 * gather/reorder models and the checker of hw/memtype.
 * See port.h and docs/specs/barlab-port.rst.
 */
#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qom/object.h"
#include "system/system.h"
#include "exec/cpu-barrier.h"
#include "exec/cpu-mmio-origin.h"
#include "hw/core/cpu.h"
#include "hw/pci/pcie.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "port.h"
#include "memtype/portmode.h"
#include "trace.h"

static uint64_t now_ns(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

/* One guest-error line per rule a transaction breaks. */
static void barlab_port_log_verdict(BarlabPort *p, const MtTxn *t)
{
    g_autofree char *after = NULL;

    if (t->verdict_seq != MT_SEQ_NONE) {
        after = g_strdup_printf(" (program-later access %" PRIu64
                                " arrived first)", t->verdict_seq);
    }
    for (unsigned r = MT_RULE_VERDICT_FIRST; r <= MT_RULE_VERDICT_LAST; r++) {
        if (t->verdict >> r & 1) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "%s: %s%s of %u bytes at 0x%" PRIx64 " (type 0x%02x, "
                          "accesses %" PRIu64 "..%" PRIu64 ") breaks %s: %s%s\n",
                          p->name, t->flags & MT_TXN_SPECULATIVE ?
                          "speculative " : "",
                          t->flags & MT_TXN_WRITE ? "write" : "read", t->size,
                          t->addr, t->attr, t->seq_first, t->seq_last,
                          mt_rule(r)->id, mt_rule(r)->title, after ?: "");
        }
    }
}

/* Every transaction ends here: judge it, record it, hand it to the device. */
static void barlab_port_deliver(void *opaque, const MtTxn *txn, uint8_t *data)
{
    BarlabPort *p = opaque;
    MtTxn judged = *txn, *t = &judged;
    uint32_t verdict = mt_check_judge(&p->checker, t);
    bool write = t->flags & MT_TXN_WRITE;
    const MtTxn *outer = p->current;

    p->current = t;
    if (write) {
        p->ops->write(p->opaque, t->addr, data, t->size);
    } else {
        p->ops->read(p->opaque, t->addr, data, t->size);
    }
    p->current = outer;
    p->txns++;
    p->gathered += t->naccesses > 1;
    if (verdict) {
        p->violations++;
        barlab_port_log_verdict(p, t);
    }
    trace_barlab_port_txn(p->name, write, t->addr, t->size, t->attr,
                          t->naccesses, t->reason, verdict);
    if (p->trace && mt_trace_write_txn(p->trace, t, data) < 0) {
        /* The writer keeps the error; cleanup reports it. */
        trace_barlab_port_trace_error(p->name);
    }
}

/* Does the port hold transactions that the timeout must deliver? */
static bool barlab_port_holding(const BarlabPort *p)
{
    if (p->mode.reorder && p->reorder.npending) {
        return true;
    }
    for (unsigned i = 0; i < p->gather.nlines; i++) {
        if (p->gather.lines[i].valid) {
            return true;
        }
    }
    return false;
}

/*
 * Only while something waits: arming a virtual-clock timer wakes QEMU's
 * main loop, which costs a guest that streams complete lines and reads
 * more than the rest of the port together.
 */
static void barlab_port_arm_timer(BarlabPort *p)
{
    if (p->timeout_ns && !timer_pending(p->flush_timer) &&
        barlab_port_holding(p)) {
        timer_mod(p->flush_timer, now_ns() + p->timeout_ns);
    }
}

static void barlab_port_timeout(void *opaque)
{
    BarlabPort *p = opaque;

    mt_gather_tick(&p->gather, now_ns());
    if (p->mode.reorder) {
        mt_reorder_drain(&p->reorder);
    }
    barlab_port_arm_timer(p);
}

void barlab_port_flush(BarlabPort *p, MtFlushReason why)
{
    if (p->mode.gather) {
        mt_gather_flush(&p->gather, why, now_ns());
    }
    if (p->mode.reorder) {
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
    if (!p->unsafe) {
        /* a broken interconnect lets the barrier order nothing */
        barlab_port_flush(p, MT_FLUSH_BARRIER);
    }
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

/*
 * The reads the PE may issue on its own beside the program read @a: they
 * reach the device (with every side effect a read there has), and their
 * data is dropped.
 */
static void barlab_port_speculate(BarlabPort *p, const MtAccess *a)
{
    MtSpecRead spec[MT_SPEC_MAX_READS];
    unsigned n = mt_spec_reads(&p->spec, a, spec);
    uint8_t scratch[MT_GATHER_MAX_LINE_SIZE];
    MtTxn t;

    for (unsigned i = 0; i < n; i++) {
        mt_spec_txn(a, &spec[i], &t);
        t.size = MIN(t.size, sizeof(scratch));
        memset(scratch, 0, t.size);
        barlab_port_deliver(p, &t, scratch);
    }
}

static MemTxResult barlab_port_access(BarlabPort *p, hwaddr addr,
                                      uint8_t *data, unsigned size,
                                      bool write, MemTxAttrs attrs)
{
    MtAccess a;
    MtTxn t;

    barlab_port_describe(p, &a, addr, size, write, attrs);
    p->accesses++;
    if (!p->mode.gather) {
        mt_txn_from_access(&a, &t);
        barlab_port_deliver(p, &t, data);
        return MEMTX_OK;
    }
    /* A read flushes the gather buffer and drains the reorder window. */
    mt_gather_access(&p->gather, &a, data);
    if (p->mode.speculate && !write) {
        barlab_port_speculate(p, &a);
    }
    barlab_port_arm_timer(p);
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

/* port-mode: the syntax is hw/memtype/portmode.h's, shared with scenario files. */
static bool barlab_port_parse_mode(const char *str, uint64_t default_seed,
                                   BarlabPortMode *m, Error **errp)
{
    MtPortMode pm;
    char err[256];

    if (mt_port_mode_parse(str, default_seed, &pm, err, sizeof(err))) {
        error_setg(errp, "%s", err);
        return false;
    }
    *m = (BarlabPortMode) {
        .gather = pm.gather, .reorder = pm.reorder, .speculate = pm.speculate,
        .seed = pm.seed,
    };
    return true;
}

/*
 * The reorder and speculation models, their seeded generators at the
 * start, and the models' unsafe flags: at realize and after a reset, so
 * that the same seed gives the same run after either.
 */
static void barlab_port_start(BarlabPort *p, unsigned line_size,
                              uint64_t size)
{
    mt_reorder_init(&p->reorder, p->mode.seed, 8, barlab_port_deliver, p);
    /* Speculation is seeded apart, so that it does not shift the order. */
    mt_spec_init(&p->spec, p->mode.seed ^ UINT64_C(0x5eed5bec), line_size,
                 size);
    p->gather.unsafe = p->reorder.unsafe = p->spec.unsafe = p->unsafe;
}

void barlab_port_reset(BarlabPort *p)
{
    MtGather *g = &p->gather;

    if (p->flush_timer) {
        timer_del(p->flush_timer);
    }
    /* Lines and reorder slots are dropped, never delivered. */
    mt_gather_init(g, g->nlines, g->line_size, g->timeout_ns, g->emit,
                   g->opaque);
    barlab_port_start(p, p->spec.line_size, p->spec.region_size);
    mt_check_init(&p->checker, p->checker.expect, p->checker.nexpect);
    p->current = NULL;
    p->last_cpu = -1;
    p->accesses = p->txns = p->gathered = p->violations = 0;
    p->barriers = p->untyped = 0;
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
    if (!barlab_port_parse_mode(conf->mode, conf->seed, &p->mode, errp)) {
        return;
    }
    if (mt_gather_init(&p->gather, conf->lines, conf->line_size, 0,
                       p->mode.reorder ? mt_reorder_push : barlab_port_deliver,
                       p->mode.reorder ? (void *)&p->reorder : (void *)p)) {
        error_setg(errp, "gather-lines must be 1..%d and gather-line-size a "
                   "power of two from 8 to %d", MT_GATHER_MAX_LINES,
                   MT_GATHER_MAX_LINE_SIZE);
        return;
    }
    mt_check_init(&p->checker, expect, nexpect);
    p->unsafe = conf->unsafe;
    barlab_port_start(p, conf->line_size, size);
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
    barlab_port_add_counter(owner, name, "reordered", &p->reorder.reordered);
    barlab_port_add_counter(owner, name, "speculative", &p->spec.issued);
    for (unsigned r = MT_RULE_VERDICT_FIRST; r <= MT_RULE_VERDICT_LAST; r++) {
        g_autofree char *counter = g_strdup_printf("violations-%s",
                                                   mt_rule(r)->id);

        barlab_port_add_counter(owner, name, counter,
                                &p->checker.violations[r]);
    }
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

/* @p as BAR @bar of @pdev, as @spec says; @errp names the BAR. */
static bool barlab_port_init_bar(PCIDevice *pdev, void *opaque, BarlabPort *p,
                                 const BarlabBarSpec *spec, int bar,
                                 Error **errp)
{
    Error *err = NULL;

    barlab_port_init(p, OBJECT(pdev), spec->name, spec->size, spec->conf,
                     spec->ops, opaque, spec->expect, spec->nexpect, &err);
    if (err) {
        error_propagate_prepend(errp, err, "%s: BAR%d: ",
                                object_get_typename(OBJECT(pdev)), bar);
        return false;
    }
    return true;
}

bool barlab_port_realize_bars(PCIDevice *pdev, void *opaque,
                              BarlabPort *regs, const BarlabBarSpec *regs_spec,
                              BarlabPort *data, const BarlabBarSpec *data_spec,
                              Error **errp)
{
    if (!barlab_port_init_bar(pdev, opaque, data, data_spec, 2, errp)) {
        return false;
    }
    if (!barlab_port_init_bar(pdev, opaque, regs, regs_spec, 0, errp)) {
        barlab_port_cleanup(data);
        return false;
    }
    pci_register_bar(pdev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &regs->mr);
    pci_register_bar(pdev, 2, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &data->mr);
    if (pci_bus_is_express(pci_get_bus(pdev))) {
        pcie_endpoint_cap_init(pdev, 0x80);
        pcie_cap_flr_init(pdev);
    } else {
        pdev->cap_present &= ~QEMU_PCI_CAP_EXPRESS;
    }
    return true;
}

void barlab_port_pci_instance_init(Object *obj)
{
    PCIDevice *pdev = PCI_DEVICE(obj);

    pdev->cap_present |= QEMU_PCI_CAP_EXPRESS;
}

void barlab_port_pci_write_config(PCIDevice *pdev, uint32_t addr,
                                  uint32_t val, int len)
{
    pci_default_write_config(pdev, addr, val, len);
    if (pci_is_express(pdev)) {
        pcie_cap_flr_write_config(pdev, addr, val, len);
    }
}

bool barlab_port_write_words(hwaddr addr, const uint8_t *data, unsigned size,
                             BarlabWordWrite *write, void *opaque)
{
    if (addr % 4 || size % 4) {
        return false;
    }
    for (unsigned i = 0; i < size; i += 4) {
        write(opaque, addr + i, ldl_le_p(data + i));
    }
    return true;
}

void barlab_port_read_words(hwaddr addr, uint8_t *data, unsigned size,
                            BarlabWordRead *read, void *opaque)
{
    uint8_t word[4];

    for (hwaddr w = QEMU_ALIGN_DOWN(addr, 4); w < addr + size; w += 4) {
        stl_le_p(word, read(opaque, w));
        for (hwaddr a = MAX(w, addr); a < MIN(w + 4, addr + size); a++) {
            data[a - addr] = word[a - w];
        }
    }
}
