/* SPDX-License-Identifier: MIT */
/*
 * The guest's VM through vmmu's public API, as a VMM embedding vmmu makes
 * it: vmmu_vm_create on the kernel's platform (hv_pool.c), the EPT backend
 * configured from the real IA32_VMX_* MSRs (vmmu_ept_caps_from_vmx) or the
 * NPT backend from vmmu's decision (vmmu_npt_config_from_decision), RAM,
 * ROM and MMIO slots, one vCPU. Exits go to the backends' VMM-facing handlers
 * (vmmu_ept_handle_vmexit, vmmu_npt_handle_npf) with what the CPU put in
 * the VMCS/VMCB; the invalidations they ask for are executed on the CPU.
 */
#include "hv_vm.h"

#include "vmmu/dirty.h"
#include "vmmu/ept.h"
#include "vmmu/error.h"
#include "vmmu/npt.h"
#include "shadow-fallback/shadow.h"

/* The VMM's INVEPT (vmmu_ept_set_invept): done before the next entry. */
static void hv_invept(void *ctx, unsigned type, uint64_t eptp)
{
	struct hv_vm *hv = ctx;

	(void)type;
	(void)eptp;             /* the one EPTP the VMCS holds */
	hv->invept_pending = true;
}

static int ept_setup(struct hv_vm *hv, const struct vmmu_host_info *host)
{
	struct vmmu_ept_caps caps;
	int rc;

	rc = vmmu_ept_caps_from_vmx(&host->vmx, host->feat.maxphyaddr, &caps);
	if (rc) {
		hv_printf("hv: vmmu_ept_caps_from_vmx: %d\n", rc);
		return rc;
	}
	hv_printf("hv: ept caps ad %d pml %d 2m %d 1g %d xonly %d walk5 %d "
		  "maxphyaddr %u\n", caps.ad, caps.pml, caps.page_2m, caps.page_1g,
		  caps.execute_only,
		  caps.walk5, caps.maxphyaddr);
	rc = vmmu_ept_configure(hv->vm, &caps);
	if (!rc)
		rc = vmmu_ept_set_invept(hv->vm, hv_invept, hv);
	return rc;
}

static int npt_setup(struct hv_vm *hv, const struct vmmu_host_info *host,
		     const struct vmmu_decision *d)
{
	struct vmmu_npt_config cfg;

	vmmu_npt_config_from_decision(&cfg, host, d);
	hv_printf("hv: npt config levels %u gbpages %d maxphyaddr %u nxe %d "
		  "asid %u flush-by-asid %d\n", cfg.levels, cfg.gbpages,
		  cfg.host_maxphyaddr, cfg.host_nxe, cfg.asid, cfg.flush_by_asid);
	return vmmu_npt_configure(hv->vm, &cfg);
}

static int add_slots(struct hv_vm *hv, const struct hv_slot *slots,
		     unsigned nslots)
{
	struct vmmu_slot_desc desc;
	unsigned i;
	int rc;

	for (i = 0; i < nslots; i++) {
		memset(&desc, 0, sizeof(desc));
		desc.base = mk_gpa(slots[i].base);
		desc.size = slots[i].size;
		desc.type = slots[i].type;
		desc.max_order = slots[i].max_order;
		desc.memtype = VMMU_MEMTYPE_DEFAULT;
		rc = vmmu_vm_add_slot_ex(hv->vm, &desc);
		if (rc) {
			hv_printf("hv: vmmu_vm_add_slot_ex 0x%lx: %d\n",
				  slots[i].base, rc);
			return rc;
		}
	}
	return 0;
}

int hv_vm_create(struct hv_vm *hv, enum vmmu_backend_kind kind,
		 const struct vmmu_host_info *host,
		 const struct vmmu_decision *d,
		 const struct hv_slot *slots, unsigned nslots)
{
	int rc;

	memset(hv, 0, sizeof(*hv));
	hv->ept = kind == VMMU_BACKEND_EPT;
	hv->shadow = kind == VMMU_BACKEND_SHADOW;
	rc = vmmu_vm_create(hv_platform(), &hv->vm);
	if (rc) {
		hv_printf("hv: vmmu_vm_create: %d\n", rc);
		return rc;
	}
	rc = vmmu_vm_set_backend(hv->vm, kind, hv->ept ? &vmmu_backend_ept :
				 hv->shadow ? &vmmu_backend_shadow :
				 &vmmu_backend_npt);
	/* Shadow: guest page-table writes go out of sync (L1) or unshadow
	 * the page; the kernel has no emulator for the others. */
	if (!rc && hv->shadow)
		rc = vmmu_shadow_set_oos(hv->vm, true);
	else if (!rc)
		rc = hv->ept ? ept_setup(hv, host) : npt_setup(hv, host, d);
	if (!rc && hv_boot_dirty != VMMU_DIRTY_AUTO) {
		rc = vmmu_dirty_set_mode(hv->vm, hv_boot_dirty);
		hv_printf("hv: vmmu.dirty=%s: %d\n",
			  vmmu_dirty_log_name(hv_boot_dirty), rc);
	}
	if (!rc)
		rc = add_slots(hv, slots, nslots);
	if (!rc)
		rc = vmmu_vcpu_create(hv->vm, &hv->vcpu);
	if (rc)
		hv_printf("hv: vm setup failed: %d\n", rc);
	return rc;
}

