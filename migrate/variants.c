/* SPDX-License-Identifier: MIT */
/*
 * The model VM's backend and dirty-tracking pairs, and the CPU profiles
 * that offer every variant (migrate/model.h). Apart from model.c so that a
 * program using only the model links no backend it does not name.
 */
#include "migrate/model.h"

const struct model_variant model_variants[MODEL_VARIANTS] = {
	{ "direct wp", VMMU_BACKEND_NONE, NULL, VMMU_DIRTY_WRITE_PROTECT, 0 },
	{ "ept wp", VMMU_BACKEND_EPT, &vmmu_backend_ept, VMMU_DIRTY_WRITE_PROTECT, 0 },
	{ "ept wp-2m", VMMU_BACKEND_EPT, &vmmu_backend_ept,
	  VMMU_DIRTY_WRITE_PROTECT, VMMU_DIRTY_LOG_2M },
	{ "ept ad", VMMU_BACKEND_EPT, &vmmu_backend_ept, VMMU_DIRTY_AD_BITS, 0 },
	{ "ept pml", VMMU_BACKEND_EPT, &vmmu_backend_ept, VMMU_DIRTY_PML, 0 },
	{ "npt wp", VMMU_BACKEND_NPT, &vmmu_backend_npt, VMMU_DIRTY_WRITE_PROTECT, 0 },
	{ "npt wp-2m", VMMU_BACKEND_NPT, &vmmu_backend_npt,
	  VMMU_DIRTY_WRITE_PROTECT, VMMU_DIRTY_LOG_2M },
	{ "npt ad", VMMU_BACKEND_NPT, &vmmu_backend_npt, VMMU_DIRTY_AD_BITS, 0 },
	{ "shadow wp", VMMU_BACKEND_SHADOW, &vmmu_backend_shadow,
	  VMMU_DIRTY_WRITE_PROTECT, 0 },
};

/* The default EPT profile (ept_backend.c) with PML, as Broadwell on has. */
static const struct vmmu_ept_caps full_ept = {
	.walk5 = true, .ad = true, .pml = true, .execute_only = true,
	.page_2m = true, .page_1g = true, .maxphyaddr = 46,
};

void model_cfg_full_profiles(struct model_cfg *cfg, struct vmmu_npt_config *npt)
{
	vmmu_npt_config_default(npt);
	npt->ad_harvest = true;
	cfg->ept_caps = &full_ept;
	cfg->npt_cfg = npt;
}

void model_cfg_variant(struct model_cfg *cfg, const struct model_variant *v,
		       struct vmmu_npt_config *npt)
{
	cfg->kind = v->kind;
	cfg->ops = v->ops;
	cfg->dirty_fixed = true;
	cfg->dirty = v->dirty;
	cfg->dirty_flags = v->flags;
	model_cfg_full_profiles(cfg, npt);
}
