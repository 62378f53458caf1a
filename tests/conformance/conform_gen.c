/* SPDX-License-Identifier: MIT */
/*
 * Random conformance cases. A case is a small forest of page tables in the
 * case region (batch.h) reached from CR3, a few target pages holding the
 * tag pattern, and up to CONF_MAX_ACCESSES accesses to them. Entries get
 * random flags, and now and then one random bit flipped (reserved bits,
 * PS, XD, PK, ignored bits): which of those fault is for the walker and the
 * emulator to say, the generator does not encode the rules.
 *
 * Every case also links the kernel's identity map of [0, 4 MiB) at linear
 * 0 (the fixed tables in batch.h), with A (and D) already set so that the
 * kernel's own accesses never change a case's memory; targets avoid it.
 */
#include <string.h>

#include "conform.h"

#define CR0_PE   (1ULL << 0)
#define CR0_ET   (1ULL << 4)
#define CR0_WP   (1ULL << 16)
#define CR0_PG   (1ULL << 31)
#define CR4_PSE  (1ULL << 4)
#define CR4_PAE  (1ULL << 5)
#define CR4_LA57 (1ULL << 12)
#define CR4_SMEP (1ULL << 20)
#define CR4_SMAP (1ULL << 21)
#define CR4_PKE  (1ULL << 22)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define RFLAGS_AC (1ULL << 18)

#define PTE_P   0x001ULL
#define PTE_W   0x002ULL
#define PTE_U   0x004ULL
#define PTE_A   0x020ULL
#define PTE_D   0x040ULL
#define PTE_PS  0x080ULL

#define MAX_TARGETS 4

struct gen {
	struct conf_case *c;
	const struct conf_cpu *cpu;
	uint64_t rng;
	unsigned esize;         /* entry size: 4 or 8 */
	unsigned top;           /* root level: 2 (2-level), 3 (PAE), 4, 5 */
	/* pages handed out, written or not: a fresh table must not be one
	 * (two kernel-path tables on one page broke the kernel's own map) */
	uint64_t allocated[64];
	unsigned nallocated;
};

