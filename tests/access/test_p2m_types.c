/* SPDX-License-Identifier: MIT */
/*
 * A VMM's p2m type changes (vmmu_vm_set_p2m_type) seen by the guest, the
 * same on EPT, NPT and shadow paging: one RAM page of the model VM made
 * RAM_RO (writes go to the VMM as unhandled, reads still read, memory
 * unchanged), ROM (writes go to the VMM as ROM writes), MMIO (every access
 * goes to the VMM's MMIO path), then RAM_RW again (writes land). The
 * guest's translation is cached before each change, so the change must
 * also reach what the TLB model and the shadows hold. The EPT and NPT
 * outcomes of a RAM_RO write are the ones the bare-metal hypervisor sees
 * from Bochs and QEMU (docs/hypervisor.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "migrate/model.h"
#include "vmmu/access.h"
#include "vmmu/p2m.h"

#define PAGE (MODEL_DATA_BASE + 5 * 4096)

struct outcome {
	enum vmmu_access_status status;
	enum vmmu_vmm_reason reason;
	uint64_t value;         /* read: what the guest read; write: memory */
};

static struct outcome access(struct model *m, enum vmmu_access_kind kind,
			     uint64_t v)
{
	struct vmmu_access_result r;
	struct outcome o = { 0 };
	uint64_t data = v;

	if (kind == VMMU_ACCESS_WRITE)
		assert_int_equal(vmmu_vcpu_write(m->vcpu[0], mk_gva(PAGE + 8),
						 &data, 8, 0, &r), 0);
	else
		assert_int_equal(vmmu_vcpu_read(m->vcpu[0], mk_gva(PAGE + 8),
						&data, 8, 0, &r), 0);
	o.status = r.status;
	o.reason = r.status == VMMU_ACCESS_VMM ? r.reason : VMMU_REASON_NONE;
	if (kind == VMMU_ACCESS_WRITE)
		assert_int_equal(vmmu_vm_read_gpa(m->vm, mk_gpa(PAGE + 8), &data,
						  8), 0);
	o.value = r.status == VMMU_ACCESS_DONE || kind == VMMU_ACCESS_WRITE ?
		  data : 0;
	return o;
}

static void expect(struct outcome o, enum vmmu_access_status s,
		   enum vmmu_vmm_reason reason, uint64_t value)
{
	assert_int_equal(o.status, s);
	assert_int_equal(o.reason, reason);
	assert_int_equal(o.value, value);
}

static void retype(struct model *m, enum vmmu_p2m_type t)
{
	/* a cached translation first: the change must reach it */
	(void)access(m, VMMU_ACCESS_READ, 0);
	assert_int_equal(vmmu_vm_set_p2m_type(m->vm, mk_gpa(PAGE), 4096, t), 0);
}

static void run(enum vmmu_backend_kind kind, const struct vmmu_backend_ops *ops)
{
	struct model_cfg cfg = { .mem = 8ULL << 20, .vcpus = 1, .eager = true,
				 .workload = MODEL_WL_IDLE, .kind = kind,
				 .ops = ops };
	struct model m;

	assert_int_equal(model_create(&m, &cfg), 0);
	expect(access(&m, VMMU_ACCESS_WRITE, 11), VMMU_ACCESS_DONE,
	       VMMU_REASON_NONE, 11);
	retype(&m, VMMU_P2M_RAM_RO);
	expect(access(&m, VMMU_ACCESS_WRITE, 22), VMMU_ACCESS_VMM,
	       VMMU_REASON_UNHANDLED, 11);
	expect(access(&m, VMMU_ACCESS_READ, 0), VMMU_ACCESS_DONE,
	       VMMU_REASON_NONE, 11);
	retype(&m, VMMU_P2M_ROM);
	expect(access(&m, VMMU_ACCESS_WRITE, 33), VMMU_ACCESS_VMM,
	       VMMU_REASON_ROM_WRITE, 11);
	expect(access(&m, VMMU_ACCESS_READ, 0), VMMU_ACCESS_DONE,
	       VMMU_REASON_NONE, 11);
	retype(&m, VMMU_P2M_MMIO);
	expect(access(&m, VMMU_ACCESS_READ, 0), VMMU_ACCESS_VMM,
	       VMMU_REASON_MMIO, 0);
	retype(&m, VMMU_P2M_RAM_RW);
	expect(access(&m, VMMU_ACCESS_WRITE, 44), VMMU_ACCESS_DONE,
	       VMMU_REASON_NONE, 44);
	expect(access(&m, VMMU_ACCESS_READ, 0), VMMU_ACCESS_DONE,
	       VMMU_REASON_NONE, 44);
	model_destroy(&m);
}

static void test_ept(void **state)
{
	(void)state;
	run(VMMU_BACKEND_EPT, &vmmu_backend_ept);
}

static void test_npt(void **state)
{
	(void)state;
	run(VMMU_BACKEND_NPT, &vmmu_backend_npt);
}

static void test_shadow(void **state)
{
	(void)state;
	run(VMMU_BACKEND_SHADOW, &vmmu_backend_shadow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ept),
		cmocka_unit_test(test_npt),
		cmocka_unit_test(test_shadow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
