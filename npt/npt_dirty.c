/* SPDX-License-Identifier: MIT */
/*
 * Log-dirty over NPT, reporting into the VM's dirty log (vmmu/dirty.h,
 * core/dirty.c); the core calls the hooks with the VM lock held. There is
 * no PML on AMD. Two variants:
 *  - write protection (VMMU_DIRTY_WRITE_PROTECT): start retypes RAM_RW to
 *    RAM_LOGDIRTY in the p2m (one record for a uniform guest) and marks
 *    only the root's entries (U cleared: the next walk through each is a
 *    #NPF with P = 1 that recalculates lazily), so starting costs the same
 *    for any guest size; a write is a LOG_DIRTY #NPF: marked in the log,
 *    then made writable (npt_log_write, core/dirty.c rule 2); rearm
 *    protects exactly the reported pages again, lazily; stop undoes it;
 *  - nested D bits (VMMU_DIRTY_AD_BITS, when cfg.ad_harvest says the
 *    profile has them; APM Vol. 2 15.25.5, the CPU sets D in the nested
 *    leaf of a write): start clears every D; sync tests and clears D over
 *    the range and marks each dirty leaf whole; rearm has nothing to do.
 * The hooks leave the vCPUs' TLB models to the core (backend.h): its
 * vmmu_vm_tlb_flush_sync after start and after a clean is the TLB_CONTROL
 * flush-this-ASID (still recorded for each vCPU's next VMRUN; npt_flush
 * still posts one when tables wait to be freed). For D bits
 * that suffices: a translation cached from a read is not writable
 * (npt_hw.c), a D is cleared only by a sync that marks its leaf, so a stale
 * writable translation belongs to a page whose bit is set until the clean
 * that reports it, whose flush removes it before that clean returns.
 */
#include "vmmu/dirty.h"
#include "vmmu/error.h"
#include "vmmu/p2m.h"
#include "npt_backend.h"

#define SIZE_2M (2ULL << 20)

static uint64_t npt_span(const struct npt_vm *n)
{
	return 1ULL << (VMMU_PAGE_SHIFT + 9 * n->cfg.levels);
}

/* Retype every RAM slot's pages from -> to in the p2m. */
static int npt_retype_ram(struct vmmu_vm *vm, enum vmmu_p2m_type from,
			  enum vmmu_p2m_type to)
{
	unsigned i;
	int rc;

	for (i = 0; i < vm->nslots; i++) {
		if (vm->slots[i].type != VMMU_MEM_RAM)
			continue;
		rc = vmmu_p2m_retype(vm, vm->slots[i].base, vm->slots[i].size,
				     from, to);
		if (rc < 0)
			return rc;
	}
	return VMMU_OK;
}

/* Test and clear D over [a, a + size), into the log unless mark is NULL. */
static int clear_d(struct vmmu_vm *vm, struct npt_vm *n, uint64_t a,
		   uint64_t size, struct vmmu_vm *mark)
{
	struct npt_chg ch;
	int rc;

	npt_chg_init(&ch, NULL);
	rc = vmmu_pt_test_and_clear(&n->pt, a, size, X86_PTE_D,
				    mark ? vmmu_dirty_mark_leaf : NULL, mark,
				    &ch.c);
	/* a translation made by a write would let the next write skip D */
	if (rc == 0 && ch.c.leaves_changed)
		npt_flush(vm, n, NULL);
	return rc;
}

static int clear_d_ram(struct vmmu_vm *vm, struct npt_vm *n)
{
	unsigned i;
	int rc;

	for (i = 0; i < vm->nslots; i++) {
		if (vm->slots[i].type != VMMU_MEM_RAM)
			continue;
		rc = clear_d(vm, n, vm->slots[i].base.v, vm->slots[i].size,
			     NULL);
		if (rc < 0)
			return rc;
	}
	return VMMU_OK;
}

static int hook_end(struct npt_vm *n, int rc)
{
	n->in_hook = false;
	return rc;
}

int npt_dirty_mode(struct vmmu_vm *vm, enum vmmu_dirty_log mode,
		   unsigned flags)
{
	struct npt_vm *n = npt_of(vm);

	if (!n)
		return VMMU_EINVAL;
	if (n->logging || n->ad_logging)
		return VMMU_EBUSY;
	if ((mode != VMMU_DIRTY_WRITE_PROTECT && mode != VMMU_DIRTY_AD_BITS) ||
	    (mode == VMMU_DIRTY_AD_BITS && (!n->cfg.ad_harvest || flags)))
		return VMMU_ENOTSUP;
	n->dirty_mode = mode;
	n->log_2m = (flags & VMMU_DIRTY_LOG_2M) != 0;
	return VMMU_OK;
}

