/* SPDX-License-Identifier: MIT */
/*
 * The same random guest through the EPT backend and through the direct
 * backend (no second level), access by access: the guest must not be able
 * to tell them apart. Random 4-level guest tables (in RAM) whose leaves
 * point into RAM, ROM, MMIO and holes; random reads, writes and fetches
 * at CPL 0 and 3; random table changes with a sufficient invalidation on
 * both; and on the EPT VM only, changes a guest cannot see: lazy type
 * recalculation of ranges back to their own type, dirty logging started,
 * harvested and stopped. Every access must end the same way (done with
 * the same data, the same guest fault, or the same reason to the VMM),
 * and guest memory must be byte-identical at the end.
 *
 *   test_ept_random [--steps N] [--seed S]      (ctest: 20000 steps)
 *
 * Guest tables stay in RAM: with EPT A/D a guest paging-structure read is
 * a write for EPT, which a guest keeping its tables in ROM would see (the
 * qualification tests cover that case).
 */
#include <stdio.h>
#include <stdlib.h>

#include "ept_fixture.h"
#include "vmmu/p2m.h"
#include "vmmu/dirty.h"

#define RT_TABLES 8
#define RT_TBASE  0x10000ULL
#define RT_RAM    (4ULL << 20)
#define RT_ROM    0x400000ULL
#define RT_MMIO   0x600000ULL

static uint64_t steps = 20000, seed = 0x9e3779b97f4a7c15ULL;
static uint64_t st;

static uint64_t rnd(void)
{
	st ^= st >> 12;
	st ^= st << 25;
	st ^= st >> 27;
	return st * 0x2545f4914f6cdd1dULL;
}

static bool chance(unsigned percent)
{
	return rnd() % 100 < percent;
}

struct rt {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm[2];          /* 0 direct, 1 EPT */
	struct vmmu_vcpu *v[2];
	bool ad;
	uint64_t done, faults, vmm, hits, recalcs;
};

static int mmio_fn(void *ctx, gpa_t gpa, bool write, void *data,
		   unsigned size)
{
	uint64_t v = gpa.v * 0x9e37ULL;

	(void)ctx;
	if (!write)
		memcpy(data, &v, size);
	return 0;
}

/*
 * Table pages by level: 0 the PML4, 1-2 PDPTs, 3-4 PDs, 5-7 PTs, so that
 * non-leaf entries always lead to table pages in RAM; leaves point at data
 * frames in RAM (a few at table pages), ROM, MMIO or holes.
 */
static unsigned rt_level_of(unsigned table)
{
	return table == 0 ? 4 : table <= 2 ? 3 : table <= 4 ? 2 : 1;
}

static uint64_t rt_frame(void)
{
	uint64_t r = rnd() % 100;

	if (r < 3)
		return RT_TBASE + (rnd() % RT_TABLES) * 0x1000;
	if (r < 75)
		return 0x100000 + ((rnd() % 512) << 12);
	if (r < 87)
		return RT_ROM + ((rnd() % 256) << 12);
	if (r < 95)
		return RT_MMIO + ((rnd() % 16) << 12);
	return 0x800000 + ((rnd() % 64) << 12);     /* a hole */
}

static uint64_t rt_entry(unsigned table)
{
	unsigned level = rt_level_of(table);
	uint64_t e;

	if (level > 1 && chance(level == 4 ? 1 : 8)) {
		e = X86_PTE_PS | (level == 3 ? 0 : rt_frame() & ~0x1fffffULL);
	} else if (level > 1) {
		unsigned first = level == 4 ? 1 : level == 3 ? 3 : 5;
		unsigned n = level == 2 ? 3 : 2;

		e = RT_TBASE + (first + rnd() % n) * 0x1000ULL;
	} else {
		e = rt_frame();
	}
	e |= rnd() & (X86_PTE_A | X86_PTE_D);
	if (chance(98))
		e |= X86_PTE_P;
	if (chance(90))
		e |= X86_PTE_RW;
	if (chance(93))
		e |= X86_PTE_US;
	if (chance(5))
		e |= X86_PTE_NX;
	return e;
}

