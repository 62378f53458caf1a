/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench model's pieces shared by its backend rows (bench_model.c
 * builds the guest and times the access path; model_ept.c, model_npt.c
 * and model_shadow.c add the EPT, NPT and shadow rows on the same guest).
 */
#ifndef VMMU_CLI_BENCH_MODEL_H
#define VMMU_CLI_BENCH_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/tlb.h"
#include "host/hosted.h"
#include "vmmu/access.h"

#define BM_RAM      (16ULL << 20)
#define BM_CR3      0x1000ULL
#define BM_GVA      0x40000000ULL
#define BM_DATA     0x800000ULL     /* data pages from 8 MiB */
#define BM_HOT      32              /* pages of the TLB-hit case */
#define BM_PAGES    512             /* pages of the walk cases: one PT */
_Static_assert((BM_HOT & (BM_HOT - 1)) == 0 && (BM_PAGES & (BM_PAGES - 1)) == 0,
	       "bm_gva masks: page counts are powers of two");
#define BM_ROUNDS   7               /* the fastest round counts */

struct bm {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	uint64_t next_table;
	/* the backend (NULL: direct) and 4 KiB host blocks only */
	const struct vmmu_backend_ops *ops;
	enum vmmu_backend_kind kind;
	bool small_pages;
};

struct bm_case {
	const char *name;
	unsigned pages;
	double ns;
	double refs_per_access;
	uint64_t hits, accesses;
};

/* CLOCK_MONOTONIC in ns. */
double bm_now_ns(void);
/* The guest: 4-level tables mapping BM_PAGES pages at BM_GVA. */
int bm_setup(struct bm *b);
/* bm_setup on a VM of backend ops with 4 KiB host blocks; bm_done frees. */
int bm_backend_setup(struct bm *b, const struct vmmu_backend_ops *ops,
		     enum vmmu_backend_kind kind);
void bm_done(struct bm *b);
/* One more 4 KiB guest page gva -> pa (P RW US A D at every level). */
int bm_map(struct bm *b, uint64_t gva, uint64_t pa);
int bm_vcpu(struct bm *b, const struct vmmu_tlb_config *cfg,
	    struct vmmu_vcpu **out);
int bm_tiny_tlb(struct vmmu_tlb_config *cfg, bool pwc);
/* One TLB entry, no guest or nested caches, no guest-physical TLB. */
int bm_cold_tlb(struct vmmu_tlb_config *cold);
/* A random 8-byte-aligned gva in one of the first pages pages; pages is a
 * power of two (a mask, not a division, keeps the driver out of the timing). */
uint64_t bm_gva(uint32_t *lcg, unsigned pages, uint64_t i);
/* n reads of c->pages pages; the fastest of BM_ROUNDS rounds. */
int bm_time(struct vmmu_vcpu *v, struct bm_case *c, uint64_t n);
int bm_check(const struct bm_case *c, bool want_hits, double refs);

/* What a backend's walk rows must show: references per cold walk, and the
 * range of references per walk started from the caches. */
struct bm_walk_want {
	double cold_refs;
	double pwc_lo, pwc_hi;
};
/*
 * The three walk rows of one VM, rows[0..2]: hits of BM_HOT pages in the
 * default TLB, cold walks (bm_cold_tlb) and walks started from the caches
 * (one TLB entry, default caches), each checked against w. *vp is the
 * cached vCPU, for the rows that follow on the same VM.
 */
int bm_walk_rows(struct bm *b, uint64_t n, const struct bm_walk_want *w,
		 struct bm_case *const rows[3], struct vmmu_vcpu **vp);

/* The *-start-* rows of a backend with second-level tables: touch
 * resolves the exit of a first touch of gpa g (round 0) or of the marker a
 * type change left on it (later rounds); tables are the backend's. */
struct vmmu_pt;
struct bm_start_ops {
	const struct vmmu_backend_ops *ops;
	enum vmmu_backend_kind kind;
	int (*touch)(struct vmmu_vcpu *v, uint64_t g, unsigned round);
	struct vmmu_pt *(*tables)(struct vmmu_vm *vm);
};
/* Start a type change of a whole guest of size, rounds times, 64 pages
 * touched before each: ns per start, entries marked per start. */
int bm_start_case(const struct bm_start_ops *o, struct bm_case *c,
		  uint64_t size, unsigned rounds);

/* model_ept.c: the EPT rows, filling BM_EPT_CASES cases. */
#define BM_EPT_CASES 7
int bench_model_ept(uint64_t n, struct bm_case *cases);
/* model_npt.c: the NPT rows, filling BM_NPT_CASES cases. */
#define BM_NPT_CASES 8
int bench_model_npt(uint64_t n, struct bm_case *cases);
/* model_shadow.c: the shadow rows, filling BM_SHADOW_CASES cases. */
#define BM_SHADOW_CASES 9
int bench_model_shadow(uint64_t n, struct bm_case *cases);
/* model_shadow_dirty.c: the shadow log-dirty rows, BM_SHADOW_LD_CASES. */
#define BM_SHADOW_LD_CASES 4
int bench_model_shadow_dirty(uint64_t n, struct bm_case *cases);

#endif
