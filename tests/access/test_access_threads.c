/* SPDX-License-Identifier: MIT */
/*
 * Invalidations between threads (core/access_inv.c): vCPU threads store
 * through vmmu_vcpu_access to one guest-virtual 2 MiB page while a VMM
 * thread remaps that page between two guest frames (a guest PDE write),
 * then calls vmmu_vm_tlb_invalidate with no initiator. The call promises
 * that on return no vCPU uses the old translation: so the old frame,
 * sampled right after the call returns, must never change again until it
 * is mapped back. Each remap must also be used (a later store lands in
 * the new frame), or the test would pass with idle writers. Run on the
 * direct, EPT and NPT backends, with the platform's heavy barrier and
 * without it (both orderings of guest mode in core/access.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/backend.h"
#include "vmmu/x86_pte.h"
#include "core/tlb.h"
#include "migrate/model.h"

#define MEM      (16ULL << 20)
#define WIN_GVA  (8ULL << 20)           /* the remapped 2 MiB page */
#define PDE_GPA  (0x3000ULL + (WIN_GVA >> 21) * 8)  /* model.c's first PD */
#define ROUNDS   150

static const uint64_t frames[2] = { 10ULL << 20, 12ULL << 20 };

struct inv_test {
	struct model m;
	atomic_int stop;
	atomic_ullong stores;
};

struct writer_arg {
	struct inv_test *t;
	unsigned i;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;
	struct vmmu_access_result res;
	uint64_t seq = 0;

	while (!atomic_load_explicit(&a->t->stop, memory_order_relaxed)) {
		uint64_t v = ((uint64_t)a->i << 56) | ++seq;

		assert_int_equal(vmmu_vcpu_write(a->t->m.vcpu[a->i],
				 mk_gva(WIN_GVA + a->i * 8), &v, 8, 0, &res), 0);
		assert_int_equal(res.status, VMMU_ACCESS_DONE);
		atomic_fetch_add_explicit(&a->t->stores, 1, memory_order_relaxed);
	}
	return NULL;
}

static void flush_all_cb(struct vmmu_tlb *tlb, void *arg)
{
	(void)arg;
	vmmu_tlb_flush_all(tlb);
}

/* The first 64 bytes of guest frame f: the writers' slots. */
static void sample(struct inv_test *t, uint64_t f, uint64_t out[8])
{
	assert_int_equal(vmmu_vm_read_gpa(t->m.vm, mk_gpa(f), out, 64), 0);
}

static void nap(long ns)
{
	struct timespec d = { 0, ns };

	nanosleep(&d, NULL);
}

static void remap_rounds(const char *name, const struct vmmu_backend_ops *ops,
			 enum vmmu_backend_kind kind, bool heavy_barrier)
{
	struct model_cfg cfg = { .mem = MEM, .vcpus = 2,
				 .workload = MODEL_WL_IDLE, .eager = true,
				 .ops = ops, .kind = kind };
	static struct inv_test t;
	struct writer_arg wa[2];
	pthread_t th[2];
	uint64_t old[2][8], now[8], fl = X86_PTE_P | X86_PTE_RW |
		X86_PTE_US | X86_PTE_PS;
	unsigned r, i, used = 0;

	memset(&t, 0, sizeof(t));
	assert_int_equal(model_create(&t.m, &cfg), 0);
	if (!heavy_barrier)
		t.m.vm->platform.heavy_barrier = NULL;  /* no vCPU runs yet */
	assert_int_equal(vmmu_vm_write_gpa(t.m.vm, mk_gpa(PDE_GPA),
			 &(uint64_t){ frames[0] | fl }, 8), 0);
	for (i = 0; i < 2; i++) {
		wa[i].t = &t;
		wa[i].i = i;
		assert_int_equal(pthread_create(&th[i], NULL, writer, &wa[i]), 0);
	}
	memset(old, 0, sizeof(old));
	for (r = 1; r <= ROUNDS; r++) {
		uint64_t to = frames[r & 1], from = frames[!(r & 1)];
		unsigned w;

		/* the frame mapped back has not changed since it was left */
		if (r > 2) {
			sample(&t, to, now);
			assert_memory_equal(now, old[r & 1], 64);
		}
		assert_int_equal(vmmu_vm_write_gpa(t.m.vm, mk_gpa(PDE_GPA),
						   &(uint64_t){ to | fl }, 8), 0);
		assert_int_equal(vmmu_vm_tlb_invalidate(t.m.vm, NULL,
						       flush_all_cb, NULL, 0), 0);
		sample(&t, from, old[!(r & 1)]);
		/* wait (up to 0.2 s) for a store to land in the new frame */
		for (w = 0; w < 10000; w++) {
			sample(&t, to, now);
			if (memcmp(now, old[r & 1], 64))
				break;
			nap(20000);
		}
		used += w < 10000;
	}
	atomic_store(&t.stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	print_message("%s%s: %u remaps, %u used by a later store, %llu stores\n",
		      name, heavy_barrier ? ", heavy barrier" : "",
		      ROUNDS, used, (unsigned long long)atomic_load(&t.stores));
	/* the writers reached the new frame after every remap */
	assert_int_equal(used, ROUNDS);
	model_destroy(&t.m);
}

static bool hosted_has_heavy_barrier(void)
{
	struct model_cfg cfg = { .mem = 4ULL << 20, .vcpus = 1,
				 .workload = MODEL_WL_IDLE };
	struct model m;
	bool has;

	assert_int_equal(model_create(&m, &cfg), 0);
	has = m.vm->platform.heavy_barrier != NULL;
	model_destroy(&m);
	return has;
}

static void run_backend(const char *name, const struct vmmu_backend_ops *ops,
			enum vmmu_backend_kind kind)
{
	remap_rounds(name, ops, kind, false);
	if (hosted_has_heavy_barrier())
		remap_rounds(name, ops, kind, true);
	else
		print_message("skipped the heavy-barrier half: the kernel offers "
			      "no private expedited membarrier\n");
}

static void test_direct(void **state)
{
	(void)state;
	run_backend("direct", NULL, VMMU_BACKEND_NONE);
}

static void test_ept(void **state)
{
	(void)state;
	run_backend("ept", &vmmu_backend_ept, VMMU_BACKEND_EPT);
}

static void test_npt(void **state)
{
	(void)state;
	run_backend("npt", &vmmu_backend_npt, VMMU_BACKEND_NPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_ept),
		cmocka_unit_test(test_npt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
