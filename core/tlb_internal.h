/* SPDX-License-Identifier: MIT */
/*
 * TLB-model internals shared by core/tlb.c and core/tlb_inv.c. Other core
 * code (the vCPU access path) may include it for vmmu_tlb_lookup_hit(),
 * the inline form of vmmu_tlb_lookup(); nothing else here is an API.
 */
#ifndef VMMU_CORE_TLB_INTERNAL_H
#define VMMU_CORE_TLB_INTERNAL_H

#include <stddef.h>

#include "core/tlb.h"

/* The hit path's layout: the expected outcome falls through. */
#if defined(__GNUC__)
#define tlb_likely(x)   __builtin_expect(!!(x), 1)
#define tlb_unlikely(x) __builtin_expect(!!(x), 0)
#else
#define tlb_likely(x)   (x)
#define tlb_unlikely(x) (x)
#endif

/* GCC/Clang: keep the slow paths out of the hit path; count trailing 0s. */
#if defined(__GNUC__) && defined(__i386__)
/* 32-bit: __builtin_ctzll would call libgcc's __ctzdi2 (not freestanding). */
#define TLB_NOINLINE __attribute__((noinline))
static inline unsigned tlb_ctz64(uint64_t x)
{
	uint32_t lo = (uint32_t)x;

	return lo ? (unsigned)__builtin_ctz(lo) :
		    32 + (unsigned)__builtin_ctz((uint32_t)(x >> 32));
}
#elif defined(__GNUC__)
#define TLB_NOINLINE __attribute__((noinline))
#define tlb_ctz64(x) ((unsigned)__builtin_ctzll(x))
#else
#define TLB_NOINLINE
static inline unsigned tlb_ctz64(uint64_t x)
{
	unsigned n = 0;

	while (!(x & 1)) {
		x >>= 1;
		n++;
	}
	return n;
}
#endif

#define X86_CR4_PGE_BIT (1ULL << 7)
#define TAG_G     (1ULL << 63)
#define TAG_PCID  0xfffULL
#define A_DIRTY   (1U << 7)
#define A_NSHIFT  8
#define A_OKSHIFT 11     /* kinds nested rights and D allow: 1 << kind */

struct ent {
	uint64_t key, tag, val;
	uint32_t attr, stamp;
};

struct arr {
	struct ent *e;
	uint32_t set_mask, ways, nvalid, present;
};

/*
 * Hit cache: a direct-mapped index (by vpn bits) of entries in the 4 KiB
 * L1 arrays, in front of them (not a modelled structure; it changes no
 * result). A slot is only a hint: the hit path uses the entry it names
 * only when that entry itself matches the lookup (valid key of the page
 * and a tag that serves the current one), so flushes, evictions and
 * replacements need no hit-cache invalidation. Empty slots name none, an
 * entry that is never valid.
 */
#define HC_BITS 8

/*
 * The inputs of the rights rows besides the access (core/tlb.c
 * rights_row): the first SNAP_BYTES bytes of struct vmmu_paging_state
 * (cr0, cr4, efer, pkru, quirks; walk.h keeps them there) and maxphyaddr.
 */
#define SNAP_BYTES 32
_Static_assert(offsetof(struct vmmu_paging_state, cr0) == 0 &&
	       offsetof(struct vmmu_paging_state, cr4) == 8 &&
	       offsetof(struct vmmu_paging_state, efer) == 16 &&
	       offsetof(struct vmmu_paging_state, pkru) == 24 &&
	       offsetof(struct vmmu_paging_state, quirks) == 28 &&
	       offsetof(struct vmmu_paging_state, cr3) == SNAP_BYTES,
	       "the snapshot block of struct vmmu_paging_state");

struct role_snap {
	_Alignas(16) uint64_t regs[SNAP_BYTES / 8];
	uint8_t maxphyaddr;
	bool valid;
};

/*
 * What the access path (core/access.c) derives once for the ops of one
 * shape (kind, CPL, implicit, size) under one RFLAGS.AC: a memo, not
 * TLB state (it names a row of hc, so it lives with the TLB).
 */
struct tlb_op_shape {
	uint64_t word;          /* kind, CPL, implicit (core/access.c) */
	uint64_t align;         /* la bits a hit refuses: misaligned */
	struct ent *const *hc;  /* the kind's hit-cache row, tlb_hc_row */
	uint32_t size, okbit;   /* okbit: tlb_ok_bit of the kind */
	unsigned sig, ac;       /* the signature, RFLAGS.AC's bit of it */
	bool read8, fetch;      /* an 8-byte read; a fetch */
};

