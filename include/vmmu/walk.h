/* SPDX-License-Identifier: MIT */
/*
 * The guest page-table walker: one walker for every x86 paging mode
 * (paging off, 2-level with/without PSE, PAE, 4-level, 5-level), shared by
 * the hardware model, the shadow backend and the emulator.
 *
 * The walker reads guest page tables through struct vmmu_gmem, a pair of
 * guest-physical accessors, so it does not care where guest memory lives.
 * A/D updates are written back through the same interface, in the order a
 * CPU performs them, and by default only when the whole walk succeeds
 * (Intel SDM Vol. 3A 4.8; KVM behaves the same way on this project's
 * machines); VMMU_PAGING_A_ON_FAULT sets A on a faulting walk's entries.
 */
#ifndef VMMU_WALK_H
#define VMMU_WALK_H

#include "vmmu/types.h"
#include "vmmu/x86_pte.h"

/* Control-register bits the walker consults (SDM Vol. 3A 2.5, 4.1). */
#define X86_CR0_PE     (1ULL << 0)
#define X86_CR0_WP     (1ULL << 16)
#define X86_CR0_PG     (1ULL << 31)
#define X86_CR4_PSE    (1ULL << 4)
#define X86_CR4_PAE    (1ULL << 5)
#define X86_CR4_PGE    (1ULL << 7)
#define X86_CR4_LA57   (1ULL << 12)
#define X86_CR4_PCIDE  (1ULL << 17)
#define X86_CR4_SMEP   (1ULL << 20)
#define X86_CR4_SMAP   (1ULL << 21)
#define X86_CR4_PKE    (1ULL << 22)
#define X86_EFER_LME   (1ULL << 8)
#define X86_EFER_LMA   (1ULL << 10)
#define X86_EFER_NXE   (1ULL << 11)
#define X86_RFLAGS_AC  (1ULL << 18)

/* #PF error code bits (SDM Vol. 3A 4.7). */
#define X86_PFEC_P     (1U << 0)
#define X86_PFEC_W     (1U << 1)
#define X86_PFEC_U     (1U << 2)
#define X86_PFEC_RSVD  (1U << 3)
#define X86_PFEC_I     (1U << 4)
#define X86_PFEC_PK    (1U << 5)

#define X86_VEC_GP 13
#define X86_VEC_PF 14

/* Guest-physical memory as the walker sees it. */
struct vmmu_gmem {
	void *ctx;
	/* Read len bytes at gpa. 0 on success, negative vmmu_err otherwise. */
	int (*read)(void *ctx, gpa_t gpa, void *buf, size_t len);
	/*
	 * Atomically replace the 4- or 8-byte entry at gpa holding old with
	 * new (an A/D update). Returns 0, 1 if the entry no longer holds old
	 * (the walk is restarted), or a negative vmmu_err.
	 */
	int (*cmpxchg)(void *ctx, gpa_t gpa, uint64_t old, uint64_t new_val,
		       size_t len);
};

/* Paging modes (SDM Vol. 3A 4.1.1, Table 4-1). */
enum vmmu_paging_mode {
	VMMU_PAGING_NONE = 0,   /* CR0.PG = 0: linear = physical */
	VMMU_PAGING_2LEVEL,     /* 32-bit paging (CR4.PSE selects 4 MiB pages) */
	VMMU_PAGING_PAE,
	VMMU_PAGING_4LEVEL,
	VMMU_PAGING_5LEVEL,
	VMMU_PAGING_INVALID,    /* a register combination no CPU accepts */
};

/*
 * Per-VM CPU-model differences (struct vmmu_paging_state.quirks). Zero is
 * an Intel CPU with 1 GiB pages.
 */
/* CPUID.80000001H:EDX.Page1GB = 0: PS in a PDPTE is reserved (SDM 4.5.4). */
#define VMMU_PAGING_NO_1G   (1U << 0)
/*
 * AMD reserved-bit rules (APM Vol. 2 5.3.3, Figures 5-18/5-25): bit 8 of a
 * PML4E and a PML5E is MBZ (ignored on Intel). Bit 7 of those entries is
 * reserved on both vendors.
 */
