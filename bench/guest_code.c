/* SPDX-License-Identifier: MIT */
/*
 * The guest of `vmmu bench exits`: 64-bit code copied to guest-physical
 * GUEST_CODE_GPA and entered at one routine per measurement. It is never
 * executed on the host (it lives in .rodata).
 *
 * Calling convention (set by the host through KVM_SET_REGS):
 *   r12 = iteration count, rdi/rsi = arguments, r13 = expected #PF address
 * Every routine brackets its loop with rdtsc and ends with
 *   r8 = elapsed TSC ticks, then `out` to port 0xf0 (done).
 * An unexpected exception reports its vector through `out` to port 0xe0.
 * The loop counter is r12 because cpuid, rdmsr and hypercalls use rax-rdx.
 */
#include "exits.h"

#define STR_(x) #x
#define STR(x) STR_(x)

__asm__(
"	.pushsection .rodata\n"
"	.balign 4096\n"
"	.globl vmmu_guest_blob\n"
"vmmu_guest_blob:\n"
/* r9 = TSC now (SDM Vol. 2B RDTSC: lfence keeps it after earlier work). */
"	.macro tsc_begin\n"
"	lfence; rdtsc; lfence; shl $32, %rdx; or %rax, %rdx; mov %rdx, %r9\n"
"	.endm\n"
"	.macro tsc_end_done\n"
"	lfence; rdtsc; lfence; shl $32, %rdx; or %rax, %rdx; sub %r9, %rdx\n"
"	mov %rdx, %r8; mov $0, %eax; out %al, $" STR(GUEST_PORT_DONE) "\n"
"	hlt\n"
"	.endm\n"

/* Exception stubs: 8 bytes each, vector i at vmmu_guest_vectors + 8*i. */
"	.balign 8\n"
"	.globl vmmu_guest_vectors\n"
"vmmu_guest_vectors:\n"
"	.set vec, 0\n"
"	.rept 32\n"
"	.balign 8\n"
"	mov $vec, %al\n"
"	out %al, $" STR(GUEST_PORT_EXCEPTION) "\n"
"	hlt\n"
"	.set vec, vec + 1\n"
"	.endr\n"

/* #PF at the expected address (r13): skip the 2-byte faulting load. */
"	.balign 16\n"
"	.globl vmmu_guest_pf_skip\n"
"vmmu_guest_pf_skip:\n"
"	push %rax\n"
"	mov %cr2, %rax\n"
"	cmp %r13, %rax\n"
"	jne 1f\n"
"	pop %rax\n"
"	add $8, %rsp\n"             /* error code */
"	addq $2, (%rsp)\n"          /* saved RIP past `mov (%rdi), %eax` */
"	iretq\n"
"1:	mov $14, %al\n"
"	out %al, $" STR(GUEST_PORT_EXCEPTION) "\n"
"	hlt\n"

"	.globl vmmu_guest_io\n"
"vmmu_guest_io:\n"
"	tsc_begin\n"
"1:	out %al, $" STR(GUEST_PORT_LOOP) "\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

"	.globl vmmu_guest_mmio\n"
"vmmu_guest_mmio:\n"
"	tsc_begin\n"
"1:	movl %eax, (%rdi)\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

/* Hypercall: rax = number, rbx/rcx/rdx = arguments, reloaded each time. */
"	.globl vmmu_guest_vmcall\n"
"vmmu_guest_vmcall:\n"
"	tsc_begin\n"
"1:	mov %rdi, %rax; mov %rsi, %rbx; mov $1, %ecx; xor %edx, %edx\n"
"	vmcall\n"
"	mov %rax, %r10\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

"	.globl vmmu_guest_vmmcall\n"
"vmmu_guest_vmmcall:\n"
"	tsc_begin\n"
"1:	mov %rdi, %rax; mov %rsi, %rbx; mov $1, %ecx; xor %edx, %edx\n"
"	vmmcall\n"
"	mov %rax, %r10\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

"	.globl vmmu_guest_cpuid\n"
"vmmu_guest_cpuid:\n"
"	tsc_begin\n"
"1:	xor %eax, %eax; xor %ecx, %ecx\n"
"	cpuid\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

"	.globl vmmu_guest_rdmsr\n"
"vmmu_guest_rdmsr:\n"
"	tsc_begin\n"
"1:	mov %edi, %ecx\n"
"	rdmsr\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

"	.globl vmmu_guest_hlt\n"
"vmmu_guest_hlt:\n"
"	tsc_begin\n"
"1:	hlt\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

/* Guest #PF on a not-present address, delivered to and skipped by the guest. */
"	.globl vmmu_guest_pf\n"
"vmmu_guest_pf:\n"
"	mov %rdi, %r13\n"
"	tsc_begin\n"
"1:	mov (%rdi), %eax\n"         /* 8b 07: the 2 bytes the handler skips */
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

/* One write per 4 KiB page from rdi on. */
"	.globl vmmu_guest_touch\n"
"vmmu_guest_touch:\n"
"	tsc_begin\n"
"1:	movq %r12, (%rdi)\n"
"	add $4096, %rdi\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

"	.globl vmmu_guest_movcr3\n"
"vmmu_guest_movcr3:\n"
"	mov %cr3, %rsi\n"
"	tsc_begin\n"
"1:	mov %rsi, %cr3\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

"	.globl vmmu_guest_invlpg\n"
"vmmu_guest_invlpg:\n"
"	tsc_begin\n"
"1:	invlpg (%rdi)\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

/* The empty loop, to show what the loop itself costs. */
"	.globl vmmu_guest_empty\n"
"vmmu_guest_empty:\n"
"	tsc_begin\n"
"1:	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

/* Pointer chase from rdi, 8 dependent loads per iteration. */
"	.globl vmmu_guest_chase\n"
"vmmu_guest_chase:\n"
"	tsc_begin\n"
"1:	mov (%rdi), %rdi; mov (%rdi), %rdi; mov (%rdi), %rdi; mov (%rdi), %rdi\n"
"	mov (%rdi), %rdi; mov (%rdi), %rdi; mov (%rdi), %rdi; mov (%rdi), %rdi\n"
"	dec %r12; jnz 1b\n"
"	tsc_end_done\n"

"	.globl vmmu_guest_blob_end\n"
"vmmu_guest_blob_end:\n"
"	.popsection\n");
