/* SPDX-License-Identifier: MIT */
/*
 * The page-table engine (core/pgtable.h) under the EPT and x86/NPT formats,
 * 4 and 5 levels, leaves up to 4 KiB, 2 MiB and 1 GiB, held against the
 * flat reference model of pgt.h. Every test here and in test_pgt_*.c runs
 * once per configuration (pgt_random.c: pgt_cfgs).
 *
 * PGT_SEED=n changes the seed base (default 20261201), PGT_RUNS=n the number
 * of seeds per configuration; a failure prints its configuration and seed.
 * PGT_FILTER=glob runs only the matching tests (e.g. 'ept5-1g/random*').
 * PGT_MUTATE=n makes one expectation deliberately wrong (see pgt.h users
 * of env->mutate) to show that the checks can fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pgt.h"
#include "test_pgt.h"

/* Small window: 8 MiB across a root-entry boundary; big: 2 GiB across it. */
void pgt_window(const struct pgt_cfg *c, bool big, uint64_t *base,
		uint64_t *pages)
{
	uint64_t b = 1ULL << (12 + 9 * (c->levels - 1));
	uint64_t half = big ? PGT_GB1 : 4 * 0x100000ULL;

	*base = b - half;
	*pages = 2 * half / PGT_KB4;
}

static unsigned runs(void)
{
	const char *s = getenv("PGT_RUNS");

	return s ? (unsigned)strtoul(s, NULL, 0) : 1;
}

static uint64_t seed_for(const struct pgt_cfg *c, unsigned run, unsigned kind)
{
	return pgt_seed_base() + 1000 * (uint64_t)(c - pgt_cfgs) + 10 * run + kind;
}

static void run_random(const struct pgt_cfg *c, bool big, bool merge,
		       unsigned kind, unsigned nops)
{
	for (unsigned run = 0; run < runs(); run++) {
		struct pgt_env env;
		uint64_t base, pages, seed = seed_for(c, run, kind);
		struct pgt_rng r = { seed };

		pgt_window(c, big, &base, &pages);
		pgt_env_init(&env, c, base, pages, seed);
		env.pt.auto_merge = merge;
		pgt_random_ops(&env, &r, nops, big);
		pgt_env_fini(&env);
	}
}

static void test_random_small(void **state)
{
	run_random(*state, false, false, 0, 300);
}

static void test_random_small_automerge(void **state)
{
	run_random(*state, false, true, 1, 300);
}

/* Windows at the bottom (address 0) and the top of the address space. */
static void test_random_edges(void **state)
{
	const struct pgt_cfg *c = *state;
	uint64_t space = 1ULL << (12 + 9 * c->levels), pages = 2048;

	for (unsigned run = 0; run < runs(); run++)
		for (unsigned top = 0; top < 2; top++) {
			struct pgt_env env;
			uint64_t seed = seed_for(c, run, 3 + top);
			struct pgt_rng r = { seed };

			pgt_env_init(&env, c, top ? space - pages * PGT_KB4 : 0,
				     pages, seed);
			env.pt.auto_merge = top;
			pgt_random_ops(&env, &r, 150, false);
			pgt_env_fini(&env);
		}
}

static void test_random_big(void **state)
{
	run_random(*state, true, (pgt_seed_base() & 1) != 0, 2, 25);
}

struct named { const char *name; CMUnitTestFunction fn; };

static const struct named tests[] = {
	{ "exact_bits", test_exact_bits },
	{ "update_refused", test_update_refused },
	{ "update_noop", test_update_noop },
	{ "on_leaf_split", test_on_leaf_split },
	{ "bad_args", test_bad_args },
	{ "deferred_free", test_deferred_free },
	{ "merge", test_merge },
	{ "auto_merge", test_auto_merge },
	{ "test_and_clear", test_tac_straddle },
	{ "recalc_whole_space", test_recalc_whole_space },
	{ "recalc_split", test_recalc_split },
	{ "oom", test_oom },
	{ "random_small", test_random_small },
	{ "random_small_automerge", test_random_small_automerge },
	{ "random_edges", test_random_edges },
	{ "random_big", test_random_big },
};

int main(void)
{
	size_t nt = sizeof(tests) / sizeof(tests[0]), n = 0;
	struct CMUnitTest *list = calloc(nt * pgt_ncfgs, sizeof(*list));
	char (*names)[64] = calloc(nt * pgt_ncfgs, 64);
	int rc;

	if (!list || !names)
		return 1;
	if (getenv("PGT_FILTER"))       /* e.g. PGT_FILTER='npt4-*' */
		cmocka_set_test_filter(getenv("PGT_FILTER"));
	for (size_t c = 0; c < pgt_ncfgs; c++)
		for (size_t t = 0; t < nt; t++, n++) {
			snprintf(names[n], 64, "%s/%s", pgt_cfgs[c].name,
				 tests[t].name);
			list[n] = (struct CMUnitTest){ .name = names[n],
				.test_func = tests[t].fn,
				.initial_state = (void *)&pgt_cfgs[c] };
		}
	rc = _cmocka_run_group_tests("pgtable", list, n, NULL, NULL);
	free(list);
	free(names);
	return rc;
}
