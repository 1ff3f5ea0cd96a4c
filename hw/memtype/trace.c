/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transaction trace: writer (temporary file, atomic rename on close),
 * validating reader and text/JSON dumper.  The layout is in trace.h; every
 * field is serialized byte by byte, little-endian.
 */
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64

#include "trace.h"
#include "crc32.h"
#include "rules.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSG_MAX 1024
#define REC_MAX (MT_TRACE_RECHDR_SIZE + MT_TRACE_TXN_FIXED + MT_TRACE_MAX_DATA)
#define TMP_TRIES 100

/* Little-endian serialization. */

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, (uint16_t)v);
    put_le16(p + 2, (uint16_t)(v >> 16));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
    return get_le16(p) | ((uint32_t)get_le16(p + 2) << 16);
}

static uint64_t get_le64(const uint8_t *p)
{
    return get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}

/* Messages: formatted, and forced onto one line. */

static void __attribute__((format(printf, 3, 0)))
vformat_msg(char *buf, size_t len, const char *fmt, va_list ap)
{
    char *p;

    if (!buf || !len) {
        return;
    }
    vsnprintf(buf, len, fmt, ap);
    for (p = buf; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = '?';
        }
    }
}

static void format_msg(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat_msg(buf, len, fmt, ap);
    va_end(ap);
}

static void copy_msg(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) {
        snprintf(err, errlen, "%s", msg);
    }
}

/* ---- Writer ---- */

struct MtTraceWriter {
    FILE *f;
    char *path;
    char *tmp_path;
    uint64_t count;             /* records written, END excluded */
    uint32_t stream_crc;        /* of all record bytes written */
    int error;                  /* first error, or 0 */
    char msg[MSG_MAX];          /* its message */
    uint8_t buf[REC_MAX];       /* the record being serialized */
};

/* Record the first error; return the sticky one. */
static int writer_fail(MtTraceWriter *w, int code, const char *fmt, ...)
{
    va_list ap;

    if (!w->error) {
        w->error = code;
        va_start(ap, fmt);
        vformat_msg(w->msg, sizeof(w->msg), fmt, ap);
        va_end(ap);
    }
    return w->error;
}

static void writer_free(MtTraceWriter *w)
{
    free(w->path);
    free(w->tmp_path);
    free(w);
}

static int write_bytes(MtTraceWriter *w, const uint8_t *buf, size_t len)
{
    if (fwrite(buf, 1, len, w->f) != len) {
        return writer_fail(w, MT_TRACE_E_IO, "%s: writing %s failed: %s",
                           w->path, w->tmp_path, strerror(errno));
    }
    return 0;
}

/* Write the record of @type whose @len payload bytes are in w->buf. */
static int write_record(MtTraceWriter *w, uint16_t type, size_t len)
{
    uint8_t *h = w->buf;
    size_t total = MT_TRACE_RECHDR_SIZE + len;
    uint32_t crc;
    int rc;

    put_le16(h, type);
    put_le16(h + 2, (uint16_t)len);
    put_le16(h + 4, (uint16_t)len ^ 0xffff);
    crc = mt_crc32(0, h, 6);
    crc = mt_crc32(crc, h + MT_TRACE_RECHDR_SIZE, len);
    put_le32(h + 6, crc);
    rc = write_bytes(w, h, total);
    if (rc == 0 && type != MT_REC_END) {
        w->stream_crc = mt_crc32(w->stream_crc, h, total);
        w->count++;
    }
    return rc;
}

