/* SPDX-License-Identifier: MIT */
/*
 * The guest's memory, its page tables, and the script of exits the host
 * expects while guest.S runs, on the VM of hv_vm.c. Guest-physical map
 * (three RAM slots of the VM, populated by vmmu on first touch):
 *
 *   [0, 2 MiB)          RAM, 4 KiB host blocks: code at 0x1000, data
 *                       0x5000 and 0x6000, stack below 0x9000, page tables
 *                       PML4 0x10000, PDPT 0x11000, PD 0x12000; 0x7000 has
 *                       p2m type RAM_RO until the guest writes it
 *   [4 MiB, 6 MiB)      RAM, one 2 MiB host block: the word at 0x400000
 *   [6 MiB, +4 KiB)     RAM: a guest page directory at 0x600000
 *   [256 MiB, +4 KiB)   MMIO: a device register the VMM emulates
 *   [512 MiB, +4 KiB)   ROM, loaded by the host; guest writes are dropped
 *
 * The host writes all of it with vmmu_vm_write_gpa; no nested entry
 * exists before the guest runs: each first touch is a nested exit that the
 * backend resolves. Guest paging (4-level, SDM Vol. 3A 5.5): gva
 * [0, 2 MiB) and gva 0x400000 (2 MiB pages) through PD 0x12000; gva
 * [1 GiB, 1 GiB + 2 MiB) to gpa [0, 2 MiB) through PD 0x600000; gva
 * 256 MiB and 512 MiB (2 MiB pages) to the MMIO and ROM slots. Guest
 * entries have A (and leaves D) set already, so the guest's writes are its
 * stores: Bochs 2.7 sets guest A/D bits without the EPT write check
 * (docs/hypervisor.md), which would hide them from write protection.
 * On shadow paging the same guest also edits a page table of its own
 * (gpa 0x13000, mapping gva 0x600000) and takes one #PF of its own
 * through its IDT (the shadow-only steps of the script).
 */
#include "hv_vm.h"

#include "vmmu/dirty.h"
#include "vmmu/ept.h"
#include "vmmu/npt.h"
#include "vmmu/p2m.h"

#define GUEST_CODE  0x1000ULL
#define GUEST_DATA  0x5000ULL
#define GUEST_WDATA 0x6000ULL
#define GUEST_WDATA2 0x8000ULL
#define GUEST_STACK 0x9000ULL
#define GUEST_PML4  0x10000ULL
#define GUEST_PDPT  0x11000ULL
#define GUEST_PD0   0x12000ULL
#define GUEST_PT    0x13000ULL  /* a 4 KiB page table the guest edits */
#define PT_GVA      0x600000ULL /* the gva it maps (PD0 entry 3) */
#define LATE_DATA   0x400000ULL
#define LATE_PD     0x600000ULL
#define RO_PAGE     0x7000ULL
#define GUEST_RAM   0x200000ULL
#define MMIO_REG    0x10000000ULL
#define ROM_BASE    0x20000000ULL
#define PTE_P  1ULL
#define PTE_RW 2ULL
#define PTE_PS 0x80ULL
#define PTE_A  0x20ULL
#define PTE_D  0x40ULL
#define PTE_TABLE (PTE_P | PTE_RW | PTE_A)                 /* non-leaf */
#define PTE_LEAF2M (PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PS)
#define PTE_LEAF4K (PTE_P | PTE_RW | PTE_A | PTE_D)

#define MAGIC_A 0x5a5a0000c0de0001ULL
#define MAGIC_B 0x5a5a0000c0de0002ULL
#define WVALUE  0x1122334455667788ULL
#define DEVICE_VALUE 0xd00dfeedcafe0007ULL   /* what the VMM's device reads */
#define ROM_VALUE    0x0badc0de00000008ULL   /* what the host loads in ROM */
#define REPORT(n) (0x564d0000ULL + (n))
#define SVM_IO_ASIZE 0x380ULL   /* EXITINFO1 bits 9:7, APM 15.10.2 */
#define EPTP_AD (1ULL << 6)     /* SDM Vol. 3C 25.6.11 */

static const struct hv_slot slots[] = {
	{ 0, GUEST_RAM, VMMU_MEM_RAM, VMMU_ORDER_4K },
	{ LATE_DATA, 0x200000, VMMU_MEM_RAM, VMMU_ORDER_2M },
	{ LATE_PD, 0x1000, VMMU_MEM_RAM, VMMU_ORDER_4K },
	{ MMIO_REG, 0x1000, VMMU_MEM_MMIO, VMMU_ORDER_4K },
	{ ROM_BASE, 0x1000, VMMU_MEM_ROM, VMMU_ORDER_4K },
};

/*
 * What the dirty log must hold in each round (the first up to report 5,
 * where the host peeks and cleans; the second after it, peeked after HLT):
 * the pages the guest stores to, and where the second level counts the
 * guest's page-table reads as writes (EPT with the EPTP's A/D flag, SDM
 * Vol. 3C 29.3.3.2; NPT, as QEMU and Bochs walk guest tables as writes,
 * docs/npt.md) the guest table pages it walks through in that round.
 */
