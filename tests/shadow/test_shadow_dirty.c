/* SPDX-License-Identifier: MIT */
/*
 * Log-dirty over the shadow backend (shadow-fallback/shadow_dirty.c,
 * docs/shadow.md "Log-dirty").
 *
 * The random test runs a guest (4-level or PAE paging) with 4 KiB pages,
 * each in its own page table, and a 2 MiB page, and interleaves: guest
 * stores and reads through vmmu_vcpu_access; guest page-table changes made
 * by guest stores through a kernel view of the tables (trapped and
 * emulated, or out of sync, or native after unshadowing) followed by
 * INVLPG or MOV to CR3; vmmu_vm_write_gpa writes; peeks and cleans of
 * random sub-ranges; disable and re-enable. The reference is independent
 * of the backend: the pages written since their last clean (by the test's
 * own stores that completed, and its VMM writes) together with the pages
 * whose bytes changed since their last clean (the walker's A/D updates on
 * the guest's tables). Every peek and clean must report exactly that set:
 * every written page, and no page neither written nor changed. A leaf
 * writable in any shadow for a page whose bit is clear is a failure too.
 *
 * Directed cases: one fault per page per round, a page mapped by three
 * shadows (two guest page tables and a splintered 2 MiB page) re-armed in
 * all of them, A/D updates and emulated stores logged, paging off, and
 * the lazy upgrade after disable.
 */
#include "vmmu/access.h"
#include "vmmu/dirty.h"
#include "vmmu/error.h"
#include "shadow-fallback/shadow.h"
#include "walk/walk_fixture.h"

#include <stdio.h>
#include <stdlib.h>

#define PAGES     (FX_RAM >> 12)        /* the logged range: all RAM */
#define DATA_LO   0x100000ULL           /* 4 KiB data pages */
#define DATA_N    768U                  /* up to 4 MiB: the 2 MiB page too */
#define SP_GPA    0x200000ULL           /* the 2 MiB guest page */
#define SLOT_GVA  0x10000000ULL         /* slot i: SLOT_GVA + i * 2 MiB */
#define SP_GVA    0x40000000ULL
#define KVA       0x80000000ULL         /* kernel view of gpa 0..1 MiB */
#define NSLOTS    48U

struct ld_cfg {
	bool pae;
	uint64_t pool;          /* 0: the default */
	bool drop;              /* VMMU_SHADOW_LD_DROP */
	bool oos;
	uint64_t steps, seed;
};

struct ld {
	struct fx *f;
	struct vmmu_vcpu *v;
	struct ld_cfg cfg;
	uint64_t slot_pte[NSLOTS];      /* the current guest PTE of slot i */
	uint64_t sp_pde;
	bool on;
	uint8_t written[PAGES];
	uint8_t *snap;                  /* RAM as of each page's last clean */
	uint64_t rng;
	uint64_t stores, faults, pt_writes, vmm_writes, cleans, peeks,
		 reported, cycles;
};

static struct ld ld_state;
static uint64_t steps_arg;      /* argv[1]: steps of each random run */

static uint64_t rnd(struct ld *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->rng;
}

static uint64_t pt_flags(const struct ld *t)
{
	return t->cfg.pae ? P : PRWU;   /* a PDPTE has no R/W, U/S (SDM 4.4.1) */
}

static void map4k(struct ld *t, uint64_t gva, uint64_t pte)
{
	const uint64_t fl[6] = { 0, pte & 0xfff, PRWU, pt_flags(t), PRWU, PRWU };

	fx_map(t->f, gva, 1, fl, pte & ~0xfffULL);
}

static void map2m(struct ld *t, uint64_t gva, uint64_t pde)
{
	const uint64_t fl[6] = { 0, 0, pde & 0xfff, pt_flags(t), PRWU, PRWU };

	fx_map(t->f, gva, 2, fl, pde & ~0xfffULL);
}

/* The gpa of gva's entry at level (1: PTE, 2: PDE) in the guest tables. */
static uint64_t entry_gpa(struct ld *t, uint64_t gva, unsigned level)
{
	uint64_t table = FX_CR3, e;
	unsigned l = t->cfg.pae ? 3 : 4;

	if (t->cfg.pae) {
		e = rd(t->f, FX_CR3 + ((gva >> 30) & 3) * 8, 8);
		table = e & 0xffffff000ULL;
		l = 2;
	}
	for (; l > level; l--) {
		e = rd(t->f, table + ((gva >> (12 + 9 * (l - 1))) & 511) * 8, 8);
		table = e & 0xffffff000ULL;
	}
	return table + ((gva >> (12 + 9 * (level - 1))) & 511) * 8;
}

