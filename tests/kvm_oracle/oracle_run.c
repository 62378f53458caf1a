/* SPDX-License-Identifier: MIT */
/*
 * The oracle loop: seeded cases on KVM, each access compared with
 * vmmu_walk(), counts kept, disagreements dumped as `vmmu walk` cases.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_json.h"
#include "vmmu/error.h"
#include "oracle_cmp.h"

static const char *const kind_name[] = { "read", "write", "fetch" };

json_t *orc_case_json(const struct orc_vm *vm, const struct orc_case *c,
		      unsigned upto, const struct orc_tables *pre0)
{
	json_t *mem = json_array(), *accs = json_array(), *paging;
	uint64_t v;

	paging = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:i,s:s,s:b}",
			   "cr0", cli_hex(c->cr0), "cr3", cli_hex(ORC_PML4_GPA | c->cr3_flags),
			   "cr4", cli_hex(c->cr4), "efer", cli_hex(c->efer),
			   "pkru", cli_hex(c->pkru),
			   "rflags", cli_hex(0x2 | (c->ac ? X86_RFLAGS_AC : 0)),
			   "maxphyaddr", vm->maxphyaddr,
			   "vendor", vm->amd ? "amd" : "intel",
			   "gbpages", vm->gbpages);
	for (unsigned i = 0; i < ORC_NTABLES; i++)
		for (unsigned off = 0; off < 4096; off += 8) {
			memcpy(&v, pre0->page[i] + off, 8);
			if (v)
				json_array_append_new(mem, json_pack("{s:o,s:[o]}",
					"gpa", cli_hex(orc_table_gpa[i] + off),
					"qwords", cli_hex(v)));
		}
	for (unsigned i = 0; i <= upto && i < c->naccess; i++) {
		const struct orc_access *a = &c->access[i];

		json_array_append_new(accs, json_pack("{s:o,s:s,s:i,s:b}",
			"gva", cli_hex(a->gva), "access", kind_name[a->kind],
			"cpl", a->cpl, "implicit", a->implicit));
		/* A descriptor load that sets the accessed bit also writes. */
		if (a->desc_write)
			json_array_append_new(accs, json_pack("{s:o,s:s,s:i,s:b}",
				"gva", cli_hex(a->gva), "access", "write",
				"cpl", a->cpl, "implicit", true));
	}
	return json_pack("{s:o,s:o,s:o}", "paging", paging, "memory", mem,
			 "accesses", accs);
}

static json_t *fault_json(json_t *o, unsigned vector, uint32_t ec, uint64_t cr2)
{
	json_object_set_new(o, "vector", json_integer(vector));
	json_object_set_new(o, "error_code", cli_hex(ec));
	if (vector == X86_VEC_PF)
		json_object_set_new(o, "cr2", cli_hex(cr2));
	return o;
}

json_t *orc_kvm_result_json(const struct orc_access *a,
			    const struct orc_outcome *o, uint64_t page_size)
{
	json_t *j;

	/* No result: say why instead of claiming a translation or a fault. */
	if (o->harness_error)
		return json_pack("{s:o,s:s}", "gva", cli_hex(a->gva), "error",
				 o->why);
	j = json_pack("{s:o,s:b}", "gva", cli_hex(a->gva), "ok", o->ok);
	if (!o->ok)
		return fault_json(j, o->vector, o->error_code, o->cr2);
	if (o->gpa_known)
		json_object_set_new(j, "gpa", cli_hex(o->gpa));
	if (page_size)
		json_object_set_new(j, "page_size",
				    json_integer((json_int_t)page_size));
	if (o->fetch_quirk)
		json_object_set_new(j, "note", json_string(
			"first instruction ran, then a #PF on the next one "
			"(KVM quirk)"));
	return j;
}

