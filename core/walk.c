/* SPDX-License-Identifier: MIT */
/*
 * The guest page-table walker (Intel SDM Vol. 3A chapter 4, AMD APM Vol. 2
 * chapter 5): one loop for 32-bit, PAE, 4-level and 5-level paging, driven
 * by the role that core/walk_role.c derives from the control registers.
 *
 * Order of checks, as a CPU performs them (SDM 4.7):
 *   1. 4/5-level: a non-canonical linear address raises #GP before any
 *      walk (SDM 3.3.7.1; vmmu reports vector 13 for #SS cases too).
 *   2. Root to leaf: a not-present entry stops the walk with PFEC.P = 0; a
 *      present entry with a reserved bit stops it with P = 1, RSVD = 1.
 *   3. At the leaf: the access-rights table (SDM 4.6.1) and, for user
 *      pages under CR4.PKE, the protection-key table (SDM 4.6.2).
 *   4. Only when the access is allowed: A on every entry used that lacks
 *      it, root first, and D on the leaf for writes (SDM 4.8). The SDM
 *      lets a CPU set A bits during a walk that then faults; by default
 *      vmmu follows the all-or-nothing behaviour KVM shows on this
 *      project's machines, with VMMU_PAGING_A_ON_FAULT it sets A (never
 *      D) on the entries a faulting walk used (a_on_fault_count()).
 *      Each update is a cmpxchg; if the entry changed under us the walk
 *      starts again, as a CPU's locked update would re-read it.
 */
#include "vmmu/walk.h"
#include "vmmu/error.h"
#include "core/walk_internal.h"

#define WALK_MAX_RESTARTS 32

struct walk_ctx {
	const struct vmmu_paging_state *ps;
	const struct vmmu_walk_role *role;
	const struct vmmu_gmem *mem;
	uint64_t la;            /* linear address, truncated to the mode */
	unsigned cls;           /* VMMU_WCLS_* */
	uint32_t pfec_base;     /* W/R, U/S and I/D bits of this access */
	uint64_t pdpte[4];      /* PAE: the PDPTE registers */
	const struct vmmu_walk_start *start;    /* a PWC hit, or NULL */
};

static unsigned level_shift(const struct vmmu_walk_role *r, unsigned level)
{
	if (r->mode == VMMU_PAGING_2LEVEL)
		return 12 + 10 * (level - 1);
	return 12 + 9 * (level - 1);
}

static uint64_t level_index(const struct vmmu_walk_role *r, unsigned level,
			    uint64_t la)
{
	uint64_t mask = r->mode == VMMU_PAGING_2LEVEL ? 0x3ff : 0x1ff;

	if (r->mode == VMMU_PAGING_PAE && level == 3)
		mask = 0x3;
	return (la >> level_shift(r, level)) & mask;
}

static bool pae_pdpte_level(const struct vmmu_walk_role *r, unsigned level)
{
	return r->mode == VMMU_PAGING_PAE && level == 3;
}

static uint64_t cr3_root(const struct vmmu_paging_state *ps,
			 const struct vmmu_walk_role *r)
{
	switch (r->mode) {
	case VMMU_PAGING_2LEVEL:
		return ps->cr3 & 0xfffff000ULL;     /* SDM Table 4-3 */
	case VMMU_PAGING_PAE:
		return ps->cr3 & 0xffffffe0ULL;     /* SDM Table 4-7 */
	default:
		return ps->cr3 & r->addr_mask;      /* SDM Table 4-12 */
	}
}

static int read_entry(const struct vmmu_gmem *mem, const struct vmmu_walk_role *r,
		      uint64_t gpa, uint64_t *out)
{
	uint32_t e32;
	uint64_t e64;
	int rc;

	if (r->entry_size == 4) {
		rc = mem->read(mem->ctx, mk_gpa(gpa), &e32, 4);
		*out = e32;
	} else {
		rc = mem->read(mem->ctx, mk_gpa(gpa), &e64, 8);
		*out = e64;
	}
	return rc < 0 ? rc : 0;
}

/* The PDPTE registers: loaded ones, or what a CR3 load would read now. */
static int pae_fetch_pdptes(const struct vmmu_paging_state *ps,
			    const struct vmmu_walk_role *r,
			    const struct vmmu_gmem *mem, uint64_t out[4],
			    bool *gp)
{
	unsigned i;
	int rc;

	*gp = false;
	if (ps->pdptes_loaded) {
		memcpy(out, ps->pdpte, sizeof(ps->pdpte));
	} else {
		rc = mem->read(mem->ctx, mk_gpa(cr3_root(ps, r)), out, 32);
		if (rc < 0)
			return rc;
	}
	/* SDM 4.4.1: a present PDPTE with a reserved bit makes MOV CR3 #GP. */
	for (i = 0; i < 4; i++)
		if ((out[i] & X86_PTE_P) && (out[i] & r->rsvd[3][0]))
			*gp = true;
	return 0;
}

