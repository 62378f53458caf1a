/* SPDX-License-Identifier: MIT */
/*
 * VM and vCPU objects and the guest-physical memory map.
 * Freestanding: memory comes only from the VM's platform.
 */
#include <string.h>

#include "vmmu/error.h"
#include "vmmu/vm.h"
#include "backend.h"
#include "pte_atomic.h"
#include "vmmu/access.h"
#include "vmmu/p2m.h"
#include "dirty_internal.h"
#include "access_tlb.h"

static void slot_release(struct vmmu_vm *vm, struct vmmu_slot *slot);

int vmmu_vm_create(const struct vmmu_platform *platform, struct vmmu_vm **out)
{
	struct vmmu_vm *vm;

	if (!platform || !out || !platform->alloc_page || !platform->map ||
	    !platform->zalloc || !platform->free ||
	    !platform->alloc_pages != !platform->free_pages)
		return VMMU_EINVAL;
	vm = platform->zalloc(platform->ctx, sizeof(*vm));
	if (!vm)
		return VMMU_ENOMEM;
	vm->platform = *platform;
	vm->guest_maxphyaddr = 48;
	*out = vm;
	return VMMU_OK;
}

void vmmu_vm_destroy(struct vmmu_vm *vm)
{
	unsigned i;

	if (!vm)
		return;
	for (i = 0; i < vm->nvcpus; i++) {
		if (vm->ops && vm->ops->vcpu_destroy)
			vm->ops->vcpu_destroy(vm->vcpus[i]);
		vmmu_vcpu_tlb_release(vm->vcpus[i]);
		vm->platform.free(vm->platform.ctx, vm->vcpus[i]);
	}
	vmmu_p2m_release(vm);
	if (vm->ops && vm->ops->vm_destroy)
		vm->ops->vm_destroy(vm);
	vmmu_dirty_destroy(vm);
	for (i = 0; i < vm->nslots; i++)
		slot_release(vm, &vm->slots[i]);
	vm->platform.free(vm->platform.ctx, vm);
}

int vmmu_vm_set_backend(struct vmmu_vm *vm, enum vmmu_backend_kind kind,
			const struct vmmu_backend_ops *ops)
{
	int rc;

	if (!vm || vm->ops || vm->nvcpus)
		return VMMU_EINVAL;
	if (vm->dead)
		return VMMU_EDEAD;
	vm->backend = kind;
	vm->ops = ops;
	if (ops && ops->vm_init) {
		rc = ops->vm_init(vm);
		if (rc < 0) {
			vm->ops = NULL;
			vm->backend = VMMU_BACKEND_NONE;
			return rc;
		}
	}
	return VMMU_OK;
}

/*
 * Guest RAM bookkeeping (RAM and ROM slots).
 *
 * A slot's ram_dir has one entry per GiB of guest-physical space the slot
 * touches (gpa >> 30, from base >> 30 on); below it, tables of 512 entries
 * for 2 MiB and then 4 KiB granules, allocated only where needed. An entry:
 *   0          nothing populated in its range
 *   hpa | 1    one host block of the level's order (18, 9, 0) at hpa,
 *              backing the whole naturally aligned range
 *   pointer    (even, nonzero) the next level's table of 512 entries
 * A leaf is only ever placed where its whole aligned range lies inside the
 * slot, so every block belongs to exactly one slot. Entries are changed
 * only by population (0 -> leaf or table, under the VM lock) and slot
 * release. Population publishes an entry with one release store after the
 * table it points to is zeroed, and lookups load entries with acquire, so a
 * lookup without populate (the hardware side) may run concurrently with a
 * population; not with a slot's removal.
 */
#define GM_LEVELS  3
#define GM_LEAF    1ULL
#define GM_ENTRIES 512U

static const unsigned gm_shift[GM_LEVELS] = { 30, 21, 12 };

static uint64_t *gm_table(uint64_t e)
{
	return (uint64_t *)(uintptr_t)e;
}

