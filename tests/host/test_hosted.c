/* SPDX-License-Identifier: MIT */
/*
 * The hosted arena (include/vmmu/hosted.h): large naturally aligned
 * blocks, zeroing on reuse, exact page accounting, refusal of bad frees,
 * fallback when the arena is small, a 1 TiB arena that costs little, and
 * several threads allocating and freeing on one arena at once.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/error.h"
#include "vmmu/hosted.h"

#define MB (1ULL << 20)
#define GB (1ULL << 30)

struct fx {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform p;
};

static void fx_open(struct fx *f, uint64_t bytes)
{
	assert_int_equal(vmmu_hosted_create(bytes, &f->arena), 0);
	vmmu_hosted_platform(f->arena, &f->p);
}

static void fx_close(struct fx *f)
{
	assert_int_equal(vmmu_hosted_pages_in_use(f->arena), 0);
	vmmu_hosted_destroy(f->arena);
}

static uint8_t *map(struct fx *f, uint64_t hpa)
{
	return f->p.map(f->p.ctx, mk_hpa(hpa));
}

/* Every page of the block maps, and the pointers are contiguous. */
static void assert_block_maps(struct fx *f, hpa_t b, unsigned order)
{
	uint64_t i, n = 1ULL << order;
	uint8_t *first = map(f, b.v);

	assert_non_null(first);
	for (i = 0; i < n; i += n > 64 ? n / 64 : 1)
		assert_ptr_equal(map(f, b.v + i * VMMU_PAGE_SIZE),
				 first + i * VMMU_PAGE_SIZE);
	assert_ptr_equal(map(f, b.v + (n << VMMU_PAGE_SHIFT) - 1),
			 first + (n << VMMU_PAGE_SHIFT) - 1);
}

static bool all_zero(const uint8_t *p, uint64_t len)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_large_blocks_are_aligned_and_counted(void **state)
{
	static const unsigned orders[] = { 0, 9, 3, 18, 9, 0, 1 };
	struct fx f;
	hpa_t b[sizeof(orders) / sizeof(orders[0])];
	uint64_t expect = 0;
	size_t i;

	(void)state;
	fx_open(&f, 4 * GB);
	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		assert_int_equal(f.p.alloc_pages(f.p.ctx, orders[i], &b[i]), 0);
		assert_int_equal(b[i].v & ((VMMU_PAGE_SIZE << orders[i]) - 1), 0);
		assert_true(b[i].v != 0);
		assert_block_maps(&f, b[i], orders[i]);
		expect += 1ULL << orders[i];
		assert_int_equal(vmmu_hosted_pages_in_use(f.arena), expect);
	}
	/* No two blocks overlap. */
	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		size_t j;

		for (j = 0; j < i; j++)
			assert_true(b[i].v + (VMMU_PAGE_SIZE << orders[i]) <= b[j].v ||
				    b[j].v + (VMMU_PAGE_SIZE << orders[j]) <= b[i].v);
	}
	assert_int_equal(f.p.alloc_pages(f.p.ctx, 19, &b[0]), VMMU_ENOMEM);
	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++)
		f.p.free_pages(f.p.ctx, b[i], orders[i]);
	fx_close(&f);
}

/* Fill (or check for zero) every page of a block, or 64 spread over it. */
static bool pages_zero(struct fx *f, hpa_t b, unsigned order, bool fill)
{
	uint64_t i, n = 1ULL << order, step = n > 64 ? n / 64 : 1;

	for (i = 0; i < n; i += step) {
		uint8_t *p = map(f, b.v + i * VMMU_PAGE_SIZE);

		if (fill)
			memset(p, 0x5a, VMMU_PAGE_SIZE);
		else if (!all_zero(p, VMMU_PAGE_SIZE))
			return false;
	}
	return true;
}

/* A block dirtied, freed and handed out again is zero again. */
static void test_reused_blocks_are_zero(void **state)
{
	static const unsigned orders[] = { 0, 4, 9, 18 };
	struct fx f;
	size_t i;

	(void)state;
	fx_open(&f, 4 * GB);
	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		uint64_t bytes = VMMU_PAGE_SIZE << orders[i];
		hpa_t a, b;

		assert_int_equal(f.p.alloc_pages(f.p.ctx, orders[i], &a), 0);
		assert_true(pages_zero(&f, a, orders[i], false));
		pages_zero(&f, a, orders[i], true);
		f.p.free_pages(f.p.ctx, a, orders[i]);
		assert_null(map(&f, a.v));
		assert_null(map(&f, a.v + bytes - 1));
		assert_int_equal(f.p.alloc_pages(f.p.ctx, orders[i], &b), 0);
		assert_int_equal(b.v, a.v);     /* reused, last in first out */
		assert_true(pages_zero(&f, b, orders[i], false));
		f.p.free_pages(f.p.ctx, b, orders[i]);
	}
	fx_close(&f);
}

