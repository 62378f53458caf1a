/* SPDX-License-Identifier: MIT */
/*
 * The hosted platform: struct vmmu_platform for a Linux user-space program.
 * Host "physical" memory is one reserved virtual range (an arena), and a
 * host-physical address is an offset into it. Page 0 is never handed out,
 * so hpa 0 can mean "none".
 *
 * The arena reserves its whole size up front (MAP_NORESERVE) and commits
 * memory only where pages are touched; its own bookkeeping grows with the
 * part of the arena in use (one lazily allocated bitmap chunk per GiB), so
 * a 1 TiB arena costs a few KiB until it is used.
 *
 * Usage (error checks omitted):
 *
 *	struct vmmu_hosted_arena *arena;
 *	struct vmmu_platform plat;
 *	struct vmmu_vm *vm;
 *
 *	vmmu_hosted_create(1ULL << 30, &arena);      // up to 1 GiB of pages
 *	vmmu_hosted_platform(arena, &plat);
 *	vmmu_vm_create(&plat, &vm);
 *	vmmu_vm_add_slot(vm, mk_gpa(0), 256ULL << 20, VMMU_MEM_RAM);
 *	vmmu_vm_write_gpa(vm, mk_gpa(0x1000), "hi", 2);
 *	...
 *	vmmu_vm_destroy(vm);
 *	vmmu_hosted_destroy(arena);                 // after every VM on it
 *
 * Threads: the platform's functions may be called from several threads at
 * once (VMs on one arena on different threads; allocation is serialised
 * by a lock, map takes none). Create and destroy are not: no other thread
 * may use the arena while it is created or destroyed.
 */
#ifndef VMMU_HOSTED_H
#define VMMU_HOSTED_H

#include "vmmu/platform.h"

/* Largest order alloc_pages serves: 1 GiB blocks. */
#define VMMU_HOSTED_MAX_ORDER VMMU_ORDER_1G

struct vmmu_hosted_arena;

/*
 * Create an arena able to hold up to max_bytes of host pages (rounded down
 * to 4 KiB; at least two pages). 0, VMMU_EINVAL or VMMU_ENOMEM.
 */
int vmmu_hosted_create(uint64_t max_bytes, struct vmmu_hosted_arena **out);
/* Release the arena and every page in it. NULL is ignored. */
void vmmu_hosted_destroy(struct vmmu_hosted_arena *arena);
/*
 * Fill *out with the platform interface over arena: alloc_page, free_page,
 * map, zalloc/free (calloc/free) and alloc_pages/free_pages for every order
 * up to VMMU_HOSTED_MAX_ORDER, linear_base, and heavy_barrier where the
 * kernel offers an expedited private membarrier (the process registers for
 * it here; otherwise NULL).
 */
void vmmu_hosted_platform(struct vmmu_hosted_arena *arena,
			  struct vmmu_platform *out);
/* 4 KiB pages currently allocated (a block of order k counts 2^k). */
uint64_t vmmu_hosted_pages_in_use(const struct vmmu_hosted_arena *arena);

#endif
