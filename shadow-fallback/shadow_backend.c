/* SPDX-License-Identifier: MIT */
/*
 * vmmu_backend_shadow: the backend's callbacks and its small API
 * (shadow.h). The hardware side is shadow_hw.c, the #PF handler and root
 * switching shadow_fault.c, propagation and write protection
 * shadow_prop.c, the pool shadow_pool.c.
 *
 * Guest events (the core has already invalidated the vCPU's TLB model
 * with the architectural scope, SDM Vol. 3A 4.10.4.1):
 *  - MOV to CR3 (with or without PCID no-flush), CR0, CR4, EFER: the vCPU
 *    switches to the root shadow of the new CR3 under the new role (mode,
 *    NXE, PSE). Shadows are kept per role, so a mode change needs no drop;
 *    shadows of other roles stay until recycled.
 *  - INVLPG, and INVPCID once per call whatever its type: every
 *    out-of-sync L1 is resynchronised (shadow_oos.c; MOV to CR3 does the
 *    same). Every other guest table is write-protected and each write to
 *    it revalidated at once, so those shadows always equal guest memory;
 *    the cached translations that may be stale the core drops.
 *  - a p2m type change or a slot removal: every shadow is dropped (host
 *    pages may go away), and every vCPU's TLB model is flushed.
 * Log-dirty hooks: shadow_dirty.c.
 */
#include <string.h>

#include "shadow_int.h"
#include "vmmu/p2m.h"
#include "core/tlb.h"

static int sh_vm_init(struct vmmu_vm *vm)
{
	const struct vmmu_platform *pl = &vm->platform;
	struct sh_vm *sv = pl->zalloc(pl->ctx, sizeof(*sv));
	unsigned i;

	if (!sv)
		return VMMU_ENOMEM;
	sv->vm = vm;
	sh_pool_init(sv);
	for (i = 0; i < vm->nslots; i++)
		if (vm->slots[i].type != VMMU_MEM_MMIO)
			sv->ram_mib += vm->slots[i].size >> 20;
	vm->backend_state = sv;
	return VMMU_OK;
}

static void sh_vm_destroy(struct vmmu_vm *vm)
{
	struct sh_vm *sv = sh_vm_of(vm);

	if (!sv)
		return;
	sh_pool_destroy(sv);
	sh_pv_destroy(sv);
	vm->platform.free(vm->platform.ctx, sv);
	vm->backend_state = NULL;
}

static int root_page(struct sh_vm *sv, unsigned level, uint32_t *out)
{
	int rc = sh_alloc(sv, out);

	if (rc == 0) {
		sv->pages[*out]->type = SH_TYPE(level, SH_ROOT, 0, 0, 0);
		sv->pages[*out]->pin = 1;
	}
	return rc;
}

static int sh_vcpu_init(struct vmmu_vcpu *vcpu)
{
	struct sh_vm *sv = sh_vm_of(vcpu->vm);
	const struct vmmu_platform *pl = &vcpu->vm->platform;
	struct sh_vcpu *sc;
	int rc;

	if (sv->pool_fixed && sv->pool_fixed < VMMU_SHADOW_POOL_MIN(sv->nvcpus + 1))
		return VMMU_EINVAL;
	sc = pl->zalloc(pl->ctx, sizeof(*sc));
	if (!sc)
		return VMMU_ENOMEM;
	sc->root = sc->top = sc->pml4 = sc->pdpt = SH_NIL;
	sv->nvcpus++;
	rc = root_page(sv, 4, &sc->pml4);
	if (rc == 0)
		rc = root_page(sv, 3, &sc->pdpt);
	vcpu->backend_state = sc;
	return rc;
}

static void sh_vcpu_destroy(struct vmmu_vcpu *vcpu)
{
	struct sh_vm *sv = sh_vm_of(vcpu->vm);
	struct sh_vcpu *sc = vcpu->backend_state;

	if (!sc)
		return;
	if (sc->top != SH_NIL)
		sv->pages[sc->top]->pin--;
	if (sc->pml4 != SH_NIL) {
		sv->pages[sc->pml4]->pin = 0;
		sh_free(sv, sc->pml4);
	}
	if (sc->pdpt != SH_NIL) {
		sv->pages[sc->pdpt]->pin = 0;
		sh_free(sv, sc->pdpt);
	}
	sv->nvcpus--;
	vcpu->vm->platform.free(vcpu->vm->platform.ctx, sc);
	vcpu->backend_state = NULL;
}

