/* SPDX-License-Identifier: MIT */
/*
 * The TLB model: what each architectural invalidation flushes and what it
 * keeps (a fixed set of probe entries under different VPIDs, PCIDs,
 * contexts, global bits and addresses; one expected set per operation,
 * with the SDM/APM rule it encodes), exact counters on hand-built
 * sequences, capacity and LRU, and configuration errors.
 */
#include "tlb_common.h"

#define X 0x0000123400200000ULL  /* 2 MiB aligned */
#define Y 0x0000555500000000ULL
#define Z 0x0000666600000000ULL
#define W 0x00007777aa000000ULL
#define G 0x0000000080000000ULL  /* a guest-physical address */

enum pkind { PT_TLB, PT_PWC, PT_GPA, PT_NPWC };

struct probe {
	char id;
	enum pkind kind;
	uint16_t vpid, pcid;
	uint8_t ctx;
	bool global;
	uint64_t addr, size;    /* fill at addr; TLB: page size */
	uint64_t look;          /* lookup address */
};

/* Current tag of every operation below: VPID 1, PCID 1, context 1. */
static const struct probe probes[] = {
	{ 'a', PT_TLB, 1, 1, 1, false, X, KiB4, X },
	{ 'b', PT_TLB, 1, 1, 1, true, Y, KiB4, Y },     /* global, this PCID */
	{ 'c', PT_TLB, 1, 2, 1, false, X, KiB4, X },    /* other PCID */
	{ 'd', PT_TLB, 1, 2, 2, true, X, KiB4, X },     /* global of PCID 2 */
	{ 'e', PT_TLB, 1, 1, 3, false, X, KiB4, X },    /* other EPTP */
	{ 'f', PT_TLB, 2, 1, 1, false, X, KiB4, X },    /* other VPID */
	{ 'g', PT_TLB, 2, 1, 1, true, Y, KiB4, Y },     /* its global */
	{ 'h', PT_TLB, 1, 1, 1, false, W, KiB4, W },    /* other page */
	{ 'i', PT_TLB, 0, 0, 0, false, X, KiB4, X },    /* VPID 0, no EPT */
	{ 'j', PT_TLB, 1, 1, 0, false, X, KiB4, X },    /* linear mapping */
	{ 'k', PT_TLB, 1, 1, 4, false, X, MiB2, X + 0x5000 }, /* 2 MiB over X */
	{ 'm', PT_PWC, 1, 1, 1, false, X, 0, X },       /* PDE cache over X */
	{ 'n', PT_PWC, 1, 1, 1, false, W, 0, W },       /* ... over W */
	{ 'o', PT_PWC, 1, 2, 1, false, X, 0, X },
	{ 'p', PT_PWC, 2, 1, 1, false, X, 0, X },
	{ 'q', PT_PWC, 1, 1, 2, false, X, 0, X },
	{ 'r', PT_GPA, 0, 0, 1, false, G, KiB4, G },
	{ 's', PT_GPA, 0, 0, 2, false, G, KiB4, G },
	{ 't', PT_GPA, 0, 0, 0, false, G, KiB4, G },
	{ 'u', PT_NPWC, 0, 0, 1, false, G, 0, G },
	{ 'v', PT_NPWC, 0, 0, 2, false, G, 0, G },
};
#define NPROBES (sizeof(probes) / sizeof(probes[0]))

static uint64_t probe_hpa(unsigned i)
{
	return 0x40000000ULL + (uint64_t)i * GiB1;
}

static void fill_probes(struct vmmu_tlb *t)
{
	unsigned i;

	for (i = 0; i < NPROBES; i++) {
		const struct probe *p = &probes[i];

		vmmu_tlb_set_tag(t, p->vpid, p->pcid, p->ctx);
		switch (p->kind) {
		case PT_TLB:
			fill_rw(t, p->addr, probe_hpa(i), p->size, p->global);
			break;
		case PT_PWC:
			assert_int_equal(vmmu_tlb_pwc_fill(t, VMMU_PAGING_4LEVEL,
				mk_gva(p->addr), 2, mk_gpa(probe_hpa(i)), 3), 0);
			break;
		case PT_GPA:
			assert_int_equal(vmmu_tlb_gpa_fill(t, mk_gpa(p->addr),
				mk_hpa(probe_hpa(i)), p->size, NRWX), 0);
			break;
		case PT_NPWC:
			assert_int_equal(vmmu_tlb_npwc_fill(t, mk_gpa(p->addr), 2,
				mk_hpa(probe_hpa(i)), NRWX), 0);
			break;
		}
	}
	vmmu_tlb_set_tag(t, 1, 1, 1);
}

