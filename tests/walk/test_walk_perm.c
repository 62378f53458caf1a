/* SPDX-License-Identifier: MIT */
/*
 * The guest walker: A/D update sequences (SDM 4.8), no updates on a
 * faulting walk by default and A on a faulting walk's entries with
 * VMMU_PAGING_A_ON_FAULT, cmpxchg races, and targeted SMEP / SMAP / AC / implicit /
 * CR0.WP / PKU cases with their error codes (SDM 4.6, 4.7).
 */
#include "walk_fixture.h"

/* A gmem that logs A/D writes and can inject cmpxchg outcomes. */
struct log_mem {
	struct vmmu_gmem inner;
	struct { uint64_t gpa, val; size_t len; } w[32];
	unsigned n;
	int inject;             /* 0: pass through; 1: report "changed"; <0: error */
	unsigned inject_count;  /* how many cmpxchg calls to inject into */
	uint64_t race_gpa, race_val; /* on injection, store race_val here */
	struct fx *f;
};

static int lm_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	struct log_mem *m = ctx;

	return m->inner.read(m->inner.ctx, gpa, buf, len);
}

static int lm_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t new_val,
		      size_t len)
{
	struct log_mem *m = ctx;
	int rc;

	if (m->inject && m->inject_count) {
		m->inject_count--;
		if (m->inject == 1 && m->race_gpa)
			wr(m->f, m->race_gpa, m->race_val, len);
		return m->inject;
	}
	rc = m->inner.cmpxchg(m->inner.ctx, gpa, old, new_val, len);
	if (rc == 0 && m->n < 32) {
		m->w[m->n].gpa = gpa.v;
		m->w[m->n].val = new_val;
		m->w[m->n++].len = len;
	}
	return rc;
}

static void lm_init(struct log_mem *m, struct fx *f)
{
	memset(m, 0, sizeof(*m));
	m->inner = f->mem;
	m->f = f;
}

static struct vmmu_walk_result lm_walk(struct fx *f, struct log_mem *m,
				       uint64_t gva, enum vmmu_access_kind k,
				       unsigned cpl)
{
	struct vmmu_gmem g = { m, lm_read, lm_cmpxchg };
	struct vmmu_access acc = { mk_gva(gva), k, (uint8_t)cpl, false };
	struct vmmu_walk_result r;

	assert_int_equal(vmmu_walk(&f->ps, &g, &acc, &r), 0);
	return r;
}

static void test_ad_sequence(void **state)
{
	struct fx *f = *state;
	const uint64_t fl2m[6] = { 0, 0, PRWU | PS, PRWU, PRWU, 0 };
	const uint64_t gva = 0x0000004000201000ULL;
	struct vmmu_walk_result r;
	struct log_mem m;
	unsigned i;

	fx_long(f, false, 46);
	fx_map4k(f, gva, PRWU, 0x9000);
	lm_init(&m, f);
	/* A read sets A on each entry, root first, 8 bytes each. */
	r = lm_walk(f, &m, gva, R, 3);
	assert_true(r.ok);
	assert_int_equal(m.n, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(m.w[i].gpa, r.pte_gpa[i].v);
		assert_int_equal(m.w[i].val, r.pte[i] | A);
		assert_int_equal(m.w[i].len, 8);
	}
	/* A second read writes nothing; a write sets D on the leaf only. */
	lm_walk(f, &m, gva, R, 3);
	assert_int_equal(m.n, 4);
	r = lm_walk(f, &m, gva, W, 3);
	assert_int_equal(m.n, 5);
	assert_int_equal(m.w[4].gpa, r.pte_gpa[3].v);
	assert_int_equal(m.w[4].val, 0x9000 | PRWU | A | D);
	for (i = 0; i < 3; i++)
		assert_int_equal(rd(f, r.pte_gpa[i].v, 8) & D, 0);
	/* A first write sets A and D in one update of the leaf. */
	fx_map4k(f, gva + 0x1000, PRWU, 0xa000);
	m.n = 0;
	lm_walk(f, &m, gva + 0x1000, W, 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.w[0].val, 0xa000 | PRWU | A | D);
	/* A 2 MiB page: D lands on the PDE, the leaf. */
	fx_map(f, 0x0000004000400000ULL, 2, fl2m, 0x600000);
	m.n = 0;
	r = lm_walk(f, &m, 0x0000004000400000ULL, W, 0);
	assert_int_equal(r.page_size, 2ULL << 20);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.w[0].val, 0x600000 | PRWU | PS | A | D);
}

