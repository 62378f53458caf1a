/* SPDX-License-Identifier: MIT */
/*
 * The guest OS model's memory management: page-table walks and changes
 * (through gos_kload / gos_kstore), the page-fault handler (demand paging,
 * copy-on-write, large pages), fork, exec, exit, wait and the mapping
 * calls. Every function that changes an address space takes the kernel
 * lock; the ones ending in _locked expect it held.
 */
#include <stdlib.h>
#include <string.h>

#include "model/gos.h"
#include "vmmu/error.h"

#define TEXT_BASE 0x400000ULL

static uint64_t lsize(const struct gos *g, unsigned level)
{
	return 1ULL << gos_shift(g, level);
}

static unsigned nentries(const struct gos *g, unsigned level)
{
	if (g->esize == 4)
		return 1024;
	return g->cfg.mode == VMMU_PAGING_PAE && level == 3 ? 4 : 512;
}

static unsigned order_of(const struct gos *g, unsigned level)
{
	return level == 1 ? VMMU_ORDER_4K : level == 2 ?
	       (g->esize == 4 ? 10 : VMMU_ORDER_2M) : VMMU_ORDER_1G;
}

/* Take chunk i off the free 2 MiB stack. */
static void take_chunk(struct gos *g, uint64_t i)
{
	g->free2m[i] = g->free2m[--g->nfree2m];
}

/* 4 MiB pages (2-level paging) are two adjacent, aligned 2 MiB chunks. */
static int alloc_level(struct gos *g, unsigned level, uint64_t *gpa)
{
	uint64_t i, j, a;

	if (order_of(g, level) != 10)
		return gos_frame_alloc(g, order_of(g, level), gpa);
	for (i = 0; i < g->nfree2m; i++) {
		if (g->free2m[i] & 1)
			continue;
		for (j = 0; j < g->nfree2m && g->free2m[j] != g->free2m[i] + 1; j++)
			;
		if (j == g->nfree2m)
			continue;
		a = g->free2m[i];
		take_chunk(g, i > j ? i : j);   /* the higher index first */
		take_chunk(g, i > j ? j : i);
		g->refs[a << 9] = g->refs[(a + 1) << 9] = 1;
		g->frames_used += 1024;
		*gpa = a << 21;
		return VMMU_OK;
	}
	return VMMU_ENOMEM;
}

static void put_level(struct gos *g, uint64_t gpa, unsigned level)
{
	if (order_of(g, level) == 10) {
		if (g->refs[gpa >> 12] == 1)
			gos_frame_put(g, gpa + (2ULL << 20), VMMU_ORDER_2M);
		gos_frame_put(g, gpa, VMMU_ORDER_2M);
		return;
	}
	gos_frame_put(g, gpa, order_of(g, level));
}

static int new_table(struct gos_cpu *c, uint64_t *gpa)
{
	struct gos *g = c->g;
	int rc;

	if (g->nquick) {
		*gpa = g->quick[--g->nquick];
		return VMMU_OK;
	}
	rc = gos_frame_alloc(g, VMMU_ORDER_4K, gpa);
	return rc < 0 ? rc : gos_clear(c, *gpa, VMMU_PAGE_SIZE, true);
}

/* A table emptied by a zap goes to the quicklist. */
static void free_table(struct gos *g, uint64_t gpa)
{
	if (g->nquick < sizeof(g->quick) / sizeof(g->quick[0]))
		g->quick[g->nquick++] = gpa;
	else
		gos_frame_put(g, gpa, VMMU_ORDER_4K);
}

/* The kernel's walk: the entry for va at the deepest present level. */
static int pt_walk(struct gos_cpu *c, const struct gos_proc *p, uint64_t va,
		   unsigned *level, uint64_t *egpa, uint64_t *e)
{
	struct gos *g = c->g;
	uint64_t table = p->root;
	unsigned l;
	int rc;

	for (l = g->levels; l >= 1; l--) {
		*egpa = table + gos_index(g, l, va) * g->esize;
		rc = gos_kload(c, *egpa, e);
		*level = l;
		if (rc < 0 || !(*e & X86_PTE_P) || l == 1 ||
		    (*e & X86_PTE_PS))
			return rc;
		table = *e & g->addr_mask;
	}
	return VMMU_OK;
}

