/* SPDX-License-Identifier: MIT */
/*
 * The backend interface that EPT, NPT, shadow paging and the direct
 * (no second level) backend implement.
 *
 * A backend has two sides, kept apart:
 *  - the hardware side (hw_walk): what a CPU does on a TLB miss, reading
 *    only the bytes of the tables the hypervisor side wrote; its outcome is
 *    a translation, a guest fault, or a VM exit carrying the architectural
 *    exit information (struct vmmu_exit);
 *  - the hypervisor side (handle_exit and the event hooks): what vmmu, as
 *    the hypervisor, does with an exit or a guest event. A real VMM uses
 *    only this side, passing what the CPU gave it (VMCS/VMCB fields).
 *
 * Each callback does one thing and returns 0 or a negative vmmu_err. A
 * backend keeps its state in vm->backend_state and vcpu->backend_state,
 * never in globals. The VM's memory map, p2m types, dirty log and vCPU
 * state belong to the VM (vm.h), so that a VM can change backend.
 *
 * Concurrency: hw_walk may run on several vCPU threads at once and
 * concurrently with the hypervisor side (the engine's store ordering makes
 * that safe); every other callback is called with the VM lock held
 * (vmmu_vm_lock), so the hypervisor side is single-writer per VM.
 */
#ifndef VMMU_BACKEND_H
#define VMMU_BACKEND_H

#include "vmmu/vm.h"
#include "vmmu/detect.h"

/* Permissions of a guest-physical mapping. */
#define VMMU_PROT_R (1U << 0)
#define VMMU_PROT_W (1U << 1)
#define VMMU_PROT_X (1U << 2)
#define VMMU_PROT_RWX (VMMU_PROT_R | VMMU_PROT_W | VMMU_PROT_X)

/*
 * The p2m type of a guest-physical page: what the VM says it is, from
 * which each backend derives its entries' rights (stored in the entries'
 * software-available bits).
 */
enum vmmu_p2m_type {
	VMMU_P2M_RAM_RW = 0,
	VMMU_P2M_RAM_RO,
	VMMU_P2M_RAM_LOGDIRTY,  /* RAM whose writes are being logged */
	VMMU_P2M_MMIO,
	VMMU_P2M_ROM,
	VMMU_P2M_GRANT_RW,
	VMMU_P2M_GRANT_RO,
	VMMU_P2M_FOREIGN,
	VMMU_P2M_TYPES_
};

/* Why an access left the guest: what the hypervisor side is given. */
enum vmmu_exit_kind {
	VMMU_EXIT_NONE = 0,
	VMMU_EXIT_EPT_VIOLATION,    /* qualification, gpa, gva (SDM 28.2.1) */
	VMMU_EXIT_EPT_MISCONFIG,    /* gpa (SDM 28.2.3.1) */
	VMMU_EXIT_NPF,              /* exitinfo1, exitinfo2 = gpa (APM 15.25.6) */
	VMMU_EXIT_SHADOW_PF,        /* a guest #PF the hypervisor intercepted */
	VMMU_EXIT_UNBACKED,         /* direct backend: gpa without a host page */
	VMMU_EXIT_PML_FULL,         /* SDM 29.3.6: the PML log is full */
	VMMU_EXIT_KINDS_
};

struct vmmu_exit {
	enum vmmu_exit_kind kind;
	enum vmmu_access_kind access;
	gpa_t gpa;                  /* the guest-physical address of the fault */
	gva_t gva;                  /* the linear address, when gva_valid */
	bool gva_valid;
	bool guest_pt;              /* on a guest page-table access (2-D walk) */
	uint64_t qualification;     /* EPT exit qualification */
	uint64_t exitinfo1, exitinfo2;  /* #NPF */
	uint32_t error_code;        /* shadow #PF: the error code */
};

/* What the hypervisor side did with an exit. */
enum vmmu_action {
	VMMU_ACT_RETRY = 0,     /* cause removed: the access is retried */
	VMMU_ACT_DONE,          /* the handler performed the access itself
				   (emulated store, device model): complete */
	VMMU_ACT_INJECT,        /* deliver result->fault to the guest */
	VMMU_ACT_TO_VMM,        /* return to the VMM with result->reason */
};

