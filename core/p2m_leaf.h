/* SPDX-License-Identifier: MIT */
/*
 * Second-level leaves from the p2m, for the backends whose tables the
 * engine builds (EPT, NPT): which p2m type grants which rights, which
 * leaf a first touch gets, how a leaf is recalculated after a lazy type
 * change, and retyping a range in the largest uniform pieces. A backend
 * supplies only how rights and a type become its entry format's bits.
 */
#ifndef VMMU_CORE_P2M_LEAF_H
#define VMMU_CORE_P2M_LEAF_H

#include "vmmu/p2m.h"
#include "pgtable.h"

/* VMMU_PROT_* of a p2m type; 0 for MMIO (never mapped). */
uint8_t vmmu_p2m_type_prot(enum vmmu_p2m_type type);

struct vmmu_p2m_leaves {
	struct vmmu_vm *vm;
	struct vmmu_pt *pt;
	/*
	 * 4K-layout leaf attributes for gpa of type (rights from
	 * vmmu_p2m_type_prot, the type in software bits): VMMU_OK, or
	 * VMMU_ENOENT when the type is not mapped.
	 */
	int (*attrs)(const struct vmmu_vm *vm, gpa_t gpa,
		     enum vmmu_p2m_type type, uint64_t *attrs);
	uint64_t keep;  /* 4K-layout bits a recalculated leaf keeps (A, D) */
};

/*
 * First touch of gpa: back it (vmmu_vm_ram_lookup) and map the largest of
 * its host block, the 2 MiB part of it, the 4 KiB page, that has one p2m
 * type, is not mapped in part already (no leaf's A/D state is lost) and
 * fits pt->max_leaf_level. *level is the leaf's level, 0 when the type is
 * not mapped. Returns 0 or a negative vmmu_err.
 */
int vmmu_p2m_map_touch(const struct vmmu_p2m_leaves *l, gpa_t gpa,
		       struct vmmu_pt_change *chg, unsigned *level);

/*
 * vmmu_pt_recalc_fn (ctx: struct vmmu_p2m_leaves): the leaf for the type
 * its range has now; a mixed large leaf is split, a page that is no longer
 * mapped (MMIO, a hole) is cleared.
 */
int vmmu_p2m_recalc_leaf(void *ctx, uint64_t addr, unsigned level,
			 uint64_t old, uint64_t *out);

/*
 * Record type to wherever [gpa, gpa + size) has type from, in the largest
 * uniform pieces (the range, 1 GiB, 2 MiB, 4 KiB), so that a uniform guest costs
 * one record whatever its size (vmmu_p2m_record_type: no backend call).
 */
int vmmu_p2m_retype(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
		    enum vmmu_p2m_type from, enum vmmu_p2m_type to);

#endif
