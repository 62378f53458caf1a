/* SPDX-License-Identifier: MIT */
/*
 * Architectural invalidations of the TLB model (core/tlb.h): each one a
 * filter over the arrays, flushing exactly the entries its SDM/APM rule
 * names and keeping the rest. Freestanding.
 */
#include <string.h>

#include "core/tlb_internal.h"
#include "vmmu/error.h"

/* ---- invalidation ------------------------------------------------------ */

/*
 * Which entries an operation flushes. Combined TLB: the VPID, context and
 * (for non-global entries) PCID filters, globals only when flush_g (and
 * then of any PCID unless g_pcid), and with addr only those for la's page.
 * Guest PWC: the same VPID/context/PCID filters (PWC entries are never
 * global), all of them or with pwc_addr only those used for la. gpa: the
 * guest-physical TLB and the nested caches of the context filter.
 */
struct inv {
	bool tlb, pwc, gpa;
	bool any_vpid, keep_vpid0, any_ctx, keep_ctx0, any_pcid;
	bool flush_g, g_pcid, addr, pwc_addr;
	uint16_t vpid, pcid;
	uint8_t ctx;
	uint64_t la;
	/* the guest-physical TLB and nested caches: every context (gpa_all;
	 * but 0 with keep_ctx0) or context gpa_ctx */
	bool gpa_all;
	uint8_t gpa_ctx;
	bool gpa_addr;          /* only the entries that translate gaddr */
	uint64_t gaddr;
};

static bool inv_tag(const struct inv *f, uint64_t tag, bool check_pcid)
{
	uint16_t vpid = (uint16_t)(tag >> 32);

	if (!f->any_vpid && vpid != f->vpid)
		return false;
	if (f->keep_vpid0 && vpid == 0)
		return false;
	if (!f->any_ctx && ((tag >> 16) & 0xff) != f->ctx)
		return false;
	if (f->keep_ctx0 && ((tag >> 16) & 0xff) == 0)
		return false;
	return !check_pcid || f->any_pcid || (tag & TAG_PCID) == f->pcid;
}

static bool inv_tlb_ent(const struct inv *f, const struct ent *e)
{
	bool g = e->tag & TAG_G;
	unsigned ps = (unsigned)(e->key >> 1) & 3;

	if (g && !f->flush_g)
		return false;
	if (!inv_tag(f, e->tag, !g || f->g_pcid))
		return false;
	return !f->addr || tlb_key(f->la, ps) == e->key;
}

static bool inv_pwc_ent(const struct inv *f, const struct ent *e)
{
	unsigned level = (unsigned)(e->key >> 1) & 7;
	unsigned mode = (unsigned)(e->key >> 4) & 7;
	unsigned shift = pwc_shift((enum vmmu_paging_mode)mode, level);

	if (!inv_tag(f, e->tag, true))
		return false;
	return !f->pwc_addr ||
	       ((e->key ^ f->la) & ~((1ULL << shift) - 1)) == 0;
}

/* nested: an NPWC entry (level in key bits 3:1), else a gpa-TLB entry. */
static bool inv_gpa_ent(const struct inv *f, const struct ent *e, bool nested)
{
	unsigned ctx = (unsigned)(e->tag >> 16) & 0xff, shift;

	if (f->gpa_all ? (f->keep_ctx0 && ctx == 0) : ctx != f->gpa_ctx)
		return false;
	if (!f->gpa_addr)
		return true;
	shift = nested ? 12 + 9 * (((unsigned)(e->key >> 1) & 7) - 1)
		       : psize_shift[(e->key >> 1) & 3];
	return ((e->key ^ f->gaddr) >> shift) == 0;
}

/*
 * Drop the entries of e[0..count) (ways of a) that predicate what names:
 * 0 combined TLB, 1 guest PWC, 2 guest-physical, 3 NPWC.
 */
static size_t inv_ents(const struct inv *f, struct arr *a, struct ent *e,
		       size_t count, unsigned what)
{
	size_t i, n = 0;
	bool hit;

	for (i = 0; i < count && a->nvalid; i++) {
		if (!(e[i].key & 1))
			continue;
		if (what == 0)
			hit = inv_tlb_ent(f, &e[i]);
		else if (what == 1)
			hit = inv_pwc_ent(f, &e[i]);
		else
			hit = inv_gpa_ent(f, &e[i], what == 3);
		if (hit) {
			ent_drop(a, &e[i]);
			n++;
		}
	}
	return n;
}

/* Every entry of a. */
static size_t inv_scan(const struct inv *f, struct arr *a, unsigned what)
{
	return inv_ents(f, a, a->e, (size_t)(a->set_mask + 1) * a->ways, what);
}