static void test_no_ad_on_fault(void **state)
{
	struct fx *f = *state;
	const uint64_t gva = 0x0000004000201000ULL;
	uint64_t fl[6] = { 0, PRWU, PRWU, PRWU, PRWU, 0 };
	struct vmmu_walk_result r;
	struct log_mem m;

	fx_long(f, false, 46);
	lm_init(&m, f);
	/* Not present at the PTE. */
	fl[1] = 0;
	fx_map(f, gva, 1, fl, 0x9000);
	r = lm_walk(f, &m, gva, R, 3);
	assert_pf(r, gva, X86_PFEC_U);
	/* Reserved bit in the PTE. */
	fl[1] = PRWU | (1ULL << 50);
	fx_map(f, gva, 1, fl, 0x9000);
	assert_pf(lm_walk(f, &m, gva, R, 3), gva, X86_PFEC_P | X86_PFEC_U |
		  X86_PFEC_RSVD);
	/* Rights: a user write to a page whose PDE is read-only. */
	fl[1] = PRWU;
	fl[2] = P | US;
	fx_map(f, gva, 1, fl, 0x9000);
	assert_pf(lm_walk(f, &m, gva, W, 3), gva, X86_PFEC_P | X86_PFEC_U |
		  X86_PFEC_W);
	/* Protection key: access disabled for key 3. */
	f->ps.cr4 |= X86_CR4_PKE;
	f->ps.pkru = 1U << 6;
	vmmu_paging_update(&f->ps);
	fl[1] = PRWU | (3ULL << X86_PTE_PKEY_SHIFT);
	fx_map(f, gva, 1, fl, 0x9000);
	assert_pf(lm_walk(f, &m, gva, R, 3), gva, X86_PFEC_P | X86_PFEC_U |
		  X86_PFEC_PK);
	assert_int_equal(m.n, 0);
	assert_int_equal(rd(f, r.pte_gpa[0].v, 8) & A, 0);
	/* The same walk succeeding sets A everywhere. */
	f->ps.pkru = 0;
	assert_true(lm_walk(f, &m, gva, R, 3).ok);
	assert_int_equal(m.n, 4);
}

/* The entry changed under the walk: start again (SDM 4.8 locked updates). */
static void test_cmpxchg_race(void **state)
{
	struct fx *f = *state;
	const uint64_t gva = 0x7000;
	struct vmmu_walk_result r;
	struct log_mem m;
	struct vmmu_gmem g = { &m, lm_read, lm_cmpxchg };
	struct vmmu_access acc = { mk_gva(gva), VMMU_ACCESS_READ, 0, false };

	fx_long(f, false, 46);
	fx_map4k(f, gva, PRWU, 0x9000);
	r = fx_walk(f, gva, R, 0);   /* learn the PTE address; sets A */
	wr(f, r.pte_gpa[3].v, 0x9000 | PRWU, 8);
	/* Another vCPU clears P in the PTE as the walk sets its A bit. */
	lm_init(&m, f);
	m.inject = 1;
	m.inject_count = 1;
	m.race_gpa = r.pte_gpa[3].v;
	m.race_val = 0;
	r = lm_walk(f, &m, gva, R, 0);
	assert_pf(r, gva, 0);
	assert_int_equal(r.restarts, 1);
	/* A memory that always loses the race: the walker gives up. */
	lm_init(&m, f);
	wr(f, r.pte_gpa[3].v, 0x9000 | PRWU, 8);
	m.inject = 1;
	m.inject_count = 1000;
	assert_int_equal(vmmu_walk(&f->ps, &g, &acc, &r), VMMU_EBUSY);
	/* A cmpxchg error is returned as is. */
	lm_init(&m, f);
	m.inject = VMMU_EFAULT;
	m.inject_count = 1;
	assert_int_equal(vmmu_walk(&f->ps, &g, &acc, &r), VMMU_EFAULT);
}

