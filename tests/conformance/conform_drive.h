/* SPDX-License-Identifier: MIT */
/* Driving conformance runs (conform_drive.c), shared by the conform tool
 * and the ctest sample. */
#ifndef VMMU_CONFORM_DRIVE_H
#define VMMU_CONFORM_DRIVE_H

#include "conform.h"

struct conf_drive {
	struct conf_emulator em;
	struct conf_cpu cpu;    /* from conf_probe() */
	uint64_t seed;
	uint32_t first_id;      /* id of the first case */
	uint32_t batch;         /* cases per boot (0: 2000) */
	FILE *explain;          /* disagreements are described here (or NULL) */
	bool explain_known;     /* ... and known differences too */
	bool progress;          /* a line on stderr per batch */
};

bool conf_mode_supported(enum conf_mode m, const struct conf_cpu *cpu);
/* After conf_probe(): what the generator and comparer must know about
 * the emulator itself (Bochs: keys by CPL, open bus, case region end). */
void conf_drive_emulator_traits(struct conf_drive *d);
/* Generate, run and compare ncases cases of mode. 0, or -1. */
int conf_drive_mode(const struct conf_drive *d, enum conf_mode mode,
		    uint32_t ncases, struct conf_stats *st);

#endif
