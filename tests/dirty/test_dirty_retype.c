/* SPDX-License-Identifier: MIT */
/*
 * A VMM's type change while the dirty log is on must not open a hole: on
 * EPT and NPT under write protection, a page made RAM_RO and then RAM_RW
 * again by vmmu_vm_set_p2m_type is written by the guest, and the next
 * clean must report it (the type becomes RAM_LOGDIRTY, not RAM_RW). With
 * the log off, RAM_RW is RAM_RW; with A/D bits the D bit logs the write.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vmmu/dirty.h"
#include "vmmu/p2m.h"
#include "migrate/model.h"

#define PAGE_GPA (MODEL_DATA_BASE + 5 * 4096)

static void store(struct model *m, uint64_t v)
{
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vcpu_write(m->vcpu[0], mk_gva(PAGE_GPA), &v, 8, 0,
					 &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
}

/* Clean the log; whether PAGE_GPA was reported. */
static bool clean_reports_page(struct model *m)
{
	uint64_t bm[(8ULL << 20) / 4096 / 64], n;
	uint64_t g = PAGE_GPA >> 12;

	assert_int_equal(vmmu_dirty_clean(m->vm, 0, (8ULL << 20) >> 12, bm, &n),
			 0);
	return (bm[g / 64] >> (g % 64)) & 1;
}

static void retype_then_write(enum vmmu_backend_kind kind,
			      const struct vmmu_backend_ops *ops,
			      enum vmmu_dirty_log mode)
{
	struct vmmu_npt_config npt;
	struct model_cfg cfg = { .mem = 8ULL << 20, .vcpus = 1, .eager = true,
				 .workload = MODEL_WL_IDLE, .kind = kind,
				 .ops = ops, .dirty_fixed = true, .dirty = mode };
	enum vmmu_p2m_type t;
	struct model m;

	model_cfg_full_profiles(&cfg, &npt);
	assert_int_equal(model_create(&m, &cfg), 0);
	/* log off: RAM_RW is RAM_RW */
	assert_int_equal(vmmu_vm_set_p2m_type(m.vm, mk_gpa(PAGE_GPA), 4096,
					      VMMU_P2M_RAM_RW), 0);
	assert_int_equal(vmmu_p2m_range_type(m.vm, mk_gpa(PAGE_GPA), 4096, &t), 0);
	assert_int_equal(t, VMMU_P2M_RAM_RW);
	assert_int_equal(vmmu_dirty_enable_ram(m.vm), 0);
	store(&m, 1);
	assert_true(clean_reports_page(&m));
	/* the VMM write-protects the page and lifts it again */
	assert_int_equal(vmmu_vm_set_p2m_type(m.vm, mk_gpa(PAGE_GPA), 4096,
					      VMMU_P2M_RAM_RO), 0);
	assert_int_equal(vmmu_vm_set_p2m_type(m.vm, mk_gpa(PAGE_GPA), 4096,
					      VMMU_P2M_RAM_RW), 0);
	assert_int_equal(vmmu_p2m_range_type(m.vm, mk_gpa(PAGE_GPA), 4096, &t), 0);
	if (mode == VMMU_DIRTY_WRITE_PROTECT)
		assert_int_equal(t, VMMU_P2M_RAM_LOGDIRTY);
	store(&m, 2);
	assert_true(clean_reports_page(&m));
	assert_false(clean_reports_page(&m));   /* and nothing more */
	assert_int_equal(vmmu_dirty_disable(m.vm), 0);
	model_destroy(&m);
}

static void test_ept_wp(void **state)
{
	(void)state;
	retype_then_write(VMMU_BACKEND_EPT, &vmmu_backend_ept,
			  VMMU_DIRTY_WRITE_PROTECT);
}

static void test_npt_wp(void **state)
{
	(void)state;
	retype_then_write(VMMU_BACKEND_NPT, &vmmu_backend_npt,
			  VMMU_DIRTY_WRITE_PROTECT);
}

static void test_ept_ad(void **state)
{
	(void)state;
	retype_then_write(VMMU_BACKEND_EPT, &vmmu_backend_ept, VMMU_DIRTY_AD_BITS);
}

static void test_npt_ad(void **state)
{
	(void)state;
	retype_then_write(VMMU_BACKEND_NPT, &vmmu_backend_npt, VMMU_DIRTY_AD_BITS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ept_wp),
		cmocka_unit_test(test_npt_wp),
		cmocka_unit_test(test_ept_ad),
		cmocka_unit_test(test_npt_ad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
