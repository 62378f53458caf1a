/* SPDX-License-Identifier: MIT */
/*
 * The KVM guest that `vmmu bench exits` measures with: long mode, the low
 * 4 GiB identity-mapped with 2 MiB pages (which also maps the MMIO hole
 * at GUEST_MMIO_GPA, where no memslot is), the chase region mapped twice
 * (4 KiB and 2 MiB guest pages), an IDT whose stubs report unexpected
 * exceptions through an `out`, and guest_code.c's routines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <linux/kvm_para.h>

#include "vmmu/error.h"
#include "exits.h"

extern const uint8_t vmmu_guest_blob[], vmmu_guest_blob_end[];
extern const uint8_t vmmu_guest_vectors[], vmmu_guest_pf_skip[];
extern const uint8_t vmmu_guest_io[], vmmu_guest_mmio[], vmmu_guest_vmcall[],
	vmmu_guest_vmmcall[], vmmu_guest_cpuid[], vmmu_guest_rdmsr[],
	vmmu_guest_hlt[], vmmu_guest_pf[], vmmu_guest_touch[],
	vmmu_guest_movcr3[], vmmu_guest_invlpg[], vmmu_guest_empty[],
	vmmu_guest_chase[];

static const uint8_t *const routine_entry[GR_COUNT] = {
	[GR_IO] = vmmu_guest_io, [GR_MMIO] = vmmu_guest_mmio,
	[GR_VMCALL] = vmmu_guest_vmcall, [GR_VMMCALL] = vmmu_guest_vmmcall,
	[GR_CPUID] = vmmu_guest_cpuid, [GR_RDMSR] = vmmu_guest_rdmsr,
	[GR_HLT] = vmmu_guest_hlt, [GR_PF] = vmmu_guest_pf,
	[GR_TOUCH] = vmmu_guest_touch, [GR_MOVCR3] = vmmu_guest_movcr3,
	[GR_INVLPG] = vmmu_guest_invlpg, [GR_EMPTY] = vmmu_guest_empty,
	[GR_CHASE] = vmmu_guest_chase,
};

#define SZ_2M (2ull << 20)
#define SZ_1G (1ull << 30)
/* Page-table entry bits (SDM Vol. 3A Table 4-15..4-20). */
#define PTE_P_BIT  (1ull << 0)
#define PTE_RW_BIT (1ull << 1)
#define PTE_A_BIT  (1ull << 5)
#define PTE_D_BIT  (1ull << 6)
#define PTE_US_BIT (1ull << 2)
#define PTE_PS_BIT (1ull << 7)
/* User-accessible: the measured loops run at CPL 3 (see guest_vm_run). */
#define PTE_TABLE  (PTE_P_BIT | PTE_RW_BIT | PTE_US_BIT | PTE_A_BIT)
#define PTE_LEAF   (PTE_TABLE | PTE_D_BIT)

static uint64_t guest_addr(const uint8_t *sym)
{
	return GUEST_CODE_GPA + (uint64_t)(sym - vmmu_guest_blob);
}

static uint64_t *gpa_ptr(struct guest_vm *g, uint64_t gpa)
{
	return (uint64_t *)(g->k.mem + gpa);
}

/* A zeroed page from the pool, or 0 when the pool is exhausted. */
static uint64_t pt_alloc(struct guest_vm *g)
{
	uint64_t page = g->pt_next;

	if (page >= GUEST_PT_POOL_END)
		return 0;
	g->pt_next += 4096;
	memset(g->k.mem + page, 0, 4096);
	return page;
}

