/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench model's shadow log-dirty rows (shadow-fallback/shadow_dirty.c,
 * docs/shadow.md "Log-dirty"), on the guest of the other rows (BM_PAGES
 * pages of one guest page table) with the VM's dirty log on:
 *   shadow-ld-write    the first write to a page after a clean: TLB miss,
 *                      shadow walk to a read-only leaf, #PF exit, guest
 *                      walk, vmmu_dirty_mark, fill making the leaf
 *                      writable, retry (the cleans are untimed);
 *   shadow-rearm-rmap  dirty_log_rearm of BM_PAGES reported pages through
 *                      the reverse map, per page;
 *   shadow-rearm-drop  the same with the drop policy (every leaf of the
 *                      pool made not present), per page: its cost follows
 *                      the pool's level-1 shadows, not the pages, and every
 *                      later access refaults (a shadow-fill each);
 *   shadow-ld-start    dirty_log_start: every writable leaf of the pool
 *                      write-protected, per call (vmmu_dirty_enable_ram's
 *                      other work included; the disables are untimed).
 * The last column counts exits per write, leaves write-protected per page
 * re-armed, pool pages in use for a drop, leaves protected per start; each
 * row checks the backend's counters (one logged write fault per write, one
 * leaf per page re-armed, one drop per re-arm call).
 */
#include <string.h>

#include "bench_model.h"
#include "shadow-fallback/shadow.h"
#include "vmmu/dirty.h"
#include "vmmu/error.h"

static int ld_write_all(struct vmmu_vcpu *v)
{
	struct vmmu_op op;
	struct vmmu_access_result r;
	uint64_t val = 1, i;
	int rc = 0;

	for (i = 0; rc == 0 && i < BM_PAGES; i++) {
		op = (struct vmmu_op){ .acc = { mk_gva(BM_GVA + i * VMMU_PAGE_SIZE),
						VMMU_ACCESS_WRITE, 3, false },
				       .size = 8, .data = &val };
		rc = vmmu_vcpu_access(v, &op, &r);
		if (rc == 0 && r.status != VMMU_ACCESS_DONE)
			rc = VMMU_EINVAL;
	}
	return rc;
}

static int ld_clean_all(struct vmmu_vm *vm)
{
	uint64_t n;
	int rc = vmmu_dirty_clean(vm, BM_DATA >> VMMU_PAGE_SHIFT, BM_PAGES, NULL,
				  &n);

	return rc == 0 && n != BM_PAGES ? VMMU_EINVAL : rc;
}

static int ld_write_case(struct bm *b, struct vmmu_vcpu *v, struct bm_case *c,
			 uint64_t n)
{
	struct vmmu_shadow_stats a, z;
	uint64_t done = 0, exits0 = v->stats.exits;
	double total = 0;
	int rc = vmmu_shadow_stats(b->vm, &a);

	while (rc == 0 && done < n) {
		double t0;

		rc = ld_clean_all(b->vm);
		t0 = bm_now_ns();
		if (rc == 0)
			rc = ld_write_all(v);
		total += bm_now_ns() - t0;
		done += BM_PAGES;
	}
	if (rc == 0)
		rc = vmmu_shadow_stats(b->vm, &z);
	c->accesses = done;
	c->ns = total / (double)done;
	c->refs_per_access = (double)(v->stats.exits - exits0) / (double)done;
	if (rc == 0 && (z.ld_write_faults - a.ld_write_faults != done ||
			v->stats.exits - exits0 != done))
		rc = VMMU_EINVAL;
	return rc;
}

