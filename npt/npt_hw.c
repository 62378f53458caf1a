/* SPDX-License-Identifier: MIT */
/*
 * The hardware side of NPT (npt_hw.h): the nested walk an AMD CPU makes
 * under nCR3 for one guest-physical access. It reads the table bytes the
 * hypervisor side wrote and nothing else: no engine call, no p2m.
 *
 * APM Vol. 2 15.25.5: the nested tables have the format of the host's
 * long-mode tables (4 levels, 5 under host CR4.LA57), and every access
 * they translate is a user access: U/S must be 1 in every entry, R/W in
 * every entry for a write, and with host EFER.NXE no entry may have NX
 * for a fetch (5.6). A failure is a #NPF (15.25.6) whose EXITINFO1 is the
 * #PF error code of the failing nested walk (8.4.2: P = 0 for a
 * not-present entry, RSVD for a reserved bit, U always, W for a write,
 * I/D for a fetch under EFER.NXE or CR4.SMEP) plus bit 32 when the guest's final gpa
 * was translated or bit 33 when a guest page-table access was; EXITINFO2
 * is the gpa. Accessed and dirty bits of the nested entries are set as a
 * long-mode walk sets them (5.4.1), here once the walk has succeeded.
 */
#include "npt_hw.h"

#include "npt_format.h"
#include "vmmu/error.h"
#include "core/pte_atomic.h"

uint64_t npt_hw_rsvd(const struct npt_hw *hw, unsigned level, bool ps)
{
	uint64_t r = X86_PTE_ADDR_MASK & ~((1ULL << hw->maxphyaddr) - 1);

	if (!hw->nxe)
		r |= X86_PTE_NX;
	switch (level) {
	case 5:
	case 4:
		return r | X86_PTE_PS | X86_PTE_G;      /* bits 8:7 MBZ */
	case 3:
		if (!ps)
			return r;
		return hw->gbpages ? r | 0x3fffe000ULL : ~0ULL;
	case 2:
		return ps ? r | 0x1fe000ULL : r;
	}
	return r;
}

/* The VMMU_PROT_* rights of a walk so far (bit 0 U, 1 RW, 2 NX). */
static uint8_t walk_prot(unsigned rights)
{
	uint8_t prot = VMMU_PROT_R;

	if (rights & 2)
		prot |= VMMU_PROT_W;
	if (!(rights & 4))
		prot |= VMMU_PROT_X;
	return prot;
}

static void npf(struct vmmu_nested_walk *out, const struct npt_hw *hw,
		gpa_t gpa, enum vmmu_access_kind kind, bool guest_pt,
		uint64_t code)
{
	code |= NPF_U;
	if (kind == VMMU_ACCESS_WRITE)
		code |= NPF_W;
	if (kind == VMMU_ACCESS_FETCH && (hw->nxe || hw->smep))
		code |= NPF_ID;
	out->ok = false;
	out->exit.kind = VMMU_EXIT_NPF;
	out->exit.access = kind;
	out->exit.gpa = gpa;
	out->exit.guest_pt = guest_pt;
	out->exit.exitinfo1 = code | (guest_pt ? NPF_INFO_GUEST_PT
					       : NPF_INFO_FINAL_GPA);
	out->exit.exitinfo2 = gpa.v;
}

/* Set bits in an entry the hypervisor side may rewrite concurrently. */
static void set_bits(uint64_t *p, uint64_t e, uint64_t bits)
{
	uint64_t seen;

	while ((e & bits) != bits) {
		seen = pte_cas(p, e, e | bits);
		if (seen == e)
			return;
		e = seen;
	}
}

/* Whether the rights accumulated over a walk allow the access. */
static bool allowed(const struct npt_hw *hw, unsigned rights,
		    enum vmmu_access_kind kind)
{
	if (!(rights & 1))
		return false;
	if (kind == VMMU_ACCESS_WRITE)
		return rights & 2;
	if (kind == VMMU_ACCESS_FETCH)
		return !(hw->nxe && (rights & 4));
	return true;
}

int npt_hw_walk(const struct npt_hw *hw, const struct vmmu_platform *plat,
		gpa_t gpa, enum vmmu_access_kind kind, bool guest_pt,
		const struct vmmu_tlb_pwc_hit *start,
		struct vmmu_nested_walk *out)
{
	uint64_t table = start ? start->table : hw->ncr3 & X86_PTE_ADDR_MASK;
	unsigned level = start ? start->level : hw->levels;
	/* A cache entry exists only for a walk that had U in every entry. */
	unsigned rights = start ? 1 | (start->rights & VMMU_PROT_W ? 2 : 0) |
				  (start->rights & VMMU_PROT_X ? 0 : 4) : 3;
	uint64_t *slot[VMMU_PT_MAX_LEVELS], ent[VMMU_PT_MAX_LEVELS], e, size;
	unsigned n = 0, i;

	/* A gpa beyond what the nested tables span has no entry: not present. */
	if (hw->levels < 5 && (gpa.v >> (VMMU_PAGE_SHIFT + 9 * hw->levels))) {
		npf(out, hw, gpa, kind, guest_pt, 0);
		return VMMU_OK;
	}
	for (;; level--) {
		uint64_t *t = plat->map(plat->ctx, mk_hpa(table));
		bool ps;

		if (!t)
			return VMMU_EFAULT;
		slot[n] = &t[vmmu_pt_index(gpa.v, level)];
		e = ent[n] = pte_load(slot[n]);
		n++;
		out->refs++;
		if (!(e & X86_PTE_P)) {
			npf(out, hw, gpa, kind, guest_pt, 0);
			return VMMU_OK;
		}
		ps = level > 1 && (e & X86_PTE_PS);
		if (e & npt_hw_rsvd(hw, level, ps)) {
			npf(out, hw, gpa, kind, guest_pt, NPF_P | NPF_RSVD);
			return VMMU_OK;
		}
		if (!(e & X86_PTE_US))
			rights &= ~1U;
		if (!(e & X86_PTE_RW))
			rights &= ~2U;
		if (e & X86_PTE_NX)
			rights |= 4;
		if (level == VMMU_PT_LEVEL_4K || ps)
			break;
		table = e & X86_PTE_ADDR_MASK;
		if (out->ntables < 5) {
			out->table_level[out->ntables] = (uint8_t)level;
			out->table_hpa[out->ntables] = mk_hpa(table);
			out->table_prot[out->ntables++] = walk_prot(rights);
		}
	}
	if (!allowed(hw, rights, kind)) {
		npf(out, hw, gpa, kind, guest_pt, NPF_P);
		out->ntables = 0;
		return VMMU_OK;
	}
	/* APM 5.4.1: A in every entry used, D in the leaf of a write. */
	for (i = 0; i < n; i++)
		set_bits(slot[i], ent[i], X86_PTE_A |
			 (i == n - 1 && kind == VMMU_ACCESS_WRITE ? X86_PTE_D : 0));
	size = vmmu_pt_level_size(level);
	out->ok = true;
	out->page_size = size;
	out->hpa = mk_hpa((e & X86_PTE_ADDR_MASK & ~(size - 1)) |
			  (gpa.v & (size - 1)));
	out->prot = walk_prot(rights);
	/*
	 * A CPU sets D before the first write through a translation it
	 * cached from a read (5.4.2): such a translation is not writable to
	 * the TLB model, so a later write walks again and sets D.
	 */
	if (!(e & X86_PTE_D) && kind != VMMU_ACCESS_WRITE)
		out->prot &= (uint8_t)~VMMU_PROT_W;
	return VMMU_OK;
}
