/* SPDX-License-Identifier: MIT */
/* The guest OS of the shadow tests (os_sim.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/hosted.h"
#include "vmmu/error.h"
#include "shadow-fallback/shadow.h"
#include "os_sim_int.h"

#define OSM_MMIO   0x40000000ULL
#define OSM_HOLE   0x30000000ULL
#define OSM_TBASE  0x100000ULL
#define OSM_U4K    0x400000ULL      /* user 4 KiB pages: 4..8 MiB */
#define OSM_U4K_N  256U
#define OSM_ULG    0x800000ULL      /* user superpages: 8..16 MiB */
#define OSM_COW    (1ULL << 9)      /* software bit: copy-on-write */

uint64_t osm_rnd(struct osm *os)
{
	os->rng ^= os->rng >> 12;
	os->rng ^= os->rng << 25;
	os->rng ^= os->rng >> 27;
	return os->rng * 0x2545f4914f6cdd1dULL;
}

static bool chance(struct osm *os, unsigned pct)
{
	return osm_rnd(os) % 100 < pct;
}

bool osm_fail(const char *msg, uint64_t a, uint64_t b)
{
	fprintf(stderr, "os_sim: %s (0x%llx, 0x%llx)\n", msg,
		(unsigned long long)a, (unsigned long long)b);
	return false;
}

const struct osm_stats *osm_stats(const struct osm *os) { return &os->st; }
struct vmmu_vm *osm_vm(const struct osm *os) { return os->vm; }

static uint64_t entry_mask(const struct osm *os)
{
	return os->esize == 4 ? 0xfffff000ULL : 0x000ffffffffff000ULL;
}

static unsigned index_of(const struct osm *os, unsigned level, uint64_t va)
{
	if (os->cfg.mode == VMMU_PAGING_PAE && level == 3)
		return (unsigned)(va >> 30) & 3;
	return (unsigned)(va >> (12 + os->bits * (level - 1))) &
	       ((1U << os->bits) - 1);
}

static uint64_t rd(struct osm *os, uint64_t gpa)
{
	uint64_t v = 0;

	if (vmmu_vm_read_gpa(os->vm, mk_gpa(gpa), &v, os->esize) < 0)
		return 0;
	return v;
}

/* The kernel writes guest-physical memory through its direct map. */
static bool kwrite(struct osm *os, uint64_t gpa, uint64_t v, unsigned size)
{
	struct vmmu_access_result r;

	if (os->booting || chance(os, 15))
		return vmmu_vm_write_gpa(os->vm, mk_gpa(gpa), &v, size) == 0 ||
		       osm_fail("dma write failed", gpa, v);
	if (vmmu_vcpu_write(os->vcpu, mk_gva(os->kbase + gpa), &v, size, 0, &r) < 0 ||
	    r.status != VMMU_ACCESS_DONE)
		return osm_fail("kernel write through the direct map failed", gpa,
			    r.status);
	return true;
}

static bool set_entry(struct osm *os, uint64_t gpa, uint64_t v)
{
	return kwrite(os, gpa, v, os->esize);
}

static bool kzero(struct osm *os, uint64_t gpa)
{
	for (unsigned off = 0; off < 4096; off += 8)
		if (!kwrite(os, gpa + off, 0, 8))
			return false;
	return true;
}

static uint64_t alloc_table(struct osm *os)
{
	for (uint64_t n = 0; n < os->ntab; n++) {
		uint64_t i = (os->tcur + n) % os->ntab;

		if (!os->tused[i]) {
			os->tused[i] = 1;
			os->tcur = i + 1;
			return OSM_TBASE + i * 4096;
		}
	}
	return 0;
}

static void free_table(struct osm *os, uint64_t gpa)
{
	if (gpa >= OSM_TBASE && gpa < os->tend)
		os->tused[(gpa - OSM_TBASE) >> 12] = 0;
}

static uint64_t alloc_data(struct osm *os)
{
	for (uint64_t n = 0; n < os->ndata; n++) {
		uint64_t i = (os->dcur + n) % os->ndata;

		if (!os->dref[i]) {
			os->dref[i] = 1;
			os->dcur = i + 1;
			return os->dbase + i * 4096;
		}
	}
	return 0;
}

