/* SPDX-License-Identifier: MIT */
/*
 * Checked engine operations: each runs one engine call between pgt_begin
 * and pgt_end, and applies its meaning (core/pgtable.h) to the flat model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pgt.h"

#define ULL(x) ((unsigned long long)(x))

static bool aligned4k(uint64_t v)
{
	return !(v & (PGT_KB4 - 1));
}

/* Largest leaf level for address a of a map of [va, end) to hpa. */
static unsigned map_level(const struct pgt_env *env, uint64_t a, uint64_t va,
			  uint64_t hpa, uint64_t end)
{
	unsigned l = env->pt.max_leaf_level;

	for (; l > 1; l--) {
		uint64_t s = vmmu_pt_level_size(l);

		if (!(a & (s - 1)) && !((hpa + (a - va)) & (s - 1)) &&
		    end - a >= s)
			break;
	}
	return l;
}

/* With auto_merge, merged leaves OR their A/D (merge_or_mask). */
static void merge_or_adjust(struct pgt_env *env, uint64_t va, uint64_t size)
{
	uint64_t ad = pgt_ad_bits(env->cfg);

	for (size_t i = 0; i < env->post.nleaves; i++) {
		const struct pgt_leaf *l = &env->post.leaves[i];
		uint64_t n = vmmu_pt_level_size(l->level) >> 12, or = 0;
		struct pgt_page *m;

		if (l->level < 2 || l->va >= va + size ||
		    l->va + (n << 12) <= va)
			continue;
		uint64_t p = 0;

		m = pgt_model_page(env, l->va);
		for (; p < n; p++) {
			if (!m[p].attrs || m[p].hpa != m[0].hpa + (p << 12) ||
			    (m[p].attrs & ~ad) != (m[0].attrs & ~ad))
				break;
			or |= m[p].attrs & ad;
		}
		for (uint64_t q = 0; p == n && q < n; q++)
			m[q].attrs |= or;
	}
}

/* After map/update with auto_merge: no mergeable table in the range. */
static void check_no_mergeable(struct pgt_env *env, uint64_t va,
			       uint64_t size)
{
	const struct pgt_tree *t = &env->post;

	for (size_t i = 1; i < t->ntables; i++) {
		const struct pgt_table *tb = &t->tables[i];
		unsigned l = tb->level + 1;

		if (l > env->pt.max_leaf_level || tb->va >= va + size ||
		    tb->va + vmmu_pt_level_size(l) <= va)
			continue;
		PGT_CHECK(env, !pgt_uniform(env, t, tb->va, l),
			  "auto_merge left a uniform table at %#llx level %u",
			  ULL(tb->va), l);
	}
}

static void check_map_levels(struct pgt_env *env, uint64_t va, uint64_t hpa,
			     uint64_t size)
{
	uint64_t a = va, end = va + size;

	while (a < end) {
		unsigned want = map_level(env, a, va, hpa, end);
		const struct pgt_leaf *l = pgt_find_leaf(&env->post, a);

		PGT_CHECK(env, l && (env->pt.auto_merge ? l->level >= want :
				     l->level == want && l->va == a),
			  "map [%#llx, %#llx) -> %#llx: page %#llx has a level-%u "
			  "leaf, the largest allowed is %u", ULL(va), ULL(end),
			  ULL(hpa), ULL(a), l ? l->level : 0, want);
		a += vmmu_pt_level_size(want);
	}
}

int pgt_do_map(struct pgt_env *env, uint64_t va, uint64_t hpa, uint64_t size,
	       uint64_t attrs)
{
	bool ok = pgt_attrs_ok(env->cfg, attrs) && aligned4k(va) &&
		  aligned4k(hpa) && aligned4k(size) && size &&
		  pgt_in_window(env, va, size) && hpa + size > hpa &&
		  hpa + size <= PGT_B(52);
	int rc;

	pgt_begin(env, "map");
	rc = vmmu_pt_map(&env->pt, va, mk_hpa(hpa), size, attrs, pgt_chg(env));
	PGT_CHECK(env, rc == (ok ? 0 : VMMU_EINVAL),
		  "map(%#llx, %#llx, size %#llx, attrs %#llx) = %d, expected %d",
		  ULL(va), ULL(hpa), ULL(size), ULL(attrs), rc,
		  ok ? 0 : VMMU_EINVAL);
	if (!ok) {
		pgt_end(env, rc);
		pgt_check_unchanged(env);
		return rc;
	}
	for (uint64_t off = 0; off < size; off += PGT_KB4) {
		struct pgt_page *m = pgt_model_page(env, va + off);

		m->hpa = hpa + off;
		m->attrs = attrs ^ (env->mutate == 1 && off ? PGT_B(11) : 0);
	}
	pgt_end_walk(env, rc);
	if (env->pt.auto_merge)
		merge_or_adjust(env, va, size);
	pgt_end_check(env);
	check_map_levels(env, va, hpa, size);
	pgt_check_pending_kept(env, va, va + size);
	if (env->pt.auto_merge)
		check_no_mergeable(env, va, size);
	return rc;
}

