/* SPDX-License-Identifier: MIT */
/* `vmmu bench tlb`: native TLB-miss latency curve (see docs/bench.md). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmu/error.h"
#include "bench/bench.h"
#include "cli_json.h"

const char bench_tlb_summary[] =
	"TLB-miss latency: pointer chase on 4 KiB vs 2 MiB pages, page-walk cost";

static void usage(FILE *out)
{
	fprintf(out,
"NAME\n"
"    vmmu bench tlb - measure TLB reach and page-walk cost on this machine\n"
"\n"
"SYNOPSIS\n"
"    vmmu bench tlb [--quick] [--reps N] [--min-ws SIZE] [--max-ws SIZE]\n"
"                   [--json] [--plot DIR] [--profile FILE] [--quiet]\n"
"\n"
"DESCRIPTION\n"
"    Chases pointers, one access per 4 KiB page in a random cyclic order,\n"
"    over working sets from 8 KiB up to 4 GiB (half of MemAvailable at\n"
"    most), on memory backed by 4 KiB pages, then on 2 MiB pages\n"
"    (transparent huge pages checked in /proc/self/smaps, else hugetlbfs),\n"
"    and a cache-only baseline touching as many cache lines packed densely.\n"
"    4k - dense is the TLB-miss cost. The thread is pinned with hwloc to one\n"
"    PU of each core kind. The knees of the curve give the L1 and L2 TLB\n"
"    reach, cross-checked with the TLB geometry CPUID declares. Times are\n"
"    per access, in ns and TSC cycles (TSC calibrated on CLOCK_MONOTONIC_RAW),\n"
"    median and spread over repetitions. Progress goes to stderr.\n"
"\n"
"OPTIONS\n"
"    --quick         working sets 8 KiB..256 MiB, one per octave, fewer\n"
"                    accesses (about 10 s)\n"
"    --reps N        repetitions per point (default 7, quick 5; max 31)\n"
"    --min-ws SIZE   smallest working set (default 8K); SIZE takes K/M/G\n"
"    --max-ws SIZE   largest working set (default 4G, quick 256M)\n"
"    --json          print the result as JSON on stdout\n"
"    --plot DIR      write DIR/tlb_native.png (gnuplot) and its data\n"
"    --profile FILE  write (or update) the JSON cost profile FILE\n"
"    --quiet         no progress on stderr\n"
"    -h, --help      this text\n"
"\n"
"OUTPUT\n"
"    A table per core kind: working set; median ns (TSC cycles) and min-max\n"
"    per access for 4 KiB pages, 2 MiB pages and the dense baseline; their\n"
"    TLB part (4k - dense). Then the inferred reaches and the page-walk cost.\n"
"    The JSON and profile schemas are in docs/bench.md.\n"
"\n"
"EXIT STATUS\n"
"    0 measured, 1 measurement failed, 2 bad usage.\n"
"\n"
"EXAMPLES\n"
"    vmmu bench tlb --quick\n"
"    vmmu bench tlb --plot plots --profile cost.json\n");
}

enum { OPT_REPS = 256, OPT_MIN, OPT_MAX, OPT_JSON, OPT_PLOT, OPT_PROFILE,
       OPT_QUIET, OPT_QUICK };

static const struct option longopts[] = {
	{ "quick", no_argument, NULL, OPT_QUICK },
	{ "reps", required_argument, NULL, OPT_REPS },
	{ "min-ws", required_argument, NULL, OPT_MIN },
	{ "max-ws", required_argument, NULL, OPT_MAX },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "plot", required_argument, NULL, OPT_PLOT },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct tlb_cli {
	struct bench_tlb_opts o;
	bool json;
	const char *plot_dir, *profile;
};

static int parse(int argc, char **argv, struct tlb_cli *c)
{
	int ch;

	memset(c, 0, sizeof(*c));
	c->o.progress.prog = "bench tlb";
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_QUICK: c->o.quick = true; break;
		case OPT_JSON: c->json = true; break;
		case OPT_QUIET: c->o.progress.quiet = true; break;
		case OPT_PLOT: c->plot_dir = optarg; break;
		case OPT_PROFILE: c->profile = optarg; break;
		case OPT_REPS:
			if (bench_parse_count(optarg, 1, BENCH_MAX_REPS, &c->o.reps))
				goto bad;
			break;
		case OPT_MIN:
			if (bench_parse_size(optarg, &c->o.min_ws) || c->o.min_ws < 8192)
				goto bad;
			break;
		case OPT_MAX:
			if (bench_parse_size(optarg, &c->o.max_ws))
				goto bad;
			break;
		case 'h': usage(stdout); return 1;
		default:
			fprintf(stderr, "vmmu bench tlb: unknown option '%s' "
				"(see --help)\n", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmmu bench tlb: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (c->o.max_ws && c->o.max_ws < 4 * (c->o.min_ws ? c->o.min_ws : 8192)) {
		fprintf(stderr, "vmmu bench tlb: --max-ws must be at least 4x "
			"--min-ws\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "vmmu bench tlb: bad value '%s' for %s\n", optarg,
		argv[optind - 1]);
	return -1;
}

static void print_human(const struct bench_tlb_result *r,
			const struct bench_sysinfo *si,
			const struct bench_clock *clk)
{
	unsigned i;

	printf("vmmu bench tlb: native TLB-miss latency\n");
	printf("CPU: %s (%s, family %d model %d stepping %d, %s)\n",
	       si->cpu_brand, si->cpu_vendor, si->family, si->model,
	       si->stepping, si->cpu_codename);
	printf("kernel: %s; runs under hypervisor: %s\n", si->kernel_release,
	       si->host_hypervisor[0] ? si->host_hypervisor : "none");
	printf("TSC: %.1f MHz (calibration spread %.3f MHz); pinning: %s\n",
	       clk->tsc_hz / 1e6, clk->tsc_hz_spread / 1e6, r->pinning);
	for (i = 0; i < r->n_kinds; i++) {
		const struct bench_tlb_kind *k = &r->kinds[i];

		printf("\ncore kind %d%s%s (efficiency %d), PU %d:\n", k->kind,
		       k->kind_name[0] ? " " : "", k->kind_name, k->efficiency,
		       k->pu);
		bench_print_curve(stdout, &k->curve);
		bench_print_tlb_summary(stdout, &k->curve, si);
	}
	if (si->host_hypervisor[0])
		printf("\nnote: this machine is itself a virtual machine (%s): "
		       "every native TLB miss is a 2-D walk through the outer "
		       "hypervisor's nested tables, so walk costs exceed bare "
		       "metal.\n", si->host_hypervisor);
}

int bench_tlb(int argc, char **argv)
{
	struct tlb_cli c;
	struct bench_sysinfo si;
	struct bench_clock clk;
	struct bench_tlb_result *r;
	json_t *doc;
	int rc = parse(argc, argv, &c);

	if (rc)
		return rc > 0 ? 0 : 2;
	bench_sysinfo_get(&si);
	bench_progress(&c.o.progress, "calibrating the TSC");
	if (bench_clock_calibrate(&clk, c.o.quick)) {
		fprintf(stderr, "vmmu bench tlb: TSC calibration failed\n");
		return 1;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return 1;
	rc = bench_tlb_run(&c.o, r);
	if (rc) {
		fprintf(stderr, "vmmu bench tlb: %s\n", vmmu_strerror(rc));
		free(r);
		return 1;
	}
	doc = json_pack("{s:s, s:o, s:f, s:o}", "benchmark", "tlb",
			"machine", bench_sysinfo_json(&si), "tsc_hz", clk.tsc_hz,
			"tlb", bench_tlb_json(r));
	if (c.json)
		cli_print_json(doc, true);
	else
		print_human(r, &si, &clk);
	if (c.plot_dir && bench_plot_tlb(c.plot_dir, r, &c.o.progress))
		rc = 1;
	if (c.profile && bench_profile_update(c.profile, "tlb",
					      json_object_get(doc, "tlb"), &si,
					      &clk, &c.o.progress))
		rc = 1;
	json_decref(doc);
	free(r);
	return rc ? 1 : 0;
}
