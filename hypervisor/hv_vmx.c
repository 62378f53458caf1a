/* SPDX-License-Identifier: MIT */
/*
 * Intel VMX back end: VMXON, one VMCS for a 64-bit guest on EPT, and the
 * exits the guest script uses. Intel SDM Vol. 3C: 24.7 (enabling VMX),
 * 24.8 (CR0/CR4 fixed bits), 25 (VMCS fields), 27.2-27.3 (checks at VM
 * entry), 28.2 (exit information), 29.3 (EPT), Appendix A (capability
 * MSRs), Appendix B (field encodings), Appendix C (exit reasons).
 */
#include "hv.h"

#define MSR_FEATURE_CONTROL   0x3a
#define FC_LOCK               (1ULL << 0)
#define FC_VMXON_OUTSIDE_SMX  (1ULL << 2)
#define MSR_VMX_BASIC         0x480
#define MSR_VMX_CR0_FIXED0    0x486
#define MSR_VMX_CR0_FIXED1    0x487
#define MSR_VMX_CR4_FIXED0    0x488
#define MSR_VMX_CR4_FIXED1    0x489
#define MSR_VMX_PROCBASED2    0x48b
#define CR4_PAE               (1ULL << 5)
#define CR0_WP                (1ULL << 16)
#define CR0_PG                (1ULL << 31)
#define CR4_VMXE              (1ULL << 13)

/* Control MSRs, plain and "true" (A.3-A.5): pin, proc, exit, entry. */
static const uint32_t ctl_msr[2][4] = {
	{ 0x481, 0x482, 0x483, 0x484 },
	{ 0x48d, 0x48e, 0x48f, 0x490 },
};
enum { CTL_PIN, CTL_PROC, CTL_EXIT, CTL_ENTRY };

/* Field encodings (Appendix B). */
enum vmcs_field {
	GUEST_ES_SEL = 0x0800, GUEST_TR_SEL = 0x080e, HOST_ES_SEL = 0x0c00,
	HOST_CS_SEL = 0x0c02, HOST_SS_SEL = 0x0c04, HOST_DS_SEL = 0x0c06,
	HOST_FS_SEL = 0x0c08, HOST_GS_SEL = 0x0c0a, HOST_TR_SEL = 0x0c0c,
	VPID_FIELD = 0x0000, EPT_POINTER = 0x201a, GUEST_PHYS_ADDR = 0x2400,
	PML_ADDRESS = 0x200e, GUEST_PML_INDEX = 0x0812,
	VMCS_LINK = 0x2800,
	GUEST_DEBUGCTL = 0x2802,
	PIN_CTLS = 0x4000, PROC_CTLS = 0x4002, EXCEPTION_BITMAP = 0x4004,
	PF_ERROR_MASK = 0x4006, PF_ERROR_MATCH = 0x4008, CR3_TARGET_COUNT = 0x400a,
	EXIT_CTLS = 0x400c, ENTRY_CTLS = 0x4012, ENTRY_INTR_INFO = 0x4016,
	ENTRY_EXC_ERROR = 0x4018, PROC_CTLS2 = 0x401e,
	VM_INSTR_ERROR = 0x4400, EXIT_REASON = 0x4402, EXIT_INTR_INFO = 0x4404,
	EXIT_INTR_ERROR = 0x4406, IDT_VECTORING_INFO = 0x4408,
	IDT_VECTORING_ERROR = 0x440a,
	EXIT_INSTR_LEN = 0x440c,
	GUEST_ES_LIMIT = 0x4800, GUEST_GDTR_LIMIT = 0x4810,
	GUEST_IDTR_LIMIT = 0x4812, GUEST_ES_AR = 0x4814,
	GUEST_INTERRUPTIBILITY = 0x4824, GUEST_ACTIVITY = 0x4826,
	GUEST_SYSENTER_CS = 0x482a, HOST_SYSENTER_CS = 0x4c00,
	CR0_MASK = 0x6000, CR4_MASK = 0x6002, CR0_SHADOW = 0x6004,
	CR4_SHADOW = 0x6006, EXIT_QUALIFICATION = 0x6400,
	GUEST_LINEAR_ADDR = 0x640a,
	GUEST_CR0 = 0x6800, GUEST_CR3 = 0x6802, GUEST_CR4 = 0x6804,
	GUEST_ES_BASE = 0x6806, GUEST_GDTR_BASE = 0x6816,
	GUEST_IDTR_BASE = 0x6818, GUEST_DR7 = 0x681a, GUEST_RSP = 0x681c,
	GUEST_RIP = 0x681e, GUEST_RFLAGS = 0x6820, GUEST_PENDING_DBG = 0x6822,
	GUEST_SYSENTER_ESP = 0x6824, GUEST_SYSENTER_EIP = 0x6826,
	HOST_CR0 = 0x6c00, HOST_CR3 = 0x6c02, HOST_CR4 = 0x6c04,
	HOST_FS_BASE = 0x6c06, HOST_GS_BASE = 0x6c08, HOST_TR_BASE = 0x6c0a,
	HOST_GDTR_BASE = 0x6c0c, HOST_IDTR_BASE = 0x6c0e,
	HOST_SYSENTER_ESP = 0x6c10, HOST_SYSENTER_EIP = 0x6c12,
};

