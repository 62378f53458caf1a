/* SPDX-License-Identifier: MIT */
/*
 * vmmu's platform interface (include/vmmu/platform.h) for the kernel.
 *
 * Host-physical = linear below 1 GiB (boot.S), so map() is the identity on
 * the pool. The pool is the RAM above the kernel image: from __bss_end
 * rounded up to 2 MiB to the end of the first upper-memory block the
 * multiboot loader reports (mem_upper). 4 KiB pages are cut from its
 * bottom, 2 MiB blocks (alloc_pages order 9, for vmmu's host blocks of
 * guest RAM) from its top; freed pages and blocks go on free lists. There
 * are no 1 GiB blocks: order 18 is VMMU_ENOMEM and vmmu falls back to 2 MiB.
 *
 * zalloc/free (vmmu's bookkeeping: the VM, the vCPU and its TLB model,
 * slot directories, the p2m and the dirty log) come from a static arena in
 * .bss with a first-fit free list.
 *
 * No linear_base: hpa 0 maps to the pointer 0, which platform.h reserves
 * for "no linear mapping". No heavy_barrier: one CPU.
 */
#include "hv.h"
#include "vmmu/error.h"

#define PAGE 4096ULL
#define BLOCK_2M (2ULL << 20)
#define POOL_DEFAULT_TOP (32ULL << 20)  /* without multiboot memory info */
#define ARENA_BYTES (2U << 20)

extern uint8_t __bss_end[];

static uint64_t pool_lo, pool_hi;       /* [lo, hi): not yet handed out */
static uint64_t pool_base, pool_top;    /* the whole pool */
static uint64_t free_pages_list, free_blocks_list;
static struct hv_pool_stats stats;

void hv_pool_init(uint32_t multiboot_magic, uint32_t info)
{
	const uint32_t *mbi = (const uint32_t *)(uintptr_t)info;
	uint64_t top = POOL_DEFAULT_TOP;

	/* Multiboot v1 info: flags bit 0, mem_upper (KiB above 1 MiB). */
	if (multiboot_magic == 0x2badb002 && (mbi[0] & 1))
		top = (1ULL << 20) + (uint64_t)mbi[2] * 1024;
	if (top > (1ULL << 30))
		top = 1ULL << 30;
	pool_base = ((uint64_t)(uintptr_t)__bss_end + BLOCK_2M - 1) & ~(BLOCK_2M - 1);
	pool_top = top & ~(PAGE - 1);
	if (pool_top < pool_base)
		pool_top = pool_base;
	pool_lo = pool_base;
	pool_hi = pool_top;
	hv_printf("hv: pool [0x%lx, 0x%lx) %lu MiB, bookkeeping arena %u KiB\n",
		  pool_base, pool_top, (pool_top - pool_base) >> 20,
		  ARENA_BYTES >> 10);
}

static bool in_pool(uint64_t pa)
{
	return pa >= pool_base && pa < pool_top;
}

uint64_t hv_pool_alloc(void)
{
	uint64_t pa;

	if (free_pages_list) {
		pa = free_pages_list;
		free_pages_list = *(uint64_t *)(uintptr_t)pa;
	} else if (pool_hi - pool_lo >= PAGE) {
		pa = pool_lo;
		pool_lo += PAGE;
	} else {
		return 0;
	}
	memset((void *)(uintptr_t)pa, 0, PAGE);
	stats.pages++;
	return pa;
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
	*(uint64_t *)(uintptr_t)page.v = free_pages_list;
	free_pages_list = page.v & ~(PAGE - 1);
	stats.pages--;
}

/* 2 MiB blocks from the top of the pool, naturally aligned. */
static int plat_alloc_pages(void *ctx, unsigned order, hpa_t *out)
{
	uint64_t pa, base;

	(void)ctx;
	if (order != VMMU_ORDER_2M)
		return VMMU_ENOMEM;
	if (free_blocks_list) {
		pa = free_blocks_list;
		free_blocks_list = *(uint64_t *)(uintptr_t)pa;
	} else {
		base = pool_hi & ~(BLOCK_2M - 1);
		if (base < pool_lo + BLOCK_2M)
			return VMMU_ENOMEM;
		pa = base - BLOCK_2M;
		pool_hi = pa;
	}
	memset((void *)(uintptr_t)pa, 0, BLOCK_2M);
	stats.blocks_2m++;
	*out = mk_hpa(pa);
	return 0;
}

static void plat_free_pages(void *ctx, hpa_t base, unsigned order)
{
	(void)ctx;
	if (order != VMMU_ORDER_2M || !in_pool(base.v))
		return;
	*(uint64_t *)(uintptr_t)base.v = free_blocks_list;
	free_blocks_list = base.v;
	stats.blocks_2m--;
}

static void *plat_map(void *ctx, hpa_t hpa)
{
	(void)ctx;
	return in_pool(hpa.v) ? (void *)(uintptr_t)hpa.v : NULL;
}

/*
 * The bookkeeping arena: blocks with a 16-byte header holding their size,
 * a bump pointer, and a first-fit list of freed blocks (vmmu frees little
 * and reuses the same sizes).
 */
struct arena_hdr {
	size_t size;            /* usable bytes after the header */
	struct arena_hdr *next; /* while on the free list */
};

static uint8_t arena[ARENA_BYTES] __attribute__((aligned(64)));
static size_t arena_used;
static struct arena_hdr *arena_free;

static void *plat_zalloc(void *ctx, size_t size)
{
	struct arena_hdr **pp, *h;

	(void)ctx;
	size = (size + 15) & ~(size_t)15;
	for (pp = &arena_free; *pp; pp = &(*pp)->next) {
		if ((*pp)->size >= size) {
			h = *pp;
			*pp = h->next;
			goto found;
		}
	}
	if (size > ARENA_BYTES - arena_used - sizeof(*h))
		return NULL;
	h = (struct arena_hdr *)(void *)(arena + arena_used);
	h->size = size;
	arena_used += sizeof(*h) + size;
found:
	h->next = NULL;
	memset(h + 1, 0, h->size);
	stats.arena_bytes += h->size;
	return h + 1;
}

static void plat_free(void *ctx, void *ptr)
{
	struct arena_hdr *h;

	(void)ctx;
	if (!ptr)
		return;
	h = (struct arena_hdr *)ptr - 1;
	stats.arena_bytes -= h->size;
	h->next = arena_free;
	arena_free = h;
}

static const struct vmmu_platform hv_plat = {
	.ctx = NULL,
	.alloc_page = plat_alloc_page,
	.free_page = plat_free_page,
	.map = plat_map,
	.zalloc = plat_zalloc,
	.free = plat_free,
	.alloc_pages = plat_alloc_pages,
	.free_pages = plat_free_pages,
};

const struct vmmu_platform *hv_platform(void)
{
	return &hv_plat;
}

void hv_pool_stats(struct hv_pool_stats *out)
{
	*out = stats;
	out->arena_peak = arena_used;
}