static struct vmmu_walk_result walk_as(struct fx *f, uint64_t gva,
				       enum vmmu_access_kind k, unsigned cpl,
				       bool implicit)
{
	struct vmmu_access acc = { mk_gva(gva), k, (uint8_t)cpl, implicit };
	struct vmmu_walk_result r;

	assert_int_equal(vmmu_walk(&f->ps, &f->mem, &acc, &r), 0);
	return r;
}

static void set_cr4(struct fx *f, uint64_t cr4, uint64_t rflags)
{
	f->ps.cr4 = X86_CR4_PAE | cr4;
	f->ps.rflags = 2 | rflags;
	vmmu_paging_update(&f->ps);
}

static void test_smap_ac_implicit(void **state)
{
	struct fx *f = *state;
	const uint64_t u = 0x10000, ro = 0x11000, pfp = X86_PFEC_P;

	fx_long(f, false, 46);
	fx_map4k(f, u, PRWU, 0x20000);
	fx_map4k(f, ro, P | US, 0x21000);
	set_cr4(f, X86_CR4_SMAP, 0);
	assert_pf(walk_as(f, u, R, 0, false), u, pfp);
	assert_pf(walk_as(f, u, W, 0, false), u, pfp | X86_PFEC_W);
	/* Fetches are SMEP's business, not SMAP's. */
	assert_true(walk_as(f, u, X, 0, false).ok);
	/* User-mode accesses are not affected. */
	assert_true(walk_as(f, u, W, 3, false).ok);
	set_cr4(f, X86_CR4_SMAP, X86_RFLAGS_AC);
	assert_true(walk_as(f, u, R, 0, false).ok);
	assert_true(walk_as(f, u, W, 2, false).ok);
	/* ...but with CR0.WP = 1 AC does not make a read-only page writable. */
	assert_pf(walk_as(f, ro, W, 0, false), ro, pfp | X86_PFEC_W);
	/* Implicit supervisor accesses ignore AC, at any CPL; U/S = 0. */
	assert_pf(walk_as(f, u, R, 0, true), u, pfp);
	assert_pf(walk_as(f, u, R, 3, true), u, pfp);
	assert_pf(walk_as(f, u, W, 3, true), u, pfp | X86_PFEC_W);
	/* Without SMAP an implicit access at CPL 3 may use user pages, and
	 * writes to read-only ones with CR0.WP = 0. */
	set_cr4(f, 0, 0);
	assert_true(walk_as(f, u, R, 3, true).ok);
	assert_pf(walk_as(f, ro, W, 3, true), ro, pfp | X86_PFEC_W);
	f->ps.cr0 &= ~X86_CR0_WP;
	vmmu_paging_update(&f->ps);
	assert_true(walk_as(f, ro, W, 3, true).ok);
	assert_pf(walk_as(f, ro, W, 3, false), ro, pfp | X86_PFEC_W | X86_PFEC_U);
	/* CR0.WP = 0, SMAP = 1, AC = 0: supervisor writes to user pages fault. */
	set_cr4(f, X86_CR4_SMAP, 0);
	assert_pf(walk_as(f, ro, W, 0, false), ro, pfp | X86_PFEC_W);
	set_cr4(f, X86_CR4_SMAP, X86_RFLAGS_AC);
	assert_true(walk_as(f, ro, W, 0, false).ok);
}

