/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench model's EPT rows: the same guest as the other rows, on an
 * EPT VM with 4 KiB host blocks (so every nested walk has 4 levels):
 *   ept-tlb-hit     hits of the combined TLB (same as direct: a hit does
 *                   not walk);
 *   ept-cold-walk   a one-entry TLB, no guest or nested paging-structure
 *                   caches and no guest-physical TLB: every access is a
 *                   full 2-D walk of 24 references (4 over 4);
 *   ept-pwc-walk    the same TLB with the default caches: the guest walk
 *                   starts from the PDE cache and the nested walks hit the
 *                   guest-physical TLB or the nested caches;
 *   ept-violation   a write to a write-protected log-dirty page: walk, EPT
 *                   violation, the handler logs the page and makes it
 *                   writable (INVEPT), the access retries and completes;
 *   ept-recalc-pt   the misconfiguration exit that recalculates one leaf
 *                   table (512 leaves) after a type change of its 2 MiB;
 *   ept-start-1g,   starting a type change of a whole 1 GiB / 1 TiB guest
 *   ept-start-1t    (vmmu_vm_set_p2m_type): the entries it marks are the
 *                   last column; the markers are resolved between rounds.
 * The last column of the last four rows counts exits per access, leaves
 * per recalculation and entries marked per start, not references.
 */
#include <stdio.h>
#include <string.h>

#include "bench_model.h"
#include "core/pgtable.h"
#include "vmmu/ept.h"
#include "vmmu/dirty.h"
#include "vmmu/p2m.h"
#include "vmmu/error.h"

/* Writes to log-dirty pages, re-armed (untimed) every BM_PAGES writes. */
static int ept_violation_case(struct bm *b, struct vmmu_vcpu *v,
			      struct bm_case *c, uint64_t n)
{
	struct vmmu_op op = { .acc = { mk_gva(0), VMMU_ACCESS_WRITE, 3, false },
			      .size = 8 };
	struct vmmu_access_result res;
	uint64_t data = 1, i, done = 0, exits0 = v->stats.exits;
	double total = 0;
	uint64_t gfn = 0, npages = 0;
	int rc = vmmu_dirty_set_mode(b->vm, VMMU_DIRTY_WRITE_PROTECT);

	op.data = &data;
	if (rc == 0)
		rc = vmmu_dirty_enable_ram(b->vm);
	if (rc == 0)
		rc = vmmu_dirty_range(b->vm, &gfn, &npages);
	while (rc == 0 && done < n) {
		double t0;

		rc = vmmu_dirty_clean(b->vm, gfn, npages, NULL, NULL);
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

/* ept-recalc-pt: a 2 MiB type change, then the exit that resolves it. */
static int ept_recalc_case(struct bm *b, struct vmmu_vcpu *v,
			   struct bm_case *c, unsigned rounds)
{
	struct vmmu_pt *pt = vmmu_ept_tables(b->vm);
	uint64_t leaves0, tables0;
	struct vmmu_exit_result res;
	double total = 0;
	unsigned i;
	/* untimed: the marks a dirty-log stop left on the path resolved */
	int rc = vmmu_ept_handle_vmexit(v, VMMU_VMX_EXIT_EPT_MISCONFIG, 0,
					BM_DATA, 0, &res);

	leaves0 = pt->stats.recalc_leaves;
	tables0 = pt->stats.recalc_tables;

	for (i = 0; rc == 0 && i < rounds; i++) {
		double t0;

		rc = vmmu_vm_set_p2m_type(b->vm, mk_gpa(BM_DATA), 2ULL << 20,
					  VMMU_P2M_RAM_RW);
		t0 = bm_now_ns();
		if (rc == 0)
			rc = vmmu_ept_handle_vmexit(v, VMMU_VMX_EXIT_EPT_MISCONFIG,
						    0, BM_DATA, 0, &res);
		total += bm_now_ns() - t0;
		if (rc == 0 && res.action != VMMU_ACT_RETRY)
			rc = VMMU_EINVAL;
	}
	if (rc == 0 && pt->stats.recalc_tables - tables0 != rounds)
		rc = VMMU_EINVAL;       /* one leaf table per exit, or a wrong row */
	c->accesses = rounds;
	c->ns = total / rounds;
	c->refs_per_access = (double)(pt->stats.recalc_leaves - leaves0) / rounds;
	return rc;
}

/* ept-start-*: a first touch is an EPT violation, a marker a
 * misconfiguration (which may ask for retries down the path, until one
 * finds the path resolved). */
static int ept_touch(struct vmmu_vcpu *v, uint64_t g, unsigned round)
{
	struct vmmu_exit_result res;
	uint64_t recalcs;
	int rc;

	do {
		recalcs = vmmu_ept_stats(v->vm)->recalcs;
		rc = vmmu_ept_handle_vmexit(v, round ? VMMU_VMX_EXIT_EPT_MISCONFIG :
					    VMMU_VMX_EXIT_EPT_VIOLATION, 0x182, g, g,
					    &res);
	} while (rc == 0 && round && res.action == VMMU_ACT_RETRY &&
		 vmmu_ept_stats(v->vm)->recalcs != recalcs);
	return rc;
}

static struct vmmu_pt *ept_pt(struct vmmu_vm *vm)
{
	return vmmu_ept_tables(vm);
}

static const struct bm_start_ops ept_start = {
	&vmmu_backend_ept, VMMU_BACKEND_EPT, ept_touch, ept_pt,
};

int bench_model_ept(uint64_t n, struct bm_case *cases)
{
	static const struct bm_walk_want want = { 24, 0, 11.99 };
	struct bm_case *rows[3] = { &cases[0], &cases[1], &cases[2] };
	struct vmmu_vcpu *vp = NULL;
	struct bm b;
	int rc = bm_backend_setup(&b, &vmmu_backend_ept, VMMU_BACKEND_EPT);

	cases[0] = (struct bm_case){ .name = "ept-tlb-hit", .pages = BM_HOT };
	cases[1] = (struct bm_case){ .name = "ept-cold-walk", .pages = BM_PAGES };
	cases[2] = (struct bm_case){ .name = "ept-pwc-walk", .pages = BM_PAGES };
	cases[3] = (struct bm_case){ .name = "ept-violation", .pages = BM_PAGES };
	cases[4] = (struct bm_case){ .name = "ept-recalc-pt", .pages = BM_PAGES };
	cases[5] = (struct bm_case){ .name = "ept-start-1g" };
	cases[6] = (struct bm_case){ .name = "ept-start-1t" };
	if (rc == 0)
		rc = bm_walk_rows(&b, n, &want, rows, &vp);
	if (rc == 0)
		rc = ept_violation_case(&b, vp, &cases[3], n < 51200 ? n : 51200);
	if (rc == 0)
		rc = vmmu_dirty_disable(b.vm);
	if (rc == 0)
		rc = ept_recalc_case(&b, vp, &cases[4], 200);
	bm_done(&b);
	if (rc == 0)
		rc = bm_start_case(&ept_start, &cases[5], 1ULL << 30, 50);
	if (rc == 0)
		rc = bm_start_case(&ept_start, &cases[6], 1ULL << 40, 50);
	return rc;
}