struct vmmu_tlb {
	struct ent *hc[2][1U << HC_BITS];   /* [fetch][vpn bits] */
	struct tlb_op_shape last_shape;     /* access path's; word 1: none */
	struct ent none;
	uint64_t hc_hits[2];    /* [fetch]: arr_hits[L1x_4K][4K], undrained */
	struct role_snap snap;
	uint64_t rows;                      /* rows built under snap */
	uint64_t allowsig[128];             /* [rights | pkey << 3]: sigs */
	struct arr tlb[VMMU_TLB_NARRAY];
	struct arr gpa;
	struct arr pwc[VMMU_TLB_PWC_LEVELS];
	struct arr npwc[VMMU_TLB_PWC_LEVELS];
	uint64_t tag;           /* current vpid << 32 | ctx << 16 | pcid */
	uint32_t clock;
	struct vmmu_tlb_stats st;
	size_t bytes;
};

static const uint8_t psize_shift[VMMU_TLB_NPSIZE] = { 12, 21, 22, 30 };

/* Does entry tag et serve lookup tag want? Globals ignore the PCID. */
static inline bool tag_match(uint64_t et, uint64_t want)
{
	uint64_t ign = TAG_G | ((0 - (et >> 63)) & TAG_PCID);

	return ((et ^ want) & ~ign) == 0;
}

static inline struct ent *set_of(const struct arr *a, uint64_t addr,
				 unsigned shift)
{
	return a->e + (size_t)((addr >> shift) & a->set_mask) * a->ways;
}

static inline void ent_drop(struct arr *a, struct ent *e)
{
	e->key = 0;
	if (--a->nvalid == 0)
		a->present = 0;
}

static inline uint64_t tlb_key(uint64_t addr, unsigned ps)
{
	return (addr & ~((1ULL << psize_shift[ps]) - 1)) | (uint64_t)ps << 1 | 1;
}

/* Boundary of a guest level in a mode; 0 if that mode has no such cache. */
static inline unsigned pwc_shift(enum vmmu_paging_mode mode, unsigned level)
{
	switch (mode) {
	case VMMU_PAGING_2LEVEL:
		return level == 2 ? 22 : 0;
	case VMMU_PAGING_PAE:
		return level == 2 ? 21 : 0;
	case VMMU_PAGING_4LEVEL:
		return level >= 2 && level <= 4 ? 12 + 9 * (level - 1) : 0;
	case VMMU_PAGING_5LEVEL:
		return level >= 2 && level <= 5 ? 12 + 9 * (level - 1) : 0;
	default:
		return 0;
	}
}

static inline uint64_t pwc_key(uint64_t addr, unsigned shift, unsigned level,
			       unsigned mode)
{
	return (addr & ~((1ULL << shift) - 1)) | (uint64_t)level << 1 |
	       (uint64_t)mode << 4 | 1;
}

/* ---- the hit path (vmmu_tlb_lookup(), inline for core callers) -------- */

/* Everything but an allowed hit-cache hit (core/tlb.c). */
int vmmu_tlb_lookup_full(struct vmmu_tlb *t, const struct vmmu_paging_state *ps,
			 const struct vmmu_access *acc, hpa_t *hpa);

/*
 * The guest rights and key check of a hit, exactly vmmu_walk_check_rights()
 * (SDM 4.6.1, 4.6.2), memoised. An access signature (kind, CPL, implicit,
 * RFLAGS.AC) names a row of verdicts over every (rights, pkey) an entry can
 * hold; rights_row (core/tlb.c) builds a row by calling the checker with
 * that signature. The table is stored transposed: bit sig of
 * allowsig[rights | pkey << 3] is set iff row sig is built and allows, so
 * a hit tests one bit. Rows are dropped (rows = 0, allowsig zero) when CR0,
 * CR4, EFER, MAXPHYADDR, the quirks or PKRU differ from the snapshot they
 * were built under, the only other inputs of the checker's decision. An
 * invalid kind (3) never reaches a row: the hit paths refuse it first.
 */
/* acc_sig with ac, RFLAGS.AC's bit of it (acc_sig_ac_bit), in hand. */
static inline unsigned acc_sig_ac(const struct vmmu_access *acc, unsigned ac)
{
	return ((unsigned)acc->kind & 3) | (unsigned)(acc->cpl & 3) << 2 |
	       (unsigned)acc->implicit << 4 | ac;
}

static inline unsigned acc_sig_ac_bit(const struct vmmu_paging_state *ps)
{
	return (unsigned)(ps->rflags >> 13) & 0x20;     /* RFLAGS.AC (18) */
}

static inline unsigned acc_sig(const struct vmmu_paging_state *ps,
			       const struct vmmu_access *acc)
{
	return acc_sig_ac(acc, acc_sig_ac_bit(ps));
}

