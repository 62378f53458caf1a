/* SPDX-License-Identifier: MIT */
/*
 * The 2-D walk driver (core/nested.c) with a nested dimension built by the
 * engine in the x86 format and walked here by a minimal nested walker: the
 * reference count of a cold 4-level over 4-level walk is 24 (Bhargava et
 * al., ASPLOS 2008: (n+1)(m+1)-1), exits on guest page-table pages carry
 * the guest-table flag, and the guest-physical TLB and the nested
 * paging-structure caches shorten later walks.
 */
#include "vmmu/access.h"
#include "core/pgtable.h"
#include "core/pt_x86.h"
#include "core/tlb.h"
#include "walk/walk_fixture.h"

static struct vmmu_pt npt;
static const struct vmmu_pt_x86_ctx npt_ctx = { .user = true, .nx = true };
static unsigned exits_guest_pt, exits_final;

static unsigned fake_levels(const struct vmmu_vcpu *vcpu)
{
	(void)vcpu;
	return 4;
}

/* A nested walk as the CPU does it: one reference per level. */
static int fake_walk(struct vmmu_vcpu *vcpu, gpa_t gpa,
		     enum vmmu_access_kind kind, bool guest_pt,
		     const struct vmmu_access *acc,
		     const struct vmmu_tlb_pwc_hit *start,
		     struct vmmu_nested_walk *out)
{
	uint64_t table = start ? start->table : npt.root.v;
	unsigned level = start ? start->level : 4;
	uint8_t prot = start ? start->rights : VMMU_PROT_RWX;

	(void)acc;
	for (;; level--) {
		const uint64_t *t = vcpu->vm->platform.map(vcpu->vm->platform.ctx,
							   mk_hpa(table));
		uint64_t e = t[vmmu_pt_index(gpa.v, level)];
		uint64_t size = vmmu_pt_level_size(level);

		out->refs++;
		if (!(e & X86_PTE_P)) {
			out->exit.kind = VMMU_EXIT_NPF;
			out->exit.gpa = gpa;
			out->exit.exitinfo1 = (guest_pt ? 1ULL << 33 : 1ULL << 32) |
				(kind == VMMU_ACCESS_WRITE ? 2 : 0) | 4;
			out->exit.exitinfo2 = gpa.v;
			return 0;
		}
		if (!(e & X86_PTE_RW))
			prot &= (uint8_t)~VMMU_PROT_W;
		if (level == 1 || (e & X86_PTE_PS)) {
			out->ok = true;
			out->hpa = mk_hpa((e & X86_PTE_ADDR_MASK & ~(size - 1)) +
					  (gpa.v & (size - 1)));
			out->page_size = size;
			out->prot = prot;
			return 0;
		}
		table = e & X86_PTE_ADDR_MASK;
		out->table_level[out->ntables] = (uint8_t)level;
		out->table_hpa[out->ntables] = mk_hpa(table);
		out->table_prot[out->ntables++] = prot;
	}
}

static const struct vmmu_nested_ops fake_ops = {
	.walk = fake_walk, .levels = fake_levels,
};

static int fake_hw_walk(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
			struct vmmu_hw_walk *out)
{
	return vmmu_nested_hw_walk(vcpu, &fake_ops, acc, out);
}

/* First touch: back the 4 KiB page and map it in the nested tables. */
static int fake_exit(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
		     const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	struct vmmu_ram_page rp;
	uint64_t gfn = exit->gpa.v & VMMU_PAGE_MASK;
	int rc = vmmu_vm_ram_lookup(vcpu->vm, mk_gpa(gfn), true, &rp);

	(void)op;
	if (rc < 0)
		return rc;
	if (exit->guest_pt)
		exits_guest_pt++;
	else
		exits_final++;
	rc = vmmu_pt_map(&npt, gfn, rp.hpa, VMMU_PAGE_SIZE,
			 vmmu_pt_x86_prot_attrs(&npt_ctx, VMMU_PROT_RWX), NULL);
	res->action = VMMU_ACT_RETRY;
	return rc;
}

static const struct vmmu_backend_ops fake_backend = {
	.name = "fake-npt",
	.hw_walk = fake_hw_walk,
	.handle_exit = fake_exit,
};

