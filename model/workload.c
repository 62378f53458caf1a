/* SPDX-License-Identifier: MIT */
/*
 * The named workloads on the guest OS model (docs/run.md has their
 * shapes and where they come from). Sizes are at --scale 1; every random
 * choice comes from the run's seed, so one vCPU gives the same counts on
 * every run.
 */
#define _GNU_SOURCE
#include <math.h>
#include <sched.h>
#include <string.h>

#include "model/model.h"
#include "vmmu/error.h"

#define R VMMU_ACCESS_READ
#define W VMMU_ACCESS_WRITE
#define F VMMU_ACCESS_FETCH
#define PAGE VMMU_PAGE_SIZE
#define TEXT 0x400000ULL

static const struct gos_image img_sh = { 0, 16, 16, 8 };       /* a shell */
static const struct gos_image img_cc = { 1, 256, 64, 16 };     /* cc1 */
static const struct gos_image img_app = { 2, 64, 32, 16 };     /* a server */

static uint64_t scaled(const struct wl_params *w, double n)
{
	double v = floor(n * w->scale + 0.5);

	return v < 1 ? 1 : (uint64_t)v;
}

/* This vCPU's share of n units. */
static uint64_t share(const struct gos_cpu *c, uint64_t n)
{
	unsigned k = c->g->cfg.vcpus;

	return n / k + (c->id < n % k);
}

static void tick(const struct wl_params *w, uint64_t n)
{
	if (w->progress)
		atomic_fetch_add_explicit(w->progress, n, memory_order_relaxed);
}

static uint64_t seed_of(const struct gos_cpu *c, const struct wl_params *w)
{
	uint64_t s = w->seed * 0x9e3779b97f4a7c15ULL + c->id * 0xbf58476d1ce4e5b9ULL;

	return s ? s : 1;
}

void wl_wait_flag(struct gos_cpu *c, atomic_uint *flag, unsigned want)
{
	while (atomic_load(flag) < want) {
		gos_poll(c);
		sched_yield();
	}
}

/* Touch every page of [a, a + len) with kind (one access per page). */
static int touch(struct gos_cpu *c, uint64_t a, uint64_t len,
		 enum vmmu_access_kind kind)
{
	uint64_t off;
	int rc = VMMU_OK;

	for (off = 0; rc == 0 && off < len; off += PAGE)
		rc = gos_access(c, a + off, kind, kind == F ? 4 : 8);
	return rc;
}

/* A fresh program's start: its text, data and stack touched once. */
static int program_start(struct gos_cpu *c, const struct gos_image *img)
{
	struct gos_proc *p = c->cur;
	int rc = touch(c, TEXT, img->text_pages * PAGE / 4, F);

	if (rc == 0)
		rc = touch(c, TEXT + img->text_pages * PAGE,
			   img->data_pages * PAGE, W);
	if (rc == 0)
		rc = touch(c, p->stack_top - 2 * PAGE, 2 * PAGE, W);
	return rc;
}

/* ---- forkwait: Adams & Agesen 2006, 40,000 fork/wait pairs ---------- */

static uint64_t forkwait_units(const struct gos *g, const struct wl_params *w)
{
	(void)g;
	return scaled(w, 40000);
}

/* One fork/wait pair: the child writes its stack and exits at once. */
static int fork_wait(struct gos_cpu *c, struct gos_proc *parent)
{
	struct gos_proc *child;
	int rc = gos_fork(c, &child);

	if (rc == 0)
		rc = gos_switch(c, child);
	if (rc == 0)
		rc = gos_access(c, TEXT, F, 4);
	if (rc == 0)
		rc = gos_access(c, child->stack_top - 64, W, 8);
	if (rc == 0)
		rc = gos_exit(c);
	if (rc == 0)
		rc = gos_switch(c, parent);
	if (rc == 0)
		rc = gos_wait(c, child);
	if (rc == 0)        /* back in the parent: its stack is COW now */
		rc = gos_access(c, parent->stack_top - 64, W, 8);
	return rc;
}

