/* SPDX-License-Identifier: MIT */
/*
 * The KVM oracle as a ctest: a hand-made case whose outcome the SDM fixes
 * (so the harness itself is checked), proof that the comparison catches a
 * difference, and a deterministic random sample per CPU vendor that must
 * agree with vmmu_walk() on every access. Skips (77) without /dev/kvm.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "oracle_cmp.h"
#include "oracle_replay.h"

#define T_CR0 0x80010033ULL     /* PG, WP, NE, ET, MP, PE */

/* gva 0x8000000010 through PML4[1], PDPT[0], PD[0], PT[0] to a read-only
 * user page at 4 MiB. */
static void handmade_case(struct orc_case *c)
{
	memset(c, 0, sizeof(*c));
	c->cr0 = T_CR0;
	c->cr4 = X86_CR4_PAE;
	c->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	c->levels = 4;
	c->frame_gpa = ORC_FRAME4K_BASE;
	c->gpa[0] = ORC_PML4_GPA + 8;
	c->gpa[1] = ORC_TPDPT_GPA;
	c->gpa[2] = ORC_TPD_GPA;
	c->gpa[3] = ORC_TPT_GPA;
	c->entry[0] = ORC_TPDPT_GPA | X86_PTE_P | X86_PTE_RW | X86_PTE_US;
	c->entry[1] = ORC_TPD_GPA | X86_PTE_P | X86_PTE_RW | X86_PTE_US;
	c->entry[2] = ORC_TPT_GPA | X86_PTE_P | X86_PTE_RW | X86_PTE_US;
	c->entry[3] = ORC_FRAME4K_BASE | X86_PTE_P | X86_PTE_US;
	c->naccess = 3;
	for (unsigned i = 0; i < 3; i++)
		c->access[i].gva = 0x8000000010ULL;
	c->access[0].kind = VMMU_ACCESS_WRITE;  /* user write, read-only */
	c->access[0].cpl = 3;
	c->access[1].kind = VMMU_ACCESS_READ;   /* user read: allowed */
	c->access[1].cpl = 3;
	c->access[2].kind = VMMU_ACCESS_WRITE;  /* supervisor write, WP=1 */
	c->access[2].cpl = 0;
}

static void run_checked(struct orc_vm *vm, const struct orc_case *c, unsigned i,
			struct orc_outcome *o, struct orc_tables *pre)
{
	struct orc_tables after, mine;
	struct orc_verdict v;

	assert_int_equal(orc_vm_run_access(vm, c, i, pre, o), 0);
	assert_false(o->harness_error);
	orc_vm_get_tables(vm, &after);
	mine = *pre;
	assert_int_equal(orc_check_access(vm, c, i, &mine, &after, o, &v), 0);
	if (!v.agree)
		fail_msg("access %u: %s", i, v.why);
}

/* SDM Vol. 3A 4.6.1 and 4.7 fix these outcomes; KVM and vmmu must agree. */
static void test_handmade_case(void **state)
{
	struct orc_vm *vm = *state;
	struct orc_outcome o;
	struct orc_tables pre, after;
	struct orc_case c;
	uint64_t e;

	handmade_case(&c);
	run_checked(vm, &c, 0, &o, &pre);
	assert_false(o.ok);
	assert_int_equal(o.vector, X86_VEC_PF);
	assert_int_equal(o.error_code, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U);
	assert_int_equal(o.cr2, 0x8000000010ULL);

	run_checked(vm, &c, 1, &o, &pre);
	assert_true(o.ok);
	assert_true(o.gpa_known);
	assert_int_equal(o.gpa, ORC_FRAME4K_BASE + 0x10);
	orc_vm_get_tables(vm, &after);
	memcpy(&e, after.page[3], 8);   /* PT[0]: A set, D still clear */
	assert_int_equal(e, ORC_FRAME4K_BASE | X86_PTE_P | X86_PTE_US | X86_PTE_A);

	run_checked(vm, &c, 2, &o, &pre);
	assert_false(o.ok);
	assert_int_equal(o.error_code, X86_PFEC_P | X86_PFEC_W);
}

