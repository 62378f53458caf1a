/* SPDX-License-Identifier: MIT */
/*
 * One error space for the whole library. Every public function that can
 * fail returns 0 (or a non-negative count) on success and a negative
 * enum vmmu_err value on failure. Nothing a caller or a guest controls may
 * abort the process.
 */
#ifndef VMMU_ERROR_H
#define VMMU_ERROR_H

enum vmmu_err {
	VMMU_OK = 0,
	VMMU_EINVAL = -1,       /* invalid argument */
	VMMU_ENOMEM = -2,       /* host allocation failed */
	VMMU_ENOSPC = -3,       /* a fixed-size table or pool is full */
	VMMU_ENOENT = -4,       /* no such slot / mapping / entry */
	VMMU_EEXIST = -5,       /* overlaps an existing slot or mapping */
	VMMU_EFAULT = -6,       /* address outside guest or host memory */
	VMMU_ENOTSUP = -7,      /* feature or mode not supported */
	VMMU_EDEAD = -8,        /* the VM hit an internal invariant violation */
	VMMU_EPARSE = -9,       /* malformed input */
	VMMU_EIO = -10,         /* host I/O or device error */
	VMMU_EUNHANDLED = -11,  /* the emulator cannot execute this instruction */
	VMMU_EBUSY = -12,       /* resource in use */
	VMMU_ERANGE = -13,      /* value out of range */
	VMMU_ERR_MIN_ = -14,
};

/* A static, human-readable description of err (never NULL). */
const char *vmmu_strerror(int err);

#endif