struct dirty_round {
	unsigned stores, tables;        /* the first stores, then tables */
	uint64_t page[6];
};
static const struct dirty_round rounds[2] = {
	{ 2, 4, { GUEST_WDATA, RO_PAGE, GUEST_PML4, GUEST_PDPT, GUEST_PD0, LATE_PD } },
	{ 2, 3, { GUEST_WDATA, GUEST_WDATA2, GUEST_PML4, GUEST_PDPT, GUEST_PD0 } },
};
/* Shadow paging: write protection of the guest's stores, its own
 * page-table store (the page table at GUEST_PT, in round 2) included; the
 * walk sets no A/D bit (all preset), so no other table page is written. */
static const struct dirty_round shadow_rounds[2] = {
	{ 2, 0, { GUEST_WDATA, RO_PAGE } },
	{ 3, 0, { GUEST_WDATA, GUEST_WDATA2, GUEST_PT } },
};

extern const uint8_t hv_guest_code[], hv_guest_code_end[], hv_guest_pf_handler[];

/*
 * The guest's GDT (64-bit code 0x08, data 0x10: SDM Vol. 3A 3.4.5) and
 * its #PF gate (vector 14, a 64-bit interrupt gate, 6.14.1) to
 * hv_guest_pf_handler where guest.S lands at GUEST_CODE.
 */
static int guest_descriptors(struct hv_vm *hv)
{
	uint64_t gdt[3] = { 0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL };
	uint64_t h = GUEST_CODE + (uint64_t)(hv_guest_pf_handler - hv_guest_code);
	uint64_t gate[2] = {
		(h & 0xffff) | 0x08ULL << 16 | 0x8eULL << 40 |
		((h >> 16) & 0xffff) << 48,
		h >> 32,
	};
	int rc = vmmu_vm_write_gpa(hv->vm, mk_gpa(HV_GUEST_GDT), gdt, sizeof(gdt));

	return rc ? rc : vmmu_vm_write_gpa(hv->vm, mk_gpa(HV_GUEST_IDT + 14 * 16),
					   gate, sizeof(gate));
}

static int put64(struct hv_vm *hv, uint64_t gpa, uint64_t v)
{
	return vmmu_vm_write_gpa(hv->vm, mk_gpa(gpa), &v, sizeof(v));
}

static int guest_build(struct hv_vm *hv)
{
	int rc;

	rc = vmmu_vm_write_gpa(hv->vm, mk_gpa(GUEST_CODE), hv_guest_code,
			       (size_t)(hv_guest_code_end - hv_guest_code));
	rc = rc ? rc : put64(hv, GUEST_DATA, MAGIC_A);
	rc = rc ? rc : guest_descriptors(hv);
	rc = rc ? rc : put64(hv, GUEST_PML4, GUEST_PDPT | PTE_TABLE);
	rc = rc ? rc : put64(hv, GUEST_PDPT, GUEST_PD0 | PTE_TABLE);
	rc = rc ? rc : put64(hv, GUEST_PDPT + 8, LATE_PD | PTE_TABLE);
	rc = rc ? rc : put64(hv, GUEST_PD0, 0 | PTE_LEAF2M);
	rc = rc ? rc : put64(hv, GUEST_PD0 + 16, LATE_DATA | PTE_LEAF2M);
	rc = rc ? rc : put64(hv, GUEST_PD0 + (MMIO_REG >> 21) * 8, MMIO_REG | PTE_LEAF2M);
	rc = rc ? rc : put64(hv, GUEST_PD0 + (ROM_BASE >> 21) * 8, ROM_BASE | PTE_LEAF2M);
	/* PT_GVA through the page table GUEST_PT (the shadow-only steps). */
	rc = rc ? rc : put64(hv, GUEST_PD0 + (PT_GVA >> 21) * 8, GUEST_PT | PTE_TABLE);
	rc = rc ? rc : put64(hv, GUEST_PT, GUEST_DATA | PTE_LEAF4K);
	rc = rc ? rc : put64(hv, ROM_BASE, ROM_VALUE);   /* a VMM loads ROM so */
	rc = rc ? rc : put64(hv, LATE_DATA, MAGIC_B);
	/* LATE_PD: PDE 0 maps gpa [0, 2 MiB) as one 2 MiB page. */
	rc = rc ? rc : put64(hv, LATE_PD, 0 | PTE_LEAF2M);
	/* Read-only until the guest writes it (the VMM's decision then).
	 * Not under shadow paging: its backend keeps no p2m types other
	 * than the slots' (docs/shadow.md, "Not done yet"). */
	if (!hv->shadow)
		rc = rc ? rc : vmmu_vm_set_p2m_type(hv->vm, mk_gpa(RO_PAGE), 4096,
						    VMMU_P2M_RAM_RO);
	/* Log-dirty from here: the host's own writes above are not in it. */
	rc = rc ? rc : vmmu_dirty_enable_ram(hv->vm);
	if (rc)
		hv_printf("hv: building the guest failed: %d\n", rc);
	return rc;
}

/*
 * One checkpoint of the script: an exit that reaches the VMM. report/value:
 * CPUID's EAX and RBX, or an OUT's AL. ept_info/npt_info: EPT exit
 * qualification (bits 8:0, Table 28-7; with the EPTP's A/D flag a guest
 * paging-structure access also has bit 1, 29.3.3.2) or #NPF EXITINFO1
 * (APM 15.25.6, all bits); the I/O exit's qualification or EXITINFO1.
 * Nested exits the backend resolves by itself between checkpoints (first
 * touches, log-dirty writes, lazy recalculations) are printed and counted.
 */
