/* SPDX-License-Identifier: MIT */
/*
 * The shared page-table engine (see pgtable.h): the tree, its pages and
 * the range operations that change it. Range operations walk the tree
 * once, top-down: at each level an entry either covers the rest of the
 * request whole (the operation acts on the entry) or only in part (the
 * walk descends, creating a table or splitting a large leaf first).
 * Lazy recalculation, iteration and test-and-clear are in pgtable_walk.c.
 */
#include <string.h>

#include "vmmu/error.h"
#include "pgtable_internal.h"

enum pt_op { PT_OP_MAP, PT_OP_UNMAP, PT_OP_UPDATE, PT_OP_MARK };

struct pt_request {
	enum pt_op op;
	uint64_t start;         /* first input address of the request */
	uint64_t page;          /* map: output address mapped at start */
	uint64_t attrs;         /* map: 4K-layout leaf attributes */
	uint64_t clear, set;    /* update: 4K-layout masks */
	vmmu_pt_recalc_fn fn;   /* mark: recalculates leaves met on the way */
	void *fn_ctx;
	struct vmmu_pt_change *chg;
};

/* Result of acting on an entry covered whole: done, or descend into it. */
#define PT_DESCEND 1

/* A leaf change that only grants more (vmmu_pt_format.grant_mask). */
static bool pt_only_grants(const struct vmmu_pt *pt, uint64_t old,
			   uint64_t new_entry, unsigned level)
{
	const struct vmmu_pt_format *f = pt->fmt;
	uint64_t diff = old ^ new_entry;

	return f->grant_mask && pt_present(pt, new_entry) &&
	       pt_is_leaf(pt, old, level) && pt_is_leaf(pt, new_entry, level) &&
	       !(diff & ~(f->grant_mask | f->ignored_mask)) &&
	       !(diff & f->grant_mask & old);
}

void pt_note(struct vmmu_pt *pt, struct vmmu_pt_change *chg, uint64_t addr,
	     unsigned level, uint64_t old, uint64_t new_entry)
{
	uint64_t end = addr + vmmu_pt_level_size(level);

	if (!chg || old == new_entry)
		return;
	if (pt_present(pt, old) && !pt_only_grants(pt, old, new_entry, level)) {
		if (!chg->flush || addr < chg->start)
			chg->start = addr;
		if (!chg->flush || end > chg->end)
			chg->end = end;
		chg->flush = true;
	}
	if ((pt_present(pt, old) && pt_is_leaf(pt, old, level)) ||
	    (pt_present(pt, new_entry) && pt_is_leaf(pt, new_entry, level))) {
		chg->leaves_changed++;
		if (chg->on_leaf)
			chg->on_leaf(chg->ctx, addr, level, old, new_entry);
	}
}

/*
 * A split keeps every translation, but an observer of leaves (a reverse
 * map) sees the large leaf go and its 512 children come.
 */
void pt_note_split(struct vmmu_pt *pt, struct vmmu_pt_change *chg,
		   uint64_t addr, unsigned level, uint64_t old,
		   const uint64_t *children)
{
	uint64_t csize = vmmu_pt_level_size(level - 1);
	unsigned i;

	if (!chg)
		return;
	if (chg->split_start == chg->split_end || addr < chg->split_start)
		chg->split_start = addr;
	if (addr + vmmu_pt_level_size(level) > chg->split_end)
		chg->split_end = addr + vmmu_pt_level_size(level);
	pt_note(pt, chg, addr, level, old, 0);
	/* linked already: a walk on another vCPU may be setting A/D */
	for (i = 0; i < VMMU_PT_ENTRIES; i++)
		pt_note(pt, chg, addr + i * csize, level - 1, 0,
			pte_load(&children[i]));
}

uint64_t vmmu_pt_leaf_attrs(const struct vmmu_pt *pt, uint64_t e,
			    unsigned level)
{
	uint64_t attrs = e & ~(pt->fmt->addr_mask &
			       ~(vmmu_pt_level_size(level) - 1));

	return level > VMMU_PT_LEVEL_4K ? pt->fmt->attrs_to_4k(attrs) : attrs;
}

