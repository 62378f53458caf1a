/* SPDX-License-Identifier: MIT */
/*
 * Intel microarchitecture -> VMX capabilities, for CPUID dumps (EPT is not
 * in CPUID; SDM Vol 3D A.3.3/A.10 put it in MSRs that a dump lacks).
 *
 * Keyed by display family 6 and display model (SDM Vol 4, Table 2-1).
 * Each generation adds to the one before; docs/detect.md gives the source
 * of each step. Anything the table cannot vouch for (execute-only EPT,
 * mode-based execute control, Atom A/D bits and PML) is assumed absent:
 * a conservative answer degrades a feature, it never picks a backend the
 * CPU cannot run. Exact values come from --vmx-msrs.
 */
#include <stdio.h>
#include <string.h>

#include "cpuid_internal.h"

enum ept_gen {
	GEN_NO_EPT = 0,         /* VMX without EPT (Core 2, Yonah, Bonnell) */
	GEN_NEHALEM,            /* EPT 4-level, WB, 2 MiB, INVEPT, VPID */
	GEN_WESTMERE,           /* + unrestricted guest, 1 GiB leaves */
	GEN_HASWELL,            /* + EPT accessed/dirty flags */
	GEN_BROADWELL,          /* + page-modification logging */
	GEN_ICELAKE,            /* + 5-level EPT where CPUID reports LA57 */
	GEN_ATOM_EPT,           /* Silvermont and later Atoms: base EPT */
};

struct uarch_entry {
	unsigned char model;
	unsigned char gen;
	const char *name;
};

static const struct uarch_entry intel_fam6[] = {
	{ 0x0e, GEN_NO_EPT, "Yonah" },
	{ 0x0f, GEN_NO_EPT, "Merom" },
	{ 0x16, GEN_NO_EPT, "Merom" },
	{ 0x17, GEN_NO_EPT, "Penryn" },
	{ 0x1d, GEN_NO_EPT, "Penryn" },
	{ 0x1c, GEN_NO_EPT, "Bonnell" },
	{ 0x26, GEN_NO_EPT, "Bonnell" },
	{ 0x27, GEN_NO_EPT, "Saltwell" },
	{ 0x35, GEN_NO_EPT, "Saltwell" },
	{ 0x36, GEN_NO_EPT, "Saltwell" },
	{ 0x1a, GEN_NEHALEM, "Nehalem" },
	{ 0x1e, GEN_NEHALEM, "Nehalem" },
	{ 0x1f, GEN_NEHALEM, "Nehalem" },
	{ 0x2e, GEN_NEHALEM, "Nehalem" },
	{ 0x25, GEN_WESTMERE, "Westmere" },
	{ 0x2c, GEN_WESTMERE, "Westmere" },
	{ 0x2f, GEN_WESTMERE, "Westmere" },
	{ 0x2a, GEN_WESTMERE, "Sandy Bridge" },
	{ 0x2d, GEN_WESTMERE, "Sandy Bridge" },
	{ 0x3a, GEN_WESTMERE, "Ivy Bridge" },
	{ 0x3e, GEN_WESTMERE, "Ivy Bridge" },
	{ 0x3c, GEN_HASWELL, "Haswell" },
	{ 0x3f, GEN_HASWELL, "Haswell" },
	{ 0x45, GEN_HASWELL, "Haswell" },
	{ 0x46, GEN_HASWELL, "Haswell" },
	{ 0x3d, GEN_BROADWELL, "Broadwell" },
	{ 0x47, GEN_BROADWELL, "Broadwell" },
	{ 0x4f, GEN_BROADWELL, "Broadwell" },
	{ 0x56, GEN_BROADWELL, "Broadwell" },
	{ 0x4e, GEN_BROADWELL, "Skylake" },
	{ 0x5e, GEN_BROADWELL, "Skylake" },
	{ 0x55, GEN_BROADWELL, "Skylake" },
	{ 0x8e, GEN_BROADWELL, "Skylake" },     /* Kaby/Whiskey/Comet-U */
	{ 0x9e, GEN_BROADWELL, "Skylake" },     /* Kaby/Coffee Lake */
	{ 0xa5, GEN_BROADWELL, "Skylake" },     /* Comet Lake */
	{ 0xa6, GEN_BROADWELL, "Skylake" },
	{ 0x66, GEN_BROADWELL, "Palm Cove" },   /* Cannon Lake */
	{ 0x7d, GEN_ICELAKE, "Sunny Cove" },
	{ 0x7e, GEN_ICELAKE, "Sunny Cove" },
	{ 0x6a, GEN_ICELAKE, "Sunny Cove" },    /* Ice Lake server */
	{ 0x6c, GEN_ICELAKE, "Sunny Cove" },
	{ 0x8a, GEN_ICELAKE, "Sunny Cove" },    /* Lakefield */
	{ 0x8c, GEN_ICELAKE, "Willow Cove" },
	{ 0x8d, GEN_ICELAKE, "Willow Cove" },
	{ 0xa7, GEN_ICELAKE, "Cypress Cove" },
	{ 0x97, GEN_ICELAKE, "Golden Cove" },
	{ 0x9a, GEN_ICELAKE, "Golden Cove" },
	{ 0x8f, GEN_ICELAKE, "Golden Cove" },   /* Sapphire Rapids */
	{ 0xb7, GEN_ICELAKE, "Raptor Cove" },
	{ 0xba, GEN_ICELAKE, "Raptor Cove" },
	{ 0xbf, GEN_ICELAKE, "Raptor Cove" },
	{ 0xcf, GEN_ICELAKE, "Raptor Cove" },   /* Emerald Rapids */
	{ 0xaa, GEN_ICELAKE, "Redwood Cove" },
	{ 0xac, GEN_ICELAKE, "Redwood Cove" },
	{ 0xad, GEN_ICELAKE, "Redwood Cove" },  /* Granite Rapids */
	{ 0xae, GEN_ICELAKE, "Redwood Cove" },
	{ 0xb5, GEN_ICELAKE, "Redwood Cove" },  /* Arrow Lake-U */
	{ 0xbd, GEN_ICELAKE, "Lion Cove" },
	{ 0xc5, GEN_ICELAKE, "Lion Cove" },
	{ 0xc6, GEN_ICELAKE, "Lion Cove" },
	{ 0xcc, GEN_ICELAKE, "Cougar Cove" },
	{ 0x37, GEN_ATOM_EPT, "Silvermont" },
	{ 0x4a, GEN_ATOM_EPT, "Silvermont" },
	{ 0x4d, GEN_ATOM_EPT, "Silvermont" },
	{ 0x5a, GEN_ATOM_EPT, "Silvermont" },
	{ 0x5d, GEN_ATOM_EPT, "Silvermont" },
	{ 0x57, GEN_ATOM_EPT, "Silvermont" },   /* Knights Landing */
	{ 0x85, GEN_ATOM_EPT, "Silvermont" },   /* Knights Mill */
	{ 0x4c, GEN_ATOM_EPT, "Airmont" },
	{ 0x75, GEN_ATOM_EPT, "Airmont" },
	{ 0x5c, GEN_ATOM_EPT, "Goldmont" },
	{ 0x5f, GEN_ATOM_EPT, "Goldmont" },
	{ 0x7a, GEN_ATOM_EPT, "Goldmont Plus" },
	{ 0x86, GEN_ATOM_EPT, "Tremont" },
	{ 0x96, GEN_ATOM_EPT, "Tremont" },
	{ 0x9c, GEN_ATOM_EPT, "Tremont" },
	{ 0xbe, GEN_ATOM_EPT, "Gracemont" },
	{ 0xaf, GEN_ATOM_EPT, "Crestmont" },
	{ 0xb6, GEN_ATOM_EPT, "Crestmont" },
};

