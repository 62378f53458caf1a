/* SPDX-License-Identifier: MIT */
/*
 * An EPT VM for the tests: guest tables for one linear address at fixed
 * guest-physical pages, each guest table page and the data page in a
 * 512 GiB region of its own, so that a right given to an EPT entry at any
 * level applies to exactly one of them.
 */
#ifndef VMMU_TESTS_EPT_FIXTURE_H
#define VMMU_TESTS_EPT_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/vmmu.h"
#include "vmmu/access.h"
#include "vmmu/ept.h"
#include "vmmu/hosted.h"
#include "core/pgtable.h"
#include "core/tlb.h"
#include "ept/ept_format.h"

#define R VMMU_ACCESS_READ
#define W VMMU_ACCESS_WRITE
#define X VMMU_ACCESS_FETCH

#define EF_REGION   (512ULL << 30)
#define EF_GVA      0x40201000ULL       /* PML4 0, PDPT 1, PD 1, PT 1 */
/* Guest tables: level L (4 = PML4 .. 1 = PT) in region 4 - L + 0. */
#define EF_TABLE(l) ((uint64_t)(4 - (l)) * EF_REGION + 0x1000)
#define EF_DATA     (4 * EF_REGION + 0x40000000ULL)   /* region 4, 1 GiB in */
#define EF_SLOT     (2ULL << 30)        /* per region: 2 GiB of lazy RAM */

struct ef {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *vcpu;
	struct vmmu_pt *pt;
};

static inline void ef_wr(struct ef *f, uint64_t gpa, uint64_t v)
{
	assert_int_equal(vmmu_vm_write_gpa(f->vm, mk_gpa(gpa), &v, 8), 0);
}

static inline uint64_t ef_rd(struct ef *f, uint64_t gpa)
{
	uint64_t v = 0;

	assert_int_equal(vmmu_vm_read_gpa(f->vm, mk_gpa(gpa), &v, 8), 0);
	return v;
}

/* The index of EF_GVA at guest level l. */
static inline uint64_t ef_gidx(unsigned l)
{
	return (EF_GVA >> (12 + 9 * (l - 1))) & 511;
}

/* Guest entry address for EF_GVA at level l. */
static inline uint64_t ef_gpte(unsigned l)
{
	return EF_TABLE(l) + ef_gidx(l) * 8;
}

/* Guest tables: every entry P, R/W, U/S with the given A/D bits. */
static inline void ef_guest_tables(struct ef *f, uint64_t ad)
{
	unsigned l;

	for (l = 4; l >= 2; l--)
		ef_wr(f, ef_gpte(l), EF_TABLE(l - 1) | 7 | (ad & 0x20));
	ef_wr(f, ef_gpte(1), EF_DATA | 7 | ad);
}

/* A vCPU in 4-level paging with a TLB that caches nothing useful. */
static inline struct vmmu_vcpu *ef_vcpu(struct ef *f, bool caches)
{
	struct vmmu_tlb_config cfg;
	struct vmmu_vcpu *v;

	assert_int_equal(vmmu_vcpu_create(f->vm, &v), 0);
	if (!caches) {
		assert_int_equal(vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_INTEL), 0);
		memset(&cfg, 0, sizeof(cfg));
		cfg.tlb[VMMU_TLB_L1D_4K] = (struct vmmu_tlb_geom){ 1, 1 };
		assert_int_equal(vmmu_vcpu_tlb_configure(v, &cfg), 0);
	}
	v->paging.cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	v->paging.cr4 = X86_CR4_PAE;
	v->paging.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	v->paging.rflags = 2;
	vmmu_paging_update(&v->paging);
	assert_int_equal(vmmu_vcpu_set_cr(v, VMMU_CR3, EF_TABLE(4)), 0);
	return v;
}

/* An EPT VM with caps and a lazily backed 2 GiB RAM slot per region. */
static inline void ef_setup(struct ef *f, const struct vmmu_ept_caps *caps,
			    unsigned regions, bool caches)
{
	unsigned i;

	memset(f, 0, sizeof(*f));
	assert_int_equal(vmmu_hosted_create(64ULL << 30, &f->arena), 0);
	vmmu_hosted_platform(f->arena, &f->plat);
	assert_int_equal(vmmu_vm_create(&f->plat, &f->vm), 0);
	assert_int_equal(vmmu_vm_set_backend(f->vm, VMMU_BACKEND_EPT,
					     &vmmu_backend_ept), 0);
	if (caps)
		assert_int_equal(vmmu_ept_configure(f->vm, caps), 0);
	for (i = 0; i < regions; i++)
		assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(i * EF_REGION),
						  EF_SLOT, VMMU_MEM_RAM), 0);
	f->pt = vmmu_ept_tables(f->vm);
	f->vcpu = ef_vcpu(f, caches);
}

static inline void ef_teardown(struct ef *f)
{
	vmmu_vm_destroy(f->vm);
	vmmu_hosted_destroy(f->arena);
}

/* Map gpa's page RWX with the largest leaf up to level (host block). */
static inline void ef_map(struct ef *f, uint64_t gpa, unsigned level)
{
	struct vmmu_ram_page rp;
	uint64_t size = vmmu_pt_level_size(level), base = gpa & ~(size - 1);
	struct ept_format_ctx c = { .memtype = EPT_MT_WB };

	assert_int_equal(vmmu_vm_ram_lookup(f->vm, mk_gpa(gpa), true, &rp), 0);
	assert_true((VMMU_PAGE_SIZE << rp.order) >= size);
	assert_int_equal(vmmu_pt_map(f->pt, base,
				     mk_hpa(rp.hpa.v - (gpa - base)), size,
				     ept_prot_attrs(&c, VMMU_PROT_RWX), NULL), 0);
}

/* The EPT entry at level (5..1) on gpa's path, or NULL. */
static inline uint64_t *ef_entry(struct ef *f, uint64_t gpa, unsigned level)
{
	uint64_t table = f->pt->root.v;
	unsigned l;

	for (l = f->pt->levels;; l--) {
		uint64_t *t = f->plat.map(f->plat.ctx, mk_hpa(table));
		uint64_t *e = &t[vmmu_pt_index(gpa, l)];

		if (l == level)
			return e;
		if (!(*e & EPT_RWX) || (*e & EPT_PS))
			return NULL;
		table = *e & EPT_ADDR_MASK;
	}
}

/* The leaf mapping gpa, at whatever level (NULL when none). */
static inline uint64_t *ef_leaf(struct ef *f, uint64_t gpa)
{
	unsigned l;

	for (l = f->pt->levels; l >= 1; l--) {
		uint64_t *e = ef_entry(f, gpa, l);

		if (!e || !(*e & EPT_RWX))
			return NULL;
		if (l == 1 || (*e & EPT_PS))
			return e;
	}
	return NULL;
}

/* One hardware-side walk, caches emptied first. */
static inline struct vmmu_hw_walk ef_walk(struct ef *f, uint64_t gva,
					  enum vmmu_access_kind kind)
{
	struct vmmu_access acc = { mk_gva(gva), kind, 0, false };
	struct vmmu_hw_walk out;

	vmmu_tlb_flush_all(f->vcpu->tlb);
	memset(&out, 0, sizeof(out));
	assert_int_equal(f->vm->ops->hw_walk(f->vcpu, &acc, &out), 0);
	return out;
}

#endif
