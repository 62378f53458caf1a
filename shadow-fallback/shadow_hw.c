/* SPDX-License-Identifier: MIT */
/*
 * The hardware side of the shadow backend: what a CPU running the guest
 * on shadow tables does on a TLB miss. It walks the shadow tables, not
 * the guest's, with the ordinary 1-D walker over host memory (gva ->
 * hpa): CR3 is the shadow root, the format is 4-level (5-level for an
 * LA57 guest), CR0.WP is forced to 1 (so that read-only shadow entries
 * trap supervisor writes too: write protection of guest tables and D-bit
 * tracking), and SMEP, SMAP, PGE, RFLAGS.AC and, in IA-32e modes, PKE and
 * PKRU are the guest's. A walk that faults is a shadow #PF exit with the
 * walker's error code (the hypervisor intercepts #PF, SDM Vol. 3C 25.2
 * exception bitmap); the handler decides whether it is the guest's.
 *
 * The hardware does not know guest-physical addresses: a successful walk
 * reports hpa only (gpa 0), as a TLB holds linear -> host mappings.
 */
#include <string.h>

#include "shadow_int.h"
#include "vmmu/dirty.h"
#include "core/pte_atomic.h"
#include "core/walk_internal.h"
#include "core/tlb.h"

static int host_read(void *ctx, gpa_t addr, void *buf, size_t len)
{
	const struct vmmu_platform *pl = ctx;
	uint8_t *p = pl->map(pl->ctx, mk_hpa(addr.v));

	if (!p || (addr.v & 0xfff) + len > VMMU_PAGE_SIZE)
		return VMMU_EFAULT;
	if (len == 8)
		*(uint64_t *)buf = pte_load((const uint64_t *)p);
	else
		memcpy(buf, p, len);
	return VMMU_OK;
}

static int host_cmpxchg(void *ctx, gpa_t addr, uint64_t old, uint64_t nv,
			size_t len)
{
	const struct vmmu_platform *pl = ctx;
	uint64_t *p = pl->map(pl->ctx, mk_hpa(addr.v));

	if (!p || len != 8 || (addr.v & 7))
		return VMMU_EFAULT;
	return pte_cas(p, old, nv) == old ? 0 : 1;
}

void sh_host_gmem(struct vmmu_vm *vm, struct vmmu_gmem *out)
{
	out->ctx = &vm->platform;
	out->read = host_read;
	out->cmpxchg = host_cmpxchg;
}

/* The guest's registers moved without the backend's hooks seeing it. */
bool sh_vcpu_stale(const struct vmmu_vcpu *vcpu)
{
	const struct sh_vcpu *sc = vcpu->backend_state;
	const struct vmmu_paging_state *ps = &vcpu->paging;

	if (!sc->valid || sc->seen_key != ps->role.key || sc->seen_cr3 != ps->cr3 ||
	    vmmu_walk_role_key(ps) != ps->role.key)
		return true;
	return ps->role.mode == VMMU_PAGING_PAE &&
	       memcmp(sc->seen_pdpte, ps->pdpte, sizeof(ps->pdpte));
}

static void shadow_pf(struct vmmu_hw_walk *out, const struct vmmu_access *acc,
		      uint32_t error_code)
{
	out->status = VMMU_HW_EXIT;
	out->exit.kind = VMMU_EXIT_SHADOW_PF;
	out->exit.access = acc->kind;
	out->exit.gva = acc->gva;
	out->exit.gva_valid = true;
	out->exit.error_code = error_code;
}

/* Paging off: linear = physical (SDM 2.5 CR0.PG); no shadow needed. */
static int hw_nopaging(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		       struct vmmu_hw_walk *out)
{
	gpa_t gpa = mk_gpa(acc->gva.v & 0xffffffffULL);
	const struct vmmu_slot *slot = vmmu_vm_find_slot(vcpu->vm, gpa);
	hpa_t hpa;
	bool write_ok;

	if (!slot || slot->type == VMMU_MEM_MMIO ||
	    (slot->type == VMMU_MEM_ROM && acc->kind == VMMU_ACCESS_WRITE) ||
	    vmmu_vm_gpa_to_hpa(vcpu->vm, gpa, &hpa) < 0) {
		shadow_pf(out, acc, 0);
		return VMMU_OK;
	}
	/*
	 * Log-dirty: no W to a logged page whose bit is clear (rule 2). Nor
	 * to a frame that may be a page table (a GUEST shadow of an earlier
	 * mode, a PV table): its writes are emulated (exit_nopaging), so that
	 * they revalidate the shadows and PV tables stay validated.
	 */
	write_ok = slot->type == VMMU_MEM_RAM &&
		   vmmu_dirty_write_ok(vcpu->vm, gpa.v >> VMMU_PAGE_SHIFT) &&
		   !sh_maybe_pt_frame(sh_vm_of(vcpu->vm), gpa.v >> VMMU_PAGE_SHIFT);
	if (!write_ok && slot->type == VMMU_MEM_RAM &&
	    acc->kind == VMMU_ACCESS_WRITE) {
		shadow_pf(out, acc, 0);
		return VMMU_OK;
	}
	out->status = VMMU_HW_OK;
	out->hpa = hpa;
	out->gpa = gpa;
	out->page_size = VMMU_PAGE_SIZE;
	out->rights = 3;
	out->nested = write_ok ? VMMU_PROT_RWX : VMMU_PROT_R | VMMU_PROT_X;
	out->dirty = true;
	return VMMU_OK;
}

