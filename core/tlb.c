/* SPDX-License-Identifier: MIT */
/*
 * The TLB and paging-structure-cache model (core/tlb.h). Freestanding.
 *
 * Entry encoding (struct ent, 32 bytes, one format for every array):
 *   key  = base | psize << 1 | 1 (TLBs) or base | level << 1 | mode << 4
 *          | 1 (guest PWC) or base | level << 1 | 1 (nested PWC), where
 *          base is the address with the bits below the page or level
 *          boundary cleared (>= 2 MiB for caches, so bits 11:0 are free);
 *          bit 0 = valid. A lookup compares the whole word at once.
 *   tag  = vpid << 32 | ctx << 16 | pcid, bit 63 = global (combined TLB
 *          only); ctx << 16 alone for the guest-physical TLB and the
 *          nested caches. A global entry matches any PCID (SDM Vol. 3A
 *          4.10.2.4), so the compare masks bits 11:0 for it.
 *   val  = host-physical page base (TLBs), next guest table gpa (PWC),
 *          next nested table hpa (NPWC).
 *   attr = rights (2:0) | pkey << 3 | dirty << 7 | nested << 8 | ok << 11
 *          (combined TLB; ok bit k: an access of kind k passes the nested
 *          rights and the D rule); nested rights (guest-physical TLB,
 *          NPWC); rights (PWC).
 *   stamp: the vCPU clock at the last fill or hit (LRU).
 *
 * Invariants: an array's present mask has bit s set whenever a valid
 * entry of page size s may be in it (so lookups skip sizes never filled);
 * it is cleared when the array holds no valid entry (nvalid == 0). A
 * hit-cache slot is a hint only (core/tlb_internal.h). The rights rows
 * hold vmmu_walk_check_rights() verdicts for the registers in t->snap.
 */
#include <string.h>

#include "core/tlb_internal.h"
#include "vmmu/error.h"

/* L1 array per [fetch][psize]; VMMU_TLB_NARRAY = none. */
static const uint8_t l1_for[2][VMMU_TLB_NPSIZE] = {
	{ VMMU_TLB_L1D_4K, VMMU_TLB_L1D_LARGE, VMMU_TLB_L1D_LARGE,
	  VMMU_TLB_L1D_1G },
	{ VMMU_TLB_L1I_4K, VMMU_TLB_L1I_LARGE, VMMU_TLB_L1I_LARGE,
	  VMMU_TLB_NARRAY },
};

/* Probe order per [fetch]; ends with VMMU_TLB_NARRAY. */
static const uint8_t probe_order[2][6] = {
	{ VMMU_TLB_L1D_4K, VMMU_TLB_L1D_LARGE, VMMU_TLB_L1D_1G, VMMU_TLB_STLB,
	  VMMU_TLB_STLB_1G, VMMU_TLB_NARRAY },
	{ VMMU_TLB_L1I_4K, VMMU_TLB_L1I_LARGE, VMMU_TLB_STLB, VMMU_TLB_STLB_1G,
	  VMMU_TLB_NARRAY, VMMU_TLB_NARRAY },
};

/* ---- configuration ---------------------------------------------------- */

static void geom(struct vmmu_tlb_geom *g, uint32_t sets, uint32_t ways)
{
	g->sets = sets;
	g->ways = ways;
}

/*
 * Defaults; docs/tlb.md gives the source of each number. Fully
 * associative hardware arrays of n entries are modelled as 1 x n when n
 * is small (<= 16), as a few sets otherwise (a hit scans one set).
 */
int vmmu_tlb_config_default(struct vmmu_tlb_config *cfg,
			    enum vmmu_tlb_profile profile)
{
	unsigned i;

