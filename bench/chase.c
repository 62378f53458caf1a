/* SPDX-License-Identifier: MIT */
/*
 * The pointer chase: every load's address is the previous load's value,
 * so the loads serialise and time per load = latency per access. The chain
 * visits its nodes in one random cycle (Sattolo's algorithm), which defeats
 * the hardware prefetchers.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

const char *const bench_chase_name[BENCH_CHASE_KINDS] = {
	"4k", "2m", "dense",
};

/* xorshift64*: a fixed-seed generator, so a chain is reproducible. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/*
 * Offset of node i. Sparse: one node per 4 KiB page at cache line
 * (i + i/32) mod 64. Consecutive pages then land in different L1 sets
 * (bits 6-11), and with physically contiguous 2 MiB pages the pairs
 * (line, page bits 12-16) cover all 2048 sets of a 2 MiB L2 instead of
 * 64 of them, which a plain "i mod 64" would give.
 */
static uint64_t node_offset(uint64_t i, bool sparse)
{
	if (!sparse)
		return i * 64;
	return i * 4096 + (((i + (i >> 5)) & 63) * 64);
}

uint64_t bench_chase_build(uint8_t *buf, uint64_t addr_base, uint64_t n,
			   bool sparse, uint64_t seed)
{
	uint32_t *perm;
	uint64_t i, s = seed | 1;

	if (n < 2) {
		memcpy(buf, &addr_base, sizeof(addr_base));
		return addr_base;
	}
	perm = malloc(n * sizeof(*perm));
	if (!perm)
		return 0;
	for (i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	/* Sattolo: a uniformly random permutation with a single cycle. */
	for (i = n - 1; i > 0; i--) {
		uint64_t j = next_rand(&s) % i;
		uint32_t t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < n; i++) {
		uint64_t next = addr_base + node_offset(perm[i], sparse);

		memcpy(buf + node_offset(i, sparse), &next, sizeof(next));
	}
	free(perm);
	return addr_base;
}

uint64_t bench_chase_iters(uint64_t n, uint64_t min_accesses)
{
	uint64_t acc = n > min_accesses ? n : min_accesses;

	return (acc + 7) / 8;
}

uint64_t bench_chase_run(uint64_t start, uint64_t iters)
{
	uint64_t p = start;

	if (iters == 0)
		return p;
	/* Eight dependent loads per iteration; plain asm so that no
	 * instrumentation (ASan) adds memory accesses of its own. */
	__asm__ volatile(
		"1:\n\t"
		"mov (%0), %0\n\tmov (%0), %0\n\t"
		"mov (%0), %0\n\tmov (%0), %0\n\t"
		"mov (%0), %0\n\tmov (%0), %0\n\t"
		"mov (%0), %0\n\tmov (%0), %0\n\t"
		"dec %1\n\t"
		"jnz 1b\n\t"
		: "+r"(p), "+r"(iters) : : "memory", "cc");
	return p;
}
