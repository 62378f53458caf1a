/* SPDX-License-Identifier: MIT */
/*
 * vmmu trace files: what the writer writes the reader reads back record
 * for record; truncated, corrupted, foreign and other-version files are
 * refused with a reason; an existing file that is not a trace is never
 * replaced; the shipped traces load.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "model/trace.h"
#include "vmmu/error.h"

static char dir[64], path[128];

static int setup(void **s)
{
	(void)s;
	snprintf(dir, sizeof(dir), "/tmp/vmmu-trace-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/t.vtr", dir);
	return 0;
}

static int teardown(void **s)
{
	char cmd[128];

	(void)s;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const struct trace_rec recs[] = {
	{ TR_FETCH, 3, 0x401000, 0 }, { TR_LOAD, 8, 0x7ffe0000ff00, 0 },
	{ TR_STORE, 4, 0x7ffe0000fef8, 0 }, { TR_MMAP, 0, 0x7f0000000000, 8192 },
	{ TR_MODIFY, 8, 0x601000, 0 }, { TR_FETCH, 15, 0x400ff8, 0 },
	{ TR_BRK, 0, 0x1234000, 0 }, { TR_MUNMAP, 0, 0x7f0000000000, 8192 },
	{ TR_LOAD, 1, 0, 0 }, { TR_STORE, 31, 0xfffffffffff0ULL, 0 },
};

#define NRECS (sizeof(recs) / sizeof(recs[0]))

static void write_trace(void)
{
	struct trace_writer w;
	char err[256];
	unsigned i;

	unlink(path);   /* a previous case may have left garbage there */
	assert_int_equal(trace_writer_open(&w, path, "test", "a b c", err,
					   sizeof(err)), 0);
	for (i = 0; i < NRECS; i++)
		assert_int_equal(trace_write(&w, &recs[i]), 0);
	assert_int_equal(trace_writer_close(&w, err, sizeof(err)), 0);
}

static void test_roundtrip(void **s)
{
	struct trace *t;
	struct trace_cursor c;
	struct trace_rec r;
	char err[256];
	unsigned i;

	(void)s;
	write_trace();
	assert_int_equal(trace_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t->records, NRECS);
	assert_int_equal(t->accesses, 7);
	assert_int_equal(t->events, 3);
	assert_string_equal(t->tool, "test");
	assert_string_equal(t->command, "a b c");
	trace_cursor_init(&c, t);
	for (i = 0; i < NRECS; i++) {
		assert_int_equal(trace_next(&c, &r), 1);
		assert_int_equal(r.kind, recs[i].kind);
		assert_int_equal(r.addr, recs[i].addr);
		assert_int_equal(r.len, recs[i].len);
		if (r.kind < TR_MMAP)
			assert_int_equal(r.size, recs[i].size);
	}
	assert_int_equal(trace_next(&c, &r), 0);
	trace_free(t);
}

/* The file's bytes, changed by fn, must be refused with a reason. */
static void refused(void (*fn)(uint8_t *d, size_t *n), const char *why)
{
	uint8_t buf[4096];
	struct trace *t = NULL;
	char err[256] = "";
	size_t n;
	FILE *f;

	write_trace();
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fn(buf, &n);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	fclose(f);
	assert_int_equal(trace_load(path, &t, err, sizeof(err)), VMMU_EPARSE);
	assert_null(t);
	if (!strstr(err, why))
		fail_msg("expected '%s' in: %s", why, err);
}

static void cut_end(uint8_t *d, size_t *n) { (void)d; *n -= 3; }
static void cut_header(uint8_t *d, size_t *n) { (void)d; *n = 100; }
static void flip(uint8_t *d, size_t *n) { d[*n - 2] ^= 0x55; }
static void version(uint8_t *d, size_t *n) { (void)n; d[8] = 2; }
static void garbage(uint8_t *d, size_t *n) { memset(d, 0xa5, *n); }
static void lackey(uint8_t *d, size_t *n) { *n = 20; memcpy(d, "==1234== Lackey, ...", 20); }
static void gzip(uint8_t *d, size_t *n) { (void)n; d[0] = 0x1f; d[1] = 0x8b; }
static void count(uint8_t *d, size_t *n) { (void)n; d[16]++; }
static void trail(uint8_t *d, size_t *n) { d[(*n)++] = 0; }

static void test_truncated(void **s) { (void)s; refused(cut_end, "truncated"); refused(cut_header, "truncated"); }
static void test_corrupt(void **s) { (void)s; refused(flip, "corrupt"); refused(count, "record count"); refused(trail, "trailing"); }
static void test_version(void **s) { (void)s; refused(version, "another version"); }
static void test_foreign(void **s)
{
	(void)s;
	refused(garbage, "not a vmmu trace");
	refused(lackey, "lackey");
	refused(gzip, "gzip");
}

static void test_no_overwrite(void **s)
{
	struct trace_writer w;
	char other[160], err[256];
	FILE *f;

	(void)s;
	snprintf(other, sizeof(other), "%s/notes.txt", dir);
	f = fopen(other, "w");
	assert_non_null(f);
	fputs("not a trace\n", f);
	fclose(f);
	assert_int_equal(trace_writer_open(&w, other, "t", "c", err, sizeof(err)),
			 VMMU_EINVAL);
	assert_non_null(strstr(err, "not overwritten"));
	assert_false(trace_path_replaceable(dir));
	write_trace();
	assert_true(trace_path_replaceable(path));
}

static void test_missing(void **s)
{
	struct trace *t;
	char err[256];

	(void)s;
	assert_int_equal(trace_load("/nonexistent/x.vtr", &t, err, sizeof(err)),
			 VMMU_EIO);
}

/* The traces shipped in tests/data/traces are real programs' and load. */
static void test_shipped(void **s)
{
	static const char *const names[] = { "ls.vtr", "sort.vtr" };
	struct trace *t;
	char p[512], err[256];
	unsigned i;

	(void)s;
	for (i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", VMMU_TRACES, names[i]);
		if (trace_load(p, &t, err, sizeof(err)) < 0)
			fail_msg("%s", err);
		assert_true(t->accesses > 100000);
		assert_true(t->events > 5);
		assert_string_equal(t->tool, "valgrind-lackey");
		trace_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_no_overwrite),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_shipped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