static void gm_free_block(struct vmmu_vm *vm, hpa_t hpa, unsigned order)
{
	if (order)
		vm->platform.free_pages(vm->platform.ctx, hpa, order);
	else
		vm->platform.free_page(vm->platform.ctx, hpa);
}

/* Free everything below entry e at level l (the entry itself is the caller's). */
static void gm_release(struct vmmu_vm *vm, uint64_t e, unsigned l)
{
	uint64_t *t;
	unsigned i;

	if (!e)
		return;
	if (e & GM_LEAF) {
		gm_free_block(vm, mk_hpa(e & ~GM_LEAF),
			      gm_shift[l] - VMMU_PAGE_SHIFT);
		return;
	}
	t = gm_table(e);
	for (i = 0; l + 1 < GM_LEVELS && i < GM_ENTRIES; i++)
		gm_release(vm, t[i], l + 1);
	vm->platform.free(vm->platform.ctx, t);
}

static void slot_release(struct vmmu_vm *vm, struct vmmu_slot *slot)
{
	uint64_t i;

	if (!slot->ram_dir)
		return;
	for (i = 0; i < slot->ram_dir_len; i++)
		gm_release(vm, slot->ram_dir[i], 0);
	vm->platform.free(vm->platform.ctx, slot->ram_dir);
	slot->ram_dir = NULL;
	slot->pages_populated = 0;
	slot->bookkeeping_bytes = 0;
}

/*
 * A host block of 2^order pages: alloc_page for order 0, alloc_pages
 * otherwise; any failure of alloc_pages is "try smaller" (VMMU_ENOMEM).
 * A misaligned block breaks the platform contract and kills the VM.
 */
static int gm_alloc_block(struct vmmu_vm *vm, unsigned order, hpa_t *out)
{
	uint64_t align = (VMMU_PAGE_SIZE << order) - 1;
	int rc;

	if (!order)
		rc = vm->platform.alloc_page(vm->platform.ctx, out);
	else if (!vm->platform.alloc_pages)
		return VMMU_ENOMEM;
	else
		rc = vm->platform.alloc_pages(vm->platform.ctx, order, out) < 0 ?
		     VMMU_ENOMEM : VMMU_OK;
	if (rc < 0)
		return rc;
	if (out->v & align) {
		gm_free_block(vm, *out, order);
		return vmmu_vm_kill(vm, "platform returned a misaligned block");
	}
	return VMMU_OK;
}

/*
 * Fill the empty entry *e at level l for gpa: a leaf when the level's
 * aligned range lies inside the slot, its order is allowed and the
 * platform grants the block; otherwise (above 4 KiB) an empty table.
 */
static int gm_fill(struct vmmu_vm *vm, struct vmmu_slot *s, uint64_t *e,
		   unsigned l, uint64_t gpa)
{
	unsigned order = gm_shift[l] - VMMU_PAGE_SHIFT;
	uint64_t size = 1ULL << gm_shift[l], start = gpa & ~(size - 1);
	uint64_t *t;
	hpa_t hpa;
	int rc;

	if (order <= s->max_order && size <= s->size && start >= s->base.v &&
	    start - s->base.v <= s->size - size) {
		rc = gm_alloc_block(vm, order, &hpa);
		if (rc == VMMU_OK) {
			pte_store(e, hpa.v | GM_LEAF);
			s->pages_populated += 1ULL << order;
			return VMMU_OK;
		}
		if (rc != VMMU_ENOMEM || l + 1 == GM_LEVELS)
			return rc;
	}
	t = vm->platform.zalloc(vm->platform.ctx, GM_ENTRIES * sizeof(*t));
	if (!t)
		return VMMU_ENOMEM;
	s->bookkeeping_bytes += GM_ENTRIES * sizeof(*t);
	pte_store(e, (uint64_t)(uintptr_t)t);
	return VMMU_OK;
}

