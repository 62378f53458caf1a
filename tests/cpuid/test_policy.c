/* SPDX-License-Identifier: MIT */
/*
 * The policy is a pure function: hosts are built here field by field, and
 * VMX capabilities from MSR values laid out as in SDM Vol 3D A.3.3/A.10.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmmu/detect.h"
#include "vmmu/error.h"
#include "cpuid/cpuid_internal.h"

/* Secondary controls (allowed-1 half of IA32_VMX_PROCBASED_CTLS2). */
#define C2_EPT   (1ull << 33)
#define C2_VPID  (1ull << 37)
#define C2_UG    (1ull << 39)
#define C2_PML   (1ull << 49)
#define C2_MBEC  (1ull << 54)
#define C2_ALL   (C2_EPT | C2_VPID | C2_UG | C2_PML | C2_MBEC)
/* IA32_VMX_EPT_VPID_CAP bits. */
#define CAP_XO   (1ull << 0)
#define CAP_WL4  (1ull << 6)
#define CAP_WL5  (1ull << 7)
#define CAP_UC   (1ull << 8)
#define CAP_WB   (1ull << 14)
#define CAP_2M   (1ull << 16)
#define CAP_1G   (1ull << 17)
#define CAP_INV  (1ull << 20)
#define CAP_AD   (1ull << 21)
#define CAP_INVS (1ull << 25)
#define CAP_INVA (1ull << 26)
#define CAP_BASE (CAP_WL4 | CAP_WB | CAP_INV | CAP_INVS | CAP_INVA)
/* A Skylake-server-like value: base + x-only, UC, 2M, 1G, A/D. */
#define CAP_SKX  0x00000f0106734141ull

static struct vmmu_host_info intel_host(uint64_t ctls2, uint64_t cap)
{
	struct vmmu_host_info h;

	memset(&h, 0, sizeof(h));
	h.cpu.vendor = VMMU_VENDOR_INTEL;
	h.feat.vmx = h.feat.lm = h.feat.nx = h.feat.pdpe1gb = true;
	h.feat.maxphyaddr = 46;
	h.feat.maxlinaddr = 48;
	vmmu_decode_vmx_msrs(&h.vmx, ctls2, cap, VMMU_VMX_SRC_FILE);
	return h;
}

static struct vmmu_host_info amd_host(void)
{
	struct vmmu_host_info h;

	memset(&h, 0, sizeof(h));
	h.cpu.vendor = VMMU_VENDOR_AMD;
	h.feat.svm = h.feat.svm_leaf = h.feat.npt = true;
	h.feat.nrips = h.feat.flush_by_asid = h.feat.decode_assists = true;
	h.feat.gmet = h.feat.lm = h.feat.nx = h.feat.pdpe1gb = true;
	h.feat.svm_nasid = 32768;
	h.feat.maxphyaddr = 48;
	h.feat.maxlinaddr = 48;
	return h;
}

static bool has(const struct vmmu_detect_item *it, size_t n, const char *code)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(it[i].code, code) && it[i].text[0])
			return true;
	return false;
}

#define REASON(d, c) has((d).reasons, (d).n_reasons, c)
#define DEGRADED(d, c) has((d).degraded, (d).n_degraded, c)

static struct vmmu_decision decide(const struct vmmu_host_info *h,
				   enum vmmu_backend_kind b, int want_rc)
{
	struct vmmu_vm_request r = { .backend = b };
	struct vmmu_decision d;

	assert_int_equal(vmmu_decide(h, &r, &d), want_rc);
	return d;
}

