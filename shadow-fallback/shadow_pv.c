/* SPDX-License-Identifier: MIT */
/*
 * The PV interface (docs/shadow.md, "PV interface"): a paravirtualised
 * guest changes its page tables through vmmu_shadow_pv_mmu_update() and
 * declares them with vmmu_shadow_pv_pin(), the shape of Xen's PV
 * mmu_update and pin operations.
 *
 * Every guest frame has a type and a count of references to that type:
 *  - none (no record);
 *  - writable: the validated L1 entries that map it with R/W;
 *  - L1..L4: a validated page table of that level; the count is the
 *    validated entries of the level above that link it, plus one for a
 *    pin.
 * A frame holds one type at a time, so no validated table maps a page
 * table writable and no writably mapped frame becomes a table. The type
 * is taken when the count goes from 0 to 1; for a table that validates
 * its 512 entries, each taking its own reference (recursively, one level
 * lower each time, so at most four deep and never in a loop: a table
 * reached again at another level has the wrong type), and a failure gives
 * back what was taken. When the count drops to 0 the type goes, and a
 * table's entries give back their references.
 *
 * Entries are in the 4-level long-mode format (SDM Vol. 3A 4.5, tables
 * 4-15 to 4-19): not present -> nothing to check; L1 -> the frame must be
 * the VM's own (a RAM, ROM or MMIO slot) or mapped into it by a grant or
 * foreign mapping (vmmu/p2m.h); writable only for RAM and read-write
 * grants or foreign frames, and then it takes a writable reference;
 * L2..L4 -> the linked frame must be the VM's RAM and takes a reference
 * of the level below; a large page (PS) is refused.
 *
 * The shadows follow: a frame of a table type is never mapped writable in
 * a shadow (sh_leaf asks sh_pv_is_table), becoming a table write-protects
 * it through the reverse map, and a guest write that traps on it is one
 * validated update (sh_pv_trapped_write) or, refused, a #PF to the guest.
 * Writes by the VMM itself (vmmu_vm_write_gpa) are not validated.
 */
#include <string.h>

#include "shadow_int.h"
#include "vmmu/p2m.h"

#define PV_MIN_CAP 64U

static uint32_t pv_home(const struct sh_vm *sv, uint64_t gfn)
{
	return (uint32_t)((gfn * 0x9e3779b97f4a7c15ULL) >> 32) & (sv->pv_cap - 1);
}

static struct sh_pv_frame *pv_find(const struct sh_vm *sv, uint64_t gfn)
{
	uint32_t i;

	if (!sv->pv_used)
		return NULL;
	for (i = pv_home(sv, gfn); sv->pv[i].type != VMMU_PV_NONE;
	     i = (i + 1) & (sv->pv_cap - 1))
		if (sv->pv[i].gfn == gfn)
			return &sv->pv[i];
	return NULL;
}

static void pv_place(struct sh_vm *sv, const struct sh_pv_frame *f)
{
	uint32_t i = pv_home(sv, f->gfn);

	while (sv->pv[i].type != VMMU_PV_NONE)
		i = (i + 1) & (sv->pv_cap - 1);
	sv->pv[i] = *f;
}

/* Keep the table at most half full (linear probing stays short). */
static int pv_grow(struct sh_vm *sv)
{
	const struct vmmu_platform *pl = &sv->vm->platform;
	struct sh_pv_frame *old = sv->pv;
	uint32_t i, cap = sv->pv_cap;

	if (2 * (sv->pv_used + 1) <= cap)
		return VMMU_OK;
	sv->pv_cap = cap ? 2 * cap : PV_MIN_CAP;
	sv->pv = pl->zalloc(pl->ctx, sv->pv_cap * sizeof(*sv->pv));
	if (!sv->pv) {
		sv->pv = old;
		sv->pv_cap = cap;
		return VMMU_ENOMEM;
	}
	for (i = 0; i < cap; i++)
		if (old[i].type != VMMU_PV_NONE)
			pv_place(sv, &old[i]);
	if (old)
		pl->free(pl->ctx, old);
	return VMMU_OK;
}

