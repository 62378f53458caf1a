/* SPDX-License-Identifier: MIT */
/* Walker internals shared by core/walk.c and core/walk_role.c. */
#ifndef VMMU_CORE_WALK_INTERNAL_H
#define VMMU_CORE_WALK_INTERNAL_H

#include <string.h>

#include "vmmu/walk.h"

/*
 * Access class: the index into struct vmmu_walk_role's perm[] and pkey[].
 * USER is a user-mode access (CPL 3 and not implicit, SDM 4.6); AC marks a
 * supervisor-mode explicit access with RFLAGS.AC = 1 (exempt from SMAP).
 */
#define VMMU_WCLS_WRITE  (1U << 0)
#define VMMU_WCLS_USER   (1U << 1)
#define VMMU_WCLS_FETCH  (1U << 2)
#define VMMU_WCLS_AC     (1U << 3)
#define VMMU_WCLS_COUNT  16

uint64_t vmmu_walk_role_key(const struct vmmu_paging_state *ps);
void vmmu_walk_role_build(struct vmmu_walk_role *r,
			  const struct vmmu_paging_state *ps);

#endif
