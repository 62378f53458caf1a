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
		uint64_t entry_start = addr & ~(size - 1);
		uint64_t chunk_end = end - entry_start < size ? end :
				     entry_start + size;
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

/* Recalculate one leaf under a marker being resolved. */
static int pt_recalc_leaf(struct vmmu_pt *pt, uint64_t *slot, unsigned level,
			  uint64_t addr, vmmu_pt_recalc_fn fn, void *ctx,
			  struct vmmu_pt_change *chg)
{
	uint64_t e = pte_load(slot), ne = e, fixed;
	int rc = fn(ctx, addr, level, e, &ne);

	pt->stats.recalc_leaves++;
	if (rc == VMMU_PT_RECALC_SPLIT) {
		if (level == VMMU_PT_LEVEL_4K)
			return VMMU_EINVAL;
		/* Split, then leave the children to the next walk: lazily. */
		rc = pt_split(pt, slot, level, chg);
		if (rc < 0)
			return rc;
		pte_store(slot, pt->fmt->mark(pt, pte_load(slot)));
		pt->stats.marks++;
		return VMMU_OK;
	}
	if (rc < 0)
		return rc;
	fixed = pt->fmt->addr_mask | pt->fmt->large_bit;
	if (ne && (((ne ^ e) & fixed) ||
		   !pt->fmt->leaf_ok(pt, vmmu_pt_leaf_attrs(pt, ne, level))))
		return VMMU_EINVAL;
	pte_store(slot, ne);
	pt_note(pt, chg, addr, level, e, ne);
	return VMMU_OK;
}

/*
 * Resolve the marker on the non-leaf entry at slot (level, mapping from
 * base): children first (leaves recalculated, tables marked), then the
 * marker goes, so a concurrent walker never passes an unresolved subtree.
 */
static int pt_resolve(struct vmmu_pt *pt, uint64_t *slot, unsigned level,
		      uint64_t base, vmmu_pt_recalc_fn fn, void *ctx,
		      struct vmmu_pt_change *chg)
{
	uint64_t e = pte_load(slot), csize = vmmu_pt_level_size(level - 1);
	uint64_t *t = pt_table(pt, pt_next(pt, e));
	unsigned i;
	int rc;

	if (!t)
		return VMMU_EFAULT;
	for (i = 0; i < VMMU_PT_ENTRIES; i++) {
		uint64_t c = pte_load(&t[i]);

		if (!pt_present(pt, c))
			continue;
		if (pt_is_leaf(pt, c, level - 1)) {
			rc = pt_recalc_leaf(pt, &t[i], level - 1,
					    base + i * csize, fn, ctx, chg);
			if (rc < 0)
				return rc;
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