static void set_regs(struct ld *t)
{
	struct vmmu_vcpu *v = t->v;

	v->paging.maxphyaddr = 48;
	if (t->cfg.pae) {
		fx_regs(t->f, CR0_PG_PE_WP, X86_CR4_PAE, X86_EFER_NXE, 48);
		assert_int_equal(vmmu_vcpu_set_cr(v, VMMU_EFER, X86_EFER_NXE), 0);
		assert_int_equal(vmmu_vcpu_set_cr(v, VMMU_CR4, X86_CR4_PAE), 0);
	} else {
		fx_long(t->f, false, 48);
		assert_int_equal(vmmu_vcpu_set_cr(v, VMMU_EFER, t->f->ps.efer), 0);
		assert_int_equal(vmmu_vcpu_set_cr(v, VMMU_CR4, t->f->ps.cr4), 0);
	}
}

static void load_cr3(struct ld *t)
{
	assert_int_equal(vmmu_vcpu_set_cr(t->v, VMMU_CR3, FX_CR3), 0);
	assert_int_equal(vmmu_vcpu_set_cr(t->v, VMMU_CR0, CR0_PG_PE_WP), 0);
}

static uint64_t data_gpa(struct ld *t)
{
	return DATA_LO + (rnd(t) % DATA_N) * 0x1000;
}

static uint64_t leaf_bits(struct ld *t)
{
	static const uint64_t choice[] = { PRWU | A | D, PRWU | A | D, PRWU,
					   PRWU | A, P | US | A };

	return choice[rnd(t) % 5];
}

/* The guest: NSLOTS 4 KiB pages, a 2 MiB page, the kernel view. */
static void ld_build(struct ld *t, const struct ld_cfg *cfg)
{
	unsigned i;

	memset(t, 0, sizeof(*t));
	t->cfg = *cfg;
	t->rng = cfg->seed * 0x9e3779b97f4a7c15ULL + 1;
	assert_int_equal(fx_setup((void **)&t->f), 0);
	assert_int_equal(vmmu_vm_set_backend(t->f->vm, VMMU_BACKEND_SHADOW,
					     &vmmu_backend_shadow), 0);
	if (cfg->pool)
		assert_int_equal(vmmu_shadow_set_pool_pages(t->f->vm, cfg->pool), 0);
	if (cfg->drop)
		assert_int_equal(vmmu_shadow_set_logdirty(t->f->vm,
							  VMMU_SHADOW_LD_DROP), 0);
	if (cfg->oos)
		assert_int_equal(vmmu_shadow_set_oos(t->f->vm, true), 0);
	assert_int_equal(vmmu_vcpu_create(t->f->vm, &t->v), 0);
	set_regs(t);
	for (i = 0; i < NSLOTS; i++) {
		t->slot_pte[i] = data_gpa(t) | leaf_bits(t);
		map4k(t, SLOT_GVA + ((uint64_t)i << 21), t->slot_pte[i]);
	}
	t->sp_pde = SP_GPA | PS | PRWU | A | D;
	map2m(t, SP_GVA, t->sp_pde);
	for (i = 0; i < 256; i++)
		map4k(t, KVA + ((uint64_t)i << 12), ((uint64_t)i << 12) | PRW | A | D);
	assert_true(t->f->next_table < DATA_LO);
	load_cr3(t);
	t->snap = calloc(1, FX_RAM);
	assert_non_null(t->snap);
}

static void ld_free(struct ld *t)
{
	free(t->snap);
	fx_teardown((void **)&t->f);
}

static struct vmmu_access_result ld_access(struct ld *t, uint64_t gva,
					   enum vmmu_access_kind kind,
					   unsigned cpl, uint64_t *val)
{
	struct vmmu_op op = { .acc = { mk_gva(gva), kind, (uint8_t)cpl, false },
			      .size = 8, .data = val };
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vcpu_access(t->v, &op, &r), 0);
	return r;
}

static void note_written(struct ld *t, uint64_t gpa)
{
	if (t->on)
		t->written[gpa >> 12] = 1;
}

