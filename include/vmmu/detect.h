/* SPDX-License-Identifier: MIT */
/*
 * Host feature detection and per-VM paging-mode selection.
 *
 * Three layers, kept apart so that each can be tested on its own:
 *   1. sources: the live host (CPUID through libcpuid, the VMX capability
 *      MSRs, /dev/kvm, kvm module parameters, hwloc) or a CPUID dump file,
 *      optionally with a file of VMX capability MSR values;
 *   2. decoding: raw CPUID words and MSR values -> struct vmmu_host_info
 *      (vmmu_decode_vmx_msrs() and the CPUID decoder are pure);
 *   3. policy: vmmu_decide() is a pure function of a host description and a
 *      VM request; it returns a backend with its reasons and degradations.
 * Nothing here aborts on a strange CPU: missing leaves, unknown vendors,
 * hidden features and unreadable MSRs all end in a decision with reasons.
 */
#ifndef VMMU_DETECT_H
#define VMMU_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmmu/vm.h"

/*
 * "Choose for me" in a request: a value of its own, outside vm.h's
 * enumerators, so that VMMU_BACKEND_NONE (a core-only VM, no second-level
 * translation) prints as "none" and not as "auto". A request left zeroed
 * (backend VMMU_BACKEND_NONE) also asks for a choice; a decision's backend
 * is never NONE or AUTO.
 */
#define VMMU_BACKEND_AUTO ((enum vmmu_backend_kind)0xff)

enum vmmu_cpu_vendor {
	VMMU_VENDOR_UNKNOWN = 0,
	VMMU_VENDOR_INTEL,
	VMMU_VENDOR_AMD,
	VMMU_VENDOR_HYGON,
	VMMU_VENDOR_CENTAUR,    /* VIA / Centaur */
	VMMU_VENDOR_ZHAOXIN,
	VMMU_VENDOR_OTHER,      /* a vendor string vmmu does not know */
};

/* Where the VMX capability values came from. */
enum vmmu_vmx_source {
	VMMU_VMX_SRC_NONE = 0,  /* no VMX, or nothing known about it */
	VMMU_VMX_SRC_MSR,       /* read from the live host's MSRs */
	VMMU_VMX_SRC_FILE,      /* given by the user (--vmx-msrs) */
	VMMU_VMX_SRC_INFERRED,  /* inferred from the microarchitecture */
};

/* How libcpuid's codename compares with vmmu's microarchitecture. */
enum vmmu_codename_check {
	VMMU_CODENAME_NONE = 0,         /* libcpuid did not name the part */
	VMMU_CODENAME_CONSISTENT,       /* its die belongs to vmmu's uarch */
	VMMU_CODENAME_UNCHECKED,        /* vmmu has no uarch to hold it to */
	VMMU_CODENAME_INCONSISTENT,     /* names another die: not shown */
};

struct vmmu_cpu_ident {
	enum vmmu_cpu_vendor vendor;
	char vendor_str[16];
	char brand[64];
	/*
	 * libcpuid's codename as it gave it, "" when unidentified; often wrong
	 * for parts libcpuid 0.6.2 does not know: show it only through
	 * vmmu_cpu_libcpuid_codename() / vmmu_cpu_name().
	 */
	char codename[64];
	enum vmmu_codename_check codename_check;
	char uarch[32];         /* vmmu's microarchitecture name, "" unknown */
	int family;             /* display family (base + extended) */
	int model;              /* display model ((ext << 4) | base) */
	int stepping;
	bool identified;        /* libcpuid's cpu_identify succeeded */
};

/* CPUID-visible features that matter for memory virtualization. */
struct vmmu_cpu_features {
	uint32_t max_basic_leaf, max_ext_leaf;
	bool vmx, svm, hypervisor, lm, nx, pdpe1gb, la57;
	bool pae, pse;          /* CPUID.1:EDX[6], [3] */
	char hypervisor_vendor[16]; /* leaf 0x40000000 (live only), or "" */
	bool pcid, invpcid, smep, smap, pku;
	unsigned maxphyaddr;    /* CPUID 0x80000008 EAX[7:0], else 36/32 */
	unsigned maxlinaddr;    /* CPUID 0x80000008 EAX[15:8], else 32/48 */
	bool maxphyaddr_reported; /* leaf 0x80000008 present */
	/* SVM feature leaf 0x8000000A (APM Vol 3, CPUID Fn8000_000A) */
	bool svm_leaf;
	uint32_t svm_revision, svm_nasid, svm_edx;
	bool npt, nrips, flush_by_asid, decode_assists, gmet;
	bool svm_firmware_disabled;     /* VM_CR.SVMDIS (live, MSR readable) */
};

/*
 * VMX capabilities that the paging-mode choice needs (SDM Vol 3D A.3.3
 * secondary processor-based controls, A.10 IA32_VMX_EPT_VPID_CAP).
 */
