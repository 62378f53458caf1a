/* SPDX-License-Identifier: MIT */
/*
 * The shadow backend: coherence against the reference walker under a
 * random guest OS in every paging mode (os_sim.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "os_sim.h"
#include "shadow-fallback/shadow.h"

static uint64_t steps = 3000;

static void run_cfg(const struct osm_cfg *cfg)
{
	struct osm *os;
	const struct osm_stats *s;

	assert_int_equal(osm_create(cfg, &os), 0);
	assert_true(osm_run(os, steps));
	s = osm_stats(os);
	fprintf(stderr, "mode %d seed %llu: %llu steps, %llu accesses (%llu done, "
		"%llu faults, %llu to the VMM, %llu emulated), %llu maps, %llu forks, "
		"%llu COW, %llu switches, %llu checks\n", cfg->mode,
		(unsigned long long)cfg->seed, (unsigned long long)s->steps,
		(unsigned long long)s->accesses, (unsigned long long)s->done,
		(unsigned long long)s->faults, (unsigned long long)s->vmm,
		(unsigned long long)s->emulated, (unsigned long long)s->maps,
		(unsigned long long)s->forks, (unsigned long long)s->cow,
		(unsigned long long)s->switches, (unsigned long long)s->checks);
	{
		struct vmmu_shadow_stats ss;

		assert_int_equal(vmmu_shadow_stats(osm_vm(os), &ss), 0);
		fprintf(stderr, "  shadow: %llu fills, %llu guest faults, %llu PT "
			"writes emulated, %llu other, %llu revalidated, %llu "
			"write-protected, %llu unshadowed, %llu recycled, %llu "
			"created, %llu pages in use of %llu\n",
			(unsigned long long)ss.fills, (unsigned long long)ss.guest_faults,
			(unsigned long long)ss.emulated_writes,
			(unsigned long long)ss.other_emulated,
			(unsigned long long)ss.revalidated,
			(unsigned long long)ss.write_protected,
			(unsigned long long)ss.unshadowed, (unsigned long long)ss.recycled,
			(unsigned long long)ss.shadows_created,
			(unsigned long long)ss.pages_in_use,
			(unsigned long long)ss.pool_pages);
		fprintf(stderr, "  out of sync: %llu marked, %llu resyncs, %llu "
			"entries re-propagated\n",
			(unsigned long long)ss.oos_marked,
			(unsigned long long)ss.oos_resyncs,
			(unsigned long long)ss.oos_entries);
		/* The OOS configurations must exercise the path they test. */
		if (cfg->oos) {
			assert_true(ss.oos_marked > 0);
			assert_true(ss.oos_resyncs > 0);
			assert_true(ss.oos_entries > 0);
		} else {
			assert_int_equal(ss.oos_marked, 0);
		}
		fprintf(stderr, "  prefetch %u: %llu leaves prefetched\n",
			cfg->prefetch, (unsigned long long)ss.prefetched);
		if (cfg->prefetch)
			assert_true(ss.prefetched > 0);
		else
			assert_int_equal(ss.prefetched, 0);
	}
	osm_destroy(os);
}

static void test_4level(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_4LEVEL, .nxe = true, .ram = 16 << 20,
			     .seed = 1, .check_every = 200 };
	(void)state;
	run_cfg(&c);
}

static void test_4level_pcid_smap(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_4LEVEL, .nxe = true, .pcid = true,
			     .smep_smap = true, .kernel_1g = true, .ram = 16 << 20,
			     .seed = 2, .check_every = 200 };
	(void)state;
	run_cfg(&c);
}

static void test_5level(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_5LEVEL, .nxe = true, .pcid = true,
			     .ram = 16 << 20, .seed = 3, .check_every = 200 };
	(void)state;
	run_cfg(&c);
}

static void test_pae(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_PAE, .nxe = true, .ram = 16 << 20,
			     .seed = 4, .check_every = 200 };
	(void)state;
	run_cfg(&c);
}

static void test_2level_pse(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_2LEVEL, .pse = true, .ram = 16 << 20,
			     .seed = 5, .check_every = 200 };
	(void)state;
	run_cfg(&c);
}

static void test_2level(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_2LEVEL, .wp0 = true, .ram = 16 << 20,
			     .seed = 6, .check_every = 200 };
	(void)state;
	run_cfg(&c);
}

/* Out-of-sync L1s: checked access by access and every 50 steps. */
static void test_oos_4level(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_4LEVEL, .nxe = true, .pcid = true,
			     .ram = 16 << 20, .seed = 7, .check_every = 50,
			     .oos = true };
	(void)state;
	run_cfg(&c);
}

static void test_oos_pae(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_PAE, .nxe = true, .ram = 16 << 20,
			     .seed = 8, .check_every = 50, .oos = true };
	(void)state;
	run_cfg(&c);
}

static void test_oos_2level(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_2LEVEL, .pse = true, .ram = 16 << 20,
			     .seed = 9, .check_every = 50, .oos = true };
	(void)state;
	run_cfg(&c);
}

/* Prefetch of neighbouring leaves on a fill, with and without OOS. */
static void test_prefetch_4level(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_4LEVEL, .nxe = true, .pcid = true,
			     .ram = 16 << 20, .seed = 10, .check_every = 50,
			     .prefetch = 8 };
	(void)state;
	run_cfg(&c);
}

static void test_prefetch_oos_pae(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_PAE, .nxe = true, .ram = 16 << 20,
			     .seed = 11, .check_every = 50, .oos = true,
			     .prefetch = 16 };
	(void)state;
	run_cfg(&c);
}

static void test_prefetch_2level(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_2LEVEL, .pse = true, .ram = 16 << 20,
			     .seed = 12, .check_every = 50, .prefetch = 512 };
	(void)state;
	run_cfg(&c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefetch_4level),
		cmocka_unit_test(test_prefetch_oos_pae),
		cmocka_unit_test(test_prefetch_2level),
		cmocka_unit_test(test_4level),
		cmocka_unit_test(test_4level_pcid_smap),
		cmocka_unit_test(test_5level),
		cmocka_unit_test(test_pae),
		cmocka_unit_test(test_2level_pse),
		cmocka_unit_test(test_2level),
		cmocka_unit_test(test_oos_4level),
		cmocka_unit_test(test_oos_pae),
		cmocka_unit_test(test_oos_2level),
	};

	if (argc > 1)
		steps = strtoull(argv[1], NULL, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
