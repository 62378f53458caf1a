/* SPDX-License-Identifier: MIT */
/*
 * The vCPU access path (include/vmmu/access.h): TLB, the backend's
 * hardware-side walk, its hypervisor-side handler, retry.
 */
#include <stddef.h>
#include <string.h>

#include "vmmu/access.h"
#include "vmmu/error.h"
#include "access_tlb.h"
#include "tlb.h"

/*
 * An access that takes more exits than this without completing is a
 * backend that asks for retries without removing their cause (a real CPU
 * would loop on the instruction forever): the VM is killed instead.
 */
#define ACCESS_MAX_EXITS 16

void vmmu_vm_lock(struct vmmu_vm *vm)
{
	while (atomic_flag_test_and_set_explicit(&vm->lock,
						 memory_order_acquire))
		;
}

void vmmu_vm_unlock(struct vmmu_vm *vm)
{
	atomic_flag_clear_explicit(&vm->lock, memory_order_release);
}

static inline int op_check(const struct vmmu_vcpu *vcpu, const struct vmmu_op *op)
{
	uint64_t off;

	if (!vcpu || !op || !vcpu->vm->ops)
		return VMMU_EINVAL;
	off = op->acc.gva.v & ~VMMU_PAGE_MASK;
	if (op->acc.cpl > 3 || op->acc.kind > VMMU_ACCESS_FETCH ||
	    op->size < 1 || op->size > 8 || off + op->size > VMMU_PAGE_SIZE)
		return VMMU_EINVAL;
	return vcpu->vm->dead ? VMMU_EDEAD : VMMU_OK;
}

/*
 * Fixed-size copies. The core is built -ffreestanding, which turns off
 * the compiler's own memcpy, so a plain memcpy here is a library call that
 * costs more than the whole TLB hit; the builtin with a constant size is
 * one move.
 */
static inline void copy_small(void *dst, const void *src, unsigned size)
{
	switch (size) {
	case 8: __builtin_memcpy(dst, src, 8); break;
	case 4: __builtin_memcpy(dst, src, 4); break;
	case 2: __builtin_memcpy(dst, src, 2); break;
	case 1: __builtin_memcpy(dst, src, 1); break;
	default: memcpy(dst, src, size); break;
	}
}

/* The access reached memory at hpa: move its data. */
static inline int op_perform(struct vmmu_vcpu *vcpu, const struct vmmu_op *op,
		      hpa_t hpa)
{
	const struct vmmu_platform *p = &vcpu->vm->platform;
	uint8_t *host;

	if (!op->data)
		return VMMU_OK;
	host = p->linear_base ? p->linear_base + hpa.v : p->map(p->ctx, hpa);
	if (!host)
		return vmmu_vm_kill(vcpu->vm, "a translation led outside host memory");
	/* Fixed-size copies: a call to memcpy costs more than the hit. */
	if (op->acc.kind == VMMU_ACCESS_WRITE)
		copy_small(host, op->data, op->size);
	else
		copy_small(op->data, host, op->size);
	return VMMU_OK;
}

static void count_walk(struct vmmu_vcpu *vcpu, const struct vmmu_hw_walk *hw)
{
	vcpu->stats.guest_walk_refs += hw->guest_refs;
	vcpu->stats.nested_walk_refs += hw->nested_refs;
}

