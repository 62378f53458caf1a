/* SPDX-License-Identifier: MIT */
/*
 * vmmu's walker against the KVM oracle: the comparison of one access and
 * the loop that runs seeded cases and counts what happened.
 */
#ifndef VMMU_TESTS_KVM_ORACLE_CMP_H
#define VMMU_TESTS_KVM_ORACLE_CMP_H

#include <stdio.h>
#include <jansson.h>

#include "oracle.h"

/* The walker's verdict on one access compared with KVM's outcome. */
struct orc_verdict {
	bool agree;
	char why[256];          /* !agree: the first difference */
	struct vmmu_walk_result res;
};

/* The walker's paging state for a case (registers and the guest's CPU). */
void orc_paging_state(const struct orc_vm *vm, const struct orc_case *c,
		      struct vmmu_paging_state *ps);

/*
 * Run vmmu_walk() for access idx of c on *tables (the tables as the access
 * found them; A/D updates are applied in place) and compare with KVM's
 * outcome and the tables KVM left. 0 with *v filled, or the walker's error.
 */
int orc_check_access(const struct orc_vm *vm, const struct orc_case *c,
		     unsigned idx, struct orc_tables *tables,
		     const struct orc_tables *kvm_after,
		     const struct orc_outcome *o, struct orc_verdict *v);

/* Counts over a run. */
struct orc_stats {
	uint64_t cases, accesses;
	uint64_t completed, pf_not_present, pf_protection, pf_reserved;
	uint64_t other_vector;  /* faults other than #PF */
	uint64_t implicit, fetch_quirk;
	uint64_t ad_updates;    /* accesses after which KVM had set A or D bits */
	uint64_t mmio;          /* accesses that reached a gpa without memory */
	uint64_t pke_accesses;  /* accesses with CR4.PKE */
	uint64_t pf_pk;         /* #PF with PFEC.PK */
	uint64_t agree, disagree, harness_errors;
	double seconds;
};

/* What to run and where to report. */
struct orc_run_opts {
	uint64_t seed, cases;
	unsigned max_dumps;     /* disagreements dumped in full */
	bool no_implicit;       /* leave out the LDT (implicit) accesses */
	bool progress;          /* progress lines on stderr */
	json_t *dumps;          /* array receiving the dumps (may be NULL) */
	FILE *log;              /* one line per disagreement (may be NULL) */
};

/*
 * Run opts->cases cases from opts->seed on vm. Returns 0 (whatever the
 * verdicts) or a negative vmmu_err when KVM itself failed.
 */
int orc_run(struct orc_vm *vm, const struct orc_run_opts *opts,
	    struct orc_stats *st);

/* A case as `vmmu walk` input (accesses 0..upto), memory from *pre0. */
json_t *orc_case_json(const struct orc_vm *vm, const struct orc_case *c,
		      unsigned upto, const struct orc_tables *pre0);
/* One result in `vmmu walk` output form. */
json_t *orc_kvm_result_json(const struct orc_access *a,
			    const struct orc_outcome *o, uint64_t page_size);
json_t *orc_walk_result_json(const struct orc_access *a,
			     const struct vmmu_walk_result *r);
/* The stats as a JSON object. */
json_t *orc_stats_json(const struct orc_stats *st);

#endif
