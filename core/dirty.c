/* SPDX-License-Identifier: MIT */
/*
 * The VM's dirty log (include/vmmu/dirty.h). Freestanding.
 *
 * Layout: page index i = gfn - log->gfn. dir[i >> 18] covers 1 GiB and
 * holds 0 (nothing dirty), SLOT_ALL (every page of the GiB dirty: a table
 * allocation failed) or a struct table; table->leaf[(i >> 9) & 511]
 * covers 2 MiB the same way, with a struct leaf of 512 bits. Slots go
 * 0 -> pointer or 0 -> ALL by compare-exchange (a marker that loses frees
 * its allocation), ALL -> 0 or ALL -> pointer only in a clean; pointers
 * stay until disable. Words are unsigned long: 64 bits on x86-64, 32 on
 * 32-bit x86 (lock-free on both without a library call).
 *
 * Ordering argument ("reported in this round or the next, never in
 * neither"). Every bitmap operation below is sequentially consistent: the
 * set (fetch_or), the read-and-reset (fetch_and), the hardware side's test
 * (vmmu_dirty_write_ok); so are the vCPU's entry into an access and the
 * flush request (core/access.c, guest_enter / vmmu_vm_tlb_flush_sync).
 *  1. A write vmmu makes itself (vmmu_vm_written) lands first and sets the
 *     bit after. If clean k's fetch_and comes after the set in the bit's
 *     modification order, it reads it (reported in k) and synchronizes
 *     with it, so the copy of the page taken after clean k holds the
 *     bytes; otherwise the bit is still set for clean k+1, whose copy
 *     likewise holds them.
 *  2. A guest write needs a writable translation. Backends grant one only
 *     to a page whose bit is set: the handler marks, then makes the page
 *     writable (under the VM lock); the direct backend's hardware side
 *     tests the bit. So a writable translation for a page with a clear bit
 *     exists only between the fetch_and of a clean that reset the bit and
 *     the end of that clean's re-arm (dirty_log_rearm under the VM lock,
 *     then vmmu_vm_tlb_flush_sync). A write through it lands either before
 *     the flush's wait ends (an access in flight is waited for), hence
 *     before the caller copies the page that clean reported, or in an
 *     access that entered after the flush request, which emptied its TLB
 *     and walks tables re-armed after the reset: it traps and marks the
 *     bit, reported by the next clean.
 *  3. A clean re-arms exactly the pages it reported, after resetting
 *     them; a page whose bit was set after the reset stays writable and
 *     stays set. A mark that finds a slot ALL still performs a
 *     read-modify-write on it (fetch_or 0), so a clean that converts the
 *     slot synchronizes with it as in 1.
 *  4. Backends whose hardware records writes (A/D, PML: dirty_log_sync)
 *     replace rule 2 by: a translation is cached writable only once its
 *     second-level leaf's D is set, and a sync clears a D only with
 *     marking every page of the leaf right after the test-and-clear
 *     (vmmu_dirty_mark_leaf). A stale writable translation whose D was
 *     cleared thus belongs to a page whose bit is set until the clean that
 *     reports it, whose flush removes it as in 2; a write whose walk sets
 *     D after the sync read it is found by the next sync. For PML the
 *     sync first waits for accesses in flight (vmmu_vm_tlb_flush_sync,
 *     outside the lock, as a VMM kicks its vCPUs out of guest mode): the
 *     entries they logged are visible to the drain; later ones are
 *     drained by the next sync or the PML-full exit.
 * Coarse slots and failed conversions only ever report more.
 */
#include <string.h>

#include "vmmu/dirty.h"
#include "vmmu/error.h"
#include "backend.h"
#include "dirty_internal.h"
#include "pgtable.h"

#define WBITS          (sizeof(unsigned long) * 8)
#define LEAF_SHIFT     9U                       /* 512 pages: 2 MiB */
#define LEAF_PAGES     (1ULL << LEAF_SHIFT)
#define LEAF_WORDS     (LEAF_PAGES / WBITS)
#define TABLE_SHIFT    18U                      /* 512 leaves: 1 GiB */
#define TABLE_PAGES    (1ULL << TABLE_SHIFT)
#define SLOT_ALL       ((uintptr_t)1)
#define SC             memory_order_seq_cst

