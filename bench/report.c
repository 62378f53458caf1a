/* SPDX-License-Identifier: MIT */
/* Human-readable tables for the benchmark results. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

void bench_fmt_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0)
		snprintf(buf, len, "%" PRIu64 " GiB", bytes >> 30);
	else if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0)
		snprintf(buf, len, "%" PRIu64 " MiB", bytes >> 20);
	else if (bytes >= (1ull << 30))
		snprintf(buf, len, "%.1f GiB", (double)bytes / (1ull << 30));
	else if (bytes >= (1ull << 20))
		snprintf(buf, len, "%.1f MiB", (double)bytes / (1ull << 20));
	else
		snprintf(buf, len, "%" PRIu64 " KiB", bytes >> 10);
}

void bench_print_curve(FILE *out, const struct bench_tlb_curve *cv)
{
	char sz[32];
	unsigned i;

	fprintf(out, "  %-10s | %-27s | %-27s | %-27s | %s\n", "working",
		"4 KiB pages ns (cyc) [min-max]", "2 MiB pages ns (cyc)",
		"dense (cache only) ns (cyc)", "TLB ns");
	for (i = 0; i < cv->n; i++) {
		const struct bench_tlb_point *p = &cv->pt[i];
		int k;

		bench_fmt_size(p->ws, sz, sizeof(sz));
		fprintf(out, "  %-10s |", sz);
		for (k = 0; k < BENCH_CHASE_KINDS; k++) {
			if (!p->have[k]) {
				fprintf(out, " %-27s |", "-");
				continue;
			}
			fprintf(out, " %6.2f (%6.1f) [%5.1f-%5.1f] |",
				p->ns[k].median, p->cyc[k].median, p->ns[k].min,
				p->ns[k].max);
		}
		fprintf(out, " %6.2f\n", p->ns[BENCH_CHASE_4K].median -
			p->ns[BENCH_CHASE_DENSE].median);
	}
	fprintf(out, "  2 MiB pages backed by: %s%s%s\n", cv->huge_method,
		cv->huge_why[0] ? " -- fallback: " : "", cv->huge_why);
}

/*
 * "at least 8 MiB, less than 16 MiB (...); 6 of 7 repetitions agree,
 * spread 4 MiB-16 MiB": the confidence is the share of repetitions whose
 * own curve puts the knee there.
 */
static void print_reach(FILE *out, const char *what, const struct bench_knee *k)
{
	char a[32], b[32], lo[32], hi[32];

	if (!k->reach) {
		fprintf(out, "  inferred %s reach: not found on this curve (%u of "
			"%u repetitions agree)\n", what, k->votes, k->reps);
		return;
	}
	bench_fmt_size(k->reach, a, sizeof(a));
	bench_fmt_size(k->knee, b, sizeof(b));
	bench_fmt_size(k->reach_lo, lo, sizeof(lo));
	bench_fmt_size(k->knee_hi, hi, sizeof(hi));
	fprintf(out, "  inferred %s reach: at least %s, less than %s "
		"(%" PRIu64 "-%" PRIu64 " entries of 4 KiB); %u of %u "
		"repetitions agree (%s), all within %s-%s\n", what, a, b,
		k->reach / 4096, k->knee / 4096, k->votes, k->reps,
		k->votes * 4 >= k->reps * 3 ? "high confidence" :
		k->votes * 2 > k->reps ? "medium confidence" : "low confidence",
		lo, hi);
}

void bench_print_tlb_summary(FILE *out, const struct bench_tlb_curve *cv,
			     const struct bench_sysinfo *si)
{
	char a[32];
	unsigned i;

	print_reach(out, "L1 DTLB", &cv->l1);
	print_reach(out, "L2 TLB ", &cv->l2);
	if (cv->l1_reach && cv->huge_l1_reach == cv->l1_reach)
		fprintf(out, "  2 MiB pages: the first knee stays at the same "
			"working set, so the TLB held them as 4 KiB entries (in a VM: "
			"the hypervisor below maps this memory with 4 KiB pages); "
			"they still shorten the walk.\n");
	else if (cv->l1_reach)
		fprintf(out, "  2 MiB pages: first knee %s\n", cv->huge_l1_reach ?
			"moved (huge TLB entries in use)" : "not reached");
	bench_fmt_size(cv->walk_ws, a, sizeof(a));
	fprintf(out, "  page-walk cost at %s: %.1f ns = %.0f TSC cycles "
		"(median; IQR %.1f-%.1f ns; min %.1f max %.1f)\n", a,
		cv->walk_ns.median, cv->walk_cyc.median, cv->walk_ns.q1,
		cv->walk_ns.q3, cv->walk_ns.min, cv->walk_ns.max);
	if (!si)
		return;
	fprintf(out, "  CPUID TLB geometry (%s)%s\n", si->tlb_source,
		si->n_tlbs ? ":" : "");
	for (i = 0; i < si->n_tlbs; i++) {
		const struct bench_tlb_desc *d = &si->tlbs[i];
		uint64_t reach = (uint64_t)d->entries * 4096;
		bool l1 = d->level[1] == '1';
		uint64_t lo = l1 ? cv->l1_reach : cv->l2_reach;
		uint64_t hi = l1 ? cv->l1_knee : cv->l2_knee;

		bench_fmt_size(reach, a, sizeof(a));
		fprintf(out, "    %-5s %-12s %5u entries, %s (reach with 4 KiB "
			"pages %s)", d->level, d->pages, d->entries,
			d->ways ? "set-assoc." : "fully assoc.", a);
		/* At exactly the capacity, code and stack pages evict too. */
		if (strstr(d->pages, "4K") && lo)
			fprintf(out, ": %s the measured knee",
				reach >= lo && reach <= hi ? "consistent with" :
				"differs from");
		fputc('\n', out);
	}
}
