/* SPDX-License-Identifier: MIT */
/*
 * Out of memory at every allocation point. For each kind of operation the
 * same state is built again (a map of the whole window with the largest
 * leaves, then random checked operations), the platform is told to fail
 * its N-th alloc_page / zalloc call and every one after it, for N = 1, 2,
 * ... until the operation succeeds. After each failure: VMMU_ENOMEM, the
 * tree valid, every 4 KiB page either its value before or its value after
 * the successful operation (a reference run), the flush rule still kept,
 * no table page lost (pages in use == table_pages + deferred, 0 after
 * destroy); map, unmap and update then succeed when retried.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_pgt.h"

#define ULL(x) ((unsigned long long)(x))
#define OOM_SEEDS 3

enum { K_MAP, K_MAP_SPLIT, K_MAP_WIDE, K_UNMAP, K_UPDATE, K_SPLIT, K_MERGE,
       K_MARK, K_RECALC, K_NKINDS };

struct oom_op {
	int kind;
	uint64_t va, size, hpa, attrs, clear, set, rseed;
	unsigned level;
};

static void build(struct pgt_env *env, const struct pgt_cfg *c,
		  uint64_t seed, int kind)
{
	struct pgt_rng r = { seed };
	uint64_t base, pages;

	pgt_window(c, false, &base, &pages);
	pgt_env_init(env, c, base, pages, seed);
	env->hoff = PGT_GB1;
	for (unsigned i = 0; i < 4; i++)
		env->palette[i] = pgt_rand_attrs(c, &r);
	/*
	 * The lower half (one root entry) mapped with the largest leaves and
	 * changed at random; the upper half (the next root entry) never
	 * touched, so a map there builds a table at every level.
	 */
	env->wpages = pages / 2;
	pgt_do_map(env, base, base + env->hoff, pages * PGT_KB4 / 2,
		   env->palette[0] & ~pgt_ad_bits(c));
	for (unsigned i = 0; i < 8; i++)
		pgt_random_op(env, &r, false);
	env->wpages = pages;
	if (kind == K_RECALC)
		pgt_do_mark(env, &r, 0, 1ULL << (12 + 9 * c->levels));
	env->policy_shift = 1;          /* every large leaf is mixed */
}

static uint64_t rand_va(struct pgt_env *env, struct pgt_rng *r)
{
	return env->wbase + (pgt_below(r, env->wpages) << 12);
}

/* Arguments for kind, from the built state (deterministic). */
static bool pick(struct pgt_env *env, struct pgt_rng *r, struct oom_op *op)
{
	const struct pgt_tree *t = &env->post;
	uint64_t end = env->wbase + env->wpages * PGT_KB4;

	op->va = rand_va(env, r);
	op->size = PGT_KB4 * (1 + pgt_below(r, 3));
	if (op->va + op->size > end)
		op->va = end - op->size;
	/* Lower half: splits large leaves; upper half: builds new tables. */
	op->va = env->wbase + (((op->va - env->wbase) / 2) & ~(PGT_KB4 - 1));
	if (op->kind == K_MAP)
		op->va += (end - env->wbase) / 2 - op->size;
	op->hpa = op->va + 2 * PGT_GB1;
	op->attrs = env->palette[pgt_below(r, 4)];
	op->clear = pgt_w_bit(env->cfg);
	op->rseed = pgt_rand(r);
	if (op->kind == K_MAP_WIDE) {
		op->va = env->wbase + PGT_KB4;
		op->size = env->wpages * PGT_KB4 - 2 * PGT_KB4;
	}
	if (op->kind == K_MARK)
		op->size = PGT_MB2 + PGT_KB4 * pgt_below(r, 512);
	if (op->kind == K_SPLIT || op->kind == K_MERGE) {
		for (size_t i = 0; i < t->nleaves; i++) {
			const struct pgt_leaf *l = &t->leaves[i];

			if (op->kind == K_SPLIT && l->level > 1) {
				op->va = l->va;
				op->level = l->level;
				return true;
			}
			if (op->kind == K_MERGE && l->level + 1 <= env->pt.max_leaf_level &&
			    pgt_uniform(env, t, l->va, l->level + 1)) {
				op->va = l->va;
				op->level = l->level + 1;
				return true;
			}
		}
		return false;
	}
	return true;
}

static int run_op(struct pgt_env *env, const struct oom_op *op)
{
	struct vmmu_pt *pt = &env->pt;
	struct vmmu_pt_change *chg = pgt_chg(env);
	struct pgt_rng r = { op->rseed };
	struct pgt_policy pol;
	int rc;

	switch (op->kind) {
	case K_MAP:
	case K_MAP_SPLIT:
	case K_MAP_WIDE:
		return vmmu_pt_map(pt, op->va, mk_hpa(op->hpa), op->size, op->attrs, chg);
	case K_UNMAP:
		return vmmu_pt_unmap(pt, op->va, op->size, chg);
	case K_UPDATE:
		return vmmu_pt_update(pt, op->va, op->size, op->clear, 0, chg);
	case K_SPLIT:
		return vmmu_pt_split_large_leaf(pt, op->va, op->level, chg);
	case K_MERGE:
		return vmmu_pt_merge(pt, op->va, op->level, chg);
	default:
		break;
	}
	pgt_policy_init(&pol, env, &r, op->kind == K_MARK ? op->va : 0,
			op->kind == K_MARK ? op->va + op->size : UINT64_MAX);
	if (op->kind == K_MARK)
		rc = vmmu_pt_mark_recalc(pt, op->va, op->size, pgt_policy_fn, &pol, chg);
	else
		rc = vmmu_pt_recalc(pt, op->va, pgt_policy_fn, &pol, chg);
	pgt_policy_fini(&pol);
	return rc;
}

