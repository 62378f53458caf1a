/* SPDX-License-Identifier: MIT */
/* Internal interfaces of the cpuid module (libcpuid's raw layout). */
#ifndef VMMU_CPUID_INTERNAL_H
#define VMMU_CPUID_INTERNAL_H

#include <stddef.h>
#include <libcpuid/libcpuid.h>

#include "vmmu/detect.h"
#include "cpuid_fs.h"

/*
 * Largest dump file accepted. Real dumps of a 256-thread machine stay far
 * below this; anything larger is refused rather than read.
 */
#define VMMU_DUMP_MAX_BYTES (16u << 20)

/* libcpuid's raw words -> vmmu's leaves (the same layout, sub-leaf 0). */
void vmmu_leaves_from_raw(const struct cpu_raw_data_t *raw,
			  struct vmmu_cpuid_leaves *leaves);
/* Raw CPUID words -> features (pure: no I/O, no CPUID instruction). */
void vmmu_decode_features(const struct cpu_raw_data_t *raw,
			  struct vmmu_cpu_features *feat);
/*
 * Identification: vendor, display family/model/stepping from leaf 1 (SDM
 * Vol 2A CPUID, "Feature Information"), brand string, and libcpuid's
 * codename when cpu_identify recognizes the part.
 */
void vmmu_identify(struct cpu_raw_data_t *raw, struct vmmu_cpu_ident *cpu);

/*
 * Read a CPUID dump in libcpuid's serialization or AIDA64's text form into
 * raw (first logical CPU only). 0 or VMMU_EPARSE / VMMU_EIO with err. note
 * (may be NULL) receives the absent leaves the decision does not read, or
 * "".
 */
int vmmu_dump_read(const char *path, struct cpu_raw_data_t *raw,
		   char *err, size_t errlen, char *note, size_t notelen);

/* Fill host from raw words (identification, features, VMX inference). */
void vmmu_host_from_raw(struct vmmu_host_info *host,
			struct cpu_raw_data_t *raw);

/*
 * Read a whole file of at most max bytes into a new NUL-terminated buffer.
 * 0, or VMMU_EIO (cannot open/read), VMMU_EPARSE (too large), with err.
 */
int vmmu_read_small_file(const char *path, size_t max, char **out,
			 size_t *len, char *err, size_t errlen);

/* vmmu's microarchitecture of an AMD or Hygon part (cpu->uarch). */
void vmmu_uarch_amd(struct vmmu_cpu_ident *cpu);
/* Compare libcpuid's codename with cpu->uarch (cpu->codename_check). */
void vmmu_check_codename(struct vmmu_cpu_ident *cpu);

/* VM_CR.SVMDIS through rdmsr, when SVM is reported; unreadable: unknown. */
void vmmu_read_svm_msrs(struct vmmu_host_info *host, vmmu_rdmsr_fn rdmsr,
			void *ctx);

#endif
