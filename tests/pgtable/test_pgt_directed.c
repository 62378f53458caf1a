/* SPDX-License-Identifier: MIT */
/*
 * Directed tests: exact entry values for the examples, refused
 * updates, bad arguments, the deferred-free and flush rules, merge and
 * auto_merge, test_and_clear on a straddling leaf. Every step also goes
 * through the full model and invariant checks of pgt_check.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_pgt.h"

/* The root-entry boundary the small window straddles. */
static uint64_t boundary(const struct pgt_cfg *c)
{
	return 1ULL << (12 + 9 * (c->levels - 1));
}

static void env_small(struct pgt_env *env, const struct pgt_cfg *c,
		      uint64_t seed)
{
	uint64_t base, pages;

	pgt_window(c, false, &base, &pages);
	pgt_env_init(env, c, base, pages, seed);
}

static uint64_t lookup_raw(struct pgt_env *env, uint64_t va, unsigned *level)
{
	uint64_t e = 0;

	PGT_CHECK(env, vmmu_pt_lookup(&env->pt, va, &e, level) == 0,
		  "lookup(%#llx) failed", (unsigned long long)va);
	return e;
}

/* Plain writable attributes of the configuration, A/D clear. */
static uint64_t rw_attrs(const struct pgt_cfg *c)
{
	const struct vmmu_pt_x86_ctx *x = c->ctx;

	if (c->ept)
		return PE_RWX | (6ULL << 3);
	return PX_P | PX_RW | (x->user ? PX_US : 0);
}

/*
 * Issue 9's example: the NPT leaf 0x10000000400387 (2 MiB, P R/W U/S PS G,
 * ignored bits 9 and 52) is 0x10000000400385 after a write-protect, not
 * 0x4000b5; PAT moves to bit 12 in the large leaf and back to bit 7 in the
 * split children (SDM tables 4-18, 4-20).
 */
static void exact_x86(struct pgt_env *env, uint64_t va)
{
	const struct vmmu_pt_x86_ctx *x = env->cfg->ctx;
	uint64_t a = PX_P | PX_RW | PX_G | PGT_B(9) | PGT_B(52) |
		     (x->user ? PX_US : 0);
	unsigned lvl;

	assert_int_equal(pgt_do_map(env, va, 0x400000, PGT_MB2, a), 0);
	assert_int_equal(lookup_raw(env, va + 0x5000, &lvl),
			 0x10000000400383ULL | (x->user ? PX_US : 0) | PX_PS);
	if (x->user)
		assert_int_equal(lookup_raw(env, va, &lvl), 0x10000000400387ULL);
	assert_int_equal(lvl, 2);
	assert_int_equal(pgt_do_update(env, va, PGT_MB2, PX_RW, 0), 0);
	assert_int_equal(lookup_raw(env, va, &lvl),
			 0x10000000400381ULL | (x->user ? PX_US : 0) | PX_PS);
	assert_int_equal(pgt_do_update(env, va, PGT_MB2, 0, PX_PAT4K | PX_D), 0);
	assert_int_equal(lookup_raw(env, va, &lvl),
			 0x100000004013c1ULL | (x->user ? PX_US : 0));
	assert_int_equal(pgt_do_split(env, va, 2), 0);
	assert_int_equal(lookup_raw(env, va + 0x5000, &lvl),
			 0x100000004053c1ULL | (x->user ? PX_US : 0));
	assert_int_equal(lvl, 1);
}

