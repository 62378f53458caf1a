/* SPDX-License-Identifier: MIT */
/*
 * The 2-D walk shared by EPT and NPT (include/vmmu/backend.h): the guest
 * walk over guest memory whose every reference is itself a nested walk.
 * The nested format lives in the backend's vmmu_nested_ops; this file
 * knows only the order of references (Bhargava et al., ASPLOS 2008: each
 * of the n guest entries, then the final gpa, is translated through m
 * nested levels, (n+1)(m+1)-1 references in all) and the caches that cut
 * them (SDM Vol. 3C 29.4: guest-physical mappings and paging-structure
 * caches of the EPT tables; APM Vol. 2 15.25.10 for NPT).
 */
#include <string.h>

#include "vmmu/access.h"
#include "vmmu/error.h"
#include "pte_atomic.h"
#include "tlb.h"

struct nested_ctx {
	struct vmmu_vcpu *vcpu;
	const struct vmmu_nested_ops *ops;
	const struct vmmu_access *acc;
	struct vmmu_hw_walk *out;
	bool exited;
};

/* The VMMU_PROT_* bit an access of kind needs (R for reads and writes'
 * read side is implied by W in every nested format vmmu supports). */
static uint8_t kind_prot(enum vmmu_access_kind kind)
{
	return kind == VMMU_ACCESS_WRITE ? VMMU_PROT_R | VMMU_PROT_W :
	       kind == VMMU_ACCESS_FETCH ? VMMU_PROT_X : VMMU_PROT_R;
}

static void nested_fill(struct vmmu_tlb *t, gpa_t gpa,
			const struct vmmu_nested_walk *nw)
{
	uint64_t base = gpa.v & ~(nw->page_size - 1);
	unsigned i;

	vmmu_tlb_gpa_fill(t, mk_gpa(base), mk_hpa(nw->hpa.v - (gpa.v - base)),
			  nw->page_size, nw->prot);
	for (i = 0; i < nw->ntables; i++)
		vmmu_tlb_npwc_fill(t, gpa, nw->table_level[i], nw->table_hpa[i],
				   nw->table_prot[i]);
}

/* Translate gpa through the nested dimension; false after an exit. */
static int nested_translate(struct nested_ctx *c, gpa_t gpa,
			    enum vmmu_access_kind kind, bool guest_pt,
			    hpa_t *hpa, uint64_t *size, uint8_t *prot)
{
	struct vmmu_tlb *t = c->vcpu->tlb;
	struct vmmu_tlb_pwc_hit hit;
	struct vmmu_nested_walk nw;
	unsigned top = c->ops->levels(c->vcpu);
	enum vmmu_access_kind tlb_kind = guest_pt && c->ops->pt_as_write &&
		c->ops->pt_as_write(c->vcpu) ? VMMU_ACCESS_WRITE : kind;
	int rc;

	if (t && vmmu_tlb_gpa_lookup(t, gpa, tlb_kind, hpa) == VMMU_TLB_HIT) {
		*size = VMMU_PAGE_SIZE; /* what the hit proves */
		*prot = kind_prot(tlb_kind);
		return VMMU_OK;
	}
	memset(&nw, 0, sizeof(nw));
	rc = c->ops->walk(c->vcpu, gpa, kind, guest_pt, c->acc,
			  t && vmmu_tlb_npwc_lookup(t, top, gpa, &hit) < top ?
			  &hit : NULL, &nw);
	c->out->nested_refs += nw.refs;
	if (rc < 0)
		return rc;
	if (!nw.ok) {
		c->out->exit = nw.exit;
		c->out->exit.guest_pt = guest_pt;
		c->exited = true;
		return VMMU_EFAULT;     /* stops the guest walk */
	}
	if (t)
		nested_fill(t, gpa, &nw);
	*hpa = nw.hpa;
	*size = nw.page_size;
	*prot = nw.prot;
	return VMMU_OK;
}

