/* SPDX-License-Identifier: MIT */
/*
 * The vCPU access path: one function performs a guest memory access the
 * way hardware does, for every backend.
 *
 *   TLB lookup ──hit──► host address
 *        │miss
 *        ▼
 *   backend hardware-side walk (1-D or 2-D) ──ok──► fill TLB ─► host address
 *        │guest fault ─► returned for injection
 *        │VM exit
 *        ▼
 *   backend hypervisor-side handler ─► retry | done | inject | to the VMM
 *
 * The model, the tests and the CLI all go through vmmu_vcpu_access; a real
 * VMM uses only the hypervisor side (include/vmmu/backend.h).
 */
#ifndef VMMU_ACCESS_H
#define VMMU_ACCESS_H

#include "vmmu/backend.h"

/* How an access ended. */
enum vmmu_access_status {
	VMMU_ACCESS_DONE = 0,   /* performed (through memory or a handler) */
	VMMU_ACCESS_FAULT,      /* a guest fault to inject: res->fault */
	VMMU_ACCESS_VMM,        /* returned to the VMM: res->reason, res->exit */
};

/*
 * status, hpa, gpa, emulated, tlb_hit and exits are always set; fault only
 * for FAULT, reason and exit only for VMM (a TLB hit leaves them as they
 * were: the hit path writes nothing it does not define). gpa is 0 on a TLB
 * hit: a TLB maps linear to host-physical addresses only.
 */
struct vmmu_access_result {
	enum vmmu_access_status status;
	hpa_t hpa;              /* DONE through memory: the host address */
	gpa_t gpa;              /* DONE, VMM: the guest-physical address */
	bool emulated;          /* DONE by an exit handler, not by memory */
	bool tlb_hit;
	struct vmmu_walk_result fault;      /* FAULT */
	enum vmmu_vmm_reason reason;        /* VMM */
	struct vmmu_exit exit;              /* VMM: the exit that ended it */
	unsigned exits;         /* exits handled during this access */
};

/*
 * Perform op for vcpu. op->size is 1..8 and the access may not cross a
 * 4 KiB page (split it first; vmmu_vcpu_read/write do). op->data NULL:
 * translate only. Returns 0 with *res filled, or a negative vmmu_err:
 * VMMU_EINVAL for a bad op, VMMU_EDEAD when the VM is dead (a backend
 * handler that keeps asking for a retry kills it), or a backend's error.
 */
int vmmu_vcpu_access(struct vmmu_vcpu *vcpu, const struct vmmu_op *op,
		     struct vmmu_access_result *res);

/*
 * Read or write len bytes at gva as the guest would (CPL cpl), split at
 * page boundaries and into naturally sized pieces. Stops at the first
 * piece that does not complete; *res tells why, and the pieces before it
 * have been performed (as a CPU's partial string store would).
 */
int vmmu_vcpu_read(struct vmmu_vcpu *vcpu, gva_t gva, void *buf, size_t len,
		   unsigned cpl, struct vmmu_access_result *res);
int vmmu_vcpu_write(struct vmmu_vcpu *vcpu, gva_t gva, const void *buf,
		    size_t len, unsigned cpl, struct vmmu_access_result *res);

/*
 * Guest events, as the CPU performs them: the paging state is updated, the
 * vCPU's TLB is invalidated with the architectural scope (MOV to CR3 with
 * and without PCID no-flush, CR0/CR4 changes, INVLPG, INVPCID), then the
 * backend's hook runs. MOV to CR3 in PAE mode loads the PDPTEs and returns
 * VMMU_EINVAL where the CPU would raise #GP (nothing changed then).
 */
int vmmu_vcpu_set_cr(struct vmmu_vcpu *vcpu, enum vmmu_cr cr, uint64_t val);
int vmmu_vcpu_invlpg(struct vmmu_vcpu *vcpu, gva_t gva);
/* INVPCID type 0..3 (SDM Vol. 2 INVPCID): address, single, all+G, all-G. */
int vmmu_vcpu_invpcid(struct vmmu_vcpu *vcpu, unsigned type, uint16_t pcid,
		      gva_t gva);

