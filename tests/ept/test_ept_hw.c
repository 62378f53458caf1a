/* SPDX-License-Identifier: MIT */
/*
 * The hardware side of EPT against the SDM and kvm-unit-tests' EPT access
 * tests (x86/vmx_tests.c, ept_access_test_*): every access kind x EPT
 * entry rights x level x final-vs-guest-table access gives the exit
 * qualification of SDM Vol. 3C Table 28-7 or the misconfiguration of
 * 29.3.3.1; reserved bits per level misconfigure, ignored bits change
 * nothing; A/D setting (29.3.5) and PML logging (29.3.6); reference counts
 * of cold 2-D walks (Bhargava et al.: 24 for 4x4, 35 for 5x5).
 */
#include "ept_fixture.h"
#include "ept/ept_internal.h"
#include "vmmu/dirty.h"

#define QR  0x1ULL
#define QW  0x2ULL
#define QX  0x4ULL
#define QGLA 0x80ULL
#define QFIN 0x100ULL

static const uint8_t perms[] = { 0, 1, 3, 5, 7, 4 };  /* -, R, RW, RX, RWX, X */

static void setup_mapped(struct ef *f, bool ad, bool xonly, unsigned data_level)
{
	struct vmmu_ept_caps caps = {
		.ad = ad, .execute_only = xonly, .page_2m = true,
		.page_1g = true, .maxphyaddr = 46,
	};
	unsigned l;

	ef_setup(f, &caps, 5, false);
	ef_guest_tables(f, 0x60);
	for (l = 4; l >= 1; l--)
		ef_map(f, EF_TABLE(l), 1);
	ef_map(f, EF_DATA, data_level);
}

/*
 * The expected outcome (SDM Table 28-7 and 29.3.3): 0 OK, 1 violation
 * with *qual, 2 misconfiguration.
 */
static int expect(enum vmmu_access_kind kind, uint8_t p, bool final, bool ad,
		  bool xonly, uint64_t *qual)
{
	uint8_t need;
	uint64_t acc;

	if (final) {
		need = kind == W ? 2 : kind == X ? 4 : 1;
		acc = kind == W ? QW : kind == X ? QX : QR;
	} else {
		/* guest paging-structure reads count as writes with EPT A/D */
		need = ad ? 2 : 1;
		acc = ad ? QR | QW : QR;
	}
	if (p && (p & 7) == 4 && !xonly)
		return 2;
	if (p && (p & need) == need)
		return 0;
	*qual = acc | (uint64_t)p << 3 | QGLA | (final ? QFIN : 0);
	return 1;
}

static void check_case(struct ef *f, unsigned level, uint8_t p,
		       unsigned target, enum vmmu_access_kind kind, bool ad,
		       bool xonly)
{
	uint64_t tgpa = target ? ef_gpte(target) : EF_DATA + 0x10;
	uint64_t *e = ef_entry(f, target ? EF_TABLE(target) : EF_DATA, level);
	uint64_t saved, qual = 0;
	struct vmmu_hw_walk out;
	int want;

	if (!e)
		return;     /* below a large leaf */
	saved = *e;
	*e = (saved & ~7ULL) | p;
	out = ef_walk(f, EF_GVA + 0x10, kind);
	*e = saved;
	want = expect(kind, p, target == 0, ad, xonly, &qual);
	if (want == 0) {
		assert_int_equal(out.status, VMMU_HW_OK);
		assert_int_equal(out.gpa.v, EF_DATA + 0x10);
		return;
	}
	assert_int_equal(out.status, VMMU_HW_EXIT);
	assert_int_equal(out.exit.gpa.v, tgpa);
	if (want == 2) {
		assert_int_equal(out.exit.kind, VMMU_EXIT_EPT_MISCONFIG);
		return;
	}
	if (out.exit.kind != VMMU_EXIT_EPT_VIOLATION ||
	    out.exit.qualification != qual)
		fail_msg("level %u rights %u target %u kind %d ad %d: kind %d qual %#llx, want %#llx",
			 level, p, target, kind, ad, out.exit.kind,
			 (unsigned long long)out.exit.qualification,
			 (unsigned long long)qual);
	assert_int_equal(out.exit.gva.v, EF_GVA + 0x10);
	assert_int_equal(out.exit.guest_pt, target != 0);
}

