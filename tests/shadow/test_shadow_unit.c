/* SPDX-License-Identifier: MIT */
/*
 * Directed cases of the shadow backend: a page-table write trapped and
 * emulated, write flooding and a misaligned write unshadowing the page,
 * paging off, MMIO through the device model, warm CR3 switches, shadows
 * shared by two vCPUs, CR0.WP = 0, and a slot removal dropping shadows.
 */
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "shadow-fallback/shadow.h"
#include "walk/walk_fixture.h"

#define MMIO_BASE 0x10000000ULL
#define PT_GVA    0x40000000ULL   /* maps the page table of 0x400000 */

struct ux {
	struct fx *f;
	struct vmmu_vcpu *vcpu;
	unsigned mmio_calls;
};

static struct ux ux_state;

static int ux_mmio(void *ctx, gpa_t gpa, bool write, void *data, unsigned size)
{
	struct ux *u = ctx;

	(void)gpa;
	u->mmio_calls++;
	if (!write)
		memset(data, 0x5a, size);
	return 0;
}

static int ux_setup(void **state)
{
	struct ux *u = &ux_state;

	memset(u, 0, sizeof(*u));
	if (fx_setup((void **)&u->f) < 0 ||
	    vmmu_vm_add_slot(u->f->vm, mk_gpa(MMIO_BASE), 0x1000, VMMU_MEM_MMIO) < 0 ||
	    vmmu_vm_set_backend(u->f->vm, VMMU_BACKEND_SHADOW, &vmmu_backend_shadow) < 0 ||
	    vmmu_vcpu_create(u->f->vm, &u->vcpu) < 0)
		return -1;
	*state = u;
	return 0;
}

static int ux_teardown(void **state)
{
	struct ux *u = *state;

	return fx_teardown((void **)&u->f);
}

static struct vmmu_shadow_stats ux_stats(struct ux *u)
{
	struct vmmu_shadow_stats s;

	assert_int_equal(vmmu_shadow_stats(u->f->vm, &s), 0);
	return s;
}

static void ux_check(struct ux *u)
{
	const char *why = NULL;

	if (vmmu_shadow_check(u->f->vm, &why) < 0)
		fail_msg("%s", why);
}

/* The fixture's registers into the vCPU, through the event path. */
static void ux_long(struct ux *u, uint64_t cr0)
{
	struct vmmu_paging_state *ps = &u->vcpu->paging;

	fx_long(u->f, false, 48);
	ps->maxphyaddr = 48;
	assert_int_equal(vmmu_vcpu_set_cr(u->vcpu, VMMU_EFER, u->f->ps.efer), 0);
	assert_int_equal(vmmu_vcpu_set_cr(u->vcpu, VMMU_CR4, u->f->ps.cr4), 0);
	assert_int_equal(vmmu_vcpu_set_cr(u->vcpu, VMMU_CR3, FX_CR3), 0);
	assert_int_equal(vmmu_vcpu_set_cr(u->vcpu, VMMU_CR0, cr0), 0);
}

static struct vmmu_access_result ux_do(struct ux *u, struct vmmu_vcpu *v,
				       uint64_t gva, enum vmmu_access_kind kind,
				       unsigned cpl, unsigned size, uint64_t *data)
{
	struct vmmu_op op = { .acc = { mk_gva(gva), kind, (uint8_t)cpl, false },
			      .size = size, .data = data };
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vcpu_access(v ? v : u->vcpu, &op, &r), 0);
	return r;
}

/* The PTE gpa of 0x400000 in the fixture's tables, and a map of it. */
static uint64_t ux_pt_setup(struct ux *u)
{
	uint64_t pte_table;

	fx_map4k(u->f, 0x400000, PRWU | A | D, 0x200000);
	/* PML4[0] -> PDPT, PDPT[0] -> PD, PD[2] -> PT */
	pte_table = rd(u->f, rd(u->f, FX_CR3, 8) & ~0xfffULL, 8) & ~0xfffULL;
	pte_table = rd(u->f, pte_table + 2 * 8, 8) & ~0xfffULL;
	fx_map4k(u->f, PT_GVA, PRWU | A | D, pte_table);
	return pte_table;
}

