/* SPDX-License-Identifier: MIT */
/*
 * Dirty tracking over EPT, first version (a later issue unifies the VM's
 * dirty log across backends):
 *  - write protection (VMMU_DIRTY_WRITE_PROTECT): RAM_RW pages become
 *    RAM_LOGDIRTY in the p2m and the change reaches the tables lazily
 *    (root entries marked, SDM 29.3.3.1 misconfigurations resolve it); a
 *    write fault logs the page and makes it writable (ept_exit.c);
 *  - EPT A/D (VMMU_DIRTY_AD_BITS, SDM 29.3.5): start clears every D flag,
 *    harvest tests and clears them, with INVEPT after;
 *  - PML (VMMU_DIRTY_PML, SDM 29.3.6): as A/D, and each vCPU's log is
 *    drained on harvest and on the PML-full exit.
 * Writes vmmu itself makes (vmmu_vm_written) are logged in every mode.
 */
#include <string.h>

#include "vmmu/error.h"
#include "ept_internal.h"

int ept_dirty_mark(struct vmmu_vm *vm, uint64_t gfn)
{
	struct ept_vm *e = ept_of(vm);
	size_t lo = 0, hi = e->ndirty;

	if (!e->dirty_on)
		return VMMU_OK;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->dirty[mid] < gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < e->ndirty && e->dirty[lo] == gfn)
		return VMMU_OK;
	if (e->ndirty == e->dirty_cap) {
		size_t ncap = e->dirty_cap ? e->dirty_cap * 2 : 64;
		uint64_t *n = vm->platform.zalloc(vm->platform.ctx,
						  ncap * sizeof(*n));

		if (!n)
			return VMMU_ENOMEM;
		if (e->dirty) {
			memcpy(n, e->dirty, e->ndirty * sizeof(*n));
			vm->platform.free(vm->platform.ctx, e->dirty);
		}
		e->dirty = n;
		e->dirty_cap = ncap;
	}
	memmove(&e->dirty[lo + 1], &e->dirty[lo],
		(e->ndirty - lo) * sizeof(*e->dirty));
	e->dirty[lo] = gfn;
	e->ndirty++;
	return VMMU_OK;
}

/*
 * Record type to in the p2m wherever [a, a + size) has type from, in the
 * largest uniform pieces (the whole range, 2 MiB, 4 KiB): one record for a
 * uniform guest, so that starting costs the same for 1 GiB and 1 TiB.
 */
static int retype(struct vmmu_vm *vm, uint64_t a, uint64_t size,
		  enum vmmu_p2m_type from, enum vmmu_p2m_type to)
{
	uint64_t step, end = a + size;
	enum vmmu_p2m_type t;
	int rc = vmmu_p2m_range_type(vm, mk_gpa(a), size, &t);

	if (rc == VMMU_OK)
		return t == from ? vmmu_p2m_record_type(vm, mk_gpa(a), size, to)
				 : VMMU_OK;
	if (rc < 0 || size == VMMU_PAGE_SIZE)
		return rc < 0 ? rc : VMMU_OK;
	step = size > (2ULL << 20) ? 2ULL << 20 : VMMU_PAGE_SIZE;
	while (a < end) {
		uint64_t next = (a & ~(step - 1)) + step;

		rc = retype(vm, a, (next < end ? next : end) - a, from, to);
		if (rc < 0)
			return rc;
		a = next;
	}
	return VMMU_OK;
}

/* Retype [a, a + size) from -> to, then mark it for lazy recalculation. */
static int retype_lazily(struct vmmu_vm *vm, uint64_t a, uint64_t size,
			 enum vmmu_p2m_type from, enum vmmu_p2m_type to)
{
	struct ept_vm *e = ept_of(vm);
	struct vmmu_pt_change chg = { 0 };
	int rc = retype(vm, a, size, from, to);

	if (rc < 0)
		return rc;
	rc = vmmu_pt_mark_recalc(&e->pt, a, size, ept_recalc_leaf, vm, &chg);
	ept_flush(vm, &chg);
	return rc;
}

