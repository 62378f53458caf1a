/* SPDX-License-Identifier: MIT */
/*
 * The hardware side of NPT on its own (npt/npt_hw.c): nested tables
 * written byte by byte here, walked as the CPU walks them.
 *
 *  - every access kind x entry property (not present, U/S = 0, R/W = 0,
 *    NX) x the level of the entry x leaf size x final gpa or guest
 *    page-table access, 4 and 5 levels, against the APM's rules
 *    (Vol. 2 15.25.5/15.25.6, 8.4.2) and the literal EXITINFO1 values
 *    kvm-unit-tests' svm_npt tests and QEMU/Bochs (docs/hypervisor.md)
 *    give;
 *  - reserved bits (APM 5.3.3) at every level: MAXPHYADDR, bit 63 without
 *    EFER.NXE, bits 8:7 of PML4E/PML5E, a 1 GiB PDPE without Page1GB,
 *    the low bits of 1 GiB and 2 MiB leaves, and the bits that are not
 *    reserved;
 *  - the independent guest walker (core/walk.c, itself checked against
 *    KVM, QEMU and Bochs) on the same random tables as a CPL-3 long-mode
 *    walk on an AMD CPU gives the same outcome for 20,000 random walks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/vmmu.h"
#include "host/hosted.h"
#include "npt/npt_hw.h"
#include "npt/npt_format.h"

#define P   X86_PTE_P
#define RW  X86_PTE_RW
#define US  X86_PTE_US
#define PS  X86_PTE_PS
#define NX  X86_PTE_NX
#define PRWU (P | RW | US)
#define R VMMU_ACCESS_READ
#define W VMMU_ACCESS_WRITE
#define X VMMU_ACCESS_FETCH
#define FINAL NPF_INFO_FINAL_GPA
#define GPT   NPF_INFO_GUEST_PT

static struct vmmu_hosted_arena *arena;
static struct vmmu_platform plat;
static struct npt_hw hw;

static int setup(void **state)
{
	(void)state;
	if (vmmu_hosted_create(64ULL << 20, &arena) < 0)
		return -1;
	vmmu_hosted_platform(arena, &plat);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vmmu_hosted_destroy(arena);
	return 0;
}

static uint64_t new_page(void)
{
	hpa_t h;

	assert_int_equal(plat.alloc_page(plat.ctx, &h), 0);
	return h.v;
}

static uint64_t *entry(uint64_t table, uint64_t gpa, unsigned level)
{
	uint64_t *t = plat.map(plat.ctx, mk_hpa(table));

	return &t[vmmu_pt_index(gpa, level)];
}

/*
 * A fresh tree mapping gpa with a leaf at leaf_level (P, R/W, U/S in
 * every entry); slots[level] gets each entry's address.
 */
static void build(unsigned levels, uint64_t gpa, unsigned leaf_level,
		  uint64_t leaf_addr, uint64_t *slots[6])
{
	uint64_t table = new_page();
	unsigned l;

	hw.ncr3 = table;
	hw.levels = (uint8_t)levels;
	for (l = levels; l > leaf_level; l--) {
		uint64_t next = new_page();

		slots[l] = entry(table, gpa, l);
		*slots[l] = next | PRWU;
		table = next;
	}
	slots[leaf_level] = entry(table, gpa, leaf_level);
	*slots[leaf_level] = leaf_addr | PRWU | (leaf_level > 1 ? PS : 0);
}

static struct vmmu_nested_walk walk(uint64_t gpa, enum vmmu_access_kind k,
				    bool gpt)
{
	struct vmmu_nested_walk out;

	memset(&out, 0, sizeof(out));
	assert_int_equal(npt_hw_walk(&hw, &plat, mk_gpa(gpa), k, gpt, NULL,
				     &out), 0);
	return out;
}

static void host_defaults(void)
{
	hw.maxphyaddr = 48;
	hw.nxe = true;
	hw.smep = false;
	hw.gbpages = true;
}

enum prop { NONE, NOTP, NOU, NORW, NXB, PROPS };

