/* SPDX-License-Identifier: MIT */
/*
 * `vmmu walk` with "nested": a 2-D walk per access over host-physical
 * memory given by the case, run by the backends' hardware sides (the EPT
 * walk of ept/ept_hw.c, the NPT walk of npt/npt_hw.c) under core/nested.c,
 * which translates every guest paging-structure access and then the final
 * gpa. Every walk starts cold: the vCPU's TLB model has only a
 * guest-physical TLB, flushed before each access, so that the guest's A/D
 * update of an entry reuses the translation its read just made, as a CPU
 * does, and every other guest-physical page costs a full nested walk (24
 * references for 4-level over 4-level with distinct 4 KiB pages).
 *
 * The hardware sides reach memory through a platform whose map() serves
 * the case's host pages (copied from the listed bytes on first use; a page
 * with nothing listed maps to one shared zero page, which no walk writes:
 * every entry a walk writes is present, hence non-zero, hence listed).
 * Writes are found by comparing the pages mapped with their last copy.
 * Outside a nested walk this is done at every map(): the guest walk's A/D
 * cmpxchg writes through the pointer of the map() just before it, so each
 * is seen before the next is made. A nested walk maps its tables root
 * first and sets their A/D bits at the end, root first, so its pages are
 * compared once it returns, in the order mapped. memory_writes thus keeps
 * the order of the writes and tells the guest's from the nested tables'.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfn_index.h"
#include "walk_nested.h"
#include "vmmu/error.h"
#include "core/tlb.h"
#include "ept/ept_internal.h"
#include "npt/npt_hw.h"

#define HM_PAGE 4096u
#define HM_TOUCH_MAX 64u
#define HM_ADDR_LIMIT (1ULL << 52)

enum nested_type { NESTED_EPT, NESTED_NPT };

struct nested_cfg {
	enum nested_type type;
	struct vmmu_ept_caps caps;      /* EPT */
	uint64_t eptp;                  /* EPT */
	struct npt_hw npt;              /* NPT */
};

/* ---- host memory: the case's bytes, per 4 KiB page ---- */

struct hpage {
	uint64_t pfn;
	uint8_t *data, *copy;   /* contents; as of the last comparison */
};

/* The pages in the order first mapped (pages[]), found through idx. */
struct host_mem {
	const struct guest_mem *src;
	struct hpage *pages;
	size_t n, pages_cap;
	struct pfn_index idx;
	uint32_t touched[HM_TOUCH_MAX];    /* pages mapped since last compared */
	unsigned ntouched;
	bool touch_overflow;    /* more than HM_TOUCH_MAX: compare them all */
	bool failed;            /* out of memory in map() */
	/* where the changes found go, and as what */
	json_t *writes;
	unsigned size;          /* 8, or 4 for a 32-bit guest's entries */
	const char *table;      /* "guest", "ept" or "npt" */
	bool in_walk;           /* inside a nested walk: compare after it */
	_Alignas(8) uint8_t zero[HM_PAGE];
};

/* Room for one more page in pages[]. */
static int hm_reserve(struct host_mem *hm)
{
	struct hpage *np;

	if (hm->n < hm->pages_cap)
		return 0;
	np = realloc(hm->pages, 2 * hm->pages_cap * sizeof(*np));
	if (!np)
		return VMMU_ENOMEM;
	hm->pages = np;
	hm->pages_cap *= 2;
	return 0;
}

/* The position of page pfn, copied from the listed bytes on first use. */
static int hm_page(struct host_mem *hm, uint64_t pfn, uint32_t *pos)
{
	struct hpage *p;

	if (pfn_index_get(&hm->idx, pfn, pos))
		return 0;
	if (hm_reserve(hm) < 0)
		return VMMU_ENOMEM;
	p = &hm->pages[hm->n];
	p->pfn = pfn;
	p->data = malloc(HM_PAGE);
	p->copy = malloc(HM_PAGE);
	if (!p->data || !p->copy ||
	    guest_mem_read(hm->src, pfn * HM_PAGE, p->data, HM_PAGE) < 0) {
		free(p->data);
		free(p->copy);
		return VMMU_ENOMEM;
	}
	if (pfn_index_put(&hm->idx, pfn, (uint32_t)hm->n) < 0) {
		free(p->data);
		free(p->copy);
		return VMMU_ENOMEM;
	}
	memcpy(p->copy, p->data, HM_PAGE);
	*pos = (uint32_t)hm->n++;
	return 0;
}

static void hm_diff(struct host_mem *hm);

