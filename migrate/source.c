/* SPDX-License-Identifier: MIT */
/*
 * The pre-copy source (migrate/migrate.h): round 0 sends all memory, each
 * later round what the dirty log reports, until fewer than 50 pages are
 * dirty, 30 rounds were made or 3x guest memory was sent (Xen's rules);
 * then the guest is paused, the rest and the vCPU state sent, the
 * receiver's page hashes compared with the source's. On any failure the
 * guest is resumed, the dirty log returned to off (as it was before), and
 * the source memory is untouched: the migration only reads it.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "migrate/migrate.h"
#include "vmmu/dirty.h"
#include "vmmu/error.h"

struct src {
	struct model *m;
	struct mig_stream s;
	const struct mig_opts *o;
	struct mig_report *r;
	uint64_t npages;
	uint64_t *bm, *held;
	uint8_t *rec;           /* one PAGES record */
	uint64_t *zero;         /* gfns of one ZERO record */
	uint32_t npg, nzero, round;
	struct mig_round *cur;
};

static int src_fail(struct src *x, const char *fmt, const char *what)
{
	snprintf(x->r->why, sizeof(x->r->why), fmt, what);
	return -1;
}

/*
 * The copy races with the guest's stores by design: pre-copy sends pages
 * as they are being written, and the dirty log reports them again.
 */
__attribute__((no_sanitize("thread")))
static void copy_page(void *dst, const void *src)
{
	const volatile uint64_t *s = src;
	uint64_t *d = dst;
	unsigned i;

	for (i = 0; i < 512; i++)
		d[i] = s[i];
}

static int flush_pages(struct src *x)
{
	uint32_t hdr[2] = { x->round, x->npg };
	int rc;

	if (!x->npg)
		return 0;
	memcpy(x->rec, hdr, 8);
	rc = mig_put(&x->s, MIG_REC_PAGES, x->rec, 8 + x->npg * (8 + 4096));
	x->npg = 0;
	if (rc == 0 && mig_peer_spoke(&x->s))
		return mig_fail_spoke(&x->s);
	return rc;
}

static int flush_zero(struct src *x)
{
	uint32_t *hdr = (uint32_t *)x->zero;
	int rc;

	if (!x->nzero)
		return 0;
	hdr[0] = x->round;
	hdr[1] = x->nzero;
	rc = mig_put(&x->s, MIG_REC_ZERO, x->zero, 8 + x->nzero * 8);
	x->nzero = 0;
	return rc;
}

static int send_page(struct src *x, uint64_t gfn)
{
	const struct vmmu_platform *p = &x->m->vm->platform;
	uint8_t *slot;
	hpa_t hpa;
	void *host;

	if (vmmu_vm_gpa_to_hpa(x->m->vm, mk_gpa(gfn << 12), &hpa) < 0 ||
	    !(host = p->map(p->ctx, hpa))) {
		x->zero[1 + x->nzero++] = gfn;
		x->cur->zero_pages++;
		return x->nzero == 1024 ? flush_zero(x) : 0;
	}
	slot = x->rec + 8 + x->npg * (8 + 4096);
	memcpy(slot, &gfn, 8);
	copy_page(slot + 8, host);
	x->npg++;
	x->cur->pages++;
	return x->npg == MIG_PAGES_PER_REC ? flush_pages(x) : 0;
}

/* One round: every page (bm NULL) or those set in bm. */
static int send_round(struct src *x, const uint64_t *bm)
{
	struct mig_round *rd = &x->r->rounds[x->r->nrounds];
	uint64_t g, b0 = x->s.out_bytes, tot[2];
	double t0 = mig_now();

	memset(rd, 0, sizeof(*rd));
	rd->round = x->round;
	x->cur = rd;
	for (g = 0; g < x->npages; g++) {
		if (bm && !((bm[g / 64] >> (g % 64)) & 1))
			continue;
		if (send_page(x, g) < 0)
			return -1;
	}
	tot[0] = x->round;
	tot[1] = rd->pages + rd->zero_pages;
	if (flush_pages(x) < 0 || flush_zero(x) < 0 ||
	    mig_put(&x->s, MIG_REC_ROUND_END, tot, sizeof(tot)) < 0)
		return -1;
	rd->bytes = x->s.out_bytes - b0;
	rd->seconds = mig_now() - t0;
	x->r->total_pages += rd->pages + rd->zero_pages;
	x->r->total_bytes += rd->bytes;
	x->r->nrounds++;
	if (x->o->progress)
		fprintf(x->o->progress,
			"vmmu migrate: round %u: %llu pages (%llu zero), %.1f MB, %.3f s\n",
			x->round, (unsigned long long)rd->pages,
			(unsigned long long)rd->zero_pages, (double)rd->bytes / 1e6,
			rd->seconds);
	x->round++;
	return 0;
}

