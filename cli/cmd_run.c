/* SPDX-License-Identifier: MIT */
/*
 * vmmu run: guest workloads on the guest OS model through every backend
 * of this build, exact counts, an estimated time from a cost profile, the
 * recommended backend beside what the detection policy picks
 * (docs/run.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli_json.h"
#include "model/model.h"
#include "vmmu/detect.h"
#include "vmmu/error.h"

const char cmd_run_summary[] =
	"guest workloads through every backend: exact counts, estimated time, "
	"a recommendation";

#define DEFAULT_SCALE 0.25

static void run_usage(FILE *out)
{
	fputs(
"NAME\n"
"    vmmu run - run guest workloads through every paging backend of the model\n"
"\n"
"SYNOPSIS\n"
"    vmmu run [--backend auto|ept|npt|shadow|direct|all] [--workload NAME|all]\n"
"             [--guest-paging MODE] [--page-size 4k|2m|1g] [--vcpus N]\n"
"             [--mem SIZE] [--scale F] [--seed N] [--no-pcid]\n"
"             [--profile FILE] [--cost NAME] [--cpuid-dump FILE]\n"
"             [--json] [--plot DIR] [--quiet]\n"
"\n"
"DESCRIPTION\n"
"    Detects the host (or reads --cpuid-dump) and says which backend the\n"
"    policy of `vmmu detect` picks and why. Then boots, per backend and\n"
"    workload, a guest OS model whose page tables are in guest memory in\n"
"    the guest's own format and are changed by x86 store instructions\n"
"    executed through the vCPU access path (and through the shared\n"
"    emulator when a backend traps them): demand paging, fork with\n"
"    copy-on-write, exec, exit, munmap, mprotect, context switches with\n"
"    and without PCIDs, INVLPG, large pages. One thread runs each vCPU.\n"
"    Every count is exact (the access path's vCPU counters, the TLB\n"
"    model's counters, the guest kernel's); the time is an estimate: each\n"
"    counted event times its cost from a profile, measured on this machine\n"
"    by `vmmu bench tlb` / `vmmu bench exits --profile FILE` (--profile),\n"
"    or built in per CPU generation with its source (docs/run.md).\n"
"\n"
"    Workloads (sizes at --scale 1; the default run uses --scale 0.25):\n"
"      forkwait    40,000 fork/wait pairs (Adams & Agesen 2006)\n"
"      kbuild      make forking 400 compiler processes (exec, brk, mmap)\n"
"      gups        1,000,000 random updates over a 64 MiB heap\n"
"      stream      STREAM triad over three 8 MiB arrays, 2 passes\n"
"      redis-like  1,000,000 hash-table operations, hot keys, slab recycling\n"
"      trace:FILE  a program recorded with `vmmu trace` (not scaled)\n"
"    The default set is the first five. gups, stream and redis-like run\n"
"    one thread per vCPU in one process (shootdowns); forkwait and kbuild\n"
"    run one process tree per vCPU.\n"
"\n"
"OPTIONS\n"
"    --backend B      auto (the policy's pick), ept, npt, shadow, direct,\n"
"                     all (default: every backend of this build)\n"
"    --workload W     a name above, trace:FILE, all, or a comma list\n"
"    --guest-paging M 4level (default), 5level, pae, 2level\n"
"    --page-size P    4k (default), 2m (4 MiB pages in 2level), 1g: what the\n"
"                     guest asks for its heaps and the largest host block\n"
"                     behind guest RAM\n"
"    --vcpus N        1..16 vCPUs, one thread each (default 1)\n"
"    --mem SIZE       guest RAM, e.g. 512M, 2G (default 1G; at most 1G for\n"
"                     pae and 2level)\n"
"    --scale F        workload sizes times F, 0 < F <= 100 (default 0.25)\n"
"    --seed N         random seed (default 1); one vCPU: same counts\n"
"    --no-pcid        context switches without PCIDs (default: PCIDs in\n"
"                     4level and 5level)\n"
"    --profile FILE   cost profile written by vmmu bench (schema 1)\n"
"    --cost NAME      built-in costs: nehalem, westmere, sandybridge,\n"
"                     modern-intel, zen (default: by the detected CPU)\n"
"    --cpuid-dump F   detect from a CPUID dump instead of this host\n"
"    --json           one JSON document on stdout\n"
"    --plot DIR       PNG plots (gnuplot) of the estimates into DIR\n"
"    --quiet          no progress on stderr\n"
"    -h, --help       this text\n"
"\n"
"OUTPUT\n"
"    The host and the policy's pick with its reasons; per workload a table\n"
"    with a column per backend: accesses, TLB misses, guest and nested walk\n"
"    references, guest #PF, VM exits by reason, emulated instructions,\n"
"    CR writes, INVLPG/INVPCID, remote shootdowns, the guest kernel's\n"
"    page-table stores, the estimated time (marked *), the model's own\n"
"    wall time; then the recommended backend (lowest estimate; direct is\n"
"    the baseline without a second level and never recommended), the\n"
"    policy's pick, and where they differ, the event class behind it.\n"
"    Progress (a bar and an ETA) goes to stderr. --json: schema \"vmmu-run\"\n"
"    version 1 (docs/run.md). --plot: run_time.png, run_breakdown.png with\n"
"    their .dat and .gp, and vmmu-run.manifest.\n"
"\n"
"EXIT STATUS\n"
"    0 all runs done, 1 a run failed, 2 bad usage or input: an unknown\n"
"    workload or backend, a bad trace or profile, a memory size the host\n"
"    cannot hold, a --plot directory that holds files vmmu did not write\n"
"    (all checked before any run starts).\n"
"\n"
"EXAMPLES\n"
"    vmmu run\n"
"    vmmu run --workload gups --page-size 2m --json\n"
"    vmmu run --workload forkwait --scale 1 --cost nehalem\n"
"    vmmu run --workload trace:tests/data/traces/ls.vtr --plot plots\n"
"    vmmu run --vcpus 2 --workload redis-like --profile cost.json\n",
	      out);
}

struct run_opts {
	const char *backend, *workload, *profile, *cost, *dump, *plot;
	struct run_config cfg;
	bool json, quiet, no_pcid;
};

static int usage_err(const char *fmt, const char *arg)
{
	fputs("vmmu run: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 2;
}

static int parse_paging(const char *s, enum vmmu_paging_mode *m)
{
	static const struct { const char *n; enum vmmu_paging_mode m; } t[] = {
		{ "4level", VMMU_PAGING_4LEVEL }, { "5level", VMMU_PAGING_5LEVEL },
		{ "pae", VMMU_PAGING_PAE }, { "2level", VMMU_PAGING_2LEVEL },
	};
	unsigned i;

	for (i = 0; i < 4; i++)
		if (!strcmp(s, t[i].n)) {
			*m = t[i].m;
			return 0;
		}
	return -1;
}

static int parse_one(struct run_opts *o, int c, const char *arg)
{
	struct gos_config *g = &o->cfg.gos;
	unsigned v;
	char *end;

	switch (c) {
	case 'b': o->backend = arg; return 0;
	case 'w': o->workload = arg; return 0;
	case 'g':
		return parse_paging(arg, &g->mode) ? usage_err("unknown guest "
			"paging mode '%s' (4level, 5level, pae, 2level)", arg) : 0;
	case 'p':
		g->page_order = !strcmp(arg, "4k") ? 0 : !strcmp(arg, "2m") ? 9 :
				!strcmp(arg, "1g") ? 18 : 99;
		return g->page_order == 99 ? usage_err("--page-size must be 4k, "
			"2m or 1g, not '%s'", arg) : 0;
	case 'v':
		return bench_parse_count(arg, 1, GOS_MAX_VCPUS, &v) ?
		       usage_err("--vcpus must be 1..16, not '%s'", arg) :
		       (g->vcpus = v, 0);
	case 'm':
		return bench_parse_size(arg, &g->mem) ? usage_err("--mem: bad "
			"size '%s' (e.g. 512M, 2G)", arg) : 0;
	case 's':
		errno = 0;
		o->cfg.wl.scale = strtod(arg, &end);
		return errno || *end || end == arg || !(o->cfg.wl.scale > 0) ||
		       o->cfg.wl.scale > 100 ? usage_err("--scale must be a "
			"number in (0, 100], not '%s'", arg) : 0;
	case 'S':
		errno = 0;
		o->cfg.wl.seed = strtoull(arg, &end, 0);
		return errno || *end || end == arg || arg[0] == '-' ?
		       usage_err("--seed: bad number '%s'", arg) : 0;
	case 'P': o->profile = arg; return 0;
	case 'C': o->cost = arg; return 0;
	case 'D': o->dump = arg; return 0;
	case 'L': o->plot = arg; return 0;
	case 'j': o->json = true; return 0;
	case 'q': o->quiet = true; return 0;
	case 'n': o->no_pcid = true; return 0;
	}
	return 2;
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option lo[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "workload", required_argument, NULL, 'w' },
		{ "guest-paging", required_argument, NULL, 'g' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "mem", required_argument, NULL, 'm' },
		{ "scale", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "profile", required_argument, NULL, 'P' },
		{ "cost", required_argument, NULL, 'C' },
		{ "cpuid-dump", required_argument, NULL, 'D' },
		{ "plot", required_argument, NULL, 'L' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-pcid", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char opt[64];
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			run_usage(stdout);
			return 0;
		}
		if (c == '?' || c == ':')
			return usage_err("unknown or incomplete option '%s' (see "
				"vmmu run --help)", cli_bad_option(argv, opt, sizeof(opt)));
		if ((rc = parse_one(o, c, optarg)) != 0)
			return rc;
	}
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);
	return -1;
}

/* ---- checks before any run ------------------------------------------ */