static int sh_slot_added(struct vmmu_vm *vm, const struct vmmu_slot *slot)
{
	if (slot->type != VMMU_MEM_MMIO)
		sh_vm_of(vm)->ram_mib += slot->size >> 20;
	return VMMU_OK;
}

static void drop_and_flush(struct sh_vm *sv)
{
	sh_drop_all(sv);
	sh_flush_tlbs(sv);
}

static int sh_slot_removed(struct vmmu_vm *vm, const struct vmmu_slot *slot)
{
	struct sh_vm *sv = sh_vm_of(vm);

	if (slot->type != VMMU_MEM_MMIO)
		sv->ram_mib -= slot->size >> 20;
	drop_and_flush(sv);
	return VMMU_OK;
}

static int sh_cr_written(struct vmmu_vcpu *vcpu, enum vmmu_cr cr, uint64_t old,
			 uint64_t val)
{
	struct sh_vm *sv = sh_vm_of(vcpu->vm);
	struct sh_vcpu *sc = vcpu->backend_state;
	unsigned role = sc->role;
	int rc;

	(void)cr;
	(void)old;
	(void)val;
	sh_hook_enter(sv);
	sh_oos_resync_all(sv);
	rc = sh_sync_vcpu(vcpu);
	/* Another role walks other shadow tables: drop cached upper levels. */
	if (sc->role != role && vcpu->tlb)
		vmmu_tlb_flush_all(vcpu->tlb);
	sh_hook_leave(sv);
	/* An impossible register combination: the hardware walk refuses. */
	return rc == VMMU_EINVAL ? VMMU_OK : rc;
}

static int sh_invlpg(struct vmmu_vcpu *vcpu, gva_t gva)
{
	/* Only out-of-sync L1s lag guest memory (shadow_oos.c): resync them
	 * all. INVPCID comes here too, once per INVPCID call of any type
	 * (core/access_events.c passes every type through this hook; for
	 * types 1..3 gva names no address), so all are resynced then too. */
	struct sh_vm *sv = sh_vm_of(vcpu->vm);

	(void)gva;
	sh_hook_enter(sv);
	sh_oos_resync_all(sv);
	sh_hook_leave(sv);
	return VMMU_OK;
}

static void wlog_lock(struct sh_vm *sv)
{
	while (atomic_flag_test_and_set_explicit(&sv->wlog_lock,
						 memory_order_acquire))
		__builtin_ia32_pause();
}

static void wlog_unlock(struct sh_vm *sv)
{
	atomic_flag_clear_explicit(&sv->wlog_lock, memory_order_release);
}

/* Log [gpa, gpa+len) for revalidation; its ticket (T4). */
static uint64_t wlog_push(struct sh_vm *sv, gpa_t gpa, size_t len)
{
	uint64_t t;

	wlog_lock(sv);
	t = atomic_load_explicit(&sv->wlog_pushed, memory_order_relaxed) + 1;
	atomic_store_explicit(&sv->wlog_pushed, t, memory_order_relaxed);
	if (sv->wlog_n < SH_WLOG_SLOTS) {
		sv->wlog[sv->wlog_n].gpa = gpa.v;
		sv->wlog[sv->wlog_n].len = len;
		sv->wlog_n++;
	} else {
		sv->wlog_overflow = true;       /* the drain checks everything */
	}
	atomic_store_explicit(&sv->wlog_pending, true, memory_order_seq_cst);
	wlog_unlock(sv);
	return t;
}

static uint64_t maybe_bit(uint64_t gfn)
{
	return (gfn * 0x9e3779b97f4a7c15ULL) >> (64 - SH_MAYBE_BITS);
}

/*
 * Store-buffering with the writer (sh_gpa_written): this marks, then the
 * caller reads the frame; the writer stores to it, then reads the mark.
 * Both sides use a locked read-modify-write, a full barrier on x86, so
 * one of them sees the other: the writer logs its write, or the shadow is
 * made from the written bytes.
 */