/* The entry for va at leaf level, allocating the tables above it. */
static int pt_ensure(struct gos_cpu *c, struct gos_proc *p, uint64_t va,
		     unsigned leaf, uint64_t *egpa)
{
	struct gos *g = c->g;
	uint64_t table = p->root, e, t;
	unsigned l;
	int rc;

	for (l = g->levels; l > leaf; l--) {
		*egpa = table + gos_index(g, l, va) * g->esize;
		rc = gos_kload(c, *egpa, &e);
		if (rc < 0)
			return rc;
		if (e & X86_PTE_PS)
			return VMMU_EEXIST;
		if (!(e & X86_PTE_P)) {
			rc = new_table(c, &t);
			if (rc == 0)
				rc = gos_kstore(c, *egpa, e = t | X86_PTE_P |
						X86_PTE_RW | X86_PTE_US);
			if (rc < 0)
				return rc;
		}
		table = e & g->addr_mask;
	}
	*egpa = table + gos_index(g, leaf, va) * g->esize;
	return VMMU_OK;
}

static uint64_t leaf_entry(const struct gos *g, uint64_t gpa, unsigned level,
			   unsigned prot)
{
	uint64_t e = gpa | X86_PTE_P | X86_PTE_US;

	if (prot & GOS_W)
		e |= X86_PTE_RW;
	if (g->nx && !(prot & GOS_X))
		e |= X86_PTE_NX;
	if (level > 1)
		e |= X86_PTE_PS;
	return e;
}

static int set_leaf(struct gos_cpu *c, struct gos_proc *p, uint64_t egpa,
		    uint64_t va, uint64_t e, unsigned level)
{
	struct gos *g = c->g;

	if (g->cfg.track)
		gos_track(p, va, e & g->addr_mask & ~(lsize(g, level) - 1),
			  lsize(g, level), e & X86_PTE_RW, e & X86_PTE_P);
	return gos_kstore(c, egpa, e);
}

/* ---- ranges of a table tree --------------------------------------------- */

struct pt_op {
	int (*leaf)(struct gos_cpu *c, struct gos_proc *p, uint64_t egpa,
		    uint64_t e, unsigned level, uint64_t va, void *arg);
	void *arg;
	/*
	 * Free the tables whose whole span lies in [floor, ceiling) (no
	 * other mapping there: Linux's free_pgtables); ceiling 0: none.
	 */
	uint64_t floor, ceiling;
};

static int pt_range(struct gos_cpu *c, struct gos_proc *p, uint64_t table,
		    unsigned level, uint64_t base, uint64_t start, uint64_t end,
		    const struct pt_op *op)
{
	struct gos *g = c->g;
	uint64_t span = lsize(g, level), va, e, egpa, i, first, last;
	int rc = VMMU_OK;

	first = start > base ? (start - base) / span : 0;
	last = (end - 1 - base) / span;
	if (last >= nentries(g, level))
		last = nentries(g, level) - 1;
	for (i = first; rc == 0 && i <= last; i++) {
		va = base + i * span;
		egpa = table + i * g->esize;
		rc = gos_kload(c, egpa, &e);
		if (rc < 0 || !(e & X86_PTE_P))
			continue;
		if (level == 1 || (e & X86_PTE_PS)) {
			rc = op->leaf(c, p, egpa, e, level, va, op->arg);
			continue;
		}
		rc = pt_range(c, p, e & g->addr_mask, level - 1, va,
			      va > start ? va : start,
			      va + span < end ? va + span : end, op);
		if (rc == 0 && op->ceiling && op->floor <= va &&
		    va + span <= op->ceiling &&
		    !(g->cfg.mode == VMMU_PAGING_PAE && level == 3)) {
			rc = gos_kstore(c, egpa, 0);
			free_table(g, e & g->addr_mask);
		}
	}
	return rc;
}

static int each_range(struct gos_cpu *c, struct gos_proc *p, uint64_t start,
		      uint64_t end, const struct pt_op *op)
{
	return start < end ? pt_range(c, p, p->root, c->g->levels, 0, start,
				      end, op) : VMMU_OK;
}

static int zap_leaf(struct gos_cpu *c, struct gos_proc *p, uint64_t egpa,
		    uint64_t e, unsigned level, uint64_t va, void *arg)
{
	int rc = set_leaf(c, p, egpa, va, 0, level);

	(void)arg;
	put_level(c->g, e & c->g->addr_mask, level);
	return rc;
}

/* ---- VMAs ------------------------------------------------------------------ */

