/* SPDX-License-Identifier: MIT */
/*
 * A minimal KVM host: one VM with one flat slot of guest memory at gpa 0
 * and one vCPU. Used by the KVM oracle tests and by `vmmu bench exits`.
 * Linux only; everything else in vmmu stays independent of it.
 */
#ifndef VMMU_HOST_KVM_VCPU_H
#define VMMU_HOST_KVM_VCPU_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct kvmh {
	int kvm_fd, vm_fd, vcpu_fd;
	uint8_t *mem;           /* guest-physical 0 .. mem_size */
	size_t mem_size;
	struct kvm_run *run;
	size_t run_size;
	char why[160];          /* reason for the last failure */
	struct kvm_dirty_gfn *ring;     /* the vCPU's dirty ring, or NULL */
	uint32_t ring_entries, ring_next;
};

/*
 * Open /dev/kvm and build the VM. Returns 0, or a negative vmmu_err with
 * k->why explaining (VMMU_ENOTSUP when /dev/kvm is absent or unusable).
 */
int kvmh_open(struct kvmh *k, size_t mem_size);
void kvmh_close(struct kvmh *k);

/* What kvmh_open_ex may change from kvmh_open's defaults. */
struct kvmh_config {
	const char *device;     /* NULL: "/dev/kvm" */
	size_t mem_size;
	size_t mem_align;       /* 0: any; else a power of two (e.g. 2 MiB,
				 * so that huge host pages can back it) */
	uint32_t dirty_ring_bytes;  /* 0: none; else KVM_CAP_DIRTY_LOG_RING
				     * of this size per vCPU, mapped at
				     * k->ring (enabled before the vCPU) */
};

/*
 * Slot 0 (all guest memory) again with flags (KVM_MEM_LOG_DIRTY_PAGES to
 * start dirty logging, 0 to stop). 0 or VMMU_EIO, k->why set.
 */
int kvmh_set_slot0_flags(struct kvmh *k, uint32_t flags);
/*
 * Harvest the dirty ring (KVM API, "KVM_CAP_DIRTY_LOG_RING"): every entry
 * the kernel published since the last harvest is passed to fn (slot,
 * offset in pages) and handed back, then KVM_RESET_DIRTY_RINGS re-arms the
 * pages. The number harvested, or a negative vmmu_err.
 */
long kvmh_ring_harvest(struct kvmh *k,
		       void (*fn)(void *ctx, uint32_t slot, uint64_t offset),
		       void *ctx);

/* kvmh_open with a device path and an aligned guest memory mapping. */
int kvmh_open_ex(struct kvmh *k, const struct kvmh_config *cfg);

/*
 * Put the vCPU in 64-bit mode with flat segments: CS selector 0x8 (DPL 0),
 * data 0x10, user code 0x1b / data 0x23, TSS 0x28 with base tss_gpa.
 * The GDT itself must be in guest memory at gdt_gpa (kvmh_write_gdt puts
 * one there); the IDT at idt_gpa with limit idt_limit.
 */
int kvmh_set_long_mode(struct kvmh *k, uint64_t cr0, uint64_t cr3,
		       uint64_t cr4, uint64_t efer, uint64_t gdt_gpa,
		       uint64_t idt_gpa, uint16_t idt_limit, uint64_t tss_gpa);
/* Write the 7-entry GDT kvmh_set_long_mode expects (TSS limit 0x67). */
void kvmh_write_gdt(struct kvmh *k, uint64_t gdt_gpa, uint64_t tss_gpa);

int kvmh_get_regs(struct kvmh *k, struct kvm_regs *r);
int kvmh_set_regs(struct kvmh *k, const struct kvm_regs *r);
int kvmh_get_sregs(struct kvmh *k, struct kvm_sregs *s);
int kvmh_set_sregs(struct kvmh *k, const struct kvm_sregs *s);

/*
 * The CPUID KVM supports (KVM_GET_SUPPORTED_CPUID), newly allocated (free()
 * it), or NULL with k->why set.
 */
struct kvm_cpuid2 *kvmh_get_supported_cpuid(struct kvmh *k);
/* Give the vCPU this CPUID (KVM_SET_CPUID2). 0 or negative vmmu_err. */
int kvmh_set_cpuid(struct kvmh *k, const struct kvm_cpuid2 *cpuid);
/*
 * Give the vCPU the CPUID KVM supports. Without a CPUID KVM models a CPU of
 * no vendor with MAXPHYADDR 36, which changes its reserved-bit checks.
 * Call before the first KVM_RUN. Returns 0 or a negative vmmu_err.
 */
int kvmh_set_supported_cpuid(struct kvmh *k);

/*
 * Map size bytes at host address hva into guest-physical memory at gpa as
 * memory slot `slot` (KVM_SET_USER_MEMORY_REGION; slot 0 is kvmh_open's,
 * size 0 deletes a slot). Returns 0 or a negative vmmu_err with k->why.
 */
int kvmh_map(struct kvmh *k, uint32_t slot, uint64_t gpa, void *hva,
	     uint64_t size);

/* KVM_RUN once; returns the exit reason (KVM_EXIT_*) or a negative error. */
int kvmh_run(struct kvmh *k);

#endif
