/* SPDX-License-Identifier: MIT */
/*
 * The report of a session of runs: one comparison table per workload
 * (exact counts, then the estimate), the recommended backend beside the
 * policy's choice and why they differ; the same as JSON.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "model/model.h"

static double est_ns(const struct run_session *s, unsigned i, unsigned j,
		     double part[COST_EVENTS_])
{
	double tmp[COST_EVENTS_];

	return cost_estimate(&s->cost, &s->res[i][j].n, s->bk[j]->kind,
			     part ? part : tmp);
}

static bool ok(const struct run_session *s, unsigned i, unsigned j)
{
	return !s->res[i][j].error[0];
}

const struct run_backend *report_best(const struct run_session *s,
				      unsigned i, double *ns)
{
	const struct run_backend *best = NULL;
	double b = 0, t;
	unsigned j;

	for (j = 0; j < s->nbk; j++) {
		if (!ok(s, i, j) || s->bk[j]->kind == VMMU_BACKEND_NONE)
			continue;
		t = est_ns(s, i, j, NULL);
		if (!best || t < b) {
			best = s->bk[j];
			b = t;
		}
	}
	if (ns)
		*ns = b;
	return best;
}

static int backend_col(const struct run_session *s, const char *name)
{
	unsigned j;

	for (j = 0; j < s->nbk; j++)
		if (!strcmp(s->bk[j]->name, name))
			return (int)j;
	return -1;
}

/* Counter rows: label and how to read it. */
struct row {
	const char *label;
	uint64_t (*get)(const struct run_counts *n, unsigned k);
	unsigned k;
	bool always;
};

#define GETTER(f) \
	static uint64_t get_##f(const struct run_counts *n, unsigned k) \
	{ (void)k; return n->f; }
GETTER(accesses)
GETTER(tlb_misses)
GETTER(stlb_hits)
GETTER(guest_refs)
GETTER(nested_refs)
GETTER(pwc_hits)
GETTER(gpa_tlb_hits)
GETTER(guest_faults)
GETTER(exits)
GETTER(emulated_insns)
GETTER(to_vmm)
GETTER(cr_writes)
GETTER(shootdowns)

static uint64_t get_exit_kind(const struct run_counts *n, unsigned k)
{
	return n->exits_by_kind[k];
}

static uint64_t get_inv(const struct run_counts *n, unsigned k)
{
	(void)k;
	return n->invlpg + n->invpcid;
}

static uint64_t get_os(const struct run_counts *n, unsigned k)
{
	const uint64_t *v = (const uint64_t *)&n->os;

	return v[k];
}

#define OS_FIELD(f) (unsigned)(offsetof(struct gos_stats, f) / sizeof(uint64_t))