/* Look gpa up in RAM/ROM slot s, populating on the way if asked. */
static int gm_lookup(struct vmmu_vm *vm, struct vmmu_slot *s, uint64_t gpa,
		     bool populate, struct vmmu_ram_page *out)
{
	uint64_t *e = &s->ram_dir[(gpa >> gm_shift[0]) - (s->base.v >> gm_shift[0])];
	unsigned l;
	int rc;

	for (l = 0; l < GM_LEVELS; l++) {
		uint64_t v = pte_load(e);

		if (!v) {
			if (!populate)
				return VMMU_ENOENT;
			rc = gm_fill(vm, s, e, l, gpa);
			if (rc < 0)
				return rc;
			v = pte_load(e);
		}
		if (v & GM_LEAF) {
			uint64_t mask = (1ULL << gm_shift[l]) - 1;

			out->hpa = mk_hpa((v & ~GM_LEAF) + (gpa & mask));
			out->gpa = mk_gpa(gpa & ~mask);
			out->order = gm_shift[l] - VMMU_PAGE_SHIFT;
			out->slot = s;
			return VMMU_OK;
		}
		if (l + 1 == GM_LEVELS)
			break;
		e = &gm_table(v)[(gpa >> gm_shift[l + 1]) % GM_ENTRIES];
	}
	return vmmu_vm_kill(vm, "guest RAM table below 4 KiB");
}

/* Back every page of s (eager slots). */
static int gm_populate_all(struct vmmu_vm *vm, struct vmmu_slot *s)
{
	uint64_t gpa = s->base.v, end = s->base.v + s->size;
	struct vmmu_ram_page pg;
	int rc;

	while (gpa < end) {
		rc = gm_lookup(vm, s, gpa, true, &pg);
		if (rc < 0)
			return rc;
		gpa = pg.gpa.v + (VMMU_PAGE_SIZE << pg.order);
	}
	return VMMU_OK;
}

/* Slots: the guest-physical map. */

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b,
			   uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool memtype_valid(uint8_t t)
{
	return t == VMMU_MEMTYPE_DEFAULT || t == 0 || t == 1 ||
	       (t >= 4 && t <= 6);
}

static int slot_check(const struct vmmu_vm *vm, const struct vmmu_slot_desc *d)
{
	uint64_t base = d->base.v, size = d->size;

	if (!size || (base | size) & ~VMMU_PAGE_MASK || base + size < base ||
	    (vm->guest_maxphyaddr < 64 &&
	     base + size > (1ULL << vm->guest_maxphyaddr)) ||
	    d->max_order > VMMU_ORDER_1G || !memtype_valid(d->memtype) ||
	    (d->type != VMMU_MEM_RAM && d->type != VMMU_MEM_ROM &&
	     d->type != VMMU_MEM_MMIO))
		return VMMU_EINVAL;
	return VMMU_OK;
}

/* A slot's own state from d, with its RAM directory (and pages if eager). */
static int slot_init(struct vmmu_vm *vm, const struct vmmu_slot_desc *d,
		     struct vmmu_slot *s)
{
	uint64_t first = d->base.v >> gm_shift[0];
	uint64_t last = (d->base.v + d->size - 1) >> gm_shift[0];
	int rc;

	memset(s, 0, sizeof(*s));
	s->base = d->base;
	s->size = d->size;
	s->type = d->type;
	s->max_order = d->max_order;
	s->memtype = d->memtype;
	if (d->type == VMMU_MEM_MMIO)
		return VMMU_OK;
	s->ram_dir_len = last - first + 1;
	s->ram_dir = vm->platform.zalloc(vm->platform.ctx,
					 s->ram_dir_len * sizeof(uint64_t));
	if (!s->ram_dir)
		return VMMU_ENOMEM;
	s->bookkeeping_bytes = s->ram_dir_len * sizeof(uint64_t);
	if (d->eager) {
		rc = gm_populate_all(vm, s);
		if (rc < 0) {
			slot_release(vm, s);
			return rc;
		}
	}
	return VMMU_OK;
}