/* Remove gfn's record; later records of its probe run move up. */
static void pv_remove(struct sh_vm *sv, uint64_t gfn)
{
	struct sh_pv_frame *f = pv_find(sv, gfn);
	uint32_t mask = sv->pv_cap - 1, hole, j, home;

	if (!f)
		return;
	hole = (uint32_t)(f - sv->pv);
	sv->pv[hole].type = VMMU_PV_NONE;
	sv->pv_used--;
	for (j = (hole + 1) & mask; sv->pv[j].type != VMMU_PV_NONE;
	     j = (j + 1) & mask) {
		home = pv_home(sv, sv->pv[j].gfn);
		/* stays when its home lies cyclically in (hole, j] */
		if (((j - home) & mask) < ((j - hole) & mask))
			continue;
		sv->pv[hole] = sv->pv[j];
		sv->pv[j].type = VMMU_PV_NONE;
		hole = j;
	}
}

void sh_pv_destroy(struct sh_vm *sv)
{
	if (sv->pv)
		sv->vm->platform.free(sv->vm->platform.ctx, sv->pv);
	sv->pv = NULL;
	sv->pv_cap = sv->pv_used = 0;
}

bool sh_pv_is_table(const struct sh_vm *sv, uint64_t gfn)
{
	const struct sh_pv_frame *f = pv_find(sv, gfn);

	return f && f->type >= VMMU_PV_L1 && f->type <= VMMU_PV_L4;
}

/* May frame gpa be mapped (rw: writable), or (table) hold a table? */
static int pv_frame_ok(const struct sh_vm *sv, uint64_t gpa, bool table,
		       bool rw)
{
	struct vmmu_p2m_info in;

	if (vmmu_p2m_lookup(sv->vm, mk_gpa(gpa), &in) < 0)
		return VMMU_EFAULT;     /* a hole: not the VM's frame */
	switch (in.type) {
	case VMMU_P2M_RAM_RW:
	case VMMU_P2M_RAM_LOGDIRTY:
		return VMMU_OK;
	case VMMU_P2M_MMIO:
	case VMMU_P2M_GRANT_RW:
	case VMMU_P2M_FOREIGN:
		return table ? VMMU_EFAULT : VMMU_OK;
	default:                /* read-only RAM, ROM, a read-only grant */
		return table || rw ? VMMU_EFAULT : VMMU_OK;
	}
}

static int pv_get_ref(struct sh_vm *sv, unsigned level, uint64_t e);
static void pv_put_ref(struct sh_vm *sv, unsigned level, uint64_t e);

static int pv_entry(const struct sh_vm *sv, uint64_t gfn, unsigned j,
		    uint64_t *e)
{
	*e = 0;
	return vmmu_vm_read_gpa(sv->vm, mk_gpa((gfn << VMMU_PAGE_SHIFT) + 8 * j),
				e, 8) < 0 ? VMMU_EFAULT : VMMU_OK;
}

/* Table gfn of level t just got its type: take its entries' references. */
static int pv_validate(struct sh_vm *sv, uint64_t gfn, unsigned t)
{
	unsigned j, k;
	uint64_t e;
	int rc = VMMU_OK;

	for (j = 0; rc == 0 && j < 512; j++) {
		rc = pv_entry(sv, gfn, j, &e);
		if (rc == 0)
			rc = pv_get_ref(sv, t, e);
	}
	if (rc == 0) {
		sv->st.pv_validated++;
		return VMMU_OK;
	}
	for (k = 0; k + 1 < j; k++)     /* give back entries 0 .. j - 2 */
		if (pv_entry(sv, gfn, k, &e) == 0)
			pv_put_ref(sv, t, e);
	return rc;
}

/* One reference of type t (VMMU_PV_WRITABLE or a table level) to gfn. */
static int pv_get_type(struct sh_vm *sv, uint64_t gfn, unsigned t)
{
	struct sh_pv_frame *f = pv_find(sv, gfn), nf = { gfn, 1, (uint8_t)t, false };
	int rc;

	if (f) {
		if (f->type != t)
			return VMMU_EBUSY;  /* a table mapped writable, or so */
		f->count++;
		return VMMU_OK;
	}
	rc = pv_grow(sv);
	if (rc < 0)
		return rc;
	pv_place(sv, &nf);
	sv->pv_used++;
	if (t == VMMU_PV_WRITABLE)
		return VMMU_OK;
	rc = pv_validate(sv, gfn, t);
	if (rc < 0) {
		pv_remove(sv, gfn);
		return rc;
	}
	sh_write_protect(sv, gfn);      /* no shadow maps a table writable */
	/*
	 * Nor a paging-off translation in a TLB model (hw_nopaging gives no
	 * W to a frame with the bit): mark it, then flush what is cached.
	 */
	if (!sh_maybe_pt_frame(sv, gfn)) {
		sh_mark_maybe_pt(sv, gfn);
		sh_flush_tlbs(sv);
	}
	return VMMU_OK;
}