/* The whole address space, most of it never mapped. */
int pgt_do_unmap_all(struct pgt_env *env)
{
	uint64_t space = 1ULL << (12 + 9 * env->pt.levels);
	int rc;

	pgt_begin(env, "unmap all");
	rc = vmmu_pt_unmap(&env->pt, 0, space, pgt_chg(env));
	PGT_CHECK(env, rc == 0, "unmap of the whole space = %d", rc);
	memset(env->model, 0, env->wpages * sizeof(*env->model));
	pgt_end(env, rc);
	PGT_CHECK(env, env->post.nleaves == 0, "leaves left");
	return rc;
}

int pgt_do_unmap(struct pgt_env *env, uint64_t va, uint64_t size)
{
	int rc;

	pgt_begin(env, "unmap");
	rc = vmmu_pt_unmap(&env->pt, va, size, pgt_chg(env));
	PGT_CHECK(env, rc == 0, "unmap(%#llx, %#llx) = %d", ULL(va), ULL(size),
		  rc);
	for (uint64_t off = 0; off < size; off += PGT_KB4)
		memset(pgt_model_page(env, va + off), 0, sizeof(struct pgt_page));
	pgt_end(env, rc);
	pgt_check_pending_kept(env, va, va + size);
	return rc;
}

/* The expected outcome of update: 0, or VMMU_EINVAL with nothing changed. */
static int update_expect(struct pgt_env *env, uint64_t va, uint64_t size,
			 uint64_t clear, uint64_t set)
{
	bool any = false;

	if ((clear | set) & PGT_ADDR)
		return VMMU_EINVAL;
	for (uint64_t off = 0; off < size; off += PGT_KB4) {
		uint64_t a = pgt_model_page(env, va + off)->attrs;

		any |= a != 0;
		if (a && !pgt_attrs_ok(env->cfg, (a & ~clear) | set))
			return VMMU_EINVAL;
	}
	/*
	 * The EPT large bit in set/clear with no leaf in the range: the
	 * header forbids it, the engine only refuses it through leaf_ok (a
	 * result with bit 7 set) and returns 0 for an empty range. Either
	 * answer is taken here (noted in the report).
	 */
	if (!any && env->cfg->ept && ((clear | set) & PE_PS))
		return 1;
	return 0;
}

int pgt_do_update(struct pgt_env *env, uint64_t va, uint64_t size,
		  uint64_t clear, uint64_t set)
{
	int want = update_expect(env, va, size, clear, set), rc;

	pgt_begin(env, "update");
	rc = vmmu_pt_update(&env->pt, va, size, clear, set, pgt_chg(env));
	if (want == 1)
		want = rc == VMMU_EINVAL ? VMMU_EINVAL : 0;
	PGT_CHECK(env, rc == want, "update(%#llx, %#llx, clear %#llx, set %#llx)"
		  " = %d, expected %d", ULL(va), ULL(size), ULL(clear),
		  ULL(set), rc, want);
	if (rc) {
		pgt_end(env, rc);
		pgt_check_unchanged(env);
		return rc;
	}
	for (uint64_t off = 0; off < size; off += PGT_KB4) {
		struct pgt_page *m = pgt_model_page(env, va + off);

		if (m->attrs && !(env->mutate == 5 && off + PGT_KB4 == size))
			m->attrs = (m->attrs & ~clear) | set;
	}
	pgt_end_walk(env, rc);
	if (env->pt.auto_merge)
		merge_or_adjust(env, va, size);
	pgt_end_check(env);
	pgt_check_pending_kept(env, 0, 0);
	if (env->pt.auto_merge)
		check_no_mergeable(env, va, size);
	return rc;
}