static void test_smep_wp_nx(void **state)
{
	struct fx *f = *state;
	const uint64_t u = 0x10000, s = 0x12000, sro = 0x13000;

	fx_regs(f, CR0_PG_PE_WP, X86_CR4_PAE | X86_CR4_SMEP, EFER_LM, 46);
	fx_map4k(f, u, PRWU, 0x20000);
	fx_map4k(f, s, PRW, 0x22000);
	fx_map4k(f, sro, P, 0x23000);
	/* SMEP: I/D is set even without EFER.NXE (SDM 4.7). */
	assert_pf(walk_as(f, u, X, 0, false), u, X86_PFEC_P | X86_PFEC_I);
	assert_true(walk_as(f, u, X, 3, false).ok);
	assert_true(walk_as(f, s, X, 0, false).ok);
	assert_true(walk_as(f, u, R, 0, false).ok);
	assert_pf(walk_as(f, s, X, 3, false), s, X86_PFEC_P | X86_PFEC_I |
		  X86_PFEC_U);
	/* CR0.WP. */
	assert_pf(walk_as(f, sro, W, 0, false), sro, X86_PFEC_P | X86_PFEC_W);
	f->ps.cr0 &= ~X86_CR0_WP;
	vmmu_paging_update(&f->ps);
	assert_ok(walk_as(f, sro, W, 0, false), 0x23000, 4096);
	assert_int_equal(rd(f, walk_as(f, sro, R, 0, false).pte_gpa[3].v, 8),
			 0x23000 | P | A | D);
	/* No SMEP, no NXE: a fetch fault has no I/D. */
	set_cr4(f, 0, 0);
	assert_pf(walk_as(f, s, X, 3, false), s, X86_PFEC_P | X86_PFEC_U);
}

static void test_pku(void **state)
{
	struct fx *f = *state;
	const uint64_t k = 0x10000, sup = 0x11000, ro = 0x12000;
	const uint64_t key15 = 15ULL << X86_PTE_PKEY_SHIFT;
	const uint32_t ad15 = 1U << 30, wd15 = 1U << 31, pf = X86_PFEC_P;

	fx_long(f, false, 46);
	fx_map4k(f, k, PRWU | key15, 0x20000);
	fx_map4k(f, sup, PRW | key15, 0x21000);
	fx_map4k(f, ro, P | US | key15, 0x22000);
	/* Without CR4.PKE the key bits are ignored. */
	f->ps.pkru = ad15 | wd15;
	assert_true(walk_as(f, k, W, 3, false).ok);
	set_cr4(f, X86_CR4_PKE, 0);
	assert_pf(walk_as(f, k, R, 3, false), k, pf | X86_PFEC_U | X86_PFEC_PK);
	assert_pf(walk_as(f, k, R, 0, false), k, pf | X86_PFEC_PK);
	assert_pf(walk_as(f, k, R, 3, true), k, pf | X86_PFEC_PK);
	/* Fetches and supervisor pages are not subject to keys. */
	assert_true(walk_as(f, k, X, 3, false).ok);
	assert_true(walk_as(f, sup, W, 0, false).ok);
	/* WD: user writes fault, reads do not. */
	f->ps.pkru = wd15;
	assert_true(walk_as(f, k, R, 3, false).ok);
	assert_pf(walk_as(f, k, W, 3, false), k,
		  pf | X86_PFEC_U | X86_PFEC_W | X86_PFEC_PK);
	/* Supervisor writes: WD applies only with CR0.WP = 1. */
	assert_pf(walk_as(f, k, W, 0, false), k, pf | X86_PFEC_W | X86_PFEC_PK);
	f->ps.cr0 &= ~X86_CR0_WP;
	vmmu_paging_update(&f->ps);
	assert_true(walk_as(f, k, W, 0, false).ok);
	assert_pf(walk_as(f, k, W, 3, false), k,
		  pf | X86_PFEC_U | X86_PFEC_W | X86_PFEC_PK);
	/* A rights fault and a key fault together: PK is still reported. */
	assert_pf(walk_as(f, ro, W, 3, false), ro,
		  pf | X86_PFEC_U | X86_PFEC_W | X86_PFEC_PK);
	/* With keys allowing the access, only the rights fault remains. */
	f->ps.pkru = ~(ad15 | wd15);
	assert_pf(walk_as(f, ro, W, 3, false), ro, pf | X86_PFEC_U | X86_PFEC_W);
	assert_true(walk_as(f, k, W, 3, false).ok);
	/* Not present: no key, no PK. */
	f->ps.pkru = ~0U;
	assert_pf(walk_as(f, 0x40000000ULL, R, 3, false), 0x40000000ULL,
		  X86_PFEC_U);
}