	if (!cfg)
		return VMMU_EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	switch (profile) {
	case VMMU_TLB_PROFILE_INTEL:
		geom(&cfg->tlb[VMMU_TLB_L1D_4K], 16, 6);     /* 96, 6-way */
		geom(&cfg->tlb[VMMU_TLB_L1D_LARGE], 8, 4);   /* 32, 4-way */
		geom(&cfg->tlb[VMMU_TLB_L1D_1G], 1, 8);      /* 8, full */
		geom(&cfg->tlb[VMMU_TLB_L1I_4K], 32, 8);     /* 256, 8-way */
		geom(&cfg->tlb[VMMU_TLB_L1I_LARGE], 4, 8);   /* 32, 8-way */
		geom(&cfg->tlb[VMMU_TLB_STLB], 128, 16);     /* 2048, 16-way */
		geom(&cfg->tlb[VMMU_TLB_STLB_1G], 128, 8);   /* 1024, 8-way */
		geom(&cfg->pwc[0], 8, 4);                    /* PDE: 32 */
		geom(&cfg->pwc[1], 1, 4);                    /* PDPTE: 4 */
		geom(&cfg->pwc[2], 1, 2);                    /* PML4E: 2 */
		geom(&cfg->pwc[3], 1, 2);                    /* PML5E: 2 */
		break;
	case VMMU_TLB_PROFILE_AMD:
		geom(&cfg->tlb[VMMU_TLB_L1D_4K], 8, 9);      /* 72, full */
		geom(&cfg->tlb[VMMU_TLB_L1D_LARGE], 8, 9);
		geom(&cfg->tlb[VMMU_TLB_L1D_1G], 8, 9);
		geom(&cfg->tlb[VMMU_TLB_L1I_4K], 8, 8);      /* 64, full */
		geom(&cfg->tlb[VMMU_TLB_L1I_LARGE], 8, 8);
		geom(&cfg->tlb[VMMU_TLB_STLB], 128, 24);     /* 3072, 24-way */
		geom(&cfg->tlb[VMMU_TLB_STLB_1G], 8, 8);     /* 64 (assumed) */
		geom(&cfg->pwc[0], 16, 4);                   /* PWC: 64 */
		geom(&cfg->pwc[1], 4, 4);
		geom(&cfg->pwc[2], 1, 4);
		geom(&cfg->pwc[3], 1, 2);
		break;
	default:
		return VMMU_EINVAL;
	}
	/* No public figure for either vendor: vmmu's assumptions. */
	geom(&cfg->gpa_tlb, 64, 8);                          /* 512 */
	for (i = 0; i < VMMU_TLB_PWC_LEVELS; i++)
		geom(&cfg->npwc[i], i == 0 ? 4 : 1, i == 0 ? 8 : 4);
	return 0;
}

static bool geom_ok(const struct vmmu_tlb_geom *g)
{
	if (g->sets == 0 && g->ways == 0)
		return true;
	if (g->sets == 0 || (g->sets & (g->sets - 1)) != 0)
		return false;
	if (g->ways == 0 || g->ways > VMMU_TLB_MAX_WAYS)
		return false;
	return (uint64_t)g->sets * g->ways <= VMMU_TLB_MAX_ENTRIES;
}

int vmmu_tlb_config_check(const struct vmmu_tlb_config *cfg)
{
	const struct vmmu_tlb_geom *g;
	size_t i, n;

	if (!cfg)
		return VMMU_EINVAL;
	g = &cfg->tlb[0];
	n = sizeof(*cfg) / sizeof(*g);
	for (i = 0; i < n; i++)
		if (!geom_ok(&g[i]))
			return VMMU_EINVAL;
	return 0;
}

static size_t entries_total(const struct vmmu_tlb_config *cfg)
{
	const struct vmmu_tlb_geom *g = &cfg->tlb[0];
	size_t i, n = sizeof(*cfg) / sizeof(*g), sum = 0;

	for (i = 0; i < n; i++)
		sum += (size_t)g[i].sets * g[i].ways;
	return sum;
}