struct hv_step {
	enum hv_exit_kind kind;
	uint64_t report, value;         /* CPUID: EAX and RBX */
	uint64_t gpa, gla, ept_info, npt_info;
	/* nested: the reason the backend hands it back to the VMM with, and
	 * the length of the instruction the VMM then completes (0: retried) */
	enum vmmu_vmm_reason to_vmm;
	unsigned insn_len;
	/* shadow: a #PF's error code (kind HV_EXIT_PF, CR2 in gla), and
	 * whether it is the guest's own (injected); a CPUID step's gla is
	 * the RDX it must come with */
	uint32_t pf_err;
	uint8_t only;                   /* 0, ONLY_NESTED or ONLY_SHADOW */
	bool inject;
};
#define ONLY_NESTED 1                   /* EPT and NPT runs */
#define ONLY_SHADOW 2                   /* shadow paging runs */

static const struct hv_step script[] = {
	{ HV_EXIT_CPUID, REPORT(1), MAGIC_A, 0, 0, 0, 0, 0, 0, 0, 0, false },
	{ HV_EXIT_CPUID, REPORT(2), WVALUE, 0, 0, 0, 0, 0, 0, 0, 0, false },
	/* First touch of the final gpa: read (bit 0), gla valid (7),
	 * translation (8); #NPF: U (nested walks are user), not present,
	 * bit 32. The backend maps the 2 MiB block. */
	{ HV_EXIT_NESTED_FAULT, 0, 0, LATE_DATA, LATE_DATA, 0x181, 0x100000004ULL, 0, 0,
	  0, ONLY_NESTED, false },
	{ HV_EXIT_CPUID, REPORT(3), MAGIC_B, 0, 0, 0, 0, 0, 0, 0, 0, false },
	/* First touch of a guest PDE (bit 8 clear: paging-structure access);
	 * #NPF: bit 33, with W: QEMU and Bochs report a guest-table access
	 * as a write. */
	{ HV_EXIT_NESTED_FAULT, 0, 0, LATE_PD, 0x40005000, 0x081, 0x200000006ULL, 0, 0,
	  0, ONLY_NESTED, false },
	{ HV_EXIT_CPUID, REPORT(4), MAGIC_A, 0, 0, 0, 0, 0, 0, 0, 0, false },
	/* Write to the RAM_RO page: W (bit 1), the entry allowed R and X
	 * (bits 3, 5), gla valid, translation; #NPF: P W U, bit 32. The
	 * backend cannot resolve it (VMMU_REASON_UNHANDLED); the VMM makes
	 * the page writable. */
	{ HV_EXIT_NESTED_FAULT, 0, 0, RO_PAGE, RO_PAGE, 0x1aa, 0x100000007ULL,
	  VMMU_REASON_UNHANDLED, 0, 0, ONLY_NESTED, false },
	{ HV_EXIT_CPUID, REPORT(5), 0x77, 0, 0, 0, 0, 0, 0, 0, 0, false },
	/* After the clean: the two stores are logged again (write
	 * protection re-armed, D flags cleared). */
	{ HV_EXIT_CPUID, REPORT(6), 0x88, 0, 0, 0, 0, 0, 0, 0, 0, false },
	/* Shadow only: the guest's own page table (guest.S). The first
	 * store to it is a #PF on a page table vmmu write-protected (not
	 * present in the shadow yet: W, error code 2); the backend takes
	 * the L1 out of sync and retries. INVLPG and the CR3 reload resync
	 * it; the second store (after the INVLPG re-protected it) is an
	 * out-of-sync exit between checkpoints. MOV from CR3 gives the
	 * guest its own CR3, not the shadow root. */
	{ .kind = HV_EXIT_CPUID, .report = REPORT(9), .value = MAGIC_A,
	  .only = ONLY_SHADOW },
	{ .kind = HV_EXIT_PF, .gla = GUEST_PT, .pf_err = 2, .only = ONLY_SHADOW },
	{ .kind = HV_EXIT_INVLPG, .gla = PT_GVA, .only = ONLY_SHADOW },
	{ .kind = HV_EXIT_CPUID, .report = REPORT(10), .value = 0x66,
	  .only = ONLY_SHADOW },
	{ .kind = HV_EXIT_CR3, .report = 1, .value = GUEST_PML4, .only = ONLY_SHADOW },
	{ .kind = HV_EXIT_CR3, .report = 0, .value = GUEST_PML4, .only = ONLY_SHADOW },
	{ .kind = HV_EXIT_CPUID, .report = REPORT(11), .value = 0x88,
	  .only = ONLY_SHADOW },
	/* The guest's own #PF (not present, read): injected. Its delivery
	 * reads the IDT through a page the shadow lacks yet: a #PF exit
	 * during delivery (a fill), after which the #PF is re-injected.
	 * The handler reports error code 0 and CR2. */
	{ .kind = HV_EXIT_PF, .gla = 0x40200000, .pf_err = 0, .inject = true,
	  .only = ONLY_SHADOW },
	{ .kind = HV_EXIT_CPUID, .report = REPORT(12), .value = 0, .gla = 0x40200000,
	  .only = ONLY_SHADOW },
	/* A read of the MMIO slot: never mapped, so a not-present read
	 * (0x181; #NPF 0x100000004) that vmmu hands back with
	 * VMMU_REASON_MMIO; the VMM's device gives RBX and the VMM steps
	 * over the load. */
	{ HV_EXIT_NESTED_FAULT, 0, 0, MMIO_REG, MMIO_REG, 0x181, 0x100000004ULL,
	  VMMU_REASON_MMIO, 3, 0, ONLY_NESTED, false },
	/* Shadow: a not-present read #PF (error code 0) the backend finds
	 * MMIO and hands back with the gpa. */
	{ .kind = HV_EXIT_PF, .gla = MMIO_REG, .gpa = MMIO_REG, .pf_err = 0,
	  .to_vmm = VMMU_REASON_MMIO, .insn_len = 3, .only = ONLY_SHADOW },
	{ HV_EXIT_CPUID, REPORT(7), DEVICE_VALUE, 0, 0, 0, 0, 0, 0, 0, 0, false },
	/* A write to the ROM slot, not mapped yet. NPT decides from the p2m
	 * at once (#NPF 0x100000006: not present, W): VMMU_REASON_ROM_WRITE.
	 * EPT maps the page R-X first (a first touch, qual 0x182, retried),
	 * then the write to R-X (0x1aa) is the ROM_WRITE. The VMM drops the
	 * write and steps over; the read after it needs the mapping (NPT:
	 * a first touch then). */
	{ HV_EXIT_NESTED_FAULT, 0, 0, ROM_BASE, ROM_BASE, 0x1aa, 0x100000006ULL,
	  VMMU_REASON_ROM_WRITE, 7, 0, ONLY_NESTED, false },
	/* Shadow: a not-present write #PF (error code 2) to the ROM slot,
	 * handed back at once (the read after it is a fill). */
	{ .kind = HV_EXIT_PF, .gla = ROM_BASE, .gpa = ROM_BASE, .pf_err = 2,
	  .to_vmm = VMMU_REASON_ROM_WRITE, .insn_len = 7, .only = ONLY_SHADOW },
	{ HV_EXIT_CPUID, REPORT(8), ROM_VALUE, 0, 0, 0, 0, 0, 0, 0, 0, false },
	/* OUT imm8, AL = 'K': VMX qualification (Table 28-5): size 1 (bits
	 * 2:0 = 0), OUT (bit 3 = 0), immediate port (bit 6), port in 31:16;
	 * SVM EXITINFO1 (APM 15.10.2): port in 31:16, SZ8 (bit 4), A64
	 * (bit 9), OUT (bit 0 = 0). */
	{ HV_EXIT_IO, 0, 'K', 0, 0, 0x00e90040, 0x00e90210, 0, 0, 0, 0, false },
	{ HV_EXIT_HLT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, false },
};
#define SCRIPT_LEN (sizeof(script) / sizeof(script[0]))

