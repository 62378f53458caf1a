/* SPDX-License-Identifier: MIT */
/*
 * The `vmmu walk` case format (see `vmmu walk --help`), parsed and checked
 * once for every tool that reads it: `vmmu walk` and `kvm_oracle --case`
 * must agree on what a case means, typos and wrong types included.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walk_case.h"

static int check_keys(const json_t *obj, const char *const *allowed,
		      const char *ctx, char *err)
{
	return cli_check_keys(obj, allowed, ctx, err, WALK_CASE_ERRLEN);
}

static int get_bool(const json_t *obj, const char *key, bool dflt, bool *out,
		    const char *ctx, char *err)
{
	const json_t *v = json_object_get(obj, key);

	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_boolean(v)) {
		snprintf(err, WALK_CASE_ERRLEN, "%s: \"%s\" must be true or false", ctx, key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int parse_vendor(const json_t *pg, uint32_t *quirks, char *err)
{
	const json_t *v = json_object_get(pg, "vendor");
	const char *s;
	bool gb;

	if (v) {
		s = json_string_value(v);
		if (s && !strcmp(s, "amd"))
			*quirks |= VMMU_PAGING_AMD;
		else if (!s || strcmp(s, "intel")) {
			snprintf(err, WALK_CASE_ERRLEN,
				 "paging: \"vendor\" must be \"intel\" or \"amd\"");
			return -1;
		}
	}
	if (get_bool(pg, "gbpages", true, &gb, "paging", err) < 0)
		return -1;
	if (!gb)
		*quirks |= VMMU_PAGING_NO_1G;
	/* SDM 4.8 lets a faulting walk set A bits; off: all or nothing. */
	if (get_bool(pg, "a_bits_on_fault", false, &gb, "paging", err) < 0)
		return -1;
	if (gb)
		*quirks |= VMMU_PAGING_A_ON_FAULT;
	return 0;
}

static int paging_u64(const json_t *pg, const char *key, bool required,
		      uint64_t dflt, uint64_t *out, char *err)
{
	return cli_get_u64(pg, key, required, dflt, out, "paging", err,
			   WALK_CASE_ERRLEN);
}

static const char *const paging_keys[] = { "cr0", "cr3", "cr4", "efer",
	"pkru", "rflags", "maxphyaddr", "vendor", "gbpages", "a_bits_on_fault",
	NULL };

static int parse_paging(const json_t *pg, struct vmmu_paging_state *ps,
			char *err)
{
	uint64_t pkru, maxphy;

	memset(ps, 0, sizeof(*ps));
	if (check_keys(pg, paging_keys, "paging", err) < 0 ||
	    paging_u64(pg, "cr0", true, 0, &ps->cr0, err) < 0 ||
	    paging_u64(pg, "cr3", true, 0, &ps->cr3, err) < 0 ||
	    paging_u64(pg, "cr4", true, 0, &ps->cr4, err) < 0 ||
	    paging_u64(pg, "efer", true, 0, &ps->efer, err) < 0 ||
	    paging_u64(pg, "rflags", false, 2, &ps->rflags, err) < 0 ||
	    paging_u64(pg, "pkru", false, 0, &pkru, err) < 0 ||
	    paging_u64(pg, "maxphyaddr", true, 0, &maxphy, err) < 0 ||
	    parse_vendor(pg, &ps->quirks, err) < 0)
		return -1;
	if (pkru > 0xffffffffULL) {
		snprintf(err, WALK_CASE_ERRLEN, "paging: \"pkru\" does not fit in 32 bits");
		return -1;
	}
	if (maxphy < 32 || maxphy > 52) {
		snprintf(err, WALK_CASE_ERRLEN, "paging: \"maxphyaddr\" %" PRIu64
			 " is outside 32..52", maxphy);
		return -1;
	}
	ps->pkru = (uint32_t)pkru;
	ps->maxphyaddr = (uint8_t)maxphy;
	vmmu_paging_update(ps);
	if (vmmu_paging_mode(ps) == VMMU_PAGING_INVALID) {
		snprintf(err, WALK_CASE_ERRLEN, "paging: no CPU runs with these registers "
			 "(CR0.PG without CR0.PE, or EFER.LMA/LME with paging "
			 "but without CR4.PAE, or EFER.LMA without CR0.PG)");
		return -1;
	}
	return 0;
}

static int parse_memory(const json_t *arr, struct walk_case *wc, char *err)
{
	return guest_mem_parse(arr, wc->nested ? "hpa" : "gpa", &wc->mem, err,
			       WALK_CASE_ERRLEN);
}

static const char *const access_keys[] = { "gva", "access", "cpl",
	"implicit", NULL };

