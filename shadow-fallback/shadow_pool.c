/* SPDX-License-Identifier: MIT */
/*
 * The shadow pool: pages, the (gfn, type) hash, LRU recycling, and the
 * lists of invariant I1 (shadow_int.h) that every entry store keeps:
 * leaves on the reverse map of the host page they map, links on their
 * child's parent list. Every shadow entry is written by sh_set_entry().
 */
#include <string.h>

#include "shadow_int.h"
#include "core/pte_atomic.h"
#include "core/tlb.h"

static uint32_t hash_gfn(uint64_t gfn)
{
	return (uint32_t)((gfn * 0x9e3779b97f4a7c15ULL) >> (64 - SH_HASH_BITS));
}

uint32_t sh_rmap_bucket(uint64_t hpa)
{
	return (uint32_t)(((hpa >> VMMU_PAGE_SHIFT) * 0xff51afd7ed558ccdULL) >>
			  (64 - SH_RMAP_BITS));
}

int sh_pool_init(struct sh_vm *sv)
{
	memset(sv->hash, 0xff, sizeof(sv->hash));
	memset(sv->rmap, 0xff, sizeof(sv->rmap));
	for (unsigned s = 0; s < SH_OOS_SLOTS; s++)
		sv->oos[s].page = SH_NIL;
	sv->free_list = sv->lru_head = sv->lru_tail = sv->limbo = SH_NIL;
	return VMMU_OK;
}

void sh_pool_destroy(struct sh_vm *sv)
{
	const struct vmmu_platform *pl = &sv->vm->platform;
	uint32_t i;

	for (i = 0; i < sv->npages; i++) {
		pl->free_page(pl->ctx, sv->pages[i]->hpa);
		pl->free(pl->ctx, sv->pages[i]);
	}
	if (sv->pages)
		pl->free(pl->ctx, sv->pages);
	sv->pages = NULL;
	sv->npages = 0;
}

/* The default: 1 MiB per vCPU plus 8 KiB per MiB of RAM (Xen's sizing). */
uint64_t sh_pool_size(const struct sh_vm *sv)
{
	uint64_t n = sv->pool_fixed;

	if (!n)
		n = 256ULL * (sv->nvcpus ? sv->nvcpus : 1) + 2ULL * sv->ram_mib;
	if (n < VMMU_SHADOW_POOL_MIN(sv->nvcpus))
		n = VMMU_SHADOW_POOL_MIN(sv->nvcpus);
	return n > SH_MAX_PAGES ? SH_MAX_PAGES : n;
}

static uint32_t *lk(const struct sh_vm *sv, uint32_t id)
{
	return sv->pages[id >> 9]->link[id & 511];
}

static void list_remove(struct sh_vm *sv, uint32_t id)
{
	uint32_t *l = lk(sv, id), next = l[0], prev = l[1];

	if (prev & SH_HEAD_BUCKET)
		sv->rmap[prev & SH_ID_MASK] = next;
	else if (prev & SH_HEAD_PAGE)
		sv->pages[prev & SH_ID_MASK]->parents = next;
	else
		lk(sv, prev)[0] = next;
	if (next != SH_NIL)
		lk(sv, next)[1] = prev;
	l[0] = l[1] = SH_NIL;
}

static void list_push(struct sh_vm *sv, uint32_t *head, uint32_t code,
		      uint32_t id)
{
	uint32_t *l = lk(sv, id), first = *head;

	l[0] = first;
	l[1] = code;
	if (first != SH_NIL)
		lk(sv, first)[1] = id;
	*head = id;
}

void sh_set_entry(struct sh_vm *sv, uint32_t pi, unsigned idx, uint64_t e,
		  uint32_t child)
{
	struct sh_page *p = sv->pages[pi];
	uint32_t id = pi << 9 | idx, b;

	if (p->e[idx] & X86_PTE_P) {
		list_remove(sv, id);
		/* A cached upper-level entry may name the old table. */
		if (SH_T_LEVEL(p->type) > 1)
			sv->tlb_flush = true;
	}
	pte_store(&p->e[idx], e);
	if (!(e & X86_PTE_P))
		return;
	if (SH_T_LEVEL(p->type) == 1) {
		sv->leaf_added = true;
		b = sh_rmap_bucket(e & X86_PTE_ADDR_MASK);
		list_push(sv, &sv->rmap[b], SH_HEAD_BUCKET | b, id);
	} else {
		list_push(sv, &sv->pages[child]->parents, SH_HEAD_PAGE | child,
			  id);
	}
}