/* 32-bit paging updates 4-byte entries without touching their neighbours. */
static void test_2level_ad_size(void **state)
{
	struct fx *f = *state;
	const uint64_t fl[6] = { 0, PRWU, PRWU, 0, 0, 0 };
	struct vmmu_walk_result r;
	struct log_mem m;

	fx_regs(f, CR0_PG_PE_WP, 0, 0, 32);
	fx_map(f, 0x00401000ULL, 1, fl, 0x5000);
	fx_map(f, 0x00402000ULL, 1, fl, 0x6000);
	lm_init(&m, f);
	r = lm_walk(f, &m, 0x00401000ULL, W, 3);
	assert_true(r.ok);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.w[0].len, 4);
	assert_int_equal(m.w[1].len, 4);
	assert_int_equal(m.w[1].val, 0x5000 | PRWU | A | D);
	assert_int_equal(rd(f, r.pte_gpa[1].v + 4, 4), 0x6000 | PRWU);
}

/*
 * VMMU_PAGING_A_ON_FAULT (docs/walker.md): the 4-level tables fx_map
 * builds in a fresh fixture for these gvas, and the A writes each fault
 * must make. G: PML4E 0x1000, PDPTE 0x10800, PDE 0x11008, PTE 0x12008;
 * G2 (2 MiB) PDE 0x11010; G1 (1 GiB) PDPTE 0x10808.
 */
#define AF_G   0x0000004000201000ULL
#define AF_G2  0x0000004000400000ULL
#define AF_G1  0x0000004040000000ULL
#define AF_PML4E 0x1000ULL
#define AF_PDPTE 0x10800ULL
#define AF_PDE   0x11008ULL
#define AF_PTE   0x12008ULL
#define AF_PDE2  0x11010ULL
#define AF_PDPTE1 0x10808ULL

static void af_clear_a(struct fx *f)
{
	static const uint64_t gpas[] = { AF_PML4E, AF_PDPTE, AF_PDE, AF_PTE,
					 AF_PDE2, AF_PDPTE1 };
	unsigned i;

	for (i = 0; i < sizeof(gpas) / sizeof(gpas[0]); i++)
		wr(f, gpas[i], rd(f, gpas[i], 8) & ~(A | D), 8);
}

/* Walk after clearing every A bit; the logged writes must be want[0..n). */
static void af_expect(struct fx *f, uint64_t gva, enum vmmu_access_kind k,
		      unsigned cpl, uint32_t pfec, const uint64_t *want,
		      unsigned n)
{
	struct log_mem m;
	unsigned i;

	af_clear_a(f);
	lm_init(&m, f);
	assert_pf(lm_walk(f, &m, gva, k, cpl), gva, pfec);
	if (!(f->ps.quirks & VMMU_PAGING_A_ON_FAULT))
		n = 0;          /* the default: all or nothing */
	assert_int_equal(m.n, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(m.w[i].gpa, want[i]);
		assert_int_equal(m.w[i].len, 8);
		/* A set, D never, nothing else changed. */
		assert_int_equal(m.w[i].val, rd(f, want[i], 8));
		assert_int_equal(m.w[i].val & (A | D), A);
	}
}

static const uint64_t af_upper3[] = { AF_PML4E, AF_PDPTE, AF_PDE };
static const uint64_t af_1g[] = { AF_PML4E, AF_PDPTE1 };

