/* SPDX-License-Identifier: MIT */
/*
 * `vmmu bench tlb`, `exits`, `model` and `logdirty` as a user runs them:
 * the JSON output and the cost profile parse (jansson) with the documented keys
 * and types (docs/bench.md), and without KVM `bench exits` says so and
 * exits with status 3. The KVM part is skipped where /dev/kvm is absent.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

/* Run a shell command; its stdout in a new buffer, status in *status. */
static char *run(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	size_t cap = 1 << 16, len = 0, got;
	char *buf = malloc(cap);
	int st;

	assert_non_null(p);
	assert_non_null(buf);
	while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += got;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	buf[len] = 0;
	st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return buf;
}

static json_t *get(json_t *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return o ? json_object_get(o, path) : NULL;
}

static void check_stats(json_t *s)
{
	static const char *const keys[] = { "median", "min", "max", "q1", "q3" };
	unsigned i;

	assert_true(json_is_object(s));
	for (i = 0; i < 5; i++)
		assert_true(json_is_number(json_object_get(s, keys[i])));
	assert_true(json_is_integer(json_object_get(s, "n")));
	assert_true(json_number_value(json_object_get(s, "min")) <=
		    json_number_value(json_object_get(s, "median")));
	assert_true(json_number_value(json_object_get(s, "median")) <=
		    json_number_value(json_object_get(s, "max")));
}

static void check_machine(json_t *m)
{
	assert_true(json_is_string(get(m, "cpu.vendor")));
	assert_true(json_is_string(get(m, "cpu.brand")));
	assert_true(json_is_integer(get(m, "cpu.family")));
	assert_true(json_is_integer(get(m, "cpu.model")));
	assert_true(json_is_string(get(m, "kernel.release")));
	assert_true(json_is_string(get(m, "host_hypervisor")));
	assert_true(json_is_string(get(m, "cpuid_tlbs.source")));
	assert_true(json_is_array(get(m, "cpuid_tlbs.tlbs")));
}

static void check_curve(json_t *cv)
{
	json_t *pts = json_object_get(cv, "points"), *pt;
	size_t i;

	assert_true(json_is_array(pts));
	assert_true(json_array_size(pts) >= 3);
	json_array_foreach(pts, i, pt) {
		assert_true(json_is_integer(json_object_get(pt, "ws_bytes")));
		check_stats(get(pt, "4k.ns"));
		check_stats(get(pt, "4k.cycles"));
		check_stats(get(pt, "2m.ns"));
		check_stats(get(pt, "dense.ns"));
	}
	assert_true(json_is_string(json_object_get(cv, "huge_method")));
	assert_true(json_is_integer(json_object_get(cv, "l1_reach_bytes")));
	assert_true(json_is_integer(json_object_get(cv, "l2_reach_bytes")));
	check_stats(json_object_get(cv, "walk_ns"));
	check_stats(json_object_get(cv, "walk_cycles"));
	/* Each inferred knee states how many repetitions agree with it. */
	assert_true(json_is_integer(get(cv, "l2_inference.votes")));
	assert_true(json_integer_value(get(cv, "l2_inference.votes")) <=
		    json_integer_value(get(cv, "l2_inference.repetitions")));
	assert_true(json_integer_value(get(cv, "l1_inference.repetitions")) > 0);
}

/*
 * The profile holds the working sets 8 KiB..256 MiB and the walk cost at
 * 256 MiB whatever --max-ws says (the walk cost used to be read at the
 * largest working set: 26.5 to 404.7 ns depending on it).
 */
static void check_profile_range(json_t *cv)
{
	json_t *pts = json_object_get(cv, "points");
	size_t n = json_array_size(pts);

	assert_true(n >= 3);
	assert_int_equal(json_integer_value(get(json_array_get(pts, 0), "ws_bytes")),
			 8192);
	assert_int_equal(json_integer_value(get(json_array_get(pts, n - 1),
						"ws_bytes")), 256 << 20);
	assert_int_equal(json_integer_value(json_object_get(cv, "walk_ws_bytes")),
			 256 << 20);
}

