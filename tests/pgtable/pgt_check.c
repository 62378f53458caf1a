/* SPDX-License-Identifier: MIT */
/*
 * The test environment (hosted arena behind a platform that can fail its
 * N-th allocation) and the checks run around every engine operation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pgt.h"

void pgt_fail_at(struct pgt_env *env, const char *file, int line,
		 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_error("[%s seed=%llu op#%u %s] %s\n"
		    "  reproduce: PGT_SEED=%llu PGT_FILTER='%s/*' (and PGT_RUNS "
		    "as in this run) tests/pgtable/test_pgtable\n",
		    env->cfg ? env->cfg->name : "?",
		    (unsigned long long)env->seed, env->opno,
		    env->op ? env->op : "-", msg,
		    (unsigned long long)pgt_seed_base(),
		    env->cfg ? env->cfg->name : "*");
	_fail(file, line);
}

/* ---- a platform whose alloc_page / zalloc fail from the N-th call ---- */

static bool fp_fails(struct pgt_failplat *f)
{
	f->calls++;
	if (!f->fail_at || f->calls < f->fail_at)
		return false;
	if (f->calls > f->fail_at && !f->sticky)
		return false;
	f->failed++;
	return true;
}

static int fp_alloc_page(void *ctx, hpa_t *out)
{
	struct pgt_failplat *f = ctx;

	if (fp_fails(f))
		return VMMU_ENOMEM;
	return f->inner.alloc_page(f->inner.ctx, out);
}

static void fp_free_page(void *ctx, hpa_t page)
{
	struct pgt_failplat *f = ctx;

	f->inner.free_page(f->inner.ctx, page);
}

static void *fp_map(void *ctx, hpa_t hpa)
{
	struct pgt_failplat *f = ctx;

	return f->inner.map(f->inner.ctx, hpa);
}

static void *fp_zalloc(void *ctx, size_t size)
{
	struct pgt_failplat *f = ctx;

	if (fp_fails(f))
		return NULL;
	return f->inner.zalloc(f->inner.ctx, size);
}

static void fp_free(void *ctx, void *ptr)
{
	struct pgt_failplat *f = ctx;

	f->inner.free(f->inner.ctx, ptr);
}

static const uint64_t *arena_map(struct pgt_env *env, uint64_t hpa)
{
	return env->fail.inner.map(env->fail.inner.ctx, mk_hpa(hpa));
}

