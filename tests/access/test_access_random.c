/* SPDX-License-Identifier: MIT */
/*
 * Differential property test of the access path and its TLB model.
 *
 * Random 4-level tables (entries pointing among a few table pages, random
 * rights, large pages, global bits), random accesses at CPL 0 and 3 and
 * random changes to the tables. Every change is followed by an
 * invalidation that the SDM says is enough for it (4.10.4.2: MOV to CR4
 * toggling PGE flushes everything, INVPCID type 2 likewise; INVLPG for a
 * leaf change when the changed PTE is known to serve one address only is
 * not attempted: with shared tables a PTE serves many). The reference is
 * vmmu_walk on a snapshot of the tables taken just before the access: the
 * path, whether it hits its TLB, starts from a paging-structure-cache
 * entry or walks from CR3, must give the same outcome: the same gpa, or
 * the same fault vector, error code and CR2.
 *
 * Stale translations are then checked from the other side: after a change
 * without any invalidation, the outcome must be either the reference's
 * before the change or after it (SDM 4.10.4.3), never a third one.
 */
#include <stdio.h>
#include <stdlib.h>

#include "vmmu/access.h"
#include "walk/walk_fixture.h"

#define AR_TABLES  8
#define AR_STEPS   40000

static uint64_t ar_state = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	ar_state ^= ar_state >> 12;
	ar_state ^= ar_state << 25;
	ar_state ^= ar_state >> 27;
	return ar_state * 0x2545f4914f6cdd1dULL;
}

static bool chance(unsigned percent)
{
	return rnd() % 100 < percent;
}

static uint64_t ar_table(unsigned i)
{
	return FX_TABLES + (uint64_t)i * 0x1000;
}

/* A mostly well-formed entry: present, pointing at a table or a frame. */
static uint64_t ar_entry(void)
{
	uint64_t e = chance(95) ? ar_table((unsigned)(rnd() % AR_TABLES))
				: (rnd() % 0x400) << 12;

	e |= rnd() & (X86_PTE_A | X86_PTE_D | X86_PTE_G);
	if (chance(97))
		e |= P;
	if (chance(85))
		e |= X86_PTE_RW;
	if (chance(90))
		e |= X86_PTE_US;
	if (chance(5))
		e |= PS;
	if (chance(5))
		e |= NX;
	return e;
}

/* Accesses stay in 8 small windows of 8 pages so that TLB and PWC entries repeat. */
static uint64_t ar_gva(void)
{
	uint64_t base = (rnd() % 2) << 39 | (rnd() % 2) << 30 |
			(rnd() % 2) << 21;

	return base | (rnd() % 8) << 12 | (rnd() % 0x1000 & ~7ULL);
}

struct ar {
	struct fx *f;
	struct vmmu_vcpu *vcpu;
	uint8_t snap[AR_TABLES * 4096];
	uint64_t hits, pwc, faults, done, stale_checked;
};

/* The reference reads a snapshot of the tables; data is never read. */
static int snap_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	struct ar *a = ctx;

	if (gpa.v < FX_TABLES || gpa.v + len > FX_TABLES + sizeof(a->snap)) {
		memset(buf, 0, len);
		return 0;
	}
	memcpy(buf, a->snap + (gpa.v - FX_TABLES), len);
	return 0;
}

static int snap_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t nv,
			size_t len)
{
	struct ar *a = ctx;
	uint8_t *p;

	if (gpa.v < FX_TABLES || gpa.v + len > FX_TABLES + sizeof(a->snap))
		return 0;
	p = a->snap + (gpa.v - FX_TABLES);
	(void)old;
	memcpy(p, &nv, len);
	return 0;
}

static void ar_snapshot(struct ar *a)
{
	assert_int_equal(vmmu_vm_read_gpa(a->f->vm, mk_gpa(FX_TABLES), a->snap,
					  sizeof(a->snap)), 0);
}

static struct vmmu_walk_result ar_reference(struct ar *a,
					    const struct vmmu_access *acc)
{
	struct vmmu_gmem mem = { a, snap_read, snap_cmpxchg };
	struct vmmu_walk_result r;

	assert_int_equal(vmmu_walk(&a->vcpu->paging, &mem, acc, &r), 0);
	return r;
}

static bool ar_same(const struct ar *a, const struct vmmu_walk_result *ref,
		    const struct vmmu_access_result *got)
{
	hpa_t hpa;

	/* A TLB hit knows the host address only (as a CPU's TLB does). */
	if (ref->ok && got->tlb_hit)
		return vmmu_vm_gpa_to_hpa(a->f->vm, ref->gpa, &hpa) == 0 &&
		       hpa.v == got->hpa.v;
	if (ref->ok)
		return got->status != VMMU_ACCESS_FAULT &&
		       got->gpa.v == ref->gpa.v;
	return got->status == VMMU_ACCESS_FAULT &&
	       got->fault.vector == ref->vector &&
	       got->fault.error_code == ref->error_code &&
	       got->fault.cr2.v == ref->cr2.v;
}

static struct vmmu_access ar_access(void)
{
	struct vmmu_access acc = { mk_gva(ar_gva()),
				   (enum vmmu_access_kind)(rnd() % 3),
				   chance(50) ? 3 : 0, false };

	return acc;
}