static bool probe_present(struct vmmu_tlb *t, const struct vmmu_paging_state *ps,
			  unsigned i)
{
	const struct probe *p = &probes[i];
	struct vmmu_tlb_pwc_hit h;
	hpa_t hpa;
	uint64_t want = probe_hpa(i) + (p->look - p->addr);

	vmmu_tlb_set_tag(t, p->vpid, p->pcid, p->ctx);
	switch (p->kind) {
	case PT_TLB:
		return look(t, ps, p->look, VMMU_ACCESS_READ) == want;
	case PT_PWC:
		return vmmu_tlb_pwc_lookup(t, VMMU_PAGING_4LEVEL,
					   mk_gva(p->look), &h) == 1 &&
		       h.table == probe_hpa(i);
	case PT_GPA:
		return vmmu_tlb_gpa_lookup(t, mk_gpa(p->look), VMMU_ACCESS_READ,
					   &hpa) == VMMU_TLB_HIT &&
		       hpa.v == probe_hpa(i);
	default:
		return vmmu_tlb_npwc_lookup(t, 4, mk_gpa(p->look), &h) == 1 &&
		       h.table == probe_hpa(i);
	}
}

enum opk {
	OP_INVLPG, OP_INVPCID, OP_CR3, OP_CR0, OP_CR4, OP_INVEPT, OP_INVVPID,
	OP_SVM, OP_INVLPGA, OP_PF, OP_EPTV, OP_ALL,
};

struct scope_case {
	const char *rule;       /* the section the expectation comes from */
	enum opk op;
	unsigned type;
	uint64_t a, b;          /* operands */
	const char *flushed;    /* probe ids that must go; the rest must stay */
};

#define ALLPROBES "abcdefghijkmnopqrstuv"

static const struct scope_case cases[] = {
	{ "SDM 3A 4.10.4.1 INVLPG: page, current PCID, globals of any PCID, "
	  "every PWC entry of the PCID; SDM 3C 29.4.3.1: current VPID, all "
	  "EP4TAs", OP_INVLPG, 0, X, 0, "adejkmnq" },
	{ "INVPCID 0: the address's non-global mappings of the PCID",
	  OP_INVPCID, 0, 1, X, "aejkmq" },
	{ "INVPCID 0 for another PCID", OP_INVPCID, 0, 2, X, "co" },
	{ "INVPCID 1: all non-global mappings of the PCID", OP_INVPCID, 1, 1, 0,
	  "aehjkmnq" },
	{ "INVPCID 2: all mappings of all PCIDs incl. globals", OP_INVPCID, 2,
	  0, 0, "abcdehjkmnoq" },
	{ "INVPCID 3: all non-global mappings of all PCIDs", OP_INVPCID, 3, 0,
	  0, "acehjkmnoq" },
	{ "MOV CR3, PCIDE=1, bit 63=0: non-global of the new PCID", OP_CR3, 0,
	  0x5001, 1, "aehjkmnq" },
	{ "MOV CR3 to PCID 2", OP_CR3, 0, 0x5002, 1, "co" },
	{ "MOV CR3, PCIDE=1, bit 63=1: nothing", OP_CR3, 0,
	  0x8000000000005001ULL, 1, "" },
	{ "MOV CR0 clearing PG: all, all PCIDs", OP_CR0, 0,
	  X86_CR0_PG | X86_CR0_PE, X86_CR0_PE, "abcdehjkmnoq" },
	{ "MOV CR0 setting PG or changing WP: nothing", OP_CR0, 0, X86_CR0_PE,
	  X86_CR0_PG | X86_CR0_PE | X86_CR0_WP, "" },
	{ "MOV CR4 changing PGE: all, all PCIDs", OP_CR4, 0, X86_CR4_PAE,
	  X86_CR4_PAE | (1ULL << 7), "abcdehjkmnoq" },
	{ "MOV CR4 PCIDE 1->0: all, all PCIDs", OP_CR4, 0,
	  X86_CR4_PAE | X86_CR4_PCIDE, X86_CR4_PAE, "abcdehjkmnoq" },
	{ "MOV CR4 changing PAE: all of the current PCID", OP_CR4, 0,
	  X86_CR4_PAE, 0, "abehjkmnq" },
	{ "MOV CR4 SMEP 0->1: all of the current PCID", OP_CR4, 0, 0,
	  X86_CR4_SMEP, "abehjkmnq" },
	{ "MOV CR4 SMEP 1->0, SMAP, PKE, PCIDE 0->1: nothing", OP_CR4, 0,
	  X86_CR4_SMEP, X86_CR4_SMAP | X86_CR4_PKE | X86_CR4_PCIDE, "" },
	{ "SDM 3C 29.4.3.1 INVEPT 1: the EP4TA's combined and guest-physical "
	  "mappings, every VPID/PCID", OP_INVEPT, 1, 1, 0, "abcfghmnopru" },
	{ "INVEPT 2: every EP4TA; linear mappings stay", OP_INVEPT, 2, 0, 0,
	  "abcdefghkmnopqrsuv" },
	{ "INVVPID 0: the VPID's mappings of the address, globals too, every "
	  "PCID/EP4TA; not guest-physical", OP_INVVPID, 0, 1, X, "acdejkmoq" },
	{ "INVVPID 1: all of the VPID", OP_INVVPID, 1, 1, 0, "abcdehjkmnoq" },
	{ "INVVPID 2: all VPIDs except 0000H", OP_INVVPID, 2, 0, 0,
	  "abcdefghjkmnopq" },
	{ "INVVPID 3: the VPID's, except globals", OP_INVVPID, 3, 1, 0,
	  "acehjkmnoq" },
	{ "APM 2 15.16 TLB_CONTROL 1: everything", OP_SVM, 1, 0, 0, ALLPROBES },
	{ "TLB_CONTROL 3: this ASID, globals too, its nCR3's nested entries",
	  OP_SVM, 3, 1, 1, "abcdehjkmnoqru" },
	{ "TLB_CONTROL 7: this ASID's non-global entries", OP_SVM, 7, 1, 1,
	  "acehjkmnoqru" },
	{ "TLB_CONTROL 0: nothing", OP_SVM, 0, 1, 1, "" },
	{ "INVLPGA: the page for the ASID, globals too; its PWC entries over "
	  "the address", OP_INVLPGA, 0, X, 1, "acdejkmoq" },
	{ "SDM 4.10.4.1 #PF at X: the page's entries of the current PCID "
	  "(globals made under it too), its PWC entries for X; every EP4TA",
	  OP_PF, 0, X, 0, "aejkmq" },
	{ "SDM 29.4.3.1 EPT violation at G for X: the EP4TA's guest-physical "
	  "mappings of G, combined mappings of X for the current VPID, PCID "
	  "and EP4TA", OP_EPTV, 1, G, X, "amru" },
	{ "EPT violation without a linear address", OP_EPTV, 0, G, X, "ru" },
	{ "flush all", OP_ALL, 0, 0, 0, ALLPROBES },
};

