/* SPDX-License-Identifier: MIT */
/*
 * Out-of-sync L1 shadows (docs/shadow.md, "Out of sync").
 *
 * A guest page table is normally read-only in every shadow and each write
 * to it is trapped and emulated. An OS that rewrites many PTEs of one
 * table in a row (fork, munmap, page reclaim) then pays one exit per
 * write. When the frame has exactly one shadow and that shadow is an L1,
 * the write may instead run natively: the frame is marked out of sync, a
 * snapshot of its bytes is kept, and its leaves become writable like
 * those of any other RAM page. The architecture lets the shadow lag:
 * a CPU may go on using a translation whose PTE was changed until the
 * guest invalidates it (SDM Vol. 3A 4.10.4.2, 4.10.4.3), so the shadow is
 * brought back on MOV to CR3, INVLPG and INVPCID, the points where the
 * guest asks for coherence. Resynchronising diffs the frame against the
 * snapshot and re-propagates only the entries that changed, then
 * write-protects the frame again. A fill through a stale entry re-reads
 * the guest entry (sh_fill), so a guest that adds a mapping without an
 * invalidation still sees it, as on a CPU (not-present entries are not
 * cached, SDM 4.10.2.3).
 *
 * A frame is taken out of sync only while it has a single GUEST shadow,
 * of level 1; a second shadow of it being made resyncs it first (sh_get),
 * so upper levels (whose links the hardware walk follows) never lag.
 */
#include <string.h>

#include "shadow_int.h"

static void slot_clear(struct sh_vm *sv, unsigned s)
{
	sv->pages[sv->oos[s].page]->oos = 0;
	sv->oos[s].page = SH_NIL;
}

/* Slot s back in sync: re-propagate changed entries, write-protect. */
static void oos_resync_slot(struct sh_vm *sv, unsigned s)
{
	uint32_t pi = sv->oos[s].page;
	struct sh_page *p = sv->pages[pi];
	unsigned es = sv->roles[SH_T_ROLE(p->type)].ps.role.entry_size, off;
	const uint8_t *snap = sv->oos[s].snap;
	uint64_t gfn = p->gfn;

	/* Protected (and every vCPU's writable leaf gone) before the frame
	 * is read: a store after the read would be lost (sh_write_protect). */
	slot_clear(sv, s);
	sh_write_protect(sv, gfn);
	if (vmmu_vm_read_gpa(sv->vm, mk_gpa(gfn << VMMU_PAGE_SHIFT),
			     sv->page_buf, 4096) < 0)
		memset(sv->page_buf, 0, 4096);
	for (off = 0; off < 4096; off += es) {
		if (!memcmp(sv->page_buf + off, snap + off, es))
			continue;
		sh_reval_range(sv, pi, off, off + es, sv->page_buf);
		sv->st.oos_entries++;
	}
	sv->st.oos_resyncs++;
}

/* Resync the out-of-sync slots of frame gfn, or every slot (all). */
static void oos_resync_where(struct sh_vm *sv, bool all, uint64_t gfn)
{
	unsigned s;

	for (s = 0; s < SH_OOS_SLOTS; s++)
		if (sv->oos[s].page != SH_NIL &&
		    (all || sv->pages[sv->oos[s].page]->gfn == gfn))
			oos_resync_slot(sv, s);
}

void sh_oos_resync_all(struct sh_vm *sv)
{
	oos_resync_where(sv, true, 0);
}

void sh_oos_resync_gfn(struct sh_vm *sv, uint64_t gfn)
{
	oos_resync_where(sv, false, gfn);
}

/* The only GUEST shadow of gfn when it is a level-1 one, else SH_NIL. */
static uint32_t single_l1(const struct sh_vm *sv, uint64_t gfn)
{
	uint32_t i, found = SH_NIL;

	for (i = sh_find_any(sv, gfn); i != SH_NIL; i = sh_next_any(sv, i, gfn)) {
		const struct sh_page *p = sv->pages[i];

		if (SH_T_KIND(p->type) != SH_GUEST)
			continue;
		if (found != SH_NIL || SH_T_LEVEL(p->type) != 1 || p->pin)
			return SH_NIL;
		found = i;
	}
	return found;
}

bool sh_oos_try(struct sh_vm *sv, uint64_t gfn)
{
	uint32_t pi;
	unsigned s;

	if (!sv->oos_on || (pi = single_l1(sv, gfn)) == SH_NIL ||
	    sv->pages[pi]->oos)
		return false;
	for (s = 0; s < SH_OOS_SLOTS && sv->oos[s].page != SH_NIL; s++)
		;
	if (s == SH_OOS_SLOTS) {
		/* All slots taken: resync the oldest choice round-robin. */
		s = sv->oos_next;
		sv->oos_next = (s + 1) % SH_OOS_SLOTS;
		oos_resync_slot(sv, s);
	}
	if (vmmu_vm_read_gpa(sv->vm, mk_gpa(gfn << VMMU_PAGE_SHIFT),
			     sv->oos[s].snap, 4096) < 0)
		return false;
	sv->oos[s].page = pi;
	sv->pages[pi]->oos = (uint8_t)(s + 1);
	sv->st.oos_marked++;
	return true;
}

/* Page pi is being freed: its snapshot goes with it. */
void sh_oos_release(struct sh_vm *sv, uint32_t pi)
{
	if (sv->pages[pi]->oos)
		slot_clear(sv, sv->pages[pi]->oos - 1U);
}

/* vmmu wrote bytes [lo, hi) of page pi's frame and revalidated them. */
void sh_oos_written(struct sh_vm *sv, uint32_t pi, unsigned lo, unsigned hi,
		    const uint8_t *page)
{
	const struct sh_page *p = sv->pages[pi];

	if (p->oos)
		memcpy(sv->oos[p->oos - 1U].snap + lo, page + lo, hi - lo);
}

const uint8_t *sh_oos_snapshot(const struct sh_vm *sv, const struct sh_page *p)
{
	return p->oos ? sv->oos[p->oos - 1U].snap : NULL;
}

int vmmu_shadow_set_oos(struct vmmu_vm *vm, bool on)
{
	struct sh_vm *sv;

	if (!vm || vm->ops != &vmmu_backend_shadow)
		return VMMU_EINVAL;
	sv = sh_vm_of(vm);
	vmmu_vm_lock(vm);
	sh_hook_enter(sv);
	if (!on)
		sh_oos_resync_all(sv);
	sv->oos_on = on;
	sh_hook_leave(sv);
	vmmu_vm_unlock(vm);
	return VMMU_OK;
}
