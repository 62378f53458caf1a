/* SPDX-License-Identifier: MIT */
/*
 * bench/: statistics, size parsing, the chase chain, and a quick native
 * run whose curve must have the shape TLBs give it (the 4 KiB curve above
 * the 2 MiB one beyond the TLB reach). Curve comparisons are between
 * medians summed over several points, the shape check is on the fastest
 * repetitions, so that a loaded machine does not fail them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/bench.h"

static void test_stats(void **state)
{
	double v[] = { 5, 1, 4, 2, 3 };
	double one[] = { 7 };
	struct bench_stats s;

	(void)state;
	bench_stats_of(v, 5, &s);
	assert_int_equal(s.n, 5);
	assert_true(s.min == 1 && s.max == 5 && s.median == 3);
	assert_true(s.q1 == 2 && s.q3 == 4);
	bench_stats_of(one, 1, &s);
	assert_true(s.median == 7 && s.q1 == 7 && s.q3 == 7);
	bench_stats_of(v, 0, &s);
	assert_int_equal(s.n, 0);
}

static void test_parse(void **state)
{
	uint64_t v;
	unsigned n;

	(void)state;
	assert_int_equal(bench_parse_size("8K", &v), 0);
	assert_true(v == 8192);
	assert_int_equal(bench_parse_size("4GiB", &v), 0);
	assert_true(v == 4ull << 30);
	assert_int_equal(bench_parse_size("256M", &v), 0);
	assert_true(v == 256ull << 20);
	assert_int_not_equal(bench_parse_size("12Q", &v), 0);
	assert_int_not_equal(bench_parse_size("-4K", &v), 0);
	assert_int_not_equal(bench_parse_size("", &v), 0);
	/* A multiplier must not wrap: 2^34 + 1 GiB is not 1 GiB. */
	assert_int_not_equal(bench_parse_size("17179869185G", &v), 0);
	assert_int_not_equal(bench_parse_size("1025G", &v), 0);
	assert_int_equal(bench_parse_size("1024G", &v), 0);
	assert_true(v == 1ull << 40);
	assert_int_not_equal(bench_parse_size("18446744073709551616", &v), 0);
	assert_int_equal(bench_parse_count("7", 1, 31, &n), 0);
	assert_int_equal(n, 7);
	assert_int_not_equal(bench_parse_count("0", 1, 31, &n), 0);
	assert_int_not_equal(bench_parse_count("32", 1, 31, &n), 0);
}

/* The chain visits every node exactly once per lap. */
static void check_cycle(uint8_t *buf, uint64_t n, bool sparse)
{
	uint64_t start = bench_chase_build(buf, (uintptr_t)buf, n, sparse, 42);
	uint64_t p = start, i;
	uint8_t *seen = calloc(n, 1);
	unsigned lines[64] = { 0 };

	assert_non_null(seen);
	for (i = 0; i < n; i++) {
		uint64_t off = p - (uintptr_t)buf;
		uint64_t idx = sparse ? off / 4096 : off / 64;

		assert_true(idx < n);
		assert_false(seen[idx]);
		seen[idx] = 1;
		if (sparse)
			lines[(off % 4096) / 64]++;
		memcpy(&p, buf + off, sizeof(p));
	}
	assert_true(p == start);
	if (sparse && n >= 64)
		for (i = 0; i < 64; i++)
			assert_true(lines[i] > 0);    /* every line offset used */
	free(seen);
}

static void test_chain(void **state)
{
	uint8_t *buf = calloc(256, 4096);

	(void)state;
	assert_non_null(buf);
	check_cycle(buf, 256, true);
	check_cycle(buf, 1000, false);
	check_cycle(buf, 2, true);
	free(buf);
}

