/* SPDX-License-Identifier: MIT */
/*
 * Memory with a chosen page size. 2 MiB pages come from transparent huge
 * pages (madvise(MADV_HUGEPAGE) on a 2 MiB aligned range) or, failing that,
 * hugetlbfs (MAP_HUGETLB). Whether the kernel really used huge pages is read
 * back from /proc/self/smaps (AnonHugePages, Private_Hugetlb) rather than
 * assumed: a THP request can silently fall back to 4 KiB pages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmmu/error.h"
#include "bench.h"

#define SZ_2M (2ull << 20)
#define SZ_4K 4096ull

/* Sum a "Key: N kB" field over the smaps blocks that overlap the range. */
size_t bench_mem_huge_bytes(const void *addr, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	bool inside = false;
	size_t total = 0;
	char line[512];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		uintptr_t a, b;
		unsigned long long kb;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &a, &b) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = a < hi && b > lo;
			continue;
		}
		if (!inside)
			continue;
		if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1 ||
		    sscanf(line, "Private_Hugetlb: %llu kB", &kb) == 1 ||
		    sscanf(line, "Shared_Hugetlb: %llu kB", &kb) == 1)
			total += (size_t)kb * 1024;
	}
	fclose(f);
	return total;
}

static void touch_pages(uint8_t *p, size_t size, size_t step)
{
	size_t off;

	for (off = 0; off < size; off += step)
		((volatile uint8_t *)p)[off] = 0;
}

/* Anonymous mapping, base trimmed to a 2 MiB boundary. */
static int map_aligned(struct bench_mem *m, size_t size)
{
	uint8_t *raw;
	uintptr_t aligned;

	m->map_size = size + SZ_2M;
	raw = mmap(NULL, m->map_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return VMMU_ENOMEM;
	m->map = raw;
	aligned = ((uintptr_t)raw + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1);
	m->base = (uint8_t *)aligned;
	m->size = size;
	return VMMU_OK;
}

static int try_thp(struct bench_mem *m, size_t size, bool touch)
{
	int rc = map_aligned(m, size);

	if (rc)
		return rc;
	if (madvise(m->base, size, MADV_HUGEPAGE) != 0) {
		snprintf(m->why, sizeof(m->why), "madvise(MADV_HUGEPAGE): %s",
			 strerror(errno));
		return VMMU_ENOTSUP;
	}
	snprintf(m->method, sizeof(m->method), "thp");
	if (!touch)
		return VMMU_OK;
	touch_pages(m->base, size, SZ_4K);
	m->huge_bytes = bench_mem_huge_bytes(m->base, size);
	/* Accept a few stray 4 KiB pages (compaction races); demand 95%. */
	m->huge = m->huge_bytes >= size / 20 * 19;
	if (!m->huge) {
		snprintf(m->why, sizeof(m->why),
			 "THP gave %zu of %zu bytes in huge pages "
			 "(/sys/kernel/mm/transparent_hugepage/enabled?)",
			 m->huge_bytes, size);
		return VMMU_ENOTSUP;
	}
	return VMMU_OK;
}

static int try_hugetlb(struct bench_mem *m, size_t size, bool touch)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	size_t n = strlen(m->why);

	if (p == MAP_FAILED) {
		snprintf(m->why + n, sizeof(m->why) - n,
			 "%sMAP_HUGETLB: %s (vm.nr_hugepages?)",
			 n ? "; " : "", strerror(errno));
		return VMMU_ENOTSUP;
	}
	m->map = m->base = p;
	m->map_size = m->size = size;
	if (touch)
		touch_pages(m->base, size, SZ_2M);
	m->huge = true;
	m->huge_bytes = size;
	snprintf(m->method, sizeof(m->method), "hugetlbfs");
	m->why[0] = 0;
	return VMMU_OK;
}

int bench_mem_alloc(struct bench_mem *m, size_t size, enum bench_page page,
		    bool touch)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->want = page;
	size = (size + SZ_2M - 1) & ~(size_t)(SZ_2M - 1);
	if (page == BENCH_PAGE_2M) {
		rc = try_thp(m, size, touch);
		if (rc == VMMU_OK)
			return VMMU_OK;
		if (m->map)
			munmap(m->map, m->map_size);
		m->map = NULL;
		if (try_hugetlb(m, size, touch) == VMMU_OK)
			return VMMU_OK;
	}
	rc = map_aligned(m, size);
	if (rc)
		return rc;
	/* 4 KiB pages on purpose: keep khugepaged and THP away. */
	madvise(m->base, size, MADV_NOHUGEPAGE);
	snprintf(m->method, sizeof(m->method),
		 page == BENCH_PAGE_2M ? "4k-fallback" : "4k");
	if (touch)
		touch_pages(m->base, size, SZ_4K);
	return VMMU_OK;
}

void bench_mem_free(struct bench_mem *m)
{
	if (m->map)
		munmap(m->map, m->map_size);
	m->map = NULL;
	m->base = NULL;
}