struct vmmu_vmx_caps {
	enum vmmu_vmx_source src;
	bool have_ctls2, have_ept_vpid_cap;   /* raw values below are valid */
	uint64_t procbased_ctls2;             /* IA32_VMX_PROCBASED_CTLS2 0x48B */
	uint64_t ept_vpid_cap;                /* IA32_VMX_EPT_VPID_CAP 0x48C */
	bool ept, vpid, unrestricted_guest, pml, mbec;
	bool ept_xonly, ept_wl4, ept_wl5, ept_uc, ept_wb, ept_2m, ept_1g;
	bool invept, invept_single, invept_all, ept_ad;
	/* IA32_FEATURE_CONTROL locked with VMX off (live, MSR readable) */
	bool firmware_disabled;
	char note[160];         /* how these were obtained, or why not */
};

/* A tri-state module parameter: -1 absent, 0 off, 1 on. */
struct vmmu_kvm_info {
	bool probed;            /* live detection looked at /dev/kvm */
	bool present;           /* /dev/kvm opened */
	int open_errno;
	char open_error[64];    /* strerror(open_errno), for the reasons */
	int api_version;
	char module[16];        /* kvm_intel, kvm_amd, kvm_pvm, "" */
	int cap_nr_vcpus, cap_max_vcpus, cap_nr_memslots;
	int cap_dirty_log_ring, cap_dirty_log_ring_acq_rel;
	int cap_manual_dirty_log_protect2, cap_sync_mmu, cap_readonly_mem;
	int cap_x86_smm, cap_x86_disable_exits, cap_set_identity_map_addr;
	int param_ept, param_eptad, param_pml, param_unrestricted_guest;
	int param_npt, param_tdp_mmu;
};

#define VMMU_MAX_CPUKINDS 4

struct vmmu_topology {
	bool valid;
	int packages, cores, pus, numa_nodes;
	int nr_cpukinds;
	struct {
		char core_type[24];     /* hwloc's CoreType info, "" unknown */
		int efficiency;         /* hwloc's ranking, -1 unknown */
		int pus;
	} kinds[VMMU_MAX_CPUKINDS];
};

struct vmmu_host_info {
	bool live;              /* this machine, as opposed to a dump */
	char source[256];       /* "live host" or the dump path */
	/*
	 * Dump only: leaves the dump's maximum-leaf values promise that it
	 * lacks and the decision does not read (what they give is unknown),
	 * "" when none. Leaves the decision reads are never absent: such a
	 * dump is refused.
	 */
	char dump_note[240];
	struct vmmu_cpu_ident cpu;
	struct vmmu_cpu_features feat;
	struct vmmu_vmx_caps vmx;
	struct vmmu_kvm_info kvm;
	struct vmmu_topology topo;
};

/* What one VM asks for. */
struct vmmu_vm_request {
	enum vmmu_backend_kind backend; /* VMMU_BACKEND_AUTO or an override */
	bool guest_la57;                /* guest uses 5-level paging */
	unsigned guest_phys_bits;       /* 0: host MAXPHYADDR, at most 48 */
	bool model_only;                /* run in the software model only */
};

#define VMMU_DETECT_MAX_ITEMS 32

/* One reason or degradation: a stable code and a sentence. */
struct vmmu_detect_item {
	const char *code;
	char text[200];
};

enum vmmu_dirty_log {
	VMMU_DIRTY_WRITE_PROTECT = 0,   /* write-protect and take faults */
	VMMU_DIRTY_AD_BITS,             /* hardware-set dirty bits */
	VMMU_DIRTY_PML,                 /* page-modification log */
	VMMU_DIRTY_AUTO,                /* vmmu_dirty_set_mode: the best there is */
};

/* Guest paging modes a decision can host (vmmu_decision.guest_modes). */
enum vmmu_guest_mode_bit {
	VMMU_GUEST_MODE_UNPAGED = 1u << 0,      /* CR0.PG=0 */
	VMMU_GUEST_MODE_2LEVEL = 1u << 1,       /* 32-bit paging */
	VMMU_GUEST_MODE_PAE = 1u << 2,
	VMMU_GUEST_MODE_4LEVEL = 1u << 3,
	VMMU_GUEST_MODE_5LEVEL = 1u << 4,
};

struct vmmu_decision {
	enum vmmu_backend_kind backend;
	bool refused;           /* an override the host cannot honour */
	bool model_only;
	/*
	 * Second-level (EPT/NPT) or shadow levels: shadow tables are the
	 * host CPU's own format, so 2 (32-bit), 3 (PAE), 4 or 5.
	 */
	unsigned levels;
	unsigned phys_bits;     /* the guest-physical width decided on */
	unsigned guest_modes;   /* enum vmmu_guest_mode_bit, on the real MMU */
	/* leaf_4m: 4 MiB leaves of 32-bit (PSE) shadow tables */
	bool leaf_2m, leaf_1g, leaf_4m, exec_only, tagged_tlb;
	bool nx;                /* guest no-execute is enforced */
	enum vmmu_dirty_log dirty_log;
	size_t n_reasons, n_degraded;
	struct vmmu_detect_item reasons[VMMU_DETECT_MAX_ITEMS];
	struct vmmu_detect_item degraded[VMMU_DETECT_MAX_ITEMS];
};

