/* SPDX-License-Identifier: MIT */
/*
 * Comparing the emulator with vmmu's walker: the case's memory (plus the
 * kernel's fixed tables) behind a struct vmmu_gmem, every access through
 * vmmu_walk() in order, A/D updates carried over, then each access's
 * outcome and every word's final value checked against what the emulator
 * reported. A difference that matches a documented known difference is
 * counted under it, never dropped (docs/conformance.md).
 */
#include <inttypes.h>
#include <string.h>

#include "guest_mem.h"
#include "vmmu/error.h"
#include "vmmu/walk.h"
#include "conform.h"

/*
 * The case's words as the walker leaves them: a strict cli/guest_mem.h
 * memory (an A/D write outside the listed words is a foreign write), the
 * kernel's fixed tables and the emulator's open bus behind them.
 */
struct cmp_mem {
	struct guest_mem mem;
	uint64_t case_limit;            /* values at or past it are not checked */
};

/* Guest RAM is [0, CB_CASE_LIMIT); [CB_CASE_LIMIT, 4 GiB) holds the PCI
 * hole, firmware and local APIC, above 4 GiB there is nothing. */
#define FOUR_GIB (1ULL << 32)

static uint64_t fixed_word(uint64_t wgpa)
{
	if (wgpa >= CB_FIXED_PT32 && wgpa < CB_FIXED_PT32 + 4096) {
		unsigned i = (unsigned)(wgpa - CB_FIXED_PT32) / 4;

		return cb_fixed_entry(0, i) | cb_fixed_entry(0, i + 1) << 32;
	}
	if (wgpa >= CB_FIXED_PT64_0 && wgpa < CB_FIXED_PT64_0 + 8192) {
		unsigned i = (unsigned)(wgpa - CB_FIXED_PT64_0) / 8;

		return cb_fixed_entry(1 + i / 512, i % 512);
	}
	return 0;
}

/*
 * An unlisted word as the emulator's memory holds it: zero in RAM, the
 * kernel's fixed tables; past RAM, QEMU reads zero and Bochs all ones (its
 * open bus).
 */
static int fill_word(void *ctx, uint64_t wgpa, uint64_t *word)
{
	const struct conf_cpu *cpu = ctx;

	*word = wgpa >= FOUR_GIB && cpu->unbacked_ones ? ~0ULL
	      : fixed_word(wgpa);
	return 0;
}

static int mem_init(struct cmp_mem *m, const struct conf_case *c,
		    const struct conf_cpu *cpu)
{
	uint32_t i;

	if (guest_mem_init(&m->mem, 0) < 0)
		return -1;
	m->mem.fill = fill_word;
	m->mem.fill_ctx = (void *)cpu;
	m->case_limit = conf_case_limit(cpu);
	for (i = 0; i < c->nwords; i++)
		if (guest_mem_put(&m->mem, c->words[i].gpa, &c->words[i].value,
				  8) < 0)
			return -1;
	m->mem.strict = true;
	return 0;
}

/* *dst = a copy of src (dst's old memory released). */
static bool mem_copy(struct cmp_mem *dst, const struct cmp_mem *src)
{
	struct cmp_mem n = *src;

	if (guest_mem_clone(&n.mem, &src->mem) < 0)
		return false;
	guest_mem_fini(&dst->mem);
	*dst = n;
	return true;
}

static uint64_t mem_word(const struct cmp_mem *m, uint64_t wgpa)
{
	uint64_t v = 0;

	guest_mem_read(&m->mem, wgpa, &v, 8);
	return v;
}

static uint32_t mem_read32(const struct cmp_mem *m, uint64_t gpa)
{
	uint32_t v = 0;

	guest_mem_read(&m->mem, gpa, &v, 4);
	return v;
}

/* The kernel's write access stores 4 zero bytes at the translated gpa. */
static void model_store_zero(struct cmp_mem *m, uint64_t gpa)
{
	static const uint32_t zero;

	if (guest_mem_listed(&m->mem, gpa, 4, NULL))
		guest_mem_write(&m->mem, gpa, &zero, 4);
}

