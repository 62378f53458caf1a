/* SPDX-License-Identifier: MIT */
/*
 * Native TLB benchmark: the pointer chase on this machine's own memory,
 * pinned with hwloc to one PU of each core kind.
 *
 * Three chases share each working set W:
 *   4k    - one node per 4 KiB page, memory on 4 KiB pages
 *   2m    - the same layout, memory on 2 MiB pages
 *   dense - the same number of nodes, one per cache line, packed into
 *           few (2 MiB) pages: the same cache footprint without TLB misses
 * so 4k - dense is what TLB misses cost and 4k - 2m what huge pages save.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <hwloc.h>

#include "vmmu/error.h"
#include "bench.h"

#define SZ_4K 4096ull

struct native_ctx {
	struct bench_chase_target *t;
	struct bench_mem mem[BENCH_CHASE_KINDS];
	bool have_mem[BENCH_CHASE_KINDS];
	uint64_t start[BENCH_CHASE_KINDS], n, min_accesses;
};

static int native_prepare(void *vctx, enum bench_chase k, uint64_t ws,
			  uint64_t max_ws)
{
	struct native_ctx *c = vctx;
	int rc;

	if (!c->have_mem[k]) {
		size_t size = k == BENCH_CHASE_DENSE ? max_ws / 64 : max_ws;

		rc = bench_mem_alloc(&c->mem[k], size, k == BENCH_CHASE_4K ?
				     BENCH_PAGE_4K : BENCH_PAGE_2M, true);
		if (rc)
			return rc;
		c->have_mem[k] = true;
		if (k == BENCH_CHASE_2M) {
			snprintf(c->t->huge_method, sizeof(c->t->huge_method),
				 "%s", c->mem[k].method);
			snprintf(c->t->huge_why, sizeof(c->t->huge_why), "%s",
				 c->mem[k].why);
		}
	}
	c->n = ws / SZ_4K;
	c->start[k] = bench_chase_build(c->mem[k].base,
					(uintptr_t)c->mem[k].base, c->n,
					k != BENCH_CHASE_DENSE,
					0x9e3779b97f4a7c15ull ^ ws);
	return c->start[k] ? VMMU_OK : VMMU_ENOMEM;
}

static int native_measure(void *vctx, enum bench_chase k, uint64_t ws,
			  double *ns, double *cyc)
{
	struct native_ctx *c = vctx;
	uint64_t iters = bench_chase_iters(c->n, c->min_accesses);
	uint64_t t0, t1, c0, c1;

	(void)ws;
	/* Warm up: one lap loads the lines and the TLB as far as they fit. */
	c->start[k] = bench_chase_run(c->start[k], bench_chase_iters(c->n, 8192));
	t0 = bench_now_ns();
	c0 = bench_rdtsc();
	c->start[k] = bench_chase_run(c->start[k], iters);
	c1 = bench_rdtsc();
	t1 = bench_now_ns();
	*ns = (double)(t1 - t0) / (double)(iters * 8);
	*cyc = (double)(c1 - c0) / (double)(iters * 8);
	return VMMU_OK;
}

static void native_finish(void *vctx, enum bench_chase k)
{
	struct native_ctx *c = vctx;

	if (c->have_mem[k])
		bench_mem_free(&c->mem[k]);
	c->have_mem[k] = false;
}

unsigned bench_working_sets(uint64_t min, uint64_t max, bool quick,
			    uint64_t *out, unsigned cap)
{
	unsigned n = 0;
	uint64_t w;

	for (w = min; w <= max && n < cap; w *= 2) {
		out[n++] = w;
		/* 1.5x points sharpen the knees (not in quick mode). */
		if (!quick && w + w / 2 <= max && n < cap && w >= 16384)
			out[n++] = w + w / 2;
	}
	return n;
}

uint64_t bench_mem_available(void)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
				break;
		fclose(f);
	}
	return (uint64_t)kb * 1024;
}

uint64_t bench_default_max_ws(bool quick)
{
	uint64_t cap = quick ? (256ull << 20) : (4ull << 30);
	uint64_t avail = bench_mem_available();

	/* Two regions of the largest working set live at once (4 KiB and
	 * 2 MiB pages): leave half of what is free to the other users. */
	while (avail && cap > (1ull << 20) && cap > avail / 4)
		cap /= 2;
	return cap;
}

static int run_on_pu(hwloc_topology_t topo, int pu,
		     const struct bench_tlb_opts *o, const uint64_t *ws,
		     unsigned n_ws, struct bench_tlb_curve *cv, const char *label)
{
	struct bench_chase_target t;
	struct native_ctx ctx;
	hwloc_bitmap_t one = hwloc_bitmap_alloc();
	int rc;

	hwloc_bitmap_only(one, (unsigned)pu);
	rc = hwloc_set_cpubind(topo, one, HWLOC_CPUBIND_THREAD);
	hwloc_bitmap_free(one);
	if (rc != 0)
		return VMMU_EIO;
	memset(&t, 0, sizeof(t));
	memset(&ctx, 0, sizeof(ctx));
	ctx.t = &t;
	ctx.min_accesses = o->quick ? (1u << 16) : (1u << 20);
	t.ctx = &ctx;
	t.prepare = native_prepare;
	t.measure = native_measure;
	t.finish = native_finish;
	return bench_curve_run(&t, ws, n_ws, o->reps ? o->reps :
			       (o->quick ? 5 : 7), &o->progress, label, cv);
}

