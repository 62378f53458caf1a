/* SPDX-License-Identifier: MIT */
/*
 * The shadow backend's PV interface (shadow-fallback/shadow_pv.c): pins
 * validating a 4-level tree recursively with a type count per frame, and
 * giving it all back on unpin or on a refused entry; mmu_update batches
 * applied up to the first refused entry; a page table never mapped
 * writable (by an entry, or in a shadow), a writable frame never pinned;
 * guest writes trapped on a pinned table validated as updates or turned
 * into a #PF.
 */
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "shadow-fallback/shadow.h"
#include "walk/walk_fixture.h"

#define T4     0x100000ULL      /* the PV tree: L4 -> L3 -> L2 -> L1 */
#define T3     0x101000ULL
#define T2     0x102000ULL
#define T1     0x103000ULL
#define T1B    0x104000ULL      /* a second L1 */
#define DATA   0x200000ULL
#define HOLE   0x10000000ULL    /* outside the VM's RAM */
#define PT_GVA 0x40000000ULL    /* the guest's own mapping of T1 */
#define FL     (PRWU | A | D)

struct pv {
	struct fx *f;
	struct vmmu_vcpu *vcpu;
};

static struct pv pv_state;

/* A shadow VM of one vCPU over the walker fixture's 4 MiB of RAM. */
static int pv_setup(void **state)
{
	struct pv *u = &pv_state;

	memset(u, 0, sizeof(*u));
	*state = u;
	if (fx_setup((void **)&u->f) < 0)
		return -1;
	return vmmu_vm_set_backend(u->f->vm, VMMU_BACKEND_SHADOW,
				   &vmmu_backend_shadow) < 0 ||
	       vmmu_vcpu_create(u->f->vm, &u->vcpu) < 0 ? -1 : 0;
}

static int pv_teardown(void **state)
{
	return fx_teardown((void **)&((struct pv *)*state)->f);
}

static void put(struct pv *u, uint64_t table, unsigned i, uint64_t v)
{
	wr(u->f, table + 8 * i, v, 8);
}

/* T4[0] -> T3[0] -> T2[0] -> T1; T1[0..3] writable data, T1[4] read-only. */
static void tree(struct pv *u)
{
	put(u, T4, 0, T3 | FL);
	put(u, T3, 0, T2 | FL);
	put(u, T2, 0, T1 | FL);
	for (unsigned i = 0; i < 4; i++)
		put(u, T1, i, (DATA + i * 0x1000) | FL);
	put(u, T1, 4, (DATA + 0x4000) | P | US | A);
}

static struct vmmu_pv_frame_info info(struct pv *u, uint64_t gpa)
{
	struct vmmu_pv_frame_info in;

	assert_int_equal(vmmu_shadow_pv_frame(u->f->vm, mk_gpa(gpa), &in), 0);
	return in;
}

static void assert_type(struct pv *u, uint64_t gpa, enum vmmu_pv_type t,
			uint32_t count)
{
	struct vmmu_pv_frame_info in = info(u, gpa);

	assert_int_equal(in.type, t);
	assert_int_equal(in.count, count);
}

static void assert_untyped(struct pv *u)
{
	static const uint64_t frames[] = { T4, T3, T2, T1, T1B, DATA, DATA + 0x1000,
					   DATA + 0x4000 };

	for (unsigned i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		assert_type(u, frames[i], VMMU_PV_NONE, 0);
}

static struct vmmu_shadow_stats stats(struct pv *u)
{
	struct vmmu_shadow_stats s;

	assert_int_equal(vmmu_shadow_stats(u->f->vm, &s), 0);
	return s;
}

static void test_pin_types_until_unpin(void **state)
{
	struct pv *u = *state;

	tree(u);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), 0);
	assert_type(u, T4, VMMU_PV_L4, 1);
	assert_true(info(u, T4).pinned);
	assert_type(u, T3, VMMU_PV_L3, 1);
	assert_false(info(u, T3).pinned);
	assert_type(u, T2, VMMU_PV_L2, 1);
	assert_type(u, T1, VMMU_PV_L1, 1);
	assert_type(u, DATA, VMMU_PV_WRITABLE, 1);
	assert_type(u, DATA + 0x3000, VMMU_PV_WRITABLE, 1);
	assert_type(u, DATA + 0x4000, VMMU_PV_NONE, 0);    /* read-only map */
	assert_int_equal(stats(u).pv_validated, 4);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), VMMU_EEXIST);
	/* T3 is an L3 already: pinning it as an L2 is a type conflict */
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T3), 2), VMMU_EBUSY);
	/* pinned as what it is: one more reference, kept after T4 goes */
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T3), 3), 0);
	assert_type(u, T3, VMMU_PV_L3, 2);
	assert_int_equal(vmmu_shadow_pv_unpin(u->f->vm, mk_gpa(T4)), 0);
	assert_type(u, T4, VMMU_PV_NONE, 0);
	assert_type(u, T3, VMMU_PV_L3, 1);
	assert_type(u, T1, VMMU_PV_L1, 1);
	assert_int_equal(vmmu_shadow_pv_unpin(u->f->vm, mk_gpa(T3)), 0);
	assert_untyped(u);
	assert_int_equal(vmmu_shadow_pv_unpin(u->f->vm, mk_gpa(T3)), VMMU_ENOENT);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4 + 8), 4), VMMU_EINVAL);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 5), VMMU_EINVAL);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(HOLE), 1), VMMU_EFAULT);
}