/*
 * QEMU TCG (7.2) reports a reserved-bit #PF with PFEC.RSVD but without
 * PFEC.P; the SDM (4.7) and AMD APM (8.4.2) have P = 1 there, as vmmu.
 */
static bool rsvd_without_p(const struct vmmu_walk_result *res,
			   const struct conf_result *r)
{
	return !res->ok && res->vector == X86_VEC_PF && !r->ok &&
	       r->vector == X86_VEC_PF && r->cr2 == res->cr2.v &&
	       (res->error_code & X86_PFEC_RSVD) &&
	       r->error_code == (res->error_code & ~X86_PFEC_P);
}

/*
 * The walker's verdict on one access; false when the walker itself failed.
 * reload: PAE PDPTEs are loaded from memory first, as the kernel's paging
 * enable does (otherwise ps->pdpte[] is used as given).
 */
static bool model_walk(struct vmmu_paging_state *ps, struct cmp_mem *m,
		       const struct cb_access *a, struct vmmu_walk_result *res,
		       bool reload)
{
	struct vmmu_gmem gm = guest_mem_gmem(&m->mem);
	struct vmmu_access acc = { mk_gva(a->gva), (enum vmmu_access_kind)a->kind,
				   a->cpl, false };
	int rc;

	memset(res, 0, sizeof(*res));
	if (reload && ps->cr4 & X86_CR4_PAE && !(ps->efer & X86_EFER_LMA)) {
		/* the kernel enables paging for each access: PDPTEs reload */
		rc = vmmu_paging_load_pdptes(ps, &gm);
		if (rc == VMMU_EINVAL) {
			res->vector = X86_VEC_GP;
			return true;
		}
		if (rc < 0)
			return false;
	}
	return vmmu_walk(ps, &gm, &acc, res) == 0;
}

/* model_walk() with the PDPTEs reloaded. */
static bool model_access(struct vmmu_paging_state *ps, struct cmp_mem *m,
			 const struct cb_access *a, struct vmmu_walk_result *res)
{
	return model_walk(ps, m, a, res, true);
}

struct verdict {
	unsigned events[CONF_NCLASSES]; /* accesses and words per class */
};

static void explain_access(FILE *f, unsigned i, const struct cb_access *a,
			   const struct vmmu_walk_result *res, uint32_t expect_value,
			   const struct conf_result *r)
{
	static const char *const kinds[] = { "read", "write", "fetch" };

	fprintf(f, "  access %u: %s cpl%u gva 0x%" PRIx64 ": vmmu ", i,
		kinds[a->kind % 3], a->cpl, a->gva);
	if (res->ok)
		fprintf(f, "ok gpa 0x%" PRIx64 " value 0x%x", res->gpa.v, expect_value);
	else
		fprintf(f, "vector %u ec 0x%x cr2 0x%" PRIx64, res->vector,
			res->error_code, res->cr2.v);
	if (r->ok)
		fprintf(f, "; emulator ok value 0x%x\n", r->value);
	else
		fprintf(f, "; emulator vector %u ec 0x%x cr2 0x%" PRIx64 "\n",
			r->vector, r->error_code, r->cr2);
}

/* Does emulator result r agree with walker result res? */
static bool access_agrees(const struct cmp_mem *m, const struct cb_access *a,
			  const struct vmmu_walk_result *res,
			  const struct conf_result *r, struct conf_stats *st,
			  uint32_t *expect)
{
	uint64_t where;

	*expect = 0;
	if (res->ok) {
		if (!r->ok)
			return false;
		if (a->kind == CB_WRITE)
			return r->value == 0;   /* checked through the final words */
		where = res->gpa.v + (a->kind == CB_FETCH ? CB_TAG_OFFSET : 0);
		if (where < CB_CASE_BASE || where + 4 > m->case_limit) {
			st->value_unchecked++;  /* no RAM the kernel controls */
			return true;
		}
		st->value_checked++;
		*expect = mem_read32(m, where);
		return r->value == *expect;
	}
	if (r->ok || r->vector != res->vector)
		return false;
	if (res->vector == X86_VEC_GP)
		return true;
	return r->error_code == res->error_code && r->cr2 == res->cr2.v;
}

