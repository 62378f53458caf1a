/* SPDX-License-Identifier: MIT */
/*
 * vmmu's side of the oracle: vmmu_walk() over a copy of the tables KVM
 * used, then the comparison of everything both sides can observe.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "guest_mem.h"
#include "vmmu/error.h"
#include "oracle_cmp.h"
#include "oracle_path.h"
#include "oracle_shadow.h"

/* Guest memory for the walker: the copied tables, the rest read-only. */
struct walk_mem {
	struct orc_tables *t;
	const uint8_t *ram;     /* KVM's guest memory, for reads elsewhere */
};

static uint8_t *table_bytes(struct orc_tables *t, uint64_t gpa, size_t len)
{
	for (unsigned i = 0; i < ORC_NTABLES; i++)
		if (gpa >= orc_table_gpa[i] && gpa + len <= orc_table_gpa[i] + 4096)
			return t->page[i] + (gpa - orc_table_gpa[i]);
	return NULL;
}

/*
 * The walker's memory (cli/guest_mem.h): the tables' entries listed, the
 * rest of a table page zero, other RAM read from KVM's guest memory, and
 * nothing beyond it. A/D updates may only land on listed entries (strict);
 * anything else would be a bug.
 */
static int wm_fill(void *ctx, uint64_t wgpa, uint64_t *word)
{
	struct walk_mem *m = ctx;

	if (table_bytes(m->t, wgpa, 8))
		*word = 0;
	else if (wgpa < ORC_MEM_SIZE)
		memcpy(word, m->ram + wgpa, 8);
	else
		return VMMU_EFAULT;
	return 0;
}

static int wm_load(struct guest_mem *gm, struct walk_mem *m)
{
	uint64_t v;
	int rc;

	rc = guest_mem_init(gm, 0);
	if (rc)
		return rc;
	gm->fill = wm_fill;
	gm->fill_ctx = m;
	gm->strict = true;
	for (unsigned i = 0; i < ORC_NTABLES; i++)
		for (unsigned off = 0; off < 4096; off += 8) {
			memcpy(&v, m->t->page[i] + off, 8);
			if (v && (rc = guest_mem_put(gm, orc_table_gpa[i] + off,
						     &v, 8)) < 0)
				return rc;
		}
	return 0;
}

/* The walker's A/D updates, back into the tables the caller compares. */
static void wm_store(const struct guest_mem *gm, struct walk_mem *m)
{
	const struct guest_mem_word *w;
	size_t it = 0;
	uint8_t *p;

	while ((w = guest_mem_next(gm, &it)))
		if ((p = table_bytes(m->t, w->wgpa, 8)))
			memcpy(p, &w->val, 8);
}

void orc_paging_state(const struct orc_vm *vm, const struct orc_case *c,
		      struct vmmu_paging_state *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->cr0 = c->cr0;
	ps->cr3 = ORC_PML4_GPA | c->cr3_flags;
	ps->cr4 = c->cr4;
	ps->efer = c->efer;
	ps->rflags = 0x2 | (c->ac ? X86_RFLAGS_AC : 0);
	ps->pkru = c->pkru;
	ps->maxphyaddr = vm->maxphyaddr;
	/* The CPU the guest's CPUID describes (KVM applies the same rules). */
	ps->quirks = (vm->amd ? VMMU_PAGING_AMD : 0) |
		     (vm->gbpages ? 0 : VMMU_PAGING_NO_1G);
	vmmu_paging_update(ps);
}

static void vmmu_access_of(const struct orc_access *a, struct vmmu_access *acc)
{
	memset(acc, 0, sizeof(*acc));
	acc->gva = mk_gva(a->gva);
	acc->kind = a->kind;
	acc->cpl = a->cpl;
	acc->implicit = a->implicit;
}

/* First differing qword of the tables, or false when they are equal. */
static bool tables_differ(const struct orc_tables *a, const struct orc_tables *b,
			  uint64_t *gpa, uint64_t *va, uint64_t *vb)
{
	for (unsigned i = 0; i < ORC_NTABLES; i++) {
		if (!memcmp(a->page[i], b->page[i], 4096))
			continue;
		for (unsigned off = 0; off < 4096; off += 8) {
			memcpy(va, a->page[i] + off, 8);
			memcpy(vb, b->page[i] + off, 8);
			if (*va != *vb) {
				*gpa = orc_table_gpa[i] + off;
				return true;
			}
		}
	}
	return false;
}