size_t vmmu_tlb_mem_size(const struct vmmu_tlb_config *cfg)
{
	if (vmmu_tlb_config_check(cfg) < 0)
		return 0;
	return sizeof(struct vmmu_tlb) + entries_total(cfg) * sizeof(struct ent);
}

static struct ent *arr_setup(struct arr *a, const struct vmmu_tlb_geom *g,
			     struct ent *next)
{
	a->e = next;
	a->set_mask = g->sets ? g->sets - 1 : 0;
	a->ways = g->ways;
	a->nvalid = 0;
	a->present = 0;
	return next + (size_t)g->sets * g->ways;
}

int vmmu_tlb_init(void *mem, size_t len, const struct vmmu_tlb_config *cfg,
		  struct vmmu_tlb **out)
{
	struct vmmu_tlb *t = mem;
	struct ent *next;
	size_t need = vmmu_tlb_mem_size(cfg);
	unsigned i;

	if (!mem || !out || need == 0 || ((uintptr_t)mem & 7))
		return VMMU_EINVAL;
	if (len < need)
		return VMMU_ENOSPC;
	memset(mem, 0, need);
	next = (struct ent *)(t + 1);
	for (i = 0; i < VMMU_TLB_NARRAY; i++)
		next = arr_setup(&t->tlb[i], &cfg->tlb[i], next);
	next = arr_setup(&t->gpa, &cfg->gpa_tlb, next);
	for (i = 0; i < VMMU_TLB_PWC_LEVELS; i++)
		next = arr_setup(&t->pwc[i], &cfg->pwc[i], next);
	for (i = 0; i < VMMU_TLB_PWC_LEVELS; i++)
		next = arr_setup(&t->npwc[i], &cfg->npwc[i], next);
	for (i = 0; i < 2 << HC_BITS; i++)
		t->hc[i >> HC_BITS][i & ((1U << HC_BITS) - 1)] = &t->none;
	t->last_shape.word = 1;             /* matches no op */
	t->bytes = need;
	*out = t;
	return 0;
}

int vmmu_tlb_create(const struct vmmu_platform *plat,
		    const struct vmmu_tlb_config *cfg, struct vmmu_tlb **out)
{
	size_t need = vmmu_tlb_mem_size(cfg);
	void *mem;
	int rc;

	if (!plat || !plat->zalloc || !plat->free || !out || need == 0)
		return VMMU_EINVAL;
	mem = plat->zalloc(plat->ctx, need);
	if (!mem)
		return VMMU_ENOMEM;
	rc = vmmu_tlb_init(mem, need, cfg, out);
	if (rc < 0)
		plat->free(plat->ctx, mem);
	return rc;
}

void vmmu_tlb_destroy(const struct vmmu_platform *plat, struct vmmu_tlb *t)
{
	if (plat && plat->free && t)
		plat->free(plat->ctx, t);
}

void vmmu_tlb_set_tag(struct vmmu_tlb *t, uint16_t vpid, uint16_t pcid,
		      uint8_t ctx)
{
	t->tag = (uint64_t)vpid << 32 | (uint64_t)ctx << 16 | (pcid & TAG_PCID);
}

const struct vmmu_tlb_stats *vmmu_tlb_stats(struct vmmu_tlb *t)
{
	struct vmmu_tlb_stats *st = &t->st;
	uint64_t found = 0;
	unsigned i, s;

	/* drain the hit-cache counters (tlb_hit_count) */
	st->arr_hits[VMMU_TLB_L1D_4K][VMMU_TLB_4K] += t->hc_hits[0];
	st->arr_hits[VMMU_TLB_L1I_4K][VMMU_TLB_4K] += t->hc_hits[1];
	t->hc_hits[0] = t->hc_hits[1] = 0;
	for (i = 0; i < VMMU_TLB_NARRAY; i++) {
		st->arr_lookups[i] = st->arr_misses[i];
		for (s = 0; s < VMMU_TLB_NPSIZE; s++)
			st->arr_lookups[i] += st->arr_hits[i][s];
	}
	for (i = 0; i < VMMU_TLB_NARRAY; i++)
		for (s = 0; s < VMMU_TLB_NPSIZE; s++)
			found += st->arr_hits[i][s];
	st->hits = found - st->refused_guest - st->refused_nested -
		   st->refused_dirty;
	st->lookups = found + st->misses;
	return st;
}

