/* SPDX-License-Identifier: MIT */
/* `vmmu bench exits`: VM-exit costs through KVM (see docs/bench.md). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmu/error.h"
#include "bench/exits.h"
#include "cli_json.h"

const char bench_exits_summary[] =
	"VM-exit, fault, CR3/INVLPG and in-guest TLB-miss costs through KVM";

#define EXIT_NO_KVM 3

static void usage(FILE *out)
{
	fprintf(out,
"NAME\n"
"    vmmu bench exits - measure VM-exit costs through KVM on this machine\n"
"\n"
"SYNOPSIS\n"
"    vmmu bench exits [--quick] [--reps N] [--chase-max SIZE] [--no-chase]\n"
"                     [--kvm-device PATH] [--json] [--plot DIR]\n"
"                     [--profile FILE] [--quiet]\n"
"\n"
"DESCRIPTION\n"
"    Builds a one-vCPU KVM guest in long mode and runs timed loops in it:\n"
"    an I/O exit, an MMIO exit (a gpa without memslot) and a hypercall\n"
"    (KVM_CAP_EXIT_HYPERCALL) handled in this process; HLT exiting to user\n"
"    space; CPUID, RDMSR and a hypercall answered inside KVM; a guest #PF\n"
"    handled by the guest; the first write to fresh guest memory (host page\n"
"    fault plus shadow or EPT fill) and the second; MOV to CR3 and INVLPG;\n"
"    and the empty loop. Each is timed with rdtsc in the guest (ns through\n"
"    KVM_GET_TSC_KHZ) and with the host clock around KVM_RUN; median and\n"
"    spread over repetitions. Then a pointer chase inside the guest on 4 KiB\n"
"    and 2 MiB guest pages over the working sets of `vmmu bench tlb`, beside\n"
"    the same chase run natively. The CPU, kernel and KVM flavour (modules,\n"
"    paging parameters, the guest's CPUID signature, KVM_CHECK_EXTENSION\n"
"    results) are recorded with the result, and the figures are compared\n"
"    with the published ones. Progress goes to stderr.\n"
"\n"
"OPTIONS\n"
"    --quick            fewer iterations, chase up to 64 MiB (seconds:\n"
"                       docs/bench.md has timings)\n"
"    --reps N           repetitions (default 9, quick 5; max 31)\n"
"    --chase-max SIZE   largest in-guest working set, 64K..1G (default 1G,\n"
"                       quick 64M)\n"
"    --no-chase         skip the pointer chases\n"
"    --kvm-device PATH  KVM device (default /dev/kvm, or $VMMU_KVM_DEVICE)\n"
"    --json             print the result as JSON on stdout\n"
"    --plot DIR         write DIR/exits.png and DIR/tlb_guest.png (gnuplot)\n"
"    --profile FILE     write (or update) the JSON cost profile FILE\n"
"    --quiet            no progress on stderr\n"
"    -h, --help         this text\n"
"\n"
"OUTPUT\n"
"    The machine and KVM description; a table of costs (guest TSC cycles and\n"
"    ns per operation, min-max, host wall ns, exits to user space per\n"
"    operation); the cross-check; the native vs in-guest chase table and\n"
"    the TLB reach and walk cost both ways. Schemas: docs/bench.md.\n"
"\n"
"    An operation that cannot work on this host (no capability, or its\n"
"    warm-up does not complete: e.g. a hypercall this KVM never returns\n"
"    from) is reported \"unsupported\" with the reason, in the table, the\n"
"    JSON (\"status\") and the plot's title; it is not a failure.\n"
"\n"
"EXIT STATUS\n"
"    0 every operation measured or unsupported here, 1 a measurement\n"
"    failed after its warm-up had worked (or an output could not be\n"
"    written), 2 bad usage, 3 KVM not available here (nothing measured;\n"
"    the reason is printed).\n"
"\n"
"EXAMPLES\n"
"    vmmu bench exits --quick\n"
"    vmmu bench exits --plot plots --profile cost.json\n"
"    vmmu bench exits --kvm-device /nonexistent   # exits 3, says why\n");
}

enum { OPT_CHASE = BENCH_OPT_OWN, OPT_NOCHASE, OPT_DEV };

static const struct option own_opts[] = {
	{ "chase-max", required_argument, NULL, OPT_CHASE },
	{ "no-chase", no_argument, NULL, OPT_NOCHASE },
	{ "kvm-device", required_argument, NULL, OPT_DEV },
	{ NULL, 0, NULL, 0 },
};

static int exits_option(int ch, const char *arg, void *ctx)
{
	struct bench_exits_opts *o = ctx;

	switch (ch) {
	case OPT_NOCHASE: o->no_chase = true; return 0;
	case OPT_DEV: o->device = arg; return 0;
	case OPT_CHASE:
		/* 64 KiB .. 1 GiB: two regions of it fit below the MMIO
		 * hole at 3 GiB. */
		return bench_parse_size(arg, &o->chase_max) ||
		       o->chase_max < (64 << 10) ||
		       o->chase_max > GUEST_CHASE_MAX ? -1 : 0;
	default: return -1;
	}
}

