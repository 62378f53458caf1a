/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench model's shadow rows: the same guest as the other rows on a
 * shadow-paging VM (shadow-fallback/, docs/shadow.md):
 *   shadow-tlb-hit     hits of the TLB (a hit does not walk);
 *   shadow-cold-walk   one TLB entry, no paging-structure caches: every
 *                      access walks the four levels of the shadow tables
 *                      (the hardware side, 1-D over host memory);
 *   shadow-pwc-walk    one TLB entry, the default caches: the shadow walk
 *                      starts from the PDE cache;
 *   shadow-fill        a first access to a page whose page table is
 *                      already shadowed: walk, shadow #PF exit, guest walk,
 *                      fill of the leaf, retry (the shadows are dropped,
 *                      untimed, every BM_PAGES - 1 accesses);
 *   shadow-ptwrite-hit a guest PTE write through a kernel mapping of its
 *                      page table: walk, shadow #PF exit, guest walk, the
 *                      shared emulator runs the guest's MOV (decode cache
 *                      hit), its store revalidates the shadow entry;
 *   shadow-ptwrite-miss the same, the decode cache missing (eight MOVs
 *                      cycled through one four-way set);
 *   shadow-cr3-warm    MOV to CR3 between two address spaces whose root
 *                      shadows are in the pool (nothing is created);
 *   shadow-oos-resync  one out-of-sync L1 brought back on INVLPG: its
 *                      frame diffed against the snapshot, the changed
 *                      entries re-propagated, the frame write-protected
 *                      again (eight L1s per INVLPG, the time divided);
 *   shadow-prefetch16  shadow-fill with vmmu_shadow_set_prefetch(16):
 *                      the first access of each aligned group of 16 pages
 *                      fills and propagates the other 15, which then hit.
 * The last column counts exits per access for the fill and write rows,
 * root switches per MOV to CR3 and entries re-propagated per resync.
 * Each row checks the backend's counters: one fill or one emulated write
 * per timed access, no shadow made by a warm switch, one resync per L1.
 */
#include <stdio.h>
#include <string.h>

#include "bench_model.h"
#include "shadow-fallback/shadow.h"
#include "vmmu/emulate_vcpu.h"
#include "vmmu/error.h"
#include "vmmu/p2m.h"

#define SH_TGVA     (BM_GVA + (1ULL << 30))  /* targets: one PTE per PT */
#define SH_KVA      (BM_GVA + (2ULL << 30))  /* kernel view of gpa 0.. */
#define SH_CODE     (BM_GVA + (3ULL << 30))  /* the guest's MOVs */
#define SH_CODE_GPA 0x700000ULL
#define SH_KSPAN    0x100000ULL              /* gpas the kernel view maps */
#define SH_TARGETS  64                       /* page tables written */
#define SH_OOS_L1S  8                        /* out of sync at once */
#define SH_OOS_ENTS 4                        /* entries changed in each */
#define SH_MOVS     8                        /* MOVs of the miss row */
#define PTE_PRESENT 0x07ULL                  /* P RW US, A and D clear */

struct sh_bench {
	struct bm b;
	struct vmmu_vcpu *v;
	struct vmmu_emu_vcpu ev;
	uint64_t pt[SH_TARGETS];                /* gpa of each target PT */
	uint64_t cr3b;                          /* a second address space */
};

static int sh_stats(struct sh_bench *s, struct vmmu_shadow_stats *st)
{
	return vmmu_shadow_stats(s->b.vm, st);
}

/* The gpa of the level-1 table the guest uses for gva. */
static int guest_pt(struct bm *b, uint64_t gva, uint64_t *out)
{
	uint64_t table = BM_CR3, e = 0;
	unsigned level;
	int rc = 0;

	for (level = 4; rc == 0 && level > 1; level--) {
		rc = vmmu_vm_read_gpa(b->vm, mk_gpa(table + ((gva >> (12 + 9 *
				      (level - 1))) & 511) * 8), &e, 8);
		table = e & X86_PTE_ADDR_MASK;
	}
	*out = table;
	return rc;
}

/* One read or write of 8 bytes at gva by CPL cpl; it must complete. */
static int sh_access(struct vmmu_vcpu *v, uint64_t gva, bool write,
		     unsigned cpl, uint64_t val)
{
	struct vmmu_op op = { .acc = { mk_gva(gva), write ? VMMU_ACCESS_WRITE :
				       VMMU_ACCESS_READ, (uint8_t)cpl, false },
			      .size = 8, .data = &val };
	struct vmmu_access_result res;
	int rc = vmmu_vcpu_access(v, &op, &res);

	return rc == 0 && res.status != VMMU_ACCESS_DONE ? VMMU_EINVAL : rc;
}

