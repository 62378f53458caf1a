/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmmu/error.h"
#include "kvm_vcpu.h"

static int fail(struct kvmh *k, int rc, const char *what)
{
	snprintf(k->why, sizeof(k->why), "%s: %s", what, strerror(errno));
	kvmh_close(k);
	return rc;
}

/*
 * Anonymous guest memory; with an alignment, over-allocate and trim the
 * ends so that k->mem is aligned and kvmh_close unmaps exactly k->mem.
 */
static uint8_t *map_guest_memory(size_t size, size_t align)
{
	size_t extra = align > 1 ? align : 0;
	uint8_t *raw, *aligned;
	size_t head;

	raw = mmap(NULL, size + extra, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED || !extra)
		return raw;
	aligned = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	head = (size_t)(aligned - raw);
	if (head)
		munmap(raw, head);
	if (extra - head)
		munmap(aligned + size, extra - head);
	return aligned;
}

int kvmh_open(struct kvmh *k, size_t mem_size)
{
	struct kvmh_config cfg = { NULL, mem_size, 0, 0 };

	return kvmh_open_ex(k, &cfg);
}

static int enable_ring(struct kvmh *k, uint32_t bytes);

int kvmh_open_ex(struct kvmh *k, const struct kvmh_config *cfg)
{
	struct kvm_userspace_memory_region region;
	const char *dev = cfg->device ? cfg->device : "/dev/kvm";
	size_t mem_size = cfg->mem_size;
	char what[96];
	int ret;

	memset(k, 0, sizeof(*k));
	k->kvm_fd = k->vm_fd = k->vcpu_fd = -1;
	if (cfg->mem_align & (cfg->mem_align - 1)) {
		errno = EINVAL;
		return fail(k, VMMU_EINVAL, "guest memory alignment");
	}
	k->kvm_fd = open(dev, O_RDWR | O_CLOEXEC);
	if (k->kvm_fd < 0) {
		snprintf(what, sizeof(what), "%.80s unavailable", dev);
		return fail(k, VMMU_ENOTSUP, what);
	}
	ret = ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		errno = EPROTO;
		return fail(k, VMMU_ENOTSUP, "unexpected KVM API version");
	}
	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return fail(k, VMMU_ENOTSUP, "KVM_CREATE_VM");
	if (cfg->dirty_ring_bytes && enable_ring(k, cfg->dirty_ring_bytes) < 0)
		return fail(k, VMMU_ENOTSUP, "KVM_CAP_DIRTY_LOG_RING");
	k->mem = map_guest_memory(mem_size, cfg->mem_align);
	if (k->mem == MAP_FAILED) {
		k->mem = NULL;
		return fail(k, VMMU_ENOMEM, "mmap guest memory");
	}
	k->mem_size = mem_size;
	memset(&region, 0, sizeof(region));
	region.memory_size = mem_size;
	region.userspace_addr = (uintptr_t)k->mem;
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail(k, VMMU_EIO, "KVM_SET_USER_MEMORY_REGION");
	k->vcpu_fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, 0);
	if (k->vcpu_fd < 0)
		return fail(k, VMMU_ENOTSUP, "KVM_CREATE_VCPU");
	ret = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0)
		return fail(k, VMMU_EIO, "KVM_GET_VCPU_MMAP_SIZE");
	k->run_size = (size_t)ret;
	k->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      k->vcpu_fd, 0);
	if (k->run == MAP_FAILED) {
		k->run = NULL;
		return fail(k, VMMU_EIO, "mmap kvm_run");
	}
	if (k->ring_entries) {
		k->ring = mmap(NULL, k->ring_entries * sizeof(*k->ring),
			       PROT_READ | PROT_WRITE, MAP_SHARED, k->vcpu_fd,
			       KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
		if (k->ring == MAP_FAILED) {
			k->ring = NULL;
			return fail(k, VMMU_EIO, "mmap the dirty ring");
		}
	}
	return VMMU_OK;
}