uint64_t hv_vm_pointer(const struct hv_vm *hv)
{
	hpa_t root = { 0 };

	if (hv->shadow)
		return vmmu_shadow_root(hv->vcpu, &root) ? 0 : root.v;
	return hv->ept ? vmmu_ept_eptp(hv->vm) : vmmu_npt_ncr3(hv->vm);
}


/* ASID 0 is the host's (APM Vol. 2 15.5.1): the shadow backend tags no
 * TLB (tlb_vpid 0), so the kernel takes 1, flushed at every VMRUN. */
uint32_t hv_vm_asid(const struct hv_vm *hv)
{
	return hv->shadow && !hv->vcpu->tlb_vpid ? 1 : hv->vcpu->tlb_vpid;
}

static const char *const npf_names[VMMU_NPF_OUTCOMES_] = {
	"first-touch", "recalc", "log-dirty", "spurious", "mmio-device",
	"mmio-vmm", "rom-write", "unmapped", "bad-info", "rsvd", "unhandled",
};

/* The EPT handler has no outcome code: name the counter it moved. */
static const char *ept_what(const struct vmmu_ept_stats *a,
			    const struct vmmu_ept_stats *b)
{
	if (b->populated != a->populated)
		return "first-touch";
	if (b->logdirty_faults != a->logdirty_faults)
		return "log-dirty";
	if (b->recalcs != a->recalcs)
		return "recalc";
	if (b->real_misconfigs != a->real_misconfigs)
		return "real-misconfig";
	return "no-change";
}

void hv_vm_nested_exit(struct hv_vm *hv, const struct hv_exit *e,
		       struct hv_resolution *out)
{
	enum vmmu_npf_outcome o = VMMU_NPF_UNHANDLED;
	struct vmmu_ept_stats before;

	memset(out, 0, sizeof(*out));
	if (hv->ept) {
		before = *vmmu_ept_stats(hv->vm);
		/* SDM Vol. 3C 28.2.1: the linear-address field only when
		 * qualification bit 7 says it is valid (misconfig: none). */
		out->rc = vmmu_ept_handle_vmexit(hv->vcpu, (uint32_t)e->reason,
						 e->info, e->gpa,
						 e->gla_valid ? e->gla : 0,
						 &out->res);
		out->what = ept_what(&before, vmmu_ept_stats(hv->vm));
		return;
	}
	out->rc = vmmu_npt_handle_npf(hv->vcpu, e->info, e->gpa, NULL,
				      &out->res, &o);
	out->what = o < VMMU_NPF_OUTCOMES_ ? npf_names[o] : "?";
}

/*
 * EPT: vmmu calls hv_invept for every INVEPT its tables need; the kernel
 * executes one before the next VM entry (vmmu_ept_set_invept allows that
 * for a processor outside VMX non-root operation, which this one is
 * whenever vmmu runs: during setup or in an exit's handler). NPT: the
 * TLB_CONTROL vmmu wants for this VMRUN (APM 15.16.1), read and cleared
 * by vmmu_npt_vmrun_tlb_control.
 */
enum vmmu_dirty_log hv_boot_dirty = VMMU_DIRTY_AUTO;

void hv_vm_pml_enter(struct hv_vm *hv, const struct hv_arch *arch)
{
	hpa_t page;
	bool on;

	if (hv->ept && arch->pml &&
	    vmmu_ept_pml_state(hv->vcpu, &page, &on) == VMMU_OK)
		arch->pml(page.v, on, vmmu_ept_pml_index(hv->vcpu));
}

void hv_vm_pml_exit(struct hv_vm *hv, const struct hv_exit *e)
{
	if (hv->ept && e->pml_valid)
		vmmu_ept_pml_index_set(hv->vcpu, e->pml_index);
}

void hv_vm_sync_tlb(struct hv_vm *hv, const struct hv_arch *arch)
{
	unsigned tc;

	if (hv->shadow) {
		arch->set_cr3(hv_vm_pointer(hv));
		return;
	}
	if (hv->ept) {
		if (hv->invept_pending) {
			hv->invept_pending = false;
			arch->flush(1);
		}
		return;
	}
	tc = vmmu_npt_vmrun_tlb_control(hv->vcpu);
	if (tc)
		arch->flush(tc);
}

const char *hv_action_name(enum vmmu_action a)
{
	static const char *const names[] = { "retry", "done", "inject", "to-vmm" };

	return (unsigned)a < 4 ? names[a] : "?";
}

const char *hv_reason_name(enum vmmu_vmm_reason r)
{
	static const char *const names[] = { "none", "mmio", "rom-write",
					     "unmapped", "unhandled" };

	return (unsigned)r < 5 ? names[r] : "?";
}

