/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Arm memory-type decode and stage-1/stage-2 combine, as tables.
 * See memtype.h; docs/rules.md explains the rules these tables encode.
 */
#include "memtype.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * One MAIR cacheability nibble (oooo or iiii, non-zero).  MAIR_ELx.Attr<n>
 * field description: 0b00RW WT transient (RW != 00), 0b0100 NC, 0b01RW WB
 * transient (RW != 00), 0b10RW WT non-transient, 0b11RW WB non-transient.
 * R is bit 1, W is bit 0.
 */
static const struct {
    bool valid;
    uint8_t cache;
    bool transient;
} mair_nibble[16] = {
    [0x0] = { false, 0, false },          /* "see encoding of Attr" */
    [0x1] = { true, MT_CACHE_WT, true },
    [0x2] = { true, MT_CACHE_WT, true },
    [0x3] = { true, MT_CACHE_WT, true },
    [0x4] = { true, MT_CACHE_NC, false },
    [0x5] = { true, MT_CACHE_WB, true },
    [0x6] = { true, MT_CACHE_WB, true },
    [0x7] = { true, MT_CACHE_WB, true },
    [0x8] = { true, MT_CACHE_WT, false },
    [0x9] = { true, MT_CACHE_WT, false },
    [0xa] = { true, MT_CACHE_WT, false },
    [0xb] = { true, MT_CACHE_WT, false },
    [0xc] = { true, MT_CACHE_WB, false },
    [0xd] = { true, MT_CACHE_WB, false },
    [0xe] = { true, MT_CACHE_WB, false },
    [0xf] = { true, MT_CACHE_WB, false },
};

/*
 * MAIR encodings with iiii == 0000 that a feature defines; without the
 * feature they are UNPREDICTABLE.  (MAIR_ELx.Attr<n>, FEAT_XS, FEAT_MTE2.)
 */
static const struct {
    uint8_t attr;
    unsigned feature;
    uint8_t cache;          /* inner and outer */
    bool ra, wa;
    bool xs0, tagged;
} mair_feature_enc[] = {
    { 0x40, MT_FEAT_XS, MT_CACHE_NC, false, false, true, false },
    { 0xa0, MT_FEAT_XS, MT_CACHE_WT, true, false, true, false },
    { 0xf0, MT_FEAT_MTE2, MT_CACHE_WB, true, true, false, true },
};

/*
 * Stage-2 MemAttr[3:0] without FEAT_S2FWB (S2DecodeMemAttrs()):
 * [3:2] == 00 Device of type [1:0]; otherwise Normal, outer [3:2] and
 * inner [1:0] each 01 NC, 10 WT, 11 WB; inner 00 is reserved.
 */
#define S2_DEV(d)     { MT_S2_DEVICE, MT_DEV_##d, 0, 0 }
#define S2_NORM(i, o) { MT_S2_NORMAL, 0, MT_CACHE_##i, MT_CACHE_##o }
#define S2_RSVD       { MT_S2_RESERVED, 0, 0, 0 }
static const MtS2 s2_table[16] = {
    S2_DEV(nGnRnE), S2_DEV(nGnRE), S2_DEV(nGRE), S2_DEV(GRE),
    S2_RSVD, S2_NORM(NC, NC), S2_NORM(WT, NC), S2_NORM(WB, NC),
    S2_RSVD, S2_NORM(NC, WT), S2_NORM(WT, WT), S2_NORM(WB, WT),
    S2_RSVD, S2_NORM(NC, WB), S2_NORM(WT, WB), S2_NORM(WB, WB),
};

/*
 * Stage-2 MemAttr[3:0] with HCR_EL2.FWB == 1 (AArch64.S2ApplyFWBMemAttrs()):
 * [2] == 0 Device of type [1:0]; [2:0] == 101 Normal-NC unless stage 1 is
 * Device, 110 force Write-Back, 111 use stage 1, 100 reserved.  MemAttr[3]
 * (descriptor bit 5) is RES0 in this form: a set bit is reported as
 * reserved rather than guessed.
 */
#define S2_FWB(op)    { MT_S2_FWB_##op, 0, 0, 0 }
static const MtS2 s2_fwb_table[16] = {
    S2_DEV(nGnRnE), S2_DEV(nGnRE), S2_DEV(nGRE), S2_DEV(GRE),
    S2_RSVD, S2_FWB(NC), S2_FWB(FORCE_WB), S2_FWB(USE_S1),
    S2_RSVD, S2_RSVD, S2_RSVD, S2_RSVD,
    S2_RSVD, S2_RSVD, S2_RSVD, S2_RSVD,
};