/* Control bits (25.6.1, 25.6.2, 25.7.1, 25.8.1). */
#define PROC_INVLPG_EXITING   (1U << 9)
#define PROC_HLT_EXITING      (1U << 7)
#define PROC_CR3_LOAD_EXITING (1U << 15)
#define PROC_CR3_STORE_EXITING (1U << 16)
#define PROC_IO_EXITING       (1U << 24)  /* unconditional I/O exiting */
#define PROC_SECONDARY        (1U << 31)
#define PROC2_EPT             (1U << 1)
#define PROC2_VPID            (1U << 5)
#define PROC2_PML             (1U << 17)
#define EXIT_HOST_64          (1U << 9)
#define ENTRY_IA32E_GUEST     (1U << 9)

/* Basic exit reasons (Appendix C). */
#define EXIT_REASON_EXCEPTION 0
#define EXIT_REASON_CPUID     10
#define EXIT_REASON_HLT       12
#define EXIT_REASON_INVLPG    14
#define EXIT_REASON_CR_ACCESS 28
#define EXIT_REASON_IO        30
#define EXIT_REASON_EPT_VIOL  48
#define EXIT_REASON_EPT_MISCONFIG 49
#define EXIT_REASON_PML_FULL  62
#define EXIT_REASON_ENTRY_FAIL (1U << 31)

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_region[4096] __attribute__((aligned(4096)));
static int vmx_launched;
static uint64_t vmx_eptp, vmx_ept_cap;
static uint32_t bad_field;      /* first VMWRITE that failed, 0 if none */

static void vmw(uint32_t field, uint64_t v)
{
	uint8_t fail;

	__asm__ volatile("vmwrite %2, %1; setna %0" : "=q"(fail)
			 : "r"((uint64_t)field), "rm"(v) : "cc", "memory");
	if (fail && !bad_field)
		bad_field = field;
}

static uint64_t vmr(uint32_t field)
{
	uint64_t v = 0;

	__asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"((uint64_t)field) : "cc");
	return v;
}

/* One of VMXON, VMCLEAR, VMPTRLD on a 64-bit physical address operand. */
#define VMX_PA_OP(name, insn)                                           \
	static int name(uint64_t pa)                                    \
	{                                                               \
		uint8_t fail;                                           \
		__asm__ volatile(insn " %1; setna %0" : "=q"(fail)      \
				 : "m"(pa) : "cc", "memory");           \
		return fail ? -1 : 0;                                   \
	}
VMX_PA_OP(vmxon, "vmxon")
VMX_PA_OP(vmclear, "vmclear")
VMX_PA_OP(vmptrld, "vmptrld")

/* A control value with want's bits, forced to what the MSR allows (A.3). */
static uint32_t ctl_adjust(uint32_t msr, uint32_t want, const char *what)
{
	uint64_t cap = hv_rdmsr(msr);
	uint32_t v = (want | (uint32_t)cap) & (uint32_t)(cap >> 32);

	if ((v & want) != want)
		hv_printf("hv: vmx %s controls lack 0x%x\n", what, want & ~v);
	return v;
}

