/* SPDX-License-Identifier: MIT */
/*
 * VMs, vCPUs and the guest-physical memory map.
 *
 * A VM owns everything about itself: its backend, its memory slots, its
 * settings. There are no process-wide settings, so an EPT VM and a shadow
 * VM can run side by side in one process.
 */
#ifndef VMMU_VM_H
#define VMMU_VM_H

#include "vmmu/types.h"
#include "vmmu/platform.h"
#include "vmmu/walk.h"

#include <stdatomic.h>

#define VMMU_MAX_SLOTS 64
#define VMMU_MAX_VCPUS 64

enum vmmu_backend_kind {
	VMMU_BACKEND_NONE = 0,  /* no second-level translation (core only) */
	VMMU_BACKEND_EPT,
	VMMU_BACKEND_NPT,
	VMMU_BACKEND_SHADOW,
};

enum vmmu_mem_type {
	VMMU_MEM_RAM,   /* read/write/execute, host-backed */
	VMMU_MEM_ROM,   /* read/execute, host-backed; writes exit */
	VMMU_MEM_MMIO,  /* not backed; every access exits to a device model */
};

/* vmmu_slot_desc.memtype / vmmu_slot.memtype: the backend's default. */
#define VMMU_MEMTYPE_DEFAULT 0xff

/*
 * A contiguous guest-physical range of one type.
 *
 * RAM and ROM are backed lazily: a page gets host memory on first touch
 * (vmmu_vm_ram_lookup with populate, vmmu_vm_write_gpa, a walker A/D
 * update), in the largest naturally aligned block (1 GiB, 2 MiB, else
 * 4 KiB) that lies inside the slot, is not above max_order and that the
 * platform grants. Untouched memory reads as zeros. The bookkeeping
 * (core/vm.c) is sparse: a directory entry per GiB of the slot's span, and
 * tables of 512 entries only where smaller blocks were needed.
 * A pointer to a slot is valid until the next add or remove of a slot.
 */
struct vmmu_slot {
	gpa_t base;
	uint64_t size;          /* multiple of 4 KiB */
	enum vmmu_mem_type type;
	uint8_t max_order;      /* largest host block order used (<= 18) */
	uint8_t memtype;        /* memory-type override, VMMU_MEMTYPE_DEFAULT */
	uint64_t *ram_dir;      /* RAM/ROM: one entry per GiB; NULL for MMIO */
	uint64_t ram_dir_len;
	uint64_t pages_populated;   /* 4 KiB pages with host memory */
	uint64_t bookkeeping_bytes; /* bytes of platform zalloc held */
};

/* How to add a slot (vmmu_vm_add_slot_ex). */
struct vmmu_slot_desc {
	gpa_t base;
	uint64_t size;          /* multiple of 4 KiB */
	enum vmmu_mem_type type;
	/*
	 * Largest order of host block to back the slot with:
	 * VMMU_ORDER_4K (0) only single pages, VMMU_ORDER_2M (9), up to
	 * VMMU_ORDER_1G (18). Values in between select the largest of 0, 9,
	 * 18 not above them. vmmu_vm_add_slot uses VMMU_ORDER_1G.
	 */
	uint8_t max_order;
	/*
	 * Memory type the backends should give the slot's leaves (x86 type
	 * encoding: 0 UC, 1 WC, 4 WT, 5 WP, 6 WB), or VMMU_MEMTYPE_DEFAULT.
	 * vmmu only stores it.
	 */
	uint8_t memtype;
	bool eager;             /* back every page now, not on first touch */
};

/* The host memory backing one guest-physical address. */
struct vmmu_ram_page {
	hpa_t hpa;              /* of the byte at the gpa looked up */
	gpa_t gpa;              /* first gpa of the host block holding it */
	unsigned order;         /* the block: 2^order pages, naturally aligned */
	const struct vmmu_slot *slot;
};

