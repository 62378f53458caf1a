/* SPDX-License-Identifier: MIT */
/*
 * The hosted arena (include/vmmu/hosted.h).
 *
 * Address space: page frame numbers (pfn) 1 .. npages-1 of one reserved
 * mapping; pfn 0 is never handed out. Pages below `next` have been part of
 * some block; pages from `next` on have never been touched.
 *
 * Free memory is kept in one free list per order: a stack of extents, each
 * `n` consecutive naturally aligned blocks of that order. A request of
 * order k takes, in this order: a block from list k; a block from the
 * smallest non-empty list above k, split into the requested block and one
 * free block of each order k .. j-1; fresh space at `next`, aligned up, the
 * alignment gap going to the free lists as naturally aligned blocks.
 * Free blocks are not merged again.
 *
 * Zeroing: a free block of order >= MADV_MIN_ORDER is zero (never touched,
 * or released with MADV_DONTNEED when freed, so it re-zeroes lazily); a
 * smaller free block may hold old data and is cleared when handed out.
 *
 * Bookkeeping: two bits per page (allocated, head of its block) in bitmap
 * chunks of CHUNK_PAGES pages, allocated when a block first lands in them.
 * A block never crosses a chunk (blocks are at most 2^CHUNK_SHIFT pages and
 * naturally aligned), so every per-block bitmap operation stays in one chunk.
 * Invariant: [pfn, pfn + 2^k) is a live block iff head(pfn), allocated over
 * the whole range, no head inside it, and the page after it is a head or
 * not allocated (or in another chunk).
 *
 * Threads: alloc_pages and free_pages take the arena's lock (VMs on one
 * arena may run on different threads); map takes none, it reads `next`,
 * the chunk pointers and the bitmaps with atomic loads, which the
 * allocator publishes with atomic stores.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/membarrier.h>

#include "vmmu/error.h"
#include "vmmu/hosted.h"

#define CHUNK_SHIFT     VMMU_HOSTED_MAX_ORDER
#define CHUNK_PAGES     (1ULL << CHUNK_SHIFT)
#define CHUNK_WORDS     (CHUNK_PAGES / 64)
#define MADV_MIN_ORDER  VMMU_ORDER_2M
#define NORDERS         (VMMU_HOSTED_MAX_ORDER + 1)

struct chunk {
	uint64_t allocated[CHUNK_WORDS];
	uint64_t head[CHUNK_WORDS];
};

struct extent {
	uint64_t pfn;           /* first block */
	uint64_t n;             /* consecutive blocks of the list's order */
};

struct free_list {
	struct extent *v;
	uint64_t len, cap;
};

struct vmmu_hosted_arena {
	uint8_t *base;
	uint64_t npages;        /* capacity, including the reserved page 0 */
	uint64_t next;          /* first never-used page */
	struct chunk **chunks;  /* npages / CHUNK_PAGES, rounded up; lazily */
	uint64_t nchunks;
	struct free_list free[NORDERS];
	uint64_t in_use;        /* 4 KiB pages in live blocks (atomic) */
	pthread_mutex_t lock;   /* the allocator's state above */
};

int vmmu_hosted_create(uint64_t max_bytes, struct vmmu_hosted_arena **out)
{
	struct vmmu_hosted_arena *a;

	if (!out || max_bytes < 2 * VMMU_PAGE_SIZE)
		return VMMU_EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return VMMU_ENOMEM;
	a->npages = max_bytes >> VMMU_PAGE_SHIFT;
	a->nchunks = (a->npages + CHUNK_PAGES - 1) >> CHUNK_SHIFT;
	a->chunks = calloc(a->nchunks, sizeof(*a->chunks));
	/* Reserve only: pages are faulted in on first use. */
	a->base = mmap(NULL, a->npages << VMMU_PAGE_SHIFT, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!a->chunks || a->base == MAP_FAILED) {
		if (a->base != MAP_FAILED)
			munmap(a->base, a->npages << VMMU_PAGE_SHIFT);
		free(a->chunks);
		free(a);
		return VMMU_ENOMEM;
	}
	a->next = 1;
	pthread_mutex_init(&a->lock, NULL);
	*out = a;
	return VMMU_OK;
}

