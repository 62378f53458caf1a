/* SPDX-License-Identifier: MIT */
/*
 * Our own walker over the engine's table bytes (through the arena's map,
 * not the engine): every reachable table page, every leaf decoded with
 * pgt_bits.c, every lazy-recalculation marker, and the structural rules of
 * core/pgtable.h checked on the way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgt.h"

struct walk {
	struct pgt_env *env;
	struct pgt_tree *t;
	bool snap;
};

static int werr(struct walk *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int werr(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->t->err, sizeof(w->t->err), fmt, ap);
	va_end(ap);
	return -1;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 64;

	if (need <= *cap)
		return p;
	while (n < need)
		n *= 2;
	p = realloc(p, n * elem);
	if (!p)
		abort();
	*cap = n;
	return p;
}

static const uint64_t *arena_map(struct pgt_env *env, uint64_t hpa)
{
	struct vmmu_platform *in = &env->fail.inner;

	return in->map(in->ctx, mk_hpa(hpa));
}

static int walk_table(struct walk *w, uint64_t hpa, unsigned level,
		      uint64_t va, bool pending);

static int add_leaf(struct walk *w, uint64_t e, unsigned level, uint64_t va,
		    bool pending)
{
	const struct pgt_cfg *c = w->env->cfg;
	uint64_t size = vmmu_pt_level_size(level);
	uint64_t low = e & PGT_ADDR & (size - 1);
	struct pgt_tree *t = w->t;

	if (level > 3)
		return werr(w, "PS set in level-%u entry %#llx at %#llx (reserved, "
			    "SDM 4.5 / 29.3.2)", level, (unsigned long long)e,
			    (unsigned long long)va);
	if (level > w->env->pt.max_leaf_level)
		return werr(w, "leaf at level %u > max_leaf_level %u at %#llx",
			    level, w->env->pt.max_leaf_level,
			    (unsigned long long)va);
	/* Large-leaf address bits below the page size are reserved (x86:
	 * bit 12 is PAT there), tables 4-16/4-18, 29-2/29-4. */
	if (!c->ept && level > 1)
		low &= ~PX_PATL;
	if (low)
		return werr(w, "leaf %#llx at level %u at %#llx is not aligned",
			    (unsigned long long)e, level,
			    (unsigned long long)va);
	if (!pgt_in_window(w->env, va, size))
		return werr(w, "leaf at %#llx level %u outside the test window",
			    (unsigned long long)va, level);
	t->leaves = grow(t->leaves, &t->lcap, t->nleaves + 1, sizeof(*t->leaves));
	t->leaves[t->nleaves++] = (struct pgt_leaf){ va, e, level, pending };
	return 0;
}

static int walk_entry(struct walk *w, uint64_t e, unsigned level,
		      uint64_t va, bool pending)
{
	const struct pgt_cfg *c = w->env->cfg;
	const struct vmmu_pt_format *f = pgt_fmt(c);
	struct pgt_tree *t = w->t;
	char why[128];

	if (level > 1 && f->marked(e)) {
		uint64_t u = f->unmark(&w->env->pt, e);

		if (!pgt_marker_traps(c, e))
			return werr(w, "marked entry %#llx at %#llx level %u would "
				    "not trap a hardware walk",
				    (unsigned long long)e, (unsigned long long)va,
				    level);
		if (!pgt_table_entry_ok(c, u, why, sizeof(why)))
			return werr(w, "marker on a non-table entry at %#llx level "
				    "%u: unmark gives %s", (unsigned long long)va,
				    level, why);
		t->marks = grow(t->marks, &t->mcap, t->nmarks + 1, sizeof(*t->marks));
		t->marks[t->nmarks++] = (struct pgt_mark){ va, level };
		return walk_table(w, u & PGT_ADDR, level - 1, va, true);
	}
	if (level == 1 && f->marked(e))
		return werr(w, "recalculation marker on the 4 KiB leaf %#llx at "
			    "%#llx", (unsigned long long)e, (unsigned long long)va);
	if (!pgt_present(c, e))
		return werr(w, "not-present entry %#llx at %#llx level %u is not 0",
			    (unsigned long long)e, (unsigned long long)va, level);
	if (level == 1 || (e & pgt_large_bit(c)))
		return add_leaf(w, e, level, va, pending);
	if (!pgt_table_entry_ok(c, e, why, sizeof(why)))
		return werr(w, "at %#llx level %u: %s", (unsigned long long)va,
			    level, why);
	return walk_table(w, e & PGT_ADDR, level - 1, va, pending);
}