/* The ring must be enabled before any vCPU exists (KVM API 4.117). */
static int enable_ring(struct kvmh *k, uint32_t bytes)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL };

	if (ioctl(k->vm_fd, KVM_CHECK_EXTENSION, cap.cap) <= 0)
		cap.cap = KVM_CAP_DIRTY_LOG_RING;
	if (ioctl(k->vm_fd, KVM_CHECK_EXTENSION, cap.cap) < (int)bytes) {
		errno = ENOTSUP;
		return -1;
	}
	cap.args[0] = bytes;
	if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return -1;
	k->ring_entries = bytes / sizeof(struct kvm_dirty_gfn);
	return 0;
}

int kvmh_set_slot0_flags(struct kvmh *k, uint32_t flags)
{
	struct kvm_userspace_memory_region region;

	memset(&region, 0, sizeof(region));
	region.flags = flags;
	region.memory_size = k->mem_size;
	region.userspace_addr = (uintptr_t)k->mem;
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		snprintf(k->why, sizeof(k->why), "KVM_SET_USER_MEMORY_REGION "
			 "flags 0x%x: %s", flags, strerror(errno));
		return VMMU_EIO;
	}
	return VMMU_OK;
}

long kvmh_ring_harvest(struct kvmh *k,
		       void (*fn)(void *ctx, uint32_t slot, uint64_t offset),
		       void *ctx)
{
	long n = 0;

	if (!k->ring)
		return VMMU_EINVAL;
	for (;;) {
		struct kvm_dirty_gfn *e = &k->ring[k->ring_next % k->ring_entries];
		uint32_t f = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

		if (!(f & KVM_DIRTY_GFN_F_DIRTY))
			break;
		if (fn)
			fn(ctx, e->slot, e->offset);
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		k->ring_next++;
		n++;
	}
	if (ioctl(k->vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0) {
		snprintf(k->why, sizeof(k->why), "KVM_RESET_DIRTY_RINGS: %s",
			 strerror(errno));
		return VMMU_EIO;
	}
	return n;
}

void kvmh_close(struct kvmh *k)
{
	if (k->ring)
		munmap(k->ring, k->ring_entries * sizeof(*k->ring));
	k->ring = NULL;
	if (k->run)
		munmap(k->run, k->run_size);
	if (k->mem)
		munmap(k->mem, k->mem_size);
	if (k->vcpu_fd >= 0)
		close(k->vcpu_fd);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	k->run = NULL;
	k->mem = NULL;
	k->vcpu_fd = k->vm_fd = k->kvm_fd = -1;
}

/* Segment descriptors (SDM Vol. 3A 3.4.5): flat, present, 4 KiB granular. */
#define GDT_CODE64_DPL0 0x00af9b000000ffffULL
#define GDT_DATA_DPL0   0x00cf93000000ffffULL
#define GDT_CODE64_DPL3 0x00affb000000ffffULL
#define GDT_DATA_DPL3   0x00cff3000000ffffULL

void kvmh_write_gdt(struct kvmh *k, uint64_t gdt_gpa, uint64_t tss_gpa)
{
	uint64_t gdt[7] = { 0, GDT_CODE64_DPL0, GDT_DATA_DPL0,
			    GDT_CODE64_DPL3, GDT_DATA_DPL3, 0, 0 };

	/* 64-bit available TSS, limit 0x67, two slots (SDM 8.2.3). */
	gdt[5] = 0x67 | ((tss_gpa & 0xffffff) << 16) | (0x89ULL << 40) |
		 (((tss_gpa >> 24) & 0xff) << 56);
	gdt[6] = tss_gpa >> 32;
	memcpy(k->mem + gdt_gpa, gdt, sizeof(gdt));
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
		     uint8_t dpl, int code64)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->dpl = dpl;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

int kvmh_set_long_mode(struct kvmh *k, uint64_t cr0, uint64_t cr3,
		       uint64_t cr4, uint64_t efer, uint64_t gdt_gpa,
		       uint64_t idt_gpa, uint16_t idt_limit, uint64_t tss_gpa)
{
	struct kvm_sregs s;

	if (kvmh_get_sregs(k, &s) < 0)
		return VMMU_EIO;
	flat_seg(&s.cs, 0x8, 0xb, 0, 1);
	flat_seg(&s.ds, 0x10, 0x3, 0, 0);
	s.es = s.fs = s.gs = s.ss = s.ds;
	memset(&s.tr, 0, sizeof(s.tr));
	s.tr.selector = 0x28;
	s.tr.base = tss_gpa;
	s.tr.limit = 0x67;
	s.tr.type = 0xb;    /* busy 64-bit TSS */
	s.tr.present = 1;
	s.gdt.base = gdt_gpa;
	s.gdt.limit = 7 * 8 - 1;
	s.idt.base = idt_gpa;
	s.idt.limit = idt_limit;
	s.cr0 = cr0;
	s.cr3 = cr3;
	s.cr4 = cr4;
	s.efer = efer;
	return kvmh_set_sregs(k, &s);
}

int kvmh_get_regs(struct kvmh *k, struct kvm_regs *r)
{
	return ioctl(k->vcpu_fd, KVM_GET_REGS, r) < 0 ? VMMU_EIO : 0;
}

int kvmh_set_regs(struct kvmh *k, const struct kvm_regs *r)
{
	return ioctl(k->vcpu_fd, KVM_SET_REGS, r) < 0 ? VMMU_EIO : 0;
}

int kvmh_get_sregs(struct kvmh *k, struct kvm_sregs *s)
{
	return ioctl(k->vcpu_fd, KVM_GET_SREGS, s) < 0 ? VMMU_EIO : 0;
}

int kvmh_set_sregs(struct kvmh *k, const struct kvm_sregs *s)
{
	return ioctl(k->vcpu_fd, KVM_SET_SREGS, s) < 0 ? VMMU_EIO : 0;
}

struct kvm_cpuid2 *kvmh_get_supported_cpuid(struct kvmh *k)
{
	enum { MAX_ENTRIES = 256 };
	struct kvm_cpuid2 *cpuid;

	cpuid = calloc(1, sizeof(*cpuid) +
			  MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid) {
		snprintf(k->why, sizeof(k->why), "out of memory");
		return NULL;
	}
	cpuid->nent = MAX_ENTRIES;
	if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		snprintf(k->why, sizeof(k->why), "KVM_GET_SUPPORTED_CPUID: %s",
			 strerror(errno));
		free(cpuid);
		return NULL;
	}
	return cpuid;
}

