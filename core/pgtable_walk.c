/* SPDX-License-Identifier: MIT */
/*
 * The engine's walks over existing entries (see pgtable.h): leaf
 * iteration, test-and-clear of A/D-style bits, and on-demand resolution of
 * lazy-recalculation markers.
 */
#include "vmmu/error.h"
#include "pgtable_internal.h"

struct pt_visit {
	vmmu_pt_leaf_fn fn;
	void *ctx;
	uint64_t clear;         /* test-and-clear: 4K-layout bits, else 0 */
	struct vmmu_pt *wpt;    /* test-and-clear: the tree, writable */
	struct vmmu_pt_change *chg;
};

/* Test-and-clear on one leaf: fn is told when any of the bits was set. */
static int pt_visit_clear(const struct vmmu_pt *pt, uint64_t *slot,
			  unsigned level, uint64_t addr, uint64_t size,
			  const struct pt_visit *v)
{
	uint64_t bits = pt_mask_at(pt, v->clear, level), old;

	if (!(pte_load(slot) & bits))
		return 0;
	old = pte_fetch_and(slot, ~bits);
	if (!(old & bits))
		return 0;
	pt_note(v->wpt, v->chg, addr & ~(vmmu_pt_level_size(level) - 1),
		level, old, old & ~bits);
	return v->fn ? v->fn(v->ctx, addr, size, level, old) : 0;
}

static int pt_visit(const struct vmmu_pt *pt, hpa_t table, unsigned level,
		    uint64_t addr, uint64_t end, const struct pt_visit *v)
{
	uint64_t *t = pt_table(pt, table);
	uint64_t size = vmmu_pt_level_size(level);
	int rc;

	if (!t)
		return VMMU_EFAULT;
	while (addr < end) {
		uint64_t chunk_end = pt_chunk_end(addr, end, size);
		uint64_t *slot = &t[vmmu_pt_index(addr, level)];
		uint64_t e = pte_load(slot);

		if (!pt_present(pt, e))
			rc = 0;
		else if (!pt_is_leaf(pt, e, level))
			rc = pt_visit(pt, pt_next(pt, e), level - 1, addr,
				      chunk_end, v);
		else if (v->clear)
			rc = pt_visit_clear(pt, slot, level, addr,
					    chunk_end - addr, v);
		else
			rc = v->fn(v->ctx, addr, chunk_end - addr, level, e);
		if (rc)
			return rc;
		addr = chunk_end;
	}
	return 0;
}

int vmmu_pt_for_each_leaf(const struct vmmu_pt *pt, uint64_t addr,
			  uint64_t size, vmmu_pt_leaf_fn fn, void *ctx)
{
	struct pt_visit v = { .fn = fn, .ctx = ctx };
	int rc = pt_check_range(pt, addr, size);

	if (rc < 0)
		return rc;
	if (!fn)
		return VMMU_EINVAL;
	return pt_visit(pt, pt->root, pt->levels, addr, addr + size, &v);
}

int vmmu_pt_test_and_clear(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
			   uint64_t bits, vmmu_pt_leaf_fn fn, void *ctx,
			   struct vmmu_pt_change *chg)
{
	struct pt_visit v = { .fn = fn, .ctx = ctx, .clear = bits, .wpt = pt,
			      .chg = chg };
	int rc = pt_check_range(pt, addr, size);

	if (rc < 0)
		return rc;
	if (!bits || (bits & pt->fmt->addr_mask))
		return VMMU_EINVAL;
	return pt_visit(pt, pt->root, pt->levels, addr, addr + size, &v);
}

/* Scratch for resolving one table: new leaf values, split tables. */
struct pt_recalc_scratch {
	uint64_t val[VMMU_PT_ENTRIES];
	hpa_t split[VMMU_PT_ENTRIES];   /* non-zero: replace by this table */
};

static struct pt_recalc_scratch *pt_scratch(struct vmmu_pt *pt)
{
	if (!pt->recalc_scratch)
		pt->recalc_scratch = pt->plat.zalloc(pt->plat.ctx,
			sizeof(struct pt_recalc_scratch));
	return pt->recalc_scratch;
}

/* Phase 1: ask fn about every leaf of t; nothing is written yet. */
static int pt_resolve_ask(struct vmmu_pt *pt, const uint64_t *t,
			  unsigned level, uint64_t base, vmmu_pt_recalc_fn fn,
			  void *ctx, struct pt_recalc_scratch *s)
{
	uint64_t csize = vmmu_pt_level_size(level);
	uint64_t fixed = pt->fmt->addr_mask | pt->fmt->large_bit;
	unsigned i;
	int rc;

	for (i = 0; i < VMMU_PT_ENTRIES; i++) {
		uint64_t c = pte_load(&t[i]), ne = c;

		s->val[i] = c;
		s->split[i].v = 0;
		if (!pt_present(pt, c) || !pt_is_leaf(pt, c, level))
			continue;
		rc = fn(ctx, base + i * csize, level, c, &ne);
		pt->stats.recalc_leaves++;
		if (rc == VMMU_PT_RECALC_SPLIT && level > VMMU_PT_LEVEL_4K) {
			s->split[i].v = 1;  /* its table is made in phase 2 */
			continue;
		}
		if (rc < 0 || rc == VMMU_PT_RECALC_SPLIT)
			return rc < 0 ? rc : VMMU_EINVAL;
		if (ne && (((ne ^ c) & fixed) ||
			   !pt->fmt->leaf_ok(pt, vmmu_pt_leaf_attrs(pt, ne, level))))
			return VMMU_EINVAL;
		s->val[i] = ne;
	}
	return VMMU_OK;
}