/* fn over every RAM slot. */
static int each_ram_slot(struct vmmu_vm *vm,
			 int (*fn)(struct vmmu_vm *vm, uint64_t a, uint64_t size))
{
	unsigned i;
	int rc;

	for (i = 0; i < vm->nslots; i++) {
		if (vm->slots[i].type != VMMU_MEM_RAM)
			continue;
		rc = fn(vm, vm->slots[i].base.v, vm->slots[i].size);
		if (rc < 0)
			return rc;
	}
	return VMMU_OK;
}

static int protect_range(struct vmmu_vm *vm, uint64_t a, uint64_t size)
{
	return retype_lazily(vm, a, size, VMMU_P2M_RAM_RW, VMMU_P2M_RAM_LOGDIRTY);
}

static int unprotect_range(struct vmmu_vm *vm, uint64_t a, uint64_t size)
{
	return retype_lazily(vm, a, size, VMMU_P2M_RAM_LOGDIRTY, VMMU_P2M_RAM_RW);
}

struct harvest {
	vmmu_ept_dirty_fn fn;
	void *ctx;
};

static int d_seen(void *ctx, uint64_t addr, uint64_t size, unsigned level,
		  uint64_t entry)
{
	const struct harvest *h = ctx;

	(void)level; (void)entry;
	return h && h->fn ? h->fn(h->ctx, mk_gpa(addr), size) : 0;
}

/* Test and clear the D flags of [a, a + size), INVEPT after (29.4.3.1). */
static int clear_d(struct vmmu_vm *vm, uint64_t a, uint64_t size,
		   const struct harvest *h)
{
	struct ept_vm *e = ept_of(vm);
	struct vmmu_pt_change chg = { 0 };
	int rc = vmmu_pt_test_and_clear(&e->pt, a, size, EPT_D, d_seen,
					(void *)(uintptr_t)h, &chg);

	ept_flush(vm, &chg);
	return rc;
}

static int clear_d_range(struct vmmu_vm *vm, uint64_t a, uint64_t size)
{
	return clear_d(vm, a, size, NULL);
}

static void pml_enable(struct vmmu_vm *vm, bool on)
{
	unsigned i;

	for (i = 0; i < vm->nvcpus; i++) {
		struct ept_vcpu *ev = vm->vcpus[i]->backend_state;

		if (ev && ev->pml_page.v) {
			ev->pml_enabled = on;
			ev->pml_index = EPT_PML_ENTRIES - 1;
		}
	}
}

int ept_dirty_start(struct vmmu_vm *vm)
{
	struct ept_vm *e = ept_of(vm);

	if (e->dirty_on)
		return VMMU_EBUSY;
	e->dirty_on = true;
	e->ndirty = 0;
	if (e->dirty_mode == VMMU_DIRTY_WRITE_PROTECT)
		return each_ram_slot(vm, protect_range);
	if (e->dirty_mode == VMMU_DIRTY_PML)
		pml_enable(vm, true);
	return each_ram_slot(vm, clear_d_range);
}

int ept_dirty_stop(struct vmmu_vm *vm)
{
	struct ept_vm *e = ept_of(vm);

	if (!e->dirty_on)
		return VMMU_OK;
	e->dirty_on = false;
	e->ndirty = 0;
	if (e->dirty_mode == VMMU_DIRTY_PML)
		pml_enable(vm, false);
	return e->dirty_mode == VMMU_DIRTY_WRITE_PROTECT ?
	       each_ram_slot(vm, unprotect_range) : VMMU_OK;
}

int ept_dirty_rearm(struct vmmu_vm *vm, gpa_t gpa, uint64_t size)
{
	if (!ept_of(vm)->dirty_on)
		return VMMU_OK;
	return ept_of(vm)->dirty_mode == VMMU_DIRTY_WRITE_PROTECT ?
	       protect_range(vm, gpa.v, size) : clear_d_range(vm, gpa.v, size);
}

void ept_gpa_written(struct vmmu_vm *vm, gpa_t gpa, size_t len)
{
	uint64_t g = gpa.v >> VMMU_PAGE_SHIFT;
	uint64_t last = len ? (gpa.v + len - 1) >> VMMU_PAGE_SHIFT : g;

	if (!ept_of(vm)->dirty_on || !len)
		return;
	for (; g <= last; g++)
		if (ept_dirty_mark(vm, g) < 0)
			vmmu_vm_kill(vm, "the dirty log could not grow");
}