/* Why an access is returned to the VMM. */
enum vmmu_vmm_reason {
	VMMU_REASON_NONE = 0,
	VMMU_REASON_MMIO,       /* MMIO and no device callback took it */
	VMMU_REASON_ROM_WRITE,  /* a write to a ROM slot */
	VMMU_REASON_UNMAPPED,   /* no slot backs the gpa */
	VMMU_REASON_UNHANDLED,  /* an exit the backend cannot resolve */
};

struct vmmu_exit_result {
	enum vmmu_action action;
	enum vmmu_vmm_reason reason;
	struct vmmu_walk_result fault;  /* VMMU_ACT_INJECT */
	/*
	 * DONE, TO_VMM: the guest-physical address the handler found, for
	 * exits that cannot carry it (a shadow #PF knows only the linear
	 * address: the hardware walked gva -> hpa). gpa_valid false: the
	 * exit's own gpa stands.
	 */
	bool gpa_valid;
	gpa_t gpa;
};

/*
 * One guest memory operation as the access path carries it: the access,
 * its size (1..8 bytes, within one page) and its data (written for a
 * write, filled for a read; NULL to translate only).
 */
struct vmmu_op {
	struct vmmu_access acc;
	unsigned size;
	void *data;
};

/*
 * Outcome of the hardware side's walk. On VMMU_HW_OK the combined
 * translation is what a TLB entry would hold: page_size is the smaller of
 * the guest and the nested page, rights the guest leaf's combined U/S,
 * R/W, NX (walker encoding, vmmu_walk_rights), nested the second-level
 * VMMU_PROT_* (all for backends without one).
 */
enum vmmu_hw_status { VMMU_HW_OK = 0, VMMU_HW_FAULT, VMMU_HW_EXIT };

struct vmmu_hw_walk {
	enum vmmu_hw_status status;
	hpa_t hpa;                  /* OK: host address of the byte */
	gpa_t gpa;                  /* OK: guest-physical address */
	uint64_t page_size;
	uint8_t rights;             /* guest U/S, R/W, NX (see walk.h) */
	uint8_t nested;             /* VMMU_PROT_* of the second level */
	uint8_t pkey;
	bool global, dirty;         /* guest leaf's G and D */
	struct vmmu_walk_result guest;  /* the guest walk (FAULT: the fault) */
	struct vmmu_exit exit;      /* EXIT */
	unsigned guest_refs, nested_refs;  /* memory references made */
};

/* Control registers whose writes the hooks see. */
enum vmmu_cr { VMMU_CR0, VMMU_CR3, VMMU_CR4, VMMU_EFER };

struct vmmu_backend_ops {
	const char *name;
	int (*vm_init)(struct vmmu_vm *vm);
	void (*vm_destroy)(struct vmmu_vm *vm);
	int (*vcpu_init)(struct vmmu_vcpu *vcpu);
	void (*vcpu_destroy)(struct vmmu_vcpu *vcpu);
	/* A slot appeared or disappeared in the guest-physical map. */
	int (*slot_added)(struct vmmu_vm *vm, const struct vmmu_slot *slot);
	int (*slot_removed)(struct vmmu_vm *vm, const struct vmmu_slot *slot);

	/* Hardware side: translate op->acc on a TLB miss (see above). */
	int (*hw_walk)(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		       struct vmmu_hw_walk *out);