/* 24.7: IA32_FEATURE_CONTROL, CR0/CR4 fixed bits (24.8), VMXON region. */
static int vmx_enable(const struct hv_features *f)
{
	uint64_t fc = hv_rdmsr(MSR_FEATURE_CONTROL), pa;

	if (!(fc & FC_LOCK))
		hv_wrmsr(MSR_FEATURE_CONTROL, fc | FC_LOCK | FC_VMXON_OUTSIDE_SMX);
	else if (!(fc & FC_VMXON_OUTSIDE_SMX)) {
		hv_printf("hv: vmx disabled by IA32_FEATURE_CONTROL 0x%lx\n", fc);
		return -1;
	}
	hv_write_cr0((hv_read_cr0() | hv_rdmsr(MSR_VMX_CR0_FIXED0)) &
		     hv_rdmsr(MSR_VMX_CR0_FIXED1));
	hv_write_cr4((hv_read_cr4() | CR4_VMXE | hv_rdmsr(MSR_VMX_CR4_FIXED0)) &
		     hv_rdmsr(MSR_VMX_CR4_FIXED1));
	/* 25.2: the first 4 bytes of VMXON and VMCS regions: revision id. */
	*(uint32_t *)vmxon_region = (uint32_t)(f->vmx_basic & 0x7fffffff);
	*(uint32_t *)vmcs_region = (uint32_t)(f->vmx_basic & 0x7fffffff);
	pa = (uint64_t)(uintptr_t)vmxon_region;
	if (vmxon(pa)) {
		hv_printf("hv: vmxon failed\n");
		return -1;
	}
	pa = (uint64_t)(uintptr_t)vmcs_region;
	if (vmclear(pa) || vmptrld(pa)) {
		hv_printf("hv: vmclear/vmptrld failed\n");
		return -1;
	}
	return 0;
}

/*
 * With VPID (25.6.1, 30.1) the CPU keeps the guest's translations across
 * VM entries and exits, so only the INVEPTs vmmu asks for drop them: the
 * dirty log's second round then depends on them being executed.
 * Shadow paging: no EPT and no VPID, so that every VM entry and exit
 * flushes the linear translations (29.4.3.3 for VPID 0000H) and a shadow
 * entry vmmu revoked is never used again from the TLB; CR3 loads and
 * stores and INVLPG exit (25.6.2, 26.1.3), and with the exception bitmap's
 * bit 14 and a page-fault error-code mask and match of 0 every #PF exits
 * (25.6.3).
 */
static void vmx_controls(const struct hv_features *f, bool shadow,
			 uint64_t eptp, uint32_t vpid)
{
	const uint32_t *m = ctl_msr[f->vmx_true_ctls];
	uint32_t proc = PROC_HLT_EXITING | PROC_IO_EXITING |
			(shadow ? PROC_INVLPG_EXITING | PROC_CR3_LOAD_EXITING |
			 PROC_CR3_STORE_EXITING : PROC_SECONDARY);

	vmw(PIN_CTLS, ctl_adjust(m[CTL_PIN], 0, "pin-based"));
	vmw(PROC_CTLS, ctl_adjust(m[CTL_PROC], proc, "processor-based"));
	if (!shadow) {
		vmw(PROC_CTLS2, ctl_adjust(MSR_VMX_PROCBASED2, PROC2_EPT |
					   (vpid ? PROC2_VPID : 0), "secondary"));
		if (vpid)
			vmw(VPID_FIELD, vpid);
		vmw(EPT_POINTER, eptp);
	}
	vmw(EXIT_CTLS, ctl_adjust(m[CTL_EXIT], EXIT_HOST_64, "exit"));
	vmw(ENTRY_CTLS, ctl_adjust(m[CTL_ENTRY], ENTRY_IA32E_GUEST, "entry"));
	vmw(EXCEPTION_BITMAP, 0xffffffff);      /* any guest exception exits */
	vmw(PF_ERROR_MASK, 0);
	vmw(PF_ERROR_MATCH, 0);
	vmw(CR3_TARGET_COUNT, 0);               /* 25.6.7: every CR3 load */
	vmw(ENTRY_INTR_INFO, 0);
	vmw(VMCS_LINK, ~0ULL);                  /* 27.3.1.5: no shadow VMCS */
	/* Shadow: PG and WP belong to the VMM (the shadow tables rely on
	 * WP = 1 to catch the guest's supervisor writes to its tables). */
	vmw(CR0_MASK, shadow ? CR0_PG | CR0_WP : 0);
	vmw(CR4_MASK, 0);
}