static struct gos_vma *vma_find(struct gos_proc *p, uint64_t va)
{
	unsigned i;

	for (i = 0; i < p->nvma; i++)
		if (va >= p->vma[i].start && va < p->vma[i].end)
			return &p->vma[i];
	return NULL;
}

static int vma_add(struct gos_proc *p, struct gos_vma v)
{
	if (p->nvma == GOS_MAX_VMAS)
		return VMMU_ENOSPC;
	p->vma[p->nvma++] = v;
	return VMMU_OK;
}

/* Cut [start, end) out of p's VMAs (splitting one that contains it). */
static int vma_cut(struct gos_proc *p, uint64_t start, uint64_t end)
{
	unsigned i;

	for (i = 0; i < p->nvma; i++) {
		struct gos_vma *v = &p->vma[i], tail = *v;

		if (v->end <= start || v->start >= end)
			continue;
		if (v->start >= start && v->end <= end) {
			p->vma[i--] = p->vma[--p->nvma];
		} else if (v->start < start && v->end > end) {
			v->end = start;
			tail.start = end;
			if (vma_add(p, tail) < 0)
				return VMMU_ENOSPC;
		} else if (v->start < start) {
			v->end = start;
		} else {
			v->start = end;
		}
	}
	return VMMU_OK;
}

/* ---- the page-fault handler ---------------------------------------------- */

static int text_frame(struct gos *g, unsigned id, uint64_t page, uint64_t *gpa)
{
	uint64_t f;
	int rc;

	if (page >= g->text_len[id])
		return VMMU_EFAULT;
	if (!g->text[id][page]) {       /* read into the page cache */
		rc = gos_frame_alloc(g, VMMU_ORDER_4K, &f);
		if (rc == 0 && page == 0)
			rc = gos_text_code(g, f);
		if (rc < 0)
			return rc;
		g->text[id][page] = (uint32_t)(f >> VMMU_PAGE_SHIFT);
	}
	f = (uint64_t)g->text[id][page] << VMMU_PAGE_SHIFT;
	g->refs[f >> VMMU_PAGE_SHIFT]++;
	*gpa = f;
	return VMMU_OK;
}

/* The largest leaf level the VMA allows at va (1 unless huge and aligned). */
static unsigned fault_level(const struct gos *g, const struct gos_vma *v,
			    uint64_t va)
{
	unsigned level = g->cfg.page_order == VMMU_ORDER_1G ? 3 :
			 g->cfg.page_order ? 2 : 1;

	if (!v->huge || v->kind != GOS_VMA_ANON)
		return 1;
	for (; level > 1; level--) {
		uint64_t s = lsize(g, level), b = va & ~(s - 1);

		if (b >= v->start && b + s <= v->end)
			return level;
	}
	return 1;
}

static int demand_fault(struct gos_cpu *c, struct gos_proc *p,
			const struct gos_vma *v, uint64_t va)
{
	struct gos *g = c->g;
	unsigned level = fault_level(g, v, va);
	uint64_t egpa = 0, gpa = 0, e, base;
	int rc;

	for (;;) {
		base = va & ~(lsize(g, level) - 1);
		rc = pt_ensure(c, p, base, level, &egpa);
		if (rc == 0 && level > 1 && (rc = gos_kload(c, egpa, &e)) == 0 &&
		    (e & X86_PTE_P))
			rc = VMMU_EEXIST;       /* a table below: go smaller */
		if (rc == 0 && v->kind == GOS_VMA_TEXT)
			rc = text_frame(g, v->text, (base - v->start) >>
					VMMU_PAGE_SHIFT, &gpa);
		else if (rc == 0 && (rc = alloc_level(g, level, &gpa)) == 0)
			rc = gos_clear(c, gpa, lsize(g, level), false);
		if (level > 1 && (rc == VMMU_EEXIST || rc == VMMU_ENOMEM)) {
			level--;
			continue;
		}
		break;
	}
	if (rc < 0)
		return rc;
	g->st.demand_faults++;
	if (level > 1)
		g->st.huge_maps++;
	return set_leaf(c, p, egpa, base, leaf_entry(g, gpa, level, v->prot),
			level);
}

