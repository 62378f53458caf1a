/* SPDX-License-Identifier: MIT */
/*
 * The paging-mode policy: a pure function from a host description and one
 * VM's request to a backend, its reasons and its degradations.
 *
 *   EPT  when the CPU can run it for this VM: the "enable EPT" control,
 *        a 4-level walk, write-back paging-structure memory, INVEPT
 *        (SDM Vol 3D A.10), and a 5-level walk when the guest needs LA57
 *        or more than 48 bits of guest-physical space;
 *   NPT  otherwise, when SVM reports nested paging (APM Vol 3 E.4.9,
 *        CPUID Fn8000_000A EDX[0]);
 *   shadow otherwise.
 * Features degrade, the VM does not: a missing optional capability shows up
 * in "degraded", never as a refusal. Only an explicit override that the
 * host cannot honour is refused.
 * Freestanding (cpuid_fs.h): the bare-metal kernel decides with it too.
 */
#include <string.h>

#include "vmmu/error.h"
#include "cpuid_fs.h"

#define PHYS_BITS_4LEVEL 48

static void add(struct vmmu_detect_item *items, size_t *n, const char *code,
		const char *fmt, va_list ap)
{
	if (*n >= VMMU_DETECT_MAX_ITEMS)
		return;
	items[*n].code = code;
	vmmu_vfmt(items[*n].text, sizeof(items[*n].text), fmt, ap);
	(*n)++;
}

static void reason(struct vmmu_decision *d, const char *code,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(d->reasons, &d->n_reasons, code, fmt, ap);
	va_end(ap);
}

static void degrade(struct vmmu_decision *d, const char *code,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(d->degraded, &d->n_degraded, code, fmt, ap);
	va_end(ap);
}

struct vm_needs {
	unsigned phys_bits;     /* guest-physical width */
	bool five_level;        /* a 5-level second-level walk is needed */
};

static struct vm_needs needs_of(const struct vmmu_host_info *h,
				const struct vmmu_vm_request *r)
{
	struct vm_needs n;

	/*
	 * By default the guest gets the host's width, capped at what a
	 * 4-level walk covers: more must be asked for, because it needs a
	 * 5-level walk (KVM caps its default the same way).
	 */
	n.phys_bits = r->guest_phys_bits ? r->guest_phys_bits
		    : h->feat.maxphyaddr < PHYS_BITS_4LEVEL ? h->feat.maxphyaddr
		    : PHYS_BITS_4LEVEL;
	n.five_level = r->guest_la57 || n.phys_bits > PHYS_BITS_4LEVEL;
	return n;
}

/* Requirements shared by both hardware-assisted modes. */
static bool hw_common_ok(const struct vmmu_host_info *h,
			 const struct vmmu_vm_request *r,
			 const struct vm_needs *n, struct vmmu_decision *d,
			 const char *mode)
{
	bool ok = true;

	if (n->phys_bits > h->feat.maxphyaddr) {
		reason(d, "hw.phys_bits", "%s: the guest wants %u physical-"
		       "address bits but the CPU's MAXPHYADDR is %u; the CPU "
		       "checks guest paging entries against its own width",
		       mode, n->phys_bits, h->feat.maxphyaddr);
		ok = false;
	}
	if (r->guest_la57 && !h->feat.la57) {
		reason(d, "hw.no_la57", "%s: the guest uses 5-level paging "
		       "but CPUID.7.0:ECX.LA57[bit 16] is clear", mode);
		ok = false;
	}
	return ok;
}

/* What asks for a 5-level walk: "guest LA57", "49-bit guest-physical space". */
static void five_level_why(const struct vmmu_vm_request *r,
			   const struct vm_needs *n, char *buf, size_t len)
{
	bool wide = n->phys_bits > PHYS_BITS_4LEVEL;

	vmmu_fmt(buf, len, "%s%s%.0u%s", r->guest_la57 ? "guest LA57" : "",
		 r->guest_la57 && wide ? " and " : "", wide ? n->phys_bits : 0,
		 wide ? "-bit guest-physical space" : "");
}

