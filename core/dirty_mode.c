/* SPDX-License-Identifier: MIT */
/*
 * The log-dirty variant of a VM (vmmu_dirty_set_mode, include/vmmu/
 * dirty.h): chosen while the log is off, for the backend the VM has then
 * (vm->dirty_mode_ops), through its dirty_log_mode hook; a backend
 * without one has write protection at 4 KiB only. Freestanding.
 */
#include "vmmu/dirty.h"
#include "vmmu/error.h"
#include "backend.h"
#include "dirty_internal.h"

#define SC memory_order_seq_cst

/* Ask the backend for mode (AUTO: the best it has); VM lock held. */
static int mode_select(struct vmmu_vm *vm, unsigned mode, unsigned flags)
{
	static const uint8_t order[] = {
		VMMU_DIRTY_PML, VMMU_DIRTY_AD_BITS, VMMU_DIRTY_WRITE_PROTECT,
	};
	unsigned i;
	int rc = VMMU_ENOTSUP;

	if (mode > VMMU_DIRTY_AUTO || (flags & ~VMMU_DIRTY_LOG_2M))
		return VMMU_EINVAL;
	for (i = 0; i < sizeof(order); i++) {
		if (mode != VMMU_DIRTY_AUTO && mode != order[i])
			continue;
		if (vm->ops && vm->ops->dirty_log_mode)
			rc = vm->ops->dirty_log_mode(vm,
					(enum vmmu_dirty_log)order[i], flags);
		else
			rc = order[i] == VMMU_DIRTY_WRITE_PROTECT && !flags ?
			     VMMU_OK : VMMU_ENOTSUP;
		if (rc != VMMU_ENOTSUP)
			break;
	}
	if (rc < 0)
		return rc;
	vm->dirty_mode_ops = vm->ops;
	vm->dirty_mode_req = (uint8_t)mode;
	vm->dirty_mode = order[i];
	vm->dirty_flags = (uint8_t)flags;
	return VMMU_OK;
}

/* The choice for the current backend, made now if it was not (lock held). */
int vmmu_dirty_mode_current(struct vmmu_vm *vm)
{
	if (vm->dirty_mode_ops == vm->ops)
		return mode_select(vm, vm->dirty_mode_req, vm->dirty_flags);
	return mode_select(vm, VMMU_DIRTY_AUTO, 0);
}

/* mode/flags while the log is off (VMMU_EBUSY otherwise); lock held. */
static int mode_change(struct vmmu_vm *vm, unsigned mode, unsigned flags)
{
	if (atomic_load_explicit(&vm->dirty_log, SC) ||
	    atomic_load_explicit(&vm->dirty_stopping, SC))
		return VMMU_EBUSY;
	return mode_select(vm, mode, flags);
}

int vmmu_dirty_set_mode(struct vmmu_vm *vm, enum vmmu_dirty_log mode)
{
	int rc;

	if (!vm)
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	rc = mode_change(vm, (unsigned)mode, vm->dirty_mode_ops == vm->ops ?
					     vm->dirty_flags : 0);
	vmmu_vm_unlock(vm);
	return rc;
}

int vmmu_dirty_set_flags(struct vmmu_vm *vm, unsigned flags)
{
	int rc;

	if (!vm)
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	rc = mode_change(vm, vm->dirty_mode_ops == vm->ops ?
			     vm->dirty_mode_req : VMMU_DIRTY_AUTO, flags);
	vmmu_vm_unlock(vm);
	return rc;
}

enum vmmu_dirty_log vmmu_dirty_mode(struct vmmu_vm *vm)
{
	enum vmmu_dirty_log m = VMMU_DIRTY_WRITE_PROTECT;

	if (!vm)
		return m;
	vmmu_vm_lock(vm);
	if (vm->dirty_mode_ops == vm->ops || vmmu_dirty_mode_current(vm) == VMMU_OK)
		m = (enum vmmu_dirty_log)vm->dirty_mode;
	vmmu_vm_unlock(vm);
	return m;
}

unsigned vmmu_dirty_flags(struct vmmu_vm *vm)
{
	return vm && vm->dirty_mode_ops == vm->ops ? vm->dirty_flags : 0;
}
