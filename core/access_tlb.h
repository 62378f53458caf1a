/* SPDX-License-Identifier: MIT */
/* The access path's use of the vCPU's TLB model (core/tlb.h). */
#ifndef VMMU_CORE_ACCESS_TLB_H
#define VMMU_CORE_ACCESS_TLB_H

#include "vmmu/access.h"

/* A TLB hit that allows acc: *hpa set. Counts hits and misses. */
bool access_tlb_lookup(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		       hpa_t *hpa);
/* Cache the translation of a successful hardware walk. */
void access_tlb_fill(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		     const struct vmmu_hw_walk *hw);

#endif
