/* SPDX-License-Identifier: MIT */
/*
 * The VM's p2m (include/vmmu/p2m.h): slot defaults, sparse overrides and
 * their undo when the backend refuses, grants and foreign mappings with
 * every refused case leaving nothing behind, revocation everywhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/vmmu.h"
#include "vmmu/p2m.h"
#include "vmmu/hosted.h"

static struct vmmu_hosted_arena *arena;
static struct vmmu_platform plat;
static int fail_next;
static unsigned maps, unmaps, set_types;

static int rec_set_type(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
			enum vmmu_p2m_type type)
{
	(void)vm; (void)gpa; (void)size; (void)type;
	set_types++;
	return fail_next ? fail_next : 0;
}

static int rec_map(struct vmmu_vm *vm, gpa_t gpa, hpa_t hpa,
		   enum vmmu_p2m_type type)
{
	(void)vm; (void)gpa; (void)hpa; (void)type;
	if (fail_next)
		return fail_next;
	maps++;
	return 0;
}

static int rec_unmap(struct vmmu_vm *vm, gpa_t gpa)
{
	(void)vm; (void)gpa;
	unmaps++;
	return 0;
}

static const struct vmmu_backend_ops rec_ops = {
	.name = "recorder", .set_type = rec_set_type,
	.foreign_map = rec_map, .foreign_unmap = rec_unmap,
};

static struct vmmu_vm *mkvm(void)
{
	struct vmmu_vm *vm;

	assert_int_equal(vmmu_vm_create(&plat, &vm), 0);
	assert_int_equal(vmmu_vm_set_backend(vm, VMMU_BACKEND_NONE, &rec_ops), 0);
	assert_int_equal(vmmu_vm_add_slot(vm, mk_gpa(0), 64ULL << 20, VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_add_slot(vm, mk_gpa(0xfff00000), 1ULL << 20, VMMU_MEM_ROM), 0);
	assert_int_equal(vmmu_vm_add_slot(vm, mk_gpa(0xfee00000), 4096, VMMU_MEM_MMIO), 0);
	return vm;
}

static int setup(void **state)
{
	(void)state;
	fail_next = 0;
	maps = unmaps = set_types = 0;
	if (vmmu_hosted_create(512ULL << 20, &arena) < 0)
		return -1;
	vmmu_hosted_platform(arena, &plat);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vmmu_hosted_destroy(arena);
	return 0;
}

static enum vmmu_p2m_type type_at(struct vmmu_vm *vm, uint64_t gpa)
{
	struct vmmu_p2m_info pi;

	assert_int_equal(vmmu_p2m_lookup(vm, mk_gpa(gpa), &pi), 0);
	return pi.type;
}

static void test_types(void **state)
{
	struct vmmu_vm *vm = mkvm();
	enum vmmu_p2m_type t;
	struct vmmu_p2m_info pi;

	(void)state;
	assert_int_equal(type_at(vm, 0x1000), VMMU_P2M_RAM_RW);
	assert_int_equal(type_at(vm, 0xfff00000), VMMU_P2M_ROM);
	assert_int_equal(type_at(vm, 0xfee00000), VMMU_P2M_MMIO);
	assert_int_equal(vmmu_p2m_lookup(vm, mk_gpa(0x80000000), &pi), VMMU_ENOENT);
	/* Whole-guest log-dirty is one override; a page inside goes RW. */
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0), 64ULL << 20,
					      VMMU_P2M_RAM_LOGDIRTY), 0);
	assert_int_equal(set_types, 1);
	assert_int_equal(vmmu_p2m_range_type(vm, mk_gpa(0), 2ULL << 20, &t), 0);
	assert_int_equal(t, VMMU_P2M_RAM_LOGDIRTY);
	assert_int_equal(vmmu_p2m_record_type(vm, mk_gpa(0x3000), 4096, VMMU_P2M_RAM_RW), 0);
	assert_int_equal(set_types, 1);
	assert_int_equal(type_at(vm, 0x2000), VMMU_P2M_RAM_LOGDIRTY);
	assert_int_equal(type_at(vm, 0x3000), VMMU_P2M_RAM_RW);
	assert_int_equal(type_at(vm, 0x4000), VMMU_P2M_RAM_LOGDIRTY);
	assert_int_equal(vmmu_p2m_range_type(vm, mk_gpa(0), 2ULL << 20, &t), VMMU_P2M_MIXED);
	assert_int_equal(vmmu_p2m_range_type(vm, mk_gpa(0x200000), 2ULL << 20, &t), 0);
	/* Refused: MMIO slot, a hole, a grant type, misalignment. */
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0xfee00000), 4096, VMMU_P2M_RAM_RW), VMMU_EINVAL);
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0x80000000), 4096, VMMU_P2M_RAM_RW), VMMU_EINVAL);
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0), 4096, VMMU_P2M_GRANT_RW), VMMU_EINVAL);
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0x10), 4096, VMMU_P2M_RAM_RW), VMMU_EINVAL);
	/* The backend refuses: the record is undone. */
	fail_next = VMMU_ENOMEM;
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0x2000), 4096, VMMU_P2M_RAM_RO), VMMU_ENOMEM);
	fail_next = 0;
	assert_int_equal(type_at(vm, 0x2000), VMMU_P2M_RAM_LOGDIRTY);
	/* Back to RW everywhere: uniform again. */
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0), 64ULL << 20, VMMU_P2M_RAM_RW), 0);
	assert_int_equal(vmmu_p2m_range_type(vm, mk_gpa(0), 64ULL << 20, &t), 0);
	assert_int_equal(t, VMMU_P2M_RAM_RW);
	vmmu_vm_destroy(vm);
}