/* The comparison must fail when vmmu sees different tables. */
static void test_difference_is_caught(void **state)
{
	struct orc_vm *vm = *state;
	struct orc_tables pre, after, copy;
	struct orc_outcome o;
	struct orc_verdict v;
	struct orc_case c;
	uint64_t e;

	handmade_case(&c);
	assert_int_equal(orc_vm_run_access(vm, &c, 0, &pre, &o), 0);
	assert_int_equal(orc_vm_run_access(vm, &c, 1, &pre, &o), 0);
	assert_true(o.ok);
	orc_vm_get_tables(vm, &after);
	copy = pre;
	assert_int_equal(orc_check_access(vm, &c, 1, &copy, &after, &o, &v), 0);
	if (!v.agree)
		fail_msg("%s", v.why);
	/* Without U in the PTE the user read faults for vmmu only. */
	copy = pre;
	memcpy(&e, copy.page[3], 8);
	e &= ~X86_PTE_US;
	memcpy(copy.page[3], &e, 8);
	assert_int_equal(orc_check_access(vm, &c, 1, &copy, &after, &o, &v), 0);
	assert_false(v.agree);
	/* With D already set the read still agrees but the bytes do not. */
	copy = pre;
	memcpy(&e, copy.page[3], 8);
	e |= X86_PTE_D;
	memcpy(copy.page[3], &e, 8);
	assert_int_equal(orc_check_access(vm, &c, 1, &copy, &after, &o, &v), 0);
	assert_false(v.agree);
	assert_non_null(strstr(v.why, "entry at gpa"));
}

/*
 * The run loop must report disagreements: tell the walker the CPU is AMD
 * while KVM's guest has the host's (Intel) CPUID, so PML4E bit 8 differs.
 */
static void test_run_reports_disagreements(void **state)
{
	struct orc_vm *vm = *state;
	struct orc_run_opts opts = { .seed = 3, .cases = 1500, .max_dumps = 2 };
	struct orc_stats st;
	json_t *d;

	if (vm->amd) {
		/* The test flips the vendor to AMD to force disagreements. */
		printf("skipped: the guest vendor is already AMD on this host, "
		       "so a vendor flip cannot provoke disagreements\n");
		skip();
	}
	opts.dumps = json_array();
	vm->amd = true;
	assert_int_equal(orc_run(vm, &opts, &st), 0);
	assert_true(st.disagree > 0);
	assert_int_equal(json_array_size(opts.dumps), 2);
	d = json_array_get(opts.dumps, 0);
	assert_non_null(json_object_get(json_object_get(d, "case"), "memory"));
	assert_non_null(json_object_get(json_object_get(d, "kvm"), "results"));
	assert_non_null(json_object_get(json_object_get(d, "vmmu"), "results"));
	json_decref(opts.dumps);
}

static void check_sample(struct orc_vm *vm, uint64_t seed, uint64_t cases)
{
	struct orc_run_opts opts = { .seed = seed, .cases = cases,
				     .log = stderr };
	struct orc_stats st;

	assert_int_equal(orc_run(vm, &opts, &st), 0);
	printf("seed %llu: %llu accesses, %llu completed, %llu #PF, %llu other, "
	       "%llu A/D updates, %llu disagreements\n",
	       (unsigned long long)seed, (unsigned long long)st.accesses,
	       (unsigned long long)st.completed,
	       (unsigned long long)(st.pf_not_present + st.pf_protection +
				    st.pf_reserved),
	       (unsigned long long)st.other_vector,
	       (unsigned long long)st.ad_updates,
	       (unsigned long long)st.disagree);
	assert_int_equal(st.cases, cases);
	assert_int_equal(st.harness_errors, 0);
	assert_int_equal(st.disagree, 0);
	assert_int_equal(st.agree, st.accesses);
	/* The sample reaches every kind of outcome. */
	assert_true(st.completed > 0 && st.pf_not_present > 0);
	assert_true(st.pf_protection > 0 && st.pf_reserved > 0);
	assert_true(st.other_vector > 0 && st.implicit > 0 && st.ad_updates > 0);
	/* Frames without memory are MMIO exits, not reserved-bit faults. */
	assert_true(st.mmio > 0);
	/* Protection keys wherever this KVM keeps CR4.PKE and PKRU. */
	if (vm->pku)
		assert_true(st.pke_accesses > 0 && st.pf_pk > 0);
	else
		printf("protection keys not run: %s\n", vm->pku_note);
}

