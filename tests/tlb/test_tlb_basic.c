/* SPDX-License-Identifier: MIT */
/*
 * The TLB model: exact counters on hand-built sequences, refused hits
 * (guest rights, nested rights, write to a clean entry), the L1/STLB
 * refill, page sizes, capacity and LRU replacement, the paging-structure
 * caches' start levels, and configuration errors.
 */
#include "tlb_common.h"

#define VA 0x00007f0000001000ULL

static void test_counters_hits(void **state)
{
	struct vmmu_paging_state ps;
	struct vmmu_tlb *t = tlb_new_default();

	(void)state;
	ps_long(&ps);
	vmmu_tlb_set_tag(t, 1, 0, 0);
	fill_rw(t, VA, 0x5000, KiB4, false);
	assert_int_equal(vmmu_tlb_stats(t)->arr_fills[VMMU_TLB_L1D_4K], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_fills[VMMU_TLB_STLB], 1);
	/* hit in L1D_4K: hpa keeps the page offset */
	assert_int_equal(look(t, &ps, VA + 0x123, VMMU_ACCESS_READ), 0x5123);
	/* a miss probes every data array: L1D 4K, LARGE, 1G, STLB, STLB_1G */
	assert_int_equal(look(t, &ps, VA + KiB4, VMMU_ACCESS_READ), ~0ULL);
	/* a fetch misses L1I_4K and L1I_LARGE, hits the STLB, refills L1I */
	assert_int_equal(look(t, &ps, VA + 8, VMMU_ACCESS_FETCH), 0x5008);
	assert_int_equal(look(t, &ps, VA + 9, VMMU_ACCESS_FETCH), 0x5009);

	assert_int_equal(vmmu_tlb_stats(t)->lookups, 4);
	assert_int_equal(vmmu_tlb_stats(t)->hits, 3);
	assert_int_equal(vmmu_tlb_stats(t)->misses, 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_lookups[VMMU_TLB_L1D_4K], 2);
	assert_int_equal(vmmu_tlb_stats(t)->arr_hits[VMMU_TLB_L1D_4K][VMMU_TLB_4K], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_misses[VMMU_TLB_L1D_4K], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_lookups[VMMU_TLB_L1D_LARGE], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_misses[VMMU_TLB_L1D_LARGE], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_lookups[VMMU_TLB_L1D_1G], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_lookups[VMMU_TLB_L1I_4K], 2);
	assert_int_equal(vmmu_tlb_stats(t)->arr_misses[VMMU_TLB_L1I_4K], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_hits[VMMU_TLB_L1I_4K][VMMU_TLB_4K], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_lookups[VMMU_TLB_L1I_LARGE], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_lookups[VMMU_TLB_STLB], 2);
	assert_int_equal(vmmu_tlb_stats(t)->arr_misses[VMMU_TLB_STLB], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_hits[VMMU_TLB_STLB][VMMU_TLB_4K], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_lookups[VMMU_TLB_STLB_1G], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_misses[VMMU_TLB_STLB_1G], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_fills[VMMU_TLB_L1I_4K], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_evictions[VMMU_TLB_STLB], 0);
	vmmu_tlb_stats_reset(t);
	assert_int_equal(vmmu_tlb_stats(t)->lookups, 0);
	free(t);
}

static void fill_attr(struct vmmu_tlb *t, uint64_t gva, uint8_t rights,
		      bool dirty, uint8_t nested)
{
	struct vmmu_tlb_fill f;

	memset(&f, 0, sizeof(f));
	f.gva = mk_gva(gva);
	f.hpa = mk_hpa(0x9000);
	f.page_size = KiB4;
	f.rights = rights;
	f.dirty = dirty;
	f.nested = nested;
	assert_int_equal(vmmu_tlb_fill(t, &f), 0);
}

static int lookup_as(struct vmmu_tlb *t, const struct vmmu_paging_state *ps,
		     uint64_t gva, enum vmmu_access_kind kind, uint8_t cpl)
{
	struct vmmu_access acc = { mk_gva(gva), kind, cpl, false };
	hpa_t h;

	return vmmu_tlb_lookup(t, ps, &acc, &h);
}

