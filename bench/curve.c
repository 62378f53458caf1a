/* SPDX-License-Identifier: MIT */
/*
 * The latency curve: every chase kind over every working set, repeated,
 * then the TLB reach and page-walk cost read off the curve.
 */
#include <stdio.h>
#include <string.h>

#include "vmmu/error.h"
#include "bench.h"

/*
 * One working set: the chains of every kind prepared, then repetition r
 * of each kind back to back, so that the kinds compared at a point ran
 * under the same load (a shared machine's load changes over seconds).
 */
static int measure_point(struct bench_chase_target *t, uint64_t max_ws,
			 struct bench_tlb_point *pt, unsigned reps)
{
	double ns[BENCH_CHASE_KINDS][BENCH_MAX_REPS];
	double cyc[BENCH_CHASE_KINDS][BENCH_MAX_REPS];
	unsigned r;
	int k, rc;

	for (k = 0; k < BENCH_CHASE_KINDS; k++) {
		rc = t->prepare(t->ctx, k, pt->ws, max_ws);
		if (rc)
			return rc;
	}
	for (r = 0; r < reps; r++)
		for (k = 0; k < BENCH_CHASE_KINDS; k++) {
			rc = t->measure(t->ctx, k, pt->ws, &ns[k][r], &cyc[k][r]);
			if (rc)
				return rc;
			pt->raw_ns[k][r] = ns[k][r];
			pt->raw_cyc[k][r] = cyc[k][r];
		}
	for (k = 0; k < BENCH_CHASE_KINDS; k++) {
		bench_stats_of(ns[k], reps, &pt->ns[k]);
		bench_stats_of(cyc[k], reps, &pt->cyc[k]);
		pt->have[k] = true;
	}
	return VMMU_OK;
}

int bench_curve_run(struct bench_chase_target *t, const uint64_t *ws,
		    unsigned n_ws, unsigned reps,
		    const struct bench_progress *p, const char *label,
		    struct bench_tlb_curve *cv)
{
	unsigned i;
	int k, rc = VMMU_OK;

	if (n_ws > BENCH_MAX_POINTS || reps == 0 || reps > BENCH_MAX_REPS)
		return VMMU_EINVAL;
	memset(cv, 0, sizeof(*cv));
	cv->n = n_ws;
	for (i = 0; i < n_ws && rc == VMMU_OK; i++) {
		cv->pt[i].ws = ws[i];
		rc = measure_point(t, ws[n_ws - 1], &cv->pt[i], reps);
		if (rc == VMMU_OK)
			bench_progress(p, "%s %10llu KiB  4k %7.2f  2m %7.2f  "
				       "dense %7.2f ns/access", label,
				       (unsigned long long)(ws[i] >> 10),
				       cv->pt[i].ns[BENCH_CHASE_4K].median,
				       cv->pt[i].ns[BENCH_CHASE_2M].median,
				       cv->pt[i].ns[BENCH_CHASE_DENSE].median);
	}
	for (k = 0; k < BENCH_CHASE_KINDS; k++)
		t->finish(t->ctx, k);
	snprintf(cv->huge_method, sizeof(cv->huge_method), "%s", t->huge_method);
	snprintf(cv->huge_why, sizeof(cv->huge_why), "%s", t->huge_why);
	if (rc == VMMU_OK)
		bench_tlb_analyse(cv);
	return rc;
}

/*
 * TLB overhead at point i: chase k minus the dense (cache-only) chase.
 * rep < 0: on the fastest repetition of each (other load on a shared
 * machine only ever adds time); rep >= 0: within repetition rep, whose
 * kinds ran back to back under the same load.
 */
static double overhead(const struct bench_tlb_curve *cv, unsigned i, int k,
		       int rep)
{
	if (rep >= 0)
		return cv->pt[i].raw_ns[k][rep] -
		       cv->pt[i].raw_ns[BENCH_CHASE_DENSE][rep];
	return cv->pt[i].ns[k].min - cv->pt[i].ns[BENCH_CHASE_DENSE].min;
}

/*
 * First index from which the overhead stays above thr up to the end of the
 * curve (a knee must persist; a lone noisy point is not one). -1 if none.
 */
