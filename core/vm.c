/* SPDX-License-Identifier: MIT */
/*
 * VM and vCPU objects and the guest-physical memory map.
 * Freestanding: memory comes only from the VM's platform.
 */
#include <string.h>

#include "vmmu/error.h"
#include "vmmu/vm.h"
#include "backend.h"

int vmmu_vm_create(const struct vmmu_platform *platform, struct vmmu_vm **out)
{
	struct vmmu_vm *vm;

	if (!platform || !out || !platform->alloc_page || !platform->map ||
	    !platform->zalloc || !platform->free)
		return VMMU_EINVAL;
	vm = platform->zalloc(platform->ctx, sizeof(*vm));
	if (!vm)
		return VMMU_ENOMEM;
	vm->platform = *platform;
	vm->guest_maxphyaddr = 48;
	*out = vm;
	return VMMU_OK;
}

static void slot_release(struct vmmu_vm *vm, struct vmmu_slot *slot)
{
	uint64_t i, npages = slot->size >> VMMU_PAGE_SHIFT;

	if (!slot->pages)
		return;
	for (i = 0; i < npages; i++)
		if (slot->pages[i].v)
			vm->platform.free_page(vm->platform.ctx, slot->pages[i]);
	vm->platform.free(vm->platform.ctx, slot->pages);
	slot->pages = NULL;
}

