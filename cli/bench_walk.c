/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench walk: how long one guest page-table walk takes in each paging
 * mode (no TLB: every call reads every level), and what the precomputed
 * paging role saves compared with rebuilding it on every walk.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "cli_json.h"
#include "host/hosted.h"
#include "vmmu/error.h"
#include "vmmu/vm.h"
#include "vmmu/walk.h"

const char bench_walk_summary[] = "guest page-table walk cost per paging mode";

#define BW_RAM      (8ULL << 20)
#define BW_CR3      0x1000ULL
#define BW_PAGES    512         /* 4 KiB pages mapped per mode */
#define BW_GVA      0x40000000ULL
#define BW_ROUNDS   5           /* rounds per mode; the fastest counts */

static void bench_walk_usage(FILE *out)
{
	fputs(
"NAME\n"
"    vmmu bench walk - time the guest page-table walker per paging mode\n"
"\n"
"SYNOPSIS\n"
"    vmmu bench walk [--quick] [--walks N] [--json]\n"
"\n"
"DESCRIPTION\n"
"    Builds guest page tables in a VM's RAM (hosted arena) mapping 512\n"
"    pages in each mode (32-bit, PAE, 4-level with 4 KiB and 2 MiB pages,\n"
"    5-level), with A/D bits already set so no walk writes, and times N\n"
"    user-mode reads spread over the pages in a fixed pseudo-random\n"
"    order, in 5 rounds, and reports the fastest round (the machine may\n"
"    be shared). The row 4level-stale-role walks with a role that does not\n"
"    match the registers, so every walk rebuilds the permission tables and\n"
"    reserved-bit masks: the difference is what the precomputation saves.\n"
"    Single-threaded; the numbers are wall-clock (CLOCK_MONOTONIC).\n"
"\n"
"OPTIONS\n"
"    --quick     100000 walks per round (a smoke test; --walks wins)\n"
"    --walks N   walks per round (default 1000000)\n"
"    --json      machine-readable output\n"
"    -h, --help  this text\n"
"\n"
"OUTPUT\n"
"    One line per mode: ns per walk and walks per second. With --json:\n"
"    {\"walks\": N, \"modes\": [{\"mode\": \"...\", \"ns_per_walk\": x,\n"
"     \"walks_per_second\": y}, ...]}\n"
"\n"
"EXIT STATUS\n"
"    0 measured, 1 measurement failed, 2 bad usage.\n"
"\n"
"EXAMPLES\n"
"    vmmu bench walk\n"
"    vmmu bench walk --walks 10000000 --json\n",
	      out);
}

struct bw_mode {
	const char *name;
	uint64_t cr0, cr4, efer;
	unsigned leaf_level;    /* 1: 4 KiB pages, 2: 2 MiB pages */
	bool stale_role;
};

static const struct bw_mode bw_modes[] = {
	{ "2level", 0x80010011, 0, 0, 1, false },
	{ "pae", 0x80010011, X86_CR4_PAE, X86_EFER_NXE, 1, false },
	{ "4level", 0x80010011, X86_CR4_PAE, 0xd00, 1, false },
	{ "4level-2m", 0x80010011, X86_CR4_PAE, 0xd00, 2, false },
	{ "5level", 0x80010011, X86_CR4_PAE | X86_CR4_LA57, 0xd00, 1, false },
	{ "4level-stale-role", 0x80010011, X86_CR4_PAE, 0xd00, 1, true },
};

struct bw_ctx {
	struct vmmu_vm *vm;
	uint64_t next_table;
};

