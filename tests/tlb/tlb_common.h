/* SPDX-License-Identifier: MIT */
/* Helpers shared by the TLB-model tests. */
#ifndef VMMU_TESTS_TLB_COMMON_H
#define VMMU_TESTS_TLB_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "core/tlb.h"
#include "vmmu/error.h"

#define KiB4 (1ULL << 12)
#define MiB2 (1ULL << 21)
#define MiB4 (1ULL << 22)
#define GiB1 (1ULL << 30)
#define NRWX (VMMU_TLB_NR | VMMU_TLB_NW | VMMU_TLB_NX)

/* A TLB in malloc'd memory. */
static inline struct vmmu_tlb *tlb_new(const struct vmmu_tlb_config *cfg)
{
	size_t n = vmmu_tlb_mem_size(cfg);
	struct vmmu_tlb *t = NULL;
	void *mem;

	assert_true(n > 0);
	mem = aligned_alloc(64, (n + 63) & ~(size_t)63);
	assert_non_null(mem);
	assert_int_equal(vmmu_tlb_init(mem, n, cfg, &t), 0);
	assert_ptr_equal(t, mem);
	return t;
}

static inline struct vmmu_tlb *tlb_new_default(void)
{
	struct vmmu_tlb_config cfg;

	assert_int_equal(vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_INTEL), 0);
	return tlb_new(&cfg);
}

/* 4-level paging, CR0.WP, EFER.NXE: the state lookups check against. */
static inline void ps_long(struct vmmu_paging_state *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	ps->cr4 = X86_CR4_PAE;
	ps->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	ps->maxphyaddr = 46;
	vmmu_paging_update(ps);
}

/* Fill a user-writable, dirty, fully nested-accessible translation. */
static inline void fill_rw(struct vmmu_tlb *t, uint64_t gva, uint64_t hpa,
			   uint64_t size, bool global)
{
	struct vmmu_tlb_fill f;

	memset(&f, 0, sizeof(f));
	f.gva = mk_gva(gva);
	f.hpa = mk_hpa(hpa);
	f.page_size = size;
	f.rights = 3;
	f.global = global;
	f.dirty = true;
	f.nested = NRWX;
	f.kind = VMMU_ACCESS_READ;
	assert_int_equal(vmmu_tlb_fill(t, &f), 0);
}

/* Supervisor read lookup: the hpa on a hit, ~0 otherwise. */
static inline uint64_t look(struct vmmu_tlb *t,
			    const struct vmmu_paging_state *ps, uint64_t gva,
			    enum vmmu_access_kind kind)
{
	struct vmmu_access acc = { mk_gva(gva), kind, 0, false };
	hpa_t h = mk_hpa(0);

	if (vmmu_tlb_lookup(t, ps, &acc, &h) != VMMU_TLB_HIT)
		return ~0ULL;
	return h.v;
}

#endif