/* The tree's pages as a model array. */
static void tree_pages(const struct pgt_env *env, const struct pgt_tree *t,
		       struct pgt_page *out)
{
	memset(out, 0, env->wpages * sizeof(*out));
	for (size_t i = 0; i < t->nleaves; i++) {
		const struct pgt_leaf *l = &t->leaves[i];
		uint64_t n = vmmu_pt_level_size(l->level) >> 12;
		uint64_t p0 = (l->va - env->wbase) >> 12;

		for (uint64_t p = 0; p < n; p++)
			out[p0 + p] = (struct pgt_page){
				pgt_leaf_hpa(l->e, l->level) + (p << 12),
				pgt_leaf_attrs4k(env->cfg, l->e, l->level) };
	}
}

/* The reference: the state after the operation when nothing fails. */
static bool reference(const struct pgt_cfg *c, uint64_t seed, int kind,
		      struct oom_op *op, struct pgt_page *newm)
{
	struct pgt_env env;
	struct pgt_rng r = { seed ^ 0x5eed };
	int rc;

	build(&env, c, seed, kind);
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	if (!pick(&env, &r, op)) {
		pgt_env_fini(&env);
		return false;
	}
	pgt_begin(&env, "oom reference");
	rc = run_op(&env, op);
	pgt_end_walk(&env, rc);
	tree_pages(&env, &env.post, newm);
	pgt_env_fini(&env);
	return rc == 0;
}

/* One trial: fail from the n-th allocation on. Returns whether it failed. */
static bool trial(const struct pgt_cfg *c, uint64_t seed, const struct oom_op *ref,
		  const struct pgt_page *newm, long n, bool sticky)
{
	struct pgt_env env;
	struct pgt_rng r = { seed ^ 0x5eed };
	struct oom_op op;
	bool failed;
	int rc;

	memset(&op, 0, sizeof(op));
	op.kind = ref->kind;
	build(&env, c, seed, ref->kind);
	pick(&env, &r, &op);
	PGT_CHECK(&env, !memcmp(&op, ref, sizeof(op)), "test bug: op differs");
	pgt_begin(&env, "oom");
	env.fail = (struct pgt_failplat){ env.fail.inner, 0, n, sticky, 0 };
	rc = run_op(&env, &op);
	env.fail.fail_at = 0;
	failed = rc != 0;
	PGT_CHECK(&env, !failed || rc == VMMU_ENOMEM, "kind %d failing "
		  "allocation %ld: rc %d, expected VMMU_ENOMEM", op.kind, n, rc);
	pgt_end_walk(&env, rc);
	pgt_check_old_or_new(&env, newm, &env.post);
	pgt_check_change(&env);
	if (failed && op.kind <= K_UPDATE) {
		pgt_begin(&env, "oom retry");
		PGT_CHECK(&env, run_op(&env, &op) == 0, "retry after ENOMEM failed");
		pgt_end_walk(&env, 0);
		memcpy(env.model, newm, env.wpages * sizeof(*newm));
		pgt_end_check(&env);
	} else if (!failed) {
		memcpy(env.model, newm, env.wpages * sizeof(*newm));
		pgt_check_model(&env, &env.post);
	}
	pgt_env_fini(&env);
	return failed;
}

void test_oom(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t base, pages;
	struct pgt_page *newm;
	unsigned points = 0;
	char per_kind[128] = "";

	pgt_window(c, false, &base, &pages);
	newm = calloc(pages, sizeof(*newm));
	assert_non_null(newm);
	for (int kind = 0; kind < K_NKINDS; kind++) {
		long total = 0;

		for (unsigned s = 0; s < OOM_SEEDS; s++) {
			uint64_t seed = pgt_seed_base() + 31 * (uint64_t)kind +
					1000 * (uint64_t)(c - pgt_cfgs) + 7 * s;
			struct oom_op op;
			long n = 1;

			if (!reference(c, seed, kind, &op, newm))
				continue;
			/* Half the seeds: only the n-th call fails. */
			while (trial(c, seed, &op, newm, n, s % 2 == 0)) {
				n++;
				assert_true(n < 5000);
			}
			total += n - 1;
		}
		points += (unsigned)total;
		snprintf(per_kind + strlen(per_kind),
			 sizeof(per_kind) - strlen(per_kind), " %ld", total);
	}
	free(newm);
	print_message("%s: %u allocation points failed (per kind:%s)\n",
		      c->name, points, per_kind);
}
