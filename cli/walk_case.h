/* SPDX-License-Identifier: MIT */
/*
 * One `vmmu walk` case (the JSON format `vmmu walk --help` describes),
 * parsed and checked: registers, guest-physical memory items and accesses.
 * Shared by `vmmu walk` and `kvm_oracle --case`, so that both refuse the
 * same malformed input and read a valid case the same way.
 */
#ifndef VMMU_CLI_WALK_CASE_H
#define VMMU_CLI_WALK_CASE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "cli_json.h"
#include "guest_mem.h"
#include "vmmu/walk.h"

/* Size of the err buffer walk_case_parse() writes its message into. */
#define WALK_CASE_ERRLEN 512

struct walk_case {
	struct vmmu_paging_state ps;    /* role computed (vmmu_paging_update) */
	/* the memory items, later ones over earlier; GUEST_MEM_CASE_PAGES */
	struct guest_mem mem;
	struct vmmu_access *acc;
	size_t nacc;
	/*
	 * walk_case_parse_nested only: the case's "nested" object (borrowed
	 * from the input, NULL without one); memory items then carry "hpa"
	 * and mem is host-physical memory (cli/walk_nested.h).
	 */
	const json_t *nested;
	/*
	 * walk_case_parse_nested only: "backend" and "p2m" (borrowed, NULL
	 * without them; cli/walk_shadow.h checks and runs them).
	 */
	const json_t *backend, *p2m;
};

/*
 * Parse case c into *wc. Returns 0, or -1 with a message naming the
 * offending key in err (WALK_CASE_ERRLEN bytes) and *wc empty.
 */
int walk_case_parse(const json_t *c, struct walk_case *wc, char *err);
/* The same, also accepting "nested", "backend" and "p2m" (`vmmu walk` only). */
int walk_case_parse_nested(const json_t *c, struct walk_case *wc, char *err);
void walk_case_free(struct walk_case *wc);

/*
 * One walk result in `vmmu walk` output form: gva, ok, then gpa and
 * page_size or vector, error_code (and cr2 for a #PF); trace adds the
 * entries read. NULL when out of memory.
 */
json_t *walk_result_json(const struct vmmu_access *acc,
			 const struct vmmu_walk_result *res, bool trace);

#endif
