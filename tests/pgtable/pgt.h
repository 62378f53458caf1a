/* SPDX-License-Identifier: MIT */
/*
 * tests/pgtable: the page-table engine (core/pgtable.h) held against an
 * independent flat reference model. Nothing here uses the engine's own
 * decoding (fmt->attrs_to_4k, vmmu_pt_leaf_attrs, ...): entries are decoded
 * from the Intel SDM and AMD APM bit tables, in pgt_bits.c.
 *
 * pgt_bits.c    bit layouts, validity, random attributes
 * pgt_walk.c    our own walker over the table bytes and the invariants
 * pgt_check.c   environment (arena, failing platform), model comparison,
 *               the flush / deferred-free rules around every operation
 * pgt_recalc.c  the lazy-recalculation policy and its expectations
 * test_*.c      directed, random-sequence and out-of-memory tests
 */
#ifndef TESTS_PGTABLE_PGT_H
#define TESTS_PGTABLE_PGT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pgtable.h"
#include "core/pt_x86.h"
#include "ept/ept_format.h"
#include "vmmu/hosted.h"
#include "vmmu/error.h"

#define PGT_B(n) (1ULL << (n))
#define PGT_KB4 0x1000ULL
#define PGT_MB2 0x200000ULL
#define PGT_GB1 0x40000000ULL

/* Address bits 51:12 of any 64-bit entry (SDM Vol. 3A 4.5, Vol. 3C 29.3.2). */
#define PGT_ADDR 0x000ffffffffff000ULL

/* EPT entry bits: SDM Vol. 3C 29.3.2, tables 29-1..29-6. */
#define PE_R    PGT_B(0)
#define PE_W    PGT_B(1)
#define PE_X    PGT_B(2)
#define PE_RWX  (PE_R | PE_W | PE_X)
#define PE_MT   (7ULL << 3)         /* bits 5:3, leaves only */
#define PE_IPAT PGT_B(6)            /* leaves only */
#define PE_PS   PGT_B(7)            /* PDPTE / PDE: maps a page */
#define PE_A    PGT_B(8)
#define PE_D    PGT_B(9)            /* leaves only */
#define PE_XU   PGT_B(10)
#define PE_SVE  PGT_B(63)
/*
 * Ignored bits with no feature behind them here: 11, 56:52, 59, 62. vmmu
 * keeps bit 56 for its recalculation marker (ept/ept_format.h), so a leaf
 * may not carry it.
 */
#define PE_MARKER PGT_B(56)
#define PE_SW   (PGT_B(11) | (0xfULL << 52) | PGT_B(59) | PGT_B(62))

/* x86 entry bits: SDM Vol. 3A tables 4-15..4-20, APM Vol. 2 5.3.3. */
#define PX_P     PGT_B(0)
#define PX_RW    PGT_B(1)
#define PX_US    PGT_B(2)
#define PX_PWT   PGT_B(3)
#define PX_PCD   PGT_B(4)
#define PX_A     PGT_B(5)
#define PX_D     PGT_B(6)
#define PX_PAT4K PGT_B(7)           /* PAT in a 4 KiB PTE (table 4-20) */
#define PX_PS    PGT_B(7)           /* PS in a PDPTE / PDE */
#define PX_G     PGT_B(8)
#define PX_PATL  PGT_B(12)          /* PAT in a 2M/1G leaf (4-16, 4-18) */
#define PX_PK    (0xfULL << 59)     /* protection key, bits 62:59 */
#define PX_NX    PGT_B(63)
/*
 * Ignored bits: 11:9 and 58:52 (tables 4-15..4-20). vmmu keeps 56 and 57
 * for its recalculation marker (core/pt_x86.h): never in a leaf.
 */
#define PX_MARKER (3ULL << 56)
#define PX_SW    ((7ULL << 9) | (0xfULL << 52) | PGT_B(58))

/* The recalculation counter our policy increments (ignored bits 53:52). */
#define PGT_CTR_SHIFT 52
#define PGT_CTR       (3ULL << PGT_CTR_SHIFT)

struct pgt_cfg {
	const char *name;
	bool ept;
	const void *ctx;            /* struct ept_format_ctx / vmmu_pt_x86_ctx */
	unsigned levels, max_leaf;
};

/* splitmix64 */
struct pgt_rng { uint64_t s; };
uint64_t pgt_rand(struct pgt_rng *r);
uint64_t pgt_below(struct pgt_rng *r, uint64_t n);
bool pgt_chance(struct pgt_rng *r, unsigned percent);

