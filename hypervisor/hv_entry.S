/* SPDX-License-Identifier: MIT */
/*
 * Guest entry and exit trampolines. struct hv_regs (hv.h) holds the
 * guest's general-purpose registers other than RSP (and, for SVM, RAX,
 * which lives in the VMCB save area).
 */
#define R_RAX 0
#define R_RBX 8
#define R_RCX 16
#define R_RDX 24
#define R_RSI 32
#define R_RDI 40
#define R_RBP 48
#define R_R8  56
#define R_R9  64
#define R_R10 72
#define R_R11 80
#define R_R12 88
#define R_R13 96
#define R_R14 104
#define R_R15 112

#define VMCS_HOST_RSP 0x6c14
#define VMCS_HOST_RIP 0x6c16

	.text
	.code64

/* Load the guest GPRs from (%rdi), RDI last; flags are not touched. */
.macro load_guest with_rax
	.if \with_rax
	mov R_RAX(%rdi), %rax
	.endif
	mov R_RBX(%rdi), %rbx
	mov R_RCX(%rdi), %rcx
	mov R_RDX(%rdi), %rdx
	mov R_RSI(%rdi), %rsi
	mov R_RBP(%rdi), %rbp
	mov R_R8(%rdi), %r8
	mov R_R9(%rdi), %r9
	mov R_R10(%rdi), %r10
	mov R_R11(%rdi), %r11
	mov R_R12(%rdi), %r12
	mov R_R13(%rdi), %r13
	mov R_R14(%rdi), %r14
	mov R_R15(%rdi), %r15
	mov R_RDI(%rdi), %rdi
.endm

/* With the guest's RDI pushed and the regs pointer above it: store all. */
.macro save_guest with_rax
	mov 8(%rsp), %rdi
	.if \with_rax
	mov %rax, R_RAX(%rdi)
	.endif
	mov %rbx, R_RBX(%rdi)
	mov %rcx, R_RCX(%rdi)
	mov %rdx, R_RDX(%rdi)
	mov %rsi, R_RSI(%rdi)
	mov %rbp, R_RBP(%rdi)
	mov %r8, R_R8(%rdi)
	mov %r9, R_R9(%rdi)
	mov %r10, R_R10(%rdi)
	mov %r11, R_R11(%rdi)
	mov %r12, R_R12(%rdi)
	mov %r13, R_R13(%rdi)
	mov %r14, R_R14(%rdi)
	mov %r15, R_R15(%rdi)
	pop %rax
	mov %rax, R_RDI(%rdi)
	add $8, %rsp
.endm

/*
 * int hv_vmx_enter(struct hv_regs *regs, int launched)
 * VMLAUNCH (launched == 0) or VMRESUME. The VM exit lands at vmx_exit
 * with RSP = HOST_RSP (SDM Vol. 3C 28.5.3: RIP and RSP from the host-state
 * area), i.e. the stack as it was at the VMWRITE below. Returns 0 after a
 * VM exit, 1 if the instruction failed (VMfailInvalid or VMfailValid,
 * SDM Vol. 3C 31.2: CF or ZF set).
 */
	.globl hv_vmx_enter
hv_vmx_enter:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi
	mov $VMCS_HOST_RSP, %rax
	vmwrite %rsp, %rax
	lea vmx_exit(%rip), %rdx
	mov $VMCS_HOST_RIP, %rax
	vmwrite %rdx, %rax
	cmp $0, %esi
	load_guest 1
	jne 1f
	vmlaunch
	jmp vmx_fail
1:	vmresume
vmx_fail:
	add $8, %rsp
	mov $1, %eax
	jmp 2f
vmx_exit:
	push %rdi
	save_guest 1
	xor %eax, %eax
2:	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

/*
 * void hv_svm_enter(struct hv_regs *regs, uint64_t vmcb)
 * VMRUN with RAX = VMCB physical address (APM Vol. 2 15.5.1). VMRUN saves
 * the host's RAX, RSP, RIP, segments, control registers and EFER in the
 * host save area and #VMEXIT restores them (15.6); every other GPR then
 * holds the guest's value. GIF is cleared around the run (15.17).
 */
	.globl hv_svm_enter
hv_svm_enter:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi
	mov %rsi, %rax
	load_guest 0
	clgi
	vmrun %rax
	push %rdi
	save_guest 0
	stgi
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

	.section .note.GNU-stack, "", @progbits
