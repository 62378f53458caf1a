/* SPDX-License-Identifier: MIT */
/*
 * The KVM side of the oracle: builds the harness (GDT, TSS, IDT, harness
 * page tables, guest code) once, then runs one access per KVM_RUN.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmmu/error.h"
#include "oracle.h"

#define ORC_SEL_KCODE 0x08
#define ORC_SEL_KDATA 0x10
#define ORC_SEL_UCODE 0x1b
#define ORC_SEL_UDATA 0x23
#define ORC_LDT_GDT_INDEX 7     /* 16-byte LDT descriptor at GDT[7..8] */
/* Code and data for CPL 1 and 2 at GDT[9..12] (SDM Vol. 3A 5.5). */
#define ORC_GDT_RING12    9
#define ORC_GDT_ENTRIES   13

/* The selectors of ring `cpl` (0..3): code, then data/stack. */
static uint16_t ring_sel(unsigned cpl, bool data)
{
	static const uint16_t sel[4][2] = {
		{ ORC_SEL_KCODE, ORC_SEL_KDATA },
		{ (ORC_GDT_RING12 << 3) | 1, ((ORC_GDT_RING12 + 1) << 3) | 1 },
		{ ((ORC_GDT_RING12 + 2) << 3) | 2, ((ORC_GDT_RING12 + 3) << 3) | 2 },
		{ ORC_SEL_UCODE, ORC_SEL_UDATA },
	};

	return sel[cpl & 3][data];
}

/* Flat 64-bit code and data descriptors of DPL 1 and 2 (SDM 3.4.5). */
static void write_ring12_gdt(struct orc_vm *vm)
{
	static const uint64_t desc[4] = {
		0x00afbb000000ffffULL, 0x00cfb3000000ffffULL,   /* DPL 1 */
		0x00afdb000000ffffULL, 0x00cfd3000000ffffULL,   /* DPL 2 */
	};

	memcpy(vm->k.mem + ORC_GDT_OFF + 8 * ORC_GDT_RING12, desc, sizeof(desc));
}

#define ORC_RFLAGS_FIXED 0x2ULL

/* Entry-offset table at the start of the blob (oracle_guest.c). */
enum { ORC_OFF_SETUP, ORC_OFF_VECTORS, ORC_OFF_ACC, ORC_OFF_DONE = 6 };

/*
 * Flat DPL-3 data descriptor (SDM Vol. 3A 3.4.5.1). With its accessed bit
 * set, loading it only reads the LDT; with it clear, the CPU then sets it.
 */
#define ORC_DESC   0x00cff2000000ffffULL
#define ORC_DESC_A (1ULL << 40)

/* Guest values that say which page an access really touched. */
#define ORC_READ_MARK   0xc0de000000000000ULL
#define ORC_WRITE_MARK  0x5700000000000000ULL
#define ORC_MARK_MASK   0xffff000000000000ULL

