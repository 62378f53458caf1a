/* SPDX-License-Identifier: MIT */
/*
 * Raw CPUID words -> the features that matter for memory virtualization,
 * the vendor and the identification (freestanding: the bare-metal kernel
 * decodes its own CPUID with these). Bit positions: Intel SDM Vol 2A,
 * CPUID instruction (leaves 01H, 07H, 80000001H, 80000008H); AMD APM Vol 3
 * Appendix E (Fn8000_0001, Fn8000_0008, Fn8000_000A).
 */
#include <string.h>

#include "cpuid_fs.h"

/* Register columns of struct vmmu_cpuid_leaves. */
enum { EAX, EBX, ECX, EDX };

#define LEAF1_ECX_VMX           (1u << 5)
#define LEAF1_ECX_PCID          (1u << 17)
#define LEAF1_ECX_HYPERVISOR    (1u << 31)
#define LEAF1_EDX_PSE           (1u << 3)
#define LEAF1_EDX_PAE           (1u << 6)
#define LEAF7_EBX_SMEP          (1u << 7)
#define LEAF7_EBX_INVPCID       (1u << 10)
#define LEAF7_EBX_SMAP          (1u << 20)
#define LEAF7_ECX_PKU           (1u << 3)
#define LEAF7_ECX_LA57          (1u << 16)
#define EXT1_ECX_SVM            (1u << 2)
#define EXT1_EDX_NX             (1u << 20)
#define EXT1_EDX_PAGE1GB        (1u << 26)
#define EXT1_EDX_LM             (1u << 29)
/* Fn8000_000A EDX (APM Vol 3, E.4.9) */
#define SVM_EDX_NP              (1u << 0)
#define SVM_EDX_NRIPS           (1u << 3)
#define SVM_EDX_FLUSH_BY_ASID   (1u << 6)
#define SVM_EDX_DECODE_ASSISTS  (1u << 7)
#define SVM_EDX_GMET            (1u << 17)


/* A basic leaf, or NULL when the CPU does not report it. */
static const uint32_t *basic(const struct vmmu_cpuid_leaves *raw, uint32_t leaf)
{
	if (leaf >= VMMU_CPUID_MAX_LEAVES || leaf > raw->basic[0][EAX])
		return NULL;
	return raw->basic[leaf];
}

/* An extended leaf 0x80000000+idx, or NULL when not reported. */
static const uint32_t *ext(const struct vmmu_cpuid_leaves *raw, uint32_t idx)
{
	uint32_t max = raw->ext[0][EAX];

	/* A part without extended leaves echoes garbage or a basic value. */
	if ((max & 0xffff0000u) != 0x80000000u)
		return NULL;
	if (idx >= VMMU_CPUID_MAX_LEAVES || 0x80000000u + idx > max)
		return NULL;
	return raw->ext[idx];
}

static void decode_svm_leaf(const struct vmmu_cpuid_leaves *raw,
			    struct vmmu_cpu_features *f)
{
	const uint32_t *l = ext(raw, 0x0a);

	/* The leaf is only defined when SVM itself is reported. */
	if (!f->svm || !l)
		return;
	f->svm_leaf = true;
	f->svm_revision = l[EAX] & 0xff;
	f->svm_nasid = l[EBX];
	f->svm_edx = l[EDX];
	f->npt = l[EDX] & SVM_EDX_NP;
	f->nrips = l[EDX] & SVM_EDX_NRIPS;
	f->flush_by_asid = l[EDX] & SVM_EDX_FLUSH_BY_ASID;
	f->decode_assists = l[EDX] & SVM_EDX_DECODE_ASSISTS;
	f->gmet = l[EDX] & SVM_EDX_GMET;
}

void vmmu_features_from_leaves(const struct vmmu_cpuid_leaves *raw,
			       struct vmmu_cpu_features *f)
{
	const uint32_t *l1 = basic(raw, 1), *l7 = basic(raw, 7);
	const uint32_t *e1 = ext(raw, 1), *e8 = ext(raw, 8);
	bool pae = false;

	memset(f, 0, sizeof(*f));
	f->max_basic_leaf = raw->basic[0][EAX];
	f->max_ext_leaf = ext(raw, 0) ? raw->ext[0][EAX] : 0;
	if (l1) {
		f->vmx = l1[ECX] & LEAF1_ECX_VMX;
		f->pcid = l1[ECX] & LEAF1_ECX_PCID;
		f->hypervisor = l1[ECX] & LEAF1_ECX_HYPERVISOR;
		pae = l1[EDX] & LEAF1_EDX_PAE;
		f->pae = pae;
		f->pse = l1[EDX] & LEAF1_EDX_PSE;
	}
	if (l7) {       /* sub-leaf 0 */
		f->smep = l7[EBX] & LEAF7_EBX_SMEP;
		f->invpcid = l7[EBX] & LEAF7_EBX_INVPCID;
		f->smap = l7[EBX] & LEAF7_EBX_SMAP;
		f->pku = l7[ECX] & LEAF7_ECX_PKU;
		f->la57 = l7[ECX] & LEAF7_ECX_LA57;
	}
	if (e1) {
		char vendor[16];
		enum vmmu_cpu_vendor v = vmmu_vendor_from_leaves(raw, vendor);

		/* SVM is AMD's bit; elsewhere bit 2 is reserved (old VIA parts
		 * return junk in it). */
		f->svm = (v == VMMU_VENDOR_AMD || v == VMMU_VENDOR_HYGON) &&
			 (e1[ECX] & EXT1_ECX_SVM);
		f->nx = e1[EDX] & EXT1_EDX_NX;
		f->pdpe1gb = e1[EDX] & EXT1_EDX_PAGE1GB;
		f->lm = e1[EDX] & EXT1_EDX_LM;
	}
	if (e8 && (e8[EAX] & 0xff)) {
		f->maxphyaddr_reported = true;
		f->maxphyaddr = e8[EAX] & 0xff;
		f->maxlinaddr = (e8[EAX] >> 8) & 0xff;
	} else {
		/* SDM Vol 3A 4.1.4: 36 bits with PAE/PSE-36 era parts. */
		f->maxphyaddr = pae ? 36 : 32;
	}
	if (!f->maxlinaddr)
		f->maxlinaddr = f->lm ? 48 : 32;
	decode_svm_leaf(raw, f);
}