json_t *orc_walk_result_json(const struct orc_access *a,
			     const struct vmmu_walk_result *r)
{
	json_t *j = json_pack("{s:o,s:b}", "gva", cli_hex(a->gva), "ok", r->ok);

	if (!r->ok)
		return fault_json(j, r->vector, r->error_code, r->cr2.v);
	json_object_set_new(j, "gpa", cli_hex(r->gpa.v));
	json_object_set_new(j, "page_size", json_integer((json_int_t)r->page_size));
	return j;
}

/* Entries that changed between two table copies, as `memory_writes`. */
static void append_writes(json_t *arr, const struct orc_tables *before,
			  const struct orc_tables *after)
{
	uint64_t a, b;

	for (unsigned i = 0; i < ORC_NTABLES; i++)
		for (unsigned off = 0; off < 4096; off += 8) {
			memcpy(&a, before->page[i] + off, 8);
			memcpy(&b, after->page[i] + off, 8);
			if (a != b)
				json_array_append_new(arr, json_pack("{s:o,s:i,s:o}",
					"gpa", cli_hex(orc_table_gpa[i] + off),
					"size", 8, "value", cli_hex(b)));
		}
}

json_t *orc_stats_json(const struct orc_stats *st)
{
	return json_pack("{s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I},s:I,s:I,s:I,s:I,"
			 "s:I,s:I,s:I,s:I,s:f}",
		"cases", (json_int_t)st->cases,
		"accesses", (json_int_t)st->accesses,
		"completed", (json_int_t)st->completed,
		"faults", "pf_not_present", (json_int_t)st->pf_not_present,
		"pf_protection", (json_int_t)st->pf_protection,
		"pf_reserved", (json_int_t)st->pf_reserved,
		"other_vector", (json_int_t)st->other_vector,
		"pf_pk", (json_int_t)st->pf_pk,
		"implicit_accesses", (json_int_t)st->implicit,
		"mmio_accesses", (json_int_t)st->mmio,
		"pke_accesses", (json_int_t)st->pke_accesses,
		"kvm_fetch_quirk", (json_int_t)st->fetch_quirk,
		"ad_updates", (json_int_t)st->ad_updates,
		"agreements", (json_int_t)st->agree,
		"disagreements", (json_int_t)st->disagree,
		"harness_errors", (json_int_t)st->harness_errors,
		"seconds", st->seconds);
}

static void count_outcome(struct orc_stats *st, const struct orc_case *c,
			  const struct orc_access *a, const struct orc_outcome *o)
{
	st->accesses++;
	st->implicit += a->implicit;
	st->fetch_quirk += o->fetch_quirk;
	st->mmio += o->mmio;
	st->pke_accesses += !!(c->cr4 & X86_CR4_PKE);
	st->pf_pk += !o->ok && o->vector == X86_VEC_PF &&
		     (o->error_code & X86_PFEC_PK);
	if (o->harness_error)
		st->harness_errors++;
	else if (o->ok)
		st->completed++;
	else if (o->vector != X86_VEC_PF)
		st->other_vector++;
	else if (o->error_code & X86_PFEC_RSVD)
		st->pf_reserved++;
	else if (o->error_code & X86_PFEC_P)
		st->pf_protection++;
	else
		st->pf_not_present++;
}

/* Everything one case needs, kept off the stack (the tables are 16 KiB). */
struct case_state {
	struct orc_case c;
	struct orc_tables pre0, pre, mine, after;
	struct orc_outcome out[ORC_MAX_ACCESSES];
	struct vmmu_walk_result res[ORC_MAX_ACCESSES];
	json_t *kvm_writes, *vmmu_writes;
};

static void dump_case(const struct orc_vm *vm, const struct orc_run_opts *opts,
		      struct case_state *s, unsigned upto, const char *why)
{
	uint64_t size = s->c.levels == 4 ? 0x1000ULL : 0x200000ULL;
	json_t *kvm = json_array(), *mine = json_array();