static void test_tlb_json_and_profile(void **state)
{
	char prof[] = "/tmp/vmmu-bench-profile-XXXXXX", cmd[512];
	json_t *doc, *kinds, *p;
	json_error_t e;
	char *out;
	int st, fd = mkstemp(prof);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(prof);   /* a fresh profile is created */
	snprintf(cmd, sizeof(cmd), "%s bench tlb --quick --max-ws 32M --reps 3 "
		 "--json --quiet --profile %s", VMMU_BIN, prof);
	out = run(cmd, &st);
	assert_int_equal(st, 0);
	doc = json_loads(out, 0, &e);
	assert_non_null(doc);
	assert_string_equal(json_string_value(get(doc, "benchmark")), "tlb");
	check_machine(get(doc, "machine"));
	assert_true(json_is_real(get(doc, "tsc_hz")));
	kinds = get(doc, "tlb.core_kinds");
	assert_true(json_is_array(kinds) && json_array_size(kinds) >= 1);
	assert_true(json_is_integer(get(json_array_get(kinds, 0), "pu")));
	check_curve(get(json_array_get(kinds, 0), "curve"));
	json_decref(doc);
	free(out);

	p = json_load_file(prof, 0, &e);
	assert_non_null(p);
	assert_string_equal(json_string_value(get(p, "schema")),
			    "vmmu-cost-profile");
	assert_int_equal(json_integer_value(get(p, "version")), 1);
	check_machine(get(p, "machine"));
	assert_true(json_is_string(get(p, "tlb.measured_at")));
	check_curve(get(json_array_get(get(p, "tlb.core_kinds"), 0), "curve"));
	check_profile_range(get(json_array_get(get(p, "tlb.core_kinds"), 0),
				"curve"));
	json_decref(p);
	unlink(prof);
}

static void test_bad_usage(void **state)
{
	static const char *const sections[] = { "NAME", "SYNOPSIS",
		"DESCRIPTION", "OPTIONS", "OUTPUT", "EXIT STATUS", "EXAMPLES" };
	char cmd[256], fifo[64], *out;
	struct stat sb;
	size_t i;
	int st;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s bench tlb --max-ws 12Q 2>/dev/null", VMMU_BIN);
	free(run(cmd, &st));
	assert_int_equal(st, 2);
	snprintf(cmd, sizeof(cmd), "%s bench exits --frobnicate 2>/dev/null", VMMU_BIN);
	free(run(cmd, &st));
	assert_int_equal(st, 2);
	/* Refused before anything is allocated: 1 TiB would be OOM-killed. */
	snprintf(cmd, sizeof(cmd), "%s bench tlb --quick --max-ws 1024G 2>/dev/null",
		 VMMU_BIN);
	free(run(cmd, &st));
	assert_int_equal(st, 2);
	/*
	 * --profile replaces its file by rename: anything but a regular file
	 * is refused up front (as root, --profile /dev/zero used to replace
	 * the device node). A FIFO of our own stands in for the device.
	 */
	strcpy(fifo, "/tmp/vmmu-bench-XXXXXX");
	assert_non_null(mkdtemp(fifo));
	strcat(fifo, "/fifo");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(cmd, sizeof(cmd), "%s bench tlb --quick --max-ws 1M --profile "
		 "%s 2>/dev/null", VMMU_BIN, fifo);
	free(run(cmd, &st));
	assert_int_equal(st, 2);
	assert_int_equal(stat(fifo, &sb), 0);
	assert_true(S_ISFIFO(sb.st_mode));
	unlink(fifo);
	*strrchr(fifo, '/') = '\0';
	rmdir(fifo);
	snprintf(cmd, sizeof(cmd), "%s bench exits --profile / 2>/dev/null",
		 VMMU_BIN);
	free(run(cmd, &st));
	assert_int_equal(st, 2);
	/* The refused option is named, also inside a cluster. */
	snprintf(cmd, sizeof(cmd), "%s bench tlb -xh 2>&1", VMMU_BIN);
	out = run(cmd, &st);
	assert_int_equal(st, 2);
	assert_non_null(strstr(out, "'-x'"));
	free(out);
	/* Wrapped multipliers and strtoull's negation are refused. */
	snprintf(cmd, sizeof(cmd), "%s bench exits --chase-max 17179869185G "
		 "2>/dev/null", VMMU_BIN);
	free(run(cmd, &st));
	assert_int_equal(st, 2);
	snprintf(cmd, sizeof(cmd), "%s bench walk --walks -18446744073709551615 "
		 "2>/dev/null", VMMU_BIN);
	free(run(cmd, &st));
	assert_int_equal(st, 2);
	/* The dispatcher's own page has every man-page section too. */
	snprintf(cmd, sizeof(cmd), "%s bench --help", VMMU_BIN);
	out = run(cmd, &st);
	assert_int_equal(st, 0);
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (!strstr(out, sections[i]))
			fail_msg("vmmu bench --help lacks %s", sections[i]);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s bench tlb --help", VMMU_BIN);
	out = run(cmd, &st);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "SYNOPSIS"));
	assert_non_null(strstr(out, "EXIT STATUS"));
	free(out);
}

