/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor side of a shadow #PF (handle_exit) and the root a vCPU
 * runs on (sh_sync_vcpu, on CR3 load and paging-mode changes).
 *
 * A shadow #PF is resolved as Xen and KVM do: walk the guest's tables
 * with the shared walker (it sets guest A/D as the CPU would, SDM Vol. 3A
 * 4.8), and then
 *  - the guest walk faults: the guest's own #PF (or #GP), injected with
 *    the walker's vector, error code and CR2;
 *  - the gpa is MMIO, a hole or a ROM write (by its slot or its p2m
 *    type), or a write to RAM_RO: as the direct backend, EPT and NPT do;
 *  - otherwise fill the shadow path from the root down (sh_propagate with
 *    create: missing shadows are made, their frames write-protected) and
 *    retry. When the filled shadow still refuses the access it is a write
 *    the shadow must not allow natively: to a guest page-table frame
 *    (emulated with vmmu_vcpu_emulate, whose store comes back through
 *    gpa_written and revalidates the shadows), or a supervisor write to a
 *    read-only page under guest CR0.WP = 0 (emulated: the hardware walk
 *    always runs with WP = 1).
 * A write the guest allows to a logged page whose dirty bit is clear marks
 * the bit before the fill, which then makes the leaf writable
 * (shadow_dirty.c).
 * Emulated page-table writes that are misaligned (crossing a guest entry)
 * or come SH_FLOOD times with no fill through the page between them
 * (write flooding: the page is most likely no longer a page table)
 * unshadow the page instead, and the write then runs natively.
 */
#include <string.h>

#include "shadow_int.h"
#include "core/pgtable.h"
#include "core/pte_atomic.h"

static void build_sps(struct sh_vcpu *sc, const struct vmmu_paging_state *ps)
{
	enum vmmu_paging_mode m = (enum vmmu_paging_mode)ps->role.mode;
	bool ia32e = m == VMMU_PAGING_4LEVEL || m == VMMU_PAGING_5LEVEL;
	struct vmmu_paging_state *s = &sc->sps;

	memset(s, 0, sizeof(*s));
	s->cr0 = ps->cr0 | X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	s->cr4 = (ps->cr4 & (X86_CR4_PGE | X86_CR4_SMEP | X86_CR4_SMAP)) |
		 X86_CR4_PAE | (m == VMMU_PAGING_5LEVEL ? X86_CR4_LA57 : 0) |
		 (ia32e ? ps->cr4 & X86_CR4_PKE : 0);
	s->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	s->maxphyaddr = 52;
	vmmu_paging_update(s);
}

/* A PDPT entry of a PAE or 2-level vCPU root: the PDPTE register, or a
 * quadrant of the guest's page directory. */
static int root_pdpte(struct sh_vm *sv, struct vmmu_vcpu *vcpu, unsigned q,
		      bool create, uint64_t *e, uint32_t *child)
{
	const struct vmmu_paging_state *ps = &vcpu->paging;
	struct sh_vcpu *sc = vcpu->backend_state;
	uint64_t gfn, flags = 0;
	uint32_t type;
	int rc;

	*e = 0;
	*child = SH_NIL;
	if (ps->role.mode == VMMU_PAGING_PAE) {
		if (!ps->pdptes_loaded || !(ps->pdpte[q] & X86_PTE_P))
			return VMMU_OK;
		gfn = (ps->pdpte[q] & ps->role.addr_mask) >> VMMU_PAGE_SHIFT;
		flags = ps->pdpte[q] & (X86_PTE_PWT | X86_PTE_PCD);
		type = SH_TYPE(2, SH_GUEST, 0, sc->role, 0);
	} else {
		gfn = (ps->cr3 & 0xfffff000ULL) >> VMMU_PAGE_SHIFT;
		type = SH_TYPE(2, SH_GUEST, q, sc->role, 0);
	}
	rc = sh_get(sv, gfn, type, create, child);
	if (rc == 0 && *child != SH_NIL)
		*e = sv->pages[*child]->hpa.v | X86_PTE_P | X86_PTE_RW |
		     X86_PTE_US | X86_PTE_A | flags;
	return rc;
}