static void rt_write_both(struct rt *t, uint64_t gpa, uint64_t v)
{
	unsigned i;

	for (i = 0; i < 2; i++)
		assert_int_equal(vmmu_vm_write_gpa(t->vm[i], mk_gpa(gpa), &v, 8), 0);
}

static void rt_vm(struct rt *t, unsigned i)
{
	struct vmmu_ept_caps caps = { .ad = t->ad, .execute_only = true,
				      .page_2m = true, .page_1g = true,
				      .maxphyaddr = 46 };
	const struct vmmu_backend_ops *ops = i ? &vmmu_backend_ept
					       : &vmmu_backend_direct;
	struct vmmu_slot_desc ram = { mk_gpa(0), RT_RAM, VMMU_MEM_RAM,
				      VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT, false };
	struct vmmu_vcpu *v;

	assert_int_equal(vmmu_vm_create(&t->plat, &t->vm[i]), 0);
	assert_int_equal(vmmu_vm_set_backend(t->vm[i], i ? VMMU_BACKEND_EPT :
					     VMMU_BACKEND_NONE, ops), 0);
	if (i)
		assert_int_equal(vmmu_ept_configure(t->vm[i], &caps), 0);
	assert_int_equal(vmmu_vm_add_slot_ex(t->vm[i], &ram), 0);
	assert_int_equal(vmmu_vm_add_slot(t->vm[i], mk_gpa(RT_ROM), 1ULL << 20,
					  VMMU_MEM_ROM), 0);
	assert_int_equal(vmmu_vm_add_slot(t->vm[i], mk_gpa(RT_MMIO), 64 << 10,
					  VMMU_MEM_MMIO), 0);
	vmmu_vm_set_mmio_handler(t->vm[i], mmio_fn, NULL);
	assert_int_equal(vmmu_vcpu_create(t->vm[i], &v), 0);
	v->paging.cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	v->paging.cr4 = X86_CR4_PAE | X86_CR4_PGE;
	v->paging.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	v->paging.rflags = 2;
	v->paging.maxphyaddr = 48;
	vmmu_paging_update(&v->paging);
	assert_int_equal(vmmu_vcpu_set_cr(v, VMMU_CR3, RT_TBASE), 0);
	t->v[i] = v;
}

static void rt_flush(struct rt *t)
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		uint64_t cr4 = t->v[i]->paging.cr4;

		assert_int_equal(vmmu_vcpu_set_cr(t->v[i], VMMU_CR4, cr4 ^ X86_CR4_PGE), 0);
		assert_int_equal(vmmu_vcpu_set_cr(t->v[i], VMMU_CR4, cr4), 0);
	}
}

static uint64_t rt_gva(void)
{
	uint64_t base = (rnd() % 2) << 39 | (rnd() % 2) << 30 |
			(rnd() % 2) << 21;

	return base | (rnd() % 8) << 12 | (rnd() % 0x1000 & ~7ULL);
}

static struct vmmu_access last_acc;

