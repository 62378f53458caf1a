/* SPDX-License-Identifier: MIT */
/*
 * `vmmu bench exits`: VM-exit costs through KVM, measured by a small
 * 64-bit guest (guest_code.c) run with host/kvm_vcpu.h.
 */
#ifndef VMMU_BENCH_EXITS_H
#define VMMU_BENCH_EXITS_H

#include "bench/bench.h"

/* Ports the guest writes to (guest_code.c). */
#define GUEST_PORT_LOOP       0x80   /* the I/O exit being measured */
#define GUEST_PORT_EXCEPTION  0xe0   /* al = unexpected vector */
#define GUEST_PORT_DONE       0xf0   /* routine finished, r8 = TSC ticks */

#ifndef __ASSEMBLER__
#include "host/kvm_vcpu.h"

/* A routine that has not reported done after this long is abandoned. */
#define GUEST_RUN_TIMEOUT_S 20
/* The warm-up run of each measurement gets less. */
#define GUEST_PROBE_TIMEOUT_S 2

/* Guest-physical layout (identity-mapped below 4 GiB with 2 MiB pages). */
#define GUEST_IDT_GPA     0x1000ull
#define GUEST_GDT_GPA     0x2000ull
#define GUEST_TSS_GPA     0x3000ull
#define GUEST_CODE_GPA    0x10000ull
#define GUEST_STACK0_TOP  0x70000ull            /* CPL-0 stack (TSS.RSP0) */
#define GUEST_STACK_TOP   0x80000ull
#define GUEST_PT_POOL     0x100000ull           /* page tables, to 64 MiB */
#define GUEST_PT_POOL_END 0x4000000ull
#define GUEST_CHASE_GPA   0x4000000ull          /* chase region */
#define GUEST_MMIO_GPA    0xc0000000ull         /* no memslot here */
#define GUEST_VA_4K       0x8000000000ull       /* chase on 4 KiB guest pages */
#define GUEST_VA_2M       0x10000000000ull      /* chase on 2 MiB guest pages */
#define GUEST_CHASE_MAX   (1ull << 30)          /* 2 x 1 GiB + dense < 3 GiB */
#define GUEST_VA_ABSENT   0x40000000000ull      /* PML4 entry not present */

/* One guest routine's entry point. */
enum guest_routine {
	GR_IO, GR_MMIO, GR_VMCALL, GR_VMMCALL, GR_CPUID, GR_RDMSR, GR_HLT,
	GR_PF, GR_TOUCH, GR_MOVCR3, GR_INVLPG, GR_EMPTY, GR_CHASE, GR_COUNT
};

struct guest_vm {
	struct kvmh k;
	uint64_t pt_next;               /* next free page in the PT pool */
	/*
	 * Chase regions, one per kind so that all chains live at once:
	 * 4 KiB-page region at GUEST_CHASE_GPA (VA GUEST_VA_4K), 2 MiB-page
	 * region right after (VA GUEST_VA_2M), dense region after that
	 * (VA GUEST_VA_2M + chase_size, also 2 MiB pages).
	 */
	uint64_t chase_size, dense_size, fresh_gpa, fresh_size;
	uint64_t guest_tsc_khz;         /* KVM_GET_TSC_KHZ, 0 if unknown */
	bool chase_huge_host;           /* THP backs the chase region */
	char chase_host_pages[160];     /* how the host backs the chase region */
	bool hypercall_exit;            /* KVM_CAP_EXIT_HYPERCALL enabled */
	unsigned timeout_s;             /* per guest_vm_run */
	char why[200];
};

/* What one routine run did. */
struct guest_run {
	uint64_t guest_tsc;             /* r8 at the end */
	uint64_t host_ns;               /* wall time of the KVM_RUN calls */
	uint64_t user_exits;            /* exits seen in user space */
	uint64_t rdi;                   /* rdi at the end (chase: last node) */
};

/* Build the VM: memory, tables, IDT, GDT. 0 or a negative vmmu_err. */
int guest_vm_open(struct guest_vm *g, const char *device, uint64_t chase_size,
		  uint64_t fresh_size);
/* The same with a KVM dirty ring of ring_bytes (kvmh_config). */
int guest_vm_open_ring(struct guest_vm *g, const char *device,
		       uint64_t chase_size, uint64_t fresh_size,
		       uint32_t ring_bytes);
