/* SPDX-License-Identifier: MIT */
/*
 * The vCPU access path with the direct backend: first touch, MMIO, ROM,
 * holes, the TLB's architectural staleness until an invalidation, the
 * paging-structure caches shortening walks, and exact counters.
 */
#include "vmmu/access.h"
#include "core/tlb.h"
#include "walk/walk_fixture.h"

#define MMIO_BASE 0x10000000ULL
#define ROM_BASE  0x20000000ULL

struct ax {
	struct fx *f;
	struct vmmu_vcpu *vcpu;
	unsigned mmio_calls;
	uint64_t mmio_last;
};

static struct ax ax_state;

static int ax_mmio(void *ctx, gpa_t gpa, bool write, void *data,
		   unsigned size)
{
	struct ax *a = ctx;

	a->mmio_calls++;
	a->mmio_last = gpa.v;
	if (!write)
		memset(data, 0xab, size);
	return 0;
}

static int ax_setup(void **state)
{
	struct ax *a = &ax_state;

	memset(a, 0, sizeof(*a));
	if (fx_setup((void **)&a->f) < 0 ||
	    vmmu_vm_set_backend(a->f->vm, VMMU_BACKEND_NONE,
				&vmmu_backend_direct) < 0 ||
	    vmmu_vm_add_slot(a->f->vm, mk_gpa(MMIO_BASE), 0x1000,
			     VMMU_MEM_MMIO) < 0 ||
	    vmmu_vm_add_slot(a->f->vm, mk_gpa(ROM_BASE), 0x1000,
			     VMMU_MEM_ROM) < 0 ||
	    vmmu_vcpu_create(a->f->vm, &a->vcpu) < 0)
		return -1;
	*state = a;
	return 0;
}

static int ax_teardown(void **state)
{
	struct ax *a = *state;

	return fx_teardown((void **)&a->f);
}

/* Give the vCPU the fixture's registers, through the event path. */
static void ax_long(struct ax *a)
{
	fx_long(a->f, false, 48);
	a->vcpu->paging = a->f->ps;
	assert_int_equal(vmmu_vcpu_set_cr(a->vcpu, VMMU_CR3, FX_CR3), 0);
}

static struct vmmu_access_result ax_do(struct ax *a, uint64_t gva,
				       enum vmmu_access_kind kind,
				       unsigned cpl, uint64_t *data)
{
	struct vmmu_op op = { .acc = { mk_gva(gva), kind, (uint8_t)cpl, false },
			      .size = 8, .data = data };
	struct vmmu_access_result res;

	assert_int_equal(vmmu_vcpu_access(a->vcpu, &op, &res), 0);
	return res;
}

