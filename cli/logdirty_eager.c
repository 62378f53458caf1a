/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench logdirty's eager baseline: on an EPT or NPT VM whose second-
 * level tables map every 2 MiB of a 1 GiB, 64 GiB or 1 TiB RAM slot (a
 * guest that touched all its memory, the worst case for a start that
 * visits leaves), the time of vmmu_dirty_enable_ram in the variant
 * (lazy for write protection: a few marked entries; A/D and PML clear
 * every D) against an eager write protection of every leaf through the
 * same engine: one vmmu_pt_update over the slot clearing W and retyping
 * to RAM_LOGDIRTY (what the lazy marks resolve to, leaf by leaf, as the
 * guest touches them), then the INVEPT / TLB_CONTROL flush it needs
 * (vmmu_vm_tlb_flush_sync).
 *
 * The leaves all alias one real 2 MiB host block (there is no 1 TiB of
 * host memory): the guest never runs on them, only table operations are
 * timed. Auto-merge is off while the tables are built and timed (aliased
 * leaves never merge; checking costs the eager pass time it would not
 * need), which makes the eager figure the cheapest the engine can do.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "logdirty_backends.h"
#include "core/pgtable.h"
#include "core/pt_x86.h"
#include "ept/ept_format.h"
#include "npt/npt_backend.h"
#include "vmmu/dirty.h"
#include "vmmu/ept.h"
#include "vmmu/npt.h"
#include "vmmu/error.h"

#define SIZE_2M  (2ULL << 20)
#define SLOT_GPA (1ULL << 32)

static const uint64_t eager_sizes[LD_EAGER_SIZES] = {
	1ULL << 30, 64ULL << 30, 1ULL << 40 };

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* W and the p2m type bits: bit 1 and bits 55:52 in both formats. */
static void leaf_bits(const struct vmmu_vm *vm, uint64_t *w, uint64_t *type,
		      unsigned *type_shift)
{
	if (vm->ops == &vmmu_backend_ept) {
		*w = EPT_W;
		*type = EPT_SW_TYPE;
		*type_shift = EPT_SW_BIT_TYPE;
	} else {
		*w = 1ULL << 1;         /* R/W, APM Vol. 2 5.3.3 */
		*type = X86_SW_TYPE;
		*type_shift = X86_SW_BIT_TYPE;
	}
}

static struct vmmu_pt *tables(struct vmmu_vm *vm)
{
	return vm->ops == &vmmu_backend_ept ? vmmu_ept_tables(vm)
					    : &npt_of(vm)->pt;
}

/*
 * The guest's first read of gpa as the VMM sees it: an EPT violation
 * (exit qualification: a data read of a not-present gpa, SDM table 28-7)
 * or a #NPF (EXITINFO1: a user read of a not-present final gpa, APM
 * 15.25.6); the backend maps the host block around it.
 */
static int first_touch(struct vmmu_vcpu *vcpu, uint64_t gpa)
{
	struct vmmu_exit_result res;

	if (vcpu->vm->ops == &vmmu_backend_ept)
		return vmmu_ept_handle_vmexit(vcpu, VMMU_VMX_EXIT_EPT_VIOLATION,
					      1, gpa, 0, &res);
	return vmmu_npt_handle_npf(vcpu, (1ULL << 32) | 4, gpa, NULL, &res,
				   NULL);
}

/* Map every 2 MiB of the slot like its first (touched) leaf. */
static int map_all(struct vmmu_vcpu *vcpu, uint64_t size)
{
	struct vmmu_vm *vm = vcpu->vm;
	struct vmmu_pt *pt = tables(vm);
	struct vmmu_pt_change chg = { 0 };
	uint64_t e, attrs, a;
	unsigned level;
	hpa_t hpa;
	int rc = first_touch(vcpu, SLOT_GPA);

	if (rc == 0)
		rc = vmmu_pt_lookup(pt, SLOT_GPA, &e, &level);
	if (rc < 0)
		return rc;
	if (level != VMMU_PT_LEVEL_2M)
		return VMMU_EINVAL;     /* the slot's blocks are 2 MiB */
	attrs = vmmu_pt_leaf_attrs(pt, e, level);
	hpa = mk_hpa(vmmu_pt_leaf_addr(pt, e, level));
	for (a = SLOT_GPA + SIZE_2M; a < SLOT_GPA + size && rc == 0; a += SIZE_2M)
		rc = vmmu_pt_map(pt, a, hpa, SIZE_2M, attrs, &chg);
	vmmu_pt_free_deferred(pt);
	return rc;
}