/* Map [gpa, gpa+size) at va with 4 KiB or 2 MiB pages under pml4. */
static int map_range(struct guest_vm *g, uint64_t pml4, uint64_t va,
		     uint64_t gpa, uint64_t size, bool huge)
{
	uint64_t off;

	for (off = 0; off < size; off += huge ? SZ_2M : 4096) {
		uint64_t v = va + off, *e = gpa_ptr(g, pml4) + ((v >> 39) & 511);
		int level;

		for (level = 3; level > (huge ? 1 : 0); level--) {
			if (!(*e & PTE_P_BIT)) {
				uint64_t t = pt_alloc(g);

				if (!t)
					return VMMU_ENOSPC;
				*e = t | PTE_TABLE;
			}
			e = gpa_ptr(g, *e & 0x000ffffffffff000ull) +
			    ((v >> (12 + 9 * (level - 1))) & 511);
		}
		*e = (gpa + off) | PTE_LEAF | (huge ? PTE_PS_BIT : 0);
	}
	return VMMU_OK;
}

/* 64-bit interrupt gate, DPL 0, selector 0x8 (SDM Vol. 3A 6.14.1). */
static void set_gate(struct guest_vm *g, unsigned vec, uint64_t handler)
{
	uint64_t *gate = gpa_ptr(g, GUEST_IDT_GPA + 16ull * vec);

	gate[0] = (handler & 0xffff) | (0x8ull << 16) | (0x8eull << 40) |
		  (((handler >> 16) & 0xffff) << 48);
	gate[1] = handler >> 32;
}

static int build_tables(struct guest_vm *g, uint64_t *cr3)
{
	uint64_t pml4;
	unsigned v;
	int rc;

	g->pt_next = GUEST_PT_POOL;
	pml4 = pt_alloc(g);
	rc = map_range(g, pml4, 0, 0, 4 * SZ_1G, true);
	if (!rc)
		rc = map_range(g, pml4, GUEST_VA_4K, GUEST_CHASE_GPA,
			       g->chase_size, false);
	if (!rc)
		rc = map_range(g, pml4, GUEST_VA_2M,
			       GUEST_CHASE_GPA + g->chase_size,
			       g->chase_size + g->dense_size, true);
	if (rc)
		return rc;
	for (v = 0; v < 32; v++)
		set_gate(g, v, guest_addr(vmmu_guest_vectors) + 8 * v);
	set_gate(g, 14, guest_addr(vmmu_guest_pf_skip));
	/* TSS.RSP0 (SDM Vol. 3A 8.7): the stack for exceptions from CPL 3. */
	memset(g->k.mem + GUEST_TSS_GPA, 0, 0x68);
	memcpy(g->k.mem + GUEST_TSS_GPA + 4, &(uint64_t){ GUEST_STACK0_TOP }, 8);
	*cr3 = pml4;
	return VMMU_OK;
}

/* KVM_CAP_EXIT_HYPERCALL: KVM_HC_MAP_GPA_RANGE exits to user space. */
static void enable_hypercall_exit(struct guest_vm *g)
{
	struct kvm_enable_cap cap;
	int mask = ioctl(g->k.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL);

	if (mask <= 0 || !(mask & (1 << KVM_HC_MAP_GPA_RANGE)))
		return;
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_EXIT_HYPERCALL;
	cap.args[0] = 1ull << KVM_HC_MAP_GPA_RANGE;
	g->hypercall_exit = ioctl(g->k.vm_fd, KVM_ENABLE_CAP, &cap) == 0;
}

int guest_vm_open(struct guest_vm *g, const char *device, uint64_t chase_size,
		  uint64_t fresh_size)
{
	return guest_vm_open_ring(g, device, chase_size, fresh_size, 0);
}