/*
 * Guest mode. An access is what a CPU does between two interrupt windows:
 * its walk, TLB fill and data move cannot be split by a shootdown. The
 * vCPU makes run_seq odd for the access, then reads the VM's flush
 * generation and empties its own TLB if a flush was requested since it
 * last looked; it makes run_seq even again (release) when the access has
 * moved its data. vmmu_vm_tlb_flush_sync bumps the generation, then reads
 * each run_seq: either it sees the vCPU outside an access, and then the
 * vCPU's next entry sees the bump, or it sees an odd value and waits for
 * it to change, which happens after that access's data moved
 * (release/acquire). An exit leaves guest mode for its handler and
 * enters it again for the retry, as a VM exit and the next VM entry do:
 * a flush never waits for a handler (which may hold the VM lock), the
 * retry applies what was requested meanwhile, and an access nested in a
 * handler has a window of its own. A vCPU never waits for the VM lock
 * inside guest mode, so a flush may be made with the lock held.
 *
 * "Sees the bump" needs the vCPU's store of run_seq ordered before its
 * load of the generation, against the flusher's bump before its load of
 * run_seq (store-buffer ordering). Two ways, chosen by the platform:
 *  - no heavy barrier: both sides are sequentially consistent (the vCPU's
 *    store is a locked exchange), so the two loads cannot both miss;
 *  - a heavy barrier (platform.h): the vCPU's store and load are plain
 *    (the compiler keeps their order), and the flusher runs the barrier
 *    between its bump and its loads. The barrier executes a full fence on
 *    the vCPU's CPU at some point of the vCPU's program: if that point
 *    follows the store, the flusher sees the odd value; if it precedes
 *    it, the vCPU's later load follows the fence and sees the bump. The
 *    hit path pays no locked instruction; the rare flush pays the IPIs.
 */
