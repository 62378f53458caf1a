/* SPDX-License-Identifier: MIT */
/*
 * VMX capability MSRs -> the capabilities the paging-mode policy needs
 * (freestanding: the bare-metal kernel calls these with its own rdmsr).
 *
 * IA32_VMX_PROCBASED_CTLS2 (0x48B), SDM Vol 3D A.3.3: bits 31:0 are the
 * allowed-0 settings, bits 63:32 the allowed-1 settings of the secondary
 * processor-based VM-execution controls (SDM Vol 3C Table 25-7). A control
 * can be used when its allowed-1 bit is set.
 * IA32_VMX_EPT_VPID_CAP (0x48C), SDM Vol 3D A.10.
 */
#include <string.h>

#include "cpuid_fs.h"

/* Secondary controls, as allowed-1 bits of the MSR (control bit + 32). */
#define CTLS2_EPT               (1ull << (32 + 1))
#define CTLS2_VPID              (1ull << (32 + 5))
#define CTLS2_UNRESTRICTED      (1ull << (32 + 7))
#define CTLS2_PML               (1ull << (32 + 17))
#define CTLS2_MBEC              (1ull << (32 + 22))

#define EPTCAP_XONLY            (1ull << 0)
#define EPTCAP_WL4              (1ull << 6)
#define EPTCAP_WL5              (1ull << 7)
#define EPTCAP_UC               (1ull << 8)
#define EPTCAP_WB               (1ull << 14)
#define EPTCAP_2M               (1ull << 16)
#define EPTCAP_1G               (1ull << 17)
#define EPTCAP_INVEPT           (1ull << 20)
#define EPTCAP_AD               (1ull << 21)
#define EPTCAP_INVEPT_SINGLE    (1ull << 25)
#define EPTCAP_INVEPT_ALL       (1ull << 26)

void vmmu_decode_vmx_msrs(struct vmmu_vmx_caps *c, uint64_t ctls2,
			  uint64_t cap, enum vmmu_vmx_source src)
{
	memset(c, 0, sizeof(*c));
	c->src = src;
	c->have_ctls2 = true;
	c->procbased_ctls2 = ctls2;
	c->ept = ctls2 & CTLS2_EPT;
	c->vpid = ctls2 & CTLS2_VPID;
	c->unrestricted_guest = ctls2 & CTLS2_UNRESTRICTED;
	c->pml = ctls2 & CTLS2_PML;
	c->mbec = ctls2 & CTLS2_MBEC;
	/* A.10: the MSR exists only if EPT or VPID can be enabled. */
	if (!c->ept && !c->vpid)
		return;
	c->have_ept_vpid_cap = true;
	c->ept_vpid_cap = cap;
	if (!c->ept)
		return;
	c->ept_xonly = cap & EPTCAP_XONLY;
	c->ept_wl4 = cap & EPTCAP_WL4;
	c->ept_wl5 = cap & EPTCAP_WL5;
	c->ept_uc = cap & EPTCAP_UC;
	c->ept_wb = cap & EPTCAP_WB;
	c->ept_2m = cap & EPTCAP_2M;
	c->ept_1g = cap & EPTCAP_1G;
	c->invept = cap & EPTCAP_INVEPT;
	c->ept_ad = cap & EPTCAP_AD;
	c->invept_single = cap & EPTCAP_INVEPT_SINGLE;
	c->invept_all = cap & EPTCAP_INVEPT_ALL;
}

/* SDM Vol 3C 24.7: bit 0 lock, bit 2 VMXON outside SMX. */
#define MSR_IA32_FEATURE_CONTROL        0x3a
#define FEATURE_CONTROL_LOCKED          (1ull << 0)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ull << 2)
#define MSR_IA32_VMX_PROCBASED_CTLS     0x482
#define MSR_IA32_VMX_PROCBASED_CTLS2    0x48b
#define MSR_IA32_VMX_EPT_VPID_CAP       0x48c
/* A.3.2: allowed-1 bit 31 of the primary controls = "activate secondary". */
#define CTLS_ACTIVATE_SECONDARY         (1ull << (32 + 31))
#define CTLS2_EPT_OR_VPID               ((1ull << 33) | (1ull << 37))

/*
 * Exact VMX capabilities from the capability MSRs, read through rdmsr.
 * On any failure the microarchitecture inference stays, and the note says
 * why the MSRs could not be used.
 */
void vmmu_read_vmx_msrs(struct vmmu_host_info *h, vmmu_rdmsr_fn rdmsr,
			void *ctx, const char *unavailable)
{
	uint64_t ctls = 0, ctls2 = 0, cap = 0, fc;
	char why[96], prev[sizeof(h->vmx.note)];

	if (!h->feat.vmx)
		return;
	/*
	 * Firmware that locks IA32_FEATURE_CONTROL without the VMX enable
	 * makes VMXON fault whatever the capability MSRs say.
	 */
	if (rdmsr && !rdmsr(ctx, MSR_IA32_FEATURE_CONTROL, &fc))
		h->vmx.firmware_disabled = (fc & FEATURE_CONTROL_LOCKED) &&
			!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX);
	if (!rdmsr)
		vmmu_fmt(why, sizeof(why), "VMX MSRs unreadable (%s)",
			 unavailable ? unavailable : "no MSR access");
	else if (rdmsr(ctx, MSR_IA32_VMX_PROCBASED_CTLS, &ctls))
		vmmu_fmt(why, sizeof(why), "rdmsr 0x482 failed");
	else if ((ctls & CTLS_ACTIVATE_SECONDARY) &&
		 rdmsr(ctx, MSR_IA32_VMX_PROCBASED_CTLS2, &ctls2))
		vmmu_fmt(why, sizeof(why), "rdmsr 0x48b failed");
	else if ((ctls2 & CTLS2_EPT_OR_VPID) &&
		 rdmsr(ctx, MSR_IA32_VMX_EPT_VPID_CAP, &cap))
		vmmu_fmt(why, sizeof(why), "rdmsr 0x48c failed");
	else {
		bool off = h->vmx.firmware_disabled;

		vmmu_decode_vmx_msrs(&h->vmx, ctls2, cap, VMMU_VMX_SRC_MSR);
		h->vmx.firmware_disabled = off;
		vmmu_fmt(h->vmx.note, sizeof(h->vmx.note),
			 "read from the VMX capability MSRs of CPU 0");
		return;
	}
	vmmu_fmt(prev, sizeof(prev), "%s", h->vmx.note);
	vmmu_fmt(h->vmx.note, sizeof(h->vmx.note), "%.70s; %.85s", why, prev);
}