static void hm_touch(struct host_mem *hm, uint32_t pos)
{
	unsigned i;

	for (i = 0; i < hm->ntouched; i++)
		if (hm->touched[i] == pos)
			return;
	if (hm->ntouched == HM_TOUCH_MAX)
		hm->touch_overflow = true;
	else
		hm->touched[hm->ntouched++] = pos;
}

/* vmmu_platform.map: a pointer to the byte at hpa. */
static void *hm_map(void *ctx, hpa_t hpa)
{
	struct host_mem *hm = ctx;
	uint64_t pfn = hpa.v / HM_PAGE;
	uint32_t pos;

	if (hpa.v >= HM_ADDR_LIMIT)
		return NULL;
	if (!guest_mem_page_listed(hm->src, pfn))
		return hm->zero + hpa.v % HM_PAGE;
	if (hm_page(hm, pfn, &pos) < 0) {
		hm->failed = true;
		return NULL;
	}
	if (!hm->in_walk)
		hm_diff(hm);
	hm_touch(hm, pos);
	return hm->pages[pos].data + hpa.v % HM_PAGE;
}

static int hm_init(struct host_mem *hm, const struct guest_mem *src)
{
	memset(hm, 0, sizeof(*hm));
	hm->src = src;
	hm->pages_cap = 16;
	hm->pages = calloc(hm->pages_cap, sizeof(*hm->pages));
	return hm->pages && pfn_index_init(&hm->idx, 64) == 0 ? 0 : VMMU_ENOMEM;
}

static void hm_fini(struct host_mem *hm)
{
	size_t i;

	for (i = 0; hm->pages && i < hm->n; i++) {
		free(hm->pages[i].data);
		free(hm->pages[i].copy);
	}
	free(hm->pages);
	pfn_index_fini(&hm->idx);
	hm->pages = NULL;
}

/* The shared zero page is still zero (no walk writes an absent entry). */
static bool hm_zero_clean(const struct host_mem *hm)
{
	return !hm->zero[0] && !memcmp(hm->zero, hm->zero + 1, HM_PAGE - 1);
}

static void log_write(json_t *writes, uint64_t hpa, unsigned size,
		      uint64_t val, const char *table)
{
	json_array_append_new(writes, json_pack("{s:o,s:i,s:o,s:s}", "hpa",
		cli_hex(hpa), "size", (int)size, "value", cli_hex(val),
		"table", table));
}

/* Log the size-byte units of page p that changed since its copy. */
static void hm_diff_page(struct hpage *p, unsigned size, const char *table,
			 json_t *writes)
{
	unsigned off;
	uint64_t now = 0, was = 0;

	if (!memcmp(p->data, p->copy, HM_PAGE))
		return;
	for (off = 0; off < HM_PAGE; off += size) {
		memcpy(&now, p->data + off, size);
		memcpy(&was, p->copy + off, size);
		if (now != was)
			log_write(writes, p->pfn * HM_PAGE + off, size, now,
				  table);
	}
	memcpy(p->copy, p->data, HM_PAGE);
}

/* Log what changed in the pages mapped since the last call. */
static void hm_diff(struct host_mem *hm)
{
	unsigned i;
	size_t j;

	for (i = 0; i < hm->ntouched; i++)
		hm_diff_page(&hm->pages[hm->touched[i]], hm->size, hm->table,
			     hm->writes);
	for (j = 0; hm->touch_overflow && j < hm->n; j++)
		hm_diff_page(&hm->pages[j], hm->size, hm->table, hm->writes);
	hm->ntouched = 0;
	hm->touch_overflow = false;
}

/* ---- the "nested" object ---- */

static int cfg_u64(const json_t *n, const char *key, bool required,
		   uint64_t dflt, uint64_t *out, char *err)
{
	return cli_get_u64(n, key, required, dflt, out, "nested", err,
			   WALK_CASE_ERRLEN);
}

static int cfg_bool(const json_t *n, const char *key, bool dflt, bool *out,
		    char *err)
{
	const json_t *v = json_object_get(n, key);

	*out = v ? json_is_true(v) : dflt;
	if (v && !json_is_boolean(v)) {
		snprintf(err, WALK_CASE_ERRLEN, "nested: \"%s\" must be true or "
			 "false", key);
		return -1;
	}
	return 0;
}

