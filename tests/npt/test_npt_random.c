/* SPDX-License-Identifier: MIT */
/*
 * The same random guest through NPT and through the direct backend
 * (no second level), access by access: the same guest-visible outcome
 * every time (the same data read, the same #PF vector, error code and
 * CR2, the same reason and gpa when the access goes to the VMM), and the
 * same guest page tables (A/D bits) afterwards. The memory map has RAM
 * in 2 MiB and in 4 KiB host blocks, ROM, MMIO with a device model and a
 * hole; guest tables change at random (each change followed by an
 * invalidation the SDM says is enough), and on the NPT side alone
 * log-dirty starts, stops and re-arms at random, which the guest must
 * not see, and no write the guest makes may be missing from the log.
 *
 * A third VM on EPT (with A/D, so guest-table reads are writes there
 * too) must match NPT exactly, guest tables in ROM included.
 *
 * One documented difference from the direct backend: AMD walks guest page tables as writes, so
 * a guest table in ROM goes to the VMM (ROM write) under NPT even when
 * its A/D bits are set; the direct backend reads it. Such accesses are
 * counted, checked to be that case, and not compared.
 *
 * NPT_RANDOM_STEPS in the environment sets the number of steps (default
 * 20000; the long run: NPT_RANDOM_STEPS=1000000), NPT_RANDOM_SEED the
 * seed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "vmmu/dirty.h"
#include "npt/npt_fixture.h"
#include "vmmu/ept.h"

#define RT_TABLES 8
#define RAM2M     (8ULL << 20)      /* [0, 8M): 2 MiB blocks */
#define RAM4K     (4ULL << 20)      /* [8M, 12M): 4 KiB blocks */
#define ROM_BASE  (12ULL << 20)
#define MMIO_BASE (14ULL << 20)
#define TOP       (16ULL << 20)     /* [14M + 64K, 16M): hole */

static uint64_t rs = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dULL;
}

static bool chance(unsigned pct)
{
	return rnd() % 100 < pct;
}

struct side {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *v;
};

static struct side dir, npt, ept;
static uint8_t logged[TOP >> 12], written[TOP >> 12];
static bool logging;
static uint64_t steps_done, faults, vmm, rom_tables, mmio_ops, reads_ok;

/* logged[] from a peek of the whole dirty log of the NPT side. */
static void peek_logged(void)
{
	static uint64_t bm[(TOP >> 12) / 64 + 1];
	uint64_t g, np, i;

	memset(logged, 0, sizeof(logged));
	assert_int_equal(vmmu_dirty_range(npt.vm, &g, &np), 0);
	assert_true(np <= sizeof(bm) * 8);
	assert_int_equal(vmmu_dirty_peek(npt.vm, g, np, bm, NULL), 0);
	for (i = 0; i < np; i++)
		if ((bm[i / 64] >> (i % 64)) & 1 && g + i < (TOP >> 12))
			logged[g + i] = 1;
}

/* A device: reads give a value made from the address; writes vanish. */
static int dev(void *ctx, gpa_t gpa, bool write, void *data, unsigned size)
{
	uint64_t v = gpa.v * 0x9e3779b97f4a7c15ULL;

	(void)ctx;
	mmio_ops++;
	if (!write)
		memcpy(data, &v, size);
	return 0;
}

static void side_create(struct side *s, enum vmmu_backend_kind kind)
{
	struct vmmu_slot_desc d[] = {
		{ { 0 }, RAM2M, VMMU_MEM_RAM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT, false },
		{ { RAM2M }, RAM4K, VMMU_MEM_RAM, VMMU_ORDER_4K, VMMU_MEMTYPE_DEFAULT, false },
		{ { ROM_BASE }, 2ULL << 20, VMMU_MEM_ROM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT, false },
		{ { MMIO_BASE }, 64ULL << 10, VMMU_MEM_MMIO, 0, VMMU_MEMTYPE_DEFAULT, false },
	};
	struct vmmu_npt_config cfg;
	unsigned i;

	assert_int_equal(vmmu_hosted_create(64ULL << 20, &s->arena), 0);
	vmmu_hosted_platform(s->arena, &s->plat);
	assert_int_equal(vmmu_vm_create(&s->plat, &s->vm), 0);
	if (kind == VMMU_BACKEND_EPT) {
		assert_int_equal(vmmu_vm_set_backend(s->vm, VMMU_BACKEND_EPT,
						     &vmmu_backend_ept), 0);
	} else if (kind == VMMU_BACKEND_NPT) {
		assert_int_equal(vmmu_vm_set_backend(s->vm, VMMU_BACKEND_NPT,
						     &vmmu_backend_npt), 0);
		vmmu_npt_config_default(&cfg);
		assert_int_equal(vmmu_npt_configure(s->vm, &cfg), 0);
	} else {
		assert_int_equal(vmmu_vm_set_backend(s->vm, VMMU_BACKEND_NONE,
						     &vmmu_backend_direct), 0);
	}
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		assert_int_equal(vmmu_vm_add_slot_ex(s->vm, &d[i]), 0);
	vmmu_vm_set_mmio_handler(s->vm, dev, NULL);
	assert_int_equal(vmmu_vcpu_create(s->vm, &s->v), 0);
}