static inline bool guest_mode_store(struct vmmu_vcpu *vcpu, unsigned s)
{
	if (tlb_likely(vcpu->vm->platform.heavy_barrier)) {
		atomic_store_explicit(&vcpu->run_seq, s, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
		return true;
	}
	atomic_exchange_explicit(&vcpu->run_seq, s, memory_order_seq_cst);
	return false;
}

/* Make run_seq (even: s) odd; the VM's flush generation, read after it. */
static inline unsigned guest_mode_gen(struct vmmu_vcpu *vcpu, unsigned s)
{
	return atomic_load_explicit(&vcpu->vm->tlb_flush_gen,
				    guest_mode_store(vcpu, s + 1) ?
				    memory_order_relaxed : memory_order_seq_cst);
}

/* Enter guest mode; false when already inside (a nested access). */
static inline bool guest_enter(struct vmmu_vcpu *vcpu)
{
	unsigned s = atomic_load_explicit(&vcpu->run_seq, memory_order_relaxed);
	unsigned gen;

	if (s & 1)
		return false;
	gen = guest_mode_gen(vcpu, s);
	if (__builtin_expect(gen != vcpu->tlb_flush_seen, 0))
		access_tlb_requests(vcpu, gen);
	return true;
}

static inline void guest_leave(struct vmmu_vcpu *vcpu, bool entered)
{
	if (entered)
		atomic_store_explicit(&vcpu->run_seq,
			atomic_load_explicit(&vcpu->run_seq,
					     memory_order_relaxed) + 1,
			memory_order_release);
}

/* A VM exit: leave guest mode if inside; true if it did. */
static inline bool guest_exit(struct vmmu_vcpu *vcpu)
{
	unsigned s = atomic_load_explicit(&vcpu->run_seq, memory_order_relaxed);

	if (!(s & 1))
		return false;
	atomic_store_explicit(&vcpu->run_seq, s + 1, memory_order_release);
	return true;
}

/* Give an exit to the hypervisor side; fills res for a final action. */
static int access_exit(struct vmmu_vcpu *vcpu, const struct vmmu_op *op,
		       const struct vmmu_hw_walk *hw,
		       struct vmmu_access_result *res, bool *again)
{
	struct vmmu_vm *vm = vcpu->vm;
	struct vmmu_exit_result er;
	bool exited;
	int rc;

	*again = false;
	vcpu->stats.exits++;
	if (hw->exit.kind < VMMU_EXIT_KINDS_)
		vcpu->stats.exits_by_kind[hw->exit.kind]++;
	if (++res->exits > ACCESS_MAX_EXITS)
		return vmmu_vm_kill(vm, "an exit handler keeps asking for retries");
	memset(&er, 0, sizeof(er));
	access_tlb_exit(vcpu, &hw->exit);
	exited = guest_exit(vcpu);
	vmmu_vm_lock(vm);
	vm->handler_vcpu = vcpu;
	rc = vm->ops->handle_exit ? vm->ops->handle_exit(vcpu, &hw->exit, op, &er)
				  : VMMU_ENOTSUP;
	vm->handler_vcpu = NULL;
	vmmu_vm_unlock(vm);
	if (exited)
		guest_enter(vcpu);
	if (rc < 0)
		return rc;
	switch (er.action) {
	case VMMU_ACT_RETRY:
		vcpu->stats.retries++;
		*again = true;
		return VMMU_OK;
	case VMMU_ACT_DONE:
		vcpu->stats.emulated++;
		res->status = VMMU_ACCESS_DONE;
		res->emulated = true;
		res->gpa = er.gpa_valid ? er.gpa : hw->exit.gpa;
		return VMMU_OK;
	case VMMU_ACT_INJECT:
		vcpu->stats.guest_faults++;
		access_tlb_page_fault(vcpu, &er.fault);
		res->status = VMMU_ACCESS_FAULT;
		res->fault = er.fault;
		return VMMU_OK;
	case VMMU_ACT_TO_VMM:
		vcpu->stats.to_vmm++;
		res->status = VMMU_ACCESS_VMM;
		res->reason = er.reason;
		res->exit = hw->exit;
		if (er.gpa_valid)
			res->exit.gpa = er.gpa;
		res->gpa = res->exit.gpa;
		return VMMU_OK;
	}
	return vmmu_vm_kill(vm, "an exit handler returned an unknown action");
}

/* A TLB miss (or refused hit): walk, handle exits, retry. */
static __attribute__((noinline)) int access_miss(struct vmmu_vcpu *vcpu,
						 const struct vmmu_op *op,
						 struct vmmu_access_result *res)
{
	struct vmmu_hw_walk hw;
	bool again;
	int rc;

	if (!vcpu->vm->ops->hw_walk)
		return VMMU_EINVAL;
	memset(res, 0, sizeof(*res));
	for (;;) {
		memset(&hw, 0, sizeof(hw));
		rc = vcpu->vm->ops->hw_walk(vcpu, &op->acc, &hw);
		if (rc < 0)
			return rc;
		count_walk(vcpu, &hw);
		switch (hw.status) {
		case VMMU_HW_OK:
			access_tlb_fill(vcpu, &op->acc, &hw);
			res->hpa = hw.hpa;
			res->gpa = hw.gpa;
			return op_perform(vcpu, op, hw.hpa);
		case VMMU_HW_FAULT:
			vcpu->stats.guest_faults++;
			access_tlb_page_fault(vcpu, &hw.guest);
			res->status = VMMU_ACCESS_FAULT;
			res->fault = hw.guest;
			return VMMU_OK;
		case VMMU_HW_EXIT:
			rc = access_exit(vcpu, op, &hw, res, &again);
			if (rc < 0 || !again)
				return rc;
			continue;
		}
		return vmmu_vm_kill(vcpu->vm, "a hardware walk returned an unknown status");
	}
}

/* A TLB hit's result: only what a hit defines is written (access.h). */
static inline void res_hit(struct vmmu_access_result *res, hpa_t hpa)
{
	res->hpa = hpa;
	res->status = VMMU_ACCESS_DONE;
	res->emulated = false;
	res->tlb_hit = true;
	res->exits = 0;
	res->gpa.v = 0;
}

/* Everything but an allowed TLB hit: the whole path, every counter. */
static TLB_NOINLINE int access_full(struct vmmu_vcpu *vcpu,
				    const struct vmmu_op *op,
				    struct vmmu_access_result *res)
{
	int rc = op_check(vcpu, op);
	bool entered;

	if (rc < 0 || !res)
		return rc < 0 ? rc : VMMU_EINVAL;
	vcpu->stats.accesses++;
	entered = guest_enter(vcpu);
	if (access_tlb_lookup(vcpu, &op->acc, &res->hpa)) {
		res_hit(res, res->hpa);
		rc = op_perform(vcpu, op, res->hpa);
	} else {
		rc = access_miss(vcpu, op, res);
	}
	guest_leave(vcpu, entered);
	return rc;
}

/*
 * An op the hit path may serve: a naturally aligned read, write or fetch
 * of 1, 2, 4 or 8 bytes (never crossing a page) with data to move. Kind 3
 * passes (kind | cpl) but no entry allows it (A_OKSHIFT).
 */
static inline bool hit_op_ok(const struct vmmu_op *op)
{
	unsigned size = op->size;

	return op->data && ((unsigned)op->acc.kind | op->acc.cpl) <= 3 &&
	       size <= 8 && ((0x116U >> size) & 1) &&
	       !(op->acc.gva.v & (size - 1));
}

/* A hit's data move at host (8-byte reads first: the common case). */
static inline void hit_move(uint8_t *host, const struct vmmu_op *op)
{
	if (tlb_likely(op->size == 8) && op->acc.kind != VMMU_ACCESS_WRITE)
		__builtin_memcpy(op->data, host, 8);
	else if (op->acc.kind == VMMU_ACCESS_WRITE)
		copy_small(host, op->data, op->size);
	else
		copy_small(op->data, host, op->size);
}

/*
 * kind, cpl and implicit of op in one word: the 8 bytes from kind hold
 * them and two bytes of padding, which the shift drops (little-endian).
 * Whatever the padding holds, ops of one word share kind, CPL and
 * implicit: padding can only make a shape look new.
 */
_Static_assert(offsetof(struct vmmu_access, kind) == 8 &&
	       offsetof(struct vmmu_access, cpl) == 12 &&
	       offsetof(struct vmmu_access, implicit) == 13 &&
	       sizeof(struct vmmu_access) == 16 &&
	       sizeof(enum vmmu_access_kind) == 4,
	       "the shape word of struct vmmu_access");
static inline uint64_t hit_shape_word(const struct vmmu_op *op)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w;

	__builtin_memcpy(&w, (const uint8_t *)&op->acc + 8, 8);
	return w << 16;
#else
	return ((uint64_t)(uint32_t)op->acc.kind | (uint64_t)op->acc.cpl << 32 |
		(uint64_t)op->acc.implicit << 40) << 16;
#endif
}