static void set_if(struct sh_vm *sv, uint32_t pi, unsigned j, uint64_t e,
		   uint32_t child)
{
	if (pte_load(&sv->pages[pi]->e[j]) != e)
		sh_set_entry(sv, pi, j, e, child);
}

/* Link the vCPU's PML4[0] to its PDPT and PDPT[q] (PAE, 2-level). */
static int root_link(struct sh_vm *sv, struct vmmu_vcpu *vcpu, unsigned q,
		     bool create, uint32_t *child_out)
{
	struct sh_vcpu *sc = vcpu->backend_state;
	uint64_t e;
	uint32_t child;
	int rc;

	set_if(sv, sc->pml4, 0, sv->pages[sc->pdpt]->hpa.v | X86_PTE_P |
	       X86_PTE_RW | X86_PTE_US | X86_PTE_A, sc->pdpt);
	rc = root_pdpte(sv, vcpu, q, create, &e, &child);
	if (rc == 0)
		set_if(sv, sc->pdpt, q, e, child);
	if (child_out)
		*child_out = child;
	return rc;
}

int sh_sync_vcpu(struct vmmu_vcpu *vcpu)
{
	struct sh_vm *sv = sh_vm_of(vcpu->vm);
	struct sh_vcpu *sc = vcpu->backend_state;
	struct vmmu_paging_state *ps = &vcpu->paging;
	struct vmmu_gmem mem;
	enum vmmu_paging_mode m;
	unsigned q, top;
	int rc;

	vmmu_paging_update(ps);
	m = (enum vmmu_paging_mode)ps->role.mode;
	if (sc->top != SH_NIL)
		sv->pages[sc->top]->pin--;
	sc->top = sc->root = SH_NIL;
	sc->valid = false;
	if (m == VMMU_PAGING_INVALID)
		return VMMU_EINVAL;
	if (m == VMMU_PAGING_PAE && !ps->pdptes_loaded) {
		vmmu_vm_gmem(vcpu->vm, &mem);
		(void)vmmu_paging_load_pdptes(ps, &mem);  /* #GP: walks say 13 */
	}
	build_sps(sc, ps);
	rc = sh_role_of(sv, ps, &sc->role);
	if (rc < 0)
		return rc;
	sv->st.root_switches++;
	if (m == VMMU_PAGING_4LEVEL || m == VMMU_PAGING_5LEVEL) {
		top = m == VMMU_PAGING_5LEVEL ? 5 : 4;
		rc = sh_get(sv, (ps->cr3 & ps->role.addr_mask) >> VMMU_PAGE_SHIFT,
			    SH_TYPE(top, SH_GUEST, 0, sc->role, 0), true, &sc->top);
		if (rc < 0)
			return rc;
		sv->pages[sc->top]->pin++;
		sc->root = sc->top;
	} else {
		/* Relink what is already shadowed; the rest fills on #PF. */
		for (q = 0; m != VMMU_PAGING_NONE && q < 4; q++)
			if ((rc = root_link(sv, vcpu, q, false, NULL)) < 0)
				return rc;
		sc->root = sc->pml4;
	}
	/* The walk reads the root's address from here, never the pool's
	 * directory (T1); the root is pinned (I5), so the address holds. */
	sc->root_hpa = sv->pages[sc->root]->hpa;
	sc->seen_key = ps->role.key;
	sc->seen_cr3 = ps->cr3;
	memcpy(sc->seen_pdpte, ps->pdpte, sizeof(sc->seen_pdpte));
	sc->valid = true;
	return VMMU_OK;
}

/* Fill the shadow path of linear address la from the root down. */
/*
 * The prefetch policy (vmmu_shadow_set_prefetch): after leaf j of level-1
 * page pi was filled, the not-present entries of its aligned group are
 * propagated from the guest's entries as they are now, through the same
 * sh_propagate a fill of each would run (so every propagation rule holds),
 * but with create false: a frame not backed yet stays not present rather
 * than taking host memory for a page the guest may never touch.
 */
