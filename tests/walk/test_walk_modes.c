/* SPDX-License-Identifier: MIT */
/*
 * The guest walker, per paging mode: translations, page sizes, reserved
 * bits per level and MAXPHYADDR, PSE-36, PAE PDPTEs, LA57, canonical
 * addresses, quirks. Expectations come from Intel SDM Vol. 3A chapter 4
 * (tables cited per test) and AMD APM Vol. 2 5.3.
 */
#include "walk_fixture.h"

static void test_paging_off_is_identity(void **state)
{
	struct fx *f = *state;

	fx_regs(f, X86_CR0_PE, 0, 0, 36);
	assert_ok(fx_walk(f, 0x12345678, W, 3), 0x12345678, 4096);
	/* Linear addresses are 32 bits without paging. */
	assert_ok(fx_walk(f, 0x100000abcULL, R, 0), 0xabc, 4096);
	assert_int_equal(rd(f, 0, 8), 0);
}

static void test_4level_4k_2m_1g(void **state)
{
	struct fx *f = *state;
	const uint64_t big2m[6] = { 0, 0, PRWU | PS, PRWU, PRWU, 0 };
	const uint64_t big1g[6] = { 0, 0, 0, PRWU | PS, PRWU, 0 };
	struct vmmu_walk_result r;

	fx_long(f, false, 46);
	fx_map4k(f, 0x7f0000401000ULL, PRWU, 0x123456000ULL);
	fx_map(f, 0x7f0000600000ULL, 2, big2m, 0x40000000ULL);
	fx_map(f, 0x40000000ULL, 3, big1g, 0x3c0000000ULL);

	r = fx_walk(f, 0x7f0000401abcULL, R, 3);
	assert_ok(r, 0x123456abcULL, 4096);
	assert_int_equal(r.levels, 4);
	assert_int_equal(r.pte_gpa[0].v, FX_CR3 + 0xfe * 8);
	assert_int_equal(r.pte[3] & ~0xfffULL, 0x123456000ULL);
	assert_int_equal(r.mode, VMMU_PAGING_4LEVEL);
	assert_ok(fx_walk(f, 0x7f00006fedcbULL, W, 3), 0x400fedcbULL, 2ULL << 20);
	r = fx_walk(f, 0x7ffffff8ULL, X, 0);
	assert_ok(r, 0x3ffffff8ULL | 0x3c0000000ULL, 1ULL << 30);
	assert_int_equal(r.levels, 2);
}

static void test_4level_not_present_each_level(void **state)
{
	struct fx *f = *state;
	const uint64_t gva = 0x0000123456789000ULL;
	unsigned level;

	fx_long(f, false, 46);
	for (level = 1; level <= 4; level++) {
		uint64_t fl[6] = { 0, PRWU, PRWU, PRWU, PRWU, 0 };
		struct vmmu_walk_result r;

		fl[level] &= ~P;
		fx_map(f, gva, 1, fl, 0x5000);
		r = fx_walk(f, gva + 0x10, W, 3);
		/* P = 0; W/R and U/S describe the access (SDM 4.7). */
		assert_pf(r, gva + 0x10, X86_PFEC_W | X86_PFEC_U);
		assert_int_equal(r.levels, 5 - level);
	}
}