/* Decoding (pure). */
void vmmu_decode_vmx_msrs(struct vmmu_vmx_caps *caps, uint64_t ctls2,
			  uint64_t ept_vpid_cap, enum vmmu_vmx_source src);
/*
 * Infer VMX capabilities from the CPU identification (Intel only); leaves
 * caps->src at VMMU_VMX_SRC_NONE with a note when nothing can be inferred.
 * Also fills cpu->uarch when the model is in vmmu's table.
 */
void vmmu_infer_vmx_caps(struct vmmu_cpu_ident *cpu,
			 const struct vmmu_cpu_features *feat,
			 struct vmmu_vmx_caps *caps);

/*
 * Sources. Each returns 0, or a negative enum vmmu_err with a message in
 * err (VMMU_EPARSE: malformed input, VMMU_EIO: unreadable file).
 */
int vmmu_detect_live(struct vmmu_host_info *host, char *err, size_t errlen);
int vmmu_detect_dump(struct vmmu_host_info *host, const char *path,
		     char *err, size_t errlen);
/* Only this machine's identification (CPUID; no MSRs, KVM or hwloc). */
int vmmu_identify_live(struct vmmu_cpu_ident *cpu, char *err, size_t errlen);
/*
 * Replace the VMX capabilities with values from a file: either JSON-like
 * {"0x48b": "0x...", "0x48c": "0x..."} or lines "0x48b=0x..." ('#'
 * comments). 0x48C may be omitted when 0x48B allows neither EPT nor VPID.
 */
int vmmu_load_vmx_msrs(struct vmmu_host_info *host, const char *path,
		       char *err, size_t errlen);

/*
 * Policy (pure). Returns 0 with a decision, VMMU_ENOTSUP when an override
 * is refused (out->refused set, reasons say why), VMMU_EINVAL for a
 * malformed request.
 */
int vmmu_decide(const struct vmmu_host_info *host,
		const struct vmmu_vm_request *req, struct vmmu_decision *out);

/*
 * Freestanding detection, for a bare-metal kernel (hypervisor/) and the
 * hosted sources alike: raw CPUID words, sub-leaf 0 of the basic leaves
 * 0..31 and the extended leaves 0x80000000..0x8000001F, registers EAX,
 * EBX, ECX, EDX in that order. Leaves above the CPU's maximum are ignored.
 */
#define VMMU_CPUID_MAX_LEAVES 32

struct vmmu_cpuid_leaves {
	uint32_t basic[VMMU_CPUID_MAX_LEAVES][4];
	uint32_t ext[VMMU_CPUID_MAX_LEAVES][4];
};

/* Read one MSR: 0, or non-zero when it cannot be read. */
typedef int (*vmmu_rdmsr_fn)(void *ctx, uint32_t index, uint64_t *value);

/*
 * A host description from CPUID words and, when CPUID reports VMX, the VMX
 * capability MSRs read through rdmsr (0x3A, 0x482, 0x48B, 0x48C, as the
 * live detection reads them; rdmsr NULL: capabilities unknown). No libcpuid
 * codename, microarchitecture inference, KVM or topology: what a kernel on
 * the bare CPU knows. source names where the words came from.
 */
void vmmu_host_from_leaves(struct vmmu_host_info *host,
			   const struct vmmu_cpuid_leaves *leaves,
			   vmmu_rdmsr_fn rdmsr, void *ctx, const char *source);

/*
 * The decision as `vmmu detect` prints it, from its "request" line to the
 * last degradation, into buf (NUL-terminated, truncated to len). Returns
 * the length of the whole text. Freestanding.
 */
size_t vmmu_decision_format(const struct vmmu_vm_request *req,
			    const struct vmmu_decision *d, char *buf,
			    size_t len);
const char *vmmu_dirty_log_name(enum vmmu_dirty_log m);

/*
 * libcpuid's codename where it can be shown (consistent with vmmu's
 * microarchitecture, or vmmu has none), "" otherwise.
 */
const char *vmmu_cpu_libcpuid_codename(const struct vmmu_cpu_ident *cpu);
/* "Zen 4 (libcpuid: Ryzen 5 (Raphael))", "Raptor Cove", "libcpuid: ..." */
void vmmu_cpu_name(const struct vmmu_cpu_ident *cpu, char *buf, size_t len);
const char *vmmu_codename_check_name(enum vmmu_codename_check c);

const char *vmmu_backend_name(enum vmmu_backend_kind kind);
/* "auto", "ept", "npt", "shadow" -> kind; -1 for anything else. */
int vmmu_backend_parse(const char *name, enum vmmu_backend_kind *out);
const char *vmmu_vendor_name(enum vmmu_cpu_vendor v);
const char *vmmu_vmx_source_name(enum vmmu_vmx_source s);

#endif