/* S2CombineS1Device(): the stronger Device type wins. */
static const uint8_t device_combine[4][4] = {
    /* s2:          nGnRnE        nGnRE         nGRE          GRE */
    [MT_DEV_nGnRnE] = { MT_DEV_nGnRnE, MT_DEV_nGnRnE, MT_DEV_nGnRnE, MT_DEV_nGnRnE },
    [MT_DEV_nGnRE]  = { MT_DEV_nGnRnE, MT_DEV_nGnRE,  MT_DEV_nGnRE,  MT_DEV_nGnRE },
    [MT_DEV_nGRE]   = { MT_DEV_nGnRnE, MT_DEV_nGnRE,  MT_DEV_nGRE,   MT_DEV_nGRE },
    [MT_DEV_GRE]    = { MT_DEV_nGnRnE, MT_DEV_nGnRE,  MT_DEV_nGRE,   MT_DEV_GRE },
};

/* S2CombineS1AttrHints(): NC beats WT beats WB. */
static const uint8_t cache_combine[3][3] = {
    /* s2:          NC           WT           WB */
    [MT_CACHE_NC] = { MT_CACHE_NC, MT_CACHE_NC, MT_CACHE_NC },
    [MT_CACHE_WT] = { MT_CACHE_NC, MT_CACHE_WT, MT_CACHE_WT },
    [MT_CACHE_WB] = { MT_CACHE_NC, MT_CACHE_WT, MT_CACHE_WB },
};

/* S2CombineS1Shareability(): the wider domain wins. */
static const uint8_t share_combine[3][3] = {
    /* s2:        NSH        ISH        OSH */
    [MT_SH_NSH] = { MT_SH_NSH, MT_SH_ISH, MT_SH_OSH },
    [MT_SH_ISH] = { MT_SH_ISH, MT_SH_ISH, MT_SH_OSH },
    [MT_SH_OSH] = { MT_SH_OSH, MT_SH_OSH, MT_SH_OSH },
};

/*
 * Permissions by resulting type (B2.10.2 "Device memory": the G, R and E
 * attributes; B2.5.2 "Alignment of data accesses": unaligned accesses and
 * DC ZVA to any Device type fault; B2.10.1 "Normal memory": speculative
 * reads are permitted for Normal memory only).  Index: Device type, then
 * Normal.
 */
#define MT_PERMIT_NORMAL 4
static const MtPermits permit_table[5] = {
    /*                g      r      e      unal   dczva  spec */
    [MT_DEV_nGnRnE] = { false, false, false, false, false, false },
    [MT_DEV_nGnRE]  = { false, false, true,  false, false, false },
    [MT_DEV_nGRE]   = { false, true,  true,  false, false, false },
    [MT_DEV_GRE]    = { true,  true,  true,  false, false, false },
    [MT_PERMIT_NORMAL] = { true, true, true, true, true, true },
};

static const char *const device_names[] = {
    "Device-nGnRnE", "Device-nGnRE", "Device-nGRE", "Device-GRE",
};
static const char *const cache_names[] = { "NC", "WT", "WB" };
static const char *const share_names[] = { "NSH", "ISH", "OSH" };
/* Each MtFault: its id in barlab-mt's JSON and the reports, and its name for people. */
static const struct {
    const char *id, *name;
} faults[MT_FAULT__COUNT] = {
    [MT_FAULT_NONE]          = { "none", "none" },
    [MT_FAULT_S1_ALIGN]      = { "stage1-el1", "stage-1 alignment fault (EL1)" },
    [MT_FAULT_S2_ALIGN]      = { "stage2-el2", "stage-2 alignment fault (EL2)" },
    [MT_FAULT_UNPREDICTABLE] = { "unpredictable", "UNPREDICTABLE" },
};
static const char *const s2_op_names[] = {
    "Device", "Normal", "Normal-NC unless stage 1 is Device",
    "force Normal Write-Back", "use stage 1 attributes", "reserved",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, unsigned n, unsigned i)
{
    return i < n ? names[i] : "?";
}

const char *mt_device_name(unsigned dev)
{
    return name_of(device_names, ARRAY_SIZE(device_names), dev);
}