static void data_ref(struct osm *os, uint64_t gpa, int delta)
{
	if (gpa >= os->dbase && gpa < os->cfg.ram)
		os->dref[(gpa - os->dbase) >> 12] += delta;
}

static uint64_t table_flags(const struct osm *os, unsigned level, bool user)
{
	if (os->cfg.mode == VMMU_PAGING_PAE && level == 3)
		return X86_PTE_P;
	return X86_PTE_P | X86_PTE_RW | (user ? X86_PTE_US : 0);
}

/*
 * The gpa of the entry at leaf_level for va in root, creating tables on
 * the way (create); 0 when absent or a superpage is in the way.
 */
static uint64_t slot(struct osm *os, uint64_t root, uint64_t va,
		     unsigned leaf_level, bool create)
{
	uint64_t table = root;

	for (unsigned level = os->top;; level--) {
		uint64_t egpa = table + index_of(os, level, va) * os->esize;
		uint64_t e, t;

		if (level == leaf_level)
			return egpa;
		e = rd(os, egpa);
		if (e & X86_PTE_P) {
			if (level != 3 || os->cfg.mode != VMMU_PAGING_PAE)
				if (e & X86_PTE_PS)
					return 0;
			t = e & entry_mask(os);
			if (t < OSM_TBASE || t >= os->tend)
				return 0;
			table = t;
			continue;
		}
		if (!create || !(t = alloc_table(os)))
			return 0;
		if (!kzero(os, t) ||
		    !set_entry(os, egpa, t | table_flags(os, level, true)))
			return 0;
		table = t;
	}
}

static bool flush_as(struct osm *os, unsigned a, uint64_t va, bool leaf)
{
	int rc;

	if (a == os->cur) {
		if (leaf && os->cfg.mode != VMMU_PAGING_PAE)
			rc = vmmu_vcpu_invlpg(os->vcpu, mk_gva(va));
		else
			rc = vmmu_vcpu_set_cr(os->vcpu, VMMU_CR3,
					      os->vcpu->paging.cr3 &
					      ~(1ULL << 63));
	} else if (os->cfg.pcid) {
		rc = vmmu_vcpu_invpcid(os->vcpu, 1, os->as[a].pcid, mk_gva(0));
	} else {
		rc = 0;     /* the next MOV to CR3 flushes it */
	}
	return rc == 0 || osm_fail("flush failed", a, (uint64_t)rc);
}

static uint64_t leaf_flags(struct osm *os)
{
	uint64_t f = X86_PTE_P | X86_PTE_US;

	if (chance(os, 70))
		f |= X86_PTE_RW;
	if (os->cfg.nxe && chance(os, 10))
		f |= X86_PTE_NX;
	if (chance(os, 30))
		f |= X86_PTE_A;
	if ((f & X86_PTE_RW) && chance(os, 20))
		f |= X86_PTE_D;
	if (chance(os, 5))
		f |= X86_PTE_PWT | X86_PTE_PCD;
	if (chance(os, 3))
		f &= ~X86_PTE_US;
	return f;
}

static unsigned pick_as(struct osm *os)
{
	unsigned a;

	if (chance(os, 60))
		return os->cur;
	do
		a = (unsigned)(osm_rnd(os) % os->cfg.max_as);
	while (!os->as[a].live);
	return a;
}

static uint64_t user_va(struct osm *os)
{
	return OSM_U4K + (osm_rnd(os) % OSM_U4K_N) * 4096;
}

static bool op_map(struct osm *os)
{
	unsigned a = pick_as(os);
	uint64_t va = user_va(os), e, frame, s = slot(os, os->as[a].root, va, 1, true);
	uint64_t f = leaf_flags(os);
	unsigned pick = (unsigned)(osm_rnd(os) % 100);

	if (!s)
		return true;
	e = rd(os, s);
	if (e & X86_PTE_P)
		return true;
	if (pick < 85) {
		frame = alloc_data(os);
		if (!frame)
			return true;
	} else if (pick < 90) {
		frame = os->dbase + (osm_rnd(os) % os->ndata) * 4096;
		data_ref(os, frame, 1);
	} else if (pick < 94) {
		frame = OSM_MMIO;
	} else if (pick < 96) {
		frame = OSM_HOLE;
	} else {
		frame = OSM_TBASE + (osm_rnd(os) % os->ntab) * 4096;
		f &= ~X86_PTE_RW;   /* a page table, read-only to the user */
	}
	os->st.maps++;
	return set_entry(os, s, frame | f) && flush_as(os, a, va, true);
}