/* Host MAXPHYADDR: 32..52, the guest's by default. */
static int cfg_maxphy(const json_t *n, uint8_t guest, uint8_t *out, char *err)
{
	uint64_t v;

	if (cfg_u64(n, "maxphyaddr", false, guest, &v, err) < 0)
		return -1;
	if (v < 32 || v > 52) {
		snprintf(err, WALK_CASE_ERRLEN, "nested: \"maxphyaddr\" %" PRIu64
			 " is outside 32..52", v);
		return -1;
	}
	*out = (uint8_t)v;
	return 0;
}

static const char *const ept_keys[] = { "type", "eptp", "ad", "pml",
	"maxphyaddr", "execute_only", "page_1g", NULL };

/*
 * The EPTP checks of VM entry (SDM Vol. 3C 27.2.1.1, the EPTP format of
 * 25.6.11): memory type UC or WB, walk length 4 or 5, bits 11:7 and those
 * at or above MAXPHYADDR clear. An EPTP that fails them cannot run a
 * guest, so it is bad input rather than a result.
 */
static int check_eptp(uint64_t eptp, unsigned maxphy, char *err)
{
	unsigned mt = (unsigned)(eptp & 7), wl = (unsigned)(eptp >> 3) & 7;
	const char *why = NULL;

	if (mt != EPT_MT_UC && mt != EPT_MT_WB)
		why = "memory type (bits 2:0) must be 0 (UC) or 6 (WB)";
	else if (wl != 3 && wl != 4)
		why = "page-walk length - 1 (bits 5:3) must be 3 or 4";
	else if (eptp & 0xf80)
		why = "bits 11:7 must be 0";
	else if (eptp >> maxphy)
		why = "address bits at or above MAXPHYADDR are set";
	if (!why)
		return 0;
	snprintf(err, WALK_CASE_ERRLEN, "nested: \"eptp\" 0x%" PRIx64 ": %s",
		 eptp, why);
	return -1;
}

static int parse_ept(const json_t *n, uint8_t guest_maxphy,
		     struct nested_cfg *cfg, char *err)
{
	struct vmmu_ept_caps *caps = &cfg->caps;
	bool ad, pml, xonly, gb;

	if (cli_check_keys(n, ept_keys, "nested", err, WALK_CASE_ERRLEN) < 0 ||
	    cfg_u64(n, "eptp", true, 0, &cfg->eptp, err) < 0 ||
	    cfg_bool(n, "ad", cfg->eptp & EPTP_AD, &ad, err) < 0 ||
	    cfg_bool(n, "pml", false, &pml, err) < 0 ||
	    cfg_bool(n, "execute_only", true, &xonly, err) < 0 ||
	    cfg_bool(n, "page_1g", true, &gb, err) < 0 ||
	    cfg_maxphy(n, guest_maxphy, &caps->maxphyaddr, err) < 0)
		return -1;
	if (!ad && (cfg->eptp & EPTP_AD)) {
		snprintf(err, WALK_CASE_ERRLEN, "nested: \"ad\" is false but "
			 "\"eptp\" has bit 6 (A/D enable) set");
		return -1;
	}
	if (pml) {
		snprintf(err, WALK_CASE_ERRLEN, "nested: \"pml\" must be false "
			 "(a case has no PML address or index)");
		return -1;
	}
	if (ad)
		cfg->eptp |= EPTP_AD;
	if (check_eptp(cfg->eptp, caps->maxphyaddr, err) < 0)
		return -1;
	caps->walk5 = true;
	caps->ad = ad;
	caps->execute_only = xonly;
	caps->page_2m = true;
	caps->page_1g = gb;
	return 0;
}

static const char *const npt_keys[] = { "type", "ncr3", "levels",
	"maxphyaddr", "nxe", "gbpages", NULL };

static int parse_npt(const json_t *n, uint8_t guest_maxphy,
		     struct nested_cfg *cfg, char *err)
{
	struct npt_hw *hw = &cfg->npt;
	uint64_t levels;

	if (cli_check_keys(n, npt_keys, "nested", err, WALK_CASE_ERRLEN) < 0 ||
	    cfg_u64(n, "ncr3", true, 0, &hw->ncr3, err) < 0 ||
	    cfg_u64(n, "levels", false, 4, &levels, err) < 0 ||
	    cfg_bool(n, "nxe", true, &hw->nxe, err) < 0 ||
	    cfg_bool(n, "gbpages", true, &hw->gbpages, err) < 0 ||
	    cfg_maxphy(n, guest_maxphy, &hw->maxphyaddr, err) < 0)
		return -1;
	if (levels != 4 && levels != 5) {
		snprintf(err, WALK_CASE_ERRLEN, "nested: \"levels\" must be 4 or "
			 "5 (5: host CR4.LA57)");
		return -1;
	}
	/* A root table outside host memory: VMRUN could not use it. */
	if (hw->ncr3 >> hw->maxphyaddr) {
		snprintf(err, WALK_CASE_ERRLEN, "nested: \"ncr3\" 0x%" PRIx64
			 " has address bits at or above MAXPHYADDR %u set",
			 hw->ncr3, hw->maxphyaddr);
		return -1;
	}
	hw->levels = (uint8_t)levels;
	return 0;
}

