/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transaction trace: a versioned binary file of the device transactions
 * (MtTxn, with their data) and barriers of one run, a writer that never
 * leaves a half-written file behind, a reader that validates every byte,
 * and a text/JSON dumper.
 *
 * On-disk layout, version 2 (version 1 had no verdict).  Every integer is little-endian; CRCs are
 * mt_crc32() (crc32.h).  Nothing is padded or written as a C struct.
 *
 *   File header, MT_TRACE_HEADER_SIZE (20) bytes:
 *     0   8  magic "BARLABTR"
 *     8   2  version (MT_TRACE_VERSION)
 *    10   2  header size (20)
 *    12   4  flags, 0
 *    16   4  CRC of bytes 0..15
 *
 *   Then records, each a MT_TRACE_RECHDR_SIZE (10) byte header + payload:
 *     0   2  type (MtRecType)
 *     2   2  payload length
 *     4   2  payload length XOR 0xffff (a damaged length is caught before
 *            it is used to read the payload)
 *     6   4  CRC of record-header bytes 0..5 followed by the payload
 *    10   -  payload
 *
 *   MT_REC_TXN payload, MT_TRACE_TXN_FIXED (64) bytes + size bytes of data:
 *     0 u64 addr        12 u8 flags     16 u8 reason       20 u64 seq_first
 *     8 u32 size        13 u8 attr      17 u8 0            28 u64 seq_last
 *                       14 u8 s1_attr   18 u16 naccesses   36 u32 epoch_first
 *                       15 u8 s2_attr                      40 u32 epoch_last
 *    44 u64 time_ns     52 u32 verdict  56 u64 verdict_seq
 *    64 data[size], size <= MT_TRACE_MAX_DATA
 *   verdict is the checker's (check.h): the rules broken, a mask of
 *   1u << MtRule within MT_RULE_VERDICT_MASK (rules.h); verdict_seq the
 *   program-later access that arrived first, or MT_SEQ_NONE.
 *
 *   MT_REC_BARRIER payload, 20 bytes: u64 seq, u32 epoch, u64 time_ns.
 *
 *   MT_REC_END payload, 12 bytes, the last record of every complete file:
 *     u64 number of records before it, u32 CRC of all record bytes
 *     (headers and payloads) before it.  Nothing may follow it.
 *
 * A file without an END record is truncated: the writer writes to a
 * temporary file and renames it to its final name only once END is on
 * disk, so a crash leaves either the old file or the complete new one.
 */
#ifndef BARLAB_TRACE_H
#define BARLAB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "txn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_TRACE_VERSION 2
#define MT_TRACE_MAX_DATA 256

#define MT_TRACE_MAGIC "BARLABTR"       /* 8 bytes, no terminator on disk */
#define MT_TRACE_MAGIC_LEN 8
#define MT_TRACE_HEADER_SIZE 20
#define MT_TRACE_RECHDR_SIZE 10
#define MT_TRACE_TXN_FIXED 64
#define MT_TRACE_BARRIER_LEN 20
#define MT_TRACE_END_LEN 12

/* Return values: 0 is success, every error is negative. */
enum {
    MT_TRACE_E_IO = -1,         /* open/read/write/fsync/rename failed */
    MT_TRACE_E_MAGIC = -2,      /* not a trace file */
    MT_TRACE_E_VERSION = -3,    /* a trace, but a version we cannot read */
    MT_TRACE_E_TRUNCATED = -4,  /* ends inside the header or a record, or
                                   before the END record */
    MT_TRACE_E_CORRUPT = -5,    /* bad CRC, type, length, size, count, or
                                   bytes after the END record */
    MT_TRACE_E_INVAL = -6,      /* bad argument (e.g. size > MAX_DATA) */
    MT_TRACE_E_NOMEM = -7,
};

typedef enum {
    MT_REC_TXN = 1,
    MT_REC_BARRIER = 2,
    MT_REC_END = 0xff,          /* on disk only: never returned by a read */
} MtRecType;