/* " (a hypervisor, KVMKVMKVM, is present ... does not expose VMX)" */
static void hidden_by(const struct vmmu_cpu_features *f, const char *what,
		      char *buf, size_t len)
{
	buf[0] = '\0';
	if (f->hypervisor)
		vmmu_fmt(buf, len, " (a hypervisor%s%.12s%s is present, "
			 "CPUID.1:ECX[bit 31], and does not expose %s)",
			 f->hypervisor_vendor[0] ? ", " : "",
			 f->hypervisor_vendor,
			 f->hypervisor_vendor[0] ? "," : "", what);
}

static bool ept_ok(const struct vmmu_host_info *h,
		   const struct vmmu_vm_request *r, const struct vm_needs *n,
		   struct vmmu_decision *d)
{
	const struct vmmu_vmx_caps *c = &h->vmx;

	if (!h->feat.vmx) {
		char hv[128];

		hidden_by(&h->feat, "VMX", hv, sizeof(hv));
		reason(d, "vmx.absent", "ept: CPUID.1:ECX.VMX[bit 5] is clear%s",
		       hv);
		return false;
	}
	if (c->firmware_disabled) {
		reason(d, "vmx.disabled", "ept: IA32_FEATURE_CONTROL (0x3A) is "
		       "locked with VMX outside SMX off: the firmware disabled "
		       "VMX (SDM Vol 3C 24.7)");
		return false;
	}
	if (c->src == VMMU_VMX_SRC_NONE) {
		reason(d, "vmx.caps_unknown", "ept: %s", c->note);
		return false;
	}
	if (!c->ept) {
		reason(d, "ept.absent", "ept: the \"enable EPT\" control "
		       "cannot be set (IA32_VMX_PROCBASED_CTLS2 bit 33; %s)",
		       vmmu_vmx_source_name(c->src));
		return false;
	}
	if (!c->ept_wl4 || !c->ept_wb || !c->invept ||
	    !(c->invept_single || c->invept_all)) {
		reason(d, "ept.unusable", "ept: IA32_VMX_EPT_VPID_CAP lacks "
		       "%s%s%s", !c->ept_wl4 ? "the 4-level walk (bit 6) " : "",
		       !c->ept_wb ? "WB paging structures (bit 14) " : "",
		       (!c->invept || !(c->invept_single || c->invept_all))
		       ? "INVEPT (bits 20, 25, 26)" : "");
		return false;
	}
	if (n->five_level && !c->ept_wl5) {
		char why[64];

		five_level_why(r, n, why, sizeof(why));
		reason(d, "ept.no_wl5", "ept: the VM needs a 5-level EPT walk "
		       "(%s) and IA32_VMX_EPT_VPID_CAP bit 7 is clear", why);
		return false;
	}
	return hw_common_ok(h, r, n, d, "ept");
}

static bool npt_ok(const struct vmmu_host_info *h,
		   const struct vmmu_vm_request *r, const struct vm_needs *n,
		   struct vmmu_decision *d)
{
	const struct vmmu_cpu_features *f = &h->feat;

	if (!f->svm) {
		char hv[128];

		hidden_by(f, "SVM", hv, sizeof(hv));
		reason(d, "svm.absent", "npt: CPUID 0x80000001:ECX.SVM[bit 2] "
		       "is clear%s", hv);
		return false;
	}
	if (f->svm_firmware_disabled) {
		reason(d, "svm.disabled", "npt: VM_CR (0xC0010114) SVMDIS is "
		       "set: the firmware disabled SVM (APM Vol 2 15.30.1)");
		return false;
	}
	if (!f->svm_leaf) {
		reason(d, "svm.no_leaf", "npt: the SVM feature leaf 0x8000000A "
		       "is not reported (max extended leaf 0x%x)",
		       f->max_ext_leaf);
		return false;
	}
	if (!f->npt) {
		reason(d, "npt.absent", "npt: CPUID 0x8000000A:EDX.NP[bit 0] "
		       "is clear");
		return false;
	}
	/* The nested walk has the host's depth: 5 levels need host LA57. */
	if (n->five_level && !f->la57) {
		char why[64];

		five_level_why(r, n, why, sizeof(why));
		reason(d, "npt.no_5level", "npt: the VM needs a 5-level nested "
		       "walk (%s) and the CPU has no LA57", why);
		return false;
	}
	return hw_common_ok(h, r, n, d, "npt");
}