/* Bit maxphyaddr of each entry is reserved (SDM Tables 4-14..4-19). */
static void test_4level_rsvd_maxphyaddr(void **state)
{
	struct fx *f = *state;
	static const unsigned mpa[] = { 36, 39, 46, 48, 51 };
	const uint64_t gva = 0x0000008040201000ULL;
	unsigned i, level;

	for (i = 0; i < sizeof(mpa) / sizeof(mpa[0]); i++) {
		fx_long(f, false, mpa[i]);
		for (level = 1; level <= 4; level++) {
			uint64_t fl[6] = { 0, PRWU, PRWU, PRWU, PRWU, 0 };
			struct vmmu_walk_result r;

			/* The highest address bit below MAXPHYADDR is fine... */
			if (level == 1) {
				fl[1] |= 1ULL << (mpa[i] - 1);
				fx_map(f, gva, 1, fl, 0x7000);
				assert_ok(fx_walk(f, gva, R, 0),
					  (1ULL << (mpa[i] - 1)) | 0x7000, 4096);
				fl[1] &= ~(1ULL << (mpa[i] - 1));
			}
			/* ...bit MAXPHYADDR is reserved at every level. */
			fl[level] |= 1ULL << mpa[i];
			fx_map(f, gva, 1, fl, 0x7000);
			r = fx_walk(f, gva, R, 0);
			assert_pf(r, gva, X86_PFEC_P | X86_PFEC_RSVD);
			assert_int_equal(r.levels, 5 - level);
			/* Bits 62:52 are ignored (SDM Table 4-19). */
			fl[level] &= ~(1ULL << mpa[i]);
			fl[level] |= 1ULL << 55;
			fx_map(f, gva, 1, fl, 0x7000);
			assert_true(fx_walk(f, gva, R, 0).ok);
		}
	}
	/* MAXPHYADDR 52: bit 51 is an address bit. */
	fx_long(f, false, 52);
	fx_map4k(f, gva, PRWU, 1ULL << 51);
	assert_ok(fx_walk(f, gva, R, 0), 1ULL << 51, 4096);
}

static void test_4level_large_page_rsvd(void **state)
{
	struct fx *f = *state;
	uint64_t fl2m[6] = { 0, 0, PRWU | PS, PRWU, PRWU, 0 };
	uint64_t fl1g[6] = { 0, 0, 0, PRWU | PS, PRWU, 0 };
	const uint64_t g2 = 0x200000ULL * 5, g1 = 1ULL << 31;
	unsigned bit;

	fx_long(f, false, 46);
	/* 2 MiB PDE: bits 20:13 reserved, bit 12 is PAT (SDM Table 4-18). */
	for (bit = 13; bit <= 20; bit++) {
		fx_map(f, g2, 2, fl2m, 0x40000000ULL | (1ULL << bit));
		assert_pf(fx_walk(f, g2, R, 0), g2, X86_PFEC_P | X86_PFEC_RSVD);
	}
	fx_map(f, g2, 2, fl2m, 0x40000000ULL | (1ULL << 12));
	assert_ok(fx_walk(f, g2 + 0x1234, R, 0), 0x40001234ULL, 2ULL << 20);
	/* 1 GiB PDPTE: bits 29:13 reserved (SDM Table 4-16). */
	for (bit = 13; bit <= 29; bit++) {
		fx_map(f, g1, 3, fl1g, 0x80000000ULL | (1ULL << bit));
		assert_pf(fx_walk(f, g1, R, 0), g1, X86_PFEC_P | X86_PFEC_RSVD);
	}
	fx_map(f, g1, 3, fl1g, 0x80000000ULL | (1ULL << 12));
	assert_ok(fx_walk(f, g1 + 0x123456, R, 0), 0x80123456ULL, 1ULL << 30);
	/* Without 1 GiB pages PS in a PDPTE is reserved. */
	f->ps.quirks = VMMU_PAGING_NO_1G;
	vmmu_paging_update(&f->ps);
	assert_pf(fx_walk(f, g1, R, 3), g1, X86_PFEC_P | X86_PFEC_RSVD | X86_PFEC_U);
	/* PS in a PML4E is reserved on every CPU (SDM Table 4-15). */
	f->ps.quirks = 0;
	vmmu_paging_update(&f->ps);
	fl1g[4] |= PS;
	fx_map(f, g1, 3, fl1g, 0x80000000ULL);
	assert_pf(fx_walk(f, g1, R, 0), g1, X86_PFEC_P | X86_PFEC_RSVD);
}