void vmmu_vm_destroy(struct vmmu_vm *vm)
{
	unsigned i;

	if (!vm)
		return;
	for (i = 0; i < vm->nvcpus; i++) {
		if (vm->ops && vm->ops->vcpu_destroy)
			vm->ops->vcpu_destroy(vm->vcpus[i]);
		vm->platform.free(vm->platform.ctx, vm->vcpus[i]);
	}
	if (vm->ops && vm->ops->vm_destroy)
		vm->ops->vm_destroy(vm);
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

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b,
			   uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int slot_back_with_pages(struct vmmu_vm *vm, struct vmmu_slot *slot)
{
	uint64_t i, npages = slot->size >> VMMU_PAGE_SHIFT;
	int rc;

	slot->pages = vm->platform.zalloc(vm->platform.ctx,
					  npages * sizeof(hpa_t));
	if (!slot->pages)
		return VMMU_ENOMEM;
	for (i = 0; i < npages; i++) {
		rc = vm->platform.alloc_page(vm->platform.ctx, &slot->pages[i]);
		if (rc < 0) {
			slot_release(vm, slot);
			return rc;
		}
	}
	return VMMU_OK;
}

int vmmu_vm_add_slot(struct vmmu_vm *vm, gpa_t base, uint64_t size,
		     enum vmmu_mem_type type)
{
	struct vmmu_slot slot = { .base = base, .size = size, .type = type };
	unsigned i, pos;
	int rc;

	if (!vm || !size || (base.v | size) & ~VMMU_PAGE_MASK ||
	    base.v + size < base.v ||
	    (vm->guest_maxphyaddr < 64 &&
	     base.v + size > (1ULL << vm->guest_maxphyaddr)))
		return VMMU_EINVAL;
	if (vm->dead)
		return VMMU_EDEAD;
	if (vm->nslots == VMMU_MAX_SLOTS)
		return VMMU_ENOSPC;
	for (pos = 0; pos < vm->nslots; pos++) {
		const struct vmmu_slot *s = &vm->slots[pos];

		if (ranges_overlap(base.v, size, s->base.v, s->size))
			return VMMU_EEXIST;
		if (s->base.v > base.v)
			break;
	}
	if (type != VMMU_MEM_MMIO) {
		rc = slot_back_with_pages(vm, &slot);
		if (rc < 0)
			return rc;
	}
	for (i = vm->nslots; i > pos; i--)
		vm->slots[i] = vm->slots[i - 1];
	vm->slots[pos] = slot;
	vm->nslots++;
	if (vm->ops && vm->ops->slot_added) {
		rc = vm->ops->slot_added(vm, &vm->slots[pos]);
		if (rc < 0) {
			vmmu_vm_remove_slot(vm, base);
			return rc;
		}
	}
	return VMMU_OK;
}

int vmmu_vm_remove_slot(struct vmmu_vm *vm, gpa_t base)
{
	unsigned i;

	if (!vm)
		return VMMU_EINVAL;
	for (i = 0; i < vm->nslots; i++) {
		if (vm->slots[i].base.v != base.v)
			continue;
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

int vmmu_vm_gpa_to_hpa(const struct vmmu_vm *vm, gpa_t gpa, hpa_t *out)
{
	const struct vmmu_slot *s = vmmu_vm_find_slot(vm, gpa);
	uint64_t off;

	if (!s)
		return VMMU_ENOENT;
	if (!s->pages)
		return VMMU_EFAULT;
	off = gpa.v - s->base.v;
	out->v = s->pages[off >> VMMU_PAGE_SHIFT].v | (off & ~VMMU_PAGE_MASK);
	return VMMU_OK;
}

enum gpa_copy { GPA_CHECK, GPA_TO_GUEST, GPA_FROM_GUEST };

/*
 * Copy between guest RAM and buf, one page-bounded chunk at a time;
 * GPA_CHECK only checks that every byte is backed.
 */
static int copy_gpa(const struct vmmu_vm *vm, gpa_t gpa, void *buf,
		    size_t len, enum gpa_copy dir)
{
	uint8_t *p = buf;

	while (len) {
		size_t chunk = VMMU_PAGE_SIZE - (gpa.v & ~VMMU_PAGE_MASK);
		hpa_t hpa;
		uint8_t *host;
		int rc = vmmu_vm_gpa_to_hpa(vm, gpa, &hpa);

		if (rc < 0)
			return rc;
		host = vm->platform.map(vm->platform.ctx, hpa);
		if (!host)
			return VMMU_EFAULT;
		if (chunk > len)
			chunk = len;
		if (dir == GPA_TO_GUEST)
			memcpy(host, p, chunk);
		else if (dir == GPA_FROM_GUEST)
			memcpy(p, host, chunk);
		p += chunk;
		len -= chunk;
		gpa.v += chunk;
	}
	return VMMU_OK;
}

int vmmu_vm_read_gpa(const struct vmmu_vm *vm, gpa_t gpa, void *buf,
		     size_t len)
{
	return copy_gpa(vm, gpa, buf, len, GPA_FROM_GUEST);
}

/* All or nothing: a range with a hole is refused before any byte lands. */
int vmmu_vm_write_gpa(struct vmmu_vm *vm, gpa_t gpa, const void *buf,
		      size_t len)
{
	int rc = copy_gpa(vm, gpa, NULL, len, GPA_CHECK);

	if (rc < 0)
		return rc;
	return copy_gpa(vm, gpa, (void *)buf, len, GPA_TO_GUEST);
}

static int gmem_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	return vmmu_vm_read_gpa(ctx, gpa, buf, len);
}

/* Entries are naturally aligned, so one map() covers the whole entry. */
static int gmem_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t new_val,
			size_t len)
{
	struct vmmu_vm *vm = ctx;
	hpa_t hpa;
	void *host;
	int rc;

	if ((len != 4 && len != 8) || (gpa.v & (len - 1)))
		return VMMU_EINVAL;
	rc = vmmu_vm_gpa_to_hpa(vm, gpa, &hpa);
	if (rc < 0)
		return rc;
	host = vm->platform.map(vm->platform.ctx, hpa);
	if (!host)
		return VMMU_EFAULT;
	if (len == 8)
		return __atomic_compare_exchange_n((uint64_t *)host, &old,
			new_val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) ? 0 : 1;
	{
		uint32_t o32 = (uint32_t)old;

		return __atomic_compare_exchange_n((uint32_t *)host, &o32,
			(uint32_t)new_val, false, __ATOMIC_SEQ_CST,
			__ATOMIC_SEQ_CST) ? 0 : 1;
	}
}

void vmmu_vm_gmem(struct vmmu_vm *vm, struct vmmu_gmem *out)
{
	out->ctx = vm;
	out->read = gmem_read;
	out->cmpxchg = gmem_cmpxchg;
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
	if (vm->ops && vm->ops->vcpu_init) {
		rc = vm->ops->vcpu_init(vcpu);
		if (rc < 0) {
			vm->platform.free(vm->platform.ctx, vcpu);
			return rc;
		}
	}
	vm->vcpus[vm->nvcpus++] = vcpu;
	*out = vcpu;
	return VMMU_OK;
}

int vmmu_vm_kill(struct vmmu_vm *vm, const char *reason)
{
	vm->dead = true;
	vm->dead_reason = reason;
	return VMMU_EDEAD;
}