static void test_msr_decode(void **state)
{
	struct vmmu_vmx_caps c;

	(void)state;
	vmmu_decode_vmx_msrs(&c, C2_EPT, CAP_WL4 | CAP_WB | CAP_INV | CAP_INVS,
			     VMMU_VMX_SRC_MSR);
	assert_true(c.ept && !c.vpid && !c.unrestricted_guest && !c.pml);
	assert_true(c.ept_wl4 && c.ept_wb && c.invept && c.invept_single);
	assert_false(c.ept_wl5 || c.ept_2m || c.ept_1g || c.ept_ad ||
		     c.ept_xonly || c.invept_all || c.ept_uc);
	/* Allowed-0 half (bits 31:0) must not be read as capabilities. */
	vmmu_decode_vmx_msrs(&c, 0xffffffffull, ~0ull, VMMU_VMX_SRC_MSR);
	assert_false(c.ept || c.vpid || c.have_ept_vpid_cap || c.ept_wl4);
	vmmu_decode_vmx_msrs(&c, C2_ALL, CAP_SKX, VMMU_VMX_SRC_MSR);
	assert_true(c.ept && c.vpid && c.unrestricted_guest && c.pml && c.mbec);
	assert_true(c.ept_xonly && c.ept_wl4 && c.ept_uc && c.ept_wb &&
		    c.ept_2m && c.ept_1g && c.ept_ad && c.invept_all);
	assert_false(c.ept_wl5);
	/* VPID without EPT: the capability MSR exists, EPT bits are moot. */
	vmmu_decode_vmx_msrs(&c, C2_VPID, CAP_SKX, VMMU_VMX_SRC_MSR);
	assert_true(c.have_ept_vpid_cap && c.vpid && !c.ept && !c.ept_wl4);
}

static void test_auto_ept_full(void **state)
{
	struct vmmu_host_info h = intel_host(C2_ALL, CAP_SKX);
	struct vmmu_decision d = decide(&h, VMMU_BACKEND_AUTO, 0);

	(void)state;
	assert_int_equal(d.backend, VMMU_BACKEND_EPT);
	assert_int_equal(d.levels, 4);
	assert_int_equal(d.dirty_log, VMMU_DIRTY_PML);
	assert_true(d.leaf_2m && d.leaf_1g && d.exec_only && d.tagged_tlb);
	assert_true(REASON(d, "ept.usable"));
	assert_int_equal(d.n_degraded, 0);
	assert_false(d.refused);
}

static void test_ept_degrades(void **state)
{
	struct vmmu_host_info h = intel_host(C2_EPT, CAP_BASE);
	struct vmmu_decision d = decide(&h, VMMU_BACKEND_AUTO, 0);

	(void)state;
	assert_int_equal(d.backend, VMMU_BACKEND_EPT);
	assert_false(d.leaf_2m || d.leaf_1g || d.exec_only || d.tagged_tlb);
	assert_int_equal(d.dirty_log, VMMU_DIRTY_WRITE_PROTECT);
	assert_true(DEGRADED(d, "ept.no_2m") && DEGRADED(d, "ept.no_1g"));
	assert_true(DEGRADED(d, "ept.no_ad") && DEGRADED(d, "ept.no_xonly"));
	assert_true(DEGRADED(d, "vmx.no_vpid"));
	assert_true(DEGRADED(d, "vmx.no_unrestricted_guest"));
	/* A/D without PML: dirty flags are scanned. */
	h = intel_host(C2_EPT | C2_VPID, CAP_BASE | CAP_AD | CAP_2M);
	d = decide(&h, VMMU_BACKEND_AUTO, 0);
	assert_int_equal(d.dirty_log, VMMU_DIRTY_AD_BITS);
	assert_true(DEGRADED(d, "ept.no_pml"));
	assert_false(DEGRADED(d, "ept.no_ad") || DEGRADED(d, "ept.no_2m"));
	/* PML without A/D cannot log (PML is driven by EPT dirty flags). */
	h = intel_host(C2_EPT | C2_PML, CAP_BASE);
	d = decide(&h, VMMU_BACKEND_AUTO, 0);
	assert_int_equal(d.dirty_log, VMMU_DIRTY_WRITE_PROTECT);
	assert_true(DEGRADED(d, "ept.no_ad"));
}

static void test_ept_unusable(void **state)
{
	static const uint64_t caps[] = {
		CAP_BASE & ~CAP_WL4, CAP_BASE & ~CAP_WB,
		CAP_BASE & ~CAP_INV, CAP_BASE & ~(CAP_INVS | CAP_INVA),
	};
	struct vmmu_host_info h;
	struct vmmu_decision d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		h = intel_host(C2_ALL, caps[i]);
		d = decide(&h, VMMU_BACKEND_AUTO, 0);
		assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
		assert_true(REASON(d, "ept.unusable"));
		assert_true(REASON(d, "shadow.fallback"));
	}
	h = intel_host(C2_VPID | C2_UG, CAP_SKX);      /* no EPT control */
	d = decide(&h, VMMU_BACKEND_AUTO, 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "ept.absent"));
}