static int pt_alloc_table(struct vmmu_pt *pt, hpa_t *out)
{
	int rc = pt->plat.alloc_page(pt->plat.ctx, out);

	if (rc < 0)
		return rc;
	if (!pt_table(pt, *out)) {
		pt->plat.free_page(pt->plat.ctx, *out);
		return VMMU_EFAULT;
	}
	pt->table_pages++;
	pt->stats.tables_allocated++;
	return VMMU_OK;
}

/* Table pages in the subtree under a non-leaf entry at level. */
static size_t pt_subtree_pages(const struct vmmu_pt *pt, uint64_t e,
			       unsigned level)
{
	const uint64_t *t = pt_table(pt, pt_next(pt, e));
	size_t n = 1;
	unsigned i;

	if (!t || level - 1 == VMMU_PT_LEVEL_4K)
		return n;
	for (i = 0; i < VMMU_PT_ENTRIES; i++) {
		uint64_t c = pte_load(&t[i]);

		if (pt_present(pt, c) && !pt_is_leaf(pt, c, level - 1))
			n += pt_subtree_pages(pt, c, level - 1);
	}
	return n;
}

/* Make room for n more deferred pages, so that unlinking cannot fail. */
static int pt_defer_reserve(struct vmmu_pt *pt, size_t n)
{
	size_t cap = pt->deferred_cap ? pt->deferred_cap : 64;
	hpa_t *d;

	if (pt->ndeferred + n <= pt->deferred_cap)
		return VMMU_OK;
	while (cap < pt->ndeferred + n)
		cap *= 2;
	d = pt->plat.zalloc(pt->plat.ctx, cap * sizeof(*d));
	if (!d)
		return VMMU_ENOMEM;
	if (pt->ndeferred)
		memcpy(d, pt->deferred, pt->ndeferred * sizeof(*d));
	if (pt->deferred)
		pt->plat.free(pt->plat.ctx, pt->deferred);
	pt->deferred = d;
	pt->deferred_cap = cap;
	return VMMU_OK;
}

/* Move an unlinked subtree's pages to the deferred list (room reserved). */
static void pt_defer_subtree(struct vmmu_pt *pt, uint64_t e, unsigned level)
{
	const uint64_t *t = pt_table(pt, pt_next(pt, e));
	unsigned i;

	if (t && level - 1 > VMMU_PT_LEVEL_4K) {
		for (i = 0; i < VMMU_PT_ENTRIES; i++) {
			uint64_t c = pte_load(&t[i]);

			if (pt_present(pt, c) && !pt_is_leaf(pt, c, level - 1))
				pt_defer_subtree(pt, c, level - 1);
		}
	}
	pt->deferred[pt->ndeferred++] = pt_next(pt, e);
	pt->table_pages--;
	pt->stats.tables_deferred++;
}

/*
 * Replace the entry at slot whole. A subtree it pointed to is unlinked to
 * the deferred list; room for it is reserved first, so an out-of-memory
 * failure leaves the entry as it was.
 */
static int pt_replace(struct vmmu_pt *pt, uint64_t *slot, uint64_t e,
		      unsigned level, uint64_t addr, struct vmmu_pt_change *chg)
{
	uint64_t old = pte_load(slot);
	bool table = pt_present(pt, old) && !pt_is_leaf(pt, old, level);
	int rc;

	if (table) {
		rc = pt_defer_reserve(pt, pt_subtree_pages(pt, old, level));
		if (rc < 0)
			return rc;
	}
	pte_store(slot, e);
	pt_note(pt, chg, addr, level, old, e);
	if (table) {
		pt_defer_subtree(pt, old, level);
		if (chg)
			chg->tables_unlinked = true;
	}
	return VMMU_OK;
}

