/* SPDX-License-Identifier: MIT */
/*
 * Internal interfaces of cpuid's freestanding part: CPUID leaves -> features,
 * VMX capability MSRs, the policy and its text. These files use only the
 * freestanding headers (plus <stdarg.h>) and memcpy/memset/memcmp, so that
 * a bare-metal kernel (hypervisor/) can decide exactly as `vmmu detect`.
 */
#ifndef VMMU_CPUID_FS_H
#define VMMU_CPUID_FS_H

#include <stdarg.h>
#include <stddef.h>

#include "vmmu/detect.h"

/*
 * snprintf for the formats the policy uses: %s %c %d %i %u %x %X %%, with
 * an optional precision (".N", "%.0u" of 0 prints nothing, as in C) and the
 * l, ll, z length modifiers. Always NUL-terminates when len > 0; returns
 * the length the whole text needs.
 */
size_t vmmu_vfmt(char *buf, size_t len, const char *fmt, va_list ap);
size_t vmmu_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Raw CPUID words -> features; leaf 0 -> vendor; leaf 1 and the brand
 * string -> identification (no codename). Pure. */
void vmmu_features_from_leaves(const struct vmmu_cpuid_leaves *l,
			       struct vmmu_cpu_features *feat);
enum vmmu_cpu_vendor vmmu_vendor_from_leaves(const struct vmmu_cpuid_leaves *l,
					     char vendor_str[16]);
void vmmu_ident_from_leaves(const struct vmmu_cpuid_leaves *l,
			    struct vmmu_cpu_ident *cpu);

/*
 * Replace inferred VMX capabilities with the MSRs' values (0x482, then
 * 0x48B when secondary controls exist, then 0x48C when EPT or VPID can be
 * enabled). rdmsr NULL, or a failing read, keeps the inference and records
 * why in host->vmx.note (unavailable: the reason for NULL).
 */
void vmmu_read_vmx_msrs(struct vmmu_host_info *host, vmmu_rdmsr_fn rdmsr,
			void *ctx, const char *unavailable);

/* NUL-terminated string equality (no strcmp in the freestanding set). */
bool vmmu_streq(const char *a, const char *b);

#endif