/* A refused entry anywhere in the tree: the pin fails, nothing is kept. */
static void test_pin_refused_gives_back(void **state)
{
	struct pv *u = *state;

	tree(u);
	put(u, T1, 5, HOLE | FL);                   /* not the VM's frame */
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), VMMU_EFAULT);
	assert_untyped(u);
	put(u, T1, 5, T2 | FL);                     /* a page table, writable */
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), VMMU_EBUSY);
	assert_untyped(u);
	put(u, T1, 5, T4 | P | A);                  /* read-only: allowed */
	put(u, T2, 1, (DATA + 0x200000) | FL | PS); /* a large page */
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), VMMU_EINVAL);
	assert_untyped(u);
	put(u, T2, 1, T2 | FL);                     /* a loop: T2 as an L1 */
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), VMMU_EBUSY);
	assert_untyped(u);
	put(u, T2, 1, 0);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), 0);
	assert_type(u, T4, VMMU_PV_L4, 1);
	assert_int_equal(vmmu_shadow_pv_unpin(u->f->vm, mk_gpa(T4)), 0);
	assert_untyped(u);
}

static void test_mmu_update_batch(void **state)
{
	struct pv *u = *state;
	struct vmmu_pv_update req[] = {
		{ T1 + 8 * 10, (DATA + 0x5000) | FL },
		{ T1 + 8 * 11, (DATA + 0x1000) | FL },  /* a second writable map */
		{ T1 + 8 * 12, T3 | FL },               /* a table, writable */
		{ T1 + 8 * 13, (DATA + 0x6000) | FL },
	};
	unsigned done = 99;

	tree(u);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), 0);
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, req, 4, &done),
			 VMMU_EBUSY);
	assert_int_equal(done, 2);
	assert_int_equal(rd(u->f, T1 + 8 * 10, 8), req[0].val);
	assert_int_equal(rd(u->f, T1 + 8 * 11, 8), req[1].val);
	assert_int_equal(rd(u->f, T1 + 8 * 12, 8), 0);
	assert_int_equal(rd(u->f, T1 + 8 * 13, 8), 0);
	assert_type(u, DATA + 0x5000, VMMU_PV_WRITABLE, 1);
	assert_type(u, DATA + 0x1000, VMMU_PV_WRITABLE, 2);
	assert_type(u, DATA + 0x6000, VMMU_PV_NONE, 0);
	assert_int_equal(stats(u).pv_updates, 2);
	/* replacing entries gives their references back */
	req[0].val = 0;
	req[1].val = (DATA + 0x1000) | P | US | A;
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, req, 2, &done), 0);
	assert_int_equal(done, 2);
	assert_type(u, DATA + 0x5000, VMMU_PV_NONE, 0);
	assert_type(u, DATA + 0x1000, VMMU_PV_WRITABLE, 1);
	/* not an entry of a validated table: data, misaligned, a hole */
	req[0] = (struct vmmu_pv_update){ DATA + 8, 0 };
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, req, 1, &done), VMMU_EINVAL);
	req[0] = (struct vmmu_pv_update){ T1 + 4, 0 };
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, req, 1, &done), VMMU_EINVAL);
	assert_int_equal(done, 0);
	req[0] = (struct vmmu_pv_update){ T1 + 8 * 14, HOLE | P | A };
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, req, 1, &done), VMMU_EFAULT);
	/* an L2 entry linking a new L1 validates it, one dropped unvalidates */
	put(u, T1B, 0, (DATA + 0x7000) | FL);
	req[0] = (struct vmmu_pv_update){ T2 + 8, T1B | FL };
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, req, 1, &done), 0);
	assert_type(u, T1B, VMMU_PV_L1, 1);
	assert_type(u, DATA + 0x7000, VMMU_PV_WRITABLE, 1);
	req[0].val = 0;
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, req, 1, &done), 0);
	assert_type(u, T1B, VMMU_PV_NONE, 0);
	assert_type(u, DATA + 0x7000, VMMU_PV_NONE, 0);
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, NULL, 0, &done), 0);
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, NULL, 1, &done), VMMU_EINVAL);
}

