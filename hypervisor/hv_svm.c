/* SPDX-License-Identifier: MIT */
/*
 * AMD SVM back end: EFER.SVME, the host save area, one VMCB for a 64-bit
 * guest with nested paging, and the exits the guest script uses. AMD APM
 * Vol. 2: 15.4 (enabling SVM), 15.5 (VMRUN and its consistency checks,
 * 15.5.1), 15.6 (#VMEXIT), 15.9-15.13 (intercepts), 15.25 (nested paging,
 * #NPF exit information 15.25.6), Appendix B (VMCB layout), Appendix C
 * (exit codes).
 */
#include "hv.h"

#define MSR_VM_CR        0xc0010114
#define VM_CR_SVMDIS     (1ULL << 4)
#define MSR_VM_HSAVE_PA  0xc0010117

/* VMCB control area offsets (Table B-1). */
#define C_INTERCEPT_CR   0x000  /* reads 15:0, writes 31:16 */
#define C_INTERCEPT_EXC  0x008
#define C_INTERCEPT_MISC 0x00c  /* vector 3 */
#define C_INTERCEPT_SVM  0x010  /* vector 4 */
#define C_ASID           0x058
#define C_IOPM_BASE      0x040
#define C_TLB_CONTROL    0x05c
#define C_EXITCODE       0x070
#define C_EXITINFO1      0x078
#define C_EXITINFO2      0x080
#define C_NP_ENABLE      0x090
#define C_EXITINTINFO    0x088
#define C_EVENTINJ       0x0a8
#define C_NCR3           0x0b0
#define C_CLEAN          0x0c0
#define C_NRIP           0x0c8
/* Save area offsets, from the start of the VMCB (Table B-2 + 0x400). */
#define S_ES     0x400
#define S_CS     0x410
#define S_SS     0x420
#define S_DS     0x430
#define S_GDTR   0x460
#define S_IDTR   0x480
#define S_CPL    0x4cb
#define S_EFER   0x4d0
#define S_CR4    0x548
#define S_CR3    0x550
#define S_CR0    0x558
#define S_DR7    0x560
#define S_DR6    0x568
#define S_RFLAGS 0x570
#define S_RIP    0x578
#define S_RSP    0x5d8
#define S_RAX    0x5f8
#define S_CR2    0x640
#define S_GPAT   0x668

#define ICPT_CPUID    (1U << 18)
#define ICPT_HLT      (1U << 24)
#define ICPT_INVLPG   (1U << 25)
#define ICPT_CR3      (1U << 3 | 1U << 19)  /* CR3 read and write */
#define ICPT_IOIO     (1U << 27)
#define ICPT_SHUTDOWN (1U << 31)
#define ICPT_VMRUN    (1U << 0)
#define ICPT_VMMCALL  (1U << 1)

/* Exit codes (Appendix C). */
#define VMEXIT_CPUID   0x72
#define VMEXIT_HLT     0x78
#define VMEXIT_IOIO    0x7b
#define VMEXIT_CR3_READ  0x03
#define VMEXIT_CR3_WRITE 0x13
#define VMEXIT_PF      0x4e    /* exception 14 */
#define VMEXIT_INVLPG  0x79
#define VMEXIT_NPF     0x400
#define VMEXIT_INVALID ((uint64_t)-1)

static uint8_t vmcb[4096] __attribute__((aligned(4096)));
static uint8_t hsave[4096] __attribute__((aligned(4096)));
/* I/O permission map: one bit per port, 12 KiB (15.10.1); all set. */
static uint8_t iopm[3 * 4096] __attribute__((aligned(4096)));
static bool has_nrips, has_decode_assists, shadow_on;

#define VMCB(type, off) (*(volatile type *)(vmcb + (off)))

/* A segment in the save area: selector, attributes, limit, base (B-2).
 * Attributes are descriptor bits 47:40 in 7:0 and 55:52 in 11:8. */
static void seg(unsigned off, uint16_t sel, uint16_t attr, uint32_t limit)
{
	VMCB(uint16_t, off) = sel;
	VMCB(uint16_t, off + 2) = attr;
	VMCB(uint32_t, off + 4) = limit;
	VMCB(uint64_t, off + 8) = 0;
}

