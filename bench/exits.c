/* SPDX-License-Identifier: MIT */
/*
 * VM-exit costs through KVM. Each cost is a guest loop of one operation,
 * timed by rdtsc inside the guest (per iteration, so it includes the exit,
 * the handling in KVM or in this process, and the re-entry) and by the
 * host clock around the KVM_RUN calls. Repetitions give the spread.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/kvm_para.h>

#include "vmmu/error.h"
#include "exits.h"

struct exit_spec {
	const char *name, *what;
	enum guest_routine routine;
	uint64_t iters_full, iters_quick;
	bool to_user;           /* every iteration must reach user space */
	unsigned cpl;           /* 3 unless the instruction is privileged */
};

#define USER_ITERS 2000, 300
#define KERNEL_ITERS 10000, 1000

static const struct exit_spec specs[BX_COUNT] = {
	[BX_EMPTY3] = { "empty_loop_cpl3", "the bare loop (dec/jnz) at CPL 3",
			GR_EMPTY, 1000000, 100000, false, 3 },
	[BX_EMPTY0] = { "empty_loop_cpl0", "the bare loop (dec/jnz) at CPL 0",
			GR_EMPTY, KERNEL_ITERS, false, 0 },
	[BX_IO3] = { "io_user_cpl3", "OUT to a port, handled in user space",
		     GR_IO, USER_ITERS, true, 3 },
	[BX_IO0] = { "io_user_cpl0", "OUT to a port, handled in user space",
		     GR_IO, USER_ITERS, true, 0 },
	[BX_MMIO3] = { "mmio_user_cpl3", "write to a gpa with no memslot, "
		       "handled in user space", GR_MMIO, USER_ITERS, true, 3 },
	[BX_MMIO0] = { "mmio_user_cpl0", "write to a gpa with no memslot, "
		       "handled in user space", GR_MMIO, USER_ITERS, true, 0 },
	[BX_HYPERCALL_USER0] = { "hypercall_user_cpl0", "hypercall "
		"KVM_HC_MAP_GPA_RANGE to user space (KVM_CAP_EXIT_HYPERCALL)",
		GR_VMCALL, USER_ITERS, true, 0 },
	[BX_HLT0] = { "hlt_user_cpl0", "HLT, no in-kernel irqchip: exits to "
		      "user space", GR_HLT, USER_ITERS, true, 0 },
	[BX_CPUID3] = { "cpuid_kernel_cpl3", "CPUID, answered in KVM",
			GR_CPUID, KERNEL_ITERS, false, 3 },
	[BX_CPUID0] = { "cpuid_kernel_cpl0", "CPUID, answered in KVM",
			GR_CPUID, KERNEL_ITERS, false, 0 },
	[BX_RDMSR0] = { "rdmsr_kernel_cpl0", "RDMSR IA32_MISC_ENABLE (0x1a0), "
			"emulated in KVM", GR_RDMSR, KERNEL_ITERS, false, 0 },
	[BX_HYPERCALL_KERNEL3] = { "hypercall_kernel_cpl3", "hypercall from "
		"CPL 3, refused in KVM (-KVM_EPERM)", GR_VMCALL, KERNEL_ITERS,
		false, 3 },
	[BX_HYPERCALL_KERNEL0] = { "hypercall_kernel_cpl0", "hypercall "
		"KVM_HC_VAPIC_POLL_IRQ, answered in KVM", GR_VMCALL,
		KERNEL_ITERS, false, 0 },
	[BX_GUEST_PF3] = { "guest_pf_cpl3", "#PF on a not-present page, "
		"handled by the guest's CPL-0 handler", GR_PF, KERNEL_ITERS,
		false, 3 },
	[BX_FIRST_TOUCH3] = { "first_touch_cpl3", "first write to fresh guest "
		"memory per 4 KiB page (host fault + shadow/EPT fill)",
		GR_TOUCH, 0, 0, false, 3 },
	[BX_SECOND_TOUCH3] = { "second_touch_cpl3", "the same writes again, "
		"memory mapped (per 4 KiB page)", GR_TOUCH, 0, 0, false, 3 },
	[BX_MOVCR3_0] = { "mov_cr3_cpl0", "MOV to CR3 (same value)",
			  GR_MOVCR3, KERNEL_ITERS, false, 0 },
	[BX_INVLPG0] = { "invlpg_cpl0", "INVLPG of a mapped page", GR_INVLPG,
			 KERNEL_ITERS, false, 0 },
};

struct exits_run {
	struct guest_vm *g;
	const struct bench_clock *clk;
	unsigned reps;
	bool quick, intel;
};

