/* SPDX-License-Identifier: MIT */
/*
 * Log-dirty over EPT, reporting into the VM's dirty log (vmmu/dirty.h,
 * core/dirty.c); the core calls these hooks with the VM lock held:
 *  - write protection (VMMU_DIRTY_WRITE_PROTECT): start retypes RAM_RW to
 *    RAM_LOGDIRTY in the p2m and marks only the root's entries, so the
 *    tables follow lazily through misconfigurations (SDM 29.3.3.1), at
 *    the same cost for any guest size; the violation of a
 *    write marks the log, then makes the page writable (ept_exit.c,
 *    ept_log_write below); rearm protects exactly the reported pages
 *    again, lazily;
 *  - EPT A/D (VMMU_DIRTY_AD_BITS, SDM 29.3.5): start clears every D;
 *    sync tests and clears D over the range and marks each dirty leaf
 *    whole (a large leaf reports all its pages);
 *  - PML (VMMU_DIRTY_PML, SDM 29.3.6): as A/D at start, then the CPU logs
 *    the gpa of each write that sets a D; sync and the PML-full exit
 *    drain every vCPU's log into the dirty log and clear the D of each
 *    logged leaf, so that the CPU logs its next write again.
 * Hardware-assisted variants need no rearm: their sync reset the state.
 *
 * The hooks leave the vCPUs' TLB models to the core (backend.h): the
 * INVEPT they need is the core's vmmu_vm_tlb_flush_sync after start and
 * after a clean (ept_flush still posts one when tables wait to be freed).
 * Why that suffices for A/D and PML: a cached translation allows a
 * write only once its leaf's D is set (ept_hw.c), and D is cleared only by
 * a sync that marks the leaf in the log at the same time. So a stale
 * writable translation exists only for a page whose bit is set, until the
 * clean that reports and resets it, whose flush then removes it before the
 * clean returns (the core's rule 2 argument). A write whose walk sets D
 * after the sync read that D finds D set at the next sync (or is in a PML
 * entry drained then): reported by the next round, never lost.
 */
#include <string.h>

#include "vmmu/dirty.h"
#include "vmmu/error.h"
#include "ept_internal.h"

#define SIZE_2M (2ULL << 20)

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
	step = size > SIZE_2M ? SIZE_2M : VMMU_PAGE_SIZE;
	while (a < end) {
		uint64_t next = (a & ~(step - 1)) + step;

		rc = retype(vm, a, (next < end ? next : end) - a, from, to);
		if (rc < 0)
			return rc;
		a = next;
	}
	return VMMU_OK;
}