static int cow_fault(struct gos_cpu *c, struct gos_proc *p, uint64_t va,
		     unsigned level, uint64_t egpa, uint64_t e)
{
	struct gos *g = c->g;
	uint64_t size = lsize(g, level), base = va & ~(size - 1);
	uint64_t old = e & g->addr_mask & ~(size - 1), gpa;
	int rc;

	g->st.cow_faults++;
	if (g->refs[old >> VMMU_PAGE_SHIFT] == 1) {     /* last user: reuse */
		rc = set_leaf(c, p, egpa, base, e | X86_PTE_RW, level);
	} else {
		rc = alloc_level(g, level, &gpa);
		if (rc == 0)
			rc = gos_copy(c, gpa, old, size);
		if (rc < 0)
			return rc;
		g->st.cow_copies++;
		put_level(g, old, level);
		rc = set_leaf(c, p, egpa, base, (e & ~g->addr_mask) | gpa |
			      X86_PTE_RW, level);
	}
	if (rc == 0)
		gos_flush(c, p, base, base + size);
	return rc;
}

/* Handle a #PF of c->cur at cr2; VMMU_EFAULT: SIGSEGV. Kernel lock held. */
static int fault_locked(struct gos_cpu *c, uint64_t cr2, uint32_t ec)
{
	struct gos_proc *p = c->cur;
	struct gos_vma *v = vma_find(p, cr2);
	uint64_t egpa = 0, e = 0;
	unsigned level = 1;
	int rc;

	if (!v || ((ec & X86_PFEC_W) && !(v->prot & GOS_W)) ||
	    ((ec & X86_PFEC_I) && !(v->prot & GOS_X)))
		return VMMU_EFAULT;
	rc = pt_walk(c, p, cr2, &level, &egpa, &e);
	if (rc < 0)
		return rc;
	if (!(e & X86_PTE_P))
		return demand_fault(c, p, v, cr2);
	if ((ec & X86_PFEC_W) && !(e & X86_PTE_RW))
		return cow_fault(c, p, cr2, level, egpa, e);
	/* another vCPU mapped it first, or a stale entry: retry */
	return vmmu_vcpu_invlpg(c->vcpu, mk_gva(cr2));
}

int gos_access(struct gos_cpu *c, uint64_t gva, enum vmmu_access_kind kind,
	       unsigned size)
{
	struct vmmu_access_result r;
	uint64_t data = 0;
	struct vmmu_op op = { .acc = { mk_gva(gva), kind, 3, false },
			      .size = size, .data = &data };
	unsigned tries;
	int rc;

	if (atomic_load_explicit(&c->ipi, memory_order_relaxed))
		gos_poll(c);
	if (size > 4 && c->g->emu_mode == 32) {
		rc = gos_access(c, gva, kind, 4);
		return rc < 0 ? rc : gos_access(c, gva + 4, kind, size - 4);
	}
	for (tries = 0; tries < 8; tries++) {
		if (kind == VMMU_ACCESS_WRITE)
			rc = gos_user_store(c, TEXT_BASE, gva, size, &r);
		else
			rc = vmmu_vcpu_access(c->vcpu, &op, &r);
		if (rc < 0 || r.status == VMMU_ACCESS_DONE)
			return rc;
		if (r.status != VMMU_ACCESS_FAULT || r.fault.vector != X86_VEC_PF)
			return VMMU_EIO;
		gos_lock(c);
		rc = fault_locked(c, r.fault.cr2.v, r.fault.error_code);
		gos_unlock(c);
		if (rc < 0)
			return rc;
	}
	return VMMU_EBUSY;
}

/* ---- processes ------------------------------------------------------------- */

static struct gos_proc *proc_alloc(struct gos *g)
{
	unsigned i;

	for (i = 0; i < GOS_MAX_PROCS; i++) {
		struct gos_proc *p = &g->proc[i];

		if (p->pid >= 0)
			continue;
		free(p->rec);
		memset(p, 0, sizeof(*p));
		p->pid = g->next_pid++;
		p->uid = ++g->next_uid;
		p->pcid = (uint16_t)(i + 1);
		return p;
	}
	return NULL;
}