static void run_op(struct vmmu_tlb *t, const struct scope_case *c)
{
	switch (c->op) {
	case OP_INVLPG: vmmu_tlb_invlpg(t, mk_gva(c->a)); break;
	case OP_INVPCID:
		assert_true(vmmu_tlb_invpcid(t, c->type, (uint16_t)c->a,
					     mk_gva(c->b)) >= 0);
		break;
	case OP_CR3: vmmu_tlb_mov_cr3(t, c->a, c->b != 0); break;
	case OP_CR0: vmmu_tlb_mov_cr0(t, c->a, c->b); break;
	case OP_CR4: vmmu_tlb_mov_cr4(t, c->a, c->b); break;
	case OP_INVEPT:
		assert_true(vmmu_tlb_invept(t, c->type, (uint8_t)c->a) >= 0);
		break;
	case OP_INVVPID:
		assert_true(vmmu_tlb_invvpid(t, c->type, (uint16_t)c->a,
					     mk_gva(c->b)) >= 0);
		break;
	case OP_SVM:
		assert_true(vmmu_tlb_svm_tlb_control(t, c->type, (uint16_t)c->a,
						     (uint8_t)c->b) >= 0);
		break;
	case OP_INVLPGA: vmmu_tlb_invlpga(t, mk_gva(c->a), (uint16_t)c->b); break;
	case OP_PF: vmmu_tlb_page_fault(t, mk_gva(c->a)); break;
	case OP_EPTV:
		vmmu_tlb_ept_violation(t, mk_gpa(c->a), c->type != 0,
				       mk_gva(c->b));
		break;
	case OP_ALL: vmmu_tlb_flush_all(t); break;
	}
}

/*
 * exact: a configuration with one array per structure (no L1 arrays), so
 * that each probe is one entry and the flushed counters are exact.
 */