static const char *reason_text(const struct vmmu_decision *d,
			       const char *code)
{
	size_t i;

	for (i = 0; i < d->n_reasons; i++)
		if (!strcmp(d->reasons[i].code, code))
			return d->reasons[i].text;
	return "";
}

static void test_five_level_requirement(void **state)
{
	struct vmmu_host_info h = intel_host(C2_ALL, CAP_SKX);
	struct vmmu_vm_request r = { .backend = VMMU_BACKEND_AUTO };
	struct vmmu_decision d;

	(void)state;
	h.feat.la57 = true;
	h.feat.maxphyaddr = 52;
	r.guest_la57 = true;            /* no 5-level EPT walk: not EPT */
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "ept.no_wl5"));
	/* The reason names what asked for 5 levels, and only that. */
	assert_non_null(strstr(reason_text(&d, "ept.no_wl5"), "(guest LA57)"));
	assert_int_equal(d.levels, 5);  /* the shadow tables follow the guest */
	r.guest_la57 = false;
	r.guest_phys_bits = 49;         /* > 48 bits also needs 5 levels */
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_true(REASON(d, "ept.no_wl5"));
	assert_non_null(strstr(reason_text(&d, "ept.no_wl5"),
			       "(49-bit guest-physical space)"));
	r.guest_phys_bits = 0;          /* default: host's 52, capped at 48 */
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_EPT);
	assert_int_equal(d.phys_bits, 48);
	assert_true(REASON(d, "request.phys_default"));
	r.guest_phys_bits = 48;         /* 48 bits fit a 4-level walk */
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_EPT);
	assert_int_equal(d.levels, 4);
	h = intel_host(C2_ALL, CAP_SKX | CAP_WL5);
	h.feat.la57 = true;
	h.feat.maxphyaddr = 52;
	r.guest_phys_bits = 52;
	r.guest_la57 = true;
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_EPT);
	assert_int_equal(d.levels, 5);
	/* The guest's own LA57 walk needs CPU LA57 even with 5-level EPT. */
	h.feat.la57 = false;
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "hw.no_la57"));
	assert_true(DEGRADED(d, "shadow.la57_model"));
}

static void test_phys_bits_beyond_host(void **state)
{
	struct vmmu_host_info h = intel_host(C2_ALL, CAP_SKX | CAP_WL5);
	struct vmmu_vm_request r = { .guest_phys_bits = 47 };
	struct vmmu_decision d;

	(void)state;
	h.feat.maxphyaddr = 46;
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "hw.phys_bits"));
	r.guest_phys_bits = 46;
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_EPT);
}

static void test_overrides(void **state)
{
	struct vmmu_host_info intel = intel_host(C2_ALL, CAP_SKX);
	struct vmmu_host_info amd = amd_host();
	struct vmmu_host_info bare;
	struct vmmu_decision d;

	(void)state;
	memset(&bare, 0, sizeof(bare));
	bare.feat.maxphyaddr = 36;
	d = decide(&amd, VMMU_BACKEND_EPT, VMMU_ENOTSUP);
	assert_true(d.refused);
	assert_int_equal(d.backend, VMMU_BACKEND_EPT);
	assert_true(REASON(d, "vmx.absent") && REASON(d, "override.refused"));
	d = decide(&intel, VMMU_BACKEND_NPT, VMMU_ENOTSUP);
	assert_true(d.refused && REASON(d, "svm.absent"));
	d = decide(&bare, VMMU_BACKEND_NPT, VMMU_ENOTSUP);
	assert_true(d.refused);
	d = decide(&intel, VMMU_BACKEND_EPT, 0);
	assert_int_equal(d.backend, VMMU_BACKEND_EPT);
	assert_true(REASON(d, "override.accepted"));
	d = decide(&amd, VMMU_BACKEND_NPT, 0);
	assert_int_equal(d.backend, VMMU_BACKEND_NPT);
	/* Shadow needs nothing from the CPU: always accepted. */
	d = decide(&intel, VMMU_BACKEND_SHADOW, 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "override.accepted") && !d.refused);
	d = decide(&bare, VMMU_BACKEND_SHADOW, 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
}

