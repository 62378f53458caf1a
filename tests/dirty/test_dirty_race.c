/* SPDX-License-Identifier: MIT */
/*
 * No write lost while vCPU threads write and another thread cleans: four
 * writer vCPUs store through vmmu_vcpu_access, a VMM thread writes through
 * vmmu_vm_write_gpa, a peeker peeks, and the harvester cleans the whole
 * log in rounds, copying every reported page into a shadow copy after
 * each clean (a migration's receiver), disabling and re-enabling the log
 * now and then (a full copy follows each enable). At the end the writers
 * are parked, one last clean is copied, and the shadow must equal guest
 * memory page for page: a write that no clean reported would leave a
 * stale page. Every store writes a value never written before, so a stale
 * page cannot match by chance. Also built under ThreadSanitizer (the
 * `tsan` target).
 *
 * It runs over a table of backends and log-dirty variants. The direct
 * backend twice, with four writer vCPUs: with the platform's heavy
 * barrier (vCPUs enter an access with a plain store; the membarrier in
 * vmmu_vm_tlb_flush_sync orders it) where the kernel offers one, and
 * without it (a locked exchange per access), so that both orderings of
 * core/access.c guest mode are tried. Then EPT (write protection at 4 KiB
 * and at 2 MiB, A/D, PML) and NPT (write protection at 4 KiB and at 2 MiB,
 * nested D bits), each with two writer vCPUs beside the VMM writer, the
 * peeker and the harvester (their exits race for the same markers and
 * leaves; their invalidations are posted to each other). The model VM
 * comes with the backends' default profiles; PML (EPT) and nested D bits
 * (NPT) are switched on in the backend state before the log is enabled,
 * as vmmu_ept_configure / vmmu_npt_configure would have set them.
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
#include "vmmu/hosted.h"
#include "vmmu/ept.h"
#include "vmmu/npt.h"
#include "migrate/model.h"
#include "ept/ept_internal.h"
#include "npt/npt_backend.h"

#define MEM   (8ULL << 20)
#define PAGES (MEM >> 12)

struct race {
	struct model m;
	uint8_t *shadow;
	uint64_t *bm;
	atomic_int stop;
	uint64_t rounds, reported, vmm_writes, peeks;
};

static void nap(long ns)
{
	struct timespec d = { 0, ns };

	nanosleep(&d, NULL);
}

/*
 * The copy races with the guest's stores by design (pre-copy sends pages
 * that are being written; the log reports them again): not instrumented.
 */
__attribute__((no_sanitize("thread")))
static void copy_page(struct race *r, uint64_t gfn)
{
	const struct vmmu_platform *p = &r->m.vm->platform;
	hpa_t hpa;
	volatile const uint64_t *src;
	uint64_t *dst = (uint64_t *)(r->shadow + (gfn << 12));
	size_t i;

	if (vmmu_vm_gpa_to_hpa(r->m.vm, mk_gpa(gfn << 12), &hpa) < 0) {
		memset(dst, 0, 4096);
		return;
	}
	src = p->map(p->ctx, hpa);
	for (i = 0; i < 512; i++)
		dst[i] = src[i];
}

static void copy_reported(struct race *r)
{
	uint64_t i;

	for (i = 0; i < PAGES; i++)
		if ((r->bm[i / 64] >> (i % 64)) & 1)
			copy_page(r, i);
}

static void *vmm_thread(void *p)
{
	struct race *r = p;
	uint64_t s = 7, v;

	while (!atomic_load(&r->stop)) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		v = s | 1ULL << 63;
		assert_int_equal(vmmu_vm_write_gpa(r->m.vm,
			mk_gpa(MODEL_DATA_BASE + (s % (MEM - MODEL_DATA_BASE - 8) & ~7ULL)),
			&v, 8), 0);
		if (++r->vmm_writes % 64 == 0)
			nap(10000);
	}
	return NULL;
}

static void *peek_thread(void *p)
{
	struct race *r = p;
	uint64_t *bm = calloc(PAGES / 64, 8), cnt;
	int rc;

	while (!atomic_load(&r->stop)) {
		rc = vmmu_dirty_peek(r->m.vm, 0, PAGES, bm, &cnt);
		assert_true(rc == 0 || rc == VMMU_ENOENT || rc == VMMU_EBUSY);
		r->peeks++;
		nap(20000);
	}
	free(bm);
	return NULL;
}

