/* SPDX-License-Identifier: MIT */
/*
 * The same guest on every backend gives the same guest-visible results,
 * access by access: four identical model VMs (migrate/model.h: 4-level
 * guest paging, 2 MiB guest pages in the page directories at gpa 0x3000)
 * on the direct, EPT, NPT and shadow backends take one random stream of
 * steps: guest stores that rewrite a page-directory entry (present, R/W,
 * U/S, NX bits, or a 2 MiB page split into a 4 KiB page table built in
 * guest memory), each followed by INVLPG of the region as a guest kernel
 * would; and reads, writes and fetches at CPL 0 and 3 in the regions.
 * Per step every backend must return the same status, the same fault
 * (vector, error code, CR2) and the same data; at the end all guest memory
 * (the guest's A/D bits included) must be equal. Under shadow paging the
 * page-table stores trap and are emulated, and the shadows follow them;
 * under EPT and NPT they are plain stores; the guest cannot tell.
 * XB_SEED=n runs another stream (a long run: for n in $(seq 100); do
 * XB_SEED=$n tests/access/test_cross_backend; done), XB_DEBUG=1 prints the
 * page-directory changes.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "vmmu/access.h"
#include "vmmu/backend.h"
#include "vmmu/x86_pte.h"
#include "migrate/model.h"

#define NB      4
#define MEM     (16ULL << 20)
#define PD_GPA  0x3000ULL       /* model.c's first page directory */
#define PT_GPA  0x9000ULL       /* 4 KiB page tables built by the test */
#define REGIONS 6               /* 2 MiB regions 2..7 are played with */
#define STEPS   20000

static const char *const names[NB] = { "direct", "ept", "npt", "shadow" };

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void create_all(struct model m[NB])
{
	static const struct {
		enum vmmu_backend_kind kind;
		const struct vmmu_backend_ops *ops;
	} b[NB] = {
		{ VMMU_BACKEND_NONE, NULL },
		{ VMMU_BACKEND_EPT, &vmmu_backend_ept },
		{ VMMU_BACKEND_NPT, &vmmu_backend_npt },
		{ VMMU_BACKEND_SHADOW, &vmmu_backend_shadow },
	};
	unsigned i;

	for (i = 0; i < NB; i++) {
		struct model_cfg cfg = { .mem = MEM, .vcpus = 1, .eager = true,
					 .workload = MODEL_WL_IDLE,
					 .kind = b[i].kind, .ops = b[i].ops };

		assert_int_equal(model_create(&m[i], &cfg), 0);
		m[i].vcpu[0]->paging.efer |= X86_EFER_NXE;
		vmmu_paging_update(&m[i].vcpu[0]->paging);
		assert_int_equal(vmmu_vcpu_set_cr(m[i].vcpu[0], VMMU_EFER,
						  m[i].vcpu[0]->paging.efer), 0);
	}
}

/* One guest access on every VM; all must see the same. */
static void access_all(struct model m[NB], uint64_t gva,
		       enum vmmu_access_kind kind, unsigned cpl, unsigned step)
{
	struct vmmu_access_result r[NB];
	uint64_t data[NB];
	int rc[NB];
	unsigned i;

	for (i = 0; i < NB; i++) {
		struct vmmu_op op = { .acc = { mk_gva(gva), kind, (uint8_t)cpl,
					       false }, .size = 8,
				      .data = &data[i] };

		data[i] = kind == VMMU_ACCESS_WRITE ? gva ^ step : 0;
		rc[i] = vmmu_vcpu_access(m[i].vcpu[0], &op, &r[i]);
	}
	for (i = 1; i < NB; i++) {
		if (rc[i] != rc[0] || r[i].status != r[0].status ||
		    (r[0].status == VMMU_ACCESS_FAULT &&
		     (r[i].fault.vector != r[0].fault.vector ||
		      r[i].fault.error_code != r[0].fault.error_code ||
		      r[i].fault.cr2.v != r[0].fault.cr2.v)) ||
		    (r[0].status == VMMU_ACCESS_DONE && data[i] != data[0]))
			fail_msg("step %u: %s gva %#llx kind %d cpl %u: %s rc %d "
				 "status %d vec %u ec %#x data %#llx, %s rc %d "
				 "status %d vec %u ec %#x data %#llx", step,
				 "access", (unsigned long long)gva, kind, cpl,
				 names[0], rc[0], r[0].status, r[0].fault.vector,
				 r[0].fault.error_code,
				 (unsigned long long)data[0], names[i], rc[i],
				 r[i].status, r[i].fault.vector,
				 r[i].fault.error_code,
				 (unsigned long long)data[i]);
	}
}