static int nt_setup(void **state)
{
	struct fx *f;

	exits_guest_pt = exits_final = 0;
	if (fx_setup((void **)&f) < 0 ||
	    vmmu_vm_set_backend(f->vm, VMMU_BACKEND_NONE, &fake_backend) < 0 ||
	    vmmu_pt_init(&npt, &vmmu_pt_format_x86, &npt_ctx, &f->plat, 4,
			 VMMU_PT_LEVEL_2M) < 0)
		return -1;
	*state = f;
	return 0;
}

static int nt_teardown(void **state)
{
	vmmu_pt_destroy(&npt);
	return fx_teardown(state);
}

static struct vmmu_vcpu *nt_vcpu(struct fx *f, bool caches)
{
	struct vmmu_tlb_config cfg;
	struct vmmu_vcpu *v;

	assert_int_equal(vmmu_vcpu_create(f->vm, &v), 0);
	if (!caches) {
		assert_int_equal(vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_INTEL), 0);
		memset(cfg.tlb, 0, sizeof(cfg.tlb));
		memset(&cfg.gpa_tlb, 0, sizeof(cfg.gpa_tlb));
		memset(cfg.pwc, 0, sizeof(cfg.pwc));
		memset(cfg.npwc, 0, sizeof(cfg.npwc));
		cfg.tlb[VMMU_TLB_L1D_4K] = (struct vmmu_tlb_geom){ 1, 1 };
		assert_int_equal(vmmu_vcpu_tlb_configure(v, &cfg), 0);
	}
	fx_long(f, false, 48);
	v->paging = f->ps;
	assert_int_equal(vmmu_vcpu_set_cr(v, VMMU_CR3, FX_CR3), 0);
	return v;
}

static struct vmmu_access_result nt_read(struct vmmu_vcpu *v, uint64_t gva)
{
	uint64_t data;
	struct vmmu_op op = { .acc = { mk_gva(gva), R, 3, false }, .size = 8,
			      .data = &data };
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vcpu_access(v, &op, &r), 0);
	return r;
}

static void test_cold_walk_24_refs(void **state)
{
	struct fx *f = *state;
	struct vmmu_vcpu *v;
	struct vmmu_access_result r;
	uint64_t g, n;

	fx_long(f, false, 48);
	fx_map4k(f, 0x40000000, PRWU, 0x300000);
	v = nt_vcpu(f, false);
	/* First access: every guest table and the data page exit once. */
	r = nt_read(v, 0x40000000);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(exits_guest_pt, 4);
	assert_int_equal(exits_final, 1);
	/* Now mapped: a cold walk with no caches makes 4 + 4 x 5 references. */
	assert_int_equal(vmmu_vcpu_invlpg(v, mk_gva(0x40000000)), 0);
	g = v->stats.guest_walk_refs;
	n = v->stats.nested_walk_refs;
	r = nt_read(v, 0x40000008);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_false(r.tlb_hit);
	assert_int_equal(v->stats.guest_walk_refs - g, 4);
	assert_int_equal(v->stats.nested_walk_refs - n, 20);
	assert_int_equal(r.gpa.v, 0x300008);
}

static void test_caches_cut_references(void **state)
{
	struct fx *f = *state;
	struct vmmu_vcpu *v;
	uint64_t g, n;

	fx_long(f, false, 48);
	fx_map4k(f, 0x40000000, PRWU, 0x300000);
	fx_map4k(f, 0x40001000, PRWU, 0x301000);
	v = nt_vcpu(f, true);
	assert_int_equal(nt_read(v, 0x40000000).status, VMMU_ACCESS_DONE);
	assert_int_equal(nt_read(v, 0x40001000).status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_vcpu_invlpg(v, mk_gva(0x40001000)), 0);
	/* INVLPG drops the guest PWC of this PCID, not the nested caches. */
	g = v->stats.guest_walk_refs;
	n = v->stats.nested_walk_refs;
	assert_int_equal(nt_read(v, 0x40001000).status, VMMU_ACCESS_DONE);
	assert_int_equal(v->stats.guest_walk_refs - g, 4);
	assert_int_equal(v->stats.nested_walk_refs - n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cold_walk_24_refs, nt_setup, nt_teardown),
		cmocka_unit_test_setup_teardown(test_caches_cut_references, nt_setup, nt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