/* EPT: memory type, IPAT, A, D, ignored bit 52 and SVE are all kept. */
static void exact_ept(struct pgt_env *env, uint64_t va)
{
	uint64_t a = PE_RWX | PE_IPAT | PE_A | PE_D | PGT_B(52) | PE_SVE;
	unsigned lvl;

	assert_int_equal(pgt_do_map(env, va, 0x400000, PGT_MB2, a), 0);
	assert_int_equal(lookup_raw(env, va, &lvl), 0x80100000004003c7ULL);
	assert_int_equal(pgt_do_update(env, va, PGT_MB2, PE_W, 0), 0);
	assert_int_equal(lookup_raw(env, va, &lvl), 0x80100000004003c5ULL);
	assert_int_equal(pgt_do_update(env, va, PGT_MB2, PE_MT, 4ULL << 3), 0);
	assert_int_equal(lookup_raw(env, va, &lvl), 0x80100000004003e5ULL);
	assert_int_equal(pgt_do_split(env, va, 2), 0);
	assert_int_equal(lookup_raw(env, va + 0x5000, &lvl),
			 0x8010000000405365ULL);
	assert_int_equal(lvl, 1);
}

/* 1 GiB: PAT at bit 12 in the 1G leaf and its 2M children, bit 7 below. */
static void exact_1g(const struct pgt_cfg *c)
{
	struct pgt_env env;
	uint64_t b = boundary(c), a = rw_attrs(c) | PX_PAT4K;
	unsigned lvl;

	if (c->ept)
		return;
	pgt_env_init(&env, c, b, PGT_GB1 / PGT_KB4, 1);
	assert_int_equal(pgt_do_map(&env, b, 0x80000000, PGT_GB1, a), 0);
	assert_int_equal(lookup_raw(&env, b + 0x123000, &lvl),
			 0x80000000 | a | PX_PATL | PX_PS);
	assert_int_equal(lvl, 3);
	assert_int_equal(pgt_do_split(&env, b, 3), 0);
	assert_int_equal(lookup_raw(&env, b + 0x400000, &lvl),
			 0x80400000 | a | PX_PATL | PX_PS);
	assert_int_equal(pgt_do_split(&env, b + 0x400000, 2), 0);
	assert_int_equal(lookup_raw(&env, b + 0x401000, &lvl), 0x80401000 | a);
	pgt_env_fini(&env);
}

void test_exact_bits(void **state)
{
	const struct pgt_cfg *c = *state;
	struct pgt_env env;

	/* EPTP (SDM 25.6.11): WB (6), walk length - 1 in 5:3, A/D bit 6. */
	assert_int_equal(ept_make_eptp(mk_hpa(0x123000), 4, true), 0x12305e);
	assert_int_equal(ept_make_eptp(mk_hpa(0x123000), 5, false), 0x123026);

	if (c->max_leaf < 2) {
		env_small(&env, c, 1);
		/* 4K leaves only: PAT stays in bit 7 (table 4-20). */
		assert_int_equal(pgt_do_map(&env, boundary(c), 0x400000, PGT_MB2,
					    rw_attrs(c) | (c->ept ? PE_IPAT : PX_PAT4K)), 0);
		assert_int_equal(env.pt.table_pages, c->levels);
		pgt_env_fini(&env);
		return;
	}
	env_small(&env, c, 1);
	if (c->ept)
		exact_ept(&env, boundary(c));
	else
		exact_x86(&env, boundary(c));
	pgt_env_fini(&env);
	if (c->max_leaf == 3)
		exact_1g(c);
}

static void refused_ept(struct pgt_env *env, uint64_t va)
{
	const struct ept_format_ctx *x = env->cfg->ctx;

	assert_int_equal(pgt_do_map(env, va, 0x9000, PGT_KB4, PE_R | PE_W | PE_MT), VMMU_EINVAL);
	assert_int_equal(pgt_do_map(env, va, 0x9000, PGT_KB4, PE_W | (6ULL << 3)), VMMU_EINVAL);
	assert_int_equal(pgt_do_map(env, va, 0x9000, PGT_KB4, PE_R | (6ULL << 3)), 0);
	assert_int_equal(pgt_do_map(env, va + PGT_KB4, 0xa000, PGT_KB4,
				    PE_R | PE_W | (6ULL << 3)), 0);
	/* W without R: SDM 29.3.3.1. */
	assert_int_equal(pgt_do_update(env, va + PGT_KB4, PGT_KB4, PE_R, 0), VMMU_EINVAL);
	/* R-only -> X-only would be fine with execute_only, RW -> WX never. */
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, PE_R, PE_X), VMMU_EINVAL);
	assert_int_equal(pgt_do_update(env, va, PGT_KB4, PE_R, PE_X),
			 x->execute_only ? 0 : VMMU_EINVAL);
	/* No access, reserved memory types, address bits, the large bit. */
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, PE_RWX, 0), VMMU_EINVAL);
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, PE_MT, 7ULL << 3), VMMU_EINVAL);
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, PE_MT, 2ULL << 3), VMMU_EINVAL);
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, 0, PGT_B(12)), VMMU_EINVAL);
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, 0, PE_PS), VMMU_EINVAL);
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, PE_MT, 1ULL << 3), 0);
}