static void pv_put_type(struct sh_vm *sv, uint64_t gfn)
{
	struct sh_pv_frame *f = pv_find(sv, gfn);
	unsigned t, j;
	uint64_t e;

	if (!f || --f->count)
		return;
	t = f->type;
	pv_remove(sv, gfn);
	for (j = 0; t != VMMU_PV_WRITABLE && j < 512; j++)
		if (pv_entry(sv, gfn, j, &e) == 0)
			pv_put_ref(sv, t, e);
}

/* The reference entry e of a level-level table takes (see the top). */
static int pv_get_ref(struct sh_vm *sv, unsigned level, uint64_t e)
{
	uint64_t gpa = e & X86_PTE_ADDR_MASK;
	int rc;

	if (!(e & X86_PTE_P))
		return VMMU_OK;
	if (level == 1) {
		rc = pv_frame_ok(sv, gpa, false, e & X86_PTE_RW);
		if (rc == 0 && (e & X86_PTE_RW))
			rc = pv_get_type(sv, gpa >> VMMU_PAGE_SHIFT,
					 VMMU_PV_WRITABLE);
		return rc;
	}
	if (e & X86_PTE_PS)
		return VMMU_EINVAL;     /* no large pages through this interface */
	rc = pv_frame_ok(sv, gpa, true, false);
	return rc == 0 ? pv_get_type(sv, gpa >> VMMU_PAGE_SHIFT, level - 1) : rc;
}

static void pv_put_ref(struct sh_vm *sv, unsigned level, uint64_t e)
{
	if (!(e & X86_PTE_P) || (level > 1 && (e & X86_PTE_PS)) ||
	    (level == 1 && !(e & X86_PTE_RW)))
		return;
	pv_put_type(sv, (e & X86_PTE_ADDR_MASK) >> VMMU_PAGE_SHIFT);
}

/* Entry at gpa ptr (in a validated table) := val, validated. */
static int pv_update(struct sh_vm *sv, uint64_t ptr, uint64_t val)
{
	const struct sh_pv_frame *f = pv_find(sv, ptr >> VMMU_PAGE_SHIFT);
	uint64_t old = 0;
	unsigned t;
	int rc;

	if ((ptr & 7) || !f || f->type == VMMU_PV_WRITABLE)
		return VMMU_EINVAL;     /* not an entry of a validated table */
	t = f->type;
	rc = vmmu_vm_read_gpa(sv->vm, mk_gpa(ptr), &old, 8);
	if (rc == 0)            /* the new reference first: old may be val */
		rc = pv_get_ref(sv, t, val);
	if (rc < 0)
		return rc;
	rc = vmmu_vm_write_gpa(sv->vm, mk_gpa(ptr), &val, 8);
	if (rc < 0) {
		pv_put_ref(sv, t, val);
		return rc;
	}
	pv_put_ref(sv, t, old);
	sv->st.pv_updates++;
	return VMMU_OK;
}

/* A guest write trapped on a table frame: one validated update, or #PF. */
int sh_pv_trapped_write(struct vmmu_vcpu *vcpu, const struct vmmu_op *op,
			gpa_t gpa, struct vmmu_exit_result *res)
{
	struct sh_vm *sv = sh_vm_of(vcpu->vm);
	uint64_t val;
	int rc = VMMU_EINVAL;

	res->action = VMMU_ACT_DONE;
	if (!op->data)
		return VMMU_OK;         /* a translation only: nothing to store */
	if (op->size == 8 && !(gpa.v & 7)) {
		memcpy(&val, op->data, 8);
		rc = pv_update(sv, gpa.v, val);
	}
	if (rc == VMMU_OK || rc == VMMU_ENOMEM)
		return rc;
	/* Refused: the write-protection fault of a read-only page. */
	sv->st.pv_refused++;
	res->action = VMMU_ACT_INJECT;
	memset(&res->fault, 0, sizeof(res->fault));
	res->fault.vector = X86_VEC_PF;
	res->fault.error_code = X86_PFEC_P | X86_PFEC_W |
				(op->acc.cpl == 3 ? X86_PFEC_U : 0);
	res->fault.cr2 = op->acc.gva;
	return VMMU_OK;
}

