/* SPDX-License-Identifier: MIT */
/*
 * Random 64-bit and 32-bit (compatibility mode) test cases for the emulator's differential test: an
 * instruction encoded by hand from the opcode tables of SDM Vol. 2 (every
 * operand size, every ModRM/SIB addressing form, RIP-relative, 32-bit
 * address size, FS/GS and ignored segment overrides, LOCK and REP), with
 * register values chosen so that every memory operand lands in the native
 * data region, plus random memory contents.
 */
#ifndef VMMU_TEST_GEN_H
#define VMMU_TEST_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "native.h"

struct rng {
	uint64_t s;
};

uint64_t rng_next(struct rng *r);
uint64_t rng_below(struct rng *r, uint64_t n);

enum gen_addr_form {
	AF_REG, AF_BASE, AF_BASE_D8, AF_BASE_D32, AF_SIB, AF_SIB_D8,
	AF_SIB_D32, AF_INDEX_D32, AF_ABS32, AF_RIP, AF_MOFFS, AF_STRING,
	AF_ADDR16, AF_COUNT,
};

extern const char *const gen_addr_form_names[AF_COUNT];

struct gen_case {
	uint8_t code[32];               /* emit() writes at most 8+1+2+1+1+8+4 */
	size_t len;
	struct native_ctx ctx;
	uint8_t mem[NATIVE_DATA_SIZE];
	const char *form;               /* opcode form, e.g. "81 /0 iz" */
	enum gen_addr_form addr_form;
	int seg;                        /* -1, or the override prefix byte */
	int addr32;                     /* 67 in 64-bit mode */
	int addr16;                     /* 67 in 32-bit mode */
	unsigned int mode;              /* 64, or 32 (compatibility mode) */
};

/* Fill c with a random case from r for mode 64 or 32. */
void gen_case(struct rng *r, const struct native_env *env, unsigned int mode,
	      struct gen_case *c);

#endif