static void lru_unlink(struct sh_vm *sv, struct sh_page *p)
{
	if (p->lru_prev != SH_NIL)
		sv->pages[p->lru_prev]->lru_next = p->lru_next;
	else
		sv->lru_head = p->lru_next;
	if (p->lru_next != SH_NIL)
		sv->pages[p->lru_next]->lru_prev = p->lru_prev;
	else
		sv->lru_tail = p->lru_prev;
	p->lru_prev = p->lru_next = SH_NIL;
}

static void lru_push(struct sh_vm *sv, struct sh_page *p)
{
	p->lru_prev = SH_NIL;
	p->lru_next = sv->lru_head;
	if (sv->lru_head != SH_NIL)
		sv->pages[sv->lru_head]->lru_prev = p->idx;
	else
		sv->lru_tail = p->idx;
	sv->lru_head = p->idx;
}

void sh_touch(struct sh_vm *sv, uint32_t pi)
{
	struct sh_page *p = sv->pages[pi];

	if (sv->lru_head == pi)
		return;
	lru_unlink(sv, p);
	lru_push(sv, p);
}

uint32_t sh_find(const struct sh_vm *sv, uint64_t gfn, uint32_t type)
{
	uint32_t i = sv->hash[hash_gfn(gfn)];

	while (i != SH_NIL) {
		const struct sh_page *p = sv->pages[i];

		if (p->gfn == gfn && p->type == type)
			return i;
		i = p->hnext;
	}
	return SH_NIL;
}

bool sh_is_pt(const struct sh_vm *sv, uint64_t gfn)
{
	uint32_t i = sv->hash[hash_gfn(gfn)];

	while (i != SH_NIL) {
		const struct sh_page *p = sv->pages[i];

		if (p->gfn == gfn && SH_T_KIND(p->type) == SH_GUEST && !p->oos)
			return true;
		i = p->hnext;
	}
	return false;
}

static uint32_t next_match(const struct sh_vm *sv, uint32_t i, uint64_t gfn)
{
	while (i != SH_NIL && sv->pages[i]->gfn != gfn)
		i = sv->pages[i]->hnext;
	return i;
}

uint32_t sh_find_any(const struct sh_vm *sv, uint64_t gfn)
{
	return next_match(sv, sv->hash[hash_gfn(gfn)], gfn);
}

uint32_t sh_next_any(const struct sh_vm *sv, uint32_t i, uint64_t gfn)
{
	return next_match(sv, sv->pages[i]->hnext, gfn);
}

void sh_hash_add(struct sh_vm *sv, uint32_t pi)
{
	struct sh_page *p = sv->pages[pi];
	uint32_t *head = &sv->hash[hash_gfn(p->gfn)];

	p->hnext = *head;
	*head = pi;
	p->hashed = true;
}

static void hash_remove(struct sh_vm *sv, struct sh_page *p)
{
	uint32_t *link = &sv->hash[hash_gfn(p->gfn)];

	while (*link != SH_NIL && *link != p->idx)
		link = &sv->pages[*link]->hnext;
	if (*link == p->idx)
		*link = p->hnext;
	p->hnext = SH_NIL;
	p->hashed = false;
}

static int dir_grow(struct sh_vm *sv)
{
	const struct vmmu_platform *pl = &sv->vm->platform;
	uint32_t ncap = sv->cap_dir ? sv->cap_dir * 2 : 64;
	struct sh_page **n = pl->zalloc(pl->ctx, ncap * sizeof(*n));

	if (!n)
		return VMMU_ENOMEM;
	/* Freed at once: no lock-free reader uses the directory (T1). */
	if (sv->pages) {
		memcpy(n, sv->pages, sv->npages * sizeof(*n));
		pl->free(pl->ctx, sv->pages);
	}
	sv->pages = n;
	sv->cap_dir = ncap;
	return VMMU_OK;
}

/* A new page from the platform (VMMU_ENOMEM: recycle instead). */
static int page_new(struct sh_vm *sv, uint32_t *out)
{
	const struct vmmu_platform *pl = &sv->vm->platform;
	struct sh_page *p;

	if (sv->npages >= SH_MAX_PAGES ||
	    (sv->npages == sv->cap_dir && dir_grow(sv) < 0))
		return VMMU_ENOMEM;
	p = pl->zalloc(pl->ctx, sizeof(*p));
	if (!p)
		return VMMU_ENOMEM;
	if (pl->alloc_page(pl->ctx, &p->hpa) < 0) {
		pl->free(pl->ctx, p);
		return VMMU_ENOMEM;
	}
	p->e = pl->map(pl->ctx, p->hpa);
	if (!p->e) {
		pl->free_page(pl->ctx, p->hpa);
		pl->free(pl->ctx, p);
		return vmmu_vm_kill(sv->vm, "shadow pool: platform page unmapped");
	}
	memset(p->link, 0xff, sizeof(p->link));
	p->idx = sv->npages;
	p->hnext = p->lru_prev = p->lru_next = p->parents = SH_NIL;
	sv->pages[sv->npages++] = p;
	sv->st.pages_allocated++;
	*out = p->idx;
	return VMMU_OK;
}

