/* SPDX-License-Identifier: MIT */
/*
 * vmmu migrate: live-migrate a model VM whose guest keeps writing, over a
 * real TCP stream, to a receiver (its own, forked, by default).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli_json.h"
#include "migrate/migrate.h"
#include "model/model.h"
#include "vmmu/detect.h"
#include "vmmu/dirty.h"
#include "vmmu/error.h"

const char cmd_migrate_summary[] =
	"live-migrate a model VM (pre-copy over TCP) and check every page";

static void migrate_usage(FILE *out)
{
	fputs(
"NAME\n"
"    vmmu migrate - live migration of a running model VM over TCP\n"
"\n"
"SYNOPSIS\n"
"    vmmu migrate [--backend auto|ept|npt|shadow|direct]\n"
"                 [--dirty auto|wp|ad|pml] [--dirty-2m] [--workload NAME]\n"
"                 [--vcpus N]"
" [--mem SIZE] [--rate N] [--bandwidth MB/s]\n"
"                 [--to HOST:PORT] [--seed N] [--inject KIND:BYTE] [--json]\n"
"\n"
"DESCRIPTION\n"
"    Builds a model VM: SIZE of guest RAM at gpa 0, 4-level guest paging\n"
"    that identity-maps it with 2 MiB pages, N vCPUs, each on its own\n"
"    thread storing 8-byte values through vmmu_vcpu_access() (the\n"
"    workload). While the guest runs it is migrated by pre-copy: the VM's\n"
"    dirty log is enabled, round 0 sends all memory, each later round the\n"
"    pages the log reports (a clean per round); pre-copy stops after 30\n"
"    rounds, when fewer than 50 pages are dirty, or when 3x guest memory\n"
"    has been sent (Xen's rules). Then the guest is paused, the rest and\n"
"    the vCPU state are sent (stop-and-copy), the receiver answers that\n"
"    it has everything (the downtime ends there) and sends the hash of\n"
"    each of its pages; the source compares them with its paused memory.\n"
"    A page that differs fails the migration and is named by gfn.\n"
"\n"
"    Without --to, vmmu migrate forks its own receiver listening on\n"
"    127.0.0.1 at an ephemeral port (the same code as vmmu\n"
"    migrate-receive). The stream (docs/logdirty.md) is versioned and\n"
"    every record carries a CRC-32; the receiver refuses any record that\n"
"    is malformed, out of sequence or fails its checksum, and says so.\n"
"\n"
"    On any failure (receiver gone, connection cut, corrupt record,\n"
"    different memory) the source guest keeps running, its memory is\n"
"    untouched and its dirty log is off again as before; the command says\n"
"    what happened and exits 1.\n"
"\n"
"OPTIONS\n"
"    --backend B    the paging backend the model VM runs on: ept, npt,\n"
"                   shadow (the model's software MMU of each, on any\n"
"                   x86-64 host), direct (no second level), or auto (the\n"
"                   default): what the detection policy of vmmu detect\n"
"                   picks for this host, direct if detection fails\n"
"    --dirty D      how the dirty log learns of writes: wp (write\n"
"                   protection: each page traps on its first write after\n"
"                   a clean; every backend), ad (the second-level D bits,\n"
"                   harvested on each clean: EPT A/D, NPT), pml (EPT A/D\n"
"                   plus the page-modification log), or auto (the default:\n"
"                   pml, else ad, else wp, as the backend's profile has\n"
"                   them; the model's EPT profile has A/D and PML, its\n"
"                   NPT profile lets nested D bits be harvested). A\n"
"                   backend without the one asked for (direct and shadow\n"
"                   have wp only) is an error (exit status 1) before\n"
"                   anything is sent.\n"
"    --dirty-2m     with wp on EPT or NPT: a first write to a 2 MiB guest\n"
"                   leaf logs and unprotects its whole 2 MiB instead of\n"
"                   splitting it\n"
"    --workload W   random (uniform stores over all data pages, the\n"
"                   default), hot (90% to 5% of the pages), sweep (each\n"
"                   vCPU walks its share in order), idle (no stores)\n"
"    --vcpus N      writer vCPUs, 1..16 (default 2)\n"
"    --mem SIZE     guest RAM, 4M..4G, a multiple of 2 MiB; suffixes K, M,\n"
"                   G (default 256M)\n"
"    --rate N       stores per second per vCPU (default 0: as fast as\n"
"                   they go)\n"
"    --bandwidth R  throttle the stream to R MB/s (10^6 bytes; default\n"
"                   unlimited)\n"
"    --to HOST:PORT send to a vmmu migrate-receive there instead\n"
"    --seed N       workload seed (default 1)\n"
"    --inject K:B   for testing: flip (a byte), truncate (the stream) or\n"
"                   kill (the forked receiver) at stream byte B\n"
"    --json         machine-readable report on stdout\n"
"    -h, --help     this text\n"
"\n"
"OUTPUT\n"
"    Progress, one line per round, on stderr. Then per round: pages sent\n"
"    (and how many were never-touched zero pages), MB, seconds, and the\n"
"    dirty rate (pages the next clean found, per second of the round);\n"
"    totals, why pre-copy stopped, downtime (pause to the receiver's\n"
"    RESUMED) and the pages sent during it, guest stores made, and the\n"
"    verdict of the per-page comparison. --json gives the same as\n"
"    {\"ok\", \"error\", \"cpu\", \"config\", \"rounds\": [{\"round\", \"pages\",\n"
"     \"zero_pages\", \"bytes\", \"seconds\", \"dirty_rate\"}], \"stop_reason\",\n"
"     \"total_pages\", \"total_bytes\", \"seconds\", \"downtime_ms\",\n"
"     \"downtime_pages\", \"guest_stores\", \"first_bad_gfn\", \"bad_pages\"}.\n"
"\n"
"EXIT STATUS\n"
"    0 migrated and every page equal, 1 the migration failed (the\n"
"    message says how), 2 bad usage.\n"
"\n"
"EXAMPLES\n"
"    vmmu migrate\n"
"    vmmu migrate --vcpus 4 --mem 1G --workload hot --bandwidth 500\n"
"    vmmu migrate-receive --listen 7000 &  vmmu migrate --to 127.0.0.1:7000\n"
"    vmmu migrate --inject flip:100000     # detected, exit status 1\n",
	      out);
}

struct mopts {
	struct model_cfg cfg;
	const char *backend;    /* name of the backend the VM runs on */
	const char *dirty;      /* the dirty tracking in effect */
	struct vmmu_npt_config npt;     /* the NPT profile of the model VM */
	char policy[160];       /* why, for --backend auto */
	struct mig_opts mo;
	const char *to;
	bool json;
};

