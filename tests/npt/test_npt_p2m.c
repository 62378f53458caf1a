/* SPDX-License-Identifier: MIT */
/*
 * NPT over the VM's p2m (vmmu/p2m.h): type changes reach the nested
 * tables lazily (root-most entries marked, U cleared; the next walk
 * through each raises #NPF with P = 1 and the handler recalculates,
 * children first), a change of part of a large leaf splits it, and
 * grants and foreign mappings follow the p2m's rules: B maps A's frame
 * only through a grant and never with more rights, revocation and the
 * owner's destruction take it away at once, TLB entries included.
 * Guests run with paging off (gva = gpa) so only the nested side acts.
 */
#include "npt/npt_fixture.h"

static struct vmmu_hosted_arena *arena;
static struct vmmu_platform plat;

static int setup(void **state)
{
	(void)state;
	if (vmmu_hosted_create(256ULL << 20, &arena) < 0)
		return -1;
	vmmu_hosted_platform(arena, &plat);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vmmu_hosted_destroy(arena);
	return 0;
}

static struct vmmu_vm *vm_new(uint64_t ram, unsigned order)
{
	struct vmmu_slot_desc d = { .base = { 0 }, .size = ram,
				    .type = VMMU_MEM_RAM, .max_order = (uint8_t)order,
				    .memtype = VMMU_MEMTYPE_DEFAULT };
	struct vmmu_vm *vm;

	assert_int_equal(vmmu_vm_create(&plat, &vm), 0);
	assert_int_equal(vmmu_vm_set_backend(vm, VMMU_BACKEND_NPT,
					     &vmmu_backend_npt), 0);
	assert_int_equal(vmmu_vm_add_slot_ex(vm, &d), 0);
	return vm;
}

static struct vmmu_access_result acc(struct vmmu_vcpu *v, uint64_t gpa,
				     enum vmmu_access_kind k, uint64_t *data)
{
	struct vmmu_op op = { .acc = { mk_gva(gpa), k, 0, false }, .size = 8,
			      .data = data };
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vcpu_access(v, &op, &r), 0);
	return r;
}

static uint64_t leaf(struct vmmu_vm *vm, uint64_t gpa, unsigned *level)
{
	uint64_t e = 0;
	unsigned l = 0;

	if (vmmu_pt_lookup(&npt_of(vm)->pt, gpa, &e, &l) < 0)
		e = 0;
	if (level)
		*level = e ? l : 0;
	return e;
}

/* A 4 KiB change inside a 2 MiB leaf splits it; the rest is unchanged. */
static void test_partial_change_splits(void **state)
{
	struct vmmu_vm *vm = vm_new(16ULL << 20, VMMU_ORDER_2M);
	struct vmmu_vcpu *v;
	struct vmmu_access_result r;
	uint64_t d = 7, e;
	unsigned level;

	(void)state;
	assert_int_equal(vmmu_vcpu_create(vm, &v), 0);
	assert_int_equal(acc(v, 0x600000, W, &d).status, VMMU_ACCESS_DONE);
	e = leaf(vm, 0x603000, &level);
	assert_int_equal(level, 2);
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0x603000), 4096,
					      VMMU_P2M_RAM_RO), 0);
	e = leaf(vm, 0x603000, &level);
	assert_int_equal(level, 1);
	assert_false(e & X86_PTE_RW);
	assert_int_equal(npt_leaf_type(e), VMMU_P2M_RAM_RO);
	e = leaf(vm, 0x604000, &level);
	assert_int_equal(level, 1);
	assert_true(e & X86_PTE_RW);
	assert_true(e & X86_PTE_D);     /* split children inherit A/D */
	/* Reads go through; a write is 0x100000007 and the VMM's. */
	assert_int_equal(acc(v, 0x603008, R, &d).status, VMMU_ACCESS_DONE);
	r = acc(v, 0x603008, W, &d);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_UNHANDLED);
	assert_int_equal(r.exit.exitinfo1, 0x100000007ULL);
	assert_int_equal(r.exit.exitinfo2, 0x603008);
	/* Back to RAM_RW: writable again (no merge is needed for that). */
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0x603000), 4096,
					      VMMU_P2M_RAM_RW), 0);
	assert_int_equal(acc(v, 0x603008, W, &d).status, VMMU_ACCESS_DONE);
	/* MMIO now: not mapped, the VMM gets it. */
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0x605000), 4096,
					      VMMU_P2M_MMIO), 0);
	assert_int_equal(leaf(vm, 0x605000, NULL), 0);
	r = acc(v, 0x605000, R, &d);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_MMIO);
	vmmu_vm_destroy(vm);
}

