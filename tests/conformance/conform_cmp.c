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

#include "vmmu/error.h"
#include "vmmu/walk.h"
#include "conform.h"

struct cmp_mem {
	const struct conf_case *c;
	uint64_t val[CONF_MAX_WORDS];   /* the words as the walker left them */
	bool foreign_write;             /* an A/D write outside the listed words */
	bool unbacked_ones;             /* no RAM above 4 GiB reads as all ones */
	uint64_t case_limit;            /* values at or past it are not checked */
};

/* Guest RAM is [0, CB_CASE_LIMIT); [CB_CASE_LIMIT, 4 GiB) holds the PCI
 * hole, firmware and local APIC, above 4 GiB there is nothing. */
#define FOUR_GIB (1ULL << 32)

static int word_index(const struct conf_case *c, uint64_t wgpa)
{
	uint32_t i;

	for (i = 0; i < c->nwords; i++)
		if (c->words[i].gpa == wgpa)
			return (int)i;
	return -1;
}

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
 * A word as the emulator's memory holds it. Unlisted RAM is zero; past
 * RAM, QEMU reads zero and Bochs all ones (its open bus).
 */
static uint64_t mem_word(const struct cmp_mem *m, uint64_t wgpa)
{
	int i = word_index(m->c, wgpa);

	if (i < 0 && wgpa >= FOUR_GIB && m->unbacked_ones)
		return ~0ULL;
	return i >= 0 ? m->val[i] : fixed_word(wgpa);
}

static int mem_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	const struct cmp_mem *m = ctx;
	uint8_t *out = buf;
	size_t k;

	for (k = 0; k < len; k++) {
		uint64_t a = gpa.v + k;

		out[k] = (uint8_t)(mem_word(m, a & ~7ULL) >> ((a & 7) * 8));
	}
	return 0;
}

static int mem_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t new_val,
		       size_t len)
{
	struct cmp_mem *m = ctx;
	uint64_t wgpa = gpa.v & ~7ULL, mask, cur;
	unsigned shift = (unsigned)(gpa.v & 7) * 8;
	int i = word_index(m->c, wgpa);

	if ((len != 4 && len != 8) || shift + len * 8 > 64)
		return VMMU_EINVAL;
	mask = len == 8 ? ~0ULL : 0xffffffffULL << shift;
	cur = mem_word(m, wgpa);
	if (((cur & mask) >> shift) != old)
		return 1;
	if (i < 0) {
		m->foreign_write = true;
		return VMMU_EFAULT;
	}
	m->val[i] = (cur & ~mask) | ((new_val << shift) & mask);
	return 0;
}

static uint32_t mem_read32(const struct cmp_mem *m, uint64_t gpa)
{
	uint32_t v;

	mem_read((void *)m, mk_gpa(gpa), &v, 4);
	return v;
}