/* Exit kinds counted per run (hv_exit_kind order). */
#define HV_EXIT_KINDS (HV_EXIT_ENTRY_FAILED + 1)

struct hv_run {
	const struct hv_arch *arch;
	struct hv_vm vm;
	bool ept_ad;                    /* the EPTP has the A/D flag */
	const struct hv_step *steps[SCRIPT_LEN];        /* this mode's */
	unsigned nsteps;
	unsigned n, bad, backend_exits;
	unsigned by_what[5];            /* nested_names or shadow_names, other */
	unsigned exits[HV_EXIT_KINDS];
	unsigned pt_writes[3];          /* shadow: out-of-sync, unshadow,
					   needs emulation */
	uint64_t pf_cr2;                /* CR2 of the #PF injected last */
};

static const char *const nested_names[] = { "first-touch", "log-dirty", "recalc" };
static const char *const shadow_names[] = { "fill", "log-dirty", "out-of-sync",
					    "unshadow" };

static void print_exit(const struct hv_exit *e, const struct hv_regs *r, bool ept)
{
	switch (e->kind) {
	case HV_EXIT_CPUID:
		hv_printf("hv: exit cpuid report 0x%lx value 0x%lx\n", r->rax, r->rbx);
		break;
	case HV_EXIT_IO:
		hv_printf("hv: exit io %s 0x%lx al 0x%lx\n",
			  ept ? "qual" : "exitinfo1", e->info, r->rax & 0xff);
		break;
	case HV_EXIT_HLT:
		hv_printf("hv: exit hlt\n");
		break;
	case HV_EXIT_NESTED_FAULT:
		if (ept && e->reason == VMMU_VMX_EXIT_EPT_MISCONFIG)
			hv_printf("hv: exit ept-misconfig gpa 0x%lx\n", e->gpa);
		else if (ept)
			hv_printf("hv: exit ept-violation qual 0x%lx gpa 0x%lx gla 0x%lx\n",
				  e->info, e->gpa, e->gla);
		else
			hv_printf("hv: exit npf exitinfo1 0x%lx exitinfo2 0x%lx\n",
				  e->info, e->gpa);
		break;
	case HV_EXIT_PF:
		hv_printf("hv: exit pf error 0x%lx cr2 0x%lx", e->info, e->gla);
		if (e->vectoring)
			hv_printf(" during delivery of 0x%lx", e->vectoring);
		hv_printf("\n");
		break;
	case HV_EXIT_CR3:
		hv_printf("hv: exit %s cr3 gpr %u\n", e->cr_read ? "mov-from" : "mov-to",
			  e->gpr);
		break;
	case HV_EXIT_INVLPG:
		hv_printf("hv: exit invlpg 0x%lx\n", e->gla);
		break;
	case HV_EXIT_ENTRY_FAILED:
		hv_printf("hv: entry failed reason 0x%lx info 0x%lx\n", e->reason, e->info);
		break;
	default:
		hv_printf("hv: exit other reason 0x%lx info 0x%lx 0x%lx rip 0x%lx\n",
			  e->reason, e->info, e->gpa, e->gla);
		break;
	}
}

