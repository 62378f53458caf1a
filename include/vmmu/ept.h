/* SPDX-License-Identifier: MIT */
/*
 * The EPT backend (vmmu_backend_ept, include/vmmu/backend.h): what a VMM
 * sets and calls beyond the backend interface.
 *
 *   vmmu_vm_set_backend(vm, VMMU_BACKEND_EPT, &vmmu_backend_ept);
 *   vmmu_ept_configure(vm, &caps);          optional, before slots/vCPUs
 *   vmmu_ept_set_invept(vm, fn, ctx);       the VMM's INVEPT
 *   ... slots, vCPUs; load vmmu_ept_eptp(vm) into the VMCS ...
 *   on an EPT violation / misconfiguration / PML-full exit:
 *   vmmu_ept_handle_vmexit(vcpu, reason, qualification, gpa, gla, &res);
 *
 * docs/ept.md describes the tables, the exits and dirty tracking.
 */
#ifndef VMMU_EPT_H
#define VMMU_EPT_H

#include "vmmu/backend.h"
#include "vmmu/detect.h"

/* What the CPU's EPT can do (IA32_VMX_EPT_VPID_CAP, SDM Vol. 3D A.10). */
struct vmmu_ept_caps {
	bool walk5;             /* bit 7: 5-level walk */
	bool ad;                /* bit 21: accessed and dirty flags */
	bool pml;               /* PROCBASED_CTLS2 bit 17 */
	bool execute_only;      /* bit 0 */
	bool page_2m, page_1g;  /* bits 16, 17 */
	uint8_t maxphyaddr;     /* host MAXPHYADDR: reserved address bits */
};

/* The caps from a decoded profile (vmmu_detect_*). VMMU_ENOTSUP when the
 * profile has no EPT with a 4-level walk and WB paging structures. */
int vmmu_ept_caps_from_vmx(const struct vmmu_vmx_caps *vmx,
			   unsigned maxphyaddr, struct vmmu_ept_caps *out);

/*
 * Use caps for vm (before any slot or vCPU: VMMU_EBUSY after). The walk
 * is 5 levels only when caps->walk5 and the guest's physical width needs
 * it (guest_maxphyaddr > 48), else 4; VMMU_ENOTSUP for a wider guest
 * without walk5. Defaults (an Ice Lake-class profile): 5-level walk
 * available, A/D, execute-only, 2 MiB and 1 GiB, no PML, MAXPHYADDR 46.
 */
int vmmu_ept_configure(struct vmmu_vm *vm, const struct vmmu_ept_caps *caps);

/* The EPT pointer to load (SDM 25.6.11): WB, walk length, A/D enable. */
uint64_t vmmu_ept_eptp(const struct vmmu_vm *vm);

/*
 * The VMM's INVEPT (SDM Vol. 3C 29.4.3.1; the INVEPT instruction, Vol. 2).
 * fn is called, with the VM lock held, on the thread that changed the
 * tables, after every change that can leave a cached translation or
 * paging-structure entry stale (each one counted in invept_single), and
 * before the table pages the change unlinked are freed: type 1
 * (single-context) with the VM's EPTP. On return no logical processor may
 * use the old entries any more: the VMM executes INVEPT on this one and
 * makes every other that runs one of the VM's vCPUs do the same before
 * its next guest instruction (an IPI it waits for, or, for a processor
 * not in VMX non-root operation, before its next VM entry). The TLB
 * model's own INVEPT is unchanged. NULL (the default) for none;
 * VMMU_EINVAL if vm is not an EPT VM.
 */
typedef void (*vmmu_ept_invept_fn)(void *ctx, unsigned type, uint64_t eptp);
int vmmu_ept_set_invept(struct vmmu_vm *vm, vmmu_ept_invept_fn fn, void *ctx);

/*
 * PML on a real CPU (SDM Vol. 3C 29.3.6, 25.6.18): *page is the vCPU's
 * 4 KiB log for the VMCS "PML address", *on whether the "enable PML"
 * control is to be set now (the dirty log is on in PML mode). The CPU
 * moves the PML index as it logs: give vmmu the index the VMCS holds
 * after every VM exit (vmmu_ept_pml_index_set, before the exit's handler
 * or any peek or clean), and write vmmu_ept_pml_index() back before the
 * next VM entry (a PML-full exit's handler drains the log and resets it
 * to 511). VMMU_ENOENT when the vCPU has no PML page (caps.pml clear).
 */
int vmmu_ept_pml_state(const struct vmmu_vcpu *vcpu, hpa_t *page, bool *on);
uint16_t vmmu_ept_pml_index(const struct vmmu_vcpu *vcpu);
void vmmu_ept_pml_index_set(struct vmmu_vcpu *vcpu, uint16_t index);

/* Basic exit reasons (SDM Vol. 3C Appendix C). */
#define VMMU_VMX_EXIT_EPT_VIOLATION 48
#define VMMU_VMX_EXIT_EPT_MISCONFIG 49
#define VMMU_VMX_EXIT_PML_FULL      62

/*
 * For a real VMM: handle an exit from the VMCS fields (exit reason, exit
 * qualification, guest-physical address, guest linear address: used when
 * qualification bit 7 says it is valid). Takes the VM lock. Nothing is
 * emulated here (the VMM holds the instruction): MMIO and ROM writes come
 * back as VMMU_ACT_TO_VMM with their reason. VMMU_EINVAL for another exit.
 */
int vmmu_ept_handle_vmexit(struct vmmu_vcpu *vcpu, uint32_t exit_reason,
			   uint64_t qualification, uint64_t gpa, uint64_t gla,
			   struct vmmu_exit_result *res);

/*
 * Log-dirty goes through the VM's dirty log (vmmu/dirty.h): EPT offers
 * write protection (optionally at 2 MiB, VMMU_DIRTY_LOG_2M), EPT A/D when
 * caps.ad and PML when caps.pml too; vmmu_dirty_set_mode chooses, AUTO
 * takes PML, then A/D, then write protection (docs/ept.md).
 */

struct vmmu_ept_stats {
	uint64_t violations, misconfigs, pml_full;
	uint64_t populated;         /* first touches mapped */
	uint64_t logdirty_faults;   /* log-dirty pages made writable */
	uint64_t recalcs;           /* misconfigurations resolved lazily */
	uint64_t real_misconfigs;   /* misconfigurations with no marker */
	uint64_t invept_single, invept_all;
	uint64_t pml_logged;        /* PML entries drained */
};
const struct vmmu_ept_stats *vmmu_ept_stats(const struct vmmu_vm *vm);

/*
 * The engine's tree of vm, for tests and tools that count what an
 * operation touched (struct vmmu_pt, core/pgtable.h). NULL if vm is not
 * an EPT VM.
 */
struct vmmu_pt;
struct vmmu_pt *vmmu_ept_tables(struct vmmu_vm *vm);

#endif