	if (opts->log)
		fprintf(opts->log, "disagreement: seed 0x%llx access %u: %s\n",
			(unsigned long long)s->c.seed, upto, why);
	if (!opts->dumps || json_array_size(opts->dumps) >= opts->max_dumps) {
		json_decref(kvm);
		json_decref(mine);
		return;
	}
	for (unsigned i = 0; i <= upto; i++) {
		json_array_append_new(kvm, orc_kvm_result_json(&s->c.access[i],
					&s->out[i], size));
		json_array_append_new(mine, orc_walk_result_json(&s->c.access[i],
					&s->res[i]));
	}
	json_array_append_new(opts->dumps, json_pack(
		"{s:o,s:s,s:o,s:{s:o,s:O},s:{s:o,s:O}}",
		"seed", cli_hex(s->c.seed), "difference", why,
		"case", orc_case_json(vm, &s->c, upto, &s->pre0),
		"kvm", "results", kvm, "memory_writes", s->kvm_writes,
		"vmmu", "results", mine, "memory_writes", s->vmmu_writes));
}

/* Run and check one case; returns a negative vmmu_err if KVM failed. */
static int run_case(struct orc_vm *vm, const struct orc_run_opts *opts,
		    struct case_state *s, struct orc_stats *st)
{
	struct orc_verdict v;
	int rc = 0;

	s->kvm_writes = json_array();
	s->vmmu_writes = json_array();
	for (unsigned i = 0; i < s->c.naccess; i++) {
		rc = orc_vm_run_access(vm, &s->c, i, &s->pre, &s->out[i]);
		if (rc < 0)
			break;
		if (i == 0)
			s->pre0 = s->pre;
		count_outcome(st, &s->c, &s->c.access[i], &s->out[i]);
		if (s->out[i].harness_error) {
			memset(&s->res[i], 0, sizeof(s->res[i]));
			dump_case(vm, opts, s, i, s->out[i].why);
			break;
		}
		orc_vm_get_tables(vm, &s->after);
		st->ad_updates += memcmp(&s->pre, &s->after, sizeof(s->pre)) != 0;
		s->mine = s->pre;
		if (orc_check_access(vm, &s->c, i, &s->mine, &s->after,
				     &s->out[i], &v) < 0)
			v.agree = false;
		s->res[i] = v.res;
		append_writes(s->kvm_writes, &s->pre, &s->after);
		append_writes(s->vmmu_writes, &s->pre, &s->mine);
		if (v.agree) {
			st->agree++;
			continue;
		}
		st->disagree++;
		dump_case(vm, opts, s, i, v.why);
		break;          /* later accesses would start from KVM's state */
	}
	json_decref(s->kvm_writes);
	json_decref(s->vmmu_writes);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int orc_run(struct orc_vm *vm, const struct orc_run_opts *opts,
	    struct orc_stats *st)
{
	struct orc_rng r = { opts->seed };
	const struct orc_gen_opts gen = { vm->maxphyaddr, vm->pku };
	struct case_state *s = calloc(1, sizeof(*s));
	double t0 = now_s(), last = t0;
	int rc = 0;

	if (!s)
		return VMMU_ENOMEM;
	memset(st, 0, sizeof(*st));
	for (uint64_t n = 0; n < opts->cases && rc == 0; n++) {
		orc_gen_case(&r, &s->c, &gen);
		for (unsigned i = 0; opts->no_implicit && i < s->c.naccess; i++)
			s->c.access[i].implicit = false;
		st->cases++;
		rc = run_case(vm, opts, s, st);
		if (opts->progress && now_s() - last >= 2.0) {
			last = now_s();
			fprintf(stderr, "kvm_oracle: %llu/%llu cases, %llu accesses, "
				"%llu disagreements, %.0f cases/s\n",
				(unsigned long long)st->cases,
				(unsigned long long)opts->cases,
				(unsigned long long)st->accesses,
				(unsigned long long)st->disagree,
				(double)st->cases / (last - t0));
		}
	}
	st->seconds = now_s() - t0;
	free(s);
	return rc;
}
