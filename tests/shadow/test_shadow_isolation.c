/* SPDX-License-Identifier: MIT */
/*
 * Isolation: a guest that writes arbitrary bytes into its page tables
 * (self-maps, loops, entries at MMIO, holes and frames beyond its RAM,
 * reserved bits) and flips its paging mode at random must never get a
 * shadow leaf for a host page the VM does not own (a second VM shares the
 * host arena), never a writable leaf for one of its page-table frames
 * (vmmu_shadow_check), never crash or kill the VM; and every access still
 * gives the reference walker's outcome on the same memory. The harness
 * and the checks are shared with fuzz_shadow_isolation.c (iso_env.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/error.h"
#include "iso_env.h"

#define IS_RAM     (4ULL << 20)
#define IS_STEPS   20000

static uint64_t rs = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_next(void *ctx)
{
	(void)ctx;
	return rnd();
}

static void one_access(struct iso_env *s)
{
	struct vmmu_access acc = { mk_gva((rnd() & 0xc060301ff8ULL) |
				   (rnd() & 1 ? 0xffff800000000000ULL : 0)),
				   (enum vmmu_access_kind)(rnd() % 3),
				   (uint8_t)(rnd() & 1 ? 3 : 0), false };

	if (iso_access(s, &acc, rnd()) < 0)
		fail_msg("access at 0x%llx: %s", (unsigned long long)acc.gva.v,
			 s->msg);
}

static void test_hostile_tables(void **state)
{
	static struct iso_env s;

	(void)state;
	assert_int_equal(iso_env_create(&s, IS_RAM, 64), 0);
	for (unsigned i = 0; i < ISO_NTAB * 512; i++) {
		uint64_t e = iso_hostile_entry(&s, rnd_next, NULL);

		assert_int_equal(vmmu_vm_write_gpa(s.vm, mk_gpa(ISO_TABLES + i * 8ULL),
						   &e, 8), 0);
	}
	if (iso_set_mode(&s, rnd()) < 0)
		fail_msg("%s", s.msg);
	for (unsigned step = 0; step < IS_STEPS; step++) {
		unsigned p = (unsigned)(rnd() % 100);

		if (p < 3) {
			if (iso_set_mode(&s, rnd()) < 0)
				fail_msg("%s", s.msg);
		} else if (p < 13) {
			uint64_t e = iso_hostile_entry(&s, rnd_next, NULL);
			uint64_t gpa = ISO_TABLES + (rnd() % (ISO_NTAB * 512)) * 8;

			assert_int_equal(vmmu_vm_write_gpa(s.vm, mk_gpa(gpa), &e, 8), 0);
		} else {
			one_access(&s);
		}
		if (step % 100 == 0 && iso_check(&s) < 0)
			fail_msg("step %u: %s", step, s.msg);
	}
	fprintf(stderr, "%u steps: %llu accesses checked (%llu done, %llu faults, "
		"%llu to the VMM), %llu leaves checked for ownership\n", IS_STEPS,
		(unsigned long long)s.checked, (unsigned long long)s.done,
		(unsigned long long)s.faults, (unsigned long long)s.vmm,
		(unsigned long long)s.leaves);
	iso_env_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