	/*
	 * Hypervisor side: handle one exit of an access (op, NULL when only
	 * a translation was asked for) and say what happened in *res. A
	 * faulting write the handler cannot simply make writable is
	 * performed with vmmu_vcpu_emulate(), which runs the vCPU's
	 * emulator callback or stores op's data itself.
	 */
	int (*handle_exit)(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
			   const struct vmmu_op *op,
			   struct vmmu_exit_result *res);
	/*
	 * Guest events. The core has already updated the paging state and
	 * invalidated the vCPU's TLB as the architecture requires; the
	 * backend adjusts its own structures (shadow: switch top-level
	 * shadow on CR3, resync out-of-sync shadows on INVLPG; invlpg also
	 * hears INVPCID of every type). NULL: nothing to do.
	 */
	int (*cr_written)(struct vmmu_vcpu *vcpu, enum vmmu_cr cr, uint64_t old,
			  uint64_t val);
	int (*invlpg)(struct vmmu_vcpu *vcpu, gva_t gva);
	/* vmmu itself wrote guest memory (A/D updates, emulator, the API). */
	void (*gpa_written)(struct vmmu_vm *vm, gpa_t gpa, size_t len);
	/* Change the p2m type of [gpa, gpa + size). */
	int (*set_type)(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
			enum vmmu_p2m_type type);
	/*
	 * Log-dirty (include/vmmu/dirty.h; the log belongs to the VM).
	 * start: make every RAM page of the VM trap on its next write
	 * (lazily where the backend can); the log is already published, so
	 * a handler resolving such a trap calls vmmu_dirty_mark(), then
	 * makes the page writable. stop: writes need not trap any more.
	 * rearm: [gpa, gpa+size) was just reported and reset by a clean:
	 * make those pages trap again (a backend harvesting A/D bits or PML
	 * does nothing here: its sync already reset the hardware state).
	 * sync: before a peek or clean of [gpa, gpa+size), move dirty state
	 * the hardware keeps (D bits, PML buffers) into the log with
	 * vmmu_dirty_mark(), resetting it. All with the VM lock held. The
	 * core flushes every vCPU's TLB model after start and after a clean
	 * (vmmu_vm_tlb_flush_sync), waiting for accesses in flight: a hook
	 * need not, and must not, flush the TLBs of running vCPUs itself.
	 */
	int (*dirty_log_start)(struct vmmu_vm *vm);
	int (*dirty_log_stop)(struct vmmu_vm *vm);
	int (*dirty_log_rearm)(struct vmmu_vm *vm, gpa_t gpa, uint64_t size);
	/*
	 * The p2m (vmmu/p2m.h) mapped another VM's frame hpa at the hole
	 * gpa (4 KiB) as type GRANT_RW, GRANT_RO or FOREIGN, or removed it.
	 * foreign_map leaves the tables unchanged when it fails;
	 * foreign_unmap invalidates before it returns.
	 */
	int (*foreign_map)(struct vmmu_vm *vm, gpa_t gpa, hpa_t hpa,
			   enum vmmu_p2m_type type);
	int (*foreign_unmap)(struct vmmu_vm *vm, gpa_t gpa);
	int (*dirty_log_sync)(struct vmmu_vm *vm, gpa_t gpa, uint64_t size);
	/*
	 * Optional: use log-dirty variant mode (never VMMU_DIRTY_AUTO: the
	 * core resolves it by asking for PML, then A/D, then write
	 * protection) with flags (VMMU_DIRTY_LOG_2M, vmmu/dirty.h) from the
	 * next dirty_log_start on: 0, or VMMU_ENOTSUP when the profile (EPT
	 * caps, NPT config) lacks it, changing nothing. Called with the VM
	 * lock held and the log off. NULL: write protection at 4 KiB only.
	 */
	int (*dirty_log_mode)(struct vmmu_vm *vm, enum vmmu_dirty_log mode,
			      unsigned flags);
};

/*
 * For a hardware side: the guest dimension of a walk as the vCPU's CPU
 * does it, starting from the deepest paging-structure-cache entry for acc
 * and filling the caches after a successful walk. mem is how the guest's
 * page-table reads reach memory (a 2-D walk translates each one through
 * the nested tables). Same results as vmmu_walk.
 */
int vmmu_vcpu_guest_walk(struct vmmu_vcpu *vcpu, const struct vmmu_gmem *mem,
			 const struct vmmu_access *acc,
			 struct vmmu_walk_result *res);

/*
 * The nested dimension of a 2-D walk (EPT, NPT), as a backend's hardware
 * side provides it: one walk of its tables for one guest-physical access.
 */
struct vmmu_tlb_pwc_hit;