void vmmu_tlb_stats_reset(struct vmmu_tlb *t)
{
	memset(&t->st, 0, sizeof(t->st));
	t->hc_hits[0] = t->hc_hits[1] = 0;
}

/* ---- one set-associative array ---------------------------------------- */

/*
 * The way of a's set that serves (key, tag), or NULL. Every way's key is
 * compared (a fixed trip count per array, so no mispredicted early exit),
 * then the tags of the ways whose key matched; the lowest way wins.
 */
static inline struct ent *probe(const struct arr *a, uint64_t key,
				uint64_t tag, unsigned shift)
{
	struct ent *s = set_of(a, key, shift);
	uint64_t m = 0;
	uint32_t w;

	for (w = 0; w < a->ways; w++)
		m |= (uint64_t)(s[w].key == key) << w;
	for (; m; m &= m - 1) {         /* usually one candidate */
		struct ent *e = &s[tlb_ctz64(m)];

		if (tag_match(e->tag, tag))
			return e;
	}
	return NULL;
}

/*
 * Insert into a: an entry with the same key and tag (global bit included)
 * is replaced, else an invalid way, else the least recently used one.
 * Returns true when a valid entry of another translation was evicted.
 */
static bool arr_insert(struct vmmu_tlb *t, struct arr *a, unsigned shift,
		       unsigned psize, const struct ent *n, struct ent **where)
{
	struct ent *s, *victim = NULL;
	uint32_t w, age = 0;
	bool evict = false;

	if (where)
		*where = NULL;
	if (!a->ways)
		return false;
	s = set_of(a, n->key, shift);
	for (w = 0; w < a->ways; w++) {
		if (s[w].key == n->key && s[w].tag == n->tag) {
			victim = &s[w];
			break;
		}
		if (!(s[w].key & 1)) {
			if (!victim || (victim->key & 1))
				victim = &s[w];
		} else if ((!victim || (victim->key & 1)) &&
			   t->clock - s[w].stamp >= age) {
			age = t->clock - s[w].stamp;
			victim = &s[w];
		}
	}
	if (victim->key & 1)
		evict = victim->key != n->key || victim->tag != n->tag;
	else
		a->nvalid++;
	*victim = *n;
	victim->stamp = ++t->clock;
	a->present |= 1U << psize;
	if (where)
		*where = victim;
	return evict;
}

/* ---- combined TLB --------------------------------------------------- */

static unsigned psize_of(uint64_t size)
{
	switch (size) {
	case 1ULL << 12: return VMMU_TLB_4K;
	case 1ULL << 21: return VMMU_TLB_2M;
	case 1ULL << 22: return VMMU_TLB_4M;
	case 1ULL << 30: return VMMU_TLB_1G;
	default: return VMMU_TLB_NPSIZE;
	}
}

static struct ent *tlb_insert(struct vmmu_tlb *t, unsigned idx, unsigned ps,
			      const struct ent *n)
{
	struct ent *e;

	if (idx >= VMMU_TLB_NARRAY || !t->tlb[idx].ways)
		return NULL;
	t->st.arr_fills[idx]++;
	if (arr_insert(t, &t->tlb[idx], psize_shift[ps], ps, n, &e))
		t->st.arr_evictions[idx]++;
	return e;
}

