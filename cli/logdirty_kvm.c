/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench logdirty's KVM rounds: a real KVM guest (bench/guest_vm.c,
 * the routine that writes once per 4 KiB page) dirties LD_KVM_PAGES
 * pages it had touched before, with dirty logging on, and one harvest of
 * them is timed, three ways where KVM offers them (probed at run time):
 *   bitmap  KVM_GET_DIRTY_LOG (which also re-protects the pages);
 *   manual  KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: KVM_GET_DIRTY_LOG, then
 *           KVM_CLEAR_DIRTY_LOG of what it reported;
 *   ring    KVM_CAP_DIRTY_LOG_RING: the vCPU's ring read and handed back,
 *           then KVM_RESET_DIRTY_RINGS.
 * Every round must report all the guest's pages (KVM is the reference
 * here: a round that misses one is an error, not a figure).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "bench/exits.h"
#include "logdirty_kvm.h"
#include "vmmu/error.h"

#define LD_RING_BYTES (4096 * sizeof(struct kvm_dirty_gfn))

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

struct harvest {
	uint64_t *bm;           /* one bit per guest page: reported */
	uint64_t npages;
};

static void ring_mark(void *ctx, uint32_t slot, uint64_t off)
{
	struct harvest *h = ctx;

	if (slot == 0 && off < h->npages)
		h->bm[off / 64] |= 1ULL << (off % 64);
}

/* One harvest of mode m into h->bm; its time in ms, or a vmmu_err. */
static double harvest(struct guest_vm *g, enum ld_kvm_mode m,
		      struct harvest *h)
{
	struct kvm_dirty_log log = { .slot = 0 };
	struct kvm_clear_dirty_log clr = { .slot = 0 };
	double t0 = now_ms();
	long n;

	memset(h->bm, 0, (h->npages + 63) / 64 * 8);
	if (m == LD_KVM_RING) {
		n = kvmh_ring_harvest(&g->k, ring_mark, h);
		return n < 0 ? (double)n : now_ms() - t0;
	}
	log.dirty_bitmap = h->bm;
	if (ioctl(g->k.vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return VMMU_EIO;
	if (m == LD_KVM_MANUAL) {
		clr.num_pages = (uint32_t)h->npages;
		clr.dirty_bitmap = h->bm;
		if (ioctl(g->k.vm_fd, KVM_CLEAR_DIRTY_LOG, &clr) < 0)
			return VMMU_EIO;
	}
	return now_ms() - t0;
}

static int manual_protect(struct guest_vm *g)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE },
	};

	if (ioctl(g->k.vm_fd, KVM_CHECK_EXTENSION, cap.cap) <= 0)
		return VMMU_ENOTSUP;
	return ioctl(g->k.vm_fd, KVM_ENABLE_CAP, &cap) < 0 ? VMMU_EIO : VMMU_OK;
}

/* Rounds of mode m on one guest; the fastest, all checked. */
static int rounds(struct guest_vm *g, enum ld_kvm_mode m, struct ld_kvm_row *r)
{
	struct harvest h = { NULL, g->k.mem_size >> 12 };
	uint64_t first = g->fresh_gpa >> 12, i;
	struct guest_run gr;
	unsigned k;
	int rc;

	h.bm = calloc((h.npages + 63) / 64, 8);
	if (!h.bm)
		return VMMU_ENOMEM;
	/* the pages exist before logging starts: no first-touch faults */
	rc = guest_vm_run(g, GR_TOUCH, 3, LD_KVM_PAGES, g->fresh_gpa, 0, &gr);
	if (rc == 0 && (rc = kvmh_set_slot0_flags(&g->k, KVM_MEM_LOG_DIRTY_PAGES)) == 0 &&
	    m != LD_KVM_RING)
		rc = harvest(g, m, &h) < 0 ? VMMU_EIO : 0;  /* start clean */
	if (rc == 0 && m == LD_KVM_RING && kvmh_ring_harvest(&g->k, NULL, NULL) < 0)
		rc = VMMU_EIO;
	for (k = 0; k < 4 && rc == 0; k++) {
		double ms;
		uint64_t got = 0;

		rc = guest_vm_run(g, GR_TOUCH, 3, LD_KVM_PAGES, g->fresh_gpa, 0,
				  &gr);
		if (rc < 0)
			break;
		ms = harvest(g, m, &h);
		if (ms < 0) {
			rc = (int)ms;
			break;
		}
		for (i = 0; i < h.npages; i++)
			got += (h.bm[i / 64] >> (i % 64)) & 1;
		for (i = first; i < first + LD_KVM_PAGES; i++)
			if (!((h.bm[i / 64] >> (i % 64)) & 1))
				rc = VMMU_EIO;  /* a written page not reported */
		r->pages = (long)got;
		if (k > 0 && (r->ms < 0 || ms < r->ms))
			r->ms = ms;     /* round 0 warms the caches */
	}
	free(h.bm);
	return rc;
}

void ld_kvm_measure(struct ld_kvm_row rows[LD_KVM_MODES])
{
	static const char *const names[LD_KVM_MODES] = { "bitmap", "manual",
							  "ring" };
	unsigned m;

	for (m = 0; m < LD_KVM_MODES; m++) {
		struct guest_vm g;
		int rc;

		rows[m].name = names[m];
		rows[m].ms = -1;
		rows[m].pages = 0;
		rows[m].note[0] = 0;
		rc = guest_vm_open_ring(&g, NULL, 0,
					(uint64_t)LD_KVM_PAGES << 12,
					m == LD_KVM_RING ? LD_RING_BYTES : 0);
		if (rc < 0) {
			snprintf(rows[m].note, sizeof(rows[m].note), "%s", g.why);
			continue;
		}
		rc = m == LD_KVM_MANUAL ? manual_protect(&g) : 0;
		if (rc == 0)
			rc = rounds(&g, (enum ld_kvm_mode)m, &rows[m]);
		if (rc < 0) {
			const char *why = g.why[0] ? g.why : g.k.why;

			snprintf(rows[m].note, sizeof(rows[m].note), "%s%s%.150s",
				 rc == VMMU_ENOTSUP ? "not offered" :
				 vmmu_strerror(rc), why[0] ? ": " : "", why);
			rows[m].ms = -1;
		}
		guest_vm_close(&g);
	}
}
