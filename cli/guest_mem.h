/* SPDX-License-Identifier: MIT */
/*
 * Sparse guest memory for the walker and the emulator, shared by `vmmu
 * walk`, `vmmu emulate`, the KVM oracle and the conformance comparison.
 *
 * Memory is the bytes the caller listed ("items"), kept per aligned 8-byte
 * word with a mask of the listed bytes, so it costs memory in proportion to
 * the data given, not to the pages it touches. Items are stored in the
 * order given: a later item overwrites an overlapping earlier one, in every
 * user. Bytes nobody listed read as zero, or as a fill callback says (the
 * KVM guest's RAM, a firmware table, Bochs's open bus); writes to them are
 * allowed, or refused and counted when the memory is strict.
 */
#ifndef VMMU_CLI_GUEST_MEM_H
#define VMMU_CLI_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "vmmu/walk.h"

struct guest_mem_word {
	uint64_t wgpa;          /* 8-byte aligned address */
	uint64_t val;
	uint8_t given;          /* bit n: byte n was listed (or written) */
	bool used;
};

struct guest_mem {
	struct guest_mem_word *w;
	size_t wcap, nwords;
	uint64_t *pages;        /* page number + 1; 0 is an empty slot */
	size_t pcap, npages;
	size_t max_pages;       /* 0: no limit */
	/*
	 * The word at wgpa for the bytes nobody listed (NULL: zero). A
	 * negative return (a vmmu_err) fails the read.
	 */
	int (*fill)(void *ctx, uint64_t wgpa, uint64_t *word);
	void *fill_ctx;
	bool strict;            /* writes only to listed bytes */
	bool foreign_write;     /* strict, and a write missed the listed bytes */
	/* Called after every successful cmpxchg through guest_mem_gmem(). */
	void (*on_write)(void *ctx, uint64_t gpa, size_t len, uint64_t val);
	void *write_ctx;
};

/* Default bound of `vmmu walk` and `vmmu emulate` cases. */
#define GUEST_MEM_CASE_PAGES 65536u

int guest_mem_init(struct guest_mem *m, size_t max_pages);
void guest_mem_fini(struct guest_mem *m);
/* dst becomes an independent copy of src (callbacks included). */
int guest_mem_clone(struct guest_mem *dst, const struct guest_mem *src);

/*
 * List len bytes at gpa (they overwrite what was there). VMMU_ENOSPC when
 * the item would touch more than max_pages pages, VMMU_ENOMEM,
 * VMMU_EINVAL when it wraps around the address space.
 */
int guest_mem_put(struct guest_mem *m, uint64_t gpa, const void *buf,
		  size_t len);
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *buf,
		   size_t len);
/* Like put, but strict memory refuses (VMMU_EFAULT) unlisted bytes. */
int guest_mem_write(struct guest_mem *m, uint64_t gpa, const void *buf,
		    size_t len);
/* All len bytes at gpa listed? Else *missing is the first that is not. */
bool guest_mem_listed(const struct guest_mem *m, uint64_t gpa, size_t len,
		      uint64_t *missing);
/* Whether some byte of the 4 KiB page pfn was listed (or written). */
bool guest_mem_page_listed(const struct guest_mem *m, uint64_t pfn);
/* Words with listed bytes, in no particular order: *it starts at 0. */
const struct guest_mem_word *guest_mem_next(const struct guest_mem *m,
					    size_t *it);

/* The walker's view: reads, and cmpxchg of 4 or 8 bytes. */
struct vmmu_gmem guest_mem_gmem(struct guest_mem *m);

/*
 * Parse a JSON "memory" array of items {ADDR_KEY: value, and exactly one
 * of "hex" (bytes in memory order), "qwords" or "dwords" (little-endian
 * values)}; unknown keys are errors. Items are put in order. 0, or -1 with
 * a message naming the item in err.
 */
int guest_mem_parse(const json_t *arr, const char *addr_key,
		    struct guest_mem *m, char *err, size_t errlen);

#endif