enum vmmu_cpu_vendor vmmu_vendor_from_leaves(const struct vmmu_cpuid_leaves *raw,
					     char vendor_str[16])
{
	static const struct { const char *s; enum vmmu_cpu_vendor v; } t[] = {
		{ "GenuineIntel", VMMU_VENDOR_INTEL },
		{ "AuthenticAMD", VMMU_VENDOR_AMD },
		{ "AMDisbetter!", VMMU_VENDOR_AMD },
		{ "HygonGenuine", VMMU_VENDOR_HYGON },
		{ "CentaurHauls", VMMU_VENDOR_CENTAUR },
		{ "VIA VIA VIA ", VMMU_VENDOR_CENTAUR },
		{ "  Shanghai  ", VMMU_VENDOR_ZHAOXIN },
	};
	size_t i;

	/* Leaf 0: EBX, EDX, ECX spell the vendor. */
	memcpy(vendor_str + 0, &raw->basic[0][EBX], 4);
	memcpy(vendor_str + 4, &raw->basic[0][EDX], 4);
	memcpy(vendor_str + 8, &raw->basic[0][ECX], 4);
	vendor_str[12] = '\0';
	for (i = 0; i < 12; i++)
		if (vendor_str[i] < 0x20 || vendor_str[i] > 0x7e)
			vendor_str[i] = '?';
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!memcmp(vendor_str, t[i].s, 12))
			return t[i].v;
	return VMMU_VENDOR_OTHER;
}

static void brand_string(const struct vmmu_cpuid_leaves *raw, char out[64])
{
	char b[49];
	size_t i, start = 0, end;

	out[0] = '\0';
	if (!ext(raw, 4))
		return;
	for (i = 0; i < 3; i++)
		memcpy(b + 16 * i, raw->ext[2 + i], 16);
	b[48] = '\0';
	for (end = 0; b[end]; end++)
		;
	for (i = 0; i < end; i++)
		if ((unsigned char)b[i] < 0x20 || (unsigned char)b[i] > 0x7e)
			b[i] = ' ';
	while (b[start] == ' ')
		start++;
	while (end > start && b[end - 1] == ' ')
		end--;
	b[end] = '\0';
	memcpy(out, b + start, end - start + 1);
}

void vmmu_ident_from_leaves(const struct vmmu_cpuid_leaves *raw,
			    struct vmmu_cpu_ident *cpu)
{
	uint32_t sig = raw->basic[1][EAX];
	int base_family = (sig >> 8) & 0xf, base_model = (sig >> 4) & 0xf;

	memset(cpu, 0, sizeof(*cpu));
	cpu->vendor = vmmu_vendor_from_leaves(raw, cpu->vendor_str);
	if (raw->basic[0][EAX] >= 1) {
		/* SDM Vol 2A, CPUID 01H: display family and model. */
		cpu->family = base_family;
		if (base_family == 0xf)
			cpu->family += (sig >> 20) & 0xff;
		cpu->model = base_model;
		/* The SDM names families 6 and 15; Zhaoxin's family 7 uses
		 * the extended model the same way (as Linux does, >= 6). */
		if (base_family >= 0x6)
			cpu->model |= ((sig >> 16) & 0xf) << 4;
		cpu->stepping = sig & 0xf;
	}
	brand_string(raw, cpu->brand);
}

void vmmu_host_from_leaves(struct vmmu_host_info *h,
			   const struct vmmu_cpuid_leaves *l,
			   vmmu_rdmsr_fn rdmsr, void *ctx, const char *source)
{
	memset(h, 0, sizeof(*h));
	vmmu_fmt(h->source, sizeof(h->source), "%s", source ? source : "");
	vmmu_ident_from_leaves(l, &h->cpu);
	vmmu_features_from_leaves(l, &h->feat);
	/* The notes the hosted inference leaves before reading the MSRs. */
	if (!h->feat.vmx) {
		vmmu_fmt(h->vmx.note, sizeof(h->vmx.note),
			 "CPUID.1:ECX.VMX[bit 5] is clear");
		return;
	}
	vmmu_read_vmx_msrs(h, rdmsr, ctx, "no MSR reader");
}
