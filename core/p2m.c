/* SPDX-License-Identifier: MIT */
/*
 * The VM's p2m (include/vmmu/p2m.h): slot default types with sparse
 * overrides, a grant table, and the grant / foreign frames the VM maps.
 *
 * Overrides are a sorted array of disjoint [start, end) ranges, replaced
 * copy-on-write on every change so that a backend failure restores the old
 * array untouched. Grant and foreign records are small arrays searched
 * linearly: a VM maps a handful of them, and lookups reach them only for
 * addresses outside every slot.
 */
#include <string.h>

#include "vmmu/error.h"
#include "vmmu/p2m.h"

struct p2m_range {
	uint64_t start, end;
	uint8_t type;
};

struct p2m_grant {
	bool used, writable;
	bool foreign;           /* made by vmmu_foreign_map, not issued */
	gpa_t gpa;
	hpa_t hpa;
	struct vmmu_vm *grantee;
	uint32_t maps;          /* mappings of it in the grantee */
};

struct p2m_foreign {
	bool used;
	uint8_t type;           /* GRANT_RW, GRANT_RO or FOREIGN */
	gpa_t gpa;
	struct vmmu_vm *owner;
	gpa_t owner_gpa;
	hpa_t hpa;
	uint32_t ref;           /* GRANT_*: the owner's grant */
};

struct vmmu_p2m {
	struct p2m_range *ov;
	size_t nov;
	struct p2m_grant *grants;
	size_t ngrants;         /* capacity; used ones have .used */
	struct p2m_foreign *fm;
	size_t nfm;
	bool privileged;
};

#define P2M_GRANTS_MAX 4096u
#define P2M_FOREIGN_MAX 4096u

static struct vmmu_p2m *p2m_get(struct vmmu_vm *vm)
{
	if (!vm->p2m)
		vm->p2m = vm->platform.zalloc(vm->platform.ctx,
					      sizeof(struct vmmu_p2m));
	return vm->p2m;
}

static enum vmmu_p2m_type slot_default(const struct vmmu_slot *s)
{
	return s->type == VMMU_MEM_RAM ? VMMU_P2M_RAM_RW :
	       s->type == VMMU_MEM_ROM ? VMMU_P2M_ROM : VMMU_P2M_MMIO;
}