static int parse_inject(const char *s, struct mig_fault *f)
{
	const char *colon = strchr(s, ':');
	char *end;
	long long at;

	if (!colon)
		return -1;
	at = strtoll(colon + 1, &end, 0);
	if (*end || at < 0)
		return -1;
	if (!strncmp(s, "flip:", 5))
		f->flip_at = at;
	else if (!strncmp(s, "truncate:", 9))
		f->truncate_at = at;
	else if (!strncmp(s, "kill:", 5))
		f->kill_at = at;
	else
		return -1;
	return 0;
}

static int parse_dirty(const char *s, struct model_cfg *cfg)
{
	static const struct { const char *name; enum vmmu_dirty_log m; } t[] = {
		{ "wp", VMMU_DIRTY_WRITE_PROTECT }, { "ad", VMMU_DIRTY_AD_BITS },
		{ "pml", VMMU_DIRTY_PML }, { "auto", VMMU_DIRTY_AUTO },
	};
	unsigned i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(s, t[i].name)) {
			cfg->dirty_fixed = t[i].m != VMMU_DIRTY_AUTO;
			cfg->dirty = t[i].m;
			return 0;
		}
	return -1;
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "vmmu migrate: bad %s '%s' (see vmmu migrate --help)\n",
		what, arg);
	return 2;
}

