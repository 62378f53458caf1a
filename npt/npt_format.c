/* SPDX-License-Identifier: MIT */
#include "npt_format.h"

const struct vmmu_pt_x86_ctx npt_pt_ctx = { .user = true, .nx = true };

int npt_pt_init(struct vmmu_pt *pt, const struct vmmu_platform *plat,
		unsigned levels, bool gbpages)
{
	return vmmu_pt_init(pt, &vmmu_pt_format_x86, &npt_pt_ctx, plat, levels,
			    gbpages ? VMMU_PT_LEVEL_1G : VMMU_PT_LEVEL_2M);
}
