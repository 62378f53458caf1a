/* SPDX-License-Identifier: MIT */
/*
 * vmmu_vcpu_access_batch against vmmu_vcpu_access: two identical VMs
 * (the model VM of migrate/model.h on the direct, EPT, NPT and shadow
 * backends) take the same random stream of operations, one op per call
 * on the first, in random-sized batches on the second. Every op's data
 * and the result of each batch's last op must equal the single call's,
 * and at the end every counter (the vCPU's, its TLB's), and all guest
 * memory. The stream mixes TLB hits, misses, faults (addresses beyond the
 * guest's map), writes, fetches, translate-only ops, bad ops (refused with
 * VMMU_EINVAL), TLB flushes between batches and, on the direct backend, a
 * VMM flush request pending at a batch's start. One EPT run turns SMEP
 * and SMAP on and toggles RFLAGS.AC between batches, so that the CPL,
 * implicit and AC decide verdicts.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/access.h"
#include "vmmu/backend.h"
#include "core/tlb.h"
#include "migrate/model.h"

#define MEM   (8ULL << 20)
#define NOPS  6000

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A random op: mostly hits on a few hot pages, some misses and faults. */
static void random_op(uint64_t *s, struct vmmu_op *op, uint64_t *data)
{
	static const unsigned sizes[] = { 8, 8, 8, 8, 4, 4, 2, 1 };
	uint64_t r = rnd(s), page;
	unsigned size = r % 128 == 0 ? 3 : r % 128 == 1 ? 16 : sizes[r % 8];

	if (r % 100 < 80)
		page = 256 + (r >> 8) % 24;             /* hot */
	else if (r % 100 < 95)
		page = 256 + (r >> 8) % 1500;           /* in the map */
	else
		page = (MEM >> 12) + (r >> 8) % 64;      /* beyond: #PF */
	memset(op, 0, sizeof(*op));
	op->acc.gva = mk_gva(page << 12 | ((r >> 24) % 512) * 8 |
			     ((r >> 40) % 16 == 0 ? (r >> 44) % 8 : 0));
	op->acc.kind = (enum vmmu_access_kind)((r >> 48) % 64 < 40 ? 0 :
					       (r >> 48) % 64 < 56 ? 1 :
					       (r >> 48) % 64 < 63 ? 2 : 3);
	op->acc.cpl = (r >> 52) % 4 ? 3 : 0;
	op->acc.implicit = (r >> 58) % 16 == 0;
	op->size = size;
	op->data = (r >> 56) % 32 ? data : NULL;
	*data = rnd(s);
}

static void same_counters(struct model *a, struct model *b)
{
	vmmu_vcpu_tlb_sync(a->vcpu[0]);
	vmmu_vcpu_tlb_sync(b->vcpu[0]);
	assert_memory_equal(&a->vcpu[0]->stats, &b->vcpu[0]->stats,
			    sizeof(a->vcpu[0]->stats));
	assert_memory_equal(vmmu_tlb_stats(a->vcpu[0]->tlb),
			    vmmu_tlb_stats(b->vcpu[0]->tlb),
			    sizeof(struct vmmu_tlb_stats));
}

static void same_memory(struct model *a, struct model *b)
{
	static uint8_t pa[4096], pb[4096];
	uint64_t g;

	for (g = 0; g < MEM >> 12; g++) {
		assert_int_equal(vmmu_vm_read_gpa(a->vm, mk_gpa(g << 12), pa, 4096), 0);
		assert_int_equal(vmmu_vm_read_gpa(b->vm, mk_gpa(g << 12), pb, 4096), 0);
		assert_memory_equal(pa, pb, 4096);
	}
}

static void flush_cb(struct vmmu_tlb *t, void *arg)
{
	(void)arg;
	vmmu_tlb_flush_all(t);
}

static void set_smep_smap(struct vmmu_vcpu *v)
{
	assert_int_equal(vmmu_vcpu_set_cr(v, VMMU_CR4, v->paging.cr4 |
					  X86_CR4_SMEP | X86_CR4_SMAP), 0);
}