/*
 * Bochs 2.7 decides protection keys by the CPL of the access, not by the
 * page's U/S (its handle_pkeys()): AD denies CPL-3 data accesses to any
 * page, WD denies writes at CPL 3 (or any CPL with CR0.WP) to any page,
 * while SDM 4.6.2 applies both to user pages only and AD to supervisor
 * reads of user pages as well.
 */
static bool bochs_pk_denies(const struct conf_case *c, const struct cb_access *a,
			    uint64_t leaf)
{
	unsigned key = (unsigned)(leaf >> X86_PTE_PKEY_SHIFT) & 0xf;
	bool ad = (c->pkru >> (2 * key)) & 1, wd = (c->pkru >> (2 * key + 1)) & 1;
	bool user = a->cpl == 3, write = a->kind == CB_WRITE;

	if (!(c->cr4 & X86_CR4_PKE) || a->kind == CB_FETCH || c->mode < CONF_4LEVEL)
		return false;
	return (user && ad) || (write && wd && (user || (c->cr0 & X86_CR0_WP)));
}

/* *m becomes a copy of src; false (m unchanged) when memory runs out. */
static bool mem_take(struct cmp_mem *m, struct cmp_mem *src)
{
	guest_mem_fini(&m->mem);
	*m = *src;
	return true;
}

/*
 * The access as an emulator's known behaviour has it: vmmu's walk with ps
 * (changed by the caller) on the memory before the access. When r matches
 * it, *m follows that walk, so that later accesses and the final words are
 * compared from the emulator's state.
 */
static bool alt_matches(const struct vmmu_paging_state *ps, bool reload,
			const struct cb_access *a, const struct cmp_mem *before,
			struct cmp_mem *m, const struct conf_result *r)
{
	struct cmp_mem alt = { .mem = { 0 } };
	struct vmmu_walk_result res;
	struct conf_stats scratch;
	uint32_t expect;
	bool ok = false;

	if (!mem_copy(&alt, before))
		return false;
	if (model_walk((struct vmmu_paging_state *)ps, &alt, a, &res, reload)) {
		if (res.ok && a->kind == CB_WRITE)
			model_store_zero(&alt, res.gpa.v);
		memset(&scratch, 0, sizeof(scratch));
		ok = access_agrees(&alt, a, &res, r, &scratch, &expect) ||
		     rsvd_without_p(&res, r);
	}
	if (ok)
		return mem_take(m, &alt);
	guest_mem_fini(&alt.mem);
	return false;
}

/*
 * Does r match Bochs's rule: vmmu's walk with PKRU = 0, then Bochs's key
 * check on the leaf? When it does, *m becomes the memory Bochs leaves
 * (A/D only when its access succeeded).
 */