static void both_write(uint64_t gpa, uint64_t val)
{
	assert_int_equal(vmmu_vm_write_gpa(dir.vm, mk_gpa(gpa), &val, 8), 0);
	assert_int_equal(vmmu_vm_write_gpa(npt.vm, mk_gpa(gpa), &val, 8), 0);
	assert_int_equal(vmmu_vm_write_gpa(ept.vm, mk_gpa(gpa), &val, 8), 0);
}

static uint64_t rt_table(unsigned i)
{
	return FX_TABLES + (uint64_t)i * 0x1000;
}

/* A frame anywhere in the map: RAM, ROM, MMIO or the hole. */
static uint64_t rt_frame(void)
{
	switch (rnd() % 4) {
	case 0: return ROM_BASE + (rnd() % 512) * VMMU_PAGE_SIZE;
	case 1: return MMIO_BASE + (rnd() % 16) * VMMU_PAGE_SIZE;
	case 2: return MMIO_BASE + (64ULL << 10) + (rnd() % 16) * VMMU_PAGE_SIZE;
	default: return (rnd() % ((RAM2M + RAM4K) >> 12)) << 12;
	}
}

/* Mostly tables pointing to tables (a table is also a data page). */
static uint64_t rt_entry(void)
{
	uint64_t e = chance(75) ? rt_table((unsigned)(rnd() % RT_TABLES))
				: rt_frame();

	e |= rnd() & (X86_PTE_A | X86_PTE_D);
	if (chance(5)) e |= X86_PTE_G;  /* reserved in an AMD PML4E */
	if (chance(97)) e |= P;
	if (chance(85)) e |= X86_PTE_RW;
	if (chance(90)) e |= X86_PTE_US;
	if (chance(4)) e |= PS;
	if (chance(5)) e |= NX;
	return e;
}

static uint64_t rt_gva(void)
{
	uint64_t base = (rnd() % 2) << 39 | (rnd() % 2) << 30 |
			(rnd() % 4) << 21;

	return base | (rnd() % 64) << 12 | (rnd() % 0x1000 & ~7ULL);
}

static void set_paging(struct side *s, const struct vmmu_paging_state *ps)
{
	s->v->paging = *ps;
	vmmu_paging_update(&s->v->paging);
	assert_int_equal(vmmu_vcpu_set_cr(s->v, VMMU_CR3, ps->cr3), 0);
}

static void both_flush(void)
{
	struct side *s[3] = { &dir, &npt, &ept };
	unsigned i;

	for (i = 0; i < 3; i++) {
		uint64_t cr4 = s[i]->v->paging.cr4;

		assert_int_equal(vmmu_vcpu_set_cr(s[i]->v, VMMU_CR4,
						  cr4 ^ X86_CR4_PGE), 0);
		assert_int_equal(vmmu_vcpu_set_cr(s[i]->v, VMMU_CR4, cr4), 0);
	}
}

static bool in_rom(uint64_t gpa)
{
	return gpa >= ROM_BASE && gpa < ROM_BASE + (2ULL << 20);
}

static void compare(const struct vmmu_access *acc, uint64_t dv, uint64_t nv,
		    const struct vmmu_access_result *d,
		    const struct vmmu_access_result *n)
{
	if (n->status == VMMU_ACCESS_VMM && n->reason == VMMU_REASON_ROM_WRITE &&
	    n->exit.guest_pt && d->status != n->status) {
		assert_true(in_rom(n->exit.exitinfo2));
		rom_tables++;
		return;
	}
	if (d->status != n->status ||
	    (d->status == VMMU_ACCESS_DONE && acc->kind == R && dv != nv) ||
	    (d->status == VMMU_ACCESS_FAULT &&
	     (d->fault.vector != n->fault.vector ||
	      d->fault.error_code != n->fault.error_code ||
	      d->fault.cr2.v != n->fault.cr2.v)) ||
	    (d->status == VMMU_ACCESS_VMM &&
	     (d->reason != n->reason || d->gpa.v != n->gpa.v)))
		fail_msg("step %llu gva %#llx kind %d cpl %d: direct status %d "
			 "reason %d gpa %#llx pfec %#x data %#llx; npt status %d "
			 "reason %d gpa %#llx pfec %#x data %#llx info1 %#llx",
			 (unsigned long long)steps_done,
			 (unsigned long long)acc->gva.v, acc->kind, acc->cpl,
			 d->status, d->reason, (unsigned long long)d->gpa.v,
			 d->fault.error_code, (unsigned long long)dv, n->status,
			 n->reason, (unsigned long long)n->gpa.v,
			 n->fault.error_code, (unsigned long long)nv,
			 (unsigned long long)n->exit.exitinfo1);
	faults += d->status == VMMU_ACCESS_FAULT;
	vmm += d->status == VMMU_ACCESS_VMM;
	reads_ok += d->status == VMMU_ACCESS_DONE && acc->kind == R;
}

