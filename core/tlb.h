/* SPDX-License-Identifier: MIT */
/*
 * The TLB and paging-structure-cache model of one vCPU (freestanding).
 *
 * Structures (docs/tlb.md has the defaults and where they come from):
 *  - combined TLB: linear page -> host-physical page, in L1 data, L1
 *    instruction and unified second-level (STLB) arrays, one array per
 *    page-size class. Entries are tagged with the VPID (VMX) or ASID
 *    (SVM), the PCID and a context id the backend assigns per EPTP/nCR3
 *    (SDM Vol. 3C 29.4.1 "combined mappings", tagged by VPID, PCID and
 *    EP4TA). Each keeps the page size, the global bit, the guest's
 *    combined rights, the protection key, whether the guest leaf's D was
 *    set, and the nested rights (R/W/X) of the final guest-physical page;
 *  - guest-physical TLB: guest-physical page -> host-physical page, tagged
 *    by context id (SDM 29.4.1 "guest-physical mappings"; the NPT nested
 *    TLB of Bhargava et al., ASPLOS 2008);
 *  - guest paging-structure caches, one per level (PDE, PDPTE, PML4E,
 *    PML5E; SDM Vol. 3A 4.10.3): the linear-address bits above that
 *    level's boundary -> guest-physical address of the next guest table
 *    and the rights accumulated so far; tagged like the combined TLB;
 *  - nested paging-structure caches, one per level: the guest-physical
 *    bits above that level's boundary -> host-physical address of the
 *    next nested table and the nested rights so far; tagged by context id.
 *
 * Every array is set-associative (power-of-two sets, sets x ways entries,
 * true LRU per set through a per-vCPU 32-bit access clock: the victim is
 * an invalid way or else the way with the oldest stamp). A translation
 * the model returns was filled under the same tag and was not invalidated
 * since by any operation whose architectural scope covers it; capacity
 * evictions may drop more, never keep more (tests/tlb holds it to an
 * unbounded reference).
 *
 * The model keeps no pointers into guest or host memory and calls nothing:
 * the access path fills it after a walk and asks it before one. One object
 * per vCPU; nothing is shared, so no locking (a remote shootdown is the
 * initiator calling the target vCPU's invalidation while that vCPU is
 * stopped, then vmmu_tlb_shootdown() to count it).
 */
#ifndef VMMU_CORE_TLB_H
#define VMMU_CORE_TLB_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#include "vmmu/types.h"
#include "vmmu/platform.h"
#include "vmmu/walk.h"

/* Page-size classes (index into the per-size counters). */
enum vmmu_tlb_psize {
	VMMU_TLB_4K = 0,
	VMMU_TLB_2M = 1,
	VMMU_TLB_4M = 2,        /* 32-bit paging with CR4.PSE */
	VMMU_TLB_1G = 3,
	VMMU_TLB_NPSIZE = 4,
};

/*
 * Combined-TLB arrays. A data access probes L1D_4K, L1D_LARGE, L1D_1G,
 * then STLB, STLB_1G; a fetch probes L1I_4K, L1I_LARGE, then the STLB
 * arrays (no L1 instruction 1 GiB array: Intel ITLBs hold 1 GiB pages as
 * fractured 2 MiB entries, Optimization Reference Manual; here they live
 * in STLB_1G only). LARGE holds 2 MiB and 4 MiB pages; the STLB holds
 * 4 KiB, 2 MiB and 4 MiB pages in one array, each probed at its own
 * index. An STLB hit refills the L1 array (non-inclusive L1/STLB).
 */
enum vmmu_tlb_array {
	VMMU_TLB_L1D_4K = 0,
	VMMU_TLB_L1D_LARGE,
	VMMU_TLB_L1D_1G,
	VMMU_TLB_L1I_4K,
	VMMU_TLB_L1I_LARGE,
	VMMU_TLB_STLB,
	VMMU_TLB_STLB_1G,
	VMMU_TLB_NARRAY,
};

/* Guest (PWC) and nested (NPWC) cache levels: index = level - 2. */
#define VMMU_TLB_PWC_LEVELS 4   /* 2 PDE, 3 PDPTE, 4 PML4E, 5 PML5E */