/* Index of the first override whose end is above addr. */
static size_t ov_first(const struct vmmu_p2m *p, uint64_t addr)
{
	size_t lo = 0, hi = p ? p->nov : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->ov[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct p2m_foreign *fm_find(const struct vmmu_p2m *p, gpa_t gpa)
{
	size_t i;

	for (i = 0; p && i < p->nfm; i++)
		if (p->fm[i].used &&
		    p->fm[i].gpa.v == (gpa.v & VMMU_PAGE_MASK))
			return &p->fm[i];
	return NULL;
}

int vmmu_p2m_lookup(const struct vmmu_vm *vm, gpa_t gpa,
		    struct vmmu_p2m_info *out)
{
	const struct vmmu_slot *s;
	const struct p2m_foreign *f;
	size_t i;

	if (!vm || !out)
		return VMMU_EINVAL;
	memset(out, 0, sizeof(*out));
	s = vmmu_vm_find_slot(vm, gpa);
	if (!s) {
		f = fm_find(vm->p2m, gpa);
		if (!f)
			return VMMU_ENOENT;
		out->type = (enum vmmu_p2m_type)f->type;
		out->owner = f->owner;
		out->owner_gpa = f->owner_gpa;
		out->hpa = f->hpa;
		out->backed = true;
		out->grant_ref = f->ref;
		return VMMU_OK;
	}
	out->slot = s;
	out->owner = (struct vmmu_vm *)(uintptr_t)vm;
	out->owner_gpa = mk_gpa(gpa.v & VMMU_PAGE_MASK);
	out->type = slot_default(s);
	i = ov_first(vm->p2m, gpa.v);
	if (vm->p2m && i < vm->p2m->nov && vm->p2m->ov[i].start <= gpa.v)
		out->type = (enum vmmu_p2m_type)vm->p2m->ov[i].type;
	if (s->type != VMMU_MEM_MMIO &&
	    vmmu_vm_gpa_to_hpa(vm, mk_gpa(gpa.v & VMMU_PAGE_MASK), &out->hpa) == 0)
		out->backed = true;
	return VMMU_OK;
}

/* Type of [a, b) inside slot s: 0 and *t when uniform, else MIXED. */
static int slot_part_type(const struct vmmu_p2m *p, const struct vmmu_slot *s,
			  uint64_t a, uint64_t b, int *t)
{
	size_t i = ov_first(p, a);
	int def = (int)slot_default(s);

	while (a < b) {
		int here = def;
		uint64_t next = b;

		if (p && i < p->nov && p->ov[i].start <= a) {
			here = p->ov[i].type;
			next = p->ov[i].end < b ? p->ov[i].end : b;
			i++;
		} else if (p && i < p->nov && p->ov[i].start < b) {
			next = p->ov[i].start;
		}
		if (*t >= 0 && *t != here)
			return VMMU_P2M_MIXED;
		*t = here;
		a = next;
	}
	return VMMU_OK;
}

int vmmu_p2m_range_type(const struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
			enum vmmu_p2m_type *type)
{
	uint64_t a = gpa.v, end = gpa.v + size;
	int t = -1, rc;

	if (!vm || !type || !size || end < a)
		return VMMU_EINVAL;
	if (size == VMMU_PAGE_SIZE && !vmmu_vm_find_slot(vm, gpa)) {
		const struct p2m_foreign *f = fm_find(vm->p2m, gpa);

		if (!f)
			return VMMU_P2M_MIXED;
		*type = (enum vmmu_p2m_type)f->type;
		return VMMU_OK;
	}
	while (a < end) {
		const struct vmmu_slot *s = vmmu_vm_find_slot(vm, mk_gpa(a));
		uint64_t b;

		if (!s)
			return VMMU_P2M_MIXED;
		b = s->base.v + s->size < end ? s->base.v + s->size : end;
		rc = slot_part_type(vm->p2m, s, a, b, &t);
		if (rc)
			return rc;
		a = b;
	}
	*type = (enum vmmu_p2m_type)t;
	return VMMU_OK;
}

/* Whether [a, b) lies in RAM/ROM slots with no hole. */
static bool range_backed(const struct vmmu_vm *vm, uint64_t a, uint64_t b)
{
	while (a < b) {
		const struct vmmu_slot *s = vmmu_vm_find_slot(vm, mk_gpa(a));

		if (!s || s->type == VMMU_MEM_MMIO)
			return false;
		a = s->base.v + s->size;
	}
	return true;
}

/*
 * The override array with [a, b) set to type: a new array (n entries in
 * *out_n), ranges clipped around it and equal neighbours joined.
 */
static struct p2m_range *ov_with(struct vmmu_vm *vm, const struct vmmu_p2m *p,
				 uint64_t a, uint64_t b, uint8_t type,
				 size_t *out_n)
{
	struct p2m_range *n = vm->platform.zalloc(vm->platform.ctx,
		(p->nov + 2) * sizeof(*n));
	size_t i, k = 0;

	if (!n)
		return NULL;
	for (i = 0; i < p->nov && p->ov[i].start < a; i++) {
		n[k] = p->ov[i];
		if (n[k].end > a)
			n[k].end = a;
		k++;
	}
	if (k && n[k - 1].end == a && n[k - 1].type == type)
		n[k - 1].end = b;
	else
		n[k++] = (struct p2m_range){ a, b, type };
	for (i = ov_first(p, b); i < p->nov; i++) {
		struct p2m_range r = p->ov[i];

		if (r.start < b)
			r.start = b;
		if (n[k - 1].end == r.start && n[k - 1].type == r.type)
			n[k - 1].end = r.end;
		else
			n[k++] = r;
	}
	*out_n = k;
	return n;
}

static bool settable(enum vmmu_p2m_type t)
{
	return t == VMMU_P2M_RAM_RW || t == VMMU_P2M_RAM_RO ||
	       t == VMMU_P2M_RAM_LOGDIRTY || t == VMMU_P2M_ROM ||
	       t == VMMU_P2M_MMIO;
}

static int p2m_set(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
		   enum vmmu_p2m_type type, bool call_backend)
{
	struct vmmu_p2m *p;
	struct p2m_range *n, *old;
	size_t nn, oldn;
	int rc = VMMU_OK;

	if (!vm || !size || ((gpa.v | size) & ~VMMU_PAGE_MASK) ||
	    gpa.v + size < gpa.v || !settable(type) ||
	    !range_backed(vm, gpa.v, gpa.v + size))
		return VMMU_EINVAL;
	p = p2m_get(vm);
	if (!p)
		return VMMU_ENOMEM;
	n = ov_with(vm, p, gpa.v, gpa.v + size, (uint8_t)type, &nn);
	if (!n)
		return VMMU_ENOMEM;
	old = p->ov;
	oldn = p->nov;
	p->ov = n;
	p->nov = nn;
	if (call_backend && vm->ops && vm->ops->set_type)
		rc = vm->ops->set_type(vm, gpa, size, type);
	if (rc < 0) {
		p->ov = old;
		p->nov = oldn;
		old = n;
	}
	if (old)
		vm->platform.free(vm->platform.ctx, old);
	return rc;
}

int vmmu_p2m_record_type(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
			 enum vmmu_p2m_type type)
{
	return p2m_set(vm, gpa, size, type, false);
}

int vmmu_vm_set_p2m_type(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
			 enum vmmu_p2m_type type)
{
	int rc;

	if (!vm)
		return VMMU_EINVAL;
	if (vm->dead)
		return VMMU_EDEAD;
	vmmu_vm_lock(vm);
	/*
	 * Under write-protection log-dirty on a backend that traps through
	 * the p2m type (EPT, NPT), writable RAM is RAM_LOGDIRTY until its
	 * first logged write: a VMM making a page writable again must not
	 * let the guest's next write through unlogged.
	 */
	if (type == VMMU_P2M_RAM_RW && vm->ops && vm->ops->dirty_log_mode &&
	    atomic_load_explicit(&vm->dirty_log, memory_order_seq_cst) &&
	    vm->dirty_mode == VMMU_DIRTY_WRITE_PROTECT)
		type = VMMU_P2M_RAM_LOGDIRTY;
	rc = p2m_set(vm, gpa, size, type, true);
	vmmu_vm_unlock(vm);
	return rc;
}

int vmmu_vm_set_privileged(struct vmmu_vm *vm, bool privileged)
{
	struct vmmu_p2m *p = vm ? p2m_get(vm) : NULL;

	if (!vm)
		return VMMU_EINVAL;
	if (!p)
		return VMMU_ENOMEM;
	p->privileged = privileged;
	return VMMU_OK;
}

/* Two VMs' locks in address order (one lock when a == b). */
static void lock2(struct vmmu_vm *a, struct vmmu_vm *b)
{
	if ((uintptr_t)a > (uintptr_t)b) {
		struct vmmu_vm *t = a;

		a = b;
		b = t;
	}
	vmmu_vm_lock(a);
	if (b != a)
		vmmu_vm_lock(b);
}

/* Check a mapper and an owner, then lock both: 0 or an error. */
static int pair_lock(struct vmmu_vm *vm, struct vmmu_vm *owner)
{
	if (!vm || !owner || vm == owner)
		return VMMU_EINVAL;
	if (vm->dead || owner->dead)
		return VMMU_EDEAD;
	lock2(vm, owner);
	return VMMU_OK;
}

static void unlock2(struct vmmu_vm *a, struct vmmu_vm *b)
{
	vmmu_vm_unlock(a);
	if (b != a)
		vmmu_vm_unlock(b);
}

/* Grow *arr (elements of esize, capacity *cap) to hold one more. */
static int grow(struct vmmu_vm *vm, void **arr, size_t *cap, size_t esize,
		size_t max)
{
	size_t ncap = *cap ? *cap * 2 : 8;
	void *n;

	if (*cap >= max)
		return VMMU_ENOSPC;
	if (ncap > max)
		ncap = max;
	n = vm->platform.zalloc(vm->platform.ctx, ncap * esize);
	if (!n)
		return VMMU_ENOMEM;
	if (*arr) {
		memcpy(n, *arr, *cap * esize);
		vm->platform.free(vm->platform.ctx, *arr);
	}
	*arr = n;
	*cap = ncap;
	return VMMU_OK;
}

/* The host page of owner's RAM frame at gpa, backing it if untouched. */
static int owner_frame(struct vmmu_vm *owner, gpa_t gpa, hpa_t *hpa)
{
	struct vmmu_p2m_info pi;
	struct vmmu_ram_page rp;
	int rc;

	if (gpa.v & ~VMMU_PAGE_MASK)
		return VMMU_EINVAL;
	rc = vmmu_p2m_lookup(owner, gpa, &pi);
	if (rc < 0 || !pi.slot || pi.slot->type != VMMU_MEM_RAM ||
	    pi.type == VMMU_P2M_MMIO)
		return VMMU_EINVAL;
	rc = vmmu_vm_ram_lookup(owner, gpa, true, &rp);
	if (rc < 0)
		return rc;
	*hpa = rp.hpa;
	return VMMU_OK;
}

static int grant_issue_locked(struct vmmu_vm *owner, gpa_t gpa,
			      struct vmmu_vm *grantee, bool writable,
			      uint32_t *ref)
{
	struct vmmu_p2m *p = p2m_get(owner);
	hpa_t hpa;
	size_t i;
	int rc;

	if (!p)
		return VMMU_ENOMEM;
	rc = owner_frame(owner, gpa, &hpa);
	if (rc < 0)
		return rc;
	for (i = 0; i < p->ngrants && p->grants[i].used; i++)
		;
	if (i == p->ngrants) {
		rc = grow(owner, (void **)&p->grants, &p->ngrants,
			  sizeof(*p->grants), P2M_GRANTS_MAX);
		if (rc < 0)
			return rc;
	}
	p->grants[i] = (struct p2m_grant){ true, writable, false, gpa, hpa,
					   grantee, 0 };
	*ref = (uint32_t)i;
	return VMMU_OK;
}

int vmmu_grant_issue(struct vmmu_vm *owner, gpa_t gpa, struct vmmu_vm *grantee,
		     bool writable, uint32_t *ref)
{
	int rc;

	if (!owner || !grantee || !ref || owner == grantee)
		return VMMU_EINVAL;
	if (owner->dead)
		return VMMU_EDEAD;
	vmmu_vm_lock(owner);
	rc = grant_issue_locked(owner, gpa, grantee, writable, ref);
	vmmu_vm_unlock(owner);
	return rc;
}

/* Whether gpa is a free 4 KiB hole of vm's space for a mapping. */
static bool is_hole(const struct vmmu_vm *vm, gpa_t gpa)
{
	return !(gpa.v & ~VMMU_PAGE_MASK) &&
	       (vm->guest_maxphyaddr >= 64 ||
		gpa.v < (1ULL << vm->guest_maxphyaddr)) &&
	       !vmmu_vm_find_slot(vm, gpa) && !fm_find(vm->p2m, gpa);
}

/* Record a mapping in vm and tell its backend; undone on failure. */
static int fm_add(struct vmmu_vm *vm, const struct p2m_foreign *rec)
{
	struct vmmu_p2m *p = p2m_get(vm);
	size_t i;
	int rc;

	if (!p)
		return VMMU_ENOMEM;
	for (i = 0; i < p->nfm && p->fm[i].used; i++)
		;
	if (i == p->nfm) {
		rc = grow(vm, (void **)&p->fm, &p->nfm, sizeof(*p->fm),
			  P2M_FOREIGN_MAX);
		if (rc < 0)
			return rc;
	}
	p->fm[i] = *rec;
	rc = vm->ops && vm->ops->foreign_map ?
	     vm->ops->foreign_map(vm, rec->gpa, rec->hpa,
				  (enum vmmu_p2m_type)rec->type) : VMMU_OK;
	if (rc < 0)
		memset(&p->fm[i], 0, sizeof(p->fm[i]));
	return rc;
}

int vmmu_grant_map(struct vmmu_vm *vm, gpa_t gpa, struct vmmu_vm *owner,
		   uint32_t ref, bool writable)
{
	struct p2m_foreign rec;
	struct p2m_grant *g;
	int rc;

	rc = pair_lock(vm, owner);
	if (rc < 0)
		return rc;
	rc = VMMU_ENOENT;
	if (!owner->p2m || ref >= owner->p2m->ngrants ||
	    !owner->p2m->grants[ref].used)
		goto out;
	g = &owner->p2m->grants[ref];
	rc = VMMU_EINVAL;
	if (g->grantee != vm || g->foreign || (writable && !g->writable) ||
	    !is_hole(vm, gpa))
		goto out;
	rec = (struct p2m_foreign){
		.used = true, .gpa = gpa, .owner = owner, .owner_gpa = g->gpa,
		.hpa = g->hpa, .ref = ref,
		.type = writable ? VMMU_P2M_GRANT_RW : VMMU_P2M_GRANT_RO,
	};
	rc = fm_add(vm, &rec);
	if (rc == VMMU_OK)
		g->maps++;
out:
	unlock2(vm, owner);
	return rc;
}

/*
 * A foreign mapping is tracked in the owner as a grant of its own (marked
 * foreign, never mappable through vmmu_grant_map), so that the owner's
 * slot removal or destruction finds and unmaps it like any grant.
 */
int vmmu_foreign_map(struct vmmu_vm *vm, gpa_t gpa, struct vmmu_vm *owner,
		     gpa_t frame)
{
	struct p2m_foreign rec = { .used = true, .type = VMMU_P2M_FOREIGN,
				   .gpa = gpa, .owner = owner,
				   .owner_gpa = frame };
	uint32_t ref;
	int rc;

	rc = pair_lock(vm, owner);
	if (rc < 0)
		return rc;
	rc = VMMU_EINVAL;
	if (vm->p2m && vm->p2m->privileged && is_hole(vm, gpa))
		rc = grant_issue_locked(owner, frame, vm, true, &ref);
	if (rc == VMMU_OK) {
		struct p2m_grant *g = &owner->p2m->grants[ref];

		g->foreign = true;
		rec.hpa = g->hpa;
		rec.ref = ref;
		rc = fm_add(vm, &rec);
		if (rc == VMMU_OK)
			g->maps++;
		else
			memset(g, 0, sizeof(*g));
	}
	unlock2(vm, owner);
	return rc;
}

/* Drop vm's mapping rec (vm's lock and rec->owner's held). */
static void fm_drop(struct vmmu_vm *vm, struct p2m_foreign *rec,
		    bool call_backend)
{
	struct vmmu_p2m *op = rec->owner->p2m;

	if (call_backend && vm->ops && vm->ops->foreign_unmap &&
	    vm->ops->foreign_unmap(vm, rec->gpa) < 0)
		vmmu_vm_kill(vm, "a grant could not be unmapped");
	if (op && rec->ref < op->ngrants && op->grants[rec->ref].maps) {
		struct p2m_grant *g = &op->grants[rec->ref];

		if (!--g->maps && g->foreign)
			memset(g, 0, sizeof(*g));
	}
	memset(rec, 0, sizeof(*rec));
}

int vmmu_foreign_unmap(struct vmmu_vm *vm, gpa_t gpa)
{
	struct p2m_foreign *f;
	struct vmmu_vm *owner;

	if (!vm)
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	f = (struct p2m_foreign *)(uintptr_t)fm_find(vm->p2m, gpa);
	owner = f ? f->owner : NULL;
	vmmu_vm_unlock(vm);
	if (!f)
		return VMMU_ENOENT;
	lock2(vm, owner);
	f = (struct p2m_foreign *)(uintptr_t)fm_find(vm->p2m, gpa);
	if (f)
		fm_drop(vm, f, true);
	unlock2(vm, owner);
	return f ? VMMU_OK : VMMU_ENOENT;
}

/* Unmap every mapping of owner's grant ref (owner's lock held). */
static void grant_unmap_all(struct vmmu_vm *owner, uint32_t ref)
{
	struct p2m_grant *g = &owner->p2m->grants[ref];
	struct vmmu_vm *b = g->grantee;
	size_t i;

	if (!g->maps)
		return;     /* the grantee may be gone: never touch it then */
	if (b != owner)
		vmmu_vm_lock(b);
	for (i = 0; b->p2m && i < b->p2m->nfm; i++) {
		struct p2m_foreign *f = &b->p2m->fm[i];

		if (f->used && f->owner == owner && f->ref == ref)
			fm_drop(b, f, true);
	}
	if (b != owner)
		vmmu_vm_unlock(b);
}

static int grant_revoke_locked(struct vmmu_vm *owner, uint32_t ref)
{
	if (!owner->p2m || ref >= owner->p2m->ngrants ||
	    !owner->p2m->grants[ref].used)
		return VMMU_ENOENT;
	grant_unmap_all(owner, ref);
	memset(&owner->p2m->grants[ref], 0, sizeof(owner->p2m->grants[ref]));
	return VMMU_OK;
}

/*
 * Revocation locks the owner, then the grantee: callers revoke while no
 * other thread maps into the same pair of VMs (the VMM's own ordering).
 */
int vmmu_grant_revoke(struct vmmu_vm *owner, uint32_t ref)
{
	int rc;

	if (!owner)
		return VMMU_EINVAL;
	vmmu_vm_lock(owner);
	rc = grant_revoke_locked(owner, ref);
	vmmu_vm_unlock(owner);
	return rc;
}

/* Grants (and foreign mappings) of the slot's frames are revoked. */
void vmmu_p2m_slot_removed(struct vmmu_vm *vm, const struct vmmu_slot *slot)
{
	struct vmmu_p2m *p = vm->p2m;
	uint64_t a = slot->base.v, b = a + slot->size;
	size_t i, k = 0;

	if (!p)
		return;
	for (i = 0; i < p->ngrants; i++)
		if (p->grants[i].used && p->grants[i].gpa.v >= a &&
		    p->grants[i].gpa.v < b)
			grant_revoke_locked(vm, (uint32_t)i);
	for (i = 0; i < p->nov; i++) {
		struct p2m_range r = p->ov[i];

		if (r.end <= a || r.start >= b) {
			p->ov[k++] = r;
			continue;
		}
		if (r.start < a)
			p->ov[k++] = (struct p2m_range){ r.start, a, r.type };
		if (r.end > b)
			p->ov[k++] = (struct p2m_range){ b, r.end, r.type };
	}
	p->nov = k;
}

bool vmmu_p2m_has_foreign(const struct vmmu_vm *vm, gpa_t gpa, uint64_t size)
{
	size_t i;

	for (i = 0; vm->p2m && i < vm->p2m->nfm; i++)
		if (vm->p2m->fm[i].used && vm->p2m->fm[i].gpa.v >= gpa.v &&
		    vm->p2m->fm[i].gpa.v - gpa.v < size)
			return true;
	return false;
}

void vmmu_p2m_release(struct vmmu_vm *vm)
{
	struct vmmu_p2m *p = vm->p2m;
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->ngrants; i++)
		if (p->grants[i].used)
			grant_revoke_locked(vm, (uint32_t)i);
	for (i = 0; i < p->nfm; i++)
		if (p->fm[i].used)
			fm_drop(vm, &p->fm[i], false);
	if (p->ov)
		vm->platform.free(vm->platform.ctx, p->ov);
	if (p->grants)
		vm->platform.free(vm->platform.ctx, p->grants);
	if (p->fm)
		vm->platform.free(vm->platform.ctx, p->fm);
	vm->platform.free(vm->platform.ctx, p);
	vm->p2m = NULL;
}
