/* SPDX-License-Identifier: MIT */
/* The oracle's cases through the shadow backend (oracle_shadow.c). */
#ifndef VMMU_TESTS_KVM_ORACLE_SHADOW_H
#define VMMU_TESTS_KVM_ORACLE_SHADOW_H

#include "oracle_cmp.h"

/*
 * Access idx of c, from the tables pre under ps, through
 * vmmu_vcpu_access() with the shadow backend, against vmmu_walk() on the
 * same memory (held to KVM by orc_check_access). Sets v->agree = false
 * with v->why on a difference. 0, or a negative vmmu_err when the harness
 * itself failed.
 */
int orc_shadow_check(const struct orc_case *c, unsigned idx,
		     const struct orc_tables *pre,
		     const struct vmmu_paging_state *ps, struct orc_verdict *v);

#endif