static int walk_table(struct walk *w, uint64_t hpa, unsigned level,
		      uint64_t va, bool pending)
{
	const uint64_t *tab = arena_map(w->env, hpa);
	struct pgt_tree *t = w->t;
	uint64_t step = vmmu_pt_level_size(level);

	if (!tab)
		return werr(w, "table %#llx (level %u, va %#llx) is not allocated",
			    (unsigned long long)hpa, level,
			    (unsigned long long)va);
	t->tables = grow(t->tables, &t->tcap, t->ntables + 1, sizeof(*t->tables));
	t->tables[t->ntables++] = (struct pgt_table){ hpa, va, level, pending };
	if (w->snap) {
		t->bytes = grow(t->bytes, &t->bcap, t->ntables * 512, 8);
		memcpy(t->bytes + (t->ntables - 1) * 512, tab, VMMU_PAGE_SIZE);
	}
	for (unsigned i = 0; i < VMMU_PT_ENTRIES; i++) {
		uint64_t e = __atomic_load_n(&tab[i], __ATOMIC_ACQUIRE);

		if (e && walk_entry(w, e, level, va + i * step, pending))
			return -1;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Each table page reached once: a page linked twice is an error. */
static int check_unique(struct walk *w)
{
	struct pgt_tree *t = w->t;
	uint64_t *h = malloc((t->ntables + 1) * sizeof(*h));
	int rc = 0;

	if (!h)
		abort();
	for (size_t i = 0; i < t->ntables; i++)
		h[i] = t->tables[i].hpa;
	qsort(h, t->ntables, sizeof(*h), cmp_u64);
	for (size_t i = 1; i < t->ntables && !rc; i++)
		if (h[i] == h[i - 1])
			rc = werr(w, "table page %#llx is linked twice",
				  (unsigned long long)h[i]);
	free(h);
	return rc;
}

int pgt_walk(struct pgt_env *env, struct pgt_tree *t, bool snapshot)
{
	struct walk w = { env, t, snapshot };

	t->nleaves = t->ntables = t->nmarks = 0;
	t->err[0] = 0;
	if (walk_table(&w, env->pt.root.v, env->pt.levels, 0, false))
		return -1;
	return check_unique(&w);
}

void pgt_tree_free(struct pgt_tree *t)
{
	free(t->leaves);
	free(t->tables);
	free(t->marks);
	free(t->bytes);
	memset(t, 0, sizeof(*t));
}

const struct pgt_leaf *pgt_find_leaf(const struct pgt_tree *t, uint64_t va)
{
	size_t lo = 0, hi = t->nleaves;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct pgt_leaf *l = &t->leaves[mid];

		if (va < l->va)
			hi = mid;
		else if (va >= l->va + vmmu_pt_level_size(l->level))
			lo = mid + 1;
		else
			return l;
	}
	return NULL;
}

bool pgt_tree_pending(const struct pgt_tree *t, uint64_t va)
{
	for (size_t i = 0; i < t->nmarks; i++) {
		const struct pgt_mark *m = &t->marks[i];

		if (va >= m->va && va - m->va < vmmu_pt_level_size(m->level))
			return true;
	}
	return false;
}

size_t pgt_find_table(const struct pgt_tree *t, uint64_t hpa)
{
	for (size_t i = 0; i < t->ntables; i++)
		if (t->tables[i].hpa == hpa)
			return i;
	return (size_t)-1;
}
