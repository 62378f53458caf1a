/* SPDX-License-Identifier: MIT */
#include "backend.h"
#include "pt_x86.h"
#include "vmmu/x86_pte.h"

static bool x86_present(uint64_t e)
{
	return e & X86_PTE_P;
}

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

/* No prot is not-present; x86_prot_ok keeps R in every other prot. */
static uint64_t x86_make_leaf(const struct vmmu_pt *pt, hpa_t page,
			      unsigned prot, unsigned level)
{
	const struct vmmu_pt_x86_ctx *c = pt->ctx;
	uint64_t e = (page.v & X86_PTE_ADDR_MASK) | x86_user(pt);

	if (!prot)
		return 0;
	e |= X86_PTE_P;
	if (prot & VMMU_PROT_W)
		e |= X86_PTE_RW;
	if (!(prot & VMMU_PROT_X) && c && c->nx)
		e |= X86_PTE_NX;
	if (level > VMMU_PT_LEVEL_4K)
		e |= X86_PTE_PS;
	return e;
}

static unsigned x86_leaf_prot(uint64_t e)
{
	unsigned prot = 0;

	if (!(e & X86_PTE_P))
		return 0;
	prot |= VMMU_PROT_R;
	if (e & X86_PTE_RW)
		prot |= VMMU_PROT_W;
	if (!(e & X86_PTE_NX))
		prot |= VMMU_PROT_X;
	return prot;
}

/* x86 leaves are always readable (SDM 4.6): R must be part of prot. */
static bool x86_prot_ok(const struct vmmu_pt *pt, unsigned prot)
{
	(void)pt;
	return prot & VMMU_PROT_R;
}

const struct vmmu_pt_format vmmu_pt_format_x86 = {
	.name = "x86",
	.addr_mask = X86_PTE_ADDR_MASK,
	.large_bit = X86_PTE_PS,
	.present = x86_present,
	.make_table = x86_make_table,
	.make_leaf = x86_make_leaf,
	.leaf_prot = x86_leaf_prot,
	.prot_ok = x86_prot_ok,
};
