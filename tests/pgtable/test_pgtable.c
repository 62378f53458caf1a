/* SPDX-License-Identifier: MIT */
/*
 * The shared page-table engine under the EPT and x86 (NPT) formats:
 * exact entry bits (SDM Vol. 3C tables 29-1..29-6, APM Vol. 2 5.3.3),
 * large leaves, splits, table reclamation, and a randomized comparison
 * with a flat per-page reference model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/vmmu.h"
#include "core/backend.h"
#include "core/pgtable.h"
#include "vmmu/x86_pte.h"
#include "ept/ept_format.h"
#include "npt/npt_format.h"
#include "host/hosted.h"

#define MB (1ULL << 20)
#define GB (1ULL << 30)
#define RW (VMMU_PROT_R | VMMU_PROT_W)
#define RWX (VMMU_PROT_R | VMMU_PROT_W | VMMU_PROT_X)

static const struct ept_format_ctx ept_wb = { .memtype = EPT_MT_WB };

struct fixture {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_pt pt;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || vmmu_hosted_create(256 * MB, &f->arena) < 0)
		return -1;
	vmmu_hosted_platform(f->arena, &f->plat);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vmmu_pt_destroy(&f->pt);
	assert_int_equal(f->pt.table_pages, 0);
	assert_int_equal(vmmu_hosted_pages_in_use(f->arena), 0);
	vmmu_hosted_destroy(f->arena);
	free(f);
	return 0;
}

static uint64_t lookup(struct vmmu_pt *pt, uint64_t addr, unsigned *level)
{
	uint64_t e = 0;

	assert_int_equal(vmmu_pt_lookup(pt, addr, &e, level), 0);
	return e;
}

static void test_ept_entry_bits(void **state)
{
	struct fixture *f = *state;
	unsigned level;

	assert_int_equal(vmmu_pt_init(&f->pt, &ept_pt_format, &ept_wb,
				      &f->plat, 4, VMMU_PT_LEVEL_1G), 0);
	assert_int_equal(vmmu_pt_map(&f->pt, 0x1000, mk_hpa(0x5000), 0x1000, RW), 0);
	/* R|W, memory type WB (6) in bits 5:3, no PS. */
	assert_int_equal(lookup(&f->pt, 0x1000, &level), 0x5000 | 0x3 | 0x30);
	assert_int_equal(level, 1);
	assert_int_equal(vmmu_pt_map(&f->pt, 0x40000000, mk_hpa(0x80000000), GB,
				     RWX), 0);
	assert_int_equal(lookup(&f->pt, 0x7fffffff, &level), 0x80000000 | 0xb7);
	assert_int_equal(level, 3);
	/* Root, one PDPT, one PD, one PT. */
	assert_int_equal(f->pt.table_pages, 4);
	/* WB (6), walk length 4 (3 in bits 5:3), A/D enable (bit 6). */
	assert_int_equal(ept_make_eptp(mk_hpa(0x123000), 4, true), 0x12305e);
	assert_int_equal(ept_make_eptp(mk_hpa(0x123000), 5, false), 0x123026);
}

static void test_npt_entry_bits(void **state)
{
	struct fixture *f = *state;
	unsigned level;

	assert_int_equal(npt_pt_init(&f->pt, &f->plat, false), 0);
	assert_int_equal(vmmu_pt_map(&f->pt, 0x200000, mk_hpa(0x600000), 2 * MB,
				     VMMU_PROT_R | VMMU_PROT_X), 0);
	/* P|U/S|PS; read-only, executable. */
	assert_int_equal(lookup(&f->pt, 0x3fffff, &level), 0x600000 | 0x85);
	assert_int_equal(level, 2);
	assert_int_equal(vmmu_pt_map(&f->pt, 0x1000, mk_hpa(0x9000), 0x1000, RW), 0);
	assert_int_equal(lookup(&f->pt, 0x1000, &level),
			 0x9000 | X86_PTE_P | X86_PTE_RW | X86_PTE_US | X86_PTE_NX);
	/* Without 1 GiB support a 1 GiB range becomes 512 2 MiB leaves. */
	assert_int_equal(vmmu_pt_map(&f->pt, GB, mk_hpa(GB), GB, RWX), 0);
	assert_int_equal(lookup(&f->pt, GB + 5 * MB, &level), (GB + 4 * MB) | 0x87);
	assert_int_equal(level, 2);
	assert_int_equal(npt_make_ncr3(&f->pt), f->pt.root.v);
}