/* APM Vol. 2 Figure 5-18: bit 8 of a PML4E is MBZ on AMD; Intel ignores it. */
static void test_amd_pml4e_bit8(void **state)
{
	struct fx *f = *state;
	uint64_t fl[6] = { 0, PRWU, PRWU, PRWU, PRWU | X86_PTE_G, 0 };
	const uint64_t gva = 0x5000;

	fx_long(f, false, 48);
	fx_map(f, gva, 1, fl, 0x9000);
	assert_ok(fx_walk(f, gva, R, 0), 0x9000, 4096);
	f->ps.quirks = VMMU_PAGING_AMD;
	vmmu_paging_update(&f->ps);
	assert_pf(fx_walk(f, gva, R, 0), gva, X86_PFEC_P | X86_PFEC_RSVD);
	/* In a PDPTE or PDE bit 8 stays ignored on AMD. */
	fl[4] = PRWU;
	fl[3] |= X86_PTE_G;
	fl[2] |= X86_PTE_G;
	fx_map(f, gva, 1, fl, 0x9000);
	assert_ok(fx_walk(f, gva, R, 0), 0x9000, 4096);
}

static void test_4level_nx_reserved_without_nxe(void **state)
{
	struct fx *f = *state;
	const uint64_t gva = 0x3000;
	unsigned level;

	for (level = 1; level <= 4; level++) {
		uint64_t fl[6] = { 0, PRWU, PRWU, PRWU, PRWU, 0 };

		fx_regs(f, CR0_PG_PE_WP, X86_CR4_PAE, EFER_LM, 46);
		fl[level] |= NX;
		fx_map(f, gva, 1, fl, 0x8000);
		/* Bit 63 is reserved without EFER.NXE; fetch has no I/D. */
		assert_pf(fx_walk(f, gva, X, 0), gva, X86_PFEC_P | X86_PFEC_RSVD);
		fx_long(f, false, 46);
		assert_pf(fx_walk(f, gva, X, 0), gva, X86_PFEC_P | X86_PFEC_I);
		assert_ok(fx_walk(f, gva, R, 0), 0x8000, 4096);
	}
}

static void test_canonical_and_cr3(void **state)
{
	struct fx *f = *state;
	const uint64_t lo = 0x00007ffffffff000ULL, hi = 0xffff800000000000ULL;

	fx_long(f, false, 46);
	fx_map4k(f, lo, PRWU, 0x6000);
	fx_map4k(f, hi, PRWU, 0x7000);
	assert_ok(fx_walk(f, lo, R, 3), 0x6000, 4096);
	assert_ok(fx_walk(f, hi, R, 3), 0x7000, 4096);
	assert_gp(fx_walk(f, 0x0000800000000000ULL, R, 3));
	assert_gp(fx_walk(f, 0xfff0000000000000ULL, W, 0));
	/*
	 * A #GP walks nothing and sets no A bit: bits 47:0 of this address
	 * select the mapped page, but bit 48 makes it non-canonical.
	 */
	assert_int_equal(rd(f, FX_CR3 + 0xff * 8, 8) & A, A);
	wr(f, FX_CR3 + 0xff * 8, rd(f, FX_CR3 + 0xff * 8, 8) & ~A, 8);
	assert_int_equal(fx_walk(f, lo | (1ULL << 48), R, 0).levels, 0);
	assert_gp(fx_walk(f, lo | (1ULL << 48), R, 0));
	assert_int_equal(rd(f, FX_CR3 + 0xff * 8, 8) & A, 0);
	/* CR3 address bits above MAXPHYADDR: MOV to CR3 would #GP. */
	f->ps.cr3 |= 1ULL << 46;
	assert_gp(fx_walk(f, lo, R, 0));
}

