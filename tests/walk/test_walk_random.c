/* SPDX-License-Identifier: MIT */
/*
 * Property test: random page tables (entries with random flags, random
 * reserved bits, pointers among a few table pages), random registers and
 * random accesses in every mode. Whatever the guest wrote, the walker must
 * return a result (never an error, never undefined behaviour under
 * UBSan), and the result must obey the architectural invariants:
 *  - #PF error code: RSVD implies P; PK implies P, not RSVD, 4/5-level with
 *    CR4.PKE, a data access; W/R, U/S, I/D exactly as the access and
 *    controls say;
 *    CR2 is the (mode-truncated) linear address (SDM 4.7);
 *  - a faulting walk writes nothing (all-or-nothing A/D, SDM 4.8 choice);
 *  - a translation keeps the page offset, uses a page size the mode has,
 *    stays below 2^MAXPHYADDR, and repeating it writes nothing;
 *  - the entries reported chain: each one's address comes from the
 *    previous entry (or CR3), each non-last entry is present.
 */
#include <stdlib.h>

#include "walk_fixture.h"

#define RT_TABLES   8               /* table pages at 0x10000.. */
#define RT_ITER     100000

static uint64_t rt_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rt_state ^= rt_state >> 12;
	rt_state ^= rt_state << 25;
	rt_state ^= rt_state >> 27;
	return rt_state * 0x2545f4914f6cdd1dULL;
}

static bool chance(unsigned percent)
{
	return rnd() % 100 < percent;
}

static uint64_t rt_table(unsigned i)
{
	return FX_TABLES + (uint64_t)i * 0x1000;
}

/* A random entry: usually present, pointing at a table page. */
static uint64_t rt_entry(void)
{
	uint64_t e = rt_table((unsigned)(rnd() % RT_TABLES));

	e |= rnd() & 0xf7f;             /* flags, PAT, ignored bits */
	if (chance(20))
		e |= PS;
	if (chance(85))
		e |= P;
	if (chance(20))
		e |= 1ULL << (13 + rnd() % 9);   /* large-page alignment bits */
	if (chance(10))
		e |= 1ULL << (32 + rnd() % 32);  /* high bits: rsvd/ignored/NX/key */
	if (chance(15))
		e |= NX;
	if (chance(20))
		e |= (rnd() & 0xf) << X86_PTE_PKEY_SHIFT;
	return e;
}

static void rt_fill(struct fx *f)
{
	static uint64_t page[512];
	unsigned t, i;

	for (t = 0; t < RT_TABLES; t++) {
		for (i = 0; i < 512; i++)
			page[i] = rt_entry();
		assert_int_equal(vmmu_vm_write_gpa(f->vm, mk_gpa(rt_table(t)),
						   page, sizeof(page)), 0);
	}
	/* The root (and PAE PDPTEs) live in table 0. */
}

static void rt_regs(struct fx *f)
{
	static const unsigned mode_pick[] = { 0, 2, 3, 4, 5 };
	unsigned mode = mode_pick[rnd() % 5];
	uint64_t cr4 = 0, efer = 0;

	cr4 |= chance(50) ? X86_CR4_PSE : 0;
	cr4 |= chance(30) ? X86_CR4_SMEP : 0;
	cr4 |= chance(30) ? X86_CR4_SMAP : 0;
	cr4 |= chance(30) ? X86_CR4_PKE : 0;
	efer |= chance(60) ? X86_EFER_NXE : 0;
	if (mode >= 3)
		cr4 |= X86_CR4_PAE;
	if (mode >= 4)
		efer |= EFER_LM;
	if (mode == 5)
		cr4 |= X86_CR4_LA57;
	fx_regs(f, mode ? (chance(50) ? CR0_PG_PE_WP : CR0_PG_PE) : X86_CR0_PE,
		cr4, efer, 32 + (unsigned)(rnd() % 21));
	f->ps.cr3 = rt_table(0) | (rnd() & 0xfe0);
	f->ps.pkru = (uint32_t)rnd();
	f->ps.rflags = chance(50) ? 2 | X86_RFLAGS_AC : 2;
	f->ps.quirks = (uint32_t)(rnd() & 3);
	vmmu_paging_update(&f->ps);
	if (mode == 3 && chance(80)) {
		/* Mostly valid PDPTEs (Table 4-8), or every access is #GP. */
		unsigned i;

		for (i = 0; i < 4; i++) {
			uint64_t g = (f->ps.cr3 & 0xfe0) + FX_TABLES + i * 8;

			wr(f, g, rd(f, g, 8) & 0x000000000fffee19ULL, 8);
		}
	}
	/*
	 * PAE: load the PDPTE registers as MOV to CR3 does. (Without a load
	 * the walker rereads them from memory, where an A/D update of an
	 * entry sharing their bytes may legitimately invalidate them.)
	 */
	vmmu_paging_load_pdptes(&f->ps, &f->mem);
}

