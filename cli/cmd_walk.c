/* SPDX-License-Identifier: MIT */
/*
 * vmmu walk: run the guest page-table walker on a JSON case (registers,
 * guest-physical memory, accesses) and print translations, faults and the
 * A/D updates the walks made.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "walk_case.h"
#include "walk_nested.h"
#include "walk_shadow.h"
#include "vmmu/error.h"
#include "vmmu/walk.h"

const char cmd_walk_summary[] = "translate guest-virtual addresses through guest page tables";

static void walk_usage(FILE *out)
{
	fputs(
"NAME\n"
"    vmmu walk - run the guest page-table walker on a JSON test case\n"
"\n"
"SYNOPSIS\n"
"    vmmu walk --case FILE|- [--pretty] [--trace]\n"
"    vmmu walk --help\n"
"\n"
"DESCRIPTION\n"
"    Translates guest-virtual (linear) addresses the way an x86 CPU does,\n"
"    in the paging mode selected by CR0, CR4 and EFER: paging off, 32-bit\n"
"    (with CR4.PSE 4 MiB pages and PSE-36), PAE, 4-level and 5-level\n"
"    (CR4.LA57). It applies U/S, R/W, NX (EFER.NXE), CR0.WP, CR4.SMEP,\n"
"    CR4.SMAP with RFLAGS.AC and implicit supervisor accesses, protection\n"
"    keys (CR4.PKE with PKRU), reserved-bit checks for the given\n"
"    MAXPHYADDR, and sets accessed/dirty bits as a CPU does (by default\n"
"    only when the access succeeds). Faults report the vector, the #PF error code and\n"
"    CR2. See docs/walker.md for the rules and their SDM/APM sources.\n"
"\n"
"    A case is a JSON object:\n"
"      {\"paging\": {\"cr0\": \"0x80010011\", \"cr3\": \"0x1000\",\n"
"                  \"cr4\": \"0x20\", \"efer\": \"0x500\", \"maxphyaddr\": 46,\n"
"                  \"pkru\": \"0x0\", \"rflags\": \"0x2\",\n"
"                  \"vendor\": \"intel\", \"gbpages\": true},\n"
"       \"memory\": [{\"gpa\": \"0x1000\", \"hex\": \"0320000000000000\"},\n"
"                  {\"gpa\": \"0x2000\", \"qwords\": [\"0x3003\"]}],\n"
"       \"accesses\": [{\"gva\": \"0x400000\", \"access\": \"write\",\n"
"                     \"cpl\": 3, \"implicit\": false}]}\n"
"    64-bit values are \"0x...\" strings, decimal strings or integers.\n"
"    paging: cr0, cr3, cr4, efer and maxphyaddr (32..52) are required;\n"
"      pkru (default 0), rflags (default 0x2), vendor (\"intel\" default, or\n"
"      \"amd\": bit 8 of a PML4E/PML5E is reserved), gbpages (default\n"
"      true; false makes PS in a PDPTE reserved) and a_bits_on_fault\n"
"      (default false: A/D bits only when the walk succeeds; true: a walk\n"
"      that faults sets A, never D, on the entries above the faulting one,\n"
"      and on a 4/5-level PDPTE that passed its common checks, as QEMU\n"
"      does; SDM 4.8) are optional.\n"
"    memory: guest-physical contents; each item has gpa and exactly one of\n"
"      hex (bytes in memory order), qwords (8-byte little-endian values) or\n"
"      dwords (4-byte values). Unlisted memory reads as zero; items are\n"
"      written in order, so a later item overwrites an overlapping one\n"
"      (as in vmmu emulate). A case may touch at most 65536 pages of\n"
"      4 KiB; the input may be at most 16 MiB.\n"
"    accesses: run in order on the same memory, so A/D updates carry over.\n"
"      gva and access (read, write or fetch) are required; cpl (0..3,\n"
"      default 0) and implicit (default false: an implicit supervisor\n"
"      access such as a GDT read) are optional.\n"
"    nested (optional): every access is a 2-D walk, the guest's tables\n"
"      reached through EPT or NPT tables in host memory:\n"
"        {\"type\": \"ept\", \"eptp\": \"0x..\", \"ad\": false, \"pml\": false}\n"
"        {\"type\": \"npt\", \"ncr3\": \"0x..\", \"levels\": 4}\n"
"      memory items then carry \"hpa\" instead of \"gpa\" (host-physical\n"
"      contents). ept: eptp is required (memory type 0 or 6, walk length\n"
"      4 or 5, bits 11:7 clear); ad (default: EPTP bit 6) sets EPTP bit 6,\n"
"      the EPT A/D flags; pml must be false; execute_only and page_1g\n"
"      (default true) are EPT capabilities. npt: ncr3 is required; levels\n"
"      4 or 5 (default 4); nxe and gbpages (default true) are the host's\n"
"      EFER.NXE and 1 GiB pages. Both: maxphyaddr, the host's (default:\n"
"      the paging one). Each walk starts cold; PAE PDPTEs are loaded once,\n"
"      through the nested tables, as a MOV to CR3 loads them.\n"
"    backend (optional): \"shadow\" runs every access through vmmu's\n"
"      shadow-paging backend (shadow-fallback/, docs/shadow.md) by the\n"
"      core's access path, on a VM whose guest-physical memory is the\n"
"      case's memory placed by p2m; the only backend named here.\n"
"    p2m (optional, with backend): the VM's memory map, a list of\n"
"        {\"gpa\": \"0x..\", \"hpa\": \"0x..\", \"size\": \"0x..\", \"type\": \"ram\"}\n"
"      type ram, rom or mmio (mmio has no hpa); gpa, hpa and size 4 KiB\n"
"      multiples, gpa + size within MAXPHYADDR, hpa + size within 52\n"
"      bits; no two ranges share a guest page, no two RAM/ROM ranges a\n"
"      host page; at most 60 ranges. A page in no range is a hole. Every\n"
"      listed memory byte must be in RAM or ROM. Default: identity RAM\n"
"      over [0, 2^min(MAXPHYADDR, 46)).\n"
"      Each access starts with an empty TLB model (INVPCID type 2: as\n"
"      plain vmmu walk, it sees the tables as they are), while the\n"
"      shadow tables stay from access to access. Accesses carry no\n"
"      data, so the only guest-memory writes are the walks' A/D updates.\n"
"      --trace is refused.\n"
"    Unknown keys are errors, so that a typo cannot go unnoticed.\n"
"\n"
"    The input may also be a JSON array of cases; each runs on its own\n"
"    fresh memory and the output is an array of results in the same\n"
"    order, so a harness can run thousands of cases in one process.\n"
"\n"
"OPTIONS\n"
"    --case FILE   the case file; - reads standard input\n"
"    --pretty      indent the JSON output\n"
"    --trace       add \"entries\" (gpa and value of each paging-structure\n"
"                  entry read, root first) to every result\n"
"    --json        accepted for uniformity; the output is always JSON\n"
"    -h, --help    this text\n"
"\n"
"OUTPUT\n"
"    {\"results\": [R, ...], \"memory_writes\": [W, ...]} per case, where R is\n"
"      {\"gva\": \"0x..\", \"ok\": true, \"gpa\": \"0x..\", \"page_size\": 4096}\n"
"    or, for a page fault,\n"
"      {\"gva\": \"0x..\", \"ok\": false, \"vector\": 14, \"error_code\": \"0x..\",\n"
"       \"cr2\": \"0x..\"}\n"
"    or, for a #GP (non-canonical address in 4/5-level paging, CR3 bits\n"
"    above MAXPHYADDR, PAE PDPTEs with reserved bits: MOV to CR3 faults),\n"
"      {\"gva\": \"0x..\", \"ok\": false, \"vector\": 13, \"error_code\": \"0x0\"}\n"
"    W is one A/D update, in the order made:\n"
"      {\"gpa\": \"0x..\", \"size\": 8, \"value\": \"0x..\"}  (value after the\n"
"    write; size 4 in 32-bit paging).\n""    With nested, a translation adds \"hpa\" and \"refs\" (entries read:\n"
"    24 for 4-level over 4-level with 4 KiB pages, 35 for 5 over 5;\n"
"    page_size stays the guest's); a VM exit is one of\n"
"      {\"gva\", \"ok\": false, \"exit\": \"ept_violation\", \"qualification\",\n"
"       \"gpa\", \"gla\"}  (gla only when qualification bit 7 is set)\n"
"      {\"gva\", \"ok\": false, \"exit\": \"ept_misconfig\", \"gpa\"}\n"
"      {\"gva\", \"ok\": false, \"exit\": \"npf\", \"exitinfo1\", \"exitinfo2\"}\n"
"    guest faults are as above, and W is {\"hpa\", \"size\", \"value\",\n"
"    \"table\"}: table \"guest\" for the guest's A/D, \"ept\" or \"npt\" for\n"
"    the nested tables' A/D. --trace lists the guest's entries (gpa).\n""    With backend \"shadow\", the guest-visible outcome: a translation is\n"
"      {\"gva\", \"ok\": true, \"gpa\", \"hpa\"}  (hpa: the host address the\n"
"    shadow mapped, gpa: the p2m's name for it; no page_size: the shadow's\n"
"    leaves are 4 KiB whatever the guest's page size), faults are as\n"
"    above, and an access handed to the VMM is\n"
"      {\"gva\", \"ok\": false, \"exit\": \"mmio\"|\"hole\"|\"rom\", \"gpa\"}\n"
"    named by the p2m at gpa: the final page, or the page-table entry\n"
"    the guest walk could not read (\"rom\": a write to ROM). W is as in\n"
"    plain vmmu walk (gpa, size, value after the write, in page order of\n"
"    each access). The object adds\n"
"      \"shadow\": {\"fills\": N, \"emulated_writes\": N, \"exits\": N}\n"
"    (shadow #PFs resolved by a fill, writes to page tables emulated, VM\n"
"    exits of all kinds). The outcome equals plain vmmu walk composed\n"
"    with the p2m (tests/walk/walk_shadow.py checks it case by case).\n"
"\n"
"EXIT STATUS\n"
"    0  every case ran (faults are results, not failures)\n"
"    1  the walker (or, with backend, vmmu) failed unexpectedly (message\n"
"       on stderr)\n"
"    2  bad usage or malformed input (message on stderr naming the problem;\n"
"       with backend also an unknown backend, a bad or overlapping p2m\n"
"       range, memory outside RAM/ROM, --trace)\n"
"\n"
"EXAMPLES\n"
"    vmmu walk --case examples/walk-4level.json --pretty\n"
"    vmmu walk --case examples/walk-pae.json --trace\n"
"    vmmu walk --case examples/walk-ept.json --pretty\n""    jq '. + {backend: \"shadow\"}' examples/walk-4level.json |\n"
"        vmmu walk --case - --pretty\n"
"    generate-cases | vmmu walk --case - > results.json\n",
	      out);
}

/* The A/D update log: one {"gpa", "size", "value"} per write, in order. */
static void log_write(void *ctx, uint64_t gpa, size_t len, uint64_t val)
{
	json_t *w = json_pack("{s:o,s:i,s:o}", "gpa", cli_hex(gpa), "size",
			      (int)len, "value", cli_hex(val));

	if (w)
		json_array_append_new(ctx, w);
}

