/* SPDX-License-Identifier: MIT */
/*
 * The TLB model against an independent reference: a flat list of every
 * fill with no capacity limit, where each invalidation is written again
 * from the SDM/APM text (not from core/tlb_inv.c's filter). Random fills,
 * lookups, tag changes and invalidations of every kind:
 *  - safety (every configuration): a hit, PWC/NPWC start level or
 *    guest-physical hit must be backed by a live reference record with the
 *    same tag, address, value and rights that allows the access;
 *  - completeness (a configuration large enough that nothing is evicted,
 *    checked through the eviction counters): while the reference holds a
 *    live record, the model finds one too, and the deepest one for the
 *    caches. So an invalidation may not flush what its rule keeps.
 */
#include "tlb_common.h"

enum rkind { R_TLB, R_PWC, R_GPA, R_NPWC };

struct rec {
	enum rkind kind;
	uint16_t vpid, pcid;
	uint8_t ctx;
	bool g, live;
	uint64_t base, shift;       /* covers addresses with equal bits above */
	unsigned level, mode;       /* PWC, NPWC */
	uint64_t val;
	uint8_t rights, pkey, nested;
	bool dirty;
};

#define MAXREC 60000
static struct rec ref[MAXREC];
static unsigned nref;
static uint16_t cur_vpid, cur_pcid;
static uint8_t cur_ctx;
static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* Pages with distinct low vpn bits so the large config never evicts. */
static uint64_t addr_pool(void)
{
	static const uint64_t base[4] = { 0x0000000040000000ULL,
		0x00007f0000000000ULL, 0x0000000000c00000ULL,
		0xffffff8000000000ULL };

	return base[pick(4)] + (uint64_t)pick(6) * 0x201000ULL + pick(4096);
}

static uint64_t gpa_pool(void)
{
	return 0x100000000ULL * pick(2) + (uint64_t)pick(6) * 0x201000ULL +
	       pick(4096);
}

static bool covers(const struct rec *r, uint64_t a)
{
	return ((r->base ^ a) >> r->shift) == 0;
}

static void add(const struct rec *r)
{
	if (nref == MAXREC) {   /* compact */
		unsigned i, j = 0;

		for (i = 0; i < nref; i++)
			if (ref[i].live)
				ref[j++] = ref[i];
		nref = j;
		assert_true(nref < MAXREC);
	}
	ref[nref] = *r;
	ref[nref++].live = true;
}

static unsigned pwc_sh(unsigned mode, unsigned level)
{
	if (mode == VMMU_PAGING_2LEVEL)
		return 22;
	return 12 + 9 * (level - 1);
}

/* ---- the reference's invalidation rules ------------------------------ */

enum op {
	O_INVLPG, O_INVPCID, O_CR3, O_CR0, O_CR4, O_INVEPT, O_INVVPID,
	O_SVM, O_INVLPGA, O_PF, O_EPTV, O_FLUSH, O_NOP
};

struct opd {
	enum op op;
	unsigned type;
	uint64_t la, x, y;
};

static bool guest_dim(const struct rec *r)
{
	return r->kind == R_TLB || r->kind == R_PWC;
}

/* Does operation o (already validated) invalidate r? */
static bool ref_kills(const struct opd *o, const struct rec *r)
{
	bool tlb = r->kind == R_TLB, pwc = r->kind == R_PWC;
	bool ng = tlb && !r->g;   /* a non-global translation */
	bool me = guest_dim(r) && r->vpid == cur_vpid;

	switch (o->op) {
	case O_INVLPG:  /* 4.10.4.1 */
		return me && ((tlb && covers(r, o->la) &&
			       (r->g || r->pcid == cur_pcid)) ||
			      (pwc && r->pcid == cur_pcid));
	case O_INVPCID:
		if (!me || (o->type < 2 && r->pcid != o->x))
			return false;
		if (o->type == 0)
			return (ng || pwc) && covers(r, o->la);
		return o->type == 2 || ng || pwc;
	case O_CR3:
		return me && r->pcid == cur_pcid && (ng || pwc);
	case O_CR0:
		return me;
	case O_CR4:     /* x = 1: all PCIDs, else the current one */
		return me && (o->x || r->pcid == cur_pcid);
	case O_INVEPT:  /* 29.4.3.1: x = EP4TA context; type 2 all but 0 */
		return o->type == 1 ? r->ctx == o->x : r->ctx != 0;
	case O_INVVPID:
		if (!guest_dim(r))
			return false;
		if (o->type == 2)
			return r->vpid != 0;
		if (r->vpid != o->x)
			return false;
		if (o->type == 0)
			return covers(r, o->la);
		return o->type == 1 || ng || pwc;
	case O_SVM:     /* x = ASID, y = nCR3 context */
		if (o->type == 1)
			return true;
		if (!guest_dim(r))
			return r->ctx == o->y;
		return r->vpid == o->x && (o->type == 3 || ng || pwc);
	case O_INVLPGA:
		return guest_dim(r) && r->vpid == o->x && covers(r, o->la);
	case O_PF:      /* 4.10.4.1: current PCID, entries used for la */
		return me && r->pcid == cur_pcid && covers(r, o->la);
	case O_EPTV:    /* 29.4.3.1: y = gpa; type 1: la too */
		if (!guest_dim(r))
			return r->ctx == cur_ctx && covers(r, o->y);
		return o->type && me && r->ctx == cur_ctx &&
		       r->pcid == cur_pcid && covers(r, o->la);
	case O_FLUSH:
		return true;
	default:
		return false;
	}
}

