/* SPDX-License-Identifier: MIT */
/*
 * The KVM oracle for vmmu's guest page-table walker.
 *
 * A real KVM vCPU runs a small guest (oracle_guest.c) that performs one
 * access per run, at CPL 0 to 3, under the CR0/CR4/EFER/RFLAGS of the case,
 * through 4-level page tables the case describes. Exception stubs in a guest
 * IDT report vector, error code, CR2 and the interrupted RIP through an I/O
 * exit. The host then reads back the paging entries (A/D bits) and compares
 * everything with vmmu_walk() run over a copy of the same tables.
 */
#ifndef VMMU_TESTS_KVM_ORACLE_H
#define VMMU_TESTS_KVM_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/kvm_vcpu.h"
#include "vmmu/walk.h"

/*
 * The harness occupies 16 MiB of guest memory (k.mem) at guest-physical
 * base hgpa and linear base hgva (both 0 for the random cases, where it is
 * identity-mapped through PML4 slot 0). Offsets within it (no suffixes: the
 * guest code uses some of them): the first 2 MiB are one supervisor page,
 * the next 2 MiB one user page.
 */
#define ORC_MEM_SIZE      (16ULL << 20)
#define ORC_HPDPT_OFF     0x2000     /* harness PDPT */
#define ORC_HPD_OFF       0x3000     /* harness PD: two 2 MiB pages */
#define ORC_GDT_OFF       0x4000
#define ORC_TSS_OFF       0x5000
#define ORC_IDT_OFF       0x6000
#define ORC_REPORT_OFF    0x7000
#define ORC_BLOCK_OFF     0x8000
#define ORC_SCODE_OFF     0x10000    /* supervisor copy of the guest code */
#define ORC_SSTACK_OFF    0x20000    /* top of the supervisor stack */
#define ORC_UCODE_OFF     0x200000   /* user copy of the guest code */
#define ORC_USTACK_OFF    0x210000   /* top of the user stack */
/*
 * Random cases: the root and the tested PDPT/PD/PT pages lie in the
 * supervisor page, data frames from 4 MiB up (gpa = offset there).
 */
#define ORC_PML4_GPA      0x1000ULL  /* CR3: shared by harness and test */
#define ORC_TPDPT_GPA     0x100000ULL
#define ORC_TPD_GPA       0x101000ULL
#define ORC_TPT_GPA       0x102000ULL
#define ORC_FRAME4K_BASE  0x400000ULL /* 4 KiB data frames: 4..8 MiB */
#define ORC_FRAME4K_COUNT 1024U
#define ORC_FRAME2M_BASE  0x800000ULL /* 2 MiB data frames: 8..16 MiB */
#define ORC_FRAME2M_COUNT 4U
#define ORC_LDT_SEL       0x7        /* LDT entry 0, TI=1, RPL 3 */

#define ORC_REPORT_PORT   0xe9

/* Up to this many accesses share one set of tables (one case). */
#define ORC_MAX_ACCESSES  3
/* Paging-structure writes one case makes (clear the old path, set new). */
#define ORC_MAX_WRITES    10

/* One tested access. */
struct orc_access {
	uint64_t gva;
	enum vmmu_access_kind kind;
	uint8_t cpl;            /* 0..3 (1 and 2 run on supervisor pages) */
	bool implicit;          /* LDT descriptor load (supervisor, implicit) */
	/*
	 * implicit only: the descriptor's accessed bit is clear, so after the
	 * implicit read the CPU writes the descriptor (an implicit supervisor
	 * write to the same address, SDM Vol. 3A 3.4.5.1).
	 */
	bool desc_write;
};