int vmmu_tlb_fill(struct vmmu_tlb *t, const struct vmmu_tlb_fill *f)
{
	unsigned ps, fetch;
	struct ent n;

	if (!t || !f || f->rights > 7 || f->pkey > 15 || f->nested > 7 ||
	    f->kind > VMMU_ACCESS_FETCH)
		return VMMU_EINVAL;
	ps = psize_of(f->page_size);
	if (ps == VMMU_TLB_NPSIZE)
		return VMMU_EINVAL;
	fetch = f->kind == VMMU_ACCESS_FETCH;
	n.key = tlb_key(f->gva.v, ps);
	n.tag = t->tag | (f->global ? TAG_G : 0);
	n.val = f->hpa.v & ~(f->page_size - 1);
	n.attr = f->rights | (uint32_t)f->pkey << 3 |
		 (f->dirty ? A_DIRTY : 0) | (uint32_t)f->nested << A_NSHIFT |
		 (uint32_t)((f->nested & (VMMU_TLB_NR | VMMU_TLB_NX)) |
			    (f->dirty ? f->nested & VMMU_TLB_NW : 0)) << A_OKSHIFT;
	n.stamp = 0;
	tlb_insert(t, l1_for[fetch][ps], ps, &n);
	tlb_insert(t, ps == VMMU_TLB_1G ? VMMU_TLB_STLB_1G : VMMU_TLB_STLB,
		   ps, &n);
	return 0;
}

/* Drop every combined entry for la's page that serves the current tag. */
static unsigned drop_page(struct vmmu_tlb *t, uint64_t la)
{
	unsigned i, ps, n = 0;

	for (i = 0; i < VMMU_TLB_NARRAY; i++) {
		struct arr *a = &t->tlb[i];

		for (ps = 0; ps < VMMU_TLB_NPSIZE; ps++) {
			struct ent *e;

			if (!(a->present & (1U << ps)))
				continue;
			while ((e = probe(a, tlb_key(la, ps), t->tag,
					  psize_shift[ps])) != NULL) {
				ent_drop(a, e);
				n++;
				if (!a->present)
					break;
			}
		}
	}
	return n;
}

/* Find la in array a: the entry, *ps its size. */
static inline struct ent *arr_find(const struct arr *a, uint64_t la,
				   uint64_t tag, unsigned *ps)
{
	uint32_t sizes = a->present;
	struct ent *e;

	while (sizes) {
		unsigned s = tlb_ctz64(sizes);

		e = probe(a, tlb_key(la, s), tag, psize_shift[s]);
		if (e) {
			*ps = s;
			return e;
		}
		sizes &= sizes - 1;
	}
	return NULL;
}

static void TLB_NOINLINE
rights_row(struct vmmu_tlb *t, const struct vmmu_paging_state *ps,
	   unsigned sig)
{
	struct role_snap *sn = &t->snap;
	struct vmmu_paging_state local = *ps;
	struct vmmu_access a;
	unsigned rights, pkey;

	if (!sn->valid || !snap_same(t, ps)) {
		memcpy(sn->regs, ps, SNAP_BYTES);
		sn->maxphyaddr = ps->maxphyaddr;
		sn->valid = true;
		t->rows = 0;
		memset(t->allowsig, 0, sizeof(t->allowsig));
	}
	a.gva = mk_gva(0);
	a.kind = (enum vmmu_access_kind)(sig & 3);
	a.cpl = (uint8_t)((sig >> 2) & 3);
	a.implicit = (sig >> 4) & 1;
	local.rflags = (sig >> 5) & 1 ? X86_RFLAGS_AC : 0;
	for (rights = 0; rights < 8; rights++)
		for (pkey = 0; pkey < 16; pkey++) {
			uint64_t *w = &t->allowsig[rights | pkey << 3];

			if (vmmu_walk_check_rights(&local, &a, rights, pkey,
						   NULL) == 1)
				*w |= 1ULL << sig;
			else
				*w &= ~(1ULL << sig);
		}
	t->rows |= 1ULL << sig;
}