static int sh_prefetch(struct vmmu_vcpu *vcpu, struct sh_vm *sv, uint32_t pi,
		       unsigned j)
{
	const struct sh_page *p = sv->pages[pi];
	unsigned n = sv->prefetch, k, size;
	uint64_t gpa, g, e;
	uint32_t child;
	int rc;

	for (k = j & ~(n - 1); k < (j & ~(n - 1)) + n; k++) {
		if (k == j || pte_load(&p->e[k]))
			continue;
		g = 0;
		if (sh_guest_entry(sv, p, k, &gpa, &size) &&
		    (rc = vmmu_vm_read_gpa(vcpu->vm, mk_gpa(gpa), &g, size)) < 0)
			return rc;
		rc = sh_propagate(sv, pi, k, g, false, &e, &child);
		if (rc < 0)
			return rc;
		if (e & X86_PTE_P) {
			set_if(sv, pi, k, e, child);
			sv->st.prefetched++;
		}
	}
	return VMMU_OK;
}

int vmmu_shadow_set_prefetch(struct vmmu_vm *vm, unsigned n)
{
	if (!vm || vm->ops != &vmmu_backend_shadow || n > VMMU_PT_ENTRIES ||
	    (n & (n - 1)))
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	sh_vm_of(vm)->prefetch = n > 1 ? n : 0;
	vmmu_vm_unlock(vm);
	return VMMU_OK;
}

static int sh_fill(struct vmmu_vcpu *vcpu, uint64_t la)
{
	struct sh_vm *sv = sh_vm_of(vcpu->vm);
	struct sh_vcpu *sc = vcpu->backend_state;
	uint32_t path[8], pi = sc->root, child;
	unsigned n = 0, level = sc->sps.role.top_level, size, j;
	uint64_t gpa, g, e;
	int rc = VMMU_OK;

	if (vcpu->paging.role.mode == VMMU_PAGING_PAE ||
	    vcpu->paging.role.mode == VMMU_PAGING_2LEVEL) {
		rc = root_link(sv, vcpu, (unsigned)(la >> 30) & 3, true, &pi);
		level = 2;
	}
	while (rc == 0 && pi != SH_NIL && n < 8) {
		struct sh_page *p = sv->pages[pi];

		path[n++] = pi;
		p->busy++;
		p->flood = 0;
		sh_touch(sv, pi);
		j = vmmu_pt_index(la, level);
		g = 0;
		if (sh_guest_entry(sv, p, j, &gpa, &size) &&
		    (rc = vmmu_vm_read_gpa(vcpu->vm, mk_gpa(gpa), &g, size)) < 0)
			break;
		rc = sh_propagate(sv, pi, j, g, true, &e, &child);
		if (rc < 0)
			break;
		set_if(sv, pi, j, e, child);
		if (level == 1) {
			if (sv->prefetch)
				rc = sh_prefetch(vcpu, sv, pi, j);
			break;
		}
		pi = child;
		level--;
	}
	while (n)
		sv->pages[path[--n]]->busy--;
	return rc;
}

static void to_vmm(struct vmmu_exit_result *res, enum vmmu_vmm_reason why)
{
	res->action = VMMU_ACT_TO_VMM;
	res->reason = why;
}

/* MMIO: the VM's device model, else the VMM (as the direct backend). */
static int sh_mmio(struct vmmu_vcpu *vcpu, gpa_t gpa, const struct vmmu_op *op,
		   struct vmmu_exit_result *res)
{
	struct vmmu_vm *vm = vcpu->vm;
	int rc;

	sh_vm_of(vm)->st.mmio++;
	if (!vm->mmio || !op->data) {
		to_vmm(res, VMMU_REASON_MMIO);
		return VMMU_OK;
	}
	rc = vm->mmio(vm->mmio_ctx, gpa, op->acc.kind == VMMU_ACCESS_WRITE,
		      op->data, op->size);
	if (rc < 0)
		return rc;
	res->action = VMMU_ACT_DONE;
	return VMMU_OK;
}