static bool matches_bochs_pk(const struct conf_case *c, const struct cb_access *a,
			     const struct vmmu_paging_state *ps,
			     const struct cmp_mem *before, struct cmp_mem *m,
			     const struct conf_result *r)
{
	struct vmmu_paging_state ps0 = *ps;
	struct cmp_mem probe = { .mem = { 0 } };
	struct vmmu_walk_result res0;
	uint32_t ec, base = (a->kind == CB_WRITE ? X86_PFEC_W : 0) |
			    (a->cpl == 3 ? X86_PFEC_U : 0);
	bool denies, walked;

	ps0.pkru = 0;
	if (!(c->cr4 & X86_CR4_PKE) || !mem_copy(&probe, before))
		return false;
	walked = model_access(&ps0, &probe, a, &res0);
	guest_mem_fini(&probe.mem);
	if (!walked)
		return false;
	denies = res0.levels && bochs_pk_denies(c, a, res0.pte[res0.levels - 1]);
	if (!res0.ok) {
		ec = res0.error_code;
		/* keys are checked only on a walk that reached a valid leaf */
		if ((ec & X86_PFEC_P) && !(ec & X86_PFEC_RSVD) && denies)
			ec |= X86_PFEC_PK;
		if (res0.vector != X86_VEC_PF || r->ok || r->vector != X86_VEC_PF ||
		    r->cr2 != res0.cr2.v || r->error_code != ec)
			return false;
		return mem_copy(m, before);
	}
	if (denies) {
		if (r->ok || r->vector != X86_VEC_PF || r->cr2 != a->gva ||
		    r->error_code != (base | X86_PFEC_P | X86_PFEC_PK))
			return false;
		return mem_copy(m, before); /* Bochs sets A/D after its checks */
	}
	return alt_matches(&ps0, true, a, before, m, r);
}

/*
 * QEMU 7.2 TCG maps a PDPTE with PS as a 1 GiB page even when its CPUID
 * lacks Page1GB, where the SDM (4.5.4) makes PS reserved there (vmmu's
 * VMMU_PAGING_NO_1G). Does r match vmmu's walk with 1 GiB pages allowed?
 */
static bool matches_1g_anyway(const struct cb_access *a,
			      const struct vmmu_paging_state *ps,
			      const struct cmp_mem *before, struct cmp_mem *m,
			      const struct conf_result *r)
{
	struct vmmu_paging_state ps1 = *ps;

	if (!(ps->quirks & VMMU_PAGING_NO_1G))
		return false;
	ps1.quirks &= ~VMMU_PAGING_NO_1G;
	vmmu_paging_update(&ps1);
	return alt_matches(&ps1, true, a, before, m, r);
}

/*
 * A PAE PDPTE QEMU faults on: present with a bit at or above MAXPHYADDR.
 * QEMU 7.2 ignores the other bits the SDM reserves (2:1, 8:5; Table 4-8)
 * on its per-walk check; the case runs showed walks through such PDPTEs
 * succeed, with bit 5 set as an accessed bit.
 */
static bool qemu_pdpte_rsvd(uint64_t e, unsigned maxphyaddr)
{
	return (e & X86_PTE_P) && (e & ~((1ULL << maxphyaddr) - 1));
}

/*
 * QEMU reads the PAE PDPTEs on every walk instead of at the CR3 load: a
 * walk through a PDPTE with a reserved bit gives #PF(RSVD), the others
 * walk normally, where vmmu (as the SDM's CR3 load) raises #GP for every
 * access. Does r match that, for this access? Only on QEMU, and only for an
 * access vmmu refused with that #GP.
 */
static bool matches_qemu_pdpte(const struct conf_case *c, const struct cb_access *a,
			       const struct vmmu_paging_state *ps,
			       const struct cmp_mem *before, struct cmp_mem *m,
			       const struct conf_result *r)
{
	struct vmmu_paging_state ps2 = *ps;
	unsigned idx = (unsigned)(a->gva >> 30) & 3, i;
	uint32_t ec = X86_PFEC_P | X86_PFEC_RSVD |
		      (a->kind == CB_WRITE ? X86_PFEC_W : 0) |
		      (a->cpl == 3 ? X86_PFEC_U : 0) |
		      (a->kind == CB_FETCH && ((c->efer & X86_EFER_NXE) ||
		       (c->cr4 & X86_CR4_SMEP)) ? X86_PFEC_I : 0);

	if (guest_mem_read(&before->mem, c->cr3 & 0xffffffe0ULL, ps2.pdpte,
			   sizeof(ps2.pdpte)) < 0)
		return false;
	if (qemu_pdpte_rsvd(ps2.pdpte[idx], ps->maxphyaddr)) {
		if (r->ok || r->vector != X86_VEC_PF || r->cr2 != a->gva ||
		    (r->error_code != ec && r->error_code != (ec & ~X86_PFEC_P)))
			return false;
		return mem_copy(m, before);     /* nothing above a PDPTE */
	}
	for (i = 0; i < 4; i++) {
		if (qemu_pdpte_rsvd(ps2.pdpte[i], ps->maxphyaddr))
			ps2.pdpte[i] = 0;       /* not on this access's walk */
		ps2.pdpte[i] &= ~0x1e6ULL;      /* bits QEMU does not check */
	}
	ps2.pdptes_loaded = true;
	return alt_matches(&ps2, false, a, before, m, r);
}