/* (a) not present at the PTE, the PDE, the PML4E. */
static void af_not_present(struct fx *f)
{
	uint64_t fl[6] = { 0, 0, PRWU, PRWU, PRWU, 0 };

	fx_map(f, AF_G, 1, fl, 0x9000);
	af_expect(f, AF_G, R, 3, X86_PFEC_U, af_upper3, 3);
	fl[2] = 0;
	fx_map(f, AF_G, 1, fl, 0x9000);
	af_expect(f, AF_G, W, 0, X86_PFEC_W, af_upper3, 2);
	fl[2] = PRWU;
	fl[4] = 0;
	fx_map(f, AF_G, 1, fl, 0x9000);
	af_expect(f, AF_G, R, 0, 0, af_upper3, 0);
	fl[4] = PRWU;
	fx_map(f, AF_G, 1, fl, 0x9000);
}

/* (b) reserved bits: in the PTE, a non-leaf PDPTE, a 1 GiB PDPTE. */
static void af_reserved(struct fx *f)
{
	const uint32_t rsvd = X86_PFEC_P | X86_PFEC_RSVD;
	uint64_t fl[6] = { 0, PRWU | (1ULL << 50), PRWU, PRWU, PRWU, 0 };

	fx_map(f, AF_G, 1, fl, 0x9000);
	af_expect(f, AF_G, R, 0, rsvd, af_upper3, 3);
	fl[1] = PRWU;
	fl[3] = PRWU | (1ULL << 50);
	fx_map(f, AF_G, 1, fl, 0x9000);
	af_expect(f, AF_G, R, 0, rsvd, af_upper3, 1);
	fl[3] = PRWU;
	fx_map(f, AF_G, 1, fl, 0x9000);
	/* 1 GiB PDPTE: bit 13 is reserved only in a 1 GiB page (A first). */
	fl[3] = PRWU | PS | (1ULL << 13);
	fx_map(f, AF_G1, 3, fl, 0x40000000);
	af_expect(f, AF_G1, R, 0, rsvd, af_1g, 2);
	/* Bit 50 is reserved in every PDPTE: no A on it. */
	fl[3] = PRWU | PS | (1ULL << 50);
	fx_map(f, AF_G1, 3, fl, 0x40000000);
	af_expect(f, AF_G1, R, 0, rsvd, af_1g, 1);
}

/* (c) rights: 4 KiB, 2 MiB and 1 GiB leaves; writes set no D. */
static void af_rights(struct fx *f)
{
	const uint32_t pw = X86_PFEC_P | X86_PFEC_W;
	uint64_t fl[6] = { 0, P | US, PRWU, PRWU, PRWU, 0 };

	fx_map(f, AF_G, 1, fl, 0x9000);
	af_expect(f, AF_G, W, 3, pw | X86_PFEC_U, af_upper3, 3);
	fl[2] = P | PS;     /* supervisor, read-only; CR0.WP = 1 */
	fx_map(f, AF_G2, 2, fl, 0x200000);
	af_expect(f, AF_G2, W, 0, pw, af_upper3, 2);
	fl[3] = P | US | PS;
	fx_map(f, AF_G1, 3, fl, 0x40000000);
	af_expect(f, AF_G1, W, 3, pw | X86_PFEC_U, af_1g, 2);
}

/* (d) protection keys: key 3 access-disabled, 4 KiB and 1 GiB leaves. */
static void af_pkey(struct fx *f)
{
	const uint32_t pk = X86_PFEC_P | X86_PFEC_U | X86_PFEC_PK;
	uint64_t fl[6] = { 0, PRWU | (3ULL << X86_PTE_PKEY_SHIFT), PRWU, PRWU,
			   PRWU, 0 };

	f->ps.cr4 |= X86_CR4_PKE;
	f->ps.pkru = 1U << 6;
	vmmu_paging_update(&f->ps);
	fx_map(f, AF_G, 1, fl, 0x9000);
	af_expect(f, AF_G, R, 3, pk, af_upper3, 3);
	fl[3] = PRWU | PS | (3ULL << X86_PTE_PKEY_SHIFT);
	fx_map(f, AF_G1, 3, fl, 0x40000000);
	af_expect(f, AF_G1, W, 3, pk | X86_PFEC_W, af_1g, 2);
	f->ps.cr4 &= ~X86_CR4_PKE;
	f->ps.pkru = 0;
	vmmu_paging_update(&f->ps);
}