/* EPT and NPT host every guest mode the CPU itself has. */
static unsigned hw_guest_modes(const struct vmmu_cpu_features *f)
{
	return VMMU_GUEST_MODE_UNPAGED | VMMU_GUEST_MODE_2LEVEL |
	       VMMU_GUEST_MODE_PAE | VMMU_GUEST_MODE_4LEVEL |
	       (f->la57 ? VMMU_GUEST_MODE_5LEVEL : 0);
}

static void ept_features(const struct vmmu_host_info *h,
			 const struct vm_needs *n, struct vmmu_decision *d)
{
	const struct vmmu_vmx_caps *c = &h->vmx;

	d->levels = n->five_level ? 5 : 4;
	d->guest_modes = hw_guest_modes(&h->feat);
	d->nx = true;           /* EPT's execute permission, guest XD bits */
	d->leaf_2m = c->ept_2m;
	d->leaf_1g = c->ept_1g;
	d->exec_only = c->ept_xonly;
	d->tagged_tlb = c->vpid;
	if (!c->ept_2m)
		degrade(d, "ept.no_2m", "no 2 MiB EPT leaves (EPT_VPID_CAP bit "
			"16): guest memory is mapped with 4 KiB pages");
	if (!c->ept_1g)
		degrade(d, "ept.no_1g", "no 1 GiB EPT leaves (EPT_VPID_CAP bit "
			"17): 1 GiB guest regions are mapped with %s leaves",
			c->ept_2m ? "2 MiB" : "4 KiB");
	if (c->pml && c->ept_ad) {
		d->dirty_log = VMMU_DIRTY_PML;
	} else if (c->ept_ad) {
		d->dirty_log = VMMU_DIRTY_AD_BITS;
		degrade(d, "ept.no_pml", "no page-modification logging "
			"(PROCBASED_CTLS2 bit 49): dirty pages are found by "
			"scanning EPT dirty flags");
	} else {
		d->dirty_log = VMMU_DIRTY_WRITE_PROTECT;
		degrade(d, "ept.no_ad", "no EPT accessed/dirty flags "
			"(EPT_VPID_CAP bit 21)%s: dirty logging write-protects "
			"pages and takes EPT violations",
			c->pml ? "; PML needs them too" : "");
	}
	if (!c->ept_xonly)
		degrade(d, "ept.no_xonly", "no execute-only EPT entries "
			"(EPT_VPID_CAP bit 0): execute-only requests map "
			"readable+executable");
	if (!c->vpid)
		degrade(d, "vmx.no_vpid", "no VPID (PROCBASED_CTLS2 bit 37): "
			"the TLB is flushed on every VM entry and exit");
	if (!c->unrestricted_guest)
		degrade(d, "vmx.no_unrestricted_guest", "no unrestricted guest "
			"(PROCBASED_CTLS2 bit 39): real-mode and unpaged guest "
			"code is emulated");
}