/* A random MOV to CR3/CR0/CR4 on t; o->op becomes O_NOP if it flushes
 * nothing, o->x tells the reference a CR4 flush's scope. */
static void random_mov_cr(struct vmmu_tlb *t, struct opd *o)
{
	static const uint64_t cr4bits[] = { 1ULL << 7, X86_CR4_PCIDE,
		X86_CR4_PAE, X86_CR4_SMEP, X86_CR4_SMAP };
	uint64_t a = 0, b = 0, cr3 = 0x1000 | pick(3) |
				    (pick(3) ? 0 : 1ULL << 63);
	bool pcide = pick(2);
	unsigned i;

	if (o->op == O_CR3) {
		vmmu_tlb_mov_cr3(t, cr3, pcide);
		cur_pcid = pcide ? cr3 & 0xfff : 0;
		if (pcide && (cr3 >> 63))
			o->op = O_NOP;
		return;
	}
	if (o->op == O_CR0) {
		a = pick(2) ? X86_CR0_PG : 0;
		b = pick(2) ? X86_CR0_PG : 0;
		vmmu_tlb_mov_cr0(t, a, b);
		if (!(a && !b))
			o->op = O_NOP;
		return;
	}
	for (i = 0; i < 5; i++) {
		a |= pick(2) ? cr4bits[i] : 0;
		b |= pick(2) ? cr4bits[i] : 0;
	}
	vmmu_tlb_mov_cr4(t, a, b);
	if (((a ^ b) & (1ULL << 7)) ||
	    ((a & X86_CR4_PCIDE) && !(b & X86_CR4_PCIDE)))
		o->x = 1;
	else if (((a ^ b) & X86_CR4_PAE) ||
		 (!(a & X86_CR4_SMEP) && (b & X86_CR4_SMEP)))
		o->x = 0;
	else
		o->op = O_NOP;
}

/* Run a random invalidation on t and on the reference. */
static void random_inv(struct vmmu_tlb *t)
{
	struct opd o = { O_NOP, 0, addr_pool(), 0, 0 };
	unsigned i;
	int rc = 0;

	o.op = (enum op)pick(O_NOP);
	switch (o.op) {
	case O_INVLPG: vmmu_tlb_invlpg(t, mk_gva(o.la)); break;
	case O_INVPCID:
		o.type = pick(4);
		o.x = pick(3);
		rc = vmmu_tlb_invpcid(t, o.type, (uint16_t)o.x, mk_gva(o.la));
		break;
	case O_CR3:
	case O_CR0:
	case O_CR4:
		random_mov_cr(t, &o);
		break;
	case O_INVEPT:
		o.type = 1 + pick(2);
		o.x = pick(3);
		rc = vmmu_tlb_invept(t, o.type, (uint8_t)o.x);
		break;
	case O_INVVPID:
		o.type = pick(4);
		o.x = pick(3);
		rc = vmmu_tlb_invvpid(t, o.type, (uint16_t)o.x, mk_gva(o.la));
		break;
	case O_SVM: {
		static const unsigned ctl[8] = { 1, 3, 3, 3, 7, 7, 7, 7 };

		o.type = ctl[pick(8)];
		o.x = pick(3);
		o.y = pick(3);
		rc = vmmu_tlb_svm_tlb_control(t, o.type, (uint16_t)o.x,
					      (uint8_t)o.y);
		break;
	}
	case O_INVLPGA:
		o.x = pick(3);
		vmmu_tlb_invlpga(t, mk_gva(o.la), (uint16_t)o.x);
		break;
	case O_PF:
		vmmu_tlb_page_fault(t, mk_gva(o.la));
		break;
	case O_EPTV:
		o.type = pick(2);
		o.y = gpa_pool();
		vmmu_tlb_ept_violation(t, mk_gpa(o.y), o.type, mk_gva(o.la));
		break;
	case O_FLUSH:
		if (pick(4))
			return;
		vmmu_tlb_flush_all(t);
		break;
	default:
		return;
	}
	if (rc < 0)
		return;
	for (i = 0; i < nref; i++)
		if (ref[i].live && ref_kills(&o, &ref[i]))
			ref[i].live = false;
}