static void test_model_only(void **state)
{
	struct vmmu_host_info bare;
	struct vmmu_vm_request r = { .backend = VMMU_BACKEND_EPT,
				     .model_only = true, .guest_la57 = true };
	struct vmmu_decision d;

	(void)state;
	memset(&bare, 0, sizeof(bare));
	bare.feat.maxphyaddr = 36;
	assert_int_equal(vmmu_decide(&bare, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_EPT);
	assert_true(d.model_only && !d.refused && REASON(d, "model.only"));
	assert_int_equal(d.levels, 5);
	assert_int_equal(d.dirty_log, VMMU_DIRTY_PML);
	r.backend = VMMU_BACKEND_NPT;
	assert_int_equal(vmmu_decide(&bare, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_NPT);
	/* auto + model-only still chooses from the host, and says so. */
	r.backend = VMMU_BACKEND_AUTO;
	r.guest_la57 = false;
	assert_int_equal(vmmu_decide(&bare, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "model.only"));
}

static void test_npt(void **state)
{
	struct vmmu_host_info h = amd_host();
	struct vmmu_vm_request r = { .backend = VMMU_BACKEND_AUTO };
	struct vmmu_decision d;

	(void)state;
	d = decide(&h, VMMU_BACKEND_AUTO, 0);
	assert_int_equal(d.backend, VMMU_BACKEND_NPT);
	assert_true(d.leaf_1g && !d.exec_only && REASON(d, "npt.usable"));
	assert_false(DEGRADED(d, "svm.no_flush_by_asid"));
	h.feat.flush_by_asid = h.feat.pdpe1gb = h.feat.decode_assists = false;
	d = decide(&h, VMMU_BACKEND_AUTO, 0);
	assert_int_equal(d.backend, VMMU_BACKEND_NPT);
	assert_true(DEGRADED(d, "svm.no_flush_by_asid"));
	assert_true(DEGRADED(d, "npt.no_1g") && !d.leaf_1g);
	assert_true(DEGRADED(d, "svm.no_decode_assists"));
	/* 5-level nested walks follow the host's LA57. */
	r.guest_la57 = true;
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "npt.no_5level"));
	h.feat.la57 = true;
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_NPT);
	assert_int_equal(d.levels, 5);
	/* SVM without its feature leaf, or without NP: shadow. */
	h = amd_host();
	h.feat.svm_leaf = false;
	d = decide(&h, VMMU_BACKEND_AUTO, 0);
	assert_true(d.backend == VMMU_BACKEND_SHADOW && REASON(d, "svm.no_leaf"));
	h = amd_host();
	h.feat.npt = false;
	d = decide(&h, VMMU_BACKEND_AUTO, 0);
	assert_true(d.backend == VMMU_BACKEND_SHADOW && REASON(d, "npt.absent"));
}

/*
 * Shadow tables are the host CPU's own format and the guest modes are the
 * CPU's: a Pentium III (PAE, no long mode) or a K6 (no PAE) must not be
 * offered a 4-level shadow with 2 MiB leaves.
 */