/* Where gpa leads when it is not plain RAM; true when res is final. */
static bool p2m_exit(struct vmmu_vcpu *vcpu, gpa_t gpa, const struct vmmu_op *op,
		     struct vmmu_exit_result *res, int *rc)
{
	const struct vmmu_slot *slot = vmmu_vm_find_slot(vcpu->vm, gpa);
	enum vmmu_p2m_type t = slot ? sh_p2m_type(vcpu->vm, gpa) : VMMU_P2M_MMIO;
	bool write = op->acc.kind == VMMU_ACCESS_WRITE;

	res->gpa = gpa;
	res->gpa_valid = true;
	*rc = VMMU_OK;
	if (!slot)
		to_vmm(res, VMMU_REASON_UNMAPPED);
	else if (slot->type == VMMU_MEM_MMIO || t == VMMU_P2M_MMIO)
		*rc = sh_mmio(vcpu, gpa, op, res);
	else if ((slot->type == VMMU_MEM_ROM || t == VMMU_P2M_ROM) && write)
		to_vmm(res, VMMU_REASON_ROM_WRITE);
	else if (t == VMMU_P2M_RAM_RO && write)
		to_vmm(res, VMMU_REASON_UNHANDLED);     /* as EPT and NPT */
	else
		return false;
	return true;
}

static int sh_emulate(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		      const struct vmmu_op *op, gpa_t gpa, bool paging,
		      struct vmmu_exit_result *res);

/* Paging off: back the page and retry (the direct backend's rule). */
static int exit_nopaging(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
			 const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	gpa_t gpa = mk_gpa(op->acc.gva.v & 0xffffffffULL);
	struct vmmu_ram_page rp;
	int rc;

	if (p2m_exit(vcpu, gpa, op, res, &rc))
		return rc;
	rc = vmmu_vm_ram_lookup(vcpu->vm, gpa, true, &rp);
	if (op->acc.kind == VMMU_ACCESS_WRITE)
		sh_dirty_write_fault(sh_vm_of(vcpu->vm), gpa);
	/*
	 * A frame that may be a page table (a shadow kept from an earlier
	 * mode, a PV table) gets no W from hw_nopaging: its write is
	 * emulated here, revalidating its shadows, or a validated PV update.
	 * The frame's bit is never cleared, so a frame that is no table any
	 * more is emulated too, rather than retried without end.
	 */
	if (rc == 0 && op->acc.kind == VMMU_ACCESS_WRITE &&
	    sh_maybe_pt_frame(sh_vm_of(vcpu->vm), gpa.v >> VMMU_PAGE_SHIFT))
		return sh_emulate(vcpu, exit, op, gpa, false, res);
	res->action = VMMU_ACT_RETRY;
	return rc < 0 ? rc : VMMU_OK;
}

/* Free the unpinned GUEST shadows of gfn; true when none is left. */
static bool sh_unshadow(struct sh_vm *sv, uint64_t gfn)
{
	uint32_t i = sh_find_any(sv, gfn), next;

	for (; i != SH_NIL; i = next) {
		struct sh_page *p = sv->pages[i];

		next = sh_next_any(sv, i, gfn);
		if (SH_T_KIND(p->type) == SH_GUEST && !p->pin && !p->busy) {
			sh_free(sv, i);
			sv->st.unshadowed++;
		}
	}
	return !sh_is_pt(sv, gfn);
}

/* A page-table write: emulate it, or unshadow a flooded/misaligned page. */
static bool pt_write_unshadows(struct sh_vm *sv, gpa_t gpa, unsigned size)
{
	uint64_t gfn = gpa.v >> VMMU_PAGE_SHIFT;
	bool drop = false;
	uint32_t i;

	for (i = sh_find_any(sv, gfn); i != SH_NIL; i = sh_next_any(sv, i, gfn)) {
		struct sh_page *p = sv->pages[i];
		unsigned es = sv->roles[SH_T_ROLE(p->type)].ps.role.entry_size;

		if (SH_T_KIND(p->type) != SH_GUEST)
			continue;
		if ((gpa.v & (es - 1)) + size > es || ++p->flood >= SH_FLOOD)
			drop = true;
	}
	return drop && sh_unshadow(sv, gfn);
}

/*
 * A trapped write: a PV update of a PV table, or emulated; with paging on
 * (paging), a page-table write may run natively instead once its page is
 * out of sync or unshadowed.
 */