/* The MOVs: mov [rdi + 8 * k], rax at SH_CODE + 16 * k (REX.W 89 /r). */
static int sh_code(struct bm *b)
{
	uint8_t code[16 * SH_MOVS];
	unsigned k;

	memset(code, 0x90, sizeof(code));
	for (k = 0; k < SH_MOVS; k++) {
		code[16 * k] = 0x48;
		code[16 * k + 1] = 0x89;
		code[16 * k + 2] = 0x47;
		code[16 * k + 3] = (uint8_t)(8 * k);
	}
	return vmmu_vm_write_gpa(b->vm, mk_gpa(SH_CODE_GPA), code, sizeof(code));
}

/* The guest of the other rows plus targets, kernel view, code, a 2nd CR3. */
static int sh_bench_setup(struct sh_bench *s)
{
	uint8_t pml4[VMMU_PAGE_SIZE];
	uint64_t g;
	unsigned k;
	int rc = bm_backend_setup(&s->b, &vmmu_backend_shadow,
				  VMMU_BACKEND_SHADOW);

	for (k = 0; rc == 0 && k < SH_TARGETS; k++) {
		rc = bm_map(&s->b, SH_TGVA + ((uint64_t)k << 21),
			    BM_DATA + (uint64_t)k * VMMU_PAGE_SIZE);
		if (rc == 0)
			rc = guest_pt(&s->b, SH_TGVA + ((uint64_t)k << 21), &s->pt[k]);
	}
	for (g = 0; rc == 0 && g < SH_KSPAN; g += VMMU_PAGE_SIZE)
		rc = bm_map(&s->b, SH_KVA + g, g);
	if (rc == 0)
		rc = bm_map(&s->b, SH_CODE, SH_CODE_GPA);
	if (rc == 0)
		rc = sh_code(&s->b);
	s->cr3b = s->b.next_table;
	s->b.next_table += VMMU_PAGE_SIZE;
	if (rc == 0 && (s->cr3b >= SH_KSPAN || s->pt[SH_TARGETS - 1] >= SH_KSPAN))
		rc = VMMU_ENOSPC;       /* the kernel view must cover the tables */
	if (rc == 0)
		rc = vmmu_vm_read_gpa(s->b.vm, mk_gpa(BM_CR3), pml4, sizeof(pml4));
	if (rc == 0)
		rc = vmmu_vm_write_gpa(s->b.vm, mk_gpa(s->cr3b), pml4, sizeof(pml4));
	if (rc == 0)
		rc = bm_vcpu(&s->b, NULL, &s->v);
	if (rc == 0)
		rc = vmmu_emu_create(&s->ev.emu);
	if (rc < 0)
		return rc;
	s->ev.mode = 64;
	s->ev.regs.rflags = 2;
	vmmu_emu_vcpu_install(s->v, &s->ev);
	return VMMU_OK;
}

static void sh_bench_done(struct sh_bench *s)
{
	bm_done(&s->b);
	vmmu_emu_destroy(s->ev.emu);
}

/* First accesses: the shadows dropped, one access shadows the path. */
/* prefetch: vmmu_shadow_set_prefetch's group for the row (0: off). */
static int sh_fill_case(struct sh_bench *s, struct bm_case *c, uint64_t n,
			unsigned prefetch)
{
	struct vmmu_shadow_stats a, z;
	uint64_t done = 0, i, exits0, exits = 0;
	/* a fill per access, or per group the access is the first of */
	uint64_t fills = prefetch ? BM_PAGES / prefetch - 1 : BM_PAGES - 1;
	double total = 0;
	int rc = vmmu_shadow_set_prefetch(s->b.vm, prefetch);

	while (rc == 0 && done < n) {
		double t0;

		rc = vmmu_vm_set_p2m_type(s->b.vm, mk_gpa(BM_DATA), BM_PAGES *
					  VMMU_PAGE_SIZE, VMMU_P2M_RAM_RW);
		if (rc == 0)
			rc = sh_access(s->v, BM_GVA, false, 3, 0);
		if (rc == 0)
			rc = sh_stats(s, &a);
		exits0 = s->v->stats.exits;
		t0 = bm_now_ns();
		for (i = 1; rc == 0 && i < BM_PAGES; i++)
			rc = sh_access(s->v, BM_GVA + i * VMMU_PAGE_SIZE, false, 3, 0);
		total += bm_now_ns() - t0;
		exits += s->v->stats.exits - exits0;
		if (rc == 0)
			rc = sh_stats(s, &z);
		/* the fills expected, no shadow made, an exit per fill */
		if (rc == 0 && (z.fills - a.fills != fills ||
				z.shadows_created != a.shadows_created ||
				s->v->stats.exits - exits0 != fills))
			rc = VMMU_EINVAL;
		done += BM_PAGES - 1;
	}
	c->accesses = done;
	c->ns = total / (double)done;
	c->refs_per_access = (double)exits / (double)done;
	if (rc == 0)
		rc = vmmu_shadow_set_prefetch(s->b.vm, 0);
	return rc;
}