static int mparse(int argc, char **argv, struct mopts *o)
{
	static const struct option lo[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "dirty", required_argument, NULL, 'd' },
		{ "dirty-2m", no_argument, NULL, '2' },
		{ "workload", required_argument, NULL, 'w' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "mem", required_argument, NULL, 'm' },
		{ "rate", required_argument, NULL, 'r' },
		{ "bandwidth", required_argument, NULL, 'B' },
		{ "to", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "inject", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char opt[32], *end;
	int c, w;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (strcmp(optarg, "auto") && !run_backend_find(optarg))
				return bad("backend (auto, ept, npt, shadow, "
					   "direct)", optarg);
			o->backend = optarg;
			break;
		case 'd':
			if (parse_dirty(optarg, &o->cfg) < 0)
				return bad("dirty tracking (auto, wp, ad, pml)",
					   optarg);
			break;
		case '2': o->cfg.dirty_flags |= VMMU_DIRTY_LOG_2M; break;
		case 'w':
			if ((w = model_workload_parse(optarg)) < 0)
				return bad("workload", optarg);
			o->cfg.workload = (enum model_workload)w;
			break;
		case 'v':
			o->cfg.vcpus = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !o->cfg.vcpus || o->cfg.vcpus > MODEL_MAX_VCPUS)
				return bad("vCPU count", optarg);
			break;
		case 'm':
			if (mig_parse_size(optarg, &o->cfg.mem) < 0 ||
			    o->cfg.mem < (4 << 20) || o->cfg.mem > MODEL_MAX_MEM ||
			    o->cfg.mem % (2 << 20))
				return bad("memory size", optarg);
			break;
		case 'r':
			o->cfg.rate = strtoull(optarg, &end, 10);
			if (*end)
				return bad("rate", optarg);
			break;
		case 'B':
			o->mo.bandwidth = strtod(optarg, &end);
			if (*end || o->mo.bandwidth < 0)
				return bad("bandwidth", optarg);
			break;
		case 't': o->to = optarg; break;
		case 's': o->cfg.seed = strtoull(optarg, &end, 0); break;
		case 'i':
			if (parse_inject(optarg, &o->mo.fault) < 0)
				return bad("fault", optarg);
			break;
		case 'j': o->json = true; break;
		case 'h': migrate_usage(stdout); return 0;
		default:
			fprintf(stderr, "vmmu migrate: unknown or incomplete option "
				"'%s'\n", cli_bad_option(argv, opt, sizeof(opt)));
			return 2;
		}
	}
	if (optind < argc)
		return bad("argument", argv[optind]);
	if (o->to && o->mo.fault.kill_at >= 0)
		return bad("fault (kill needs the forked receiver)", "kill");
	return -1;
}

/*
 * Resolve --backend into the model VM's ops; auto asks the detection
 * policy (as vmmu detect and vmmu run do) and says why in o->policy.
 */
static int pick_backend(struct mopts *o)
{
	struct vmmu_host_info *h = calloc(1, sizeof(*h));
	struct vmmu_decision *d = calloc(1, sizeof(*d));
	struct vmmu_vm_request req = { .backend = VMMU_BACKEND_AUTO };
	const struct run_backend *b = NULL;
	char err[200] = "";

	if (o->backend && strcmp(o->backend, "auto")) {
		b = run_backend_find(o->backend);
	} else if (!h || !d) {
		snprintf(o->policy, sizeof(o->policy), "out of memory");
	} else if (vmmu_detect_live(h, err, sizeof(err)) < 0 ||
		   vmmu_decide(h, &req, d) < 0) {
		snprintf(o->policy, sizeof(o->policy),
			 "detection failed (%.100s): direct", err);
	} else {
		b = run_backend_find(vmmu_backend_name(d->backend));
		snprintf(o->policy, sizeof(o->policy), "policy: %s%s",
			 vmmu_backend_name(d->backend),
			 b ? "" : " (not in this build): direct");
	}
	free(h);
	free(d);
	if (!b)
		b = run_backend_find("direct");
	o->backend = b ? b->name : "direct";
	o->cfg.kind = b ? b->kind : VMMU_BACKEND_NONE;
	o->cfg.ops = b && strcmp(b->name, "direct") ? b->ops : NULL;
	/* the model's CPU profiles: every dirty-tracking variant present */
	model_cfg_full_profiles(&o->cfg, &o->npt);
	return 0;
}