static int sustained_above(const struct bench_tlb_curve *cv, int k, int rep,
			   unsigned from, double thr)
{
	int first = -1;
	unsigned i;

	for (i = from; i < cv->n; i++) {
		if (overhead(cv, i, k, rep) > thr) {
			if (first < 0)
				first = (int)i;
		} else {
			first = -1;
		}
	}
	return first;
}

/*
 * Knees of chase k: k1 where the overhead leaves the noise floor (an L1
 * DTLB miss that hits the second-level TLB costs a few cycles), k2 where
 * it climbs well above the plateau after k1 (the second-level TLB misses
 * and the page walker runs). -1 when absent.
 */
static void knees(const struct bench_tlb_curve *cv, int k, int rep, int *k1,
		  int *k2)
{
	const double floor_ns = 0.75;
	double plateau;

	*k2 = -1;
	*k1 = sustained_above(cv, k, rep, 1, floor_ns);
	if (*k1 <= 0)
		return;
	plateau = overhead(cv, (unsigned)*k1, k, rep);
	if ((unsigned)*k1 + 1 < cv->n && overhead(cv, *k1 + 1, k, rep) < plateau)
		plateau = overhead(cv, *k1 + 1, k, rep);
	*k2 = sustained_above(cv, k, rep, (unsigned)*k1 + 1,
			      2.0 * plateau + floor_ns);
}

/*
 * One knee and its support: the knee is the one the fastest-repetition
 * curve gives (the steadiest on a loaded machine, see overhead()); each
 * repetition's own curve gives its knee too, and votes counts those that
 * agree. The spread is the range of knees the repetitions gave.
 */
static void vote(const struct bench_tlb_curve *cv, const int *idx,
		 unsigned reps, int pick, struct bench_knee *kn)
{
	int lo = BENCH_MAX_POINTS, hi = -1;
	unsigned r;

	memset(kn, 0, sizeof(*kn));
	kn->reps = reps;
	for (r = 0; r < reps; r++) {
		kn->votes += idx[r] == pick;
		if (idx[r] > 0 && idx[r] < lo)
			lo = idx[r];
		if (idx[r] > hi)
			hi = idx[r];
	}
	if (pick > 0) {
		kn->reach = cv->pt[pick - 1].ws;
		kn->knee = cv->pt[pick].ws;
		lo = pick < lo ? pick : lo;
		hi = pick > hi ? pick : hi;
	}
	if (hi > 0 && lo < BENCH_MAX_POINTS) {
		kn->reach_lo = cv->pt[lo - 1].ws;
		kn->knee_hi = cv->pt[hi].ws;
	}
}

/* The knees of the 4 KiB chase, with the repetitions' support. */
static void voted_knees(struct bench_tlb_curve *cv)
{
	int k1[BENCH_MAX_REPS], k2[BENCH_MAX_REPS], f1, f2;
	unsigned r, reps = cv->pt[0].ns[BENCH_CHASE_4K].n;

	knees(cv, BENCH_CHASE_4K, -1, &f1, &f2);
	for (r = 0; r < reps; r++)
		knees(cv, BENCH_CHASE_4K, (int)r, &k1[r], &k2[r]);
	vote(cv, k1, reps, f1, &cv->l1);
	vote(cv, k2, reps, f2, &cv->l2);
	cv->l1_reach = cv->l1.reach;
	cv->l1_knee = cv->l1.knee;
	cv->l2_reach = cv->l2.reach;
	cv->l2_knee = cv->l2.knee;
}

/*
 * Page-walk cost, paired by repetition, at BENCH_WALK_WS or the largest
 * working set below it: a fixed point, so that the figure does not depend
 * on how far the curve goes (at 4 GiB it also pays cache misses for the
 * page tables themselves, at 32 MiB hardly any).
 */