/* ---- running a case ---- */

struct walk_opts {
	bool pretty, trace;
};

/*
 * Parse and run one case. Returns the output object, or NULL with err set;
 * *status is 2 for malformed input, 1 for a walker failure.
 */
static json_t *run_case(const json_t *c, const struct walk_opts *o, char *err,
			int *status)
{
	struct vmmu_gmem gm;
	struct walk_case wc;
	struct vmmu_walk_result res;
	json_t *results = NULL, *out = NULL, *writes;
	size_t i;
	int rc;

	*status = 2;
	if (walk_case_parse_nested(c, &wc, err) < 0)
		return NULL;
	if (wc.backend || wc.p2m) {
		out = walk_shadow_run(&wc, o->trace, err, status);
		walk_case_free(&wc);
		return out;
	}
	if (wc.nested) {
		out = walk_nested_run(&wc, o->trace, err, status);
		walk_case_free(&wc);
		return out;
	}
	writes = json_array();
	wc.mem.on_write = log_write;
	wc.mem.write_ctx = writes;
	gm = guest_mem_gmem(&wc.mem);
	/* MOV to CR3: PAE loads the PDPTEs; a #GP shows in every result. */
	rc = vmmu_paging_load_pdptes(&wc.ps, &gm);
	if (rc < 0 && rc != VMMU_EINVAL) {
		snprintf(err, WALK_CASE_ERRLEN, "loading PDPTEs: %s",
			 vmmu_strerror(rc));
		*status = 1;
		goto done;
	}
	results = json_array();
	for (i = 0; results && i < wc.nacc; i++) {
		rc = vmmu_walk(&wc.ps, &gm, &wc.acc[i], &res);
		if (rc < 0) {
			snprintf(err, WALK_CASE_ERRLEN, "accesses[%zu]: walk "
				 "failed: %s", i, vmmu_strerror(rc));
			*status = 1;
			goto done;
		}
		json_array_append_new(results, walk_result_json(&wc.acc[i], &res,
								 o->trace));
	}
	out = json_pack("{s:O,s:O}", "results", results, "memory_writes", writes);
	if (!out) {
		snprintf(err, WALK_CASE_ERRLEN, "out of memory");
		*status = 1;
	}
done:
	json_decref(results);
	json_decref(writes);
	walk_case_free(&wc);
	return out;
}

