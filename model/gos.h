/* SPDX-License-Identifier: MIT */
/*
 * The guest OS model behind `vmmu run`: a small kernel whose page tables
 * live in guest memory in the guest's own format (2-level, PAE, 4-level,
 * 5-level) and are changed only by x86 store instructions the guest
 * executes: every page-table write is a `mov [rdi], rax` (`mov [edi], eax`
 * in 32-bit modes) at a kernel code page, performed through
 * vmmu_vcpu_access with the vCPU's registers set, so that a backend that
 * traps it (shadow write protection, log-dirty, MMIO) runs the shared
 * emulator on those very bytes. The kernel reads its tables and clears and
 * copies pages through the access path too (CPL 0, through its direct map).
 *
 * What the kernel does: demand paging (a user access that faults with #PF
 * is handled and retried), fork with copy-on-write, exec, exit and wait,
 * mmap/munmap/mprotect/brk, context switches (MOV to CR3 with and without
 * PCIDs), INVLPG and INVPCID, TLB shootdowns between vCPUs (an IPI that the
 * target vCPU answers between its accesses), and large pages (2 MiB, 4 MiB
 * in 2-level paging, 1 GiB) where a mapping asks for them.
 *
 * Locking: one kernel lock serializes the kernel's own changes (faults,
 * fork, exec, exit, map changes, switches); user accesses run without it.
 */
#ifndef VMMU_MODEL_GOS_H
#define VMMU_MODEL_GOS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmmu/access.h"
#include "vmmu/emulate_vcpu.h"
#include "vmmu/hosted.h"

#define GOS_MAX_VCPUS 16
#define GOS_MAX_VMAS  256
#define GOS_MAX_PROCS 64
#define GOS_MAX_TEXTS 8

/* Protection of a mapping (PROT_* of mmap). */
#define GOS_R 1U
#define GOS_W 2U
#define GOS_X 4U

struct gos_config {
	enum vmmu_paging_mode mode;     /* 2LEVEL, PAE, 4LEVEL or 5LEVEL */
	uint64_t mem;                   /* guest RAM bytes */
	/*
	 * Page size the guest asks for in huge mappings and the largest host
	 * block behind guest RAM: VMMU_ORDER_4K, VMMU_ORDER_2M (4 MiB guest
	 * pages in 2-level paging) or VMMU_ORDER_1G.
	 */
	unsigned page_order;
	bool pcid;                      /* CR4.PCIDE (4- and 5-level only) */
	unsigned vcpus;                 /* 1..GOS_MAX_VCPUS */
	enum vmmu_backend_kind kind;
	const struct vmmu_backend_ops *ops;
	bool track;                     /* keep the kernel's own record of
					   every mapping (gos_each_mapping) */
};

/* The guest kernel's counters (the access path counts the rest). */
struct gos_stats {
	uint64_t demand_faults, cow_faults, cow_copies, huge_maps;
	uint64_t forks, execs, exits, mmaps, munmaps, mprotects, brks;
	uint64_t ctx_switches, cr3_noflush, pt_stores, pt_stores_emulated;
	uint64_t pt_loads, page_clears, invlpgs, full_flushes;
	uint64_t shootdowns_sent, frames_peak;
};

enum gos_vma_kind { GOS_VMA_ANON = 0, GOS_VMA_TEXT };

struct gos_vma {
	uint64_t start, end;
	uint8_t prot;
	uint8_t kind;           /* enum gos_vma_kind */
	bool huge;              /* large pages where aligned */
	uint8_t text;           /* GOS_VMA_TEXT: the image's page cache */
};

/* A program image for exec. */
struct gos_image {
	unsigned text_id;       /* < GOS_MAX_TEXTS: its text's page cache */
	uint64_t text_pages, data_pages, stack_pages;
};

struct gos_map_rec;

struct gos_proc {
	int pid;                /* -1: free slot */
	bool zombie;
	uint32_t uid;           /* unique over the VM's life */
	uint64_t root;          /* gpa of the top-level table */
	uint16_t pcid;
	uint64_t tlb_gen;       /* bumped by every flush of this mm */
	atomic_uint_fast64_t cpumask;   /* vCPUs with this mm loaded */
	struct gos_proc *parent;
	struct gos_vma vma[GOS_MAX_VMAS];
	unsigned nvma;
	uint64_t brk_base, brk, mmap_next, stack_top;
	struct gos_map_rec *rec;        /* track: gva page -> mapping */
	size_t rec_cap, rec_len;
};

struct gos;

/* One vCPU of the guest and the CPU state the kernel keeps for it. */
struct gos_cpu {
	struct gos *g;
	unsigned id;
	struct vmmu_vcpu *vcpu;
	struct vmmu_emu_vcpu ev;
	struct gos_proc *cur;
	uint64_t code_gva;
	/* PCID ownership: uid and tlb_gen of the mm last run with it. */
	uint32_t pcid_uid[GOS_MAX_PROCS + 1];
	uint64_t pcid_gen[GOS_MAX_PROCS + 1];
	/* A TLB-shootdown IPI: start/end of the range (end 0: everything). */
	atomic_uint ipi;        /* 1: pending */
	uint64_t ipi_start, ipi_end;
	atomic_uint done;       /* the vCPU's thread has finished */
	uint64_t ipis_received;
};