static void test_paging_off_first_touch(void **state)
{
	struct ax *a = *state;
	uint64_t v = 0x1122334455667788ULL, back = 0;
	struct vmmu_access_result r;

	/* Paging off: linear = physical (SDM 4.1.1); RAM backed on touch. */
	hpa_t hpa;

	/* An untouched page of a RAM slot: one exit backs it, then retry. */
	assert_int_equal(vmmu_vm_gpa_to_hpa(a->f->vm, mk_gpa(0x300008), &hpa),
			 VMMU_ENOENT);
	r = ax_do(a, 0x300008, W, 0, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(r.exits, 1);
	assert_int_equal(a->vcpu->stats.exits_by_kind[VMMU_EXIT_UNBACKED], 1);
	assert_int_equal(a->vcpu->stats.retries, 1);
	assert_int_equal(vmmu_vm_gpa_to_hpa(a->f->vm, mk_gpa(0x300008), &hpa), 0);
	assert_int_equal(r.hpa.v, hpa.v);
	r = ax_do(a, 0x300008, R, 0, &back);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(r.tlb_hit);
	assert_int_equal(r.exits, 0);
	assert_int_equal(back, v);
	assert_int_equal(a->vcpu->stats.accesses, 2);
	assert_int_equal(a->vcpu->stats.tlb_hits, 1);
}

static void test_mmio_rom_hole(void **state)
{
	struct ax *a = *state;
	uint64_t v = 7;
	struct vmmu_access_result r;

	r = ax_do(a, MMIO_BASE + 8, R, 0, &v);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_MMIO);
	assert_int_equal(r.gpa.v, MMIO_BASE + 8);
	vmmu_vm_set_mmio_handler(a->f->vm, ax_mmio, a);
	r = ax_do(a, MMIO_BASE + 8, R, 0, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(r.emulated);
	assert_int_equal(v, 0xababababababababULL);
	assert_int_equal(a->mmio_calls, 1);
	assert_int_equal(a->mmio_last, MMIO_BASE + 8);
	/* MMIO is never cached: the next access exits again. */
	r = ax_do(a, MMIO_BASE + 8, W, 0, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(a->mmio_calls, 2);

	r = ax_do(a, ROM_BASE, R, 0, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	r = ax_do(a, ROM_BASE, W, 0, &v);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_ROM_WRITE);
	r = ax_do(a, 0x30000000, R, 0, &v);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_UNMAPPED);
}

/*
 * SDM 4.10.4.2/4.10.4.3: after software changes a PTE the processor may
 * keep using the old translation until the address is invalidated. The
 * model does keep it (an exact TLB), and drops it at INVLPG.
 */
static void test_stale_until_invlpg(void **state)
{
	struct ax *a = *state;
	uint64_t v;
	struct vmmu_access_result r;
	hpa_t old;

	ax_long(a);
	fx_map4k(a->f, 0x400000, PRWU, 0x200000);
	r = ax_do(a, 0x400010, R, 3, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(r.gpa.v, 0x200010);
	assert_int_equal(vmmu_vm_gpa_to_hpa(a->f->vm, mk_gpa(0x200010), &old), 0);
	fx_map4k(a->f, 0x400000, PRWU, 0x280000);
	r = ax_do(a, 0x400010, R, 3, &v);
	assert_true(r.tlb_hit);
	assert_int_equal(r.hpa.v, old.v);     /* still the old page */
	assert_int_equal(vmmu_vcpu_invlpg(a->vcpu, mk_gva(0x400000)), 0);
	r = ax_do(a, 0x400010, R, 3, &v);
	assert_false(r.tlb_hit);
	assert_int_equal(r.gpa.v, 0x280010);
	/* Read-only now: a write through the cached entry is refused and
	 * the fresh walk faults (P | W | U). */
	fx_map4k(a->f, 0x400000, P | US, 0x280000);
	assert_int_equal(vmmu_vcpu_invlpg(a->vcpu, mk_gva(0x400000)), 0);
	r = ax_do(a, 0x400010, R, 3, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	r = ax_do(a, 0x400010, W, 3, &v);
	assert_int_equal(r.status, VMMU_ACCESS_FAULT);
	assert_int_equal(r.fault.error_code, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U);
}

/* A PDE-cache hit starts the walk at the page table: 1 reference, not 4. */
static void test_pwc_shortens_walk(void **state)
{
	struct ax *a = *state;
	uint64_t v, refs;
	struct vmmu_access_result r;

	ax_long(a);
	fx_map4k(a->f, 0x600000, PRWU, 0x200000);
	fx_map4k(a->f, 0x601000, PRWU, 0x201000);
	/* Back the data pages, so no first-touch exit makes a second walk. */
	wr(a->f, 0x200000, 0, 8);
	wr(a->f, 0x201000, 0, 8);
	refs = a->vcpu->stats.guest_walk_refs;
	r = ax_do(a, 0x600000, R, 3, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(a->vcpu->stats.guest_walk_refs - refs, 4);
	refs = a->vcpu->stats.guest_walk_refs;
	r = ax_do(a, 0x601000, R, 3, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(r.gpa.v, 0x201000);
	assert_int_equal(a->vcpu->stats.guest_walk_refs - refs, 1);
	assert_int_equal(a->vcpu->stats.pwc_walks, 1);
	/* MOV to CR3 without PCIDE flushes the caches (SDM 4.10.4.1). */
	assert_int_equal(vmmu_vcpu_set_cr(a->vcpu, VMMU_CR3, FX_CR3), 0);
	refs = a->vcpu->stats.guest_walk_refs;
	r = ax_do(a, 0x601000, R, 3, &v);
	assert_false(r.tlb_hit);
	assert_int_equal(a->vcpu->stats.guest_walk_refs - refs, 4);
}

static void test_bad_ops(void **state)
{
	struct ax *a = *state;
	struct vmmu_op op = { .acc = { mk_gva(0xffc), R, 0, false }, .size = 8 };
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vcpu_access(a->vcpu, &op, &r), VMMU_EINVAL);
	op.size = 0;
	assert_int_equal(vmmu_vcpu_access(a->vcpu, &op, &r), VMMU_EINVAL);
	op.size = 4;
	op.acc.cpl = 4;
	assert_int_equal(vmmu_vcpu_access(a->vcpu, &op, &r), VMMU_EINVAL);
	assert_int_equal(vmmu_vcpu_access(NULL, &op, &r), VMMU_EINVAL);
	assert_int_equal(vmmu_vcpu_invpcid(a->vcpu, 4, 0, mk_gva(0)),
			 VMMU_EINVAL);
}

/* vmmu_vcpu_read/write split at pages and stop at the first fault. */
static void test_read_write_split(void **state)
{
	struct ax *a = *state;
	uint8_t buf[20], back[20];
	struct vmmu_access_result r;
	unsigned i;

	ax_long(a);
	fx_map4k(a->f, 0x700000, PRWU, 0x210000);
	fx_map4k(a->f, 0x701000, PRWU, 0x211000);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(vmmu_vcpu_write(a->vcpu, mk_gva(0x700ff5), buf,
					 sizeof(buf), 3, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_vm_read_gpa(a->f->vm, mk_gpa(0x210ff5), back, 11), 0);
	assert_int_equal(vmmu_vm_read_gpa(a->f->vm, mk_gpa(0x211000), back + 11, 9), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(vmmu_vcpu_write(a->vcpu, mk_gva(0x701ffc), buf, 8, 3, &r),
			 0);
	assert_int_equal(r.status, VMMU_ACCESS_FAULT);
	assert_int_equal(r.fault.cr2.v, 0x702000);
}

static void flush_all_cb(struct vmmu_tlb *tlb, void *arg)
{
	unsigned *calls;

	memcpy(&calls, arg, sizeof(calls));     /* arg: a copy of &calls */
	(*calls)++;
	vmmu_tlb_flush_all(tlb);
}

/*
 * A flush on every vCPU: the initiator's own runs at once and is not a
 * shootdown; another vCPU's is posted, runs when that vCPU next enters an
 * access, and counts there as a shootdown.
 */
static void test_vm_invalidate_counts_shootdowns(void **state)
{
	struct ax *a = *state;
	struct vmmu_vcpu *second;
	struct vmmu_access_result r;
	unsigned calls = 0, *pc = &calls;
	uint64_t v = 0;

	assert_int_equal(vmmu_vcpu_create(a->f->vm, &second), 0);
	assert_int_equal(ax_do(a, 0x3000, R, 0, &v).status, VMMU_ACCESS_DONE);
	assert_true(ax_do(a, 0x3000, R, 0, &v).tlb_hit);
	assert_int_equal(vmmu_vm_tlb_invalidate(a->f->vm, a->vcpu, flush_all_cb,
						&pc, sizeof(pc)), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(vmmu_tlb_stats(second->tlb)->inv[VMMU_TLB_INV_SHOOTDOWN], 0);
	assert_int_equal(vmmu_vcpu_read(second, mk_gva(0x3000), &v, 8, 0, &r), 0);
	assert_int_equal(calls, 2);
	assert_int_equal(vmmu_tlb_stats(a->vcpu->tlb)->inv[VMMU_TLB_INV_SHOOTDOWN], 0);
	assert_int_equal(vmmu_tlb_stats(second->tlb)->inv[VMMU_TLB_INV_SHOOTDOWN], 1);
	assert_false(ax_do(a, 0x3000, R, 0, &v).tlb_hit);
	assert_true(ax_do(a, 0x3000, R, 0, &v).tlb_hit);
	assert_int_equal(vmmu_vm_tlb_invalidate(a->f->vm, NULL, flush_all_cb,
						&pc, sizeof(pc)), 0);
	assert_int_equal(calls, 2);
	assert_false(ax_do(a, 0x3000, R, 0, &v).tlb_hit);
	assert_int_equal(calls, 3);
	assert_int_equal(vmmu_tlb_stats(a->vcpu->tlb)->inv[VMMU_TLB_INV_SHOOTDOWN], 1);
	/* Too large an argument to copy: refused, nothing posted. */
	assert_int_equal(vmmu_vm_tlb_invalidate(a->f->vm, NULL, flush_all_cb,
						&pc, 33), VMMU_EINVAL);
	assert_true(ax_do(a, 0x3000, R, 0, &v).tlb_hit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_paging_off_first_touch, ax_setup, ax_teardown),
		cmocka_unit_test_setup_teardown(test_mmio_rom_hole, ax_setup, ax_teardown),
		cmocka_unit_test_setup_teardown(test_stale_until_invlpg, ax_setup, ax_teardown),
		cmocka_unit_test_setup_teardown(test_pwc_shortens_walk, ax_setup, ax_teardown),
		cmocka_unit_test_setup_teardown(test_bad_ops, ax_setup, ax_teardown),
		cmocka_unit_test_setup_teardown(test_read_write_split, ax_setup, ax_teardown),
		cmocka_unit_test_setup_teardown(test_vm_invalidate_counts_shootdowns, ax_setup, ax_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
