/* SPDX-License-Identifier: MIT */
/*
 * vmmu trace files (docs/run.md, "Trace format"): a real program's loads,
 * stores, instruction fetches and mmap/munmap/brk calls, as `vmmu trace`
 * records them under valgrind's lackey, replayed by `vmmu run --workload
 * trace:FILE`.
 *
 * Layout, version 1 (all integers little-endian):
 *   0   8  magic "VMMUTRC\x1a"
 *   8   2  version (1)            10  2  header size (256)
 *   12  4  flags (bit 0: the record stream is zlib-compressed)
 *   16  8  records                24  8  highest address used
 *   32  8  stored stream bytes    40  8  record stream bytes
 *   48  4  FNV-1a of the record stream   52  4  zero
 *   56  40 tool (NUL-padded)      96 160 command line (NUL-padded)
 *   256    the record stream (zlib)
 * A record is a tag byte: 0x01..0x7f an access (kind = tag >> 5: 0 load,
 * 1 store, 2 modify, 3 fetch; size = tag & 31, 1..31, larger sizes
 * clamped), then the zigzag LEB128 difference from the previous address
 * of its stream (fetches and data apart); 0x80 mmap, 0x81 munmap, 0x82
 * brk, then LEB128 address and length; 0xff ends the stream.
 */
#ifndef VMMU_MODEL_TRACE_H
#define VMMU_MODEL_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TRACE_MAGIC   "VMMUTRC\x1a"
#define TRACE_VERSION 1
#define TRACE_HDR     256
#define TRACE_MAX_STREAM (1ULL << 30)

enum trace_kind {
	TR_LOAD = 0, TR_STORE, TR_MODIFY, TR_FETCH,
	TR_MMAP, TR_MUNMAP, TR_BRK,
};

struct trace_rec {
	uint8_t kind;           /* enum trace_kind */
	uint8_t size;           /* accesses: 1..31 */
	uint64_t addr;
	uint64_t len;           /* mmap, munmap: bytes; brk: 0 */
};

struct trace {
	uint64_t records, max_addr;
	char tool[41], command[161];
	uint8_t *stream;        /* the record stream, decompressed */
	size_t len;
	uint64_t accesses, events;
};

/*
 * Read and check a whole trace file: 0, or VMMU_EIO (unreadable) /
 * VMMU_EPARSE (not a vmmu trace, another tool's file, another version,
 * truncated, corrupt) with a sentence in err.
 */
int trace_load(const char *path, struct trace **out, char *err, size_t errlen);
void trace_free(struct trace *t);

struct trace_cursor {
	const struct trace *t;
	size_t pos;
	uint64_t last[2];
};

void trace_cursor_init(struct trace_cursor *c, const struct trace *t);
/* 1 with *r filled, 0 at the end, VMMU_EPARSE on a bad record. */
int trace_next(struct trace_cursor *c, struct trace_rec *r);

struct trace_writer {
	FILE *f;
	char *path;
	uint8_t *buf;
	size_t len, cap;
	uint64_t last[2], records, max_addr;
	char tool[41], command[161];
};

/*
 * Create path for writing (refusing to replace a file that is not a vmmu
 * trace); records are kept in memory and compressed at close.
 */
int trace_writer_open(struct trace_writer *w, const char *path,
		      const char *tool, const char *command, char *err,
		      size_t errlen);
int trace_write(struct trace_writer *w, const struct trace_rec *r);
int trace_writer_close(struct trace_writer *w, char *err, size_t errlen);
void trace_writer_abort(struct trace_writer *w);

/* Whether path may be written: absent, or a vmmu trace already. */
bool trace_path_replaceable(const char *path);

#endif