void sh_free(struct sh_vm *sv, uint32_t pi)
{
	struct sh_page *p = sv->pages[pi];
	unsigned i;

	sh_oos_release(sv, pi);
	while (p->parents != SH_NIL) {
		uint32_t id = p->parents;

		sh_set_entry(sv, id >> 9, id & 511, 0, SH_NIL);
	}
	for (i = 0; i < 512; i++)
		if (p->e[i] & X86_PTE_P)
			sh_set_entry(sv, pi, i, 0, SH_NIL);
	if (p->hashed)
		hash_remove(sv, p);
	lru_unlink(sv, p);
	p->in_use = false;
	p->pin = 0;
	p->busy = 0;
	p->flood = 0;
	p->type = 0;
	p->gfn = 0;
	/* Another vCPU may be walking the page or cache it (T3): it is
	 * reused only after sh_flush_tlbs has waited for them. */
	p->hnext = sv->limbo;
	sv->limbo = pi;
	sv->st.pages_in_use--;
	sv->tlb_flush = true;
}

/* The least recently used page that is neither pinned nor busy. */
static uint32_t lru_victim(const struct sh_vm *sv)
{
	uint32_t i = sv->lru_tail;

	while (i != SH_NIL && (sv->pages[i]->pin || sv->pages[i]->busy))
		i = sv->pages[i]->lru_prev;
	return i;
}

/*
 * No free page and no room to grow: take back the limbo pages, else
 * recycle the least recently used page. Either way the free list is
 * filled only by sh_flush_tlbs, after every vCPU let go (T3).
 */
static int reclaim(struct sh_vm *sv)
{
	if (sv->limbo == SH_NIL) {
		uint32_t v = lru_victim(sv);

		if (sv->vm->dead)
			return VMMU_EDEAD;
		if (v == SH_NIL)
			return vmmu_vm_kill(sv->vm, "shadow pool: every page pinned");
		sh_free(sv, v);
		sv->st.recycled++;
	}
	sh_flush_tlbs(sv);
	return VMMU_OK;
}

int sh_alloc(struct sh_vm *sv, uint32_t *out)
{
	struct sh_page *p;
	uint32_t pi = SH_NIL;
	int rc;

	if (sv->free_list == SH_NIL &&
	    (sv->npages >= sh_pool_size(sv) || page_new(sv, &pi) < 0) &&
	    (rc = reclaim(sv)) < 0)
		return rc;
	if (pi == SH_NIL) {
		pi = sv->free_list;
		sv->free_list = sv->pages[pi]->hnext;
	}
	p = sv->pages[pi];
	p->in_use = true;
	p->hnext = SH_NIL;
	p->parents = SH_NIL;
	lru_push(sv, p);
	sv->st.pages_in_use++;
	*out = pi;
	return VMMU_OK;
}

/* Drop every shadow; pinned pages stay, emptied (p2m or slot change). */
void sh_drop_all(struct sh_vm *sv)
{
	uint32_t i;
	unsigned j;

	for (i = 0; i < sv->npages; i++) {
		struct sh_page *p = sv->pages[i];

		if (p->in_use && !p->pin && !p->busy)
			sh_free(sv, i);
	}
	for (i = 0; i < sv->npages; i++) {
		struct sh_page *p = sv->pages[i];

		for (j = 0; p->in_use && j < 512; j++)
			if (p->e[j] & X86_PTE_P)
				sh_set_entry(sv, i, j, 0, SH_NIL);
	}
	sv->st.drops++;
	sv->tlb_flush = true;
}

static void sh_flush_one(struct vmmu_tlb *t, void *arg)
{
	(void)arg;
	vmmu_tlb_flush_all(t);
}

void sh_flush_tlbs(struct sh_vm *sv)
{
	uint32_t pi;

	/* every vCPU runs it on entering its next access; waits for the
	 * accesses in flight (access.h) */
	vmmu_vm_tlb_invalidate(sv->vm, sv->vm->handler_vcpu, sh_flush_one, NULL, 0);
	sv->tlb_flush = false;
	/* Nothing reaches the limbo pages now (T3): they may be reused. */
	while ((pi = sv->limbo) != SH_NIL) {
		sv->limbo = sv->pages[pi]->hnext;
		sv->pages[pi]->hnext = sv->free_list;
		sv->free_list = pi;
	}
}
