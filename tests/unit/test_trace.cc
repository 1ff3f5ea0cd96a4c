// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of the transaction trace (hw/memtype/trace.h) and its CRC-32:
 * round trips, the on-disk layout, and that every truncation, bit flip and
 * inconsistency is reported, never silently accepted.
 */
#include <gtest/gtest.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "crc32.h"
#include "rules.h"
#include "trace.h"

namespace {

using Bytes = std::vector<uint8_t>;

// ---- Helpers ----

void Put16(Bytes &b, uint16_t v)
{
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
}

void Put32(Bytes &b, uint32_t v)
{
    Put16(b, static_cast<uint16_t>(v));
    Put16(b, static_cast<uint16_t>(v >> 16));
}

void Put64(Bytes &b, uint64_t v)
{
    Put32(b, static_cast<uint32_t>(v));
    Put32(b, static_cast<uint32_t>(v >> 32));
}

// An independent encoder of the layout documented in trace.h.
Bytes EncodeHeader(uint16_t version = MT_TRACE_VERSION)
{
    Bytes b(MT_TRACE_MAGIC, MT_TRACE_MAGIC + MT_TRACE_MAGIC_LEN);
    Put16(b, version);
    Put16(b, MT_TRACE_HEADER_SIZE);
    Put32(b, 0);
    Put32(b, mt_crc32(0, b.data(), b.size()));
    return b;
}

Bytes EncodeRecord(uint16_t type, const Bytes &payload)
{
    Bytes b;
    Put16(b, type);
    Put16(b, static_cast<uint16_t>(payload.size()));
    Put16(b, static_cast<uint16_t>(payload.size() ^ 0xffff));
    uint32_t crc = mt_crc32(mt_crc32(0, b.data(), 6), payload.data(),
                            payload.size());
    Put32(b, crc);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

Bytes TxnPayload(const MtTraceRecord &r)
{
    const MtTxn &t = r.txn;
    Bytes b;
    Put64(b, t.addr);
    Put32(b, t.size);
    b.push_back(t.flags);
    b.push_back(t.attr);
    b.push_back(t.s1_attr);
    b.push_back(t.s2_attr);
    b.push_back(t.reason);
    b.push_back(0);
    Put16(b, t.naccesses);
    Put64(b, t.seq_first);
    Put64(b, t.seq_last);
    Put32(b, t.epoch_first);
    Put32(b, t.epoch_last);
    Put64(b, t.time_ns);
    Put32(b, t.verdict);
    Put64(b, t.verdict_seq);
    b.insert(b.end(), r.data, r.data + std::min<uint32_t>(t.size,
                                                          MT_TRACE_MAX_DATA));
    return b;
}

Bytes EncodeRec(const MtTraceRecord &r)
{
    if (r.type == MT_REC_BARRIER) {
        Bytes p;
        Put64(p, r.seq);
        Put32(p, r.epoch);
        Put64(p, r.time_ns);
        return EncodeRecord(MT_REC_BARRIER, p);
    }
    return EncodeRecord(MT_REC_TXN, TxnPayload(r));
}

// Header + the encoded records + END over them.
Bytes EncodeFile(const std::vector<Bytes> &recs)
{
    Bytes file = EncodeHeader();
    Bytes stream;
    for (const Bytes &r : recs) {
        stream.insert(stream.end(), r.begin(), r.end());
    }
    file.insert(file.end(), stream.begin(), stream.end());
    Bytes end;
    Put64(end, recs.size());
    Put32(end, mt_crc32(0, stream.data(), stream.size()));
    Bytes e = EncodeRecord(MT_REC_END, end);
    file.insert(file.end(), e.begin(), e.end());
    return file;
}

MtTraceRecord Txn(uint64_t addr, uint32_t size, uint8_t flags, uint8_t seed)
{
    MtTraceRecord r;
    memset(&r, 0, sizeof(r));
    r.type = MT_REC_TXN;
    r.txn.addr = addr;
    r.txn.size = size;
    r.txn.flags = flags;
    r.txn.attr = 0x44;
    r.txn.s1_attr = 0x44;
    r.txn.s2_attr = 0x5;
    r.txn.reason = MT_FLUSH_COMPLETE;
    r.txn.naccesses = 8;
    r.txn.seq_first = 3;
    r.txn.seq_last = 10;
    r.txn.epoch_first = 0;
    r.txn.epoch_last = 0;
    r.txn.time_ns = 1234;
    for (uint32_t i = 0; i < size && i < MT_TRACE_MAX_DATA; i++) {
        r.data[i] = static_cast<uint8_t>(seed + i * 0x11);
    }
    return r;
}

MtTraceRecord Barrier(uint64_t seq, uint32_t epoch, uint64_t time_ns)
{
    MtTraceRecord r;
    memset(&r, 0, sizeof(r));
    r.type = MT_REC_BARRIER;
    r.seq = seq;
    r.epoch = epoch;
    r.time_ns = time_ns;
    return r;
}

// Empty if equal, else what differs.
std::string Diff(const MtTraceRecord &a, const MtTraceRecord &b)
{
    if (a.type != b.type) {
        return "type";
    }
    if (a.type == MT_REC_BARRIER) {
        if (a.seq != b.seq || a.epoch != b.epoch || a.time_ns != b.time_ns) {
            return "barrier fields";
        }
        return "";
    }
    const MtTxn &x = a.txn, &y = b.txn;
    if (x.addr != y.addr || x.size != y.size || x.flags != y.flags ||
        x.attr != y.attr || x.s1_attr != y.s1_attr ||
        x.s2_attr != y.s2_attr || x.reason != y.reason ||
        x.naccesses != y.naccesses || x.seq_first != y.seq_first ||
        x.seq_last != y.seq_last || x.epoch_first != y.epoch_first ||
        x.epoch_last != y.epoch_last || x.time_ns != y.time_ns ||
        x.verdict != y.verdict || x.verdict_seq != y.verdict_seq) {
        return "txn fields";
    }
    if (memcmp(a.data, b.data, x.size) != 0) {
        return "data";
    }
    return "";
}

// Write @recs with the writer; return close's result.
int WriteTrace(const std::string &path, const std::vector<MtTraceRecord> &recs,
               std::string *msg = nullptr)
{
    char err[512] = "";
    MtTraceWriter *w = nullptr;
    int rc = mt_trace_writer_open(&w, path.c_str(), err, sizeof(err));
    if (rc < 0) {
        if (msg) {
            *msg = err;
        }
        return rc;
    }
    for (const MtTraceRecord &r : recs) {
        if (r.type == MT_REC_TXN) {
            mt_trace_write_txn(w, &r.txn, r.data);
        } else {
            mt_trace_write_barrier(w, r.seq, r.epoch, r.time_ns);
        }
    }
    rc = mt_trace_writer_close(w, err, sizeof(err));
    if (msg) {
        *msg = err;
    }
    return rc;
}

// Read all of @path: the records before the end, and 0 or the error.
int ReadTrace(const std::string &path, std::vector<MtTraceRecord> *out,
              std::string *msg)
{
    char err[512] = "";
    MtTraceReader *r = nullptr;
    out->clear();
    int rc = mt_trace_reader_open(&r, path.c_str(), err, sizeof(err));
    if (rc < 0) {
        *msg = err;
        return rc;
    }
    MtTraceRecord rec;
    while ((rc = mt_trace_read(r, &rec, err, sizeof(err))) == 1) {
        out->push_back(rec);
    }
    EXPECT_EQ(mt_trace_reader_count(r), out->size());
    mt_trace_reader_close(r);
    *msg = err;
    return rc;
}

Bytes ReadFile(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f),
                 std::istreambuf_iterator<char>());
}

