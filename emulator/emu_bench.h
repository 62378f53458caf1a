/* SPDX-License-Identifier: MIT */
/*
 * Emulator speed against native execution of the same bytes, measured in
 * one run: `vmmu bench emulator` prints what this measures.
 */
#ifndef VMMU_EMU_BENCH_H
#define VMMU_EMU_BENCH_H

#include <stdint.h>

enum emu_bench_case {
	EMU_BENCH_MOV,          /* mov [rdi], rsi */
	EMU_BENCH_LOCK_CMPXCHG, /* lock cmpxchg [rdi], rsi (succeeds) */
	EMU_BENCH_REP_STOSQ,    /* rep stosq, RCX = 512: one 4 KiB page */
	EMU_BENCH_NR_CASES,
};

struct emu_bench_result {
	const char *name;
	const char *bytes;              /* hex */
	const char *unit;               /* "instruction" or "4 KiB page" */
	double native_ns;
	double emulated_ns;             /* decode every time (cache off) */
	double cached_ns;               /* decoded-instruction cache hits */
	double capstone_ns;             /* cs_disasm_iter alone, for reference */
	uint64_t cache_hits;            /* during the cached measurement */
};

struct emu_bench_config {
	uint64_t iterations;            /* single-instruction cases */
	uint64_t page_iterations;       /* rep stosq pages */
	unsigned int repeat;            /* runs per figure; the median is kept */
};

/* Measure one case; 0, or a negative vmmu_err. */
int emu_bench_run(enum emu_bench_case which, const struct emu_bench_config *cfg,
		  struct emu_bench_result *out);

#endif
