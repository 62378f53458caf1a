/* SPDX-License-Identifier: MIT */
/*
 * The vCPU's TLB and paging-structure caches on the access path: lookups
 * before a walk, fills after one, the guest walk shortened by a PWC hit,
 * and the TLB's life with the vCPU.
 */
#include <string.h>

#include "vmmu/access.h"
#include "vmmu/error.h"
#include "access_tlb.h"
#include "tlb.h"
#include "walk_internal.h"

void access_tlb_page_fault(struct vmmu_vcpu *vcpu,
			   const struct vmmu_walk_result *fault)
{
	if (vcpu->tlb && fault->vector == X86_VEC_PF)
		vmmu_tlb_page_fault(vcpu->tlb, mk_gva(access_la(vcpu,
							fault->cr2.v)));
}

void access_tlb_exit(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit)
{
	if (vcpu->tlb && (exit->kind == VMMU_EXIT_EPT_VIOLATION ||
			  exit->kind == VMMU_EXIT_EPT_MISCONFIG))
		vmmu_tlb_ept_violation(vcpu->tlb, exit->gpa, exit->gva_valid,
				       exit->gva);
}

void access_tlb_fill(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		     const struct vmmu_hw_walk *hw)
{
	struct vmmu_tlb_fill f;

	if (!vcpu->tlb)
		return;
	memset(&f, 0, sizeof(f));
	f.gva.v = access_la(vcpu, acc->gva.v);
	f.hpa = hw->hpa;
	f.page_size = hw->page_size;
	f.rights = hw->rights;
	f.pkey = hw->pkey;
	f.global = hw->global;
	f.dirty = hw->dirty;
	/* VMMU_PROT_R/W/X and VMMU_TLB_NR/NW/NX share their encoding. */
	f.nested = hw->nested;
	f.kind = acc->kind;
	vmmu_tlb_fill(vcpu->tlb, &f);
}

/* Cache the non-leaf entries a successful walk used (SDM 4.10.3.1). */
static void pwc_fill_walk(struct vmmu_vcpu *vcpu, gva_t la,
			  const struct vmmu_walk_result *res, uint8_t rights)
{
	enum vmmu_paging_mode mode = (enum vmmu_paging_mode)res->mode;
	unsigned u = rights & 1, w = (rights >> 1) & 1, nx = (rights >> 2) & 1;
	unsigned i;

	for (i = 0; i + 1 < res->levels; i++) {
		unsigned level = res->first_level - i;
		uint64_t e = res->pte[i];

		if (mode == VMMU_PAGING_PAE && level == 3)
			continue;       /* PDPTE registers: no cache entry */
		u &= (unsigned)(e >> 2) & 1;
		w &= (unsigned)(e >> 1) & 1;
		if (vcpu->paging.role.nxe)
			nx |= (unsigned)(e >> 63);
		vmmu_tlb_pwc_fill(vcpu->tlb, mode, la, level,
				  mk_gpa(e & X86_PTE_ADDR_MASK),
				  (uint8_t)(u | w << 1 | nx << 2));
	}
}

int vmmu_vcpu_guest_walk(struct vmmu_vcpu *vcpu, const struct vmmu_gmem *mem,
			 const struct vmmu_access *acc,
			 struct vmmu_walk_result *res)
{
	enum vmmu_paging_mode mode = (enum vmmu_paging_mode)vcpu->paging.role.mode;
	struct vmmu_tlb_pwc_hit hit;
	struct vmmu_walk_start start;
	gva_t la = mk_gva(access_la(vcpu, acc->gva.v));
	unsigned top;
	int rc;

	if (!vcpu->tlb || mode == VMMU_PAGING_NONE ||
	    mode == VMMU_PAGING_INVALID ||
	    vcpu->paging.role.key != vmmu_walk_role_key(&vcpu->paging))
		return vmmu_walk(&vcpu->paging, mem, acc, res);
	top = vcpu->paging.role.top_level;
	if (vmmu_tlb_pwc_lookup(vcpu->tlb, mode, la, &hit) < top) {
		start.level = (uint8_t)hit.level;
		start.table = mk_gpa(hit.table);
		start.rights = hit.rights;
		vcpu->stats.pwc_walks++;
		rc = vmmu_walk_from(&vcpu->paging, mem, acc, &start, res);
		if (rc == 0 && res->ok)
			pwc_fill_walk(vcpu, la, res, hit.rights);
		return rc;
	}
	rc = vmmu_walk(&vcpu->paging, mem, acc, res);
	if (rc == 0 && res->ok)
		pwc_fill_walk(vcpu, la, res, 3);
	return rc;
}

int vmmu_vcpu_tlb_configure(struct vmmu_vcpu *vcpu,
			    const struct vmmu_tlb_config *cfg)
{
	const struct vmmu_platform *p = &vcpu->vm->platform;
	struct vmmu_tlb_config def;
	struct vmmu_tlb *t;
	int rc;

	if (!cfg) {
		rc = vmmu_tlb_config_default(&def,
			vcpu->paging.quirks & VMMU_PAGING_AMD ?
			VMMU_TLB_PROFILE_AMD : VMMU_TLB_PROFILE_INTEL);
		if (rc < 0)
			return rc;
		cfg = &def;
	}
	rc = vmmu_tlb_create(p, cfg, &t);
	if (rc < 0)
		return rc;
	if (vcpu->tlb)
		vmmu_tlb_destroy(p, vcpu->tlb);
	vcpu->tlb = t;
	vmmu_tlb_set_tag(t, vcpu->tlb_vpid, 0, vcpu->tlb_ctx);
	access_hit_base_update(vcpu);
	return VMMU_OK;
}

void vmmu_vcpu_tlb_release(struct vmmu_vcpu *vcpu)
{
	if (vcpu->tlb)
		vmmu_tlb_destroy(&vcpu->vm->platform, vcpu->tlb);
	vcpu->tlb = NULL;
	access_hit_base_update(vcpu);
}