static void arguments(const struct exits_run *x, enum bench_exit_kind k,
		      uint64_t *rdi, uint64_t *rsi)
{
	*rdi = *rsi = 0;
	switch (k) {
	case BX_MMIO3:
	case BX_MMIO0: *rdi = GUEST_MMIO_GPA; break;
	case BX_HYPERCALL_USER0:
		*rdi = KVM_HC_MAP_GPA_RANGE;
		*rsi = GUEST_PT_POOL_END - 4096;        /* page-aligned gpa */
		break;
	case BX_HYPERCALL_KERNEL3:
	case BX_HYPERCALL_KERNEL0: *rdi = KVM_HC_VAPIC_POLL_IRQ; break;
	case BX_RDMSR0: *rdi = 0x1a0; break;
	case BX_GUEST_PF3: *rdi = GUEST_VA_ABSENT; break;
	case BX_FIRST_TOUCH3:
	case BX_SECOND_TOUCH3: *rdi = x->g->fresh_gpa; break;
	case BX_INVLPG0: *rdi = GUEST_PT_POOL_END - 4096; break;
	default: break;
	}
}

static enum guest_routine routine_of(const struct exits_run *x,
				     enum bench_exit_kind k)
{
	/* KVM takes either instruction; the native one avoids an emulation. */
	if (specs[k].routine == GR_VMCALL && !x->intel)
		return GR_VMMCALL;
	return specs[k].routine;
}

/*
 * One repetition: the empty loop at the same CPL, then the operation, so
 * that the baseline is taken under the same load as what it is subtracted
 * from (gr[2]). First touch drops the fresh memory first and runs twice
 * (gr[0] first, gr[1] second touch).
 */
static int one_rep(struct exits_run *x, enum bench_exit_kind k,
		   uint64_t iters, struct guest_run *gr)
{
	struct guest_vm *g = x->g;
	uint64_t rdi, rsi;
	int rc = VMMU_OK;

	arguments(x, k, &rdi, &rsi);
	memset(&gr[2], 0, sizeof(gr[2]));
	if (k != BX_FIRST_TOUCH3 && k != BX_EMPTY0 && k != BX_EMPTY3)
		rc = guest_vm_run(g, GR_EMPTY, specs[k].cpl, iters, 0, 0, &gr[2]);
	if (rc == VMMU_OK && k == BX_FIRST_TOUCH3 &&
	    madvise(g->k.mem + g->fresh_gpa, g->fresh_size, MADV_DONTNEED))
		return VMMU_EIO;
	if (rc == VMMU_OK)
		rc = guest_vm_run(g, routine_of(x, k), specs[k].cpl, iters,
				  rdi, rsi, gr);
	if (rc == VMMU_OK && k == BX_FIRST_TOUCH3)
		rc = guest_vm_run(g, GR_TOUCH, 3, iters, rdi, rsi, gr + 1);
	return rc;
}

/* Per-iteration stats: raw guest cycles, and cycles / ns net of base. */
static void finish_stats(const struct exits_run *x,
			 struct bench_exit_cost *c, const double *cyc,
			 const double *base, const double *host, unsigned n)
{
	double net[BENCH_MAX_REPS], ns[BENCH_MAX_REPS], raw[BENCH_MAX_REPS];
	double h[BENCH_MAX_REPS];
	unsigned i;

	for (i = 0; i < n; i++) {
		raw[i] = cyc[i];
		net[i] = cyc[i] - base[i];
		ns[i] = guest_vm_ns(x->g, net[i], x->clk->tsc_hz);
		h[i] = host[i];
	}
	bench_stats_of(h, n, &c->host_ns);
	bench_stats_of(net, n, &c->cycles);
	bench_stats_of(ns, n, &c->ns);
	bench_stats_of(raw, n, &c->raw_cycles);
	c->measured = true;
}

/* Measure kind k (and, with first touch, the second touch beside it). */
static void measure_kind(struct exits_run *x, enum bench_exit_kind k,
			 struct bench_exit_cost *cost)
{
	double cyc[2][BENCH_MAX_REPS], host[2][BENCH_MAX_REPS];
	double base[BENCH_MAX_REPS];
	struct bench_exit_cost *c = &cost[k];
	struct guest_run gr[3];
	uint64_t iters = x->quick ? specs[k].iters_quick : specs[k].iters_full;
	unsigned r, j, runs = k == BX_FIRST_TOUCH3 ? 2 : 1;
	int rc;

