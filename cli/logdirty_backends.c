/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench logdirty's rows per backend and dirty-tracking variant, on
 * the model VM of migrate/model.h (4-level guest paging over 2 MiB guest
 * pages, one vCPU, RAM backed up front, large host leaves):
 *   enable 1G / 64G / 1T  vmmu_dirty_enable_ram on a VM whose RAM slot is
 *                         that large and populated only where touched;
 *   store on / off        one 8-byte guest store to each of
 *                         LD_STORE_PAGES pages, first store since the
 *                         log was enabled (a trap, the handler's mark and
 *                         upgrade, the retry under write protection; no
 *                         exit for A/D and PML), against the same stores
 *                         with the log off, each after a TLB flush;
 *   clean                 the clean that reports those pages (for A/D and
 *                         PML it harvests D bits / the PML logs first).
 * Every clean must report all the stored pages: a figure of a variant
 * that lost a write is an error, not a figure.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "logdirty_backends.h"
#include "migrate/model.h"
#include "vmmu/dirty.h"
#include "vmmu/error.h"

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Enable on a guest of size (lazily backed, 64 pages touched): ms. */
static double enable_ms(unsigned v, uint64_t size)
{
	struct model_cfg cfg = { .mem = 4ULL << 20, .vcpus = 1,
				 .workload = MODEL_WL_IDLE };
	struct vmmu_npt_config npt;
	struct vmmu_slot_desc d = { .base = { 1ULL << 32 }, .size = size,
				    .type = VMMU_MEM_RAM,
				    .max_order = VMMU_ORDER_1G,
				    .memtype = VMMU_MEMTYPE_DEFAULT };
	struct model m;
	double best = -1, t;
	uint64_t i, one = 1;
	int k, rc;

	model_cfg_variant(&cfg, &model_variants[v], &npt);
	if (model_create(&m, &cfg) < 0)
		return -1;
	rc = vmmu_vm_add_slot_ex(m.vm, &d);
	for (i = 0; i < 64 && rc == 0; i++)
		rc = vmmu_vm_write_gpa(m.vm, mk_gpa(d.base.v + i * (size / 64)),
				       &one, 8);
	for (k = 0; k < 3 && rc == 0; k++) {
		t = now_ns();
		rc = vmmu_dirty_enable_ram(m.vm);
		t = (now_ns() - t) * 1e-6;
		if (best < 0 || t < best)
			best = t;
		if (rc == 0)
			rc = vmmu_dirty_disable(m.vm);
	}
	model_destroy(&m);
	return rc < 0 ? -1 : best;
}

/* One pass of first stores; ns per store. */
static int store_pass(struct model *m, double *ns)
{
	struct vmmu_access_result res;
	uint64_t i, v = 1;
	double t;
	int rc = 0;

	vmmu_vm_tlb_flush_sync(m->vm);
	t = now_ns();
	for (i = 0; i < LD_STORE_PAGES && rc == 0; i++)
		rc = vmmu_vcpu_write(m->vcpu[0], mk_gva(MODEL_DATA_BASE + i * 4096),
				     &v, 8, 0, &res);
	*ns = (now_ns() - t) / LD_STORE_PAGES;
	return rc;
}

static int stores(unsigned v, struct ld_variant_row *r)
{
	struct model_cfg cfg = { .mem = 64ULL << 20, .vcpus = 1, .eager = true,
				 .workload = MODEL_WL_IDLE };
	struct vmmu_npt_config npt;
	struct model m;
	uint64_t cnt, exits0;
	double on, off, t;
	int k, rc;

	model_cfg_variant(&cfg, &model_variants[v], &npt);
	rc = model_create(&m, &cfg);
	if (rc < 0)
		return rc;
	r->store_on_ns = r->store_off_ns = r->clean_ms = -1;
	for (k = 0; k < 3 && rc == 0; k++) {
		rc = store_pass(&m, &off);      /* log off: also populates */
		if (rc == 0)
			rc = vmmu_dirty_enable_ram(m.vm);
		exits0 = m.vcpu[0]->stats.exits;
		if (rc == 0)
			rc = store_pass(&m, &on);
		r->exits_per_store = (unsigned long)((m.vcpu[0]->stats.exits -
						     exits0) / LD_STORE_PAGES);
		t = now_ns();
		if (rc == 0)
			rc = vmmu_dirty_clean(m.vm, 0, cfg.mem >> 12, NULL, &cnt);
		t = (now_ns() - t) * 1e-6;
		if (rc == 0 && cnt < LD_STORE_PAGES)
			rc = VMMU_EDEAD;        /* a write was not logged */
		if (rc == 0)
			rc = vmmu_dirty_disable(m.vm);
		if (k == 0)
			continue;               /* warm-up */
		if (r->store_on_ns < 0 || on < r->store_on_ns)
			r->store_on_ns = on;
		if (r->store_off_ns < 0 || off < r->store_off_ns)
			r->store_off_ns = off;
		if (r->clean_ms < 0 || t < r->clean_ms)
			r->clean_ms = t;
	}
	model_destroy(&m);
	return rc;
}

int ld_variants_measure(struct ld_variant_row rows[LD_VARIANTS], char *why,
			unsigned whylen)
{
	unsigned v;
	int rc;

	for (v = 0; v < LD_VARIANTS; v++) {
		memset(&rows[v], 0, sizeof(rows[v]));
		rows[v].name = model_variants[v].name;
		fprintf(stderr, "vmmu bench logdirty: %s...\n",
			model_variants[v].name);
		rows[v].enable_1g_ms = enable_ms(v, 1ULL << 30);
		rows[v].enable_64g_ms = enable_ms(v, 64ULL << 30);
		rows[v].enable_1t_ms = enable_ms(v, 1ULL << 40);
		rc = stores(v, &rows[v]);
		if (rc < 0 || rows[v].enable_1g_ms < 0 ||
		    rows[v].enable_64g_ms < 0 || rows[v].enable_1t_ms < 0) {
			snprintf(why, whylen, "%s: %s", model_variants[v].name,
				 rc < 0 ? vmmu_strerror(rc) : "enable failed");
			return rc < 0 ? rc : VMMU_EIO;
		}
	}
	return 0;
}
