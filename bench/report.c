/* SPDX-License-Identifier: MIT */
/* Human-readable tables for the benchmark results. */
#include <inttypes.h>
#include <stdio.h>

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

void bench_print_tlb_summary(FILE *out, const struct bench_tlb_curve *cv,
			     const struct bench_sysinfo *si)
{
	char a[32], b[32];
	unsigned i;

	bench_fmt_size(cv->l1_reach, a, sizeof(a));
	bench_fmt_size(cv->l2_reach, b, sizeof(b));
	fprintf(out, "  inferred L1 DTLB reach: %s (%" PRIu64 " 4 KiB entries)%s\n",
		cv->l1_reach ? a : "not found", cv->l1_reach / 4096,
		cv->l1_reach ? "" : "");
	fprintf(out, "  inferred L2 TLB reach:  %s (%" PRIu64 " 4 KiB entries)\n",
		cv->l2_reach ? b : "not found", cv->l2_reach / 4096);
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
		bench_fmt_size((uint64_t)si->tlbs[i].entries * 4096, a, sizeof(a));
		fprintf(out, "    %-5s %-12s %5u entries, %s (reach with 4 KiB "
			"pages %s)\n", si->tlbs[i].level, si->tlbs[i].pages,
			si->tlbs[i].entries, si->tlbs[i].ways ? "set-assoc." :
			"fully assoc.", a);
	}
}
