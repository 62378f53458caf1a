/* SPDX-License-Identifier: MIT */
/*
 * The configurations and the random operation sequences: map, unmap,
 * update, split, merge, test_and_clear, for_each_leaf, mark_recalc,
 * recalc, free_deferred and lookups, over a window that straddles a root
 * entry boundary, with 2 MiB and 1 GiB alignment chances.
 */
#include <stdlib.h>

#include "pgt.h"
#include "npt/npt_format.h"

static const struct ept_format_ctx ept_plain = { .memtype = EPT_MT_WB };
static const struct ept_format_ctx ept_xonly = { .memtype = EPT_MT_WB,
						 .execute_only = true };
/* A shadow-style x86 table: supervisor entries, no EFER.NXE. */
static const struct vmmu_pt_x86_ctx x86_shadow = { .user = false, .nx = false,
						    .recalc_clears_p = true };

const struct pgt_cfg pgt_cfgs[] = {
	{ "ept4-4k", true, &ept_plain, 4, 1 },
	{ "ept4-2m", true, &ept_xonly, 4, 2 },
	{ "ept4-1g", true, &ept_plain, 4, 3 },
	{ "ept5-4k", true, &ept_xonly, 5, 1 },
	{ "ept5-2m", true, &ept_plain, 5, 2 },
	{ "ept5-1g", true, &ept_xonly, 5, 3 },
	{ "npt4-4k", false, &npt_pt_ctx, 4, 1 },
	{ "npt4-2m", false, &npt_pt_ctx, 4, 2 },
	{ "npt4-1g", false, &npt_pt_ctx, 4, 3 },
	{ "x86s5-4k", false, &x86_shadow, 5, 1 },
	{ "npt5-2m", false, &npt_pt_ctx, 5, 2 },
	{ "x86s5-1g", false, &x86_shadow, 5, 3 },
};
const size_t pgt_ncfgs = sizeof(pgt_cfgs) / sizeof(pgt_cfgs[0]);

uint64_t pgt_seed_base(void)
{
	const char *s = getenv("PGT_SEED");

	return s ? strtoull(s, NULL, 0) : 20261201;
}

static uint64_t wsize(const struct pgt_env *env)
{
	return env->wpages * PGT_KB4;
}

static void rand_range(struct pgt_env *env, struct pgt_rng *r, bool big,
		       uint64_t *va, uint64_t *size)
{
	unsigned k = (unsigned)pgt_below(r, 100);
	uint64_t g = k < 50 ? PGT_KB4 : (k < 88 || !big) ? PGT_MB2 : PGT_GB1;
	uint64_t n = g == PGT_KB4 ? 1 + pgt_below(r, 16) :
		     g == PGT_MB2 ? 1 + pgt_below(r, big ? 8 : 3) : 1;
	uint64_t s = g * n > wsize(env) ? wsize(env) : g * n;

	*va = env->wbase + pgt_below(r, (wsize(env) - s) / g + 1) * g;
	*size = s;
	if (pgt_chance(r, 25)) {
		uint64_t d = PGT_KB4 * (1 + pgt_below(r, 8));

		if (*va >= env->wbase + d && pgt_chance(r, 50)) {
			*va -= d;
			*size += d * pgt_below(r, 2);
		} else if (*size > d) {
			*va += d;
			*size -= d;
		}
	}
}

static uint64_t rand_hpa(struct pgt_env *env, struct pgt_rng *r, uint64_t va)
{
	unsigned k = (unsigned)pgt_below(r, 100);

	/* Outputs stay inside the 52-bit address field (tables 4-20, 29-6);
	 * a 5-level window at the top of the space is above it. */
	va &= (1ULL << 44) - 1;
	if (k < 70)
		return va + env->hoff;
	if (k < 90)
		return ((1 + pgt_below(r, 1000)) << 30) + (va & (PGT_GB1 - 1));
	return va + env->hoff + PGT_KB4 * (1 + pgt_below(r, 7));
}

static uint64_t rand_map_attrs(struct pgt_env *env, struct pgt_rng *r)
{
	uint64_t ad = pgt_ad_bits(env->cfg), a;

	if (pgt_chance(r, 4))   /* refused: EPT W without R, x86 not present */
		return env->cfg->ept ? PE_W | (6ULL << 3) : PX_RW;
	if (pgt_chance(r, 20))
		return pgt_rand_attrs(env->cfg, r);
	a = env->palette[pgt_below(r, 4)] & ~ad;
	return a | (pgt_rand(r) & ad);
}

static const struct pgt_leaf *rand_leaf(struct pgt_env *env,
					struct pgt_rng *r, bool large)
{
	const struct pgt_tree *t = &env->post;