/* The APM's rule (15.25.5, 8.4.2), written from the manual. */
static uint64_t expect(enum prop p, enum vmmu_access_kind k, bool gpt)
{
	uint64_t code = NPF_U | (k == W ? NPF_W : 0) | (k == X ? NPF_ID : 0);
	uint64_t where = gpt ? GPT : FINAL;

	switch (p) {
	case NONE: return 0;
	case NOTP: return code | where;
	case NOU: return code | NPF_P | where;
	case NORW: return k == W ? code | NPF_P | where : 0;
	case NXB: return k == X ? code | NPF_P | where : 0;
	default: return ~0ULL;
	}
}

static void test_matrix(void **state)
{
	static const uint64_t pbits[PROPS] = { 0, P, US, RW, NX };
	const uint64_t gpa = 0x12345678000ULL | 0x123;
	unsigned levels, leaf, at, p, k, cases = 0;
	uint64_t *slots[6];

	(void)state;
	host_defaults();
	for (levels = 4; levels <= 5; levels++)
	for (leaf = 1; leaf <= 3; leaf++) {
		uint64_t size = vmmu_pt_level_size(leaf);

		build(levels, gpa, leaf, 0x40000000ULL, slots);
		for (at = leaf; at <= levels; at++)
		for (p = 0; p < PROPS; p++)
		for (k = 0; k < 3; k++)
		for (unsigned g = 0; g < 2; g++) {
			uint64_t save = *slots[at], want;
			struct vmmu_nested_walk o;

			*slots[at] = p == NXB ? save | NX : save & ~pbits[p];
			o = walk(gpa, k, g);
			want = expect(p, k, g);
			*slots[at] = save;
			cases++;
			if (!want) {
				assert_true(o.ok);
				assert_int_equal(o.hpa.v, 0x40000000ULL +
						 (gpa & (size - 1)));
				assert_int_equal(o.page_size, size);
				assert_int_equal(o.refs, levels - leaf + 1);
				continue;
			}
			assert_false(o.ok);
			assert_int_equal(o.exit.kind, VMMU_EXIT_NPF);
			assert_int_equal(o.exit.exitinfo1, want);
			assert_int_equal(o.exit.exitinfo2, gpa);
			/* A not-present entry ends the walk where it is. */
			assert_int_equal(o.refs, p == NOTP ? levels - at + 1
							   : levels - leaf + 1);
		}
	}
	assert_int_equal(cases, (4 + 3 + 2 + 5 + 4 + 3) * PROPS * 3 * 2);
}

/* The values kvm-unit-tests (svm_npt) and QEMU/Bochs report. */
static void test_reference_values(void **state)
{
	const uint64_t gpa = 0x7000;
	uint64_t *s[6];

	(void)state;
	host_defaults();
	build(4, gpa, 1, 0x80000, s);
	*s[1] &= ~P;            /* npt_np; QEMU/Bochs unmapped final gpa */
	assert_int_equal(walk(gpa, R, false).exit.exitinfo1, 0x100000004ULL);
	/* QEMU/Bochs: unmapped guest page-table page, walked as a write. */
	assert_int_equal(walk(gpa, W, true).exit.exitinfo1, 0x200000006ULL);
	*s[1] |= P | NX;        /* npt_nx: fetch from an NX page */
	assert_int_equal(walk(gpa, X, false).exit.exitinfo1, 0x100000015ULL);
	*s[1] &= ~(NX | US);    /* npt_us: read of a supervisor page */
	assert_int_equal(walk(gpa, R, false).exit.exitinfo1, 0x100000005ULL);
	*s[1] = (*s[1] | US) & ~RW; /* npt_rw; QEMU/Bochs write to R-X */
	assert_int_equal(walk(gpa, W, false).exit.exitinfo1, 0x100000007ULL);
	/* npt_rw_pfwalk: the guest's page table in a read-only page. */
	assert_int_equal(walk(gpa, W, true).exit.exitinfo1, 0x200000007ULL);
	assert_int_equal(walk(gpa, W, true).exit.exitinfo2, gpa);
	*s[1] |= RW;
	/* npt_rsvd_pfwalk / svm_npt_rsvd_bits: bit 8 of the PML4E. */
	*s[4] |= 1ULL << 8;
	assert_int_equal(walk(gpa, W, true).exit.exitinfo1, 0x20000000fULL);
	*s[4] &= ~(1ULL << 8);
	/* Reserved bit in the final walk's PDE, on a fetch under NXE. */
	*s[2] |= 1ULL << 47;
	hw.maxphyaddr = 40;
	assert_int_equal(walk(gpa, X, false).exit.exitinfo1, 0x10000001dULL);
	hw.nxe = false;         /* ... and without NXE or SMEP: no I/D */
	assert_int_equal(walk(gpa, X, false).exit.exitinfo1, 0x10000000dULL);
	hw.smep = true;         /* SMEP alone sets I/D */
	assert_int_equal(walk(gpa, X, false).exit.exitinfo1, 0x10000001dULL);
}

