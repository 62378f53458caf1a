/* SPDX-License-Identifier: MIT */
/*
 * Lazy recalculation. The test's policy gives each 4 KiB page a class from
 * a hash of (pfn >> shift); a recalculated leaf loses write permission in
 * class 1 and, in both classes, has a 2-bit counter in ignored bits 53:52
 * incremented, so a leaf recalculated twice is seen. A large leaf whose
 * pages are of both classes, or that reaches outside [lo, hi), is answered
 * with VMMU_PT_RECALC_SPLIT.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pgt.h"

#define ULL(x) ((unsigned long long)(x))

static bool class_of(uint64_t pfn, unsigned shift, uint64_t salt)
{
	uint64_t h = ((pfn >> shift) ^ salt) * 0x9e3779b97f4a7c15ULL;

	return (h >> 41) & 1;
}

bool pgt_policy_class(const struct pgt_policy *p, uint64_t va)
{
	return class_of(va >> 12, p->shift, p->salt);
}

uint64_t pgt_policy_apply(const struct pgt_cfg *c, uint64_t attrs, bool cls)
{
	uint64_t ctr = ((attrs >> PGT_CTR_SHIFT) + 1) & 3;

	if (cls)
		attrs &= ~pgt_w_bit(c);
	return (attrs & ~PGT_CTR) | (ctr << PGT_CTR_SHIFT);
}

void pgt_policy_init(struct pgt_policy *p, struct pgt_env *env,
		     struct pgt_rng *r, uint64_t lo, uint64_t hi)
{
	static const unsigned shifts[] = { 0, 3, 9, 18, 40 };

	memset(p, 0, sizeof(*p));
	p->env = env;
	p->shift = shifts[pgt_below(r, 5)];
	if (env->policy_shift)
		p->shift = env->policy_shift - 1;
	p->salt = pgt_rand(r);
	p->lo = lo;
	p->hi = hi;
	p->hits = calloc(env->wpages, 1);
	PGT_CHECK(env, p->hits, "out of memory");
}

void pgt_policy_fini(struct pgt_policy *p)
{
	free(p->hits);
	p->hits = NULL;
}

static bool mixed(const struct pgt_policy *p, uint64_t va, uint64_t size)
{
	uint64_t pfn = va >> 12, n = size >> 12;
	uint64_t step = p->shift >= 63 ? n : 1ULL << p->shift;
	bool c0 = class_of(pfn, p->shift, p->salt);

	if (va < p->lo || va + size > p->hi)
		return true;
	for (uint64_t i = step; i < n; i += step)
		if (class_of(pfn + i, p->shift, p->salt) != c0)
			return true;
	return false;
}

/* The leaf the engine passes must be the one in the tree (our model). */
static void check_leaf_arg(struct pgt_policy *p, uint64_t addr,
			   unsigned level, uint64_t old)
{
	struct pgt_env *env = p->env;
	uint64_t size = vmmu_pt_level_size(level);
	const struct pgt_page *m = &env->old[(addr - env->wbase) >> 12];
	uint64_t last = (size >> 12) - 1;

	PGT_CHECK(env, level >= 1 && level <= env->pt.max_leaf_level &&
		  !(addr & (size - 1)) && pgt_in_window(env, addr, size),
		  "recalc callback for (%#llx, level %u)", ULL(addr), level);
	PGT_CHECK(env, pgt_present(env->cfg, old) &&
		  (level == 1 || (old & pgt_large_bit(env->cfg))),
		  "recalc callback got %#llx at level %u: not a leaf", ULL(old),
		  level);
	PGT_CHECK(env, pgt_leaf_hpa(old, level) == m->hpa &&
		  pgt_leaf_attrs4k(env->cfg, old, level) == m->attrs &&
		  m[last].hpa == m->hpa + (last << 12) &&
		  m[last].attrs == m->attrs,
		  "recalc callback got leaf %#llx for %#llx, the model has "
		  "hpa %#llx attrs %#llx", ULL(old), ULL(addr), ULL(m->hpa),
		  ULL(m->attrs));
}