static void full_copy(struct race *r)
{
	uint64_t i;

	for (i = 0; i < PAGES; i++)
		copy_page(r, i);
}

/* One row of the table: a backend, a variant, its writers. */
struct variant {
	const char *name;
	const struct vmmu_backend_ops *ops;     /* NULL: direct */
	enum vmmu_dirty_log mode;
	unsigned flags;                         /* VMMU_DIRTY_LOG_2M */
	unsigned vcpus;
	bool heavy_barrier;     /* the hosted platform's (it has one) */
	/*
	 * Pause between rounds (a migration round copies pages): with no
	 * pause a clean can re-protect a page between a vCPU's fault and
	 * its retry often enough, under TSan's slowness, for the core's
	 * limit of 16 exits per access to kill the VM.
	 */
	long round_gap_ns;
};

/* The profile bits the default model VM lacks (see the top). */
static void profile(struct vmmu_vm *vm, const struct variant *v)
{
	unsigned i;

	if (v->ops == &vmmu_backend_npt && v->mode == VMMU_DIRTY_AD_BITS)
		((struct npt_vm *)vm->backend_state)->cfg.ad_harvest = true;
	if (v->ops != &vmmu_backend_ept || v->mode != VMMU_DIRTY_PML)
		return;
	((struct ept_vm *)vm->backend_state)->caps.pml = true;
	for (i = 0; i < vm->nvcpus; i++) {
		struct ept_vcpu *ev = vm->vcpus[i]->backend_state;

		assert_int_equal(vm->platform.alloc_page(vm->platform.ctx,
							 &ev->pml_page), 0);
		ev->pml_index = EPT_PML_ENTRIES - 1;
		ev->pml_next = EPT_PML_ENTRIES;
	}
}

static void no_lost_write(const struct variant *v)
{
	struct model_cfg cfg = { .mem = MEM, .vcpus = v->vcpus, .eager = true,
				 .seed = 3, .ops = v->ops };
	struct race *r = calloc(1, sizeof(*r));
	pthread_t vmm, peeker;
	uint64_t cnt, i, bad = 0;
	int rc;

	r->shadow = calloc(1, MEM);
	r->bm = calloc(PAGES / 64, 8);
	assert_int_equal(model_create(&r->m, &cfg), 0);
	if (!v->heavy_barrier)
		r->m.vm->platform.heavy_barrier = NULL;  /* no vCPU runs yet */
	profile(r->m.vm, v);
	assert_int_equal(vmmu_dirty_set_flags(r->m.vm, v->flags), 0);
	assert_int_equal(vmmu_dirty_set_mode(r->m.vm, v->mode), 0);
	assert_int_equal(vmmu_dirty_mode(r->m.vm), v->mode);
	print_message("%s: %u writer vCPU(s)\n", v->name, v->vcpus);
	assert_int_equal(vmmu_dirty_enable_ram(r->m.vm), 0);
	assert_int_equal(model_start(&r->m), 0);
	assert_int_equal(pthread_create(&vmm, NULL, vmm_thread, r), 0);
	assert_int_equal(pthread_create(&peeker, NULL, peek_thread, r), 0);
	full_copy(r);
	for (r->rounds = 0; r->rounds < 60; r->rounds++) {
		if (r->rounds % 20 == 15) {
			do
				rc = vmmu_dirty_disable(r->m.vm);
			while (rc == VMMU_EBUSY);
			assert_int_equal(rc, 0);
			assert_int_equal(vmmu_dirty_enable_ram(r->m.vm), 0);
			full_copy(r);
			continue;
		}
		assert_int_equal(vmmu_dirty_clean(r->m.vm, 0, PAGES, r->bm,
						  &cnt), 0);
		r->reported += cnt;
		copy_reported(r);
		if (v->round_gap_ns)
			nap(v->round_gap_ns);
	}
	atomic_store(&r->stop, 1);
	pthread_join(vmm, NULL);
	pthread_join(peeker, NULL);
	model_pause(&r->m);
	assert_int_equal(atomic_load(&r->m.error), 0);
	assert_int_equal(vmmu_dirty_clean(r->m.vm, 0, PAGES, r->bm, &cnt), 0);
	copy_reported(r);
	for (i = 0; i < PAGES; i++) {
		uint8_t buf[4096];

		assert_int_equal(vmmu_vm_read_gpa(r->m.vm, mk_gpa(i << 12), buf,
						  4096), 0);
		if (memcmp(buf, r->shadow + (i << 12), 4096)) {
			if (!bad)
				print_error("first lost write: gfn %#llx\n",
					    (unsigned long long)i);
			bad++;
		}
	}
	print_message("rounds %llu, pages reported %llu, guest stores %llu, "
		      "VMM writes %llu, peeks %llu, lost pages %llu\n",
		      (unsigned long long)r->rounds,
		      (unsigned long long)r->reported,
		      (unsigned long long)atomic_load(&r->m.stores),
		      (unsigned long long)r->vmm_writes,
		      (unsigned long long)r->peeks, (unsigned long long)bad);
	for (i = 0; i < v->vcpus; i++)
		print_message("vcpu %llu: accesses %llu hits %llu exits %llu\n", (unsigned long long)i,
			(unsigned long long)r->m.vcpu[i]->stats.accesses,
			(unsigned long long)r->m.vcpu[i]->stats.tlb_hits,
			(unsigned long long)r->m.vcpu[i]->stats.exits);
	assert_int_equal(bad, 0);
	assert_true(atomic_load(&r->m.stores) > 1000);
	/* the variant did the work: write faults for write protection */
	if (v->mode == VMMU_DIRTY_WRITE_PROTECT)
		assert_true(r->m.vcpu[0]->stats.exits > 0);
	if (v->mode == VMMU_DIRTY_PML)
		assert_true(vmmu_ept_stats(r->m.vm)->pml_logged > 0);
	model_destroy(&r->m);
	free(r->bm);
	free(r->shadow);
	free(r);
}

