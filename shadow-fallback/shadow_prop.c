/* SPDX-License-Identifier: MIT */
/*
 * Propagation: the shadow entry that one guest entry (or one frame of a
 * splintered superpage) gives, the write protection of frames that become
 * guest page tables, and revalidation of shadow entries when guest memory
 * they mirror is written (invariants I2, I3, I4 of shadow_int.h).
 *
 * The rules (SDM Vol. 3A 4.5 for the entry formats, 4.8 for A/D):
 *  - a guest entry that is not present, has a reserved bit set, or has A
 *    clear gives a not-present shadow entry: the next access through it
 *    faults to the hypervisor, whose guest walk sets A as the CPU would;
 *  - a non-leaf guest entry gives a link to the shadow of the table it
 *    names, with its U/S, R/W, NX, PWT, PCD (the hardware walk combines
 *    the rights over the levels exactly as over the guest's entries);
 *  - a guest superpage gives a link to an FL shadow that splinters it into
 *    4 KiB leaves; its rights go into the link, its D, G, PAT, PCD, PWT and
 *    protection key into the FL shadow's type;
 *  - a leaf maps the frame's host page when the frame is RAM or ROM of the
 *    VM; it is writable only when the guest leaf is writable and dirty,
 *    the slot is RAM, its p2m type RAM_RW (or RAM_LOGDIRTY, which the
 *    dirty log decides) and the frame is no guest page table (it has no
 *    GUEST shadow). MMIO (a slot's, or a p2m type's) and holes give
 *    not-present entries (the fault goes to the MMIO path, as with the
 *    direct backend);
 *  - while the VM's dirty log is on, a leaf mapping a logged page whose
 *    bit is clear is read-only too (shadow_dirty.c).
 */
#include <string.h>

#include "shadow_int.h"
#include "vmmu/p2m.h"
#include "vmmu/dirty.h"
#include "core/pgtable.h"
#include "core/pte_atomic.h"

#define SH_PKEY_MASK (0xfULL << X86_PTE_PKEY_SHIFT)

/* What decides how guest entries read: mode, NXE, PSE, the CPU model. */
static uint64_t sh_role_key(const struct vmmu_paging_state *ps)
{
	enum vmmu_paging_mode m = vmmu_paging_mode(ps);
	bool pse = m == VMMU_PAGING_2LEVEL && (ps->cr4 & X86_CR4_PSE);

	return (uint64_t)m | (uint64_t)!!(ps->efer & X86_EFER_NXE) << 4 |
	       (uint64_t)pse << 5 | (uint64_t)ps->maxphyaddr << 8 |
	       (uint64_t)(ps->quirks & (VMMU_PAGING_AMD | VMMU_PAGING_NO_1G)) << 16;
}

static void sh_role_build(struct sh_role *r, const struct vmmu_paging_state *g)
{
	struct vmmu_paging_state *ps = &r->ps;
	enum vmmu_paging_mode m = vmmu_paging_mode(g);

	memset(ps, 0, sizeof(*ps));
	ps->cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	if (m == VMMU_PAGING_2LEVEL)
		ps->cr4 = g->cr4 & X86_CR4_PSE;
	else
		ps->cr4 = X86_CR4_PAE | (m == VMMU_PAGING_5LEVEL ? X86_CR4_LA57 : 0);
	if (m == VMMU_PAGING_4LEVEL || m == VMMU_PAGING_5LEVEL)
		ps->efer = X86_EFER_LME | X86_EFER_LMA;
	ps->efer |= g->efer & X86_EFER_NXE;
	ps->maxphyaddr = g->maxphyaddr;
	ps->quirks = g->quirks & (VMMU_PAGING_AMD | VMMU_PAGING_NO_1G);
	vmmu_paging_update(ps);
	r->key = sh_role_key(g);
	r->used = true;
}

const struct sh_role *sh_role_get(const struct sh_vm *sv, unsigned r)
{
	return &sv->roles[r];
}

/* The role index of ps; VMMU_ENOSPC when the table is full. */
int sh_role_of(struct sh_vm *sv, const struct vmmu_paging_state *ps,
	       unsigned *out)
{
	uint64_t key = sh_role_key(ps);
	unsigned i;

	for (i = 0; i < SH_MAX_ROLES; i++) {
		if (sv->roles[i].used && sv->roles[i].key == key) {
			*out = i;
			return VMMU_OK;
		}
	}
	for (i = 0; i < SH_MAX_ROLES; i++) {
		if (!sv->roles[i].used) {
			sh_role_build(&sv->roles[i], ps);
			*out = i;
			return VMMU_OK;
		}
	}
	return VMMU_ENOSPC;
}