/* A change over whole tables is lazy: one mark, resolved on the walk. */
static void test_lazy_change(void **state)
{
	struct vmmu_vm *vm = vm_new(1ULL << 30, VMMU_ORDER_4K);
	const struct vmmu_npt_stats *st = vmmu_npt_stats(vm);
	struct vmmu_access_result r;
	struct vmmu_vcpu *v;
	uint64_t d = 1, e, m0;
	unsigned level;

	(void)state;
	assert_int_equal(vmmu_vcpu_create(vm, &v), 0);
	assert_int_equal(acc(v, 0x1000, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(acc(v, 0x20001000, W, &d).status, VMMU_ACCESS_DONE);
	m0 = st->marks;
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0), 1ULL << 30,
					      VMMU_P2M_RAM_RO), 0);
	assert_int_equal(st->marks - m0, 1);        /* the PML4E's PDPTE */
	e = leaf(vm, 0x20001000, &level);
	assert_true(e & X86_PTE_RW);                /* not yet */
	/* The read meets U = 0 on the marked entry: #NPF, P = 1, resolved. */
	r = acc(v, 0x20001000, R, &d);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(r.exits, 1);
	assert_int_equal(st->npf[VMMU_NPF_RECALC], 1);
	assert_false(leaf(vm, 0x20001000, NULL) & X86_PTE_RW);
	/* Only that path: the other page's table waits for its own walk. */
	assert_true(leaf(vm, 0x1000, NULL) & X86_PTE_RW);
	r = acc(v, 0x1000, W, &d);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.exit.exitinfo1, 0x100000007ULL);
	assert_false(leaf(vm, 0x1000, NULL) & X86_PTE_RW);
	vmmu_vm_destroy(vm);
}

static void test_grants_and_foreign(void **state)
{
	struct vmmu_vm *a = vm_new(16ULL << 20, VMMU_ORDER_2M);
	struct vmmu_vm *b = vm_new(16ULL << 20, VMMU_ORDER_2M);
	struct vmmu_vm *c = vm_new(16ULL << 20, VMMU_ORDER_2M);
	const uint64_t at = 0xa0000000ULL;
	struct vmmu_access_result r;
	struct vmmu_vcpu *vb, *vc;
	uint64_t d = 0x600dda7a, back = 0, pages;
	unsigned level;
	uint32_t ro;

	(void)state;
	assert_int_equal(vmmu_vcpu_create(b, &vb), 0);
	assert_int_equal(vmmu_vcpu_create(c, &vc), 0);
	assert_int_equal(vmmu_vm_write_gpa(a, mk_gpa(0x9000), &d, 8), 0);
	assert_int_equal(vmmu_grant_issue(a, mk_gpa(0x9000), b, false, &ro), 0);
	/* Refused: no entry appears anywhere. */
	pages = npt_of(b)->pt.table_pages;
	assert_int_equal(vmmu_grant_map(b, mk_gpa(at), a, ro, true), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_map(b, mk_gpa(0x2000), a, ro, false), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_map(c, mk_gpa(at), a, ro, false), VMMU_EINVAL);
	assert_int_equal(vmmu_foreign_map(c, mk_gpa(at), a, mk_gpa(0x9000)), VMMU_EINVAL);
	assert_int_equal(npt_of(b)->pt.table_pages, pages);
	assert_int_equal(leaf(b, at, NULL), 0);
	assert_int_equal(leaf(c, at, NULL), 0);
	/* B reads A's frame through the grant; a write is refused. */
	assert_int_equal(vmmu_grant_map(b, mk_gpa(at), a, ro, false), 0);
	assert_int_equal(npt_leaf_type(leaf(b, at, &level)), VMMU_P2M_GRANT_RO);
	assert_int_equal(level, 1);
	assert_true(leaf(b, at, NULL) & X86_PTE_NX);    /* R only */
	r = acc(vb, at, R, &back);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(back, d);
	r = acc(vb, at, W, &d);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_UNHANDLED);
	assert_int_equal(r.exit.exitinfo1, 0x100000007ULL);
	r = acc(vb, at, X, &back);      /* no execute from a grant */
	assert_int_equal(r.exit.exitinfo1, 0x100000015ULL);
	/* Privileged C maps it foreign, read-write. */
	assert_int_equal(vmmu_vm_set_privileged(c, true), 0);
	assert_int_equal(vmmu_foreign_map(c, mk_gpa(at), a, mk_gpa(0x9000)), 0);
	back = 0x5eed;
	assert_int_equal(acc(vc, at, W, &back).status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_vm_read_gpa(a, mk_gpa(0x9000), &d, 8), 0);
	assert_int_equal(d, 0x5eed);
	/* Revoke: B loses it at once, its TLB entry included. */
	(void)acc(vb, at, R, &back);
	assert_true(acc(vb, at, R, &back).tlb_hit);
	assert_int_equal(vmmu_grant_revoke(a, ro), 0);
	r = acc(vb, at, R, &back);
	assert_false(r.tlb_hit);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_UNMAPPED);
	assert_int_equal(leaf(b, at, NULL), 0);
	/* Destroying A unmaps the foreign frame from C. */
	assert_true(acc(vc, at, R, &back).tlb_hit);
	vmmu_vm_destroy(a);
	assert_int_equal(leaf(c, at, NULL), 0);
	r = acc(vc, at, R, &back);
	assert_false(r.tlb_hit);
	assert_int_equal(r.reason, VMMU_REASON_UNMAPPED);
	vmmu_vm_destroy(b);
	vmmu_vm_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partial_change_splits),
		cmocka_unit_test(test_lazy_change),
		cmocka_unit_test(test_grants_and_foreign),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
