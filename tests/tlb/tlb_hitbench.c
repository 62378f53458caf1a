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

int main(int argc, char **argv)
{
	uint64_t iters = argc > 1 ? strtoull(argv[1], NULL, 0) : 20000000ULL;
	unsigned pages = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 64;
	const uint64_t base = 0x00007f0000000000ULL;
	struct vmmu_paging_state ps;
	struct vmmu_tlb_config cfg;
	struct vmmu_tlb *t;
	static uint64_t off[NIDX];
	uint8_t *host;
	uint64_t i, sum = 0, misses = 0;
	double t0, t1, t2, t3, best_plain, best_tlb, best_inline;
	unsigned r;
	char cpu[128];
	void *mem;

	if (pages == 0 || pages > 4096)
		return 2;
	host = calloc(pages, 4096);
	vmmu_tlb_config_default(&cfg, VMMU_TLB_PROFILE_INTEL);
	mem = aligned_alloc(64, (vmmu_tlb_mem_size(&cfg) + 63) & ~(size_t)63);
	if (!host || !mem || vmmu_tlb_init(mem, vmmu_tlb_mem_size(&cfg), &cfg,
					   &t) < 0)
		return 1;
	memset(&ps, 0, sizeof(ps));
	ps.cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	ps.cr4 = X86_CR4_PAE;
	ps.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	ps.maxphyaddr = 46;
	vmmu_paging_update(&ps);
	vmmu_tlb_set_tag(t, 1, 0, 1);
	for (i = 0; i < pages; i++) {
		struct vmmu_tlb_fill f = { mk_gva(base + i * 4096),
			mk_hpa(i * 4096), 4096, 3, 0, false, true,
			VMMU_TLB_NR | VMMU_TLB_NW | VMMU_TLB_NX,
			VMMU_ACCESS_READ };

		vmmu_tlb_fill(t, &f);
		host[i * 4096] = (uint8_t)i;
	}
	srand(1);
	for (i = 0; i < NIDX; i++)
		off[i] = (uint64_t)(rand() % pages) * 4096 + (uint64_t)(rand() % 4096);

	/* best of 5 rounds of each loop, interleaved (shared machine) */
	best_plain = best_tlb = best_inline = 1e30;
	for (r = 0; r < 5; r++) {
		t0 = now();
		for (i = 0; i < iters; i++)
			sum += host[off[i & (NIDX - 1)]];
		t1 = now();
		for (i = 0; i < iters; i++) {
			struct vmmu_access acc = {
				mk_gva(base + off[i & (NIDX - 1)]),
				VMMU_ACCESS_READ, 3, false };
			hpa_t h;

			if (vmmu_tlb_lookup(t, &ps, &acc, &h) != VMMU_TLB_HIT) {
				misses++;
				continue;
			}
			sum += host[h.v];
		}
		t2 = now();
		for (i = 0; i < iters; i++) {
			struct vmmu_access acc = {
				mk_gva(base + off[i & (NIDX - 1)]),
				VMMU_ACCESS_READ, 3, false };
			hpa_t h;

			if (vmmu_tlb_lookup_hit(t, &ps, &acc, &h) !=
			    VMMU_TLB_HIT) {
				misses++;
				continue;
			}
			sum += host[h.v];
		}
		t3 = now();
		if (t3 - t2 < best_inline)
			best_inline = t3 - t2;
		if (t1 - t0 < best_plain)
			best_plain = t1 - t0;
		if (t2 - t1 < best_tlb)
			best_tlb = t2 - t1;
	}
	cpu_name(cpu, sizeof(cpu));
	printf("cpu: %s\npages: %u, accesses: %llu, misses: %llu\n", cpu, pages,
	       (unsigned long long)iters, (unsigned long long)misses);
	printf("plain array read: %.2f ns/access\n", best_plain * 1e9 / iters);
	printf("TLB hit + read:   %.2f ns/access, %.1f M accesses/s\n",
	       best_tlb * 1e9 / iters, iters / best_tlb / 1e6);
	printf("inline hit + read: %.2f ns/access, %.1f M accesses/s "
	       "(vmmu_tlb_lookup_hit, core callers)\n",
	       best_inline * 1e9 / iters, iters / best_inline / 1e6);
	printf("checksum %llu\n", (unsigned long long)sum);
	free(mem);
	free(host);
	return 0;
}
