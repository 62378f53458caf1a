/* SPDX-License-Identifier: MIT */
/*
 * The differential check: one generated case executed natively and by
 * vmmu's emulator, verdicts, registers, RFLAGS (less the flags the SDM
 * leaves undefined for the instruction) and memory compared, with counts
 * per instruction and per addressing form.
 */
#ifndef VMMU_TEST_DIFF_H
#define VMMU_TEST_DIFF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gen.h"
#include "vmmu/emulate.h"

#define DIFF_MAX_KEYS 1024

struct diff_count {
	char key[48];
	uint64_t cases, mismatches, faults;
};

struct differ {
	struct native_env env;
	struct vmmu_emu *emu;
	uint8_t mem[NATIVE_DATA_SIZE];  /* the emulator's copy of the data */
	uint8_t code[4096];             /* the emulator's copy of the code */
	uint64_t cases, mismatches;
	unsigned int nkeys;
	struct diff_count by_insn[DIFF_MAX_KEYS];
	uint64_t by_form[AF_COUNT];
	uint64_t access_violations;     /* callback outside the data region */
	unsigned int reported;          /* mismatches printed so far */
	unsigned int report_limit;      /* at most this many (default 20) */
	bool show_faults;               /* also print every native fault */
};

/* 0, or -1 (reason on stderr). */
int differ_init(struct differ *d);
void differ_fini(struct differ *d);

/*
 * The mode of case number i: five in eight 64-bit, two 32-bit (compatibility
 * mode), one 16-bit (32-bit instead where the kernel has no 16-bit segments).
 */
unsigned int differ_mode_for(const struct differ *d, uint64_t i);

/* Run one case; true if native and emulated results agree. */
bool differ_run(struct differ *d, const struct gen_case *c, FILE *report);

/* Print the counts per instruction and per addressing form. */
void differ_print(const struct differ *d, FILE *out);

#endif