struct leaf {
	atomic_ulong w[LEAF_WORDS];
};

struct table {
	_Atomic(uintptr_t) leaf[512];
};

struct vmmu_dirty_map {
	uint64_t gfn, npages, ndir;
	_Atomic(uintptr_t) *dir;
	atomic_ulong marks, tables, leaves, coarse, peeks, cleans, rearms;
};

static unsigned popcount_ul(unsigned long v)
{
	unsigned n = 0;

	while (v) {
		v &= v - 1;
		n++;
	}
	return n;
}

/* ---- marking ---------------------------------------------------------- */

/*
 * The child behind slot, allocating it on first use. An allocation that
 * fails records the whole slot as dirty (SLOT_ALL) instead: never a lost
 * write, at worst more pages reported.
 */
static uintptr_t slot_child(struct vmmu_vm *vm, struct vmmu_dirty_map *log,
			    _Atomic(uintptr_t) *slot, size_t size,
			    atomic_ulong *count)
{
	uintptr_t cur = atomic_load_explicit(slot, memory_order_acquire);
	void *n;

	if (cur)
		return cur;
	n = vm->platform.zalloc(vm->platform.ctx, size);
	if (!n) {
		if (atomic_compare_exchange_strong_explicit(slot, &cur, SLOT_ALL,
							    SC, SC))
			atomic_fetch_add_explicit(&log->coarse, 1,
						  memory_order_relaxed);
		return cur ? cur : SLOT_ALL;
	}
	if (atomic_compare_exchange_strong_explicit(slot, &cur, (uintptr_t)n,
						    SC, SC)) {
		atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
		return (uintptr_t)n;
	}
	vm->platform.free(vm->platform.ctx, n);
	return cur;
}

/* Pages [i, i + n) of one leaf word. */
static void mark_word(struct vmmu_vm *vm, struct vmmu_dirty_map *log,
		      uint64_t i, unsigned n)
{
	_Atomic(uintptr_t) *ds = &log->dir[i >> TABLE_SHIFT], *ls;
	uintptr_t t = slot_child(vm, log, ds, sizeof(struct table), &log->tables);
	uintptr_t l;
	unsigned long mask;

	if (t == SLOT_ALL) {
		atomic_fetch_or_explicit(ds, 0, SC);
		return;
	}
	ls = &((struct table *)t)->leaf[(i >> LEAF_SHIFT) & 511];
	l = slot_child(vm, log, ls, sizeof(struct leaf), &log->leaves);
	if (l == SLOT_ALL) {
		atomic_fetch_or_explicit(ls, 0, SC);
		return;
	}
	mask = (n == WBITS ? ~0UL : (1UL << n) - 1) << (i % WBITS);
	atomic_fetch_or_explicit(
		&((struct leaf *)l)->w[(i % LEAF_PAGES) / WBITS], mask, SC);
}

void vmmu_dirty_mark(struct vmmu_vm *vm, uint64_t gfn, uint64_t npages)
{
	struct vmmu_dirty_map *log;
	uint64_t i, end;

	if (!vm || !npages)
		return;
	atomic_fetch_add_explicit(&vm->dirty_users, 1, SC);
	log = atomic_load_explicit(&vm->dirty_log, SC);
	if (log && gfn < log->gfn + log->npages && gfn + npages > log->gfn &&
	    gfn + npages > gfn) {
		i = gfn < log->gfn ? 0 : gfn - log->gfn;
		end = gfn + npages - log->gfn;
		if (end > log->npages)
			end = log->npages;
		atomic_fetch_add_explicit(&log->marks, (unsigned long)(end - i),
					  memory_order_relaxed);
		while (i < end) {
			uint64_t wend = (i | (WBITS - 1)) + 1;
			unsigned n = (unsigned)((wend < end ? wend : end) - i);

			mark_word(vm, log, i, n);
			i += n;
		}
	}
	atomic_fetch_sub_explicit(&vm->dirty_users, 1, memory_order_release);
}