struct rsvd_case {
	unsigned level;         /* entry to change */
	unsigned leaf;          /* leaf level of the tree */
	uint64_t bit;
	bool nxe, gbpages;
	bool reserved;
};

static void test_reserved_bits(void **state)
{
	static const struct rsvd_case cases[] = {
		/* MAXPHYADDR 40: bits 51:40 reserved, 39 is address. */
		{ 5, 1, 1ULL << 40, true, true, true },
		{ 4, 1, 1ULL << 51, true, true, true },
		{ 3, 1, 1ULL << 45, true, true, true },
		{ 2, 1, 1ULL << 40, true, true, true },
		{ 1, 1, 1ULL << 40, true, true, true },
		{ 3, 3, 1ULL << 40, true, true, true },
		{ 2, 2, 1ULL << 40, true, true, true },
		{ 1, 1, 1ULL << 39, true, true, false },
		/* Bit 63 without EFER.NXE, at every level. */
		{ 5, 1, NX, false, true, true },
		{ 4, 1, NX, false, true, true },
		{ 3, 1, NX, false, true, true },
		{ 2, 1, NX, false, true, true },
		{ 1, 1, NX, false, true, true },
		{ 2, 2, NX, false, true, true },
		/* PML5E and PML4E bits 7 and 8 MBZ; ignored in PDPE/PDE. */
		{ 5, 1, 1ULL << 7, true, true, true },
		{ 5, 1, 1ULL << 8, true, true, true },
		{ 4, 1, 1ULL << 7, true, true, true },
		{ 4, 1, 1ULL << 8, true, true, true },
		{ 3, 1, 1ULL << 8, true, true, false },
		{ 2, 1, 1ULL << 8, true, true, false },
		/* PTE: PAT and G are not reserved. */
		{ 1, 1, 1ULL << 7, true, true, false },
		{ 1, 1, 1ULL << 8, true, true, false },
		/* 1 GiB leaf: bits 29:13 reserved, 12 is PAT; no Page1GB. */
		{ 3, 3, 1ULL << 13, true, true, true },
		{ 3, 3, 1ULL << 29, true, true, true },
		{ 3, 3, 1ULL << 12, true, true, false },
		{ 3, 3, 0, true, false, true },
		/* 2 MiB leaf: bits 20:13 reserved, 12 is PAT. */
		{ 2, 2, 1ULL << 13, true, true, true },
		{ 2, 2, 1ULL << 20, true, true, true },
		{ 2, 2, 1ULL << 12, true, true, false },
		/* Software-available bits 62:52 and 11:9 are ignored. */
		{ 4, 1, 1ULL << 52, true, true, false },
		{ 3, 1, 1ULL << 62, true, true, false },
		{ 2, 2, 1ULL << 9, true, true, false },
	};
	const uint64_t gpa = 0x8040201000ULL;
	unsigned i, k;
	uint64_t *s[6];

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rsvd_case *c = &cases[i];

		host_defaults();
		hw.maxphyaddr = 40;
		hw.nxe = c->nxe;
		hw.gbpages = c->gbpages;
		build(5, gpa, c->leaf, 0x40000000ULL, s);
		*s[c->level] |= c->bit;
		for (k = 0; k < 3; k++) {
			struct vmmu_nested_walk o = walk(gpa, k, false);
			uint64_t want = NPF_P | NPF_RSVD | NPF_U | FINAL |
				(k == W ? NPF_W : 0) |
				(k == X && c->nxe ? NPF_ID : 0);

			if (!c->reserved) {
				assert_true(o.ok);
				continue;
			}
			assert_false(o.ok);
			assert_int_equal(o.exit.exitinfo1, want);
			/* The walk stops at the entry with the bit. */
			assert_int_equal(o.refs, 5 - c->level + 1);
		}
		/* Not present: P = 0 and reserved bits are not looked at. */
		*s[c->level] &= ~P;
		assert_int_equal(walk(gpa, R, false).exit.exitinfo1,
				 NPF_U | FINAL);
	}
}