static void test_shadow_follows_cpu(void **state)
{
	struct vmmu_host_info h;
	struct vmmu_vm_request r = { .backend = VMMU_BACKEND_AUTO };
	struct vmmu_decision d;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.cpu.vendor = VMMU_VENDOR_INTEL;
	h.feat.pae = h.feat.pse = true;         /* Pentium III */
	h.feat.maxphyaddr = 36;
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_int_equal(d.levels, 3);
	assert_int_equal(d.guest_modes, VMMU_GUEST_MODE_UNPAGED |
			 VMMU_GUEST_MODE_2LEVEL | VMMU_GUEST_MODE_PAE);
	assert_true(d.leaf_2m);
	assert_false(d.leaf_1g || d.nx || d.tagged_tlb);
	assert_true(DEGRADED(d, "shadow.no_long_mode"));
	assert_true(DEGRADED(d, "shadow.no_nx"));
	h.feat.nx = true;                       /* Pentium M with XD */
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_true(d.nx);
	h.feat.pae = h.feat.nx = false;         /* AMD K6: no PAE */
	h.cpu.vendor = VMMU_VENDOR_AMD;
	h.feat.maxphyaddr = 32;
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.levels, 2);
	assert_int_equal(d.guest_modes, VMMU_GUEST_MODE_UNPAGED |
			 VMMU_GUEST_MODE_2LEVEL);
	assert_false(d.leaf_2m || d.leaf_1g || d.nx);
	assert_true(d.leaf_4m);
	assert_true(DEGRADED(d, "shadow.no_pae"));
	h.feat.pse = false;                     /* 486-class: 4 KiB only */
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_false(d.leaf_4m);
	/* A 64-bit CPU: 4-level shadow, every mode but 5-level. */
	h.feat.lm = h.feat.pae = h.feat.pse = h.feat.nx = true;
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.levels, 4);
	assert_true(d.guest_modes & VMMU_GUEST_MODE_4LEVEL);
	assert_false(d.guest_modes & VMMU_GUEST_MODE_5LEVEL);
	assert_true(d.leaf_2m && d.nx);
	assert_false(DEGRADED(d, "shadow.no_long_mode"));
	/* K8: SVM without nested paging; shadow still runs under ASIDs. */
	h.feat.svm = true;
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(d.tagged_tlb);
	/* VMX with VPID but no EPT (a hypervisor hiding EPT) is tagged too. */
	h = intel_host(C2_VPID, CAP_BASE);
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(d.tagged_tlb);
}

static void test_strange_hosts(void **state)
{
	struct vmmu_host_info h;
	struct vmmu_vm_request r = { .backend = VMMU_BACKEND_AUTO };
	struct vmmu_decision d;

	(void)state;
	/* Unknown vendor with VMX and nothing known about its MSRs. */
	memset(&h, 0, sizeof(h));
	h.cpu.vendor = VMMU_VENDOR_OTHER;
	h.feat.vmx = true;
	h.feat.maxphyaddr = 40;
	snprintf(h.vmx.note, sizeof(h.vmx.note), "unknown part");
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "vmx.caps_unknown"));
	/* A hypervisor hiding VMX, with /dev/kvm usable. */
	memset(&h, 0, sizeof(h));
	h.feat.hypervisor = true;
	h.feat.maxphyaddr = 48;
	h.kvm.probed = h.kvm.present = true;
	snprintf(h.kvm.module, sizeof(h.kvm.module), "kvm_pvm");
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "vmx.absent") && REASON(d, "kvm.available"));
	assert_non_null(strstr(d.reasons[0].text, "hypervisor"));
	/* Malformed requests. */
	r.guest_phys_bits = 20;
	assert_int_equal(vmmu_decide(&h, &r, &d), VMMU_EINVAL);
	r.guest_phys_bits = 53;
	assert_int_equal(vmmu_decide(&h, &r, &d), VMMU_EINVAL);
	r.guest_phys_bits = 0;
	r.backend = (enum vmmu_backend_kind)42;
	assert_int_equal(vmmu_decide(&h, &r, &d), VMMU_EINVAL);
	assert_int_equal(vmmu_decide(NULL, &r, &d), VMMU_EINVAL);
	assert_int_equal(vmmu_decide(&h, NULL, &d), VMMU_EINVAL);
	assert_int_equal(vmmu_decide(&h, &r, NULL), VMMU_EINVAL);
}

static struct vmmu_host_info inferred(int family, int model, bool la57)
{
	struct vmmu_host_info h;

	memset(&h, 0, sizeof(h));
	h.cpu.vendor = VMMU_VENDOR_INTEL;
	h.cpu.family = family;
	h.cpu.model = model;
	h.feat.vmx = true;
	h.feat.la57 = la57;
	vmmu_infer_vmx_caps(&h.cpu, &h.feat, &h.vmx);
	return h;
}