int kvmh_set_cpuid(struct kvmh *k, const struct kvm_cpuid2 *cpuid)
{
	if (ioctl(k->vcpu_fd, KVM_SET_CPUID2, cpuid) < 0) {
		snprintf(k->why, sizeof(k->why), "KVM_SET_CPUID2: %s",
			 strerror(errno));
		return VMMU_EIO;
	}
	return VMMU_OK;
}

int kvmh_set_supported_cpuid(struct kvmh *k)
{
	struct kvm_cpuid2 *cpuid = kvmh_get_supported_cpuid(k);
	int rc;

	if (!cpuid)
		return VMMU_EIO;
	rc = kvmh_set_cpuid(k, cpuid);
	free(cpuid);
	return rc;
}

int kvmh_map(struct kvmh *k, uint32_t slot, uint64_t gpa, void *hva,
	     uint64_t size)
{
	struct kvm_userspace_memory_region region;

	memset(&region, 0, sizeof(region));
	region.slot = slot;
	region.guest_phys_addr = gpa;
	region.memory_size = size;
	region.userspace_addr = (uintptr_t)hva;
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		snprintf(k->why, sizeof(k->why), "KVM_SET_USER_MEMORY_REGION "
			 "(slot %u at 0x%llx): %s", slot,
			 (unsigned long long)gpa, strerror(errno));
		return VMMU_EIO;
	}
	return VMMU_OK;
}

int kvmh_run(struct kvmh *k)
{
	int ret;

	do {
		ret = ioctl(k->vcpu_fd, KVM_RUN, 0);
	} while (ret < 0 && (errno == EINTR || errno == EAGAIN));
	if (ret < 0) {
		snprintf(k->why, sizeof(k->why), "KVM_RUN: %s", strerror(errno));
		return VMMU_EIO;
	}
	return (int)k->run->exit_reason;
}