int vmmu_dirty_mark_leaf(void *ctx, uint64_t addr, uint64_t size,
			 unsigned level, uint64_t entry)
{
	uint64_t lsize = vmmu_pt_level_size(level);

	(void)entry; (void)size;
	vmmu_dirty_mark(ctx, (addr & ~(lsize - 1)) >> VMMU_PAGE_SHIFT,
			lsize >> VMMU_PAGE_SHIFT);
	return 0;
}

/*
 * Called inside an access (run_seq odd): disable frees the log only after
 * vmmu_vm_tlb_flush_sync has waited for such accesses.
 */
bool vmmu_dirty_write_ok(struct vmmu_vm *vm, uint64_t gfn)
{
	struct vmmu_dirty_map *log = atomic_load_explicit(&vm->dirty_log, SC);
	uintptr_t t, l;
	uint64_t i;

	if (!log || gfn < log->gfn || gfn - log->gfn >= log->npages)
		return true;
	i = gfn - log->gfn;
	t = atomic_load_explicit(&log->dir[i >> TABLE_SHIFT], SC);
	if (t <= SLOT_ALL)
		return t == SLOT_ALL;
	l = atomic_load_explicit(
		&((struct table *)t)->leaf[(i >> LEAF_SHIFT) & 511], SC);
	if (l <= SLOT_ALL)
		return l == SLOT_ALL;
	return (atomic_load_explicit(
			&((struct leaf *)l)->w[(i % LEAF_PAGES) / WBITS], SC) >>
		(i % WBITS)) & 1;
}

/* ---- peek and clean --------------------------------------------------- */

/* One harvest: where it reports, what it re-arms. */
struct harvest {
	struct vmmu_vm *vm;
	struct vmmu_dirty_map *log;
	uint64_t start;             /* page index of bitmap bit 0 */
	uint64_t *out;
	uint64_t count;
	bool clean;
	uint64_t run_start, run_len;    /* pending re-arm, page indexes */
	int rc;
};

static void put_bits(uint64_t *out, uint64_t pos, uint64_t v, unsigned n)
{
	unsigned sh = (unsigned)(pos % 64);

	if (!out || !v)
		return;
	out[pos / 64] |= v << sh;
	if (sh && n > 64 - sh)
		out[pos / 64 + 1] |= v >> (64 - sh);
}

static void rearm_flush(struct harvest *h)
{
	struct vmmu_vm *vm = h->vm;
	uint64_t gpa = (h->log->gfn + h->run_start) << VMMU_PAGE_SHIFT;
	int rc;

	if (!h->run_len)
		return;
	if (vm->ops && vm->ops->dirty_log_rearm) {
		vmmu_vm_lock(vm);
		rc = vm->ops->dirty_log_rearm(vm, mk_gpa(gpa),
					      h->run_len << VMMU_PAGE_SHIFT);
		vmmu_vm_unlock(vm);
		atomic_fetch_add_explicit(&h->log->rearms, 1,
					  memory_order_relaxed);
		if (rc < 0 && h->rc == VMMU_OK)
			h->rc = rc;
	}
	h->run_len = 0;
}

/* Pages [i, i + n) were reported by a clean: re-arm them (in runs). */
static void rearm_run(struct harvest *h, uint64_t i, uint64_t n)
{
	if (h->run_len && h->run_start + h->run_len == i) {
		h->run_len += n;
		return;
	}
	rearm_flush(h);
	h->run_start = i;
	h->run_len = n;
}

static void report_all(struct harvest *h, uint64_t a, uint64_t b)
{
	uint64_t p;

	for (p = a; p < b && h->out; ) {
		uint64_t pos = p - h->start, take = 64 - pos % 64;

		if (take > b - p)
			take = b - p;
		put_bits(h->out, pos, take == 64 ? ~0ULL : (1ULL << take) - 1,
			 (unsigned)take);
		p += take;
	}
	h->count += b - a;
	if (h->clean)
		rearm_run(h, a, b - a);
}