/* A pinned table cannot be made writable; a writable frame cannot be pinned. */
static void test_pinned_never_writable(void **state)
{
	struct pv *u = *state;
	struct vmmu_pv_update req = { T1 + 8 * 20, T1B | FL };
	unsigned done;

	tree(u);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), 0);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T1B), 1), 0);
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, &req, 1, &done), VMMU_EBUSY);
	assert_int_equal(rd(u->f, req.ptr, 8), 0);
	req.val = T1B | P | US | A;                 /* read-only is fine */
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, &req, 1, &done), 0);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(DATA), 1), VMMU_EBUSY);
	assert_type(u, DATA, VMMU_PV_WRITABLE, 1);
	assert_int_equal(vmmu_shadow_pv_unpin(u->f->vm, mk_gpa(T1B)), 0);
	req.val = T1B | FL;                         /* unpinned: a data page */
	assert_int_equal(vmmu_shadow_pv_mmu_update(u->f->vm, &req, 1, &done), 0);
	assert_type(u, T1B, VMMU_PV_WRITABLE, 1);
}

/* The vCPU in 4-level paging on the fixture's tables (the guest's own,
 * apart from the PV tables), through the event path. */
static void pv_long(struct pv *u)
{
	fx_long(u->f, false, 48);
	u->vcpu->paging.maxphyaddr = 48;
	assert_int_equal(vmmu_vcpu_set_cr(u->vcpu, VMMU_EFER, u->f->ps.efer), 0);
	assert_int_equal(vmmu_vcpu_set_cr(u->vcpu, VMMU_CR4, u->f->ps.cr4), 0);
	assert_int_equal(vmmu_vcpu_set_cr(u->vcpu, VMMU_CR3, FX_CR3), 0);
	assert_int_equal(vmmu_vcpu_set_cr(u->vcpu, VMMU_CR0, CR0_PG_PE_WP), 0);
}

static int no_writable_t1(void *ctx, hpa_t hpa, bool writable)
{
	return writable && hpa.v == *(uint64_t *)ctx;
}

static struct vmmu_access_result gwrite(struct pv *u, uint64_t gva, uint64_t v)
{
	struct vmmu_op op = { .acc = { mk_gva(gva), W, 3, false }, .size = 8,
			      .data = &v };
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vcpu_access(u->vcpu, &op, &r), 0);
	return r;
}

/* The guest's own writable alias of T1: its writes trap once T1 is pinned. */
static void test_trapped_writes_validated(void **state)
{
	struct pv *u = *state;
	struct vmmu_access_result r;
	struct vmmu_shadow_stats s0;
	const char *why = NULL;
	hpa_t t1;

	tree(u);
	pv_long(u);
	fx_map4k(u->f, PT_GVA, FL, T1);
	/* before the pin T1 is a plain page: the write runs natively */
	r = gwrite(u, PT_GVA + 8 * 30, (DATA + 0x8000) | P | US | A);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_false(r.emulated);
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), 0);
	assert_int_equal(vmmu_vm_gpa_to_hpa(u->f->vm, mk_gpa(T1), &t1), 0);
	assert_int_equal(vmmu_shadow_for_each_leaf(u->f->vm, no_writable_t1, &t1.v), 0);
	s0 = stats(u);
	/* a valid entry: validated and applied */
	r = gwrite(u, PT_GVA + 8 * 31, (DATA + 0x9000) | FL);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(r.emulated);
	assert_int_equal(rd(u->f, T1 + 8 * 31, 8), (DATA + 0x9000) | FL);
	assert_type(u, DATA + 0x9000, VMMU_PV_WRITABLE, 1);
	assert_int_equal(stats(u).pv_updates, s0.pv_updates + 1);
	/* a frame that is not the VM's, a table writable, a misaligned write */
	r = gwrite(u, PT_GVA + 8 * 32, HOLE | FL);
	assert_int_equal(r.status, VMMU_ACCESS_FAULT);
	assert_int_equal(r.fault.vector, X86_VEC_PF);
	assert_int_equal(r.fault.error_code, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U);
	assert_int_equal(r.fault.cr2.v, PT_GVA + 8 * 32);
	r = gwrite(u, PT_GVA + 8 * 33, T2 | FL);
	assert_int_equal(r.status, VMMU_ACCESS_FAULT);
	r = gwrite(u, PT_GVA + 8 * 34 + 4, 0);
	assert_int_equal(r.status, VMMU_ACCESS_FAULT);
	assert_int_equal(rd(u->f, T1 + 8 * 32, 8), 0);
	assert_int_equal(rd(u->f, T1 + 8 * 33, 8), 0);
	assert_int_equal(stats(u).pv_refused, s0.pv_refused + 3);
	assert_int_equal(vmmu_shadow_for_each_leaf(u->f->vm, no_writable_t1, &t1.v), 0);
	if (vmmu_shadow_check(u->f->vm, &why) < 0)
		fail_msg("%s", why);
	/* unpinned, T1 is a plain page again: the write runs (after a fault
	 * that upgrades the read-only leaf) without validation */
	assert_int_equal(vmmu_shadow_pv_unpin(u->f->vm, mk_gpa(T4)), 0);
	r = gwrite(u, PT_GVA + 8 * 32, HOLE | FL);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(rd(u->f, T1 + 8 * 32, 8), HOLE | FL);
}

