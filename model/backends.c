/* SPDX-License-Identifier: MIT */
/*
 * The backends `vmmu run` offers: every vmmu_backend_NAME that
 * include/vmmu/backend.h declares (run_backends.inc is generated from it
 * by model/CMakeLists.txt), in the order ept, npt, shadow, others, direct.
 */
#include <string.h>

#include "model/model.h"

#define VMMU_RUN_BACKEND(n) { #n, VMMU_BACKEND_NONE, &vmmu_backend_##n },
static struct run_backend table[] = {
#include "run_backends.inc"
};
#undef VMMU_RUN_BACKEND

#define NBACKENDS (sizeof(table) / sizeof(table[0]))

static const char *const order[] = { "ept", "npt", "shadow" };
static const enum vmmu_backend_kind kinds[] = {
	VMMU_BACKEND_EPT, VMMU_BACKEND_NPT, VMMU_BACKEND_SHADOW,
};

static unsigned rank(const struct run_backend *b)
{
	unsigned i;

	for (i = 0; i < 3; i++)
		if (!strcmp(b->name, order[i]))
			return i;
	return strcmp(b->name, "direct") ? 3 : 4;
}

static const struct run_backend *sorted[NBACKENDS];
static unsigned nsorted;

static void init(void)
{
	unsigned i, j, r;

	if (nsorted)
		return;
	for (i = 0; i < NBACKENDS; i++)
		for (j = 0; j < 3; j++)
			if (!strcmp(table[i].name, order[j]))
				table[i].kind = kinds[j];
	for (r = 0; r <= 4; r++)
		for (i = 0; i < NBACKENDS; i++)
			if (rank(&table[i]) == r)
				sorted[nsorted++] = &table[i];
}

unsigned run_backend_count(void)
{
	init();
	return nsorted;
}

const struct run_backend *run_backend_at(unsigned i)
{
	init();
	return i < nsorted ? sorted[i] : NULL;
}

const struct run_backend *run_backend_find(const char *name)
{
	unsigned i;

	init();
	for (i = 0; i < nsorted; i++)
		if (!strcmp(sorted[i]->name, name))
			return sorted[i];
	return NULL;
}