int pt_split(struct vmmu_pt *pt, uint64_t *slot, unsigned level,
	     uint64_t addr, struct vmmu_pt_change *chg)
{
	uint64_t e = pte_load(slot), child_size = vmmu_pt_level_size(level - 1);
	uint64_t attrs = vmmu_pt_leaf_attrs(pt, e, level);
	uint64_t page = vmmu_pt_leaf_addr(pt, e, level);
	uint64_t *t;
	hpa_t table;
	unsigned i;
	int rc = pt_alloc_table(pt, &table);

	if (rc < 0)
		return rc;
	t = pt_table(pt, table);
	for (i = 0; i < VMMU_PT_ENTRIES; i++)
		t[i] = pt_make_leaf(pt, page + i * child_size, level - 1, attrs);
	/* The new table is complete before the release store links it. */
	pte_store(slot, pt->fmt->make_table(pt, table));
	pt->stats.splits++;
	pt_note_split(pt, chg, addr & ~(vmmu_pt_level_size(level) - 1), level,
		      e, t);
	return VMMU_OK;
}

void pt_unsplit(struct vmmu_pt *pt, hpa_t table)
{
	pt->plat.free_page(pt->plat.ctx, table);
	pt->table_pages--;
	pt->stats.splits--;
	pt->stats.tables_allocated--;
}

/*
 * The leaf that the 512 entries of table t (at level - 1) merge into, or
 * 0 when they are not uniform (SDM 4.10.2.3: a large page must map what
 * its 512 smaller pages mapped, with the same attributes).
 */
static uint64_t pt_merged_leaf(const struct vmmu_pt *pt, const uint64_t *t,
			       unsigned level)
{
	unsigned cl = level - 1, i;
	uint64_t first = pte_load(&t[0]), or_mask = pt->fmt->merge_or_mask;
	uint64_t base, attrs, ored = 0, csize = vmmu_pt_level_size(cl);

	if (!pt_present(pt, first) || !pt_is_leaf(pt, first, cl))
		return 0;
	base = vmmu_pt_leaf_addr(pt, first, cl);
	attrs = vmmu_pt_leaf_attrs(pt, first, cl);
	if (base & (vmmu_pt_level_size(level) - 1))
		return 0;
	for (i = 0; i < VMMU_PT_ENTRIES; i++) {
		uint64_t c = pte_load(&t[i]), a;

		if (!pt_present(pt, c) || !pt_is_leaf(pt, c, cl) ||
		    vmmu_pt_leaf_addr(pt, c, cl) != base + i * csize)
			return 0;
		a = vmmu_pt_leaf_attrs(pt, c, cl);
		if ((a & ~or_mask) != (attrs & ~or_mask))
			return 0;
		ored |= a & or_mask;
	}
	return pt_make_leaf(pt, base, level, (attrs & ~or_mask) | ored);
}

/* Merge the table under slot (a non-leaf entry at level) if uniform. */
static int pt_try_merge(struct vmmu_pt *pt, uint64_t *slot, unsigned level,
			uint64_t addr, struct vmmu_pt_change *chg)
{
	uint64_t e = pte_load(slot), leaf;
	const uint64_t *t;
	int rc;

	if (level > pt->max_leaf_level || level == VMMU_PT_LEVEL_4K ||
	    !pt_present(pt, e) || pt_is_leaf(pt, e, level) ||
	    pt->fmt->marked(e))
		return VMMU_ENOENT;
	t = pt_table(pt, pt_next(pt, e));
	if (!t)
		return VMMU_EFAULT;
	leaf = pt_merged_leaf(pt, t, level);
	if (!leaf)
		return VMMU_ENOENT;
	/* The table stays intact on the deferred list: t can still be read. */
	rc = pt_replace(pt, slot, leaf, level, addr, NULL);
	if (rc < 0)
		return rc;
	pt->stats.merges++;
	if (chg) {
		uint64_t csize = vmmu_pt_level_size(level - 1);
		unsigned i;

		for (i = 0; i < VMMU_PT_ENTRIES; i++)
			pt_note(pt, chg, addr + i * csize, level - 1,
				pte_load(&t[i]), 0);
		pt_note(pt, chg, addr, level, 0, leaf);
		chg->tables_unlinked = true;
	}
	return VMMU_OK;
}