/* The forked receiver: accept one migration on lfd, exit 0 or 1. */
static void child_receive(int lfd)
{
	struct mig_recv_report rr;
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		_exit(1);
	close(lfd);
	if (mig_receive(fd, &rr) < 0) {
		fprintf(stderr, "vmmu migrate: receiver: %s\n", rr.why);
		_exit(1);
	}
	_exit(0);
}

static json_t *migrate_report_json(const struct mopts *o, const struct mig_report *r)
{
	struct bench_sysinfo si;
	json_t *rounds = json_array();
	unsigned i;

	bench_sysinfo_get(&si);
	for (i = 0; i < r->nrounds; i++)
		json_array_append_new(rounds, json_pack(
			"{s:i,s:I,s:I,s:I,s:f,s:f}", "round", r->rounds[i].round,
			"pages", (json_int_t)r->rounds[i].pages,
			"zero_pages", (json_int_t)r->rounds[i].zero_pages,
			"bytes", (json_int_t)r->rounds[i].bytes,
			"seconds", r->rounds[i].seconds,
			"dirty_rate", r->rounds[i].dirty_rate));
	return json_pack("{s:b,s:o,s:o,s:{s:s,s:s,s:s,s:b,s:s,s:i,s:I,s:I,s:f},"
			 "s:o,"
			 "s:s,s:I,"
			 "s:I,s:f,s:f,s:I,s:I,s:I,s:I}",
		"ok", r->ok, "error", r->ok ? json_null() : cli_text(r->why),
		"cpu", bench_sysinfo_json(&si),
		"config", "backend", o->backend, "backend_reason", o->policy,
		"dirty", o->dirty ? o->dirty : "",
		"dirty_2m", (o->cfg.dirty_flags & VMMU_DIRTY_LOG_2M) != 0,
		"workload", model_workload_name(o->cfg.workload),
		"vcpus", o->cfg.vcpus, "mem", (json_int_t)o->cfg.mem,
		"rate", (json_int_t)o->cfg.rate, "bandwidth_mbs", o->mo.bandwidth,
		"rounds", rounds,
		"stop_reason", r->stop_reason ? r->stop_reason : "",
		"total_pages", (json_int_t)r->total_pages,
		"total_bytes", (json_int_t)r->total_bytes,
		"seconds", r->total_seconds, "downtime_ms", r->downtime_ms,
		"downtime_pages", (json_int_t)r->downtime_pages,
		"guest_stores", (json_int_t)r->guest_stores,
		"first_bad_gfn", (json_int_t)r->first_bad_gfn,
		"bad_pages", (json_int_t)r->bad_pages);
}

