/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor's only contact with vmmu's table-building API. When the
 * EPT and NPT backends land, hv_tables.c is what gets ported to them; the
 * rest of the kernel sees only these four calls.
 */
#ifndef VMMU_HV_TABLES_H
#define VMMU_HV_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#include "vmmu/platform.h"

enum hv_nested { HV_NESTED_EPT, HV_NESTED_NPT };

struct hv_tables;

/* An empty 4-level EPT or NPT tree from plat's pages; NULL on failure. */
struct hv_tables *hv_tables_create(enum hv_nested kind,
				   const struct vmmu_platform *plat);
/* Map guest-physical [gpa, gpa+size) to host-physical [hpa, hpa+size),
 * read/execute and, when writable, write; write-back. Replaces what was
 * mapped there (splitting large pages). 0 or a negative vmmu error. The
 * caller invalidates cached translations (INVEPT, TLB_CONTROL). */
int hv_tables_map(struct hv_tables *t, uint64_t gpa, uint64_t hpa,
		  uint64_t size, bool writable);
/* The EPTP (EPT: WB, 4-level, A/D off) or nCR3 (NPT) of the tree. */
uint64_t hv_tables_pointer(const struct hv_tables *t);
/* The nested TLB was flushed: table pages unlinked before may be reused. */
void hv_tables_flushed(struct hv_tables *t);
/* Table pages the tree uses, root included. */
uint64_t hv_tables_pages(const struct hv_tables *t);

#endif