/* The whole of a small file, for before/after comparisons. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 4096);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 4095, f);
	fclose(f);
	return buf;
}

/* cmd (stderr on stdout) exits 2 naming why, before any measurement. */
static void refused_first(const char *cmd, const char *why)
{
	int st;
	char *out = run(cmd, &st);

	assert_int_equal(st, 2);
	assert_non_null(strstr(out, why));
	assert_null(strstr(out, "calibrating"));
	free(out);
}

/*
 * --profile replaces only a vmmu cost profile, and --profile and --plot
 * are refused before anything is measured (no "calibrating" progress):
 * a JSON case file and a file of random bytes given by mistake used to be
 * overwritten after a full run.
 */
static void test_outputs_checked_first(void **state)
{
	static const char *const contents[] = {
		"{\"paging\": {\"cr0\": \"0x80000011\"}}\n",
		"\x8f\x01\xfe random \xff bytes\n",
		"",
	};
	char dir[] = "/tmp/vmmu-bench-out-XXXXXX", path[96], cmd[512];
	char *before, *after;
	size_t i, n0, n1;
	int st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
	for (i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		fputs(contents[i], f);
		fclose(f);
		before = slurp(path, &n0);
		snprintf(cmd, sizeof(cmd), "%s bench tlb --quick --max-ws 1M "
			 "--reps 3 --profile %s 2>&1 >/dev/null", VMMU_BIN, path);
		refused_first(cmd, "not a vmmu cost profile");
		after = slurp(path, &n1);
		assert_int_equal(n0, n1);
		assert_memory_equal(before, after, n0);
		free(before);
		free(after);
	}
	/* A profile vmmu wrote is replaced; a new file is created. */
	unlink(path);
	snprintf(cmd, sizeof(cmd), "%s bench tlb --quick --max-ws 1M --reps 3 "
		 "--quiet --profile %s >/dev/null 2>&1 && %s bench tlb --quick "
		 "--max-ws 1M --reps 3 --quiet --profile %s >/dev/null 2>&1",
		 VMMU_BIN, path, VMMU_BIN, path);
	free(run(cmd, &st));
	assert_int_equal(st, 0);
	/* --plot: a path that cannot be a directory, before measuring. */
	snprintf(cmd, sizeof(cmd), "%s bench tlb --quick --max-ws 1M --plot "
		 "%s/x 2>&1 >/dev/null", VMMU_BIN, path);
	refused_first(cmd, "--plot");
	snprintf(cmd, sizeof(cmd), "%s bench exits --quick --profile %s/none/p "
		 "2>&1 >/dev/null", VMMU_BIN, dir);
	refused_first(cmd, "--profile");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* No KVM device: a clear message, status 3, JSON saying so. */
static void test_no_kvm(void **state)
{
	char cmd[384], *out;
	json_t *doc;
	json_error_t e;
	int st;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s bench exits --quick --json "
		 "--kvm-device /nonexistent/kvm 2>&1 >/dev/null", VMMU_BIN);
	out = run(cmd, &st);
	assert_int_equal(st, 3);
	assert_non_null(strstr(out, "KVM not available"));
	assert_non_null(strstr(out, "/nonexistent/kvm"));
	free(out);
	snprintf(cmd, sizeof(cmd), "VMMU_KVM_DEVICE=/nonexistent/kvm %s bench "
		 "exits --quick --json 2>/dev/null", VMMU_BIN);
	out = run(cmd, &st);
	assert_int_equal(st, 3);
	doc = json_loads(out, 0, &e);
	assert_non_null(doc);
	assert_true(json_is_false(get(doc, "kvm_available")));
	assert_true(json_is_string(get(doc, "reason")));
	json_decref(doc);
	free(out);
}

