/* SPDX-License-Identifier: MIT */
/*
 * The comparison alone, on hand-built emulator outcomes (no emulator
 * runs): the known difference "QEMU reads PAE PDPTEs per walk" excuses
 * exactly the accesses it explains, on QEMU only, and nothing else.
 *
 * The case: PAE, MAXPHYADDR 40, PDPT at CB_CASE_BASE. PDPTE0 has bit 40
 * set (reserved: MOV to CR3 #GPs, so vmmu returns #GP for every access);
 * PDPTE1 leads to a PD whose entry 1 maps a 2 MiB page. Under QEMU the
 * access through PDPTE1 works (A set on the PDE, bit 5 in the PDPTE), the
 * one through PDPTE0 gives #PF(RSVD).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "conform.h"

#define PDPT    CB_CASE_BASE
#define PD      (CB_CASE_BASE + 0x1000)
#define PAGE    (CB_CASE_BASE + 0x200000)

static void build(struct conf_case *c, struct conf_outcome *o,
		  struct conf_cpu *cpu, bool qemu)
{
	memset(c, 0, sizeof(*c));
	memset(o, 0, sizeof(*o));
	memset(cpu, 0, sizeof(*cpu));
	cpu->maxphyaddr = 40;
	cpu->a_on_fault = qemu;
	cpu->pdpte_per_walk = qemu;
	cpu->pkru_by_cpl = cpu->unbacked_ones = !qemu;
	cpu->gbpages = true;
	c->mode = CONF_PAE;
	c->cr0 = 0x80000011;
	c->cr3 = PDPT;
	c->cr4 = 0x20;
	c->rflags = 0x2;
	c->nwords = 3;
	c->words[0] = (struct cb_word){ PDPT, (1ULL << 40) | PD | CB_PTE_P };
	c->words[1] = (struct cb_word){ PDPT + 8, PD | CB_PTE_P };
	c->words[2] = (struct cb_word){ PD + 8, PAGE | 0x87 };  /* P W U PS */
	c->naccesses = 2;
	c->acc[0] = (struct cb_access){ .gva = 0x40200010, .kind = CB_READ };
	c->acc[1] = (struct cb_access){ .gva = 0x00200010, .kind = CB_READ };
	/* What QEMU reports. */
	o->complete = true;
	o->nresults = 2;
	o->res[0] = (struct conf_result){ .ok = true, .value = 0 };
	o->res[1] = (struct conf_result){ .vector = 14, .error_code = 0x9,
					  .cr2 = 0x00200010 };
	o->final[0] = c->words[0].value;
	o->final[1] = c->words[1].value | CB_PTE_A;
	o->final[2] = c->words[2].value | CB_PTE_A;
}

struct fixture {
	struct conf_case c;
	struct conf_outcome o;
	struct conf_cpu cpu;
	struct conf_stats st;
};

static struct fixture f;

static enum conf_class compare(void)
{
	memset(&f.st, 0, sizeof(f.st));
	return conf_compare(&f.c, &f.o, &f.cpu, &f.st, NULL);
}

static void test_qemu_pdpte_explained(void **state)
{
	(void)state;
	build(&f.c, &f.o, &f.cpu, true);
	assert_int_not_equal(compare(), CONF_DISAGREE);
	assert_int_equal(f.st.known_events[CONF_KD_QEMU_PAE_PDPTE], 2);
	assert_int_equal(f.st.known_events[CONF_KD_QEMU_PDPTE_A], 1);
	assert_int_equal(f.st.known_events[CONF_DISAGREE], 0);
	/* RSVD without P, as QEMU also reports it, is the same behaviour. */
	f.o.res[1].error_code = 0x8;
	assert_int_not_equal(compare(), CONF_DISAGREE);
}

/* An access result the per-walk PDPTEs do not explain is a disagreement. */
static void test_qemu_pdpte_wrong_value(void **state)
{
	(void)state;
	build(&f.c, &f.o, &f.cpu, true);
	f.o.res[0].value = 0x1234;
	assert_int_equal(compare(), CONF_DISAGREE);
	assert_true(f.st.known_events[CONF_DISAGREE] >= 1);
	build(&f.c, &f.o, &f.cpu, true);
	f.o.res[1].error_code = 0x1;      /* not a reserved-bit fault */
	assert_int_equal(compare(), CONF_DISAGREE);
}

/* A word the explained accesses did not change (D set) is not excused. */
static void test_qemu_pdpte_wrong_word(void **state)
{
	(void)state;
	build(&f.c, &f.o, &f.cpu, true);
	f.o.final[2] |= CB_PTE_D;
	assert_int_equal(compare(), CONF_DISAGREE);
}

/* Not on Bochs, which behaves like vmmu: QEMU's outcome disagrees there. */
static void test_not_on_bochs(void **state)
{
	(void)state;
	build(&f.c, &f.o, &f.cpu, false);
	assert_int_equal(compare(), CONF_DISAGREE);
	assert_int_equal(f.st.known_events[CONF_KD_QEMU_PAE_PDPTE], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_pdpte_explained),
		cmocka_unit_test(test_qemu_pdpte_wrong_value),
		cmocka_unit_test(test_qemu_pdpte_wrong_word),
		cmocka_unit_test(test_not_on_bochs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
