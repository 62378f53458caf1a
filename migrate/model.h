/* SPDX-License-Identifier: MIT */
/*
 * A model VM for log-dirty and migration: guest RAM at gpa 0, 4-level
 * guest paging that identity-maps it with 2 MiB pages, N vCPUs on the
 * direct backend or the one given by kind and ops (EPT, NPT, shadow), and
 * a writer workload: one thread per vCPU storing through vmmu_vcpu_access.
 * Hosted (pthreads).
 */
#ifndef VMMU_MIGRATE_MODEL_H
#define VMMU_MIGRATE_MODEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmmu/vmmu.h"
#include "vmmu/access.h"
#include "vmmu/ept.h"
#include "vmmu/npt.h"
#include "host/hosted.h"

#define MODEL_MAX_VCPUS 16
#define MODEL_MAX_MEM   (4ULL << 30)    /* identity map of 4 PDs */
#define MODEL_DATA_BASE (1ULL << 20)    /* workloads write from 1 MiB */

enum model_workload {
	MODEL_WL_RANDOM = 0,    /* uniform over every data page */
	MODEL_WL_HOT,           /* 90% of stores to 5% of the pages */
	MODEL_WL_SWEEP,         /* each vCPU walks its share in order */
	MODEL_WL_IDLE,          /* no stores */
	MODEL_WL_COUNT_
};

struct model_cfg {
	uint64_t mem;           /* bytes, multiple of 2 MiB, 4 MiB..4 GiB */
	unsigned vcpus;         /* 1..MODEL_MAX_VCPUS */
	enum model_workload workload;
	uint64_t seed;
	uint64_t rate;          /* stores per second per vCPU, 0: flat out */
	bool eager;             /* back all RAM at creation */
	const struct vmmu_backend_ops *ops;     /* NULL: the direct backend */
	enum vmmu_backend_kind kind;            /* what ops is (VMMU_BACKEND_*) */
	/* Dirty tracking: dirty if dirty_fixed, else VMMU_DIRTY_AUTO (the
	 * best the backend has); dirty_flags as vmmu_dirty_set_flags. */
	bool dirty_fixed;
	enum vmmu_dirty_log dirty;
	unsigned dirty_flags;
	/* The CPU profile of an EPT or NPT VM (vmmu_ept_configure,
	 * vmmu_npt_configure); NULL: the backend's default */
	const struct vmmu_ept_caps *ept_caps;
	const struct vmmu_npt_config *npt_cfg;
};

/* What a vCPU's workload thread carries (migrated as vCPU state). */
struct model_vcpu_state {
	uint64_t seq;           /* stores made */
	uint64_t rng;           /* xorshift state */
};

struct model;
struct model_thread {
	struct model *m;
	unsigned i;
};

struct model {
	struct model_cfg cfg;
	struct model_thread ta[MODEL_MAX_VCPUS];
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *vcpu[MODEL_MAX_VCPUS];
	struct model_vcpu_state st[MODEL_MAX_VCPUS];
	pthread_t th[MODEL_MAX_VCPUS];
	bool running;
	atomic_int state;       /* 0 run, 1 pause requested, 2 stop */
	atomic_uint parked;
	atomic_ullong stores;
	atomic_int error;       /* first vmmu_err a writer hit (0: none) */
	char why[160];
};

/*
 * The backend and dirty-tracking pairs the model offers (migrate/
 * variants.c): direct wp first, then EPT wp, wp-2m, ad, pml, NPT wp,
 * wp-2m, ad, shadow wp.
 */
struct model_variant {
	const char *name;               /* "ept pml", ... */
	enum vmmu_backend_kind kind;
	const struct vmmu_backend_ops *ops;     /* NULL: direct */
	enum vmmu_dirty_log dirty;
	unsigned flags;                 /* vmmu_dirty_set_flags */
};
#define MODEL_VARIANTS 9
extern const struct model_variant model_variants[MODEL_VARIANTS];
/*
 * CPU profiles that offer every variant: EPT with A/D and PML, NPT
 * harvesting nested D bits; npt is the storage cfg->npt_cfg points at.
 */
void model_cfg_full_profiles(struct model_cfg *cfg, struct vmmu_npt_config *npt);
/* cfg runs on variant v with the full profiles. */
void model_cfg_variant(struct model_cfg *cfg, const struct model_variant *v,
		       struct vmmu_npt_config *npt);

/* Workload names: "random", "hot", "sweep", "idle"; -1 if unknown. */
int model_workload_parse(const char *name);
const char *model_workload_name(enum model_workload w);

/* Build the VM (no threads yet). 0 or a negative vmmu_err, m->why set. */
int model_create(struct model *m, const struct model_cfg *cfg);
void model_destroy(struct model *m);
/* Start, pause (returns with every writer parked between stores),
 * resume, and stop (join) the writer threads. */
int model_start(struct model *m);
void model_pause(struct model *m);
void model_resume(struct model *m);
void model_stop(struct model *m);
/* One store of the workload on vCPU i (what each thread repeats). */
int model_step(struct model *m, unsigned i);
/* Load the paging registers the model's guest runs with into vcpu. */
int model_paging(struct vmmu_vcpu *vcpu);

#endif