int vmmu_vm_add_slot_ex(struct vmmu_vm *vm, const struct vmmu_slot_desc *desc)
{
	struct vmmu_slot slot;
	unsigned i, pos;
	int rc;

	if (!vm || !desc || slot_check(vm, desc) < 0)
		return VMMU_EINVAL;
	if (vm->dead)
		return VMMU_EDEAD;
	if (vm->nslots == VMMU_MAX_SLOTS)
		return VMMU_ENOSPC;
	if (vmmu_p2m_has_foreign(vm, desc->base, desc->size))
		return VMMU_EEXIST;     /* a grant or foreign frame is mapped there */
	for (pos = 0; pos < vm->nslots; pos++) {
		const struct vmmu_slot *s = &vm->slots[pos];

		if (ranges_overlap(desc->base.v, desc->size, s->base.v, s->size))
			return VMMU_EEXIST;
		if (s->base.v > desc->base.v)
			break;
	}
	rc = slot_init(vm, desc, &slot);
	if (rc < 0)
		return rc;
	for (i = vm->nslots; i > pos; i--)
		vm->slots[i] = vm->slots[i - 1];
	vm->slots[pos] = slot;
	vm->nslots++;
	if (vm->ops && vm->ops->slot_added) {
		rc = vm->ops->slot_added(vm, &vm->slots[pos]);
		if (rc < 0) {
			vmmu_vm_remove_slot(vm, desc->base);
			return rc;
		}
	}
	return VMMU_OK;
}

int vmmu_vm_add_slot(struct vmmu_vm *vm, gpa_t base, uint64_t size,
		     enum vmmu_mem_type type)
{
	struct vmmu_slot_desc d = {
		.base = base, .size = size, .type = type,
		.max_order = VMMU_ORDER_1G, .memtype = VMMU_MEMTYPE_DEFAULT,
	};

	return vmmu_vm_add_slot_ex(vm, &d);
}

int vmmu_vm_remove_slot(struct vmmu_vm *vm, gpa_t base)
{
	unsigned i;

	if (!vm)
		return VMMU_EINVAL;
	for (i = 0; i < vm->nslots; i++) {
		if (vm->slots[i].base.v != base.v)
			continue;
		vmmu_p2m_slot_removed(vm, &vm->slots[i]);
		if (vm->ops && vm->ops->slot_removed)
			vm->ops->slot_removed(vm, &vm->slots[i]);
		slot_release(vm, &vm->slots[i]);
		for (; i + 1 < vm->nslots; i++)
			vm->slots[i] = vm->slots[i + 1];
		vm->nslots--;
		return VMMU_OK;
	}
	return VMMU_ENOENT;
}

