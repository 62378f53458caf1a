/* SPDX-License-Identifier: MIT */
/*
 * Host CPU setup (TSS, IDT for exceptions) and feature detection from
 * CPUID and the VMX capability MSRs.
 */
#include "hv.h"

#define SEL_CODE64 0x08
#define SEL_TSS    0x18

uint8_t hv_tss[104] __attribute__((aligned(16)));
uint64_t hv_idt[64] __attribute__((aligned(16)));   /* 32 gates, 16 bytes each */
extern char hv_isr_stubs[];

/*
 * 64-bit TSS descriptor (16 bytes, type 9 = available 64-bit TSS) and
 * 64-bit interrupt gates (type 14): SDM Vol. 3A, "TSS Descriptor in
 * 64-Bit Mode" and "64-Bit Mode IDT". VMX needs a non-null host TR
 * (SDM Vol. 3C 27.2.3), which is why the host has a TSS at all.
 */
void hv_cpu_init(void)
{
	uint64_t base = (uint64_t)(uintptr_t)hv_tss, limit = sizeof(hv_tss) - 1;
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr;
	unsigned i;

	hv_gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		    ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
	hv_gdt[4] = base >> 32;
	__asm__ volatile("ltr %w0" :: "r"(SEL_TSS));
	for (i = 0; i < 32; i++) {
		uint64_t off = (uint64_t)(uintptr_t)(hv_isr_stubs + 16 * i);

		hv_idt[2 * i] = (off & 0xffff) | ((uint64_t)SEL_CODE64 << 16) |
				(0x8eULL << 40) | ((off >> 16 & 0xffff) << 48);
		hv_idt[2 * i + 1] = off >> 32;
	}
	idtr.limit = sizeof(hv_idt) - 1;
	idtr.base = (uint64_t)(uintptr_t)hv_idt;
	__asm__ volatile("lidt %0" :: "m"(idtr));
}

/* Vectors that push an error code (SDM Vol. 3A, Table 7-1 / "Exception
 * and Interrupt Reference"). */
static bool has_error_code(uint64_t vec)
{
	return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 ||
	       vec == 29 || vec == 30;
}

__attribute__((noreturn)) void hv_exception(const uint64_t *frame);
void hv_exception(const uint64_t *frame)
{
	uint64_t vec = frame[0];
	const uint64_t *f = frame + 1;
	uint64_t err = 0;

	if (has_error_code(vec))
		err = *f++;
	hv_printf("hv: host exception vector %lu error 0x%lx rip 0x%lx cr2 0x%lx\n",
		  vec, err, f[0], hv_read_cr2());
	hv_exit_emulator(false);
}

/* IA32_VMX_* capability MSRs (SDM Vol. 3C Appendix A). */
#define MSR_VMX_BASIC          0x480
#define MSR_VMX_PROCBASED      0x482
#define MSR_VMX_PROCBASED2     0x48b
#define MSR_VMX_EPT_VPID_CAP   0x48c
#define MSR_VMX_TRUE_PROCBASED 0x48e

static void detect_vmx(struct hv_features *f)
{
	uint64_t proc, proc2 = 0, cap = 0;

	f->vmx_basic = hv_rdmsr(MSR_VMX_BASIC);
	f->vmx_true_ctls = f->vmx_basic >> 55 & 1;      /* A.1 */
	proc = hv_rdmsr(f->vmx_true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED);
	f->secondary = proc >> (32 + 31) & 1;            /* A.3.2: allowed-1 */
	if (f->secondary)
		proc2 = hv_rdmsr(MSR_VMX_PROCBASED2) >> 32;   /* A.3.3 */
	f->ept = proc2 >> 1 & 1;
	f->vpid = proc2 >> 5 & 1;
	f->unrestricted = proc2 >> 7 & 1;
	if (f->ept || f->vpid)
		cap = hv_rdmsr(MSR_VMX_EPT_VPID_CAP);      /* A.10 */
	f->vmx_ept_cap = cap;
	f->ept_4level = cap >> 6 & 1;
	f->ept_wb = cap >> 14 & 1;
	f->ept_2m = cap >> 16 & 1;
	f->ept_1g = cap >> 17 & 1;
	f->ept_ad = cap >> 21 & 1;
}

