/* SPDX-License-Identifier: MIT */
/*
 * The conformance harness's batch format and physical layout, shared by the
 * bare-metal test kernel (kernel/) and the host driver (conform.c).
 *
 * A batch is one multiboot module: a header followed by cases. Every field
 * is little-endian and naturally aligned; a case record's length is a
 * multiple of 8. Each case lists the non-zero 8-byte words of guest memory
 * (page tables, access targets), the paging registers and the accesses.
 * The kernel writes the words with paging off, runs each access with paging
 * on, reads the words back and prints on port 0xe9 (one line each):
 *
 *   K <maxphyaddr> <cpuid1.edx> <cpuid7.ebx> <cpuid7.ecx> <cpuid80000001.edx>
                                                                   (boot)
 *   C <case id>                                                    case start
 *   R o <value>                   access ok: the 32-bit value read (fetch:
 *                                 the tag the fetched code loaded; write:
 *                                 0, the store wrote 4 zero bytes)
 *   R f <vector> <error code> <cr2>     access faulted
 *   W <word index> <new value>    a listed word changed during the case
 *   E                             case end
 *   D <cases run>                 batch done
 *   X <reason>                    the kernel gave up (bad batch, ...)
 *
 * All numbers are lower-case hex without 0x.
 */
#ifndef VMMU_CONFORM_BATCH_H
#define VMMU_CONFORM_BATCH_H

#include <stdint.h>

#define CB_MAGIC        0x31304243554d4d56ULL /* "VMMUCB01" */
#define CB_VERSION      1

/*
 * Physical layout. The kernel image is loaded at 1 MiB; [0, 4 MiB) is
 * identity-mapped by the kernel's fixed page tables, which every case's
 * tables must link at linear 0 (see conform_gen.c). Case memory lives in
 * [CB_CASE_BASE, CB_CASE_LIMIT), above the batch module.
 */
#define CB_KERNEL_BASE  0x00100000u
#define CB_FIXED_PT32   0x00300000u /* 2-level PT mapping [0, 4 MiB) */
#define CB_FIXED_PT64_0 0x00301000u /* PAE/IA-32e PT mapping [0, 2 MiB) */
#define CB_FIXED_PT64_1 0x00302000u /* PAE/IA-32e PT mapping [2, 4 MiB) */
#define CB_USER_PAGE    0x00303000u /* CPL-3 stubs, the only U=1 page */
#define CB_RESERVED_END 0x00400000u /* linear/physical [0, here) is the kernel's */
#define CB_CASE_BASE    0x04000000u /* 64 MiB */
#define CB_CASE_LIMIT   0x80000000u /* 2 GiB: QEMU gets -m 2G */

/* Entry bits the fixed tables use (SDM Vol. 3A tables 4-6, 4-19). */
#define CB_PTE_P   0x001u
#define CB_PTE_W   0x002u
#define CB_PTE_U   0x004u
#define CB_PTE_A   0x020u
#define CB_PTE_D   0x040u

/* Value of entry i of the fixed tables (pt: 0 = PT32, 1/2 = PT64_0/1). */
static inline uint64_t cb_fixed_entry(unsigned pt, unsigned i)
{
	uint64_t page = (pt == 0 ? 0 : (uint64_t)(pt - 1) << 21) +
			((uint64_t)i << 12);
	uint64_t e = page | CB_PTE_P | CB_PTE_W | CB_PTE_A | CB_PTE_D;

	if (page == CB_USER_PAGE)
		e |= CB_PTE_U;
	return e;
}

/*
 * An access target holds this 16-byte pattern at a 16-byte aligned gva:
 *   90 90 90 b8 <tag:4> cd 81 90 90 90 90 90 90
 * i.e. nop; nop; nop; mov eax, tag; int 0x81. A read or write access uses
 * the tag's address (pattern + 4); a fetch jumps to the pattern itself and
 * the fetched code reports the tag through int 0x81. A write stores 4 zero
 * bytes there (the final words show where it landed).
 */
#define CB_PATTERN_LO(tag) (0xb8909090ULL | ((uint64_t)(uint32_t)(tag) << 32))
#define CB_PATTERN_HI      0x90909090909081cdULL
#define CB_TAG_OFFSET      4
#define CB_VEC_DONE        0x81

enum cb_kind { CB_READ = 0, CB_WRITE = 1, CB_FETCH = 2 };

struct cb_header {
	uint64_t magic;
	uint32_t version;
	uint32_t ncases;
	uint64_t total_len;     /* bytes, header included */
};

struct cb_case {
	uint32_t len;           /* bytes of this record, header included */
	uint32_t id;
	uint32_t nwords;
	uint32_t naccesses;
	uint64_t cr0, cr3, cr4, efer, rflags;
	uint32_t pkru;
	uint32_t flags;         /* reserved, 0 */
	/* then nwords x struct cb_word, naccesses x struct cb_access */
};

struct cb_word {
	uint64_t gpa;           /* 8-byte aligned, in [CB_CASE_BASE, CB_CASE_LIMIT) */
	uint64_t value;
};

struct cb_access {
	uint64_t gva;
	uint8_t kind;           /* enum cb_kind */
	uint8_t cpl;            /* 0 or 3 */
	uint8_t pad[6];
};

#endif