/* The ways of the one set of a that entries for addr at shift occupy. */
static size_t inv_set(const struct inv *f, struct arr *a, uint64_t addr,
		      unsigned shift, unsigned what)
{
	/* an empty array (perhaps of no ways) has no set to look at */
	return a->nvalid ? inv_ents(f, a, set_of(a, addr, shift), a->ways, what)
			 : 0;
}

/*
 * With an address (la for the combined TLB, gaddr for the guest-physical
 * one), only the sets its page can occupy are searched, one per page size
 * present, so INVLPG or an EPT violation costs a few set scans, not a
 * full sweep.
 */
static size_t inv_addr(const struct inv *f, struct arr *a, uint64_t addr,
		       unsigned what)
{
	unsigned ps;
	size_t n = 0;

	for (ps = 0; ps < VMMU_TLB_NPSIZE; ps++)
		if (a->present & (1U << ps))
			n += inv_set(f, a, addr, psize_shift[ps], what);
	return n;
}

/*
 * With pwc_addr, the guest PWC entries of level used for la: an entry is
 * kept in the set its key names at its mode's shift, and it is used for
 * la only when its key equals la above that shift, so the sets la names at
 * each mode's shift for the level hold them all (two for level 2: 32-bit
 * paging's 4 MiB directory entries, the others' 2 MiB).
 */
static size_t inv_pwc_addr(const struct inv *f, struct arr *a,
			   unsigned level)
{
	static const enum vmmu_paging_mode modes[] = {
		VMMU_PAGING_2LEVEL, VMMU_PAGING_PAE, VMMU_PAGING_4LEVEL,
		VMMU_PAGING_5LEVEL };
	unsigned i, k, shift, done[4], ndone = 0;
	size_t n = 0;

	if (!a->nvalid)
		return 0;
	for (i = 0; i < 4; i++) {
		shift = pwc_shift(modes[i], level);
		for (k = 0; k < ndone && done[k] != shift; k++)
			;
		if (!shift || k < ndone)
			continue;
		done[ndone++] = shift;
		n += inv_set(f, a, f->la, shift, 1);
	}
	return n;
}

static size_t inv_run(struct vmmu_tlb *t, const struct inv *f,
		      enum vmmu_tlb_inv kind)
{
	size_t n, tlb = 0, pwc = 0, gpa = 0, npwc = 0;
	unsigned i;

	t->st.inv[kind]++;
	for (i = 0; f->tlb && i < VMMU_TLB_NARRAY; i++)
		tlb += f->addr ? inv_addr(f, &t->tlb[i], f->la, 0)
			       : inv_scan(f, &t->tlb[i], 0);
	for (i = 0; f->pwc && i < VMMU_TLB_PWC_LEVELS; i++)
		pwc += f->pwc_addr ? inv_pwc_addr(f, &t->pwc[i], i + 2)
				   : inv_scan(f, &t->pwc[i], 1);
	if (f->gpa) {
		gpa = f->gpa_addr ? inv_addr(f, &t->gpa, f->gaddr, 2)
				  : inv_scan(f, &t->gpa, 2);
		/* NPWC level l keeps entries at shift 12 + 9 (l - 1) */
		for (i = 0; i < VMMU_TLB_PWC_LEVELS; i++)
			npwc += f->gpa_addr ? inv_set(f, &t->npwc[i], f->gaddr,
						      12 + 9 * (i + 1), 3)
					    : inv_scan(f, &t->npwc[i], 3);
	}
	t->st.flushed_tlb += tlb;
	t->st.flushed_pwc += pwc;
	t->st.flushed_gpa += gpa;
	t->st.flushed_npwc += npwc;
	n = tlb + pwc + gpa + npwc;
	return n;
}

/* A guest instruction's filter: current VPID, every context (29.4.3.1). */
static struct inv guest_inv(const struct vmmu_tlb *t)
{
	struct inv f;

	memset(&f, 0, sizeof(f));
	f.tlb = f.pwc = true;
	f.vpid = (uint16_t)(t->tag >> 32);
	f.any_ctx = true;
	f.pcid = (uint16_t)(t->tag & TAG_PCID);
	return f;
}

size_t vmmu_tlb_invlpg(struct vmmu_tlb *t, gva_t gva)
{
	struct inv f = guest_inv(t);

	/* SDM 4.10.4.1 INVLPG: the page for the current PCID, global
	 * entries for it of any PCID, and all PWC entries of the PCID. */
	f.flush_g = true;
	f.addr = true;
	f.la = gva.v;
	return inv_run(t, &f, VMMU_TLB_INV_INVLPG);
}

