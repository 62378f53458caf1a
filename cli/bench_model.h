/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench model's pieces shared by its backend rows (bench_model.c
 * builds the guest and times the access path; model_ept.c and
 * model_npt.c add the EPT and NPT rows on the same guest).
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
int bm_vcpu(struct bm *b, const struct vmmu_tlb_config *cfg,
	    struct vmmu_vcpu **out);
int bm_tiny_tlb(struct vmmu_tlb_config *cfg, bool pwc);
/* A random 8-byte-aligned gva in one of the first pages pages; pages is a
 * power of two (a mask, not a division, keeps the driver out of the timing). */
uint64_t bm_gva(uint32_t *lcg, unsigned pages, uint64_t i);
/* n reads of c->pages pages; the fastest of BM_ROUNDS rounds. */
int bm_time(struct vmmu_vcpu *v, struct bm_case *c, uint64_t n);
int bm_check(const struct bm_case *c, bool want_hits, double refs);

/* model_ept.c: the EPT rows, filling BM_EPT_CASES cases. */
#define BM_EPT_CASES 7
int bench_model_ept(uint64_t n, struct bm_case *cases);
/* model_npt.c: the NPT rows, filling BM_NPT_CASES cases. */
#define BM_NPT_CASES 8
int bench_model_npt(uint64_t n, struct bm_case *cases);

#endif
