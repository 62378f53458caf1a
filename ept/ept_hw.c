/* SPDX-License-Identifier: MIT */
/*
 * The hardware side of EPT: how a CPU walks the EPT tables for one
 * guest-physical access (Intel SDM Vol. 3C 29.3), reading only the EPTP,
 * the capability MSR values, the vCPU's PML fields and the table bytes the
 * hypervisor side wrote.
 *
 *  - EPT misconfigurations (29.3.3.1) are checked on every present entry
 *    from the root down; the first one ends the walk with an
 *    EPT-misconfiguration exit (exit reason 49, the gpa in the VMCS).
 *  - A not-present entry, or a leaf whose rights (the AND of R/W/X over
 *    the walk, 29.3.3.2) lack the access, is an EPT violation with the
 *    exit qualification of Table 28-7.
 *  - With the EPTP's A/D enable (29.3.5), guest paging-structure accesses
 *    count as writes; a successful walk sets A in every entry it used and
 *    D in the leaf for a write (a failing walk leaves every entry as it
 *    was). With PML (29.3.6) each D set from 0 to 1 logs the gpa, and an
 *    A/D update with the PML index outside 0..511 is a PML-full exit.
 * The 2-D walk around this (guest entries first, then the final gpa,
 * with the caches) is core/nested.c's.
 */
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "core/tlb.h"
#include "ept_internal.h"

/* Exit qualification for EPT violations (SDM Vol. 3C Table 28-7). */
#define EPT_QUAL_READ      (1ULL << 0)  /* data read */
#define EPT_QUAL_WRITE     (1ULL << 1)  /* data write */
#define EPT_QUAL_FETCH     (1ULL << 2)  /* instruction fetch */
#define EPT_QUAL_RWX_SHIFT 3            /* bits 5:3: AND of R, W, X */
#define EPT_QUAL_GLA_VALID (1ULL << 7)  /* guest linear address valid */
#define EPT_QUAL_FINAL     (1ULL << 8)  /* final gpa, not a guest PT entry */

static bool memtype_ok(uint64_t e)
{
	unsigned mt = (unsigned)(e >> EPT_BIT_MEMTYPE) & 7;

	return mt != 2 && mt != 3 && mt != EPT_MT_INVALID;
}

/*
 * SDM 29.3.3.1 on a present entry at level: W without R; execute-only
 * without the capability; address bits at or above MAXPHYADDR; bits 7:3 of
 * a PML5E/PML4E (tables 29-1, 29-2) or 6:3 of a non-leaf PDPTE/PDE
 * (tables 29-4, 29-6); a large leaf the CPU does not support (bit 7 is
 * then reserved) or with address bits below its size set (tables 29-3,
 * 29-5); a leaf memory type of 2, 3 or 7. Bits 63:52, 11, 10 (no MBEC),
 * 9 of non-leaf entries and 7 of a PTE are ignored.
 */
bool ept_misconfigured(const struct vmmu_ept_caps *caps, uint64_t e,
		       unsigned level)
{
	unsigned n = caps->maxphyaddr ? caps->maxphyaddr : 52;
	uint64_t rsvd_addr = ((1ULL << 52) - 1) & ~((1ULL << n) - 1);

	if ((e & EPT_W) && !(e & EPT_R))
		return true;
	if ((e & EPT_RWX) == EPT_X && !caps->execute_only)
		return true;
	if (e & rsvd_addr)
		return true;
	if (level >= 4)
		return (e & 0xf8) != 0;
	if (level == 1)
		return !memtype_ok(e);
	if (!(e & EPT_PS))
		return (e & 0x78) != 0;
	if (level == 3 ? !caps->page_1g : !caps->page_2m)
		return true;
	if (e & (vmmu_pt_level_size(level) - 1) & ~0xfffULL)
		return true;
	return !memtype_ok(e);
}

