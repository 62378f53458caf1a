/* SPDX-License-Identifier: MIT */
/*
 * One page-table engine for every second-level and shadow format.
 *
 * EPT, NPT and shadow tables are radix trees of 512 eight-byte entries per
 * 4 KiB page. They differ in how an entry says "present", where a large
 * leaf keeps its attributes and how an entry is marked for lazy
 * recalculation; a struct vmmu_pt_format describes exactly that, and the
 * engine (map, unmap, update, split, merge, iterate, test-and-clear, mark,
 * recalculate, lookup) is written once against it.
 *
 * Entries are the format's own 64-bit values. The engine never rebuilds a
 * leaf from a reduced description: a caller gives leaf attributes as the
 * non-address bits of a 4 KiB leaf ("4K layout"), the format converts them
 * to and from the large-leaf layout, and every bit an operation does not
 * name is copied.
 *
 * Invariants (tests/pgtable holds the engine to them):
 *  - every table page is reachable from pt->root exactly once, or is on
 *    the deferred-free list, never both; destroy frees each page once;
 *  - a leaf at level L maps a naturally aligned 4 KiB << 9*(L-1) range and
 *    L <= pt->max_leaf_level;
 *  - a table page unlinked from the tree stays intact (a hardware walker or
 *    a paging-structure cache may still read it) until the owner calls
 *    vmmu_pt_free_deferred() after an invalidation that covers it;
 *  - entries are written whole with one atomic 64-bit store (release), and
 *    a new table is complete before the store that links it, so a
 *    concurrent walker sees either the old or the new entry, never a mix;
 *  - a lazy-recalculation marker is only ever on a non-leaf entry; a leaf
 *    under a marked entry is recalculated before the marker is removed
 *    ("children first"), so no walk can pass a marker without trapping;
 *  - an operation that fails (bad argument: nothing changed; out of
 *    memory: the tree is valid and every entry is either its old or its
 *    new value) never loses a table page.
 *
 * Concurrency: one writer at a time per tree (the VM's lock); hardware-side
 * readers may walk concurrently, and may set A/D bits with atomic RMW.
 */
#ifndef VMMU_CORE_PGTABLE_H
#define VMMU_CORE_PGTABLE_H

#include "vmmu/platform.h"
#include "vmmu/types.h"

#define VMMU_PT_ENTRIES 512
#define VMMU_PT_LEVEL_4K 1
#define VMMU_PT_LEVEL_2M 2
#define VMMU_PT_LEVEL_1G 3
#define VMMU_PT_MAX_LEVELS 5

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
 * Entry encoding of one table format. ctx (struct vmmu_pt.ctx) holds the
 * per-table settings, so that no format setting is global.
 */
struct vmmu_pt_format {
	const char *name;
	uint64_t addr_mask;     /* next-table / page address bits */
	uint64_t large_bit;     /* marks a leaf above level 1 */
	/* An entry is present (maps something) when any of these is set. */
	uint64_t present_mask;
	/* Bits a merge ORs together instead of requiring them equal (A/D). */
	uint64_t merge_or_mask;
	/*
	 * A change of a present leaf that only sets grant bits and changes
	 * no bit outside grant_mask | ignored_mask needs no invalidation: a
	 * cached translation made before it is only more restrictive, and
	 * using it costs a spurious fault that the handler resolves (SDM Vol.
	 * 3C 29.4.3.3; APM Vol. 2 15.25.10 for nested tables). ignored_mask:
	 * bits the hardware ignores (software-available, vmmu's p2m type).
	 */
	uint64_t grant_mask, ignored_mask;
	/* A non-leaf entry pointing at table. */
	uint64_t (*make_table)(const struct vmmu_pt *pt, hpa_t table);
	/* Leaf attributes (no address) from the 4K layout to a large leaf's. */
	uint64_t (*attrs_to_large)(uint64_t attrs);
	/* Leaf attributes from a large leaf's layout back to the 4K layout. */
	uint64_t (*attrs_to_4k)(uint64_t attrs);
	/*
	 * Whether 4K-layout leaf attributes are ones the hardware accepts
	 * (present, no reserved bit, no misconfiguration); the engine refuses
	 * to write a leaf that fails this.
	 */
	bool (*leaf_ok)(const struct vmmu_pt *pt, uint64_t attrs);
	/*
	 * The format's lazy-recalculation marker on a non-leaf entry, and its
	 * exact inverse: unmark(mark(e)) == e for every table entry e.
	 */
	uint64_t (*mark)(const struct vmmu_pt *pt, uint64_t e);
	uint64_t (*unmark)(const struct vmmu_pt *pt, uint64_t e);
	bool (*marked)(uint64_t e);
};