static struct vmmu_access_result ar_run(struct ar *a,
					const struct vmmu_access *acc)
{
	struct vmmu_op op = { .acc = *acc, .size = 8 };
	struct vmmu_access_result got;

	assert_int_equal(vmmu_vcpu_access(a->vcpu, &op, &got), 0);
	a->hits += got.tlb_hit;
	a->faults += got.status == VMMU_ACCESS_FAULT;
	a->done += got.status != VMMU_ACCESS_FAULT;
	return got;
}

static void ar_change(struct ar *a)
{
	uint64_t gpa = ar_table((unsigned)(rnd() % AR_TABLES)) +
		       (rnd() % 512) * 8;

	wr(a->f, gpa, ar_entry(), 8);
}

/* An invalidation sufficient for any change (SDM 4.10.4.1). */
static void ar_flush(struct ar *a)
{
	uint64_t cr4 = a->vcpu->paging.cr4;

	if (chance(50)) {
		assert_int_equal(vmmu_vcpu_set_cr(a->vcpu, VMMU_CR4,
						  cr4 ^ X86_CR4_PGE), 0);
		assert_int_equal(vmmu_vcpu_set_cr(a->vcpu, VMMU_CR4, cr4), 0);
	} else {
		assert_int_equal(vmmu_vcpu_invpcid(a->vcpu, 2, 0, mk_gva(0)), 0);
	}
}

/* A change with no invalidation: old or new outcome, nothing else. */
static void ar_stale_step(struct ar *a)
{
	struct vmmu_access acc = ar_access();
	struct vmmu_walk_result before, after;
	struct vmmu_access_result got;

	ar_snapshot(a);
	before = ar_reference(a, &acc);
	(void)ar_run(a, &acc);      /* may fill the TLB from "before" */
	ar_change(a);
	ar_snapshot(a);
	after = ar_reference(a, &acc);
	got = ar_run(a, &acc);
	if (!ar_same(a, &before, &got) && !ar_same(a, &after, &got))
		fail_msg("gva %#llx kind %d cpl %d: neither old (%s %#llx "
			 "pfec %#x) nor new (%s %#llx pfec %#x) outcome: status "
			 "%d gpa %#llx pfec %#x tlb hit %d",
			 (unsigned long long)acc.gva.v, acc.kind, acc.cpl,
			 before.ok ? "ok" : "fault",
			 (unsigned long long)before.gpa.v, before.error_code,
			 after.ok ? "ok" : "fault",
			 (unsigned long long)after.gpa.v, after.error_code,
			 got.status, (unsigned long long)got.gpa.v,
			 got.fault.error_code, got.tlb_hit);
	a->stale_checked++;
	ar_flush(a);
}

static void ar_step(struct ar *a)
{
	struct vmmu_access acc = ar_access();
	struct vmmu_walk_result ref;
	struct vmmu_access_result got;

	ar_snapshot(a);
	ref = ar_reference(a, &acc);
	got = ar_run(a, &acc);
	if (!ar_same(a, &ref, &got))
		fail_msg("gva %#llx kind %d cpl %d: walk %s gpa %#llx pfec %#x, "
			 "path status %d gpa %#llx pfec %#x (tlb hit %d)",
			 (unsigned long long)acc.gva.v, acc.kind, acc.cpl,
			 ref.ok ? "ok" : "fault", (unsigned long long)ref.gpa.v,
			 ref.error_code, got.status,
			 (unsigned long long)got.gpa.v, got.fault.error_code,
			 got.tlb_hit);
}

static void test_random_against_walker(void **state)
{
	static struct ar a;
	struct vmmu_vm *vm;
	unsigned i, step;

	memset(&a, 0, sizeof(a));
	assert_int_equal(fx_setup((void **)&a.f), 0);
	vm = a.f->vm;
	assert_int_equal(vmmu_vm_set_backend(vm, VMMU_BACKEND_NONE,
					     &vmmu_backend_direct), 0);
	assert_int_equal(vmmu_vcpu_create(vm, &a.vcpu), 0);
	for (i = 0; i < AR_TABLES * 512; i++)
		wr(a.f, FX_TABLES + i * 8ULL, ar_entry(), 8);
	wr(a.f, FX_CR3, ar_table(0) | P, 8);    /* unused: CR3 is table 0 */
	fx_long(a.f, false, 48);
	a.f->ps.cr3 = ar_table(0);
	a.f->ps.cr4 |= X86_CR4_PGE;
	a.vcpu->paging = a.f->ps;
	vmmu_paging_update(&a.vcpu->paging);
	for (step = 0; step < AR_STEPS; step++) {
		if (chance(3)) {
			ar_change(&a);
			ar_flush(&a);
		} else if (chance(2)) {
			ar_stale_step(&a);
		} else {
			ar_step(&a);
		}
	}
	a.pwc = a.vcpu->stats.pwc_walks;
	fprintf(stderr, "%u steps: %llu done, %llu faults, %llu TLB hits, %llu PWC-started "
	       "walks, %llu stale checks\n", AR_STEPS,
	       (unsigned long long)a.done, (unsigned long long)a.faults,
	       (unsigned long long)a.hits, (unsigned long long)a.pwc,
	       (unsigned long long)a.stale_checked);
	/* The mix must exercise every path, or the test proves little. */
	assert_true(a.hits > 1000 && a.pwc > 1000 && a.faults > 1000 &&
		    a.done > 1000);
	(void)state;
	fx_teardown((void **)&a.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_against_walker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
