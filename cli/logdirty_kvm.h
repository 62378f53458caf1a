/* SPDX-License-Identifier: MIT */
/* vmmu bench logdirty's KVM rounds (cli/logdirty_kvm.c). */
#ifndef VMMU_CLI_LOGDIRTY_KVM_H
#define VMMU_CLI_LOGDIRTY_KVM_H

#define LD_KVM_PAGES 1000       /* pages the guest dirties per round */

enum ld_kvm_mode { LD_KVM_BITMAP, LD_KVM_MANUAL, LD_KVM_RING, LD_KVM_MODES };

struct ld_kvm_row {
	const char *name;       /* "bitmap", "manual", "ring" */
	double ms;              /* fastest harvest, -1: not measured */
	long pages;             /* pages it reported (>= LD_KVM_PAGES) */
	char note[200];         /* why not measured */
};

/* Every mode on this machine's KVM; a row's note says why one failed. */
void ld_kvm_measure(struct ld_kvm_row rows[LD_KVM_MODES]);

#endif
