/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench model's NPT rows: the same guest as the other rows, on an
 * NPT VM with 4 KiB host blocks (so every nested walk has 4 levels):
 *   npt-tlb-hit     hits of the combined TLB;
 *   npt-cold-walk   a one-entry TLB, no guest or nested paging-structure
 *                   caches, no guest-physical TLB: every access is a full
 *                   2-D walk, 24 references (4 over 4);
 *   npt-cold-walk-5 the same with a 5-level guest (LA57) over 5-level
 *                   nested tables: 35 references;
 *   npt-pwc-walk    the default caches: the guest walk starts from the PDE
 *                   cache, nested walks hit the guest-physical TLB or the
 *                   nested caches;
 *   npt-npf-logdirty a write to a write-protected log-dirty page: walk,
 *                   #NPF, the handler logs the page and makes it writable,
 *                   the access retries and completes;
 *   npt-recalc-pt   the #NPF (P = 1 on a U-cleared entry) that
 *                   recalculates one leaf table after a 2 MiB type change;
 *   npt-start-1g,   starting a type change of a whole 1 GiB / 1 TiB guest
 *   npt-start-1t    (vmmu_vm_set_p2m_type): entries marked in the last
 *                   column; the markers are resolved between rounds.
 * The last column of the last four rows counts exits per access, leaves
 * per recalculation and entries marked per start, not references.
 */
#include <stdio.h>
#include <string.h>

#include "bench_model.h"
#include "core/pgtable.h"
#include "npt/npt_backend.h"
#include "vmmu/error.h"
#include "vmmu/npt.h"
#include "vmmu/p2m.h"

#define NPT_PML5 0x7ff000ULL        /* the 5-level guest's PML5 */
#define NPF_FINAL_NP 0x100000004ULL /* read, not present, final gpa */
#define NPF_FINAL_U0 0x100000005ULL /* read, P = 1 (a marked entry) */

static int npt_bm_setup(struct bm *b, unsigned levels)
{
	struct vmmu_npt_config cfg;
	int rc;

	rc = bm_backend_setup(b, &vmmu_backend_npt, VMMU_BACKEND_NPT);
	vmmu_npt_config_default(&cfg);
	cfg.levels = levels;
	return rc == 0 ? vmmu_npt_configure(b->vm, &cfg) : rc;
}

/* Writes to log-dirty pages, re-armed (untimed) every BM_PAGES writes. */
static int npt_logdirty_case(struct bm *b, struct vmmu_vcpu *v,
			     struct bm_case *c, uint64_t n)
{
	struct vmmu_op op = { .acc = { mk_gva(0), VMMU_ACCESS_WRITE, 3, false },
			      .size = 8 };
	struct vmmu_access_result res;
	uint64_t data = 1, i, done = 0, exits0;
	double total = 0;
	int rc = b->vm->ops->dirty_log_start(b->vm);

	vmmu_vm_tlb_flush_sync(b->vm);  /* the hooks leave TLBs to the caller */
	op.data = &data;
	/* One untimed round: the guest's own tables are logged once. */
	for (i = 0; rc == 0 && i < BM_PAGES; i++) {
		op.acc.gva = mk_gva(BM_GVA + i * VMMU_PAGE_SIZE);
		rc = vmmu_vcpu_access(v, &op, &res);
	}
	exits0 = v->stats.exits;
	while (rc == 0 && done < n) {
		double t0;

		rc = b->vm->ops->dirty_log_rearm(b->vm, mk_gpa(BM_DATA),
						 BM_PAGES * VMMU_PAGE_SIZE);
		vmmu_vm_tlb_flush_sync(b->vm);
		t0 = bm_now_ns();
		for (i = 0; rc == 0 && i < BM_PAGES; i++) {
			op.acc.gva = mk_gva(BM_GVA + i * VMMU_PAGE_SIZE);
			rc = vmmu_vcpu_access(v, &op, &res);
			if (rc == 0 && res.status != VMMU_ACCESS_DONE)
				rc = VMMU_EINVAL;
		}
		total += bm_now_ns() - t0;
		done += BM_PAGES;
	}
	c->accesses = done;
	c->ns = total / (double)done;
	c->refs_per_access = (double)(v->stats.exits - exits0) / (double)done;
	return rc;
}

/* npt-recalc-pt: a 2 MiB type change, then the #NPF that resolves it. */
static int npt_recalc_case(struct bm *b, struct vmmu_vcpu *v,
			   struct bm_case *c, unsigned rounds)
{
	struct vmmu_pt *pt = &npt_of(b->vm)->pt;
	uint64_t leaves0, tables0;
	struct vmmu_exit_result res;
	double total = 0;
	unsigned i;
	/* Markers left on the path by an earlier change go first. */
	int rc = vmmu_npt_handle_npf(v, NPF_FINAL_U0, BM_DATA, NULL, &res, NULL);

