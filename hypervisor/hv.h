/* SPDX-License-Identifier: MIT */
/*
 * vmmu-hv: a small freestanding hypervisor kernel (64-bit host side) that
 * runs one guest under VMX with EPT or SVM with nested paging, or on
 * shadow paging under either, on a VM made through vmmu's public API with
 * its EPT, NPT or shadow backend (hv_vm.c, hv_shadow.c).
 *
 * Host memory: linear = physical below 1 GiB (boot.S), so a host-physical
 * address is also a pointer.
 */
#ifndef VMMU_HV_H
#define VMMU_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmmu/platform.h"
#include "vmmu/vm.h"

/* Serial console (COM1) and the emulators' exit ports: hv_lib.c. */
void hv_serial_init(void);
void hv_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void hv_exit_emulator(bool pass);

/* Host CPU state: hv_cpu.c. */
void hv_cpu_init(void);
extern uint64_t hv_gdt[];
extern uint8_t hv_tss[];
extern uint64_t hv_idt[];

/* What CPUID and the VMX capability MSRs say (hv_cpu.c). */
struct hv_features {
	char vendor[13];
	uint32_t family, model, stepping;
	unsigned maxphyaddr;
	bool nx;
	/* Intel VMX: CPUID.1:ECX[5], then IA32_VMX_* (SDM Vol. 3C App. A). */
	bool vmx, vmx_true_ctls, secondary, ept, ept_4level, ept_wb, ept_2m,
	     ept_1g, ept_ad, unrestricted, vpid;
	uint64_t vmx_basic, vmx_ept_cap;
	/* AMD SVM: CPUID 8000_0001h:ECX[2], 8000_000Ah (APM Vol. 2 15.4). */
	bool svm, np, nrips;
	uint32_t svm_rev, asids;
};
void hv_detect(struct hv_features *f);
void hv_print_features(const struct hv_features *f);
void hv_dump_features(const struct hv_features *f);

/* The guest's general-purpose registers while it is not running. */
struct hv_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/* A VM exit in vendor-neutral terms (the vendor files fill it in). */
enum hv_exit_kind {
	HV_EXIT_CPUID,          /* the guest's report channel */
	HV_EXIT_IO,             /* OUT / IN: the guest's console byte */
	HV_EXIT_HLT,            /* the guest is done */
	HV_EXIT_NESTED_FAULT,   /* EPT violation, EPT misconfiguration, #NPF */
	HV_EXIT_PF,             /* shadow paging: an intercepted #PF */
	HV_EXIT_CR3,            /* shadow paging: MOV to or from CR3 */
	HV_EXIT_INVLPG,         /* shadow paging: INVLPG */
	HV_EXIT_OTHER,          /* anything else: the run fails */
	HV_EXIT_ENTRY_FAILED,   /* VMLAUNCH/VMRESUME/VMRUN refused the state */
};

struct hv_exit {
	enum hv_exit_kind kind;
	uint64_t reason;        /* VMX basic exit reason or SVM EXITCODE */
	uint64_t info;          /* exit qualification or EXITINFO1; #PF: the
				   error code */
	uint64_t gpa;           /* guest-physical address or EXITINFO2 */
	uint64_t gla;           /* guest-linear address (VMX, when valid);
				   #PF: CR2; INVLPG: the address */
	unsigned gpr;           /* CR3: the register (SDM Table 28-3 order) */
	uint64_t vectoring;     /* the event whose delivery exited (VMX
				   IDT-vectoring info, SVM EXITINTINFO):
				   re-injected at the next entry */
	uint32_t vectoring_err; /* its error code */
	bool cr_read;           /* CR3: MOV from CR3 */
	bool gla_valid;
	bool pml_valid;         /* VMX with PML on: the VMCS PML index */
	uint16_t pml_index;
};

