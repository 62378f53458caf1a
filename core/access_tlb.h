/* SPDX-License-Identifier: MIT */
/* The access path's use of the vCPU's TLB model (core/tlb.h). */
#ifndef VMMU_CORE_ACCESS_TLB_H
#define VMMU_CORE_ACCESS_TLB_H

#include "vmmu/access.h"
#include "tlb_internal.h"

/* The linear address as the walker uses it (SDM 4.1.1: 32 bits outside
 * IA-32e paging). */
static inline uint64_t access_la(const struct vmmu_vcpu *vcpu, uint64_t gva)
{
	uint8_t mode = vcpu->paging.role.mode;

	if (mode == VMMU_PAGING_4LEVEL || mode == VMMU_PAGING_5LEVEL)
		return gva;
	return gva & 0xffffffffULL;
}

/*
 * A TLB hit that allows acc: *hpa set. Counts hits and misses. Inline, so
 * that the TLB model's inline hit path (tlb_internal.h) is the whole cost.
 */
static inline bool access_tlb_lookup(struct vmmu_vcpu *vcpu,
				     const struct vmmu_access *acc, hpa_t *hpa)
{
	struct vmmu_access a;

	if (!vcpu->tlb)
		return false;
	if (access_la(vcpu, acc->gva.v) != acc->gva.v) {
		a = *acc;
		a.gva.v &= 0xffffffffULL;
		acc = &a;
	}
	if (vmmu_tlb_lookup_hit(vcpu->tlb, &vcpu->paging, acc, hpa) ==
	    VMMU_TLB_HIT) {
		vcpu->stats.tlb_hits++;
		return true;
	}
	vcpu->stats.tlb_misses++;
	return false;
}

/* Recompute vcpu->hit_base (vm.h) after its TLB, backend or VM changed. */
static inline void access_hit_base_update(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_vm *vm = vcpu->vm;

	vcpu->hit_base = vcpu->tlb && vm->ops && !vm->dead ?
			 vm->platform.linear_base : NULL;
}

/*
 * On access entry, after reading the VM's flush generation gen changed
 * since vcpu last looked: apply a VM-wide flush and the invalidations
 * posted to vcpu (core/access_inv.c).
 */
void access_tlb_requests(struct vmmu_vcpu *vcpu, unsigned gen);

/* A #PF is delivered for gva: what it invalidates (SDM 4.10.4.1). */
void access_tlb_page_fault(struct vmmu_vcpu *vcpu,
			   const struct vmmu_walk_result *fault);
/* An exit: EPT violations and misconfigurations invalidate (SDM 29.4.3.1). */
void access_tlb_exit(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit);
/* Cache the translation of a successful hardware walk. */
void access_tlb_fill(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		     const struct vmmu_hw_walk *hw);

#endif