	leaves0 = pt->stats.recalc_leaves;
	tables0 = pt->stats.recalc_tables;
	for (i = 0; rc == 0 && i < rounds; i++) {
		double t0;

		rc = vmmu_vm_set_p2m_type(b->vm, mk_gpa(BM_DATA), 2ULL << 20,
					  VMMU_P2M_RAM_RW);
		t0 = bm_now_ns();
		if (rc == 0)
			rc = vmmu_npt_handle_npf(v, NPF_FINAL_U0, BM_DATA, NULL,
						 &res, NULL);
		total += bm_now_ns() - t0;
		if (rc == 0 && res.action != VMMU_ACT_RETRY)
			rc = VMMU_EINVAL;
	}
	if (rc == 0 && pt->stats.recalc_tables - tables0 != rounds)
		rc = VMMU_EINVAL;       /* one leaf table per exit */
	c->accesses = rounds;
	c->ns = total / rounds;
	c->refs_per_access = (double)(pt->stats.recalc_leaves - leaves0) / rounds;
	return rc;
}

/* npt-start-*: a first touch is a not-present #NPF, a marker a P = 1 one. */
static int npt_touch(struct vmmu_vcpu *v, uint64_t g, unsigned round)
{
	struct vmmu_exit_result res;

	return vmmu_npt_handle_npf(v, round ? NPF_FINAL_U0 : NPF_FINAL_NP, g,
				   NULL, &res, NULL);
}

static struct vmmu_pt *npt_pt(struct vmmu_vm *vm)
{
	return &npt_of(vm)->pt;
}

static const struct bm_start_ops npt_start = {
	&vmmu_backend_npt, VMMU_BACKEND_NPT, npt_touch, npt_pt,
};

/* npt-cold-walk-5: the guest under a PML5, 5-level nested tables. */
static int npt_cold5_case(struct bm_case *c, uint64_t n)
{
	uint64_t pml5e = BM_CR3 | X86_PTE_P | X86_PTE_RW | X86_PTE_US |
			 X86_PTE_A | X86_PTE_D;
	struct vmmu_tlb_config cold;
	struct vmmu_vcpu *v = NULL;
	struct bm b;
	int rc = npt_bm_setup(&b, 5);

	if (rc == 0)
		rc = vmmu_vm_write_gpa(b.vm, mk_gpa(NPT_PML5), &pml5e, 8);
	if (rc == 0)
		rc = bm_cold_tlb(&cold);
	if (rc == 0)
		rc = bm_vcpu(&b, &cold, &v);
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(v, VMMU_CR4, v->paging.cr4 | X86_CR4_LA57);
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(v, VMMU_CR3, NPT_PML5);
	if (rc == 0)
		rc = bm_time(v, c, BM_PAGES);   /* first touches */
	if (rc == 0) {
		c->ns = 0;
		rc = bm_time(v, c, n);
	}
	if (rc == 0)
		rc = bm_check(c, false, 35);
	bm_done(&b);
	return rc;
}

static const char *const npt_rows[BM_NPT_CASES] = {
	"npt-tlb-hit", "npt-cold-walk", "npt-cold-walk-5", "npt-pwc-walk",
	"npt-npf-logdirty", "npt-recalc-pt", "npt-start-1g", "npt-start-1t",
};

int bench_model_npt(uint64_t n, struct bm_case *cases)
{
	static const struct bm_walk_want want = { 24, 0, 11.99 };
	struct bm_case *rows[3] = { &cases[0], &cases[1], &cases[3] };
	struct vmmu_vcpu *vp = NULL;
	struct bm b;
	unsigned i;
	int rc = npt_bm_setup(&b, 4);

	for (i = 0; i < BM_NPT_CASES; i++)
		cases[i] = (struct bm_case){ .name = npt_rows[i],
					     .pages = i ? BM_PAGES : BM_HOT };
	if (rc == 0)
		rc = bm_walk_rows(&b, n, &want, rows, &vp);
	if (rc == 0)
		rc = npt_logdirty_case(&b, vp, &cases[4], n < 51200 ? n : 51200);
	if (rc == 0)
		rc = b.vm->ops->dirty_log_stop(b.vm);
	if (rc == 0)
		rc = npt_recalc_case(&b, vp, &cases[5], 200);
	bm_done(&b);
	if (rc == 0)
		rc = npt_cold5_case(&cases[2], n);
	if (rc == 0)
		rc = bm_start_case(&npt_start, &cases[6], 1ULL << 30, 50);
	if (rc == 0)
		rc = bm_start_case(&npt_start, &cases[7], 1ULL << 40, 50);
	return rc;
}
