/* SPDX-License-Identifier: MIT */
/*
 * The x86 entry format as a struct vmmu_pt_format, for NPT and shadow
 * tables built by vmmu (SDM Vol. 3A 4.5, tables 4-14..4-20; APM Vol. 2
 * 5.3.3). Leaf attributes in the engine's 4K layout are the bits of a
 * 4 KiB PTE: P, R/W, U/S, PWT, PCD, A, D, PAT (bit 7), G, the protection
 * key (62:59), NX and the software bits below.
 */
#ifndef VMMU_CORE_PT_X86_H
#define VMMU_CORE_PT_X86_H

#include "pgtable.h"

/*
 * Software-available bits of vmmu's own x86 tables: 52..58 are ignored by
 * the CPU in every 64-bit entry (SDM tables 4-14..4-20). The p2m type
 * takes 52..55; 56 and 57 are the lazy-recalculation marker of a non-leaf
 * entry and the saved U (or P) bit that the marker cleared.
 */
#define X86_SW_BIT_TYPE    52   /* bits 55:52: backend's p2m type */
#define X86_SW_BIT_RECALC  56
#define X86_SW_BIT_SAVED   57
#define X86_SW_TYPE        (0xfULL << X86_SW_BIT_TYPE)
#define X86_SW_RECALC      (1ULL << X86_SW_BIT_RECALC)
#define X86_SW_SAVED       (1ULL << X86_SW_BIT_SAVED)

/* Per-table settings of the x86 format (the vmmu_pt ctx). */
struct vmmu_pt_x86_ctx {
	/*
	 * Set U/S in every table entry. NPT needs it: the CPU performs
	 * nested page-table walks as user accesses (APM Vol. 2 15.25.5).
	 */
	bool user;
	/* EFER.NXE of whoever walks the table: without it bit 63 is reserved. */
	bool nx;
	/*
	 * How a non-leaf entry is marked for recalculation. Clear: U/S is
	 * cleared, so a nested (user) walk through it raises #NPF with P=1
	 * (NPT). Set: P is cleared, so any walk raises #PF (shadow tables).
	 */
	bool recalc_clears_p;
};

extern const struct vmmu_pt_format vmmu_pt_format_x86;

/* 4K-layout leaf attributes granting VMMU_PROT_* (R is always granted). */
uint64_t vmmu_pt_x86_prot_attrs(const struct vmmu_pt_x86_ctx *c,
				unsigned prot);

#endif