/*
 * The gpa a write went to. A TLB hit reports only the host address (the
 * tables may have changed under it: the guest writes its own tables), so
 * the NPT VM's populated pages are mapped back from host to guest.
 */
static uint64_t hpa_to_gpa[(64ULL << 20) >> 12];

static uint64_t written_gpa(const struct vmmu_access_result *n)
{
	uint64_t i = n->hpa.v >> 12, g;
	hpa_t h;

	if (!n->tlb_hit)
		return n->gpa.v;
	assert_true(i < sizeof(hpa_to_gpa) / sizeof(hpa_to_gpa[0]));
	if (!hpa_to_gpa[i])
		for (g = 0; g < TOP; g += VMMU_PAGE_SIZE)
			if (vmmu_vm_gpa_to_hpa(npt.vm, mk_gpa(g), &h) == 0)
				hpa_to_gpa[h.v >> 12] = g | 1;
	assert_true(hpa_to_gpa[i]);
	return (hpa_to_gpa[i] & ~1ULL) | (n->hpa.v & 0xfff);
}

/* NPT against EPT (with A/D: guest-table reads are writes on both). */
static void compare_ept(const struct vmmu_access *acc, uint64_t nv,
			uint64_t ev, const struct vmmu_access_result *n,
			const struct vmmu_access_result *e)
{
	if (n->status != e->status ||
	    (n->status == VMMU_ACCESS_DONE && acc->kind == R && nv != ev) ||
	    (n->status == VMMU_ACCESS_FAULT &&
	     (n->fault.vector != e->fault.vector ||
	      n->fault.error_code != e->fault.error_code ||
	      n->fault.cr2.v != e->fault.cr2.v)) ||
	    (n->status == VMMU_ACCESS_VMM &&
	     (n->reason != e->reason || n->gpa.v != e->gpa.v)))
		fail_msg("step %llu gva %#llx kind %d cpl %d: npt status %d "
			 "reason %d gpa %#llx pfec %#x; ept status %d reason %d "
			 "gpa %#llx pfec %#x", (unsigned long long)steps_done,
			 (unsigned long long)acc->gva.v, acc->kind, acc->cpl,
			 n->status, n->reason, (unsigned long long)n->gpa.v,
			 n->fault.error_code, e->status, e->reason,
			 (unsigned long long)e->gpa.v, e->fault.error_code);
}

static void access_step(void)
{
	struct vmmu_access acc = { mk_gva(rt_gva()),
				   (enum vmmu_access_kind)(rnd() % 3),
				   chance(50) ? 3 : 0, false };
	uint64_t val = rnd(), dv = val, nv = val, ev = val;
	struct vmmu_op od = { .acc = acc, .size = 8, .data = &dv };
	struct vmmu_op on = { .acc = acc, .size = 8, .data = &nv };
	struct vmmu_op oe = { .acc = acc, .size = 8, .data = &ev };
	struct vmmu_access_result d, n, e;

	assert_int_equal(vmmu_vcpu_access(dir.v, &od, &d), 0);
	assert_int_equal(vmmu_vcpu_access(npt.v, &on, &n), 0);
	assert_int_equal(vmmu_vcpu_access(ept.v, &oe, &e), 0);
	compare(&acc, dv, nv, &d, &n);
	compare_ept(&acc, nv, ev, &n, &e);
	if (n.status == VMMU_ACCESS_DONE && acc.kind == W && !n.emulated) {
		uint64_t gpa = written_gpa(&n);

		if (logging && gpa < TOP)
			written[gpa >> 12] = 1;
		/*
		 * The guest wrote one of its own tables: it invalidates, as
		 * SDM 4.10.4.2 asks, so that neither side may use a stale
		 * translation the other has already dropped.
		 */
		if (gpa >= FX_TABLES && gpa < rt_table(RT_TABLES))
			both_flush();
	}
}