void vmmu_hosted_destroy(struct vmmu_hosted_arena *a)
{
	uint64_t i;

	if (!a)
		return;
	munmap(a->base, a->npages << VMMU_PAGE_SHIFT);
	for (i = 0; i < a->nchunks; i++)
		free(a->chunks[i]);
	for (i = 0; i < NORDERS; i++)
		free(a->free[i].v);
	pthread_mutex_destroy(&a->lock);
	free(a->chunks);
	free(a);
}

/* Set or clear bits first .. first+n-1 of one chunk's bitmap. */
static void bits_set(uint64_t *w, uint64_t first, uint64_t n, bool on)
{
	while (n) {
		uint64_t bit = first % 64, take = 64 - bit < n ? 64 - bit : n;
		uint64_t mask = (take == 64 ? ~0ULL : (1ULL << take) - 1) << bit;

		/* atomic: hosted_map reads these without the allocator's
		 * caller's lock (a vCPU's walk beside a table split) */
		if (on)
			__atomic_fetch_or(&w[first / 64], mask, __ATOMIC_RELAXED);
		else
			__atomic_fetch_and(&w[first / 64], ~mask, __ATOMIC_RELAXED);
		first += take;
		n -= take;
	}
}

/* True iff every bit first .. first+n-1 equals want. */
static bool bits_all(const uint64_t *w, uint64_t first, uint64_t n, bool want)
{
	while (n) {
		uint64_t bit = first % 64, take = 64 - bit < n ? 64 - bit : n;
		uint64_t mask = (take == 64 ? ~0ULL : (1ULL << take) - 1) << bit;
		uint64_t got = __atomic_load_n(&w[first / 64], __ATOMIC_RELAXED) &
			       mask;

		if (got != (want ? mask : 0))
			return false;
		first += take;
		n -= take;
	}
	return true;
}

static struct chunk *chunk_of(const struct vmmu_hosted_arena *a, uint64_t pfn)
{
	return __atomic_load_n(&a->chunks[pfn >> CHUNK_SHIFT], __ATOMIC_ACQUIRE);
}

static struct chunk *chunk_get(struct vmmu_hosted_arena *a, uint64_t pfn)
{
	struct chunk **c = &a->chunks[pfn >> CHUNK_SHIFT];

	if (!*c)    /* published for hosted_map's lock-free chunk_of */
		__atomic_store_n(c, calloc(1, sizeof(**c)), __ATOMIC_RELEASE);
	return *c;
}

/* Room for `extra` more extents in l; 0 or VMMU_ENOMEM. */
static int fl_reserve(struct free_list *l, uint64_t extra)
{
	uint64_t cap = l->cap ? l->cap : 16;
	struct extent *v;

	if (l->len + extra <= l->cap)
		return VMMU_OK;
	while (cap < l->len + extra)
		cap *= 2;
	v = realloc(l->v, cap * sizeof(*v));
	if (!v)
		return VMMU_ENOMEM;
	l->v = v;
	l->cap = cap;
	return VMMU_OK;
}

/*
 * Push block pfn of the given order. Joined to the top extent when adjacent
 * (a block just below it becomes the one popped next: freed pages are
 * reused last in, first out). 0 or VMMU_ENOMEM (nothing changed).
 */
static int fl_push(struct vmmu_hosted_arena *a, unsigned order, uint64_t pfn)
{
	struct free_list *l = &a->free[order];
	struct extent *top = l->len ? &l->v[l->len - 1] : NULL;
	uint64_t n = 1ULL << order;

	if (top && top->pfn == pfn + n) {
		top->pfn = pfn;
		top->n++;
		return VMMU_OK;
	}
	if (top && top->pfn + (top->n << order) == pfn) {
		top->n++;
		return VMMU_OK;
	}
	if (fl_reserve(l, 1) < 0)
		return VMMU_ENOMEM;
	l->v[l->len].pfn = pfn;
	l->v[l->len].n = 1;
	l->len++;
	return VMMU_OK;
}