/* Wrong order, a page inside a block, a double free: all ignored. */
static void test_bad_frees_are_ignored(void **state)
{
	struct fx f;
	hpa_t big, small;

	(void)state;
	fx_open(&f, 64 * MB);
	assert_int_equal(f.p.alloc_pages(f.p.ctx, 9, &big), 0);
	assert_int_equal(f.p.alloc_page(f.p.ctx, &small), 0);
	f.p.free_pages(f.p.ctx, big, 8);                  /* too small */
	f.p.free_pages(f.p.ctx, big, 10);                 /* too large */
	f.p.free_page(f.p.ctx, mk_hpa(big.v + 0x1000));   /* inside */
	f.p.free_page(f.p.ctx, big);                      /* head, order 0 */
	f.p.free_pages(f.p.ctx, mk_hpa(big.v + 0x800), 9); /* misaligned */
	assert_int_equal(vmmu_hosted_pages_in_use(f.arena), 513);
	assert_non_null(map(&f, big.v + 0x1ff000));
	f.p.free_pages(f.p.ctx, big, 9);
	f.p.free_pages(f.p.ctx, big, 9);                  /* double */
	assert_int_equal(vmmu_hosted_pages_in_use(f.arena), 1);
	f.p.free_page(f.p.ctx, small);
	fx_close(&f);
}

/*
 * An 8 MiB arena: no 1 GiB block, three 2 MiB blocks (page 0 is reserved,
 * so the first is at 2 MiB and the gap below it serves 4 KiB pages), then
 * 4 KiB pages from the gap and, once that is gone, from a split block.
 */
static void test_small_arena_falls_back(void **state)
{
	struct fx f;
	hpa_t big[3], pg[600], h;
	unsigned i, n = 0;

	(void)state;
	fx_open(&f, 8 * MB);
	assert_int_equal(f.p.alloc_pages(f.p.ctx, 18, &h), VMMU_ENOMEM);
	for (i = 0; i < 3; i++) {
		assert_int_equal(f.p.alloc_pages(f.p.ctx, 9, &big[i]), 0);
		assert_int_equal(big[i].v, (i + 1) * 2 * MB);
	}
	assert_int_equal(f.p.alloc_pages(f.p.ctx, 9, &h), VMMU_ENOMEM);
	while (n < 600 && f.p.alloc_page(f.p.ctx, &pg[n]) == 0) {
		assert_true(pg[n].v && pg[n].v < 2 * MB);
		n++;
	}
	assert_int_equal(n, 511);       /* the gap below the first block */
	assert_int_equal(vmmu_hosted_pages_in_use(f.arena), 3 * 512 + 511);
	f.p.free_pages(f.p.ctx, big[1], 9);
	for (i = 0; i < 5; i++) {       /* now split from the free block */
		assert_int_equal(f.p.alloc_page(f.p.ctx, &pg[n]), 0);
		assert_true(pg[n].v >= big[1].v && pg[n].v < big[1].v + 2 * MB);
		n++;
	}
	assert_int_equal(f.p.alloc_pages(f.p.ctx, 9, &h), VMMU_ENOMEM);
	assert_int_equal(f.p.alloc_pages(f.p.ctx, 8, &h), 0);  /* the split's rest */
	assert_int_equal(h.v & (256 * VMMU_PAGE_SIZE - 1), 0);
	f.p.free_pages(f.p.ctx, h, 8);
	for (i = 0; i < n; i++)
		f.p.free_page(f.p.ctx, pg[i]);
	f.p.free_pages(f.p.ctx, big[0], 9);
	f.p.free_pages(f.p.ctx, big[2], 9);
	fx_close(&f);
}