/* A guest kernel store of pde into directory slot k, then INVLPG. */
static void set_pde_all(struct model m[NB], unsigned k, uint64_t pde)
{
	struct vmmu_access_result r;
	unsigned i, p;

	if (getenv("XB_DEBUG"))
		fprintf(stderr, "  pde[%u] = %#llx\n", k, (unsigned long long)pde);
	for (i = 0; i < NB; i++) {
		assert_int_equal(vmmu_vcpu_write(m[i].vcpu[0],
				 mk_gva(PD_GPA + 8 * k), &pde, 8, 0, &r), 0);
		assert_int_equal(r.status, VMMU_ACCESS_DONE);
		/* every 4 KiB page of the region: it may have been split
		 * (TLB entries of the old mapping are per 4 KiB page) */
		for (p = 0; p < 512; p++)
			assert_int_equal(vmmu_vcpu_invlpg(m[i].vcpu[0],
				mk_gva(((uint64_t)k << 21) + ((uint64_t)p << 12))), 0);
	}
}

/* A 4 KiB page table for region k (identity), built by guest stores. */
static void build_pt_all(struct model m[NB], unsigned k, uint64_t *s)
{
	uint64_t pt = PT_GPA + (uint64_t)(k - 2) * 0x1000, e;
	struct vmmu_access_result r;
	unsigned i, j;

	for (j = 0; j < 512; j++) {
		e = (((uint64_t)k << 21) + ((uint64_t)j << 12)) | X86_PTE_P;
		if (rnd(s) % 4)
			e |= X86_PTE_RW;
		if (rnd(s) % 4)
			e |= X86_PTE_US;
		if (rnd(s) % 8 == 0)
			e &= ~X86_PTE_P;
		if (getenv("XB_DEBUG") && j == 0x145)
			fprintf(stderr, "  pt[%u][0x145] = %#llx\n", k,
				(unsigned long long)e);
		for (i = 0; i < NB; i++) {
			assert_int_equal(vmmu_vcpu_write(m[i].vcpu[0],
					 mk_gva(pt + 8 * j), &e, 8, 0, &r), 0);
			assert_int_equal(r.status, VMMU_ACCESS_DONE);
		}
	}
	set_pde_all(m, k, pt | X86_PTE_P | X86_PTE_RW | X86_PTE_US);
}

static void random_pde(struct model m[NB], unsigned k, uint64_t *s)
{
	uint64_t r = rnd(s), pde = ((uint64_t)k << 21) | X86_PTE_PS | X86_PTE_P;

	if (r % 8 == 0) {
		build_pt_all(m, k, s);
		return;
	}
	if (r & 16)
		pde |= X86_PTE_RW;
	if (r & 32)
		pde |= X86_PTE_US;
	if ((r & 192) == 0)
		pde &= ~X86_PTE_P;
	if ((r >> 8) % 4 == 0)
		pde |= X86_PTE_NX;
	set_pde_all(m, k, pde);
}

static void same_memory(struct model m[NB])
{
	static uint8_t a[4096], b[4096];
	uint64_t g;
	unsigned i;

	for (g = 0; g < MEM >> 12; g++) {
		assert_int_equal(vmmu_vm_read_gpa(m[0].vm, mk_gpa(g << 12), a,
						  4096), 0);
		for (i = 1; i < NB; i++) {
			assert_int_equal(vmmu_vm_read_gpa(m[i].vm, mk_gpa(g << 12),
							  b, 4096), 0);
			if (memcmp(a, b, 4096))
				fail_msg("guest page %#llx differs: %s against %s",
					 (unsigned long long)(g << 12), names[0],
					 names[i]);
		}
	}
}

static void test_same_guest_results(void **state)
{
	static struct model m[NB];
	uint64_t s = getenv("XB_SEED") ? strtoull(getenv("XB_SEED"), NULL, 0)
				       : 20261203;
	unsigned step, i, faults = 0, changes = 0;

	(void)state;
	create_all(m);
	for (step = 0; step < STEPS; step++) {
		uint64_t r = rnd(&s);
		unsigned k = 2 + (unsigned)(r % REGIONS);

		if (r % 16 == 0) {
			if (getenv("XB_DEBUG"))
				fprintf(stderr, "step %u: change region %u\n", step, k);
			random_pde(m, k, &s);
			changes++;
			continue;
		}
		access_all(m, ((uint64_t)k << 21) + (rnd(&s) % 512) * 4096 +
			   (rnd(&s) % 512) * 8,
			   (enum vmmu_access_kind)(rnd(&s) % 3),
			   rnd(&s) % 2 ? 3 : 0, step);
	}
	for (i = 0; i < NB; i++)
		faults += (unsigned)m[i].vcpu[0]->stats.guest_faults;
	same_memory(m);
	print_message("%u steps, %u page-directory changes, %u guest faults "
		      "on the four backends, shadow emulated %llu stores\n",
		      STEPS, changes, faults,
		      (unsigned long long)m[3].vcpu[0]->stats.emulated);
	assert_true(changes > STEPS / 32);
	assert_true(faults > NB * 10);
	assert_true(m[3].vcpu[0]->stats.emulated > 0);
	for (i = 0; i < NB; i++)
		model_destroy(&m[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_guest_results),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
