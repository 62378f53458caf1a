/* SPDX-License-Identifier: MIT */
/*
 * The cost model: every event a run counts times a cost in cycles. The
 * costs come from a profile that `vmmu bench tlb` / `vmmu bench exits`
 * measured on this machine (cost_load), or from built-in profiles for a
 * few CPU generations, each cost with its source. The result is an
 * estimate and is labelled so; the counts it multiplies are exact.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "model/model.h"
#include "vmmu/error.h"

static const char *const event_names[COST_EVENTS_] = {
	"access", "stlb_hit", "walk_ref", "nested_ref", "guest_pf", "exit",
	"emulate", "cr3", "invlpg", "shootdown",
};

const char *cost_event_name(enum cost_event e)
{
	return e < COST_EVENTS_ ? event_names[e] : "?";
}

#define AGESEN "Agesen et al., USENIX ATC 2012: VM exit round trip"
#define KUT    "kvm-unit-tests vmexit (cpuid) on recent Intel, ~1,000-1,100"
#define ASSUME "assumption (no published figure used; measure with vmmu bench)"
#define STLB   "assumption: ~7 cycles for an STLB hit (Intel optimization " \
	       "manual order of magnitude)"
#define WREF   "assumption: a paging-structure reference served by L2/L3"

/* The costs that do not depend on the generation in these profiles. */
#define COMMON(exit_c, exit_src)                                          \
	.cycles = { 1, 7, 25, 25, 250, exit_c, 1000, 250, 150, 2 * exit_c }, \
	.source = { "assumption: an L1 TLB hit adds nothing; 1 cycle an access", \
		    STLB, WREF, WREF " (Bhargava et al. 2008 count nested " \
		    "references like guest ones)", "assumption: #PF entry and " \
		    "IRET of a native kernel", exit_src, "assumption: decode " \
		    "and execute one instruction in the hypervisor", ASSUME, \
		    ASSUME, "assumption: an IPI between vCPUs costs two exits" }

static const struct cost_profile builtins[] = {
	{ "nehalem", "Intel Nehalem (Xeon X5570 class)", 2.93,
	  COMMON(1009, AGESEN ", Nehalem 1,009 cycles"), false },
	{ "westmere", "Intel Westmere", 2.93,
	  COMMON(761, AGESEN ", Westmere 761 cycles"), false },
	{ "sandybridge", "Intel Sandy Bridge", 3.4,
	  COMMON(784, AGESEN ", Sandy Bridge 784 cycles"), false },
	{ "modern-intel", "recent Intel (Ice Lake and later)", 2.6,
	  COMMON(1050, KUT " cycles"), false },
	{ "zen", "AMD Zen", 2.6,
	  COMMON(1050, "assumption: as recent Intel (no AMD figure in the "
		 "sources used)"), false },
};

#define NBUILTIN (sizeof(builtins) / sizeof(builtins[0]))

unsigned cost_builtin_count(void)
{
	return NBUILTIN;
}

const struct cost_profile *cost_builtin(unsigned i)
{
	return i < NBUILTIN ? &builtins[i] : NULL;
}

const struct cost_profile *cost_builtin_find(const char *name)
{
	unsigned i;

	for (i = 0; i < NBUILTIN; i++)
		if (!strcmp(builtins[i].name, name))
			return &builtins[i];
	return NULL;
}

const struct cost_profile *cost_builtin_for(const char *vendor,
					    const char *uarch)
{
	if (uarch && !strcasecmp(uarch, "Nehalem"))
		return cost_builtin_find("nehalem");
	if (uarch && !strcasecmp(uarch, "Westmere"))
		return cost_builtin_find("westmere");
	if (uarch && (!strcasecmp(uarch, "Sandy Bridge") ||
		      !strcasecmp(uarch, "Ivy Bridge")))
		return cost_builtin_find("sandybridge");
	if (vendor && (strstr(vendor, "AMD") || strstr(vendor, "Hygon")))
		return cost_builtin_find("zen");
	return cost_builtin_find("modern-intel");
}

/* ---- a measured profile ---------------------------------------------- */

static double median_cycles(json_t *stat)
{
	json_t *m = json_object_get(json_object_get(stat, "cycles"), "median");

	return json_is_number(m) ? json_number_value(m) : -1;
}

static void take(struct cost_profile *p, enum cost_event e, double v,
		 const char *what, const char *when)
{
	if (v <= 0)
		return;
	p->cycles[e] = v;
	snprintf(p->source[e], sizeof(p->source[e]), "measured: %s (%s)", what,
		 when ? when : "undated");
}

static int load_exits(struct cost_profile *p, json_t *ex)
{
	static const struct { const char *key; enum cost_event e; } map[] = {
		{ "cpuid_kernel_cpl0", COST_EXIT },
		{ "guest_pf_cpl3", COST_GUEST_PF },
		{ "mov_cr3_cpl0", COST_CR3 },
		{ "invlpg_cpl0", COST_INVLPG },
	};
	json_t *costs = json_object_get(ex, "costs");
	const char *when = json_string_value(json_object_get(ex, "measured_at"));
	unsigned i, n = 0;
	char what[80];

	if (!json_is_object(costs))
		return VMMU_EPARSE;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		json_t *c = json_object_get(costs, map[i].key);

		if (!json_is_true(json_object_get(c, "measured")))
			continue;
		snprintf(what, sizeof(what), "vmmu bench exits %s", map[i].key);
		take(p, map[i].e, median_cycles(c), what, when);
		n++;
	}
	if (p->cycles[COST_EXIT] > 0 && n) {
		p->cycles[COST_SHOOTDOWN] = 2 * p->cycles[COST_EXIT];
		snprintf(p->source[COST_SHOOTDOWN], sizeof(p->source[0]),
			 "two measured exits (cpuid_kernel_cpl0)");
	}
	return n ? VMMU_OK : VMMU_EPARSE;
}