	for (unsigned tries = 0; tries < 16 && t->nleaves; tries++) {
		const struct pgt_leaf *l = &t->leaves[pgt_below(r, t->nleaves)];

		if (!large || l->level > 1)
			return l;
	}
	return NULL;
}

static void op_split(struct pgt_env *env, struct pgt_rng *r)
{
	const struct pgt_leaf *l = rand_leaf(env, r, true);
	uint64_t va, size;

	if (l && pgt_chance(r, 85)) {
		uint64_t s = vmmu_pt_level_size(l->level);

		pgt_do_split(env, l->va + (pgt_below(r, s) & ~(PGT_KB4 - 1)),
			     l->level);
		return;
	}
	rand_range(env, r, false, &va, &size);
	pgt_do_split(env, va, 2 + (unsigned)pgt_below(r, 2));
}

static void op_merge(struct pgt_env *env, struct pgt_rng *r)
{
	const struct pgt_tree *t = &env->post;

	for (unsigned tries = 0; tries < 16 && t->ntables > 1; tries++) {
		const struct pgt_table *tb = &t->tables[1 + pgt_below(r, t->ntables - 1)];

		if (tb->level + 1 <= env->pt.max_leaf_level) {
			pgt_do_merge(env, tb->va, tb->level + 1);
			return;
		}
	}
}

static void op_recalc(struct pgt_env *env, struct pgt_rng *r)
{
	const struct pgt_leaf *l = rand_leaf(env, r, false);
	uint64_t va = env->wbase + (pgt_below(r, env->wpages) << 12);

	if (l && pgt_chance(r, 60))
		va = l->va + (pgt_below(r, vmmu_pt_level_size(l->level)) &
			      ~(PGT_KB4 - 1));
	pgt_do_recalc(env, r, va);
}

static void op_mark(struct pgt_env *env, struct pgt_rng *r, bool big)
{
	uint64_t va, size;

	if (pgt_chance(r, 25)) {
		pgt_do_mark(env, r, 0, 1ULL << (12 + 9 * env->pt.levels));
		return;
	}
	rand_range(env, r, big, &va, &size);
	pgt_do_mark(env, r, va, size);
}

static void op_range(struct pgt_env *env, struct pgt_rng *r, bool big,
		     unsigned k)
{
	uint64_t va, size, clear, set;

	rand_range(env, r, big, &va, &size);
	if (k < 30) {
		pgt_do_map(env, va, rand_hpa(env, r, va), size,
			   rand_map_attrs(env, r));
	} else if (k < 40) {
		pgt_do_unmap(env, va, size);
	} else if (k < 60) {
		pgt_rand_update(env->cfg, r, &clear, &set);
		if (pgt_chance(r, 3))
			set |= pgt_chance(r, 50) ? PGT_B(12) : pgt_large_bit(env->cfg);
		pgt_do_update(env, va, size, clear, set);
	} else if (k < 66) {
		pgt_do_test_and_clear(env, va, size,
				      pgt_ad_bits(env->cfg) >> pgt_below(r, 2));
	} else {
		pgt_do_for_each(env, va, size,
				pgt_chance(r, 50) ? 0 : 1 + pgt_below(r, 5));
	}
}

/* One random operation, then lookups of a few addresses. */
int pgt_random_op(struct pgt_env *env, struct pgt_rng *r, bool big)
{
	unsigned k = (unsigned)pgt_below(r, 100);

	if (k < 70)
		op_range(env, r, big, k);
	else if (k < 77)
		op_split(env, r);
	else if (k < 84)
		op_merge(env, r);
	else if (k < 89)
		op_mark(env, r, big);
	else if (k < 96)
		op_recalc(env, r);
	else if (k < 99)
		pgt_free_deferred_checked(env);
	else
		pgt_do_unmap_all(env);
	for (unsigned i = 0; i < 4; i++)
		pgt_check_lookup(env, env->wbase + (pgt_below(r, env->wpages) << 12));
	pgt_check_lookup(env, env->wbase + wsize(env) +
			 (pgt_below(r, 1024) << 12));
	return 0;
}

void pgt_random_ops(struct pgt_env *env, struct pgt_rng *r, unsigned nops,
		    bool big)
{
	for (unsigned i = 0; i < 4; i++)
		env->palette[i] = pgt_rand_attrs(env->cfg, r);
	env->hoff = (1 + pgt_below(r, 4096)) << 30;
	for (unsigned i = 0; i < nops; i++)
		pgt_random_op(env, r, big);
	pgt_free_deferred_checked(env);
}
