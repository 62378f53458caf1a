/* SPDX-License-Identifier: MIT */
/*
 * `vmmu walk` with "backend": "shadow": one VM per case on the shadow
 * backend, whose p2m is the case's "p2m" (RAM, ROM and MMIO ranges; any
 * other guest-physical page is a hole) or identity RAM. Every access runs
 * through vmmu_vcpu_access (translation only, no data) with the TLB model
 * flushed first, so that, as in plain `vmmu walk`, each access starts
 * from the tables as they are; the shadows stay, so later accesses reuse
 * them as a guest's would.
 *
 * Host memory is this file's platform: host-physical addresses are the
 * case's. Slots are backed eagerly in ascending gpa order, and while a
 * slot is added alloc_page/alloc_pages hand out its p2m range in order, so
 * the VM's gpa -> hpa map is the case's p2m (checked after each slot).
 * vmmu's own pages (shadow tables) come from above every p2m range. Pages
 * get memory on their first map(); guest pages mapped since the last
 * comparison are compared with their copy after each access, which gives
 * the guest-visible A/D updates (the only guest writes: the accesses carry
 * no data).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfn_index.h"
#include "walk_shadow.h"
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "vmmu/p2m.h"
#include "shadow-fallback/shadow.h"

#define WS_PAGE 4096ULL
#define WS_HOST_LIMIT (1ULL << 52)          /* x86 host-physical bits */
#define WS_IDENTITY_BITS 46                 /* default RAM: [0, 2^46) at most */
#define WS_MAX_P2M 60                       /* below VMMU_MAX_SLOTS */
#define WS_POOL_PAGES 4096

enum ws_type { WS_RAM, WS_ROM, WS_MMIO };
static const char *const ws_type_name[] = { "ram", "rom", "mmio" };

struct ws_range {
	uint64_t gpa, hpa, size;
	enum ws_type type;
};

/* One host page with memory: contents and, for guest pages, the copy. */
struct ws_page {
	uint64_t pfn;
	uint8_t *data, *copy;       /* copy NULL: one of vmmu's pages */
	bool touched;
};

struct ws_host {
	struct ws_range p2m[WS_MAX_P2M];    /* sorted by gpa */
	unsigned np2m;
	uint64_t q_next, q_end;             /* a slot being backed */
	uint64_t vmmu_next;                 /* vmmu's pages */
	struct ws_page *pages;
	size_t n, cap;
	struct pfn_index idx;               /* pfn -> position in pages */
	uint32_t *touched;                  /* guest pages mapped since diff */
	size_t ntouched, touched_cap;
	bool failed;                        /* out of memory in map() */
};

/* ---- the p2m: parsing and lookups ---- */

/* The range holding gpa (guest) or hpa (!guest, RAM and ROM), or NULL. */
static const struct ws_range *ws_find(const struct ws_host *h, uint64_t a,
				      bool guest)
{
	for (unsigned i = 0; i < h->np2m; i++) {
		const struct ws_range *r = &h->p2m[i];
		uint64_t base = guest ? r->gpa : r->hpa;

		if ((guest || r->type != WS_MMIO) && a >= base && a - base < r->size)
			return r;
	}
	return NULL;
}

static const char *const p2m_keys[] = { "gpa", "hpa", "size", "type", NULL };

static int parse_range(const json_t *it, const char *ctx, uint8_t maxphy,
		       struct ws_range *r, char *err)
{
	const char *t = json_string_value(json_object_get(it, "type"));
	bool mmio = t && !strcmp(t, "mmio");