static void matrix(bool ad, bool xonly, unsigned data_level)
{
	struct ef f;
	unsigned level, i, target;
	int kind;

	setup_mapped(&f, ad, xonly, data_level);
	for (level = 1; level <= 4; level++)
		for (i = 0; i < sizeof(perms); i++)
			for (target = 0; target <= 4; target++)
				for (kind = R; kind <= X; kind++)
					check_case(&f, level, perms[i], target,
						   (enum vmmu_access_kind)kind,
						   ad, xonly);
	ef_teardown(&f);
}

static void test_qual_4k(void **state)
{
	(void)state;
	matrix(false, true, 1);
	matrix(true, true, 1);
	matrix(false, false, 1);
}

static void test_qual_large_leaves(void **state)
{
	(void)state;
	matrix(false, true, 2);
	matrix(true, true, 3);
}

/* Bochs tigerlake under vmmu-hv (docs/hypervisor.md): the same exits. */
static void test_bochs_qualifications(void **state)
{
	struct ef f;
	struct vmmu_hw_walk out;
	uint64_t *e;

	(void)state;
	setup_mapped(&f, false, true, 1);
	/* unmapped final gpa, read: 0x181 */
	e = ef_entry(&f, EF_DATA, 1);
	*e = 0;
	out = ef_walk(&f, EF_GVA, R);
	assert_int_equal(out.exit.qualification, 0x181);
	ef_map(&f, EF_DATA, 1);
	/* unmapped guest PDE page, read: 0x81 */
	e = ef_entry(&f, EF_TABLE(2), 1);
	*e = 0;
	out = ef_walk(&f, EF_GVA, R);
	assert_int_equal(out.exit.qualification, 0x81);
	assert_int_equal(out.exit.gpa.v, ef_gpte(2));
	ef_map(&f, EF_TABLE(2), 1);
	/* write to an R-X page: 0x1aa */
	e = ef_entry(&f, EF_DATA, 1);
	*e &= ~EPT_W;
	out = ef_walk(&f, EF_GVA, W);
	assert_int_equal(out.exit.qualification, 0x1aa);
	ef_teardown(&f);
}

/* kvm-unit-tests ept_access_test_paddr_read_only_ad_disabled: the guest's
 * own A/D write to a read-only table page reports read and write. */
static void test_guest_ad_write_to_readonly_table(void **state)
{
	struct ef f;
	struct vmmu_hw_walk out;
	uint64_t *e;

	(void)state;
	setup_mapped(&f, false, true, 1);
	e = ef_entry(&f, EF_TABLE(1), 1);
	*e &= ~EPT_W;               /* the PT page read-only */
	ef_guest_tables(&f, 0);     /* A and D clear everywhere */
	out = ef_walk(&f, EF_GVA, R);
	assert_int_equal(out.status, VMMU_HW_EXIT);
	assert_int_equal(out.exit.qualification, QR | QW | 5 << 3 | QGLA);
	assert_int_equal(out.exit.gpa.v, ef_gpte(1));
	ef_guest_tables(&f, 0x20);  /* A set, D clear: a read passes */
	assert_int_equal(ef_walk(&f, EF_GVA, R).status, VMMU_HW_OK);
	out = ef_walk(&f, EF_GVA, W);
	assert_int_equal(out.exit.qualification, QR | QW | 5 << 3 | QGLA);
	ef_guest_tables(&f, 0x60);
	assert_int_equal(ef_walk(&f, EF_GVA, W).status, VMMU_HW_OK);
	ef_teardown(&f);
}