const char *mt_cache_name(unsigned cache)
{
    return name_of(cache_names, ARRAY_SIZE(cache_names), cache);
}

const char *mt_share_name(unsigned sh)
{
    return name_of(share_names, ARRAY_SIZE(share_names), sh);
}

const char *mt_fault_name(unsigned fault)
{
    return fault < MT_FAULT__COUNT ? faults[fault].name : "?";
}

const char *mt_fault_id(unsigned fault)
{
    return fault < MT_FAULT__COUNT ? faults[fault].id : "?";
}

const char *mt_s2_op_name(unsigned op)
{
    return name_of(s2_op_names, ARRAY_SIZE(s2_op_names), op);
}

static void set_reserved(MtAttrs *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = MT_KIND_RESERVED;
}

static bool is_nc_nc(const MtAttrs *a)
{
    return a->inner.cache == MT_CACHE_NC && a->outer.cache == MT_CACHE_NC;
}

/* EffectiveShareability(): Device and Normal iNC/oNC are Outer Shareable. */
static void effective_share(MtAttrs *a)
{
    if (a->kind == MT_KIND_DEVICE || (a->kind == MT_KIND_NORMAL && is_nc_nc(a))) {
        a->share = MT_SH_OSH;
    }
}

static MtHints decode_nibble(uint8_t nib)
{
    MtHints h = {
        .cache = mair_nibble[nib].cache,
        .transient = mair_nibble[nib].transient,
    };

    if (h.cache != MT_CACHE_NC) {
        h.ra = nib & 2;
        h.wa = nib & 1;
    }
    return h;
}

int mt_decode_mair(uint8_t attr, unsigned features, MtAttrs *out)
{
    uint8_t outer = attr >> 4, inner = attr & 0xf;

    memset(out, 0, sizeof(*out));
    if (outer == 0) {
        /* 0b0000dd00 Device; 0b0000dd01 Device XS=0 with FEAT_XS; else UNPREDICTABLE */
        if ((attr & 3) == 0 || ((attr & 3) == 1 && (features & MT_FEAT_XS))) {
            out->kind = MT_KIND_DEVICE;
            out->device = (attr >> 2) & 3;
            out->xs0 = attr & 1;
            effective_share(out);
            return MT_OK;
        }
        set_reserved(out);
        return MT_ERR_RESERVED;
    }
    if (inner == 0) {
        for (unsigned i = 0; i < ARRAY_SIZE(mair_feature_enc); i++) {
            if (mair_feature_enc[i].attr == attr &&
                (features & mair_feature_enc[i].feature)) {
                MtHints h = {
                    .cache = mair_feature_enc[i].cache,
                    .ra = mair_feature_enc[i].ra,
                    .wa = mair_feature_enc[i].wa,
                };
                out->kind = MT_KIND_NORMAL;
                out->inner = out->outer = h;
                out->xs0 = mair_feature_enc[i].xs0;
                out->tagged = mair_feature_enc[i].tagged;
                effective_share(out);
                return MT_OK;
            }
        }
        set_reserved(out);
        return MT_ERR_RESERVED;
    }
    out->kind = MT_KIND_NORMAL;
    out->inner = decode_nibble(inner);
    out->outer = decode_nibble(outer);
    effective_share(out);
    return MT_OK;
}

int mt_decode_s2(uint8_t memattr, bool fwb, MtS2 *out)
{
    if (memattr > 0xf) {
        return MT_ERR_RANGE;
    }
    *out = fwb ? s2_fwb_table[memattr] : s2_table[memattr];
    return out->op == MT_S2_RESERVED ? MT_ERR_RESERVED : MT_OK;
}

int mt_decode_sh(uint8_t sh, uint8_t *share)
{
    static const int8_t sh_table[4] = { MT_SH_NSH, -1, MT_SH_OSH, MT_SH_ISH };

    if (sh > 3) {
        return MT_ERR_RANGE;
    }
    if (sh_table[sh] < 0) {
        return MT_ERR_RESERVED;
    }
    *share = sh_table[sh];
    return MT_OK;
}

static MtHints combine_hints(MtHints s1, uint8_t s2_cache)
{
    MtHints h = { .cache = cache_combine[s1.cache][s2_cache] };

    /* Stage 2 assigns no allocation hints: they come from stage 1. */
    if (h.cache != MT_CACHE_NC) {
        h.ra = s1.ra;
        h.wa = s1.wa;
        h.transient = s1.transient;
    }
    return h;
}

