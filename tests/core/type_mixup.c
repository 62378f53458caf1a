/* SPDX-License-Identifier: MIT */
/*
 * Must NOT compile: a guest-physical address passed where a host-physical
 * one is expected. ctest compiles this file and expects the compiler to
 * refuse it (test core_type_mixup, WILL_FAIL); with VMMU_TYPES_IN_ORDER
 * it must compile (core_type_ok), so the failure is the type check's.
 */
#include "vmmu/vm.h"

int mixup(struct vmmu_vm *vm, gpa_t gpa)
{
	hpa_t hpa;

#ifdef VMMU_TYPES_IN_ORDER
	return vmmu_vm_gpa_to_hpa(vm, gpa, &hpa);
#else
	/* Arguments swapped on purpose: gpa_t and hpa_t are distinct types. */
	return vmmu_vm_gpa_to_hpa(vm, hpa, &gpa);
#endif
}
