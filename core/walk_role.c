/* SPDX-License-Identifier: MIT */
/*
 * The paging role: everything the walker derives from CR0, CR4, EFER,
 * MAXPHYADDR and the CPU-model quirks, computed once per register change
 * so that a walk only indexes tables.
 *
 *  - the paging mode (SDM Vol. 3A 4.1.1, Table 4-1);
 *  - reserved bits per level and per PS value (SDM 4.3, 4.4.2, 4.5.4,
 *    Tables 4-4 to 4-20; AMD APM Vol. 2 5.3.3 and 5.4);
 *  - the access-rights table (SDM 4.6.1) and the protection-key table
 *    (SDM 4.6.2), each indexed by the access class.
 */
#include "vmmu/walk.h"
#include "core/walk_internal.h"

static uint64_t bits_range(unsigned lo, unsigned hi)
{
	if (lo > hi || lo > 63)
		return 0;
	if (hi > 63)
		hi = 63;
	return (~0ULL >> (63 - hi)) & ~((1ULL << lo) - 1);
}

static bool long_mode(const struct vmmu_paging_state *ps)
{
	/*
	 * The CPU sets EFER.LMA when CR0.PG is set with EFER.LME = 1 (SDM
	 * 9.8.5), so with paging on either bit means IA-32e mode.
	 */
	return (ps->efer & (X86_EFER_LMA | X86_EFER_LME)) != 0;
}

enum vmmu_paging_mode vmmu_paging_mode(const struct vmmu_paging_state *ps)
{
	if (!(ps->cr0 & X86_CR0_PG)) {
		/* LMA without paging cannot happen (SDM 9.8.5). */
		return (ps->efer & X86_EFER_LMA) ? VMMU_PAGING_INVALID
						 : VMMU_PAGING_NONE;
	}
	/* MOV to CR0 setting PG with PE = 0 raises #GP (SDM 2.5). */
	if (!(ps->cr0 & X86_CR0_PE))
		return VMMU_PAGING_INVALID;
	if (!(ps->cr4 & X86_CR4_PAE))
		return long_mode(ps) ? VMMU_PAGING_INVALID : VMMU_PAGING_2LEVEL;
	if (!long_mode(ps))
		return VMMU_PAGING_PAE;
	return (ps->cr4 & X86_CR4_LA57) ? VMMU_PAGING_5LEVEL
					: VMMU_PAGING_4LEVEL;
}

/*
 * The register bits a role depends on, packed without a branch or a shift
 * per bit (a TLB hit checks this key): CR0 keeps its own positions (PE 0,
 * WP 16, PG 31), EFER's LME/LMA/NXE (8, 10, 11) move to 1, 3, 4, quirks go
 * to 20.., CR4's PSE/PAE/LA57/SMEP/SMAP/PKE move up by 32, MAXPHYADDR to
 * 56.. Bit 5 is always set, so a zeroed role is always stale.
 */
#define ROLE_CR0 (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE)
#define ROLE_CR4 (X86_CR4_PSE | X86_CR4_PAE | X86_CR4_LA57 | X86_CR4_SMEP | \
		  X86_CR4_SMAP | X86_CR4_PKE)
#define ROLE_EFER (X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)

uint64_t vmmu_walk_role_key(const struct vmmu_paging_state *ps)
{
	return (1ULL << 5) | (ps->cr0 & ROLE_CR0) |
	       ((ps->efer & ROLE_EFER) >> 7) |
	       ((uint64_t)(ps->quirks & 0x7ff) << 20) |
	       ((ps->cr4 & ROLE_CR4) << 32) |
	       ((uint64_t)(ps->maxphyaddr & 0x3f) << 56);
}

/* 32-bit paging: Tables 4-4 to 4-6. Only a 4 MiB PDE has reserved bits. */
static void rsvd_2level(struct vmmu_walk_role *r, const struct vmmu_paging_state *ps)
{
	/*
	 * PSE-36: PDE bits (M-20):13 hold physical bits (M-1):32 with
	 * M = min(MAXPHYADDR, 40); bits 21:(M-19) are reserved (Table 4-4).
	 */
	unsigned m = ps->maxphyaddr < 40 ? ps->maxphyaddr : 40;

	r->top_level = 2;
	r->entry_size = 4;
	r->addr_mask = 0xfffff000ULL;
	r->pse36_bits = (uint8_t)(m - 32);
	if (ps->cr4 & X86_CR4_PSE) {
		r->large_ok[2] = true;
		r->rsvd[2][1] = bits_range(m - 19, 21);
	}
}

/* PAE paging: Tables 4-8 to 4-11. Bits 62:M are reserved, not ignored. */
static void rsvd_pae(struct vmmu_walk_role *r, const struct vmmu_paging_state *ps)
{
	uint64_t high = bits_range(ps->maxphyaddr, 62);
	uint64_t xd = r->nxe ? 0 : X86_PTE_NX;

	r->top_level = 3;
	r->entry_size = 8;
	r->addr_mask = bits_range(12, 51);
	/* PDPTE (Table 4-8): 2:1, 8:5 and 63:M reserved; no XD bit. */
	r->rsvd[3][0] = bits_range(ps->maxphyaddr, 63) | bits_range(5, 8) |
			bits_range(1, 2);
	r->rsvd[3][1] = r->rsvd[3][0];
	r->rsvd[2][0] = high | xd;
	r->rsvd[2][1] = high | xd | bits_range(13, 20);
	r->rsvd[1][0] = high | xd;
	r->large_ok[2] = true;
}