	if (!json_is_object(it)) {
		snprintf(err, WALK_CASE_ERRLEN, "%s must be an object", ctx);
		return -1;
	}
	if (cli_check_keys(it, p2m_keys, ctx, err, WALK_CASE_ERRLEN) < 0 ||
	    cli_get_u64(it, "gpa", true, 0, &r->gpa, ctx, err, WALK_CASE_ERRLEN) < 0 ||
	    cli_get_u64(it, "size", true, 0, &r->size, ctx, err, WALK_CASE_ERRLEN) < 0 ||
	    cli_get_u64(it, "hpa", !mmio, 0, &r->hpa, ctx, err, WALK_CASE_ERRLEN) < 0)
		return -1;
	if (!t || (!mmio && strcmp(t, "ram") && strcmp(t, "rom"))) {
		snprintf(err, WALK_CASE_ERRLEN, "%s: \"type\" must be \"ram\", "
			 "\"rom\" or \"mmio\"", ctx);
		return -1;
	}
	r->type = mmio ? WS_MMIO : !strcmp(t, "ram") ? WS_RAM : WS_ROM;
	if (mmio && json_object_get(it, "hpa")) {
		snprintf(err, WALK_CASE_ERRLEN, "%s: mmio has no host memory: "
			 "drop \"hpa\"", ctx);
		return -1;
	}
	if (!r->size || (r->gpa | r->hpa | r->size) & (WS_PAGE - 1)) {
		snprintf(err, WALK_CASE_ERRLEN, "%s: gpa, hpa and size must be "
			 "multiples of 4 KiB, size not 0", ctx);
		return -1;
	}
	if (r->gpa + r->size < r->gpa || r->gpa + r->size > 1ULL << maxphy ||
	    r->hpa + r->size < r->hpa || r->hpa + r->size > WS_HOST_LIMIT) {
		snprintf(err, WALK_CASE_ERRLEN, "%s: the range passes MAXPHYADDR "
			 "(%u bits, guest) or 52 bits (host)", ctx, maxphy);
		return -1;
	}
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct ws_range *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* No two ranges share a guest page, nor two RAM/ROM ranges a host page. */
static int check_overlaps(const struct ws_host *h, char *err)
{
	for (unsigned i = 0; i < h->np2m; i++)
		for (unsigned j = i + 1; j < h->np2m; j++) {
			const struct ws_range *a = &h->p2m[i], *b = &h->p2m[j];
			bool g = a->gpa < b->gpa + b->size && b->gpa < a->gpa + a->size;
			bool hp = a->type != WS_MMIO && b->type != WS_MMIO &&
				  a->hpa < b->hpa + b->size && b->hpa < a->hpa + a->size;

			if (g || hp) {
				snprintf(err, WALK_CASE_ERRLEN, "p2m: the range at "
					 "gpa 0x%" PRIx64 " overlaps the one at gpa "
					 "0x%" PRIx64 " in %s-physical space", a->gpa,
					 b->gpa, g ? "guest" : "host");
				return -1;
			}
		}
	return 0;
}

static int parse_p2m(const struct walk_case *wc, struct ws_host *h, char *err)
{
	uint8_t maxphy = wc->ps.maxphyaddr;
	char ctx[32];

	if (!wc->p2m) {         /* identity RAM */
		h->p2m[0] = (struct ws_range){ 0, 0, 1ULL << (maxphy < WS_IDENTITY_BITS ?
					       maxphy : WS_IDENTITY_BITS), WS_RAM };
		h->np2m = 1;
		return 0;
	}
	if (!json_is_array(wc->p2m) || json_array_size(wc->p2m) > WS_MAX_P2M) {
		snprintf(err, WALK_CASE_ERRLEN, "\"p2m\" must be an array of at "
			 "most %u ranges", WS_MAX_P2M);
		return -1;
	}
	for (size_t i = 0; i < json_array_size(wc->p2m); i++) {
		snprintf(ctx, sizeof(ctx), "p2m[%zu]", i);
		if (parse_range(json_array_get(wc->p2m, i), ctx, maxphy,
				&h->p2m[h->np2m++], err) < 0)
			return -1;
	}
	qsort(h->p2m, h->np2m, sizeof(h->p2m[0]), cmp_range);
	return check_overlaps(h, err);
}

/* Every listed byte lies in RAM or ROM of the p2m. */
static int check_memory(const struct walk_case *wc, const struct ws_host *h,
			char *err)
{
	const struct guest_mem_word *w;
	const struct ws_range *r;
	size_t it = 0;

	while ((w = guest_mem_next(&wc->mem, &it)) != NULL) {
		r = ws_find(h, w->wgpa, true);
		if (!r || r->type == WS_MMIO) {
			snprintf(err, WALK_CASE_ERRLEN, "memory at gpa 0x%" PRIx64
				 " is not RAM or ROM in the p2m", w->wgpa);
			return -1;
		}
	}
	return 0;
}

/* ---- host memory (the platform) ---- */

static int ws_grow(struct ws_host *h)
{
	struct ws_page *np;

	if (h->n < h->cap)
		return 0;
	np = realloc(h->pages, 2 * h->cap * sizeof(*np));
	if (!np)
		return VMMU_ENOMEM;
	h->pages = np;
	h->cap *= 2;
	return 0;
}

/* Page pfn with memory (zero), a copy for guest pages; NULL: no memory. */
static struct ws_page *ws_add(struct ws_host *h, uint64_t pfn, bool guest)
{
	struct ws_page *p;

