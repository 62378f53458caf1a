/* SPDX-License-Identifier: MIT */
/*
 * Log-dirty over EPT and NPT into the VM's dirty log (vmmu/dirty.h), for
 * every variant: EPT write protection at 4 KiB and at 2 MiB, A/D, PML;
 * NPT write protection at 4 KiB and at 2 MiB, nested D bits.
 *
 * The guest: RAM [0, 1 GiB) in one 1 GiB host block, [1 GiB, +8 MiB) in
 * 2 MiB blocks, [1 GiB + 8 MiB, +4 MiB) in 4 KiB pages; every region is
 * mapped (1 GiB, 2 MiB and 4 KiB leaves, checked) before the log is
 * enabled. Two vCPUs (unpaged: gva = gpa) store through vmmu_vcpu_access,
 * the VMM writes through vmmu_vm_write_gpa, interleaved with peeks and
 * cleans of random sub-ranges and now and then a disable and enable. The
 * reference is the set of pages written since the last clean that covered
 * them: every such page must be reported. With write protection at 4 KiB
 * the log must equal the reference exactly; the other variants report
 * whole leaves (2 MiB with VMMU_DIRTY_LOG_2M, the leaf for A/D and PML),
 * so there a reported page must at least lie in a region, of the leaf's
 * size, where a page was written since the log was enabled.
 *
 * Also: the variant chosen by vmmu_dirty_set_mode and reported by
 * vmmu_dirty_mode, AUTO's order, VMMU_ENOTSUP and VMMU_EBUSY; a PML log
 * filling up (PML-full exit) with nothing lost; the leaf shapes each
 * variant leaves behind.
 *
 * `test_dirty_nested --bench` times the first logged write to a 2 MiB
 * leaf with the leaf split to 4 KiB against VMMU_DIRTY_LOG_2M
 * (docs/logdirty.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "vmmu/vmmu.h"
#include "vmmu/access.h"
#include "vmmu/dirty.h"
#include "vmmu/p2m.h"
#include "vmmu/ept.h"
#include "vmmu/npt.h"
#include "vmmu/hosted.h"
#include "core/pgtable.h"
#include "npt/npt_backend.h"

#define MIB     (1ULL << 20)
#define GIB     (1ULL << 30)
#define R1G     0ULL                    /* the 1 GiB block */
#define R2M     GIB                     /* 8 MiB of 2 MiB blocks */
#define R4K     (GIB + 8 * MIB)         /* 4 MiB of 4 KiB pages */
#define SPAN    (GIB + 12 * MIB)
#define NPAGES  (SPAN >> 12)
#define NWORDS  ((NPAGES + 63) / 64)

enum back { EPT, NPT };

struct variant {
	const char *name;
	enum back back;
	enum vmmu_dirty_log mode;
	unsigned flags;
};

struct nx {
	const struct variant *v;
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *vcpu[2];
	uint64_t ref[NWORDS];       /* written since the last clean of it */
	uint64_t got[NWORDS];
	uint8_t ever2m[SPAN >> 21]; /* 2 MiB regions written since enable */
	bool ever1g;
	uint64_t rng, stores, vmm_writes, peeks, cleans, reported;
};

static uint64_t rnd(struct nx *x)
{
	x->rng ^= x->rng << 13;
	x->rng ^= x->rng >> 7;
	x->rng ^= x->rng << 17;
	return x->rng;
}