static void refused_x86(struct pgt_env *env, uint64_t va)
{
	const struct vmmu_pt_x86_ctx *x = env->cfg->ctx;
	uint64_t a = rw_attrs(env->cfg);

	assert_int_equal(pgt_do_map(env, va, 0x9000, PGT_KB4, a & ~PX_P), VMMU_EINVAL);
	assert_int_equal(pgt_do_map(env, va, 0x9000, PGT_KB4, a | PGT_B(20)), VMMU_EINVAL);
	assert_int_equal(pgt_do_map(env, va, 0x9000, 2 * PGT_KB4, a), 0);
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, PX_P, 0), VMMU_EINVAL);
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, PX_P | PX_RW, 0), VMMU_EINVAL);
	/* Bit 63 is reserved without EFER.NXE (SDM 4.5, table 4-20). */
	assert_int_equal(pgt_do_update(env, va, PGT_KB4, 0, PX_NX),
			 x->nx ? 0 : VMMU_EINVAL);
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, 0, PGT_B(13)), VMMU_EINVAL);
	assert_int_equal(pgt_do_update(env, va, 2 * PGT_KB4, PX_RW, PX_PAT4K | PX_G), 0);
}

void test_update_refused(void **state)
{
	const struct pgt_cfg *c = *state;
	struct pgt_env env;

	env_small(&env, c, 2);
	if (c->ept)
		refused_ept(&env, boundary(c));
	else
		refused_x86(&env, boundary(c));
	pgt_env_fini(&env);
}

/* A raw engine call that must fail and change nothing. */
#define REFUSED(env, name, call) \
	do { \
		int rc_; \
		pgt_begin(env, name); \
		rc_ = (call); \
		PGT_CHECK(env, rc_ < 0, "%s accepted bad arguments: %d", name, rc_); \
		pgt_end(env, rc_); \
		pgt_check_unchanged(env); \
	} while (0)

/* Bad depths and leaf levels are refused; a failed root allocation
 * leaves nothing allocated. */
static void bad_init(const struct pgt_cfg *c)
{
	static const unsigned bad[][2] = { { 3, 2 }, { 6, 2 }, { 4, 0 }, { 4, 4 } };
	struct pgt_env env;
	struct vmmu_pt pt;

	env_small(&env, c, 8);
	for (unsigned i = 0; i < 4; i++) {
		memset(&pt, 0, sizeof(pt));
		assert_int_equal(vmmu_pt_init(&pt, pgt_fmt(c), c->ctx, &env.plat,
					      bad[i][0], bad[i][1]), VMMU_EINVAL);
	}
	env.fail.fail_at = env.fail.calls + 1;
	env.fail.sticky = true;
	memset(&pt, 0, sizeof(pt));
	assert_int_equal(vmmu_pt_init(&pt, pgt_fmt(c), c->ctx, &env.plat,
				      c->levels, c->max_leaf), VMMU_ENOMEM);
	env.fail.fail_at = 0;
	/* Only env's own tree (its root) is allocated. */
	assert_int_equal(vmmu_hosted_pages_in_use(env.arena), 1);
	pgt_env_fini(&env);
}