/* A guest store of a fresh value; when it completes, the page is written. */
static void guest_store(struct ld *t, uint64_t gva, uint64_t gpa, bool may)
{
	uint64_t v = rnd(t) | 1;
	struct vmmu_access_result r = ld_access(t, gva, W, 3, &v);

	if (r.status == VMMU_ACCESS_FAULT) {
		assert_false(may);
		t->faults++;
		return;
	}
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(may);
	assert_int_equal(rd(t->f, gpa, 8), v);  /* the mirror is right */
	note_written(t, gpa);
	t->stores++;
}

/* A store by the guest kernel to one of its own page-table entries. */
static void pt_store(struct ld *t, uint64_t egpa, uint64_t val)
{
	struct vmmu_access_result r = ld_access(t, KVA + egpa, W, 0, &val);

	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(rd(t->f, egpa, 8), val);
	note_written(t, egpa);
	t->pt_writes++;
}

static void step_store(struct ld *t)
{
	uint64_t off = (rnd(t) % 512) * 8, e;
	unsigned i;

	if (rnd(t) % 4 == 0) {
		off = (rnd(t) % 0x40000) * 8;
		e = t->sp_pde;
		guest_store(t, SP_GVA + off, SP_GPA + off, e & RW);
		return;
	}
	i = (unsigned)(rnd(t) % NSLOTS);
	e = t->slot_pte[i];
	guest_store(t, SLOT_GVA + ((uint64_t)i << 21) + off,
		    (e & ~0xfffULL) + off, e & RW);
}

static void step_read(struct ld *t)
{
	unsigned i = (unsigned)(rnd(t) % NSLOTS);
	uint64_t v;
	struct vmmu_access_result r;

	r = ld_access(t, SLOT_GVA + ((uint64_t)i << 21), R, 3, &v);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(v, rd(t->f, t->slot_pte[i] & ~0xfffULL, 8));
}

/* Remap a slot (or change the 2 MiB page's rights) by a guest store. */
static void step_remap(struct ld *t)
{
	unsigned i = (unsigned)(rnd(t) % NSLOTS);
	uint64_t gva = SLOT_GVA + ((uint64_t)i << 21);
	static const uint64_t sp_bits[] = { PRWU | A | D, PRWU | A, P | US | A };

	if (rnd(t) % 5 == 0) {
		t->sp_pde = SP_GPA | PS | sp_bits[rnd(t) % 3];
		pt_store(t, entry_gpa(t, SP_GVA, 2), t->sp_pde);
		load_cr3(t);    /* the 4 KiB TLB entries of the 2 MiB page */
		return;
	}
	t->slot_pte[i] = data_gpa(t) | leaf_bits(t);
	pt_store(t, entry_gpa(t, gva, 1), t->slot_pte[i]);
	assert_int_equal(vmmu_vcpu_invlpg(t->v, mk_gva(gva)), 0);
}

static void step_vmm(struct ld *t)
{
	uint64_t gpa = DATA_LO + (rnd(t) % ((FX_RAM - DATA_LO) / 8)) * 8;

	wr(t->f, gpa, rnd(t), 8);
	note_written(t, gpa);
	t->vmm_writes++;
}

static bool page_changed(struct ld *t, uint64_t p)
{
	uint8_t buf[4096];

	assert_int_equal(vmmu_vm_read_gpa(t->f->vm, mk_gpa(p << 12), buf, 4096), 0);
	return memcmp(buf, t->snap + (p << 12), 4096) != 0;
}

static void snap_page(struct ld *t, uint64_t p)
{
	assert_int_equal(vmmu_vm_read_gpa(t->f->vm, mk_gpa(p << 12),
					  t->snap + (p << 12), 4096), 0);
}