/*
 * The leaf for frame gpa with 4K-layout guest attributes attrs. create:
 * back the frame on first touch (a fault fill); otherwise an unbacked
 * frame gives a not-present entry (revalidation never allocates).
 */
static int sh_leaf(struct sh_vm *sv, uint64_t gpa, uint64_t attrs,
		   bool create, uint64_t *out)
{
	const struct vmmu_slot *slot = vmmu_vm_find_slot(sv->vm, mk_gpa(gpa));
	enum vmmu_p2m_type type;
	struct vmmu_ram_page rp;
	bool rw;
	int rc;

	*out = 0;
	type = slot ? sh_p2m_type(sv->vm, mk_gpa(gpa)) : VMMU_P2M_MMIO;
	if (!slot || slot->type == VMMU_MEM_MMIO || type == VMMU_P2M_MMIO)
		return VMMU_OK;
	if (create) {
		rc = vmmu_vm_ram_lookup(sv->vm, mk_gpa(gpa), true, &rp);
		if (rc < 0)
			return rc;
	} else if (vmmu_vm_gpa_to_hpa(sv->vm, mk_gpa(gpa), &rp.hpa) < 0) {
		return VMMU_OK;
	}
	/* Log-dirty: RW only once the page's bit is set (shadow_dirty.c). */
	rw = (attrs & X86_PTE_RW) && (attrs & X86_PTE_D) &&
	     slot->type == VMMU_MEM_RAM &&
	     (type == VMMU_P2M_RAM_RW || type == VMMU_P2M_RAM_LOGDIRTY) &&
	     !sh_is_pt(sv, gpa >> VMMU_PAGE_SHIFT) &&
	     !sh_pv_is_table(sv, gpa >> VMMU_PAGE_SHIFT) &&
	     vmmu_dirty_write_ok(sv->vm, gpa >> VMMU_PAGE_SHIFT);
	*out = (rp.hpa.v & X86_PTE_ADDR_MASK) | X86_PTE_P | X86_PTE_A |
	       (attrs & (X86_PTE_US | X86_PTE_PWT | X86_PTE_PCD | X86_PTE_PS |
			 X86_PTE_G | X86_PTE_NX | SH_PKEY_MASK)) |
	       (rw ? X86_PTE_RW | X86_PTE_D : 0);
	return VMMU_OK;
}

int sh_get(struct sh_vm *sv, uint64_t gfn, uint32_t type, bool create,
	   uint32_t *out)
{
	uint32_t pi = sh_find(sv, gfn, type);
	int rc;

	*out = pi;
	if (pi != SH_NIL || !create)
		return VMMU_OK;
	/* A second shadow of an out-of-sync frame: back in sync first. */
	if (SH_T_KIND(type) == SH_GUEST)
		sh_oos_resync_gfn(sv, gfn);
	rc = sh_alloc(sv, &pi);
	if (rc < 0)
		return rc;
	sv->pages[pi]->gfn = gfn;
	sv->pages[pi]->type = type;
	sh_hash_add(sv, pi);
	sv->st.shadows_created++;
	if (SH_T_KIND(type) == SH_GUEST) {
		sh_mark_maybe_pt(sv, gfn);      /* before any read of it (T4) */
		sh_write_protect(sv, gfn);
	}
	*out = pi;
	return VMMU_OK;
}

/* FL type attributes <-> 4K-layout leaf bits (the PAT bit is PS, bit 7). */
static uint32_t fl_attr(uint64_t g)
{
	uint32_t a = (g & X86_PTE_D) ? 1U : 0;

	a |= (g & X86_PTE_G) ? 2U : 0;
	a |= (g & X86_PTE_PWT) ? 4U : 0;
	a |= (g & X86_PTE_PCD) ? 8U : 0;
	a |= (g & X86_PTE_PAT_LARGE) ? 16U : 0;
	return a | (uint32_t)((g >> X86_PTE_PKEY_SHIFT) & 0xf) << 5;
}

static uint64_t fl_bits(uint32_t a)
{
	return (a & 1 ? X86_PTE_D : 0) | (a & 2 ? X86_PTE_G : 0) |
	       (a & 4 ? X86_PTE_PWT : 0) | (a & 8 ? X86_PTE_PCD : 0) |
	       (a & 16 ? X86_PTE_PS : 0) |
	       (uint64_t)((a >> 5) & 0xf) << X86_PTE_PKEY_SHIFT;
}

static uint64_t link_bits(const struct vmmu_walk_role *r, uint64_t g)
{
	return X86_PTE_P | X86_PTE_A |
	       (g & (X86_PTE_RW | X86_PTE_US | X86_PTE_PWT | X86_PTE_PCD)) |
	       (r->nxe ? g & X86_PTE_NX : 0);
}

