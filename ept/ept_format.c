/* SPDX-License-Identifier: MIT */
#include "core/backend.h"
#include "ept_format.h"

/* Non-leaf entries grant all access; leaves restrict (SDM 29.3.3.2). */
static uint64_t ept_make_table(const struct vmmu_pt *pt, hpa_t table)
{
	(void)pt;
	return (table.v & EPT_ADDR_MASK) | EPT_RWX;
}

/* The large-leaf layout differs from a PTE's only by PS (tables 29-3/5). */
static uint64_t ept_attrs_to_large(uint64_t attrs)
{
	return attrs | EPT_PS;
}

static uint64_t ept_attrs_to_4k(uint64_t attrs)
{
	return attrs & ~EPT_PS;
}

static bool ept_memtype_ok(unsigned mt)
{
	return mt == EPT_MT_UC || mt == EPT_MT_WC || mt == EPT_MT_WT ||
	       mt == EPT_MT_WP || mt == EPT_MT_WB;
}

/*
 * SDM 29.3.3.1: a leaf with W but not R is an EPT misconfiguration, and so
 * is X without R unless the CPU supports execute-only translations, and a
 * memory type of 2, 3 or 7. Not present (no R, W, X) is no leaf at all.
 */
static bool ept_leaf_ok(const struct vmmu_pt *pt, uint64_t attrs)
{
	const struct ept_format_ctx *c = pt->ctx;

	if (!(attrs & EPT_RWX) || (attrs & (EPT_PS | EPT_SW_RECALC)))
		return false;
	if (!ept_memtype_ok((attrs & EPT_MEMTYPE) >> EPT_BIT_MEMTYPE))
		return false;
	if (attrs & EPT_R)
		return true;
	if (attrs & EPT_W)
		return false;
	return c && c->execute_only;
}

static uint64_t ept_mark(const struct vmmu_pt *pt, uint64_t e)
{
	(void)pt;
	return e | ((uint64_t)EPT_MT_INVALID << EPT_BIT_MEMTYPE) | EPT_SW_RECALC;
}

/* Engine-built non-leaf entries have bits 5:3 clear (SDM table 29-1). */
static uint64_t ept_unmark(const struct vmmu_pt *pt, uint64_t e)
{
	(void)pt;
	return e & ~(EPT_MEMTYPE | EPT_SW_RECALC);
}

static bool ept_marked(uint64_t e)
{
	return e & EPT_SW_RECALC;
}

uint64_t ept_prot_attrs(const struct ept_format_ctx *c, unsigned prot)
{
	uint8_t mt = c ? c->memtype : EPT_MT_WB;
	uint64_t e = (uint64_t)mt << EPT_BIT_MEMTYPE;

	if (prot & VMMU_PROT_R)
		e |= EPT_R;
	if (prot & VMMU_PROT_W)
		e |= EPT_W;
	if (prot & VMMU_PROT_X)
		e |= EPT_X;
	if (c && c->ignore_pat)
		e |= EPT_IPAT;
	return e;
}

const struct vmmu_pt_format ept_pt_format = {
	.name = "ept",
	.addr_mask = EPT_ADDR_MASK,
	.large_bit = EPT_PS,
	.present_mask = EPT_RWX,
	.merge_or_mask = EPT_A | EPT_D,
	/* R, W, X only add access; bits 52..58 are ignored (SDM Table 29-6);
	 * the recalculation marker is a non-leaf matter */
	.grant_mask = EPT_R | EPT_W | EPT_X,
	.ignored_mask = EPT_SW_TYPE,
	.make_table = ept_make_table,
	.attrs_to_large = ept_attrs_to_large,
	.attrs_to_4k = ept_attrs_to_4k,
	.leaf_ok = ept_leaf_ok,
	.mark = ept_mark,
	.unmark = ept_unmark,
	.marked = ept_marked,
};

/* Paging structures are always written back (WB) memory. */
uint64_t ept_make_eptp(hpa_t root, unsigned levels, bool ad_enabled)
{
	return (root.v & EPT_ADDR_MASK) | EPT_MT_WB |
	       ((uint64_t)(levels - 1) << EPTP_BIT_WALK_LEN) |
	       (ad_enabled ? EPTP_AD : 0);
}