static int forkwait_run(struct gos_cpu *c, const struct wl_params *w,
			struct wl_shared *sh)
{
	struct gos_proc *parent;
	uint64_t i, n = share(c, forkwait_units(c->g, w));
	int rc = gos_spawn(c, &img_sh, &parent);

	(void)sh;
	if (rc == 0)
		rc = program_start(c, &img_sh);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = fork_wait(c, parent);
		tick(w, 1);
	}
	return rc;
}

const struct workload wl_forkwait = {
	"forkwait", "40,000 fork/wait pairs of a small process "
	"(Adams & Agesen 2006)", false, forkwait_units, forkwait_run,
};

/* ---- kbuild: make running many short compiler processes --------------- */

#define KB_JOBS   400
#define KB_WORK   4000

static uint64_t kbuild_units(const struct gos *g, const struct wl_params *w)
{
	(void)g;
	return scaled(w, KB_JOBS);
}

/* One compiler run: exec, a heap through brk, a file mapped, work, exit. */
static int compile(struct gos_cpu *c, uint64_t *rnd)
{
	struct gos_proc *p = c->cur;
	uint64_t heap, i, r, buf;
	int rc = gos_exec(c, &img_cc);

	if (rc == 0)
		rc = program_start(c, &img_cc);
	heap = p->brk_base;
	if (rc == 0)
		rc = gos_brk(c, heap + 512 * PAGE);
	if (rc == 0)
		rc = gos_mmap(c, 16 * PAGE, GOS_R | GOS_W, false, &buf);
	if (rc == 0)
		rc = touch(c, buf, 16 * PAGE, W);
	for (i = 0; rc == 0 && i < KB_WORK; i++) {
		r = wl_rand(rnd);
		if (i % 3 == 0)     /* hot code: the first 64 pages */
			rc = gos_access(c, TEXT + (r % (64 * PAGE) & ~3ULL), F, 4);
		else
			rc = gos_access(c, heap + (r % (512 * PAGE) & ~7ULL),
					(r >> 40) % 4 ? R : W, 8);
	}
	if (rc == 0)
		rc = gos_munmap(c, buf, 16 * PAGE);
	return rc;
}

static int kbuild_run(struct gos_cpu *c, const struct wl_params *w,
		      struct wl_shared *sh)
{
	struct gos_proc *make, *child;
	uint64_t i, n = share(c, kbuild_units(c->g, w)), rnd = seed_of(c, w);
	int rc = gos_spawn(c, &img_sh, &make);

	(void)sh;
	if (rc == 0)
		rc = program_start(c, &img_sh);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = gos_fork(c, &child);
		if (rc == 0)
			rc = gos_switch(c, child);
		if (rc == 0)
			rc = compile(c, &rnd);
		if (rc == 0)
			rc = gos_exit(c);
		if (rc == 0)
			rc = gos_switch(c, make);
		if (rc == 0)
			rc = gos_wait(c, child);
		if (rc == 0)
			rc = gos_access(c, make->stack_top - 64, W, 8);
		tick(w, 1);
	}
	return rc;
}

const struct workload wl_kbuild = {
	"kbuild", "make forking 400 short compiler processes (exec, brk, "
	"mmap, 4,000 accesses each)", false, kbuild_units, kbuild_run,
};

/* ---- the threaded workloads: one process, a thread per vCPU ----------- */

/* vCPU 0 starts the process and maps its heap; the others join it. */
static int join_process(struct gos_cpu *c, struct wl_shared *sh,
			uint64_t heap_len, bool huge)
{
	int rc = VMMU_OK;

	if (c->id == 0) {
		rc = gos_spawn(c, &img_app, &sh->proc);
		if (rc == 0)
			rc = program_start(c, &img_app);
		if (rc == 0)
			rc = gos_mmap(c, heap_len, GOS_R | GOS_W, huge, &sh->heap);
		sh->heap_len = heap_len;
		atomic_store(&sh->ready, rc == 0 ? 1 : 2);
		return rc;
	}
	wl_wait_flag(c, &sh->ready, 1);
	if (atomic_load(&sh->ready) != 1)
		return VMMU_EINVAL;
	return gos_switch(c, sh->proc);
}

