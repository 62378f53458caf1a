/* SPDX-License-Identifier: MIT */
/*
 * Test fixture for the guest walker: a VM with 4 MiB of guest RAM at gpa 0
 * (hosted arena), its struct vmmu_gmem, a paging state and a page-table
 * builder for every paging mode. Page tables are allocated from 0x10000 up;
 * data pages are never read by the walker, so translated addresses may lie
 * anywhere.
 */
#ifndef VMMU_TESTS_WALK_FIXTURE_H
#define VMMU_TESTS_WALK_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/vmmu.h"
#include "vmmu/walk.h"
#include "host/hosted.h"

#define FX_RAM        (4ULL << 20)
#define FX_CR3        0x1000ULL
#define FX_TABLES     0x10000ULL

/* Entry flag shorthands. */
#define P   X86_PTE_P
#define RW  X86_PTE_RW
#define US  X86_PTE_US
#define A   X86_PTE_A
#define D   X86_PTE_D
#define PS  X86_PTE_PS
#define NX  X86_PTE_NX
#define PRW   (P | RW)
#define PRWU  (P | RW | US)

/* Control-register presets. */
#define CR0_PG_PE     (X86_CR0_PG | X86_CR0_PE)
#define CR0_PG_PE_WP  (X86_CR0_PG | X86_CR0_PE | X86_CR0_WP)
#define EFER_LM       (X86_EFER_LME | X86_EFER_LMA)

struct fx {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_gmem mem;
	struct vmmu_paging_state ps;
	uint64_t next_table;
};

static inline int fx_setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	if (vmmu_hosted_create(FX_RAM + (1ULL << 20), &f.arena) < 0)
		return -1;
	vmmu_hosted_platform(f.arena, &f.plat);
	if (vmmu_vm_create(&f.plat, &f.vm) < 0 ||
	    vmmu_vm_add_slot(f.vm, mk_gpa(0), FX_RAM, VMMU_MEM_RAM) < 0)
		return -1;
	vmmu_vm_gmem(f.vm, &f.mem);
	f.next_table = FX_TABLES;
	*state = &f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;

	vmmu_vm_destroy(f->vm);
	vmmu_hosted_destroy(f->arena);
	return 0;
}

static inline uint64_t rd(struct fx *f, uint64_t gpa, size_t size)
{
	uint64_t v = 0;

	assert_int_equal(vmmu_vm_read_gpa(f->vm, mk_gpa(gpa), &v, size), 0);
	return v;
}

static inline void wr(struct fx *f, uint64_t gpa, uint64_t v, size_t size)
{
	assert_int_equal(vmmu_vm_write_gpa(f->vm, mk_gpa(gpa), &v, size), 0);
}

/* Set the registers and recompute the role, as a vCPU would. */
static inline void fx_regs(struct fx *f, uint64_t cr0, uint64_t cr4,
			   uint64_t efer, unsigned maxphyaddr)
{
	f->ps.cr0 = cr0;
	f->ps.cr3 = FX_CR3;
	f->ps.cr4 = cr4;
	f->ps.efer = efer;
	f->ps.rflags = 2;
	f->ps.maxphyaddr = (uint8_t)maxphyaddr;
	f->ps.pdptes_loaded = false;
	vmmu_paging_update(&f->ps);
}

static inline void fx_long(struct fx *f, bool la57, unsigned maxphyaddr)
{
	fx_regs(f, CR0_PG_PE_WP, X86_CR4_PAE | (la57 ? X86_CR4_LA57 : 0),
		EFER_LM | X86_EFER_NXE, maxphyaddr);
}

/*
 * Map gva: flags[level] (level 1 = PTE ... 5 = PML5E) is OR-ed into the
 * entry at that level; the entry at leaf_level points to pa (add PS in
 * flags for a large page). Tables are shared between calls. In PAE mode
 * flags[3] is the PDPTE (no A/U/W bits); load the PDPTEs afterwards.
 */
static inline void fx_map(struct fx *f, uint64_t gva, unsigned leaf_level,
			  const uint64_t flags[6], uint64_t pa)
{
	enum vmmu_paging_mode m = vmmu_paging_mode(&f->ps);
	unsigned top = m == VMMU_PAGING_2LEVEL ? 2 : m == VMMU_PAGING_PAE ? 3 :
		       m == VMMU_PAGING_5LEVEL ? 5 : 4;
	unsigned bits = m == VMMU_PAGING_2LEVEL ? 10 : 9;
	size_t esz = m == VMMU_PAGING_2LEVEL ? 4 : 8;
	uint64_t table = f->ps.cr3 & (m == VMMU_PAGING_PAE ? ~0x1fULL : ~0xfffULL);
	unsigned level;

	for (level = top;; level--) {
		unsigned shift = 12 + bits * (level - 1);
		uint64_t idx = (gva >> shift) & ((1ULL << bits) - 1);
		uint64_t egpa, e, next;

		if (m == VMMU_PAGING_PAE && level == 3)
			idx = (gva >> 30) & 3;
		egpa = table + idx * esz;
		if (level == leaf_level) {
			wr(f, egpa, pa | flags[level], esz);
			return;
		}
		e = rd(f, egpa, esz);
		next = e & (FX_RAM - 1) & ~0xfffULL;
		if (!next) {
			next = f->next_table;
			f->next_table += 0x1000;
			assert_true(f->next_table <= FX_RAM);
		}
		/* Keep A/D bits set by earlier walks when nothing else changes. */
		if ((e & ~(A | D)) != (next | flags[level]))
			wr(f, egpa, next | flags[level], esz);
		table = next;
	}
}

/* Map a 4 KiB page: flags in the PTE, P|RW|U/S in every table entry. */
static inline void fx_map4k(struct fx *f, uint64_t gva, uint64_t flags,
			    uint64_t pa)
{
	const uint64_t fl[6] = { 0, flags, PRWU, PRWU, PRWU, PRWU };

	fx_map(f, gva, 1, fl, pa);
}

static inline struct vmmu_walk_result fx_walk(struct fx *f, uint64_t gva,
					      enum vmmu_access_kind kind,
					      unsigned cpl)
{
	struct vmmu_access acc = { mk_gva(gva), kind, (uint8_t)cpl, false };
	struct vmmu_walk_result res;

	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, &res), 0);
	return res;
}

#define R VMMU_ACCESS_READ
#define W VMMU_ACCESS_WRITE
#define X VMMU_ACCESS_FETCH

/* Expect a translation to gpa with the given page size. */
#define assert_ok(res, want_gpa, want_size) do { \
	struct vmmu_walk_result r_ = (res); \
	assert_true(r_.ok); \
	assert_int_equal(r_.gpa.v, (want_gpa)); \
	assert_int_equal(r_.page_size, (want_size)); \
} while (0)

/* Expect a #PF with error code pfec at gva. */
#define assert_pf(res, gva, pfec) do { \
	struct vmmu_walk_result r_ = (res); \
	assert_false(r_.ok); \
	assert_int_equal(r_.vector, X86_VEC_PF); \
	assert_int_equal(r_.error_code, (pfec)); \
	assert_int_equal(r_.cr2.v, (gva)); \
} while (0)

#define assert_gp(res) do { \
	struct vmmu_walk_result r_ = (res); \
	assert_false(r_.ok); \
	assert_int_equal(r_.vector, X86_VEC_GP); \
	assert_int_equal(r_.error_code, 0); \
} while (0)

#endif