void sh_mark_maybe_pt(struct sh_vm *sv, uint64_t gfn)
{
	uint64_t b = maybe_bit(gfn);

	atomic_fetch_or_explicit(&sv->maybe_pt[b / 64], 1ULL << (b % 64),
				 memory_order_seq_cst);
}

bool sh_maybe_pt_frame(struct sh_vm *sv, uint64_t gfn)
{
	uint64_t b = maybe_bit(gfn);

	return atomic_fetch_or_explicit(&sv->maybe_pt[b / 64], 0,
					memory_order_seq_cst) >> (b % 64) & 1;
}

static bool maybe_pt(struct sh_vm *sv, gpa_t gpa, size_t len)
{
	uint64_t g, last = (gpa.v + len - 1) >> VMMU_PAGE_SHIFT;

	for (g = gpa.v >> VMMU_PAGE_SHIFT; g <= last; g++)
		if (sh_maybe_pt_frame(sv, g))
			return true;
	return false;
}

/*
 * The log overflowed: which frames changed is lost, so every GUEST
 * shadow is revalidated against guest memory (I3 again). Nothing is
 * dropped: a drop would also undo the fill of the hook now running, and
 * a writer keeping the log full would then starve its vCPU of retries.
 */
static void reval_all(struct sh_vm *sv)
{
	uint32_t i;

	for (i = 0; i < sv->npages; i++)
		if (sv->pages[i]->in_use &&
		    SH_T_KIND(sv->pages[i]->type) == SH_GUEST)
			sh_revalidate(sv, mk_gpa(sv->pages[i]->gfn <<
						 VMMU_PAGE_SHIFT), 4096);
}

/* With the VM lock: revalidate every logged write (T4). */
void sh_wlog_drain(struct sh_vm *sv)
{
	struct { uint64_t gpa, len; } w[SH_WLOG_SLOTS];
	unsigned n, i;
	uint64_t upto;
	bool overflow;

	while (atomic_load_explicit(&sv->wlog_pending, memory_order_seq_cst)) {
		wlog_lock(sv);
		n = sv->wlog_n;
		for (i = 0; i < n; i++) {
			w[i].gpa = sv->wlog[i].gpa;
			w[i].len = sv->wlog[i].len;
		}
		overflow = sv->wlog_overflow;
		upto = atomic_load_explicit(&sv->wlog_pushed, memory_order_relaxed);
		sv->wlog_n = 0;
		sv->wlog_overflow = false;
		wlog_unlock(sv);
		if (overflow)
			reval_all(sv);
		for (i = 0; !overflow && i < n; i++)
			sh_revalidate(sv, mk_gpa(w[i].gpa), w[i].len);
		wlog_lock(sv);
		if (!sv->wlog_n && !sv->wlog_overflow)
			atomic_store_explicit(&sv->wlog_pending, false,
					      memory_order_relaxed);
		atomic_store_explicit(&sv->wlog_drained, upto,
				      memory_order_release);
		wlog_unlock(sv);
	}
}

/*
 * A hook that may write guest memory itself (an emulated store, a guest
 * walk's A/D update, a device model's DMA) sets in_hook: those writes,
 * reported from inside the hook on this thread, only log themselves and
 * return, since the lock is already held, and the hook drains before it
 * returns. in_hook is cleared before that last drain (seq_cst both
 * sides): a writer that logs and then still sees in_hook set is drained
 * by the hook; one that sees it clear waits for the lock itself.
 */
void sh_hook_enter(struct sh_vm *sv)
{
	atomic_store_explicit(&sv->in_hook, true, memory_order_seq_cst);
	sh_wlog_drain(sv);
}

void sh_hook_leave(struct sh_vm *sv)
{
	atomic_store_explicit(&sv->in_hook, false, memory_order_seq_cst);
	sh_wlog_drain(sv);
	if (sv->tlb_flush)
		sh_flush_tlbs(sv);
}