/*
 * Cache the shadow's non-leaf entries a successful walk used in the vCPU's
 * paging-structure caches (SDM 4.10.3.1), as a CPU walking the shadow
 * tables does. The cache holds shadow-table (host) addresses; every
 * removal of a shadow page or permission flushes it (sh_flush_tlbs).
 */
static void sh_pwc_fill(struct vmmu_vcpu *vcpu, uint64_t la,
			const struct vmmu_walk_result *r, unsigned rights)
{
	unsigned u = rights & 1, w = (rights >> 1) & 1, nx = (rights >> 2) & 1;

	for (unsigned i = 0; i + 1 < r->levels; i++) {
		uint64_t e = r->pte[i];

		u &= (unsigned)(e >> 2) & 1;
		w &= (unsigned)(e >> 1) & 1;
		nx |= (unsigned)(e >> 63);
		vmmu_tlb_pwc_fill(vcpu->tlb, (enum vmmu_paging_mode)r->mode,
				  mk_gva(la), r->first_level - i,
				  mk_gpa(e & X86_PTE_ADDR_MASK),
				  (uint8_t)(u | w << 1 | nx << 2));
	}
}

/* The hardware walk, started from the deepest cached shadow entry. */
static int sh_walk_cached(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
			  struct vmmu_walk_result *r)
{
	struct sh_vcpu *sc = vcpu->backend_state;
	enum vmmu_paging_mode m = (enum vmmu_paging_mode)sc->sps.role.mode;
	struct vmmu_tlb_pwc_hit hit;
	struct vmmu_walk_start start;
	struct vmmu_access a = *acc;
	struct vmmu_gmem mem;
	unsigned rights = 3;
	int rc;

	/*
	 * IA-32e guests only: there the shadow's levels are the guest's, so
	 * the guest's invalidations (INVLPG, MOV to CR3, INVPCID) cover the
	 * cached entries exactly. PAE and 2-level guests run on per-vCPU
	 * ROOT pages rewritten at every CR3 load: no caching there.
	 */
	if (!vcpu->tlb || (vcpu->paging.role.mode != VMMU_PAGING_4LEVEL &&
			   vcpu->paging.role.mode != VMMU_PAGING_5LEVEL))
		return sh_walk_shadow(vcpu, acc, r);
	if (vmmu_tlb_pwc_lookup(vcpu->tlb, m, a.gva, &hit) >=
	    sc->sps.role.top_level) {
		rc = sh_walk_shadow(vcpu, acc, r);
		if (rc == 0 && r->ok)
			sh_pwc_fill(vcpu, a.gva.v, r, 3);
		return rc;
	}
	start.level = (uint8_t)hit.level;
	start.table = mk_gpa(hit.table);
	start.rights = hit.rights;
	rights = hit.rights;
	sh_host_gmem(vcpu->vm, &mem);
	sc->sps.cr3 = sc->root_hpa.v;
	sc->sps.rflags = vcpu->paging.rflags;
	sc->sps.pkru = vcpu->paging.pkru;
	vcpu->stats.pwc_walks++;
	rc = vmmu_walk_from(&sc->sps, &mem, &a, &start, r);
	if (rc < 0)
		return vmmu_vm_kill(vcpu->vm, "shadow walk left host memory");
	if (r->ok)
		sh_pwc_fill(vcpu, a.gva.v, r, rights);
	return VMMU_OK;
}

/* The walk a CPU makes through vcpu's current shadow root. */
int sh_walk_shadow(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		   struct vmmu_walk_result *r)
{
	struct sh_vcpu *sc = vcpu->backend_state;
	struct vmmu_access a = *acc;
	struct vmmu_gmem mem;

	if (vcpu->paging.role.mode != VMMU_PAGING_4LEVEL &&
	    vcpu->paging.role.mode != VMMU_PAGING_5LEVEL)
		a.gva.v &= 0xffffffffULL;
	sc->sps.cr3 = sc->root_hpa.v;
	sc->sps.rflags = vcpu->paging.rflags;
	sc->sps.pkru = vcpu->paging.pkru;
	sh_host_gmem(vcpu->vm, &mem);
	if (vmmu_walk(&sc->sps, &mem, &a, r) < 0)
		return vmmu_vm_kill(vcpu->vm, "shadow walk left host memory");
	return VMMU_OK;
}

int sh_hw_walk(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
	       struct vmmu_hw_walk *out)
{
	struct sh_vcpu *sc = vcpu->backend_state;
	struct vmmu_walk_result r;
	int rc;

	if (sh_vcpu_stale(vcpu) || sc->root == SH_NIL) {
		shadow_pf(out, acc, 0);     /* no valid root: the VMM loads one */
		return VMMU_OK;
	}
	if (vcpu->paging.role.mode == VMMU_PAGING_NONE)
		return hw_nopaging(vcpu, acc, out);
	rc = sh_walk_cached(vcpu, acc, &r);
	if (rc < 0)
		return rc;
	out->guest_refs = r.levels;
	if (!r.ok && r.vector != X86_VEC_PF) {
		out->status = VMMU_HW_FAULT;    /* #GP: non-canonical address */
		out->guest = r;
		return VMMU_OK;
	}
	if (!r.ok) {
		shadow_pf(out, acc, r.error_code);
		return VMMU_OK;
	}
	out->status = VMMU_HW_OK;
	out->hpa = mk_hpa(r.gpa.v);
	out->page_size = VMMU_PAGE_SIZE;
	out->rights = r.rights;
	out->nested = VMMU_PROT_RWX;
	out->pkey = r.pkey;
	out->global = r.global;
	out->dirty = r.dirty;
	return VMMU_OK;
}
