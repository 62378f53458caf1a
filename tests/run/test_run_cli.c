/* SPDX-License-Identifier: MIT */
/*
 * `vmmu run` and `vmmu trace` as a user runs them: bad input exits 2
 * naming the problem before any run; --help has its sections; --json
 * parses with the documented keys; --plot writes PNGs and never
 * overwrites a file it did not write; a shipped trace replays.
 */
#define _GNU_SOURCE
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

static char dir[64];

/* Run a shell command: stdout and stderr (merged) in a new buffer. */
static char *sh(const char *cmd, int *status)
{
	char full[4096];
	size_t cap = 1 << 16, len = 0, got;
	char *buf = malloc(cap);
	FILE *p;
	int st;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	p = popen(full, "r");
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

/* The command must exit with want and say what (on stdout or stderr). */
static void expect(const char *args, int want, const char *what)
{
	char cmd[2048];
	int st;
	char *out;

	snprintf(cmd, sizeof(cmd), "%s %s", VMMU_BIN, args);
	out = sh(cmd, &st);
	if (st != want || (what && !strstr(out, what)))
		fail_msg("'%s': status %d (want %d), output:\n%s", args, st, want, out);
	free(out);
}

static int setup(void **s)
{
	(void)s;
	snprintf(dir, sizeof(dir), "/tmp/vmmu-run-cli-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s)
{
	char cmd[128];

	(void)s;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_help(void **s)
{
	static const char *const sec[] = { "NAME", "SYNOPSIS", "DESCRIPTION",
		"OPTIONS", "OUTPUT", "EXIT STATUS", "EXAMPLES" };
	unsigned i;

	(void)s;
	for (i = 0; i < 7; i++) {
		expect("run --help", 0, sec[i]);
		expect("trace --help", 0, sec[i]);
	}
}

static void test_bad_input(void **s)
{
	char args[512], path[160];
	FILE *f;

	(void)s;
	expect("run --workload nosuch", 2, "unknown workload 'nosuch'");
	expect("run --backend warp", 2, "unknown backend 'warp'");
	expect("run --guest-paging 3level", 2, "unknown guest paging mode");
	expect("run --page-size 3m", 2, "--page-size");
	expect("run --vcpus 0", 2, "--vcpus");
	expect("run --mem lots", 2, "--mem");
	expect("run --mem 60G", 2, "host memory");
	expect("run --guest-paging pae --mem 2G", 2, "1 GiB");
	expect("run --scale -1", 2, "--scale");
	expect("run --frobnicate", 2, "unknown or incomplete option");
	expect("run --workload trace:/nonexistent/t.vtr", 2, "/nonexistent/t.vtr");
	expect("run --workload trace:/etc/passwd", 2, "not a vmmu trace");
	expect("run --profile /nonexistent.json", 2, "/nonexistent.json");
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"schema\": \"vmmu-cost-profile\", \"version\": 1, \"tsc_hz\": 2e9}", f);
	fclose(f);
	snprintf(args, sizeof(args), "run --profile %s", path);
	expect(args, 2, "neither");
	f = fopen(path, "w");
	fputs("{ not json", f);
	fclose(f);
	expect(args, 2, "bad.json:1");
	expect("run --cost pentium", 2, "unknown --cost");
	expect("run --plot /proc/version", 2, "not a directory");
	expect("trace -o /etc/passwd -- true", 2, "not overwritten");
	expect("trace", 2, "no command");
}

static void test_plot_no_overwrite(void **s)
{
	char args[512], path[160];
	struct stat st;
	FILE *f;

	(void)s;
	snprintf(path, sizeof(path), "%s/plots", dir);
	mkdir(path, 0777);
	snprintf(path, sizeof(path), "%s/plots/run_time.png", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("someone's picture\n", f);
	fclose(f);
	snprintf(args, sizeof(args), "run --quiet --workload stream --scale 0.01 "
		 "--plot %s/plots", dir);
	expect(args, 2, "not written by vmmu run");
	unlink(path);
	expect(args, 0, "stream");
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 1000);
	expect(args, 0, "stream");      /* its own files: replaced */
}

static void test_json(void **s)
{
	char cmd[512];
	json_error_t je;
	json_t *doc, *w, *r;
	int st;
	char *out;

	(void)s;
	snprintf(cmd, sizeof(cmd), "%s run --quiet --json --workload gups,forkwait "
		 "--scale 0.005", VMMU_BIN);
	out = sh(cmd, &st);
	assert_int_equal(st, 0);
	doc = json_loads(out, 0, &je);
	if (!doc)
		fail_msg("not JSON (%s): %s", je.text, out);
	assert_string_equal(json_string_value(json_object_get(doc, "schema")),
			    "vmmu-run");
	assert_non_null(json_object_get(json_object_get(doc, "policy"), "backend"));
	w = json_array_get(json_object_get(doc, "workloads"), 0);
	assert_string_equal(json_string_value(json_object_get(w, "workload")), "gups");
	r = json_array_get(json_object_get(w, "results"), 0);
	assert_true(json_integer_value(json_object_get(json_object_get(r, "counts"),
						       "accesses")) > 0);
	assert_true(json_number_value(json_object_get(r, "estimated_ns")) > 0);
	assert_non_null(json_object_get(json_object_get(doc, "cost_profile"), "costs"));
	json_decref(doc);
	free(out);
}

static void test_trace_replay(void **s)
{
	(void)s;
	expect("run --quiet --workload trace:" VMMU_TRACES "/sort.vtr", 0,
	       "trace:" VMMU_TRACES "/sort.vtr");
	expect("run --quiet --workload trace:" VMMU_TRACES "/ls.vtr "
	       "--guest-paging pae", 2, "do not fit");
}

/* vmmu trace end to end, where valgrind is installed. */
static void test_record(void **s)
{
	char args[512];

	(void)s;
	if (system("valgrind --version >/dev/null 2>&1") != 0) {
		print_message("valgrind not installed\n");
		skip();
	}
	snprintf(args, sizeof(args), "trace -o %s/t.vtr -- /bin/true", dir);
	expect(args, 0, "fetches");
	snprintf(args, sizeof(args), "run --quiet --workload trace:%s/t.vtr", dir);
	expect(args, 0, "VM exits");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_plot_no_overwrite),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_trace_replay),
		cmocka_unit_test(test_record),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
