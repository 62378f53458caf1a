/* SPDX-License-Identifier: MIT */
/*
 * The workloads of vmmu run: every workload runs on every backend of the
 * build and its counts are the same for the same seed (one vCPU); several
 * vCPUs run threads of one process and count remote shootdowns; and the
 * directions the literature gives, for the backends this build has:
 *   - forkwait slower under shadow paging than under EPT/NPT (Adams &
 *     Agesen 2006): needs shadow and ept or npt;
 *   - GUPS on 4 KiB pages slower under EPT/NPT than under shadow, and
 *     2 MiB nested pages close most of that gap: needs the same;
 *   - a cold 2-D walk costs 24 references for 4-level over 4-level
 *     (Bhargava et al. 2008): needs ept or npt.
 * A direction whose backends are missing is skipped, naming them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/tlb.h"
#include "model/model.h"
#include "vmmu/error.h"

static struct run_config cfg(double scale, unsigned vcpus, unsigned order)
{
	struct run_config c = { .gos = { .mode = VMMU_PAGING_4LEVEL,
		.mem = 256ULL << 20, .page_order = order, .vcpus = vcpus,
		.pcid = true }, .wl = { .scale = scale, .seed = 7 } };

	return c;
}

static void run_ok(const struct run_config *c, const struct run_backend *b,
		   const struct workload *w, struct run_result *r)
{
	if (run_one(c, b, w, r) < 0)
		fail_msg("%s on %s: %s", w->name, b->name, r->error);
}

/* Same seed, same counts; every workload, every backend. */
static void test_deterministic(void **s)
{
	struct run_config c = cfg(0.004, 1, 0);
	struct run_result a, b;
	unsigned i, j;

	(void)s;
	for (j = 0; j < run_backend_count(); j++)
		for (i = 0; run_workloads[i]; i++) {
			run_ok(&c, run_backend_at(j), run_workloads[i], &a);
			run_ok(&c, run_backend_at(j), run_workloads[i], &b);
			assert_true(a.n.accesses > 1000);
			if (memcmp(&a.n, &b.n, sizeof(a.n)))
				fail_msg("%s on %s: counts differ between runs",
					 run_workloads[i]->name,
					 run_backend_at(j)->name);
		}
}

/* What each workload is made of shows in its counts. */
static void test_shapes(void **s)
{
	const struct run_backend *d = run_backend_find("direct");
	struct run_config c = cfg(0.004, 1, 0);
	struct run_result r;

	(void)s;
	assert_non_null(d);
	run_ok(&c, d, &wl_forkwait, &r);
	assert_int_equal(r.n.os.forks, 160);
	assert_int_equal(r.n.os.exits, 160);
	assert_true(r.n.os.cow_faults >= 2 * 160);
	assert_true(r.n.cr_writes >= 2 * 160);
	run_ok(&c, d, &wl_kbuild, &r);
	assert_true(r.n.os.execs >= 2 && r.n.os.munmaps >= 2);
	run_ok(&c, d, &wl_gups, &r);
	assert_int_equal(r.n.accesses, 2 * 4000);  /* setup is not counted */
	assert_true(r.n.tlb_misses > 2000);
	run_ok(&c, d, &wl_stream, &r);
	assert_true(r.n.tlb_misses * 100 < r.n.accesses);
	/* different seeds, different random streams */
	{
		struct run_result r2;
		struct run_config c2 = c;

		c2.wl.seed = 8;
		run_ok(&c, d, &wl_gups, &r);
		run_ok(&c2, d, &wl_gups, &r2);
		assert_true(r.n.tlb_misses != r2.n.tlb_misses ||
			    r.n.guest_refs != r2.n.guest_refs);
	}
}

/* 2 MiB guest pages: far fewer misses and walk references for GUPS. */
static void test_large_pages(void **s)
{
	const struct run_backend *d = run_backend_find("direct");
	struct run_config c4 = cfg(0.01, 1, 0), c2 = cfg(0.01, 1, 9);
	struct run_result a, b;

	(void)s;
	run_ok(&c4, d, &wl_gups, &a);
	run_ok(&c2, d, &wl_gups, &b);
	assert_true(b.n.os.huge_maps == 0);         /* setup not counted */
	assert_true(b.n.tlb_misses * 4 < a.n.tlb_misses);
	assert_true(b.n.guest_refs * 4 < a.n.guest_refs);
}