/* Per-vCPU counters. */
struct vmmu_vcpu_stats {
	uint64_t accesses;
	uint64_t tlb_hits;
	uint64_t tlb_misses;
	uint64_t guest_walk_refs;   /* guest page-table references */
	uint64_t nested_walk_refs;  /* EPT/NPT references (2-D walks) */
	uint64_t guest_faults;      /* #PF/#GP delivered to the guest */
	uint64_t exits;             /* VM exits of any kind */
	/* access path */
	uint64_t exits_by_kind[8];  /* by enum vmmu_exit_kind (backend.h) */
	uint64_t retries;           /* exits after which the access retried */
	uint64_t emulated;          /* accesses completed by an exit handler */
	uint64_t emulated_insns;    /* vmmu_vcpu_emulate calls */
	uint64_t to_vmm;            /* accesses returned to the VMM */
	uint64_t pwc_walks;         /* guest walks started from a PWC entry */
	uint64_t cr_writes, invlpg, invpcid;
};

struct vmmu_vm;
struct vmmu_tlb;
struct vmmu_exit;
struct vmmu_op;
struct vmmu_exit_result;

struct vmmu_vcpu {
	struct vmmu_vm *vm;
	unsigned id;
	struct vmmu_paging_state paging;
	struct vmmu_vcpu_stats stats;
	void *backend_state;        /* owned by the VM's backend */
	/* access path (include/vmmu/access.h) */
	struct vmmu_tlb *tlb;       /* TLB/PWC model (core/tlb.h) or NULL */
	uint16_t tlb_vpid;          /* VPID/ASID the backend runs it with */
	uint8_t tlb_ctx;            /* context id of its EPTP/nCR3, 0: none */
	int (*emulate)(void *ctx, struct vmmu_vcpu *vcpu,
		       const struct vmmu_exit *exit, const struct vmmu_op *op,
		       struct vmmu_exit_result *res);
	void *emulate_ctx;
	/*
	 * Inside vmmu_vcpu_access: odd while the vCPU performs an access
	 * (its "guest mode"), even outside; changed only by the vCPU's own
	 * thread. A VM-wide TLB flush (vmmu_vm_tlb_flush_sync) waits for
	 * the accesses in flight to end, as a shootdown IPI waits for the
	 * CPUs to leave guest mode.
	 */
	atomic_uint run_seq;
	unsigned tlb_flush_seen;    /* vm->tlb_flush_gen last applied */
	unsigned tlb_full_seen;     /* vm->tlb_full_gen last applied */
	/*
	 * Invalidations other threads posted for this vCPU's TLB
	 * (vmmu_vm_tlb_invalidate, access.h), run by the vCPU itself when it
	 * next enters an access, as a shootdown IPI's handler runs on its
	 * target CPU. inv_lock guards inv_n, inv_overflow and inv; a full
	 * mailbox becomes a flush of everything (a superset of any
	 * invalidation is allowed).
	 */
	atomic_flag inv_lock;
	uint8_t inv_n;
	bool inv_overflow;
	struct vmmu_inv_req {
		void (*fn)(struct vmmu_tlb *tlb, void *arg);
		uint64_t arg[4];
	} inv[8];
	/*
	 * The TLB-hit path's precondition, kept by the core: the platform's
	 * linear_base while the vCPU has a TLB, its VM a backend and a
	 * linear host mapping and is alive; NULL otherwise.
	 */
	uint8_t *hit_base;
};

struct vmmu_backend_ops;
struct vmmu_p2m;
struct vmmu_dirty_map;