static bool nested_matches(const struct hv_run *run, const struct hv_step *s,
			   const struct hv_exit *e)
{
	uint64_t want = s->ept_info;

	if (e->kind != HV_EXIT_NESTED_FAULT || s->kind != HV_EXIT_NESTED_FAULT)
		return false;
	if (!run->vm.ept)
		return e->info == s->npt_info && e->gpa == s->gpa;
	/* With the EPTP's A/D flag, guest paging-structure accesses are
	 * writes (29.3.3.2): Bochs then reports bit 1 without bit 0. */
	if (run->ept_ad && !(want & 0x100))
		want = (want & ~1ULL) | 2;
	return e->reason == VMMU_VMX_EXIT_EPT_VIOLATION &&
	       (e->info & 0x1ff) == want && e->gpa == s->gpa &&
	       e->gla_valid && e->gla == s->gla;
}

static bool step_ok(const struct hv_run *run, const struct hv_step *s,
		    const struct hv_exit *e, const struct hv_regs *r)
{
	uint64_t w = 0;

	if (e->kind != s->kind)
		return false;
	if (e->kind == HV_EXIT_CPUID) {
		if (s->report == REPORT(2))
			return r->rax == s->report &&
			       !vmmu_vm_read_gpa(run->vm.vm, mk_gpa(GUEST_WDATA), &w, 8) &&
			       w == WVALUE;
		return r->rax == s->report && r->rbx == s->value &&
		       (!s->gla || r->rdx == s->gla);
	}
	/* QEMU 7.2 TCG leaves the SVM address-size bits 9:7 clear (Bochs
	 * sets A64): the kernel ignores them, the ctest pins each value. */
	if (e->kind == HV_EXIT_IO)
		return (run->arch == &hv_vmx_arch ? e->info == s->ept_info :
			(e->info & ~SVM_IO_ASIZE) == (s->npt_info & ~SVM_IO_ASIZE)) &&
		       (r->rax & 0xff) == s->value;
	if (e->kind == HV_EXIT_NESTED_FAULT)
		return nested_matches(run, s, e);
	if (e->kind == HV_EXIT_PF)
		return e->info == s->pf_err && e->gla == s->gla;
	if (e->kind == HV_EXIT_INVLPG)
		return e->gla == s->gla;
	if (e->kind == HV_EXIT_CR3)     /* report: 1 for MOV from CR3 */
		return e->cr_read == (s->report == 1) &&
		       run->vm.vcpu->paging.cr3 == s->value;
	return true;
}

/*
 * The VMM's part: the backend handed back a write to the RAM_RO page.
 * This VMM lets the guest have it: RAM_LOGDIRTY while the dirty log is on
 * (the p2m does not know about the log, and RAM_RW would let the write
 * through unlogged under write protection), so that the retried write is
 * a log-dirty exit the backend resolves; RAM_RW otherwise.
 */
static int vmm_unprotect(struct hv_run *run, uint64_t gpa)
{
	uint64_t gfn, np;
	enum vmmu_p2m_type t = vmmu_dirty_range(run->vm.vm, &gfn, &np) == 0 ?
			       VMMU_P2M_RAM_LOGDIRTY : VMMU_P2M_RAM_RW;
	int rc = vmmu_vm_set_p2m_type(run->vm.vm, mk_gpa(gpa & ~0xfffULL), 4096, t);

	hv_printf("hv: vmm: gpa 0x%lx made writable (%s): %d\n", gpa & ~(uint64_t)0xfff,
		  t == VMMU_P2M_RAM_RW ? "ram-rw" : "ram-logdirty", rc);
	return rc;
}

static bool same(const char *a, const char *b)
{
	for (; *a && *a == *b; a++, b++)
		;
	return !*a && !*b;
}

/* by_what's index of an outcome name (hv_vm.c's names). */
static unsigned what_index(const struct hv_run *run, const char *what)
{
	const char *const *names = run->vm.shadow ? shadow_names : nested_names;
	unsigned i, n = run->vm.shadow ? 4 : 3;

	for (i = 0; i < n && !same(what, names[i]); i++)
		;
	return i;
}

/*
 * The VMM's part for an exit vmmu handed back with reason: the RAM_RO
 * page made writable (retried), the device read emulated into RBX, the
 * ROM write dropped; the emulated instruction (of the VMM's own guest,
 * length known) is stepped over.
 */