/* The leaf at gpa is a 2 MiB leaf without W, of the type given. */
static int check_leaf(const struct vmmu_pt *pt, uint64_t gpa, uint64_t w,
		      uint64_t type_mask, uint64_t type)
{
	uint64_t e;
	unsigned level;
	int rc = vmmu_pt_lookup(pt, gpa, &e, &level);

	if (rc < 0)
		return rc;
	return level == VMMU_PT_LEVEL_2M && !(e & w) &&
	       (e & type_mask) == type ? VMMU_OK : VMMU_EIO;
}

/* The eager start, timed, checked, then its undo (untimed). */
static int eager_once(struct vmmu_vm *vm, uint64_t size, double *ms)
{
	struct vmmu_pt *pt = tables(vm);
	struct vmmu_pt_change chg = { 0 };
	uint64_t w, type;
	unsigned shift;
	double t = now_ms();
	int rc;

	leaf_bits(vm, &w, &type, &shift);
	rc = vmmu_pt_update(pt, SLOT_GPA, size, w | type,
			    (uint64_t)VMMU_P2M_RAM_LOGDIRTY << shift, &chg);
	if (chg.flush)
		vmmu_vm_tlb_flush_sync(vm);
	*ms = now_ms() - t;
	if (rc == 0)
		rc = check_leaf(pt, SLOT_GPA + size / 2, w, type,
				(uint64_t)VMMU_P2M_RAM_LOGDIRTY << shift);
	if (rc == 0)
		rc = vmmu_pt_update(pt, SLOT_GPA, size, type,
				    w | (uint64_t)VMMU_P2M_RAM_RW << shift, NULL);
	return rc;
}

static int measure(unsigned v, uint64_t size, double *lazy, double *eager)
{
	struct model_cfg cfg = { .mem = 4ULL << 20, .vcpus = 1,
				 .workload = MODEL_WL_IDLE };
	struct vmmu_npt_config npt;
	struct vmmu_slot_desc d = { .base = { SLOT_GPA }, .size = size,
				    .type = VMMU_MEM_RAM,
				    .max_order = VMMU_ORDER_2M,
				    .memtype = VMMU_MEMTYPE_DEFAULT };
	struct model m;
	bool merge;
	double t;
	int k, rc;

	model_cfg_variant(&cfg, &model_variants[v], &npt);
	if (model_create(&m, &cfg) < 0)
		return VMMU_ENOMEM;
	merge = tables(m.vm)->auto_merge;
	tables(m.vm)->auto_merge = false;
	rc = vmmu_vm_add_slot_ex(m.vm, &d);
	if (rc == 0)
		rc = map_all(m.vcpu[0], size);
	*lazy = *eager = -1;
	/* eager first: a lazy start leaves marks that a disable keeps */
	for (k = 0; k < 3 && rc == 0; k++) {
		rc = eager_once(m.vm, size, &t);
		if (*eager < 0 || t < *eager)
			*eager = t;
	}
	for (k = 0; k < 3 && rc == 0; k++) {
		t = now_ms();
		rc = vmmu_dirty_enable_ram(m.vm);
		t = now_ms() - t;
		if (*lazy < 0 || t < *lazy)
			*lazy = t;
		if (rc == 0)
			rc = vmmu_dirty_disable(m.vm);
	}
	tables(m.vm)->auto_merge = merge;
	model_destroy(&m);
	return rc;
}

int ld_eager_measure(struct ld_eager_row rows[LD_VARIANTS], unsigned *n,
		     char *why, unsigned whylen)
{
	unsigned v, s;
	int rc;

	*n = 0;
	for (v = 0; v < LD_VARIANTS; v++) {
		struct ld_eager_row *r = &rows[*n];

		if (model_variants[v].ops != &vmmu_backend_ept &&
		    model_variants[v].ops != &vmmu_backend_npt)
			continue;       /* no second-level tables to visit */
		memset(r, 0, sizeof(*r));
		r->name = model_variants[v].name;
		for (s = 0; s < LD_EAGER_SIZES; s++) {
			fprintf(stderr, "vmmu bench logdirty: %s, %llu GiB "
				"fully mapped...\n", r->name,
				(unsigned long long)(eager_sizes[s] >> 30));
			rc = measure(v, eager_sizes[s], &r->enable_ms[s],
				     &r->eager_ms[s]);
			if (rc < 0) {
				snprintf(why, whylen, "%s, fully mapped: %s",
					 r->name, vmmu_strerror(rc));
				return rc;
			}
		}
		(*n)++;
	}
	return 0;
}