static void check_cost(json_t *costs, const char *name, bool to_user)
{
	json_t *c = json_object_get(costs, name);

	assert_non_null(c);
	assert_true(json_is_true(json_object_get(c, "measured")));
	check_stats(json_object_get(c, "cycles"));
	check_stats(json_object_get(c, "ns"));
	check_stats(json_object_get(c, "host_ns"));
	assert_true(json_number_value(get(c, "raw_cycles.median")) > 0);
	if (to_user)
		assert_true(json_number_value(json_object_get(c,
				"user_exits_per_iteration")) > 0.99);
}

static void test_exits_json(void **state)
{
	char cmd[384], plots[] = "/tmp/vmmu-bench-plots-XXXXXX", want[96];
	char *out, *gp;
	json_t *doc, *costs, *c;
	json_error_t e;
	const char *key;
	int st, st2, failed = 0, fd = open("/dev/kvm", O_RDWR);

	(void)state;
	if (fd < 0) {
		printf("SKIP: /dev/kvm not usable here\n");
		skip();
	}
	close(fd);
	assert_non_null(mkdtemp(plots));
	snprintf(cmd, sizeof(cmd), "%s bench exits --quick --reps 3 "
		 "--chase-max 8M --json --quiet --plot %s", VMMU_BIN, plots);
	out = run(cmd, &st);
	doc = json_loads(out, 0, &e);
	assert_non_null(doc);
	check_machine(get(doc, "machine"));
	assert_true(json_is_string(get(doc, "exits.kvm.flavour")));
	assert_true(json_is_object(get(doc, "exits.kvm.capabilities")));
	costs = get(doc, "exits.costs");
	assert_true(json_is_object(costs));
	snprintf(cmd, sizeof(cmd), "cat %s/exits.gp", plots);
	gp = run(cmd, &st2);
	json_object_foreach(costs, key, c) {
		const char *status = json_string_value(json_object_get(c, "status"));
		const char *note = json_string_value(json_object_get(c, "note"));

		assert_true(json_is_string(json_object_get(c, "what")));
		assert_true(json_is_boolean(json_object_get(c, "measured")));
		assert_true(json_is_integer(json_object_get(c, "cpl")));
		/* Every row says what happened; none is dropped silently. */
		assert_non_null(status);
		failed += !strcmp(status, "failed");
		if (!strcmp(status, "measured"))
			continue;
		assert_true(!strcmp(status, "unsupported") || !strcmp(status, "failed"));
		assert_true(note && *note);
		if (strncmp(key, "empty_loop", 10)) {
			snprintf(want, sizeof(want), "%s %s", key, status);
			assert_non_null(strstr(gp, want));
		}
		printf("%s: %s (%s)\n", key, status, note);
	}
	/* Exit status 1 exactly when a measurement failed (the help says). */
	assert_int_equal(st, failed ? 1 : 0);
	free(gp);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", plots);
	assert_int_equal(system(cmd), 0);
	check_cost(costs, "io_user_cpl0", true);
	check_cost(costs, "mmio_user_cpl0", true);
	check_cost(costs, "cpuid_kernel_cpl3", false);
	check_cost(costs, "first_touch_cpl3", false);
	check_cost(costs, "second_touch_cpl3", false);
	/* A fault on fresh memory costs more than a write to mapped memory. */
	assert_true(json_number_value(get(costs, "first_touch_cpl3.ns.median")) >
		    json_number_value(get(costs, "second_touch_cpl3.ns.median")));
	check_curve(get(doc, "exits.guest_chase"));
	check_curve(get(doc, "exits.native_chase"));
	json_decref(doc);
	free(out);
}

