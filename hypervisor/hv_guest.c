/* SPDX-License-Identifier: MIT */
/*
 * The guest's memory, its page tables, and the script of exits the host
 * expects while guest.S runs. Guest-physical layout:
 *
 *   [0, 2 MiB)   guest RAM, backed by guest_ram (gpa != hpa): code at
 *                0x1000, data 0x5000 and 0x6000, stack below 0x9000,
 *                page tables PML4 0x10000, PDPT 0x11000, PD 0x12000
 *   0x400000     a 4 KiB page the host maps only on the first exit for it
 *   0x600000     a guest page directory the host maps only on its exit
 *   0x7000       guest RAM mapped read-only until the guest writes it
 *
 * Guest paging (4-level, SDM Vol. 3A 5.5): gva [0, 2 MiB) and gva
 * 0x400000 (2 MiB pages) through PD 0x12000; gva [1 GiB, 1 GiB + 2 MiB)
 * to gpa [0, 2 MiB) through PD 0x600000.
 */
#include "hv.h"
#include "hv_tables.h"

#define GUEST_CODE  0x1000ULL
#define GUEST_DATA  0x5000ULL
#define GUEST_WDATA 0x6000ULL
#define GUEST_STACK 0x9000ULL
#define GUEST_PML4  0x10000ULL
#define GUEST_PDPT  0x11000ULL
#define GUEST_PD0   0x12000ULL
#define LATE_DATA   0x400000ULL
#define LATE_PD     0x600000ULL
#define RO_PAGE     0x7000ULL
#define GUEST_RAM   0x200000ULL
#define PTE_P  1ULL
#define PTE_RW 2ULL
#define PTE_PS 0x80ULL

#define MAGIC_A 0x5a5a0000c0de0001ULL
#define MAGIC_B 0x5a5a0000c0de0002ULL
#define WVALUE  0x1122334455667788ULL
#define REPORT(n) (0x564d0000ULL + (n))
#define SVM_IO_ASIZE 0x380ULL   /* EXITINFO1 bits 9:7, APM 15.10.2 */

extern const uint8_t hv_guest_code[], hv_guest_code_end[];
static uint8_t guest_ram[GUEST_RAM] __attribute__((aligned(GUEST_RAM)));

static uint64_t *gmem(uint64_t gpa)
{
	return (uint64_t *)(void *)(guest_ram + gpa);
}

static void guest_build(void)
{
	memcpy(guest_ram + GUEST_CODE, hv_guest_code,
	       (size_t)(hv_guest_code_end - hv_guest_code));
	*gmem(GUEST_DATA) = MAGIC_A;
	gmem(GUEST_PML4)[0] = GUEST_PDPT | PTE_P | PTE_RW;
	gmem(GUEST_PDPT)[0] = GUEST_PD0 | PTE_P | PTE_RW;
	gmem(GUEST_PDPT)[1] = LATE_PD | PTE_P | PTE_RW;
	gmem(GUEST_PD0)[0] = 0 | PTE_PS | PTE_P | PTE_RW;
	gmem(GUEST_PD0)[2] = LATE_DATA | PTE_PS | PTE_P | PTE_RW;
}

/* One expected exit. report/value: CPUID's EAX and RBX, or an OUT's AL.
 * ept_info/npt_info: EPT exit qualification (bits 8:0, Table 28-7) or
 * #NPF EXITINFO1 (APM 15.25.6, all bits); the I/O exit's qualification or
 * EXITINFO1. */
struct hv_step {
	enum hv_exit_kind kind;
	uint64_t report, value;         /* CPUID: EAX and RBX */
	uint64_t gpa, gla, ept_info, npt_info;
};

static const struct hv_step script[] = {
	{ HV_EXIT_CPUID, REPORT(1), MAGIC_A, 0, 0, 0, 0 },
	{ HV_EXIT_CPUID, REPORT(2), WVALUE, 0, 0, 0, 0 },
	/* Final gpa not mapped: read (bit 0), gla valid (7), translation (8);
	 * #NPF: U (nested walks are user), not present, bit 32. */
	{ HV_EXIT_NESTED_FAULT, 0, 0, LATE_DATA, LATE_DATA, 0x181, 0x100000004ULL },
	{ HV_EXIT_CPUID, REPORT(3), MAGIC_B, 0, 0, 0, 0 },
	/* Guest PDE read (bit 8 clear: a paging-structure access); #NPF:
	 * bit 33, with W: QEMU and Bochs report a guest-table access as a
	 * write even when its accessed bit is already set. */
	{ HV_EXIT_NESTED_FAULT, 0, 0, LATE_PD, 0x40005000, 0x081, 0x200000006ULL },
	{ HV_EXIT_CPUID, REPORT(4), MAGIC_A, 0, 0, 0, 0 },
	/* Write to a read-only page: W (bit 1), the entry allowed R and X
	 * (bits 3, 5), gla valid, translation; #NPF: P W U, bit 32. */
	{ HV_EXIT_NESTED_FAULT, 0, 0, RO_PAGE, RO_PAGE, 0x1aa, 0x100000007ULL },
	{ HV_EXIT_CPUID, REPORT(5), 0x77, 0, 0, 0, 0 },
	/* OUT imm8, AL = 'K': VMX qualification (Table 28-5): size 1 (bits
	 * 2:0 = 0), OUT (bit 3 = 0), immediate port (bit 6), port in 31:16;
	 * SVM EXITINFO1 (APM 15.10.2): port in 31:16, SZ8 (bit 4), A64
	 * (bit 9), OUT (bit 0 = 0). */
	{ HV_EXIT_IO, 0, 'K', 0, 0, 0x00e90040, 0x00e90210 },
	{ HV_EXIT_HLT, 0, 0, 0, 0, 0, 0 },
};
#define SCRIPT_LEN (sizeof(script) / sizeof(script[0]))