/* op has the shape sh was derived for (its RFLAGS.AC aside). */
static inline bool hit_shape_same(const struct tlb_op_shape *sh,
				  const struct vmmu_op *op)
{
	return hit_shape_word(op) == sh->word && op->size == sh->size;
}

/*
 * sh for op's shape under RFLAGS.AC bit ac (acc_sig_ac_bit) in TLB t, in
 * place of hit_op_ok and the signature per op; false (sh unchanged) if
 * the hit path does not serve op.
 */
static inline bool hit_shape_of(struct tlb_op_shape *sh,
				const struct vmmu_tlb *t,
				const struct vmmu_op *op, unsigned ac)
{
	unsigned kind = op->acc.kind;

	if (!hit_op_ok(op))
		return false;
	sh->word = hit_shape_word(op);
	sh->size = op->size;
	sh->align = op->size - 1;
	sh->hc = tlb_hc_row(t, kind);
	sh->okbit = tlb_ok_bit(kind);
	sh->sig = acc_sig_ac(&op->acc, ac);
	sh->ac = ac;
	sh->read8 = op->size == 8 && kind == VMMU_ACCESS_READ;
	sh->fetch = kind >> 1;
	return true;
}

/*
 * The hit path: what a TLB hit costs a CPU, a tag compare and the data
 * move. It serves naturally aligned reads, writes and fetches of 1, 2, 4
 * or 8 bytes (which never cross a page) with data to move, on a vCPU whose
 * hit_base is set (vm.h), and gives up on everything else: a flush to
 * apply, another op, a miss, a refused hit, a linear address access_la
 * would truncate. It enters guest mode first, so that nothing it reads
 * must be read again after the ordering point, and counts only once it
 * knows it finishes: giving up changes nothing but entering and leaving
 * guest mode (and the TLB's memo of the last op shape, which decides
 * nothing), and access_full, starting over, counts exactly what it
 * alone would. The op's checks and signature come from that memo when
 * the op has the last shape's kind, CPL, implicit, size and RFLAGS.AC.
 * It calls nothing, so its callers save no registers.
 * True when the access is done (res filled).
 */