static void npt_features(const struct vmmu_host_info *h,
			 const struct vm_needs *n, struct vmmu_decision *d)
{
	const struct vmmu_cpu_features *f = &h->feat;

	d->levels = n->five_level ? 5 : 4;
	d->guest_modes = hw_guest_modes(f);
	d->nx = f->nx;
	d->leaf_2m = true;
	d->leaf_1g = f->pdpe1gb;
	d->exec_only = false;
	d->tagged_tlb = true;   /* ASIDs are part of SVM itself */
	d->dirty_log = VMMU_DIRTY_AD_BITS;
	if (!f->pdpe1gb)
		degrade(d, "npt.no_1g", "no 1 GiB pages (CPUID 0x80000001:"
			"EDX[bit 26]): 1 GiB guest regions use 2 MiB NPT leaves");
	degrade(d, "npt.no_xonly", "NPT entries cannot express execute-only "
		"(present implies readable)");
	if (!f->flush_by_asid)
		degrade(d, "svm.no_flush_by_asid", "no flush-by-ASID "
			"(0x8000000A:EDX[bit 6]): TLB flushes of one guest flush "
			"every ASID");
	if (!f->nrips)
		degrade(d, "svm.no_nrips", "no next-RIP save (0x8000000A:EDX"
			"[bit 3]): the emulator decodes to skip instructions");
	if (!f->decode_assists)
		degrade(d, "svm.no_decode_assists", "no decode assists "
			"(0x8000000A:EDX[bit 7]): #NPF and CR exits are decoded "
			"in software");
	if (!f->gmet)
		degrade(d, "svm.no_gmet", "no guest-mode execute trap "
			"(0x8000000A:EDX[bit 17]): no user/supervisor execute "
			"split in NPT");
}

/*
 * Shadow tables are walked by the host CPU, so they take its own paging
 * format: 4-level (5 with LA57) with long mode, PAE without it, 32-bit
 * paging without PAE. The guest modes follow the CPU too: a guest cannot
 * use long mode or PAE that the CPU does not have, with or without shadow
 * paging.
 */
static void shadow_format(const struct vmmu_cpu_features *f,
			  const struct vmmu_vm_request *r,
			  struct vmmu_decision *d)
{
	d->guest_modes = VMMU_GUEST_MODE_UNPAGED | VMMU_GUEST_MODE_2LEVEL;
	if (f->lm) {
		d->levels = r->guest_la57 ? 5 : 4;
		d->guest_modes |= VMMU_GUEST_MODE_PAE | VMMU_GUEST_MODE_4LEVEL |
				  (f->la57 ? VMMU_GUEST_MODE_5LEVEL : 0);
		d->leaf_2m = true;
		d->leaf_1g = f->pdpe1gb;
	} else if (f->pae) {
		d->levels = 3;
		d->guest_modes |= VMMU_GUEST_MODE_PAE;
		d->leaf_2m = true;
	} else {
		d->levels = 2;
		d->leaf_4m = f->pse;
	}
	d->nx = f->nx && (f->pae || f->lm);     /* XD needs PAE entries */
}

static void shadow_features(const struct vmmu_host_info *h,
			    const struct vmmu_vm_request *r,
			    struct vmmu_decision *d)
{
	const struct vmmu_cpu_features *f = &h->feat;

	shadow_format(f, r, d);
	d->exec_only = false;
	/* VM entries keep TLB entries of other tags: ASIDs (SVM), VPIDs. */
	d->tagged_tlb = f->svm || (f->vmx && h->vmx.vpid) || f->pcid;
	d->dirty_log = VMMU_DIRTY_WRITE_PROTECT;
	degrade(d, "shadow.exits", "guest page-table writes, CR3 loads and "
		"INVLPG are intercepted and emulated: MMU-heavy guests run "
		"slower than with EPT/NPT");
	degrade(d, "shadow.dirty_wp", "dirty logging write-protects shadow "
		"entries (no hardware dirty log)");
	if (!f->lm)
		degrade(d, "shadow.no_long_mode", "no long mode (CPUID "
			"0x80000001:EDX[bit 29]): %s shadow tables; guests run "
			"in %s paging only", f->pae ? "3-level PAE" : "2-level "
			"32-bit", f->pae ? "32-bit or PAE" : "32-bit");
	if (!f->lm && !f->pae)
		degrade(d, "shadow.no_pae", "no PAE (CPUID.1:EDX[bit 6]): %s",
			f->pse ? "large guest pages are shadowed with 4 MiB "
			"entries" : "no large pages (no PSE either): every "
			"guest page is shadowed with 4 KiB entries");
	if (!d->nx)
		degrade(d, "shadow.no_nx", "no execute-disable (CPUID "
			"0x80000001:EDX[bit 20]%s): guest XD bits cannot be "
			"enforced", f->nx ? " without PAE entries" : "");
	if (f->lm && !f->pdpe1gb)
		degrade(d, "shadow.no_1g", "no 1 GiB pages: 1 GiB guest pages "
			"are shadowed with 2 MiB entries");
	if (r->guest_la57 && !f->la57)
		degrade(d, "shadow.la57_model", "the CPU has no LA57: a 5-level "
			"guest runs only in vmmu's software model");
}