/* Mark [a, a + size) for lazy recalculation from the p2m (ept_flush). */
static int mark_lazily(struct vmmu_vm *vm, uint64_t a, uint64_t size)
{
	struct vmmu_pt_change chg = { 0 };
	int rc = vmmu_pt_mark_recalc(&ept_of(vm)->pt, a, size, ept_recalc_leaf,
				     vm, &chg);

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

static int protect_p2m(struct vmmu_vm *vm, uint64_t a, uint64_t size)
{
	return retype(vm, a, size, VMMU_P2M_RAM_RW, VMMU_P2M_RAM_LOGDIRTY);
}

/* Retype [a, a + size) to RAM_LOGDIRTY, then mark it (the rearm). */
static int protect_range(struct vmmu_vm *vm, uint64_t a, uint64_t size)
{
	int rc = protect_p2m(vm, a, size);

	return rc < 0 ? rc : mark_lazily(vm, a, size);
}

static int unprotect_p2m(struct vmmu_vm *vm, uint64_t a, uint64_t size)
{
	return retype(vm, a, size, VMMU_P2M_RAM_LOGDIRTY, VMMU_P2M_RAM_RW);
}

/*
 * The p2m of every RAM slot retyped by fn, then the root's entries marked
 * (whatever they map: a recalculation rebuilds a leaf from the p2m, so
 * one outside RAM comes back as it was). A handful of marks whatever the
 * slots' sizes and places, where marking each slot's covering entries
 * would take one per 1 GiB of a slot not aligned to 512 GiB.
 */
static int retype_ram_lazily(struct vmmu_vm *vm,
			     int (*fn)(struct vmmu_vm *vm, uint64_t a,
				       uint64_t size))
{
	int rc = each_ram_slot(vm, fn);

	return rc < 0 ? rc : mark_lazily(vm, 0, vmmu_pt_level_size(
		ept_of(vm)->pt.levels) * VMMU_PT_ENTRIES);
}

/* Test and clear the D flags of [a, a + size), into the log unless mark
 * is NULL (start: what was dirty before logging does not count). */
static int clear_d(struct vmmu_vm *vm, uint64_t a, uint64_t size,
		   struct vmmu_vm *mark)
{
	struct ept_vm *e = ept_of(vm);
	struct vmmu_pt_change chg = { 0 };
	int rc = vmmu_pt_test_and_clear(&e->pt, a, size, EPT_D,
					mark ? vmmu_dirty_mark_leaf : NULL,
					mark, &chg);

	ept_flush(vm, &chg);
	return rc;
}

static int clear_d_range(struct vmmu_vm *vm, uint64_t a, uint64_t size)
{
	return clear_d(vm, a, size, NULL);
}

/* The "enable PML" control of every vCPU, with an empty log. */
static void pml_enable(struct vmmu_vm *vm, bool on)
{
	unsigned i;

	for (i = 0; i < vm->nvcpus; i++) {
		struct ept_vcpu *ev = vm->vcpus[i]->backend_state;

		if (!ev || !ev->pml_page.v)
			continue;
		if (on) {
			__atomic_store_n(&ev->pml_index, EPT_PML_ENTRIES - 1,
					 __ATOMIC_RELAXED);
			ev->pml_next = EPT_PML_ENTRIES;
		}
		__atomic_store_n(&ev->pml_enabled, on, __ATOMIC_RELEASE);
	}
}

/* Inside a hook ept_flush leaves the INVEPT to the core (see above). */
static int hook_begin(struct vmmu_vm *vm)
{
	ept_of(vm)->in_hook = true;
	return VMMU_OK;
}

static int hook_end(struct vmmu_vm *vm, int rc)
{
	ept_of(vm)->in_hook = false;
	return rc;
}

int ept_dirty_mode(struct vmmu_vm *vm, enum vmmu_dirty_log mode,
		   unsigned flags)
{
	struct ept_vm *e = ept_of(vm);

	if (e->dirty_on)
		return VMMU_EBUSY;
	if ((mode != VMMU_DIRTY_WRITE_PROTECT && !e->caps.ad) ||
	    (mode == VMMU_DIRTY_PML && !e->caps.pml) ||
	    mode > VMMU_DIRTY_PML ||
	    (flags && mode != VMMU_DIRTY_WRITE_PROTECT))
		return VMMU_ENOTSUP;
	e->dirty_mode = mode;
	e->log_2m = (flags & VMMU_DIRTY_LOG_2M) != 0;
	return VMMU_OK;
}

int ept_dirty_start(struct vmmu_vm *vm)
{
	struct ept_vm *e = ept_of(vm);
	int rc;

	if (e->dirty_on)
		return VMMU_EBUSY;
	hook_begin(vm);
	if (e->dirty_mode == VMMU_DIRTY_WRITE_PROTECT) {
		rc = retype_ram_lazily(vm, protect_p2m);
	} else {
		/* PML first: a write that sets a D after clear_d_range passed
		 * its leaf is then in a PML log. Enabled after, such a write
		 * would leave D set unlogged, and the CPU never logs a write
		 * through a leaf whose D is already set. */
		if (e->dirty_mode == VMMU_DIRTY_PML)
			pml_enable(vm, true);
		rc = each_ram_slot(vm, clear_d_range);
		if (rc < 0 && e->dirty_mode == VMMU_DIRTY_PML)
			pml_enable(vm, false);
	}
	if (rc == VMMU_OK)
		e->dirty_on = true;
	return hook_end(vm, rc);
}

int ept_dirty_stop(struct vmmu_vm *vm)
{
	struct ept_vm *e = ept_of(vm);
	int rc = VMMU_OK;

	if (!e->dirty_on)
		return VMMU_OK;
	hook_begin(vm);
	if (e->dirty_mode == VMMU_DIRTY_PML)
		pml_enable(vm, false);
	if (e->dirty_mode == VMMU_DIRTY_WRITE_PROTECT)
		rc = retype_ram_lazily(vm, unprotect_p2m);
	if (rc == VMMU_OK)
		e->dirty_on = false;
	return hook_end(vm, rc);
}

int ept_dirty_rearm(struct vmmu_vm *vm, gpa_t gpa, uint64_t size)
{
	struct ept_vm *e = ept_of(vm);

	if (!e->dirty_on || e->dirty_mode != VMMU_DIRTY_WRITE_PROTECT)
		return VMMU_OK;         /* A/D, PML: the sync re-armed */
	hook_begin(vm);
	return hook_end(vm, protect_range(vm, gpa.v, size));
}

/*
 * After a change that split large leaves while PML logs: the CPU logs a
 * write only when it sets a D from 0, and the children inherited the D of
 * their leaf, so writes through them would go unlogged. Harvest them now:
 * what is marked is the split leaf's range, which the drain of that leaf's
 * PML entry would have reported whole.
 */
void ept_dirty_split_harvest(struct vmmu_vm *vm,
			     const struct vmmu_pt_change *chg)
{
	struct ept_vm *e = ept_of(vm);

	if (e->dirty_on && e->dirty_mode == VMMU_DIRTY_PML &&
	    chg->split_end > chg->split_start)
		clear_d(vm, chg->split_start, chg->split_end - chg->split_start,
			vm);
}

/*
 * One logged gpa: mark it, then test and clear D over the leaf now
 * mapping it, marking the leaf whole if D was set (a large leaf's D
 * stands for every page of it). Children of a leaf split since the CPU
 * set its D were harvested at the split (ept_dirty_split_harvest); a
 * leaf merged since carries its children's D (the merge ORs them).
 */
static int pml_entry(struct vmmu_vm *vm, uint64_t gpa)
{
	struct ept_vm *e = ept_of(vm);
	uint64_t entry, size;
	unsigned level;

	vmmu_dirty_mark(vm, gpa >> VMMU_PAGE_SHIFT, 1);
	e->stats.pml_logged++;
	if (vmmu_pt_lookup(&e->pt, gpa, &entry, &level) != VMMU_OK)
		return VMMU_OK;         /* unmapped since: nothing to clear */
	size = vmmu_pt_level_size(level);
	return clear_d(vm, gpa & ~(size - 1), size, vm);
}

/*
 * SDM 29.3.6: the entries above the PML index hold logged gpas. Only the
 * vCPU itself moves its index back up (the PML-full exit: full = true,
 * on its own thread); a drain from elsewhere (sync) takes the entries
 * logged since the last drain, up to pml_next, and leaves the index.
 * The index is read with acquire: the CPU stores an entry, then moves
 * the index below it (release, ept_hw.c).
 */
int ept_pml_drain(struct vmmu_vcpu *vcpu, bool full)
{
	struct ept_vcpu *ev = vcpu->backend_state;
	const struct vmmu_platform *p = &vcpu->vm->platform;
	const uint64_t *log;
	uint16_t idx;
	unsigned i, first;
	int rc = VMMU_OK;

	if (!ev || !ev->pml_page.v)
		return VMMU_OK;
	log = p->map(p->ctx, ev->pml_page);
	if (!log)
		return vmmu_vm_kill(vcpu->vm, "the PML page is not host memory");
	idx = __atomic_load_n(&ev->pml_index, __ATOMIC_ACQUIRE);
	first = idx >= EPT_PML_ENTRIES ? 0 : idx + 1U;
	for (i = first; i < ev->pml_next && rc == VMMU_OK; i++)
		rc = pml_entry(vcpu->vm,
			       __atomic_load_n(&log[i], __ATOMIC_RELAXED) &
			       VMMU_PAGE_MASK);
	ev->pml_next = (uint16_t)first;
	if (full) {
		__atomic_store_n(&ev->pml_index, EPT_PML_ENTRIES - 1,
				 __ATOMIC_RELAXED);
		ev->pml_next = EPT_PML_ENTRIES;
	}
	return rc;
}

/* Before a peek or clean of [gpa, gpa + size): hardware state -> log. */
int ept_dirty_sync(struct vmmu_vm *vm, gpa_t gpa, uint64_t size)
{
	struct ept_vm *e = ept_of(vm);
	unsigned i;
	int rc = VMMU_OK;

	if (!e->dirty_on || e->dirty_mode == VMMU_DIRTY_WRITE_PROTECT)
		return VMMU_OK;
	hook_begin(vm);
	if (e->dirty_mode == VMMU_DIRTY_AD_BITS)
		rc = clear_d(vm, gpa.v, size, vm);
	for (i = 0; i < vm->nvcpus && rc == VMMU_OK &&
		    e->dirty_mode == VMMU_DIRTY_PML; i++)
		rc = ept_pml_drain(vm->vcpus[i], false);
	return hook_end(vm, rc);
}

/*
 * A write to a log-dirty page (an EPT violation): mark, then make it
 * writable (core/dirty.c rule 2). At 4 KiB a large leaf is split down to
 * the page; with VMMU_DIRTY_LOG_2M the page's 2 MiB is marked and made
 * writable whole (a 1 GiB leaf split to 2 MiB first).
 */
int ept_log_write(struct vmmu_vm *vm, gpa_t gpa)
{
	struct ept_vm *e = ept_of(vm);
	uint64_t entry;
	unsigned level;

	if (e->log_2m && vmmu_pt_lookup(&e->pt, gpa.v, &entry, &level) ==
			 VMMU_OK && level >= VMMU_PT_LEVEL_2M) {
		vmmu_dirty_mark(vm, (gpa.v & ~(SIZE_2M - 1)) >> VMMU_PAGE_SHIFT,
				SIZE_2M >> VMMU_PAGE_SHIFT);
		return ept_make_writable(vm, gpa, SIZE_2M);
	}
	vmmu_dirty_mark(vm, gpa.v >> VMMU_PAGE_SHIFT, 1);
	return ept_make_writable(vm, gpa, VMMU_PAGE_SIZE);
}

int vmmu_ept_pml_state(const struct vmmu_vcpu *vcpu, hpa_t *page, bool *on)
{
	const struct ept_vcpu *ev = vcpu ? vcpu->backend_state : NULL;

	if (!ev || !ev->pml_page.v || vcpu->vm->ops != &vmmu_backend_ept)
		return VMMU_ENOENT;
	*page = ev->pml_page;
	*on = __atomic_load_n(&ev->pml_enabled, __ATOMIC_ACQUIRE);
	return VMMU_OK;
}

uint16_t vmmu_ept_pml_index(const struct vmmu_vcpu *vcpu)
{
	const struct ept_vcpu *ev = vcpu ? vcpu->backend_state : NULL;

	return ev ? __atomic_load_n(&ev->pml_index, __ATOMIC_ACQUIRE)
		  : EPT_PML_ENTRIES - 1;
}

/* Release: a drain that reads the index sees the CPU's entries, which
 * this thread saw land before the VM exit. */
void vmmu_ept_pml_index_set(struct vmmu_vcpu *vcpu, uint16_t index)
{
	struct ept_vcpu *ev = vcpu ? vcpu->backend_state : NULL;

	if (ev && ev->pml_page.v)
		__atomic_store_n(&ev->pml_index, index, __ATOMIC_RELEASE);
}
