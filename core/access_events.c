/* SPDX-License-Identifier: MIT */
/*
 * Guest events on the access path: MOV to CR0/CR3/CR4, WRMSR to EFER,
 * INVLPG and INVPCID, each with the TLB invalidation its architectural
 * definition gives (SDM Vol. 3A 4.10.4.1; the scope rules live in
 * core/tlb_inv.c), then the backend's hook.
 */
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "tlb.h"

#define X86_CR3_NOFLUSH (1ULL << 63)

static int event_hook(struct vmmu_vcpu *vcpu, enum vmmu_cr cr, uint64_t old,
		      uint64_t val)
{
	struct vmmu_vm *vm = vcpu->vm;
	int rc = VMMU_OK;

	if (vm->ops && vm->ops->cr_written) {
		vmmu_vm_lock(vm);
		vm->handler_vcpu = vcpu;
		rc = vm->ops->cr_written(vcpu, cr, old, val);
		vm->handler_vcpu = NULL;
		vmmu_vm_unlock(vm);
	}
	return rc;
}

/*
 * PAE paging loads the PDPTEs on MOV to CR3 and on a MOV to CR0/CR4 that
 * enters PAE paging or changes PGE, PSE, PAE or SMEP (SDM 4.4.1); a bad
 * PDPTE is #GP, and then the register keeps its old value.
 */
static int reload_pdptes(struct vmmu_vcpu *vcpu)
{
	struct vmmu_gmem mem;

	vmmu_paging_update(&vcpu->paging);
	if (vmmu_paging_mode(&vcpu->paging) != VMMU_PAGING_PAE) {
		vcpu->paging.pdptes_loaded = false;
		return VMMU_OK;
	}
	vmmu_vm_gmem(vcpu->vm, &mem);
	return vmmu_paging_load_pdptes(&vcpu->paging, &mem);
}

static int set_cr3(struct vmmu_vcpu *vcpu, uint64_t val)
{
	struct vmmu_paging_state *ps = &vcpu->paging;
	bool pcide = ps->cr4 & X86_CR4_PCIDE;
	uint64_t old = ps->cr3, cr3 = pcide ? val & ~X86_CR3_NOFLUSH : val;
	struct vmmu_paging_state saved = *ps;
	int rc;

	ps->cr3 = cr3;
	rc = reload_pdptes(vcpu);
	if (rc < 0) {
		*ps = saved;
		return rc;
	}
	if (vcpu->tlb)
		vmmu_tlb_mov_cr3(vcpu->tlb, val, pcide);
	return event_hook(vcpu, VMMU_CR3, old, cr3);
}

static int set_cr0_cr4(struct vmmu_vcpu *vcpu, enum vmmu_cr cr, uint64_t val)
{
	struct vmmu_paging_state *ps = &vcpu->paging, saved = *ps;
	uint64_t *reg = cr == VMMU_CR0 ? &ps->cr0 : &ps->cr4, old = *reg;
	int rc;

	*reg = val;
	rc = reload_pdptes(vcpu);
	if (rc < 0) {
		*ps = saved;
		return rc;
	}
	if (vcpu->tlb && cr == VMMU_CR0)
		vmmu_tlb_mov_cr0(vcpu->tlb, old, val);
	else if (vcpu->tlb)
		vmmu_tlb_mov_cr4(vcpu->tlb, old, val);
	return event_hook(vcpu, cr, old, val);
}

int vmmu_vcpu_set_cr(struct vmmu_vcpu *vcpu, enum vmmu_cr cr, uint64_t val)
{
	uint64_t old;

	if (!vcpu)
		return VMMU_EINVAL;
	if (vcpu->vm->dead)
		return VMMU_EDEAD;
	vcpu->stats.cr_writes++;
	switch (cr) {
	case VMMU_CR3:
		return set_cr3(vcpu, val);
	case VMMU_CR0:
	case VMMU_CR4:
		return set_cr0_cr4(vcpu, cr, val);
	case VMMU_EFER:
		/* WRMSR to EFER invalidates nothing (SDM 4.10.4.1 lists none). */
		old = vcpu->paging.efer;
		vcpu->paging.efer = val;
		vmmu_paging_update(&vcpu->paging);
		return event_hook(vcpu, cr, old, val);
	}
	return VMMU_EINVAL;
}

int vmmu_vcpu_invlpg(struct vmmu_vcpu *vcpu, gva_t gva)
{
	struct vmmu_vm *vm;
	int rc = VMMU_OK;

	if (!vcpu)
		return VMMU_EINVAL;
	vm = vcpu->vm;
	vcpu->stats.invlpg++;
	if (vcpu->tlb)
		vmmu_tlb_invlpg(vcpu->tlb, gva);
	if (vm->ops && vm->ops->invlpg) {
		vmmu_vm_lock(vm);
		vm->handler_vcpu = vcpu;
		rc = vm->ops->invlpg(vcpu, gva);
		vm->handler_vcpu = NULL;
		vmmu_vm_unlock(vm);
	}
	return rc;
}

int vmmu_vcpu_invpcid(struct vmmu_vcpu *vcpu, unsigned type, uint16_t pcid,
		      gva_t gva)
{
	int rc;

	if (!vcpu || type > 3 || pcid > 0xfff)
		return VMMU_EINVAL;
	vcpu->stats.invpcid++;
	if (vcpu->tlb) {
		rc = vmmu_tlb_invpcid(vcpu->tlb, type, pcid, gva);
		if (rc < 0)
			return rc;
	}
	/* A backend caching guest translations hears of every type (for
	 * types 1..3 gva is not an address the guest named). */
	if (vcpu->vm->ops && vcpu->vm->ops->invlpg) {
		vmmu_vm_lock(vcpu->vm);
		vcpu->vm->handler_vcpu = vcpu;
		rc = vcpu->vm->ops->invlpg(vcpu, gva);
		vcpu->vm->handler_vcpu = NULL;
		vmmu_vm_unlock(vcpu->vm);
		return rc;
	}
	return VMMU_OK;
}