void test_bad_args(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t b = boundary(c), a = rw_attrs(c);
	uint64_t space = 1ULL << (12 + 9 * c->levels);
	struct vmmu_pt *pt;
	struct pgt_env env;

	env_small(&env, c, 3);
	pt = &env.pt;
	assert_int_equal(pgt_do_map(&env, b, 0x200000, PGT_MB2, a), 0);
	REFUSED(&env, "map", vmmu_pt_map(pt, b + 1, mk_hpa(0x9000), PGT_KB4, a, pgt_chg(&env)));
	REFUSED(&env, "map", vmmu_pt_map(pt, b, mk_hpa(0x9800), PGT_KB4, a, pgt_chg(&env)));
	REFUSED(&env, "map", vmmu_pt_map(pt, b, mk_hpa(0x9000), 0x800, a, pgt_chg(&env)));
	REFUSED(&env, "map", vmmu_pt_map(pt, space - PGT_KB4, mk_hpa(0x9000),
					 2 * PGT_KB4, a, pgt_chg(&env)));
	REFUSED(&env, "map", vmmu_pt_map(pt, space, mk_hpa(0x9000), PGT_KB4, a,
					 pgt_chg(&env)));
	/* Output past the 52-bit address field. */
	REFUSED(&env, "map", vmmu_pt_map(pt, b, mk_hpa(PGT_B(52) - PGT_KB4),
					 2 * PGT_KB4, a, pgt_chg(&env)));
	REFUSED(&env, "unmap", vmmu_pt_unmap(pt, b + 0x10, PGT_KB4, pgt_chg(&env)));
	REFUSED(&env, "update", vmmu_pt_update(pt, b, 0x10, pgt_w_bit(c), 0,
					       pgt_chg(&env)));
	REFUSED(&env, "split", vmmu_pt_split_large_leaf(pt, b, 1, pgt_chg(&env)));
	REFUSED(&env, "split", vmmu_pt_split_large_leaf(pt, b, c->levels, pgt_chg(&env)));
	REFUSED(&env, "merge", vmmu_pt_merge(pt, b, c->max_leaf + 1, pgt_chg(&env)));
	REFUSED(&env, "merge", vmmu_pt_merge(pt, b, 1, pgt_chg(&env)));
	/* No large leaf there: VMMU_ENOENT (core/pgtable.h). */
	assert_int_equal(pgt_do_split(&env, b - PGT_MB2, 2), VMMU_ENOENT);
	pgt_env_fini(&env);
	bad_init(c);
}

/*
 * A table replaced by a large leaf goes to the deferred list intact; flush
 * is reported for a change of present entries only, over a range that
 * covers the change.
 */
void test_deferred_free(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t b = boundary(c), a = rw_attrs(c);
	struct pgt_env env;
	struct pgt_rng r = { 4 };

	env_small(&env, c, 4);
	assert_int_equal(pgt_do_map(&env, b, 0x600000, 16 * PGT_KB4, a), 0);
	assert_false(env.chg.flush);            /* only new entries */
	assert_int_equal(pgt_do_update(&env, b + PGT_KB4, PGT_KB4, pgt_w_bit(c), 0), 0);
	assert_true(env.chg.flush && env.chg.start <= b + PGT_KB4 &&
		    env.chg.end >= b + 2 * PGT_KB4);
	assert_int_equal(pgt_do_update(&env, b + PGT_KB4, PGT_KB4, pgt_w_bit(c), 0), 0);
	assert_false(env.chg.flush);            /* nothing changed */
	if (c->max_leaf >= 2) {
		assert_int_equal(pgt_do_map(&env, b, 0x600000, PGT_MB2, a), 0);
		assert_true(env.chg.flush && env.chg.tables_unlinked);
		assert_int_equal(env.pt.ndeferred, 1);
	} else {
		assert_int_equal(pgt_do_unmap(&env, b, PGT_MB2), 0);
	}
	/* Later operations must leave the deferred page alone (checked). */
	env.hoff = PGT_GB1;
	for (unsigned i = 0; i < 4; i++)
		env.palette[i] = pgt_rand_attrs(c, &r);
	for (unsigned i = 0; i < 60; i++)
		pgt_random_op(&env, &r, false);
	pgt_free_deferred_checked(&env);
	pgt_env_fini(&env);
}