/* The Write-Back hints FWB forces: stage 1's where it is cacheable, else RWA. */
static MtHints force_wb_hints(const MtAttrs *s1, const MtHints *s1h)
{
    MtHints h = { .cache = MT_CACHE_WB, .ra = true, .wa = true };

    if (s1->kind == MT_KIND_NORMAL && s1h->cache != MT_CACHE_NC) {
        h.ra = s1h->ra;
        h.wa = s1h->wa;
        h.transient = s1h->transient;
    }
    return h;
}

static void combine_device(const MtAttrs *s1, uint8_t s2_dev, MtAttrs *out)
{
    out->kind = MT_KIND_DEVICE;
    out->device = s1->kind == MT_KIND_DEVICE ?
                  device_combine[s1->device][s2_dev] : s2_dev;
}

int mt_combine(const MtAttrs *s1, uint8_t s2_memattr, uint8_t s2_sh, bool fwb,
               MtAttrs *out)
{
    MtS2 s2;
    uint8_t s2_share;
    int ret;

    ret = mt_decode_s2(s2_memattr, fwb, &s2);
    if (ret == MT_ERR_RANGE) {
        return ret;
    }
    if (ret == MT_ERR_RESERVED || s1->kind == MT_KIND_RESERVED) {
        set_reserved(out);
        return MT_ERR_RESERVED;
    }
    ret = mt_decode_sh(s2_sh, &s2_share);
    if (ret != MT_OK) {
        set_reserved(out);
        return ret;
    }

    memset(out, 0, sizeof(*out));
    switch (s2.op) {
    case MT_S2_DEVICE:
        combine_device(s1, s2.device, out);
        break;
    case MT_S2_NORMAL:
        if (s1->kind == MT_KIND_DEVICE) {
            out->kind = MT_KIND_DEVICE;
            out->device = s1->device;
        } else {
            out->kind = MT_KIND_NORMAL;
            out->inner = combine_hints(s1->inner, s2.inner);
            out->outer = combine_hints(s1->outer, s2.outer);
        }
        break;
    case MT_S2_FWB_NC:
        if (s1->kind == MT_KIND_DEVICE) {
            *out = *s1;
        } else {
            out->kind = MT_KIND_NORMAL;
            out->inner.cache = out->outer.cache = MT_CACHE_NC;
        }
        break;
    case MT_S2_FWB_FORCE_WB:
        out->kind = MT_KIND_NORMAL;
        out->inner = force_wb_hints(s1, &s1->inner);
        out->outer = force_wb_hints(s1, &s1->outer);
        break;
    case MT_S2_FWB_USE_S1:
        *out = *s1;
        break;
    }
    /*
     * XS and Allocation Tags do not change what a BAR access may do; the
     * combined type does not carry them (docs/rules.md).
     */
    out->xs0 = false;
    out->tagged = false;
    out->share = share_combine[s1->share][s2_share];
    effective_share(out);
    return MT_OK;
}

int mt_combine_share(const MtAttrs *s1, uint8_t s1_sh, unsigned s1_share,
                     uint8_t s2_memattr, uint8_t s2_sh, bool fwb, MtAttrs *out)
{
    uint8_t field, s2_share;
    MtS2 s2;
    int ret = mt_combine(s1, s2_memattr, s2_sh, fwb, out);

    if (ret != MT_OK || s1_share != MT_S1SH_FIELD || !fwb ||
        s1->kind != MT_KIND_NORMAL || !is_nc_nc(s1)) {
        return ret;
    }
    mt_decode_s2(s2_memattr, fwb, &s2);
    if (s2.op != MT_S2_FWB_FORCE_WB) {
        return ret;
    }
    /*
     * AArch64.S2ApplyFWBMemAttrs(): S2CombineS1Shareability() of stage 1's
     * shareability and stage 2's SH, then EffectiveShareability(); here
     * stage 1's is its SH field, not the Outer Shareable of NC.
     */
    ret = mt_decode_sh(s1_sh, &field);
    if (ret != MT_OK) {
        set_reserved(out);
        return ret;
    }
    mt_decode_sh(s2_sh, &s2_share);
    out->share = share_combine[field][s2_share];
    effective_share(out);
    return MT_OK;
}

static const char *const s1_share_names[MT_S1SH__COUNT] = { "cpu", "field", "osh" };