static bool hosted_heavy_barrier(void)
{
	struct vmmu_hosted_arena *a;
	struct vmmu_platform p = { 0 };

	if (vmmu_hosted_create(1ULL << 20, &a) == 0) {
		vmmu_hosted_platform(a, &p);
		vmmu_hosted_destroy(a);
	}
	return p.heavy_barrier != NULL;
}

static void test_no_lost_write(void **state)
{
	const struct variant *v = *state;

	if (v->heavy_barrier && !hosted_heavy_barrier()) {
		print_message("skip: the heavy-barrier run: this kernel offers "
			      "no expedited private membarrier\n");
		skip();
	}
	no_lost_write(v);
}

static struct variant variants[] = {
	{ "direct, guest mode ordered by the heavy barrier", NULL,
	  VMMU_DIRTY_WRITE_PROTECT, 0, 4, true, 0 },
	{ "direct, guest mode entered with a locked exchange", NULL,
	  VMMU_DIRTY_WRITE_PROTECT, 0, 4, false, 0 },
	{ "ept write protection", &vmmu_backend_ept,
	  VMMU_DIRTY_WRITE_PROTECT, 0, 2, false, 200000 },
	{ "ept write protection at 2 MiB", &vmmu_backend_ept,
	  VMMU_DIRTY_WRITE_PROTECT, VMMU_DIRTY_LOG_2M, 2, false, 200000 },
	{ "ept A/D", &vmmu_backend_ept, VMMU_DIRTY_AD_BITS, 0, 2, false, 200000 },
	{ "ept PML", &vmmu_backend_ept, VMMU_DIRTY_PML, 0, 2, false, 200000 },
	{ "npt write protection", &vmmu_backend_npt,
	  VMMU_DIRTY_WRITE_PROTECT, 0, 2, false, 200000 },
	{ "npt write protection at 2 MiB", &vmmu_backend_npt,
	  VMMU_DIRTY_WRITE_PROTECT, VMMU_DIRTY_LOG_2M, 2, false, 200000 },
	{ "npt nested D bits", &vmmu_backend_npt, VMMU_DIRTY_AD_BITS, 0, 2,
	  false, 200000 },
};

int main(void)
{
	struct CMUnitTest tests[sizeof(variants) / sizeof(variants[0])];
	size_t i;

	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = variants[i].name;
		tests[i].test_func = test_no_lost_write;
		tests[i].initial_state = &variants[i];
	}
	return _cmocka_run_group_tests("dirty_race", tests,
				       sizeof(tests) / sizeof(tests[0]),
				       NULL, NULL);
}