/* Map 512 4K pages of [va, va+2M) to hpa one by one; page bad gets odd. */
static void map_512(struct pgt_env *env, uint64_t va, uint64_t hpa,
		    uint64_t attrs, int bad, int how)
{
	uint64_t ad = pgt_ad_bits(env->cfg);

	for (int i = 0; i < 512; i++) {
		uint64_t h = hpa + (uint64_t)i * PGT_KB4, at = attrs;

		at |= (i % 3 ? 0 : ad & (ad - 1)) | (i % 5 ? 0 : ad & ~(ad - 1));
		if (i == bad && how == 0)
			at &= ~pgt_w_bit(env->cfg);
		if (i == bad && how == 1)
			h += PGT_MB2;
		if (i == bad && how == 2)
			continue;
		assert_int_equal(pgt_do_map(env, va + (uint64_t)i * PGT_KB4, h,
					    PGT_KB4, at), 0);
	}
}

void test_merge(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t b = boundary(c), a = rw_attrs(c), ad = pgt_ad_bits(c);
	struct pgt_env env;
	unsigned lvl;

	if (c->max_leaf < 2)
		skip();
	env_small(&env, c, 5);
	map_512(&env, b - PGT_MB2, 0x800000, a, -1, 0);
	assert_int_equal(pgt_do_merge(&env, b - PGT_MB2, 2), 0);
	assert_int_equal(lookup_raw(&env, b - PGT_KB4, &lvl),
			 pgt_make_leaf(c, 0x800000, a | ad, 2));
	assert_int_equal(lvl, 2);
	for (int how = 0; how < 3; how++) {
		map_512(&env, b, 0xa00000, a, 17 + 200 * how, how);
		assert_int_equal(pgt_do_merge(&env, b, 2), VMMU_ENOENT);
		assert_int_equal(pgt_do_unmap(&env, b, PGT_MB2), 0);
	}
	/* Output not aligned to 2 MiB. */
	map_512(&env, b, 0xa01000, a, -1, 0);
	assert_int_equal(pgt_do_merge(&env, b, 2), VMMU_ENOENT);
	pgt_env_fini(&env);
}

void test_auto_merge(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t b = boundary(c), a = rw_attrs(c);
	struct pgt_env env;
	unsigned lvl;

	if (c->max_leaf < 2)
		skip();
	env_small(&env, c, 6);
	env.pt.auto_merge = true;
	map_512(&env, b, 0xc00000, a, -1, 0);
	lookup_raw(&env, b + 0x1000, &lvl);
	assert_int_equal(lvl, 2);
	assert_int_equal(env.pt.stats.merges, 1);
	/* Protecting one page splits; undoing it merges again. */
	assert_int_equal(pgt_do_update(&env, b + 0x7000, PGT_KB4, pgt_w_bit(c), 0), 0);
	lookup_raw(&env, b + 0x7000, &lvl);
	assert_int_equal(lvl, 1);
	assert_int_equal(pgt_do_update(&env, b + 0x7000, PGT_KB4, 0, pgt_w_bit(c)), 0);
	lookup_raw(&env, b + 0x7000, &lvl);
	assert_int_equal(lvl, 2);
	assert_int_equal(env.pt.stats.merges, 2);
	pgt_env_fini(&env);
}

