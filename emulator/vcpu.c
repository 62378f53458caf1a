/* SPDX-License-Identifier: MIT */
/*
 * The shared emulator bound to a vCPU (include/vmmu/emulate_vcpu.h): the
 * memory callbacks translate linear addresses with the guest walker over
 * guest-physical memory, as the hypervisor side does, and reach RAM, ROM
 * and MMIO through the VM.
 */
#include <string.h>

#include "vmmu/emulate_vcpu.h"
#include "vmmu/error.h"

/* Guest-physical address of la for an access of kind, or the #PF. */
static int ev_translate(struct vmmu_emu_vcpu *ev, uint64_t la,
			enum vmmu_access_kind kind, gpa_t *gpa,
			struct vmmu_emu_exception *exc)
{
	struct vmmu_access acc = { mk_gva(la), kind, ev->cpl, false };
	struct vmmu_walk_result r;
	struct vmmu_gmem mem;
	int rc;

	vmmu_vm_gmem(ev->vcpu->vm, &mem);
	rc = vmmu_walk(&ev->vcpu->paging, &mem, &acc, &r);
	if (rc < 0)
		return rc;
	if (!r.ok) {
		memset(exc, 0, sizeof(*exc));
		exc->vector = r.vector;
		exc->has_error_code = true;
		exc->error_code = r.error_code;
		exc->cr2 = r.cr2.v;
		return VMMU_EFAULT;
	}
	*gpa = r.gpa;
	return VMMU_OK;
}

/* One access that does not cross a page: RAM/ROM, or the device model. */
static int ev_access(struct vmmu_emu_vcpu *ev, uint64_t la, void *buf,
		     unsigned len, enum vmmu_access_kind kind,
		     struct vmmu_emu_exception *exc)
{
	struct vmmu_vm *vm = ev->vcpu->vm;
	const struct vmmu_slot *slot;
	gpa_t gpa;
	int rc = ev_translate(ev, la, kind, &gpa, exc);

	if (rc < 0)
		return rc;
	slot = vmmu_vm_find_slot(vm, gpa);
	if (!slot)
		return VMMU_ENOENT;
	if (slot->type == VMMU_MEM_MMIO) {
		if (!vm->mmio || kind == VMMU_ACCESS_FETCH)
			return VMMU_EUNHANDLED;
		return vm->mmio(vm->mmio_ctx, gpa, kind == VMMU_ACCESS_WRITE,
				buf, len);
	}
	if (kind != VMMU_ACCESS_WRITE)
		return vmmu_vm_read_gpa(vm, gpa, buf, len);
	if (slot->type == VMMU_MEM_ROM)
		return VMMU_OK;         /* a store to ROM changes nothing */
	return vmmu_vm_write_gpa(vm, gpa, buf, len);
}

/* Split an access at page boundaries (the emulator may cross one). */
static int ev_split(struct vmmu_emu_vcpu *ev, uint64_t la, uint8_t *buf,
		    unsigned len, enum vmmu_access_kind kind,
		    struct vmmu_emu_exception *exc)
{
	while (len) {
		unsigned chunk = (unsigned)(VMMU_PAGE_SIZE - (la & ~VMMU_PAGE_MASK));
		int rc;

		if (chunk > len)
			chunk = len;
		rc = ev_access(ev, la, buf, chunk, kind, exc);
		if (rc < 0)
			return rc;
		la += chunk;
		buf += chunk;
		len -= chunk;
	}
	return VMMU_OK;
}

static int ev_fetch(void *opaque, uint64_t la, void *buf, unsigned len,
		    struct vmmu_emu_exception *exc)
{
	return ev_split(opaque, la, buf, len, VMMU_ACCESS_FETCH, exc);
}

static int ev_read(void *opaque, uint64_t la, void *buf, unsigned len,
		   struct vmmu_emu_exception *exc)
{
	return ev_split(opaque, la, buf, len, VMMU_ACCESS_READ, exc);
}

static int ev_write(void *opaque, uint64_t la, const void *buf, unsigned len,
		    struct vmmu_emu_exception *exc)
{
	gpa_t gpa;
	int rc;