/* A hit that does not allow the access is REFUSED, counted and dropped. */
static void test_refused(void **state)
{
	struct vmmu_paging_state ps;
	struct vmmu_tlb *t = tlb_new_default();

	(void)state;
	ps_long(&ps);
	/* clean (D = 0) writable page: reads hit, a write re-walks (SDM 4.8) */
	fill_attr(t, VA, 3, false, NRWX);
	assert_int_equal(lookup_as(t, &ps, VA, VMMU_ACCESS_READ, 3), VMMU_TLB_HIT);
	assert_int_equal(lookup_as(t, &ps, VA, VMMU_ACCESS_WRITE, 3),
			 VMMU_TLB_REFUSED);
	assert_int_equal(vmmu_tlb_stats(t)->refused_dirty, 1);
	/* both copies (L1D and STLB) went */
	assert_int_equal(vmmu_tlb_stats(t)->inv[VMMU_TLB_INV_REFUSED], 2);
	assert_int_equal(lookup_as(t, &ps, VA, VMMU_ACCESS_READ, 3), VMMU_TLB_MISS);
	/* supervisor page (U/S = 0): a user read is refused (SDM 4.6.1) */
	fill_attr(t, VA, 2, true, NRWX);
	assert_int_equal(lookup_as(t, &ps, VA, VMMU_ACCESS_READ, 0), VMMU_TLB_HIT);
	assert_int_equal(lookup_as(t, &ps, VA, VMMU_ACCESS_READ, 3),
			 VMMU_TLB_REFUSED);
	assert_int_equal(vmmu_tlb_stats(t)->refused_guest, 1);
	/* read-only under CR0.WP: a supervisor write is refused */
	fill_attr(t, VA, 1, true, NRWX);
	assert_int_equal(lookup_as(t, &ps, VA, VMMU_ACCESS_WRITE, 0),
			 VMMU_TLB_REFUSED);
	/* XD page: a fetch is refused */
	fill_attr(t, VA, 7, true, NRWX);
	assert_int_equal(lookup_as(t, &ps, VA, VMMU_ACCESS_FETCH, 0),
			 VMMU_TLB_REFUSED);
	assert_int_equal(vmmu_tlb_stats(t)->refused_guest, 3);
	/* nested read-only: a write is refused; nested no-execute: fetch */
	fill_attr(t, VA, 3, true, VMMU_TLB_NR | VMMU_TLB_NX);
	assert_int_equal(lookup_as(t, &ps, VA, VMMU_ACCESS_FETCH, 0), VMMU_TLB_HIT);
	assert_int_equal(lookup_as(t, &ps, VA, VMMU_ACCESS_WRITE, 0),
			 VMMU_TLB_REFUSED);
	fill_attr(t, VA, 3, true, VMMU_TLB_NR | VMMU_TLB_NW);
	assert_int_equal(lookup_as(t, &ps, VA, VMMU_ACCESS_FETCH, 0),
			 VMMU_TLB_REFUSED);
	assert_int_equal(vmmu_tlb_stats(t)->refused_nested, 2);
	assert_int_equal(vmmu_tlb_stats(t)->hits, 3);
	free(t);
}

