/* SPDX-License-Identifier: MIT */
/*
 * A VM on the NPT backend for the tests: guest RAM [0, 16 MiB), ROM
 * [16 MiB, 18 MiB), MMIO [32 MiB, +4 KiB), the walk fixture's guest
 * table builder (tables from 0x10000), and a loop that runs one access
 * the way a real VMM would: the hardware side until it exits, then the
 * public #NPF entry point with the raw EXITINFO1/2.
 */
#ifndef VMMU_TESTS_NPT_FIXTURE_H
#define VMMU_TESTS_NPT_FIXTURE_H

#include "vmmu/access.h"
#include "vmmu/npt.h"
#include "core/tlb.h"
#include "npt/npt_backend.h"
#include "walk/walk_fixture.h"

#define NF_RAM      (16ULL << 20)
#define NF_ROM      (16ULL << 20)
#define NF_ROM_SIZE (2ULL << 20)
#define NF_MMIO     (32ULL << 20)

static inline struct npt_vm *nf_npt(struct fx *f)
{
	return npt_of(f->vm);
}

/*
 * A VM with cfg (NULL: defaults), slots as above, guest tables empty;
 * RAM in host blocks of at most 2^ram_order pages.
 */
static inline int nf_create_order(struct fx *f, uint64_t arena,
				  const struct vmmu_npt_config *cfg,
				  unsigned ram_order)
{
	struct vmmu_slot_desc ram = { .base = { 0 }, .size = NF_RAM,
				      .type = VMMU_MEM_RAM,
				      .max_order = (uint8_t)ram_order,
				      .memtype = VMMU_MEMTYPE_DEFAULT };

	memset(f, 0, sizeof(*f));
	if (vmmu_hosted_create(arena, &f->arena) < 0)
		return -1;
	vmmu_hosted_platform(f->arena, &f->plat);
	if (vmmu_vm_create(&f->plat, &f->vm) < 0 ||
	    vmmu_vm_set_backend(f->vm, VMMU_BACKEND_NPT, &vmmu_backend_npt) < 0)
		return -1;
	if (cfg && vmmu_npt_configure(f->vm, cfg) < 0)
		return -1;
	if (vmmu_vm_add_slot_ex(f->vm, &ram) < 0 ||
	    vmmu_vm_add_slot(f->vm, mk_gpa(NF_ROM), NF_ROM_SIZE,
			     VMMU_MEM_ROM) < 0 ||
	    vmmu_vm_add_slot(f->vm, mk_gpa(NF_MMIO), VMMU_PAGE_SIZE,
			     VMMU_MEM_MMIO) < 0)
		return -1;
	vmmu_vm_gmem(f->vm, &f->mem);
	f->next_table = FX_TABLES;
	return 0;
}

static inline int nf_create(struct fx *f, uint64_t arena,
			    const struct vmmu_npt_config *cfg)
{
	return nf_create_order(f, arena, cfg, VMMU_ORDER_1G);
}

static inline void nf_destroy(struct fx *f)
{
	vmmu_vm_destroy(f->vm);
	vmmu_hosted_destroy(f->arena);
}

/* A vCPU in f's paging state; caches false: a one-entry TLB only. */
static inline struct vmmu_vcpu *nf_vcpu(struct fx *f, bool caches)
{
	struct vmmu_tlb_config cfg;
	struct vmmu_vcpu *v;

	assert_int_equal(vmmu_vcpu_create(f->vm, &v), 0);
	if (!caches) {
		assert_int_equal(vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_AMD), 0);
		memset(cfg.tlb, 0, sizeof(cfg.tlb));
		memset(&cfg.gpa_tlb, 0, sizeof(cfg.gpa_tlb));
		memset(cfg.pwc, 0, sizeof(cfg.pwc));
		memset(cfg.npwc, 0, sizeof(cfg.npwc));
		cfg.tlb[VMMU_TLB_L1D_4K] = (struct vmmu_tlb_geom){ 1, 1 };
		assert_int_equal(vmmu_vcpu_tlb_configure(v, &cfg), 0);
	}
	v->paging = f->ps;
	assert_int_equal(vmmu_vcpu_set_cr(v, VMMU_CR3, f->ps.cr3), 0);
	return v;
}

/* One #NPF as a VMM saw it. */
struct nf_exit {
	uint64_t info1, info2;
	enum vmmu_npf_outcome outcome;
};

/*
 * Run acc as a VMM would: hw_walk; on #NPF call vmmu_npt_handle_npf with
 * the raw values and log them; stop on success, a guest fault, or an
 * action other than retry. Returns the number of exits logged.
 */
static inline unsigned nf_run(struct vmmu_vcpu *v, uint64_t gva,
			      enum vmmu_access_kind kind,
			      struct nf_exit *log, unsigned max,
			      struct vmmu_hw_walk *hw_out,
			      struct vmmu_exit_result *res_out)
{
	struct vmmu_access acc = { mk_gva(gva), kind, 0, false };
	struct vmmu_exit_result res;
	struct vmmu_hw_walk hw;
	unsigned n = 0;

	memset(&res, 0, sizeof(res));
	for (;;) {
		memset(&hw, 0, sizeof(hw));
		assert_int_equal(vmmu_backend_npt.hw_walk(v, &acc, &hw), 0);
		if (hw.status != VMMU_HW_EXIT)
			break;
		assert_int_equal(hw.exit.kind, VMMU_EXIT_NPF);
		assert_true(n < max);
		log[n].info1 = hw.exit.exitinfo1;
		log[n].info2 = hw.exit.exitinfo2;
		assert_int_equal(vmmu_npt_handle_npf(v, hw.exit.exitinfo1,
			hw.exit.exitinfo2, NULL, &res, &log[n].outcome), 0);
		n++;
		if (res.action != VMMU_ACT_RETRY)
			break;
	}
	if (hw_out)
		*hw_out = hw;
	if (res_out)
		*res_out = res;
	return n;
}

#endif