static void model_features(const struct vm_needs *n, struct vmmu_decision *d)
{
	d->levels = n->five_level ? 5 : 4;
	d->guest_modes = VMMU_GUEST_MODE_UNPAGED | VMMU_GUEST_MODE_2LEVEL |
			 VMMU_GUEST_MODE_PAE | VMMU_GUEST_MODE_4LEVEL |
			 VMMU_GUEST_MODE_5LEVEL;
	d->leaf_2m = d->leaf_1g = d->tagged_tlb = d->nx = true;
	d->exec_only = d->backend == VMMU_BACKEND_EPT;
	d->dirty_log = d->backend == VMMU_BACKEND_EPT ? VMMU_DIRTY_PML
		     : d->backend == VMMU_BACKEND_NPT ? VMMU_DIRTY_AD_BITS
		     : VMMU_DIRTY_WRITE_PROTECT;
}

/* Facts that explain a decision without changing it. */
static void context_reasons(const struct vmmu_host_info *h,
			    struct vmmu_decision *d)
{
	const struct vmmu_kvm_info *k = &h->kvm;

	if (d->backend == VMMU_BACKEND_EPT && h->vmx.src != VMMU_VMX_SRC_MSR)
		reason(d, "vmx.source", "VMX capabilities: %s", h->vmx.note);
	if (!k->probed)
		return;
	if (!k->present) {
		reason(d, "kvm.absent", "/dev/kvm cannot be opened (%s): "
		       "guests run only in vmmu's software model",
		       k->open_error);
		return;
	}
	reason(d, "kvm.available", "/dev/kvm is available to run guests "
	       "(API %d, module %s, %d vCPUs recommended)%s", k->api_version,
	       k->module[0] ? k->module : "unknown", k->cap_nr_vcpus,
	       vmmu_streq(k->module, "kvm_pvm") ? "; kvm_pvm is a shadow-paging "
	       "KVM that needs no VMX/SVM" : "");
	if (k->param_ept == 0)
		reason(d, "kvm.param", "kvm_intel.ept=N: the host's KVM runs "
		       "its own guests without EPT");
	if (k->param_npt == 0)
		reason(d, "kvm.param", "kvm_amd.npt=0: the host's KVM runs "
		       "its own guests without NPT");
}

static int validate(const struct vmmu_vm_request *r, struct vmmu_decision *d)
{
	if (r->backend != VMMU_BACKEND_AUTO && r->backend != VMMU_BACKEND_EPT &&
	    r->backend != VMMU_BACKEND_NPT && r->backend != VMMU_BACKEND_SHADOW) {
		reason(d, "request.backend", "unknown backend %d",
		       (int)r->backend);
		return VMMU_EINVAL;
	}
	if (r->guest_phys_bits &&
	    (r->guest_phys_bits < 32 || r->guest_phys_bits > 52)) {
		reason(d, "request.phys_bits", "guest physical-address width "
		       "%u is outside 32..52 (SDM Vol 3A 4.1.4)",
		       r->guest_phys_bits);
		return VMMU_EINVAL;
	}
	return 0;
}