/* One virtualization back end: hv_vmx.c, hv_svm.c. */
struct hv_arch {
	const char *name;
	/* Enable VMX/SVM and build the VMCS/VMCB for a guest entering 64-bit
	 * code at rip with CR3 = cr3, on nested tables pointed to by ptr
	 * (EPTP or nCR3), ASID asid (SVM); shadow: no nested paging, cr3 is
	 * the shadow root, #PF, MOV to/from CR3 and INVLPG exit. Returns 0
	 * or a negative code after printing why. */
	int (*setup)(const struct hv_features *f, bool shadow, uint64_t ptr,
		     uint32_t asid, uint64_t cr3, uint64_t rip, uint64_t rsp);
	/* Shadow paging: the CR3 the guest runs on (the shadow root), and a
	 * #PF with error code err and CR2 cr2 delivered at the next entry. */
	void (*set_cr3)(uint64_t root);
	void (*inject_pf)(uint32_t err, uint64_t cr2);
	/* Run the guest until the next exit. */
	void (*run)(struct hv_regs *regs, struct hv_exit *e);
	/* Step the guest over the instruction that exited (length if known). */
	void (*skip)(unsigned len);
	/* Step the guest over len bytes (an instruction the VMM emulated on
	 * a nested exit, which gives no instruction length). */
	void (*advance)(unsigned len);
	/* Drop cached nested translations after the tables changed: INVEPT
	 * (VMX), or TLB_CONTROL = how for the next VMRUN (SVM). */
	void (*flush)(unsigned how);
	/* VMX only (NULL otherwise): the "enable PML" control, the PML
	 * address and index for the next entry (SDM Vol. 3C 25.6.18). */
	void (*pml)(uint64_t page, bool on, uint16_t index);
};
extern const struct hv_arch hv_vmx_arch;
extern const struct hv_arch hv_svm_arch;

/* The guest and its script of expected exits: hv_guest.c. */
struct vmmu_host_info;
struct vmmu_decision;
int hv_guest_run(const struct hv_arch *arch, const struct hv_features *f,
		 const struct vmmu_host_info *host,
		 const struct vmmu_decision *d, enum vmmu_backend_kind kind);

/* The page pool behind vmmu's platform interface: hv_pool.c. */
void hv_pool_init(uint32_t multiboot_magic, uint32_t info);
const struct vmmu_platform *hv_platform(void);
uint64_t hv_pool_alloc(void);           /* zeroed page, 0 when exhausted */
struct hv_pool_stats {
	uint64_t pages, blocks_2m;      /* held by vmmu now */
	uint64_t arena_bytes;           /* bookkeeping held now */
	uint64_t arena_peak;            /* arena bytes ever cut */
};
void hv_pool_stats(struct hv_pool_stats *out);

/* Entry and exit trampolines: hv_entry.S. */
int hv_vmx_enter(struct hv_regs *regs, int launched);   /* 0: exited */
void hv_svm_enter(struct hv_regs *regs, uint64_t vmcb);

/* Instructions. */
static inline void hv_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t hv_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | ((uint64_t)hi << 32);
}

static inline void hv_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)) : "memory");
}

#define HV_READ_CR(n)                                                   \
	static inline uint64_t hv_read_cr##n(void)                      \
	{                                                               \
		uint64_t v;                                             \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));       \
		return v;                                               \
	}                                                               \
	static inline void hv_write_cr##n(uint64_t v)                   \
	{                                                               \
		__asm__ volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); \
	}
HV_READ_CR(0)
HV_READ_CR(2)
HV_READ_CR(3)
HV_READ_CR(4)

static inline void hv_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port));
}

static inline uint8_t hv_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* The guest's CR0: PG, WP, NE, ET, PE (WP for the shadow tables). */
#define HV_GUEST_CR0 0x80010031ULL
/* Its CR4: PAE. */
#define HV_GUEST_CR4 0x20ULL
/* Its GDT (null, 64-bit code 0x08, data 0x10) and IDT (up to vector 15),
 * in one page hv_guest.c writes: used only when an exception is
 * delivered to the guest (the shadow run's own #PF). */
#define HV_GUEST_GDT 0x14000ULL
#define HV_GUEST_IDT 0x14800ULL
#define HV_GUEST_IDT_LIMIT 0xff

#define MSR_EFER 0xc0000080
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define EFER_SVME (1ULL << 12)

#endif