static void run_scopes(bool exact)
{
	struct vmmu_paging_state ps;
	struct vmmu_tlb_config cfg;
	unsigned c, i;

	ps_long(&ps);
	if (exact) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.tlb[VMMU_TLB_STLB] = (struct vmmu_tlb_geom){ 64, 16 };
		cfg.gpa_tlb = (struct vmmu_tlb_geom){ 16, 4 };
		cfg.pwc[0] = (struct vmmu_tlb_geom){ 16, 4 };
		cfg.npwc[0] = (struct vmmu_tlb_geom){ 16, 4 };
	} else {
		assert_int_equal(vmmu_tlb_config_default(&cfg,
					VMMU_TLB_PROFILE_INTEL), 0);
	}
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct vmmu_tlb *t = tlb_new(&cfg);
		size_t want_flushed = strlen(cases[c].flushed);

		fill_probes(t);
		for (i = 0; i < NPROBES; i++)
			if (!probe_present(t, &ps, i))
				fail_msg("probe %c not filled", probes[i].id);
		vmmu_tlb_set_tag(t, 1, 1, 1);
		run_op(t, &cases[c]);
		for (i = 0; i < NPROBES; i++) {
			bool gone = strchr(cases[c].flushed, probes[i].id);

			if (probe_present(t, &ps, i) == gone)
				fail_msg("%s: probe %c %s", cases[c].rule,
					 probes[i].id,
					 gone ? "kept, must be flushed"
					      : "flushed, must be kept");
		}
		if (exact)
			assert_int_equal(vmmu_tlb_stats(t)->flushed_tlb + vmmu_tlb_stats(t)->flushed_pwc +
					 vmmu_tlb_stats(t)->flushed_gpa + vmmu_tlb_stats(t)->flushed_npwc,
					 want_flushed);
		free(t);
	}
}

static void test_scopes_default(void **state)
{
	(void)state;
	run_scopes(false);
}

static void test_scopes_exact(void **state)
{
	(void)state;
	run_scopes(true);
}

/* SDM 4.10.4.1: MOV to CR3 with CR4.PCIDE = 0 flushes PCID 000H's
 * non-global entries and keeps globals (SDM 4.10.2.4). */
static void test_cr3_no_pcid(void **state)
{
	struct vmmu_paging_state ps;
	struct vmmu_tlb *t = tlb_new_default();

	(void)state;
	ps_long(&ps);
	vmmu_tlb_set_tag(t, 1, 0, 1);
	fill_rw(t, X, 0x1000, KiB4, false);
	fill_rw(t, Y, 0x2000, KiB4, true);
	vmmu_tlb_set_tag(t, 1, 3, 1);
	fill_rw(t, Z, 0x3000, KiB4, false);
	/* X's entry in L1D and in the STLB */
	assert_int_equal(vmmu_tlb_mov_cr3(t, 0x7000 | 3, false), 2);
	assert_int_equal(look(t, &ps, X, VMMU_ACCESS_READ), ~0ULL);
	assert_int_equal(look(t, &ps, Y, VMMU_ACCESS_READ), 0x2000);
	/* The CR3 load switched to PCID 0 (bits 11:0 ignored with PCIDE=0);
	 * PCID 3's entry is kept. */
	vmmu_tlb_set_tag(t, 1, 3, 1);
	assert_int_equal(look(t, &ps, Z, VMMU_ACCESS_READ), 0x3000);
	assert_int_equal(vmmu_tlb_stats(t)->inv[VMMU_TLB_INV_CR3], 1);
	free(t);
}

/* Invalid operands: the instruction faults and nothing is flushed. */
static void test_bad_operands(void **state)
{
	struct vmmu_tlb *t = tlb_new_default();

	(void)state;
	assert_int_equal(vmmu_tlb_invpcid(t, 4, 1, mk_gva(0)), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_invpcid(t, 1, 4096, mk_gva(0)), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_invept(t, 0, 1), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_invept(t, 3, 1), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_invept(t, 1, 0), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_invvpid(t, 4, 1, mk_gva(0)), VMMU_EINVAL);
	/* Vol. 2 INVVPID: VPID 0000H fails for types 0, 1 and 3. */
	assert_int_equal(vmmu_tlb_invvpid(t, 0, 0, mk_gva(0)), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_invvpid(t, 1, 0, mk_gva(0)), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_invvpid(t, 3, 0, mk_gva(0)), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_svm_tlb_control(t, 2, 1, 1), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_stats(t)->inv[VMMU_TLB_INV_INVPCID1], 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scopes_default),
		cmocka_unit_test(test_scopes_exact),
		cmocka_unit_test(test_cr3_no_pcid),
		cmocka_unit_test(test_bad_operands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