/* 25.5 host-state area, checked by 27.2.2-27.2.4. */
static void vmx_host_state(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr;

	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	vmw(HOST_CR0, hv_read_cr0());
	vmw(HOST_CR3, hv_read_cr3());
	vmw(HOST_CR4, hv_read_cr4());
	vmw(HOST_CS_SEL, 0x08);
	vmw(HOST_SS_SEL, 0x10);
	vmw(HOST_DS_SEL, 0x10);
	vmw(HOST_ES_SEL, 0x10);
	vmw(HOST_FS_SEL, 0x10);
	vmw(HOST_GS_SEL, 0x10);
	vmw(HOST_TR_SEL, 0x18);
	vmw(HOST_FS_BASE, 0);
	vmw(HOST_GS_BASE, 0);
	vmw(HOST_TR_BASE, (uint64_t)(uintptr_t)hv_tss);
	vmw(HOST_GDTR_BASE, gdtr.base);
	vmw(HOST_IDTR_BASE, (uint64_t)(uintptr_t)hv_idt);
	vmw(HOST_SYSENTER_CS, 0);
	vmw(HOST_SYSENTER_ESP, 0);
	vmw(HOST_SYSENTER_EIP, 0);
	/* HOST_RSP and HOST_RIP are written by hv_vmx_enter. */
}

/*
 * 25.4 guest-state area for a flat 64-bit guest at CPL 0, checked by
 * 27.3.1: CS long-mode code (type 11, L = 1), data segments type 3, a
 * busy 64-bit TSS (type 11) in TR, LDTR unusable (access-rights bit 16).
 */
static void vmx_guest_state(uint64_t cr3, uint64_t rip, uint64_t rsp)
{
	static const uint32_t ar[8] = { 0xc093, 0xa09b, 0xc093, 0xc093,
					0xc093, 0xc093, 0x10000, 0x008b };
	static const uint16_t sel[8] = { 0x10, 0x08, 0x10, 0x10, 0x10, 0x10, 0, 0x18 };
	unsigned i;

	for (i = 0; i < 8; i++) {       /* ES CS SS DS FS GS LDTR TR */
		vmw(GUEST_ES_SEL + 2 * i, sel[i]);
		vmw(GUEST_ES_LIMIT + 2 * i, i == 7 ? 0x67 : 0xffffffff);
		vmw(GUEST_ES_AR + 2 * i, ar[i]);
		vmw(GUEST_ES_BASE + 2 * i, 0);
	}
	vmw(GUEST_GDTR_BASE, HV_GUEST_GDT);
	vmw(GUEST_GDTR_LIMIT, 0xffff);
	vmw(GUEST_IDTR_BASE, HV_GUEST_IDT);
	vmw(GUEST_IDTR_LIMIT, HV_GUEST_IDT_LIMIT);
	vmw(GUEST_CR0, (HV_GUEST_CR0 | hv_rdmsr(MSR_VMX_CR0_FIXED0)) &
	    hv_rdmsr(MSR_VMX_CR0_FIXED1));
	vmw(CR0_SHADOW, HV_GUEST_CR0);
	vmw(GUEST_CR4, (CR4_PAE | CR4_VMXE | hv_rdmsr(MSR_VMX_CR4_FIXED0)) &
	    hv_rdmsr(MSR_VMX_CR4_FIXED1));
	vmw(CR4_SHADOW, CR4_PAE);
	vmw(GUEST_CR3, cr3);
	vmw(GUEST_DR7, 0x400);
	vmw(GUEST_DEBUGCTL, 0);
	vmw(GUEST_RSP, rsp);
	vmw(GUEST_RIP, rip);
	vmw(GUEST_RFLAGS, 0x2);
	vmw(GUEST_PENDING_DBG, 0);
	vmw(GUEST_INTERRUPTIBILITY, 0);
	vmw(GUEST_ACTIVITY, 0);
	vmw(GUEST_SYSENTER_CS, 0);
	vmw(GUEST_SYSENTER_ESP, 0);
	vmw(GUEST_SYSENTER_EIP, 0);
}

