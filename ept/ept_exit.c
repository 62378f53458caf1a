/* SPDX-License-Identifier: MIT */
/*
 * The EPT exit handler: what vmmu, as the hypervisor, does with an EPT
 * violation (exit reason 48), an EPT misconfiguration (49) or a PML-full
 * exit (62), from what a VMM reads in the VMCS (SDM Vol. 3C 28.2.1 Table
 * 28-7 for the qualification; the guest-physical and guest-linear address
 * fields).
 *
 *   violation, no leaf, own RAM/ROM      populate and map the host block
 *   violation, write to a log-dirty page log it, make the page writable
 *   violation, write to ROM              to the VMM (ROM write)
 *   violation, MMIO                      the VM's device callback, or VMM
 *   misconfiguration with a marker       vmmu_pt_recalc (lazy type change)
 *   PML full                             drain the log, resume
 *   anything else                        to the VMM with a reason
 */
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "ept_internal.h"

static void to_vmm(struct vmmu_exit_result *res, enum vmmu_vmm_reason why)
{
	res->action = VMMU_ACT_TO_VMM;
	res->reason = why;
}

static uint8_t need_prot(enum vmmu_access_kind kind)
{
	return kind == VMMU_ACCESS_WRITE ? VMMU_PROT_W :
	       kind == VMMU_ACCESS_FETCH ? VMMU_PROT_X : VMMU_PROT_R;
}

/* A violation on a present leaf of the VM's own memory. */
static int ept_protection(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
			  const struct vmmu_p2m_info *pi, uint64_t entry,
			  struct vmmu_exit_result *res)
{
	struct vmmu_vm *vm = vcpu->vm;
	uint8_t need = need_prot(exit->access);
	int rc;

	if ((entry & need) == need) {
		res->action = VMMU_ACT_RETRY;   /* already fixed: stale */
		return VMMU_OK;
	}
	if (exit->access == VMMU_ACCESS_WRITE &&
	    pi->type == VMMU_P2M_RAM_LOGDIRTY) {
		rc = ept_log_write(vm, exit->gpa);
		if (rc < 0)
			return rc;
		ept_of(vm)->stats.logdirty_faults++;
		res->action = VMMU_ACT_RETRY;
		return VMMU_OK;
	}
	if (exit->access == VMMU_ACCESS_WRITE &&
	    pi->type == VMMU_P2M_RAM_RW) {
		/*
		 * The p2m changed after the walk (log-dirty stopped on another
		 * thread): the recalculation marker now on the path makes the
		 * retry a misconfiguration that rebuilds the leaf.
		 */
		res->action = VMMU_ACT_RETRY;
		return VMMU_OK;
	}
	to_vmm(res, exit->access == VMMU_ACCESS_WRITE &&
		    pi->type == VMMU_P2M_ROM ? VMMU_REASON_ROM_WRITE
					     : VMMU_REASON_UNHANDLED);
	return VMMU_OK;
}

static int ept_violation(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
			 const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	struct vmmu_vm *vm = vcpu->vm;
	struct vmmu_p2m_info pi;
	uint64_t entry;
	unsigned level;
	int rc;

	ept_of(vm)->stats.violations++;
	rc = vmmu_p2m_lookup(vm, exit->gpa, &pi);
	if (rc == VMMU_ENOENT) {
		to_vmm(res, VMMU_REASON_UNMAPPED);
		return VMMU_OK;
	}
	if (rc < 0)
		return rc;
	if (pi.type == VMMU_P2M_MMIO)
		return vmmu_exit_mmio(vcpu, exit, op, res);
	rc = vmmu_pt_lookup(&ept_of(vm)->pt, exit->gpa.v, &entry, &level);
	if (rc == VMMU_ENOENT && pi.slot) {
		rc = ept_map_touch(vm, exit->gpa);  /* first touch */
		if (rc < 0)
			return rc;
		res->action = VMMU_ACT_RETRY;
		return VMMU_OK;
	}
	if (rc < 0 || !pi.slot) {
		/* a grant or foreign page the access is not allowed on */
		if (rc == 0 && (entry & need_prot(exit->access)))
			res->action = VMMU_ACT_RETRY;
		else
			to_vmm(res, VMMU_REASON_UNHANDLED);
		return VMMU_OK;
	}
	return ept_protection(vcpu, exit, &pi, entry, res);
}

/*
 * Whether gpa's path through the tables as they are now is an EPT
 * misconfiguration (SDM 29.3.3.1), read as the CPU reads it. False after
 * another vCPU's exit resolved the marker this exit met.
 */
