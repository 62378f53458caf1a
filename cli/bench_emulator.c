/* SPDX-License-Identifier: MIT */
/* `vmmu bench emulator`: emulator cost against native execution. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "emulator/emu_bench.h"
#include "vmmu/error.h"

const char bench_emulator_summary[] =
	"ns per emulated instruction vs native (mov, lock cmpxchg, rep stosq)";

static void usage(FILE *out)
{
	fprintf(out,
"NAME\n"
"    vmmu bench emulator - cost of vmmu's instruction emulator\n"
"\n"
"SYNOPSIS\n"
"    vmmu bench emulator [--quick] [--iterations N] [--pages N] [--repeat R]\n"
"                        [--json]\n"
"\n"
"DESCRIPTION\n"
"    Times vmmu_emulate() (fetch through a callback, decode with capstone\n"
"    or a decoded-instruction cache hit, execute against read / write /\n"
"    cmpxchg callbacks over one host page) for three instructions guests\n"
"    use on page tables, and the same bytes executed natively in the same\n"
"    run:\n"
"      mov [rdi], rsi            48 89 37        per instruction\n"
"      lock cmpxchg [rdi], rsi   f0 48 0f b1 37  per instruction (succeeds)\n"
"      rep stosq                 f3 48 ab        per 4 KiB page (RCX=512)\n"
"    \"decode\" runs with the cache off, so every call decodes; \"cached\"\n"
"    runs with it on, so every call after the first is a hit. Each figure\n"
"    is the median of R runs. Native single instructions run as 32 copies\n"
"    back to back, so their figure is throughput, not latency.\n"
"\n"
"OPTIONS\n"
"    --quick         a tenth of the default iterations and pages, 3 runs\n"
"                    (a smoke test: the figures are noisier)\n"
"    --iterations N  emulations per run for single instructions (200000)\n"
"    --pages N       pages per run for rep stosq (20000)\n"
"    --repeat R      runs per figure, 1..16 (5); anything else is an error\n"
"    --json          machine-readable output\n"
"    --help          this text\n"
"\n"
"OUTPUT\n"
"    A table: instruction, unit, native ns, emulated ns with decode,\n"
"    emulated ns on a cache hit, both as multiples of native, and the\n"
"    time capstone alone takes to decode the bytes (cs_disasm_iter with\n"
"    detail), the floor of the decode column. With --json:\n"
"    {\"cases\": [{\"name\", \"bytes\", \"unit\", \"native_ns\",\n"
"    \"decode_ns\", \"cached_ns\", \"capstone_ns\", \"decode_ratio\",\n"
"    \"cached_ratio\", \"cache_hits\"}]}.\n"
"\n"
"EXIT STATUS\n"
"    0 measured, 1 measurement failed, 2 bad usage.\n"
"\n"
"EXAMPLES\n"
"    vmmu bench emulator\n"
"    vmmu bench emulator --iterations 1000000 --repeat 7 --json\n");
}

static bool parse_u64(const char *s, unsigned long long *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	*out = strtoull(s, &end, 0);
	return !*end && *out > 0;
}

static json_t *case_json(const struct emu_bench_result *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(r->name));
	json_object_set_new(o, "bytes", json_string(r->bytes));
	json_object_set_new(o, "unit", json_string(r->unit));
	json_object_set_new(o, "native_ns", json_real(r->native_ns));
	json_object_set_new(o, "decode_ns", json_real(r->emulated_ns));
	json_object_set_new(o, "cached_ns", json_real(r->cached_ns));
	json_object_set_new(o, "capstone_ns", json_real(r->capstone_ns));
	json_object_set_new(o, "decode_ratio",
			    json_real(r->emulated_ns / r->native_ns));
	json_object_set_new(o, "cached_ratio",
			    json_real(r->cached_ns / r->native_ns));
	json_object_set_new(o, "cache_hits", json_integer((json_int_t)
							  r->cache_hits));
	return o;
}

int bench_emulator(int argc, char **argv)
{
	struct emu_bench_config cfg = { 200000, 20000, 5 };
	struct emu_bench_result res[EMU_BENCH_NR_CASES];
	unsigned long long v;
	bool json = false, quick = false, given[2] = { false }, given_repeat = false;
	json_t *root, *arr;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--quick")) {
			quick = true;
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			if (parse_u64(argv[i + 1], &v) && v <= 16) {
				cfg.repeat = (unsigned int)v;
				given_repeat = true;
				i++;
				continue;
			}
			fprintf(stderr, "vmmu bench emulator: --repeat takes "
				"1..16, not '%s'\n", argv[i + 1]);
			return 2;
		} else if (i + 1 < argc && parse_u64(argv[i + 1], &v) &&
			   (!strcmp(argv[i], "--iterations") ||
			    !strcmp(argv[i], "--pages"))) {
			if (!strcmp(argv[i], "--iterations"))
				cfg.iterations = v;
			else
				cfg.page_iterations = v;
			given[!strcmp(argv[i], "--pages")] = true;
			i++;
		} else {
			fprintf(stderr, "vmmu bench emulator: bad argument '%s' "
				"(see vmmu bench emulator --help)\n", argv[i]);
			return 2;
		}
	}
	if (quick) {
		cfg.iterations = given[0] ? cfg.iterations : 20000;
		cfg.page_iterations = given[1] ? cfg.page_iterations : 2000;
		cfg.repeat = given_repeat ? cfg.repeat : 3;
	}
	for (i = 0; i < EMU_BENCH_NR_CASES; i++) {
		fprintf(stderr, "vmmu bench emulator: measuring %d/%d...\n",
			i + 1, EMU_BENCH_NR_CASES);
		rc = emu_bench_run((enum emu_bench_case)i, &cfg, &res[i]);
		if (rc < 0) {
			fprintf(stderr, "vmmu bench emulator: %s\n",
				vmmu_strerror(rc));
			return 1;
		}
	}
	if (json) {
		root = json_object();
		arr = json_array();
		for (i = 0; i < EMU_BENCH_NR_CASES; i++)
			json_array_append_new(arr, case_json(&res[i]));
		json_object_set_new(root, "cases", arr);
		rc = cli_print_json(root, true);
		json_decref(root);
		return rc < 0 ? 1 : 0;
	}
	printf("%-24s %-12s %9s %10s %10s %9s %9s %12s\n", "instruction",
	       "unit", "native ns", "decode ns", "cached ns", "decode x",
	       "cached x", "capstone ns");
	for (i = 0; i < EMU_BENCH_NR_CASES; i++)
		printf("%-24s %-12s %9.2f %10.1f %10.1f %9.0f %9.0f %12.1f\n",
		       res[i].name, res[i].unit, res[i].native_ns,
		       res[i].emulated_ns, res[i].cached_ns,
		       res[i].emulated_ns / res[i].native_ns,
		       res[i].cached_ns / res[i].native_ns,
		       res[i].capstone_ns);
	return 0;
}
