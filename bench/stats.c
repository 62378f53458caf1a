/* SPDX-License-Identifier: MIT */
/* Statistics over repetitions, TSC calibration and progress output. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmmu/error.h"
#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Linear interpolation between order statistics (the "type 7" quantile). */
static double quantile(const double *sorted, unsigned n, double q)
{
	double pos = q * (double)(n - 1);
	unsigned i = (unsigned)pos;
	double frac = pos - (double)i;

	if (i + 1 >= n)
		return sorted[n - 1];
	return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

void bench_stats_of(double *samples, unsigned n, struct bench_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return;
	qsort(samples, n, sizeof(*samples), cmp_double);
	out->n = n;
	out->min = samples[0];
	out->max = samples[n - 1];
	out->median = quantile(samples, n, 0.5);
	out->q1 = quantile(samples, n, 0.25);
	out->q3 = quantile(samples, n, 0.75);
}

void bench_stats_scale(const struct bench_stats *s, double k,
		       struct bench_stats *out)
{
	out->n = s->n;
	out->median = s->median * k;
	out->min = s->min * k;
	out->max = s->max * k;
	out->q1 = s->q1 * k;
	out->q3 = s->q3 * k;
}

json_t *bench_stats_json(const struct bench_stats *s)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f, s:i}",
			 "median", s->median, "min", s->min, "max", s->max,
			 "q1", s->q1, "q3", s->q3, "n", (json_int_t)s->n);
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Count TSC ticks across a busy-wait of the given length on
 * CLOCK_MONOTONIC_RAW. Reading both clocks back to back at each end bounds
 * the error by one clock_gettime call (tens of ns) over tens of ms.
 */
static double tsc_hz_once(uint64_t span_ns)
{
	uint64_t t0 = bench_now_ns(), c0 = bench_rdtsc();
	uint64_t t1, c1;

	do {
		t1 = bench_now_ns();
	} while (t1 - t0 < span_ns);
	c1 = bench_rdtsc();
	return (double)(c1 - c0) * 1e9 / (double)(t1 - t0);
}

int bench_clock_calibrate(struct bench_clock *c, bool quick)
{
	double hz[5];
	unsigned i, n = 5;
	struct bench_stats s;

	for (i = 0; i < n; i++)
		hz[i] = tsc_hz_once(quick ? 10000000ull : 50000000ull);
	bench_stats_of(hz, n, &s);
	c->tsc_hz = s.median;
	c->tsc_hz_spread = s.max - s.min;
	return c->tsc_hz > 1e6 ? VMMU_OK : VMMU_EIO;
}

void bench_progress(const struct bench_progress *p, const char *fmt, ...)
{
	va_list ap;

	if (p->quiet)
		return;
	fprintf(stderr, "vmmu %s: ", p->prog ? p->prog : "bench");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