/* One set-associative array: sets a power of two, or both 0 (absent). */
struct vmmu_tlb_geom {
	uint32_t sets;
	uint32_t ways;          /* 1..VMMU_TLB_MAX_WAYS */
};

#define VMMU_TLB_MAX_WAYS    64
#define VMMU_TLB_MAX_ENTRIES (1U << 20)  /* per array */

struct vmmu_tlb_config {
	struct vmmu_tlb_geom tlb[VMMU_TLB_NARRAY];
	struct vmmu_tlb_geom gpa_tlb;                /* guest-physical TLB */
	struct vmmu_tlb_geom pwc[VMMU_TLB_PWC_LEVELS];  /* guest dimension */
	struct vmmu_tlb_geom npwc[VMMU_TLB_PWC_LEVELS]; /* nested dimension */
};

/* Default geometries (docs/tlb.md gives the source of every number). */
enum vmmu_tlb_profile {
	VMMU_TLB_PROFILE_INTEL = 0,   /* Golden Cove / Raptor Cove class */
	VMMU_TLB_PROFILE_AMD = 1,     /* Zen 4 class */
};

/* Fill *cfg with a profile's defaults. VMMU_EINVAL for an unknown one. */
int vmmu_tlb_config_default(struct vmmu_tlb_config *cfg,
			    enum vmmu_tlb_profile profile);

/* 0 when cfg is usable, VMMU_EINVAL otherwise (see struct vmmu_tlb_geom). */
int vmmu_tlb_config_check(const struct vmmu_tlb_config *cfg);

struct vmmu_tlb;

/* Bytes a vmmu_tlb with cfg needs (0 when cfg is invalid). */
size_t vmmu_tlb_mem_size(const struct vmmu_tlb_config *cfg);

/*
 * Build a TLB in caller memory mem (len >= vmmu_tlb_mem_size(cfg), 8-byte
 * aligned). Every entry starts invalid, counters zero, tags zero. The
 * object holds pointers into itself: never copy or move it.
 * VMMU_EINVAL for a bad cfg, VMMU_ENOSPC when len is too small.
 */
int vmmu_tlb_init(void *mem, size_t len, const struct vmmu_tlb_config *cfg,
		  struct vmmu_tlb **out);

/* The same in memory from plat->zalloc (VMMU_ENOMEM if it fails). */
int vmmu_tlb_create(const struct vmmu_platform *plat,
		    const struct vmmu_tlb_config *cfg, struct vmmu_tlb **out);
void vmmu_tlb_destroy(const struct vmmu_platform *plat, struct vmmu_tlb *t);

/*
 * The tag the vCPU runs with: VPID (VMX, 0 = VPIDs off or the host) or
 * ASID (SVM), the current PCID (0 unless CR4.PCIDE = 1; 12 bits) and the
 * context id of the current EPTP/nCR3 (0 = no second level). Entries are
 * filled under, and looked up with, this tag. VM entry and exit switch it
 * without flushing (SDM 29.4.3.3 with VPIDs; the backend flushes for VPID
 * 0 itself as SDM 29.4.3.3 requires).
 */
void vmmu_tlb_set_tag(struct vmmu_tlb *t, uint16_t vpid, uint16_t pcid,
		      uint8_t ctx);

/* Nested rights (the final guest-physical page's, or a table's). */
#define VMMU_TLB_NR (1U << 0)
#define VMMU_TLB_NW (1U << 1)
#define VMMU_TLB_NX (1U << 2)

/* A translation to cache after a successful walk. */
struct vmmu_tlb_fill {
	gva_t gva;              /* linear address as the walker used it */
	hpa_t hpa;              /* host-physical address of gva */
	uint64_t page_size;     /* 4 KiB, 2 MiB, 4 MiB or 1 GiB */
	uint8_t rights;         /* guest combined rights: u | w << 1 | nx << 2 */
	uint8_t pkey;           /* the leaf's protection key (0..15) */
	bool global;            /* leaf G = 1 and CR4.PGE = 1 (SDM 4.10.2.4) */
	bool dirty;             /* the guest leaf's D is 1 (after the walk) */
	uint8_t nested;         /* VMMU_TLB_N*: what the nested leaf allows */
	enum vmmu_access_kind kind; /* FETCH fills the L1 instruction arrays */
};