static int parse(int argc, char **argv, struct bench_common_opts *c,
		 struct bench_exits_opts *o)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->device = getenv("VMMU_KVM_DEVICE");
	rc = bench_parse_args(argc, argv, "bench exits", own_opts,
			      exits_option, o, c);
	o->quick = c->quick;
	o->reps = c->reps;
	o->progress = c->progress;
	return rc;
}

static int no_kvm(const struct bench_common_opts *c, const char *why)
{
	fprintf(stderr, "vmmu bench exits: KVM not available (%s); nothing "
		"measured\n", why);
	if (c->json) {
		json_t *doc = json_pack("{s:s, s:b, s:s}", "benchmark", "exits",
					"kvm_available", 0, "reason", why);

		cli_print_json(doc, true);
		json_decref(doc);
	}
	return EXIT_NO_KVM;
}

static int write_outputs(const struct bench_common_opts *c,
			 const struct bench_exits_opts *o,
			 const struct bench_exits_result *r,
			 const struct bench_sysinfo *si,
			 const struct bench_clock *clk)
{
	json_t *ex = bench_exits_json(r);
	json_t *doc = json_pack("{s:s, s:b, s:o, s:f, s:O}", "benchmark",
				"exits", "kvm_available", 1, "machine",
				bench_sysinfo_json(si), "tsc_hz", clk->tsc_hz,
				"exits", ex);
	int rc = 0;

	if (c->json)
		cli_print_json(doc, true);
	else
		bench_print_exits(stdout, r, si);
	if (c->plot_dir && bench_plot_exits(c->plot_dir, r, &o->progress))
		rc = 1;
	if (c->profile && bench_profile_update(c->profile, "exits", ex, si, clk,
					       &o->progress))
		rc = 1;
	json_decref(ex);
	json_decref(doc);
	if (bench_exits_failed(r)) {
		fprintf(stderr, "vmmu bench exits: a measurement failed after "
			"its warm-up had worked (see its row)\n");
		rc = 1;
	}
	return rc;
}

int bench_exits(int argc, char **argv)
{
	struct bench_common_opts c;
	struct bench_exits_opts o;
	struct bench_sysinfo si;
	struct bench_clock clk;
	struct bench_exits_result *r;
	char why[256] = "";
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
	rc = bench_exits_run(&o, &clk, r, why, sizeof(why));
	if (rc == VMMU_ENOTSUP) {
		free(r);
		return no_kvm(&c, why);
	}
	if (rc) {
		fprintf(stderr, "vmmu bench exits: %s: %s\n", vmmu_strerror(rc), why);
		free(r);
		return 1;
	}
	rc = write_outputs(&c, &o, r, &si, &clk);
	free(r);
	return rc;
}