static int sh_emulate(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		      const struct vmmu_op *op, gpa_t gpa, bool paging,
		      struct vmmu_exit_result *res)
{
	struct sh_vm *sv = sh_vm_of(vcpu->vm);
	struct vmmu_exit ex = *exit;
	struct vmmu_walk_result r;
	int rc;

	if (sh_pv_is_table(sv, gpa.v >> VMMU_PAGE_SHIFT))
		return sh_pv_trapped_write(vcpu, op, gpa, res);
	if (sh_is_pt(sv, gpa.v >> VMMU_PAGE_SHIFT)) {
		if (paging && (sh_oos_try(sv, gpa.v >> VMMU_PAGE_SHIFT) ||
			       pt_write_unshadows(sv, gpa, op->size))) {
			rc = sh_fill(vcpu, op->acc.gva.v);
			if (rc == 0)
				rc = sh_walk_shadow(vcpu, &op->acc, &r);
			if (rc < 0)
				return rc;
			if (r.ok) {
				res->action = VMMU_ACT_RETRY;
				return VMMU_OK;
			}
		}
		sv->st.emulated_writes++;
	} else {
		sv->st.other_emulated++;
	}
	res->action = VMMU_ACT_DONE;
	if (!op->data)
		return VMMU_OK;     /* a translation only: nothing to store */
	ex.gpa = gpa;
	return vmmu_vcpu_emulate(vcpu, &ex, op, res);
}

static int sh_resolve(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		      const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	struct sh_vm *sv = sh_vm_of(vcpu->vm);
	struct vmmu_gmem_probe m;
	struct vmmu_walk_result w, r;
	int rc;

	vmmu_vm_gmem_probe(vcpu->vm, &m);
	rc = vmmu_walk(&vcpu->paging, &m.mem, &op->acc, &w);
	if (rc < 0 && m.failed_rc) {
		/* A guest page-table access hit MMIO or a hole. */
		res->gpa = m.failed;
		res->gpa_valid = true;
		to_vmm(res, VMMU_REASON_UNHANDLED);
		return VMMU_OK;
	}
	if (rc < 0)
		return rc;
	if (!w.ok) {
		sv->st.guest_faults++;
		res->action = VMMU_ACT_INJECT;
		res->fault = w;
		return VMMU_OK;
	}
	if (p2m_exit(vcpu, w.gpa, op, res, &rc))
		return rc;
	/* Log-dirty: the bit first, then the fill may grant W (rule 2). */
	if (op->acc.kind == VMMU_ACCESS_WRITE)
		sh_dirty_write_fault(sv, w.gpa);
	rc = sh_fill(vcpu, op->acc.gva.v);
	if (rc == 0)
		rc = sh_walk_shadow(vcpu, &op->acc, &r);
	if (rc < 0)
		return rc;
	sv->st.fills++;
	if (r.ok) {
		res->action = VMMU_ACT_RETRY;
		return VMMU_OK;
	}
	if (op->acc.kind == VMMU_ACCESS_WRITE)
		return sh_emulate(vcpu, exit, op, w.gpa, true, res);
	return vmmu_vm_kill(vcpu->vm, "shadow refuses an access the guest allows");
}

int sh_handle_exit(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		   const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	struct sh_vm *sv = sh_vm_of(vcpu->vm);
	struct sh_vcpu *sc = vcpu->backend_state;
	int rc;

	if (exit->kind != VMMU_EXIT_SHADOW_PF || !op)
		return VMMU_EINVAL;
	sh_hook_enter(sv);
	if (sh_vcpu_stale(vcpu) || sc->root == SH_NIL) {
		/* The root is reloaded first, as a VMM does before VM entry. */
		rc = sh_sync_vcpu(vcpu);
		res->action = VMMU_ACT_RETRY;
	} else if (vcpu->paging.role.mode == VMMU_PAGING_NONE) {
		rc = exit_nopaging(vcpu, exit, op, res);
	} else {
		rc = sh_resolve(vcpu, exit, op, res);
	}
	sh_hook_leave(sv);
	return rc;
}