/* Engine counters (per tree). */
struct vmmu_pt_stats {
	uint64_t tables_allocated;
	uint64_t tables_deferred;   /* unlinked, waiting for an invalidation */
	uint64_t tables_freed;
	uint64_t splits;
	uint64_t merges;
	uint64_t marks;             /* non-leaf entries marked for recalc */
	uint64_t recalc_tables;     /* tables recalculated on demand */
	uint64_t recalc_leaves;     /* leaves passed to a recalc callback */
};

struct vmmu_pt {
	const struct vmmu_pt_format *fmt;
	struct vmmu_platform plat;
	const void *ctx;        /* format context, see struct vmmu_pt_format */
	unsigned levels;        /* 4 or 5 */
	unsigned max_leaf_level;/* 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB) */
	bool auto_merge;        /* merge uniform tables after map/update */
	hpa_t root;
	uint64_t table_pages;   /* pages linked in the tree, root included */
	hpa_t *deferred;        /* unlinked table pages (bookkeeping memory) */
	size_t ndeferred, deferred_cap;
	void *recalc_scratch;   /* bookkeeping for vmmu_pt_recalc, lazily */
	struct vmmu_pt_stats stats;
};

/*
 * What an operation changed, for the caller's invalidation. flush: some
 * present entry changed other than by only granting more access (see
 * vmmu_pt_format.grant_mask), so cached translations of [start, end) may
 * be stale (INVEPT, ASID flush, shadow TLB flush). tables_unlinked: table
 * pages went to the deferred-free list, so paging-structure caches must
 * be flushed too before vmmu_pt_free_deferred(). on_leaf, when set, is
 * told every leaf the operation changed (old and new value, at its level;
 * 0 for none): a split reports its large leaf going (new 0) and each of
 * its 512 children coming (old 0), a merge the reverse. split_start,
 * split_end (equal: none) bound the large leaves the operation split,
 * whose children inherited their A/D flags: a log-dirty harvest that
 * relies on a D flag being set from 0 (PML) must clear them.
 */
struct vmmu_pt_change {
	bool flush;
	bool tables_unlinked;
	uint64_t start, end;
	uint64_t split_start, split_end;
	uint64_t leaves_changed;
	void (*on_leaf)(void *ctx, uint64_t addr, unsigned level, uint64_t old,
			uint64_t new_entry);
	void *ctx;
};

/*
 * Recalculation of one leaf under a marked entry (or named by
 * vmmu_pt_mark_recalc): store the new leaf in *out (same layout as old, the
 * address unchanged) and return 0, or return VMMU_PT_RECALC_SPLIT to have
 * a large leaf split first (its range is not uniform), or a negative
 * vmmu_err to stop. addr is the first address the leaf maps.
 */
#define VMMU_PT_RECALC_SPLIT 1
typedef int (*vmmu_pt_recalc_fn)(void *ctx, uint64_t addr, unsigned level,
				 uint64_t old, uint64_t *out);

int vmmu_pt_init(struct vmmu_pt *pt, const struct vmmu_pt_format *fmt,
		 const void *ctx, const struct vmmu_platform *plat,
		 unsigned levels, unsigned max_leaf_level);
/* Free every table page, deferred ones included (not the mapped pages). */
void vmmu_pt_destroy(struct vmmu_pt *pt);

/*
 * Map [addr, addr+size) to [page, page+size) with leaves of the given
 * 4K-layout attributes, using the largest leaves that alignment and
 * max_leaf_level allow. Existing mappings in the range are replaced (their
 * subtrees deferred); large leaves straddling the edges are split first.
 */
int vmmu_pt_map(struct vmmu_pt *pt, uint64_t addr, hpa_t page, uint64_t size,
		uint64_t attrs, struct vmmu_pt_change *chg);
/* Remove mappings in [addr, addr+size); splits straddling large leaves. */
int vmmu_pt_unmap(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
		  struct vmmu_pt_change *chg);
/*
 * On every present leaf in [addr, addr+size): e = (e & ~clear) | set, with
 * clear and set in the 4K layout (converted for large leaves). Permission
 * and type changes are this. clear/set may not touch address bits. A
 * result the hardware would not accept, or one that is not present, is
 * refused with VMMU_EINVAL before anything changes: vmmu has no "protect
 * to no access" (a backend traps accesses through its p2m type, or
 * unmaps).
 */
