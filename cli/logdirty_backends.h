/* SPDX-License-Identifier: MIT */
/* vmmu bench logdirty's rows per backend and variant (logdirty_backends.c). */
#ifndef VMMU_CLI_LOGDIRTY_BACKENDS_H
#define VMMU_CLI_LOGDIRTY_BACKENDS_H

#include "migrate/model.h"

#define LD_VARIANTS MODEL_VARIANTS   /* the pairs of migrate/variants.c */
#define LD_STORE_PAGES 4096     /* pages stored to per timed pass */

struct ld_variant_row {
	const char *name;       /* "ept pml", ... */
	double enable_1g_ms, enable_64g_ms, enable_1t_ms; /* dirty_enable_ram */
	double store_on_ns, store_off_ns;   /* first store to a page */
	double clean_ms;        /* the clean reporting LD_STORE_PAGES */
	unsigned long exits_per_store;      /* exits of the logged pass / pages */
};

/* Every variant; 0, or a negative vmmu_err (what failed in *why). */
int ld_variants_measure(struct ld_variant_row rows[LD_VARIANTS], char *why,
			unsigned whylen);

/*
 * The eager baseline per EPT and NPT variant (logdirty_eager.c): on tables
 * mapping every 2 MiB of a 1 GiB, 64 GiB and 1 TiB slot, the variant's
 * vmmu_dirty_enable_ram against write-protecting every leaf, in ms.
 */
#define LD_EAGER_SIZES 3
struct ld_eager_row {
	const char *name;
	double enable_ms[LD_EAGER_SIZES];
	double eager_ms[LD_EAGER_SIZES];
};

/* Rows for the EPT and NPT variants (*n of them); 0 or a vmmu_err. */
int ld_eager_measure(struct ld_eager_row rows[LD_VARIANTS], unsigned *n,
		     char *why, unsigned whylen);

#endif