static void test_page_sizes(void **state)
{
	struct vmmu_paging_state ps;
	struct vmmu_tlb *t = tlb_new_default();

	(void)state;
	ps_long(&ps);
	fill_rw(t, 0x40000000ULL + 0x345000, 0x80000000ULL, GiB1, false);
	fill_rw(t, 0x200000ULL + 0x3000, 0x600000ULL, MiB2, false);
	fill_rw(t, 0xc00000ULL, 0x1400000ULL, MiB4, true);
	assert_int_equal(look(t, &ps, 0x7fffffffULL, VMMU_ACCESS_READ),
			 0x80000000ULL + 0x3fffffffULL);
	assert_int_equal(look(t, &ps, 0x3fffffULL, VMMU_ACCESS_READ),
			 0x600000ULL + 0x1fffffULL);
	assert_int_equal(look(t, &ps, 0xc00000ULL + 0x3fffff, VMMU_ACCESS_READ),
			 0x1400000ULL + 0x3fffffULL);
	assert_int_equal(vmmu_tlb_stats(t)->arr_hits[VMMU_TLB_L1D_1G][VMMU_TLB_1G], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_hits[VMMU_TLB_L1D_LARGE][VMMU_TLB_2M], 1);
	assert_int_equal(vmmu_tlb_stats(t)->arr_hits[VMMU_TLB_L1D_LARGE][VMMU_TLB_4M], 1);
	/* 1 GiB fetch: no L1I array, so it is served by STLB_1G */
	assert_int_equal(look(t, &ps, 0x40000010ULL, VMMU_ACCESS_FETCH),
			 0x80000010ULL);
	assert_int_equal(vmmu_tlb_stats(t)->arr_hits[VMMU_TLB_STLB_1G][VMMU_TLB_1G], 1);
	/* INVLPG of any address inside a large page drops it (SDM 4.10.4.1) */
	vmmu_tlb_invlpg(t, mk_gva(0x40000000ULL + 0x3ff00000));
	assert_int_equal(look(t, &ps, 0x40000000ULL, VMMU_ACCESS_READ), ~0ULL);
	assert_int_equal(look(t, &ps, 0x200000ULL, VMMU_ACCESS_READ), 0x600000ULL);
	free(t);
}

/* One set of 2 ways: LRU picks the way not used for longest. */
static void test_lru(void **state)
{
	struct vmmu_paging_state ps;
	struct vmmu_tlb_config cfg;
	struct vmmu_tlb *t;

	(void)state;
	ps_long(&ps);
	memset(&cfg, 0, sizeof(cfg));
	cfg.tlb[VMMU_TLB_L1D_4K] = (struct vmmu_tlb_geom){ 2, 2 };
	t = tlb_new(&cfg);
	/* pages 0, 2, 4 map to set 0 (vpn bit 0), page 1 to set 1 */
	fill_rw(t, 0 * KiB4, 0x10000, KiB4, false);
	fill_rw(t, 2 * KiB4, 0x20000, KiB4, false);
	fill_rw(t, 1 * KiB4, 0x30000, KiB4, false);
	assert_int_equal(look(t, &ps, 0, VMMU_ACCESS_READ), 0x10000);
	fill_rw(t, 4 * KiB4, 0x40000, KiB4, false);   /* evicts page 2 */
	assert_int_equal(vmmu_tlb_stats(t)->arr_evictions[VMMU_TLB_L1D_4K], 1);
	assert_int_equal(look(t, &ps, 2 * KiB4, VMMU_ACCESS_READ), ~0ULL);
	assert_int_equal(look(t, &ps, 0, VMMU_ACCESS_READ), 0x10000);
	assert_int_equal(look(t, &ps, 4 * KiB4, VMMU_ACCESS_READ), 0x40000);
	assert_int_equal(look(t, &ps, 1 * KiB4, VMMU_ACCESS_READ), 0x30000);
	/* refilling the same page under the same tag replaces, no eviction */
	fill_rw(t, 4 * KiB4, 0x50000, KiB4, false);
	assert_int_equal(vmmu_tlb_stats(t)->arr_evictions[VMMU_TLB_L1D_4K], 1);
	assert_int_equal(look(t, &ps, 4 * KiB4, VMMU_ACCESS_READ), 0x50000);
	/* no array takes data 2 MiB pages: the fill is dropped, lookups miss */
	fill_rw(t, MiB2, 0x600000, MiB2, false);
	assert_int_equal(look(t, &ps, MiB2, VMMU_ACCESS_READ), ~0ULL);
	free(t);
}

