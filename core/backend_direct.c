/* SPDX-License-Identifier: MIT */
/*
 * The direct backend (include/vmmu/backend.h): no second level. The
 * hardware side is the guest walk alone, over the VM's memory map; a
 * guest-physical address without a host page exits (VMMU_EXIT_UNBACKED),
 * and the hypervisor side backs RAM on first touch, gives MMIO to the
 * device callback and everything else to the VMM.
 *
 * Log-dirty (vmmu/dirty.h): while the VM's log is on, the hardware side
 * grants no write to a logged RAM page whose bit is clear (a read gets a
 * translation without W; a write exits as VMMU_EXIT_UNBACKED on a backed
 * page), and maps logged pages at 4 KiB only; the handler marks the bit
 * and retries. The bitmap itself is the write protection: a clean that
 * resets a bit re-arms the page, and the core's TLB flush after the
 * clean drops the writable translations. No hook is needed.
 */
#include <string.h>

#include "vmmu/access.h"
#include "vmmu/dirty.h"
#include "vmmu/error.h"

static void exit_unbacked(struct vmmu_hw_walk *out, const struct vmmu_access *acc,
			  gpa_t gpa, bool guest_pt)
{
	out->status = VMMU_HW_EXIT;
	out->exit.kind = VMMU_EXIT_UNBACKED;
	out->exit.access = guest_pt ? VMMU_ACCESS_WRITE : acc->kind;
	out->exit.gpa = gpa;
	out->exit.gva = acc->gva;
	out->exit.gva_valid = true;
	out->exit.guest_pt = guest_pt;
}

static int direct_hw_walk(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
			  struct vmmu_hw_walk *out)
{
	struct vmmu_gmem_probe m;
	const struct vmmu_slot *slot;
	struct vmmu_ram_page rp;
	uint64_t block;
	bool logged_write_ok = true;
	int rc;

	vmmu_vm_gmem_probe(vcpu->vm, &m);
	rc = vmmu_vcpu_guest_walk(vcpu, &m.mem, acc, &out->guest);
	out->guest_refs = out->guest.levels;
	if (out->guest.mode == VMMU_PAGING_PAE && out->guest.first_level == 3 &&
	    out->guest_refs)
		out->guest_refs--;  /* the PDPTE came from a register */
	if (rc < 0 && m.failed_rc) {
		/* A guest page-table access hit MMIO or a hole. */
		exit_unbacked(out, acc, m.failed, true);
		return VMMU_OK;
	}
	if (rc < 0)
		return rc;
	if (!out->guest.ok) {
		out->status = VMMU_HW_FAULT;
		return VMMU_OK;
	}
	slot = vmmu_vm_find_slot(vcpu->vm, out->guest.gpa);
	rc = vmmu_vm_ram_lookup(vcpu->vm, out->guest.gpa, false, &rp);
	if (rc < 0 || (slot && slot->type == VMMU_MEM_ROM &&
		       acc->kind == VMMU_ACCESS_WRITE)) {
		exit_unbacked(out, acc, out->guest.gpa, false);
		return VMMU_OK;
	}
	block = VMMU_PAGE_SIZE << rp.order;
	if (slot->type == VMMU_MEM_RAM &&
	    atomic_load_explicit(&vcpu->vm->dirty_log, memory_order_relaxed)) {
		/* Logged: 4 KiB translations, W only with the bit set. */
		logged_write_ok = vmmu_dirty_write_ok(vcpu->vm,
			out->guest.gpa.v >> VMMU_PAGE_SHIFT);
		if (!logged_write_ok && acc->kind == VMMU_ACCESS_WRITE) {
			exit_unbacked(out, acc, out->guest.gpa, false);
			return VMMU_OK;
		}
		block = VMMU_PAGE_SIZE;
	}
	out->status = VMMU_HW_OK;
	out->hpa = rp.hpa;
	out->gpa = out->guest.gpa;
	out->page_size = out->guest.page_size < block ? out->guest.page_size
						      : block;
	out->rights = out->guest.rights;
	out->nested = slot->type == VMMU_MEM_ROM || !logged_write_ok ?
		      VMMU_PROT_R | VMMU_PROT_X : VMMU_PROT_RWX;
	out->pkey = out->guest.pkey;
	out->global = out->guest.global;
	out->dirty = out->guest.dirty;
	return VMMU_OK;
}

static void direct_to_vmm(struct vmmu_exit_result *res,
			  enum vmmu_vmm_reason reason)
{
	res->action = VMMU_ACT_TO_VMM;
	res->reason = reason;
}

int vmmu_exit_mmio(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		   const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	struct vmmu_vm *vm = vcpu->vm;
	int rc;

	if (exit->guest_pt || !vm->mmio || !op || !op->data) {
		direct_to_vmm(res, exit->guest_pt ? VMMU_REASON_UNHANDLED
						  : VMMU_REASON_MMIO);
		return VMMU_OK;
	}
	rc = vm->mmio(vm->mmio_ctx, exit->gpa,
		      op->acc.kind == VMMU_ACCESS_WRITE, op->data, op->size);
	if (rc < 0)
		return rc;
	res->action = VMMU_ACT_DONE;
	return VMMU_OK;
}

static int direct_handle_exit(struct vmmu_vcpu *vcpu,
			      const struct vmmu_exit *exit,
			      const struct vmmu_op *op,
			      struct vmmu_exit_result *res)
{
	const struct vmmu_slot *slot = vmmu_vm_find_slot(vcpu->vm, exit->gpa);
	struct vmmu_ram_page rp;
	int rc;

	if (exit->kind != VMMU_EXIT_UNBACKED)
		return VMMU_EINVAL;
	if (!slot) {
		direct_to_vmm(res, VMMU_REASON_UNMAPPED);
		return VMMU_OK;
	}
	if (slot->type == VMMU_MEM_MMIO)
		return vmmu_exit_mmio(vcpu, exit, op, res);
	if (slot->type == VMMU_MEM_ROM && exit->access == VMMU_ACCESS_WRITE) {
		direct_to_vmm(res, VMMU_REASON_ROM_WRITE);
		return VMMU_OK;
	}
	/*
	 * First touch of RAM: back it, and let the access retry. A write to
	 * a logged page is logged before the retry grants it.
	 */
	rc = vmmu_vm_ram_lookup(vcpu->vm, exit->gpa, true, &rp);
	if (rc < 0)
		return rc;
	if (exit->access == VMMU_ACCESS_WRITE && slot->type == VMMU_MEM_RAM)
		vmmu_dirty_mark(vcpu->vm, exit->gpa.v >> VMMU_PAGE_SHIFT, 1);
	res->action = VMMU_ACT_RETRY;
	return VMMU_OK;
}

const struct vmmu_backend_ops vmmu_backend_direct = {
	.name = "direct",
	.hw_walk = direct_hw_walk,
	.handle_exit = direct_handle_exit,
};