static void walk_cost(struct bench_tlb_curve *cv)
{
	double diff_ns[BENCH_MAX_REPS], diff_cyc[BENCH_MAX_REPS];
	unsigned r, reps, at = 0, i;

	for (i = 0; i < cv->n; i++)
		if (cv->pt[i].ws <= BENCH_WALK_WS)
			at = i;
	reps = cv->pt[at].ns[BENCH_CHASE_4K].n;
	for (r = 0; r < reps; r++) {
		diff_ns[r] = cv->pt[at].raw_ns[BENCH_CHASE_4K][r] -
			     cv->pt[at].raw_ns[BENCH_CHASE_DENSE][r];
		diff_cyc[r] = cv->pt[at].raw_cyc[BENCH_CHASE_4K][r] -
			      cv->pt[at].raw_cyc[BENCH_CHASE_DENSE][r];
	}
	bench_stats_of(diff_ns, reps, &cv->walk_ns);
	bench_stats_of(diff_cyc, reps, &cv->walk_cyc);
	cv->walk_ws = cv->pt[at].ws;
}

/*
 * Reach of a TLB level = the largest working set before the overhead
 * steps up, with how many repetitions agree (see vote()). The same on the
 * 2 MiB chase tells whether huge pages extended the reach.
 */
void bench_tlb_analyse(struct bench_tlb_curve *cv)
{
	int k1, k2;

	cv->l1_reach = cv->l2_reach = cv->l1_knee = cv->l2_knee = 0;
	cv->huge_l1_reach = 0;
	memset(&cv->l1, 0, sizeof(cv->l1));
	memset(&cv->l2, 0, sizeof(cv->l2));
	if (cv->n < 3 || !cv->pt[0].have[BENCH_CHASE_4K] ||
	    !cv->pt[0].have[BENCH_CHASE_DENSE])
		return;
	voted_knees(cv);
	if (cv->pt[0].have[BENCH_CHASE_2M]) {
		knees(cv, BENCH_CHASE_2M, -1, &k1, &k2);
		cv->huge_l1_reach = k1 > 0 ? cv->pt[k1 - 1].ws : 0;
	}
	walk_cost(cv);
}

void bench_tlb_curve_window(const struct bench_tlb_curve *cv, uint64_t lo,
			    uint64_t hi, struct bench_tlb_curve *out)
{
	unsigned i;

	*out = *cv;
	out->n = 0;
	for (i = 0; i < cv->n; i++)
		if (cv->pt[i].ws >= lo && cv->pt[i].ws <= hi)
			out->pt[out->n++] = cv->pt[i];
	bench_tlb_analyse(out);
}

static json_t *knee_json(const struct bench_knee *k)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:i, s:i}",
			 "reach_bytes", (json_int_t)k->reach,
			 "knee_bytes", (json_int_t)k->knee,
			 "reach_lo_bytes", (json_int_t)k->reach_lo,
			 "knee_hi_bytes", (json_int_t)k->knee_hi,
			 "votes", (int)k->votes, "repetitions", (int)k->reps);
}

json_t *bench_tlb_curve_json(const struct bench_tlb_curve *cv)
{
	json_t *pts = json_array(), *o;
	unsigned i;
	int k;

	for (i = 0; i < cv->n; i++) {
		json_t *pt = json_pack("{s:I}", "ws_bytes", (json_int_t)cv->pt[i].ws);

		for (k = 0; k < BENCH_CHASE_KINDS; k++) {
			if (!cv->pt[i].have[k])
				continue;
			json_object_set_new(pt, bench_chase_name[k],
				json_pack("{s:o, s:o}",
					  "ns", bench_stats_json(&cv->pt[i].ns[k]),
					  "cycles", bench_stats_json(&cv->pt[i].cyc[k])));
		}
		json_array_append_new(pts, pt);
	}
	o = json_pack("{s:o, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
		      "points", pts,
		      "huge_method", cv->huge_method,
		      "huge_fallback_reason", cv->huge_why,
		      "l1_reach_bytes", (json_int_t)cv->l1_reach,
		      "l1_knee_bytes", (json_int_t)cv->l1_knee,
		      "l2_reach_bytes", (json_int_t)cv->l2_reach,
		      "l2_knee_bytes", (json_int_t)cv->l2_knee,
		      "huge_l1_reach_bytes", (json_int_t)cv->huge_l1_reach,
		      "walk_ws_bytes", (json_int_t)cv->walk_ws,
		      "walk_ns", bench_stats_json(&cv->walk_ns),
		      "walk_cycles", bench_stats_json(&cv->walk_cyc));
	json_object_set_new(o, "l1_inference", knee_json(&cv->l1));
	json_object_set_new(o, "l2_inference", knee_json(&cv->l2));
	return o;
}