#define VMMU_PAGING_AMD     (1U << 1)
/*
 * Accessed bits on a faulting walk. SDM Vol. 3A 4.8: "Whenever the
 * processor uses a paging-structure entry as part of linear-address
 * translation, it sets the accessed flag in that entry"; a CPU descending
 * the tables may so set A in upper-level entries of a walk that then
 * faults, and QEMU TCG does. With this bit, a walk that ends in #PF sets
 * A, in walk order through gmem.cmpxchg (restarting on a lost race like a
 * successful walk), on every entry above the one that faulted (not
 * present, reserved bit) or, for a rights or protection-key fault, above
 * the leaf; a 4/5-level PDPTE also gets A itself once it is present and
 * free of the bits reserved in every PDPTE, before its 1 GiB reserved bits
 * and the rights are checked. D is never set on a faulting walk, PAE
 * PDPTEs never get A. Clear (the default): A/D only when the whole walk
 * succeeds, as KVM's walker and Bochs do. docs/walker.md has the cases.
 */
#define VMMU_PAGING_A_ON_FAULT (1U << 2)


/*
 * What the walker derives from the control registers of one paging role:
 * the mode, reserved-bit masks per level and the permission tables (an
 * index from the access class to a bitmap over the walk's combined rights,
 * so that the hot path is a table lookup). Recomputed by
 * vmmu_paging_update(); vmmu_walk() falls back to a private copy when the
 * registers changed without an update, so a stale role is slow, not wrong.
 */
struct vmmu_walk_role {
	uint64_t key;           /* the register bits it was computed from */
	uint8_t mode;           /* enum vmmu_paging_mode */
	uint8_t top_level;      /* 2, 3, 4 or 5 (1 = PTE) */
	uint8_t entry_size;     /* 4 or 8 bytes */
	uint8_t pse36_bits;     /* 2-level: physical bits above 31 in a 4 MiB PDE */
	bool large_ok[6];       /* PS=1 at this level maps a page */
	bool pke;               /* protection keys in effect */
	bool nxe;               /* XD bits in effect */
	bool fetch_pfec_id;     /* fetch faults set PFEC.I/D (SDM 4.7) */
	uint64_t addr_mask;     /* next-table / page address bits of an entry */
	uint64_t rsvd[6][2];    /* [level][PS]: reserved bits (SDM 4.5) */
	/* perm[class] bit (u | w << 1 | nx << 2) set: that access faults. */
	uint8_t perm[16];
	/* pkey[class] bit (AD | WD << 1) set: a user page with that PKRU
	 * pair faults with PFEC.PK (SDM 4.6.2). */
	uint8_t pkey[16];
};

/* The vCPU state that determines how a linear address is translated. */
struct vmmu_paging_state {
	/*
	 * The registers a TLB hit's rights check reads come first, in this
	 * order and without padding: the TLB model compares them as one
	 * 32-byte block with its snapshot (core/tlb_internal.h).
	 */
	uint64_t cr0, cr4, efer;
	uint32_t pkru;
	uint32_t quirks;        /* VMMU_PAGING_* CPU-model differences */
	uint64_t cr3, rflags;
	uint8_t maxphyaddr;     /* 32..52 */
	/*
	 * PAE only: the four PDPTEs the CPU loaded at the last CR3 load (SDM
	 * 4.4.1). Filled by vmmu_paging_load_pdptes().
	 */
	uint64_t pdpte[4];
	bool pdptes_loaded;
	struct vmmu_walk_role role; /* cache; see vmmu_paging_update() */
};

/* One access to translate. */
struct vmmu_access {
	gva_t gva;
	enum vmmu_access_kind kind;
	uint8_t cpl;            /* 0..3; 3 is user mode */
	bool implicit;          /* implicit supervisor access (GDT, IDT, ...) */
};

/* Outcome of a walk. */
struct vmmu_walk_result {
	bool ok;
	gpa_t gpa;              /* ok: the translated address */
	uint64_t page_size;     /* ok: 4 KiB, 2 MiB, 4 MiB or 1 GiB */
	uint8_t vector;         /* !ok: 14 (#PF) or 13 (#GP) */
	uint32_t error_code;    /* !ok, #PF: the error code (0 for #GP) */
	gva_t cr2;              /* !ok, #PF: the faulting linear address */
	/* Entries used, root first (for the shadow backend and the model). */
	uint8_t levels;
	gpa_t pte_gpa[5];
	uint64_t pte[5];        /* the values read (before A/D updates) */
	uint8_t mode;           /* enum vmmu_paging_mode of the walk */
	uint8_t restarts;       /* walks restarted because an A/D cmpxchg lost */
	uint8_t first_level;    /* level of pte[0] (top level, or a PWC start) */
	/*
	 * ok: what a TLB entry for the translation holds. rights is the
	 * combined U/S | R/W << 1 | NX << 2 over the entries used (the index
	 * of struct vmmu_walk_role.perm), pkey the leaf's protection key
	 * (with CR4.PKE), global the leaf's G under CR4.PGE, dirty whether
	 * the leaf's D is set after the walk.
	 */
	uint8_t rights;
	uint8_t pkey;
	bool global;
	bool dirty;
};