/*
 * vmmu_vm_written: called with the VM lock held (emulator stores, A/D
 * updates inside an exit handler, a device callback) or without it (a
 * VMM thread's vmmu_vm_write_gpa while vCPU threads run), and the hook
 * cannot tell which. So a write to a frame that may be shadowed
 * (maybe_pt; others need nothing) is logged first (T4); then the
 * writer takes the lock if it is free and drains, or returns if a hook
 * (perhaps its own caller) will drain it, or else waits for the lock or
 * for a holder to have drained it. A thread holding the lock outside a
 * shadow hook must not write guest memory: it would wait for itself.
 */
static void sh_gpa_written(struct vmmu_vm *vm, gpa_t gpa, size_t len)
{
	struct sh_vm *sv = sh_vm_of(vm);
	uint64_t t;

	if (!sv || !len || !maybe_pt(sv, gpa, len))
		return;
	t = wlog_push(sv, gpa, len);
	for (;;) {
		if (vmmu_vm_trylock(vm)) {
			sh_hook_leave(sv);
			vmmu_vm_unlock(vm);
			return;
		}
		if (atomic_load_explicit(&sv->in_hook, memory_order_seq_cst) ||
		    atomic_load_explicit(&sv->wlog_drained,
					 memory_order_acquire) >= t)
			return;
		__builtin_ia32_pause();
	}
}

enum vmmu_p2m_type sh_p2m_type(const struct vmmu_vm *vm, gpa_t gpa)
{
	enum vmmu_p2m_type t;

	return vmmu_p2m_range_type(vm, mk_gpa(gpa.v & VMMU_PAGE_MASK),
				   VMMU_PAGE_SIZE, &t) == VMMU_OK ? t
								  : VMMU_P2M_RAM_RW;
}

/*
 * A p2m type change (recorded already): every shadow is dropped, so that
 * the fills that follow propagate the new type (shadow_prop.c sh_leaf).
 * The frames of a type that refuses writes get the "may be a page table"
 * bit too, so that with paging off their writes leave the hardware side
 * (hw_nopaging reads no p2m) and reach exit_nopaging, which asks it.
 */
static int sh_set_type(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
		       enum vmmu_p2m_type type)
{
	struct sh_vm *sv = sh_vm_of(vm);
	uint64_t g;

	if (type != VMMU_P2M_RAM_RW && type != VMMU_P2M_RAM_LOGDIRTY)
		for (g = gpa.v >> VMMU_PAGE_SHIFT;
		     g < (gpa.v + size) >> VMMU_PAGE_SHIFT; g++)
			sh_mark_maybe_pt(sv, g);
	drop_and_flush(sv);
	return VMMU_OK;
}

const struct vmmu_backend_ops vmmu_backend_shadow = {
	.name = "shadow",
	.vm_init = sh_vm_init,
	.vm_destroy = sh_vm_destroy,
	.vcpu_init = sh_vcpu_init,
	.vcpu_destroy = sh_vcpu_destroy,
	.slot_added = sh_slot_added,
	.slot_removed = sh_slot_removed,
	.hw_walk = sh_hw_walk,
	.handle_exit = sh_handle_exit,
	.cr_written = sh_cr_written,
	.invlpg = sh_invlpg,
	.gpa_written = sh_gpa_written,
	.set_type = sh_set_type,
	.dirty_log_start = sh_dirty_start,
	.dirty_log_stop = sh_dirty_stop,
	.dirty_log_rearm = sh_dirty_rearm,
};

int vmmu_shadow_set_pool_pages(struct vmmu_vm *vm, uint64_t pages)
{
	struct sh_vm *sv;

	if (!vm || vm->ops != &vmmu_backend_shadow)
		return VMMU_EINVAL;
	sv = sh_vm_of(vm);
	if (pages && (pages < VMMU_SHADOW_POOL_MIN(sv->nvcpus ? sv->nvcpus : 1) ||
		      pages > SH_MAX_PAGES))
		return VMMU_EINVAL;
	sv->pool_fixed = pages;
	return VMMU_OK;
}

int vmmu_shadow_stats(const struct vmmu_vm *vm, struct vmmu_shadow_stats *out)
{
	const struct sh_vm *sv;

	if (!vm || !out || vm->ops != &vmmu_backend_shadow)
		return VMMU_EINVAL;
	sv = sh_vm_of(vm);
	*out = sv->st;
	out->pool_pages = sh_pool_size(sv);
	return VMMU_OK;
}
