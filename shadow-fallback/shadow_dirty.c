/* SPDX-License-Identifier: MIT */
/*
 * Log-dirty over shadow paging: the backend's dirty_log_* hooks
 * (include/vmmu/backend.h) reporting into the VM's one dirty log
 * (include/vmmu/dirty.h, docs/logdirty.md, docs/shadow.md "Log-dirty").
 *
 * Write protection is the shadow's own: while the log is on, sh_leaf
 * (shadow_prop.c) gives a leaf RW only when the page's bit is set
 * (vmmu_dirty_write_ok), exactly as it already withholds RW from a page
 * whose guest D bit is clear. A write that faults on such a leaf reaches
 * sh_resolve (shadow_fault.c), which marks the bit (sh_dirty_write_fault)
 * before the fill re-propagates the leaf writable, all under the VM lock;
 * so rule 2 of core/dirty.c holds: a leaf is made writable only for a page
 * whose bit is set. Writes vmmu makes itself come through vmmu_vm_written,
 * which marks them (emulated page-table stores, A/D updates, the VMM).
 *
 * The hooks (VM lock held; the core flushes every vCPU's TLB model after
 * start and after a clean, so they only change shadow leaves):
 *  - start: every writable leaf of the pool is made read-only, by a scan
 *    of the pool's level-1 shadows: O(pool), independent of guest size.
 *    Write protection rather than Xen's drop of every shadow: the tables
 *    and the read-only translations survive, so reads after start take no
 *    fault and the first write per page costs one fault, not a refill of
 *    the whole path.
 *  - rearm (a clean reported [gpa, gpa+size)): each page's leaves are
 *    found through the reverse map (host page -> every shadow leaf mapping
 *    it: guest L1s, splintered superpages, out-of-sync L1s alike) and made
 *    read-only: O(reported pages + leaves on their buckets). The reverse
 *    map is exact (a list per bucket, no overflow), and a page that is not
 *    backed has no leaf; the pool-wide fallback is the policy
 *    VMMU_SHADOW_LD_DROP (vmmu_shadow_set_logdirty), used to measure the
 *    two against each other.
 *  - stop: nothing; read-only leaves become writable lazily, on their next
 *    write fault (sh_leaf no longer asks the log).
 * No hook frees a shadow page: a freed page could be reused by another
 * vCPU's fill while running vCPUs' paging-structure caches still name it,
 * and the hooks must not flush those caches (the core does, afterwards).
 * The "drop" policy therefore empties every level-1 shadow (every leaf
 * becomes not present, the tables stay), which costs what a drop costs:
 * every later access refaults, reads included.
 */
#include "shadow_int.h"
#include "vmmu/dirty.h"
#include "core/pte_atomic.h"

/* Make a present writable leaf read-only; true when it was writable. */
static bool leaf_protect(uint64_t *e)
{
	uint64_t v = pte_load(e);

	if ((v & (X86_PTE_P | X86_PTE_RW)) != (X86_PTE_P | X86_PTE_RW))
		return false;
	pte_store(e, v & ~(X86_PTE_RW | X86_PTE_D));
	return true;
}

static bool is_leaf_page(const struct sh_page *p)
{
	return p->in_use && SH_T_KIND(p->type) != SH_ROOT &&
	       SH_T_LEVEL(p->type) == 1;
}

/* Every writable leaf of the pool read-only: O(pool). */
static void protect_all(struct sh_vm *sv)
{
	uint32_t i;
	unsigned j;

	for (i = 0; i < sv->npages; i++) {
		struct sh_page *p = sv->pages[i];

		for (j = 0; is_leaf_page(p) && j < 512; j++)
			if (leaf_protect(&p->e[j]))
				sv->st.ld_protected++;
	}
}

/*
 * Every leaf of the pool not present (the "drop" policy): O(pool). A clean
 * re-arms run by run; once no leaf was made present since the last drop,
 * there is nothing left to drop.
 */
static void drop_leaves(struct sh_vm *sv)
{
	uint32_t i;
	unsigned j;

	if (!sv->leaf_added)
		return;
	sv->leaf_added = false;
	for (i = 0; i < sv->npages; i++) {
		struct sh_page *p = sv->pages[i];

		for (j = 0; is_leaf_page(p) && j < 512; j++)
			if (p->e[j] & X86_PTE_P)
				sh_set_entry(sv, i, j, 0, SH_NIL);
	}
	sv->st.ld_drops++;
}

/* The leaves mapping guest frame gfn read-only, through the reverse map. */
static void protect_gfn(struct sh_vm *sv, uint64_t gfn)
{
	hpa_t hpa;
	uint32_t id;

	if (vmmu_vm_gpa_to_hpa(sv->vm, mk_gpa(gfn << VMMU_PAGE_SHIFT), &hpa) < 0)
		return;         /* never backed: no shadow maps it */
	for (id = sv->rmap[sh_rmap_bucket(hpa.v)]; id != SH_NIL;
	     id = sv->pages[id >> 9]->link[id & 511][0]) {
		uint64_t *e = &sv->pages[id >> 9]->e[id & 511];

		if ((pte_load(e) & X86_PTE_ADDR_MASK) == hpa.v &&
		    leaf_protect(e))
			sv->st.ld_protected++;
	}
}

int sh_dirty_start(struct vmmu_vm *vm)
{
	struct sh_vm *sv = sh_vm_of(vm);

	if (sv->ld_drop)
		drop_leaves(sv);
	else
		protect_all(sv);
	return VMMU_OK;
}

int sh_dirty_stop(struct vmmu_vm *vm)
{
	(void)vm;       /* leaves upgrade on their next write fault */
	return VMMU_OK;
}

int sh_dirty_rearm(struct vmmu_vm *vm, gpa_t gpa, uint64_t size)
{
	struct sh_vm *sv = sh_vm_of(vm);
	uint64_t gfn = gpa.v >> VMMU_PAGE_SHIFT;
	uint64_t end = (gpa.v + size + VMMU_PAGE_SIZE - 1) >> VMMU_PAGE_SHIFT;

	sv->st.ld_rearmed += end - gfn;
	if (sv->ld_drop) {
		drop_leaves(sv);
		return VMMU_OK;
	}
	for (; gfn < end; gfn++)
		protect_gfn(sv, gfn);
	return VMMU_OK;
}

/*
 * A guest write the guest's tables allow, to gpa, is about to be
 * resolved: a logged RAM page whose bit is clear is marked first, so that
 * the fill that follows may make its leaf writable (rule 2).
 */
void sh_dirty_write_fault(struct sh_vm *sv, gpa_t gpa)
{
	const struct vmmu_slot *slot = vmmu_vm_find_slot(sv->vm, gpa);
	uint64_t gfn = gpa.v >> VMMU_PAGE_SHIFT;

	if (!slot || slot->type != VMMU_MEM_RAM ||
	    vmmu_dirty_write_ok(sv->vm, gfn))
		return;
	vmmu_dirty_mark(sv->vm, gfn, 1);
	sv->st.ld_write_faults++;
}

int vmmu_shadow_set_logdirty(struct vmmu_vm *vm, enum vmmu_shadow_ld policy)
{
	if (!vm || vm->ops != &vmmu_backend_shadow ||
	    (policy != VMMU_SHADOW_LD_RMAP && policy != VMMU_SHADOW_LD_DROP))
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	sh_vm_of(vm)->ld_drop = policy == VMMU_SHADOW_LD_DROP;
	vmmu_vm_unlock(vm);
	return VMMU_OK;
}