static bool op_unmap(struct osm *os)
{
	unsigned a = pick_as(os);
	uint64_t va = user_va(os), s = slot(os, os->as[a].root, va, 1, false), e;

	if (!s || !((e = rd(os, s)) & X86_PTE_P))
		return true;
	data_ref(os, e & entry_mask(os), -1);
	return set_entry(os, s, 0) && flush_as(os, a, va, true);
}

static bool op_protect(struct osm *os)
{
	unsigned a = pick_as(os);
	uint64_t va = user_va(os), s = slot(os, os->as[a].root, va, 1, false), e;
	uint64_t frame;

	if (!s || !((e = rd(os, s)) & X86_PTE_P) || (e & OSM_COW))
		return true;
	frame = e & entry_mask(os);
	switch (osm_rnd(os) % 4) {
	case 0:
		if (frame >= os->dbase)
			e ^= X86_PTE_RW;
		break;
	case 1:
		if (os->cfg.nxe)
			e ^= X86_PTE_NX;
		break;
	case 2:
		e ^= X86_PTE_US;
		break;
	default:
		e &= ~(X86_PTE_A | X86_PTE_D);  /* the OS's A/D scan */
		break;
	}
	return set_entry(os, s, e) && flush_as(os, a, va, true);
}

/* Clear A in an upper-level entry (a working-set scan), then flush all. */
static bool op_clear_upper(struct osm *os)
{
	unsigned a = pick_as(os), level = 2;
	uint64_t va = user_va(os), s = slot(os, os->as[a].root, va, level, false), e;

	if (!s || !((e = rd(os, s)) & X86_PTE_P) || !(e & X86_PTE_A))
		return true;
	return set_entry(os, s, e & ~X86_PTE_A) && flush_as(os, a, va, false);
}

static bool op_large(struct osm *os)
{
	unsigned a = pick_as(os);
	bool big = os->esize == 4;
	uint64_t size = big ? 0x400000ULL : 0x200000ULL;
	uint64_t va = OSM_ULG + (osm_rnd(os) % (0x800000 / size)) * size;
	uint64_t s = slot(os, os->as[a].root, va, 2, true), e, frame, f;

	if (!s || (big && !os->cfg.pse))
		return true;
	e = rd(os, s);
	if ((e & X86_PTE_P) && !(e & X86_PTE_PS))
		return true;    /* a table of 4 KiB pages is there */
	frame = os->dbase + (osm_rnd(os) % ((os->cfg.ram - os->dbase) / size)) * size;
	frame = (frame + size - 1) & ~(size - 1);
	if (frame + size > os->cfg.ram)
		frame = os->cfg.ram - size;
	f = leaf_flags(os) | X86_PTE_PS;
	if (f & X86_PTE_PWT)
		f |= X86_PTE_PAT_LARGE;
	if (big && chance(os, 10))
		frame |= 1ULL << 13;    /* PSE-36: gpa bit 32, beyond RAM */
	if (chance(os, 10))
		f = 0;                  /* unmap */
	os->st.maps++;
	return set_entry(os, s, f ? frame | f : 0) && flush_as(os, a, va, false);
}

static bool new_as(struct osm *os, unsigned *out)
{
	unsigned a, i;
	uint64_t root;

	for (a = 0; a < os->cfg.max_as && os->as[a].live; a++)
		;
	if (a == os->cfg.max_as || !(root = alloc_table(os)))
		return false;
	if (!kzero(os, root))
		return false;
	for (i = 0; i < os->nkroot; i++)
		if (!set_entry(os, root + (os->kidx + i) * os->esize,
			       os->kroot_entry[i]))
			return false;
	os->as[a].live = true;
	os->as[a].root = root;
	os->as[a].pcid = (uint16_t)(a + 1);
	os->nlive++;
	if (os->cfg.mode == VMMU_PAGING_PAE && !slot(os, root, OSM_U4K, 2, true))
		return false;
	if (os->cfg.pcid &&
	    vmmu_vcpu_invpcid(os->vcpu, 1, os->as[a].pcid, mk_gva(0)) < 0)
		return false;
	*out = a;
	return true;
}