static int refuse(struct vmmu_decision *d, enum vmmu_backend_kind want)
{
	d->refused = true;
	d->backend = want;
	reason(d, "override.refused", "backend %s was requested but this host "
	       "cannot run it for this VM (see the reasons above); use "
	       "--model-only to run it in the software model",
	       vmmu_backend_name(want));
	return VMMU_ENOTSUP;
}

static void choose_model_only(const struct vmmu_vm_request *r,
			      const struct vm_needs *n,
			      struct vmmu_decision *d)
{
	d->backend = r->backend;
	model_features(n, d);
	reason(d, "model.only", "model-only: the %s backend runs in vmmu's "
	       "software MMU model whatever this host supports; nothing runs "
	       "on the real MMU", vmmu_backend_name(r->backend));
}

int vmmu_decide(const struct vmmu_host_info *h,
		const struct vmmu_vm_request *req, struct vmmu_decision *d)
{
	struct vmmu_vm_request auto_req;
	const struct vmmu_vm_request *r = req;
	struct vm_needs n;
	bool ept, npt;
	int rc;

	if (!h || !req || !d)
		return VMMU_EINVAL;
	if (req->backend == VMMU_BACKEND_NONE) {     /* a zeroed request */
		auto_req = *req;
		auto_req.backend = VMMU_BACKEND_AUTO;
		r = &auto_req;
	}
	memset(d, 0, sizeof(*d));
	d->backend = VMMU_BACKEND_SHADOW;
	d->model_only = r->model_only;
	rc = validate(r, d);
	if (rc)
		return rc;
	n = needs_of(h, r);
	d->phys_bits = n.phys_bits;
	if (!r->guest_phys_bits && h->feat.maxphyaddr > PHYS_BITS_4LEVEL)
		reason(d, "request.phys_default", "guest-physical space defaults "
		       "to %u bits (the host has %u); ask for more explicitly, "
		       "it needs a 5-level walk", n.phys_bits,
		       h->feat.maxphyaddr);
	if (r->model_only && r->backend != VMMU_BACKEND_AUTO) {
		choose_model_only(r, &n, d);
		return 0;
	}
	ept = (r->backend == VMMU_BACKEND_AUTO ||
	       r->backend == VMMU_BACKEND_EPT) && ept_ok(h, r, &n, d);
	npt = !ept && (r->backend == VMMU_BACKEND_AUTO ||
		       r->backend == VMMU_BACKEND_NPT) && npt_ok(h, r, &n, d);
	if (r->backend == VMMU_BACKEND_EPT && !ept)
		return refuse(d, VMMU_BACKEND_EPT);
	if (r->backend == VMMU_BACKEND_NPT && !npt)
		return refuse(d, VMMU_BACKEND_NPT);
	if (ept) {
		d->backend = VMMU_BACKEND_EPT;
		reason(d, "ept.usable", "EPT: %u-level walk, WB paging "
		       "structures and INVEPT are supported (%s)",
		       n.five_level ? 5 : 4, vmmu_vmx_source_name(h->vmx.src));
		ept_features(h, &n, d);
	} else if (npt) {
		d->backend = VMMU_BACKEND_NPT;
		reason(d, "npt.usable", "NPT: SVM with nested paging "
		       "(CPUID 0x8000000A:EDX.NP), %u ASIDs", h->feat.svm_nasid);
		npt_features(h, &n, d);
	} else {
		reason(d, r->backend == VMMU_BACKEND_SHADOW ? "override.accepted"
		       : "shadow.fallback", r->backend == VMMU_BACKEND_SHADOW ?
		       "shadow paging requested; it needs no VMX/SVM support" :
		       "shadow paging: neither EPT nor NPT can run this VM here");
		shadow_features(h, r, d);
	}
	if (r->backend == VMMU_BACKEND_EPT || r->backend == VMMU_BACKEND_NPT)
		reason(d, "override.accepted", "backend %s requested and "
		       "supported", vmmu_backend_name(r->backend));
	if (r->model_only)
		reason(d, "model.only", "model-only: the chosen backend runs in "
		       "vmmu's software MMU model");
	context_reasons(h, d);
	return 0;
}
