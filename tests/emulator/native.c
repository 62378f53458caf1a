/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <asm/prctl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "native.h"

void native_exec(struct native_ctx *ctx, void *code);

/*
 * native_exec(ctx, code): save the callee-saved registers, load RFLAGS and
 * every GPR except RSP from ctx (offsets 8 * n, RFLAGS at 128), call code
 * (the instruction followed by RET), then store RFLAGS and the GPRs back.
 * Nothing between POPFQ and the call, or between the return and PUSHFQ,
 * changes a flag.
 */
__asm__(
	".text\n"
	".globl native_exec\n"
	".type native_exec, @function\n"
	"native_exec:\n"
	"  push %rbp\n  push %rbx\n  push %r12\n  push %r13\n  push %r14\n"
	"  push %r15\n"
	"  push %rsi\n"                 /* code at 8(%rsp) */
	"  push %rdi\n"                 /* ctx at 0(%rsp) */
	"  mov 128(%rdi), %rax\n  push %rax\n  popfq\n"
	"  mov 0(%rdi), %rax\n  mov 8(%rdi), %rcx\n  mov 16(%rdi), %rdx\n"
	"  mov 24(%rdi), %rbx\n  mov 40(%rdi), %rbp\n  mov 48(%rdi), %rsi\n"
	"  mov 64(%rdi), %r8\n  mov 72(%rdi), %r9\n  mov 80(%rdi), %r10\n"
	"  mov 88(%rdi), %r11\n  mov 96(%rdi), %r12\n  mov 104(%rdi), %r13\n"
	"  mov 112(%rdi), %r14\n  mov 120(%rdi), %r15\n"
	"  mov 56(%rdi), %rdi\n"
	"  call *8(%rsp)\n"
	"  pushfq\n"                    /* flags at 0, ctx at 8 */
	"  push %rdi\n"                 /* rdi at 0, flags at 8, ctx at 16 */
	"  mov 16(%rsp), %rdi\n"
	"  mov %rax, 0(%rdi)\n  mov %rcx, 8(%rdi)\n  mov %rdx, 16(%rdi)\n"
	"  mov %rbx, 24(%rdi)\n  mov %rbp, 40(%rdi)\n  mov %rsi, 48(%rdi)\n"
	"  mov %r8, 64(%rdi)\n  mov %r9, 72(%rdi)\n  mov %r10, 80(%rdi)\n"
	"  mov %r11, 88(%rdi)\n  mov %r12, 96(%rdi)\n  mov %r13, 104(%rdi)\n"
	"  mov %r14, 112(%rdi)\n  mov %r15, 120(%rdi)\n"
	"  pop %rax\n  mov %rax, 56(%rdi)\n"
	"  pop %rax\n  mov %rax, 128(%rdi)\n"
	"  cld\n"
	"  add $16, %rsp\n"
	"  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbx\n"
	"  pop %rbp\n"
	"  ret\n"
	".size native_exec, .-native_exec\n");

#define ALTSTACK_SIZE (64 * 1024)

/*
 * A 16-bit code segment in the LDT (modify_ldt), based at the code page,
 * for 16-bit mode cases. Returns its selector, or 0 where the kernel does
 * not allow it.
 */
static uint16_t setup_code16(void)
{
	struct user_desc d;

	memset(&d, 0, sizeof(d));
	d.entry_number = 0;
	d.base_addr = (unsigned int)NATIVE_CODE_ADDR;
	d.limit = 0xffff;
	d.seg_32bit = 0;
	d.contents = MODIFY_LDT_CONTENTS_CODE;
	d.useable = 1;
	if (syscall(SYS_modify_ldt, 1, &d, sizeof(d)) != 0)
		return 0;
	return (0 << 3) | 4 | 3;        /* index 0, TI = LDT, RPL 3 */
}

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_sig;
static volatile uint64_t fault_addr_seen;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_sig = sig;
	fault_addr_seen = (uint64_t)(uintptr_t)si->si_addr;
	siglongjmp(fault_jmp, 1);
}

int native_init(struct native_env *env)
{
	struct sigaction sa;
	void *p;
	unsigned long fs = 0;

	memset(env, 0, sizeof(*env));
	p = mmap((void *)NATIVE_CODE_ADDR, 4096,
		 PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)NATIVE_CODE_ADDR) {
		perror("native: mmap code page");
		return -1;
	}
	env->code = p;
	/* The data region plus a PROT_NONE guard page above it. */
	p = mmap((void *)NATIVE_DATA_ADDR, NATIVE_DATA_SIZE + 4096,
		 PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)NATIVE_DATA_ADDR) {
		perror("native: mmap data");
		native_fini(env);
		return -1;
	}
	env->data = p;
	mprotect(env->data + NATIVE_DATA_SIZE, 4096, PROT_NONE);
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) != 0) {
		perror("native: arch_prctl(ARCH_GET_FS)");
		native_fini(env);
		return -1;
	}
	env->fs_base = fs;
	env->sel16 = setup_code16();
	/* glibc does not use GS on x86-64; give it a base of our own. */
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, NATIVE_GS_BASE) == 0)
		env->gs_base = NATIVE_GS_BASE;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	/* Faults in compatibility mode come with a truncated RSP. */
	env->altstack = malloc(ALTSTACK_SIZE);
	if (env->altstack) {
		stack_t ss = { .ss_sp = env->altstack, .ss_size = ALTSTACK_SIZE };

		sigaltstack(&ss, NULL);
	}
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	return 0;
}