static bool switch_to(struct osm *os, unsigned a)
{
	uint64_t cr3 = os->as[a].root;

	if (os->cfg.pcid)
		cr3 |= os->as[a].pcid | (chance(os, 50) ? 1ULL << 63 : 0);
	os->cur = a;
	os->st.switches++;
	return vmmu_vcpu_set_cr(os->vcpu, VMMU_CR3, cr3) == 0 ||
	       osm_fail("MOV to CR3 failed", cr3, 0);
}

static bool op_switch(struct osm *os)
{
	return switch_to(os, pick_as(os));
}

static bool fork_page(struct osm *os, unsigned parent, unsigned child,
		      uint64_t va, unsigned level)
{
	uint64_t ps = slot(os, os->as[parent].root, va, level, false), cs, e;

	if (!ps || !((e = rd(os, ps)) & X86_PTE_P))
		return true;
	if (level == 2 && !(e & X86_PTE_PS))
		return true;
	if (!(cs = slot(os, os->as[child].root, va, level, true)))
		return true;
	if (level == 1) {
		data_ref(os, e & entry_mask(os), 1);
		if ((e & X86_PTE_RW) && (e & entry_mask(os)) >= os->dbase &&
		    (e & entry_mask(os)) < os->cfg.ram) {
			e = (e & ~X86_PTE_RW) | OSM_COW;
			if (!set_entry(os, ps, e))
				return false;
		}
	} else {
		e &= ~X86_PTE_RW;
	}
	return set_entry(os, cs, e);
}

static bool op_fork(struct osm *os)
{
	unsigned parent = os->cur, child;
	uint64_t va, size = os->esize == 4 ? 0x400000ULL : 0x200000ULL;

	if (os->nlive >= os->cfg.max_as || !new_as(os, &child))
		return true;
	os->st.forks++;
	for (va = OSM_U4K; va < OSM_U4K + OSM_U4K_N * 4096ULL; va += 4096)
		if (!fork_page(os, parent, child, va, 1))
			return false;
	for (va = OSM_ULG; va < OSM_ULG + 0x800000; va += size)
		if (!fork_page(os, parent, child, va, 2))
			return false;
	return flush_as(os, parent, 0, false) &&
	       (chance(os, 50) || switch_to(os, child));
}

static bool is_kernel_index(const struct osm *os, unsigned level, unsigned i)
{
	return level == os->top && i >= os->kidx && i < os->kidx + os->nkroot;
}

static void free_tree(struct osm *os, uint64_t table, unsigned level)
{
	unsigned n = os->cfg.mode == VMMU_PAGING_PAE && level == 3 ? 4 :
		     1U << os->bits;

	for (unsigned i = 0; i < n; i++) {
		uint64_t e = rd(os, table + i * os->esize), t = e & entry_mask(os);

		if (!(e & X86_PTE_P) || is_kernel_index(os, level, i))
			continue;
		if (level == 1)
			data_ref(os, t, -1);
		else if (!(e & X86_PTE_PS) || (level == 3 &&
			 os->cfg.mode == VMMU_PAGING_PAE))
			if (t >= OSM_TBASE && t < os->tend) {
				free_tree(os, t, level - 1);
				free_table(os, t);
			}
	}
}

static bool op_exit(struct osm *os)
{
	unsigned a = pick_as(os);

	if (a == os->cur || os->nlive < 2)
		return true;
	free_tree(os, os->as[a].root, os->top);
	free_table(os, os->as[a].root);
	os->as[a].live = false;
	os->nlive--;
	os->st.exits++;
	return true;
}

