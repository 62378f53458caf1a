/* SPDX-License-Identifier: MIT */
/*
 * The test guest OS's reference check (os_sim.h): vmmu_walk() over the
 * same guest memory just before the access, its A/D updates logged, not
 * applied; then the access through the vCPU must reach the same host page
 * (or fault with the same vector, error code and CR2, or go to the VMM
 * for MMIO and holes) and leave exactly the logged A/D bits.
 */
#include <string.h>

#include "vmmu/error.h"
#include "os_sim_int.h"

/* The reference walk's A/D updates, logged instead of applied. */
struct ref_log {
	struct vmmu_gmem vm_mem;
	unsigned n;
	uint64_t gpa[16], val[16];
	unsigned len[16];
};

static int log_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	struct ref_log *l = ctx;

	return l->vm_mem.read(l->vm_mem.ctx, gpa, buf, len);
}

static int log_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t nv,
		       size_t len)
{
	struct ref_log *l = ctx;
	unsigned i;

	(void)old;
	for (i = 0; i < l->n && l->gpa[i] != gpa.v; i++)
		;
	if (i == 16)
		return VMMU_EBUSY;
	if (i == l->n)
		l->n++;
	l->gpa[i] = gpa.v;
	l->val[i] = nv;
	l->len[i] = (unsigned)len;
	return 0;
}

static bool check_ad(struct osm *os, const struct ref_log *l,
		     const struct vmmu_walk_result *ref)
{
	uint64_t v;
	unsigned i, k;

	for (i = 0; i < l->n; i++) {
		v = 0;
		vmmu_vm_read_gpa(os->vm, mk_gpa(l->gpa[i]), &v, l->len[i]);
		if (v != l->val[i])
			return osm_fail("A/D bits differ from the reference's", l->gpa[i], v);
	}
	for (i = 0; i < ref->levels; i++) {
		if (os->cfg.mode == VMMU_PAGING_PAE && ref->first_level - i == 3)
			continue;
		for (k = 0; k < l->n && l->gpa[k] != ref->pte_gpa[i].v; k++)
			;
		if (k < l->n)
			continue;
		v = 0;
		vmmu_vm_read_gpa(os->vm, ref->pte_gpa[i], &v, os->esize);
		if (v != ref->pte[i])
			return osm_fail("an entry changed that the reference left", ref->pte_gpa[i].v, v);
	}
	return true;
}

static bool same_outcome(struct osm *os, const struct vmmu_walk_result *ref,
			 const struct vmmu_access_result *r)
{
	const struct vmmu_slot *s;
	hpa_t hpa;

	if (!ref->ok) {
		if (r->status != VMMU_ACCESS_FAULT || r->fault.vector != ref->vector ||
		    r->fault.error_code != ref->error_code ||
		    r->fault.cr2.v != ref->cr2.v)
			return osm_fail("fault differs (status, reference pfec)",
				    r->status, ref->error_code) &&
			       osm_fail("got pfec, vector", r->fault.error_code, r->fault.vector);
		os->st.faults++;
		return true;
	}
	s = vmmu_vm_find_slot(os->vm, ref->gpa);
	if (!s || s->type == VMMU_MEM_MMIO) {
		os->st.vmm++;
		if (r->status != VMMU_ACCESS_VMM || r->gpa.v != ref->gpa.v ||
		    r->reason != (s ? VMMU_REASON_MMIO : VMMU_REASON_UNMAPPED))
			return osm_fail("MMIO/hole access not returned to the VMM", ref->gpa.v,
				    r->status);
		return true;
	}
	if (r->status != VMMU_ACCESS_DONE)
		return osm_fail("access did not complete", ref->gpa.v, r->status);
	os->st.done++;
	if (r->emulated) {
		os->st.emulated++;
		return r->gpa.v == ref->gpa.v || osm_fail("emulated at the wrong gpa",
						      ref->gpa.v, r->gpa.v);
	}
	if (vmmu_vm_gpa_to_hpa(os->vm, ref->gpa, &hpa) < 0 ||
	    (hpa.v & ~0xfffULL) != (r->hpa.v & ~0xfffULL))
		return osm_fail("translation differs (gpa, hpa)", ref->gpa.v, r->hpa.v);
	return true;
}

bool osm_check_access(struct osm *os, const struct vmmu_access *acc,
		      struct vmmu_walk_result *ref)
{
	struct ref_log l = { .n = 0 };
	struct vmmu_gmem mem = { &l, log_read, log_cmpxchg };
	uint64_t data = osm_rnd(os);
	struct vmmu_op op = { .acc = *acc, .size = 8, .data = &data };
	struct vmmu_access_result r;
	int rc;

	vmmu_vm_gmem(os->vm, &l.vm_mem);
	rc = vmmu_walk(&os->vcpu->paging, &mem, acc, ref);
	if (rc < 0)
		return osm_fail("reference walk failed", acc->gva.v, (uint64_t)rc);
	rc = vmmu_vcpu_access(os->vcpu, &op, &r);
	if (rc < 0)
		return osm_fail(vmmu_strerror(rc), acc->gva.v, (uint64_t)rc);
	os->st.accesses++;
	if (!same_outcome(os, ref, &r))
		return osm_fail("at gva (kind | cpl << 4)", acc->gva.v,
			    acc->kind | (uint64_t)acc->cpl << 4);
	return check_ad(os, &l, ref);
}