int pgt_do_split(struct pgt_env *env, uint64_t va, unsigned level)
{
	const struct pgt_leaf *l;
	uint64_t size = vmmu_pt_level_size(level), base = va & ~(size - 1);
	bool ok;
	int rc;

	pgt_begin(env, "split");
	l = pgt_find_leaf(&env->pre, va);
	ok = l && l->level == level && level > 1;
	rc = vmmu_pt_split_large_leaf(&env->pt, va, level, pgt_chg(env));
	PGT_CHECK(env, rc == (ok ? 0 : VMMU_ENOENT), "split(%#llx, %u) = %d",
		  ULL(va), level, rc);
	pgt_end(env, rc);
	pgt_check_pending_kept(env, 0, 0);
	if (!ok) {
		pgt_check_unchanged(env);
		return rc;
	}
	PGT_CHECK(env, env->pt.stats.splits == env->stats0.splits + 1,
		  "stats.splits did not count the split");
	for (unsigned i = 0; i < 512; i++) {
		uint64_t a = base + i * (size >> 9);
		const struct pgt_leaf *c = pgt_find_leaf(&env->post, a);

		PGT_CHECK(env, c && c->va == a && c->level == level - 1,
			  "split child %u at %#llx is not a level-%u leaf", i,
			  ULL(a), level - 1);
	}
	return rc;
}

int pgt_do_merge(struct pgt_env *env, uint64_t va, unsigned level)
{
	uint64_t size = vmmu_pt_level_size(level), base = va & ~(size - 1);
	uint64_t ad = pgt_ad_bits(env->cfg), or = 0;
	const struct pgt_leaf *l;
	bool ok;
	int rc;

	pgt_begin(env, "merge");
	ok = pgt_uniform(env, &env->pre, va, level);
	rc = vmmu_pt_merge(&env->pt, va, level, pgt_chg(env));
	PGT_CHECK(env, ok ? rc == 0 : rc < 0, "merge(%#llx, %u) = %d, the "
		  "table %s uniform", ULL(va), level, rc, ok ? "is" : "is not");
	l = pgt_find_leaf(&env->pre, base);
	if (!ok && l && l->level == level - 1 && !pgt_tree_pending(&env->pre, base))
		PGT_CHECK(env, rc == VMMU_ENOENT, "merge of a non-uniform table "
			  "= %d, expected VMMU_ENOENT", rc);
	if (!ok) {
		pgt_end(env, rc);
		pgt_check_unchanged(env);
		return rc;
	}
	for (uint64_t off = 0; off < size; off += PGT_KB4)
		or |= pgt_model_page(env, base + off)->attrs & ad;
	for (uint64_t off = 0; off < size && env->mutate != 3; off += PGT_KB4)
		pgt_model_page(env, base + off)->attrs |= or;
	pgt_end(env, rc);
	pgt_check_pending_kept(env, 0, 0);
	PGT_CHECK(env, env->pt.stats.merges == env->stats0.merges + 1,
		  "stats.merges did not count the merge");
	l = pgt_find_leaf(&env->post, base);
	PGT_CHECK(env, l && l->va == base && l->level == level,
		  "after merge(%#llx, %u) no level-%u leaf", ULL(va), level,
		  level);
	return rc;
}

/* ---- test_and_clear and for_each_leaf: the calls they make ---- */

struct leaf_call { uint64_t addr, size, entry; unsigned level; };
struct calls {
	struct pgt_env *env;
	struct leaf_call *v;
	size_t n, cap;
	size_t stop_at;             /* return non-zero at this call (1-based) */
};

static int record_leaf(void *ctx, uint64_t addr, uint64_t size,
		       unsigned level, uint64_t entry)
{
	struct calls *c = ctx;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		PGT_CHECK(c->env, c->v, "out of memory");
	}
	c->v[c->n++] = (struct leaf_call){ addr, size, entry, level };
	return c->n == c->stop_at ? 1000 + (int)c->n : 0;
}

/* Calls expected over [va, va+size) of tree t: clipped leaves in order. */
static size_t expect_calls(const struct pgt_env *env, const struct pgt_tree *t,
			   uint64_t va, uint64_t size, uint64_t bits,
			   struct leaf_call *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nleaves && n < max; i++) {
		const struct pgt_leaf *l = &t->leaves[i];
		uint64_t s = l->va, e = s + vmmu_pt_level_size(l->level);

		if (e <= va || s >= va + size)
			continue;
		if (bits && !(pgt_leaf_attrs4k(env->cfg, l->e, l->level) & bits))
			continue;
		s = s < va ? va : s;
		e = e > va + size ? va + size : e;
		out[n++] = (struct leaf_call){ s, e - s, l->e, l->level };
	}
	return n;
}

