/* SPDX-License-Identifier: MIT */
/*
 * The receiving side: rebuilds the guest in a fresh model VM from the
 * records, restores the vCPUs, says RESUMED, then sends the hash of every
 * page. Anything malformed ends the migration with an ERROR record; the
 * receiver never trusts a length, a count or a gfn from the stream.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "migrate/migrate.h"
#include "vmmu/error.h"

struct dst {
	struct mig_stream s;
	struct model m;
	bool have_vm;
	struct mig_recv_report *r;
	uint8_t *buf;
	uint64_t npages;
};

static int dst_fail(struct dst *d, const char *what)
{
	snprintf(d->r->why, sizeof(d->r->why), "%s", what);
	return -1;
}

static int on_hello(struct dst *d, const uint8_t *p, uint32_t len)
{
	struct model_cfg cfg = { 0 };
	uint32_t h[6];

	if (len != sizeof(h))
		return dst_fail(d, "malformed HELLO record");
	memcpy(h, p, sizeof(h));
	memcpy(&cfg.mem, &h[2], 8);
	cfg.vcpus = h[4];
	cfg.workload = MODEL_WL_IDLE;
	if (h[0] != MIG_VERSION || h[1] != 4096)
		return dst_fail(d, "unsupported stream version or page size");
	if (model_create(&d->m, &cfg) < 0)
		return dst_fail(d, d->m.why);
	d->have_vm = true;
	d->npages = cfg.mem >> 12;
	d->r->mem = cfg.mem;
	d->r->vcpus = cfg.vcpus;
	return 0;
}

static int on_pages(struct dst *d, const uint8_t *p, uint32_t len)
{
	uint32_t n, i;
	uint64_t gfn;

	memcpy(&n, p + 4, 4);
	if (len < 8 || n > MIG_PAGES_PER_REC || len != 8 + n * (8 + 4096))
		return dst_fail(d, "malformed PAGES record");
	for (i = 0; i < n; i++) {
		const uint8_t *e = p + 8 + i * (8 + 4096);

		memcpy(&gfn, e, 8);
		if (gfn >= d->npages)
			return dst_fail(d, "PAGES record: gfn outside guest memory");
		if (vmmu_vm_write_gpa(d->m.vm, mk_gpa(gfn << 12), e + 8, 4096) < 0)
			return dst_fail(d, "cannot write guest memory");
	}
	d->r->pages += n;
	return 0;
}

static int on_zero(struct dst *d, const uint8_t *p, uint32_t len)
{
	static const uint8_t zero[4096];
	uint32_t n, i;
	uint64_t gfn;
	hpa_t hpa;

	memcpy(&n, p + 4, 4);
	if (len < 8 || n > 1024 || len != 8 + n * 8)
		return dst_fail(d, "malformed ZERO record");
	for (i = 0; i < n; i++) {
		memcpy(&gfn, p + 8 + i * 8, 8);
		if (gfn >= d->npages)
			return dst_fail(d, "ZERO record: gfn outside guest memory");
		if (vmmu_vm_gpa_to_hpa(d->m.vm, mk_gpa(gfn << 12), &hpa) == 0 &&
		    vmmu_vm_write_gpa(d->m.vm, mk_gpa(gfn << 12), zero, 4096) < 0)
			return dst_fail(d, "cannot write guest memory");
	}
	d->r->pages += n;
	return 0;
}

static int on_vcpu(struct dst *d, const uint8_t *p, uint32_t len)
{
	uint64_t v[7];
	struct vmmu_paging_state *ps;

	if (len != sizeof(v))
		return dst_fail(d, "malformed VCPU record");
	memcpy(v, p, sizeof(v));
	if (v[0] >= d->m.cfg.vcpus)
		return dst_fail(d, "VCPU record: no such vCPU");
	ps = &d->m.vcpu[v[0]]->paging;
	ps->cr0 = v[1];
	ps->cr4 = v[3];
	ps->efer = v[4];
	vmmu_paging_update(ps);
	if (vmmu_vcpu_set_cr(d->m.vcpu[v[0]], VMMU_CR3, v[2]) < 0)
		return dst_fail(d, "VCPU record: paging state refused");
	d->m.st[v[0]].seq = v[5];
	d->m.st[v[0]].rng = v[6];
	return 0;
}

static int dispatch(struct dst *d, uint16_t type, uint32_t len, bool *end)
{
	if (!d->have_vm && type != MIG_REC_HELLO)
		return dst_fail(d, "the stream does not start with HELLO");
	switch (type) {
	case MIG_REC_HELLO:
		return d->have_vm ? dst_fail(d, "a second HELLO")
				  : on_hello(d, d->buf, len);
	case MIG_REC_PAGES:
		return on_pages(d, d->buf, len);
	case MIG_REC_ZERO:
		return on_zero(d, d->buf, len);
	case MIG_REC_ROUND_END:
		d->r->rounds++;
		return 0;
	case MIG_REC_VCPU:
		return on_vcpu(d, d->buf, len);
	case MIG_REC_END:
		*end = true;
		return 0;
	default:
		return dst_fail(d, "unknown record type");
	}
}

static int send_hashes(struct dst *d)
{
	uint64_t g = 0, n, k, max = (MIG_MAX_PAYLOAD - 16) / 8;
	uint8_t page[4096];

	while (g < d->npages) {
		n = d->npages - g < max ? d->npages - g : max;
		memcpy(d->buf, &g, 8);
		memcpy(d->buf + 8, &n, 8);
		for (k = 0; k < n; k++) {
			uint64_t h;

			vmmu_vm_read_gpa(d->m.vm, mk_gpa((g + k) << 12), page, 4096);
			h = mig_page_hash(page);
			memcpy(d->buf + 16 + k * 8, &h, 8);
		}
		if (mig_put(&d->s, MIG_REC_HASHES, d->buf, (uint32_t)(16 + n * 8)) < 0)
			return dst_fail(d, d->s.why);
		g += n;
	}
	return 0;
}

/* Tell the source, let it see the record before the connection goes. */
static void send_error(struct dst *d)
{
	char msg[260];
	uint32_t code = 1;
	size_t n = strlen(d->r->why);
	char sink[4096];
	double t0 = mig_now();

	memcpy(msg, &code, 4);
	memcpy(msg + 4, d->r->why, n);
	d->s.cut = false;
	mig_put(&d->s, MIG_REC_ERROR, msg, (uint32_t)(4 + n));
	shutdown(d->s.fd, SHUT_WR);
	while (mig_now() - t0 < 2 && recv(d->s.fd, sink, sizeof(sink), 0) > 0)
		;
}

int mig_receive(int fd, struct mig_recv_report *r)
{
	struct dst d;
	uint16_t type;
	uint32_t len;
	bool end = false;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	memset(&d, 0, sizeof(d));
	d.r = r;
	d.buf = malloc(MIG_MAX_PAYLOAD);
	mig_stream_init(&d.s, fd, 0, NULL, 30);
	if (!d.buf)
		rc = dst_fail(&d, "out of memory");
	while (rc == 0 && !end) {
		if (mig_get(&d.s, &type, d.buf, MIG_MAX_PAYLOAD, &len) < 0)
			rc = dst_fail(&d, d.s.why);
		else
			rc = dispatch(&d, type, len, &end);
		r->records++;
	}
	if (rc == 0 && mig_put(&d.s, MIG_REC_RESUMED, NULL, 0) < 0)
		rc = dst_fail(&d, d.s.why);
	if (rc == 0)
		rc = send_hashes(&d);
	if (rc < 0)
		send_error(&d);
	r->bytes = d.s.in_bytes;
	r->ok = rc == 0;
	if (d.have_vm)
		model_destroy(&d.m);
	free(d.buf);
	return rc;
}