static void svm_save_area(uint64_t cr3, uint64_t rip, uint64_t rsp)
{
	seg(S_ES, 0x10, 0x0c93, 0xffffffff);
	seg(S_CS, 0x08, 0x0a9b, 0xffffffff);    /* L = 1, D = 0 (15.5.1) */
	seg(S_SS, 0x10, 0x0c93, 0xffffffff);
	seg(S_DS, 0x10, 0x0c93, 0xffffffff);
	seg(S_GDTR, 0, 0, 0xffff);
	seg(S_IDTR, 0, 0, HV_GUEST_IDT_LIMIT);
	VMCB(uint64_t, S_GDTR + 8) = HV_GUEST_GDT;
	VMCB(uint64_t, S_IDTR + 8) = HV_GUEST_IDT;
	VMCB(uint8_t, S_CPL) = 0;
	/* LME, LMA, NXE as the host has them; SVME is required (15.5.1). */
	VMCB(uint64_t, S_EFER) = hv_rdmsr(MSR_EFER);
	VMCB(uint64_t, S_CR0) = HV_GUEST_CR0;
	VMCB(uint64_t, S_CR3) = cr3;
	VMCB(uint64_t, S_CR4) = HV_GUEST_CR4;
	VMCB(uint64_t, S_DR6) = 0xffff0ff0;
	VMCB(uint64_t, S_DR7) = 0x400;
	VMCB(uint64_t, S_RFLAGS) = 0x2;
	VMCB(uint64_t, S_RIP) = rip;
	VMCB(uint64_t, S_RSP) = rsp;
	/* The guest PAT, used under nested paging (15.25): the reset value. */
	VMCB(uint64_t, S_GPAT) = 0x0007040600070406ULL;
}

/*
 * Shadow paging: NP_ENABLE clear, CR3 the shadow root, and the #PF,
 * CR3 read/write and INVLPG intercepts (15.9, 15.12); the TLB is flushed
 * at every VMRUN (TLB_CONTROL 1, 15.16.1) so that a shadow entry vmmu
 * revoked is never used again from it.
 */
static int svm_setup(const struct hv_features *f, bool shadow, uint64_t ncr3,
		     uint32_t asid, uint64_t cr3, uint64_t rip, uint64_t rsp)
{
	uint32_t r[4];

	if (hv_rdmsr(MSR_VM_CR) & VM_CR_SVMDIS) {       /* 15.4 */
		hv_printf("hv: svm disabled by VM_CR.SVMDIS\n");
		return -1;
	}
	hv_wrmsr(MSR_EFER, hv_rdmsr(MSR_EFER) | EFER_SVME);
	hv_wrmsr(MSR_VM_HSAVE_PA, (uint64_t)(uintptr_t)hsave);  /* 15.30.4 */
	has_nrips = f->nrips;
	hv_cpuid(0x8000000a, 0, r);
	has_decode_assists = r[3] >> 7 & 1;     /* CPUID 8000_000Ah EDX[7] */
	shadow_on = shadow;
	memset(vmcb, 0, sizeof(vmcb));
	VMCB(uint32_t, C_INTERCEPT_EXC) = 0xffffffff;   /* any guest exception */
	VMCB(uint32_t, C_INTERCEPT_MISC) = ICPT_CPUID | ICPT_HLT | ICPT_IOIO |
					   ICPT_SHUTDOWN;
	memset(iopm, 0xff, sizeof(iopm));
	VMCB(uint64_t, C_IOPM_BASE) = (uint64_t)(uintptr_t)iopm;
	/* VMRUN must be intercepted or VMRUN fails its checks (15.5.1). */
	VMCB(uint32_t, C_INTERCEPT_SVM) = ICPT_VMRUN | ICPT_VMMCALL;
	VMCB(uint32_t, C_ASID) = asid;                  /* vmmu's; 0 is the host's */
	VMCB(uint8_t, C_TLB_CONTROL) = 1;               /* flush on first run */
	VMCB(uint64_t, C_NP_ENABLE) = !shadow;          /* 15.25.3 */
	VMCB(uint64_t, C_NCR3) = shadow ? 0 : ncr3;
	if (shadow) {
		VMCB(uint32_t, C_INTERCEPT_CR) = ICPT_CR3;
		VMCB(uint32_t, C_INTERCEPT_MISC) |= ICPT_INVLPG;
	}
	VMCB(uint32_t, C_CLEAN) = 0;
	svm_save_area(cr3, rip, rsp);
	if (shadow)
		hv_printf("hv: svm vmcb ready: shadow asid %u np_enable 0 "
			  "decode-assists %d nrips %d\n", asid,
			  has_decode_assists, has_nrips);
	else
		hv_printf("hv: svm vmcb ready: ncr3 0x%lx asid %u np_enable 1\n",
			  ncr3, asid);
	return 0;
}