static void test_pt_write_emulated_then_flood(void **state)
{
	struct ux *u = *state;
	uint64_t pt, v = 0, e;
	struct vmmu_access_result r;
	struct vmmu_shadow_stats s0, s1;

	ux_long(u, CR0_PG_PE_WP);
	pt = ux_pt_setup(u);
	r = ux_do(u, NULL, 0x400000, R, 3, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	s0 = ux_stats(u);
	/* A write to the PTE page: trapped, emulated, revalidated. */
	e = 0x201000 | PRWU;
	r = ux_do(u, NULL, PT_GVA + 8, W, 3, 8, &e);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(r.emulated);
	assert_int_equal(r.gpa.v, pt + 8);
	assert_int_equal(rd(u->f, pt + 8, 8), e);
	s1 = ux_stats(u);
	assert_int_equal(s1.emulated_writes, s0.emulated_writes + 1);
	ux_check(u);
	/* The new mapping works at once (the shadow was revalidated). */
	r = ux_do(u, NULL, 0x401000, R, 3, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	/* Writes with no walk through the page: flooding, unshadowed. */
	for (unsigned i = 0; i < 4; i++) {
		e = 0x202000 | PRWU;
		r = ux_do(u, NULL, PT_GVA + 16, W, 3, 8, &e);
		assert_int_equal(r.status, VMMU_ACCESS_DONE);
	}
	s1 = ux_stats(u);
	assert_true(s1.unshadowed >= 1);
	assert_true(s1.emulated_writes < s0.emulated_writes + 5);
	ux_check(u);
	/* Used as a page table again: shadowed again, and correct. */
	r = ux_do(u, NULL, 0x402000, R, 3, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_vcpu_invlpg(u->vcpu, mk_gva(0x400000)), 0);
	r = ux_do(u, NULL, 0x400000, R, 3, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	ux_check(u);
}

static void test_misaligned_pt_write_unshadows(void **state)
{
	struct ux *u = *state;
	uint64_t v = 0, e = 0;
	struct vmmu_access_result r;
	struct vmmu_shadow_stats s0;

	ux_long(u, CR0_PG_PE_WP);
	(void)ux_pt_setup(u);
	r = ux_do(u, NULL, 0x400000, R, 3, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	s0 = ux_stats(u);
	/* 8 bytes across two PTEs (offset 0x1c, entries 3 and 4). */
	r = ux_do(u, NULL, PT_GVA + 0x1c, W, 3, 8, &e);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(ux_stats(u).unshadowed > s0.unshadowed);
	ux_check(u);
}

static void test_paging_off_and_mmio(void **state)
{
	struct ux *u = *state;
	uint64_t v = 0x1122334455667788ULL, back = 0;
	struct vmmu_access_result r;
	hpa_t hpa;

	r = ux_do(u, NULL, 0x300008, W, 0, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_vm_gpa_to_hpa(u->f->vm, mk_gpa(0x300008), &hpa), 0);
	assert_int_equal(r.hpa.v, hpa.v);
	r = ux_do(u, NULL, 0x300008, R, 0, 8, &back);
	assert_int_equal(back, v);
	ux_long(u, CR0_PG_PE_WP);
	fx_map4k(u->f, 0x600000, PRWU, MMIO_BASE);
	r = ux_do(u, NULL, 0x600010, R, 3, 8, &back);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_MMIO);
	assert_int_equal(r.gpa.v, MMIO_BASE + 0x10);
	vmmu_vm_set_mmio_handler(u->f->vm, ux_mmio, u);
	r = ux_do(u, NULL, 0x600010, R, 3, 8, &back);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(r.emulated);
	assert_int_equal(back, 0x5a5a5a5a5a5a5a5aULL);
	r = ux_do(u, NULL, 0x600010, W, 3, 8, &back);
	assert_int_equal(u->mmio_calls, 2);     /* never cached */
	ux_check(u);
}

static void test_warm_cr3_switch_and_second_vcpu(void **state)
{
	struct ux *u = *state;
	struct vmmu_vcpu *v2;
	uint64_t v = 0, root2 = 0x3000;
	struct vmmu_access_result r;
	struct vmmu_shadow_stats s0, s1;

	ux_long(u, CR0_PG_PE_WP);
	fx_map4k(u->f, 0x400000, PRWU, 0x200000);
	/* A second address space sharing the PDPT (like a fork of the top). */
	wr(u->f, root2, rd(u->f, FX_CR3, 8), 8);
	r = ux_do(u, NULL, 0x400000, R, 3, 8, &v);
	assert_int_equal(vmmu_vcpu_set_cr(u->vcpu, VMMU_CR3, root2), 0);
	r = ux_do(u, NULL, 0x400000, R, 3, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	s0 = ux_stats(u);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(vmmu_vcpu_set_cr(u->vcpu, VMMU_CR3,
						  i & 1 ? root2 : FX_CR3), 0);
		r = ux_do(u, NULL, 0x400000, R, 3, 8, &v);
		assert_int_equal(r.status, VMMU_ACCESS_DONE);
		assert_false(r.tlb_hit);
	}
	s1 = ux_stats(u);
	assert_int_equal(s1.fills, s0.fills);   /* warm: no shadow #PF */
	assert_int_equal(s1.root_switches, s0.root_switches + 4);
	/* A second vCPU on the same CR3 finds the shadows made. */
	assert_int_equal(vmmu_shadow_set_pool_pages(u->f->vm, 0), 0);
	assert_int_equal(vmmu_vcpu_create(u->f->vm, &v2), 0);
	v2->paging = u->vcpu->paging;
	r = ux_do(u, v2, 0x400000, R, 3, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(ux_stats(u).fills, s1.fills);
	ux_check(u);
}

/* CR0.WP = 0: a supervisor write to a read-only page succeeds, emulated. */
static void test_wp0_supervisor_write(void **state)
{
	struct ux *u = *state;
	uint64_t v = 42, back = 0;
	struct vmmu_access_result r;

	ux_long(u, CR0_PG_PE);
	fx_map4k(u->f, 0x400000, P | US, 0x200000);
	r = ux_do(u, NULL, 0x400000, W, 0, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(r.emulated);
	assert_int_equal(rd(u->f, 0x200000, 8), 42);
	assert_true(ux_stats(u).other_emulated >= 1);
	r = ux_do(u, NULL, 0x400000, W, 3, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_FAULT);
	assert_int_equal(r.fault.error_code, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U);
	r = ux_do(u, NULL, 0x400000, R, 3, 8, &back);
	assert_int_equal(back, 42);
	ux_check(u);
}

static void test_slot_removal_drops(void **state)
{
	struct ux *u = *state;
	uint64_t v = 0;
	struct vmmu_access_result r;
	struct vmmu_shadow_stats s0;

	ux_long(u, CR0_PG_PE_WP);
	assert_int_equal(vmmu_vm_add_slot(u->f->vm, mk_gpa(0x20000000), 0x200000,
					  VMMU_MEM_RAM), 0);
	fx_map4k(u->f, 0x400000, PRWU, 0x20000000);
	r = ux_do(u, NULL, 0x400000, W, 3, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	s0 = ux_stats(u);
	assert_int_equal(vmmu_vm_remove_slot(u->f->vm, mk_gpa(0x20000000)), 0);
	assert_int_equal(ux_stats(u).drops, s0.drops + 1);
	ux_check(u);
	r = ux_do(u, NULL, 0x400000, W, 3, 8, &v);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_UNMAPPED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pt_write_emulated_then_flood, ux_setup, ux_teardown),
		cmocka_unit_test_setup_teardown(test_misaligned_pt_write_unshadows, ux_setup, ux_teardown),
		cmocka_unit_test_setup_teardown(test_paging_off_and_mmio, ux_setup, ux_teardown),
		cmocka_unit_test_setup_teardown(test_warm_cr3_switch_and_second_vcpu, ux_setup, ux_teardown),
		cmocka_unit_test_setup_teardown(test_wp0_supervisor_write, ux_setup, ux_teardown),
		cmocka_unit_test_setup_teardown(test_slot_removal_drops, ux_setup, ux_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