static int load_tlb(struct cost_profile *p, json_t *tlb)
{
	json_t *k0 = json_array_get(json_object_get(tlb, "core_kinds"), 0);
	json_t *walk = json_object_get(json_object_get(k0, "curve"), "walk_cycles");
	json_t *m = json_object_get(walk, "median");
	const char *when = json_string_value(json_object_get(tlb, "measured_at"));

	if (!json_is_number(m) || json_number_value(m) <= 0)
		return VMMU_EPARSE;
	take(p, COST_WALK_REF, json_number_value(m) / 4,
	     "vmmu bench tlb walk_cycles / 4 references", when);
	take(p, COST_NESTED_REF, json_number_value(m) / 4,
	     "vmmu bench tlb walk_cycles / 4, as a guest reference", when);
	return VMMU_OK;
}

static int bad(char *err, size_t len, const char *path, const char *why)
{
	snprintf(err, len, "%s: %s", path, why);
	return VMMU_EPARSE;
}

int cost_load(const char *path, const struct cost_profile *base,
	      struct cost_profile *out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc = json_load_file(path, 0, &je), *tlb, *ex, *hz;
	const char *schema, *brand;
	int rc = VMMU_OK;

	if (!doc) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column,
			 je.text);
		return VMMU_EPARSE;
	}
	*out = *base;
	schema = json_string_value(json_object_get(doc, "schema"));
	hz = json_object_get(doc, "tsc_hz");
	tlb = json_object_get(doc, "tlb");
	ex = json_object_get(doc, "exits");
	if (!schema || strcmp(schema, "vmmu-cost-profile"))
		rc = bad(err, errlen, path, "not a vmmu cost profile (no \"schema\": "
			 "\"vmmu-cost-profile\"; write one with vmmu bench tlb "
			 "--profile FILE)");
	else if (json_integer_value(json_object_get(doc, "version")) != 1)
		rc = bad(err, errlen, path, "cost profile of another version "
			 "(this vmmu reads version 1)");
	else if (!json_is_number(hz) || json_number_value(hz) <= 0)
		rc = bad(err, errlen, path, "lacks a positive \"tsc_hz\"");
	else if (!tlb && !ex)
		rc = bad(err, errlen, path, "has neither a \"tlb\" nor an "
			 "\"exits\" section");
	else if (tlb && load_tlb(out, tlb) < 0)
		rc = bad(err, errlen, path, "its \"tlb\" section lacks "
			 "core_kinds[0].curve.walk_cycles.median");
	else if (ex && load_exits(out, ex) < 0)
		rc = bad(err, errlen, path, "its \"exits\" section has no measured "
			 "cost under \"costs\"");
	if (rc == 0) {
		brand = json_string_value(json_object_get(json_object_get(
			json_object_get(doc, "machine"), "cpu"), "brand"));
		snprintf(out->name, sizeof(out->name), "measured");
		snprintf(out->cpu, sizeof(out->cpu), "%s", brand ? brand : "?");
		out->ghz = json_number_value(hz) / 1e9;
		out->measured = true;
	}
	json_decref(doc);
	return rc;
}

/* ---- the estimate ---------------------------------------------------- */

void cost_events(const struct run_counts *n, enum vmmu_backend_kind kind,
		 uint64_t ev[COST_EVENTS_])
{
	/* shadow paging intercepts MOV to CR3, INVLPG and INVPCID */
	uint64_t intercepted = kind == VMMU_BACKEND_SHADOW ?
			       n->cr_writes + n->invlpg + n->invpcid : 0;

	ev[COST_ACCESS] = n->accesses;
	ev[COST_STLB_HIT] = n->stlb_hits;
	ev[COST_WALK_REF] = n->guest_refs;
	ev[COST_NESTED_REF] = n->nested_refs;
	ev[COST_GUEST_PF] = n->guest_faults;
	ev[COST_EXIT] = n->exits + intercepted;
	ev[COST_EMULATE] = n->emulated_insns;
	ev[COST_CR3] = n->cr_writes;
	ev[COST_INVLPG] = n->invlpg + n->invpcid;
	ev[COST_SHOOTDOWN] = n->shootdowns;
}

double cost_estimate(const struct cost_profile *p, const struct run_counts *n,
		     enum vmmu_backend_kind kind, double part_ns[COST_EVENTS_])
{
	uint64_t ev[COST_EVENTS_];
	double total = 0;
	unsigned i;

	cost_events(n, kind, ev);
	for (i = 0; i < COST_EVENTS_; i++) {
		double ns = (double)ev[i] * p->cycles[i] / p->ghz;

		if (part_ns)
			part_ns[i] = ns;
		total += ns;
	}
	return total;
}
