/* SPDX-License-Identifier: MIT */
/*
 * The EPT and x86 entry formats as the manuals give them, written here
 * again on purpose: the tests decode the engine's bytes with this, never
 * with the format descriptor's own conversions.
 *
 * EPT: Intel SDM Vol. 3C 29.3.2, tables 29-1..29-6 (PML5E/PML4E, PDPTE
 * mapping 1 GiB or a table, PDE mapping 2 MiB or a table, PTE), and
 * 29.3.3.1 (what is an EPT misconfiguration).
 * x86: Intel SDM Vol. 3A 4.5, tables 4-15 (PML4E), 4-16 (PDPTE, 1 GiB),
 * 4-17 (PDPTE, table), 4-18 (PDE, 2 MiB), 4-19 (PDE, table), 4-20 (PTE);
 * AMD APM Vol. 2 5.3.3 and 5.4 (the same layout, PAT at bit 12 in large
 * leaves, bit 7 in a PTE).
 */
#include <stdio.h>

#include "pgt.h"

unsigned pgt_mutate;

uint64_t pgt_rand(struct pgt_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t pgt_below(struct pgt_rng *r, uint64_t n)
{
	return n ? pgt_rand(r) % n : 0;
}

bool pgt_chance(struct pgt_rng *r, unsigned percent)
{
	return pgt_below(r, 100) < percent;
}

const struct vmmu_pt_format *pgt_fmt(const struct pgt_cfg *c)
{
	return c->ept ? &ept_pt_format : &vmmu_pt_format_x86;
}

static const struct ept_format_ctx *ept_ctx(const struct pgt_cfg *c)
{
	return c->ctx;
}

static const struct vmmu_pt_x86_ctx *x86_ctx(const struct pgt_cfg *c)
{
	return c->ctx;
}

/* EPT: present when any of bits 2:0 is set; x86: P (bit 0). */
bool pgt_present(const struct pgt_cfg *c, uint64_t e)
{
	return c->ept ? (e & PE_RWX) != 0 : (e & PX_P) != 0;
}

uint64_t pgt_large_bit(const struct pgt_cfg *c)
{
	return c->ept ? PE_PS : PX_PS;
}

uint64_t pgt_ad_bits(const struct pgt_cfg *c)
{
	return c->ept ? PE_A | PE_D : PX_A | PX_D;
}

uint64_t pgt_w_bit(const struct pgt_cfg *c)
{
	return c->ept ? PE_W : PX_RW;
}

/*
 * A large leaf's non-address bits in the 4K layout. EPT keeps every bit in
 * place (bit 7 is PS in a large leaf, ignored in a PTE). x86 moves PAT from
 * bit 12 (tables 4-16, 4-18) to bit 7 (table 4-20) and drops PS.
 */
uint64_t pgt_leaf_attrs4k(const struct pgt_cfg *c, uint64_t e, unsigned lvl)
{
	uint64_t a = e & ~PGT_ADDR;

	if (lvl == 1)
		return a;
	if (c->ept)
		return a & ~PE_PS;
	a &= ~PX_PS;
	if ((e & PX_PATL) && pgt_mutate != 9)
		a |= PX_PAT4K;
	return a;
}

uint64_t pgt_make_leaf(const struct pgt_cfg *c, uint64_t hpa, uint64_t attrs,
		       unsigned lvl)
{
	if (lvl == 1)
		return hpa | attrs;
	if (c->ept)
		return hpa | attrs | PE_PS;
	return hpa | (attrs & ~PX_PAT4K) | PX_PS |
	       (attrs & PX_PAT4K ? PX_PATL : 0);
}

uint64_t pgt_leaf_hpa(uint64_t e, unsigned lvl)
{
	return e & PGT_ADDR & ~(vmmu_pt_level_size(lvl) - 1);
}

/*
 * SDM 29.3.3.1: W without R is a misconfiguration, and so is X without R
 * unless IA32_VMX_EPT_VPID_CAP bit 0 allows execute-only; memory types 2,
 * 3 and 7 are reserved (table 12-2). Bit 7 is the large bit: never part of
 * a 4K-layout EPT leaf.
 */
static bool ept_attrs_ok(const struct pgt_cfg *c, uint64_t a)
{
	uint64_t p = a & PE_RWX, mt = (a & PE_MT) >> 3;

	if (!p || a & (PE_PS | PE_MARKER))
		return false;
	if ((p & PE_W) && !(p & PE_R))
		return false;
	if (p == PE_X && !ept_ctx(c)->execute_only)
		return false;
	return mt != 2 && mt != 3 && mt != 7;
}

/* SDM 4.5 / APM 5.3.3: P must be set; bit 63 is reserved without NXE. */
static bool x86_attrs_ok(const struct pgt_cfg *c, uint64_t a)
{
	if (!(a & PX_P) || (a & PX_MARKER))
		return false;
	return !(a & PX_NX) || x86_ctx(c)->nx;
}

bool pgt_attrs_ok(const struct pgt_cfg *c, uint64_t attrs)
{
	if (attrs & PGT_ADDR)
		return false;
	return c->ept ? ept_attrs_ok(c, attrs) : x86_attrs_ok(c, attrs);
}

static uint64_t pick_bits(struct pgt_rng *r, uint64_t mask, unsigned percent)
{
	uint64_t out = 0;

	for (unsigned b = 0; b < 64; b++)
		if ((mask & PGT_B(b)) && pgt_chance(r, percent))
			out |= PGT_B(b);
	return out;
}

static uint64_t ept_rand_attrs(const struct pgt_cfg *c, struct pgt_rng *r)
{
	static const uint64_t perms[] = { PE_RWX, PE_RWX, PE_R | PE_W, PE_R,
					  PE_R | PE_X, PE_X };
	static const uint64_t mts[] = { 6, 6, 6, 0, 1, 4, 5 };
	unsigned np = ept_ctx(c)->execute_only ? 6 : 5;
	uint64_t a = perms[pgt_below(r, np)];

	if (pgt_chance(r, 30))
		a |= mts[pgt_below(r, 7)] << 3;
	else
		a |= 6ULL << 3;
	if (pgt_chance(r, 15))
		a |= PE_IPAT;
	if (pgt_chance(r, 15))
		a |= pick_bits(r, PE_SW | PE_SVE | PE_XU, 30);
	return a | pick_bits(r, PE_A | PE_D, 40);
}

static uint64_t x86_rand_attrs(const struct pgt_cfg *c, struct pgt_rng *r)
{
	uint64_t a = PX_P | (x86_ctx(c)->user ? PX_US : 0);

	if (pgt_chance(r, 70))
		a |= PX_RW;
	if (x86_ctx(c)->nx && pgt_chance(r, 30))
		a |= PX_NX;
	if (pgt_chance(r, 20))
		a |= pick_bits(r, PX_PWT | PX_PCD | PX_PAT4K, 50);
	if (pgt_chance(r, 10))
		a |= PX_G;
	if (pgt_chance(r, 10))
		a |= pgt_below(r, 16) << 59;
	if (pgt_chance(r, 15))
		a |= pick_bits(r, PX_SW, 30);
	return a | pick_bits(r, PX_A | PX_D, 40);
}

uint64_t pgt_rand_attrs(const struct pgt_cfg *c, struct pgt_rng *r)
{
	return c->ept ? ept_rand_attrs(c, r) : x86_rand_attrs(c, r);
}

static void ept_rand_update(struct pgt_rng *r, uint64_t *clear,
			    uint64_t *set)
{
	static const uint64_t mts[] = { 0, 1, 4, 5, 6, 6, 2, 3, 7 };

	switch (pgt_below(r, 9)) {
	case 0: *clear = PE_W; break;
	case 1: *set = PE_W | (pgt_chance(r, 70) ? PE_R : 0); break;
	case 2: *clear = PE_X; *set = pgt_chance(r, 50) ? PE_X : 0; break;
	case 3:
		*clear = PE_MT;
		*set = mts[pgt_below(r, pgt_chance(r, 90) ? 6 : 9)] << 3;
		break;
	case 4: *clear = pick_bits(r, PE_SW, 40); *set = pick_bits(r, PE_SW, 30); break;
	case 5: *clear = pick_bits(r, PE_A | PE_D, 50); *set = pick_bits(r, PE_A | PE_D, 30); break;
	case 6: *clear = pick_bits(r, PE_IPAT | PE_SVE | PE_XU, 50);
		*set = pick_bits(r, PE_IPAT | PE_SVE | PE_XU, 50); break;
	case 7: *clear = PE_R; break;
	default: *clear = PE_RWX; *set = pick_bits(r, PE_RWX, 30); break;
	}
}

static void x86_rand_update(struct pgt_rng *r, uint64_t *clear,
			    uint64_t *set)
{
	switch (pgt_below(r, 8)) {
	case 0: *clear = PX_RW; break;
	case 1: *set = PX_RW; break;
	case 2: *clear = PX_NX; *set = pgt_chance(r, 50) ? PX_NX : 0; break;
	case 3: *clear = PX_PWT | PX_PCD | PX_PAT4K;
		*set = pick_bits(r, PX_PWT | PX_PCD | PX_PAT4K, 50); break;
	case 4: *clear = pick_bits(r, PX_SW, 40); *set = pick_bits(r, PX_SW, 30); break;
	case 5: *clear = pick_bits(r, PX_A | PX_D, 50); *set = pick_bits(r, PX_A | PX_D, 30); break;
	case 6: *clear = pick_bits(r, PX_G | PX_PK, 50); *set = pick_bits(r, PX_G | PX_PK, 50); break;
	default: *clear = PX_P; break;
	}
}

void pgt_rand_update(const struct pgt_cfg *c, struct pgt_rng *r,
		     uint64_t *clear, uint64_t *set)
{
	*clear = *set = 0;
	if (c->ept)
		ept_rand_update(r, clear, set);
	else
		x86_rand_update(r, clear, set);
}

/*
 * A non-leaf entry must not restrict what its leaves grant, or the leaf
 * bits would not be the whole story: EPT R, W and X all set and bits 7:3
 * zero (reserved in a non-leaf entry, 29.3.3.1); x86 P and R/W set, U/S set
 * when the table is walked by user accesses (NPT, APM 15.25.5), XD clear.
 */
bool pgt_table_entry_ok(const struct pgt_cfg *c, uint64_t e, char *why,
			size_t n)
{
	const char *bad = NULL;

	if (c->ept) {
		if ((e & PE_RWX) != PE_RWX)
			bad = "does not grant R, W and X";
		else if (e & 0xf8)
			bad = "has reserved bits 7:3 set";
	} else {
		if (!(e & PX_P) || !(e & PX_RW))
			bad = "is not present and writable";
		else if (x86_ctx(c)->user && !(e & PX_US))
			bad = "lacks U/S in a user-walked table";
		else if (e & (PX_NX | PX_PS))
			bad = "has XD or PS set";
	}
	if (bad)
		snprintf(why, n, "table entry %#llx %s",
			 (unsigned long long)e, bad);
	return bad == NULL;
}

/*
 * The next walk through a marked entry must trap: EPT not present or a
 * misconfiguration (reserved bits 7:3 in a non-leaf entry); x86 not
 * present, or U/S clear in a table walked by user accesses.
 */
bool pgt_marker_traps(const struct pgt_cfg *c, uint64_t e)
{
	if (c->ept)
		return !(e & PE_RWX) || (e & 0xf8);
	return !(e & PX_P) || (x86_ctx(c)->user && !(e & PX_US));
}
