/* SPDX-License-Identifier: MIT */
/* What gos_mm.c and gos_map.c share inside model/ (not an interface). */
#ifndef VMMU_MODEL_GOS_INT_H
#define VMMU_MODEL_GOS_INT_H

#include "model/gos.h"

struct pt_op {
	int (*leaf)(struct gos_cpu *c, struct gos_proc *p, uint64_t egpa,
		    uint64_t e, unsigned level, uint64_t va, void *arg);
	void *arg;
	/*
	 * Free the tables whose whole span lies in [floor, ceiling) (no
	 * other mapping there: Linux's free_pgtables); ceiling 0: none.
	 */
	uint64_t floor, ceiling;
};

uint64_t gos_lsize(const struct gos *g, unsigned level);
int gos_set_leaf(struct gos_cpu *c, struct gos_proc *p, uint64_t egpa,
	     uint64_t va, uint64_t e, unsigned level);
int gos_each_range(struct gos_cpu *c, struct gos_proc *p, uint64_t start,
	       uint64_t end, const struct pt_op *op);
int gos_zap_leaf(struct gos_cpu *c, struct gos_proc *p, uint64_t egpa,
	     uint64_t e, unsigned level, uint64_t va, void *arg);
struct gos_vma *gos_vma_find(struct gos_proc *p, uint64_t va);
int gos_vma_add(struct gos_proc *p, struct gos_vma v);
int gos_vma_cut(struct gos_proc *p, uint64_t start, uint64_t end);
void gos_free_window(const struct gos_proc *p, uint64_t start, uint64_t end,
		 uint64_t top, struct pt_op *op);

#endif
