/* SPDX-License-Identifier: MIT */
/* What core/pgtable.c and core/pgtable_walk.c share; see pgtable.h. */
#ifndef VMMU_CORE_PGTABLE_INTERNAL_H
#define VMMU_CORE_PGTABLE_INTERNAL_H

#include "pgtable.h"
#include "pte_atomic.h"

static inline uint64_t *pt_table(const struct vmmu_pt *pt, hpa_t table)
{
	return pt->plat.map(pt->plat.ctx, table);
}

static inline bool pt_present(const struct vmmu_pt *pt, uint64_t e)
{
	return e & pt->fmt->present_mask;
}

static inline bool pt_is_leaf(const struct vmmu_pt *pt, uint64_t e,
			      unsigned level)
{
	return level == VMMU_PT_LEVEL_4K || (e & pt->fmt->large_bit);
}

static inline hpa_t pt_next(const struct vmmu_pt *pt, uint64_t e)
{
	return mk_hpa(e & pt->fmt->addr_mask);
}

/* A leaf at level for page with 4K-layout attributes. */
static inline uint64_t pt_make_leaf(const struct vmmu_pt *pt, uint64_t page,
				    unsigned level, uint64_t attrs)
{
	if (level > VMMU_PT_LEVEL_4K)
		attrs = pt->fmt->attrs_to_large(attrs);
	return page | attrs;
}

/* A 4K-layout bit mask in the layout of a leaf at level (no large bit). */
static inline uint64_t pt_mask_at(const struct vmmu_pt *pt, uint64_t bits,
				  unsigned level)
{
	if (level == VMMU_PT_LEVEL_4K)
		return bits;
	return pt->fmt->attrs_to_large(bits) & ~pt->fmt->large_bit;
}

/*
 * Where the part of [addr, end) in the entry of size size holding addr
 * ends: the entry's end, or end (written so that an entry at the top of
 * the address space does not overflow).
 */
static inline uint64_t pt_chunk_end(uint64_t addr, uint64_t end,
				    uint64_t size)
{
	uint64_t entry_start = addr & ~(size - 1);

	return end - entry_start < size ? end : entry_start + size;
}

/* Record a changed entry covering [addr, addr + size) in chg. */
void pt_note(struct vmmu_pt *pt, struct vmmu_pt_change *chg, uint64_t addr,
	     unsigned level, uint64_t old, uint64_t new_entry);
/* Tell chg of a split: the large leaf went, its 512 children came. */
void pt_note_split(struct vmmu_pt *pt, struct vmmu_pt_change *chg,
		   uint64_t addr, unsigned level, uint64_t old,
		   const uint64_t *children);
/* Split the large leaf at slot (level > 1) into a complete new table. */
int pt_split(struct vmmu_pt *pt, uint64_t *slot, unsigned level,
	     uint64_t addr, struct vmmu_pt_change *chg);
/* Free a table pt_split made and never linked (its leaves only). */
void pt_unsplit(struct vmmu_pt *pt, hpa_t table);
int pt_check_range(const struct vmmu_pt *pt, uint64_t addr, uint64_t size);

#endif
