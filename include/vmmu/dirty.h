/* SPDX-License-Identifier: MIT */
/*
 * The VM's dirty log: one bit per 4 KiB guest page, owned by the VM (not
 * by its backend), so that it survives a change of backend and every
 * backend reports into the same place.
 *
 * Life: vmmu_dirty_enable over a gfn range, then any number of peeks and
 * cleans (read-and-reset) of sub-ranges, then vmmu_dirty_disable. While
 * it is on, every write to a page of the range is reported by a peek or a
 * clean: writes by the guest through the access path (with write
 * protection a backend makes a page whose bit is clear trap on its first
 * write: the dirty_log_* hooks of backend.h, the handler calls
 * vmmu_dirty_mark; with A/D or PML the hardware records the write and
 * dirty_log_sync moves it into the log before each peek and clean), and
 * writes vmmu makes itself (vmmu_vm_written: emulator stores, the walker's A/D
 * updates, vmmu_vm_write_gpa by the VMM).
 *
 * The guarantee, with vCPU threads writing while another thread cleans:
 * a write that lands during clean number k is reported by clean k or by
 * clean k+1, never by neither; and when clean k reports a page, a copy of
 * the page taken after clean k returns holds every write that clean k+1
 * does not report. core/dirty.c states the ordering argument.
 *
 * Memory is sparse: a directory entry per GiB of the range (allocated on
 * enable: 8 bytes per GiB), a 4 KiB table per GiB where a page was
 * dirtied, a 64-byte bitmap per 2 MiB where a page was dirtied. A 1 TiB
 * guest costs 8 KiB on enable. An allocation that fails while marking
 * does not lose the write: the whole 2 MiB (or 1 GiB) is recorded as dirty
 * without memory, and is reported in full (a clean resets it); the
 * failures are counted (stats.coarse_marks).
 *
 * Errors: VMMU_EINVAL (NULL, empty or wrapping range), VMMU_EEXIST
 * (enable while on), VMMU_ENOENT (peek, clean or disable while off),
 * VMMU_EFAULT (enable over a range without RAM, peek or clean of a range
 * not inside the logged range), VMMU_EBUSY (disable while a peek or clean
 * runs, a peek or clean while a disable runs), VMMU_ENOMEM, VMMU_EDEAD,
 * or a backend hook's error. A call that fails changes nothing.
 */
#ifndef VMMU_DIRTY_H
#define VMMU_DIRTY_H

#include "vmmu/vm.h"
#include "vmmu/detect.h"

/*
 * Start logging [gfn, gfn + npages): the log is empty, the backend's
 * dirty_log_start runs (write protection, lazily where it can), then every
 * vCPU's TLB is flushed (vmmu_vm_tlb_flush_sync), so no translation made
 * before logging lets a write through unlogged. A copy of memory taken
 * after this returns is the base that later cleans complete.
 * The range must lie below 2^guest_maxphyaddr and contain RAM.
 */
int vmmu_dirty_enable(struct vmmu_vm *vm, uint64_t gfn, uint64_t npages);
/* vmmu_dirty_enable over the span of the VM's RAM slots. */
int vmmu_dirty_enable_ram(struct vmmu_vm *vm);
/*
 * Stop logging and free the log: the backend's dirty_log_stop runs, then
 * the call waits for accesses and marks in flight before freeing.
 */
int vmmu_dirty_disable(struct vmmu_vm *vm);
/* The logged range: 0, or VMMU_ENOENT when off. */
int vmmu_dirty_range(struct vmmu_vm *vm, uint64_t *gfn, uint64_t *npages);

/*
 * Peek: bit i of bitmap (64-bit words, bit i % 64 of word i / 64) is set
 * when page gfn + i is dirty; nothing is reset. Clean: the same, and the
 * reported bits are reset atomically (a bit set concurrently is either
 * reported now and reset, or kept for the next clean); then the backend
 * re-arms write tracking for the reported pages (dirty_log_rearm) and
 * every vCPU's TLB is flushed with vmmu_vm_tlb_flush_sync. bitmap may be
 * NULL for clean (discard); ndirty (may be NULL) gets the count.
 * Before either, the backend's dirty_log_sync moves hardware dirty state
 * (A/D bits, PML buffers) into the log. bitmap needs (npages + 63) / 64
 * words; bits past npages in the last word are cleared.
 */
