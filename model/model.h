/* SPDX-License-Identifier: MIT */
/*
 * The model behind `vmmu run` (docs/run.md): the backends this build
 * offers, the workloads that run on the guest OS model (model/gos.h), the
 * runner (one thread per vCPU) with its exact counts, and the cost model
 * that turns counts into an estimated time. Real-hardware measurement
 * stays in bench/; the model only reads the cost profile bench writes.
 */
#ifndef VMMU_MODEL_H
#define VMMU_MODEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "model/gos.h"
#include "model/trace.h"

/* ---- backends (backends.c) ---- */

struct run_backend {
	const char *name;               /* "ept", "npt", "shadow", "direct" */
	enum vmmu_backend_kind kind;
	const struct vmmu_backend_ops *ops;
};

/* The backends of this build, ept/npt/shadow first, direct last. */
unsigned run_backend_count(void);
const struct run_backend *run_backend_at(unsigned i);
const struct run_backend *run_backend_find(const char *name);

/* ---- workloads (workload.c, workload_trace.c) ---- */

struct wl_params {
	double scale;           /* 1.0: the literature's sizes */
	uint64_t seed;
	const struct trace *trace;      /* trace:FILE */
	atomic_uint_fast64_t *progress; /* units done, for the bar */
};

/* State the vCPU threads of one run share. */
struct wl_shared {
	struct gos_proc *proc;          /* the threaded workloads' process */
	atomic_uint ready;
	atomic_uint arrived, go;        /* the start of measurement */
	uint64_t heap, heap_len;        /* gups / stream / redis-like */
};

struct workload {
	const char *name;
	const char *what;
	bool threaded;          /* the vCPUs run threads of one process */
	/* Progress units the whole run will count. */
	uint64_t (*units)(const struct gos *g, const struct wl_params *w);
	/* One vCPU's part; cpu->id 0 sets up the shared process. */
	int (*run)(struct gos_cpu *c, const struct wl_params *w,
		   struct wl_shared *sh);
};

extern const struct workload wl_forkwait, wl_kbuild, wl_gups, wl_stream,
	wl_redis, wl_trace;
/* The named workloads; NULL-terminated. */
extern const struct workload *const run_workloads[];
const struct workload *run_workload_find(const char *name);

/* Deterministic per-vCPU random numbers (xorshift64*). */
static inline uint64_t wl_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* The spin a vCPU does while it waits for another: answers IPIs. */
void wl_wait_flag(struct gos_cpu *c, atomic_uint *flag, unsigned want);

/* ---- one run (run.c) ---- */

/* Every exact count of one workload on one backend. */
struct run_counts {
	uint64_t accesses, tlb_hits, tlb_misses, stlb_hits;
	uint64_t guest_refs, nested_refs, pwc_walks, pwc_hits, npwc_hits;
	uint64_t gpa_tlb_hits, gpa_tlb_misses;
	uint64_t guest_faults, exits, exits_by_kind[VMMU_EXIT_KINDS_];
	uint64_t retries, emulated, emulated_insns, to_vmm;
	uint64_t cr_writes, invlpg, invpcid, tlb_flushes, shootdowns;
	struct gos_stats os;
};

struct run_result {
	const struct run_backend *backend;
	const struct workload *wl;
	struct run_counts n;
	double wall_s;          /* how long the model took */
	char error[256];        /* non-empty: the run failed */
};

struct run_config {
	struct gos_config gos;  /* ops/kind are set per backend */
	struct wl_params wl;
};

/* Run wl on backend b; the result carries counts or an error. */
int run_one(const struct run_config *cfg, const struct run_backend *b,
	    const struct workload *wl, struct run_result *out);

/* ---- the cost model (cost.c) ---- */

enum cost_event {
	COST_ACCESS = 0,        /* every access (L1 TLB hit path) */
	COST_STLB_HIT,          /* L1 miss, second-level hit */
	COST_WALK_REF,          /* one guest page-table reference */
	COST_NESTED_REF,        /* one EPT/NPT reference */
	COST_GUEST_PF,          /* a #PF the guest kernel handles */
	COST_EXIT,              /* a VM exit handled in the hypervisor */
	COST_EMULATE,           /* one instruction emulated on an exit */
	COST_CR3,               /* MOV to CR3 (native part) */
	COST_INVLPG,            /* INVLPG / INVPCID (native part) */
	COST_SHOOTDOWN,         /* a remote TLB shootdown (IPI) */
	COST_EVENTS_,
};

struct cost_profile {
	char name[48];
	char cpu[96];
	double ghz;             /* cycles -> ns */
	double cycles[COST_EVENTS_];
	char source[COST_EVENTS_][120];
	bool measured;          /* from a vmmu bench profile */
};

const char *cost_event_name(enum cost_event e);
/* The built-in profiles; NULL-terminated names. */
unsigned cost_builtin_count(void);
const struct cost_profile *cost_builtin(unsigned i);
const struct cost_profile *cost_builtin_find(const char *name);
/* The built-in profile nearest to a CPU vendor and uarch. */
const struct cost_profile *cost_builtin_for(const char *vendor,
					    const char *uarch);
/*
 * Load the profile `vmmu bench tlb` / `bench exits` wrote; missing costs
 * come from base. 0, or VMMU_EPARSE / VMMU_EIO with a sentence in err.
 */
int cost_load(const char *path, const struct cost_profile *base,
	      struct cost_profile *out, char *err, size_t errlen);

/* How many times each event happened in a run. */
void cost_events(const struct run_counts *n, enum vmmu_backend_kind kind,
		 uint64_t ev[COST_EVENTS_]);
/* Estimated ns of a run, and per event class. */
double cost_estimate(const struct cost_profile *p, const struct run_counts *n,
		     enum vmmu_backend_kind kind, double part_ns[COST_EVENTS_]);

/* ---- a session of runs and its report (report.c, plot.c) ---- */

#define RUN_MAX_WL 16
#define RUN_MAX_BK 8

struct run_session {
	unsigned nwl, nbk;
	const struct workload *wl[RUN_MAX_WL];
	const struct trace *trace[RUN_MAX_WL];
	char wl_name[RUN_MAX_WL][80];
	const struct run_backend *bk[RUN_MAX_BK];
	struct run_result res[RUN_MAX_WL][RUN_MAX_BK];
	struct run_config cfg;
	struct cost_profile cost;
	/* the host and what the policy picks for it */
	char host[200];
	char policy[16];                /* "ept", "npt", "shadow", "" */
	unsigned npolicy_reasons;
	char policy_reasons[8][200];
	double wall_s;
};

/* The recommended backend of workload i (never direct), or NULL. */
const struct run_backend *report_best(const struct run_session *s,
				      unsigned i, double *ns);
void report_text(FILE *out, const struct run_session *s);
json_t *report_json(const struct run_session *s);
/* Before any run: DIR can take the plots without overwriting others' files. */
int report_plot_check(const char *dir, char *err, size_t errlen);
int report_plot(const char *dir, const struct run_session *s, char *err,
		size_t errlen);

#endif