static int vmx_setup(const struct hv_features *f, bool shadow, uint64_t eptp,
		     uint32_t asid, uint64_t cr3, uint64_t rip, uint64_t rsp)
{
	if (vmx_enable(f))
		return -1;
	vmx_eptp = eptp;
	vmx_ept_cap = f->vmx_ept_cap;
	bad_field = 0;
	vmx_controls(f, shadow, eptp, f->vpid ? asid : 0);
	vmx_host_state();
	vmx_guest_state(cr3, rip, rsp);
	if (bad_field) {
		hv_printf("hv: vmwrite 0x%x failed\n", bad_field);
		return -1;
	}
	if (shadow)
		hv_printf("hv: vmx vmcs ready: shadow pin 0x%lx proc 0x%lx "
			  "exit 0x%lx entry 0x%lx cr0 0x%lx\n", vmr(PIN_CTLS),
			  vmr(PROC_CTLS), vmr(EXIT_CTLS), vmr(ENTRY_CTLS),
			  vmr(GUEST_CR0));
	else
		hv_printf("hv: vmx vmcs ready: eptp 0x%lx vpid %lu pin 0x%lx proc 0x%lx "
			  "proc2 0x%lx exit 0x%lx entry 0x%lx\n", eptp, vmr(VPID_FIELD),
			  vmr(PIN_CTLS), vmr(PROC_CTLS), vmr(PROC_CTLS2), vmr(EXIT_CTLS),
			  vmr(ENTRY_CTLS));
	return 0;
}

/* 28.2.1: basic exit reason, qualification, guest-physical/linear address. */
/* 25.6.18: the log page and the index the CPU logs at; "enable PML". */
static void vmx_pml(uint64_t page, bool on, uint16_t index)
{
	uint64_t c2 = vmr(PROC_CTLS2);

	if (on) {
		vmw(PML_ADDRESS, page);
		vmw(GUEST_PML_INDEX, index);
	}
	vmw(PROC_CTLS2, on ? c2 | PROC2_PML : c2 & ~(uint64_t)PROC2_PML);
}

