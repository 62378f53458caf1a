/* SPDX-License-Identifier: MIT */
/*
 * The KVM oracle for vmmu's guest page-table walker.
 *
 * A real KVM vCPU runs a small guest (oracle_guest.c) that performs one
 * access per run, at CPL 0 or 3, under the CR0/CR4/EFER/RFLAGS of the case,
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
 * Guest-physical layout. Everything below 2 MiB is identity-mapped for the
 * harness by one supervisor 2 MiB page; 2..4 MiB by one user page. The
 * tested translations use PML4 slots other than 0, their own PDPT/PD/PT
 * pages and data frames from 4 MiB up.
 */
#define ORC_MEM_SIZE      (16ULL << 20)
#define ORC_PML4_GPA      0x1000ULL  /* CR3: shared by harness and test */
#define ORC_HPDPT_GPA     0x2000ULL  /* harness PDPT */
#define ORC_HPD_GPA       0x3000ULL  /* harness PD: two 2 MiB pages */
#define ORC_GDT_GPA       0x4000ULL
#define ORC_TSS_GPA       0x5000ULL
#define ORC_IDT_GPA       0x6000ULL
#define ORC_REPORT_GPA    0x7000 /* no suffix: used in guest asm */
#define ORC_BLOCK_GPA     0x8000ULL
#define ORC_SCODE_GPA     0x10000ULL /* supervisor copy of the guest code */
#define ORC_SSTACK_TOP    0x20000ULL
#define ORC_TPDPT_GPA     0x100000ULL /* tested tables */
#define ORC_TPD_GPA       0x101000ULL
#define ORC_TPT_GPA       0x102000ULL
#define ORC_UCODE_GPA     0x200000ULL /* user copy of the guest code */
#define ORC_USTACK_TOP    0x210000ULL
#define ORC_FRAME4K_BASE  0x400000ULL /* 4 KiB data frames: 4..8 MiB */
#define ORC_FRAME4K_COUNT 1024U
#define ORC_FRAME2M_BASE  0x800000ULL /* 2 MiB data frames: 8..16 MiB */
#define ORC_FRAME2M_COUNT 4U
#define ORC_LDT_SEL       0x7        /* LDT entry 0, TI=1, RPL 3 */

#define ORC_REPORT_PORT   0xe9

/* Up to this many accesses share one set of tables (one case). */
#define ORC_MAX_ACCESSES  3
/* Paging-structure writes one case makes (clear the old path, set new). */
#define ORC_MAX_WRITES    8

/* One tested access. */
struct orc_access {
	uint64_t gva;
	enum vmmu_access_kind kind;
	uint8_t cpl;            /* 0 or 3 */
	bool implicit;          /* LDT descriptor load (supervisor, implicit) */
};

/* One case: control registers, the tested path and its accesses. */
struct orc_case {
	uint64_t seed;          /* the generator seed that made this case */
	uint64_t cr0, cr4, efer;
	bool ac;                /* RFLAGS.AC for every access of the case */
	/* Entries of the tested path, root first; levels 4 or 3 (2 MiB). */
	unsigned levels;
	uint64_t gpa[4];        /* where each entry lives */
	uint64_t entry[4];
	uint64_t frame_gpa;     /* the leaf's frame (4 KiB or 2 MiB aligned) */
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
	uint64_t prev_gpa[4];   /* entries written by the previous case */
	unsigned prev_levels;
	uint64_t serial;        /* distinguishes write values across runs */
	uint64_t runs;
	uint64_t setup_off, vec_off, acc_off[4], done_off[4];
	double run_ns;          /* time spent in KVM_RUN and ioctls */
	/* The CPU model the guest's CPUID describes, for the walker. */
	bool amd;               /* vendor AuthenticAMD or HygonGenuine */
	bool gbpages;           /* CPUID 0x80000001 EDX.Page1GB */
	uint8_t maxphyaddr;     /* CPUID 0x80000008 EAX[7:0] */
	struct kvm_sregs sregs; /* last state given to KVM_SET_SREGS */
	bool sregs_valid;
};

/* Open KVM and build the harness. 0, or negative vmmu_err with why set. */
int orc_vm_open(struct orc_vm *vm, enum orc_vendor vendor, char *why,
		size_t whylen);
void orc_vm_close(struct orc_vm *vm);

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
void orc_gen_case(struct orc_rng *r, struct orc_case *c);

#endif