const char *mt_s1_share_name(unsigned choice)
{
    return name_of(s1_share_names, ARRAY_SIZE(s1_share_names), choice);
}

int mt_s1_share_parse(const char *name, uint8_t *choice)
{
    for (unsigned i = 0; i < MT_S1SH__COUNT; i++) {
        if (!strcasecmp(name, s1_share_names[i])) {
            *choice = i;
            return MT_OK;
        }
    }
    return MT_ERR_RANGE;
}

static int encode_nibble(const MtHints *h, uint8_t *nib)
{
    uint8_t rw = (h->ra ? 2 : 0) | (h->wa ? 1 : 0);

    switch (h->cache) {
    case MT_CACHE_NC:
        *nib = 0x4;
        return MT_OK;
    case MT_CACHE_WT:
        *nib = (h->transient ? 0x0 : 0x8) | rw;
        break;
    case MT_CACHE_WB:
        *nib = (h->transient ? 0x4 : 0xc) | rw;
        break;
    default:
        return MT_ERR_RANGE;
    }
    /* Transient with no allocation hint has no encoding. */
    return (h->transient && rw == 0) ? MT_ERR_RANGE : MT_OK;
}

int mt_encode_mair(const MtAttrs *a, uint8_t *attr)
{
    uint8_t in, out;

    switch (a->kind) {
    case MT_KIND_DEVICE:
        *attr = (uint8_t)(a->device << 2) | (a->xs0 ? 1 : 0);
        return MT_OK;
    case MT_KIND_NORMAL:
        for (unsigned i = 0; i < ARRAY_SIZE(mair_feature_enc); i++) {
            if ((a->xs0 || a->tagged) && a->xs0 == mair_feature_enc[i].xs0 &&
                a->tagged == mair_feature_enc[i].tagged &&
                a->inner.cache == mair_feature_enc[i].cache) {
                *attr = mair_feature_enc[i].attr;
                return MT_OK;
            }
        }
        if (encode_nibble(&a->inner, &in) || encode_nibble(&a->outer, &out)) {
            return MT_ERR_RANGE;
        }
        *attr = (uint8_t)(out << 4 | in);
        return MT_OK;
    default:
        return MT_ERR_RESERVED;
    }
}

MtPermits mt_permits(const MtAttrs *a)
{
    static const MtPermits none;

    switch (a->kind) {
    case MT_KIND_DEVICE:
        return permit_table[a->device];
    case MT_KIND_NORMAL:
        return permit_table[MT_PERMIT_NORMAL];
    default:
        return none;
    }
}

MtPermits mt_attr_permits(uint8_t attr)
{
    static const MtPermits none;

    /* The per-access fast path of mt_decode_mair() + mt_permits(). */
    if ((attr & 0xf0) == 0) {
        return attr & 2 ? none : permit_table[attr >> 2];
    }
    if ((attr & 0x0f) == 0 && attr != 0x40 && attr != 0xa0 && attr != 0xf0) {
        return none;
    }
    return permit_table[MT_PERMIT_NORMAL];
}

MtFault mt_alignment_fault(const MtAttrs *s1, uint8_t s2_memattr, bool fwb,
                           MtAccessClass cls)
{
    MtS2 s2;

    /* With SCTLR_ELx.A == 0, an aligned access never takes an Alignment fault. */
    if (cls == MT_ACCESS_ALIGNED) {
        return MT_FAULT_NONE;
    }
    /* AArch64.S1HasAlignmentFault(): checked before stage 2 translates. */
    if (s1->kind == MT_KIND_RESERVED) {
        return MT_FAULT_UNPREDICTABLE;
    }
    if (s1->kind == MT_KIND_DEVICE) {
        return MT_FAULT_S1_ALIGN;
    }
    /*
     * AArch64.S2HasAlignmentFault() on the stage-2 attributes; with FWB
     * they already include stage 1, which is Normal here, so only a
     * stage-2 Device encoding yields Device.
     */
    if (mt_decode_s2(s2_memattr, fwb, &s2) != MT_OK) {
        return MT_FAULT_UNPREDICTABLE;
    }
    return s2.op == MT_S2_DEVICE ? MT_FAULT_S2_ALIGN : MT_FAULT_NONE;
}

