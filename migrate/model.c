/* SPDX-License-Identifier: MIT */
/* The model VM and its writer workload (migrate/model.h). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "migrate/model.h"
#include "vmmu/dirty.h"
#include "vmmu/error.h"
#include "vmmu/x86_pte.h"

#define PML4_GPA 0x1000ULL
#define PDPT_GPA 0x2000ULL
#define PD_GPA   0x3000ULL      /* four PDs: 0x3000 .. 0x6fff */

static const char *const wl_names[MODEL_WL_COUNT_] = {
	"random", "hot", "sweep", "idle",
};

int model_workload_parse(const char *name)
{
	int i;

	for (i = 0; i < MODEL_WL_COUNT_; i++)
		if (!strcmp(name, wl_names[i]))
			return i;
	return -1;
}

const char *model_workload_name(enum model_workload w)
{
	return w < MODEL_WL_COUNT_ ? wl_names[w] : "?";
}

static int put64(struct vmmu_vm *vm, uint64_t gpa, uint64_t v)
{
	return vmmu_vm_write_gpa(vm, mk_gpa(gpa), &v, sizeof(v));
}

/* Identity map [0, mem) with 2 MiB pages; A and D clear (the walker sets
 * them and the tables' pages are logged like any other store). */
static int build_tables(struct vmmu_vm *vm, uint64_t mem)
{
	uint64_t f = X86_PTE_P | X86_PTE_RW | X86_PTE_US, a;
	unsigned i;
	int rc = put64(vm, PML4_GPA, PDPT_GPA | f);

	for (i = 0; i < 4 && rc == 0; i++)
		rc = put64(vm, PDPT_GPA + 8 * i, (PD_GPA + 0x1000ULL * i) | f);
	for (a = 0; a < mem && rc == 0; a += 2ULL << 20)
		rc = put64(vm, PD_GPA + (a >> 21) * 8, a | f | X86_PTE_PS);
	return rc;
}

int model_paging(struct vmmu_vcpu *vcpu)
{
	struct vmmu_paging_state *ps = &vcpu->paging;

	ps->cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	ps->cr4 = X86_CR4_PAE;
	ps->efer = X86_EFER_LME | X86_EFER_LMA;
	ps->cr3 = 0;
	vmmu_paging_update(ps);
	return vmmu_vcpu_set_cr(vcpu, VMMU_CR3, PML4_GPA);
}

static int model_fail(struct model *m, int rc, const char *what)
{
	snprintf(m->why, sizeof(m->why), "%s: %s", what, vmmu_strerror(rc));
	return rc;
}

int model_create(struct model *m, const struct model_cfg *cfg)
{
	struct vmmu_slot_desc d;
	unsigned i;
	int rc;

	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	if (cfg->mem < (4ULL << 20) || cfg->mem > MODEL_MAX_MEM ||
	    cfg->mem % (2ULL << 20) || !cfg->vcpus ||
	    cfg->vcpus > MODEL_MAX_VCPUS || cfg->workload >= MODEL_WL_COUNT_)
		return model_fail(m, VMMU_EINVAL, "model configuration");
	rc = vmmu_hosted_create(cfg->mem + (64ULL << 20), &m->arena);
	if (rc < 0)
		return model_fail(m, rc, "host arena");
	vmmu_hosted_platform(m->arena, &m->plat);
	rc = vmmu_vm_create(&m->plat, &m->vm);
	if (rc == 0)
		rc = cfg->ops ? vmmu_vm_set_backend(m->vm, cfg->kind, cfg->ops)
			     : vmmu_vm_set_backend(m->vm, VMMU_BACKEND_NONE,
						   &vmmu_backend_direct);
	if (rc == 0 && cfg->ept_caps && cfg->ops == &vmmu_backend_ept)
		rc = vmmu_ept_configure(m->vm, cfg->ept_caps);
	if (rc == 0 && cfg->npt_cfg && cfg->ops == &vmmu_backend_npt)
		rc = vmmu_npt_configure(m->vm, cfg->npt_cfg);
	if (rc == 0 && cfg->dirty_flags)
		rc = vmmu_dirty_set_flags(m->vm, cfg->dirty_flags);
	if (rc == 0)
		rc = vmmu_dirty_set_mode(m->vm, cfg->dirty_fixed ? cfg->dirty
						   : VMMU_DIRTY_AUTO);
	if (rc == VMMU_ENOTSUP) {
		static const char *const names[] = {
			"write protection", "A/D bits", "PML", "any means",
		};
		enum vmmu_dirty_log d = cfg->dirty_fixed ? cfg->dirty
							 : VMMU_DIRTY_AUTO;

		snprintf(m->why, sizeof(m->why), "the backend does not offer "
			 "dirty tracking by %s%s",
			 (unsigned)d < 4 ? names[d] : "?",
			 cfg->dirty_flags & VMMU_DIRTY_LOG_2M ?
			 " at 2 MiB granularity" : "");
		model_destroy(m);
		return rc;
	}
	memset(&d, 0, sizeof(d));
	d.base = mk_gpa(0);
	d.size = cfg->mem;
	d.type = VMMU_MEM_RAM;
	d.max_order = VMMU_ORDER_2M;
	d.memtype = VMMU_MEMTYPE_DEFAULT;
	/* A guest with writer threads is backed up front: round 0 sends
	 * memory that exists, and no first touch lands in a timed round. */
	d.eager = cfg->eager || cfg->workload != MODEL_WL_IDLE;
	if (rc == 0)
		rc = vmmu_vm_add_slot_ex(m->vm, &d);
	if (rc == 0)
		rc = build_tables(m->vm, cfg->mem);
	for (i = 0; i < cfg->vcpus && rc == 0; i++) {
		rc = vmmu_vcpu_create(m->vm, &m->vcpu[i]);
		if (rc == 0)
			rc = model_paging(m->vcpu[i]);
		m->st[i].rng = (cfg->seed + 1) * 0x9e3779b97f4a7c15ULL + i + 1;
	}
	if (rc < 0) {
		model_fail(m, rc, "model VM");
		model_destroy(m);
	}
	return rc;
}