static uint64_t page_hash(const uint64_t *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (unsigned i = 0; i < 512; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* The format descriptor agrees with the manuals on its masks. */
static void check_format(struct pgt_env *env)
{
	const struct pgt_cfg *c = env->cfg;
	const struct vmmu_pt_format *f = pgt_fmt(c);

	PGT_CHECK(env, f->addr_mask == PGT_ADDR, "addr_mask %#llx",
		  (unsigned long long)f->addr_mask);
	PGT_CHECK(env, f->large_bit == pgt_large_bit(c), "large_bit %#llx",
		  (unsigned long long)f->large_bit);
	/* x86: P, plus the marker bit that keeps a P-cleared table entry
	 * "present" to the engine (core/pt_x86.c). */
	PGT_CHECK(env, c->ept ? f->present_mask == PE_RWX :
		  (f->present_mask & ~PX_MARKER) == PX_P,
		  "present_mask %#llx", (unsigned long long)f->present_mask);
	for (unsigned i = 0; i < 64; i++) {
		struct pgt_rng r = { i };
		uint64_t a = pgt_rand_attrs(c, &r);
		uint64_t big = pgt_make_leaf(c, 0, a, 2);

		PGT_CHECK(env, f->attrs_to_large(a) == big &&
			  f->attrs_to_4k(big) == a,
			  "format converts %#llx to %#llx and back to %#llx; the "
			  "manuals say %#llx", (unsigned long long)a,
			  (unsigned long long)f->attrs_to_large(a),
			  (unsigned long long)f->attrs_to_4k(big),
			  (unsigned long long)big);
		PGT_CHECK(env, f->leaf_ok(&env->pt, a), "leaf_ok refuses %#llx",
			  (unsigned long long)a);
	}
	PGT_CHECK(env, f->merge_or_mask == pgt_ad_bits(c),
		  "merge_or_mask %#llx, expected A|D",
		  (unsigned long long)f->merge_or_mask);
}

void pgt_env_init(struct pgt_env *env, const struct pgt_cfg *cfg,
		  uint64_t wbase, uint64_t wpages, uint64_t seed)
{
	const char *m = getenv("PGT_MUTATE");
	int rc;

	memset(env, 0, sizeof(*env));
	env->cfg = cfg;
	env->wbase = wbase;
	env->wpages = wpages;
	env->seed = seed;
	env->mutate = m ? (unsigned)atoi(m) : 0;
	pgt_mutate = env->mutate;
	PGT_CHECK(env, vmmu_hosted_create(1ULL << 30, &env->arena) == 0, "arena");
	vmmu_hosted_platform(env->arena, &env->fail.inner);
	env->plat = (struct vmmu_platform){ .ctx = &env->fail,
		.alloc_page = fp_alloc_page, .free_page = fp_free_page,
		.map = fp_map, .zalloc = fp_zalloc, .free = fp_free };
	env->model = calloc(wpages, sizeof(*env->model));
	env->old = calloc(wpages, sizeof(*env->old));
	PGT_CHECK(env, env->model && env->old, "out of memory");
	rc = vmmu_pt_init(&env->pt, pgt_fmt(cfg), cfg->ctx, &env->plat,
			  cfg->levels, cfg->max_leaf);
	PGT_CHECK(env, rc == 0, "vmmu_pt_init: %d", rc);
	env->have_pt = true;
	check_format(env);
	PGT_CHECK(env, pgt_walk(env, &env->post, true) == 0, "%s", env->post.err);
	env->post_valid = true;
	PGT_CHECK(env, env->post.ntables == 1 && env->post.nleaves == 0,
		  "a new tree has %zu tables, %zu leaves", env->post.ntables,
		  env->post.nleaves);
	pgt_check_tree(env, &env->post);
}

void pgt_env_fini(struct pgt_env *env)
{
	if (env->have_pt) {
		vmmu_pt_destroy(&env->pt);
		env->have_pt = false;
		PGT_CHECK(env, vmmu_hosted_pages_in_use(env->arena) == 0,
			  "%llu pages still in use after destroy",
			  (unsigned long long)vmmu_hosted_pages_in_use(env->arena));
	}
	vmmu_hosted_destroy(env->arena);
	free(env->model);
	free(env->old);
	free(env->dl);
	free(env->ol);
	pgt_tree_free(&env->pre);
	pgt_tree_free(&env->post);
	memset(env, 0, sizeof(*env));
}

bool pgt_in_window(const struct pgt_env *env, uint64_t va, uint64_t size)
{
	uint64_t end = env->wbase + env->wpages * PGT_KB4;

	return va >= env->wbase && size <= end - va && va + size <= end;
}

struct pgt_page *pgt_model_page(struct pgt_env *env, uint64_t va)
{
	return &env->model[(va - env->wbase) >> 12];
}

static void on_leaf(void *ctx, uint64_t addr, unsigned level, uint64_t old,
		    uint64_t new_entry)
{
	struct pgt_env *env = ctx;

	if (env->onleaf_calls == env->olcap) {
		env->olcap = env->olcap ? env->olcap * 2 : 256;
		env->ol = realloc(env->ol, env->olcap * sizeof(*env->ol));
		PGT_CHECK(env, env->ol, "out of memory");
	}
	env->ol[env->onleaf_calls] = (struct pgt_onleaf){ addr, old, new_entry,
							  level };
	env->onleaf_calls++;
	PGT_CHECK(env, level >= 1 && level <= env->pt.max_leaf_level &&
		  !(addr & (vmmu_pt_level_size(level) - 1)),
		  "on_leaf(%#llx, level %u)", (unsigned long long)addr, level);
}

void pgt_begin(struct pgt_env *env, const char *op)
{
	struct pgt_tree tmp;

	env->opno++;
	env->op = op;
	if (!env->post_valid)
		PGT_CHECK(env, pgt_walk(env, &env->post, true) == 0, "%s",
			  env->post.err);
	tmp = env->pre;
	env->pre = env->post;
	env->post = tmp;
	env->post_valid = false;
	memcpy(env->old, env->model, env->wpages * sizeof(*env->model));
	env->nd0 = env->pt.ndeferred;
	env->stats0 = env->pt.stats;
	env->inuse0 = vmmu_hosted_pages_in_use(env->arena);
	memset(&env->chg, 0, sizeof(env->chg));
	env->chg.on_leaf = on_leaf;
	env->chg.ctx = env;
	env->onleaf_calls = 0;
}

struct vmmu_pt_change *pgt_chg(struct pgt_env *env)
{
	return &env->chg;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t *sorted_tables(const struct pgt_tree *t)
{
	uint64_t *h = malloc((t->ntables + 1) * sizeof(*h));

	if (!h)
		abort();
	for (size_t i = 0; i < t->ntables; i++)
		h[i] = t->tables[i].hpa;
	qsort(h, t->ntables, sizeof(*h), cmp_u64);
	return h;
}

static bool in_sorted(const uint64_t *h, size_t n, uint64_t v)
{
	return bsearch(&v, h, n, sizeof(*h), cmp_u64) != NULL;
}

/*
 * Deferred pages: not in the tree, listed once, still allocated, and their
 * bytes unchanged from the end of the operation that unlinked them.
 */
static void check_deferred(struct pgt_env *env, const uint64_t *tabs,
			   size_t ntabs)
{
	const struct vmmu_pt *pt = &env->pt;
	uint64_t *d = malloc((pt->ndeferred + 1) * sizeof(*d));

	PGT_CHECK(env, d && pt->ndeferred >= env->ndl,
		  "deferred list shrank from %zu to %zu without free_deferred",
		  env->ndl, pt->ndeferred);
	for (size_t i = 0; i < pt->ndeferred; i++) {
		uint64_t h = pt->deferred[i].v;
		const uint64_t *p = arena_map(env, h);

		d[i] = h;
		PGT_CHECK(env, p, "deferred page %#llx was freed",
			  (unsigned long long)h);
		PGT_CHECK(env, !in_sorted(tabs, ntabs, h),
			  "deferred page %#llx is still in the tree",
			  (unsigned long long)h);
		if (i < env->ndl) {
			PGT_CHECK(env, env->dl[i].hpa == h &&
				  env->dl[i].hash == page_hash(p),
				  "deferred page %#llx changed (or was reused) "
				  "before vmmu_pt_free_deferred",
				  (unsigned long long)h);
			continue;
		}
		if (env->ndl == env->dlcap) {
			env->dlcap = env->dlcap ? env->dlcap * 2 : 64;
			env->dl = realloc(env->dl, env->dlcap * sizeof(*env->dl));
			PGT_CHECK(env, env->dl, "out of memory");
		}
		env->dl[env->ndl++] = (struct pgt_deferred){ h, page_hash(p) };
	}
	qsort(d, pt->ndeferred, sizeof(*d), cmp_u64);
	for (size_t i = 1; i < pt->ndeferred; i++)
		PGT_CHECK(env, d[i] != d[i - 1], "page %#llx deferred twice",
			  (unsigned long long)d[i]);
	free(d);
}

void pgt_check_tree(struct pgt_env *env, struct pgt_tree *t)
{
	const struct vmmu_pt *pt = &env->pt;
	const struct vmmu_pt_stats *s = &pt->stats;
	uint64_t in_use = vmmu_hosted_pages_in_use(env->arena);
	uint64_t *tabs = sorted_tables(t);

	PGT_CHECK(env, pt->table_pages == t->ntables,
		  "table_pages %llu, %zu tables reachable",
		  (unsigned long long)pt->table_pages, t->ntables);
	PGT_CHECK(env, in_use == t->ntables + pt->ndeferred,
		  "%llu arena pages in use, %zu tables + %zu deferred",
		  (unsigned long long)in_use, t->ntables, pt->ndeferred);
	PGT_CHECK(env, s->tables_allocated - s->tables_freed ==
		  t->ntables + pt->ndeferred,
		  "stats: %llu allocated - %llu freed != %zu + %zu",
		  (unsigned long long)s->tables_allocated,
		  (unsigned long long)s->tables_freed, t->ntables,
		  pt->ndeferred);
	check_deferred(env, tabs, t->ntables);
	free(tabs);
}

/* The engine's public leaf helpers agree with our decoding. */
static void check_leaf_helpers(struct pgt_env *env, const struct pgt_leaf *l)
{
	uint64_t a = vmmu_pt_leaf_attrs(&env->pt, l->e, l->level);
	uint64_t h = vmmu_pt_leaf_addr(&env->pt, l->e, l->level);

	PGT_CHECK(env, a == pgt_leaf_attrs4k(env->cfg, l->e, l->level) &&
		  h == pgt_leaf_hpa(l->e, l->level),
		  "vmmu_pt_leaf_attrs/addr(%#llx, level %u) = %#llx, %#llx",
		  (unsigned long long)l->e, l->level, (unsigned long long)a,
		  (unsigned long long)h);
}

/* Each page equals a[p] or b[p] (translation and every attribute bit). */
static void compare_pages(struct pgt_env *env, const struct pgt_tree *t,
			  const struct pgt_page *a, const struct pgt_page *b)
{
	static const struct pgt_page none;
	uint64_t p = 0;

	for (size_t i = 0; i <= t->nleaves; i++) {
		const struct pgt_leaf *l = i < t->nleaves ? &t->leaves[i] : NULL;
		uint64_t first = l ? (l->va - env->wbase) >> 12 : env->wpages;
		uint64_t n = l ? vmmu_pt_level_size(l->level) >> 12 : 0;
		struct pgt_page real = none;

		for (; p < first + n; p++) {
			if (p == first)
				check_leaf_helpers(env, l);
			if (p >= first) {
				real.hpa = pgt_leaf_hpa(l->e, l->level) +
					   ((p - first) << 12);
				real.attrs = pgt_leaf_attrs4k(env->cfg, l->e,
							      l->level);
			}
			if (!memcmp(&real, &a[p], sizeof(real)) ||
			    (b && !memcmp(&real, &b[p], sizeof(real))))
				continue;
			PGT_CHECK(env, 0, "page %#llx: tree hpa %#llx attrs %#llx "
				  "(leaf %#llx level %u), model hpa %#llx attrs "
				  "%#llx%s", (unsigned long long)(env->wbase + (p << 12)),
				  (unsigned long long)real.hpa,
				  (unsigned long long)real.attrs,
				  (unsigned long long)(l && p >= first ? l->e : 0),
				  l && p >= first ? l->level : 0,
				  (unsigned long long)a[p].hpa,
				  (unsigned long long)a[p].attrs,
				  b ? " (nor the other allowed value)" : "");
		}
	}
}

void pgt_check_model(struct pgt_env *env, const struct pgt_tree *t)
{
	compare_pages(env, t, env->model, NULL);
}

void pgt_check_old_or_new(struct pgt_env *env, const struct pgt_page *newm,
			  const struct pgt_tree *t)
{
	compare_pages(env, t, env->old, env->mutate == 7 ? NULL : newm);
}

/*
 * A page whose new view only adds access (EPT R, W, X; x86 R/W, U/S) and
 * differs in nothing else but the p2m-type bits 55:52 the CPU ignores:
 * a cached old translation is only more restrictive, so no flush is
 * needed (SDM Vol. 3C 29.4.3.3; APM Vol. 2 15.25.10).
 */
static bool only_grants(const struct pgt_cfg *c, uint64_t old, uint64_t nw)
{
	uint64_t grant = c->ept ? PE_R | PE_W | PE_X : PX_RW | PX_US;
	uint64_t diff = old ^ nw;

	if (pgt_mutate == 10)
		return false;
	return !(diff & ~(grant | (0xfULL << 52))) && !(diff & grant & old);
}

/* Pages of [a, b) whose hardware view changed (other than by only
 * granting more) widen [*lo, *hi). */
static void note_changed(const struct pgt_env *env, const struct pgt_tree *t,
			 const struct pgt_leaf *l, uint64_t *lo, uint64_t *hi)
{
	uint64_t a = l->va, b = a + vmmu_pt_level_size(l->level);
	uint64_t attrs = pgt_leaf_attrs4k(env->cfg, l->e, l->level);

	while (a < b) {
		const struct pgt_leaf *n = pgt_find_leaf(t, a);
		uint64_t end = b;
		bool same = false;

		if (n) {
			uint64_t ne = n->va + vmmu_pt_level_size(n->level);

			end = ne < b ? ne : b;
			same = !n->pending &&
			       pgt_leaf_hpa(n->e, n->level) + (a - n->va) ==
			       pgt_leaf_hpa(l->e, l->level) + (a - l->va) &&
			       only_grants(env->cfg, attrs,
					   pgt_leaf_attrs4k(env->cfg, n->e,
							    n->level));
		} else {
			/* up to the next leaf of t, if it starts inside */
			size_t lo_i = 0, hi_i = t->nleaves;

			while (lo_i < hi_i) {
				size_t mid = (lo_i + hi_i) / 2;

				if (t->leaves[mid].va > a)
					hi_i = mid;
				else
					lo_i = mid + 1;
			}
			if (lo_i < t->nleaves && t->leaves[lo_i].va < b)
				end = t->leaves[lo_i].va;
		}
		if (!same) {
			*lo = a < *lo ? a : *lo;
			*hi = end > *hi ? end : *hi;
		}
		a = end;
	}
}

/*
 * flush: set whenever a page that a walk could translate before now
 * translates differently (address, any attribute bit but an added right,
 * or a marker now in the way), and [start, end) covers every such page; never set when no
 * present entry (present as the manuals define it, decoded by us) of a
 * table reachable before changed. In between (a split, or a merge that
 * changes no bit of any page) a flush is allowed, not required: the old
 * and new entries give the same translation (KVM splits the same way).
 */
static void check_flush(struct pgt_env *env)
{
	const struct pgt_tree *pre = &env->pre;
	const struct vmmu_pt_change *chg = &env->chg;
	uint64_t lo = UINT64_MAX, hi = 0;
	bool changed = false;

	for (size_t i = 0; i < pre->ntables; i++) {
		const uint64_t *cur = arena_map(env, pre->tables[i].hpa);
		const uint64_t *old = pre->bytes + i * 512;

		PGT_CHECK(env, cur, "table %#llx was freed during the operation "
			  "instead of being deferred",
			  (unsigned long long)pre->tables[i].hpa);
		for (unsigned j = 0; j < 512 && !changed; j++)
			changed = pgt_present(env->cfg, old[j]) && cur[j] != old[j];
	}
	for (size_t i = 0; i < pre->nleaves; i++)
		if (!pre->leaves[i].pending)
			note_changed(env, &env->post, &pre->leaves[i], &lo, &hi);
	PGT_CHECK(env, lo == UINT64_MAX || changed,
		  "test bug: pages changed with no present entry changed");
	if (env->mutate == 2)
		changed = !changed;
	PGT_CHECK(env, changed || !chg->flush || env->pt.ndeferred > env->nd0,
		  "chg.flush set, but no present entry changed (tables "
		  "allocated %llu -> %llu)",
		  (unsigned long long)env->stats0.tables_allocated,
		  (unsigned long long)env->pt.stats.tables_allocated);
	PGT_CHECK(env, (chg->flush && env->mutate != 8) || lo == UINT64_MAX,
		  "chg.flush clear, but the translation of [%#llx, %#llx) changed",
		  (unsigned long long)lo, (unsigned long long)hi);
	if (lo != UINT64_MAX)
		PGT_CHECK(env, chg->start <= lo && chg->end >= hi,
			  "flush range [%#llx, %#llx) does not cover changed "
			  "[%#llx, %#llx)", (unsigned long long)chg->start,
			  (unsigned long long)chg->end, (unsigned long long)lo,
			  (unsigned long long)hi);
}

/* Every table reachable before is still there (same place) or deferred. */
static void check_accounted(struct pgt_env *env)
{
	const struct vmmu_pt *pt = &env->pt;
	const struct pgt_tree *pre = &env->pre, *post = &env->post;
	size_t nd = pt->ndeferred;

	for (size_t i = 0; i < pre->ntables; i++) {
		const struct pgt_table *tb = &pre->tables[i];
		size_t j = pgt_find_table(post, tb->hpa);
		bool deferred = false;

		if (j != (size_t)-1) {
			PGT_CHECK(env, post->tables[j].va == tb->va &&
				  post->tables[j].level == tb->level,
				  "table %#llx moved from (%#llx, %u) to (%#llx, %u): "
				  "freed and reused without deferral",
				  (unsigned long long)tb->hpa,
				  (unsigned long long)tb->va, tb->level,
				  (unsigned long long)post->tables[j].va,
				  post->tables[j].level);
			continue;
		}
		for (size_t k = env->nd0; k < nd && !deferred; k++)
			deferred = pt->deferred[k].v == tb->hpa;
		PGT_CHECK(env, deferred, "table %#llx left the tree but is not "
			  "on the deferred list", (unsigned long long)tb->hpa);
	}
	PGT_CHECK(env, env->chg.tables_unlinked == (nd > env->nd0),
		  "chg.tables_unlinked %d, deferred list %zu -> %zu",
		  env->chg.tables_unlinked, env->nd0, nd);
	if (env->mutate == 4)
		PGT_CHECK(env, nd == env->nd0, "mutation 4: nothing deferred");
}

void pgt_end_walk(struct pgt_env *env, int rc)
{
	PGT_CHECK(env, pgt_walk(env, &env->post, true) == 0, "after the "
		  "operation (rc %d): %s", rc, env->post.err);
	env->post_valid = true;
	pgt_check_tree(env, &env->post);
	check_accounted(env);
}

void pgt_end(struct pgt_env *env, int rc)
{
	pgt_end_walk(env, rc);
	pgt_end_check(env);
}

void pgt_check_pending_kept(struct pgt_env *env, uint64_t lo, uint64_t hi)
{
	const struct pgt_tree *post = &env->post;

	for (size_t i = 0; i < post->nleaves; i++) {
		const struct pgt_leaf *l = &post->leaves[i], *o;
		uint64_t end = l->va + vmmu_pt_level_size(l->level);
		bool before;

		if (l->va < hi && end > lo)
			continue;
		o = pgt_find_leaf(&env->pre, l->va);
		before = o ? o->pending : pgt_tree_pending(&env->pre, l->va);
		PGT_CHECK(env, l->pending == before, "leaf at %#llx (level %u) "
			  "%s a marker above it", (unsigned long long)l->va,
			  l->level, before ? "lost" : "gained");
	}
}

void pgt_end_check(struct pgt_env *env)
{
	pgt_check_model(env, &env->post);
	pgt_check_change(env);
}

/*
 * on_leaf: the last report for a leaf gives the value it has now (when
 * no merge ran), the first one the value it had before (when it existed
 * as that leaf before).
 */
static void check_on_leaf(struct pgt_env *env)
{
	for (size_t i = 0; i < env->onleaf_calls; i++) {
		const struct pgt_onleaf *o = &env->ol[i];
		const struct pgt_leaf *l;
		bool first = true, last = true;

		for (size_t j = 0; j < env->onleaf_calls; j++)
			if (env->ol[j].addr == o->addr &&
			    env->ol[j].level == o->level && j != i) {
				first &= j > i;
				last &= j < i;
			}
		l = pgt_find_leaf(&env->pre, o->addr);
		/* (A split is not reported: test_on_leaf_split holds that.) */
		if (first && l && l->va == o->addr && l->level == o->level &&
		    (o->level == 1 || (o->old & pgt_large_bit(env->cfg))))
			PGT_CHECK(env, o->old == l->e, "on_leaf(%#llx, level %u) "
				  "old %#llx, the tree had %#llx",
				  (unsigned long long)o->addr, o->level,
				  (unsigned long long)o->old,
				  (unsigned long long)l->e);
		l = pgt_find_leaf(&env->post, o->addr);
		if (last && !env->pt.auto_merge)
			PGT_CHECK(env, pgt_present(env->cfg, o->new_entry) &&
				  (o->level == 1 ||
				   (o->new_entry & pgt_large_bit(env->cfg))) ?
				  l && l->va == o->addr && l->level == o->level &&
				  l->e == o->new_entry :
				  !l || l->level != o->level || l->va != o->addr,
				  "on_leaf(%#llx, level %u) new %#llx, the tree has "
				  "%#llx at level %u", (unsigned long long)o->addr,
				  o->level, (unsigned long long)o->new_entry,
				  (unsigned long long)(l ? l->e : 0), l ? l->level : 0);
	}
}

void pgt_check_change(struct pgt_env *env)
{
	check_flush(env);
	if (env->onleaf_calls <= 600)     /* quadratic */
		check_on_leaf(env);
	PGT_CHECK(env, env->chg.leaves_changed == env->onleaf_calls,
		  "leaves_changed %llu, on_leaf called %llu times",
		  (unsigned long long)env->chg.leaves_changed,
		  (unsigned long long)env->onleaf_calls);
}

void pgt_check_unchanged(struct pgt_env *env)
{
	const struct pgt_tree *pre = &env->pre, *post = &env->post;

	PGT_CHECK(env, pre->ntables == post->ntables &&
		  env->pt.ndeferred == env->nd0,
		  "a refused operation changed the tables (%zu -> %zu) or the "
		  "deferred list (%zu -> %zu)", pre->ntables, post->ntables,
		  env->nd0, env->pt.ndeferred);
	for (size_t i = 0; i < pre->ntables; i++)
		PGT_CHECK(env, pre->tables[i].hpa == post->tables[i].hpa &&
			  !memcmp(pre->bytes + i * 512, post->bytes + i * 512,
				  VMMU_PAGE_SIZE),
			  "a refused operation changed table %#llx",
			  (unsigned long long)pre->tables[i].hpa);
	PGT_CHECK(env, !env->chg.flush && !env->chg.tables_unlinked,
		  "a refused operation reports a change");
}

void pgt_free_deferred_checked(struct pgt_env *env)
{
	size_t nd = env->pt.ndeferred, n;
	uint64_t in_use = vmmu_hosted_pages_in_use(env->arena);
	uint64_t freed = env->pt.stats.tables_freed;

	pgt_begin(env, "free_deferred");
	n = vmmu_pt_free_deferred(&env->pt);
	PGT_CHECK(env, n == nd && env->pt.ndeferred == 0,
		  "free_deferred returned %zu for %zu pages, %zu left", n, nd,
		  env->pt.ndeferred);
	PGT_CHECK(env, vmmu_hosted_pages_in_use(env->arena) == in_use - nd,
		  "arena pages %llu -> %llu after freeing %zu",
		  (unsigned long long)in_use,
		  (unsigned long long)vmmu_hosted_pages_in_use(env->arena), nd);
	PGT_CHECK(env, env->pt.stats.tables_freed - freed == nd,
		  "stats.tables_freed grew by %llu, not %zu",
		  (unsigned long long)(env->pt.stats.tables_freed - freed), nd);
	for (size_t i = 0; i < env->ndl; i++)
		PGT_CHECK(env, !arena_map(env, env->dl[i].hpa),
			  "deferred page %#llx still allocated after free",
			  (unsigned long long)env->dl[i].hpa);
	env->ndl = 0;
	env->nd0 = 0;
	PGT_CHECK(env, pgt_walk(env, &env->post, true) == 0, "%s", env->post.err);
	env->post_valid = true;
	pgt_check_unchanged(env);
	pgt_check_tree(env, &env->post);
}

/*
 * Whether the entry at level covering va is an unmarked table of 512
 * present leaves one level down, mapping a contiguous range aligned to the
 * large size with equal attributes apart from A/D (core/pgtable.h merge).
 */
bool pgt_uniform(struct pgt_env *env, const struct pgt_tree *t, uint64_t va,
		 unsigned level)
{
	uint64_t size = vmmu_pt_level_size(level), base = va & ~(size - 1);
	uint64_t csize = size >> 9, ad = pgt_ad_bits(env->cfg), a0, h0;
	const struct pgt_leaf *l;
	bool table = false;

	for (size_t i = 0; i < t->ntables && !table; i++)
		table = t->tables[i].va == base && t->tables[i].level == level - 1;
	for (size_t i = 0; i < t->nmarks; i++)
		if (t->marks[i].va == base && t->marks[i].level == level)
			return false;
	l = pgt_find_leaf(t, base);
	if (!table || !l || l->va != base || l->level != level - 1 ||
	    (size_t)(l - t->leaves) + 512 > t->nleaves)
		return false;
	h0 = pgt_leaf_hpa(l->e, l->level);
	a0 = pgt_leaf_attrs4k(env->cfg, l->e, l->level) & ~ad;
	if (h0 & (size - 1))
		return false;
	for (unsigned i = 0; i < 512; i++, l++)
		if (l->va != base + i * csize || l->level != level - 1 ||
		    pgt_leaf_hpa(l->e, l->level) != h0 + i * csize ||
		    (pgt_leaf_attrs4k(env->cfg, l->e, l->level) & ~ad) != a0)
			return false;
	return true;
}
