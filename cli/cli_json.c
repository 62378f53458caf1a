/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE             /* strdup */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"

json_t *cli_load_json(const char *prog, const char *path)
{
	json_error_t jerr;
	json_t *root;

	if (!strcmp(path, "-"))
		root = json_loadf(stdin, 0, &jerr);
	else
		root = json_load_file(path, 0, &jerr);
	if (!root && jerr.line < 1)     /* not a syntax error: open/read */
		fprintf(stderr, "vmmu %s: %s\n", prog, jerr.text);
	else if (!root)
		fprintf(stderr, "vmmu %s: %s:%d:%d: %s\n", prog,
			strcmp(path, "-") ? path : "<stdin>", jerr.line,
			jerr.column, jerr.text);
	return root;
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