/* SDM 4.10.3.1: the deepest cached entry gives the walk's start level. */
static void test_pwc_levels(void **state)
{
	struct vmmu_tlb *t = tlb_new_default();
	struct vmmu_tlb_pwc_hit h;
	gva_t va = mk_gva(0x00007f1234567000ULL);

	(void)state;
	assert_int_equal(vmmu_tlb_pwc_lookup(t, VMMU_PAGING_4LEVEL, va, &h), 4);
	assert_int_equal(vmmu_tlb_pwc_fill(t, VMMU_PAGING_4LEVEL, va, 4,
					   mk_gpa(0x3000), 3), 0);
	assert_int_equal(vmmu_tlb_pwc_lookup(t, VMMU_PAGING_4LEVEL, va, &h), 3);
	assert_int_equal(h.table, 0x3000);
	assert_int_equal(vmmu_tlb_pwc_fill(t, VMMU_PAGING_4LEVEL, va, 2,
					   mk_gpa(0x5000), 1), 0);
	assert_int_equal(vmmu_tlb_pwc_lookup(t, VMMU_PAGING_4LEVEL, va, &h), 1);
	assert_int_equal(h.table, 0x5000);
	assert_int_equal(h.rights, 1);
	/* another 2 MiB region under the same PML4E: level 3 */
	assert_int_equal(vmmu_tlb_pwc_lookup(t, VMMU_PAGING_4LEVEL,
			 mk_gva(va.v + MiB2), &h), 3);
	/* a 5-level walk never uses 4-level entries */
	assert_int_equal(vmmu_tlb_pwc_lookup(t, VMMU_PAGING_5LEVEL, va, &h), 5);
	/* PAE has no PDPTE cache (PDPTE registers), 2-level only a PDE one */
	assert_int_equal(vmmu_tlb_pwc_fill(t, VMMU_PAGING_PAE, va, 3,
					   mk_gpa(0), 3), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_pwc_fill(t, VMMU_PAGING_2LEVEL, va, 3,
					   mk_gpa(0), 3), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_pwc_fill(t, VMMU_PAGING_2LEVEL,
			 mk_gva(0x00400000), 2, mk_gpa(0x7000), 3), 0);
	assert_int_equal(vmmu_tlb_pwc_lookup(t, VMMU_PAGING_2LEVEL,
			 mk_gva(0x007ff000), &h), 1);
	assert_int_equal(vmmu_tlb_stats(t)->pwc_lookups, 6);
	assert_int_equal(vmmu_tlb_stats(t)->pwc_misses, 2);
	assert_int_equal(vmmu_tlb_stats(t)->pwc_hits[0], 2);
	assert_int_equal(vmmu_tlb_stats(t)->pwc_hits[2], 2);
	assert_int_equal(vmmu_tlb_stats(t)->pwc_fills, 3);
	/* nested: level-3 entry (1 GiB of gpa) -> start at level 2 */
	assert_int_equal(vmmu_tlb_npwc_lookup(t, 4, mk_gpa(0x40001000), &h), 4);
	assert_int_equal(vmmu_tlb_npwc_fill(t, mk_gpa(0x40000000), 3,
					    mk_hpa(0xa000), NRWX), 0);
	assert_int_equal(vmmu_tlb_npwc_lookup(t, 4, mk_gpa(0x7ffff000), &h), 2);
	assert_int_equal(h.table, 0xa000);
	assert_int_equal(vmmu_tlb_stats(t)->npwc_hits[1], 1);
	assert_int_equal(vmmu_tlb_stats(t)->npwc_misses, 1);
	free(t);
}

static void test_gpa_tlb(void **state)
{
	struct vmmu_tlb *t = tlb_new_default();
	hpa_t h;

	(void)state;
	vmmu_tlb_set_tag(t, 0, 0, 5);
	assert_int_equal(vmmu_tlb_gpa_fill(t, mk_gpa(0x200000), mk_hpa(0x800000),
					   MiB2, VMMU_TLB_NR), 0);
	assert_int_equal(vmmu_tlb_gpa_lookup(t, mk_gpa(0x2abcde),
					     VMMU_ACCESS_READ, &h), VMMU_TLB_HIT);
	assert_int_equal(h.v, 0x8abcde);
	vmmu_tlb_set_tag(t, 0, 0, 6);
	assert_int_equal(vmmu_tlb_gpa_lookup(t, mk_gpa(0x200000),
					     VMMU_ACCESS_READ, &h), VMMU_TLB_MISS);
	vmmu_tlb_set_tag(t, 7, 3, 5);   /* VPID and PCID do not matter */
	assert_int_equal(vmmu_tlb_gpa_lookup(t, mk_gpa(0x200000),
					     VMMU_ACCESS_WRITE, &h),
			 VMMU_TLB_REFUSED);
	assert_int_equal(vmmu_tlb_gpa_lookup(t, mk_gpa(0x200000),
					     VMMU_ACCESS_READ, &h), VMMU_TLB_MISS);
	assert_int_equal(vmmu_tlb_stats(t)->gpa_lookups, 4);
	assert_int_equal(vmmu_tlb_stats(t)->gpa_hits[VMMU_TLB_2M], 1);
	assert_int_equal(vmmu_tlb_stats(t)->gpa_misses, 2);
	assert_int_equal(vmmu_tlb_stats(t)->gpa_refused, 1);
	assert_int_equal(vmmu_tlb_gpa_fill(t, mk_gpa(0), mk_hpa(0), MiB4, 0),
			 VMMU_EINVAL);
	free(t);
}