void WriteFile(const std::string &path, const Bytes &b)
{
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char *>(b.data()),
            static_cast<std::streamsize>(b.size()));
}

bool Contains(const std::string &s, const std::string &what)
{
    return s.find(what) != std::string::npos;
}

class TraceTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/barlab-trace-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }

    void TearDown() override
    {
        chmod(dir_.c_str(), 0700);
        std::filesystem::remove_all(dir_);
    }

    std::string Path(const std::string &name) const
    {
        return dir_ + "/" + name;
    }

    std::vector<std::string> List() const
    {
        std::vector<std::string> names;
        for (const auto &e : std::filesystem::directory_iterator(dir_)) {
            names.push_back(e.path().filename().string());
        }
        std::sort(names.begin(), names.end());
        return names;
    }

    // A small trace with every kind of record, and where each record ends.
    std::vector<MtTraceRecord> SmallRecords() const
    {
        MtTraceRecord zero = Txn(0x2000, 0, 0, 0);
        zero.txn.reason = MT_FLUSH_NONE;
        return { Txn(0x1040, 8, MT_TXN_WRITE, 0x01), Barrier(11, 1, 1300),
                 zero, Txn(0x10, 3, MT_TXN_UNALIGNED, 0x80) };
    }

    static std::vector<size_t> RecordEnds(
        const std::vector<MtTraceRecord> &recs)
    {
        std::vector<size_t> ends;
        size_t off = MT_TRACE_HEADER_SIZE;
        for (const MtTraceRecord &r : recs) {
            off += EncodeRec(r).size();
            ends.push_back(off);
        }
        return ends;
    }

    std::string dir_;
};

// ---- CRC-32 ----

