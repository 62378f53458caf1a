/* SPDX-License-Identifier: MIT */
/*
 * Exhaustive access-rights test in the manner of kvm-unit-tests
 * x86/access.c: enumerate PTE/PDE flag combinations, access kinds and CPU
 * controls, compute the expected outcome from the rules as that test and
 * the SDM state them, and compare fault, error code and the A/D bits left
 * in the entries.
 *
 * The expectations (SDM Vol. 3A 4.6, 4.7, 4.8; access.c's
 * ac_emulate_access/ac_test_permissions):
 *  - a PDE/PTE that is not present faults with P = 0; one with bit 51 set
 *    (MAXPHYADDR 46), bit 13 in a 2 MiB PDE, or XD without EFER.NXE faults
 *    with P = 1, RSVD = 1;
 *  - user accesses need U/S at every level, writes need R/W unless a
 *    supervisor write with CR0.WP = 0, fetches need XD = 0; SMEP forbids
 *    supervisor fetches from user pages, SMAP supervisor data accesses to
 *    user pages unless explicit with RFLAGS.AC = 1;
 *  - PKU (user pages, data accesses): AD faults, WD faults writes unless a
 *    supervisor write with CR0.WP = 0; both set PFEC.PK; the key of a
 *    non-leaf entry is ignored;
 *  - PFEC.I/D only when EFER.NXE or CR4.SMEP;
 *  - A on both entries and D on the leaf for writes, only on success (the
 *    all-or-nothing behaviour; access.c also allows a PDE A bit set by a
 *    faulting walk, vmmu never sets it).
 */
#include "walk_fixture.h"

enum {
	F_PTE_P, F_PTE_RW, F_PTE_US, F_PTE_NX, F_PTE_A, F_PTE_D, F_PTE_BIT51,
	F_PDE_P, F_PDE_RW, F_PDE_US, F_PDE_NX, F_PDE_PSE, F_PDE_BIT51,
	F_PDE_BIT13,
	F_USER, F_WRITE, F_FETCH, F_IMPLICIT,
	F_NXE, F_WP, F_SMEP, F_SMAP, F_AC, F_PKE, F_PKEY, F_PKU_AD, F_PKU_WD,
	F_COUNT
};

#define FL(x) ((flags >> (x)) & 1)

static const uint64_t ac_gva = 0x0000123456789000ULL + 0x123;
static const uint64_t ac_phys = 0x02000000ULL;

struct ac_expect {
	bool fault;
	uint32_t pfec;
	uint64_t pde, pte;      /* entry values after the access */
};

static bool ac_legal(uint64_t flags)
{
	if (FL(F_FETCH) && FL(F_WRITE))
		return false;
	if (FL(F_PDE_BIT13) && !FL(F_PDE_PSE))
		return false;
	if (!FL(F_PKE) && (FL(F_PKEY) || FL(F_PKU_AD) || FL(F_PKU_WD)))
		return false;
	if (FL(F_AC) && (FL(F_USER) && !FL(F_IMPLICIT)))
		return false;   /* AC matters for supervisor accesses only */
	return true;
}

static uint64_t ac_pde(uint64_t flags, uint64_t pt)
{
	uint64_t e = FL(F_PDE_PSE) ? ((ac_phys & ~0x1fffffULL) | PS |
		     (FL(F_PKEY) ? 1ULL << 59 : 0)) : (pt | 2ULL << 59);

	e |= FL(F_PDE_P) ? P : 0;
	e |= FL(F_PDE_RW) ? RW : 0;
	e |= FL(F_PDE_US) ? US : 0;
	e |= FL(F_PDE_NX) ? NX : 0;
	e |= FL(F_PDE_BIT51) ? 1ULL << 51 : 0;
	e |= FL(F_PDE_BIT13) ? 1ULL << 13 : 0;
	return e;
}

static uint64_t ac_pte(uint64_t flags)
{
	uint64_t e = ac_phys | (FL(F_PKEY) ? 1ULL << 59 : 0);

	e |= FL(F_PTE_P) ? P : 0;
	e |= FL(F_PTE_RW) ? RW : 0;
	e |= FL(F_PTE_US) ? US : 0;
	e |= FL(F_PTE_NX) ? NX : 0;
	e |= FL(F_PTE_A) ? A : 0;
	e |= FL(F_PTE_D) ? D : 0;
	e |= FL(F_PTE_BIT51) ? 1ULL << 51 : 0;
	return e;
}