/* Which class one access's difference falls in. */
static enum conf_class classify_access(const struct conf_case *c,
				       const struct cb_access *a,
				       const struct vmmu_walk_result *res,
				       const struct conf_result *r,
				       const struct vmmu_paging_state *ps,
				       const struct cmp_mem *before,
				       struct cmp_mem *m,
				       const struct conf_cpu *cpu)
{
	if (cpu->pdpte_per_walk && c->mode == CONF_PAE && !res->ok &&
	    res->vector == X86_VEC_GP && res->levels == 0)
		return matches_qemu_pdpte(c, a, ps, before, m, r) ?
		       CONF_KD_QEMU_PAE_PDPTE : CONF_DISAGREE;
	if (rsvd_without_p(res, r))
		return CONF_KD_RSVD_NO_P;
	if (cpu->pkru_by_cpl && matches_bochs_pk(c, a, ps, before, m, r))
		return CONF_KD_BOCHS_PKRU_BY_CPL;
	if (matches_1g_anyway(a, ps, before, m, r))
		return CONF_KD_QEMU_1G_NO_CPUID;
	return CONF_DISAGREE;
}

/* Which class one final word's difference falls in. */
static enum conf_class classify_word(const struct conf_case *c, uint32_t i,
				     uint64_t model, uint64_t emu)
{
	uint64_t diff = model ^ emu, gpa = c->words[i].gpa;
	uint64_t pdpt = c->cr3 & 0xffffffe0ULL;

	if ((diff & ~0x0000002000000020ULL) || (emu & diff) != diff)
		return CONF_DISAGREE;           /* not just A bits set */
	if (c->mode == CONF_PAE && gpa - pdpt < 32)
		return CONF_KD_QEMU_PDPTE_A;
	/*
	 * Any other A bit is a difference: the walker sets A on faulting
	 * walks exactly where QEMU does (VMMU_PAGING_A_ON_FAULT, conf_cpu.
	 * a_on_fault) and all or nothing where Bochs does.
	 */
	return CONF_DISAGREE;
}

static void init_paging(struct vmmu_paging_state *ps, const struct conf_case *c,
			const struct conf_cpu *cpu)
{
	memset(ps, 0, sizeof(*ps));
	ps->cr0 = c->cr0;
	ps->cr3 = c->cr3;
	ps->cr4 = c->cr4;
	ps->efer = c->efer;
	ps->rflags = c->rflags;
	ps->pkru = c->pkru;
	ps->maxphyaddr = (uint8_t)cpu->maxphyaddr;
	ps->quirks = (cpu->gbpages ? 0 : VMMU_PAGING_NO_1G) |
		     (cpu->a_on_fault ? VMMU_PAGING_A_ON_FAULT : 0);
	vmmu_paging_update(ps);
}

