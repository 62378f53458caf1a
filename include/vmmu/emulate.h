/* SPDX-License-Identifier: MIT */
/*
 * The shared x86 instruction emulator.
 *
 * A backend that takes a fault on a write (a shadowed guest page table, a
 * write-protected page, an MMIO page) hands the vCPU's registers and a set of
 * memory callbacks to vmmu_emulate(). The emulator fetches the instruction
 * through the fetch callback, decodes it (capstone underneath), and executes
 * it against the register file and the read / write / cmpxchg callbacks. It
 * either completes the instruction (registers updated, RIP advanced, memory
 * written through the callbacks), reports an exception to inject, or reports
 * that it cannot execute the instruction. It never guesses: a form it does
 * not implement exactly is reported as unhandleable.
 *
 * All addresses passed to the callbacks are linear addresses (segment base
 * already added, truncated to the mode's width). Translating them, checking
 * permissions and raising #PF is the callback's job.
 */
#ifndef VMMU_EMULATE_H
#define VMMU_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* General-purpose registers in encoding order (SDM Vol. 2 Table 2-2). */
enum vmmu_emu_gpr {
	VMMU_RAX, VMMU_RCX, VMMU_RDX, VMMU_RBX,
	VMMU_RSP, VMMU_RBP, VMMU_RSI, VMMU_RDI,
	VMMU_R8, VMMU_R9, VMMU_R10, VMMU_R11,
	VMMU_R12, VMMU_R13, VMMU_R14, VMMU_R15,
	VMMU_NR_GPRS,
};

/* Segment registers in the order of their 3-bit Sreg encoding (MOV Sreg). */
enum vmmu_emu_seg {
	VMMU_SEG_ES, VMMU_SEG_CS, VMMU_SEG_SS,
	VMMU_SEG_DS, VMMU_SEG_FS, VMMU_SEG_GS,
	VMMU_NR_SEGS,
};

/* RFLAGS bits the emulator computes (SDM Vol. 1 3.4.3). */
#define VMMU_RFLAGS_CF (1ULL << 0)
#define VMMU_RFLAGS_PF (1ULL << 2)
#define VMMU_RFLAGS_AF (1ULL << 4)
#define VMMU_RFLAGS_ZF (1ULL << 6)
#define VMMU_RFLAGS_SF (1ULL << 7)
#define VMMU_RFLAGS_DF (1ULL << 10)
#define VMMU_RFLAGS_OF (1ULL << 11)
#define VMMU_RFLAGS_ARITH (VMMU_RFLAGS_CF | VMMU_RFLAGS_PF | VMMU_RFLAGS_AF | \
			   VMMU_RFLAGS_ZF | VMMU_RFLAGS_SF | VMMU_RFLAGS_OF)

/* Exception vectors the emulator can report. */
#define VMMU_EXC_UD 6
#define VMMU_EXC_SS 12
#define VMMU_EXC_GP 13
#define VMMU_EXC_PF 14

struct vmmu_emu_regs {
	uint64_t gpr[VMMU_NR_GPRS];
	uint64_t rip;
	uint64_t rflags;
	/*
	 * Segment bases. In 64-bit mode only FS and GS are used (SDM Vol. 1
	 * 3.4.2.1: the other bases are treated as 0). In 16- and 32-bit modes
	 * every base is added; limits and access rights are not checked (the
	 * caller runs flat or has checked them).
	 */
	uint64_t seg_base[VMMU_NR_SEGS];
};

/* An exception to inject into the guest. */
struct vmmu_emu_exception {
	uint8_t vector;
	bool has_error_code;
	uint32_t error_code;
	uint64_t cr2;           /* #PF only */
};

/*
 * Memory callbacks. Each returns 0 on success; VMMU_EFAULT after filling
 * *exc with the exception the access raises (typically #PF with CR2 and the
 * error code); any other negative vmmu_err aborts emulation and is returned
 * by vmmu_emulate(). An access that faults must have no effect.
 *
 * fetch: read len (1..15) instruction bytes at la. The emulator asks for the
 *        bytes up to the end of the page first and for the rest separately;
 *        after a fault it fetches byte by byte up to the faulting byte, so
 *        a fault matters only if the instruction really needs that byte.
 * read:  len is 1, 2, 4, 8 or 16; for string instructions up to one page of
 *        consecutive elements that never crosses a page boundary.
 * write: as read.
 * cmpxchg: atomically compare len (1, 2, 4, 8 or 16) bytes at la with *old;
 *        if equal store *new_val. In both cases copy the value found in
 *        memory into *old. Used for LOCK-prefixed instructions and for XCHG
 *        with a memory operand, so the backend can make them atomic. May be
 *        NULL, in which case a read followed by a write is used (correct only
 *        when no other vCPU can race the access).
 */