/*
 * Where a walk may start instead of CR3: the table a cached upper-level
 * entry points to (a paging-structure-cache hit, SDM 4.10.3). level is
 * the level of that table (1 = page table), table its guest-physical
 * address, rights the U/S | R/W << 1 | NX << 2 accumulated above it. The
 * cached entries are not read again and get no A-bit update (a cache entry
 * exists only for entries whose A bit was already set).
 */
struct vmmu_walk_start {
	uint8_t level;
	gpa_t table;
	uint8_t rights;
};

/*
 * Recompute ps->role from the registers, maxphyaddr and quirks. Call after
 * changing CR0, CR4, EFER, maxphyaddr or quirks (as KVM recomputes its MMU
 * role); RFLAGS, PKRU and CR3 need no update.
 */
void vmmu_paging_update(struct vmmu_paging_state *ps);

/* The paging mode ps selects. */
enum vmmu_paging_mode vmmu_paging_mode(const struct vmmu_paging_state *ps);

/*
 * Load the PAE PDPTEs from CR3 as MOV to CR3 does. Returns 0, or
 * VMMU_EINVAL when the CPU would raise #GP (a present PDPTE with reserved
 * bits set, SDM 4.4.1), or a negative vmmu_err from mem->read. Not needed
 * in other modes (returns 0 and loads nothing).
 */
int vmmu_paging_load_pdptes(struct vmmu_paging_state *ps,
			    const struct vmmu_gmem *mem);

/*
 * Translate acc under ps, updating A/D bits through mem.
 * Returns 0 with *res filled (res->ok tells translation vs fault), or a
 * negative vmmu_err: VMMU_EINVAL for an impossible register combination
 * (VMMU_PAGING_INVALID, maxphyaddr outside 32..52, cpl > 3), VMMU_EBUSY
 * when A/D updates keep losing races, or the error of mem->read/cmpxchg
 * when guest memory could not be accessed.
 *
 * In PAE mode the walk uses ps->pdpte[] when ps->pdptes_loaded, otherwise
 * it reads them from CR3 as a CR3 load would; PDPTEs with reserved bits
 * make every access fail with vector 13 (MOV to CR3 would have faulted).
 */
int vmmu_walk(const struct vmmu_paging_state *ps, const struct vmmu_gmem *mem,
	      const struct vmmu_access *acc, struct vmmu_walk_result *res);
/*
 * vmmu_walk starting at start (NULL: at CR3). VMMU_EINVAL when start is not
 * below the mode's top level (PAE: at most the page-directory level).
 */
int vmmu_walk_from(const struct vmmu_paging_state *ps,
		   const struct vmmu_gmem *mem, const struct vmmu_access *acc,
		   const struct vmmu_walk_start *start,
		   struct vmmu_walk_result *res);

/*
 * Step 3 of a walk on its own, for a cached translation (a TLB hit):
 * check acc against the combined rights leaf_rights of a walk (bit 0: U/S
 * of every entry is 1, bit 1: R/W of every entry is 1, bit 2: XD of some
 * entry is 1 while XD is in effect; the walker's encoding) and, for a user
 * page under CR4.PKE, against protection key pkey (0..15) in ps->pkru,
 * with the same tables vmmu_walk() uses (SDM Vol. 3A 4.6.1, 4.6.2).
 * Returns 1 when the access is allowed, 0 when it would fault with #PF
 * (*pfec, if not NULL, gets the error code: P, W/R, U/S, I/D, PK as the
 * walker would give it), VMMU_EINVAL for bad arguments or an impossible
 * register combination. Paging off allows every access. A/D bits, present
 * and reserved bits are the caller's business (the cache only holds
 * translations of walks that succeeded).
 */
int vmmu_walk_check_rights(const struct vmmu_paging_state *ps,
			   const struct vmmu_access *acc, uint64_t leaf_rights,
			   unsigned pkey, uint32_t *pfec);

#endif