/* Untimed: each target's PTE reads back as written, then an access sets
 * its A bit and fills through its page table (so no write flooding). */
static int sh_targets_touch(struct sh_bench *s, bool check)
{
	uint64_t g = 0;
	unsigned k;
	int rc = 0;

	for (k = 0; rc == 0 && k < SH_TARGETS; k++) {
		uint64_t gva = SH_TGVA + ((uint64_t)k << 21);

		rc = vmmu_vm_read_gpa(s->b.vm, mk_gpa(s->pt[k]), &g, 8);
		if (rc == 0 && check &&
		    g != ((BM_DATA + (uint64_t)k * VMMU_PAGE_SIZE) | PTE_PRESENT))
			rc = VMMU_EINVAL;   /* the emulated store did not land */
		if (rc == 0)
			rc = vmmu_vcpu_invlpg(s->v, mk_gva(gva));
		if (rc == 0)
			rc = sh_access(s->v, gva, false, 3, 0);
	}
	return rc;
}

/* One round of emulated PTE writes, one per target; *ns accumulates. */
static int sh_write_round(struct sh_bench *s, unsigned movs, double *ns)
{
	struct vmmu_emu_regs *r = &s->ev.regs;
	unsigned k, m;
	double t0 = bm_now_ns();
	int rc = 0;

	for (k = 0; rc == 0 && k < SH_TARGETS; k++) {
		uint64_t val = (BM_DATA + (uint64_t)k * VMMU_PAGE_SIZE) | PTE_PRESENT;

		m = k % movs;
		r->rip = SH_CODE + 16 * m;
		r->gpr[VMMU_RDI] = SH_KVA + s->pt[k] - 8 * m;
		r->gpr[VMMU_RAX] = val;
		rc = sh_access(s->v, SH_KVA + s->pt[k], true, 0, val);
	}
	*ns += bm_now_ns() - t0;
	return rc;
}

/* Emulated page-table writes; movs = 1: decode-cache hits, else misses. */
static int sh_ptwrite_case(struct sh_bench *s, struct bm_case *c, uint64_t n,
			   unsigned movs)
{
	struct vmmu_shadow_stats a, z;
	struct vmmu_emu_stats ea, ez;
	uint64_t done = 0, exits0, insns0;
	double total = 0, warm = 0;
	int rc = sh_targets_touch(s, false);

	if (rc == 0)            /* warm-up: the decode cache, the kernel view */
		rc = sh_write_round(s, movs, &warm);
	if (rc == 0)
		rc = sh_targets_touch(s, true);
	if (rc == 0)
		rc = sh_stats(s, &a);
	vmmu_emu_get_stats(s->ev.emu, &ea);
	exits0 = s->v->stats.exits;
	insns0 = s->ev.instructions;
	while (rc == 0 && done < n) {
		rc = sh_write_round(s, movs, &total);
		if (rc == 0)
			rc = sh_targets_touch(s, true);
		done += SH_TARGETS;
	}
	if (rc == 0)
		rc = sh_stats(s, &z);
	vmmu_emu_get_stats(s->ev.emu, &ez);
	c->accesses = done;
	c->ns = total / (double)done;
	/* the touches each take one exit too */
	c->refs_per_access = (double)(s->v->stats.exits - exits0) /
			     (double)done - 1;
	if (rc == 0 && (z.emulated_writes - a.emulated_writes != done ||
			s->v->stats.exits - exits0 != 2 * done ||
			s->ev.instructions - insns0 != done ||
			z.unshadowed != a.unshadowed ||
			(movs == 1 ? ez.decode_cache_hits - ea.decode_cache_hits :
			 ez.decode_cache_misses - ea.decode_cache_misses) != done))
		rc = VMMU_EINVAL;
	return rc;
}

/* MOV to CR3 between two address spaces whose shadows are warm. */
static int sh_cr3_case(struct sh_bench *s, struct bm_case *c, uint64_t n)
{
	struct vmmu_shadow_stats a, z;
	uint64_t i, roots[2] = { s->cr3b, BM_CR3 };
	unsigned r;
	int rc = 0;

	for (i = 0; rc == 0 && i < 2; i++) {
		rc = vmmu_vcpu_set_cr(s->v, VMMU_CR3, roots[i]);
		if (rc == 0)
			rc = sh_access(s->v, BM_GVA, false, 3, 0);
	}
	if (rc == 0)
		rc = sh_stats(s, &a);
	for (r = 0; rc == 0 && r < BM_ROUNDS; r++) {
		double t0 = bm_now_ns();

		for (i = 0; rc == 0 && i < n; i++)
			rc = vmmu_vcpu_set_cr(s->v, VMMU_CR3, roots[i & 1]);
		t0 = (bm_now_ns() - t0) / (double)n;
		if (r == 0 || t0 < c->ns)
			c->ns = t0;
	}
	if (rc == 0)
		rc = sh_stats(s, &z);
	c->accesses = n * BM_ROUNDS;
	c->refs_per_access = (double)(z.root_switches - a.root_switches) /
			     (double)c->accesses;
	if (rc == 0 && (z.root_switches - a.root_switches != c->accesses ||
			z.shadows_created != a.shadows_created))
		rc = VMMU_EINVAL;
	return rc;
}