/* ---- fills and lookups ------------------------------------------------ */

static const uint64_t sizes[4] = { KiB4, MiB2, MiB4, GiB1 };

static void random_fill(struct vmmu_tlb *t)
{
	struct rec r;
	unsigned which = pick(10);

	memset(&r, 0, sizeof(r));
	r.vpid = cur_vpid;
	r.pcid = cur_pcid;
	r.ctx = cur_ctx;
	r.val = (rnd() & 0xfffffc0000000ULL);
	r.nested = (uint8_t)pick(8);
	if (pick(4))
		r.nested = NRWX;
	if (which < 6) {
		struct vmmu_tlb_fill f;
		unsigned ps = pick(8) < 5 ? 0 : pick(4);

		memset(&f, 0, sizeof(f));
		r.kind = R_TLB;
		r.shift = ps == 0 ? 12 : ps == 1 ? 21 : ps == 2 ? 22 : 30;
		r.base = addr_pool() & ~((1ULL << r.shift) - 1);
		r.g = pick(4) == 0;
		r.rights = (uint8_t)(pick(3) ? 3 : pick(8));
		r.pkey = (uint8_t)pick(16);
		r.dirty = pick(3) != 0;
		f.gva = mk_gva(r.base + pick(1U << 12));
		f.hpa = mk_hpa(r.val);
		f.page_size = sizes[ps];
		f.rights = r.rights;
		f.pkey = r.pkey;
		f.global = r.g;
		f.dirty = r.dirty;
		f.nested = r.nested;
		f.kind = (enum vmmu_access_kind)pick(3);
		assert_int_equal(vmmu_tlb_fill(t, &f), 0);
	} else if (which < 8) {
		static const unsigned modes[4] = { VMMU_PAGING_2LEVEL,
			VMMU_PAGING_PAE, VMMU_PAGING_4LEVEL, VMMU_PAGING_5LEVEL };
		static const unsigned top[4] = { 2, 2, 4, 5 };
		unsigned m = pick(4);

		r.kind = R_PWC;
		r.mode = modes[m];
		r.level = 2 + pick(top[m] - 1);
		r.shift = pwc_sh(r.mode, r.level);
		r.base = addr_pool() & ~((1ULL << r.shift) - 1);
		r.rights = (uint8_t)pick(8);
		r.val &= ~0xfffULL;
		assert_int_equal(vmmu_tlb_pwc_fill(t, r.mode, mk_gva(r.base),
				 r.level, mk_gpa(r.val), r.rights), 0);
	} else if (which == 8) {
		unsigned ps = pick(3) == 0 ? 1 : 0;

		r.kind = R_GPA;
		r.shift = ps ? 21 : 12;
		r.base = gpa_pool() & ~((1ULL << r.shift) - 1);
		r.vpid = r.pcid = 0;
		assert_int_equal(vmmu_tlb_gpa_fill(t, mk_gpa(r.base + 5),
				 mk_hpa(r.val), sizes[ps], r.nested), 0);
	} else {
		r.kind = R_NPWC;
		r.level = 2 + pick(3);
		r.mode = 0;
		r.shift = pwc_sh(VMMU_PAGING_4LEVEL, r.level);
		r.base = gpa_pool() & ~((1ULL << r.shift) - 1);
		r.vpid = r.pcid = 0;
		assert_int_equal(vmmu_tlb_npwc_fill(t, mk_gpa(r.base), r.level,
				 mk_hpa(r.val), r.nested), 0);
		r.rights = r.nested;
	}
	add(&r);
}

/* Does live reference record r serve a lookup of a under the current tag? */
static bool tlb_match(const struct rec *r, uint64_t a)
{
	return r->live && r->kind == R_TLB && r->vpid == cur_vpid &&
	       r->ctx == cur_ctx && (r->g || r->pcid == cur_pcid) &&
	       covers(r, a);
}