static void vmx_run(struct hv_regs *regs, struct hv_exit *e)
{
	uint64_t reason;

	memset(e, 0, sizeof(*e));
	if (hv_vmx_enter(regs, vmx_launched)) {
		e->kind = HV_EXIT_ENTRY_FAILED;
		e->info = vmr(VM_INSTR_ERROR);  /* 31.4: VM-instruction error */
		return;
	}
	vmx_launched = 1;
	reason = vmr(EXIT_REASON);
	e->reason = reason & 0xffff;
	e->info = vmr(EXIT_QUALIFICATION);
	if (vmr(PROC_CTLS2) & PROC2_PML) {
		e->pml_valid = true;
		e->pml_index = (uint16_t)vmr(GUEST_PML_INDEX);
	}
	if (reason & EXIT_REASON_ENTRY_FAIL) {
		e->kind = HV_EXIT_ENTRY_FAILED;
		return;
	}
	/* 28.2.4, 29.2.4: an event whose delivery caused the exit (a #PF on
	 * the IDT or stack while an injected #PF was delivered) is
	 * re-injected as it was (bit 12 is not part of the injection
	 * format, 26.6.1.1). */
	e->vectoring = vmr(IDT_VECTORING_INFO);
	if (e->vectoring >> 31 & 1) {
		vmw(ENTRY_INTR_INFO, e->vectoring & ~(1ULL << 12));
		e->vectoring_err = (uint32_t)vmr(IDT_VECTORING_ERROR);
		if (e->vectoring >> 11 & 1)
			vmw(ENTRY_EXC_ERROR, e->vectoring_err);
	} else {
		e->vectoring = 0;
	}
	switch (e->reason) {
	case EXIT_REASON_CPUID:
		e->kind = HV_EXIT_CPUID;
		break;
	case EXIT_REASON_HLT:
		e->kind = HV_EXIT_HLT;
		break;
	case EXIT_REASON_IO:
		e->kind = HV_EXIT_IO;
		break;
	case EXIT_REASON_EXCEPTION:
		/* 25.9.2: vector in bits 7:0; 28.2.1: CR2 in the qualification */
		if ((vmr(EXIT_INTR_INFO) & 0xff) != 14)
			goto other;
		e->kind = HV_EXIT_PF;
		e->gla = e->info;
		e->info = vmr(EXIT_INTR_ERROR);
		break;
	case EXIT_REASON_CR_ACCESS:
		/* Table 28-3: CR in 3:0, access type in 5:4, register 11:8 */
		if ((e->info & 0xf) != 3 || (e->info >> 4 & 3) > 1)
			goto other;
		e->kind = HV_EXIT_CR3;
		e->cr_read = e->info >> 4 & 1;
		e->gpr = e->info >> 8 & 0xf;
		break;
	case EXIT_REASON_INVLPG:
		e->kind = HV_EXIT_INVLPG;      /* 28.2.1: the linear address */
		e->gla = e->info;
		break;
	case EXIT_REASON_EPT_VIOL:
		/* Table 28-7: bit 7, the linear-address field is valid. */
		e->kind = HV_EXIT_NESTED_FAULT;
		e->gpa = vmr(GUEST_PHYS_ADDR);
		e->gla_valid = e->info >> 7 & 1;
		e->gla = e->gla_valid ? vmr(GUEST_LINEAR_ADDR) : 0;
		break;
	case EXIT_REASON_PML_FULL:
		/* 28.2.1: no qualification or address worth passing on */
		e->kind = HV_EXIT_NESTED_FAULT;
		e->info = 0;
		break;
	case EXIT_REASON_EPT_MISCONFIG:
		/* 28.2.1: only the guest-physical address; no qualification. */
		e->kind = HV_EXIT_NESTED_FAULT;
		e->info = 0;
		e->gpa = vmr(GUEST_PHYS_ADDR);
		break;
	default:
	other:
		e->kind = HV_EXIT_OTHER;
		e->gpa = vmr(EXIT_INTR_INFO);
		e->gla = vmr(GUEST_RIP);
		break;
	}
}

static void vmx_skip(unsigned len)
{
	(void)len;      /* the CPU gives it: 25.9.4 VM-exit instruction length */
	vmw(GUEST_RIP, vmr(GUEST_RIP) + vmr(EXIT_INSTR_LEN));
}

/* 28.2.5: the instruction-length field is undefined on EPT violations. */
static void vmx_advance(unsigned len)
{
	vmw(GUEST_RIP, vmr(GUEST_RIP) + len);
}

/*
 * INVEPT (SDM Vol. 3C 31.3; 29.4.3.1): single-context for this EPTP when
 * IA32_VMX_EPT_VPID_CAP bit 25 allows it, else all-context (bit 26).
 */
static void vmx_flush(unsigned how)
{
	struct { uint64_t eptp, zero; } desc = { vmx_eptp, 0 };
	uint64_t type = vmx_ept_cap >> 25 & 1 ? 1 : 2;

	(void)how;
	if (!(vmx_ept_cap >> 20 & 1) || !(vmx_ept_cap >> (24 + type) & 1))
		return;
	__asm__ volatile("invept %0, %1" :: "m"(desc), "r"(type) : "cc", "memory");
}

static void vmx_set_cr3(uint64_t root)
{
	vmw(GUEST_CR3, root);
}

/*
 * 26.6: a hardware exception (type 3) with its error code at the next VM
 * entry. VMX keeps no guest CR2: the CPU's CR2 is the guest's across the
 * entry, so it is loaded here (the host takes no #PF before the entry).
 */
static void vmx_inject_pf(uint32_t err, uint64_t cr2)
{
	hv_write_cr2(cr2);
	vmw(ENTRY_EXC_ERROR, err);
	vmw(ENTRY_INTR_INFO, 14 | 3U << 8 | 1U << 11 | 1U << 31);
}

const struct hv_arch hv_vmx_arch = {
	.name = "vmx",
	.setup = vmx_setup,
	.run = vmx_run,
	.skip = vmx_skip,
	.advance = vmx_advance,
	.flush = vmx_flush,
	.pml = vmx_pml,
	.set_cr3 = vmx_set_cr3,
	.inject_pf = vmx_inject_pf,
};