int guest_vm_open_ring(struct guest_vm *g, const char *device,
		       uint64_t chase_size, uint64_t fresh_size,
		       uint32_t ring_bytes)
{
	struct kvmh_config cfg = { .dirty_ring_bytes = ring_bytes };
	size_t blob = (size_t)(vmmu_guest_blob_end - vmmu_guest_blob);
	uint64_t cr3;
	int rc, khz;

	memset(g, 0, sizeof(*g));
	g->timeout_s = GUEST_RUN_TIMEOUT_S;
	if (chase_size > GUEST_CHASE_MAX)
		return VMMU_ERANGE;
	g->chase_size = (chase_size + SZ_2M - 1) & ~(SZ_2M - 1);
	g->dense_size = (g->chase_size / 64 + SZ_2M - 1) & ~(SZ_2M - 1);
	g->fresh_gpa = GUEST_CHASE_GPA + 2 * g->chase_size + g->dense_size;
	g->fresh_size = (fresh_size + SZ_2M - 1) & ~(SZ_2M - 1);
	cfg.device = device;
	cfg.mem_size = g->fresh_gpa + g->fresh_size;
	cfg.mem_align = SZ_2M;
	if (cfg.mem_size > GUEST_MMIO_GPA)
		return VMMU_ERANGE;
	rc = kvmh_open_ex(&g->k, &cfg);
	if (rc) {
		snprintf(g->why, sizeof(g->why), "%s", g->k.why);
		return rc;
	}
	/* Huge host pages may back the chase; first touches stay 4 KiB. */
	madvise(g->k.mem + GUEST_CHASE_GPA + g->chase_size,
		g->chase_size + g->dense_size, MADV_HUGEPAGE);
	madvise(g->k.mem + g->fresh_gpa, g->fresh_size, MADV_NOHUGEPAGE);
	memcpy(g->k.mem + GUEST_CODE_GPA, vmmu_guest_blob, blob);
	kvmh_write_gdt(&g->k, GUEST_GDT_GPA, GUEST_TSS_GPA);
	rc = build_tables(g, &cr3);
	if (!rc)
		rc = kvmh_set_long_mode(&g->k, 0x80050033, cr3, 0x20, 0x500,
					GUEST_GDT_GPA, GUEST_IDT_GPA, 32 * 16 - 1,
					GUEST_TSS_GPA);
	if (rc) {
		snprintf(g->why, sizeof(g->why), "guest setup: %s",
			 vmmu_strerror(rc));
		kvmh_close(&g->k);
		return rc;
	}
	khz = ioctl(g->k.vcpu_fd, KVM_GET_TSC_KHZ, 0);
	g->guest_tsc_khz = khz > 0 ? (uint64_t)khz : 0;
	enable_hypercall_exit(g);
	return VMMU_OK;
}

void guest_vm_close(struct guest_vm *g)
{
	kvmh_close(&g->k);
}

double guest_vm_ns(const struct guest_vm *g, double ticks, double host_tsc_hz)
{
	if (g->guest_tsc_khz)
		return ticks * 1e6 / (double)g->guest_tsc_khz;
	return ticks * 1e9 / host_tsc_hz;
}

/* Is this exit the one routine r exists to cause (to be resumed)? */
static bool expected_exit(const struct guest_vm *g, enum guest_routine r,
			  int reason)
{
	const struct kvm_run *run = g->k.run;

	switch (r) {
	case GR_IO:
		return reason == KVM_EXIT_IO && run->io.port == GUEST_PORT_LOOP;
	case GR_MMIO:
		return reason == KVM_EXIT_MMIO &&
		       run->mmio.phys_addr == GUEST_MMIO_GPA;
	case GR_VMCALL:
	case GR_VMMCALL:
		return reason == KVM_EXIT_HYPERCALL;
	case GR_HLT:
		return reason == KVM_EXIT_HLT;
	default:
		return false;
	}
}

static int unexpected(struct guest_vm *g, int reason)
{
	const struct kvm_run *run = g->k.run;

	if (reason == KVM_EXIT_IO && run->io.port == GUEST_PORT_EXCEPTION)
		snprintf(g->why, sizeof(g->why), "guest took exception vector %u",
			 *((const uint8_t *)run + run->io.data_offset));
	else if (reason == KVM_EXIT_INTERNAL_ERROR)
		snprintf(g->why, sizeof(g->why), "KVM internal error, suberror %u",
			 run->internal.suberror);
	else
		snprintf(g->why, sizeof(g->why), "unexpected exit reason %d",
			 reason);
	return VMMU_EIO;
}

static void on_alarm(int sig)
{
	(void)sig;      /* only there to interrupt KVM_RUN with EINTR */
}

