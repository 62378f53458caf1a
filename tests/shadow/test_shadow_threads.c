/* SPDX-License-Identifier: MIT */
/*
 * The shadow backend with several vCPU threads at once (docs/shadow.md
 * "Several vCPU threads"). A 4-level guest maps 96 page tables' worth of
 * linear pages (192 MiB) onto data frames, each frame filled with its own
 * tag; the pool is fixed far below what the guest's tables need, so fills
 * recycle shadow pages all the time, and the pool's directory grows while
 * the threads run. Two reader vCPU threads read random linear pages
 * through vmmu_vcpu_access and switch CR3 between two PML4s that share the
 * lower tables; vCPU 0's thread plays the guest kernel: it remaps random
 * pages to other frames, writing the PTE either as the guest would
 * (through its own vCPU, via a physmap: a trapped, emulated store to a
 * shadowed table) or as a VMM would (vmmu_vm_write_gpa, no lock held),
 * then shoots the page down on every vCPU (INVLPG, or MOV CR3) and waits
 * for each to acknowledge, as a guest's TLB shootdown does.
 *
 * Reference: per linear page, the frames it was mapped to, by version. A
 * read must return the tag of a frame mapped there at some version between
 * the last one whose shootdown had completed when the read began and the
 * newest one when it ended. At the end, vmmu_shadow_check.
 * Also built under ThreadSanitizer: the `tsan` target (tests/dirty).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "host/hosted.h"
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "shadow-fallback/shadow.h"

#define RAM        (16ULL << 20)
#define PML4_A     0x1000ULL
#define PML4_B     0x2000ULL
#define PDPT       0x3000ULL
#define PD         0x4000ULL
#define PHYSMAP_PT 0x8000ULL
#define PT_BASE    0x10000ULL
#define NPT        96                   /* guest PTs: 96 x 2 MiB linear */
#define NPAGES     (NPT * 512)
#define PHYSMAP_PD 500                  /* linear 1000 MiB + gpa: tables */
#define PHYSMAP_VA ((uint64_t)PHYSMAP_PD << 21)
#define DATA_BASE  (2ULL << 20)
#define NFRAMES    ((RAM - DATA_BASE) >> 12)
#define READERS    2
#define NVCPUS     (READERS + 1)
#define POOL       100                  /* shadows the guest needs: ~200 */
#define HIST       4                    /* versions kept per linear page */
#define PTE_FLAGS  (X86_PTE_P | X86_PTE_RW)

struct threads {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *vcpu[NVCPUS];
	/* the reference: frames of page v by version (ver[v] newest,
	 * done[v] the newest whose shootdown completed) */
	_Atomic uint32_t hist[NPAGES][HIST];
	atomic_uint ver[NPAGES], done[NPAGES];
	/* the kernel's shootdown: page (or ~0: MOV CR3), round, acks */
	atomic_uint shoot_page, shoot_round, acks;
	atomic_uint last_page;          /* the page remapped last */
	atomic_int stop, failures;
	atomic_ullong reads, skipped, remaps, guest_writes, vmm_writes;
	double seconds;
};

static uint64_t tag(uint64_t frame)
{
	return 0x7a60000000000000ULL | frame << 12 | 0x5a5;
}

static uint64_t frame_gpa(uint32_t f)
{
	return DATA_BASE + ((uint64_t)f << 12);
}

static uint64_t pte_gpa(uint32_t v)
{
	return PT_BASE + (uint64_t)v * 8;
}