TEST(Crc32, KnownVectors)
{
    EXPECT_EQ(mt_crc32(0, "", 0), 0u);
    EXPECT_EQ(mt_crc32(0, "123456789", 9), 0xcbf43926u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    EXPECT_EQ(mt_crc32(0, fox, strlen(fox)), 0x414fa339u);
    EXPECT_EQ(mt_crc32(mt_crc32(0, fox, 10), fox + 10, strlen(fox) - 10),
              0x414fa339u);
}

// ---- Round trips and layout ----

TEST_F(TraceTest, RoundTripRandom)
{
    std::mt19937_64 rng(0x5eed);
    std::vector<MtTraceRecord> recs;
    for (int i = 0; i < 3000; i++) {
        MtTraceRecord r;
        memset(&r, 0, sizeof(r));
        if (rng() % 4 == 0) {
            r = Barrier(rng(), static_cast<uint32_t>(rng()), rng());
        } else {
            r.type = MT_REC_TXN;
            uint64_t pick = rng() % 8;
            r.txn.size = pick == 0 ? 0 : pick == 1 ? MT_TRACE_MAX_DATA
                       : static_cast<uint32_t>(rng() % (MT_TRACE_MAX_DATA + 1));
            r.txn.addr = rng();
            r.txn.flags = static_cast<uint8_t>(rng());
            r.txn.attr = static_cast<uint8_t>(rng());
            r.txn.s1_attr = static_cast<uint8_t>(rng());
            r.txn.s2_attr = static_cast<uint8_t>(rng() & 0xf);
            r.txn.reason = static_cast<uint8_t>(rng() % MT_FLUSH__COUNT);
            r.txn.naccesses = static_cast<uint16_t>(rng());
            r.txn.seq_first = rng();
            r.txn.seq_last = rng();
            r.txn.epoch_first = static_cast<uint32_t>(rng());
            r.txn.epoch_last = static_cast<uint32_t>(rng());
            r.txn.time_ns = rng();
            r.txn.verdict = static_cast<uint32_t>(rng()) &
                            MT_RULE_VERDICT_MASK;
            r.txn.verdict_seq = rng() % 2 ? MT_SEQ_NONE : rng();
            for (uint32_t j = 0; j < r.txn.size; j++) {
                r.data[j] = static_cast<uint8_t>(rng());
            }
        }
        recs.push_back(r);
    }
    std::string path = Path("t.trace"), msg;
    ASSERT_EQ(WriteTrace(path, recs, &msg), 0) << msg;
    EXPECT_EQ(List(), std::vector<std::string>{ "t.trace" });

    std::vector<MtTraceRecord> got;
    ASSERT_EQ(ReadTrace(path, &got, &msg), 0) << msg;
    ASSERT_EQ(got.size(), recs.size());
    for (size_t i = 0; i < recs.size(); i++) {
        ASSERT_EQ(Diff(got[i], recs[i]), "") << "record " << i;
        // Bytes past the data are zero, not left over from earlier records.
        for (uint32_t j = got[i].txn.size; j < MT_TRACE_MAX_DATA; j++) {
            ASSERT_EQ(got[i].data[j], 0) << "record " << i;
        }
    }
}

TEST_F(TraceTest, ReadAfterEndKeepsReturningZero)
{
    std::string path = Path("t.trace"), msg;
    ASSERT_EQ(WriteTrace(path, SmallRecords(), &msg), 0) << msg;
    char err[256];
    MtTraceReader *r;
    ASSERT_EQ(mt_trace_reader_open(&r, path.c_str(), err, sizeof(err)), 0);
    MtTraceRecord rec;
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(mt_trace_read(r, &rec, err, sizeof(err)), 1);
    }
    EXPECT_EQ(mt_trace_read(r, &rec, err, sizeof(err)), 0);
    EXPECT_EQ(mt_trace_read(r, &rec, err, sizeof(err)), 0);
    EXPECT_EQ(mt_trace_reader_count(r), 4u);
    mt_trace_reader_close(r);
}

TEST_F(TraceTest, EmptyTrace)
{
    std::string path = Path("t.trace"), msg;
    ASSERT_EQ(WriteTrace(path, {}, &msg), 0) << msg;
    EXPECT_EQ(ReadFile(path).size(), MT_TRACE_HEADER_SIZE +
              MT_TRACE_RECHDR_SIZE + MT_TRACE_END_LEN);
    std::vector<MtTraceRecord> got;
    EXPECT_EQ(ReadTrace(path, &got, &msg), 0) << msg;
    EXPECT_TRUE(got.empty());
}

// The writer's bytes are exactly the layout documented in trace.h.
TEST_F(TraceTest, LayoutMatchesDocumentation)
{
    std::string path = Path("t.trace"), msg;
    std::vector<MtTraceRecord> recs = SmallRecords();
    ASSERT_EQ(WriteTrace(path, recs, &msg), 0) << msg;
    std::vector<Bytes> enc;
    for (const MtTraceRecord &r : recs) {
        enc.push_back(EncodeRec(r));
    }
    Bytes file = ReadFile(path);
    EXPECT_EQ(file, EncodeFile(enc));
    // Spot checks that do not depend on the encoder above.
    ASSERT_GE(file.size(), 40u);
    EXPECT_EQ(memcmp(file.data(), "BARLABTR", 8), 0);
    EXPECT_EQ(file[8], 2);
    EXPECT_EQ(file[9], 0);
    EXPECT_EQ(file[20], MT_REC_TXN);                    // record type
    EXPECT_EQ(file[22], MT_TRACE_TXN_FIXED + 8);        // length
    EXPECT_EQ(file[30], 0x40);                          // addr 0x1040, LE
    EXPECT_EQ(file[31], 0x10);
}

// ---- Writer ----

TEST_F(TraceTest, WriterRejectsOversizeTransaction)
{
    std::string path = Path("t.trace");
    char err[512] = "";
    MtTraceWriter *w;
    ASSERT_EQ(mt_trace_writer_open(&w, path.c_str(), err, sizeof(err)), 0);
    MtTraceRecord r = Txn(0, 8, MT_TXN_WRITE, 0);
    r.txn.size = MT_TRACE_MAX_DATA + 1;
    Bytes big(MT_TRACE_MAX_DATA + 1);
    EXPECT_EQ(mt_trace_write_txn(w, &r.txn, big.data()), MT_TRACE_E_INVAL);
    // Sticky: later records are refused, and close reports the first error.
    EXPECT_EQ(mt_trace_write_barrier(w, 1, 1, 1), MT_TRACE_E_INVAL);
    EXPECT_EQ(mt_trace_writer_close(w, err, sizeof(err)), MT_TRACE_E_INVAL);
    EXPECT_TRUE(Contains(err, path)) << err;
    EXPECT_TRUE(Contains(err, "exceeds")) << err;
    EXPECT_TRUE(List().empty());
}

