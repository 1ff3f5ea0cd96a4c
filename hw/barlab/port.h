/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * barlab port: the interconnect between the CPU and a barlab device BAR.
 *
 * A port is an I/O MemoryRegion whose accesses arrive with the Arm memory
 * type the CPU used (MemTxAttrs.memtype*).  It passes them through the
 * write-gathering and reorder models of hw/memtype, judges every resulting
 * transaction with the checker, writes it to the trace, counts it, and
 * hands it to the device back end.  See docs/specs/barlab-port.rst.
 */
#ifndef HW_BARLAB_PORT_H
#define HW_BARLAB_PORT_H

#include "exec/memory.h"
#include "hw/pci/pci_device.h"
#include "qemu/notify.h"
#include "qemu/timer.h"
#include "qapi/error.h"

#include "memtype/check.h"
#include "memtype/gather.h"
#include "memtype/reorder.h"
#include "memtype/speculate.h"
#include "memtype/trace.h"

/* What the port does beyond delivering accesses, parsed from port-mode. */
typedef struct BarlabPortMode {
    bool gather;            /* write gathering where the type permits it */
    bool reorder;           /* seeded reordering where the type permits it */
    bool speculate;         /* seeded speculative reads where permitted */
    uint64_t seed;
} BarlabPortMode;

/* The device back end: where transactions end up. */
typedef struct BarlabPortOps {
    void (*write)(void *opaque, hwaddr addr, const uint8_t *data,
                  unsigned size);
    void (*read)(void *opaque, hwaddr addr, uint8_t *data, unsigned size);
} BarlabPortOps;

/* User-visible knobs, set through DEFINE_BARLAB_PORT_PROPERTIES. */
typedef struct BarlabPortConf {
    char *mode;             /* docs/specs/barlab-port.rst: "exact",
                               "gather" (default), "reorder[:SEED]",
                               "speculate[:SEED]",
                               "reorder+speculate[:SEED]" */
    uint64_t seed;          /* PRNG seed when port-mode names none */
    uint32_t lines;
    uint32_t line_size;
    uint64_t timeout_ns;
    char *trace;            /* trace file, or NULL */
    bool unsafe;            /* break the Arm rules: tests the checker */
} BarlabPortConf;

#define DEFINE_BARLAB_PORT_PROPERTIES(_state, _conf)                       \
    DEFINE_PROP_STRING("port-mode", _state, _conf.mode),                   \
    DEFINE_PROP_UINT64("reorder-seed", _state, _conf.seed, 0),             \
    DEFINE_PROP_UINT32("gather-lines", _state, _conf.lines, 4),            \
    DEFINE_PROP_UINT32("gather-line-size", _state, _conf.line_size, 64),   \
    DEFINE_PROP_UINT64("gather-timeout-ns", _state, _conf.timeout_ns,      \
                       100 * SCALE_US),                                    \
    DEFINE_PROP_STRING("trace", _state, _conf.trace),                      \
    DEFINE_PROP_BOOL("port-unsafe", _state, _conf.unsafe, false)

typedef struct BarlabPort {
    MemoryRegion mr;
    const char *name;
    const BarlabPortOps *ops;
    void *opaque;
    BarlabPortMode mode;
    bool unsafe;            /* a broken interconnect, on purpose */

    MtGather gather;
    MtReorder reorder;
    MtSpeculate spec;
    MtChecker checker;
    MtTraceWriter *trace;
    char *trace_path;

    Notifier barrier_notifier;
    Notifier exit_notifier;
    QEMUTimer *flush_timer;
    uint64_t timeout_ns;

    const MtTxn *current;   /* the transaction the back end is handling */
    uint64_t seq;           /* program-order number of the last access */
    uint64_t origin_seq;    /* CPU access it came from, to number pieces */
    uint32_t epoch;         /* barriers seen with accesses between them */
    uint64_t barrier_seq;   /* seq at the last barrier that counted */
    int last_cpu;           /* cpu_index of the last CPU access, or -1 */

    /* Counters, read-only QOM properties "<name>-<counter>". */
    uint64_t accesses;
    uint64_t txns;
    uint64_t gathered;      /* transactions merging more than one access */
    uint64_t violations;    /* transactions breaking a rule */
    uint64_t barriers;
    uint64_t untyped;       /* accesses without a CPU memory type */
    /*
     * Also read-only QOM properties: reorder.reordered ("<name>-reordered"),
     * spec.issued ("<name>-speculative") and, per rule the checker can
     * report, checker.violations[] ("<name>-violations-<rule id>").
     */
} BarlabPort;

/*
 * Set up @p as a @size-byte region of @owner.  @expect (may be NULL) is the
 * device's declaration about its registers, kept by reference.
 */
void barlab_port_init(BarlabPort *p, Object *owner, const char *name,
                      uint64_t size, const BarlabPortConf *conf,
                      const BarlabPortOps *ops, void *opaque,
                      const MtExpect *expect, unsigned nexpect, Error **errp);

/* What one BAR's port is: barlab_port_init()'s arguments after @owner. */
typedef struct BarlabBarSpec {
    const char *name;
    uint64_t size;
    const BarlabPortConf *conf;
    const BarlabPortOps *ops;
    const MtExpect *expect;
    unsigned nexpect;
} BarlabBarSpec;

/*
 * The BARs every barlab device has, each behind a port with @opaque as
 * its back end: BAR0 (@regs, described by @regs_spec), 32-bit and
 * non-prefetchable, for registers; BAR2 (@data, @data_spec), 64-bit and
 * prefetchable.  On a PCIe bus the device gets an endpoint capability
 * with FLR.  On error, nothing is left set up and @errp names the BAR.
 */
bool barlab_port_realize_bars(PCIDevice *pdev, void *opaque,
                              BarlabPort *regs, const BarlabBarSpec *regs_spec,
                              BarlabPort *data, const BarlabBarSpec *data_spec,
                              Error **errp);

/* A barlab device's PCIDevice hooks: PCIe (with FLR) unless on a PCI bus. */
void barlab_port_pci_instance_init(Object *obj);
void barlab_port_pci_write_config(PCIDevice *pdev, uint32_t addr,
                                  uint32_t val, int len);

/* Deliver everything buffered (device reset, a doorbell, VM stop). */
void barlab_port_flush(BarlabPort *p, MtFlushReason why);

/*
 * The device behind the port is reset (FLR, system reset): what the gather
 * buffer and the reorder window hold is dropped, neither delivered nor
 * traced; the models, the checker and every counter start over as at
 * realize.  The trace file and the program-order numbers in it go on.
 * Not from inside the port's own back end.
 */
void barlab_port_reset(BarlabPort *p);

/* Commit the trace and stop listening; safe to call twice. */
void barlab_port_cleanup(BarlabPort *p);

/*
 * For back ends of 32-bit registers: a transaction (one access, or several
 * that a Normal mapping gathered) cut into words in address order.  A
 * write of anything but whole, aligned words writes nothing and returns
 * false; a read reads every word its bytes touch, side effects included.
 */
typedef void BarlabWordWrite(void *opaque, hwaddr addr, uint32_t val);
typedef uint32_t BarlabWordRead(void *opaque, hwaddr addr);
bool barlab_port_write_words(hwaddr addr, const uint8_t *data, unsigned size,
                             BarlabWordWrite *write, void *opaque);
void barlab_port_read_words(hwaddr addr, uint8_t *data, unsigned size,
                            BarlabWordRead *read, void *opaque);

#endif /* HW_BARLAB_PORT_H */