/* What an access needs of the combined R/W/X, and its qualification bits. */
static void access_need(enum vmmu_access_kind kind, bool as_write,
			bool guest_pt, uint8_t *need, uint64_t *qual)
{
	if (guest_pt) {
		/* kvm-unit-tests' EPT paddr tests: a guest-table access that
		 * writes (A/D update, or any access with EPT A/D) reports both
		 * read and write. */
		*need = as_write ? VMMU_PROT_W : VMMU_PROT_R;
		*qual = as_write ? EPT_QUAL_READ | EPT_QUAL_WRITE : EPT_QUAL_READ;
		return;
	}
	*need = kind == VMMU_ACCESS_WRITE ? VMMU_PROT_W :
		kind == VMMU_ACCESS_FETCH ? VMMU_PROT_X : VMMU_PROT_R;
	*qual = kind == VMMU_ACCESS_WRITE ? EPT_QUAL_WRITE :
		kind == VMMU_ACCESS_FETCH ? EPT_QUAL_FETCH : EPT_QUAL_READ;
}

static void exit_violation(struct vmmu_nested_walk *out, gpa_t gpa,
			   const struct vmmu_access *acc, bool guest_pt,
			   uint64_t qual, uint8_t rwx, bool as_write)
{
	out->ok = false;
	out->exit.kind = VMMU_EXIT_EPT_VIOLATION;
	out->exit.access = as_write ? VMMU_ACCESS_WRITE : acc->kind;
	if (guest_pt && !as_write)
		out->exit.access = VMMU_ACCESS_READ;
	out->exit.gpa = gpa;
	out->exit.gva = acc->gva;
	out->exit.gva_valid = true;
	out->exit.qualification = qual | ((uint64_t)rwx << EPT_QUAL_RWX_SHIFT) |
		EPT_QUAL_GLA_VALID | (guest_pt ? 0 : EPT_QUAL_FINAL);
}

static void exit_simple(struct vmmu_nested_walk *out, enum vmmu_exit_kind k,
			gpa_t gpa, const struct vmmu_access *acc)
{
	out->ok = false;
	out->exit.kind = k;
	out->exit.access = acc->kind;
	out->exit.gpa = gpa;
	out->exit.gva = acc->gva;
}

struct ept_walk {
	uint64_t *slot[VMMU_PT_MAX_LEVELS];    /* entries used, top first */
	unsigned n;
};

/* The "enable PML" control, which a dirty-log start or stop on another
 * thread changes (acquire: the index it reset comes with it). */
static bool pml_on(const struct ept_vcpu *ev)
{
	return __atomic_load_n(&ev->pml_enabled, __ATOMIC_ACQUIRE);
}

/*
 * SDM 29.3.5 and 29.3.6 after a successful walk: the PML-full check when
 * a flag must be set, then A in every entry used and D in the leaf for a
 * write, logging a D set from 0 to 1. false: PML-full exit.
 */
static bool set_ad(struct vmmu_vcpu *vcpu, const struct ept_walk *w,
		   bool write, gpa_t gpa)
{
	struct ept_vcpu *ev = vcpu->backend_state;
	uint64_t *leaf = w->slot[w->n - 1];
	bool need = write && !(__atomic_load_n(leaf, __ATOMIC_ACQUIRE) & EPT_D);
	unsigned i;
	uint64_t old;

	for (i = 0; i < w->n && !need; i++)
		need = !(__atomic_load_n(w->slot[i], __ATOMIC_ACQUIRE) & EPT_A);
	if (!need)
		return true;
	if (ev && pml_on(ev) &&
	    __atomic_load_n(&ev->pml_index, __ATOMIC_RELAXED) >= EPT_PML_ENTRIES)
		return false;
	for (i = 0; i < w->n; i++)
		__atomic_fetch_or(w->slot[i], EPT_A, __ATOMIC_ACQ_REL);
	if (!write)
		return true;
	old = __atomic_fetch_or(leaf, EPT_D, __ATOMIC_ACQ_REL);
	if (!(old & EPT_D) && ev && pml_on(ev)) {
		const struct vmmu_platform *p = &vcpu->vm->platform;
		uint64_t *log = p->map(p->ctx, ev->pml_page);
		uint16_t idx = __atomic_load_n(&ev->pml_index, __ATOMIC_RELAXED);

		if (log)
			__atomic_store_n(&log[idx], gpa.v & VMMU_PAGE_MASK,
					 __ATOMIC_RELAXED);
		/* 0 - 1 wraps to 0xffff: full next time. Release: a drain on
		 * another thread that sees the index sees the entry. */
		__atomic_store_n(&ev->pml_index, (uint16_t)(idx - 1),
				 __ATOMIC_RELEASE);
	}
	return true;
}

