/* SPDX-License-Identifier: MIT */
/* `vmmu bench KIND`: dispatch to the benchmarks in cli/bench_*.c. */
#include <stdio.h>
#include <string.h>

#include "cli_dispatch.h"

#define VMMU_BENCH(name) \
	int bench_##name(int argc, char **argv); \
	extern const char bench_##name##_summary[];
#include "benches.inc"
#undef VMMU_BENCH

const char cmd_bench_summary[] =
	"measure this machine (TLB misses, VM exits, emulator speed)";

#define VMMU_BENCH(name) { #name, bench_##name, bench_##name##_summary },
static const struct cli_subcommand benches[] = {
#include "benches.inc"
	{ NULL, NULL, NULL },
};
#undef VMMU_BENCH

static void usage(FILE *out)
{
	fprintf(out,
"NAME\n"
"    vmmu bench - measure the real costs of this machine\n"
"\n"
"SYNOPSIS\n"
"    vmmu bench KIND [OPTIONS]\n"
"    vmmu bench KIND --help\n"
"\n"
"DESCRIPTION\n"
"    Runs one benchmark KIND on this machine and prints what it measured.\n"
"    Progress goes to standard error, results to standard output.\n"
"\n"
"KINDS\n");
	cli_list_subcommands(out, benches);
	fprintf(out,
"\n"
"OPTIONS\n"
"    Each KIND has its own; `vmmu bench KIND --help` lists them.\n"
"    -h, --help  this text\n"
"\n"
"OUTPUT\n"
"    A table, or JSON with --json; see each KIND's --help and\n"
"    docs/bench.md.\n"
"\n"
"EXIT STATUS\n"
"    0 measured, 1 measurement failed, 2 bad usage or an unknown KIND,\n"
"    3 (exits) KVM not available.\n"
"\n"
"EXAMPLES\n"
"    vmmu bench tlb --quick\n"
"    vmmu bench walk --walks 100000 --json\n");
}

int cmd_bench(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	return cli_run_subcommand(benches, argc, argv, "vmmu bench", "kind");
}