TEST_F(TraceTest, WriterRejectsMissingData)
{
    std::string path = Path("t.trace");
    char err[512] = "";
    MtTraceWriter *w;
    ASSERT_EQ(mt_trace_writer_open(&w, path.c_str(), err, sizeof(err)), 0);
    MtTraceRecord r = Txn(0, 8, MT_TXN_WRITE, 0);
    EXPECT_EQ(mt_trace_write_txn(w, &r.txn, nullptr), MT_TRACE_E_INVAL);
    EXPECT_EQ(mt_trace_writer_close(w, err, sizeof(err)), MT_TRACE_E_INVAL);
    EXPECT_TRUE(List().empty());
}

TEST_F(TraceTest, AbortLeavesNothing)
{
    std::string path = Path("t.trace");
    char err[256];
    MtTraceWriter *w;
    ASSERT_EQ(mt_trace_writer_open(&w, path.c_str(), err, sizeof(err)), 0);
    MtTraceRecord r = Txn(0x40, 64, MT_TXN_WRITE, 7);
    ASSERT_EQ(mt_trace_write_txn(w, &r.txn, r.data), 0);
    ASSERT_EQ(List().size(), 1u);           // the temporary file
    EXPECT_NE(List()[0], "t.trace");
    mt_trace_writer_abort(w);
    EXPECT_TRUE(List().empty());
    mt_trace_writer_abort(nullptr);
}

TEST_F(TraceTest, ExistingFileReplacedOnlyOnSuccessfulClose)
{
    std::string path = Path("t.trace"), msg;
    const Bytes old = { 'o', 'l', 'd' };
    WriteFile(path, old);

    // Abort: the old file stays.
    char err[256];
    MtTraceWriter *w;
    ASSERT_EQ(mt_trace_writer_open(&w, path.c_str(), err, sizeof(err)), 0);
    ASSERT_EQ(mt_trace_write_barrier(w, 1, 2, 3), 0);
    mt_trace_writer_abort(w);
    EXPECT_EQ(ReadFile(path), old);
    EXPECT_EQ(List(), std::vector<std::string>{ "t.trace" });

    // Until close, the old file stays; then it is replaced.
    ASSERT_EQ(mt_trace_writer_open(&w, path.c_str(), err, sizeof(err)), 0);
    for (const MtTraceRecord &r : SmallRecords()) {
        if (r.type == MT_REC_TXN) {
            ASSERT_EQ(mt_trace_write_txn(w, &r.txn, r.data), 0);
        } else {
            ASSERT_EQ(mt_trace_write_barrier(w, r.seq, r.epoch, r.time_ns), 0);
        }
    }
    EXPECT_EQ(ReadFile(path), old);
    EXPECT_EQ(List().size(), 2u);
    ASSERT_EQ(mt_trace_writer_close(w, err, sizeof(err)), 0) << err;
    EXPECT_EQ(List(), std::vector<std::string>{ "t.trace" });
    std::vector<MtTraceRecord> got;
    ASSERT_EQ(ReadTrace(path, &got, &msg), 0) << msg;
    EXPECT_EQ(got.size(), 4u);
}

TEST_F(TraceTest, TwoWritersSamePath)
{
    std::string path = Path("t.trace"), msg;
    char err[256];
    MtTraceWriter *a, *b;
    ASSERT_EQ(mt_trace_writer_open(&a, path.c_str(), err, sizeof(err)), 0);
    ASSERT_EQ(mt_trace_writer_open(&b, path.c_str(), err, sizeof(err)), 0);
    EXPECT_EQ(List().size(), 2u);
    ASSERT_EQ(mt_trace_write_barrier(a, 1, 1, 1), 0);
    ASSERT_EQ(mt_trace_write_barrier(b, 2, 2, 2), 0);
    ASSERT_EQ(mt_trace_writer_close(a, err, sizeof(err)), 0) << err;
    ASSERT_EQ(mt_trace_writer_close(b, err, sizeof(err)), 0) << err;
    EXPECT_EQ(List(), std::vector<std::string>{ "t.trace" });
    std::vector<MtTraceRecord> got;
    ASSERT_EQ(ReadTrace(path, &got, &msg), 0) << msg;
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].seq, 2u);
}

TEST_F(TraceTest, OpenInMissingDirectoryFails)
{
    std::string path = Path("no/such/dir/t.trace");
    char err[512] = "";
    MtTraceWriter *w = reinterpret_cast<MtTraceWriter *>(1);
    EXPECT_EQ(mt_trace_writer_open(&w, path.c_str(), err, sizeof(err)),
              MT_TRACE_E_IO);
    EXPECT_EQ(w, nullptr);
    EXPECT_TRUE(Contains(err, path)) << err;
}

