/* SPDX-License-Identifier: MIT */
/*
 * Isolation: a guest that writes arbitrary bytes into its page tables
 * (self-maps, loops, entries at MMIO, holes and frames beyond its RAM,
 * reserved bits) and flips its paging mode at random must never get a
 * shadow leaf for a host page the VM does not own (a second VM shares the
 * host arena), never a writable leaf for one of its page-table frames
 * (vmmu_shadow_check), never crash or kill the VM; and every access still
 * gives the reference walker's outcome on the same memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host/hosted.h"
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "shadow-fallback/shadow.h"

#define IS_RAM     (4ULL << 20)
#define IS_TABLES  0x10000ULL
#define IS_NTAB    16
#define IS_MMIO    0x40000000ULL
#define IS_STEPS   20000

static uint64_t rs = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dULL;
}

struct iso {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm, *other;
	struct vmmu_vcpu *vcpu;
	uint64_t own[IS_RAM >> 12];
	size_t nown;
	uint64_t leaves, checked, faults, done, vmm;
	struct vmmu_gmem vm_mem;
};

static int ro_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	const struct vmmu_gmem *m = ctx;

	return m->read(m->ctx, gpa, buf, len);
}

static int ro_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t nv,
		      size_t len)
{
	(void)ctx, (void)gpa, (void)old, (void)nv, (void)len;
	return 0;
}

/* An entry an attacker might write: mostly plausible, often hostile. */
static uint64_t hostile_entry(void)
{
	uint64_t e, pick = rnd() % 10;

	if (pick < 5)
		e = IS_TABLES + (rnd() % IS_NTAB) * 4096;       /* loops, self-maps */
	else if (pick < 7)
		e = (rnd() % (IS_RAM >> 12)) << 12;
	else if (pick < 8)
		e = IS_MMIO;
	else if (pick < 9)
		e = (rnd() & 0x000ffffffffff000ULL);            /* anywhere */
	else
		e = rnd();                                      /* any bits */
	e |= rnd() & (X86_PTE_RW | X86_PTE_US | X86_PTE_A | X86_PTE_D |
		      X86_PTE_PS | X86_PTE_G | X86_PTE_PWT | X86_PTE_PCD);
	if (rnd() % 100 < 90)
		e |= X86_PTE_P;
	if (rnd() % 100 < 5)
		e |= X86_PTE_NX;
	return e;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void collect_own(struct iso *s)
{
	hpa_t h;

	s->nown = 0;
	for (uint64_t g = 0; g < IS_RAM; g += 4096)
		if (vmmu_vm_gpa_to_hpa(s->vm, mk_gpa(g), &h) == 0)
			s->own[s->nown++] = h.v;
	qsort(s->own, s->nown, sizeof(s->own[0]), cmp_u64);
}

static int leaf_owned(void *ctx, hpa_t hpa, bool writable)
{
	struct iso *s = ctx;

	(void)writable;
	s->leaves++;
	return bsearch(&hpa.v, s->own, s->nown, sizeof(s->own[0]), cmp_u64) ? 0 : 1;
}

static void random_mode(struct iso *s)
{
	static const uint64_t cr4s[] = {
		0, X86_CR4_PSE, X86_CR4_PAE, X86_CR4_PAE, X86_CR4_PAE | X86_CR4_LA57,
	};
	unsigned m = (unsigned)(rnd() % 5);
	uint64_t efer = (rnd() & 1 ? X86_EFER_NXE : 0) |
			(m >= 3 ? X86_EFER_LME | X86_EFER_LMA : 0);
	uint64_t cr4 = cr4s[m] | (rnd() & 1 ? X86_CR4_PGE : 0) |
		       (rnd() % 4 == 0 ? X86_CR4_SMEP | X86_CR4_SMAP : 0);

	(void)vmmu_vcpu_set_cr(s->vcpu, VMMU_CR0, X86_CR0_PE);
	assert_int_equal(vmmu_vcpu_set_cr(s->vcpu, VMMU_EFER, efer), 0);
	assert_int_equal(vmmu_vcpu_set_cr(s->vcpu, VMMU_CR4, cr4), 0);
	(void)vmmu_vcpu_set_cr(s->vcpu, VMMU_CR3, IS_TABLES + (rnd() % IS_NTAB) * 4096);
	/* PAE with bad PDPTEs is #GP: the register keeps its old value. */
	(void)vmmu_vcpu_set_cr(s->vcpu, VMMU_CR0, X86_CR0_PG | X86_CR0_PE |
			       (rnd() & 1 ? X86_CR0_WP : 0));
}

static void one_access(struct iso *s)
{
	struct vmmu_access acc = { mk_gva((rnd() & 0xc060301ff8ULL) |
				   (rnd() & 1 ? 0xffff800000000000ULL : 0)),
				   (enum vmmu_access_kind)(rnd() % 3),
				   (uint8_t)(rnd() & 1 ? 3 : 0), false };
	uint64_t data = rnd();
	struct vmmu_op op = { .acc = acc, .size = 8, .data = &data };
	struct vmmu_walk_result ref;
	struct vmmu_access_result r;
	struct vmmu_gmem mem = { &s->vm_mem, ro_read, ro_cmpxchg };
	int wrc, rc;

	/* The reference walks the same memory; its A/D updates are dropped. */
	vmmu_vm_gmem(s->vm, &s->vm_mem);
	wrc = vmmu_walk(&s->vcpu->paging, &mem, &acc, &ref);
	assert_int_equal(vmmu_vcpu_invpcid(s->vcpu, 2, 0, mk_gva(0)), 0);
	rc = vmmu_vcpu_access(s->vcpu, &op, &r);
	assert_false(s->vm->dead);
	if (wrc == VMMU_EINVAL) {
		assert_int_equal(rc, VMMU_EINVAL);  /* no valid paging mode */
		return;
	}
	assert_int_equal(rc, 0);
	s->checked++;
	if (wrc < 0) {
		assert_int_equal(r.status, VMMU_ACCESS_VMM);
		s->vmm++;
	} else if (!ref.ok) {
		assert_int_equal(r.status, VMMU_ACCESS_FAULT);
		assert_int_equal(r.fault.vector, ref.vector);
		assert_int_equal(r.fault.error_code, ref.error_code);
		s->faults++;
	} else if (r.status == VMMU_ACCESS_DONE) {
		hpa_t h;

		if (r.emulated)
			assert_int_equal(r.gpa.v, ref.gpa.v);
		else
			assert_true(vmmu_vm_gpa_to_hpa(s->vm, ref.gpa, &h) == 0 &&
				    h.v == (r.hpa.v & ~0xfffULL) + (ref.gpa.v & 0xfff));
		s->done++;
	} else {
		assert_int_equal(r.status, VMMU_ACCESS_VMM);
		assert_int_equal(r.gpa.v, ref.gpa.v);
		s->vmm++;
	}
}

static void test_hostile_tables(void **state)
{
	static struct iso s;
	struct vmmu_vcpu *ov;
	const char *why = NULL;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(vmmu_hosted_create(64ULL << 20, &s.arena), 0);
	vmmu_hosted_platform(s.arena, &s.plat);
	assert_int_equal(vmmu_vm_create(&s.plat, &s.vm), 0);
	assert_int_equal(vmmu_vm_create(&s.plat, &s.other), 0);
	assert_int_equal(vmmu_vm_add_slot(s.vm, mk_gpa(0), IS_RAM, VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_add_slot(s.vm, mk_gpa(IS_MMIO), 4096, VMMU_MEM_MMIO), 0);
	assert_int_equal(vmmu_vm_add_slot(s.other, mk_gpa(0), IS_RAM, VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_set_backend(s.vm, VMMU_BACKEND_SHADOW,
					     &vmmu_backend_shadow), 0);
	assert_int_equal(vmmu_vm_set_backend(s.other, VMMU_BACKEND_SHADOW,
					     &vmmu_backend_shadow), 0);
	assert_int_equal(vmmu_shadow_set_pool_pages(s.vm, 64), 0);
	assert_int_equal(vmmu_vcpu_create(s.vm, &s.vcpu), 0);
	assert_int_equal(vmmu_vcpu_create(s.other, &ov), 0);
	s.vcpu->paging.maxphyaddr = 40;
	/* The other VM's memory is populated: its host pages exist. */
	for (uint64_t g = 0; g < IS_RAM; g += 4096)
		assert_int_equal(vmmu_vm_write_gpa(s.other, mk_gpa(g), &g, 8), 0);
	for (unsigned i = 0; i < IS_NTAB * 512; i++) {
		uint64_t e = hostile_entry();

		assert_int_equal(vmmu_vm_write_gpa(s.vm, mk_gpa(IS_TABLES + i * 8ULL),
						   &e, 8), 0);
	}
	random_mode(&s);
	for (unsigned step = 0; step < IS_STEPS; step++) {
		unsigned p = (unsigned)(rnd() % 100);

		if (p < 3) {
			random_mode(&s);
		} else if (p < 13) {
			uint64_t e = hostile_entry();
			uint64_t gpa = IS_TABLES + (rnd() % (IS_NTAB * 512)) * 8;

			assert_int_equal(vmmu_vm_write_gpa(s.vm, mk_gpa(gpa), &e, 8), 0);
		} else {
			one_access(&s);
		}
		if (step % 100 == 0) {
			collect_own(&s);
			assert_int_equal(vmmu_shadow_for_each_leaf(s.vm, leaf_owned, &s), 0);
			if (vmmu_shadow_check(s.vm, &why) < 0)
				fail_msg("step %u: %s", step, why);
		}
	}
	fprintf(stderr, "%u steps: %llu accesses checked (%llu done, %llu faults, "
		"%llu to the VMM), %llu leaves checked for ownership\n", IS_STEPS,
		(unsigned long long)s.checked, (unsigned long long)s.done,
		(unsigned long long)s.faults, (unsigned long long)s.vmm,
		(unsigned long long)s.leaves);
	vmmu_vm_destroy(s.vm);
	vmmu_vm_destroy(s.other);
	vmmu_hosted_destroy(s.arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