static int parse_cfg(const json_t *n, uint8_t guest_maxphy,
		     struct nested_cfg *cfg, char *err)
{
	const char *type = json_string_value(json_object_get(n, "type"));

	memset(cfg, 0, sizeof(*cfg));
	if (type && !strcmp(type, "ept")) {
		cfg->type = NESTED_EPT;
		return parse_ept(n, guest_maxphy, cfg, err);
	}
	if (type && !strcmp(type, "npt")) {
		cfg->type = NESTED_NPT;
		return parse_npt(n, guest_maxphy, cfg, err);
	}
	snprintf(err, WALK_CASE_ERRLEN, "nested: \"type\" must be \"ept\" or "
		 "\"npt\"");
	return -1;
}

/* ---- the walks ---- */

struct nested_run {
	struct vmmu_vm vm;
	struct vmmu_vcpu vcpu;
	struct ept_vm ept;              /* only eptp and caps: what ept_hw reads */
	struct nested_cfg cfg;
	struct host_mem hm;
	json_t *writes;
	const char *table;              /* "ept" or "npt" in memory_writes */
	unsigned guest_size;            /* guest entry size: 4 or 8 */
	void *tlb_mem;                  /* the vCPU's guest-physical TLB */
	bool load_exited;               /* the PAE PDPTE load exited */
	struct vmmu_exit load_exit;
};

static struct nested_run *run_of(const struct vmmu_vcpu *vcpu)
{
	return (struct nested_run *)((char *)vcpu -
				     offsetof(struct nested_run, vcpu));
}

/*
 * One nested walk by the backend's hardware side. For NPT this is what
 * the NPT backend's nested ops do around npt_hw_walk: guest page-table
 * accesses are user writes to the nested tables (APM Vol. 2 15.25.5), and
 * the #NPF keeps the linear address for the model.
 */
static int hw_nested_walk(struct nested_run *r, gpa_t gpa,
			  enum vmmu_access_kind kind, bool guest_pt,
			  const struct vmmu_access *acc,
			  const struct vmmu_tlb_pwc_hit *start,
			  struct vmmu_nested_walk *out)
{
	int rc;

	if (r->cfg.type == NESTED_EPT)
		return ept_nested_ops.walk(&r->vcpu, gpa, kind, guest_pt, acc,
					   start, out);
	rc = npt_hw_walk(&r->cfg.npt, &r->vm.platform, gpa,
			 guest_pt ? VMMU_ACCESS_WRITE : kind, guest_pt, start,
			 out);
	if (rc == VMMU_EFAULT)
		return vmmu_vm_kill(&r->vm, "an NPT entry points outside host memory");
	out->exit.gva = acc->gva;
	return rc;
}

/*
 * vmmu_nested_ops.walk for core/nested.c: what changed since the last
 * nested walk is the guest's A/D write, what changes during this one is
 * the nested tables' A/D.
 */
static int logged_walk(struct vmmu_vcpu *vcpu, gpa_t gpa,
		       enum vmmu_access_kind kind, bool guest_pt,
		       const struct vmmu_access *acc,
		       const struct vmmu_tlb_pwc_hit *start,
		       struct vmmu_nested_walk *out)
{
	struct nested_run *r = run_of(vcpu);
	int rc;

	hm_diff(&r->hm);
	r->hm.size = 8;
	r->hm.table = r->table;
	r->hm.in_walk = true;
	rc = hw_nested_walk(r, gpa, kind, guest_pt, acc, start, out);
	hm_diff(&r->hm);
	r->hm.in_walk = false;
	r->hm.size = r->guest_size;
	r->hm.table = "guest";
	return rc;
}

static unsigned nested_levels(const struct vmmu_vcpu *vcpu)
{
	const struct nested_run *r = run_of(vcpu);

	return r->cfg.type == NESTED_EPT ? ept_nested_ops.levels(vcpu)
					 : r->cfg.npt.levels;
}