static void walk_ok(struct vmmu_nested_walk *out, uint64_t e, unsigned level,
		    gpa_t gpa, uint8_t rwx, bool ad)
{
	uint64_t size = vmmu_pt_level_size(level);

	out->ok = true;
	out->hpa = mk_hpa((e & EPT_ADDR_MASK & ~(size - 1)) +
			  (gpa.v & (size - 1)));
	out->page_size = size;
	/* With A/D a cached translation may allow a write only once D is
	 * set, so that the first write walks and sets it (SDM 29.4.1). */
	out->prot = ad && !(e & EPT_D) ? rwx & ~VMMU_PROT_W : rwx;
}

static int ept_walk(struct vmmu_vcpu *vcpu, gpa_t gpa,
		    enum vmmu_access_kind kind, bool guest_pt,
		    const struct vmmu_access *acc,
		    const struct vmmu_tlb_pwc_hit *start,
		    struct vmmu_nested_walk *out)
{
	const struct ept_vm *ev = ept_of(vcpu->vm);
	const struct vmmu_platform *p = &vcpu->vm->platform;
	bool ad = ev->eptp & EPTP_AD;
	bool as_write = kind == VMMU_ACCESS_WRITE || (guest_pt && ad);
	unsigned level = start ? start->level :
		(unsigned)((ev->eptp >> EPTP_BIT_WALK_LEN) & 7) + 1;
	uint64_t table = start ? start->table : ev->eptp & EPT_ADDR_MASK;
	uint8_t rwx = start ? start->rights : VMMU_PROT_RWX, need;
	struct ept_walk w = { .n = 0 };
	uint64_t qual;

	access_need(kind, as_write, guest_pt, &need, &qual);
	for (;; level--) {
		uint64_t *t = p->map(p->ctx, mk_hpa(table));
		uint64_t e;

		if (!t)
			return vmmu_vm_kill(vcpu->vm, "an EPT entry points outside host memory");
		w.slot[w.n++] = &t[vmmu_pt_index(gpa.v, level)];
		e = __atomic_load_n(w.slot[w.n - 1], __ATOMIC_ACQUIRE);
		out->refs++;
		if (!(e & EPT_RWX)) {
			exit_violation(out, gpa, acc, guest_pt, qual, 0, as_write);
			return VMMU_OK;
		}
		if (ept_misconfigured(&ev->caps, e, level)) {
			exit_simple(out, VMMU_EXIT_EPT_MISCONFIG, gpa, acc);
			return VMMU_OK;
		}
		rwx &= (uint8_t)(e & EPT_RWX);
		if (level == 1 || (e & EPT_PS))
			break;
		table = e & EPT_ADDR_MASK;
		out->table_level[out->ntables] = (uint8_t)level;
		out->table_hpa[out->ntables] = mk_hpa(table);
		out->table_prot[out->ntables++] = rwx;
	}
	if ((rwx & need) != need) {
		exit_violation(out, gpa, acc, guest_pt, qual, rwx, as_write);
		return VMMU_OK;
	}
	if (ad && !set_ad(vcpu, &w, as_write, gpa)) {
		exit_simple(out, VMMU_EXIT_PML_FULL, gpa, acc);
		return VMMU_OK;
	}
	walk_ok(out, __atomic_load_n(w.slot[w.n - 1], __ATOMIC_ACQUIRE), level,
		gpa, rwx, ad);
	return VMMU_OK;
}

static unsigned ept_levels(const struct vmmu_vcpu *vcpu)
{
	return (unsigned)((ept_of(vcpu->vm)->eptp >> EPTP_BIT_WALK_LEN) & 7) + 1;
}

static bool ept_pt_as_write(const struct vmmu_vcpu *vcpu)
{
	return ept_of(vcpu->vm)->eptp & EPTP_AD;
}

const struct vmmu_nested_ops ept_nested_ops = {
	.walk = ept_walk,
	.levels = ept_levels,
	.pt_as_write = ept_pt_as_write,
};

int ept_hw_walk(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		struct vmmu_hw_walk *out)
{
	return vmmu_nested_hw_walk(vcpu, &ept_nested_ops, acc, out);
}