/*
 * For an exit handler: carry out the faulting access as the hypervisor.
 * With an emulator installed on the vCPU (vmmu_vcpu_set_emulator; the
 * hosted binding is vmmu_emu_vcpu_install in vmmu/emulate_vcpu.h) it runs
 * the instruction at the vCPU's RIP; without one it performs op itself, a
 * plain access of op->size bytes at exit->gpa (a store through
 * vmmu_vm_write_gpa, so the backend sees it). *res says what happened:
 * VMMU_ACT_DONE, VMMU_ACT_INJECT (res->fault: the exception the
 * instruction raised) or VMMU_ACT_TO_VMM (VMMU_REASON_UNHANDLED: the
 * emulator cannot execute it). Returns 0 or a negative vmmu_err.
 */
int vmmu_vcpu_emulate(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		      const struct vmmu_op *op, struct vmmu_exit_result *res);

/* The emulator a handler runs for a faulting instruction (see above). */
typedef int (*vmmu_emulate_fn)(void *ctx, struct vmmu_vcpu *vcpu,
			       const struct vmmu_exit *exit,
			       const struct vmmu_op *op,
			       struct vmmu_exit_result *res);
void vmmu_vcpu_set_emulator(struct vmmu_vcpu *vcpu, vmmu_emulate_fn fn,
			    void *ctx);

/*
 * The VM's device model for MMIO: called by exit handlers with the VM lock
 * held, for an access of size bytes at gpa; fills data on a read. Return 0
 * when the access was handled, or a negative vmmu_err.
 */
typedef int (*vmmu_mmio_fn)(void *ctx, gpa_t gpa, bool write, void *data,
			    unsigned size);
void vmmu_vm_set_mmio_handler(struct vmmu_vm *vm, vmmu_mmio_fn fn, void *ctx);
/*
 * For an exit handler (every backend): an access to MMIO at exit->gpa goes
 * to the VM's device callback (VMMU_ACT_DONE), or to the VMM with
 * VMMU_REASON_MMIO when there is no callback or no data, or with
 * VMMU_REASON_UNHANDLED when the guest's own page tables live there.
 */
int vmmu_exit_mmio(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		   const struct vmmu_op *op, struct vmmu_exit_result *res);

/*
 * A hypervisor-side invalidation on every vCPU of vm (INVEPT, INVVPID,
 * an ASID flush: fn calls the core/tlb.h operation on a vCPU's TLB).
 * fn runs on initiator's own TLB at once (NULL: a VMM thread, no vCPU of
 * its own); for every other vCPU, fn and a copy of arg_size bytes of arg
 * (at most 32) are posted, and that vCPU runs them at the start of its
 * next access and counts a remote shootdown, as a CPU takes the IPI (a
 * vCPU thread only ever touches its own TLB). The call then waits until
 * every access that was in flight on another vCPU has ended, so on
 * return no vCPU uses a translation the invalidation removes: tables
 * unlinked before the call may be freed. Safe while vCPU threads run,
 * with or without the VM lock (see vmmu_vm_tlb_flush_sync). 0 or
 * VMMU_EINVAL.
 */
struct vmmu_tlb;

/*
 * Apply now what was requested of vcpu's TLB (posted invalidations, a
 * VM-wide flush) instead of at its next access: before reading its TLB
 * statistics, say. From the vCPU's own thread, or while it does not run.
 */
void vmmu_vcpu_tlb_sync(struct vmmu_vcpu *vcpu);
int vmmu_vm_tlb_invalidate(struct vmmu_vm *vm,
			   const struct vmmu_vcpu *initiator,
			   void (*fn)(struct vmmu_tlb *tlb, void *arg),
			   const void *arg, size_t arg_size);

/*
 * The vCPU's TLB and paging-structure-cache model (core/tlb.h,
 * docs/tlb.md): cfg NULL takes the defaults of the vCPU's CPU vendor.
 * Replaces (and so empties) the vCPU's TLB. vmmu_vcpu_create gives every
 * vCPU the defaults.
 */
struct vmmu_tlb_config;
int vmmu_vcpu_tlb_configure(struct vmmu_vcpu *vcpu,
			    const struct vmmu_tlb_config *cfg);
void vmmu_vcpu_tlb_release(struct vmmu_vcpu *vcpu);

#endif