/* One case: control registers, the tested path and its accesses. */
struct orc_case {
	uint64_t seed;          /* the generator seed that made this case */
	uint64_t cr0, cr4, efer;
	uint32_t pkru;          /* with CR4.PKE (key 0 always allowed) */
	bool ac;                /* RFLAGS.AC for every access of the case */
	uint64_t cr3_flags;     /* CR3.PWT/PCD (the walk ignores them) */
	/* Entries of the tested path, root first; levels 4 or 3 (2 MiB). */
	unsigned levels;
	/*
	 * recursion > 0: entry[levels] is a PML4 entry pointing back to the
	 * PML4, and the accesses' first `recursion` indices go through it, so
	 * the walk treats table pages as lower-level tables and the access
	 * lands in a table page (the self-map operating systems use).
	 */
	unsigned recursion;
	uint64_t gpa[5];        /* where each entry lives */
	uint64_t entry[5];
	/*
	 * The leaf's frame (4 KiB or 2 MiB aligned): RAM below ORC_MEM_SIZE,
	 * or anywhere below 2^MAXPHYADDR without memory, where the access
	 * exits to user space with its exact address (then one read or write
	 * only: KVM caches translations to such pages, docs/kvm-oracle.md).
	 */
	uint64_t frame_gpa;
	unsigned naccess;
	struct orc_access access[ORC_MAX_ACCESSES];
};

/* What KVM did for one access. */
struct orc_outcome {
	bool ok;                /* the access completed */
	uint8_t vector;         /* !ok: the exception vector */
	uint32_t error_code;
	uint64_t cr2;
	uint64_t rip;           /* where the exception was raised */
	bool gpa_known;         /* ok: the guest-physical address was observed */
	uint64_t gpa;
	uint64_t rax;           /* RAX when the exception was raised */
	uint64_t wval;          /* what a write access stored */
	bool mmio;              /* the access reached a gpa without memory */
	bool mmio_write;
	uint64_t mmio_gpa;
	bool fetch_quirk;       /* completed fetch, then a spurious #PF (doc) */
	bool harness_error;     /* the run ended some other way */
	char why[160];
};

/* The CPU vendor the guest's CPUID names (KVM applies that vendor's rules). */
enum orc_vendor {
	ORC_VENDOR_HOST,        /* as KVM_GET_SUPPORTED_CPUID reports it */
	ORC_VENDOR_INTEL,       /* "GenuineIntel" */
	ORC_VENDOR_AMD,         /* "AuthenticAMD" */
};

/* One KVM VM/vCPU dedicated to the oracle. */
struct orc_vm {
	struct kvmh k;
	uint64_t prev_gpa[5];   /* entries written by the previous case */
	unsigned prev_levels;
	uint64_t serial;        /* distinguishes write values across runs */
	uint64_t runs;
	uint64_t setup_off, vec_off, acc_off[4], done_off[4];
	double run_ns;          /* time spent in KVM_RUN and ioctls */
	/* The CPU model the guest's CPUID describes, for the walker. */
	bool amd;               /* vendor AuthenticAMD or HygonGenuine */
	bool gbpages;           /* CPUID 0x80000001 EDX.Page1GB */
	uint8_t maxphyaddr;     /* CPUID 0x80000008 EAX[7:0] */
	uint8_t maxphy_limit;   /* orc_vm_limit_maxphyaddr(), 0: KVM's own */
	enum orc_vendor vendor; /* as opened */
	/* Protection keys: CPUID 7.0:ECX.PKU, and KVM keeps CR4.PKE and PKRU. */
	bool cpuid_pku;
	uint32_t pkru_off;      /* PKRU in the XSAVE area (CPUID 0xD.9 EBX) */
	bool pku;               /* probed: CR4.PKE and PKRU both stick */
	char pku_note[160];     /* why not, when !pku */
	uint32_t pkru;          /* the guest's PKRU as last set */
	uint64_t hgva, hgpa;    /* where the harness sits (see above) */
	uint64_t cr3;           /* the root the accesses use */
	struct kvm_sregs sregs; /* last state given to KVM_SET_SREGS */
	bool sregs_valid;
};

/*
 * Open KVM and build the harness for random cases. 0, or a negative
 * vmmu_err with why set.
 */
int orc_vm_open(struct orc_vm *vm, enum orc_vendor vendor, char *why,
		size_t whylen);