// Root ignores directory permissions; the tests below fail close for
// reasons root cannot override.
TEST_F(TraceTest, CloseIntoUnwritableDirectoryFails)
{
    if (geteuid() == 0) {
        GTEST_SKIP() << "root ignores directory permissions";
    }
    std::string path = Path("t.trace");
    char err[512] = "";
    MtTraceWriter *w;
    ASSERT_EQ(mt_trace_writer_open(&w, path.c_str(), err, sizeof(err)), 0);
    ASSERT_EQ(mt_trace_write_barrier(w, 1, 1, 1), 0);
    ASSERT_EQ(chmod(dir_.c_str(), 0500), 0);
    EXPECT_EQ(mt_trace_writer_close(w, err, sizeof(err)), MT_TRACE_E_IO);
    EXPECT_TRUE(Contains(err, path)) << err;
    EXPECT_TRUE(Contains(err, "rename")) << err;
    // The temporary file cannot be removed either, and the message says so.
    EXPECT_TRUE(Contains(err, "left behind")) << err;
    ASSERT_EQ(chmod(dir_.c_str(), 0700), 0);
    EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(TraceTest, CloseFailsWhenDirectoryVanished)
{
    std::string sub = Path("sub"), path = sub + "/t.trace";
    ASSERT_EQ(mkdir(sub.c_str(), 0700), 0);
    char err[512] = "";
    MtTraceWriter *w;
    ASSERT_EQ(mt_trace_writer_open(&w, path.c_str(), err, sizeof(err)), 0);
    ASSERT_EQ(mt_trace_write_barrier(w, 1, 1, 1), 0);
    std::filesystem::remove_all(sub);
    EXPECT_EQ(mt_trace_writer_close(w, err, sizeof(err)), MT_TRACE_E_IO);
    EXPECT_TRUE(Contains(err, path)) << err;
    EXPECT_FALSE(Contains(err, "\n"));
    EXPECT_TRUE(List().empty());
}

TEST_F(TraceTest, CloseOntoDirectoryFails)
{
    std::string path = Path("t.trace");
    ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
    WriteFile(path + "/keep", { 1 });
    char err[512] = "";
    MtTraceWriter *w;
    ASSERT_EQ(mt_trace_writer_open(&w, path.c_str(), err, sizeof(err)), 0);
    ASSERT_EQ(mt_trace_write_barrier(w, 1, 1, 1), 0);
    EXPECT_EQ(mt_trace_writer_close(w, err, sizeof(err)), MT_TRACE_E_IO);
    EXPECT_TRUE(Contains(err, path)) << err;
    EXPECT_TRUE(Contains(err, "rename")) << err;
    EXPECT_EQ(List(), std::vector<std::string>{ "t.trace" });
    EXPECT_TRUE(std::filesystem::is_directory(path));
}

// A write error (here EFBIG from RLIMIT_FSIZE, as ENOSPC would be) is
// reported by close at the latest, and the old file is kept.
TEST_F(TraceTest, WriteErrorReportedAtClose)
{
    std::string path = Path("t.trace");
    const Bytes old = { 'o', 'l', 'd' };
    WriteFile(path, old);

    struct rlimit saved, small;
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*saved_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    small = saved;
    small.rlim_cur = 1000;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);

    char err[512] = "";
    MtTraceWriter *w;
    int rc = mt_trace_writer_open(&w, path.c_str(), err, sizeof(err));
    if (rc == 0) {
        MtTraceRecord r = Txn(0, MT_TRACE_MAX_DATA, MT_TXN_WRITE, 3);
        for (int i = 0; i < 100; i++) {
            mt_trace_write_txn(w, &r.txn, r.data);
        }
        rc = mt_trace_writer_close(w, err, sizeof(err));
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, saved_sig);

    EXPECT_EQ(rc, MT_TRACE_E_IO);
    EXPECT_TRUE(Contains(err, path)) << err;
    EXPECT_EQ(ReadFile(path), old);
    EXPECT_EQ(List(), std::vector<std::string>{ "t.trace" });
}

// ---- Reader: damage of every kind ----

TEST_F(TraceTest, MissingFile)
{
    std::string path = Path("absent.trace"), msg;
    std::vector<MtTraceRecord> got;
    EXPECT_EQ(ReadTrace(path, &got, &msg), MT_TRACE_E_IO);
    EXPECT_TRUE(Contains(msg, path)) << msg;
}

TEST_F(TraceTest, TruncationAtEveryByte)
{
    std::string full = Path("full.trace"), path = Path("cut.trace"), msg;
    std::vector<MtTraceRecord> recs = SmallRecords();
    ASSERT_EQ(WriteTrace(full, recs, &msg), 0) << msg;
    const Bytes file = ReadFile(full);
    const std::vector<size_t> ends = RecordEnds(recs);

    for (size_t cut = 0; cut < file.size(); cut++) {
        WriteFile(path, Bytes(file.begin(), file.begin() + cut));
        std::vector<MtTraceRecord> got;
        int rc = ReadTrace(path, &got, &msg);
        ASSERT_EQ(rc, MT_TRACE_E_TRUNCATED) << "cut " << cut << ": " << msg;
        ASSERT_TRUE(Contains(msg, "truncated")) << msg;
        ASSERT_TRUE(Contains(msg, path)) << msg;
        ASSERT_TRUE(Contains(msg, "byte offset")) << msg;
        ASSERT_FALSE(Contains(msg, "\n")) << msg;
        size_t whole = std::count_if(ends.begin(), ends.end(),
                                     [cut](size_t e) { return e <= cut; });
        ASSERT_EQ(got.size(), whole) << "cut " << cut;
        for (size_t i = 0; i < got.size(); i++) {
            ASSERT_EQ(Diff(got[i], recs[i]), "") << "cut " << cut;
        }
    }
}