int mt_trace_writer_open(MtTraceWriter **wp, const char *path,
                         char *err, size_t errlen)
{
    MtTraceWriter *w;
    uint8_t hdr[MT_TRACE_HEADER_SIZE];
    size_t tmp_len;
    int fd = -1;
    int saved;
    unsigned i;

    if (!wp || !path || !*path) {
        format_msg(err, errlen, "trace writer: no file name given");
        return MT_TRACE_E_INVAL;
    }
    *wp = NULL;
    w = calloc(1, sizeof(*w));
    tmp_len = strlen(path) + 64;
    if (w) {
        w->path = strdup(path);
        w->tmp_path = malloc(tmp_len);
    }
    if (!w || !w->path || !w->tmp_path) {
        format_msg(err, errlen, "%s: out of memory", path);
        if (w) {
            writer_free(w);
        }
        return MT_TRACE_E_NOMEM;
    }

    for (i = 0; i < TMP_TRIES; i++) {
        if (i == 0) {
            snprintf(w->tmp_path, tmp_len, "%s.tmp.%ld", path,
                     (long)getpid());
        } else {
            snprintf(w->tmp_path, tmp_len, "%s.tmp.%ld.%u", path,
                     (long)getpid(), i);
        }
        fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) {
            break;
        }
    }
    if (fd < 0) {
        format_msg(err, errlen, "%s: cannot create temporary file %s: %s",
                   path, w->tmp_path, strerror(errno));
        writer_free(w);
        return MT_TRACE_E_IO;
    }
    w->f = fdopen(fd, "wb");
    if (!w->f) {
        saved = errno;
        close(fd);
        unlink(w->tmp_path);
        format_msg(err, errlen, "%s: cannot open temporary file %s: %s",
                   path, w->tmp_path, strerror(saved));
        writer_free(w);
        return MT_TRACE_E_IO;
    }

    memcpy(hdr, MT_TRACE_MAGIC, MT_TRACE_MAGIC_LEN);
    put_le16(hdr + 8, MT_TRACE_VERSION);
    put_le16(hdr + 10, MT_TRACE_HEADER_SIZE);
    put_le32(hdr + 12, 0);
    put_le32(hdr + 16, mt_crc32(0, hdr, 16));
    if (write_bytes(w, hdr, sizeof(hdr)) < 0) {
        copy_msg(err, errlen, w->msg);
        mt_trace_writer_abort(w);
        return MT_TRACE_E_IO;
    }
    *wp = w;
    return 0;
}

int mt_trace_write_txn(MtTraceWriter *w, const MtTxn *t, const uint8_t *data)
{
    uint8_t *p;

    if (!w) {
        return MT_TRACE_E_INVAL;
    }
    if (w->error) {
        return w->error;
    }
    if (!t) {
        return writer_fail(w, MT_TRACE_E_INVAL,
                           "%s: record %" PRIu64 ": no transaction given",
                           w->path, w->count);
    }
    if (t->size > MT_TRACE_MAX_DATA) {
        return writer_fail(w, MT_TRACE_E_INVAL,
                           "%s: record %" PRIu64 ": transaction size %" PRIu32
                           " exceeds the maximum %u",
                           w->path, w->count, t->size, MT_TRACE_MAX_DATA);
    }
    if (t->size && !data) {
        return writer_fail(w, MT_TRACE_E_INVAL,
                           "%s: record %" PRIu64 ": transaction of %" PRIu32
                           " bytes without data", w->path, w->count, t->size);
    }

    p = w->buf + MT_TRACE_RECHDR_SIZE;
    put_le64(p + 0, t->addr);
    put_le32(p + 8, t->size);
    p[12] = t->flags;
    p[13] = t->attr;
    p[14] = t->s1_attr;
    p[15] = t->s2_attr;
    p[16] = t->reason;
    p[17] = 0;
    put_le16(p + 18, t->naccesses);
    put_le64(p + 20, t->seq_first);
    put_le64(p + 28, t->seq_last);
    put_le32(p + 36, t->epoch_first);
    put_le32(p + 40, t->epoch_last);
    put_le64(p + 44, t->time_ns);
    put_le32(p + 52, t->verdict);
    put_le64(p + 56, t->verdict_seq);
    if (t->size) {
        memcpy(p + MT_TRACE_TXN_FIXED, data, t->size);
    }
    return write_record(w, MT_REC_TXN, MT_TRACE_TXN_FIXED + t->size);
}