/* A peek or clean of a random sub-range, against the reference. */
static void step_harvest(struct ld *t, bool clean)
{
	uint64_t a = rnd(t) % PAGES, n = 1 + rnd(t) % (PAGES - a), cnt, p;
	uint64_t bm[PAGES / 64], want = 0;
	int rc;

	if (rnd(t) % 4 == 0)
		a = 0, n = PAGES;
	rc = clean ? vmmu_dirty_clean(t->f->vm, a, n, bm, &cnt)
		   : vmmu_dirty_peek(t->f->vm, a, n, bm, &cnt);
	assert_int_equal(rc, 0);
	for (p = a; p < a + n; p++) {
		bool rep = (bm[(p - a) / 64] >> ((p - a) % 64)) & 1;
		bool exp = t->written[p] || page_changed(t, p);

		if (rep != exp)
			fail_msg("%s [%#llx, +%llu): page %#llx %s", clean ? "clean" : "peek",
				 (unsigned long long)a, (unsigned long long)n,
				 (unsigned long long)p,
				 exp ? "written, not reported" : "reported, not written");
		want += exp;
		if (clean) {
			t->written[p] = 0;
			snap_page(t, p);
		}
	}
	assert_int_equal(cnt, want);
	t->reported += cnt;
	clean ? t->cleans++ : t->peeks++;
}

struct wp_ctx {
	struct ld *t;
	hpa_t hpa[PAGES];
	uint64_t bm[PAGES / 64];
};

static int writable_needs_bit(void *ctx, hpa_t hpa, bool writable)
{
	struct wp_ctx *c = ctx;
	uint64_t p;

	for (p = 0; writable && p < PAGES; p++)
		if (c->hpa[p].v == hpa.v && !((c->bm[p / 64] >> (p % 64)) & 1))
			return (int)p + 1;
	return 0;
}

/* Rule 2 of core/dirty.c and the backend's own invariants. */
static void ld_check(struct ld *t)
{
	static struct wp_ctx c;
	const char *why = NULL;
	uint64_t p, cnt;
	int bad;

	if (vmmu_shadow_check(t->f->vm, &why) < 0)
		fail_msg("shadow check: %s", why);
	if (!t->on)
		return;
	c.t = t;
	for (p = 0; p < PAGES; p++)
		if (vmmu_vm_gpa_to_hpa(t->f->vm, mk_gpa(p << 12), &c.hpa[p]) < 0)
			c.hpa[p].v = ~0ULL;
	assert_int_equal(vmmu_dirty_peek(t->f->vm, 0, PAGES, c.bm, &cnt), 0);
	bad = vmmu_shadow_for_each_leaf(t->f->vm, writable_needs_bit, &c);
	if (bad)
		fail_msg("page %#x writable in a shadow with its bit clear", bad - 1);
}

static void ld_enable(struct ld *t)
{
	uint64_t p;

	assert_int_equal(vmmu_dirty_enable_ram(t->f->vm), 0);
	t->on = true;
	memset(t->written, 0, sizeof(t->written));
	for (p = 0; p < PAGES; p++)
		snap_page(t, p);
}

static void ld_disable(struct ld *t)
{
	uint64_t bm[1];

	assert_int_equal(vmmu_dirty_disable(t->f->vm), 0);
	assert_int_equal(vmmu_dirty_peek(t->f->vm, 0, 1, bm, NULL), VMMU_ENOENT);
	t->on = false;
	t->cycles++;
}

