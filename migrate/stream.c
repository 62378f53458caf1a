/* SPDX-License-Identifier: MIT */
/*
 * The migration stream's record layer (docs/logdirty.md, "Stream
 * format"): a 24-byte header (magic, version, type, sequence number,
 * payload length, CRC-32 over header and payload), the payload, nothing
 * else. Throttling to a bandwidth and fault injection live here, on the
 * bytes as they leave.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "migrate/migrate.h"

struct hdr {
	uint32_t magic;
	uint16_t version, type;
	uint32_t seq, len, crc, reserved;
};
_Static_assert(sizeof(struct hdr) == 24, "the header is 24 bytes");

double mig_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t mig_page_hash(const void *page)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	uint64_t h = 0;

	if (EVP_Digest(page, 4096, md, &n, EVP_sha256(), NULL) == 1 && n >= 8)
		memcpy(&h, md, 8);
	return h;
}

void mig_stream_init(struct mig_stream *s, int fd, double bandwidth_mbs,
		     const struct mig_fault *fault, double timeout)
{
	struct timeval tv;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->bandwidth = bandwidth_mbs * 1e6;
	s->fault = fault;
	s->timeout = timeout > 0 ? timeout : 30;
	s->t0 = mig_now();
	tv.tv_sec = (time_t)s->timeout;
	tv.tv_usec = (suseconds_t)((s->timeout - (double)tv.tv_sec) * 1e6);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int fail(struct mig_stream *s, const char *what, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK)
		snprintf(s->why, sizeof(s->why), "%s: no progress for %.0f s",
			 what, s->timeout);
	else if (err)
		snprintf(s->why, sizeof(s->why), "%s: %s", what, strerror(err));
	else
		snprintf(s->why, sizeof(s->why), "%s", what);
	return -1;
}

static void throttle(struct mig_stream *s)
{
	double due, el;

	if (s->bandwidth <= 0)
		return;
	due = (double)s->out_bytes / s->bandwidth;
	el = mig_now() - s->t0;
	if (due > el) {
		struct timespec d;

		d.tv_sec = (time_t)(due - el);
		d.tv_nsec = (long)((due - el - (double)d.tv_sec) * 1e9);
		nanosleep(&d, NULL);
	}
}

static int send_all(struct mig_stream *s, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = send(s->fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return fail(s, "sending to the receiver", k < 0 ? errno : EPIPE);
		p += k;
		n -= (size_t)k;
		s->out_bytes += (uint64_t)k;
	}
	return 0;
}

/* The bytes as they leave, with the injected faults applied. */
static int emit(struct mig_stream *s, const uint8_t *p, size_t n)
{
	const struct mig_fault *f = s->fault;
	uint64_t at = s->out_bytes, end = at + n;
	uint8_t tmp[4096];

	if (s->cut)
		return fail(s, "the stream was cut", 0);
	if (f && f->kill_at >= 0 && (uint64_t)f->kill_at >= at &&
	    (uint64_t)f->kill_at < end) {
		size_t head = (size_t)((uint64_t)f->kill_at - at);

		if (send_all(s, p, head) < 0)
			return -1;
		if (f->kill_pid > 0)
			kill(f->kill_pid, SIGKILL);
		p += head;
		n -= head;
		at += head;
	}
	if (f && f->truncate_at >= 0 && (uint64_t)f->truncate_at >= at &&
	    (uint64_t)f->truncate_at < end) {
		size_t head = (size_t)((uint64_t)f->truncate_at - at);

		if (send_all(s, p, head) < 0)
			return -1;
		shutdown(s->fd, SHUT_WR);
		s->cut = true;
		return fail(s, "stream truncated (injected fault)", 0);
	}
	if (f && f->flip_at >= 0 && (uint64_t)f->flip_at >= at &&
	    (uint64_t)f->flip_at < end) {
		size_t off = (size_t)((uint64_t)f->flip_at - at), k;

		while (n) {
			k = n < sizeof(tmp) ? n : sizeof(tmp);
			memcpy(tmp, p, k);
			if (off < k)
				tmp[off] ^= 0x40;
			off = off >= k ? off - k : (size_t)-1;
			if (send_all(s, tmp, k) < 0)
				return -1;
			p += k;
			n -= k;
		}
		return 0;
	}
	return send_all(s, p, n);
}

int mig_put(struct mig_stream *s, uint16_t type, const void *payload,
	    uint32_t len)
{
	struct hdr h = { MIG_MAGIC, MIG_VERSION, type, s->seq_out, len, 0, 0 };
	uLong crc = crc32(0L, Z_NULL, 0);

	if (len > MIG_MAX_PAYLOAD)
		return fail(s, "record too large", 0);
	crc = crc32(crc, (const Bytef *)&h, sizeof(h));
	if (len)
		crc = crc32(crc, payload, len);
	h.crc = (uint32_t)crc;
	if (emit(s, (const uint8_t *)&h, sizeof(h)) < 0 ||
	    (len && emit(s, payload, len) < 0))
		return -1;
	s->seq_out++;
	throttle(s);
	return 0;
}

/* 1: got n bytes; 0: clean end before the first byte; -1: error. */
static int recv_all(struct mig_stream *s, void *buf, size_t n, bool first)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t k = recv(s->fd, p + got, n - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return fail(s, "receiving", errno);
		if (k == 0) {
			if (first && !got)
				return 0;
			return fail(s, "truncated record: the stream ended inside it", 0);
		}
		got += (size_t)k;
		s->in_bytes += (uint64_t)k;
	}
	return 1;
}

int mig_get(struct mig_stream *s, uint16_t *type, void *buf, uint32_t cap,
	    uint32_t *len)
{
	struct hdr h;
	uint32_t want;
	uLong crc;
	int rc = recv_all(s, &h, sizeof(h), true);

	if (rc == 0)
		return fail(s, "the peer closed the connection", 0);
	if (rc < 0)
		return -1;
	if (h.magic != MIG_MAGIC)
		return fail(s, "corrupt record: bad magic", 0);
	if (h.version != MIG_VERSION)
		return fail(s, "unsupported stream version", 0);
	if (h.seq != s->seq_in)
		return fail(s, "corrupt record: out of sequence", 0);
	if (h.len > cap || h.len > MIG_MAX_PAYLOAD)
		return fail(s, "corrupt record: bad length", 0);
	if (h.len && recv_all(s, buf, h.len, false) < 0)
		return -1;
	want = h.crc;
	h.crc = 0;
	crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)&h, sizeof(h));
	if (h.len)
		crc = crc32(crc, buf, h.len);
	if ((uint32_t)crc != want)
		return fail(s, "corrupt record: checksum mismatch", 0);
	s->seq_in++;
	*type = h.type;
	*len = h.len;
	return 0;
}

bool mig_peer_spoke(struct mig_stream *s)
{
	struct pollfd p = { s->fd, POLLIN, 0 };

	return poll(&p, 1, 0) > 0;
}

int mig_fail_spoke(struct mig_stream *s)
{
	return fail(s, "the receiver interrupted the stream", 0);
}