static bool allows(const struct rec *r, const struct vmmu_paging_state *ps,
		   const struct vmmu_access *acc)
{
	if (!(r->nested & (1U << acc->kind)))
		return false;
	if (acc->kind == VMMU_ACCESS_WRITE && !r->dirty)
		return false;
	return vmmu_walk_check_rights(ps, acc, r->rights, r->pkey, NULL) == 1;
}

static void check_tlb_lookup(struct vmmu_tlb *t,
			     const struct vmmu_paging_state *ps, bool complete)
{
	struct vmmu_access acc = { mk_gva(addr_pool()),
		(enum vmmu_access_kind)pick(3), (uint8_t)(pick(2) * 3), false };
	hpa_t h = mk_hpa(0);
	int rc = vmmu_tlb_lookup(t, ps, &acc, &h);
	bool any = false, ok = false;
	unsigned i;

	for (i = 0; i < nref; i++) {
		const struct rec *r = &ref[i];

		if (!tlb_match(r, acc.gva.v))
			continue;
		any = true;
		if (rc == VMMU_TLB_HIT && allows(r, ps, &acc) &&
		    h.v == r->val + (acc.gva.v & ((1ULL << r->shift) - 1)))
			ok = true;
	}
	if (rc == VMMU_TLB_HIT && !ok)
		fail_msg("hit %llx -> %llx not backed by a live translation",
			 (unsigned long long)acc.gva.v, (unsigned long long)h.v);
	if (rc == VMMU_TLB_REFUSED && !any)
		fail_msg("refused without a live translation");
	if (rc == VMMU_TLB_MISS && any && complete)
		fail_msg("miss for %llx: a live translation was lost",
			 (unsigned long long)acc.gva.v);
	if (rc == VMMU_TLB_REFUSED)     /* SDM 4.10.4.1: the #PF drops it */
		for (i = 0; i < nref; i++)
			if (tlb_match(&ref[i], acc.gva.v))
				ref[i].live = false;
}

/* PWC / NPWC: the returned start level is backed, and deepest if complete. */
static void check_cache_lookup(struct vmmu_tlb *t, bool nested, bool complete)
{
	static const unsigned modes[4] = { VMMU_PAGING_2LEVEL, VMMU_PAGING_PAE,
		VMMU_PAGING_4LEVEL, VMMU_PAGING_5LEVEL };
	static const unsigned tops[4] = { 2, 3, 4, 5 };
	unsigned m = pick(4), mode = nested ? 0 : modes[m];
	unsigned top = nested ? 4 + pick(2) : tops[m], got, i, deepest = top;
	uint64_t a = nested ? gpa_pool() : addr_pool();
	struct vmmu_tlb_pwc_hit h;
	bool ok = false;

	memset(&h, 0, sizeof(h));
	got = nested ? vmmu_tlb_npwc_lookup(t, top, mk_gpa(a), &h)
		     : vmmu_tlb_pwc_lookup(t, mode, mk_gva(a), &h);
	for (i = 0; i < nref; i++) {
		const struct rec *r = &ref[i];
		bool tag = nested ? r->ctx == cur_ctx
				  : r->vpid == cur_vpid && r->pcid == cur_pcid &&
				    r->ctx == cur_ctx && r->mode == mode;

		if (!r->live || r->kind != (nested ? R_NPWC : R_PWC) || !tag ||
		    r->level > top || !covers(r, a))
			continue;
		if (r->level - 1 < deepest)
			deepest = r->level - 1;
		if (got == r->level - 1 && h.table == r->val &&
		    h.rights == r->rights)
			ok = true;
	}
	if (got < top && !ok)
		fail_msg("%s start level %u not backed", nested ? "NPWC" : "PWC",
			 got);
	if (complete && got != deepest)
		fail_msg("%s start level %u, reference %u", nested ? "NPWC" : "PWC",
			 got, deepest);
}

static void check_gpa_lookup(struct vmmu_tlb *t, bool complete)
{
	uint64_t a = gpa_pool();
	enum vmmu_access_kind kind = (enum vmmu_access_kind)pick(3);
	hpa_t h = mk_hpa(0);
	int rc = vmmu_tlb_gpa_lookup(t, mk_gpa(a), kind, &h);
	bool any = false, ok = false;
	unsigned i;

	for (i = 0; i < nref; i++) {
		struct rec *r = &ref[i];

		if (!r->live || r->kind != R_GPA || r->ctx != cur_ctx ||
		    !covers(r, a))
			continue;
		any = true;
		if (rc == VMMU_TLB_REFUSED)
			r->live = false;
		if ((r->nested & (1U << kind)) &&
		    h.v == r->val + (a & ((1ULL << r->shift) - 1)))
			ok = true;
	}
	if (rc == VMMU_TLB_HIT && !ok)
		fail_msg("guest-physical hit not backed");
	if (rc == VMMU_TLB_MISS && any && complete)
		fail_msg("guest-physical translation lost");
}

