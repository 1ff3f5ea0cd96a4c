/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CPU accesses and device transactions: the two things the gather model,
 * the reorder model, the checker and the trace pass between them.
 *
 * An access is what one CPU instruction element did (after QEMU's split);
 * a transaction is what arrives at the device: one access, or several
 * gathered into one.  Both carry the program-order sequence number and the
 * barrier epoch (the count of DMB/DSB executed before) so that the checker
 * can tell merging and reordering from program order; a transaction then
 * carries the checker's verdict on it into the trace.
 */
#ifndef BARLAB_TXN_H
#define BARLAB_TXN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags on accesses and transactions. */
enum {
    MT_TXN_WRITE = 1u << 0,
    MT_TXN_UNALIGNED = 1u << 1,     /* from a CPU access that was unaligned */
    MT_TXN_SPECULATIVE = 1u << 2,   /* a speculative read */
    MT_TXN_DCZVA = 1u << 3,         /* from DC ZVA */
    MT_TXN_FWB = 1u << 4,           /* stage 2 was in the FWB form */
    MT_TXN_UNTYPED = 1u << 5,       /* no CPU memory type (DMA, qtest) */
    MT_TXN_NO_STAGE2 = 1u << 6,     /* stage 2 did not apply */
};

/* Why a gathered line left the buffer. */
typedef enum {
    MT_FLUSH_NONE,          /* not gathered: passed straight through */
    MT_FLUSH_COMPLETE,      /* every byte of the line was written */
    MT_FLUSH_EVICT,         /* the buffer needed the line for another address */
    MT_FLUSH_BARRIER,       /* DMB/DSB */
    MT_FLUSH_READ,          /* a read of the same device */
    MT_FLUSH_NONGATHER,     /* an access of a non-gathering type */
    MT_FLUSH_ATTR,          /* a write of another memory type to the line */
    MT_FLUSH_TIMEOUT,       /* virtual-time timeout */
    MT_FLUSH_FULL,          /* the line's access log is full */
    MT_FLUSH_STOP,          /* reset, VM stop, end of run */
    MT_FLUSH__COUNT,
} MtFlushReason;

typedef struct {
    uint64_t addr;          /* offset in the device region */
    uint32_t size;          /* bytes, at most MT_GATHER_MAX_LINE_SIZE */
    uint8_t flags;          /* MT_TXN_* */
    uint8_t attr;           /* combined attribute, MAIR format */
    uint8_t s1_attr;        /* stage-1 attribute, MAIR format */
    uint8_t s2_attr;        /* stage-2 MemAttr[3:0] */
    uint64_t seq;           /* program-order number */
    uint32_t epoch;         /* barriers executed before this access */
    uint64_t time_ns;       /* virtual time */
} MtAccess;

typedef struct {
    uint64_t addr;
    uint32_t size;
    uint8_t flags;          /* MT_TXN_*, OR of the merged accesses */
    uint8_t attr;
    uint8_t s1_attr;
    uint8_t s2_attr;
    uint8_t reason;         /* MtFlushReason */
    uint16_t naccesses;     /* CPU accesses merged into this transaction */
    uint64_t seq_first;     /* smallest and largest program-order number */
    uint64_t seq_last;
    uint32_t epoch_first;   /* smallest and largest barrier epoch */
    uint32_t epoch_last;
    uint64_t time_ns;       /* virtual time it reached the device */
    /* The checker's verdict (check.h), zero until it judged the txn. */
    uint32_t verdict;       /* rules broken, a mask of 1u << MtRule */
    uint64_t verdict_seq;   /* program-later access that arrived before
                               this one (ordering rules), or MT_SEQ_NONE */
} MtTxn;

/* No access: verdict_seq of a transaction nothing overtook. */
#define MT_SEQ_NONE UINT64_MAX

/*
 * Where transactions go: a write carries @data (t->size bytes); a read
 * must fill @data.
 */
typedef void (*MtEmitFn)(void *opaque, const MtTxn *t, uint8_t *data);

const char *mt_flush_reason_name(unsigned reason);

/* The transaction that carries one access alone, as issued. */
void mt_txn_from_access(const MtAccess *a, MtTxn *t);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_TXN_H */
