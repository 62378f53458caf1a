/* SPDX-License-Identifier: MIT */
/*
 * The VM's dirty log (vmmu/dirty.h): peek and clean against a reference
 * bitmap over random marks and random, unaligned sub-ranges spanning
 * several GiB; allocation failures recorded coarsely and never losing a
 * page; bad use with exact errors and the state unharmed; the direct
 * backend's log-dirty through the vCPU access path (one exit per page per
 * round, reads and TLB hits unlogged, A/D updates logged).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/vmmu.h"
#include "vmmu/access.h"
#include "vmmu/dirty.h"
#include "host/hosted.h"
#include "migrate/model.h"

#define GIB (1ULL << 30)

struct env {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	long fail_after;        /* zalloc calls left before failing; <0 never */
};

static void *failing_zalloc(void *ctx, size_t size)
{
	struct env *e = ctx;

	if (e->fail_after == 0)
		return NULL;
	if (e->fail_after > 0)
		e->fail_after--;
	return calloc(1, size ? size : 1);
}

static void plain_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void *arena_map(void *ctx, hpa_t hpa)
{
	struct env *e = ctx;
	struct vmmu_platform p;

	vmmu_hosted_platform(e->arena, &p);
	return p.map(p.ctx, hpa);
}

/* A VM with lazily backed RAM [0, ram) and the direct backend. */
static struct env *env_new(uint64_t ram)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(vmmu_hosted_create(64ULL << 20, &e->arena), 0);
	vmmu_hosted_platform(e->arena, &e->plat);
	e->fail_after = -1;
	assert_int_equal(vmmu_vm_create(&e->plat, &e->vm), 0);
	assert_int_equal(vmmu_vm_set_backend(e->vm, VMMU_BACKEND_NONE,
					     &vmmu_backend_direct), 0);
	if (ram)
		assert_int_equal(vmmu_vm_add_slot(e->vm, mk_gpa(0), ram,
						  VMMU_MEM_RAM), 0);
	return e;
}

