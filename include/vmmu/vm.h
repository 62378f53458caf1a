/* SPDX-License-Identifier: MIT */
/*
 * VMs, vCPUs and the guest-physical memory map.
 *
 * A VM owns everything about itself: its backend, its memory slots, its
 * settings. There are no process-wide settings, so an EPT VM and a shadow
 * VM can run side by side in one process.
 */
#ifndef VMMU_VM_H
#define VMMU_VM_H

#include "vmmu/types.h"
#include "vmmu/platform.h"
#include "vmmu/walk.h"

#define VMMU_MAX_SLOTS 64
#define VMMU_MAX_VCPUS 64

enum vmmu_backend_kind {
	VMMU_BACKEND_NONE = 0,  /* no second-level translation (core only) */
	VMMU_BACKEND_EPT,
	VMMU_BACKEND_NPT,
	VMMU_BACKEND_SHADOW,
};

enum vmmu_mem_type {
	VMMU_MEM_RAM,   /* read/write/execute, host-backed */
	VMMU_MEM_ROM,   /* read/execute, host-backed; writes exit */
	VMMU_MEM_MMIO,  /* not backed; every access exits to a device model */
};

/* A contiguous guest-physical range of one type. */
struct vmmu_slot {
	gpa_t base;
	uint64_t size;          /* multiple of 4 KiB */
	enum vmmu_mem_type type;
	hpa_t *pages;           /* RAM/ROM: host page per 4 KiB; NULL for MMIO */
};

/* Per-vCPU counters. */
struct vmmu_vcpu_stats {
	uint64_t accesses;
	uint64_t tlb_hits;
	uint64_t tlb_misses;
	uint64_t guest_walk_refs;   /* guest page-table references */
	uint64_t nested_walk_refs;  /* EPT/NPT references (2-D walks) */
	uint64_t guest_faults;      /* #PF/#GP delivered to the guest */
	uint64_t exits;             /* VM exits of any kind */
};

struct vmmu_vm;

struct vmmu_vcpu {
	struct vmmu_vm *vm;
	unsigned id;
	struct vmmu_paging_state paging;
	struct vmmu_vcpu_stats stats;
	void *backend_state;        /* owned by the VM's backend */
};

struct vmmu_backend_ops;

struct vmmu_vm {
	struct vmmu_platform platform;
	enum vmmu_backend_kind backend;
	const struct vmmu_backend_ops *ops;
	void *backend_state;
	struct vmmu_slot slots[VMMU_MAX_SLOTS];
	unsigned nslots;            /* sorted by base, non-overlapping */
	struct vmmu_vcpu *vcpus[VMMU_MAX_VCPUS];
	unsigned nvcpus;
	uint8_t guest_maxphyaddr;
	bool dead;                  /* set on an internal invariant violation */
	const char *dead_reason;
};

/* Create a VM with no backend attached; *out is owned by the caller. */
int vmmu_vm_create(const struct vmmu_platform *platform,
		   struct vmmu_vm **out);
void vmmu_vm_destroy(struct vmmu_vm *vm);

/* Attach a backend (see core/backend.h) before adding vCPUs. */
int vmmu_vm_set_backend(struct vmmu_vm *vm, enum vmmu_backend_kind kind,
			const struct vmmu_backend_ops *ops);

int vmmu_vm_add_slot(struct vmmu_vm *vm, gpa_t base, uint64_t size,
		     enum vmmu_mem_type type);
int vmmu_vm_remove_slot(struct vmmu_vm *vm, gpa_t base);
/* The slot containing gpa, or NULL. */
const struct vmmu_slot *vmmu_vm_find_slot(const struct vmmu_vm *vm,
					  gpa_t gpa);
/* Host page backing gpa: 0, VMMU_ENOENT (unmapped) or VMMU_EFAULT (MMIO). */
int vmmu_vm_gpa_to_hpa(const struct vmmu_vm *vm, gpa_t gpa, hpa_t *out);

/* Copy to/from guest-physical RAM/ROM (may cross pages and slots). */
int vmmu_vm_read_gpa(const struct vmmu_vm *vm, gpa_t gpa, void *buf,
		     size_t len);
int vmmu_vm_write_gpa(struct vmmu_vm *vm, gpa_t gpa, const void *buf,
		      size_t len);
/* A struct vmmu_gmem over the VM's RAM/ROM, for the guest walker. */
void vmmu_vm_gmem(struct vmmu_vm *vm, struct vmmu_gmem *out);

int vmmu_vcpu_create(struct vmmu_vm *vm, struct vmmu_vcpu **out);

/* Mark the VM dead (internal invariant violated); returns VMMU_EDEAD. */
int vmmu_vm_kill(struct vmmu_vm *vm, const char *reason);

#endif
