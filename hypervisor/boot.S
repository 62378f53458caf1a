/* SPDX-License-Identifier: MIT */
/*
 * vmmu-hv: multiboot v1 entry (32-bit protected mode, paging off), then
 * long mode with paging, then 64-bit C (hv_main).
 *
 * Long-mode entry follows SDM Vol. 3A 10.8.5 (Initializing IA-32e Mode):
 * CR4.PAE, CR3 = PML4, EFER.LME, then CR0.PG, then a far jump to a code
 * segment with L = 1. The boot tables map linear [0, 1 GiB) to physical
 * [0, 1 GiB) with 2 MiB pages (SDM Vol. 3A 5.5, 4-level paging), so every
 * host-physical address below 1 GiB is also a host pointer.
 *
 * Also here: the 64-bit GDT and its TSS slot (filled by hv_cpu_init) and
 * 32 exception stubs that report the vector and halt.
 */
#define MB_MAGIC      0x1badb002
#define MB_FLAGS      0x00000003      /* page-aligned modules, memory info */
#define MSR_EFER      0xc0000080
#define EFER_LME      (1 << 8)
#define EFER_NXE      (1 << 11)
#define SEL_CODE64    0x08
#define SEL_DATA      0x10

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.section .text.boot, "ax"
	.code32
	.globl _start
_start:
	cli
	mov %eax, %esi                  /* multiboot magic, kept for C */
	mov %ebx, %ebp                  /* multiboot info */
	/* Zero .bss (stack and boot tables included). */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	cld
	rep stosb
	mov $boot_stack_top, %esp
	/* PD: 512 2 MiB leaves, P | R/W | PS. */
	mov $boot_pd, %edi
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax
	mov %eax, (%edi, %ecx, 8)
	inc %ecx
	cmp $512, %ecx
	jne 1b
	mov $boot_pd, %eax
	or $3, %eax
	mov %eax, boot_pdpt
	mov $boot_pdpt, %eax
	or $3, %eax
	mov %eax, boot_pml4
	/* CR4.PAE, CR3, EFER.LME (and NXE when CPUID 80000001h:EDX[20]). */
	mov %cr4, %eax
	or $(1 << 5), %eax
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $0x80000001, %eax
	cpuid
	mov $EFER_LME, %ebx
	test $(1 << 20), %edx
	jz 2f
	or $EFER_NXE, %ebx
2:	mov $MSR_EFER, %ecx
	rdmsr
	or %ebx, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax            /* PG | PE */
	mov %eax, %cr0
	lgdt gdt_desc
	ljmp $SEL_CODE64, $start64

	.code64
start64:
	mov $SEL_DATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	lgdt gdt_desc                   /* again, with a 64-bit base */
	mov $boot_stack_top, %rsp
	mov %esi, %edi                  /* hv_main(magic, info) */
	mov %ebp, %esi
	call hv_main
3:	cli
	hlt
	jmp 3b

/* Exception stubs: stub i pushes i and jumps to the common handler. */
	.text
	.align 16
	.globl hv_isr_stubs
hv_isr_stubs:
	.set vec, 0
	.rept 32
	.align 16
	push $vec
	jmp isr_common
	.set vec, vec + 1
	.endr
isr_common:
	mov %rsp, %rdi                  /* vector, [error code], rip, cs, ... */
	and $-16, %rsp
	call hv_exception               /* does not return */
4:	cli
	hlt
	jmp 4b

	.data
	.align 16
	.globl hv_gdt
hv_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08: 64-bit code, DPL 0 */
	.quad 0x00cf92000000ffff        /* 0x10: data, DPL 0 */
	.quad 0, 0                      /* 0x18: 64-bit TSS (hv_cpu_init) */
hv_gdt_end:
	.align 8
	.globl gdt_desc
gdt_desc:
	.word hv_gdt_end - hv_gdt - 1
	.quad hv_gdt

	.bss
	.align 4096
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pd:	.skip 4096
	.align 16
	.skip 32768
	.globl boot_stack_top
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
