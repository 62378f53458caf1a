/* SPDX-License-Identifier: MIT */
/*
 * Internals of the shadow backend (docs/shadow.md).
 *
 * Every shadow table is one 4 KiB pool page of 512 x86 entries in the
 * 4-level (5-level for an LA57 guest) long-mode format, whatever the
 * guest's mode: the hardware side walks them with vmmu_walk() over host
 * memory (shadow_hw.c). Kinds of pages:
 *  - GUEST: the shadow of one guest table (gfn) at one level, for one
 *    role (the register bits that decide how its entries read) and, for a
 *    2-level guest, one quadrant: a 1024-entry guest PT needs two shadow
 *    L1s (halves), a guest PD four shadow L2s (each 256 guest PDEs as 512
 *    shadow PDEs of 2 MiB);
 *  - FL: a splintered guest superpage: the 2 MiB (level 1) or 1 GiB
 *    (level 2) chunk of guest-physical memory at gfn, with the guest
 *    leaf's attributes (D, G, PAT/PCD/PWT, key) in its type;
 *  - ROOT: a vCPU's own PML4 and PDPT for PAE and 2-level guests (the
 *    PDPT's four entries come from the PDPTE registers or the quadrants).
 *
 * Invariants:
 *  I1 every present entry of a level-1 page is a leaf and is on the
 *     reverse-map list of the bucket of the host page it maps; every
 *     present entry above level 1 links a pool page and is on that page's
 *     parent list. The lists are doubly linked through link[] and cover
 *     exactly the present entries.
 *  I2 no leaf mapping the frame of a guest table that has a GUEST shadow
 *     is writable (write protection of guest page tables).
 *  I3 a GUEST or FL shadow's present entries equal the propagation of
 *     the guest's current entries (sh_propagate), except that a leaf may
 *     be read-only where propagation would now allow writes (its frame
 *     stopped being a page table: the next write faults and upgrades it);
 *     writes to a shadowed frame
 *     trap or come through vmmu_vm_written, and are revalidated at once,
 *     so shadows never lag guest memory, except an out-of-sync L1
 *     (shadow_oos.c): its entries equal the propagation of its snapshot,
 *     and its frame is exempt from I2 until it is resynchronised.
 *  I4 a leaf maps only a host page of a RAM or ROM slot of this VM,
 *     writable only for RAM whose guest leaf is writable and dirty.
 *  I5 pinned pages (current roots, ROOT pages) are never recycled; busy
 *     pages (the path being filled) neither.
 *  I6 no leaf mapping a frame of a PV page-table type is writable, out
 *     of sync or not (shadow_pv.c).
 *
 * Several vCPU threads (docs/shadow.md "Several vCPU threads"). The
 * hardware side (sh_hw_walk) runs on each vCPU's thread without the VM
 * lock; everything else runs with it.
 *  T1 the hardware side reads only: its own struct sh_vcpu, its own
 *     paging state and TLB, shadow entries (pte_load, through the hpa it
 *     cached in sh_vcpu.root_hpa) and sh_vm.wlog_*. It never reads
 *     sh_vm.pages (the directory is reallocated as the pool grows) nor
 *     any struct sh_page field.
 *  T2 a vCPU's struct sh_vcpu is written only by that vCPU's own thread,
 *     in its exit handler or guest-event hook (outside guest mode, lock
 *     held), or while it does not run (create, destroy). No hook of one
 *     vCPU writes another's: nothing cross-vCPU needs publishing.
 *  T3 a shadow page is reused or zeroed only once no walker can reach
 *     it: sh_free unlinks it and parks it on the limbo list; only
 *     sh_flush_tlbs (vmmu_vm_tlb_invalidate: every vCPU's TLB and
 *     paging-structure caches flushed, and every access that was in
 *     flight ended) moves limbo pages to the free list. A walker may
 *     still read a page being emptied: it reads an old entry (whose
 *     child is also in limbo, not reused) or zero (a shadow #PF).
 *  T4 writes reported to gpa_written (with or without the lock: it
 *     cannot tell) to a frame that may be shadowed (maybe_pt) are logged
 *     in wlog and revalidated by the writer itself when the lock is free,
 *     else by the shadow hook holding it before it returns; see
 *     sh_gpa_written (shadow_backend.c).
 */
#ifndef VMMU_SHADOW_INT_H
#define VMMU_SHADOW_INT_H

#include "vmmu/access.h"
#include "vmmu/error.h"
#include "shadow.h"

#define SH_NIL          0xffffffffU
#define SH_HEAD_BUCKET  0x80000000U     /* prev of a first node: bucket */
#define SH_HEAD_PAGE    0x40000000U     /* prev of a first node: page */
#define SH_ID_MASK      0x3fffffffU
#define SH_MAX_PAGES    (1U << 21)      /* ids are page << 9 | index */
#define SH_HASH_BITS    14
#define SH_RMAP_BITS    15
#define SH_MAX_ROLES    16
#define SH_FLOOD        3               /* emulated writes with no walk */
#define SH_OOS_SLOTS    8               /* out-of-sync L1s at once */
#define SH_WLOG_SLOTS   32              /* unlocked writes pending */
#define SH_MAYBE_BITS   16              /* frames that may be shadowed */