const struct vmmu_slot *vmmu_vm_find_slot(const struct vmmu_vm *vm, gpa_t gpa)
{
	unsigned lo = 0, hi = vm->nslots;

	/* Slots are sorted and disjoint: binary search on base. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct vmmu_slot *s = &vm->slots[mid];

		if (gpa.v < s->base.v)
			hi = mid;
		else if (gpa.v - s->base.v >= s->size)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

/*
 * The slot holding gpa, writable for population. The VM is the caller's
 * own (zalloc'ed, never a const object), so dropping const is sound.
 */
static struct vmmu_slot *slot_at(const struct vmmu_vm *vm, gpa_t gpa)
{
	return (struct vmmu_slot *)vmmu_vm_find_slot(vm, gpa);
}

/* ram_lookup on a const VM: no population, so nothing is written. */
static int ram_find(const struct vmmu_vm *vm, gpa_t gpa,
		    struct vmmu_ram_page *out)
{
	struct vmmu_slot *s = slot_at(vm, gpa);

	if (!s)
		return VMMU_ENOENT;
	if (s->type == VMMU_MEM_MMIO)
		return VMMU_EFAULT;
	return gm_lookup((struct vmmu_vm *)vm, s, gpa.v, false, out);
}

int vmmu_vm_ram_lookup(struct vmmu_vm *vm, gpa_t gpa, bool populate,
		       struct vmmu_ram_page *out)
{
	struct vmmu_slot *s;

	if (!vm || !out)
		return VMMU_EINVAL;
	if (!populate)
		return ram_find(vm, gpa, out);
	if (vm->dead)
		return VMMU_EDEAD;
	s = slot_at(vm, gpa);
	if (!s)
		return VMMU_ENOENT;
	if (s->type == VMMU_MEM_MMIO)
		return VMMU_EFAULT;
	return gm_lookup(vm, s, gpa.v, true, out);
}

int vmmu_vm_gpa_to_hpa(const struct vmmu_vm *vm, gpa_t gpa, hpa_t *out)
{
	struct vmmu_ram_page pg;
	int rc = ram_find(vm, gpa, &pg);

	if (rc == VMMU_OK)
		*out = pg.hpa;
	return rc;
}

/* Copies between guest memory and a buffer. */

/* A range that wraps around the top of the address space is refused. */
static bool range_wraps(gpa_t gpa, size_t len)
{
	return len && gpa.v + (len - 1) < gpa.v;
}

int vmmu_vm_read_gpa(const struct vmmu_vm *vm, gpa_t gpa, void *buf,
		     size_t len)
{
	uint8_t *p = buf;

	if (range_wraps(gpa, len))
		return VMMU_EINVAL;
	while (len) {
		size_t chunk = VMMU_PAGE_SIZE - (gpa.v & ~VMMU_PAGE_MASK);
		struct vmmu_ram_page pg;
		const uint8_t *host;
		int rc = ram_find(vm, gpa, &pg);

		if (chunk > len)
			chunk = len;
		if (rc == VMMU_ENOENT && vmmu_vm_find_slot(vm, gpa)) {
			memset(p, 0, chunk);    /* untouched RAM reads as zero */
		} else if (rc < 0) {
			return rc;
		} else {
			host = vm->platform.map(vm->platform.ctx, pg.hpa);
			if (!host)
				return VMMU_EFAULT;
			memcpy(p, host, chunk);
		}
		p += chunk;
		len -= chunk;
		gpa.v += chunk;
	}
	return VMMU_OK;
}

/* Every byte of the range lies in a RAM or ROM slot: 0, ENOENT or EFAULT. */
static int write_check(const struct vmmu_vm *vm, uint64_t gpa, uint64_t end)
{
	while (gpa < end) {
		const struct vmmu_slot *s = vmmu_vm_find_slot(vm, mk_gpa(gpa));

		if (!s)
			return VMMU_ENOENT;
		if (s->type == VMMU_MEM_MMIO)
			return VMMU_EFAULT;
		if (end - s->base.v <= s->size)
			break;
		gpa = s->base.v + s->size;
	}
	return VMMU_OK;
}

/* Back every page of a checked range and check that each block maps. */
static int write_populate(struct vmmu_vm *vm, uint64_t gpa, uint64_t end)
{
	struct vmmu_ram_page pg;
	int rc;

	gpa &= VMMU_PAGE_MASK;
	while (gpa < end) {
		rc = vmmu_vm_ram_lookup(vm, mk_gpa(gpa), true, &pg);
		if (rc < 0)
			return rc;
		if (!vm->platform.map(vm->platform.ctx, mk_hpa(pg.hpa.v & VMMU_PAGE_MASK)))
			return VMMU_EFAULT;
		gpa = pg.gpa.v + (VMMU_PAGE_SIZE << pg.order);
		if (!gpa)
			break;      /* the block ended the address space */
	}
	return VMMU_OK;
}

/*
 * All or nothing: holes, MMIO and allocation failures are found before the
 * first byte lands (check, then populate, then copy).
 */
int vmmu_vm_write_gpa(struct vmmu_vm *vm, gpa_t gpa, const void *buf,
		      size_t len)
{
	const uint8_t *p = buf;
	uint64_t cur = gpa.v;
	size_t left = len;
	int rc;

	if (!vm || range_wraps(gpa, len))
		return VMMU_EINVAL;
	if (!len)
		return VMMU_OK;
	rc = write_check(vm, gpa.v, gpa.v + len);
	if (rc == VMMU_OK)
		rc = write_populate(vm, gpa.v, gpa.v + len);
	if (rc < 0)
		return rc;
	while (left) {
		size_t chunk = VMMU_PAGE_SIZE - (cur & ~VMMU_PAGE_MASK);
		struct vmmu_ram_page pg;
		uint8_t *host = NULL;

		if (ram_find(vm, mk_gpa(cur), &pg) == VMMU_OK)
			host = vm->platform.map(vm->platform.ctx, pg.hpa);
		if (!host)
			return vmmu_vm_kill(vm, "guest RAM vanished during a write");
		if (chunk > left)
			chunk = left;
		memcpy(host, p, chunk);
		p += chunk;
		left -= chunk;
		cur += chunk;
	}
	vmmu_vm_written(vm, gpa, len);
	return VMMU_OK;
}

bool vmmu_vm_trylock(struct vmmu_vm *vm)
{
	return !atomic_flag_test_and_set_explicit(&vm->lock,
						  memory_order_acquire);
}

void vmmu_vm_written(struct vmmu_vm *vm, gpa_t gpa, size_t len)
{
	/* The bytes have landed: the mark comes after them (core/dirty.c). */
	if (len)
		vmmu_dirty_mark(vm, gpa.v >> VMMU_PAGE_SHIFT,
				((gpa.v + len - 1) >> VMMU_PAGE_SHIFT) -
				(gpa.v >> VMMU_PAGE_SHIFT) + 1);
	if (vm->ops && vm->ops->gpa_written)
		vm->ops->gpa_written(vm, gpa, len);
}

/*
 * The walker reads one aligned 4- or 8-byte entry at a time: that case
 * takes one lookup and one atomic load (another vCPU's walk may set the
 * entry's A/D bits at the same time, pte_cas_len; on x86-64 the load is one
 * move); everything else is read_gpa.
 */
static int gmem_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	struct vmmu_vm *vm = ctx;
	struct vmmu_ram_page pg;
	const uint8_t *host;

	if ((len == 8 || len == 4) && !(gpa.v & (len - 1)) &&
	    ram_find(vm, gpa, &pg) == VMMU_OK) {
		host = vm->platform.linear_base ?
		       vm->platform.linear_base + pg.hpa.v :
		       vm->platform.map(vm->platform.ctx, pg.hpa);
		if (host && len == 8) {
			uint64_t v = pte_load((const uint64_t *)host);

			__builtin_memcpy(buf, &v, 8);
			return VMMU_OK;
		}
		if (host) {
			uint32_t v = __atomic_load_n((const uint32_t *)host,
						     __ATOMIC_ACQUIRE);

			__builtin_memcpy(buf, &v, 4);
			return VMMU_OK;
		}
	}
	return vmmu_vm_read_gpa(vm, gpa, buf, len);
}