/* Virtual size of this process, from /proc/self/status (kB), or 0. */
static uint64_t vm_size_kb(void)
{
	char line[256];
	uint64_t kb = 0;
	FILE *fp = fopen("/proc/self/status", "r");

	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmSize: %lu kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

/*
 * A 1 TiB arena is a reservation plus a few KiB: the process grows by the
 * reservation and at most 1 MiB more (a flat bitmap would be 32 MiB).
 */
static void test_1tib_arena_is_cheap(void **state)
{
	struct fx f;
	uint64_t before, after;
	hpa_t b;

	(void)state;
	before = vm_size_kb();
	fx_open(&f, 1ULL << 40);
	after = vm_size_kb();
	if (before && after)
		assert_true(after - before <= (1ULL << 30) + 1024);
	assert_int_equal(f.p.alloc_pages(f.p.ctx, 18, &b), 0);
	*map(&f, b.v + GB - 1) = 1;
	assert_int_equal(vmmu_hosted_pages_in_use(f.arena), 1ULL << 18);
	f.p.free_pages(f.p.ctx, b, 18);
	fx_close(&f);
}

/*
 * Four threads allocate and free blocks of 4 KiB, 8 KiB and 2 MiB on one
 * arena, each keeping up to 16 live blocks that it tags (the first word of
 * each page it checks) and checks again before freeing: a block handed to
 * two threads at once, or a free list torn by two updates, shows as a tag
 * overwritten, a fresh block that is not zero, or a count that does not
 * return to zero.
 */
#define MT_THREADS 4
#define MT_LIVE 16

struct mt {
	struct fx *f;
	unsigned id;
	unsigned bad;
};

static uint64_t *word(struct fx *f, hpa_t b, uint64_t page)
{
	return (uint64_t *)(void *)map(f, b.v + page * VMMU_PAGE_SIZE);
}

static void *mt_thread(void *arg)
{
	static const unsigned orders[3] = { 0, 1, 9 };
	struct mt *m = arg;
	hpa_t live[MT_LIVE];
	unsigned ord[MT_LIVE], i, k;
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (m->id + 1), tag, last;

	memset(live, 0, sizeof(live));
	for (i = 0; i < 20000; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		k = (unsigned)(rng % MT_LIVE);
		if (live[k].v) {
			last = (1ULL << ord[k]) - 1;
			tag = (uint64_t)m->id << 48 | live[k].v;
			if (*word(m->f, live[k], 0) != tag ||
			    *word(m->f, live[k], last) != tag)
				m->bad++;
			m->f->p.free_pages(m->f->p.ctx, live[k], ord[k]);
			live[k].v = 0;
			continue;
		}
		ord[k] = orders[(rng >> 8) % 3];
		if (m->f->p.alloc_pages(m->f->p.ctx, ord[k], &live[k]) < 0) {
			live[k].v = 0;
			continue;
		}
		last = (1ULL << ord[k]) - 1;
		if (*word(m->f, live[k], 0) || *word(m->f, live[k], last))
			m->bad++;
		tag = (uint64_t)m->id << 48 | live[k].v;
		*word(m->f, live[k], 0) = tag;
		*word(m->f, live[k], last) = tag;
	}
	for (k = 0; k < MT_LIVE; k++)
		if (live[k].v)
			m->f->p.free_pages(m->f->p.ctx, live[k], ord[k]);
	return NULL;
}

static void test_threads_share_an_arena(void **state)
{
	struct fx f;
	struct mt m[MT_THREADS];
	pthread_t t[MT_THREADS];
	unsigned i, bad = 0;

	(void)state;
	fx_open(&f, 512 * MB);
	for (i = 0; i < MT_THREADS; i++) {
		m[i] = (struct mt){ &f, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, mt_thread, &m[i]), 0);
	}
	for (i = 0; i < MT_THREADS; i++) {
		pthread_join(t[i], NULL);
		bad += m[i].bad;
	}
	assert_int_equal(bad, 0);
	fx_close(&f);           /* every page returned */
}

/* `test_hosted --threads`: the thread test alone (the TSan run: a 1 TiB
 * reservation does not fit beside ThreadSanitizer's shadow memory). */
int main(int argc, char **argv)
{
	const struct CMUnitTest threads[] = {
		cmocka_unit_test(test_threads_share_an_arena),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_blocks_are_aligned_and_counted),
		cmocka_unit_test(test_reused_blocks_are_zero),
		cmocka_unit_test(test_bad_frees_are_ignored),
		cmocka_unit_test(test_small_arena_falls_back),
		cmocka_unit_test(test_1tib_arena_is_cheap),
		cmocka_unit_test(test_threads_share_an_arena),
	};

	if (argc > 1 && !strcmp(argv[1], "--threads"))
		return cmocka_run_group_tests_name("hosted_threads", threads,
						   NULL, NULL);
	return cmocka_run_group_tests_name("hosted", tests, NULL, NULL);
}