static void test_split_keeps_translation(void **state)
{
	struct fixture *f = *state;
	unsigned level;

	assert_int_equal(vmmu_pt_init(&f->pt, &ept_pt_format, &ept_wb,
				      &f->plat, 4, VMMU_PT_LEVEL_1G), 0);
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(GB), GB, RWX), 0);
	assert_int_equal(f->pt.table_pages, 2);
	/* Write-protect one 4 KiB page in the middle: 1G -> 2M -> 4K. */
	assert_int_equal(vmmu_pt_protect(&f->pt, 0x345000, 0x1000,
					 VMMU_PROT_R | VMMU_PROT_X), 0);
	assert_int_equal(f->pt.table_pages, 4);
	assert_int_equal(lookup(&f->pt, 0x345000, &level),
			 (GB + 0x345000) | 0x35);
	assert_int_equal(level, 1);
	assert_int_equal(lookup(&f->pt, 0x346000, &level),
			 (GB + 0x346000) | 0x37);
	assert_int_equal(lookup(&f->pt, 0x600000, &level), (GB + 0x600000) | 0xb7);
	assert_int_equal(level, 2);
	/* Mapping the whole range again frees the split tables. */
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(GB), GB, RWX), 0);
	assert_int_equal(f->pt.table_pages, 2);
	assert_int_equal(vmmu_pt_split_large_leaf(&f->pt, 0x1000, 3), 0);
	assert_int_equal(vmmu_pt_split_large_leaf(&f->pt, 0x1000, 3), VMMU_ENOENT);
	assert_int_equal(lookup(&f->pt, 0x201000, &level), (GB + 0x200000) | 0xb7);
}

/* Permissions a format cannot express are refused, never written. */
static void test_inexpressible_prot_refused(void **state)
{
	struct fixture *f = *state;
	static const struct ept_format_ctx xo = { .memtype = EPT_MT_WB,
						  .execute_only = true };
	unsigned level;

	assert_int_equal(vmmu_pt_init(&f->pt, &ept_pt_format, &ept_wb,
				      &f->plat, 4, VMMU_PT_LEVEL_2M), 0);
	/* W without R: an EPT misconfiguration (SDM 29.3.3.1). */
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(0), 0x1000, VMMU_PROT_W),
			 VMMU_EINVAL);
	/* X alone needs the execute-only capability. */
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(0), 0x1000, VMMU_PROT_X),
			 VMMU_EINVAL);
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(0), 0x1000, RW), 0);
	assert_int_equal(vmmu_pt_protect(&f->pt, 0, 0x1000,
					 VMMU_PROT_W | VMMU_PROT_X), VMMU_EINVAL);
	assert_int_equal(lookup(&f->pt, 0, &level), 0x33);
	vmmu_pt_destroy(&f->pt);
	assert_int_equal(vmmu_pt_init(&f->pt, &ept_pt_format, &xo,
				      &f->plat, 4, VMMU_PT_LEVEL_2M), 0);
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(0), 0x1000, VMMU_PROT_X), 0);
	assert_int_equal(lookup(&f->pt, 0, &level), 0x34);
	vmmu_pt_destroy(&f->pt);
	/* x86 leaves are always readable. */
	assert_int_equal(npt_pt_init(&f->pt, &f->plat, false), 0);
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(0), 0x1000, VMMU_PROT_W),
			 VMMU_EINVAL);
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(0), 0x1000,
				     VMMU_PROT_R | VMMU_PROT_X), 0);
}

static void test_unmap_and_bad_args(void **state)
{
	struct fixture *f = *state;
	unsigned level;
	uint64_t e;

	assert_int_equal(vmmu_pt_init(&f->pt, &ept_pt_format, &ept_wb,
				      &f->plat, 4, VMMU_PT_LEVEL_2M), 0);
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(0), 4 * MB, RWX), 0);
	assert_int_equal(vmmu_pt_unmap(&f->pt, 0x1ff000, 0x2000), 0);
	assert_int_equal(vmmu_pt_lookup(&f->pt, 0x1ff000, &e, &level), VMMU_ENOENT);
	assert_int_equal(level, 1);
	assert_int_equal(vmmu_pt_lookup(&f->pt, 0x200000, &e, &level), VMMU_ENOENT);
	assert_int_equal(lookup(&f->pt, 0x1fe000, &level), 0x1fe000 | 0x37);
	assert_int_equal(lookup(&f->pt, 0x201000, &level), 0x201000 | 0x37);
	assert_int_equal(vmmu_pt_map(&f->pt, 0x800, mk_hpa(0), 0x1000, RW), VMMU_EINVAL);
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(0x10), 0x1000, RW), VMMU_EINVAL);
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(0), 0, RW), VMMU_EINVAL);
	assert_int_equal(vmmu_pt_map(&f->pt, 0, mk_hpa(0), 0x1000, 0), VMMU_EINVAL);
	assert_int_equal(vmmu_pt_map(&f->pt, 1ULL << 48, mk_hpa(0), 0x1000, RW),
			 VMMU_EINVAL);
	assert_int_equal(vmmu_pt_map(&f->pt, ~0xfffULL, mk_hpa(0), 0x2000, RW),
			 VMMU_EINVAL);
	/*
	 * The output range must fit the entry's address field too: the
	 * second page would be 2^52, which no entry can hold (its address
	 * bits would be dropped and it would map page 0).
	 */
	assert_int_equal(vmmu_pt_map(&f->pt, 0x400000,
				     mk_hpa(0x000ffffffffff000ULL), 0x2000, RW),
			 VMMU_EINVAL);
	assert_int_equal(vmmu_pt_lookup(&f->pt, 0x401000, &e, &level),
			 VMMU_ENOENT);
	assert_int_equal(vmmu_pt_map(&f->pt, 0x400000,
				     mk_hpa(0x000ffffffffff000ULL), 0x1000, RW),
			 0);
}