static int fl_propagate(struct sh_vm *sv, const struct sh_page *p, unsigned j,
			bool create, uint64_t *out, uint32_t *child)
{
	uint32_t a = SH_T_ATTR(p->type);
	uint64_t frame = p->gfn + ((uint64_t)j << (9 * (SH_T_LEVEL(p->type) - 1)));
	int rc;

	if (SH_T_LEVEL(p->type) == 1)
		return sh_leaf(sv, frame << VMMU_PAGE_SHIFT,
			       X86_PTE_RW | X86_PTE_US | fl_bits(a), create, out);
	rc = sh_get(sv, frame, SH_TYPE(1, SH_FL, 0, SH_T_ROLE(p->type), a),
		    create, child);
	if (rc == 0 && *child != SH_NIL)
		*out = sv->pages[*child]->hpa.v | X86_PTE_P | X86_PTE_A |
		       X86_PTE_RW | X86_PTE_US;
	return rc;
}

/* First byte of the superpage a large guest leaf maps (PSE-36, SDM 4.3). */
static uint64_t large_base(const struct vmmu_walk_role *r, unsigned level,
			   uint64_t g)
{
	if (r->entry_size == 4)
		return (g & 0xffc00000ULL) |
		       ((g >> 13) & ((1ULL << r->pse36_bits) - 1)) << 32;
	return g & r->addr_mask & ~(vmmu_pt_level_size(level) - 1);
}

static uint64_t leaf_attrs(const struct vmmu_walk_role *r, uint64_t g)
{
	uint64_t a = g & (X86_PTE_US | X86_PTE_RW | X86_PTE_PWT | X86_PTE_PCD |
			  X86_PTE_PS | X86_PTE_G | X86_PTE_D);

	if (r->nxe)
		a |= g & X86_PTE_NX;
	if (r->mode == VMMU_PAGING_4LEVEL || r->mode == VMMU_PAGING_5LEVEL)
		a |= g & SH_PKEY_MASK;
	return a;
}

/*
 * The shadow entry j of GUEST or FL page pi for guest entry g (ignored for
 * FL pages): *out, and *child the page it links (SH_NIL for a leaf or a
 * not-present entry). create: make missing shadows (a fault fill).
 */
int sh_propagate(struct sh_vm *sv, uint32_t pi, unsigned j, uint64_t g,
		 bool create, uint64_t *out, uint32_t *child)
{
	const struct sh_page *p = sv->pages[pi];
	unsigned level = SH_T_LEVEL(p->type), role = SH_T_ROLE(p->type);
	const struct vmmu_walk_role *r = &sv->roles[role].ps.role;
	uint64_t mask = r->entry_size == 4 ? 0xfffff000ULL : r->addr_mask;
	unsigned psb, quad = 0;
	uint32_t type;
	uint64_t gfn;
	int rc;

	*out = 0;
	*child = SH_NIL;
	if (SH_T_KIND(p->type) == SH_FL)
		return fl_propagate(sv, p, j, create, out, child);
	if (!(g & X86_PTE_P) || !(g & X86_PTE_A))
		return VMMU_OK;
	psb = level > 1 && (g & X86_PTE_PS);
	if (g & r->rsvd[level][psb])
		return VMMU_OK;
	if (level == 1)
		return sh_leaf(sv, g & mask, leaf_attrs(r, g), create, out);
	if (psb && r->large_ok[level]) {
		gfn = large_base(r, level, g) >> VMMU_PAGE_SHIFT;
		if (r->entry_size == 4)
			gfn += (uint64_t)(j & 1) << 9;  /* 2 MiB half of 4 MiB */
		type = SH_TYPE(level - 1, SH_FL, 0, role,
			       fl_attr(g) & (r->pke || r->mode >= VMMU_PAGING_4LEVEL
					     ? 0x1ffU : 0x1fU));
	} else {
		gfn = (g & mask) >> VMMU_PAGE_SHIFT;
		if (r->entry_size == 4)
			quad = j & 1;   /* which half of the 1024-entry PT */
		type = SH_TYPE(level - 1, SH_GUEST, quad, role, 0);
	}
	rc = sh_get(sv, gfn, type, create, child);
	if (rc == 0 && *child != SH_NIL)
		*out = sv->pages[*child]->hpa.v | link_bits(r, g);
	return rc;
}

/*
 * Invariant I2 for a frame that just got a GUEST shadow. When a writable
 * leaf lost its RW, every vCPU is flushed and waited for before this
 * returns: another vCPU may hold the old leaf in its TLB, or be storing
 * through it right now, and the caller reads the frame next (the fill's
 * guest entries, a resync): a native store landing after that read would
 * leave the shadow stale with no trap to tell (T3's wait, for data).
 */