static inline bool rights_ok(struct vmmu_tlb *t,
			     const struct vmmu_paging_state *ps,
			     const struct vmmu_access *acc, uint32_t attr)
{
	unsigned sig = acc_sig(ps, acc);

	if (!rows_ok(t, ps, sig))
		rights_row(t, ps, sig);
	return row_allows(t, sig, attr);
}

/* A hit: may the access use it? NULL yes, else the refusal counter. */
static uint64_t *refusal(struct vmmu_tlb *t, const struct ent *e,
			 const struct vmmu_paging_state *ps,
			 const struct vmmu_access *acc)
{
	uint32_t attr = e->attr;

	/* Nested R/W/X by kind: READ = bit 0, WRITE = bit 1, FETCH = bit 2. */
	if (!((attr >> A_NSHIFT) & (1U << acc->kind)))
		return &t->st.refused_nested;
	/* A write through a clean entry walks to set D (SDM 4.8). */
	if (acc->kind == VMMU_ACCESS_WRITE && !(attr & A_DIRTY))
		return &t->st.refused_dirty;
	if (!rights_ok(t, ps, acc, attr))
		return &t->st.refused_guest;
	return NULL;
}

/*
 * Past the 4 KiB L1 array of the access kind: the other arrays in probe
 * order (enum vmmu_tlb_array). Counts a miss per array that missed.
 */
static struct ent *lookup_slow(struct vmmu_tlb *t, uint64_t la, unsigned fetch,
			       unsigned *idx, unsigned *size)
{
	const uint8_t *order = probe_order[fetch];
	unsigned i;

	t->st.arr_misses[order[0]]++;
	for (i = 1; order[i] != VMMU_TLB_NARRAY; i++) {
		struct ent *e = arr_find(&t->tlb[order[i]], la, t->tag, size);

		if (e) {
			*idx = order[i];
			return e;
		}
		t->st.arr_misses[order[i]]++;
	}
	t->st.misses++;
	return NULL;
}


/* Everything but a hit-cache hit that is allowed. */
int TLB_NOINLINE
vmmu_tlb_lookup_full(struct vmmu_tlb *t, const struct vmmu_paging_state *ps,
		     const struct vmmu_access *acc, hpa_t *hpa)
{
	unsigned fetch = acc->kind == VMMU_ACCESS_FETCH;
	unsigned idx = fetch ? VMMU_TLB_L1I_4K : VMMU_TLB_L1D_4K;
	unsigned size = VMMU_TLB_4K;
	uint64_t la = acc->gva.v, key = tlb_key(la, VMMU_TLB_4K), *why;
	struct ent *e = NULL;

	if (acc->kind > VMMU_ACCESS_FETCH || acc->cpl > 3)
		return VMMU_EINVAL;
	if (t->tlb[idx].present & 1)
		e = probe(&t->tlb[idx], key, t->tag, 12);
	if (!e) {
		e = lookup_slow(t, la, fetch, &idx, &size);
		if (!e)
			return VMMU_TLB_MISS;
	}
	t->st.arr_hits[idx][size]++;
	why = refusal(t, e, ps, acc);
	if (why) {
		(*why)++;
		t->st.inv[VMMU_TLB_INV_REFUSED] += drop_page(t, la);
		return VMMU_TLB_REFUSED;
	}
	e->stamp = ++t->clock;
	*hpa = mk_hpa(e->val | (la & ((1ULL << psize_shift[size]) - 1)));
	if (idx >= VMMU_TLB_STLB) {
		struct ent copy = *e;

		e = tlb_insert(t, l1_for[fetch][size], size, &copy);
	}
	/* e is now in the 4 KiB L1 array (or none takes it) */
	if (size == VMMU_TLB_4K && e)
		*hc_slot(t, fetch, la) = e;
	return VMMU_TLB_HIT;
}