/* The parts of orc_vm_open, for other layouts (oracle_replay.c). */
int orc_vm_open_kvm(struct orc_vm *vm, enum orc_vendor vendor, char *why,
		    size_t whylen);
int orc_vm_build(struct orc_vm *vm, uint64_t hgva, uint64_t hgpa,
		 uint64_t cr3, char *why, size_t whylen);
/* Link the harness into the root page at the host address root. */
void orc_vm_map_harness(struct orc_vm *vm, uint8_t *root);

/* One access to launch: registers, the access, the block's writes. */
struct orc_launch {
	uint64_t cr0, cr4, efer;
	uint32_t pkru;          /* set through KVM_SET_XSAVE with CR4.PKE */
	uint64_t cr3_flags;     /* ORed into the root's address */
	bool ac;
	const struct orc_access *a;
	uint64_t wval;          /* what a write access stores */
	unsigned nwrites;       /* table writes already in the block */
	/* KVM_RUN replacement (e.g. with a deadline); NULL: kvmh_run. */
	int (*run)(struct orc_vm *vm, void *ctx);
	void *run_ctx;
};
/* Run one access; 0 with *out filled, or a negative vmmu_err. */
int orc_vm_launch(struct orc_vm *vm, const struct orc_launch *l,
		  struct orc_outcome *out);
void orc_vm_close(struct orc_vm *vm);
/*
 * Give the guest a smaller MAXPHYADDR than KVM's (CPUID 0x80000008
 * EAX[7:0]), as another host would: before the first access. 0, or
 * VMMU_EINVAL / a KVM error with why.
 */
int orc_vm_limit_maxphyaddr(struct orc_vm *vm, unsigned bits, char *why,
			    size_t whylen);

/*
 * oracle_pku.c: whether this KVM keeps CR4.PKE through KVM_SET_SREGS and
 * PKRU (XSAVE state component 9) through KVM_SET_XSAVE; sets vm->pku, or
 * vm->pku_note with the reason. Needs the long-mode state of orc_vm_build.
 */
void orc_pku_probe(struct orc_vm *vm);
/* The guest's PKRU through KVM_SET_XSAVE (skipped when unchanged). */
int orc_set_pkru(struct orc_vm *vm, uint32_t pkru);

/* The four pages holding the tested tables (PML4, PDPT, PD, PT). */
#define ORC_NTABLES 4
struct orc_tables {
	uint8_t page[ORC_NTABLES][4096];
};
extern const uint64_t orc_table_gpa[ORC_NTABLES];

/* Copy the tested tables out of guest memory. */
void orc_vm_get_tables(const struct orc_vm *vm, struct orc_tables *t);

/*
 * Write the case's tables (through the guest, so KVM's shadow pages see the
 * writes) and perform access number idx; idx 0 also rewrites the tables.
 * *pre receives the tables as the access found them (before A/D updates).
 * Returns 0 with *out filled, or a negative vmmu_err when KVM failed.
 */
int orc_vm_run_access(struct orc_vm *vm, const struct orc_case *c,
		      unsigned idx, struct orc_tables *pre,
		      struct orc_outcome *out);

/* The guest code blob (oracle_guest.c) and its entry-offset table. */
extern const uint8_t orc_guest_blob[];
extern const uint8_t orc_guest_blob_end[];

/* Seeded case generator (oracle_gen.c). */
struct orc_rng { uint64_t s; };
uint64_t orc_rng_next(struct orc_rng *r);
/* What the generator may use: KVM's guest CPU, as probed. */
struct orc_gen_opts {
	unsigned maxphyaddr;    /* address bits above it are reserved */
	bool pku;               /* CR4.PKE and PKRU can be set (probed) */
};
/*
 * One case. The same seed and options give the same case everywhere; the
 * case mix (docs/kvm-oracle.md) is the same for every MAXPHYADDR.
 */
void orc_gen_case(struct orc_rng *r, struct orc_case *c,
		  const struct orc_gen_opts *o);

#endif