	if (ws_grow(h) < 0)
		return NULL;
	p = &h->pages[h->n];
	memset(p, 0, sizeof(*p));
	p->pfn = pfn;
	p->data = calloc(1, WS_PAGE);
	p->copy = guest ? calloc(1, WS_PAGE) : NULL;
	if (!p->data || (guest && !p->copy) ||
	    pfn_index_put(&h->idx, pfn, (uint32_t)h->n) < 0) {
		free(p->data);
		free(p->copy);
		return NULL;
	}
	h->n++;
	return p;
}

static int ws_touch(struct ws_host *h, struct ws_page *p)
{
	uint32_t *nt;

	if (p->touched)
		return 0;
	if (h->ntouched == h->touched_cap) {
		nt = realloc(h->touched, 2 * h->touched_cap * sizeof(*nt));
		if (!nt)
			return VMMU_ENOMEM;
		h->touched = nt;
		h->touched_cap *= 2;
	}
	p->touched = true;
	h->touched[h->ntouched++] = (uint32_t)(p - h->pages);
	return 0;
}

static void *ws_map(void *ctx, hpa_t hpa)
{
	struct ws_host *h = ctx;
	uint32_t pos;
	struct ws_page *p = pfn_index_get(&h->idx, hpa.v / WS_PAGE, &pos) ?
			    &h->pages[pos] : NULL;

	if (!p) {       /* a guest page gets memory on its first map */
		if (!ws_find(h, hpa.v, false))
			return NULL;
		p = ws_add(h, hpa.v / WS_PAGE, true);
	}
	if (!p || (p->copy && ws_touch(h, p) < 0)) {
		h->failed = true;
		return NULL;
	}
	return p->data + hpa.v % WS_PAGE;
}

/* While a slot is added: its p2m range, in order; else vmmu's own. */
static int ws_alloc_page(void *ctx, hpa_t *out)
{
	struct ws_host *h = ctx;

	if (h->q_next < h->q_end) {
		*out = mk_hpa(h->q_next);
		h->q_next += WS_PAGE;
		return 0;
	}
	if (h->vmmu_next >= WS_HOST_LIMIT || !ws_add(h, h->vmmu_next / WS_PAGE, false))
		return VMMU_ENOMEM;
	*out = mk_hpa(h->vmmu_next);
	h->vmmu_next += WS_PAGE;
	return 0;
}

/* Blocks only for slots, when the range's next address is aligned. */
static int ws_alloc_pages(void *ctx, unsigned order, hpa_t *out)
{
	struct ws_host *h = ctx;
	uint64_t size = WS_PAGE << order;

	if (h->q_next >= h->q_end || h->q_next & (size - 1) ||
	    h->q_end - h->q_next < size)
		return VMMU_ENOMEM;
	*out = mk_hpa(h->q_next);
	h->q_next += size;
	return 0;
}

/* Memory lives until the case ends (ws_host_fini). */
static void ws_free_page(void *ctx, hpa_t page)
{
	(void)ctx, (void)page;
}

static void ws_free_pages(void *ctx, hpa_t base, unsigned order)
{
	(void)ctx, (void)base, (void)order;
}

static void *ws_zalloc(void *ctx, size_t size)
{
	(void)ctx;
	return calloc(1, size);
}

static void ws_free(void *ctx, void *ptr)
{
	(void)ctx;
	free(ptr);
}

static int ws_host_init(struct ws_host *h)
{
	uint64_t top = 0;

	h->cap = 64;
	h->touched_cap = 64;
	h->pages = calloc(h->cap, sizeof(*h->pages));
	h->touched = calloc(h->touched_cap, sizeof(*h->touched));
	for (unsigned i = 0; i < h->np2m; i++)
		if (h->p2m[i].type != WS_MMIO && h->p2m[i].hpa + h->p2m[i].size > top)
			top = h->p2m[i].hpa + h->p2m[i].size;
	h->vmmu_next = (top + (1ULL << 30) - 1) & ~((1ULL << 30) - 1);
	return h->pages && h->touched && pfn_index_init(&h->idx, 256) == 0 ?
	       0 : VMMU_ENOMEM;
}

static void ws_host_fini(struct ws_host *h)
{
	for (size_t i = 0; h->pages && i < h->n; i++) {
		free(h->pages[i].data);
		free(h->pages[i].copy);
	}
	free(h->pages);
	pfn_index_fini(&h->idx);
	free(h->touched);
}

/* ---- the run ---- */

struct ws_run {
	const struct walk_case *wc;
	struct ws_host host;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *vcpu;
	json_t *writes;
	uint64_t exits;
	char *err;
};

static int run_fail(struct ws_run *r, int rc, const char *what)
{
	snprintf(r->err, WALK_CASE_ERRLEN, "%s: %s", what, vmmu_strerror(rc));
	return -1;
}

/* One slot per range; RAM and ROM backed now, at the range's hpa. */
static int add_slots(struct ws_run *r)
{
	static const enum vmmu_mem_type kinds[] = { VMMU_MEM_RAM, VMMU_MEM_ROM,
						    VMMU_MEM_MMIO };
	struct ws_host *h = &r->host;
	hpa_t first, last;
	int rc;

	for (unsigned i = 0; i < h->np2m; i++) {
		const struct ws_range *p = &h->p2m[i];
		struct vmmu_slot_desc d = { mk_gpa(p->gpa), p->size, kinds[p->type],
					    VMMU_ORDER_1G, VMMU_MEMTYPE_DEFAULT,
					    p->type != WS_MMIO };

		h->q_next = p->type == WS_MMIO ? 0 : p->hpa;
		h->q_end = p->type == WS_MMIO ? 0 : p->hpa + p->size;
		rc = vmmu_vm_add_slot_ex(r->vm, &d);
		if (rc < 0)
			return run_fail(r, rc, "adding a p2m range");
		if (p->type == WS_MMIO)
			continue;
		/* The platform handed out the range in gpa order: check. */
		if (h->q_next != h->q_end ||
		    vmmu_vm_gpa_to_hpa(r->vm, mk_gpa(p->gpa), &first) < 0 ||
		    vmmu_vm_gpa_to_hpa(r->vm, mk_gpa(p->gpa + p->size - 1), &last) < 0 ||
		    first.v != p->hpa || last.v != p->hpa + p->size - 1)
			return run_fail(r, VMMU_EFAULT, "backing a p2m range at its hpa");
		h->q_next = h->q_end = 0;
	}
	return 0;
}

/* The listed bytes into guest memory, then the baseline of the diff. */
static int load_memory(struct ws_run *r)
{
	const struct guest_mem_word *w;
	size_t it = 0;
	int rc = 0;

	while (rc == 0 && (w = guest_mem_next(&r->wc->mem, &it)) != NULL)
		for (unsigned b = 0; rc == 0 && b < 8; b++)
			if (w->given >> b & 1)
				rc = vmmu_vm_write_gpa(r->vm, mk_gpa(w->wgpa + b),
						       (const uint8_t *)&w->val + b, 1);
	if (rc < 0)
		return run_fail(r, rc, "writing the case's memory");
	for (size_t i = 0; i < r->host.n; i++) {
		if (r->host.pages[i].copy)
			memcpy(r->host.pages[i].copy, r->host.pages[i].data, WS_PAGE);
		r->host.pages[i].touched = false;
	}
	r->host.ntouched = 0;
	return 0;
}

static int run_init(struct ws_run *r)
{
	struct vmmu_gmem gm;
	int rc;

	r->plat = (struct vmmu_platform){ .ctx = &r->host,
		.alloc_page = ws_alloc_page, .free_page = ws_free_page,
		.map = ws_map, .zalloc = ws_zalloc, .free = ws_free,
		.alloc_pages = ws_alloc_pages, .free_pages = ws_free_pages };
	if ((rc = ws_host_init(&r->host)) < 0 ||
	    (rc = vmmu_vm_create(&r->plat, &r->vm)) < 0)
		return run_fail(r, rc, "creating the VM");
	r->vm->guest_maxphyaddr = r->wc->ps.maxphyaddr;
	if (add_slots(r) < 0)
		return -1;
	if ((rc = vmmu_vm_set_backend(r->vm, VMMU_BACKEND_SHADOW,
				      &vmmu_backend_shadow)) < 0 ||
	    (rc = vmmu_shadow_set_pool_pages(r->vm, WS_POOL_PAGES)) < 0 ||
	    (rc = vmmu_vcpu_create(r->vm, &r->vcpu)) < 0)
		return run_fail(r, rc, "creating the shadow vCPU");
	if (load_memory(r) < 0)
		return -1;
	/* The registers as VM entry loads them; MOV to CR3 loads PDPTEs. */
	r->vcpu->paging = r->wc->ps;
	vmmu_paging_update(&r->vcpu->paging);
	vmmu_vm_gmem(r->vm, &gm);
	rc = vmmu_paging_load_pdptes(&r->vcpu->paging, &gm);
	if (rc < 0 && rc != VMMU_EINVAL)
		return run_fail(r, rc, "loading PDPTEs (not in RAM or ROM?)");
	return 0;
}

/* The guest-physical address of host address hpa (RAM, ROM), or ~0. */
static uint64_t ws_gpa_of(const struct ws_host *h, uint64_t hpa)
{
	const struct ws_range *p = ws_find(h, hpa, false);

	return p ? p->gpa + (hpa - p->hpa) : ~0ULL;
}

/* The touched guest pages against their copies: one W per changed entry. */
static int diff_touched(struct ws_run *r)
{
	unsigned size = vmmu_paging_mode(&r->wc->ps) == VMMU_PAGING_2LEVEL ? 4 : 8;
	struct ws_host *h = &r->host;

	for (size_t t = 0; t < h->ntouched; t++) {
		struct ws_page *p = &h->pages[h->touched[t]];

		for (unsigned off = 0; off < WS_PAGE; off += size) {
			uint64_t v = 0;

			if (!memcmp(p->data + off, p->copy + off, size))
				continue;
			memcpy(&v, p->data + off, size);
			memcpy(p->copy + off, p->data + off, size);
			json_array_append_new(r->writes, json_pack("{s:o,s:i,s:o}",
				"gpa", cli_hex(ws_gpa_of(h, p->pfn * WS_PAGE + off)),
				"size", (int)size, "value", cli_hex(v)));
		}
		p->touched = false;
	}
	h->ntouched = 0;
	return h->failed ? VMMU_ENOMEM : 0;
}

/* A translation: gpa (from the host page the backend gave) and hpa. */
static json_t *done_json(struct ws_run *r, const struct vmmu_access *acc,
			 const struct vmmu_access_result *res)
{
	uint64_t gpa = res->gpa.v, hpa = res->hpa.v;
	const struct ws_range *p;

	if (res->emulated) {    /* a write to a page table, emulated at gpa */
		p = ws_find(&r->host, gpa, true);
		hpa = p && p->type != WS_MMIO ? p->hpa + (gpa - p->gpa) : ~0ULL;
	} else {
		gpa = ws_gpa_of(&r->host, hpa);
	}
	if (gpa == ~0ULL || hpa == ~0ULL) {
		snprintf(r->err, WALK_CASE_ERRLEN, "gva 0x%" PRIx64 ": the shadow "
			 "gave host address 0x%" PRIx64 ", outside the VM's p2m",
			 acc->gva.v, hpa);
		return NULL;
	}
	return json_pack("{s:o,s:b,s:o,s:o}", "gva", cli_hex(acc->gva.v), "ok", 1,
			 "gpa", cli_hex(gpa), "hpa", cli_hex(hpa));
}

/* Handed to the VMM: the p2m's type at the gpa names the exit. */
static json_t *vmm_json(struct ws_run *r, const struct vmmu_access *acc,
			const struct vmmu_access_result *res)
{
	const struct ws_range *p = ws_find(&r->host, res->gpa.v, true);

	return json_pack("{s:o,s:b,s:s,s:o}", "gva", cli_hex(acc->gva.v), "ok", 0,
			 "exit", p ? ws_type_name[p->type] : "hole",
			 "gpa", cli_hex(res->gpa.v));
}

static json_t *run_access(struct ws_run *r, size_t i)
{
	const struct vmmu_access *acc = &r->wc->acc[i];
	struct vmmu_op op = { .acc = *acc, .size = 1, .data = NULL };
	struct vmmu_access_result res;
	char what[48];
	int rc;

	/* A fresh TLB model: the access sees the tables as they are now. */
	rc = vmmu_vcpu_invpcid(r->vcpu, 2, 0, mk_gva(0));
	if (rc == 0)
		rc = vmmu_vcpu_access(r->vcpu, &op, &res);
	if (rc == 0)
		rc = diff_touched(r);
	if (rc < 0) {
		snprintf(what, sizeof(what), "accesses[%zu]", i);
		run_fail(r, rc, what);
		return NULL;
	}
	r->exits += res.exits;
	if (res.status == VMMU_ACCESS_FAULT)
		return walk_result_json(acc, &res.fault, false);
	if (res.status == VMMU_ACCESS_DONE)
		return done_json(r, acc, &res);
	return vmm_json(r, acc, &res);
}

static json_t *run_accesses(struct ws_run *r)
{
	struct vmmu_shadow_stats st;
	json_t *results = json_array(), *one;

	for (size_t i = 0; results && i < r->wc->nacc; i++) {
		one = run_access(r, i);
		if (!one) {
			json_decref(results);
			return NULL;
		}
		json_array_append_new(results, one);
	}
	if (!results || vmmu_shadow_stats(r->vm, &st) < 0) {
		json_decref(results);
		run_fail(r, VMMU_ENOMEM, "collecting the results");
		return NULL;
	}
	return json_pack("{s:o,s:O,s:{s:I,s:I,s:I}}", "results", results,
			 "memory_writes", r->writes, "shadow",
			 "fills", (json_int_t)st.fills, "emulated_writes",
			 (json_int_t)st.emulated_writes, "exits",
			 (json_int_t)r->exits);
}

/* The case's "backend", "nested" and --trace: what may go together. */
static int check_form(const struct walk_case *wc, bool trace, char *err)
{
	const char *b = json_string_value(wc->backend);

	if (!wc->backend) {
		snprintf(err, WALK_CASE_ERRLEN, "\"p2m\" needs \"backend\": \"shadow\"");
		return -1;
	}
	if (!b || strcmp(b, "shadow")) {
		snprintf(err, WALK_CASE_ERRLEN, "unknown \"backend\" %s%s%s (the one "
			 "backend is \"shadow\")", b ? "\"" : "", b ? b : "(not a string)",
			 b ? "\"" : "");
		return -1;
	}
	if (wc->nested) {
		snprintf(err, WALK_CASE_ERRLEN, "\"backend\" and \"nested\" do not go "
			 "together");
		return -1;
	}
	if (trace) {
		snprintf(err, WALK_CASE_ERRLEN, "--trace is not available with "
			 "\"backend\": the shadow's guest walks are not traced");
		return -1;
	}
	return 0;
}

json_t *walk_shadow_run(const struct walk_case *wc, bool trace, char *err,
			int *status)
{
	struct ws_run r = { .wc = wc, .err = err };
	json_t *out = NULL;

	*status = 2;
	if (check_form(wc, trace, err) < 0 || parse_p2m(wc, &r.host, err) < 0 ||
	    check_memory(wc, &r.host, err) < 0)
		return NULL;
	*status = 1;
	r.writes = json_array();
	if (r.writes && run_init(&r) == 0)
		out = run_accesses(&r);
	if (r.vm)
		vmmu_vm_destroy(r.vm);
	ws_host_fini(&r.host);
	json_decref(r.writes);
	return out;
}