/* "NC", "WB", or with hints when they are not the usual RWA non-transient: "WT-R-t". */
static void hints_suffix(const MtHints *h, char *buf, size_t len)
{
    bool usual = h->ra && h->wa && !h->transient;

    if (h->cache == MT_CACHE_NC || usual) {
        snprintf(buf, len, "%s", mt_cache_name(h->cache));
        return;
    }
    snprintf(buf, len, "%s-%s%s%s", mt_cache_name(h->cache),
             h->ra ? "R" : "", h->wa ? "W" : "", h->transient ? "-t" : "");
    if (!h->ra && !h->wa) {
        snprintf(buf, len, "%s-noalloc%s", mt_cache_name(h->cache),
                 h->transient ? "-t" : "");
    }
}

char *mt_attrs_name(const MtAttrs *a, char *buf, unsigned len)
{
    char in[16], out[16];

    switch (a->kind) {
    case MT_KIND_DEVICE:
        snprintf(buf, len, "%s%s", mt_device_name(a->device),
                 a->xs0 ? "(XS=0)" : "");
        break;
    case MT_KIND_NORMAL:
        if (a->inner.cache == a->outer.cache &&
            (a->inner.cache == MT_CACHE_NC ||
             (a->inner.ra == a->outer.ra && a->inner.wa == a->outer.wa &&
              a->inner.transient == a->outer.transient))) {
            hints_suffix(&a->inner, in, sizeof(in));
            snprintf(buf, len, "%sNormal-%s%s", a->tagged ? "Tagged " : "",
                     in, a->xs0 ? "(XS=0)" : "");
        } else {
            hints_suffix(&a->inner, in, sizeof(in));
            hints_suffix(&a->outer, out, sizeof(out));
            snprintf(buf, len, "Normal-i%s-o%s", in, out);
        }
        break;
    default:
        snprintf(buf, len, "reserved");
        break;
    }
    return buf;
}

/*
 * Names accepted for both stages; value is the MAIR byte.  label: the
 * stage-1 attribute's name in the matrix's reports (NULL: shown as its
 * encoding).
 */
static const struct {
    const char *name;
    uint8_t mair;
    int8_t s2, s2_fwb;      /* -1: no stage-2 encoding of that name */
    const char *label;
} attr_names[] = {
    { "device-nGnRnE", 0x00, 0x0, 0x0, "Device-nGnRnE" },
    { "device-nGnRE", 0x04, 0x1, 0x1, "Device-nGnRE" },
    { "device-nGRE", 0x08, 0x2, 0x2, "Device-nGRE" },
    { "device-GRE", 0x0c, 0x3, 0x3, "Device-GRE" },
    { "normal-NC", 0x44, 0x5, 0x5, "Normal-NC" },
    { "normal-WT", 0xbb, 0xa, -1, NULL },
    { "normal-WB", 0xff, 0xf, 0x6, "Normal-WB" },
    { "use-s1", 0, -1, 0x7, NULL },
};

const char *mt_s1_label(unsigned i, uint8_t *mair)
{
    for (unsigned n = 0, k = 0; k < ARRAY_SIZE(attr_names); k++) {
        if (attr_names[k].label && n++ == i) {
            *mair = attr_names[k].mair;
            return attr_names[k].label;
        }
    }
    return NULL;
}

static int parse_number(const char *s, unsigned max, uint8_t *out)
{
    char *end;
    unsigned long v;

    if (!isdigit((unsigned char)s[0])) {
        return MT_ERR_RANGE;
    }
    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno || *end || v > max) {
        return MT_ERR_RANGE;
    }
    *out = (uint8_t)v;
    return MT_OK;
}

int mt_parse_s1(const char *s, uint8_t *out)
{
    for (unsigned i = 0; i < ARRAY_SIZE(attr_names); i++) {
        if (attr_names[i].s2 >= 0 && !strcasecmp(s, attr_names[i].name)) {
            *out = attr_names[i].mair;
            return MT_OK;
        }
    }
    return parse_number(s, 0xff, out);
}

int mt_parse_s2(const char *s, bool fwb, uint8_t *out)
{
    for (unsigned i = 0; i < ARRAY_SIZE(attr_names); i++) {
        int8_t v = fwb ? attr_names[i].s2_fwb : attr_names[i].s2;

        if (v >= 0 && !strcasecmp(s, attr_names[i].name)) {
            *out = (uint8_t)v;
            return MT_OK;
        }
    }
    return parse_number(s, 0xf, out);
}