enum sh_kind { SH_GUEST = 1, SH_FL = 2, SH_ROOT = 3 };

/* Type of a page: packed so that one compare matches a hash entry. */
#define SH_T_LEVEL(t)   ((t) & 7U)
#define SH_T_KIND(t)    (((t) >> 3) & 3U)
#define SH_T_QUAD(t)    (((t) >> 5) & 3U)
#define SH_T_ROLE(t)    (((t) >> 7) & 15U)
#define SH_T_ATTR(t)    ((t) >> 11)
#define SH_TYPE(level, kind, quad, role, attr) \
	((uint32_t)(level) | (uint32_t)(kind) << 3 | (uint32_t)(quad) << 5 | \
	 (uint32_t)(role) << 7 | (uint32_t)(attr) << 11)

struct sh_page {
	hpa_t hpa;
	uint64_t *e;            /* the 512 entries (platform mapping) */
	uint64_t gfn;           /* GUEST: guest table; FL: first frame */
	uint32_t type;
	uint32_t idx;           /* index in the pool */
	uint32_t hnext;         /* hash chain */
	uint32_t lru_prev, lru_next;
	uint32_t parents;       /* first entry linking this page */
	uint16_t pin;
	uint8_t busy;
	uint8_t flood;
	uint8_t oos;            /* out-of-sync slot + 1, or 0 */
	bool in_use, hashed;
	uint32_t link[512][2];  /* [next, prev] of each entry's list node */
};

/* A frame's PV type record (shadow_pv.c); free when type is NONE. */
struct sh_pv_frame {
	uint64_t gfn;
	uint32_t count;
	uint8_t type;           /* enum vmmu_pv_type */
	bool pinned;
};

/* A role: what decides how guest entries read (mode, NXE, PSE, CPU). */
struct sh_role {
	bool used;
	uint64_t key;           /* sh_role_key() */
	struct vmmu_paging_state ps;    /* template; ps.role is computed */
};

struct sh_vm {
	struct vmmu_vm *vm;
	struct sh_page **pages;
	uint32_t npages, cap_dir;       /* pages allocated, directory size */
	uint64_t pool_fixed;            /* 0: default size */
	uint64_t ram_mib;
	unsigned nvcpus;
	uint32_t free_list;             /* through hnext */
	uint32_t lru_head, lru_tail;    /* head = most recently used */
	uint32_t hash[1U << SH_HASH_BITS];
	uint32_t rmap[1U << SH_RMAP_BITS];
	struct sh_role roles[SH_MAX_ROLES];
	bool tlb_flush;                 /* a protection was removed: flush */
	struct vmmu_shadow_stats st;
	uint8_t page_buf[4096];         /* a guest frame being revalidated */
	bool oos_on;                    /* policy: out-of-sync L1s allowed */
	unsigned prefetch;              /* policy: group filled with a leaf */
	unsigned oos_next;              /* slot to evict when all are taken */
	struct {
		uint32_t page;          /* SH_NIL: free */
		uint8_t snap[4096];     /* the frame when it went out of sync */
	} oos[SH_OOS_SLOTS];
	struct sh_pv_frame *pv;         /* PV types: open addressing by gfn */
	uint32_t pv_cap, pv_used;
	bool ld_drop;                   /* log-dirty: VMMU_SHADOW_LD_DROP */
	bool leaf_added;                /* a leaf made present since the last
					   drop of every leaf (shadow_dirty.c) */
	uint32_t limbo;                 /* freed, not yet waited for (T3) */
	/* T4: guest writes reported without the VM lock (shadow_backend.c) */
	atomic_flag wlog_lock;          /* guards wlog, wlog_n, overflow */
	atomic_bool wlog_pending;       /* wlog non-empty */
	atomic_bool in_hook;            /* a hook holds the lock, will drain */
	atomic_uint_fast64_t wlog_pushed, wlog_drained;
	unsigned wlog_n;
	bool wlog_overflow;
	struct { uint64_t gpa, len; } wlog[SH_WLOG_SLOTS];
	/* T4: a bit per hash of gfn, set (never cleared) before a frame's
	 * first GUEST shadow reads it: a write to a frame whose bit is clear
	 * needs no revalidation, so it is not logged */
	_Atomic uint64_t maybe_pt[(1U << SH_MAYBE_BITS) / 64];
};

struct sh_vcpu {
	struct vmmu_paging_state sps;   /* how the hardware walks the shadows */
	uint32_t root;                  /* page the walk starts at, or NIL */
	hpa_t root_hpa;                 /* its address: all the walk reads (T1) */
	uint32_t top;                   /* 4/5-level: pinned guest-root shadow */
	uint32_t pml4, pdpt;            /* ROOT pages (PAE, 2-level) */
	unsigned role;
	bool valid;                     /* synced with the guest registers */
	uint64_t seen_key, seen_cr3;
	uint64_t seen_pdpte[4];
};