static bool path_misconfigured(struct vmmu_vm *vm, gpa_t gpa)
{
	const struct ept_vm *e = ept_of(vm);
	hpa_t table = e->pt.root;
	unsigned level;

	for (level = e->pt.levels; level >= 1; level--) {
		const uint64_t *t = vm->platform.map(vm->platform.ctx, table);
		uint64_t ent;

		if (!t)
			return true;
		ent = __atomic_load_n(&t[vmmu_pt_index(gpa.v, level)],
				      __ATOMIC_ACQUIRE);
		if (!(ent & EPT_RWX))
			return false;
		if (ept_misconfigured(&e->caps, ent, level))
			return true;
		if (level == 1 || (ent & EPT_PS))
			return false;
		table = mk_hpa(ent & EPT_ADDR_MASK);
	}
	return false;
}

/* A misconfiguration: a recalculation marker on the path, or a real one. */
static int ept_misconfig(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
			 struct vmmu_exit_result *res)
{
	struct vmmu_vm *vm = vcpu->vm;
	struct ept_vm *e = ept_of(vm);
	struct vmmu_pt_change chg = { 0 };
	uint64_t before = e->pt.stats.recalc_tables;
	int rc;

	e->stats.misconfigs++;
	rc = vmmu_pt_recalc(&e->pt, exit->gpa.v, ept_recalc_leaf, vm, &chg);
	ept_flush(vm, &chg);
	if (rc < 0)
		return rc;
	if (e->pt.stats.recalc_tables == before &&
	    !path_misconfigured(vm, exit->gpa)) {
		res->action = VMMU_ACT_RETRY;   /* resolved meanwhile: stale */
		return VMMU_OK;
	}
	if (e->pt.stats.recalc_tables == before) {
		e->stats.real_misconfigs++;
		to_vmm(res, VMMU_REASON_UNHANDLED);
		return VMMU_OK;
	}
	e->stats.recalcs++;
	ept_merge_around(vm, exit->gpa);
	res->action = VMMU_ACT_RETRY;
	return VMMU_OK;
}

int ept_handle_exit(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		    const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	int rc;

	switch (exit->kind) {
	case VMMU_EXIT_EPT_VIOLATION:
		return ept_violation(vcpu, exit, op, res);
	case VMMU_EXIT_EPT_MISCONFIG:
		return ept_misconfig(vcpu, exit, res);
	case VMMU_EXIT_PML_FULL:
		ept_of(vcpu->vm)->stats.pml_full++;
		/* the D bits it clears need no INVEPT (ept_dirty.c) */
		ept_of(vcpu->vm)->in_hook = true;
		rc = ept_pml_drain(vcpu, true);
		ept_of(vcpu->vm)->in_hook = false;
		if (rc < 0)
			return rc;
		res->action = VMMU_ACT_RETRY;
		return VMMU_OK;
	default:
		return VMMU_EINVAL;
	}
}

/* Table 28-7: the access from bits 2:0, the linear address from 7 and 8. */
int vmmu_ept_handle_vmexit(struct vmmu_vcpu *vcpu, uint32_t exit_reason,
			   uint64_t qualification, uint64_t gpa, uint64_t gla,
			   struct vmmu_exit_result *res)
{
	struct vmmu_exit ex = { .gpa = mk_gpa(gpa), .qualification = qualification };
	int rc;

	if (!vcpu || !res || vcpu->vm->ops != &vmmu_backend_ept)
		return VMMU_EINVAL;
	if (vcpu->vm->dead)
		return VMMU_EDEAD;
	if (exit_reason == VMMU_VMX_EXIT_EPT_VIOLATION)
		ex.kind = VMMU_EXIT_EPT_VIOLATION;
	else if (exit_reason == VMMU_VMX_EXIT_EPT_MISCONFIG)
		ex.kind = VMMU_EXIT_EPT_MISCONFIG;
	else if (exit_reason == VMMU_VMX_EXIT_PML_FULL)
		ex.kind = VMMU_EXIT_PML_FULL;
	else
		return VMMU_EINVAL;
	ex.access = qualification & 2 ? VMMU_ACCESS_WRITE :
		    qualification & 4 ? VMMU_ACCESS_FETCH : VMMU_ACCESS_READ;
	ex.gva_valid = (qualification >> 7) & 1;
	ex.gva = mk_gva(ex.gva_valid ? gla : 0);
	ex.guest_pt = ex.gva_valid && !((qualification >> 8) & 1);
	res->action = VMMU_ACT_RETRY;
	res->reason = VMMU_REASON_NONE;
	vmmu_vm_lock(vcpu->vm);
	rc = ept_handle_exit(vcpu, &ex, NULL, res);
	vmmu_vm_unlock(vcpu->vm);
	return rc;
}