/* The no-writable-table rule in the shadows, for vmmu_shadow_check. */
int sh_pv_check(const struct sh_vm *sv, const char **why)
{
	uint32_t i, id;
	hpa_t hpa;

	for (i = 0; i < sv->pv_cap; i++) {
		const struct sh_pv_frame *f = &sv->pv[i];

		if (f->type < VMMU_PV_L1 || f->type > VMMU_PV_L4 ||
		    vmmu_vm_gpa_to_hpa(sv->vm, mk_gpa(f->gfn << VMMU_PAGE_SHIFT),
				       &hpa) < 0)
			continue;
		for (id = sv->rmap[sh_rmap_bucket(hpa.v)]; id != SH_NIL;
		     id = sv->pages[id >> 9]->link[id & 511][0]) {
			uint64_t e = sv->pages[id >> 9]->e[id & 511];

			if ((e & X86_PTE_ADDR_MASK) == hpa.v && (e & X86_PTE_RW)) {
				if (why)
					*why = "a PV page table is writable in a shadow";
				return VMMU_EDEAD;
			}
		}
	}
	return VMMU_OK;
}

static struct sh_vm *pv_vm(struct vmmu_vm *vm)
{
	return vm && vm->ops == &vmmu_backend_shadow ? sh_vm_of(vm) : NULL;
}

/* An operation's own guest writes come back to the hook (T4). */
static void pv_enter(struct sh_vm *sv)
{
	vmmu_vm_lock(sv->vm);
	sh_hook_enter(sv);
}

/* After an operation: the TLB models lose what a protection removed. */
static int pv_leave(struct sh_vm *sv, int rc)
{
	sh_hook_leave(sv);
	vmmu_vm_unlock(sv->vm);
	return rc;
}

int vmmu_shadow_pv_mmu_update(struct vmmu_vm *vm,
			      const struct vmmu_pv_update *req, unsigned count,
			      unsigned *done)
{
	struct sh_vm *sv = pv_vm(vm);
	unsigned i;
	int rc = VMMU_OK;

	if (done)
		*done = 0;
	if (!sv || (!req && count))
		return VMMU_EINVAL;
	pv_enter(sv);
	for (i = 0; rc == 0 && i < count; i++) {
		rc = pv_update(sv, req[i].ptr, req[i].val);
		if (rc == 0 && done)
			++*done;
	}
	return pv_leave(sv, rc);
}

int vmmu_shadow_pv_pin(struct vmmu_vm *vm, gpa_t table, unsigned level)
{
	struct sh_vm *sv = pv_vm(vm);
	uint64_t gfn = table.v >> VMMU_PAGE_SHIFT;
	struct sh_pv_frame *f;
	int rc;

	if (!sv || level < 1 || level > 4 || (table.v & ~VMMU_PAGE_MASK))
		return VMMU_EINVAL;
	pv_enter(sv);
	f = pv_find(sv, gfn);
	if (f && f->pinned)
		return pv_leave(sv, VMMU_EEXIST);
	rc = pv_frame_ok(sv, table.v, true, false);
	if (rc == 0)
		rc = pv_get_type(sv, gfn, level);
	if (rc == 0)
		pv_find(sv, gfn)->pinned = true;
	return pv_leave(sv, rc);
}

int vmmu_shadow_pv_unpin(struct vmmu_vm *vm, gpa_t table)
{
	struct sh_vm *sv = pv_vm(vm);
	struct sh_pv_frame *f;

	if (!sv)
		return VMMU_EINVAL;
	pv_enter(sv);
	f = pv_find(sv, table.v >> VMMU_PAGE_SHIFT);
	if (!f || !f->pinned)
		return pv_leave(sv, VMMU_ENOENT);
	f->pinned = false;
	pv_put_type(sv, table.v >> VMMU_PAGE_SHIFT);
	return pv_leave(sv, VMMU_OK);
}

int vmmu_shadow_pv_frame(struct vmmu_vm *vm, gpa_t frame,
			 struct vmmu_pv_frame_info *out)
{
	struct sh_vm *sv = pv_vm(vm);
	const struct sh_pv_frame *f;

	if (!sv || !out)
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	f = pv_find(sv, frame.v >> VMMU_PAGE_SHIFT);
	memset(out, 0, sizeof(*out));
	if (f) {
		out->type = f->type;
		out->count = f->count;
		out->pinned = f->pinned;
	}
	vmmu_vm_unlock(vm);
	return VMMU_OK;
}
