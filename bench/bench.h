/* SPDX-License-Identifier: MIT */
/*
 * Real-hardware measurement: TLB-miss latency (native, per page size and
 * core kind) and VM-exit costs through KVM. Hosted (Linux, x86-64).
 *
 * Every figure comes with its spread over repetitions (struct bench_stats)
 * in nanoseconds and in TSC cycles. The TSC frequency is calibrated against
 * CLOCK_MONOTONIC_RAW (struct bench_clock), never taken from a table.
 */
#ifndef VMMU_BENCH_H
#define VMMU_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <getopt.h>
#include <jansson.h>

/* ---- statistics and clocks (stats.c) ---- */

struct bench_stats {
	double median, min, max, q1, q3;
	unsigned n;
};

/* Sorts samples in place; n == 0 gives all zeros. */
void bench_stats_of(double *samples, unsigned n, struct bench_stats *out);
/* Every field of s multiplied by k (unit conversion). */
void bench_stats_scale(const struct bench_stats *s, double k,
		       struct bench_stats *out);
json_t *bench_stats_json(const struct bench_stats *s);

struct bench_clock {
	double tsc_hz;          /* calibrated TSC frequency */
	double tsc_hz_spread;   /* max - min over the calibration runs */
};

int bench_clock_calibrate(struct bench_clock *c, bool quick);
uint64_t bench_now_ns(void);

