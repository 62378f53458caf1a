/* SPDX-License-Identifier: MIT */
/*
 * Shadow paging in the kernel's VM (hv_vm.h): the vCPU's registers as the
 * guest starts, the intercepted #PF handed to vmmu_shadow_handle_pf (and
 * the path it took, read from vmmu_shadow_stats), MOV to/from CR3 and
 * INVLPG done for the guest through vmmu, and the backend's counters. The
 * CPU runs the guest on vmmu_shadow_root (hv_vm_pointer, reloaded before
 * every entry by hv_vm_sync_tlb).
 */
#include "hv_vm.h"

#include "vmmu/error.h"
#include "shadow-fallback/shadow.h"

/* The order of tests/shadow: EFER and CR4 first, CR3, then CR0.PG. */
int hv_vm_shadow_start(struct hv_vm *hv, uint64_t cr0, uint64_t cr4,
		       uint64_t efer, uint64_t cr3)
{
	int rc = vmmu_vcpu_set_cr(hv->vcpu, VMMU_EFER, efer);

	rc = rc ? rc : vmmu_vcpu_set_cr(hv->vcpu, VMMU_CR4, cr4);
	rc = rc ? rc : vmmu_vcpu_set_cr(hv->vcpu, VMMU_CR3, cr3);
	rc = rc ? rc : vmmu_vcpu_set_cr(hv->vcpu, VMMU_CR0, cr0);
	if (rc)
		hv_printf("hv: shadow vcpu registers: %d\n", rc);
	return rc;
}

/* The path a shadow #PF took: the first counter that moved. */
static const char *shadow_what(const struct vmmu_shadow_stats *a,
			       const struct vmmu_shadow_stats *b)
{
	if (b->oos_marked != a->oos_marked)
		return "out-of-sync";
	if (b->unshadowed != a->unshadowed)
		return "unshadow";
	if (b->emulated_writes != a->emulated_writes ||
	    b->other_emulated != a->other_emulated)
		return "needs-emulation";
	if (b->guest_faults != a->guest_faults)
		return "guest-fault";
	if (b->mmio != a->mmio)
		return "mmio";
	if (b->ld_write_faults != a->ld_write_faults)
		return "log-dirty";
	if (b->fills != a->fills)
		return "fill";
	if (b->root_switches != a->root_switches)
		return "root-reload";
	return "no-change";
}

void hv_vm_shadow_pf(struct hv_vm *hv, const struct hv_exit *e,
		     struct hv_resolution *out)
{
	struct vmmu_shadow_stats before, after;

	memset(out, 0, sizeof(*out));
	vmmu_shadow_stats(hv->vm, &before);
	out->rc = vmmu_shadow_handle_pf(hv->vcpu, mk_gva(e->gla),
					(uint32_t)e->info, &out->res);
	vmmu_shadow_stats(hv->vm, &after);
	out->what = shadow_what(&before, &after);
}

/* hv_regs in the order of SDM Vol. 3C Table 28-3 (RSP is the VMCS's). */
static uint64_t *gpr_of(struct hv_regs *r, unsigned n)
{
	uint64_t *const at[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, NULL,
				   &r->rbp, &r->rsi, &r->rdi, &r->r8, &r->r9,
				   &r->r10, &r->r11, &r->r12, &r->r13, &r->r14,
				   &r->r15 };

	return n < 16 ? at[n] : NULL;
}

/*
 * MOV to/from CR3 and INVLPG, done by the VMM for the guest: the guest's
 * CR3 (never the shadow root) to the register, or vmmu told of the new
 * CR3 (vmmu_vcpu_set_cr: out-of-sync L1s resynced, the root switched) or
 * of the INVLPG (vmmu_vcpu_invlpg); the root is reloaded at entry.
 */
int hv_vm_shadow_event(struct hv_vm *hv, const struct hv_exit *e,
		       struct hv_regs *regs)
{
	uint64_t *gpr = e->kind == HV_EXIT_CR3 ? gpr_of(regs, e->gpr) : NULL;
	int rc;

	if (e->kind == HV_EXIT_INVLPG) {
		rc = vmmu_vcpu_invlpg(hv->vcpu, mk_gva(e->gla));
	} else if (!gpr) {
		rc = -1;
	} else if (e->cr_read) {
		*gpr = hv->vcpu->paging.cr3;
		rc = 0;
	} else {
		rc = vmmu_vcpu_set_cr(hv->vcpu, VMMU_CR3, *gpr);
	}
	hv_printf("hv: vmm: %s 0x%lx: %d\n", e->kind == HV_EXIT_INVLPG ? "invlpg" :
		  e->cr_read ? "guest cr3 read" : "guest cr3 load",
		  e->kind == HV_EXIT_INVLPG ? e->gla : gpr ? *gpr : 0, rc);
	return rc;
}

/* The backend's counters and vmmu_shadow_check: 0 when it passes. */
int hv_vm_shadow_report(struct hv_vm *hv)
{
	struct vmmu_shadow_stats st;
	const char *why = "";
	int rc = vmmu_shadow_check(hv->vm, &why);

	vmmu_shadow_stats(hv->vm, &st);
	hv_printf("hv: shadow stats: pool %lu in-use %lu shadows %lu fills %lu "
		  "guest-faults %lu emulated %lu write-protected %lu unshadowed %lu "
		  "root-switches %lu mmio %lu oos %lu resyncs %lu oos-entries %lu "
		  "ld-faults %lu ld-protected %lu ld-rearmed %lu\n", st.pool_pages,
		  st.pages_in_use, st.shadows_created, st.fills, st.guest_faults,
		  st.emulated_writes + st.other_emulated, st.write_protected,
		  st.unshadowed, st.root_switches, st.mmio, st.oos_marked,
		  st.oos_resyncs, st.oos_entries, st.ld_write_faults,
		  st.ld_protected, st.ld_rearmed);
	hv_printf("hv: vmmu_shadow_check: %d%s%s\n", rc, rc ? " " : "", rc ? why : "");
	return rc;
}
