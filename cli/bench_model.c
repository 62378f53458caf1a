/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench model: the cost of the MMU model's access path on this
 * machine: a TLB hit, a cold guest walk (TLB and paging-structure caches
 * missing) and a walk shortened by a PDE-cache hit, each against a plain
 * array read measured in the same run.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "bench_model.h"
#include "cli_json.h"
#include "core/pgtable.h"
#include "core/tlb.h"
#include "host/hosted.h"
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "vmmu/p2m.h"

const char bench_model_summary[] =
	"cost of the MMU model: TLB hit, walks, exits (direct, EPT, NPT, shadow)";


static void bench_model_usage(FILE *out)
{
	fputs(
"NAME\n"
"    vmmu bench model - time the MMU model's access path\n"
"\n"
"SYNOPSIS\n"
"    vmmu bench model [--accesses N] [--quick] [--json]\n"
"\n"
"DESCRIPTION\n"
"    Builds a VM with the direct backend (no second level), 4-level guest\n"
"    page tables mapping 512 pages of one page table, and times\n"
"    vmmu_vcpu_access() reads (8 bytes, CPL 3) in a fixed pseudo-random\n"
"    order in four cases:\n"
"      tlb-hit     32 pages that stay in the vCPU's default TLB: every\n"
"                  access is a hit (a lookup plus the copy);\n"
"      cold-walk   a vCPU whose TLB holds one entry and whose paging-\n"
"                  structure caches are absent: every access walks all\n"
"                  four levels from CR3;\n"
"      pwc-walk    the same one-entry TLB with the default caches: every\n"
"                  access misses the TLB and starts the walk from the\n"
"                  PDE cache (one reference);\n"
"      tlb-hit-batch  tlb-hit through vmmu_vcpu_access_batch(), 64 ops\n"
"                  per call (the same accesses, counters and guest-mode\n"
"                  window per access; the call paid once per 64).\n"
"    The ept-* rows run the same guest on an EPT VM with 4 KiB host\n"
"    blocks (cli/model_ept.c): ept-tlb-hit, ept-cold-walk (a full 2-D\n"
"    walk, 24 references), ept-pwc-walk (guest and nested caches and the\n"
"    guest-physical TLB on) and ept-violation (a write to a log-dirty\n"
"    page: walk, EPT violation, handler, retry), ept-recalc-pt (the\n"
"    misconfiguration exit recalculating one leaf table), ept-start-1g and\n"
"    ept-start-1t (starting a type change of a whole 1 GiB / 1 TiB guest).\n"
"    The npt-* rows are the same on an NPT VM (cli/model_npt.c), with\n"
"    npt-cold-walk-5 (a 5-level guest over 5-level nested tables, 35\n"
"    references), npt-npf-logdirty (#NPF on a log-dirty page) and\n"
"    npt-recalc-pt (the #NPF that recalculates one leaf table).\n"
"    Their last column counts exits per access, leaves per recalculation\n"
"    and entries marked per start.\n"
"    The shadow-* rows run the guest on a shadow-paging VM\n"
"    (cli/model_shadow.c): shadow-tlb-hit, shadow-cold-walk (4 references\n"
"    of the shadow tables), shadow-pwc-walk, shadow-fill (a first access\n"
"    to a page whose page table is shadowed: #PF exit, guest walk, fill,\n"
"    retry), shadow-ptwrite-hit and shadow-ptwrite-miss (a guest PTE write\n"
"    trapped, run by the shared emulator with its decode cache hitting or\n"
"    missing, revalidated), shadow-cr3-warm (MOV to CR3 between two warm\n"
"    address spaces), shadow-oos-resync (one out-of-sync L1 brought\n"
"    back on INVLPG, 4 entries changed) and shadow-prefetch16\n"
"    (shadow-fill with vmmu_shadow_set_prefetch(16): one fill per 16\n"
"    pages, the other 15 propagated with it). Their last column counts exits\n"
"    per access, root switches per MOV to CR3 and entries per resync.\n"
"    The shadow-ld-* and shadow-rearm-* rows (cli/model_shadow_dirty.c)\n"
"    run with the dirty log on: shadow-ld-write (the first write to a page\n"
"    after a clean: #PF exit, mark, leaf made writable, retry),\n"
"    shadow-rearm-rmap and shadow-rearm-drop (the re-arm hook for 512\n"
"    reported pages through the reverse map, or dropping every leaf; ns\n"
"    per page) and shadow-ld-start (enabling the log: every writable leaf\n"
"    write-protected). Their last column counts exits per write, leaves\n"
"    per page re-armed, pool pages in use, leaves per start.\n"
"    The baseline is a plain read of a host array in the same order,\n"
"    measured in the same run; each case is reported as ns per access and\n"
"    as a ratio to the baseline, the fastest of 7 rounds (the machine may\n"
"    be shared). The counters (hits, references per access) are checked\n"
"    against what each case must give, so a figure is never of the wrong\n"
"    path. Single-threaded; times are the thread's CPU time\n"
"    (CLOCK_THREAD_CPUTIME_ID), so other load on a shared machine is not\n"
"    counted, though it still disturbs caches.\n"
"\n"
"OPTIONS\n"
"    --accesses N  accesses per round (default 2000000, 1..1000000000)\n"
"    --quick       200000 accesses per round (a few seconds in all)\n"
"    --json        machine-readable output\n"
"    -h, --help    this text\n"
"\n"
"OUTPUT\n"
"    One line per case: ns per access, accesses per second, ratio to the\n"
"    array read, guest-walk references per access. With --json:\n"
"    {\"machine\": {...}, \"accesses\": N, \"baseline_ns\": x, \"cases\":\n"
"     [{\"case\": \"tlb-hit\", \"ns_per_access\": x, \"accesses_per_second\":\n"
"       y, \"ratio_to_array_read\": r, \"refs_per_access\": z}, ...]}\n"
"\n"
"EXIT STATUS\n"
"    0 measured, 1 a measurement failed, 2 bad usage.\n"
"\n"
"EXAMPLES\n"
"    vmmu bench model\n"
"    vmmu bench model --quick --json\n",
	      out);
}