static uint64_t evictions(const struct vmmu_tlb_stats *st)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < VMMU_TLB_NARRAY; i++)
		n += st->arr_evictions[i];
	return n;
}

static void run(const struct vmmu_tlb_config *cfg, uint64_t seed,
		unsigned steps, bool complete)
{
	struct vmmu_tlb *t = tlb_new(cfg);
	const struct vmmu_tlb_stats *st;
	struct vmmu_paging_state ps;
	uint64_t lookups = 0;
	unsigned i;

	ps_long(&ps);
	ps.cr4 |= X86_CR4_PKE | X86_CR4_SMEP;
	ps.pkru = 0x5a5a5a5aU;
	vmmu_paging_update(&ps);
	rng = seed;
	nref = 0;
	cur_vpid = cur_pcid = cur_ctx = 0;
	for (i = 0; i < steps; i++) {
		unsigned k = pick(100);

		if (k < 30) {
			check_tlb_lookup(t, &ps, complete);
			lookups++;
		} else if (k < 55) {
			random_fill(t);
		} else if (k < 62) {
			check_cache_lookup(t, false, complete);
		} else if (k < 67) {
			check_cache_lookup(t, true, complete);
		} else if (k < 72) {
			check_gpa_lookup(t, complete);
		} else if (k < 86) {
			random_inv(t);
		} else {
			cur_vpid = (uint16_t)pick(3);
			cur_pcid = (uint16_t)pick(2);
			cur_ctx = (uint8_t)pick(2);
			vmmu_tlb_set_tag(t, cur_vpid, cur_pcid, cur_ctx);
		}
		if (complete && evictions(vmmu_tlb_stats(t)))
			fail_msg("the large configuration evicted (step %u)", i);
	}
	st = vmmu_tlb_stats(t);
	assert_int_equal(st->lookups, lookups);
	assert_int_equal(st->hits + st->misses + st->refused_guest +
			 st->refused_nested + st->refused_dirty, lookups);
	free(t);
}

static void test_default_config(void **state)
{
	struct vmmu_tlb_config cfg;
	uint64_t seed;

	(void)state;
	assert_int_equal(vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_INTEL), 0);
	for (seed = 1; seed <= 4; seed++)
		run(&cfg, seed * 0x9e3779b97f4a7c15ULL, 40000, false);
	assert_int_equal(vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_AMD), 0);
	run(&cfg, 77, 40000, false);
}

/* Every TLB array tlb, the guest-physical TLB gpa, every PWC / NPWC level. */
static void uniform(struct vmmu_tlb_config *cfg, struct vmmu_tlb_geom tlb,
		    struct vmmu_tlb_geom gpa, struct vmmu_tlb_geom pwc,
		    struct vmmu_tlb_geom npwc)
{
	unsigned i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < VMMU_TLB_NARRAY; i++)
		cfg->tlb[i] = tlb;
	cfg->gpa_tlb = gpa;
	for (i = 0; i < VMMU_TLB_PWC_LEVELS; i++) {
		cfg->pwc[i] = pwc;
		cfg->npwc[i] = npwc;
	}
}

static void test_tiny_config(void **state)
{
	struct vmmu_tlb_config cfg;

	(void)state;
	uniform(&cfg, (struct vmmu_tlb_geom){ 2, 2 }, (struct vmmu_tlb_geom){ 1, 2 },
		(struct vmmu_tlb_geom){ 1, 1 }, (struct vmmu_tlb_geom){ 2, 1 });
	run(&cfg, 12345, 60000, false);
}

static void test_complete(void **state)
{
	struct vmmu_tlb_geom big = { 64, 64 };
	struct vmmu_tlb_config cfg;
	uint64_t seed;

	(void)state;
	uniform(&cfg, big, big, big, big);
	for (seed = 1; seed <= 4; seed++)
		run(&cfg, seed * 0x2545f4914f6cdd1dULL, 40000, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_config),
		cmocka_unit_test(test_tiny_config),
		cmocka_unit_test(test_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