static void svm_run(struct hv_regs *regs, struct hv_exit *e)
{
	memset(e, 0, sizeof(*e));
	VMCB(uint64_t, S_RAX) = regs->rax;
	if (shadow_on)
		VMCB(uint8_t, C_TLB_CONTROL) = 1;
	hv_svm_enter(regs, (uint64_t)(uintptr_t)vmcb);
	regs->rax = VMCB(uint64_t, S_RAX);
	VMCB(uint8_t, C_TLB_CONTROL) = 0;
	e->reason = VMCB(uint64_t, C_EXITCODE);
	e->info = VMCB(uint64_t, C_EXITINFO1);
	e->gpa = VMCB(uint64_t, C_EXITINFO2);
	/* 15.7.2: an event whose delivery was intercepted is re-injected
	 * (EXITINTINFO has EVENTINJ's format). */
	e->vectoring = VMCB(uint64_t, C_EXITINTINFO);
	VMCB(uint64_t, C_EVENTINJ) = 0;
	if (e->vectoring >> 31 & 1) {
		VMCB(uint64_t, C_EVENTINJ) = e->vectoring;
		e->vectoring_err = (uint32_t)(e->vectoring >> 32);
		e->vectoring &= 0xffffffffULL;
	} else {
		e->vectoring = 0;
	}
	switch (e->reason) {
	case VMEXIT_CPUID:
		e->kind = HV_EXIT_CPUID;
		break;
	case VMEXIT_HLT:
		e->kind = HV_EXIT_HLT;
		break;
	case VMEXIT_IOIO:       /* 15.10.2: EXITINFO2 is the next RIP */
		e->kind = HV_EXIT_IO;
		break;
	case VMEXIT_NPF:        /* 15.25.6: EXITINFO1 error code, EXITINFO2 gpa */
		e->kind = HV_EXIT_NESTED_FAULT;
		break;
	case VMEXIT_PF:         /* 15.12.15: error code, faulting address */
		e->kind = HV_EXIT_PF;
		e->gla = e->gpa;
		e->gpa = 0;
		break;
	case VMEXIT_CR3_READ:
	case VMEXIT_CR3_WRITE:
		/* 15.33.1: with decode assists the GPR is in EXITINFO1 3:0
		 * (bit 63 valid); without, the VMM decodes its guest's
		 * instruction, which here always uses RAX. */
		e->kind = HV_EXIT_CR3;
		e->cr_read = e->reason == VMEXIT_CR3_READ;
		e->gpr = has_decode_assists && e->info >> 63 ? e->info & 0xf : 0;
		break;
	case VMEXIT_INVLPG:
		/* 15.33.2: the address in EXITINFO1 with decode assists;
		 * without, this guest's INVLPG takes it from RSI. */
		e->kind = HV_EXIT_INVLPG;
		e->gla = has_decode_assists ? e->info : regs->rsi;
		break;
	case VMEXIT_INVALID:
		e->kind = HV_EXIT_ENTRY_FAILED;
		break;
	default:
		e->kind = HV_EXIT_OTHER;
		e->gla = VMCB(uint64_t, S_RIP);
		break;
	}
}

/* nRIP (15.7.1) when the CPU has NRIPS, else the known length. */
static void svm_skip(unsigned len)
{
	if (has_nrips)
		VMCB(uint64_t, S_RIP) = VMCB(uint64_t, C_NRIP);
	else
		VMCB(uint64_t, S_RIP) = VMCB(uint64_t, S_RIP) + len;
}

/* nRIP is not given for #NPF without decode assists: the VMM's length. */
static void svm_advance(unsigned len)
{
	VMCB(uint64_t, S_RIP) = VMCB(uint64_t, S_RIP) + len;
}

/* TLB_CONTROL for the next VMRUN (15.16.1): 1 everything, 3 this ASID. */
static void svm_flush(unsigned how)
{
	VMCB(uint8_t, C_TLB_CONTROL) = (uint8_t)how;
}

static void svm_set_cr3(uint64_t root)
{
	VMCB(uint64_t, S_CR3) = root;
}

/*
 * 15.20: EVENTINJ vector 14, type 3 (exception), EV, V; CR2 in the VMCB,
 * which VMRUN loads (15.5). Bochs 2.7 (turion64_tyler) gave the guest the
 * CPU's own CR2 instead (0 here), so it is loaded into the CPU too.
 */
static void svm_inject_pf(uint32_t err, uint64_t cr2)
{
	VMCB(uint64_t, S_CR2) = cr2;
	hv_write_cr2(cr2);
	VMCB(uint64_t, C_EVENTINJ) = 14 | 3ULL << 8 | 1ULL << 11 | 1ULL << 31 |
				     (uint64_t)err << 32;
}

const struct hv_arch hv_svm_arch = {
	.name = "svm",
	.setup = svm_setup,
	.run = svm_run,
	.skip = svm_skip,
	.advance = svm_advance,
	.flush = svm_flush,
	.set_cr3 = svm_set_cr3,
	.inject_pf = svm_inject_pf,
};
