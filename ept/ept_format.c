/* SPDX-License-Identifier: MIT */
#include "core/backend.h"
#include "ept_format.h"

/* An entry is present when any of R, W, X is set (SDM 29.3.2). */
static bool ept_present(uint64_t e)
{
	return e & EPT_RWX;
}

/* Non-leaf entries grant all access; leaves restrict (SDM 29.3.3.2). */
static uint64_t ept_make_table(const struct vmmu_pt *pt, hpa_t table)
{
	(void)pt;
	return (table.v & EPT_ADDR_MASK) | EPT_RWX;
}

static uint64_t ept_make_leaf(const struct vmmu_pt *pt, hpa_t page,
			      unsigned prot, unsigned level)
{
	const struct ept_format_ctx *c = pt->ctx;
	uint8_t mt = c ? c->memtype : EPT_MT_WB;
	uint64_t e = (page.v & EPT_ADDR_MASK) | ((uint64_t)mt << EPT_BIT_MEMTYPE);

	if (prot & VMMU_PROT_R)
		e |= EPT_R;
	if (prot & VMMU_PROT_W)
		e |= EPT_W;
	if (prot & VMMU_PROT_X)
		e |= EPT_X;
	if (c && c->ignore_pat)
		e |= EPT_IPAT;
	if (level > VMMU_PT_LEVEL_4K)
		e |= EPT_PS;
	return e;
}

static unsigned ept_leaf_prot(uint64_t e)
{
	return (e & EPT_R ? VMMU_PROT_R : 0) | (e & EPT_W ? VMMU_PROT_W : 0) |
	       (e & EPT_X ? VMMU_PROT_X : 0);
}

/*
 * SDM 29.3.3.1: an entry with W but not R is an EPT misconfiguration, and
 * so is X without R unless the CPU supports execute-only translations.
 */
static bool ept_prot_ok(const struct vmmu_pt *pt, unsigned prot)
{
	const struct ept_format_ctx *c = pt->ctx;

	if (prot & VMMU_PROT_R)
		return true;
	if (prot & VMMU_PROT_W)
		return false;
	return c && c->execute_only;
}

const struct vmmu_pt_format ept_pt_format = {
	.name = "ept",
	.addr_mask = EPT_ADDR_MASK,
	.large_bit = EPT_PS,
	.present = ept_present,
	.make_table = ept_make_table,
	.make_leaf = ept_make_leaf,
	.leaf_prot = ept_leaf_prot,
	.prot_ok = ept_prot_ok,
};

/* Paging structures are always written back (WB) memory. */
uint64_t ept_make_eptp(hpa_t root, unsigned levels, bool ad_enabled)
{
	return (root.v & EPT_ADDR_MASK) | EPT_MT_WB |
	       ((uint64_t)(levels - 1) << EPTP_BIT_WALK_LEN) |
	       (ad_enabled ? EPTP_AD : 0);
}