static uint64_t *gpa_u64(struct orc_vm *vm, uint64_t gpa)
{
	return (uint64_t *)(vm->k.mem + gpa);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * Harness mappings: root[slot of hgva] -> PDPT -> PD[0] (supervisor 2 MiB
 * page at hgpa) and PD[1] (user 2 MiB page at hgpa + 2 MiB). A and D are
 * preset so that KVM never changes them and a byte comparison of the root
 * stays exact; NX is never set so that EFER.NXE=0 cases keep them valid.
 */
void orc_vm_map_harness(struct orc_vm *vm, uint8_t *root)
{
	uint64_t *pdpt = (uint64_t *)(vm->k.mem + ORC_HPDPT_OFF);
	uint64_t *pd = (uint64_t *)(vm->k.mem + ORC_HPD_OFF);
	uint64_t e = (vm->hgpa + ORC_HPDPT_OFF) | X86_PTE_P | X86_PTE_RW | X86_PTE_US | X86_PTE_A;

	memcpy(root + 8 * (vm->hgva >> 39 & 0x1ff), &e, 8);
	pdpt[vm->hgva >> 30 & 0x1ff] = (vm->hgpa + ORC_HPD_OFF) | X86_PTE_P | X86_PTE_RW |
				       X86_PTE_US | X86_PTE_A;
	pd[0] = vm->hgpa | X86_PTE_P | X86_PTE_RW | X86_PTE_A | X86_PTE_D | X86_PTE_PS;
	pd[1] = (vm->hgpa + 0x200000ULL) | X86_PTE_P | X86_PTE_RW | X86_PTE_US | X86_PTE_A | X86_PTE_D |
		X86_PTE_PS;
}

/* IDT: 64-bit interrupt gates, DPL 0, to the per-vector stubs (SDM 6.14.1). */
static void write_idt(struct orc_vm *vm)
{
	for (unsigned v = 0; v < 32; v++) {
		uint64_t off = vm->hgva + ORC_SCODE_OFF + vm->vec_off + 16ULL * v;
		uint64_t lo = (off & 0xffff) | ((uint64_t)ORC_SEL_KCODE << 16) |
			      (0x8eULL << 40) | ((off >> 16 & 0xffff) << 48);

		*gpa_u64(vm, ORC_IDT_OFF + 16ULL * v) = lo;
		*gpa_u64(vm, ORC_IDT_OFF + 16ULL * v + 8) = off >> 32;
	}
}

static int load_blob(struct orc_vm *vm, char *why, size_t whylen)
{
	size_t len = (size_t)(orc_guest_blob_end - orc_guest_blob);
	uint64_t off[10];

	if (len > 0x4000) {
		snprintf(why, whylen, "guest code too large (%zu bytes)", len);
		return VMMU_ERANGE;
	}
	memcpy(off, orc_guest_blob, sizeof(off));
	vm->setup_off = off[ORC_OFF_SETUP];
	vm->vec_off = off[ORC_OFF_VECTORS];
	for (unsigned i = 0; i < 4; i++) {
		vm->acc_off[i] = off[ORC_OFF_ACC + i];
		vm->done_off[i] = off[ORC_OFF_DONE + i];
	}
	memcpy(vm->k.mem + ORC_SCODE_OFF, orc_guest_blob, len);
	memcpy(vm->k.mem + ORC_UCODE_OFF, orc_guest_blob, len);
	return 0;
}

/*
 * Give the guest the CPUID KVM supports, with the vendor string replaced
 * when asked, and remember the facts the walker needs from it.
 */
static int configure_cpuid(struct orc_vm *vm, enum orc_vendor vendor,
			   char *why, size_t whylen)
{
	static const char *const names[] = { NULL, "GenuineIntel", "AuthenticAMD" };
	struct kvm_cpuid2 *cpuid = kvmh_get_supported_cpuid(&vm->k);
	char name[13] = "";
	int rc;

	if (!cpuid) {
		snprintf(why, whylen, "%s", vm->k.why);
		return VMMU_EIO;
	}
	vm->maxphyaddr = 36;    /* SDM 4.1.4: without leaf 0x80000008 */
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == 0 && names[vendor]) {
			memcpy(&e->ebx, names[vendor], 4);
			memcpy(&e->edx, names[vendor] + 4, 4);
			memcpy(&e->ecx, names[vendor] + 8, 4);
		}
		if (e->function == 0) {
			memcpy(name, &e->ebx, 4);
			memcpy(name + 4, &e->edx, 4);
			memcpy(name + 8, &e->ecx, 4);
		}
		if (e->function == 0x80000001)
			vm->gbpages = e->edx >> 26 & 1;
		if (e->function == 0x80000008 && vm->maxphy_limit &&
		    (e->eax & 0xff) > vm->maxphy_limit)
			e->eax = (e->eax & ~0xffu) | vm->maxphy_limit;
		if (e->function == 0x80000008)
			vm->maxphyaddr = (uint8_t)(e->eax & 0xff);
		if (e->function == 7 && e->index == 0)
			vm->cpuid_pku = e->ecx >> 3 & 1;
		if (e->function == 0xd && e->index == 9)
			vm->pkru_off = e->ebx;
	}
	vm->amd = !strcmp(name, "AuthenticAMD") || !strcmp(name, "HygonGenuine");
	rc = kvmh_set_cpuid(&vm->k, cpuid);
	free(cpuid);
	if (rc < 0)
		snprintf(why, whylen, "%s", vm->k.why);
	return rc;
}