struct gos {
	struct gos_config cfg;
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct gos_cpu cpu[GOS_MAX_VCPUS];
	struct gos_proc proc[GOS_MAX_PROCS];
	uint32_t next_uid;
	int next_pid;
	/* mode */
	unsigned levels, esize, emu_mode;
	uint64_t physmap, user_top, addr_mask;
	bool nx;
	/* kernel root entries every process shares: (index, value) */
	unsigned nkern;
	uint16_t kern_idx[256];
	uint64_t kern_val[256];
	uint64_t kern_pd;               /* PAE: the kernel's PD (PDPTE 3) */
	/* frames */
	uint64_t nframes, first_frame;
	uint16_t *refs;                 /* per 4 KiB frame */
	uint32_t *free4k;               /* stack of free frames */
	uint64_t nfree4k;
	uint32_t *free2m;               /* stack of free 2 MiB chunks */
	uint64_t nfree2m;
	uint32_t *free1g;               /* stack of free 1 GiB chunks */
	uint64_t nfree1g;
	uint64_t frames_used;
	/*
	 * Quicklists (Linux before 5.4 kept them): freed page-table pages,
	 * already all zero, and freed roots, holding only the kernel's
	 * entries, reused without clear_page.
	 */
	uint64_t quick[1024], quick_roots[GOS_MAX_PROCS];
	unsigned nquick, nquick_roots;
	uint32_t *text[GOS_MAX_TEXTS];  /* page cache: frame per text page */
	uint64_t text_len[GOS_MAX_TEXTS];
	pthread_mutex_t lock;           /* the kernel lock */
	struct gos_stats st;
};

/*
 * Boot a guest: a VM with the backend, guest RAM, the kernel's direct map
 * and code, and cfg->vcpus vCPUs in cfg->mode. 0, or a negative vmmu_err
 * with a sentence in err.
 */
/* 0 when cfg can boot, VMMU_EINVAL with a sentence in err otherwise. */
int gos_check_config(const struct gos_config *cfg, char *err, size_t errlen);
int gos_create(const struct gos_config *cfg, struct gos **out, char *err,
	       size_t errlen);
void gos_destroy(struct gos *g);

/* Process life (the caller runs on vCPU c; each takes the kernel lock). */
int gos_spawn(struct gos_cpu *c, const struct gos_image *img,
	      struct gos_proc **out);          /* new process, exec'd, run */
int gos_fork(struct gos_cpu *c, struct gos_proc **child);
int gos_exec(struct gos_cpu *c, const struct gos_image *img);
int gos_exit(struct gos_cpu *c);               /* c->cur becomes a zombie */
int gos_wait(struct gos_cpu *c, struct gos_proc *child); /* reap it */
int gos_switch(struct gos_cpu *c, struct gos_proc *p);

/* Address-space changes of c->cur. */
int gos_mmap(struct gos_cpu *c, uint64_t len, unsigned prot, bool huge,
	     uint64_t *addr);
int gos_mmap_fixed(struct gos_cpu *c, uint64_t addr, uint64_t len,
		   unsigned prot);
int gos_munmap(struct gos_cpu *c, uint64_t addr, uint64_t len);
int gos_mprotect(struct gos_cpu *c, uint64_t addr, uint64_t len,
		 unsigned prot);
int gos_brk(struct gos_cpu *c, uint64_t new_end);

/*
 * A user access (CPL 3) of size bytes (within one page) by c->cur: the
 * access path, and on a guest #PF the kernel's fault handler and a retry.
 * VMMU_EFAULT when the process has no mapping there (SIGSEGV).
 */
int gos_access(struct gos_cpu *c, uint64_t gva, enum vmmu_access_kind kind,
	       unsigned size);

/* Answer a pending shootdown IPI (called between accesses). */
void gos_poll(struct gos_cpu *c);
/* The vCPU's thread is done: IPIs to it are answered by the sender. */
void gos_cpu_done(struct gos_cpu *c);

/*
 * Every page the kernel believes it mapped for p (needs cfg.track):
 * fn(ctx, gva, gpa, page_size, writable, user) in no particular order.
 * Stops at and returns fn's first non-zero result.
 */
int gos_each_mapping(const struct gos *g, const struct gos_proc *p,
		     int (*fn)(void *ctx, uint64_t gva, uint64_t gpa,
			       uint64_t size, bool writable),
		     void *ctx);

/* Internal to model/: gos.c <-> gos_mm.c. */
int gos_kload(struct gos_cpu *c, uint64_t gpa, uint64_t *val);
int gos_kstore(struct gos_cpu *c, uint64_t gpa, uint64_t val);
int gos_frame_alloc(struct gos *g, unsigned order, uint64_t *gpa);
void gos_frame_put(struct gos *g, uint64_t gpa, unsigned order);
int gos_clear(struct gos_cpu *c, uint64_t gpa, uint64_t len, bool full);
int gos_copy(struct gos_cpu *c, uint64_t dst, uint64_t src, uint64_t len);
unsigned gos_shift(const struct gos *g, unsigned level);
unsigned gos_index(const struct gos *g, unsigned level, uint64_t gva);
/* Zero every counter of the VM's vCPUs, their TLBs and the kernel. */
void gos_reset_counts(struct gos *g);
void gos_lock(struct gos_cpu *c);
void gos_unlock(struct gos_cpu *c);
void gos_flush(struct gos_cpu *c, struct gos_proc *p, uint64_t start,
	       uint64_t end);
int gos_switch_locked(struct gos_cpu *c, struct gos_proc *p);
int gos_user_store(struct gos_cpu *c, uint64_t code, uint64_t gva,
		   unsigned size, struct vmmu_access_result *r);
int gos_text_code(struct gos *g, uint64_t gpa);
void gos_track(struct gos_proc *p, uint64_t gva, uint64_t gpa, uint64_t size,
	       bool writable, bool add);

#endif
