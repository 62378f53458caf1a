/* SPDX-License-Identifier: MIT */
/* The CLI's pfn index (pfn_index.h). */
#include <stdlib.h>

#include "pfn_index.h"
#include "vmmu/error.h"

static struct pfn_slot *probe(struct pfn_slot *slot, size_t cap, uint64_t pfn)
{
	size_t i = (size_t)((pfn * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);

	while (slot[i].pos1 && slot[i].pfn != pfn)
		i = (i + 1) & (cap - 1);
	return &slot[i];
}

int pfn_index_init(struct pfn_index *x, size_t cap)
{
	x->slot = calloc(cap, sizeof(*x->slot));
	x->cap = cap;
	x->n = 0;
	return x->slot ? 0 : VMMU_ENOMEM;
}

void pfn_index_fini(struct pfn_index *x)
{
	free(x->slot);
	x->slot = NULL;
	x->cap = x->n = 0;
}

bool pfn_index_get(const struct pfn_index *x, uint64_t pfn, uint32_t *pos)
{
	const struct pfn_slot *s = probe(x->slot, x->cap, pfn);

	if (!s->pos1)
		return false;
	*pos = s->pos1 - 1;
	return true;
}

int pfn_index_put(struct pfn_index *x, uint64_t pfn, uint32_t pos)
{
	struct pfn_slot *s;

	if ((x->n + 1) * 2 > x->cap) {
		size_t cap = 2 * x->cap, i;
		struct pfn_slot *ns = calloc(cap, sizeof(*ns));

		if (!ns)
			return VMMU_ENOMEM;
		for (i = 0; i < x->cap; i++)
			if (x->slot[i].pos1)
				*probe(ns, cap, x->slot[i].pfn) = x->slot[i];
		free(x->slot);
		x->slot = ns;
		x->cap = cap;
	}
	s = probe(x->slot, x->cap, pfn);
	s->pfn = pfn;
	s->pos1 = pos + 1;
	x->n++;
	return 0;
}