/* A leaf straddling the range is not split: all of it loses the bits. */
void test_tac_straddle(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t b = boundary(c), ad = pgt_ad_bits(c), d = c->ept ? PE_D : PX_D;
	struct pgt_env env;
	unsigned lvl;

	env_small(&env, c, 7);
	assert_int_equal(pgt_do_map(&env, b, 0xe00000, PGT_MB2, rw_attrs(c) | ad), 0);
	assert_int_equal(pgt_do_test_and_clear(&env, b + PGT_KB4, PGT_KB4, d), 0);
	lookup_raw(&env, b + 0x100000, &lvl);
	assert_int_equal(lvl, c->max_leaf >= 2 ? 2 : 1);
	assert_int_equal(pgt_do_test_and_clear(&env, b, PGT_MB2, d), 0);
	assert_int_equal(pgt_do_test_and_clear(&env, b - PGT_MB2, 4 * PGT_MB2, ad), 0);
	assert_int_equal(pgt_do_for_each(&env, b - PGT_MB2, 4 * PGT_MB2, 0), 0);
	assert_int_equal(pgt_do_map(&env, b - PGT_MB2, 0x100000, 2 * PGT_KB4,
				    rw_attrs(c)), 0);
	assert_int_equal(pgt_do_for_each(&env, b - PGT_MB2, 4 * PGT_MB2, 2), 1002);
	pgt_env_fini(&env);
}

/*
 * An update that changes no bit of a large leaf straddling its range must
 * leave the leaf whole: splitting it costs a table page and the large
 * page's TLB reach for nothing (a write-protect pass over pages already
 * read-only, say).
 */
void test_update_noop(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t b = boundary(c), a = rw_attrs(c) & ~pgt_w_bit(c);
	struct pgt_env env;
	uint64_t tables;
	unsigned lvl;

	if (c->max_leaf < 2)
		skip();
	env_small(&env, c, 9);
	assert_int_equal(pgt_do_map(&env, b, 0x400000, PGT_MB2, a), 0);
	tables = env.pt.table_pages;
	assert_int_equal(pgt_do_update(&env, b + PGT_KB4, PGT_KB4, pgt_w_bit(c), 0), 0);
	lookup_raw(&env, b + PGT_KB4, &lvl);
	PGT_CHECK(&env, lvl == 2 && env.pt.table_pages == tables &&
		  env.pt.stats.splits == 0,
		  "a no-op update of one page split the 2 MiB leaf (level %u, "
		  "table_pages %llu -> %llu, stats.splits %llu)", lvl,
		  (unsigned long long)tables,
		  (unsigned long long)env.pt.table_pages,
		  (unsigned long long)env.pt.stats.splits);
	pgt_env_fini(&env);
}

/* Whether on_leaf was told about the leaf at (addr, level) with old. */
static bool reported(const struct pgt_env *env, uint64_t addr, unsigned level,
		     uint64_t old)
{
	for (size_t i = 0; i < env->onleaf_calls; i++)
		if (env->ol[i].addr == addr && env->ol[i].level == level &&
		    env->ol[i].old == old)
			return true;
	return false;
}

/*
 * on_leaf is "told every leaf the operation changed": a large leaf that a
 * split (explicit, or inside update / unmap) replaces by a table is such a
 * leaf, as is the leaf a merge writes.
 */
void test_on_leaf_split(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t b = boundary(c), a = rw_attrs(c);
	uint64_t leaf = pgt_make_leaf(c, 0x400000, a, 2);
	struct pgt_env env;

	if (c->max_leaf < 2)
		skip();
	env_small(&env, c, 10);
	assert_int_equal(pgt_do_map(&env, b, 0x400000, PGT_MB2, a), 0);
	assert_int_equal(pgt_do_split(&env, b, 2), 0);
	PGT_CHECK(&env, reported(&env, b, 2, leaf), "split_large_leaf did not "
		  "report the 2 MiB leaf %#llx it replaced (%llu on_leaf calls)",
		  (unsigned long long)leaf,
		  (unsigned long long)env.onleaf_calls);
	assert_int_equal(pgt_do_merge(&env, b, 2), 0);
	PGT_CHECK(&env, env.onleaf_calls >= 1, "merge reported nothing");
	assert_int_equal(pgt_do_update(&env, b + PGT_KB4, PGT_KB4, pgt_w_bit(c), 0), 0);
	PGT_CHECK(&env, reported(&env, b, 2, leaf), "update did not report "
		  "the 2 MiB leaf %#llx it split", (unsigned long long)leaf);
	pgt_env_fini(&env);
}