static bool nested_pt_as_write(const struct vmmu_vcpu *vcpu)
{
	const struct nested_run *r = run_of(vcpu);

	return r->cfg.type == NESTED_EPT ? ept_nested_ops.pt_as_write(vcpu)
					 : true;
}

static const struct vmmu_nested_ops logged_ops = {
	.walk = logged_walk,
	.levels = nested_levels,
	.pt_as_write = nested_pt_as_write,
};

/*
 * PAE: the PDPTEs are loaded once, as the guest's MOV to CR3 loads them
 * (SDM Vol. 3A 4.4.1), with the read translated through the nested tables
 * as a guest paging-structure access. An exit there ends the load.
 */
static int pdpte_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	struct nested_run *r = ctx;
	struct vmmu_access none = { .kind = VMMU_ACCESS_READ };
	struct vmmu_nested_walk nw;
	const uint8_t *host;
	int rc;

	memset(&nw, 0, sizeof(nw));
	rc = logged_walk(&r->vcpu, gpa, VMMU_ACCESS_READ, true, &none, NULL,
			 &nw);
	if (rc < 0)
		return rc;
	if (!nw.ok) {
		r->load_exited = true;
		r->load_exit = nw.exit;
		r->load_exit.guest_pt = true;
		/*
		 * SDM Vol. 3C 28.2.1 (Table 28-7): the guest linear address
		 * is not valid for a PDPTE load by MOV to CR3, and bit 8 is
		 * then undefined; vmmu reports it clear.
		 */
		r->load_exit.gva_valid = false;
		r->load_exit.qualification &= ~(uint64_t)0x180;
		return VMMU_EFAULT;
	}
	host = r->vm.platform.map(r->vm.platform.ctx, nw.hpa);
	if (!host || (nw.hpa.v % HM_PAGE) + len > HM_PAGE)
		return VMMU_EFAULT;
	memcpy(buf, host, len);
	return 0;
}

static int load_pdptes(struct nested_run *r, char *err)
{
	struct vmmu_gmem gm = { r, pdpte_read, NULL };
	int rc;

	if (vmmu_paging_mode(&r->vcpu.paging) != VMMU_PAGING_PAE)
		return 0;
	vmmu_tlb_flush_all(r->vcpu.tlb);
	rc = vmmu_paging_load_pdptes(&r->vcpu.paging, &gm);
	hm_diff(&r->hm);
	/* VMMU_EINVAL: #GP, which every walk reports (it rereads them). */
	if (rc == 0 || rc == VMMU_EINVAL || r->load_exited)
		return 0;
	snprintf(err, WALK_CASE_ERRLEN, "loading PDPTEs: %s", vmmu_strerror(rc));
	return -1;
}

static json_t *exit_json(const struct vmmu_access *acc,
			 const struct vmmu_exit *x)
{
	json_t *o = json_pack("{s:o,s:b}", "gva", cli_hex(acc->gva.v), "ok", 0);

	if (!o)
		return NULL;
	switch (x->kind) {
	case VMMU_EXIT_EPT_VIOLATION:
		json_object_set_new(o, "exit", json_string("ept_violation"));
		json_object_set_new(o, "qualification", cli_hex(x->qualification));
		json_object_set_new(o, "gpa", cli_hex(x->gpa.v));
		if (x->gva_valid && (x->qualification & 0x80))
			json_object_set_new(o, "gla", cli_hex(x->gva.v));
		break;
	case VMMU_EXIT_EPT_MISCONFIG:
		json_object_set_new(o, "exit", json_string("ept_misconfig"));
		json_object_set_new(o, "gpa", cli_hex(x->gpa.v));
		break;
	case VMMU_EXIT_NPF:
		json_object_set_new(o, "exit", json_string("npf"));
		json_object_set_new(o, "exitinfo1", cli_hex(x->exitinfo1));
		json_object_set_new(o, "exitinfo2", cli_hex(x->exitinfo2));
		break;
	default:        /* PML full cannot happen: PML is off */
		json_object_set_new(o, "exit", json_string("other"));
		break;
	}
	return o;
}

static json_t *access_json(const struct vmmu_access *acc,
			   const struct vmmu_hw_walk *hw, bool trace)
{
	json_t *o;

	if (hw->status == VMMU_HW_EXIT)
		return exit_json(acc, &hw->exit);
	o = walk_result_json(acc, &hw->guest, trace);
	if (o && hw->status == VMMU_HW_OK) {
		json_object_set_new(o, "hpa", cli_hex(hw->hpa.v));
		json_object_set_new(o, "refs", json_integer(
			(json_int_t)(hw->guest_refs + hw->nested_refs)));
	}
	return o;
}

