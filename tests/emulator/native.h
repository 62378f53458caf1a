/* SPDX-License-Identifier: MIT */
/*
 * Native execution of one instruction on this CPU, for the emulator's
 * differential test: a code page at a fixed address (so RIP-relative
 * operands land where the test wants), a data region below 64 KiB (so
 * 16- and 32-bit addressing reach it), and a trampoline that loads every GPR but RSP and
 * RFLAGS from a context, runs the instruction, and stores them back.
 */
#ifndef VMMU_TEST_NATIVE_H
#define VMMU_TEST_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NATIVE_CODE_ADDR 0x40000000ULL
#define NATIVE_DATA_ADDR 0x8000ULL      /* 16-bit addressing reaches it */
#define NATIVE_DATA_SIZE 0x2000ULL      /* two pages: page-crossing batches */
#define NATIVE_GS_BASE   0x1000ULL      /* set with arch_prctl(ARCH_SET_GS) */

struct native_ctx {
	uint64_t gpr[16];       /* RSP is neither loaded nor stored */
	uint64_t rflags;
};

struct native_env {
	uint8_t *code;          /* NATIVE_CODE_ADDR */
	uint8_t *data;          /* NATIVE_DATA_ADDR */
	uint64_t fs_base;       /* the thread's own (glibc TLS) */
	uint64_t gs_base;       /* NATIVE_GS_BASE, or 0 if it could not be set */
	void *altstack;         /* signal stack (faults in compatibility mode) */
	uint16_t sel16;         /* LDT 16-bit code segment, 0 if unavailable */
};

/* Map the regions and set GS; 0, or -1 with a reason on stderr. */
int native_init(struct native_env *env);
void native_fini(struct native_env *env);

/*
 * Run the len bytes of code (followed by a RET) with ctx. Returns 0 when it
 * completed, or the signal it raised (SIGSEGV, SIGILL, SIGBUS) with the
 * faulting address in *fault_addr.
 */
int native_run(struct native_env *env, const uint8_t *code, size_t len,
	       struct native_ctx *ctx, uint64_t *fault_addr);

/* Offset of the 32-bit instruction in the code page (compatibility mode). */
#define NATIVE_CODE32_OFF 32

/* Write the compatibility-mode stub around code into page; its length. */
size_t native_build32(uint8_t *page, const uint8_t *code, size_t len);

/* As native_run, executing code in 32-bit compatibility mode. */
int native_run32(struct native_env *env, const uint8_t *code, size_t len,
		 struct native_ctx *ctx, uint64_t *fault_addr);

/* Offset of the 16-bit instruction: its IP in the LDT code segment. */
#define NATIVE_CODE16_OFF 64

size_t native_build16(uint8_t *page, const uint8_t *code, size_t len,
		      uint16_t sel16);

/* As native_run, in 16-bit protected mode; -1 if env->sel16 is 0. */
int native_run16(struct native_env *env, const uint8_t *code, size_t len,
		 struct native_ctx *ctx, uint64_t *fault_addr);

#endif