/* The 4K-layout leaf after an update, or 0 when the format refuses it. */
static uint64_t pt_updated(const struct vmmu_pt *pt, uint64_t e,
			   unsigned level, uint64_t clear, uint64_t set)
{
	uint64_t attrs = (vmmu_pt_leaf_attrs(pt, e, level) & ~clear) | set;

	if (!pt->fmt->leaf_ok(pt, attrs))
		return 0;
	return pt_make_leaf(pt, vmmu_pt_leaf_addr(pt, e, level), level, attrs);
}

/* Whether an entry above level on the path to addr carries a marker. */
static bool pt_under_marker(const struct vmmu_pt *pt, uint64_t addr,
			    unsigned level)
{
	hpa_t table = pt->root;
	unsigned l;

	for (l = pt->levels; l > level; l--) {
		const uint64_t *t = pt_table(pt, table);
		uint64_t e;

		if (!t)
			return false;
		e = pte_load(&t[vmmu_pt_index(addr, l)]);
		if (!pt_present(pt, e) || pt_is_leaf(pt, e, l))
			return false;
		if (pt->fmt->marked(e))
			return true;
		table = pt_next(pt, e);
	}
	return false;
}

/*
 * A leaf met by mark_recalc: recalculate it now (leaves carry no marker),
 * unless a marker above already makes it pending: then it waits for that
 * marker, so that it is recalculated once.
 */
static int pt_mark_leaf(struct vmmu_pt *pt, uint64_t *slot, unsigned level,
			uint64_t addr, const struct pt_request *req)
{
	uint64_t e = pte_load(slot), ne = e;
	int rc;

	if (pt_under_marker(pt, addr, level))
		return VMMU_OK;
	rc = req->fn(req->fn_ctx, addr, level, e, &ne);

	pt->stats.recalc_leaves++;
	if (rc == VMMU_PT_RECALC_SPLIT)
		return level > VMMU_PT_LEVEL_4K ? PT_DESCEND : VMMU_EINVAL;
	if (rc < 0)
		return rc;
	if (ne && (((ne ^ e) & (pt->fmt->addr_mask | pt->fmt->large_bit)) ||
		   !pt->fmt->leaf_ok(pt, vmmu_pt_leaf_attrs(pt, ne, level))))
		return VMMU_EINVAL;
	pte_store(slot, ne);
	pt_note(pt, req->chg, addr, level, e, ne);
	return VMMU_OK;
}

static int pt_mark_whole(struct vmmu_pt *pt, uint64_t *slot, unsigned level,
			 uint64_t addr, const struct pt_request *req)
{
	uint64_t e = pte_load(slot);

	if (!pt_present(pt, e))
		return VMMU_OK;
	if (pt_is_leaf(pt, e, level))
		return pt_mark_leaf(pt, slot, level, addr, req);
	if (pt->fmt->marked(e))
		return VMMU_OK;
	pte_store(slot, pt->fmt->mark(pt, e));
	pt->stats.marks++;
	pt_note(pt, req->chg, addr, level, e, pt->fmt->mark(pt, e));
	return VMMU_OK;
}

/* Act on an entry the request covers whole: VMMU_OK, PT_DESCEND or error. */
static int pt_whole(struct vmmu_pt *pt, uint64_t *slot, unsigned level,
		    uint64_t addr, const struct pt_request *req)
{
	uint64_t size = vmmu_pt_level_size(level), e = pte_load(slot), ne;
	uint64_t out = req->page + (addr - req->start);

	switch (req->op) {
	case PT_OP_MAP:
		if (level > pt->max_leaf_level || (out & (size - 1)))
			return PT_DESCEND;
		return pt_replace(pt, slot, pt_make_leaf(pt, out, level,
			req->attrs), level, addr, req->chg);
	case PT_OP_UNMAP:
		if (!pt_present(pt, e))
			return VMMU_OK;
		return pt_replace(pt, slot, 0, level, addr, req->chg);
	case PT_OP_UPDATE:
		if (!pt_present(pt, e))
			return VMMU_OK;
		if (!pt_is_leaf(pt, e, level))
			return PT_DESCEND;
		ne = pt_updated(pt, e, level, req->clear, req->set);
		if (!ne)
			return VMMU_EINVAL; /* checked before: not reached */
		pte_store(slot, ne);
		pt_note(pt, req->chg, addr, level, e, ne);
		return VMMU_OK;
	case PT_OP_MARK:
		return pt_mark_whole(pt, slot, level, addr, req);
	}
	return VMMU_EINVAL;
}