/*
 * An A/D update. Entries are naturally aligned, so one map() covers the
 * whole entry. Untouched RAM holds zero: an expected old value other than
 * zero fails without populating the page.
 */
static int gmem_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t new_val,
			size_t len)
{
	struct vmmu_vm *vm = ctx;
	const struct vmmu_slot *s = vmmu_vm_find_slot(vm, gpa);
	struct vmmu_ram_page pg;
	void *host;
	int rc;

	if ((len != 4 && len != 8) || (gpa.v & (len - 1)))
		return VMMU_EINVAL;
	if (!s)
		return VMMU_ENOENT;
	if (s->type != VMMU_MEM_RAM)
		return VMMU_EFAULT;     /* ROM and MMIO take no A/D writes */
	rc = vmmu_vm_ram_lookup(vm, gpa, false, &pg);
	if (rc == VMMU_ENOENT) {
		if ((len == 8 ? old : (uint32_t)old) != 0)
			return 1;
		rc = vmmu_vm_ram_lookup(vm, gpa, true, &pg);
	}
	if (rc < 0)
		return rc;
	host = vm->platform.map(vm->platform.ctx, pg.hpa);
	if (!host)
		return VMMU_EFAULT;
	if (!pte_cas_len(host, old, new_val, len))
		return 1;
	vmmu_vm_written(vm, gpa, len);
	return VMMU_OK;
}

