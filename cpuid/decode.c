/* SPDX-License-Identifier: MIT */
/*
 * libcpuid's raw CPUID words -> vmmu's leaves, decoded by features.c; and
 * libcpuid's codename for the identification.
 */
#include <stdio.h>
#include <string.h>

#include "cpuid_internal.h"

_Static_assert(MAX_CPUID_LEVEL == VMMU_CPUID_MAX_LEAVES &&
	       MAX_EXT_CPUID_LEVEL == VMMU_CPUID_MAX_LEAVES && EAX == 0 &&
	       EBX == 1 && ECX == 2 && EDX == 3,
	       "libcpuid's raw layout is vmmu's struct vmmu_cpuid_leaves");

void vmmu_leaves_from_raw(const struct cpu_raw_data_t *raw,
			  struct vmmu_cpuid_leaves *l)
{
	memcpy(l->basic, raw->basic_cpuid, sizeof(l->basic));
	memcpy(l->ext, raw->ext_cpuid, sizeof(l->ext));
}

void vmmu_decode_features(const struct cpu_raw_data_t *raw,
			  struct vmmu_cpu_features *f)
{
	struct vmmu_cpuid_leaves l;

	vmmu_leaves_from_raw(raw, &l);
	vmmu_features_from_leaves(&l, f);
}

static void silent_warning(const char *msg)
{
	(void)msg;      /* libcpuid's warnings would go to stderr */
}

void vmmu_identify(struct cpu_raw_data_t *raw, struct vmmu_cpu_ident *cpu)
{
	struct vmmu_cpuid_leaves l;
	struct cpu_id_t id;

	vmmu_leaves_from_raw(raw, &l);
	vmmu_ident_from_leaves(&l, cpu);
	cpuid_set_warn_function(silent_warning);
	memset(&id, 0, sizeof(id));
	if (cpu_identify(raw, &id) == 0) {
		cpu->identified = true;
		snprintf(cpu->codename, sizeof(cpu->codename), "%s",
			 id.cpu_codename);
		if (!cpu->brand[0])
			snprintf(cpu->brand, sizeof(cpu->brand), "%s",
				 id.brand_str);
	}
}

void vmmu_host_from_raw(struct vmmu_host_info *host,
			struct cpu_raw_data_t *raw)
{
	vmmu_identify(raw, &host->cpu);
	vmmu_decode_features(raw, &host->feat);
	vmmu_infer_vmx_caps(&host->cpu, &host->feat, &host->vmx);
}