/* Kinds from hwloc; a machine that reports none is one kind of all PUs. */
static unsigned list_kinds(hwloc_topology_t topo, struct bench_tlb_result *r)
{
	hwloc_const_bitmap_t allowed = hwloc_topology_get_allowed_cpuset(topo);
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	int nr = hwloc_cpukinds_get_nr(topo, 0), i;
	unsigned n = 0;

	for (i = 0; i < nr && n < BENCH_MAX_KINDS; i++) {
		struct hwloc_info_s *infos = NULL;
		unsigned nr_infos = 0, j;
		int eff = -1;
		struct bench_tlb_kind *k = &r->kinds[n];

		if (hwloc_cpukinds_get_info(topo, (unsigned)i, set, &eff,
					    &nr_infos, &infos, 0) != 0)
			continue;
		hwloc_bitmap_and(set, set, allowed);
		if (hwloc_bitmap_iszero(set))
			continue;
		k->kind = i;
		k->efficiency = eff;
		k->pu = hwloc_bitmap_first(set);
		for (j = 0; j < nr_infos; j++)
			if (!strcmp(infos[j].name, "CoreType"))
				snprintf(k->kind_name, sizeof(k->kind_name),
					 "%s", infos[j].value);
		n++;
	}
	if (n == 0) {
		r->kinds[0].kind = -1;
		r->kinds[0].efficiency = -1;
		r->kinds[0].pu = hwloc_bitmap_first(allowed);
		n = 1;
	}
	hwloc_bitmap_free(set);
	snprintf(r->pinning, sizeof(r->pinning),
		 "hwloc: %d core kind(s) reported, one PU of each", nr);
	return n;
}

int bench_tlb_run(const struct bench_tlb_opts *o, struct bench_tlb_result *r)
{
	uint64_t ws[BENCH_MAX_POINTS];
	hwloc_topology_t topo;
	hwloc_bitmap_t saved;
	unsigned n_ws, i;
	int rc = VMMU_OK;
	char label[32];

	memset(r, 0, sizeof(*r));
	r->max_ws = o->max_ws ? o->max_ws : bench_default_max_ws(o->quick);
	n_ws = bench_working_sets(o->min_ws ? o->min_ws : 8192, r->max_ws,
				  o->quick, ws, BENCH_MAX_POINTS);
	if (n_ws < 3)
		return VMMU_EINVAL;
	if (hwloc_topology_init(&topo) != 0)
		return VMMU_EIO;
	if (hwloc_topology_load(topo) != 0) {
		hwloc_topology_destroy(topo);
		return VMMU_EIO;
	}
	saved = hwloc_bitmap_alloc();
	hwloc_get_cpubind(topo, saved, HWLOC_CPUBIND_THREAD);
	r->n_kinds = list_kinds(topo, r);
	for (i = 0; i < r->n_kinds && rc == VMMU_OK; i++) {
		snprintf(label, sizeof(label), "native pu%d", r->kinds[i].pu);
		rc = run_on_pu(topo, r->kinds[i].pu, o, ws, n_ws,
			       &r->kinds[i].curve, label);
	}
	hwloc_set_cpubind(topo, saved, HWLOC_CPUBIND_THREAD);
	hwloc_bitmap_free(saved);
	hwloc_topology_destroy(topo);
	return rc;
}

/*
 * window: only the profile's working sets (BENCH_PROFILE_MIN_WS ..
 * BENCH_PROFILE_MAX_WS), analysed on their own, so that the profile does
 * not depend on the range the options show.
 */
static json_t *tlb_json(const struct bench_tlb_result *r, bool window)
{
	static struct bench_tlb_curve w;        /* large: not on the stack */
	json_t *kinds = json_array(), *o;
	unsigned i;

	for (i = 0; i < r->n_kinds; i++) {
		const struct bench_tlb_kind *k = &r->kinds[i];

		if (window)
			bench_tlb_curve_window(&k->curve, BENCH_PROFILE_MIN_WS,
					       BENCH_PROFILE_MAX_WS, &w);
		json_array_append_new(kinds, json_pack("{s:i, s:i, s:s, s:i, s:o}",
			"kind", k->kind, "efficiency", k->efficiency,
			"core_type", k->kind_name, "pu", k->pu,
			"curve", bench_tlb_curve_json(window ? &w : &k->curve)));
	}
	o = json_pack("{s:I, s:s, s:o}", "max_ws_bytes",
		      (json_int_t)(window ? BENCH_PROFILE_MAX_WS : r->max_ws),
		      "pinning", r->pinning, "core_kinds", kinds);
	if (window)
		json_object_set_new(o, "profile_range_bytes", json_pack("[I, I]",
				    (json_int_t)BENCH_PROFILE_MIN_WS,
				    (json_int_t)BENCH_PROFILE_MAX_WS));
	return o;
}

json_t *bench_tlb_json(const struct bench_tlb_result *r)
{
	return tlb_json(r, false);
}

json_t *bench_tlb_profile_json(const struct bench_tlb_result *r)
{
	return tlb_json(r, true);
}