static void run_random(const struct ld_cfg *cfg)
{
	struct ld *t = &ld_state;
	struct vmmu_shadow_stats s;
	uint64_t i, k;

	ld_build(t, cfg);
	if (steps_arg)
		t->cfg.steps = steps_arg;
	for (i = 0; i < 200; i++)      /* some shadows before logging */
		step_store(t);
	ld_enable(t);
	for (i = 0; i < t->cfg.steps; i++) {
		k = rnd(t) % 100;
		if (k < 45)
			step_store(t);
		else if (k < 60)
			step_read(t);
		else if (k < 72)
			step_remap(t);
		else if (k < 78)
			step_vmm(t);
		else if (t->on && k < 86)
			step_harvest(t, true);
		else if (t->on && k < 90)
			step_harvest(t, false);
		else if (k == 99 && rnd(t) % 3 == 0)
			t->on ? ld_disable(t) : ld_enable(t);
		if (i % 97 == 0)
			ld_check(t);
	}
	if (!t->on)
		ld_enable(t);
	ld_check(t);
	assert_int_equal(vmmu_vcpu_set_cr(t->v, VMMU_CR3, FX_CR3), 0);
	assert_int_equal(vmmu_shadow_stats(t->f->vm, &s), 0);
	print_message("%s pool %llu%s%s: %llu stores (%llu faulted), %llu PT "
		      "stores, %llu VMM writes, %llu cleans, %llu peeks, %llu "
		      "reported, %llu off/on cycles; shadow: %llu logged write "
		      "faults, %llu leaves protected, %llu pages re-armed, %llu "
		      "drops, %llu recycled, %llu PT writes emulated, %llu out "
		      "of sync, %llu other emulated\n",
		      cfg->pae ? "PAE" : "4-level", (unsigned long long)s.pool_pages,
		      cfg->drop ? " drop" : "", cfg->oos ? " oos" : "",
		      (unsigned long long)t->stores, (unsigned long long)t->faults,
		      (unsigned long long)t->pt_writes,
		      (unsigned long long)t->vmm_writes,
		      (unsigned long long)t->cleans, (unsigned long long)t->peeks,
		      (unsigned long long)t->reported, (unsigned long long)t->cycles,
		      (unsigned long long)s.ld_write_faults,
		      (unsigned long long)s.ld_protected,
		      (unsigned long long)s.ld_rearmed,
		      (unsigned long long)s.ld_drops,
		      (unsigned long long)s.recycled,
		      (unsigned long long)s.emulated_writes,
		      (unsigned long long)s.oos_marked,
		      (unsigned long long)s.other_emulated);
	/* The paths under test ran. */
	assert_true(t->cleans > 100 && t->reported > 1000 && t->cycles > 0);
	assert_true(s.ld_write_faults > 100);
	assert_true(cfg->drop ? s.ld_drops > 0 : s.ld_protected > 100);
	if (cfg->pool)
		assert_true(s.recycled > 100);
	if (cfg->oos)
		assert_true(s.oos_marked > 0);
	ld_free(t);
}

static void test_random_4level(void **state)
{
	struct ld_cfg c = { .steps = 6000, .seed = 1 };

	(void)state;
	run_random(&c);
}

static void test_random_pae(void **state)
{
	struct ld_cfg c = { .pae = true, .steps = 6000, .seed = 2 };

	(void)state;
	run_random(&c);
}

static void test_random_small_pool(void **state)
{
	struct ld_cfg c = { .pool = VMMU_SHADOW_POOL_MIN(1), .steps = 6000,
			    .seed = 3 };

	(void)state;
	run_random(&c);
}

static void test_random_pae_small_pool_oos(void **state)
{
	struct ld_cfg c = { .pae = true, .pool = VMMU_SHADOW_POOL_MIN(1) + 4,
			    .oos = true, .steps = 6000, .seed = 4 };

	(void)state;
	run_random(&c);
}

static void test_random_drop_policy(void **state)
{
	struct ld_cfg c = { .drop = true, .oos = true, .steps = 6000, .seed = 5 };

	(void)state;
	run_random(&c);
}


/* ---- directed cases ---------------------------------------------------- */

static unsigned store_exits(struct ld *t, uint64_t gva)
{
	uint64_t v = rnd(t) | 1;
	struct vmmu_access_result r = ld_access(t, gva, W, 3, &v);

	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	return r.exits;
}

static unsigned read_exits(struct ld *t, uint64_t gva)
{
	uint64_t v;
	struct vmmu_access_result r = ld_access(t, gva, R, 3, &v);

	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	return r.exits;
}

/* Clean (or peek) everything; exactly the pages in want[0..n) reported. */
static void expect_log(struct ld *t, bool clean, const uint64_t *want,
		       unsigned n)
{
	uint64_t bm[PAGES / 64], cnt, p;
	unsigned k;

	assert_int_equal(clean ? vmmu_dirty_clean(t->f->vm, 0, PAGES, bm, &cnt)
			       : vmmu_dirty_peek(t->f->vm, 0, PAGES, bm, &cnt), 0);
	for (p = 0; p < PAGES; p++) {
		bool rep = (bm[p / 64] >> (p % 64)) & 1, exp = false;

		for (k = 0; k < n; k++)
			exp |= want[k] == p;
		if (rep != exp)
			fail_msg("page %#llx: reported %d, expected %d",
				 (unsigned long long)p, rep, exp);
	}
	assert_int_equal(cnt, n);
}

static struct ld *ld_directed(bool drop)
{
	struct ld_cfg c = { .drop = drop, .seed = 9 };
	struct ld *t = &ld_state;
	unsigned i;

	ld_build(t, &c);
	for (i = 0; i < NSLOTS; i++) {
		t->slot_pte[i] = (DATA_LO + i * 0x1000) | PRWU | A | D;
		map4k(t, SLOT_GVA + ((uint64_t)i << 21), t->slot_pte[i]);
	}
	load_cr3(t);
	return t;
}