/* The OS's #PF handler for a write to a copy-on-write page. */
static bool cow_fault(struct osm *os, uint64_t va, bool *fixed)
{
	uint64_t s = slot(os, os->as[os->cur].root, va, 1, false), e, old, n;
	uint8_t page[4096];

	*fixed = false;
	if (!s || !((e = rd(os, s)) & OSM_COW))
		return true;
	old = e & entry_mask(os);
	if (os->dref[(old - os->dbase) >> 12] > 1) {
		if (!(n = alloc_data(os)))
			return true;
		if (vmmu_vm_read_gpa(os->vm, mk_gpa(old), page, 4096) < 0 ||
		    vmmu_vm_write_gpa(os->vm, mk_gpa(n), page, 4096) < 0)
			return osm_fail("COW copy failed", old, n);
		data_ref(os, old, -1);
		e = (e & ~entry_mask(os)) | n;
	}
	e = (e & ~OSM_COW) | X86_PTE_RW;
	os->st.cow++;
	*fixed = true;
	return set_entry(os, s, e) && flush_as(os, os->cur, va, true);
}

static bool op_access(struct osm *os)
{
	struct vmmu_access acc = { .kind = (enum vmmu_access_kind)(osm_rnd(os) % 3),
				   .cpl = chance(os, 70) ? 3 : 0 };
	struct vmmu_walk_result ref;
	uint64_t off = osm_rnd(os) & 0xff8;
	bool fixed;

	if (chance(os, 25)) {
		uint64_t gpa = osm_rnd(os) % os->cfg.ram;

		acc.cpl = 0;
		if (acc.kind == VMMU_ACCESS_WRITE)
			gpa = os->dbase + osm_rnd(os) % (os->cfg.ram - os->dbase);
		acc.gva = mk_gva(os->kbase + (gpa & ~7ULL));
	} else if (chance(os, 80)) {
		acc.gva = mk_gva(user_va(os) + off);
	} else {
		acc.gva = mk_gva(OSM_ULG + (osm_rnd(os) % 0x800000 & ~7ULL));
	}
	if (!osm_check_access(os, &acc, &ref))
		return false;
	if (ref.ok || ref.vector != X86_VEC_PF ||
	    (ref.error_code & (X86_PFEC_P | X86_PFEC_W | X86_PFEC_U)) !=
	    (X86_PFEC_P | X86_PFEC_W | X86_PFEC_U))
		return true;
	if (!cow_fault(os, acc.gva.v, &fixed))
		return false;
	return !fixed || osm_check_access(os, &acc, &ref);
}

static bool op_invlpg(struct osm *os)
{
	return vmmu_vcpu_invlpg(os->vcpu, mk_gva(user_va(os))) == 0;
}

static bool op_dma(struct osm *os)
{
	uint64_t v = osm_rnd(os), gpa = os->dbase + (osm_rnd(os) % (os->cfg.ram - os->dbase));

	return vmmu_vm_write_gpa(os->vm, mk_gpa(gpa & ~7ULL), &v, 8) == 0;
}

static bool op_toggle_wp(struct osm *os)
{
	return vmmu_vcpu_set_cr(os->vcpu, VMMU_CR0,
				os->vcpu->paging.cr0 ^ X86_CR0_WP) == 0;
}

static bool boot_kernel(struct osm *os)
{
	const uint64_t leaf = X86_PTE_P | X86_PTE_RW | X86_PTE_A | X86_PTE_D |
			      X86_PTE_G;
	const uint64_t link = X86_PTE_P | X86_PTE_RW | X86_PTE_A;
	uint64_t ram = os->cfg.ram, t, pd, i, k;

	switch (os->cfg.mode) {
	case VMMU_PAGING_2LEVEL:
		os->kbase = 0xc0000000ULL;
		os->kidx = 768;
		os->nkroot = (unsigned)(ram >> 22);
		for (i = 0; i < os->nkroot; i++) {
			if (os->cfg.pse) {
				os->kroot_entry[i] = (i << 22) | leaf | X86_PTE_PS;
				continue;
			}
			t = alloc_table(os);
			for (k = 0; k < 1024; k++)
				if (!set_entry(os, t + k * 4, ((i << 22) + (k << 12)) | leaf))
					return false;
			os->kroot_entry[i] = t | link;
		}
		return true;
	case VMMU_PAGING_PAE:
		os->kbase = 0xc0000000ULL;
		os->kidx = 3;
		break;
	case VMMU_PAGING_4LEVEL:
		os->kbase = 0xffff880000000000ULL;
		os->kidx = 272;
		break;
	default:
		os->kbase = 0xff00000000000000ULL;
		os->kidx = 256;
		break;
	}
	os->nkroot = 1;
	pd = alloc_table(os);
	for (i = 0; i < ram >> 21; i++)
		if (!set_entry(os, pd + i * 8, (i << 21) | leaf | X86_PTE_PS))
			return false;
	if (os->cfg.mode == VMMU_PAGING_PAE) {
		os->kroot_entry[0] = pd | X86_PTE_P;
		return true;
	}
	t = alloc_table(os);
	if (!set_entry(os, t, os->cfg.kernel_1g ? leaf | X86_PTE_PS : pd | link))
		return false;
	if (os->cfg.mode == VMMU_PAGING_5LEVEL) {
		uint64_t l4 = alloc_table(os);

		if (!set_entry(os, l4, t | link))
			return false;
		t = l4;
	}
	os->kroot_entry[0] = t | link;
	return true;
}