/* pgd_alloc: a root with the kernel's entries (PAE: all four PDs). */
static int root_alloc(struct gos_cpu *c, struct gos_proc *p)
{
	struct gos *g = c->g;
	uint64_t pd;
	unsigned i;
	int rc;

	if (g->nquick_roots) {  /* kernel entries (and PAE PDs) in place */
		p->root = g->quick_roots[--g->nquick_roots];
		return VMMU_OK;
	}
	rc = gos_frame_alloc(g, VMMU_ORDER_4K, &p->root);
	if (rc == 0)
		rc = gos_clear(c, p->root, VMMU_PAGE_SIZE, true);
	for (i = 0; rc == 0 && i < g->nkern; i++)
		rc = gos_kstore(c, p->root + g->kern_idx[i] * g->esize,
				g->kern_val[i]);
	if (g->cfg.mode != VMMU_PAGING_PAE)
		return rc;
	for (i = 0; rc == 0 && i < 3; i++) {
		rc = new_table(c, &pd);
		if (rc == 0)
			rc = gos_kstore(c, p->root + i * 8, pd | X86_PTE_P);
	}
	return rc;
}

static void root_free(struct gos *g, struct gos_proc *p)
{
	g->quick_roots[g->nquick_roots++] = p->root;
	p->pid = -1;
}

/* The gap around [start, end) that no other VMA of p uses. */
static void free_window(const struct gos_proc *p, uint64_t start,
			uint64_t end, uint64_t top, struct pt_op *op)
{
	unsigned i;

	op->floor = 0;
	op->ceiling = top;
	for (i = 0; i < p->nvma; i++) {
		const struct gos_vma *v = &p->vma[i];

		if (v->end <= start && v->end > op->floor)
			op->floor = v->end;
		if (v->start >= end && v->start < op->ceiling)
			op->ceiling = v->start;
	}
}

/* exit_mmap: every VMA's pages, then its tables, VMA by VMA. */
static int zap_all(struct gos_cpu *c, struct gos_proc *p)
{
	struct pt_op op = { zap_leaf, NULL, 0, 0 };
	int rc = VMMU_OK;

	while (rc == 0 && p->nvma) {
		struct gos_vma v = p->vma[--p->nvma];

		free_window(p, v.start, v.end, c->g->user_top, &op);
		rc = each_range(c, p, v.start, v.end, &op);
	}
	p->nvma = 0;
	if (rc == 0)
		gos_flush(c, p, 0, 0);
	return rc;
}

static int exec_locked(struct gos_cpu *c, struct gos_proc *p,
		       const struct gos_image *img)
{
	struct gos *g = c->g;
	uint64_t data = TEXT_BASE + img->text_pages * VMMU_PAGE_SIZE;
	bool wide = g->levels >= 4;
	int rc = zap_all(c, p);

	if (rc < 0 || img->text_id >= GOS_MAX_TEXTS || !img->text_pages)
		return rc < 0 ? rc : VMMU_EINVAL;
	if (!g->text[img->text_id]) {
		g->text[img->text_id] = calloc(img->text_pages, sizeof(uint32_t));
		if (!g->text[img->text_id])
			return VMMU_ENOMEM;
		g->text_len[img->text_id] = img->text_pages;
	}
	p->stack_top = wide ? 0x7ffffffff000ULL : 0xbffff000ULL;
	p->mmap_next = wide ? 0x7f0000000000ULL : 0x40000000ULL;
	p->brk_base = p->brk = data + img->data_pages * VMMU_PAGE_SIZE +
			       (1ULL << 20);
	rc = vma_add(p, (struct gos_vma){ TEXT_BASE, data, GOS_R | GOS_X,
			 GOS_VMA_TEXT, false, (uint8_t)img->text_id });
	if (rc == 0 && img->data_pages)
		rc = vma_add(p, (struct gos_vma){ data, data + img->data_pages *
				 VMMU_PAGE_SIZE, GOS_R | GOS_W, GOS_VMA_ANON,
				 false, 0 });
	if (rc == 0)
		rc = vma_add(p, (struct gos_vma){ p->stack_top - img->stack_pages *
				 VMMU_PAGE_SIZE, p->stack_top, GOS_R | GOS_W,
				 GOS_VMA_ANON, false, 0 });
	g->st.execs++;
	return rc;
}

int gos_exec(struct gos_cpu *c, const struct gos_image *img)
{
	int rc;

	gos_lock(c);
	rc = c->cur ? exec_locked(c, c->cur, img) : VMMU_EINVAL;
	gos_unlock(c);
	return rc;
}

int gos_spawn(struct gos_cpu *c, const struct gos_image *img,
	      struct gos_proc **out)
{
	struct gos_proc *p;
	int rc;

	gos_lock(c);
	p = proc_alloc(c->g);
	rc = p ? root_alloc(c, p) : VMMU_ENOSPC;
	if (rc == 0)
		rc = gos_switch_locked(c, p);
	if (rc == 0)
		rc = exec_locked(c, p, img);
	gos_unlock(c);
	*out = p;
	return rc;
}