/* Untimed: SH_OOS_L1S targets out of sync, SH_OOS_ENTS entries changed. */
static int sh_oos_dirty(struct sh_bench *s, unsigned round)
{
	unsigned k, j;
	int rc = 0;

	for (k = 0; rc == 0 && k < SH_OOS_L1S; k++)
		for (j = 0; rc == 0 && j < SH_OOS_ENTS; j++)
			rc = sh_access(s->v, SH_KVA + s->pt[k] + 8 * j, true, 0,
				       (BM_DATA + (uint64_t)j * VMMU_PAGE_SIZE) |
				       0x65 | (round & 1 ? X86_PTE_RW : 0));
	return rc;
}

/* INVLPG resyncing SH_OOS_L1S out-of-sync L1s; ns per L1. */
static int sh_oos_case(struct sh_bench *s, struct bm_case *c, uint64_t n)
{
	struct vmmu_shadow_stats a, z;
	uint64_t done = 0;
	double total = 0;
	unsigned round = 0;
	int rc = vmmu_shadow_set_oos(s->b.vm, true);

	if (rc == 0)
		rc = sh_stats(s, &a);
	while (rc == 0 && done < n) {
		double t0;

		rc = sh_oos_dirty(s, round++);
		t0 = bm_now_ns();
		if (rc == 0)
			rc = vmmu_vcpu_invlpg(s->v, mk_gva(SH_TGVA));
		total += bm_now_ns() - t0;
		done += SH_OOS_L1S;
	}
	if (rc == 0)
		rc = sh_stats(s, &z);
	c->accesses = done;
	c->ns = total / (double)done;
	c->refs_per_access = (double)(z.oos_entries - a.oos_entries) /
			     (double)done;
	if (rc == 0 && (z.oos_resyncs - a.oos_resyncs != done ||
			z.oos_marked - a.oos_marked != done ||
			z.oos_entries - a.oos_entries != done * SH_OOS_ENTS))
		rc = VMMU_EINVAL;
	if (rc == 0)
		rc = vmmu_shadow_set_oos(s->b.vm, false);
	return rc;
}

static const char *const shadow_rows[BM_SHADOW_CASES] = {
	"shadow-tlb-hit", "shadow-cold-walk", "shadow-pwc-walk", "shadow-fill",
	"shadow-ptwrite-hit", "shadow-ptwrite-miss", "shadow-cr3-warm",
	"shadow-oos-resync", "shadow-prefetch16",
};

int bench_model_shadow(uint64_t n, struct bm_case *cases)
{
	static const struct bm_walk_want want = { 4, 0.95, 1 };
	struct bm_case *rows[3] = { &cases[0], &cases[1], &cases[2] };
	uint64_t few = n < 51200 ? n : 51200;
	struct sh_bench s;
	struct vmmu_vcpu *vp = NULL;
	unsigned i;
	int rc;

	for (i = 0; i < BM_SHADOW_CASES; i++)
		cases[i] = (struct bm_case){ .name = shadow_rows[i],
					     .pages = i ? BM_PAGES : BM_HOT };
	rc = bm_backend_setup(&s.b, &vmmu_backend_shadow, VMMU_BACKEND_SHADOW);
	if (rc == 0)
		rc = bm_walk_rows(&s.b, n, &want, rows, &vp);
	bm_done(&s.b);
	/* the other rows on a VM of one vCPU: no other TLB to flush */
	memset(&s, 0, sizeof(s));
	if (rc == 0)
		rc = sh_bench_setup(&s);
	if (rc == 0)
		rc = sh_fill_case(&s, &cases[3], few, 0);
	if (rc == 0)
		rc = sh_ptwrite_case(&s, &cases[4], few, 1);
	if (rc == 0)
		rc = sh_ptwrite_case(&s, &cases[5], few, SH_MOVS);
	if (rc == 0)
		rc = sh_cr3_case(&s, &cases[6], few);
	if (rc == 0)
		rc = sh_oos_case(&s, &cases[7], few);
	if (rc == 0)
		rc = sh_fill_case(&s, &cases[8], few, 16);
	sh_bench_done(&s);
	return rc;
}