static void tables_equal(void)
{
	static uint8_t a[RT_TABLES * 4096], b[RT_TABLES * 4096];

	assert_int_equal(vmmu_vm_read_gpa(dir.vm, mk_gpa(FX_TABLES), a, sizeof(a)), 0);
	assert_int_equal(vmmu_vm_read_gpa(npt.vm, mk_gpa(FX_TABLES), b, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(vmmu_vm_read_gpa(ept.vm, mk_gpa(FX_TABLES), b, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(a));
}

/* Every page the guest wrote while logging is in the log. */
static void log_complete(void)
{
	unsigned i;

	peek_logged();
	for (i = 0; i < TOP >> 12; i++)
		if (written[i] && !logged[i])
			fail_msg("page %#x written but not logged", i << 12);
}

static void dirty_step(void)
{
	uint64_t gpa, g, np;

	if (!logging) {
		memset(logged, 0, sizeof(logged));
		memset(written, 0, sizeof(written));
		assert_int_equal(vmmu_dirty_enable_ram(npt.vm), 0);
		logging = true;
	} else if (chance(30)) {
		log_complete();
		assert_int_equal(vmmu_dirty_disable(npt.vm), 0);
		logging = false;
	} else {
		/* Clean a 2 MiB range: check, forget (it is re-armed). */
		log_complete();
		gpa = (rnd() % (TOP >> 21)) << 21;
		assert_int_equal(vmmu_dirty_range(npt.vm, &g, &np), 0);
		if ((gpa >> 12) < g || (gpa >> 12) + 512 > g + np)
			return;
		memset(written + (gpa >> 12), 0, 512);
		assert_int_equal(vmmu_dirty_clean(npt.vm, gpa >> 12, 512, NULL,
						  NULL), 0);
	}
}

static void test_npt_against_direct(void **state)
{
	struct vmmu_paging_state ps;
	const char *env = getenv("NPT_RANDOM_STEPS");
	const char *seed = getenv("NPT_RANDOM_SEED");
	uint64_t steps = env ? strtoull(env, NULL, 0) : 20000;
	unsigned i;

	(void)state;
	if (seed)
		rs ^= strtoull(seed, NULL, 0) * 0x9e3779b97f4a7c15ULL;
	side_create(&dir, VMMU_BACKEND_NONE);
	side_create(&npt, VMMU_BACKEND_NPT);
	side_create(&ept, VMMU_BACKEND_EPT);
	for (i = 0; i < RT_TABLES * 512; i++)
		both_write(FX_TABLES + i * 8ULL, rt_entry());
	/* The two root entries in use start well-formed. */
	both_write(rt_table(0), rt_table(1) | PRWU);
	both_write(rt_table(0) + 8, rt_table(2) | PRWU);
	memset(&ps, 0, sizeof(ps));
	ps.cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	ps.cr4 = X86_CR4_PAE | X86_CR4_PGE;
	ps.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	ps.cr3 = rt_table(0);
	ps.rflags = 2;
	ps.maxphyaddr = 48;
	ps.quirks = VMMU_PAGING_AMD;
	set_paging(&dir, &ps);
	set_paging(&npt, &ps);
	set_paging(&ept, &ps);
	for (steps_done = 0; steps_done < steps; steps_done++) {
		if (chance(3)) {
			both_write(rt_table((unsigned)(rnd() % RT_TABLES)) +
				   (rnd() % 512) * 8, rt_entry());
			both_flush();
		} else if (chance(1)) {
			dirty_step();
		} else {
			access_step();
		}
		if (steps_done % 256 == 0)
			tables_equal();
	}
	if (logging)
		log_complete();
	tables_equal();
	fprintf(stderr, "%llu steps: %llu reads, %llu faults, %llu to the VMM, "
		"%llu MMIO, %llu guest tables in ROM; npt: %llu #NPF, %llu "
		"log-dirty, %llu recalcs, %llu splits, %llu flushes\n",
		(unsigned long long)steps, (unsigned long long)reads_ok,
		(unsigned long long)faults, (unsigned long long)vmm,
		(unsigned long long)mmio_ops, (unsigned long long)rom_tables,
		(unsigned long long)npt.v->stats.exits,
		(unsigned long long)vmmu_npt_stats(npt.vm)->npf[VMMU_NPF_LOG_DIRTY],
		(unsigned long long)vmmu_npt_stats(npt.vm)->recalcs,
		(unsigned long long)vmmu_npt_stats(npt.vm)->splits,
		(unsigned long long)vmmu_npt_stats(npt.vm)->flush_asid);
	/* The mix must reach every kind of outcome. */
	assert_true(reads_ok > 100 && faults > 100 && vmm > 10 &&
		    mmio_ops > 10);
	assert_true(vmmu_npt_stats(npt.vm)->npf[VMMU_NPF_LOG_DIRTY] > 0);
	vmmu_vm_destroy(dir.vm);
	vmmu_vm_destroy(npt.vm);
	vmmu_vm_destroy(ept.vm);
	vmmu_hosted_destroy(dir.arena);
	vmmu_hosted_destroy(npt.arena);
	vmmu_hosted_destroy(ept.arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_npt_against_direct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