static void *nested_map(struct nested_ctx *c, hpa_t hpa)
{
	const struct vmmu_platform *p = &c->vcpu->vm->platform;

	return p->map(p->ctx, hpa);
}

static int nested_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	struct nested_ctx *c = ctx;
	uint64_t size;
	uint8_t prot;
	hpa_t hpa;
	void *host;
	int rc = nested_translate(c, gpa, VMMU_ACCESS_READ, true, &hpa, &size,
				  &prot);

	if (rc < 0)
		return rc;
	/* Guest entries (and the 32 bytes of PAE PDPTEs) never cross a page. */
	if ((gpa.v & ~VMMU_PAGE_MASK) + len > VMMU_PAGE_SIZE)
		return VMMU_EINVAL;
	host = nested_map(c, hpa);
	if (!host)
		return vmmu_vm_kill(c->vcpu->vm, "a nested walk led outside host memory");
	/* one atomic load for an aligned entry: another vCPU's walk may set
	 * its A/D bits at the same time (pte_cas_len), as gmem_read does */
	if (len == 8 && !(gpa.v & 7)) {
		uint64_t v = pte_load((const uint64_t *)host);

		memcpy(buf, &v, 8);
	} else if (len == 4 && !(gpa.v & 3)) {
		uint32_t v = __atomic_load_n((const uint32_t *)host,
					     __ATOMIC_ACQUIRE);

		memcpy(buf, &v, 4);
	} else {
		memcpy(buf, host, len);
	}
	return VMMU_OK;
}

/* The guest walk's A/D update: a write through the nested tables. */
static int nested_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t nv,
			  size_t len)
{
	struct nested_ctx *c = ctx;
	uint64_t size;
	uint8_t prot;
	hpa_t hpa;
	void *host;
	int rc = nested_translate(c, gpa, VMMU_ACCESS_WRITE, true, &hpa, &size,
				  &prot);

	if (rc < 0)
		return rc;
	if ((len != 4 && len != 8) || (gpa.v & (len - 1)))
		return VMMU_EINVAL;
	host = nested_map(c, hpa);
	if (!host)
		return vmmu_vm_kill(c->vcpu->vm, "a nested walk led outside host memory");
	return pte_cas_len(host, old, nv, len) ? 0 : 1;
}

int vmmu_nested_hw_walk(struct vmmu_vcpu *vcpu,
			const struct vmmu_nested_ops *ops,
			const struct vmmu_access *acc, struct vmmu_hw_walk *out)
{
	struct nested_ctx c = { vcpu, ops, acc, out, false };
	struct vmmu_gmem mem = { &c, nested_read, nested_cmpxchg };
	uint64_t size;
	uint8_t prot;
	int rc;

	if (!vcpu || !ops || !ops->walk || !ops->levels || !acc || !out)
		return VMMU_EINVAL;
	rc = vmmu_vcpu_guest_walk(vcpu, &mem, acc, &out->guest);
	out->guest_refs = out->guest.levels;
	if (out->guest.mode == VMMU_PAGING_PAE && out->guest.first_level == 3 &&
	    out->guest_refs)
		out->guest_refs--;      /* the PDPTE came from a register */
	if (c.exited) {
		out->status = VMMU_HW_EXIT;
		return VMMU_OK;
	}
	if (rc < 0)
		return rc;
	if (!out->guest.ok) {
		out->status = VMMU_HW_FAULT;
		return VMMU_OK;
	}
	rc = nested_translate(&c, out->guest.gpa, acc->kind, false, &out->hpa,
			      &size, &prot);
	if (c.exited) {
		out->status = VMMU_HW_EXIT;
		return VMMU_OK;
	}
	if (rc < 0)
		return rc;
	out->status = VMMU_HW_OK;
	out->gpa = out->guest.gpa;
	out->page_size = size < out->guest.page_size ? size : out->guest.page_size;
	out->rights = out->guest.rights;
	out->nested = prot;
	out->pkey = out->guest.pkey;
	out->global = out->guest.global;
	out->dirty = out->guest.dirty;
	return VMMU_OK;
}
