/* SPDX-License-Identifier: MIT */
/*
 * Intel EPT paging-structure entries and the EPT pointer.
 * Intel SDM Vol. 3C 29.3.2 (tables 29-1..29-6: EPT PML5E/PML4E, PDPTE,
 * PDE and PTE formats) and 25.6.11 (EPTP). *_BIT_X is the bit index,
 * *_X the mask.
 */
#ifndef VMMU_EPT_FORMAT_H
#define VMMU_EPT_FORMAT_H

#include "core/pgtable.h"

#define EPT_BIT_R          0    /* read access */
#define EPT_BIT_W          1    /* write access */
#define EPT_BIT_X          2    /* execute (supervisor-mode with MBEC) */
#define EPT_BIT_MEMTYPE    3    /* bits 5:3, leaf only */
#define EPT_BIT_IPAT       6    /* ignore guest PAT, leaf only */
#define EPT_BIT_PS         7    /* large leaf in PDPTE/PDE */
#define EPT_BIT_A          8    /* accessed, with EPTP A/D enable */
#define EPT_BIT_D          9    /* dirty, leaf, with EPTP A/D enable */
#define EPT_BIT_XU         10   /* user-mode execute, with MBEC */
#define EPT_BIT_SVE        63   /* suppress #VE */

#define EPT_R        (1ULL << EPT_BIT_R)
#define EPT_W        (1ULL << EPT_BIT_W)
#define EPT_X        (1ULL << EPT_BIT_X)
#define EPT_RWX      (EPT_R | EPT_W | EPT_X)
#define EPT_MEMTYPE  (7ULL << EPT_BIT_MEMTYPE)
#define EPT_IPAT     (1ULL << EPT_BIT_IPAT)
#define EPT_PS       (1ULL << EPT_BIT_PS)
#define EPT_A        (1ULL << EPT_BIT_A)
#define EPT_D        (1ULL << EPT_BIT_D)
#define EPT_XU       (1ULL << EPT_BIT_XU)
#define EPT_SVE      (1ULL << EPT_BIT_SVE)
#define EPT_ADDR_MASK 0x000ffffffffff000ULL

/*
 * Software-available bits of vmmu's EPT entries: 52..56 are ignored by the
 * CPU in every EPT entry (SDM tables 29-1..29-6; 57 and up gain meanings
 * with newer VM-execution controls). Bits 55:52 hold the backend's p2m
 * type; 56 flags a non-leaf entry marked for recalculation.
 */
#define EPT_SW_BIT_TYPE    52
#define EPT_SW_BIT_RECALC  56
#define EPT_SW_TYPE        (0xfULL << EPT_SW_BIT_TYPE)
#define EPT_SW_RECALC      (1ULL << EPT_SW_BIT_RECALC)

/* Memory types (SDM Vol. 3A 12.3, table 12-2). */
#define EPT_MT_UC 0
#define EPT_MT_WC 1
#define EPT_MT_WT 4
#define EPT_MT_WP 5
#define EPT_MT_WB 6
/* Not a memory type: a leaf holding it is an EPT misconfiguration. */
#define EPT_MT_INVALID 7

/* EPTP fields (SDM 25.6.11). */
#define EPTP_BIT_MEMTYPE   0    /* bits 2:0: paging-structure memory type */
#define EPTP_BIT_WALK_LEN  3    /* bits 5:3: page-walk length minus 1 */
#define EPTP_BIT_AD        6    /* enable accessed and dirty flags */
#define EPTP_AD            (1ULL << EPTP_BIT_AD)

/*
 * Per-table EPT settings (the vmmu_pt ctx). memtype and ignore_pat are the
 * defaults ept_prot_attrs() puts into a leaf template.
 */
struct ept_format_ctx {
	uint8_t memtype;        /* memory type of ept_prot_attrs() leaves */
	bool ignore_pat;        /* IPAT in ept_prot_attrs() leaves */
	/* IA32_VMX_EPT_VPID_CAP bit 0: execute-only translations allowed. */
	bool execute_only;
};

/*
 * The engine format. Leaf attributes in its 4K layout are the bits of an
 * EPT PTE (R, W, X, memory type, IPAT, A, D, XU, software bits, SVE); bit
 * 7 must be clear there. A non-leaf entry is marked for recalculation by
 * memory type 7 in bits 5:3, which are reserved in non-leaf entries, so a
 * walk through it is an EPT misconfiguration (SDM 29.3.3.1).
 */
extern const struct vmmu_pt_format ept_pt_format;

/* 4K-layout leaf attributes granting VMMU_PROT_*, with c's memory type. */
uint64_t ept_prot_attrs(const struct ept_format_ctx *c, unsigned prot);

/* EPTP for a table tree rooted at root with levels (4 or 5). */
uint64_t ept_make_eptp(hpa_t root, unsigned levels, bool ad_enabled);

#endif