	/* A store that faults on its second page must change nothing. */
	if ((la & ~VMMU_PAGE_MASK) + len > VMMU_PAGE_SIZE) {
		rc = ev_translate(opaque, la + len - 1, VMMU_ACCESS_WRITE, &gpa,
				  exc);
		if (rc < 0)
			return rc;
	}
	/* ev_access only reads buf for a write. */
	return ev_split(opaque, la, (uint8_t *)(uintptr_t)buf, len,
			VMMU_ACCESS_WRITE, exc);
}

/* LOCKed operations: atomic on the host page (RAM only). */
static int ev_cmpxchg(void *opaque, uint64_t la, void *old, const void *nv,
		      unsigned len, struct vmmu_emu_exception *exc)
{
	struct vmmu_emu_vcpu *ev = opaque;
	struct vmmu_vm *vm = ev->vcpu->vm;
	struct vmmu_ram_page rp;
	const struct vmmu_slot *slot;
	gpa_t gpa;
	void *host;
	int rc;

	if ((la & ~VMMU_PAGE_MASK) + len > VMMU_PAGE_SIZE)
		return VMMU_EUNHANDLED;     /* a split lock */
	rc = ev_translate(ev, la, VMMU_ACCESS_WRITE, &gpa, exc);
	if (rc < 0)
		return rc;
	slot = vmmu_vm_find_slot(vm, gpa);
	if (!slot || slot->type != VMMU_MEM_RAM)
		return VMMU_EUNHANDLED;
	rc = vmmu_vm_ram_lookup(vm, gpa, true, &rp);
	if (rc < 0)
		return rc;
	host = vm->platform.map(vm->platform.ctx, rp.hpa);
	if (!host)
		return VMMU_EFAULT;
	rc = vmmu_emu_host_cmpxchg(host, old, nv, len);
	if (rc == VMMU_OK)
		vmmu_vm_written(vm, gpa, len);
	return rc;
}

static const struct vmmu_emu_ops ev_ops = {
	ev_fetch, ev_read, ev_write, ev_cmpxchg,
};

static void ev_inject(const struct vmmu_emu_exception *exc,
		      struct vmmu_exit_result *res)
{
	res->action = VMMU_ACT_INJECT;
	memset(&res->fault, 0, sizeof(res->fault));
	res->fault.vector = exc->vector;
	res->fault.error_code = exc->has_error_code ? exc->error_code : 0;
	res->fault.cr2 = mk_gva(exc->cr2);
}

static int ev_emulate(void *ctx, struct vmmu_vcpu *vcpu,
		      const struct vmmu_exit *exit, const struct vmmu_op *op,
		      struct vmmu_exit_result *res)
{
	struct vmmu_emu_vcpu *ev = ctx;
	int rc;

	(void)exit;
	(void)vcpu;
	ev->cpl = op->acc.cpl;
	rc = vmmu_emulate(ev->emu, ev->mode, &ev->regs, &ev_ops, ev, &ev->last);
	if (rc == VMMU_EUNHANDLED || rc == VMMU_ENOENT) {
		/* An operand in MMIO without a device model, or in a hole. */
		res->action = VMMU_ACT_TO_VMM;
		res->reason = VMMU_REASON_UNHANDLED;
		return VMMU_OK;
	}
	if (rc < 0)
		return rc;
	switch (ev->last.status) {
	case VMMU_EMU_DONE:
		ev->instructions++;
		res->action = VMMU_ACT_DONE;
		return VMMU_OK;
	case VMMU_EMU_EXCEPTION:
		ev_inject(&ev->last.exc, res);
		return VMMU_OK;
	case VMMU_EMU_RETRY:
		res->action = VMMU_ACT_RETRY;
		return VMMU_OK;
	case VMMU_EMU_UNHANDLEABLE:
		break;
	}
	res->action = VMMU_ACT_TO_VMM;
	res->reason = VMMU_REASON_UNHANDLED;
	return VMMU_OK;
}

void vmmu_emu_vcpu_install(struct vmmu_vcpu *vcpu, struct vmmu_emu_vcpu *ev)
{
	ev->vcpu = vcpu;
	vmmu_vcpu_set_emulator(vcpu, ev_emulate, ev);
}
