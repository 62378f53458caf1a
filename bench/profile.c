/* SPDX-License-Identifier: MIT */
/*
 * The JSON cost profile (schema in docs/bench.md): one file holding the
 * measured costs a cost model can load. `bench tlb` fills "tlb", `bench
 * exits` fills "exits" and "guest_tlb"; each run replaces its own sections
 * and keeps the others when the file was written on the same CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmmu/error.h"
#include "bench.h"

int bench_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || s[0] == '-')
		return VMMU_EPARSE;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	/* Test before shifting: "17179869185G" must not wrap to 1 GiB. */
	if (*end || v == 0 || v > (BENCH_MAX_SIZE >> shift))
		return VMMU_EPARSE;
	v <<= shift;
	*out = v;
	return VMMU_OK;
}

int bench_parse_count(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return VMMU_EPARSE;
	*out = (unsigned)v;
	return VMMU_OK;
}

/* A writable directory for a new file at path. */
static int dir_writable(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "cannot create %s: %s: %s", path, dir,
			 strerror(errno));
		return VMMU_EIO;
	}
	return VMMU_OK;
}

int bench_profile_path_ok(const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	struct stat st;
	json_t *old;
	const char *schema;
	bool ours;

	if (!path || !*path) {
		snprintf(err, errlen, "--profile needs a file name");
		return VMMU_EINVAL;
	}
	if (stat(path, &st) != 0)
		return errno == ENOENT ? dir_writable(path, err, errlen)
		       : (snprintf(err, errlen, "%s: %s", path, strerror(errno)),
			  VMMU_EIO);
	/*
	 * The profile is written beside PATH and renamed over it: run as root
	 * with --profile /dev/zero, that replaced the device node. Only a
	 * vmmu cost profile may be replaced; a case file or anything else
	 * given by mistake is refused before the measurement starts.
	 */
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		return VMMU_EINVAL;
	}
	old = st.st_size <= (16 << 20) ? json_load_file(path, 0, &jerr) : NULL;
	schema = json_string_value(json_object_get(old, "schema"));
	ours = schema && !strcmp(schema, BENCH_PROFILE_SCHEMA);
	json_decref(old);
	if (!ours) {
		snprintf(err, errlen, "%s exists and is not a vmmu cost profile "
			 "(no \"schema\": \"%s\"); it is not replaced", path,
			 BENCH_PROFILE_SCHEMA);
		return VMMU_EEXIST;
	}
	return access(path, W_OK) == 0 ? dir_writable(path, err, errlen)
	       : (snprintf(err, errlen, "%s: %s", path, strerror(errno)),
		  VMMU_EIO);
}

/* The existing profile, if it is one of ours for the same CPU. */
static json_t *load_same_machine(const char *path, const json_t *machine)
{
	json_error_t jerr;
	json_t *old = json_load_file(path, 0, &jerr), *m;
	const char *a, *b;

	if (!old)
		return NULL;
	m = json_object_get(old, "machine");
	a = json_string_value(json_object_get(json_object_get(m, "cpu"), "brand"));
	b = json_string_value(json_object_get(json_object_get(machine, "cpu"),
					      "brand"));
	if (!json_is_object(old) ||
	    json_integer_value(json_object_get(old, "version")) != 1 ||
	    strcmp(json_string_value(json_object_get(old, "schema")) ?
		   json_string_value(json_object_get(old, "schema")) : "",
		   BENCH_PROFILE_SCHEMA) || !a || !b || strcmp(a, b)) {
		json_decref(old);
		return NULL;
	}
	return old;
}

/*
 * Write doc to a new file beside path, then rename it over path, so that a
 * reader never sees half a profile and no other file (a PATH.tmp) is
 * overwritten. 0, or -1 with errno.
 */
static int write_replace(const json_t *doc, const char *path)
{
	char tmp[4096];
	int fd, ok, saved;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	ok = json_dumpfd(doc, fd, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 &&
	     fchmod(fd, 0644) == 0;
	saved = errno;
	if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
		saved = ok ? errno : saved;
		remove(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

int bench_profile_update(const char *path, const char *section,
			 json_t *value, const struct bench_sysinfo *si,
			 const struct bench_clock *clk,
			 const struct bench_progress *p)
{
	json_t *machine = bench_sysinfo_json(si);
	json_t *doc = load_same_machine(path, machine);
	char stamp[32], err[4200];
	time_t now = time(NULL);
	struct tm tm;
	int rc = VMMU_OK;

	/* Checked before the measurement too; the file may have changed. */
	if (bench_profile_path_ok(path, err, sizeof(err)) != VMMU_OK) {
		fprintf(stderr, "vmmu bench: %s\n", err);
		json_decref(machine);
		json_decref(doc);
		return VMMU_EINVAL;
	}
	if (!doc)
		doc = json_object();
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(doc, "schema", json_string(BENCH_PROFILE_SCHEMA));
	json_object_set_new(doc, "version", json_integer(1));
	json_object_set_new(doc, "machine", machine);
	json_object_set_new(doc, "tsc_hz", json_real(clk->tsc_hz));
	json_object_set(doc, section, value);
	json_object_set_new(json_object_get(doc, section), "measured_at",
			    json_string(stamp));
	json_object_set_new(doc, "updated_at", json_string(stamp));
	if (write_replace(doc, path) != 0) {
		fprintf(stderr, "vmmu bench: cannot write profile %s: %s\n",
			path, strerror(errno));
		rc = VMMU_EIO;
	} else {
		bench_progress(p, "profile section \"%s\" written to %s",
			       section, path);
	}
	json_decref(doc);
	return rc;
}
