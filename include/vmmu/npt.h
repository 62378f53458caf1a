/* SPDX-License-Identifier: MIT */
/*
 * The NPT backend (vmmu_backend_npt, include/vmmu/backend.h): AMD nested
 * paging for one VM. vmmu builds the VM's nested tables in the long-mode
 * format under nCR3 (APM Vol. 2 15.25), lazily: a gpa gets its nested
 * leaf on the first #NPF that touches it, as large as the host block
 * backing it allows. What a VMM uses:
 *
 *   vmmu_vm_set_backend(vm, VMMU_BACKEND_NPT, &vmmu_backend_npt);
 *   vmmu_npt_configure(vm, &cfg);           before vCPUs and slots
 *   ... VMRUN with vmmu_npt_ncr3(vm), ASID vcpu->tlb_vpid and
 *       TLB_CONTROL = vmmu_npt_vmrun_tlb_control(vcpu) ...
 *   on #NPF: vmmu_npt_handle_npf(vcpu, EXITINFO1, EXITINFO2, op, &res, &o)
 *
 * The model (vmmu_vcpu_access) goes through the same handler.
 */
#ifndef VMMU_NPT_H
#define VMMU_NPT_H

#include "vmmu/backend.h"
#include "vmmu/detect.h"

struct vmmu_npt_config {
	unsigned levels;        /* 4, or 5 (host CR4.LA57: a guest with LA57) */
	bool gbpages;           /* 1 GiB nested leaves (CPUID Page1GB) */
	uint8_t host_maxphyaddr;/* 32..52: bits above are reserved */
	bool host_nxe;          /* host EFER.NXE (else bit 63 is reserved) */
	bool host_smep;         /* host CR4.SMEP: #NPF on a fetch sets I/D */
	uint16_t asid;          /* the VM's ASID, 1..65535 (0 is the host) */
	bool flush_by_asid;     /* CPUID 8000_000A EDX[6]: TLB_CONTROL 3 */
	/* dirty pages may be read from nested D bits: log-dirty variant
	 * VMMU_DIRTY_AD_BITS (vmmu/dirty.h) */
	bool ad_harvest;
};

/* 4 levels, 2 MiB leaves, MAXPHYADDR 48, NXE, ASID 1, flush by ASID. */
void vmmu_npt_config_default(struct vmmu_npt_config *cfg);
/* The settings vmmu_decide chose for an NPT VM on host. */
void vmmu_npt_config_from_decision(struct vmmu_npt_config *cfg,
				   const struct vmmu_host_info *host,
				   const struct vmmu_decision *d);
/*
 * Apply cfg to an NPT VM that has no vCPU and no nested mapping yet.
 * VMMU_EINVAL for a bad value or a VM in use, VMMU_ENOMEM.
 */
int vmmu_npt_configure(struct vmmu_vm *vm, const struct vmmu_npt_config *cfg);

/* nCR3 for the VMCB (APM 15.25.3): the root table's address. */
uint64_t vmmu_npt_ncr3(const struct vmmu_vm *vm);

/* What the #NPF handler did (counted in struct vmmu_npt_stats). */
enum vmmu_npf_outcome {
	VMMU_NPF_FIRST_TOUCH = 0,   /* RAM/ROM backed and mapped: retry */
	VMMU_NPF_RECALC,            /* lazy type change resolved: retry */
	VMMU_NPF_LOG_DIRTY,         /* logged write, page made writable */
	VMMU_NPF_SPURIOUS,          /* already resolved (stale): retry */
	VMMU_NPF_MMIO_DEVICE,       /* the VM's device callback did it */
	VMMU_NPF_MMIO_VMM,          /* MMIO without a callback: to the VMM */
	VMMU_NPF_ROM_WRITE,         /* to the VMM */
	VMMU_NPF_UNMAPPED,          /* no slot: to the VMM */
	VMMU_NPF_BAD_INFO,          /* EXITINFO1/2 no CPU gives: to the VMM */
	VMMU_NPF_RSVD,              /* reserved bit in vmmu's tables: VMM */
	VMMU_NPF_UNHANDLED,         /* anything else: to the VMM */
	VMMU_NPF_OUTCOMES_
};

/*
 * Handle one #NPF as the VMM read it from the VMCB (APM 15.25.6):
 * exitinfo1 the error code with bit 32/33, exitinfo2 the gpa. op is the
 * access being made (for MMIO data; NULL when unknown, then MMIO goes to
 * the VMM). Takes the VM lock. Returns 0 with *res (action, reason) and
 * *outcome (may be NULL), or a negative vmmu_err (VMMU_ENOMEM, VMMU_EDEAD).
 * Garbage in EXITINFO1/2 is VMMU_NPF_BAD_INFO, never a crash.
 */
int vmmu_npt_handle_npf(struct vmmu_vcpu *vcpu, uint64_t exitinfo1,
			uint64_t exitinfo2, const struct vmmu_op *op,
			struct vmmu_exit_result *res,
			enum vmmu_npf_outcome *outcome);

/*
 * TLB_CONTROL the VMM must put in the VMCB for the vCPU's next VMRUN
 * (APM 15.16.1: 0 nothing, 1 everything, 3 this ASID); reading clears it.
 */
unsigned vmmu_npt_vmrun_tlb_control(struct vmmu_vcpu *vcpu);
/* INVLPGA gva for the vCPU's ASID (APM Vol. 3 INVLPGA), counted. */
int vmmu_npt_invlpga(struct vmmu_vcpu *vcpu, gva_t gva);

/*
 * Log-dirty goes through the VM's dirty log (vmmu/dirty.h): write
 * protection (optionally at 2 MiB, VMMU_DIRTY_LOG_2M) and, with
 * cfg.ad_harvest, the nested D bits (VMMU_DIRTY_AD_BITS; docs/npt.md).
 */

struct vmmu_npt_stats {
	uint64_t npf[VMMU_NPF_OUTCOMES_];
	uint64_t flush_asid, flush_all, invlpga;   /* invalidations issued */
	uint64_t tables_freed;      /* after the flush that covered them */
	uint64_t leaves_2m, leaves_1g, leaves_4k;  /* mapped on first touch */
	uint64_t splits;            /* large leaves split (log-dirty, types) */
	uint64_t marks;             /* entries marked by lazy changes */
	uint64_t recalcs;           /* #NPF that resolved a marker */
};
/* The VM's NPT counters, or NULL for a VM without the NPT backend. */
const struct vmmu_npt_stats *vmmu_npt_stats(const struct vmmu_vm *vm);

#endif