static inline uint64_t bench_rdtsc(void)
{
	uint32_t lo, hi;

	/* lfence orders rdtsc after the preceding loads (SDM Vol. 2B RDTSC). */
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Progress lines on stderr ("vmmu bench: ..."); silent when quiet. */
struct bench_progress {
	bool quiet;
	const char *prog;
};
void bench_progress(const struct bench_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- machine description (sysinfo.c) ---- */

#define BENCH_MAX_TLBS 16

/* One TLB as a CPUID leaf describes it. */
struct bench_tlb_desc {
	char level[8];          /* "L1D", "L1I", "L2", "STLB" */
	char pages[24];         /* "4K", "2M/4M", "4K/2M", "1G" ... */
	unsigned entries;       /* 0: unknown */
	unsigned ways;          /* 0: fully associative or unknown */
};

struct bench_sysinfo {
	char cpu_vendor[16];
	char cpu_brand[64];
	char cpu_name[128];     /* vmmu_cpu_name(): uarch (libcpuid: ...) */
	char cpu_uarch[32];     /* vmmu's microarchitecture, "" unknown */
	char cpu_codename[64];  /* libcpuid's, only where consistent */
	int family, model, stepping;
	char kernel_release[80];
	char kernel_version[128];
	char machine[72];
	char host_hypervisor[16];       /* CPUID 0x40000000 signature, "" if none */
	/* TLB geometry from CPUID (leaf 0x18, leaf 2, or 0x80000005/6). */
	char tlb_source[128];           /* which leaf, or why none */
	unsigned n_tlbs;
	struct bench_tlb_desc tlbs[BENCH_MAX_TLBS];
};

void bench_sysinfo_get(struct bench_sysinfo *s);
json_t *bench_sysinfo_json(const struct bench_sysinfo *s);

/* ---- memory with a chosen page size (hugemem.c) ---- */

enum bench_page { BENCH_PAGE_4K, BENCH_PAGE_2M };

struct bench_mem {
	uint8_t *base;          /* 2 MiB aligned */
	size_t size;
	void *map;              /* what mmap returned */
	size_t map_size;
	enum bench_page want;
	bool huge;              /* huge pages verified in /proc/self/smaps */
	size_t huge_bytes;      /* AnonHugePages (or hugetlb) bytes in range */
	char method[24];        /* "4k", "thp", "hugetlbfs", "4k-fallback" */
	char why[200];          /* reason for a fallback */
};

/*
 * Map size bytes (rounded up to 2 MiB) and fault every page in. For
 * BENCH_PAGE_2M: transparent huge pages via madvise, checked through
 * /proc/self/smaps, then MAP_HUGETLB; else 4 KiB pages with m->why set.
 * touch == false leaves the memory untouched (the caller faults it).
 */
int bench_mem_alloc(struct bench_mem *m, size_t size, enum bench_page page,
		    bool touch);
void bench_mem_free(struct bench_mem *m);
/* AnonHugePages + hugetlb bytes of the mapping that covers [addr, addr+len). */
size_t bench_mem_huge_bytes(const void *addr, size_t len);

/* ---- pointer chase (chase.c) ---- */

enum bench_chase { BENCH_CHASE_4K, BENCH_CHASE_2M, BENCH_CHASE_DENSE,
		   BENCH_CHASE_KINDS };
extern const char *const bench_chase_name[BENCH_CHASE_KINDS];

/*
 * Build a random cyclic chain of n nodes in buf. sparse: one node per
 * 4 KiB page (line offset varied per page so no cache set is favoured);
 * otherwise one node per 64-byte line, packed. addr_base is the address
 * the chain will be read at (the same as buf natively, a guest-virtual
 * address in a guest). Returns the address of the first node.
 */
uint64_t bench_chase_build(uint8_t *buf, uint64_t addr_base, uint64_t n,
			   bool sparse, uint64_t seed);
/* Iterations of bench_chase_run for at least max(n, min_accesses) loads. */
uint64_t bench_chase_iters(uint64_t n, uint64_t min_accesses);
/* Follow the chain from start for iters*8 loads; returns the last node. */
uint64_t bench_chase_run(uint64_t start, uint64_t iters);

/* ---- native TLB benchmark (tlb.c) ---- */

#define BENCH_MAX_POINTS 64
#define BENCH_MAX_KINDS 4
#define BENCH_MAX_REPS 31

struct bench_tlb_point {
	uint64_t ws;                            /* working set, bytes */
	struct bench_stats ns[BENCH_CHASE_KINDS];       /* per access */
	struct bench_stats cyc[BENCH_CHASE_KINDS];
	bool have[BENCH_CHASE_KINDS];
	double raw_ns[BENCH_CHASE_KINDS][BENCH_MAX_REPS];  /* rep order */
	double raw_cyc[BENCH_CHASE_KINDS][BENCH_MAX_REPS];
};

/*
 * One inferred knee, voted on by the repetitions: the reach lies in
 * [reach, knee) for votes of reps repetitions; over all repetitions the
 * knees spread over [reach_lo, knee_hi). 0 when not found.
 */
struct bench_knee {
	uint64_t reach, knee, reach_lo, knee_hi;
	unsigned votes, reps;
};

/* Where the page-walk cost is read: a fixed point, whatever the range. */
#define BENCH_WALK_WS (256ull << 20)
/* The working sets the cost profile holds, whatever the options. */
#define BENCH_PROFILE_MIN_WS 8192ull
#define BENCH_PROFILE_MAX_WS BENCH_WALK_WS

struct bench_tlb_curve {
	unsigned n;
	struct bench_tlb_point pt[BENCH_MAX_POINTS];
	char huge_method[24];           /* how the 2M curve was backed */
	char huge_why[200];             /* fallback reason, "" if none */
	/*
	 * Inferred from the knees of (4K - dense); 0 when not found. The
	 * reach lies in [reach, knee): the last point before the step and
	 * the first point on it.
	 */
	uint64_t l1_reach, l2_reach, l1_knee, l2_knee;
	struct bench_knee l1, l2;       /* the same, with votes and spread */
	/* The same first knee on (2M - dense): equal to l1_reach when the
	 * TLB holds 2 MiB pages as 4 KiB entries. */
	uint64_t huge_l1_reach;
	/* Page-walk cost: (4K - dense) at BENCH_WALK_WS (or the largest
	 * working set below it). */
	struct bench_stats walk_ns, walk_cyc;
	uint64_t walk_ws;               /* working set it was taken at */
};

struct bench_tlb_kind {
	int kind;                       /* hwloc cpukind index, -1 none */
	int efficiency;                 /* hwloc efficiency, -1 unknown */
	char kind_name[48];             /* e.g. "IntelAtom" / "IntelCore" / "" */
	int pu;                         /* OS index of the PU used */
	struct bench_tlb_curve curve;
};

struct bench_tlb_opts {
	bool quick;
	unsigned reps;                  /* 0: default */
	uint64_t min_ws, max_ws;        /* 0: defaults */
	struct bench_progress progress;
};

struct bench_tlb_result {
	unsigned n_kinds;
	struct bench_tlb_kind kinds[BENCH_MAX_KINDS];
	uint64_t max_ws;
	char pinning[128];              /* how threads were pinned */
};

/*
 * Where a chase runs (natively, inside a guest): prepare builds the chain
 * of a kind for a working set (allocating on the first call for a kind;
 * the chains of all kinds live at once), measure runs one warm-up lap and
 * times one repetition, finish releases what prepare took for the kind.
 * Each returns 0 or a negative vmmu_err.
 */
struct bench_chase_target {
	void *ctx;
	int (*prepare)(void *ctx, enum bench_chase kind, uint64_t ws,
		       uint64_t max_ws);
	int (*measure)(void *ctx, enum bench_chase kind, uint64_t ws,
		       double *ns, double *cyc);
	void (*finish)(void *ctx, enum bench_chase kind);
	/* Filled by prepare for BENCH_CHASE_2M: how it is backed. */
	char huge_method[24];
	char huge_why[200];
};

/* Run every kind over the working sets; fills cv (points, then analysis). */
int bench_curve_run(struct bench_chase_target *t, const uint64_t *ws,
		    unsigned n_ws, unsigned reps,
		    const struct bench_progress *p, const char *label,
		    struct bench_tlb_curve *cv);

/* Working sets from min to max, two per octave (one in quick mode). */
unsigned bench_working_sets(uint64_t min, uint64_t max, bool quick,
			    uint64_t *out, unsigned cap);
/* Default upper bound: 4 GiB, less if MemAvailable is short. */
uint64_t bench_default_max_ws(bool quick);
/* MemAvailable from /proc/meminfo in bytes; 0 when it cannot be read. */
uint64_t bench_mem_available(void);

int bench_tlb_run(const struct bench_tlb_opts *o,
		  struct bench_tlb_result *r);
/* Fill the reach and walk-cost fields from the points. */
void bench_tlb_analyse(struct bench_tlb_curve *cv);
/* out = the points of cv with lo <= ws <= hi, analysed on their own. */
void bench_tlb_curve_window(const struct bench_tlb_curve *cv, uint64_t lo,
			    uint64_t hi, struct bench_tlb_curve *out);
json_t *bench_tlb_curve_json(const struct bench_tlb_curve *cv);
json_t *bench_tlb_json(const struct bench_tlb_result *r);
/*
 * The profile's "tlb" section: the same, restricted to the profile's
 * working sets (BENCH_PROFILE_MIN_WS..MAX_WS) and analysed on them alone.
 */
json_t *bench_tlb_profile_json(const struct bench_tlb_result *r);

/* ---- options and the cost profile (profile.c) ---- */

#define BENCH_PROFILE_SCHEMA "vmmu-cost-profile"
/* 0 when path is a regular file or does not exist yet (it may be replaced). */
/*
 * Whether --profile PATH may be written: a vmmu cost profile (its
 * "schema"), or a new file in a writable directory. 0, or a vmmu_err with
 * the reason in err.
 */
int bench_profile_path_ok(const char *path, char *err, size_t errlen);
/* Whether --plot DIR can take the plots: created when missing. */
int bench_plot_dir_ok(const char *dir, char *err, size_t errlen);

/* The largest SIZE option accepted: 1 TiB. */
#define BENCH_MAX_SIZE (1ull << 40)
/* "4096", "8K", "256M", "4G", "4GiB" up to BENCH_MAX_SIZE; 0 or VMMU_EPARSE. */
int bench_parse_size(const char *s, uint64_t *out);
int bench_parse_count(const char *s, unsigned min, unsigned max, unsigned *out);
/*
 * Set section of the profile at path to value (a new reference is taken),
 * keeping the other sections when the file is a version-1 profile of the
 * same CPU. Writes atomically. 0 or VMMU_EIO (reason on stderr).
 */
int bench_profile_update(const char *path, const char *section,
			 json_t *value, const struct bench_sysinfo *si,
			 const struct bench_clock *clk,
			 const struct bench_progress *p);

/* ---- options every `vmmu bench KIND` takes (options.c) ---- */

struct bench_common_opts {
	bool quick, json;
	unsigned reps;                  /* 0: the benchmark's default */
	const char *plot_dir, *profile;
	struct bench_progress progress;
};

/* getopt_long values of the common options; a KIND's own start at OWN. */
enum { BENCH_OPT_QUICK = 256, BENCH_OPT_REPS, BENCH_OPT_JSON, BENCH_OPT_PLOT,
       BENCH_OPT_PROFILE, BENCH_OPT_QUIET, BENCH_OPT_OWN };

/* A KIND's own option ch with its argument: 0, or -1 for a bad value. */
typedef int (*bench_option_fn)(int ch, const char *arg, void *ctx);

/*
 * Parse --quick --reps --json --plot --profile --quiet --help and the
 * options in own (NULL-name terminated, may be NULL). Returns 0, 1 for
 * --help (the caller prints its manual), -1 for bad usage (a message
 * naming the problem is already on stderr).
 */
int bench_parse_args(int argc, char **argv, const char *prog,
		     const struct option *own, bench_option_fn own_fn,
		     void *ctx, struct bench_common_opts *c);

/* Describe the machine and calibrate the TSC; a failure is on stderr. */
int bench_machine(const struct bench_progress *p, bool quick,
		  struct bench_sysinfo *si, struct bench_clock *clk);

/* ---- plots through gnuplot (plot.c) ---- */

/* DIR/tlb_native.png: latency vs working set per page size, per kind. */
int bench_plot_tlb(const char *dir, const struct bench_tlb_result *r,
		   const struct bench_progress *p);
/*
 * Latency curves of up to 4 labelled curves in one plot: DIR/NAME.png
 * (with DIR/NAME.dat and DIR/NAME.gp beside it).
 */
int bench_plot_curves(const char *dir, const char *name, const char *title,
		      const struct bench_tlb_curve *const *cv,
		      const char *const *labels, unsigned n,
		      const struct bench_progress *p);

/* Bars with min-max error bars, log y axis: DIR/NAME.png. */
int bench_plot_bars(const char *dir, const char *name, const char *title,
		    const char *const *labels, const struct bench_stats *s,
		    unsigned n, const char *ylabel,
		    const struct bench_progress *p);

/* ---- human-readable output (report.c) ---- */

void bench_fmt_size(uint64_t bytes, char *buf, size_t len);
void bench_print_curve(FILE *out, const struct bench_tlb_curve *cv);
/* Reach, walk cost, and the CPUID TLB geometry when si is given. */
void bench_print_tlb_summary(FILE *out, const struct bench_tlb_curve *cv,
			     const struct bench_sysinfo *si);

#endif
