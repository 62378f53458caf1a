/* SPDX-License-Identifier: MIT */
/*
 * The hardware side of NPT: how an AMD CPU walks the nested tables under
 * nCR3 for one guest-physical access (APM Vol. 2 15.25.5), reading only
 * the bytes of the tables, and the #NPF it raises (15.25.6).
 */
#ifndef VMMU_NPT_HW_H
#define VMMU_NPT_HW_H

#include "vmmu/backend.h"
#include "core/tlb.h"

/*
 * What the CPU walks with: the VMCB's nCR3 and the host's paging
 * settings at VMRUN, which the nested walk inherits (APM 15.25.3-15.25.5).
 */
struct npt_hw {
	uint64_t ncr3;          /* bits 51:12: the root table */
	uint8_t levels;         /* 4, or 5 under host CR4.LA57 */
	uint8_t maxphyaddr;     /* host MAXPHYADDR (CPUID 8000_0008 EAX[7:0]) */
	bool nxe;               /* host EFER.NXE */
	bool smep;              /* host CR4.SMEP: fetch faults set I/D too */
	bool gbpages;           /* CPUID 8000_0001 EDX[26] Page1GB */
};

/* #PF-style error-code bits of EXITINFO1 (APM Vol. 2 8.4.2, 15.25.6). */
#define NPF_P     (1ULL << 0)
#define NPF_W     (1ULL << 1)
#define NPF_U     (1ULL << 2)
#define NPF_RSVD  (1ULL << 3)
#define NPF_ID    (1ULL << 4)

/*
 * Reserved bits of a nested entry at level (5..1) with PS = ps, under hw
 * (APM Vol. 2 5.3.3, the long-mode entry formats of Figures 5-18..5-25):
 * address bits 51:MAXPHYADDR everywhere, bit 63 without EFER.NXE, bits 8:7
 * of a PML5E/PML4E, bits 29:13 of a 1 GiB PDPE, bits 20:13 of a 2 MiB PDE.
 * A PDPE with PS = 1 is itself reserved without Page1GB (the all-ones
 * mask is returned then).
 */
uint64_t npt_hw_rsvd(const struct npt_hw *hw, unsigned level, bool ps);

/*
 * One nested walk for an access of kind to gpa, as vmmu_nested_ops.walk
 * (include/vmmu/backend.h): from start (a nested paging-structure-cache
 * hit) or from nCR3. The walk is a user access; guest_pt says the access
 * is the guest walk's (the caller passes it as a write, see
 * vmmu_nested_ops.pt_as_write). A, and D on a write, are set in the
 * entries of a walk that succeeds. On a fault out->exit is the #NPF:
 * EXITINFO1 the error code plus bit 32 (final gpa) or bit 33 (guest page
 * table), EXITINFO2 the gpa; I/D is set for a fetch under host EFER.NXE
 * or CR4.SMEP, as in a #PF error code (APM 8.4.2). Returns 0, or VMMU_EFAULT when a table
 * address is not host memory (an entry vmmu never writes).
 */
int npt_hw_walk(const struct npt_hw *hw, const struct vmmu_platform *plat,
		gpa_t gpa, enum vmmu_access_kind kind, bool guest_pt,
		const struct vmmu_tlb_pwc_hit *start,
		struct vmmu_nested_walk *out);

#endif