/* ---- pgt_bits.c: the formats, from the manuals ---- */
extern unsigned pgt_mutate;     /* PGT_MUTATE, for the decoding itself */
const struct vmmu_pt_format *pgt_fmt(const struct pgt_cfg *c);
bool pgt_present(const struct pgt_cfg *c, uint64_t e);
uint64_t pgt_large_bit(const struct pgt_cfg *c);
/* 4K-layout attributes (bits 11:0, 63:52) of leaf e at level. */
uint64_t pgt_leaf_attrs4k(const struct pgt_cfg *c, uint64_t e, unsigned lvl);
/* The raw leaf at level for 4K-layout attrs and page address. */
uint64_t pgt_make_leaf(const struct pgt_cfg *c, uint64_t hpa, uint64_t attrs,
		       unsigned lvl);
uint64_t pgt_leaf_hpa(uint64_t e, unsigned lvl);
/* Whether the hardware accepts a leaf with these 4K-layout attributes. */
bool pgt_attrs_ok(const struct pgt_cfg *c, uint64_t attrs);
/* Accessed and dirty (what a merge ORs), write permission, 4K layout. */
uint64_t pgt_ad_bits(const struct pgt_cfg *c);
uint64_t pgt_w_bit(const struct pgt_cfg *c);
/* Random valid leaf attributes, biased to a small palette. */
uint64_t pgt_rand_attrs(const struct pgt_cfg *c, struct pgt_rng *r);
/* Random (clear, set) for update; may produce refused results. */
void pgt_rand_update(const struct pgt_cfg *c, struct pgt_rng *r,
		     uint64_t *clear, uint64_t *set);
/* A table entry that grants everything, as the manuals require. */
bool pgt_table_entry_ok(const struct pgt_cfg *c, uint64_t e, char *why,
			size_t n);
/* A marked entry must make a hardware walk trap. */
bool pgt_marker_traps(const struct pgt_cfg *c, uint64_t e);

/* ---- pgt_walk.c: our walker ---- */
struct pgt_leaf {
	uint64_t va, e;
	unsigned level;
	bool pending;               /* a marked entry above it */
};
struct pgt_mark { uint64_t va; unsigned level; };
struct pgt_table { uint64_t hpa, va; unsigned level; bool pending; };

struct pgt_tree {
	struct pgt_leaf *leaves;
	size_t nleaves, lcap;
	struct pgt_table *tables;   /* reachable table pages, root first */
	size_t ntables, tcap;
	struct pgt_mark *marks;
	size_t nmarks, mcap;
	uint64_t *bytes;            /* snapshot: 512 entries per table */
	size_t bcap;
	char err[256];
};

struct pgt_env;
/* Walk everything reachable; 0, or -1 with tree->err set. */
int pgt_walk(struct pgt_env *env, struct pgt_tree *t, bool snapshot);
void pgt_tree_free(struct pgt_tree *t);
/* The leaf covering va in t (NULL if none). */
const struct pgt_leaf *pgt_find_leaf(const struct pgt_tree *t, uint64_t va);
/* Whether a marked entry is on the path to va. */
bool pgt_tree_pending(const struct pgt_tree *t, uint64_t va);
size_t pgt_find_table(const struct pgt_tree *t, uint64_t hpa);

/* ---- pgt_check.c: environment and checked operations ---- */
struct pgt_page { uint64_t hpa, attrs; };   /* attrs 0: unmapped */

struct pgt_failplat {
	struct vmmu_platform inner;
	long calls;                 /* alloc_page + zalloc calls so far */
	long fail_at;               /* 0: never */
	bool sticky;                /* fail every call from fail_at on */
	long failed;
};

struct pgt_deferred { uint64_t hpa, hash; };

struct pgt_env {
	const struct pgt_cfg *cfg;
	struct vmmu_hosted_arena *arena;
	struct pgt_failplat fail;
	struct vmmu_platform plat;
	struct vmmu_pt pt;
	bool have_pt;
	uint64_t wbase, wpages;
	struct pgt_page *model, *old;
	struct pgt_tree pre, post;
	bool post_valid;
	size_t nd0;
	uint64_t inuse0;
	struct vmmu_pt_stats stats0;
	struct pgt_deferred *dl;
	size_t ndl, dlcap;
	struct vmmu_pt_change chg;
	uint64_t onleaf_calls;
	struct pgt_onleaf { uint64_t addr, old, new_entry; unsigned level; } *ol;
	size_t olcap;
	uint64_t seed;
	unsigned opno;
	const char *op;
	unsigned mutate;            /* PGT_MUTATE: a deliberately wrong check */
	uint64_t palette[4];        /* attributes the random ops favour */
	uint64_t hoff;              /* hpa - va for "identity-like" maps */
	unsigned policy_shift;      /* recalc policy shift + 1; 0: random */
	bool no_fn_errors;          /* the recalc callback never fails */
};