	if (k == BX_FIRST_TOUCH3)
		iters = x->g->fresh_size / 4096;
	c->iters = iters;
	/* Warm-up (caches, shadows built), short leash: an operation that
	 * never completes is reported instead of waited for. */
	x->g->timeout_s = GUEST_PROBE_TIMEOUT_S;
	rc = one_rep(x, k, k == BX_FIRST_TOUCH3 ? iters : iters / 20 + 1, gr);
	x->g->timeout_s = GUEST_RUN_TIMEOUT_S;
	if (rc) {
		/* It never worked here: a property of this host's KVM. */
		snprintf(c->note, sizeof(c->note), "unsupported on this host: "
			 "its warm-up ended with: %.140s", x->g->why);
		c->offered = false;
		return;
	}
	for (r = 0; r < x->reps && rc == VMMU_OK; r++) {
		rc = one_rep(x, k, iters, gr);
		for (j = 0; j < runs && rc == VMMU_OK; j++) {
			cyc[j][r] = (double)gr[j].guest_tsc / (double)iters;
			host[j][r] = (double)gr[j].host_ns / (double)iters;
		}
		base[r] = (double)gr[2].guest_tsc / (double)iters;
		c->user_exits_per_iter = (double)gr[0].user_exits / (double)iters;
	}
	if (rc) {
		snprintf(c->note, sizeof(c->note), "failed after a working "
			 "warm-up: %.150s", x->g->why);
		c->failed = true;
		return;
	}
	if (specs[k].to_user && c->user_exits_per_iter < 0.99) {
		snprintf(c->note, sizeof(c->note), "not offered: KVM answered "
			 "in the kernel (%.2f user exits per iteration)",
			 c->user_exits_per_iter);
		c->offered = false;
		return;
	}
	finish_stats(x, c, cyc[0], base, host[0], x->reps);
	if (k == BX_FIRST_TOUCH3) {
		cost[BX_SECOND_TOUCH3].iters = iters;
		finish_stats(x, &cost[BX_SECOND_TOUCH3], cyc[1], base, host[1],
			     x->reps);
	}
}

static void measure_exits(struct exits_run *x, struct bench_exits_result *r,
			  const struct bench_progress *p)
{
	int k;

	for (k = 0; k < BX_COUNT; k++) {
		struct bench_exit_cost *c = &r->cost[k];

		c->name = specs[k].name;
		c->what = specs[k].what;
		c->cpl = specs[k].cpl;
		c->offered = true;
	}
	if (!x->g->hypercall_exit) {
		r->cost[BX_HYPERCALL_USER0].offered = false;
		snprintf(r->cost[BX_HYPERCALL_USER0].note,
			 sizeof(r->cost[BX_HYPERCALL_USER0].note),
			 "not offered: KVM_CAP_EXIT_HYPERCALL lacks "
			 "KVM_HC_MAP_GPA_RANGE or could not be enabled");
	}
	for (k = 0; k < BX_COUNT; k++) {
		if (!r->cost[k].offered || k == BX_SECOND_TOUCH3)
			continue;
		measure_kind(x, k, r->cost);
		bench_progress(p, "%-22s %9.0f cycles %9.0f ns %s",
			       specs[k].name, r->cost[k].cycles.median,
			       r->cost[k].ns.median, r->cost[k].note);
	}
}

/* ---- the pointer chase inside the guest ---- */

struct guest_chase {
	struct exits_run *x;
	struct bench_chase_target *t;
	uint64_t start[BENCH_CHASE_KINDS], n, min_accesses;
};

/* Where chase k's chain lives: guest-physical offset and guest-virtual. */
static void chase_region(const struct guest_vm *g, enum bench_chase k,
			 uint64_t *gpa, uint64_t *va)
{
	switch (k) {
	case BENCH_CHASE_4K:
		*gpa = GUEST_CHASE_GPA;
		*va = GUEST_VA_4K;
		break;
	case BENCH_CHASE_2M:
		*gpa = GUEST_CHASE_GPA + g->chase_size;
		*va = GUEST_VA_2M;
		break;
	default:
		*gpa = GUEST_CHASE_GPA + 2 * g->chase_size;
		*va = GUEST_VA_2M + g->chase_size;
		break;
	}
}

static int gchase_prepare(void *vctx, enum bench_chase k, uint64_t ws,
			  uint64_t max_ws)
{
	struct guest_chase *c = vctx;
	struct guest_vm *g = c->x->g;
	uint64_t gpa, va;

	(void)max_ws;
	chase_region(g, k, &gpa, &va);
	c->n = ws / 4096;
	c->start[k] = bench_chase_build(g->k.mem + gpa, va, c->n,
					k != BENCH_CHASE_DENSE,
					0x9e3779b97f4a7c15ull ^ ws);
	if (!c->start[k])
		return VMMU_ENOMEM;
	if (k == BENCH_CHASE_2M) {
		uint64_t size = g->chase_size + g->dense_size;
		size_t huge = bench_mem_huge_bytes(g->k.mem + gpa, size);

		snprintf(c->t->huge_method, sizeof(c->t->huge_method),
			 "guest 2M pages");
		snprintf(c->t->huge_why, sizeof(c->t->huge_why),
			 "host backs the 2 MiB-page and dense regions with %zu "
			 "MiB of THP out of %llu MiB", huge >> 20,
			 (unsigned long long)(size >> 20));
	}
	return VMMU_OK;
}