static void set_gp(struct vmmu_walk_result *res)
{
	res->ok = false;
	res->vector = X86_VEC_GP;
	res->error_code = 0;
}

static void set_pf(struct vmmu_walk_result *res, const struct walk_ctx *w,
		   uint32_t bits)
{
	res->ok = false;
	res->vector = X86_VEC_PF;
	res->error_code = w->pfec_base | bits;
	res->cr2 = mk_gva(w->la);
}

static uint64_t leaf_gpa(const struct vmmu_walk_role *r, uint64_t e,
			 uint64_t la, unsigned level, uint64_t size)
{
	if (r->mode == VMMU_PAGING_2LEVEL && level == 2) {
		/* 4 MiB page, PSE-36: PDE bits 20:13 are physical 39:32. */
		uint64_t high = (e >> 13) & ((1ULL << r->pse36_bits) - 1);

		return (e & 0xffc00000ULL) | (high << 32) | (la & (size - 1));
	}
	return (e & r->addr_mask & ~(size - 1)) | (la & (size - 1));
}

/*
 * Step 4: A on the first count entries used, root first, and D on the
 * leaf when dirty (a write that succeeded). 1 = restart.
 */
static int update_ad(const struct walk_ctx *w, const struct vmmu_walk_result *res,
		     unsigned count, bool dirty)
{
	const struct vmmu_walk_role *r = w->role;
	unsigned i;

	for (i = 0; i < count; i++) {
		uint64_t old = res->pte[i], want = old | X86_PTE_A;
		int rc;

		if (pae_pdpte_level(r, r->top_level - i))
			continue;   /* PDPTE registers have no A bit (SDM 4.8) */
		if (dirty && i + 1 == res->levels)
			want |= X86_PTE_D;
		if (want == old)
			continue;
		rc = w->mem->cmpxchg(w->mem->ctx, res->pte_gpa[i], old, want,
				     r->entry_size);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * VMMU_PAGING_A_ON_FAULT: how many entries of a walk that faulted on its
 * last entry e (at level) get A, in walk order. Every entry above the
 * faulting one passed its present and reserved checks and was used to find
 * the next table (SDM 4.8). The faulting entry itself is not used, except
 * a 4/5-level PDPTE: it gets A once it is present and free of the bits
 * reserved in every PDPTE, before its PS bit, the 1 GiB reserved bits and
 * the access rights are looked at (QEMU's order; the SDM does not say).
 */
static unsigned a_on_fault_count(const struct walk_ctx *w,
				 const struct vmmu_walk_result *res,
				 unsigned level, uint64_t e)
{
	const struct vmmu_walk_role *r = w->role;
	unsigned n = res->levels - 1;

	if (!(w->ps->quirks & VMMU_PAGING_A_ON_FAULT))
		return 0;
	if ((r->mode == VMMU_PAGING_4LEVEL || r->mode == VMMU_PAGING_5LEVEL) &&
	    level == 3 && (e & X86_PTE_P) && !(e & r->rsvd[3][0]))
		n++;
	return n;
}

/* A #PF with these bits; A bits per VMMU_PAGING_A_ON_FAULT. 0 or 1/error. */
static int fault_walk(const struct walk_ctx *w, struct vmmu_walk_result *res,
		      unsigned level, uint64_t e, uint32_t bits)
{
	unsigned n = a_on_fault_count(w, res, level, e);

	set_pf(res, w, bits);
	return n ? update_ad(w, res, n, false) : 0;
}

/* Steps 2-4. Returns 0 (res filled), 1 to restart, or a negative error. */
static int walk_once(const struct walk_ctx *w, struct vmmu_walk_result *res)
{
	const struct vmmu_walk_role *r = w->role;
	uint64_t table = cr3_root(w->ps, r), e = 0, size;
	unsigned level = r->top_level, u = 1, wr = 1, nx = 0, rights, key = 0;
	uint32_t pk_bit = 0;
	bool fault;
	int rc;

	if (w->start) {
		/* The upper entries come from a paging-structure cache. */
		level = w->start->level;
		table = w->start->table.v;
		u = (w->start->rights >> 0) & 1;
		wr = (w->start->rights >> 1) & 1;
		nx = (w->start->rights >> 2) & 1;
	}
	res->levels = 0;
	res->first_level = (uint8_t)level;
	for (;; level--) {
		uint64_t idx = level_index(r, level, w->la);
		uint64_t gpa = table + idx * r->entry_size;
		unsigned ps_bit;

		if (pae_pdpte_level(r, level)) {
			e = w->pdpte[idx];
		} else {
			rc = read_entry(w->mem, r, gpa, &e);
			if (rc < 0)
				return rc;
		}
		res->pte_gpa[res->levels] = mk_gpa(gpa);
		res->pte[res->levels++] = e;
		if (!(e & X86_PTE_P))
			return fault_walk(w, res, level, e, 0);
		ps_bit = level > 1 && (e & X86_PTE_PS);
		if (e & r->rsvd[level][ps_bit])
			return fault_walk(w, res, level, e,
					  X86_PFEC_P | X86_PFEC_RSVD);
		if (!pae_pdpte_level(r, level)) {
			u &= (unsigned)(e >> 2) & 1;
			wr &= (unsigned)(e >> 1) & 1;
			if (r->nxe)
				nx |= (unsigned)(e >> 63);
		}
		if (level == 1 || (ps_bit && r->large_ok[level]))
			break;
		table = e & r->addr_mask;
	}

	rights = u | wr << 1 | nx << 2;
	fault = (r->perm[w->cls] >> rights) & 1;
	if (r->pke)
		key = (unsigned)(e >> X86_PTE_PKEY_SHIFT) & 0xf;
	if (r->pke && u) {
		unsigned pkru = (w->ps->pkru >> (2 * key)) & 3;

		if ((r->pkey[w->cls] >> pkru) & 1) {
			fault = true;
			pk_bit = X86_PFEC_PK;
		}
	}
	if (fault)
		return fault_walk(w, res, level, e, X86_PFEC_P | pk_bit);
	rc = update_ad(w, res, res->levels, w->cls & VMMU_WCLS_WRITE);
	if (rc != 0)
		return rc;
	size = 1ULL << level_shift(r, level);
	res->ok = true;
	res->page_size = size;
	res->rights = (uint8_t)rights;
	res->pkey = (uint8_t)key;
	res->global = (e & X86_PTE_G) && (w->ps->cr4 & X86_CR4_PGE);
	res->dirty = (e & X86_PTE_D) || (w->cls & VMMU_WCLS_WRITE);
	res->gpa = mk_gpa(leaf_gpa(r, e, w->la, level, size));
	return 0;
}

static unsigned access_class(const struct vmmu_paging_state *ps,
			     const struct vmmu_access *acc)
{
	unsigned cls = 0;
	bool user = acc->cpl == 3 && !acc->implicit;

	if (acc->kind == VMMU_ACCESS_WRITE)
		cls |= VMMU_WCLS_WRITE;
	if (acc->kind == VMMU_ACCESS_FETCH)
		cls |= VMMU_WCLS_FETCH;
	if (user)
		cls |= VMMU_WCLS_USER;
	/* SDM 4.6.1: only explicit supervisor accesses honour RFLAGS.AC. */
	else if (!acc->implicit && (ps->rflags & X86_RFLAGS_AC))
		cls |= VMMU_WCLS_AC;
	return cls;
}

static bool canonical(uint64_t la, unsigned bits)
{
	int64_t s = (int64_t)(la << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == la;
}

/* Mode-level checks before the walk: non-canonical, CR3, PDPTEs. */
static int pre_walk(struct walk_ctx *w, struct vmmu_walk_result *res,
		    bool *stop)
{
	const struct vmmu_walk_role *r = w->role;
	bool gp = false;
	int rc;

	*stop = false;
	if (r->mode == VMMU_PAGING_4LEVEL || r->mode == VMMU_PAGING_5LEVEL) {
		unsigned bits = r->mode == VMMU_PAGING_5LEVEL ? 57 : 48;

		/* MOV CR3 with bits 63:MAXPHYADDR set would #GP (SDM 4.5.2). */
		gp = !canonical(w->la, bits) ||
		     (w->ps->cr3 & ~((1ULL << w->ps->maxphyaddr) - 1));
	} else if (r->mode == VMMU_PAGING_PAE) {
		rc = pae_fetch_pdptes(w->ps, r, w->mem, w->pdpte, &gp);
		if (rc < 0)
			return rc;
	}
	if (gp) {
		set_gp(res);
		*stop = true;
	}
	return 0;
}

int vmmu_walk(const struct vmmu_paging_state *ps, const struct vmmu_gmem *mem,
	      const struct vmmu_access *acc, struct vmmu_walk_result *res)
{
	return vmmu_walk_from(ps, mem, acc, NULL, res);
}

int vmmu_walk_from(const struct vmmu_paging_state *ps,
		   const struct vmmu_gmem *mem, const struct vmmu_access *acc,
		   const struct vmmu_walk_start *start,
		   struct vmmu_walk_result *res)
{
	struct vmmu_walk_role local;
	struct walk_ctx w;
	bool stop;
	int rc;

	if (!ps || !mem || !acc || !res || acc->cpl > 3 ||
	    acc->kind > VMMU_ACCESS_FETCH)
		return VMMU_EINVAL;
	memset(res, 0, sizeof(*res));
	memset(&w, 0, sizeof(w));
	w.role = &ps->role;
	if (ps->role.key != vmmu_walk_role_key(ps)) {
		vmmu_walk_role_build(&local, ps);
		w.role = &local;
	}
	res->mode = w.role->mode;
	if (w.role->mode == VMMU_PAGING_INVALID)
		return VMMU_EINVAL;
	w.ps = ps;
	w.mem = mem;
	w.la = acc->gva.v;
	if (w.role->mode != VMMU_PAGING_4LEVEL &&
	    w.role->mode != VMMU_PAGING_5LEVEL)
		w.la &= 0xffffffffULL;  /* 32-bit linear addresses */
	if (w.role->mode == VMMU_PAGING_NONE) {
		res->ok = true;
		res->gpa = mk_gpa(w.la);
		res->page_size = VMMU_PAGE_SIZE;
		res->rights = 3;        /* user, writable, executable */
		res->dirty = true;
		return 0;
	}
	/* A cached entry must sit below the top level of this mode. */
	if (start && (start->level < 1 || start->level >= w.role->top_level ||
		      (w.role->mode == VMMU_PAGING_PAE && start->level > 2)))
		return VMMU_EINVAL;
	w.start = start;
	w.cls = access_class(ps, acc);
	if (w.cls & VMMU_WCLS_WRITE)
		w.pfec_base |= X86_PFEC_W;
	if (w.cls & VMMU_WCLS_USER)
		w.pfec_base |= X86_PFEC_U;
	if ((w.cls & VMMU_WCLS_FETCH) && w.role->fetch_pfec_id)
		w.pfec_base |= X86_PFEC_I;
	if (!mem->read || !mem->cmpxchg)
		return VMMU_EINVAL;
	rc = pre_walk(&w, res, &stop);
	if (rc < 0 || stop)
		return rc;
	for (;;) {
		rc = walk_once(&w, res);
		if (rc != 1)
			return rc;
		if (++res->restarts >= WALK_MAX_RESTARTS)
			return VMMU_EBUSY;
	}
}

int vmmu_walk_check_rights(const struct vmmu_paging_state *ps,
			   const struct vmmu_access *acc, uint64_t leaf_rights,
			   unsigned pkey, uint32_t *pfec)
{
	const struct vmmu_walk_role *r;
	struct vmmu_walk_role local;
	unsigned cls, pkru;
	uint32_t bits;

	if (!ps || !acc || acc->cpl > 3 || acc->kind > VMMU_ACCESS_FETCH ||
	    leaf_rights > 7 || pkey > 15)
		return VMMU_EINVAL;
	r = &ps->role;
	if (r->key != vmmu_walk_role_key(ps)) {
		vmmu_walk_role_build(&local, ps);
		r = &local;
	}
	if (r->mode == VMMU_PAGING_NONE)
		return 1;
	if (r->mode == VMMU_PAGING_INVALID)
		return VMMU_EINVAL;
	cls = access_class(ps, acc);
	bits = (r->perm[cls] >> leaf_rights) & 1;
	/* SDM 4.6.2: keys apply to user pages (U/S = 1 in every entry). */
	if (r->pke && (leaf_rights & 1)) {
		pkru = (ps->pkru >> (2 * pkey)) & 3;
		if ((r->pkey[cls] >> pkru) & 1)
			bits = 1 | X86_PFEC_PK;
	}
	if (!bits)
		return 1;
	if (pfec) {
		*pfec = X86_PFEC_P | (bits & X86_PFEC_PK);
		if (cls & VMMU_WCLS_WRITE)
			*pfec |= X86_PFEC_W;
		if (cls & VMMU_WCLS_USER)
			*pfec |= X86_PFEC_U;
		if ((cls & VMMU_WCLS_FETCH) && r->fetch_pfec_id)
			*pfec |= X86_PFEC_I;
	}
	return 0;
}

int vmmu_paging_load_pdptes(struct vmmu_paging_state *ps,
			    const struct vmmu_gmem *mem)
{
	struct vmmu_walk_role local;
	const struct vmmu_walk_role *r;
	uint64_t pdpte[4];
	bool gp;
	int rc;

	if (!ps || !mem || !mem->read)
		return VMMU_EINVAL;
	r = &ps->role;
	if (ps->role.key != vmmu_walk_role_key(ps)) {
		vmmu_walk_role_build(&local, ps);
		r = &local;
	}
	if (r->mode != VMMU_PAGING_PAE)
		return 0;
	ps->pdptes_loaded = false;
	rc = pae_fetch_pdptes(ps, r, mem, pdpte, &gp);
	if (rc < 0)
		return rc;
	if (gp)
		return VMMU_EINVAL;
	memcpy(ps->pdpte, pdpte, sizeof(pdpte));
	ps->pdptes_loaded = true;
	return 0;
}