double bm_now_ns(void)
{
	struct timespec ts;

	/* Thread CPU time: on a shared machine, time other work took is not
	 * counted (the ratios to the array read are what to quote). */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* 4-level map of one 4 KiB page, A/D already set so walks do not write
 * (tables made on the way come from b->next_table). */
int bm_map(struct bm *b, uint64_t gva, uint64_t pa)
{
	uint64_t table = BM_CR3, flags = X86_PTE_P | X86_PTE_RW | X86_PTE_US |
					 X86_PTE_A | X86_PTE_D;
	unsigned level;
	int rc;

	for (level = 4; level > 1; level--) {
		uint64_t egpa = table + ((gva >> (12 + 9 * (level - 1))) & 511) * 8;
		uint64_t e = 0;

		rc = vmmu_vm_read_gpa(b->vm, mk_gpa(egpa), &e, 8);
		if (rc < 0)
			return rc;
		if (!(e & X86_PTE_P)) {
			e = b->next_table | flags;
			b->next_table += VMMU_PAGE_SIZE;
			rc = vmmu_vm_write_gpa(b->vm, mk_gpa(egpa), &e, 8);
			if (rc < 0)
				return rc;
		}
		table = e & X86_PTE_ADDR_MASK;
	}
	pa |= flags;
	return vmmu_vm_write_gpa(b->vm, mk_gpa(table + ((gva >> 12) & 511) * 8),
				 &pa, 8);
}

int bm_setup(struct bm *b)
{
	uint8_t zero[VMMU_PAGE_SIZE] = { 0 };
	uint64_t i;
	int rc = vmmu_hosted_create(BM_RAM + (4ULL << 20), &b->arena);

	if (rc < 0)
		return rc;
	vmmu_hosted_platform(b->arena, &b->plat);
	rc = vmmu_vm_create(&b->plat, &b->vm);
	if (rc == 0)
		rc = b->ops ? vmmu_vm_set_backend(b->vm, b->kind, b->ops) :
		     vmmu_vm_set_backend(b->vm, VMMU_BACKEND_NONE,
					 &vmmu_backend_direct);
	if (rc == 0) {
		struct vmmu_slot_desc d = {
			.base = mk_gpa(0), .size = BM_RAM, .type = VMMU_MEM_RAM,
			.max_order = b->small_pages ? VMMU_ORDER_4K : VMMU_ORDER_1G,
			.memtype = VMMU_MEMTYPE_DEFAULT,
		};

		rc = vmmu_vm_add_slot_ex(b->vm, &d);
	}
	b->next_table = 0x2000;
	for (i = 0; rc == 0 && i < BM_PAGES; i++) {
		rc = bm_map(b, BM_GVA + i * VMMU_PAGE_SIZE,
			    BM_DATA + i * VMMU_PAGE_SIZE);
		if (rc == 0)    /* back the data, so no access exits */
			rc = vmmu_vm_write_gpa(b->vm, mk_gpa(BM_DATA + i *
					       VMMU_PAGE_SIZE), zero, sizeof(zero));
	}
	return rc;
}

/* A vCPU in 4-level paging with the given TLB (NULL: the defaults). */
int bm_vcpu(struct bm *b, const struct vmmu_tlb_config *cfg,
		   struct vmmu_vcpu **out)
{
	struct vmmu_vcpu *v;
	int rc = vmmu_vcpu_create(b->vm, &v);

	if (rc == 0 && cfg)
		rc = vmmu_vcpu_tlb_configure(v, cfg);
	if (rc < 0)
		return rc;
	v->paging.cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	v->paging.cr4 = X86_CR4_PAE;
	v->paging.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	v->paging.maxphyaddr = 40;
	rc = vmmu_vcpu_set_cr(v, VMMU_CR0, v->paging.cr0);
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(v, VMMU_CR3, BM_CR3);
	*out = v;
	return rc;
}

/* A TLB of one entry; paging-structure caches absent or default. */
int bm_tiny_tlb(struct vmmu_tlb_config *cfg, bool pwc)
{
	unsigned i;
	int rc = vmmu_tlb_config_default(cfg, VMMU_TLB_PROFILE_INTEL);

	if (rc < 0)
		return rc;
	for (i = 0; i < VMMU_TLB_NARRAY; i++)
		cfg->tlb[i].sets = cfg->tlb[i].ways = 0;
	cfg->tlb[VMMU_TLB_L1D_4K].sets = cfg->tlb[VMMU_TLB_L1D_4K].ways = 1;
	if (!pwc)
		for (i = 0; i < VMMU_TLB_PWC_LEVELS; i++)
			cfg->pwc[i].sets = cfg->pwc[i].ways = 0;
	return vmmu_tlb_config_check(cfg);
}

uint64_t bm_gva(uint32_t *lcg, unsigned pages, uint64_t i)
{
	*lcg = *lcg * 1664525u + 1013904223u;
	return BM_GVA + ((*lcg >> 8) & (pages - 1)) * VMMU_PAGE_SIZE + (i & 0xff8);
}

/*
 * One timed pass of n accesses: one vmmu_vcpu_access() each (batch 0) or
 * vmmu_vcpu_access_batch() with batch ops per call, each op built in the
 * timed loop either way. ns per access, or a negative vmmu_err.
 */
#define BM_BATCH 64
static double bm_pass(struct vmmu_vcpu *v, unsigned pages, uint64_t n,
		      unsigned batch, uint32_t *lcg)
{
	struct vmmu_op ops[BM_BATCH];
	struct vmmu_access_result res;
	uint64_t data, i;
	double t0 = bm_now_ns();
	size_t done;
	unsigned k;
	int rc;

	for (k = 0; k < BM_BATCH; k++)
		ops[k] = (struct vmmu_op){ .acc = { mk_gva(0), VMMU_ACCESS_READ,
						    3, false },
					   .size = 8, .data = &data };
	for (i = 0; i < n && !batch; i++) {
		ops[0].acc.gva = mk_gva(bm_gva(lcg, pages, i));
		rc = vmmu_vcpu_access(v, &ops[0], &res);
		if (rc < 0 || res.status != VMMU_ACCESS_DONE)
			return rc < 0 ? rc : VMMU_EINVAL;
	}
	for (i = 0; i < n && batch; i += k) {
		for (k = 0; k < batch && i + k < n; k++)
			ops[k].acc.gva = mk_gva(bm_gva(lcg, pages, i + k));
		rc = vmmu_vcpu_access_batch(v, ops, k, &res, &done);
		if (rc < 0 || done != k)
			return rc < 0 ? rc : VMMU_EINVAL;
	}
	return (bm_now_ns() - t0) / (double)n;
}

/* Time n accesses of one case (batch as bm_pass); the fastest round. */
static int bm_time_ops(struct vmmu_vcpu *v, struct bm_case *c, uint64_t n,
		       unsigned batch)
{
	uint64_t refs0 = v->stats.guest_walk_refs + v->stats.nested_walk_refs;
	uint64_t hits0 = v->stats.tlb_hits, acc0 = v->stats.accesses;
	uint32_t lcg = 12345;
	unsigned r;

	for (r = 0; r < BM_ROUNDS; r++) {
		double t = bm_pass(v, c->pages, n, batch, &lcg);

		if (t < 0)
			return (int)t;
		if (r == 0 || t < c->ns)
			c->ns = t;
	}
	c->accesses = v->stats.accesses - acc0;
	c->hits = v->stats.tlb_hits - hits0;
	c->refs_per_access = (double)(v->stats.guest_walk_refs +
				      v->stats.nested_walk_refs - refs0) /
			     (double)c->accesses;
	return VMMU_OK;
}

int bm_time(struct vmmu_vcpu *v, struct bm_case *c, uint64_t n)
{
	return bm_time_ops(v, c, n, 0);
}

/* The same index stream over a host array of the same span. */
static double bm_array(uint64_t n, unsigned pages, uint64_t *sink)
{
	uint64_t *arr = calloc(pages, VMMU_PAGE_SIZE), i, sum = 0;
	double best = 0;
	unsigned r;

	if (!arr)
		return -1;
	for (r = 0; r < BM_ROUNDS; r++) {
		uint32_t lcg = 12345;
		double t0 = bm_now_ns();

		for (i = 0; i < n; i++) {
			uint64_t off = bm_gva(&lcg, pages, i) - BM_GVA;

			sum += *(volatile uint64_t *)((uint8_t *)arr + off);
		}
		t0 = (bm_now_ns() - t0) / (double)n;
		if (r == 0 || t0 < best)
			best = t0;
	}
	*sink += sum;
	free(arr);
	return best;
}

/*
 * Each case must be what it claims: all hits, or walks of 4 or 1
 * references (a few TLB hits on a repeated page are allowed).
 */
int bm_check(const struct bm_case *c, bool want_hits, double refs)
{
	if (want_hits && c->hits != c->accesses)
		return VMMU_EINVAL;
	if (!want_hits && (c->refs_per_access < refs * 0.95 ||
			   c->refs_per_access > refs))
		return VMMU_EINVAL;
	return VMMU_OK;
}

/* A cold-walk TLB: one entry, no caches of either dimension. */
int bm_cold_tlb(struct vmmu_tlb_config *cold)
{
	unsigned i;
	int rc = bm_tiny_tlb(cold, false);

	memset(&cold->gpa_tlb, 0, sizeof(cold->gpa_tlb));
	for (i = 0; i < VMMU_TLB_PWC_LEVELS; i++)
		cold->npwc[i].sets = cold->npwc[i].ways = 0;
	return rc;
}

int bm_backend_setup(struct bm *b, const struct vmmu_backend_ops *ops,
		     enum vmmu_backend_kind kind)
{
	memset(b, 0, sizeof(*b));
	b->ops = ops;
	b->kind = kind;
	b->small_pages = true;
	return bm_setup(b);
}

void bm_done(struct bm *b)
{
	vmmu_vm_destroy(b->vm);
	vmmu_hosted_destroy(b->arena);
	b->vm = NULL;
	b->arena = NULL;
}

/* *-start-*: a guest of size with 64 pages touched; time the start. */
int bm_start_case(const struct bm_start_ops *o, struct bm_case *c,
		  uint64_t size, unsigned rounds)
{
	struct vmmu_slot_desc d = { .base = mk_gpa(0), .size = size,
				    .type = VMMU_MEM_RAM, .max_order = VMMU_ORDER_4K,
				    .memtype = VMMU_MEMTYPE_DEFAULT };
	struct vmmu_vcpu *v = NULL;
	struct bm b;
	uint64_t g, marks = 0;
	double total = 0;
	unsigned i;
	int rc;

	memset(&b, 0, sizeof(b));
	rc = vmmu_hosted_create(64ULL << 20, &b.arena);
	if (rc < 0)
		return rc;
	vmmu_hosted_platform(b.arena, &b.plat);
	rc = vmmu_vm_create(&b.plat, &b.vm);
	if (rc == 0)
		rc = vmmu_vm_set_backend(b.vm, o->kind, o->ops);
	if (rc == 0)
		rc = vmmu_vm_add_slot_ex(b.vm, &d);
	if (rc == 0)
		rc = vmmu_vcpu_create(b.vm, &v);
	for (i = 0; rc == 0 && i < rounds; i++) {
		struct vmmu_pt *pt = o->tables(b.vm);
		uint64_t m0;
		double t0;

		/* touch (from round 1 on: resolve the markers on) 64 pages */
		for (g = 0; rc == 0 && g < size; g += size / 64)
			rc = o->touch(v, g, i);
		m0 = pt->stats.marks + pt->stats.recalc_leaves;
		t0 = bm_now_ns();
		if (rc == 0)
			rc = vmmu_vm_set_p2m_type(b.vm, mk_gpa(0), size, i & 1 ?
				VMMU_P2M_RAM_RW : VMMU_P2M_RAM_LOGDIRTY);
		total += bm_now_ns() - t0;
		marks += pt->stats.marks + pt->stats.recalc_leaves - m0;
	}
	c->accesses = rounds;
	c->ns = total / rounds;
	c->refs_per_access = (double)marks / rounds;
	bm_done(&b);
	return rc;
}

/* A warm-up round (first touches, cache fills), then the timed rounds. */
static int bm_time_warm(struct vmmu_vcpu *v, struct bm_case *c, uint64_t warm,
			uint64_t n)
{
	int rc = bm_time(v, c, warm);

	if (rc == 0) {
		c->ns = 0;
		rc = bm_time(v, c, n);
	}
	return rc;
}

int bm_walk_rows(struct bm *b, uint64_t n, const struct bm_walk_want *w,
		 struct bm_case *const rows[3], struct vmmu_vcpu **vp)
{
	struct vmmu_tlb_config cold, pwc;
	struct vmmu_vcpu *hot = NULL, *vc = NULL;
	int rc = bm_cold_tlb(&cold);

	if (rc == 0)
		rc = bm_tiny_tlb(&pwc, true);
	if (rc == 0)
		rc = bm_vcpu(b, NULL, &hot);
	if (rc == 0)
		rc = bm_vcpu(b, &cold, &vc);
	if (rc == 0)
		rc = bm_vcpu(b, &pwc, vp);
	if (rc < 0)
		return rc;
	fprintf(stderr, "vmmu bench model: %s...\n", rows[0]->name);
	/* first touches: a backend with second-level tables fills them */
	rc = bm_time(vc, rows[1], BM_PAGES);
	if (rc == 0)
		rc = bm_time_warm(hot, rows[0], BM_HOT, n);
	if (rc == 0)
		rc = bm_check(rows[0], true, 0);
	if (rc == 0)
		rc = bm_time_warm(vc, rows[1], BM_PAGES, n);
	if (rc == 0)
		rc = bm_check(rows[1], false, w->cold_refs);
	if (rc == 0)            /* the first round fills the caches */
		rc = bm_time_warm(*vp, rows[2], BM_PAGES, n);
	if (rc == 0 && (rows[2]->refs_per_access < w->pwc_lo ||
			rows[2]->refs_per_access > w->pwc_hi))
		rc = VMMU_EINVAL;   /* the caches must cut the walk */
	return rc;
}

static int bm_measure(struct bm *b, uint64_t n, struct bm_case cases[4])
{
	static const struct bm_walk_want want = { 4, 0.95, 1 };
	struct bm_case *rows[3] = { &cases[0], &cases[1], &cases[2] };
	struct vmmu_vcpu *vp = NULL, *hot = NULL;
	int rc = bm_setup(b);

	if (rc == 0)
		rc = bm_walk_rows(b, n, &want, rows, &vp);
	if (rc == 0)
		rc = bm_vcpu(b, NULL, &hot);
	if (rc == 0) {
		fprintf(stderr, "vmmu bench model: %s...\n", cases[3].name);
		rc = bm_time_ops(hot, &cases[3], BM_HOT, BM_BATCH);    /* warm-up */
	}
	if (rc == 0) {
		cases[3].ns = 0;
		rc = bm_time_ops(hot, &cases[3], n, BM_BATCH);
	}
	return rc == 0 ? bm_check(&cases[3], true, 0) : rc;
}

static int bm_parse(int argc, char **argv, uint64_t *n, bool *json)
{
	static const struct option longopts[] = {
		{ "accesses", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned v;
	char opt[8];
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (bench_parse_count(optarg, 1, 1000000000U, &v) < 0) {
				fprintf(stderr, "vmmu bench model: --accesses must "
					"be 1..1000000000\n");
				return 2;
			}
			*n = v;
			break;
		case 'q': *n = 200000; break;
		case 'j': *json = true; break;
		case 'h': bench_model_usage(stdout); return 0;
		default:
			fprintf(stderr, "vmmu bench model: unknown or incomplete "
				"option '%s'\n", cli_bad_option(argv, opt, sizeof(opt)));
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmmu bench model: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	return -1;
}

static void bm_print(const struct bench_sysinfo *si, uint64_t n, double base,
		     const struct bm_case *cases, unsigned ncases, bool json)
{
	json_t *arr = json_array(), *out;
	unsigned i;

	for (i = 0; i < ncases; i++)
		json_array_append_new(arr, json_pack("{s:s,s:f,s:f,s:f,s:f}",
			"case", cases[i].name, "ns_per_access", cases[i].ns,
			"accesses_per_second", 1e9 / cases[i].ns,
			"ratio_to_array_read", cases[i].ns / base,
			"refs_per_access", cases[i].refs_per_access));
	if (json) {
		out = json_pack("{s:o,s:I,s:f,s:o}", "machine", bench_sysinfo_json(si),
				"accesses", (json_int_t)n, "baseline_ns", base,
				"cases", arr);
		cli_print_json(out, false);
		json_decref(out);
		return;
	}
	printf("cpu: %s (family %d model %#x)\n", si->cpu_brand, si->family,
	       si->model);
	printf("array read (baseline): %.2f ns\n", base);
	printf("%-19s %10s %14s %10s %10s\n", "case", "ns/access", "accesses/s",
	       "x array", "refs/acc");
	for (i = 0; i < ncases; i++)
		printf("%-19s %10.2f %14.0f %10.1f %10.2f\n", cases[i].name,
		       cases[i].ns, 1e9 / cases[i].ns, cases[i].ns / base,
		       cases[i].refs_per_access);
	json_decref(arr);
}

#define BM_ALL_CASES (4 + BM_EPT_CASES + BM_NPT_CASES + BM_SHADOW_CASES + \
		      BM_SHADOW_LD_CASES)

int bench_model(int argc, char **argv)
{
	struct bm_case cases[BM_ALL_CASES] = {
		{ .name = "tlb-hit", .pages = BM_HOT },
		{ .name = "cold-walk", .pages = BM_PAGES },
		{ .name = "pwc-walk", .pages = BM_PAGES },
		{ .name = "tlb-hit-batch", .pages = BM_HOT },
	};
	struct bench_sysinfo si;
	struct bm b;
	uint64_t n = 2000000, sink = 0;
	bool json = false;
	double base;
	int rc = bm_parse(argc, argv, &n, &json);

	if (rc >= 0)
		return rc;
	memset(&b, 0, sizeof(b));
	bench_sysinfo_get(&si);
	fprintf(stderr, "vmmu bench model: array read...\n");
	base = bm_array(n, BM_HOT, &sink);
	rc = base > 0 ? bm_measure(&b, n, cases) : VMMU_ENOMEM;
	if (rc == 0)
		rc = bench_model_ept(n, &cases[4]);
	if (rc == 0)
		rc = bench_model_npt(n, &cases[4 + BM_EPT_CASES]);
	if (rc == 0)
		rc = bench_model_shadow(n, &cases[4 + BM_EPT_CASES + BM_NPT_CASES]);
	if (rc == 0)
		rc = bench_model_shadow_dirty(n, &cases[4 + BM_EPT_CASES +
			BM_NPT_CASES + BM_SHADOW_CASES]);
	if (rc < 0) {
		fprintf(stderr, "vmmu bench model: %s\n", vmmu_strerror(rc));
		rc = 1;
	} else {
		bm_print(&si, n, base, cases, BM_ALL_CASES, json);
	}
	bm_done(&b);
	return sink == 1 ? 3 : rc;  /* keeps the array reads alive */
}