/* Make the entry at slot a table the request can descend into. */
static int pt_prepare_descent(struct vmmu_pt *pt, uint64_t *slot,
			      unsigned level, uint64_t addr,
			      const struct pt_request *req, bool tried,
			      bool *skip)
{
	uint64_t e = pte_load(slot);
	hpa_t child;
	int rc;

	*skip = false;
	if (!pt_present(pt, e)) {
		if (req->op != PT_OP_MAP) {
			*skip = true;
			return VMMU_OK;
		}
		rc = pt_alloc_table(pt, &child);
		if (rc < 0)
			return rc;
		pte_store(slot, pt->fmt->make_table(pt, child));
		return VMMU_OK;
	}
	if (!pt_is_leaf(pt, e, level))
		return VMMU_OK;
	/* A partial update that changes nothing splits nothing. */
	if (req->op == PT_OP_UPDATE &&
	    pt_updated(pt, e, level, req->clear, req->set) == e) {
		*skip = true;
		return VMMU_OK;
	}
	if (req->op == PT_OP_MARK && !tried) {
		/* A leaf covered in part: it may be uniform for the callback. */
		rc = pt_mark_leaf(pt, slot, level,
				  addr & ~(vmmu_pt_level_size(level) - 1), req);
		if (rc != PT_DESCEND) {
			*skip = true;
			return rc;
		}
	}
	return pt_split(pt, slot, level, addr, req->chg);
}

static int pt_range(struct vmmu_pt *pt, hpa_t table, unsigned level,
		    uint64_t addr, uint64_t end, const struct pt_request *req)
{
	uint64_t *t = pt_table(pt, table);
	uint64_t size = vmmu_pt_level_size(level);
	int rc;

	if (!t)
		return VMMU_EFAULT;
	while (addr < end) {
		uint64_t entry_start = addr & ~(size - 1);
		uint64_t chunk_end = pt_chunk_end(addr, end, size);
		uint64_t *slot = &t[vmmu_pt_index(addr, level)];
		bool whole = addr == entry_start &&
			     chunk_end == entry_start + size, skip;

		if (whole) {
			rc = pt_whole(pt, slot, level, addr, req);
			if (rc < 0)
				return rc;
			if (rc != PT_DESCEND) {
				addr = chunk_end;
				continue;
			}
		}
		rc = pt_prepare_descent(pt, slot, level, addr, req, whole,
					&skip);
		if (rc < 0)
			return rc;
		if (!skip) {
			rc = pt_range(pt, pt_next(pt, pte_load(slot)),
				      level - 1, addr, chunk_end, req);
			if (rc < 0)
				return rc;
			if (pt->auto_merge && (req->op == PT_OP_MAP ||
					       req->op == PT_OP_UPDATE)) {
				rc = pt_try_merge(pt, slot, level, entry_start,
						  req->chg);
				if (rc < 0 && rc != VMMU_ENOENT)
					return rc;
			}
		}
		addr = chunk_end;
	}
	return VMMU_OK;
}

int pt_check_range(const struct vmmu_pt *pt, uint64_t addr, uint64_t size)
{
	unsigned bits;

	if (!pt || !pt->root.v)
		return VMMU_EINVAL;
	bits = VMMU_PAGE_SHIFT + 9 * pt->levels;
	if (!size || (addr | size) & ~VMMU_PAGE_MASK || addr + size < addr ||
	    addr + size > (1ULL << bits))
		return VMMU_EINVAL;
	return VMMU_OK;
}

static int pt_apply(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
		    struct pt_request *req)
{
	int rc = pt_check_range(pt, addr, size);

	if (rc < 0)
		return rc;
	req->start = addr;
	return pt_range(pt, pt->root, pt->levels, addr, addr + size, req);
}

