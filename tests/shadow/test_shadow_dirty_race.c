/* SPDX-License-Identifier: MIT */
/*
 * Log-dirty on a shadow-paging VM with vCPU threads: the model VM of
 * migrate/model.h (4-level guest paging, 2 MiB guest pages splintered
 * into 4 KiB shadow leaves) on vmmu_backend_shadow, three writer vCPU
 * threads storing through vmmu_vcpu_access, a VMM thread writing through
 * vmmu_vm_write_gpa, and this thread harvesting: it cleans the whole log
 * round after round and copies each reported page into a replica, as a
 * migration's receiver would; every few rounds it disables the log and
 * enables it again (a full copy follows). At the end the writers are
 * parked, a last clean is copied, and the replica must equal guest memory
 * page for page: a write that no clean reported leaves a stale page (every
 * store writes a value not written before). Run with both re-arm policies
 * (reverse map, drop every leaf). Also built under ThreadSanitizer: the
 * `tsan` target (tests/dirty).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/dirty.h"
#include "vmmu/error.h"
#include "migrate/model.h"
#include "shadow-fallback/shadow.h"

#define MEM     (8ULL << 20)
#define NPAGES  (MEM >> 12)
#define WRITERS 3
#define ROUNDS  45
#define MIN_STORES 1000         /* guest stores a run must see */

struct harvest {
	struct model m;
	uint8_t *replica;
	uint64_t bm[NPAGES / 64];
	atomic_int stop;
	uint64_t vmm_writes, reported;
};

static void sleep_ns(long ns)
{
	struct timespec d = { 0, ns };

	nanosleep(&d, NULL);
}

/*
 * Copying a page while a vCPU stores to it is what pre-copy does (the
 * log reports the page again): a race by design, not instrumented.
 */
__attribute__((no_sanitize("thread")))
static void replicate(struct harvest *h, uint64_t gfn)
{
	const struct vmmu_platform *pl = &h->m.vm->platform;
	volatile const uint64_t *from;
	uint64_t *to = (uint64_t *)(h->replica + (gfn << 12));
	hpa_t hpa;
	unsigned k;

	if (vmmu_vm_gpa_to_hpa(h->m.vm, mk_gpa(gfn << 12), &hpa) < 0) {
		memset(to, 0, 4096);
		return;
	}
	from = pl->map(pl->ctx, hpa);
	for (k = 0; k < 512; k++)
		to[k] = from[k];
}

static void replicate_reported(struct harvest *h)
{
	uint64_t g;

	for (g = 0; g < NPAGES; g++)
		if ((h->bm[g / 64] >> (g % 64)) & 1)
			replicate(h, g);
}

static void replicate_all(struct harvest *h)
{
	uint64_t g;

	for (g = 0; g < NPAGES; g++)
		replicate(h, g);
}

static void *vmm_writer(void *arg)
{
	struct harvest *h = arg;
	uint64_t x = 0x2545f4914f6cdd1dULL, v, span = MEM - MODEL_DATA_BASE;

	while (!atomic_load(&h->stop)) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 0x2545f4914f6cdd1dULL | 1ULL << 62;
		assert_int_equal(vmmu_vm_write_gpa(h->m.vm,
			mk_gpa(MODEL_DATA_BASE + ((x >> 3) % (span / 8)) * 8),
			&v, 8), 0);
		if (++h->vmm_writes % 32 == 0)
			sleep_ns(20000);
	}
	return NULL;
}

/* Every shadow made before the threads start: steady state is leaf
 * upgrades and re-arms only (a fill that makes or frees shadow tables
 * flushes every vCPU's TLB model from the handler's thread). */
static void prefault(struct harvest *h)
{
	struct vmmu_access_result r;
	uint64_t g, zero = 0;

	for (g = MODEL_DATA_BASE >> 12; g < NPAGES; g++) {
		assert_int_equal(vmmu_vcpu_write(h->m.vcpu[0], mk_gva(g << 12),
						 &zero, 8, 0, &r), 0);
		assert_int_equal(r.status, VMMU_ACCESS_DONE);
	}
}

