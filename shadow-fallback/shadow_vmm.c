/* SPDX-License-Identifier: MIT */
/*
 * The shadow backend as a VMM running the guest on a real CPU uses it
 * (shadow.h): the root the CPU's CR3 must hold while the guest runs, and
 * the handler of a #PF the VMM intercepted (VMX exception bitmap bit 14,
 * SDM Vol. 3C 25.6.3; SVM exception intercept 14, APM Vol. 2 15.12),
 * given the error code and CR2 the CPU reported. MOV to CR3 and INVLPG
 * need nothing of their own: vmmu_vcpu_set_cr and vmmu_vcpu_invlpg run
 * the backend's hooks, and the VMM then reloads the root.
 */
#include <string.h>

#include "shadow_int.h"

#define PF_W  (1U << 1)         /* SDM Vol. 3A 4.7: write access */
#define PF_US (1U << 2)         /* user-mode access */
#define PF_ID (1U << 4)         /* instruction fetch */

int vmmu_shadow_root(struct vmmu_vcpu *vcpu, hpa_t *root)
{
	struct sh_vcpu *sc;
	struct sh_vm *sv;
	int rc = VMMU_OK;

	if (!vcpu || !root || vcpu->vm->ops != &vmmu_backend_shadow)
		return VMMU_EINVAL;
	sv = sh_vm_of(vcpu->vm);
	sc = vcpu->backend_state;
	vmmu_vm_lock(vcpu->vm);
	sh_hook_enter(sv);
	if (sh_vcpu_stale(vcpu) || sc->root == SH_NIL)
		rc = sh_sync_vcpu(vcpu);
	if (rc == VMMU_OK)
		*root = sc->root_hpa;
	sh_hook_leave(sv);
	vmmu_vm_unlock(vcpu->vm);
	return rc;
}

int vmmu_shadow_handle_pf(struct vmmu_vcpu *vcpu, gva_t cr2,
			  uint32_t error_code, struct vmmu_exit_result *res)
{
	struct vmmu_exit ex;
	struct vmmu_op op;
	int rc;

	if (!vcpu || !res || vcpu->vm->ops != &vmmu_backend_shadow)
		return VMMU_EINVAL;
	if (vcpu->vm->dead)
		return VMMU_EDEAD;
	memset(res, 0, sizeof(*res));
	memset(&op, 0, sizeof(op));
	op.acc.gva = cr2;
	op.acc.kind = error_code & PF_ID ? VMMU_ACCESS_FETCH :
		      error_code & PF_W ? VMMU_ACCESS_WRITE : VMMU_ACCESS_READ;
	op.acc.cpl = error_code & PF_US ? 3 : 0;
	op.size = 1;                    /* op.data NULL: the CPU has the data */
	memset(&ex, 0, sizeof(ex));
	ex.kind = VMMU_EXIT_SHADOW_PF;
	ex.access = op.acc.kind;
	ex.gva = cr2;
	ex.gva_valid = true;
	ex.error_code = error_code;
	vmmu_vm_lock(vcpu->vm);
	vcpu->vm->handler_vcpu = vcpu;
	rc = sh_handle_exit(vcpu, &ex, &op, res);
	vcpu->vm->handler_vcpu = NULL;
	vmmu_vm_unlock(vcpu->vm);
	/* Without the data the backend performed nothing (a page-table write
	 * it would emulate, a supervisor write under CR0.WP = 0): the VMM
	 * must carry the instruction out itself. */
	if (rc == VMMU_OK && res->action == VMMU_ACT_DONE) {
		res->action = VMMU_ACT_TO_VMM;
		res->reason = VMMU_REASON_UNHANDLED;
	}
	return rc;
}
