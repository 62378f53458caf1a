/* SPDX-License-Identifier: MIT */
/*
 * The shadow backend as a VMM on a real CPU drives it (shadow_vmm.c:
 * vmmu_shadow_root, vmmu_shadow_handle_pf). The "CPU" is the core's
 * guest walker run over host memory on the root vmmu gives (the walker
 * is held to KVM, QEMU and Bochs: docs/walker.md), as a CPU with CR3 =
 * that root would walk it; every #PF it raises goes to
 * vmmu_shadow_handle_pf with the walk's error code and CR2, and the
 * outcome is followed: retry walks again, inject must be the fault the
 * guest's own tables give (vmmu_vcpu_access on the same address is the
 * reference). The model VM of migrate/model.h: 4-level guest paging
 * mapping its RAM at gva = gpa.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "migrate/model.h"
#include "shadow-fallback/shadow.h"
#include "vmmu/access.h"
#include "vmmu/walk.h"

/* Host memory as the CPU reads it: "gpa" here is a host address. */
static int host_read(void *ctx, gpa_t a, void *buf, size_t len)
{
	const struct vmmu_platform *p = ctx;
	const uint8_t *h = p->map(p->ctx, mk_hpa(a.v & VMMU_PAGE_MASK));

	if (!h)
		return VMMU_EFAULT;
	memcpy(buf, h + (a.v & ~VMMU_PAGE_MASK), len);
	return 0;
}

static int host_cmpxchg(void *ctx, gpa_t a, uint64_t old, uint64_t nv,
			size_t len)
{
	const struct vmmu_platform *p = ctx;
	uint8_t *h = p->map(p->ctx, mk_hpa(a.v & VMMU_PAGE_MASK));
	uint64_t *e;

	if (!h || len != 8)
		return VMMU_EFAULT;
	e = (uint64_t *)(void *)(h + (a.v & ~VMMU_PAGE_MASK));
	return __atomic_compare_exchange_n(e, &old, nv, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST) ? 0 : 1;
}

/* The CPU's walk of gva with CR3 = the shadow root (CR0.WP set, as the
 * shadow backend runs the guest). */
static void cpu_walk(struct vmmu_vcpu *v, uint64_t gva,
		     enum vmmu_access_kind kind, struct vmmu_walk_result *res)
{
	struct vmmu_gmem mem = { &v->vm->platform, host_read, host_cmpxchg };
	struct vmmu_access acc = { mk_gva(gva), kind, 3, false };
	struct vmmu_paging_state ps = v->paging;
	hpa_t root;

	assert_int_equal(vmmu_shadow_root(v, &root), 0);
	assert_true(root.v != 0);
	ps.cr3 = root.v | (ps.cr3 & 0xfff);
	ps.cr0 |= 1ULL << 16;
	vmmu_paging_update(&ps);
	assert_int_equal(vmmu_walk(&ps, &mem, &acc, res), 0);
}

/* Walk until it translates, each #PF to vmmu: the exits taken. */
static unsigned run_to_translation(struct vmmu_vcpu *v, uint64_t gva,
				   enum vmmu_access_kind kind, hpa_t *hpa)
{
	struct vmmu_walk_result w;
	struct vmmu_exit_result r;
	unsigned exits = 0;

	for (;;) {
		cpu_walk(v, gva, kind, &w);
		if (w.ok)
			break;
		assert_int_equal(w.vector, 14);
		assert_int_equal(vmmu_shadow_handle_pf(v, w.cr2, w.error_code, &r), 0);
		assert_int_equal(r.action, VMMU_ACT_RETRY);
		assert_true(++exits < 8);
	}
	*hpa = mk_hpa(w.gpa.v);
	return exits;
}