static void expect_misconfig(struct ef *f, uint64_t gpa, unsigned level,
			     uint64_t set, uint64_t clear, bool bad)
{
	uint64_t *e = ef_entry(f, gpa, level), saved;
	struct vmmu_hw_walk out;

	assert_non_null(e);
	saved = *e;
	*e = (saved & ~clear) | set;
	out = ef_walk(f, EF_GVA, R);
	*e = saved;
	if (bad) {
		if (out.status != VMMU_HW_EXIT ||
		    out.exit.kind != VMMU_EXIT_EPT_MISCONFIG)
			fail_msg("level %u set %#llx clear %#llx: no misconfiguration",
				 level, (unsigned long long)set,
				 (unsigned long long)clear);
	} else if (out.status != VMMU_HW_OK || out.gpa.v != EF_DATA) {
		fail_msg("level %u set %#llx: ignored bit changed the walk",
			 level, (unsigned long long)set);
	}
}

static void test_misconfigurations(void **state)
{
	struct ef f;
	unsigned level, b;

	(void)state;
	setup_mapped(&f, true, false, 1);
	for (level = 1; level <= 4; level++) {
		expect_misconfig(&f, EF_DATA, level, EPT_W, EPT_R, true);
		expect_misconfig(&f, EF_DATA, level, EPT_W | EPT_X, EPT_R, true);
		expect_misconfig(&f, EF_DATA, level, EPT_X, EPT_R | EPT_W, true);
		expect_misconfig(&f, EF_DATA, level, 1ULL << 46, 0, true);
		expect_misconfig(&f, EF_DATA, level, 1ULL << 51, 0, true);
		for (b = 52; b <= 62; b++)
			expect_misconfig(&f, EF_DATA, level, 1ULL << b, 0, false);
		expect_misconfig(&f, EF_DATA, level, 1ULL << 11, 0, false);
		expect_misconfig(&f, EF_DATA, level, EPT_XU, 0, false);
	}
	for (b = 3; b <= 7; b++)
		expect_misconfig(&f, EF_DATA, 4, 1ULL << b, 0, true);
	for (level = 2; level <= 3; level++) {
		for (b = 3; b <= 6; b++)
			expect_misconfig(&f, EF_DATA, level, 1ULL << b, 0, true);
		expect_misconfig(&f, EF_DATA, level, 1ULL << 9, 0, false);
	}
	/* PTE: memory types 2, 3, 7 misconfigure; bit 7 is ignored. */
	for (b = 0; b < 8; b++)
		expect_misconfig(&f, EF_DATA, 1, (uint64_t)b << 3, EPT_MEMTYPE,
				 b == 2 || b == 3 || b == 7);
	expect_misconfig(&f, EF_DATA, 1, EPT_PS, 0, false);
	expect_misconfig(&f, EF_DATA, 1, EPT_IPAT, 0, false);
	ef_teardown(&f);
	/* A 2 MiB leaf: address bits 20:12 reserved, memory type checked. */
	setup_mapped(&f, false, true, 2);
	for (b = 12; b <= 20; b++)
		expect_misconfig(&f, EF_DATA, 2, 1ULL << b, 0, true);
	expect_misconfig(&f, EF_DATA, 2, 2ULL << 3, EPT_MEMTYPE, true);
	expect_misconfig(&f, EF_DATA, 2, 0, 0, false);
	ef_teardown(&f);
}

/* A 1 GiB leaf without the capability: bit 7 of a PDPTE is reserved. */
static void test_1g_without_capability(void **state)
{
	struct ef f;
	uint64_t *e;
	struct vmmu_hw_walk out;

	(void)state;
	setup_mapped(&f, false, true, 3);
	((struct ept_vm *)f.vm->backend_state)->caps.page_1g = false;
	e = ef_entry(&f, EF_DATA, 3);
	assert_true(*e & EPT_PS);
	out = ef_walk(&f, EF_GVA, R);
	assert_int_equal(out.exit.kind, VMMU_EXIT_EPT_MISCONFIG);
	ef_teardown(&f);
}