static void test_5level(void **state)
{
	struct fx *f = *state;
	const uint64_t gva = 0x00ab000012345000ULL;  /* canonical at 57 bits */
	uint64_t fl[6] = { 0, PRWU, PRWU, PRWU, PRWU, PRWU };
	struct vmmu_walk_result r;

	fx_long(f, true, 52);
	fx_map(f, gva, 1, fl, 0xabcde000ULL);
	r = fx_walk(f, gva + 0x42, R, 3);
	assert_ok(r, 0xabcde042ULL, 4096);
	assert_int_equal(r.levels, 5);
	assert_int_equal(r.mode, VMMU_PAGING_5LEVEL);
	assert_int_equal(r.pte_gpa[0].v, FX_CR3 + ((gva >> 48) & 0x1ff) * 8);
	assert_gp(fx_walk(f, 0x0100000000000000ULL, R, 3));
	/* Canonical at 57 bits, not mapped: a not-present #PF, not #GP. */
	assert_pf(fx_walk(f, 0xff00000000000000ULL, R, 3), 0xff00000000000000ULL,
		  X86_PFEC_U);
	/* The same address is non-canonical for 4-level paging. */
	fx_long(f, false, 52);
	assert_gp(fx_walk(f, gva, R, 3));
	/* PS in a PML5E is reserved; on AMD so is bit 8. */
	fx_long(f, true, 52);
	fl[5] |= PS;
	fx_map(f, gva, 1, fl, 0xabcde000ULL);
	assert_pf(fx_walk(f, gva, R, 3), gva, X86_PFEC_P | X86_PFEC_RSVD | X86_PFEC_U);
	fl[5] = PRWU | X86_PTE_G;
	fx_map(f, gva, 1, fl, 0xabcde000ULL);
	assert_true(fx_walk(f, gva, R, 3).ok);
	f->ps.quirks = VMMU_PAGING_AMD;
	vmmu_paging_update(&f->ps);
	assert_pf(fx_walk(f, gva, R, 3), gva, X86_PFEC_P | X86_PFEC_RSVD | X86_PFEC_U);
}

/* 32-bit paging: Tables 4-4 to 4-6, 4-byte entries, 10-bit indices. */
static void test_2level(void **state)
{
	struct fx *f = *state;
	const uint64_t fl[6] = { 0, PRWU, PRWU, 0, 0, 0 };
	const uint64_t fl4m[6] = { 0, 0, PRWU | PS, 0, 0, 0 };
	struct vmmu_walk_result r;

	fx_regs(f, CR0_PG_PE_WP, 0, X86_EFER_NXE, 40);
	fx_map(f, 0xc0301000ULL, 1, fl, 0x00abc000ULL);
	r = fx_walk(f, 0xc0301123ULL, W, 3);
	assert_ok(r, 0xabc123ULL, 4096);
	assert_int_equal(r.levels, 2);
	assert_int_equal(r.pte_gpa[0].v, FX_CR3 + (0xc0301000ULL >> 22) * 4);
	assert_int_equal(rd(f, r.pte_gpa[1].v, 4), 0x00abc000ULL | PRWU | A | D);
	/* Bits above 31 of the linear address do not exist here. */
	assert_ok(fx_walk(f, 0x7c0301123ULL, R, 3), 0xabc123ULL, 4096);
	/* EFER.NXE has no effect: a fetch fault has no I/D without SMEP. */
	assert_pf(fx_walk(f, 0x1000, X, 3), 0x1000, X86_PFEC_U);
	/* Without CR4.PSE, PS in a PDE is ignored: the PDE maps a table. */
	fx_map(f, 0x00800000ULL, 2, fl4m, 0x20000ULL);
	wr(f, 0x20000ULL + 4, 0x00def000ULL | PRWU, 4);
	assert_ok(fx_walk(f, 0x00801010ULL, R, 0), 0xdef010ULL, 4096);
	/*
	 * With CR4.PSE the same PDE maps a 4 MiB page; its bit 17 (0x20000)
	 * is PSE-36 bit 36 of the physical address.
	 */
	fx_regs(f, CR0_PG_PE_WP, X86_CR4_PSE, 0, 40);
	assert_ok(fx_walk(f, 0x00801010ULL, R, 0), 0x1000001010ULL, 4ULL << 20);
}

