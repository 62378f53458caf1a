/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE             /* strdup */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_json.h"

/*
 * The whole of fp, at most max bytes: NULL with *too_big when it is larger,
 * NULL with errno on a read error.
 */
static char *read_limited(FILE *fp, size_t max, size_t *len, bool *too_big)
{
	size_t cap = 65536, n = 0;
	char *buf = NULL, *grown;

	*too_big = false;
	for (;;) {
		grown = realloc(buf, cap + 1);
		if (!grown) {
			free(buf);
			return NULL;
		}
		buf = grown;
		n += fread(buf + n, 1, cap - n, fp);
		if (n < cap)
			break;
		if (cap > max) {
			*too_big = true;
			free(buf);
			return NULL;
		}
		cap *= 2;
	}
	if (ferror(fp)) {
		free(buf);
		return NULL;
	}
	if (n > max) {
		*too_big = true;
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

json_t *cli_load_json(const char *prog, const char *path)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	json_error_t jerr;
	struct stat st;
	json_t *root;
	bool too_big;
	size_t len;
	char *buf;

	if (!fp) {
		fprintf(stderr, "vmmu %s: %s: %s\n", prog, name, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "vmmu %s: %s: is a directory, not a JSON case "
			"file\n", prog, name);
		root = NULL;
		goto out;
	}
	buf = read_limited(fp, CLI_JSON_MAX_BYTES, &len, &too_big);
	if (!buf) {
		if (too_big)
			fprintf(stderr, "vmmu %s: %s: larger than the %u bytes "
				"accepted\n", prog, name, CLI_JSON_MAX_BYTES);
		else
			fprintf(stderr, "vmmu %s: %s: %s\n", prog, name,
				errno ? strerror(errno) : "read error");
		root = NULL;
		goto out;
	}
	root = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!root)
		fprintf(stderr, "vmmu %s: %s:%d:%d: %s\n", prog, name,
			jerr.line, jerr.column, jerr.text);
out:
	if (fp != stdin)
		fclose(fp);
	return root;
}

int cli_check_keys(const json_t *obj, const char *const *allowed,
		   const char *ctx, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s: expected an object", ctx);
		return -1;
	}
	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i]) {
			snprintf(err, errlen, "%s: unknown key \"%s\"", ctx, key);
			return -1;
		}
	}
	return 0;
}

int cli_json_u64(const json_t *v, uint64_t *out, char *err, size_t errlen)
{
	const char *s;
	char *end;
	int base = 10;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0) {
			snprintf(err, errlen, "negative value %" JSON_INTEGER_FORMAT, i);
			return -1;
		}
		*out = (uint64_t)i;
		return 0;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "expected an integer or a \"0x...\" string");
		return -1;
	}
	s = json_string_value(v);
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
	}
	if (!*s || !isxdigit((unsigned char)*s)) {
		snprintf(err, errlen, "'%s' is not a number", json_string_value(v));
		return -1;
	}
	errno = 0;
	*out = strtoull(s, &end, base);
	if (*end || errno == ERANGE) {
		snprintf(err, errlen, "'%s' is not a 64-bit number",
			 json_string_value(v));
		return -1;
	}
	return 0;
}

int cli_get_u64(const json_t *obj, const char *key, bool required,
		uint64_t dflt, uint64_t *out, const char *ctx, char *err,
		size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	char why[160];

	if (!v) {
		if (required) {
			snprintf(err, errlen, "%s: missing \"%s\"", ctx, key);
			return -1;
		}
		*out = dflt;
		return 0;
	}
	if (cli_json_u64(v, out, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: \"%s\": %s", ctx, key, why);
		return -1;
	}
	return 0;
}

json_t *cli_text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;
	size_t i;

	if (j || !s)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (i = 0; copy[i]; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *cli_hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cli_hex_bytes(const char *hex, uint8_t **out, size_t *len, char *err,
		  size_t errlen)
{
	size_t n = 0, cap = strlen(hex) / 2 + 1;
	uint8_t *buf = malloc(cap);
	const char *p = hex;

	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (*p) {
		int hi, lo;

		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		hi = hexval((unsigned char)p[0]);
		lo = p[1] ? hexval((unsigned char)p[1]) : -1;
		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "bad hex at offset %zu",
				 (size_t)(p - hex));
			free(buf);
			return -1;
		}
		buf[n++] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	*out = buf;
	*len = n;
	return 0;
}

int cli_print_json(const json_t *v, bool pretty)
{
	size_t flags = JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT);

	if (json_dumpf(v, stdout, flags) < 0)
		return -1;
	fputc('\n', stdout);
	return fflush(stdout) ? -1 : 0;
}

const char *cli_bad_option(char **argv, char *buf, size_t len)
{
	const char *last = optind > 0 ? argv[optind - 1] : "";

	/* Unknown long options and long options missing a value are whole
	 * elements; anything else is one short option character. */
	if (optopt <= 0 || optopt > 127 || !isprint(optopt) ||
	    !strncmp(last, "--", 2))
		return last;
	snprintf(buf, len, "-%c", optopt);
	return buf;
}
