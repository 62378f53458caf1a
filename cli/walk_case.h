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
};

/*
 * Parse case c into *wc. Returns 0, or -1 with a message naming the
 * offending key in err (WALK_CASE_ERRLEN bytes) and *wc empty.
 */
int walk_case_parse(const json_t *c, struct walk_case *wc, char *err);
void walk_case_free(struct walk_case *wc);

#endif
