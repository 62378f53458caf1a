/* SPDX-License-Identifier: MIT */
/*
 * The shared page-table engine (see pgtable.h). Range operations walk the
 * tree once, top-down: at each level an entry either covers the rest of
 * the request exactly (replace it whole) or only in part (descend,
 * splitting a large leaf or creating a table first).
 */
#include <string.h>

#include "vmmu/error.h"
#include "backend.h"
#include "pgtable.h"

enum pt_op { PT_OP_MAP, PT_OP_UNMAP, PT_OP_PROTECT };

struct pt_request {
	enum pt_op op;
	unsigned prot;
	uint64_t start;         /* first input address of the request */
	uint64_t page;          /* output address mapped at start (map) */
};

static uint64_t *pt_table(const struct vmmu_pt *pt, hpa_t table)
{
	return pt->plat.map(pt->plat.ctx, table);
}

static bool pt_is_leaf(const struct vmmu_pt *pt, uint64_t e, unsigned level)
{
	return level == VMMU_PT_LEVEL_4K || (e & pt->fmt->large_bit);
}

static hpa_t pt_next(const struct vmmu_pt *pt, uint64_t e)
{
	return mk_hpa(e & pt->fmt->addr_mask);
}

/* Output address of a leaf at level (large leaves keep low flag bits). */
static hpa_t pt_leaf_page(const struct vmmu_pt *pt, uint64_t e, unsigned level)
{
	return mk_hpa(e & pt->fmt->addr_mask & ~(vmmu_pt_level_size(level) - 1));
}

static int pt_alloc_table(struct vmmu_pt *pt, hpa_t *out)
{
	int rc = pt->plat.alloc_page(pt->plat.ctx, out);

	if (rc == 0)
		pt->table_pages++;
	return rc;
}

static void pt_free_tree(struct vmmu_pt *pt, hpa_t table, unsigned level)
{
	uint64_t *t = pt_table(pt, table);
	unsigned i;

	if (t && level > VMMU_PT_LEVEL_4K) {
		for (i = 0; i < VMMU_PT_ENTRIES; i++)
			if (pt->fmt->present(t[i]) && !pt_is_leaf(pt, t[i], level))
				pt_free_tree(pt, pt_next(pt, t[i]), level - 1);
	}
	pt->plat.free_page(pt->plat.ctx, table);
	pt->table_pages--;
}

