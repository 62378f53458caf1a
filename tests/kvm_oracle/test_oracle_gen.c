/* SPDX-License-Identifier: MIT */
/*
 * The case generator alone (no KVM): the mix docs/kvm-oracle.md describes
 * holds for every MAXPHYADDR KVM may report, and protection keys come in
 * only when asked for, one access per case.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "oracle.h"

#define NCASES 40000

struct mix {
	unsigned no_memory, beyond_maxphy, pke, multi_pke, key0_denied;
};

static struct mix generate(unsigned maxphyaddr, bool pku)
{
	const struct orc_gen_opts o = { maxphyaddr, pku };
	struct orc_rng r = { 1 };
	struct mix m = { 0 };
	static struct orc_case c;

	for (unsigned n = 0; n < NCASES; n++) {
		orc_gen_case(&r, &c, &o);
		m.no_memory += c.frame_gpa >= ORC_MEM_SIZE;
		m.beyond_maxphy += (c.frame_gpa >> maxphyaddr) != 0;
		if (c.cr4 & X86_CR4_PKE) {
			m.pke++;
			m.multi_pke += c.naccess != 1 || c.access[0].desc_write;
			m.key0_denied += (c.pkru & 3) != 0;
		}
	}
	return m;
}

/* A quarter of the frames have no memory, and all lie below 2^MAXPHYADDR. */
static void check_mix(unsigned maxphyaddr)
{
	struct mix m = generate(maxphyaddr, false);

	printf("MAXPHYADDR %u: %u of %u frames without memory, %u beyond "
	       "MAXPHYADDR\n", maxphyaddr, m.no_memory, NCASES,
	       m.beyond_maxphy);
	assert_int_equal(m.beyond_maxphy, 0);
	assert_true(m.no_memory > NCASES / 5 && m.no_memory < NCASES * 3 / 10);
	assert_int_equal(m.pke, 0);
}

static void test_mix_36(void **state) { (void)state; check_mix(36); }
static void test_mix_40(void **state) { (void)state; check_mix(40); }
static void test_mix_46(void **state) { (void)state; check_mix(46); }
static void test_mix_48(void **state) { (void)state; check_mix(48); }
static void test_mix_52(void **state) { (void)state; check_mix(52); }

/*
 * Reserved address bits start at MAXPHYADDR, whatever it is: with 46,
 * bits 47:46 (frame bits at 48, never set by the old generator) must be
 * among them. Frames lie below 2^46, so those bits are only ever reserved.
 */
static void test_reserved_bits_follow_maxphyaddr(void **state)
{
	const struct orc_gen_opts o = { 46, false };
	struct orc_rng r = { 7 };
	static struct orc_case c;
	unsigned low = 0;

	(void)state;
	for (unsigned n = 0; n < NCASES; n++) {
		orc_gen_case(&r, &c, &o);
		for (unsigned i = 0; i < c.levels; i++)
			low += (c.entry[i] & 0x0000c00000000000ULL) != 0;
	}
	printf("%u entries with reserved address bit 46 or 47\n", low);
	assert_true(low > 0);
}

static void test_pku_cases(void **state)
{
	struct mix m = generate(48, true);

	(void)state;
	printf("%u of %u cases with CR4.PKE\n", m.pke, NCASES);
	assert_true(m.pke > NCASES * 2 / 5 && m.pke < NCASES * 3 / 5);
	assert_int_equal(m.multi_pke, 0);       /* one access per case */
	assert_int_equal(m.key0_denied, 0);     /* the harness's key */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mix_36),
		cmocka_unit_test(test_mix_40),
		cmocka_unit_test(test_mix_46),
		cmocka_unit_test(test_mix_48),
		cmocka_unit_test(test_mix_52),
		cmocka_unit_test(test_reserved_bits_follow_maxphyaddr),
		cmocka_unit_test(test_pku_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