static void count_outcome(struct conf_stats *st, const struct conf_case *c,
			  const struct cb_access *a, const struct vmmu_walk_result *res)
{
	unsigned b;

	st->accesses++;
	st->cpl3 += a->cpl == 3;
	st->smep_on += !!(c->cr4 & X86_CR4_SMEP);
	st->smap_on += !!(c->cr4 & X86_CR4_SMAP);
	st->pke_on += !!(c->cr4 & X86_CR4_PKE);
	st->nxe_on += !!(c->efer & X86_EFER_NXE);
	st->wp_on += !!(c->cr0 & X86_CR0_WP);
	st->ac_on += !!(c->rflags & X86_RFLAGS_AC);
	if (res->ok) {
		st->ok++;
		st->size_4k += res->page_size == (1ULL << 12);
		st->size_2m += res->page_size == (1ULL << 21);
		st->size_4m += res->page_size == (1ULL << 22);
		st->size_1g += res->page_size == (1ULL << 30);
	} else if (res->vector == X86_VEC_GP) {
		st->faults_gp++;
	} else {
		st->faults_pf++;
		for (b = 0; b < 6; b++)
			st->pfec_bit[b] += (res->error_code >> b) & 1;
	}
}

/* Walk every access in order; record per-access differences in v. */
static void compare_accesses(const struct conf_case *c, const struct conf_outcome *o,
			     struct vmmu_paging_state *ps, struct cmp_mem *m,
			     struct verdict *v, struct conf_stats *st, FILE *explain,
			     const struct conf_cpu *cpu)
{
	struct cmp_mem before = { .mem = { 0 } };
	unsigned i;

	for (i = 0; i < c->naccesses; i++) {
		struct vmmu_walk_result res;
		const struct conf_result *r = &o->res[i];
		enum conf_class cls;
		uint32_t expect = 0;

		if (!mem_copy(&before, m) || !model_access(ps, m, &c->acc[i], &res)) {
			v->events[CONF_DISAGREE]++;
			if (explain)
				fprintf(explain, "  access %u: vmmu_walk returned an error\n", i);
			continue;
		}
		count_outcome(st, c, &c->acc[i], &res);
		if (res.ok && c->acc[i].kind == CB_WRITE)
			model_store_zero(m, res.gpa.v);
		if (access_agrees(m, &c->acc[i], &res, r, st, &expect))
			continue;
		cls = classify_access(c, &c->acc[i], &res, r, ps, &before, m, cpu);
		v->events[cls]++;
		if (explain)
			explain_access(explain, i, &c->acc[i], &res, expect, r);
	}
	guest_mem_fini(&before.mem);
}

enum conf_class conf_compare(const struct conf_case *c,
			     const struct conf_outcome *o,
			     const struct conf_cpu *cpu, struct conf_stats *st,
			     FILE *explain)
{
	struct vmmu_paging_state ps;
	struct cmp_mem m;
	struct verdict v;
	uint64_t val;
	unsigned i, k;

	init_paging(&ps, c, cpu);
	memset(&v, 0, sizeof(v));
	st->cases++;
	if (mem_init(&m, c, cpu) < 0) {
		guest_mem_fini(&m.mem);
		st->by_class[CONF_DISAGREE]++;
		return CONF_DISAGREE;
	}
	if (explain)
		fprintf(explain, "case %u (%s):\n", c->id, conf_mode_name(c->mode));
	compare_accesses(c, o, &ps, &m, &v, st, explain, cpu);
	for (i = 0; i < c->nwords; i++) {
		if (o->final[i] != c->words[i].value)
			st->ad_words_changed++;
		val = mem_word(&m, c->words[i].gpa);
		if (val == o->final[i])
			continue;
		v.events[classify_word(c, i, val, o->final[i])]++;
		if (explain)
			fprintf(explain, "  word %u gpa 0x%" PRIx64 ": initial 0x%" PRIx64
				" vmmu 0x%" PRIx64 " emulator 0x%" PRIx64 "\n", i,
				c->words[i].gpa, c->words[i].value, val, o->final[i]);
	}
	if (m.mem.foreign_write)
		v.events[CONF_DISAGREE]++;
	guest_mem_fini(&m.mem);
	for (k = 0; k < CONF_NCLASSES; k++)
		st->known_events[k] += v.events[k];
	/* a case counts under its most serious class: DISAGREE first */
	for (k = CONF_NCLASSES - 1; k > CONF_AGREE; k--)
		if (v.events[k])
			break;
	st->by_class[k]++;
	return (enum conf_class)k;
}