static int add_workload(struct run_session *s, const char *name, char *err,
			size_t errlen)
{
	const struct workload *w = run_workload_find(name);
	struct trace *t = NULL;
	int rc;

	if (s->nwl == RUN_MAX_WL)
		return snprintf(err, errlen, "at most %d workloads", RUN_MAX_WL), -1;
	if (!strncmp(name, "trace:", 6)) {
		rc = trace_load(name + 6, &t, err, errlen);
		if (rc < 0)
			return -1;
		w = &wl_trace;
	}
	if (!w || !strcmp(name, "trace")) {
		snprintf(err, errlen, "unknown workload '%s' (forkwait, kbuild, "
			 "gups, stream, redis-like, trace:FILE, all)", name);
		return -1;
	}
	s->trace[s->nwl] = t;
	s->wl[s->nwl] = w;
	snprintf(s->wl_name[s->nwl++], sizeof(s->wl_name[0]), "%s", name);
	return 0;
}

static int pick_workloads(struct run_session *s, const char *spec, char *err,
			  size_t errlen)
{
	char *copy = strdup(spec ? spec : "all"), *tok, *save = NULL;
	unsigned i;
	int rc = copy ? 0 : -1;

	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; rc == 0 && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "all"))
			for (i = 0; rc == 0 && run_workloads[i]; i++)
				rc = add_workload(s, run_workloads[i]->name, err, errlen);
		else
			rc = add_workload(s, tok, err, errlen);
	}
	free(copy);
	if (rc == 0 && !s->nwl)
		rc = (snprintf(err, errlen, "no workload given"), -1);
	return rc;
}