int orc_vm_build(struct orc_vm *vm, uint64_t hgva, uint64_t hgpa,
		 uint64_t cr3, char *why, size_t whylen)
{
	uint64_t rsp0 = hgva + ORC_SSTACK_OFF - 64;
	uint16_t iomap = 0x68;
	int rc;

	vm->hgva = hgva;
	vm->hgpa = hgpa;
	vm->cr3 = cr3;
	rc = load_blob(vm, why, whylen);
	if (rc < 0)
		return rc;
	kvmh_write_gdt(&vm->k, ORC_GDT_OFF, hgva + ORC_TSS_OFF);
	write_ring12_gdt(vm);
	/* TSS.RSP0 (SDM 8.7): the stack for exceptions raised at CPL 3. */
	memcpy(vm->k.mem + ORC_TSS_OFF + 4, &rsp0, 8);
	/* I/O map base beyond the limit: no I/O permission bitmap. */
	memcpy(vm->k.mem + ORC_TSS_OFF + 102, &iomap, 2);
	write_idt(vm);
	rc = kvmh_set_long_mode(&vm->k, X86_CR0_PG | X86_CR0_WP | 0x33, cr3,
				X86_CR4_PAE, X86_EFER_LME | X86_EFER_LMA,
				hgva + ORC_GDT_OFF, hgva + ORC_IDT_OFF,
				32 * 16 - 1, hgva + ORC_TSS_OFF);
	if (rc < 0 || kvmh_get_sregs(&vm->k, &vm->sregs) < 0) {
		snprintf(why, whylen, "KVM_SET_SREGS/GET_SREGS for long mode failed");
		return VMMU_EIO;
	}
	vm->sregs.gdt.limit = 8 * ORC_GDT_ENTRIES - 1;
	vm->sregs_valid = false;
	return 0;
}

int orc_vm_open_kvm(struct orc_vm *vm, enum orc_vendor vendor, char *why,
		    size_t whylen)
{
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->vendor = vendor;
	rc = kvmh_open(&vm->k, ORC_MEM_SIZE);
	if (rc < 0) {
		snprintf(why, whylen, "%s", vm->k.why);
		return rc;
	}
	rc = configure_cpuid(vm, vendor, why, whylen);
	if (rc < 0)
		kvmh_close(&vm->k);
	return rc;
}

int orc_vm_open(struct orc_vm *vm, enum orc_vendor vendor, char *why,
		size_t whylen)
{
	int rc = orc_vm_open_kvm(vm, vendor, why, whylen);

	if (rc < 0)
		return rc;
	/* Random cases: harness identity-mapped through PML4 slot 0. */
	rc = orc_vm_build(vm, 0, 0, ORC_PML4_GPA, why, whylen);
	if (rc < 0) {
		kvmh_close(&vm->k);
		return rc;
	}
	orc_vm_map_harness(vm, vm->k.mem + ORC_PML4_GPA);
	orc_pku_probe(vm);
	return 0;
}

int orc_vm_limit_maxphyaddr(struct orc_vm *vm, unsigned bits, char *why,
			    size_t whylen)
{
	if (bits < 32 || bits > vm->maxphyaddr) {
		snprintf(why, whylen, "MAXPHYADDR %u is outside 32..%u (KVM's)",
			 bits, vm->maxphyaddr);
		return VMMU_EINVAL;
	}
	vm->maxphy_limit = (uint8_t)bits;
	return configure_cpuid(vm, vm->vendor, why, whylen);
}

void orc_vm_close(struct orc_vm *vm)
{
	kvmh_close(&vm->k);
}

/* Fill the block's IRETQ frame and registers for the access. */
static void fill_launch(struct orc_vm *vm, const struct orc_launch *l)
{
	const struct orc_access *a = l->a;
	uint64_t *b = gpa_u64(vm, ORC_BLOCK_OFF);
	unsigned slot = a->implicit ? 3 : (unsigned)a->kind;
	uint64_t code = vm->hgva + (a->cpl == 3 ? ORC_UCODE_OFF : ORC_SCODE_OFF);

	/* CPL 1 and 2 are supervisor modes: supervisor code and stack. */
	b[0] = l->nwrites;
	b[1] = code + vm->acc_off[slot];
	b[2] = ring_sel(a->cpl, false);
	b[3] = ORC_RFLAGS_FIXED | (l->ac ? X86_RFLAGS_AC : 0);
	b[4] = vm->hgva + (a->cpl == 3 ? ORC_USTACK_OFF - 64 :
			   ORC_SSTACK_OFF - 1024);
	b[5] = ring_sel(a->cpl, true);
	b[6] = a->gva;
	b[7] = l->wval;
	b[8] = ORC_LDT_SEL;
}

/*
 * Control registers of the case, CPL-0 segments for the setup code, and an
 * LDT whose base is the tested address (used only by implicit accesses).
 */