static void same_as_single(const char *name, const struct vmmu_backend_ops *ops,
			   enum vmmu_backend_kind kind, uint64_t seed, bool smap)
{
	struct model_cfg cfg = { .mem = MEM, .vcpus = 1, .eager = true,
				 .workload = MODEL_WL_IDLE, .ops = ops,
				 .kind = kind };
	static struct vmmu_op op[NOPS], bop[NOPS];
	static uint64_t da[NOPS], db[NOPS];
	struct vmmu_access_result ra, rb;
	struct model a, b;
	uint64_t s = seed;
	size_t i, done, batches = 0, stops = 0;
	int rca = 0, rcb;

	assert_int_equal(model_create(&a, &cfg), 0);
	assert_int_equal(model_create(&b, &cfg), 0);
	if (smap) {
		/* on the model's user pages the verdict now depends on the
		 * CPL, implicit and RFLAGS.AC, not on the kind alone */
		set_smep_smap(a.vcpu[0]);
		set_smep_smap(b.vcpu[0]);
	}
	for (i = 0; i < NOPS; i++) {
		random_op(&s, &op[i], &da[i]);
		db[i] = da[i];
		bop[i] = op[i];
		if (op[i].data)
			bop[i].data = &db[i];
		op[i].data = op[i].data ? &da[i] : NULL;
	}
	for (i = 0; i < NOPS;) {
		size_t k = 1 + rnd(&s) % 40, j;

		if (k > NOPS - i)
			k = NOPS - i;
		if (smap && rnd(&s) % 8 == 0) { /* RFLAGS.AC toggled */
			a.vcpu[0]->paging.rflags ^= X86_RFLAGS_AC;
			b.vcpu[0]->paging.rflags ^= X86_RFLAGS_AC;
		}
		if (rnd(&s) % 16 == 0) {        /* a flush between batches */
			assert_int_equal(vmmu_vm_tlb_invalidate(a.vm, NULL,
					 flush_cb, NULL, 0), 0);
			assert_int_equal(vmmu_vm_tlb_invalidate(b.vm, NULL,
					 flush_cb, NULL, 0), 0);
		}
		for (j = 0; j < k; j++) {
			rca = vmmu_vcpu_access(a.vcpu[0], &op[i + j], &ra);
			if (rca < 0 || ra.status != VMMU_ACCESS_DONE)
				break;
		}
		rcb = vmmu_vcpu_access_batch(b.vcpu[0], &bop[i], k, &rb, &done);
		batches++;
		assert_int_equal(rcb, rca);
		assert_int_equal(done, j);
		if (rca == 0) {
			assert_int_equal(rb.status, ra.status);
			assert_int_equal(rb.tlb_hit, ra.tlb_hit);
			assert_int_equal(rb.hpa.v, ra.hpa.v);
			assert_int_equal(rb.gpa.v, ra.gpa.v);
		}
		i += j < k ? j + 1 : k;         /* the stopping op was performed */
		stops += j < k;
	}
	for (i = 0; i < NOPS; i++)
		assert_int_equal(da[i], db[i]);
	same_counters(&a, &b);
	same_memory(&a, &b);
	print_message("%s: %d ops in %zu batches (%zu stopped early), %llu TLB "
		      "hits, %llu faults\n", name, NOPS,
		      batches, stops,
		      (unsigned long long)b.vcpu[0]->stats.tlb_hits,
		      (unsigned long long)b.vcpu[0]->stats.guest_faults);
	/* under SMAP most supervisor data accesses fault instead */
	assert_true(b.vcpu[0]->stats.tlb_hits > (smap ? NOPS / 4 : NOPS / 2));
	assert_true(batches > NOPS / 40);
	assert_true(b.vcpu[0]->stats.guest_faults > 0);
	assert_true(stops > 0);
	model_destroy(&a);
	model_destroy(&b);
}

static void test_direct(void **state)
{
	(void)state;
	same_as_single("direct", NULL, VMMU_BACKEND_NONE, 1, false);
	same_as_single("direct", NULL, VMMU_BACKEND_NONE, 2, false);
}