/* The refs_per_access of case name in a bench model report. */
static double model_refs(json_t *cases, const char *name)
{
	size_t i;
	json_t *c;

	json_array_foreach(cases, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "case")), name)) {
			assert_true(json_number_value(json_object_get(
				c, "ns_per_access")) > 0);
			return json_number_value(json_object_get(c, "refs_per_access"));
		}
	fail_msg("bench model: no case %s", name);
	return -1;
}

/*
 * `vmmu bench model --quick --json` runs every row (each row checks that
 * it measured what it claims, or the command fails) and reports the
 * reference counts of its walks: 4 for a 4-level guest walk, 24 for a
 * cold 4 over 4 2-D walk, 35 for 5 over 5 (SDM 29.3.2, APM 15.25.5).
 */
static void test_model_json(void **state)
{
	int st;
	char *out = run(VMMU_BIN " bench model --quick --json 2>/dev/null", &st);
	json_error_t err;
	json_t *o = json_loads(out, 0, &err), *cases;

	(void)state;
	assert_int_equal(st, 0);
	assert_non_null(o);
	cases = json_object_get(o, "cases");
	assert_true(json_is_array(cases));
	assert_true(json_number_value(json_object_get(o, "baseline_ns")) > 0);
	assert_true(model_refs(cases, "tlb-hit") == 0);
	assert_true(model_refs(cases, "tlb-hit-batch") == 0);
	assert_true(model_refs(cases, "cold-walk") > 3.9);
	assert_true(model_refs(cases, "ept-cold-walk") > 23.9);
	assert_true(model_refs(cases, "npt-cold-walk") > 23.9);
	assert_true(model_refs(cases, "npt-cold-walk-5") > 34.9);
	assert_true(model_refs(cases, "shadow-cold-walk") > 3.9);
	json_decref(o);
	free(out);
}

/*
 * `vmmu bench logdirty --json`: every variant row and the eager baseline
 * of each EPT and NPT variant (three sizes each) are there and positive;
 * the command itself fails when a clean missed a stored page or when the
 * eager pass left a leaf writable.
 */
static void test_logdirty_json(void **state)
{
	int st;
	char *out = run(VMMU_BIN " bench logdirty --json 2>/dev/null", &st);
	json_error_t err;
	json_t *o = json_loads(out, 0, &err), *rows, *r;
	size_t i, k;

	(void)state;
	assert_int_equal(st, 0);
	assert_non_null(o);
	rows = get(o, "variants.rows");
	assert_true(json_array_size(rows) >= 9);
	rows = json_object_get(o, "eager_fully_mapped");
	assert_int_equal(json_array_size(rows), 7);     /* 4 EPT, 3 NPT */
	json_array_foreach(rows, i, r)
		for (k = 0; k < 3; k++) {
			assert_true(json_number_value(json_array_get(
				json_object_get(r, "enable_ms"), k)) > 0);
			assert_true(json_number_value(json_array_get(
				json_object_get(r, "eager_write_protect_ms"), k)) > 0);
		}
	json_decref(o);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_usage),
		cmocka_unit_test(test_outputs_checked_first),
		cmocka_unit_test(test_no_kvm),
		cmocka_unit_test(test_tlb_json_and_profile),
		cmocka_unit_test(test_exits_json),
		cmocka_unit_test(test_model_json),
		cmocka_unit_test(test_logdirty_json),
	};

	return cmocka_run_group_tests_name("bench_cli", tests, NULL, NULL);
}