struct vmmu_vm {
	struct vmmu_platform platform;
	enum vmmu_backend_kind backend;
	const struct vmmu_backend_ops *ops;
	void *backend_state;
	struct vmmu_slot slots[VMMU_MAX_SLOTS];
	unsigned nslots;            /* sorted by base, non-overlapping */
	struct vmmu_vcpu *vcpus[VMMU_MAX_VCPUS];
	unsigned nvcpus;
	uint8_t guest_maxphyaddr;
	bool dead;                  /* set on an internal invariant violation */
	const char *dead_reason;
	/* access path (include/vmmu/access.h) */
	int (*mmio)(void *ctx, gpa_t gpa, bool write, void *data,
		    unsigned size);
	void *mmio_ctx;
	atomic_flag lock;           /* the hypervisor side: vmmu_vm_lock */
	/*
	 * Under the lock: the vCPU whose exit or guest event (MOV to CR,
	 * INVLPG) a backend hook is handling, NULL when a VMM thread holds
	 * the lock; the initiator a hook passes to vmmu_vm_tlb_invalidate.
	 */
	struct vmmu_vcpu *handler_vcpu;
	struct vmmu_p2m *p2m;       /* p2m types and grants (vmmu/p2m.h) */
	/*
	 * Bumped by every TLB request for other vCPUs: a VM-wide flush
	 * (tlb_full_gen bumped first) or a posted invalidation (in the
	 * target's mailbox first). A vCPU that sees it change on access entry
	 * applies what is there.
	 */
	atomic_uint tlb_flush_gen;
	atomic_uint tlb_full_gen;
	/* the dirty log (include/vmmu/dirty.h, core/dirty.c) */
	_Atomic(struct vmmu_dirty_map *) dirty_log;
	atomic_uint dirty_users;        /* markers inside vmmu_dirty_mark */
	atomic_uint dirty_harvesters;   /* peeks and cleans in progress */
	atomic_bool dirty_stopping;     /* a disable is in progress */
	/* the variant chosen for dirty_mode_ops (vmmu_dirty_set_mode) */
	const struct vmmu_backend_ops *dirty_mode_ops;
	uint8_t dirty_mode_req, dirty_mode, dirty_flags;
};

/* Create a VM with no backend attached; *out is owned by the caller. */
int vmmu_vm_create(const struct vmmu_platform *platform,
		   struct vmmu_vm **out);
void vmmu_vm_destroy(struct vmmu_vm *vm);

/* Attach a backend (see core/backend.h) before adding vCPUs. */
int vmmu_vm_set_backend(struct vmmu_vm *vm, enum vmmu_backend_kind kind,
			const struct vmmu_backend_ops *ops);

/*
 * Add a slot: base and size 4 KiB-aligned, inside guest_maxphyaddr, not
 * overlapping another slot. 0, VMMU_EINVAL, VMMU_EEXIST, VMMU_ENOSPC,
 * VMMU_ENOMEM (eager population failed: nothing added), VMMU_EDEAD, or the
 * backend's slot_added error (the slot is removed again).
 * vmmu_vm_add_slot is add_slot_ex with max_order VMMU_ORDER_1G, the
 * default memory type, lazy population.
 */
int vmmu_vm_add_slot(struct vmmu_vm *vm, gpa_t base, uint64_t size,
		     enum vmmu_mem_type type);
int vmmu_vm_add_slot_ex(struct vmmu_vm *vm, const struct vmmu_slot_desc *desc);
/* Remove the slot starting at base and free all its host memory. */
int vmmu_vm_remove_slot(struct vmmu_vm *vm, gpa_t base);
/* The slot containing gpa, or NULL. */
const struct vmmu_slot *vmmu_vm_find_slot(const struct vmmu_vm *vm,
					  gpa_t gpa);
/*
 * The host memory backing gpa: the hpa of the byte at gpa, and the host
 * block containing it (first gpa, order), so that a backend can map it with
 * one leaf. populate: back the page on first touch (the block is zero).
 * Returns 0, VMMU_ENOENT (no slot, or not populated and !populate),
 * VMMU_EFAULT (MMIO slot), VMMU_ENOMEM. Population is serialized by the
 * caller (the VM lock); a lookup without populate may run concurrently with
 * it (entries are published with release stores), not with slot removal.
 */
int vmmu_vm_ram_lookup(struct vmmu_vm *vm, gpa_t gpa, bool populate,
		       struct vmmu_ram_page *out);
