/* SPDX-License-Identifier: MIT */
/*
 * What the hypervisor side of NPT (npt_backend.c, npt_npf.c) shares: the
 * per-VM state, change tracking with its invalidation, and the leaves
 * each p2m type gets.
 */
#ifndef VMMU_NPT_BACKEND_H
#define VMMU_NPT_BACKEND_H

#include "vmmu/npt.h"
#include "core/p2m_leaf.h"
#include "npt_format.h"
#include "npt_hw.h"

/* The TLB context id of a VM's (single) nCR3. */
#define NPT_TLB_CTX 1

struct npt_vm {
	struct vmmu_pt pt;
	struct vmmu_pt_x86_ctx ctx;     /* U/S in every entry, NX per host */
	struct npt_hw hw;               /* what VMRUN gives the CPU */
	struct vmmu_npt_config cfg;
	struct vmmu_p2m_leaves leaves;  /* leaves from the VM's p2m */
	enum vmmu_dirty_log dirty_mode; /* log-dirty variant (npt_dirty.c) */
	bool log_2m;                    /* VMMU_DIRTY_LOG_2M */
	bool logging;                   /* log-dirty by write protection */
	bool ad_logging;                /* log-dirty from nested D bits */
	bool in_hook;                   /* a dirty_log_* hook: no TLB touched */
	uint8_t pending_ctl[VMMU_MAX_VCPUS];    /* TLB_CONTROL for VMRUN */
	struct vmmu_npt_stats stats;
};

static inline struct npt_vm *npt_of(const struct vmmu_vm *vm)
{
	return vm && vm->ops == &vmmu_backend_npt ? vm->backend_state : NULL;
}

/*
 * A table change and whether it needs an invalidation before the next
 * walk may rely on it: a leaf that lost rights, moved or went, a marker
 * set, or a table unlinked. Rights that grow need none (a CPU re-walks
 * on the #NPF a stale entry gives; the model drops a refused entry).
 */
struct npt_chg {
	struct vmmu_pt_change c;
	bool flush;
	const struct vmmu_vcpu *by;     /* the vCPU whose exit it is, or NULL */
};

void npt_chg_init(struct npt_chg *ch, const struct vmmu_vcpu *by);
/* Issue the invalidation ch needs on every vCPU, then free tables. */
void npt_settle(struct vmmu_vm *vm, struct npt_vm *n, struct npt_chg *ch);
/*
 * Invalidate the VM's ASID (or everything) on every vCPU, a shootdown
 * for each but by; then free the unlinked tables.
 */
void npt_flush(struct vmmu_vm *vm, struct npt_vm *n,
	       const struct vmmu_vcpu *by);

/* The p2m type a leaf carries (software bits 55:52). */
static inline enum vmmu_p2m_type npt_leaf_type(uint64_t e)
{
	return (enum vmmu_p2m_type)((e & X86_SW_TYPE) >> X86_SW_BIT_TYPE);
}
/* struct vmmu_p2m_leaves.attrs: P, U/S, R/W, NX and the type bits. */
int npt_leaf_attrs(const struct vmmu_vm *vm, gpa_t gpa,
		   enum vmmu_p2m_type type, uint64_t *attrs);
/* Mark [gpa, gpa + size) for lazy recalculation and flush. */
int npt_mark(struct vmmu_vm *vm, struct npt_vm *n, uint64_t gpa,
	     uint64_t size);

/* npt_dirty.c: the log-dirty hooks, and a write to a log-dirty leaf. */
int npt_dirty_mode(struct vmmu_vm *vm, enum vmmu_dirty_log mode,
		   unsigned flags);
int npt_dirty_start(struct vmmu_vm *vm);
int npt_dirty_stop(struct vmmu_vm *vm);
int npt_dirty_rearm(struct vmmu_vm *vm, gpa_t gpa, uint64_t size);
int npt_dirty_sync(struct vmmu_vm *vm, gpa_t gpa, uint64_t size);
int npt_log_write(struct vmmu_vcpu *vcpu, struct npt_vm *n, gpa_t gpa,
		  unsigned level);

/* The #NPF handler, VM lock held (npt_npf.c). */
int npt_npf(struct vmmu_vcpu *vcpu, uint64_t exitinfo1, uint64_t exitinfo2,
	    const struct vmmu_op *op, struct vmmu_exit_result *res,
	    enum vmmu_npf_outcome *outcome);

#endif
