/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Arm memory types: decode of stage-1 MAIR attributes and stage-2 MemAttr
 * fields, the stage-1 x stage-2 combine (with and without FEAT_S2FWB), and
 * what each resulting type permits.
 *
 * Everything here follows the Arm ARM (DDI0487) pseudocode: the function
 * names cited beside each table are the pseudocode functions the table
 * encodes.  Pure C11, no allocation, no global state.
 */
#ifndef BARLAB_MEMTYPE_H
#define BARLAB_MEMTYPE_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MT_KIND_DEVICE,
    MT_KIND_NORMAL,
    MT_KIND_RESERVED,   /* UNPREDICTABLE or reserved encoding */
} MtKind;

/* Ordered strongest first: S2CombineS1Device() picks the smaller value. */
typedef enum {
    MT_DEV_nGnRnE,
    MT_DEV_nGnRE,
    MT_DEV_nGRE,
    MT_DEV_GRE,
} MtDevice;

/* Ordered strongest first: S2CombineS1AttrHints() picks the smaller value. */
typedef enum {
    MT_CACHE_NC,
    MT_CACHE_WT,
    MT_CACHE_WB,
} MtCache;

/* Ordered weakest first: S2CombineS1Shareability() picks the larger. */
typedef enum {
    MT_SH_NSH,
    MT_SH_ISH,
    MT_SH_OSH,
} MtShare;

/* One cacheability domain (inner or outer) of a Normal type. */
typedef struct {
    uint8_t cache;      /* MtCache */
    bool ra;            /* read-allocate hint */
    bool wa;            /* write-allocate hint */
    bool transient;
} MtHints;

typedef struct {
    uint8_t kind;       /* MtKind */
    uint8_t device;     /* MtDevice, when kind == MT_KIND_DEVICE */
    MtHints inner;      /* when kind == MT_KIND_NORMAL */
    MtHints outer;
    uint8_t share;      /* MtShare, effective shareability */
    bool xs0;           /* FEAT_XS encoding with XS == 0 */
    bool tagged;        /* FEAT_MTE2 Tagged Normal */
} MtAttrs;

/* Architectural features that give otherwise UNPREDICTABLE encodings a meaning. */
enum {
    MT_FEAT_XS = 1u << 0,
    MT_FEAT_MTE2 = 1u << 1,
};

/*
 * The stage-1 shareability a Normal Inner-NC Outer-NC stage 1 passes on to
 * stage 2 when FEAT_S2FWB forces Write-Back (MemAttr 0b110): the
 * descriptor's SH field, as the pseudocode's stage-1 decode keeps it (and
 * QEMU does), or the Outer Shareable that a Non-cacheable location has at
 * stage 1 (docs/rules.md, "Shareability under FWB").  Only then does the
 * choice show: every other combination of a Device or NC stage 1 ends
 * Device or NC, which is Outer Shareable whatever was passed.
 */
typedef enum {
    MT_S1SH_CPU,            /* what the CPU model does (MtCpu.s1_share) */
    MT_S1SH_FIELD,          /* stage 1's SH field */
    MT_S1SH_OSH,            /* Outer Shareable */
    MT_S1SH__COUNT,
} MtS1Share;

/* What a stage-2 MemAttr[3:0] field means on its own. */
typedef enum {
    MT_S2_DEVICE,           /* Device of MtS2.device (both forms) */
    MT_S2_NORMAL,           /* non-FWB Normal, inner/outer in MtS2 */
    MT_S2_FWB_NC,           /* FWB: Normal-NC unless stage 1 is Device */
    MT_S2_FWB_FORCE_WB,     /* FWB: Normal Write-Back, whatever stage 1 says */
    MT_S2_FWB_USE_S1,       /* FWB: the stage-1 attributes */
    MT_S2_RESERVED,
} MtS2Op;

typedef struct {
    uint8_t op;         /* MtS2Op */
    uint8_t device;     /* MtDevice for MT_S2_DEVICE */
    uint8_t inner;      /* MtCache for MT_S2_NORMAL */
    uint8_t outer;
} MtS2;

/* What a memory type permits (Arm ARM B2.10 "Memory types and attributes"). */
typedef struct {
    bool gather;            /* G: accesses may be merged */
    bool reorder;           /* R: accesses to one peripheral may be reordered */
    bool early_ack;         /* E: write response may come from the interconnect */
    bool unaligned;         /* an unaligned access does not take an Alignment fault */
    bool dczva;             /* DC ZVA does not take an Alignment fault */
    bool speculative_read;  /* the PE may read it speculatively */
} MtPermits;

/* Where an access faults, if it does. */
typedef enum {
    MT_FAULT_NONE,
    MT_FAULT_S1_ALIGN,      /* stage-1 Alignment fault, taken to EL1 */
    MT_FAULT_S2_ALIGN,      /* stage-2 Alignment fault, taken to EL2 */
    MT_FAULT_UNPREDICTABLE, /* a reserved encoding is involved */
    MT_FAULT__COUNT,
} MtFault;