static void env_free(struct env *e)
{
	vmmu_vm_destroy(e->vm);
	vmmu_hosted_destroy(e->arena);
	free(e);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool bit(const uint64_t *bm, uint64_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

/* Random marks and harvests, against a reference of one byte per page. */
static void test_reference(void **state)
{
	const uint64_t first = 77, n = (5 * GIB / 2) >> VMMU_PAGE_SHIFT;
	struct env *e = env_new(3 * GIB);
	uint8_t *ref = calloc(n, 1);
	uint64_t *bm = calloc(n / 64 + 2, 8), s = 0x1234567, step, cnt;
	struct vmmu_dirty_stats st;

	(void)state;
	assert_non_null(ref);
	assert_int_equal(vmmu_dirty_enable(e->vm, first, n), 0);
	for (step = 0; step < 3000; step++) {
		uint64_t r = rnd(&s), a, len, i, want = 0;
		bool clean = r & 1;

		/* clustered marks: most near a few hot spots */
		for (i = 0; i < 20; i++) {
			uint64_t g = (rnd(&s) % 4) * (n / 4) + rnd(&s) % 3000;
			uint64_t k = 1 + rnd(&s) % 70;

			if (g + k > n)
				k = n - g;
			vmmu_dirty_mark(e->vm, first + g, k);
			memset(ref + g, 1, k);
		}
		a = rnd(&s) % n;
		len = 1 + rnd(&s) % (step % 50 ? 5000 : n);
		if (a + len > n)
			len = n - a;
		assert_int_equal((clean ? vmmu_dirty_clean : vmmu_dirty_peek)(
					 e->vm, first + a, len, bm, &cnt), 0);
		for (i = 0; i < len; i++) {
			assert_int_equal(bit(bm, i), ref[a + i]);
			want += ref[a + i];
			if (clean)
				ref[a + i] = 0;
		}
		for (i = len; i % 64; i++)
			assert_false(bit(bm, i));
		assert_int_equal(cnt, want);
	}
	/* Marks outside the range are ignored. */
	vmmu_dirty_mark(e->vm, 0, first);
	vmmu_dirty_mark(e->vm, first + n, 10);
	assert_int_equal(vmmu_dirty_clean(e->vm, first, n, NULL, &cnt), 0);
	assert_int_equal(vmmu_dirty_peek(e->vm, first, n, bm, &cnt), 0);
	assert_int_equal(cnt, 0);
	assert_int_equal(vmmu_dirty_stats(e->vm, &st), 0);
	assert_true(st.enabled);
	assert_int_equal(st.coarse_marks, 0);
	assert_true(st.leaves > 0 && st.leaves < n / 512);
	assert_int_equal(vmmu_dirty_disable(e->vm), 0);
	free(bm);
	free(ref);
	env_free(e);
}

/* A 1 TiB range costs a directory on enable, then only what is dirtied. */
static void test_sparse(void **state)
{
	struct env *e = env_new(0);
	struct vmmu_dirty_stats st;
	uint64_t n = (1ULL << 40) >> VMMU_PAGE_SHIFT, cnt, bm[1];

	(void)state;
	assert_int_equal(vmmu_vm_add_slot(e->vm, mk_gpa(0), 1ULL << 40,
					  VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_dirty_enable_ram(e->vm), 0);
	assert_int_equal(vmmu_dirty_stats(e->vm, &st), 0);
	assert_int_equal(st.npages, n);
	assert_true(st.bytes < 16384);
	vmmu_dirty_mark(e->vm, n - 1, 1);
	vmmu_dirty_mark(e->vm, 12345678, 1);
	assert_int_equal(vmmu_dirty_stats(e->vm, &st), 0);
	assert_int_equal(st.leaves, 2);
	assert_true(st.bytes < 16384 + 2 * 4096 + 2 * 64 + 64);
	assert_int_equal(vmmu_dirty_peek(e->vm, n - 1, 1, bm, &cnt), 0);
	assert_int_equal(bm[0], 1);
	assert_int_equal(vmmu_dirty_clean(e->vm, 0, n, NULL, &cnt), 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(vmmu_dirty_disable(e->vm), 0);
	env_free(e);
}

/* Failed allocations: whole 2 MiB / 1 GiB records; nothing lost. */
static void test_alloc_failure(void **state)
{
	const uint64_t n = (2 * GIB) >> VMMU_PAGE_SHIFT;
	struct env *e = env_new(2 * GIB);
	uint64_t *bm = calloc(n / 64, 8), cnt, i, s = 99;
	uint8_t *ref = calloc(n, 1);
	struct vmmu_dirty_stats st;
	long budget;

	(void)state;
	e->plat.zalloc = failing_zalloc;
	e->plat.free = plain_free;
	e->plat.map = arena_map;
	e->plat.ctx = e;
	/* The VM keeps the platform it was created with: rebuild it. */
	vmmu_vm_destroy(e->vm);
	assert_int_equal(vmmu_vm_create(&e->plat, &e->vm), 0);
	assert_int_equal(vmmu_vm_add_slot(e->vm, mk_gpa(0), 2 * GIB,
					  VMMU_MEM_RAM), 0);
	for (budget = 0; budget < 4; budget++) {
		e->fail_after = -1;
		assert_int_equal(vmmu_dirty_enable(e->vm, 0, n), 0);
		e->fail_after = budget;     /* table, leaf, ... then none */
		memset(ref, 0, n);
		for (i = 0; i < 200; i++) {
			uint64_t g = rnd(&s) % n;

			vmmu_dirty_mark(e->vm, g, 1);
			ref[g] = 1;
		}
		assert_int_equal(vmmu_dirty_stats(e->vm, &st), 0);
		assert_true(st.coarse_marks > 0);
		/* Partial cleans of coarse records, then the rest. */
		for (i = 0; i < 5; i++) {
			uint64_t a = rnd(&s) % n, len = 1 + rnd(&s) % 100000, k;

			if (a + len > n)
				len = n - a;
			assert_int_equal(vmmu_dirty_clean(e->vm, a, len, bm, &cnt), 0);
			for (k = 0; k < len; k++) {
				if (ref[a + k])
					assert_true(bit(bm, k));
				if (bit(bm, k))
					ref[a + k] = 0;  /* reported */
			}
		}
		assert_int_equal(vmmu_dirty_peek(e->vm, 0, n, bm, &cnt), 0);
		for (i = 0; i < n; i++)
			if (ref[i])
				assert_true(bit(bm, i));
		e->fail_after = -1;
		assert_int_equal(vmmu_dirty_clean(e->vm, 0, n, NULL, &cnt), 0);
		assert_int_equal(vmmu_dirty_peek(e->vm, 0, n, bm, &cnt), 0);
		assert_int_equal(cnt, 0);
		assert_int_equal(vmmu_dirty_disable(e->vm), 0);
	}
	free(ref);
	free(bm);
	env_free(e);
}

static void test_errors(void **state)
{
	struct env *e = env_new(0), *r;
	uint64_t bm[64], cnt = 7, gfn, n;

	(void)state;
	/* No RAM at all, or a range without RAM. */
	assert_int_equal(vmmu_dirty_enable_ram(e->vm), VMMU_EFAULT);
	assert_int_equal(vmmu_dirty_enable(e->vm, 0, 100), VMMU_EFAULT);
	assert_int_equal(vmmu_vm_add_slot(e->vm, mk_gpa(1ULL << 30), 1 << 20,
					  VMMU_MEM_MMIO), 0);
	assert_int_equal(vmmu_dirty_enable_ram(e->vm), VMMU_EFAULT);
	env_free(e);

	r = env_new(16 << 20);
	assert_int_equal(vmmu_dirty_peek(r->vm, 0, 1, bm, &cnt), VMMU_ENOENT);
	assert_int_equal(vmmu_dirty_clean(r->vm, 0, 1, bm, &cnt), VMMU_ENOENT);
	assert_int_equal(vmmu_dirty_disable(r->vm), VMMU_ENOENT);
	assert_int_equal(vmmu_dirty_range(r->vm, &gfn, &n), VMMU_ENOENT);
	assert_int_equal(vmmu_dirty_enable(r->vm, 0, 0), VMMU_EINVAL);
	assert_int_equal(vmmu_dirty_enable(r->vm, ~0ULL, 2), VMMU_EINVAL);
	assert_int_equal(vmmu_dirty_enable(r->vm, 1ULL << 40, 1), VMMU_EFAULT);
	assert_int_equal(vmmu_dirty_enable(r->vm, 16, 4096), 0);
	assert_int_equal(vmmu_dirty_enable(r->vm, 16, 4096), VMMU_EEXIST);
	assert_int_equal(vmmu_dirty_enable_ram(r->vm), VMMU_EEXIST);
	assert_int_equal(vmmu_dirty_range(r->vm, &gfn, &n), 0);
	assert_int_equal(gfn, 16);
	assert_int_equal(n, 4096);
	vmmu_dirty_mark(r->vm, 100, 3);
	/* Outside the logged range; bad arguments. */
	assert_int_equal(vmmu_dirty_clean(r->vm, 0, 20, bm, &cnt), VMMU_EFAULT);
	assert_int_equal(vmmu_dirty_clean(r->vm, 4100, 20, bm, &cnt), VMMU_EFAULT);
	assert_int_equal(vmmu_dirty_peek(r->vm, 100, 0, bm, &cnt), VMMU_EINVAL);
	assert_int_equal(vmmu_dirty_peek(r->vm, 100, 3, NULL, &cnt), VMMU_EINVAL);
	assert_int_equal(vmmu_dirty_clean(r->vm, ~0ULL - 1, 3, bm, &cnt), VMMU_EINVAL);
	/* A disable while a peek is in progress (the admission count). */
	atomic_fetch_add(&r->vm->dirty_harvesters, 1);
	assert_int_equal(vmmu_dirty_disable(r->vm), VMMU_EBUSY);
	atomic_fetch_sub(&r->vm->dirty_harvesters, 1);
	/* ... and a peek while a disable is in progress. */
	atomic_store(&r->vm->dirty_stopping, true);
	assert_int_equal(vmmu_dirty_peek(r->vm, 100, 3, bm, &cnt), VMMU_EBUSY);
	assert_int_equal(vmmu_dirty_enable(r->vm, 16, 1), VMMU_EBUSY);
	atomic_store(&r->vm->dirty_stopping, false);
	/* State unharmed by all of it. */
	assert_int_equal(vmmu_dirty_peek(r->vm, 16, 4096, bm, &cnt), 0);
	assert_int_equal(cnt, 3);
	assert_int_equal(vmmu_dirty_disable(r->vm), 0);
	assert_int_equal(vmmu_dirty_disable(r->vm), VMMU_ENOENT);
	assert_int_equal(vmmu_dirty_enable(r->vm, 0, 4096), 0);
	assert_int_equal(vmmu_dirty_peek(r->vm, 0, 200, bm, &cnt), 0);
	assert_int_equal(cnt, 0);
	env_free(r);        /* destroy with the log on */
}

/* The direct backend through the access path. */
static void test_direct_backend(void **state)
{
	struct model_cfg cfg = { .mem = 64 << 20, .vcpus = 1 };
	struct model m;
	struct vmmu_access_result res;
	uint64_t v = 5, bm[2], cnt, exits, n = (64 << 20) >> 12;
	const uint64_t page = 0x200000, gfn = page >> 12;

	(void)state;
	assert_int_equal(model_create(&m, &cfg), 0);
	/* Before logging: populate and fill the TLB with a writable entry. */
	assert_int_equal(vmmu_vcpu_write(m.vcpu[0], mk_gva(page), &v, 8, 0,
					 &res), 0);
	assert_int_equal(vmmu_dirty_enable_ram(m.vm), 0);
	assert_int_equal(vmmu_dirty_peek(m.vm, 0, n, NULL, &cnt), VMMU_EINVAL);
	/* A read logs nothing. */
	assert_int_equal(vmmu_vcpu_read(m.vcpu[0], mk_gva(page + 8), &v, 8, 0,
					&res), 0);
	assert_int_equal(vmmu_dirty_clean(m.vm, 0, n, NULL, &cnt), 0);
	assert_int_equal(cnt, 0);
	/* The first write after enable exits (the TLB was flushed), logs. */
	exits = m.vcpu[0]->stats.exits;
	assert_int_equal(vmmu_vcpu_write(m.vcpu[0], mk_gva(page), &v, 8, 0,
					 &res), 0);
	assert_int_equal(m.vcpu[0]->stats.exits, exits + 1);
	/* The second hits the TLB. */
	assert_int_equal(vmmu_vcpu_write(m.vcpu[0], mk_gva(page + 16), &v, 8,
					 0, &res), 0);
	assert_true(res.tlb_hit);
	assert_int_equal(m.vcpu[0]->stats.exits, exits + 1);
	/* A write one page on, within the same 2 MiB guest page, exits. */
	assert_int_equal(vmmu_vcpu_write(m.vcpu[0], mk_gva(page + 4096), &v, 8,
					 0, &res), 0);
	assert_int_equal(m.vcpu[0]->stats.exits, exits + 2);
	assert_int_equal(vmmu_dirty_clean(m.vm, gfn, 64, bm, &cnt), 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(bm[0], 3);
	/* After the clean the same page exits again. */
	assert_int_equal(vmmu_vcpu_write(m.vcpu[0], mk_gva(page), &v, 8, 0,
					 &res), 0);
	assert_int_equal(m.vcpu[0]->stats.exits, exits + 3);
	/* vmmu's own writes are logged: the API and the walker's A/D. */
	assert_int_equal(vmmu_vm_write_gpa(m.vm, mk_gpa(0x800000 + 10), "ab", 2), 0);
	assert_int_equal(vmmu_dirty_peek(m.vm, 0x800, 1, bm, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(vmmu_dirty_clean(m.vm, 0, n, NULL, &cnt), 0);
	assert_int_equal(vmmu_vcpu_write(m.vcpu[0], mk_gva(0x1000000), &v, 8, 0,
					 &res), 0);
	assert_int_equal(vmmu_dirty_peek(m.vm, 3, 1, bm, &cnt), 0);
	assert_int_equal(cnt, 1);  /* the PD page: its A/D bits were set */
	assert_int_equal(vmmu_dirty_disable(m.vm), 0);
	/* Off: writes go through the TLB again, no exits for logging. */
	exits = m.vcpu[0]->stats.exits;
	assert_int_equal(vmmu_vcpu_write(m.vcpu[0], mk_gva(0x1000000), &v, 8, 0,
					 &res), 0);
	assert_int_equal(vmmu_vcpu_write(m.vcpu[0], mk_gva(0x1000008), &v, 8, 0,
					 &res), 0);
	assert_int_equal(m.vcpu[0]->stats.exits, exits);
	model_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference),
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_direct_backend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
