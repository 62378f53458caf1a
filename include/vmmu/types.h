/* SPDX-License-Identifier: MIT */
/*
 * Address types. Guest-virtual, guest-physical and host-physical addresses
 * are distinct structs so that passing one where another is expected does
 * not compile. Use the constructors and .v to cross the boundary on purpose.
 */
#ifndef VMMU_TYPES_H
#define VMMU_TYPES_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct { uint64_t v; } gva_t; /* guest-virtual (linear) address */
typedef struct { uint64_t v; } gpa_t; /* guest-physical address */
typedef struct { uint64_t v; } hpa_t; /* host-physical address (vmmu arena) */

static inline gva_t mk_gva(uint64_t v) { gva_t a = { v }; return a; }
static inline gpa_t mk_gpa(uint64_t v) { gpa_t a = { v }; return a; }
static inline hpa_t mk_hpa(uint64_t v) { hpa_t a = { v }; return a; }

#define VMMU_PAGE_SHIFT 12
#define VMMU_PAGE_SIZE  (1ULL << VMMU_PAGE_SHIFT)
#define VMMU_PAGE_MASK  (~(VMMU_PAGE_SIZE - 1))

/* Kind of memory access, as the CPU distinguishes them for paging. */
enum vmmu_access_kind {
	VMMU_ACCESS_READ = 0,
	VMMU_ACCESS_WRITE = 1,
	VMMU_ACCESS_FETCH = 2,
};

#endif