int vmmu_pt_init(struct vmmu_pt *pt, const struct vmmu_pt_format *fmt,
		 const void *ctx, const struct vmmu_platform *plat,
		 unsigned levels, unsigned max_leaf_level)
{
	if (!pt || !fmt || !plat || !plat->alloc_page || !plat->map ||
	    !plat->zalloc || !plat->free || (levels != 4 && levels != 5) ||
	    max_leaf_level < VMMU_PT_LEVEL_4K ||
	    max_leaf_level > VMMU_PT_LEVEL_1G)
		return VMMU_EINVAL;
	memset(pt, 0, sizeof(*pt));
	pt->fmt = fmt;
	pt->ctx = ctx;
	pt->plat = *plat;
	pt->levels = levels;
	pt->max_leaf_level = max_leaf_level;
	return pt_alloc_table(pt, &pt->root);
}

static void pt_free_tree(struct vmmu_pt *pt, hpa_t table, unsigned level)
{
	const uint64_t *t = pt_table(pt, table);
	unsigned i;

	if (t && level > VMMU_PT_LEVEL_4K) {
		for (i = 0; i < VMMU_PT_ENTRIES; i++)
			if (pt_present(pt, t[i]) && !pt_is_leaf(pt, t[i], level))
				pt_free_tree(pt, pt_next(pt, t[i]), level - 1);
	}
	pt->plat.free_page(pt->plat.ctx, table);
	pt->table_pages--;
	pt->stats.tables_freed++;
}

size_t vmmu_pt_free_deferred(struct vmmu_pt *pt)
{
	size_t i, n;

	if (!pt)
		return 0;
	n = pt->ndeferred;
	for (i = 0; i < n; i++)
		pt->plat.free_page(pt->plat.ctx, pt->deferred[i]);
	pt->stats.tables_freed += n;
	pt->ndeferred = 0;
	return n;
}

void vmmu_pt_destroy(struct vmmu_pt *pt)
{
	if (!pt || !pt->root.v)
		return;
	pt_free_tree(pt, pt->root, pt->levels);
	vmmu_pt_free_deferred(pt);
	if (pt->deferred)
		pt->plat.free(pt->plat.ctx, pt->deferred);
	if (pt->recalc_scratch)
		pt->plat.free(pt->plat.ctx, pt->recalc_scratch);
	pt->recalc_scratch = NULL;
	pt->deferred = NULL;
	pt->deferred_cap = 0;
	pt->root.v = 0;
}

int vmmu_pt_map(struct vmmu_pt *pt, uint64_t addr, hpa_t page, uint64_t size,
		uint64_t attrs, struct vmmu_pt_change *chg)
{
	struct pt_request req = { .op = PT_OP_MAP, .page = page.v,
				  .attrs = attrs, .chg = chg };

	if (!pt || !pt->fmt)
		return VMMU_EINVAL;
	/*
	 * The last output page must fit the entry's address field as well:
	 * a range running past it would wrap to low host-physical pages.
	 */
	if ((attrs & pt->fmt->addr_mask) || !pt->fmt->leaf_ok(pt, attrs))
		return VMMU_EINVAL;
	if (!size || (page.v & ~VMMU_PAGE_MASK) ||
	    (page.v & ~pt->fmt->addr_mask) || page.v + (size - 1) < page.v ||
	    ((page.v + (size - 1)) & VMMU_PAGE_MASK & ~pt->fmt->addr_mask))
		return VMMU_EINVAL;
	return pt_apply(pt, addr, size, &req);
}

int vmmu_pt_unmap(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
		  struct vmmu_pt_change *chg)
{
	struct pt_request req = { .op = PT_OP_UNMAP, .chg = chg };

	return pt_apply(pt, addr, size, &req);
}

struct pt_update_check {
	uint64_t clear, set;
	const struct vmmu_pt *pt;
};