static int harvest(struct src *x, uint64_t *bm, uint64_t *cnt)
{
	int rc = vmmu_dirty_clean(x->m->vm, 0, x->npages, bm, cnt);

	if (rc < 0)
		return src_fail(x, "dirty log: %s", vmmu_strerror(rc));
	return 0;
}

static int precopy(struct src *x)
{
	uint64_t cnt, i, limit = MIG_MAX_FACTOR * x->npages;
	double last;

	if (send_round(x, NULL) < 0)
		return -1;
	for (;;) {
		last = x->r->rounds[x->r->nrounds - 1].seconds;
		if (harvest(x, x->held, &cnt) < 0)
			return -1;
		x->r->rounds[x->r->nrounds - 1].dirty_rate =
			last > 0 ? (double)cnt / last : 0;
		if (cnt < MIG_MIN_DIRTY) {
			x->r->stop_reason = "fewer than 50 dirty pages";
			break;
		}
		if (x->r->nrounds >= MIG_MAX_ROUNDS) {
			x->r->stop_reason = "30 rounds";
			break;
		}
		if (x->r->total_pages + cnt > limit) {
			x->r->stop_reason = "3x guest memory sent";
			break;
		}
		if (send_round(x, x->held) < 0)
			return -1;
	}
	/* Stop-and-copy: what the last harvest held, and what came since. */
	for (i = 0; i < (x->npages + 63) / 64; i++)
		x->bm[i] = 0;
	return 0;
}

static int send_vcpus(struct src *x)
{
	unsigned i;

	for (i = 0; i < x->m->cfg.vcpus; i++) {
		const struct vmmu_paging_state *ps = &x->m->vcpu[i]->paging;
		uint64_t v[7] = { i, ps->cr0, ps->cr3, ps->cr4, ps->efer,
				  x->m->st[i].seq, x->m->st[i].rng };

		if (mig_put(&x->s, MIG_REC_VCPU, v, sizeof(v)) < 0)
			return -1;
	}
	return 0;
}

/* The receiver's verdict or error, after END or a failed send. */
static int await(struct src *x, uint16_t want, void *buf, uint32_t cap,
		 uint32_t *len)
{
	uint16_t type;

	if (mig_get(&x->s, &type, buf, cap, len) < 0)
		return src_fail(x, "receiver: %s", x->s.why);
	if (type == MIG_REC_ERROR) {
		((char *)buf)[*len < cap ? *len : cap - 1] = 0;
		return src_fail(x, "receiver reported: %s", (char *)buf + 4);
	}
	if (type != want)
		return src_fail(x, "receiver: %s", "unexpected record");
	return 0;
}

static int verify(struct src *x)
{
	uint8_t *buf = malloc(MIG_MAX_PAYLOAD), page[4096];
	uint64_t got = 0, k, first, n;
	uint32_t len;
	int rc = 0;

	x->r->first_bad_gfn = -1;
	while (buf && got < x->npages && rc == 0) {
		rc = await(x, MIG_REC_HASHES, buf, MIG_MAX_PAYLOAD, &len);
		if (rc < 0)
			break;
		memcpy(&first, buf, 8);
		memcpy(&n, buf + 8, 8);
		if (first != got || len != 16 + n * 8 || first + n > x->npages) {
			rc = src_fail(x, "receiver: %s", "malformed hash record");
			break;
		}
		for (k = 0; k < n; k++) {
			uint64_t h;

			vmmu_vm_read_gpa(x->m->vm, mk_gpa((first + k) << 12), page, 4096);
			memcpy(&h, buf + 16 + k * 8, 8);
			if (h != mig_page_hash(page)) {
				if (x->r->first_bad_gfn < 0)
					x->r->first_bad_gfn = (int64_t)(first + k);
				x->r->bad_pages++;
			}
		}
		got += n;
	}
	free(buf);
	if (!buf)
		return src_fail(x, "%s", "out of memory");
	if (rc == 0 && x->r->first_bad_gfn >= 0) {
		snprintf(x->r->why, sizeof(x->r->why),
			 "receiver memory differs from the source: %llu pages, first gfn %#llx",
			 (unsigned long long)x->r->bad_pages,
			 (unsigned long long)x->r->first_bad_gfn);
		rc = -1;
	}
	return rc;
}