static void test_ad_flags(void **state)
{
	struct ef f;
	unsigned l;

	(void)state;
	setup_mapped(&f, true, true, 1);
	assert_true(vmmu_ept_eptp(f.vm) & EPTP_AD);
	assert_int_equal(ef_walk(&f, EF_GVA, R).status, VMMU_HW_OK);
	for (l = 4; l >= 1; l--)
		assert_true(*ef_entry(&f, EF_DATA, l) & EPT_A);
	assert_false(*ef_entry(&f, EF_DATA, 1) & EPT_D);
	/* guest paging structures were written as far as EPT knows */
	for (l = 4; l >= 1; l--)
		assert_true(*ef_entry(&f, EF_TABLE(l), 1) & EPT_D);
	assert_int_equal(ef_walk(&f, EF_GVA, W).status, VMMU_HW_OK);
	assert_true(*ef_entry(&f, EF_DATA, 1) & EPT_D);
	ef_teardown(&f);
	/* Without A/D enabled nothing is set. */
	setup_mapped(&f, false, true, 1);
	assert_false(vmmu_ept_eptp(f.vm) & EPTP_AD);
	assert_int_equal(ef_walk(&f, EF_GVA, W).status, VMMU_HW_OK);
	assert_false(*ef_entry(&f, EF_DATA, 1) & (EPT_A | EPT_D));
	ef_teardown(&f);
}

static void test_cold_refs_4x4(void **state)
{
	struct ef f;
	struct vmmu_hw_walk out;

	(void)state;
	setup_mapped(&f, true, true, 1);
	out = ef_walk(&f, EF_GVA, R);
	assert_int_equal(out.status, VMMU_HW_OK);
	assert_int_equal(out.guest_refs + out.nested_refs, 24);
	assert_int_equal((vmmu_ept_eptp(f.vm) >> 3) & 7, 3);
	ef_teardown(&f);
}