struct vmmu_emu_ops {
	int (*fetch)(void *opaque, uint64_t la, void *buf, unsigned int len,
		     struct vmmu_emu_exception *exc);
	int (*read)(void *opaque, uint64_t la, void *buf, unsigned int len,
		    struct vmmu_emu_exception *exc);
	int (*write)(void *opaque, uint64_t la, const void *buf,
		     unsigned int len, struct vmmu_emu_exception *exc);
	int (*cmpxchg)(void *opaque, uint64_t la, void *old,
		       const void *new_val, unsigned int len,
		       struct vmmu_emu_exception *exc);
};

enum vmmu_emu_status {
	VMMU_EMU_DONE = 0,        /* executed; registers and memory updated */
	VMMU_EMU_EXCEPTION,       /* inject result.exc; RIP not advanced */
	VMMU_EMU_UNHANDLEABLE,    /* not implemented; nothing changed */
	VMMU_EMU_RETRY,           /* a LOCKed update kept losing races; re-run */
};

/* The longest mnemonic the result can name, with its NUL. */
#define VMMU_EMU_MNEMONIC_MAX 32

struct vmmu_emu_result {
	enum vmmu_emu_status status;
	uint8_t length;                 /* instruction length, 0 if unknown */
	/*
	 * false when a REP string instruction stopped after the per-call
	 * iteration limit: RCX/RSI/RDI reflect the iterations done, RIP still
	 * points at the instruction so the guest re-executes it.
	 */
	bool complete;
	/* RFLAGS bits the SDM leaves undefined for this instruction. */
	uint64_t undefined_flags;
	struct vmmu_emu_exception exc;  /* status == VMMU_EMU_EXCEPTION */
	/*
	 * The instruction, e.g. "lock cmpxchg"; "" if not decoded, "(bad)" if
	 * not an instruction. Never NULL. It points into the context (the
	 * decoded-instruction cache) rather than being copied on every call:
	 * valid until the next vmmu_emulate(), vmmu_emulate_bytes(),
	 * vmmu_emu_set_cache() or vmmu_emu_destroy() on the same context.
	 */
	const char *mnemonic;
};

struct vmmu_emu_stats {
	uint64_t decode_cache_hits;
	uint64_t decode_cache_misses;
};

struct vmmu_emu;

/* A new emulator context (capstone handles + decoded-instruction cache). */
int vmmu_emu_create(struct vmmu_emu **out);
void vmmu_emu_destroy(struct vmmu_emu *emu);

/* Iterations of a REP string instruction done per call (default 65536). */
void vmmu_emu_set_rep_limit(struct vmmu_emu *emu, uint32_t limit);
/*
 * Canonical-address width in 64-bit mode: 48 bits (default) or 57 bits when
 * the guest runs with CR4.LA57 (SDM Vol. 1 3.3.7.1).
 */
void vmmu_emu_set_la57(struct vmmu_emu *emu, bool la57);
/* Enable (default) or disable the decoded-instruction cache. */
void vmmu_emu_set_cache(struct vmmu_emu *emu, bool enabled);
void vmmu_emu_get_stats(const struct vmmu_emu *emu, struct vmmu_emu_stats *st);

/*
 * Emulate one instruction at CS base + RIP in mode (16, 32 or 64), fetching
 * it through ops->fetch. regs is updated only as result->status says
 * (on VMMU_EMU_DONE, and on an exception in the middle of a REP string
 * instruction for the iterations completed). It is worked on in place, so
 * the callbacks must not look at it: between the batches of a REP string
 * instruction it already reflects the iterations done.
 * Returns 0 when *result is valid, VMMU_EINVAL for bad arguments, or the
 * error a callback returned (regs then unchanged).
 */
int vmmu_emulate(struct vmmu_emu *emu, unsigned int mode,
		 struct vmmu_emu_regs *regs, const struct vmmu_emu_ops *ops,
		 void *opaque, struct vmmu_emu_result *result);

/*
 * As vmmu_emulate() with the instruction bytes already known (e.g. from a
 * VM-exit decode assist); ops->fetch is not called.
 */
int vmmu_emulate_bytes(struct vmmu_emu *emu, unsigned int mode,
		       struct vmmu_emu_regs *regs, const uint8_t *bytes,
		       size_t len, const struct vmmu_emu_ops *ops,
		       void *opaque, struct vmmu_emu_result *result);

/* ---- helpers for callbacks ----------------------------------------------- */

/* Fill *exc with #PF (CR2 = la, error_code) and return VMMU_EFAULT. */
int vmmu_emu_page_fault(struct vmmu_emu_exception *exc, uint64_t la,
			uint32_t error_code);

/*
 * The compare-exchange a cmpxchg callback performs on host memory: compare
 * len (1, 2, 4, 8, 16) bytes at ptr with *old, store *new_val if equal, and
 * copy the value found into *old. Atomic (LOCK CMPXCHG, CMPXCHG16B) when
 * ptr is naturally aligned; a misaligned one is a plain compare and copy,
 * since a split-locked access cannot be made atomic cheaply. Returns 0 or
 * VMMU_EINVAL.
 */
int vmmu_emu_host_cmpxchg(void *ptr, void *old, const void *new_val,
			  unsigned int len);

#endif