static int stop_and_copy(struct src *x)
{
	uint64_t cnt, i, tot[2] = { 0, 0 };
	double t_pause = mig_now();
	uint32_t len;
	char buf[300];
	int rc;

	model_pause(x->m);
	rc = harvest(x, x->bm, &cnt);
	for (i = 0; rc == 0 && i < (x->npages + 63) / 64; i++)
		x->bm[i] |= x->held[i];
	if (rc == 0)
		rc = send_round(x, x->bm);
	if (rc == 0)
		rc = send_vcpus(x);
	tot[0] = x->r->total_pages;
	tot[1] = x->r->nrounds;
	if (rc == 0)
		rc = mig_put(&x->s, MIG_REC_END, tot, sizeof(tot));
	if (rc == 0)
		rc = await(x, MIG_REC_RESUMED, buf, sizeof(buf), &len);
	x->r->downtime_ms = (mig_now() - t_pause) * 1e3;
	x->r->downtime_pages = x->r->rounds[x->r->nrounds - 1].pages +
			       x->r->rounds[x->r->nrounds - 1].zero_pages;
	if (rc == 0)
		rc = verify(x);
	return rc;
}

/* A send failed: the receiver may have said why before it went away. */
static void explain(struct src *x)
{
	char sent[200], buf[300];
	uint32_t len;

	snprintf(sent, sizeof(sent), "%s", x->s.why);
	if (await(x, MIG_REC_RESUMED, buf, sizeof(buf), &len) == 0 ||
	    !strstr(x->r->why, "receiver reported"))
		snprintf(x->r->why, sizeof(x->r->why), "%s (then %s)", sent,
			 x->s.why);
}

int mig_send(struct model *m, int fd, const struct mig_opts *o,
	     struct mig_report *r)
{
	struct src x;
	uint32_t hello[6];
	uint64_t words;
	double t0 = mig_now();
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	x.m = m;
	x.o = o;
	x.r = r;
	x.npages = m->cfg.mem >> 12;
	r->mem_pages = x.npages;
	r->first_bad_gfn = -1;
	words = (x.npages + 63) / 64;
	x.bm = calloc(words, 8);
	x.held = calloc(words, 8);
	x.rec = malloc(8 + MIG_PAGES_PER_REC * (8 + 4096));
	x.zero = malloc(8 + 1024 * 8);
	mig_stream_init(&x.s, fd, o->bandwidth, &o->fault, o->io_timeout);
	rc = x.bm && x.held && x.rec && x.zero ? 0
					       : src_fail(&x, "%s", "out of memory");
	if (rc == 0 && (rc = vmmu_dirty_enable_ram(m->vm)) < 0)
		rc = src_fail(&x, "cannot start the dirty log: %s",
			      vmmu_strerror(rc));
	if (rc == 0) {
		hello[0] = MIG_VERSION;
		hello[1] = 4096;
		memcpy(&hello[2], &m->cfg.mem, 8);
		hello[4] = m->cfg.vcpus;
		hello[5] = m->cfg.workload;
		rc = mig_put(&x.s, MIG_REC_HELLO, hello, sizeof(hello));
		if (rc == 0)
			rc = precopy(&x);
		if (rc == 0)
			rc = stop_and_copy(&x);
		if (rc < 0 && !r->why[0])
			explain(&x);
		model_resume(m);
		vmmu_dirty_disable(m->vm);
	}
	r->ok = rc == 0;
	r->total_seconds = mig_now() - t0;
	r->guest_stores = atomic_load(&m->stores);
	free(x.bm);
	free(x.held);
	free(x.rec);
	free(x.zero);
	return rc;
}