static void test_ept(void **state)
{
	(void)state;
	same_as_single("ept", &vmmu_backend_ept, VMMU_BACKEND_EPT, 3, false);
	same_as_single("ept-smap", &vmmu_backend_ept, VMMU_BACKEND_EPT, 6, true);
}

static void test_npt(void **state)
{
	(void)state;
	same_as_single("npt", &vmmu_backend_npt, VMMU_BACKEND_NPT, 4, false);
}

static void test_shadow(void **state)
{
	(void)state;
	same_as_single("shadow", &vmmu_backend_shadow, VMMU_BACKEND_SHADOW, 5, false);
}

/*
 * A run of hits meets an op of another CPL or implicit flag whose page's
 * entry the hit cache holds: that op is checked with its own signature.
 * Under SMAP a supervisor data access to a user page faults when it is
 * implicit or RFLAGS.AC is clear, and passes with AC set (SDM Vol. 3A
 * 4.6.1); the model maps user pages.
 */
static void second_op(struct model *m, unsigned cpl, bool implicit,
		      bool ac, size_t want_done, unsigned want_status)
{
	struct vmmu_vcpu *v = m->vcpu[0];
	struct vmmu_access_result r;
	uint64_t d[2];
	struct vmmu_op ops[2] = {
		{ .acc = { mk_gva(256 << 12), VMMU_ACCESS_READ, 3, false },
		  .size = 8, .data = &d[0] },
		{ .acc = { mk_gva(256 << 12 | 8), VMMU_ACCESS_READ, (uint8_t)cpl,
			   implicit }, .size = 8, .data = &d[1] },
	};
	size_t done, k;

	v->paging.rflags = ac ? X86_RFLAGS_AC : 0;
	for (k = 0; k < 3; k++) {       /* filled, then in the hit cache */
		assert_int_equal(vmmu_vcpu_access(v, &ops[0], &r), 0);
		assert_int_equal(r.status, VMMU_ACCESS_DONE);
	}
	assert_int_equal(vmmu_vcpu_access_batch(v, ops, 2, &r, &done), 0);
	assert_int_equal(done, want_done);
	assert_int_equal(r.status, want_status);
}

static void test_shape_change(void **state)
{
	/* EPT: its 4 KiB host blocks make 4 KiB TLB entries, which the hit
	 * cache (and so the run of hits) serves; the guest maps 2 MiB pages */
	struct model_cfg cfg = { .mem = MEM, .vcpus = 1, .eager = true,
				 .workload = MODEL_WL_IDLE,
				 .ops = &vmmu_backend_ept, .kind = VMMU_BACKEND_EPT };
	struct model m;

	(void)state;
	assert_int_equal(model_create(&m, &cfg), 0);
	set_smep_smap(m.vcpu[0]);
	second_op(&m, 0, false, false, 1, VMMU_ACCESS_FAULT);
	second_op(&m, 3, true, false, 1, VMMU_ACCESS_FAULT);
	second_op(&m, 3, true, true, 1, VMMU_ACCESS_FAULT);
	second_op(&m, 0, false, true, 2, VMMU_ACCESS_DONE);
	second_op(&m, 3, false, false, 2, VMMU_ACCESS_DONE);
	model_destroy(&m);
}

/* Bad calls: refused, nothing counted. */
static void test_bad_calls(void **state)
{
	struct model_cfg cfg = { .mem = MEM, .vcpus = 1,
				 .workload = MODEL_WL_IDLE };
	struct vmmu_access_result r;
	struct model m;
	size_t done = 7;

	(void)state;
	assert_int_equal(model_create(&m, &cfg), 0);
	assert_int_equal(vmmu_vcpu_access_batch(NULL, NULL, 0, &r, &done),
			 VMMU_EINVAL);
	assert_int_equal(vmmu_vcpu_access_batch(m.vcpu[0], NULL, 3, &r, &done),
			 VMMU_EINVAL);
	assert_int_equal(vmmu_vcpu_access_batch(m.vcpu[0], NULL, 0, NULL, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(m.vcpu[0]->stats.accesses, 0);
	model_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_ept),
		cmocka_unit_test(test_npt),
		cmocka_unit_test(test_shadow),
		cmocka_unit_test(test_shape_change),
		cmocka_unit_test(test_bad_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
