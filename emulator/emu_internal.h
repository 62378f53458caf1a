/* SPDX-License-Identifier: MIT */
/*
 * Emulator internals: the decoded-instruction form the semantics work on,
 * the semantics table, and the per-call execution state.
 *
 * Capstone's output is translated once into struct emu_insn (vmmu's own
 * operand description) and cached; execution never looks at capstone data.
 * Capstone instruction ids are used only in memory, through the X86_INS_*
 * names, never stored anywhere that outlives the process.
 */
#ifndef VMMU_EMU_INTERNAL_H
#define VMMU_EMU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <capstone/capstone.h>

#include "vmmu/emulate.h"
#include "vmmu/error.h"
#include "vmmu/types.h"

#define EMU_MAX_INSN_LEN 15
#define EMU_REG_NONE 0xff
#define EMU_REG_RIP 16          /* base register of a RIP-relative operand */
#define EMU_SEG_DEFAULT 0xff    /* no segment override prefix */

enum emu_opkind { OPK_NONE, OPK_REG, OPK_IMM, OPK_MEM };

struct emu_operand {
	uint8_t kind;           /* enum emu_opkind */
	uint8_t size;           /* bytes: 1, 2, 4, 8 or 16 */
	uint8_t reg;            /* OPK_REG: enum vmmu_emu_gpr */
	bool high8;             /* OPK_REG: AH, CH, DH or BH */
	uint8_t seg;            /* OPK_MEM: enum vmmu_emu_seg */
	uint8_t base;           /* OPK_MEM: gpr, EMU_REG_RIP or EMU_REG_NONE */
	uint8_t index;          /* OPK_MEM: gpr or EMU_REG_NONE */
	uint8_t scale;          /* OPK_MEM: 1, 2, 4, 8 */
	int64_t val;            /* OPK_MEM: displacement; OPK_IMM: value */
};

#define EMU_MAX_OPS 2

struct emu_insn {
	/*
	 * The cache key: the instruction bytes as two overlapping words
	 * (bytes 0-7 and 7-14) and masks selecting the bytes below len, so
	 * a lookup compares two words instead of calling memcmp.
	 */
	uint64_t key[2], key_mask[2];
	uint8_t bytes[EMU_MAX_INSN_LEN];
	uint8_t len;            /* 0: not decodable */
	uint8_t mode;           /* 16, 32, 64 */
	uint8_t sem;            /* index into emu_semantics; 0: unhandleable */
	uint8_t nops;
	uint8_t addr_size;      /* 2, 4, 8 */
	bool lock;              /* LOCK prefix present */
	bool rep;               /* F3 prefix present */
	bool ud;                /* raises #UD: bad LOCK, or a prefix NP forbids */
	uint8_t seg_override;   /* enum vmmu_emu_seg or EMU_SEG_DEFAULT */
	uint8_t opcode;         /* last opcode byte (string ops, sanity) */
	struct emu_operand op[EMU_MAX_OPS];
	char mnemonic[VMMU_EMU_MNEMONIC_MAX];
};

/* Handler outcome (negative values are callback errors, passed through). */
enum emu_rc {
	EMU_OK = 0,
	EMU_EXC = 1,            /* x->res->exc filled */
	EMU_UNH = 2,            /* form not implemented */
	EMU_RACE = 3,           /* LOCKed update kept losing the cmpxchg */
};

struct emu_exec {
	struct vmmu_emu *emu;
	const struct emu_insn *in;
	/*
	 * The caller's register file, changed in place (copying it in and
	 * out cost more than the rest of a cached MOV). So every handler
	 * makes its register changes only after its last possible failure
	 * (exception, unhandleable, race, callback error): a result other
	 * than EMU_OK leaves the registers as they were. The one exception
	 * is a REP string instruction, whose completed iterations stay
	 * visible on an exception as the SDM requires (string.c).
	 */
	struct vmmu_emu_regs *r;
	const struct vmmu_emu_ops *ops;
	void *opaque;
	struct vmmu_emu_result *res;
	uint64_t next_rip;
	bool incomplete;                /* REP: stopped at the iteration limit */
};

typedef int (*emu_handler)(struct emu_exec *x);

/*
 * One row of the semantics table. id is an X86_INS_* name; the table is
 * turned into an id -> row index at context creation.
 */
struct emu_sem {
	unsigned int id;
	emu_handler fn;
	uint8_t param;          /* handler-specific: ALU op, condition, ... */
	bool lockable;          /* LOCK allowed with a memory destination */
	uint64_t undefined;     /* RFLAGS bits the SDM leaves undefined */
};

extern const struct emu_sem emu_semantics[];
extern const unsigned int emu_nr_semantics;

#define EMU_CACHE_SETS 128
#define EMU_CACHE_WAYS 4

struct vmmu_emu {
	csh cs[3];                      /* 16-, 32-, 64-bit decoders */
	cs_insn *csi[3];
	uint8_t sem_of_id[X86_INS_ENDING];
	bool cache_on;
	bool la57;
	uint32_t rep_limit;
	struct vmmu_emu_stats stats;
	uint8_t victim[EMU_CACHE_SETS];
	struct emu_insn cache[EMU_CACHE_SETS][EMU_CACHE_WAYS];
	struct emu_insn uncached;       /* the last decode with the cache off */
};

/* decode.c */
int emu_decode(struct vmmu_emu *emu, unsigned int mode, const uint8_t *buf,
	       size_t avail, struct emu_insn *out);

/*
 * Register helpers, inline because every emulated instruction goes through
 * them several times.
 */
static inline uint64_t emu_mask(unsigned int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static inline uint64_t emu_get_reg(const struct emu_exec *x,
				   const struct emu_operand *op)
{
	uint64_t v = x->r->gpr[op->reg];

	if (op->high8)
		return (v >> 8) & 0xff;
	return v & emu_mask(op->size);
}

/*
 * SDM Vol. 1 3.4.1.1: in 64-bit mode a 32-bit result is zero-extended into
 * the full register; 8- and 16-bit results leave the other bits alone. In
 * 16- and 32-bit modes the upper half is invisible, so the same rule is used.
 */
static inline void emu_set_gpr(struct emu_exec *x, unsigned int reg,
			       bool high8, unsigned int size, uint64_t val)
{
	uint64_t *g = &x->r->gpr[reg];

	if (high8)
		*g = (*g & ~0xff00ULL) | ((val & 0xff) << 8);
	else if (size == 4)
		*g = val & 0xffffffffULL;
	else if (size == 8)
		*g = val;
	else
		*g = (*g & ~emu_mask(size)) | (val & emu_mask(size));
}

/* emu_access.h: addresses, memory through the callbacks (inline) */
#include "emu_access.h"

/* emu_flags.h: RFLAGS arithmetic (inline); flags.c: condition codes */
#include "emu_flags.h"
bool emu_condition(uint64_t rflags, unsigned int cc);

/* string.c */
int emu_string(struct emu_exec *x);

#endif