static int parse_access(const json_t *it, struct vmmu_access *acc,
			const char *ctx, char *err)
{
	const char *kind;
	uint64_t gva, cpl;

	memset(acc, 0, sizeof(*acc));
	if (check_keys(it, access_keys, ctx, err) < 0 ||
	    cli_get_u64(it, "gva", true, 0, &gva, ctx, err, WALK_CASE_ERRLEN) < 0 ||
	    cli_get_u64(it, "cpl", false, 0, &cpl, ctx, err, WALK_CASE_ERRLEN) < 0 ||
	    get_bool(it, "implicit", false, &acc->implicit, ctx, err) < 0)
		return -1;
	kind = json_string_value(json_object_get(it, "access"));
	if (!kind) {
		snprintf(err, WALK_CASE_ERRLEN, "%s: missing \"access\" (read, write or "
			 "fetch)", ctx);
		return -1;
	}
	if (!strcmp(kind, "read")) {
		acc->kind = VMMU_ACCESS_READ;
	} else if (!strcmp(kind, "write")) {
		acc->kind = VMMU_ACCESS_WRITE;
	} else if (!strcmp(kind, "fetch")) {
		acc->kind = VMMU_ACCESS_FETCH;
	} else {
		snprintf(err, WALK_CASE_ERRLEN, "%s: unknown access kind \"%s\" (read, "
			 "write or fetch)", ctx, kind);
		return -1;
	}
	if (cpl > 3) {
		snprintf(err, WALK_CASE_ERRLEN, "%s: \"cpl\" %" PRIu64 " is outside 0..3",
			 ctx, cpl);
		return -1;
	}
	acc->gva = mk_gva(gva);
	acc->cpl = (uint8_t)cpl;
	return 0;
}

static const char *const case_keys[] = { "paging", "memory", "accesses", NULL };
static const char *const nested_case_keys[] = { "paging", "memory",
	"accesses", "nested", "backend", "p2m", NULL };

static int parse_accesses(const json_t *accs, struct walk_case *wc, char *err)
{
	size_t i, n = json_array_size(accs);
	char ctx[48];

	if (!json_is_array(accs)) {
		snprintf(err, WALK_CASE_ERRLEN, "\"accesses\" must be an array");
		return -1;
	}
	wc->acc = calloc(n ? n : 1, sizeof(*wc->acc));
	if (!wc->acc) {
		snprintf(err, WALK_CASE_ERRLEN, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(ctx, sizeof(ctx), "accesses[%zu]", i);
		if (parse_access(json_array_get(accs, i), &wc->acc[i], ctx,
				 err) < 0)
			return -1;
		wc->nacc++;
	}
	return 0;
}

static int parse_case(const json_t *c, struct walk_case *wc, bool nested,
		      char *err)
{
	memset(wc, 0, sizeof(*wc));
	if (check_keys(c, nested ? nested_case_keys : case_keys, "case",
		       err) < 0)
		return -1;
	wc->nested = nested ? json_object_get(c, "nested") : NULL;
	wc->backend = nested ? json_object_get(c, "backend") : NULL;
	wc->p2m = nested ? json_object_get(c, "p2m") : NULL;
	if (wc->nested && !json_is_object(wc->nested)) {
		snprintf(err, WALK_CASE_ERRLEN, "\"nested\" must be an object");
		return -1;
	}
	if (guest_mem_init(&wc->mem, GUEST_MEM_CASE_PAGES) < 0) {
		snprintf(err, WALK_CASE_ERRLEN, "out of memory");
		return -1;
	}
	if (!json_object_get(c, "paging")) {
		snprintf(err, WALK_CASE_ERRLEN, "missing \"paging\"");
		walk_case_free(wc);
		return -1;
	}
	if (parse_paging(json_object_get(c, "paging"), &wc->ps, err) < 0 ||
	    parse_memory(json_object_get(c, "memory"), wc, err) < 0 ||
	    parse_accesses(json_object_get(c, "accesses"), wc, err) < 0) {
		walk_case_free(wc);
		return -1;
	}
	return 0;
}

int walk_case_parse(const json_t *c, struct walk_case *wc, char *err)
{
	return parse_case(c, wc, false, err);
}

int walk_case_parse_nested(const json_t *c, struct walk_case *wc, char *err)
{
	return parse_case(c, wc, true, err);
}

json_t *walk_result_json(const struct vmmu_access *acc,
			 const struct vmmu_walk_result *res, bool trace)
{
	json_t *o = json_object(), *ents;
	unsigned i;

	if (!o)
		return NULL;
	json_object_set_new(o, "gva", cli_hex(acc->gva.v));
	json_object_set_new(o, "ok", json_boolean(res->ok));
	if (res->ok) {
		json_object_set_new(o, "gpa", cli_hex(res->gpa.v));
		json_object_set_new(o, "page_size",
				    json_integer((json_int_t)res->page_size));
	} else {
		json_object_set_new(o, "vector", json_integer(res->vector));
		json_object_set_new(o, "error_code", cli_hex(res->error_code));
		if (res->vector == X86_VEC_PF)
			json_object_set_new(o, "cr2", cli_hex(res->cr2.v));
	}
	if (trace) {
		ents = json_array();
		for (i = 0; ents && i < res->levels; i++)
			json_array_append_new(ents, json_pack("{s:o,s:o}",
				"gpa", cli_hex(res->pte_gpa[i].v),
				"value", cli_hex(res->pte[i])));
		json_object_set_new(o, "entries", ents);
	}
	return o;
}

void walk_case_free(struct walk_case *wc)
{
	guest_mem_fini(&wc->mem);
	free(wc->acc);
	wc->acc = NULL;
	wc->nacc = 0;
}