int vmmu_pt_update(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
		   uint64_t clear, uint64_t set, struct vmmu_pt_change *chg);
/*
 * The leaf mapping addr: *entry and *level, and 0; VMMU_ENOENT when
 * nothing maps it (*level then tells where the walk stopped). A marked
 * entry on the way is looked through.
 */
int vmmu_pt_lookup(const struct vmmu_pt *pt, uint64_t addr, uint64_t *entry,
		   unsigned *level);
/*
 * Replace the large leaf at level covering addr by a table of 512 leaves
 * one level down that inherit every attribute bit (A, D, memory type,
 * software bits, PAT, G, protection key) and map the same range.
 */
int vmmu_pt_split_large_leaf(struct vmmu_pt *pt, uint64_t addr,
			     unsigned level, struct vmmu_pt_change *chg);
/*
 * Replace the table under the entry at level covering addr by one large
 * leaf when its 512 entries are present leaves with contiguous output
 * addresses aligned to the large size and equal attributes (the format's
 * merge_or_mask bits are ORed). VMMU_ENOENT when they are not.
 */
int vmmu_pt_merge(struct vmmu_pt *pt, uint64_t addr, unsigned level,
		  struct vmmu_pt_change *chg);

/*
 * Call fn for every present leaf in [addr, addr+size), in address order,
 * with the range the leaf maps clipped to the request. fn returning non-
 * zero stops the walk and is returned.
 */
typedef int (*vmmu_pt_leaf_fn)(void *ctx, uint64_t addr, uint64_t size,
			       unsigned level, uint64_t entry);
int vmmu_pt_for_each_leaf(const struct vmmu_pt *pt, uint64_t addr,
			  uint64_t size, vmmu_pt_leaf_fn fn, void *ctx);
/*
 * Atomically clear bits (4K layout, e.g. EPT D or x86 D) in every present
 * leaf in [addr, addr+size) and call fn for each leaf that had any of them
 * set, with the range it maps (clipped). A leaf straddling the edges is not
 * split: its bits are cleared and its whole clipped range reported.
 */
int vmmu_pt_test_and_clear(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
			   uint64_t bits, vmmu_pt_leaf_fn fn, void *ctx,
			   struct vmmu_pt_change *chg);

/*
 * Lazy recalculation. mark_recalc marks the highest non-leaf entries that
 * [addr, addr+size) covers whole, so the next hardware walk through each
 * traps (EPT misconfiguration, #NPF, shadow #PF); leaves it meets on the
 * way (large leaves at the top) are recalculated at once with fn. For the
 * whole address space that is the root's entries only: the cost does not
 * depend on what is mapped.
 *
 * recalc resolves every marker on the path to addr, top-down: a marked
 * entry's table has each leaf recalculated by fn and each non-leaf entry
 * marked, and only then is the marker removed (one table per level). Each
 * table is resolved all or nothing: an error from fn (returned as is) or
 * VMMU_ENOMEM leaves it and its marker unchanged, so every leaf is
 * recalculated exactly once however often a recalc stops. Returns 0 when
 * the path is clean. mark_recalc skips subtrees already marked (they are
 * pending anyway).
 */
int vmmu_pt_mark_recalc(struct vmmu_pt *pt, uint64_t addr, uint64_t size,
			vmmu_pt_recalc_fn fn, void *ctx,
			struct vmmu_pt_change *chg);
int vmmu_pt_recalc(struct vmmu_pt *pt, uint64_t addr, vmmu_pt_recalc_fn fn,
		   void *ctx, struct vmmu_pt_change *chg);

/*
 * Free the table pages unlinked so far. Call only after an invalidation
 * (of TLBs and paging-structure caches) that was issued after they were
 * unlinked. Returns the number of pages freed.
 */
size_t vmmu_pt_free_deferred(struct vmmu_pt *pt);

/* The address the leaf e at level maps (its low attribute bits dropped). */
static inline uint64_t vmmu_pt_leaf_addr(const struct vmmu_pt *pt, uint64_t e,
					 unsigned level)
{
	return e & pt->fmt->addr_mask & ~(vmmu_pt_level_size(level) - 1);
}

/* The non-address bits of leaf e at level, in the 4K layout. */
uint64_t vmmu_pt_leaf_attrs(const struct vmmu_pt *pt, uint64_t e,
			    unsigned level);

#endif