static int pick_backends(struct run_session *s, const char *spec, char *err,
			 size_t errlen)
{
	const struct run_backend *b;
	unsigned i;

	if (!spec || !strcmp(spec, "all")) {
		for (i = 0; i < run_backend_count() && i < RUN_MAX_BK; i++)
			s->bk[s->nbk++] = run_backend_at(i);
		return 0;
	}
	if (!strcmp(spec, "auto") && !s->policy[0]) {
		snprintf(err, errlen, "--backend auto: the policy picked no backend");
		return -1;
	}
	b = run_backend_find(!strcmp(spec, "auto") ? s->policy : spec);
	if (b) {
		s->bk[s->nbk++] = b;
		return 0;
	}
	if (!strcmp(spec, "auto") || !strcmp(spec, "ept") ||
	    !strcmp(spec, "npt") || !strcmp(spec, "shadow"))
		snprintf(err, errlen, "backend '%s' is not in this build yet%s%s%s",
			 !strcmp(spec, "auto") ? s->policy : spec,
			 !strcmp(spec, "auto") ? " (the policy's pick)" : "",
			 "; this build has: ", run_backend_at(0)->name);
	else
		snprintf(err, errlen, "unknown backend '%s' (auto, ept, npt, "
			 "shadow, direct, all)", spec);
	return -1;
}