int vmmu_tlb_invpcid(struct vmmu_tlb *t, unsigned type, uint16_t pcid,
		     gva_t gva)
{
	struct inv f = guest_inv(t);

	/* Vol. 2 INVPCID: #GP for an unknown type or a PCID above 4095. */
	if (type > 3 || pcid > TAG_PCID)
		return VMMU_EINVAL;
	f.pcid = pcid;
	switch (type) {
	case 0: /* the address's mappings of pcid, not global (4.10.4.1) */
		f.addr = f.pwc_addr = true;
		f.la = gva.v;
		break;
	case 1: /* every mapping of pcid except global translations */
		break;
	case 2: /* every mapping of every PCID, global ones too */
		f.any_pcid = f.flush_g = true;
		break;
	default: /* 3: every mapping of every PCID except global ones */
		f.any_pcid = true;
		break;
	}
	return (int)inv_run(t, &f, VMMU_TLB_INV_INVPCID0 + type);
}

size_t vmmu_tlb_mov_cr3(struct vmmu_tlb *t, uint64_t new_cr3, bool pcide)
{
	uint16_t pcid = pcide ? (uint16_t)(new_cr3 & TAG_PCID) : 0;
	struct inv f;

	t->tag = (t->tag & ~TAG_PCID) | pcid;
	/* SDM 4.10.4.1: PCIDE = 1 with bit 63 set need not invalidate. */
	if (pcide && (new_cr3 >> 63)) {
		t->st.inv[VMMU_TLB_INV_CR3_NOFLUSH]++;
		return 0;
	}
	/* Otherwise the new PCID's non-global entries and its PWC entries
	 * (PCIDE = 0: PCID 000H). */
	f = guest_inv(t);
	return inv_run(t, &f, VMMU_TLB_INV_CR3);
}

size_t vmmu_tlb_mov_cr0(struct vmmu_tlb *t, uint64_t old_cr0, uint64_t new_cr0)
{
	struct inv f = guest_inv(t);

	/* SDM 4.10.4.1: clearing CR0.PG flushes everything of every PCID. */
	if (!((old_cr0 & X86_CR0_PG) && !(new_cr0 & X86_CR0_PG)))
		return 0;
	f.any_pcid = f.flush_g = true;
	return inv_run(t, &f, VMMU_TLB_INV_CR0);
}

size_t vmmu_tlb_mov_cr4(struct vmmu_tlb *t, uint64_t old_cr4, uint64_t new_cr4)
{
	uint64_t diff = old_cr4 ^ new_cr4;
	struct inv f = guest_inv(t);

	f.flush_g = true;
	/* SDM 4.10.4.1: a PGE change, or PCIDE 1 -> 0: all, all PCIDs. */
	if ((diff & X86_CR4_PGE_BIT) ||
	    ((old_cr4 & X86_CR4_PCIDE) && !(new_cr4 & X86_CR4_PCIDE))) {
		f.any_pcid = true;
		return inv_run(t, &f, VMMU_TLB_INV_CR4_ALL);
	}
	/* A PAE change, or SMEP 0 -> 1: all of the current PCID. */
	if ((diff & X86_CR4_PAE) ||
	    (!(old_cr4 & X86_CR4_SMEP) && (new_cr4 & X86_CR4_SMEP))) {
		f.g_pcid = true;
		return inv_run(t, &f, VMMU_TLB_INV_CR4_PCID);
	}
	return 0;
}

int vmmu_tlb_invept(struct vmmu_tlb *t, unsigned type, uint8_t ctx)
{
	struct inv f;

	/* Context 0 stands for "no EPT": it has no EPTP to name. */
	if ((type != 1 && type != 2) || (type == 1 && ctx == 0))
		return VMMU_EINVAL;
	memset(&f, 0, sizeof(f));
	/* SDM 29.4.3.1 / Vol. 2 INVEPT: guest-physical and combined
	 * mappings of the EP4TA (type 1) or of all EP4TAs (type 2), for
	 * every VPID and PCID, global ones too. Linear mappings (context 0,
	 * no EP4TA) stay. */
	f.tlb = f.pwc = f.gpa = true;
	f.any_vpid = f.any_pcid = f.flush_g = true;
	f.ctx = f.gpa_ctx = ctx;
	if (type == 2) {
		f.any_ctx = f.keep_ctx0 = true;
		f.gpa_all = true;
	}
	return (int)inv_run(t, &f, type == 1 ? VMMU_TLB_INV_INVEPT1
					     : VMMU_TLB_INV_INVEPT2);
}