void guest_vm_close(struct guest_vm *g);
/*
 * Run routine r at privilege cpl (0 or 3) with iters iterations and
 * arguments rdi, rsi until it reports done. Exits to user space of the kind the routine causes are
 * resumed and counted; anything else is an error (g->why says which).
 */
int guest_vm_run(struct guest_vm *g, enum guest_routine r, unsigned cpl,
		 uint64_t iters, uint64_t rdi, uint64_t rsi,
		 struct guest_run *out);
/* Guest TSC ticks to ns. */
double guest_vm_ns(const struct guest_vm *g, double ticks, double host_tsc_hz);

/* ---- the measurements (exits.c) ---- */

/* One measurement: an operation at one privilege level. */
enum bench_exit_kind {
	BX_EMPTY3, BX_EMPTY0,           /* loop baselines, measured first */
	BX_IO3, BX_IO0, BX_MMIO3, BX_MMIO0, BX_HYPERCALL_USER0, BX_HLT0,
	BX_CPUID3, BX_CPUID0, BX_RDMSR0, BX_HYPERCALL_KERNEL3,
	BX_HYPERCALL_KERNEL0, BX_GUEST_PF3, BX_FIRST_TOUCH3, BX_SECOND_TOUCH3,
	BX_MOVCR3_0, BX_INVLPG0, BX_COUNT
};

struct bench_exit_cost {
	const char *name;               /* JSON key */
	const char *what;               /* one-line description */
	/*
	 * offered false: unsupported on this host (no capability, or the
	 * operation cannot complete here: its warm-up already failed), with
	 * the reason in note. failed: it worked in the warm-up, then a timed
	 * repetition did not (exit status 1).
	 */
	bool offered, measured, failed;
	char note[200];                 /* why not offered / what was seen */
	unsigned cpl;                   /* guest privilege it ran at */
	uint64_t iters;                 /* per repetition */
	double user_exits_per_iter;     /* exits that reached user space */
	/* Guest TSC per iteration minus the same-CPL empty loop run just
	 * before it in the same repetition. */
	struct bench_stats cycles, ns;
	struct bench_stats raw_cycles;  /* before that subtraction */
	struct bench_stats host_ns;     /* host wall time per iteration */
};

struct bench_kvm_info {
	char flavour[256];              /* e.g. "kvm_pvm (shadow paging ...)" */
	char modules[96];
	char tdp[96];                   /* tdp_mmu / ept / npt parameters */
	char guest_signature[16];       /* KVM_GET_SUPPORTED_CPUID 0x40000000 */
	unsigned n_caps;
	struct { const char *name; int value; } caps[24];
	uint64_t guest_tsc_khz;
};

struct bench_exits_opts {
	bool quick;
	unsigned reps;
	uint64_t chase_max;             /* 0: default (1 GiB, quick 64 MiB) */
	const char *device;             /* NULL: /dev/kvm */
	bool no_chase;
	struct bench_progress progress;
};

struct bench_exits_result {
	struct bench_kvm_info kvm;
	struct bench_exit_cost cost[BX_COUNT];
	bool have_chase;
	struct bench_tlb_curve guest_chase, native_chase;
	char chase_host_pages[160];
};

/*
 * Run everything. VMMU_ENOTSUP when KVM is unusable (why says so),
 * 0 when measured, another negative vmmu_err on failure.
 */
int bench_exits_run(const struct bench_exits_opts *o,
		    const struct bench_clock *clk, struct bench_exits_result *r,
		    char *why, size_t whylen);
void bench_kvm_probe(int kvm_fd, struct bench_kvm_info *ki);
json_t *bench_exits_json(const struct bench_exits_result *r);
void bench_print_exits(FILE *out, const struct bench_exits_result *r,
		       const struct bench_sysinfo *si);
int bench_plot_exits(const char *dir, const struct bench_exits_result *r,
		     const struct bench_progress *p);
/* "measured", "unsupported" (with the reason in note) or "failed". */
const char *bench_exit_status(const struct bench_exit_cost *c);
/* Whether a measurement failed after working (exit status 1). */
bool bench_exits_failed(const struct bench_exits_result *r);

#endif /* __ASSEMBLER__ */
#endif