/* PSE-36 (Table 4-4): PDE bits (M-20):13 are physical (M-1):32, M <= 40. */
static void test_2level_pse36(void **state)
{
	struct fx *f = *state;
	uint64_t fl4m[6] = { 0, 0, PRWU | PS, 0, 0, 0 };
	const uint64_t gva = 0x40000000ULL;
	unsigned bit;

	fx_regs(f, CR0_PG_PE_WP, X86_CR4_PSE, 0, 40);
	/* 0xff in bits 20:13 gives physical bits 39:32 = 0xff. */
	fx_map(f, gva, 2, fl4m, 0x01c00000ULL | (0xffULL << 13));
	assert_ok(fx_walk(f, gva + 0x3abcde, R, 0), 0xff01fabcdeULL, 4ULL << 20);
	/* Bit 21 is always reserved. */
	fx_map(f, gva, 2, fl4m, 0x01c00000ULL | (1ULL << 21));
	assert_pf(fx_walk(f, gva, R, 0), gva, X86_PFEC_P | X86_PFEC_RSVD);
	/* MAXPHYADDR 52 still gives only 40 bits: bit 21 reserved. */
	fx_regs(f, CR0_PG_PE_WP, X86_CR4_PSE, 0, 52);
	assert_pf(fx_walk(f, gva, R, 0), gva, X86_PFEC_P | X86_PFEC_RSVD);
	/* MAXPHYADDR 36: bits 16:13 are address, 21:17 reserved. */
	fx_regs(f, CR0_PG_PE_WP, X86_CR4_PSE, 0, 36);
	fx_map(f, gva, 2, fl4m, 0xfULL << 13);
	assert_ok(fx_walk(f, gva, R, 0), 0xf00000000ULL, 4ULL << 20);
	for (bit = 17; bit <= 21; bit++) {
		fx_map(f, gva, 2, fl4m, 1ULL << bit);
		assert_pf(fx_walk(f, gva, R, 0), gva, X86_PFEC_P | X86_PFEC_RSVD);
	}
	/* MAXPHYADDR 32: bits 21:13 all reserved. */
	fx_regs(f, CR0_PG_PE_WP, X86_CR4_PSE, 0, 32);
	fx_map(f, gva, 2, fl4m, 1ULL << 13);
	assert_pf(fx_walk(f, gva, R, 0), gva, X86_PFEC_P | X86_PFEC_RSVD);
	/* A 4 KiB PTE has no reserved bits (bit 7 is PAT). */
	fx_regs(f, CR0_PG_PE_WP, X86_CR4_PSE, 0, 32);
	{
		const uint64_t fl4k[6] = { 0, PRWU | PS, PRWU, 0, 0, 0 };

		fx_map(f, 0x1000, 1, fl4k, 0xfffff000ULL);
		assert_ok(fx_walk(f, 0x1000, R, 0), 0xfffff000ULL, 4096);
	}
}

static void pae_regs(struct fx *f, uint64_t efer, unsigned maxphyaddr)
{
	fx_regs(f, CR0_PG_PE_WP, X86_CR4_PAE, efer, maxphyaddr);
}