int vmmu_dirty_peek(struct vmmu_vm *vm, uint64_t gfn, uint64_t npages,
		    uint64_t *bitmap, uint64_t *ndirty);
int vmmu_dirty_clean(struct vmmu_vm *vm, uint64_t gfn, uint64_t npages,
		     uint64_t *bitmap, uint64_t *ndirty);

/*
 * For backends and the core: pages [gfn, gfn + npages) were written (or
 * are about to be made writable). Lock-free, callable from any thread;
 * pages outside the logged range, or with the log off, are ignored.
 * Never fails: see the coarse fallback above.
 */
void vmmu_dirty_mark(struct vmmu_vm *vm, uint64_t gfn, uint64_t npages);
/*
 * For backends harvesting D bits (a vmmu_pt_leaf_fn, core/pgtable.h;
 * ctx is the VM): a leaf at level whose D was set, reported by
 * vmmu_pt_test_and_clear clipped to addr/size, is marked whole, since the
 * one D covers every page it maps.
 */
int vmmu_dirty_mark_leaf(void *ctx, uint64_t addr, uint64_t size,
			 unsigned level, uint64_t entry);
/*
 * For a hardware side inside an access: may a write to gfn go through
 * without an exit? True when the log is off, gfn is not logged, or its bit
 * is set.
 */
bool vmmu_dirty_write_ok(struct vmmu_vm *vm, uint64_t gfn);

/*
 * The variant (docs/logdirty.md, "Variants"), chosen while the log is off
 * and used by the next enable:
 *  - VMMU_DIRTY_WRITE_PROTECT: every backend; a page traps on its first
 *    write after enable or after the clean that reported it;
 *  - VMMU_DIRTY_AD_BITS: the CPU sets D in the second-level leaf (EPT
 *    A/D, NPT nested D bits); peek and clean harvest and clear D over
 *    their range first; a dirty large leaf reports all its pages;
 *  - VMMU_DIRTY_PML: EPT A/D plus the page-modification log; peek and
 *    clean drain every vCPU's log first (and the PML-full exit does);
 *  - VMMU_DIRTY_AUTO: PML, else A/D, else write protection, whichever
 *    the backend's profile has first.
 * VMMU_ENOTSUP (nothing changed) when the backend or its profile lacks
 * the variant: a backend without the dirty_log_mode hook (direct,
 * shadow) has write protection only. VMMU_EBUSY while the log is on.
 * Until a choice is made for the VM's current backend, AUTO applies.
 */
int vmmu_dirty_set_mode(struct vmmu_vm *vm, enum vmmu_dirty_log mode);
/* The effective variant: the one in use while on, else the next one. */
enum vmmu_dirty_log vmmu_dirty_mode(struct vmmu_vm *vm);
/*
 * Options of the variant (0 by default). VMMU_DIRTY_LOG_2M: write
 * protection at 2 MiB for large leaves: the first logged write to a page
 * of a 2 MiB (or 1 GiB) leaf marks the 512 pages of its 2 MiB and makes
 * them writable as one leaf, instead of splitting the leaf to log the one
 * 4 KiB page (EPT and NPT; write protection only, VMMU_ENOTSUP otherwise).
 * The mode requested last (AUTO by default) is chosen again with them.
 */
#define VMMU_DIRTY_LOG_2M (1U << 0)
int vmmu_dirty_set_flags(struct vmmu_vm *vm, unsigned flags);
unsigned vmmu_dirty_flags(struct vmmu_vm *vm);

struct vmmu_dirty_stats {
	bool enabled;
	uint64_t gfn, npages;       /* the logged range */
	uint64_t marks;             /* vmmu_dirty_mark pages (with repeats) */
	uint64_t tables, leaves;    /* 1 GiB tables, 2 MiB bitmaps held */
	uint64_t bytes;             /* bookkeeping bytes held */
	uint64_t coarse_marks;      /* allocations failed: recorded coarsely */
	uint64_t peeks, cleans;
	uint64_t rearms;            /* dirty_log_rearm calls */
};
int vmmu_dirty_stats(struct vmmu_vm *vm, struct vmmu_dirty_stats *out);

#endif