static void harvest_leaf(struct harvest *h, struct leaf *lf, uint64_t a,
			 uint64_t b)
{
	while (a < b) {
		unsigned off = (unsigned)(a % WBITS), k;
		unsigned n = (unsigned)(b - a < WBITS - off ? b - a : WBITS - off);
		unsigned long mask = (n == WBITS ? ~0UL : (1UL << n) - 1) << off;
		atomic_ulong *w = &lf->w[(a % LEAF_PAGES) / WBITS];
		unsigned long v;

		v = h->clean ? atomic_fetch_and_explicit(w, ~mask, SC)
			     : atomic_load_explicit(w, SC);
		v = (v & mask) >> off;
		put_bits(h->out, a - h->start, v, n);
		h->count += popcount_ul(v);
		for (k = 0; h->clean && v && k < n; k++)
			if ((v >> k) & 1)
				rearm_run(h, a + k, 1);
		a += n;
	}
}

/*
 * A slot holding ALL over [lo, hi) with [a, b) asked for: report [a, b);
 * a clean resets it: the whole slot (ALL -> 0) or, for part of it, by
 * turning it into a child whose every entry is set and harvesting that.
 * Returns the child to harvest, or 0 when done.
 */
static uintptr_t harvest_all(struct harvest *h, _Atomic(uintptr_t) *slot,
			     uint64_t lo, uint64_t hi, uint64_t a, uint64_t b,
			     size_t size, atomic_ulong *count, bool is_table)
{
	uintptr_t cur = SLOT_ALL;
	void *n;
	unsigned k;

	if (!h->clean || (a == lo && b == hi)) {
		if (h->clean && !atomic_compare_exchange_strong_explicit(
				slot, &cur, 0, SC, SC))
			return cur;     /* converted meanwhile: harvest that */
		report_all(h, a, b);
		return 0;
	}
	n = h->vm->platform.zalloc(h->vm->platform.ctx, size);
	if (!n) {       /* cannot reset part of it: report, keep it set */
		report_all(h, a, b);
		return 0;
	}
	for (k = 0; k < 512; k++) {
		if (is_table)
			atomic_init(&((struct table *)n)->leaf[k], SLOT_ALL);
		else if (k < LEAF_WORDS)
			atomic_init(&((struct leaf *)n)->w[k], ~0UL);
	}
	if (atomic_compare_exchange_strong_explicit(slot, &cur, (uintptr_t)n,
						    SC, SC)) {
		atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
		return (uintptr_t)n;
	}
	h->vm->platform.free(h->vm->platform.ctx, n);
	return cur;
}

static void harvest_table(struct harvest *h, struct table *t, uint64_t a,
			  uint64_t b)
{
	while (a < b) {
		uint64_t lo = a & ~(LEAF_PAGES - 1), hi = lo + LEAF_PAGES;
		uint64_t e = b < hi ? b : hi;
		_Atomic(uintptr_t) *slot = &t->leaf[(a >> LEAF_SHIFT) & 511];
		uintptr_t l = atomic_load_explicit(slot, SC);

		if (hi > h->log->npages)
			hi = h->log->npages;
		if (l == SLOT_ALL)
			l = harvest_all(h, slot, lo, hi, a, e,
					sizeof(struct leaf), &h->log->leaves,
					false);
		if (l > SLOT_ALL)
			harvest_leaf(h, (struct leaf *)l, a, e);
		a = e;
	}
}

static void harvest_range(struct harvest *h, uint64_t a, uint64_t b)
{
	struct vmmu_dirty_map *log = h->log;

	while (a < b) {
		uint64_t lo = a & ~(TABLE_PAGES - 1), hi = lo + TABLE_PAGES;
		uint64_t e = b < hi ? b : hi;
		_Atomic(uintptr_t) *slot = &log->dir[a >> TABLE_SHIFT];
		uintptr_t t = atomic_load_explicit(slot, SC);

		if (hi > log->npages)
			hi = log->npages;
		if (t == SLOT_ALL)
			t = harvest_all(h, slot, lo, hi, a, e,
					sizeof(struct table), &log->tables, true);
		if (t > SLOT_ALL)
			harvest_table(h, (struct table *)t, a, e);
		a = e;
	}
	rearm_flush(h);
}

