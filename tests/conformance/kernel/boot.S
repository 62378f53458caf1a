/* SPDX-License-Identifier: MIT */
/*
 * Conformance test kernel: multiboot v1 entry, descriptor tables, and the
 * trampoline that runs one access with paging on.
 *
 * The C side (kernel.c) runs in 32-bit protected mode with paging OFF, so
 * it reaches every case gpa below 4 GiB directly. conf_access() turns
 * paging on in the case's mode (2-level, PAE, or IA-32e 4/5-level through
 * compatibility mode, SDM Vol. 3A 10.8.5), performs the access at CPL 0 or
 * (through IRET) at CPL 3, and comes back through int 0x81 (success) or any
 * exception, recording vector, error code, CR2 and EAX. Paging is then
 * turned off again (from compatibility mode for IA-32e) and conf_access
 * returns on the stack it was called on.
 */
#define GDT_CODE32   0x08
#define GDT_DATA     0x10
#define GDT_UCODE32  0x1b
#define GDT_UDATA    0x23
#define GDT_CODE64   0x28
#define GDT_UCODE64  0x33
#define GDT_TSS32    0x38
#define GDT_TSS64    0x40

#define USER_PAGE    0x00303000
#define MSR_EFER     0xc0000080

/* struct conf_ctl offsets (kernel.c) */
#define C_CR0    0
#define C_CR3    4
#define C_CR4    8
#define C_EFERLO 12
#define C_EFERHI 16
#define C_PKRU   20
#define C_RFLAGS 24
#define C_GVALO  28
#define C_GVAHI  32
#define C_KIND   36
#define C_CPL    40
#define C_LONG   44
#define C_VEC    48
#define C_ERR    52
#define C_CR2LO  56
#define C_CR2HI  60
#define C_VALUE  64

	.section .multiboot, "a"
	.align 4
	.long 0x1badb002
	.long 0x00000003          /* page-align modules, memory info */
	.long -(0x1badb002 + 0x00000003)

	.text
	.code32
	.globl _start
_start:
	cli
	lgdt gdt_desc
	ljmp $GDT_CODE32, $1f
1:	mov $GDT_DATA, %cx
	mov %cx, %ds
	mov %cx, %es
	mov %cx, %fs
	mov %cx, %gs
	mov %cx, %ss
	mov $stack_top, %esp
	lidt idt32_desc           /* gates are filled in by kmain */
	push %ebx                 /* multiboot info */
	push %eax                 /* multiboot magic */
	call kmain
2:	cli
	hlt
	jmp 2b

/* int conf_access(struct conf_ctl *ctl) */
	.globl conf_access
conf_access:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov 20(%esp), %ebx
	mov %ebx, cur_ctl
	mov %esp, saved_esp
	mov $MSR_EFER, %ecx
	mov C_EFERLO(%ebx), %eax
	mov C_EFERHI(%ebx), %edx
	wrmsr
	mov C_CR4(%ebx), %eax
	mov %eax, %cr4
	test $(1 << 22), %eax     /* CR4.PKE: WRPKRU is #UD without it */
	jz 1f
	mov C_PKRU(%ebx), %eax
	xor %ecx, %ecx
	xor %edx, %edx
	.byte 0x0f, 0x01, 0xef    /* wrpkru */
1:	mov C_CR3(%ebx), %eax
	mov %eax, %cr3
	cmpl $0, C_LONG(%ebx)
	je 2f
	lidt idt64_desc
2:	mov C_CR0(%ebx), %eax
	mov %eax, %cr0            /* PAE: loads the PDPTEs, may #GP */
	cmpl $0, C_LONG(%ebx)
	jne 3f
	mov C_GVALO(%ebx), %eax
	mov C_KIND(%ebx), %edx
	cmpl $3, C_CPL(%ebx)
	je user32
	pushl C_RFLAGS(%ebx)
	popfl
	cmp $0, %edx
	je read32
	cmp $1, %edx
	je write32
	jmp *%eax
read32:
	mov (%eax), %eax
	int $0x81
write32:
	movl $0, (%eax)
	xor %eax, %eax
	int $0x81
user32:
	shl $4, %edx
	add $USER_PAGE, %edx
	mov $GDT_UDATA, %cx
	mov %cx, %ds
	mov %cx, %es
	pushl $GDT_UDATA
	pushl $(USER_PAGE + 0xff0)
	pushl C_RFLAGS(%ebx)
	pushl $GDT_UCODE32
	push %edx
	iret