int vmmu_tlb_invvpid(struct vmmu_tlb *t, unsigned type, uint16_t vpid,
		     gva_t gva)
{
	struct inv f;

	/* Vol. 2 INVVPID: types 0, 1 and 3 fail for VPID 0000H. */
	if (type > 3 || (type != 2 && vpid == 0))
		return VMMU_EINVAL;
	memset(&f, 0, sizeof(f));
	/* SDM 29.4.3.1: linear and combined mappings (every EP4TA, every
	 * PCID); guest-physical mappings are not touched. */
	f.tlb = f.pwc = true;
	f.any_ctx = f.any_pcid = true;
	f.vpid = vpid;
	f.flush_g = type != 3;
	if (type == 0) {
		f.addr = f.pwc_addr = true;
		f.la = gva.v;
	} else if (type == 2) {
		f.any_vpid = true;
		f.keep_vpid0 = true;  /* "all VPIDs except VPID 0000H" */
	}
	return (int)inv_run(t, &f, VMMU_TLB_INV_INVVPID0 + type);
}

int vmmu_tlb_svm_tlb_control(struct vmmu_tlb *t, unsigned ctl,
			     uint16_t asid, uint8_t ctx)
{
	enum vmmu_tlb_inv kind;
	struct inv f;

	memset(&f, 0, sizeof(f));
	f.tlb = f.pwc = f.gpa = true;
	f.any_pcid = f.any_ctx = true;
	f.vpid = asid;
	f.gpa_ctx = ctx;        /* the guest's nested translations (nCR3) */
	switch (ctl) {
	case VMMU_TLB_CTL_NOTHING:
		return 0;
	case VMMU_TLB_CTL_ALL:  /* APM 15.16: the entire TLB, all ASIDs */
		f.any_vpid = f.flush_g = true;
		f.gpa_all = true;
		f.any_ctx = true;
		kind = VMMU_TLB_INV_SVM_ALL;
		break;
	case VMMU_TLB_CTL_ASID: /* this guest's entries, global too */
		f.flush_g = true;
		kind = VMMU_TLB_INV_SVM_ASID;
		break;
	case VMMU_TLB_CTL_ASID_LOCAL: /* ... except global ones */
		kind = VMMU_TLB_INV_SVM_LOCAL;
		break;
	default:
		return VMMU_EINVAL;
	}
	return (int)inv_run(t, &f, kind);
}

size_t vmmu_tlb_invlpga(struct vmmu_tlb *t, gva_t gva, uint16_t asid)
{
	struct inv f;

	memset(&f, 0, sizeof(f));
	/* APM Vol. 3 INVLPGA: the page's mapping for that ASID, global
	 * included; the PWC entries that translate it. */
	f.tlb = f.pwc = true;
	f.vpid = asid;
	f.any_ctx = f.any_pcid = f.flush_g = true;
	f.addr = f.pwc_addr = true;
	f.la = gva.v;
	return inv_run(t, &f, VMMU_TLB_INV_INVLPGA);
}

size_t vmmu_tlb_page_fault(struct vmmu_tlb *t, gva_t gva)
{
	struct inv f = guest_inv(t);

	/* SDM 4.10.4.1: the page's TLB entries of the current PCID (global
	 * ones made under it too) and the current PCID's PWC entries that
	 * would be used for the address; every EP4TA (29.4.3.1). */
	f.flush_g = f.g_pcid = true;
	f.addr = f.pwc_addr = true;
	f.la = gva.v;
	return inv_run(t, &f, VMMU_TLB_INV_PF);
}

size_t vmmu_tlb_ept_violation(struct vmmu_tlb *t, gpa_t gpa, bool has_gva,
			      gva_t gva)
{
	struct inv f = guest_inv(t);

	/* SDM 29.4.3.1: the current EP4TA's guest-physical mappings that
	 * translate gpa; with a linear address, its combined mappings of
	 * the current VPID, PCID and EP4TA. */
	f.tlb = f.pwc = has_gva;
	f.any_ctx = false;
	f.ctx = (uint8_t)(t->tag >> 16);
	f.flush_g = f.g_pcid = true;
	f.addr = f.pwc_addr = true;
	f.la = gva.v;
	f.gpa = true;
	f.gpa_ctx = f.ctx;
	f.gpa_addr = true;
	f.gaddr = gpa.v;
	return inv_run(t, &f, VMMU_TLB_INV_EPT_VIOLATION);
}

size_t vmmu_tlb_flush_all(struct vmmu_tlb *t)
{
	struct inv f;

	memset(&f, 0, sizeof(f));
	f.tlb = f.pwc = f.gpa = true;
	f.any_vpid = f.any_ctx = f.any_pcid = f.flush_g = true;
	f.gpa_all = true;
	return inv_run(t, &f, VMMU_TLB_INV_FLUSH_ALL);
}

void vmmu_tlb_shootdown(struct vmmu_tlb *t)
{
	t->st.inv[VMMU_TLB_INV_SHOOTDOWN]++;
}