static void harvest_run(enum vmmu_shadow_ld policy)
{
	struct model_cfg cfg = { .mem = MEM, .vcpus = WRITERS, .eager = true,
				 .seed = 11, .ops = &vmmu_backend_shadow };
	struct harvest *h = calloc(1, sizeof(*h));
	struct vmmu_shadow_stats s0, s;
	uint8_t page[4096];
	const char *why = NULL;
	uint64_t n, g, stale = 0;
	unsigned round;
	pthread_t vmm;
	int rc;

	assert_non_null(h);
	h->replica = calloc(1, MEM);
	assert_non_null(h->replica);
	assert_int_equal(model_create(&h->m, &cfg), 0);
	assert_int_equal(vmmu_shadow_set_logdirty(h->m.vm, policy), 0);
	prefault(h);
	assert_int_equal(vmmu_shadow_stats(h->m.vm, &s0), 0);
	assert_int_equal(vmmu_dirty_enable_ram(h->m.vm), 0);
	replicate_all(h);
	assert_int_equal(model_start(&h->m), 0);
	assert_int_equal(pthread_create(&vmm, NULL, vmm_writer, h), 0);
	/* ROUNDS at least, and on until the guest has made its stores: a
	 * slow run (TSan, a loaded machine) gets more rounds, not fewer
	 * stores (at most 20 x ROUNDS) */
	for (round = 0; round < ROUNDS ||
	     (atomic_load(&h->m.stores) <= MIN_STORES && round < 20 * ROUNDS);
	     round++) {
		if (round % 15 == 10) {
			while ((rc = vmmu_dirty_disable(h->m.vm)) == VMMU_EBUSY)
				;
			assert_int_equal(rc, 0);
			sleep_ns(200000);       /* writes with the log off */
			assert_int_equal(vmmu_dirty_enable_ram(h->m.vm), 0);
			replicate_all(h);
			continue;
		}
		assert_int_equal(vmmu_dirty_clean(h->m.vm, 0, NPAGES, h->bm, &n), 0);
		h->reported += n;
		replicate_reported(h);
	}
	atomic_store(&h->stop, 1);
	pthread_join(vmm, NULL);
	model_pause(&h->m);
	assert_int_equal(atomic_load(&h->m.error), 0);
	assert_int_equal(vmmu_dirty_clean(h->m.vm, 0, NPAGES, h->bm, &n), 0);
	replicate_reported(h);
	for (g = 0; g < NPAGES; g++) {
		assert_int_equal(vmmu_vm_read_gpa(h->m.vm, mk_gpa(g << 12), page,
						  4096), 0);
		if (memcmp(page, h->replica + (g << 12), 4096) && !stale++)
			print_error("first stale page: gfn %#llx\n",
				    (unsigned long long)g);
	}
	assert_int_equal(vmmu_shadow_stats(h->m.vm, &s), 0);
	print_message("%s: %u rounds, %llu pages reported, %llu guest stores, "
		      "%llu VMM writes, %llu logged write faults, %llu leaves "
		      "protected, %llu drops, %llu shadows made after the "
		      "prefault, %llu stale pages\n",
		      policy == VMMU_SHADOW_LD_DROP ? "drop" : "rmap", round,
		      (unsigned long long)h->reported,
		      (unsigned long long)atomic_load(&h->m.stores),
		      (unsigned long long)h->vmm_writes,
		      (unsigned long long)s.ld_write_faults,
		      (unsigned long long)s.ld_protected,
		      (unsigned long long)s.ld_drops,
		      (unsigned long long)(s.shadows_created - s0.shadows_created),
		      (unsigned long long)stale);
	assert_int_equal(stale, 0);
	assert_true(atomic_load(&h->m.stores) > MIN_STORES);
	assert_true(s.ld_write_faults > 100);
	if (vmmu_shadow_check(h->m.vm, &why) < 0)
		fail_msg("shadow check: %s", why);
	model_destroy(&h->m);
	free(h->replica);
	free(h);
}

static void test_race_rmap(void **state)
{
	(void)state;
	harvest_run(VMMU_SHADOW_LD_RMAP);
}

static void test_race_drop(void **state)
{
	(void)state;
	harvest_run(VMMU_SHADOW_LD_DROP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_race_rmap),
		cmocka_unit_test(test_race_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