3:	ljmp $GDT_CODE64, $long64

	.code64
long64:
	mov %ebx, %ebx            /* upper halves are undefined on entry */
	mov %esp, %esp
	lgdt gdt64_desc(%rip)     /* 64-bit bases for GDTR and IDTR */
	lidt idt64_desc(%rip)
	movb $0x89, gdt + GDT_TSS64 + 5(%rip)  /* clear busy, then load TR */
	mov $GDT_TSS64, %ax
	ltr %ax
	mov C_GVAHI(%rbx), %eax
	shl $32, %rax
	mov C_GVALO(%rbx), %ecx
	or %rcx, %rax
	mov C_KIND(%rbx), %edx
	mov C_RFLAGS(%rbx), %ecx
	cmpl $3, C_CPL(%rbx)
	je user64
	push %rcx
	popfq
	cmp $0, %edx
	je read64
	cmp $1, %edx
	je write64
	jmp *%rax
read64:
	mov (%rax), %eax
	int $0x81
write64:
	movl $0, (%rax)
	xor %eax, %eax
	int $0x81
user64:
	shl $4, %edx
	add $USER_PAGE, %edx
	pushq $GDT_UDATA
	pushq $(USER_PAGE + 0xff0)
	push %rcx
	pushq $GDT_UCODE64
	push %rdx
	iretq

/*
 * 64-bit exception entry: stack holds vector, error code, RIP, CS, RFLAGS,
 * RSP, SS. Record, then leave 64-bit mode for compatibility mode.
 */
isr_common64:
	mov cur_ctl(%rip), %ebx
	mov (%rsp), %ecx
	mov %ecx, C_VEC(%rbx)
	mov 8(%rsp), %ecx
	mov %ecx, C_ERR(%rbx)
	mov %cr2, %rcx
	mov %ecx, C_CR2LO(%rbx)
	shr $32, %rcx
	mov %ecx, C_CR2HI(%rbx)
	mov %eax, C_VALUE(%rbx)
	pushq $GDT_CODE32
	mov $recover32, %ecx
	push %rcx
	lretq

	.code32
/* 32-bit exception entry: stack holds vector, error code, EIP, CS, ... */
isr_common32:
	mov $GDT_DATA, %cx
	mov %cx, %ds
	mov %cx, %es
	mov cur_ctl, %ebx
	mov (%esp), %ecx
	mov %ecx, C_VEC(%ebx)
	mov 4(%esp), %ecx
	mov %ecx, C_ERR(%ebx)
	mov %cr2, %ecx
	mov %ecx, C_CR2LO(%ebx)
	movl $0, C_CR2HI(%ebx)
	mov %eax, C_VALUE(%ebx)
/*
 * Paging off (from compatibility mode this also clears EFER.LMA), then
 * back to the kernel's flat 32-bit state and conf_access's caller.
 */
recover32:
	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0
	mov $GDT_DATA, %ax
	mov %ax, %ss
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs
	mov %ax, %gs
	mov saved_esp, %esp
	mov $MSR_EFER, %ecx
	xor %eax, %eax
	xor %edx, %edx
	wrmsr
	mov %eax, %cr4
	lidt idt32_desc
	movb $0x89, gdt + GDT_TSS32 + 5
	mov $GDT_TSS32, %ax
	ltr %ax
	pushl $0x2
	popfl
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret

/* Exception stubs: push a dummy error code where the CPU pushes none. */
#define ISR_NOERR(n) isr##n: pushl $0; pushl $n; jmp isr_common32
#define ISR_ERR(n)   isr##n: pushl $n; jmp isr_common32
#define ISR64_NOERR(n) isr64_##n: .code64; pushq $0; pushq $n; jmp isr_common64; .code32
#define ISR64_ERR(n)   isr64_##n: .code64; pushq $n; jmp isr_common64; .code32

