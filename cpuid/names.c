/* SPDX-License-Identifier: MIT */
/* Names of backends, vendors and sources, for messages and JSON
 * (freestanding). */
#include "cpuid_fs.h"

const char *vmmu_backend_name(enum vmmu_backend_kind kind)
{
	if (kind == VMMU_BACKEND_AUTO)
		return "auto";
	switch (kind) {
	case VMMU_BACKEND_EPT: return "ept";
	case VMMU_BACKEND_NPT: return "npt";
	case VMMU_BACKEND_SHADOW: return "shadow";
	case VMMU_BACKEND_NONE: return "none";
	}
	return "?";
}

int vmmu_backend_parse(const char *name, enum vmmu_backend_kind *out)
{
	static const enum vmmu_backend_kind kinds[] = {
		VMMU_BACKEND_AUTO, VMMU_BACKEND_EPT, VMMU_BACKEND_NPT,
		VMMU_BACKEND_SHADOW,
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (name && vmmu_streq(name, vmmu_backend_name(kinds[i]))) {
			*out = kinds[i];
			return 0;
		}
	return -1;
}

const char *vmmu_vendor_name(enum vmmu_cpu_vendor v)
{
	switch (v) {
	case VMMU_VENDOR_INTEL: return "Intel";
	case VMMU_VENDOR_AMD: return "AMD";
	case VMMU_VENDOR_HYGON: return "Hygon";
	case VMMU_VENDOR_CENTAUR: return "Centaur/VIA";
	case VMMU_VENDOR_ZHAOXIN: return "Zhaoxin";
	case VMMU_VENDOR_OTHER: return "other";
	case VMMU_VENDOR_UNKNOWN: break;
	}
	return "unknown";
}

const char *vmmu_vmx_source_name(enum vmmu_vmx_source s)
{
	switch (s) {
	case VMMU_VMX_SRC_MSR: return "msr";
	case VMMU_VMX_SRC_FILE: return "file";
	case VMMU_VMX_SRC_INFERRED: return "inferred";
	case VMMU_VMX_SRC_NONE: break;
	}
	return "none";
}

const char *vmmu_dirty_log_name(enum vmmu_dirty_log m)
{
	switch (m) {
	case VMMU_DIRTY_PML: return "pml";
	case VMMU_DIRTY_AD_BITS: return "ad-bits";
	case VMMU_DIRTY_AUTO: return "auto";
	case VMMU_DIRTY_WRITE_PROTECT: break;
	}
	return "write-protect";
}
