/* SPDX-License-Identifier: MIT */
/*
 * Live migration of a model VM (migrate/model.h) over a byte stream (a
 * TCP socket): pre-copy rounds driven by the VM's dirty log, then
 * stop-and-copy, then a check of the receiver's memory by hash per page.
 * The stream format is in docs/logdirty.md ("Stream format").
 */
#ifndef VMMU_MIGRATE_H
#define VMMU_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "migrate/model.h"

#define MIG_VERSION        1
#define MIG_MAGIC          0x47494d56u      /* "VMIG" little-endian */
#define MIG_MAX_ROUNDS     30               /* Xen's rules */
#define MIG_MIN_DIRTY      50
#define MIG_MAX_FACTOR     3
#define MIG_MAX_PAYLOAD    (1u << 20)
#define MIG_PAGES_PER_REC  64

enum mig_rec_type {
	MIG_REC_HELLO = 1,      /* source: memory size, vCPUs, workload */
	MIG_REC_PAGES,          /* source: round, count, (gfn, 4 KiB) x count */
	MIG_REC_ZERO,           /* source: round, count, gfn x count */
	MIG_REC_ROUND_END,      /* source: round, pages in the round */
	MIG_REC_VCPU,           /* source: one vCPU's state */
	MIG_REC_END,            /* source: total pages, rounds */
	MIG_REC_RESUMED,        /* receiver: all state in, guest could run */
	MIG_REC_HASHES,         /* receiver: npages, 8-byte hash per page */
	MIG_REC_ERROR,          /* either side: code, text */
};

/* Faults to inject on the source's outgoing stream (tests). -1: none. */
struct mig_fault {
	int64_t flip_at;        /* xor 0x40 into the byte at this offset */
	int64_t truncate_at;    /* stop sending here, half-close */
	int64_t kill_at;        /* SIGKILL kill_pid when reaching it */
	pid_t kill_pid;
};

struct mig_opts {
	double bandwidth;       /* MB/s (10^6 bytes), 0: unlimited */
	FILE *progress;         /* per-round lines, or NULL */
	struct mig_fault fault;
	double io_timeout;      /* seconds without progress: failure (0: 30) */
};

struct mig_round {
	unsigned round;
	uint64_t pages, zero_pages, bytes;
	double seconds;
	double dirty_rate;      /* pages dirtied per second during it */
};

struct mig_report {
	bool ok;
	char why[512];          /* !ok: what happened */
	const char *stop_reason;    /* why pre-copy stopped */
	struct mig_round rounds[MIG_MAX_ROUNDS + 2];
	unsigned nrounds;       /* pre-copy rounds, then stop-and-copy */
	uint64_t total_pages, total_bytes;
	uint64_t downtime_pages;
	double downtime_ms, total_seconds;
	uint64_t mem_pages;
	int64_t first_bad_gfn;  /* -1: memory identical */
	uint64_t bad_pages;
	uint64_t guest_stores;
};

/* Live-migrate m (its writer threads running) over fd. 0 or -1. */
int mig_send(struct model *m, int fd, const struct mig_opts *o,
	     struct mig_report *r);

struct mig_recv_report {
	bool ok;
	char why[256];
	uint64_t mem, pages, records, bytes;
	unsigned vcpus, rounds;
};

/* Receive one migration from fd into a fresh model VM, answer with the
 * hashes of its memory. 0 or -1 (r->why says why). */
int mig_receive(int fd, struct mig_recv_report *r);

/* ---- sockets and sizes (migrate/net.c) ---- */

/* Listen on "[ADDR:]PORT" (ADDR default 0.0.0.0, PORT 0: ephemeral); the
 * bound address as "ADDR:PORT" in name. fd, or -1 with why. */
int mig_listen(const char *spec, char *name, size_t namelen, char *why,
	       size_t whylen);
/* Connect to "HOST:PORT". fd, or -1 with why. */
int mig_connect(const char *spec, char *why, size_t whylen);
/* "256M", "1G", "4096": bytes (suffixes K, M, G: powers of 1024). */
int mig_parse_size(const char *s, uint64_t *out);

/* ---- the record layer (migrate/stream.c) ---- */

struct mig_stream {
	int fd;
	uint32_t seq_out, seq_in;
	uint64_t out_bytes, in_bytes;
	double bandwidth;       /* bytes per second, 0: unlimited */
	double t0;              /* throttle start */
	const struct mig_fault *fault;
	bool cut;               /* a fault ended the stream */
	double timeout;
	char why[200];
};

void mig_stream_init(struct mig_stream *s, int fd, double bandwidth_mbs,
		     const struct mig_fault *fault, double timeout);
/* One record out: header (type, seq, length, CRC-32 of both) + payload.
 * 0, or -1 with s->why. */
int mig_put(struct mig_stream *s, uint16_t type, const void *payload,
	    uint32_t len);
/* One record in (payload into buf of cap bytes). 0, or -1 with s->why:
 * closed, truncated, bad magic/version/sequence/length or checksum. */
int mig_get(struct mig_stream *s, uint16_t *type, void *buf, uint32_t cap,
	    uint32_t *len);
double mig_now(void);
/* The peer sent something (or closed) while we send: it only does so to
 * stop us. mig_fail_spoke sets s->why for it and returns -1. */
bool mig_peer_spoke(struct mig_stream *s);
int mig_fail_spoke(struct mig_stream *s);
/* The 8-byte hash of a page (SHA-256, first 8 bytes). */
uint64_t mig_page_hash(const void *page);

#endif