static void *null_zalloc(void *ctx, size_t n)
{
	(void)ctx;
	(void)n;
	return NULL;
}

static void *ok_zalloc(void *ctx, size_t n)
{
	(void)ctx;
	return calloc(1, n);
}

static void ok_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void test_config(void **state)
{
	struct vmmu_tlb_config cfg, bad;
	struct vmmu_platform plat;
	struct vmmu_tlb *t = NULL;
	static uint64_t small[64];
	size_t n;

	(void)state;
	assert_int_equal(vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_AMD), 0);
	assert_int_equal(vmmu_tlb_config_check(&cfg), 0);
	assert_int_equal(vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_INTEL), 0);
	assert_int_equal(vmmu_tlb_config_check(&cfg), 0);
	assert_int_equal(vmmu_tlb_config_default(&cfg, 7), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_INTEL), 0);
	bad = cfg;
	bad.tlb[VMMU_TLB_STLB].sets = 96;           /* not a power of two */
	assert_int_equal(vmmu_tlb_config_check(&bad), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_mem_size(&bad), 0);
	bad = cfg;
	bad.pwc[1].ways = 0;                        /* sets without ways */
	assert_int_equal(vmmu_tlb_config_check(&bad), VMMU_EINVAL);
	bad = cfg;
	bad.npwc[3].sets = 0;                       /* ways without sets */
	assert_int_equal(vmmu_tlb_config_check(&bad), VMMU_EINVAL);
	bad = cfg;
	bad.gpa_tlb.ways = VMMU_TLB_MAX_WAYS + 1;
	assert_int_equal(vmmu_tlb_config_check(&bad), VMMU_EINVAL);
	bad = cfg;
	bad.gpa_tlb = (struct vmmu_tlb_geom){ 1U << 20, 2 };  /* too many */
	assert_int_equal(vmmu_tlb_config_check(&bad), VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_config_check(NULL), VMMU_EINVAL);
	n = vmmu_tlb_mem_size(&cfg);
	assert_true(n > sizeof(small));
	assert_int_equal(vmmu_tlb_init(small, sizeof(small), &cfg, &t),
			 VMMU_ENOSPC);
	assert_int_equal(vmmu_tlb_init((char *)small + 1, n, &cfg, &t),
			 VMMU_EINVAL);
	assert_int_equal(vmmu_tlb_init(small, sizeof(small), &bad, &t),
			 VMMU_EINVAL);
	memset(&plat, 0, sizeof(plat));
	plat.zalloc = null_zalloc;
	plat.free = ok_free;
	assert_int_equal(vmmu_tlb_create(&plat, &cfg, &t), VMMU_ENOMEM);
	plat.zalloc = ok_zalloc;
	assert_int_equal(vmmu_tlb_create(&plat, &cfg, &t), 0);
	vmmu_tlb_destroy(&plat, t);
	/* an all-absent configuration is valid: every lookup misses */
	memset(&cfg, 0, sizeof(cfg));
	t = tlb_new(&cfg);
	fill_rw(t, 0, 0, KiB4, false);
	assert_int_equal(vmmu_tlb_stats(t)->arr_fills[VMMU_TLB_L1D_4K], 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_hits),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_page_sizes),
		cmocka_unit_test(test_lru),
		cmocka_unit_test(test_pwc_levels),
		cmocka_unit_test(test_gpa_tlb),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