/* Phase 2: the tables of the leaves to split, complete but unlinked. */
static int pt_resolve_split(struct vmmu_pt *pt, unsigned level,
			    uint64_t base, struct pt_recalc_scratch *s)
{
	unsigned i, j;
	int rc;

	for (i = 0; i < VMMU_PT_ENTRIES; i++) {
		uint64_t slot;

		if (!s->split[i].v)
			continue;
		slot = s->val[i];
		rc = pt_split(pt, &slot, level,
			      base + i * vmmu_pt_level_size(level), NULL);
		if (rc < 0) {
			for (j = 0; j < i; j++)
				if (s->split[j].v)
					pt_unsplit(pt, s->split[j]);
			return rc;
		}
		s->split[i] = pt_next(pt, slot);
	}
	return VMMU_OK;
}

/*
 * Resolve the marker on the non-leaf entry at slot (level, mapping from
 * base): children first (leaves recalculated, tables marked), then the
 * marker goes, so a concurrent walker never passes an unresolved subtree.
 * All or nothing: fn is asked about every leaf and the split tables are
 * built before any entry changes, so an error from fn or an allocation
 * leaves the table and its marker as they were, and no leaf is ever
 * recalculated twice.
 */
static int pt_resolve(struct vmmu_pt *pt, uint64_t *slot, unsigned level,
		      uint64_t base, vmmu_pt_recalc_fn fn, void *ctx,
		      struct vmmu_pt_change *chg)
{
	uint64_t e = pte_load(slot), csize = vmmu_pt_level_size(level - 1);
	uint64_t *t = pt_table(pt, pt_next(pt, e));
	struct pt_recalc_scratch *s = pt_scratch(pt);
	unsigned i;
	int rc;

	if (!t)
		return VMMU_EFAULT;
	if (!s)
		return VMMU_ENOMEM;
	rc = pt_resolve_ask(pt, t, level - 1, base, fn, ctx, s);
	if (rc == VMMU_OK)
		rc = pt_resolve_split(pt, level - 1, base, s);
	if (rc < 0)
		return rc;
	for (i = 0; i < VMMU_PT_ENTRIES; i++) {
		uint64_t c = pte_load(&t[i]);

		if (!pt_present(pt, c))
			continue;
		if (s->split[i].v) {
			/* Split: the children wait for the next walk, lazily. */
			uint64_t table = pt->fmt->mark(pt,
				pt->fmt->make_table(pt, s->split[i]));

			pte_store(&t[i], table);
			pt->stats.marks++;
			pt_note_split(pt, chg, base + i * csize, level - 1, c,
				      pt_table(pt, s->split[i]));
		} else if (pt_is_leaf(pt, c, level - 1)) {
			pte_store(&t[i], s->val[i]);
			pt_note(pt, chg, base + i * csize, level - 1, c, s->val[i]);
		} else if (!pt->fmt->marked(c)) {
			pte_store(&t[i], pt->fmt->mark(pt, c));
			pt->stats.marks++;
		}
	}
	pte_store(slot, pt->fmt->unmark(pt, e));
	pt->stats.recalc_tables++;
	return VMMU_OK;
}

int vmmu_pt_recalc(struct vmmu_pt *pt, uint64_t addr, vmmu_pt_recalc_fn fn,
		   void *ctx, struct vmmu_pt_change *chg)
{
	hpa_t table;
	unsigned l;
	int rc;

	if (!pt || !pt->root.v || !fn ||
	    (pt->levels < 5 && addr >> (VMMU_PAGE_SHIFT + 9 * pt->levels)))
		return VMMU_EINVAL;
	table = pt->root;
	for (l = pt->levels; l > VMMU_PT_LEVEL_4K; l--) {
		uint64_t *t = pt_table(pt, table), *slot, e;
		uint64_t base = addr & ~(vmmu_pt_level_size(l) - 1);

		if (!t)
			return VMMU_EFAULT;
		slot = &t[vmmu_pt_index(addr, l)];
		e = pte_load(slot);
		if (!pt_present(pt, e) || pt_is_leaf(pt, e, l))
			return VMMU_OK;
		if (pt->fmt->marked(e)) {
			rc = pt_resolve(pt, slot, l, base, fn, ctx, chg);
			if (rc < 0)
				return rc;
			e = pte_load(slot);
		}
		table = pt_next(pt, e);
	}
	return VMMU_OK;
}