int pgt_policy_fn(void *ctx, uint64_t addr, unsigned level, uint64_t old,
		  uint64_t *out)
{
	struct pgt_policy *p = ctx;
	struct pgt_env *env = p->env;
	uint64_t size = vmmu_pt_level_size(level), n = size >> 12;
	uint64_t first = (addr - env->wbase) >> 12;
	uint64_t addr_bits = old & PGT_ADDR;

	p->calls++;
	check_leaf_arg(p, addr, level, old);
	if (p->calls == p->fail_at)
		return VMMU_EIO;
	if (level > 1 && mixed(p, addr, size)) {
		p->splits++;
		return VMMU_PT_RECALC_SPLIT;
	}
	/* W (bit 1) and bits 53:52 sit at the same place in every layout. */
	*out = addr_bits | pgt_policy_apply(env->cfg, old & ~PGT_ADDR,
					    pgt_policy_class(p, addr));
	p->applied++;
	for (uint64_t i = 0; i < n; i++)
		if (p->hits[first + i] < 255)
			p->hits[first + i]++;
	return 0;
}

/* Recalculated pages take the policy's value; each page at most once. */
static void apply_hits_to(struct pgt_env *env, const struct pgt_policy *p,
			  struct pgt_page *model)
{
	for (uint64_t i = 0; i < env->wpages; i++) {
		struct pgt_page *m = &model[i];

		PGT_CHECK(env, p->hits[i] <= 1, "page %#llx recalculated %u "
			  "times in one operation",
			  ULL(env->wbase + (i << 12)), p->hits[i]);
		if (p->hits[i])
			m->attrs = pgt_policy_apply(env->cfg, m->attrs,
				class_of((env->wbase >> 12) + i, p->shift, p->salt));
	}
}

static void apply_hits(struct pgt_env *env, const struct pgt_policy *p)
{
	apply_hits_to(env, p, env->model);
}

/*
 * After a callback error, a leaf the callback answered may or may not have
 * been written (core/pgtable.h leaves it open): each page is its old or
 * its recalculated value, and the model follows the tree.
 */
static void stopped_pages(struct pgt_env *env, const struct pgt_policy *p)
{
	struct pgt_page *newm = malloc(env->wpages * sizeof(*newm));

	PGT_CHECK(env, newm, "out of memory");
	memcpy(newm, env->old, env->wpages * sizeof(*newm));
	apply_hits_to(env, p, newm);
	pgt_check_old_or_new(env, newm, &env->post);
	for (uint64_t i = 0; i < env->wpages; i++) {
		const struct pgt_leaf *l = pgt_find_leaf(&env->post,
							 env->wbase + (i << 12));

		env->model[i] = newm[i];
		if (l && pgt_leaf_attrs4k(env->cfg, l->e, l->level) != newm[i].attrs)
			env->model[i] = env->old[i];
	}
	free(newm);
}

static bool covers(uint64_t lo, uint64_t hi, uint64_t va, uint64_t size)
{
	return va >= lo && va + size <= hi && va + size > va;
}

/*
 * mark_recalc marks the highest table entries [lo, hi) covers whole: each
 * must be marked afterwards and nothing under it recalculated now.
 */
static unsigned check_highest_marked(struct pgt_env *env,
				     const struct pgt_policy *p, uint64_t lo,
				     uint64_t hi, unsigned *already)
{
	const struct pgt_tree *pre = &env->pre, *post = &env->post;
	unsigned fresh = 0;

	for (size_t i = 1; i < pre->ntables; i++) {
		const struct pgt_table *tb = &pre->tables[i];
		unsigned l = tb->level + 1;
		uint64_t size = vmmu_pt_level_size(l), up = size << 9;
		bool marked = false, was = false;

		if (!covers(lo, hi, tb->va, size) ||
		    (l < env->pt.levels && covers(lo, hi, tb->va & ~(up - 1), up)))
			continue;
		for (size_t j = 0; j < post->nmarks && !marked; j++)
			marked = post->marks[j].va == tb->va &&
				 post->marks[j].level == l;
		for (size_t j = 0; j < pre->nmarks && !was; j++)
			was = pre->marks[j].va == tb->va && pre->marks[j].level == l;
		/* Below a marked entry the pages are behind a marker already;
		 * resolving it will mark this entry (core/pgtable.h). */
		PGT_CHECK(env, marked || pgt_tree_pending(pre, tb->va),
			  "mark_recalc [%#llx, %#llx): the table entry at %#llx "
			  "level %u, covered whole, is not marked", ULL(lo),
			  ULL(hi), ULL(tb->va), l);
		uint64_t a = tb->va > env->wbase ? tb->va : env->wbase;
		uint64_t e = env->wbase + env->wpages * PGT_KB4;

		e = tb->va + size < e ? tb->va + size : e;
		for (; a < e; a += PGT_KB4)
			PGT_CHECK(env, !p->hits[(a - env->wbase) >> 12],
				  "mark_recalc recalculated %#llx under the entry "
				  "it marks", ULL(a));
		if (was)
			++*already;
		else
			fresh++;
	}
	return fresh;
}