/* Remove the first block of the top extent of list `order`. */
static void fl_pop(struct vmmu_hosted_arena *a, unsigned order)
{
	struct free_list *l = &a->free[order];
	struct extent *top = &l->v[l->len - 1];

	top->pfn += 1ULL << order;
	if (--top->n == 0)
		l->len--;
}

/*
 * Give never-used pages from .. to-1 to the free lists as naturally aligned
 * blocks, largest first. A block whose push fails is simply never used:
 * it was never touched, so it costs address space only.
 */
static void give_gap(struct vmmu_hosted_arena *a, uint64_t from, uint64_t to)
{
	while (from < to) {
		unsigned o = VMMU_HOSTED_MAX_ORDER;

		while (o && ((from & ((1ULL << o) - 1)) || from + (1ULL << o) > to))
			o--;
		(void)fl_push(a, o, from);
		from += 1ULL << o;
	}
}

/* The free list a request of this order takes from, or -1 for fresh space. */
static int pick_source(const struct vmmu_hosted_arena *a, unsigned order)
{
	unsigned j;

	for (j = order; j < NORDERS; j++)
		if (a->free[j].len)
			return (int)j;
	return -1;
}

/* Take a block of `order` pages at *pfn_out; see the file comment. */
static int arena_take(struct vmmu_hosted_arena *a, unsigned order,
		      uint64_t *pfn_out)
{
	uint64_t n = 1ULL << order, pfn;
	int src = pick_source(a, order);
	unsigned j;

	if (src < 0) {
		pfn = (a->next + n - 1) & ~(n - 1);
		if (pfn >= a->npages || a->npages - pfn < n)
			return VMMU_ENOMEM;
	} else {
		pfn = a->free[src].v[a->free[src].len - 1].pfn;
	}
	/* Everything that can fail comes before the first change. */
	if (!chunk_get(a, pfn))
		return VMMU_ENOMEM;
	for (j = order; src >= 0 && j < (unsigned)src; j++)
		if (fl_reserve(&a->free[j], 1) < 0)
			return VMMU_ENOMEM;
	if (src < 0) {
		give_gap(a, a->next, pfn);
		__atomic_store_n(&a->next, pfn + n, __ATOMIC_RELEASE);
	} else {
		fl_pop(a, (unsigned)src);
		/* The rest of a split block: one free block of each order. */
		for (j = order; j < (unsigned)src; j++)
			(void)fl_push(a, j, pfn + (1ULL << j));
		if (src < (int)MADV_MIN_ORDER)
			memset(a->base + (pfn << VMMU_PAGE_SHIFT), 0,
			       n << VMMU_PAGE_SHIFT);
	}
	*pfn_out = pfn;
	return VMMU_OK;
}