static int run_input(const json_t *root, const struct walk_opts *o)
{
	char err[WALK_CASE_ERRLEN] = "";
	json_t *out, *one;
	size_t i;
	int status = 0, rc;

	if (json_is_object(root)) {
		out = run_case(root, o, err, &status);
		if (!out) {
			fprintf(stderr, "vmmu walk: %s\n", err);
			return status;
		}
	} else if (json_is_array(root)) {
		out = json_array();
		for (i = 0; out && i < json_array_size(root); i++) {
			one = run_case(json_array_get(root, i), o, err, &status);
			if (!one) {
				fprintf(stderr, "vmmu walk: case %zu: %s\n", i, err);
				json_decref(out);
				return status;
			}
			json_array_append_new(out, one);
		}
	} else {
		fprintf(stderr, "vmmu walk: the input must be a case object or an "
			"array of cases\n");
		return 2;
	}
	rc = out ? cli_print_json(out, o->pretty) : -1;
	json_decref(out);
	if (rc < 0) {
		fprintf(stderr, "vmmu walk: cannot write the output\n");
		return 1;
	}
	return 0;
}

int cmd_walk(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "case", required_argument, NULL, 'c' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "trace", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct walk_opts o = { false, false };
	const char *path = NULL;
	json_t *root;
	char opt[8];
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'p': o.pretty = true; break;
		case 't': o.trace = true; break;
		case 'j': break;
		case 'h': walk_usage(stdout); return 0;
		default:
			fprintf(stderr, "vmmu walk: unknown or incomplete option "
				"'%s' (see vmmu walk --help)\n",
				cli_bad_option(argv, opt, sizeof(opt)));
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmmu walk: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!path) {
		fprintf(stderr, "vmmu walk: --case FILE is required (see vmmu walk "
			"--help)\n");
		return 2;
	}
	root = cli_load_json("walk", path);
	if (!root)
		return 2;
	rc = run_input(root, &o);
	json_decref(root);
	return rc;
}