/* A and D (APM 5.4.1): set on success only, D in the leaf of a write. */
static void test_accessed_dirty(void **state)
{
	const uint64_t gpa = 0x5000;
	uint64_t *s[6];
	unsigned l;

	(void)state;
	host_defaults();
	build(4, gpa, 1, 0x9000, s);
	*s[1] &= ~RW;
	assert_false(walk(gpa, W, false).ok);
	for (l = 1; l <= 4; l++)
		assert_false(*s[l] & (X86_PTE_A | X86_PTE_D));
	assert_true(walk(gpa, R, false).ok);
	for (l = 1; l <= 4; l++)
		assert_int_equal(*s[l] & (X86_PTE_A | X86_PTE_D), X86_PTE_A);
	*s[1] |= RW;
	assert_true(walk(gpa, W, false).ok);
	assert_true(*s[1] & X86_PTE_D);
	assert_false(*s[2] & X86_PTE_D);
}

/* A start from a nested paging-structure-cache entry reads less. */
static void test_pwc_start(void **state)
{
	const uint64_t gpa = 0x40201000ULL;
	struct vmmu_tlb_pwc_hit hit;
	struct vmmu_nested_walk o, c;
	uint64_t *s[6];

	(void)state;
	host_defaults();
	build(4, gpa, 1, 0x9000, s);
	o = walk(gpa, R, false);
	assert_true(o.ok);
	assert_int_equal(o.ntables, 3);
	assert_int_equal(o.table_level[2], 2);
	hit.level = 1;
	hit.table = o.table_hpa[2].v;
	hit.rights = o.table_prot[2];
	memset(&c, 0, sizeof(c));
	assert_int_equal(npt_hw_walk(&hw, &plat, mk_gpa(gpa), W, false, &hit,
				     &c), 0);
	assert_true(c.ok);
	assert_int_equal(c.refs, 1);
	assert_int_equal(c.hpa.v, o.hpa.v);
	/* Rights cached as read-only stay read-only. */
	hit.rights = VMMU_PROT_R | VMMU_PROT_X;
	memset(&c, 0, sizeof(c));
	assert_int_equal(npt_hw_walk(&hw, &plat, mk_gpa(gpa), W, false, &hit,
				     &c), 0);
	assert_int_equal(c.exit.exitinfo1, NPF_P | NPF_W | NPF_U | FINAL);
}

/* ---- against the guest walker on random tables ----------------------- */

static uint64_t rs = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dULL;
}

static bool chance(unsigned pct)
{
	return rnd() % 100 < pct;
}

#define RT_TABLES 6
static uint64_t rt[RT_TABLES];

static uint64_t rand_entry(void)
{
	uint64_t e = chance(90) ? rt[rnd() % RT_TABLES]
				: (rnd() % 0x10000) << 21;

	if (chance(96)) e |= P;
	if (chance(85)) e |= RW;
	if (chance(90)) e |= US;
	if (chance(20)) e |= PS;
	if (chance(8)) e |= NX;
	if (chance(3)) e |= 1ULL << (40 + rnd() % 12);      /* rsvd */
	if (chance(3)) e |= 1ULL << (13 + rnd() % 17);
	if (chance(3)) e |= 1ULL << 8;
	e |= rnd() & (X86_PTE_A | X86_PTE_D);
	return e;
}