static void test_sample(void **state)
{
	check_sample(*state, 1, 3000);
}

static void test_sample_amd(void **state)
{
	check_sample(*state, 2, 3000);
}

/*
 * A `vmmu walk` case on KVM (kvm_oracle --case): user read of a 4 KiB page,
 * a 2 MiB page, a not-present PDE, a user write to a read-only page; the
 * translated pages have no memory, so KVM shows their gpa (SDM 4.5, 4.7).
 */
static void test_replay_case(void **state)
{
	static const char text[] =
		"{\"paging\": {\"cr0\": \"0x80010011\", \"cr3\": \"0x1000\","
		" \"cr4\": \"0x20\", \"efer\": \"0x500\", \"maxphyaddr\": 48,"
		" \"gbpages\": false},"
		" \"memory\": [{\"gpa\": \"0x1000\", \"qwords\": [\"0x2007\"]},"
		"  {\"gpa\": \"0x2000\", \"qwords\": [\"0x3007\"]},"
		"  {\"gpa\": \"0x3010\", \"qwords\": [\"0x4007\", \"0x200087\"]},"
		"  {\"gpa\": \"0x4000\", \"qwords\": [\"0x5007\", \"0x6005\"]}],"
		" \"accesses\": [{\"gva\": \"0x400128\", \"access\": \"read\", \"cpl\": 3},"
		"  {\"gva\": \"0x6abcd8\", \"access\": \"write\", \"cpl\": 3},"
		"  {\"gva\": \"0x800000\", \"access\": \"read\", \"cpl\": 3},"
		"  {\"gva\": \"0x401008\", \"access\": \"write\", \"cpl\": 3}]}";
	json_t *c = json_loads(text, 0, NULL), *out, *r;
	char err[256] = "";
	int status = -1;

	(void)state;
	assert_non_null(c);
	out = orc_replay_case(c, &status, err);
	if (status == 77)
		skip();
	assert_int_equal(status, 0);
	r = json_object_get(out, "results");
	assert_int_equal(json_array_size(r), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0),
						"gpa")), "0x5128");
	assert_string_equal(json_string_value(json_object_get(json_array_get(r, 1),
						"gpa")), "0x2abcd8");
	assert_string_equal(json_string_value(json_object_get(json_array_get(r, 2),
						"error_code")), "0x4");
	assert_string_equal(json_string_value(json_object_get(json_array_get(r, 3),
						"error_code")), "0x7");
	/* A on PML4E, PDPTE, PDE, PTE; A and D on the 2 MiB PDE. */
	assert_int_equal(json_array_size(json_object_get(out, "memory_writes")), 5);
	json_decref(out);
	json_decref(c);
}

static int open_vendor(void **state, enum orc_vendor vendor)
{
	struct orc_vm *vm = calloc(1, sizeof(*vm));
	char why[160];

	if (!vm || orc_vm_open(vm, vendor, why, sizeof(why)) < 0) {
		free(vm);
		return -1;
	}
	*state = vm;
	return 0;
}

static int open_host(void **state) { return open_vendor(state, ORC_VENDOR_HOST); }
static int open_amd(void **state) { return open_vendor(state, ORC_VENDOR_AMD); }

static int close_vm(void **state)
{
	orc_vm_close(*state);
	free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handmade_case, open_host, close_vm),
		cmocka_unit_test_setup_teardown(test_difference_is_caught, open_host, close_vm),
		cmocka_unit_test_setup_teardown(test_sample, open_host, close_vm),
		cmocka_unit_test(test_replay_case),
		cmocka_unit_test_setup_teardown(test_run_reports_disagreements,
						open_host, close_vm),
		cmocka_unit_test_setup_teardown(test_sample_amd, open_amd, close_vm),
	};
	struct orc_vm probe;
	char why[160];

	if (orc_vm_open(&probe, ORC_VENDOR_HOST, why, sizeof(why)) < 0) {
		printf("SKIP: the KVM oracle needs a usable /dev/kvm (%s)\n", why);
		return 77;
	}
	orc_vm_close(&probe);
	return cmocka_run_group_tests_name("kvm_oracle", tests, NULL, NULL);
}