/* Admission of a peek, clean or stats call: the log stays allocated. */
static int harvest_begin(struct vmmu_vm *vm, struct vmmu_dirty_map **out)
{
	atomic_fetch_add_explicit(&vm->dirty_harvesters, 1, SC);
	if (atomic_load_explicit(&vm->dirty_stopping, SC)) {
		atomic_fetch_sub_explicit(&vm->dirty_harvesters, 1, SC);
		return VMMU_EBUSY;
	}
	*out = atomic_load_explicit(&vm->dirty_log, SC);
	if (!*out) {
		atomic_fetch_sub_explicit(&vm->dirty_harvesters, 1, SC);
		return VMMU_ENOENT;
	}
	return VMMU_OK;
}

static void harvest_end(struct vmmu_vm *vm)
{
	atomic_fetch_sub_explicit(&vm->dirty_harvesters, 1, SC);
}

static int harvest(struct vmmu_vm *vm, uint64_t gfn, uint64_t npages,
		   uint64_t *bitmap, uint64_t *ndirty, bool clean)
{
	struct harvest h;
	struct vmmu_dirty_map *log;
	int rc;

	if (!vm || !npages || gfn + npages < gfn || (!clean && !bitmap))
		return VMMU_EINVAL;
	if (vm->dead)
		return VMMU_EDEAD;
	rc = harvest_begin(vm, &log);
	if (rc < 0)
		return rc;
	if (gfn < log->gfn || gfn + npages > log->gfn + log->npages) {
		harvest_end(vm);
		return VMMU_EFAULT;
	}
	if (vm->ops && vm->ops->dirty_log_sync) {
		/*
		 * PML buffers are vCPU state: as a VMM kicks its vCPUs out of
		 * guest mode before reading them, wait for the accesses in
		 * flight, so that every entry they logged is visible to the
		 * drain (release of run_seq, acquire here).
		 */
		bool pml;

		vmmu_vm_lock(vm);
		pml = vm->dirty_mode_ops == vm->ops &&
		      vm->dirty_mode == VMMU_DIRTY_PML;
		if (pml) {      /* not under the lock: a vCPU may wait for it */
			vmmu_vm_unlock(vm);
			vmmu_vm_tlb_flush_sync(vm);
			vmmu_vm_lock(vm);
		}
		rc = vm->ops->dirty_log_sync(vm, mk_gpa(gfn << VMMU_PAGE_SHIFT),
					     npages << VMMU_PAGE_SHIFT);
		vmmu_vm_unlock(vm);
		if (rc < 0) {
			harvest_end(vm);
			return rc;
		}
	}
	memset(&h, 0, sizeof(h));
	h.vm = vm;
	h.log = log;
	h.start = gfn - log->gfn;
	h.out = bitmap;
	h.clean = clean;
	if (bitmap)
		memset(bitmap, 0, ((npages + 63) / 64) * sizeof(*bitmap));
	harvest_range(&h, h.start, h.start + npages);
	atomic_fetch_add_explicit(clean ? &log->cleans : &log->peeks, 1,
				  memory_order_relaxed);
	if (clean && h.count)
		vmmu_vm_tlb_flush_sync(vm);
	harvest_end(vm);
	if (ndirty)
		*ndirty = h.count;
	return h.rc;
}

int vmmu_dirty_peek(struct vmmu_vm *vm, uint64_t gfn, uint64_t npages,
		    uint64_t *bitmap, uint64_t *ndirty)
{
	return harvest(vm, gfn, npages, bitmap, ndirty, false);
}

int vmmu_dirty_clean(struct vmmu_vm *vm, uint64_t gfn, uint64_t npages,
		     uint64_t *bitmap, uint64_t *ndirty)
{
	return harvest(vm, gfn, npages, bitmap, ndirty, true);
}

/* ---- life ------------------------------------------------------------- */

static void log_free(struct vmmu_vm *vm, struct vmmu_dirty_map *log)
{
	const struct vmmu_platform *p = &vm->platform;
	uint64_t d;
	unsigned k;

	for (d = 0; d < log->ndir; d++) {
		uintptr_t t = atomic_load_explicit(&log->dir[d],
						   memory_order_relaxed);
		struct table *tb = (struct table *)t;

		if (t <= SLOT_ALL)
			continue;
		for (k = 0; k < 512; k++) {
			uintptr_t l = atomic_load_explicit(&tb->leaf[k],
							   memory_order_relaxed);

			if (l > SLOT_ALL)
				p->free(p->ctx, (void *)l);
		}
		p->free(p->ctx, tb);
	}
	p->free(p->ctx, log->dir);
	p->free(p->ctx, log);
}

