/* SPDX-License-Identifier: MIT */
/* VM objects, the guest-physical memory map and the hosted arena. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/vmmu.h"
#include "host/hosted.h"

struct fixture {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	if (vmmu_hosted_create(64ULL << 20, &f.arena) < 0)
		return -1;
	vmmu_hosted_platform(f.arena, &f.plat);
	if (vmmu_vm_create(&f.plat, &f.vm) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vmmu_vm_destroy(f->vm);
	assert_int_equal(vmmu_hosted_pages_in_use(f->arena), 0);
	vmmu_hosted_destroy(f->arena);
	return 0;
}

static void test_slots_sorted_and_disjoint(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0x100000), 0x10000,
					  VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0x0), 0x2000,
					  VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0xfee00000), 0x1000,
					  VMMU_MEM_MMIO), 0);
	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0x10f000), 0x2000,
					  VMMU_MEM_RAM), VMMU_EEXIST);
	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0x1800), 0x1000,
					  VMMU_MEM_RAM), VMMU_EINVAL);
	assert_int_equal(f->vm->nslots, 3);
	assert_int_equal(f->vm->slots[0].base.v, 0);
	assert_int_equal(f->vm->slots[1].base.v, 0x100000);
	assert_int_equal(f->vm->slots[2].base.v, 0xfee00000);
	assert_non_null(vmmu_vm_find_slot(f->vm, mk_gpa(0x10ffff)));
	assert_null(vmmu_vm_find_slot(f->vm, mk_gpa(0x110000)));
	assert_null(vmmu_vm_find_slot(f->vm, mk_gpa(0x2000)));
	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(1ULL << 48), 0x1000,
					  VMMU_MEM_RAM), VMMU_EINVAL);
}

static void test_gpa_copy_crosses_pages_and_slots(void **state)
{
	struct fixture *f = *state;
	uint8_t in[0x3000], out[0x3000];
	hpa_t hpa;
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0x0), 0x2000,
					  VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0x2000), 0x2000,
					  VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_write_gpa(f->vm, mk_gpa(0x800), in,
					   sizeof(in)), 0);
	assert_int_equal(vmmu_vm_read_gpa(f->vm, mk_gpa(0x800), out,
					  sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(vmmu_vm_read_gpa(f->vm, mk_gpa(0x3800), out, 0x1000),
			 VMMU_ENOENT);
	/* A write running into a hole changes nothing. */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(vmmu_vm_write_gpa(f->vm, mk_gpa(0x3800), out, 0x1000),
			 VMMU_ENOENT);
	assert_int_equal(vmmu_vm_read_gpa(f->vm, mk_gpa(0x3800), out, 0x800), 0);
	for (i = 0; i < 0x800; i++)
		assert_int_equal(out[i], 0);    /* never written */
	assert_int_equal(vmmu_vm_gpa_to_hpa(f->vm, mk_gpa(0x2abc), &hpa), 0);
	assert_int_equal(hpa.v & 0xfff, 0xabc);
	assert_int_equal(vmmu_vm_remove_slot(f->vm, mk_gpa(0x2000)), 0);
	assert_int_equal(vmmu_vm_gpa_to_hpa(f->vm, mk_gpa(0x2abc), &hpa),
			 VMMU_ENOENT);
}

static void test_mmio_is_not_backed(void **state)
{
	struct fixture *f = *state;
	hpa_t hpa;
	uint32_t v;

	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0xfee00000), 0x1000,
					  VMMU_MEM_MMIO), 0);
	assert_int_equal(vmmu_vm_gpa_to_hpa(f->vm, mk_gpa(0xfee00000), &hpa),
			 VMMU_EFAULT);
	assert_int_equal(vmmu_vm_read_gpa(f->vm, mk_gpa(0xfee00000), &v, 4),
			 VMMU_EFAULT);
}

static void test_gmem_cmpxchg(void **state)
{
	struct fixture *f = *state;
	struct vmmu_gmem mem;
	uint64_t v = 0x1003, got;

	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0), 0x1000,
					  VMMU_MEM_RAM), 0);
	vmmu_vm_gmem(f->vm, &mem);
	assert_int_equal(vmmu_vm_write_gpa(f->vm, mk_gpa(0x10), &v, 8), 0);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0x10), 0x1003, 0x1023, 8), 0);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0x10), 0x1003, 0x1063, 8), 1);
	assert_int_equal(mem.read(mem.ctx, mk_gpa(0x10), &got, 8), 0);
	assert_int_equal(got, 0x1023);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0x12), 0, 1, 8), VMMU_EINVAL);
}

static void test_arena_refuses_double_free(void **state)
{
	struct fixture *f = *state;
	hpa_t a, b, c;

	assert_int_equal(f->plat.alloc_page(f->plat.ctx, &a), 0);
	assert_int_equal(f->plat.alloc_page(f->plat.ctx, &b), 0);
	assert_non_null(f->plat.map(f->plat.ctx, a));
	f->plat.free_page(f->plat.ctx, a);
	assert_null(f->plat.map(f->plat.ctx, a));
	f->plat.free_page(f->plat.ctx, a);      /* ignored */
	assert_int_equal(vmmu_hosted_pages_in_use(f->arena), 1);
	assert_int_equal(f->plat.alloc_page(f->plat.ctx, &c), 0);
	assert_int_equal(c.v, a.v);
	assert_int_equal(f->plat.alloc_page(f->plat.ctx, &a), 0);
	assert_true(a.v != c.v && a.v != b.v);  /* not handed out twice */
	f->plat.free_page(f->plat.ctx, a);
	f->plat.free_page(f->plat.ctx, b);
	f->plat.free_page(f->plat.ctx, c);
	assert_int_equal(vmmu_hosted_pages_in_use(f->arena), 0);
}

static void test_vcpus_and_dead_vm(void **state)
{
	struct fixture *f = *state;
	struct vmmu_vcpu *vcpu;

	assert_int_equal(vmmu_vcpu_create(f->vm, &vcpu), 0);
	assert_int_equal(vcpu->id, 0);
	assert_int_equal(vcpu->paging.maxphyaddr, 48);
	assert_int_equal(vmmu_vm_kill(f->vm, "test"), VMMU_EDEAD);
	assert_int_equal(vmmu_vcpu_create(f->vm, &vcpu), VMMU_EDEAD);
	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0), 0x1000,
					  VMMU_MEM_RAM), VMMU_EDEAD);
	assert_string_equal(vmmu_strerror(VMMU_EDEAD),
			    "VM is dead after an internal error");
	assert_string_equal(vmmu_strerror(12345), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slots_sorted_and_disjoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpa_copy_crosses_pages_and_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_is_not_backed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gmem_cmpxchg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arena_refuses_double_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vcpus_and_dead_vm, setup, teardown),
	};

	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
