/* SPDX-License-Identifier: MIT */
/*
 * Protection keys on KVM: probed at run time, never assumed. The guest
 * needs CPUID 7.0:ECX.PKU in KVM's supported CPUID, KVM_SET_SREGS must keep
 * CR4.PKE, and KVM_SET_XSAVE must keep PKRU (XSAVE state component 9, at
 * the offset CPUID 0xD.9 EBX gives in the standard format).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmmu/error.h"
#include "oracle.h"

#define XSTATE_BV_OFF 512       /* XSAVE header: XSTATE_BV (SDM Vol. 1 13.4.2) */
#define XFEATURE_PKRU 9

/*
 * Read-modify-write of the vCPU's XSAVE area. An area larger than struct
 * kvm_xsave (AMX state) needs KVM_GET_XSAVE2 with KVM_CAP_XSAVE2's size;
 * KVM_SET_XSAVE takes the same buffer.
 */
static int xsave_pkru(struct orc_vm *vm, uint32_t pkru, bool set,
		      uint32_t *got)
{
	int size = ioctl(vm->k.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	size_t len = size > (int)sizeof(struct kvm_xsave) ? (size_t)size
		     : sizeof(struct kvm_xsave);
	struct kvm_xsave *xs = calloc(1, len);
	uint8_t *area = (uint8_t *)xs;
	uint64_t bv;
	int rc = 0;

	if (!xs)
		return VMMU_ENOMEM;
	if (ioctl(vm->k.vcpu_fd, size > 0 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
		  xs) < 0 || vm->pkru_off + 4 > len) {
		free(xs);
		return VMMU_EIO;
	}
	memcpy(&bv, area + XSTATE_BV_OFF, 8);
	if (!set) {
		*got = 0;       /* an init-state component reads as 0 */
		if (bv >> XFEATURE_PKRU & 1)
			memcpy(got, area + vm->pkru_off, 4);
	} else {
		memcpy(area + vm->pkru_off, &pkru, 4);
		bv |= 1ULL << XFEATURE_PKRU;
		memcpy(area + XSTATE_BV_OFF, &bv, 8);
		rc = ioctl(vm->k.vcpu_fd, KVM_SET_XSAVE, xs) < 0 ? VMMU_EIO : 0;
	}
	free(xs);
	return rc;
}

int orc_set_pkru(struct orc_vm *vm, uint32_t pkru)
{
	int rc;

	if (vm->pkru == pkru)
		return 0;
	rc = xsave_pkru(vm, pkru, true, NULL);
	if (rc == 0)
		vm->pkru = pkru;
	return rc;
}

/* CR4.PKE through KVM_SET_SREGS, read back, then the old state again. */
static bool pke_sticks(struct orc_vm *vm)
{
	struct kvm_sregs s = vm->sregs, back;
	bool ok;

	s.cr4 |= X86_CR4_PKE;
	if (kvmh_set_sregs(&vm->k, &s) < 0)
		return false;
	ok = kvmh_get_sregs(&vm->k, &back) == 0 && (back.cr4 & X86_CR4_PKE);
	kvmh_set_sregs(&vm->k, &vm->sregs);
	return ok;
}

void orc_pku_probe(struct orc_vm *vm)
{
	const uint32_t probe = 0x5555555cu;
	uint32_t got = 0;

	vm->pku = false;
	if (!vm->cpuid_pku) {
		snprintf(vm->pku_note, sizeof(vm->pku_note), "KVM's supported "
			 "CPUID has no PKU (leaf 7.0 ECX[3])");
		return;
	}
	if (vm->pkru_off < 576) {
		snprintf(vm->pku_note, sizeof(vm->pku_note), "no usable PKRU "
			 "offset in KVM's CPUID 0xD.9 (EBX %u)", vm->pkru_off);
		return;
	}
	if (!pke_sticks(vm)) {
		snprintf(vm->pku_note, sizeof(vm->pku_note), "KVM_SET_SREGS "
			 "does not keep CR4.PKE");
		return;
	}
	if (xsave_pkru(vm, probe, true, NULL) < 0 ||
	    xsave_pkru(vm, 0, false, &got) < 0 || got != probe) {
		snprintf(vm->pku_note, sizeof(vm->pku_note), "KVM_SET_XSAVE "
			 "does not keep PKRU (state component 9): wrote 0x%x, "
			 "read 0x%x", probe, got);
		return;
	}
	vm->pkru = probe;
	vm->pku = orc_set_pkru(vm, 0) == 0;
	if (!vm->pku)
		snprintf(vm->pku_note, sizeof(vm->pku_note), "KVM_SET_XSAVE "
			 "failed restoring PKRU");
}
