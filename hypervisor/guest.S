/* SPDX-License-Identifier: MIT */
/*
 * The guest: 64-bit code written to guest-physical GUEST_CODE (hv_guest.c)
 * and run there at CPL 0 on the page tables hv_guest.c writes into guest
 * memory. It reports through CPUID (an exit under VMX, SDM Vol. 3C
 * 26.1.2, and intercepted under SVM): EAX = 0x564d0000 + step, RBX = the
 * value it read. Absolute addresses only: the bytes run wherever copied.
 */
#define REPORT(n) (0x564d0000 + (n))

/* Read the quadword at gva addr into RBX (48 8b 1e: 3 bytes), report n. */
.macro read_report addr, n
	mov $\addr, %esi
	mov (%rsi), %rbx
	mov $REPORT(\n), %eax
	cpuid
.endm

/* Store imm32 val at gva addr (48 c7 06 imm32: 7 bytes), then read_report. */
.macro write_read_report addr, val, n
	mov $\addr, %esi
	movq $\val, (%rsi)
	read_report \addr, \n
.endm

	.section .rodata.guest, "a"
	.code64
	.globl hv_guest_code, hv_guest_code_end
hv_guest_code:
	/* 1: read a word the host wrote at gpa 0x5000. */
	read_report 0x5000, 1
	/* 2: write a word at gpa 0x6000 (the host checks its own page). */
	mov $0x6000, %esi
	movabs $0x1122334455667788, %rbx
	mov %rbx, (%rsi)
	mov $REPORT(2), %eax
	cpuid
	/* 3: read gva 0x400000 = gpa 0x400000, absent from the nested
	 * tables until its first touch. */
	read_report 0x400000, 3
	/* 4: read gva 0x40005000, whose guest page directory sits at gpa
	 * 0x600000, absent from the nested tables; it maps gpa 0x5000. */
	read_report 0x40005000, 4
	/* 5: write gpa 0x7000, RAM_RO until the VMM lets the write through,
	 * then read the word back. */
	write_read_report 0x7000, 0x77, 5
	/* 6: after the host's dirty-log clean: write gpa 0x6000 again and
	 * gpa 0x8000 (untouched so far), read the latter back. */
	mov $0x6000, %esi
	movq $0x66, (%rsi)
	write_read_report 0x8000, 0x88, 6
	/* Shadow paging only (the host starts the guest with RDI = 1): the
	 * guest edits a page table of its own. 9: read gva 0x600000 through
	 * the page table at gpa 0x13000 (PTE 0 -> gpa 0x5000); point PTE 0
	 * at gpa 0x6000 and INVLPG; 10: read it (0x66); point PTE 0 at gpa
	 * 0x8000, reload CR3 (MOV from and to CR3); 11: read it (0x88). */
	test %edi, %edi
	jz 2f
	read_report 0x600000, 9
	mov $0x13000, %esi
	movq $0x6063, (%rsi)
	mov $0x600000, %esi
	invlpg (%rsi)
	read_report 0x600000, 10
	mov $0x13000, %esi
	movq $0x8063, (%rsi)
	mov %cr3, %rax
	mov %rax, %cr3
	read_report 0x600000, 11
	/* 12: read gva 0x40200000, which the guest does not map: its own
	 * #PF (injected by the VMM), whose handler reports the error code
	 * in RBX and CR2 in RDX and steps over the 3-byte load. */
	mov $0x40200000, %esi
	mov (%rsi), %rbx
	jmp 2f
	.globl hv_guest_pf_handler
hv_guest_pf_handler:
	mov (%rsp), %rbx
	mov %cr2, %rdx
	mov $REPORT(12), %eax
	cpuid
	add $8, %rsp
	addq $3, (%rsp)
	iretq
2:
	/* 7: read the device register at gpa 0x10000000 (an MMIO slot: the
	 * VMM's device model gives the value; the load is 3 bytes). */
	read_report 0x10000000, 7
	/* 8: write the ROM at gpa 0x20000000 (the VMM drops the write; the
	 * store is 7 bytes), then read what the host loaded there. */
	write_read_report 0x20000000, 0x99, 8
	/* 9: one byte to port 0xe9 (an I/O exit), then HLT. */
	mov $0x4b, %al
	out %al, $0xe9
1:	hlt
	jmp 1b
hv_guest_code_end:

	.section .note.GNU-stack, "", @progbits