typedef struct {
    uint8_t type;                       /* MtRecType */
    MtTxn txn;                          /* MT_REC_TXN */
    uint8_t data[MT_TRACE_MAX_DATA];    /* txn.size bytes: written data, or
                                           data read; the rest is zero */
    uint64_t seq;                       /* MT_REC_BARRIER */
    uint32_t epoch;
    uint64_t time_ns;
} MtTraceRecord;

typedef struct MtTraceWriter MtTraceWriter;
typedef struct MtTraceReader MtTraceReader;

/*
 * Writing.  open creates "<path>.tmp.<pid>" (with a ".<n>" suffix if that
 * exists) in the directory of @path and writes the file header; all memory
 * is allocated here, none per record.  The write functions return 0 or an
 * error; the first error is sticky: later writes return it, and close
 * reports it.  close writes the END record, flushes, fsyncs and renames the
 * temporary file onto @path (replacing any file there); if anything failed
 * it removes the temporary file, leaves @path untouched, and returns the
 * error with a message in @err.  abort discards the temporary file.  Both
 * free the writer.  @err may be NULL; messages are one line.
 */
int mt_trace_writer_open(MtTraceWriter **w, const char *path,
                         char *err, size_t errlen);
int mt_trace_write_txn(MtTraceWriter *w, const MtTxn *t, const uint8_t *data);
int mt_trace_write_barrier(MtTraceWriter *w, uint64_t seq, uint32_t epoch,
                           uint64_t time_ns);
int mt_trace_writer_close(MtTraceWriter *w, char *err, size_t errlen);
void mt_trace_writer_abort(MtTraceWriter *w);

/*
 * Reading.  open checks the file header.  read returns 1 and fills @rec for
 * each record, 0 at a valid END record at the end of the file, or an error
 * whose message (one line) names the file, the problem and the byte
 * offset.  Records are returned as they are read, before the END record is
 * checked: a file is valid only if read eventually returns 0.  After 0 or
 * an error, read keeps returning the same.  count is the number of records
 * returned so far.
 */
int mt_trace_reader_open(MtTraceReader **r, const char *path,
                         char *err, size_t errlen);
int mt_trace_read(MtTraceReader *r, MtTraceRecord *rec,
                  char *err, size_t errlen);
uint64_t mt_trace_reader_count(const MtTraceReader *r);
void mt_trace_reader_close(MtTraceReader *r);

/*
 * Print every record of @path to @out, one line each: text, or one JSON
 * object per line.  Text lines show at most 64 bytes of data (then "...");
 * JSON shows all of it.  Records before an error are printed; returns 0 or
 * the error (also MT_TRACE_E_IO if writing @out failed).
 *
 *   #12 W 0x0000000000001040 +64 attr=0x44 s1=0x44 s2=0x5 n=8 seq=3..10
 *       ep=0 reason=complete t=1234ns flags=write verdict=X3 after=11
 *       data=0011...  (one line)
 *   #13 barrier seq=11 epoch=1 t=1300ns
 *   {"i":12,"type":"txn","op":"W","addr":4160,"size":64,"attr":68,"s1":68,
 *    "s2":5,"n":8,"seq_first":3,"seq_last":10,"epoch_first":0,
 *    "epoch_last":0,"reason":"complete","time_ns":1234,"flags":"write",
 *    "verdict":["X3"],"verdict_seq":11,"data":"0011..."}
 *   {"i":13,"type":"barrier","seq":11,"epoch":1,"time_ns":1300}
 *
 * A range a..b is printed as a alone when a == b; flags are the names of
 * the MT_TXN_* bits joined with '|', or "none".  verdict is "ok" (JSON:
 * []) for a legal transaction, else the rule ids (rules.h); after= (JSON
 * verdict_seq, null when there is none) is the program-later access that
 * reached the device first.
 */
int mt_trace_dump(FILE *out, const char *path, bool json,
                  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_TRACE_H */
