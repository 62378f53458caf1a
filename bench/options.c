/* SPDX-License-Identifier: MIT */
/* Command-line options shared by every `vmmu bench KIND`. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmu/error.h"
#include "bench.h"

static const struct option common_opts[] = {
	{ "quick", no_argument, NULL, BENCH_OPT_QUICK },
	{ "reps", required_argument, NULL, BENCH_OPT_REPS },
	{ "json", no_argument, NULL, BENCH_OPT_JSON },
	{ "plot", required_argument, NULL, BENCH_OPT_PLOT },
	{ "profile", required_argument, NULL, BENCH_OPT_PROFILE },
	{ "quiet", no_argument, NULL, BENCH_OPT_QUIET },
	{ "help", no_argument, NULL, 'h' },
};
#define N_COMMON (sizeof(common_opts) / sizeof(common_opts[0]))

static int common_option(int ch, struct bench_common_opts *c)
{
	switch (ch) {
	case BENCH_OPT_QUICK: c->quick = true; return 0;
	case BENCH_OPT_JSON: c->json = true; return 0;
	case BENCH_OPT_QUIET: c->progress.quiet = true; return 0;
	case BENCH_OPT_PLOT: c->plot_dir = optarg; return 0;
	case BENCH_OPT_PROFILE: c->profile = optarg; return 0;
	case BENCH_OPT_REPS:
		return bench_parse_count(optarg, 1, BENCH_MAX_REPS, &c->reps);
	default: return 1;
	}
}

/* --profile and --plot are checked before anything is measured. */
static int check_outputs(const char *prog, const struct bench_common_opts *c)
{
	char err[4200];

	if (c->profile && bench_profile_path_ok(c->profile, err, sizeof(err))) {
		fprintf(stderr, "vmmu %s: --profile %s\n", prog, err);
		return -1;
	}
	if (c->plot_dir && bench_plot_dir_ok(c->plot_dir, err, sizeof(err))) {
		fprintf(stderr, "vmmu %s: --plot %s\n", prog, err);
		return -1;
	}
	return 0;
}

int bench_parse_args(int argc, char **argv, const char *prog,
		     const struct option *own, bench_option_fn own_fn,
		     void *ctx, struct bench_common_opts *c)
{
	struct option *all;
	size_t n_own = 0;
	int ch, idx, rc = 0;

	memset(c, 0, sizeof(*c));
	c->progress.prog = prog;
	while (own && own[n_own].name)
		n_own++;
	all = calloc(N_COMMON + n_own + 1, sizeof(*all));
	if (!all)
		return -1;
	memcpy(all, common_opts, sizeof(common_opts));
	if (n_own)
		memcpy(all + N_COMMON, own, n_own * sizeof(*own));
	optind = 1;
	opterr = 0;
	while (rc == 0) {
		idx = -1;
		ch = getopt_long(argc, argv, "h", all, &idx);
		if (ch == -1)
			break;
		if (ch == 'h') {
			rc = 1;
		} else if (ch == '?' || ch == ':') {
			char one[3] = { '-', (char)optopt, '\0' };
			const char *bad = argv[optind - 1];

			/* In "-xh" getopt is still inside the element, and
			 * argv[optind - 1] is the argument before it. */
			if (optopt > 0 && optopt < 128 && strncmp(bad, "--", 2))
				bad = one;
			fprintf(stderr, "vmmu %s: unknown option or missing value "
				"'%s' (see --help)\n", prog, bad);
			rc = -1;
		} else {
			int r = common_option(ch, c);

			if (r > 0)
				r = own_fn ? own_fn(ch, optarg, ctx) : -1;
			if (r != 0) {
				fprintf(stderr, "vmmu %s: bad value '%s' for --%s "
					"(see --help)\n", prog, optarg ? optarg : "",
					idx >= 0 ? all[idx].name : "?");
				rc = -1;
			}
		}
	}
	if (rc == 0 && optind < argc) {
		fprintf(stderr, "vmmu %s: unexpected argument '%s'\n", prog,
			argv[optind]);
		rc = -1;
	}
	free(all);
	return rc ? rc : check_outputs(prog, c);
}

int bench_machine(const struct bench_progress *p, bool quick,
		  struct bench_sysinfo *si, struct bench_clock *clk)
{
	bench_sysinfo_get(si);
	bench_progress(p, "calibrating the TSC");
	if (bench_clock_calibrate(clk, quick)) {
		fprintf(stderr, "vmmu %s: TSC calibration failed\n", p->prog);
		return VMMU_EIO;
	}
	return VMMU_OK;
}