static int set_regs(struct osm *os)
{
	struct vmmu_vcpu *v = os->vcpu;
	bool ia32e = os->cfg.mode >= VMMU_PAGING_4LEVEL;
	uint64_t cr4 = X86_CR4_PGE, efer = os->cfg.nxe ? X86_EFER_NXE : 0;
	uint64_t cr0 = X86_CR0_PG | X86_CR0_PE | (os->cfg.wp0 ? 0 : X86_CR0_WP);
	int rc;

	v->paging.maxphyaddr = 46;
	v->paging.rflags = 2;
	if (os->cfg.mode == VMMU_PAGING_2LEVEL)
		cr4 |= os->cfg.pse ? X86_CR4_PSE : 0;
	else
		cr4 |= X86_CR4_PAE;
	if (os->cfg.mode == VMMU_PAGING_5LEVEL)
		cr4 |= X86_CR4_LA57;
	if (ia32e) {
		efer |= X86_EFER_LME | X86_EFER_LMA;
		cr4 |= os->cfg.pcid ? X86_CR4_PCIDE : 0;
	}
	if (os->cfg.smep_smap)
		cr4 |= X86_CR4_SMEP | X86_CR4_SMAP;
	rc = vmmu_vcpu_set_cr(v, VMMU_EFER, efer);
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(v, VMMU_CR4, cr4);
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(v, VMMU_CR3, os->as[0].root |
				      (os->cfg.pcid ? os->as[0].pcid : 0));
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(v, VMMU_CR0, cr0);
	return rc;
}

int osm_create(const struct osm_cfg *cfg, struct osm **out)
{
	struct osm *os = calloc(1, sizeof(*os));
	unsigned a;

	if (!os)
		return -1;
	os->cfg = *cfg;
	if (os->cfg.max_as > OSM_MAX_AS || !os->cfg.max_as)
		os->cfg.max_as = 16;
	os->rng = cfg->seed * 0x9e3779b97f4a7c15ULL + 1;
	os->top = cfg->mode == VMMU_PAGING_2LEVEL ? 2 : cfg->mode == VMMU_PAGING_PAE ?
		  3 : cfg->mode == VMMU_PAGING_5LEVEL ? 5 : 4;
	os->bits = cfg->mode == VMMU_PAGING_2LEVEL ? 10 : 9;
	os->esize = cfg->mode == VMMU_PAGING_2LEVEL ? 4 : 8;
	os->dbase = cfg->ram / 2;
	os->tend = os->dbase;
	os->ntab = (os->tend - OSM_TBASE) >> 12;
	os->ndata = (cfg->ram - os->dbase) >> 12;
	os->tused = calloc(os->ntab, 1);
	os->dref = calloc(os->ndata, sizeof(*os->dref));
	os->booting = true;
	if (!os->tused || !os->dref ||
	    vmmu_hosted_create(cfg->ram + (256ULL << 20), &os->arena) < 0)
		goto err;
	vmmu_hosted_platform(os->arena, &os->plat);
	if (vmmu_vm_create(&os->plat, &os->vm) < 0 ||
	    vmmu_vm_add_slot(os->vm, mk_gpa(0), cfg->ram, VMMU_MEM_RAM) < 0 ||
	    vmmu_vm_add_slot(os->vm, mk_gpa(OSM_MMIO), 4096, VMMU_MEM_MMIO) < 0 ||
	    vmmu_vm_set_backend(os->vm, VMMU_BACKEND_SHADOW, &vmmu_backend_shadow) < 0 ||
	    (cfg->pool_pages && vmmu_shadow_set_pool_pages(os->vm, cfg->pool_pages) < 0) ||
	    vmmu_shadow_set_oos(os->vm, cfg->oos) < 0 ||
	    vmmu_shadow_set_prefetch(os->vm, cfg->prefetch) < 0 ||
	    vmmu_vcpu_create(os->vm, &os->vcpu) < 0)
		goto err;
	if (!boot_kernel(os) || !new_as(os, &a) || set_regs(os) < 0)
		goto err;
	os->booting = false;
	os->cur = a;
	*out = os;
	return 0;
err:
	fprintf(stderr, "os_sim: cannot boot the guest\n");
	osm_destroy(os);
	return -1;
}

