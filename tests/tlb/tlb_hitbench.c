/* SPDX-License-Identifier: MIT */
/*
 * Cost of a guest access that hits the combined TLB, against a plain
 * array read of the same bytes in the same run (docs/tlb.md):
 *   tlb_hitbench [ITERATIONS] [PAGES]
 * PAGES 4 KiB pages (default 64, within the L1 DTLB) are filled, then
 * ITERATIONS accesses at pseudo-random offsets in them are performed as
 * vmmu_tlb_lookup() + a one-byte read of host memory at the returned
 * address. The baseline reads the same offsets from the same buffer.
 * Times are thread CPU time (the machine is shared), best of 5 rounds.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/tlb_internal.h"   /* vmmu_tlb_lookup_hit, for core callers */

#define NIDX 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void cpu_name(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(buf, len, "%s", c + 2);
			buf[strcspn(buf, "\n")] = 0;
			break;
		}
	}
	fclose(f);
}

struct bench {
	struct vmmu_tlb *t;
	struct vmmu_paging_state ps;
	uint8_t *host;
	uint64_t off[NIDX];
	uint64_t iters, sum, misses;
};

#define BASE 0x00007f0000000000ULL

/* The baseline: the same bytes read straight from the array. */
static double run_plain(struct bench *b)
{
	double t0 = now();
	uint64_t i;

	for (i = 0; i < b->iters; i++)
		b->sum += b->host[b->off[i & (NIDX - 1)]];
	return now() - t0;
}

/* A hit + a read of the byte at the hpa; inl: vmmu_tlb_lookup_hit()
 * (specialised per caller through always_inline). */
static inline __attribute__((always_inline)) double
run_lookups(struct bench *b, bool inl)
{
	double t0 = now();
	uint64_t i;

	for (i = 0; i < b->iters; i++) {
		struct vmmu_access acc = { mk_gva(BASE + b->off[i & (NIDX - 1)]),
					   VMMU_ACCESS_READ, 3, false };
		hpa_t h;
		int rc = inl ? vmmu_tlb_lookup_hit(b->t, &b->ps, &acc, &h)
			     : vmmu_tlb_lookup(b->t, &b->ps, &acc, &h);

		if (rc != VMMU_TLB_HIT) {
			b->misses++;
			continue;
		}
		b->sum += b->host[h.v];
	}
	return now() - t0;
}

static double run_call(struct bench *b)
{
	return run_lookups(b, false);
}

static double run_inline(struct bench *b)
{
	return run_lookups(b, true);
}

/* The TLB (Intel defaults) with pages 4 KiB pages at BASE -> hpa 0... */
static int setup(struct bench *b, unsigned pages, void **mem)
{
	struct vmmu_tlb_config cfg;
	uint64_t i;

	b->host = calloc(pages, 4096);
	vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_INTEL);
	*mem = aligned_alloc(64, (vmmu_tlb_mem_size(&cfg) + 63) & ~(size_t)63);
	if (!b->host || !*mem ||
	    vmmu_tlb_init(*mem, vmmu_tlb_mem_size(&cfg), &cfg, &b->t) < 0)
		return -1;
	memset(&b->ps, 0, sizeof(b->ps));
	b->ps.cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	b->ps.cr4 = X86_CR4_PAE;
	b->ps.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	b->ps.maxphyaddr = 46;
	vmmu_paging_update(&b->ps);
	vmmu_tlb_set_tag(b->t, 1, 0, 1);
	for (i = 0; i < pages; i++) {
		struct vmmu_tlb_fill f = { mk_gva(BASE + i * 4096),
			mk_hpa(i * 4096), 4096, 3, 0, false, true,
			VMMU_TLB_NR | VMMU_TLB_NW | VMMU_TLB_NX,
			VMMU_ACCESS_READ };

		vmmu_tlb_fill(b->t, &f);
		b->host[i * 4096] = (uint8_t)i;
	}
	srand(1);
	for (i = 0; i < NIDX; i++)
		b->off[i] = (uint64_t)(rand() % pages) * 4096 +
			    (uint64_t)(rand() % 4096);
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench b;
	unsigned pages = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 64;
	double best[3] = { 1e30, 1e30, 1e30 };
	unsigned r, k;
	char cpu[128];
	void *mem = NULL;

	b.iters = argc > 1 ? strtoull(argv[1], NULL, 0) : 20000000ULL;
	if (pages == 0 || pages > 4096 || b.iters == 0)
		return 2;
	if (setup(&b, pages, &mem) < 0)
		return 1;
	/* best of 5 rounds of each loop, interleaved (shared machine) */
	for (r = 0; r < 5; r++)
		for (k = 0; k < 3; k++) {
			double d = k == 0 ? run_plain(&b) :
				   k == 1 ? run_call(&b) : run_inline(&b);

			if (d < best[k])
				best[k] = d;
		}
	cpu_name(cpu, sizeof(cpu));
	printf("cpu: %s\npages: %u, accesses: %llu, misses: %llu\n", cpu,
	       pages, (unsigned long long)b.iters,
	       (unsigned long long)b.misses);
	printf("plain array read: %.2f ns/access\n", best[0] * 1e9 / b.iters);
	printf("TLB hit + read:   %.2f ns/access, %.1f M accesses/s\n",
	       best[1] * 1e9 / b.iters, b.iters / best[1] / 1e6);
	printf("inline hit + read: %.2f ns/access, %.1f M accesses/s "
	       "(vmmu_tlb_lookup_hit, core callers)\n",
	       best[2] * 1e9 / b.iters, b.iters / best[2] / 1e6);
	printf("checksum %llu\n", (unsigned long long)b.sum);
	free(mem);
	free(b.host);
	return 0;
}