/*
 * Random PV activity: batches of random entries (frames of the VM, holes,
 * large pages, tables, any rights) into random frames, pins and unpins at
 * random levels, and guest writes of random entries through writable
 * aliases of every frame. After each step the types are recounted from
 * the pinned tables in guest memory and must be what vmmu keeps, no
 * validated entry may break a rule, and the shadows must pass
 * vmmu_shadow_check (no table writable in a shadow).
 */
#define NPOOL 24                /* frames from T4 up: tables or data */
#define NRAM  (NPOOL + 5)       /* and the five data frames of tree() */
#define NENT  8                 /* entries the random steps touch */

struct recount {
	unsigned level[NRAM];
	uint32_t count[NRAM], wcount[NRAM];
};

static uint64_t frame_gpa(unsigned i)
{
	return i < NPOOL ? T4 + i * 0x1000ULL : DATA + (i - NPOOL) * 0x1000ULL;
}

static int frame_index(uint64_t gpa)
{
	for (unsigned i = 0; i < NRAM; i++)
		if (frame_gpa(i) == gpa)
			return (int)i;
	return -1;
}

static void mark(struct pv *u, struct recount *c, unsigned i, unsigned level)
{
	if (c->level[i]) {
		if (c->level[i] != level)
			fail_msg("frame %u validated at levels %u and %u", i,
				 c->level[i], level);
		return;
	}
	c->level[i] = level;
	for (unsigned j = 0; j < NENT; j++) {
		uint64_t e = rd(u->f, frame_gpa(i) + 8 * j, 8);
		int t = frame_index(e & X86_PTE_ADDR_MASK);

		if (!(e & P))
			continue;
		if (t < 0)
			fail_msg("a validated entry maps %#llx",
				 (unsigned long long)e);
		if (level == 1) {
			c->wcount[t] += (e & RW) != 0;
			continue;
		}
		if (e & PS)
			fail_msg("a validated large page");
		c->count[t]++;
		mark(u, c, (unsigned)t, level - 1);
	}
}