void sh_write_protect(struct sh_vm *sv, uint64_t gfn)
{
	bool removed = false;
	hpa_t hpa;
	uint32_t id;

	if (vmmu_vm_gpa_to_hpa(sv->vm, mk_gpa(gfn << VMMU_PAGE_SHIFT), &hpa) < 0)
		return;
	for (id = sv->rmap[sh_rmap_bucket(hpa.v)]; id != SH_NIL;
	     id = sv->pages[id >> 9]->link[id & 511][0]) {
		uint64_t *e = &sv->pages[id >> 9]->e[id & 511];
		uint64_t v = pte_load(e);

		if ((v & X86_PTE_ADDR_MASK) != hpa.v || !(v & X86_PTE_RW))
			continue;
		pte_store(e, v & ~(X86_PTE_RW | X86_PTE_D));
		sv->st.write_protected++;
		removed = true;
	}
	if (removed)
		sh_flush_tlbs(sv);
}

/* The guest entry GUEST page p's entry j mirrors (2-level: quadrants). */
bool sh_guest_entry(const struct sh_vm *sv, const struct sh_page *p,
		    unsigned j, uint64_t *gpa, unsigned *size)
{
	const struct vmmu_walk_role *r = &sv->roles[SH_T_ROLE(p->type)].ps.role;
	unsigned gi = j, q = SH_T_QUAD(p->type);

	if (SH_T_KIND(p->type) != SH_GUEST)
		return false;
	if (r->entry_size == 4)
		gi = SH_T_LEVEL(p->type) == 1 ? q * 512 + j : q * 256 + (j >> 1);
	*gpa = (p->gfn << VMMU_PAGE_SHIFT) + (uint64_t)gi * r->entry_size;
	*size = r->entry_size;
	return true;
}

/* Entry j of GUEST page pi again, from its frame's bytes in page. */
static void reval_entry(struct sh_vm *sv, uint32_t pi, unsigned j,
			const uint8_t *page)
{
	const struct sh_page *p = sv->pages[pi];
	uint64_t gpa, g = 0, e;
	unsigned size;
	uint32_t child;

	if (!sh_guest_entry(sv, p, j, &gpa, &size))
		return;
	memcpy(&g, page + (gpa & 0xfff), size);
	if (sh_propagate(sv, pi, j, g, false, &e, &child) < 0)
		e = 0, child = SH_NIL;
	if (e != pte_load(&p->e[j])) {
		sh_set_entry(sv, pi, j, e, child);
		sv->st.revalidated++;
	}
}

/* Revalidate GUEST page pi's entries mirroring bytes [lo, hi) of its frame. */
void sh_reval_range(struct sh_vm *sv, uint32_t pi, unsigned lo, unsigned hi,
		    const uint8_t *page)
{
	const struct sh_page *p = sv->pages[pi];
	unsigned es = sv->roles[SH_T_ROLE(p->type)].ps.role.entry_size;
	unsigned q = SH_T_QUAD(p->type), gi, glo = lo / es, ghi = (hi - 1) / es;

	for (gi = glo; gi <= ghi; gi++) {
		if (es == 8) {
			reval_entry(sv, pi, gi, page);
		} else if (SH_T_LEVEL(p->type) == 1) {
			if (gi >> 9 == q)
				reval_entry(sv, pi, gi & 511, page);
		} else if (gi >> 8 == q) {
			reval_entry(sv, pi, (gi & 255) * 2, page);
			reval_entry(sv, pi, (gi & 255) * 2 + 1, page);
		}
	}
}

/* Guest memory [gpa, gpa+len) was written: invariant I3 again. */
void sh_revalidate(struct sh_vm *sv, gpa_t gpa, size_t len)
{
	uint64_t cur = gpa.v, end = gpa.v + len;

	while (cur < end) {
		uint64_t gfn = cur >> VMMU_PAGE_SHIFT;
		uint64_t pend = (gfn + 1) << VMMU_PAGE_SHIFT;
		unsigned lo = (unsigned)(cur & 0xfff);
		unsigned hi = pend < end ? 4096 : (unsigned)(end - (gfn << 12));
		uint32_t i;
		bool have = false;

		for (i = sh_find_any(sv, gfn); i != SH_NIL;
		     i = sh_next_any(sv, i, gfn)) {
			if (SH_T_KIND(sv->pages[i]->type) != SH_GUEST)
				continue;
			/* The frame's bytes once; a hole reads as not present. */
			if (!have && vmmu_vm_read_gpa(sv->vm, mk_gpa(gfn << 12),
						      sv->page_buf, 4096) < 0)
				memset(sv->page_buf, 0, 4096);
			have = true;
			sh_reval_range(sv, i, lo, hi, sv->page_buf);
			sh_oos_written(sv, i, lo, hi, sv->page_buf);
		}
		cur = pend;
	}
}