int mt_trace_write_barrier(MtTraceWriter *w, uint64_t seq, uint32_t epoch,
                           uint64_t time_ns)
{
    uint8_t *p;

    if (!w) {
        return MT_TRACE_E_INVAL;
    }
    if (w->error) {
        return w->error;
    }
    p = w->buf + MT_TRACE_RECHDR_SIZE;
    put_le64(p + 0, seq);
    put_le32(p + 8, epoch);
    put_le64(p + 12, time_ns);
    return write_record(w, MT_REC_BARRIER, MT_TRACE_BARRIER_LEN);
}

/* Make the rename durable; best effort, the data itself is already synced. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    size_t len;
    int fd;

    if (!slash) {
        fd = open(".", O_RDONLY | O_CLOEXEC);
    } else {
        len = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(len + 1);
        if (!dir) {
            return;
        }
        memcpy(dir, path, len);
        dir[len] = '\0';
        fd = open(dir, O_RDONLY | O_CLOEXEC);
        free(dir);
    }
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int mt_trace_writer_close(MtTraceWriter *w, char *err, size_t errlen)
{
    size_t len;
    int rc;

    if (!w) {
        format_msg(err, errlen, "trace writer: closing a null writer");
        return MT_TRACE_E_INVAL;
    }
    if (!w->error) {
        put_le64(w->buf + MT_TRACE_RECHDR_SIZE, w->count);
        put_le32(w->buf + MT_TRACE_RECHDR_SIZE + 8, w->stream_crc);
        write_record(w, MT_REC_END, MT_TRACE_END_LEN);
    }
    if (!w->error && fflush(w->f) != 0) {
        writer_fail(w, MT_TRACE_E_IO, "%s: writing %s failed: %s",
                    w->path, w->tmp_path, strerror(errno));
    }
    if (!w->error && fsync(fileno(w->f)) != 0) {
        writer_fail(w, MT_TRACE_E_IO, "%s: fsync of %s failed: %s",
                    w->path, w->tmp_path, strerror(errno));
    }
    if (fclose(w->f) != 0) {
        writer_fail(w, MT_TRACE_E_IO, "%s: closing %s failed: %s",
                    w->path, w->tmp_path, strerror(errno));
    }
    w->f = NULL;
    if (!w->error && rename(w->tmp_path, w->path) != 0) {
        writer_fail(w, MT_TRACE_E_IO, "%s: cannot rename %s to it: %s",
                    w->path, w->tmp_path, strerror(errno));
    }

    rc = w->error;
    if (rc) {
        if (unlink(w->tmp_path) != 0 && errno != ENOENT) {
            len = strlen(w->msg);
            format_msg(w->msg + len, sizeof(w->msg) - len,
                       "; temporary file %s left behind: %s",
                       w->tmp_path, strerror(errno));
        }
        copy_msg(err, errlen, w->msg);
    } else {
        sync_parent_dir(w->path);
    }
    writer_free(w);
    return rc;
}

void mt_trace_writer_abort(MtTraceWriter *w)
{
    if (!w) {
        return;
    }
    if (w->f) {
        fclose(w->f);
    }
    unlink(w->tmp_path);
    writer_free(w);
}

/* ---- Reader ---- */

enum {
    READER_OK,
    READER_ENDED,
};

struct MtTraceReader {
    FILE *f;
    char *path;
    uint64_t off;               /* bytes consumed */
    uint64_t count;             /* records returned */
    uint32_t stream_crc;        /* of all record bytes before END */
    int state;                  /* READER_*, or the sticky error */
    char msg[MSG_MAX];          /* message of the sticky error */
    uint8_t buf[REC_MAX];
};