/* Pages mapped before: recalculated once xor still behind a marker. */
static void check_pages_mark(struct pgt_env *env, const struct pgt_policy *p,
			     uint64_t lo, uint64_t hi)
{
	for (uint64_t i = 0; i < env->wpages; i++) {
		uint64_t va = env->wbase + (i << 12);
		bool in = va >= lo && va < hi;
		bool before = pgt_tree_pending(&env->pre, va);
		bool after = pgt_tree_pending(&env->post, va);

		if (!env->old[i].attrs)
			continue;
		if (!in) {
			PGT_CHECK(env, !p->hits[i] && after == before,
				  "mark_recalc [%#llx, %#llx) changed page %#llx "
				  "outside it", ULL(lo), ULL(hi), ULL(va));
			continue;
		}
		PGT_CHECK(env, p->hits[i] || after, "mark_recalc left page %#llx "
			  "neither recalculated nor behind a marker", ULL(va));
	}
}

/*
 * The callback stopped the walk with an error, returned as is. No page
 * that kept its value lost its marker; after recalc, such a page's marker
 * state is unchanged (no walk passes a marker without trapping).
 */
static int fn_stopped(struct pgt_env *env, struct pgt_policy *p, int rc,
		      bool recalc)
{
	PGT_CHECK(env, rc == VMMU_EIO, "%s stopped by its callback returned "
		  "%d, not the callback's VMMU_EIO", env->op, rc);
	pgt_end_walk(env, rc);
	stopped_pages(env, p);
	for (uint64_t i = 0; i < env->wpages; i++) {
		uint64_t va = env->wbase + (i << 12);
		bool before = pgt_tree_pending(&env->pre, va);
		bool after = pgt_tree_pending(&env->post, va);

		if (!env->old[i].attrs || env->model[i].attrs != env->old[i].attrs)
			continue;
		PGT_CHECK(env, recalc ? after == before : after || !before,
			  "a stopped %s changed the marker state of page %#llx "
			  "it did not recalculate", env->op, ULL(va));
	}
	pgt_end_check(env);
	pgt_policy_fini(p);
	return rc;
}

int pgt_do_mark(struct pgt_env *env, struct pgt_rng *r, uint64_t addr,
		uint64_t size)
{
	struct pgt_policy pol;
	uint64_t hi = addr + size < addr ? UINT64_MAX : addr + size;
	uint64_t marks0 = env->pt.stats.marks, leaves0;
	unsigned fresh, already = 0;
	int rc;

	pgt_policy_init(&pol, env, r, addr, hi);
	if (pgt_chance(r, 10) && !env->no_fn_errors)
		pol.fail_at = 1 + pgt_below(r, 3);
	pgt_begin(env, "mark_recalc");
	leaves0 = env->pt.stats.recalc_leaves;
	rc = vmmu_pt_mark_recalc(&env->pt, addr, size, pgt_policy_fn, &pol,
				 pgt_chg(env));
	if (pol.fail_at && pol.calls >= pol.fail_at)
		return fn_stopped(env, &pol, rc, false);
	apply_hits(env, &pol);
	PGT_CHECK(env, rc == 0, "mark_recalc(%#llx, %#llx) = %d", ULL(addr),
		  ULL(size), rc);
	pgt_end_walk(env, rc);
	fresh = check_highest_marked(env, &pol, addr, hi, &already);
	check_pages_mark(env, &pol, addr, hi);
	PGT_CHECK(env, env->pt.stats.marks - marks0 >= fresh &&
		  (pol.splits || env->pt.stats.marks - marks0 <= fresh + already),
		  "stats.marks grew by %llu; %u entries newly marked, %u again",
		  ULL(env->pt.stats.marks - marks0), fresh, already);
	PGT_CHECK(env, env->pt.stats.recalc_leaves - leaves0 == pol.calls ||
		  env->pt.stats.recalc_leaves - leaves0 == pol.applied,
		  "stats.recalc_leaves grew by %llu for %llu calls",
		  ULL(env->pt.stats.recalc_leaves - leaves0), ULL(pol.calls));
	pgt_end_check(env);
	pgt_policy_fini(&pol);
	return rc;
}