/*
 * gva, page_size, rights, pkey, global and dirty of *f from a successful
 * walk res of acc under ps (hpa and nested are the caller's). VMMU_EINVAL
 * when res is not a successful walk.
 */
int vmmu_tlb_fill_from_walk(struct vmmu_tlb_fill *f,
			    const struct vmmu_paging_state *ps,
			    const struct vmmu_access *acc,
			    const struct vmmu_walk_result *res);

/* Insert into the L1 and STLB arrays that take f->page_size. */
int vmmu_tlb_fill(struct vmmu_tlb *t, const struct vmmu_tlb_fill *f);

/* Lookup outcomes. */
#define VMMU_TLB_MISS    0
#define VMMU_TLB_HIT     1
/*
 * An entry matched but does not allow the access: guest rights or
 * protection key (vmmu_walk_check_rights), nested rights, or a write
 * through an entry whose guest D is 0 (the CPU walks to set D, SDM 4.8).
 * Every entry for that page under the current tag has been dropped (SDM
 * 4.10.4.1: a #PF invalidates the entries for the faulting address); the
 * caller walks as on a miss.
 */
#define VMMU_TLB_REFUSED 2

/*
 * Translate acc under the current tag. HIT: *hpa is the host-physical
 * address of acc->gva. acc->gva must be the linear address the walker
 * uses (truncated to 32 bits outside IA-32e mode). The guest rights are
 * decided exactly as vmmu_walk_check_rights() decides them under ps
 * (memoised; any change of CR0, CR4, EFER, RFLAGS.AC, PKRU, MAXPHYADDR
 * or the quirks is seen, with or without vmmu_paging_update()).
 * VMMU_EINVAL for a kind above FETCH or a CPL above 3. Counts one lookup.
 * A hit on a 4 KiB page already in the L1 array costs a few ns
 * (docs/tlb.md; core callers can inline it as vmmu_tlb_lookup_hit() from
 * core/tlb_internal.h); everything else takes the full probe.
 */
int vmmu_tlb_lookup(struct vmmu_tlb *t, const struct vmmu_paging_state *ps,
		    const struct vmmu_access *acc, hpa_t *hpa);

/* Guest-physical TLB (tag: context id). */
int vmmu_tlb_gpa_fill(struct vmmu_tlb *t, gpa_t gpa, hpa_t hpa,
		      uint64_t page_size, uint8_t nested);
/* MISS, HIT (*hpa set) or REFUSED (nested rights lack kind; every entry
 * for gpa of the context is dropped). */
int vmmu_tlb_gpa_lookup(struct vmmu_tlb *t, gpa_t gpa,
			enum vmmu_access_kind kind, hpa_t *hpa);

/*
 * Guest paging-structure caches (SDM 4.10.3.1). An entry for level L
 * (2 PDE .. 5 PML5E) says: for linear addresses with these bits above
 * the level-L boundary, the level-(L-1) table is at next (guest-physical)
 * and the entries from the root to L have combined rights rights (the
 * walker's encoding). Paging modes: 2-level (PDE cache, 4 MiB regions),
 * PAE (PDE cache only: PDPTEs live in registers, SDM 4.10.3.1), 4-level
 * (2..4), 5-level (2..5); anything else is refused.
 */
int vmmu_tlb_pwc_fill(struct vmmu_tlb *t, enum vmmu_paging_mode mode,
		      gva_t gva, unsigned level, gpa_t next, uint8_t rights);

struct vmmu_tlb_pwc_hit {
	unsigned level;         /* the level of the table to read next */
	uint64_t table;         /* its address (gpa for PWC, hpa for NPWC) */
	uint8_t rights;         /* rights accumulated above it */
};

/*
 * The deepest cached entry for gva: returns the level at which a walk
 * starts (1 after a PDE hit, ... top after a miss; top is the mode's
 * root level), *hit filled when it is below top. Counts a lookup and a
 * hit per level or a miss.
 */
unsigned vmmu_tlb_pwc_lookup(struct vmmu_tlb *t, enum vmmu_paging_mode mode,
			     gva_t gva, struct vmmu_tlb_pwc_hit *hit);

/*
 * Nested paging-structure caches: an entry for level L (2..5) of the
 * nested table (EPT or NPT, 9 bits a level) maps gpa bits above the
 * level-L boundary to the host-physical address of the level-(L-1) table
 * and the nested rights so far (VMMU_TLB_N*). top is 4 or 5.
 */