int vmmu_tlb_fill_from_walk(struct vmmu_tlb_fill *f,
			    const struct vmmu_paging_state *ps,
			    const struct vmmu_access *acc,
			    const struct vmmu_walk_result *res)
{
	unsigned i, first, u = 1, w = 1, nx = 0;
	bool nxe;
	uint64_t leaf;

	if (!f || !ps || !acc || !res || !res->ok || res->levels > 5)
		return VMMU_EINVAL;
	memset(f, 0, sizeof(*f));
	f->gva = acc->gva;
	f->page_size = res->page_size;
	f->kind = acc->kind;
	f->nested = VMMU_TLB_NR | VMMU_TLB_NW | VMMU_TLB_NX;
	if (res->mode == VMMU_PAGING_NONE || res->levels == 0) {
		f->rights = 3;          /* paging off: no guest rights */
		f->dirty = true;
		return 0;
	}
	nxe = (ps->efer & X86_EFER_NXE) && res->mode >= VMMU_PAGING_PAE;
	/* PAE: pte[0] is a PDPTE register, which has no rights (SDM 4.4). */
	first = res->mode == VMMU_PAGING_PAE ? 1 : 0;
	for (i = first; i < res->levels; i++) {
		u &= (unsigned)(res->pte[i] >> 2) & 1;
		w &= (unsigned)(res->pte[i] >> 1) & 1;
		if (nxe)
			nx |= (unsigned)(res->pte[i] >> 63);
	}
	leaf = res->pte[res->levels - 1];
	f->rights = (uint8_t)(u | w << 1 | nx << 2);
	if (res->mode >= VMMU_PAGING_4LEVEL)
		f->pkey = (uint8_t)((leaf >> X86_PTE_PKEY_SHIFT) & 15);
	f->global = (ps->cr4 & X86_CR4_PGE_BIT) && (leaf & X86_PTE_G);
	f->dirty = (leaf & X86_PTE_D) || acc->kind == VMMU_ACCESS_WRITE;
	return 0;
}

/* ---- guest-physical TLB --------------------------------------------- */

static inline uint64_t ctx_tag(const struct vmmu_tlb *t)
{
	return t->tag & (0xffULL << 16);
}

int vmmu_tlb_gpa_fill(struct vmmu_tlb *t, gpa_t gpa, hpa_t hpa,
		      uint64_t page_size, uint8_t nested)
{
	unsigned ps = psize_of(page_size);
	struct ent n;

	if (!t || ps == VMMU_TLB_NPSIZE || ps == VMMU_TLB_4M || nested > 7)
		return VMMU_EINVAL;
	n.key = tlb_key(gpa.v, ps);
	n.tag = ctx_tag(t);
	n.val = hpa.v & ~(page_size - 1);
	n.attr = nested;
	n.stamp = 0;
	t->st.gpa_fills++;
	arr_insert(t, &t->gpa, psize_shift[ps], ps, &n, NULL);
	return 0;
}

int vmmu_tlb_gpa_lookup(struct vmmu_tlb *t, gpa_t gpa,
			enum vmmu_access_kind kind, hpa_t *hpa)
{
	unsigned size = 0;
	struct ent *e;

	t->st.gpa_lookups++;
	e = arr_find(&t->gpa, gpa.v, ctx_tag(t), &size);
	if (!e) {
		t->st.gpa_misses++;
		return VMMU_TLB_MISS;
	}
	if (!(e->attr & (1U << kind))) {
		/* every entry for gpa goes, as an EPT violation drops them */
		t->st.gpa_refused++;
		do
			ent_drop(&t->gpa, e);
		while ((e = arr_find(&t->gpa, gpa.v, ctx_tag(t), &size)));
		return VMMU_TLB_REFUSED;
	}
	t->st.gpa_hits[size]++;
	e->stamp = ++t->clock;
	*hpa = mk_hpa(e->val | (gpa.v & ((1ULL << psize_shift[size]) - 1)));
	return VMMU_TLB_HIT;
}

/* ---- paging-structure caches ----------------------------------------- */