/* The hook alone, on BM_PAGES pages written (untimed) before each call. */
static int ld_rearm_case(struct bm *b, struct vmmu_vcpu *v, struct bm_case *c,
			 uint64_t n, enum vmmu_shadow_ld policy)
{
	struct vmmu_shadow_stats a, z;
	uint64_t done = 0, calls = 0;
	double total = 0;
	int rc = vmmu_shadow_set_logdirty(b->vm, policy);

	if (rc == 0)
		rc = vmmu_shadow_stats(b->vm, &a);
	while (rc == 0 && done < n) {
		double t0;

		rc = ld_write_all(v);
		vmmu_vm_lock(b->vm);
		t0 = bm_now_ns();
		if (rc == 0)
			rc = vmmu_backend_shadow.dirty_log_rearm(b->vm,
				mk_gpa(BM_DATA), BM_PAGES * VMMU_PAGE_SIZE);
		total += bm_now_ns() - t0;
		vmmu_vm_unlock(b->vm);
		done += BM_PAGES;
		calls++;
		if (rc == 0)
			rc = ld_clean_all(b->vm);
	}
	if (rc == 0)
		rc = vmmu_shadow_stats(b->vm, &z);
	c->accesses = done;
	c->ns = total / (double)done;
	c->refs_per_access = policy == VMMU_SHADOW_LD_DROP ?
		(double)z.pages_in_use :
		(double)(z.ld_protected - a.ld_protected) / (double)done;
	/* rmap: exactly one leaf per page (the clean after it re-arms none:
	 * already read-only); drop: one drop per call (the clean's too). */
	if (rc == 0 && policy == VMMU_SHADOW_LD_RMAP &&
	    z.ld_protected - a.ld_protected != done)
		rc = VMMU_EINVAL;
	if (rc == 0 && policy == VMMU_SHADOW_LD_DROP &&
	    z.ld_drops - a.ld_drops < calls)
		rc = VMMU_EINVAL;
	if (rc == 0)
		rc = vmmu_shadow_set_logdirty(b->vm, VMMU_SHADOW_LD_RMAP);
	return rc;
}

static int ld_start_case(struct bm *b, struct vmmu_vcpu *v, struct bm_case *c,
			 uint64_t n)
{
	struct vmmu_shadow_stats a, z;
	uint64_t i;
	double total = 0;
	int rc = vmmu_dirty_disable(b->vm);

	if (rc == 0)
		rc = vmmu_shadow_stats(b->vm, &a);
	for (i = 0; rc == 0 && i < n; i++) {
		double t0;

		rc = ld_write_all(v);       /* writable leaves: the log is off */
		t0 = bm_now_ns();
		if (rc == 0)
			rc = vmmu_dirty_enable_ram(b->vm);
		total += bm_now_ns() - t0;
		if (rc == 0)
			rc = vmmu_dirty_disable(b->vm);
	}
	if (rc == 0)
		rc = vmmu_shadow_stats(b->vm, &z);
	c->accesses = n;
	c->ns = total / (double)n;
	c->refs_per_access = (double)(z.ld_protected - a.ld_protected) / (double)n;
	if (rc == 0 && z.ld_protected - a.ld_protected < n * BM_PAGES)
		rc = VMMU_EINVAL;
	return rc;
}

int bench_model_shadow_dirty(uint64_t n, struct bm_case *cases)
{
	static const char *const names[BM_SHADOW_LD_CASES] = {
		"shadow-ld-write", "shadow-rearm-rmap", "shadow-rearm-drop",
		"shadow-ld-start",
	};
	uint64_t few = n < 51200 ? n : 51200;
	struct vmmu_vcpu *v = NULL;
	struct bm b;
	unsigned i;
	int rc;

	for (i = 0; i < BM_SHADOW_LD_CASES; i++)
		cases[i] = (struct bm_case){ .name = names[i], .pages = BM_PAGES };
	memset(&b, 0, sizeof(b));
	rc = bm_backend_setup(&b, &vmmu_backend_shadow, VMMU_BACKEND_SHADOW);
	if (rc == 0)
		rc = bm_vcpu(&b, NULL, &v);
	if (rc == 0)
		rc = ld_write_all(v);           /* the shadows, before logging */
	if (rc == 0)
		rc = vmmu_dirty_enable_ram(b.vm);
	if (rc == 0)
		rc = ld_write_all(v);           /* every page dirty: cleans see 512 */
	if (rc == 0)
		rc = ld_write_case(&b, v, &cases[0], few);
	if (rc == 0)
		rc = ld_rearm_case(&b, v, &cases[1], few, VMMU_SHADOW_LD_RMAP);
	if (rc == 0)
		rc = ld_rearm_case(&b, v, &cases[2], few, VMMU_SHADOW_LD_DROP);
	if (rc == 0)
		rc = ld_start_case(&b, v, &cases[3], few / BM_PAGES);
	bm_done(&b);
	return rc;
}