/*
 * KVM_RUN with a deadline: a periodic SIGALRM (no SA_RESTART) interrupts
 * the ioctl so that a guest which never exits cannot hang the benchmark.
 */
static int run_once(struct guest_vm *g, uint64_t deadline_ns)
{
	int ret;

	for (;;) {
		ret = ioctl(g->k.vcpu_fd, KVM_RUN, 0);
		if (ret == 0)
			return (int)g->k.run->exit_reason;
		if (errno != EINTR && errno != EAGAIN) {
			snprintf(g->why, sizeof(g->why), "KVM_RUN: %s",
				 strerror(errno));
			return VMMU_EIO;
		}
		if (bench_now_ns() > deadline_ns) {
			snprintf(g->why, sizeof(g->why), "guest did not finish "
				 "within %u s", g->timeout_s);
			return VMMU_EIO;
		}
	}
}

static void watchdog(bool on)
{
	struct itimerval it;
	struct sigaction sa;

	memset(&it, 0, sizeof(it));
	if (on) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		it.it_interval.tv_usec = 200000;
		it.it_value.tv_usec = 200000;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

static int run_routine(struct guest_vm *g, enum guest_routine r,
		       uint64_t iters, struct guest_run *out)
{
	uint64_t limit = iters + 16;
	uint64_t deadline = bench_now_ns() + g->timeout_s * 1000000000ull;
	int reason;

	for (;;) {
		reason = run_once(g, deadline);
		if (reason < 0)
			return reason;
		if (reason == KVM_EXIT_IO && g->k.run->io.port == GUEST_PORT_DONE)
			return VMMU_OK;
		if (!expected_exit(g, r, reason))
			return unexpected(g, reason);
		if (reason == KVM_EXIT_HYPERCALL)
			g->k.run->hypercall.ret = 0;
		if (++out->user_exits > limit) {
			snprintf(g->why, sizeof(g->why), "routine did not finish");
			return VMMU_EIO;
		}
	}
}

/* Flat code and stack segments of the given privilege (kvmh's GDT). */
static int set_cpl(struct guest_vm *g, unsigned cpl)
{
	struct kvm_sregs s;

	if (kvmh_get_sregs(&g->k, &s))
		return VMMU_EIO;
	if ((s.cs.selector & 3) == cpl)
		return VMMU_OK;
	s.cs.selector = cpl ? 0x1b : 0x08;
	s.cs.dpl = (uint8_t)cpl;
	s.ss.selector = cpl ? 0x23 : 0x10;
	s.ss.dpl = (uint8_t)cpl;
	s.ds = s.es = s.fs = s.gs = s.ss;
	return kvmh_set_sregs(&g->k, &s);
}

int guest_vm_run(struct guest_vm *g, enum guest_routine r, unsigned cpl,
		 uint64_t iters, uint64_t rdi, uint64_t rsi,
		 struct guest_run *out)
{
	struct kvm_regs regs;
	uint64_t t0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (iters == 0 || r >= GR_COUNT || (cpl != 0 && cpl != 3))
		return VMMU_EINVAL;
	if (set_cpl(g, cpl))
		return VMMU_EIO;
	memset(&regs, 0, sizeof(regs));
	regs.rip = guest_addr(routine_entry[r]);
	regs.rsp = GUEST_STACK_TOP;
	/* IOPL 3 lets the CPL-3 loops use `out` (SDM Vol. 1 18.3). */
	regs.rflags = 0x3002;
	regs.r12 = iters;
	regs.rdi = rdi;
	regs.rsi = rsi;
	if (kvmh_set_regs(&g->k, &regs))
		return VMMU_EIO;
	watchdog(true);
	t0 = bench_now_ns();
	rc = run_routine(g, r, iters, out);
	out->host_ns = bench_now_ns() - t0;
	watchdog(false);
	if (rc)
		return rc;
	if (kvmh_get_regs(&g->k, &regs))
		return VMMU_EIO;
	out->guest_tsc = regs.r8;
	out->rdi = regs.rdi;
	return VMMU_OK;
}