static int vmm_complete(struct hv_run *run, const struct hv_step *s,
			const struct hv_exit *e, struct hv_regs *regs,
			enum vmmu_vmm_reason reason)
{
	if (reason != s->to_vmm || (s->gpa && e->gpa != s->gpa))
		return -1;
	if (reason == VMMU_REASON_UNHANDLED)
		return vmm_unprotect(run, e->gpa);
	if (reason == VMMU_REASON_MMIO) {
		regs->rbx = DEVICE_VALUE;
		hv_printf("hv: vmm: device read gpa 0x%lx = 0x%lx\n", e->gpa, regs->rbx);
	} else {
		hv_printf("hv: vmm: rom write at gpa 0x%lx dropped\n", e->gpa);
	}
	run->arch->advance(s->insn_len);
	return 0;
}

/* Shadow: which no-emulation path a guest page-table write took. */
static void count_pt_write(struct hv_run *run, const char *what)
{
	if (same(what, "out-of-sync"))
		run->pt_writes[0]++;
	else if (same(what, "unshadow"))
		run->pt_writes[1]++;
	else if (same(what, "needs-emulation"))
		run->pt_writes[2]++;
}

/*
 * A nested exit or a shadow #PF: to the backend; true when the guest may
 * resume. A #PF that is the guest's own is injected (this guest has no
 * IDT, so the script expects none).
 */
static bool backend_exit(struct hv_run *run, const struct hv_exit *e,
			 struct hv_regs *regs, bool checkpoint)
{
	const struct hv_step *s = run->steps[run->n];
	struct hv_resolution r;
	struct hv_exit at = *e;

	if (e->kind == HV_EXIT_PF)
		hv_vm_shadow_pf(&run->vm, e, &r);
	else
		hv_vm_nested_exit(&run->vm, e, &r);
	if (r.res.gpa_valid)
		at.gpa = r.res.gpa.v;
	hv_printf("hv: backend %s: %d %s %s", r.what, r.rc,
		  hv_action_name(r.res.action), hv_reason_name(r.res.reason));
	if (e->kind == HV_EXIT_PF && r.res.gpa_valid)
		hv_printf(" gpa 0x%lx", at.gpa);
	hv_printf("\n");
	if (r.rc)
		return false;
	count_pt_write(run, r.what);
	if (r.res.action == VMMU_ACT_INJECT) {
		hv_printf("hv: inject #PF error 0x%x cr2 0x%lx\n",
			  r.res.fault.error_code, r.res.fault.cr2.v);
		run->pf_cr2 = r.res.fault.cr2.v;
		run->arch->inject_pf(r.res.fault.error_code, r.res.fault.cr2.v);
		return checkpoint && s->inject &&
		       r.res.fault.error_code == s->pf_err && r.res.fault.cr2.v == s->gla;
	}
	if (checkpoint && s->to_vmm)
		return r.res.action == VMMU_ACT_TO_VMM &&
		       vmm_complete(run, s, &at, regs, r.res.reason) == 0;
	if (r.res.action != VMMU_ACT_RETRY)
		return false;
	if (!checkpoint) {
		run->backend_exits++;
		run->by_what[what_index(run, r.what)]++;
	}
	return true;
}

/* Shadow: MOV to/from CR3 and INVLPG, done for the guest (hv_vm.c); the
 * instruction (3 bytes in this guest) is stepped over. */
static bool shadow_event(struct hv_run *run, const struct hv_exit *e,
			 struct hv_regs *regs)
{
	int rc = hv_vm_shadow_event(&run->vm, e, regs);

	run->arch->skip(3);     /* 0f 01 3e, 0f 20 d8, 0f 22 d8 */
	return rc == 0;
}

/*
 * The dirty log (vmmu_dirty_peek over the logged range, then
 * vmmu_dirty_clean after round 0): exactly the pages the guest wrote in
 * the round. Under EPT write protection and NPT each came from a log-dirty
 * exit; with EPT A/D from the D flags the CPU set, harvested first.
 */
static int check_dirty(struct hv_run *run, unsigned round)
{
	static uint64_t bitmap[(0x800000 >> 12) / 64];
	const struct dirty_round *w = run->vm.shadow ? &shadow_rounds[round] :
				      &rounds[round];
	unsigned want = w->stores + (run->ept_ad || !run->vm.ept ? w->tables : 0), k;
	uint64_t gfn, np, nd = 0, i, found = 0;
	int rc = vmmu_dirty_range(run->vm.vm, &gfn, &np);
	bool ok = true;

	if (!rc && np > sizeof(bitmap) * 8)
		rc = -1;
	rc = rc ? rc : vmmu_dirty_peek(run->vm.vm, gfn, np, bitmap, &nd);
	if (rc) {
		hv_printf("hv: dirty log: %d FAIL\n", rc);
		return -1;
	}
	hv_printf("hv: dirty log %u (%s) gfn 0x%lx+0x%lx: %lu pages:", round + 1,
		  vmmu_dirty_log_name(vmmu_dirty_mode(run->vm.vm)), gfn, np, nd);
	for (i = 0; i < np; i++) {
		if (!(bitmap[i / 64] >> (i % 64) & 1))
			continue;
		hv_printf(" 0x%lx", (gfn + i) << 12);
		for (k = 0; k < want && w->page[k] != (gfn + i) << 12; k++)
			;
		ok = ok && k < want;
		found += k < want;
	}
	ok = ok && found == want;
	hv_printf("\nhv: dirty log %u %s the %u pages the guest wrote%s\n",
		  round + 1, ok ? "is exactly" : "FAILS to be", want,
		  want > w->stores ? " (stores and walked guest tables)" : " (stores)");
	if (round == 0) {
		rc = vmmu_dirty_clean(run->vm.vm, gfn, np, NULL, &nd);
		hv_printf("hv: dirty log cleaned: %d, %lu pages\n", rc, nd);
		ok = ok && rc == 0;
	}
	return ok ? 0 : -1;
}