/* Whether leaf l sits directly in a table on the path to addr at or under
 * the marked entry at level top (a table recalc resolves). */
static bool in_resolved_table(const struct pgt_leaf *l, uint64_t addr,
			      unsigned top)
{
	uint64_t span = vmmu_pt_level_size(l->level + 1);

	return l->level + 1 <= top && (l->va & ~(span - 1)) == (addr & ~(span - 1));
}

static void check_pages_recalc(struct pgt_env *env,
			       const struct pgt_policy *p, uint64_t addr,
			       unsigned top)
{
	const struct pgt_tree *pre = &env->pre;
	uint64_t span = top ? vmmu_pt_level_size(top) : 0;

	for (size_t i = 0; i < pre->nleaves; i++) {
		const struct pgt_leaf *l = &pre->leaves[i];
		uint64_t n = vmmu_pt_level_size(l->level) >> 12;
		uint64_t first = (l->va - env->wbase) >> 12;
		bool under = top && (l->va & ~(span - 1)) == (addr & ~(span - 1));
		bool direct = under && in_resolved_table(l, addr, top);

		for (uint64_t q = first; q < first + n; q++) {
			uint64_t va = env->wbase + (q << 12);
			bool after = pgt_tree_pending(&env->post, va);
			unsigned hit = p->hits[q];

			if (env->mutate == 6 && under && !direct)
				hit = !hit;
			PGT_CHECK(env, hit ? !after : (after == l->pending),
				  "recalc(%#llx): page %#llx recalculated %u times, "
				  "behind a marker before %d, after %d", ULL(addr),
				  ULL(va), hit, l->pending, after);
			if (direct)
				PGT_CHECK(env, hit || (l->level > 1 && p->splits),
					  "recalc(%#llx): leaf %#llx level %u in a "
					  "resolved table was not recalculated",
					  ULL(addr), ULL(l->va), l->level);
			else
				PGT_CHECK(env, !hit, "recalc(%#llx): page %#llx is "
					  "not in a resolved table but was "
					  "recalculated", ULL(addr), ULL(va));
		}
	}
}

int pgt_do_recalc(struct pgt_env *env, struct pgt_rng *r, uint64_t addr)
{
	struct pgt_policy pol;
	unsigned top = 0;
	uint64_t tables0;
	int rc;

	pgt_policy_init(&pol, env, r, 0, UINT64_MAX);
	if (pgt_chance(r, 15) && !env->no_fn_errors)
		pol.fail_at = 1 + pgt_below(r, 4);
	pgt_begin(env, "recalc");
	for (size_t i = 0; i < env->pre.nmarks; i++) {
		const struct pgt_mark *m = &env->pre.marks[i];

		if (addr >= m->va && addr - m->va < vmmu_pt_level_size(m->level) &&
		    m->level > top)
			top = m->level;
	}
	tables0 = env->pt.stats.recalc_tables;
	rc = vmmu_pt_recalc(&env->pt, addr, pgt_policy_fn, &pol, pgt_chg(env));
	if (pol.fail_at && pol.calls >= pol.fail_at)
		return fn_stopped(env, &pol, rc, true);
	apply_hits(env, &pol);
	PGT_CHECK(env, rc == 0, "recalc(%#llx) = %d", ULL(addr), rc);
	pgt_end_walk(env, rc);
	PGT_CHECK(env, !pgt_tree_pending(&env->post, addr),
		  "recalc(%#llx) left a marker on the path", ULL(addr));
	check_pages_recalc(env, &pol, addr, top);
	PGT_CHECK(env, top ? env->pt.stats.recalc_tables > tables0 :
		  !pol.calls && env->pt.stats.recalc_tables == tables0,
		  "recalc(%#llx) with the highest marker at level %u: %llu "
		  "callbacks, recalc_tables +%llu", ULL(addr), top,
		  ULL(pol.calls), ULL(env->pt.stats.recalc_tables - tables0));
	pgt_end_check(env);
	if (!top)
		pgt_check_unchanged(env);
	pgt_policy_fini(&pol);
	return rc;
}