/* SDM 29.3.6: entries index + 1 .. 511 hold logged gpas. */
int ept_pml_drain(struct vmmu_vcpu *vcpu)
{
	struct ept_vcpu *ev = vcpu->backend_state;
	const struct vmmu_platform *p = &vcpu->vm->platform;
	const uint64_t *log;
	unsigned i;
	int rc;

	if (!ev || !ev->pml_page.v)
		return VMMU_OK;
	log = p->map(p->ctx, ev->pml_page);
	if (!log)
		return vmmu_vm_kill(vcpu->vm, "the PML page is not host memory");
	for (i = (uint16_t)(ev->pml_index + 1); i < EPT_PML_ENTRIES; i++) {
		rc = ept_dirty_mark(vcpu->vm, log[i] >> VMMU_PAGE_SHIFT);
		if (rc < 0)
			return rc;
		ept_of(vcpu->vm)->stats.pml_logged++;
	}
	ev->pml_index = EPT_PML_ENTRIES - 1;
	return VMMU_OK;
}

static int harvest_locked(struct vmmu_vm *vm, const struct harvest *h)
{
	struct ept_vm *e = ept_of(vm);
	unsigned i;
	size_t k;
	int rc = VMMU_OK;

	if (!e->dirty_on)
		return VMMU_EINVAL;
	for (i = 0; i < vm->nvcpus && e->dirty_mode == VMMU_DIRTY_PML; i++)
		if ((rc = ept_pml_drain(vm->vcpus[i])) < 0)
			return rc;
	for (k = 0; k < e->ndirty && rc >= 0; k++) {
		gpa_t g = mk_gpa(e->dirty[k] << VMMU_PAGE_SHIFT);

		rc = h->fn(h->ctx, g, VMMU_PAGE_SIZE);
		if (rc >= 0)
			rc = ept_dirty_rearm(vm, g, VMMU_PAGE_SIZE);
	}
	e->ndirty = 0;
	if (rc >= 0 && e->dirty_mode == VMMU_DIRTY_AD_BITS)
		for (i = 0; i < vm->nslots && rc >= 0; i++)
			if (vm->slots[i].type == VMMU_MEM_RAM)
				rc = clear_d(vm, vm->slots[i].base.v,
					     vm->slots[i].size, h);
	return rc;
}

int vmmu_ept_dirty_harvest(struct vmmu_vm *vm, vmmu_ept_dirty_fn fn, void *ctx)
{
	struct harvest h = { fn, ctx };
	int rc;

	if (!vm || !fn || vm->ops != &vmmu_backend_ept)
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	rc = harvest_locked(vm, &h);
	vmmu_vm_unlock(vm);
	return rc;
}

int vmmu_ept_set_dirty_mode(struct vmmu_vm *vm, enum vmmu_dirty_log mode)
{
	struct ept_vm *e;

	if (!vm || vm->ops != &vmmu_backend_ept)
		return VMMU_EINVAL;
	e = ept_of(vm);
	if (e->dirty_on)
		return VMMU_EBUSY;
	if ((mode != VMMU_DIRTY_WRITE_PROTECT && !e->caps.ad) ||
	    (mode == VMMU_DIRTY_PML && !e->caps.pml) ||
	    mode > VMMU_DIRTY_PML)
		return VMMU_ENOTSUP;
	e->dirty_mode = mode;
	return VMMU_OK;
}

enum vmmu_dirty_log vmmu_ept_dirty_mode(const struct vmmu_vm *vm)
{
	return ept_of(vm)->dirty_mode;
}

int vmmu_ept_dirty_start(struct vmmu_vm *vm)
{
	int rc;

	if (!vm || vm->ops != &vmmu_backend_ept)
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	rc = ept_dirty_start(vm);
	vmmu_vm_unlock(vm);
	return rc;
}

int vmmu_ept_dirty_stop(struct vmmu_vm *vm)
{
	int rc;

	if (!vm || vm->ops != &vmmu_backend_ept)
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	rc = ept_dirty_stop(vm);
	vmmu_vm_unlock(vm);
	return rc;
}