int npt_dirty_start(struct vmmu_vm *vm)
{
	struct npt_vm *n = npt_of(vm);
	int rc;

	if (!n)
		return VMMU_EINVAL;
	if (n->logging || n->ad_logging)
		return VMMU_EBUSY;
	n->in_hook = true;
	if (n->dirty_mode == VMMU_DIRTY_AD_BITS) {
		rc = clear_d_ram(vm, n);
		n->ad_logging = rc == VMMU_OK;
		return hook_end(n, rc);
	}
	rc = npt_retype_ram(vm, VMMU_P2M_RAM_RW, VMMU_P2M_RAM_LOGDIRTY);
	if (rc < 0)
		return hook_end(n, rc);
	n->logging = true;
	/* Only the root's entries: the cost does not grow with the guest. */
	return hook_end(n, npt_mark(vm, n, 0, npt_span(n)));
}

int npt_dirty_stop(struct vmmu_vm *vm)
{
	struct npt_vm *n = npt_of(vm);
	int rc;

	if (!n || (!n->logging && !n->ad_logging))
		return VMMU_EINVAL;
	if (n->ad_logging) {
		n->ad_logging = false;
		return VMMU_OK;
	}
	n->in_hook = true;
	rc = npt_retype_ram(vm, VMMU_P2M_RAM_LOGDIRTY, VMMU_P2M_RAM_RW);
	if (rc < 0)
		return hook_end(n, rc);
	n->logging = false;
	return hook_end(n, npt_mark(vm, n, 0, npt_span(n)));
}

/* After a clean: the reported pages (RAM_RW again) are protected again. */
int npt_dirty_rearm(struct vmmu_vm *vm, gpa_t gpa, uint64_t size)
{
	struct npt_vm *n = npt_of(vm);
	int rc;

	if (n && n->ad_logging)
		return VMMU_OK;         /* the sync cleared D */
	if (!n || !n->logging || ((gpa.v | size) & ~VMMU_PAGE_MASK) || !size ||
	    gpa.v + size < gpa.v || gpa.v + size > npt_span(n))
		return VMMU_EINVAL;
	n->in_hook = true;
	rc = vmmu_p2m_retype(vm, gpa, size, VMMU_P2M_RAM_RW,
			     VMMU_P2M_RAM_LOGDIRTY);
	return hook_end(n, rc < 0 ? rc : npt_mark(vm, n, gpa.v, size));
}

/* Before a peek or clean: the nested D bits of the range into the log. */
int npt_dirty_sync(struct vmmu_vm *vm, gpa_t gpa, uint64_t size)
{
	struct npt_vm *n = npt_of(vm);

	if (!n || !n->ad_logging)
		return VMMU_OK;
	n->in_hook = true;
	return hook_end(n, clear_d(vm, n, gpa.v, size, vm));
}

/*
 * A write to a log-dirty leaf at level: mark, then allow it. At 4 KiB the
 * leaf is split down to the page; with VMMU_DIRTY_LOG_2M a large leaf's
 * 2 MiB is marked and made writable whole (a 1 GiB leaf split to 2 MiB).
 */
int npt_log_write(struct vmmu_vcpu *vcpu, struct npt_vm *n, gpa_t gpa,
		  unsigned level)
{
	struct vmmu_vm *vm = vcpu->vm;
	unsigned to = n->log_2m && level >= VMMU_PT_LEVEL_2M ?
		      VMMU_PT_LEVEL_2M : VMMU_PT_LEVEL_4K;
	uint64_t size = vmmu_pt_level_size(to);
	uint64_t base = gpa.v & ~(size - 1);
	struct npt_chg ch;
	int rc;

	vmmu_dirty_mark(vm, base >> VMMU_PAGE_SHIFT, size >> VMMU_PAGE_SHIFT);
	rc = vmmu_p2m_record_type(vm, mk_gpa(base), size, VMMU_P2M_RAM_RW);
	npt_chg_init(&ch, vcpu);
	for (; level > to && rc == 0; level--) {
		rc = vmmu_pt_split_large_leaf(&n->pt, base, level, &ch.c);
		n->stats.splits++;
	}
	if (rc == 0)
		rc = vmmu_pt_update(&n->pt, base, size, X86_SW_TYPE,
				    X86_PTE_RW | ((uint64_t)VMMU_P2M_RAM_RW <<
						  X86_SW_BIT_TYPE), &ch.c);
	npt_settle(vm, n, &ch);
	return rc;
}