/* Run every access; 0, or -1 with err set (a walker failure). */
static int run_accesses(struct nested_run *r, const struct walk_case *wc,
			bool trace, json_t *results, char *err)
{
	struct vmmu_hw_walk hw;
	size_t i;
	int rc;

	for (i = 0; i < wc->nacc; i++) {
		if (r->load_exited) {
			json_array_append_new(results, exit_json(&wc->acc[i],
								 &r->load_exit));
			continue;
		}
		memset(&hw, 0, sizeof(hw));
		vmmu_tlb_flush_all(r->vcpu.tlb);
		rc = vmmu_nested_hw_walk(&r->vcpu, &logged_ops, &wc->acc[i], &hw);
		hm_diff(&r->hm);
		if (!hm_zero_clean(&r->hm)) {
			snprintf(err, WALK_CASE_ERRLEN, "accesses[%zu]: a walk "
				 "wrote to memory the case did not list", i);
			return -1;
		}
		if (rc < 0 || r->vm.dead || r->hm.failed) {
			snprintf(err, WALK_CASE_ERRLEN, "accesses[%zu]: walk "
				 "failed: %s", i, r->hm.failed ? "out of memory" :
				 r->vm.dead ? r->vm.dead_reason : vmmu_strerror(rc));
			return -1;
		}
		json_array_append_new(results, access_json(&wc->acc[i], &hw,
							   trace));
	}
	return 0;
}

/*
 * A TLB model with only a guest-physical TLB (SDM Vol. 3C 29.4.2: the
 * guest-physical mappings; no paging-structure caches in either
 * dimension), large enough for every page one walk touches.
 */
static int tlb_init(struct nested_run *r)
{
	struct vmmu_tlb_config cfg;
	size_t len;

	memset(&cfg, 0, sizeof(cfg));
	cfg.gpa_tlb = (struct vmmu_tlb_geom){ 1, 16 };
	len = vmmu_tlb_mem_size(&cfg);
	r->tlb_mem = len ? calloc(1, len) : NULL;
	if (!r->tlb_mem ||
	    vmmu_tlb_init(r->tlb_mem, len, &cfg, &r->vcpu.tlb) < 0)
		return VMMU_ENOMEM;
	return 0;
}

static int run_init(struct nested_run *r, const struct walk_case *wc)
{
	r->vm.platform.ctx = &r->hm;
	r->vm.platform.map = hm_map;
	r->vcpu.vm = &r->vm;
	r->vcpu.paging = wc->ps;
	r->vcpu.paging.pdptes_loaded = false;
	r->guest_size = wc->ps.role.entry_size == 4 ? 4 : 8;
	r->hm.writes = r->writes;
	r->hm.size = r->guest_size;
	r->hm.table = "guest";
	if (r->cfg.type == NESTED_EPT) {
		r->ept.eptp = r->cfg.eptp;
		r->ept.caps = r->cfg.caps;
		r->vm.backend_state = &r->ept;
		r->table = "ept";
	} else {
		r->table = "npt";
	}
	return tlb_init(r);
}

json_t *walk_nested_run(const struct walk_case *wc, bool trace, char *err,
			int *status)
{
	struct nested_run *r = calloc(1, sizeof(*r));
	json_t *results = json_array(), *out = NULL;

	*status = 2;
	if (!r || !results || hm_init(&r->hm, &wc->mem) < 0) {
		snprintf(err, WALK_CASE_ERRLEN, "out of memory");
		*status = 1;
		goto done;
	}
	if (parse_cfg(wc->nested, wc->ps.maxphyaddr, &r->cfg, err) < 0)
		goto done;
	*status = 1;
	r->writes = json_array();
	if (!r->writes || run_init(r, wc) < 0) {
		snprintf(err, WALK_CASE_ERRLEN, "out of memory");
		goto done;
	}
	if (load_pdptes(r, err) < 0 ||
	    run_accesses(r, wc, trace, results, err) < 0)
		goto done;
	out = json_pack("{s:O,s:O}", "results", results, "memory_writes",
			r->writes);
	if (!out)
		snprintf(err, WALK_CASE_ERRLEN, "out of memory");
done:
	if (r) {
		json_decref(r->writes);
		hm_fini(&r->hm);
		free(r->tlb_mem);
	}
	free(r);
	json_decref(results);
	return out;
}
