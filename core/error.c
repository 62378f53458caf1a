/* SPDX-License-Identifier: MIT */
#include "vmmu/error.h"

const char *vmmu_strerror(int err)
{
	switch (err) {
	case VMMU_OK: return "success";
	case VMMU_EINVAL: return "invalid argument";
	case VMMU_ENOMEM: return "out of host memory";
	case VMMU_ENOSPC: return "table or pool full";
	case VMMU_ENOENT: return "no such entry";
	case VMMU_EEXIST: return "overlaps an existing entry";
	case VMMU_EFAULT: return "address not backed by memory";
	case VMMU_ENOTSUP: return "not supported";
	case VMMU_EDEAD: return "VM is dead after an internal error";
	case VMMU_EPARSE: return "malformed input";
	case VMMU_EIO: return "host I/O error";
	case VMMU_EUNHANDLED: return "instruction cannot be emulated";
	case VMMU_EBUSY: return "resource busy";
	case VMMU_ERANGE: return "value out of range";
	default: return "unknown error";
	}
}