void osm_destroy(struct osm *os)
{
	if (!os)
		return;
	if (os->vm)
		vmmu_vm_destroy(os->vm);
	if (os->arena)
		vmmu_hosted_destroy(os->arena);
	free(os->tused);
	free(os->dref);
	free(os);
}

static bool step(struct osm *os)
{
	unsigned p = (unsigned)(osm_rnd(os) % 1000);

	if (p < 620) return op_access(os);
	if (p < 720) return op_map(os);
	if (p < 760) return op_unmap(os);
	if (p < 820) return op_protect(os);
	if (p < 830) return op_clear_upper(os);
	if (p < 860) return op_large(os);
	if (p < 920) return op_switch(os);
	if (p < 930) return op_fork(os);
	if (p < 940) return op_exit(os);
	if (p < 970) return op_invlpg(os);
	if (p < 995) return op_dma(os);
	return op_toggle_wp(os);
}

static bool shadow_ok(struct osm *os)
{
	const char *why = NULL;

	os->st.checks++;
	if (vmmu_shadow_check(os->vm, &why) == 0)
		return true;
	return osm_fail(why ? why : "shadow check failed", os->st.steps, 0);
}

bool osm_run(struct osm *os, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		os->st.steps++;
		if (!step(os))
			return osm_fail("at step (seed)", os->st.steps, os->cfg.seed);
		if (os->vm->dead)
			return osm_fail(os->vm->dead_reason, os->st.steps, 0);
		if (os->cfg.check_every && os->st.steps % os->cfg.check_every == 0 &&
		    !shadow_ok(os))
			return false;
	}
	return shadow_ok(os);
}

bool osm_populate(struct osm *os, unsigned n, unsigned pages)
{
	unsigned a;

	while (os->nlive < n) {
		if (!new_as(os, &a))
			return osm_fail("cannot create an address space", os->nlive, 0);
		for (unsigned k = 0; k < pages; k++) {
			uint64_t va = OSM_U4K + k * 4096ULL, f = alloc_data(os);
			uint64_t s = slot(os, os->as[a].root, va, 1, true);

			if (!f || !s)
				return osm_fail("out of guest frames", os->nlive, k);
			if (!set_entry(os, s, f | X86_PTE_P | X86_PTE_RW | X86_PTE_US))
				return false;
		}
	}
	return shadow_ok(os);
}

bool osm_round_robin(struct osm *os, unsigned pages)
{
	struct vmmu_walk_result ref;

	for (unsigned a = 0; a < os->cfg.max_as; a++) {
		if (!os->as[a].live)
			continue;
		if (!switch_to(os, a))
			return false;
		for (unsigned k = 0; k < pages; k++) {
			struct vmmu_access acc = { mk_gva(OSM_U4K + k * 4096ULL + 8 * k),
						   k & 1 ? VMMU_ACCESS_WRITE : VMMU_ACCESS_READ,
						   3, false };

			if (!osm_check_access(os, &acc, &ref))
				return false;
		}
	}
	return shadow_ok(os);
}
