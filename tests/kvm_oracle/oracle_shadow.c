/* SPDX-License-Identifier: MIT */
/*
 * The oracle's cases through the shadow backend: one VM with the shadow
 * backend (its shadows kept across cases: each case's tables are written
 * with vmmu_vm_write_gpa, so the write-protection path revalidates them)
 * runs every access the walker agreed on with KVM, and must give the
 * walker's guest-visible outcome on the same memory: the same host page
 * (or, for an emulated or MMIO access, the same gpa), or the same fault
 * vector, error code and CR2, and the same A/D bits in the guest's tables.
 * Since orc_check_access holds the walker to what KVM did, this holds the
 * shadow backend to KVM, itself a shadow-paging MMU (kvm-pvm).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "host/hosted.h"
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "core/tlb.h"
#include "oracle_shadow.h"

static struct {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *vcpu;
} os;

static int shadow_open(void)
{
	int rc;

	if (os.vcpu)
		return 0;
	rc = vmmu_hosted_create(ORC_MEM_SIZE + (16ULL << 20), &os.arena);
	if (rc < 0)
		return rc;
	vmmu_hosted_platform(os.arena, &os.plat);
	rc = vmmu_vm_create(&os.plat, &os.vm);
	if (rc == 0)
		rc = vmmu_vm_add_slot(os.vm, mk_gpa(0), ORC_MEM_SIZE, VMMU_MEM_RAM);
	if (rc == 0)
		rc = vmmu_vm_set_backend(os.vm, VMMU_BACKEND_SHADOW,
					 &vmmu_backend_shadow);
	if (rc == 0)
		rc = vmmu_vcpu_create(os.vm, &os.vcpu);
	return rc;
}

static int shadow_tables(const struct orc_tables *t, struct orc_tables *out)
{
	int rc = 0;

	for (unsigned i = 0; i < ORC_NTABLES && rc == 0; i++) {
		if (t)
			rc = vmmu_vm_write_gpa(os.vm, mk_gpa(orc_table_gpa[i]),
					       t->page[i], 4096);
		else
			rc = vmmu_vm_read_gpa(os.vm, mk_gpa(orc_table_gpa[i]),
					      out->page[i], 4096);
	}
	return rc;
}

static bool shadow_same(const struct vmmu_walk_result *w,
			const struct vmmu_access_result *p, char *why, size_t len)
{
	hpa_t hpa;

	if (w->ok && p->status == VMMU_ACCESS_DONE && !p->emulated &&
	    vmmu_vm_gpa_to_hpa(os.vm, w->gpa, &hpa) == 0 &&
	    (hpa.v & ~0xfffULL) == (p->hpa.v & ~0xfffULL))
		return true;
	if (w->ok && p->status != VMMU_ACCESS_FAULT &&
	    (p->emulated || p->status == VMMU_ACCESS_VMM) && p->gpa.v == w->gpa.v)
		return true;
	if (!w->ok && p->status == VMMU_ACCESS_FAULT &&
	    p->fault.vector == w->vector &&
	    p->fault.error_code == w->error_code && p->fault.cr2.v == w->cr2.v)
		return true;
	snprintf(why, len, "shadow backend: status %d hpa 0x%llx gpa 0x%llx "
		 "vector %u pfec 0x%x, walk %s gpa 0x%llx vector %u pfec 0x%x",
		 p->status, (unsigned long long)p->hpa.v,
		 (unsigned long long)p->gpa.v, p->fault.vector,
		 p->fault.error_code, w->ok ? "ok" : "fault",
		 (unsigned long long)w->gpa.v, w->vector, w->error_code);
	return false;
}

static int shadow_one(const struct orc_tables *start, struct vmmu_access *acc,
		      struct vmmu_walk_result *w, struct orc_tables *walked,
		      struct vmmu_access_result *p, struct orc_tables *after)
{
	struct vmmu_op o = { .acc = *acc, .size = 1 };
	struct vmmu_gmem mem;
	int rc;

	vmmu_vm_gmem(os.vm, &mem);
	rc = shadow_tables(start, NULL);
	if (rc == 0)
		rc = vmmu_walk(&os.vcpu->paging, &mem, acc, w);
	if (rc == 0)
		rc = shadow_tables(NULL, walked);
	if (rc == 0)
		rc = shadow_tables(start, NULL);
	if (rc == 0)
		rc = vmmu_vcpu_access(os.vcpu, &o, p);
	if (rc == 0)
		rc = shadow_tables(NULL, after);
	return rc;
}

int orc_shadow_check(const struct orc_case *c, unsigned idx,
		     const struct orc_tables *pre,
		     const struct vmmu_paging_state *ps, struct orc_verdict *v)
{
	const struct orc_access *a = &c->access[idx];
	struct vmmu_access acc = { mk_gva(a->gva), a->kind, a->cpl, a->implicit };
	static struct orc_tables walked, after;
	struct vmmu_walk_result w;
	struct vmmu_access_result p;
	int rc = shadow_open();

	if (rc < 0)
		return rc;
	/* Changed tables are a guest's change: it would invalidate. */
	if (idx == 0 || memcmp(pre, &after, sizeof(after)))
		vmmu_tlb_flush_all(os.vcpu->tlb);
	/* Registers set directly: the backend resyncs its root on the next
	 * walk, as after a VM entry with new guest state. */
	os.vcpu->paging = *ps;
	vmmu_paging_update(&os.vcpu->paging);
	for (unsigned pass = 0; pass < 1 + (a->desc_write ? 1u : 0); pass++) {
		rc = shadow_one(pass ? &after : pre, &acc, &w, &walked, &p, &after);
		if (rc < 0)
			return rc;
		if (!shadow_same(&w, &p, v->why, sizeof(v->why))) {
			v->agree = false;
			return 0;
		}
		if (memcmp(&walked, &after, sizeof(after))) {
			snprintf(v->why, sizeof(v->why), "shadow backend: A/D bits "
				 "differ from the walker's");
			v->agree = false;
			return 0;
		}
		if (!w.ok)
			break;
		acc.kind = VMMU_ACCESS_WRITE;   /* the descriptor's A-bit write */
	}
	return 0;
}
