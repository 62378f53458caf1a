/* SPDX-License-Identifier: MIT */
/*
 * A TLB hit decides as the walker would: vmmu_walk_check_rights() on the
 * combined rights and key of a walk gives the walker's verdict and #PF
 * error code (SDM Vol. 3A 4.6, 4.7) over random entries, control
 * registers, PKRU and accesses in 32-bit, PAE and 4-level paging, and
 * vmmu_tlb_fill_from_walk() derives the rights, key, global and dirty
 * bits of successful walks.
 */
#include "tlb_common.h"

#define MEM 0x8000
static uint8_t gmem[MEM];

static int m_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	(void)ctx;
	if (gpa.v + len > MEM)
		return VMMU_EFAULT;
	memcpy(buf, gmem + gpa.v, len);
	return 0;
}

static int m_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t nv,
		     size_t len)
{
	uint64_t cur = 0;

	(void)ctx;
	if (gpa.v + len > MEM)
		return VMMU_EFAULT;
	memcpy(&cur, gmem + gpa.v, len);
	if (cur != old)
		return 1;
	memcpy(gmem + gpa.v, &nv, len);
	return 0;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void put(uint64_t gpa, uint64_t v, unsigned size)
{
	memcpy(gmem + gpa, &v, size);
}

/* Random U/S, R/W (and XD when nxe) on a present entry. */
static uint64_t flags(bool nxe)
{
	uint64_t e = X86_PTE_P;

	if (rnd() % 4)
		e |= X86_PTE_US;
	if (rnd() % 3)
		e |= X86_PTE_RW;
	if (nxe && rnd() % 4 == 0)
		e |= X86_PTE_NX;
	return e;
}

/*
 * Build tables for gva 0x5000 in mode; out: the rights and key the walk
 * combines. The leaf gets random A, D, G and (4-level) a key.
 */
static void build(enum vmmu_paging_mode mode, bool nxe, unsigned *rights,
		  unsigned *pkey)
{
	uint64_t e[4], leaf_extra = 0;
	unsigned n, i, first = 0, u = 1, w = 1, nx = 0, size;

	memset(gmem, 0, sizeof(gmem));
	if (rnd() % 2)
		leaf_extra |= X86_PTE_D;
	if (rnd() % 2)
		leaf_extra |= X86_PTE_A;
	if (rnd() % 2)
		leaf_extra |= X86_PTE_G;
	*pkey = 0;
	if (mode == VMMU_PAGING_2LEVEL) {
		n = 2;
		size = 4;
	} else if (mode == VMMU_PAGING_PAE) {
		n = 3;
		size = 8;
		first = 1;
	} else {
		n = 4;
		size = 8;
		*pkey = (unsigned)(rnd() % 16);
		leaf_extra |= (uint64_t)*pkey << X86_PTE_PKEY_SHIFT;
	}
	for (i = 0; i < n; i++)
		e[i] = flags(nxe && size == 8) | (0x1000ULL * (i + 2));
	if (mode == VMMU_PAGING_PAE)
		e[0] = X86_PTE_P | 0x2000;      /* PDPTE: no rights bits */
	e[n - 1] = (e[n - 1] & ~0xfffff000ULL) | 0x7000 | leaf_extra;
	/* table i at 0x1000 * (i + 1); gva 0x5000: index 0, ..., 0, 5 */
	for (i = 0; i < n; i++)
		put(0x1000ULL * (i + 1) + (i == n - 1 ? 5 * size : 0), e[i], size);
	for (i = first; i < n; i++) {
		u &= (unsigned)(e[i] >> 2) & 1;
		w &= (unsigned)(e[i] >> 1) & 1;
		if (nxe && size == 8)
			nx |= (unsigned)(e[i] >> 63);
	}
	*rights = u | w << 1 | nx << 2;
}

static void one_case(enum vmmu_paging_mode mode)
{
	struct vmmu_gmem mem = { NULL, m_read, m_cmpxchg };
	struct vmmu_paging_state ps;
	struct vmmu_walk_result res;
	struct vmmu_tlb_fill f;
	struct vmmu_access acc;
	unsigned rights, pkey;
	uint32_t pfec = 0;
	uint64_t leaf;
	bool nxe = rnd() % 2;
	int ok;

	memset(&ps, 0, sizeof(ps));
	ps.cr0 = X86_CR0_PG | X86_CR0_PE | (rnd() % 2 ? X86_CR0_WP : 0);
	ps.cr3 = 0x1000;
	ps.cr4 = (rnd() % 2 ? X86_CR4_SMEP : 0) | (rnd() % 2 ? X86_CR4_SMAP : 0) |
		 (rnd() % 2 ? (1ULL << 7) : 0);
	if (mode != VMMU_PAGING_2LEVEL)
		ps.cr4 |= X86_CR4_PAE;
	if (mode == VMMU_PAGING_4LEVEL) {
		ps.efer = X86_EFER_LME | X86_EFER_LMA;
		ps.cr4 |= rnd() % 2 ? X86_CR4_PKE : 0;
	}
	ps.efer |= nxe ? X86_EFER_NXE : 0;
	ps.rflags = rnd() % 2 ? X86_RFLAGS_AC : 0;
	ps.pkru = (uint32_t)rnd();
	ps.maxphyaddr = 40;
	vmmu_paging_update(&ps);
	nxe = nxe && mode != VMMU_PAGING_2LEVEL;
	build(mode, nxe, &rights, &pkey);
	acc.gva = mk_gva(0x5000 + rnd() % 4096);
	acc.kind = (enum vmmu_access_kind)(rnd() % 3);
	acc.cpl = rnd() % 2 ? 3 : 0;
	acc.implicit = rnd() % 4 == 0;

	ok = vmmu_walk_check_rights(&ps, &acc, rights, pkey, &pfec);
	assert_int_equal(vmmu_walk(&ps, &mem, &acc, &res), 0);
	if (!res.ok) {
		assert_int_equal(res.vector, X86_VEC_PF);
		assert_int_equal(ok, 0);
		assert_int_equal(pfec, res.error_code);
		return;
	}
	assert_int_equal(ok, 1);
	leaf = res.pte[res.levels - 1];
	assert_int_equal(vmmu_tlb_fill_from_walk(&f, &ps, &acc, &res), 0);
	assert_int_equal(f.rights, rights);
	assert_int_equal(f.pkey, pkey);
	assert_int_equal(f.page_size, res.page_size);
	assert_int_equal(f.global, (ps.cr4 & (1ULL << 7)) && (leaf & X86_PTE_G));
	assert_int_equal(f.dirty, (leaf & X86_PTE_D) ||
				  acc.kind == VMMU_ACCESS_WRITE);
	assert_int_equal(f.gva.v, acc.gva.v);
}

static void test_random(void **state)
{
	static const enum vmmu_paging_mode modes[3] = { VMMU_PAGING_2LEVEL,
		VMMU_PAGING_PAE, VMMU_PAGING_4LEVEL };
	unsigned i;

	(void)state;
	for (i = 0; i < 60000; i++)
		one_case(modes[i % 3]);
}

static void test_edges(void **state)
{
	struct vmmu_paging_state ps;
	struct vmmu_access acc = { mk_gva(0), VMMU_ACCESS_WRITE, 3, false };
	struct vmmu_walk_result res;
	struct vmmu_tlb_fill f;
	uint32_t pfec = 0;

	(void)state;
	memset(&ps, 0, sizeof(ps));
	ps.maxphyaddr = 40;
	/* paging off: everything allowed, without an update (stale role) */
	assert_int_equal(vmmu_walk_check_rights(&ps, &acc, 0, 0, &pfec), 1);
	ps_long(&ps);
	assert_int_equal(vmmu_walk_check_rights(&ps, &acc, 8, 0, &pfec),
			 VMMU_EINVAL);
	assert_int_equal(vmmu_walk_check_rights(&ps, &acc, 3, 16, &pfec),
			 VMMU_EINVAL);
	acc.cpl = 4;
	assert_int_equal(vmmu_walk_check_rights(&ps, &acc, 3, 0, &pfec),
			 VMMU_EINVAL);
	/* user write to a supervisor page: P | W | U */
	acc.cpl = 3;
	assert_int_equal(vmmu_walk_check_rights(&ps, &acc, 2, 0, &pfec), 0);
	assert_int_equal(pfec, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U);
	/* PKU: key 1 with WD, user write to a user page: P | W | U | PK */
	ps.cr4 |= X86_CR4_PKE;
	ps.pkru = 2U << 2;
	assert_int_equal(vmmu_walk_check_rights(&ps, &acc, 3, 1, &pfec), 0);
	assert_int_equal(pfec, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U | X86_PFEC_PK);
	/* a failed walk is not a fill */
	memset(&res, 0, sizeof(res));
	assert_int_equal(vmmu_tlb_fill_from_walk(&f, &ps, &acc, &res),
			 VMMU_EINVAL);
}

/*
 * vmmu_tlb_lookup() memoises the rights check; its HIT / REFUSED must
 * agree with vmmu_walk_check_rights() while registers, RFLAGS.AC, PKRU
 * and MAXPHYADDR change under it, with and without vmmu_paging_update()
 * (a stale role), for CPL 0..3, implicit accesses and every kind.
 */
static void test_lookup_agrees(void **state)
{
	struct vmmu_tlb *t = tlb_new_default();
	struct vmmu_paging_state ps;
	struct vmmu_tlb_fill f[8];
	unsigned i, p;

	(void)state;
	ps_long(&ps);
	memset(f, 0, sizeof(f));
	for (p = 0; p < 8; p++) {
		f[p].gva = mk_gva(0x400000ULL + p * 0x1000);
		f[p].hpa = mk_hpa(0x10000ULL * (p + 1));
		f[p].page_size = KiB4;
		f[p].rights = (uint8_t)(rnd() % 8);
		f[p].pkey = (uint8_t)(rnd() % 16);
		f[p].dirty = true;
		f[p].nested = NRWX;
		f[p].kind = (enum vmmu_access_kind)(p % 3);
		assert_int_equal(vmmu_tlb_fill(t, &f[p]), 0);
	}
	for (i = 0; i < 200000; i++) {
		struct vmmu_access acc;
		unsigned k = (unsigned)(rnd() % 16);
		hpa_t h;
		int rc, want;

		if (k == 0)
			ps.cr0 ^= X86_CR0_WP;
		else if (k == 1)
			ps.cr4 ^= X86_CR4_SMEP;
		else if (k == 2)
			ps.cr4 ^= X86_CR4_SMAP;
		else if (k == 3)
			ps.cr4 ^= X86_CR4_PKE;
		else if (k == 4)
			ps.efer ^= X86_EFER_NXE;
		else if (k == 5)
			ps.rflags ^= X86_RFLAGS_AC;
		else if (k == 6)
			ps.pkru = (uint32_t)rnd();
		else if (k == 7)
			ps.maxphyaddr = (uint8_t)(rnd() % 3 ? 46 : 60);
		if (rnd() % 2)
			vmmu_paging_update(&ps);
		p = (unsigned)(rnd() % 8);
		acc.gva = mk_gva(f[p].gva.v + rnd() % 4096);
		acc.kind = (enum vmmu_access_kind)(rnd() % 3);
		acc.cpl = (uint8_t)(rnd() % 4);
		acc.implicit = rnd() % 4 == 0;
		want = vmmu_walk_check_rights(&ps, &acc, f[p].rights, f[p].pkey,
					      NULL);
		rc = vmmu_tlb_lookup(t, &ps, &acc, &h);
		if (rc == VMMU_TLB_MISS) {      /* evicted by a refill */
			assert_int_equal(vmmu_tlb_fill(t, &f[p]), 0);
			continue;
		}
		if ((rc == VMMU_TLB_HIT) != (want == 1))
			fail_msg("step %u: lookup %d, walker check %d", i, rc, want);
		if (rc == VMMU_TLB_HIT)
			assert_int_equal(h.v, f[p].hpa.v + (acc.gva.v & 0xfff));
		else
			assert_int_equal(vmmu_tlb_fill(t, &f[p]), 0);
	}
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_lookup_agrees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