static bool range_has_ram(const struct vmmu_vm *vm, uint64_t gfn,
			  uint64_t npages)
{
	unsigned i;

	for (i = 0; i < vm->nslots; i++) {
		const struct vmmu_slot *s = &vm->slots[i];
		uint64_t first = s->base.v >> VMMU_PAGE_SHIFT;

		if (s->type == VMMU_MEM_RAM && first < gfn + npages &&
		    first + (s->size >> VMMU_PAGE_SHIFT) > gfn)
			return true;
	}
	return false;
}

static int log_create(struct vmmu_vm *vm, uint64_t gfn, uint64_t npages,
		      struct vmmu_dirty_map **out)
{
	const struct vmmu_platform *p = &vm->platform;
	struct vmmu_dirty_map *log = p->zalloc(p->ctx, sizeof(*log));
	uint64_t ndir = (npages + TABLE_PAGES - 1) >> TABLE_SHIFT;

	if (!log)
		return VMMU_ENOMEM;
	if (ndir > SIZE_MAX / sizeof(*log->dir) ||
	    !(log->dir = p->zalloc(p->ctx, (size_t)ndir * sizeof(*log->dir)))) {
		p->free(p->ctx, log);
		return VMMU_ENOMEM;
	}
	log->gfn = gfn;
	log->npages = npages;
	log->ndir = ndir;
	*out = log;
	return VMMU_OK;
}

/* Wait for marks in flight (after the log was unpublished). */
static void wait_users(struct vmmu_vm *vm)
{
	while (atomic_load_explicit(&vm->dirty_users, memory_order_acquire))
		__builtin_ia32_pause();
}

int vmmu_dirty_enable(struct vmmu_vm *vm, uint64_t gfn, uint64_t npages)
{
	struct vmmu_dirty_map *log;
	int rc;

	if (!vm || !npages || gfn + npages < gfn)
		return VMMU_EINVAL;
	if (vm->dead)
		return VMMU_EDEAD;
	vmmu_vm_lock(vm);
	if (atomic_load_explicit(&vm->dirty_log, SC) ||
	    atomic_load_explicit(&vm->dirty_stopping, SC)) {
		rc = atomic_load_explicit(&vm->dirty_stopping, SC) ? VMMU_EBUSY
								   : VMMU_EEXIST;
		vmmu_vm_unlock(vm);
		return rc;
	}
	if (gfn + npages > 1ULL << (vm->guest_maxphyaddr - VMMU_PAGE_SHIFT) ||
	    !range_has_ram(vm, gfn, npages)) {
		vmmu_vm_unlock(vm);
		return VMMU_EFAULT;
	}
	/* the chosen variant, told to the backend again (it may have been
	 * reconfigured since) */
	rc = vmmu_dirty_mode_current(vm);
	if (rc == VMMU_OK)
		rc = log_create(vm, gfn, npages, &log);
	if (rc < 0) {
		vmmu_vm_unlock(vm);
		return rc;
	}
	atomic_store_explicit(&vm->dirty_log, log, SC);
	rc = vm->ops && vm->ops->dirty_log_start ? vm->ops->dirty_log_start(vm)
						 : VMMU_OK;
	if (rc < 0)
		atomic_store_explicit(&vm->dirty_log, NULL, SC);
	vmmu_vm_unlock(vm);
	/* No translation made before logging may let a write through. */
	vmmu_vm_tlb_flush_sync(vm);
	if (rc < 0) {
		wait_users(vm);
		log_free(vm, log);
	}
	return rc;
}