static int set_sregs(struct orc_vm *vm, const struct orc_launch *l)
{
	struct kvm_sregs s = vm->sregs;

	s.cr0 = l->cr0;
	s.cr4 = l->cr4;
	s.efer = l->efer;
	s.cr3 = vm->cr3 | l->cr3_flags;
	s.cs.selector = ORC_SEL_KCODE;
	s.cs.dpl = 0;
	s.cs.type = 0xb;
	s.cs.l = 1;
	s.cs.db = 0;
	s.ss = s.ds;
	s.ss.selector = ORC_SEL_KDATA;
	s.ss.dpl = 0;
	memset(&s.ldt, 0, sizeof(s.ldt));
	s.ldt.selector = ORC_LDT_GDT_INDEX << 3;
	s.ldt.base = l->a->gva;
	s.ldt.limit = 0xfff;
	s.ldt.type = 2;
	s.ldt.present = 1;
	if (vm->sregs_valid && !memcmp(&s, &vm->sregs, sizeof(s)))
		return 0;
	if (kvmh_set_sregs(&vm->k, &s) < 0)
		return VMMU_EIO;
	vm->sregs = s;
	vm->sregs_valid = true;
	return 0;
}

/* Turn the report into an outcome (see the stubs in oracle_guest.c). */
static void read_report(struct orc_vm *vm, const struct orc_access *a,
			struct orc_outcome *o)
{
	const uint64_t *r = gpa_u64(vm, ORC_REPORT_OFF);
	unsigned slot = a->implicit ? 3 : (unsigned)a->kind;
	uint64_t code = vm->hgva + (a->cpl == 3 ? ORC_UCODE_OFF : ORC_SCODE_OFF);
	uint64_t acc_rip = code + vm->acc_off[slot];

	o->rax = r[0];
	o->vector = (uint8_t)r[1];
	o->error_code = (uint32_t)r[2];
	o->rip = r[3];
	o->cr2 = r[5];
	if (slot == VMMU_ACCESS_FETCH) {
		/*
		 * The fetch failed only if it faulted at the target, or (for a
		 * non-canonical target) on the jump itself. Anything else means
		 * bytes at the target were fetched. Seen on this KVM: a CPL-0
		 * fetch from a user page under SMAP with RFLAGS.AC=0 executes
		 * the first instruction, then reports a #PF (P|I) on the next
		 * one in the same page; SMAP does not apply to fetches (SDM
		 * Vol. 3A 4.6.1), so the fetch counts as completed.
		 */
		bool at_target = o->vector == X86_VEC_PF && o->rip == a->gva &&
				 o->cr2 == a->gva;
		bool at_jump = o->vector == X86_VEC_GP && o->rip == acc_rip;

		o->ok = !at_target && !at_jump;
		o->fetch_quirk = o->vector == X86_VEC_PF &&
				 o->rip == a->gva + 5 && o->cr2 == a->gva + 5;
		if (at_target)
			acc_rip = a->gva;
	} else {
		o->ok = o->vector == 0 && o->rip == code + vm->done_off[slot];
	}
	/*
	 * A descriptor that was read but is unusable (#NP, #GP with the LDT
	 * selector as error code, SDM Vol. 3A 6.13) means the read completed.
	 */
	if (slot == 3 && o->rip == acc_rip && (o->vector == 11 ||
	    o->vector == X86_VEC_GP) && o->error_code == (ORC_LDT_SEL & ~3U))
		o->ok = true;
	/* The exception must come from the ring the access ran in. */
	if ((r[4] & 3) != a->cpl) {
		o->harness_error = true;
		snprintf(o->why, sizeof(o->why), "vector %u raised at CPL %u, "
			 "not at the access's CPL %u", o->vector,
			 (unsigned)(r[4] & 3), a->cpl);
	} else if (!o->ok && o->rip != acc_rip) {
		o->harness_error = true;
		snprintf(o->why, sizeof(o->why),
			 "vector %u at rip 0x%llx, not at the access (0x%llx)",
			 o->vector, (unsigned long long)o->rip,
			 (unsigned long long)acc_rip);
	}
}

/* KVM_RUN until the report exit, answering MMIO (reads return zeros). */
static int run_to_report(struct orc_vm *vm, const struct orc_launch *l,
			 struct orc_outcome *out)
{
	struct kvm_run *run = vm->k.run;
	int rc = 0;