static void test_inference_table(void **state)
{
	struct vmmu_host_info h;

	(void)state;
	h = inferred(6, 0x17, false);                   /* Penryn */
	assert_int_equal(h.vmx.src, VMMU_VMX_SRC_INFERRED);
	assert_false(h.vmx.ept);
	h = inferred(6, 0x1a, false);                   /* Nehalem */
	assert_true(h.vmx.ept && h.vmx.ept_wl4 && h.vmx.vpid);
	assert_false(h.vmx.ept_1g || h.vmx.ept_ad || h.vmx.unrestricted_guest);
	h = inferred(6, 0x2c, false);                   /* Westmere */
	assert_true(h.vmx.ept_1g && h.vmx.unrestricted_guest && !h.vmx.ept_ad);
	h = inferred(6, 0x3c, false);                   /* Haswell */
	assert_true(h.vmx.ept_ad && !h.vmx.pml);
	h = inferred(6, 0x4f, false);                   /* Broadwell */
	assert_true(h.vmx.pml);
	h = inferred(6, 0x6a, true);                    /* Ice Lake server */
	assert_true(h.vmx.ept_wl5);
	assert_string_equal(h.cpu.uarch, "Sunny Cove");
	h = inferred(6, 0x7e, false);                   /* client, no LA57 */
	assert_false(h.vmx.ept_wl5);
	h = inferred(6, 0x1c, false);                   /* Bonnell */
	assert_false(h.vmx.ept);
	h = inferred(6, 0x37, false);                   /* Silvermont */
	assert_true(h.vmx.ept && !h.vmx.ept_ad);
	h = inferred(15, 0x06, false);                  /* Presler */
	assert_true(h.vmx.src == VMMU_VMX_SRC_INFERRED && !h.vmx.ept);
	h = inferred(6, 0xff, false);                   /* not in the table */
	assert_int_equal(h.vmx.src, VMMU_VMX_SRC_NONE);
	assert_non_null(strstr(h.vmx.note, "--vmx-msrs"));
	/* The uarch is recorded even without VMX; caps stay empty. */
	memset(&h, 0, sizeof(h));
	h.cpu.vendor = VMMU_VENDOR_INTEL;
	h.cpu.family = 6;
	h.cpu.model = 0x3c;
	vmmu_infer_vmx_caps(&h.cpu, &h.feat, &h.vmx);
	assert_string_equal(h.cpu.uarch, "Haswell");
	assert_int_equal(h.vmx.src, VMMU_VMX_SRC_NONE);
}

/* A fake MSR device: fixed values, one index that fails. */
struct fake_msrs {
	uint64_t ctls, ctls2, cap, feature_control, vm_cr;
	uint32_t fail;
	int reads;
};

static int fake_rdmsr(void *ctx, uint32_t idx, uint64_t *val)
{
	struct fake_msrs *m = ctx;

	m->reads++;
	if (idx == m->fail)
		return -1;
	*val = idx == 0x482 ? m->ctls : idx == 0x48b ? m->ctls2 :
	       idx == 0x48c ? m->cap : idx == 0x3a ? m->feature_control :
	       idx == 0xc0010114 ? m->vm_cr : 0;
	return idx == 0x482 || idx == 0x48b || idx == 0x48c || idx == 0x3a ||
	       idx == 0xc0010114 ? 0 : -1;
}