/*
 * The host's side of a nested fault: back a late page and map it, or make
 * the read-only page writable; then drop cached translations.
 */
static int handle_fault(const struct hv_arch *arch, struct hv_tables *t,
			uint64_t gpa)
{
	uint64_t page;
	int rc;

	gpa &= ~0xfffULL;
	if (gpa == RO_PAGE) {
		page = (uint64_t)(uintptr_t)guest_ram + gpa;
	} else if (gpa == LATE_DATA || gpa == LATE_PD) {
		page = hv_pool_alloc();
		if (!page)
			return -1;
		/* LATE_PD: PDE 0 maps gpa [0, 2 MiB) as one 2 MiB page. */
		*(uint64_t *)(uintptr_t)page = gpa == LATE_DATA ? MAGIC_B :
					       0 | PTE_PS | PTE_P | PTE_RW;
	} else {
		return -1;
	}
	rc = hv_tables_map(t, gpa, page, 4096, true);
	hv_printf("hv: map gpa 0x%lx -> hpa 0x%lx rwx: %d, %lu table pages\n",
		  gpa, page, rc, hv_tables_pages(t));
	arch->flush();
	hv_tables_flushed(t);
	return rc;
}

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
		if (ept)
			hv_printf("hv: exit ept-violation qual 0x%lx gpa 0x%lx gla 0x%lx\n",
				  e->info, e->gpa, e->gla);
		else
			hv_printf("hv: exit npf exitinfo1 0x%lx exitinfo2 0x%lx\n",
				  e->info, e->gpa);
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

static bool step_ok(const struct hv_step *s, const struct hv_exit *e,
		    const struct hv_regs *r, bool ept)
{
	if (e->kind != s->kind)
		return false;
	if (e->kind == HV_EXIT_CPUID) {
		if (s->report == REPORT(2))
			return r->rax == s->report && *gmem(GUEST_WDATA) == WVALUE;
		return r->rax == s->report && r->rbx == s->value;
	}
	/* QEMU 7.2 TCG leaves the SVM address-size bits 9:7 clear (Bochs
	 * sets A64): the kernel ignores them, the ctest pins each value. */
	if (e->kind == HV_EXIT_IO)
		return (ept ? e->info == s->ept_info :
			(e->info & ~SVM_IO_ASIZE) == (s->npt_info & ~SVM_IO_ASIZE)) &&
		       (r->rax & 0xff) == s->value;
	if (e->kind != HV_EXIT_NESTED_FAULT)
		return true;
	if (ept)
		return (e->info & 0x1ff) == s->ept_info && e->gpa == s->gpa &&
		       e->gla_valid && e->gla == s->gla;
	return e->info == s->npt_info && e->gpa == s->gpa;
}

/* Run the script; every exit is printed and checked in order. */
static int guest_loop(const struct hv_arch *arch, struct hv_tables *t, bool ept)
{
	struct hv_regs regs;
	struct hv_exit e;
	unsigned n = 0, bad = 0;
	bool halted = false;

	memset(&regs, 0, sizeof(regs));
	while (n < SCRIPT_LEN) {
		arch->run(&regs, &e);
		print_exit(&e, &regs, ept);
		if (!step_ok(&script[n], &e, &regs, ept)) {
			hv_printf("hv: check %u FAIL\n", n + 1);
			bad++;
		}
		n++;
		if (e.kind == HV_EXIT_CPUID || e.kind == HV_EXIT_IO) {
			arch->skip(2);          /* CPUID 0f a2, OUT imm8 e6 ib */
			continue;
		}
		if (e.kind == HV_EXIT_NESTED_FAULT &&
		    handle_fault(arch, t, e.gpa) == 0)
			continue;
		halted = e.kind == HV_EXIT_HLT;
		break;
	}
	if (!halted || n != SCRIPT_LEN)
		bad++;
	hv_printf("hv: script %u of %u exits, %u failed\n", n,
		  (unsigned)SCRIPT_LEN, bad);
	return bad ? -1 : 0;
}

int hv_guest_run(const struct hv_arch *arch, const struct hv_features *f, bool ept)
{
	struct hv_tables *t;
	uint64_t ram = (uint64_t)(uintptr_t)guest_ram;
	int rc;

	guest_build();
	t = hv_tables_create(ept ? HV_NESTED_EPT : HV_NESTED_NPT, hv_platform());
	if (!t)
		return -1;
	rc = hv_tables_map(t, 0, ram, GUEST_RAM, true);
	if (!rc)
		rc = hv_tables_map(t, RO_PAGE, ram + RO_PAGE, 4096, false);
	if (rc) {
		hv_printf("hv: mapping guest RAM failed: %d\n", rc);
		return -1;
	}
	hv_printf("hv: %s tables: gpa 0x0-0x%lx -> hpa 0x%lx rwx, gpa 0x%lx r-x, "
		  "pointer 0x%lx, %lu table pages\n", ept ? "ept" : "npt",
		  (uint64_t)(GUEST_RAM - 1), ram, (uint64_t)RO_PAGE,
		  hv_tables_pointer(t), hv_tables_pages(t));
	if (arch->setup(f, hv_tables_pointer(t), GUEST_PML4, GUEST_CODE, GUEST_STACK))
		return -1;
	return guest_loop(arch, t, ept);
}