static inline __attribute__((always_inline)) bool
access_hit(struct vmmu_vcpu *vcpu, const struct vmmu_op *op,
	   struct vmmu_access_result *res)
{
	const struct vmmu_paging_state *ps = &vcpu->paging;
	uint64_t la = op->acc.gva.v, hpa;
	struct tlb_op_shape *sh;
	struct vmmu_tlb *t;
	unsigned s, ac;
	struct ent *e;
	bool entered;

	/* guest_enter, except that a pending flush is access_full's */
	s = atomic_load_explicit(&vcpu->run_seq, memory_order_relaxed);
	entered = tlb_likely(!(s & 1));
	if (entered &&
	    tlb_unlikely(guest_mode_gen(vcpu, s) != vcpu->tlb_flush_seen))
		goto give_up;
	t = vcpu->tlb;
	sh = &t->last_shape;
	ac = acc_sig_ac_bit(ps);
	if (tlb_unlikely(!hit_shape_same(sh, op) || sh->ac != ac) &&
	    !hit_shape_of(sh, t, op, ac))
		goto give_up;
	if (tlb_unlikely(!op->data || (la & sh->align)))
		goto give_up;
	if (tlb_unlikely(la >> 32) &&
	    ps->role.mode != VMMU_PAGING_4LEVEL &&
	    ps->role.mode != VMMU_PAGING_5LEVEL)
		goto give_up;
	e = tlb_hit_entry_in(t, sh->hc, la, sh->okbit, sh->sig, t->tag);
	if (tlb_unlikely(!e || !snap_same(t, ps)))
		goto give_up;
	tlb_hit_count(t, e, (unsigned)op->acc.kind);
	vcpu->stats.accesses++;
	vcpu->stats.tlb_hits++;
	hpa = e->val | (la & ~VMMU_PAGE_MASK);
	res_hit(res, mk_hpa(hpa));
	hit_move(vcpu->hit_base + hpa, op);
	if (entered)    /* guest_leave, from the value in hand */
		atomic_store_explicit(&vcpu->run_seq, s + 2,
				      memory_order_release);
	return true;
give_up:
	guest_leave(vcpu, entered);
	return false;
}

int vmmu_vcpu_access(struct vmmu_vcpu *vcpu, const struct vmmu_op *op,
		     struct vmmu_access_result *res)
{
	if (tlb_likely(vcpu && op && res && vcpu->hit_base) &&
	    access_hit(vcpu, op, res))
		return VMMU_OK;
	return access_full(vcpu, op, res);
}

/*
 * A run of TLB hits inside a batch, from ops[i]: access_hit for each op,
 * with what no access of the run can change hoisted out (the paging
 * registers, checked once against the TLB's snapshot; the tag; RFLAGS.AC)
 * and the counters kept in registers until the run ends. The run enters
 * guest mode once per HIT_WINDOW accesses and checks for a flush then: a
 * flush waits at most for that many hits in flight, as a CPU takes an
 * interrupt only between instructions, and nothing used after the flush
 * was seen predates it. Stops at the first op that is not such a hit and
 * returns its index (n when all were); *res describes the last op it
 * performed.
 */