static struct vmmu_shadow_stats ld_stats(struct ld *t)
{
	struct vmmu_shadow_stats s;

	assert_int_equal(vmmu_shadow_stats(t->f->vm, &s), 0);
	return s;
}

/* One fault per page per round; reads keep their translation (rmap). */
static void one_fault_per_round(bool drop)
{
	struct ld *t = ld_directed(drop);
	const uint64_t page = DATA_LO >> 12;
	struct vmmu_shadow_stats s0, s1;
	unsigned round;

	assert_int_equal(store_exits(t, SLOT_GVA), 1);     /* shadow fill */
	assert_int_equal(read_exits(t, SLOT_GVA + (1ULL << 21)), 1);
	ld_enable(t);
	expect_log(t, false, NULL, 0);
	for (round = 0; round < 3; round++) {
		s0 = ld_stats(t);
		assert_int_equal(store_exits(t, SLOT_GVA + 8 * round), 1);
		assert_int_equal(store_exits(t, SLOT_GVA + 64), 0);
		s1 = ld_stats(t);
		assert_int_equal(s1.ld_write_faults, s0.ld_write_faults + 1);
		assert_int_equal(s1.other_emulated, s0.other_emulated);
		expect_log(t, false, &page, 1);
		expect_log(t, true, &page, 1);
		expect_log(t, false, NULL, 0);
		/* A read after the clean: no exit unless every leaf was dropped. */
		assert_int_equal(read_exits(t, SLOT_GVA + 16), drop ? 1 : 0);
	}
	s1 = ld_stats(t);
	assert_true(drop ? s1.ld_drops >= 4 : s1.ld_protected >= 4);
	ld_disable(t);
	ld_free(t);
}

static void test_one_fault_per_round(void **state)
{
	(void)state;
	one_fault_per_round(false);
	one_fault_per_round(true);
}

/* A page mapped by two guest page tables and a splintered 2 MiB page. */
static void test_rearm_every_shadow(void **state)
{
	struct ld *t = ld_directed(false);
	const uint64_t gpa = SP_GPA + 0x5000, page = gpa >> 12;
	const uint64_t gva[3] = { SLOT_GVA, SLOT_GVA + (1ULL << 21),
				  SP_GVA + 0x5000 };
	struct vmmu_shadow_stats s0, s1;
	unsigned k, round;

	(void)state;
	for (k = 0; k < 2; k++) {
		t->slot_pte[k] = gpa | PRWU | A | D;
		map4k(t, gva[k], t->slot_pte[k]);
	}
	load_cr3(t);
	for (k = 0; k < 3; k++)
		assert_int_equal(store_exits(t, gva[k]), 1);
	ld_enable(t);
	for (round = 0; round < 3; round++) {
		/* The first store marks; the others only upgrade their leaf. */
		s0 = ld_stats(t);
		for (k = 0; k < 3; k++)
			assert_int_equal(store_exits(t, gva[(k + round) % 3]), 1);
		for (k = 0; k < 3; k++)
			assert_int_equal(store_exits(t, gva[k] + 8), 0);
		s1 = ld_stats(t);
		assert_int_equal(s1.ld_write_faults, s0.ld_write_faults + 1);
		expect_log(t, true, &page, 1);
		/* Each of the three leaves was write-protected by the clean. */
		assert_int_equal(ld_stats(t).ld_protected, s1.ld_protected + 3);
	}
	ld_free(t);
}

