/* SPDX-License-Identifier: MIT */
/*
 * `vmmu walk` with "backend": "shadow" (see `vmmu walk --help`): the
 * case's memory is guest-physical memory of a VM whose p2m the case gives
 * (default: identity RAM), and every access runs through the core's
 * access path (vmmu_vcpu_access) on the shadow-paging backend
 * (shadow-fallback/): shadow #PF, guest walk, fill, retry, emulation of
 * writes to page tables, exits for MMIO and holes.
 */
#ifndef VMMU_CLI_WALK_SHADOW_H
#define VMMU_CLI_WALK_SHADOW_H

#include <stdbool.h>
#include <jansson.h>

#include "walk_case.h"

/*
 * Run case wc (parsed with walk_case_parse_nested, wc->backend or wc->p2m
 * set). Returns {"results", "memory_writes", "shadow"}, or NULL with a
 * message in err (WALK_CASE_ERRLEN bytes) and *status 2 for bad input (an
 * unknown backend, a bad or overlapping p2m, memory outside RAM, --trace),
 * 1 for a failure of vmmu.
 */
json_t *walk_shadow_run(const struct walk_case *wc, bool trace, char *err,
			int *status);

#endif