static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb << 10;
}

static int check_memory(const struct run_session *s, char *err, size_t errlen)
{
	const struct gos_config *g = &s->cfg.gos;
	uint64_t need = g->mem + g->mem / 4 + (64ULL << 20), avail = mem_available();
	unsigned i;

	if (avail && need > avail) {
		snprintf(err, errlen, "--mem %llu MiB: the guest needs about %llu "
			 "MiB of host memory and this host has %llu MiB available",
			 (unsigned long long)(g->mem >> 20),
			 (unsigned long long)(need >> 20),
			 (unsigned long long)(avail >> 20));
		return -1;
	}
	for (i = 0; i < s->nwl; i++)
		if (s->trace[i] && s->trace[i]->max_addr > (g->mode ==
		    VMMU_PAGING_5LEVEL ? 1ULL << 56 : g->mode == VMMU_PAGING_4LEVEL ?
		    1ULL << 47 : 0xc0000000ULL)) {
			snprintf(err, errlen, "%s: addresses up to %#llx do not fit "
				 "this guest's user space", s->wl_name[i],
				 (unsigned long long)s->trace[i]->max_addr);
			return -1;
		}
	return 0;
}

/* ---- the host and the policy ---------------------------------------- */

static int detect_host(struct run_session *s, const struct run_opts *o,
		       char *err, size_t errlen)
{
	struct vmmu_host_info *h = calloc(1, sizeof(*h));
	struct vmmu_decision *d = calloc(1, sizeof(*d));
	struct vmmu_vm_request req = { .backend = VMMU_BACKEND_AUTO,
		.guest_la57 = o->cfg.gos.mode == VMMU_PAGING_5LEVEL };
	const struct cost_profile *base;
	int rc = h && d ? 0 : VMMU_ENOMEM;
	size_t i;

	if (rc == 0)
		rc = o->dump ? vmmu_detect_dump(h, o->dump, err, errlen) :
		     vmmu_detect_live(h, err, errlen);
	if (rc == 0) {
		snprintf(s->host, sizeof(s->host), "%s (%s, family %d model %#x)%s",
			 h->cpu.brand[0] ? h->cpu.brand : "?",
			 vmmu_vendor_name(h->cpu.vendor), h->cpu.family,
			 h->cpu.model, o->dump ? ", from the CPUID dump" : "");
		if (vmmu_decide(h, &req, d) == 0)
			snprintf(s->policy, sizeof(s->policy), "%s",
				 vmmu_backend_name(d->backend));
		for (i = 0; i < d->n_reasons && s->npolicy_reasons < 8; i++)
			snprintf(s->policy_reasons[s->npolicy_reasons++], 200,
				 "[%.16s] %.170s", d->reasons[i].code,
				 d->reasons[i].text);
		base = o->cost ? cost_builtin_find(o->cost) :
		       cost_builtin_for(vmmu_vendor_name(h->cpu.vendor),
					h->cpu.uarch);
		if (!base) {
			snprintf(err, errlen, "unknown --cost '%s' (nehalem, westmere, "
				 "sandybridge, modern-intel, zen)", o->cost);
			rc = VMMU_EINVAL;
		} else if (o->profile) {
			rc = cost_load(o->profile, base, &s->cost, err, errlen);
		} else {
			s->cost = *base;
		}
	}
	free(h);
	free(d);
	return rc;
}

/* ---- progress --------------------------------------------------------- */