ISR_NOERR(0)
ISR_NOERR(1)
ISR_NOERR(2)
ISR_NOERR(3)
ISR_NOERR(4)
ISR_NOERR(5)
ISR_NOERR(6)
ISR_NOERR(7)
ISR_ERR(8)
ISR_NOERR(9)
ISR_ERR(10)
ISR_ERR(11)
ISR_ERR(12)
ISR_ERR(13)
ISR_ERR(14)
ISR_NOERR(15)
ISR_NOERR(16)
ISR_ERR(17)
ISR_NOERR(18)
ISR_NOERR(19)
ISR_NOERR(20)
ISR_ERR(21)
ISR_NOERR(129)

ISR64_NOERR(0)
ISR64_NOERR(1)
ISR64_NOERR(2)
ISR64_NOERR(3)
ISR64_NOERR(4)
ISR64_NOERR(5)
ISR64_NOERR(6)
ISR64_NOERR(7)
ISR64_ERR(8)
ISR64_NOERR(9)
ISR64_ERR(10)
ISR64_ERR(11)
ISR64_ERR(12)
ISR64_ERR(13)
ISR64_ERR(14)
ISR64_NOERR(15)
ISR64_NOERR(16)
ISR64_ERR(17)
ISR64_NOERR(18)
ISR64_NOERR(19)
ISR64_NOERR(20)
ISR64_ERR(21)
ISR64_NOERR(129)

/*
 * CPL-3 stubs, copied to USER_PAGE (the one user page) at 16-byte slots
 * indexed by access kind. The encodings mean the same in 32- and 64-bit
 * mode: mov eax,[eax|rax]; mov dword [eax|rax],0; jmp eax|rax. A write is
 * a plain store: QEMU TCG checks a read-modify-write instruction (xadd,
 * add to memory) as a read first, so its #PF would lack PFEC.W.
 */
	.globl user_stubs, user_stubs_end
	.align 16
user_stubs:
	mov (%eax), %eax
	int $0x81
	.align 16, 0x90
	movl $0, (%eax)
	xor %eax, %eax
	int $0x81
	.align 16, 0x90
	jmp *%eax
	.align 16, 0x90
user_stubs_end:

	.section .rodata
	.globl isr_table32, isr_table64
	.align 4
isr_table32:
	.long isr0, isr1, isr2, isr3, isr4, isr5, isr6, isr7, isr8, isr9
	.long isr10, isr11, isr12, isr13, isr14, isr15, isr16, isr17, isr18
	.long isr19, isr20, isr21, isr129
isr_table64:
	.long isr64_0, isr64_1, isr64_2, isr64_3, isr64_4, isr64_5, isr64_6
	.long isr64_7, isr64_8, isr64_9, isr64_10, isr64_11, isr64_12
	.long isr64_13, isr64_14, isr64_15, isr64_16, isr64_17, isr64_18
	.long isr64_19, isr64_20, isr64_21, isr64_129

	.data
	.globl gdt, idt32_desc, idt64_desc
	.align 16
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff  /* 0x08 code32, DPL 0 */
	.quad 0x00cf92000000ffff  /* 0x10 data, DPL 0 */
	.quad 0x00cffa000000ffff  /* 0x18 code32, DPL 3 */
	.quad 0x00cff2000000ffff  /* 0x20 data, DPL 3 */
	.quad 0x00af9a000000ffff  /* 0x28 code64, DPL 0 */
	.quad 0x00affa000000ffff  /* 0x30 code64, DPL 3 */
	.quad 0                   /* 0x38 32-bit TSS, filled by kmain */
	.quad 0, 0                /* 0x40 64-bit TSS (16 bytes), filled by kmain */
gdt_end:
	.align 4
	.word 0
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
	.word 0
gdt64_desc:
	.word gdt_end - gdt - 1
	.long gdt
	.long 0
	.word 0
idt32_desc:
	.word 256 * 8 - 1
	.long idt32
	.word 0
idt64_desc:
	.word 256 * 16 - 1
	.long idt64
	.long 0

	.bss
	.globl idt32, idt64, tss32, tss64
	.align 4096
idt32:	.skip 256 * 8
idt64:	.skip 256 * 16
tss32:	.skip 128
tss64:	.skip 128
	.globl exc_stack_top
	.align 16
	.skip 8192
exc_stack_top:
	.skip 16384
stack_top:
cur_ctl:	.skip 4
saved_esp:	.skip 4

/* The fixed page tables and the user page live at fixed addresses (batch.h). */
	.section .fixed, "aw", @nobits
	.skip 4 * 4096

	.section .note.GNU-stack, "", @progbits