	for (unsigned n = 0; n < 16; n++) {
		rc = l->run ? l->run(vm, l->run_ctx) : kvmh_run(&vm->k);
		if (rc != KVM_EXIT_MMIO)
			return rc;
		if (!out->mmio) {
			out->mmio = true;
			out->mmio_gpa = run->mmio.phys_addr;
			out->mmio_write = run->mmio.is_write;
		}
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0, sizeof(run->mmio.data));
	}
	return rc;
}

int orc_vm_launch(struct orc_vm *vm, const struct orc_launch *l,
		  struct orc_outcome *out)
{
	struct kvm_regs regs;
	double t0 = now_ns();
	int rc;

	memset(out, 0, sizeof(*out));
	fill_launch(vm, l);
	memset(vm->k.mem + ORC_REPORT_OFF, 0xff, 64);
	if (set_sregs(vm, l) < 0)
		return VMMU_EIO;
	if ((l->cr4 & X86_CR4_PKE) && orc_set_pkru(vm, l->pkru) < 0)
		return VMMU_EIO;
	memset(&regs, 0, sizeof(regs));
	regs.rip = vm->hgva + ORC_SCODE_OFF + vm->setup_off;
	regs.rsi = vm->hgva + ORC_BLOCK_OFF;
	regs.rsp = vm->hgva + ORC_SSTACK_OFF - 64;
	regs.rflags = ORC_RFLAGS_FIXED;
	if (kvmh_set_regs(&vm->k, &regs) < 0)
		return VMMU_EIO;
	rc = run_to_report(vm, l, out);
	vm->runs++;
	vm->run_ns += now_ns() - t0;
	/* After anything but the report exit the vCPU state is unknown. */
	if (rc != KVM_EXIT_IO || vm->k.run->io.port != ORC_REPORT_PORT) {
		vm->sregs_valid = false;
		out->harness_error = true;
		if (rc == KVM_EXIT_INTERNAL_ERROR)
			snprintf(out->why, sizeof(out->why),
				 "KVM internal error, suberror %u",
				 vm->k.run->internal.suberror);
		else
			snprintf(out->why, sizeof(out->why),
				 "KVM_RUN ended with exit reason %d%s%.100s", rc,
				 rc < 0 ? ": " : "", rc < 0 ? vm->k.why : "");
		return 0;
	}
	/* The handler left CS/SS as the CPU delivered them; reset next time. */
	vm->sregs_valid = vm->sregs_valid && l->a->cpl == 0;
	read_report(vm, l->a, out);
	return 0;
}

/* ---- random cases: tables in the harness, targets the host prepared ---- */

/* The intended guest-physical address of an access (the case's leaf). */
static uint64_t intended_gpa(const struct orc_case *c, uint64_t gva)
{
	uint64_t size = c->levels == 4 ? 0x1000ULL : 0x200000ULL;

	return c->frame_gpa + (gva & (size - 1));
}

/* Put the bytes an access expects at its intended target. */
static void prepare_target(struct orc_vm *vm, const struct orc_case *c,
			   const struct orc_access *a)
{
	uint64_t gpa = intended_gpa(c, a->gva);
	/* mov eax, imm32; ud2 */
	uint8_t code[8] = { 0xb8, 0, 0, 0, 0, 0x0f, 0x0b, 0x90 };
	if (a->implicit) {
		*gpa_u64(vm, gpa) = a->desc_write ? ORC_DESC : ORC_DESC | ORC_DESC_A;
		return;
	}
	switch (a->kind) {
	case VMMU_ACCESS_READ:
		*gpa_u64(vm, gpa) = ORC_READ_MARK | gpa;
		break;
	case VMMU_ACCESS_WRITE:
		*gpa_u64(vm, gpa) = 0;
		break;
	case VMMU_ACCESS_FETCH:
		memcpy(code + 1, &(uint32_t){ (uint32_t)gpa }, 4);
		memcpy(vm->k.mem + gpa, code, sizeof(code));
		break;
	}
}

/* The block's table writes: clear the previous case's path, write this one. */
static unsigned fill_writes(struct orc_vm *vm, const struct orc_case *c)
{
	uint64_t *b = gpa_u64(vm, ORC_BLOCK_OFF);
	unsigned n = 0;

	unsigned count = c->levels + (c->recursion ? 1 : 0);

	for (unsigned i = 0; i < vm->prev_levels; i++) {
		b[16 + 2 * n] = vm->hgva + vm->prev_gpa[i];
		b[17 + 2 * n++] = 0;
	}
	for (unsigned i = 0; i < count; i++) {
		b[16 + 2 * n] = vm->hgva + c->gpa[i];
		b[17 + 2 * n++] = c->entry[i];
		vm->prev_gpa[i] = c->gpa[i];
	}
	vm->prev_levels = count;
	return n;
}