static void test_working_sets(void **state)
{
	uint64_t ws[BENCH_MAX_POINTS];
	unsigned n, i;

	(void)state;
	n = bench_working_sets(8192, 4ull << 30, false, ws, BENCH_MAX_POINTS);
	assert_true(ws[0] == 8192 && ws[n - 1] == 4ull << 30);
	for (i = 1; i < n; i++)
		assert_true(ws[i] > ws[i - 1]);
	n = bench_working_sets(8192, 256ull << 20, true, ws, BENCH_MAX_POINTS);
	assert_int_equal(n, 16);
}

static double med(const struct bench_tlb_curve *cv, unsigned i, int k)
{
	return cv->pt[i].ns[k].median;
}

static void test_quick_curve(void **state)
{
	struct bench_tlb_opts o;
	struct bench_tlb_result *r = calloc(1, sizeof(*r));
	const struct bench_tlb_curve *cv;
	double sum4k = 0, sum2m = 0, sumdense = 0;
	unsigned i, beyond = 0;

	(void)state;
	assert_non_null(r);
	memset(&o, 0, sizeof(o));
	o.quick = true;
	o.max_ws = 128ull << 20;
	o.progress.quiet = true;
	assert_int_equal(bench_tlb_run(&o, r), 0);
	assert_true(r->n_kinds >= 1);
	cv = &r->kinds[0].curve;
	assert_int_equal(cv->n, 15);
	for (i = 0; i < cv->n; i++) {
		int k;

		for (k = 0; k < BENCH_CHASE_KINDS; k++) {
			assert_true(cv->pt[i].have[k]);
			assert_true(med(cv, i, k) > 0.05 && med(cv, i, k) < 5000);
			assert_true(cv->pt[i].cyc[k].median > 0);
		}
		/*
		 * Sane shape: the fastest repetition (other load only adds
		 * time) never falls far below the previous point's. The
		 * margin allows for a neighbour slowing a whole point 3x, as
		 * seen on this shared machine.
		 */
		if (i > 0)
			assert_true(cv->pt[i].ns[0].min > 0.3 * cv->pt[i - 1].ns[0].min);
		if (cv->pt[i].ws >= (16ull << 20)) {
			sum4k += med(cv, i, BENCH_CHASE_4K);
			sum2m += med(cv, i, BENCH_CHASE_2M);
			sumdense += med(cv, i, BENCH_CHASE_DENSE);
			beyond++;
		}
	}
	assert_int_equal(beyond, 4);
	/* Latency grows with the working set. */
	assert_true(med(cv, cv->n - 1, 0) > 2.0 * med(cv, 0, 0));
	/* The cache-only baseline is below the 4 KiB chase. */
	assert_true(sumdense < sum4k);
	if (!strcmp(cv->huge_method, "thp") ||
	    !strcmp(cv->huge_method, "hugetlbfs")) {
		printf("beyond 16 MiB: 4k %.1f ns, 2m %.1f ns (sum of medians)\n",
		       sum4k, sum2m);
		assert_true(sum4k > 1.05 * sum2m);
	} else {
		printf("no huge pages here (%s): 4k/2m comparison skipped\n",
		       cv->huge_why);
	}
	/* The page walk costs something at the largest working set. */
	assert_true(cv->walk_ns.median > 0);
	assert_true(cv->l1_reach > 0 && cv->l1_reach < cv->pt[cv->n - 1].ws);
	free(r);
}

static void test_huge_alloc(void **state)
{
	struct bench_mem m;

	(void)state;
	assert_int_equal(bench_mem_alloc(&m, 8ull << 20, BENCH_PAGE_2M, true), 0);
	assert_true(((uintptr_t)m.base & ((2u << 20) - 1)) == 0);
	if (m.huge)
		assert_true(bench_mem_huge_bytes(m.base, m.size) >= m.size / 20 * 19);
	else
		assert_true(m.why[0] != 0);     /* a fallback always says why */
	bench_mem_free(&m);
	assert_int_equal(bench_mem_alloc(&m, 4ull << 20, BENCH_PAGE_4K, true), 0);
	assert_false(m.huge);
	assert_true(bench_mem_huge_bytes(m.base, m.size) == 0);
	bench_mem_free(&m);
}