/*
 * Setup (the heap's first touch) is not measured, as the benchmarks
 * themselves time only their loop: every vCPU arrives here, vCPU 0 zeroes
 * the counters while the others wait, then all go on. rc: this vCPU's
 * setup result (a failed vCPU still arrives).
 */
static int measure_start(struct gos_cpu *c, struct wl_shared *sh, int rc)
{
	atomic_fetch_add(&sh->arrived, 1);
	if (c->id == 0) {
		wl_wait_flag(c, &sh->arrived, c->g->cfg.vcpus);
		gos_reset_counts(c->g);
		atomic_store(&sh->go, 1);
	} else {
		wl_wait_flag(c, &sh->go, 1);
	}
	return rc;
}

/* This vCPU's slice of the heap touched (written) once. */
static int heap_init(struct gos_cpu *c, const struct wl_shared *sh, int rc)
{
	uint64_t pages = sh->heap_len / PAGE, k = c->g->cfg.vcpus;
	uint64_t lo = pages * c->id / k, hi = pages * (c->id + 1) / k;

	if (rc < 0)
		return rc;
	return touch(c, sh->heap + lo * PAGE, (hi - lo) * PAGE, W);
}

static uint64_t heap_size(const struct gos *g, uint64_t want)
{
	uint64_t cap = g->cfg.mem / 4;

	return want < cap ? want : cap;
}

/* ---- gups: random read-modify-write updates (HPCC RandomAccess) ------- */

#define GUPS_HEAP  (64ULL << 20)
#define GUPS_UPD   1000000.0

static uint64_t gups_units(const struct gos *g, const struct wl_params *w)
{
	(void)g;
	return scaled(w, GUPS_UPD) / 1024 + 1;
}

static int gups_run(struct gos_cpu *c, const struct wl_params *w,
		    struct wl_shared *sh)
{
	uint64_t len = heap_size(c->g, GUPS_HEAP), rnd = seed_of(c, w), i, a;
	uint64_t n = share(c, scaled(w, GUPS_UPD));
	int rc = join_process(c, sh, len, c->g->cfg.page_order != 0);

	rc = measure_start(c, sh, heap_init(c, sh, rc));
	for (i = 0; rc == 0 && i < n; i++) {
		a = sh->heap + (wl_rand(&rnd) % sh->heap_len & ~7ULL);
		rc = gos_access(c, a, R, 8);
		if (rc == 0)
			rc = gos_access(c, a, W, 8);
		if ((i & 1023) == 1023)
			tick(w, 1);
	}
	return rc;
}

const struct workload wl_gups = {
	"gups", "1,000,000 random 8-byte updates over a 64 MiB heap "
	"(HPCC RandomAccess)", true, gups_units, gups_run,
};

/* ---- stream: the STREAM triad, sequential ----------------------------- */

#define ST_ARRAY (8ULL << 20)

static uint64_t stream_passes(const struct wl_params *w)
{
	return scaled(w, 2);
}

static uint64_t stream_units(const struct gos *g, const struct wl_params *w)
{
	(void)g;
	return stream_passes(w) * (ST_ARRAY / 8 / 1024);
}

static int stream_run(struct gos_cpu *c, const struct wl_params *w,
		      struct wl_shared *sh)
{
	uint64_t len = heap_size(c->g, 3 * ST_ARRAY) / 3 & ~(PAGE - 1);
	uint64_t n = len / 8, lo, hi, i, pass, k = c->g->cfg.vcpus;
	int rc = join_process(c, sh, 3 * len, c->g->cfg.page_order != 0);

	rc = measure_start(c, sh, heap_init(c, sh, rc));
	lo = n * c->id / k;
	hi = n * (c->id + 1) / k;
	for (pass = 0; rc == 0 && pass < stream_passes(w); pass++) {
		for (i = lo; rc == 0 && i < hi; i++) {  /* c = a + s * b */
			if ((i & 7) == 0)
				rc = gos_access(c, TEXT + 0x100, F, 4);
			if (rc == 0)
				rc = gos_access(c, sh->heap + i * 8, R, 8);
			if (rc == 0)
				rc = gos_access(c, sh->heap + len + i * 8, R, 8);
			if (rc == 0)
				rc = gos_access(c, sh->heap + 2 * len + i * 8, W, 8);
			if ((i & 1023) == 1023)
				tick(w, 1);
		}
	}
	return rc;
}

