/* SPDX-License-Identifier: MIT */
/*
 * The platform interface: the only way the freestanding modules (core, ept,
 * npt, shadow-fallback) obtain host memory. A real hypervisor supplies its
 * own page allocator; vmmu_platform_hosted() (libvmmu_host) provides one
 * backed by an in-process arena.
 *
 * zalloc/free serve vmmu's own bookkeeping (VM and vCPU objects, slot
 * page lists); guest-visible memory and page tables come from alloc_page.
 *
 * Invariants: alloc_page returns a zeroed, 4 KiB-aligned host page and its
 * host-physical address; map(hpa) returns a pointer valid for the whole
 * page containing hpa for as long as the page stays allocated, or NULL when
 * hpa is not memory of this platform.
 */
#ifndef VMMU_PLATFORM_H
#define VMMU_PLATFORM_H

#include "vmmu/types.h"

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
};

#endif