void pgt_fail_at(struct pgt_env *env, const char *file, int line,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define PGT_CHECK(env, cond, ...) \
	do { \
		if (!(cond)) \
			pgt_fail_at(env, __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

void pgt_env_init(struct pgt_env *env, const struct pgt_cfg *cfg,
		  uint64_t wbase, uint64_t wpages, uint64_t seed);
void pgt_env_fini(struct pgt_env *env);
struct pgt_page *pgt_model_page(struct pgt_env *env, uint64_t va);
bool pgt_in_window(const struct pgt_env *env, uint64_t va, uint64_t size);

/*
 * Around every operation: pgt_begin snapshots the tree and the model,
 * pgt_end walks the tree again and checks the invariants, the model (every
 * 4 KiB page of the window: translation and every attribute bit), the
 * flush rule and the deferred-free rule.
 */
void pgt_begin(struct pgt_env *env, const char *op);
struct vmmu_pt_change *pgt_chg(struct pgt_env *env);
void pgt_end(struct pgt_env *env, int rc);
/* pgt_end in two halves, for expectations that need the new structure. */
void pgt_end_walk(struct pgt_env *env, int rc);
void pgt_end_check(struct pgt_env *env);
/* The flush rule and leaves_changed (part of pgt_end_check). */
void pgt_check_change(struct pgt_env *env);
/* Leaves outside [lo, hi) keep their pending state (marker above). */
void pgt_check_pending_kept(struct pgt_env *env, uint64_t lo, uint64_t hi);
void pgt_check_tree(struct pgt_env *env, struct pgt_tree *t);
void pgt_check_model(struct pgt_env *env, const struct pgt_tree *t);
/* Every page of the window is either its old or its new (model) value. */
void pgt_check_old_or_new(struct pgt_env *env, const struct pgt_page *newm,
			  const struct pgt_tree *t);
void pgt_free_deferred_checked(struct pgt_env *env);
/* After a refused operation: the tree's bytes are exactly as before. */
void pgt_check_unchanged(struct pgt_env *env);
bool pgt_uniform(struct pgt_env *env, const struct pgt_tree *t, uint64_t va,
		 unsigned level);

/* ---- pgt_recalc.c ---- */
struct pgt_policy {
	struct pgt_env *env;
	unsigned shift;             /* class of a page: hash(pfn >> shift) */
	uint64_t salt;
	uint64_t lo, hi;            /* leaves not inside [lo, hi) split */
	uint64_t calls, applied, splits;
	uint64_t fail_at;           /* return VMMU_EIO at this call (0: never) */
	uint8_t *hits;              /* applications per window page */
};
int pgt_policy_fn(void *ctx, uint64_t addr, unsigned level, uint64_t old,
		  uint64_t *out);
uint64_t pgt_policy_apply(const struct pgt_cfg *c, uint64_t attrs, bool cls);
bool pgt_policy_class(const struct pgt_policy *p, uint64_t va);
void pgt_policy_init(struct pgt_policy *p, struct pgt_env *env,
		     struct pgt_rng *r, uint64_t lo, uint64_t hi);
void pgt_policy_fini(struct pgt_policy *p);
/* Checked mark_recalc / recalc with their expectations. */
int pgt_do_mark(struct pgt_env *env, struct pgt_rng *r, uint64_t addr,
		uint64_t size);
int pgt_do_recalc(struct pgt_env *env, struct pgt_rng *r, uint64_t addr);

/* ---- test groups ---- */
extern const struct pgt_cfg pgt_cfgs[];
extern const size_t pgt_ncfgs;
uint64_t pgt_seed_base(void);
void pgt_random_ops(struct pgt_env *env, struct pgt_rng *r, unsigned nops,
		    bool big);
int pgt_random_op(struct pgt_env *env, struct pgt_rng *r, bool big);
int pgt_do_map(struct pgt_env *env, uint64_t va, uint64_t hpa, uint64_t size,
	       uint64_t attrs);
int pgt_do_unmap(struct pgt_env *env, uint64_t va, uint64_t size);
int pgt_do_unmap_all(struct pgt_env *env);
int pgt_do_update(struct pgt_env *env, uint64_t va, uint64_t size,
		  uint64_t clear, uint64_t set);
int pgt_do_split(struct pgt_env *env, uint64_t va, unsigned level);
int pgt_do_merge(struct pgt_env *env, uint64_t va, unsigned level);
int pgt_do_test_and_clear(struct pgt_env *env, uint64_t va, uint64_t size,
			  uint64_t bits);
/* stop_at: the callback returns non-zero at that call (0: never). */
int pgt_do_for_each(struct pgt_env *env, uint64_t va, uint64_t size,
		    size_t stop_at);
void pgt_check_lookup(struct pgt_env *env, uint64_t va);

#endif