typedef enum {
    MT_ACCESS_ALIGNED,      /* aligned to its element size */
    MT_ACCESS_UNALIGNED,
    MT_ACCESS_DCZVA,        /* DC ZVA / DC GVA / DC GZVA */
} MtAccessClass;

/* Errors returned by the decoders; 0 is success. */
enum {
    MT_OK = 0,
    MT_ERR_RESERVED = -1,   /* decoded, but the encoding is reserved */
    MT_ERR_RANGE = -2,      /* value out of range for the field */
};

/*
 * Decode a MAIR_ELx.Attr<n> byte.  Reserved encodings yield
 * kind == MT_KIND_RESERVED and MT_ERR_RESERVED; @features (MT_FEAT_*) says
 * which feature-dependent encodings are defined.
 */
int mt_decode_mair(uint8_t attr, unsigned features, MtAttrs *out);

/* Decode stage-2 MemAttr[3:0] in the non-FWB or the FWB form. */
int mt_decode_s2(uint8_t memattr, bool fwb, MtS2 *out);

/* Decode a 2-bit SH field: 0b01 is reserved. */
int mt_decode_sh(uint8_t sh, uint8_t *share);

/*
 * Combine stage-1 attributes with a stage-2 MemAttr and SH field
 * (S2CombineS1MemAttrs() or AArch64.S2ApplyFWBMemAttrs()).  A reserved input
 * on either side yields kind == MT_KIND_RESERVED and MT_ERR_RESERVED.
 */
int mt_combine(const MtAttrs *s1, uint8_t s2_memattr, uint8_t s2_sh, bool fwb,
               MtAttrs *out);

/*
 * mt_combine() with the stage-1 descriptor's SH field @s1_sh and the
 * choice @s1_share (MT_S1SH_FIELD or MT_S1SH_OSH) of what a Non-cacheable
 * stage 1 passes on under FWB's force-Write-Back; mt_combine() is
 * MT_S1SH_OSH.
 */
int mt_combine_share(const MtAttrs *s1, uint8_t s1_sh, unsigned s1_share,
                     uint8_t s2_memattr, uint8_t s2_sh, bool fwb, MtAttrs *out);
const char *mt_s1_share_name(unsigned choice);
int mt_s1_share_parse(const char *name, uint8_t *choice);

/*
 * Encode attributes in the MAIR byte format (the form QEMU keeps combined
 * attributes in).  Returns MT_ERR_RESERVED for reserved attributes, or
 * MT_ERR_RANGE when the hints cannot be expressed (e.g. transient, no
 * allocate).
 */
int mt_encode_mair(const MtAttrs *a, uint8_t *attr);

/* What a decoded type permits; reserved types permit nothing. */
MtPermits mt_permits(const MtAttrs *a);

/* What a MAIR-format (combined) attribute permits, any feature assumed. */
MtPermits mt_attr_permits(uint8_t attr);

/*
 * Where an access of @cls faults given stage-1 attributes and a stage-2
 * MemAttr: AArch64.S1HasAlignmentFault() on the stage-1 type, then
 * AArch64.S2HasAlignmentFault() on the stage-2 type (SCTLR_ELx.A == 0).
 */
MtFault mt_alignment_fault(const MtAttrs *s1, uint8_t s2_memattr, bool fwb,
                           MtAccessClass cls);

/* Short human-readable names: "Device-nGnRE", "Normal-iWB-oNC", ... */
const char *mt_device_name(unsigned dev);
const char *mt_cache_name(unsigned cache);
const char *mt_share_name(unsigned sh);
const char *mt_fault_name(unsigned fault);
/*
 * The I-th stage-1 attribute the matrix's reports name: its label
 * (Normal-NC) and, in *MAIR, its encoding; NULL after the last.
 */
const char *mt_s1_label(unsigned i, uint8_t *mair);
/* The fault's id in JSON and the reports: none, stage1-el1, stage2-el2, unpredictable. */
const char *mt_fault_id(unsigned fault);
const char *mt_s2_op_name(unsigned op);
/* Writes a name for @a into @buf (at least 48 bytes); returns @buf. */
char *mt_attrs_name(const MtAttrs *a, char *buf, unsigned len);

/*
 * Parse a stage-1 attribute: a number 0..255 ("0x44", "68") or a name
 * ("device-nGnRE", "normal-NC", "normal-WB", case-insensitive).
 */
int mt_parse_s1(const char *s, uint8_t *out);
/*
 * Parse a stage-2 MemAttr: a number 0..15 or a name ("device-nGnRE",
 * "normal-NC", "normal-WB"), encoded in the FWB or non-FWB form.
 */
int mt_parse_s2(const char *s, bool fwb, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_MEMTYPE_H */