struct progress {
	atomic_uint_fast64_t done;
	uint64_t total;
	atomic_int stop;
	const char *what;
	double t0;
	bool tty, quiet;
	pthread_t tid;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress_show(struct progress *p, bool last)
{
	double f = p->total ? (double)atomic_load(&p->done) / (double)p->total : 1;
	double el = now_s() - p->t0, eta = f > 0.01 ? el / f - el : -1;
	char bar[31];
	unsigned i;

	if (f > 1)
		f = 1;
	for (i = 0; i < 30; i++)
		bar[i] = i < (unsigned)(f * 30) ? '#' : '.';
	bar[30] = 0;
	fprintf(stderr, "%svmmu run: [%s] %3.0f%%  %-28.28s ETA %s%.0f s%s",
		p->tty ? "\r" : "", bar, f * 100, last ? "done" : p->what,
		eta < 0 ? "~" : "", eta < 0 ? 0 : last ? 0 : eta,
		p->tty && !last ? "" : "\n");
}

static void *progress_main(void *arg)
{
	struct progress *p = arg;
	unsigned n = 0;

	while (!atomic_load(&p->stop)) {
		struct timespec ts = { 0, 200000000 };

		nanosleep(&ts, NULL);
		if (p->tty || ++n % 25 == 0)    /* a line each 5 s off a tty */
			progress_show(p, false);
	}
	return NULL;
}

/* ---- the session ------------------------------------------------------ */

static int run_all(struct run_session *s, struct progress *pr)
{
	struct run_config cfg = s->cfg;
	char what[80];
	unsigned i, j;
	int failed = 0;

	cfg.wl.progress = &pr->done;
	for (i = 0; i < s->nwl; i++)
		for (j = 0; j < s->nbk; j++) {
			cfg.wl.trace = s->trace[i];
			snprintf(what, sizeof(what), "%s on %s", s->wl[i]->name,
				 s->bk[j]->name);
			pr->what = what;
			if (run_one(&cfg, s->bk[j], s->wl[i], &s->res[i][j]) < 0)
				failed = 1;
		}
	return failed;
}

static int session(struct run_session *s, const struct run_opts *o)
{
	struct progress pr = { .t0 = now_s(), .tty = isatty(2), .what = "" };
	char err[512];
	unsigned i, j;
	int rc;

	for (i = 0; i < s->nwl; i++)
		for (j = 0; j < s->nbk; j++) {
			struct wl_params w = s->cfg.wl;

			w.trace = s->trace[i];
			pr.total += s->wl[i]->units(NULL, &w);
		}
	if (!o->quiet && pthread_create(&pr.tid, NULL, progress_main, &pr) != 0)
		return 1;
	rc = run_all(s, &pr);
	if (!o->quiet) {
		atomic_store(&pr.stop, 1);
		pthread_join(pr.tid, NULL);
		progress_show(&pr, true);
	}
	s->wall_s = now_s() - pr.t0;
	if (o->json) {
		json_t *doc = report_json(s);

		cli_print_json(doc, true);
		json_decref(doc);
	} else {
		report_text(stdout, s);
	}
	if (o->plot && report_plot(o->plot, s, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmmu run: %s\n", err);
		rc = 1;
	}
	return rc;
}

static int prepare(struct run_session *s, struct run_opts *o)
{
	char err[512] = "";

	s->cfg = o->cfg;
	s->cfg.gos.pcid = !o->no_pcid && (o->cfg.gos.mode == VMMU_PAGING_4LEVEL ||
					  o->cfg.gos.mode == VMMU_PAGING_5LEVEL);
	if (o->plot && report_plot_check(o->plot, err, sizeof(err)) < 0)
		return usage_err("%s", err);
	if (o->profile && access(o->profile, R_OK) < 0)
		return usage_err("--profile %s: cannot read it", o->profile);
	if (pick_workloads(s, o->workload, err, sizeof(err)) < 0)
		return usage_err("%s", err);
	if (detect_host(s, o, err, sizeof(err)) < 0)
		return usage_err("%s", err);
	if (pick_backends(s, o->backend, err, sizeof(err)) < 0 ||
	    check_memory(s, err, sizeof(err)) < 0)
		return usage_err("%s", err);
	{       /* the guest configuration itself, before anything runs */
		struct gos_config g = s->cfg.gos;

		g.ops = s->bk[0]->ops;
		if (gos_check_config(&g, err, sizeof(err)) < 0)
			return usage_err("%s", err);
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { .cfg = { .gos = { .mode = VMMU_PAGING_4LEVEL,
		.mem = 1ULL << 30, .vcpus = 1 }, .wl = { .scale = DEFAULT_SCALE,
		.seed = 1 } } };
	struct run_session *s;
	unsigned i;
	int rc = parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "vmmu run: out of memory\n");
		return 1;
	}
	rc = prepare(s, &o);
	if (rc == 0)
		rc = session(s, &o);
	for (i = 0; i < s->nwl; i++)
		trace_free((struct trace *)s->trace[i]);
	free(s);
	return rc;
}