static void compare_calls(struct pgt_env *env, const struct calls *got,
			  const struct leaf_call *want, size_t nwant,
			  bool entries)
{
	PGT_CHECK(env, got->n == nwant, "%zu leaf calls, expected %zu", got->n,
		  nwant);
	for (size_t i = 0; i < nwant; i++) {
		const struct leaf_call *g = &got->v[i], *w = &want[i];

		PGT_CHECK(env, g->addr == w->addr && g->size == w->size &&
			  g->level == w->level &&
			  (entries ? g->entry == w->entry :
			   (g->entry & PGT_ADDR) == (w->entry & PGT_ADDR)),
			  "call %zu: (%#llx, %#llx, level %u, %#llx), expected "
			  "(%#llx, %#llx, level %u, %#llx)", i, ULL(g->addr),
			  ULL(g->size), g->level, ULL(g->entry), ULL(w->addr),
			  ULL(w->size), w->level, ULL(w->entry));
	}
}

/* pgt_begin, then the calls expected over [va, va+size) in *want. */
static size_t begin_calls(struct pgt_env *env, const char *op, uint64_t va,
			  uint64_t size, uint64_t bits, struct leaf_call **want)
{
	pgt_begin(env, op);
	*want = calloc(env->pre.nleaves + 1, sizeof(**want));
	PGT_CHECK(env, *want, "out of memory");
	return expect_calls(env, &env->pre, va, size, bits, *want,
			    env->pre.nleaves);
}

int pgt_do_test_and_clear(struct pgt_env *env, uint64_t va, uint64_t size,
			  uint64_t bits)
{
	struct calls got = { .env = env };
	struct leaf_call *want;
	size_t nwant;
	int rc;

	nwant = begin_calls(env, "test_and_clear", va, size, bits, &want);
	rc = vmmu_pt_test_and_clear(&env->pt, va, size, bits, record_leaf, &got,
				    pgt_chg(env));
	PGT_CHECK(env, rc == 0, "test_and_clear = %d", rc);
	compare_calls(env, &got, want, nwant, false);
	/* A straddling leaf is not split: its whole range loses the bits. */
	for (size_t i = 0; i < nwant; i++) {
		const struct pgt_leaf *l = pgt_find_leaf(&env->pre, want[i].addr);
		uint64_t n = vmmu_pt_level_size(l->level) >> 12;
		struct pgt_page *m = pgt_model_page(env, l->va);

		for (uint64_t p = 0; p < n; p++)
			m[p].attrs &= ~bits;
	}
	free(want);
	free(got.v);
	pgt_end(env, rc);
	pgt_check_pending_kept(env, 0, 0);
	return rc;
}

int pgt_do_for_each(struct pgt_env *env, uint64_t va, uint64_t size,
		    size_t stop_at)
{
	struct calls got = { .env = env, .stop_at = stop_at };
	struct leaf_call *want;
	size_t nwant;
	int rc;

	nwant = begin_calls(env, "for_each_leaf", va, size, 0, &want);
	rc = vmmu_pt_for_each_leaf(&env->pt, va, size, record_leaf, &got);
	if (stop_at && stop_at <= nwant) {
		PGT_CHECK(env, rc == 1000 + (int)stop_at, "for_each_leaf = %d, "
			  "its callback stopped it with %d", rc,
			  1000 + (int)stop_at);
		nwant = stop_at;
	} else {
		PGT_CHECK(env, rc == 0, "for_each_leaf = %d", rc);
	}
	compare_calls(env, &got, want, nwant, true);
	free(want);
	free(got.v);
	pgt_end(env, rc);
	pgt_check_unchanged(env);
	return rc;
}

/* lookup agrees with our walk: the leaf and its level, or where it stops. */
void pgt_check_lookup(struct pgt_env *env, uint64_t va)
{
	const struct pgt_tree *t = &env->post;
	const struct pgt_leaf *l = pgt_find_leaf(t, va);
	unsigned level = 0, stop = env->pt.levels;
	uint64_t e = 0;
	int rc = vmmu_pt_lookup(&env->pt, va, &e, &level);

	if (l) {
		PGT_CHECK(env, rc == 0 && e == l->e && level == l->level,
			  "lookup(%#llx) = %d, %#llx level %u; the tree has %#llx "
			  "level %u", ULL(va), rc, ULL(e), level, ULL(l->e),
			  l->level);
		return;
	}
	for (size_t i = 0; i < t->ntables; i++) {
		const struct pgt_table *tb = &t->tables[i];
		uint64_t span = vmmu_pt_level_size(tb->level) << 9;

		if (tb->level < stop && va >= tb->va && va - tb->va < span)
			stop = tb->level;
	}
	PGT_CHECK(env, rc == VMMU_ENOENT && level == stop,
		  "lookup(%#llx) of an unmapped address = %d, level %u; the "
		  "walk stops at level %u", ULL(va), rc, level, stop);
}