/* Rights at the leaf (access.c's ac_test_permissions plus SMAP). */
static void ac_permissions(uint64_t flags, bool writable, bool user,
			   bool exec, struct ac_expect *x)
{
	bool user_access = FL(F_USER) && !FL(F_IMPLICIT);
	bool kwritable = !FL(F_WP) && !user_access;

	if (user_access && !user)
		x->fault = true;
	if (FL(F_WRITE) && !writable && !kwritable)
		x->fault = true;
	if (FL(F_FETCH) && !exec)
		x->fault = true;
	if (FL(F_FETCH) && user && !user_access && FL(F_SMEP))
		x->fault = true;
	if (!FL(F_FETCH) && user && !user_access && FL(F_SMAP) &&
	    (FL(F_IMPLICIT) || !FL(F_AC)))
		x->fault = true;
	if (user && !FL(F_FETCH) && FL(F_PKEY)) {
		if (FL(F_PKU_AD) || (FL(F_WRITE) && FL(F_PKU_WD) && !kwritable)) {
			x->fault = true;
			x->pfec |= X86_PFEC_PK;
		}
	}
}

/* The walk stopped at an entry: not present (P = 0) or reserved bits. */
static void ac_invalid(struct ac_expect *x, bool present)
{
	x->fault = true;
	if (present)
		x->pfec |= X86_PFEC_RSVD;
	else
		x->pfec &= ~X86_PFEC_P;
}

static void ac_expect(uint64_t flags, uint64_t pde, uint64_t pte,
		      struct ac_expect *x)
{
	bool writable, user, exec, valid;
	uint64_t *leaf;

	memset(x, 0, sizeof(*x));
	x->pde = pde;
	x->pte = pte;
	x->pfec = X86_PFEC_P;
	if (FL(F_USER) && !FL(F_IMPLICIT))
		x->pfec |= X86_PFEC_U;
	if (FL(F_WRITE))
		x->pfec |= X86_PFEC_W;
	if (FL(F_FETCH) && (FL(F_NXE) || FL(F_SMEP)))
		x->pfec |= X86_PFEC_I;

	valid = FL(F_PDE_P) && !FL(F_PDE_BIT51) && !FL(F_PDE_BIT13) &&
		!(FL(F_PDE_NX) && !FL(F_NXE));
	if (!valid)
		goto invalid_pde;
	writable = FL(F_PDE_RW);
	user = FL(F_PDE_US);
	exec = !FL(F_PDE_NX);
	leaf = &x->pde;
	if (!FL(F_PDE_PSE)) {
		valid = FL(F_PTE_P) && !FL(F_PTE_BIT51) &&
			!(FL(F_PTE_NX) && !FL(F_NXE));
		if (!valid)
			goto invalid_pte;
		writable &= FL(F_PTE_RW);
		user &= FL(F_PTE_US);
		exec &= !FL(F_PTE_NX);
		leaf = &x->pte;
	}
	ac_permissions(flags, writable, user, exec, x);
	if (!x->fault) {
		x->pde |= A;
		*leaf |= A | (FL(F_WRITE) ? D : 0);
	}
	return;
invalid_pte:
	ac_invalid(x, FL(F_PTE_P));
	return;
invalid_pde:
	ac_invalid(x, FL(F_PDE_P));
}

struct ac_tables {
	uint64_t pde_gpa, pte_gpa, pt;
};

static void ac_build(struct fx *f, struct ac_tables *t)
{
	const uint64_t fl[6] = { 0, PRWU, PRWU | A, PRWU | A, PRWU | A, 0 };
	struct vmmu_walk_result r;

	fx_long(f, false, 46);
	fx_map(f, ac_gva, 1, fl, ac_phys);
	r = fx_walk(f, ac_gva, R, 0);
	assert_true(r.ok);
	t->pde_gpa = r.pte_gpa[2].v;
	t->pte_gpa = r.pte_gpa[3].v;
	t->pt = r.pte[2] & 0xfffff000ULL;
}

static void ac_set_cpu(struct fx *f, uint64_t flags)
{
	f->ps.cr0 = CR0_PG_PE | (FL(F_WP) ? X86_CR0_WP : 0);
	f->ps.cr4 = X86_CR4_PAE | (FL(F_SMEP) ? X86_CR4_SMEP : 0) |
		    (FL(F_SMAP) ? X86_CR4_SMAP : 0) |
		    (FL(F_PKE) ? X86_CR4_PKE : 0);
	f->ps.efer = EFER_LM | (FL(F_NXE) ? X86_EFER_NXE : 0);
	f->ps.rflags = 2 | (FL(F_AC) ? X86_RFLAGS_AC : 0);
	/* Key 2 (non-leaf) denies everything; key 1 follows AD/WD. */
	f->ps.pkru = 0x30 | (FL(F_PKU_WD) ? 8 : 0) | (FL(F_PKU_AD) ? 4 : 0);
	vmmu_paging_update(&f->ps);
}

