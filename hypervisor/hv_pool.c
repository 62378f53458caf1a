/* SPDX-License-Identifier: MIT */
/*
 * vmmu's platform interface (include/vmmu/platform.h) over a static pool
 * of pages in the kernel's .bss. Host-physical = linear below 1 GiB, so
 * map() is the identity on pool pages. Freed pages go on a free list.
 */
#include "hv.h"
#include "vmmu/error.h"

#define HV_POOL_PAGES 512       /* 2 MiB: nested tables and late guest pages */

static uint8_t pool[HV_POOL_PAGES][4096] __attribute__((aligned(4096)));
static unsigned pool_next;
static uint64_t free_list;      /* first free page; each holds the next */

uint64_t hv_pool_alloc(void)
{
	uint64_t pa;

	if (free_list) {
		pa = free_list;
		free_list = *(uint64_t *)(uintptr_t)pa;
	} else if (pool_next < HV_POOL_PAGES) {
		pa = (uint64_t)(uintptr_t)pool[pool_next++];
	} else {
		return 0;
	}
	memset((void *)(uintptr_t)pa, 0, 4096);
	return pa;
}

static bool in_pool(uint64_t pa)
{
	uint64_t lo = (uint64_t)(uintptr_t)pool;

	return pa >= lo && pa < lo + sizeof(pool);
}

static int plat_alloc_page(void *ctx, hpa_t *out)
{
	uint64_t pa = hv_pool_alloc();

	(void)ctx;
	if (!pa)
		return VMMU_ENOMEM;
	*out = mk_hpa(pa);
	return 0;
}

static void plat_free_page(void *ctx, hpa_t page)
{
	(void)ctx;
	if (!in_pool(page.v))
		return;
	*(uint64_t *)(uintptr_t)page.v = free_list;
	free_list = page.v & ~0xfffULL;
}

static void *plat_map(void *ctx, hpa_t hpa)
{
	(void)ctx;
	return in_pool(hpa.v) ? (void *)(uintptr_t)hpa.v : NULL;
}

/* The page-table engine needs no bookkeeping memory. */
static void *plat_zalloc(void *ctx, size_t size)
{
	(void)ctx;
	(void)size;
	return NULL;
}

static void plat_free(void *ctx, void *ptr)
{
	(void)ctx;
	(void)ptr;
}

static const struct vmmu_platform hv_plat = {
	.ctx = NULL,
	.alloc_page = plat_alloc_page,
	.free_page = plat_free_page,
	.map = plat_map,
	.zalloc = plat_zalloc,
	.free = plat_free,
};

const struct vmmu_platform *hv_platform(void)
{
	return &hv_plat;
}