/*
 * Host address of gpa without populating: 0, VMMU_ENOENT (no slot, or a
 * page never touched) or VMMU_EFAULT (MMIO).
 */
int vmmu_vm_gpa_to_hpa(const struct vmmu_vm *vm, gpa_t gpa, hpa_t *out);

/*
 * Copy to/from guest-physical RAM/ROM (may cross pages and slots). A read
 * of untouched memory gives zeros and populates nothing. A write populates
 * what it touches and is all or nothing: a range with a hole (VMMU_ENOENT),
 * an MMIO part (VMMU_EFAULT) or a failed allocation (VMMU_ENOMEM) changes
 * no byte (pages already populated for it stay populated, still zero).
 * Writes to ROM are allowed (the VMM loads firmware this way). A successful
 * write calls vmmu_vm_written once for the whole range.
 */
int vmmu_vm_read_gpa(const struct vmmu_vm *vm, gpa_t gpa, void *buf,
		     size_t len);
int vmmu_vm_write_gpa(struct vmmu_vm *vm, gpa_t gpa, const void *buf,
		      size_t len);
/*
 * A struct vmmu_gmem over the VM's RAM/ROM, for the guest walker: read as
 * vmmu_vm_read_gpa; cmpxchg populates RAM on first touch, refuses ROM and
 * MMIO with VMMU_EFAULT, and calls vmmu_vm_written after a swap.
 */
void vmmu_vm_gmem(struct vmmu_vm *vm, struct vmmu_gmem *out);
/*
 * The VM's memory as vmmu_vm_gmem gives it, remembering the first access
 * that failed (a guest page-table read or A/D update in MMIO or a hole):
 * a hardware-side walk turns that into an exit for failed. Use probe->mem.
 */
struct vmmu_gmem_probe {
	struct vmmu_gmem mem;           /* what the walker is given */
	struct vmmu_gmem vm_mem;        /* vmmu_vm_gmem underneath */
	gpa_t failed;
	int failed_rc;                  /* 0: nothing failed */
};
void vmmu_vm_gmem_probe(struct vmmu_vm *vm, struct vmmu_gmem_probe *out);
/*
 * vmmu itself wrote guest memory [gpa, gpa+len): mark the VM's dirty log
 * (vmmu/dirty.h) and tell the backend (ops->gpa_written), so log-dirty and
 * shadow write protection see it.
 * Every write path in vmmu (write_gpa, the walker's A/D updates, emulator
 * stores) calls it after the bytes landed.
 */
void vmmu_vm_written(struct vmmu_vm *vm, gpa_t gpa, size_t len);

int vmmu_vcpu_create(struct vmmu_vm *vm, struct vmmu_vcpu **out);

/*
 * Flush every vCPU's TLB model and wait: each vCPU empties its own TLB at
 * the start of its next access, and the call returns once every access
 * that was in flight when it began has ended (a shootdown waits for the
 * CPUs to leave guest mode). After it returns, no vCPU uses a translation
 * made before the call. Safe while vCPU threads run, with or without the
 * VM lock, and from exit handlers and device callbacks (an exit leaves
 * guest mode, and no vCPU waits for the VM lock inside an access); never
 * from an access nested in an exit handler's own access: it would wait
 * for itself.
 */
void vmmu_vm_tlb_flush_sync(struct vmmu_vm *vm);

/*
 * The VM lock: held around every hypervisor-side change (exit handlers,
 * slot changes through a backend, p2m and dirty-log operations). The
 * hardware side (TLB lookups, hardware walks) never takes it. A spin lock:
 * the freestanding core has no scheduler to sleep on.
 */
void vmmu_vm_lock(struct vmmu_vm *vm);
void vmmu_vm_unlock(struct vmmu_vm *vm);
/* Take the VM lock if it is free (true), without waiting. */
bool vmmu_vm_trylock(struct vmmu_vm *vm);

/* Mark the VM dead (internal invariant violated); returns VMMU_EDEAD. */
int vmmu_vm_kill(struct vmmu_vm *vm, const char *reason);

#endif