TEST_F(TraceTest, SingleBitFlipAtEveryByte)
{
    std::string full = Path("full.trace"), path = Path("flip.trace"), msg;
    std::vector<MtTraceRecord> recs = SmallRecords();
    ASSERT_EQ(WriteTrace(full, recs, &msg), 0) << msg;
    const Bytes file = ReadFile(full);
    const std::vector<size_t> ends = RecordEnds(recs);

    for (size_t off = 0; off < file.size(); off++) {
        for (int bit = 0; bit < 8; bit++) {
            Bytes b = file;
            b[off] ^= static_cast<uint8_t>(1u << bit);
            WriteFile(path, b);
            std::vector<MtTraceRecord> got;
            int rc = ReadTrace(path, &got, &msg);
            ASSERT_TRUE(rc == MT_TRACE_E_CORRUPT || rc == MT_TRACE_E_MAGIC ||
                        rc == MT_TRACE_E_VERSION)
                << "byte " << off << " bit " << bit << ": rc " << rc << " "
                << msg;
            ASSERT_TRUE(Contains(msg, path)) << msg;
            ASSERT_TRUE(Contains(msg, "byte offset")) << msg;
            ASSERT_FALSE(Contains(msg, "\n")) << msg;
            size_t before = std::count_if(ends.begin(), ends.end(),
                                          [off](size_t e) { return e <= off; });
            ASSERT_LE(got.size(), before) << "byte " << off;
            for (size_t i = 0; i < got.size(); i++) {
                ASSERT_EQ(Diff(got[i], recs[i]), "") << "byte " << off;
            }
        }
    }
}

TEST_F(TraceTest, WrongMagic)
{
    std::string path = Path("t.trace"), msg;
    std::vector<MtTraceRecord> got;
    WriteFile(path, Bytes{ 'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l',
                           'd', '\n' });
    EXPECT_EQ(ReadTrace(path, &got, &msg), MT_TRACE_E_MAGIC);
    EXPECT_TRUE(Contains(msg, "magic")) << msg;
    EXPECT_TRUE(Contains(msg, "byte offset 0")) << msg;
}

TEST_F(TraceTest, WrongVersion)
{
    std::string path = Path("t.trace"), msg;
    // A valid header of version 1 (no verdicts; CRC correct), then
    // version-2 records.
    Bytes file = EncodeFile({ EncodeRec(Barrier(1, 2, 3)) });
    Bytes v1 = EncodeHeader(1);
    std::copy(v1.begin(), v1.end(), file.begin());
    WriteFile(path, file);
    std::vector<MtTraceRecord> got;
    EXPECT_EQ(ReadTrace(path, &got, &msg), MT_TRACE_E_VERSION);
    EXPECT_TRUE(Contains(msg, "version 1")) << msg;
    EXPECT_TRUE(Contains(msg, "version 2")) << msg;
    EXPECT_TRUE(Contains(msg, path)) << msg;
    EXPECT_TRUE(Contains(msg, "byte offset 8")) << msg;
    // Sanity: the same file with a version-2 header is fine.
    v1 = EncodeHeader(2);
    std::copy(v1.begin(), v1.end(), file.begin());
    WriteFile(path, file);
    EXPECT_EQ(ReadTrace(path, &got, &msg), 0) << msg;
}

TEST_F(TraceTest, TrailingGarbage)
{
    std::string path = Path("t.trace"), msg;
    std::vector<MtTraceRecord> recs = SmallRecords();
    ASSERT_EQ(WriteTrace(path, recs, &msg), 0) << msg;
    const Bytes file = ReadFile(path);
    const std::string where = "byte offset " + std::to_string(file.size());

    for (const Bytes &extra : { Bytes{ 0 }, EncodeRec(recs[1]), file }) {
        Bytes b = file;
        b.insert(b.end(), extra.begin(), extra.end());
        WriteFile(path, b);
        std::vector<MtTraceRecord> got;
        EXPECT_EQ(ReadTrace(path, &got, &msg), MT_TRACE_E_CORRUPT);
        EXPECT_TRUE(Contains(msg, "trailing")) << msg;
        EXPECT_TRUE(Contains(msg, where)) << msg;
        EXPECT_EQ(got.size(), recs.size());
    }
}

