/* SPDX-License-Identifier: MIT */
/*
 * One run: boot the guest OS model on a backend, run the workload with one
 * thread per vCPU, and gather the exact counts of the access path
 * (struct vmmu_vcpu_stats), the TLB model (vmmu_tlb_stats) and the guest
 * kernel (struct gos_stats).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/tlb.h"
#include "model/model.h"
#include "vmmu/error.h"

struct vcpu_thread {
	pthread_t tid;
	struct gos_cpu *c;
	const struct workload *wl;
	const struct wl_params *w;
	struct wl_shared *sh;
	int rc;
};

static void *vcpu_main(void *arg)
{
	struct vcpu_thread *t = arg;

	t->rc = t->wl->run(t->c, t->w, t->sh);
	if (t->rc < 0 && t->wl->threaded && t->c->id == 0 &&
	    !atomic_load(&t->sh->ready))
		atomic_store(&t->sh->ready, 2);
	gos_cpu_done(t->c);
	return NULL;
}

static void add_tlb(struct run_counts *n, const struct vmmu_tlb_stats *s)
{
	unsigned i;

	for (i = 0; i < VMMU_TLB_NPSIZE; i++) {
		n->stlb_hits += s->arr_hits[VMMU_TLB_STLB][i] +
				s->arr_hits[VMMU_TLB_STLB_1G][i];
		n->gpa_tlb_hits += s->gpa_hits[i];
	}
	for (i = 0; i < VMMU_TLB_PWC_LEVELS; i++) {
		n->pwc_hits += s->pwc_hits[i];
		n->npwc_hits += s->npwc_hits[i];
	}
	n->gpa_tlb_misses += s->gpa_misses;
	n->shootdowns += s->inv[VMMU_TLB_INV_SHOOTDOWN];
	for (i = 0; i < VMMU_TLB_INV_SHOOTDOWN; i++)
		n->tlb_flushes += s->inv[i];
}

static void gather(const struct gos *g, struct run_counts *n)
{
	unsigned i, k;

	memset(n, 0, sizeof(*n));
	for (i = 0; i < g->cfg.vcpus; i++) {
		const struct vmmu_vcpu_stats *s = &g->cpu[i].vcpu->stats;

		n->accesses += s->accesses;
		n->tlb_hits += s->tlb_hits;
		n->tlb_misses += s->tlb_misses;
		n->guest_refs += s->guest_walk_refs;
		n->nested_refs += s->nested_walk_refs;
		n->guest_faults += s->guest_faults;
		n->exits += s->exits;
		for (k = 0; k < VMMU_EXIT_KINDS_ && k < 8; k++)
			n->exits_by_kind[k] += s->exits_by_kind[k];
		n->retries += s->retries;
		n->emulated += s->emulated;
		n->emulated_insns += s->emulated_insns;
		n->to_vmm += s->to_vmm;
		n->pwc_walks += s->pwc_walks;
		n->cr_writes += s->cr_writes;
		n->invlpg += s->invlpg;
		n->invpcid += s->invpcid;
		if (g->cpu[i].vcpu->tlb)
			add_tlb(n, vmmu_tlb_stats(g->cpu[i].vcpu->tlb));
	}
	n->os = g->st;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run_threads(struct gos *g, const struct workload *wl,
		       const struct wl_params *w, struct run_result *out)
{
	struct vcpu_thread t[GOS_MAX_VCPUS];
	struct wl_shared sh;
	unsigned i, started = 0;
	int rc = VMMU_OK;

	memset(&sh, 0, sizeof(sh));
	memset(t, 0, sizeof(t));
	for (i = 0; i < g->cfg.vcpus; i++) {
		t[i] = (struct vcpu_thread){ .c = &g->cpu[i], .wl = wl, .w = w,
					     .sh = &sh };
		if (pthread_create(&t[i].tid, NULL, vcpu_main, &t[i]) != 0) {
			/* the vCPUs not started count as done */
			for (; i < g->cfg.vcpus; i++)
				gos_cpu_done(&g->cpu[i]);
			rc = VMMU_ENOMEM;
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(t[i].tid, NULL);
		if (t[i].rc < 0 && rc == 0) {
			rc = t[i].rc;
			snprintf(out->error, sizeof(out->error), "vCPU %u: %s%s", i,
				 vmmu_strerror(rc), rc == VMMU_ENOMEM ?
				 " (guest out of memory: raise --mem)" :
				 rc == VMMU_EDEAD ? g->vm->dead_reason ?
				 g->vm->dead_reason : "" : "");
		}
	}
	if (rc < 0 && !out->error[0])
		snprintf(out->error, sizeof(out->error), "cannot start vCPU threads");
	return rc;
}

int run_one(const struct run_config *cfg, const struct run_backend *b,
	    const struct workload *wl, struct run_result *out)
{
	struct gos_config gc = cfg->gos;
	struct gos *g = NULL;
	double t0 = now_s();
	int rc;

	memset(out, 0, sizeof(*out));
	out->backend = b;
	out->wl = wl;
	gc.ops = b->ops;
	gc.kind = b->kind;
	rc = gos_create(&gc, &g, out->error, sizeof(out->error));
	if (rc == 0) {
		gos_reset_counts(g);
		rc = run_threads(g, wl, &cfg->wl, out);
		gather(g, &out->n);
	}
	gos_destroy(g);
	out->wall_s = now_s() - t0;
	return rc;
}