static bool bit(const uint64_t *bm, uint64_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

static void slot(struct vmmu_vm *vm, uint64_t base, uint64_t size,
		 uint8_t order)
{
	struct vmmu_slot_desc d = { .base = mk_gpa(base), .size = size,
				    .type = VMMU_MEM_RAM, .max_order = order,
				    .memtype = VMMU_MEMTYPE_DEFAULT };

	assert_int_equal(vmmu_vm_add_slot_ex(vm, &d), 0);
}

/* A VM of back with the profile that has every variant, or without
 * the hardware-assisted ones (bare). */
static struct vmmu_vm *vm_new(struct nx *x, enum back back, bool bare)
{
	struct vmmu_vm *vm;

	if (!x->arena) {
		assert_int_equal(vmmu_hosted_create(4 * GIB, &x->arena), 0);
		vmmu_hosted_platform(x->arena, &x->plat);
	}
	assert_int_equal(vmmu_vm_create(&x->plat, &vm), 0);
	if (back == EPT) {
		struct vmmu_ept_caps caps = {
			.ad = !bare, .pml = !bare, .execute_only = true,
			.page_2m = true, .page_1g = true, .maxphyaddr = 46 };

		assert_int_equal(vmmu_vm_set_backend(vm, VMMU_BACKEND_EPT,
						     &vmmu_backend_ept), 0);
		assert_int_equal(vmmu_ept_configure(vm, &caps), 0);
	} else {
		struct vmmu_npt_config cfg;

		assert_int_equal(vmmu_vm_set_backend(vm, VMMU_BACKEND_NPT,
						     &vmmu_backend_npt), 0);
		vmmu_npt_config_default(&cfg);
		cfg.gbpages = true;
		cfg.ad_harvest = !bare;
		assert_int_equal(vmmu_npt_configure(vm, &cfg), 0);
	}
	return vm;
}

static struct vmmu_pt *tables(struct vmmu_vm *vm)
{
	return vm->ops == &vmmu_backend_ept ? vmmu_ept_tables(vm)
					    : &npt_of(vm)->pt;
}

static unsigned leaf_level(struct vmmu_vm *vm, uint64_t gpa)
{
	uint64_t e;
	unsigned level;

	assert_int_equal(vmmu_pt_lookup(tables(vm), gpa, &e, &level), 0);
	return level;
}

static void store(struct nx *x, unsigned vc, uint64_t gpa, uint64_t val)
{
	struct vmmu_op op = {
		.acc = { mk_gva(gpa), VMMU_ACCESS_WRITE, 0, false },
		.size = 8, .data = &val };
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vcpu_access(x->vcpu[vc], &op, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
}

static void load(struct nx *x, unsigned vc, uint64_t gpa)
{
	uint64_t val;
	struct vmmu_op op = {
		.acc = { mk_gva(gpa), VMMU_ACCESS_READ, 0, false },
		.size = 8, .data = &val };
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vcpu_access(x->vcpu[vc], &op, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
}

static void written(struct nx *x, uint64_t gpa)
{
	uint64_t p = gpa >> 12;

	x->ref[p / 64] |= 1ULL << (p % 64);
	x->ever2m[gpa >> 21] = 1;
	if (gpa < R2M)
		x->ever1g = true;
}

/* A page the stores pick: a few 2 MiB regions of each kind of leaf. */
static uint64_t pick(struct nx *x)
{
	uint64_t r = rnd(x), page = (r >> 8) % 512;

	switch (r % 3) {
	case 0:         /* inside the 1 GiB leaf: three 2 MiB regions */
		return R1G + ((r >> 20) % 3) * 300 * MIB + page * 4096;
	case 1:
		return R2M + ((r >> 20) % 4) * 2 * MIB + page * 4096;
	default:
		return R4K + ((r >> 20) % 1024) * 4096;
	}
}

/* The size of the region a write dirties in the variant (see the top). */
static uint64_t region(const struct variant *v, uint64_t gpa)
{
	if (gpa >= R4K || (v->mode == VMMU_DIRTY_WRITE_PROTECT && !v->flags))
		return 4096;
	if (gpa >= R2M || v->mode == VMMU_DIRTY_WRITE_PROTECT)
		return 2 * MIB;
	return GIB;
}

static bool exact(const struct variant *v)
{
	return v->mode == VMMU_DIRTY_WRITE_PROTECT && !v->flags;
}

/* A peek or clean of [gfn, gfn + n) against the reference. */
static void check(struct nx *x, uint64_t gfn, uint64_t n, bool clean)
{
	uint64_t nd, i, count = 0;

	memset(x->got, 0xa5, sizeof(x->got));
	if (clean)
		assert_int_equal(vmmu_dirty_clean(x->vm, gfn, n, x->got, &nd), 0);
	else
		assert_int_equal(vmmu_dirty_peek(x->vm, gfn, n, x->got, &nd), 0);
	for (i = 0; i < n; i++) {
		uint64_t p = gfn + i, gpa = p << 12, rs = region(x->v, gpa);
		bool g = bit(x->got, i), w = bit(x->ref, p);

		count += g;
		if (w && !g)
			fail_msg("%s: page %#llx written, not reported",
				 x->v->name, (unsigned long long)gpa);
		if (g && !w && (exact(x->v) ||
				(rs == GIB ? !x->ever1g : !x->ever2m[gpa >> 21])))
			fail_msg("%s: page %#llx reported, not written",
				 x->v->name, (unsigned long long)gpa);
		if (clean && w)
			x->ref[p / 64] &= ~(1ULL << (p % 64));
	}
	assert_int_equal(count, nd);
	for (i = n; i < (n + 63) / 64 * 64; i++)
		assert_false(bit(x->got, i));
	x->reported += nd;
	if (clean)
		x->cleans++;
	else
		x->peeks++;
}

static void enable(struct nx *x)
{
	memset(x->ref, 0, sizeof(x->ref));
	memset(x->ever2m, 0, sizeof(x->ever2m));
	x->ever1g = false;
	assert_int_equal(vmmu_dirty_enable(x->vm, 0, NPAGES), 0);
	assert_int_equal(vmmu_dirty_mode(x->vm), x->v->mode);
	check(x, 0, NPAGES, false);             /* nothing yet */
}

/* A random sub-range: small, around a written region, or everything. */
static void sub_range(struct nx *x, uint64_t *gfn, uint64_t *n)
{
	uint64_t r = rnd(x);

	if (r % 8 == 0) {
		*gfn = 0;
		*n = NPAGES;
		return;
	}
	*gfn = (pick(x) >> 12) - (r >> 8) % 700;
	if (*gfn >= NPAGES)
		*gfn = 0;
	*n = 1 + (r >> 24) % 3000;
	if (*gfn + *n > NPAGES)
		*n = NPAGES - *gfn;
}

static void random_steps(struct nx *x, unsigned steps)
{
	unsigned s;

	for (s = 0; s < steps; s++) {
		uint64_t r = rnd(x) % 100, gpa = pick(x), gfn, n;
		uint64_t val = x->stores + x->vmm_writes + 1;

		if (r < 65) {
			store(x, (unsigned)(rnd(x) & 1), gpa + (rnd(x) % 512) * 8,
			      val);
			written(x, gpa);
			x->stores++;
		} else if (r < 72) {
			assert_int_equal(vmmu_vm_write_gpa(x->vm, mk_gpa(gpa + 8),
							   &val, 8), 0);
			written(x, gpa);
			x->vmm_writes++;
		} else if (r < 78) {
			load(x, (unsigned)(rnd(x) & 1), gpa);
		} else if (r < 99) {
			sub_range(x, &gfn, &n);
			check(x, gfn, n, r >= 88);
		} else {
			check(x, 0, NPAGES, false);
			assert_int_equal(vmmu_dirty_disable(x->vm), 0);
			enable(x);
		}
	}
}

/* PML: more than 512 first writes between two drains fill the log. */
static void pml_burst(struct nx *x)
{
	uint64_t i;

	for (i = 0; i < 600; i++) {
		store(x, 0, R4K + i * 4096, i + 1);
		written(x, R4K + i * 4096);
	}
	assert_true(vmmu_ept_stats(x->vm)->pml_full >= 1);
	check(x, R4K >> 12, 1024, true);
}

static void run_variant(const struct variant *v)
{
	struct nx *x = calloc(1, sizeof(*x));
	uint64_t g;

	x->v = v;
	x->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)v->mode << 8 ^ v->flags ^
		 (uint64_t)v->back << 16;
	x->vm = vm_new(x, v->back, false);
	slot(x->vm, R1G, GIB, VMMU_ORDER_1G);
	slot(x->vm, R2M, 8 * MIB, VMMU_ORDER_2M);
	slot(x->vm, R4K, 4 * MIB, 0);
	assert_int_equal(vmmu_vcpu_create(x->vm, &x->vcpu[0]), 0);
	assert_int_equal(vmmu_vcpu_create(x->vm, &x->vcpu[1]), 0);
	/* map every kind of leaf before logging starts */
	for (g = 0; g < 8; g++)
		store(x, 0, R2M + g * MIB, 1);
	store(x, 0, R1G, 1);
	store(x, 1, R4K, 1);
	assert_int_equal(leaf_level(x->vm, R1G + 300 * MIB), VMMU_PT_LEVEL_1G);
	assert_int_equal(leaf_level(x->vm, R2M + 2 * MIB), VMMU_PT_LEVEL_2M);
	assert_int_equal(leaf_level(x->vm, R4K), VMMU_PT_LEVEL_4K);
	assert_int_equal(vmmu_dirty_set_flags(x->vm, v->flags), 0);
	assert_int_equal(vmmu_dirty_set_mode(x->vm, v->mode), 0);
	enable(x);
	/* the first logged write into the 1 GiB leaf: its shape after */
	store(x, 0, R1G + 300 * MIB + 5 * 4096, 2);
	written(x, R1G + 300 * MIB + 5 * 4096);
	assert_int_equal(leaf_level(x->vm, R1G + 300 * MIB + 5 * 4096),
			 v->mode != VMMU_DIRTY_WRITE_PROTECT ? VMMU_PT_LEVEL_1G :
			 v->flags ? VMMU_PT_LEVEL_2M : VMMU_PT_LEVEL_4K);
	if (v->mode == VMMU_DIRTY_PML)
		pml_burst(x);
	random_steps(x, 2500);
	check(x, 0, NPAGES, true);
	check(x, 0, NPAGES, false);     /* all reset: nothing reported */
	print_message("%s: %llu stores, %llu VMM writes, %llu peeks, "
		      "%llu cleans, %llu pages reported\n", v->name,
		      (unsigned long long)x->stores,
		      (unsigned long long)x->vmm_writes,
		      (unsigned long long)x->peeks,
		      (unsigned long long)x->cleans,
		      (unsigned long long)x->reported);
	if (v->mode == VMMU_DIRTY_WRITE_PROTECT)
		assert_true(x->vcpu[0]->stats.exits + x->vcpu[1]->stats.exits >
			    100);
	if (v->mode == VMMU_DIRTY_PML)
		assert_true(vmmu_ept_stats(x->vm)->pml_logged > 600);
	assert_int_equal(vmmu_dirty_disable(x->vm), 0);
	vmmu_vm_destroy(x->vm);
	vmmu_hosted_destroy(x->arena);
	free(x);
}

static void test_variant(void **state)
{
	run_variant(*state);
}

/* ---- a large leaf split while logging --------------------------------- */

/* A clean of the 1 GiB slot: whether the page at gpa was reported. */
static bool clean_reports(struct nx *x, uint64_t gpa)
{
	uint64_t *bm = calloc((GIB >> 12) / 64, 8), n, p = gpa >> 12;
	bool got;

	assert_int_equal(vmmu_dirty_clean(x->vm, 0, GIB >> 12, bm, &n), 0);
	got = (bm[p / 64] >> (p % 64)) & 1;
	free(bm);
	return got;
}

/*
 * A logged write into the 1 GiB leaf (its D set, a PML entry), then a VMM
 * type change of one page elsewhere in it, whose recalculation splits the
 * leaf: the children inherit its D, and under PML the CPU never logs a
 * write through a leaf whose D is set. Every later write to any part of
 * the old leaf must still be reported, round after round.
 */
static void split_while_logging(const struct variant *v)
{
	struct nx *x = calloc(1, sizeof(*x));
	uint64_t w = R1G + 600 * MIB + 3 * 4096;
	unsigned round;

	x->v = v;
	x->vm = vm_new(x, v->back, false);
	slot(x->vm, R1G, GIB, VMMU_ORDER_1G);
	assert_int_equal(vmmu_vcpu_create(x->vm, &x->vcpu[0]), 0);
	store(x, 0, R1G, 1);
	assert_int_equal(leaf_level(x->vm, R1G), VMMU_PT_LEVEL_1G);
	assert_int_equal(vmmu_dirty_set_flags(x->vm, v->flags), 0);
	assert_int_equal(vmmu_dirty_set_mode(x->vm, v->mode), 0);
	assert_int_equal(vmmu_dirty_enable(x->vm, 0, GIB >> 12), 0);
	store(x, 0, R1G + 300 * MIB, 2);
	assert_int_equal(vmmu_vm_set_p2m_type(x->vm, mk_gpa(R1G + 900 * MIB),
					      4096, VMMU_P2M_RAM_RO), 0);
	load(x, 0, R1G + 600 * MIB);    /* through the marked leaf */
	assert_true(leaf_level(x->vm, R1G + 600 * MIB) <= VMMU_PT_LEVEL_2M);
	assert_true(clean_reports(x, R1G + 300 * MIB));
	for (round = 0; round < 3; round++) {
		store(x, 0, w, 3 + round);
		assert_true(clean_reports(x, w));
		assert_false(clean_reports(x, w));
	}
	assert_int_equal(vmmu_dirty_disable(x->vm), 0);
	vmmu_vm_destroy(x->vm);
	vmmu_hosted_destroy(x->arena);
	free(x);
}

static void test_split_while_logging(void **state)
{
	split_while_logging(*state);
}

/* ---- choosing the variant --------------------------------------------- */

static void modes_of(struct nx *x, enum back back, bool bare,
		     const enum vmmu_dirty_log *has, unsigned nhas)
{
	static const enum vmmu_dirty_log all[] = {
		VMMU_DIRTY_WRITE_PROTECT, VMMU_DIRTY_AD_BITS, VMMU_DIRTY_PML };
	struct vmmu_vm *vm = vm_new(x, back, bare);
	unsigned i, k;

	slot(vm, 0, 64 * MIB, VMMU_ORDER_2M);
	/* untouched, AUTO: the best the profile has */
	assert_int_equal(vmmu_dirty_mode(vm), has[nhas - 1]);
	for (i = 0; i < 3; i++) {
		bool ok = false;

		for (k = 0; k < nhas; k++)
			ok |= has[k] == all[i];
		assert_int_equal(vmmu_dirty_set_mode(vm, all[i]),
				 ok ? 0 : VMMU_ENOTSUP);
		if (ok)
			assert_int_equal(vmmu_dirty_mode(vm), all[i]);
	}
	/* 2 MiB granularity: write protection only */
	assert_int_equal(vmmu_dirty_set_mode(vm, VMMU_DIRTY_AUTO), 0);
	assert_int_equal(vmmu_dirty_mode(vm), has[nhas - 1]);
	assert_int_equal(vmmu_dirty_set_flags(vm, VMMU_DIRTY_LOG_2M), 0);
	assert_int_equal(vmmu_dirty_mode(vm), VMMU_DIRTY_WRITE_PROTECT);
	assert_int_equal(vmmu_dirty_flags(vm), VMMU_DIRTY_LOG_2M);
	if (nhas > 1)
		assert_int_equal(vmmu_dirty_set_mode(vm, has[nhas - 1]),
				 VMMU_ENOTSUP);
	assert_int_equal(vmmu_dirty_flags(vm), VMMU_DIRTY_LOG_2M);
	assert_int_equal(vmmu_dirty_set_flags(vm, 0), 0);
	assert_int_equal(vmmu_dirty_mode(vm), has[nhas - 1]);
	assert_int_equal(vmmu_dirty_set_flags(vm, 1U << 5), VMMU_EINVAL);
	assert_int_equal(vmmu_dirty_set_mode(vm, (enum vmmu_dirty_log)9),
			 VMMU_EINVAL);
	/* while on: the variant in use, no change */
	assert_int_equal(vmmu_dirty_enable_ram(vm), 0);
	assert_int_equal(vmmu_dirty_mode(vm), has[nhas - 1]);
	assert_int_equal(vmmu_dirty_set_mode(vm, VMMU_DIRTY_WRITE_PROTECT),
			 VMMU_EBUSY);
	assert_int_equal(vmmu_dirty_set_flags(vm, VMMU_DIRTY_LOG_2M),
			 VMMU_EBUSY);
	assert_int_equal(vmmu_dirty_mode(vm), has[nhas - 1]);
	assert_int_equal(vmmu_dirty_disable(vm), 0);
	vmmu_vm_destroy(vm);
}

static void test_modes(void **state)
{
	static const enum vmmu_dirty_log wp[] = { VMMU_DIRTY_WRITE_PROTECT };
	static const enum vmmu_dirty_log wp_ad[] = {
		VMMU_DIRTY_WRITE_PROTECT, VMMU_DIRTY_AD_BITS };
	static const enum vmmu_dirty_log ept_all[] = {
		VMMU_DIRTY_WRITE_PROTECT, VMMU_DIRTY_AD_BITS, VMMU_DIRTY_PML };
	struct vmmu_ept_caps caps = { .ad = true, .execute_only = true,
				      .page_2m = true, .maxphyaddr = 46 };
	struct nx *x = calloc(1, sizeof(*x));
	struct vmmu_vm *vm;

	(void)state;
	modes_of(x, EPT, false, ept_all, 3);
	modes_of(x, EPT, true, wp, 1);
	modes_of(x, NPT, false, wp_ad, 2);
	modes_of(x, NPT, true, wp, 1);
	/* EPT with A/D but no PML: AUTO is A/D */
	assert_int_equal(vmmu_vm_create(&x->plat, &vm), 0);
	assert_int_equal(vmmu_vm_set_backend(vm, VMMU_BACKEND_EPT,
					     &vmmu_backend_ept), 0);
	assert_int_equal(vmmu_ept_configure(vm, &caps), 0);
	assert_int_equal(vmmu_dirty_mode(vm), VMMU_DIRTY_AD_BITS);
	assert_int_equal(vmmu_dirty_set_mode(vm, VMMU_DIRTY_PML), VMMU_ENOTSUP);
	assert_int_equal(vmmu_dirty_mode(vm), VMMU_DIRTY_AD_BITS);
	vmmu_vm_destroy(vm);
	/* the direct backend (no hook): write protection at 4 KiB only */
	assert_int_equal(vmmu_vm_create(&x->plat, &vm), 0);
	assert_int_equal(vmmu_vm_set_backend(vm, VMMU_BACKEND_NONE,
					     &vmmu_backend_direct), 0);
	assert_int_equal(vmmu_dirty_mode(vm), VMMU_DIRTY_WRITE_PROTECT);
	assert_int_equal(vmmu_dirty_set_mode(vm, VMMU_DIRTY_AD_BITS),
			 VMMU_ENOTSUP);
	assert_int_equal(vmmu_dirty_set_mode(vm, VMMU_DIRTY_PML), VMMU_ENOTSUP);
	assert_int_equal(vmmu_dirty_set_flags(vm, VMMU_DIRTY_LOG_2M),
			 VMMU_ENOTSUP);
	assert_int_equal(vmmu_dirty_set_mode(vm, VMMU_DIRTY_AUTO), 0);
	assert_int_equal(vmmu_dirty_mode(vm), VMMU_DIRTY_WRITE_PROTECT);
	assert_int_equal(vmmu_dirty_set_mode(NULL, VMMU_DIRTY_AUTO),
			 VMMU_EINVAL);
	vmmu_vm_destroy(vm);
	vmmu_hosted_destroy(x->arena);
	free(x);
}

/* ---- --bench: the first logged write to a 2 MiB leaf ------------------ */

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/*
 * ns per first write to each of 64 2 MiB leaves after enable, fastest of
 * rounds; a fresh VM each round (NPT does not merge split leaves back).
 */
static double first_write_ns(enum back back, unsigned flags, unsigned rounds)
{
	double best = 1e30;
	unsigned r, i;

	for (r = 0; r < rounds; r++) {
		struct nx *x = calloc(1, sizeof(*x));
		double t0, t;

		x->vm = vm_new(x, back, false);
		slot(x->vm, 0, 128 * MIB, VMMU_ORDER_2M);
		assert_int_equal(vmmu_vcpu_create(x->vm, &x->vcpu[0]), 0);
		for (i = 0; i < 64; i++)
			store(x, 0, i * 2 * MIB, 1);
		assert_int_equal(vmmu_dirty_set_flags(x->vm, flags), 0);
		assert_int_equal(vmmu_dirty_set_mode(x->vm,
					VMMU_DIRTY_WRITE_PROTECT), 0);
		assert_int_equal(vmmu_dirty_enable_ram(x->vm), 0);
		/* resolve the lazy start first: a read of each leaf */
		for (i = 0; i < 64; i++)
			load(x, 0, i * 2 * MIB + 4096);
		assert_int_equal(leaf_level(x->vm, 0), VMMU_PT_LEVEL_2M);
		t0 = now_ns();
		for (i = 0; i < 64; i++)
			store(x, 0, i * 2 * MIB + 8, r);
		t = (now_ns() - t0) / 64;
		best = t < best ? t : best;
		assert_int_equal(leaf_level(x->vm, 0), flags ? VMMU_PT_LEVEL_2M
							     : VMMU_PT_LEVEL_4K);
		assert_int_equal(vmmu_dirty_disable(x->vm), 0);
		vmmu_vm_destroy(x->vm);
		vmmu_hosted_destroy(x->arena);
		free(x);
	}
	return best;
}

static int bench(void)
{
	static const char *const names[] = { "ept", "npt" };
	unsigned b;

	for (b = 0; b < 2; b++) {
		double split = first_write_ns((enum back)b, 0, 50);
		double whole = first_write_ns((enum back)b, VMMU_DIRTY_LOG_2M, 50);

		printf("%s: first logged write to a 2 MiB leaf: split to 4 KiB "
		       "%.0f ns, whole 2 MiB (VMMU_DIRTY_LOG_2M) %.0f ns\n",
		       names[b], split, whole);
	}
	return 0;
}

static const struct variant variants[] = {
	{ "ept write protection", EPT, VMMU_DIRTY_WRITE_PROTECT, 0 },
	{ "ept write protection at 2 MiB", EPT, VMMU_DIRTY_WRITE_PROTECT,
	  VMMU_DIRTY_LOG_2M },
	{ "ept A/D", EPT, VMMU_DIRTY_AD_BITS, 0 },
	{ "ept PML", EPT, VMMU_DIRTY_PML, 0 },
	{ "npt write protection", NPT, VMMU_DIRTY_WRITE_PROTECT, 0 },
	{ "npt write protection at 2 MiB", NPT, VMMU_DIRTY_WRITE_PROTECT,
	  VMMU_DIRTY_LOG_2M },
	{ "npt nested D bits", NPT, VMMU_DIRTY_AD_BITS, 0 },
};

#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

int main(int argc, char **argv)
{
	static char names[NVARIANTS][64];
	struct CMUnitTest tests[2 * NVARIANTS + 1];
	size_t i;

	if (argc > 1 && !strcmp(argv[1], "--bench"))
		return bench();
	memset(tests, 0, sizeof(tests));
	for (i = 0; i < NVARIANTS; i++) {
		tests[i].name = variants[i].name;
		tests[i].test_func = test_variant;
		tests[i].initial_state = (void *)&variants[i];
		snprintf(names[i], sizeof(names[i]), "%s, leaf split",
			 variants[i].name);
		tests[NVARIANTS + i].name = names[i];
		tests[NVARIANTS + i].test_func = test_split_while_logging;
		tests[NVARIANTS + i].initial_state = (void *)&variants[i];
	}
	tests[2 * NVARIANTS].name = "modes";
	tests[2 * NVARIANTS].test_func = test_modes;
	return _cmocka_run_group_tests("dirty_nested", tests,
				       2 * NVARIANTS + 1, NULL, NULL);
}