static int gchase_measure(void *vctx, enum bench_chase k, uint64_t ws,
			  double *ns, double *cyc)
{
	struct guest_chase *c = vctx;
	uint64_t iters = bench_chase_iters(c->n, c->min_accesses);
	struct guest_run gr;
	int rc;

	(void)ws;
	/* Warm-up lap, then the timed run, both at CPL 3 (native here). */
	rc = guest_vm_run(c->x->g, GR_CHASE, 3, bench_chase_iters(c->n, 8192),
			  c->start[k], 0, &gr);
	if (rc == VMMU_OK)
		rc = guest_vm_run(c->x->g, GR_CHASE, 3, iters, gr.rdi, 0, &gr);
	if (rc)
		return rc;
	c->start[k] = gr.rdi;
	*cyc = (double)gr.guest_tsc / (double)(iters * 8);
	*ns = guest_vm_ns(c->x->g, *cyc, c->x->clk->tsc_hz);
	return VMMU_OK;
}

static void gchase_finish(void *vctx, enum bench_chase k)
{
	(void)vctx;
	(void)k;
}

static int run_guest_chase(struct exits_run *x, uint64_t max_ws,
			   const struct bench_progress *p,
			   struct bench_tlb_curve *cv)
{
	uint64_t ws[BENCH_MAX_POINTS];
	struct bench_chase_target t;
	struct guest_chase c;
	unsigned n = bench_working_sets(8192, max_ws, x->quick, ws,
					BENCH_MAX_POINTS);

	memset(&t, 0, sizeof(t));
	memset(&c, 0, sizeof(c));
	c.x = x;
	c.t = &t;
	c.min_accesses = x->quick ? (1u << 16) : (1u << 20);
	t.ctx = &c;
	t.prepare = gchase_prepare;
	t.measure = gchase_measure;
	t.finish = gchase_finish;
	return bench_curve_run(&t, ws, n, x->reps, p, "guest", cv);
}

/* ---- putting it together ---- */

static bool host_is_intel(void)
{
	uint32_t a = 0, b, c, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
	return b == 0x756e6547;         /* "Genu" */
}

int bench_exits_run(const struct bench_exits_opts *o,
		    const struct bench_clock *clk, struct bench_exits_result *r,
		    char *why, size_t whylen)
{
	struct guest_vm *g = calloc(1, sizeof(*g));
	struct exits_run x;
	struct bench_tlb_opts to;
	struct bench_tlb_result *native = NULL;
	uint64_t chase_max = o->chase_max ? o->chase_max :
			     (o->quick ? (64ull << 20) : (1ull << 30));
	int rc;

	memset(r, 0, sizeof(*r));
	if (!g)
		return VMMU_ENOMEM;
	if (o->no_chase)
		chase_max = 2ull << 20;
	rc = guest_vm_open(g, o->device, chase_max, o->quick ? (8ull << 20) :
			   (64ull << 20));
	if (rc) {
		snprintf(why, whylen, "%s", g->why);
		free(g);
		return rc;
	}
	bench_kvm_probe(g->k.kvm_fd, &r->kvm);
	r->kvm.guest_tsc_khz = g->guest_tsc_khz;
	memset(&x, 0, sizeof(x));
	x.g = g;
	x.clk = clk;
	x.quick = o->quick;
	x.reps = o->reps ? o->reps : (o->quick ? 5 : 9);
	x.intel = host_is_intel();
	bench_progress(&o->progress, "KVM: %s", r->kvm.flavour);
	measure_exits(&x, r, &o->progress);
	if (!o->no_chase) {
		rc = run_guest_chase(&x, chase_max, &o->progress, &r->guest_chase);
		if (rc) {
			snprintf(why, whylen, "guest chase: %s", g->why);
			goto out;
		}
		memset(&to, 0, sizeof(to));
		to.quick = o->quick;
		to.reps = x.reps;
		to.max_ws = chase_max;
		to.progress = o->progress;
		native = calloc(1, sizeof(*native));
		rc = native ? bench_tlb_run(&to, native) : VMMU_ENOMEM;
		if (rc) {
			snprintf(why, whylen, "native chase: %s", vmmu_strerror(rc));
			goto out;
		}
		r->native_chase = native->kinds[0].curve;
		r->have_chase = true;
	}
out:
	free(native);
	guest_vm_close(g);
	free(g);
	return rc;
}