/* 5-level guest paging over a 5-level EPT walk: 35 references. */
static void test_cold_refs_5x5(void **state)
{
	struct vmmu_ept_caps caps = { .walk5 = true, .ad = true,
				      .execute_only = true, .page_2m = true,
				      .page_1g = true, .maxphyaddr = 52 };
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *v;
	struct vmmu_tlb_config cfg;
	struct vmmu_access acc = { mk_gva(0x1000), R, 0, false };
	struct vmmu_hw_walk out;
	struct vmmu_access_result r;
	uint64_t l, data = 0;
	struct vmmu_op op = { .acc = acc, .size = 8, .data = &data };

	(void)state;
	assert_int_equal(vmmu_hosted_create(64ULL << 20, &arena), 0);
	vmmu_hosted_platform(arena, &plat);
	assert_int_equal(vmmu_vm_create(&plat, &vm), 0);
	vm->guest_maxphyaddr = 52;
	assert_int_equal(vmmu_vm_set_backend(vm, VMMU_BACKEND_EPT, &vmmu_backend_ept), 0);
	assert_int_equal(vmmu_ept_configure(vm, &caps), 0);
	assert_int_equal((vmmu_ept_eptp(vm) >> 3) & 7, 4);
	{
		struct vmmu_slot_desc d = { .base = mk_gpa(0), .size = 8ULL << 20,
					    .type = VMMU_MEM_RAM,
					    .max_order = VMMU_ORDER_4K,
					    .memtype = VMMU_MEMTYPE_DEFAULT };

		assert_int_equal(vmmu_vm_add_slot_ex(vm, &d), 0);
	}
	/* PML5 at 0x10000, then PML4 .. PT at 0x11000.., all index 0 */
	for (l = 0; l < 5; l++) {
		uint64_t e = (0x11000 + l * 0x1000) | 0x67;

		assert_int_equal(vmmu_vm_write_gpa(vm, mk_gpa(0x10000 + l * 0x1000 +
			(l == 4 ? 8 : 0)), &e, 8), 0);
	}
	assert_int_equal(vmmu_vcpu_create(vm, &v), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.tlb[VMMU_TLB_L1D_4K] = (struct vmmu_tlb_geom){ 1, 1 };
	assert_int_equal(vmmu_vcpu_tlb_configure(v, &cfg), 0);
	v->paging.cr0 = X86_CR0_PG | X86_CR0_PE;
	v->paging.cr4 = X86_CR4_PAE | X86_CR4_LA57;
	v->paging.efer = X86_EFER_LME | X86_EFER_LMA;
	v->paging.maxphyaddr = 52;
	vmmu_paging_update(&v->paging);
	assert_int_equal(vmmu_vcpu_set_cr(v, VMMU_CR3, 0x10000), 0);
	/* the access path populates every page it needs through exits */
	assert_int_equal(vmmu_vcpu_access(v, &op, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	vmmu_tlb_flush_all(v->tlb);
	memset(&out, 0, sizeof(out));
	assert_int_equal(vm->ops->hw_walk(v, &acc, &out), 0);
	assert_int_equal(out.status, VMMU_HW_OK);
	assert_int_equal(out.guest_refs + out.nested_refs, 35);
	vmmu_vm_destroy(vm);
	vmmu_hosted_destroy(arena);
}

static void test_pml(void **state)
{
	struct vmmu_ept_caps caps = { .ad = true, .pml = true,
				      .execute_only = true, .page_2m = true,
				      .page_1g = true, .maxphyaddr = 46 };
	struct ef f;
	struct ept_vcpu *ev;
	const uint64_t *log;
	uint64_t v = 1, i;
	struct vmmu_access_result r;

	(void)state;
	ef_setup(&f, &caps, 5, true);
	ef_guest_tables(&f, 0x60);
	/* map everything now (first touches), with D clear afterwards */
	assert_int_equal(vmmu_vcpu_write(f.vcpu, mk_gva(EF_GVA), &v, 8, 0, &r), 0);
	assert_int_equal(vmmu_dirty_mode(f.vm), VMMU_DIRTY_PML);
	assert_int_equal(vmmu_dirty_enable_ram(f.vm), 0);
	ev = f.vcpu->backend_state;
	assert_non_null(f.plat.map(f.plat.ctx, ev->pml_page));
	assert_true(ev->pml_enabled);
	assert_int_equal(ev->pml_index, 511);
	assert_int_equal(vmmu_vcpu_write(f.vcpu, mk_gva(EF_GVA), &v, 8, 0, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	log = f.plat.map(f.plat.ctx, ev->pml_page);
	/* D set on the data page and the four guest table pages: 5 logged */
	assert_int_equal(ev->pml_index, 511 - 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(log[511 - i] & 0xfff, 0);
	assert_int_equal(log[511 - 4], EF_DATA);
	/* PML-full: index wrapped; the next D update exits, is drained */
	ev->pml_index = 0xffff;
	*ef_leaf(&f, EF_DATA) &= ~EPT_D;
	vmmu_tlb_flush_all(f.vcpu->tlb);
	assert_int_equal(vmmu_vcpu_write(f.vcpu, mk_gva(EF_GVA), &v, 8, 0, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_ept_stats(f.vm)->pml_full, 1);
	assert_int_equal(ev->pml_index, 510);
	ef_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qual_4k),
		cmocka_unit_test(test_qual_large_leaves),
		cmocka_unit_test(test_bochs_qualifications),
		cmocka_unit_test(test_guest_ad_write_to_readonly_table),
		cmocka_unit_test(test_misconfigurations),
		cmocka_unit_test(test_1g_without_capability),
		cmocka_unit_test(test_ad_flags),
		cmocka_unit_test(test_cold_refs_4x4),
		cmocka_unit_test(test_cold_refs_5x5),
		cmocka_unit_test(test_pml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