/* PAE paging: Tables 4-7 to 4-11; PDPTEs are registers (SDM 4.4.1). */
static void test_pae(void **state)
{
	struct fx *f = *state;
	const uint64_t fl[6] = { 0, PRWU, PRWU, P, 0, 0 };
	const uint64_t fl2m[6] = { 0, 0, PRWU | PS, P, 0, 0 };
	struct vmmu_walk_result r;

	pae_regs(f, X86_EFER_NXE, 36);
	fx_map(f, 0xc0001000ULL, 1, fl, 0xf00001000ULL);
	fx_map(f, 0x80200000ULL, 2, fl2m, 0x600000ULL);
	assert_int_equal(vmmu_paging_load_pdptes(&f->ps, &f->mem), 0);
	assert_true(f->ps.pdptes_loaded);
	r = fx_walk(f, 0xc0001008ULL, W, 3);
	assert_ok(r, 0xf00001008ULL, 4096);
	assert_int_equal(r.levels, 3);
	assert_int_equal(r.pte_gpa[0].v, FX_CR3 + 3 * 8);
	/* No A bit on the PDPTE (SDM 4.8), A on the PDE, A|D on the PTE. */
	assert_int_equal(rd(f, FX_CR3 + 3 * 8, 8) & (A | D), 0);
	assert_int_equal(rd(f, r.pte_gpa[1].v, 8) & (A | D), A);
	assert_int_equal(rd(f, r.pte_gpa[2].v, 8) & (A | D), A | D);
	assert_ok(fx_walk(f, 0x802fffffULL, R, 0), 0x6fffffULL, 2ULL << 20);
	/* A not-present PDPTE is a #PF with P = 0. */
	assert_pf(fx_walk(f, 0x1000, R, 3), 0x1000, X86_PFEC_U);
	/* PDPTE registers stay as loaded until the next CR3 load. */
	wr(f, FX_CR3 + 3 * 8, 0, 8);
	assert_true(fx_walk(f, 0xc0001008ULL, R, 3).ok);
	assert_int_equal(vmmu_paging_load_pdptes(&f->ps, &f->mem), 0);
	assert_pf(fx_walk(f, 0xc0001008ULL, R, 3), 0xc0001008ULL, X86_PFEC_U);
}

static void test_pae_rsvd(void **state)
{
	struct fx *f = *state;
	uint64_t fl[6] = { 0, PRWU, PRWU, P, 0, 0 };
	static const unsigned pdpte_bits[] = { 1, 2, 5, 6, 7, 8, 36, 52, 62, 63 };
	const uint64_t gva = 0x40002000ULL;
	unsigned i;

	for (i = 0; i < sizeof(pdpte_bits) / sizeof(pdpte_bits[0]); i++) {
		pae_regs(f, X86_EFER_NXE, 36);
		fl[3] = P | (1ULL << pdpte_bits[i]);
		fx_map(f, gva, 1, fl, 0x5000);
		/* MOV to CR3 would #GP: every access reports vector 13. */
		assert_int_equal(vmmu_paging_load_pdptes(&f->ps, &f->mem),
				 VMMU_EINVAL);
		assert_false(f->ps.pdptes_loaded);
		assert_gp(fx_walk(f, gva, R, 0));
		assert_gp(fx_walk(f, 0x0, R, 0));
	}
	/* Ignored PDPTE bits 11:9 and the PWT/PCD bits are fine. */
	fl[3] = P | 0xe18;
	fx_map(f, gva, 1, fl, 0x5000);
	assert_int_equal(vmmu_paging_load_pdptes(&f->ps, &f->mem), 0);
	assert_ok(fx_walk(f, gva, R, 0), 0x5000, 4096);
	/* Bits 62:M of PDEs/PTEs are reserved in PAE mode (Table 4-10/11). */
	fl[3] = P;
	fl[1] = PRWU | (1ULL << 60);
	fx_map(f, gva, 1, fl, 0x5000);
	assert_pf(fx_walk(f, gva, R, 0), gva, X86_PFEC_P | X86_PFEC_RSVD);
	fl[1] = PRWU | (1ULL << 36);
	fx_map(f, gva, 1, fl, 0x5000);
	assert_pf(fx_walk(f, gva, R, 0), gva, X86_PFEC_P | X86_PFEC_RSVD);
	fl[1] = PRWU;
	fl[2] = PRWU | NX;
	fx_map(f, gva, 1, fl, 0x5000);
	assert_pf(fx_walk(f, gva, X, 0), gva, X86_PFEC_P | X86_PFEC_I);
	/* Without NXE bit 63 is reserved in a PDE. */
	pae_regs(f, 0, 36);
	assert_pf(fx_walk(f, gva, X, 0), gva, X86_PFEC_P | X86_PFEC_RSVD);
	/* ... and in a PTE (Table 4-11), for reads too; with NXE it is XD. */
	fl[2] = PRWU;
	fl[1] = PRWU | NX;
	fx_map(f, gva, 1, fl, 0x5000);
	assert_pf(fx_walk(f, gva, R, 0), gva, X86_PFEC_P | X86_PFEC_RSVD);
	pae_regs(f, X86_EFER_NXE, 36);
	fx_map(f, gva, 1, fl, 0x5000);
	assert_ok(fx_walk(f, gva, R, 0), 0x5000, 4096);
	fl[1] = PRWU;
	/* 2 MiB PDE: bits 20:13 reserved. */
	pae_regs(f, X86_EFER_NXE, 36);
	fl[2] = PRWU | PS;
	fx_map(f, 0x40200000ULL, 2, fl, 0x400000ULL | (1ULL << 13));
	assert_pf(fx_walk(f, 0x40200000ULL, R, 0), 0x40200000ULL,
		  X86_PFEC_P | X86_PFEC_RSVD);
}