static int hosted_alloc_pages(void *ctx, unsigned order, hpa_t *out)
{
	struct vmmu_hosted_arena *a = ctx;
	struct chunk *c;
	uint64_t pfn;
	int rc;

	if (order > VMMU_HOSTED_MAX_ORDER || !out)
		return VMMU_ENOMEM;
	pthread_mutex_lock(&a->lock);
	rc = arena_take(a, order, &pfn);
	if (rc == VMMU_OK) {
		c = chunk_of(a, pfn);
		bits_set(c->allocated, pfn % CHUNK_PAGES, 1ULL << order, true);
		bits_set(c->head, pfn % CHUNK_PAGES, 1, true);
		__atomic_fetch_add(&a->in_use, 1ULL << order, __ATOMIC_RELAXED);
		out->v = pfn << VMMU_PAGE_SHIFT;
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

static int hosted_alloc_page(void *ctx, hpa_t *out)
{
	return hosted_alloc_pages(ctx, 0, out);
}

/* True iff [pfn, pfn + 2^order) is exactly one live block. */
static bool is_block(const struct vmmu_hosted_arena *a, uint64_t pfn,
		     unsigned order)
{
	uint64_t n = 1ULL << order, off = pfn % CHUNK_PAGES;
	const struct chunk *c;

	if (!pfn || pfn >= a->next || a->next - pfn < n || (pfn & (n - 1)))
		return false;
	c = chunk_of(a, pfn);
	if (!c || !bits_all(c->head, off, 1, true) ||
	    !bits_all(c->allocated, off, n, true) ||
	    !bits_all(c->head, off + 1, n - 1, false))
		return false;
	if (off + n == CHUNK_PAGES)
		return true;
	return bits_all(c->head, off + n, 1, true) ||
	       bits_all(c->allocated, off + n, 1, false);
}

/*
 * A block that is not exactly one live block of this order (a double free,
 * a wrong order, a page inside a larger block) is ignored, not recycled.
 * Called with the lock held.
 */
static void free_block(struct vmmu_hosted_arena *a, hpa_t base, unsigned order)
{
	uint64_t pfn = base.v >> VMMU_PAGE_SHIFT, n;
	struct chunk *c;

	if (order > VMMU_HOSTED_MAX_ORDER || (base.v & ~VMMU_PAGE_MASK) ||
	    !is_block(a, pfn, order))
		return;
	if (fl_push(a, order, pfn) < 0)
		return;     /* leak the block rather than corrupt state */
	n = 1ULL << order;
	if (order >= MADV_MIN_ORDER &&
	    madvise(a->base + base.v, n << VMMU_PAGE_SHIFT, MADV_DONTNEED) != 0)
		memset(a->base + base.v, 0, n << VMMU_PAGE_SHIFT);
	c = chunk_of(a, pfn);
	bits_set(c->allocated, pfn % CHUNK_PAGES, n, false);
	bits_set(c->head, pfn % CHUNK_PAGES, 1, false);
	__atomic_fetch_sub(&a->in_use, n, __ATOMIC_RELAXED);
}

static void hosted_free_pages(void *ctx, hpa_t base, unsigned order)
{
	struct vmmu_hosted_arena *a = ctx;

	pthread_mutex_lock(&a->lock);
	free_block(a, base, order);
	pthread_mutex_unlock(&a->lock);
}

static void hosted_free_page(void *ctx, hpa_t page)
{
	hosted_free_pages(ctx, page, 0);
}

static void *hosted_map(void *ctx, hpa_t hpa)
{
	struct vmmu_hosted_arena *a = ctx;
	uint64_t pfn = hpa.v >> VMMU_PAGE_SHIFT;
	const struct chunk *c;

	/* Freed pages are not platform memory either: catches use after free. */
	if (!pfn || pfn >= __atomic_load_n(&a->next, __ATOMIC_ACQUIRE))
		return NULL;
	c = chunk_of(a, pfn);
	if (!c || !bits_all(c->allocated, pfn % CHUNK_PAGES, 1, true))
		return NULL;
	return a->base + hpa.v;
}

static void *hosted_zalloc(void *ctx, size_t size)
{
	(void)ctx;
	return calloc(1, size ? size : 1);
}

static void hosted_free(void *ctx, void *ptr)
{
	(void)ctx;
	free(ptr);
}

/*
 * The heavy barrier (platform.h): an expedited private membarrier runs a
 * full barrier on every CPU that currently runs a thread of this process.
 * It is offered only after the process registered for it, after which the
 * kernel does not refuse the command; a failure then is a broken kernel,
 * and continuing would let a vCPU use a translation a flush removed.
 */
static void hosted_heavy_barrier(void *ctx)
{
	(void)ctx;
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0))
		abort();
}

/* Can this process use hosted_heavy_barrier? Registers it on first use. */
static bool hosted_membarrier_ready(void)
{
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) ||
	    !(cmds & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED))
		return false;
	return syscall(__NR_membarrier,
		       MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

void vmmu_hosted_platform(struct vmmu_hosted_arena *a,
			  struct vmmu_platform *out)
{
	out->ctx = a;
	out->alloc_page = hosted_alloc_page;
	out->free_page = hosted_free_page;
	out->map = hosted_map;
	out->zalloc = hosted_zalloc;
	out->free = hosted_free;
	out->alloc_pages = hosted_alloc_pages;
	out->free_pages = hosted_free_pages;
	out->linear_base = a->base;
	out->heavy_barrier = hosted_membarrier_ready() ? hosted_heavy_barrier
						       : NULL;
}

uint64_t vmmu_hosted_pages_in_use(const struct vmmu_hosted_arena *a)
{
	return __atomic_load_n(&a->in_use, __ATOMIC_RELAXED);
}