static const struct uarch_entry *lookup(int family, int model)
{
	size_t i;

	if (family != 6)
		return NULL;
	for (i = 0; i < sizeof(intel_fam6) / sizeof(intel_fam6[0]); i++)
		if (intel_fam6[i].model == model)
			return &intel_fam6[i];
	return NULL;
}

static void apply_gen(struct vmmu_vmx_caps *c, enum ept_gen gen, bool la57)
{
	if (gen == GEN_NO_EPT)
		return;
	/* Every EPT part: 4-level walks, UC/WB tables, 2 MiB, INVEPT, VPID. */
	c->ept = c->vpid = true;
	c->ept_wl4 = c->ept_uc = c->ept_wb = c->ept_2m = true;
	c->invept = c->invept_single = c->invept_all = true;
	if (gen == GEN_ATOM_EPT) {
		c->unrestricted_guest = true;
		return;
	}
	c->unrestricted_guest = c->ept_1g = gen >= GEN_WESTMERE;
	c->ept_ad = gen >= GEN_HASWELL;
	c->pml = gen >= GEN_BROADWELL;
	c->ept_wl5 = gen >= GEN_ICELAKE && la57;
}

void vmmu_infer_vmx_caps(struct vmmu_cpu_ident *cpu,
			 const struct vmmu_cpu_features *feat,
			 struct vmmu_vmx_caps *caps)
{
	const struct uarch_entry *e = NULL;

	memset(caps, 0, sizeof(*caps));
	if (cpu->vendor == VMMU_VENDOR_INTEL) {
		e = lookup(cpu->family, cpu->model);
		if (cpu->family == 15)
			snprintf(cpu->uarch, sizeof(cpu->uarch), "NetBurst");
		else if (cpu->family == 6 && cpu->model < 0x0e)
			snprintf(cpu->uarch, sizeof(cpu->uarch), "P6");
	}
	if (e)
		snprintf(cpu->uarch, sizeof(cpu->uarch), "%s", e->name);
	vmmu_uarch_amd(cpu);
	vmmu_check_codename(cpu);
	if (!feat->vmx) {
		snprintf(caps->note, sizeof(caps->note),
			 "CPUID.1:ECX.VMX[bit 5] is clear");
		return;
	}
	if (cpu->vendor != VMMU_VENDOR_INTEL || (!e && cpu->family != 15 &&
	    !(cpu->family == 6 && cpu->model < 0x0e))) {
		snprintf(caps->note, sizeof(caps->note),
			 "VMX capabilities of %s family %d model 0x%x are not "
			 "in vmmu's table; give --vmx-msrs",
			 vmmu_vendor_name(cpu->vendor), cpu->family,
			 cpu->model);
		return;
	}
	caps->src = VMMU_VMX_SRC_INFERRED;
	apply_gen(caps, e ? (enum ept_gen)e->gen : GEN_NO_EPT, feat->la57);
	snprintf(caps->note, sizeof(caps->note),
		 "inferred from the microarchitecture (%s); exact values "
		 "need the VMX capability MSRs", cpu->uarch);
}
