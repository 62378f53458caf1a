/* SPDX-License-Identifier: MIT */
/*
 * AMD nested paging (NPT): tables in the ordinary long-mode format under
 * nCR3 (AMD APM Vol. 2 15.25), and the #NPF exit information.
 */
#ifndef VMMU_NPT_FORMAT_H
#define VMMU_NPT_FORMAT_H

#include "core/pgtable.h"
#include "core/pt_x86.h"

/* EXITINFO1 of a #NPF exit (APM Vol. 2 15.25.6): a #PF error code plus: */
#define NPF_INFO_BIT_FINAL_GPA  32  /* fault translating the final gpa */
#define NPF_INFO_BIT_GUEST_PT   33  /* fault on a guest page-table access */
#define NPF_INFO_FINAL_GPA      (1ULL << NPF_INFO_BIT_FINAL_GPA)
#define NPF_INFO_GUEST_PT       (1ULL << NPF_INFO_BIT_GUEST_PT)

/*
 * Nested walks are user accesses, so every NPT entry carries U/S; NX is
 * honoured when the host runs with EFER.NXE, which vmmu assumes.
 */
extern const struct vmmu_pt_x86_ctx npt_pt_ctx;

/*
 * An NPT table tree: 4-level, or 5-level when the guest runs with LA57
 * (the nested walk has the host's depth: APM Vol. 2 15.25.3 and 5.3.5).
 */
int npt_pt_init(struct vmmu_pt *pt, const struct vmmu_platform *plat,
		unsigned levels, bool gbpages);

/* nCR3 for the tree: the root's address (APM 15.25.3). */
static inline uint64_t npt_make_ncr3(const struct vmmu_pt *pt)
{
	return pt->root.v;
}

#endif
