/* SPDX-License-Identifier: MIT */
/*
 * The shadow-paging backend's own API (the backend itself is
 * vmmu_backend_shadow in vmmu/backend.h; docs/shadow.md describes it).
 *
 * Pool: every shadow table page comes from a fixed per-VM pool. Its size
 * defaults to 256 pages (1 MiB) per vCPU plus 2 pages (8 KiB) per MiB of
 * guest RAM and ROM, as Xen sizes its shadow pool, and follows vCPUs and
 * slots as they are added; vmmu_shadow_set_pool_pages() fixes it instead.
 * Pages are taken from the platform on demand up to that size; beyond it
 * (or when the platform has no page) the least recently used unpinned
 * shadow is recycled, so exhaustion never fails the guest. A pool below
 * VMMU_SHADOW_POOL_MIN(vCPUs) pages is refused: that is what the per-vCPU
 * roots (pinned) and one fault's path (five levels) need at most.
 */
#ifndef VMMU_SHADOW_H
#define VMMU_SHADOW_H

#include "vmmu/backend.h"
#include "vmmu/vm.h"

#define VMMU_SHADOW_POOL_MIN(nvcpus) (8U + 4U * (unsigned)(nvcpus))

/*
 * Fix the pool at pages (0: back to the default). VMMU_EINVAL when below
 * the minimum for the VM's vCPUs (at least one) or the VM has another
 * backend. Shrinking below the pages in use recycles down lazily: pages
 * beyond the size are not taken again once recycled.
 */
int vmmu_shadow_set_pool_pages(struct vmmu_vm *vm, uint64_t pages);

struct vmmu_shadow_stats {
	uint64_t pool_pages;        /* the pool's size now */
	uint64_t pages_allocated;   /* taken from the platform so far */
	uint64_t pages_in_use;      /* holding a shadow (roots included) */
	uint64_t shadows_created;
	uint64_t recycled;          /* shadows freed to make room (LRU) */
	uint64_t fills;             /* shadow #PFs resolved by a fill */
	uint64_t guest_faults;      /* shadow #PFs that were the guest's own */
	uint64_t emulated_writes;   /* guest page-table writes emulated */
	uint64_t other_emulated;    /* other writes emulated (CR0.WP = 0) */
	uint64_t revalidated;       /* shadow entries recomputed on a write */
	uint64_t write_protected;   /* leaves made read-only: frame became a PT */
	uint64_t unshadowed;        /* pages unshadowed (flood, misaligned) */
	uint64_t root_switches;     /* CR3 loads and role changes */
	uint64_t drops;             /* whole-pool drops (p2m or slot change) */
	uint64_t mmio;              /* accesses handled as MMIO */
	uint64_t oos_marked;        /* L1s let out of sync (writable) */
	uint64_t oos_resyncs;       /* out-of-sync L1s brought back */
	uint64_t oos_entries;       /* entries that differed on a resync */
	uint64_t pv_updates;        /* PV entries written after validation */
	uint64_t pv_validated;      /* PV tables validated (type taken) */
	uint64_t pv_refused;        /* trapped writes to PV tables refused */
	uint64_t ld_write_faults;   /* log-dirty: write faults that marked */
	uint64_t ld_protected;      /* log-dirty: leaves made read-only */
	uint64_t ld_rearmed;        /* log-dirty: pages re-armed after a clean */
	uint64_t ld_drops;          /* log-dirty: every leaf dropped (policy) */
	uint64_t prefetched;        /* leaves installed by a neighbour's fill */
};

/*
 * Log-dirty (vmmu/dirty.h, shadow_dirty.c): how dirty_log_start and
 * dirty_log_rearm make pages trap again. RMAP (the default): start
 * write-protects every writable leaf of the pool, a clean write-protects
 * the reported pages' leaves through the reverse map. DROP: both make
 * every leaf of the pool not present (what dropping every shadow costs;
 * for measurement). VMMU_EINVAL when vm is not a shadow VM.
 */
enum vmmu_shadow_ld { VMMU_SHADOW_LD_RMAP = 0, VMMU_SHADOW_LD_DROP };
int vmmu_shadow_set_logdirty(struct vmmu_vm *vm, enum vmmu_shadow_ld policy);

/*
 * Policy: let a guest page table with a single, level-1 shadow go out of
 * sync (writable to the guest, no exit per PTE write) until the next MOV
 * to CR3, INVLPG or INVPCID, which diff it against a snapshot and
 * re-propagate the changed entries. Off by default; turning it off
 * resyncs every out-of-sync page. VMMU_EINVAL when vm is not a shadow VM.
 */
int vmmu_shadow_set_oos(struct vmmu_vm *vm, bool on);

/*
 * Policy: on a fill of a shadow leaf, also propagate the not-present
 * entries of its naturally aligned group of n (2..512, a power of two)
 * from the guest's entries as they are, exactly as their own fills would
 * (a guest A clear stays not present, a D clear read-only), frames the VM
 * has not backed yet excepted (they fault and fill on their own). 0 or 1:
 * off, the default. VMMU_EINVAL for another n or a VM that is not a
 * shadow VM. Counted in vmmu_shadow_stats()->prefetched.
 */
int vmmu_shadow_set_prefetch(struct vmmu_vm *vm, unsigned n);