// Damage that every CRC agrees with: caught by the structure checks.
TEST_F(TraceTest, ConsistentButWrongFiles)
{
    std::string path = Path("t.trace"), msg;
    std::vector<MtTraceRecord> recs = SmallRecords();
    std::vector<Bytes> enc;
    for (const MtTraceRecord &r : recs) {
        enc.push_back(EncodeRec(r));
    }
    struct Case {
        const char *name;
        Bytes file;
        const char *expect;
    };
    std::vector<Case> cases;

    // A record dropped: the END count no longer matches.
    {
        std::vector<Bytes> e = enc;
        e.erase(e.begin() + 1);
        Bytes f = EncodeFile(e);
        // Re-point END at the original count and stream.
        Bytes orig = EncodeFile(enc);
        size_t end_at = f.size() - MT_TRACE_RECHDR_SIZE - MT_TRACE_END_LEN;
        Bytes end(orig.end() - MT_TRACE_RECHDR_SIZE - MT_TRACE_END_LEN,
                  orig.end());
        f.resize(end_at);
        f.insert(f.end(), end.begin(), end.end());
        cases.push_back({ "dropped record", f, "count mismatch" });
    }
    // Two records swapped: count right, stream CRC wrong.
    {
        std::vector<Bytes> e = enc;
        Bytes f = EncodeFile(e);
        std::swap(e[0], e[1]);
        Bytes g = EncodeFile(e);
        // g's records with f's END.
        std::copy(f.end() - MT_TRACE_RECHDR_SIZE - MT_TRACE_END_LEN, f.end(),
                  g.end() - MT_TRACE_RECHDR_SIZE - MT_TRACE_END_LEN);
        cases.push_back({ "swapped records", g, "stream CRC mismatch" });
    }
    // Unknown record type with a valid CRC.
    {
        std::vector<Bytes> e = enc;
        e.push_back(EncodeRecord(3, Bytes(20)));
        cases.push_back({ "bad type", EncodeFile(e), "bad type 3" });
    }
    // Transaction record too long for any size.
    {
        std::vector<Bytes> e = enc;
        Bytes p = TxnPayload(recs[0]);
        p.resize(MT_TRACE_TXN_FIXED + MT_TRACE_MAX_DATA + 1);
        e.push_back(EncodeRecord(MT_REC_TXN, p));
        cases.push_back({ "too long", EncodeFile(e), "impossible length" });
    }
    // Barrier with the wrong length.
    {
        std::vector<Bytes> e = enc;
        e.push_back(EncodeRecord(MT_REC_BARRIER, Bytes(21)));
        cases.push_back({ "barrier length", EncodeFile(e),
                          "impossible length" });
    }
    // Size above the maximum (length consistent with the header only).
    {
        MtTraceRecord r = recs[0];
        r.txn.size = 1000;
        std::vector<Bytes> e = enc;
        Bytes p = TxnPayload(r);
        p.resize(MT_TRACE_TXN_FIXED + 8);
        e.push_back(EncodeRecord(MT_REC_TXN, p));
        cases.push_back({ "size > max", EncodeFile(e), "exceeds" });
    }
    // Size disagreeing with the record length.
    {
        MtTraceRecord r = recs[0];
        r.txn.size = 4;
        std::vector<Bytes> e = enc;
        Bytes p = TxnPayload(r);
        p.resize(MT_TRACE_TXN_FIXED + 8);
        e.push_back(EncodeRecord(MT_REC_TXN, p));
        cases.push_back({ "size mismatch", EncodeFile(e), "does not match" });
    }
    // A verdict bit past the rule catalogue, CRCs consistent.
    {
        MtTraceRecord r = recs[0];
        r.txn.verdict = 1u << MT_RULE_C_DEVICE_WINS;
        std::vector<Bytes> e = enc;
        e.push_back(EncodeRec(r));
        cases.push_back({ "verdict bit", EncodeFile(e), "names a rule no checker" });
    }
    // Length whose check does not match.
    {
        Bytes f = EncodeFile(enc);
        f[MT_TRACE_HEADER_SIZE + 4] ^= 1;
        cases.push_back({ "length check", f, "does not match its check" });
    }
    // Header of another size, CRC recomputed.
    {
        Bytes f = EncodeFile(enc);
        f[10] = 24;
        uint32_t crc = mt_crc32(0, f.data(), 16);
        for (int i = 0; i < 4; i++) {
            f[16 + i] = static_cast<uint8_t>(crc >> (8 * i));
        }
        cases.push_back({ "header size", f, "header size 24" });
    }
    // END record missing but otherwise fine: truncated, not corrupt.
    {
        Bytes f = EncodeFile(enc);
        f.resize(f.size() - MT_TRACE_RECHDR_SIZE - MT_TRACE_END_LEN);
        cases.push_back({ "no END", f, "without an END record" });
    }

    for (const Case &c : cases) {
        WriteFile(path, c.file);
        std::vector<MtTraceRecord> got;
        int rc = ReadTrace(path, &got, &msg);
        EXPECT_EQ(rc, strcmp(c.name, "no END") == 0 ? MT_TRACE_E_TRUNCATED
                                                    : MT_TRACE_E_CORRUPT)
            << c.name << ": " << msg;
        EXPECT_TRUE(Contains(msg, c.expect)) << c.name << ": " << msg;
        EXPECT_TRUE(Contains(msg, "byte offset")) << c.name << ": " << msg;
    }
}

TEST_F(TraceTest, ErrorsAreSticky)
{
    std::string path = Path("t.trace"), msg;
    ASSERT_EQ(WriteTrace(path, SmallRecords(), &msg), 0) << msg;
    Bytes file = ReadFile(path);
    file.resize(file.size() - 1);
    WriteFile(path, file);
    char err[256], err2[256];
    MtTraceReader *r;
    ASSERT_EQ(mt_trace_reader_open(&r, path.c_str(), err, sizeof(err)), 0);
    MtTraceRecord rec;
    int rc;
    while ((rc = mt_trace_read(r, &rec, err, sizeof(err))) == 1) {
    }
    EXPECT_EQ(rc, MT_TRACE_E_TRUNCATED);
    EXPECT_EQ(mt_trace_read(r, &rec, err2, sizeof(err2)), rc);
    EXPECT_STREQ(err, err2);
    mt_trace_reader_close(r);
}

// ---- Dump ----

std::string Dump(const std::string &path, bool json, int *rc, std::string *msg)
{
    char *buf = nullptr;
    size_t len = 0;
    char err[512] = "";
    FILE *f = open_memstream(&buf, &len);
    *rc = mt_trace_dump(f, path.c_str(), json, err, sizeof(err));
    fclose(f);
    std::string out(buf, len);
    free(buf);
    *msg = err;
    return out;
}