struct fork_arg {
	struct gos_proc *child;
};

/* copy_pte_range for a private mapping: write-protect both, share. */
static int fork_leaf(struct gos_cpu *c, struct gos_proc *p, uint64_t egpa,
		     uint64_t e, unsigned level, uint64_t va, void *arg)
{
	struct fork_arg *fa = arg;
	struct gos *g = c->g;
	uint64_t cegpa;
	int rc = VMMU_OK;

	if (e & X86_PTE_RW)
		rc = set_leaf(c, p, egpa, va, e & ~X86_PTE_RW, level);
	if (rc == 0)
		rc = pt_ensure(c, fa->child, va, level, &cegpa);
	if (rc == 0)
		rc = set_leaf(c, fa->child, cegpa, va, e & ~X86_PTE_RW, level);
	if (rc == 0)
		g->refs[(e & g->addr_mask) >> VMMU_PAGE_SHIFT]++;
	return rc;
}

int gos_fork(struct gos_cpu *c, struct gos_proc **child)
{
	struct gos *g = c->g;
	struct gos_proc *p = c->cur, *ch;
	struct fork_arg fa;
	struct pt_op op = { fork_leaf, &fa, 0, 0 };
	unsigned i;
	int rc;

	gos_lock(c);
	ch = proc_alloc(g);
	rc = ch && p ? root_alloc(c, ch) : VMMU_ENOSPC;
	if (rc == 0) {
		memcpy(ch->vma, p->vma, sizeof(p->vma));
		ch->nvma = p->nvma;
		ch->brk_base = p->brk_base;
		ch->brk = p->brk;
		ch->mmap_next = p->mmap_next;
		ch->stack_top = p->stack_top;
		ch->parent = p;
		fa.child = ch;
	}
	/* file-backed text is not copied: the child faults it in again */
	for (i = 0; rc == 0 && i < p->nvma; i++)
		if (p->vma[i].kind == GOS_VMA_ANON)
			rc = each_range(c, p, p->vma[i].start, p->vma[i].end, &op);
	if (rc == 0)
		gos_flush(c, p, 0, 0);
	g->st.forks++;
	gos_unlock(c);
	*child = ch;
	return rc;
}

int gos_exit(struct gos_cpu *c)
{
	int rc;

	gos_lock(c);
	rc = c->cur ? zap_all(c, c->cur) : VMMU_EINVAL;
	if (rc == 0)
		c->cur->zombie = true;
	c->g->st.exits++;
	gos_unlock(c);
	return rc;
}

int gos_wait(struct gos_cpu *c, struct gos_proc *child)
{
	int rc = VMMU_OK;

	gos_lock(c);
	if (!child->zombie || atomic_load(&child->cpumask))
		rc = VMMU_EBUSY;
	else
		root_free(c->g, child);
	gos_unlock(c);
	return rc;
}

/* ---- mapping calls ----------------------------------------------------- */

int gos_mmap(struct gos_cpu *c, uint64_t len, unsigned prot, bool huge,
	     uint64_t *addr)
{
	struct gos_proc *p = c->cur;
	uint64_t align = huge ? lsize(c->g, c->g->cfg.page_order == VMMU_ORDER_1G
				      ? 3 : 2) : VMMU_PAGE_SIZE;
	int rc;

	len = (len + VMMU_PAGE_SIZE - 1) & VMMU_PAGE_MASK;
	gos_lock(c);
	*addr = (p->mmap_next + align - 1) & ~(align - 1);
	rc = *addr + len > p->stack_top - (1ULL << 30) ? VMMU_ENOMEM :
	     vma_add(p, (struct gos_vma){ *addr, *addr + len, (uint8_t)prot,
					 GOS_VMA_ANON, huge, 0 });
	if (rc == 0)
		p->mmap_next = *addr + len;
	c->g->st.mmaps++;
	gos_unlock(c);
	return rc;
}