/* Threads on two vCPUs: slab recycling shoots down the other's TLB. */
static void test_multi_vcpu(void **s)
{
	const struct run_backend *d = run_backend_find("direct");
	struct run_config c = cfg(0.06, 2, 0);
	struct run_result r;

	(void)s;
	run_ok(&c, d, &wl_redis, &r);
	assert_true(r.n.shootdowns > 0);
	assert_int_equal(r.n.shootdowns, r.n.os.shootdowns_sent);
	run_ok(&c, d, &wl_gups, &r);
	run_ok(&c, d, &wl_forkwait, &r);
	assert_int_equal(r.n.os.forks, 2400);
}

/* ---- the literature's directions, as backends allow ------------------ */

static const struct run_backend *nested(void)
{
	const struct run_backend *b = run_backend_find("ept");

	return b ? b : run_backend_find("npt");
}

static const struct cost_profile *costs(void)
{
	return cost_builtin_find("modern-intel");
}

static double est(const struct run_result *r)
{
	return cost_estimate(costs(), &r->n, r->backend->kind, NULL);
}

static void test_forkwait_direction(void **s)
{
	const struct run_backend *n = nested(), *sh = run_backend_find("shadow");
	struct run_config c = cfg(0.005, 1, 0);
	struct run_result a, b;

	(void)s;
	if (!n || !sh) {
		print_message("forkwait shadow > EPT/NPT: waits for the %s backend\n",
			      !sh ? "shadow" : "ept or npt");
		skip();
	}
	run_ok(&c, n, &wl_forkwait, &a);
	run_ok(&c, sh, &wl_forkwait, &b);
	assert_true(est(&b) > est(&a));
	assert_true(b.n.exits > a.n.exits);
}

static void test_gups_direction(void **s)
{
	const struct run_backend *n = nested(), *sh = run_backend_find("shadow");
	struct run_config c4 = cfg(0.02, 1, 0), c2 = cfg(0.02, 1, 9);
	struct run_result a, b, h, hs;

	(void)s;
	if (!n || !sh) {
		print_message("GUPS EPT/NPT > shadow on 4 KiB, 2 MiB closing the "
			      "gap: waits for the %s backend\n",
			      !sh ? "shadow" : "ept or npt");
		skip();
	}
	run_ok(&c4, n, &wl_gups, &a);
	run_ok(&c4, sh, &wl_gups, &b);
	run_ok(&c2, n, &wl_gups, &h);
	run_ok(&c2, sh, &wl_gups, &hs);
	assert_true(est(&a) > est(&b));
	/* the nested penalty with 2 MiB pages is under half of 4 KiB's */
	assert_true(est(&h) - est(&hs) < (est(&a) - est(&b)) / 2);
}

/* One read with every TLB and paging-structure cache absent. */
static void test_cold_2d_walk(void **s)
{
	const struct run_backend *n = nested();
	struct gos_config gc = { .mode = VMMU_PAGING_4LEVEL, .mem = 64ULL << 20,
				 .vcpus = 1 };
	struct vmmu_tlb_config none;
	struct gos_proc *p;
	struct gos *g;
	struct gos_cpu *c;
	char err[200];
	uint64_t refs;

	(void)s;
	if (!n) {
		print_message("cold 2-D walk of 24 references: waits for the ept "
			      "or npt backend\n");
		skip();
	}
	gc.ops = n->ops;
	gc.kind = n->kind;
	if (gos_create(&gc, &g, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	c = &g->cpu[0];
	assert_int_equal(gos_spawn(c, &(struct gos_image){ 0, 4, 4, 4 }, &p), 0);
	assert_int_equal(gos_access(c, 0x400000 + 4 * 4096, VMMU_ACCESS_WRITE, 8), 0);
	memset(&none, 0, sizeof(none));
	assert_int_equal(vmmu_vcpu_tlb_configure(c->vcpu, &none), 0);
	refs = c->vcpu->stats.guest_walk_refs + c->vcpu->stats.nested_walk_refs;
	assert_int_equal(gos_access(c, 0x400000 + 4 * 4096, VMMU_ACCESS_READ, 8), 0);
	assert_int_equal(c->vcpu->stats.guest_walk_refs +
			 c->vcpu->stats.nested_walk_refs - refs, 24);
	gos_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_large_pages),
		cmocka_unit_test(test_multi_vcpu),
		cmocka_unit_test(test_forkwait_direction),
		cmocka_unit_test(test_gups_direction),
		cmocka_unit_test(test_cold_2d_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