static void test_invalid_states(void **state)
{
	struct fx *f = *state;
	struct vmmu_access acc = { mk_gva(0), VMMU_ACCESS_READ, 0, false };
	struct vmmu_walk_result res;

	fx_regs(f, X86_CR0_PG, 0, 0, 36);            /* PG without PE */
	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, &res), VMMU_EINVAL);
	fx_regs(f, CR0_PG_PE, 0, EFER_LM, 36);        /* long mode without PAE */
	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, &res), VMMU_EINVAL);
	fx_long(f, false, 31);
	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, &res), VMMU_EINVAL);
	fx_long(f, false, 53);
	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, &res), VMMU_EINVAL);
	fx_long(f, false, 46);
	acc.cpl = 4;
	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, &res), VMMU_EINVAL);
	acc.cpl = 0;
	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, NULL), VMMU_EINVAL);
	/* Tables outside guest RAM: the walker reports the memory error. */
	f->ps.cr3 = 0x10000000ULL;
	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, &res), VMMU_ENOENT);
	/* EFER.LME alone (as before the CPU sets LMA) means long mode. */
	fx_regs(f, CR0_PG_PE, X86_CR4_PAE, X86_EFER_LME, 36);
	assert_int_equal(vmmu_paging_mode(&f->ps), VMMU_PAGING_4LEVEL);
}

/* A role that was not updated after a register change is rebuilt. */
static void test_stale_role(void **state)
{
	struct fx *f = *state;

	fx_long(f, false, 46);
	fx_map4k(f, 0x2000, P | US, 0x3000);
	assert_pf(fx_walk(f, 0x2000, W, 0), 0x2000, X86_PFEC_P | X86_PFEC_W);
	f->ps.cr0 &= ~X86_CR0_WP;        /* no vmmu_paging_update() */
	assert_ok(fx_walk(f, 0x2000, W, 0), 0x3000, 4096);
	f->ps.maxphyaddr = 40;
	fx_map4k(f, 0x2000, P | US, 1ULL << 40);
	assert_pf(fx_walk(f, 0x2000, R, 0), 0x2000, X86_PFEC_P | X86_PFEC_RSVD);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_paging_off_is_identity),
		T(test_4level_4k_2m_1g),
		T(test_4level_not_present_each_level),
		T(test_4level_rsvd_maxphyaddr),
		T(test_4level_large_page_rsvd),
		T(test_amd_pml4e_bit8),
		T(test_4level_nx_reserved_without_nxe),
		T(test_canonical_and_cr3),
		T(test_5level),
		T(test_2level),
		T(test_2level_pse36),
		T(test_pae),
		T(test_pae_rsvd),
		T(test_invalid_states),
		T(test_stale_role),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