void vmmu_vm_gmem(struct vmmu_vm *vm, struct vmmu_gmem *out)
{
	out->ctx = vm;
	out->read = gmem_read;
	out->cmpxchg = gmem_cmpxchg;
}

static void probe_note(struct vmmu_gmem_probe *p, gpa_t gpa, int rc)
{
	if (rc < 0 && !p->failed_rc) {
		p->failed = gpa;
		p->failed_rc = rc;
	}
}

static int probe_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	struct vmmu_gmem_probe *p = ctx;
	int rc = p->vm_mem.read(p->vm_mem.ctx, gpa, buf, len);

	probe_note(p, gpa, rc);
	return rc;
}

static int probe_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t nv,
			 size_t len)
{
	struct vmmu_gmem_probe *p = ctx;
	int rc = p->vm_mem.cmpxchg(p->vm_mem.ctx, gpa, old, nv, len);

	probe_note(p, gpa, rc);
	return rc;
}

void vmmu_vm_gmem_probe(struct vmmu_vm *vm, struct vmmu_gmem_probe *out)
{
	vmmu_vm_gmem(vm, &out->vm_mem);
	out->mem.ctx = out;
	out->mem.read = probe_read;
	out->mem.cmpxchg = probe_cmpxchg;
	out->failed.v = 0;
	out->failed_rc = 0;
}

int vmmu_vcpu_create(struct vmmu_vm *vm, struct vmmu_vcpu **out)
{
	struct vmmu_vcpu *vcpu;
	int rc;

	if (!vm || !out)
		return VMMU_EINVAL;
	if (vm->dead)
		return VMMU_EDEAD;
	if (vm->nvcpus == VMMU_MAX_VCPUS)
		return VMMU_ENOSPC;
	vcpu = vm->platform.zalloc(vm->platform.ctx, sizeof(*vcpu));
	if (!vcpu)
		return VMMU_ENOMEM;
	vcpu->vm = vm;
	vcpu->id = vm->nvcpus;
	vcpu->paging.maxphyaddr = vm->guest_maxphyaddr;
	vmmu_paging_update(&vcpu->paging);
	/* The TLB model first: the backend's vcpu_init may retag it. */
	rc = vmmu_vcpu_tlb_configure(vcpu, NULL);
	if (rc == VMMU_OK && vm->ops && vm->ops->vcpu_init)
		rc = vm->ops->vcpu_init(vcpu);
	if (rc < 0) {
		vmmu_vcpu_tlb_release(vcpu);
		vm->platform.free(vm->platform.ctx, vcpu);
		return rc;
	}
	vm->vcpus[vm->nvcpus++] = vcpu;
	*out = vcpu;
	return VMMU_OK;
}

int vmmu_vm_kill(struct vmmu_vm *vm, const char *reason)
{
	unsigned i;

	vm->dead = true;
	vm->dead_reason = reason;
	for (i = 0; i < vm->nvcpus; i++)
		access_hit_base_update(vm->vcpus[i]);
	return VMMU_EDEAD;
}
