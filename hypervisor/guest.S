/* SPDX-License-Identifier: MIT */
/*
 * The guest: 64-bit code copied to guest-physical GUEST_CODE (hv_guest.c)
 * and run there at CPL 0 on the page tables hv_guest.c writes into guest
 * memory. It reports through CPUID (an exit under VMX, SDM Vol. 3C
 * 26.1.2, and intercepted under SVM): EAX = 0x564d0000 + step, RBX = the
 * value it read. Absolute addresses only: the bytes run wherever copied.
 */
#define REPORT(n) (0x564d0000 + (n))

	.section .rodata.guest, "a"
	.code64
	.globl hv_guest_code, hv_guest_code_end
hv_guest_code:
	/* 1: read a word the host wrote at gpa 0x5000. */
	mov $0x5000, %esi
	mov (%rsi), %rbx
	mov $REPORT(1), %eax
	cpuid
	/* 2: write a word at gpa 0x6000 (the host checks its own page). */
	mov $0x6000, %esi
	movabs $0x1122334455667788, %rbx
	mov %rbx, (%rsi)
	mov $REPORT(2), %eax
	cpuid
	/* 3: read gva 0x400000 = gpa 0x400000, absent from the nested
	 * tables until the host maps it on the exit. */
	mov $0x400000, %esi
	mov (%rsi), %rbx
	mov $REPORT(3), %eax
	cpuid
	/* 4: read gva 0x40005000, whose guest page directory sits at gpa
	 * 0x600000, absent from the nested tables; it maps gpa 0x5000. */
	mov $0x40005000, %esi
	mov (%rsi), %rbx
	mov $REPORT(4), %eax
	cpuid
	/* 5: write gpa 0x7000, mapped read-only until the exit for it,
	 * then read the word back. */
	mov $0x7000, %esi
	movq $0x77, (%rsi)
	mov (%rsi), %rbx
	mov $REPORT(5), %eax
	cpuid
	/* 6: after the host's dirty-log clean: write gpa 0x6000 again and
	 * gpa 0x8000 (untouched so far), read the latter back. */
	mov $0x6000, %esi
	movq $0x66, (%rsi)
	mov $0x8000, %esi
	movq $0x88, (%rsi)
	mov (%rsi), %rbx
	mov $REPORT(6), %eax
	cpuid
	/* 7: read the device register at gpa 0x10000000 (an MMIO slot: the
	 * VMM's device model gives the value). 3 bytes: 48 8b 1e. */
	mov $0x10000000, %esi
	mov (%rsi), %rbx
	mov $REPORT(7), %eax
	cpuid
	/* 8: write the ROM at gpa 0x20000000 (the VMM drops the write; 7
	 * bytes: 48 c7 06 imm32), then read what the host loaded there. */
	mov $0x20000000, %esi
	movq $0x99, (%rsi)
	mov (%rsi), %rbx
	mov $REPORT(8), %eax
	cpuid
	/* 9: one byte to port 0xe9 (an I/O exit), then HLT. */
	mov $0x4b, %al
	out %al, $0xe9
1:	hlt
	jmp 1b
hv_guest_code_end:

	.section .note.GNU-stack, "", @progbits