/* A nested or shadow-paging exit; false (after counting it) on a failure. */
static bool paging_exit(struct hv_run *run, const struct hv_exit *e,
			struct hv_regs *regs)
{
	const struct hv_step *s = run->steps[run->n];
	bool checkpoint, ok;

	if (e->kind == HV_EXIT_NESTED_FAULT)
		checkpoint = nested_matches(run, s, e);
	else
		checkpoint = s->kind == e->kind && step_ok(run, s, e, regs);
	if (e->kind == HV_EXIT_CR3 || e->kind == HV_EXIT_INVLPG)
		ok = checkpoint && shadow_event(run, e, regs);
	else
		ok = backend_exit(run, e, regs, checkpoint);
	if (!ok) {
		hv_printf("hv: check %u FAIL (%s exit not resolved)\n", run->n + 1,
			  e->kind == HV_EXIT_NESTED_FAULT ? "nested" : "shadow");
		run->bad++;
		return false;
	}
	run->n += checkpoint;
	return true;
}

static void print_summary(const struct hv_run *run)
{
	const unsigned *w = run->by_what;
	const unsigned *x = run->exits;

	hv_printf("hv: script %u of %u checkpoints, %u failed, %u backend exits: ",
		  run->n, run->nsteps, run->bad, run->backend_exits);
	if (run->vm.shadow)
		hv_printf("%u fill, %u log-dirty, %u out-of-sync, %u unshadow, "
			  "%u other\n", w[0], w[1], w[2], w[3], w[4]);
	else
		hv_printf("%u first-touch, %u log-dirty, %u recalc, %u other\n",
			  w[0], w[1], w[2], w[3]);
	hv_printf("hv: exits: cpuid %u io %u hlt %u nested %u pf %u cr3 %u "
		  "invlpg %u other %u\n", x[HV_EXIT_CPUID], x[HV_EXIT_IO],
		  x[HV_EXIT_HLT], x[HV_EXIT_NESTED_FAULT], x[HV_EXIT_PF],
		  x[HV_EXIT_CR3], x[HV_EXIT_INVLPG],
		  x[HV_EXIT_OTHER] + x[HV_EXIT_ENTRY_FAILED]);
	if (run->vm.shadow)
		hv_printf("hv: guest page-table writes: %u out-of-sync, %u unshadow, "
			  "%u needing emulation\n", run->pt_writes[0],
			  run->pt_writes[1], run->pt_writes[2]);
}

/* Run the script; every exit is printed and checked in order. */
static int guest_loop(struct hv_run *run)
{
	struct hv_regs regs;
	struct hv_exit e;
	bool halted = false;

	memset(&regs, 0, sizeof(regs));
	regs.rdi = run->vm.shadow;      /* guest.S: the shadow-only steps */
	while (run->n < run->nsteps) {
		hv_vm_sync_tlb(&run->vm, run->arch);
		hv_vm_pml_enter(&run->vm, run->arch);
		run->arch->run(&regs, &e);
		hv_vm_pml_exit(&run->vm, &e);
		/* A #PF the VMM injected whose delivery exited goes in again
		 * with its own CR2 (a later #PF may have changed CR2 or the
		 * VMCB's copy of it in between). */
		if ((e.vectoring & 0x7ff) == (3U << 8 | 14))
			run->arch->inject_pf(e.vectoring_err, run->pf_cr2);
		run->exits[e.kind < HV_EXIT_KINDS ? e.kind : HV_EXIT_OTHER]++;
		print_exit(&e, &regs, run->arch == &hv_vmx_arch);
		if (e.kind == HV_EXIT_NESTED_FAULT || e.kind == HV_EXIT_PF ||
		    e.kind == HV_EXIT_CR3 || e.kind == HV_EXIT_INVLPG) {
			if (!paging_exit(run, &e, &regs))
				break;
			continue;
		}
		if (!step_ok(run, run->steps[run->n], &e, &regs)) {
			hv_printf("hv: check %u FAIL (rbx 0x%lx rdx 0x%lx)\n",
				  run->n + 1, regs.rbx, regs.rdx);
			run->bad++;
		}
		if (e.kind == HV_EXIT_CPUID && regs.rax == REPORT(5) &&
		    check_dirty(run, 0))
			run->bad++;
		run->n++;
		if (e.kind == HV_EXIT_CPUID || e.kind == HV_EXIT_IO) {
			run->arch->skip(2);     /* CPUID 0f a2, OUT imm8 e6 ib */
			continue;
		}
		halted = e.kind == HV_EXIT_HLT;
		break;
	}
	if (!halted || run->n != run->nsteps)
		run->bad++;
	/* Shadow: both page-table stores without emulation (one a
	 * checkpoint, one between checkpoints), none needing it. */
	if (run->vm.shadow && (run->pt_writes[0] + run->pt_writes[1] != 2 ||
			       run->pt_writes[2]))
		run->bad++;
	print_summary(run);
	return run->bad ? -1 : 0;
}