int vmmu_pt_init(struct vmmu_pt *pt, const struct vmmu_pt_format *fmt,
		 const void *ctx, const struct vmmu_platform *plat,
		 unsigned levels, unsigned max_leaf_level)
{
	if (!pt || !fmt || !plat || (levels != 4 && levels != 5) ||
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

void vmmu_pt_destroy(struct vmmu_pt *pt)
{
	if (!pt || !pt->root.v)
		return;
	pt_free_tree(pt, pt->root, pt->levels);
	pt->root.v = 0;
}

static int pt_split(struct vmmu_pt *pt, uint64_t *slot, unsigned level)
{
	uint64_t e = *slot, child_size = vmmu_pt_level_size(level - 1);
	unsigned prot = pt->fmt->leaf_prot(e), i;
	hpa_t page = pt_leaf_page(pt, e, level), table;
	uint64_t *t;
	int rc = pt_alloc_table(pt, &table);

	if (rc < 0)
		return rc;
	t = pt_table(pt, table);
	for (i = 0; i < VMMU_PT_ENTRIES; i++)
		t[i] = pt->fmt->make_leaf(pt, mk_hpa(page.v + i * child_size),
					  prot, level - 1);
	/* The new table is complete before it becomes visible. */
	*slot = pt->fmt->make_table(pt, table);
	return VMMU_OK;
}

/* Replace the entry at slot whole, freeing a subtree it pointed to. */
static void pt_replace(struct vmmu_pt *pt, uint64_t *slot, uint64_t e,
		       unsigned level)
{
	uint64_t old = *slot;

	*slot = e;
	if (pt->fmt->present(old) && !pt_is_leaf(pt, old, level))
		pt_free_tree(pt, pt_next(pt, old), level - 1);
}

/* Try to satisfy the whole entry at slot without descending. */
static bool pt_range_whole(struct vmmu_pt *pt, uint64_t *slot, unsigned level,
			   uint64_t addr, const struct pt_request *req)
{
	uint64_t size = vmmu_pt_level_size(level);
	uint64_t out = req->page + (addr - req->start);

	switch (req->op) {
	case PT_OP_MAP:
		if (level > pt->max_leaf_level || (out & (size - 1)))
			return false;
		pt_replace(pt, slot, pt->fmt->make_leaf(pt, mk_hpa(out),
							req->prot, level), level);
		return true;
	case PT_OP_UNMAP:
		pt_replace(pt, slot, 0, level);
		return true;
	case PT_OP_PROTECT:
		if (!pt->fmt->present(*slot))
			return true;
		if (!pt_is_leaf(pt, *slot, level))
			return false;
		*slot = pt->fmt->make_leaf(pt, pt_leaf_page(pt, *slot, level),
					   req->prot, level);
		return true;
	}
	return false;
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
		uint64_t entry_end = (addr & ~(size - 1)) + size;
		uint64_t chunk_end = end < entry_end ? end : entry_end;
		uint64_t *slot = &t[vmmu_pt_index(addr, level)];
		bool whole = !(addr & (size - 1)) && chunk_end == entry_end;

		if (whole && pt_range_whole(pt, slot, level, addr, req)) {
			addr = chunk_end;
			continue;
		}
		if (!pt->fmt->present(*slot)) {
			hpa_t child;

			if (req->op != PT_OP_MAP) {
				addr = chunk_end;
				continue;
			}
			rc = pt_alloc_table(pt, &child);
			if (rc < 0)
				return rc;
			*slot = pt->fmt->make_table(pt, child);
		} else if (pt_is_leaf(pt, *slot, level)) {
			rc = pt_split(pt, slot, level);
			if (rc < 0)
				return rc;
		}
		rc = pt_range(pt, pt_next(pt, *slot), level - 1, addr,
			      chunk_end, req);
		if (rc < 0)
			return rc;
		addr = chunk_end;
	}
	return VMMU_OK;
}

static int pt_check_range(const struct vmmu_pt *pt, uint64_t addr,
			  uint64_t size)
{
	unsigned bits = VMMU_PAGE_SHIFT + 9 * pt->levels;

	if (!pt->root.v)
		return VMMU_EINVAL;
	if (!size || (addr | size) & ~VMMU_PAGE_MASK || addr + size < addr ||
	    addr + size > (1ULL << bits))
		return VMMU_EINVAL;
	return VMMU_OK;
}

static int pt_apply(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
		    const struct pt_request *req)
{
	int rc = pt_check_range(pt, addr, size);

	if (rc < 0)
		return rc;
	return pt_range(pt, pt->root, pt->levels, addr, addr + size, req);
}

int vmmu_pt_map(struct vmmu_pt *pt, uint64_t addr, hpa_t page, uint64_t size,
		unsigned prot)
{
	struct pt_request req = { PT_OP_MAP, prot, addr, page.v };

	/*
	 * The last output page must fit the entry's address field as well:
	 * make_leaf masks the address, so a range running past it would
	 * silently wrap to low host-physical pages.
	 */
	if (!prot || (pt->fmt->prot_ok && !pt->fmt->prot_ok(pt, prot)))
		return VMMU_EINVAL;
	if (!size || (page.v & ~VMMU_PAGE_MASK) ||
	    (page.v & ~pt->fmt->addr_mask) || page.v + (size - 1) < page.v ||
	    ((page.v + (size - 1)) & VMMU_PAGE_MASK & ~pt->fmt->addr_mask))
		return VMMU_EINVAL;
	return pt_apply(pt, addr, size, &req);
}

int vmmu_pt_unmap(struct vmmu_pt *pt, uint64_t addr, uint64_t size)
{
	struct pt_request req = { PT_OP_UNMAP, 0, addr, 0 };

	return pt_apply(pt, addr, size, &req);
}

int vmmu_pt_protect(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
		    unsigned prot)
{
	struct pt_request req = { PT_OP_PROTECT, prot, addr, 0 };

	if (prot && pt->fmt->prot_ok && !pt->fmt->prot_ok(pt, prot))
		return VMMU_EINVAL;
	return pt_apply(pt, addr, size, &req);
}

int vmmu_pt_lookup(const struct vmmu_pt *pt, uint64_t addr, uint64_t *entry,
		   unsigned *level)
{
	hpa_t table = pt->root;
	unsigned l;

	if (!pt->root.v)
		return VMMU_EINVAL;
	for (l = pt->levels; l >= VMMU_PT_LEVEL_4K; l--) {
		const uint64_t *t = pt_table(pt, table);
		uint64_t e;

		if (!t)
			return VMMU_EFAULT;
		e = t[vmmu_pt_index(addr, l)];
		*level = l;
		if (!pt->fmt->present(e))
			return VMMU_ENOENT;
		if (pt_is_leaf(pt, e, l)) {
			*entry = e;
			return VMMU_OK;
		}
		table = pt_next(pt, e);
	}
	return VMMU_ENOENT;
}

int vmmu_pt_split_large_leaf(struct vmmu_pt *pt, uint64_t addr,
			     unsigned level)
{
	hpa_t table = pt->root;
	unsigned l;

	if (!pt->root.v || level <= VMMU_PT_LEVEL_4K || level > pt->levels)
		return VMMU_EINVAL;
	for (l = pt->levels; l > level; l--) {
		const uint64_t *t = pt_table(pt, table);
		uint64_t e;

		if (!t)
			return VMMU_EFAULT;
		e = t[vmmu_pt_index(addr, l)];
		if (!pt->fmt->present(e) || pt_is_leaf(pt, e, l))
			return VMMU_ENOENT;
		table = pt_next(pt, e);
	}
	{
		uint64_t *t = pt_table(pt, table);
		uint64_t *slot = &t[vmmu_pt_index(addr, level)];

		if (!pt->fmt->present(*slot) || !pt_is_leaf(pt, *slot, level))
			return VMMU_ENOENT;
		return pt_split(pt, slot, level);
	}
}