static void test_root_and_faults(void **state)
{
	struct model_cfg cfg = { .mem = 8ULL << 20, .vcpus = 1, .eager = true,
				 .workload = MODEL_WL_IDLE,
				 .kind = VMMU_BACKEND_SHADOW,
				 .ops = &vmmu_backend_shadow };
	uint64_t gva = MODEL_DATA_BASE + 5 * 4096 + 0x18, bad = 1ULL << 40;
	struct vmmu_access_result ref;
	struct vmmu_walk_result w;
	struct vmmu_exit_result r;
	struct vmmu_vcpu *v;
	struct model m;
	hpa_t hpa, want;
	uint64_t val = 0;

	(void)state;
	assert_int_equal(model_create(&m, &cfg), 0);
	v = m.vcpu[0];
	assert_int_equal(vmmu_vm_gpa_to_hpa(m.vm, mk_gpa(gva), &want), 0);
	/* a first read: shadows are filled lazily, on the CPU's #PFs */
	assert_true(run_to_translation(v, gva, VMMU_ACCESS_READ, &hpa) > 0);
	assert_int_equal(hpa.v, want.v);
	assert_int_equal(run_to_translation(v, gva, VMMU_ACCESS_READ, &hpa), 0);
	/* a write: the guest's D bit is set through the fault, as a CPU
	 * sets it (the leaf was read-only until then) */
	(void)run_to_translation(v, gva, VMMU_ACCESS_WRITE, &hpa);
	assert_int_equal(hpa.v, want.v);
	assert_int_equal(run_to_translation(v, gva, VMMU_ACCESS_WRITE, &hpa), 0);
	/* outside the guest's mapping: the guest's own #PF, injected */
	assert_int_equal(vmmu_vcpu_read(v, mk_gva(bad), &val, 8, 3, &ref), 0);
	assert_int_equal(ref.status, VMMU_ACCESS_FAULT);
	cpu_walk(v, bad, VMMU_ACCESS_READ, &w);
	assert_false(w.ok);
	assert_int_equal(vmmu_shadow_handle_pf(v, w.cr2, w.error_code, &r), 0);
	assert_int_equal(r.action, VMMU_ACT_INJECT);
	assert_int_equal(r.fault.vector, ref.fault.vector);
	assert_int_equal(r.fault.error_code, ref.fault.error_code);
	assert_int_equal(r.fault.cr2.v, bad);
	/* the prefetch group: a power of two up to 512, 0 or 1 off */
	assert_int_equal(vmmu_shadow_set_prefetch(m.vm, 3), VMMU_EINVAL);
	assert_int_equal(vmmu_shadow_set_prefetch(m.vm, 1024), VMMU_EINVAL);
	assert_int_equal(vmmu_shadow_set_prefetch(m.vm, 512), 0);
	assert_int_equal(vmmu_shadow_set_prefetch(m.vm, 0), 0);
	/* not a shadow vCPU, or no result: refused */
	assert_int_equal(vmmu_shadow_root(NULL, &hpa), VMMU_EINVAL);
	assert_int_equal(vmmu_shadow_root(v, NULL), VMMU_EINVAL);
	assert_int_equal(vmmu_shadow_handle_pf(v, mk_gva(gva), 0, NULL),
			 VMMU_EINVAL);
	model_destroy(&m);
}

static void test_not_shadow(void **state)
{
	struct model_cfg cfg = { .mem = 4ULL << 20, .vcpus = 1,
				 .workload = MODEL_WL_IDLE };
	struct vmmu_exit_result r;
	struct model m;
	hpa_t root;

	(void)state;
	assert_int_equal(model_create(&m, &cfg), 0);    /* direct backend */
	assert_int_equal(vmmu_shadow_root(m.vcpu[0], &root), VMMU_EINVAL);
	assert_int_equal(vmmu_shadow_handle_pf(m.vcpu[0], mk_gva(0x1000), 0, &r),
			 VMMU_EINVAL);
	assert_int_equal(vmmu_shadow_set_prefetch(m.vm, 16), VMMU_EINVAL);
	model_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_and_faults),
		cmocka_unit_test(test_not_shadow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