static inline struct sh_vm *sh_vm_of(const struct vmmu_vm *vm)
{
	return vm->backend_state;
}

static inline struct sh_page *sh_pg(const struct sh_vm *sv, uint32_t i)
{
	return sv->pages[i];
}

/* shadow_pool.c */
int sh_pool_init(struct sh_vm *sv);
void sh_pool_destroy(struct sh_vm *sv);
uint64_t sh_pool_size(const struct sh_vm *sv);
int sh_alloc(struct sh_vm *sv, uint32_t *out);
void sh_free(struct sh_vm *sv, uint32_t pi);
void sh_touch(struct sh_vm *sv, uint32_t pi);
uint32_t sh_find(const struct sh_vm *sv, uint64_t gfn, uint32_t type);
void sh_hash_add(struct sh_vm *sv, uint32_t pi);
uint32_t sh_find_any(const struct sh_vm *sv, uint64_t gfn);
uint32_t sh_next_any(const struct sh_vm *sv, uint32_t i, uint64_t gfn);
bool sh_is_pt(const struct sh_vm *sv, uint64_t gfn);
void sh_set_entry(struct sh_vm *sv, uint32_t pi, unsigned idx, uint64_t e,
		  uint32_t child);
void sh_drop_all(struct sh_vm *sv);
void sh_flush_tlbs(struct sh_vm *sv);
uint32_t sh_rmap_bucket(uint64_t hpa);

/* shadow_prop.c */
const struct sh_role *sh_role_get(const struct sh_vm *sv, unsigned r);
int sh_role_of(struct sh_vm *sv, const struct vmmu_paging_state *ps,
	       unsigned *out);
int sh_propagate(struct sh_vm *sv, uint32_t pi, unsigned j, uint64_t g,
		 bool create, uint64_t *out, uint32_t *child);
int sh_get(struct sh_vm *sv, uint64_t gfn, uint32_t type, bool create,
	   uint32_t *out);
void sh_write_protect(struct sh_vm *sv, uint64_t gfn);
bool sh_guest_entry(const struct sh_vm *sv, const struct sh_page *p,
		    unsigned j, uint64_t *gpa, unsigned *size);
void sh_revalidate(struct sh_vm *sv, gpa_t gpa, size_t len);
void sh_reval_range(struct sh_vm *sv, uint32_t pi, unsigned lo, unsigned hi,
		    const uint8_t *page);

/* shadow_backend.c: every hook brackets its work with these (T4) */
void sh_hook_enter(struct sh_vm *sv);
void sh_hook_leave(struct sh_vm *sv);
void sh_wlog_drain(struct sh_vm *sv);
void sh_mark_maybe_pt(struct sh_vm *sv, uint64_t gfn);
/* Whether gfn's bit is set (lock-free, T1: the paging-off walk asks). */
bool sh_maybe_pt_frame(struct sh_vm *sv, uint64_t gfn);
/* The p2m type of gpa's page (VM lock held): what a slot's own type is,
 * unless vmmu_vm_set_p2m_type changed it; RAM_RW for a hole. */
enum vmmu_p2m_type sh_p2m_type(const struct vmmu_vm *vm, gpa_t gpa);

/* shadow_oos.c */
bool sh_oos_try(struct sh_vm *sv, uint64_t gfn);
void sh_oos_resync_all(struct sh_vm *sv);
void sh_oos_resync_gfn(struct sh_vm *sv, uint64_t gfn);
void sh_oos_release(struct sh_vm *sv, uint32_t pi);
void sh_oos_written(struct sh_vm *sv, uint32_t pi, unsigned lo, unsigned hi,
		    const uint8_t *page);
const uint8_t *sh_oos_snapshot(const struct sh_vm *sv, const struct sh_page *p);

/* shadow_pv.c */
void sh_pv_destroy(struct sh_vm *sv);
bool sh_pv_is_table(const struct sh_vm *sv, uint64_t gfn);
int sh_pv_trapped_write(struct vmmu_vcpu *vcpu, const struct vmmu_op *op,
			gpa_t gpa, struct vmmu_exit_result *res);
int sh_pv_check(const struct sh_vm *sv, const char **why);

/* shadow_dirty.c */
int sh_dirty_start(struct vmmu_vm *vm);
int sh_dirty_stop(struct vmmu_vm *vm);
int sh_dirty_rearm(struct vmmu_vm *vm, gpa_t gpa, uint64_t size);
void sh_dirty_write_fault(struct sh_vm *sv, gpa_t gpa);

/* shadow_fault.c */
int sh_handle_exit(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		   const struct vmmu_op *op, struct vmmu_exit_result *res);
int sh_sync_vcpu(struct vmmu_vcpu *vcpu);

/* shadow_hw.c */
int sh_hw_walk(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
	       struct vmmu_hw_walk *out);
int sh_walk_shadow(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		   struct vmmu_walk_result *r);
void sh_host_gmem(struct vmmu_vm *vm, struct vmmu_gmem *out);
bool sh_vcpu_stale(const struct vmmu_vcpu *vcpu);

#endif