/*
 * A synthetic curve, 8 KiB .. 1 GiB, one point per octave: TLB overhead 0
 * up to 64 KiB, 3 ns up to 8 MiB, 40 ns beyond; 5 repetitions, one of them
 * disturbed (load only adds time: its knees come one octave early). The inference takes the knees of the
 * fastest repetitions, says 4 of 5 agree and spreads over both; the walk
 * cost is read at 256 MiB, not at 1 GiB (where it is made larger here).
 */
static void fill_point(struct bench_tlb_point *p, uint64_t ws, unsigned reps)
{
	double dense = 5.0, tlb = ws <= (64 << 10) ? 0 : ws <= (8 << 20) ? 3 : 40;
	unsigned r;

	for (r = 0; r < reps; r++) {
		double t = tlb, extra = r ? 0.0 : 1.0;

		if (r == 4)     /* disturbed: both knees one octave early */
			t = ws <= (32 << 10) ? 0 : ws <= (4 << 20) ? 3 : 40;
		if (ws > (256 << 20))
			t += 500;
		p->raw_ns[BENCH_CHASE_DENSE][r] = dense + extra;
		p->raw_ns[BENCH_CHASE_4K][r] = dense + extra + t;
		p->raw_ns[BENCH_CHASE_2M][r] = dense + extra + t / 2;
		p->raw_cyc[BENCH_CHASE_DENSE][r] = 3 * (dense + extra);
		p->raw_cyc[BENCH_CHASE_4K][r] = 3 * (dense + extra + t);
	}
	for (int k = 0; k < BENCH_CHASE_KINDS; k++) {
		double tmp[BENCH_MAX_REPS];

		memcpy(tmp, p->raw_ns[k], sizeof(tmp));
		bench_stats_of(tmp, reps, &p->ns[k]);
		memcpy(tmp, p->raw_cyc[k], sizeof(tmp));
		bench_stats_of(tmp, reps, &p->cyc[k]);
		p->have[k] = true;
	}
	p->ws = ws;
}

static void test_inference(void **state)
{
	static struct bench_tlb_curve cv, w;
	uint64_t ws;

	(void)state;
	memset(&cv, 0, sizeof(cv));
	for (ws = 8192; ws <= (1ull << 30); ws *= 2)
		fill_point(&cv.pt[cv.n++], ws, 5);
	bench_tlb_analyse(&cv);
	assert_int_equal(cv.l1.reach, 64 << 10);
	assert_int_equal(cv.l1.knee, 128 << 10);
	assert_int_equal(cv.l2.reach, 8 << 20);
	assert_int_equal(cv.l2.knee, 16 << 20);
	assert_int_equal(cv.l1.votes, 4);
	assert_int_equal(cv.l2.votes, 4);
	assert_int_equal(cv.l2.reps, 5);
	assert_int_equal(cv.l2.reach_lo, 4 << 20);
	assert_int_equal(cv.l2.knee_hi, 16 << 20);
	assert_int_equal(cv.l1.reach_lo, 32 << 10);
	assert_int_equal(cv.walk_ws, 256 << 20);
	assert_true(cv.walk_ns.median > 39 && cv.walk_ns.median < 41);
	/* The profile's window gives the same figures from its points. */
	bench_tlb_curve_window(&cv, 8192, 256 << 20, &w);
	assert_int_equal(w.pt[w.n - 1].ws, 256 << 20);
	assert_int_equal(w.l2.reach, 8 << 20);
	assert_int_equal(w.walk_ws, 256 << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_working_sets),
		cmocka_unit_test(test_huge_alloc),
		cmocka_unit_test(test_inference),
		cmocka_unit_test(test_quick_curve),
	};

	return cmocka_run_group_tests_name("bench", tests, NULL, NULL);
}
