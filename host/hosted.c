/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmmu/error.h"
#include "hosted.h"

struct vmmu_hosted_arena {
	uint8_t *base;
	uint64_t npages;        /* capacity, including the reserved page 0 */
	uint64_t next;          /* first never-used page */
	uint8_t *allocated;     /* one bit per page: handed out, not freed */
	uint64_t *free_list;    /* stack of freed page numbers */
	uint64_t nfree, free_cap;
	uint64_t in_use;
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
	a->allocated = calloc((a->npages + 7) / 8, 1);
	if (!a->allocated) {
		free(a);
		return VMMU_ENOMEM;
	}
	/* Reserve only: pages are faulted in on first use. */
	a->base = mmap(NULL, a->npages << VMMU_PAGE_SHIFT, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a->base == MAP_FAILED) {
		free(a->allocated);
		free(a);
		return VMMU_ENOMEM;
	}
	a->next = 1;
	*out = a;
	return VMMU_OK;
}

void vmmu_hosted_destroy(struct vmmu_hosted_arena *a)
{
	if (!a)
		return;
	munmap(a->base, a->npages << VMMU_PAGE_SHIFT);
	free(a->free_list);
	free(a->allocated);
	free(a);
}

static bool page_allocated(const struct vmmu_hosted_arena *a, uint64_t pfn)
{
	return a->allocated[pfn / 8] & (1u << (pfn % 8));
}

static void page_mark(struct vmmu_hosted_arena *a, uint64_t pfn, bool on)
{
	if (on)
		a->allocated[pfn / 8] |= (uint8_t)(1u << (pfn % 8));
	else
		a->allocated[pfn / 8] &= (uint8_t)~(1u << (pfn % 8));
}

static int hosted_alloc_page(void *ctx, hpa_t *out)
{
	struct vmmu_hosted_arena *a = ctx;
	uint64_t pfn;

	if (a->nfree) {
		pfn = a->free_list[--a->nfree];
		memset(a->base + (pfn << VMMU_PAGE_SHIFT), 0, VMMU_PAGE_SIZE);
	} else if (a->next < a->npages) {
		pfn = a->next++;    /* fresh anonymous memory is already zero */
	} else {
		return VMMU_ENOMEM;
	}
	page_mark(a, pfn, true);
	a->in_use++;
	out->v = pfn << VMMU_PAGE_SHIFT;
	return VMMU_OK;
}

static void hosted_free_page(void *ctx, hpa_t page)
{
	struct vmmu_hosted_arena *a = ctx;
	uint64_t pfn = page.v >> VMMU_PAGE_SHIFT;

	/* A page not handed out (or freed twice) is ignored, not recycled. */
	if (!pfn || pfn >= a->next || (page.v & ~VMMU_PAGE_MASK) ||
	    !page_allocated(a, pfn))
		return;
	if (a->nfree == a->free_cap) {
		uint64_t cap = a->free_cap ? a->free_cap * 2 : 256;
		uint64_t *fl = realloc(a->free_list, cap * sizeof(*fl));

		if (!fl)
			return;     /* leak the page rather than corrupt state */
		a->free_list = fl;
		a->free_cap = cap;
	}
	a->free_list[a->nfree++] = pfn;
	page_mark(a, pfn, false);
	a->in_use--;
}

static void *hosted_map(void *ctx, hpa_t hpa)
{
	struct vmmu_hosted_arena *a = ctx;
	uint64_t pfn = hpa.v >> VMMU_PAGE_SHIFT;

	/* Freed pages are not platform memory either: catches use after free. */
	if (!pfn || pfn >= a->next || !page_allocated(a, pfn))
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

void vmmu_hosted_platform(struct vmmu_hosted_arena *a,
			  struct vmmu_platform *out)
{
	out->ctx = a;
	out->alloc_page = hosted_alloc_page;
	out->free_page = hosted_free_page;
	out->map = hosted_map;
	out->zalloc = hosted_zalloc;
	out->free = hosted_free;
}

uint64_t vmmu_hosted_pages_in_use(const struct vmmu_hosted_arena *a)
{
	return a->in_use;
}
