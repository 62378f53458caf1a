/* SPDX-License-Identifier: MIT */
/*
 * Lazy recalculation: marking the whole space touches the root's entries
 * only; recalc at random addresses resolves exactly the path (checked by
 * pgt_do_recalc against the tree before and after); in the end every page
 * was recalculated exactly once. VMMU_PT_RECALC_SPLIT splits mixed leaves.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_pgt.h"

static uint64_t boundary(const struct pgt_cfg *c)
{
	return 1ULL << (12 + 9 * (c->levels - 1));
}

/* Some 4K runs and (where allowed) 2M leaves on both sides of b. */
static void populate(struct pgt_env *env, struct pgt_rng *r)
{
	const struct pgt_cfg *c = env->cfg;
	uint64_t b = boundary(c), ad = pgt_ad_bits(c);

	for (unsigned i = 0; i < 24; i++) {
		uint64_t va = env->wbase + (pgt_below(r, env->wpages - 8) << 12);
		uint64_t a = pgt_rand_attrs(c, r) & ~PGT_CTR;

		pgt_do_map(env, va, va + env->hoff, PGT_KB4 * (1 + pgt_below(r, 8)),
			   a | (pgt_rand(r) & ad));
	}
	pgt_do_map(env, b - PGT_MB2, b - PGT_MB2 + env->hoff, 2 * PGT_MB2,
		   pgt_rand_attrs(c, r) & ~PGT_CTR);
}

static size_t count_root_entries(struct pgt_env *env)
{
	const uint64_t *root = env->fail.inner.map(env->fail.inner.ctx,
						   env->pt.root);
	size_t n = 0;

	for (unsigned i = 0; i < 512; i++)
		n += root[i] != 0;
	return n;
}

/* Only the root table's bytes changed between pre and post. */
static void check_only_root_changed(struct pgt_env *env)
{
	const struct pgt_tree *pre = &env->pre, *post = &env->post;

	assert_int_equal(pre->ntables, post->ntables);
	for (size_t i = 1; i < pre->ntables; i++)
		PGT_CHECK(env, pre->tables[i].hpa == post->tables[i].hpa &&
			  !memcmp(pre->bytes + i * 512, post->bytes + i * 512,
				  VMMU_PAGE_SIZE),
			  "marking the whole space changed table %#llx (level %u)",
			  (unsigned long long)pre->tables[i].hpa,
			  pre->tables[i].level);
}

/* Resolve every marker in the window by recalc at pending leaves. */
static void resolve_all(struct pgt_env *env, struct pgt_rng *r)
{
	for (unsigned guard = 0; guard < 100000; guard++) {
		const struct pgt_leaf *l = NULL;

		for (size_t i = 0; i < env->post.nleaves && !l; i++)
			if (env->post.leaves[i].pending)
				l = &env->post.leaves[i];
		if (!l)
			return;
		pgt_do_recalc(env, r, l->va);
	}
	fail_msg("markers do not go away");
}

void test_recalc_whole_space(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t space = 1ULL << (12 + 9 * c->levels), marks0;
	struct pgt_rng r = { pgt_seed_base() ^ 0x1a2b };
	struct pgt_env env;
	uint64_t base, pages;
	size_t nroot;

	pgt_window(c, false, &base, &pages);
	pgt_env_init(&env, c, base, pages, r.s);
	env.hoff = 3 * PGT_GB1;
	/* Recalcs stopped by their callback included: each table is
	 * resolved all or nothing (core/pgtable.h), so still exactly once. */
	populate(&env, &r);
	nroot = count_root_entries(&env);
	assert_int_equal(nroot, 2);
	marks0 = env.pt.stats.marks;
	pgt_do_mark(&env, &r, 0, space);
	check_only_root_changed(&env);
	assert_int_equal(env.pt.stats.marks - marks0, nroot);
	assert_true(env.chg.flush);
	for (unsigned i = 0; i < 40; i++)
		pgt_do_recalc(&env, &r, env.wbase +
			      (pgt_below(&r, env.wpages) << 12));
	resolve_all(&env, &r);
	/* Every page mapped before the mark was recalculated exactly once. */
	for (uint64_t p = 0; p < env.wpages; p++)
		if (env.model[p].attrs)
			PGT_CHECK(&env, (env.model[p].attrs & PGT_CTR) ==
				  (1ULL << PGT_CTR_SHIFT), "page %#llx counter %llu",
				  (unsigned long long)(env.wbase + (p << 12)),
				  (unsigned long long)(env.model[p].attrs >> 52 & 3));
	pgt_env_fini(&env);
}

/*
 * A policy that differs between the pages of a large leaf: the leaf comes
 * back VMMU_PT_RECALC_SPLIT and is split (stats.splits), every page then
 * getting its own class's value.
 */
void test_recalc_split(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t b = boundary(c), space = 1ULL << (12 + 9 * c->levels);
	struct pgt_rng r = { 77 };
	struct pgt_env env;
	uint64_t base, pages, splits;

	if (c->max_leaf < 2)
		skip();
	pgt_window(c, false, &base, &pages);
	pgt_env_init(&env, c, base, pages, 77);
	env.hoff = PGT_GB1;
	assert_int_equal(pgt_do_map(&env, b, b + env.hoff, 2 * PGT_MB2,
				    pgt_rand_attrs(c, &r) & ~PGT_CTR), 0);
	env.policy_shift = 1 + 3;                 /* classes of 8 pages */
	env.no_fn_errors = true;
	splits = env.pt.stats.splits;
	/* Marked at once (a leaf met on the way), split by the callback. */
	pgt_do_mark(&env, &r, b, PGT_MB2);
	assert_true(env.pt.stats.splits > splits);
	resolve_all(&env, &r);
	/* Under a marked root entry: recalc splits it on the way down. */
	splits = env.pt.stats.splits;
	pgt_do_mark(&env, &r, 0, space);
	pgt_do_recalc(&env, &r, b + PGT_MB2 + 0x5000);
	assert_true(env.pt.stats.splits > splits);
	resolve_all(&env, &r);
	pgt_env_fini(&env);
}
