/* SPDX-License-Identifier: MIT */
#include "backend.h"
#include "pt_x86.h"
#include "vmmu/x86_pte.h"

/* Bits of a 4 KiB PTE that are neither address nor attribute: none
 * beyond 51:12; bits 58:52 above the p2m type are vmmu's markers. */
#define X86_MARKERS (X86_SW_RECALC | X86_SW_SAVED)

static uint64_t x86_user(const struct vmmu_pt *pt)
{
	const struct vmmu_pt_x86_ctx *c = pt->ctx;

	return c && c->user ? X86_PTE_US : 0;
}

/* Non-leaf entries grant everything; the leaf decides (SDM 4.6.1). */
static uint64_t x86_make_table(const struct vmmu_pt *pt, hpa_t table)
{
	return (table.v & X86_PTE_ADDR_MASK) | X86_PTE_P | X86_PTE_RW |
	       x86_user(pt);
}

/* PAT is bit 7 in a PTE and bit 12 in a large leaf, where 7 is PS. */
static uint64_t x86_attrs_to_large(uint64_t attrs)
{
	uint64_t pat = attrs & X86_PTE_PS ? X86_PTE_PAT_LARGE : 0;

	return (attrs & ~X86_PTE_PAT_LARGE) | X86_PTE_PS | pat;
}

static uint64_t x86_attrs_to_4k(uint64_t attrs)
{
	uint64_t pat = attrs & X86_PTE_PAT_LARGE ? X86_PTE_PS : 0;

	return (attrs & ~(X86_PTE_PS | X86_PTE_PAT_LARGE)) | pat;
}

/* Present, NX only where EFER.NXE makes it meaningful, no marker bits. */
static bool x86_leaf_ok(const struct vmmu_pt *pt, uint64_t attrs)
{
	const struct vmmu_pt_x86_ctx *c = pt->ctx;

	if (!(attrs & X86_PTE_P) || (attrs & X86_MARKERS))
		return false;
	return !(attrs & X86_PTE_NX) || (c && c->nx);
}

static uint64_t x86_mark_bit(const struct vmmu_pt *pt)
{
	const struct vmmu_pt_x86_ctx *c = pt->ctx;

	return c && c->recalc_clears_p ? X86_PTE_P : X86_PTE_US;
}

static uint64_t x86_mark(const struct vmmu_pt *pt, uint64_t e)
{
	uint64_t bit = x86_mark_bit(pt);

	return (e & ~bit) | X86_SW_RECALC | (e & bit ? X86_SW_SAVED : 0);
}

static uint64_t x86_unmark(const struct vmmu_pt *pt, uint64_t e)
{
	uint64_t bit = x86_mark_bit(pt);

	return (e & ~X86_MARKERS) | (e & X86_SW_SAVED ? bit : 0);
}

static bool x86_marked(uint64_t e)
{
	return e & X86_SW_RECALC;
}

uint64_t vmmu_pt_x86_prot_attrs(const struct vmmu_pt_x86_ctx *c,
				unsigned prot)
{
	uint64_t e = X86_PTE_P | (c && c->user ? X86_PTE_US : 0);

	if (prot & VMMU_PROT_W)
		e |= X86_PTE_RW;
	if (!(prot & VMMU_PROT_X) && c && c->nx)
		e |= X86_PTE_NX;
	return e;
}

const struct vmmu_pt_format vmmu_pt_format_x86 = {
	.name = "x86",
	.addr_mask = X86_PTE_ADDR_MASK,
	.large_bit = X86_PTE_PS,
	/* A P-clearing marker keeps a table entry present to the engine. */
	.present_mask = X86_PTE_P | X86_SW_RECALC,
	.merge_or_mask = X86_PTE_A | X86_PTE_D,
	/* R/W and U/S only add access; 52..55 (the p2m type) are ignored */
	.grant_mask = X86_PTE_RW | X86_PTE_US,
	.ignored_mask = X86_SW_TYPE,
	.make_table = x86_make_table,
	.attrs_to_large = x86_attrs_to_large,
	.attrs_to_4k = x86_attrs_to_4k,
	.leaf_ok = x86_leaf_ok,
	.mark = x86_mark,
	.unmark = x86_unmark,
	.marked = x86_marked,
};