/* "<path>: <problem> at byte offset <off>", made sticky. */
static int reader_fail(MtTraceReader *r, int code, uint64_t off,
                       const char *fmt, ...)
{
    char problem[MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vformat_msg(problem, sizeof(problem), fmt, ap);
    va_end(ap);
    format_msg(r->msg, sizeof(r->msg), "%s: %s at byte offset %" PRIu64,
               r->path, problem, off);
    r->state = code;
    return code;
}

/*
 * Read up to @len bytes; return how many were read (less only at end of
 * file), or -1 after recording a read error.
 */
static long read_bytes(MtTraceReader *r, uint8_t *buf, size_t len)
{
    size_t got = fread(buf, 1, len, r->f);

    if (got < len && ferror(r->f)) {
        reader_fail(r, MT_TRACE_E_IO, r->off + got, "read error: %s",
                    strerror(errno));
        return -1;
    }
    r->off += got;
    return (long)got;
}

static void reader_free(MtTraceReader *r)
{
    if (r->f) {
        fclose(r->f);
    }
    free(r->path);
    free(r);
}

static int read_header(MtTraceReader *r)
{
    uint8_t *h = r->buf;
    long got = read_bytes(r, h, MT_TRACE_HEADER_SIZE);
    size_t n;
    uint32_t stored, crc;

    if (got < 0) {
        return r->state;
    }
    n = (size_t)got < MT_TRACE_MAGIC_LEN ? (size_t)got : MT_TRACE_MAGIC_LEN;
    if (memcmp(h, MT_TRACE_MAGIC, n) != 0) {
        return reader_fail(r, MT_TRACE_E_MAGIC, 0,
                           "not a barlab trace (bad magic)");
    }
    if (got < 10) {
        return reader_fail(r, MT_TRACE_E_TRUNCATED, (uint64_t)got,
                           "truncated: end of file inside the file header");
    }
    if (get_le16(h + 8) != MT_TRACE_VERSION) {
        return reader_fail(r, MT_TRACE_E_VERSION, 8,
                           "unsupported trace version %u (this reader "
                           "supports version %u)",
                           get_le16(h + 8), MT_TRACE_VERSION);
    }
    if (got < MT_TRACE_HEADER_SIZE) {
        return reader_fail(r, MT_TRACE_E_TRUNCATED, (uint64_t)got,
                           "truncated: end of file inside the file header");
    }
    if (get_le16(h + 10) != MT_TRACE_HEADER_SIZE) {
        return reader_fail(r, MT_TRACE_E_CORRUPT, 10,
                           "corrupt: header size %u, version %u has %u",
                           get_le16(h + 10), MT_TRACE_VERSION,
                           MT_TRACE_HEADER_SIZE);
    }
    stored = get_le32(h + 16);
    crc = mt_crc32(0, h, 16);
    if (stored != crc) {
        return reader_fail(r, MT_TRACE_E_CORRUPT, 16,
                           "corrupt: header CRC mismatch (stored 0x%08" PRIx32
                           ", computed 0x%08" PRIx32 ")", stored, crc);
    }
    if (get_le32(h + 12) != 0) {
        return reader_fail(r, MT_TRACE_E_CORRUPT, 12,
                           "corrupt: unknown header flags 0x%" PRIx32,
                           get_le32(h + 12));
    }
    return 0;
}

int mt_trace_reader_open(MtTraceReader **rp, const char *path,
                         char *err, size_t errlen)
{
    MtTraceReader *r;
    int rc;

    if (!rp || !path) {
        format_msg(err, errlen, "trace reader: no file name given");
        return MT_TRACE_E_INVAL;
    }
    *rp = NULL;
    r = calloc(1, sizeof(*r));
    if (r) {
        r->path = strdup(path);
    }
    if (!r || !r->path) {
        format_msg(err, errlen, "%s: out of memory", path);
        free(r);
        return MT_TRACE_E_NOMEM;
    }
    r->f = fopen(path, "rb");
    if (!r->f) {
        format_msg(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        reader_free(r);
        return MT_TRACE_E_IO;
    }
    rc = read_header(r);
    if (rc < 0) {
        copy_msg(err, errlen, r->msg);
        reader_free(r);
        return rc;
    }
    *rp = r;
    return 0;
}

/* The payload length range a record type allows, or false for a bad type. */
static bool record_len_range(uint16_t type, size_t *min, size_t *max)
{
    switch (type) {
    case MT_REC_TXN:
        *min = MT_TRACE_TXN_FIXED;
        *max = MT_TRACE_TXN_FIXED + MT_TRACE_MAX_DATA;
        return true;
    case MT_REC_BARRIER:
        *min = *max = MT_TRACE_BARRIER_LEN;
        return true;
    case MT_REC_END:
        *min = *max = MT_TRACE_END_LEN;
        return true;
    default:
        return false;
    }
}

static void parse_txn(const uint8_t *p, MtTraceRecord *rec)
{
    MtTxn *t = &rec->txn;

    t->addr = get_le64(p + 0);
    t->size = get_le32(p + 8);
    t->flags = p[12];
    t->attr = p[13];
    t->s1_attr = p[14];
    t->s2_attr = p[15];
    t->reason = p[16];
    t->naccesses = get_le16(p + 18);
    t->seq_first = get_le64(p + 20);
    t->seq_last = get_le64(p + 28);
    t->epoch_first = get_le32(p + 36);
    t->epoch_last = get_le32(p + 40);
    t->time_ns = get_le64(p + 44);
    t->verdict = get_le32(p + 52);
    t->verdict_seq = get_le64(p + 56);
    memcpy(rec->data, p + MT_TRACE_TXN_FIXED, t->size);
}

/* The END record (payload @p, record at @start): must match, and be last. */
static int check_end(MtTraceReader *r, const uint8_t *p, uint64_t start)
{
    uint64_t count = get_le64(p);
    uint32_t crc = get_le32(p + 8);
    uint64_t pay = start + MT_TRACE_RECHDR_SIZE;

    if (count != r->count) {
        return reader_fail(r, MT_TRACE_E_CORRUPT, pay,
                           "corrupt: record count mismatch (END record says "
                           "%" PRIu64 ", file has %" PRIu64 ")",
                           count, r->count);
    }
    if (crc != r->stream_crc) {
        return reader_fail(r, MT_TRACE_E_CORRUPT, pay + 8,
                           "corrupt: record stream CRC mismatch (stored "
                           "0x%08" PRIx32 ", computed 0x%08" PRIx32 ")",
                           crc, r->stream_crc);
    }
    if (fgetc(r->f) != EOF) {
        return reader_fail(r, MT_TRACE_E_CORRUPT, r->off,
                           "corrupt: trailing garbage after the END record");
    }
    if (ferror(r->f)) {
        return reader_fail(r, MT_TRACE_E_IO, r->off, "read error: %s",
                           strerror(errno));
    }
    r->state = READER_ENDED;
    return 0;
}

int mt_trace_read(MtTraceReader *r, MtTraceRecord *rec,
                  char *err, size_t errlen)
{
    uint8_t *h, *p;
    uint64_t start, idx;
    uint16_t type, len, check;
    uint32_t stored, crc, size;
    size_t min, max;
    long got;
    int rc;

    if (!r || !rec) {
        format_msg(err, errlen, "trace reader: null argument");
        return MT_TRACE_E_INVAL;
    }
    if (r->state == READER_ENDED) {
        return 0;
    }
    if (r->state < 0) {
        copy_msg(err, errlen, r->msg);
        return r->state;
    }

    h = r->buf;
    p = h + MT_TRACE_RECHDR_SIZE;
    start = r->off;
    idx = r->count;
    got = read_bytes(r, h, MT_TRACE_RECHDR_SIZE);
    if (got < 0) {
        goto fail;
    }
    if (got == 0) {
        reader_fail(r, MT_TRACE_E_TRUNCATED, start,
                    "truncated: end of file after %" PRIu64 " records, "
                    "without an END record", idx);
        goto fail;
    }
    if (got < MT_TRACE_RECHDR_SIZE) {
        reader_fail(r, MT_TRACE_E_TRUNCATED, r->off,
                    "truncated: end of file inside the header of record "
                    "%" PRIu64 " (which starts at byte offset %" PRIu64 ")",
                    idx, start);
        goto fail;
    }

    type = get_le16(h);
    len = get_le16(h + 2);
    check = get_le16(h + 4);
    if ((len ^ check) != 0xffff) {
        reader_fail(r, MT_TRACE_E_CORRUPT, start + 2,
                    "corrupt: record %" PRIu64 " length 0x%04x does not "
                    "match its check 0x%04x", idx, len, check);
        goto fail;
    }
    if (!record_len_range(type, &min, &max)) {
        reader_fail(r, MT_TRACE_E_CORRUPT, start,
                    "corrupt: record %" PRIu64 " has bad type %u", idx, type);
        goto fail;
    }
    if (len < min || len > max) {
        reader_fail(r, MT_TRACE_E_CORRUPT, start + 2,
                    "corrupt: record %" PRIu64 " of type %u has impossible "
                    "length %u (allowed %zu..%zu)", idx, type, len, min, max);
        goto fail;
    }

    got = read_bytes(r, p, len);
    if (got < 0) {
        goto fail;
    }
    if (got < len) {
        reader_fail(r, MT_TRACE_E_TRUNCATED, r->off,
                    "truncated: end of file inside record %" PRIu64
                    " (which starts at byte offset %" PRIu64 ")", idx, start);
        goto fail;
    }
    stored = get_le32(h + 6);
    crc = mt_crc32(mt_crc32(0, h, 6), p, len);
    if (stored != crc) {
        reader_fail(r, MT_TRACE_E_CORRUPT, start,
                    "corrupt: record %" PRIu64 " CRC mismatch (stored 0x%08"
                    PRIx32 ", computed 0x%08" PRIx32 ")", idx, stored, crc);
        goto fail;
    }

    if (type == MT_REC_END) {
        rc = check_end(r, p, start);
        if (rc < 0) {
            goto fail;
        }
        return 0;
    }

    if (type == MT_REC_TXN) {
        size = get_le32(p + 8);
        if (size > MT_TRACE_MAX_DATA) {
            reader_fail(r, MT_TRACE_E_CORRUPT, start + MT_TRACE_RECHDR_SIZE + 8,
                        "corrupt: record %" PRIu64 " transaction size %"
                        PRIu32 " exceeds the maximum %u",
                        idx, size, MT_TRACE_MAX_DATA);
            goto fail;
        }
        if (size != (uint32_t)len - MT_TRACE_TXN_FIXED) {
            reader_fail(r, MT_TRACE_E_CORRUPT, start + MT_TRACE_RECHDR_SIZE + 8,
                        "corrupt: record %" PRIu64 " transaction size %"
                        PRIu32 " does not match its length %u",
                        idx, size, len);
            goto fail;
        }
        if (get_le32(p + 52) & ~MT_RULE_VERDICT_MASK) {
            reader_fail(r, MT_TRACE_E_CORRUPT,
                        start + MT_TRACE_RECHDR_SIZE + 52,
                        "corrupt: record %" PRIu64 " verdict 0x%08" PRIx32
                        " names a rule no checker reports", idx,
                        get_le32(p + 52));
            goto fail;
        }
        if (p[17] != 0) {
            reader_fail(r, MT_TRACE_E_CORRUPT,
                        start + MT_TRACE_RECHDR_SIZE + 17,
                        "corrupt: record %" PRIu64 " reserved byte is 0x%02x",
                        idx, p[17]);
            goto fail;
        }
    }

    memset(rec, 0, sizeof(*rec));
    rec->type = (uint8_t)type;
    if (type == MT_REC_TXN) {
        parse_txn(p, rec);
    } else {
        rec->seq = get_le64(p + 0);
        rec->epoch = get_le32(p + 8);
        rec->time_ns = get_le64(p + 12);
    }
    r->stream_crc = mt_crc32(r->stream_crc, h, MT_TRACE_RECHDR_SIZE + len);
    r->count++;
    return 1;

fail:
    copy_msg(err, errlen, r->msg);
    return r->state;
}

uint64_t mt_trace_reader_count(const MtTraceReader *r)
{
    return r ? r->count : 0;
}

void mt_trace_reader_close(MtTraceReader *r)
{
    if (r) {
        reader_free(r);
    }
}

/* ---- Dumper ---- */

static const struct {
    uint8_t bit;
    const char *name;
} txn_flag_names[] = {
    { MT_TXN_WRITE, "write" },
    { MT_TXN_UNALIGNED, "unaligned" },
    { MT_TXN_SPECULATIVE, "spec" },
    { MT_TXN_DCZVA, "dczva" },
    { MT_TXN_FWB, "fwb" },
    { MT_TXN_UNTYPED, "untyped" },
    { MT_TXN_NO_STAGE2, "nostage2" },
};

#define TEXT_DATA_MAX 64

static void print_flags(FILE *out, uint8_t flags)
{
    uint8_t rest = flags;
    bool first = true;
    size_t i;

    if (!flags) {
        fputs("none", out);
        return;
    }
    for (i = 0; i < sizeof(txn_flag_names) / sizeof(txn_flag_names[0]); i++) {
        if (flags & txn_flag_names[i].bit) {
            fprintf(out, "%s%s", first ? "" : "|", txn_flag_names[i].name);
            rest &= (uint8_t)~txn_flag_names[i].bit;
            first = false;
        }
    }
    if (rest) {
        fprintf(out, "%s0x%02x", first ? "" : "|", rest);
    }
}

static void print_hex(FILE *out, const uint8_t *data, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        fprintf(out, "%02x", data[i]);
    }
}

static void print_range64(FILE *out, uint64_t a, uint64_t b)
{
    fprintf(out, "%" PRIu64, a);
    if (a != b) {
        fprintf(out, "..%" PRIu64, b);
    }
}

/* A JSON string; reason names are plain words, but do not trust that. */
static void print_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

static void dump_txn_text(FILE *out, uint64_t i, const MtTraceRecord *rec,
                          const char *reason)
{
    const MtTxn *t = &rec->txn;
    size_t shown = t->size < TEXT_DATA_MAX ? t->size : TEXT_DATA_MAX;
    char ids[MT_RULE_MASK_STR];

    fprintf(out, "#%" PRIu64 " %c 0x%016" PRIx64 " +%" PRIu32
            " attr=0x%02x s1=0x%02x s2=0x%x n=%u seq=",
            i, (t->flags & MT_TXN_WRITE) ? 'W' : 'R', t->addr, t->size,
            t->attr, t->s1_attr, t->s2_attr, t->naccesses);
    print_range64(out, t->seq_first, t->seq_last);
    fputs(" ep=", out);
    print_range64(out, t->epoch_first, t->epoch_last);
    fprintf(out, " reason=%s t=%" PRIu64 "ns flags=", reason, t->time_ns);
    print_flags(out, t->flags);
    if (t->verdict) {
        fprintf(out, " verdict=%s", mt_rule_mask_str(t->verdict, ",", ids));
        if (t->verdict_seq != MT_SEQ_NONE) {
            fprintf(out, " after=%" PRIu64, t->verdict_seq);
        }
    } else {
        fputs(" verdict=ok", out);
    }
    fputs(" data=", out);
    print_hex(out, rec->data, shown);
    if (shown < t->size) {
        fputs("...", out);
    }
    fputc('\n', out);
}

static void dump_txn_json(FILE *out, uint64_t i, const MtTraceRecord *rec,
                          const char *reason)
{
    const MtTxn *t = &rec->txn;
    char ids[MT_RULE_MASK_STR];

    fprintf(out, "{\"i\":%" PRIu64 ",\"type\":\"txn\",\"op\":\"%c\","
            "\"addr\":%" PRIu64 ",\"size\":%" PRIu32 ",\"attr\":%u,"
            "\"s1\":%u,\"s2\":%u,\"n\":%u,\"seq_first\":%" PRIu64
            ",\"seq_last\":%" PRIu64 ",\"epoch_first\":%" PRIu32
            ",\"epoch_last\":%" PRIu32 ",\"reason\":",
            i, (t->flags & MT_TXN_WRITE) ? 'W' : 'R', t->addr, t->size,
            t->attr, t->s1_attr, t->s2_attr, t->naccesses, t->seq_first,
            t->seq_last, t->epoch_first, t->epoch_last);
    print_json_str(out, reason);
    fprintf(out, ",\"time_ns\":%" PRIu64 ",\"flags\":\"", t->time_ns);
    print_flags(out, t->flags);
    fputs("\",\"verdict\":[", out);
    if (t->verdict) {
        fprintf(out, "\"%s\"", mt_rule_mask_str(t->verdict, "\",\"", ids));
    }
    fputc(']', out);
    if (t->verdict && t->verdict_seq != MT_SEQ_NONE) {
        fprintf(out, ",\"verdict_seq\":%" PRIu64, t->verdict_seq);
    } else {
        fputs(",\"verdict_seq\":null", out);
    }
    fputs(",\"data\":\"", out);
    print_hex(out, rec->data, t->size);
    fputs("\"}\n", out);
}

int mt_trace_dump(FILE *out, const char *path, bool json,
                  char *err, size_t errlen)
{
    MtTraceReader *r;
    MtTraceRecord rec;
    char reason_buf[32];
    const char *reason;
    uint64_t i;
    int rc;

    if (!out) {
        format_msg(err, errlen, "trace dump: no output stream");
        return MT_TRACE_E_INVAL;
    }
    rc = mt_trace_reader_open(&r, path, err, errlen);
    if (rc < 0) {
        return rc;
    }
    for (;;) {
        i = mt_trace_reader_count(r);
        rc = mt_trace_read(r, &rec, err, errlen);
        if (rc <= 0) {
            break;
        }
        if (rec.type == MT_REC_BARRIER) {
            if (json) {
                fprintf(out, "{\"i\":%" PRIu64 ",\"type\":\"barrier\","
                        "\"seq\":%" PRIu64 ",\"epoch\":%" PRIu32
                        ",\"time_ns\":%" PRIu64 "}\n",
                        i, rec.seq, rec.epoch, rec.time_ns);
            } else {
                fprintf(out, "#%" PRIu64 " barrier seq=%" PRIu64
                        " epoch=%" PRIu32 " t=%" PRIu64 "ns\n",
                        i, rec.seq, rec.epoch, rec.time_ns);
            }
            continue;
        }
        reason = mt_flush_reason_name(rec.txn.reason);
        if (!reason) {
            snprintf(reason_buf, sizeof(reason_buf), "%u", rec.txn.reason);
            reason = reason_buf;
        }
        if (json) {
            dump_txn_json(out, i, &rec, reason);
        } else {
            dump_txn_text(out, i, &rec, reason);
        }
    }
    mt_trace_reader_close(r);
    if (fflush(out) != 0 || ferror(out)) {
        if (rc == 0) {
            format_msg(err, errlen, "%s: writing the dump failed: %s",
                       path, strerror(errno));
            rc = MT_TRACE_E_IO;
        }
    }
    return rc;
}
