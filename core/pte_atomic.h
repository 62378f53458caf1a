/* SPDX-License-Identifier: MIT */
/*
 * Atomic access to 64-bit table entries shared with a hardware walker.
 *
 * A writer publishes an entry with one release store, so everything it
 * wrote before (a new table's 512 entries) is visible to a walker that
 * reads the entry with an acquire load. A/D bits are set and cleared with
 * atomic read-modify-write, because the walker sets them concurrently.
 *
 * On x86-64 these are plain moves and locked instructions. A 32-bit build
 * has no 8-byte load or store instruction in general registers, so every
 * operation there is a CMPXCHG8B loop (an 8-byte compare-exchange is what
 * the freestanding 32-bit kernel has; gcc lowers the __sync builtin to it).
 */
#ifndef VMMU_CORE_PTE_ATOMIC_H
#define VMMU_CORE_PTE_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__i386__)

static inline uint64_t pte_cas(uint64_t *p, uint64_t old, uint64_t new_val)
{
	return __sync_val_compare_and_swap(p, old, new_val);
}

static inline uint64_t pte_load(const uint64_t *p)
{
	/* A compare-exchange that never matches reads atomically. */
	return pte_cas((uint64_t *)p, 0, 0);
}

static inline void pte_store(uint64_t *p, uint64_t v)
{
	uint64_t cur = pte_load(p), seen;

	while ((seen = pte_cas(p, cur, v)) != cur)
		cur = seen;
}

static inline uint64_t pte_fetch_and(uint64_t *p, uint64_t mask)
{
	uint64_t cur = pte_load(p), seen;

	while ((seen = pte_cas(p, cur, cur & mask)) != cur)
		cur = seen;
	return cur;
}

#else

static inline uint64_t pte_load(const uint64_t *p)
{
	return atomic_load_explicit((const _Atomic uint64_t *)p,
				    memory_order_acquire);
}

static inline void pte_store(uint64_t *p, uint64_t v)
{
	atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_release);
}

/* Returns the value before the AND. */
static inline uint64_t pte_fetch_and(uint64_t *p, uint64_t mask)
{
	return atomic_fetch_and_explicit((_Atomic uint64_t *)p, mask,
					 memory_order_acq_rel);
}

/* Returns the value found; the store happened when it equals old. */
static inline uint64_t pte_cas(uint64_t *p, uint64_t old, uint64_t new_val)
{
	atomic_compare_exchange_strong_explicit((_Atomic uint64_t *)p, &old,
						new_val, memory_order_acq_rel,
						memory_order_acquire);
	return old;
}

#endif

/*
 * A guest walk's A/D update of a 4- or 8-byte entry at host (naturally
 * aligned): true when host held old and now holds new_val.
 */
static inline bool pte_cas_len(void *host, uint64_t old, uint64_t new_val,
			       size_t len)
{
	uint32_t o32 = (uint32_t)old;

	if (len == 8)
		return pte_cas(host, old, new_val) == old;
	return __atomic_compare_exchange_n((uint32_t *)host, &o32,
		(uint32_t)new_val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

#endif
