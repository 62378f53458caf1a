/* SPDX-License-Identifier: MIT */
/*
 * Seeded random cases over the permission space of 4-level paging: P, W,
 * U, A, D, NX, PS (2 MiB leaf) and a reserved bit at every level, with
 * EFER.NXE, CR0.WP, CR4.SMEP, CR4.SMAP, RFLAGS.AC, CPL 0/3 and read,
 * write, fetch and implicit supervisor (descriptor-table) accesses. The
 * same seed gives the same case on every machine.
 */
#include <string.h>

#include "oracle.h"

#define GEN_IGN_LOW   0xe00ULL                 /* bits 11:9, ignored */
#define GEN_IGN_HIGH  (0x7fULL << 52)          /* bits 58:52, ignored */
#define GEN_PK_BITS   (0xfULL << 59)           /* PK, ignored if !CR4.PKE */

/* splitmix64: small, fast, and identical everywhere. */
uint64_t orc_rng_next(struct orc_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* True with probability num/den. */
static bool chance(struct orc_rng *r, unsigned num, unsigned den)
{
	return orc_rng_next(r) % den < num;
}

static uint64_t pick(struct orc_rng *r, uint64_t n)
{
	return orc_rng_next(r) % n;
}

/*
 * A reserved bit for an entry at the given level (4 = PML4E, 1 = PTE),
 * per SDM Vol. 3A 4.5 tables 4-15..4-20 with KVM's MAXPHYADDR M and AMD's
 * reserved PML4E bit 8 (APM Vol. 2 5.3.3): address bits 51:M anywhere;
 * PS in a PML4E; PS in a PDPTE (a 1 GiB page, absent here); bits 20:13
 * of a 2 MiB PDE.
 */
static uint64_t reserved_bit(struct orc_rng *r, unsigned level, bool leaf,
			     unsigned maxphyaddr)
{
	unsigned choice = (unsigned)pick(r, 3);

	if (choice == 0 || (level == 1) || (level == 2 && !leaf))
		return maxphyaddr >= 52 ? 0 :   /* no address bit is reserved */
		       1ULL << (maxphyaddr + pick(r, 52 - maxphyaddr));
	if (level == 4)
		return choice == 1 ? X86_PTE_PS : X86_PTE_G;
	if (level == 3)
		return X86_PTE_PS;
	return 1ULL << (13 + pick(r, 8));      /* 2 MiB PDE */
}

/* Flags of one entry; `level` 4..1, `leaf` true for the PTE or 2 MiB PDE. */
static uint64_t gen_flags(struct orc_rng *r, unsigned level, bool leaf,
			  unsigned maxphyaddr)
{
	uint64_t e = 0;

	e |= chance(r, 15, 16) ? X86_PTE_P : 0;
	e |= chance(r, 3, 4) ? X86_PTE_RW : 0;
	e |= chance(r, 3, 4) ? X86_PTE_US : 0;
	e |= chance(r, 1, 2) ? X86_PTE_A : 0;
	e |= chance(r, 1, 2) ? X86_PTE_D : 0;
	e |= chance(r, 1, 4) ? X86_PTE_NX : 0;
	e |= chance(r, 1, 4) ? X86_PTE_PWT : 0;
	e |= chance(r, 1, 4) ? X86_PTE_PCD : 0;
	if (chance(r, 1, 4))
		e |= orc_rng_next(r) & (GEN_IGN_LOW | GEN_IGN_HIGH | GEN_PK_BITS);
	/* G in a leaf; ignored in a non-leaf PDPTE/PDE; reserved in a PML4E. */
	if (level != 4)
		e |= chance(r, 1, 4) ? X86_PTE_G : 0;
	if (leaf) {
		/* PAT: bit 7 of a PTE, bit 12 of a 2 MiB PDE. */
		if (chance(r, 1, 4))
			e |= level == 1 ? X86_PTE_PS : 1ULL << 12;
	}
	if (chance(r, 1, 16))
		e |= reserved_bit(r, level, leaf, maxphyaddr);
	return e;
}

static void gen_control(struct orc_rng *r, struct orc_case *c, bool pku)
{
	/* PE, MP, ET, NE, PG always; WP random. */
	c->cr0 = 0x80000033ULL | (chance(r, 1, 2) ? X86_CR0_WP : 0);
	c->cr4 = X86_CR4_PAE | (chance(r, 1, 2) ? X86_CR4_SMEP : 0) |
		 (chance(r, 1, 2) ? X86_CR4_SMAP : 0);
	/*
	 * Protection keys in half the cases where KVM can run them; key 0
	 * (the harness's pages) stays readable and writable.
	 */
	if (pku && chance(r, 1, 2)) {
		c->cr4 |= X86_CR4_PKE;
		c->pkru = (uint32_t)orc_rng_next(r) & ~3u;
	}
	c->efer = X86_EFER_LME | X86_EFER_LMA |
		  (chance(r, 3, 4) ? X86_EFER_NXE : 0);
	c->ac = chance(r, 1, 2);
	c->cr3_flags = orc_rng_next(r) & (X86_PTE_PWT | X86_PTE_PCD);
}

static bool is_canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* Accesses within the leaf: aligned 8-byte slots (no #AC at CPL 3). */
static void gen_accesses(struct orc_rng *r, struct orc_case *c, uint64_t base)
{
	uint64_t span = c->levels == 4 ? 0x1000ULL : 0x200000ULL;

	c->naccess = 1 + (unsigned)chance(r, 1, 2) + (unsigned)chance(r, 1, 4);
	for (unsigned i = 0; i < c->naccess; i++) {
		struct orc_access *a = &c->access[i];

		a->kind = (enum vmmu_access_kind)pick(r, 3);
		a->implicit = chance(r, 1, 10);
		if (a->implicit) {
			a->kind = VMMU_ACCESS_READ;
			a->desc_write = chance(r, 1, 2);
		}
		/* CPL 1 and 2 are supervisor modes too (SDM Vol. 3A 4.6). */
		a->cpl = chance(r, 1, 2) ? 3 : chance(r, 1, 4) ? 1 + (uint8_t)pick(r, 2) : 0;
		/* The LDT base KVM_SET_SREGS takes must be canonical, as LLDT
		 * would require (SDM Vol. 2A LLDT). */
		if (i > 0 && chance(r, 1, 2) &&
		    (!a->implicit || is_canonical(c->access[i - 1].gva)))
			a->gva = c->access[i - 1].gva;
		else
			a->gva = base + (pick(r, span / 0x1000) << 12) +
				 8 * pick(r, 0xff8 / 8 + 1);
		/* A non-canonical address: #GP before any walk (SDM 3.3.7.1). */
		if (!a->implicit && chance(r, 1, 32))
			a->gva ^= 1ULL << (48 + pick(r, 16));
	}
}

/*
 * A frame without memory: KVM emulates the access and exits with its
 * address, which it cannot do for a fetch or a descriptor load; and it
 * caches the translation, so the case keeps one access.
 */
static void one_data_access(struct orc_case *c)
{
	struct orc_access *a = &c->access[0];

	c->naccess = 1;
	if (a->kind == VMMU_ACCESS_FETCH || a->implicit)
		a->kind = VMMU_ACCESS_READ;
	a->implicit = false;
	a->desc_write = false;
}

/* A PML4 slot for the tested path or the self-map (not 0, not 256..271). */
static uint64_t pick_pml4_slot(struct orc_rng *r)
{
	return chance(r, 1, 4) ? 272 + pick(r, 240) : 1 + pick(r, 255);
}

/*
 * The self-map: PML4[R] points back to the PML4 (never with PS, which
 * would be a 2 MiB page over the harness if it got below level 4; PS in a
 * PML4E faults first). Addresses (R, .., R, idx...) then walk the tested
 * path one to three levels early and land in one of its table pages.
 * Reads and writes only: a fetch would execute table bytes.
 */
static void gen_recursion(struct orc_rng *r, struct orc_case *c,
			  const uint64_t *idx, unsigned maxphyaddr)
{
	uint64_t slot, la_idx[4];
	unsigned k = 1 + (unsigned)pick(r, 3);

	do
		slot = pick_pml4_slot(r);
	while (slot == idx[0]);
	c->recursion = k;
	c->gpa[c->levels] = ORC_PML4_GPA + 8 * slot;
	c->entry[c->levels] = ORC_PML4_GPA |
			      (gen_flags(r, 4, false, maxphyaddr) & ~X86_PTE_PS);
	for (unsigned i = 0; i < 4; i++)
		la_idx[i] = i < k ? slot : idx[i - k];
	gen_accesses(r, c, la_idx[0] << 39 | la_idx[1] << 30 | la_idx[2] << 21 |
			   la_idx[3] << 12 |
			   (slot >= 256 ? 0xffff000000000000ULL : 0));
	for (unsigned i = 0; i < c->naccess; i++) {
		c->access[i].gva &= ~0x1ff000ULL;      /* stay in that page */
		c->access[i].gva |= la_idx[3] << 12;
		if (c->access[i].kind == VMMU_ACCESS_FETCH || c->access[i].implicit)
			c->access[i].kind = VMMU_ACCESS_READ;
		c->access[i].implicit = false;
		c->access[i].desc_write = false;
	}
}

void orc_gen_case(struct orc_rng *r, struct orc_case *c,
		  const struct orc_gen_opts *o)
{
	uint64_t idx[4], gva;
	static const uint64_t table[4] = {
		ORC_PML4_GPA, ORC_TPDPT_GPA, ORC_TPD_GPA, ORC_TPT_GPA
	};

	memset(c, 0, sizeof(*c));
	c->seed = r->s;
	gen_control(r, c, o->pku);
	c->levels = chance(r, 1, 4) ? 3 : 4;
	/*
	 * PML4 slots 1..255 and 272..511: slot 0 is the harness's, and user
	 * accesses through 256..271 fault on this host whatever the tables say.
	 */
	idx[0] = pick_pml4_slot(r);
	for (unsigned i = 1; i < 4; i++)
		idx[i] = pick(r, 512);
	gva = idx[0] << 39 | idx[1] << 30 | idx[2] << 21;
	if (idx[0] >= 256)
		gva |= 0xffff000000000000ULL;   /* canonical upper half */
	if (c->levels == 4) {
		gva |= idx[3] << 12;
		c->frame_gpa = ORC_FRAME4K_BASE +
			       (pick(r, ORC_FRAME4K_COUNT) << 12);
	} else {
		c->frame_gpa = ORC_FRAME2M_BASE +
			       (pick(r, ORC_FRAME2M_COUNT) << 21);
	}
	/*
	 * A frame anywhere in the guest-physical space exercises every
	 * address bit: below 2^MAXPHYADDR, so that it is an MMIO exit and not
	 * a reserved-bit fault.
	 */
	if (chance(r, 1, 4))
		c->frame_gpa = (ORC_MEM_SIZE +
				pick(r, (1ULL << o->maxphyaddr) - ORC_MEM_SIZE)) &
			       ~((c->levels == 4 ? 0x1000ULL : 0x200000ULL) - 1);
	for (unsigned i = 0; i < c->levels; i++) {
		unsigned level = 4 - i;
		bool leaf = i + 1 == c->levels;
		uint64_t next = leaf ? c->frame_gpa : table[i + 1];

		c->gpa[i] = table[i] + 8 * idx[i];
		c->entry[i] = next | gen_flags(r, level, leaf, o->maxphyaddr);
		if (level == 2)
			c->entry[i] = leaf ? c->entry[i] | X86_PTE_PS
					   : c->entry[i] & ~X86_PTE_PS;
	}
	if (chance(r, 1, 8))
		gen_recursion(r, c, idx, o->maxphyaddr);
	else
		gen_accesses(r, c, gva);
	/*
	 * With protection keys, one access per case: KVM's shadow MMU lets a
	 * later access to the same page through where the keys deny it
	 * (docs/kvm-oracle.md).
	 */
	if (c->cr4 & X86_CR4_PKE) {
		c->naccess = 1;
		c->access[0].desc_write = false;
	}
	/*
	 * Also under the self-map: a walk that uses the tested leaf one level
	 * early can still reach a frame without memory.
	 */
	if (c->frame_gpa >= ORC_MEM_SIZE)
		one_data_access(c);
}
