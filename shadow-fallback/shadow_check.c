/* SPDX-License-Identifier: MIT */
/*
 * vmmu_shadow_check(): the invariants of shadow_int.h checked from
 * scratch, for the tests (the coherence, pressure and isolation tests call
 * it after every step), and the leaf iterator for isolation tests.
 */
#include <string.h>

#include "shadow_int.h"
#include "core/pte_atomic.h"

static int bad(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return VMMU_EDEAD;
}

/* I1: every list node is a present entry of the right kind and place. */
static int check_lists(const struct sh_vm *sv, uint64_t *nodes, const char **why)
{
	uint32_t b, i, id, prev;

	for (b = 0; b < (1U << SH_RMAP_BITS); b++) {
		prev = SH_HEAD_BUCKET | b;
		for (id = sv->rmap[b]; id != SH_NIL; id = sv->pages[id >> 9]->link[id & 511][0]) {
			const struct sh_page *p = sv->pages[id >> 9];
			uint64_t e = p->e[id & 511];

			if (!p->in_use || SH_T_LEVEL(p->type) != 1 || !(e & X86_PTE_P) ||
			    sh_rmap_bucket(e & X86_PTE_ADDR_MASK) != b ||
			    p->link[id & 511][1] != prev)
				return bad(why, "reverse map holds a wrong node");
			prev = id;
			++*nodes;
		}
	}
	for (i = 0; i < sv->npages; i++) {
		prev = SH_HEAD_PAGE | i;
		for (id = sv->pages[i]->parents; id != SH_NIL;
		     id = sv->pages[id >> 9]->link[id & 511][0]) {
			const struct sh_page *p = sv->pages[id >> 9];
			uint64_t e = p->e[id & 511];

			if (!p->in_use || SH_T_LEVEL(p->type) < 2 || !(e & X86_PTE_P) ||
			    (e & X86_PTE_ADDR_MASK) != sv->pages[i]->hpa.v ||
			    p->link[id & 511][1] != prev)
				return bad(why, "parent list holds a wrong node");
			prev = id;
			++*nodes;
		}
	}
	return VMMU_OK;
}

/* I3 (and so I4): a present entry is what propagation gives now. */
static int check_page(struct sh_vm *sv, uint32_t pi, uint64_t *present,
		      const char **why)
{
	struct sh_page *p = sv->pages[pi];
	uint64_t gpa, g, e;
	unsigned j, size;
	uint32_t child;

	for (j = 0; j < 512; j++) {
		uint64_t cur = pte_load(&p->e[j]);

		if (!(cur & X86_PTE_P))
			continue;
		++*present;
		if (SH_T_KIND(p->type) == SH_ROOT)
			continue;
		g = 0;
		if (sh_guest_entry(sv, p, j, &gpa, &size)) {
			/* An out-of-sync L1 mirrors its snapshot, not the frame. */
			if (p->oos)
				memcpy(&g, sh_oos_snapshot(sv, p) + (gpa & 0xfff),
				       size);
			else if (vmmu_vm_read_gpa(sv->vm, mk_gpa(gpa), &g, size) < 0)
				return bad(why, "a shadowed guest table cannot be read");
		}
		if (sh_propagate(sv, pi, j, g, false, &e, &child) < 0)
			return bad(why, "propagation failed");
		/* A frame that stopped being a page table stays read-only in
		 * leaves made before, until a write faults and upgrades them. */
		if (SH_T_LEVEL(p->type) == 1 && (e & X86_PTE_RW) &&
		    cur == (e & ~(X86_PTE_RW | X86_PTE_D)))
			continue;
		if (e != cur)
			return bad(why, "a shadow entry differs from its guest entry");
	}
	return VMMU_OK;
}

/* I2: no writable leaf maps a shadowed frame. */
static int check_wp(const struct sh_vm *sv, const struct sh_page *p,
		    const char **why)
{
	hpa_t hpa;
	uint32_t id;

	if (SH_T_KIND(p->type) != SH_GUEST || p->oos ||
	    vmmu_vm_gpa_to_hpa(sv->vm, mk_gpa(p->gfn << VMMU_PAGE_SHIFT), &hpa) < 0)
		return VMMU_OK;
	for (id = sv->rmap[sh_rmap_bucket(hpa.v)]; id != SH_NIL;
	     id = sv->pages[id >> 9]->link[id & 511][0]) {
		uint64_t e = sv->pages[id >> 9]->e[id & 511];

		if ((e & X86_PTE_ADDR_MASK) == hpa.v && (e & X86_PTE_RW))
			return bad(why, "a guest page table is writable in a shadow");
	}
	return VMMU_OK;
}

int vmmu_shadow_check(struct vmmu_vm *vm, const char **why)
{
	struct sh_vm *sv;
	uint64_t nodes = 0, present = 0;
	uint32_t i;
	int rc;

	if (!vm || vm->ops != &vmmu_backend_shadow)
		return VMMU_EINVAL;
	sv = sh_vm_of(vm);
	vmmu_vm_lock(vm);
	sh_hook_enter(sv);      /* writes logged without the lock first (T4) */
	sh_hook_leave(sv);
	rc = check_lists(sv, &nodes, why);
	for (i = 0; rc == 0 && i < sv->npages; i++) {
		if (!sv->pages[i]->in_use)
			continue;
		rc = check_page(sv, i, &present, why);
		if (rc == 0)
			rc = check_wp(sv, sv->pages[i], why);
	}
	if (rc == 0 && nodes != present)
		rc = bad(why, "a present entry is on no list");
	if (rc == 0)
		rc = sh_pv_check(sv, why);
	vmmu_vm_unlock(vm);
	return rc;
}

int vmmu_shadow_for_each_leaf(const struct vmmu_vm *vm, vmmu_shadow_leaf_fn fn,
			      void *ctx)
{
	const struct sh_vm *sv;
	uint32_t i;
	unsigned j;
	int rc;

	if (!vm || !fn || vm->ops != &vmmu_backend_shadow)
		return VMMU_EINVAL;
	sv = sh_vm_of(vm);
	for (i = 0; i < sv->npages; i++) {
		const struct sh_page *p = sv->pages[i];

		for (j = 0; p->in_use && SH_T_LEVEL(p->type) == 1 && j < 512; j++) {
			uint64_t e = p->e[j];

			if (!(e & X86_PTE_P))
				continue;
			rc = fn(ctx, mk_hpa(e & X86_PTE_ADDR_MASK), e & X86_PTE_RW);
			if (rc)
				return rc;
		}
	}
	return VMMU_OK;
}