static void af_all(struct fx *f, uint32_t quirks)
{
	fx_long(f, false, 46);
	f->ps.quirks = quirks;
	vmmu_paging_update(&f->ps);
	af_not_present(f);
	af_reserved(f);
	af_rights(f);
	af_pkey(f);
}

static void test_a_on_fault_4level(void **state)
{
	af_all(*state, VMMU_PAGING_A_ON_FAULT);
}

/* The same faults without the quirk write nothing (all or nothing). */
static void test_a_on_fault_default(void **state)
{
	af_all(*state, 0);
}

/* 32-bit paging (4-byte A write) and PAE (the PDPTE gets no A). */
static void test_a_on_fault_2level_pae(void **state)
{
	struct fx *f = *state;
	uint64_t fl[6] = { 0, 0, PRWU, P, 0, 0 };
	struct vmmu_walk_result r;
	struct log_mem m;

	fx_regs(f, CR0_PG_PE, 0, 0, 36);
	f->ps.quirks = VMMU_PAGING_A_ON_FAULT;
	vmmu_paging_update(&f->ps);
	fx_map(f, 0x00401000, 1, fl, 0x9000);
	lm_init(&m, f);
	assert_pf(lm_walk(f, &m, 0x00401000, R, 0), 0x00401000, 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.w[0].gpa, 0x1004);
	assert_int_equal(m.w[0].len, 4);
	assert_int_equal(m.w[0].val, 0x10000 | PRWU | A);
	assert_int_equal(rd(f, 0x1004, 4), 0x10000 | PRWU | A);

	fx_regs(f, CR0_PG_PE_WP, X86_CR4_PAE, X86_EFER_NXE, 36);
	f->ps.cr3 = 0x2000;     /* fresh PDPT; tables continue from 0x11000 */
	fx_map(f, 0x40201000, 1, fl, 0x9000);
	lm_init(&m, f);
	r = lm_walk(f, &m, 0x40201000, W, 0);
	assert_pf(r, 0x40201000, X86_PFEC_W);
	assert_int_equal(r.levels, 3);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.w[0].gpa, 0x11008);  /* the PDE */
	assert_int_equal(m.w[0].val, 0x12000 | PRWU | A);
	assert_int_equal(rd(f, 0x2008, 8), 0x11000 | P);   /* PDPTE: no A */
}

/* A lost cmpxchg while setting A on a faulting walk restarts it. */
static void test_a_on_fault_race(void **state)
{
	struct fx *f = *state;
	uint64_t fl[6] = { 0, 0, PRWU, PRWU, PRWU, 0 };
	struct vmmu_walk_result r;
	struct log_mem m;

	fx_long(f, false, 46);
	f->ps.quirks = VMMU_PAGING_A_ON_FAULT;
	vmmu_paging_update(&f->ps);
	fx_map(f, AF_G, 1, fl, 0x9000);
	lm_init(&m, f);
	m.inject = 1;
	m.inject_count = 1;
	r = lm_walk(f, &m, AF_G, R, 0);
	assert_pf(r, AF_G, 0);
	assert_int_equal(r.restarts, 1);
	assert_int_equal(m.n, 3);
	assert_int_equal(m.w[0].gpa, AF_PML4E);
	assert_int_equal(m.w[2].gpa, AF_PDE);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_ad_sequence),
		T(test_no_ad_on_fault),
		T(test_cmpxchg_race),
		T(test_smap_ac_implicit),
		T(test_smep_wp_nx),
		T(test_pku),
		T(test_2level_ad_size),
		T(test_a_on_fault_4level),
		T(test_a_on_fault_default),
		T(test_a_on_fault_2level_pae),
		T(test_a_on_fault_race),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