int vmmu_dirty_enable_ram(struct vmmu_vm *vm)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	unsigned i;

	if (!vm)
		return VMMU_EINVAL;
	for (i = 0; i < vm->nslots; i++) {
		const struct vmmu_slot *s = &vm->slots[i];

		if (s->type != VMMU_MEM_RAM)
			continue;
		if (s->base.v < lo)
			lo = s->base.v;
		if (s->base.v + s->size > hi)
			hi = s->base.v + s->size;
	}
	if (hi <= lo)
		return vm->dead ? VMMU_EDEAD : VMMU_EFAULT;
	return vmmu_dirty_enable(vm, lo >> VMMU_PAGE_SHIFT,
				 (hi - lo) >> VMMU_PAGE_SHIFT);
}

int vmmu_dirty_disable(struct vmmu_vm *vm)
{
	struct vmmu_dirty_map *log;
	int rc;

	if (!vm)
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	log = atomic_load_explicit(&vm->dirty_log, SC);
	if (!log || atomic_load_explicit(&vm->dirty_stopping, SC)) {
		vmmu_vm_unlock(vm);
		return log ? VMMU_EBUSY : VMMU_ENOENT;
	}
	/* Dekker with harvest_begin: one of us sees the other. */
	atomic_store_explicit(&vm->dirty_stopping, true, SC);
	if (atomic_load_explicit(&vm->dirty_harvesters, SC)) {
		atomic_store_explicit(&vm->dirty_stopping, false, SC);
		vmmu_vm_unlock(vm);
		return VMMU_EBUSY;
	}
	rc = vm->ops && vm->ops->dirty_log_stop ? vm->ops->dirty_log_stop(vm)
						: VMMU_OK;
	if (rc < 0) {
		atomic_store_explicit(&vm->dirty_stopping, false, SC);
		vmmu_vm_unlock(vm);
		return rc;
	}
	atomic_store_explicit(&vm->dirty_log, NULL, SC);
	vmmu_vm_unlock(vm);
	/* Hardware sides testing bits run inside accesses; marks count. */
	vmmu_vm_tlb_flush_sync(vm);
	wait_users(vm);
	log_free(vm, log);
	atomic_store_explicit(&vm->dirty_stopping, false, SC);
	return VMMU_OK;
}

/* VM destruction: nothing runs any more. */
void vmmu_dirty_destroy(struct vmmu_vm *vm)
{
	struct vmmu_dirty_map *log = atomic_load_explicit(&vm->dirty_log, SC);

	if (log)
		log_free(vm, log);
	atomic_store_explicit(&vm->dirty_log, NULL, SC);
}

int vmmu_dirty_range(struct vmmu_vm *vm, uint64_t *gfn, uint64_t *npages)
{
	struct vmmu_dirty_map *log;
	int rc;

	if (!vm)
		return VMMU_EINVAL;
	rc = harvest_begin(vm, &log);
	if (rc < 0)
		return rc;
	if (gfn)
		*gfn = log->gfn;
	if (npages)
		*npages = log->npages;
	harvest_end(vm);
	return VMMU_OK;
}

int vmmu_dirty_stats(struct vmmu_vm *vm, struct vmmu_dirty_stats *out)
{
	struct vmmu_dirty_map *log;
	int rc;

	if (!vm || !out)
		return VMMU_EINVAL;
	memset(out, 0, sizeof(*out));
	rc = harvest_begin(vm, &log);
	if (rc == VMMU_ENOENT)
		return VMMU_OK;         /* off: all zero */
	if (rc < 0)
		return rc;
	out->enabled = true;
	out->gfn = log->gfn;
	out->npages = log->npages;
	out->marks = atomic_load_explicit(&log->marks, memory_order_relaxed);
	out->tables = atomic_load_explicit(&log->tables, memory_order_relaxed);
	out->leaves = atomic_load_explicit(&log->leaves, memory_order_relaxed);
	out->coarse_marks = atomic_load_explicit(&log->coarse,
						 memory_order_relaxed);
	out->peeks = atomic_load_explicit(&log->peeks, memory_order_relaxed);
	out->cleans = atomic_load_explicit(&log->cleans, memory_order_relaxed);
	out->rearms = atomic_load_explicit(&log->rearms, memory_order_relaxed);
	out->bytes = sizeof(*log) + log->ndir * sizeof(*log->dir) +
		     out->tables * sizeof(struct table) +
		     out->leaves * sizeof(struct leaf);
	harvest_end(vm);
	return VMMU_OK;
}