void model_destroy(struct model *m)
{
	model_stop(m);
	vmmu_vm_destroy(m->vm);
	vmmu_hosted_destroy(m->arena);
	m->vm = NULL;
	m->arena = NULL;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* The page vCPU i writes next. */
static uint64_t next_page(struct model *m, unsigned i)
{
	uint64_t first = MODEL_DATA_BASE >> VMMU_PAGE_SHIFT;
	uint64_t n = (m->cfg.mem >> VMMU_PAGE_SHIFT) - first, r;
	struct model_vcpu_state *s = &m->st[i];

	r = xorshift(&s->rng);
	switch (m->cfg.workload) {
	case MODEL_WL_HOT:
		if (r % 10 != 0)
			return first + (r >> 8) % (n / 20 ? n / 20 : 1);
		return first + (r >> 8) % n;
	case MODEL_WL_SWEEP: {
		uint64_t share = n / m->cfg.vcpus;

		return first + i * share + s->seq % (share ? share : 1);
	}
	default:
		return first + (r >> 8) % n;
	}
}

int model_step(struct model *m, unsigned i)
{
	struct vmmu_access_result res;
	uint64_t page, off, v;
	int rc;

	if (m->cfg.workload == MODEL_WL_IDLE)
		return VMMU_OK;
	page = next_page(m, i);
	off = (xorshift(&m->st[i].rng) % 512) * 8;
	v = ((uint64_t)i << 56) | ++m->st[i].seq;
	rc = vmmu_vcpu_write(m->vcpu[i], mk_gva((page << VMMU_PAGE_SHIFT) + off),
			     &v, sizeof(v), 0, &res);
	if (rc == 0 && res.status != VMMU_ACCESS_DONE)
		rc = VMMU_EUNHANDLED;
	return rc;
}

static void pace(struct model *m, struct timespec *t0, uint64_t done)
{
	struct timespec now;
	double due, el;

	if (!m->cfg.rate)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	el = (double)(now.tv_sec - t0->tv_sec) +
	     (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
	due = (double)done / (double)m->cfg.rate;
	if (due > el) {
		struct timespec d = { (time_t)(due - el),
				      (long)((due - el - (double)(time_t)(due - el)) * 1e9) };
		nanosleep(&d, NULL);
	}
}

static void *writer(void *p)
{
	struct model_thread *a = p;
	struct model *m = a->m;
	struct timespec t0;
	uint64_t done = 0;
	int st, rc, zero = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((st = atomic_load(&m->state)) != 2) {
		if (st == 1) {
			atomic_fetch_add(&m->parked, 1);
			while (atomic_load(&m->state) == 1) {
				struct timespec d = { 0, 200000 };

				nanosleep(&d, NULL);
			}
			atomic_fetch_sub(&m->parked, 1);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			done = 0;
			continue;
		}
		rc = model_step(m, a->i);
		if (rc < 0) {
			atomic_compare_exchange_strong(&m->error, &zero, rc);
			break;
		}
		atomic_fetch_add_explicit(&m->stores, 1, memory_order_relaxed);
		pace(m, &t0, ++done);
		if (m->cfg.workload == MODEL_WL_IDLE) {
			struct timespec d = { 0, 1000000 };

			nanosleep(&d, NULL);
		}
	}
	/* A writer that failed still counts as parked for pause(). */
	if (st != 2)
		atomic_fetch_add(&m->parked, 1);
	return NULL;
}

int model_start(struct model *m)
{
	unsigned i;

	if (m->running)
		return VMMU_EBUSY;
	atomic_store(&m->state, 0);
	atomic_store(&m->parked, 0);
	for (i = 0; i < m->cfg.vcpus; i++) {
		m->ta[i].m = m;
		m->ta[i].i = i;
		if (pthread_create(&m->th[i], NULL, writer, &m->ta[i])) {
			atomic_store(&m->state, 2);
			while (i--)
				pthread_join(m->th[i], NULL);
			return model_fail(m, VMMU_ENOMEM, "writer threads");
		}
	}
	m->running = true;
	return VMMU_OK;
}

void model_pause(struct model *m)
{
	if (!m->running)
		return;
	atomic_store(&m->state, 1);
	while (atomic_load(&m->parked) < m->cfg.vcpus) {
		struct timespec d = { 0, 100000 };

		nanosleep(&d, NULL);
	}
}

void model_resume(struct model *m)
{
	if (m->running)
		atomic_store(&m->state, 0);
}

void model_stop(struct model *m)
{
	unsigned i;

	if (!m->running)
		return;
	atomic_store(&m->state, 2);
	for (i = 0; i < m->cfg.vcpus; i++)
		pthread_join(m->th[i], NULL);
	m->running = false;
}