static unsigned ac_run_one(struct fx *f, const struct ac_tables *t,
			   uint64_t flags)
{
	struct vmmu_access acc;
	struct vmmu_walk_result r;
	struct ac_expect x;
	uint64_t pde = ac_pde(flags, t->pt), pte = ac_pte(flags);

	ac_set_cpu(f, flags);
	wr(f, t->pde_gpa, pde, 8);
	wr(f, t->pte_gpa, pte, 8);
	ac_expect(flags, pde, pte, &x);
	acc.gva = mk_gva(ac_gva);
	acc.kind = FL(F_FETCH) ? VMMU_ACCESS_FETCH :
		   FL(F_WRITE) ? VMMU_ACCESS_WRITE : VMMU_ACCESS_READ;
	acc.cpl = FL(F_USER) ? 3 : 0;
	acc.implicit = FL(F_IMPLICIT);
	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, &r), 0);
	if (r.ok == x.fault || (x.fault && r.error_code != x.pfec) ||
	    rd(f, t->pde_gpa, 8) != x.pde || rd(f, t->pte_gpa, 8) != x.pte) {
		print_error("flags %#llx: ok %d (want %d) pfec %#x (want %#x) "
			    "pde %#llx (want %#llx) pte %#llx (want %#llx)\n",
			    (unsigned long long)flags, r.ok, !x.fault,
			    r.error_code, x.pfec,
			    (unsigned long long)rd(f, t->pde_gpa, 8),
			    (unsigned long long)x.pde,
			    (unsigned long long)rd(f, t->pte_gpa, 8),
			    (unsigned long long)x.pte);
		return 1;
	}
	if (r.ok)
		assert_int_equal(r.gpa.v, ac_phys + (FL(F_PDE_PSE) ?
				 (ac_gva & 0x1fffffULL) : (ac_gva & 0xfffULL)));
	return 0;
}

/* Run every legal combination of the flags in mask (others zero). */
static void ac_run_mask(struct fx *f, uint64_t mask)
{
	struct ac_tables t;
	unsigned failures = 0, runs = 0;
	uint64_t flags = 0;

	ac_build(f, &t);
	do {
		if (ac_legal(flags)) {
			failures += ac_run_one(f, &t, flags);
			runs++;
		}
		flags = (flags - mask) & mask;   /* next subset of mask */
	} while (flags && failures < 10);
	print_message("%u combinations, %u failures\n", runs, failures);
	assert_int_equal(failures, 0);
}

#define BIT(x) (1ULL << (x))

/* Rights: U/S, R/W, XD, WP, NXE, SMEP, SMAP, AC, implicit, 4 KiB / 2 MiB. */
static void test_access_rights(void **state)
{
	ac_run_mask(*state, BIT(F_PTE_P) | BIT(F_PTE_RW) | BIT(F_PTE_US) |
		    BIT(F_PTE_NX) | BIT(F_PDE_P) | BIT(F_PDE_RW) |
		    BIT(F_PDE_US) | BIT(F_PDE_NX) | BIT(F_PDE_PSE) |
		    BIT(F_USER) | BIT(F_WRITE) | BIT(F_FETCH) |
		    BIT(F_IMPLICIT) | BIT(F_NXE) | BIT(F_WP) | BIT(F_SMEP) |
		    BIT(F_SMAP) | BIT(F_AC));
}

/* Reserved bits, preexisting A/D, protection keys. */
static void test_access_rsvd_ad_pku(void **state)
{
	ac_run_mask(*state, BIT(F_PTE_P) | BIT(F_PTE_RW) | BIT(F_PTE_US) |
		    BIT(F_PTE_A) | BIT(F_PTE_D) | BIT(F_PTE_BIT51) |
		    BIT(F_PDE_P) | BIT(F_PDE_US) | BIT(F_PDE_PSE) |
		    BIT(F_PDE_BIT51) | BIT(F_PDE_BIT13) | BIT(F_USER) |
		    BIT(F_WRITE) | BIT(F_FETCH) | BIT(F_WP) | BIT(F_PKE) |
		    BIT(F_PKEY) | BIT(F_PKU_AD) | BIT(F_PKU_WD));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_access_rights, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_access_rsvd_ad_pku,
						fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