/* The walker's A/D updates, emulated PT stores and VMM writes are logged. */
static void test_vmmu_writes_logged(void **state)
{
	struct ld *t = ld_directed(false);
	uint64_t pte0, pte1, want[2], v = 5;

	(void)state;
	t->slot_pte[0] = DATA_LO | PRWU;        /* A and D clear */
	map4k(t, SLOT_GVA, t->slot_pte[0]);
	load_cr3(t);
	pte0 = entry_gpa(t, SLOT_GVA, 1);
	pte1 = entry_gpa(t, SLOT_GVA + (1ULL << 21), 1);
	assert_int_not_equal(pte0 >> 12, pte1 >> 12);
	assert_int_equal(ld_access(t, KVA + pte1, R, 0, &v).status,
			 VMMU_ACCESS_DONE);     /* the kernel view's shadow */
	(void)read_exits(t, SLOT_GVA);          /* A in the upper levels */
	(void)read_exits(t, SLOT_GVA + (1ULL << 21));   /* shadows pte1's PT */
	map4k(t, SLOT_GVA, t->slot_pte[0]);     /* and clear in the PTE */
	assert_int_equal(vmmu_vcpu_invlpg(t->v, mk_gva(SLOT_GVA)), 0);
	ld_enable(t);
	(void)read_exits(t, SLOT_GVA);          /* A set in the guest PTE */
	assert_true(rd(t->f, pte0, 8) & A);
	want[0] = pte0 >> 12;
	expect_log(t, true, want, 1);
	assert_int_equal(store_exits(t, SLOT_GVA), 1);  /* D set, page written */
	assert_true(rd(t->f, pte0, 8) & D);
	want[1] = DATA_LO >> 12;
	expect_log(t, true, want, 2);
	/* A guest store to a shadowed PT: emulated, logged by the emulator. */
	{
		struct vmmu_access_result r;
		uint64_t e = (DATA_LO + 0x9000) | PRWU | A | D;

		r = ld_access(t, KVA + pte1, W, 0, &e);
		assert_int_equal(r.status, VMMU_ACCESS_DONE);
		assert_true(r.emulated);
	}
	want[0] = pte1 >> 12;
	expect_log(t, true, want, 1);
	wr(t->f, DATA_LO + 0x7008, v, 8);
	want[0] = (DATA_LO + 0x7000) >> 12;
	expect_log(t, true, want, 1);
	ld_free(t);
}

/* Paging off: the hardware side itself asks the log. */
static void test_paging_off(void **state)
{
	struct ld *t = &ld_state;
	struct ld_cfg c = { .seed = 11 };
	const uint64_t page = 0x300;

	(void)state;
	ld_build(t, &c);
	assert_int_equal(vmmu_vcpu_set_cr(t->v, VMMU_CR0, X86_CR0_PE), 0);
	assert_int_equal(vmmu_vcpu_set_cr(t->v, VMMU_EFER, 0), 0);
	assert_int_equal(vmmu_vcpu_set_cr(t->v, VMMU_CR4, 0), 0);
	assert_int_equal(store_exits(t, page << 12), 1);    /* first touch */
	ld_enable(t);
	assert_int_equal(store_exits(t, page << 12), 1);
	assert_int_equal(store_exits(t, (page << 12) + 8), 0);
	expect_log(t, true, &page, 1);
	assert_int_equal(read_exits(t, page << 12), 0);
	assert_int_equal(store_exits(t, page << 12), 1);
	expect_log(t, true, &page, 1);
	ld_free(t);
}

/* After disable, a leaf left read-only upgrades on its next write. */
static void test_stop_lazy(void **state)
{
	struct ld *t = ld_directed(false);
	struct vmmu_shadow_stats s0;

	(void)state;
	assert_int_equal(store_exits(t, SLOT_GVA), 1);
	ld_enable(t);
	assert_int_equal(store_exits(t, SLOT_GVA), 1);
	ld_disable(t);
	s0 = ld_stats(t);
	assert_int_equal(store_exits(t, SLOT_GVA), 0);  /* still writable */
	assert_int_equal(store_exits(t, SLOT_GVA + (1ULL << 21)), 1);  /* fill */
	ld_enable(t);
	ld_disable(t);
	assert_int_equal(store_exits(t, SLOT_GVA), 1);  /* protected by start */
	assert_int_equal(store_exits(t, SLOT_GVA), 0);
	assert_int_equal(ld_stats(t).ld_write_faults, s0.ld_write_faults);
	ld_free(t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_4level),
		cmocka_unit_test(test_random_pae),
		cmocka_unit_test(test_random_small_pool),
		cmocka_unit_test(test_random_pae_small_pool_oos),
		cmocka_unit_test(test_random_drop_policy),
		cmocka_unit_test(test_one_fault_per_round),
		cmocka_unit_test(test_rearm_every_shadow),
		cmocka_unit_test(test_vmmu_writes_logged),
		cmocka_unit_test(test_paging_off),
		cmocka_unit_test(test_stop_lazy),
	};

	if (argc > 1)
		steps_arg = strtoull(argv[1], NULL, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