/*
 * For a VMM that runs the guest on a real CPU (shadow_vmm.c): the
 * host-physical address of the shadow root the CPU's CR3 must hold while
 * vcpu runs (the VMCS guest CR3, the VMCB CR3), reloaded first when the
 * guest's CR3 or paging mode changed since. Read it again before every VM
 * entry: a MOV to CR3 (vmmu_vcpu_set_cr), a mode change or an exit may
 * move it. VMMU_EINVAL when vcpu is not on a shadow VM.
 */
int vmmu_shadow_root(struct vmmu_vcpu *vcpu, hpa_t *root);

/*
 * A #PF the VMM intercepted while vcpu ran on the shadow root: the error
 * code and the faulting linear address (VMX: VM-exit interruption error
 * code and exit qualification; SVM: EXITINFO1 and EXITINFO2). *res says
 * what to do: RETRY (resume the guest), INJECT (deliver res->fault, the
 * guest's own #PF with its error code and CR2), or TO_VMM with a reason:
 * MMIO and ROM_WRITE as for EPT/NPT (res->gpa), UNHANDLED for a write the
 * backend would have had to emulate (a guest page-table write it could
 * neither take out of sync nor unshadow, a supervisor write under guest
 * CR0.WP = 0): the VMM must perform that instruction itself.
 */
int vmmu_shadow_handle_pf(struct vmmu_vcpu *vcpu, gva_t cr2,
			  uint32_t error_code, struct vmmu_exit_result *res);

/* 0 and *out, or VMMU_EINVAL when vm is not a shadow VM. */
int vmmu_shadow_stats(const struct vmmu_vm *vm, struct vmmu_shadow_stats *out);

/*
 * Check the backend's invariants (for tests and debugging): every present
 * shadow leaf is on the reverse map of the host page it maps and every
 * link on its child's parent list; no leaf that maps a guest page-table
 * frame is writable; every shadow of a guest table equals the propagation
 * of the guest's current entries. 0, or VMMU_EDEAD with *why set (the VM
 * is not killed). Takes the VM lock (and so may run while vCPU threads
 * do); vmmu_shadow_set_oos takes it too.
 */
int vmmu_shadow_check(struct vmmu_vm *vm, const char **why);

/*
 * Call fn for every present leaf of every shadow in the pool (host page it
 * maps, whether writable), for isolation tests. fn returning non-zero
 * stops and is returned.
 */
typedef int (*vmmu_shadow_leaf_fn)(void *ctx, hpa_t hpa, bool writable);
int vmmu_shadow_for_each_leaf(const struct vmmu_vm *vm, vmmu_shadow_leaf_fn fn,
			      void *ctx);

/*
 * The PV interface (shadow_pv.c; docs/shadow.md, "PV interface"), for a
 * guest that edits its 4-level page tables through vmmu as Xen's PV
 * guests do. Every frame has a type with a reference count: none,
 * writable (mapped R/W by validated L1 entries) or a page table of level
 * 1..4 (linked by validated entries of the level above, or pinned). A
 * frame holds one type at a time: a page-table page is never mapped
 * writable, by a validated entry or by a shadow, and a pinned table can
 * therefore not be made writable.
 */
enum vmmu_pv_type {
	VMMU_PV_NONE = 0,
	VMMU_PV_L1 = 1, VMMU_PV_L2, VMMU_PV_L3, VMMU_PV_L4,
	VMMU_PV_WRITABLE,
};

struct vmmu_pv_update {
	uint64_t ptr;               /* gpa of an 8-byte entry of a table */
	uint64_t val;               /* its new value */
};

/*
 * Apply req[0..count) in order, each validated: ptr must be an aligned
 * entry of a frame with a table type (pinned, or linked from one); val,
 * when present, may map only a frame the VM owns (RAM, ROM, MMIO) or was
 * granted (grant or foreign mapping), writable only for RAM or a
 * read-write grant and only if the frame is no page table; an L2..L4
 * entry must link RAM of the VM that validates as a table of the level
 * below (large pages are refused). Stops at the first refused entry:
 * returns 0, or that entry's error (VMMU_EINVAL: not a table entry or a
 * large page; VMMU_EFAULT: a frame that is not the VM's or not writable
 * to it; VMMU_EBUSY: a type conflict, e.g. a table mapped writable);
 * *done (may be NULL) is the number of entries applied before it.
 */
int vmmu_shadow_pv_mmu_update(struct vmmu_vm *vm,
			      const struct vmmu_pv_update *req, unsigned count,
			      unsigned *done);

/*
 * Pin the table at gpa (4 KiB aligned, RAM) as level 1..4: validates it
 * and, recursively, every table it links, keeping the types until unpin.
 * VMMU_EEXIST when already pinned; otherwise as mmu_update's errors, and
 * then nothing is left changed. Unpin: VMMU_ENOENT when not pinned.
 */
int vmmu_shadow_pv_pin(struct vmmu_vm *vm, gpa_t table, unsigned level);
int vmmu_shadow_pv_unpin(struct vmmu_vm *vm, gpa_t table);

struct vmmu_pv_frame_info {
	enum vmmu_pv_type type;
	uint32_t count;             /* references to that type */
	bool pinned;
};
int vmmu_shadow_pv_frame(struct vmmu_vm *vm, gpa_t frame,
			 struct vmmu_pv_frame_info *out);

#endif