static void migrate_report_text(const struct mopts *o, const struct mig_report *r)
{
	unsigned i;

	printf("model VM: %llu MiB, %u vCPUs, workload %s, backend %s%s%s%s, "
	       "dirty tracking %s%s\n",
	       (unsigned long long)(o->cfg.mem >> 20), o->cfg.vcpus,
	       model_workload_name(o->cfg.workload), o->backend,
	       o->policy[0] ? " (" : "", o->policy, o->policy[0] ? ")" : "",
	       o->dirty ? o->dirty : "?",
	       o->cfg.dirty_flags & VMMU_DIRTY_LOG_2M ? " at 2 MiB" : "");
	printf("%-6s %10s %10s %10s %10s %14s\n", "round", "pages", "zero",
	       "MB", "seconds", "dirty pages/s");
	for (i = 0; i < r->nrounds; i++)
		printf("%-6u %10llu %10llu %10.1f %10.3f %14.0f\n",
		       r->rounds[i].round, (unsigned long long)r->rounds[i].pages,
		       (unsigned long long)r->rounds[i].zero_pages,
		       (double)r->rounds[i].bytes / 1e6, r->rounds[i].seconds,
		       r->rounds[i].dirty_rate);
	printf("pre-copy stopped: %s\n", r->stop_reason ? r->stop_reason : "-");
	printf("total: %llu pages, %.1f MB in %.3f s (%.1f x guest memory)\n",
	       (unsigned long long)r->total_pages, (double)r->total_bytes / 1e6,
	       r->total_seconds, (double)r->total_pages / (double)r->mem_pages);
	printf("downtime: %.2f ms, %llu pages\n", r->downtime_ms,
	       (unsigned long long)r->downtime_pages);
	printf("guest stores during the migration: %llu\n",
	       (unsigned long long)r->guest_stores);
	if (r->ok)
		printf("receiver memory equals the source: all %llu pages\n",
		       (unsigned long long)r->mem_pages);
}

/* Connect to the receiver; start and run the VM; migrate. */
static int run(struct mopts *o, int fd, pid_t child)
{
	struct model m;
	struct mig_report r;
	json_t *j;
	int rc;

	if (model_create(&m, &o->cfg) < 0) {
		fprintf(stderr, "vmmu migrate: %s\n", m.why);
		return 1;
	}
	o->dirty = vmmu_dirty_log_name(vmmu_dirty_mode(m.vm));
	if (model_start(&m) < 0) {
		fprintf(stderr, "vmmu migrate: %s\n", m.why);
		model_destroy(&m);
		return 1;
	}
	o->mo.fault.kill_pid = child;
	rc = mig_send(&m, fd, &o->mo, &r);
	model_destroy(&m);
	if (o->json) {
		j = migrate_report_json(o, &r);
		cli_print_json(j, false);
		json_decref(j);
	} else {
		migrate_report_text(o, &r);
	}
	if (rc < 0)
		fprintf(stderr, "vmmu migrate: migration failed: %s; the source "
			"VM kept running, its memory untouched\n", r.why);
	return rc < 0 ? 1 : 0;
}

int cmd_migrate(int argc, char **argv)
{
	struct mopts o;
	pid_t child = -1;
	int fd, lfd = -1, rc, st;
	char why[200];

	memset(&o, 0, sizeof(o));
	o.cfg.mem = 256ULL << 20;
	o.cfg.vcpus = 2;
	o.cfg.seed = 1;
	o.mo.fault.flip_at = o.mo.fault.truncate_at = o.mo.fault.kill_at = -1;
	o.mo.progress = stderr;
	rc = mparse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	pick_backend(&o);
	signal(SIGPIPE, SIG_IGN);
	if (!o.to) {
		char addr[64];

		lfd = mig_listen("127.0.0.1:0", addr, sizeof(addr), why, sizeof(why));
		if (lfd < 0) {
			fprintf(stderr, "vmmu migrate: %s\n", why);
			return 1;
		}
		fflush(NULL);
		child = fork();
		if (child == 0)
			child_receive(lfd);
		close(lfd);
		if (child < 0) {
			fprintf(stderr, "vmmu migrate: fork: %s\n", strerror(errno));
			return 1;
		}
		fprintf(stderr, "vmmu migrate: receiver %d on %s\n", (int)child, addr);
		fd = mig_connect(addr, why, sizeof(why));
	} else {
		fd = mig_connect(o.to, why, sizeof(why));
	}
	if (fd < 0) {
		fprintf(stderr, "vmmu migrate: %s\n", why);
		rc = 1;
	} else {
		rc = run(&o, fd, child);
		close(fd);
	}
	if (child > 0 && waitpid(child, &st, 0) == child && rc == 0 &&
	    !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		fprintf(stderr, "vmmu migrate: the receiver failed\n");
		rc = 1;
	}
	return rc;
}