static void recount_check(struct pv *u, const unsigned pinned[NRAM])
{
	struct recount c;
	const char *why = NULL;

	memset(&c, 0, sizeof(c));
	for (unsigned i = 0; i < NRAM; i++) {
		if (pinned[i]) {
			c.count[i]++;
			mark(u, &c, i, pinned[i]);
		}
	}
	for (unsigned i = 0; i < NRAM; i++) {
		struct vmmu_pv_frame_info in = info(u, frame_gpa(i));

		if (c.level[i] && c.wcount[i])
			fail_msg("table %u is mapped writable", i);
		if (c.level[i]) {
			assert_int_equal(in.type, c.level[i]);
			assert_int_equal(in.count, c.count[i]);
		} else if (c.wcount[i]) {
			assert_int_equal(in.type, VMMU_PV_WRITABLE);
			assert_int_equal(in.count, c.wcount[i]);
		} else {
			assert_int_equal(in.type, VMMU_PV_NONE);
		}
		assert_int_equal(in.pinned, pinned[i] != 0);
	}
	if (vmmu_shadow_check(u->f->vm, &why) < 0)
		fail_msg("%s", why);
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

static uint64_t rnd_entry(uint32_t *s)
{
	uint64_t f = lcg(s) % 16 == 0 ? HOLE : frame_gpa(lcg(s) % NRAM);
	uint64_t fl = P | A | US;

	if (lcg(s) % 8 == 0)
		return f;                       /* not present */
	fl |= lcg(s) % 2 ? RW | D : 0;
	fl |= lcg(s) % 16 == 0 ? PS : 0;
	return f | fl;
}

/* One random step; the entry it targets must hold what was accepted. */
static void pv_step(struct pv *u, uint32_t *s, unsigned pinned[NRAM])
{
	unsigned op = lcg(s) % 10, i = lcg(s) % NPOOL, n, done, k;
	struct vmmu_pv_update req[4];
	uint64_t before[4];
	int rc;

	if (op < 5) {
		n = 1 + lcg(s) % 4;
		for (k = 0; k < n; k++) {
			req[k].ptr = frame_gpa(lcg(s) % NPOOL) + 8 * (lcg(s) % NENT) +
				     (lcg(s) % 32 == 0 ? 4 : 0);
			req[k].val = rnd_entry(s);
			before[k] = rd(u->f, req[k].ptr & ~7ULL, 8);
		}
		rc = vmmu_shadow_pv_mmu_update(u->f->vm, req, n, &done);
		assert_true(rc == 0 ? done == n : done < n);
		/* the refused entry is untouched (unless the batch wrote it) */
		for (k = 0; rc != 0 && k < done; k++)
			if (req[k].ptr == req[done].ptr)
				break;
		if (rc != 0 && k == done && !(req[done].ptr & 7))
			assert_int_equal(rd(u->f, req[done].ptr, 8), before[done]);
	} else if (op < 7) {
		rc = vmmu_shadow_pv_pin(u->f->vm, mk_gpa(frame_gpa(i)), 1 + lcg(s) % 4);
		if (rc == 0)
			pinned[i] = info(u, frame_gpa(i)).type;
	} else if (op < 8) {
		rc = vmmu_shadow_pv_unpin(u->f->vm, mk_gpa(frame_gpa(i)));
		assert_int_equal(rc, pinned[i] ? 0 : VMMU_ENOENT);
		pinned[i] = 0;
	} else {
		uint64_t off = 8 * (lcg(s) % NENT), v = rnd_entry(s), old;
		struct vmmu_access_result r;

		old = rd(u->f, frame_gpa(i) + off, 8);
		r = gwrite(u, PT_GVA + i * 0x1000ULL + off, v);
		assert_true(r.status == VMMU_ACCESS_DONE ||
			    r.status == VMMU_ACCESS_FAULT);
		assert_int_equal(rd(u->f, frame_gpa(i) + off, 8),
				 r.status == VMMU_ACCESS_DONE ? v : old);
	}
}

static void test_pv_random(void **state)
{
	struct pv *u = *state;
	unsigned pinned[NRAM] = { 0 }, steps = 3000;
	uint32_t seed = 7;
	struct vmmu_shadow_stats st;

	tree(u);
	pv_long(u);
	for (unsigned i = 0; i < NPOOL; i++)
		fx_map4k(u->f, PT_GVA + i * 0x1000ULL, FL, frame_gpa(i));
	assert_int_equal(vmmu_shadow_pv_pin(u->f->vm, mk_gpa(T4), 4), 0);
	pinned[0] = 4;
	for (unsigned step = 0; step < steps; step++) {
		pv_step(u, &seed, pinned);
		recount_check(u, pinned);
	}
	st = stats(u);
	print_message("pv random: %u steps, %llu updates, %llu tables validated, "
		      "%llu trapped writes refused\n", steps,
		      (unsigned long long)st.pv_updates,
		      (unsigned long long)st.pv_validated,
		      (unsigned long long)st.pv_refused);
	/* the mix reaches every path */
	assert_true(st.pv_updates > 100 && st.pv_validated > 10 &&
		    st.pv_refused > 10);
}

#define PV_TEST(fn) cmocka_unit_test_setup_teardown(fn, pv_setup, pv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		PV_TEST(test_pin_types_until_unpin),
		PV_TEST(test_pin_refused_gives_back),
		PV_TEST(test_mmu_update_batch),
		PV_TEST(test_pinned_never_writable),
		PV_TEST(test_trapped_writes_validated),
		PV_TEST(test_pv_random),
	};

	return cmocka_run_group_tests_name("shadow_pv", tests, NULL, NULL);
}
