/* SPDX-License-Identifier: MIT */
/*
 * kvm_oracle: the long-run tool. Runs seeded random cases on a real KVM
 * vCPU, compares every access with vmmu_walk(), prints counts, and dumps
 * the first disagreements as `vmmu walk` cases.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "vmmu/error.h"
#include "oracle_cmp.h"
#include "oracle_replay.h"

static void usage(FILE *out)
{
	fputs(
"NAME\n"
"    kvm_oracle - hold vmmu's guest page-table walker against a real KVM vCPU\n"
"\n"
"SYNOPSIS\n"
"    kvm_oracle [--cases N] [--seed S] [--vendor host|intel|amd] [--json]\n"
"               [--dumps K] [--no-implicit]\n"
"    kvm_oracle --case FILE|- [--pretty]\n"
"    kvm_oracle --help\n"
"\n"
"DESCRIPTION\n"
"    Generates N random cases from seed S over the permission space of\n"
"    4-level paging (P, W, U, A, D, NX, PS, reserved bits at every level;\n"
"    EFER.NXE, CR0.WP, CR4.SMEP, CR4.SMAP, RFLAGS.AC; CPL 0 to 3; read,\n"
"    write, fetch and implicit supervisor accesses). Each case has 1-3\n"
"    accesses on the same tables. Every access runs for real in a KVM\n"
"    guest; the outcome (completed or vector, error code, CR2), the\n"
"    guest-physical address reached and the A/D bits KVM left in the\n"
"    tables are compared with vmmu_walk() run on a copy of the tables.\n"
"    See docs/kvm-oracle.md.\n"
"\n"
"    With --case, runs one `vmmu walk` case (4-level paging only) on KVM\n"
"    instead and prints KVM's results in `vmmu walk` output form.\n"
"\n"
"OPTIONS\n"
"    --cases N     number of cases (default 10000)\n"
"    --seed S      generator seed (default 1); the same seed gives the same\n"
"                  cases wherever KVM's guest has the same MAXPHYADDR and\n"
"                  protection keys\n"
"    --vendor V    the CPU vendor the guest's CPUID names: host (default,\n"
"                  what KVM_GET_SUPPORTED_CPUID says), intel or amd. KVM\n"
"                  and the walker then apply that vendor's reserved bits.\n"
"    --maxphyaddr M  give the guest a MAXPHYADDR of M (32..KVM's) instead\n"
"                  of the one KVM's supported CPUID reports, as a host with\n"
"                  fewer address bits would; cases follow it\n"
"    --json        print the counts and the dumps as one JSON object\n"
"    --dumps K     dump at most K disagreeing cases in full (default 5)\n"
"    --no-implicit leave out implicit (descriptor-table) accesses\n"
"    --case FILE   run a `vmmu walk` case on KVM (- reads standard input)\n"
"    --pretty      indent JSON output\n"
"    --quiet       no progress on stderr\n"
"    -h, --help    this text\n"
"\n"
"OUTPUT\n"
"    Counts: cases, accesses, completed accesses, #PF by kind (not\n"
"    present, protection, reserved bit), other vectors, implicit accesses,\n"
"    KVM fetch quirks, agreements, disagreements, harness errors. Each\n"
"    dumped disagreement has \"case\" (replay it with `vmmu walk --case`),\n"
"    \"kvm\" and \"vmmu\" (results and memory_writes in `vmmu walk` form)\n"
"    and \"difference\". Progress goes to stderr every 2 s.\n"
"\n"
"EXIT STATUS\n"
"    0   every access agreed (or --case ran)\n"
"    1   a disagreement or a harness error, or KVM failed\n"
"    2   bad usage or malformed input\n"
"    77  /dev/kvm is not usable here\n"
"\n"
"EXAMPLES\n"
"    kvm_oracle --cases 100000 --seed 1\n"
"    kvm_oracle --cases 2000 --seed 7 --json | jq '.disagreements[0].case' \\\n"
"        | vmmu walk --case -\n"
"    vmmu walk --case examples/walk-4level.json; kvm_oracle --case \\\n"
"        examples/walk-4level.json\n",
	      out);
}

static int parse_u64(const char *s, const char *what, uint64_t *out)
{
	char *end;

	*out = strtoull(s, &end, 0);
	if (!*s || *end) {
		fprintf(stderr, "kvm_oracle: %s '%s' is not a number\n", what, s);
		return -1;
	}
	return 0;
}

static void print_text(const struct orc_stats *st, const struct orc_run_opts *o)
{
	printf("seed %" PRIu64 ": %" PRIu64 " cases, %" PRIu64 " accesses in %.1f s\n",
	       o->seed, st->cases, st->accesses, st->seconds);
	printf("  completed %" PRIu64 "; #PF not-present %" PRIu64
	       ", protection %" PRIu64 ", reserved-bit %" PRIu64
	       "; other vectors %" PRIu64 "\n", st->completed,
	       st->pf_not_present, st->pf_protection, st->pf_reserved,
	       st->other_vector);
	printf("  implicit accesses %" PRIu64 ", KVM fetch quirks %" PRIu64
	       ", accesses that set A/D bits %" PRIu64 "\n",
	       st->implicit, st->fetch_quirk, st->ad_updates);
	printf("  accesses to frames without memory (MMIO exits) %" PRIu64
	       "; with CR4.PKE %" PRIu64 ", #PF(PK) %" PRIu64 "\n", st->mmio,
	       st->pke_accesses, st->pf_pk);
	printf("  agreements %" PRIu64 ", disagreements %" PRIu64
	       ", harness errors %" PRIu64 "\n", st->agree, st->disagree,
	       st->harness_errors);
}

static int run_random(const struct orc_run_opts *opts, enum orc_vendor vendor,
		      unsigned maxphy, bool json, bool pretty)
{
	struct orc_run_opts o = *opts;
	struct orc_stats st;
	struct orc_vm vm;
	char why[160];
	int rc;

	rc = orc_vm_open(&vm, vendor, why, sizeof(why));
	if (rc < 0) {
		printf("SKIP: kvm_oracle needs /dev/kvm (%s)\n", why);
		return 77;
	}
	if (maxphy && orc_vm_limit_maxphyaddr(&vm, maxphy, why, sizeof(why))) {
		fprintf(stderr, "kvm_oracle: --maxphyaddr: %s\n", why);
		orc_vm_close(&vm);
		return 2;
	}
	o.dumps = json_array();
	o.log = stderr;
	if (!json)
		printf("KVM's guest: MAXPHYADDR %u (%s), protection keys "
		       "%s%s\n", vm.maxphyaddr, vm.maxphy_limit ?
		       "--maxphyaddr, below KVM's own" :
		       "KVM_GET_SUPPORTED_CPUID 0x80000008",
		       vm.pku ? "yes" : "no: ", vm.pku ? "" : vm.pku_note);
	rc = orc_run(&vm, &o, &st);
	orc_vm_close(&vm);
	if (rc < 0)
		fprintf(stderr, "kvm_oracle: KVM failed: %s\n", vmmu_strerror(rc));
	if (json) {
		json_t *all = json_pack("{s:o,s:I,s:{s:i,s:b,s:s},s:o,s:O}",
					"seed", cli_hex(o.seed), "requested",
					(json_int_t)o.cases, "kvm_guest",
					"maxphyaddr", vm.maxphyaddr, "pku",
					vm.pku, "pku_note", vm.pku_note,
					"stats", orc_stats_json(&st),
					"disagreements", o.dumps);
		cli_print_json(all, pretty);
		json_decref(all);
	} else {
		print_text(&st, &o);
		if (json_array_size(o.dumps))
			cli_print_json(o.dumps, true);
	}
	json_decref(o.dumps);
	return rc < 0 || st.disagree || st.harness_errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cases", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "vendor", required_argument, NULL, 'v' },
		{ "maxphyaddr", required_argument, NULL, 'm' },
		{ "dumps", required_argument, NULL, 'd' },
		{ "no-implicit", no_argument, NULL, 'i' },
		{ "case", required_argument, NULL, 'c' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct orc_run_opts o = { .seed = 1, .cases = 10000, .max_dumps = 5,
				  .progress = true };
	const char *case_path = NULL;
	enum orc_vendor vendor = ORC_VENDOR_HOST;
	unsigned maxphy = 0;
	bool json = false, pretty = false;
	uint64_t v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u64(optarg, "--cases", &o.cases) < 0)
				return 2;
			break;
		case 's':
			if (parse_u64(optarg, "--seed", &o.seed) < 0)
				return 2;
			break;
		case 'd':
			if (parse_u64(optarg, "--dumps", &v) < 0 || v > 1000) {
				fprintf(stderr, "kvm_oracle: --dumps takes 0..1000\n");
				return 2;
			}
			o.max_dumps = (unsigned)v;
			break;
		case 'v':
			if (!strcmp(optarg, "amd"))
				vendor = ORC_VENDOR_AMD;
			else if (!strcmp(optarg, "intel"))
				vendor = ORC_VENDOR_INTEL;
			else if (strcmp(optarg, "host")) {
				fprintf(stderr, "kvm_oracle: --vendor takes host, "
					"intel or amd\n");
				return 2;
			}
			break;
		case 'm':
			if (parse_u64(optarg, "--maxphyaddr", &v) < 0 || v < 32 ||
			    v > 52) {
				fprintf(stderr, "kvm_oracle: --maxphyaddr takes "
					"32..52\n");
				return 2;
			}
			maxphy = (unsigned)v;
			break;
		case 'j': json = true; break;
		case 'i': o.no_implicit = true; break;
		case 'c': case_path = optarg; break;
		case 'p': pretty = true; break;
		case 'q': o.progress = false; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "kvm_oracle: unknown or incomplete option "
				"'%s' (see kvm_oracle --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kvm_oracle: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (case_path)
		return orc_replay_file(case_path, pretty);
	return run_random(&o, vendor, maxphy, json, pretty);
}
