/* SPDX-License-Identifier: MIT */
/*
 * The x86 entry format as a struct vmmu_pt_format, for NPT and shadow
 * tables built by vmmu.
 */
#ifndef VMMU_CORE_PT_X86_H
#define VMMU_CORE_PT_X86_H

#include "pgtable.h"

/* Per-table settings of the x86 format (the vmmu_pt ctx). */
struct vmmu_pt_x86_ctx {
	/*
	 * Set U/S in every entry. NPT needs it: the CPU performs nested
	 * page-table walks as user accesses (APM Vol. 2 15.25.5).
	 */
	bool user;
	/* EFER.NXE of whoever walks the table: without it bit 63 is reserved. */
	bool nx;
};

extern const struct vmmu_pt_format vmmu_pt_format_x86;

#endif