static void rt_access(struct rt *t)
{
	struct vmmu_access acc = { mk_gva(rt_gva()),
				   (enum vmmu_access_kind)(rnd() % 3),
				   chance(50) ? 3 : 0, false };
	uint64_t wdata = rnd(), data[2] = { 0, 0 };

	last_acc = acc;
	struct vmmu_access_result r[2];
	unsigned i;

	for (i = 0; i < 2; i++) {
		struct vmmu_op op = { .acc = acc, .size = 8,
				      .data = acc.kind == W ? &wdata : &data[i] };

		assert_int_equal(vmmu_vcpu_access(t->v[i], &op, &r[i]), 0);
	}
	if (r[0].status != r[1].status ||
	    (r[0].status == VMMU_ACCESS_FAULT &&
	     (r[0].fault.vector != r[1].fault.vector ||
	      r[0].fault.error_code != r[1].fault.error_code ||
	      r[0].fault.cr2.v != r[1].fault.cr2.v)) ||
	    (r[0].status == VMMU_ACCESS_VMM && r[0].reason != r[1].reason) ||
	    (r[0].status == VMMU_ACCESS_DONE && data[0] != data[1])) {
		for (i = 0; i < 2; i++) {
			unsigned k;

			fprintf(stderr, "vm %u: levels %u first %u:", i,
				r[i].fault.levels, r[i].fault.first_level);
			for (k = 0; k < r[i].fault.levels; k++)
				fprintf(stderr, " %#llx@%#llx",
					(unsigned long long)r[i].fault.pte[k],
					(unsigned long long)r[i].fault.pte_gpa[k].v);
			fprintf(stderr, "\n");
		}
		fail_msg("gva %#llx kind %d cpl %d: direct status %d reason %d "
			 "pfec %#x data %#llx, ept status %d reason %d pfec %#x "
			 "data %#llx (exit qual %#llx gpa %#llx)",
			 (unsigned long long)acc.gva.v, acc.kind, acc.cpl,
			 r[0].status, r[0].reason, r[0].fault.error_code,
			 (unsigned long long)data[0], r[1].status, r[1].reason,
			 r[1].fault.error_code, (unsigned long long)data[1],
			 (unsigned long long)r[1].exit.qualification,
			 (unsigned long long)r[1].exit.gpa.v);
	}
	/* A guest store may land in its own tables (leaves point there too):
	 * the guest then invalidates (when its tables changed), as the SDM asks (4.10.4.1), so that both
	 * caches see the change; without it either the old or the new outcome
	 * would be right, and the two backends may cache differently. */
	if (acc.kind == W && r[1].status == VMMU_ACCESS_DONE) {
		static uint8_t snap[RT_TABLES * 4096], now[RT_TABLES * 4096];

		assert_int_equal(vmmu_vm_read_gpa(t->vm[0], mk_gpa(RT_TBASE), now,
						  sizeof(now)), 0);
		if (memcmp(snap, now, sizeof(now))) {
			rt_flush(t);
			memcpy(snap, now, sizeof(now));
		}
	}
	/* The EPT translation reaches the VM's own page for that gpa. */
	if (r[1].status == VMMU_ACCESS_DONE && !r[1].emulated && !r[1].tlb_hit) {
		hpa_t own;

		assert_int_equal(vmmu_vm_gpa_to_hpa(t->vm[1], r[1].gpa, &own), 0);
		assert_int_equal(own.v, r[1].hpa.v);
	}
	t->done += r[1].status == VMMU_ACCESS_DONE;
	t->faults += r[1].status == VMMU_ACCESS_FAULT;
	t->vmm += r[1].status == VMMU_ACCESS_VMM;
	t->hits += r[1].tlb_hit;
}

/* What the EPT VM's guest must not notice. */
static void rt_invisible(struct rt *t)
{
	struct vmmu_vm *vm = t->vm[1];
	uint64_t a = (rnd() % (RT_RAM >> 21)) << 21;
	uint64_t r = rnd() % 100;
	enum vmmu_p2m_type type;

	if (r < 50) {
		/* retype a range to what it is: marks, recalculation, splits */
		if (vmmu_p2m_range_type(vm, mk_gpa(a), 2ULL << 20, &type) == 0 &&
		    type == VMMU_P2M_RAM_RW)
			assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(a),
				2ULL << 20, VMMU_P2M_RAM_RW), 0);
		t->recalcs++;
	} else if (r < 70) {
		(void)vmmu_dirty_enable_ram(vm);
	} else if (r < 90) {
		uint64_t g, np;

		if (vmmu_dirty_range(vm, &g, &np) == 0)
			assert_int_equal(vmmu_dirty_clean(vm, g, np, NULL, NULL), 0);
	} else {
		int rc = vmmu_dirty_disable(vm);

		assert_true(rc == 0 || rc == VMMU_ENOENT);
	}
}