static int hmem_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	uint8_t *p = plat.map(plat.ctx, mk_hpa(gpa.v));

	(void)ctx;
	if (!p)
		return VMMU_EFAULT;
	memcpy(buf, p, len);
	return 0;
}

static int hmem_cas(void *ctx, gpa_t gpa, uint64_t old, uint64_t nv,
		    size_t len)
{
	uint64_t *p = plat.map(plat.ctx, mk_hpa(gpa.v));

	(void)ctx;
	if (!p || len != 8)
		return VMMU_EFAULT;
	return __atomic_compare_exchange_n(p, &old, nv, false,
		__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) ? 0 : 1;
}

static void test_against_walker(void **state)
{
	struct vmmu_gmem mem = { NULL, hmem_read, hmem_cas };
	struct vmmu_paging_state ps;
	unsigned i, j, ok = 0;

	(void)state;
	for (i = 0; i < RT_TABLES; i++)
		rt[i] = new_page();
	for (i = 0; i < 20000; i++) {
		unsigned levels = chance(50) ? 5 : 4;
		enum vmmu_access_kind k = (enum vmmu_access_kind)(rnd() % 3);
		uint64_t gpa = (rnd() & ((1ULL << (levels == 5 ? 56 : 47)) - 1)) &
			       ~7ULL;
		struct vmmu_access acc = { mk_gva(gpa), k, 3, false };
		struct vmmu_walk_result wr;
		struct vmmu_nested_walk o;
		int rc;

		if (i % 64 == 0)
			for (j = 0; j < RT_TABLES * 512; j++)
				((uint64_t *)plat.map(plat.ctx,
					mk_hpa(rt[j / 512])))[j % 512] = rand_entry();
		host_defaults();
		hw.levels = (uint8_t)levels;
		hw.ncr3 = rt[0];
		hw.maxphyaddr = (uint8_t)(40 + rnd() % 13);
		hw.nxe = chance(80);
		hw.gbpages = chance(70);
		memset(&ps, 0, sizeof(ps));
		ps.cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
		ps.cr4 = X86_CR4_PAE | (levels == 5 ? X86_CR4_LA57 : 0);
		ps.efer = X86_EFER_LME | X86_EFER_LMA |
			  (hw.nxe ? X86_EFER_NXE : 0);
		ps.cr3 = hw.ncr3;
		ps.rflags = 2;
		ps.maxphyaddr = hw.maxphyaddr;
		ps.quirks = VMMU_PAGING_AMD | (hw.gbpages ? 0 : VMMU_PAGING_NO_1G);
		vmmu_paging_update(&ps);
		memset(&o, 0, sizeof(o));
		rc = npt_hw_walk(&hw, &plat, mk_gpa(gpa), k, false, NULL, &o);
		if (rc == VMMU_EFAULT) {
			/* A "table" outside host memory: neither can read it. */
			assert_true(vmmu_walk(&ps, &mem, &acc, &wr) < 0);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(vmmu_walk(&ps, &mem, &acc, &wr), 0);
		assert_int_equal(o.ok, wr.ok);
		if (wr.ok) {
			assert_int_equal(o.hpa.v, wr.gpa.v);
			assert_int_equal(o.page_size, wr.page_size);
			ok++;
		} else {
			assert_int_equal(wr.vector, X86_VEC_PF);
			assert_int_equal(o.exit.exitinfo1,
					 (uint64_t)wr.error_code | FINAL);
		}
	}
	/* Both outcomes occur often enough to mean something. */
	assert_true(ok > 500 && ok < 19500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_reference_values),
		cmocka_unit_test(test_reserved_bits),
		cmocka_unit_test(test_accessed_dirty),
		cmocka_unit_test(test_pwc_start),
		cmocka_unit_test(test_against_walker),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
