/* SPDX-License-Identifier: MIT */
/*
 * pfn -> position of a page in its owner's array, for the CLI's sparse
 * host memories (walk_nested.c, walk_shadow.c): open addressing with
 * linear probing, doubled and rebuilt when half full. Positions are the
 * owner's; the index never moves them.
 */
#ifndef VMMU_CLI_PFN_INDEX_H
#define VMMU_CLI_PFN_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pfn_slot {
	uint64_t pfn;
	uint32_t pos1;          /* 1 + position; 0: empty */
};

struct pfn_index {
	struct pfn_slot *slot;
	size_t cap, n;          /* cap a power of two */
};

/* An empty index of cap slots (a power of two); 0 or VMMU_ENOMEM. */
int pfn_index_init(struct pfn_index *x, size_t cap);
void pfn_index_fini(struct pfn_index *x);
/* The position of pfn: true with *pos, false when absent. */
bool pfn_index_get(const struct pfn_index *x, uint64_t pfn, uint32_t *pos);
/* Record pfn (absent) at pos; 0, or VMMU_ENOMEM with the index unchanged. */
int pfn_index_put(struct pfn_index *x, uint64_t pfn, uint32_t pos);

#endif
