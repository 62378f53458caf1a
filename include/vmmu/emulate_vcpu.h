/* SPDX-License-Identifier: MIT */
/*
 * The shared emulator on a vCPU: what an exit handler runs for a faulting
 * instruction (vmmu_vcpu_emulate in vmmu/access.h).
 *
 * The instruction at regs.rip is fetched, its operands read and its
 * results written as the hypervisor does it: each linear address is
 * translated by the guest walker over the VM's guest-physical memory with
 * the faulting access's CPL (guest A/D bits set as the CPU would, a guest
 * fault becomes the exception to inject), never through the TLB or the
 * backend's tables that trapped it; stores go to guest memory with
 * vmmu_vm_write_gpa (so the backend sees them), MMIO to the VM's device
 * callback, writes to ROM are dropped. Runs with the VM lock held, inside
 * the backend's handler; takes no lock itself.
 */
#ifndef VMMU_EMULATE_VCPU_H
#define VMMU_EMULATE_VCPU_H

#include "vmmu/access.h"
#include "vmmu/emulate.h"

struct vmmu_emu_vcpu {
	struct vmmu_emu *emu;           /* the caller's emulator context */
	struct vmmu_emu_regs regs;      /* the vCPU's registers */
	unsigned mode;                  /* 16, 32 or 64 (code segment size) */
	struct vmmu_emu_result last;    /* the last instruction's result */
	uint64_t instructions;          /* instructions emulated */
	uint8_t cpl;                    /* set per call from the faulting op */
	struct vmmu_vcpu *vcpu;         /* set by vmmu_emu_vcpu_install */
};

/* Make ev the emulator of vcpu's exit handlers. */
void vmmu_emu_vcpu_install(struct vmmu_vcpu *vcpu, struct vmmu_emu_vcpu *ev);

#endif