static void test_msr_reader(void **state)
{
	struct fake_msrs m = { .ctls = 1ull << 63, .ctls2 = C2_ALL,
			       .cap = CAP_SKX, .feature_control = 0x5 };
	struct vmmu_host_info h;
	struct vmmu_decision d;

	(void)state;
	/* Readable: exact values replace the Haswell inference. */
	h = inferred(6, 0x3c, false);
	vmmu_read_vmx_msrs(&h, fake_rdmsr, &m, NULL);
	assert_int_equal(h.vmx.src, VMMU_VMX_SRC_MSR);
	assert_true(h.vmx.pml && h.vmx.ept_vpid_cap == CAP_SKX);
	assert_false(h.vmx.firmware_disabled);  /* locked, VMX enabled */
	assert_int_equal(m.reads, 4);
	/* No secondary controls: 0x48B and 0x48C are not even read. */
	m.ctls = 0;
	m.reads = 0;
	h = inferred(6, 0x3c, false);
	vmmu_read_vmx_msrs(&h, fake_rdmsr, &m, NULL);
	assert_int_equal(m.reads, 2);
	assert_true(h.vmx.src == VMMU_VMX_SRC_MSR && !h.vmx.ept);
	/* A failing read keeps the inference and says why. */
	m.ctls = 1ull << 63;
	m.fail = 0x48c;
	h = inferred(6, 0x3c, false);
	vmmu_read_vmx_msrs(&h, fake_rdmsr, &m, NULL);
	assert_int_equal(h.vmx.src, VMMU_VMX_SRC_INFERRED);
	assert_non_null(strstr(h.vmx.note, "rdmsr 0x48c failed"));
	assert_true(h.vmx.ept_ad && !h.vmx.pml);
	h.feat.maxphyaddr = 39;
	assert_int_equal(vmmu_decide(&h, &(struct vmmu_vm_request){ 0 }, &d),
			 0);
	assert_int_equal(d.backend, VMMU_BACKEND_EPT);
	assert_true(REASON(d, "vmx.source"));
	/* Firmware locked IA32_FEATURE_CONTROL with VMX off: no EPT. */
	m.fail = 0;
	m.feature_control = 0x1;
	h = inferred(6, 0x3c, false);
	h.feat.maxphyaddr = 39;
	vmmu_read_vmx_msrs(&h, fake_rdmsr, &m, NULL);
	assert_true(h.vmx.firmware_disabled && h.vmx.ept);
	assert_int_equal(vmmu_decide(&h, &(struct vmmu_vm_request){ 0 }, &d),
			 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "vmx.disabled"));
	m.feature_control = 0x0;        /* unlocked: the OS may enable it */
	vmmu_read_vmx_msrs(&h, fake_rdmsr, &m, NULL);
	assert_false(h.vmx.firmware_disabled);
	/* VM_CR.SVMDIS on an AMD host. */
	h = amd_host();
	m.vm_cr = 1u << 4;
	vmmu_read_svm_msrs(&h, fake_rdmsr, &m);
	assert_true(h.feat.svm_firmware_disabled);
	assert_int_equal(vmmu_decide(&h, &(struct vmmu_vm_request){ 0 }, &d),
			 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "svm.disabled"));
	m.vm_cr = 0;
	vmmu_read_svm_msrs(&h, fake_rdmsr, &m);
	assert_false(h.feat.svm_firmware_disabled);
	/* No MSR device at all, on a part the table does not know. */
	h = inferred(6, 0xff, false);
	h.feat.maxphyaddr = 39;
	vmmu_read_vmx_msrs(&h, NULL, NULL, "No permissions to install RDMSR "
			   "driver");
	assert_non_null(strstr(h.vmx.note, "No permissions"));
	assert_int_equal(vmmu_decide(&h, &(struct vmmu_vm_request){ 0 }, &d),
			 0);
	assert_int_equal(d.backend, VMMU_BACKEND_SHADOW);
	assert_true(REASON(d, "vmx.caps_unknown"));
}