int gos_mmap_fixed(struct gos_cpu *c, uint64_t addr, uint64_t len,
		   unsigned prot)
{
	struct gos_proc *p = c->cur;
	uint64_t end = (addr + len + VMMU_PAGE_SIZE - 1) & VMMU_PAGE_MASK;
	struct gos_vma *v;
	int rc;

	addr &= VMMU_PAGE_MASK;
	if (end > c->g->user_top || end <= addr)
		return VMMU_EINVAL;
	gos_lock(c);
	v = vma_find(p, addr);
	if (v && v->end >= end && v->prot == prot) {
		gos_unlock(c);
		return VMMU_OK;
	}
	rc = vma_cut(p, addr, end);
	if (rc == 0)
		rc = vma_add(p, (struct gos_vma){ addr, end, (uint8_t)prot,
					     GOS_VMA_ANON, false, 0 });
	c->g->st.mmaps++;
	gos_unlock(c);
	return rc;
}

static int unmap_locked(struct gos_cpu *c, uint64_t addr, uint64_t end)
{
	struct pt_op op = { zap_leaf, NULL, 0, 0 };
	int rc = vma_cut(c->cur, addr, end);

	free_window(c->cur, addr, end, c->g->user_top, &op);
	if (rc == 0)
		rc = each_range(c, c->cur, addr, end, &op);
	if (rc == 0)
		gos_flush(c, c->cur, addr, end);
	return rc;
}

int gos_munmap(struct gos_cpu *c, uint64_t addr, uint64_t len)
{
	uint64_t end = (addr + len + VMMU_PAGE_SIZE - 1) & VMMU_PAGE_MASK;
	int rc;

	if ((addr & ~VMMU_PAGE_MASK) || end > c->g->user_top || end <= addr)
		return VMMU_EINVAL;
	gos_lock(c);
	rc = unmap_locked(c, addr, end);
	c->g->st.munmaps++;
	gos_unlock(c);
	return rc;
}

struct prot_arg {
	unsigned prot;
};

static int prot_leaf(struct gos_cpu *c, struct gos_proc *p, uint64_t egpa,
		     uint64_t e, unsigned level, uint64_t va, void *arg)
{
	const struct prot_arg *pa = arg;
	uint64_t n = e;

	if (!(pa->prot & GOS_W))
		n &= ~X86_PTE_RW;       /* adding W waits for the write fault */
	if (c->g->nx)
		n = (pa->prot & GOS_X) ? n & ~X86_PTE_NX : n | X86_PTE_NX;
	return n == e ? VMMU_OK : set_leaf(c, p, egpa, va, n, level);
}

int gos_mprotect(struct gos_cpu *c, uint64_t addr, uint64_t len,
		 unsigned prot)
{
	struct gos_proc *p = c->cur;
	uint64_t end = (addr + len + VMMU_PAGE_SIZE - 1) & VMMU_PAGE_MASK;
	struct prot_arg pa = { prot };
	struct pt_op op = { prot_leaf, &pa, 0, 0 };
	struct gos_vma *v;
	int rc;

	gos_lock(c);
	v = vma_find(p, addr);
	if (!v || v->end < end || (addr & ~VMMU_PAGE_MASK)) {
		gos_unlock(c);
		return VMMU_EINVAL;
	}
	rc = each_range(c, p, addr, end, &op);
	if (rc == 0 && v->start == addr && v->end == end) {
		v->prot = (uint8_t)prot;
	} else if (rc == 0) {
		struct gos_vma n = *v;

		rc = vma_cut(p, addr, end);
		n.start = addr;
		n.end = end;
		n.prot = (uint8_t)prot;
		if (rc == 0)
			rc = vma_add(p, n);
	}
	if (rc == 0)
		gos_flush(c, p, addr, end);
	c->g->st.mprotects++;
	gos_unlock(c);
	return rc;
}

int gos_brk(struct gos_cpu *c, uint64_t new_end)
{
	struct gos_proc *p = c->cur;
	uint64_t end = (new_end + VMMU_PAGE_SIZE - 1) & VMMU_PAGE_MASK;
	struct gos_vma *v;
	int rc = VMMU_OK;

	if (end < p->brk_base || end > p->mmap_next)
		return VMMU_EINVAL;
	gos_lock(c);
	v = vma_find(p, p->brk_base);
	if (end > p->brk) {
		if (v)
			v->end = end;
		else
			rc = vma_add(p, (struct gos_vma){ p->brk_base, end,
					 GOS_R | GOS_W, GOS_VMA_ANON, false, 0 });
	} else if (end < p->brk) {
		rc = unmap_locked(c, end, p->brk);
	}
	if (rc == 0)
		p->brk = end;
	c->g->st.brks++;
	gos_unlock(c);
	return rc;
}
