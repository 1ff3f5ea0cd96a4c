// SPDX-License-Identifier: GPL-2.0-or-later
//
// Independent cross-check of hw/memtype (memtype.h): the MAIR_ELx.Attr and
// stage-2 MemAttr decoders, the stage-1 x stage-2 combine with and without
// FEAT_S2FWB, shareability, what each type permits, and where an access takes
// an Alignment fault.  The expected values come from a reference written
// separately from the implementation, straight from the Arm ARM (DDI0487)
// pseudocode, and deliberately in a different shape: it never decodes to a
// struct, it does arithmetic on MAIR bytes and nibbles and yields the
// combined attribute as a MAIR byte (or "reserved").  Every S1 byte x every
// S2 MemAttr x FWB off/on is compared, then hand-picked cases from the Arm ARM
// text and the Linux KVM VFIO Normal-NC table, then the parsers and names.

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "memtype.h"

namespace {

// ---------------------------------------------------------------------------
// The reference.  Attributes are MAIR bytes; -1 is "reserved/UNPREDICTABLE".
//
// Canonical forms: Device is 0b0000dd00 (0x00 < 0x04 < 0x08 < 0x0C, so the
// numerically smaller byte is the stronger type), Normal is two non-zero
// nibbles, outer in [7:4], inner in [3:0].  A nibble is
//   00RW (RW != 00) WT transient    0100 NC    01RW (RW != 00) WB transient
//   10RW WT non-transient           11RW WB non-transient
// R is bit 1 (read-allocate), W bit 0 (write-allocate).
// ---------------------------------------------------------------------------
namespace ref {

constexpr int kRes = -1;

// Shareability ranks as MtShare: NSH 0 < ISH 1 < OSH 2.
constexpr int kNSH = 0, kISH = 1, kOSH = 2;

bool is_device(int b) { return b >= 0 && (b & 0xF0) == 0; }

// Cacheability rank of a (non-zero) Normal nibble: NC 0 < WT 1 < WB 2, the
// order S2CombineS1AttrHints() resolves by (the smaller wins).
int rank(unsigned n) { return n == 0x4 ? 0 : ((n & 0x4) ? 2 : 1); }
bool transient(unsigned n) { return n != 0x4 && (n & 0x8) == 0; }

struct S1 {
    int byte;       // canonical MAIR byte, or kRes
    bool xs0;
    bool tagged;
};

// MAIR_ELx.Attr<n> (AArch64.S1DecodeMemAttrs / MAIR field description).
S1 s1(unsigned b, unsigned features)
{
    const unsigned hi = b >> 4, lo = b & 0xF;
    const bool xs = features & MT_FEAT_XS, mte2 = features & MT_FEAT_MTE2;
    if (hi == 0) {
        if ((lo & 0x3) == 0)                // 0b0000dd00 Device
            return {int(lo), false, false};
        if ((lo & 0x3) == 1 && xs)          // 0b0000dd01 Device, XS == 0
            return {int(lo & 0xC), true, false};
        return {kRes, false, false};        // 0b0000dd01 w/o XS, 0b0000dd1x
    }
    if (lo != 0)                            // 0booooiiii, both non-zero
        return {int(b), false, false};
    if (b == 0x40 && xs)                    // Normal iNC oNC, XS == 0
        return {0x44, true, false};
    if (b == 0xA0 && xs)                    // Normal iWT oWT RA non-transient, XS == 0
        return {0xAA, true, false};
    if (b == 0xF0 && mte2)                  // Tagged Normal iWB oWB RWA
        return {0xFF, false, true};
    return {kRes, false, false};            // other 0bxxxx0000
}

// What a stage-2 MemAttr means alone: 'D' Device (type in *dev as a MAIR
// byte), 'N' Normal (non-FWB), 'c' FWB NC, 'w' FWB force-WB, 's' FWB use-S1,
// 'R' reserved.  Non-FWB: S2DecodeMemAttrs()/S2DecodeCacheability();
// FWB: AArch64.S2ApplyFWBMemAttrs() (MemAttr[3] reported reserved).
char s2(unsigned m, bool fwb, int *dev)
{
    *dev = int((m & 0x3) << 2);
    if (!fwb) {
        if ((m >> 2) == 0)
            return 'D';
        return (m & 0x3) == 0 ? 'R' : 'N';
    }
    if (m & 0x8)
        return 'R';
    switch (m & 0x7) {
    case 0x4: return 'R';
    case 0x5: return 'c';
    case 0x6: return 'w';
    case 0x7: return 's';
    default:  return 'D';
    }
}

// One domain of S2CombineS1AttrHints(): s1 nibble n, stage-2 2-bit
// cacheability c (01 NC, 10 WT, 11 WB).  The weaker cacheability wins; a
// cacheable result keeps the stage-1 allocation hints and transient-ness.
unsigned hints_nibble(unsigned n, unsigned c)
{
    const int r = rank(n) < int(c) - 1 ? rank(n) : int(c) - 1;
    if (r == 0)
        return 0x4;
    return (n & 0x8) | (r == 2 ? 0x4 : 0x0) | (n & 0x3);
}

// FWB force-WB domain: WB with the stage-1 hints when stage 1 is Normal and
// that domain is not NC, else RWA non-transient.
unsigned force_wb_nibble(int s1b, unsigned n)
{
    if (is_device(s1b) || n == 0x4)
        return 0xF;
    return (n & 0x8) | 0x4 | (n & 0x3);
}

// S2CombineS1MemAttrs() / AArch64.S2ApplyFWBMemAttrs() on MAIR bytes.
int combine(int s1b, unsigned m, bool fwb)
{
    if (s1b < 0 || m > 15)
        return kRes;
    int dev;
    switch (s2(m, fwb, &dev)) {
    case 'R':
        return kRes;
    case 'D':   // Device beats Normal; both Device: S2CombineS1Device()
        return is_device(s1b) ? (s1b < dev ? s1b : dev) : dev;
    case 'N':
        if (is_device(s1b))
            return s1b;
        return int(hints_nibble(unsigned(s1b) >> 4, (m >> 2) & 3) << 4 |
                   hints_nibble(unsigned(s1b) & 0xF, m & 3));
    case 'c':
        return is_device(s1b) ? s1b : 0x44;
    case 'w':
        return int(force_wb_nibble(s1b, unsigned(s1b) >> 4) << 4 |
                   force_wb_nibble(s1b, unsigned(s1b) & 0xF));
    case 's':
        return s1b;
    }
    return kRes;
}

// SH[1:0]: 00 NSH, 01 reserved, 10 OSH, 11 ISH.
int sh(unsigned f)
{
    static const int t[4] = {kNSH, kRes, kOSH, kISH};
    return f < 4 ? t[f] : kRes;
}

// S2CombineS1Shareability() then EffectiveShareability().
int share(int combined, int s1sh, unsigned s2sh)
{
    const int s2s = sh(s2sh);
    if (combined < 0 || s2s < 0)
        return kRes;
    if (is_device(combined) || combined == 0x44)
        return kOSH;
    return s1sh > s2s ? s1sh : s2s;
}

// Device permits ordered by the MAIR byte: nGnRnE < nGnRE (E) < nGRE (R, E)
// < GRE (G, R, E).  Normal permits everything; reserved permits nothing.
MtPermits permits(int b)
{
    MtPermits p;
    std::memset(&p, 0, sizeof(p));
    if (b < 0)
        return p;
    if (is_device(b)) {
        p.early_ack = b >= 0x04;
        p.reorder = b >= 0x08;
        p.gather = b >= 0x0C;
        return p;
    }
    p.gather = p.reorder = p.early_ack = true;
    p.unaligned = p.dczva = p.speculative_read = true;
    return p;
}

// AArch64.S1HasAlignmentFault() then AArch64.S2HasAlignmentFault(),
// SCTLR_ELx.A == 0.  With FWB stage 1 is Normal by the time stage 2 is
// checked, so only the FWB Device encodings give a stage-2 Device type.
MtFault align(int s1b, unsigned m, bool fwb, MtAccessClass cls)
{
    if (cls == MT_ACCESS_ALIGNED)
        return MT_FAULT_NONE;
    if (s1b < 0)
        return MT_FAULT_UNPREDICTABLE;
    if (is_device(s1b))
        return MT_FAULT_S1_ALIGN;
    int dev;
    const char k = m > 15 ? 'R' : s2(m, fwb, &dev);
    if (k == 'D')
        return MT_FAULT_S2_ALIGN;
    if (k == 'R')
        return MT_FAULT_UNPREDICTABLE;
    return MT_FAULT_NONE;
}

}  // namespace ref

// ---------------------------------------------------------------------------
// Comparison helpers.
// ---------------------------------------------------------------------------

std::string hex(unsigned v)
{
    char b[16];
    std::snprintf(b, sizeof(b), "0x%02x", v);
    return b;
}

// Check one domain of a decoded Normal type against a MAIR nibble.
void expect_domain(const MtHints &h, unsigned n, const char *which)
{
    SCOPED_TRACE(std::string(which) + " nibble " + hex(n));
    EXPECT_EQ(int(h.cache), ref::rank(n));
    EXPECT_EQ(bool(h.ra), n != 0x4 && (n & 0x2) != 0);
    EXPECT_EQ(bool(h.wa), n != 0x4 && (n & 0x1) != 0);
    EXPECT_EQ(bool(h.transient), ref::transient(n));
}

// Check an MtAttrs against a reference MAIR byte (kind, device type, hints).
void expect_type(const MtAttrs &a, int b)
{
    if (b < 0) {
        EXPECT_EQ(int(a.kind), int(MT_KIND_RESERVED));
        return;
    }
    if (ref::is_device(b)) {
        EXPECT_EQ(int(a.kind), int(MT_KIND_DEVICE));
        EXPECT_EQ(int(a.device), b >> 2);
        return;
    }
    EXPECT_EQ(int(a.kind), int(MT_KIND_NORMAL));
    expect_domain(a.outer, unsigned(b) >> 4, "outer");
    expect_domain(a.inner, unsigned(b) & 0xF, "inner");
}

void expect_permits(const MtPermits &got, const MtPermits &want)
{
    EXPECT_EQ(got.gather, want.gather);
    EXPECT_EQ(got.reorder, want.reorder);
    EXPECT_EQ(got.early_ack, want.early_ack);
    EXPECT_EQ(got.unaligned, want.unaligned);
    EXPECT_EQ(got.dczva, want.dczva);
    EXPECT_EQ(got.speculative_read, want.speculative_read);
}

MtAttrs decode(uint8_t b, unsigned features = 0)
{
    MtAttrs a;
    std::memset(&a, 0, sizeof(a));
    mt_decode_mair(b, features, &a);
    return a;
}

// Combine, then check everything against the reference byte @want.
void expect_combined(const MtAttrs &s1, uint8_t m, uint8_t sh, bool fwb,
                     int want, int want_share)
{
    MtAttrs out;
    std::memset(&out, 0xA5, sizeof(out));
    const int rc = mt_combine(&s1, m, sh, fwb, &out);
    if (want < 0 || want_share < 0) {
        EXPECT_EQ(rc, int(MT_ERR_RESERVED));
        EXPECT_EQ(int(out.kind), int(MT_KIND_RESERVED));
        uint8_t enc = 0;
        EXPECT_EQ(mt_encode_mair(&out, &enc), int(MT_ERR_RESERVED));
        expect_permits(mt_permits(&out), ref::permits(ref::kRes));
        return;
    }
    EXPECT_EQ(rc, int(MT_OK));
    expect_type(out, want);
    EXPECT_EQ(int(out.share), want_share);
    EXPECT_FALSE(out.xs0);
    EXPECT_FALSE(out.tagged);
    uint8_t enc = 0;
    EXPECT_EQ(mt_encode_mair(&out, &enc), int(MT_OK));
    EXPECT_EQ(hex(enc), hex(unsigned(want)));
    expect_permits(mt_permits(&out), ref::permits(want));
}

const MtAccessClass kClasses[] = {MT_ACCESS_ALIGNED, MT_ACCESS_UNALIGNED,
                                  MT_ACCESS_DCZVA};

std::string s1_name(const ::testing::TestParamInfo<int> &info)
{
    char b[16];
    std::snprintf(b, sizeof(b), "s1_0x%02x", unsigned(info.param));
    return b;
}

// ---------------------------------------------------------------------------
// 1. Exhaustive: 256 S1 bytes (one instance each) x 16 S2 MemAttr x FWB.
// ---------------------------------------------------------------------------
class MemtypeCombineAll : public ::testing::TestWithParam<int> {};

TEST_P(MemtypeCombineAll, MatchesReference)
{
    const uint8_t b = uint8_t(GetParam());
    const MtAttrs s1 = decode(b, 0);
    const int s1b = ref::s1(b, 0).byte;
    for (int fwb = 0; fwb < 2; fwb++) {
        for (unsigned m = 0; m < 16; m++) {
            SCOPED_TRACE("s1 " + hex(b) + " s2 " + hex(m) +
                         (fwb ? " FWB" : " non-FWB"));
            const int want = ref::combine(s1b, m, fwb);
            expect_combined(s1, uint8_t(m), 0x3, fwb, want,
                            ref::share(want, int(s1.share), 0x3));
            for (MtAccessClass cls : kClasses) {
                SCOPED_TRACE("access class " + std::to_string(int(cls)));
                EXPECT_EQ(int(mt_alignment_fault(&s1, uint8_t(m), fwb, cls)),
                          int(ref::align(s1b, m, fwb, cls)));
            }
        }
    }
}

// The same space with the other SH fields: only shareability and the
// reserved SH encoding change.
TEST_P(MemtypeCombineAll, ShareabilityAllShFields)
{
    const uint8_t b = uint8_t(GetParam());
    const MtAttrs s1 = decode(b, 0);
    const int s1b = ref::s1(b, 0).byte;
    for (int fwb = 0; fwb < 2; fwb++) {
        for (unsigned m = 0; m < 16; m++) {
            for (unsigned sh = 0; sh < 4; sh++) {
                SCOPED_TRACE("s1 " + hex(b) + " s2 " + hex(m) + " sh " +
                             std::to_string(sh) + (fwb ? " FWB" : " non-FWB"));
                const int want = ref::combine(s1b, m, fwb);
                expect_combined(s1, uint8_t(m), uint8_t(sh), fwb, want,
                                ref::share(want, int(s1.share), sh));
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllS1, MemtypeCombineAll, ::testing::Range(0, 256),
                         s1_name);

// ---------------------------------------------------------------------------
// 2. Decoders over their whole input space.
// ---------------------------------------------------------------------------
class MemtypeDecodeMair : public ::testing::TestWithParam<unsigned> {};

TEST_P(MemtypeDecodeMair, All256)
{
    const unsigned features = GetParam();
    for (unsigned b = 0; b < 256; b++) {
        SCOPED_TRACE("attr " + hex(b) + " features " + std::to_string(features));
        const ref::S1 want = ref::s1(b, features);
        MtAttrs a;
        std::memset(&a, 0xA5, sizeof(a));
        const int rc = mt_decode_mair(uint8_t(b), features, &a);
        EXPECT_EQ(rc, want.byte < 0 ? int(MT_ERR_RESERVED) : int(MT_OK));
        expect_type(a, want.byte);
        if (want.byte < 0) {
            expect_permits(mt_permits(&a), ref::permits(ref::kRes));
            continue;
        }
        EXPECT_EQ(bool(a.xs0), want.xs0);
        EXPECT_EQ(bool(a.tagged), want.tagged);
        expect_permits(mt_permits(&a), ref::permits(want.byte));
        if (!want.xs0 && !want.tagged) {   // plain encodings round-trip
            uint8_t enc = 0;
            EXPECT_EQ(mt_encode_mair(&a, &enc), int(MT_OK));
            EXPECT_EQ(hex(enc), hex(b));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Features, MemtypeDecodeMair,
                         ::testing::Values(0u, unsigned(MT_FEAT_XS),
                                           unsigned(MT_FEAT_MTE2),
                                           unsigned(MT_FEAT_XS | MT_FEAT_MTE2)));

class MemtypeDecodeS2 : public ::testing::TestWithParam<bool> {};

TEST_P(MemtypeDecodeS2, All256)
{
    const bool fwb = GetParam();
    for (unsigned m = 0; m < 256; m++) {
        SCOPED_TRACE("memattr " + hex(m) + (fwb ? " FWB" : " non-FWB"));
        MtS2 s;
        std::memset(&s, 0xA5, sizeof(s));
        const int rc = mt_decode_s2(uint8_t(m), fwb, &s);
        if (m > 15) {
            EXPECT_EQ(rc, int(MT_ERR_RANGE));
            continue;
        }
        int dev;
        switch (ref::s2(m, fwb, &dev)) {
        case 'R':
            EXPECT_EQ(rc, int(MT_ERR_RESERVED));
            EXPECT_EQ(int(s.op), int(MT_S2_RESERVED));
            break;
        case 'D':
            EXPECT_EQ(rc, int(MT_OK));
            EXPECT_EQ(int(s.op), int(MT_S2_DEVICE));
            EXPECT_EQ(int(s.device), dev >> 2);
            break;
        case 'N':
            EXPECT_EQ(rc, int(MT_OK));
            EXPECT_EQ(int(s.op), int(MT_S2_NORMAL));
            EXPECT_EQ(int(s.outer), int((m >> 2) & 3) - 1);
            EXPECT_EQ(int(s.inner), int(m & 3) - 1);
            break;
        case 'c':
            EXPECT_EQ(rc, int(MT_OK));
            EXPECT_EQ(int(s.op), int(MT_S2_FWB_NC));
            break;
        case 'w':
            EXPECT_EQ(rc, int(MT_OK));
            EXPECT_EQ(int(s.op), int(MT_S2_FWB_FORCE_WB));
            break;
        case 's':
            EXPECT_EQ(rc, int(MT_OK));
            EXPECT_EQ(int(s.op), int(MT_S2_FWB_USE_S1));
            break;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Forms, MemtypeDecodeS2, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool> &i) {
                             return std::string(i.param ? "FWB" : "NonFWB");
                         });

TEST(MemtypeDecodeSh, AllFields)
{
    uint8_t s = 0xFF;
    EXPECT_EQ(mt_decode_sh(0x0, &s), int(MT_OK));
    EXPECT_EQ(int(s), int(MT_SH_NSH));
    EXPECT_EQ(mt_decode_sh(0x1, &s), int(MT_ERR_RESERVED));
    EXPECT_EQ(mt_decode_sh(0x2, &s), int(MT_OK));
    EXPECT_EQ(int(s), int(MT_SH_OSH));
    EXPECT_EQ(mt_decode_sh(0x3, &s), int(MT_OK));
    EXPECT_EQ(int(s), int(MT_SH_ISH));
    EXPECT_NE(mt_decode_sh(0x4, &s), int(MT_OK));
}

TEST(MemtypeEncode, UnexpressibleHintsAreRange)
{
    // Transient with no allocation hint has no MAIR encoding (00 00 is
    // Device/other, 01 00 is NC).
    MtAttrs a = decode(0xFF);
    a.inner.transient = true;
    a.inner.ra = false;
    a.inner.wa = false;
    uint8_t enc = 0;
    EXPECT_EQ(mt_encode_mair(&a, &enc), int(MT_ERR_RANGE));
}

// ---------------------------------------------------------------------------
// 3. Hand-picked cases from the Arm ARM text.
// ---------------------------------------------------------------------------
struct Case {
    uint8_t s1;
    uint8_t s2;
    bool fwb;
    int want;   // MAIR byte, or -1 reserved
};

void expect_case(const Case &c, uint8_t sh = 0x3)
{
    SCOPED_TRACE("s1 " + hex(c.s1) + " s2 " + hex(c.s2) +
                 (c.fwb ? " FWB" : " non-FWB"));
    // The reference agrees with the hand-written expectation ...
    EXPECT_EQ(ref::combine(ref::s1(c.s1, 0).byte, c.s2, c.fwb), c.want);
    // ... and so does the implementation.
    const MtAttrs s1 = decode(c.s1);
    expect_combined(s1, c.s2, sh, c.fwb, c.want,
                    ref::share(c.want, int(s1.share), sh));
}

TEST(MemtypeArmArm, DeviceOverDeviceStrongerWins)
{
    expect_case({0x00, 0x3, false, 0x00});  // nGnRnE + S2 GRE -> nGnRnE
    expect_case({0x0C, 0x1, false, 0x04});  // GRE + S2 nGnRE -> nGnRE
    expect_case({0x08, 0x2, false, 0x08});
    // FWB Device over S1 Device is S2CombineS1Device() too (QEMU's
    // combine_cacheattrs_fwb takes the stage-2 type here; the Arm ARM does not).
    expect_case({0x00, 0x3, true, 0x00});
    expect_case({0x0C, 0x1, true, 0x04});
}

TEST(MemtypeArmArm, DeviceBeatsNormal)
{
    expect_case({0xFF, 0x0, false, 0x00});
    expect_case({0xFF, 0x2, true, 0x08});
    expect_case({0x04, 0xF, false, 0x04});
}

TEST(MemtypeArmArm, AttrHints)
{
    // S1 WB RWA + S2 WT -> WT keeping the S1 hints.
    expect_case({0xFF, 0xA, false, 0xBB});
    // S1 WB transient W + S2 WT -> WT transient W.
    expect_case({0x55, 0xA, false, 0x11});
    // S1 iWB oNC + S2 WB -> iWB oNC.
    expect_case({0x4F, 0xF, false, 0x4F});
    // S1 WB + S2 iWB oNC -> iWB oNC.
    expect_case({0xFF, 0x7, false, 0x4F});
    // S1 WT RA + S2 WB -> S1 unchanged.
    expect_case({0xAA, 0xF, false, 0xAA});
}

TEST(MemtypeArmArm, Fwb)
{
    expect_case({0x04, 0x6, true, 0xFF});   // force-WB over Device -> WB RWA
    expect_case({0x44, 0x6, true, 0xFF});   // force-WB over NC -> WB RWA
    expect_case({0x88, 0x6, true, 0xCC});   // WT no-alloc -> WB no-alloc
    expect_case({0x5A, 0x6, true, 0x5E});   // oWB-transient W, iWT RA -> iWB RA
    expect_case({0x04, 0x7, true, 0x04});   // use S1 keeps Device-nGnRE
    expect_case({0xAA, 0x7, true, 0xAA});
    expect_case({0xFF, 0x5, true, 0x44});   // NC unless S1 Device
    expect_case({0x08, 0x5, true, 0x08});
    expect_case({0xFF, 0x4, true, -1});     // 0b100 reserved
    expect_case({0xFF, 0xF, true, -1});     // MemAttr[3] set
}

TEST(MemtypeArmArm, ReservedInputs)
{
    expect_case({0xFF, 0x4, false, -1});    // inner 00 reserved
    expect_case({0xFF, 0x8, false, -1});
    expect_case({0xFF, 0xC, false, -1});
    expect_case({0x01, 0xF, false, -1});    // 0b0000dd01 without FEAT_XS
    expect_case({0x02, 0x7, true, -1});     // 0b0000dd1x
    expect_case({0x40, 0xF, false, -1});    // 0x40 without FEAT_XS
    expect_case({0xF0, 0x7, true, -1});     // 0xF0 without FEAT_MTE2
}

TEST(MemtypeArmArm, Shareability)
{
    MtAttrs s1 = decode(0xFF);
    s1.share = MT_SH_NSH;
    MtAttrs out;
    // S1 NSH WB + S2 ISH -> ISH.
    ASSERT_EQ(mt_combine(&s1, 0xF, 0x3, false, &out), int(MT_OK));
    EXPECT_EQ(int(out.share), int(MT_SH_ISH));
    // S1 NSH WB + S2 NSH -> NSH; + S2 OSH -> OSH.
    ASSERT_EQ(mt_combine(&s1, 0xF, 0x0, false, &out), int(MT_OK));
    EXPECT_EQ(int(out.share), int(MT_SH_NSH));
    ASSERT_EQ(mt_combine(&s1, 0xF, 0x2, false, &out), int(MT_OK));
    EXPECT_EQ(int(out.share), int(MT_SH_OSH));
    // S1 ISH WB + S2 NSH -> ISH.
    s1.share = MT_SH_ISH;
    ASSERT_EQ(mt_combine(&s1, 0x7, 0x0, true, &out), int(MT_OK));  // FWB use-S1
    EXPECT_EQ(int(out.share), int(MT_SH_ISH));
    // NC result -> OSH (EffectiveShareability), whatever the SH fields say.
    s1.share = MT_SH_NSH;
    ASSERT_EQ(mt_combine(&s1, 0x5, 0x0, false, &out), int(MT_OK));
    EXPECT_EQ(int(out.share), int(MT_SH_OSH));
    ASSERT_EQ(mt_combine(&s1, 0x5, 0x0, true, &out), int(MT_OK));
    EXPECT_EQ(int(out.share), int(MT_SH_OSH));
    // Only one domain NC is not enough.
    ASSERT_EQ(mt_combine(&s1, 0x7, 0x0, false, &out), int(MT_OK));
    EXPECT_EQ(int(out.share), int(MT_SH_NSH));
    // Device result -> OSH.
    ASSERT_EQ(mt_combine(&s1, 0x1, 0x0, false, &out), int(MT_OK));
    EXPECT_EQ(int(out.share), int(MT_SH_OSH));
    // S2 SH 0b01 is reserved.
    EXPECT_EQ(mt_combine(&s1, 0xF, 0x1, false, &out), int(MT_ERR_RESERVED));
    EXPECT_EQ(int(out.kind), int(MT_KIND_RESERVED));
    EXPECT_EQ(mt_combine(&s1, 0x7, 0x1, true, &out), int(MT_ERR_RESERVED));
    EXPECT_EQ(int(out.kind), int(MT_KIND_RESERVED));
}

TEST(MemtypeArmArm, Permits)
{
    struct { uint8_t b; bool g, r, e; } dev[] = {
        {0x00, false, false, false},
        {0x04, false, false, true},
        {0x08, false, true, true},
        {0x0C, true, true, true},
    };
    for (const auto &d : dev) {
        SCOPED_TRACE(hex(d.b));
        const MtAttrs a = decode(d.b);
        const MtPermits p = mt_permits(&a);
        EXPECT_EQ(p.gather, d.g);
        EXPECT_EQ(p.reorder, d.r);
        EXPECT_EQ(p.early_ack, d.e);
        EXPECT_FALSE(p.unaligned);
        EXPECT_FALSE(p.dczva);
        EXPECT_FALSE(p.speculative_read);
    }
    const MtAttrs n = decode(0x44);
    const MtPermits p = mt_permits(&n);
    EXPECT_TRUE(p.gather && p.reorder && p.early_ack && p.unaligned &&
                p.dczva && p.speculative_read);
    const MtAttrs r = decode(0x02);
    const MtPermits q = mt_permits(&r);
    EXPECT_FALSE(q.gather || q.reorder || q.early_ack || q.unaligned ||
                 q.dczva || q.speculative_read);
}

TEST(MemtypeArmArm, AlignmentFaults)
{
    const MtAttrs dev = decode(0x04), nc = decode(0x44), res = decode(0x03);
    // S1 Device: stage-1 fault, before stage 2 is looked at.
    EXPECT_EQ(int(mt_alignment_fault(&dev, 0xF, false, MT_ACCESS_UNALIGNED)),
              int(MT_FAULT_S1_ALIGN));
    EXPECT_EQ(int(mt_alignment_fault(&dev, 0x0, false, MT_ACCESS_DCZVA)),
              int(MT_FAULT_S1_ALIGN));
    EXPECT_EQ(int(mt_alignment_fault(&dev, 0x4, false, MT_ACCESS_UNALIGNED)),
              int(MT_FAULT_S1_ALIGN));
    EXPECT_EQ(int(mt_alignment_fault(&dev, 0x0, true, MT_ACCESS_ALIGNED)),
              int(MT_FAULT_NONE));
    // S1 Normal, S2 Device: stage-2 fault.
    EXPECT_EQ(int(mt_alignment_fault(&nc, 0x3, false, MT_ACCESS_UNALIGNED)),
              int(MT_FAULT_S2_ALIGN));
    EXPECT_EQ(int(mt_alignment_fault(&nc, 0x2, true, MT_ACCESS_DCZVA)),
              int(MT_FAULT_S2_ALIGN));
    // S1 Normal, S2 Normal (FWB force-WB / use-S1 / NC): none.
    EXPECT_EQ(int(mt_alignment_fault(&nc, 0x5, true, MT_ACCESS_UNALIGNED)),
              int(MT_FAULT_NONE));
    EXPECT_EQ(int(mt_alignment_fault(&nc, 0xF, false, MT_ACCESS_DCZVA)),
              int(MT_FAULT_NONE));
    // Reserved on either side: UNPREDICTABLE (unless aligned).
    EXPECT_EQ(int(mt_alignment_fault(&res, 0xF, false, MT_ACCESS_UNALIGNED)),
              int(MT_FAULT_UNPREDICTABLE));
    EXPECT_EQ(int(mt_alignment_fault(&nc, 0x8, false, MT_ACCESS_UNALIGNED)),
              int(MT_FAULT_UNPREDICTABLE));
    EXPECT_EQ(int(mt_alignment_fault(&nc, 0x4, true, MT_ACCESS_DCZVA)),
              int(MT_FAULT_UNPREDICTABLE));
    EXPECT_EQ(int(mt_alignment_fault(&res, 0x4, true, MT_ACCESS_ALIGNED)),
              int(MT_FAULT_NONE));
}

// ---------------------------------------------------------------------------
// 4. Linux "KVM: arm64: Set io memory s2 pte as normalnc for vfio pci
//    device": the S1 x S2 table in its commit message, for the non-FWB
//    (MemAttr 0b0101) and the FWB (0b0101) Normal-NC encodings KVM uses.
// ---------------------------------------------------------------------------
TEST(MemtypeKvmVfio, NormalNcStage2Table)
{
    for (int fwb = 0; fwb < 2; fwb++) {
        // S1 NORMAL-WB / NORMAL-WT / NORMAL-NC + S2 NORMAL-NC -> NORMAL-NC
        expect_case({0xFF, 0x5, bool(fwb), 0x44});
        expect_case({0xBB, 0x5, bool(fwb), 0x44});
        expect_case({0x44, 0x5, bool(fwb), 0x44});
        // S1 DEVICE<attr> + S2 NORMAL-NC -> DEVICE<attr>
        for (uint8_t d : {0x00, 0x04, 0x08, 0x0C})
            expect_case({d, 0x5, bool(fwb), d});
    }
    uint8_t v = 0;
    ASSERT_EQ(mt_parse_s2("normal-NC", false, &v), int(MT_OK));
    EXPECT_EQ(int(v), 0x5);
    ASSERT_EQ(mt_parse_s2("normal-NC", true, &v), int(MT_OK));
    EXPECT_EQ(int(v), 0x5);
}

TEST(MemtypeKvmVfio, Pre69Stage2DeviceNGnRE)
{
    // Before Linux 6.9 KVM mapped the BAR Device-nGnRE (0b0001) at stage 2:
    // a guest Normal-NC mapping becomes Device-nGnRE and unaligned accesses
    // take a stage-2 Alignment fault.
    for (int fwb = 0; fwb < 2; fwb++) {
        SCOPED_TRACE(fwb ? "FWB" : "non-FWB");
        expect_case({0x44, 0x1, bool(fwb), 0x04});
        const MtAttrs nc = decode(0x44);
        EXPECT_EQ(int(mt_alignment_fault(&nc, 0x1, fwb, MT_ACCESS_UNALIGNED)),
                  int(MT_FAULT_S2_ALIGN));
        EXPECT_EQ(int(mt_alignment_fault(&nc, 0x1, fwb, MT_ACCESS_DCZVA)),
                  int(MT_FAULT_S2_ALIGN));
        EXPECT_EQ(int(mt_alignment_fault(&nc, 0x1, fwb, MT_ACCESS_ALIGNED)),
                  int(MT_FAULT_NONE));
        MtAttrs out;
        ASSERT_EQ(mt_combine(&nc, 0x1, 0x3, fwb, &out), int(MT_OK));
        const MtPermits p = mt_permits(&out);
        EXPECT_FALSE(p.gather);
        EXPECT_FALSE(p.unaligned);
        EXPECT_TRUE(p.early_ack);
    }
}

// ---------------------------------------------------------------------------
// 5. Parsers.
// ---------------------------------------------------------------------------
TEST(MemtypeParse, S1)
{
    struct { const char *s; int v; } ok[] = {
        {"device-nGnRE", 0x04}, {"DEVICE-NGNRE", 0x04},
        {"normal-NC", 0x44}, {"Normal-nc", 0x44},
        {"normal-WB", 0xFF}, {"NORMAL-wb", 0xFF},
        {"0x44", 0x44}, {"68", 0x44}, {"0", 0x00}, {"255", 0xFF},
        {"0xff", 0xFF},
    };
    for (const auto &c : ok) {
        SCOPED_TRACE(c.s);
        uint8_t v = 0xA5;
        EXPECT_EQ(mt_parse_s1(c.s, &v), int(MT_OK));
        EXPECT_EQ(int(v), c.v);
    }
    for (const char *s : {"", "0x100", "256", "x", "-1", "44z", "normal-XX"}) {
        SCOPED_TRACE(s);
        uint8_t v = 0;
        EXPECT_NE(mt_parse_s1(s, &v), int(MT_OK));
    }
}

TEST(MemtypeParse, S2)
{
    struct { const char *s; int nonfwb, fwb; } ok[] = {
        {"device-nGnRE", 0x1, 0x1}, {"Device-NgNrE", 0x1, 0x1},
        {"normal-NC", 0x5, 0x5}, {"NORMAL-NC", 0x5, 0x5},
        {"normal-WB", 0xF, 0x6}, {"normal-wb", 0xF, 0x6},
        {"0x5", 0x5, 0x5}, {"15", 0xF, 0xF}, {"0", 0x0, 0x0},
    };
    for (const auto &c : ok) {
        for (int fwb = 0; fwb < 2; fwb++) {
            SCOPED_TRACE(std::string(c.s) + (fwb ? " FWB" : " non-FWB"));
            uint8_t v = 0xA5;
            EXPECT_EQ(mt_parse_s2(c.s, fwb, &v), int(MT_OK));
            EXPECT_EQ(int(v), fwb ? c.fwb : c.nonfwb);
        }
    }
    for (const char *s : {"", "0x10", "16", "0x100", "x", "-1", "44z", "5z"}) {
        for (int fwb = 0; fwb < 2; fwb++) {
            SCOPED_TRACE(std::string(s) + (fwb ? " FWB" : " non-FWB"));
            uint8_t v = 0;
            EXPECT_NE(mt_parse_s2(s, fwb, &v), int(MT_OK));
        }
    }
}

// ---------------------------------------------------------------------------
// 6. Names.
// ---------------------------------------------------------------------------
TEST(MemtypeName, Attrs)
{
    char buf[64];
    MtAttrs a = decode(0x04);
    EXPECT_STREQ(mt_attrs_name(&a, buf, sizeof(buf)), "Device-nGnRE");
    a = decode(0x44);
    EXPECT_STREQ(mt_attrs_name(&a, buf, sizeof(buf)), "Normal-NC");
    a = decode(0x02);
    std::string r = mt_attrs_name(&a, buf, sizeof(buf));
    for (char &ch : r)
        ch = char(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_NE(r.find("reserved"), std::string::npos) << r;
}

}  // namespace

// mt_attr_permits() is the per-access fast path: it must agree with the
// full decode (every feature assumed) for all 256 bytes.
TEST(MemtypeAttrPermits, MatchesDecode)
{
    for (unsigned v = 0; v < 256; v++) {
        MtAttrs a;
        mt_decode_mair(v, MT_FEAT_XS | MT_FEAT_MTE2, &a);
        MtPermits slow = mt_permits(&a), fast = mt_attr_permits(v);
        EXPECT_EQ(0, memcmp(&slow, &fast, sizeof(slow))) << "attr " << v;
    }
}

// Under FWB's force-Write-Back a Normal-NC stage 1 passes on either its SH
// field or Outer Shareable (the implementation's choice); the choice shows
// nowhere else: a Device stage 1 is Outer Shareable at stage 1 already,
// and every other stage 2 leaves a NC or Device result Outer Shareable.
TEST(MemtypeShare, FwbForceWriteBackStageOneShareability)
{
    MtAttrs nc, dev, wb, out;
    mt_decode_mair(0x44, 0, &nc);
    mt_decode_mair(0x04, 0, &dev);
    mt_decode_mair(0xff, 0, &wb);

    ASSERT_EQ(mt_combine_share(&nc, 3, MT_S1SH_FIELD, 0x6, 3, true, &out), MT_OK);
    EXPECT_EQ(out.kind, MT_KIND_NORMAL);
    EXPECT_EQ(out.share, MT_SH_ISH);
    ASSERT_EQ(mt_combine_share(&nc, 0, MT_S1SH_FIELD, 0x6, 0, true, &out), MT_OK);
    EXPECT_EQ(out.share, MT_SH_NSH);
    ASSERT_EQ(mt_combine_share(&nc, 3, MT_S1SH_OSH, 0x6, 3, true, &out), MT_OK);
    EXPECT_EQ(out.share, MT_SH_OSH);
    // mt_combine() is the Outer Shareable choice.
    ASSERT_EQ(mt_combine(&nc, 0x6, 3, true, &out), MT_OK);
    EXPECT_EQ(out.share, MT_SH_OSH);
    // SH 0b01 is reserved.
    EXPECT_EQ(mt_combine_share(&nc, 1, MT_S1SH_FIELD, 0x6, 3, true, &out), MT_ERR_RESERVED);
    for (uint8_t s2 : { 0x1, 0x5, 0x7 }) {
        ASSERT_EQ(mt_combine_share(&nc, 3, MT_S1SH_FIELD, s2, 3, true, &out), MT_OK);
        EXPECT_EQ(out.share, MT_SH_OSH) << int(s2);
    }
    ASSERT_EQ(mt_combine_share(&dev, 3, MT_S1SH_FIELD, 0x6, 3, true, &out), MT_OK);
    EXPECT_EQ(out.share, MT_SH_OSH);
    ASSERT_EQ(mt_combine_share(&nc, 3, MT_S1SH_FIELD, 0xf, 3, false, &out), MT_OK);
    EXPECT_EQ(out.share, MT_SH_OSH);
    ASSERT_EQ(mt_combine_share(&wb, 3, MT_S1SH_OSH, 0x6, 3, true, &out), MT_OK);
    EXPECT_EQ(out.share, MT_SH_ISH);
    uint8_t c;
    EXPECT_EQ(mt_s1_share_parse("field", &c), MT_OK);
    EXPECT_EQ(c, MT_S1SH_FIELD);
    EXPECT_NE(mt_s1_share_parse("inner", &c), MT_OK);
    EXPECT_STREQ(mt_s1_share_name(MT_S1SH_OSH), "osh");
}