static uint64_t rt_gva(void)
{
	uint64_t g = rnd();

	if (chance(70))   /* canonical 48-bit most of the time */
		g = (uint64_t)((int64_t)(g << 16) >> 16);
	return g;
}

static unsigned rt_ok_by_mode[VMMU_PAGING_INVALID + 1];
static uint8_t rt_before[RT_TABLES * 4096], rt_after[RT_TABLES * 4096];

static void rt_snapshot(struct fx *f, uint8_t *buf)
{
	assert_int_equal(vmmu_vm_read_gpa(f->vm, mk_gpa(FX_TABLES), buf,
					  RT_TABLES * 4096), 0);
}

static void rt_check_fault(const struct fx *f, const struct vmmu_access *acc,
			   const struct vmmu_walk_result *r, uint64_t la)
{
	uint32_t ec = r->error_code;
	bool user = acc->cpl == 3 && !acc->implicit;
	bool long_mode = r->mode >= VMMU_PAGING_4LEVEL;

	if (r->vector == X86_VEC_GP) {
		assert_int_equal(ec, 0);
		return;
	}
	assert_int_equal(r->vector, X86_VEC_PF);
	assert_int_equal(r->cr2.v, la);
	assert_int_equal(!!(ec & X86_PFEC_W), acc->kind == VMMU_ACCESS_WRITE);
	assert_int_equal(!!(ec & X86_PFEC_U), user);
	/*
	 * I/D: a fetch, with CR4.SMEP or with EFER.NXE under PAE, 4- or
	 * 5-level paging (SDM 4.7); both directions, so a walker that
	 * dropped the bit cannot pass.
	 */
	assert_int_equal(!!(ec & X86_PFEC_I),
			 acc->kind == VMMU_ACCESS_FETCH &&
			 ((f->ps.cr4 & X86_CR4_SMEP) ||
			  (r->mode >= VMMU_PAGING_PAE &&
			   (f->ps.efer & X86_EFER_NXE))));
	if (ec & X86_PFEC_RSVD)
		assert_true(ec & X86_PFEC_P);
	if (ec & X86_PFEC_PK) {
		assert_true((ec & X86_PFEC_P) && !(ec & X86_PFEC_RSVD));
		assert_true(long_mode && (f->ps.cr4 & X86_CR4_PKE));
		assert_int_not_equal(acc->kind, VMMU_ACCESS_FETCH);
	}
	assert_int_equal(ec & ~0x3fU, 0);
	assert_true(r->levels >= 1);
	/* A not-present fault stops at a non-present entry. */
	if (!(ec & X86_PFEC_P))
		assert_int_equal(r->pte[r->levels - 1] & P, 0);
}

