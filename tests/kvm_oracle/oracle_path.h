/* SPDX-License-Identifier: MIT */
/* The oracle's cases through vmmu's access path (oracle_path.c). */
#ifndef VMMU_TESTS_KVM_ORACLE_PATH_H
#define VMMU_TESTS_KVM_ORACLE_PATH_H

#include "oracle_cmp.h"

/*
 * Access idx of c, from the tables pre (as it found them) under ps,
 * through vmmu_vcpu_access() with the direct backend, against vmmu_walk()
 * on the same memory. Sets v->agree = false with v->why on a difference.
 * 0, or a negative vmmu_err when the harness itself failed.
 */
int orc_path_check(const struct orc_vm *vm, const struct orc_case *c,
		   unsigned idx, const struct orc_tables *pre,
		   const struct vmmu_paging_state *ps, struct orc_verdict *v);

#endif
