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

int bench_profile_path_ok(const char *path)
{
	struct stat st;

	/*
	 * The profile is written to PATH.tmp and renamed over PATH: run as
	 * root with --profile /dev/zero, that replaced the device node with
	 * a JSON file. Only a regular file (or nothing yet) may be replaced.
	 */
	if (!path || !*path)
		return VMMU_EINVAL;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return VMMU_EINVAL;
	return VMMU_OK;
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

int bench_profile_update(const char *path, const char *section,
			 json_t *value, const struct bench_sysinfo *si,
			 const struct bench_clock *clk,
			 const struct bench_progress *p)
{
	json_t *machine = bench_sysinfo_json(si);
	json_t *doc = load_same_machine(path, machine);
	char stamp[32], tmp[4096];
	time_t now = time(NULL);
	struct tm tm;
	int rc = VMMU_OK;

	if (bench_profile_path_ok(path) != VMMU_OK) {
		fprintf(stderr, "vmmu bench: profile %s is not a regular file\n",
			path);
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
	/* Write then rename, so a reader never sees half a profile. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 ||
	    rename(tmp, path) != 0) {
		fprintf(stderr, "vmmu bench: cannot write profile %s: %s\n",
			path, strerror(errno));
		remove(tmp);
		rc = VMMU_EIO;
	} else {
		bench_progress(p, "profile section \"%s\" written to %s",
			       section, path);
	}
	json_decref(doc);
	return rc;
}