static const struct row rows[] = {
	{ "accesses", get_accesses, 0, true },
	{ "TLB misses", get_tlb_misses, 0, true },
	{ "  STLB hits", get_stlb_hits, 0, false },
	{ "guest walk refs", get_guest_refs, 0, true },
	{ "nested walk refs", get_nested_refs, 0, true },
	{ "  PWC hits", get_pwc_hits, 0, false },
	{ "  gPA-TLB hits", get_gpa_tlb_hits, 0, false },
	{ "guest #PF", get_guest_faults, 0, true },
	{ "VM exits", get_exits, 0, true },
	{ "  EPT violation", get_exit_kind, VMMU_EXIT_EPT_VIOLATION, false },
	{ "  EPT misconfig", get_exit_kind, VMMU_EXIT_EPT_MISCONFIG, false },
	{ "  #NPF", get_exit_kind, VMMU_EXIT_NPF, false },
	{ "  shadow #PF", get_exit_kind, VMMU_EXIT_SHADOW_PF, false },
	{ "  first touch", get_exit_kind, VMMU_EXIT_UNBACKED, false },
	{ "  PML full", get_exit_kind, VMMU_EXIT_PML_FULL, false },
	{ "emulated insns", get_emulated_insns, 0, true },
	{ "  PT stores emulated", get_os, OS_FIELD(pt_stores_emulated), false },
	{ "to the VMM", get_to_vmm, 0, false },
	{ "CR writes", get_cr_writes, 0, true },
	{ "INVLPG+INVPCID", get_inv, 0, true },
	{ "remote shootdowns", get_shootdowns, 0, true },
	{ "guest PT stores", get_os, OS_FIELD(pt_stores), true },
	{ "demand faults", get_os, OS_FIELD(demand_faults), false },
	{ "COW faults", get_os, OS_FIELD(cow_faults), false },
	{ "large pages mapped", get_os, OS_FIELD(huge_maps), false },
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void print_row(FILE *out, const struct run_session *s, unsigned i,
		      const struct row *r)
{
	unsigned j;
	bool any = r->always;

	for (j = 0; !any && j < s->nbk; j++)
		any = ok(s, i, j) && r->get(&s->res[i][j].n, r->k);
	if (!any)
		return;
	fprintf(out, "  %-22s", r->label);
	for (j = 0; j < s->nbk; j++)
		if (ok(s, i, j))
			fprintf(out, " %14" PRIu64, r->get(&s->res[i][j].n, r->k));
		else
			fprintf(out, " %14s", "failed");
	fputc('\n', out);
}

/* The event class that costs the policy's choice most over the best. */
static void why_differ(FILE *out, const struct run_session *s, unsigned i,
		       int pj, int bj)
{
	double pp[COST_EVENTS_], pb[COST_EVENTS_], d, worst = 0;
	unsigned e, we = 0;

	est_ns(s, i, (unsigned)pj, pp);
	est_ns(s, i, (unsigned)bj, pb);
	for (e = 0; e < COST_EVENTS_; e++) {
		d = pp[e] - pb[e];
		if (d > worst) {
			worst = d;
			we = e;
		}
	}
	fprintf(out, "  why they differ: the policy picks from the CPU's "
		"features alone; on this workload %s costs %s %.3f ms more "
		"(%s) than under %s\n", cost_event_name(we), s->policy,
		worst / 1e6, "estimated", s->bk[bj]->name);
}

static void print_verdict(FILE *out, const struct run_session *s, unsigned i)
{
	double bns = 0;
	const struct run_backend *best = report_best(s, i, &bns);
	int pj = s->policy[0] ? backend_col(s, s->policy) : -1;

	if (!best) {
		fprintf(out, "  recommended: none yet: no EPT, NPT or shadow "
			"backend is in this build (direct has no second level; "
			"it is the baseline)\n");
	} else {
		fprintf(out, "  recommended: %s (estimated %.3f ms)\n", best->name,
			bns / 1e6);
	}
	fprintf(out, "  policy picks: %s", s->policy[0] ? s->policy : "(none)");
	if (s->policy[0] && pj < 0)
		fprintf(out, " (not in this build yet)");
	fputc('\n', out);
	if (best && pj >= 0 && strcmp(best->name, s->policy) && ok(s, i, (unsigned)pj))
		why_differ(out, s, i, pj, backend_col(s, best->name));
}

static void print_workload(FILE *out, const struct run_session *s, unsigned i)
{
	unsigned j, r;

	fprintf(out, "\n== %s: %s", s->wl_name[i], s->wl[i]->what);
	if (s->wl[i] != &wl_trace && s->cfg.wl.scale != 1)
		fprintf(out, " [run at --scale %g]", s->cfg.wl.scale);
	fputc('\n', out);
	fprintf(out, "  %-22s", "exact counts");
	for (j = 0; j < s->nbk; j++)
		fprintf(out, " %14s", s->bk[j]->name);
	fputc('\n', out);
	for (r = 0; r < NROWS; r++)
		print_row(out, s, i, &rows[r]);
	fprintf(out, "  %-22s", "est. time (ms)*");
	for (j = 0; j < s->nbk; j++)
		if (ok(s, i, j))
			fprintf(out, " %14.3f", est_ns(s, i, j, NULL) / 1e6);
		else
			fprintf(out, " %14s", "-");
	fprintf(out, "\n  %-22s", "model wall time (s)");
	for (j = 0; j < s->nbk; j++)
		fprintf(out, " %14.2f", s->res[i][j].wall_s);
	fputc('\n', out);
	for (j = 0; j < s->nbk; j++)
		if (!ok(s, i, j))
			fprintf(out, "  %s failed: %s\n", s->bk[j]->name,
				s->res[i][j].error);
	print_verdict(out, s, i);
}

static const char *mode_name(enum vmmu_paging_mode m)
{
	return m == VMMU_PAGING_2LEVEL ? "2level" : m == VMMU_PAGING_PAE ? "pae" :
	       m == VMMU_PAGING_5LEVEL ? "5level" : "4level";
}

void report_text(FILE *out, const struct run_session *s)
{
	const struct gos_config *g = &s->cfg.gos;
	unsigned i, j;

	fprintf(out, "host: %s\n", s->host);
	fprintf(out, "policy: %s\n", s->policy[0] ? s->policy : "(none)");
	for (i = 0; i < s->npolicy_reasons; i++)
		fprintf(out, "  - %s\n", s->policy_reasons[i]);
	fprintf(out, "backends in this build:");
	for (j = 0; j < run_backend_count(); j++)
		fprintf(out, " %s", run_backend_at(j)->name);
	fprintf(out, "\nguest: %s paging, %s pages, %u vCPU%s, %" PRIu64
		" MiB, PCID %s; scale %g, seed %" PRIu64 "\n",
		mode_name(g->mode), g->page_order == 18 ? "1g" : g->page_order ?
		(g->mode == VMMU_PAGING_2LEVEL ? "4m" : "2m") : "4k", g->vcpus,
		g->vcpus > 1 ? "s" : "", g->mem >> 20, g->pcid ? "on" : "off",
		s->cfg.wl.scale, s->cfg.wl.seed);
	fprintf(out, "cost profile: %s (%s, %.2f GHz)%s\n", s->cost.name,
		s->cost.cpu, s->cost.ghz, s->cost.measured ?
		", measured on this machine" : ", built-in");
	for (i = 0; i < s->nwl; i++)
		print_workload(out, s, i);
	fprintf(out, "\n* estimates: each counted event times its cost in the "
		"profile above (docs/run.md lists the sources); the counts are "
		"exact.\nmodel time %.1f s\n", s->wall_s);
}

/* ---- JSON ------------------------------------------------------------ */

static json_t *counts_json(const struct run_counts *n)
{
	json_t *o = json_object(), *k = json_object();
	unsigned r;

	for (r = 0; r < NROWS; r++) {
		char key[40];
		const char *l = rows[r].label;
		unsigned c = 0;

		while (*l == ' ')
			l++;
		for (; *l && c < sizeof(key) - 1; l++)
			key[c++] = (*l == ' ' || *l == '+' || *l == '#' ||
				    *l == '-') ? '_' : *l;
		key[c] = 0;
		json_object_set_new(rows[r].get == get_exit_kind ? k : o, key,
				    json_integer((json_int_t)rows[r].get(n, rows[r].k)));
	}
	json_object_set_new(o, "exits_by_reason", k);
	return o;
}

static json_t *cost_json(const struct cost_profile *c)
{
	json_t *o = json_object();
	unsigned e;

	for (e = 0; e < COST_EVENTS_; e++)
		json_object_set_new(o, cost_event_name(e), json_pack("{s:f,s:s}",
			"cycles", c->cycles[e], "source", c->source[e]));
	return json_pack("{s:s,s:s,s:f,s:b,s:o}", "name", c->name, "cpu", c->cpu,
			 "ghz", c->ghz, "measured", c->measured, "costs", o);
}

static json_t *workload_json(const struct run_session *s, unsigned i)
{
	json_t *arr = json_array(), *parts;
	const struct run_backend *best = report_best(s, i, NULL);
	double part[COST_EVENTS_], t;
	unsigned j, e;

	for (j = 0; j < s->nbk; j++) {
		const struct run_result *r = &s->res[i][j];

		if (!ok(s, i, j)) {
			json_array_append_new(arr, json_pack("{s:s,s:s}", "backend",
				s->bk[j]->name, "error", r->error));
			continue;
		}
		t = est_ns(s, i, j, part);
		parts = json_object();
		for (e = 0; e < COST_EVENTS_; e++)
			json_object_set_new(parts, cost_event_name(e), json_real(part[e]));
		json_array_append_new(arr, json_pack("{s:s,s:o,s:f,s:o,s:f}",
			"backend", s->bk[j]->name, "counts", counts_json(&r->n),
			"estimated_ns", t, "estimated_parts_ns", parts,
			"model_wall_s", r->wall_s));
	}
	return json_pack("{s:s,s:s,s:o,s:s?,s:s}", "workload", s->wl_name[i],
			 "what", s->wl[i]->what, "results", arr, "recommended",
			 best ? best->name : NULL, "policy", s->policy);
}

json_t *report_json(const struct run_session *s)
{
	json_t *wls = json_array(), *reasons = json_array(), *bks = json_array();
	const struct gos_config *g = &s->cfg.gos;
	unsigned i;

	for (i = 0; i < s->nwl; i++)
		json_array_append_new(wls, workload_json(s, i));
	for (i = 0; i < s->npolicy_reasons; i++)
		json_array_append_new(reasons, json_string(s->policy_reasons[i]));
	for (i = 0; i < run_backend_count(); i++)
		json_array_append_new(bks, json_string(run_backend_at(i)->name));
	return json_pack("{s:s,s:i,s:s,s:{s:s,s:o},s:o,s:{s:s,s:I,s:i,s:I,s:b,"
			 "s:f,s:I},s:o,s:o,s:f,s:s}",
		"schema", "vmmu-run", "version", 1, "host", s->host,
		"policy", "backend", s->policy, "reasons", reasons,
		"backends_built", bks,
		"guest", "paging", mode_name(g->mode), "page_bytes",
		(json_int_t)(1ULL << (12 + g->page_order)), "vcpus", (int)g->vcpus,
		"mem_bytes", (json_int_t)g->mem, "pcid", g->pcid,
		"scale", s->cfg.wl.scale, "seed", (json_int_t)s->cfg.wl.seed,
		"cost_profile", cost_json(&s->cost), "workloads", wls,
		"model_wall_s", s->wall_s, "note",
		"estimated_* are estimates from the cost profile; counts are exact");
}