static void rt_run(bool ad)
{
	static struct rt t;
	uint64_t i, step;
	static uint8_t p0[4096], p1[4096];

	memset(&t, 0, sizeof(t));
	t.ad = ad;
	st = seed;
	assert_int_equal(vmmu_hosted_create(64ULL << 30, &t.arena), 0);
	vmmu_hosted_platform(t.arena, &t.plat);
	rt_vm(&t, 0);
	rt_vm(&t, 1);
	for (i = 0; i < RT_TABLES * 512; i++)
		rt_write_both(&t, RT_TBASE + i * 8, rt_entry((unsigned)(i / 512)));
	for (step = 0; step < steps; step++) {
		if (chance(3)) {
			i = rnd() % (RT_TABLES * 512);
			rt_write_both(&t, RT_TBASE + i * 8,
				      rt_entry((unsigned)(i / 512)));
			rt_flush(&t);
		} else if (chance(2)) {
			rt_invisible(&t);
		} else {
			rt_access(&t);
		}
		if (getenv("RT_DEBUG")) {
			static uint8_t a0[RT_TABLES * 4096], a1[RT_TABLES * 4096];

			assert_int_equal(vmmu_vm_read_gpa(t.vm[0], mk_gpa(RT_TBASE), a0, sizeof(a0)), 0);
			assert_int_equal(vmmu_vm_read_gpa(t.vm[1], mk_gpa(RT_TBASE), a1, sizeof(a1)), 0);
			for (i = 0; i < sizeof(a0); i += 8)
				if (memcmp(a0 + i, a1 + i, 8))
					fail_msg("last gva %#llx kind %d cpl %d; step %llu: tables differ at %#llx: %#llx vs %#llx",
						 (unsigned long long)last_acc.gva.v, last_acc.kind, last_acc.cpl,
						 (unsigned long long)step,
						 (unsigned long long)(RT_TBASE + i),
						 (unsigned long long)*(uint64_t *)(a0 + i),
						 (unsigned long long)*(uint64_t *)(a1 + i));
		}
	}
	for (i = 0; i < RT_RAM + (1ULL << 20); i += 4096) {
		uint64_t g = i < RT_RAM ? i : RT_ROM + (i - RT_RAM);

		assert_int_equal(vmmu_vm_read_gpa(t.vm[0], mk_gpa(g), p0, 4096), 0);
		assert_int_equal(vmmu_vm_read_gpa(t.vm[1], mk_gpa(g), p1, 4096), 0);
		if (memcmp(p0, p1, 4096))
			fail_msg("guest memory differs at gpa %#llx", (unsigned long long)g);
	}
	fprintf(stderr, "ept a/d %d: %llu steps: %llu done, %llu faults, %llu to the VMM, "
		"%llu TLB hits, %llu retypes, %llu EPT exits, %llu INVEPT\n",
		ad, (unsigned long long)steps, (unsigned long long)t.done,
		(unsigned long long)t.faults, (unsigned long long)t.vmm,
		(unsigned long long)t.hits, (unsigned long long)t.recalcs,
		(unsigned long long)t.v[1]->stats.exits,
		(unsigned long long)vmmu_ept_stats(t.vm[1])->invept_single);
	assert_true(t.done > steps / 10 && t.faults > steps / 20 && t.vmm > 0);
	vmmu_vm_destroy(t.vm[0]);
	vmmu_vm_destroy(t.vm[1]);
	vmmu_hosted_destroy(t.arena);
}

static void test_ept_equals_direct(void **state)
{
	(void)state;
	rt_run(false);
}

static void test_ept_ad_equals_direct(void **state)
{
	(void)state;
	rt_run(true);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ept_equals_direct),
		cmocka_unit_test(test_ept_ad_equals_direct),
	};
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--steps"))
			steps = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
	}
	if (!seed)
		seed = 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