static void test_grants(void **state)
{
	struct vmmu_vm *a = mkvm(), *b = mkvm(), *c = mkvm();
	struct vmmu_p2m_info pi;
	uint32_t ro, rw;
	hpa_t hpa;

	(void)state;
	assert_int_equal(vmmu_grant_issue(a, mk_gpa(0x5000), b, false, &ro), 0);
	assert_int_equal(vmmu_grant_issue(a, mk_gpa(0x6000), b, true, &rw), 0);
	/* Refused issues: MMIO, ROM, a hole, misaligned, to itself. */
	assert_int_equal(vmmu_grant_issue(a, mk_gpa(0xfee00000), b, false, &(uint32_t){0}), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_issue(a, mk_gpa(0xfff00000), b, false, &(uint32_t){0}), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_issue(a, mk_gpa(0x80000000), b, false, &(uint32_t){0}), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_issue(a, mk_gpa(0x5008), b, false, &(uint32_t){0}), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_issue(a, mk_gpa(0x5000), a, false, &(uint32_t){0}), VMMU_EINVAL);
	/* Refused maps: write on a read-only grant, another grantee, not a
	 * hole, no such grant, foreign without privilege: nothing mapped. */
	assert_int_equal(vmmu_grant_map(b, mk_gpa(0x80000000), a, ro, true), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_map(c, mk_gpa(0x80000000), a, ro, false), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_map(b, mk_gpa(0x1000), a, ro, false), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_map(b, mk_gpa(0x80000000), a, 99, false), VMMU_ENOENT);
	assert_int_equal(vmmu_foreign_map(c, mk_gpa(0x80000000), a, mk_gpa(0x7000)), VMMU_EINVAL);
	fail_next = VMMU_ENOMEM;
	assert_int_equal(vmmu_grant_map(b, mk_gpa(0x80000000), a, ro, false), VMMU_ENOMEM);
	fail_next = 0;
	assert_int_equal(maps, 0);
	assert_int_equal(vmmu_p2m_lookup(b, mk_gpa(0x80000000), &pi), VMMU_ENOENT);
	/* Allowed. */
	assert_int_equal(vmmu_grant_map(b, mk_gpa(0x80000000), a, ro, false), 0);
	assert_int_equal(vmmu_grant_map(b, mk_gpa(0x80001000), a, rw, true), 0);
	assert_int_equal(vmmu_grant_map(b, mk_gpa(0x80002000), a, rw, false), 0);
	assert_int_equal(vmmu_p2m_lookup(b, mk_gpa(0x80001234), &pi), 0);
	assert_int_equal(pi.type, VMMU_P2M_GRANT_RW);
	assert_ptr_equal(pi.owner, a);
	assert_int_equal(pi.owner_gpa.v, 0x6000);
	assert_int_equal(vmmu_vm_gpa_to_hpa(a, mk_gpa(0x6000), &hpa), 0);
	assert_int_equal(pi.hpa.v, hpa.v);
	assert_int_equal(type_at(b, 0x80000000), VMMU_P2M_GRANT_RO);
	/* A slot cannot be added over a mapping. */
	assert_int_equal(vmmu_vm_add_slot(b, mk_gpa(0x80000000), 1ULL << 20, VMMU_MEM_RAM), VMMU_EEXIST);
	/* Privileged foreign mapping. */
	assert_int_equal(vmmu_vm_set_privileged(c, true), 0);
	assert_int_equal(vmmu_foreign_map(c, mk_gpa(0x90000000), a, mk_gpa(0x7000)), 0);
	assert_int_equal(vmmu_foreign_map(c, mk_gpa(0x90001000), a, mk_gpa(0xfee00000)), VMMU_EINVAL);
	assert_int_equal(type_at(c, 0x90000000), VMMU_P2M_FOREIGN);
	assert_int_equal(maps, 4);
	/* Revoking rw unmaps both of its mappings. */
	assert_int_equal(vmmu_grant_revoke(a, rw), 0);
	assert_int_equal(unmaps, 2);
	assert_int_equal(vmmu_p2m_lookup(b, mk_gpa(0x80001000), &pi), VMMU_ENOENT);
	assert_int_equal(vmmu_grant_map(b, mk_gpa(0x80001000), a, rw, false), VMMU_ENOENT);
	assert_int_equal(vmmu_grant_revoke(a, rw), VMMU_ENOENT);
	/* B unmaps its own; destroying A unmaps the foreign one in C. */
	assert_int_equal(vmmu_foreign_unmap(b, mk_gpa(0x80000000)), 0);
	assert_int_equal(unmaps, 3);
	vmmu_vm_destroy(a);
	assert_int_equal(unmaps, 4);
	assert_int_equal(vmmu_p2m_lookup(c, mk_gpa(0x90000000), &pi), VMMU_ENOENT);
	vmmu_vm_destroy(b);
	vmmu_vm_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grants, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
