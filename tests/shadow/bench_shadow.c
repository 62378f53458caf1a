/* SPDX-License-Identifier: MIT */
/*
 * Costs of the shadow backend's hypervisor side, in the model (not in the
 * ctest set; docs/shadow.md gives the figures):
 *   fill     a first access to a page: shadow #PF exit, guest walk, fill
 *            of the leaf (its page table already shadowed), retry;
 *   ptwrite  the guest changes a PTE through a kernel mapping (trapped,
 *            emulated, revalidated), INVLPGs, and touches the page; PTEs
 *            of one page table in a row, so write flooding unshadows it
 *            now and then (the counts are printed);
 *   cr3      MOV to CR3 between two address spaces whose shadows are warm,
 *            and one access (a shadow walk, no #PF) in each.
 * usage: bench_shadow [pages]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/hosted.h"
#include "vmmu/access.h"
#include "shadow-fallback/shadow.h"

#define RAM      (256ULL << 20)
#define TABLES   0x100000ULL
#define DATA     0x4000000ULL
#define UVA      0x40000000ULL
#define KVA      0x80000000ULL      /* a mapping of the page tables */

static struct vmmu_hosted_arena *arena;
static struct vmmu_platform plat;
static struct vmmu_vm *vm;
static struct vmmu_vcpu *vcpu;
static uint64_t next_table = TABLES;

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static uint64_t rd(uint64_t gpa)
{
	uint64_t v = 0;

	vmmu_vm_read_gpa(vm, mk_gpa(gpa), &v, 8);
	return v;
}

static void wr(uint64_t gpa, uint64_t v)
{
	if (vmmu_vm_write_gpa(vm, mk_gpa(gpa), &v, 8) < 0)
		abort();
}

/* The PTE gpa for va under root, tables made on the way. */
static uint64_t pte(uint64_t root, uint64_t va)
{
	uint64_t t = root;

	for (unsigned level = 4; level > 1; level--) {
		uint64_t e = t + ((va >> (12 + 9 * (level - 1))) & 511) * 8, v = rd(e);

		if (!(v & 1)) {
			v = next_table | 7;
			next_table += 4096;
			wr(e, v);
		}
		t = v & ~0xfffULL;
	}
	return t + ((va >> 12) & 511) * 8;
}

static void access(uint64_t va, enum vmmu_access_kind kind)
{
	uint64_t data = 1;
	struct vmmu_op op = { .acc = { mk_gva(va), kind, 3, false }, .size = 8,
			      .data = &data };
	struct vmmu_access_result r;

	if (vmmu_vcpu_access(vcpu, &op, &r) < 0 || r.status != VMMU_ACCESS_DONE)
		abort();
}

static void setup(unsigned pages, uint64_t *root1, uint64_t *root2)
{
	uint64_t zero = 0;

	next_table = TABLES;
	if (vmmu_hosted_create(RAM + (64ULL << 20), &arena) < 0)
		abort();
	vmmu_hosted_platform(arena, &plat);
	if (vmmu_vm_create(&plat, &vm) < 0 ||
	    vmmu_vm_add_slot(vm, mk_gpa(0), RAM, VMMU_MEM_RAM) < 0 ||
	    vmmu_vm_set_backend(vm, VMMU_BACKEND_SHADOW, &vmmu_backend_shadow) < 0 ||
	    vmmu_shadow_set_pool_pages(vm, 8192) < 0 ||
	    vmmu_vcpu_create(vm, &vcpu) < 0)
		abort();
	*root1 = next_table;
	next_table += 4096;
	*root2 = next_table;
	next_table += 4096;
	for (unsigned i = 0; i < pages; i++) {
		uint64_t p = pte(*root1, UVA + i * 4096ULL);

		wr(p, (DATA + i * 4096ULL) | 0x67);     /* P RW US A D */
		wr(DATA + i * 4096ULL, zero);           /* back the frame */
		/* The kernel view of that PTE's page, through other tables. */
		wr(pte(*root1, KVA + (p & ~0xfffULL)), (p & ~0xfffULL) | 0x63);
	}
	wr(*root2, rd(*root1));                     /* a second space */
	vcpu->paging.maxphyaddr = 48;
	if (vmmu_vcpu_set_cr(vcpu, VMMU_EFER, X86_EFER_LME | X86_EFER_LMA) < 0 ||
	    vmmu_vcpu_set_cr(vcpu, VMMU_CR4, X86_CR4_PAE) < 0 ||
	    vmmu_vcpu_set_cr(vcpu, VMMU_CR3, *root1) < 0 ||
	    vmmu_vcpu_set_cr(vcpu, VMMU_CR0, X86_CR0_PG | X86_CR0_PE | X86_CR0_WP) < 0)
		abort();
}

static void teardown(void)
{
	vmmu_vm_destroy(vm);
	vmmu_hosted_destroy(arena);
}

int main(int argc, char **argv)
{
	unsigned pages = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 16384;
	double fill = 1e30, ptw = 1e30, cr3 = 1e30, t;
	uint64_t r1, r2;
	struct vmmu_shadow_stats s;

	for (unsigned round = 0; round < 3; round++) {
		setup(pages, &r1, &r2);
		access(UVA, VMMU_ACCESS_READ);          /* shadows the tables */
		t = now_ns();
		for (unsigned i = 1; i < pages; i++)
			access(UVA + i * 4096ULL, VMMU_ACCESS_READ);
		t = (now_ns() - t) / (pages - 1);
		fill = t < fill ? t : fill;
		t = now_ns();
		for (unsigned i = 0; i < pages; i++) {
			uint64_t va = UVA + i * 4096ULL, p = pte(r1, va);
			uint64_t e = (DATA + ((i + 1) % pages) * 4096ULL) | 0x67, data = e;
			struct vmmu_access_result r;

			if (vmmu_vcpu_write(vcpu, mk_gva(KVA + p), &data, 8, 0, &r) < 0 ||
			    r.status != VMMU_ACCESS_DONE)
				abort();
			vmmu_vcpu_invlpg(vcpu, mk_gva(va));
			access(va, VMMU_ACCESS_READ);
		}
		t = (now_ns() - t) / pages;
		ptw = t < ptw ? t : ptw;
		access(UVA, VMMU_ACCESS_READ);
		vmmu_vcpu_set_cr(vcpu, VMMU_CR3, r2);
		access(UVA, VMMU_ACCESS_READ);
		t = now_ns();
		for (unsigned i = 0; i < 100000; i++) {
			vmmu_vcpu_set_cr(vcpu, VMMU_CR3, i & 1 ? r2 : r1);
			access(UVA, VMMU_ACCESS_READ);
		}
		t = (now_ns() - t) / 100000;
		cr3 = t < cr3 ? t : cr3;
		vmmu_shadow_stats(vm, &s);
		teardown();
	}
	printf("shadow fill (first access, PT shadowed)   %8.0f ns\n", fill);
	printf("PTE write + INVLPG + access               %8.0f ns\n", ptw);
	printf("MOV to CR3 (warm) + one access            %8.0f ns\n", cr3);
	printf("(%u pages, best of 3; last round: %llu fills, %llu PT writes "
	       "emulated, %llu unshadowed)\n", pages, (unsigned long long)s.fills,
	       (unsigned long long)s.emulated_writes,
	       (unsigned long long)s.unshadowed);
	return 0;
}