static uint64_t xs(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void put(struct threads *t, uint64_t gpa, uint64_t e)
{
	assert_int_equal(vmmu_vm_write_gpa(t->vm, mk_gpa(gpa), &e, 8), 0);
}

static void build_guest(struct threads *t)
{
	static uint64_t page[512];
	uint32_t v, f, i;

	for (f = 0; f < NFRAMES; f++) {
		for (i = 0; i < 512; i++)
			page[i] = tag(f);
		assert_int_equal(vmmu_vm_write_gpa(t->vm, mk_gpa(frame_gpa(f)),
						   page, sizeof(page)), 0);
	}
	put(t, PML4_A, PDPT | PTE_FLAGS);
	put(t, PML4_B, PDPT | PTE_FLAGS);
	put(t, PDPT, PD | PTE_FLAGS);
	for (i = 0; i < NPT; i++)
		put(t, PD + i * 8, (PT_BASE + i * 4096ULL) | PTE_FLAGS);
	put(t, PD + PHYSMAP_PD * 8, PHYSMAP_PT | PTE_FLAGS);
	for (i = 0; i < 512; i++)       /* the first 2 MiB: every table */
		put(t, PHYSMAP_PT + i * 8, ((uint64_t)i << 12) | PTE_FLAGS);
	for (v = 0; v < NPAGES; v++) {
		f = v % NFRAMES;
		atomic_init(&t->hist[v][0], f);
		put(t, pte_gpa(v), frame_gpa(f) | PTE_FLAGS);
	}
}

static void paging_on(struct vmmu_vcpu *c)
{
	assert_int_equal(vmmu_vcpu_set_cr(c, VMMU_CR0, X86_CR0_PE), 0);
	assert_int_equal(vmmu_vcpu_set_cr(c, VMMU_EFER, X86_EFER_LME |
					  X86_EFER_LMA | X86_EFER_NXE), 0);
	assert_int_equal(vmmu_vcpu_set_cr(c, VMMU_CR4, X86_CR4_PAE), 0);
	assert_int_equal(vmmu_vcpu_set_cr(c, VMMU_CR3, PML4_A), 0);
	assert_int_equal(vmmu_vcpu_set_cr(c, VMMU_CR0, X86_CR0_PG |
					  X86_CR0_PE | X86_CR0_WP), 0);
}

static void fail_once(struct threads *t, const char *what, uint64_t a,
		      uint64_t b)
{
	if (atomic_fetch_add(&t->failures, 1) < 5)
		print_error("%s: %#llx %#llx\n", what, (unsigned long long)a,
			    (unsigned long long)b);
}

/* Apply the kernel's shootdown on this vCPU if one is pending. */
static void take_shootdown(struct threads *t, struct vmmu_vcpu *c,
			   unsigned *seen)
{
	unsigned round = atomic_load(&t->shoot_round), page;

	if (round == *seen)
		return;
	page = atomic_load(&t->shoot_page);
	if (page == ~0U)
		assert_int_equal(vmmu_vcpu_set_cr(c, VMMU_CR3,
						  c->paging.cr3), 0);
	else
		assert_int_equal(vmmu_vcpu_invlpg(c, mk_gva((uint64_t)page << 12)), 0);
	*seen = round;
	atomic_fetch_add(&t->acks, 1);
}

/* Is x the tag of a frame page v had at a version in [lo, hi]? */
static bool allowed(struct threads *t, uint32_t v, unsigned lo, unsigned hi,
		    uint64_t x)
{
	for (unsigned k = lo; k <= hi; k++)
		if (tag(atomic_load(&t->hist[v][k % HIST])) == x)
			return true;
	return false;
}

static void read_one(struct threads *t, struct vmmu_vcpu *c, uint32_t v,
		     uint64_t *rs)
{
	uint64_t r = xs(rs), x = 0;
	struct vmmu_op op = {
		.acc = { mk_gva((uint64_t)v << 12 | ((r >> 40) & 0xff8)),
			 VMMU_ACCESS_READ, 0 },
		.size = 8, .data = &x };
	struct vmmu_access_result res;
	unsigned lo, hi;

	lo = atomic_load(&t->done[v]);
	if (vmmu_vcpu_access(c, &op, &res) != 0 ||
	    res.status != VMMU_ACCESS_DONE) {
		fail_once(t, "read did not complete", v, res.status);
		return;
	}
	hi = atomic_load(&t->ver[v]);
	if (hi - lo >= HIST - 1) {
		atomic_fetch_add(&t->skipped, 1);
		return;
	}
	if (!allowed(t, v, lo, hi, x))
		fail_once(t, "read a frame never mapped there", v, x);
	atomic_fetch_add(&t->reads, 1);
}

struct reader_arg {
	struct threads *t;
	unsigned id;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	struct threads *t = a->t;
	struct vmmu_vcpu *c = t->vcpu[a->id];
	uint64_t rs = 0x9e3779b97f4a7c15ULL * (a->id + 1);
	unsigned seen = 0, n = 0, k;
	uint32_t v;

	while (!atomic_load(&t->stop)) {
		/* a page (every other time the one remapped last: where a
		 * stale shadow shows), then a few more reads of it */
		v = n & 1 ? atomic_load(&t->last_page) :
			    (uint32_t)(xs(&rs) % NPAGES);
		for (k = 0; k < 8; k++) {
			take_shootdown(t, c, &seen);
			read_one(t, c, v, &rs);
		}
		if (++n % 32 == 0)
			assert_int_equal(vmmu_vcpu_set_cr(c, VMMU_CR3,
				xs(&rs) & 1 ? PML4_A : PML4_B), 0);
	}
	take_shootdown(t, c, &seen);
	return NULL;
}

/* Write page v's PTE as the guest (physmap store) or as the VMM. */
static void write_pte(struct threads *t, uint32_t v, uint64_t e, bool vmm)
{
	struct vmmu_access_result res;

	if (vmm) {
		put(t, pte_gpa(v), e);
		atomic_fetch_add(&t->vmm_writes, 1);
		return;
	}
	assert_int_equal(vmmu_vcpu_write(t->vcpu[0],
		mk_gva(PHYSMAP_VA + pte_gpa(v)), &e, 8, 0, &res), 0);
	assert_int_equal(res.status, VMMU_ACCESS_DONE);
	atomic_fetch_add(&t->guest_writes, 1);
}

/* The guest kernel on vCPU 0: remap, shoot down, wait for the acks. */
static void remap_one(struct threads *t, uint32_t v, bool vmm, uint64_t *rs)
{
	uint64_t r = xs(rs);
	uint32_t f = (uint32_t)((r >> 20) % NFRAMES);
	unsigned nv = atomic_load(&t->ver[v]) + 1, spins = 0;

	read_one(t, t->vcpu[0], v, rs);         /* its shadow entry filled */
	atomic_store(&t->hist[v][nv % HIST], f);
	atomic_store(&t->ver[v], nv);
	write_pte(t, v, frame_gpa(f) | PTE_FLAGS, vmm);
	assert_int_equal(vmmu_vcpu_invlpg(t->vcpu[0], mk_gva((uint64_t)v << 12)), 0);
	atomic_store(&t->acks, 0);
	atomic_store(&t->shoot_page, (r >> 51) % 8 ? v : ~0U);
	atomic_fetch_add(&t->shoot_round, 1);
	while (atomic_load(&t->acks) < READERS)
		if (++spins % 64 == 0)
			sched_yield();
	atomic_store(&t->done[v], nv);
	atomic_store(&t->last_page, v);
	atomic_fetch_add(&t->remaps, 1);
	read_one(t, t->vcpu[0], v, rs);         /* the new frame only */
}

static void run(double seconds, bool oos)
{
	struct threads *t = calloc(1, sizeof(*t));
	struct reader_arg args[READERS];
	pthread_t th[READERS];
	struct vmmu_shadow_stats s0, s;
	uint64_t rs = 0x853c49e6748fea9bULL;
	const char *why = NULL;
	double t0;
	unsigned i, b;

	assert_non_null(t);
	assert_int_equal(vmmu_hosted_create(64ULL << 20, &t->arena), 0);
	vmmu_hosted_platform(t->arena, &t->plat);
	assert_int_equal(vmmu_vm_create(&t->plat, &t->vm), 0);
	assert_int_equal(vmmu_vm_add_slot(t->vm, mk_gpa(0), RAM, VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_set_backend(t->vm, VMMU_BACKEND_SHADOW,
					     &vmmu_backend_shadow), 0);
	assert_int_equal(vmmu_shadow_set_pool_pages(t->vm, POOL), 0);
	assert_int_equal(vmmu_shadow_set_oos(t->vm, oos), 0);
	build_guest(t);
	for (i = 0; i < NVCPUS; i++) {
		assert_int_equal(vmmu_vcpu_create(t->vm, &t->vcpu[i]), 0);
		paging_on(t->vcpu[i]);
	}
	assert_int_equal(vmmu_shadow_stats(t->vm, &s0), 0);
	for (i = 0; i < READERS; i++) {
		args[i].t = t;
		args[i].id = i + 1;
		assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	t0 = now();
	/* at least 40 remaps, the two ways in turn; every fourth a burst of
	 * guest stores to one table (write flooding unshadows it) */
	for (b = 0; (now() - t0 < seconds || b < 40) &&
		    now() - t0 < 4 * seconds && !atomic_load(&t->failures); b++) {
		uint32_t v = (uint32_t)(xs(&rs) % NPAGES), n = b % 4 == 2 ? 4 : 1;

		for (i = 0; i < n; i++)
			remap_one(t, (v & ~511U) | ((v + i) & 511), b & 1, &rs);
	}
	atomic_store(&t->stop, 1);
	for (i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(vmmu_shadow_stats(t->vm, &s), 0);
	print_message("%s, %.1f s: %llu checked reads (%llu skipped), %llu remaps "
		      "(%llu guest stores, %llu VMM writes), %llu recycled, "
		      "%llu unshadowed, %llu pages allocated (%llu at the start), "
		      "%llu fills, %llu out of sync, %llu resyncs, dead: %s\n",
		      oos ? "out of sync on" : "out of sync off", seconds,
		      (unsigned long long)atomic_load(&t->reads),
		      (unsigned long long)atomic_load(&t->skipped),
		      (unsigned long long)atomic_load(&t->remaps),
		      (unsigned long long)atomic_load(&t->guest_writes),
		      (unsigned long long)atomic_load(&t->vmm_writes),
		      (unsigned long long)s.recycled,
		      (unsigned long long)s.unshadowed,
		      (unsigned long long)s.pages_allocated,
		      (unsigned long long)s0.pages_allocated,
		      (unsigned long long)s.fills,
		      (unsigned long long)s.oos_marked,
		      (unsigned long long)s.oos_resyncs,
		      t->vm->dead ? t->vm->dead_reason : "no");
	assert_false(t->vm->dead);
	assert_int_equal(atomic_load(&t->failures), 0);
	assert_true(atomic_load(&t->reads) > 1000);
	assert_true(atomic_load(&t->guest_writes) >= 20);
	assert_true(atomic_load(&t->vmm_writes) >= 10);
	assert_true(s.recycled > 100);
	/* the directory (64 entries at first) grew while the threads ran */
	assert_true(s0.pages_allocated <= 64 && s.pages_allocated > 64);
	if (vmmu_shadow_check(t->vm, &why) < 0)
		fail_msg("shadow check: %s", why);
	vmmu_vm_destroy(t->vm);
	vmmu_hosted_destroy(t->arena);
	free(t);
}

static double run_seconds = 2.0;

static void test_threads(void **state)
{
	(void)state;
	run(run_seconds, false);
}

/* Out-of-sync L1s: guest stores to a table run natively until INVLPG. */
static void test_threads_oos(void **state)
{
	(void)state;
	run(run_seconds, true);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_threads_oos),
	};

	if (argc > 1)
		run_seconds = atof(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
