/* SPDX-License-Identifier: MIT */
/*
 * One page-table engine for every second-level and shadow format.
 *
 * EPT, NPT and shadow tables are radix trees of 512 eight-byte entries per
 * 4 KiB page; they differ only in how an entry encodes "present", the
 * permissions, a large leaf and the next address. A struct vmmu_pt_format
 * describes that encoding; the engine (map, unmap, protect, lookup, split)
 * is written once against it.
 *
 * Invariants:
 *  - every table page is allocated from the platform and reachable from
 *    pt->root exactly once, so destroy frees each page once;
 *  - a leaf at level L maps a naturally aligned 4 KiB << 9*(L-1) range;
 *  - entries are written whole (one 64-bit store), never bit by bit, so a
 *    concurrent hardware walker sees either the old or the new entry.
 */
#ifndef VMMU_CORE_PGTABLE_H
#define VMMU_CORE_PGTABLE_H

#include "vmmu/platform.h"
#include "vmmu/types.h"

#define VMMU_PT_ENTRIES 512
#define VMMU_PT_LEVEL_4K 1
#define VMMU_PT_LEVEL_2M 2
#define VMMU_PT_LEVEL_1G 3

/* Size mapped by one entry at level (1 = 4 KiB). */
static inline uint64_t vmmu_pt_level_size(unsigned level)
{
	return VMMU_PAGE_SIZE << (9 * (level - 1));
}

/* Index of addr in a table of the given level. */
static inline unsigned vmmu_pt_index(uint64_t addr, unsigned level)
{
	return (unsigned)(addr >> (VMMU_PAGE_SHIFT + 9 * (level - 1))) & 511;
}

struct vmmu_pt;

/*
 * Entry encoding of one table format. prot is a VMMU_PROT_* mask
 * (core/backend.h); ctx is the per-table format context (e.g. the EPT
 * memory type), so that no format setting is global.
 */
struct vmmu_pt_format {
	const char *name;
	uint64_t addr_mask;     /* next-table / page address bits */
	uint64_t large_bit;     /* marks a leaf above level 1 */
	/* True when e maps something (table or leaf). */
	bool (*present)(uint64_t e);
	/* Entry pointing at a next-level table. */
	uint64_t (*make_table)(const struct vmmu_pt *pt, hpa_t table);
	/* Leaf entry for page at level with prot (never 0 for prot != 0). */
	uint64_t (*make_leaf)(const struct vmmu_pt *pt, hpa_t page,
			      unsigned prot, unsigned level);
	/* VMMU_PROT_* granted by a leaf. */
	unsigned (*leaf_prot)(uint64_t e);
	/*
	 * Whether a leaf may grant exactly prot (non-zero); NULL means any.
	 * A combination the format cannot express, or that the hardware
	 * would take as a misconfiguration, is refused rather than written.
	 */
	bool (*prot_ok)(const struct vmmu_pt *pt, unsigned prot);
};

struct vmmu_pt {
	const struct vmmu_pt_format *fmt;
	struct vmmu_platform plat;
	const void *ctx;        /* format context, see struct vmmu_pt_format */
	unsigned levels;        /* 4 or 5 */
	unsigned max_leaf_level;/* 2 (2 MiB) or 3 (1 GiB) */
	hpa_t root;
	uint64_t table_pages;   /* pages in use by the tree, root included */
};

int vmmu_pt_init(struct vmmu_pt *pt, const struct vmmu_pt_format *fmt,
		 const void *ctx, const struct vmmu_platform *plat,
		 unsigned levels, unsigned max_leaf_level);
/* Free every table page (not the mapped pages). */
void vmmu_pt_destroy(struct vmmu_pt *pt);

/*
 * Map [addr, addr+size) to [page, page+size) with prot, using the largest
 * leaves that alignment and max_leaf_level allow. Existing mappings in the
 * range are replaced; large leaves straddling the edges are split.
 */
int vmmu_pt_map(struct vmmu_pt *pt, uint64_t addr, hpa_t page, uint64_t size,
		unsigned prot);
/* Remove mappings in [addr, addr+size); splits straddling large leaves. */
int vmmu_pt_unmap(struct vmmu_pt *pt, uint64_t addr, uint64_t size);
/* Change the permissions of mapped leaves in [addr, addr+size). */
int vmmu_pt_protect(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
		    unsigned prot);
/*
 * The leaf mapping addr: *entry and *level, and 0; VMMU_ENOENT when
 * nothing maps it (*level then tells where the walk stopped).
 */
int vmmu_pt_lookup(const struct vmmu_pt *pt, uint64_t addr, uint64_t *entry,
		   unsigned *level);
/*
 * Replace the large leaf at level covering addr by a table of leaves one
 * level down with the same translation and permissions.
 */
int vmmu_pt_split_large_leaf(struct vmmu_pt *pt, uint64_t addr,
			     unsigned level);

#endif