TEST_F(TraceTest, DumpTextAndJson)
{
    std::string path = Path("t.trace"), msg;
    MtTraceRecord big = Txn(0xfffffffffffff000ull, 100, MT_TXN_SPECULATIVE |
                            MT_TXN_FWB | 0x80, 0);
    big.txn.reason = MT_FLUSH_NONE;
    big.txn.seq_first = big.txn.seq_last = 12;
    big.txn.epoch_first = 1;
    big.txn.epoch_last = 2;
    big.txn.verdict = 1u << MT_RULE_X_ORDERED | 1u << MT_RULE_V_BARRIER;
    big.txn.verdict_seq = 7;
    MtTraceRecord zero = Txn(0x8, 0, 0, 0);
    zero.txn.reason = MT_FLUSH__COUNT + 5;   // out of range: still dumped
    ASSERT_EQ(WriteTrace(path, { Txn(0x1040, 64, MT_TXN_WRITE, 0),
                                 Barrier(11, 1, 1300), big, zero }, &msg), 0)
        << msg;

    std::string d64, d100;
    for (int i = 0; i < 64; i++) {
        char h[3];
        snprintf(h, sizeof(h), "%02x", static_cast<uint8_t>(i * 0x11));
        d64 += h;
    }
    d100 = d64;
    for (int i = 64; i < 100; i++) {
        char h[3];
        snprintf(h, sizeof(h), "%02x", static_cast<uint8_t>(i * 0x11));
        d100 += h;
    }
    std::string complete = mt_flush_reason_name(MT_FLUSH_COMPLETE);
    std::string none = mt_flush_reason_name(MT_FLUSH_NONE);
    const char *odd_name = mt_flush_reason_name(MT_FLUSH__COUNT + 5);
    std::string odd = odd_name ? odd_name : std::to_string(MT_FLUSH__COUNT + 5);

    int rc;
    std::string text = Dump(path, false, &rc, &msg);
    EXPECT_EQ(rc, 0) << msg;
    EXPECT_EQ(text,
              "#0 W 0x0000000000001040 +64 attr=0x44 s1=0x44 s2=0x5 n=8 "
              "seq=3..10 ep=0 reason=" + complete + " t=1234ns flags=write "
              "verdict=ok data=" + d64 + "\n"
              "#1 barrier seq=11 epoch=1 t=1300ns\n"
              "#2 R 0xfffffffffffff000 +100 attr=0x44 s1=0x44 s2=0x5 n=8 "
              "seq=12 ep=1..2 reason=" + none + " t=1234ns "
              "flags=spec|fwb|0x80 verdict=V4,X3 after=7 data=" + d64 + "...\n"
              "#3 R 0x0000000000000008 +0 attr=0x44 s1=0x44 s2=0x5 n=8 "
              "seq=3..10 ep=0 reason=" + odd + " t=1234ns flags=none verdict=ok "
              "data=\n");

    std::string json = Dump(path, true, &rc, &msg);
    EXPECT_EQ(rc, 0) << msg;
    EXPECT_EQ(json,
              "{\"i\":0,\"type\":\"txn\",\"op\":\"W\",\"addr\":4160,"
              "\"size\":64,\"attr\":68,\"s1\":68,\"s2\":5,\"n\":8,"
              "\"seq_first\":3,\"seq_last\":10,\"epoch_first\":0,"
              "\"epoch_last\":0,\"reason\":\"" + complete + "\","
              "\"time_ns\":1234,\"flags\":\"write\",\"verdict\":[],"
              "\"verdict_seq\":null,\"data\":\"" + d64 +
              "\"}\n"
              "{\"i\":1,\"type\":\"barrier\",\"seq\":11,\"epoch\":1,"
              "\"time_ns\":1300}\n"
              "{\"i\":2,\"type\":\"txn\",\"op\":\"R\","
              "\"addr\":18446744073709547520,\"size\":100,\"attr\":68,"
              "\"s1\":68,\"s2\":5,\"n\":8,\"seq_first\":12,\"seq_last\":12,"
              "\"epoch_first\":1,\"epoch_last\":2,\"reason\":\"" + none +
              "\",\"time_ns\":1234,\"flags\":\"spec|fwb|0x80\","
              "\"verdict\":[\"V4\",\"X3\"],\"verdict_seq\":7,\"data\":\"" +
              d100 + "\"}\n"
              "{\"i\":3,\"type\":\"txn\",\"op\":\"R\",\"addr\":8,\"size\":0,"
              "\"attr\":68,\"s1\":68,\"s2\":5,\"n\":8,\"seq_first\":3,"
              "\"seq_last\":10,\"epoch_first\":0,\"epoch_last\":0,"
              "\"reason\":\"" + odd + "\",\"time_ns\":1234,"
              "\"flags\":\"none\",\"verdict\":[],\"verdict_seq\":null,"
              "\"data\":\"\"}\n");

    // Deterministic.
    EXPECT_EQ(Dump(path, false, &rc, &msg), text);
    EXPECT_EQ(Dump(path, true, &rc, &msg), json);
}

TEST_F(TraceTest, DumpReportsDamage)
{
    std::string path = Path("t.trace"), msg;
    ASSERT_EQ(WriteTrace(path, SmallRecords(), &msg), 0) << msg;
    Bytes file = ReadFile(path);
    file.back() ^= 0x40;                    // inside the END record
    WriteFile(path, file);
    int rc;
    std::string text = Dump(path, false, &rc, &msg);
    EXPECT_EQ(rc, MT_TRACE_E_CORRUPT);
    EXPECT_TRUE(Contains(msg, path)) << msg;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);

    text = Dump(Path("absent"), true, &rc, &msg);
    EXPECT_EQ(rc, MT_TRACE_E_IO);
    EXPECT_TRUE(text.empty());
}

}  // namespace