/* The kernel's write access stores 4 zero bytes at the translated gpa. */
static void model_store_zero(struct cmp_mem *m, uint64_t gpa)
{
	uint64_t wgpa = gpa & ~7ULL;
	unsigned shift = (unsigned)(gpa & 7) * 8;
	int i = word_index(m->c, wgpa);

	if (i >= 0 && shift <= 32)
		m->val[i] &= ~(0xffffffffULL << shift);
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

/* The walker's verdict on one access; false when the walker itself failed. */
static bool model_access(struct vmmu_paging_state *ps, struct cmp_mem *m,
			 const struct cb_access *a, struct vmmu_walk_result *res)
{
	struct vmmu_gmem gm = { m, mem_read, mem_cmpxchg };
	struct vmmu_access acc = { mk_gva(a->gva), (enum vmmu_access_kind)a->kind,
				   a->cpl, false };
	int rc;

	memset(res, 0, sizeof(*res));
	if (ps->cr4 & X86_CR4_PAE && !(ps->efer & X86_EFER_LMA)) {
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

struct verdict {
	unsigned events[CONF_NCLASSES]; /* accesses and words per class */
	bool pdpte_gp;                  /* the PAE PDPTEs make every access #GP */
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

/*
 * Does r match Bochs's rule: vmmu's walk with PKRU = 0, then Bochs's key
 * check on the leaf? When it does, *m becomes the memory Bochs leaves
 * (A/D only when its access succeeded) so that later accesses and the
 * final words are compared from the emulator's state.
 */
static bool matches_bochs_pk(const struct conf_case *c, const struct cb_access *a,
			     const struct vmmu_paging_state *ps,
			     const struct cmp_mem *before, struct cmp_mem *m,
			     const struct conf_result *r)
{
	struct vmmu_paging_state ps0 = *ps;
	struct cmp_mem m0 = *before;
	struct vmmu_walk_result res0;
	struct conf_stats scratch;
	uint32_t expect, base = (a->kind == CB_WRITE ? X86_PFEC_W : 0) |
				(a->cpl == 3 ? X86_PFEC_U : 0);
	bool denies;

	ps0.pkru = 0;
	if (!(c->cr4 & X86_CR4_PKE) || !model_access(&ps0, &m0, a, &res0))
		return false;
	denies = res0.levels && bochs_pk_denies(c, a, res0.pte[res0.levels - 1]);
	if (!res0.ok) {
		uint32_t ec = res0.error_code;

		/* keys are checked only on a walk that reached a valid leaf */
		if ((ec & X86_PFEC_P) && !(ec & X86_PFEC_RSVD) && denies)
			ec |= X86_PFEC_PK;
		if (res0.vector != X86_VEC_PF || r->ok || r->vector != X86_VEC_PF ||
		    r->cr2 != res0.cr2.v || r->error_code != ec)
			return false;
		*m = *before;
		return true;
	}
	if (denies) {
		if (r->ok || r->vector != X86_VEC_PF || r->cr2 != a->gva ||
		    r->error_code != (base | X86_PFEC_P | X86_PFEC_PK))
			return false;
		*m = *before;           /* Bochs sets A/D only after its checks */
		return true;
	}
	if (a->kind == CB_WRITE)
		model_store_zero(&m0, res0.gpa.v);
	memset(&scratch, 0, sizeof(scratch));
	if (!access_agrees(&m0, a, &res0, r, &scratch, &expect))
		return false;
	*m = m0;
	return true;
}

/*
 * QEMU 7.2 TCG maps a PDPTE with PS as a 1 GiB page even when its CPUID
 * lacks Page1GB, where the SDM (4.5.4) makes PS reserved there (vmmu's
 * VMMU_PAGING_NO_1G). Does r match vmmu's walk with 1 GiB pages allowed?
 * When it does, *m follows that walk.
 */
static bool matches_1g_anyway(const struct cb_access *a,
			      const struct vmmu_paging_state *ps,
			      const struct cmp_mem *before, struct cmp_mem *m,
			      const struct conf_result *r)
{
	struct vmmu_paging_state ps1 = *ps;
	struct cmp_mem m1 = *before;
	struct vmmu_walk_result res1;
	struct conf_stats scratch;
	uint32_t expect;

	if (!(ps->quirks & VMMU_PAGING_NO_1G))
		return false;
	ps1.quirks &= ~VMMU_PAGING_NO_1G;
	vmmu_paging_update(&ps1);
	if (!model_access(&ps1, &m1, a, &res1))
		return false;
	if (res1.ok && a->kind == CB_WRITE)
		model_store_zero(&m1, res1.gpa.v);
	memset(&scratch, 0, sizeof(scratch));
	if (!access_agrees(&m1, a, &res1, r, &scratch, &expect) &&
	    !rsvd_without_p(&res1, r))
		return false;
	*m = m1;
	return true;
}

/* Which class one access's difference falls in. */
static enum conf_class classify_access(const struct vmmu_walk_result *res,
				       const struct conf_result *r, bool pdpte_gp)
{
	if (pdpte_gp && !res->ok && res->vector == X86_VEC_GP &&
	    (r->ok || r->vector != X86_VEC_GP))
		return CONF_KD_QEMU_PAE_PDPTE;
	if (rsvd_without_p(res, r))
		return CONF_KD_RSVD_NO_P;
	return CONF_DISAGREE;
}

/* Which class one final word's difference falls in. */
static enum conf_class classify_word(const struct conf_case *c,
				     const struct verdict *v, uint32_t i,
				     uint64_t model, uint64_t emu)
{
	uint64_t diff = model ^ emu, gpa = c->words[i].gpa;
	uint64_t pdpt = c->cr3 & 0xffffffe0ULL;

	if (v->pdpte_gp)
		return CONF_KD_QEMU_PAE_PDPTE;  /* QEMU walked; vmmu could not */
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
			     bool pkru_by_cpl)
{
	unsigned i;

	for (i = 0; i < c->naccesses; i++) {
		struct cmp_mem before;
		struct vmmu_walk_result res;
		const struct conf_result *r = &o->res[i];
		enum conf_class cls;
		uint32_t expect = 0;

		before = *m;
		if (!model_access(ps, m, &c->acc[i], &res)) {
			v->events[CONF_DISAGREE]++;
			if (explain)
				fprintf(explain, "  access %u: vmmu_walk returned an error\n", i);
			continue;
		}
		count_outcome(st, c, &c->acc[i], &res);
		if (!res.ok && res.vector == X86_VEC_GP && res.levels == 0 &&
		    c->mode == CONF_PAE)
			v->pdpte_gp = true;
		if (res.ok && c->acc[i].kind == CB_WRITE)
			model_store_zero(m, res.gpa.v);
		if (access_agrees(m, &c->acc[i], &res, r, st, &expect))
			continue;
		cls = classify_access(&res, r, v->pdpte_gp);
		if (cls == CONF_DISAGREE && pkru_by_cpl &&
		    matches_bochs_pk(c, &c->acc[i], ps, &before, m, r))
			cls = CONF_KD_BOCHS_PKRU_BY_CPL;
		if (cls == CONF_DISAGREE &&
		    matches_1g_anyway(&c->acc[i], ps, &before, m, r))
			cls = CONF_KD_QEMU_1G_NO_CPUID;
		v->events[cls]++;
		if (explain)
			explain_access(explain, i, &c->acc[i], &res, expect, r);
	}
}

enum conf_class conf_compare(const struct conf_case *c,
			     const struct conf_outcome *o,
			     const struct conf_cpu *cpu, struct conf_stats *st,
			     FILE *explain)
{
	struct vmmu_paging_state ps;
	struct cmp_mem m;
	struct verdict v;
	unsigned i, k;

	init_paging(&ps, c, cpu);
	memset(&v, 0, sizeof(v));
	m.c = c;
	m.foreign_write = false;
	m.unbacked_ones = cpu->unbacked_ones;
	m.case_limit = conf_case_limit(cpu);
	for (i = 0; i < c->nwords; i++)
		m.val[i] = c->words[i].value;
	st->cases++;
	if (explain)
		fprintf(explain, "case %u (%s):\n", c->id, conf_mode_name(c->mode));
	compare_accesses(c, o, &ps, &m, &v, st, explain, cpu->pkru_by_cpl);
	for (i = 0; i < c->nwords; i++) {
		if (o->final[i] != c->words[i].value)
			st->ad_words_changed++;
		if (m.val[i] == o->final[i])
			continue;
		v.events[classify_word(c, &v, i, m.val[i], o->final[i])]++;
		if (explain)
			fprintf(explain, "  word %u gpa 0x%" PRIx64 ": initial 0x%" PRIx64
				" vmmu 0x%" PRIx64 " emulator 0x%" PRIx64 "\n", i,
				c->words[i].gpa, c->words[i].value, m.val[i], o->final[i]);
	}
	if (m.foreign_write)
		v.events[CONF_DISAGREE]++;
	for (k = 0; k < CONF_NCLASSES; k++)
		st->known_events[k] += v.events[k];
	/* a case counts under its most serious class: DISAGREE first */
	for (k = CONF_NCLASSES - 1; k > CONF_AGREE; k--)
		if (v.events[k])
			break;
	st->by_class[k]++;
	return (enum conf_class)k;
}