static uint64_t rnd(struct gen *g)
{
	/* splitmix64: tiny, and every case reproducible from its id */
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* true with probability pct/100 */
static bool chance(struct gen *g, unsigned pct)
{
	return rnd(g) % 100 < pct;
}

uint64_t conf_case_word(const struct conf_case *c, uint64_t gpa)
{
	uint32_t i;

	for (i = 0; i < c->nwords; i++)
		if (c->words[i].gpa == gpa)
			return c->words[i].value;
	return 0;
}

/* Store size (4 or 8) bytes at gpa into the word list. */
static void mem_set(struct conf_case *c, uint64_t gpa, uint64_t v, unsigned size)
{
	uint64_t wgpa = gpa & ~7ULL, mask, old;
	unsigned shift = (unsigned)(gpa & 7) * 8;
	uint32_t i;

	mask = size == 8 ? ~0ULL : 0xffffffffULL << shift;
	v = size == 8 ? v : (v & 0xffffffffULL) << shift;
	for (i = 0; i < c->nwords; i++)
		if (c->words[i].gpa == wgpa)
			break;
	old = i < c->nwords ? c->words[i].value : 0;
	if (i == c->nwords) {
		if (c->nwords == CONF_MAX_WORDS)
			return;         /* full: the case stays smaller */
		c->words[c->nwords++].gpa = wgpa;
	}
	c->words[i].value = (old & ~mask) | v;
}

static uint64_t mem_get(const struct conf_case *c, uint64_t gpa, unsigned size)
{
	uint64_t w = conf_case_word(c, gpa & ~7ULL);

	return size == 8 ? w : (w >> ((gpa & 7) * 8)) & 0xffffffffULL;
}

static bool page_used(const struct conf_case *c, uint64_t base, uint64_t size)
{
	uint32_t i;

	for (i = 0; i < c->nwords; i++)
		if (c->words[i].gpa - base < size)
			return true;
	return false;
}

/* A fresh page of the given size and alignment in the case region. */
static bool page_allocated(const struct gen *g, uint64_t p)
{
	unsigned i;

	for (i = 0; i < g->nallocated; i++)
		if (g->allocated[i] == p)
			return true;
	return false;
}

static uint64_t alloc_page(struct gen *g, uint64_t size)
{
	uint64_t span = (conf_case_limit(g->cpu) - CB_CASE_BASE) / size, p;
	int tries = 0;

	if (size >= (1ULL << 30))
		return 0x40000000ULL;   /* the one 1 GiB frame inside the region */
	do {
		p = CB_CASE_BASE + (rnd(g) % span) * size;
	} while ((page_used(g->c, p, 4096) || page_allocated(g, p)) && ++tries < 64);
	if (g->nallocated < sizeof(g->allocated) / sizeof(g->allocated[0]))
		g->allocated[g->nallocated++] = p;
	return p;
}

static unsigned level_shift(const struct gen *g, unsigned level)
{
	return 12 + (g->esize == 4 ? 10 : 9) * (level - 1);
}

static unsigned level_index(const struct gen *g, uint64_t gva, unsigned level)
{
	unsigned bits = g->esize == 4 ? 10 : 9;

	if (g->top == 3 && level == 3)
		bits = 2;
	return (unsigned)(gva >> level_shift(g, level)) & ((1u << bits) - 1);
}

static uint64_t addr_mask(const struct gen *g)
{
	return g->esize == 4 ? 0xfffff000ULL : 0x000ffffffffff000ULL;
}

/* Can a PS=1 entry at this level map a page (ignoring CR4.PSE in 2-level)? */
static bool may_be_leaf(const struct gen *g, unsigned level)
{
	if (level == 2)
		return true;
	return level == 3 && g->top >= 4;
}

/*
 * Flip one bit that is not P and not a low address bit that would move a
 * table out of the case region: flags, large-page reserved/PAT/PSE-36
 * bits, the address bits above 31 (to MAXPHYADDR and beyond), PK, XD.
 */
static uint64_t noise_bit(struct gen *g)
{
	static const uint8_t bits[] = {
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 20, 21, 29,
		32, 33, 36, 39, 40, 45, 46, 47, 51, 52, 55, 58, 59, 61, 62, 63,
	};
	unsigned n = g->esize == 4 ? 17 : sizeof(bits);

	return 1ULL << bits[rnd(g) % n];
}

static uint64_t random_flags(struct gen *g, unsigned level, bool leaf)
{
	uint64_t e = 0;

	if (!chance(g, 4))
		e |= PTE_P;
	if (!chance(g, 25))
		e |= PTE_W;
	if (!chance(g, 25))
		e |= PTE_U;
	e |= rnd(g) & 0x18;                     /* PWT, PCD */
	if (chance(g, 50))
		e |= PTE_A;
	if (leaf && chance(g, 50))
		e |= PTE_D;
	if (leaf && level > 1)
		e |= PTE_PS;
	e |= rnd(g) & 0xe00;                    /* ignored 9..11 (G at 8 below) */
	if (leaf && chance(g, 30))
		e |= 0x100;
	if (g->esize == 8) {
		if (chance(g, 20))
			e |= 1ULL << 63;        /* XD */
		if (g->top >= 4 && leaf && chance(g, 60))
			e |= (rnd(g) & 0xfULL) << 59;  /* protection key */
	}
	if (chance(g, 5))
		e ^= noise_bit(g);
	return e;
}

static void set_entry(struct gen *g, uint64_t table, unsigned idx, uint64_t e)
{
	mem_set(g->c, table + (uint64_t)idx * g->esize, e, g->esize);
}

static uint64_t get_entry(struct gen *g, uint64_t table, unsigned idx)
{
	return mem_get(g->c, table + (uint64_t)idx * g->esize, g->esize);
}

/* Link [0, 4 MiB) to the kernel's fixed tables, every flag it needs. */
static void link_kernel(struct gen *g, uint64_t root)
{
	const uint64_t up = PTE_P | PTE_W | PTE_U | PTE_A;
	uint64_t t = root, next;
	unsigned level;

	if (g->top == 2) {
		set_entry(g, root, 0, CB_FIXED_PT32 | up);
		return;
	}
	for (level = g->top; level > 2; level--) {
		next = alloc_page(g, 4096);
		/* a PAE PDPTE has only P, PWT, PCD (SDM Table 4-8) */
		set_entry(g, t, 0, next | (g->top == 3 ? PTE_P : up));
		t = next;
	}
	set_entry(g, t, 0, CB_FIXED_PT64_0 | up);
	set_entry(g, t, 1, CB_FIXED_PT64_1 | up);
}

/*
 * Build (or follow) the walk for gva and place the pattern at the gpa the
 * tables give it if they are well formed. Returns true when the pattern
 * sits at that gpa (a fetch may then run it).
 */
static bool build_walk(struct gen *g, uint64_t gva)
{
	uint64_t table = g->c->cr3 & (g->top == 3 ? 0xffffffe0ULL : addr_mask(g));
	unsigned level;

	for (level = g->top; level >= 1; level--) {
		unsigned idx = level_index(g, gva, level);
		uint64_t e = get_entry(g, table, idx);
		bool leaf;

		if (!e) {
			leaf = level == 1 || (may_be_leaf(g, level) && chance(g, 30));
			if (g->top == 3 && level == 3) {
				e = alloc_page(g, 4096) | PTE_P | (rnd(g) & 0x18);
				if (chance(g, 4))
					e ^= chance(g, 50) ? PTE_P : noise_bit(g);
			} else {
				uint64_t size = 1ULL << level_shift(g, level);

				e = random_flags(g, level, leaf) |
				    alloc_page(g, leaf ? size : 4096);
			}
			set_entry(g, table, idx, e);
		}
		leaf = level == 1 || ((e & PTE_PS) && may_be_leaf(g, level) &&
				      !(g->top == 3 && level == 3) &&
				      (g->top != 2 || (g->c->cr4 & CR4_PSE)));
		/* PSE-36 address bits put the page above 4 GiB: no RAM there */
		if (leaf && g->top == 2 && level == 2 && (e & 0x3fe000))
			return false;
		if (leaf) {
			uint64_t size = 1ULL << level_shift(g, level);
			uint64_t base = e & addr_mask(g) & ~(size - 1);
			uint64_t gpa = base | (gva & (size - 1) & ~0xfULL);

			if (gpa < CB_CASE_BASE || gpa + 16 > conf_case_limit(g->cpu) ||
			    conf_case_word(g->c, gpa) ||
			    conf_case_word(g->c, gpa + 8))
				return false;
			mem_set(g->c, gpa, CB_PATTERN_LO(gva ^ (gva >> 32) ^ g->c->id), 8);
			mem_set(g->c, gpa + 8, CB_PATTERN_HI, 8);
			return true;
		}
		table = e & addr_mask(g);
		if (table < CB_CASE_BASE || table >= conf_case_limit(g->cpu))
			return false;
	}
	return false;
}

/* A 16-byte aligned gva outside the kernel's [0, 4 MiB), canonical. */
static uint64_t random_gva(struct gen *g, const uint64_t *prev, unsigned nprev)
{
	unsigned va_bits = g->top == 5 ? 57 : g->top == 4 ? 48 : 32;
	uint64_t gva;

	do {
		gva = rnd(g);
		if (nprev && chance(g, 60)) {
			/* share the upper levels with an earlier target */
			unsigned keep = 12 + (unsigned)(rnd(g) % (va_bits - 12));
			uint64_t low = (1ULL << keep) - 1;

			gva = (prev[rnd(g) % nprev] & ~low) | (gva & low);
		}
		gva &= (va_bits == 64 ? ~0ULL : (1ULL << va_bits) - 1) & ~0xfULL;
		if (va_bits < 64 && g->top >= 4 && (gva >> (va_bits - 1)) & 1)
			gva |= ~0ULL << va_bits;        /* sign-extend */
	} while (gva < CB_RESERVED_END);
	return gva;
}

static void gen_registers(struct gen *g, enum conf_mode mode)
{
	const struct conf_cpu *cpu = g->cpu;
	struct conf_case *c = g->c;

	c->cr0 = CR0_PG | CR0_PE | CR0_ET | (chance(g, 60) ? CR0_WP : 0);
	c->cr4 = 0;
	if (chance(g, 50))
		c->cr4 |= CR4_PSE;
	if (mode != CONF_2LEVEL)
		c->cr4 |= CR4_PAE;
	if (mode == CONF_5LEVEL)
		c->cr4 |= CR4_LA57;
	if (cpu->smep && chance(g, 40))
		c->cr4 |= CR4_SMEP;
	if (cpu->smap && chance(g, 40))
		c->cr4 |= CR4_SMAP;
	if (cpu->pku && chance(g, 50))
		c->cr4 |= CR4_PKE;
	c->efer = 0;
	if (cpu->nx && chance(g, 70))
		c->efer |= EFER_NXE;
	if (mode >= CONF_4LEVEL)
		c->efer |= EFER_LME | EFER_LMA;
	c->rflags = 0x2 | (chance(g, 40) ? RFLAGS_AC : 0);
	c->pkru = chance(g, 30) ? 0 : (uint32_t)rnd(g);
	if (cpu->pkru_by_cpl)
		c->pkru &= ~3u;         /* the kernel's pages have key 0 */
}

void conf_gen_case(struct conf_case *c, enum conf_mode mode,
		   const struct conf_cpu *cpu, uint64_t seed, uint32_t id)
{
	struct gen g = {
		.c = c, .cpu = cpu,
		.rng = seed * 0x100000001b3ULL ^ ((uint64_t)mode << 56) ^ id,
		.esize = mode == CONF_2LEVEL ? 4 : 8,
		.top = mode == CONF_2LEVEL ? 2 : mode == CONF_PAE ? 3 :
		       mode == CONF_4LEVEL ? 4 : 5,
	};
	uint64_t targets[MAX_TARGETS];
	bool runnable[MAX_TARGETS];
	unsigned ntargets, i;

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->mode = mode;
	gen_registers(&g, mode);
	c->cr3 = mode == CONF_PAE ? (alloc_page(&g, 4096) | ((rnd(&g) % 128) << 5))
				  : alloc_page(&g, 4096) | (rnd(&g) & 0x18);
	link_kernel(&g, c->cr3 & (mode == CONF_PAE ? 0xffffffe0ULL : addr_mask(&g)));
	ntargets = 1 + (unsigned)(rnd(&g) % MAX_TARGETS);
	for (i = 0; i < ntargets; i++) {
		targets[i] = random_gva(&g, targets, i);
		runnable[i] = build_walk(&g, targets[i]);
	}
	c->naccesses = 1 + (unsigned)(rnd(&g) % CONF_MAX_ACCESSES);
	for (i = 0; i < c->naccesses; i++) {
		unsigned t = (unsigned)(rnd(&g) % ntargets);
		struct cb_access *a = &c->acc[i];

		a->kind = (uint8_t)(rnd(&g) % 3);
		/* fetch only where the pattern is: anything else could run away */
		if (a->kind == CB_FETCH && !runnable[t])
			a->kind = CB_READ;
		a->cpl = chance(&g, 50) ? 3 : 0;
		a->gva = targets[t] + (a->kind == CB_FETCH ? 0 : CB_TAG_OFFSET);
	}
}
