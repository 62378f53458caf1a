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
"                    accesses (seconds: docs/bench.md has timings)\n"
"    --reps N        repetitions per point (default 7, quick 5; max 31)\n"
"    --min-ws SIZE   smallest working set (default 8K); SIZE takes K/M/G\n"
"    --max-ws SIZE   largest working set (default 4G, quick 256M); at\n"
"                    most half of MemAvailable (two regions live at once)\n"
"    --json          print the result as JSON on stdout\n"
"    --plot DIR      write DIR/tlb_native.png (gnuplot) and its data\n"
"    --profile FILE  write (or update) the JSON cost profile FILE; it holds\n"
"                    the working sets 8K..256M whatever the range options\n"
"                    (the measured range grows to include them), and only\n"
"                    a file that is a vmmu cost profile is replaced\n"
"    --quiet         no progress on stderr\n"
"    -h, --help      this text\n"
"\n"
"OUTPUT\n"
"    A table per core kind: working set; median ns (TSC cycles) and min-max\n"
"    per access for 4 KiB pages, 2 MiB pages and the dense baseline; their\n"
"    TLB part (4k - dense). Then the inferred reaches, each with how many\n"
"    repetitions' own curves agree (a stated confidence) and the range they\n"
"    spread over, and the page-walk cost at 256 MiB (or the largest working\n"
"    set below it), a fixed point whatever --max-ws says.\n"
"    The JSON and profile schemas are in docs/bench.md.\n"
"\n"
"EXIT STATUS\n"
"    0 measured, 1 measurement failed, 2 bad usage.\n"
"\n"
"EXAMPLES\n"
"    vmmu bench tlb --quick\n"
"    vmmu bench tlb --plot plots --profile cost.json\n");
}

enum { OPT_MIN = BENCH_OPT_OWN, OPT_MAX };

static const struct option own_opts[] = {
	{ "min-ws", required_argument, NULL, OPT_MIN },
	{ "max-ws", required_argument, NULL, OPT_MAX },
	{ NULL, 0, NULL, 0 },
};

static int tlb_option(int ch, const char *arg, void *ctx)
{
	struct bench_tlb_opts *o = ctx;

	if (ch == OPT_MIN)
		return bench_parse_size(arg, &o->min_ws) || o->min_ws < 8192 ?
		       -1 : 0;
	if (ch == OPT_MAX)
		return bench_parse_size(arg, &o->max_ws) ? -1 : 0;
	return -1;
}

static int parse(int argc, char **argv, struct bench_common_opts *c,
		 struct bench_tlb_opts *o)
{
	uint64_t avail;
	int rc;

	memset(o, 0, sizeof(*o));
	rc = bench_parse_args(argc, argv, "bench tlb", own_opts, tlb_option, o, c);
	if (rc)
		return rc;
	o->quick = c->quick;
	o->reps = c->reps;
	o->progress = c->progress;
	if (o->max_ws && o->max_ws < 4 * (o->min_ws ? o->min_ws : 8192)) {
		fprintf(stderr, "vmmu bench tlb: --max-ws must be at least 4x "
			"--min-ws\n");
		return -1;
	}
	/*
	 * The 4 KiB and 2 MiB regions of max-ws are both touched and live at
	 * once: more than half of the free memory would get the process (or
	 * a neighbour) killed by the OOM killer instead of an error.
	 */
	/*
	 * The profile always holds the same working sets, whatever range the
	 * options show: the measured range grows to include them.
	 */
	if (c->profile) {
		if (o->min_ws > BENCH_PROFILE_MIN_WS)
			o->min_ws = BENCH_PROFILE_MIN_WS;
		if (o->max_ws && o->max_ws < BENCH_PROFILE_MAX_WS)
			o->max_ws = BENCH_PROFILE_MAX_WS;
	}
	avail = bench_mem_available();
	if (o->max_ws && avail && o->max_ws > avail / 2) {
		fprintf(stderr, "vmmu bench tlb: --max-ws %llu MiB needs twice "
			"that in memory, but only %llu MiB are available\n",
			(unsigned long long)(o->max_ws >> 20),
			(unsigned long long)(avail >> 20));
		return -1;
	}
	return 0;
}

static void print_human(const struct bench_tlb_result *r,
			const struct bench_sysinfo *si,
			const struct bench_clock *clk)
{
	unsigned i;

	printf("vmmu bench tlb: native TLB-miss latency\n");
	printf("CPU: %s (%s, family %d model %d stepping %d, %s)\n",
	       si->cpu_brand, si->cpu_vendor, si->family, si->model,
	       si->stepping, si->cpu_name);
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
	struct bench_common_opts c;
	struct bench_tlb_opts o;
	struct bench_sysinfo si;
	struct bench_clock clk;
	struct bench_tlb_result *r;
	json_t *doc;
	int rc = parse(argc, argv, &c, &o);

	if (rc > 0)
		usage(stdout);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (bench_machine(&o.progress, o.quick, &si, &clk))
		return 1;
	r = calloc(1, sizeof(*r));
	if (!r)
		return 1;
	rc = bench_tlb_run(&o, r);
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
	if (c.plot_dir && bench_plot_tlb(c.plot_dir, r, &o.progress))
		rc = 1;
	if (c.profile) {
		json_t *prof = bench_tlb_profile_json(r);

		if (bench_profile_update(c.profile, "tlb", prof, &si, &clk,
					 &o.progress))
			rc = 1;
		json_decref(prof);
	}
	json_decref(doc);
	free(r);
	return rc ? 1 : 0;
}
