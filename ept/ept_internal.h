/* SPDX-License-Identifier: MIT */
/*
 * State shared by the EPT backend's files. The hardware side (ept_hw.c)
 * reads only eptp, caps and the vCPU's PML fields: what a CPU has in its
 * VMCS and capability MSRs; the rest is the hypervisor side's.
 */
#ifndef VMMU_EPT_INTERNAL_H
#define VMMU_EPT_INTERNAL_H

#include "vmmu/ept.h"
#include "vmmu/p2m.h"
#include "ept_format.h"

/* PML (SDM Vol. 3C 29.3.6): 512 eight-byte entries, index counts down. */
#define EPT_PML_ENTRIES 512

struct ept_vm {
	struct vmmu_pt pt;
	struct ept_format_ctx fctx;
	struct vmmu_ept_caps caps;
	uint64_t eptp;
	uint8_t ctx_id;             /* TLB context id of this EPTP */
	enum vmmu_dirty_log dirty_mode;     /* log-dirty variant (ept_dirty.c) */
	bool log_2m;                /* VMMU_DIRTY_LOG_2M */
	bool dirty_on;
	bool in_hook;               /* a dirty_log_* hook: no TLB model touched */
	vmmu_ept_invept_fn invept;  /* the VMM's INVEPT, or NULL */
	void *invept_ctx;
	struct vmmu_ept_stats stats;
};

/* The VMCS fields of one vCPU that the hardware side reads and writes. */
struct ept_vcpu {
	bool pml_enabled;           /* "enable PML" VM-execution control */
	hpa_t pml_page;             /* PML address */
	uint16_t pml_index;         /* PML index (atomic: drained remotely) */
	uint16_t pml_next;          /* entries below this not drained yet */
};

static inline struct ept_vm *ept_of(const struct vmmu_vm *vm)
{
	return vm->backend_state;
}

/* ept_hw.c: the hardware side. */
extern const struct vmmu_nested_ops ept_nested_ops;
int ept_hw_walk(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		struct vmmu_hw_walk *out);
/* SDM 29.3.3.1: whether entry e at level is an EPT misconfiguration. */
bool ept_misconfigured(const struct vmmu_ept_caps *caps, uint64_t e,
		       unsigned level);

/* ept_backend.c: tables and invalidation. */
void ept_flush(struct vmmu_vm *vm, const struct vmmu_pt_change *chg);
int ept_leaf_attrs(const struct vmmu_vm *vm, gpa_t gpa,
		   enum vmmu_p2m_type type, uint64_t *attrs);
int ept_recalc_leaf(void *ctx, uint64_t addr, unsigned level, uint64_t old,
		    uint64_t *out);
int ept_map_touch(struct vmmu_vm *vm, gpa_t gpa);
int ept_make_writable(struct vmmu_vm *vm, gpa_t gpa, uint64_t size);
void ept_merge_around(struct vmmu_vm *vm, gpa_t gpa);

/* ept_exit.c: the exit handler. */
int ept_handle_exit(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		    const struct vmmu_op *op, struct vmmu_exit_result *res);

/* ept_dirty.c: log-dirty into the VM's dirty log (the backend hooks). */
int ept_dirty_mode(struct vmmu_vm *vm, enum vmmu_dirty_log mode,
		   unsigned flags);
int ept_dirty_start(struct vmmu_vm *vm);
int ept_dirty_stop(struct vmmu_vm *vm);
int ept_dirty_rearm(struct vmmu_vm *vm, gpa_t gpa, uint64_t size);
int ept_dirty_sync(struct vmmu_vm *vm, gpa_t gpa, uint64_t size);
int ept_log_write(struct vmmu_vm *vm, gpa_t gpa);
void ept_dirty_split_harvest(struct vmmu_vm *vm,
			     const struct vmmu_pt_change *chg);
/* Drain the vCPU's PML log into the dirty log; full: the PML-full exit,
 * on the vCPU's own thread, which also resets the index. */
int ept_pml_drain(struct vmmu_vcpu *vcpu, bool full);

#endif
