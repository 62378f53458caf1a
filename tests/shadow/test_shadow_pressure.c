/* SPDX-License-Identifier: MIT */
/*
 * The shadow pool under pressure: the smallest pool the backend accepts
 * (VMMU_SHADOW_POOL_MIN) with 1,000 address spaces, visited in turn and
 * then driven by the random guest OS; every access is checked against the
 * reference walker (os_sim.c) and the pool never grows past its size.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "os_sim.h"
#include "host/hosted.h"
#include "vmmu/error.h"
#include "shadow-fallback/shadow.h"

static void test_pool_minimum_refused(void **state)
{
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *v1, *v2;

	(void)state;
	assert_int_equal(vmmu_hosted_create(64ULL << 20, &arena), 0);
	vmmu_hosted_platform(arena, &plat);
	assert_int_equal(vmmu_vm_create(&plat, &vm), 0);
	assert_int_equal(vmmu_shadow_set_pool_pages(vm, 100), VMMU_EINVAL);
	assert_int_equal(vmmu_vm_set_backend(vm, VMMU_BACKEND_SHADOW,
					     &vmmu_backend_shadow), 0);
	assert_int_equal(vmmu_shadow_set_pool_pages(vm, VMMU_SHADOW_POOL_MIN(1) - 1),
			 VMMU_EINVAL);
	assert_int_equal(vmmu_shadow_set_pool_pages(vm, VMMU_SHADOW_POOL_MIN(1)), 0);
	assert_int_equal(vmmu_vcpu_create(vm, &v1), 0);
	/* A second vCPU needs more than the one-vCPU minimum: refused. */
	assert_int_not_equal(vmmu_vcpu_create(vm, &v2), 0);
	assert_int_equal(vmmu_shadow_set_pool_pages(vm, VMMU_SHADOW_POOL_MIN(2)), 0);
	assert_int_equal(vmmu_vcpu_create(vm, &v2), 0);
	vmmu_vm_destroy(vm);
	vmmu_hosted_destroy(arena);
}

static void test_thousand_spaces_minimum_pool(void **state)
{
	struct osm_cfg c = { .mode = VMMU_PAGING_4LEVEL, .nxe = true, .pcid = true,
			     .ram = 64 << 20, .max_as = 1000, .seed = 11,
			     .pool_pages = VMMU_SHADOW_POOL_MIN(1),
			     .check_every = 500 };
	struct vmmu_shadow_stats ss;
	struct osm *os;

	(void)state;
	assert_int_equal(osm_create(&c, &os), 0);
	assert_true(osm_populate(os, 1000, 2));
	assert_true(osm_round_robin(os, 2));
	assert_true(osm_round_robin(os, 2));
	assert_true(osm_run(os, 3000));
	assert_int_equal(vmmu_shadow_stats(osm_vm(os), &ss), 0);
	fprintf(stderr, "pool %llu pages: %llu allocated, %llu recycled, %llu "
		"fills, %llu accesses checked\n", (unsigned long long)ss.pool_pages,
		(unsigned long long)ss.pages_allocated,
		(unsigned long long)ss.recycled, (unsigned long long)ss.fills,
		(unsigned long long)osm_stats(os)->accesses);
	assert_true(ss.pages_allocated <= VMMU_SHADOW_POOL_MIN(1));
	assert_true(ss.recycled > 1000);
	osm_destroy(os);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_minimum_refused),
		cmocka_unit_test(test_thousand_spaces_minimum_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