void hv_detect(struct hv_features *f)
{
	uint32_t r[4], max_ext;

	memset(f, 0, sizeof(*f));
	hv_cpuid(0, 0, r);
	memcpy(f->vendor, &r[1], 4);
	memcpy(f->vendor + 4, &r[3], 4);
	memcpy(f->vendor + 8, &r[2], 4);
	hv_cpuid(1, 0, r);
	f->family = (r[0] >> 8 & 0xf) + ((r[0] >> 8 & 0xf) == 0xf ? (r[0] >> 20 & 0xff) : 0);
	f->model = (r[0] >> 4 & 0xf) | ((r[0] >> 16 & 0xf) << 4);
	f->stepping = r[0] & 0xf;
	f->vmx = r[2] >> 5 & 1;
	hv_cpuid(0x80000000, 0, r);
	max_ext = r[0];
	if (max_ext >= 0x80000001) {
		hv_cpuid(0x80000001, 0, r);
		f->svm = r[2] >> 2 & 1;
		f->nx = r[3] >> 20 & 1;
	}
	f->maxphyaddr = 36;
	if (max_ext >= 0x80000008) {
		hv_cpuid(0x80000008, 0, r);
		f->maxphyaddr = r[0] & 0xff;
	}
	if (f->svm && max_ext >= 0x8000000a) {
		hv_cpuid(0x8000000a, 0, r);     /* APM Vol. 2 15.4, Vol. 3 CPUID */
		f->svm_rev = r[0] & 0xff;
		f->asids = r[1];
		f->np = r[3] & 1;
		f->nrips = r[3] >> 3 & 1;
	}
	if (f->vmx)
		detect_vmx(f);
}

void hv_print_features(const struct hv_features *f)
{
	hv_printf("hv: cpu %s family 0x%x model 0x%x stepping %u maxphyaddr %u nx %d\n",
		  f->vendor, f->family, f->model, f->stepping, f->maxphyaddr, f->nx);
	hv_printf("hv: vmx %d ept %d ept-4level %d ept-wb %d ept-2m %d ept-1g %d "
		  "ept-ad %d unrestricted %d vpid %d\n", f->vmx, f->ept,
		  f->ept_4level, f->ept_wb, f->ept_2m, f->ept_1g, f->ept_ad,
		  f->unrestricted, f->vpid);
	if (f->vmx)
		hv_printf("hv: vmx-basic 0x%lx ept-vpid-cap 0x%lx\n",
			  f->vmx_basic, f->vmx_ept_cap);
	hv_printf("hv: svm %d np %d nrips %d svm-rev %u asids %u\n", f->svm,
		  f->np, f->nrips, f->svm_rev, f->asids);
}

/*
 * The raw words behind hv_detect, for `vmmu detect` to decide on the same
 * CPU: CPUID sub-leaf 0 of every basic and extended leaf in AIDA64's text
 * form ("hv-cpuid: " lines) and IA32_VMX_PROCBASED_CTLS2 / EPT_VPID_CAP in
 * its --vmx-msrs form ("hv-msr: " lines), see docs/detect.md.
 */
static void dump_range(uint32_t first, uint32_t last)
{
	uint32_t leaf, r[4];

	for (leaf = first; leaf <= last; leaf++) {
		hv_cpuid(leaf, 0, r);
		hv_printf("hv-cpuid: CPUID %08X: %08X-%08X-%08X-%08X [SL 00]\n",
			  leaf, r[0], r[1], r[2], r[3]);
	}
}

void hv_dump_features(const struct hv_features *f)
{
	uint32_t r[4], max_basic, max_ext;

	hv_cpuid(0, 0, r);
	max_basic = r[0] < 0x1f ? r[0] : 0x1f;
	hv_cpuid(0x80000000, 0, r);
	max_ext = r[0] < 0x8000001f ? r[0] : 0x8000001f;
	hv_printf("hv-cpuid: CPUID Registers (CPU #0):\n");
	dump_range(0, max_basic);
	if (max_ext >= 0x80000000)
		dump_range(0x80000000, max_ext);
	if (!f->vmx)
		return;
	hv_printf("hv-msr: 0x48b=0x%lx\n", f->secondary ?
		  hv_rdmsr(MSR_VMX_PROCBASED2) : 0UL);
	if (f->ept || f->vpid)
		hv_printf("hv-msr: 0x48c=0x%lx\n", f->vmx_ept_cap);
}