static void rt_check_ok(const struct fx *f, const struct vmmu_walk_result *r,
			uint64_t la)
{
	uint64_t size = r->page_size;
	unsigned mpa = f->ps.maxphyaddr;

	assert_true(size == 4096 || size == 2ULL << 20 || size == 4ULL << 20 ||
		    size == 1ULL << 30);
	if (size == 4ULL << 20) {
		assert_int_equal(r->mode, VMMU_PAGING_2LEVEL);
		mpa = mpa > 40 ? 40 : mpa;
	}
	if (size == 1ULL << 30)
		assert_true(r->mode >= VMMU_PAGING_4LEVEL &&
			    !(f->ps.quirks & VMMU_PAGING_NO_1G));
	assert_int_equal(r->gpa.v & (size - 1), la & (size - 1));
	if (r->mode != VMMU_PAGING_NONE)
		assert_int_equal(r->gpa.v >> mpa, 0);
}

/* Entries chain from CR3: entry i+1 lies in the page entry i points to. */
static void rt_check_chain(const struct vmmu_walk_result *r)
{
	unsigned i;

	for (i = 0; i + 1 < r->levels; i++) {
		assert_true(r->pte[i] & P);
		if (r->mode == VMMU_PAGING_2LEVEL)
			assert_int_equal(r->pte_gpa[i + 1].v & ~0xfffULL,
					 r->pte[i] & 0xfffff000ULL);
		else
			assert_int_equal(r->pte_gpa[i + 1].v & ~0xfffULL,
					 r->pte[i] & 0x000ffffffffff000ULL);
	}
}

/* One random access; 1 if it was walked to a result, 0 on ENOENT. */
static int rt_one(struct fx *f, unsigned *faults)
{
	struct vmmu_access acc;
	struct vmmu_walk_result r, again;
	uint64_t la;
	int rc;

	acc.gva = mk_gva(rt_gva());
	acc.kind = (enum vmmu_access_kind)(rnd() % 3);
	acc.cpl = (uint8_t)(rnd() % 4);
	acc.implicit = chance(15);
	rt_snapshot(f, rt_before);
	rc = vmmu_walk(&f->ps, &f->mem, &acc, &r);
	rt_snapshot(f, rt_after);
	/*
	 * An entry whose address bits point above the 4 MiB of guest RAM
	 * (below MAXPHYADDR, so not reserved) makes the read fail: the
	 * walker reports it and has written nothing.
	 */
	if (rc == VMMU_ENOENT) {
		assert_memory_equal(rt_before, rt_after, sizeof(rt_before));
		return 0;
	}
	assert_int_equal(rc, 0);
	la = r.mode >= VMMU_PAGING_4LEVEL ? acc.gva.v : acc.gva.v & 0xffffffffULL;
	rt_check_chain(&r);
	if (!r.ok) {
		(*faults)++;
		rt_check_fault(f, &acc, &r, la);
		assert_memory_equal(rt_before, rt_after, sizeof(rt_before));
		return 1;
	}
	rt_check_ok(f, &r, la);
	rt_ok_by_mode[r.mode]++;
	/* Repeating the access translates the same way and writes nothing. */
	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, &again), 0);
	assert_true(again.ok);
	assert_int_equal(again.gpa.v, r.gpa.v);
	rt_snapshot(f, rt_before);
	assert_memory_equal(rt_before, rt_after, sizeof(rt_before));
	return 1;
}

static void test_random_walks(void **state)
{
	struct fx *f = *state;
	unsigned i, walked = 0, faults = 0;

	for (i = 0; i < RT_ITER; i++) {
		if (i % 64 == 0)
			rt_fill(f);
		if (i % 8 == 0)
			rt_regs(f);
		walked += (unsigned)rt_one(f, &faults);
	}
	print_message("%u accesses, %u walked to a result (%u faults)\n",
		      RT_ITER, walked, faults);
	/* The generator must exercise both outcomes substantially. */
	assert_true(walked > RT_ITER / 2);
	assert_true(faults > walked / 10 && faults < walked - walked / 10);
	for (i = VMMU_PAGING_NONE; i <= VMMU_PAGING_5LEVEL; i++) {
		print_message("mode %u: %u translations\n", i, rt_ok_by_mode[i]);
		assert_true(rt_ok_by_mode[i] > 100);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_random_walks, fx_setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
