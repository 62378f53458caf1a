/* SPDX-License-Identifier: MIT */
/*
 * The kernel's one VM, made through vmmu's public API (include/vmmu/vm.h,
 * ept.h, npt.h, shadow-fallback/shadow.h) on the platform of hv_pool.c:
 * backend, slots, vCPU, the EPTP, nCR3 or shadow root the CPU runs with,
 * and the exits handed to the backend's VMM-facing handlers (hv_vm.c,
 * hv_shadow.c).
 */
#ifndef VMMU_HV_VM_H
#define VMMU_HV_VM_H

#include "hv.h"
#include "vmmu/access.h"
#include "vmmu/backend.h"
#include "vmmu/detect.h"

struct hv_vm {
	struct vmmu_vm *vm;
	struct vmmu_vcpu *vcpu;
	bool ept, shadow;
	bool invept_pending;    /* EPT: vmmu asked for an INVEPT (hv_invept) */
};

/* What the backend did with one nested-paging exit. */
struct hv_resolution {
	int rc;                         /* the handler's return */
	struct vmmu_exit_result res;
	const char *what;               /* outcome name (NPT) or the EPT
					   counter that moved */
};

/* One slot of the guest. */
struct hv_slot {
	uint64_t base, size;
	enum vmmu_mem_type type;
	uint8_t max_order;
};

/* Create the VM for backend kind (EPT, NPT or shadow) on this CPU, its
 * slots and its vCPU. 0 or a negative vmmu error after printing why. */
int hv_vm_create(struct hv_vm *hv, enum vmmu_backend_kind kind,
		 const struct vmmu_host_info *host,
		 const struct vmmu_decision *d,
		 const struct hv_slot *slots, unsigned nslots);
/* Shadow: the vCPU's registers as the guest starts (the CPU runs on the
 * shadow root instead of cr3). */
int hv_vm_shadow_start(struct hv_vm *hv, uint64_t cr0, uint64_t cr4,
		       uint64_t efer, uint64_t cr3);
/* The EPTP (EPT) or nCR3 (NPT) vmmu built; shadow: the shadow root. */
uint64_t hv_vm_pointer(const struct hv_vm *hv);
/* Shadow: hand an intercepted #PF (error code, CR2) to the backend; what
 * names the path it took (fill, log-dirty, out-of-sync, unshadow, ...). */
void hv_vm_shadow_pf(struct hv_vm *hv, const struct hv_exit *e,
		     struct hv_resolution *out);
/* ASID for the VMCB (NPT). */
uint32_t hv_vm_asid(const struct hv_vm *hv);
/* Hand an EPT violation / misconfiguration or #NPF to the backend. */
void hv_vm_nested_exit(struct hv_vm *hv, const struct hv_exit *e,
		       struct hv_resolution *out);
/* Shadow: MOV to/from CR3 or INVLPG for the guest (0, or an error); the
 * backend's counters printed and its invariants checked (0: hold). */
int hv_vm_shadow_event(struct hv_vm *hv, const struct hv_exit *e,
		       struct hv_regs *regs);
int hv_vm_shadow_report(struct hv_vm *hv);
/* Before each VM entry: run the invalidations vmmu asked for on the CPU
 * (INVEPT; the TLB_CONTROL of the next VMRUN); shadow: load the root. */
void hv_vm_sync_tlb(struct hv_vm *hv, const struct hv_arch *arch);
/*
 * PML on the real CPU: before each VM entry, the control, the log page and
 * the index vmmu has; after each exit, the index the CPU left, given to
 * vmmu before any handler or harvest (vmmu/ept.h).
 */
void hv_vm_pml_enter(struct hv_vm *hv, const struct hv_arch *arch);
void hv_vm_pml_exit(struct hv_vm *hv, const struct hv_exit *e);
/* The dirty-tracking variant the boot line asks for (vmmu.dirty=). */
extern enum vmmu_dirty_log hv_boot_dirty;
const char *hv_action_name(enum vmmu_action a);
const char *hv_reason_name(enum vmmu_vmm_reason r);

#endif
