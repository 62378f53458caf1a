/* SPDX-License-Identifier: MIT */
/*
 * JSON plumbing shared by the vmmu subcommands (jansson underneath).
 * 64-bit values travel as "0x..." strings; integers are accepted on input.
 */
#ifndef VMMU_CLI_JSON_H
#define VMMU_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Largest JSON input a command reads (a file or standard input). */
#define CLI_JSON_MAX_BYTES (16u << 20)

/*
 * Load a JSON document from path ("-" is standard input) of at most
 * CLI_JSON_MAX_BYTES. On failure print "vmmu PROG: PATH:LINE:COL: reason"
 * (or "PATH: is a directory", "larger than ...") to stderr, return NULL.
 */
json_t *cli_load_json(const char *prog, const char *path);

/*
 * A 64-bit unsigned value: a non-negative integer, or a string "0x<hex>" or
 * "<decimal>". Returns 0, or -1 with a reason in err.
 */
int cli_json_u64(const json_t *v, uint64_t *out, char *err, size_t errlen);

/*
 * Member key of obj as u64. Missing: *out = dflt and 0 when !required,
 * otherwise -1. Errors name the key and ctx in err.
 */
int cli_get_u64(const json_t *obj, const char *key, bool required,
		uint64_t dflt, uint64_t *out, const char *ctx, char *err,
		size_t errlen);

/*
 * s as a new JSON string. Text from outside (file names, user input) may
 * not be UTF-8, which json_string() refuses with NULL and json_pack()
 * turns into a dropped key: bytes that are not ASCII become '?' then.
 */
json_t *cli_text(const char *s);

/*
 * obj must be an object whose keys are all in the NULL-terminated allowed
 * list: 0, or -1 with "CTX: unknown key \"k\"" (or "expected an object").
 */
int cli_check_keys(const json_t *obj, const char *const *allowed,
		   const char *ctx, char *err, size_t errlen);

/* "0x<hex>" as a new JSON string. */
json_t *cli_hex(uint64_t v);

/*
 * Decode a hex byte string (whitespace allowed between pairs) into a newly
 * allocated buffer. Returns 0, or -1 with a reason in err.
 */
int cli_hex_bytes(const char *hex, uint8_t **out, size_t *len, char *err,
		  size_t errlen);

/* Print v to stdout (indented when pretty) with a newline; 0 or -1. */
int cli_print_json(const json_t *v, bool pretty);

/*
 * After getopt_long() returned '?' or ':': the option it refused, as the
 * user typed it, in buf. argv[optind - 1] is not always it: in "-xh"
 * getopt has not stepped past the element yet and that names the
 * previous argument.
 */
const char *cli_bad_option(char **argv, char *buf, size_t len);

#endif