void native_fini(struct native_env *env)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	if (env->altstack) {
		sigaltstack(&ss, NULL);
		free(env->altstack);
		env->altstack = NULL;
	}
	if (env->code)
		munmap(env->code, 4096);
	if (env->data)
		munmap(env->data, NATIVE_DATA_SIZE + 4096);
	env->code = NULL;
	env->data = NULL;
	signal(SIGSEGV, SIG_DFL);
	signal(SIGILL, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
}

static int run_page(struct native_env *env, struct native_ctx *ctx,
		    uint64_t *fault_addr)
{
	fault_sig = 0;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		native_exec(ctx, env->code);
		return 0;
	}
	if (fault_addr)
		*fault_addr = fault_addr_seen;
	return fault_sig;
}

int native_run(struct native_env *env, const uint8_t *code, size_t len,
	       struct native_ctx *ctx, uint64_t *fault_addr)
{
	if (len > 4000)
		return -1;
	memcpy(env->code, code, len);
	env->code[len] = 0xc3;  /* ret */
	return run_page(env, ctx, fault_addr);
}

/*
 * Compatibility mode: a 64-bit stub saves RSP and far-returns to the 32-bit
 * user code segment (selector 0x23 on Linux x86-64) at NATIVE_CODE32_OFF,
 * where the instruction runs and a far jump to selector 0x33 comes back to
 * 64-bit code that reloads RSP (the CPU does not keep its upper half across
 * compatibility mode) and returns. Flags survive both far transfers; the
 * stack is not touched in 32-bit mode, and a fault there is delivered on
 * the alternate signal stack. DS and ES get the flat user data selector,
 * since null selectors fault in compatibility mode.
 */
#define RSP_SLOT (NATIVE_CODE_ADDR + 0x800)

/* mov [slot], rsp (store 0x89) or mov rsp, [slot] (load 0x8b), disp32. */
static uint8_t *emit_rsp_slot(uint8_t *p, uint8_t opcode)
{
	uint32_t slot = (uint32_t)RSP_SLOT;

	*p++ = 0x48; *p++ = opcode; *p++ = 0x24; *p++ = 0x25;
	memcpy(p, &slot, 4);
	return p + 4;
}

/*
 * After the instruction: far jump (ptr16:32, with 66 from 16-bit code) to
 * selector 0x33 at back, where RSP is reloaded and the stub returns.
 */
static uint8_t *emit_return_to_64(uint8_t *p, uint32_t back, bool from16)
{
	if (from16)
		*p++ = 0x66;
	*p++ = 0xea;                                    /* jmp 0x33:back */
	memcpy(p, &back, 4);
	p += 4;
	*p++ = 0x33;
	*p++ = 0x00;
	p = emit_rsp_slot(p, 0x8b);                     /* mov rsp, [slot] */
	*p++ = 0xc3;                                    /* ret */
	return p;
}

size_t native_build32(uint8_t *page, const uint8_t *code, size_t len)
{
	uint32_t target = (uint32_t)(NATIVE_CODE_ADDR + NATIVE_CODE32_OFF);
	uint32_t back = target + (uint32_t)len + 7;
	uint8_t *p = page;

	p = emit_rsp_slot(p, 0x89);                     /* mov [slot], rsp */
	*p++ = 0x6a; *p++ = 0x23;                       /* push 0x23 */
	*p++ = 0x68;                                    /* push target */
	memcpy(p, &target, 4);
	p += 4;
	*p++ = 0x48; *p++ = 0xcb;                       /* lretq */
	p = page + NATIVE_CODE32_OFF;
	memcpy(p, code, len);
	p = emit_return_to_64(p + len, back, false);
	return (size_t)(p - page);
}

/*
 * 16-bit mode: as native_build32 with the LDT code segment (base
 * NATIVE_CODE_ADDR, so IP is NATIVE_CODE16_OFF) and an operand-size
 * prefixed far jump (ptr16:32) back.
 */
size_t native_build16(uint8_t *page, const uint8_t *code, size_t len,
		      uint16_t sel16)
{
	uint32_t back = (uint32_t)(NATIVE_CODE_ADDR + NATIVE_CODE16_OFF + len + 8);
	uint8_t *p = page;

	p = emit_rsp_slot(p, 0x89);                     /* mov [slot], rsp */
	*p++ = 0x6a; *p++ = (uint8_t)sel16;             /* push sel16 */
	*p++ = 0x68;                                    /* push IP */
	*p++ = NATIVE_CODE16_OFF; *p++ = 0; *p++ = 0; *p++ = 0;
	*p++ = 0x48; *p++ = 0xcb;                       /* lretq */
	p = page + NATIVE_CODE16_OFF;
	memcpy(p, code, len);
	p = emit_return_to_64(p + len, back, true);
	return (size_t)(p - page);
}

int native_run16(struct native_env *env, const uint8_t *code, size_t len,
		 struct native_ctx *ctx, uint64_t *fault_addr)
{
	uint16_t sel = 0x2b;

	if (len > 1000 || !env->sel16)
		return -1;
	native_build16(env->code, code, len, env->sel16);
	__asm__ volatile("movw %w0, %%ds\n\tmovw %w0, %%es" : : "r"(sel));
	return run_page(env, ctx, fault_addr);
}

int native_run32(struct native_env *env, const uint8_t *code, size_t len,
		 struct native_ctx *ctx, uint64_t *fault_addr)
{
	uint16_t sel = 0x2b;

	if (len > 1000)
		return -1;
	native_build32(env->code, code, len);
	__asm__ volatile("movw %w0, %%ds\n\tmovw %w0, %%es" : : "r"(sel));
	return run_page(env, ctx, fault_addr);
}