/* Reference model: per 4 KiB page, the output page | prot (0 = unmapped). */
#define REF_PAGES (1u << 17)    /* 512 MiB of input space */

static void ref_apply(uint64_t *ref, int op, uint64_t addr, uint64_t size,
		      uint64_t page, unsigned prot)
{
	uint64_t i;

	for (i = addr >> 12; i < (addr + size) >> 12; i++) {
		if (op == 0)
			ref[i] = (page + ((i << 12) - addr)) | prot;
		else if (op == 1)
			ref[i] = 0;
		else if (ref[i])
			ref[i] = (ref[i] & ~0xfffULL) | prot;
	}
}

static uint64_t pt_resolve(struct vmmu_pt *pt, uint64_t addr)
{
	uint64_t e;
	unsigned level;

	if (vmmu_pt_lookup(pt, addr, &e, &level) < 0 || !ept_pt_format.leaf_prot(e))
		return 0;
	return ((e & EPT_ADDR_MASK & ~(vmmu_pt_level_size(level) - 1)) +
		(addr & (vmmu_pt_level_size(level) - 1) & ~0xfffULL)) |
	       ept_pt_format.leaf_prot(e);
}

/* xorshift64: reproducible across libcs. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t rand_aligned(uint64_t *seed, uint64_t limit)
{
	static const uint64_t align[] = { 0x1000, 0x200000, 0x40000000 };
	uint64_t a = align[next_rand(seed) % 3];

	return (next_rand(seed) * 0x1000 % limit) & ~(a - 1);
}

static void test_random_ops_match_reference(void **state)
{
	struct fixture *f = *state;
	uint64_t *ref = calloc(REF_PAGES, sizeof(*ref));
	uint64_t limit = (uint64_t)REF_PAGES << 12;
	uint64_t seed = 12345;
	unsigned i, j;

	assert_non_null(ref);
	assert_int_equal(vmmu_pt_init(&f->pt, &ept_pt_format, &ept_wb,
				      &f->plat, 4, VMMU_PT_LEVEL_1G), 0);
	for (i = 0; i < 400; i++) {
		int op = (int)(next_rand(&seed) % 3);
		uint64_t addr = rand_aligned(&seed, limit);
		uint64_t size = rand_aligned(&seed, limit / 4) + 0x1000;
		uint64_t page = rand_aligned(&seed, 1ULL << 40);
		/* R with any of W, X: what every format can express. */
		unsigned prot = VMMU_PROT_R | 2 * (unsigned)(next_rand(&seed) % 4);

		if (addr + size > limit)
			size = limit - addr;
		if (op == 0)
			assert_int_equal(vmmu_pt_map(&f->pt, addr, mk_hpa(page),
						     size, prot), 0);
		else if (op == 1)
			assert_int_equal(vmmu_pt_unmap(&f->pt, addr, size), 0);
		else
			assert_int_equal(vmmu_pt_protect(&f->pt, addr, size,
							 prot), 0);
		ref_apply(ref, op, addr, size, page, prot);
		for (j = 0; j < 64; j++) {
			uint64_t probe = (uint64_t)(next_rand(&seed) % REF_PAGES) << 12;

			assert_int_equal(pt_resolve(&f->pt, probe), ref[probe >> 12]);
		}
		assert_int_equal(pt_resolve(&f->pt, addr), ref[addr >> 12]);
		assert_int_equal(pt_resolve(&f->pt, addr + size - 0x1000),
				 ref[(addr + size - 0x1000) >> 12]);
	}
	for (j = 0; j < REF_PAGES; j += 97)
		assert_int_equal(pt_resolve(&f->pt, (uint64_t)j << 12), ref[j]);
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ept_entry_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_npt_entry_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_keeps_translation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inexpressible_prot_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_and_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_ops_match_reference, setup, teardown),
	};

	return cmocka_run_group_tests_name("pgtable", tests, NULL, NULL);
}
