/* SPDX-License-Identifier: MIT */
/*
 * The platform interface: the only way the freestanding modules (core, ept,
 * npt, shadow-fallback) obtain host memory. A real hypervisor supplies its
 * own page allocator; vmmu_hosted_platform() (include/vmmu/hosted.h, in
 * libvmmu) provides one backed by an in-process arena.
 *
 * zalloc/free serve vmmu's own bookkeeping (VM and vCPU objects, the guest
 * RAM directories); guest-visible memory and page tables come from
 * alloc_page and alloc_pages.
 *
 * Invariants the platform guarantees:
 *  - alloc_page returns a zeroed, 4 KiB-aligned host page and its
 *    host-physical address.
 *  - alloc_pages(order) returns 2^order contiguous host pages, zeroed, whose
 *    base hpa is aligned to 2^order pages (order 9: 2 MiB, order 18: 1 GiB),
 *    so one large leaf of a second-level table can map them.
 *  - map(hpa) returns a pointer valid for the whole 4 KiB page containing
 *    hpa for as long as that page stays allocated (whether it came from
 *    alloc_page or is any page of an alloc_pages block), or NULL when hpa is
 *    not allocated memory of this platform. vmmu does not assume that
 *    consecutive pages of a block map to consecutive pointers.
 *  - A block from alloc_pages is returned whole, with free_pages and the
 *    same order; a page from alloc_page with free_page.
 *
 * alloc_pages and free_pages are optional (both NULL, or both set). NULL,
 * or VMMU_ENOMEM from alloc_pages (no such block now, or an order the
 * platform does not provide), makes vmmu fall back to the next smaller order
 * and finally to single pages; vmmu treats any other error the same way.
 */
#ifndef VMMU_PLATFORM_H
#define VMMU_PLATFORM_H

#include "vmmu/types.h"

/* Orders (log2 of the 4 KiB page count) of the large host allocations. */
#define VMMU_ORDER_4K 0U
#define VMMU_ORDER_2M 9U
#define VMMU_ORDER_1G 18U

struct vmmu_platform {
	void *ctx;
	/* Allocate one zeroed 4 KiB page. Returns 0 or VMMU_ENOMEM. */
	int (*alloc_page)(void *ctx, hpa_t *out);
	/* Return a page obtained from alloc_page. */
	void (*free_page)(void *ctx, hpa_t page);
	/* Pointer to the byte at hpa, or NULL if hpa is not platform memory. */
	void *(*map)(void *ctx, hpa_t hpa);
	/* Zeroed bookkeeping memory (not guest-visible), or NULL. */
	void *(*zalloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *ptr);
	/*
	 * Optional: allocate 2^order zeroed, contiguous pages naturally
	 * aligned to their size. Returns 0 or VMMU_ENOMEM ("try smaller").
	 */
	int (*alloc_pages)(void *ctx, unsigned order, hpa_t *out);
	/* Return a whole block from alloc_pages, with the same order. */
	void (*free_pages)(void *ctx, hpa_t base, unsigned order);
	/*
	 * Optional: when the platform's memory is one linear mapping, the
	 * pointer that hpa 0 maps to, so that map(hpa) == linear_base + hpa
	 * for every allocated hpa. The access path then turns a TLB hit into
	 * a pointer without calling map() (and without map()'s checks: the
	 * TLB only holds translations of allocated pages). NULL otherwise.
	 */
	uint8_t *linear_base;
	/*
	 * Optional: a full memory barrier on every CPU that runs a thread of
	 * this VM's vCPUs, returning after all of them executed it (Linux:
	 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)). It must not fail.
	 * With it, a vCPU enters an access with a plain store and no fence,
	 * and vmmu_vm_tlb_flush_sync pays the ordering instead (vm.h). NULL:
	 * each access enters with a locked exchange.
	 */
	void (*heavy_barrier)(void *ctx);
};

#endif