/* ps has the registers the rows were built under. */
static inline bool snap_same(const struct vmmu_tlb *t,
			     const struct vmmu_paging_state *ps)
{
	const struct role_snap *sn = &t->snap;
#if defined(__GNUC__) && defined(__SSE2__)
	/* two 16-byte compares in place of five field compares */
	typedef uint64_t v2 __attribute__((vector_size(16)));
	v2 a, b, d;

	__builtin_memcpy(&a, ps, 16);
	__builtin_memcpy(&b, (const uint8_t *)ps + 16, 16);
	d = (a ^ *(const v2 *)&sn->regs[0]) | (b ^ *(const v2 *)&sn->regs[2]);
	return !(d[0] | d[1]) && ps->maxphyaddr == sn->maxphyaddr;
#else
	uint64_t r[SNAP_BYTES / 8];

	__builtin_memcpy(r, ps, SNAP_BYTES);
	return !((r[0] ^ sn->regs[0]) | (r[1] ^ sn->regs[1]) |
		 (r[2] ^ sn->regs[2]) | (r[3] ^ sn->regs[3])) &&
	       ps->maxphyaddr == sn->maxphyaddr;
#endif
}

/* The row for sig is valid under ps (else rights_row builds it). */
static inline bool rows_ok(const struct vmmu_tlb *t,
			   const struct vmmu_paging_state *ps, unsigned sig)
{
	return ((t->rows >> sig) & 1) && snap_same(t, ps);
}

/* The verdict of a built row on an entry's attributes. */
static inline bool row_allows(const struct vmmu_tlb *t, unsigned sig,
			      uint32_t attr)
{
	return (t->allowsig[attr & 0x7f] >> sig) & 1;
}

static inline size_t hc_index(uint64_t la)
{
	return (size_t)(la >> 12) & ((1U << HC_BITS) - 1);
}

static inline struct ent **hc_slot(struct vmmu_tlb *t, unsigned fetch,
				   uint64_t la)
{
	return &t->hc[fetch][hc_index(la)];
}

/*
 * The entry of an allowed hit-cache hit for an access of kind (0..2) at
 * linear address la with signature sig, or NULL: the slot's entry (in the
 * 4 KiB L1 array of the kind) still holds the page under a tag serving the
 * current one, allows the kind (nested rights, D for a write), and its
 * rights pass a built row. Counts nothing; tlb_hit_count does.
 * tlb_hit_entry_in: the same with what depends only on the kind in hand
 * (hc, the kind's hit-cache row t->hc[kind >> 1]; okbit, its attr bit
 * 1 << (A_OKSHIFT + kind)) and the tag, the caller answering for the
 * register snapshot (a run of hits derives them once).
 */
static inline struct ent *tlb_hit_entry_in(const struct vmmu_tlb *t,
					   struct ent *const *hc, uint64_t la,
					   uint32_t okbit, unsigned sig,
					   uint64_t tag)
{
	struct ent *e = hc[hc_index(la)];
	uint32_t attr = e->attr;

	if (tlb_likely(e->key == tlb_key(la, VMMU_TLB_4K) &&
		       (tlb_likely(e->tag == tag) || tag_match(e->tag, tag)) &&
		       (attr & okbit) && row_allows(t, sig, attr)))
		return e;
	return NULL;
}

/* The kind's hit-cache row and attr bit (tlb_hit_entry_in). */
static inline struct ent *const *tlb_hc_row(const struct vmmu_tlb *t,
					    unsigned kind)
{
	return t->hc[kind >> 1];                        /* FETCH: 1 */
}

static inline uint32_t tlb_ok_bit(unsigned kind)
{
	return 1U << (A_OKSHIFT + kind);
}

static inline struct ent *tlb_hit_entry(struct vmmu_tlb *t,
					const struct vmmu_paging_state *ps,
					uint64_t la, unsigned kind, unsigned sig)
{
	struct ent *e = tlb_hit_entry_in(t, tlb_hc_row(t, kind), la,
					 tlb_ok_bit(kind), sig, t->tag);

	return e && snap_same(t, ps) ? e : NULL;
}

/*
 * What a hit-cache hit changes: its array's hit count (kept apart, in one
 * word per kind, and added to st by vmmu_tlb_stats()), the LRU stamp.
 */
static inline void tlb_hit_count(struct vmmu_tlb *t, struct ent *e,
				 unsigned kind)
{
	t->hc_hits[kind >> 1]++;
	e->stamp = ++t->clock;
}

/*
 * The hit path of vmmu_tlb_lookup(): an allowed hit-cache hit, counted;
 * anything else goes to vmmu_tlb_lookup_full(). Lookups, hits and
 * per-array lookups are derived in vmmu_tlb_stats().
 */
static inline int vmmu_tlb_lookup_hit(struct vmmu_tlb *t,
				      const struct vmmu_paging_state *ps,
				      const struct vmmu_access *acc, hpa_t *hpa)
{
	uint64_t la = acc->gva.v;
	struct ent *e = NULL;

	if ((unsigned)acc->kind <= VMMU_ACCESS_FETCH && acc->cpl <= 3)
		e = tlb_hit_entry(t, ps, la, acc->kind, acc_sig(ps, acc));
	if (!e)
		return vmmu_tlb_lookup_full(t, ps, acc, hpa);
	tlb_hit_count(t, e, acc->kind);
	*hpa = mk_hpa(e->val | (la & (VMMU_PAGE_SIZE - 1)));
	return VMMU_TLB_HIT;
}

#endif
