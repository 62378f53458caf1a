/* SPDX-License-Identifier: MIT */
/*
 * The backend interface that EPT, NPT and shadow paging implement.
 * Each callback does one thing; all return 0 or a negative vmmu_err.
 * A backend keeps its state in vm->backend_state and vcpu->backend_state
 * and never in globals.
 */
#ifndef VMMU_CORE_BACKEND_H
#define VMMU_CORE_BACKEND_H

#include "vmmu/vm.h"

/* Permissions of a guest-physical mapping. */
#define VMMU_PROT_R (1U << 0)
#define VMMU_PROT_W (1U << 1)
#define VMMU_PROT_X (1U << 2)

/* Why a translation left the guest: what the hypervisor side sees. */
enum vmmu_exit_kind {
	VMMU_EXIT_NONE = 0,
	VMMU_EXIT_EPT_VIOLATION,
	VMMU_EXIT_EPT_MISCONFIG,
	VMMU_EXIT_NPF,
	VMMU_EXIT_SHADOW_PF,
	VMMU_EXIT_MMIO,
};

struct vmmu_exit {
	enum vmmu_exit_kind kind;
	gpa_t gpa;
	gva_t gva;
	uint64_t qualification;     /* EPT exit qualification / EXITINFO1 */
};

struct vmmu_backend_ops {
	const char *name;
	int (*vm_init)(struct vmmu_vm *vm);
	void (*vm_destroy)(struct vmmu_vm *vm);
	int (*vcpu_init)(struct vmmu_vcpu *vcpu);
	void (*vcpu_destroy)(struct vmmu_vcpu *vcpu);
	/* A slot appeared or disappeared in the guest-physical map. */
	int (*slot_added)(struct vmmu_vm *vm, const struct vmmu_slot *slot);
	int (*slot_removed)(struct vmmu_vm *vm, const struct vmmu_slot *slot);
	/*
	 * Translate one guest access as the hardware would: on success fill
	 * *hpa; on a guest fault fill *walk with the fault; on an exit fill
	 * *exit and return VMMU_OK with exit->kind != VMMU_EXIT_NONE.
	 */
	int (*translate)(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
			 hpa_t *hpa, struct vmmu_walk_result *walk,
			 struct vmmu_exit *exit);
	/* Handle an exit on the hypervisor side (fill, emulate, log dirty). */
	int (*handle_exit)(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit);
	/* Log-dirty tracking for live migration. */
	int (*log_dirty_start)(struct vmmu_vm *vm);
	int (*log_dirty_stop)(struct vmmu_vm *vm);
};

#endif