/* Compare the outcome of the access itself (not the tables). */
static bool outcome_differs(const struct orc_case *c, const struct orc_access *a,
			    const struct orc_outcome *o,
			    const struct vmmu_walk_result *r, char *why,
			    size_t len)
{
	uint64_t size = c->levels == 4 ? 0x1000ULL : 0x200000ULL;

	if (o->ok != r->ok) {
		snprintf(why, len, "KVM %s, vmmu %s", o->ok ? "completed" : "faulted",
			 r->ok ? "translates" : "faults");
		return true;
	}
	if (!o->ok) {
		if (o->vector != r->vector || (o->vector == X86_VEC_PF &&
		    (o->error_code != r->error_code || o->cr2 != r->cr2.v))) {
			snprintf(why, len, "KVM vector %u ec 0x%x cr2 0x%llx, vmmu "
				 "vector %u ec 0x%x cr2 0x%llx", o->vector,
				 o->error_code, (unsigned long long)o->cr2,
				 r->vector, r->error_code,
				 (unsigned long long)r->cr2.v);
			return true;
		}
		return false;
	}
	if (c->recursion)
		return false;   /* checked by self_map_differs() */
	if ((!a->implicit || a->desc_write) &&
	    (!o->gpa_known || o->gpa != r->gpa.v)) {
		snprintf(why, len, "KVM gpa %s0x%llx, vmmu gpa 0x%llx",
			 o->gpa_known ? "" : "unknown, not at ",
			 (unsigned long long)o->gpa, (unsigned long long)r->gpa.v);
		return true;
	}
	/* KVM cannot show the page size; the case's structure fixes it. */
	if (r->page_size != size) {
		snprintf(why, len, "vmmu page size 0x%llx, the tables map 0x%llx",
			 (unsigned long long)r->page_size,
			 (unsigned long long)size);
		return true;
	}
	return false;
}

/*
 * Self-mapped cases land in table pages, where no marker can be put: a read
 * must return what vmmu's translation holds after the walk, and a write is
 * applied to vmmu's copy at vmmu's address (the table comparison then
 * shows whether KVM wrote the same place).
 */
static bool self_map_differs(const struct walk_mem *m,
			     const struct orc_access *a,
			     const struct orc_outcome *o,
			     const struct vmmu_walk_result *r, char *why,
			     size_t len)
{
	uint8_t *p = table_bytes(m->t, r->gpa.v, 8);
	uint64_t held = 0;

	if (!o->ok || !r->ok)
		return false;
	/* Outside RAM the exit named the address KVM used. */
	if (!p && r->gpa.v > ORC_MEM_SIZE - 8) {
		if (o->mmio && o->mmio_gpa == r->gpa.v &&
		    o->mmio_write == (a->kind == VMMU_ACCESS_WRITE))
			return false;
		snprintf(why, len, "KVM's access %s, vmmu's gpa 0x%llx",
			 o->mmio ? "went elsewhere" : "stayed in RAM",
			 (unsigned long long)r->gpa.v);
		return true;
	}
	if (a->kind == VMMU_ACCESS_WRITE) {
		if (p) {
			memcpy(p, &o->wval, 8);
			return false;
		}
		memcpy(&held, m->ram + r->gpa.v, 8);
		if (held == o->wval)
			return false;
		snprintf(why, len, "KVM's write is not at vmmu's gpa 0x%llx",
			 (unsigned long long)r->gpa.v);
		return true;
	}
	if (p)
		memcpy(&held, p, 8);
	else
		memcpy(&held, m->ram + r->gpa.v, 8);
	if (held == o->rax)
		return false;
	snprintf(why, len, "KVM read 0x%llx; vmmu's gpa 0x%llx holds 0x%llx",
		 (unsigned long long)o->rax, (unsigned long long)r->gpa.v,
		 (unsigned long long)held);
	return true;
}

int orc_check_access(const struct orc_vm *vm, const struct orc_case *c,
		     unsigned idx, struct orc_tables *tables,
		     const struct orc_tables *kvm_after,
		     const struct orc_outcome *o, struct orc_verdict *v)
{
	const struct orc_access *a = &c->access[idx];
	struct walk_mem wm = { tables, vm->k.mem };
	struct guest_mem mem;
	struct vmmu_gmem gm;
	struct vmmu_paging_state ps;
	struct vmmu_access acc;
	static struct orc_tables pre;
	uint64_t gpa, kv, vv;
	int rc;

	memset(v, 0, sizeof(*v));
	pre = *tables;
	orc_paging_state(vm, c, &ps);
	vmmu_access_of(a, &acc);
	rc = wm_load(&mem, &wm);
	gm = guest_mem_gmem(&mem);
	if (rc == 0)
		rc = vmmu_walk(&ps, &gm, &acc, &v->res);
	/* A descriptor load that sets the accessed bit: read, then write. */
	if (rc == 0 && a->desc_write && v->res.ok) {
		acc.kind = VMMU_ACCESS_WRITE;
		rc = vmmu_walk(&ps, &gm, &acc, &v->res);
	}
	if (rc == 0)
		wm_store(&mem, &wm);
	guest_mem_fini(&mem);
	if (rc < 0) {
		snprintf(v->why, sizeof(v->why), "vmmu_walk failed: %s",
			 vmmu_strerror(rc));
		return rc;
	}
	if (outcome_differs(c, a, o, &v->res, v->why, sizeof(v->why)))
		return 0;
	if (c->recursion &&
	    self_map_differs(&wm, a, o, &v->res, v->why, sizeof(v->why)))
		return 0;
	if (tables_differ(kvm_after, tables, &gpa, &kv, &vv)) {
		snprintf(v->why, sizeof(v->why), "entry at gpa 0x%llx: KVM left "
			 "0x%016llx, vmmu 0x%016llx", (unsigned long long)gpa,
			 (unsigned long long)kv, (unsigned long long)vv);
		return 0;
	}
	v->agree = true;
	/* The same access through the access path and its TLB. */
	rc = orc_path_check(vm, c, idx, &pre, &ps, v);
	/* And through the shadow backend. */
	return rc == 0 && v->agree ? orc_shadow_check(c, idx, &pre, &ps, v) : rc;
}