static unsigned mode_top(enum vmmu_paging_mode mode)
{
	switch (mode) {
	case VMMU_PAGING_2LEVEL: return 2;
	case VMMU_PAGING_PAE: return 3;
	case VMMU_PAGING_4LEVEL: return 4;
	case VMMU_PAGING_5LEVEL: return 5;
	default: return 0;
	}
}

/* A PWC / NPWC entry for level found: the walk starts one level down. */
static unsigned cache_hit(struct vmmu_tlb *t, struct ent *e, uint64_t *count,
			  unsigned level, struct vmmu_tlb_pwc_hit *hit)
{
	(*count)++;
	e->stamp = ++t->clock;
	hit->level = level - 1;
	hit->table = e->val;
	hit->rights = (uint8_t)(e->attr & 7);
	return level - 1;
}

static void cache_fill(struct vmmu_tlb *t, struct arr *a, unsigned shift,
		       uint64_t key, uint64_t tag, uint64_t val, uint32_t attr)
{
	struct ent n = { key, tag, val, attr, 0 };

	arr_insert(t, a, shift, 0, &n, NULL);
}

int vmmu_tlb_pwc_fill(struct vmmu_tlb *t, enum vmmu_paging_mode mode,
		      gva_t gva, unsigned level, gpa_t next, uint8_t rights)
{
	unsigned shift = pwc_shift(mode, level);

	if (!t || !shift || rights > 7)
		return VMMU_EINVAL;
	t->st.pwc_fills++;
	cache_fill(t, &t->pwc[level - 2], shift,
		   pwc_key(gva.v, shift, level, mode), t->tag, next.v, rights);
	return 0;
}

unsigned vmmu_tlb_pwc_lookup(struct vmmu_tlb *t, enum vmmu_paging_mode mode,
			     gva_t gva, struct vmmu_tlb_pwc_hit *hit)
{
	unsigned top = mode_top(mode), level, shift;

	t->st.pwc_lookups++;
	for (level = 2; level <= 5; level++) {
		struct arr *a = &t->pwc[level - 2];
		struct ent *e;

		shift = pwc_shift(mode, level);
		if (!shift || !a->present)
			continue;
		e = probe(a, pwc_key(gva.v, shift, level, mode), t->tag, shift);
		if (e)
			return cache_hit(t, e, &t->st.pwc_hits[level - 2],
					 level, hit);
	}
	t->st.pwc_misses++;
	return top;
}

int vmmu_tlb_npwc_fill(struct vmmu_tlb *t, gpa_t gpa, unsigned level,
		       hpa_t next, uint8_t nested)
{
	unsigned shift = 12 + 9 * (level - 1);

	if (!t || level < 2 || level > 5 || nested > 7)
		return VMMU_EINVAL;
	t->st.npwc_fills++;
	cache_fill(t, &t->npwc[level - 2], shift, pwc_key(gpa.v, shift, level, 0),
		   ctx_tag(t), next.v, nested);
	return 0;
}

unsigned vmmu_tlb_npwc_lookup(struct vmmu_tlb *t, unsigned top, gpa_t gpa,
			      struct vmmu_tlb_pwc_hit *hit)
{
	unsigned level;

	t->st.npwc_lookups++;
	for (level = 2; level <= 5 && level <= top; level++) {
		unsigned shift = 12 + 9 * (level - 1);
		struct arr *a = &t->npwc[level - 2];
		struct ent *e;

		if (!a->present)
			continue;
		e = probe(a, pwc_key(gpa.v, shift, level, 0), ctx_tag(t), shift);
		if (e)
			return cache_hit(t, e, &t->st.npwc_hits[level - 2],
					 level, hit);
	}
	t->st.npwc_misses++;
	return top;
}


int vmmu_tlb_lookup(struct vmmu_tlb *t, const struct vmmu_paging_state *ps,
		    const struct vmmu_access *acc, hpa_t *hpa)
{
	return vmmu_tlb_lookup_hit(t, ps, acc, hpa);
}