/* Which guest-physical address the completed access really touched. */
static void observe_gpa(struct orc_vm *vm, const struct orc_case *c,
			const struct orc_access *a, uint64_t wval,
			struct orc_outcome *o)
{
	uint64_t gpa = intended_gpa(c, a->gva);

	/* Self-mapped cases land in table pages: oracle_cmp.c checks them. */
	if (!o->ok || c->recursion)
		return;
	/* A page without memory: the exit named the address and direction. */
	if (c->frame_gpa >= ORC_MEM_SIZE) {
		o->gpa_known = o->mmio &&
			       o->mmio_write == (a->kind == VMMU_ACCESS_WRITE);
		o->gpa = o->mmio_gpa;
		return;
	}
	if (a->implicit) {
		/* The descriptor write shows where it landed. */
		if (a->desc_write && *gpa_u64(vm, gpa) == (ORC_DESC | ORC_DESC_A)) {
			o->gpa_known = true;
			o->gpa = gpa;
		}
		return;
	}
	if (a->kind == VMMU_ACCESS_READ &&
	    (o->rax & ORC_MARK_MASK) == ORC_READ_MARK) {
		o->gpa_known = true;
		o->gpa = o->rax & ~ORC_MARK_MASK;
	}
	if (a->kind == VMMU_ACCESS_WRITE && *gpa_u64(vm, gpa) == wval) {
		o->gpa_known = true;
		o->gpa = gpa;
	}
	if (a->kind == VMMU_ACCESS_FETCH &&
	    (o->fetch_quirk || (o->vector == 6 && o->rip == a->gva + 5))) {
		o->gpa_known = true;
		o->gpa = (uint32_t)o->rax;
	}
}

const uint64_t orc_table_gpa[ORC_NTABLES] = {
	ORC_PML4_GPA, ORC_TPDPT_GPA, ORC_TPD_GPA, ORC_TPT_GPA
};

void orc_vm_get_tables(const struct orc_vm *vm, struct orc_tables *t)
{
	for (unsigned i = 0; i < ORC_NTABLES; i++)
		memcpy(t->page[i], vm->k.mem + orc_table_gpa[i], 4096);
}

/* What the tables hold once the setup code has made the block's writes. */
static void tables_after_block(struct orc_vm *vm, struct orc_tables *t)
{
	const uint64_t *b = gpa_u64(vm, ORC_BLOCK_OFF);

	orc_vm_get_tables(vm, t);
	for (uint64_t i = 0; i < b[0]; i++) {
		uint64_t gpa = b[16 + 2 * i] - vm->hgva;

		for (unsigned j = 0; j < ORC_NTABLES; j++)
			if ((gpa & ~0xfffULL) == orc_table_gpa[j])
				memcpy(t->page[j] + (gpa & 0xfff), &b[17 + 2 * i], 8);
	}
}

int orc_vm_run_access(struct orc_vm *vm, const struct orc_case *c,
		      unsigned idx, struct orc_tables *pre,
		      struct orc_outcome *out)
{
	struct orc_launch l = {
		.cr0 = c->cr0, .cr4 = c->cr4, .efer = c->efer, .ac = c->ac,
		.pkru = c->pkru,
		.cr3_flags = c->cr3_flags,
		.a = &c->access[idx],
		/* Bit 0 clear: as a paging entry (self-mapped writes) it is
		 * not present and never leads a walk outside memory. */
		.wval = ORC_WRITE_MARK | (++vm->serial << 4 & 0xfffffffffff0ULL),
	};
	int rc;

	if (!c->recursion && c->frame_gpa < ORC_MEM_SIZE)
		prepare_target(vm, c, l.a);
	l.nwrites = idx == 0 ? fill_writes(vm, c) : 0;
	gpa_u64(vm, ORC_BLOCK_OFF)[0] = l.nwrites;
	if (pre)
		tables_after_block(vm, pre);
	rc = orc_vm_launch(vm, &l, out);
	out->wval = l.wval;
	if (rc == 0 && !out->harness_error)
		observe_gpa(vm, c, l.a, l.wval, out);
	return rc;
}