const struct workload wl_stream = {
	"stream", "STREAM triad over three 8 MiB arrays, 2 passes",
	true, stream_units, stream_run,
};

/* ---- redis-like: a hash table with a hot key set ---------------------- */

#define RD_BUCKETS (1ULL << 20)         /* 8 MiB of bucket pointers */
#define RD_SLABS   32                   /* value slabs of 1 MiB */
#define RD_SLAB    (1ULL << 20)
#define RD_OPS     1000000.0
#define RD_EVICT   25000                /* ops between slab recycling */

static uint64_t redis_units(const struct gos *g, const struct wl_params *w)
{
	(void)g;
	return scaled(w, RD_OPS) / 1024 + 1;
}

struct rd_state {
	uint64_t slab[RD_SLABS];
};

static struct rd_state rd_slabs[GOS_MAX_VCPUS];

/* Each vCPU owns its slabs; recycling one is munmap + mmap (shootdowns). */
static int rd_recycle(struct gos_cpu *c, struct rd_state *s, unsigned i)
{
	int rc = VMMU_OK;

	if (s->slab[i])
		rc = gos_munmap(c, s->slab[i], RD_SLAB);
	if (rc == 0)
		rc = gos_mmap(c, RD_SLAB, GOS_R | GOS_W, false, &s->slab[i]);
	return rc;
}

static int rd_op(struct gos_cpu *c, const struct wl_shared *sh,
		 const struct rd_state *s, uint64_t r)
{
	uint64_t key = (r & 15) < 14 ? (r >> 8) % 10000 : (r >> 8) % 1000000;
	uint64_t h = key * 0x9e3779b97f4a7c15ULL;
	uint64_t bucket = sh->heap + (h >> 44) % RD_BUCKETS * 8;
	uint64_t val = s->slab[(h >> 20) % RD_SLABS] + (h >> 30) % (RD_SLAB / 64) * 64;
	int rc = gos_access(c, TEXT + (r >> 50) % (16 * PAGE) / 4 * 4, F, 4);

	if (rc == 0)
		rc = gos_access(c, bucket, R, 8);
	if (rc == 0)
		rc = gos_access(c, val, (r >> 4) % 5 ? R : W, 8);
	if (rc == 0)
		rc = gos_access(c, val + 8, (r >> 4) % 5 ? R : W, 8);
	return rc;
}

static int redis_run(struct gos_cpu *c, const struct wl_params *w,
		     struct wl_shared *sh)
{
	struct rd_state *s = &rd_slabs[c->id];
	uint64_t rnd = seed_of(c, w), i, n = share(c, scaled(w, RD_OPS));
	unsigned j;
	int rc = join_process(c, sh, heap_size(c->g, RD_BUCKETS * 8), false);

	memset(s, 0, sizeof(*s));
	for (j = 0; rc == 0 && j < RD_SLABS; j++)
		rc = rd_recycle(c, s, j);
	rc = measure_start(c, sh, heap_init(c, sh, rc));
	for (i = 0; rc == 0 && i < n; i++) {
		rc = rd_op(c, sh, s, wl_rand(&rnd));
		if (rc == 0 && i % RD_EVICT == RD_EVICT - 1)
			rc = rd_recycle(c, s, (unsigned)(i / RD_EVICT % RD_SLABS));
		if ((i & 1023) == 1023)
			tick(w, 1);
	}
	return rc;
}

const struct workload wl_redis = {
	"redis-like", "1,000,000 GET/SET on a hash table, 88% on 10,000 hot "
	"keys, value slabs recycled by munmap/mmap", true, redis_units,
	redis_run,
};

const struct workload *const run_workloads[] = {
	&wl_forkwait, &wl_kbuild, &wl_gups, &wl_stream, &wl_redis, NULL,
};

const struct workload *run_workload_find(const char *name)
{
	unsigned i;

	for (i = 0; run_workloads[i]; i++)
		if (!strcmp(run_workloads[i]->name, name))
			return run_workloads[i];
	return NULL;
}