int vmmu_tlb_npwc_fill(struct vmmu_tlb *t, gpa_t gpa, unsigned level,
		       hpa_t next, uint8_t nested);
unsigned vmmu_tlb_npwc_lookup(struct vmmu_tlb *t, unsigned top, gpa_t gpa,
			      struct vmmu_tlb_pwc_hit *hit);

/*
 * Architectural invalidations. Each flushes exactly the entries its
 * section names and keeps every other (the model never flushes more than
 * the rule, so the tests can check both directions). "Current" means the
 * tag of vmmu_tlb_set_tag(). Guest instructions (INVLPG, INVPCID, MOV to
 * CRn) act on the current VPID only and on combined mappings of every
 * context id (SDM 29.4.3.1), never on guest-physical mappings. Each
 * returns the number of entries it flushed.
 */
/* INVLPG (SDM 4.10.4.1): TLB entries for gva's page with the current
 * PCID, global ones with any PCID; every PWC entry of the current PCID. */
size_t vmmu_tlb_invlpg(struct vmmu_tlb *t, gva_t gva);
/* INVPCID type 0..3 (SDM 4.10.4.1; Vol. 2 INVPCID). VMMU_EINVAL (and
 * nothing flushed) for another type. */
int vmmu_tlb_invpcid(struct vmmu_tlb *t, unsigned type, uint16_t pcid,
		     gva_t gva);
/* MOV to CR3 (SDM 4.10.4.1): sets the current PCID from new_cr3 (bits
 * 11:0 when pcide, else 0) and flushes per bit 63 and pcide. */
size_t vmmu_tlb_mov_cr3(struct vmmu_tlb *t, uint64_t new_cr3, bool pcide);
/* MOV to CR0 / CR4 (SDM 4.10.4.1). */
size_t vmmu_tlb_mov_cr0(struct vmmu_tlb *t, uint64_t old_cr0, uint64_t new_cr0);
size_t vmmu_tlb_mov_cr4(struct vmmu_tlb *t, uint64_t old_cr4, uint64_t new_cr4);
/* INVEPT type 1 (single context: ctx) and 2 (all contexts); SDM 29.4.3.1
 * and Vol. 2 INVEPT. VMMU_EINVAL for another type. */
int vmmu_tlb_invept(struct vmmu_tlb *t, unsigned type, uint8_t ctx);
/* INVVPID type 0..3 (SDM 29.4.3.1 and Vol. 2 INVVPID). VMMU_EINVAL for
 * another type or VPID 0 with types 0, 1, 3 (the instruction fails). */
int vmmu_tlb_invvpid(struct vmmu_tlb *t, unsigned type, uint16_t vpid,
		     gva_t gva);
/* SVM VMCB TLB_CONTROL at VMRUN (APM Vol. 2 15.16 "TLB Control"): 1 flush
 * everything, 3 this ASID, 7 this ASID's non-global entries; ctx is the
 * guest's nCR3 context, whose nested entries belong to the guest. 0 does
 * nothing; other values VMMU_EINVAL. */
#define VMMU_TLB_CTL_NOTHING     0
#define VMMU_TLB_CTL_ALL         1
#define VMMU_TLB_CTL_ASID        3
#define VMMU_TLB_CTL_ASID_LOCAL  7
int vmmu_tlb_svm_tlb_control(struct vmmu_tlb *t, unsigned ctl,
			     uint16_t asid, uint8_t ctx);
/* INVLPGA (APM Vol. 2 15.16 and Vol. 3 INVLPGA): gva's page for asid
 * (global entries included) and that ASID's PWC entries. */
size_t vmmu_tlb_invlpga(struct vmmu_tlb *t, gva_t gva, uint16_t asid);
/* A #PF delivered for gva (SDM 4.10.4.1 "page faults invalidate"): the
 * page's TLB entries of the current PCID (and VPID; every context) and
 * the current PCID's PWC entries used for gva. The access path calls it
 * when it injects a #PF (a REFUSED hit has already dropped the entries
 * that served the lookup). */
size_t vmmu_tlb_page_fault(struct vmmu_tlb *t, gva_t gva);
/* An EPT violation or misconfiguration at gpa (SDM 29.4.3.1): the current
 * context's guest-physical TLB and NPWC entries that translate gpa and,
 * when the access had a linear address gva, the combined TLB and PWC
 * entries for gva of the current VPID, PCID and context. */