/* 4- and 5-level paging: Tables 4-14 to 4-20. Bits 62:52 are ignored. */
static void rsvd_long(struct vmmu_walk_role *r, const struct vmmu_paging_state *ps)
{
	uint64_t base = bits_range(ps->maxphyaddr, 51) |
			(r->nxe ? 0 : X86_PTE_NX);
	uint64_t root = base | X86_PTE_PS;  /* PS in a PML4E/PML5E is reserved */

	if (ps->quirks & VMMU_PAGING_AMD)
		root |= X86_PTE_G;          /* APM Vol. 2 Figure 5-18: MBZ */
	r->top_level = r->mode == VMMU_PAGING_5LEVEL ? 5 : 4;
	r->entry_size = 8;
	r->addr_mask = bits_range(12, 51);
	r->rsvd[5][0] = root;
	r->rsvd[5][1] = root;
	r->rsvd[4][0] = root;
	r->rsvd[4][1] = root;
	r->rsvd[3][0] = base;
	if (ps->quirks & VMMU_PAGING_NO_1G) {
		r->rsvd[3][1] = base | X86_PTE_PS;
	} else {
		r->rsvd[3][1] = base | bits_range(13, 29);
		r->large_ok[3] = true;
	}
	r->rsvd[2][0] = base;
	r->rsvd[2][1] = base | bits_range(13, 20);
	r->large_ok[2] = true;
	r->rsvd[1][0] = base;
	r->pke = (ps->cr4 & X86_CR4_PKE) != 0;
}

/*
 * Access rights (SDM 4.6.1) for one access class and one combination of
 * the walk's combined rights: u = every entry has U/S = 1, w = every entry
 * has R/W = 1, nx = some entry has XD = 1 (only when XD is in effect).
 */
static bool rights_fault(unsigned cls, bool u, bool w, bool nx, bool wp,
			 bool smep, bool smap)
{
	bool write = cls & VMMU_WCLS_WRITE, user = cls & VMMU_WCLS_USER;

	if (cls & VMMU_WCLS_FETCH) {
		if (nx)
			return true;
		if (user)
			return !u;
		return u && smep;       /* SMEP: no supervisor fetch from user pages */
	}
	if (user)
		return !u || (write && !w);
	if (write && !w && wp)
		return true;
	/* SMAP: explicit accesses with RFLAGS.AC = 1 are exempt. */
	return u && smap && !(cls & VMMU_WCLS_AC);
}

/*
 * Protection keys (SDM 4.6.2): data accesses to user pages only. AD
 * forbids every data access; WD forbids writes by user-mode accesses and,
 * when CR0.WP = 1, by supervisor-mode accesses.
 */
static bool pkey_fault(unsigned cls, bool ad, bool wd, bool wp)
{
	if (cls & VMMU_WCLS_FETCH)
		return false;
	if (ad)
		return true;
	return wd && (cls & VMMU_WCLS_WRITE) &&
	       ((cls & VMMU_WCLS_USER) || wp);
}

static void build_tables(struct vmmu_walk_role *r, const struct vmmu_paging_state *ps)
{
	bool wp = ps->cr0 & X86_CR0_WP;
	bool smep = ps->cr4 & X86_CR4_SMEP, smap = ps->cr4 & X86_CR4_SMAP;
	unsigned cls, c;

	for (cls = 0; cls < VMMU_WCLS_COUNT; cls++) {
		r->perm[cls] = 0;
		r->pkey[cls] = 0;
		for (c = 0; c < 8; c++)
			if (rights_fault(cls, c & 1, c & 2, c & 4, wp, smep, smap))
				r->perm[cls] |= (uint8_t)(1U << c);
		for (c = 0; c < 4; c++)
			if (pkey_fault(cls, c & 1, c & 2, wp))
				r->pkey[cls] |= (uint8_t)(1U << c);
	}
	/* PFEC.I/D: fetches, when XD is in effect or SMEP is on (SDM 4.7). */
	r->fetch_pfec_id = r->nxe || smep;
}

void vmmu_walk_role_build(struct vmmu_walk_role *r,
			  const struct vmmu_paging_state *ps)
{
	memset(r, 0, sizeof(*r));
	r->key = vmmu_walk_role_key(ps);
	r->mode = (uint8_t)vmmu_paging_mode(ps);
	if (ps->maxphyaddr < 32 || ps->maxphyaddr > 52)
		r->mode = VMMU_PAGING_INVALID;
	r->nxe = (ps->efer & X86_EFER_NXE) && r->mode >= VMMU_PAGING_PAE &&
		 r->mode <= VMMU_PAGING_5LEVEL;
	switch (r->mode) {
	case VMMU_PAGING_2LEVEL:
		rsvd_2level(r, ps);
		break;
	case VMMU_PAGING_PAE:
		rsvd_pae(r, ps);
		break;
	case VMMU_PAGING_4LEVEL:
	case VMMU_PAGING_5LEVEL:
		rsvd_long(r, ps);
		break;
	default:
		break;
	}
	build_tables(r, ps);
}

void vmmu_paging_update(struct vmmu_paging_state *ps)
{
	vmmu_walk_role_build(&ps->role, ps);
}
