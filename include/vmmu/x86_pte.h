/* SPDX-License-Identifier: MIT */
/*
 * The ordinary x86 paging-structure entry (Intel SDM Vol. 3A 4.5, tables
 * 4-15..4-20; AMD APM Vol. 2 5.3.3). Guest tables, NPT tables and shadow
 * tables all use it. *_BIT_X is the bit index, *_X the mask.
 */
#ifndef VMMU_X86_PTE_H
#define VMMU_X86_PTE_H

#include <stdint.h>

#define X86_PTE_BIT_P    0      /* present */
#define X86_PTE_BIT_RW   1      /* writable */
#define X86_PTE_BIT_US   2      /* user accessible */
#define X86_PTE_BIT_PWT  3
#define X86_PTE_BIT_PCD  4
#define X86_PTE_BIT_A    5      /* accessed */
#define X86_PTE_BIT_D    6      /* dirty (leaf) */
#define X86_PTE_BIT_PS   7      /* large leaf (PDE/PDPTE); PAT in a PTE */
#define X86_PTE_BIT_G    8      /* global (leaf) */
#define X86_PTE_BIT_PAT_LARGE 12 /* PAT in a 2 MiB / 1 GiB / 4 MiB leaf */
#define X86_PTE_BIT_NX   63     /* execute disable (with EFER.NXE) */
#define X86_PTE_PKEY_SHIFT 59   /* bits 62:59: protection key (leaf, CR4.PKE) */

#define X86_PTE_P    (1ULL << X86_PTE_BIT_P)
#define X86_PTE_RW   (1ULL << X86_PTE_BIT_RW)
#define X86_PTE_US   (1ULL << X86_PTE_BIT_US)
#define X86_PTE_PWT  (1ULL << X86_PTE_BIT_PWT)
#define X86_PTE_PCD  (1ULL << X86_PTE_BIT_PCD)
#define X86_PTE_A    (1ULL << X86_PTE_BIT_A)
#define X86_PTE_D    (1ULL << X86_PTE_BIT_D)
#define X86_PTE_PS   (1ULL << X86_PTE_BIT_PS)
#define X86_PTE_G    (1ULL << X86_PTE_BIT_G)
#define X86_PTE_PAT_LARGE (1ULL << X86_PTE_BIT_PAT_LARGE)
#define X86_PTE_NX   (1ULL << X86_PTE_BIT_NX)

/* Address bits 51:12 of a 64-bit entry (MAXPHYADDR limits them further). */
#define X86_PTE_ADDR_MASK 0x000ffffffffff000ULL

#endif