/* Write one entry of the walk to gva, allocating tables as needed. */
static int bw_map(struct bw_ctx *c, const struct vmmu_paging_state *ps,
		  uint64_t gva, unsigned leaf_level, uint64_t pa)
{
	enum vmmu_paging_mode m = vmmu_paging_mode(ps);
	unsigned top = m == VMMU_PAGING_2LEVEL ? 2 : m == VMMU_PAGING_PAE ? 3 :
		       m == VMMU_PAGING_5LEVEL ? 5 : 4;
	unsigned bits = m == VMMU_PAGING_2LEVEL ? 10 : 9;
	size_t esz = m == VMMU_PAGING_2LEVEL ? 4 : 8;
	uint64_t table = BW_CR3, flags = X86_PTE_P | X86_PTE_RW | X86_PTE_US |
					X86_PTE_A | X86_PTE_D;
	unsigned level;

	for (level = top;; level--) {
		uint64_t idx = (gva >> (12 + bits * (level - 1))) &
			       ((1ULL << bits) - 1);
		uint64_t e = 0, egpa;
		int rc;

		if (m == VMMU_PAGING_PAE && level == 3)
			idx = (gva >> 30) & 3;
		egpa = table + idx * esz;
		if (level == leaf_level) {
			e = pa | flags | (level > 1 ? X86_PTE_PS : 0);
			return vmmu_vm_write_gpa(c->vm, mk_gpa(egpa), &e, esz);
		}
		rc = vmmu_vm_read_gpa(c->vm, mk_gpa(egpa), &e, esz);
		if (rc < 0)
			return rc;
		if (!(e & X86_PTE_P)) {
			if (c->next_table + VMMU_PAGE_SIZE > BW_RAM)
				return VMMU_ENOSPC;
			/* PAE PDPTEs have only P among these bits (Table 4-8). */
			e = c->next_table | (m == VMMU_PAGING_PAE && level == 3 ?
					     X86_PTE_P : flags);
			c->next_table += VMMU_PAGE_SIZE;
			rc = vmmu_vm_write_gpa(c->vm, mk_gpa(egpa), &e, esz);
			if (rc < 0)
				return rc;
		}
		table = e & 0xffffff000ULL;
	}
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Time n walks in mode md; *ns_per_walk on success. */
static int bw_run(struct vmmu_vm *vm, const struct bw_mode *md, uint64_t n,
		  double *ns_per_walk)
{
	struct bw_ctx c = { vm, 0x10000 };
	struct vmmu_paging_state ps;
	struct vmmu_gmem mem;
	struct vmmu_access acc = { mk_gva(0), VMMU_ACCESS_READ, 3, false };
	struct vmmu_walk_result res;
	uint64_t i, page_span = md->leaf_level == 2 ? 2ULL << 20 : 4096;
	uint32_t lcg = 12345;
	uint8_t zero[VMMU_PAGE_SIZE] = { 0 };
	double t0;
	unsigned r;
	int rc;

	for (i = 0; i < BW_RAM / VMMU_PAGE_SIZE; i++)
		vmmu_vm_write_gpa(vm, mk_gpa(i * VMMU_PAGE_SIZE), zero, sizeof(zero));
	memset(&ps, 0, sizeof(ps));
	ps.cr0 = md->cr0;
	ps.cr3 = BW_CR3;
	ps.cr4 = md->cr4;
	ps.efer = md->efer;
	ps.rflags = 2;
	ps.maxphyaddr = 40;
	vmmu_paging_update(&ps);
	vmmu_vm_gmem(vm, &mem);
	for (i = 0; i < BW_PAGES; i++) {
		rc = bw_map(&c, &ps, BW_GVA + i * page_span, md->leaf_level,
			    0x100000000ULL + i * page_span);
		if (rc < 0)
			return rc;
	}
	if (vmmu_paging_load_pdptes(&ps, &mem) < 0)
		return VMMU_EINVAL;
	if (md->stale_role)
		ps.role.key = 0;
	*ns_per_walk = 0;
	/* The fastest of several rounds: the machine is shared. */
	for (r = 0; r < BW_ROUNDS; r++) {
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			lcg = lcg * 1664525u + 1013904223u;
			acc.gva = mk_gva(BW_GVA + (lcg >> 23) * page_span +
					 (i & 0xff8));
			rc = vmmu_walk(&ps, &mem, &acc, &res);
			if (rc < 0 || !res.ok)
				return rc < 0 ? rc : VMMU_EINVAL;
		}
		t0 = (now_ns() - t0) / (double)n;
		if (r == 0 || t0 < *ns_per_walk)
			*ns_per_walk = t0;
	}
	return 0;
}

static int bw_parse(int argc, char **argv, uint64_t *walks, bool *json)
{
	static const struct option longopts[] = {
		{ "walks", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned n;
	char opt[8];
	bool quick = false, given = false;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			/* Decimal only: strtoull would take "-1" or "010". */
			if (bench_parse_count(optarg, 1, 1000000000U, &n) < 0) {
				fprintf(stderr, "vmmu bench walk: --walks must be "
					"1..1000000000\n");
				return 2;
			}
			*walks = n;
			given = true;
			break;
		case 'q': quick = true; break;
		case 'j': *json = true; break;
		case 'h': bench_walk_usage(stdout); return 0;
		default:
			fprintf(stderr, "vmmu bench walk: unknown or incomplete "
				"option '%s'\n",
				cli_bad_option(argv, opt, sizeof(opt)));
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmmu bench walk: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (quick && !given)
		*walks = 100000;
	return -1;
}

int bench_walk(int argc, char **argv)
{
	struct vmmu_hosted_arena *arena = NULL;
	struct vmmu_platform plat;
	struct vmmu_vm *vm = NULL;
	uint64_t walks = 1000000;
	bool json = false;
	json_t *out = NULL, *arr = NULL;
	size_t i;
	int rc;

	rc = bw_parse(argc, argv, &walks, &json);
	if (rc >= 0)
		return rc;
	rc = vmmu_hosted_create(BW_RAM + (4ULL << 20), &arena);
	if (rc == 0) {
		vmmu_hosted_platform(arena, &plat);
		rc = vmmu_vm_create(&plat, &vm);
	}
	if (rc == 0)
		rc = vmmu_vm_add_slot(vm, mk_gpa(0), BW_RAM, VMMU_MEM_RAM);
	arr = json_array();
	for (i = 0; rc == 0 && arr && i < sizeof(bw_modes) / sizeof(bw_modes[0]); i++) {
		double ns = 0;

		fprintf(stderr, "vmmu bench walk: %s...\n", bw_modes[i].name);
		rc = bw_run(vm, &bw_modes[i], walks, &ns);
		if (rc == 0)
			json_array_append_new(arr, json_pack("{s:s,s:f,s:f}",
				"mode", bw_modes[i].name, "ns_per_walk", ns,
				"walks_per_second", 1e9 / ns));
	}
	if (rc < 0 || !arr) {
		fprintf(stderr, "vmmu bench walk: %s\n",
			vmmu_strerror(rc < 0 ? rc : VMMU_ENOMEM));
		rc = 1;
	} else if (json) {
		out = json_pack("{s:I,s:O}", "walks", (json_int_t)walks, "modes", arr);
		rc = out && cli_print_json(out, false) == 0 ? 0 : 1;
	} else {
		printf("%-20s %12s %14s\n", "mode", "ns/walk", "walks/s");
		for (i = 0; i < json_array_size(arr); i++) {
			json_t *m = json_array_get(arr, i);

			printf("%-20s %12.1f %14.0f\n",
			       json_string_value(json_object_get(m, "mode")),
			       json_real_value(json_object_get(m, "ns_per_walk")),
			       json_real_value(json_object_get(m, "walks_per_second")));
		}
	}
	json_decref(out);
	json_decref(arr);
	vmmu_vm_destroy(vm);
	vmmu_hosted_destroy(arena);
	return rc;
}