size_t vmmu_tlb_ept_violation(struct vmmu_tlb *t, gpa_t gpa, bool has_gva,
			      gva_t gva);
/* Everything (reset, or a backend that cannot be more precise). */
size_t vmmu_tlb_flush_all(struct vmmu_tlb *t);
/* Count one remote shootdown received (the flush is a call above). */
void vmmu_tlb_shootdown(struct vmmu_tlb *t);

/* Invalidation kinds (counters). */
enum vmmu_tlb_inv {
	VMMU_TLB_INV_INVLPG = 0,
	VMMU_TLB_INV_INVPCID0, VMMU_TLB_INV_INVPCID1,
	VMMU_TLB_INV_INVPCID2, VMMU_TLB_INV_INVPCID3,
	VMMU_TLB_INV_CR3,           /* a MOV to CR3 that flushed */
	VMMU_TLB_INV_CR3_NOFLUSH,   /* PCIDE = 1, bit 63 = 1 */
	VMMU_TLB_INV_CR0,           /* a MOV to CR0 that flushed */
	VMMU_TLB_INV_CR4_ALL,       /* PGE change, PCIDE 1 -> 0 */
	VMMU_TLB_INV_CR4_PCID,      /* PAE change, SMEP 0 -> 1 */
	VMMU_TLB_INV_INVEPT1, VMMU_TLB_INV_INVEPT2,
	VMMU_TLB_INV_INVVPID0, VMMU_TLB_INV_INVVPID1,
	VMMU_TLB_INV_INVVPID2, VMMU_TLB_INV_INVVPID3,
	VMMU_TLB_INV_SVM_ALL, VMMU_TLB_INV_SVM_ASID, VMMU_TLB_INV_SVM_LOCAL,
	VMMU_TLB_INV_INVLPGA,
	VMMU_TLB_INV_PF,            /* vmmu_tlb_page_fault */
	VMMU_TLB_INV_EPT_VIOLATION,
	VMMU_TLB_INV_FLUSH_ALL,
	VMMU_TLB_INV_SHOOTDOWN,     /* remote shootdowns received */
	VMMU_TLB_INV_REFUSED,       /* entries dropped by REFUSED hits */
	VMMU_TLB_NINV,
};

/* Exact counters. */
struct vmmu_tlb_stats {
	uint64_t lookups;                    /* vmmu_tlb_lookup calls */
	uint64_t hits;                       /* ... that returned HIT */
	uint64_t misses;                     /* ... MISS */
	uint64_t refused_guest, refused_nested, refused_dirty; /* REFUSED */
	/* per array: lookups reaching it (= its hits + misses), lookups
	 * that found an entry there per page size (refused ones included),
	 * misses */
	uint64_t arr_lookups[VMMU_TLB_NARRAY];
	uint64_t arr_hits[VMMU_TLB_NARRAY][VMMU_TLB_NPSIZE];
	uint64_t arr_misses[VMMU_TLB_NARRAY];
	uint64_t arr_fills[VMMU_TLB_NARRAY];
	uint64_t arr_evictions[VMMU_TLB_NARRAY]; /* valid entries replaced */
	uint64_t gpa_lookups, gpa_hits[VMMU_TLB_NPSIZE], gpa_misses,
		 gpa_refused, gpa_fills;
	uint64_t pwc_lookups, pwc_hits[VMMU_TLB_PWC_LEVELS], pwc_misses,
		 pwc_fills;
	uint64_t npwc_lookups, npwc_hits[VMMU_TLB_PWC_LEVELS], npwc_misses,
		 npwc_fills;
	uint64_t inv[VMMU_TLB_NINV];         /* operations by kind */
	/* entries flushed by invalidations (not capacity evictions) */
	uint64_t flushed_tlb, flushed_gpa, flushed_pwc, flushed_npwc;
};

/*
 * The counters, with the derived ones (lookups, hits, arr_lookups)
 * brought up to date; valid until the next call on t.
 */
const struct vmmu_tlb_stats *vmmu_tlb_stats(struct vmmu_tlb *t);
void vmmu_tlb_stats_reset(struct vmmu_tlb *t);

#endif