static int pt_update_ok(void *ctx, uint64_t addr, uint64_t size,
			unsigned level, uint64_t e)
{
	const struct pt_update_check *c = ctx;

	(void)addr;
	(void)size;
	return pt_updated(c->pt, e, level, c->clear, c->set) ? 0 : VMMU_EINVAL;
}

int vmmu_pt_update(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
		   uint64_t clear, uint64_t set, struct vmmu_pt_change *chg)
{
	struct pt_request req = { .op = PT_OP_UPDATE, .clear = clear,
				  .set = set, .chg = chg };
	struct pt_update_check check = { clear, set, pt };
	int rc;

	if (!pt || !pt->fmt || ((clear | set) & pt->fmt->addr_mask))
		return VMMU_EINVAL;
	/* Every leaf must accept the result before the first one changes. */
	rc = vmmu_pt_for_each_leaf(pt, addr, size, pt_update_ok, &check);
	if (rc)
		return rc < 0 ? rc : VMMU_EINVAL;
	return pt_apply(pt, addr, size, &req);
}

int vmmu_pt_mark_recalc(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
			vmmu_pt_recalc_fn fn, void *ctx,
			struct vmmu_pt_change *chg)
{
	struct pt_request req = { .op = PT_OP_MARK, .fn = fn, .fn_ctx = ctx,
				  .chg = chg };

	if (!fn)
		return VMMU_EINVAL;
	return pt_apply(pt, addr, size, &req);
}

/* The entry at level covering addr (a table walk that stops there). */
static uint64_t *pt_slot_at(const struct vmmu_pt *pt, uint64_t addr,
			    unsigned level)
{
	hpa_t table = pt->root;
	unsigned l;

	for (l = pt->levels;; l--) {
		uint64_t *t = pt_table(pt, table), e;

		if (!t)
			return NULL;
		if (l == level)
			return &t[vmmu_pt_index(addr, l)];
		e = pte_load(&t[vmmu_pt_index(addr, l)]);
		if (!pt_present(pt, e) || pt_is_leaf(pt, e, l))
			return NULL;
		table = pt_next(pt, e);
	}
}

int vmmu_pt_split_large_leaf(struct vmmu_pt *pt, uint64_t addr,
			     unsigned level, struct vmmu_pt_change *chg)
{
	uint64_t *slot, e;

	if (!pt || !pt->root.v || level <= VMMU_PT_LEVEL_4K ||
	    level > pt->levels)
		return VMMU_EINVAL;
	slot = pt_slot_at(pt, addr, level);
	if (!slot)
		return VMMU_ENOENT;
	e = pte_load(slot);
	if (!pt_present(pt, e) || !pt_is_leaf(pt, e, level))
		return VMMU_ENOENT;
	return pt_split(pt, slot, level, addr, chg);
}

int vmmu_pt_merge(struct vmmu_pt *pt, uint64_t addr, unsigned level,
		  struct vmmu_pt_change *chg)
{
	uint64_t *slot;

	if (!pt || !pt->root.v || level <= VMMU_PT_LEVEL_4K ||
	    level > pt->levels)
		return VMMU_EINVAL;
	slot = pt_slot_at(pt, addr, level);
	if (!slot)
		return VMMU_ENOENT;
	return pt_try_merge(pt, slot, level,
			    addr & ~(vmmu_pt_level_size(level) - 1), chg);
}

int vmmu_pt_lookup(const struct vmmu_pt *pt, uint64_t addr, uint64_t *entry,
		   unsigned *level)
{
	hpa_t table;
	unsigned l;

	if (!pt || !pt->root.v)
		return VMMU_EINVAL;
	table = pt->root;
	for (l = pt->levels; l >= VMMU_PT_LEVEL_4K; l--) {
		const uint64_t *t = pt_table(pt, table);
		uint64_t e;

		if (!t)
			return VMMU_EFAULT;
		e = pte_load(&t[vmmu_pt_index(addr, l)]);
		*level = l;
		if (!pt_present(pt, e))
			return VMMU_ENOENT;
		if (pt_is_leaf(pt, e, l)) {
			*entry = e;
			return VMMU_OK;
		}
		table = pt_next(pt, e);
	}
	return VMMU_ENOENT;
}