#define HIT_WINDOW 16

/* Enter guest mode from even s; false when a flush is pending (left). */
static inline bool hit_window_enter(atomic_uint *seq, const atomic_uint *gen,
				    unsigned s, unsigned seen, bool light)
{
	unsigned g;

	if (tlb_likely(light)) {
		atomic_store_explicit(seq, s + 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
		g = atomic_load_explicit(gen, memory_order_relaxed);
	} else {
		atomic_exchange_explicit(seq, s + 1, memory_order_seq_cst);
		g = atomic_load_explicit(gen, memory_order_seq_cst);
	}
	if (tlb_likely(g == seen))
		return true;
	atomic_store_explicit(seq, s + 2, memory_order_release);
	return false;
}

/*
 * A run's shape: the TLB's memo for the ops (tlb_op_shape), the la bits
 * refused (misaligned, or above 4 GiB outside IA-32e paging), and what no
 * access of the run can change: the TLB, its tag, the host base.
 */
struct hit_shape {
	struct tlb_op_shape *op;
	uint64_t refuse, narrow;
	const struct vmmu_tlb *t;
	uint64_t tag;
	uint8_t *base;
};

/* Where hit_shape_run stopped, and the host address of its last hit. */
struct hit_stop {
	const struct vmmu_op *op;
	uint64_t hpa;
};

/*
 * The hits of ops [op, wend) of shape sh, up to the first op that is not
 * one (another shape, no data, refused la, no allowed entry). read8: sh
 * is an 8-byte read's (a constant, so that the kind's row, bit and copy
 * are too). clock is the run's LRU clock: the k-th hit stamps its entry
 * clock + k; the caller adds the hits. hpa: the last hit's before op.
 */
static inline __attribute__((always_inline)) struct hit_stop
hit_shape_run(const struct hit_shape *sh, const struct vmmu_op *op,
	      const struct vmmu_op *wend, uint32_t clock, uint64_t hpa,
	      bool read8)
{
	const struct tlb_op_shape *k = sh->op;
	const struct vmmu_tlb *t = sh->t;
	struct ent *const *hc = read8 ? tlb_hc_row(t, VMMU_ACCESS_READ) : k->hc;
	uint32_t okbit = read8 ? tlb_ok_bit(VMMU_ACCESS_READ) : k->okbit;
	unsigned size = read8 ? 8 : k->size, sig = k->sig;
	uint64_t word = k->word, refuse = sh->refuse, tag = sh->tag;
	uint8_t *base = sh->base;

	for (; op < wend; op++) {
		uint64_t la = op->acc.gva.v;
		struct ent *e;

		if (tlb_unlikely(hit_shape_word(op) != word ||
				 op->size != size || !op->data ||
				 (la & refuse)))
			break;
		e = tlb_hit_entry_in(t, hc, la, okbit, sig, tag);
		if (tlb_unlikely(!e))
			break;
		e->stamp = ++clock;
		hpa = e->val | (la & ~VMMU_PAGE_MASK);
		if (read8)
			__builtin_memcpy(op->data, base + hpa, 8);
		else
			hit_move(base + hpa, op);
	}
	return (struct hit_stop){ op, hpa };
}

/* The two forms, out of line: each keeps its constants in registers. */
static TLB_NOINLINE struct hit_stop
hit_run_read8(const struct hit_shape *sh, const struct vmmu_op *op,
	      const struct vmmu_op *wend, uint32_t clock, uint64_t hpa)
{
	return hit_shape_run(sh, op, wend, clock, hpa, true);
}

static TLB_NOINLINE struct hit_stop
hit_run_any(const struct hit_shape *sh, const struct vmmu_op *op,
	    const struct vmmu_op *wend, uint32_t clock, uint64_t hpa)
{
	return hit_shape_run(sh, op, wend, clock, hpa, false);
}

/* sh for op (its memo already op's shape under the run's AC, or made so). */
static inline bool hit_run_shape(struct hit_shape *sh, const struct vmmu_op *op,
				 unsigned ac)
{
	if ((!hit_shape_same(sh->op, op) || sh->op->ac != ac) &&
	    !hit_shape_of(sh->op, sh->t, op, ac))
		return false;
	sh->refuse = sh->op->align | sh->narrow;
	return true;
}

/*
 * One window's hits from op (at most up to wend), shape by shape: where
 * it stopped; sh is the shape of the ops last served, *clock and *hpa
 * advance with the hits, *hit_fetch counts the fetches among them.
 */
static inline const struct vmmu_op *
hit_window_run(struct hit_shape *sh, const struct vmmu_op *op,
	       const struct vmmu_op *wend, uint32_t *clock, uint64_t *hpa,
	       uint64_t *hit_fetch, unsigned ac)
{
	for (;;) {
		struct hit_stop st = sh->op->read8 ?
			hit_run_read8(sh, op, wend, *clock, *hpa) :
			hit_run_any(sh, op, wend, *clock, *hpa);
		uint32_t hits = (uint32_t)(st.op - op);

		*clock += hits;
		*hit_fetch += sh->op->fetch ? hits : 0;
		*hpa = st.hpa;
		op = st.op;
		if (op == wend || hit_shape_same(sh->op, op) ||
		    !hit_run_shape(sh, op, ac))
			return op;      /* the window done, or not a hit */
	}
}

static TLB_NOINLINE size_t access_hit_run(struct vmmu_vcpu *vcpu,
					  const struct vmmu_op *ops,
					  size_t i, size_t n,
					  struct vmmu_access_result *res)
{
	struct vmmu_tlb *t = vcpu->tlb;
	const struct vmmu_paging_state *ps = &vcpu->paging;
	atomic_uint *seq = &vcpu->run_seq;
	const atomic_uint *gen = &vcpu->vm->tlb_flush_gen;
	const struct vmmu_op *op = &ops[i], *end = &ops[n], *wend;
	struct hit_shape sh;
	uint64_t hits, hit_fetch = 0, hpa = 0;
	uint32_t clock;
	unsigned ac, s, seen = vcpu->tlb_flush_seen;
	bool light = vcpu->vm->platform.heavy_barrier != NULL;

	s = atomic_load_explicit(seq, memory_order_relaxed);
	if (!vcpu->hit_base || (s & 1) || i >= n || !snap_same(t, ps))
		return i;       /* nested, or not a run of hits: access_full */
	ac = acc_sig_ac_bit(ps);
	sh.op = &t->last_shape;
	sh.t = t;
	sh.tag = t->tag;
	sh.base = vcpu->hit_base;
	/* outside IA-32e paging an address above 4 GiB is access_la's */
	sh.narrow = ps->role.mode == VMMU_PAGING_4LEVEL ||
		    ps->role.mode == VMMU_PAGING_5LEVEL ? 0 : ~0xffffffffULL;
	if (!hit_run_shape(&sh, op, ac))
		return i;
	clock = t->clock;
	do {
		wend = end - op > HIT_WINDOW ? op + HIT_WINDOW : end;
		if (!hit_window_enter(seq, gen, s, seen, light))
			break;
		op = hit_window_run(&sh, op, wend, &clock, &hpa, &hit_fetch,
				    ac);
		/* the window's data has moved */
		atomic_store_explicit(seq, s + 2, memory_order_release);
		s += 2;
	} while (op == wend && op < end);
	hits = (uint32_t)(clock - t->clock);
	t->clock = clock;
	t->hc_hits[0] += hits - hit_fetch;
	t->hc_hits[1] += hit_fetch;
	vcpu->stats.accesses += hits;
	vcpu->stats.tlb_hits += hits;
	if (hits)
		res_hit(res, mk_hpa(hpa));
	return (size_t)(op - ops);
}

int vmmu_vcpu_access_batch(struct vmmu_vcpu *vcpu, const struct vmmu_op *ops,
			   size_t n, struct vmmu_access_result *res,
			   size_t *done)
{
	struct vmmu_access_result local;
	size_t i = 0;
	int rc = VMMU_OK;

	if (!vcpu || (n && !ops))
		return VMMU_EINVAL;
	if (!res)
		res = &local;
	while (i < n) {
		/* hit_base is reread each run: an exit may kill the VM */
		i = access_hit_run(vcpu, ops, i, n, res);
		if (i == n)
			break;
		rc = access_full(vcpu, &ops[i], res);
		if (rc < 0 || res->status != VMMU_ACCESS_DONE)
			break;
		i++;
	}
	if (done)
		*done = i;
	return rc;
}

/* Largest naturally aligned piece (1, 2, 4, 8) at gva within len. */
static unsigned piece_size(uint64_t gva, size_t len)
{
	unsigned size = 8;

	while (size > 1 && ((gva & (size - 1)) || size > len))
		size /= 2;
	return size;
}

static int copy_guest(struct vmmu_vcpu *vcpu, gva_t gva, uint8_t *buf,
		      size_t len, unsigned cpl, enum vmmu_access_kind kind,
		      struct vmmu_access_result *res)
{
	struct vmmu_access_result local;
	int rc;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	while (len) {
		struct vmmu_op op = {
			.acc = { .gva = gva, .kind = kind, .cpl = (uint8_t)cpl },
			.size = piece_size(gva.v, len), .data = buf,
		};

		rc = vmmu_vcpu_access(vcpu, &op, res);
		if (rc < 0 || res->status != VMMU_ACCESS_DONE)
			return rc;
		gva.v += op.size;
		buf += op.size;
		len -= op.size;
	}
	return VMMU_OK;
}

int vmmu_vcpu_read(struct vmmu_vcpu *vcpu, gva_t gva, void *buf, size_t len,
		   unsigned cpl, struct vmmu_access_result *res)
{
	if (!buf && len)
		return VMMU_EINVAL;
	return copy_guest(vcpu, gva, buf, len, cpl, VMMU_ACCESS_READ, res);
}

int vmmu_vcpu_write(struct vmmu_vcpu *vcpu, gva_t gva, const void *buf,
		    size_t len, unsigned cpl, struct vmmu_access_result *res)
{
	if (!buf && len)
		return VMMU_EINVAL;
	/* The data is only read for a write. */
	return copy_guest(vcpu, gva, (uint8_t *)(uintptr_t)buf, len, cpl,
			  VMMU_ACCESS_WRITE, res);
}

int vmmu_vcpu_emulate(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		      const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	int rc;

	if (!vcpu || !exit || !op || !res)
		return VMMU_EINVAL;
	vcpu->stats.emulated_insns++;
	if (vcpu->emulate)
		return vcpu->emulate(vcpu->emulate_ctx, vcpu, exit, op, res);
	if (!op->data)
		return VMMU_EINVAL;
	if (op->acc.kind == VMMU_ACCESS_WRITE)
		rc = vmmu_vm_write_gpa(vcpu->vm, exit->gpa, op->data, op->size);
	else
		rc = vmmu_vm_read_gpa(vcpu->vm, exit->gpa, op->data, op->size);
	if (rc == VMMU_OK)
		res->action = VMMU_ACT_DONE;
	return rc;
}

void vmmu_vcpu_set_emulator(struct vmmu_vcpu *vcpu, vmmu_emulate_fn fn,
			    void *ctx)
{
	vcpu->emulate = fn;
	vcpu->emulate_ctx = ctx;
}

void vmmu_vm_set_mmio_handler(struct vmmu_vm *vm, vmmu_mmio_fn fn, void *ctx)
{
	vm->mmio = fn;
	vm->mmio_ctx = ctx;
}