/* The guest's entries after the run: the A/D bits its CPU set. */
static void print_guest_entries(struct hv_run *run)
{
	static const uint64_t at[] = { GUEST_PML4, GUEST_PDPT, GUEST_PDPT + 8,
				       GUEST_PD0, GUEST_PD0 + 16, LATE_PD };
	uint64_t v;
	unsigned i;

	hv_printf("hv: guest entries after the run:");
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		v = 0;
		vmmu_vm_read_gpa(run->vm.vm, mk_gpa(at[i]), &v, 8);
		hv_printf(" 0x%lx=0x%lx", at[i], v);
	}
	hv_printf("\n");
}


static void print_counts(struct hv_run *run)
{
	struct hv_pool_stats p;
	const struct vmmu_ept_stats *es;
	const struct vmmu_npt_stats *ns;

	hv_pool_stats(&p);
	hv_printf("hv: platform: %lu pages, %lu 2 MiB blocks held; bookkeeping "
		  "%lu bytes held, %lu cut\n", p.pages, p.blocks_2m,
		  p.arena_bytes, p.arena_peak);
	if (run->vm.shadow) {
		if (hv_vm_shadow_report(&run->vm))
			run->bad++;
		return;
	}
	if (run->vm.ept) {
		es = vmmu_ept_stats(run->vm.vm);
		hv_printf("hv: ept stats: violations %lu misconfigs %lu populated %lu "
			  "logdirty %lu recalcs %lu invept %lu\n", es->violations,
			  es->misconfigs, es->populated, es->logdirty_faults,
			  es->recalcs, es->invept_single + es->invept_all);
		return;
	}
	ns = vmmu_npt_stats(run->vm.vm);
	hv_printf("hv: npt stats: first-touch %lu log-dirty %lu recalc %lu "
		  "unhandled %lu mmio-vmm %lu rom-write %lu flush-asid %lu "
		  "flush-all %lu leaves 4k %lu 2m %lu\n",
		  ns->npf[VMMU_NPF_FIRST_TOUCH], ns->npf[VMMU_NPF_LOG_DIRTY],
		  ns->npf[VMMU_NPF_RECALC], ns->npf[VMMU_NPF_UNHANDLED],
		  ns->npf[VMMU_NPF_MMIO_VMM], ns->npf[VMMU_NPF_ROM_WRITE],
		  ns->flush_asid, ns->flush_all, ns->leaves_4k, ns->leaves_2m);
}

int hv_guest_run(const struct hv_arch *arch, const struct hv_features *f,
		 const struct vmmu_host_info *host,
		 const struct vmmu_decision *d, enum vmmu_backend_kind kind)
{
	static struct hv_run run;
	bool ept = kind == VMMU_BACKEND_EPT, sh = kind == VMMU_BACKEND_SHADOW;
	uint64_t ptr;
	unsigned i;
	int rc;

	run.arch = arch;
	for (i = 0; i < SCRIPT_LEN; i++)
		if (script[i].only != (sh ? ONLY_NESTED : ONLY_SHADOW))
			run.steps[run.nsteps++] = &script[i];
	if (hv_vm_create(&run.vm, kind, host, d, slots,
			 sizeof(slots) / sizeof(slots[0])) ||
	    guest_build(&run.vm) ||
	    (sh && hv_vm_shadow_start(&run.vm, HV_GUEST_CR0, HV_GUEST_CR4,
				      EFER_LME | EFER_LMA | EFER_NXE, GUEST_PML4)))
		return -1;
	ptr = hv_vm_pointer(&run.vm);
	run.ept_ad = ept && (ptr & EPTP_AD);
	hv_printf("hv: vm on %s: %s 0x%lx, slots [0x0, 0x%lx) [0x%lx, 0x%lx) "
		  "[0x%lx, 0x%lx), gpa 0x%lx %s, dirty log on\n",
		  vmmu_backend_name(kind), ept ? "eptp" : sh ? "shadow root" : "ncr3",
		  ptr, (uint64_t)GUEST_RAM, (uint64_t)LATE_DATA,
		  (uint64_t)(LATE_DATA + 0x200000), (uint64_t)LATE_PD,
		  (uint64_t)(LATE_PD + 0x1000), (uint64_t)RO_PAGE,
		  sh ? "ram (no p2m types under shadow)" : "ram-ro");
	if (arch->setup(f, sh, sh ? 0 : ptr, hv_vm_asid(&run.vm),
			sh ? ptr : GUEST_PML4, GUEST_CODE, GUEST_STACK))
		return -1;
	rc = guest_loop(&run);
	if (check_dirty(&run, 1))
		rc = -1;
	print_guest_entries(&run);
	print_counts(&run);
	return rc || run.bad ? -1 : 0;
}