struct vmmu_nested_walk {
	bool ok;
	hpa_t hpa;              /* ok: host address of the gpa */
	uint64_t page_size;     /* ok: size of the nested leaf */
	uint8_t prot;           /* ok: VMMU_PROT_* the nested leaf grants */
	unsigned refs;          /* nested entries read */
	/*
	 * The non-leaf entries used below the start, for the nested
	 * paging-structure caches: entry at table_level[i] points to the
	 * table at table_hpa[i], with table_prot[i] accumulated so far.
	 */
	unsigned ntables;
	uint8_t table_level[5];
	hpa_t table_hpa[5];
	uint8_t table_prot[5];
	struct vmmu_exit exit;  /* !ok: the exit, with its exit information */
};

struct vmmu_nested_ops {
	/*
	 * Walk the nested tables for an access of kind to gpa as the CPU
	 * does, from start (a nested paging-structure-cache hit) or from the
	 * root when start is NULL. guest_pt: the access is the guest walk's
	 * own read of a guest paging-structure entry, or its A/D write
	 * (kind WRITE); acc is the guest access being translated (for the
	 * linear address in the exit information).
	 */
	int (*walk)(struct vmmu_vcpu *vcpu, gpa_t gpa, enum vmmu_access_kind kind,
		    bool guest_pt, const struct vmmu_access *acc,
		    const struct vmmu_tlb_pwc_hit *start,
		    struct vmmu_nested_walk *out);
	/* Levels of the nested tables (4 or 5). */
	unsigned (*levels)(const struct vmmu_vcpu *vcpu);
	/*
	 * Optional: the nested tables treat the guest walk's reads of guest
	 * paging structures as writes (EPT with A/D enabled, SDM Vol. 3C
	 * 29.3.3.2; NPT always, APM Vol. 2 15.25.5, as QEMU and Bochs report
	 * W on guest-table #NPF with A already set), so a guest-physical TLB
	 * entry must allow a write for such a read to hit.
	 */
	bool (*pt_as_write)(const struct vmmu_vcpu *vcpu);
};

/*
 * A 2-D walk (core/nested.c): the guest walk (vmmu_vcpu_guest_walk, so
 * the guest paging-structure caches apply) with every guest entry read and
 * A/D write translated through ops, then the final gpa; the vCPU's
 * guest-physical TLB and nested paging-structure caches shorten the
 * nested walks. out as hw_walk fills it: the first exit stops the walk
 * (guest_pt tells whether it was on a guest table), nested_refs counts
 * every nested entry read: 24 for a cold 4-level over 4-level walk.
 */
int vmmu_nested_hw_walk(struct vmmu_vcpu *vcpu,
			const struct vmmu_nested_ops *ops,
			const struct vmmu_access *acc, struct vmmu_hw_walk *out);

/*
 * The direct backend: no second-level translation. Guest-physical
 * addresses go straight to the slots' host pages (populated on first
 * touch through an VMMU_EXIT_UNBACKED exit), MMIO goes to the VM's device
 * callback or to the VMM. It runs the whole access path without EPT, NPT
 * or shadow tables, and is what a core-only VM uses.
 */
extern const struct vmmu_backend_ops vmmu_backend_direct;

/*
 * The EPT backend (ept/, include/vmmu/ept.h): Intel EPT tables built by
 * the engine from the memory map and the p2m, the 2-D walk over them as
 * the CPU does it, and the handler of EPT violations, misconfigurations
 * and PML-full exits.
 */
extern const struct vmmu_backend_ops vmmu_backend_ept;

/*
 * AMD nested paging (npt/, include/vmmu/npt.h): the VM's nested tables
 * under nCR3, the hardware-side nested walk with exact #NPF exit
 * information, and the #NPF handler a VMM calls with the VMCB's fields.
 */
extern const struct vmmu_backend_ops vmmu_backend_npt;

/*
 * The shadow-paging backend (shadow-fallback/, docs/shadow.md): shadows
 * of the guest's page tables in the x86 format, walked 1-D (gva -> hpa)
 * as the hardware side, built lazily on CR3 load and on shadow #PF, with
 * the guest's page tables write-protected and their writes emulated.
 * Pool size and statistics: shadow-fallback/shadow.h.
 */
extern const struct vmmu_backend_ops vmmu_backend_shadow;

#endif
