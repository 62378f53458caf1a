/* SPDX-License-Identifier: MIT */
/*
 * A hosted (Linux user-space) implementation of struct vmmu_platform: host
 * "physical" memory is one reserved virtual range, and a host-physical
 * address is an offset into it (page 0 is never handed out, so hpa 0 can
 * mean "none").
 */
#ifndef VMMU_HOST_HOSTED_H
#define VMMU_HOST_HOSTED_H

#include "vmmu/platform.h"

struct vmmu_hosted_arena;

/* Create an arena able to hold up to max_bytes of host pages. */
int vmmu_hosted_create(uint64_t max_bytes, struct vmmu_hosted_arena **out);
void vmmu_hosted_destroy(struct vmmu_hosted_arena *arena);
/* The platform interface over arena. */
void vmmu_hosted_platform(struct vmmu_hosted_arena *arena,
			  struct vmmu_platform *out);
/* Pages currently allocated. */
uint64_t vmmu_hosted_pages_in_use(const struct vmmu_hosted_arena *arena);

#endif