static int write_tmp(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/vmmu-msrs-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int load(const char *text, struct vmmu_host_info *h)
{
	char path[64], err[256] = "";
	int rc;

	assert_int_equal(write_tmp(path, text), 0);
	rc = vmmu_load_vmx_msrs(h, path, err, sizeof(err));
	unlink(path);
	if (rc)
		assert_true(err[0] != '\0');
	return rc;
}

static void test_msr_files(void **state)
{
	struct vmmu_host_info h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(load("# Skylake-SP\n0x48b=0x0042ffef00000000\n"
			      "0x48c = 0x00000f0106734141\n", &h), 0);
	assert_int_equal(h.vmx.src, VMMU_VMX_SRC_FILE);
	assert_true(h.vmx.ept && h.vmx.pml && h.vmx.ept_ad && h.vmx.ept_1g);
	assert_true(h.vmx.ept_vpid_cap == CAP_SKX);
	memset(&h, 0, sizeof(h));
	assert_int_equal(load("{\"0x48b\": \"0x0000000200000000\", "
			      "\"0x48c\": \"0x6114141\"}", &h), 0);
	assert_true(h.vmx.ept && !h.vmx.vpid && h.vmx.ept_wl4 && h.vmx.ept_wb);
	/* Neither EPT nor VPID: 0x48c may be omitted. */
	assert_int_equal(load("0x48b=0x0000008000000000\n", &h), 0);
	assert_true(h.vmx.unrestricted_guest && !h.vmx.ept);
	assert_int_equal(load("0x48b=0x0000000200000000\n", &h), VMMU_EPARSE);
	assert_int_equal(load("0x48c=0x6114141\n", &h), VMMU_EPARSE);
	assert_int_equal(load("0x480=0x1\n0x48b=0\n", &h), VMMU_EPARSE);
	assert_int_equal(load("0x48b=zebra\n", &h), VMMU_EPARSE);
	assert_int_equal(load("0x48b\n", &h), VMMU_EPARSE);
	assert_int_equal(load("", &h), VMMU_EPARSE);
	/* Decimal means decimal: a leading 0 is not C's octal. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(load("0x48b=010\n", &h), 0);
	assert_true(h.vmx.procbased_ctls2 == 10);
	assert_int_equal(load("0x48b=08\n", &h), 0);
	assert_true(h.vmx.procbased_ctls2 == 8);
	assert_int_equal(load("0x48b=0x\n", &h), VMMU_EPARSE);
	assert_int_equal(load("0x48b=0x-1\n", &h), VMMU_EPARSE);
	/* A second value for the same MSR is a conflict, not an update. */
	assert_int_equal(load("0x48b=0x0\n0x48b=0x0000000200000000\n"
			      "0x48c=0x6114141\n", &h), VMMU_EPARSE);
	memset(&h, 0, sizeof(h));
	assert_int_equal(vmmu_load_vmx_msrs(&h, "/nonexistent/msrs", (char[64]){0},
					    64), VMMU_EIO);
}

static void test_names(void **state)
{
	enum vmmu_backend_kind k;

	(void)state;
	assert_int_equal(vmmu_backend_parse("ept", &k), 0);
	assert_int_equal(k, VMMU_BACKEND_EPT);
	assert_int_equal(vmmu_backend_parse("auto", &k), 0);
	assert_int_equal(k, VMMU_BACKEND_AUTO);
	assert_int_equal(vmmu_backend_parse("EPT", &k), -1);
	assert_int_equal(vmmu_backend_parse(NULL, &k), -1);
	assert_string_equal(vmmu_backend_name(VMMU_BACKEND_SHADOW), "shadow");
	/* A core-only VM (no second-level translation) is not "auto". */
	assert_true(VMMU_BACKEND_AUTO != VMMU_BACKEND_NONE);
	assert_string_equal(vmmu_backend_name(VMMU_BACKEND_NONE), "none");
	assert_string_equal(vmmu_backend_name(VMMU_BACKEND_AUTO), "auto");
	assert_int_equal(vmmu_backend_parse("none", &k), -1);
}

/* A zeroed request (backend NONE) asks for a choice, like AUTO. */
static void test_zeroed_request(void **state)
{
	struct vmmu_host_info h = amd_host();
	struct vmmu_vm_request r;
	struct vmmu_decision d;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(vmmu_decide(&h, &r, &d), 0);
	assert_int_equal(d.backend, VMMU_BACKEND_NPT);
	assert_false(d.refused);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msr_decode),
		cmocka_unit_test(test_auto_ept_full),
		cmocka_unit_test(test_ept_degrades),
		cmocka_unit_test(test_ept_unusable),
		cmocka_unit_test(test_five_level_requirement),
		cmocka_unit_test(test_phys_bits_beyond_host),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_model_only),
		cmocka_unit_test(test_npt),
		cmocka_unit_test(test_shadow_follows_cpu),
		cmocka_unit_test(test_strange_hosts),
		cmocka_unit_test(test_zeroed_request),
		cmocka_unit_test(test_inference_table),
		cmocka_unit_test(test_msr_reader),
		cmocka_unit_test(test_msr_files),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
