/* SPDX-License-Identifier: MIT */
/*
 * `vmmu walk` with "nested" (see `vmmu walk --help`): the case's memory is
 * host-physical, the guest's page tables are reached through EPT or NPT
 * tables in that memory, and every access is a 2-D walk with cold caches
 * by the backends' own hardware sides (ept/ept_hw.c, npt/npt_hw.c through
 * core/nested.c).
 */
#ifndef VMMU_CLI_WALK_NESTED_H
#define VMMU_CLI_WALK_NESTED_H

#include <stdbool.h>
#include <jansson.h>

#include "walk_case.h"

/*
 * Run case wc (parsed with walk_case_parse_nested, wc->nested set).
 * Returns {"results", "memory_writes"}, or NULL with a message in err
 * (WALK_CASE_ERRLEN bytes) and *status 2 for a bad "nested" object, 1 for
 * a walker failure.
 */
json_t *walk_nested_run(const struct walk_case *wc, bool trace, char *err,
			int *status);

#endif
