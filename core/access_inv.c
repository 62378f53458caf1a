/* SPDX-License-Identifier: MIT */
/*
 * TLB requests between threads: VM-wide flushes (vmmu_vm_tlb_flush_sync)
 * and invalidations posted to other vCPUs (vmmu_vm_tlb_invalidate). A
 * vCPU's TLB model is touched only by the vCPU's own thread: a request is
 * left where the vCPU looks on entering an access (core/access.c), as a
 * shootdown IPI is handled by its target CPU. The requester then waits
 * for the accesses in flight to end, as an IPI's sender waits for the
 * acknowledgements, so that on return nothing uses what was removed.
 *
 * Ordering. A request is stored (tlb_full_gen, or the target's mailbox
 * under its lock) before tlb_flush_gen is bumped (seq_cst); a vCPU that
 * reads the bumped tlb_flush_gen on entry then reads tlb_full_gen and its
 * mailbox after an acquire fence (or the lock), so it sees the request.
 * That an entering vCPU reads the bump at all, unless the requester sees
 * it inside its access and waits, is the store-buffering argument at
 * guest mode in core/access.c.
 */
#include <string.h>

#include "vmmu/access.h"
#include "vmmu/error.h"
#include "access_tlb.h"
#include "tlb.h"

#define INV_SLOTS (sizeof(((struct vmmu_vcpu *)0)->inv) / \
		   sizeof(((struct vmmu_vcpu *)0)->inv[0]))

static void inv_lock(struct vmmu_vcpu *v)
{
	while (atomic_flag_test_and_set_explicit(&v->inv_lock,
						 memory_order_acquire))
		__builtin_ia32_pause();
}

static void inv_unlock(struct vmmu_vcpu *v)
{
	atomic_flag_clear_explicit(&v->inv_lock, memory_order_release);
}

/* Leave fn(arg) in v's mailbox; a full one turns into a flush of all. */
static void inv_post(struct vmmu_vcpu *v, void (*fn)(struct vmmu_tlb *, void *),
		     const void *arg, size_t size)
{
	inv_lock(v);
	if (v->inv_n < INV_SLOTS) {
		struct vmmu_inv_req *r = &v->inv[v->inv_n++];

		r->fn = fn;
		memset(r->arg, 0, sizeof(r->arg));
		if (size)
			memcpy(r->arg, arg, size);
	} else {
		v->inv_overflow = true;
	}
	inv_unlock(v);
}

/*
 * Bump the flush generation and wait until every vCPU but skip that was
 * inside an access has left it (vm.h, vmmu_vm_tlb_flush_sync).
 */
static void flush_wait(struct vmmu_vm *vm, const struct vmmu_vcpu *skip)
{
	const struct vmmu_platform *p = &vm->platform;
	unsigned seen[VMMU_MAX_VCPUS];
	unsigned i, n = vm->nvcpus;

	atomic_fetch_add_explicit(&vm->tlb_flush_gen, 1, memory_order_seq_cst);
	if (p->heavy_barrier)
		p->heavy_barrier(p->ctx);
	for (i = 0; i < n; i++)
		seen[i] = atomic_load_explicit(&vm->vcpus[i]->run_seq,
					       memory_order_seq_cst);
	for (i = 0; i < n; i++) {
		if (!(seen[i] & 1) || vm->vcpus[i] == skip)
			continue;
		while (atomic_load_explicit(&vm->vcpus[i]->run_seq,
					    memory_order_acquire) == seen[i])
			__builtin_ia32_pause();
	}
}

void vmmu_vm_tlb_flush_sync(struct vmmu_vm *vm)
{
	atomic_fetch_add_explicit(&vm->tlb_full_gen, 1, memory_order_seq_cst);
	flush_wait(vm, NULL);
}

int vmmu_vm_tlb_invalidate(struct vmmu_vm *vm,
			   const struct vmmu_vcpu *initiator,
			   void (*fn)(struct vmmu_tlb *tlb, void *arg),
			   const void *arg, size_t arg_size)
{
	uint64_t own[4];
	bool posted = false;
	unsigned i;

	if (!vm || !fn || arg_size > sizeof(own) || (arg_size && !arg))
		return VMMU_EINVAL;
	memset(own, 0, sizeof(own));
	if (arg_size)
		memcpy(own, arg, arg_size);
	for (i = 0; i < vm->nvcpus; i++) {
		struct vmmu_vcpu *v = vm->vcpus[i];

		if (!v->tlb)
			continue;
		if (v == initiator) {
			fn(v->tlb, own);
		} else {
			inv_post(v, fn, arg, arg_size);
			posted = true;
		}
	}
	if (posted)
		flush_wait(vm, initiator);
	return VMMU_OK;
}

void access_tlb_requests(struct vmmu_vcpu *vcpu, unsigned gen)
{
	struct vmmu_vm *vm = vcpu->vm;
	unsigned full, i;

	vcpu->tlb_flush_seen = gen;
	atomic_thread_fence(memory_order_acquire);
	full = atomic_load_explicit(&vm->tlb_full_gen, memory_order_relaxed);
	if (full != vcpu->tlb_full_seen) {
		vcpu->tlb_full_seen = full;
		if (vcpu->tlb)
			vmmu_tlb_flush_all(vcpu->tlb);
	}
	inv_lock(vcpu);
	if (vcpu->tlb && vcpu->inv_overflow) {
		vmmu_tlb_shootdown(vcpu->tlb);
		vmmu_tlb_flush_all(vcpu->tlb);
	} else if (vcpu->tlb) {
		for (i = 0; i < vcpu->inv_n; i++) {
			vmmu_tlb_shootdown(vcpu->tlb);
			vcpu->inv[i].fn(vcpu->tlb, vcpu->inv[i].arg);
		}
	}
	vcpu->inv_n = 0;
	vcpu->inv_overflow = false;
	inv_unlock(vcpu);
}

void vmmu_vcpu_tlb_sync(struct vmmu_vcpu *vcpu)
{
	unsigned gen;

	if (!vcpu)
		return;
	gen = atomic_load_explicit(&vcpu->vm->tlb_flush_gen,
				   memory_order_seq_cst);
	if (gen != vcpu->tlb_flush_seen)
		access_tlb_requests(vcpu, gen);
}
